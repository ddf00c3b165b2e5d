"""tether.sync against websockets.sync (both directions)."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import websockets
from websockets.sync.client import connect as ws_connect
from websockets.sync.server import serve as ws_serve

import tether
import tether.sync as ts
from conftest import RawServer, TServer, free_port, handshake_101


def ws_echo(ws):
    for m in ws:
        ws.send(m)


class WsServer:
    """websockets.sync server in a thread."""

    def __init__(self, handler, **kw):
        self.server = ws_serve(handler, "127.0.0.1", 0, **kw)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.thread.join(10)


def t_echo(ws):
    for m in ws:
        ws.send(m)


def test_client_echo_and_iteration():
    with WsServer(ws_echo, max_size=None) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/", max_size=None) as ws:
            for msg in ["a", "", "ünï", b"", b"\x00" * 100000, "t" * (4 << 20)]:
                ws.send(msg)
                assert ws.recv(timeout=10) == msg
            ws.send(["x", "y"])
            assert ws.recv(timeout=5) == "xy"
            assert ws.response.status == 101
            assert ws.remote_address == ("127.0.0.1", srv.port)
            assert ws.local_address[0] == "127.0.0.1"
            assert ws.state is ts.State.OPEN and ws.state is tether.State.OPEN
        assert ws.close_code == 1000 and ws.closed
        assert ws.remote_address == ("127.0.0.1", srv.port)  # kept after the end


def test_client_recv_timeout_and_concurrent_recv():
    with WsServer(ws_echo) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/") as ws:
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.1)
            assert time.monotonic() - t0 < 2
            errors = []
            th = threading.Thread(target=lambda: errors.append(ws.recv(timeout=5)))
            th.start()
            time.sleep(0.1)
            with pytest.raises(tether.ConcurrencyError):
                ws.recv(timeout=0.1)
            ws.send("x")
            th.join(5)
            assert errors == ["x"]


def test_client_send_from_another_thread_while_receiving():
    with WsServer(ws_echo) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/") as ws:
            n = 500
            sender = threading.Thread(target=lambda: [ws.send(str(i)) for i in range(n)])
            sender.start()
            got = [ws.recv(timeout=10) for _ in range(n)]
            sender.join(10)
            assert got == [str(i) for i in range(n)]


def test_client_close_paths():
    def closes_4003(ws):
        ws.close(4003, "nope")

    with WsServer(closes_4003) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/") as ws:
            with pytest.raises(tether.ConnectionClosedError) as ei:
                ws.recv(timeout=5)
            assert (ei.value.code, ei.value.reason) == (4003, "nope")
            with pytest.raises(tether.ConnectionClosed):
                ws.send("late")

    seen = []

    def records(ws):
        try:
            ws.recv()
        except websockets.ConnectionClosed as e:
            seen.append(e.rcvd.code)

    with WsServer(records) as srv:
        ws = ts.connect(f"ws://127.0.0.1:{srv.port}/")
        ws.close(4100, "bye")
        assert ws.close_code == 4100
    assert seen == [4100]


def test_client_ping():
    with WsServer(ws_echo) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/") as ws:
            assert ws.ping(b"p").wait(5)
            assert ws.latency > 0


def test_client_failures():
    with pytest.raises(tether.InvalidURI):
        ts.connect("wss//nope")
    with pytest.raises(tether.ConnectionFailed):
        ts.connect(f"ws://127.0.0.1:{free_port()}/")
    with RawServer(lambda s: time.sleep(2)) as raw:
        with pytest.raises(tether.OpenTimeout):
            ts.connect(f"ws://127.0.0.1:{raw.port}/", open_timeout=0.2)

    def forbid(conn, request):
        return conn.respond(403, "no")

    with WsServer(ws_echo, process_request=forbid) as srv:
        with pytest.raises(tether.InvalidStatus) as ei:
            ts.connect(f"ws://127.0.0.1:{srv.port}/")
        assert ei.value.status == 403


def test_client_peer_vanishes():
    def abort_after_handshake(s):
        handshake_101(s)
        time.sleep(0.1)
        s.close()

    with RawServer(abort_after_handshake) as raw:
        with ts.connect(f"ws://127.0.0.1:{raw.port}/") as ws:
            with pytest.raises(tether.ConnectionClosedError) as ei:
                ws.recv(timeout=5)
            assert ei.value.code == 1006


def test_server_echo_with_websockets_client():
    seen = {}

    def handler(ws):
        seen["path"] = ws.request.path
        seen["host"] = ws.request.headers.get("Host")
        seen["headers"] = ws.request.headers
        t_echo(ws)

    with TServer(handler) as srv:
        with ws_connect(f"ws://127.0.0.1:{srv.port}/x?y=z", max_size=None) as c:
            for msg in ["hi", b"\x01" * 70000, "z" * (2 << 20)]:
                c.send(msg)
                assert c.recv(timeout=10) == msg
    assert seen["path"] == "/x?y=z" and seen["host"] == f"127.0.0.1:{srv.port}"
    # every request header, listed in order, still there after the close
    names = [n.lower() for n in seen["headers"]]
    assert {"host", "upgrade", "connection", "sec-websocket-key",
            "sec-websocket-version"} <= set(names)
    assert names.index("host") < names.index("sec-websocket-key")
    assert len(seen["headers"]) == len(names)
    assert seen["headers"]["UPGRADE"].lower() == "websocket"


def test_server_handler_outcomes():
    def returns(ws):
        ws.send("one")

    def raises(ws):
        raise ValueError("bad handler")

    for handler, code in [(returns, 1000), (raises, 1011)]:
        with TServer(handler) as srv:
            with ws_connect(f"ws://127.0.0.1:{srv.port}/") as c:
                with pytest.raises(websockets.ConnectionClosed) as ei:
                    while True:
                        c.recv(timeout=5)
                assert ei.value.rcvd.code == code


def test_server_shutdown_closes_clients_with_1001():
    srv = TServer(t_echo)
    stack = contextlib.ExitStack()
    clients = [stack.enter_context(ws_connect(f"ws://127.0.0.1:{srv.port}/")) for _ in range(3)]
    for c in clients:
        c.send("x")
        assert c.recv(timeout=5) == "x"
    srv.__exit__()
    for c in clients:
        with pytest.raises(websockets.ConnectionClosedOK) as ei:
            c.recv(timeout=5)
        assert ei.value.rcvd.code == 1001
    stack.close()


def test_server_process_request_and_subprotocols():
    def process_request(conn, request):
        return (401, "who are you") if request.path == "/secret" else None

    def handler(ws):
        ws.send(ws.subprotocol or "-")
        ws.recv(timeout=5)

    with TServer(handler, process_request=process_request, subprotocols=["v2", "v1"]) as srv:
        with pytest.raises(websockets.InvalidStatus) as ei:
            ws_connect(f"ws://127.0.0.1:{srv.port}/secret")
        assert ei.value.response.status_code == 401
        with ws_connect(f"ws://127.0.0.1:{srv.port}/", subprotocols=["v1"]) as c:
            assert c.recv(timeout=5) == "v1"


def test_sync_tether_to_tether():
    with TServer(t_echo) as srv:
        with ts.connect(f"ws://127.0.0.1:{srv.port}/") as ws:
            for i in range(100):
                ws.send(f"m{i}")
            assert [ws.recv(timeout=5) for _ in range(100)] == [f"m{i}" for i in range(100)]


def test_server_shutdown_without_serving():
    srv = ts.serve(t_echo, "127.0.0.1", 0)
    port = srv.port
    srv.shutdown()
    with pytest.raises(tether.ConnectionFailed):
        ts.connect(f"ws://127.0.0.1:{port}/")


def test_origins_on_the_sync_server():
    with TServer(t_echo, origins=["https://good.example"]) as srv:
        with ws_connect(f"ws://127.0.0.1:{srv.port}/", origin="https://good.example") as ws:
            ws.send("in")
            assert ws.recv(timeout=10) == "in"
        with pytest.raises(websockets.InvalidStatus) as e:
            with ws_connect(f"ws://127.0.0.1:{srv.port}/", origin="https://evil.example"):
                pass
        assert e.value.response.status_code == 403
