"""The asyncio connection, common to clients and servers, and the driver
that runs a context for it (see :mod:`tether.asyncio`)."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Iterable, Optional, Union

from .._engine import (
    BATCH, E_BACKPRESSURE, E_STATE, OP_BINARY, OP_TEXT, CloseInfo, ConnectionInfo, Context, Sink,
    close_args, encode_message,
)
from .._engine import State as State  # re-exported: the server and tether.asyncio use it
from .._native import ffi, lib, py_str
from .._native import logger as _logger
from ..exceptions import ConcurrencyError, ConnectionClosed, ConnectionClosedOK, error_from_code


Data = Union[str, bytes]


SEND_BATCH = 32  # see _Driver.sent


class _Driver:
    """Runs one tether context inside an asyncio loop (see the module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 on_request: Callable[[Any], None] | None = None, shared: bool = False,
                 on_http: Callable[[Any], None] | None = None) -> None:
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


def _future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    return loop.create_future()


def _resolve(fut: Optional[asyncio.Future[Any]], value: Any = None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(value)


def _fail(fut: Optional[asyncio.Future[Any]], exc: BaseException) -> None:
    if fut is not None and not fut.done():
        fut.set_exception(exc)


class Connection(Sink, ConnectionInfo):
    """A WebSocket connection (common to clients and servers).

    Receive with ``await recv()`` or ``async for message in connection``;
    send with ``await send(message)``: a ``str`` goes as a text message,
    bytes-like as binary, an iterable of either as one fragmented message.
    Received text arrives as ``str``, binary as ``bytes``."""

    def __init__(self, driver: _Driver, c: Any, *, max_queue: int | None = 16,
                 write_limit: int | None = 64 * 1024, close_timeout: float | None = 10.0,
                 logger: Any = None) -> None:
        self._driver = driver
        #: where this connection's own messages go (``logger=``; default "tether")
        self.logger: Any = logger if logger is not None else _logger
        self._loop = driver.loop
        self._c = c
        #: a UUID, as websockets'; conn_id is the C library's id (its log lines' "conn N")
        self.id: uuid.UUID = uuid.uuid4()
        self.conn_id: int = lib.tether_conn_id(c)
        self.state = State.CONNECTING
        self._messages: Deque[Data] = collections.deque()
        self._recv_waiter: asyncio.Future[Any] | None = None
        self._recv_busy = False
        self._drain_waiter: asyncio.Future[Any] | None = None
        self._opened: asyncio.Future[Connection] = _future(self._loop)
        self._closed_fut: asyncio.Future[None] = _future(self._loop)
        self._pings: "collections.OrderedDict[bytes, tuple[asyncio.Future[float], float]]" = (
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
        self._note_open(c)
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
            # (mypy does not narrow message on `tm is str`; an isinstance()
            # would cost a call here. The annotation makes no code.)
            data: Any
            data = message.encode("utf-8") if tm is str else message  # type: ignore[union-attr]
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
            chunks = [m async for m in message]
        elif hasattr(message, "__iter__"):
            chunks = list(message)
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
