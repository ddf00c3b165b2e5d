"""permessage-deflate against websockets (which offers and accepts it by
default), with parameters, large messages and a deflate bomb."""

from __future__ import annotations

import zlib

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory,
)

import tether
import tether.asyncio as ta
from conftest import run

pytestmark = pytest.mark.skipif(not tether.features() & tether.Feature.DEFLATE,
                                reason="C library built without permessage-deflate")


async def echo(ws):
    async for m in ws:
        await ws.send(m)


def port_of(srv) -> int:
    return srv.sockets[0].getsockname()[1]


def test_client_negotiates_and_round_trips():
    text = "compress me " * 400_000  # ~4.8 MB, very compressible
    binary = bytes(range(256)) * 8192

    async def main():
        async with ws_serve(echo, "127.0.0.1", 0, max_size=None) as srv:
            async with ta.connect(f"ws://127.0.0.1:{port_of(srv)}/", compression="deflate",
                                  max_size=None) as ws:
                assert ws.extensions and ws.extensions.startswith("permessage-deflate")
                for msg in ["small", text, binary, "", b"x" * 63, b"y" * 65]:
                    await ws.send(msg)
                    assert await ws.recv() == msg
            async with ta.connect(f"ws://127.0.0.1:{port_of(srv)}/") as ws:
                assert ws.extensions is None  # off unless asked
    run(main(), 60)


def test_client_parameters_are_negotiated():
    async def main():
        async with ws_serve(echo, "127.0.0.1", 0) as srv:
            d = tether.Deflate(server_no_context_takeover=True, client_no_context_takeover=True,
                               server_max_window_bits=10, client_max_window_bits=11, level=9)
            async with ta.connect(f"ws://127.0.0.1:{port_of(srv)}/", compression=d) as ws:
                ext = ws.extensions
                assert "server_no_context_takeover" in ext
                assert "client_no_context_takeover" in ext
                assert "server_max_window_bits=10" in ext
                for i in range(20):
                    await ws.send(f"message {i} " * 50)
                    assert await ws.recv() == f"message {i} " * 50
    run(main())


def test_server_accepts_websockets_offer():
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, compression="deflate", max_size=None) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as c:
                ext = c.response.headers.get("Sec-WebSocket-Extensions")
                assert ext and ext.startswith("permessage-deflate")
                big = "z" * (6 << 20)
                for msg in ["hello", big, b"\x00\x01" * 50000]:
                    await c.send(msg)
                    assert await c.recv() == msg
            # the client's own limits on our window and context
            factory = ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                                     server_max_window_bits=9)
            async with ws_connect(f"ws://127.0.0.1:{server.port}/",
                                  extensions=[factory], compression=None) as c:
                ext = c.response.headers.get("Sec-WebSocket-Extensions")
                assert "server_no_context_takeover" in ext and "server_max_window_bits=9" in ext
                for i in range(10):
                    await c.send("again " * 100)
                    assert await c.recv() == "again " * 100
    run(main(), 60)


def test_server_without_compression_declines():
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as c:
                assert c.response.headers.get("Sec-WebSocket-Extensions") is None
                await c.send("plain")
                assert await c.recv() == "plain"
    run(main())


def test_deflate_bomb_is_refused_with_1009():
    """A small compressed message that inflates past max_size closes with
    1009 (the library stops inflating at the limit)."""
    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, compression="deflate",
                            max_size=1 << 20) as server:
            async with ws_connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as c:
                bomb = b"\x00" * (64 << 20)  # 64 MiB of zeros: ~64 KB compressed
                assert len(zlib.compress(bomb)) < 100_000
                await c.send(bomb)
                with pytest.raises(websockets.ConnectionClosedError) as ei:
                    await c.recv()
                assert ei.value.rcvd.code == 1009
    run(main(), 60)


def test_tether_to_tether_compressed():
    async def main():
        d = tether.Deflate(client_max_window_bits=9, threshold=0)
        async with ta.serve(echo, "127.0.0.1", 0, compression="deflate") as server:
            async with ta.connect(f"ws://127.0.0.1:{server.port}/", compression=d) as ws:
                assert ws.extensions.startswith("permessage-deflate")
                for msg in ["a", "tether " * 10000, b"\xff" * 3]:
                    await ws.send(msg)
                    assert await ws.recv() == msg
    run(main())
