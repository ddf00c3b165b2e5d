#!/usr/bin/env bash
# Does CPU per message grow with the number of idle connections a server
# holds? Starts `tether serve`, opens IDLE connections that stay silent
# (`tether bench --depth 0`), then measures an echo load of 100 connections
# x 32 B at depth 1 against the same server: the server's own CPU time
# (from /proc) divided by the messages echoed, and its RSS per idle
# connection. Not part of the test command.
#   bash bench/scale/idle_cpu.sh [BUILD_DIR] [IDLE...]   (default: build/ci-gcc 1000 19000)
# The idle connections cost two descriptors each on this machine (client
# and server are both here): 19,000 fits under a hard limit of 20,000 per
# process, since each process raises its soft limit to its hard limit.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/ci-gcc}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 19000)
tether=$build/tools/tether
[ -x "$tether" ] || { echo "no $tether: build first" >&2; exit 1; }
hz=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

for idle in "${counts[@]}"; do
    out=$(mktemp)
    # idle timeouts and pings off, so the idle connections stay idle
    "$tether" serve --port 0 --idle-timeout 0 --ping-interval 0 >"$out" &
    srv=$!
    for _ in $(seq 1 100); do grep -q listening "$out" && break; sleep 0.1; done
    port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out" | head -1)
    rss0=$(rss_kib "$srv")
    "$tether" bench "ws://127.0.0.1:$port/" -c "$idle" -d 0 -t 60 -w 0 >/dev/null 2>&1 &
    holder=$!
    # wait until the server holds them (RSS stops growing for a second)
    prev=0
    for _ in $(seq 1 120); do
        sleep 1
        cur=$(rss_kib "$srv")
        [ "$cur" -eq "$prev" ] && break
        prev=$cur
    done
    rss1=$(rss_kib "$srv")
    t0=$(cpu_ticks "$srv")
    json=$("$tether" bench "ws://127.0.0.1:$port/" -c 100 -s 32 -d 1 -t 10 -w 0 --json)
    t1=$(cpu_ticks "$srv")
    msgs=$(sed -E 's/.*"messages":([0-9]+).*/\1/' <<<"$json")
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    kill "$srv"
    wait "$srv" 2>/dev/null || true
    rm -f "$out"
    awk -v i="$idle" -v t=$((t1 - t0)) -v hz="$hz" -v m="$msgs" -v r0="$rss0" -v r1="$rss1" \
        'BEGIN { printf "idle %6d: %9d msgs, server CPU %.3f us/msg, RSS %.0f B per idle conn\n",
                 i, m, t / hz * 1e6 / m, (r1 - r0) * 1024 / i }'
done
