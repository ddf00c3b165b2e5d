"""The sans-I/O layer: frames, close payloads, UTF-8, handshakes, deflate;
bad input raises the right exception with the right close code."""

from __future__ import annotations

import logging

import pytest

import tether
from tether import CloseCode, Opcode, Role
from tether.sansio import (
    ClientHandshake, FrameParser, PerMessageDeflate, ServerHandshake, Utf8Validator, accept_key,
    build_close, build_frame, close_code_sendable, frame_header, generate_key, mask, parse_close,
    validate_utf8,
)


def test_frames_round_trip_split_anywhere():
    msgs = [(Opcode.TEXT, "héllo".encode()), (Opcode.BINARY, bytes(range(256)) * 300),
            (Opcode.PING, b"p"), (Opcode.BINARY, b"")]
    wire = b"".join(build_frame(op, p, role=Role.CLIENT) for op, p in msgs)
    for step in (1, 7, len(wire)):
        parser = FrameParser(Role.SERVER)
        frames = []
        for i in range(0, len(wire), step):
            frames += parser.feed(wire[i:i + step])
        assert [(f.opcode, f.payload) for f in frames] == msgs
        assert all(f.fin and f.masked for f in frames)


def test_fragmented_message_and_lengths():
    parts = [build_frame(Opcode.TEXT, b"ab", fin=False),
             build_frame(Opcode.PING, b"x"),
             build_frame(Opcode.CONT, b"c", fin=True)]
    frames = FrameParser("client").feed(b"".join(parts))
    assert [f.opcode for f in frames] == [Opcode.TEXT, Opcode.PING, Opcode.CONT]
    assert frames[2].message_opcode == Opcode.TEXT and frames[2].fin
    for n, size in [(125, 2), (126, 4), (65535, 4), (65536, 10)]:
        assert len(frame_header(Opcode.BINARY, n)) == size
    assert len(frame_header(Opcode.BINARY, 5, mask_key=b"abcd")) == 6


def test_close_frames_and_codes():
    f = FrameParser("server").feed(build_frame(Opcode.CLOSE, build_close(4000, "ok ✓"),
                                               role="client"))[0]
    assert (f.close_code, f.close_reason) == (4000, "ok ✓")
    assert parse_close(b"") == (1005, "")
    assert close_code_sendable(1000) and not close_code_sendable(1005)
    with pytest.raises(ValueError):
        build_close(1005)
    with pytest.raises(tether.ProtocolError) as ei:
        parse_close(b"\x03")
    assert ei.value.close_code == 1002
    with pytest.raises(tether.ProtocolError) as ei:
        parse_close(b"\x03\xe8\xff")
    assert ei.value.close_code == 1007


@pytest.mark.parametrize("data,error,code", [
    (build_frame(Opcode.TEXT, b"x", role="server"), "TETHER_E_MASK", 1002),  # unmasked to a server
    (b"\x83\x80abcd", "TETHER_E_OPCODE", 1002),                              # reserved opcode
    (b"\xc1\x80abcd", "TETHER_E_RSV", 1002),                                 # RSV1 unnegotiated
    (b"\x89\xfe\x00\x7eabcd" + b"\0" * 126, "TETHER_E_CONTROL_LENGTH", 1002),
    (b"\x09\x80abcd", "TETHER_E_CONTROL_FRAGMENTED", 1002),
    (b"\x80\x80abcd", "TETHER_E_CONTINUATION", 1002),
    (build_frame(Opcode.TEXT, b"\xff", role="client"), "TETHER_E_UTF8", 1007),
    (build_frame(Opcode.CLOSE, b"\x03\xed", role="client"), "TETHER_E_CLOSE_CODE", 1002),
])
def test_bad_frames_raise_protocol_error(data, error, code):
    with pytest.raises(tether.ProtocolError) as ei:
        FrameParser("server").feed(data)
    assert ei.value.error_name == error and ei.value.close_code == code
    assert str(ei.value)  # carries the C library's explanation


def test_frame_limit_is_payload_too_big():
    with pytest.raises(tether.PayloadTooBig) as ei:
        FrameParser("client", max_frame=10).feed(build_frame(Opcode.BINARY, b"x" * 11))
    assert ei.value.close_code == 1009


def test_masking_and_utf8():
    key = b"\x01\x02\x03\x04"
    data = bytes(range(100))
    assert mask(mask(data, key), key) == data
    assert mask(data[10:], key, offset=10) == mask(data, key)[10:]
    assert validate_utf8("żółw".encode()) and not validate_utf8(b"\xc0\xaf")
    v = Utf8Validator()
    assert v.feed(b"\xe2\x82") and not v.finish()
    assert v.feed(b"\xac") and v.finish()
    assert not Utf8Validator().feed(b"\xed\xa0\x80")  # a surrogate fails at once


def test_handshake_both_sides():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert len(generate_key()) == 24
    client = ClientHandshake("example.test:8080", "/chat?room=1", subprotocols=["a", "b"],
                             headers={"X-Id": "7"}, origin="https://example.test",
                             extensions=[PerMessageDeflate("client").offer()])
    req = client.request()
    server = ServerHandshake()
    assert not server.receive(req[:20])
    assert server.receive(req[20:] + b"\x81")
    assert (server.method, server.path, server.query) == ("GET", "/chat", "room=1")
    assert server.subprotocols == ["a", "b"] and server.origin == "https://example.test"
    assert server.header("x-id") == "7" and ("X-Id", "7") in server.headers
    assert server.leftover == b"\x81"
    server.select_subprotocol("b")
    with pytest.raises(tether.NegotiationError):
        server.select_subprotocol("zzz")
    pmd = PerMessageDeflate("server")
    server.set_extensions(pmd.negotiate(server.extensions))
    server.add_header("X-Server", "tether")
    resp = server.accept()
    assert client.receive(resp)
    assert client.status == 101 and client.subprotocol == "b"
    assert client.header("X-Server") == "tether"
    assert client.extensions.startswith("permessage-deflate")


def test_handshake_failures():
    server = ServerHandshake()
    with pytest.raises(tether.InvalidHandshake) as ei:
        server.receive(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ei.value.http_status == 405
    assert server.reject(ei.value.http_status).startswith(b"HTTP/1.1 405")
    with pytest.raises(tether.InvalidHandshake) as ei:
        ServerHandshake(max_header_bytes=64).receive(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 40)
    assert ei.value.http_status == 431
    client = ClientHandshake("h")
    client.request()
    with pytest.raises(tether.InvalidStatus) as ei:
        client.receive(b"HTTP/1.1 404 Not Found\r\nX-Reason: gone\r\n\r\n")
    assert ei.value.status == 404 and ei.value.headers["X-Reason"] == "gone"
    client = ClientHandshake("h")
    client.request()
    with pytest.raises(tether.InvalidHandshake) as ei:
        client.receive(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: wrong\r\n\r\n")
    assert ei.value.error_name == "TETHER_E_HS_ACCEPT"
    with pytest.raises(ValueError):
        ClientHandshake("h", headers={"Bad\nName": "v"})


def test_deflate_round_trip_and_bomb():
    client, server = PerMessageDeflate("client", client_no_context_takeover=True), \
        PerMessageDeflate("server", max_decompressed=1 << 20)
    response = server.negotiate(client.offer())
    assert response and response.startswith("permessage-deflate")
    client.accept(response)
    assert client.enabled and server.enabled
    assert client.parameters["client_max_window_bits"] <= 15
    for msg in [b"", b"abc" * 1000, bytes(range(256)) * 40]:
        assert server.decompress(client.compress(msg)) == msg
    pieces = [client.compress(b"part one ", fin=False), client.compress(b"part two", fin=True)]
    out = server.decompress(pieces[0], fin=False) + server.decompress(pieces[1], fin=True)
    assert out == b"part one part two"
    with pytest.raises(tether.PayloadTooBig) as ei:
        server.decompress(client.compress(b"\0" * (2 << 20)))
    assert ei.value.close_code == 1009
    server.reset_inflate()
    with pytest.raises(tether.ProtocolError) as ei:
        server.decompress(b"\xff\xff\xff\xff")
    assert ei.value.close_code == 1007
    with pytest.raises(tether.NegotiationError):
        PerMessageDeflate("client").accept("permessage-deflate; bogus=1")


def test_constants_and_exception_hierarchy():
    assert CloseCode.NORMAL_CLOSURE == tether.CLOSE_NORMAL == 1000
    assert CloseCode.MESSAGE_TOO_BIG == 1009 and tether.CLOSE_GOING_AWAY == 1001
    assert issubclass(tether.ConnectionClosedOK, tether.ConnectionClosed)
    assert issubclass(tether.InvalidStatus, tether.InvalidHandshake)
    assert issubclass(tether.OpenTimeout, TimeoutError)
    assert issubclass(tether.ConnectionFailed, ConnectionError)
    assert issubclass(tether.TLSVerifyError, tether.TLSError)
    e = tether.ConnectionClosedError(1006, "", clean=False, error=tether.lib.TETHER_E_CLOSED)
    assert "1006" in str(e) and "TETHER_E_CLOSED" in str(e)
    assert tether.__version__ == tether.library_version()
    assert tether.features() & tether.Feature.DEFLATE


def test_log_lines_reach_the_logging_module(caplog):
    import asyncio

    import tether.asyncio as ta
    from conftest import run

    async def echo(ws):
        async for m in ws:
            await ws.send(m)

    async def main():
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            async with ta.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("x")
                await ws.recv()

    logger = logging.getLogger("tether")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="tether"):
            run(main())
    finally:
        logger.setLevel(old)
        tether.sync_log_level()
    lines = [r.getMessage() for r in caplog.records if r.name == "tether"]
    assert any("open" in line for line in lines), lines


SILENT_SCRIPT = """
import asyncio, socket, sys
import logging
import tether, tether.asyncio as ta
if sys.argv[1] == "configured":
    logging.basicConfig(level=logging.WARNING)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
async def main():
    try:
        await ta.connect(f"ws://127.0.0.1:{port}/")
    except tether.ConnectionFailed:
        print("refused")
asyncio.run(main())
"""


@pytest.mark.parametrize("setup", ["unconfigured", "configured"])
def test_no_output_unless_logging_is_configured(setup):
    """A refused connection is a WARNING line of the ``tether`` logger: a
    program that never configured logging prints nothing (the package's
    NullHandler keeps Python's last resort away); one that did sees it."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", SILENT_SCRIPT, setup], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused"
    if setup == "unconfigured":
        assert out.stderr == ""
    else:
        assert "WARNING:tether:" in out.stderr and "closed 1006" in out.stderr, out.stderr


def test_headers_get_all_and_raw_items():
    """As websockets' Headers: a repeated header is one joined value, and
    get_all / raw_items give them apart, in order."""
    from tether._engine import Headers, MutableHeaders

    h = Headers([("Set-Cookie", "a=1"), ("X-One", "1"), ("set-cookie", "b=2")])
    assert h["set-cookie"] == "a=1, b=2"
    assert h.get_all("SET-COOKIE") == ["a=1", "b=2"] and h.get_all("missing") == []
    assert list(h.raw_items()) == [("Set-Cookie", "a=1"), ("X-One", "1"), ("set-cookie", "b=2")]
    m = MutableHeaders([("X-A", "1"), ("x-a", "2")])
    m["X-A"] = "3"
    assert m.get_all("x-a") == ["3"]
    del m["x-a"]
    assert list(m.raw_items()) == [] and len(m) == 0
