"""TLS (wss://) against websockets with Python's ssl module, and tether to
tether; the certificates are made at test time by tests/certs/make_certs.sh."""

from __future__ import annotations

import asyncio
import ssl
import threading

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import tether
import tether.asyncio as ta
import tether.sync as ts
from conftest import run

pytestmark = pytest.mark.skipif(not tether.features() & tether.Feature.TLS,
                                reason="C library built without TLS")


async def echo(ws):
    async for m in ws:
        await ws.send(m)


def server_ctx(certs, name="server"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs / f"{name}.pem"), str(certs / f"{name}.key"))
    return ctx


def test_tether_client_to_websockets_tls_server(certs):
    async def main():
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_ctx(certs)) as srv:
            port = srv.sockets[0].getsockname()[1]
            async with ta.connect(f"wss://localhost:{port}/", cafile=certs / "ca.pem") as ws:
                await ws.send("secret")
                assert await ws.recv() == "secret"
                await ws.send(b"\x00" * (1 << 20))
                assert len(await ws.recv()) == 1 << 20
                assert ws.tls_version in ("TLSv1.2", "TLSv1.3") and ws.tls_cipher
            # by address, with the name to check given apart
            async with ta.connect(f"wss://127.0.0.1:{port}/", cafile=certs / "ca.pem",
                                  server_hostname="localhost") as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
    run(main())


def test_websockets_client_to_tether_tls_server(certs):
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, certfile=certs / "server.pem",
                            keyfile=certs / "server.key") as server:
            cctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
            async with ws_connect(f"wss://localhost:{server.port}/", ssl=cctx) as c:
                await c.send("over tls")
                assert await c.recv() == "over tls"
            # a cleartext client gets no WebSocket from a TLS listener
            with pytest.raises((websockets.InvalidHandshake, OSError, EOFError)):
                async with ws_connect(f"ws://127.0.0.1:{server.port}/", open_timeout=3):
                    pass
    run(main())


@pytest.mark.parametrize("cert,expect", [
    ("selfsigned", "self-signed"),
    ("wronghost", "mismatch"),
    ("expired", "expired"),
])
def test_verify_failures_and_relax_flags(certs, cert, expect):
    relax = {"selfsigned": dict(allow_self_signed=True),
             "wronghost": dict(check_hostname=False),
             "expired": dict(allow_expired=True)}[cert]

    async def main():
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_ctx(certs, cert)) as srv:
            uri = f"wss://localhost:{srv.sockets[0].getsockname()[1]}/"
            with pytest.raises(tether.TLSVerifyError) as ei:
                await ta.connect(uri, cafile=certs / "ca.pem")
            assert expect in str(ei.value).lower() or "verify" in str(ei.value).lower()
            assert isinstance(ei.value, tether.TLSError)
            async with ta.connect(uri, cafile=certs / "ca.pem", **relax) as ws:
                await ws.send("relaxed")
                assert await ws.recv() == "relaxed"
            async with ta.connect(uri, insecure=True) as ws:
                await ws.send("insecure")
                assert await ws.recv() == "insecure"
    run(main())


def test_unknown_ca_is_refused(certs):
    async def main():
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_ctx(certs)) as srv:
            uri = f"wss://localhost:{srv.sockets[0].getsockname()[1]}/"
            with pytest.raises(tether.TLSVerifyError):
                await ta.connect(uri, cafile=certs / "other-ca.pem")
    run(main())


def test_config_errors(certs, tmp_path):
    async def main():
        with pytest.raises(tether.TLSConfigError):
            await ta.connect("wss://localhost:1/", cafile=tmp_path / "missing.pem")
        with pytest.raises(tether.TLSConfigError):
            await ta.serve(echo, "127.0.0.1", 0, certfile=tmp_path / "missing.pem",
                           keyfile=certs / "server.key")
        with pytest.raises(tether.TLSConfigError):
            await ta.serve(echo, "127.0.0.1", 0, certfile=certs / "server.pem",
                           keyfile=certs / "client.key")
    run(main())


def test_client_certificates(certs):
    async def who(ws):
        await ws.send("hello client")

    async def main():
        async with ta.serve(who, "127.0.0.1", 0, certfile=certs / "server.pem",
                            keyfile=certs / "server.key", cafile=certs / "ca.pem",
                            verify_client="required") as server:
            uri = f"wss://localhost:{server.port}/"
            async with ta.connect(uri, cafile=certs / "ca.pem", certfile=certs / "client.pem",
                                  keyfile=certs / "client.key") as ws:
                assert await ws.recv() == "hello client"
            for extra in ({}, dict(certfile=certs / "rogue-client.pem",
                                   keyfile=certs / "rogue-client.key")):
                with pytest.raises((tether.TLSError, tether.ConnectionFailed,
                                    tether.ConnectionClosedError)):
                    async with ta.connect(uri, cafile=certs / "ca.pem", **extra) as ws:
                        await ws.recv()
    run(main())


def test_sni_certificates(certs):
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, certfile=certs / "server.pem",
                            keyfile=certs / "server.key",
                            sni={"a.test": (certs / "sni-a.pem", certs / "sni-a.key")}) as server:
            async with ta.connect(f"wss://127.0.0.1:{server.port}/", cafile=certs / "ca.pem",
                                  server_hostname="a.test") as ws:
                await ws.send("a")
                assert await ws.recv() == "a"
            with pytest.raises(tether.TLSVerifyError):
                await ta.connect(f"wss://127.0.0.1:{server.port}/", cafile=certs / "ca.pem",
                                 server_hostname="b.test")
    run(main())


def test_sync_tls_both_ways(certs):
    def t_echo(ws):
        for m in ws:
            ws.send(m)

    server = ts.serve(t_echo, "127.0.0.1", 0, tls=tether.TLSConfig(
        certfile=certs / "server.pem", keyfile=certs / "server.key"))
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        with ts.connect(f"wss://localhost:{server.port}/", cafile=certs / "ca.pem") as ws:
            ws.send("sync tls")
            assert ws.recv(timeout=5) == "sync tls"
            assert ws.tls_version
    finally:
        server.shutdown()
        th.join(15)


def test_websocket_over_http2(certs):
    """http2=True on a client: over wss:// the WebSocket is a stream of an
    HTTP/2 connection (RFC 8441) when the server takes it, on both ends;
    a server with http2=False makes it HTTP/1.1, and so does websockets
    (which knows no HTTP/2)."""
    seen = []

    async def handler(ws):
        seen.append(ws.http2_stream)
        await echo(ws)

    async def main():
        async with ta.serve(handler, "127.0.0.1", 0, certfile=certs / "server.pem",
                            keyfile=certs / "server.key", compression="deflate") as server:
            url = f"wss://localhost:{server.port}/"
            async with ta.connect(url, cafile=certs / "ca.pem", http2=True,
                                  compression="deflate") as ws:
                await ws.send("over h2")
                assert await ws.recv() == "over h2"
                await ws.send(b"\x01" * (1 << 20))
                assert len(await ws.recv()) == 1 << 20
                assert ws.http2_stream == 1
                assert ws.extensions.startswith("permessage-deflate")

            def sync_client():  # in a thread: this one runs the server's loop
                with ts.connect(url, cafile=certs / "ca.pem", http2=True) as ws:
                    ws.send("sync over h2")
                    assert ws.recv() == "sync over h2"
                    assert ws.http2_stream == 1

            await asyncio.to_thread(sync_client)
        async with ta.serve(handler, "127.0.0.1", 0, certfile=certs / "server.pem",
                            keyfile=certs / "server.key", http2=False) as server:
            async with ta.connect(f"wss://localhost:{server.port}/", cafile=certs / "ca.pem",
                                  http2=True) as ws:
                await ws.send("h1")
                assert await ws.recv() == "h1" and ws.http2_stream == 0
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_ctx(certs)) as srv:
            port = srv.sockets[0].getsockname()[1]
            async with ta.connect(f"wss://localhost:{port}/", cafile=certs / "ca.pem",
                                  http2=True) as ws:
                await ws.send("ws")
                assert await ws.recv() == "ws" and ws.http2_stream == 0
        assert seen == [1, 1, 0], seen

    run(main())
