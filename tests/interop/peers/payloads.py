"""Test payloads shared by the Python peers (see scenarios.md)."""

MiB = 1024 * 1024


def pattern(n):
    block = bytes((i * 31 + 7) & 0xFF for i in range(256))
    reps, rest = divmod(n, 256)
    return block * reps + block[:rest]


TEXT = ["hello", "", "héllo wörld ✓ 日本語 🎉", "A" * 200, "0123456789" * 7000]
BINARY = [bytes(range(256)), b"", b"\x00", pattern(70000)]
FRAG_TEXT = [b"frag", b"mented \xe2", b"\x9c\x93 mes", b"sage"]
FRAG_TEXT_WHOLE = "fragmented ✓ message"
FRAG_BIN = [pattern(1000)[0:300], pattern(1000)[300:301], pattern(1000)[301:]]
FRAG_BIN_WHOLE = pattern(1000)


def big_text():
    return "0123456789abcdef" * (MiB)


def big_binary():
    return pattern(16 * MiB)


CLIENT_PING = b"tether-ping\x00\xff"
SERVER_PING = b"server-ping\x01\x02"


def describe(msg):
    """Short printable description of a message, for error reports."""
    kind = "text" if isinstance(msg, str) else "binary"
    head = msg[:40]
    return f"{kind}[{len(msg)}] {head!r}"


def same(sent, got):
    return type(sent) is type(got) and sent == got
