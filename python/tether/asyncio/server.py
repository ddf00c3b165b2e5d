"""Asyncio servers: ``serve()``, as ``websockets.asyncio.server``."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from typing import Any, Awaitable, Callable, Dict, Generator, Iterable, List, Sequence, cast

from .._engine import (
    E_STATE, HTTPConnection, ListenerSockets, Request, Response, address_tuple, answer_http,
    conn_request, decide_request, encode_message, logger,
)
from .._native import c_str, ffi, lib
from ..exceptions import ConnectionClosed, error_from_code
from ..options import make_opts, split_conn_kw, split_tls
from .connection import Connection, Data, State, _Driver, _resolve


class ServerConnection(Connection):
    """A connection accepted by a :class:`Server`; handlers receive it."""

    def __init__(self, server: "Server", c: Any, **kw: Any) -> None:
        super().__init__(server._driver, c, **kw)
        self.server = server
        self.request: Request = conn_request(c)
        self._remote_address = address_tuple(self.request.peer)
        self._task: asyncio.Task[None] | None = None

    def respond(self, status: int, text: str = "") -> Response:
        """A response refusing the upgrade, for ``process_request``."""
        return Response(status, text)

    def _opened_hook(self) -> None:
        self._task = self._loop.create_task(self.server._run_handler(self))

    def _closed_hook(self) -> None:
        self.server._conns.discard(self)
        self.server._check_done()


class Server(ListenerSockets):
    """A listening WebSocket server (from :func:`serve`).

    ``close()`` stops listening and closes every connection with 1001
    (going away); ``await wait_closed()`` waits until all connections and
    handlers are done; ``await serve_forever()`` runs until closed."""

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[Any]], host: str,
                 port: int, *, process_request: Callable[..., Any] | None = None,
                 process_response: Callable[..., Any] | None = None,
                 select_subprotocol: Callable[..., Any] | None = None,
                 origins: Sequence[Any] | None = None, **kwargs: Any) -> None:
        self.handler = handler
        self.host = host
        self._port_req = port
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
        self._conns: set[ServerConnection] = set()
        self._listener = ffi.NULL
        self._driver: _Driver = None  # type: ignore[assignment]
        self._closed: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port: int = 0

    async def _start(self) -> "Server":
        loop = asyncio.get_running_loop()
        self._driver = _Driver(loop, on_request=self._on_request, on_http=self._on_http)
        self._driver.ref()
        self._closed = loop.create_future()
        self._done = loop.create_future()
        out = ffi.new("tether_listener **")
        rc = lib.tether_listen(self._driver.ctx, c_str(self.host, "host"), int(self._port_req),
                               self._opts, out)
        why = ffi.errno  # the OS's reason (EADDRINUSE...), before another C call
        if rc < 0:
            self._driver.free()
            if rc == lib.TETHER_E_IO:
                raise OSError(why, f"{os.strerror(why)} ({self.host}:{self._port_req})")
            raise error_from_code(rc, what=f"listen on {self.host}:{self._port_req}")
        self._listener = out[0]
        self.port = lib.tether_listener_port(self._listener)
        self._driver.kick()
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def connections(self) -> set[ServerConnection]:
        """The open connections."""
        return set(self._conns)

    def _new_connection(self, c: Any) -> Any:
        """The object a REQUEST's connection becomes (tether.protocol's
        server makes a transport instead)."""
        return ServerConnection(self, c, **self._conn_kw)

    def _on_request(self, c: Any) -> None:
        conn = self._new_connection(c)
        self._conns.add(conn)
        if self._listener == ffi.NULL:  # closing: no new connections
            lib.tether_conn_reject(c, 503, ffi.NULL)
            return
        if self._async_hook():
            self._later(decide_request, c, conn)
            return
        decide_request(c, conn, self.process_request, self.select_subprotocol,
                       self.process_response, origins=self.origins)

    def _on_http(self, c: Any) -> None:
        if self._async_hook():
            self._later(answer_http, c, HTTPConnection(self, c))
            return
        answer_http(c, HTTPConnection(self, c), self.process_request, self.process_response)

    def _async_hook(self) -> bool:
        return inspect.iscoroutinefunction(self.process_request)

    def _later(self, decide: Callable[..., None], c: Any, conn: Any) -> None:
        """A coroutine ``process_request`` (``async def``, as websockets'
        asyncio server allows): the event is held while it runs (so the
        connection waits, and lives), then its result is applied as a plain
        hook's would be (``process_response`` and ``select_subprotocol``
        run then, as plain functions), and the release makes the decision
        take effect."""
        ev = self._driver.core.claim()
        # (not None: only called when process_request is a coroutine function)
        hook = cast("Callable[..., Awaitable[Any]]", self.process_request)

        async def run() -> None:
            core = self._driver.core
            try:
                try:
                    outcome: tuple[Any, BaseException | None] = (
                        await hook(conn, conn.request), None)
                except Exception as exc:  # logged and answered 500, as a plain hook's
                    outcome = (None, exc)

                def pre(_conn: Any, _request: Any) -> Any:
                    if outcome[1] is not None:
                        raise outcome[1]
                    return outcome[0]

                if core.closed:
                    return
                if decide is decide_request:
                    decide(c, conn, pre, self.select_subprotocol, self.process_response,
                           origins=self.origins)
                else:
                    decide(c, conn, pre, self.process_response)
            finally:
                if not core.closed:  # a freed context took its events with it
                    lib.tether_event_release(ev)
                    self._driver.kick()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, conn: ServerConnection) -> None:
        try:
            await self.handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            conn.logger.exception("connection handler failed")
            if conn._c is not None:
                await conn.close(1011, "")
            return
        except asyncio.CancelledError:
            if conn._c is not None:
                await conn.close(1001, "")
            raise
        if conn._c is not None:
            await conn.close(1000, "")

    def close(self, close_connections: bool = True) -> None:
        """Stops accepting; closes open connections with 1001 unless told not to."""
        if self._listener != ffi.NULL:
            self._close_sockets()
            lib.tether_listener_close(self._listener)
            self._listener = ffi.NULL
        _resolve(self._closed)
        if close_connections:
            empty = ffi.new("char[]", b"")
            for conn in list(self._conns):
                if conn._c is not None and conn.state in (State.OPEN, State.CONNECTING):
                    if lib.tether_conn_close(conn._c, 1001, empty) == 0:
                        conn.state = State.CLOSING
            if self._driver is not None:
                self._driver.kick()
        self._check_done()

    def _check_done(self) -> None:
        if self._closed is None or not self._closed.done() or self._conns:
            return
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
            self._driver.unref()

    async def wait_closed(self) -> None:
        """Waits until the server is closed and every connection is over."""
        if self._done is not None:
            await asyncio.shield(self._done)
        tasks = [c._task for c in list(self._conns) if c._task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        """Runs until :meth:`close` is called (or the task is cancelled,
        which closes the server)."""
        try:
            if self._closed is not None:
                await asyncio.shield(self._closed)
        except asyncio.CancelledError:
            self.close()
            raise
        await self.wait_closed()

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


class serve:
    """Starts a server: ``server = await serve(handler, host, port)`` or
    ``async with serve(handler, host, port) as server:``.

    ``handler(connection)`` is a coroutine run for each connection once it
    is open; when it returns the connection is closed with 1000 (1011 if
    it raised). port 0 picks a free port (``server.port``).

    ``process_request(connection, request)`` may refuse an upgrade by
    returning a :class:`Response` (or ``(status, body)``, or a status), or
    accept it by returning None; with it (or ``process_response``) the port
    also answers plain HTTP requests with what it returns (426 for None).
    ``process_response(connection, request, response)`` may add headers
    to any response or return another. ``select_subprotocol(connection,
    offered)`` may choose the sub-protocol. Other options as for
    :class:`connect`, plus ``reuse_port``; TLS turns on with ``certfile``
    (and ``keyfile``), ``verify_client`` asks for client certificates."""

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[Any]], host: str = "127.0.0.1",
                 port: int = 0, **kwargs: Any) -> None:
        self._server = Server(handler, host, port, **kwargs)

    def __await__(self) -> Generator[Any, None, Server]:
        return self._server._start().__await__()

    async def __aenter__(self) -> Server:
        return await self._server._start()

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()


def broadcast(connections: Iterable[Connection], message: Data,
              raise_exceptions: bool = False) -> None:
    """Sends one message to many connections, as websockets' ``broadcast()``:
    a ``str`` as text, bytes-like as binary; connections that are not open
    are skipped; nothing waits for flow control. The frame is built once
    per context (``tether_broadcast``: uncompressed server connections
    share it). A connection that cannot take it (its send limit reached)
    is skipped with a warning logged, or, with ``raise_exceptions=True``,
    the failures are raised together in an ExceptionGroup (the first one
    alone before Python 3.11)."""
    opcode, data = encode_message(message)
    groups: Dict[Any, List[Connection]] = {}
    for conn in connections:
        if conn._c is not None and conn.state == State.OPEN:
            groups.setdefault(conn._driver, []).append(conn)
    errors: List[Exception] = []
    buf = ffi.from_buffer(data)
    for driver, conns in groups.items():
        n = len(conns)
        results = ffi.new("int[]", n)
        rc = lib.tether_broadcast(ffi.new("tether_conn *[]", [c._c for c in conns]), n, opcode,
                                  buf, len(data), results)
        if rc < 0:
            raise error_from_code(rc, what="broadcast")
        driver.kick()
        for conn, r in zip(conns, results):
            if r == 0:
                continue
            exc = conn._closed_error() if r == E_STATE else error_from_code(r, what="broadcast")
            if raise_exceptions:
                errors.append(exc)
            else:
                logger.warning("skipped broadcast to connection %s: %s", conn.id, exc)
    if errors:
        if sys.version_info >= (3, 11):
            raise ExceptionGroup("skipped broadcast", errors)  # noqa: F821
        raise errors[0]
