#!/usr/bin/env bash
# Installs a build into a temporary prefix and uses it the way a user would,
# from outside the source tree: builds examples/ against the installed
# headers and libraries with pkg-config and with CMake's find_package, runs
# each build's echo server and client against each other
# (tests/examples_echo.sh), and checks that the library loaded is the
# installed one and reports the version the headers say. scripts/test.sh runs
# it on the gcc build.
#   scripts/install_check.sh [BUILD_DIR]     (default build/ci-gcc)
#
# The checks:
#   1. layout              the files are in place, the SONAME symlink chain is
#                          right, the installed tool runs (its RPATH finds the
#                          library) and prints the version
#   2. pkg-config          cc $(pkg-config --cflags --libs tether), shared;
#                          the headers alone compile as C99, C11 and C++
#   3. pkg-config static   the same with pkg-config --static and libtether.a
#   4. find_package        find_package(tether VERSION) + tether::tether
#   5. find_package static tether::tether_static (COMPONENTS static)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(cd "${1:-build/ci-gcc}" && pwd)
cc=${CC:-gcc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== install check: cmake --install $build --prefix <tmp>"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
pc=$(find "$prefix" -name tether.pc | head -1)
[ -n "$pc" ] || { echo "install check: no tether.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^Version: //p' "$pc")
major=${version%%.*}
export PKG_CONFIG_PATH=$libdir/pkgconfig

# What a user has: the examples, copied out of the tree, and a probe that
# compares the headers' version with the library's.
src=$work/src
mkdir -p "$src"
cp examples/echo_server.c examples/echo_client.c examples/ws_endpoint.h "$src/"
cat >"$src/version_probe.c" <<'EOF'
#include <stdio.h>
#include <string.h>

#include <tether.h>

int main(void) {
    const char *lib = tether_version();
    printf("headers %s, library %s\n", TETHER_VERSION_STRING, lib);
    return strcmp(lib, TETHER_VERSION_STRING) == 0 ? 0 : 1;
}
EOF

passed=0
failed=0
pass() { echo "  ok    $1"; passed=$((passed + 1)); }
fail() {
    echo "  FAIL  $1"
    sed 's/^/          /' "$work/log"
    failed=$((failed + 1))
}

# Runs the echo pair and the probe in $1; $2 is "shared" or "static".
run_built() {
    local dir=$1 kind=$2 lt
    for prog in echo_server echo_client version_probe; do
        lt=$(LD_LIBRARY_PATH=$libdir ldd "$dir/$prog" | awk '/libtether/ { print $3 }')
        if [ "$kind" = shared ] && [ "$lt" != "$libdir/libtether.so.$major" ]; then
            echo "$prog loads libtether from '${lt:-nowhere}', not $libdir"
            return 1
        fi
        if [ "$kind" = static ] && [ -n "$lt" ]; then
            echo "$prog is linked statically yet loads $lt"
            return 1
        fi
    done
    LD_LIBRARY_PATH=$libdir "$dir/version_probe" &&
        LD_LIBRARY_PATH=$libdir tests/examples_echo.sh "$dir"
}

# ---- 1. layout
layout() {
    local f
    for f in "$prefix/include/tether.h" "$prefix/include/tether_uv.h" \
        "$prefix/include/tether_version.h" "$libdir/libtether.a" "$libdir/libtether.so.$version" \
        "$libdir/cmake/tether/tetherConfig.cmake" "$libdir/cmake/tether/tetherConfigVersion.cmake"; do
        [ -f "$f" ] || { echo "missing: $f"; return 1; }
    done
    [ "$(readlink "$libdir/libtether.so.$major")" = "libtether.so.$version" ] &&
        [ "$(readlink "$libdir/libtether.so")" = "libtether.so.$major" ] ||
        { echo "bad symlinks: $(ls -l "$libdir"/libtether.so*)"; return 1; }
    [ "$(env -u LD_LIBRARY_PATH "$prefix/bin/tether" --version)" = "$version" ] ||
        { echo "installed tether --version does not print $version"; return 1; }
}
if layout >"$work/log" 2>&1; then
    pass "layout: libtether.so.$version, .so.$major, .a, 3 headers, tether.pc, CMake package, bin/tether"
else
    fail "layout"
fi

# ---- 2, 3. pkg-config
pkgconfig_build() {
    local kind=$1 out=$work/pc-$1 cflags libs prog
    mkdir -p "$out"
    cflags=$(pkg-config --cflags tether)
    if [ "$kind" = shared ]; then
        libs=$(pkg-config --libs tether)
        # The headers stand alone, in C99, C11 and C++ (what bindings parse).
        for std in c99 c11; do
            echo '#include <tether.h>' | $cc -std=$std -Wall -Wextra -Wpedantic -Werror \
                $cflags -fsyntax-only -x c - || return 1
        done
        # (uv.h itself needs more than strict C11: the POSIX threads types.)
        echo '#include <tether_uv.h>' | $cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $cflags \
            -fsyntax-only -x c - || return 1
        if command -v clang++ >/dev/null; then
            echo '#include <tether.h>' | clang++ -Wall -Wextra -Werror $cflags \
                -fsyntax-only -x c++ - || return 1
        fi
    else
        # libtether.a by name: -ltether alone would pick the shared library.
        libs=$(pkg-config --static --libs tether)
        libs=${libs/-ltether/-l:libtether.a}
    fi
    for prog in echo_server echo_client version_probe; do
        # shellcheck disable=SC2086 # word splitting of the flags is wanted
        $cc -std=c11 -Wall -Wextra -Wpedantic -Werror $cflags "$src/$prog.c" -o "$out/$prog" \
            $libs || return 1
    done
    run_built "$out" "$kind"
}
if pkgconfig_build shared >"$work/log" 2>&1; then
    pass "pkg-config: examples built with pkg-config --cflags --libs tether, echo round trip"
else
    fail "pkg-config (shared)"
fi
if pkgconfig_build static >"$work/log" 2>&1; then
    pass "pkg-config static: examples linked with libtether.a and pkg-config --static, echo round trip"
else
    fail "pkg-config (static)"
fi

# ---- 4, 5. find_package
cat >"$src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(tether_user C)
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_EXTENSIONS OFF)
find_package(tether ${WANT_VERSION} REQUIRED COMPONENTS static)
if(NOT tether_DIR MATCHES "^${WANT_PREFIX}/")
  message(FATAL_ERROR "found tether in ${tether_DIR}, not under ${WANT_PREFIX}")
endif()
foreach(kind shared static)
  foreach(prog echo_server echo_client version_probe)
    add_executable(${prog}_${kind} ${prog}.c)
    target_compile_options(${prog}_${kind} PRIVATE -Wall -Wextra -Wpedantic -Werror)
    set_target_properties(${prog}_${kind} PROPERTIES OUTPUT_NAME ${prog}
                          RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/${kind})
  endforeach()
endforeach()
foreach(prog echo_server echo_client version_probe)
  target_link_libraries(${prog}_shared PRIVATE tether::tether)
  target_link_libraries(${prog}_static PRIVATE tether::tether_static)
endforeach()
EOF
cmake_built=0
if (cmake -S "$src" -B "$work/cm" -G Ninja -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DWANT_VERSION="$version" -DWANT_PREFIX="$prefix" &&
    cmake --build "$work/cm") >"$work/cmake.log" 2>&1; then
    cmake_built=1
fi
for kind in shared static; do
    target=tether::tether label=find_package
    [ "$kind" = static ] && target=tether::tether_static label="find_package static"
    if [ "$cmake_built" = 1 ] && run_built "$work/cm/$kind" "$kind" >"$work/log" 2>&1; then
        pass "$label: examples built with find_package(tether $version) and $target, echo round trip"
    else
        [ "$cmake_built" = 1 ] || cp "$work/cmake.log" "$work/log"
        fail "find_package ($target)"
    fi
done

echo "install check: $passed passed, $failed failed"
[ "$failed" = 0 ]
