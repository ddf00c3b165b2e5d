"""Asyncio clients: ``connect()``, as ``websockets.asyncio.client``."""

from __future__ import annotations

import asyncio
import os
import random
import traceback
from typing import Any, AsyncIterator, Callable, Generator, Iterator

from .._engine import Response, conn_headers, logger
from .._native import c_str, ffi, lib
from ..exceptions import (
    ConnectionClosed, InvalidStatus, InvalidURI, OpenTimeout, TLSError, error_from_code,
)
from ..options import make_opts, split_conn_kw, split_tls
from .connection import Connection, _client_driver, _Driver


class ClientConnection(Connection):
    """A client connection, from :func:`connect`."""

    def __init__(self, driver: _Driver, c: Any, uri: str, **kw: Any) -> None:
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
                self._conn_kw["logger"].info("connect failed; reconnecting in %.1f seconds: %s",
                                             delay,
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
