"""tether: WebSocket (RFC 6455, RFC 7692) clients and servers for Python,
on the tether C library.

- :mod:`tether.asyncio`: ``connect()`` and ``serve()`` for asyncio;
- :mod:`tether.protocol`: asyncio with callbacks (Protocol/Transport) instead
  of a coroutine per connection, for the most messages per second;
- :mod:`tether.sync`: the same, blocking, with threads;
- :mod:`tether.sansio`: the protocol layer without I/O (frames, handshakes,
  permessage-deflate), for bringing your own transport;
- :mod:`tether.exceptions`: what can go wrong;
- :class:`CloseCode` and the ``CLOSE_*`` constants, :class:`TLSConfig`,
  :class:`Deflate`.

The C library logs through the ``tether`` logger of the :mod:`logging`
module: ``logging.getLogger("tether").setLevel(logging.DEBUG)`` before
connecting (or call :func:`sync_log_level` after changing it).
"""

from __future__ import annotations

from ._native import ffi, lib, sync_log_level
from .constants import *  # noqa: F401,F403
from .constants import CloseCode, Feature, LogLevel, Opcode, Role, TLSFlag
from .exceptions import *  # noqa: F401,F403
from .exceptions import (
    ConcurrencyError, ConnectionClosed, ConnectionClosedError, ConnectionClosedOK,
    ConnectionFailed, InvalidHandshake, InvalidState, InvalidStatus, InvalidURI,
    NameResolutionError, NegotiationError, OpenTimeout, PayloadTooBig, ProtocolError, ProxyError,
    TLSConfigError, TLSError, TLSVerifyError, WebSocketException,
)
from .options import Deflate, TLSConfig
from ._engine import ConnectionStats, State

#: the version of this package and of the C library bundled in it
__version__: str = ffi.string(lib.TETHER_VERSION_STRING).decode()


def library_version() -> str:
    """The version of the C library actually loaded ("MAJOR.MINOR.PATCH")."""
    version: str = ffi.string(lib.tether_version()).decode()
    return version


def features() -> Feature:
    """The optional features (TLS, DEFLATE) the C library was built with."""
    return Feature(lib.tether_features())


__all__ = [
    "__version__", "library_version", "features", "sync_log_level",
    "CloseCode", "Opcode", "Role", "LogLevel", "TLSFlag", "Feature", "TLSConfig", "Deflate",
    "WebSocketException", "ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError",
    "InvalidURI", "InvalidHandshake", "InvalidStatus", "NegotiationError", "OpenTimeout", "ProxyError",
    "ConnectionFailed", "NameResolutionError", "TLSError", "TLSVerifyError", "TLSConfigError",
    "ProtocolError", "PayloadTooBig", "InvalidState", "ConcurrencyError", "ConnectionStats", "State",
    "InvalidMessage", "SecurityError", "InvalidHeader", "InvalidHeaderFormat", "InvalidHeaderValue",
    "InvalidUpgrade", "InvalidOrigin",
]
