#!/usr/bin/env python3
"""Interop peer: a scripted WebSocket SERVER built on Python `websockets`
(asyncio API). It drives `tether connect` through the scenarios listed in
scenarios.md; the request path selects the scenario.

    py_server.py [--port 0] [--cert FILE --key FILE [--ca FILE]
                 [--verify-client | --require-client-cert] [--tls-max 1.2]]

Prints `listening on 127.0.0.1:PORT`, then one JSON report per connection.
A path /pmd/SPEC/... sets this connection's permessage-deflate (see
scenarios.md); TLS reports carry the SNI and client certificate seen.
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads as P  # noqa: E402

from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ServerPerMessageDeflateFactory)

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


SNI = {}  # id(SSLObject) -> server name the client sent


def split_pmd(path):
    """'/pmd/SPEC/rest...' -> (SPEC, '/rest...'); other paths (None, path)."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "pmd":
        return parts[2], "/" + "/".join(parts[3:])
    return None, path


def tls_fields(ws):
    obj = ws.transport.get_extra_info("ssl_object")
    if obj is None:
        return {}
    cn = None
    for rdn in (obj.getpeercert() or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    return {"tls_version": obj.version(), "sni": SNI.pop(id(obj), None),
            "client_cert_cn": cn}


async def handler(ws):
    full = urllib.parse.urlsplit(ws.request.path).path
    spec, path = split_pmd(full)
    if path.count("/") > 1 and path.split("/")[1] in P.DEFLATE_KINDS:
        path = path[:path.index("/", 1)]  # a trailing id keeps paths unique
    fields = {"path": full, "ok": False, "error": None}
    fields.update(tls_fields(ws))
    fields["offer"] = ws.request.headers.get("Sec-WebSocket-Extensions")
    fields["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
    try:
        if path[1:] in P.DEFLATE_KINDS:
            await send_and_check(ws, P.deflate_payloads(path[1:]))
            await finish(ws)
        elif path == "/text":
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


def pmd_factories(spec):
    p = P.parse_pmd_spec(spec)
    if p is None:
        return []
    return [ServerPerMessageDeflateFactory(
        server_no_context_takeover=p["snct"],
        client_no_context_takeover=p["cnct"],
        server_max_window_bits=p["smwb"],
        client_max_window_bits=p["cmwb"] if p["cmwb"] is not True else None)]


def process_request(connection, request):
    spec, path = split_pmd(urllib.parse.urlsplit(request.path).path)
    if spec is not None:
        # This connection's extensions, before the handshake accepts them.
        connection.protocol.available_extensions = pmd_factories(spec)
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


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.ca:
        ctx.load_verify_locations(args.ca)
    if args.require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif args.verify_client:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    def on_sni(obj, name, _ctx):
        SNI[id(obj)] = name
    ctx.sni_callback = on_sni
    return ctx


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ca")
    ap.add_argument("--verify-client", action="store_true")
    ap.add_argument("--require-client-cert", action="store_true")
    ap.add_argument("--tls-max")
    args = ap.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    async with serve(handler, "127.0.0.1", args.port,
                     process_request=process_request,
                     select_subprotocol=select_subprotocol,
                     max_size=None, ping_interval=None,
                     ssl=tls_context(args) if args.cert else None,
                     close_timeout=STEP_TIMEOUT) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
