"""The compiled layer (cffi, API mode) and the bridge from the C library's
log to the ``logging`` module.

``ffi`` and ``lib`` give the whole C API of include/tether.h, as generated
by bindings/cffi_decls.py. The rest of the package is built on them.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from ._tether_cffi import ffi, lib  # type: ignore[import-not-found]

__all__ = ["ffi", "lib", "logger", "sync_log_level", "c_str", "check"]

logger = logging.getLogger("tether")
# As a library should: nothing printed unless the program configures
# logging (without a handler, Python's last resort writes WARNING lines to
# stderr).
logger.addHandler(logging.NullHandler())

# C level -> logging level.
_TO_LOGGING = {
    lib.TETHER_LOG_ERROR: logging.ERROR,
    lib.TETHER_LOG_WARN: logging.WARNING,
    lib.TETHER_LOG_NOTICE: logging.INFO,
    lib.TETHER_LOG_INFO: logging.INFO,
    lib.TETHER_LOG_DEBUG: logging.DEBUG,
}


# Called by C, on the thread running the context. (The ignore: ffi comes from
# the compiled module, which has no stubs, so its decorator is untyped.)
@ffi.def_extern()  # type: ignore[untyped-decorator]
def tpy_log_cb(level: int, line: Any, user: Any) -> None:
    try:
        logger.log(_TO_LOGGING.get(level, logging.DEBUG), "%s",
                   ffi.string(line).decode("utf-8", "replace"))
    except Exception:  # never let an exception cross into C
        pass


def _c_level_for(py_level: int) -> int:
    if py_level <= logging.DEBUG:
        return int(lib.TETHER_LOG_DEBUG)
    if py_level <= logging.INFO:
        return int(lib.TETHER_LOG_INFO)
    if py_level <= logging.WARNING:
        return int(lib.TETHER_LOG_WARN)
    if py_level <= logging.ERROR:
        return int(lib.TETHER_LOG_ERROR)
    return int(lib.TETHER_LOG_NONE)


_current_c_level: int | None = None


def sync_log_level() -> None:
    """Makes the C library's process-wide log level follow the effective
    level of the ``tether`` logger (called whenever a context starts; call
    it yourself after changing the logger's level to apply it at once)."""
    global _current_c_level
    level = _c_level_for(logger.getEffectiveLevel())
    if level != _current_c_level:
        lib.tether_set_log_level(level)
        _current_c_level = level


lib.tether_set_log_callback(lib.tpy_log_cb, ffi.NULL)
sync_log_level()


def c_str(value: str | bytes | None, what: str = "value") -> Any:
    """A NUL-terminated char * for a str (UTF-8) or bytes, or NULL."""
    if value is None:
        return ffi.NULL
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise ValueError(f"{what} must not contain NUL")
    return ffi.new("char[]", bytes(value))


def py_str(p: Any) -> str | None:
    """A Python str from a char * (None for NULL)."""
    if p == ffi.NULL:
        return None
    return cast(str, ffi.string(p).decode("utf-8", "replace"))


def check(rc: int, what: str = "") -> int:
    """Raises the exception matching a negative C return code."""
    if rc < 0:
        from .exceptions import error_from_code

        raise error_from_code(rc, what=what)
    return rc
