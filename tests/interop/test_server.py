"""tether as a SERVER (`tether serve`), independent peers as clients."""

import signal

import pytest

from conftest import CLIENT_PEERS, Proc

BIG_LIMIT = str(64 * 1024 * 1024)   # room for the 16 MiB messages

peers = pytest.mark.parametrize("peer", CLIENT_PEERS)


def ok(rep):
    assert rep.get("ok") is True, f"peer reported failure: {rep}"
    return rep


@peers
@pytest.mark.parametrize("scenario", ["echo-text", "echo-binary"])
def test_echo(peer, scenario, tether_server, peer_client):
    srv = tether_server()
    ok(peer_client(peer, srv.url + "/", scenario))


@peers
def test_fragmented_from_peer(peer, tether_server, peer_client):
    """Peer sends fragmented text (a UTF-8 char split across fragments, a
    ping between fragments) and fragmented binary; echo must be whole."""
    srv = tether_server()
    ok(peer_client(peer, srv.url + "/", "echo-fragmented"))


@peers
def test_16mib_both_directions(peer, tether_server, peer_client):
    srv = tether_server("--max-message", BIG_LIMIT)
    ok(peer_client(peer, srv.url + "/", "echo-big", timeout=120))


@peers
def test_ping_answered_with_pong_payload(peer, tether_server, peer_client):
    srv = tether_server()
    rep = ok(peer_client(peer, srv.url + "/", "ping"))
    assert rep["pong"] == b"tether-ping\x00\xff".hex()


@peers
@pytest.mark.parametrize("code,reason", [(1000, "bye"),
                                         (4000, "custom reason ✓")])
def test_peer_initiated_close_is_echoed(peer, code, reason, tether_server,
                                        peer_client):
    srv = tether_server()
    rep = ok(peer_client(peer, srv.url + "/", "close", str(code), reason))
    if rep.get("unobservable"):     # libwebsockets: see lws_peer.c
        assert rep["rcvd_code"] is None
    else:
        assert rep["rcvd_code"] == code, rep


@peers
def test_over_max_message_closes_1009(peer, tether_server, peer_client):
    srv = tether_server("--max-message", "1024")
    rep = ok(peer_client(peer, srv.url + "/", "too-big", "4096"))
    assert rep["rcvd_code"] == 1009, rep


@peers
@pytest.mark.parametrize("offer,expected", [
    ("superchat,chat", "superchat"),    # the client's order decides
    ("nope,chat", "chat"),
])
def test_subprotocol_negotiation(peer, offer, expected, tether_server,
                                 peer_client):
    srv = tether_server("--protocol", "chat", "--protocol", "superchat")
    rep = ok(peer_client(peer, srv.url + "/", "subprotocol", offer))
    assert rep["subprotocol"] == expected, rep


@peers
def test_wrong_path_gets_404(peer, tether_server, peer_client):
    srv = tether_server("--path", "/p")
    rep = ok(peer_client(peer, srv.url + "/other", "status"))
    assert rep["status"] == 404, rep
    ok(peer_client(peer, srv.url + "/p", "echo-text"))


@pytest.mark.parametrize("peer", ["py", "node"])
def test_broadcast(peer, tether_server, peer_client):
    srv = tether_server("--broadcast")
    ok(peer_client(peer, srv.url + "/", "broadcast"))


def test_serve_exits_0_on_sigterm(tether_cmd):
    proc = Proc(tether_cmd + ["serve", "--host", "127.0.0.1", "--port", "0"],
                "tether serve")
    try:
        proc.wait_listening()
        assert proc.host == "127.0.0.1"
        assert 0 < proc.port < 65536
        rc = proc.stop(signal.SIGTERM)
        assert rc == 0, proc.diag()
    finally:
        proc.kill_group()
