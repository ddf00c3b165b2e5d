#!/usr/bin/env bash
# The demo: installs what is missing, builds, and shows an echo round trip
# between the two examples (a server and a client built only on tether's
# sans-I/O API over plain blocking sockets), with and without
# permessage-deflate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/demo -G Ninja -DTETHER_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" >/dev/null
exec tests/examples_echo.sh build/demo/examples --verbose
