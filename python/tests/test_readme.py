"""Every ```python block of python/README.md runs, and prints what its
comments say it prints (``print(...)  # expected``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import PKG, repo_root

README = PKG / "README.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def expected_lines(code: str) -> list[str]:
    """Expected output from `print(...)  # text` comments, in order."""
    out = []
    for line in code.splitlines():
        m = re.match(r"\s*print\(.*\)\s+#\s*(.+)$", line)
        if m:
            out.append(m.group(1).strip())
    return out


def test_readme_has_examples():
    assert len(blocks()) >= 5


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_example_runs(index, tmp_path):
    code = blocks()[index]
    script = tmp_path / f"example_{index}.py"
    script.write_text(code)
    env = dict(os.environ, TETHER_SOURCE_DIR=str(repo_root()))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    got = [line.strip() for line in res.stdout.splitlines()]
    want = expected_lines(code)
    # Lines whose value varies (timings) are checked by their start only.
    it = iter(got)
    for w in want:
        for g in it:
            if g == w or (w.startswith("round trip") and g.startswith("round trip")):
                break
        else:
            pytest.fail(f"expected {w!r} in the output:\n{res.stdout}")
