#!/usr/bin/env bash
# Memory per connection on a tether server, for the README's tables:
# plain, TLS, and each compression setting.
#   bash bench/memory/run.sh [CONNECTIONS]      (default 4000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-4000}
build=build/bench-memory
bash scripts/deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_TESTS=OFF >/dev/null
cmake --build "$build" --target tether >/dev/null
cc -O2 -std=c11 -Wall -Wextra -Iinclude -I"$build/include" bench/memory/mem_conn.c \
    -L"$build" -ltether -Wl,-rpath,"$PWD/$build" -o "$build/mem_conn"
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
bash tests/certs/make_certs.sh "$certs" >/dev/null
tls="--tls $certs/server.pem $certs/server.key $certs/ca.pem"
while IFS='|' read -r name args; do
    out=$("$build/mem_conn" "$n" $args)
    per=$(sed -E 's/.*"per_conn_bytes":([0-9-]+).*/\1/' <<<"$out")
    awk -v n="$name" -v p="$per" 'BEGIN { printf "%-58s %7.1f KB\n", n, p / 1000 }'
done <<EOF2
no compression|--size 1024
deflate, takeover, windows 15, memLevel 8|--deflate --bits 15 --mem 8
deflate, takeover, windows 12, memLevel 5 (defaults)|--deflate --bits 12 --mem 5
deflate, no context takeover|--deflate --nct
TLS 1.3, no compression|$tls --size 1024
TLS 1.3, deflate defaults|$tls --deflate --bits 12 --mem 5
EOF2
