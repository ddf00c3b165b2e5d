"""Blocking client and server, shaped like ``websockets.sync``.

::

    with tether.sync.connect("ws://127.0.0.1:8765") as ws:
        ws.send("hello")
        print(ws.recv(timeout=5))

    def echo(ws):
        for message in ws:
            ws.send(message)

    with tether.sync.serve(echo, "127.0.0.1", 8765) as server:
        server.serve_forever()          # until server.shutdown() from elsewhere

How it runs: each client connection has one I/O thread that drives its own
tether context (so pings are answered and timeouts kept while your code
does something else); a server's context is driven by the thread in
``serve_forever()`` and each connection's handler runs in a thread of its
own, as in websockets. Your threads hand work to the I/O thread through a
queue and ``tether_ctx_wake()``; every method of a connection may be called
from any thread.

Laid out as ``websockets.sync``: :mod:`tether.sync.client` (``connect``),
:mod:`tether.sync.server` (``serve``) and :mod:`tether.sync.connection`;
every name is here too.
"""

from __future__ import annotations

from .._engine import Headers, HTTPConnection, Request, Response, State
from .client import ClientConnection, connect
from .connection import Connection
from .server import Server, ServerConnection, serve

__all__ = ["connect", "serve", "Connection", "ClientConnection", "ServerConnection", "Server",
           "State", "Request", "Response", "Headers", "HTTPConnection"]
