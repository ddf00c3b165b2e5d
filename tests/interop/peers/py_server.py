#!/usr/bin/env python3
"""Interop peer: a scripted WebSocket SERVER built on Python `websockets`
(asyncio API). It drives `tether connect` through the scenarios listed in
scenarios.md; the request path selects the scenario.

    py_server.py [--port 0]

Prints `listening on 127.0.0.1:PORT`, then one JSON report per connection.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads as P  # noqa: E402

from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

STEP_TIMEOUT = 30
SUPPORTED = ["chat", "superchat"]


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def as_report(msg):
    if isinstance(msg, str):
        return ["text", msg]
    return ["binary", msg.hex()]


async def expect_echo(ws, sent):
    got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    if not P.same(sent, got):
        raise AssertionError(
            f"echo mismatch: sent {P.describe(sent)} got {P.describe(got)}")


async def send_and_check(ws, messages):
    for m in messages:
        await ws.send(m)
        await expect_echo(ws, m)


async def finish(ws):
    await ws.close(1000, "done")
    await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)


async def sc_fragmented(ws):
    async def text_fragments():
        yield P.FRAG_TEXT[0]
        yield P.FRAG_TEXT[1]
        # A control frame between data fragments (RFC 6455 5.4 allows it).
        await ws.ping(b"mid-fragment")
        yield P.FRAG_TEXT[2]
        yield P.FRAG_TEXT[3]

    await ws.send(text_fragments(), text=True)
    await expect_echo(ws, P.FRAG_TEXT_WHOLE)
    await ws.send(P.FRAG_BIN)
    await expect_echo(ws, P.FRAG_BIN_WHOLE)


async def handler(ws):
    path = urllib.parse.urlsplit(ws.request.path).path
    fields = {"path": path, "ok": False, "error": None}
    try:
        if path == "/text":
            await send_and_check(ws, P.TEXT)
            await finish(ws)
        elif path == "/binary":
            await send_and_check(ws, P.BINARY)
            await finish(ws)
        elif path == "/fragmented":
            await sc_fragmented(ws)
            await finish(ws)
        elif path == "/big":
            await send_and_check(ws, [P.big_text(), P.big_binary()])
            await finish(ws)
        elif path == "/ping":
            waiter = await ws.ping(P.SERVER_PING)
            await asyncio.wait_for(waiter, STEP_TIMEOUT)
            fields["pong"] = P.SERVER_PING.hex()
            await send_and_check(ws, ["after-ping"])
            await finish(ws)
        elif path.startswith("/close/"):
            _, _, code, reason = path.split("/", 3)
            await ws.close(int(code), urllib.parse.unquote(reason))
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            rcvd = ws.protocol.close_rcvd
            fields["reply_code"] = rcvd.code if rcvd else None
            if rcvd is None:
                raise AssertionError("client never answered our close frame")
        elif path in ("/inspect", "/echo"):
            h = ws.request.headers
            fields["origin"] = h.get("Origin")
            fields["x_tether_test"] = h.get("X-Tether-Test")
            fields["offered"] = [
                p.strip()
                for v in h.get_all("Sec-WebSocket-Protocol")
                for p in v.split(",") if p.strip()]
            fields["subprotocol"] = ws.subprotocol
            msgs = []
            try:
                async for m in ws:
                    msgs.append(as_report(m))
                    await ws.send(m)
            except ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            rcvd = ws.protocol.close_rcvd
            fields["messages"] = msgs
            fields["close_code"] = rcvd.code if rcvd else None
        else:
            raise AssertionError(f"unknown scenario path {path}")
        fields["ok"] = True
    except Exception as exc:  # report, never crash the server
        fields["error"] = f"{type(exc).__name__}: {exc}"
    report(**fields)


def process_request(connection, request):
    path = urllib.parse.urlsplit(request.path).path
    if path.startswith("/reject/"):
        status = int(path.split("/")[2])
        report(path=path, ok=True, error=None, rejected=status)
        return connection.respond(status, "Rejected by interop peer\n")
    return None


def select_subprotocol(connection, offered):
    for name in offered:
        if name in SUPPORTED:
            return name
    return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    async with serve(handler, "127.0.0.1", args.port,
                     process_request=process_request,
                     select_subprotocol=select_subprotocol,
                     max_size=None, ping_interval=None,
                     close_timeout=STEP_TIMEOUT) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
