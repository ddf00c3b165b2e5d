"""Callbacks instead of coroutines: asyncio's Protocol/Transport shape for
WebSocket messages, for servers and clients whose per-message work is
small enough that a coroutine wake-up per message would be most of it.

::

    class Echo(tether.protocol.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def message_received(self, message):
            self.transport.send(message)

    server = await tether.protocol.serve(Echo, "127.0.0.1", 8765)
    transport, client = await tether.protocol.connect(MyClient, "ws://127.0.0.1:8765/")

The callbacks run on the event loop's thread, straight from the loop's
look at the C library's events (no task, no future per message). They
must not block; a callback that raises is logged and its connection is
closed with 1011. Sends made inside callbacks go out together when the
round of events ends: one write per connection.

Flow control as asyncio's: ``pause_writing()`` when more than
``write_limit`` bytes wait to be written, ``resume_writing()`` once they
have drained; ``transport.pause_reading()`` / ``resume_reading()`` stop
and restart delivery. Past ``send_limit`` (64 MiB by default) a send
raises instead of buffering further.

The options are those of :func:`tether.asyncio.connect` and
:func:`tether.asyncio.serve` (``max_queue`` excepted: nothing is queued).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable, Tuple, TypeVar, Union

from ._engine import (
    ConnectionInfo, E_STATE, OP_BINARY, OP_TEXT, CloseInfo, Request, Response, Sink, close_args,
    address_tuple, conn_headers, conn_request, encode_message,
)
from ._native import c_str, ffi, lib, py_str
from .asyncio import Server, State, _client_driver, _Driver, _resolve
from .asyncio import serve as _serve
from .exceptions import (
    ConnectionClosed, ConnectionClosedOK, InvalidURI, OpenTimeout, error_from_code,
)
from .options import make_opts, split_tls

__all__ = ["Protocol", "Transport", "serve", "connect"]

Data = Union[str, bytes]
P = TypeVar("P", bound="Protocol")
_OPEN = State.OPEN


class Protocol:
    """What a connection's events call. Subclass it and override what you
    need; every method is called on the event loop's thread."""

    def connection_made(self, transport: "Transport") -> None:
        """The connection is open (the handshake is done)."""

    def message_received(self, message: Data) -> None:
        """A whole message: ``str`` for text, ``bytes`` for binary."""

    def pong_received(self, data: bytes) -> None:
        """A pong came (an answer to :meth:`Transport.ping`, or unsolicited)."""

    def pause_writing(self) -> None:
        """More than ``write_limit`` bytes wait to be written: stop sending
        until :meth:`resume_writing`."""

    def resume_writing(self) -> None:
        """What waited to be written has drained."""

    def connection_lost(self, exc: ConnectionClosed) -> None:
        """The connection is over: ``exc.code`` and ``exc.reason`` are the
        close code and reason; a ConnectionClosedOK for a clean 1000, 1001
        or 1005, else a ConnectionClosedError. Called once, last, and only
        after connection_made."""


class Transport(Sink, ConnectionInfo):
    """One WebSocket connection, as its protocol sees it."""

    def __init__(self, driver: _Driver, c: Any, protocol_factory: Callable[[], Protocol],
                 write_limit: int | None) -> None:
        self._driver = driver
        self._c = c
        #: a UUID, as websockets'; conn_id is the C library's id (its log lines' "conn N")
        self.id: uuid.UUID = uuid.uuid4()
        self.conn_id: int = lib.tether_conn_id(c)
        self.state = State.CONNECTING
        self._factory = protocol_factory
        self.protocol: Protocol | None = None
        self._write_limit = write_limit
        self._writing_paused = False
        self._reading_paused = False
        self._info: CloseInfo | None = None
        self._closed_fut: asyncio.Future[None] | None = None
        self._task = None  # Server.wait_closed looks for a handler task
        driver.ref()
        driver.core.attach(c, self)

    # ---- events (called from the driver) -------------------------------

    def _on_open(self) -> None:
        c = self._c
        self.state = State.OPEN
        self._note_open(c)
        self._opened_hook()
        protocol = self.protocol = self._factory()
        # The hot path calls the protocol's own bound method: no hop here.
        self._on_message = protocol.message_received  # type: ignore[method-assign,assignment]
        protocol.connection_made(self)

    def _opened_hook(self) -> None:
        pass

    def _on_pong(self, data: bytes) -> None:
        if self.protocol is not None:
            self.protocol.pong_received(data)

    def _on_drain(self) -> None:
        if self._writing_paused:
            self._writing_paused = False
            if self.protocol is not None:
                self.protocol.resume_writing()

    def _on_closed(self, info: CloseInfo) -> None:
        self.state = State.CLOSED
        self._info = info
        self._c = None
        self._closed_hook(info)
        _resolve(self._closed_fut, None)
        self._driver.unref()
        if self.protocol is not None:
            self.protocol.connection_lost(info.closed_error())

    def _closed_hook(self, info: CloseInfo) -> None:
        pass

    def _on_error(self) -> None:
        """A callback raised (logged by the driver): close with 1011, as
        a failed handler's connection is closed."""
        if self._c is not None and self.state == State.OPEN:
            self.close(1011, "")

    # ---- sending ----------------------------------------------------------

    def send(self, message: Data) -> None:
        """Queues a message: ``str`` as text, bytes-like as binary. Never
        blocks; the bytes go out when the current round of events ends
        (or on the loop's next turn when called from elsewhere). Raises
        ConnectionClosed once the connection is closing or closed, and a
        WebSocketException past ``send_limit`` bytes waiting."""
        c = self._c
        if c is None or self.state != _OPEN:
            raise self._closed_error()
        tm = type(message)
        if tm is str:
            data = message.encode("utf-8")  # type: ignore[union-attr]
            rc = lib.tether_conn_send(c, OP_TEXT, data, len(data))
        elif tm is bytes:
            rc = lib.tether_conn_send(c, OP_BINARY, message, len(message))
        else:
            opcode, data = encode_message(message)
            rc = lib.tether_conn_send(c, opcode, ffi.from_buffer(data), len(data))
        if rc != 0:
            if rc == E_STATE:
                raise self._closed_error()
            raise error_from_code(rc, what="send")
        d = self._driver
        if not d._soon:  # (inside the driver's run it is: nothing to schedule)
            d.kick()
        limit = self._write_limit
        if limit is not None and not self._writing_paused and \
                lib.tether_conn_buffered(c) > limit:
            self._writing_paused = True
            self.protocol.pause_writing()  # type: ignore[union-attr]

    def ping(self, data: str | bytes = b"") -> None:
        """Sends a ping (at most 125 bytes); its pong comes to
        :meth:`Protocol.pong_received`."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        data = bytes(data)
        c = self._c
        if c is None or self.state != State.OPEN:
            raise self._closed_error()
        rc = lib.tether_conn_ping(c, data, len(data))
        if rc < 0:
            raise self._closed_error() if rc == E_STATE else error_from_code(rc, what="ping")
        self._driver.kick()

    def get_write_buffer_size(self) -> int:
        """Bytes waiting to be written."""
        return int(lib.tether_conn_buffered(self._c)) if self._c is not None else 0

    def _closed_error(self) -> ConnectionClosed:
        if self._info is not None:
            return self._info.closed_error()
        return ConnectionClosedOK(1000, "", clean=True)

    # ---- reading ----------------------------------------------------------

    def pause_reading(self) -> None:
        """Stops delivering messages (the peer is held back by TCP) until
        :meth:`resume_reading`."""
        if self._c is not None and not self._reading_paused:
            self._reading_paused = True
            lib.tether_conn_pause_reading(self._c, 1)

    def resume_reading(self) -> None:
        if self._c is not None and self._reading_paused:
            self._reading_paused = False
            lib.tether_conn_pause_reading(self._c, 0)
            self._driver.kick()

    def is_reading(self) -> bool:
        return self._c is not None and not self._reading_paused

    # ---- closing ----------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake; connection_lost follows when it
        is done (or the close timeout has passed)."""
        code, r = close_args(code, reason)
        if self._c is not None and self.state in (State.OPEN, State.CONNECTING):
            if lib.tether_conn_close(self._c, code, r) == 0:
                self.state = State.CLOSING
            self._driver.kick()

    def is_closing(self) -> bool:
        return self.state != State.OPEN

    async def wait_closed(self) -> None:
        """Waits until the connection is closed."""
        if self.state == State.CLOSED:
            return
        if self._closed_fut is None:
            self._closed_fut = self._driver.loop.create_future()
        await asyncio.shield(self._closed_fut)


class _ServerTransport(Transport):
    def __init__(self, server: "_ProtocolServer", c: Any) -> None:
        super().__init__(server._driver, c, server.protocol_factory, server._write_limit)
        self.server = server
        self.request: Request = conn_request(c)
        self._remote_address = address_tuple(self.request.peer)

    def respond(self, status: int, text: str = "") -> Response:
        """A response refusing the upgrade, for ``process_request``."""
        return Response(status, text)

    def _closed_hook(self, info: CloseInfo) -> None:
        self.server._conns.discard(self)
        self.server._check_done()


class _ClientTransport(Transport):
    def __init__(self, driver: _Driver, c: Any, factory: Callable[[], Protocol],
                 write_limit: int | None, uri: str) -> None:
        super().__init__(driver, c, factory, write_limit)
        self.uri = uri
        self.response: Response | None = None
        self._opened: asyncio.Future[Transport] = driver.loop.create_future()

    def _opened_hook(self) -> None:
        self.response = Response(lib.tether_conn_http_status(self._c), None,
                                 conn_headers(self._c))

    def _on_open(self) -> None:
        super()._on_open()
        _resolve(self._opened, self)

    def _closed_hook(self, info: CloseInfo) -> None:
        if not self._opened.done():
            self._opened.set_exception(info.open_error())
            self._opened.exception()  # mark retrieved: connect re-raises it


class _ProtocolServer(Server):
    """A :class:`tether.asyncio.Server` whose connections are transports
    driving protocols instead of handler coroutines."""

    def __init__(self, protocol_factory: Callable[[], Protocol], host: str, port: int,
                 **kwargs: Any) -> None:
        self.protocol_factory = protocol_factory
        self._write_limit = kwargs.pop("write_limit", 64 * 1024)
        kwargs.pop("max_queue", None)

        async def no_handler(_conn: Any) -> None:
            return None

        super().__init__(no_handler, host, port, write_limit=self._write_limit, **kwargs)

    def _new_connection(self, c: Any) -> Any:
        return _ServerTransport(self, c)


class serve(_serve):
    """Starts a server whose connections each get ``protocol_factory()``:
    ``server = await serve(Factory, host, port)`` or ``async with``.
    The server is a :class:`tether.asyncio.Server` (``port``, ``close()``,
    ``wait_closed()``, ``serve_forever()``); ``process_request``,
    ``process_response`` and ``select_subprotocol`` work as there, given
    the transport in place of the connection. Each transport has
    ``request`` and ``remote_address``."""

    def __init__(self, protocol_factory: Callable[[], Protocol],
                 host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        # (awaiting and async with are tether.asyncio.serve's)
        self._server = _ProtocolServer(protocol_factory, host, port, **kwargs)


async def connect(protocol_factory: Callable[[], P], uri: str,
                  **kwargs: Any) -> Tuple[Transport, P]:
    """Opens a client connection; returns ``(transport, protocol)`` once
    it is open (connection_made has run). Fails as
    :func:`tether.asyncio.connect` does (InvalidURI, ConnectionFailed,
    InvalidStatus, OpenTimeout, TLS errors...)."""
    if not isinstance(uri, str):
        raise TypeError("uri must be a str")
    write_limit = kwargs.pop("write_limit", 64 * 1024)
    kwargs.pop("max_queue", None)
    kwargs.pop("logger", None)  # (a transport logs nothing of its own)
    split_tls(kwargs)
    open_timeout = kwargs.get("open_timeout", 10.0)
    opts = make_opts("client", write_limit=write_limit, **kwargs)
    loop = asyncio.get_running_loop()
    driver = _client_driver(loop)
    out = ffi.new("tether_conn **")
    rc = lib.tether_connect(driver.ctx, c_str(uri, "uri"), opts, out)
    if rc < 0:
        if driver.refs == 0:
            driver.ref()
            driver.unref()
        if rc == lib.TETHER_E_INVAL:
            raise InvalidURI(uri)
        raise error_from_code(rc, what=f"connect to {uri}")
    t = _ClientTransport(driver, out[0], protocol_factory, write_limit, uri)
    driver.kick()
    # The library enforces open_timeout; this outer bound only guards
    # against a lost event.
    limit = None if not open_timeout else 2 * open_timeout + 5
    try:
        await asyncio.wait_for(asyncio.shield(t._opened), limit)
    except BaseException as exc:
        if t._c is not None:
            lib.tether_conn_close(t._c, 1001, ffi.new("char[]", b""))
            driver.kick()
        if isinstance(exc, asyncio.TimeoutError):
            raise OpenTimeout() from None
        raise
    return t, t.protocol  # type: ignore[return-value]
