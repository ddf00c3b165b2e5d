#!/usr/bin/env python3
"""HARNESS SELF-CHECK ONLY -- NOT tether.

A stand-in for the `tether` command-line tool, implementing the CLI contract
the interop suite expects (`tether serve ...` / `tether connect ...`) on top
of the Python `websockets` library. It exists so the interop harness itself
(fixtures, peers, timeouts, assertions) can be validated before the real
tool exists:

    TETHER_BIN=tests/interop/peers/standin.py pytest tests/interop

A green run with this file proves nothing about tether. CI must run the
suite with TETHER_BIN pointing at the real `tether` binary.
"""

import argparse
import asyncio
import os
import re
import signal
import sys
import threading
import urllib.parse

try:
    from websockets.asyncio.client import connect as ws_connect
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.http11 import Response  # noqa: F401  (import check)
except ImportError as exc:  # pragma: no cover
    print(f"standin: websockets library missing: {exc}", file=sys.stderr)
    sys.exit(2)

DEFAULT_MAX = 16 * 1024 * 1024 + 1024

# Deliberate faults, to check that the suite catches them (a harness
# self-check of the self-check): mangle (alter every echoed message),
# ignore-path (never 404), protocol-last (pick the last offered protocol).
FAULT = os.environ.get("TETHER_STANDIN_FAULT", "")


def maybe_mangle(msg):
    if FAULT != "mangle":
        return msg
    return msg + ("!" if isinstance(msg, str) else b"!")


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"usage error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser():
    p = Parser(prog="tether (stand-in)")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.error = p.error
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--path", default=None)
    s.add_argument("--protocol", action="append", default=[])
    s.add_argument("--broadcast", action="store_true")
    s.add_argument("--max-message", type=int, default=DEFAULT_MAX)
    c = sub.add_parser("connect")
    c.error = p.error
    c.add_argument("url")
    c.add_argument("--binary", action="store_true")
    c.add_argument("--echo", action="store_true")
    c.add_argument("--protocol", action="append", default=[])
    c.add_argument("--header", action="append", default=[])
    c.add_argument("--origin", default=None)
    c.add_argument("--max-message", type=int, default=DEFAULT_MAX)
    return p


# ---------------------------------------------------------------- serve

async def serve_main(args):
    clients = set()

    def process_request(connection, request):
        if args.path is not None and FAULT != "ignore-path":
            path = urllib.parse.urlsplit(request.path).path
            if path != args.path:
                return connection.respond(404, "Not Found\n")
        return None

    def select_subprotocol(connection, offered):
        for name in (reversed(offered) if FAULT == "protocol-last"
                     else offered):
            if name in args.protocol:
                return name
        return None

    async def handler(ws):
        clients.add(ws)
        try:
            async for msg in ws:
                if args.broadcast:
                    for peer in list(clients):
                        try:
                            await peer.send(maybe_mangle(msg))
                        except ConnectionClosed:
                            pass
                else:
                    await ws.send(maybe_mangle(msg))
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    async with ws_serve(
        handler, args.host, args.port,
        process_request=process_request,
        select_subprotocol=select_subprotocol if args.protocol else None,
        subprotocols=None,
        max_size=args.max_message,
        ping_interval=None,
        compression=None,
    ) as server:
        host, port = server.sockets[0].getsockname()[:2]
        sys.stdout.write(f"listening on {host}:{port}\n")
        sys.stdout.flush()
        await stop
        server.close()
    return 0


# ---------------------------------------------------------------- connect

def print_closed(code, reason):
    sys.stderr.write(f"closed {code} {reason}\n")
    sys.stderr.flush()


def close_info(ws, exc=None):
    rcvd = None
    if exc is not None and exc.rcvd is not None:
        rcvd = exc.rcvd
    elif ws.protocol.close_rcvd is not None:
        rcvd = ws.protocol.close_rcvd
    if rcvd is None:
        return 1006, ""
    return int(rcvd.code), rcvd.reason


def write_message(msg):
    out = sys.stdout.buffer
    out.write(msg.encode("utf-8") if isinstance(msg, str) else msg)
    out.write(b"\n")
    out.flush()


async def connect_main(args):
    headers = []
    for h in args.header:
        if ":" not in h:
            print(f"usage error: bad --header {h!r}", file=sys.stderr)
            return 2
        name, value = h.split(":", 1)
        headers.append((name.strip(), value.strip()))
    try:
        ws = await asyncio.wait_for(ws_connect(
            args.url,
            subprotocols=args.protocol or None,
            additional_headers=headers or None,
            origin=args.origin,
            max_size=args.max_message,
            ping_interval=None,
            compression=None,
            open_timeout=20,
        ), 30)
    except InvalidStatus as exc:
        print(f"handshake failed: HTTP {exc.response.status_code}",
              file=sys.stderr)
        return 1
    except Exception as exc:  # connection refused, bad URL, timeouts...
        # websockets refuses an "HTTP/1.0 403 ..." status line (libwebsockets
        # rejects upgrades that way); recover the status from its message.
        m = re.search(r"HTTP/1\.[01] (\d{3})", str(exc.__cause__ or ""))
        if m:
            print(f"handshake failed: HTTP {m.group(1)}", file=sys.stderr)
            return 1
        print(f"handshake failed: {exc}", file=sys.stderr)
        return 1

    loop = asyncio.get_running_loop()

    if args.echo:
        try:
            async for msg in ws:
                await ws.send(maybe_mangle(msg))
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        code, reason = close_info(ws)
        print_closed(code, reason)
        return 0 if ws.protocol.close_rcvd is not None else 1

    async def reader():
        try:
            async for msg in ws:
                write_message(msg)
        except ConnectionClosed:
            pass

    rtask = asyncio.ensure_future(reader())
    lines = asyncio.Queue()

    def stdin_thread():
        # Daemon thread: a blocked readline never holds up the exit.
        while True:
            line = sys.stdin.buffer.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if not line:
                return

    threading.Thread(target=stdin_thread, daemon=True).start()
    try:
        while True:
            get = asyncio.ensure_future(lines.get())
            done, _ = await asyncio.wait(
                {get, rtask}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                break  # peer closed first
            line = get.result()
            if not line:
                await ws.close(1000)
                break
            if line.endswith(b"\n"):
                line = line[:-1]
            if args.binary:
                await ws.send(line)
            else:
                await ws.send(line.decode("utf-8", "replace"))
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    await rtask
    code, reason = close_info(ws)
    print_closed(code, reason)
    return 0 if ws.protocol.close_rcvd is not None else 1


def main():
    args = build_parser().parse_args()
    if args.cmd == "serve":
        return asyncio.run(serve_main(args))
    if args.cmd == "connect":
        return asyncio.run(connect_main(args))
    print("usage: tether serve|connect ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
