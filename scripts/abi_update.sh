#!/usr/bin/env bash
# Regenerates the ABI baseline in abi/ (libtether.abi, abidw's view of the
# library; tether.constants, the public enumerators and macros) from a fresh
# gcc RelWithDebInfo build, the same build the test run checks. Run it when
# you change the ABI on purpose, within what the README's "Versions and ABI"
# allows, and commit abi/ with the change; review sees the difference.
#   bash scripts/abi_update.sh [BUILD_DIR]     (default build/ci-gcc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/ci-gcc}
bash scripts/deps.sh
cmake -S . -B "$build" -G Ninja -DTETHER_WERROR=ON -DCMAKE_C_COMPILER=gcc \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target tether >/dev/null
bash scripts/abi_check.sh --update "$build"
git --no-pager diff --stat -- abi/ 2>/dev/null || true
