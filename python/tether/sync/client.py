"""Blocking clients: ``connect()``, as ``websockets.sync.client``."""

from __future__ import annotations

import threading
from typing import Any

from .._engine import Response, conn_headers
from .._native import c_str, ffi, lib
from ..exceptions import InvalidURI, OpenTimeout, error_from_code
from ..options import make_opts, split_conn_kw, split_tls
from .connection import CLOSED, CONNECTING, Connection, _IODriver


class ClientConnection(Connection):
    """A client connection, from :func:`connect`."""

    def __init__(self, driver: _IODriver, c: Any, uri: str, **kw: Any) -> None:
        super().__init__(driver, c, **kw)
        self.uri = uri
        self.response: Response | None = None
        self._thread: threading.Thread | None = None

    def _opened_hook(self) -> None:
        c = self._c
        self.response = Response(lib.tether_conn_http_status(c), None, conn_headers(c))

    def _closed_hook(self) -> None:
        self._driver.stopping = True  # the I/O thread ends after this event

    def close(self, code: int = 1000, reason: str = "") -> None:
        super().close(code, reason)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            self._driver.stop()
            t.join(5.0)


def connect(uri: str, **kwargs: Any) -> ClientConnection:
    """Opens a client connection and returns it once open (use it as a
    context manager to close it at the end). Options as for
    :class:`tether.asyncio.connect`. Raises InvalidURI, ConnectionFailed,
    OpenTimeout, InvalidStatus, InvalidHandshake, NegotiationError,
    TLSError..."""
    if not isinstance(uri, str):
        raise TypeError("uri must be a str")
    conn_kw = split_conn_kw(kwargs)
    split_tls(kwargs)
    open_timeout = kwargs.get("open_timeout", 10.0)
    opts = make_opts("client", **kwargs)
    driver = _IODriver()
    out = ffi.new("tether_conn **")
    rc = lib.tether_connect(driver.core.ctx, c_str(uri, "uri"), opts, out)
    if rc < 0:
        driver.free()
        if rc == lib.TETHER_E_INVAL:
            raise InvalidURI(uri)
        raise error_from_code(rc, what=f"connect to {uri}")
    conn = ClientConnection(driver, out[0], uri, **conn_kw)
    t = threading.Thread(target=driver.run, name=f"tether-io {uri}", daemon=True)
    conn._thread = t
    t.start()
    limit = None if not open_timeout else 2 * open_timeout + 5
    with conn._cond:
        ok = conn._cond.wait_for(lambda: conn.state != CONNECTING, limit)
    if not ok:
        conn.close()
        raise OpenTimeout()
    if conn.state == CLOSED and conn._open_exc is not None:
        t.join(5.0)
        raise conn._open_exc
    return conn
