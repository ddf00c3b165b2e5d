"""Shared fixtures. Everything runs on 127.0.0.1 with port 0, and every wait
is bounded (each asyncio test runs under ``run(coro, timeout)``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import resource
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

HERE = Path(__file__).resolve().parent
PKG = HERE.parent


def repo_root() -> Path:
    """The repository holding include/tether.h (for drift checks, certs)."""
    env = os.environ.get("TETHER_SOURCE_DIR")
    for c in ([Path(env)] if env else []) + [PKG.parent, PKG / "csrc"]:
        if (c / "include" / "tether.h").is_file():
            return c
    pytest.skip("repository sources not found (set TETHER_SOURCE_DIR)")
    raise AssertionError


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Runs a coroutine in a fresh loop, bounded."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Path:
    """The test PKI, made now by tests/certs/make_certs.sh."""
    out = tmp_path_factory.mktemp("certs")
    script = repo_root() / "tests" / "certs" / "make_certs.sh"
    subprocess.run(["bash", str(script), str(out)], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="session", autouse=True)
def more_fds():
    """Raise the soft open-files limit (1,000 connections need 2,000+)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 16384) if hard != resource.RLIM_INFINITY else 16384
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``behaviour(sock)`` in a thread
    for each connection: for peers that misbehave on purpose."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.stopping = False
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            s.settimeout(10)
            self.conns.append(s)
            threading.Thread(target=self._one, args=(s,), daemon=True).start()

    def _one(self, s: socket.socket) -> None:
        try:
            self.behaviour(s)
        except OSError:
            pass

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self) -> "RawServer":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()


def read_request(s: socket.socket) -> dict[str, str]:
    """Reads an HTTP request head; returns its headers (lower-case names)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed")
        data += chunk
    lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    headers[":request-line"] = lines[0]
    return headers


def accept_value(key: str) -> str:
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1((key + guid).encode()).digest()).decode()


def handshake_101(s: socket.socket, extra: str = "", accept: str | None = None) -> dict[str, str]:
    """Completes a server handshake by hand."""
    h = read_request(s)
    acc = accept if accept is not None else accept_value(h["sec-websocket-key"])
    s.sendall((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Accept: {acc}\r\n{extra}\r\n").encode())
    return h


class TServer:
    """A tether.sync server serving in a thread (a context manager)."""

    def __init__(self, handler, **kw):
        import tether.sync as ts
        self.server = ts.serve(handler, "127.0.0.1", 0, **kw)
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.thread.join(20)
        assert not self.thread.is_alive()
