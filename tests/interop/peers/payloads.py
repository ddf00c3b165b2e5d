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


# ---- permessage-deflate (scenarios.md, "Compression") ------------------

def noise(n, seed=0x9E3779B9):
    """n incompressible bytes: xorshift32, low byte of each step."""
    x = seed
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def _text(n):
    s = "tether permessage-deflate interop, RFC 7692 ✓ "
    return (s * (n // len(s) + 1))[:n]


DEFLATE_KINDS = ("deflate", "deflate-big", "deflate-lite")


def deflate_payloads(kind="deflate"):
    """Messages for the deflate scenarios: text and binary, small and large,
    compressible and not; repeated messages exercise context takeover.
    deflate-lite has only 2000 bytes of noise (libwebsockets 4.1 cannot
    inflate larger incompressible frames that arrive over TLS)."""
    if kind == "deflate-big":
        return [_text(4 * MiB), noise(MiB), pattern(4 * MiB), _text(4 * MiB)]
    return ["hello", "hello", "", b"", bytes(range(64)), "héllo ✓ " * 30,
            _text(65536), noise(2000 if kind == "deflate-lite" else 40000),
            pattern(100000), _text(65536)]


def payload_bytes(msgs):
    return sum(len(m.encode() if isinstance(m, str) else m) for m in msgs)


def parse_pmd_spec(spec):
    """'on', 'off' or comma-separated snct, cnct, smwb=N, cmwb[=N]
    (scenarios.md). Returns None for 'off', else a dict."""
    if spec == "off":
        return None
    out = {"snct": False, "cnct": False, "smwb": None, "cmwb": None}
    for tok in spec.split(","):
        tok = tok.strip()
        if tok in ("", "on"):
            continue
        if tok in ("snct", "cnct"):
            out[tok] = True
        elif tok == "cmwb":
            out["cmwb"] = True
        elif tok.startswith(("smwb=", "cmwb=")):
            out[tok[:4]] = int(tok[5:])
        else:
            raise ValueError(f"bad pmd spec token {tok!r}")
    return out


def parse_peer_opts(argv):
    """Leading --name [value] options shared by the peers (scenarios.md).
    Returns (dict, rest of argv)."""
    flags = {"no-pmd", "verify-client", "require-client-cert"}
    opts, i = {}, 0
    while i < len(argv) and argv[i].startswith("--"):
        name = argv[i][2:]
        if name in flags:
            opts[name.replace("-", "_")] = True
            i += 1
        else:
            opts[name.replace("-", "_")] = argv[i + 1]
            i += 2
    return opts, argv[i:]
