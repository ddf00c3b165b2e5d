"""`tether serve --static DIR` against curl: files on the WebSocket port.

curl is the independent HTTP/1.1 client here: status lines, headers,
keep-alive across several URLs, conditional requests with its own ETag and
date handling, redirects, a large file checked byte for byte (sent with
sendfile(2) in cleartext, read in pieces under TLS), and requests that try
to leave the directory. A Python websockets client talks to the same port
meanwhile. Everything is on 127.0.0.1.
"""

import hashlib
import os
import shutil
import subprocess

import pytest

from conftest import missing

CURL_TIMEOUT = 60
BIG = 24 * 1024 * 1024


@pytest.fixture
def docroot(tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><p>home</p>\n")
    (root / "app.js").write_text("console.log('hi');\n")
    (root / "sub" / "index.html").write_text("<p>sub</p>\n")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (tmp_path / "secret.txt").write_text("outside the root\n")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return root


def curl(*args, timeout=CURL_TIMEOUT):
    if shutil.which("curl") is None:
        missing("curl (apt-get install curl)")
    cp = subprocess.run(["curl", "--silent", "--show-error", "--noproxy", "*", *args],
                        capture_output=True, timeout=timeout)
    assert cp.returncode == 0, cp.stderr.decode("utf-8", "replace")
    return cp.stdout


def status(url, *args):
    return int(curl("-o", "/dev/null", "-w", "%{http_code}", *args, url))


def headers(url, *args):
    """The response head of a GET, as a dict with lower-case names."""
    out = curl("-D", "-", "-o", "/dev/null", *args, url).decode()
    lines = out.split("\r\n")
    got = {"status": int(lines[0].split()[1])}
    for ln in lines[1:]:
        if ": " in ln:
            k, v = ln.split(": ", 1)
            got[k.lower()] = v
    return got


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_files_types_and_keep_alive(tether_server, docroot):
    srv = tether_server("--static", docroot)
    base = f"http://127.0.0.1:{srv.port}"
    h = headers(base + "/")
    assert h["status"] == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["content-length"] == str(len("<!doctype html><p>home</p>\n"))
    assert h["etag"].startswith('"') and h["last-modified"].endswith(" GMT")
    assert headers(base + "/app.js")["content-type"] == "text/javascript; charset=utf-8"
    assert curl(base + "/sub/") == b"<p>sub</p>\n"
    # HEAD: curl -I
    head = curl("-I", base + "/big.bin").decode()
    assert f"Content-Length: {BIG}\r\n" in head
    # four URLs over one connection (keep-alive)
    out = curl("-w", "%{num_connects}\n", "-o", "/dev/null", "-o", "/dev/null",
               "-o", "/dev/null", "-o", "/dev/null",
               base + "/", base + "/app.js", base + "/sub/", base + "/big.bin").decode()
    assert out.split() == ["1", "0", "0", "0"]


def test_big_file(tether_server, docroot):
    srv = tether_server("--static", docroot)
    want = sha256((docroot / "big.bin").read_bytes())
    got = curl(f"http://127.0.0.1:{srv.port}/big.bin")
    assert len(got) == BIG and sha256(got) == want
    # a slow reader: the socket fills, sendfile resumes where it stopped
    got = curl("--limit-rate", "8M", f"http://127.0.0.1:{srv.port}/big.bin")
    assert sha256(got) == want


def test_big_file_over_tls(tether_server, docroot, certs):
    srv = tether_server("--static", docroot, "--cert", certs / "server.pem",
                        "--key", certs / "server.key")
    url = f"https://localhost:{srv.port}/big.bin"
    got = curl("--cacert", certs / "ca.pem", "--resolve", f"localhost:{srv.port}:127.0.0.1",
               url)
    assert sha256(got) == sha256((docroot / "big.bin").read_bytes())
    h = headers(url, "--cacert", certs / "ca.pem",
                "--resolve", f"localhost:{srv.port}:127.0.0.1", "--http1.1")
    assert h["status"] == 200 and h["content-length"] == str(BIG)


def test_conditional_requests(tether_server, docroot, tmp_path):
    srv = tether_server("--static", docroot)
    url = f"http://127.0.0.1:{srv.port}/app.js"
    etags = tmp_path / "etag"
    curl("--etag-save", etags, "-o", "/dev/null", url)
    assert etags.read_text().strip().startswith('"')
    assert status(url, "--etag-compare", etags) == 304
    # -z FILE: If-Modified-Since from the file's time
    assert status(url, "-z", docroot / "app.js") == 304
    assert status(url, "-z", "Sun, 06 Nov 1994 08:49:37 GMT") == 200
    # a changed file has a new tag
    os.utime(docroot / "app.js", (1_000_000_000, 1_000_000_000))
    assert status(url, "--etag-compare", etags) == 200


def test_redirect_errors_and_escapes(tether_server, docroot):
    srv = tether_server("--static", docroot)
    base = f"http://127.0.0.1:{srv.port}"
    h = headers(base + "/sub")
    assert h["status"] == 301 and h["location"] == "/sub/"
    assert curl("-L", base + "/sub") == b"<p>sub</p>\n"
    assert status(base + "/missing.html") == 404
    assert status(base + "/escape.txt") == 404          # a link out of the root
    assert status(base + "/", "-X", "POST") == 405
    for path in ("/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt",
                 "/sub/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt", "/index.html%00"):
        got = status(base + path, "--path-as-is")
        assert got == 400, (path, got)


def test_websocket_beside_static(tether_server, peer_client, docroot):
    srv = tether_server("-v", "--static", docroot)
    rep = peer_client("py", srv.url + "/any/path", "echo-text")
    assert rep.get("ok") is True, rep
    assert curl(f"http://127.0.0.1:{srv.port}/sub/") == b"<p>sub</p>\n"
    srv.wait_stderr(lambda ln: ln.startswith("http ") and "GET /sub/" in ln)
