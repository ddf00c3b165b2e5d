#!/bin/sh
# smoke.sh - an end-to-end check of the tether tool over loopback: serve,
# connect (text, binary, --show-binary, --close-code/--close-reason,
# --ping-interval, --wait, tether URL, --path, --protocol, --broadcast,
# wss:// with permessage-deflate, a refused certificate, the reasons of
# failures) and bench --json.
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

# connect's own options, checked against what serve -v logs
start_server -v 2>"$dir/slog"
printf '\001\002\377\n' | "$T" connect --binary --show-binary hex "$url/" >"$dir/out" 2>/dev/null
[ "$(cat "$dir/out")" = 0102ff ] || fail "--show-binary hex: $(cat "$dir/out")"
printf '\001\002\377\nabcd\n' | "$T" connect --binary --show-binary base64 "$url/" >"$dir/out" \
    2>/dev/null
printf 'AQL/\nYWJjZA==\n' | cmp -s - "$dir/out" || fail "--show-binary base64: $(cat "$dir/out")"
printf 'text\n' | "$T" connect --show-binary hex "$url/" >"$dir/out" 2>/dev/null
[ "$(cat "$dir/out")" = text ] || fail "--show-binary hex changed a text message: $(cat "$dir/out")"
echo "ok --show-binary hex and base64 (text messages as they are)"

printf 'x\n' | "$T" connect --close-code 4001 --close-reason 'bye now' "$url/" >/dev/null \
    2>"$dir/err" || fail "--close-code exited $?: $(cat "$dir/err")"
i=0
until grep -q ' 4001 bye now$' "$dir/slog"; do
    i=$((i + 1))
    [ $i -lt 50 ] || fail "serve -v did not log 4001 'bye now': $(cat "$dir/slog")"
    sleep 0.1
done
[ "$(tail -n 1 "$dir/err")" = "closed 4001" ] || fail "the server's answer: $(cat "$dir/err")"
for code in 999 1004 1005 1006 1015 1016 2999 5000; do
    set +e
    "$T" connect --close-code $code "$url/" </dev/null >/dev/null 2>"$dir/err"
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "--close-code $code: exit $rc, not 2"
    grep -qx "tether connect: --close-code $code: not a code a client may send (use 1000-1003, 1007-1014 or 3000-4999)" \
        "$dir/err" || fail "--close-code $code: $(cat "$dir/err")"
done
long=$(printf '%0124d' 0)
if "$T" connect --close-reason "$long" "$url/" </dev/null >/dev/null 2>"$dir/err"; then
    fail "a 124-byte --close-reason was accepted"
fi
grep -qx 'tether connect: --close-reason: 124 bytes, at most 123 fit a close frame' "$dir/err" ||
    fail "long --close-reason: $(cat "$dir/err")"
echo "ok --close-code and --close-reason (serve sees them; unsendable codes refused)"

sleep 2 | "$T" connect -v --ping-interval 0.2 "$url/" >/dev/null 2>"$dir/err" ||
    fail "--ping-interval exited $?: $(cat "$dir/err")"
[ "$(grep -c '^received pong$' "$dir/err")" -ge 2 ] || fail "--ping-interval: $(cat "$dir/err")"
sleep 0.5 | "$T" connect -v "$url/" >/dev/null 2>"$dir/err"
! grep -q pong "$dir/err" || fail "pings without --ping-interval: $(cat "$dir/err")"
echo "ok --ping-interval (pongs come back; none without it)"

# --wait: the server is stopped (SIGSTOP) while the client sends its last
# line and reaches the end of its input. With --wait 30 the server resumes
# after 0.5 s and the client waits for the answer; with --wait 0.2 the
# server stays stopped until the client has given up (its stderr says so),
# so neither case depends on how fast a busy machine runs either process.
mkfifo "$dir/in"
wait_case() { # wait_case RESUME_WHEN CONNECT_OPTIONS...  (RESUME_WHEN: soon | given-up)
    resume=$1
    shift
    # The old stderr goes first: opening the fifo blocks until we open its
    # other end, and a stale "connected" from the previous case must not
    # be mistaken for this client's.
    rm -f "$dir/err" "$dir/out"
    "$T" connect -v "$@" "$url/" 2>"$dir/err" >"$dir/out" <"$dir/in" &
    client=$!
    exec 3>"$dir/in"
    i=0
    until grep -q '^connected' "$dir/err" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "--wait: the client did not connect: $(cat "$dir/err")"
        sleep 0.1
    done
    kill -STOP "$srv"
    echo late >&3
    exec 3>&-
    if [ "$resume" = soon ]; then
        sleep 0.5
    else
        i=0
        until grep -q '^closing: ' "$dir/err"; do
            i=$((i + 1))
            [ $i -lt 200 ] || { kill -CONT "$srv"; fail "--wait $*: no give-up: $(cat "$dir/err")"; }
            sleep 0.05
        done
    fi
    kill -CONT "$srv"
    wait "$client" || fail "--wait $*: exit $?: $(cat "$dir/err")"
    [ "$(cat "$dir/out")" = late ] || fail "--wait $*: out: $(cat "$dir/out")"
}
wait_case soon --wait 30
! grep -q unanswered "$dir/err" || fail "--wait 30: $(cat "$dir/err")"
wait_case given-up --wait 0.2
grep -qx 'closing: 1 of 1 messages unanswered after 0.2 s' "$dir/err" ||
    fail "--wait 0.2: $(cat "$dir/err")"
"$T" connect --help | grep -q 'messages as lines were sent before closing (default 2;' ||
    fail "--wait's default is not in the help"
echo "ok --wait: a late answer is waited for, up to the limit"

printf 'short\n' | "$T" "$url/" -v >"$dir/out" 2>"$dir/err" || fail "tether URL exited $?"
[ "$(cat "$dir/out")" = short ] && grep -q '^connected' "$dir/err" ||
    fail "tether URL: $(cat "$dir/out") $(cat "$dir/err")"
"$T" --help | grep -q '^  URL \[options\] .* connect URL' || fail "tether --help lacks tether URL"
echo "ok tether URL [options] is tether connect URL [options]"
stop_server

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
