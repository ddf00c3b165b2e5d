#!/usr/bin/env bash
# Interop suite: tether against independent WebSocket peers over loopback
# (Python websockets, Node ws, libwebsockets, headless Chromium).
#
#   tests/interop/run.sh BUILD_DIR TETHER_BIN [PYTEST_ARGS...]
#
# BUILD_DIR receives the venv, the node modules and the libwebsockets peer.
# TETHER_BIN is the `tether` tool under test.
set -euo pipefail

WEBSOCKETS_VERSION=17.4
PYTEST_VERSION=9.2.0

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR TETHER_BIN [PYTEST_ARGS...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
BUILD=$(cd "$1" && pwd)
if [ ! -e "$2" ]; then
    echo "run.sh: TETHER_BIN $2 does not exist" >&2
    exit 1
fi
TETHER=$(realpath "$2")
shift 2

# --- system packages: chromium, libwebsockets-dev, pkg-config, openssl (the test
# certificates), a C compiler, node, curl, h2load (nghttp2-client), the
# proxies tinyproxy (HTTP CONNECT) and microsocks (SOCKS5)
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if ! pkg-config --exists libwebsockets 2>/dev/null; then need+=(libwebsockets-dev); fi
# the lws peer reads the TLS version from OpenSSL
[ -e /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy-bin)
command -v microsocks >/dev/null 2>&1 || need+=(microsocks)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "run.sh: installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "${need[@]}"
    else
        echo "run.sh: missing ${need[*]} (apt-get install -y ${need[*]} as root)" >&2
        exit 1
    fi
fi

# --- Python peer + test runner
if [ ! -x "$BUILD/venv/bin/python" ]; then
    python3 -m venv "$BUILD/venv"
fi
"$BUILD/venv/bin/python" -m pip install -q --disable-pip-version-check \
    "websockets==$WEBSOCKETS_VERSION" "pytest==$PYTEST_VERSION"

# --- Node peer: ws pinned by package.json + package-lock.json, installed
# into the build dir so the source tree stays clean
mkdir -p "$BUILD/node"
cp "$HERE/peers/node/package.json" "$HERE/peers/node/package-lock.json" "$BUILD/node/"
(cd "$BUILD/node" && npm ci --no-audit --no-fund --loglevel=error)

# --- run
export TETHER_BIN="$TETHER"
export INTEROP_BUILD_DIR="$BUILD/lws"
export INTEROP_NODE_MODULES="$BUILD/node/node_modules"
export PYTHONDONTWRITEBYTECODE=1
unset INTEROP_SKIP_MISSING
echo "run.sh: TETHER_BIN=$TETHER_BIN"
set +e
timeout 900 "$BUILD/venv/bin/python" -m pytest -v -p no:cacheprovider \
    --junitxml="$BUILD/interop-junit.xml" "$HERE" "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
    echo "run.sh: pytest collected no tests: treating as failure" >&2
    exit 1
fi
if [ $rc -eq 124 ]; then
    echo "run.sh: interop suite timed out" >&2
fi
exit $rc
