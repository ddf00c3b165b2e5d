"""tether as a SERVER, headless Chromium as the client.

The page (index.html) is served by Python's http.server on 127.0.0.1 from a
thread; its script talks to `tether serve` and POSTs a verdict to /result,
which this test waits for with a timeout.
"""

import json
import os
import shutil
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import missing

PAGE = Path(__file__).resolve().parent / "index.html"
VERDICT_TIMEOUT = 90


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class PageServer:
    """Serves index.html (and, in job mode, the job list at /jobs) on
    127.0.0.1 from a thread; receives the page's verdict at /result."""

    def __init__(self, jobs=None):
        self.verdict = None
        self.jobs = jobs or []
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path == "/index.html":
                    self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif path == "/jobs":
                    self._send(200, json.dumps(outer.jobs).encode(),
                               "application/json")
                elif path == "/result":      # fallback if the POST failed
                    outer.verdict = {"ok": False, "error": "page could not POST"}
                    outer.got.set()
                    self._send(204)
                else:
                    self._send(404, b"not found\n")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.path == "/result":
                    try:
                        outer.verdict = json.loads(body)
                    except ValueError:
                        outer.verdict = {"ok": False, "error": f"bad verdict {body!r}"}
                    outer.got.set()
                    self._send(204)
                else:
                    self._send(404)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_page(page, query, tmp_path, flags=(), timeout=VERDICT_TIMEOUT, url=None):
    """Runs headless Chromium on the page (index.html?QUERY, or url) until
    its verdict arrives at `page`; returns the verdict."""
    chromium = find_chromium()
    if chromium is None:
        missing("chromium (apt-get install chromium)")
    url = url or f"http://127.0.0.1:{page.port}/index.html?{query}"
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}", *flags, url]
    log = open(tmp_path / "chromium.log", "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not page.got.wait(timeout):
            log.flush()
            tail = (tmp_path / "chromium.log").read_bytes()[-3000:]
            pytest.fail(f"no verdict from the page within {timeout}s "
                        f"(chromium rc={proc.poll()})\n{tail.decode('utf-8', 'replace')}",
                        pytrace=False)
        return page.verdict
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # chromium and its children
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        log.close()


def test_chromium_client(tether_server, tmp_path):
    if find_chromium() is None:
        missing("chromium (apt-get install chromium)")
    srv = tether_server("--max-message", str(64 * 1024 * 1024))
    page = PageServer()
    try:
        v = run_page(page, f"ws=ws://127.0.0.1:{srv.port}/", tmp_path)
    finally:
        page.close()
    assert v.get("ok") is True, json.dumps(v, indent=1)
    assert v.get("close_code") == 1000 and v.get("was_clean") is True, v
