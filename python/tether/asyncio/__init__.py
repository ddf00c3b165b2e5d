"""asyncio client and server, shaped like ``websockets.asyncio``.

::

    async with tether.asyncio.connect("ws://127.0.0.1:8765") as ws:
        await ws.send("hello")
        print(await ws.recv())

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with tether.asyncio.serve(echo, "127.0.0.1", 8765) as server:
        await server.serve_forever()

How it runs: the C library works in poll mode inside the event loop's
thread. Its context's file descriptor is watched with ``loop.add_reader``
and its next deadline with a timer; when either fires, the ready events
are fetched in batches and handed to the connection objects. All client
connections of a loop share one context; each server has its own. There
is no thread per connection, nor any thread at all.

Laid out as ``websockets.asyncio``: :mod:`tether.asyncio.client`
(``connect``), :mod:`tether.asyncio.server` (``serve``, ``broadcast``) and
:mod:`tether.asyncio.connection`; every name is here too.
"""

from __future__ import annotations

from .._engine import Headers, HTTPConnection, Request, Response
from .client import ClientConnection, backoff, connect, process_exception
from .connection import Connection, State
from .connection import (  # noqa: F401  (the driver's names: tether.protocol uses them)
    SEND_BATCH as SEND_BATCH, Data as Data, _client_driver as _client_driver,
    _client_drivers as _client_drivers, _Driver as _Driver, _resolve as _resolve,
)
from .server import Server, ServerConnection, broadcast, serve

__all__ = ["connect", "serve", "broadcast", "Connection", "ClientConnection", "ServerConnection", "Server",
           "State", "Request", "Response", "Headers", "HTTPConnection", "process_exception",
           "backoff"]
