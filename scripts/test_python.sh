#!/usr/bin/env bash
# The Python package's test run: installs what it needs, builds the package
# the ways a user would, type-checks its sources, runs the README's examples
# and the pytest suite.
#
#   scripts/test_python.sh [BUILD_DIR]      (default: build/python)
#
# 1. apt-get installs the compiler, development packages and the proxies
#    the proxy tests talk to (tinyproxy, microsocks) if missing
#    (root only; otherwise they must be there);
# 2. a fresh venv in BUILD_DIR/venv with pinned cffi, setuptools, wheel,
#    build, pytest, mypy and websockets from the registry;
# 3. `pip install ./python` and `pip wheel ./python` (each compiles the C
#    library into the cffi extension), an sdist, and a wheel built from that
#    sdist alone (away from the repository: it must carry the C sources);
# 4. `mypy --strict` on the package's sources (python/tether), every
#    ```python example of python/README.md, then pytest on python/tests
#    against the installed package.
# It ends with `python: N passed, M failed` (mypy counts as one check) and
# exits non-zero on any failure (pytest's "no tests collected" counts as
# one). Bounded: the pytest run is capped at 10 minutes (it takes about
# 20 s here).
set -euo pipefail

WEBSOCKETS_VERSION=17.4
PYTEST_VERSION=9.2.0
CFFI_VERSION=2.1.1
SETUPTOOLS_VERSION=84.2.1
WHEEL_VERSION=0.48.0
MYPY_VERSION=2.4.1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build/python}
mkdir -p "$B"
B=$(cd "$B" && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

# ---- 1. system packages ------------------------------------------------------
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential libssl-dev zlib1g-dev python3-dev python3-venv openssl tinyproxy-bin microsocks; do
    have_pkg "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== apt-get install ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "note: missing packages (not root, not installing): ${need[*]}" >&2
    fi
fi

# ---- 2. venv -----------------------------------------------------------------
PY=${PYTHON:-python3}
rm -rf "$B/venv" "$B/wheels" "$B/sdist" "$B/sdist-wheel"
echo "== venv in $B/venv ($($PY --version))"
$PY -m venv "$B/venv"
V="$B/venv/bin"
"$V/pip" install -q "cffi==$CFFI_VERSION" "setuptools==$SETUPTOOLS_VERSION" \
    "wheel==$WHEEL_VERSION" build "pytest==$PYTEST_VERSION" "mypy==$MYPY_VERSION" \
    "websockets==$WEBSOCKETS_VERSION"

# ---- 3. build and install ------------------------------------------------------
# Build trees go to BUILD_DIR, not python/ (setuptools' in-tree build/ and
# egg-info stay out of the repository as far as pip allows).
echo "== pip install ./python"
(cd "$B" && "$V/pip" install -q "$ROOT/python")
echo "== pip wheel ./python"
(cd "$B" && "$V/pip" wheel -q --no-deps -w "$B/wheels" "$ROOT/python")
ls "$B"/wheels/tether-*.whl >/dev/null
# one wheel for every CPython >= 3.9: tagged abi3, as its extension is
ls "$B"/wheels/tether-*-cp39-abi3-linux_*.whl >/dev/null || {
    echo "python: the wheel is not tagged abi3: $(ls "$B"/wheels)"; exit 1; }
echo "== sdist, and a wheel from the sdist alone"
(cd "$ROOT/python" && "$V/python" -m build --sdist --no-isolation -o "$B/sdist" . >/dev/null 2>&1)
sdist=$(ls "$B"/sdist/tether-*.tar.gz)
listing=$(tar -tzf "$sdist")
case "$listing" in
*csrc/src/api/ctx.c*) ;;
*) echo "sdist lacks the C sources" >&2; exit 1 ;;
esac
(cd /tmp && "$V/pip" wheel -q --no-deps -w "$B/sdist-wheel" "$sdist")
ls "$B"/sdist-wheel/tether-*.whl >/dev/null

where=$(cd "$B" && "$V/python" -c 'import tether; print(tether.__file__)')
case "$where" in
"$B/venv/"*) ;;
*) echo "tether imported from $where, not the venv" >&2; exit 1 ;;
esac

# ---- 4. mypy, README examples and pytest ---------------------------------------------
export TETHER_SOURCE_DIR="$ROOT"
# The package's sources type-check cleanly under --strict (its cache goes
# to BUILD_DIR, not python/).
echo "== mypy --strict python/tether"
ty_pass=0
ty_fail=0
if (cd "$B" && "$V/python" -m mypy --strict --cache-dir "$B/mypy-cache" \
        "$ROOT/python/tether" >"$B/mypy.out" 2>&1); then
    ty_pass=1
    echo "mypy: $(tail -n 1 "$B/mypy.out")"
else
    ty_fail=1
    echo "mypy: FAILED" >&2
    cat "$B/mypy.out" >&2
fi
ex_pass=0
ex_fail=0
mkdir -p "$B/examples"
rm -f "$B"/examples/example_*.py
(cd "$B/examples" && "$V/python" - "$ROOT/python/README.md" <<'EOF'
import re, sys
blocks = re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)
for i, code in enumerate(blocks):
    open(f"example_{i}.py", "w").write(code)
EOF
)
for ex in "$B"/examples/example_*.py; do
    if (cd "$B/examples" && timeout 60 "$V/python" "$ex" >"$ex.out" 2>&1); then
        ex_pass=$((ex_pass + 1))
        echo "README $(basename "$ex"): ok"
    else
        ex_fail=$((ex_fail + 1))
        echo "README $(basename "$ex"): FAILED" >&2
        cat "$ex.out" >&2
    fi
done

echo "== pytest python/tests"
set +e
(cd "$B" && timeout 600 "$V/python" -m pytest -q -p no:cacheprovider \
    --junitxml="$B/pytest.xml" "$ROOT/python/tests")
rc=$?
set -e
read -r t_pass t_fail < <("$V/python" - "$B/pytest.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
EOF
)
if [ "$rc" -ne 0 ] && [ "$t_fail" -eq 0 ]; then
    t_fail=1 # no test collected (exit 5), a crash, or the time limit
fi
passed=$((ty_pass + ex_pass + t_pass))
failed=$((ty_fail + ex_fail + t_fail))
echo "python: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
