#!/usr/bin/env bash
# Flake hunt: repeats every test that uses sockets, threads or timers N
# times while other processes keep cores busy, as a loaded CI machine
# would, and prints how many runs of each suite failed and which tests.
# Not part of the README's test command (it takes long); see README
# "Flaky tests".
#
#   bash scripts/stress_tests.sh N [SUITE...]
#
# SUITEs (default: all of them, in this order):
#   live-gcc, live-asan   tests/live, examples_echo and tools_smoke (ctest)
#   interop-gcc, interop-asan   the interop suite against that build's tool
#   python                the Python package's pytest suite
#   perl                  the Perl distribution's `make test`
# STRESS_LOAD sets how many busy processes run meanwhile (default 1: one
# core of this 2-core machine). Logs of failed runs go to build/stress/.
# Ends with "stress: N passed, M failed" counting runs; exits 1 if any run
# failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${1:?usage: stress_tests.sh N [SUITE...]}
shift
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(live-gcc live-asan interop-gcc interop-asan python perl)
out=$root/build/stress
mkdir -p "$out"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

bash scripts/deps.sh

# ---- the load --------------------------------------------------------------
load_pids=()
stop_load() { [ ${#load_pids[@]} -eq 0 ] || kill "${load_pids[@]}" 2>/dev/null || true; }
trap stop_load EXIT
for _ in $(seq 1 "${STRESS_LOAD:-1}"); do
    sh -c 'while :; do :; done' &
    load_pids+=($!)
done
echo "stress: $runs runs per suite, ${#load_pids[@]} busy process(es) alongside"

# ---- builds, as scripts/test.sh makes them ---------------------------------
build() {
    local dir=$1; shift
    if [ ! -e "$root/build/$dir/build.ninja" ]; then
        cmake -S "$root" -B "$root/build/$dir" -G Ninja -DTETHER_WERROR=ON "$@" >/dev/null
    fi
    cmake --build "$root/build/$dir" >/dev/null
}
need_build() {
    case $1 in
    gcc) build ci-gcc -DCMAKE_C_COMPILER=gcc ;;
    asan) build ci-asan -DCMAKE_C_COMPILER=clang -DTETHER_SANITIZE=ON ;;
    esac
}

# ---- bookkeeping -------------------------------------------------------------
total_ok=0
total_bad=0
declare -A failures=()
# record SUITE RUN RC LOG FAILED_TEST...
record() {
    local suite=$1 run=$2 rc=$3 log=$4
    shift 4
    if [ "$rc" -eq 0 ]; then
        total_ok=$((total_ok + 1))
        echo "  run $run: ok" # progress, so a run cut short still counts
        return
    fi
    total_bad=$((total_bad + 1))
    cp "$log" "$out/$suite-run$run.log"
    [ $# -gt 0 ] || set -- "(the run itself: exit $rc)"
    local t
    for t in "$@"; do
        failures["$suite: $t"]=$((${failures["$suite: $t"]:-0} + 1))
    done
    echo "  run $run: FAILED: $* (log: build/stress/$suite-run$run.log)"
}
# Timing of one run, for the note.
timed() {
    local start=$SECONDS
    "$@"
    echo "  ($((SECONDS - start)) s)"
}

# ---- suites --------------------------------------------------------------------
live_regex() {
    local names
    names=$(cd tests/live && ls test_*.c | sed 's/\.c$//' | paste -sd'|')
    echo "^($names|examples_echo|tools_smoke)$"
}

# repeat SUITE SED_EXPR CMD...: runs CMD (output to a log) N times; SED_EXPR
# picks the names of failed tests out of a failed run's log.
repeat() {
    local suite=$1 pick=$2 i rc log=$out/current.log
    shift 2
    for i in $(seq 1 "$runs"); do
        set +e
        "$@" >"$log" 2>&1
        rc=$?
        set -e
        [ "$rc" -ne 5 ] || rc=1 # pytest: no test collected
        mapfile -t bad < <(sed -n "$pick" "$log")
        # a run that ran nothing is a failure of the run itself
        grep -qE ' passed|tests passed|Result: PASS' "$log" || { [ "$rc" -ne 0 ] || rc=1; }
        record "$suite" "$i" "$rc" "$log" "${bad[@]}"
    done
}
pytest_failed='s/^\(FAILED\|ERROR\) \([^ ]*\).*/\2/p'

live_ctest() {
    local re
    re=$(live_regex) # from the source tree, before the cd
    (cd "build/ci-$1" && ctest -j 2 --output-on-failure -R "$re")
}

run_live() {
    need_build "$1"
    repeat "live-$1" 's/^[[:space:]]*[0-9]* - \([^ ]*\) .*/\1/p' live_ctest "$1"
}

run_interop() {
    need_build "$1"
    repeat "interop-$1" "$pytest_failed" \
        tests/interop/run.sh build/interop "build/ci-$1/tools/tether" -q
}

python_pytest() {
    (cd build/python && TETHER_SOURCE_DIR="$root" timeout 600 venv/bin/python -m pytest -q \
        -p no:cacheprovider "$root/python/tests")
}

run_python() {
    # The package is built and installed once, the way the test command
    # does it; the runs then repeat its pytest suite.
    bash scripts/test_python.sh build/python >"$out/python-setup.log" 2>&1 ||
        { echo "python: setup failed, see build/stress/python-setup.log"; total_bad=$((total_bad + 1)); return; }
    repeat python "$pytest_failed" python_pytest
}

run_perl() {
    need_build gcc
    repeat perl 's/^\(t\/[^ ]*\.t\) *(Wstat.*/\1/p' bash scripts/test_perl.sh build/ci-gcc
}

for s in "${suites[@]}"; do
    echo "== $s"
    case $s in
    live-gcc) timed run_live gcc ;;
    live-asan) timed run_live asan ;;
    interop-gcc) timed run_interop gcc ;;
    interop-asan) timed run_interop asan ;;
    python) timed run_python ;;
    perl) timed run_perl ;;
    *) echo "unknown suite $s" >&2; exit 2 ;;
    esac
done

echo "== failures by test"
if [ ${#failures[@]} -eq 0 ]; then
    echo "  none"
else
    for k in "${!failures[@]}"; do echo "  $k: ${failures[$k]} of $runs runs"; done | sort
fi
echo "stress: $total_ok passed, $total_bad failed"
[ "$total_bad" -eq 0 ]
