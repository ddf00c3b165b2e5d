"""Headless Chromium against `tether serve --deflate...`: the negotiated
permessage-deflate in every tether server configuration of a covering set.

Chromium always offers "permessage-deflate; client_max_window_bits" and
accepts any valid answer, so what varies is tether's side: its
no_context_takeover for neither side, the server, the client or both, each
with every server window size (default, no limit, 9..15) paired with a
client window size. The page sends the deflate messages (text and binary,
small and large, incompressible) and checks each echo; ws.extensions (the
header Chromium accepted) must equal what `tether serve -v` negotiated and
follow RFC 7692 and tether's settings. A relay counts the bytes on the
wire: both directions must be compressed.
"""

from conftest import payloads, tether_opens
from pmd_rules import WINDOWS, pmd_params, server_answer_problems, \
    tether_args
from test_browser_tls import CHROME_OFFER, run_jobs

# window pairs: every size on each side once (0: no limit; None: default)
SIZES = [None, 0] + WINDOWS[1:]
PAIRS = [(SIZES[i], SIZES[(i + 3) % len(SIZES)]) for i in range(len(SIZES))]
CONFIGS = [(n, s, c) for n in (None, "server", "client", "both")
           for (s, c) in PAIRS]


def test_chromium_deflate(tether_server, relay, tmp_path):
    servers = {}
    for i, cfg in enumerate(CONFIGS):
        n, s, c = cfg
        if (s is None) != (c is None):      # one option sets both
            s, c = s or 0, c or 0
            cfg = (n, s, c)
        servers[f"cfg{i}"] = (cfg, tether_server("-v", *tether_args(*cfg)))
    off = tether_server("-v")
    wire = tether_server("-v", "--deflate")
    r = relay(wire.port)
    jobs = [{"id": k, "url": f"ws://127.0.0.1:{srv.port}/"}
            for k, (_, srv) in servers.items()]
    jobs += [{"id": "off", "url": f"ws://127.0.0.1:{off.port}/"},
             {"id": "wire", "url": f"ws://127.0.0.1:{r.port}/"}]
    res = run_jobs(jobs, tmp_path)
    problems = []
    for k, (cfg, srv) in servers.items():
        tag = f"tether serve {' '.join(tether_args(*cfg))}:"
        if not res[k]["ok"]:
            problems.append(f"{tag} {res[k]['error']}")
            continue
        ours = pmd_params(tether_opens(srv, 1)[0]["extensions"])
        theirs = pmd_params(res[k]["extensions"])
        if ours != theirs:
            problems.append(f"{tag} Chromium accepted "
                            f"{res[k]['extensions']!r}, tether has {ours}")
        if ours is None:
            problems.append(f"{tag} compression not negotiated")
            continue
        problems += [f"{tag} {p}" for p in
                     server_answer_problems(CHROME_OFFER, ours, cfg)]
    assert not problems, "\n".join(problems)
    assert res["off"]["ok"] and res["off"]["extensions"] == "", res["off"]
    assert res["wire"]["ok"], res["wire"]
    raw = payloads.payload_bytes(payloads.deflate_payloads())
    assert r.up < raw / 2 and r.down < raw / 2, \
        f"{raw} payload bytes each way; on the wire up {r.up} down {r.down}"
