"""proxy=, as in websockets: through Debian's tinyproxy (HTTP CONNECT, with
Basic credentials) and microsocks (SOCKS5, with username/password), both
started here on loopback; the environment read by default; ProxyError with
the proxy's answer."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import tether
import tether.asyncio as ta
import tether.sync as ts
from conftest import free_port, run


class Proxy:
    """A proxy daemon on a free loopback port; .url, .log()."""

    def __init__(self, argv: list[str], port: int, log: Path, scheme: str) -> None:
        self.port, self.logfile = port, log
        self.url = f"{scheme}://127.0.0.1:{port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{argv[0]} did not start: {self.log()}")

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def proxies(tmp_path):
    """Factory: proxies("http" | "socks", auth=None) -> a started Proxy."""
    started: list[Proxy] = []

    def start(kind: str, auth: tuple[str, str] | None = None) -> Proxy:
        exe = shutil.which("tinyproxy" if kind == "http" else "microsocks")
        if not exe:
            pytest.fail(f"{kind} proxy missing: scripts/test_python.sh installs it")
        for _ in range(5):  # a port taken between choosing and binding: another
            port = free_port()
            if kind == "http":
                conf = tmp_path / f"tp-{port}.conf"
                conf.write_text(f"Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\n"
                                "LogLevel Connect\nDisableViaHeader Yes\n"
                                + (f"BasicAuth {auth[0]} {auth[1]}\n" if auth else ""))
                argv, scheme = [exe, "-d", "-c", str(conf)], "http"
            else:
                argv = [exe, "-i", "127.0.0.1", "-p", str(port)]
                argv += ["-u", auth[0], "-P", auth[1]] if auth else []
                scheme = "socks5h"
            try:
                p = Proxy(argv, port, tmp_path / f"proxy-{port}.log", scheme)
            except RuntimeError:
                continue
            started.append(p)
            return p
        pytest.fail("the proxy would not start")

    yield start
    for p in started:
        p.stop()


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


def test_asyncio_through_http_and_socks(proxies):
    async def main():
        http = proxies("http", auth=("alice", "s3cret"))
        socks = proxies("socks", auth=("bob", "pa55"))
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            target = f"ws://localhost:{server.port}/"
            for proxy in (f"http://alice:s3cret@127.0.0.1:{http.port}",
                          f"socks5h://bob:pa55@127.0.0.1:{socks.port}"):
                async with ta.connect(target, proxy=proxy) as ws:
                    await ws.send("hello")
                    assert await ws.recv() == "hello"
        assert f"CONNECT localhost:{server.port} HTTP/1.1" in http.log()
        assert f"connected to localhost:{server.port}" in socks.log()
    run(main())


def test_proxy_refusals(proxies):
    async def main():
        http = proxies("http", auth=("alice", "s3cret"))
        socks = proxies("socks")
        dead = free_port()
        cases = [
            (http.url, f"ws://127.0.0.1:{dead}/",
             "HTTP 407 Proxy Authentication Required from the proxy"),
            (socks.url, f"ws://127.0.0.1:{dead}/", "SOCKS5 proxy: connection refused (reply 5)"),
        ]
        for proxy, uri, why in cases:
            with pytest.raises(tether.ProxyError) as ei:
                await ta.connect(uri, proxy=proxy)
            assert isinstance(ei.value, tether.InvalidHandshake)
            assert str(ei.value) == why
            assert ei.value.error_name == "TETHER_E_PROXY"
        # the proxy itself is not there: the OS's reason
        with pytest.raises(tether.ConnectionFailed) as ef:
            await ta.connect(f"ws://127.0.0.1:{dead}/", proxy=f"http://127.0.0.1:{dead}")
        assert str(ef.value).endswith(f"connection refused (127.0.0.1:{dead})")
    run(main())


def test_bad_proxy_urls():
    async def main():
        for proxy, why in (("https://p:1", "only http://"), ("http://p:0", "not a proxy URL")):
            with pytest.raises(ValueError, match=why):
                await ta.connect("ws://127.0.0.1:1/", proxy=proxy)
        with pytest.raises(TypeError):
            await ta.serve(echo, "127.0.0.1", 0, proxy="http://p:1")
    run(main())


def test_environment_by_default(proxies, monkeypatch):
    """proxy=True (the default) reads the environment, proxy=None ignores it."""
    socks = proxies("socks")
    for var in ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("http_proxy", socks.url)

    async def main():
        async with ta.serve(echo, "127.0.0.1", 0) as server:
            uri = f"ws://127.0.0.1:{server.port}/"
            async with ta.connect(uri) as ws:
                await ws.send("via env")
                assert await ws.recv() == "via env"
            assert socks.log().count(f"connected to 127.0.0.1:{server.port}") == 1
            async with ta.connect(uri, proxy=None) as ws:
                await ws.send("direct")
                assert await ws.recv() == "direct"
            monkeypatch.setenv("no_proxy", "127.0.0.1")
            async with ta.connect(uri) as ws:
                await ws.send("bypassed")
                assert await ws.recv() == "bypassed"
            assert socks.log().count(f"connected to 127.0.0.1:{server.port}") == 1
    run(main())


def test_sync_through_socks(proxies):
    socks = proxies("socks")
    with ts.serve(lambda ws: [ws.send(m) for m in ws], "127.0.0.1", 0) as server:
        port = server.port
        server_thread = threading.Thread(target=server.serve_forever, daemon=True)
        server_thread.start()
        with ts.connect(f"ws://localhost:{port}/", proxy=socks.url, open_timeout=10) as ws:
            ws.send(b"sync")
            assert ws.recv(timeout=10) == b"sync"
        server.shutdown()
        server_thread.join(10)
    assert f"connected to localhost:{port}" in socks.log()
