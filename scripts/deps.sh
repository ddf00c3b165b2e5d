#!/usr/bin/env bash
# Installs what building and testing tether needs, from Debian's packages,
# when it is missing. Safe to run again: it does nothing when all is there.
set -euo pipefail

packages=(cmake ninja-build gcc clang libclang-rt-14-dev clang-format pkg-config
          libssl-dev openssl zlib1g-dev libnghttp2-dev libcmocka-dev libuv1-dev abigail-tools)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
