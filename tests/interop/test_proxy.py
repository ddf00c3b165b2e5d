"""Proxies, against the real ones from Debian started here on loopback:
tinyproxy (HTTP CONNECT, with and without Basic credentials) and microsocks
(SOCKS5, with and without username/password), in front of `tether serve`,
with `tether connect --proxy` / `--proxy-from-env` as the client. Each
refusal's text is the proxy's own answer."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import missing

START_TIMEOUT = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A proxy process on a fixed loopback port, its output in a file."""

    def __init__(self, argv, port, log):
        self.port, self.log = port, log
        self.proc = subprocess.Popen(argv, stdout=open(log, "wb"),
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{argv[0]} did not listen on {port}: {self.text()}")

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        d.stop()


def start(daemons, make):
    """Starts a daemon on a free port, again on another if one was taken
    between choosing and binding it."""
    for _ in range(5):
        try:
            d = make(free_port())
        except RuntimeError:
            continue
        daemons.append(d)
        return d
    pytest.fail("the proxy would not start", pytrace=False)


@pytest.fixture
def tinyproxy(daemons, tmp_path):
    exe = shutil.which("tinyproxy")
    if not exe:
        missing("tinyproxy (Debian's tinyproxy-bin)")

    def make(auth=None):
        def one(port):
            conf = tmp_path / f"tinyproxy-{port}.conf"
            lines = [f"Port {port}", "Listen 127.0.0.1", "Timeout 30",
                     "LogLevel Connect", "MaxClients 20", "Allow 127.0.0.1",
                     "DisableViaHeader Yes"]
            if auth:
                lines.append(f"BasicAuth {auth[0]} {auth[1]}")
            conf.write_text("\n".join(lines) + "\n")
            return Daemon([exe, "-d", "-c", str(conf)], port,
                          tmp_path / f"tinyproxy-{port}.log")
        d = start(daemons, one)
        d.url = f"http://127.0.0.1:{d.port}"
        return d

    return make


@pytest.fixture
def microsocks(daemons, tmp_path):
    exe = shutil.which("microsocks")
    if not exe:
        missing("microsocks (Debian's microsocks)")

    def make(auth=None):
        def one(port):
            argv = [exe, "-i", "127.0.0.1", "-p", str(port)]
            if auth:
                argv += ["-u", auth[0], "-P", auth[1]]
            return Daemon(argv, port, tmp_path / f"microsocks-{port}.log")
        d = start(daemons, one)
        d.url = f"socks5h://127.0.0.1:{d.port}"
        return d

    return make


def echo_through(tether_connect, url, *args, env=None):
    """One line through the proxy and back; returns the Result."""
    if env is not None:
        old = os.environ.copy()
        os.environ.update(env)
    try:
        return tether_connect(url, *args, stdin=b"through the proxy\n",
                              wait_stdout=len(b"through the proxy\n"))
    finally:
        if env is not None:
            os.environ.clear()
            os.environ.update(old)


def assert_echoed(r):
    assert r.rc == 0, r
    assert r.stdout == b"through the proxy\n", r
    assert r.closed_line() == "closed 1000", r


def assert_refused(r, why):
    assert r.rc == 1, r
    assert f"connection failed: {why}" in r.stderr, r


# ---------------------------------------------------------------- HTTP CONNECT


def test_http_connect(tether_server, tether_connect, tinyproxy):
    srv = tether_server()
    proxy = tinyproxy()
    assert_echoed(echo_through(tether_connect, srv.url + "/", "--proxy", proxy.url))
    assert f"CONNECT 127.0.0.1:{srv.port} HTTP/1.1" in proxy.text()


def test_http_connect_tls(tether_server, tether_connect, tinyproxy, certs):
    """wss:// through the tunnel: TLS is end to end, the name checked is
    the server's, and HTTP/2 goes through it too."""
    srv = tether_server("--cert", certs / "chain.pem", "--key", certs / "server.key")
    proxy = tinyproxy()
    url = f"wss://localhost:{srv.port}/"
    for extra in ([], ["--http2"]):
        r = echo_through(tether_connect, url, "--proxy", proxy.url, "--ca",
                         certs / "ca.pem", "-v", *extra)
        assert_echoed(r)
        assert "TLSv1.3" in r.stderr, r
    assert f"CONNECT localhost:{srv.port} HTTP/1.1" in proxy.text()
    assert "HTTP/2 stream" in r.stderr, r


def test_stats_through_proxy(tether_server, tether_connect, tinyproxy, certs):
    """--stats times each step of the opening: the proxy's CONNECT and TLS
    are there, and the bytes on the wire exceed the payload."""
    srv = tether_server("--cert", certs / "chain.pem", "--key", certs / "server.key")
    proxy = tinyproxy()
    r = echo_through(tether_connect, f"wss://localhost:{srv.port}/", "--proxy", proxy.url,
                     "--ca", certs / "ca.pem", "--stats", "--ping-interval", "0.05")
    assert_echoed(r)
    steps = re.search(r"^stats: resolve ([\d.]+) ms, connect ([\d.]+) ms, proxy ([\d.]+) ms, "
                      r"tls ([\d.]+) ms, handshake ([\d.]+) ms$", r.stderr, re.M)
    assert steps, r
    assert all(float(v) > 0 for v in steps.groups()[1:]), r
    counts = re.search(r"^stats: sent 1 messages, 17 bytes \((\d+) on the wire\); received 1 "
                       r"messages, 17 bytes \((\d+) on the wire\); reconnects 0$", r.stderr, re.M)
    assert counts and int(counts.group(1)) > 17 + 200 and int(counts.group(2)) > 17 + 200, r


def test_http_basic_auth(tether_server, tether_connect, tinyproxy):
    srv = tether_server()
    proxy = tinyproxy(auth=("alice", "s3cret"))
    good = f"http://alice:s3cret@127.0.0.1:{proxy.port}"
    assert_echoed(echo_through(tether_connect, srv.url + "/", "--proxy", good))
    r = tether_connect(srv.url + "/", "--proxy", proxy.url)
    assert_refused(r, "HTTP 407 Proxy Authentication Required from the proxy")
    # Debian's tinyproxy 1.11 answers wrong credentials 401 (RFC 9110
    # would have 407 again): the refusal says what the proxy said.
    r = tether_connect(srv.url + "/", "--proxy",
                       f"http://alice:wrong@127.0.0.1:{proxy.port}")
    assert_refused(r, "HTTP 401 Unauthorized from the proxy")


def test_http_proxy_cannot_connect(tether_connect, tinyproxy):
    proxy = tinyproxy()
    dead = free_port()
    r = tether_connect(f"ws://127.0.0.1:{dead}/", "--proxy", proxy.url)
    assert_refused(r, "HTTP 500 Unable to connect from the proxy")


def test_proxy_itself_refuses(tether_connect):
    dead = free_port()
    r = tether_connect("ws://127.0.0.1:1/", "--proxy",
                       f"http://127.0.0.1:{dead}")
    assert_refused(r, f"connection refused (127.0.0.1:{dead})")
    r = tether_connect("ws://127.0.0.1:1/", "--proxy", "https://127.0.0.1:1")
    assert r.rc == 2 and "only http://, socks5:// and socks5h://" in r.stderr, r


# ---------------------------------------------------------------- SOCKS5


def test_socks5_remote_name(tether_server, tether_connect, microsocks):
    """socks5h://: the name goes to the proxy, which resolves it."""
    srv = tether_server()
    proxy = microsocks()
    url = f"ws://localhost:{srv.port}/"
    assert_echoed(echo_through(tether_connect, url, "--proxy", proxy.url))
    assert f"connected to localhost:{srv.port}" in proxy.text()


def test_socks5_local_name(tether_server, tether_connect, microsocks):
    """socks5://: the address goes to the proxy."""
    srv = tether_server()
    proxy = microsocks()
    url = f"socks5://127.0.0.1:{proxy.port}"
    assert_echoed(echo_through(tether_connect, srv.url + "/", "--proxy", url))
    assert f"connected to 127.0.0.1:{srv.port}" in proxy.text()


def test_socks5_auth(tether_server, tether_connect, microsocks):
    srv = tether_server()
    proxy = microsocks(auth=("bob", "pa55"))
    good = f"socks5h://bob:pa55@127.0.0.1:{proxy.port}"
    assert_echoed(echo_through(tether_connect, srv.url + "/", "--proxy", good))
    r = tether_connect(srv.url + "/", "--proxy",
                       f"socks5h://bob:nope@127.0.0.1:{proxy.port}")
    assert_refused(r, "SOCKS5 proxy: username/password refused")
    r = tether_connect(srv.url + "/", "--proxy", proxy.url)
    assert_refused(r, "SOCKS5 proxy: it asks for a username and password")


def test_socks5_cannot_connect(tether_connect, microsocks):
    proxy = microsocks()
    dead = free_port()
    r = tether_connect(f"ws://127.0.0.1:{dead}/", "--proxy", proxy.url)
    assert_refused(r, "SOCKS5 proxy: connection refused (reply 5)")


def test_socks5_tls(tether_server, tether_connect, microsocks, certs):
    srv = tether_server("--cert", certs / "chain.pem", "--key", certs / "server.key")
    proxy = microsocks()
    r = echo_through(tether_connect, f"wss://localhost:{srv.port}/", "--proxy",
                     proxy.url, "--ca", certs / "ca.pem")
    assert_echoed(r)


# ---------------------------------------------------------------- environment


def test_environment(tether_server, tether_connect, tinyproxy, microsocks):
    """--proxy-from-env reads the variables as curl does."""
    srv = tether_server()
    http, socks = tinyproxy(), microsocks()
    dead = f"http://127.0.0.1:{free_port()}"
    clean = {k: "" for k in ("http_proxy", "https_proxy", "HTTPS_PROXY",
                             "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")}
    url = srv.url + "/"
    r = echo_through(tether_connect, url, "--proxy-from-env",
                     env={**clean, "http_proxy": http.url})
    assert_echoed(r)
    assert f"CONNECT 127.0.0.1:{srv.port}" in http.text()
    r = echo_through(tether_connect, url, "--proxy-from-env",
                     env={**clean, "ALL_PROXY": socks.url})
    assert_echoed(r)
    assert f"connected to 127.0.0.1:{srv.port}" in socks.text()
    # no_proxy wins: the dead proxy is never asked
    r = echo_through(tether_connect, url, "--proxy-from-env",
                     env={**clean, "http_proxy": dead, "no_proxy": "127.0.0.1"})
    assert_echoed(r)
    # and without it the dead proxy is what fails
    old = os.environ.copy()
    os.environ.update({**clean, "http_proxy": dead})
    try:
        r = tether_connect(url, "--proxy-from-env")
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert_refused(r, f"connection refused ({dead[len('http://'):]})")
    # without --proxy-from-env the environment is not read
    os.environ.update({**clean, "http_proxy": dead})
    try:
        assert_echoed(echo_through(tether_connect, url))
    finally:
        os.environ.clear()
        os.environ.update(old)
