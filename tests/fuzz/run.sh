#!/bin/sh
# Runs one libFuzzer target for a bounded time: run.sh BINARY SEEDS CORPUS SECONDS.
# The working corpus lives in the build tree; the committed seeds are read-only.
set -eu
bin=$1 seeds=$2 corpus=$3 secs=$4
mkdir -p "$corpus" "$corpus.artifacts"
set -- "$corpus"
[ -d "$seeds" ] && set -- "$@" "$seeds"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$corpus.artifacts/" "$@"
