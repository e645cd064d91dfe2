#!/usr/bin/env bash
# Builds braid and runs every test, as CI does:
#   1. clang-format check of every tracked C++ file, no bare assert in sched/, storage/, node/,
#      and no clock read outside node/clock.h in node/, gossip/, sched/; promtool checks of
#      deploy/prometheus/ (config, rules, the alerts' unit tests) and the dashboard's JSON;
#   2. release build (RelWithDebInfo): unit tests, integration tests, benchmark smoke runs;
#   3. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. the storage and committer unit tests under ThreadSanitizer (the
#      committer's thread; only that target is built).
# Expects the packages of deploy/install-deps.sh. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${BRAID_JOBS:-$(nproc)}

echo "== clang-format"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files '*.h' '*.cc'
else  # an unpacked archive rather than a clone
  find sched storage rpc node tests -name '*.h' -o -name '*.cc'
fi | xargs clang-format --dry-run --Werror
# Invariant checks stay on in release builds: BRAID_CHECK (sched/check.h), not assert.
if grep -nE '(^|[^A-Za-z0-9_])assert *\(|#include <cassert>' \
  $(find sched storage node -name '*.h' -o -name '*.cc' | grep -v '_test\.cc$'); then
  echo "use BRAID_CHECK (sched/check.h) instead of assert in sched/, storage/, node/" >&2
  exit 1
fi
# Time comes from one injected clock (node/clock.h): no other clock reads in
# node/ (tests aside), and none at all in the pure gossip/ and sched/.
if grep -nE '(steady|system)_clock::now\(' \
  $(find node gossip sched -name '*.h' -o -name '*.cc' 2>/dev/null | grep -v '_test\.cc$' |
    grep -vx 'node/clock\.h'); then
  echo "read time through node/clock.h's Clock (injected), not the std clocks" >&2
  exit 1
fi

echo "== Prometheus configuration, alert rules and the Grafana dashboard"
promtool check config deploy/prometheus/prometheus.yml
(cd deploy/prometheus && promtool check rules braid.rules.yml &&
  promtool test rules braid.rules.test.yml)
python3 -m json.tool deploy/grafana/braid.json >/dev/null

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan + UBSan) and unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs" --target braid_unit_tests  # what -L unit runs, no more
ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit

echo "== ThreadSanitizer build and storage/committer tests"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE_THREAD=ON \
  -DBRAID_BENCHMARKS=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target braid_storage_test
# The disk-full test forks a child that starts the committer's thread, and TSan
# cannot start threads after a multi-threaded fork: it runs in the other stages.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./build-tsan/bin/braid_storage_test \
  --gtest_filter=-Committer.AFailedWriteFailsItsBatchesAndKeepsTheOnesBefore
