#!/usr/bin/env bash
# The whole test run: installs what is missing, checks formatting, then
# builds and runs every test three ways:
#   1. gcc, warnings as errors                      (build/ci-gcc), then the
#      ABI gate (scripts/abi_check.sh) and the install check
#      (scripts/install_check.sh) on that build
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
echo "== layer check"
bash scripts/layers.sh

passed=0
configure_and_test() {
    local dir=$1; shift
    local filter=$1; shift
    echo "== $dir: configure $*"
    cmake -S "$root" -B "$root/build/$dir" -G Ninja -DTETHER_WERROR=ON "$@" >/dev/null
    cmake --build "$root/build/$dir" -j "$jobs"
    (cd "$root/build/$dir" && ctest --output-on-failure -j "$jobs" $filter) | tee "$root/build/$dir.log"
    local n
    n=$(sed -n 's/^100% tests passed, 0 tests failed out of \([0-9]*\)$/\1/p' "$root/build/$dir.log")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "$dir: no tests ran"; exit 1; }
    passed=$((passed + n))
}

configure_and_test ci-gcc "" -DCMAKE_C_COMPILER=gcc
# On the gcc build (RelWithDebInfo, so abidw has its DWARF): the ABI gate
# (exports = the header's declarations, all documented, abidiff and the
# constants against the baseline in abi/) and the installed form (cmake
# --install into a temporary prefix, examples built with pkg-config and with
# find_package, run). Each prints "NAME: N passed, 0 failed".
check() {
    local name=$1; shift
    local log=$root/build/${name// /-}.log n
    "$@" | tee "$log"
    n=$(sed -n "s/^$name: \([0-9]*\) passed, 0 failed\$/\1/p" "$log")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "$name: no checks ran"; exit 1; }
    passed=$((passed + n))
}
check "abi check" bash scripts/abi_check.sh "$root/build/ci-gcc"
check "install check" bash scripts/install_check.sh "$root/build/ci-gcc"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    configure_and_test ci-asan "" -DCMAKE_C_COMPILER=clang -DTETHER_SANITIZE=ON
configure_and_test ci-fuzz "-R fuzz_" -DCMAKE_C_COMPILER=clang -DTETHER_FUZZ=ON \
    -DTETHER_FUZZ_SECONDS="${TETHER_FUZZ_SECONDS:-15}"
# Interop with real, independent peers (Python websockets, Node ws,
# libwebsockets, headless chromium), against the gcc build and again against
# the sanitized build, so memory errors on real traffic fail the run too.
interop() {
    local name=$1 bin=$2
    echo "== interop: $name"
    tests/interop/run.sh "$root/build/interop" "$bin" -q | tee "$root/build/interop-$name.log"
    local n
    n=$(sed -n 's/^=* \([0-9]*\) passed.*/\1/p' "$root/build/interop-$name.log" | tail -1)
    [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "interop $name: no tests ran"; exit 1; }
    passed=$((passed + n))
}
interop gcc "$root/build/ci-gcc/tools/tether"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 interop asan "$root/build/ci-asan/tools/tether"

# The bindings, each built the way its users build it (pip; perl
# Makefile.PL) and tested against real peers.
check python bash scripts/test_python.sh "$root/build/python"
check perl bash scripts/test_perl.sh "$root/build/ci-gcc"

echo "== all test runs passed (gcc, ABI, install, ASan+UBSan, fuzz, interop, python, perl)"
echo "tests: $passed passed, 0 failed"
