#!/usr/bin/env bash
# The ABI gate: checks a built libtether.so against the public headers and
# against the baseline in abi/. scripts/test.sh runs it on the gcc build.
#
#   scripts/abi_check.sh [BUILD_DIR]            check (default build/ci-gcc)
#   scripts/abi_check.sh --update [BUILD_DIR]   rewrite the baselines in abi/
#                                               (scripts/abi_update.sh builds
#                                               first, then does this)
#
# The checks:
#   1. soname     the SONAME is libtether.so.MAJOR, every exported symbol
#                 carries the version node TETHER_MAJOR;
#   2. exports    the exported symbols are exactly the functions declared
#                 with TETHER_API in the public headers (no more, no fewer,
#                 no data), and every function those headers declare is
#                 TETHER_API (or static inline);
#   3. docs       every TETHER_API declaration is documented (rule below);
#   4. abidiff    libabigail's abidiff finds no difference at all between
#                 abi/libtether.abi and the library: an incompatible change
#                 fails, and so does a compatible addition that the baseline
#                 does not contain yet;
#   5. constants  the enumerators and TETHER_* macros of tether.h (compiled
#                 into programs, so part of the ABI) equal abi/tether.constants.
# Any ABI change thus needs a regenerated baseline in the same commit
# (scripts/abi_update.sh), where review sees it.
#
# The documentation rule: a declaration is documented when a comment block of
# at least three words ends on the line just above it, the comment standing
# on its own lines; or when the line above is the last line of another
# TETHER_API declaration that is documented (a group of adjacent declarations
# shares the comment above the first of them). A blank line, a #define or a
# typedef between a comment and a declaration breaks the link.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
build=$(cd "${1:-build/ci-gcc}" && pwd)
lib=$build/libtether.so
baseline=$root/abi/libtether.abi
constants=$root/abi/tether.constants
headers=("$root/include/tether.h" "$root/include/tether_uv.h" "$build/include/tether_version.h")

for f in "$lib" "${headers[@]}"; do
    [ -e "$f" ] || { echo "abi check: $f is missing (build the library first)"; exit 1; }
done
for tool in abidw abidiff nm readelf gcc; do
    command -v "$tool" >/dev/null || { echo "abi check: $tool not found (run scripts/deps.sh)"; exit 1; }
done
readelf -S "$lib" | grep -q '\.debug_info' || {
    echo "abi check: $lib has no debug info (abidw needs DWARF: build RelWithDebInfo)"
    exit 1
}
major=$(sed -n 's/^#define TETHER_VERSION_MAJOR \([0-9]*\)$/\1/p' "$build/include/tether_version.h")
version=$(sed -n 's/^#define TETHER_VERSION_STRING "\(.*\)"$/\1/p' "$build/include/tether_version.h")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The ABI as abidw sees it: the exported functions and the types they
# reach, as far as the public headers define them (opaque structs stay
# declarations). Paths under the source tree are made relative so that the
# output does not depend on where the tree is checked out.
abi_dump() {
    abidw --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
        --headers-dir "$root/include" --drop-private-types --drop-undefined-syms \
        --exported-interfaces-only --out-file "$work/raw.abi" "$lib"
    sed "s|path='$root/|path='|g" "$work/raw.abi" >"$1"
}

# The constants that cross the ABI: every enumerator of the public enums with
# its value, as the compiler sees it, and every TETHER_* macro with its
# definition (the version macros, which change with every release, and the
# header guards excepted).
constants_dump() {
    local out=$1 cflags=(-std=c11 -I"$root/include" -I"$build/include")
    gcc -E "${cflags[@]}" -P "$root/include/tether.h" | tr '\n' ' ' | awk '
        {
            s = $0
            while (match(s, /enum[ ]+[A-Za-z_0-9]*[ ]*\{[^}]*\}/)) {
                e = substr(s, RSTART, RLENGTH)
                s = substr(s, RSTART + RLENGTH)
                name = e; sub(/^enum[ ]+/, "", name); sub(/[ ]*\{.*/, "", name)
                body = e; sub(/^[^{]*\{/, "", body); sub(/\}$/, "", body)
                n = split(body, items, ",")
                for (i = 1; i <= n; i++) {
                    it = items[i]; sub(/=.*/, "", it); gsub(/[ ]/, "", it)
                    if (it != "") print name, it
                }
            }
        }' >"$work/enums"
    {
        echo '#include <stdio.h>'
        echo '#include "tether.h"'
        echo 'int main(void) {'
        awk '{ printf "    printf(\"enum %s %s %%lld\\n\", (long long)%s);\n", $1, $2, $2 }' "$work/enums"
        echo '    return 0;'
        echo '}'
    } >"$work/enums.c"
    gcc "${cflags[@]}" -o "$work/enums" "$work/enums.c"
    {
        "$work/enums"
        gcc -E -dM "${cflags[@]}" "$root/include/tether.h" |
            sed -n 's/^#define \(TETHER_[A-Za-z0-9_]*\) \(.*\)$/macro \1 \2/p' |
            grep -v -e '^macro TETHER_VERSION_' -e '^macro TETHER_API ' -e '^macro TETHER_H ' | sort
    } >"$out"
}

if [ "$update" = 1 ]; then
    abi_dump "$baseline"
    constants_dump "$constants"
    echo "abi: wrote abi/libtether.abi ($(grep -c '<elf-symbol ' "$baseline") functions)" \
        "and abi/tether.constants ($(wc -l <"$constants") constants) from $lib"
    exit 0
fi

passed=0
failed=0
pass() { echo "  ok    $1"; passed=$((passed + 1)); }
fail() { echo "  FAIL  $1"; failed=$((failed + 1)); }
echo "== abi check of $lib (version $version)"

# ---- 1. SONAME and symbol versions
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
nm -D --defined-only --with-symbol-versions "$lib" >"$work/dynsym"
unversioned=$(awk -v node="TETHER_$major" '
    $2 == "A" && $3 == node { next }
    { v = $3; if (v !~ ("@@" node "$")) print $3 }' "$work/dynsym")
if [ "$soname" = "libtether.so.$major" ] && [ -z "$unversioned" ] &&
    grep -q " A TETHER_$major\$" "$work/dynsym"; then
    pass "soname: $soname, every symbol at version TETHER_$major"
else
    fail "soname: SONAME '$soname' (want libtether.so.$major); symbols without @@TETHER_$major:"
    echo "$unversioned" | sed 's/^/          /'
fi

# ---- 2. exported symbols = TETHER_API declarations
# The declarations, as the compiler reads the headers: each top-level
# statement of a public header, with the file and line range it comes from.
printf '#include "tether.h"\n#include "tether_uv.h"\n' |
    gcc -E -std=c11 -I"$root/include" -I"$build/include" -x c - >"$work/pre.i"
awk -v public="$(printf '%s\n' "${headers[@]}")" '
    BEGIN { n = split(public, p, "\n"); for (i = 1; i <= n; i++) pub[p[i]] = 1
            stmt = ""; depth = 0; quote = "" }
    /^# [0-9]+ "/ { line = $2 + 0; file = $3; gsub(/"/, "", file); next }
    {
        if (!(file in pub)) { line++; next }
        s = $0
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (stmt == "" && c ~ /[ \t]/) continue
            if (stmt == "") { sfile = file; sline = line }
            stmt = stmt c
            if (quote != "") {
                if (c == "\\") { i++; stmt = stmt substr(s, i, 1) }
                else if (c == quote) quote = ""
                continue
            }
            if (c == "\"" || c == "\047") quote = c
            else if (c == "{") depth++
            else if (c == "}") {
                depth--
                if (depth == 0) {
                    head = stmt; sub(/\{.*/, "", head); sub(/[ \t]+$/, "", head)
                    if (head ~ /\)$/) { emit(head, "def"); stmt = "" }
                }
            } else if (c == ";" && depth == 0) { emit(stmt, "decl"); stmt = "" }
        }
        if (stmt != "") stmt = stmt " "
        line++
    }
    function emit(t, kind,   api, pre, name) {
        if (t ~ /^typedef[ \t]/ || index(t, "(") == 0) return
        api = gsub(/__attribute__\(\(visibility\("default"\)\)\)/, "", t) > 0
        pre = substr(t, 1, index(t, "(") - 1)
        sub(/[ \t]+$/, "", pre)
        if (!match(pre, /[A-Za-z_][A-Za-z_0-9]*$/)) return
        name = substr(pre, RSTART, RLENGTH)
        if (t ~ /(^|[ \t])static[ \t]/) print "static", name, sfile, sline, line
        else if (api) print "api", name, sfile, sline, line
        else print "plain", name, sfile, sline, line
    }' "$work/pre.i" >"$work/decls"
awk '$1 == "api" { print $2 }' "$work/decls" | sort >"$work/declared"
awk -v node="TETHER_$major" '$2 == "A" && $3 == node { next }
    $2 == "T" { sub(/@.*/, "", $3); print $3; next }
    { print "(not a function) " $3 }' "$work/dynsym" | sort >"$work/exported"
declared_n=$(wc -l <"$work/declared")
exported_n=$(wc -l <"$work/exported")
plain=$(awk -v root="$root" '$1 == "plain" { f = $3; sub("^" root "/", "", f); print $2 " (" f ":" $4 ")" }' "$work/decls")
if [ "$declared_n" -gt 0 ] && cmp -s "$work/declared" "$work/exported" && [ -z "$plain" ]; then
    pass "exports: the $exported_n exported functions are exactly those the headers declare"
else
    fail "exports: $exported_n exported, $declared_n declared with TETHER_API"
    comm -13 "$work/declared" "$work/exported" | sed 's/^/          exported, not declared: /'
    comm -23 "$work/declared" "$work/exported" | sed 's/^/          declared, not exported: /'
    [ -z "$plain" ] || echo "$plain" | sed 's/^/          declared without TETHER_API: /'
fi

# ---- 3. every declaration documented
undocumented=$(awk -v root="$root" '
    FNR == 1 { nf++ }
    nf == 1 { if ($1 == "api") { n++; name[n] = $2; file[n] = $3; first[n] = $4; last[n] = $5
                                 endof[$3 SUBSEP $5] = n }
              next }
    { src[FILENAME SUBSEP FNR] = $0 }
    END {
        for (i = 1; i <= n; i++)
            if (!documented(i)) { f = file[i]; sub("^" root "/", "", f); print name[i] " (" f ":" first[i] ")" }
    }
    function documented(i,   p, t, q, text, words) {
        if (i in memo) return memo[i]
        memo[i] = 0
        p = first[i] - 1
        if ((file[i] SUBSEP p) in endof) return memo[i] = documented(endof[file[i] SUBSEP p])
        t = src[file[i] SUBSEP p]
        if (t !~ /\*\/[ \t]*$/) return 0
        for (q = p; q > 0 && index(src[file[i] SUBSEP q], "/*") == 0; q--) ;
        if (q == 0) return 0
        t = src[file[i] SUBSEP q]
        if (substr(t, 1, index(t, "/*") - 1) !~ /^[ \t]*$/) return 0
        text = ""
        for (; q <= p; q++) text = text " " src[file[i] SUBSEP q]
        words = 0
        while (match(text, /[A-Za-z][A-Za-z0-9_]*/)) { words++; text = substr(text, RSTART + RLENGTH) }
        return memo[i] = (words >= 3)
    }' "$work/decls" "${headers[@]}")
if [ -z "$undocumented" ]; then
    pass "docs: all $declared_n declarations documented"
else
    fail "docs: declarations with no doc comment:"
    echo "$undocumented" | sed 's/^/          /'
fi

# ---- 4. abidiff against the baseline
regen="regenerate the baseline with: bash scripts/abi_update.sh (and commit abi/)"
if [ ! -f "$baseline" ]; then
    fail "abidiff: no baseline abi/libtether.abi; $regen"
else
    set +e
    abidiff --no-default-suppression --headers-dir2 "$root/include" --drop-private-types \
        --exported-interfaces-only \
        "$baseline" "$lib" >"$work/abidiff.out" 2>&1
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then
        pass "abidiff: no ABI change against abi/libtether.abi"
    else
        what="an ABI change (an addition is compatible, a changed function seldom is)"
        [ $((rc & 8)) -ne 0 ] && what="an INCOMPATIBLE ABI change (needs a major release)"
        [ $((rc & 3)) -ne 0 ] && what="an abidiff error"
        fail "abidiff: $what (exit status $rc):"
        sed 's/^/          /' "$work/abidiff.out"
        echo "          If the change is intended and allowed by the README's \"Versions and"
        echo "          ABI\" policy, $regen."
    fi
fi

# ---- 5. constants against the baseline
constants_dump "$work/constants"
if [ -f "$constants" ] && cmp -s "$constants" "$work/constants"; then
    pass "constants: $(wc -l <"$constants") enumerators and macros as in abi/tether.constants"
else
    fail "constants: the public constants differ from abi/tether.constants:"
    if [ -f "$constants" ]; then
        diff -u "$constants" "$work/constants" | tail -n +3 | sed 's/^/          /'
    fi
    echo "          If the change is intended, $regen."
fi

echo "abi check: $passed passed, $failed failed"
[ "$failed" = 0 ]
