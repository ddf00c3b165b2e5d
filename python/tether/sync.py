"""Blocking client and server, shaped like ``websockets.sync``.

::

    with tether.sync.connect("ws://127.0.0.1:8765") as ws:
        ws.send("hello")
        print(ws.recv(timeout=5))

    def echo(ws):
        for message in ws:
            ws.send(message)

    with tether.sync.serve(echo, "127.0.0.1", 8765) as server:
        server.serve_forever()          # until server.shutdown() from elsewhere

How it runs: each client connection has one I/O thread that drives its own
tether context (so pings are answered and timeouts kept while your code
does something else); a server's context is driven by the thread in
``serve_forever()`` and each connection's handler runs in a thread of its
own, as in websockets. Your threads hand work to the I/O thread through a
queue and ``tether_ctx_wake()``; every method of a connection may be called
from any thread.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Callable, Deque, Iterable, Iterator, Union

from ._engine import (
    ConnectionInfo, E_BACKPRESSURE, E_STATE, CloseInfo, Context, Headers, Request, Response, Sink,
    HTTPConnection, answer_http, close_args, conn_headers, conn_request, decide_request,
    encode_message, logger,
)
from ._native import c_str, ffi, lib, py_str
from .exceptions import (
    ConcurrencyError, ConnectionClosed, ConnectionClosedOK, InvalidURI, OpenTimeout,
    error_from_code,
)
from .options import make_opts, split_conn_kw, split_tls

__all__ = ["connect", "serve", "ClientConnection", "ServerConnection", "Server", "Request",
           "Response", "Headers", "HTTPConnection"]

Data = Union[str, bytes]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3


class _IODriver:
    """A tether context driven by one thread; other threads give it work
    with :meth:`call` (a queue plus tether_ctx_wake())."""

    def __init__(self, on_request: Callable[[Any], None] | None = None,
                 on_http: Callable[[Any], None] | None = None) -> None:
        self.core = Context(on_request=on_request, on_wake=self._on_wake, on_http=on_http)
        self._cmds: Deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._dead = False
        self.stopping = False
        self.poll_ms = -1
        self.ident: int | None = None

    def call(self, fn: Callable[[], None]) -> bool:
        """Runs fn on the I/O thread (at once when called on it). False if
        the context is gone."""
        if threading.get_ident() == self.ident:
            fn()
            return True
        with self._lock:
            if self._dead:
                return False
            self._cmds.append(fn)
            if self._wake_pending:
                return True
            self._wake_pending = True
            lib.tether_ctx_wake(self.core.ctx)
        return True

    def _on_wake(self) -> None:
        with self._lock:
            cmds, self._cmds = self._cmds, collections.deque()
            self._wake_pending = False
        for fn in cmds:
            try:
                fn()
            except Exception:
                logger.exception("error in a command for the tether I/O thread")

    def stop(self) -> None:
        """Makes run() return (from any thread)."""
        self.stopping = True
        with self._lock:
            if not self._dead:
                lib.tether_ctx_wake(self.core.ctx)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Drives the context on this thread until stop() (or until()),
        then frees it."""
        self.ident = threading.get_ident()
        try:
            while not self.stopping and not (until and until()):
                rc = self.core.poll(self.poll_ms)
                if rc < 0 and rc != lib.TETHER_E_AGAIN:
                    logger.error("tether I/O loop failed: %s", rc)
                    break
        finally:
            self.free()

    def free(self) -> None:
        with self._lock:
            if self._dead:
                return
            self._dead = True
            cmds, self._cmds = self._cmds, collections.deque()
        self.core.free()


class Connection(Sink, ConnectionInfo):
    """A WebSocket connection (common to clients and servers). Every
    method may be called from any thread; ``recv`` from one at a time."""

    def __init__(self, driver: _IODriver, c, *, max_queue: int | None = 16,
                 write_limit: int | None = 64 * 1024, close_timeout: float | None = 10.0) -> None:
        self._driver = driver
        self._c = c
        self.id: int = lib.tether_conn_id(c)
        self.state = CONNECTING
        self._cond = threading.Condition(threading.Lock())
        self._messages: Deque[Data] = collections.deque()
        self._recv_busy = False
        self._max_queue = max_queue
        self._paused = False
        self._write_limit = write_limit
        self._close_timeout = close_timeout
        self._unsent = 0  # bytes handed to the I/O thread, not yet queued in C
        self._buffered = 0  # bytes queued in C, as of the last look
        self._send_error: Exception | None = None
        self._close_exc: ConnectionClosed | None = None
        self._info: CloseInfo | None = None
        self._pings: "collections.OrderedDict[bytes, tuple[threading.Event, float]]" = (
            collections.OrderedDict())
        self.latency = 0.0
        self._subprotocol: str | None = None
        self._extensions: str | None = None
        self._tls: tuple[str | None, str | None] = (None, None)
        driver.core.attach(c, self)

    # ---- events (I/O thread) -----------------------------------------------

    def _on_open(self) -> None:
        c = self._c
        self._subprotocol = py_str(lib.tether_conn_protocol(c))
        self._extensions = py_str(lib.tether_conn_extensions(c))
        self._tls = (py_str(lib.tether_conn_tls_version(c)), py_str(lib.tether_conn_tls_cipher(c)))
        self._http2_stream = max(0, lib.tether_conn_http2_stream(c))
        with self._cond:
            self.state = OPEN
            self._cond.notify_all()
        self._opened_hook()

    def _opened_hook(self) -> None:
        pass

    def _on_message(self, data: Data) -> None:
        with self._cond:
            self._messages.append(data)
            self._cond.notify_all()
            if self._max_queue and len(self._messages) >= self._max_queue and not self._paused:
                self._paused = True
                lib.tether_conn_pause_reading(self._c, 1)

    def _on_pong(self, data: bytes) -> None:
        with self._cond:
            if data not in self._pings:
                return
            now = time.monotonic()
            while self._pings:
                key, (ev, sent) = self._pings.popitem(last=False)
                self.latency = now - sent
                ev.set()
                if key == data:
                    break

    def _on_drain(self) -> None:
        with self._cond:
            self._buffered = lib.tether_conn_buffered(self._c)
            self._cond.notify_all()

    def _on_closed(self, info: CloseInfo) -> None:
        with self._cond:
            self._info = info
            self._c = None
            self._close_exc = info.closed_error()
            self._open_exc = info.open_error() if self.state == CONNECTING else None
            self.state = CLOSED
            for ev, _ in self._pings.values():
                ev.set()
            self._pings.clear()
            self._cond.notify_all()
        self._closed_hook()

    def _closed_hook(self) -> None:
        pass

    # ---- receiving -----------------------------------------------------------

    def recv(self, timeout: float | None = None, decode: bool | None = None) -> Data:
        """The next message (``str`` for text, ``bytes`` for binary),
        waiting at most ``timeout`` seconds (TimeoutError after that; None:
        no limit). ConnectionClosedOK / ConnectionClosedError once the
        connection is over and every message was read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._recv_busy:
                raise ConcurrencyError("another thread is already running recv()")
            self._recv_busy = True
            try:
                while not self._messages:
                    if self.state == CLOSED:
                        assert self._close_exc is not None
                        raise self._close_exc
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError("timed out waiting for a message")
                    self._cond.wait(left)
                data = self._messages.popleft()
                resume = self._paused and len(self._messages) <= (self._max_queue or 0) // 4
                if resume:
                    self._paused = False
            finally:
                self._recv_busy = False
        if resume:
            self._driver.call(self._resume)
        if decode is None:
            return data
        if decode and isinstance(data, bytes):
            return data.decode("utf-8")
        if decode is False and isinstance(data, str):
            return data.encode("utf-8")
        return data

    def _resume(self) -> None:
        if self._c is not None and not self._paused:
            lib.tether_conn_pause_reading(self._c, 0)

    def __iter__(self) -> Iterator[Data]:
        try:
            while True:
                yield self.recv()
        except ConnectionClosedOK:
            return

    # ---- sending -------------------------------------------------------------

    def _closed_error(self) -> ConnectionClosed:
        if self._close_exc is not None:
            return self._close_exc
        return ConnectionClosedOK(1000, "", clean=True)

    def send(self, message: Data | Iterable[Data]) -> None:
        """Sends a message: ``str`` as text, bytes-like as binary, or an
        iterable of either as one fragmented message. Blocks while more
        than ``write_limit`` bytes wait to be written. Raises
        ConnectionClosed once the connection is closing or closed."""
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            opcode, data = encode_message(message)
            self._send(opcode, bytes(data), None)
            return
        chunks = list(message)
        if not chunks:
            raise ValueError("a fragmented message needs at least one fragment")
        first, _ = encode_message(chunks[0])
        for i, chunk in enumerate(chunks):
            opcode, data = encode_message(chunk)
            if opcode != first:
                raise TypeError("all fragments of a message must be str, or all bytes")
            self._send(first, bytes(data), i == len(chunks) - 1)

    def _send(self, opcode: int, data: bytes, fin: bool | None) -> None:
        n = len(data)
        with self._cond:
            if self._send_error is not None:
                raise self._send_error
            if self.state != OPEN:
                raise self._closed_error()
            self._unsent += n
        if not self._driver.call(lambda: self._do_send(opcode, data, fin)):
            raise self._closed_error()
        if self._write_limit is None:
            return
        with self._cond:
            while (self._unsent + self._buffered > self._write_limit and self.state != CLOSED
                   and self._send_error is None):
                self._cond.wait(1.0)

    def _do_send(self, opcode: int, data: bytes, fin: bool | None) -> None:
        c = self._c
        rc = E_STATE
        if c is not None:
            if fin is None:
                rc = lib.tether_conn_send(c, opcode, data, len(data))
            else:
                rc = lib.tether_conn_send_fragment(c, opcode, data, len(data), int(fin))
        with self._cond:
            self._unsent -= len(data)
            if c is not None:
                self._buffered = lib.tether_conn_buffered(c)
            if rc < 0 and rc != E_STATE and self._send_error is None:
                self._send_error = error_from_code(rc, what="send")
                if rc == E_BACKPRESSURE:
                    logger.warning("send limit reached: a message was dropped")
            self._cond.notify_all()

    def ping(self, data: str | bytes | None = None) -> threading.Event:
        """Sends a ping; the returned Event is set when the matching pong
        arrives (or the connection closes). ``latency`` then holds the
        round-trip time in seconds."""
        if data is None:
            data = os.urandom(4)
        elif isinstance(data, str):
            data = data.encode("utf-8")
        data = bytes(data)
        if len(data) > lib.TETHER_MAX_CONTROL_PAYLOAD:
            raise ValueError("ping data longer than 125 bytes")
        ev = threading.Event()
        with self._cond:
            if self.state != OPEN:
                raise self._closed_error()
            if data in self._pings:
                raise ConcurrencyError("already waiting for a pong with the same data")
            self._pings[data] = (ev, time.monotonic())

        def do() -> None:
            if self._c is None or lib.tether_conn_ping(self._c, data, len(data)) != 0:
                with self._cond:
                    self._pings.pop(data, None)
                ev.set()

        if not self._driver.call(do):
            ev.set()
        return ev

    # ---- closing -------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake and waits until the connection is
        closed (the peer's answer or the close timeout). Never raises
        ConnectionClosed."""
        code, r = close_args(code, reason)

        def do() -> None:
            if self._c is not None:
                lib.tether_conn_close(self._c, code, r)

        with self._cond:
            if self.state in (OPEN, CONNECTING):
                self.state = CLOSING if self.state == OPEN else self.state
                run = True
            else:
                run = False
        if run:
            self._driver.call(do)
        self.wait_closed()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Waits until the connection is closed; False on timeout. Without
        a timeout it waits for the close timeout and some margin."""
        if timeout is None:
            timeout = (self._close_timeout or 10.0) * 2 + 5
        with self._cond:
            return self._cond.wait_for(lambda: self.state == CLOSED, timeout)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()




class ClientConnection(Connection):
    """A client connection, from :func:`connect`."""

    def __init__(self, driver: _IODriver, c, uri: str, **kw: Any) -> None:
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


# ---- servers ------------------------------------------------------------------


class ServerConnection(Connection):
    """A connection accepted by a :class:`Server`; handlers receive it."""

    def __init__(self, server: "Server", c, **kw: Any) -> None:
        super().__init__(server._driver, c, **kw)
        self.server = server
        self.request: Request = conn_request(c)
        self.remote_address: str | None = self.request.peer
        self._thread: threading.Thread | None = None

    def respond(self, status: int, text: str = "") -> Response:
        """A response refusing the upgrade, for ``process_request``."""
        return Response(status, text)

    def _opened_hook(self) -> None:
        self._thread = threading.Thread(target=self.server._run_handler, args=(self,),
                                        name=f"tether handler {self.id}", daemon=True)
        self._thread.start()

    def _closed_hook(self) -> None:
        self.server._conn_closed(self)


class Server:
    """A blocking WebSocket server (from :func:`serve`): ``serve_forever()``
    drives it on the calling thread until ``shutdown()`` is called from
    another thread (or a handler)."""

    def __init__(self, handler: Callable[[ServerConnection], Any], host: str, port: int, *,
                 process_request: Callable[..., Any] | None = None,
                 process_response: Callable[..., Any] | None = None,
                 select_subprotocol: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        self.handler = handler
        self.host = host
        self.process_request = process_request
        self.process_response = process_response
        self.select_subprotocol = select_subprotocol
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

    def _on_request(self, c) -> None:
        conn = ServerConnection(self, c, **self._conn_kw)
        with self._lock:
            self._conns.add(conn)
        if self._shutdown:
            lib.tether_conn_reject(c, 503, ffi.NULL)
            return
        decide_request(c, conn, self.process_request, self.select_subprotocol,
                       self.process_response)

    def _on_http(self, c) -> None:
        answer_http(c, HTTPConnection(self, c), self.process_request, self.process_response)

    def _run_handler(self, conn: ServerConnection) -> None:
        try:
            self.handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("connection handler failed")
            conn.close(1011, "")
            return
        conn.close(1000, "")

    def _conn_closed(self, conn: ServerConnection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _begin_shutdown(self) -> None:
        if self._listener != ffi.NULL:
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
