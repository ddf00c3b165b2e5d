#!/usr/bin/env python3
"""Interop peer: a scripted WebSocket CLIENT built on Python `websockets`
(asyncio API), used against `tether serve`. See scenarios.md.

    py_client.py [OPTIONS] URL SCENARIO [ARGS...]

OPTIONS (scenarios.md): --ca FILE, --cert FILE --key FILE, --server-name
NAME, --tls-max 1.2, --pmd SPEC, --no-pmd.

Prints one JSON line: {"ok": ..., "error": ..., ...}.
"""

import asyncio
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads as P  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory)

STEP_TIMEOUT = 30
OPTS = {}


def tls_context():
    ctx = ssl.create_default_context(cafile=OPTS.get("ca"))
    if OPTS.get("cert"):
        ctx.load_cert_chain(OPTS["cert"], OPTS.get("key"))
    if OPTS.get("tls_max") == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def pmd_kwargs(spec):
    """connect() arguments for a permessage-deflate SPEC (scenarios.md)."""
    p = P.parse_pmd_spec(spec)
    if p is None:
        return {"compression": None}
    return {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
        server_no_context_takeover=p["snct"],
        client_no_context_takeover=p["cnct"],
        server_max_window_bits=p["smwb"],
        client_max_window_bits=p["cmwb"])]}


def opener(url, pmd=None, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", STEP_TIMEOUT)
    kw.setdefault("close_timeout", STEP_TIMEOUT)
    if url.startswith("wss:"):
        kw["ssl"] = tls_context()
        if OPTS.get("server_name"):
            kw["server_hostname"] = OPTS["server_name"]
    pmd = pmd or OPTS.get("pmd")
    if OPTS.get("no_pmd"):
        kw["compression"] = None
    elif pmd:
        kw.update(pmd_kwargs(pmd))
    return connect(url, **kw)


def tls_info(ws):
    obj = ws.transport.get_extra_info("ssl_object")
    if obj is None:
        return {}
    cn = None
    for rdn in (obj.getpeercert() or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    return {"tls_version": obj.version(), "server_cert_cn": cn}


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)


async def expect_echo(ws, sent):
    got = await recv(ws)
    if not P.same(sent, got):
        raise AssertionError(
            f"echo mismatch: sent {P.describe(sent)} got {P.describe(got)}")


async def echo_all(url, messages):
    async with opener(url) as ws:
        info = tls_info(ws)
        info["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        for m in messages:
            await ws.send(m)
            await expect_echo(ws, m)
        await ws.close(1000)
    return info


async def sc_deflate(url, specs, kind):
    """One connection per SPEC (default: --pmd, else 'on'), each sending the
    deflate payloads and checking the echoes. Reports every run."""
    runs = []
    for i, spec in enumerate(specs or [OPTS.get("pmd") or "on"]):
        run = {"spec": spec, "ok": False, "error": None, "extensions": None}
        try:
            async with opener(f"{url.rstrip('/')}/run{i}", pmd=spec) as ws:
                run["extensions"] = ws.response.headers.get(
                    "Sec-WebSocket-Extensions")
                run.update(tls_info(ws))
                for m in P.deflate_payloads(kind):
                    await ws.send(m)
                    await expect_echo(ws, m)
                await ws.close(1000)
                rcvd = ws.protocol.close_rcvd
                if rcvd is None or rcvd.code != 1000:
                    raise AssertionError(f"server answered close with {rcvd}")
            run["ok"] = True
        except Exception as exc:
            run["error"] = f"{type(exc).__name__}: {exc}"
        runs.append(run)
    bad = [r for r in runs if not r["ok"]]
    out = {"runs": runs}
    if bad:
        out["error"] = f"{len(bad)} of {len(runs)} runs failed, first: {bad[0]}"
    return out


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
    if scenario in P.DEFLATE_KINDS:
        return await sc_deflate(url, args, scenario)
    raise SystemExit(f"unknown scenario {scenario}")


def main():
    opts, argv = P.parse_peer_opts(sys.argv[1:])
    OPTS.update(opts)
    url, scenario, args = argv[0], argv[1], argv[2:]
    result = {"ok": False, "error": None}
    try:
        result.update(asyncio.run(run(url, scenario, args)))
        result["ok"] = not result.get("error")
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
