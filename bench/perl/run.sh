#!/usr/bin/env bash
# Perl echo benchmark: Tether's Perl client and server against Mojolicious'
# and AnyEvent::WebSocket::Client, on this machine.
#
#   bash bench/perl/run.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default build/bench-perl, configured and built in Release when
# missing) gives libtether.so and the tether tool (the C load generator and
# echo server used as the fixed opponent). The Perl distribution is built in
# a temporary directory. Each run pins the server to core 0 and the client
# to core 1 (taskset); SECONDS (default 5) is each run's measured time.
# Prints markdown tables with ratios to Tether (above 1: Tether is ahead).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/bench-perl}
secs=${2:-5}

packages=(swig make gcc libanyevent-perl libev-perl libio-async-perl libmojolicious-perl
          libanyevent-websocket-client-perl util-linux)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -e "$build/libtether.so" ] || [ ! -x "$build/tools/tether" ]; then
    bash "$root/scripts/deps.sh"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" >/dev/null
fi
build=$(cd "$build" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/tether-perl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$root/perl" "$work/Tether"
cp "$root/bindings/tether.i" "$work/Tether/tether.i"
rm -rf "$work/Tether/blib" "$work/Tether/Makefile"
(cd "$work/Tether" && perl Makefile.PL TETHER_BUILD_DIR="$build" >/dev/null && make >/dev/null)

export PERL5LIB="$work/Tether/blib/lib:$work/Tether/blib/arch${PERL5LIB:+:$PERL5LIB}"
exec perl "$root/bench/perl/bench.pl" --tool "$build/tools/tether" --seconds "$secs" \
    --dir "$root/bench/perl"
