"""tether as a CLIENT (`tether connect`), independent peers as servers."""

import re
import socket

import pytest

from conftest import SERVER_PEERS

BIG_LIMIT = str(64 * 1024 * 1024)

peers = pytest.mark.parametrize("peer", SERVER_PEERS)


def ok(rep):
    assert rep.get("ok") is True, f"peer server reported failure: {rep}"
    return rep


def assert_clean(res, code, reason=None):
    assert res.rc == 0, res
    line = res.closed_line()
    assert line is not None, f"no `closed CODE REASON` on stderr: {res}"
    m = re.match(r"^closed (\d+)(?: (.*))?$", line)
    assert m, f"bad closed line {line!r}"
    assert int(m.group(1)) == code, line
    if reason is not None:
        assert (m.group(2) or "") == reason, line


@peers
@pytest.mark.parametrize("path", ["/text", "/binary", "/fragmented", "/ping"])
def test_echo_mode(peer, path, peer_server, tether_connect):
    srv = peer_server(peer)
    res = tether_connect(srv.url + path, "--echo")
    rep = ok(srv.report(path))
    assert_clean(res, 1000, "done")
    if path == "/ping":
        assert rep["pong"] == b"server-ping\x01\x02".hex()


@peers
def test_echo_mode_16mib(peer, peer_server, tether_connect):
    srv = peer_server(peer)
    res = tether_connect(srv.url + "/big", "--echo",
                         "--max-message", BIG_LIMIT, timeout=120)
    ok(srv.report("/big", timeout=120))
    assert_clean(res, 1000, "done")


@peers
@pytest.mark.parametrize("code,reason,quoted", [
    (1000, "bye", "bye"),
    (4001, "custom reason", "custom%20reason"),
])
def test_server_closes_with_code(peer, code, reason, quoted, peer_server,
                                 tether_connect):
    srv = peer_server(peer)
    path = f"/close/{code}/{quoted}"
    res = tether_connect(srv.url + path, "--echo")
    rep = ok(srv.report(path))
    assert_clean(res, code, reason)
    if not rep.get("unobservable"):     # libwebsockets: see lws_peer.c
        assert rep["reply_code"] == code, rep


@peers
def test_handshake_rejected_403(peer, peer_server, tether_connect):
    srv = peer_server(peer)
    res = tether_connect(srv.url + "/reject/403", "--echo")
    assert res.rc == 1, res
    assert "403" in res.stderr, res


LINES = ["hello", "héllo wörld ✓ 日本語", "", "line with  spaces ", "last"]


@peers
def test_stdin_lines_round_trip(peer, peer_server, tether_connect):
    srv = peer_server(peer)
    data = "".join(line + "\n" for line in LINES).encode()
    res = tether_connect(srv.url + "/echo", stdin=data,
                         wait_stdout=len(data))
    rep = ok(srv.report("/echo"))
    assert rep["messages"] == [["text", line] for line in LINES], rep
    assert res.stdout == data, res
    assert rep["close_code"] == 1000, rep
    assert_clean(res, 1000)


@peers
def test_stdin_lines_binary(peer, peer_server, tether_connect):
    srv = peer_server(peer)
    lines = [b"bin-1", b"\x00\x01\xfe\xff", b"last"]
    data = b"".join(line + b"\n" for line in lines)
    res = tether_connect(srv.url + "/echo", "--binary", stdin=data,
                         wait_stdout=len(data))
    rep = ok(srv.report("/echo"))
    assert rep["messages"] == [["binary", line.hex()] for line in lines], rep
    assert res.stdout == data, res
    assert_clean(res, 1000)


@peers
def test_protocol_header_origin_seen_by_server(peer, peer_server,
                                               tether_connect):
    srv = peer_server(peer)
    res = tether_connect(srv.url + "/inspect",
                         "--protocol", "nope", "--protocol", "superchat",
                         "--protocol", "chat",
                         "--header", "X-Tether-Test: interop 42",
                         "--origin", "http://origin.test",
                         stdin=b"ping-line\n", wait_stdout=10)
    rep = ok(srv.report("/inspect"))
    assert rep["offered"] == ["nope", "superchat", "chat"], rep
    assert rep["subprotocol"] == "superchat", rep
    assert rep["x_tether_test"] == "interop 42", rep
    assert rep["origin"] == "http://origin.test", rep
    assert res.stdout == b"ping-line\n", res
    assert_clean(res, 1000)


def test_connection_refused_exits_1(tether_connect):
    with socket.socket() as s:      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = tether_connect(f"ws://127.0.0.1:{port}/", "--echo", timeout=30)
    assert res.rc == 1, res


def test_usage_error_exits_2(tether_connect):
    res = tether_connect("ws://127.0.0.1:1/", "--no-such-option", timeout=30)
    assert res.rc == 2, res
