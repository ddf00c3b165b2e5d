"""HTTP/2 on the WebSocket port (RFC 9113, RFC 8441) against independent peers.

- curl (libcurl's nghttp2 client): files over h2c by prior knowledge and over
  h2 chosen by ALPN, HEAD, 404, several streams on one connection, a large
  file byte for byte through flow control; HTTP/1.1 on the same port.
- nghttp and h2load (Debian's nghttp2-client): streams at once on one
  connection; thousands of concurrent streams on a few connections.
- Node's http2 client with ws's framing (peers/node/h2_ws_client.js):
  WebSockets by extended CONNECT, several on one connection, a 1 MiB message
  each, permessage-deflate, closed with END_STREAM; over h2c and h2/TLS.
- Python websockets (HTTP/1.1) on the same port meanwhile.
Everything is on 127.0.0.1.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import Proc, connect_lines, missing, tether_opens, NODE_DIR

TIMEOUT = 90
BIG = 8 * 1024 * 1024


@pytest.fixture
def docroot(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><p>h2</p>\n")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    return root


def run(argv, timeout=TIMEOUT):
    if shutil.which(argv[0]) is None:
        missing(f"{argv[0]} (apt-get install {'curl' if argv[0] == 'curl' else 'nghttp2-client'})")
    cp = subprocess.run([str(a) for a in argv], capture_output=True, timeout=timeout)
    assert cp.returncode == 0, (argv, cp.stdout.decode(errors="replace")[-2000:],
                                cp.stderr.decode(errors="replace")[-2000:])
    return cp.stdout


def curl(*args):
    return run(["curl", "--silent", "--show-error", "--noproxy", "*", *args])


def tls(certs, port):
    return ["--cacert", certs / "ca.pem", "--resolve", f"localhost:{port}:127.0.0.1"]


def test_h2c_prior_knowledge(tether_server, docroot):
    srv = tether_server("-v", "--static", docroot)
    base = f"http://127.0.0.1:{srv.port}"
    out = curl("--http2-prior-knowledge", "-D", "-", base + "/").decode()
    assert out.startswith("HTTP/2 200"), out
    assert "content-type: text/html; charset=utf-8\r\n" in out
    assert "connection:" not in out.lower()     # RFC 9113 8.2.2
    assert out.endswith("<!doctype html><p>h2</p>\n")
    head = curl("--http2-prior-knowledge", "-I", base + "/big.bin").decode()
    assert head.startswith("HTTP/2 200") and f"content-length: {BIG}\r\n" in head
    code = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                base + "/missing")
    assert code == b"404"
    # three streams at once on one connection, one of them 8 MiB through the
    # windows: nghttp (curl 7.88 cannot reuse an h2c connection, its #10634)
    out = run(["nghttp", "-ns", base + "/", base + "/big.bin", base + "/missing"]).decode()
    rows = {ln.split()[-1]: ln.split() for ln in out.splitlines() if re.match(r"^\s*\d+ ", ln)}
    assert rows["/"][4] == "200" and rows["/big.bin"][4] == "200", out
    assert rows["/missing"][4] == "404", out
    got = curl("--http2-prior-knowledge", base + "/big.bin")
    assert hashlib.sha256(got).digest() == hashlib.sha256((docroot / "big.bin").read_bytes()).digest()
    # HTTP/1.1 goes on working on the same port
    assert curl("--http1.1", "-w", "%{http_version}", "-o", "/dev/null", base + "/") == b"1.1"
    srv.wait_stderr(lambda ln: ln.startswith("http ") and "GET /big.bin via HTTP/2 stream" in ln)
    srv.wait_stderr(lambda ln: ln.startswith("http ") and ln.endswith("GET / via HTTP/1.1"))


def test_h2_by_alpn(tether_server, docroot, certs):
    srv = tether_server("--static", docroot, "--cert", certs / "server.pem",
                        "--key", certs / "server.key")
    url = f"https://localhost:{srv.port}"
    # three requests, one connection
    out = curl(*tls(certs, srv.port), "-w", "%{http_version} %{num_connects}\n",
               "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
               url + "/", url + "/missing", url + "/").decode().split()
    assert out == ["2", "1", "2", "0", "2", "0"], out
    got = curl(*tls(certs, srv.port), url + "/big.bin")
    assert hashlib.sha256(got).digest() == hashlib.sha256((docroot / "big.bin").read_bytes()).digest()
    # a client that offers only http/1.1 gets it
    out = curl(*tls(certs, srv.port), "--http1.1", "-w", "%{http_version}", "-o", "/dev/null",
               url + "/")
    assert out == b"1.1"


def test_h2_off(tether_server, docroot, certs):
    srv = tether_server("--static", docroot, "--no-http2", "--cert", certs / "server.pem",
                        "--key", certs / "server.key")
    out = curl(*tls(certs, srv.port), "-w", "%{http_version}", "-o", "/dev/null",
               f"https://localhost:{srv.port}/")
    assert out == b"1.1"


def test_h2load_many_streams(tether_server, docroot):
    srv = tether_server("--static", docroot)
    out = run(["h2load", "-n", "4000", "-c", "4", "-m", "50",
               f"http://127.0.0.1:{srv.port}/"]).decode()
    assert re.search(r"requests: 4000 total, 4000 started, 4000 done, 4000 succeeded", out), out
    assert "status codes: 4000 2xx" in out, out


def node_h2(node_env, url, streams, *extra):
    if node_env is None:
        missing("node and the ws module (tests/interop/run.sh installs them)")
    cp = subprocess.run(["node", NODE_DIR / "h2_ws_client.js", url, str(streams), *map(str, extra)],
                        capture_output=True, timeout=TIMEOUT, env=node_env)
    lines = cp.stdout.decode().strip().splitlines()
    assert lines, cp.stderr.decode(errors="replace")
    return json.loads(lines[-1])


def test_websockets_over_h2c(tether_server, node_env, peer_client):
    srv = tether_server("-v", "--deflate")
    rep = node_h2(node_env, f"http://127.0.0.1:{srv.port}/chat", 8, "--pmd")
    assert rep["ok"] is True, rep
    assert rep["connect_protocol"] is True          # SETTINGS_ENABLE_CONNECT_PROTOCOL
    assert rep["opened"] == 8 and rep["echoed"] == 16 and rep["closed"] == 8, rep
    assert all(e.startswith("permessage-deflate") for e in rep["extensions"]), rep
    # each stream was a connection of its own to the application, on one
    # TCP connection
    opens = tether_opens(srv, 8)
    assert len({o["peer"] for o in opens}) == 1, opens
    assert sorted(int(o["via"].split()[-1]) for o in opens) == list(range(1, 17, 2)), opens
    srv.wait_stderr(lambda ln: ln.startswith("closed ") and " 1000" in ln, count=8)
    # an HTTP/1.1 WebSocket on the same port
    assert peer_client("py", srv.url + "/x", "echo-text").get("ok") is True


def test_websockets_over_h2_tls(tether_server, node_env, certs):
    srv = tether_server("--cert", certs / "server.pem", "--key", certs / "server.key")
    rep = node_h2(node_env, f"https://127.0.0.1:{srv.port}/chat", 4, "--ca", certs / "ca.pem")
    assert rep["ok"] is True, rep
    assert rep["opened"] == 4 and rep["closed"] == 4, rep


def test_websocket_path_refused_over_h2(tether_server, node_env):
    srv = tether_server("--path", "/only")
    rep = node_h2(node_env, f"http://127.0.0.1:{srv.port}/other", 1)
    assert rep["ok"] is False and rep["status"] == [404], rep


# ---- tether's client over HTTP/2 (tether connect --http2) -------------------------

LINES = b"hello over h2\nsecond line\n"


def node_server(node_env, certs, mode):
    if node_env is None:
        missing("node and the ws module (tests/interop/run.sh installs them)")
    proc = Proc(["node", NODE_DIR / "h2_ws_server.js", certs / "server.pem",
                 certs / "server.key", mode], f"node h2_ws_server {mode}", env=node_env)
    line = proc.next_line(30, lambda ln: ln.startswith("listening on "))
    assert line, proc.diag()
    proc.port = int(line.rsplit(":", 1)[1])
    return proc


def connect_h2(tether_connect, url, certs, *extra):
    res = tether_connect(url, "-v", "--http2", "--ca", certs / "ca.pem", *extra, stdin=LINES)
    assert res.rc == 0, res
    assert res.stdout == LINES, res
    return connect_lines(res.stderr)


def test_client_h2_to_tether(tether_server, tether_connect, certs):
    srv = tether_server("-v", "--deflate", "--cert", certs / "server.pem",
                        "--key", certs / "server.key")
    info = connect_h2(tether_connect, f"wss://127.0.0.1:{srv.port}/c", certs, "--deflate")
    assert info["via"] == "HTTP/2 stream 1", info
    assert info["extensions"].startswith("permessage-deflate"), info
    assert tether_opens(srv, 1)[0]["via"] == "HTTP/2 stream 1"


def via_node(tether_connect, node_env, certs, mode):
    """tether connect --http2 to the Node http2 server in mode: (how the
    client says it connected, how the server says it was reached)."""
    node = node_server(node_env, certs, mode)
    try:
        info = connect_h2(tether_connect, f"wss://127.0.0.1:{node.port}/c", certs)
        return info["via"], node.next_line(10, lambda ln: ln.startswith("ws "))
    finally:
        node.stop()


def test_client_h2_to_node(tether_connect, node_env, certs):
    assert via_node(tether_connect, node_env, certs, "rfc8441") == ("HTTP/2 stream 1",
                                                                     "ws http2 1")


def test_client_falls_back_to_http1(tether_connect, tether_server, node_env, certs):
    """A server that takes h2 without extended CONNECT: a second connection,
    over HTTP/1.1; one that offers only HTTP/1.1: ALPN says so at once."""
    assert via_node(tether_connect, node_env, certs, "h2-only") == ("HTTP/1.1", "ws http/1.1")
    srv = tether_server("-v", "--no-http2", "--cert", certs / "server.pem",
                        "--key", certs / "server.key")
    info = connect_h2(tether_connect, f"wss://127.0.0.1:{srv.port}/c", certs)
    assert info["via"] == "HTTP/1.1", info
    # ws:// has no ALPN to ask with: HTTP/1.1
    srv = tether_server("-v")
    res = tether_connect(f"ws://127.0.0.1:{srv.port}/c", "-v", "--http2", stdin=LINES)
    assert res.rc == 0 and connect_lines(res.stderr)["via"] == "HTTP/1.1", res


def test_idle_connection_gets_goaway(tether_server):
    """An HTTP/2 connection with no stream open past the keep-alive timeout
    (5 s) is told GOAWAY (NO_ERROR, last stream 0) before the server closes
    it (RFC 9113 6.8), as nghttp's own client would see it."""
    srv = tether_server()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0\0\0\4\0\0\0\0\0")
        buf, frames, start = b"", [], time.monotonic()
        while time.monotonic() - start < 30:
            got = s.recv(65536)
            if not got:
                break
            buf += got
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                frames.append((buf[3], buf[9:9 + length]))
                buf = buf[9 + length:]
        waited = time.monotonic() - start
    goaway = [p for t, p in frames if t == 7]
    assert goaway, frames
    last, code = struct.unpack(">II", goaway[0][:8])
    assert (last, code) == (0, 0), goaway
    assert 4 <= waited < 30, waited
