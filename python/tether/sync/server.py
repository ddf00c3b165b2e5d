"""Blocking servers: ``serve()``, as ``websockets.sync.server``."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Sequence

from .._engine import (
    HTTPConnection, ListenerSockets, Request, Response, address_tuple, answer_http, conn_request,
    decide_request, logger,
)
from .._native import c_str, ffi, lib
from ..exceptions import ConnectionClosed, error_from_code
from ..options import make_opts, split_conn_kw, split_tls
from .connection import CONNECTING, OPEN, Connection, _IODriver


class ServerConnection(Connection):
    """A connection accepted by a :class:`Server`; handlers receive it."""

    def __init__(self, server: "Server", c: Any, **kw: Any) -> None:
        super().__init__(server._driver, c, **kw)
        self.server = server
        self.request: Request = conn_request(c)
        self._remote_address = address_tuple(self.request.peer)
        self._thread: threading.Thread | None = None

    def respond(self, status: int, text: str = "") -> Response:
        """A response refusing the upgrade, for ``process_request``."""
        return Response(status, text)

    def _opened_hook(self) -> None:
        self._thread = threading.Thread(target=self.server._run_handler, args=(self,),
                                        name=f"tether handler {self.conn_id}", daemon=True)
        self._thread.start()

    def _closed_hook(self) -> None:
        self.server._conn_closed(self)


class Server(ListenerSockets):
    """A blocking WebSocket server (from :func:`serve`): ``serve_forever()``
    drives it on the calling thread until ``shutdown()`` is called from
    another thread (or a handler)."""

    def __init__(self, handler: Callable[[ServerConnection], Any], host: str, port: int, *,
                 process_request: Callable[..., Any] | None = None,
                 process_response: Callable[..., Any] | None = None,
                 select_subprotocol: Callable[..., Any] | None = None,
                 origins: Sequence[Any] | None = None, **kwargs: Any) -> None:
        self.handler = handler
        self.host = host
        self.process_request = process_request
        self.process_response = process_response
        self.select_subprotocol = select_subprotocol
        #: allowed Origin header values (str, re.Pattern, None for none sent)
        self.origins = origins
        self._conn_kw = split_conn_kw(kwargs)
        split_tls(kwargs)
        self._opts = make_opts("server", **kwargs)
        if process_request is not None or process_response is not None:
            lib.tether_opts_set_http(self._opts, 1)  # plain requests reach the hooks
        self._driver = _IODriver(on_request=self._on_request, on_http=self._on_http)
        self._conns: set[ServerConnection] = set()
        self._lock = threading.Lock()
        self._shutdown = False
        self._serving = False
        self._finished = threading.Event()
        self._deadline = 0.0
        out = ffi.new("tether_listener **")
        rc = lib.tether_listen(self._driver.core.ctx, c_str(host, "host"), int(port), self._opts,
                               out)
        why = ffi.errno  # the OS's reason (EADDRINUSE...), before another C call
        if rc < 0:
            self._driver.free()
            if rc == lib.TETHER_E_IO:
                raise OSError(why, f"{os.strerror(why)} ({host}:{port})")
            raise error_from_code(rc, what=f"listen on {host}:{port}")
        self._listener = out[0]
        self.port: int = lib.tether_listener_port(self._listener)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _on_request(self, c: Any) -> None:
        conn = ServerConnection(self, c, **self._conn_kw)
        with self._lock:
            self._conns.add(conn)
        if self._shutdown:
            lib.tether_conn_reject(c, 503, ffi.NULL)
            return
        decide_request(c, conn, self.process_request, self.select_subprotocol,
                       self.process_response, origins=self.origins)

    def _on_http(self, c: Any) -> None:
        answer_http(c, HTTPConnection(self, c), self.process_request, self.process_response)

    def _run_handler(self, conn: ServerConnection) -> None:
        try:
            self.handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            conn.logger.exception("connection handler failed")
            conn.close(1011, "")
            return
        conn.close(1000, "")

    def _conn_closed(self, conn: ServerConnection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _begin_shutdown(self) -> None:
        if self._listener != ffi.NULL:
            self._close_sockets()
            lib.tether_listener_close(self._listener)
            self._listener = ffi.NULL
        empty = ffi.new("char[]", b"")
        for conn in list(self._conns):
            if conn._c is not None and conn.state in (OPEN, CONNECTING):
                lib.tether_conn_close(conn._c, 1001, empty)

    def serve_forever(self) -> None:
        """Accepts and serves connections on this thread until
        :meth:`shutdown`; then closes the open ones (1001) and returns once
        they are closed (at most about the close timeout)."""
        if self._serving:
            raise RuntimeError("serve_forever() is already running")
        self._serving = True
        driver = self._driver
        try:
            driver.run(until=self._done)
        finally:
            self._serving = False
            self._finished.set()

    def shutdown(self) -> None:
        """Stops the server (from any thread, a handler included): no new
        connections; open ones are closed with 1001, and serve_forever()
        returns once they are closed (bounded by the close timeout)."""
        if self._shutdown:
            return
        if not self._serving and self._driver.ident is None:
            self._shutdown = True
            self._close_now()
            return
        limit = (self._conn_kw.get("close_timeout") or 10.0) + 2

        def begin() -> None:
            self._begin_shutdown()
            self._deadline = time.monotonic() + limit
            self._shutdown = True
            self._driver.poll_ms = 100

        if not self._driver.call(begin):
            return
        if threading.get_ident() != self._driver.ident and self._serving:
            self._finished.wait(limit + 5)

    def _done(self) -> bool:
        return self._shutdown and (not self._conns or time.monotonic() > self._deadline)

    def _close_now(self) -> None:
        if self._listener != ffi.NULL:
            self._close_sockets()
            lib.tether_listener_close(self._listener)
            self._listener = ffi.NULL
        self._driver.free()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


def serve(handler: Callable[[ServerConnection], Any], host: str = "127.0.0.1", port: int = 0,
          **kwargs: Any) -> Server:
    """Creates a blocking server listening on host:port (0: a free port,
    see ``server.port``); run it with ``serve_forever()``. ``handler(conn)``
    runs in a thread of its own for each connection; when it returns the
    connection is closed with 1000 (1011 if it raised). Options as for
    :class:`tether.asyncio.serve`."""
    return Server(handler, host, port, **kwargs)
