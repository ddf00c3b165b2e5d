"""process_request / process_response, as websockets has them, on both
servers: plain HTTP requests (a health check, JSON, keep-alive) answered by
the hooks on the WebSocket port, headers added to a 101, a response
replaced, and WebSocket clients (Python websockets, the independent peer)
served on the same port. HTTP clients are the standard library's."""

from __future__ import annotations

import asyncio
import http.client
import json

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.sync.client import connect as ws_sync_connect

import tether.asyncio as ta
from conftest import TServer, run


def process_request(connection, request):
    if request.path == "/healthz":
        return connection.respond(200, "OK\n")
    if request.path == "/status":
        body = json.dumps({"path": request.path, "agent": request.headers.get("User-Agent")})
        return ta.Response(200, body, {"Content-Type": "application/json", "X-Kind": "status"})
    if request.path == "/boom":
        raise RuntimeError("a bug in the hook")
    return None  # a WebSocket upgrade goes on; a plain request gets 426


def process_response(connection, request, response):
    response.headers["X-Served-By"] = "tether"
    if request.path == "/blocked":
        return connection.respond(403, "blocked by process_response\n")
    return None


def http_get(port, *paths):
    """[(status, headers, body)] for GETs of paths over one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    try:
        for path in paths:
            conn.request("GET", path, headers={"User-Agent": "probe/1"})
            r = conn.getresponse()
            out.append((r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()))
    finally:
        conn.close()
    return out


def check_http(port):
    (st, h, body), (st2, h2, body2), (st3, _, _), (st4, _, _) = http_get(
        port, "/healthz", "/status", "/chat", "/boom")
    assert (st, body) == (200, b"OK\n")
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["x-served-by"] == "tether"
    assert st2 == 200 and h2["content-type"] == "application/json"
    assert h2["x-kind"] == "status"
    assert json.loads(body2) == {"path": "/status", "agent": "probe/1"}
    assert st3 == 426   # a plain request where a WebSocket was expected
    assert st4 == 500   # the hook raised


def test_sync_server_hooks():
    def echo(ws):
        for m in ws:
            ws.send(m)

    with TServer(echo, process_request=process_request,
                    process_response=process_response) as srv:
        check_http(srv.port)
        with ws_sync_connect(f"ws://127.0.0.1:{srv.port}/chat") as ws:
            assert ws.response.headers["X-Served-By"] == "tether"
            ws.send("hi")
            assert ws.recv(timeout=10) == "hi"
        with pytest.raises(websockets.InvalidStatus) as ei:
            ws_sync_connect(f"ws://127.0.0.1:{srv.port}/blocked")
        assert ei.value.response.status_code == 403
        assert b"blocked by process_response" in ei.value.response.body


async def echo(ws):
    async for m in ws:
        await ws.send(m)


async def check_ws(port, refused_path, status):
    """A WebSocket on /chat echoes (with the header process_response adds);
    one on refused_path gets status."""
    async with ws_connect(f"ws://127.0.0.1:{port}/chat") as ws:
        assert ws.response.headers["X-Served-By"] == "tether"
        await ws.send("hi")
        assert await ws.recv() == "hi"
    with pytest.raises(websockets.InvalidStatus) as ei:
        await ws_connect(f"ws://127.0.0.1:{port}{refused_path}")
    assert ei.value.response.status_code == status


def test_asyncio_server_hooks():
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, process_request=process_request,
                            process_response=process_response) as server:
            await asyncio.to_thread(check_http, server.port)
            await check_ws(server.port, "/blocked", 403)
    run(main())


def test_asyncio_coroutine_process_request():
    """``async def process_request`` (websockets' asyncio server allows it):
    the decision waits for the coroutine, for plain requests and upgrades,
    while other connections are served; what it raises is a 500."""
    gate = None

    async def slow_hook(connection, request):
        if request.path == "/slow":
            await gate.wait()  # held until another request opens the gate
        if request.path == "/open":
            gate.set()
        if request.path == "/denied":
            await asyncio.sleep(0.01)
            return connection.respond(401, "who are you?\n")
        return process_request(connection, request)

    async def main():
        nonlocal gate
        gate = asyncio.Event()
        async with ta.serve(echo, "127.0.0.1", 0, process_request=slow_hook,
                            process_response=process_response) as server:
            slow = asyncio.create_task(asyncio.to_thread(http_get, server.port, "/slow"))
            await asyncio.sleep(0.2)
            assert not slow.done()  # waiting in the coroutine; others go on:
            await asyncio.to_thread(check_http, server.port)
            (st, _, _), = await asyncio.to_thread(http_get, server.port, "/open")
            assert st == 426
            (st, h, _), = await asyncio.wait_for(slow, 10)
            assert st == 426 and h["x-served-by"] == "tether"
            await check_ws(server.port, "/denied", 401)
    run(main())


def test_without_hooks_plain_requests_are_refused():
    """No hook: the port speaks WebSocket only, as before (400)."""
    async def echo(ws):
        await ws.recv()

    async def main():
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            (st, _, _), = await asyncio.to_thread(http_get, server.port, "/healthz")
            assert st == 400
    run(main())
