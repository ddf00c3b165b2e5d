#!/usr/bin/env python3
"""Interop peer: a scripted WebSocket CLIENT built on Python `websockets`
(asyncio API), used against `tether serve`. See scenarios.md.

    py_client.py URL SCENARIO [ARGS...]

Prints one JSON line: {"ok": ..., "error": ..., ...}.
"""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads as P  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

STEP_TIMEOUT = 30


def opener(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", STEP_TIMEOUT)
    kw.setdefault("close_timeout", STEP_TIMEOUT)
    return connect(url, **kw)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)


async def expect_echo(ws, sent):
    got = await recv(ws)
    if not P.same(sent, got):
        raise AssertionError(
            f"echo mismatch: sent {P.describe(sent)} got {P.describe(got)}")


async def echo_all(url, messages):
    async with opener(url) as ws:
        for m in messages:
            await ws.send(m)
            await expect_echo(ws, m)
        await ws.close(1000)
    return {}


async def sc_fragmented(url):
    async with opener(url) as ws:
        async def text_fragments():
            yield P.FRAG_TEXT[0]
            yield P.FRAG_TEXT[1]
            await ws.ping(b"mid-fragment")  # control frame between fragments
            yield P.FRAG_TEXT[2]
            yield P.FRAG_TEXT[3]

        await ws.send(text_fragments(), text=True)
        await expect_echo(ws, P.FRAG_TEXT_WHOLE)
        await ws.send(P.FRAG_BIN)  # list of fragments
        await expect_echo(ws, P.FRAG_BIN_WHOLE)
        await ws.close(1000)
    return {}


async def sc_ping(url):
    async with opener(url) as ws:
        waiter = await ws.ping(P.CLIENT_PING)
        # websockets resolves the waiter only for a pong with the same payload.
        await asyncio.wait_for(waiter, STEP_TIMEOUT)
        await ws.send("after-ping")
        await expect_echo(ws, "after-ping")
        await ws.close(1000)
    return {"pong": P.CLIENT_PING.hex()}


async def sc_close(url, code, reason):
    async with opener(url) as ws:
        await ws.send("before-close")
        await expect_echo(ws, "before-close")
        await ws.close(int(code), reason)
        rcvd = ws.protocol.close_rcvd
    if rcvd is None:
        raise AssertionError("server did not answer our close frame")
    return {"rcvd_code": rcvd.code, "rcvd_reason": rcvd.reason}


async def sc_too_big(url, size):
    async with opener(url) as ws:
        await ws.send(P.pattern(int(size)))
        try:
            got = await recv(ws)
            raise AssertionError(
                f"server echoed an over-limit message: {P.describe(got)}")
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
    if rcvd is None:
        raise AssertionError("connection dropped without a close frame")
    return {"rcvd_code": rcvd.code, "rcvd_reason": rcvd.reason}


async def sc_subprotocol(url, offered):
    offer = [p for p in offered.split(",") if p]
    async with opener(url, subprotocols=offer) as ws:
        chosen = ws.subprotocol
        await ws.send("proto")
        await expect_echo(ws, "proto")
        await ws.close(1000)
    return {"subprotocol": chosen}


async def sc_status(url):
    try:
        async with opener(url) as ws:
            await ws.close(1000)
    except InvalidStatus as exc:
        return {"status": exc.response.status_code}
    raise AssertionError("handshake unexpectedly succeeded")


async def sc_broadcast(url):
    # Connect one client at a time and wait for its own message to come back,
    # which proves the server has registered it; only then is the next one
    # expected to reach every client.
    async with opener(url) as a:
        await a.send("hello-from-a")
        await expect_echo(a, "hello-from-a")
        async with opener(url) as b:
            await b.send("hello-from-b")
            for ws in (b, a):
                await expect_echo(ws, "hello-from-b")
            await a.send("from-a")
            for ws in (a, b):
                await expect_echo(ws, "from-a")
            data = P.pattern(5000)
            await b.send(data)
            for ws in (a, b):
                await expect_echo(ws, data)
            await b.close(1000)
        await a.close(1000)
    return {}


async def run(url, scenario, args):
    if scenario == "echo-text":
        return await echo_all(url, P.TEXT)
    if scenario == "echo-binary":
        return await echo_all(url, P.BINARY)
    if scenario == "echo-fragmented":
        return await sc_fragmented(url)
    if scenario == "echo-big":
        return await echo_all(url, [P.big_text(), P.big_binary()])
    if scenario == "ping":
        return await sc_ping(url)
    if scenario == "close":
        return await sc_close(url, *args)
    if scenario == "too-big":
        return await sc_too_big(url, *args)
    if scenario == "subprotocol":
        return await sc_subprotocol(url, *args)
    if scenario == "status":
        return await sc_status(url)
    if scenario == "broadcast":
        return await sc_broadcast(url)
    raise SystemExit(f"unknown scenario {scenario}")


def main():
    url, scenario, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    result = {"ok": False, "error": None}
    try:
        result.update(asyncio.run(run(url, scenario, args)))
        result["ok"] = True
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
