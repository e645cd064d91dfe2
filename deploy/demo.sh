#!/usr/bin/env bash
# The quick-start demo: starts a local braidd with its data in ./braid-data,
# submits six CPU-bound tasks (1 s of CPU each) and shows the torus
# time-slicing them on the node's slots, reads the same node over its HTTP API
# and /metrics (127.0.0.1:8000, the default), then stops the node.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
export BRAID_SOCKET=braid-data/braidd.sock

# /metrics beside the API on 127.0.0.1:8000 (braidd's default --http), unless
# something else already listens there: then braidd runs without both.
metrics=(--metrics 127.0.0.1:8000)
if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then metrics=(); fi
"$bin/braidd" --data-dir braid-data "${metrics[@]}" 2> braid-data.log &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$bin/braid" stats >/dev/null 2>&1 && break; sleep 0.05; done

ids=()
for priority in 3 4 5 5 6 7; do
  ids+=("$("$bin/braid" submit --priority "$priority" --name "burn-p$priority" -- \
    "$bin/braid-burn" 1000)")
done
echo "submitted ${ids[*]}"
for _ in 1 2 3; do
  sleep 0.7
  echo; "$bin/braid" ps
done
"$bin/braid" wait "${ids[@]}" >/dev/null
echo; "$bin/braid" ps --all
echo; "$bin/braid" stats
echo; echo "GET http://127.0.0.1:8000/kernel/scheduler/stats (the HTTP API, docs/api.md):"
if ! grep -q "without the HTTP API" braid-data.log &&
  curl -fsS --max-time 5 http://127.0.0.1:8000/kernel/scheduler/stats; then
  echo; echo "GET /metrics (docs/metrics.md), a few series:"
  curl -fsS --max-time 5 http://127.0.0.1:8000/metrics | grep -E '^braid_(tasks\{|tasks_completed_total|preemptions_total|queue_wait_seconds_count)'
else
  echo "(no HTTP API: port 8000 is taken on this machine; see braid-data.log)"
fi
echo; echo "daemon log: braid-data.log"
