#!/usr/bin/env bash
# The examples' echo round trip over loopback: start echo_server on a free
# port, run echo_client against it with and without permessage-deflate, and
# check every echo and the clean close. Bounded: every wait has a timeout.
#   examples_echo.sh EXAMPLES_DIR [--verbose]
set -euo pipefail
dir=$1
verbose=${2:-}
log=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$log"' EXIT

"$dir/echo_server" >"$log/server.out" 2>"$log/server.err" &
server=$!
for _ in $(seq 100); do
    grep -q listening "$log/server.out" 2>/dev/null && break
    sleep 0.05
done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log/server.out")
[ -n "$port" ] || { echo "server did not start"; cat "$log/server.err"; exit 1; }

run_client() {
    if ! timeout 30 "$dir/echo_client" "$@" >"$log/client.out" 2>"$log/client.err"; then
        echo "FAIL: echo_client $*"; cat "$log/client.out" "$log/client.err"; exit 1
    fi
    [ -n "$verbose" ] && { echo "\$ echo_client $*"; cat "$log/client.out"; }
    grep -q "^echo: hello tether$" "$log/client.out"
    grep -q "^echo: 1048576 bytes of binary$" "$log/client.out"
    grep -q "^echo: fragmented: one message" "$log/client.out"
    grep -q "^closed cleanly with 1000$" "$log/client.out"
}

run_client "ws://127.0.0.1:$port/echo" "hello tether" "κόσμε" ""
grep -q "with permessage-deflate" "$log/client.out"
run_client --no-deflate "ws://127.0.0.1:$port/echo" "hello tether"
if grep -q "with permessage-deflate" "$log/client.out"; then echo "FAIL: deflate used"; exit 1; fi
echo "examples echo round trip: 2 passed, 0 failed"
