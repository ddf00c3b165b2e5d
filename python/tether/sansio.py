"""The protocol layer without I/O: bring bytes, get frames and handshakes;
build the bytes to send. Nothing here touches a socket, so it fits any
transport (your own asyncio protocol, trio, a test harness...).

::

    from tether.sansio import FrameParser, build_frame, Role, Opcode

    parser = FrameParser(Role.SERVER)           # frames a server receives
    data = build_frame(Opcode.TEXT, b"hi", role=Role.CLIENT)   # masked
    [frame] = parser.feed(data)
    assert frame.payload == b"hi" and frame.fin

Errors in received data raise :class:`~tether.exceptions.ProtocolError`
(``close_code`` says which code to close with), a refused handshake
:class:`~tether.exceptions.InvalidHandshake` (``http_status`` on a server
says what to answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, cast

from ._native import c_str, ffi, lib, py_str
from ._engine import closed_exception
from .constants import Opcode, Role
from .options import make_opts
from .exceptions import (
    ConnectionClosed, InvalidHandshake, InvalidStatus, NegotiationError, PayloadTooBig, ProtocolError,
    error_from_code,
)

__all__ = [
    "Role", "Opcode", "Frame", "FrameParser", "build_frame", "frame_header", "mask",
    "build_close", "parse_close", "close_code_sendable", "validate_utf8", "Utf8Validator",
    "generate_key", "accept_key", "ClientHandshake", "ServerHandshake", "PerMessageDeflate",
    "Connection", "Event", "Message", "Fragment", "Ping", "Pong", "Drain", "Closed",
]

Bytes = Union[bytes, bytearray, memoryview]


def _role(role: Union[Role, str, int]) -> int:
    if isinstance(role, str):
        return Role[role.upper()]
    return int(Role(role))


def _raise(rc: int, text: str | None = None) -> None:
    if rc >= 0:
        return
    exc = error_from_code(rc, text)
    raise exc


# ---- frames -------------------------------------------------------------------


@dataclass
class Frame:
    """One frame as received. ``payload`` is unmasked. For a data frame
    ``message_opcode`` is the opcode of the message it belongs to (TEXT
    or BINARY, also for continuations) and ``compressed`` whether that
    message had RSV1 set; a close frame has ``close_code`` (1005 if none)
    and ``close_reason``."""

    opcode: Opcode
    fin: bool
    rsv: int
    payload: bytes
    masked: bool
    message_opcode: int
    compressed: bool
    close_code: Optional[int] = None
    close_reason: Optional[str] = None


class FrameParser:
    """An incremental frame parser for what ``role`` receives (a server
    requires masked frames, a client refuses them). Input may be split
    anywhere. Enforces every receive rule of RFC 6455: reserved opcodes and
    RSV bits (``rsv_allowed``: RSV bits a negotiated extension allows,
    e.g. 4 for permessage-deflate), minimal lengths, control frames,
    message sequencing, close payloads, ``max_frame`` and, unless
    ``utf8_check`` is False, UTF-8 of text messages across fragments.
    After an error it stays failed until :meth:`reset`."""

    def __init__(self, role: Union[Role, str], *, max_frame: int | None = None,
                 rsv_allowed: int = 0, utf8_check: bool = True) -> None:
        p = lib.tether_parser_new(_role(role))
        if p == ffi.NULL:
            raise ValueError("bad role")
        self._p = ffi.gc(p, lib.tether_parser_free)
        if max_frame is not None:
            _raise(lib.tether_parser_set_max_frame(self._p, max_frame))
        if rsv_allowed:
            _raise(lib.tether_parser_set_rsv_allowed(self._p, rsv_allowed))
        if not utf8_check:
            _raise(lib.tether_parser_set_utf8_check(self._p, 0))
        self._frame: Frame | None = None
        self._parts: List[bytes] = []
        self._used = ffi.new("size_t *")
        self._data = ffi.new("const uint8_t **")
        self._len = ffi.new("size_t *")

    def reset(self) -> None:
        """Back to a fresh parser (settings kept)."""
        lib.tether_parser_reset(self._p)
        self._frame, self._parts = None, []

    def feed(self, data: Bytes) -> List[Frame]:
        """Parses more bytes; returns the frames completed by them."""
        p, used, dptr, dlen = self._p, self._used, self._data, self._len
        n = len(data)
        buf = ffi.new("uint8_t[]", bytes(data)) if n else ffi.new("uint8_t[1]")
        off = 0
        out: List[Frame] = []
        while True:
            ev = lib.tether_parser_next(p, buf + off, n - off, used, dptr, dlen)
            off += used[0]
            if ev < 0:
                text = py_str(lib.tether_parser_error_text(p))
                exc = error_from_code(ev, text)
                if not isinstance(exc, ProtocolError):
                    exc = ProtocolError(str(exc), error=ev)
                raise exc
            if ev == lib.TETHER_PARSE_NEED_MORE:
                if off >= n:
                    break
                continue
            if ev == lib.TETHER_PARSE_FRAME_START:
                self._frame = Frame(
                    opcode=Opcode(lib.tether_parser_opcode(p)),
                    fin=bool(lib.tether_parser_fin(p)),
                    rsv=lib.tether_parser_rsv(p),
                    payload=b"",
                    masked=bool(lib.tether_parser_masked(p)),
                    message_opcode=lib.tether_parser_message_opcode(p),
                    compressed=bool(lib.tether_parser_message_compressed(p)),
                )
                self._parts = []
            elif ev == lib.TETHER_PARSE_PAYLOAD:
                self._parts.append(ffi.buffer(dptr[0], dlen[0])[:])
            elif ev == lib.TETHER_PARSE_FRAME_END:
                f = self._frame
                assert f is not None
                f.payload = b"".join(self._parts)
                self._parts = []
                if f.opcode == Opcode.CLOSE:
                    f.close_code = lib.tether_parser_close_code(p)
                    rl = ffi.new("size_t *")
                    r = lib.tether_parser_close_reason(p, rl)
                    f.close_reason = ffi.buffer(r, rl[0])[:].decode() if r != ffi.NULL else ""
                out.append(f)
                self._frame = None
        return out


def frame_header(opcode: int, length: int, *, fin: bool = True, rsv: int = 0,
                 mask_key: bytes | None = None) -> bytes:
    """A frame header (minimal length encoding); with ``mask_key`` the key
    is included and you mask the payload with :func:`mask`."""
    out = ffi.new("uint8_t[]", lib.TETHER_MAX_FRAME_HEADER)
    key = ffi.NULL
    if mask_key is not None:
        if len(mask_key) != 4:
            raise ValueError("mask_key must be 4 bytes")
        key = ffi.new("uint8_t[4]", bytes(mask_key))
    rc = lib.tether_frame_write_header(out, lib.TETHER_MAX_FRAME_HEADER, int(opcode), int(fin),
                                       rsv, length, key)
    _raise(rc)
    return cast(bytes, ffi.buffer(out, rc)[:])


def build_frame(opcode: int, payload: Bytes = b"", *, role: Union[Role, str] = Role.SERVER,
                fin: bool = True, rsv: int = 0, mask_key: bytes | None = None) -> bytes:
    """A whole frame. A client frame is masked with a fresh random key
    (or ``mask_key``), a server frame is not."""
    payload = bytes(payload)
    if mask_key is not None:
        return frame_header(opcode, len(payload), fin=fin, rsv=rsv, mask_key=mask_key) + \
            mask(payload, mask_key)
    r = _role(role)
    cap = lib.tether_frame_header_size(len(payload), int(r == Role.CLIENT)) + len(payload)
    out = ffi.new("uint8_t[]", cap)
    written = ffi.new("size_t *")
    _raise(lib.tether_frame_write(r, int(opcode), int(fin), rsv, payload, len(payload), out, cap,
                                  written))
    return cast(bytes, ffi.buffer(out, written[0])[:])


def mask(data: Bytes, key: bytes, offset: int = 0) -> bytes:
    """data XOR the 4-byte key stream, starting ``offset`` bytes into it
    (masking and unmasking are the same)."""
    if len(key) != 4:
        raise ValueError("key must be 4 bytes")
    n = len(data)
    out = ffi.new("uint8_t[]", max(n, 1))
    _raise(lib.tether_mask(out, bytes(data), n, bytes(key), offset))
    return cast(bytes, ffi.buffer(out, n)[:])


# ---- close frames and UTF-8 -----------------------------------------------------------


def close_code_sendable(code: int) -> bool:
    """Whether an endpoint may send this close code."""
    return bool(lib.tether_close_code_sendable(code))


def build_close(code: int = 1000, reason: str = "") -> bytes:
    """A close frame's payload: the code in network order and the reason
    (code 0: an empty payload)."""
    r = reason.encode("utf-8")
    out = ffi.new("uint8_t[]", lib.TETHER_MAX_CONTROL_PAYLOAD)
    written = ffi.new("size_t *")
    rc = lib.tether_close_build(code, r, len(r), out, lib.TETHER_MAX_CONTROL_PAYLOAD, written)
    if rc < 0:
        raise ValueError(f"cannot build a close frame with {code}, {reason!r}: "
                         + ffi.string(lib.tether_strerror(rc)).decode())
    return cast(bytes, ffi.buffer(out, written[0])[:])


def parse_close(payload: Bytes) -> Tuple[int, str]:
    """(code, reason) of a received close payload (1005 for an empty one)."""
    payload = bytes(payload)
    code = ffi.new("int *")
    reason = ffi.new("const char **")
    rlen = ffi.new("size_t *")
    rc = lib.tether_close_parse(payload, len(payload), code, reason, rlen)
    if rc < 0:
        exc = error_from_code(rc)
        raise exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc), error=rc)
    return code[0], ffi.buffer(reason[0], rlen[0])[:].decode("utf-8")


def validate_utf8(data: Bytes) -> bool:
    """Whether data is complete, valid UTF-8 (strict: no surrogates,
    overlongs or code points above U+10FFFF)."""
    data = bytes(data)
    return bool(lib.tether_utf8_validate(data, len(data)) == 0)


class Utf8Validator:
    """Incremental UTF-8 validation: :meth:`feed` pieces (it fails at the
    first impossible byte), then :meth:`finish`."""

    def __init__(self) -> None:
        self._state = ffi.new("uint32_t *", lib.TETHER_UTF8_INIT)

    def feed(self, data: Bytes) -> bool:
        data = bytes(data)
        return bool(lib.tether_utf8_feed(self._state, data, len(data)) == 0)

    def finish(self) -> bool:
        return bool(lib.tether_utf8_finish(self._state[0]) == 0)


# ---- opening handshake ------------------------------------------------------------


def generate_key() -> str:
    """A fresh random Sec-WebSocket-Key."""
    out = ffi.new("char[]", lib.TETHER_KEY_LEN + 1)
    _raise(lib.tether_handshake_key(out))
    return cast(str, ffi.string(out).decode())


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a key."""
    k = key.encode()
    out = ffi.new("char[]", lib.TETHER_ACCEPT_LEN + 1)
    _raise(lib.tether_handshake_accept_key(k, len(k), out))
    return cast(str, ffi.string(out).decode())


def _hs_error(rc: int, *, status: int = 0, headers: Mapping[str, str] | None = None) -> Exception:
    exc = error_from_code(rc, status=status, headers=headers)
    if isinstance(exc, InvalidHandshake):
        exc.http_status = lib.tether_error_http_status(rc)  # type: ignore[attr-defined]
    return exc


class ClientHandshake:
    """A client's opening handshake: :meth:`request` gives the bytes to
    send, :meth:`receive` takes the response. ``host`` is the Host header
    value (with ":port" when not the default), ``path`` the request target."""

    def __init__(self, host: str, path: str = "/", *, subprotocols: Sequence[str] = (),
                 extensions: Sequence[str] = (),
                 headers: Mapping[str, str] | Iterable[Tuple[str, str]] | None = None,
                 origin: str | None = None, max_header_bytes: int | None = None,
                 max_headers: int | None = None) -> None:
        h = lib.tether_client_hs_new(c_str(host, "host"), c_str(path, "path"))
        if h == ffi.NULL:
            raise ValueError("bad host or path")
        self._h = ffi.gc(h, lib.tether_client_hs_free)
        if origin is not None:
            _raise(lib.tether_client_hs_set_origin(self._h, c_str(origin)))
        for p in subprotocols:
            _raise(lib.tether_client_hs_add_protocol(self._h, c_str(p)))
        for e in extensions:
            _raise(lib.tether_client_hs_add_extension(self._h, c_str(e)))
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        for k, v in items:
            _raise(lib.tether_client_hs_add_header(self._h, c_str(k), c_str(v)))
        if max_header_bytes is not None:
            _raise(lib.tether_client_hs_set_max_header_bytes(self._h, max_header_bytes))
        if max_headers is not None:
            _raise(lib.tether_client_hs_set_max_headers(self._h, max_headers))
        self.leftover = b""
        self.complete = False

    def request(self) -> bytes:
        """The upgrade request (the same bytes on every call)."""
        out = ffi.new("const char **")
        n = ffi.new("size_t *")
        _raise(lib.tether_client_hs_request(self._h, out, n))
        return cast(bytes, ffi.buffer(out[0], n[0])[:])

    def receive(self, data: Bytes) -> bool:
        """Feeds response bytes. True once the server accepted (bytes after
        the head are in ``leftover``: the first frames); False while the
        head is incomplete. Raises InvalidStatus for another status than
        101, InvalidHandshake / NegotiationError for a bad response."""
        data = bytes(data)
        used = ffi.new("size_t *")
        rc = lib.tether_client_hs_parse(self._h, data, len(data), used)
        if rc == lib.TETHER_E_AGAIN:
            return False
        if rc < 0:
            raise _hs_error(rc, status=self.status, headers=dict(self.headers))
        self.leftover = data[used[0]:]
        self.complete = True
        return True

    @property
    def status(self) -> int:
        return int(lib.tether_client_hs_status(self._h))

    @property
    def reason(self) -> str | None:
        return py_str(lib.tether_client_hs_reason(self._h))

    @property
    def headers(self) -> List[Tuple[str, str]]:
        """The response's headers as received, in order."""
        out = []
        name, value = ffi.new("const char **"), ffi.new("const char **")
        for i in range(lib.tether_client_hs_header_count(self._h)):
            _raise(lib.tether_client_hs_header_at(self._h, i, name, value))
            out.append((py_str(name[0]) or "", py_str(value[0]) or ""))
        return out

    def header(self, name: str) -> str | None:
        """A response header by name (case-insensitive; repeats joined)."""
        return py_str(lib.tether_client_hs_header(self._h, c_str(name)))

    @property
    def subprotocol(self) -> str | None:
        return py_str(lib.tether_client_hs_protocol(self._h))

    @property
    def extensions(self) -> str | None:
        return py_str(lib.tether_client_hs_extensions(self._h))


class ServerHandshake:
    """A server's opening handshake: :meth:`receive` the request, inspect
    it, then :meth:`accept` or :meth:`reject` to get the response bytes."""

    def __init__(self, *, max_header_bytes: int | None = None,
                 max_headers: int | None = None) -> None:
        h = lib.tether_server_hs_new()
        if h == ffi.NULL:
            raise MemoryError("tether_server_hs_new")
        self._h = ffi.gc(h, lib.tether_server_hs_free)
        if max_header_bytes is not None:
            _raise(lib.tether_server_hs_set_max_header_bytes(self._h, max_header_bytes))
        if max_headers is not None:
            _raise(lib.tether_server_hs_set_max_headers(self._h, max_headers))
        self.leftover = b""
        self.complete = False

    def receive(self, data: Bytes) -> bool:
        """Feeds request bytes: True for a complete, valid upgrade request
        (bytes after it in ``leftover``), False while incomplete. Raises
        InvalidHandshake whose ``http_status`` is the status to answer with
        (pass it to :meth:`reject`)."""
        data = bytes(data)
        used = ffi.new("size_t *")
        rc = lib.tether_server_hs_parse(self._h, data, len(data), used)
        if rc == lib.TETHER_E_AGAIN:
            return False
        if rc < 0:
            raise _hs_error(rc)
        self.leftover = data[used[0]:]
        self.complete = True
        return True

    method = property(lambda self: py_str(lib.tether_server_hs_method(self._h)))
    target = property(lambda self: py_str(lib.tether_server_hs_target(self._h)))
    path = property(lambda self: py_str(lib.tether_server_hs_path(self._h)))
    query = property(lambda self: py_str(lib.tether_server_hs_query(self._h)))
    origin = property(lambda self: py_str(lib.tether_server_hs_origin(self._h)))
    extensions = property(lambda self: py_str(lib.tether_server_hs_extensions(self._h)))

    def header(self, name: str) -> str | None:
        """A request header by name (case-insensitive; repeats joined)."""
        return py_str(lib.tether_server_hs_header(self._h, c_str(name)))

    @property
    def headers(self) -> List[Tuple[str, str]]:
        """The request's headers as received, in order."""
        out = []
        name, value = ffi.new("const char **"), ffi.new("const char **")
        for i in range(lib.tether_server_hs_header_count(self._h)):
            _raise(lib.tether_server_hs_header_at(self._h, i, name, value))
            out.append((py_str(name[0]) or "", py_str(value[0]) or ""))
        return out

    @property
    def subprotocols(self) -> List[str]:
        """Offered sub-protocols, in the client's order of preference."""
        return [py_str(lib.tether_server_hs_protocol_at(self._h, i)) or ""
                for i in range(lib.tether_server_hs_protocol_count(self._h))]

    def select_subprotocol(self, protocol: str) -> None:
        rc = lib.tether_server_hs_select_protocol(self._h, c_str(protocol))
        if rc < 0:
            raise NegotiationError(f"sub-protocol {protocol!r} was not offered", error=rc)

    def set_extensions(self, value: str) -> None:
        """The accepted Sec-WebSocket-Extensions value for the response."""
        _raise(lib.tether_server_hs_set_extensions(self._h, c_str(value)))

    def add_header(self, name: str, value: str) -> None:
        _raise(lib.tether_server_hs_add_header(self._h, c_str(name), c_str(value)))

    def accept(self) -> bytes:
        """The 101 Switching Protocols response."""
        out = ffi.new("const char **")
        n = ffi.new("size_t *")
        _raise(lib.tether_server_hs_accept(self._h, out, n))
        return cast(bytes, ffi.buffer(out[0], n[0])[:])

    def reject(self, status: int, body: str | bytes | None = None) -> bytes:
        """An error response with this status and a plain-text body."""
        out = ffi.new("const char **")
        n = ffi.new("size_t *")
        _raise(lib.tether_server_hs_reject(self._h, status, c_str(body), out, n))
        return cast(bytes, ffi.buffer(out[0], n[0])[:])


# ---- permessage-deflate ---------------------------------------------------------------


class PerMessageDeflate:
    """permessage-deflate (RFC 7692) for one connection: negotiate
    (:meth:`offer` + :meth:`accept` on a client, :meth:`negotiate` on a
    server), then :meth:`compress` what you send and :meth:`decompress`
    what you receive. The "server_*" / "client_*" names are the RFC's
    parameters, whatever the role."""

    def __init__(self, role: Union[Role, str], *, server_no_context_takeover: bool = False,
                 client_no_context_takeover: bool = False, server_max_window_bits: int = 15,
                 client_max_window_bits: int = 15, level: int = 6, mem_level: int = 8,
                 max_decompressed: int | None = None) -> None:
        p = lib.tether_pmd_new(_role(role))
        if p == ffi.NULL:
            raise ValueError("bad role")
        self._p = ffi.gc(p, lib.tether_pmd_free)
        _raise(lib.tether_pmd_set_server_no_context_takeover(self._p, int(server_no_context_takeover)))
        _raise(lib.tether_pmd_set_client_no_context_takeover(self._p, int(client_no_context_takeover)))
        _raise(lib.tether_pmd_set_server_max_window_bits(self._p, server_max_window_bits))
        _raise(lib.tether_pmd_set_client_max_window_bits(self._p, client_max_window_bits))
        _raise(lib.tether_pmd_set_level(self._p, level))
        _raise(lib.tether_pmd_set_mem_level(self._p, mem_level))
        if max_decompressed is not None:
            _raise(lib.tether_pmd_set_max_decompressed(self._p, max_decompressed))
        self._out = ffi.new("const uint8_t **")
        self._n = ffi.new("size_t *")

    def offer(self) -> str:
        """Client: the Sec-WebSocket-Extensions value to offer."""
        buf = ffi.new("char[]", 512)
        n = ffi.new("size_t *")
        _raise(lib.tether_pmd_offer(self._p, buf, 512, n))
        return cast(str, ffi.string(buf, n[0]).decode())

    def accept(self, response: str | None) -> None:
        """Client: checks the server's answer (None: it declined)."""
        rc = lib.tether_pmd_accept(self._p, c_str(response))
        if rc < 0:
            raise NegotiationError(f"bad permessage-deflate response: {response!r}", error=rc)

    def negotiate(self, offers: str) -> str | None:
        """Server: the response value for the client's offers, or None
        when no offer is acceptable."""
        buf = ffi.new("char[]", 512)
        n = ffi.new("size_t *")
        rc = lib.tether_pmd_negotiate(self._p, c_str(offers), buf, 512, n)
        if rc < 0:
            raise NegotiationError(f"bad extension offer: {offers!r}", error=rc)
        return ffi.string(buf, n[0]).decode() if rc == 1 else None

    @property
    def enabled(self) -> bool:
        return bool(lib.tether_pmd_enabled(self._p))

    @property
    def parameters(self) -> Dict[str, Any]:
        """The parameters in force after negotiation."""
        return {
            "server_no_context_takeover": bool(lib.tether_pmd_server_no_context_takeover(self._p)),
            "client_no_context_takeover": bool(lib.tether_pmd_client_no_context_takeover(self._p)),
            "server_max_window_bits": lib.tether_pmd_server_max_window_bits(self._p),
            "client_max_window_bits": lib.tether_pmd_client_max_window_bits(self._p),
        }

    def compress(self, data: Bytes, fin: bool = True) -> bytes:
        """Compresses (the next piece of) an outgoing message; fin on the last."""
        data = bytes(data)
        _raise(lib.tether_pmd_compress(self._p, data, len(data), int(fin), self._out, self._n))
        return cast(bytes, ffi.buffer(self._out[0], self._n[0])[:])

    def decompress(self, data: Bytes, fin: bool = True) -> bytes:
        """Decompresses (the next frame's payload of) a received message.
        Raises PayloadTooBig past ``max_decompressed`` (a deflate bomb is
        never inflated into memory), ProtocolError for corrupt data."""
        data = bytes(data)
        rc = lib.tether_pmd_decompress(self._p, data, len(data), int(fin), self._out, self._n)
        if rc < 0:
            exc = error_from_code(rc)
            if not isinstance(exc, ProtocolError):
                raise exc
            raise exc
        return cast(bytes, ffi.buffer(self._out[0], self._n[0])[:])

    def reset_inflate(self) -> None:
        """Drops the receive context (after an error)."""
        lib.tether_pmd_reset_inflate(self._p)


# ---- the engine: one whole connection -------------------------------------------


@dataclass(frozen=True)
class Message:
    """A whole message: str for text, bytes for binary."""
    data: Union[str, bytes]


@dataclass(frozen=True)
class Fragment:
    """With ``streaming=True``: a piece of a message, ``fin`` on the last."""
    data: bytes
    text: bool
    fin: bool


@dataclass(frozen=True)
class Ping:
    """A ping arrived (the pong is already queued)."""
    data: bytes


@dataclass(frozen=True)
class Pong:
    data: bytes


@dataclass(frozen=True)
class Drain:
    """The bytes to send fell to ``write_limit`` after having been over it."""


@dataclass(frozen=True)
class Closed:
    """The end, always the last event: the close code (the peer's, ours
    when we failed the connection, 1006 when the stream just ended), the
    reason, whether the closing handshake completed, and the C error code
    that ended it (``lib.TETHER_E_*``, 0 after a clean close)."""
    code: int
    reason: str
    clean: bool
    error: int

    @property
    def exception(self) -> ConnectionClosed:
        """What the live API raises for the same end: ConnectionClosedOK
        or ConnectionClosedError."""
        return closed_exception(self.code, self.reason, self.clean, self.error, None)


Event = Union[Message, Fragment, Ping, Pong, Drain, Closed]

_ENGINE_OPTIONS = ("max_size", "max_frame", "ping_interval", "ping_timeout", "close_timeout",
                   "idle_timeout", "write_limit", "send_limit")


def _ms_clock(now: float | None) -> int:
    return int((time.monotonic() if now is None else now) * 1000)


class Connection:
    """One WebSocket connection after its handshake, without I/O: the C
    engine (``tether_ws``) the live connections run on, like websockets'
    ``ServerProtocol``/``ClientProtocol``. Feed it what you receive
    (:meth:`receive_data`, :meth:`receive_eof`); take :meth:`events_received`
    and :meth:`data_to_send`; call :meth:`on_time` at :attr:`deadline`. It
    reassembles messages, answers pings, runs the closing handshake with
    its timeout, pings a quiet peer (``ping_interval``), enforces the
    limits and fails the connection with the right close code on any
    protocol error.

    Times are seconds of ``time.monotonic()`` unless you pass ``now``
    yourself (any clock that does not go backwards, used throughout).
    ``deflate``: a negotiated :class:`PerMessageDeflate`, which the
    connection takes over. Options as in ``tether.connect``/``serve``:
    max_size, max_frame, ping_interval, ping_timeout, close_timeout,
    idle_timeout, write_limit, send_limit; and ``streaming`` (deliver
    :class:`Fragment` events as frames arrive instead of whole messages)."""

    def __init__(self, role: Union[Role, str], *, deflate: PerMessageDeflate | None = None,
                 streaming: bool = False, now: float | None = None, **options: Any) -> None:
        unknown = set(options) - set(_ENGINE_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
        opts = make_opts("client" if _role(role) == Role.CLIENT else "server", **options)
        _raise(lib.tether_opts_set_streaming(opts, int(streaming)))
        ws = lib.tether_ws_new(_role(role), opts, _ms_clock(now))
        if ws == ffi.NULL:
            raise MemoryError("tether_ws_new")
        self._ws = ffi.gc(ws, lib.tether_ws_free)
        self._ev = ffi.new("tether_ws_event *")
        self._n = ffi.new("size_t *")
        if deflate is not None:
            if not deflate.enabled:
                raise ValueError("permessage-deflate was not negotiated")
            _raise(lib.tether_ws_set_deflate(self._ws, deflate._p))
            ffi.gc(deflate._p, None)  # the engine owns it now and frees it
            deflate._p = ffi.NULL

    def receive_data(self, data: Bytes, now: float | None = None) -> None:
        """Bytes received from the peer, in order (copied once, by the engine)."""
        if not isinstance(data, bytes):
            data = ffi.from_buffer(data)
        _raise(lib.tether_ws_receive(self._ws, data, len(data), _ms_clock(now)))

    def receive_eof(self) -> None:
        """The peer's stream ended: a :class:`Closed` event follows
        (1006) unless the connection was over already."""
        _raise(lib.tether_ws_receive_eof(self._ws))

    def _event(self) -> Event:
        e = self._ev[0]
        t = e.type
        payload = ffi.buffer(e.data, e.len)[:] if e.len else b""
        if t == lib.TETHER_EV_MESSAGE:
            return Message(payload.decode() if e.opcode == Opcode.TEXT else payload)
        if t == lib.TETHER_EV_FRAGMENT:
            return Fragment(payload, e.opcode == Opcode.TEXT, bool(e.fin))
        if t == lib.TETHER_EV_PING:
            return Ping(payload)
        if t == lib.TETHER_EV_PONG:
            return Pong(payload)
        if t == lib.TETHER_EV_DRAIN:
            return Drain()
        return Closed(e.code, payload.decode("utf-8", "replace"), bool(e.clean), e.error)

    def events_received(self) -> List[Event]:
        """Every event the input and time so far make, in order."""
        out: List[Event] = []
        while True:
            rc = lib.tether_ws_next_event(self._ws, self._ev)
            _raise(rc)
            if rc == 0:
                return out
            out.append(self._event())

    def data_to_send(self) -> bytes:
        """All the bytes to write to the peer now (b"" when none)."""
        p = lib.tether_ws_output(self._ws, self._n)
        n = self._n[0]
        if not n:
            return b""
        data: bytes = ffi.buffer(p, n)[:]
        _raise(lib.tether_ws_output_sent(self._ws, n))
        return data

    def send(self, message: Union[str, Bytes]) -> None:
        """Queues a whole message: text for str, binary for bytes."""
        op, data = self._payload(message)
        _raise(lib.tether_ws_send(self._ws, op, data, len(data)))

    def send_fragment(self, data: Union[str, Bytes], fin: bool = False) -> None:
        """Queues one piece of a message sent in pieces (text if str);
        ``fin=True`` on the last. Pings may go in between."""
        op, payload = self._payload(data)
        _raise(lib.tether_ws_send_fragment(self._ws, op, payload, len(payload), int(fin)))

    @staticmethod
    def _payload(message: Union[str, Bytes]) -> Tuple[int, bytes]:
        if isinstance(message, str):
            return Opcode.TEXT, message.encode()
        return Opcode.BINARY, bytes(message)

    def ping(self, data: Bytes = b"") -> None:
        data = bytes(data)
        _raise(lib.tether_ws_ping(self._ws, data, len(data)))

    def close(self, code: int = 1000, reason: str = "", now: float | None = None) -> None:
        """Starts the closing handshake; :class:`Closed` follows when the
        peer answers, or after ``close_timeout``."""
        _raise(lib.tether_ws_close(self._ws, code, c_str(reason), _ms_clock(now)))

    @property
    def deadline(self) -> float | None:
        """When :meth:`on_time` has something to do (seconds, same clock),
        or None."""
        d = lib.tether_ws_deadline(self._ws)
        return d / 1000 if d else None

    def on_time(self, now: float | None = None) -> None:
        """Lets time pass: sends a keepalive ping, or ends the connection
        whose peer is silent, idle, or slow to finish a message or a close."""
        _raise(lib.tether_ws_on_time(self._ws, _ms_clock(now)))

    @property
    def state(self) -> str:
        """"open", "closing" or "closed"."""
        return ("open", "closing", "closed")[lib.tether_ws_state(self._ws)]

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet taken by :meth:`data_to_send`."""
        return int(lib.tether_ws_buffered(self._ws))


# Re-exported for convenience.
__all__ += ["PayloadTooBig", "ProtocolError", "InvalidHandshake", "InvalidStatus"]
