"""Exceptions, shaped like those of the ``websockets`` library.

::

    WebSocketException
    ├── ConnectionClosed(code, reason)
    │   ├── ConnectionClosedOK        1000 / 1001 / no status, closing handshake done
    │   └── ConnectionClosedError     anything else (1006, 1002, 1009, 1011...)
    ├── InvalidURI(uri, msg)
    ├── InvalidHandshake
    │   ├── InvalidStatus(status, headers)   the server answered, not with 101
    │   └── NegotiationError                 sub-protocol or extension refused
    ├── OpenTimeout                          (also a TimeoutError)
    ├── ConnectionFailed                     (also a ConnectionError: refused, DNS)
    │   └── NameResolutionError
    ├── TLSError
    │   ├── TLSVerifyError                   certificate refused
    │   └── TLSConfigError                   certificate, key or CA not loadable
    ├── ProtocolError                        sans-I/O: the peer broke RFC 6455/7692
    │   └── PayloadTooBig
    ├── InvalidState                         the call does not fit the state
    └── ConcurrencyError                     two readers at once

Every exception raised for a C error carries ``error`` (the negative
``TETHER_E_*`` code), ``error_name`` (``"TETHER_E_TIMEOUT"``) and a message
made of the C library's own words (``tether_strerror()`` and the
connection's ``tether_conn_error_text()``).
"""

from __future__ import annotations

from typing import Mapping, cast

from ._native import ffi, lib

__all__ = [
    "WebSocketException", "ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError",
    "InvalidURI", "InvalidHandshake", "InvalidStatus", "NegotiationError", "OpenTimeout", "ProxyError",
    "InvalidMessage", "SecurityError", "InvalidHeader", "InvalidHeaderFormat", "InvalidHeaderValue",
    "InvalidUpgrade", "InvalidOrigin",
    "ConnectionFailed", "NameResolutionError", "TLSError", "TLSVerifyError", "TLSConfigError",
    "ProtocolError", "PayloadTooBig", "InvalidState", "ConcurrencyError",
    "error_name", "strerror", "error_from_code",
]

_ERROR_NAMES = {
    getattr(lib, n): n for n in dir(lib) if n.startswith("TETHER_E_") or n == "TETHER_OK"
}


def error_name(code: int) -> str:
    """``"TETHER_E_TIMEOUT"`` for -11; ``"TETHER_E_<code>"`` if unknown."""
    return _ERROR_NAMES.get(code, f"TETHER_E_{code}")


def strerror(code: int) -> str:
    """The C library's description of an error code."""
    return cast(str, ffi.string(lib.tether_strerror(code)).decode())


class WebSocketException(Exception):
    """Base of every exception of this package."""

    #: the C error code (negative ``TETHER_E_*``), or 0 when there is none
    error: int = 0

    @property
    def error_name(self) -> str | None:
        """The name of :attr:`error`, or None."""
        return error_name(self.error) if self.error else None


class ConnectionClosed(WebSocketException):
    """The connection is closed: raised by recv/send after the end.

    ``code`` and ``reason`` are the close code and reason (the peer's, ours
    if we ended it, 1006 when no close frame was exchanged); ``clean`` says
    whether the closing handshake completed; ``error`` is the C error code
    that ended it (0 for a clean close)."""

    def __init__(self, code: int, reason: str = "", *, clean: bool = True, error: int = 0,
                 text: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.clean = clean
        self.error = error
        self.text = text
        super().__init__(code, reason)

    def __str__(self) -> str:
        from .constants import CloseCode

        try:
            name = CloseCode(self.code).name
        except ValueError:
            name = "private" if 3000 <= self.code <= 4999 else "unknown"
        s = f"{self.code} ({name})"
        if self.reason:
            s += f" {self.reason}"
        if self.error:
            s += f" [{error_name(self.error)}: {self.text or strerror(self.error)}]"
        return s

    @property
    def rcvd(self) -> tuple[int, str]:
        """(code, reason), for code written against websockets' attributes."""
        return self.code, self.reason


class ConnectionClosedOK(ConnectionClosed):
    """Closed cleanly with 1000, 1001 or no status code."""


class ConnectionClosedError(ConnectionClosed):
    """Closed with an error code, or without a closing handshake."""


class InvalidURI(WebSocketException, ValueError):
    """The URI is not a valid ws:// or wss:// URI."""

    def __init__(self, uri: str, msg: str = "not a valid WebSocket URI") -> None:
        self.uri = uri
        self.msg = msg
        self.error = lib.TETHER_E_INVAL
        super().__init__(f"{uri!r}: {msg}")


class InvalidHandshake(WebSocketException):
    """The opening handshake failed."""

    def __init__(self, msg: str, *, error: int = 0) -> None:
        self.error = error
        super().__init__(msg)


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with another status than 101.

    ``headers`` holds the response's headers that could be read."""

    def __init__(self, status: int, headers: Mapping[str, str] | None = None,
                 msg: str | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        super().__init__(msg or f"server rejected WebSocket connection: HTTP {status}",
                         error=lib.TETHER_E_HS_STATUS)

    @property
    def response(self) -> "InvalidStatus":
        """websockets compatibility: ``exc.response.status_code``."""
        return self

    @property
    def status_code(self) -> int:
        return self.status


class ProxyError(InvalidHandshake):
    """The proxy refused the tunnel; the message is its answer ("HTTP 407
    Proxy Authentication Required from the proxy", "SOCKS5 proxy:
    connection refused (reply 5)"), as websockets' ProxyError."""


class NegotiationError(InvalidHandshake):
    """A sub-protocol or extension could not be agreed on."""


class InvalidMessage(InvalidHandshake):
    """The other side's handshake was not a valid HTTP/1.1 message."""


class SecurityError(InvalidHandshake):
    """The handshake went over a limit (header bytes or count)."""


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing or wrong: ``name`` says which, and
    ``value`` what came (None when it is missing or was not kept)."""

    def __init__(self, msg: str, *, error: int = 0, name: str | None = None,
                 value: str | None = None) -> None:
        self.name = name
        self.value = value
        super().__init__(msg, error=error)


class InvalidHeaderFormat(InvalidHeader):
    """A handshake header could not be parsed."""


class InvalidHeaderValue(InvalidHeader):
    """A handshake header has a value it may not have (a wrong
    Sec-WebSocket-Accept, an unsupported Sec-WebSocket-Version...)."""


class InvalidUpgrade(InvalidHeader):
    """The Upgrade: websocket or Connection: Upgrade header is missing."""


class InvalidOrigin(InvalidHeader):
    """The Origin header is not among a server's ``origins`` (the server
    answers 403; a client sees InvalidStatus)."""


class OpenTimeout(WebSocketException, TimeoutError):
    """The connection did not open in time (TCP connect or handshake)."""

    def __init__(self, msg: str = "timed out while opening the connection") -> None:
        self.error = lib.TETHER_E_TIMEOUT
        super().__init__(msg)


class ConnectionFailed(WebSocketException, ConnectionError):
    """The TCP connection could not be made, or broke before the WebSocket
    opened. ``errno`` is the operating system's reason when it gave one
    (``errno.ECONNREFUSED``...), as on the OSError that websockets raises."""

    def __init__(self, msg: str, *, error: int = 0, os_error: int = 0) -> None:
        self.error = error
        if os_error:
            super().__init__(os_error, msg)
        else:
            super().__init__(msg)

    def __str__(self) -> str:
        return str(self.strerror) if self.errno else super().__str__()


class NameResolutionError(ConnectionFailed):
    """The host name could not be resolved."""


class TLSError(WebSocketException):
    """A TLS handshake or record failure."""

    def __init__(self, msg: str, *, error: int = 0) -> None:
        self.error = error or lib.TETHER_E_TLS
        super().__init__(msg)


class TLSVerifyError(TLSError):
    """The peer's certificate was refused; the message says why."""


class TLSConfigError(TLSError, ValueError):
    """A certificate, key or CA file could not be loaded."""


class ProtocolError(WebSocketException):
    """Received data broke RFC 6455 / RFC 7692 (sans-I/O layer).

    ``close_code`` is the code to close the connection with."""

    def __init__(self, msg: str, *, error: int = 0) -> None:
        self.error = error
        self.close_code = lib.tether_error_close_code(error) if error else 1002
        super().__init__(msg)


class PayloadTooBig(ProtocolError):
    """A frame or message exceeds the configured limit (1009)."""


class InvalidState(WebSocketException):
    """The operation does not fit the state of the object."""

    def __init__(self, msg: str, *, error: int = 0) -> None:
        self.error = error or lib.TETHER_E_STATE
        super().__init__(msg)


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two coroutines or threads read the same connection at once."""


_HS_NEGOTIATION = {lib.TETHER_E_HS_PROTOCOL, lib.TETHER_E_HS_EXTENSION}
# header errors: websockets' class and the header's name
_HS_HEADER: dict[int, tuple[type[InvalidHeader], str]] = {
    lib.TETHER_E_HS_UPGRADE: (InvalidUpgrade, "Upgrade"),
    lib.TETHER_E_HS_ACCEPT: (InvalidHeaderValue, "Sec-WebSocket-Accept"),
    lib.TETHER_E_HS_VERSION: (InvalidHeaderValue, "Sec-WebSocket-Version"),
    lib.TETHER_E_HS_KEY: (InvalidHeaderValue, "Sec-WebSocket-Key"),
}
_PROTOCOL = set(range(lib.TETHER_E_INFLATE, lib.TETHER_E_RSV + 1))
_TOO_BIG = {lib.TETHER_E_FRAME_TOO_BIG, lib.TETHER_E_MESSAGE_TOO_BIG}


def error_from_code(code: int, text: str | None = None, *, what: str = "",
                    status: int = 0, headers: Mapping[str, str] | None = None,
                    os_error: int = 0) -> Exception:
    """The exception for a C error code. ``text`` is the C library's
    explanation when it has one (tether_conn_error_text()), ``what`` the
    operation that failed, ``status``/``headers`` a refused upgrade's."""
    base = strerror(code)
    msg = text if text else base
    if text and base not in text:
        msg = f"{base}: {text}"
    if what:
        msg = f"{what}: {msg}"
    if code == lib.TETHER_E_HS_STATUS:
        return InvalidStatus(status, headers, f"server rejected WebSocket connection: HTTP {status}"
                             + (f" ({text})" if text else ""))
    if code == lib.TETHER_E_PROXY:
        return ProxyError(text or base, error=code)
    if code in _HS_NEGOTIATION:
        return NegotiationError(msg, error=code)
    if code in _HS_HEADER:
        cls, name = _HS_HEADER[code]
        return cls(msg, error=code, name=name)
    if code in (lib.TETHER_E_HS_MALFORMED, lib.TETHER_E_HS_METHOD, lib.TETHER_E_HS_HTTP_VERSION):
        return InvalidMessage(msg, error=code)
    if code == lib.TETHER_E_HS_TOO_BIG:
        return SecurityError(msg, error=code)
    if code <= lib.TETHER_E_HS_MALFORMED and code >= lib.TETHER_E_HS_HTTP_VERSION:
        return InvalidHandshake(msg, error=code)
    if code in _TOO_BIG:
        return PayloadTooBig(msg, error=code)
    if code in _PROTOCOL:
        return ProtocolError(msg, error=code)
    if code == lib.TETHER_E_TIMEOUT:
        return OpenTimeout(msg)
    if code == lib.TETHER_E_DNS:
        return NameResolutionError(msg, error=code)
    if code in (lib.TETHER_E_CONNECT, lib.TETHER_E_IO, lib.TETHER_E_CLOSED):
        return ConnectionFailed(msg, error=code, os_error=os_error)
    if code == lib.TETHER_E_TLS_VERIFY:
        return TLSVerifyError(msg, error=code)
    if code == lib.TETHER_E_TLS_CONFIG:
        return TLSConfigError(msg, error=code)
    if code == lib.TETHER_E_TLS:
        return TLSError(msg, error=code)
    if code == lib.TETHER_E_STATE:
        return InvalidState(msg, error=code)
    if code == lib.TETHER_E_NOMEM:
        return MemoryError(msg)
    if code == lib.TETHER_E_INVAL:
        e = ValueError(msg)
        return e
    if code == lib.TETHER_E_UNSUPPORTED:
        e2 = NotImplementedError(msg)
        return e2
    exc = WebSocketException(msg)
    exc.error = code
    return exc
