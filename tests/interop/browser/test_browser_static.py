"""A page and its WebSocket from one `tether serve --static` port.

Headless Chromium loads a page, its stylesheet and its script from tether
(served from a temporary directory), the script opens a WebSocket back to
the origin it came from and checks the echo; the verdict goes to the
test's own little HTTP server (test_browser.PageServer) with a no-cors
POST. Once over http:// and ws://, once over https:// and wss:// (the
browser trusts the test certificate by its key's hash, as in
test_browser_tls.py).
"""

import json
import re

from conftest import missing, tether_opens
from test_browser import PageServer, find_chromium, run_page
from test_browser_tls import spki_hash

PAGE = """<!doctype html>
<html><head><link rel="stylesheet" href="style.css"></head>
<body><p>served by tether</p><script src="app.js"></script></body></html>
"""

SCRIPT = """
const report = new URLSearchParams(location.search).get("report");
function verdict(v) {
  fetch(report, {method: "POST", mode: "no-cors", body: JSON.stringify(v)});
}
const scheme = location.protocol === "https:" ? "wss" : "ws";
const ws = new WebSocket(`${scheme}://${location.host}/chat`);
const text = "hello from a page tether served";
ws.onopen = () => ws.send(text);
ws.onmessage = (e) => {
  const color = getComputedStyle(document.body).color;
  verdict({ok: e.data === text, echo: e.data, color: color, url: ws.url});
  ws.close(1000);
};
ws.onerror = () => verdict({ok: false, error: "websocket error"});
"""


def docroot(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "style.css").write_text("body { color: rgb(1, 2, 3); }\n")
    (root / "app.js").write_text(SCRIPT)
    return root


def load(srv, scheme, tmp_path, flags=()):
    """Chromium loads the page from srv; returns the page's verdict."""
    page = PageServer()
    try:
        report = f"http://127.0.0.1:{page.port}/result"
        return run_page(page, "", tmp_path, flags,
                        url=f"{scheme}://127.0.0.1:{srv.port}/?report={report}")
    finally:
        page.close()


def check(v, srv, ws_scheme):
    assert v.get("ok") is True, json.dumps(v, indent=1)
    assert v.get("color") == "rgb(1, 2, 3)", v
    assert v.get("url", "").startswith(f"{ws_scheme}://127.0.0.1:{srv.port}/chat"), v
    for path in ("/", "/style.css", "/app.js"):
        srv.wait_stderr(lambda ln, p=path: ln.startswith("http ") and f" GET {p} via " in ln)
    srv.wait_stderr(lambda ln: ln.startswith("open ") and "/chat" in ln)


def test_chromium_page_and_websocket_from_one_port(tether_server, tmp_path):
    if find_chromium() is None:
        missing("chromium (apt-get install chromium)")
    srv = tether_server("-v", "--static", docroot(tmp_path))
    check(load(srv, "http", tmp_path), srv, "ws")


def test_chromium_https_page_and_wss_from_one_port(tether_server, tmp_path, certs):
    """The same over TLS: https:// page, wss:// to the same origin. The page
    comes over HTTP/2 (ALPN), and Chromium opens its WebSocket as a stream
    of an HTTP/2 connection (RFC 8441's extended CONNECT), normally the
    page's own (not asserted: a browser may open another connection)."""
    if find_chromium() is None:
        missing("chromium (apt-get install chromium)")
    srv = tether_server("-v", "--static", docroot(tmp_path),
                        "--cert", certs / "server.pem", "--key", certs / "server.key")
    trust = "--ignore-certificate-errors-spki-list=" + spki_hash(certs / "server.pem")
    check(load(srv, "https", tmp_path, [trust]), srv, "wss")
    page = srv.wait_stderr(lambda ln: ln.startswith("http ") and " GET / via " in ln)[0]
    ws = tether_opens(srv, 1)[0]
    assert re.search(r" via HTTP/2 stream \d+$", page), page
    assert re.fullmatch(r"HTTP/2 stream \d+", ws["via"]), ws
