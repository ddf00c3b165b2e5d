"""tether.asyncio against the websockets library (both directions), and
against peers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
import time
import uuid

import pytest
import websockets
from websockets.asyncio.server import serve as ws_serve
from websockets.asyncio.client import connect as ws_connect
from websockets.datastructures import Headers as WsHeaders
from websockets.http11 import Response as WsResponse

import tether
import tether.asyncio as ta
from conftest import RawServer, accept_value, free_port, handshake_101, read_request, run


async def ws_echo(ws):
    async for m in ws:
        await ws.send(m)


def ws_port(server) -> int:
    return server.sockets[0].getsockname()[1]


async def t_echo(ws):
    async for m in ws:
        await ws.send(m)


# ---- tether client -> websockets server --------------------------------------------


def test_client_echo_text_binary_and_empty():
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}/") as ws:
                for msg in ["hello", "", "żółw 🐢", b"", b"\x00\xff" * 70000]:
                    await ws.send(msg)
                    got = await ws.recv()
                    assert got == msg and type(got) is type(msg)
                assert ws.response.status == 101
                assert ws.remote_address == ("127.0.0.1", ws_port(srv))
                assert ws.local_address[0] == "127.0.0.1" and ws.local_address[1] > 0
                assert ws.response.headers["upgrade"].lower() == "websocket"
                assert "sec-websocket-accept" in [n.lower() for n in ws.response.headers]
                assert ws.subprotocol is None and ws.state is ta.State.OPEN
                assert ws.state.name == "OPEN" and ws.state is tether.State.OPEN
                assert isinstance(ws.id, uuid.UUID) and isinstance(ws.conn_id, int)
            assert ws.close_code == 1000 and ws.closed and ws.state is ta.State.CLOSED
    run(main())


def test_client_iteration_ends_on_normal_close():
    async def handler(ws):
        for i in range(5):
            await ws.send(f"m{i}")
        await ws.close(1000, "done")

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                got = [m async for m in ws]
            assert got == [f"m{i}" for i in range(5)]
            assert (ws.close_code, ws.close_reason) == (1000, "done")
            with pytest.raises(tether.ConnectionClosedOK):
                await ws.recv()
            with pytest.raises(tether.ConnectionClosed):
                await ws.send("late")
    run(main())


def test_client_large_messages_both_ways():
    big_text = "x" * (8 << 20)
    big_bin = bytes(range(256)) * (32 << 10)  # 8 MiB

    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0, max_size=None, compression=None) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}", max_size=None) as ws:
                await ws.send(big_text)
                assert await ws.recv() == big_text
                await ws.send(big_bin)
                assert await ws.recv() == big_bin
    run(main(), 60)


def test_client_message_too_big_closes_1009():
    async def handler(ws):
        await ws.send(b"x" * 2000)
        await ws.wait_closed()

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}", max_size=1000) as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    await ws.recv()
                assert ei.value.code == 1009
                assert ei.value.error_name in ("TETHER_E_MESSAGE_TOO_BIG", "TETHER_E_FRAME_TOO_BIG")
    run(main())


def test_client_fragmented_send_arrives_whole():
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                await ws.send(["frag", "ment", "ed"])
                assert await ws.recv() == "fragmented"
                await ws.send([b"a", b"b"])
                assert await ws.recv() == b"ab"
                with pytest.raises(TypeError):
                    await ws.send(["a", b"b"])
                with pytest.raises(TypeError):
                    await ws.send(12)
    run(main())


def test_client_subprotocol_headers_origin():
    seen = {}

    async def handler(ws):
        seen["headers"] = ws.request.headers
        seen["path"] = ws.request.path
        await ws.send(ws.subprotocol or "")

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0, subprotocols=["chat", "superchat"]) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}/room?x=1",
                                  subprotocols=["superchat", "other"],
                                  additional_headers={"X-Token": "abc"},
                                  origin="http://example.test") as ws:
                assert ws.subprotocol == "superchat"
                assert await ws.recv() == "superchat"
        assert seen["path"] == "/room?x=1"
        assert seen["headers"]["X-Token"] == "abc"
        assert seen["headers"]["Origin"] == "http://example.test"
    run(main())


def test_client_ping_latency():
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                waiter = await ws.ping(b"abc")
                latency = await asyncio.wait_for(waiter, 5)
                assert 0 <= latency < 5 and ws.latency == latency
                with pytest.raises(ValueError):
                    await ws.ping(b"x" * 126)
    run(main())


def test_client_close_codes_seen_by_peer():
    closes = []

    async def handler(ws):
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            closes.append((e.rcvd.code, e.rcvd.reason))

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            ws = await ta.connect(f"ws://127.0.0.1:{ws_port(srv)}")
            await ws.close(4001, "custom reason")
            assert ws.close_code == 4001 and ws.close_reason == "custom reason"
            with pytest.raises(ValueError):
                await ws.close(1005)  # not sendable (ignored once closed anyway?)
    run(main())
    assert closes == [(4001, "custom reason")]


def test_client_server_closes_with_error_code():
    async def handler(ws):
        await ws.close(4002, "go away")

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    async for _ in ws:
                        pass
                assert (ei.value.code, ei.value.reason) == (4002, "go away")
                assert ei.value.clean
    run(main())


def test_client_peer_vanishes_gives_1006():
    async def handler(ws):
        ws.transport.abort()
        await asyncio.sleep(0)

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    await ws.recv()
                assert ei.value.code == 1006 and not ei.value.clean
    run(main())


def test_client_close_timeout_when_peer_never_answers():
    def silent_after_handshake(s):
        handshake_101(s)
        time.sleep(5)

    async def main():
        with RawServer(silent_after_handshake) as raw:
            ws = await ta.connect(f"ws://127.0.0.1:{raw.port}", close_timeout=0.3)
            t0 = time.monotonic()
            await ws.close()
            assert time.monotonic() - t0 < 3
            assert ws.close_code == 1006
    run(main())


def test_recv_timeout_leaves_connection_usable():
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.1)
                await ws.send("still here")
                assert await ws.recv() == "still here"
    run(main())


def test_concurrent_recv_is_refused():
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}") as ws:
                first = asyncio.ensure_future(ws.recv())
                await asyncio.sleep(0.01)
                with pytest.raises(tether.ConcurrencyError):
                    await ws.recv()
                await ws.send("x")
                assert await first == "x"
    run(main())


def test_max_queue_pauses_reading_without_losing_messages():
    async def handler(ws):
        for i in range(200):
            await ws.send(str(i))
        await ws.wait_closed()

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}", max_queue=4) as ws:
                await asyncio.sleep(0.2)
                # paused at 4; what one batch of the library had read still
                # came (at most 64 more), as websockets' queue takes the rest
                # of a read
                assert 4 <= len(ws._messages) <= 4 + 64
                got = [await ws.recv() for _ in range(200)]
                assert got == [str(i) for i in range(200)]
    run(main())


def test_send_over_a_small_write_limit_completes():
    """A send that leaves more than write_limit bytes waiting returns once
    they drained: the library's DRAIN mark follows write_limit (at its
    default of 64 KiB the DRAIN never came and the send waited for ever)."""
    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0) as srv:
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}", write_limit=1000) as ws:
                for n in (5000, 300_000):
                    await asyncio.wait_for(ws.send("x" * n), 10)
                    assert len(await ws.recv()) == n
        async def big_echo(ws):
            async for m in ws:
                await asyncio.wait_for(ws.send(m * 60), 10)
        async with ta.serve(big_echo, "127.0.0.1", 0, write_limit=1000) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}") as ws:
                await ws.send("y" * 5000)
                assert len(await ws.recv()) == 300_000
    run(main())


# ---- failures to open -------------------------------------------------------------


@pytest.mark.parametrize("uri", ["http://127.0.0.1/", "ws://", "ws://host:99999/",
                                 "ws://bad host/", "ws://h/#frag", "no scheme"])
def test_invalid_uri(uri):
    async def main():
        with pytest.raises(tether.InvalidURI) as ei:
            await ta.connect(uri)
        assert ei.value.uri == uri
    run(main())


def test_connection_refused():
    """The OS's reason comes through: errno, and the address in the text,
    as websockets' OSError has them; listening on a taken port too."""
    async def main():
        port = free_port()
        with pytest.raises(tether.ConnectionFailed) as ei:
            await ta.connect(f"ws://127.0.0.1:{port}/")
        assert isinstance(ei.value, ConnectionError)
        assert ei.value.error_name == "TETHER_E_CONNECT"
        assert ei.value.errno == errno.ECONNREFUSED
        assert str(ei.value).endswith(f"connection refused (127.0.0.1:{port})"), str(ei.value)
        async with ta.serve(lambda ws: None, "127.0.0.1", 0) as server:
            with pytest.raises(OSError) as ei:
                await ta.serve(lambda ws: None, "127.0.0.1", server.port)
            assert ei.value.errno == errno.EADDRINUSE, ei.value
            assert f"(127.0.0.1:{server.port})" in str(ei.value)
    run(main())


def test_open_timeout_with_silent_server():
    async def main():
        with RawServer(lambda s: time.sleep(3)) as raw:
            t0 = time.monotonic()
            with pytest.raises(tether.OpenTimeout) as ei:
                await ta.connect(f"ws://127.0.0.1:{raw.port}", open_timeout=0.3)
            assert isinstance(ei.value, TimeoutError)
            assert time.monotonic() - t0 < 2.5
    run(main())


def test_invalid_status_with_headers():
    def process_request(connection, request):
        return WsResponse(403, "Forbidden", WsHeaders({"X-Why": "no", "Retry-After": "7"}),
                          b"nope\n")

    async def main():
        async with ws_serve(ws_echo, "127.0.0.1", 0, process_request=process_request) as srv:
            with pytest.raises(tether.InvalidStatus) as ei:
                await ta.connect(f"ws://127.0.0.1:{ws_port(srv)}")
        assert ei.value.status == 403 and ei.value.response.status_code == 403
        assert ei.value.headers.get("Retry-After") == "7"
        assert isinstance(ei.value, tether.InvalidHandshake)
    run(main())


def test_bad_accept_key_is_invalid_handshake():
    async def main():
        with RawServer(lambda s: (handshake_101(s, accept="AAAA"), time.sleep(1))) as raw:
            with pytest.raises(tether.InvalidHandshake) as ei:
                await ta.connect(f"ws://127.0.0.1:{raw.port}")
            assert ei.value.error_name == "TETHER_E_HS_ACCEPT"
            # websockets' class for it, and the header's name
            assert isinstance(ei.value, tether.InvalidHeaderValue)
            assert isinstance(ei.value, tether.InvalidHeader)
            assert ei.value.name == "Sec-WebSocket-Accept"
    run(main())


def no_upgrade_101(s):
    h = read_request(s)
    s.sendall(("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Accept: {accept_value(h['sec-websocket-key'])}\r\n\r\n").encode())
    time.sleep(1)


def not_http(s):
    read_request(s)
    s.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    time.sleep(1)


def huge_head(s):
    read_request(s)
    s.sendall(b"HTTP/1.1 101 Switching Protocols\r\n" + b"X-Filler: " + b"y" * 200_000)
    time.sleep(1)


@pytest.mark.parametrize("behaviour, cls", [(no_upgrade_101, "InvalidUpgrade"),
                                            (not_http, "InvalidMessage"),
                                            (huge_head, "SecurityError")])
def test_handshake_failures_have_websockets_classes(behaviour, cls):
    """Each failed opening handshake raises the class websockets would,
    each an InvalidHandshake."""
    async def main():
        with RawServer(behaviour) as raw:
            with pytest.raises(tether.InvalidHandshake) as ei:
                await ta.connect(f"ws://127.0.0.1:{raw.port}")
            assert type(ei.value).__name__ == cls, repr(ei.value)
            assert type(ei.value) is getattr(tether.exceptions, cls)
    run(main())


def test_unoffered_subprotocol_is_negotiation_error():
    async def main():
        with RawServer(lambda s: (handshake_101(s, "Sec-WebSocket-Protocol: nope\r\n"),
                                  time.sleep(1))) as raw:
            with pytest.raises(tether.NegotiationError):
                await ta.connect(f"ws://127.0.0.1:{raw.port}", subprotocols=["chat"])
    run(main())


def test_protocol_error_from_peer_closes_1002():
    def masked_frame_to_client(s):
        handshake_101(s)
        s.sendall(b"\x81\x82abcd" + bytes([ord("h") ^ ord("a"), ord("i") ^ ord("b")]))
        time.sleep(1)

    async def main():
        with RawServer(masked_frame_to_client) as raw:
            async with ta.connect(f"ws://127.0.0.1:{raw.port}", close_timeout=0.5) as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    await ws.recv()
                assert ei.value.code == 1002
                assert ei.value.error_name == "TETHER_E_MASK"
                assert "mask" in str(ei.value)
    run(main())


def test_keepalive_drops_unresponsive_peer():
    def no_pongs(s):
        handshake_101(s)
        time.sleep(3)

    async def main():
        with RawServer(no_pongs) as raw:
            async with ta.connect(f"ws://127.0.0.1:{raw.port}", ping_interval=0.1,
                                  ping_timeout=0.2, close_timeout=0.3) as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    await ws.recv()
                assert ei.value.code == 1011 and "keepalive" in ei.value.reason
    run(main())


def test_cancelled_connect_does_not_leak():
    async def main():
        with RawServer(lambda s: time.sleep(2)) as raw:
            task = asyncio.ensure_future(ta.connect(f"ws://127.0.0.1:{raw.port}"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.1)
            assert not ta._client_drivers.get(asyncio.get_running_loop()) or \
                ta._client_drivers[asyncio.get_running_loop()].refs == 0
    run(main())


# ---- tether server <- websockets client --------------------------------------------


def test_server_echo_and_request():
    seen = {}

    async def handler(ws):
        seen["path"] = ws.request.path
        seen["query"] = ws.request.query
        seen["ua"] = ws.request.headers.get("user-agent")
        seen["peer"] = ws.remote_address
        seen["local"] = ws.local_address
        await t_echo(ws)

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/p/q?a=1&b=2",
                                  max_size=None) as c:
                for msg in ["hi", b"\x01\x02", "é" * 100000, b"z" * (4 << 20)]:
                    await c.send(msg)
                    assert await c.recv() == msg
                client_end = c.local_address
        assert seen["path"] == "/p/q?a=1&b=2" and seen["query"] == "a=1&b=2"
        assert seen["ua"].startswith("Python/")
        # as websockets gives them: (host, port) tuples, each end's the other's
        assert seen["peer"] == client_end and seen["local"] == ("127.0.0.1", server.port)
    run(main(), 60)


def test_server_handler_return_closes_1000_and_exception_1011():
    async def returns(ws):
        await ws.send("bye")

    async def raises(ws):
        raise RuntimeError("boom")

    async def main():
        for handler, code in [(returns, 1000), (raises, 1011)]:
            async with ta.serve(handler, "127.0.0.1", 0) as server:
                async with ws_connect(f"ws://127.0.0.1:{server.port}") as c:
                    try:
                        while True:
                            await c.recv()
                    except websockets.ConnectionClosed as e:
                        assert e.rcvd.code == code
    run(main())


def test_server_close_sends_1001_to_clients():
    async def main():
        server = await ta.serve(t_echo, "127.0.0.1", 0)
        clients = [await ws_connect(f"ws://127.0.0.1:{server.port}") for _ in range(3)]
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        for c in clients:
            with pytest.raises(websockets.ConnectionClosedOK) as ei:
                await c.recv()
            assert ei.value.rcvd.code == 1001
    run(main())


def test_server_process_request_rejects_and_selects_subprotocol():
    def process_request(conn, request):
        if request.path.startswith("/private"):
            return conn.respond(403, "forbidden here")
        return None

    def select(conn, offered):
        return "b" if "b" in offered else None

    async def handler(ws):
        await ws.send(ws.subprotocol or "-")

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0, process_request=process_request,
                            select_subprotocol=select) as server:
            with pytest.raises(websockets.InvalidStatus) as ei:
                await ws_connect(f"ws://127.0.0.1:{server.port}/private")
            assert ei.value.response.status_code == 403
            assert b"forbidden here" in ei.value.response.body
            async with ws_connect(f"ws://127.0.0.1:{server.port}/", subprotocols=["a", "b"]) as c:
                assert c.subprotocol == "b"
                assert await c.recv() == "b"
    run(main())


def test_server_subprotocols_option_and_extra_headers():
    async def handler(ws):
        await ws.send(ws.subprotocol or "-")

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0, subprotocols=["x", "y"],
                            additional_headers={"X-Server": "tether"}) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}", subprotocols=["y", "x"]) as c:
                assert c.subprotocol == "y"
                assert c.response.headers["X-Server"] == "tether"
                assert await c.recv() == "y"
    run(main())


def test_server_sees_client_close_code():
    got = asyncio.Queue()

    async def handler(ws):
        try:
            await ws.recv()
        except tether.ConnectionClosed as e:
            await got.put((type(e), e.code, e.reason))

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}") as c:
                await c.close(1000, "fine")
            assert await asyncio.wait_for(got.get(), 5) == (tether.ConnectionClosedOK, 1000, "fine")
            async with ws_connect(f"ws://127.0.0.1:{server.port}") as c:
                await c.close(4444, "odd")
            assert await asyncio.wait_for(got.get(), 5) == (tether.ConnectionClosedError, 4444, "odd")
    run(main())


def test_server_bad_request_never_reaches_handler():
    called = []

    async def handler(ws):
        called.append(ws)

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0) as server:
            r, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status = await asyncio.wait_for(r.readline(), 5)
            assert status.startswith(b"HTTP/1.1 400")
            w.close()
        assert not called
    run(main())


def test_listen_on_busy_port_fails():
    async def main():
        async with ta.serve(t_echo, "127.0.0.1", 0) as server:
            with pytest.raises(OSError):
                await ta.serve(t_echo, "127.0.0.1", server.port)
    run(main())


def test_tether_to_tether_and_serve_forever():
    async def main():
        server = await ta.serve(t_echo, "127.0.0.1", 0)
        forever = asyncio.ensure_future(server.serve_forever())
        async with ta.connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send("ping")
            assert await ws.recv() == "ping"
        server.close()
        await asyncio.wait_for(forever, 10)
    run(main())


def test_idle_timeout_drops_a_silent_connection():
    async def silent(ws):
        await ws.wait_closed()

    async def main():
        async with ws_serve(silent, "127.0.0.1", 0, ping_interval=None) as srv:
            t0 = time.monotonic()
            async with ta.connect(f"ws://127.0.0.1:{ws_port(srv)}", idle_timeout=0.2,
                                  ping_interval=None, close_timeout=0.5) as ws:
                with pytest.raises(tether.ConnectionClosedError) as ei:
                    await ws.recv()
            assert time.monotonic() - t0 < 5
            assert ei.value.error_name == "TETHER_E_TIMEOUT" or ei.value.code in (1001, 1006, 1011)
    run(main())


def test_broadcast_skips_closed_and_reports_full_queues(caplog):
    """broadcast() as websockets': closed connections skipped silently, a
    connection past its send limit skipped with a warning, or raised with
    the others in an ExceptionGroup when asked."""
    conns = []

    async def register(ws):
        conns.append(ws)
        await ws.wait_closed()

    async def main():
        async with ta.serve(register, "127.0.0.1", 0, send_limit=1000) as server:
            clients = [await ws_connect(f"ws://127.0.0.1:{server.port}") for _ in range(3)]
            while len(conns) < 3:
                await asyncio.sleep(0.01)
            await clients[2].close()
            while conns[2].state != ta.State.CLOSED:
                await asyncio.sleep(0.01)
            ta.broadcast(conns, "x" * 600)  # held (cork): 600 bytes wait on each
            with caplog.at_level(logging.WARNING, logger="tether"):
                ta.broadcast(conns, "y" * 600)  # past 1,000: skipped, said
            assert sum("skipped broadcast" in r.getMessage() for r in caplog.records) == 2
            if sys.version_info >= (3, 11):
                with pytest.raises(ExceptionGroup) as eg:  # noqa: F821
                    ta.broadcast(conns, b"z" * 600, raise_exceptions=True)
                assert len(eg.value.exceptions) == 2
            for ws in clients[:2]:
                assert await ws.recv() == "x" * 600
            ta.broadcast(conns, b"after")  # drained: goes again
            for ws in clients[:2]:
                assert await ws.recv() == b"after"
                await ws.close()
            with pytest.raises(TypeError):
                ta.broadcast(conns, 42)
    run(main())


def test_origins_refuse_other_sites():
    """origins= as websockets': a str must equal the Origin header, a
    pattern match it whole, None allow requests without one; anything
    else gets 403 (cross-site WebSocket hijacking)."""
    import re

    async def main():
        allowed = ["https://good.example", re.compile(r"https://[a-z]+\.ok\.example"), None]
        async with ta.serve(t_echo, "127.0.0.1", 0, origins=allowed) as server:
            uri = f"ws://127.0.0.1:{server.port}/"
            for origin in ("https://good.example", "https://a.ok.example", None):
                async with ws_connect(uri, origin=origin) as ws:
                    await ws.send("in")
                    assert await ws.recv() == "in"
            for origin in ("https://evil.example", "https://a.ok.example.evil",
                           "https://good.example.evil"):
                with pytest.raises(websockets.InvalidStatus) as e:
                    async with ws_connect(uri, origin=origin):
                        pass
                assert e.value.response.status_code == 403
                assert b"invalid Origin header" in e.value.response.body
        async with ta.serve(t_echo, "127.0.0.1", 0, origins=["https://good.example"]) as server:
            with pytest.raises(websockets.InvalidStatus) as e:
                async with ws_connect(f"ws://127.0.0.1:{server.port}/"):  # no Origin
                    pass
            assert e.value.response.status_code == 403
    run(main())


def test_user_agent_and_server_headers():
    """As websockets: User-Agent and Server say "Python/x.y tether/V" by
    default, say what you give, or are left out for None."""
    seen = {}

    async def handler(ws):
        seen[ws.request.path] = ws.request.headers.get("User-Agent")
        await ws.wait_closed()

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            uri = f"ws://127.0.0.1:{ws_port(srv)}"
            for path, kw in (("/default", {}), ("/mine", {"user_agent_header": "me/1"}),
                             ("/none", {"user_agent_header": None}),
                             ("/extra", {"additional_headers": {"user-agent": "x/2"}})):
                async with ta.connect(uri + path, **kw):
                    pass
        assert seen["/default"] == f"Python/{sys.version_info.major}.{sys.version_info.minor} " \
                                   f"tether/{tether.__version__}"
        assert seen["/mine"] == "me/1" and seen["/none"] is None and seen["/extra"] == "x/2"
        for kw, want in (({}, seen["/default"]), ({"server_header": "srv/3"}, "srv/3"),
                         ({"server_header": None}, None)):
            async with ta.serve(t_echo, "127.0.0.1", 0, **kw) as server:
                async with ws_connect(f"ws://127.0.0.1:{server.port}") as ws:
                    assert ws.response.headers.get("Server") == want
        with pytest.raises(TypeError):
            await ta.connect(uri, server_header="no")
    run(main())


def test_server_sockets_as_websockets():
    """server.sockets[0].getsockname() gives the port, as websockets users
    read it; the list is empty once the server is closed."""
    async def main():
        server = await ta.serve(t_echo, "127.0.0.1", 0)
        (sock,) = server.sockets
        assert sock.getsockname() == ("127.0.0.1", server.port)
        async with ws_connect(f"ws://127.0.0.1:{sock.getsockname()[1]}") as ws:
            await ws.send("via sockets")
            assert await ws.recv() == "via sockets"
        server.close()
        await server.wait_closed()
        assert server.sockets == [] and sock.fileno() == -1
    run(main())


def test_logger_option_takes_the_handlers_failure(caplog):
    """logger= as websockets: a name or a Logger; a failing handler is
    reported there (and its connection closed with 1011)."""
    async def bad(ws):
        raise RuntimeError("handler bug")

    async def main():
        async with ta.serve(bad, "127.0.0.1", 0, logger="myapp.ws") as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}") as ws:
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.recv()
                assert ws.close_code == 1011
        async with ta.serve(t_echo, "127.0.0.1", 0) as server:
            async with ta.connect(f"ws://127.0.0.1:{server.port}",
                                  logger=logging.getLogger("myapp.client")) as ws:
                assert ws.logger.name == "myapp.client"
    with caplog.at_level(logging.ERROR, logger="myapp.ws"):
        run(main())
    assert [r.name for r in caplog.records if "handler failed" in r.getMessage()] == ["myapp.ws"]
