"""asyncio client and server, shaped like ``websockets.asyncio``.

::

    async with tether.asyncio.connect("ws://127.0.0.1:8765") as ws:
        await ws.send("hello")
        print(await ws.recv())

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with tether.asyncio.serve(echo, "127.0.0.1", 8765) as server:
        await server.serve_forever()

How it runs: the C library works in poll mode inside the event loop's
thread. Its context's file descriptor is watched with ``loop.add_reader``
and its next deadline with a timer; when either fires, the ready events
are fetched in batches and handed to the connection objects. All client
connections of a loop share one context; each server has its own. There
is no thread per connection, nor any thread at all.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import os
import random
import time
import traceback
from typing import (
    Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Generator, Iterable, Iterator, Optional,
    Union,
)

from ._engine import (
    ConnectionInfo, E_BACKPRESSURE, E_STATE, BATCH, OP_BINARY, OP_TEXT, CloseInfo, Context,
    Headers, HTTPConnection, Request, Response, Sink, answer_http, close_args, conn_headers,
    conn_request, decide_request, encode_message, logger,
)
from ._native import c_str, ffi, lib, py_str
from .exceptions import (
    ConcurrencyError, ConnectionClosed, ConnectionClosedOK, InvalidStatus, InvalidURI, OpenTimeout,
    TLSError, error_from_code,
)
from .options import make_opts, split_conn_kw, split_tls

__all__ = ["connect", "serve", "ClientConnection", "ServerConnection", "Server", "State",
           "Request", "Response", "Headers", "HTTPConnection", "process_exception", "backoff"]

Data = Union[str, bytes]


class State:
    """Connection states, as in websockets."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


SEND_BATCH = 32  # see _Driver.sent


class _Driver:
    """Runs one tether context inside an asyncio loop (see the module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_request=None, shared=False,
                 on_http=None) -> None:
        self.loop = loop
        self.core = Context(on_request=on_request, on_http=on_http)
        self.ctx = self.core.ctx
        # Sends from coroutines are held and written together when the loop
        # next looks at the context (every send kicks it): one write per
        # connection per loop iteration instead of one per message.
        lib.tether_ctx_set_cork(self.ctx, 1)
        self.refs = 0
        self.shared = shared
        self._soon = False
        self._held = 0  # sends held by cork since the last look
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._closing = False
        loop.add_reader(self.core.fd, self._run)

    def kick(self) -> None:
        """Look at the context again on the next loop iteration: after a
        call (send, close, connect...) that may have queued an event or
        moved a deadline outside a round."""
        if not self._soon and not self.core.closed:
            self._soon = True
            self.loop.call_soon(self._run)

    def sent(self) -> None:
        """After a send from a coroutine: held (cork) for the loop's next
        look, unless SEND_BATCH sends wait already: those go now, so the
        peer gets to work on the first while the rest are made (a whole
        batch held until the end would make the two sides take turns)."""
        self._held += 1
        if self._held >= SEND_BATCH and not self.core.closed:
            self._held = 0
            lib.tether_ctx_flush(self.ctx)
        self.kick()

    def _run(self) -> None:
        self._held = 0
        if self.core.closed:
            self._soon = False
            return
        # Sends made by callbacks during the round need no kick of their
        # own: the round's end flushes them and _arm looks at what is left.
        self._soon = True
        # Releasing data events makes their connections runnable (input may
        # wait behind them): go round again while the context says it has
        # work ready, within a budget, then let other callbacks run.
        core, ctx = self.core, self.ctx
        budget = 8 * BATCH
        try:
            for _ in range(32):
                n = core.poll(0)
                if core.closed:
                    return
                budget -= n
                if budget <= 0 or (n < BATCH and lib.tether_ctx_timeout(ctx) != 0):
                    break
        finally:
            self._soon = False
        self._arm()

    def _arm(self) -> None:
        t = lib.tether_ctx_timeout(self.ctx)
        if t < 0:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if t == 0:
            self.kick()
            return
        when = self.loop.time() + t / 1000.0
        if self._timer is not None:
            if self._timer_when <= when + 0.0005:
                return  # fires first anyway; the run re-arms
            self._timer.cancel()
        self._timer_when = when
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._run()

    def ref(self) -> None:
        self.refs += 1

    def unref(self) -> None:
        self.refs -= 1
        if self.refs <= 0 and not self._closing:
            self._closing = True
            # Not from inside a dispatch: the context is in use up the stack.
            self.loop.call_soon(self._maybe_free)

    def _maybe_free(self) -> None:
        self._closing = False
        if self.refs > 0 or self.core.closed:
            return
        if self.shared and _client_drivers.get(self.loop) is self:
            del _client_drivers[self.loop]
        self.free()

    def free(self) -> None:
        if self.core.closed:
            return
        try:
            self.loop.remove_reader(self.core.fd)
        except Exception:  # the loop may already be closed
            pass
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.core.free()


_client_drivers: Dict[asyncio.AbstractEventLoop, _Driver] = {}


def _client_driver(loop: asyncio.AbstractEventLoop) -> _Driver:
    d = _client_drivers.get(loop)
    if d is None or d.core.closed:
        d = _client_drivers[loop] = _Driver(loop, shared=True)
    return d


def _future(loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    return loop.create_future()


def _resolve(fut: Optional[asyncio.Future], value: Any = None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(value)


def _fail(fut: Optional[asyncio.Future], exc: BaseException) -> None:
    if fut is not None and not fut.done():
        fut.set_exception(exc)


class Connection(Sink, ConnectionInfo):
    """A WebSocket connection (common to clients and servers).

    Receive with ``await recv()`` or ``async for message in connection``;
    send with ``await send(message)``: a ``str`` goes as a text message,
    bytes-like as binary, an iterable of either as one fragmented message.
    Received text arrives as ``str``, binary as ``bytes``."""

    def __init__(self, driver: _Driver, c, *, max_queue: int | None = 16,
                 write_limit: int | None = 64 * 1024, close_timeout: float | None = 10.0) -> None:
        self._driver = driver
        self._loop = driver.loop
        self._c = c
        self.id: int = lib.tether_conn_id(c)
        self.state = State.CONNECTING
        self._messages: Deque[Data] = collections.deque()
        self._recv_waiter: asyncio.Future | None = None
        self._recv_busy = False
        self._drain_waiter: asyncio.Future | None = None
        self._opened: asyncio.Future = _future(self._loop)
        self._closed_fut: asyncio.Future = _future(self._loop)
        self._pings: "collections.OrderedDict[bytes, tuple[asyncio.Future, float]]" = (
            collections.OrderedDict())
        self._max_queue = max_queue
        self._paused = False
        self._write_limit = write_limit
        self._close_timeout = close_timeout
        self._close_exc: ConnectionClosed | None = None
        self._info: CloseInfo | None = None
        self.latency: float = 0.0
        self._subprotocol: str | None = None
        self._extensions: str | None = None
        self._tls: tuple[str | None, str | None] = (None, None)
        driver.ref()
        driver.core.attach(c, self)

    # ---- events (called from the driver) -------------------------------

    def _on_open(self) -> None:
        c = self._c
        self.state = State.OPEN
        self._subprotocol = py_str(lib.tether_conn_protocol(c))
        self._extensions = py_str(lib.tether_conn_extensions(c))
        self._tls = (py_str(lib.tether_conn_tls_version(c)), py_str(lib.tether_conn_tls_cipher(c)))
        self._http2_stream = max(0, lib.tether_conn_http2_stream(c))
        self._opened_hook()
        _resolve(self._opened, self)

    def _opened_hook(self) -> None:
        pass

    def _on_message(self, data: Data) -> None:
        w = self._recv_waiter
        if w is not None and not w.done() and not self._messages:
            self._recv_waiter = None
            w.set_result(data)
            return
        self._messages.append(data)
        if w is not None:
            self._recv_waiter = None
            _resolve(w, None)
        if self._max_queue and len(self._messages) >= self._max_queue and not self._paused:
            self._paused = True
            lib.tether_conn_pause_reading(self._c, 1)

    def _on_ping(self, data: bytes) -> None:
        pass  # answered by the library

    def _on_pong(self, data: bytes) -> None:
        if data not in self._pings:
            return
        now = time.monotonic()
        # This pong answers its ping and every earlier one.
        while self._pings:
            key, (fut, sent) = self._pings.popitem(last=False)
            self.latency = now - sent
            _resolve(fut, self.latency)
            if key == data:
                break

    def _on_drain(self) -> None:
        w, self._drain_waiter = self._drain_waiter, None
        _resolve(w)

    def _on_closed(self, info: CloseInfo) -> None:
        self.state = State.CLOSED
        self._info = info
        self._c = None
        self._close_exc = info.closed_error()
        if not self._opened.done():
            self._opened.set_exception(info.open_error())
            self._opened.exception()  # mark retrieved: the opener re-raises it
        w, self._recv_waiter = self._recv_waiter, None
        _resolve(w, None)
        w, self._drain_waiter = self._drain_waiter, None
        _resolve(w)
        for fut, _ in self._pings.values():
            _fail(fut, self._close_exc)
            if not fut.cancelled():
                fut.exception()
        self._pings.clear()
        self._closed_hook()
        _resolve(self._closed_fut, None)
        self._driver.unref()

    def _closed_hook(self) -> None:
        pass

    # ---- receiving --------------------------------------------------------

    async def recv(self, decode: bool | None = None) -> Data:
        """The next message: ``str`` for text, ``bytes`` for binary
        (``decode=True`` decodes binary as UTF-8, ``decode=False`` gives
        text as bytes). Raises ConnectionClosedOK / ConnectionClosedError
        once the connection is over and every received message was read;
        ConcurrencyError if another coroutine is already waiting. Wrap it
        in ``asyncio.wait_for`` or ``asyncio.timeout`` for a timeout."""
        if self._recv_busy:
            raise ConcurrencyError("another coroutine is already running recv()")
        self._recv_busy = True
        try:
            while not self._messages:
                if self._c is None:
                    assert self._close_exc is not None
                    raise self._close_exc
                w = self._recv_waiter = self._loop.create_future()
                try:
                    data = await w
                except BaseException:
                    if self._recv_waiter is w:
                        self._recv_waiter = None
                    raise
                if data is not None:
                    return self._decode(data, decode)
            data = self._messages.popleft()
            if self._paused and len(self._messages) <= (self._max_queue or 0) // 4:
                self._paused = False
                if self._c is not None:
                    lib.tether_conn_pause_reading(self._c, 0)
                    self._driver.kick()
            return self._decode(data, decode)
        finally:
            self._recv_busy = False

    @staticmethod
    def _decode(data: Data, decode: bool | None) -> Data:
        if decode is None:
            return data
        if decode and isinstance(data, bytes):
            return data.decode("utf-8")
        if decode is False and isinstance(data, str):
            return data.encode("utf-8")
        return data

    def __aiter__(self) -> AsyncIterator[Data]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Data]:
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    # ---- sending ----------------------------------------------------------

    def _closed_error(self) -> ConnectionClosed:
        if self._close_exc is not None:
            return self._close_exc
        return ConnectionClosedOK(1000, "", clean=True) if self.state == State.CLOSING else \
            ConnectionClosed(1006, "")

    async def send(self, message: Data | Iterable[Data]) -> None:
        """Sends a message: ``str`` as text, bytes-like as binary, or an
        iterable (or async iterable) of either as one fragmented message.
        Waits while more than ``write_limit`` bytes wait to be written.
        Raises ConnectionClosed once the connection is closing or closed."""
        # The common case in a few steps: one whole str or bytes on an open
        # connection with room (an echo server's every message).
        c = self._c
        tm = type(message)
        if (tm is str or tm is bytes) and c is not None and self.state == State.OPEN:
            data = message.encode("utf-8") if tm is str else message
            rc = lib.tether_conn_send(c, OP_TEXT if tm is str else OP_BINARY,
                                      ffi.from_buffer(data), len(data))
            if rc == 0:
                self._driver.sent()  # the write is held for the loop's next look
                if self._write_limit is not None and \
                        lib.tether_conn_buffered(c) > self._write_limit:
                    await self._wait_drain()
                return
            if rc != E_BACKPRESSURE:
                if rc == E_STATE:
                    raise self._closed_error()
                raise error_from_code(rc, what="send")
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            opcode, data = encode_message(message)
            await self._send_one(opcode, data, None)
            return
        if hasattr(message, "__aiter__"):
            chunks = [m async for m in message]  # type: ignore[union-attr]
        elif hasattr(message, "__iter__"):
            chunks = list(message)  # type: ignore[arg-type]
        else:
            raise TypeError(f"cannot send {type(message).__name__}")
        if not chunks:
            raise ValueError("a fragmented message needs at least one fragment")
        first, _ = encode_message(chunks[0])
        for i, chunk in enumerate(chunks):
            opcode, data = encode_message(chunk)
            if opcode != first:
                raise TypeError("all fragments of a message must be str, or all bytes")
            await self._send_one(first, data, i == len(chunks) - 1)

    async def _send_one(self, opcode: int, data: Any, fin: bool | None) -> None:
        while True:
            c = self._c
            if c is None or self.state != State.OPEN:
                raise self._closed_error()
            if fin is None:
                rc = lib.tether_conn_send(c, opcode, ffi.from_buffer(data), len(data))
            else:
                rc = lib.tether_conn_send_fragment(c, opcode, ffi.from_buffer(data), len(data),
                                                   int(fin))
            if rc == 0:
                break
            if rc == E_BACKPRESSURE:
                await self._wait_drain()
                continue
            if rc == E_STATE:
                raise self._closed_error()
            raise error_from_code(rc, what="send")
        # A send is written at once; only a failed write leaves an event
        # queued (or a deadline moved) for the loop to look at.
        if lib.tether_ctx_timeout(self._driver.ctx) == 0:
            self._driver.kick()
        if self._write_limit is not None and self._c is not None and \
                lib.tether_conn_buffered(self._c) > self._write_limit:
            await self._wait_drain()

    async def _wait_drain(self) -> None:
        if self._c is None:
            return
        if self._drain_waiter is None or self._drain_waiter.done():
            self._drain_waiter = self._loop.create_future()
        await asyncio.shield(self._drain_waiter)

    async def ping(self, data: str | bytes | None = None) -> Awaitable[float]:
        """Sends a ping. Returns a future that resolves to the round-trip
        time in seconds when the matching pong arrives (``await await
        ws.ping()`` waits for it). data: at most 125 bytes; random if None."""
        if data is None:
            data = os.urandom(4)
            while data in self._pings:
                data = os.urandom(4)
        elif isinstance(data, str):
            data = data.encode("utf-8")
        data = bytes(data)
        if data in self._pings:
            raise ConcurrencyError("already waiting for a pong with the same data")
        c = self._c
        if c is None or self.state != State.OPEN:
            raise self._closed_error()
        rc = lib.tether_conn_ping(c, data, len(data))
        if rc == E_STATE:
            raise self._closed_error()
        if rc < 0:
            raise error_from_code(rc, what="ping")
        fut = self._loop.create_future()
        self._pings[data] = (fut, time.monotonic())
        self._driver.kick()
        return fut

    # ---- closing ----------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake (if not already started) and waits
        until the connection is closed: the peer's answer, or the close
        timeout (then the connection is dropped). Never raises
        ConnectionClosed."""
        code, r = close_args(code, reason)
        if self._c is not None and self.state in (State.OPEN, State.CONNECTING):
            rc = lib.tether_conn_close(self._c, code, r)
            if rc == 0:
                self.state = State.CLOSING
            self._driver.kick()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Waits until the connection is closed."""
        await asyncio.shield(self._closed_fut)



class ClientConnection(Connection):
    """A client connection, from :func:`connect`."""

    def __init__(self, driver: _Driver, c, uri: str, **kw: Any) -> None:
        super().__init__(driver, c, **kw)
        self.uri = uri
        self.response: Response | None = None

    def _opened_hook(self) -> None:
        c = self._c
        self.response = Response(lib.tether_conn_http_status(c), None, conn_headers(c))




class connect:
    """Opens a client connection: ``ws = await connect(uri)``, or
    ``async with connect(uri) as ws:`` which closes it at the end.

    Options (keyword only): ``subprotocols``, ``additional_headers``,
    ``origin``, ``compression`` (None, "deflate" or a :class:`Deflate`),
    ``max_size`` (bytes, None for no limit), ``max_queue`` (received
    messages buffered before reading pauses), ``write_limit``,
    ``ping_interval`` / ``ping_timeout`` (seconds, None to disable),
    ``open_timeout``, ``close_timeout``, ``idle_timeout``, ``tls`` (a
    :class:`TLSConfig`) or its fields directly (``cafile=``,
    ``certfile=``, ``keyfile=``, ``server_hostname=``,
    ``allow_self_signed=``...).

    Failures: InvalidURI, ConnectionFailed (refused, DNS), OpenTimeout,
    InvalidStatus (HTTP status instead of 101), InvalidHandshake,
    NegotiationError, TLSError / TLSVerifyError / TLSConfigError.

    ``async for ws in connect(uri):`` reconnects as websockets does: each
    turn gets a new connection, closed when the turn ends; a failure to
    open that ``process_exception(exc)`` deems transient (it returns None:
    by default OSError and so ConnectionFailed, timeouts, TLS failures and
    HTTP 500, 502, 503, 504) waits the next of ``reconnect_delays()``
    (:func:`backoff`) and tries again; any other is raised. A connection
    lost inside the loop's body raises ConnectionClosed there: catch it
    and ``continue`` to reconnect."""

    def __init__(self, uri: str, *,
                 process_exception: Callable[[Exception], Exception | None] | None = None,
                 reconnect_delays: Callable[[], Iterator[float]] | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(uri, str):
            raise TypeError("uri must be a str")
        self.uri = uri
        self.process_exception = process_exception or globals()["process_exception"]
        self.reconnect_delays = reconnect_delays or backoff
        self._conn_kw = split_conn_kw(kwargs)
        split_tls(kwargs)
        self._open_timeout = kwargs.get("open_timeout", 10.0)
        self._opts = make_opts("client", **kwargs)
        self.connection: ClientConnection | None = None

    async def _open(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        driver = _client_driver(loop)
        out = ffi.new("tether_conn **")
        rc = lib.tether_connect(driver.ctx, c_str(self.uri, "uri"), self._opts, out)
        if rc < 0:
            if driver.refs == 0:
                driver.ref()
                driver.unref()
            if rc == lib.TETHER_E_INVAL:
                raise InvalidURI(self.uri)
            raise error_from_code(rc, what=f"connect to {self.uri}")
        conn = ClientConnection(driver, out[0], self.uri, **self._conn_kw)
        driver.kick()
        # The library enforces open_timeout (TCP connect, then handshake);
        # this outer bound only guards against a lost event.
        limit = None if not self._open_timeout else 2 * self._open_timeout + 5
        try:
            await asyncio.wait_for(asyncio.shield(conn._opened), limit)
        except asyncio.TimeoutError:
            await conn.close()
            raise OpenTimeout() from None
        except asyncio.CancelledError:
            if conn._c is not None:
                lib.tether_conn_close(conn._c, 1001, ffi.new("char[]", b""))
                driver.kick()
            raise
        self.connection = conn
        return conn

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._open().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def __aiter__(self) -> AsyncIterator[ClientConnection]:
        delays: Iterator[float] | None = None
        while True:
            try:
                async with self as connection:
                    yield connection
            except Exception as exc:
                # websockets' contract: process_exception returns None for a
                # transient error, else the exception to raise (raising is
                # taken as returning it)
                try:
                    new_exc = self.process_exception(exc)
                except Exception as raised:
                    new_exc = raised
                if new_exc is exc:
                    raise
                if new_exc is not None:
                    raise new_exc from exc
                if delays is None:
                    delays = self.reconnect_delays()
                delay = next(delays)
                logger.info("connect failed; reconnecting in %.1f seconds: %s", delay,
                            traceback.format_exception_only(type(exc), exc)[0].strip())
                await asyncio.sleep(delay)
            else:
                delays = None  # it opened: the next failure starts the backoff again


def process_exception(exc: Exception) -> Exception | None:
    """Whether ``async for ws in connect(uri)`` tries again after exc, as
    websockets decides it: None (retry) for network errors (OSError, and so
    ConnectionFailed and NameResolutionError; TimeoutError, and so
    OpenTimeout; a TLS failure, which websockets sees as an ssl.SSLError,
    an OSError) and for HTTP 500, 502, 503 and 504; exc (raise it) for
    anything else: other statuses, a proxy's refusal, a failed negotiation."""
    if isinstance(exc, (OSError, TimeoutError, TLSError)):
        return None
    if isinstance(exc, InvalidStatus) and exc.status in (500, 502, 503, 504):
        return None
    return exc


def backoff(initial_delay: float | None = None, min_delay: float | None = None,
            max_delay: float | None = None, factor: float | None = None) -> Iterator[float]:
    """The delays between reconnection attempts, as websockets makes them:
    first a random one up to initial_delay (RFC 6455 7.2.3), then min_delay
    growing by factor up to max_delay. The defaults are websockets' (5, 3.1,
    90 s, 1.618), read from its WEBSOCKETS_BACKOFF_INITIAL_DELAY,
    _MIN_DELAY, _MAX_DELAY and _FACTOR environment variables when set."""
    def env(name: str, default: float) -> float:
        return float(os.environ.get(f"WEBSOCKETS_BACKOFF_{name}", default))
    initial = env("INITIAL_DELAY", 5.0) if initial_delay is None else initial_delay
    delay = env("MIN_DELAY", 3.1) if min_delay is None else min_delay
    top = env("MAX_DELAY", 90.0) if max_delay is None else max_delay
    grow = env("FACTOR", 1.618) if factor is None else factor
    yield random.random() * initial
    while delay < top:
        yield delay
        delay *= grow
    while True:
        yield top


# ---- servers ----------------------------------------------------------------


class ServerConnection(Connection):
    """A connection accepted by a :class:`Server`; handlers receive it."""

    def __init__(self, server: "Server", c, **kw: Any) -> None:
        super().__init__(server._driver, c, **kw)
        self.server = server
        self.request: Request = conn_request(c)
        self.remote_address: str | None = self.request.peer
        self._task: asyncio.Task | None = None

    def respond(self, status: int, text: str = "") -> Response:
        """A response refusing the upgrade, for ``process_request``."""
        return Response(status, text)

    def _opened_hook(self) -> None:
        self._task = self._loop.create_task(self.server._run_handler(self))

    def _closed_hook(self) -> None:
        self.server._conns.discard(self)
        self.server._check_done()


class Server:
    """A listening WebSocket server (from :func:`serve`).

    ``close()`` stops listening and closes every connection with 1001
    (going away); ``await wait_closed()`` waits until all connections and
    handlers are done; ``await serve_forever()`` runs until closed."""

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[Any]], host: str,
                 port: int, *, process_request: Callable[..., Any] | None = None,
                 process_response: Callable[..., Any] | None = None,
                 select_subprotocol: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        self.handler = handler
        self.host = host
        self._port_req = port
        self.process_request = process_request
        self.process_response = process_response
        self.select_subprotocol = select_subprotocol
        self._conn_kw = split_conn_kw(kwargs)
        split_tls(kwargs)
        self._opts = make_opts("server", **kwargs)
        if process_request is not None or process_response is not None:
            lib.tether_opts_set_http(self._opts, 1)  # plain requests reach the hooks
        self._conns: set[ServerConnection] = set()
        self._listener = ffi.NULL
        self._driver: _Driver = None  # type: ignore[assignment]
        self._closed: asyncio.Future | None = None
        self._done: asyncio.Future | None = None
        self._tasks: set[asyncio.Task] = set()
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

    def _on_request(self, c) -> None:
        conn = ServerConnection(self, c, **self._conn_kw)
        self._conns.add(conn)
        if self._listener == ffi.NULL:  # closing: no new connections
            lib.tether_conn_reject(c, 503, ffi.NULL)
            return
        if self._async_hook():
            self._later(decide_request, c, conn)
            return
        decide_request(c, conn, self.process_request, self.select_subprotocol,
                       self.process_response)

    def _on_http(self, c) -> None:
        if self._async_hook():
            self._later(answer_http, c, HTTPConnection(self, c))
            return
        answer_http(c, HTTPConnection(self, c), self.process_request, self.process_response)

    def _async_hook(self) -> bool:
        return inspect.iscoroutinefunction(self.process_request)

    def _later(self, decide: Callable[..., None], c, conn: Any) -> None:
        """A coroutine ``process_request`` (``async def``, as websockets'
        asyncio server allows): the event is held while it runs (so the
        connection waits, and lives), then its result is applied as a plain
        hook's would be (``process_response`` and ``select_subprotocol``
        run then, as plain functions), and the release makes the decision
        take effect."""
        ev = self._driver.core.claim()
        hook = self.process_request

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
                    decide(c, conn, pre, self.select_subprotocol, self.process_response)
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
            logger.exception("connection handler failed")
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
