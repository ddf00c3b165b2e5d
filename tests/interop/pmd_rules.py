"""permessage-deflate (RFC 7692) parameter sets and the rules a server's
answer must follow, shared by test_deflate.py and the browser tests.

A SPEC is the peers' notation (peers/scenarios.md): "on", "off", or
comma-separated snct, cnct, smwb=N, cmwb[=N].
"""

from conftest import parse_ext
from payloads import parse_pmd_spec

PMD = "permessage-deflate"
PARAMS = {"server_no_context_takeover", "client_no_context_takeover",
          "server_max_window_bits", "client_max_window_bits"}
WINDOWS = [None, 9, 10, 11, 12, 13, 14, 15]   # None: parameter left out


def spec(snct=False, cnct=False, smwb=None, cmwb=None):
    parts = (["snct"] if snct else []) + (["cnct"] if cnct else [])
    if smwb:
        parts.append(f"smwb={smwb}")
    if cmwb is True:
        parts.append("cmwb")
    elif cmwb:
        parts.append(f"cmwb={cmwb}")
    return ",".join(parts) or "on"


# Every offer a client can make: both no_context_takeover flags, every
# server_max_window_bits, client_max_window_bits absent, bare or 9..15.
ALL_OFFERS = [spec(a, b, s, c) for a in (False, True) for b in (False, True)
              for s in WINDOWS for c in [None, True] + WINDOWS[1:]]

# A smaller set, used against each restricted server configuration.
SOME_OFFERS = ["on", "cmwb", "cmwb=9", "cmwb=15", "smwb=9", "smwb=15",
               "snct", "cnct", "snct,cnct", "snct,cnct,smwb=11,cmwb=13",
               "smwb=12,cmwb"]


def tether_args(nct=None, s=None, c=None):
    """tether's --deflate options for one configuration (window sizes
    None: the option is left out)."""
    args = ["--deflate"]
    if nct:
        args += ["--deflate-no-context-takeover", nct]
    if s is not None or c is not None:
        args += ["--deflate-window-bits", f"{s or 0},{c or 0}"]
    return args


# Every configuration of tether's own side: no_context_takeover for
# neither, the server, the client or both, crossed with the library's
# default windows (None) and every pair of window sizes (0: no limit).
NCTS = (None, "server", "client", "both")
ALL_TETHER = [(n, None, None) for n in NCTS] + \
    [(n, s, c) for n in NCTS for s in [0] + WINDOWS[1:]
     for c in [0] + WINDOWS[1:]]


def pmd_params(value):
    """permessage-deflate's parameters in a header value (or tether's
    `extensions ...` text); None when it is not in force."""
    ext = parse_ext(value)
    if ext is None:
        return None
    assert set(ext) == {PMD}, f"unexpected extensions {value!r}"
    return ext[PMD]


def offer_dict(offer):
    """An offer as parse_pmd_spec() gives it, from a SPEC or from the
    parameters of an offer header (pmd_params)."""
    if isinstance(offer, str):
        return parse_pmd_spec(offer)
    return {"snct": "server_no_context_takeover" in offer,
            "cnct": "client_no_context_takeover" in offer,
            "smwb": offer.get("server_max_window_bits"),
            "cmwb": offer.get("client_max_window_bits")}


def _num(v):
    return isinstance(v, int) and not isinstance(v, bool)


def server_answer_problems(offer, neg, cfg=None):
    """What is wrong with a server's answer `neg` (pmd_params) to the
    client's offer (a SPEC or the offer's pmd_params), per RFC 7692 section
    7.1, and with tether's server configuration cfg = (nct, S, C) if tether
    is the server. S and C are None when tether serve is not given
    --deflate-window-bits: the library's default windows apply, which are
    preferences (it limits the client's window only where the offer lets
    it), while windows set explicitly are demands."""
    o = offer_dict(offer)
    nct, S, C = cfg or (None, 0, 0)
    if neg is None:
        # tether declines only an offer that does not let it limit the
        # client's window as configured
        limits_client = C not in (None, 0, 15)
        if cfg is not None and not (limits_client and o["cmwb"] is None):
            return ["declined an offer it can accept"]
        return []
    bad = [f"unknown parameter {k}" for k in set(neg) - PARAMS]
    for k in ("server_max_window_bits", "client_max_window_bits"):
        v = neg.get(k)
        if v is not None and (not _num(v) or not 8 <= v <= 15):
            bad.append(f"{k}={v!r} is not 8..15")
    snct = "server_no_context_takeover" in neg
    cnct = "client_no_context_takeover" in neg
    smwb = neg.get("server_max_window_bits")
    cmwb = neg.get("client_max_window_bits")
    if o["snct"] and not snct:
        bad.append("server_no_context_takeover asked for, not granted")
    if nct in ("server", "both") and not snct:
        bad.append("server_no_context_takeover configured, not sent")
    if nct in ("client", "both") and not cnct:
        bad.append("client_no_context_takeover configured, not sent")
    if o["smwb"] and not (_num(smwb) and smwb <= o["smwb"]):
        bad.append(f"server_max_window_bits={o['smwb']} asked for, got "
                   f"{smwb!r}")
    if S and S != 15 and not (_num(smwb) and smwb <= S):
        bad.append(f"server window limited to {S}, answered {smwb!r}")
    if o["cmwb"] is None and cmwb is not None:
        bad.append("client_max_window_bits answered but not offered")
    if _num(o["cmwb"]) and _num(cmwb) and cmwb > o["cmwb"]:
        bad.append(f"client_max_window_bits {cmwb} above the offered "
                   f"{o['cmwb']}")
    if C and C != 15 and o["cmwb"] is not None and \
            not (_num(cmwb) and cmwb <= C):
        bad.append(f"client window limited to {C}, answered {cmwb!r}")
    return bad


def tether_offer_problems(cfg, offer_value):
    """What is wrong with the offer tether connect sent (header value as a
    server saw it) for its configuration cfg = (nct, S, C). Without
    --deflate-window-bits (S = C = None) the library's default windows
    apply, whatever they are; 0 and 15 both mean no limit."""
    nct, S, C = cfg
    got = pmd_params(offer_value)
    if got is None:
        return [f"no permessage-deflate offer: {offer_value!r}"]
    bad = []
    for key, want in (("server_no_context_takeover",
                       nct in ("server", "both")),
                      ("client_no_context_takeover",
                       nct in ("client", "both"))):
        if (key in got) != want:
            bad.append(f"{key} {'missing' if want else 'not asked for'}")
    smwb = got.get("server_max_window_bits")
    cmwb = got.get("client_max_window_bits")
    if cmwb is None:
        bad.append("client_max_window_bits missing (tether offers it)")
    if S is not None:
        if S in (0, 15) and smwb not in (None, 15):
            bad.append(f"server_max_window_bits={smwb} not asked for")
        if S not in (0, 15) and smwb != S:
            bad.append(f"server_max_window_bits={smwb!r}, expected {S}")
        if C in (0, 15) and cmwb not in (True, 15):
            bad.append(f"client_max_window_bits={cmwb!r}, expected no "
                       f"limit")
        if C not in (0, 15) and cmwb != C:
            bad.append(f"client_max_window_bits={cmwb!r}, expected {C}")
    if bad:
        return [f"offer {offer_value!r}: " + "; ".join(bad)]
    return []
