#!/bin/sh
# smoke.sh - an end-to-end check of the tether tool over loopback: serve,
# connect (text, binary, --path, --protocol, --broadcast, wss:// with
# permessage-deflate, a refused certificate, the reasons of failures) and
# bench --json.
#
#   tools/smoke.sh [PATH/TO/tether]     (default: build/tools/tether)
#
# Prints one line per check and exits non-zero at the first failure.
set -eu

T=${1:-build/tools/tether}
dir=$(mktemp -d)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Starts `tether serve ARGS...` and sets $url from its "listening on" line.
start_server() {
    # Each server gets its own file: the shell truncates a shared one only
    # once the background job runs, so the wait below could read the
    # previous server's port.
    listen=$dir/listen.$$.${srv_count:=0}
    srv_count=$((srv_count + 1))
    "$T" serve "$@" >"$listen" &
    srv=$!
    i=0
    until grep -q '^listening on ' "$listen"; do
        i=$((i + 1))
        [ $i -lt 50 ] || fail "no 'listening on' line from tether serve $*"
        sleep 0.1
    done
    url="ws://$(sed -n 's/^listening on //p' "$listen")"
}

stop_server() {
    kill -TERM "$srv"
    wait "$srv" || fail "tether serve did not exit 0 on SIGTERM"
    srv=
}

start_server
printf 'hello\n\nworld\n' | "$T" connect "$url/" >"$dir/out" 2>"$dir/err" ||
    fail "connect exited $?: $(cat "$dir/err")"
printf 'hello\n\nworld\n' | cmp -s - "$dir/out" || fail "text echo differs"
[ "$(tail -n 1 "$dir/err")" = "closed 1000" ] || fail "stderr ends with: $(tail -n 1 "$dir/err")"
echo "ok text echo"

printf '\001\002\377\n' | "$T" connect --binary "$url/" >"$dir/out" 2>/dev/null
printf '\001\002\377\n' | cmp -s - "$dir/out" || fail "binary echo differs"
echo "ok binary echo"

"$T" bench "$url/" --connections 4 --depth 2 --duration 0.5 --warmup 0.2 --json >"$dir/bench" ||
    fail "bench exited $?"
grep -q '^{"connections":4,.*"failed":0,' "$dir/bench" || fail "bench output: $(cat "$dir/bench")"
echo "ok bench --json"
stop_server
echo "ok serve stops on SIGTERM"

start_server --path /p --protocol chat
if "$T" connect "$url/q" </dev/null >/dev/null 2>"$dir/err"; then fail "wrong path accepted"; fi
grep -q 'HTTP 404' "$dir/err" || fail "wrong path: $(cat "$dir/err")"
echo "ok --path rejects with 404"
"$T" connect -v --protocol x --protocol chat "$url/p" </dev/null >/dev/null 2>"$dir/err" ||
    fail "connect to --path exited $?"
grep -q 'protocol chat' "$dir/err" || fail "sub-protocol: $(cat "$dir/err")"
echo "ok --protocol"
if "$T" connect "$url/q" </dev/null >/dev/null 2>"$dir/err"; then fail "wrong path accepted"; fi
grep -q 'closed 1006 HTTP 404 Not Found from the server' "$dir/err" ||
    fail "refusal reason: $(cat "$dir/err")"
echo "ok a refusal says its status and that the server sent it"
# The OS's reasons, with the address: the port taken, then (closed) refused
hostport=${url#ws://}
if "$T" serve --host 127.0.0.1 --port "${hostport##*:}" >/dev/null 2>"$dir/err"; then
    fail "a second serve on a taken port"
fi
grep -q "^tether serve: address already in use (127.0.0.1:${hostport##*:})$" "$dir/err" ||
    fail "taken port: $(cat "$dir/err")"
echo "ok serve on a taken port: address already in use (HOST:PORT)"
stop_server
if "$T" connect "$url/" </dev/null >/dev/null 2>"$dir/err"; then fail "connect to a closed port"; fi
grep -q "^connection failed: connection refused ($hostport)$" "$dir/err" ||
    fail "refused: $(cat "$dir/err")"
echo "ok connect to a closed port: connection refused (HOST:PORT)"
if "$T" connect ws://nohost.invalid/ </dev/null >/dev/null 2>"$dir/err"; then fail "nohost.invalid"; fi
grep -q "^connection failed: .* (nohost.invalid)$" "$dir/err" || fail "no host: $(cat "$dir/err")"
echo "ok connect to a name that does not resolve: WHY (HOST)"

start_server --broadcast
sleep 1.5 | "$T" connect "$url/" >"$dir/a" 2>/dev/null &
listener=$!
sleep 0.5
(echo hi; sleep 0.5) | "$T" connect "$url/" >/dev/null 2>&1
wait "$listener" || fail "broadcast listener exited $?"
grep -qx hi "$dir/a" || fail "broadcast not received"
echo "ok --broadcast"
stop_server

# TLS and compression, with test certificates made by the openssl tool.
if command -v openssl >/dev/null 2>&1 && command -v bash >/dev/null 2>&1; then
    certs=$dir/certs
    bash "$(dirname "$0")/../tests/certs/make_certs.sh" "$certs" >/dev/null ||
        fail "make_certs.sh failed"
    start_server --cert "$certs/server.pem" --key "$certs/server.key" --deflate
    url=$(echo "$url" | sed 's/^ws:/wss:/')
    printf 'secure\n' | "$T" connect -v --deflate --ca "$certs/ca.pem" "$url/" \
        >"$dir/out" 2>"$dir/err" || fail "wss connect exited $?: $(cat "$dir/err")"
    grep -qx secure "$dir/out" || fail "wss echo: $(cat "$dir/out")"
    grep -q '^tls TLSv1\.[23] ' "$dir/err" || fail "no TLS version: $(cat "$dir/err")"
    grep -q '^extensions permessage-deflate' "$dir/err" || fail "no deflate: $(cat "$dir/err")"
    echo "ok wss:// with permessage-deflate"
    if "$T" connect "$url/" </dev/null >/dev/null 2>"$dir/err"; then
        fail "a certificate from an unknown CA was accepted"
    fi
    grep -q 'connection failed: TLS.*unable to get local issuer certificate' "$dir/err" ||
        fail "unknown CA: $(cat "$dir/err")"
    echo "ok unknown CA refused, with the reason"
    stop_server
else
    echo "skip TLS: no openssl tool to make test certificates"
fi

# The three commands read the shared options with one parser: the same
# ranges, the same answer (exit 2) to a value the library would refuse.
for cmd in serve connect bench; do
    for bits in 8 16 9,8; do
        set +e
        target=ws://127.0.0.1:9/
        [ $cmd != serve ] || target=--port=0
        "$T" $cmd --deflate-window-bits "$bits" $target </dev/null >/dev/null 2>"$dir/err"
        rc=$?
        set -e
        [ "$rc" -eq 2 ] || fail "$cmd --deflate-window-bits $bits: exit $rc, not 2"
        grep -q 'each 9\.\.15 or 0' "$dir/err" || fail "$cmd: $(cat "$dir/err")"
    done
    "$T" $cmd --help | grep -q 'deflate-window-bits' || fail "$cmd --help lacks the deflate options"
done
echo "ok serve, connect and bench share option parsing"

echo "all ok"
