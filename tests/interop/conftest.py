"""Fixtures for the tether interop suite.

Everything runs on 127.0.0.1 with port 0: each server (tether or a peer)
prints `listening on HOST:PORT` and we read the port from that line. Every
wait has a timeout and every process started here is stopped at teardown.

Environment:
  TETHER_BIN            the `tether` tool under test (required).
  INTEROP_BUILD_DIR     where to build the libwebsockets peer (default: a
                        pytest temp dir).
  INTEROP_NODE_MODULES  node_modules directory holding `ws` (default:
                        peers/node/node_modules).
  INTEROP_SKIP_MISSING  set to 1 to skip (instead of fail) tests whose peer
                        (node, libwebsockets, chromium) is not installed.

TLS: the `certs` fixture makes a fresh test PKI once per session with
tests/certs/make_certs.sh (the openssl tool). A server given `--cert` gets a
wss:// url. Compression: `parse_ext` reads a Sec-WebSocket-Extensions value,
`tether_opens` reads `tether serve -v`, `Relay` counts the bytes a
connection carries each way.
"""

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
NODE_DIR = PEERS / "node"
LWS_SRC = PEERS / "lws" / "lws_peer.c"
MAKE_CERTS = HERE.parent / "certs" / "make_certs.sh"

sys.path.insert(0, str(PEERS))
import payloads  # noqa: E402,F401  (re-exported for the tests)

START_TIMEOUT = 20      # a server must print `listening on` within this
STOP_TIMEOUT = 10       # SIGTERM -> exit
RUN_TIMEOUT = 90        # one client run (peer client or tether connect)
REPORT_TIMEOUT = 60     # a peer server's per-connection report
ECHO_WAIT = 15          # stdin mode: wait this long for echoes before EOF

LISTEN_RE = re.compile(r"^listening on (\S+):(\d+)$")

CLIENT_PEERS = ["py", "node", "lws"]
SERVER_PEERS = ["py", "node", "lws"]


def missing(what):
    msg = f"interop peer unavailable: {what}"
    if os.environ.get("INTEROP_SKIP_MISSING") == "1":
        pytest.skip(msg)
    pytest.fail(msg + " (run tests/interop/run.sh, or set "
                "INTEROP_SKIP_MISSING=1 to skip)", pytrace=False)


class Proc:
    """A long-running process whose stdout lines we read with timeouts."""

    def __init__(self, argv, name, env=None, stdin=subprocess.DEVNULL):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(
            self.argv, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.lines = queue.Queue()
        self.stdout_log = []
        self.stderr_log = []
        self._t_out = threading.Thread(target=self._pump_out, daemon=True)
        self._t_err = threading.Thread(target=self._pump_err, daemon=True)
        self._t_out.start()
        self._t_err.start()

    def _pump_out(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.stdout_log.append(line)
            self.lines.put(line)
        self.lines.put(None)  # EOF marker

    def _pump_err(self):
        for raw in self.p.stderr:
            self.stderr_log.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def diag(self):
        return (f"{self.name}: argv={self.argv} rc={self.p.poll()}\n"
                f"--- stdout (last lines)\n" + "\n".join(self.stdout_log[-20:])
                + "\n--- stderr (last lines)\n"
                + "\n".join(self.stderr_log[-40:]))

    def next_line(self, timeout, pred=lambda line: True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no expected line within {timeout}s\n"
                                   + self.diag())
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)
                raise EOFError("process closed stdout\n" + self.diag())
            if pred(line):
                return line

    def wait_stderr(self, pred, count=1, timeout=REPORT_TIMEOUT):
        """The first `count` stderr lines matching pred, waiting at most
        timeout seconds for them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [ln for ln in list(self.stderr_log) if pred(ln)]
            if len(got) >= count:
                return got[:count]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(got)} of {count} expected stderr "
                                   f"lines within {timeout}s\n" + self.diag())
            time.sleep(0.05)

    def wait_listening(self, timeout=START_TIMEOUT):
        line = self.next_line(timeout)
        m = LISTEN_RE.match(line)
        if not m:
            raise AssertionError(
                f"first stdout line is not `listening on HOST:PORT`: {line!r}\n"
                + self.diag())
        self.host, self.port = m.group(1), int(m.group(2))
        return self.port

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send sig to the process; SIGKILL its process group on timeout.
        Returns the exit code (None if it had to be killed)."""
        rc = self.p.poll()
        if rc is None:
            try:
                self.p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                rc = self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                rc = None
        self.kill_group()
        self._t_out.join(2)
        self._t_err.join(2)
        return rc

    def kill_group(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ tether

@pytest.fixture(scope="session")
def tether_cmd():
    path = os.environ.get("TETHER_BIN")
    if not path:
        pytest.fail("TETHER_BIN is not set: point it at the `tether` tool",
                    pytrace=False)
    p = Path(path)
    if not p.exists() and shutil.which(path):
        p = Path(shutil.which(path))
    p = p.resolve()
    if not p.exists():
        pytest.fail(f"TETHER_BIN={path} does not exist", pytrace=False)
    return [str(p)]


@pytest.fixture
def tether_server(tether_cmd):
    """Factory: tether_server(*extra_args) -> Proc with .port and .url."""
    started = []

    def start(*args):
        proc = Proc(tether_cmd + ["serve", "--host", "127.0.0.1",
                                  "--port", "0", *args], "tether serve")
        started.append(proc)
        proc.wait_listening()
        scheme = "wss" if "--cert" in [str(a) for a in args] else "ws"
        proc.url = f"{scheme}://127.0.0.1:{proc.port}"
        return proc

    yield start
    bad = []
    for proc in started:
        rc = proc.stop()
        if rc != 0:
            bad.append(f"`tether serve` did not exit 0 on SIGTERM (rc={rc})\n"
                       + proc.diag())
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)


class Result:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.stdout = cp.stdout
        self.stderr = cp.stderr.decode("utf-8", "replace")

    def closed_line(self):
        for line in reversed(self.stderr.splitlines()):
            if line.startswith("closed "):
                return line
        return None

    def __repr__(self):
        out = self.stdout[:400]
        return f"<rc={self.rc} stdout={out!r} stderr={self.stderr[-2000:]!r}>"


class _Completed:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _interactive(argv, data, expect_len, timeout):
    """Write data to stdin, keep stdin open until expect_len bytes came out
    on stdout (the echoes), then close stdin (EOF) and wait for the exit.
    Closing stdin only after the echoes arrived keeps the test independent
    of whether a peer still echoes data that arrives right before a Close."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    out, err = bytearray(), bytearray()
    got = threading.Condition()

    def pump(stream, buf):
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                break
            with got:
                buf.extend(chunk)
                got.notify_all()

    threads = [threading.Thread(target=pump, args=(p.stdout, out), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, err), daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    try:
        p.stdin.write(data)
        p.stdin.flush()
        # Wait for the echoes at most ECHO_WAIT: a tool that does not flush
        # per message still gets judged (on what it prints by its exit).
        echo_deadline = min(deadline, time.monotonic() + ECHO_WAIT)
        with got:
            while len(out) < expect_len and p.poll() is None:
                left = echo_deadline - time.monotonic()
                if left <= 0:
                    break
                got.wait(min(left, 0.2))
        p.stdin.close()
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (subprocess.TimeoutExpired, BrokenPipeError):
        pass
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
            for t in threads:
                t.join(2)
            pytest.fail(f"`tether connect` did not finish within {timeout}s: "
                        f"{argv}\nstdout: {bytes(out)[:2000]!r}\n"
                        f"stderr: {bytes(err)[-2000:]!r}", pytrace=False)
    for t in threads:
        t.join(5)
    return _Completed(p.returncode, bytes(out), bytes(err))


@pytest.fixture
def tether_connect(tether_cmd):
    """run(url, *args, stdin=None, wait_stdout=None, timeout=...) -> Result.

    stdin=None gives /dev/null. With wait_stdout=N, stdin is fed and kept
    open until N bytes were printed, then closed (see _interactive);
    otherwise stdin is fed all at once, EOF included."""

    def run(url, *args, stdin=None, wait_stdout=None, timeout=RUN_TIMEOUT):
        argv = tether_cmd + ["connect", url, *args]
        if wait_stdout is not None:
            return Result(_interactive(argv, stdin or b"", wait_stdout,
                                       timeout))
        try:
            cp = subprocess.run(
                argv, input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`tether connect` did not finish within {timeout}s: "
                        f"{argv}\nstderr: {exc.stderr!r}", pytrace=False)
        return Result(cp)

    return run


# ------------------------------------------------------------------- peers

@pytest.fixture(scope="session")
def node_env():
    if shutil.which("node") is None:
        return None
    mods = Path(os.environ.get("INTEROP_NODE_MODULES",
                               NODE_DIR / "node_modules"))
    if not (mods / "ws" / "package.json").exists():
        return None
    env = dict(os.environ)
    env["NODE_PATH"] = str(mods)
    return env


@pytest.fixture(scope="session")
def lws_bin(tmp_path_factory):
    """Build peers/lws/lws_peer.c against Debian's libwebsockets."""
    if shutil.which("pkg-config") is None or subprocess.run(
            ["pkg-config", "--exists", "libwebsockets"]).returncode != 0:
        return None
    build = os.environ.get("INTEROP_BUILD_DIR")
    out_dir = Path(build) if build else tmp_path_factory.mktemp("lws")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "lws_peer"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libwebsockets"],
        capture_output=True, text=True, check=True).stdout.split()
    cc = os.environ.get("CC", "cc")
    # -lssl: the peer asks OpenSSL for the TLS version in use
    cp = subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra",
                         "-D_GNU_SOURCE", "-o", str(out), str(LWS_SRC),
                         *flags, "-lssl", "-lcrypto"], capture_output=True,
                        text=True, timeout=120)
    if cp.returncode != 0:
        pytest.fail("building lws_peer failed:\n" + cp.stderr, pytrace=False)
    return out


@pytest.fixture
def peer_argv(request):
    """peer_argv(kind, role) -> (argv, env) for role 'client' or 'server'.
    Peers are looked up (and lws built) only when a test needs them."""

    def get(kind, role):
        if kind == "py":
            return [sys.executable, PEERS / f"py_{role}.py"], None
        if kind == "node":
            node_env = request.getfixturevalue("node_env")
            if node_env is None:
                missing("node and the `ws` package (npm ci in peers/node)")
            return ["node", NODE_DIR / f"node_{role}.js"], node_env
        if kind == "lws":
            lws_bin = request.getfixturevalue("lws_bin")
            if lws_bin is None:
                missing("libwebsockets-dev / pkg-config")
            return [lws_bin, role], None
        raise ValueError(kind)

    return get


class PeerServer(Proc):
    def report(self, path=None, timeout=REPORT_TIMEOUT):
        """Next JSON report (for `path`, if given) from the peer server.
        Reports for other paths are kept for later calls (connections that
        run in parallel finish in any order)."""
        def wanted(rep):
            # compared URL-decoded: some servers hand out a decoded path
            return path is None or \
                unquote(rep.get("path") or "") == unquote(path)
        kept = self.__dict__.setdefault("kept", [])
        for i, rep in enumerate(kept):
            if wanted(rep):
                return kept.pop(i)

        def is_report(line):
            if not line.startswith("{"):
                return False
            rep = json.loads(line)
            if wanted(rep):
                return True
            kept.append(rep)
            return False
        return json.loads(self.next_line(timeout, is_report))


@pytest.fixture
def peer_server(peer_argv):
    """Factory: peer_server(kind) -> PeerServer with .port and .url."""
    started = []

    def start(kind, *args):
        argv, env = peer_argv(kind, "server")
        proc = PeerServer(argv + ["--port", "0", *args],
                          f"{kind} peer server", env=env)
        started.append(proc)
        proc.wait_listening()
        scheme = "wss" if "--cert" in [str(a) for a in args] else "ws"
        proc.url = f"{scheme}://127.0.0.1:{proc.port}"
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def peer_client(peer_argv):
    """peer_client(kind, url, scenario, *args, opts=()) -> dict report.
    opts are the peer's options (--ca FILE, --pmd SPEC...), given before
    the URL."""

    def run(kind, url, scenario, *args, opts=(), timeout=RUN_TIMEOUT):
        argv, env = peer_argv(kind, "client")
        opts = [str(o) for o in opts]
        if kind == "lws" and url.startswith("wss:") and \
                "--server-name" not in opts:
            # libwebsockets checks the name it connects to, and cannot
            # check an IP address: the certificates also say "localhost".
            opts += ["--server-name", "localhost"]
        argv = [str(a) for a in argv + [*opts, url, scenario, *args]]
        try:
            cp = subprocess.run(argv, capture_output=True, timeout=timeout,
                                env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{kind} peer client timed out after {timeout}s: "
                        f"{argv}\nstderr: {exc.stderr!r}", pytrace=False)
        lines = [ln for ln in cp.stdout.decode("utf-8", "replace").splitlines()
                 if ln.startswith("{")]
        if cp.returncode != 0 or not lines:
            pytest.fail(f"{kind} peer client failed (rc={cp.returncode}): "
                        f"{argv}\nstdout: {cp.stdout[-2000:]!r}\n"
                        f"stderr: {cp.stderr[-4000:]!r}", pytrace=False)
        rep = json.loads(lines[-1])
        rep["_stderr"] = cp.stderr.decode("utf-8", "replace")[-4000:]
        return rep

    return run



# ------------------------------------------------------- TLS, compression

@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A fresh test PKI (tests/certs/make_certs.sh); the directory."""
    if shutil.which("openssl") is None:
        missing("the openssl tool (apt-get install openssl)")
    out = tmp_path_factory.mktemp("certs")
    cp = subprocess.run(["bash", str(MAKE_CERTS), str(out)],
                        capture_output=True, text=True, timeout=120)
    if cp.returncode != 0:
        pytest.fail(f"make_certs.sh failed:\n{cp.stdout}\n{cp.stderr}",
                    pytrace=False)
    return out


def parse_ext(value):
    """A Sec-WebSocket-Extensions value (or tether's 'none') as a dict
    {name: {param: value}}: values are ints, True for a bare parameter.
    None when no extension is in force."""
    if value is None or value.strip() in ("", "none"):
        return None
    out = {}
    for ext in value.split(","):
        parts = [p.strip() for p in ext.split(";")]
        params = {}
        for p in parts[1:]:
            if not p:
                continue
            k, _, v = p.partition("=")
            v = v.strip().strip('"')
            params[k.strip().lower()] = int(v) if v else True
        out[parts[0].lower()] = params
    return out


OPEN_RE = re.compile(r"^open (\S+) (\S*) via (HTTP/1\.1|HTTP/2 stream \d+)(?: protocol (\S+))?"
                     r"(?: tls (\S+) (\S+))?(?: extensions (.*))?$")


def tether_opens(proc, count, timeout=REPORT_TIMEOUT):
    """The first `count` `open ...` lines of a `tether serve -v`, each as a
    dict: peer, path, via (HTTP/1.1, HTTP/2 stream N), protocol, tls,
    cipher, extensions (raw value)."""
    out = []
    for line in proc.wait_stderr(lambda ln: ln.startswith("open "), count,
                                 timeout):
        m = OPEN_RE.match(line)
        assert m, f"bad `open` line from tether serve -v: {line!r}"
        out.append(dict(zip(("peer", "path", "via", "protocol", "tls", "cipher",
                             "extensions"), m.groups())))
    return out


def connect_lines(stderr):
    """What `tether connect -v` said: {'tls': (version, cipher) or None,
    'extensions': raw value or None, 'via': "HTTP/1.1" or "HTTP/2 stream N"}."""
    info = {"tls": None, "extensions": None, "via": None}
    for line in stderr.splitlines():
        if line.startswith("via "):
            info["via"] = line[len("via "):]
        elif line.startswith("tls "):
            info["tls"] = tuple(line.split()[1:3])
        elif line.startswith("extensions "):
            info["extensions"] = line[len("extensions "):]
    return info


class Relay:
    """A loopback TCP relay to 127.0.0.1:target that counts the bytes each
    way (client to server: up; server to client: down), to see what a
    connection really carries on the wire."""

    def __init__(self, target_port):
        self.target = target_port
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.threads = []
        self.conns = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target),
                                                  timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            self.conns += [client, server]
            for a, b, up in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(a, b, up),
                                     daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_WR if s is dst else socket.SHUT_RD)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def relay():
    """Factory: relay(target_port) -> Relay; closed at teardown."""
    made = []

    def make(port):
        r = Relay(port)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
