#!/usr/bin/env bash
# Builds the uWebSockets anchors of the benchmarks from its public sources
# (never part of tether): bench/uws_http.cpp (HTTP hello world) and
# bench/uws_echo.cpp (WebSocket echo and broadcast), and the client of its
# own broadcast benchmark (its benchmarks/broadcast_test.c, unchanged).
#
#   bash bench/uws_build.sh UWS_SRC USOCKETS_SRC OUT_DIR
#
# UWS_SRC and USOCKETS_SRC are checkouts (git clone
# https://github.com/uNetworking/uWebSockets, .../uSockets; this machine's
# benchmark used uWebSockets 66dcff3 and uSockets 86097c4). Plain TCP only
# (LIBUS_NO_SSL), -O3, as uWebSockets' own Makefile builds its examples.
# Writes OUT_DIR/uws_http, OUT_DIR/uws_echo and OUT_DIR/broadcast_test.
set -euo pipefail
uws=$1 us=$2 out=$3
mkdir -p "$out"
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
for f in "$us"/src/*.c "$us"/src/eventing/*.c; do
    cc -O3 -DLIBUS_NO_SSL -I"$us/src" -c "$f" -o "$obj/$(basename "$f" .c).o"
done
for p in uws_http uws_echo; do
    g++ -O3 -std=c++20 -DLIBUS_NO_SSL -DUWS_NO_ZLIB -I"$uws/src" -I"$us/src" \
        "$(dirname "$0")/$p.cpp" "$obj"/*.o -o "$out/$p"
done
cc -O3 -DLIBUS_NO_SSL -I"$us/src" "$uws/benchmarks/broadcast_test.c" "$obj"/*.o -o "$out/broadcast_test"
