"""websockets programs run unchanged but for their imports: each sample
runs once on websockets (so the sample itself is right) and once with
``websockets`` replaced by ``tether`` in its import lines, and both must
print the same."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import free_port

QUICKSTART = '''
import asyncio
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

async def hello(websocket):
    name = await websocket.recv()
    await websocket.send(f"Hello {name}!")

async def main():
    async with serve(hello, "127.0.0.1", PORT):
        async with connect("ws://127.0.0.1:PORT") as websocket:
            await websocket.send("world")
            print(await websocket.recv())

asyncio.run(main())
'''

HEALTH_CHECK = '''
import asyncio
import http
import urllib.request
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

def health_check(connection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\\n")

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

def get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:PORT{path}", timeout=10) as r:
        return r.status, r.read().decode()

async def main():
    async with serve(echo, "127.0.0.1", PORT, process_request=health_check):
        print(await asyncio.to_thread(get, "/healthz"))
        async with connect("ws://127.0.0.1:PORT/") as websocket:
            await websocket.send("still a WebSocket server")
            print(await websocket.recv())

asyncio.run(main())
'''

BROADCAST = '''
import asyncio
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve

CONNECTIONS = set()

async def register(websocket):
    CONNECTIONS.add(websocket)
    try:
        await websocket.wait_closed()
    finally:
        CONNECTIONS.remove(websocket)

async def main():
    async with serve(register, "127.0.0.1", PORT):
        clients = [await connect("ws://127.0.0.1:PORT") for _ in range(3)]
        while len(CONNECTIONS) < 3:
            await asyncio.sleep(0.01)
        broadcast(CONNECTIONS, "news")
        broadcast(CONNECTIONS, b"bytes")
        for ws in clients:
            print(await ws.recv(), await ws.recv())
        await clients[0].close()
        while len(CONNECTIONS) > 2:
            await asyncio.sleep(0.01)
        broadcast(CONNECTIONS, "to those left")
        for ws in clients[1:]:
            print(await ws.recv())
            await ws.close()

asyncio.run(main())
'''

SYNC = '''
import threading
from websockets.sync.client import connect
from websockets.sync.server import serve

def echo(websocket):
    for message in websocket:
        websocket.send(message)

with serve(echo, "127.0.0.1", PORT) as server:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with connect("ws://127.0.0.1:PORT") as websocket:
        websocket.send("sync hello")
        print(websocket.recv(timeout=10))
    server.shutdown()
'''

SAMPLES = {"quickstart": QUICKSTART, "health_check": HEALTH_CHECK, "broadcast": BROADCAST,
           "sync": SYNC}


def as_tether(code: str) -> str:
    """The sample with its import lines changed, and nothing else."""
    return re.sub(r"^(from|import) websockets\b", r"\1 tether", code, flags=re.M)


def run_sample(code: str, mode: str) -> str:
    code = code.replace("PORT", str(free_port()))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, f"{mode}:\n{out.stderr}"
    return out.stdout


def test_only_imports_change():
    for code in SAMPLES.values():
        changed = [(a, b) for a, b in zip(code.splitlines(), as_tether(code).splitlines())
                   if a != b]
        assert changed and all(a.startswith(("from ", "import ")) for a, _ in changed)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_runs_the_same(name):
    code = SAMPLES[name]
    want = run_sample(code, "websockets")
    assert want.strip(), "the sample prints nothing on websockets"
    assert run_sample(as_tether(code), "tether") == want
