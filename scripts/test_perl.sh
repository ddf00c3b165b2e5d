#!/usr/bin/env bash
# The Perl distribution's tests, against a CMake build of the library:
#
#   bash scripts/test_perl.sh BUILD_DIR
#
# BUILD_DIR must hold libtether.so and tools/tether (cmake -S . -B BUILD_DIR
# -G Ninja && ninja -C BUILD_DIR). Installs what is missing from Debian's
# packages (swig and the Perl modules), copies perl/ and bindings/tether.i to
# a temporary directory (the source tree stays clean), then runs there, as a
# user of the tarball would:
#   perl Makefile.PL TETHER_BUILD_DIR=BUILD_DIR && make && make test
# (prove: every event loop, blocking mode, TLS, compression, close paths, bad
# input, leaks, and every module's SYNOPSIS and POD), and installs into a
# temporary prefix to check that the installed module loads. Ends with
# "perl: N passed, M failed"; exits non-zero on any failure or if no test ran.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: test_perl.sh BUILD_DIR}
build=$(cd "$build" && pwd)

[ -e "$build/libtether.so" ] || { echo "perl: $build has no libtether.so (build it first)"; echo "perl: 0 passed, 1 failed"; exit 1; }
[ -x "$build/tools/tether" ] || { echo "perl: $build has no tools/tether"; echo "perl: 0 passed, 1 failed"; exit 1; }

# What the distribution and its tests need, from Debian.
packages=(swig perl make gcc openssl libanyevent-perl libev-perl libio-async-perl libfuture-perl
          libmojolicious-perl libanyevent-websocket-client-perl libtest-pod-perl
          tinyproxy-bin microsocks)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "perl: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tether-perl.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$root/perl" "$work/Tether"
cp "$root/bindings/tether.i" "$work/Tether/tether.i"
rm -rf "$work/Tether/blib" "$work/Tether/Makefile" "$work/Tether/tether_wrap.c" "$work/Tether/Raw.pm"
cd "$work/Tether"

export TETHER_BUILD_DIR="$build" TETHER_SOURCE_DIR="$root"
echo "== perl: perl Makefile.PL TETHER_BUILD_DIR=$build"
perl Makefile.PL TETHER_BUILD_DIR="$build" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; echo "perl: 0 passed, 1 failed"; exit 1; }
echo "== perl: make"
make >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; echo "perl: 0 passed, 1 failed"; exit 1; }
echo "== perl: make test"
set +e
make test 2>&1 | tee "$work/test.log"
test_rc=${PIPESTATUS[0]}
set -e

total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$work/test.log" | tail -1)
total=${total:-0}
failed=0
if ! grep -q '^Result: PASS' "$work/test.log" || [ "$test_rc" -ne 0 ]; then
    failed=$(sed -n 's/^Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$work/test.log" | awk '{s+=$1} END {print s+0}')
    [ "$failed" -gt 0 ] || failed=1
fi
passed=$((total - failed))
[ "$passed" -ge 0 ] || passed=0

echo "== perl: make install into a temporary prefix"
if make install INSTALL_BASE="$work/inst" >"$work/install.log" 2>&1 &&
    PERL5LIB="$work/inst/lib/perl5" perl -e 'use Tether; use Tether::Client; use Tether::Blocking::Client;
        Tether::version() eq $Tether::Raw::TETHER_VERSION_STRING or die "version mismatch\n";
        print "installed Tether loads, library ", Tether::version(), "\n"'; then
    passed=$((passed + 1))
else
    tail -20 "$work/install.log"
    failed=$((failed + 1))
fi

if [ "$total" -eq 0 ]; then
    echo "perl: no test ran"
    failed=$((failed + 1))
fi
echo "perl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
