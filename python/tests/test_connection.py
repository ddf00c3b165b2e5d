"""tether.sansio.Connection, the C engine without I/O, against an
independent peer: the sans-I/O Protocol of Python's websockets, both roles,
with and without permessage-deflate, input split anywhere."""

from __future__ import annotations

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
from websockets.frames import Close, Frame, Opcode as WsOp
from websockets.protocol import Protocol, Side, State

from tether import Opcode, Role
from tether._native import lib
from tether.exceptions import ConnectionClosedError, InvalidState, WebSocketException
from tether.sansio import (
    Closed, Connection, Drain, Fragment, Message, PerMessageDeflate, Ping, Pong, build_frame,
)


def peer_for(role: str, deflate: bool = False) -> Protocol:
    """websockets' protocol object for the other side, already open."""
    side = Side.SERVER if role == "client" else Side.CLIENT
    p = Protocol(side, state=State.OPEN, max_size=None)
    if deflate:
        p.extensions = [WsDeflate(False, False, 15, 15)]
    return p


def to_peer(conn: Connection, peer: Protocol) -> list:
    data = conn.data_to_send()
    for i in range(0, len(data), 5):  # in 5-byte pieces
        peer.receive_data(data[i:i + 5])
    return peer.events_received()


def to_conn(peer: Protocol, conn: Connection, step: int = 3) -> list:
    data = b"".join(peer.data_to_send())
    for i in range(0, len(data), step):
        conn.receive_data(data[i:i + step], now=1.0)
    return conn.events_received()


def negotiated(role: str) -> PerMessageDeflate:
    """A tether deflate object for role, agreeing with WsDeflate(False,
    False, 15, 15) on the other side."""
    d = PerMessageDeflate(role)
    if role == "server":
        assert d.negotiate("permessage-deflate; client_max_window_bits") is not None
    else:
        d.accept("permessage-deflate")
    assert d.enabled
    return d


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
def test_messages_both_ways(role, deflate):
    conn = Connection(role, deflate=negotiated(role) if deflate else None, now=0)
    peer = peer_for(role, deflate)
    conn.send("héllo")
    conn.send(bytes(range(256)) * 400)
    frames = to_peer(conn, peer)
    assert [(f.opcode, bytes(f.data)) for f in frames] == [
        (WsOp.TEXT, "héllo".encode()), (WsOp.BINARY, bytes(range(256)) * 400)]
    if deflate:
        assert all(f.rsv1 is False for f in frames)  # websockets has inflated them
    peer.send_text("ça va".encode())
    peer.send_binary(b"\x00" * 70000)
    events = to_conn(peer, conn, step=7)
    # 100 KB plain went over the 64 KiB write_limit and out: a Drain first
    assert (Drain() in events) == (not deflate)
    events = [e for e in events if e != Drain()]
    assert events == [Message("ça va"), Message(b"\x00" * 70000)]


@pytest.mark.parametrize("role", ["client", "server"])
def test_fragments_with_ping_between(role):
    conn = Connection(role, streaming=True, now=0)
    peer = peer_for(role)
    peer.send_text(b"ab", fin=False)
    peer.send_ping(b"p")
    peer.send_continuation(b"cd", fin=True)
    events = to_conn(peer, conn, step=1)
    assert events == [Fragment(b"ab", True, False), Ping(b"p"), Fragment(b"cd", True, True)]
    frames = to_peer(conn, peer)  # the engine answered the ping
    assert [(f.opcode, bytes(f.data)) for f in frames] == [(WsOp.PONG, b"p")]
    conn.ping(b"q")
    to_peer(conn, peer)
    assert to_conn(peer, conn) == [Pong(b"q")]


@pytest.mark.parametrize("role", ["client", "server"])
def test_closing_handshake_started_by_us(role):
    conn = Connection(role, now=0)
    peer = peer_for(role)
    conn.close(4001, "done", now=0)
    assert conn.state == "closing"
    frames = to_peer(conn, peer)
    assert frames[0].opcode == WsOp.CLOSE
    assert Close.parse(frames[0].data) == Close(4001, "done")
    events = to_conn(peer, conn)  # websockets echoed the close
    assert events == [Closed(4001, "done", True, 0)]
    assert conn.state == "closed"
    assert conn.events_received() == []


def test_closing_handshake_started_by_peer():
    conn = Connection("server", now=0)
    peer = peer_for("server")
    peer.send_close(1001, "bye")
    [closed] = to_conn(peer, conn)
    assert (closed.code, closed.reason, closed.clean) == (1001, "bye", True)
    frames = to_peer(conn, peer)  # the echo of the close
    assert Close.parse(frames[0].data).code == 1001
    assert peer.close_rcvd == Close(1001, "")


def test_protocol_error_fails_with_1002():
    conn = Connection("server", now=0)
    peer = peer_for("server")
    peer.send_text(b"fine")
    # then a frame with RSV2 set, which nothing negotiated (websockets will
    # not write one: tether's frame writer does)
    conn.receive_data(b"".join(peer.data_to_send()))
    conn.receive_data(build_frame(Opcode.TEXT, b"bad", role=Role.CLIENT, rsv=2))  # TETHER_RSV2
    events = conn.events_received()
    assert events[0] == Message("fine")
    closed = events[1]
    assert closed.code == 1002 and not closed.clean
    assert closed.error == lib.TETHER_E_RSV
    assert isinstance(closed.exception, ConnectionClosedError)
    frames = to_peer(conn, peer)
    assert Close.parse(frames[0].data).code == 1002


def test_invalid_utf8_fails_with_1007():
    conn = Connection("client", now=0)
    peer = peer_for("client")
    peer.send_frame(Frame(WsOp.TEXT, b"\xff\xfe"))
    [closed] = to_conn(peer, conn)
    assert closed.code == 1007


def test_message_too_big_1009():
    conn = Connection("server", max_size=1000, now=0)
    peer = peer_for("server")
    peer.send_binary(b"x" * 1001)
    [closed] = to_conn(peer, conn)
    assert closed.code == 1009


def test_eof_ends_with_1006_after_held_input():
    conn = Connection("client", now=0)
    peer = peer_for("client")
    peer.send_text(b"last words")
    conn.receive_data(b"".join(peer.data_to_send()))
    conn.receive_eof()
    events = conn.events_received()
    assert events[0] == Message("last words")
    assert events[1].code == 1006 and not events[1].clean


def test_keepalive_pings_then_gives_up():
    conn = Connection("server", ping_interval=1, ping_timeout=0.5, now=0)
    peer = peer_for("server")
    assert conn.deadline == 1.0
    conn.on_time(now=1.0)
    frames = to_peer(conn, peer)
    assert frames[0].opcode == WsOp.PING  # websockets answers it
    conn.receive_data(b"".join(peer.data_to_send()), now=1.2)
    assert [type(e) for e in conn.events_received()] == [Pong]
    assert conn.deadline == pytest.approx(2.2)
    conn.on_time(now=2.2)
    assert conn.deadline == pytest.approx(2.7)
    conn.on_time(now=2.7)  # no answer this time
    [closed] = conn.events_received()
    assert (closed.code, closed.reason) == (1011, "keepalive timeout")


def test_bad_calls_raise():
    conn = Connection("server", now=0)
    with pytest.raises(TypeError):
        Connection("server", origin="x")
    with pytest.raises(ValueError):
        Connection("server", deflate=PerMessageDeflate("server"))  # not negotiated
    with pytest.raises(ValueError):
        conn.send("\udc80")  # a lone surrogate is no UTF-8 text
    conn.send_fragment("a", fin=False)
    with pytest.raises(InvalidState):
        conn.send("another message while the first is unfinished")
    conn.close(now=0)
    with pytest.raises(InvalidState):
        conn.send("after close")


def test_send_limit():
    conn = Connection("server", send_limit=10_000, now=0)
    conn.send(b"x" * 6000)
    with pytest.raises(WebSocketException) as e:
        conn.send(b"x" * 6000)
    assert e.value.error == lib.TETHER_E_BACKPRESSURE
    assert len(conn.data_to_send()) > 6000
    conn.send(bytearray(b"x" * 6000))  # room again once the bytes were taken
