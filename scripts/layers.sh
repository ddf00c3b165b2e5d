#!/usr/bin/env bash
# Checks the include order of src/ (docs/ARCHITECTURE.md, "Layers"): a file
# includes only headers of its own folder or of a folder below it, and
# another folder's private header (*_int.h) never; and within a folder no
# two files call each other (scripts/file_cycles.py). Part of the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
order=(proto ws loop net stack api)
rank() {
    local i
    for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done
    echo -1
}
bad=0
for dir in src/*/; do
    layer=$(basename "$dir")
    me=$(rank "$layer")
    if [ "$me" -lt 0 ]; then
        echo "layers: src/$layer is not in the layer order (scripts/layers.sh)"
        bad=1
        continue
    fi
    while IFS=: read -r file line inc; do
        target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$inc")
        case $target in */*) ;; *) continue ;; esac # tether.h, same-folder names
        other=${target%%/*}
        them=$(rank "$other")
        if [ "$them" -lt 0 ] || [ "$them" -gt "$me" ]; then
            echo "layers: $file:$line includes $target, a layer above src/$layer"
            bad=1
        elif [ "$other" != "$layer" ] && [[ $target == *_int.h ]]; then
            echo "layers: $file:$line includes $target, private to src/$other"
            bad=1
        fi
    done < <(grep -n '#include "' "$dir"*.[ch] /dev/null)
done
[ "$bad" -eq 0 ] && echo "layers: src/ includes only downwards (${order[*]})"
python3 scripts/file_cycles.py src || bad=1
exit "$bad"
