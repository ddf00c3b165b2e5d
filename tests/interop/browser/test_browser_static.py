"""A page and its WebSocket from one `tether serve --static` port.

Headless Chromium loads a page, its stylesheet and its script from tether
(served from a temporary directory), the script opens a WebSocket back to
the host it came from and checks the echo; the verdict goes to the test's
own little HTTP server (test_browser.PageServer) with a no-cors POST.
"""

import json

from conftest import missing
from test_browser import PageServer, find_chromium, run_page

PAGE = """<!doctype html>
<html><head><link rel="stylesheet" href="style.css"></head>
<body><p>served by tether</p><script src="app.js"></script></body></html>
"""

SCRIPT = """
const report = new URLSearchParams(location.search).get("report");
function verdict(v) {
  fetch(report, {method: "POST", mode: "no-cors", body: JSON.stringify(v)});
}
const ws = new WebSocket(`ws://${location.host}/chat`);
const text = "hello from a page tether served";
ws.onopen = () => ws.send(text);
ws.onmessage = (e) => {
  const color = getComputedStyle(document.body).color;
  verdict({ok: e.data === text, echo: e.data, color: color});
  ws.close(1000);
};
ws.onerror = () => verdict({ok: false, error: "websocket error"});
"""


def test_chromium_page_and_websocket_from_one_port(tether_server, tmp_path):
    if find_chromium() is None:
        missing("chromium (apt-get install chromium)")
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "style.css").write_text("body { color: rgb(1, 2, 3); }\n")
    (root / "app.js").write_text(SCRIPT)
    srv = tether_server("-v", "--static", root)
    page = PageServer()
    try:
        report = f"http://127.0.0.1:{page.port}/result"
        v = run_page(page, "", tmp_path,
                     url=f"http://127.0.0.1:{srv.port}/?report={report}")
    finally:
        page.close()
    assert v.get("ok") is True, json.dumps(v, indent=1)
    assert v.get("color") == "rgb(1, 2, 3)", v
    for path in ("/", "/style.css", "/app.js"):
        srv.wait_stderr(lambda ln, p=path: ln.startswith("http ") and ln.endswith(f" GET {p}"))
    srv.wait_stderr(lambda ln: ln.startswith("open ") and "/chat" in ln)
