"""Many connections in one asyncio loop, and no leaks over many cycles."""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import tether.asyncio as ta
import tether.sync as ts
from conftest import run


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def echo(ws):
    async for m in ws:
        await ws.send(m)


def test_thousand_concurrent_connections_in_one_loop():
    n = 1000

    async def client(port, i, ready, go):
        async with ta.connect(f"ws://127.0.0.1:{port}/c{i}", ping_interval=None) as ws:
            ready.append(i)
            await go.wait()
            await ws.send(f"hello {i}")
            assert await ws.recv() == f"hello {i}"
            await ws.send(bytes([i % 256]) * 1000)
            assert await ws.recv() == bytes([i % 256]) * 1000
        return i

    async def main():
        fds0 = open_fds()
        async with ta.serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            ready: list[int] = []
            go = asyncio.Event()
            tasks = []
            for i in range(n):  # connect in waves, as a real client fleet would
                tasks.append(asyncio.ensure_future(client(server.port, i, ready, go)))
                if i % 100 == 99:
                    await asyncio.sleep(0)
            for _ in range(600):
                if len(ready) == n:
                    break
                await asyncio.sleep(0.05)
            assert len(ready) == n
            assert len(server.connections) == n  # all open at once
            assert open_fds() >= fds0 + 2 * n
            go.set()
            done = await asyncio.gather(*tasks)
            assert sorted(done) == list(range(n))
        await asyncio.sleep(0.1)
        assert open_fds() <= fds0 + 2
    run(main(), 120)


def test_no_growth_over_ten_thousand_connect_close_cycles():
    cycles, batch = 10_000, 50

    async def one(port):
        async with ta.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"

    async def rounds(port, count):
        for _ in range(count // batch):
            await asyncio.gather(*(one(port) for _ in range(batch)))

    async def main():
        async with ta.serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            await rounds(server.port, 500)  # warm up: pools, caches, arenas
            gc.collect()
            fds0, rss0 = open_fds(), rss_kib()
            await rounds(server.port, cycles)
            gc.collect()
            await asyncio.sleep(0.05)
            fds1, rss1 = open_fds(), rss_kib()
        assert fds1 <= fds0 + 1, (fds0, fds1)
        print(f"fds {fds0} -> {fds1}, RSS {rss0} -> {rss1} KiB")
        assert rss1 - rss0 < 8 * 1024, f"RSS grew by {rss1 - rss0} KiB over {cycles} cycles"
    run(main(), 180)


def test_sync_cycles_leave_no_threads_or_fds():
    def t_echo(ws):
        for m in ws:
            ws.send(m)

    server = ts.serve(t_echo, "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        def cycle():
            with ts.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                ws.send("s")
                assert ws.recv(timeout=5) == "s"
        for _ in range(20):
            cycle()
        fds0, threads0 = open_fds(), threading.active_count()
        for _ in range(200):
            cycle()
        for _ in range(100):
            if threading.active_count() <= threads0:
                break
            threading.Event().wait(0.02)
        assert open_fds() <= fds0 + 1
        assert threading.active_count() <= threads0
    finally:
        server.shutdown()
        th.join(15)
