"""Headless Chromium against `tether serve` over wss://, with and without
compression.

The page is served over plain http on 127.0.0.1 (a page from http may open
wss://). Chromium is told to trust the test server certificate, and only
it, with --ignore-certificate-errors-spki-list=<base64 SHA-256 of the
certificate's SubjectPublicKeyInfo>, which the test computes with the
openssl tool: a server with another key (the self-signed certificate) must
still be refused.
"""

import base64
import hashlib
import subprocess

from conftest import missing, payloads, tether_opens
from pmd_rules import pmd_params, server_answer_problems
from test_browser import PageServer, find_chromium, run_page

CHROME_OFFER = {"client_max_window_bits": True}  # what Chromium offers


def spki_hash(cert):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey",
                          "-noout"], capture_output=True, check=True,
                         timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"],
                         input=pub, capture_output=True, check=True,
                         timeout=30).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def run_jobs(jobs, tmp_path, certs=None):
    """Runs the jobs [{id, url}] in one Chromium; returns {id: result}."""
    if find_chromium() is None:
        missing("chromium (apt-get install chromium)")
    flags = []
    if certs is not None:
        flags.append("--ignore-certificate-errors-spki-list="
                     + spki_hash(certs / "server.pem"))
    page = PageServer(jobs)
    try:
        v = run_page(page, "jobs=1", tmp_path, flags)
    finally:
        page.close()
    assert v.get("ok") is True, v
    return {r["id"]: r for r in v["results"]}


def test_chromium_wss(tether_server, relay, tmp_path, certs):
    tls = ["--cert", certs / "server.pem", "--key", certs / "server.key"]
    plain = tether_server("-v", *tls)
    deflate = tether_server("-v", *tls, "--deflate")
    small = tether_server("-v", *tls, "--deflate-no-context-takeover", "both",
                          "--deflate-window-bits", "10,9")
    untrusted = tether_server("-v", "--cert", certs / "selfsigned.pem",
                              "--key", certs / "selfsigned.key")
    wire = tether_server("-v", *tls, "--deflate")
    r = relay(wire.port)
    jobs = [{"id": "plain", "url": f"wss://127.0.0.1:{plain.port}/"},
            {"id": "deflate", "url": f"wss://127.0.0.1:{deflate.port}/"},
            {"id": "small", "url": f"wss://localhost:{small.port}/"},
            {"id": "untrusted", "url": f"wss://127.0.0.1:{untrusted.port}/"},
            {"id": "wire", "url": f"wss://127.0.0.1:{r.port}/"}]
    res = run_jobs(jobs, tmp_path, certs)
    for name in ("plain", "deflate", "small", "wire"):
        assert res[name]["ok"] is True, res[name]
    # the certificate the browser was not told about is refused
    assert res["untrusted"]["opened"] is False, res["untrusted"]
    for name, srv, cfg in (("plain", plain, None),
                           ("deflate", deflate, (None, None, None)),
                           ("small", small, ("both", 10, 9))):
        opened = tether_opens(srv, 1)[0]
        assert opened["tls"] in ("TLSv1.3", "TLSv1.2"), opened
        ours = pmd_params(opened["extensions"])
        assert pmd_params(res[name]["extensions"]) == ours, \
            (res[name], opened)
        if cfg is None:
            assert ours is None
        else:
            assert ours is not None, opened
            assert not server_answer_problems(CHROME_OFFER, ours, cfg), ours
    raw = payloads.payload_bytes(payloads.deflate_payloads())
    assert r.up < raw / 2 and r.down < raw / 2, \
        f"{raw} payload bytes each way; on the wire up {r.up} down {r.down}"
