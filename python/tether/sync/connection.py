"""The blocking connection, common to clients and servers, and the driver
that runs a context for it (see :mod:`tether.sync`)."""

from __future__ import annotations

import collections
import os
import threading
import time
import uuid
from typing import Any, Callable, Deque, Iterable, Iterator, Union

from .._engine import (
    E_BACKPRESSURE, E_STATE, CloseInfo, ConnectionInfo, Context, Sink, State, close_args,
    encode_message, logger,
)
from .._native import lib, py_str
from .._native import logger as _logger
from ..exceptions import ConcurrencyError, ConnectionClosed, ConnectionClosedOK, error_from_code


Data = Union[str, bytes]

CONNECTING, OPEN, CLOSING, CLOSED = State.CONNECTING, State.OPEN, State.CLOSING, State.CLOSED


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

    def __init__(self, driver: _IODriver, c: Any, *, max_queue: int | None = 16,
                 write_limit: int | None = 64 * 1024, close_timeout: float | None = 10.0,
                 logger: Any = None) -> None:
        self._driver = driver
        #: where this connection's own messages go (``logger=``; default "tether")
        self.logger: Any = logger if logger is not None else _logger
        self._c = c
        #: a UUID, as websockets'; conn_id is the C library's id (its log lines' "conn N")
        self.id: uuid.UUID = uuid.uuid4()
        self.conn_id: int = lib.tether_conn_id(c)
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
        self._note_open(c)
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
