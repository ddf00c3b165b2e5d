#!/usr/bin/env python3
"""Checks that no two files of a src/ folder call each other, directly or
through other files of the folder (docs/ARCHITECTURE.md, "Layers"): the
files of a folder form a hierarchy, so each can be read knowing only the
files below it. A call is a use of a non-static function defined in
another .c file of the same folder. Run by scripts/layers.sh."""
import pathlib
import re
import sys

DEF = re.compile(r"^(?!static\b)[A-Za-z_][\w \*]*?\b((?:tt|tether)_\w+)\s*\([^;{]*?\)\s*\{", re.M)
NAME = re.compile(r"\b((?:tt|tether)_\w+)\b")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def cycles(folder):
    files = sorted(folder.glob("*.c"))
    text = {f: strip_comments(f.read_text()) for f in files}
    owner = {}
    for f in files:
        for m in DEF.finditer(text[f]):
            owner.setdefault(m.group(1), f)
    calls = {f: {} for f in files}
    for f in files:
        for name in set(NAME.findall(text[f])):
            g = owner.get(name)
            if g and g != f:
                calls[f].setdefault(g, []).append(name)
    # Tarjan's strongly connected components.
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in calls[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append((comp, calls))

    for v in files:
        if v not in index:
            visit(v)
    return found


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    bad = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for comp, calls in cycles(folder):
            bad = 1
            names = sorted(f.name for f in comp)
            print(f"layers: files of {folder} call each other: {' '.join(names)}")
            for a in comp:
                for b, fns in sorted(calls[a].items()):
                    if b in comp:
                        print(f"  {a.name} -> {b.name}: {' '.join(sorted(fns))}")
    if not bad:
        print(f"layers: no two files of a {root}/ folder call each other")
    return bad


if __name__ == "__main__":
    sys.exit(main())
