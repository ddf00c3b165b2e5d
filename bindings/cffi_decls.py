#!/usr/bin/env python3
"""Generate cffi declarations (the text given to ``ffibuilder.cdef``) from
include/tether.h, so the Python binding never carries a hand-copied
declaration of the C API.

What it does with the header:

- comments are dropped, and so are the preprocessor blocks that are not
  declarations (the ``__cplusplus`` guards, the ``TETHER_API`` definition,
  ``#include`` lines, the include guard);
- each object-like ``#define NAME value`` becomes ``#define NAME ...``:
  cffi in API mode asks the C compiler for the value, so ``16u * 1024u`` and
  friends need no parsing here; string macros become ``static const char
  *const NAME;`` (also read from the compiler);
- ``TETHER_API`` is removed; enums, typedefs and prototypes are kept as
  written, except that array parameters (``char out[TETHER_KEY_LEN + 1]``)
  become pointers, which is what C makes of them anyway and what cffi's
  parser can read;
- macros from tether_version.h (generated from CMakeLists.txt) are added
  when its path is given.

Usage:
    python3 bindings/cffi_decls.py include/tether.h [tether_version.h]

prints the declarations. ``generate()`` returns them; ``api_functions()``
lists the TETHER_API functions of a header by a separate, simpler scan, so a
test can check that nothing was lost on the way.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["generate", "api_functions", "strip_comments"]

_BLOCK_SKIP = (
    re.compile(r"#\s*ifdef\s+__cplusplus\b"),
    re.compile(r"#\s*if\s+defined\s*\(\s*__GNUC__\s*\)"),
)
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(\(?)\s*(.*)$")
_SKIP_DEFINES = {"TETHER_API"}


def strip_comments(text: str) -> str:
    """Remove C comments (keeping line breaks), leaving string literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated comment")
            out.append("\n" * text.count("\n", i, j))
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").split("\n")


def _split_preprocessor(text: str) -> tuple[list[tuple[str, str]], str]:
    """Returns (defines, C text): the object-like macros and everything that
    is not a preprocessor line, with the skipped blocks removed."""
    defines: list[tuple[str, str]] = []
    body: list[str] = []
    depth_skip = 0  # > 0 while inside a skipped #if block
    nesting = 0  # #if nesting inside a skipped block
    guard: str | None = None
    for line in _logical_lines(text):
        s = line.strip()
        if not s.startswith("#"):
            if not depth_skip:
                body.append(line)
            continue
        directive = re.sub(r"^#\s*", "#", s)
        if depth_skip:
            if re.match(r"#if", directive):
                nesting += 1
            elif directive.startswith("#endif"):
                if nesting:
                    nesting -= 1
                else:
                    depth_skip = 0
            continue
        if any(p.match(directive) for p in _BLOCK_SKIP):
            depth_skip, nesting = 1, 0
            continue
        m = re.match(r"#ifndef\s+(\w+)", directive)
        if m and guard is None:
            guard = m.group(1)  # the include guard: keep what it wraps
            continue
        if directive.startswith(("#include", "#endif", "#else", "#elif", "#if", "#pragma")):
            continue
        m = _DEFINE.match(directive)
        if m:
            name, paren, value = m.groups()
            if name == guard or name in _SKIP_DEFINES or paren:
                continue  # function-like macros have no place in cdef
            defines.append((name, value.strip()))
            continue
        raise ValueError(f"unexpected preprocessor line: {s}")
    return defines, "\n".join(body)


def _split_declarations(text: str) -> list[str]:
    """Top-level declarations, each ending with ';' (brace depth 0)."""
    decls, cur, depth = [], [], 0
    for c in text:
        cur.append(c)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == ";" and depth == 0:
            decls.append("".join(cur))
            cur = []
    rest = "".join(cur).strip()
    # What C++ guards leave behind was removed with them; anything else is
    # a declaration without ';', which the header would not compile with.
    if rest:
        raise ValueError(f"trailing text in header: {rest[:60]!r}")
    return decls


_ARRAY_PARAM = re.compile(r"(\w+)\s*\[[^\]]*\]")


def _fix_params(decl: str) -> str:
    """Array parameters of a prototype become pointers."""
    if "(" not in decl or decl.lstrip().startswith(("enum", "typedef enum", "struct")):
        return decl
    head, _, params = decl.partition("(")
    return head + "(" + _ARRAY_PARAM.sub(r"*\1", params)


def _normalize(decl: str) -> str:
    decl = re.sub(r"\bTETHER_API\b", "", decl)
    if "{" in decl:  # enums: one enumerator per line, as written
        head, _, rest = decl.partition("{")
        inner, _, tail = rest.rpartition("}")
        items = [re.sub(r"\s+", " ", i).strip() for i in inner.split(",")]
        items = [i for i in items if i]
        head = re.sub(r"\s+", " ", head).strip()
        tail = re.sub(r"\s+", " ", tail).strip()
        body = ",\n".join("    " + i for i in items)
        return f"{head} {{\n{body}\n}}{(' ' + tail) if tail and tail != ';' else ''};".replace(
            " ;;", ";"
        ).replace(";;", ";")
    decl = re.sub(r"\s+", " ", decl).strip()
    decl = re.sub(r"\(\s+", "(", decl)
    decl = re.sub(r"\s+\)", ")", decl)
    decl = re.sub(r"\s*,\s*", ", ", decl)
    return _fix_params(decl)


def _define_decl(name: str, value: str) -> str:
    if value.startswith('"'):
        return f"static const char *const {name};"
    return f"#define {name} ..."


def generate(header: str, version_header: str | None = None) -> str:
    """The cdef text for a header's contents (and tether_version.h's)."""
    lines = ["/* Generated by bindings/cffi_decls.py from include/tether.h: do not edit. */"]
    if version_header is not None:
        vdefs, vbody = _split_preprocessor(strip_comments(version_header))
        if vbody.strip():
            raise ValueError("tether_version.h holds more than macros")
        lines += [_define_decl(n, v) for n, v in vdefs]
    defines, body = _split_preprocessor(strip_comments(header))
    lines += [_define_decl(n, v) for n, v in defines]
    lines += [_normalize(d) for d in _split_declarations(body)]
    return "\n".join(lines) + "\n"


_API_FUNC = re.compile(r"\bTETHER_API\b[^;()]*?\b(tether_\w+)\s*\(")


def api_functions(header: str) -> list[str]:
    """Names of the functions the header declares with TETHER_API."""
    return sorted(set(_API_FUNC.findall(strip_comments(header))))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[-2], file=sys.stderr)
        return 2
    header = Path(argv[1]).read_text()
    version = Path(argv[2]).read_text() if len(argv) == 3 else None
    sys.stdout.write(generate(header, version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
