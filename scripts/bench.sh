#!/usr/bin/env bash
# The side-by-side benchmark (not part of the test run): tether's echo
# server against a libwebsockets echo server and a Node ws echo server, all
# driven by `tether bench` on this machine in one run. Prints markdown
# tables with ratios to tether.
#
#   bash scripts/bench.sh [SECONDS] [--only ws|tls|deflate|http|broadcast|all] [--repeat N]
#
# SECONDS per run (default 10); --repeat N runs each echo load N times and
# keeps the median (the README's tables: 3). --only picks sections (comma-separated;
# default all): ws (cleartext echo: a raw TCP echo as the limit
# (bench/raw_echo.c), uWebSockets when UWS_SRC and USOCKETS_SRC name
# checkouts of its sources, libwebsockets, Node ws; idle memory), tls (wss://,
# tether and libwebsockets with the same certificate), deflate
# (permessage-deflate on a generated JSON corpus) and http (hello-world
# requests with h2load, bench/http_bench.py: tether, libwebsockets, and
# uWebSockets when UWS_SRC and USOCKETS_SRC name checkouts of its sources). Certificates are made
# fresh by tests/certs/make_certs.sh and the corpus by bench/corpus.py,
# both under build/bench/. broadcast (uWebSockets' own broadcast benchmark
# client against `tether serve --broadcast` and uWebSockets' broadcasting
# server, 100 and 500 clients) runs when UWS_SRC and USOCKETS_SRC are set.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=10
only=all
repeat=1
while [ $# -gt 0 ]; do
    case "$1" in
    --only) only=${2:?--only needs ws, tls, deflate or all}; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --repeat) repeat=${2:?--repeat needs a count}; shift 2 ;;
    [0-9]*) secs=$1; shift ;;
    *) echo "usage: bash scripts/bench.sh [SECONDS] [--only ws|tls|deflate|http|broadcast|all] [--repeat N]" >&2; exit 2 ;;
    esac
done
want() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }

bash scripts/deps.sh
packages=(libwebsockets-dev util-linux openssl)
want ws && packages+=(nodejs npm)
want http && packages+=(nghttp2-client)
missing=()
for p in "${packages[@]}"; do
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
cc -O2 -o "$out/raw_echo" bench/raw_echo.c
args=(--tether "$out/tether/tools/tether" --lws "$out/lws_echo" --raw "$out/raw_echo"
      --duration "$secs" --only "$only" --repeat "$repeat")
if [ -n "${UWS_SRC:-}" ] && [ -n "${USOCKETS_SRC:-}" ]; then
    bash bench/uws_build.sh "$UWS_SRC" "$USOCKETS_SRC" "$out/uws"
    args+=(--uws "$out/uws/uws_echo" --broadcast-client "$out/uws/broadcast_test")
fi
if want ws; then
    mkdir -p "$out/node"
    cp bench/package.json bench/package-lock.json bench/node_echo.js "$out/node/"
    (cd "$out/node" && npm ci --no-audit --no-fund >/dev/null)
    args+=(--node-dir "$out/node")
fi
if want tls; then
    rm -rf "$out/certs"
    bash tests/certs/make_certs.sh "$out/certs" >/dev/null
    args+=(--certs "$out/certs")
fi
if want deflate; then
    python3 bench/corpus.py "$out/corpus.jsonl"
    args+=(--corpus "$out/corpus.jsonl")
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if want http; then
    cc -O2 -Iinclude -I"$out/tether/include" -o "$out/http_hello" bench/http_hello.c \
        "$out/tether/libtether.a" $(pkg-config --libs --static libssl libcrypto zlib libnghttp2) -lpthread
    cc -O2 -o "$out/lws_http" bench/lws_http.c $(pkg-config --cflags --libs libwebsockets)
    cc -O2 -o "$out/h2_ws_load" bench/h2_ws_load.c $(pkg-config --cflags --libs libnghttp2)
    http=(--tether "$out/http_hello" --lws "$out/lws_http" --duration "$secs"
          --ws-load "$out/h2_ws_load" --tether-cli "$out/tether/tools/tether")
    if [ -n "${UWS_SRC:-}" ] && [ -n "${USOCKETS_SRC:-}" ]; then
        [ -x "$out/uws/uws_http" ] || bash bench/uws_build.sh "$UWS_SRC" "$USOCKETS_SRC" "$out/uws"
        http+=(--uws "$out/uws/uws_http")
    fi
    python3 bench/http_bench.py "${http[@]}"
fi
exec python3 bench/run.py "${args[@]}"
