#!/usr/bin/env bash
# Python echo benchmark: tether's package against websockets (C speedups)
# and picows.
#
#   bench/python/run.sh [SECONDS] [BUILD_DIR]     (defaults: 5, build/python-bench)
#
# Makes a venv in BUILD_DIR with websockets (pinned, as the tests) and this
# package (pip install ./python), then runs bench/python/bench.py: each
# server pinned to core 0, each client to core 1. Prints one line per run
# and a table of ratios. Not part of the test run.
set -euo pipefail
WEBSOCKETS_VERSION=17.4
PICOWS_VERSION=2.3.1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_PER_RUN=${1:-5}
B=${2:-$ROOT/build/python-bench}
mkdir -p "$B"
B=$(cd "$B" && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
if [ ! -x "$B/venv/bin/python" ]; then
    python3 -m venv "$B/venv"
fi
"$B/venv/bin/pip" install -q cffi setuptools wheel "websockets==$WEBSOCKETS_VERSION" \
    "picows==$PICOWS_VERSION"
(cd "$B" && "$B/venv/bin/pip" install -q --force-reinstall --no-deps "$ROOT/python")
cd "$B"
exec "$B/venv/bin/python" "$ROOT/bench/python/bench.py" run --duration "$SECONDS_PER_RUN" \
    --json "$B/results.json"
