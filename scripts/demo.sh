#!/usr/bin/env bash
# The demo: installs what is missing, builds, then shows
#   1. `tether serve` and `tether connect` echoing lines over loopback;
#   2. the examples (a server and a client built only on the sans-I/O API
#      over plain blocking sockets) echoing, with and without
#      permessage-deflate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/demo -G Ninja -DTETHER_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" >/dev/null
tether=build/demo/tools/tether

out=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; rm -f "$out"' EXIT
"$tether" serve --port 0 >"$out" &
server=$!
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
url="ws://$(sed -n 's/^listening on //p' "$out")/demo"
echo "== tether serve is $(sed -n 's/^listening on //p' "$out"); tether connect $url:"
printf 'hello from tether\nκόσμε\nthe third line\n' | timeout 10 "$tether" connect "$url"
kill "$server"
wait "$server" 2>/dev/null || true

echo "== the sans-I/O examples:"
tests/examples_echo.sh build/demo/examples --verbose
