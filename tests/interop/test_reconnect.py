"""`tether connect --reconnect` against a real server killed and started
again on the same port: the same session goes on, the lines typed after
the restart are echoed, and --stats counts the reconnection. Bounded: every
wait has a limit, the client's retries are 0.1 s apart."""
import signal
import socket
import subprocess

from conftest import Proc

WAIT = 15.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tether_cmd, port, *args):
    proc = Proc(tether_cmd + ["serve", "--host", "127.0.0.1", "--port", str(port), *args],
                "tether serve")
    proc.wait_listening()
    return proc


def send(client, line):
    client.p.stdin.write(line.encode() + b"\n")
    client.p.stdin.flush()
    assert client.next_line(WAIT) == line


def test_server_killed_and_restarted(tether_cmd):
    port = free_port()
    first = serve(tether_cmd, port)
    client = Proc(tether_cmd + ["connect", "--reconnect-delay", "0.1,0.5", "--stats",
                                f"ws://127.0.0.1:{port}/"], "tether connect",
                  stdin=subprocess.PIPE)
    second = None
    try:
        send(client, "before")
        first.stop(signal.SIGKILL)  # no close frame: the connection is lost
        client.wait_stderr(lambda ln: ln.startswith("reconnecting in"), timeout=WAIT)
        # nobody listens now: refused attempts, each said
        client.wait_stderr(lambda ln: ln.startswith("connection failed: connection refused"),
                           timeout=WAIT)
        second = serve(tether_cmd, port)
        client.wait_stderr(lambda ln: ln == "reconnected", timeout=WAIT)
        send(client, "after")
        client.p.stdin.close()
        assert client.p.wait(WAIT) == 0, client.diag()
    finally:
        client.stop()
        if second:
            second.stop()
    err = client.stderr_log
    assert err[-1] == "closed 1000", client.diag()
    assert any(ln.startswith("connection lost: ") for ln in err), client.diag()
    stats = [ln for ln in err if ln.startswith("stats: sent")]
    assert stats and "sent 2 messages, 11 bytes" in stats[0], client.diag()
    assert "received 2 messages, 11 bytes" in stats[0] and stats[0].endswith("reconnects 1")


def test_server_going_away_and_gives_up(tether_cmd):
    """SIGTERM: the server says 1001 and is gone; with --reconnect-tries 2
    the client tries twice more and gives up, exit 1."""
    port = free_port()
    srv = serve(tether_cmd, port)
    client = Proc(tether_cmd + ["connect", "--reconnect-delay", "0.05", "--reconnect-tries", "2",
                                f"ws://127.0.0.1:{port}/"], "tether connect",
                  stdin=subprocess.PIPE)
    try:
        send(client, "hello")
        assert srv.stop(signal.SIGTERM) == 0
        assert client.p.wait(WAIT) == 1, client.diag()
    finally:
        client.stop()
    err = client.stderr_log
    assert "closed by the server: 1001 server shutting down" in err, client.diag()
    assert sum(ln.startswith("reconnecting in") for ln in err) == 2, client.diag()
    assert err[-2] == f"connection failed: connection refused (127.0.0.1:{port})", client.diag()
    assert err[-1] == f"closed 1006 connection refused (127.0.0.1:{port})", client.diag()
