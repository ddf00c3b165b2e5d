#!/usr/bin/env bash
# The long fuzz run (not part of the test run): every libFuzzer target for
# SECONDS each (default 600), corpus kept in build/ci-fuzz/tests/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
bash scripts/deps.sh
cmake -S . -B build/ci-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DTETHER_FUZZ=ON \
    -DTETHER_FUZZ_SECONDS="$secs" >/dev/null
cmake --build build/ci-fuzz -j "$(nproc)"
cd build/ci-fuzz && ctest --output-on-failure -R fuzz_ --timeout $((secs + 300))
