"""cffi builder for tether._tether_cffi (API mode, out-of-line, compiled).

The extension carries the library itself: every C file of the repository's
src/ is compiled into it, so ``pip install`` needs nothing but a C compiler
and the system's OpenSSL and zlib development files. The declarations come
from include/tether.h through bindings/cffi_decls.py, never by hand.

Where the C sources are found, first match wins:
  1. $TETHER_SOURCE_DIR (a checkout of the repository);
  2. csrc/ next to this file (what an sdist carries, see setup.py);
  3. the parent directory (building from the repository's python/).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent


def source_root() -> Path:
    """The directory holding src/, include/, bindings/ and CMakeLists.txt."""
    candidates = []
    if os.environ.get("TETHER_SOURCE_DIR"):
        candidates.append(Path(os.environ["TETHER_SOURCE_DIR"]))
    candidates += [HERE / "csrc", HERE.parent]
    for c in candidates:
        if (c / "include" / "tether.h").is_file() and (c / "src").is_dir():
            return c.resolve()
    raise RuntimeError(
        "tether's C sources were not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); build from the repository or from an sdist"
    )


def project_version(root: Path) -> tuple[int, int, int]:
    """MAJOR.MINOR.PATCH from CMakeLists.txt's project(tether VERSION ...)."""
    text = (root / "CMakeLists.txt").read_text()
    m = re.search(r"project\s*\(\s*tether\s+VERSION\s+(\d+)\.(\d+)\.(\d+)", text)
    if not m:
        raise RuntimeError("no project(tether VERSION x.y.z) in CMakeLists.txt")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def version_header(root: Path) -> str:
    """tether_version.h as CMake's configure_file would make it."""
    major, minor, patch = project_version(root)
    text = (root / "include" / "tether_version.h.in").read_text()
    values = {
        "PROJECT_VERSION_MAJOR": str(major),
        "PROJECT_VERSION_MINOR": str(minor),
        "PROJECT_VERSION_PATCH": str(patch),
        "PROJECT_VERSION": f"{major}.{minor}.{patch}",
    }
    return re.sub(r"@(\w+)@", lambda m: values[m.group(1)], text)


def load_decls_module(root: Path):
    """bindings/cffi_decls.py of that source tree, imported by path."""
    path = root / "bindings" / "cffi_decls.py"
    spec = importlib.util.spec_from_file_location("tether_cffi_decls", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


# One batch entry, declared once for both the cdef and the C source.
TPY_EVENT = """
typedef struct tpy_event {
    tether_event *ev;
    int type;
    tether_conn *conn;
    void *user;
    const uint8_t *data;
    size_t len;
    int opcode, fin;
} tpy_event;
"""

# Helpers compiled into the extension (plain C, no Python API): they cut the
# number of calls from Python per event from about eight to one.
HELPERS_CDEF = TPY_EVENT + """
int tpy_next_events(tether_ctx *ctx, tpy_event *out, int max, int timeout_ms);
void tpy_release_events(tpy_event *evs, int n);
const char *tpy_cdef_digest(void);
extern "Python" void tpy_log_cb(int level, const char *line, void *user);
"""

HELPERS_C = TPY_EVENT + r"""

/* Up to max events (tether_next_events), each with the fields Python
 * reads filled in: one call from Python per batch instead of about eight
 * per event. Returns the count (0: none in time) or a negative error.
 * Each event must be released. */
static int tpy_next_events(tether_ctx *ctx, tpy_event *out, int max, int timeout_ms) {
    tether_event *evs[64];
    if (max > 64) max = 64;
    int n = tether_next_events(ctx, timeout_ms, evs, (size_t)max);
    for (int i = 0; i < n; i++) {
        tpy_event *e = &out[i];
        e->ev = evs[i];
        e->type = tether_event_type_of(evs[i]);
        e->conn = tether_event_conn(evs[i]);
        e->user = e->conn ? tether_conn_user(e->conn) : NULL;
        e->data = tether_event_data(evs[i], &e->len);
        e->opcode = tether_event_opcode(evs[i]);
        e->fin = tether_event_fin(evs[i]);
    }
    return n;
}

static void tpy_release_events(tpy_event *evs, int n) {
    for (int i = 0; i < n; i++)
        tether_event_release(evs[i].ev);
}
"""


def make_builder() -> FFI:
    root = source_root()
    gen_include = HERE / "build" / "tether-generated-include"
    gen_include.mkdir(parents=True, exist_ok=True)
    vh = version_header(root)
    vpath = gen_include / "tether_version.h"
    if not vpath.exists() or vpath.read_text() != vh:
        vpath.write_text(vh)

    decls = load_decls_module(root)
    cdef = decls.generate((root / "include" / "tether.h").read_text(), vh)
    digest = hashlib.sha256(cdef.encode()).hexdigest()

    # Relative to this file's directory: setuptools refuses absolute paths
    # (they end up in the egg-info manifest).
    # Every folder of src/ is a layer of the library (docs/ARCHITECTURE.md).
    sources = sorted(os.path.relpath(p, HERE) for p in (root / "src").glob("*/*.c"))
    ffi = FFI()
    ffi.cdef(cdef + HELPERS_CDEF)
    ffi.set_source(
        "tether._tether_cffi",
        '#include "tether.h"\n'
        + HELPERS_C
        + f'static const char *tpy_cdef_digest(void) {{ return "{digest}"; }}\n',
        sources=sources,
        include_dirs=[str(root / "include"), str(gen_include), str(root / "src")],
        # Everything hidden but the module's init function: the bundled
        # copy of the library cannot clash with a system libtether.
        define_macros=[("_GNU_SOURCE", None), ("TETHER_NO_VISIBILITY", None)],
        extra_compile_args=["-std=gnu11", "-O2", "-fvisibility=hidden"],
        libraries=["ssl", "crypto", "z", "nghttp2", "pthread"],
    )
    return ffi


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
