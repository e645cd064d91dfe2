#!/usr/bin/env bash
# Builds braid and runs every test, as CI does:
#   1. clang-format check of every tracked C++ file;
#   2. release build (RelWithDebInfo): unit tests, integration tests, benchmark smoke runs;
#   3. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
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

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan + UBSan) and unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit
