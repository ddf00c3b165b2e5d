"""The core shared by tether.asyncio and tether.sync: a tether context in
poll mode, its events turned into calls on Python connection objects, and
what the library says about a connection (request, response, close)."""

from __future__ import annotations

import enum
import logging
import os
import socket
import uuid
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ._native import c_str, ffi, lib, py_str, sync_log_level
from ._native import logger as logger  # re-exported: the connections and servers log with it
from .exceptions import (
    ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, error_from_code,
)

BATCH = 64  # at most what tpy_next_events takes at once
EVENT_COPY_MAX = 64 * 1024  # see Context

EV_WAKE = lib.TETHER_EV_WAKE
EV_REQUEST = lib.TETHER_EV_REQUEST
EV_OPEN = lib.TETHER_EV_OPEN
EV_MESSAGE = lib.TETHER_EV_MESSAGE
EV_FRAGMENT = lib.TETHER_EV_FRAGMENT
EV_PING = lib.TETHER_EV_PING
EV_PONG = lib.TETHER_EV_PONG
EV_DRAIN = lib.TETHER_EV_DRAIN
EV_CLOSED = lib.TETHER_EV_CLOSED
EV_HTTP = lib.TETHER_EV_HTTP
EV_HTTP_BODY = lib.TETHER_EV_HTTP_BODY
OP_TEXT = lib.TETHER_OP_TEXT
OP_BINARY = lib.TETHER_OP_BINARY
E_AGAIN = lib.TETHER_E_AGAIN
E_STATE = lib.TETHER_E_STATE
E_BACKPRESSURE = lib.TETHER_E_BACKPRESSURE
E_HS_STATUS = lib.TETHER_E_HS_STATUS

class Headers(Mapping[str, str]):
    """Handshake headers: a read-only, case-insensitive mapping, copied
    from the connection when the handshake was seen (so it outlives the
    connection and any thread may read it). A header that came several
    times is one value joined with ", " (``get_all`` gives them apart, as
    websockets' Headers); iteration gives the names as they came, in
    order."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._raw: list[tuple[str, str]] = []
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        for name, value in pairs:
            self._raw.append((name, value))
            key = name.lower()
            if key in self._values:
                self._values[key] += ", " + value
            else:
                self._values[key] = value
                self._names[key] = name

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name.lower(), default) if isinstance(name, str) else default

    def __getitem__(self, name: str) -> str:
        v: str | None = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def get_all(self, name: str) -> list[str]:
        """Every value of a header that came several times, in order (an
        empty list when it did not come)."""
        key = name.lower()
        return [v for n, v in self._raw if n.lower() == key]

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """The (name, value) pairs as they came, repeats included."""
        return iter(list(self._raw))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names.values()))

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


def conn_headers(c: Any) -> Headers:
    """Every header a connection's handshake received (a server: the
    request's; a client: the response's), copied. Call it on the thread
    that drives the context."""
    name = ffi.new("const char **")
    value = ffi.new("const char **")
    pairs = []
    for i in range(lib.tether_conn_header_count(c)):
        if lib.tether_conn_header_at(c, i, name, value) == 0:
            pairs.append((py_str(name[0]) or "", py_str(value[0]) or ""))
    return Headers(pairs)


class Request:
    """The upgrade request a server received."""

    def __init__(self, path: str, query: str | None, headers: Headers, peer: str | None) -> None:
        #: the path alone, without the query
        self.path_only = path
        #: the query string (without '?'), or None
        self.query = query
        #: the request target: path and query, as websockets' ``request.path``
        self.path = path + ("?" + query if query is not None else "")
        self.headers = headers
        #: the peer's address, "ip:port" ("[ip]:port" for IPv6)
        self.peer = peer

    def __repr__(self) -> str:
        return f"Request(path={self.path!r}, peer={self.peer!r})"


class MutableHeaders(Headers):
    """Headers of a response a server is about to send: ``process_response``
    may set (``headers["X-Name"] = "v"``, replacing a header of that name)
    and delete them."""

    def __setitem__(self, name: str, value: str) -> None:
        key = name.lower()
        self._values[key] = value
        self._names[key] = name
        self._raw = [(n, v) for n, v in self._raw if n.lower() != key] + [(name, value)]

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        del self._values[key]
        del self._names[key]
        self._raw = [(n, v) for n, v in self._raw if n.lower() != key]


class Response:
    """A response: what a client received (status 101 and its headers),
    or what a server's ``process_request`` returns to answer a plain HTTP
    request or refuse an upgrade (``Response(403, "forbidden")``, or
    ``connection.respond(200, "OK\\n")``). A str body is sent as UTF-8
    text/plain unless the headers name another Content-Type."""

    def __init__(self, status: int, body: str | bytes | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.status_code = status
        self.body = body
        self.headers: Mapping[str, str] = (headers if headers is not None
                                           else MutableHeaders())

    def __repr__(self) -> str:
        return f"Response(status={self.status})"


def to_response(resp: Any) -> Response:
    """What a hook returned (a :class:`Response`, a status, or a
    (status, body[, headers]) tuple) as a Response."""
    if isinstance(resp, Response):
        return resp
    if isinstance(resp, int):
        return Response(resp)
    status, body = resp[0], (resp[1] if len(resp) > 1 else None)
    return Response(status, body, MutableHeaders(dict(resp[2]) if len(resp) > 2 else None))


def conn_request(c: Any) -> Request:
    """The request of a server connection (during REQUEST or later)."""
    headers = conn_headers(c)
    return Request(py_str(lib.tether_conn_path(c)) or "/", py_str(lib.tether_conn_query(c)),
                   headers, py_str(lib.tether_conn_peer(c)))


# Headers tether writes itself on every response.
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date",
                          "content-type"})


def _add_headers(c: Any, resp: Response) -> None:
    for k, v in resp.headers.items():
        if k.lower() not in _OWN_HEADERS:
            rc = lib.tether_conn_add_header(c, c_str(k), c_str(v))
            if rc < 0:
                raise error_from_code(rc, what=f"header {k!r}")


def _body_bytes(resp: Response) -> bytes:
    body = resp.body
    return body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")


def _content_type(resp: Response) -> str | None:
    ctype = resp.headers.get("Content-Type")
    if ctype is None and resp.body is not None:
        ctype = "text/plain; charset=utf-8"
    return ctype


def reject_request(c: Any, resp: Any) -> None:
    """Refuses an upgrade with what ``process_request`` returned: a
    :class:`Response`, a status, or a (status, body[, headers]) tuple."""
    resp = to_response(resp)
    _add_headers(c, resp)
    ctype = _content_type(resp)
    if ctype is not None:
        rc = lib.tether_conn_add_header(c, b"Content-Type", c_str(ctype))
        if rc < 0:
            raise error_from_code(rc, what=f"Content-Type {ctype!r}")
    body = _body_bytes(resp)
    rc = lib.tether_conn_reject(c, int(resp.status), c_str(body) if body else ffi.NULL)
    if rc < 0:
        raise error_from_code(rc, what=f"reject with {resp.status}")


def _processed(conn: Any, resp: Response,
               process_response: Callable[..., Any] | None) -> Response:
    """The response after ``process_response(conn, request, response)``,
    which may change it in place or return another."""
    if process_response is None:
        return resp
    other = process_response(conn, conn.request, resp)
    return resp if other is None else to_response(other)


def origin_allowed(origin: str | None, origins: Sequence[Any]) -> bool:
    """Whether an Origin header value (None: none sent) is one of origins:
    equal to a str, fully matched by a re.Pattern, or None for none."""
    for allowed in origins:
        if allowed is None or isinstance(allowed, str):
            if origin == allowed:
                return True
        elif origin is not None and allowed.fullmatch(origin):
            return True
    return False


def decide_request(c: Any, conn: Any, process_request: Callable[..., Any] | None,
                   select_subprotocol: Callable[..., Any] | None,
                   process_response: Callable[..., Any] | None = None, *,
                   origins: Sequence[Any] | None = None) -> None:
    """A server's decision on an upgrade request, the same for the sync and
    asyncio servers: ``process_request(conn, request)`` may refuse it,
    ``select_subprotocol(conn, offered)`` may choose a sub-protocol, and
    ``process_response(conn, request, response)`` sees the response
    (status 101, where it may add headers, or the refusal) and may replace
    it. With ``origins``, a request whose Origin header is not among them
    is refused with 403 (after process_request, as websockets does: against
    cross-site WebSocket hijacking). A hook that raises refuses with 500
    (and is logged). Called during the REQUEST event, on the thread that
    drives the context."""
    try:
        if process_request is not None:
            resp = process_request(conn, conn.request)
            if resp is not None:
                reject_request(c, _processed(conn, to_response(resp), process_response))
                return
        if origins is not None:
            origin = conn.request.headers.get("Origin")
            if not origin_allowed(origin, origins):
                body = f"Failed to open a WebSocket connection: invalid Origin header: {origin}.\n"
                reject_request(c, _processed(conn, Response(403, body), process_response))
                return
        if select_subprotocol is not None:
            offered = conn.request.headers.get("Sec-WebSocket-Protocol") or ""
            choices = [p.strip() for p in offered.split(",") if p.strip()]
            chosen = select_subprotocol(conn, choices)
            if chosen is not None:
                rc = lib.tether_conn_accept(c, c_str(chosen))
                if rc < 0:
                    raise error_from_code(rc, what=f"select sub-protocol {chosen!r}")
        if process_response is not None:
            resp = _processed(conn, Response(101), process_response)
            if resp.status != 101:
                reject_request(c, resp)
            else:
                _add_headers(c, resp)
    except Exception:
        logger.exception("process_request / select_subprotocol / process_response failed")
        lib.tether_conn_reject(c, 500, ffi.NULL)


class ListenerSockets:
    """``server.sockets`` as websockets has it, for the servers: socket
    objects for the listening socket (duplicates of the library's
    descriptor, closed with the server), e.g. to read the port with
    ``server.sockets[0].getsockname()``."""

    _listener: Any = ffi.NULL
    _socks: list[socket.socket] | None = None

    @property
    def sockets(self) -> list[socket.socket]:
        if self._listener == ffi.NULL:
            return []
        if self._socks is None:
            self._socks = [socket.socket(fileno=os.dup(lib.tether_listener_fd(self._listener)))]
        return list(self._socks)

    def _close_sockets(self) -> None:
        for s in self._socks or ():
            s.close()
        self._socks = None


class HTTPConnection:
    """A plain HTTP request on a WebSocket server's port (no Upgrade), as
    ``process_request`` and ``process_response`` see it: ``request``,
    ``remote_address``, ``respond()`` and the ``server``. It never becomes
    a WebSocket."""

    def __init__(self, server: Any, c: Any) -> None:
        self.server = server
        self.request: Request = conn_request(c)
        #: the client's address, (host, port) or (host, port, 0, 0)
        self.remote_address = address_tuple(self.request.peer)
        #: a UUID, as websockets'; conn_id is the C library's id (its log lines' "conn N")
        self.id: uuid.UUID = uuid.uuid4()
        self.conn_id: int = lib.tether_conn_id(c)

    def respond(self, status: int, text: str = "") -> Response:
        """A text/plain response, as websockets' ``respond()``."""
        return Response(status, text)

    def __repr__(self) -> str:
        return f"HTTPConnection({self.request!r})"


UPGRADE_REQUIRED = ("Failed to open a WebSocket connection: this server answers "
                    "WebSocket upgrades here.\n")


def answer_http(c: Any, conn: HTTPConnection, process_request: Callable[..., Any] | None,
                process_response: Callable[..., Any] | None) -> None:
    """Answers a plain HTTP request with what ``process_request`` returns;
    None (the request wanted a WebSocket but is no upgrade) gets 426, as
    websockets answers it. A hook that raises gets 500 (and is logged).
    The request's body, if any, is not read: it is dropped."""
    try:
        resp = process_request(conn, conn.request) if process_request is not None else None
        resp = Response(426, UPGRADE_REQUIRED) if resp is None else to_response(resp)
        resp = _processed(conn, resp, process_response)
        _add_headers(c, resp)
        body = _body_bytes(resp)
        ctype = _content_type(resp)
        rc = lib.tether_conn_respond(c, int(resp.status), c_str(ctype) if ctype else ffi.NULL,
                                     body, len(body))
        if rc < 0:
            raise error_from_code(rc, what=f"respond with {resp.status}")
    except Exception:
        logger.exception("process_request / process_response failed on a plain HTTP request")
        lib.tether_conn_respond(c, 500, ffi.NULL, ffi.NULL, 0)


def closed_exception(code: int, reason: str, clean: bool, error: int,
                     text: str | None) -> ConnectionClosed:
    """ConnectionClosedOK for a clean 1000/1001/1005, else ...Error."""
    ok = clean and not error and code in (1000, 1001, 1005)
    cls = ConnectionClosedOK if ok else ConnectionClosedError
    return cls(code, reason, clean=clean, error=error, text=text)


class ConnectionStats:
    """A connection's figures (the C library's ``tether_stats``): the
    opening's steps in microseconds (``resolve_us``, ``connect_us``,
    ``proxy_us``, ``tls_us``, ``handshake_us``; 0 when a step did not
    happen), ping round trips (``rtt_us``, ``rtt_min_us``, ``rtt_max_us``,
    ``rtt_samples``), bytes on the wire (``wire_in``, ``wire_out``),
    messages and their payload as the application sees them
    (``messages_in``, ``messages_out``, ``payload_in``, ``payload_out``) and
    ``reconnects``."""

    FIELDS = ("resolve_us", "connect_us", "proxy_us", "tls_us", "handshake_us", "rtt_us",
              "rtt_min_us", "rtt_max_us", "rtt_samples", "wire_in", "wire_out", "messages_in",
              "messages_out", "payload_in", "payload_out", "reconnects")
    __slots__ = FIELDS

    def __init__(self, c: Any = None) -> None:
        st = ffi.new("tether_stats *")
        if c is not None and c != ffi.NULL:
            lib.tether_conn_stats(c, st, ffi.sizeof("tether_stats"))
        for name in self.FIELDS:
            setattr(self, name, int(getattr(st, name)))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self) -> str:
        return "ConnectionStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


class CloseInfo:
    """What a CLOSED event said, read before the event is released."""

    __slots__ = ("code", "reason", "clean", "error", "text", "os_error", "status", "headers",
                 "stats")

    def __init__(self, e: Any) -> None:
        ev, c = e.ev, e.conn
        n = ffi.new("size_t *")
        r = lib.tether_event_close_reason(ev, n)
        self.code: int = lib.tether_event_close_code(ev)
        self.reason: str = ffi.buffer(r, n[0])[:].decode("utf-8", "replace")
        self.clean: bool = bool(lib.tether_event_clean(ev))
        self.error: int = lib.tether_event_error(ev)
        self.text: str | None = py_str(lib.tether_conn_error_text(c))
        self.os_error: int = lib.tether_conn_os_error(c)
        self.stats = ConnectionStats(c)  # the last figures, kept after the end
        self.status = 0
        self.headers: dict[str, str] = {}
        if self.error == E_HS_STATUS:
            self.status = lib.tether_conn_http_status(c)
            self.headers = dict(conn_headers(c).items())

    def open_error(self) -> Exception:
        """The exception for a connection that ended before it opened."""
        if not self.error:
            return ConnectionClosedError(self.code, self.reason, clean=self.clean, error=0)
        return error_from_code(self.error, self.text, status=self.status, headers=self.headers,
                               os_error=self.os_error)

    def closed_error(self) -> ConnectionClosed:
        return closed_exception(self.code, self.reason, self.clean, self.error, self.text)


class Sink:
    """What a connection object implements to receive its events (all
    called on the thread that drives the context)."""

    _handle: Any = None

    def _on_open(self) -> None: ...
    def _on_message(self, data: str | bytes) -> None: ...
    def _on_ping(self, data: bytes) -> None: ...
    def _on_pong(self, data: bytes) -> None: ...
    def _on_drain(self) -> None: ...
    def _on_closed(self, info: CloseInfo) -> None: ...


def address_tuple(text: str | None) -> tuple[Any, ...] | None:
    """"ip:port" -> (ip, port); "[ip]:port" -> (ip, port, 0, 0), the shapes
    of Python's socket addresses (and so of websockets' remote_address)."""
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if host.startswith("["):
        return (host[1:-1], int(port), 0, 0)
    return (host, int(port))


def conn_address(c: Any, which: int) -> tuple[Any, ...] | None:
    """One of a connection's addresses (lib.TETHER_ADDRESS_PEER or _LOCAL)
    as a tuple, or None when it has none (an HTTP/2 stream's own)."""
    buf = ffi.new("char[]", lib.TETHER_ADDRESS_MAX)
    if lib.tether_conn_address(c, which, buf, lib.TETHER_ADDRESS_MAX) <= 0:
        return None
    return address_tuple(ffi.string(buf).decode())


class State(enum.IntEnum):
    """A connection's state, as websockets' ``State``."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class ConnectionInfo:
    """The read-only facts of a connection, shared by the sync and asyncio
    connection classes (which set the attributes below)."""

    _local_address: tuple[Any, ...] | None = None
    _remote_address: tuple[Any, ...] | None = None
    _subprotocol: str | None = None
    _extensions: str | None = None
    _tls: tuple[str | None, str | None] = (None, None)
    _http2_stream: int = 0
    _info: CloseInfo | None = None
    state: State = State.CONNECTING

    def _note_open(self, c: Any) -> None:
        """Keeps what the connection agreed on when it opened (read after
        its end too)."""
        self._subprotocol = py_str(lib.tether_conn_protocol(c))
        self._extensions = py_str(lib.tether_conn_extensions(c))
        self._tls = (py_str(lib.tether_conn_tls_version(c)), py_str(lib.tether_conn_tls_cipher(c)))
        self._http2_stream = max(0, lib.tether_conn_http2_stream(c))
        self._local_address = conn_address(c, lib.TETHER_ADDRESS_LOCAL)
        self._remote_address = conn_address(c, lib.TETHER_ADDRESS_PEER)

    @property
    def remote_address(self) -> tuple[Any, ...] | None:
        """The other end's address, as websockets gives it: (host, port),
        (host, port, 0, 0) for IPv6; None before it is known."""
        return self._remote_address

    @property
    def local_address(self) -> tuple[Any, ...] | None:
        """This end's address, in the same shape."""
        return self._local_address

    @property
    def subprotocol(self) -> str | None:
        """The sub-protocol agreed on, or None."""
        return self._subprotocol

    @property
    def extensions(self) -> str | None:
        """The Sec-WebSocket-Extensions value in force (e.g.
        "permessage-deflate; ..."), or None."""
        return self._extensions

    @property
    def tls_version(self) -> str | None:
        """"TLSv1.3" and so on, or None for a cleartext connection."""
        return self._tls[0]

    @property
    def tls_cipher(self) -> str | None:
        """The TLS cipher suite, or None."""
        return self._tls[1]

    @property
    def http2_stream(self) -> int:
        """The HTTP/2 stream the WebSocket is on (RFC 8441), or 0 when it
        has a TCP connection of its own (HTTP/1.1)."""
        return self._http2_stream

    @property
    def stats(self) -> ConnectionStats:
        """The connection's figures now (after the end: the last ones):
        the opening's steps, ping round trips, bytes and messages each way."""
        c = getattr(self, "_c", None)
        if c is not None:
            return ConnectionStats(c)
        return self._info.stats if self._info else ConnectionStats()

    @property
    def close_code(self) -> int | None:
        """The close code once closed, else None."""
        return self._info.code if self._info else None

    @property
    def close_reason(self) -> str | None:
        """The close reason once closed, else None."""
        return self._info.reason if self._info else None

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self.state == 3


class Context:
    """A tether_ctx in poll mode with a table of live connection objects.

    ``on_request(c)`` is called for each REQUEST event (servers) and must
    attach a Sink to c with :meth:`attach`; ``on_wake()`` for WAKE events;
    ``on_http(c)`` for each plain HTTP request (servers made with
    ``process_request`` or ``process_response``), which it answers."""

    def __init__(self, on_request: Callable[[Any], None] | None = None,
                 on_wake: Callable[[], None] | None = None,
                 on_http: Callable[[Any], None] | None = None) -> None:
        sync_log_level()
        ctx = lib.tether_ctx_new()
        if ctx == ffi.NULL:
            raise OSError("tether_ctx_new failed (out of file descriptors or memory?)")
        self.ctx = ctx
        # Every payload becomes a Python object (a copy) anyway: let the C
        # library copy those up to 64 KiB into their events, so a batch holds
        # every message a read brought, not one per connection per release.
        lib.tether_ctx_set_event_copy(ctx, EVENT_COPY_MAX)
        self.fd: int = lib.tether_ctx_fd(ctx)
        self.on_request = on_request
        self.on_wake = on_wake
        self.on_http = on_http
        self.live: set[Sink] = set()
        self._evs = ffi.new("tpy_event[]", BATCH)
        self._current: Any = None
        self.closed = False

    def claim(self) -> Any:
        """Keeps the event being dispatched from the batch's release: the
        caller releases it (tether_event_release) when done. A REQUEST's
        decision takes effect then, and a held event keeps its connection
        alive (an asyncio hook awaiting something uses this)."""
        e = self._current
        ev, e.ev = e.ev, ffi.NULL
        return ev

    def attach(self, c: Any, sink: Sink) -> None:
        """Makes c's events go to sink (until its CLOSED event)."""
        sink._handle = ffi.new_handle(sink)
        lib.tether_conn_set_user(c, sink._handle)
        self.live.add(sink)

    def poll(self, timeout_ms: int = 0) -> int:
        """Handles up to BATCH events, waiting up to timeout_ms for the
        first. Returns how many were handled (negative: a C error)."""
        evs = self._evs
        n: int = lib.tpy_next_events(self.ctx, evs, BATCH, timeout_ms)
        if n <= 0:
            return n
        try:
            for i in range(n):
                e = evs[i]
                try:
                    if e.type == EV_MESSAGE:  # most events: handled here, one call less
                        buf = ffi.buffer(e.data, e.len)
                        ffi.from_handle(e.user)._on_message(
                            str(buf, "utf-8") if e.opcode == OP_TEXT else buf[:])
                    else:
                        self._current = e
                        self._dispatch(e)
                except Exception:  # a bug in a callback must not lose the others
                    logger.exception("error while handling a tether event")
                    self._failed(e)
        finally:
            self._current = None
            lib.tpy_release_events(evs, n)
        return n

    def _dispatch(self, e: Any) -> None:
        t = e.type  # (MESSAGE: see poll)
        if t == EV_DRAIN:
            if e.user != ffi.NULL:
                ffi.from_handle(e.user)._on_drain()
        elif t == EV_OPEN:
            if e.user != ffi.NULL:
                ffi.from_handle(e.user)._on_open()
        elif t == EV_PING or t == EV_PONG:
            if e.user != ffi.NULL:
                data = ffi.buffer(e.data, e.len)[:]
                sink = ffi.from_handle(e.user)
                (sink._on_ping if t == EV_PING else sink._on_pong)(data)
        elif t == EV_CLOSED:
            if e.user == ffi.NULL:
                return
            sink = ffi.from_handle(e.user)
            info = CloseInfo(e)
            lib.tether_conn_set_user(e.conn, ffi.NULL)
            self.live.discard(sink)
            try:
                sink._on_closed(info)
            finally:
                sink._handle = None
        elif t == EV_REQUEST:
            if self.on_request is not None:
                self.on_request(e.conn)
            else:
                lib.tether_conn_reject(e.conn, 503, ffi.NULL)
        elif t == EV_WAKE:
            if self.on_wake is not None:
                self.on_wake()
        elif t == EV_HTTP:
            if self.on_http is not None:
                self.on_http(e.conn)
            else:
                lib.tether_conn_respond(e.conn, 404, ffi.NULL, ffi.NULL, 0)
        # EV_HTTP_BODY: a plain request's body, which the hooks do not read

    @staticmethod
    def _failed(e: Any) -> None:
        """Tells the connection whose callback raised (a sink with an
        ``_on_error``), unless the event was its last."""
        if e.type != EV_CLOSED and e.type != EV_REQUEST and e.user != ffi.NULL:
            on_error = getattr(ffi.from_handle(e.user), "_on_error", None)
            if on_error is not None:
                try:
                    on_error()
                except Exception:
                    logger.exception("error while closing after a failed callback")

    def free(self) -> None:
        """Frees the context: every connection and listener ends at once."""
        if self.closed:
            return
        self.closed = True
        lib.tether_ctx_free(self.ctx)
        self.ctx = ffi.NULL
        for sink in list(self.live):
            sink._handle = None
        self.live.clear()


def encode_message(message: Any) -> tuple[int, Any]:
    """(opcode, bytes-like) for a str (TEXT) or bytes-like (BINARY)."""
    if isinstance(message, str):
        return OP_TEXT, message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return OP_BINARY, message
    raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")


def close_args(code: int, reason: str) -> tuple[int, Any]:
    """Validates a close code and reason for tether_conn_close()."""
    if not isinstance(reason, str):
        raise TypeError("reason must be a str")
    r = reason.encode("utf-8")
    if len(r) > lib.TETHER_MAX_CLOSE_REASON:
        raise ValueError(f"close reason longer than {lib.TETHER_MAX_CLOSE_REASON} bytes")
    if b"\0" in r:
        raise ValueError("close reason must not contain NUL")
    if code and not lib.tether_close_code_sendable(code):
        raise ValueError(f"close code {code} cannot be sent")
    return code, ffi.new("char[]", r)


def log_handler_error(msg: str) -> None:
    logger.log(logging.ERROR, msg, exc_info=True)
