"""permessage-deflate (RFC 7692) on live connections, against independent
peers, in every parameter combination each peer supports, over ws:// and
wss://.

Every connection runs the deflate payloads (peers/scenarios.md: text and
binary, empty, small and large, compressible and incompressible, repeated
messages for context takeover) and checks each echo byte for byte. Both
ends report the negotiated Sec-WebSocket-Extensions and must agree; the
answer must follow RFC 7692 and tether's configuration; a byte-counting
relay shows the data really is compressed on the wire, both ways.

What each peer can do (see README.md, "Compression"):
- Python websockets and Node ws: every parameter, both roles, and their
  servers can impose parameters (the /pmd/SPEC/ path picks them).
- libwebsockets 4.1: as a client, any offer; as a server it accepts only
  the no_context_takeover parameters and cannot impose any, and it
  mishandles server_no_context_takeover on its own side, so its server is
  tested with the combinations it gets right; over TLS it cannot inflate
  large incompressible frames (deflate-lite there).
"""

import concurrent.futures
import re

import pytest

from conftest import (CLIENT_PEERS, SERVER_PEERS, connect_lines, payloads,
                      tether_opens)
from pmd_rules import (ALL_OFFERS, ALL_TETHER, SOME_OFFERS, pmd_params,
                      server_answer_problems, tether_args,
                      tether_offer_problems)

RUN_TIMEOUT = 240      # one peer client running a few hundred connections
PARALLEL = 4           # tether connect processes at once


def fail_with(problems, total):
    if problems:
        shown = "\n".join(problems[:40])
        more = f"\n... and {len(problems) - 40} more" if len(problems) > 40 \
            else ""
        pytest.fail(f"{len(problems)} problems in {total} connections:\n"
                    f"{shown}{more}", pytrace=False)


def tls_opts(certs, tls):
    return ["--cert", certs / "server.pem", "--key", certs / "server.key"] \
        if tls else []


def serve_extra(peer):
    """libwebsockets 4.1's client spins at 100% CPU, forever, when a
    message arrives uncompressed on a connection where permessage-deflate
    is in force (RFC 7692 allows it; tether sends messages under
    --deflate-threshold uncompressed): tether compresses every message for
    it."""
    return ["--deflate-threshold", "0"] if peer == "lws" else []


def kind_for(peer, tls):
    """libwebsockets 4.1 cannot inflate large incompressible frames that
    arrive over TLS (its permessage-deflate loses input across TLS reads:
    "invalid stored block lengths"), so over TLS it gets less noise."""
    return "deflate-lite" if peer == "lws" and tls else "deflate"


# ------------------------------------------ tether serve <- peer clients

# tether serve's own settings -> (cfg for the rules, the offers to try)
SERVE_CONFIGS = {
    "default": ((None, None, None), ALL_OFFERS),
    "unlimited": ((None, 15, 15), SOME_OFFERS),
    "nct-server": (("server", None, None), SOME_OFFERS),
    "nct-client": (("client", None, None), SOME_OFFERS),
    "nct-both": (("both", None, None), SOME_OFFERS),
    "window-9-9": ((None, 9, 9), SOME_OFFERS),
    "window-12-10": ((None, 12, 10), SOME_OFFERS),
    "window-11-0": ((None, 11, 0), SOME_OFFERS),
    "window-0-13": ((None, 0, 13), SOME_OFFERS),
    "both-10-14": (("both", 10, 14), SOME_OFFERS),
}
# zlib settings that change only tether's own compressor
ZLIB_CONFIGS = {
    "level0": ["--deflate-level", "0", "--deflate-threshold", "0"],
    "level1-mem1": ["--deflate-level", "1", "--deflate-mem-level", "1"],
    "level9-mem9-threshold0": ["--deflate-level", "9",
                               "--deflate-mem-level", "9",
                               "--deflate-threshold", "0"],
    "threshold-1M": ["--deflate-threshold", "1M"],
}


def check_serve_runs(srv, rep, offers, cfg):
    """Each run of a peer client's deflate scenario against tether serve
    -v: content verified by the peer, both views of the negotiation equal
    and RFC-conformant."""
    runs = rep.get("runs") or []
    assert len(runs) == len(offers), rep
    n_open = sum(1 for r in runs if r["ok"])
    opens = {o["path"]: o for o in tether_opens(srv, n_open)}
    problems = []
    for i, (offer, run) in enumerate(zip(offers, runs)):
        tag = f"offer {offer!r}:"
        if not run["ok"]:
            problems.append(f"{tag} {run['error']}")
            continue
        mine = opens.get(f"/run{i}")
        if mine is None:
            problems.append(f"{tag} no `open /run{i}` from tether serve")
            continue
        theirs = pmd_params(run["extensions"])
        ours = pmd_params(mine["extensions"])
        if theirs != ours:
            problems.append(f"{tag} peer saw {run['extensions']!r}, tether "
                            f"{mine['extensions']!r}")
        problems += [f"{tag} {p} (answer {run['extensions']!r})"
                     for p in server_answer_problems(offer, ours, cfg)]
    return problems


@pytest.mark.parametrize("peer", CLIENT_PEERS)
@pytest.mark.parametrize("config", list(SERVE_CONFIGS))
def test_serve_negotiation(peer, config, tether_server, peer_client):
    cfg, offers = SERVE_CONFIGS[config]
    srv = tether_server("-v", *tether_args(*cfg), *serve_extra(peer))
    rep = peer_client(peer, srv.url + "/", "deflate", *offers,
                      timeout=RUN_TIMEOUT)
    fail_with(check_serve_runs(srv, rep, offers, cfg), len(offers))


@pytest.mark.parametrize("peer", CLIENT_PEERS)
@pytest.mark.parametrize("config", list(ZLIB_CONFIGS))
def test_serve_zlib_settings(peer, config, tether_server, peer_client):
    offers = ["cmwb", "snct,cnct,smwb=9,cmwb=9"]
    if peer == "lws" and "--deflate-threshold" in ZLIB_CONFIGS[config]:
        pytest.skip("uncompressed messages make libwebsockets spin")
    srv = tether_server("-v", "--deflate", *ZLIB_CONFIGS[config],
                        *serve_extra(peer))
    rep = peer_client(peer, srv.url + "/", "deflate", *offers)
    fail_with(check_serve_runs(srv, rep, offers, None), len(offers))


@pytest.mark.parametrize("peer", CLIENT_PEERS)
def test_serve_over_tls(peer, tether_server, peer_client, certs):
    """TLS and compression together."""
    offers = SOME_OFFERS
    srv = tether_server("-v", "--deflate", *tls_opts(certs, True),
                        *serve_extra(peer))
    rep = peer_client(peer, srv.url + "/", kind_for(peer, True), *offers,
                      opts=["--ca", certs / "ca.pem"], timeout=RUN_TIMEOUT)
    fail_with(check_serve_runs(srv, rep, offers, None), len(offers))


BIG_LWS = ("libwebsockets 4.1 aborts inflating a large compressed message "
           "(assertion `priv->rx.avail_out' in its permessage-deflate)")


@pytest.mark.parametrize("peer", CLIENT_PEERS)
def test_serve_big_messages(peer, tether_server, peer_client):
    """4 MiB compressible and 1 MiB incompressible messages."""
    if peer == "lws":
        pytest.skip(BIG_LWS)
    offers = ["cmwb", "snct,cnct,smwb=10,cmwb=10"]
    srv = tether_server("-v", "--deflate", "--max-message", "64M",
                        *serve_extra(peer))
    rep = peer_client(peer, srv.url + "/", "deflate-big", *offers,
                      timeout=RUN_TIMEOUT)
    fail_with(check_serve_runs(srv, rep, offers, None), len(offers))


@pytest.mark.parametrize("peer", CLIENT_PEERS)
def test_serve_without_deflate_declines(peer, tether_server, peer_client):
    """Without --deflate, tether serve declines every offer."""
    srv = tether_server("-v")
    offers = ["on", "snct,cnct,smwb=10,cmwb"]
    rep = peer_client(peer, srv.url + "/", "deflate", *offers)
    assert rep["ok"] is True, rep
    assert [r["extensions"] for r in rep["runs"]] == [None, None], rep


# ------------------------------------------ tether connect -> peer servers

def tether_cfg_args(cfg):
    return tether_args(*cfg)


# The offers libwebsockets' server handles correctly: it ignores
# server_max_window_bits (tether then rightly fails the connection, see
# test_lws_server_ignores_window_request; so tether is told 15, which it
# does not ask for), and applies server_no_context_takeover to its own
# inflater instead of its compressor, so that one works only together with
# client_no_context_takeover.
LWS_TETHER = [(n, None, None) for n in (None, "client", "both")] + \
    [(n, 15, c) for n in (None, "client", "both")
     for c in [0, 9, 10, 11, 12, 13, 14, 15]]

SOME_TETHER = [(None, None, None), ("server", None, None),
               ("client", None, None), ("both", None, None), (None, 0, 0), (None, 9, 0), (None, 15, 0), (None, 0, 9),
               (None, 12, 15), ("both", 11, 13), ("server", 10, 10)]

# peer server SPEC -> the tether configurations to try against it
PEER_SPECS = {
    "on": ALL_TETHER, "off": SOME_TETHER[:4] + [("both", 11, 13)],
    "snct": SOME_TETHER, "cnct": SOME_TETHER, "snct,cnct": SOME_TETHER,
    "smwb=9": SOME_TETHER, "smwb=12": SOME_TETHER, "cmwb=9": SOME_TETHER,
    "cmwb=13": SOME_TETHER, "snct,smwb=10,cmwb=11": SOME_TETHER,
}


def run_connects(tether_connect, jobs, peer=None):
    """Runs tether connect for each (url, args) in jobs, PARALLEL at once
    (one at a time against libwebsockets: with several compressed
    connections at once its server corrupts messages, then crashes);
    returns the results in order."""
    with concurrent.futures.ThreadPoolExecutor(
            1 if peer == "lws" else PARALLEL) as pool:
        futs = [pool.submit(tether_connect, url, *args, timeout=120)
                for url, args in jobs]
        return [f.result() for f in futs]


def check_connect_runs(peer, srv, cfgs, paths, results):
    problems = []
    for cfg, path, res in zip(cfgs, paths, results):
        tag = f"tether {' '.join(tether_cfg_args(cfg))}, server {path}:"
        line = res.closed_line()
        if peer == "node" and res.rc == 1 and "HTTP 400" in res.stderr:
            # ws refuses the handshake (400) when it cannot accept an
            # offer, instead of declining the extension; it says so first.
            rep = srv.report(path, timeout=30)
            if not rep.get("pmd_refused"):
                problems.append(f"{tag} HTTP 400 but no refusal reported")
            problems += [f"{tag} {p}" for p in
                         tether_offer_problems(cfg, rep.get("offer"))]
            continue
        if res.rc != 0 or line != "closed 1000 done":
            problems.append(f"{tag} rc={res.rc} {res.stderr.strip()!r}")
            continue
        rep = srv.report(path, timeout=30)
        if not rep["ok"]:
            problems.append(f"{tag} server: {rep['error']}")
        ours = connect_lines(res.stderr)["extensions"]
        if "extensions" in rep and \
                pmd_params(rep["extensions"]) != pmd_params(ours):
            problems.append(f"{tag} server sent {rep['extensions']!r}, "
                            f"tether saw {ours!r}")
        problems += [f"{tag} {p}" for p in
                     tether_offer_problems(cfg, rep.get("offer"))]
        if "/pmd/off/" in path and pmd_params(ours) is not None:
            problems.append(f"{tag} compression on against a server "
                            f"without it: {ours!r}")
        # What tether accepted must be a valid answer to its own offer.
        offer = pmd_params(rep.get("offer"))
        if offer is not None:
            problems += [f"{tag} accepted an invalid answer: {p}" for p in
                         server_answer_problems(offer, pmd_params(ours))]
    return problems


@pytest.mark.parametrize("peer", SERVER_PEERS)
@pytest.mark.parametrize("server_spec", list(PEER_SPECS))
def test_connect_negotiation(peer, server_spec, peer_server, tether_connect):
    if peer == "lws" and server_spec not in ("on", "off"):
        pytest.skip("libwebsockets' server cannot impose parameters")
    cfgs = PEER_SPECS[server_spec]
    if peer == "lws":
        cfgs = LWS_TETHER if server_spec == "on" else \
            [(n, 15, c or 0) for (n, s, c) in cfgs if n != "server"]
    srv = peer_server(peer)
    paths = [f"/pmd/{server_spec}/deflate/{i}" for i in range(len(cfgs))]
    results = run_connects(tether_connect, [
        (srv.url + p, ["--echo", "-v", *tether_cfg_args(c)])
        for p, c in zip(paths, cfgs)], peer)
    fail_with(check_connect_runs(peer, srv, cfgs, paths, results),
              len(cfgs))


@pytest.mark.parametrize("peer", SERVER_PEERS)
def test_connect_over_tls(peer, peer_server, tether_connect, certs):
    """TLS and compression together."""
    # libwebsockets over TLS also fails to inflate what a 9-bit window
    # makes of the deflate payloads (larger frames: see kind_for)
    cfgs = SOME_TETHER if peer != "lws" else \
        [c for c in LWS_TETHER if c[2] != 9][::3]
    srv = peer_server(peer, *tls_opts(certs, True))
    kind = kind_for(peer, True)
    paths = [f"/pmd/on/{kind}/{i}" for i in range(len(cfgs))]
    results = run_connects(tether_connect, [
        (srv.url + p, ["--echo", "-v", "--ca", certs / "ca.pem",
                       *tether_cfg_args(c)]) for p, c in zip(paths, cfgs)],
        peer)
    fail_with(check_connect_runs(peer, srv, cfgs, paths, results),
              len(cfgs))


@pytest.mark.parametrize("peer", SERVER_PEERS)
def test_connect_big_messages(peer, peer_server, tether_connect):
    if peer == "lws":
        pytest.skip(BIG_LWS)
    cfgs = [(None, None, None), ("both", 10, 10)]
    srv = peer_server(peer)
    paths = [f"/pmd/on/deflate-big/{i}" for i in range(len(cfgs))]
    results = run_connects(tether_connect, [
        (srv.url + p, ["--echo", "-v", "--max-message", "64M",
                       *tether_cfg_args(c)]) for p, c in zip(paths, cfgs)],
        peer)
    fail_with(check_connect_runs(peer, srv, cfgs, paths, results),
              len(cfgs))


@pytest.mark.parametrize("peer", SERVER_PEERS)
def test_connect_stdin_lines(peer, peer_server, tether_connect):
    """stdin mode with compression: lines out, echoes printed."""
    srv = peer_server(peer)
    lines = ["hello", "hello", "héllo wörld ✓ " * 50, "x" * 5000, "last"]
    data = "".join(line + "\n" for line in lines).encode()
    # (libwebsockets ignores a server_max_window_bits request: ask none)
    res = tether_connect(srv.url + "/pmd/on/echo", "--deflate",
                         "--deflate-window-bits", "15,0",
                         "--deflate-threshold", "0", stdin=data,
                         wait_stdout=len(data))
    rep = srv.report("/pmd/on/echo")
    assert rep["ok"] and rep["messages"] == [["text", ln] for ln in lines], \
        rep
    assert res.stdout == data and res.rc == 0, res


def test_lws_server_ignores_window_request(peer_server, tether_connect):
    """libwebsockets accepts an offer with server_max_window_bits without
    answering it, which RFC 7692 7.1.2.1 does not allow: tether fails the
    connection and says why."""
    srv = peer_server("lws")
    res = tether_connect(srv.url + "/pmd/on/deflate/0", "--echo",
                         "--deflate-window-bits", "10", timeout=30)
    assert res.rc == 1, res
    assert re.search(r"extension", res.stderr, re.I), res


# ------------------------------------------ compression on the wire

@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize("peer", CLIENT_PEERS)
def test_wire_serve(peer, tls, tether_server, peer_client, relay, certs):
    """peer client -> relay -> tether serve: both directions compressed."""
    srv = tether_server("-v", "--deflate", *tls_opts(certs, tls),
                        *serve_extra(peer))
    r = relay(srv.port)
    kind = kind_for(peer, tls)
    url = f"{'wss' if tls else 'ws'}://127.0.0.1:{r.port}/"
    rep = peer_client(peer, url, kind, "cmwb",
                      opts=["--ca", certs / "ca.pem"] if tls else [])
    assert rep["ok"] is True, rep
    assert pmd_params(rep["runs"][0]["extensions"]) is not None, rep
    raw = payloads.payload_bytes(payloads.deflate_payloads(kind))
    assert r.up < raw / 2 and r.down < raw / 2, \
        f"{raw} payload bytes each way, on the wire: up {r.up} down {r.down}"


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize("peer", SERVER_PEERS)
def test_wire_connect(peer, tls, peer_server, tether_connect, relay, certs):
    """tether connect -> relay -> peer server: both directions compressed."""
    srv = peer_server(peer, *tls_opts(certs, tls))
    r = relay(srv.port)
    kind = kind_for(peer, tls)
    path = f"/pmd/on/{kind}/0"
    url = f"{'wss' if tls else 'ws'}://127.0.0.1:{r.port}{path}"
    # (libwebsockets ignores a server_max_window_bits request: ask none)
    lws = ["--deflate-window-bits", "15,0"] if peer == "lws" else []
    res = tether_connect(url, "--echo", "-v", "--deflate", *lws,
                         *(["--ca", certs / "ca.pem"] if tls else []))
    assert res.rc == 0, res
    assert srv.report(path)["ok"] is True
    assert pmd_params(connect_lines(res.stderr)["extensions"]) is not None, res
    raw = payloads.payload_bytes(payloads.deflate_payloads(kind))
    assert r.up < raw / 2 and r.down < raw / 2, \
        f"{raw} payload bytes each way, on the wire: up {r.up} down {r.down}"
