"""The cffi declarations are generated from include/tether.h; these tests
fail when the compiled module and the header drift apart."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys

import pytest

from conftest import repo_root
from tether._native import ffi, lib


def _decls_module():
    path = repo_root() / "bindings" / "cffi_decls.py"
    spec = importlib.util.spec_from_file_location("cffi_decls_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _version_header() -> str:
    root = repo_root()
    m = re.search(r"project\s*\(\s*tether\s+VERSION\s+(\d+)\.(\d+)\.(\d+)",
                  (root / "CMakeLists.txt").read_text())
    assert m, "no project(tether VERSION ...) in CMakeLists.txt"
    values = {"PROJECT_VERSION_MAJOR": m.group(1), "PROJECT_VERSION_MINOR": m.group(2),
              "PROJECT_VERSION_PATCH": m.group(3),
              "PROJECT_VERSION": f"{m.group(1)}.{m.group(2)}.{m.group(3)}"}
    text = (root / "include" / "tether_version.h.in").read_text()
    return re.sub(r"@(\w+)@", lambda mm: values[mm.group(1)], text)


def _header() -> str:
    return (repo_root() / "include" / "tether.h").read_text()


def test_module_was_built_from_the_current_header():
    """Regenerate the declarations now and compare with the module's."""
    cdef = _decls_module().generate(_header(), _version_header())
    digest = hashlib.sha256(cdef.encode()).hexdigest()
    built = ffi.string(lib.tpy_cdef_digest()).decode()
    assert built == digest, (
        "the installed tether module was generated from another include/tether.h: "
        "reinstall it (pip install ./python)")


def test_every_api_function_is_reachable():
    names = _decls_module().api_functions(_header())
    assert len(names) > 150  # the scan itself works
    missing = [n for n in names if not callable(getattr(lib, n, None))]
    assert not missing, f"TETHER_API functions missing from the module: {missing}"


def test_generator_keeps_every_function_and_constant():
    mod = _decls_module()
    header = _header()
    cdef = mod.generate(header, _version_header())
    declared = set(re.findall(r"\b(tether_\w+)\s*\(", cdef))
    assert set(mod.api_functions(header)) <= declared
    body = mod.strip_comments(header)
    macros = [m for m in re.findall(r"#[ \t]*define[ \t]+(TETHER_\w+)[ \t]+\S", body)
              if m not in ("TETHER_API",)]
    enumerators = re.findall(r"^\s*(TETHER_[A-Z0-9_]+)\s*(?:=|,|$)", body, re.M)
    for name in macros + enumerators + ["TETHER_VERSION_MAJOR", "TETHER_VERSION_STRING"]:
        assert hasattr(lib, name), name
    assert ffi.string(lib.TETHER_VERSION_STRING).decode() == ffi.string(lib.tether_version()).decode()


def test_generator_refuses_what_it_does_not_understand():
    mod = _decls_module()
    with pytest.raises(ValueError):
        mod.generate("#ifndef G\n#define G\n#warning odd\n#endif\n")
    with pytest.raises(ValueError):
        mod.generate("int f(void)\n")  # a declaration without its ';'
    out = mod.generate("#define X 3u\n#define F(a) a\n/* c */ TETHER_API int tether_f(char o[X + 1]);\n")
    assert "#define X ..." in out and "F" not in out.replace("tether_f", "")
    assert "int tether_f(char *o);" in out


def test_generator_command_line():
    root = repo_root()
    out = subprocess.run([sys.executable, str(root / "bindings" / "cffi_decls.py"),
                          str(root / "include" / "tether.h")], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out == _decls_module().generate(_header())


def test_log_callback_is_extern_python():
    """The log bridge uses extern "Python" (no ffi.callback trampolines)."""
    assert ffi.typeof(lib.tpy_log_cb).kind == "function"
    src = (repo_root() / "python" / "tether" / "_native.py").read_text()
    assert "ffi.callback" not in src and "@ffi.def_extern" in src
