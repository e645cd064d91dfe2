#!/usr/bin/env bash
# Installs every Debian 12 package that braid's build, tests and benchmarks need.
# Idempotent and non-interactive: installs only what is missing, and runs
# `apt-get update` only when something is missing. Safe to run repeatedly.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config clang-format
  # libraries
  capnproto libcapnp-dev libasio-dev librocksdb-dev prometheus-cpp-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # used by tests/check.sh, integration tests and the benchmark harness
  git procps python3 util-linux
  # the CLI benchmark's same-run baseline (braid_cli_bench skips it if absent)
  task-spooler
  # the real-workload benchmark's programs and baselines (braid_workload_bench)
  xz-utils make gcc parallel
  # the membership benchmark's same-run baseline (braid_cluster_bench skips it if absent)
  serf
  # operations (issue 12): the HTTP API's curl tests, a real Prometheus and promtool,
  # the Ansible role's deployment test and its lint
  curl prometheus ansible-core ansible-lint
  # the operations benchmark's load generator (tests/bench/ops_bench.py skips it if absent)
  wrk
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
