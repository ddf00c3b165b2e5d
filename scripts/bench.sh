#!/usr/bin/env bash
# The side-by-side benchmark (not part of the test run): tether's echo
# server against a libwebsockets echo server and a Node ws echo server, all
# driven by `tether bench` on this machine in one run. Prints markdown
# tables with ratios to tether.   bash scripts/bench.sh [SECONDS]  (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
bash scripts/deps.sh
missing=()
for p in libwebsockets-dev nodejs npm util-linux; do
    command -v node >/dev/null && [ "$p" = nodejs ] && continue
    command -v npm >/dev/null && [ "$p" = npm ] && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
out=build/bench
cmake -S . -B "$out/tether" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_TESTS=OFF >/dev/null
cmake --build "$out/tether" -j "$(nproc)" >/dev/null
cc -O2 -o "$out/lws_echo" bench/lws_echo.c $(pkg-config --cflags --libs libwebsockets)
mkdir -p "$out/node"
cp bench/package.json bench/package-lock.json bench/node_echo.js "$out/node/"
(cd "$out/node" && npm ci --no-audit --no-fund >/dev/null)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 bench/run.py --tether "$out/tether/tools/tether" --lws "$out/lws_echo" \
    --node-dir "$out/node" --duration "$secs"
