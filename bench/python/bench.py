#!/usr/bin/env python3
"""Echo benchmark: tether's Python package against the websockets library
(with its C speedups), asyncio on both sides, on this machine.

The same server code (``async for m in ws: await ws.send(m)``) and the same
client code (pipelined send/recv) run on each library; the server process
is pinned to core 0 and the client process to core 1. Compression is off
and keepalive pings are off on both, so the work compared is framing,
masking and I/O.

Loads:
  small   N connections x 32-byte text messages, D in flight per connection:
          messages/s (echoed round trips) and server CPU per message
  large   1 connection x 1 MiB binary messages, 2 in flight: MB/s echoed

Pairs: tether server + tether client, websockets server + websockets
client, and the mixed pairs (which one's bottleneck moves); tether's
callback API (tether.protocol, "tether-cb") on both sides; with picows
installed (run.sh installs it), picows on both sides and each of its
halves against each of tether's APIs.

Usage:
  bench.py run [--duration S] [--json FILE]
  bench.py server IMPL PORT_FILE           (internal)
  bench.py client IMPL URI CONNS SIZE DEPTH DURATION   (internal)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))

LOADS = [  # name, connections, size, depth
    ("small, 10 conns x 32 B, depth 16", 10, 32, 16),
    ("small, 100 conns x 32 B, depth 1", 100, 32, 1),
    ("large, 1 conn x 1 MiB, depth 2", 1, 1 << 20, 2),
]


def impl_api(impl: str):
    if impl == "tether":
        import tether.asyncio as api
        return api.serve, api.connect, dict(compression=None, ping_interval=None, max_size=None)
    import websockets
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    try:
        import websockets.speedups  # noqa: F401  (the C extension must be there)
    except ImportError:
        sys.exit("websockets without its C speedups: not a fair comparison")
    return serve, connect, dict(compression=None, ping_interval=None, max_size=None)


async def echo(ws):
    async for m in ws:
        await ws.send(m)


# picows (PyPI `picows`, the fastest asyncio WebSocket library) has no
# message API: its listener gets frames, so its echo and its client are
# written the way its documentation shows, on frames; it does not validate
# UTF-8 (tether and websockets do).
def picows_echo_server():
    from picows import WSListener, WSMsgType, ws_create_server

    class Echo(WSListener):
        def on_ws_frame(self, transport, frame):
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)

    return ws_create_server(lambda _request: Echo(), "127.0.0.1", 0,
                            max_frame_size=64 << 20)


async def picows_client(uri: str, conns: int, size: int, depth: int, duration: float) -> dict:
    from picows import WSCloseCode, WSListener, WSMsgType, ws_connect
    payload = b"x" * size if size < 1024 else os.urandom(size)
    kind = WSMsgType.TEXT if size < 1024 else WSMsgType.BINARY
    loop = asyncio.get_running_loop()
    state = {"running": True}

    class Client(WSListener):
        def __init__(self):
            self.n, self.out, self.done = 0, 0, loop.create_future()

        def on_ws_frame(self, transport, frame):
            if not frame.fin or frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY,
                                                       WSMsgType.CONTINUATION):
                return
            self.out -= 1
            if state["running"]:
                self.n += 1
                self.out += 1
                transport.send(kind, payload)
            elif self.out == 0 and not self.done.done():
                self.done.set_result(None)

    pairs = [await ws_connect(Client, uri, max_frame_size=64 << 20) for _ in range(conns)]
    await asyncio.sleep(0.5)
    cpu0, t0 = os.times(), time.monotonic()
    for transport, client in pairs:
        for _ in range(depth):
            client.out += 1
            transport.send(kind, payload)
    await asyncio.sleep(duration)
    state["running"] = False
    elapsed = time.monotonic() - t0
    cpu1 = os.times()
    await asyncio.wait_for(asyncio.gather(*(c.done for _, c in pairs)), 60)
    for transport, _ in pairs:
        # (its default code, NO_INFO, goes on the wire as 0: not a valid close code)
        transport.send_close(WSCloseCode.OK)
        transport.disconnect()
    total = sum(c.n for _, c in pairs)
    return {"messages": total, "seconds": elapsed, "msgs_per_s": total / elapsed,
            "mb_per_s": total * size / elapsed / 1e6,
            "client_cpu": (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / elapsed}


# tether's callback API (tether.protocol), the counterpart of picows'
# listeners: the same echo and client shapes, on whole messages.
def tether_cb_echo_server():
    from tether.protocol import Protocol, serve

    class Echo(Protocol):
        def connection_made(self, transport):
            self.send = transport.send

        def message_received(self, message):
            self.send(message)

    return serve(Echo, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=None)


async def tether_cb_client(uri: str, conns: int, size: int, depth: int, duration: float) -> dict:
    from tether.protocol import Protocol, connect
    payload: str | bytes = "x" * size if size < 1024 else os.urandom(size)
    loop = asyncio.get_running_loop()
    state = {"running": True}

    class Client(Protocol):
        def __init__(self):
            self.n, self.out, self.done = 0, 0, loop.create_future()

        def connection_made(self, transport):
            self.send = transport.send

        def message_received(self, message):
            self.out -= 1
            if state["running"]:
                self.n += 1
                self.out += 1
                self.send(payload)
            elif self.out == 0 and not self.done.done():
                self.done.set_result(None)

    pairs = [await connect(Client, uri, compression=None, ping_interval=None, max_size=None)
             for _ in range(conns)]
    await asyncio.sleep(0.5)
    cpu0, t0 = os.times(), time.monotonic()
    for transport, client in pairs:
        for _ in range(depth):
            client.out += 1
            transport.send(payload)
    await asyncio.sleep(duration)
    state["running"] = False
    elapsed = time.monotonic() - t0
    cpu1 = os.times()
    await asyncio.wait_for(asyncio.gather(*(c.done for _, c in pairs)), 60)
    for transport, _ in pairs:
        transport.close()
    await asyncio.wait_for(asyncio.gather(*(t.wait_closed() for t, _ in pairs)), 30)
    total = sum(c.n for _, c in pairs)
    return {"messages": total, "seconds": elapsed, "msgs_per_s": total / elapsed,
            "mb_per_s": total * size / elapsed / 1e6,
            "client_cpu": (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / elapsed}


async def run_server(impl: str, port_file: str) -> None:
    if impl == "picows":
        server = await picows_echo_server()
    elif impl == "tether-cb":
        server = await tether_cb_echo_server()
    else:
        serve, _, opts = impl_api(impl)
        server = await serve(echo, "127.0.0.1", 0, **opts)
    port = server.port if impl.startswith("tether") else server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)
    await asyncio.Event().wait()  # until killed


async def run_client(impl: str, uri: str, conns: int, size: int, depth: int,
                     duration: float) -> dict:
    if impl == "picows":
        return await picows_client(uri, conns, size, depth, duration)
    if impl == "tether-cb":
        return await tether_cb_client(uri, conns, size, depth, duration)
    _, connect, opts = impl_api(impl)
    payload: str | bytes = "x" * size if size < 1024 else os.urandom(size)
    counts = [0] * conns
    start_evt = asyncio.Event()
    stop_at = [0.0]

    async def worker(i: int) -> None:
        async with connect(uri, **opts) as ws:
            await start_evt.wait()
            for _ in range(depth):
                await ws.send(payload)
            n = 0
            while time.monotonic() < stop_at[0]:
                await ws.recv()
                n += 1
                await ws.send(payload)
            counts[i] = n
            for _ in range(depth):
                await ws.recv()

    tasks = [asyncio.ensure_future(worker(i)) for i in range(conns)]
    await asyncio.sleep(0.5)  # connections open
    cpu0 = os.times()
    t0 = time.monotonic()
    stop_at[0] = t0 + duration
    start_evt.set()
    await asyncio.wait_for(asyncio.gather(*tasks), duration + 60)
    elapsed = time.monotonic() - t0
    cpu1 = os.times()
    total = sum(counts)
    return {"messages": total, "seconds": elapsed, "msgs_per_s": total / elapsed,
            "mb_per_s": total * size / elapsed / 1e6,
            "client_cpu": (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / elapsed}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def one(server_impl: str, client_impl: str, load, duration: float) -> dict:
    name, conns, size, depth = load
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        server = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, __file__, "server", server_impl, port_file])
        try:
            for _ in range(200):
                if os.path.exists(port_file):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("server did not start")
            port = int(open(port_file).read())
            cpu0 = cpu_seconds(server.pid)
            t0 = time.monotonic()
            out = subprocess.run(
                ["taskset", "-c", "1", sys.executable, __file__, "client", client_impl,
                 f"ws://127.0.0.1:{port}/", str(conns), str(size), str(depth), str(duration)],
                capture_output=True, text=True, timeout=duration + 120)
            wall = time.monotonic() - t0
            cpu1 = cpu_seconds(server.pid)
            if out.returncode != 0:
                raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            # server CPU over the whole client run (setup included), per echoed message
            res["server_cpu_us_per_msg"] = (cpu1 - cpu0) / max(res["messages"], 1) * 1e6
            res["server_cpu_share"] = (cpu1 - cpu0) / wall
            return res
        finally:
            server.kill()
            server.wait(10)


def ratio_table(results: dict, mine: str, other: str, title: str, mixed_header: str,
                mixed) -> None:
    """`mine` on both sides against `other` on both sides, then two ratios
    from the mixed pairs: mixed(key, tt, oo, to, ot) with to = mine as
    server and other's client, ot = the reverse (shown as - when a pair
    was not run)."""
    print(f"\n{title} (above 1: {mine} ahead):\n")
    print(f"| load | both sides: throughput | server CPU per message | {mixed_header} |")
    print("|---|---:|---:|---:|---:|")
    for load in LOADS:
        name = load[0]
        key = "mb_per_s" if load[2] >= 1024 else "msgs_per_s"
        tt, oo = results[(name, mine, mine)], results[(name, other, other)]
        to, ot = results.get((name, mine, other)), results.get((name, other, mine))
        m = ["-", "-"]
        if to is not None and ot is not None:
            m = [f"{x:.2f}x" for x in mixed(key, tt, oo, to, ot)]
        print(f"| {name} | {tt[key] / oo[key]:.2f}x ({tt[key]:.0f} vs {oo[key]:.0f}) | "
              f"{oo['server_cpu_us_per_msg'] / tt['server_cpu_us_per_msg']:.2f}x "
              f"({tt['server_cpu_us_per_msg']:.1f} vs {oo['server_cpu_us_per_msg']:.1f} us) | "
              f"{m[0]} | {m[1]} |")


def main_run(duration: float, json_out: str | None) -> None:
    import tether
    import websockets
    try:
        import picows  # noqa: F401
        have_picows = True
    except ImportError:
        have_picows = False
    print(f"tether {tether.__version__} (Python package) vs websockets {websockets.__version__} "
          f"(C speedups), Python {sys.version.split()[0]}, {duration:.0f} s per run, server on "
          f"core 0, client on core 1, no compression, no keepalive\n")
    pairs = [("tether", "tether"), ("websockets", "websockets"), ("tether", "websockets"),
             ("websockets", "tether")]
    pairs += [("tether-cb", "tether-cb")]
    if have_picows:
        pairs += [("picows", "picows"), ("picows", "tether"), ("tether", "picows"),
                  ("picows", "tether-cb"), ("tether-cb", "picows")]
    results = {}
    for load in LOADS:
        for s, c in pairs:
            r = one(s, c, load, duration)
            results[(load[0], s, c)] = r
            unit = f"{r['mb_per_s']:10.1f} MB/s" if load[2] >= 1024 else \
                f"{r['msgs_per_s']:10.0f} msg/s"
            print(f"{load[0]:36s} server={s:10s} client={c:10s} {unit}  "
                  f"server CPU {r['server_cpu_share']*100:3.0f}% "
                  f"({r['server_cpu_us_per_msg']:8.2f} us/msg)  client CPU "
                  f"{r['client_cpu']*100:3.0f}%", flush=True)
    ratio_table(results, "tether", "websockets", "Ratios, tether.asyncio / websockets",
                "tether server, websockets client | websockets server, tether client",
                lambda k, tt, oo, to, ot: (to[k] / oo[k], ot[k] / oo[k]))
    ratio_table(results, "tether-cb", "websockets",
                "Ratios, tether.protocol (callbacks) / websockets (coroutines)",
                "- | -", None)
    if have_picows:
        for mine, api in (("tether", "tether.asyncio"), ("tether-cb", "tether.protocol")):
            ratio_table(results, mine, "picows", f"{api} against picows",
                        "servers, same tether client: throughput | clients, same tether "
                        "server: throughput",
                        lambda k, tt, oo, to, ot: (tt[k] / ot[k], tt[k] / to[k]))
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"|".join(k): v for k, v in results.items()}, f, indent=1)


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    if args[0] == "server":
        asyncio.run(run_server(args[1], args[2]))
    elif args[0] == "client":
        impl, uri, conns, size, depth, duration = args[1:7]
        res = asyncio.run(run_client(impl, uri, int(conns), int(size), int(depth),
                                     float(duration)))
        print(json.dumps(res))
    elif args[0] == "run":
        duration, json_out = 5.0, None
        rest = args[1:]
        while rest:
            if rest[0] == "--duration":
                duration = float(rest[1])
            elif rest[0] == "--json":
                json_out = rest[1]
            else:
                sys.exit(f"unknown option {rest[0]}")
            rest = rest[2:]
        main_run(duration, json_out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
