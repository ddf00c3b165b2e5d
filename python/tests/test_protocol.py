"""tether.protocol (callbacks) against the websockets library, both roles."""

from __future__ import annotations

import asyncio
import logging

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import tether
from tether.protocol import Protocol, Transport, connect, serve
from conftest import free_port, run


def ws_port(server) -> int:
    return server.sockets[0].getsockname()[1]


class Recorder(Protocol):
    """Keeps every call, and wakes waiters per message."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: Transport | None = None
        self.messages: list = []
        self.calls: list[str] = []
        self.lost: asyncio.Future = self.loop.create_future()
        self._wanted = 0
        self._enough: asyncio.Future | None = None

    def connection_made(self, transport: Transport) -> None:
        self.calls.append("made")
        self.transport = transport

    def message_received(self, message) -> None:
        self.messages.append(message)
        if self._enough is not None and len(self.messages) >= self._wanted \
                and not self._enough.done():
            self._enough.set_result(None)

    def pause_writing(self) -> None:
        self.calls.append("pause")

    def resume_writing(self) -> None:
        self.calls.append("resume")

    def pong_received(self, data: bytes) -> None:
        self.calls.append(f"pong:{data.decode()}")

    def connection_lost(self, exc) -> None:
        self.calls.append("lost")
        self.lost.set_result(exc)

    async def wait_messages(self, n: int) -> list:
        if len(self.messages) < n:
            self._wanted, self._enough = n, self.loop.create_future()
            await asyncio.wait_for(self._enough, 10)
        return self.messages


class Echo(Protocol):
    def connection_made(self, transport: Transport) -> None:
        self.transport = transport

    def message_received(self, message) -> None:
        self.transport.send(message)


MESSAGES = ["hello", "", "żółw 🐢", b"", b"\x00\xff" * 70000]


def test_server_echoes_to_websockets_client():
    async def main():
        made: list[Transport] = []

        class Echo2(Echo):
            def connection_made(self, transport):
                made.append(transport)
                super().connection_made(transport)

        async with serve(Echo2, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/room?x=1") as ws:
                for m in MESSAGES:
                    await ws.send(m)
                    got = await ws.recv()
                    assert got == m and type(got) is type(m)
            t = made[0]
            assert t.request.path == "/room?x=1"
            assert t.request.headers["upgrade"].lower() == "websocket"
            assert t.remote_address[0] == "127.0.0.1"
            assert t.local_address == ("127.0.0.1", server.port)
            await asyncio.wait_for(t.wait_closed(), 10)
            assert t.close_code == 1000 and t.closed
    run(main())


def test_client_against_websockets_server_and_its_close():
    async def handler(ws):
        async for m in ws:
            if m == "bye":
                await ws.close(4001, "see you")
                return
            await ws.send(m)

    async def main():
        async with ws_serve(handler, "127.0.0.1", 0) as srv:
            t, p = await connect(Recorder, f"ws://127.0.0.1:{ws_port(srv)}/")
            assert p.transport is t and p.calls == ["made"]
            assert t.response.status == 101
            for m in MESSAGES:
                t.send(m)
            got = await p.wait_messages(len(MESSAGES))
            assert got == MESSAGES and [type(x) for x in got] == [type(x) for x in MESSAGES]
            t.send(bytearray(b"ba"))
            t.send(memoryview(b"mv"))
            assert await p.wait_messages(len(MESSAGES) + 2) == MESSAGES + [b"ba", b"mv"]
            t.send("bye")
            exc = await asyncio.wait_for(p.lost, 10)
            assert isinstance(exc, tether.ConnectionClosedError)  # 4001 is not "OK"
            assert (exc.code, exc.reason) == (4001, "see you")
            assert p.calls[-1] == "lost" and p.calls.count("lost") == 1
            with pytest.raises(tether.ConnectionClosed):
                t.send("late")
    run(main())


def test_both_sides_tether_with_ping_and_fragments():
    async def main():
        async with serve(Echo, "127.0.0.1", 0) as server:
            t, p = await connect(Recorder, f"ws://127.0.0.1:{server.port}/")
            t.ping(b"p1")
            for i in range(200):
                t.send(f"m{i}")
            got = await p.wait_messages(200)
            assert got == [f"m{i}" for i in range(200)]
            for _ in range(100):
                if "pong:p1" in p.calls:
                    break
                await asyncio.sleep(0.02)
            assert "pong:p1" in p.calls
            t.close(1001, "going")
            exc = await asyncio.wait_for(p.lost, 10)
            assert isinstance(exc, tether.ConnectionClosedOK) and exc.code == 1001
    run(main())


def test_a_raising_callback_closes_with_1011(caplog):
    class Bad(Protocol):
        def message_received(self, message):
            raise RuntimeError("boom")

    async def main():
        async with serve(Bad, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("x")
                with pytest.raises(websockets.ConnectionClosedError):
                    await asyncio.wait_for(ws.recv(), 10)
                assert ws.close_code == 1011
    with caplog.at_level(logging.ERROR, logger="tether"):
        run(main())
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_pause_and_resume_writing():
    async def main():
        async with ws_serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as srv:
            t, p = await connect(Recorder, f"ws://127.0.0.1:{ws_port(srv)}/",
                                 write_limit=64 * 1024)
            # held until the loop looks again (cork): above the limit at once
            t.send(b"\x01" * (1 << 20))
            assert p.calls == ["made", "pause"]
            assert t.get_write_buffer_size() > 64 * 1024
            for _ in range(500):  # the peer reads: the queue drains
                if "resume" in p.calls:
                    break
                await asyncio.sleep(0.02)
            assert p.calls == ["made", "pause", "resume"]
            assert t.get_write_buffer_size() <= 64 * 1024
            t.close()
            await asyncio.wait_for(p.lost, 10)
    run(main())


def test_send_limit_raises_instead_of_buffering():
    async def main():
        async with ws_serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as srv:
            t, p = await connect(Recorder, f"ws://127.0.0.1:{ws_port(srv)}/",
                                 send_limit=2000, write_limit=None)
            t.send("a" * 1500)  # held by cork: 1,500 bytes wait
            with pytest.raises(tether.WebSocketException, match="send queue full"):
                t.send("b" * 1500)
            t.close()
            exc = await asyncio.wait_for(p.lost, 10)
            assert exc.code == 1000
    run(main())


def test_pause_reading_holds_messages_back():
    async def main():
        async with serve(Recorder, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
                for _ in range(200):
                    if server.connections:
                        break
                    await asyncio.sleep(0.01)
                (t,) = server.connections
                p = t.protocol
                t.pause_reading()
                assert not t.is_reading()
                for i in range(3):
                    await ws.send(f"m{i}")
                await asyncio.sleep(0.3)
                assert p.messages == []
                t.resume_reading()
                assert await p.wait_messages(3) == ["m0", "m1", "m2"]
    run(main())


def test_process_request_refuses_and_connect_failures():
    def only_chat(transport, request):
        if request.path != "/chat":
            return transport.respond(403, "no")
        return None

    async def main():
        async with serve(Echo, "127.0.0.1", 0, process_request=only_chat) as server:
            with pytest.raises(websockets.InvalidStatus) as e:
                async with ws_connect(f"ws://127.0.0.1:{server.port}/other"):
                    pass
            assert e.value.response.status_code == 403
            with pytest.raises(tether.InvalidStatus) as e2:
                await connect(Recorder, f"ws://127.0.0.1:{server.port}/other")
            assert e2.value.status == 403
            t, p = await connect(Recorder, f"ws://127.0.0.1:{server.port}/chat")
            t.send("ok")
            assert await p.wait_messages(1) == ["ok"]
            t.close()
            await asyncio.wait_for(p.lost, 10)
        with pytest.raises(tether.ConnectionFailed):
            await connect(Recorder, f"ws://127.0.0.1:{free_port()}/")
        with pytest.raises(tether.InvalidURI):
            await connect(Recorder, "http://127.0.0.1/")
    run(main())


def test_server_close_ends_every_connection_with_1001():
    async def main():
        server = await serve(Echo, "127.0.0.1", 0)
        clients = [await connect(Recorder, f"ws://127.0.0.1:{server.port}/") for _ in range(5)]
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        for _, p in clients:
            exc = await asyncio.wait_for(p.lost, 10)
            assert exc.code == 1001
    run(main())
