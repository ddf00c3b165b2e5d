#!/usr/bin/env bash
# RFC 6455 / RFC 7692 conformance of tether, measured by the real
# Autobahn|Testsuite (wstest) in both roles. Not part of scripts/test.sh:
# it takes minutes and needs Python 2.7.
#
#   bash scripts/autobahn.sh [--tether PATH] [--role server|client|both]
#                            [--cases '1.*,12.1.*'] [--exclude '9.*']
#                            [--details] [--server-timeout SEC]
#
# server role: `tether serve --deflate` on a free loopback port, driven by
#              `wstest -m fuzzingclient`.
# client role: `wstest -m fuzzingserver` on a free loopback port, one
#              `tether connect --echo --deflate` per case.
# Without --tether, builds build/rel/tools/tether (Release, ninja -j1 unless
# JOBS is set). Everything else lives under build/autobahn/: the Python 2
# virtualenv, the specs, the logs and the reports (reports/servers,
# reports/clients: index.json and one JSON and HTML file per case).
# Prints per role a line of counts per behavior and every case that is not
# OK or INFORMATIONAL (scripts/autobahn_report.py); exits 1 if a case
# failed or did not run, 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/autobahn
venv=$out/venv

tether=""
role=both
cases="*"
exclude=""
details=()
server_timeout=5400
while [ $# -gt 0 ]; do
    case "$1" in
    --tether) tether=${2:?--tether needs a path}; shift 2 ;;
    --role) role=${2:?--role needs server, client or both}; shift 2 ;;
    --cases) cases=${2:?--cases needs patterns}; shift 2 ;;
    --exclude) exclude=${2:?--exclude needs patterns}; shift 2 ;;
    --details) details=(--details); shift ;;
    --server-timeout) server_timeout=${2:?--server-timeout needs seconds}; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "autobahn: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$role" in server | client | both) ;; *) echo "autobahn: --role server|client|both" >&2; exit 2 ;; esac

# The suite needs autobahn 0.10.9, whose Twisted code is Python 2 only. Its
# wheel declares an exact set (Twisted 19.10.0 with incremental 16.10.1,
# cryptography 3.3.2, the last with Python 2 wheels, which carry their own
# OpenSSL; klein and Werkzeug, used only by the WAMP modes) but not what
# those need in turn, and its sdist declares nothing. So this is the whole
# closure, pinned and installed with --no-deps so that nothing floats;
# `pip check` then proves it complete. wsaccel (the "accelerate" extra of
# autobahn, built from its sdist: needs cc and Python 2's headers) replaces
# autobahn's byte-at-a-time Python masking and UTF-8 validation, without
# which the 9.* and 12.*/13.* cases take many times longer.
pins=(
    autobahntestsuite==25.10.1 autobahn==0.10.9 txaio==2.1.0 six==1.16.0
    Twisted==19.10.0 zope.interface==4.6.0 incremental==16.10.1
    constantly==15.1.0 Automat==22.10.0 attrs==21.4.0 hyperlink==21.0.0
    idna==2.10 PyHamcrest==1.10.1 typing==3.10.0.0 setuptools==44.0.0
    Jinja2==2.11.3 MarkupSafe==1.1.1 Werkzeug==1.0.1 klein==17.10.0
    pyOpenSSL==19.1.0 cryptography==3.3.2 cffi==1.15.1 pycparser==2.21
    enum34==1.1.10 ipaddress==1.0.23
    service-identity==18.1.0 pyasn1==0.5.1 pyasn1-modules==0.3.0
    unittest2==1.1.0 argparse==1.4.0 linecache2==1.0.0 traceback2==1.4.0
    wsaccel==0.6.6
)
# virtualenv 16 is a single universal wheel that still makes Python 2
# environments, and brings its own pip 20.3.4 and setuptools 44.1.1.
virtualenv_pin=virtualenv==16.7.12

find_python2() {
    local c
    for c in "${PYTHON2:-}" "$(command -v python2.7 || true)" \
             "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7; do
        [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' \
            2>/dev/null && { echo "$c"; return 0; }
    done
    return 1
}

setup_env() {
    local stamp=$venv/.autobahn-pins
    if [ -x "$venv/bin/wstest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
        return 0
    fi
    local py2
    py2=$(find_python2) || {
        echo "autobahn: needs Python 2.7 (set PYTHON2=/path/to/python2.7, or pyenv's 2.7.x)" >&2
        exit 2
    }
    echo "== autobahn: Python 2 environment in $venv ($py2)"
    rm -rf "$venv" "$out/bootstrap"
    # python3's pip installs the universal wheel, so python2 needs no pip.
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --no-deps --target "$out/bootstrap" "$virtualenv_pin"
    PYTHONPATH=$out/bootstrap "$py2" -m virtualenv -q --no-download -p "$py2" "$venv" >/dev/null
    local pip=("$venv/bin/python" -m pip --no-python-version-warning)
    # No build isolation: the sdists build with the pinned setuptools rather
    # than whatever their build requirements would float to.
    "${pip[@]}" install -q --no-cache-dir --no-deps --no-build-isolation \
        --only-binary cryptography,cffi "${pins[@]}"
    local check
    check=$("${pip[@]}" check 2>&1) || { echo "$check" >&2; exit 1; }
    "$venv/bin/wstest" --autobahnversion >/dev/null
    echo "${pins[*]}" >"$stamp"
}

# wstest's fuzzingserver listens on every interface; these runs stay on
# loopback, so wstest runs through this shim that binds 127.0.0.1 only.
write_wstest_shim() {
    cat >"$out/wstest_loopback.py" <<'EOF'
import sys
import autobahn.twisted.websocket as ws
import autobahntestsuite.fuzzing as fuzzing
def listen_loopback(factory, contextFactory=None, backlog=50, interface="127.0.0.1"):
    return ws.listenWS(factory, contextFactory, backlog, interface)
fuzzing.listenWS = listen_loopback
from autobahntestsuite.wstest import run
sys.argv[0] = "wstest"
run()
EOF
}
wstest=("$venv/bin/python" "$out/wstest_loopback.py")

# A spec file, written by python3 so that case patterns need no quoting.
write_spec() { # FILE KEY=JSON...
    python3 - "$@" <<'EOF'
import json, sys
spec = {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    spec[k] = json.loads(v)
json.dump(spec, open(sys.argv[1], "w"), indent=2)
EOF
}
patterns() { python3 -c 'import json,sys; print(json.dumps([p for p in sys.argv[1].split(",") if p]))' "$1"; }

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

status=0

run_server_role() {
    local dir=$out/reports/servers log=$out/logs/server
    rm -rf "$dir"
    mkdir -p "$dir" "$(dirname "$log")"
    rm -f "$log-tether.out" # else the last run's port could be read
    "$tether" serve --host 127.0.0.1 --port 0 --deflate >"$log-tether.out" 2>"$log-tether.err" &
    local spid=$!
    pids+=("$spid")
    local port="" i
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log-tether.out" 2>/dev/null || true)
        [ -z "$port" ] || break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server: tether serve did not start (see $log-tether.err)"; status=1; return; }
    write_spec "$out/fuzzingclient.json" "outdir=\"$dir\"" \
        "servers=[{\"agent\": \"tether\", \"url\": \"ws://127.0.0.1:$port\"}]" \
        "cases=$(patterns "$cases")" "exclude-cases=$(patterns "$exclude")" \
        'exclude-agent-cases={}'
    echo "== autobahn server role: tether serve on 127.0.0.1:$port, wstest -m fuzzingclient"
    local t0=$SECONDS
    timeout -k 10 "$server_timeout" "${wstest[@]}" -m fuzzingclient -s "$out/fuzzingclient.json" \
        >"$log-wstest.log" 2>&1 || echo "server: wstest exited with status $? (see $log-wstest.log)"
    local wall=$((SECONDS - t0))
    # A server that died mid-run shows up as cases without a report; say why.
    if ! kill -0 "$spid" 2>/dev/null; then
        local rc=0
        wait "$spid" || rc=$?
        echo "server: tether serve exited during the run with status $rc (see $log-tether.err)"
        status=1
    else
        kill "$spid"
        wait "$spid" || true
    fi
    echo "server: wall time ${wall} s"
    python3 scripts/autobahn_report.py server "$dir" --wstest-log "$log-wstest.log" \
        "${details[@]}" || status=1
}

# Asks the fuzzingserver for something (the case count, the reports) and
# prints its answer. Not with --echo: the suite would take the echo for a
# command. stdin stays open (an idle sleep) so that the suite, not tether,
# closes the connection.
suite_request() { # URL SECONDS
    local fifo=$out/stdin.fifo rc=0 idle
    rm -f "$fifo"
    mkfifo "$fifo"
    sleep "$2" >"$fifo" 2>/dev/null &
    idle=$!
    timeout "$2" "$tether" connect "$1" <"$fifo" 2>/dev/null || rc=$?
    kill "$idle" 2>/dev/null || true
    wait "$idle" 2>/dev/null || true
    rm -f "$fifo"
    return $rc
}

# Case ids in the order the fuzzingserver numbers them, from its log.
case_ids() {
    python3 -c 'import ast, re, sys
m = re.search(r"^Cases = (\[.*\])$", open(sys.argv[1]).read(), re.M)
print("\n".join(ast.literal_eval(m.group(1)) if m else []))' "$1"
}

run_client_role() {
    local dir=$out/reports/clients log=$out/logs/client
    rm -rf "$dir"
    mkdir -p "$dir" "$(dirname "$log")"
    local port
    port=$(free_port)
    write_spec "$out/fuzzingserver.json" "outdir=\"$dir\"" "url=\"ws://127.0.0.1:$port\"" \
        "cases=$(patterns "$cases")" "exclude-cases=$(patterns "$exclude")" \
        'exclude-agent-cases={}'
    # -u 0: no extra HTTP server for the browser page.
    "${wstest[@]}" -m fuzzingserver -s "$out/fuzzingserver.json" -u 0 >"$log-wstest.log" 2>&1 &
    local fpid=$!
    pids+=("$fpid")
    wait_port "$port" 30 || { echo "client: wstest fuzzingserver did not start (see $log-wstest.log)"; status=1; return; }
    echo "== autobahn client role: wstest -m fuzzingserver on 127.0.0.1:$port, tether connect per case"
    local base="ws://127.0.0.1:$port" n
    n=$(suite_request "$base/getCaseCount" 20 | head -1 || true)
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 2000 ]; then
        echo "client: bad case count '$n' from $base/getCaseCount"; status=1; return
    fi
    local t0=$SECONDS i rc id ids
    mapfile -t ids < <(case_ids "$log-wstest.log")
    : >"$log-tether.log"
    # Each case is bounded: the suite's own case timeouts are at most a
    # minute, so a connection still open after 90 s is tether hanging.
    for ((i = 1; i <= n; i++)); do
        rc=0
        timeout -k 5 90 "$tether" connect "$base/runCase?case=$i&agent=tether" --echo --deflate \
            >/dev/null 2>"$log-case.err" || rc=$?
        id=${ids[i - 1]:-#$i}
        echo "case $id: exit $rc: $(tr '\n' ' ' <"$log-case.err")" >>"$log-tether.log"
        [ "$rc" -ne 124 ] || echo "client: case $id: tether connect timed out after 90 s"
    done
    rm -f "$log-case.err"
    suite_request "$base/updateReports?agent=tether" 600 >/dev/null ||
        echo "client: $base/updateReports failed"
    local wall=$((SECONDS - t0))
    kill "$fpid" 2>/dev/null || true
    wait "$fpid" 2>/dev/null || true
    echo "client: wall time ${wall} s"
    python3 scripts/autobahn_report.py client "$dir" --wstest-log "$log-wstest.log" \
        "${details[@]}" || status=1
}

main() {
    setup_env
    write_wstest_shim
    if [ -z "$tether" ]; then
        bash scripts/deps.sh
        [ -f build/rel/build.ninja ] ||
            cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
        ninja -C build/rel -j "${JOBS:-1}" tether_cli >/dev/null
        tether=$root/build/rel/tools/tether
    fi
    tether=$(realpath "$tether")
    [ -x "$tether" ] || { echo "autobahn: no tether binary at $tether" >&2; exit 2; }

    [ "$role" = client ] || run_server_role
    [ "$role" = server ] || run_client_role
}
# main and exit on one line: bash has then read all of this file before the
# run starts, and editing it during a run does no harm.
main; exit $status
