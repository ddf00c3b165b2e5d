"""TLS (wss://): `tether serve --cert` and `tether connect wss://` against
independent peers (Python `ssl`, Node `tls`, libwebsockets with OpenSSL),
certificate checks, client certificates and SNI.

Certificates come from tests/certs/make_certs.sh (the `certs` fixture).
Every URL is on 127.0.0.1; the test certificates name "localhost",
127.0.0.1 and ::1.
"""

import re
import subprocess

import pytest

from conftest import CLIENT_PEERS, SERVER_PEERS, connect_lines, tether_opens

peers_c = pytest.mark.parametrize("peer", CLIENT_PEERS)
peers_s = pytest.mark.parametrize("peer", SERVER_PEERS)
BIG_LIMIT = str(64 * 1024 * 1024)


def ok(rep):
    assert rep.get("ok") is True, f"peer reported failure: {rep}"
    return rep


def assert_clean(res, code=1000, reason=None):
    assert res.rc == 0, res
    line = res.closed_line()
    assert line is not None, f"no `closed CODE REASON` on stderr: {res}"
    m = re.match(r"^closed (\d+)(?: (.*))?$", line)
    assert m and int(m.group(1)) == code, line
    if reason is not None:
        assert (m.group(2) or "") == reason, line


def tls_server(tether_server, certs, *extra, cert="server"):
    return tether_server("-v", "--cert", certs / f"{cert}.pem",
                         "--key", certs / f"{cert}.key", *extra)


def ca(certs):
    return ["--ca", certs / "ca.pem"]


# ------------------------------------------ tether serve <- peer clients

@peers_c
@pytest.mark.parametrize("scenario", ["echo-text", "echo-binary",
                                      "echo-fragmented", "ping"])
def test_wss_server(peer, scenario, tether_server, peer_client, certs):
    srv = tls_server(tether_server, certs)
    rep = ok(peer_client(peer, srv.url + "/", scenario, opts=ca(certs)))
    if "tls_version" in rep:
        assert rep["tls_version"] == "TLSv1.3", rep
    opened = tether_opens(srv, 1)[0]
    assert opened["tls"] == "TLSv1.3" and opened["cipher"], opened


@peers_c
def test_wss_server_16mib(peer, tether_server, peer_client, certs):
    """Large messages cross many TLS records both ways."""
    srv = tls_server(tether_server, certs, "--max-message", BIG_LIMIT)
    ok(peer_client(peer, srv.url + "/", "echo-big", opts=ca(certs),
                   timeout=120))


@peers_c
def test_wss_server_close(peer, tether_server, peer_client, certs):
    srv = tls_server(tether_server, certs)
    rep = ok(peer_client(peer, srv.url + "/", "close", "4000", "tls bye",
                         opts=ca(certs)))
    if not rep.get("unobservable"):      # libwebsockets: see lws_peer.c
        assert rep["rcvd_code"] == 4000, rep


@peers_c
def test_wss_server_tls12(peer, tether_server, peer_client, certs):
    srv = tls_server(tether_server, certs)
    rep = ok(peer_client(peer, srv.url + "/", "echo-text",
                         opts=ca(certs) + ["--tls-max", "1.2"]))
    assert rep["tls_version"] == "TLSv1.2", rep
    assert tether_opens(srv, 1)[0]["tls"] == "TLSv1.2"


def test_wss_server_chain_and_combined_pem(tether_server, peer_client,
                                           certs):
    """A chain file (leaf + CA) and a --cert file holding the key too."""
    srv = tether_server("--cert", certs / "chain.pem",
                        "--key", certs / "server.key")
    ok(peer_client("py", srv.url + "/", "echo-text", opts=ca(certs)))
    srv = tether_server("--cert", certs / "server-combined.pem")
    ok(peer_client("py", srv.url + "/", "echo-text", opts=ca(certs)))


def test_wss_server_refuses_cleartext(tether_server, peer_client, certs):
    srv = tls_server(tether_server, certs)
    rep = peer_client("py", srv.url.replace("wss:", "ws:") + "/",
                      "echo-text")
    assert rep["ok"] is False, rep


# ------------------------------------------ tether connect -> peer servers

def tls_peer(peer_server, peer, certs, *extra, cert="server"):
    return peer_server(peer, "--cert", certs / f"{cert}.pem",
                       "--key", certs / f"{cert}.key", *extra)


@peers_s
@pytest.mark.parametrize("path", ["/text", "/binary", "/fragmented",
                                  "/ping"])
def test_wss_client(peer, path, peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, peer, certs)
    res = tether_connect(srv.url + path, "--echo", "-v", *ca(certs))
    rep = ok(srv.report(path))
    assert_clean(res, 1000, "done")
    assert connect_lines(res.stderr)["tls"][0] == "TLSv1.3", res
    assert rep.get("tls_version") == "TLSv1.3", rep


@peers_s
def test_wss_client_16mib(peer, peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, peer, certs)
    res = tether_connect(srv.url + "/big", "--echo", *ca(certs),
                         "--max-message", BIG_LIMIT, timeout=120)
    ok(srv.report("/big", timeout=120))
    assert_clean(res, 1000, "done")


@peers_s
def test_wss_client_stdin_lines(peer, peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, peer, certs)
    lines = ["hello", "héllo wörld ✓", "", "last"]
    data = "".join(line + "\n" for line in lines).encode()
    res = tether_connect(srv.url + "/echo", *ca(certs), stdin=data,
                         wait_stdout=len(data))
    rep = ok(srv.report("/echo"))
    assert rep["messages"] == [["text", line] for line in lines], rep
    assert res.stdout == data, res
    assert_clean(res, 1000)


@peers_s
def test_wss_client_tls12(peer, peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, peer, certs, "--tls-max", "1.2")
    res = tether_connect(srv.url + "/text", "--echo", "-v", *ca(certs),
                         timeout=30)
    assert res.rc == 0, res
    ok(srv.report("/text", timeout=30))
    assert_clean(res, 1000, "done")
    assert connect_lines(res.stderr)["tls"][0] == "TLSv1.2", res


def test_wss_client_ca_dir(peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, "py", certs)
    res = tether_connect(srv.url + "/text", "--echo",
                         "--ca-dir", certs / "cadir")
    ok(srv.report("/text"))
    assert_clean(res, 1000, "done")


# ------------------------------------------ certificate checks (connect)

# server certificate -> (OpenSSL's reason, the one flag that accepts it)
BAD_CERTS = {
    "expired": ("certificate has expired", "--allow-expired"),
    "wronghost": ("hostname mismatch", "--skip-hostname-check"),
    "selfsigned": ("self.signed certificate", "--allow-selfsigned"),
    "untrusted": ("unable to get local issuer certificate",
                  "--allow-selfsigned"),
}
RELAXATIONS = ["--allow-expired", "--skip-hostname-check",
               "--allow-selfsigned"]


def refused(res, reason):
    """tether connect failed on the certificate and said why."""
    assert res.rc == 1, res
    fail = [ln for ln in res.stderr.splitlines()
            if ln.startswith("connection failed:")]
    assert fail, f"no `connection failed:` line: {res}"
    assert "TLS" in fail[0], fail[0]
    assert re.search(reason, fail[0], re.I), \
        f"expected the reason {reason!r} in {fail[0]!r}"


@pytest.mark.parametrize("cert", sorted(BAD_CERTS))
def test_bad_server_certificate(cert, peer_server, tether_connect, certs):
    """Refused by default with OpenSSL's reason; accepted with the matching
    flag only (and with --insecure); another relaxation does not help."""
    reason, flag = BAD_CERTS[cert]
    srv = tls_peer(peer_server, "py", certs, cert=cert)
    url = f"wss://localhost:{srv.port}/text"   # a name, to check names
    refused(tether_connect(url, "--echo", *ca(certs), timeout=30), reason)
    for other in RELAXATIONS:
        if other == flag:
            continue
        res = tether_connect(url, "--echo", *ca(certs), other, timeout=30)
        refused(res, reason)
    for accept in (flag, "--insecure"):
        res = tether_connect(url, "--echo", *ca(certs), accept, timeout=30)
        assert_clean(res, 1000, "done")
        ok(srv.report("/text"))


def test_wronghost_accepted_for_its_name(peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, "py", certs, cert="wronghost")
    res = tether_connect(srv.url + "/text", "--echo", *ca(certs),
                         "--server-name", "wrong.example")
    assert_clean(res, 1000, "done")
    rep = ok(srv.report("/text"))
    assert rep["sni"] == "wrong.example", rep


def test_no_ca_uses_system_store(peer_server, tether_connect, certs):
    """Without --ca the test CA is unknown: the system store does not have
    it; a CA that did not sign the server's certificate does not help."""
    srv = tls_peer(peer_server, "py", certs)
    refused(tether_connect(srv.url + "/text", "--echo", timeout=30),
            "unable to get local issuer certificate")
    refused(tether_connect(srv.url + "/text", "--echo", "--ca",
                           certs / "other-ca.pem", timeout=30),
            "unable to get local issuer certificate")


def test_connect_sends_sni(peer_server, tether_connect, certs):
    srv = tls_peer(peer_server, "py", certs)
    for url, extra, sni in [
            (f"wss://localhost:{srv.port}/text", [], "localhost"),
            (f"wss://127.0.0.1:{srv.port}/text", [], None),  # IP: no SNI
            (f"wss://127.0.0.1:{srv.port}/text",
             ["--server-name", "localhost"], "localhost")]:
        res = tether_connect(url, "--echo", *ca(certs), *extra)
        assert_clean(res, 1000, "done")
        assert ok(srv.report("/text"))["sni"] == sni, url


def test_bad_tls_files(tether_cmd, tether_connect, certs, tmp_path):
    cp = subprocess.run(tether_cmd + ["serve", "--cert",
                                      str(tmp_path / "nope.pem")],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 1 and "nope.pem" in cp.stderr, cp
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cp = subprocess.run(tether_cmd + ["serve", "--cert", str(junk)],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 1 and "TLS" in cp.stderr, cp
    res = tether_connect("wss://127.0.0.1:1/", "--ca", junk, timeout=30)
    assert res.rc == 1 and "TLS" in res.stderr, res
    cp = subprocess.run(tether_cmd + ["serve", "--key", str(junk)],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 2, cp


# ------------------------------------------ client certificates

CLIENT_CERTS = {
    None: [],
    "client": ["--cert", "client.pem", "--key", "client.key"],
    "rogue": ["--cert", "rogue-client.pem", "--key", "rogue-client.key"],
}


def client_cert_opts(certs, which):
    return [certs / a if a.endswith((".pem", ".key")) else a
            for a in CLIENT_CERTS[which]]


@pytest.mark.parametrize("mode,which,accepted", [
    ("--require-client-cert", None, False),
    ("--require-client-cert", "client", True),
    ("--require-client-cert", "rogue", False),
    ("--verify-client", None, True),
    ("--verify-client", "client", True),
    ("--verify-client", "rogue", False),
])
def test_serve_client_certificates(mode, which, accepted, tether_server,
                                   tether_connect, peer_client, certs):
    srv = tls_server(tether_server, certs, "--ca", certs / "ca.pem", mode)
    opts = ca(certs) + client_cert_opts(certs, which)
    res = tether_connect(srv.url + "/", *opts, stdin=b"hi\n",
                         wait_stdout=3, timeout=30)
    if accepted:
        assert res.stdout == b"hi\n", res
        assert_clean(res, 1000)
    else:
        assert res.rc == 1, res
    for peer in CLIENT_PEERS:
        rep = peer_client(peer, srv.url + "/", "echo-text", opts=opts,
                          timeout=60)
        assert rep["ok"] is accepted, (peer, rep)


@pytest.mark.parametrize("mode,which,alert", [
    ("--require-client-cert", None, "certificate required"),
    ("--require-client-cert", "rogue", "unknown ca"),
])
def test_serve_client_certificate_alert(mode, which, alert, tether_server,
                                        tether_connect, certs):
    """A refused client learns why: the server's TLS alert reaches it
    before the connection closes (as with the Python and lws servers)."""
    srv = tls_server(tether_server, certs, "--ca", certs / "ca.pem", mode)
    res = tether_connect(srv.url + "/", *ca(certs),
                         *client_cert_opts(certs, which), timeout=30)
    assert res.rc == 1, res
    assert re.search(alert, res.stderr, re.I), res


@peers_s
@pytest.mark.parametrize("which,accepted", [(None, False), ("client", True),
                                            ("rogue", False)])
def test_connect_client_certificate(peer, which, accepted, peer_server,
                                    tether_connect, certs):
    srv = tls_peer(peer_server, peer, certs, "--ca", certs / "ca.pem",
                   "--require-client-cert")
    res = tether_connect(srv.url + "/text", "--echo", *ca(certs),
                         *client_cert_opts(certs, which), timeout=30)
    if accepted:
        assert_clean(res, 1000, "done")
        rep = ok(srv.report("/text"))
        assert rep["client_cert_cn"] == "tether test client", rep
    else:
        assert res.rc == 1, res


# ------------------------------------------ SNI

@pytest.fixture
def sni_server(tether_server, certs):
    return tls_server(tether_server, certs,
                      "--sni", f"a.test={certs / 'sni-a.pem'},"
                               f"{certs / 'sni-a.key'}",
                      "--sni", f"b.test={certs / 'sni-b.pem'},"
                               f"{certs / 'sni-b.key'}")


@pytest.mark.parametrize("name,cn", [("a.test", "a.test"),
                                     ("b.test", "b.test"),
                                     (None, "localhost")])
def test_sni_selects_certificate(name, cn, sni_server, peer_client, certs):
    """Each peer sends the name as SNI (or none, to an IP address) and
    checks the certificate it gets against that name."""
    opts = ca(certs) + (["--server-name", name] if name else [])
    for peer in CLIENT_PEERS:
        if peer == "lws" and name is None:
            continue    # libwebsockets always sends a name (see conftest)
        rep = ok(peer_client(peer, sni_server.url + "/", "echo-text",
                             opts=opts))
        assert rep["server_cert_cn"] == cn, (peer, rep)


def test_sni_connect(sni_server, tether_connect, certs):
    for name in ("a.test", "b.test"):
        res = tether_connect(sni_server.url + "/", *ca(certs),
                             "--server-name", name, stdin=b"x\n",
                             wait_stdout=2)
        assert res.stdout == b"x\n", res
        assert_clean(res, 1000)
    # Another name gets the main certificate, which is not for that name.
    res = tether_connect(sni_server.url + "/", *ca(certs),
                         "--server-name", "c.test", timeout=30)
    refused(res, "hostname mismatch")
