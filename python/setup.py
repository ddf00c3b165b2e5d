"""Build of the tether Python package.

``pip install ./python`` (or ``pip wheel ./python``) compiles the cffi
extension tether._tether_cffi with the library's C sources inside it (see
tether_build.py). An sdist (``python -m build --sdist python``) carries those
sources under csrc/, so it builds away from the repository too.
"""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.sdist import sdist as _sdist

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tether_build  # noqa: E402  (the cffi builder, next to this file)

ROOT = tether_build.source_root()
VERSION = "%d.%d.%d" % tether_build.project_version(ROOT)


class build_ext(_build_ext):
    """Compiles the extension's C files in parallel (the library is some
    sixty files; setuptools would compile them one by one)."""

    def finalize_options(self):
        super().finalize_options()
        # Always recompile: setuptools only compares a .c file's time with
        # its object's, so a changed header (src/*/*.h) would leave stale
        # objects behind in an in-tree build/ directory.
        self.force = True

    def build_extensions(self):
        compiler = self.compiler
        serial = compiler.compile
        jobs = int(os.environ.get("TETHER_BUILD_JOBS", "0")) or (os.cpu_count() or 1)

        def compile_parallel(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                             extra_preargs=None, extra_postargs=None, depends=None):
            try:
                macros, objects, extra, pp_opts, build = compiler._setup_compile(
                    output_dir, macros, include_dirs, sources, depends, extra_postargs)
                cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
            except AttributeError:  # a compiler class without these hooks
                return serial(sources, output_dir, macros, include_dirs, debug,
                              extra_preargs, extra_postargs, depends)

            def one(obj):
                src, ext = build[obj]
                compiler._compile(obj, src, ext, cc_args, extra, pp_opts)

            with ThreadPoolExecutor(max(1, jobs)) as pool:
                for _ in pool.map(one, [o for o in objects if o in build]):
                    pass
            return objects

        compiler.compile = compile_parallel
        try:
            super().build_extensions()
        finally:
            compiler.compile = serial


class sdist(_sdist):
    """Puts the C library (src/, include/, bindings/cffi_decls.py and
    CMakeLists.txt for the version) under csrc/ in the sdist."""

    def make_release_tree(self, base_dir, files):
        # The extension's sources are paths into the repository (../src):
        # they travel under csrc/ instead.
        files = [f for f in files if not os.path.isabs(f) and not f.startswith("..")]
        super().make_release_tree(base_dir, files)
        dest = Path(base_dir) / "csrc"
        if dest.exists():
            shutil.rmtree(dest)
        for sub in ("src", "include"):
            shutil.copytree(ROOT / sub, dest / sub,
                            ignore=shutil.ignore_patterns("*.o", "__pycache__"))
        (dest / "bindings").mkdir(parents=True)
        shutil.copy2(ROOT / "bindings" / "cffi_decls.py", dest / "bindings")
        shutil.copy2(ROOT / "CMakeLists.txt", dest / "CMakeLists.txt")


setup(
    version=VERSION,
    cffi_modules=["tether_build.py:ffibuilder"],
    cmdclass={"build_ext": build_ext, "sdist": sdist},
    # The extension uses only the stable ABI (cffi builds it so: .abi3.so),
    # so one wheel serves every CPython from 3.9 on: say so in its tag.
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
    zip_safe=False,
)
