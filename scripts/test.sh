#!/usr/bin/env bash
# The whole test run: installs what is missing, checks formatting, then
# builds and runs every test three ways:
#   1. gcc, warnings as errors                      (build/ci-gcc)
#   2. clang, AddressSanitizer + UBSan, -Werror     (build/ci-asan)
#   3. clang libFuzzer targets, a short bounded run (build/ci-fuzz)
# TETHER_FUZZ_SECONDS sets each fuzz target's run (default 15 s).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

bash scripts/deps.sh

echo "== clang-format check"
git ls-files -co --exclude-standard '*.c' '*.h' | xargs clang-format --dry-run --Werror

configure_and_test() {
    local dir=$1; shift
    local filter=$1; shift
    echo "== $dir: configure $*"
    cmake -S "$root" -B "$root/build/$dir" -G Ninja -DTETHER_WERROR=ON "$@" >/dev/null
    cmake --build "$root/build/$dir" -j "$jobs"
    (cd "$root/build/$dir" && ctest --output-on-failure -j "$jobs" $filter)
}

configure_and_test ci-gcc "" -DCMAKE_C_COMPILER=gcc
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    configure_and_test ci-asan "" -DCMAKE_C_COMPILER=clang -DTETHER_SANITIZE=ON
configure_and_test ci-fuzz "-R fuzz_" -DCMAKE_C_COMPILER=clang -DTETHER_FUZZ=ON \
    -DTETHER_FUZZ_SECONDS="${TETHER_FUZZ_SECONDS:-15}"
echo "== all test runs passed"
