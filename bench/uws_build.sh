#!/usr/bin/env bash
# Builds bench/uws_http.cpp against uWebSockets and uSockets, from their
# public sources, as the benchmark's anchor (never part of tether).
#
#   bash bench/uws_build.sh UWS_SRC USOCKETS_SRC OUT_BINARY
#
# UWS_SRC and USOCKETS_SRC are checkouts (git clone
# https://github.com/uNetworking/uWebSockets, .../uSockets; this machine's
# benchmark used uWebSockets 66dcff3 and uSockets 86097c4). Plain TCP only
# (LIBUS_NO_SSL), -O3, as uWebSockets' own Makefile builds its examples.
set -euo pipefail
uws=$1 us=$2 out=$3
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
for f in "$us"/src/*.c "$us"/src/eventing/*.c; do
    cc -O3 -DLIBUS_NO_SSL -I"$us/src" -c "$f" -o "$obj/$(basename "$f" .c).o"
done
g++ -O3 -std=c++20 -DLIBUS_NO_SSL -DUWS_NO_ZLIB -I"$uws/src" -I"$us/src" \
    "$(dirname "$0")/uws_http.cpp" "$obj"/*.o -o "$out"
