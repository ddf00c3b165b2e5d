"""``async for ws in connect(uri)`` reconnecting as websockets does it
(which errors are retried, the backoff, a new connection per turn), and
``connection.stats``. Every wait is bounded; the backoff is shortened with
websockets' own environment variables."""

from __future__ import annotations

import asyncio
import errno

import pytest

import tether
import tether.asyncio as ta
from conftest import free_port, run


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_INITIAL_DELAY", "0.05")
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_MIN_DELAY", "0.05")
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_MAX_DELAY", "0.2")


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def until(pred, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_backoff_as_websockets():
    d = ta.backoff(initial_delay=1, min_delay=2, max_delay=10, factor=2)
    first = next(d)
    assert 0 <= first <= 1
    assert [next(d) for _ in range(5)] == [2, 4, 8, 10, 10]


def test_process_exception_as_websockets():
    pe = ta.process_exception
    assert pe(tether.ConnectionFailed("refused", os_error=errno.ECONNREFUSED)) is None
    assert pe(tether.OpenTimeout()) is None
    assert pe(tether.TLSError("handshake")) is None
    assert pe(tether.InvalidStatus(503)) is None
    for exc in (tether.InvalidStatus(403), tether.InvalidStatus(501),
                tether.ProxyError("HTTP 407 Proxy Authentication Required from the proxy"),
                tether.NegotiationError("no")):
        assert pe(exc) is exc


def test_reconnects_until_the_server_comes_and_after_it_leaves():
    """Refused twice, then a server: turn 1 echoes and is closed by the
    server (1012); turn 2 is a new connection that echoes again."""
    async def main():
        port = free_port()
        uri = f"ws://127.0.0.1:{port}/"
        failures: list[Exception] = []

        def pe(exc: Exception) -> Exception | None:
            failures.append(exc)
            return ta.process_exception(exc)

        got: list[str] = []
        conns: list[ta.ClientConnection] = []

        async def client():
            async for ws in ta.connect(uri, process_exception=pe, open_timeout=5):
                conns.append(ws)
                await ws.send(f"turn {len(conns)}")
                got.append(await ws.recv())
                if len(conns) == 2:
                    break
                try:
                    await ws.recv()  # the server closes this one
                except tether.ConnectionClosed:
                    continue

        task = asyncio.create_task(client())
        await until(lambda: len(failures) >= 2)
        served = 0

        async def handler(ws):
            nonlocal served
            served += 1
            msg = await ws.recv()
            await ws.send(msg)
            if served == 1:
                await ws.close(1012, "restarting")
            else:
                await ws.wait_closed()

        async with ta.serve(handler, "127.0.0.1", port):
            await asyncio.wait_for(task, 10)
        assert got == ["turn 1", "turn 2"]
        assert conns[0] is not conns[1] and conns[0].close_code == 1012
        assert all(isinstance(e, tether.ConnectionFailed) and e.errno == errno.ECONNREFUSED
                   for e in failures), failures
    run(main())


def test_fatal_status_is_raised_and_503_retried():
    async def main():
        answers = [503, 403]

        def process_request(connection, request):
            return connection.respond(answers.pop(0), "no\n") if answers else None

        async with ta.serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
            uri = f"ws://127.0.0.1:{server.port}/"
            with pytest.raises(tether.InvalidStatus) as ei:
                async for ws in ta.connect(uri):
                    pytest.fail("opened")
            assert ei.value.status == 403 and answers == []  # 503 was retried, 403 was not
            async for ws in ta.connect(uri):  # now it opens
                await ws.send("x")
                assert await ws.recv() == "x"
                break
    run(main())


def test_stats():
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            async with ta.connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await asyncio.wait_for(await ws.ping(b"p"), 5)
                st = ws.stats
                assert isinstance(st, tether.ConnectionStats)
                assert (st.messages_out, st.messages_in) == (1, 1)
                assert (st.payload_out, st.payload_in) == (5, 5)
                assert st.wire_out > 5 + 100 and st.handshake_us > 0 and st.connect_us > 0
                assert st.rtt_samples == 1 and st.rtt_us > 0
                assert st.tls_us == 0 and st.reconnects == 0
        after = ws.stats  # kept once closed
        assert after.messages_out == 1 and after.wire_out >= st.wire_out
        assert set(after.as_dict()) == set(tether.ConnectionStats.FIELDS)
    run(main())
