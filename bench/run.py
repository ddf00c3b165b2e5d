#!/usr/bin/env python3
"""Side-by-side WebSocket echo benchmark: tether against libwebsockets and
Node ws, all on this machine, in one run, with one load generator
(`tether bench`).

Each server runs pinned to one core and the load generator to the other.
When the load generator saturates its core (its CPU is printed), messages/s
measure the generator more than the server; the server's own CPU time per
message (from /proc/PID/stat) is then the fairer figure, so both are shown.

Sections (--only, default all):
  ws       cleartext echo: tether, libwebsockets, Node ws; idle memory
  tls      wss:// echo: tether and libwebsockets, each with and without TLS
           (same certificate, made at run time), at the loads of `ws`
  deflate  permessage-deflate echo of a text corpus (bench/corpus.py):
           tether and libwebsockets at the same zlib level, window 15, with
           and without context takeover; payload MB/s, server CPU, and wire
           bytes / payload bytes in each direction

Usage: run.py --tether BIN --lws BIN [--node-dir DIR]
              [--certs DIR] [--corpus FILE] [--only ws,tls,deflate|all]
              [--duration S] [--idle N] [--deflate-level N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = [  # (connections, size, depth): rows (a) to (d) of the echo tables
    (100, 32, 1),
    (100, 32, 16),
    (10, 65536, 4),
    (1, 1048576, 2),
]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pin(core):
    return ["taskset", "-c", str(core)] if os.cpu_count() >= 2 else []


class Server:
    def __init__(self, name, argv, scheme="ws"):
        self.name, self.argv, self.proc, self.scheme = name, argv, None, scheme

    def __enter__(self):
        self.proc = subprocess.Popen(pin(1) + self.argv, stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline and not line.startswith("listening on "):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited before listening")
        self.url = self.scheme + "://" + line.split()[-1] + "/"
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def machine_busy_seconds():
    """CPU time spent by everything on the machine, all cores (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK  # all but idle and iowait


def load_argv(load, url):
    """The load generator's command: `tether bench URL`, or for the raw TCP
    row bench/raw_echo.c's own generator (same options, same JSON)."""
    if load.endswith("raw_echo"):
        return [load, "load", url.split("://", 1)[1].rstrip("/")]
    return [load, "bench", url]


def run_bench(tether, url, conns, size, depth, duration, warmup=1.0, extra=()):
    """size: bytes per message, or None when `extra` names a --corpus.
    Returns the bench's JSON, plus its whole CPU time (warm-up included)."""
    argv = pin(0) + load_argv(tether, url) + [
        "-c", str(conns), "-d", str(depth), "-t", str(duration), "-w", str(warmup)]
    if not tether.endswith("raw_echo"):
        argv += ["--json"] + list(extra)
    if size is not None:
        argv += ["-s", str(size)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=duration + warmup + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    # communicate() has reaped the child: its CPU is in RUSAGE_CHILDREN.
    if proc.returncode != 0:
        raise RuntimeError(f"bench failed: {stderr.strip()}")
    return json.loads(stdout.strip().splitlines()[-1])


def children_cpu_seconds():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measure(server, tether, cfg, duration, extra=()):
    conns, size, depth = cfg
    before = cpu_seconds(server.proc.pid)
    busy0, kids0, t0 = machine_busy_seconds(), children_cpu_seconds(), time.time()
    r = run_bench(tether, server.url, conns, size, depth, duration, extra=extra)
    spent = cpu_seconds(server.proc.pid) - before
    # What other processes took meanwhile, in % of one core: near 0 on a
    # quiet machine; more means the figures were squeezed.
    others = (machine_busy_seconds() - busy0) - spent - (children_cpu_seconds() - kids0)
    r["others_cpu_pct"] = max(0.0, others / (time.time() - t0) * 100)
    total = r["messages_per_s"] * (duration + 1.0)  # warm-up included in the CPU time
    r["server_cpu_us_per_msg"] = spent / total * 1e6 if total else float("nan")
    r["server_cpu_pct"] = spent / (duration + 1.0) * 100
    # Payload bytes per second of server CPU: the server's throughput per core.
    payload = r["mb_per_s"] * (duration + 1.0)
    r["server_mb_per_cpu_s"] = payload / spent if spent else float("nan")
    return r


def idle_memory(server, tether, n):
    base = rss_kib(server.proc.pid)
    argv = pin(0) + load_argv(tether, server.url) + ["-c", str(n), "-d", "0", "-t", "6", "-w", "0"]
    bench = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = base
    deadline = time.time() + 5
    while time.time() < deadline:
        peak = max(peak, rss_kib(server.proc.pid))
        time.sleep(0.2)
    bench.wait(timeout=60)
    return (peak - base) * 1024 / n


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def median_run(runs):
    """The run with the median server CPU per message (of an odd count)."""
    return sorted(runs, key=lambda r: r["server_cpu_us_per_msg"])[len(runs) // 2]


def ws_servers(a):
    """(name, server argv, load generator) for the echo section, the limit first."""
    servers = []
    if a.raw:
        servers.append(("raw TCP echo", [a.raw, "serve", "0"], a.raw))
    if a.uws:
        servers.append(("uWebSockets", [a.uws, "17682"], a.tether))
    servers += [
        ("tether", [a.tether, "serve", "--port", "0"], a.tether),
        ("libwebsockets", [a.lws, "--port", "17681"], a.tether),
    ]
    if a.node_dir:
        servers.append(("node ws", ["node", os.path.join(a.node_dir, "node_echo.js"), "--port",
                                    "0"], a.tether))
    return servers


def section_ws(a):
    servers = ws_servers(a)
    results = {}
    for name, argv, load in servers:
        with Server(name, argv) as s:
            for cfg in CONFIGS:
                runs = [measure(s, load, cfg, a.duration) for _ in range(a.repeat)]
                results[(name, cfg)] = median_run(runs)
                print(f"# {name} {cfg}: {json.dumps(runs)}", file=sys.stderr)
            if a.idle:
                results[(name, "idle")] = idle_memory(s, load, a.idle)
    print(f"\n## Cleartext (ws://) echo (median of {a.repeat} by server CPU per message)")
    for cfg in CONFIGS:
        ours = results[("tether", cfg)]
        print(f"\n{cfg[0]} connections x {cfg[1]} bytes, depth {cfg[2]}\n")
        print("| server | msg/s | MB/s | p50 us | p99 us | server CPU us/msg | "
              "bench CPU | tether msg/s ratio | tether CPU/msg ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, _, _ in servers:
            r = results[(name, cfg)]
            ratio = ours["messages_per_s"] / r["messages_per_s"]
            cpu_ratio = r["server_cpu_us_per_msg"] / ours["server_cpu_us_per_msg"]
            print(f"| {name} | {fmt(r['messages_per_s'])} | {fmt(r['mb_per_s'], 1)} | "
                  f"{r['latency_p50_us']} | {r['latency_p99_us']} | "
                  f"{fmt(r['server_cpu_us_per_msg'], 3)} | {fmt(r['cpu_percent'])}% | "
                  f"{ratio:.2f}x | {cpu_ratio:.2f}x |")
    summary(a, servers, results)


def summary(a, servers, results):
    """The issue's one table: server CPU per message (MB/s) for every load
    and server, idle memory, and tether's ratios to the anchors."""
    names = [n for n, _, _ in servers]
    print("\nSummary: server CPU us per message (MB/s)\n")
    print("| load | " + " | ".join(names) + " | tether vs uWS (CPU/msg) | tether / raw (CPU/msg) |")
    print("|---|" + "---:|" * len(names) + "---:|---:|")
    for conns, size, depth in CONFIGS:
        cfg = (conns, size, depth)
        cells = []
        for n in names:
            r = results[(n, cfg)]
            mb = f" ({fmt(r['mb_per_s'])})" if size >= 65536 else ""
            cells.append(f"{r['server_cpu_us_per_msg']:.3f}{mb}")
        t = results[("tether", cfg)]["server_cpu_us_per_msg"]
        vs_uws = (f"{results[('uWebSockets', cfg)]['server_cpu_us_per_msg'] / t:.2f}x"
                  if "uWebSockets" in names else "")
        vs_raw = (f"{t / results[('raw TCP echo', cfg)]['server_cpu_us_per_msg']:.2f}"
                  if "raw TCP echo" in names else "")
        print(f"| {conns} x {size} B, depth {depth} | " + " | ".join(cells) +
              f" | {vs_uws} | {vs_raw} |")
    if a.idle:
        cells = [fmt(results[(n, "idle")]) + " B" for n in names]
        print(f"| idle memory per connection, {a.idle:,} conns | " + " | ".join(cells) + " | | |")


BROADCAST_CLIENTS = (100, 500)


def broadcast_run(client, url, n, secs):
    """uWebSockets' benchmarks/broadcast_test.c: n clients each send one
    20-byte message per round and wait for all n*n deliveries; it prints
    rounds per second every 4 s. Returns the mean of the reports after the
    first (which includes connecting)."""
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    argv = pin(0) + ["stdbuf", "-oL", client, str(n), host, port, "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rates, deadline = [], time.time() + secs + 30
    while time.time() < deadline and len(rates) < max(2, int(secs / 4)) + 1:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("Iterations/second"):
            rates.append(float(line.split()[-1]))
    proc.kill()
    proc.wait()
    if len(rates) < 2:
        raise RuntimeError(f"broadcast_test gave {rates} with {n} clients")
    return sum(rates[1:]) / len(rates[1:])


def section_broadcast(a):
    servers = [("tether", [a.tether, "serve", "--port", "0", "--broadcast"])]
    if a.uws:
        servers.append(("uWebSockets", [a.uws, "17682", "--broadcast"]))
    results = {}
    for name, argv in servers:
        for n in BROADCAST_CLIENTS:
            with Server(name, argv) as s:
                before, t0 = cpu_seconds(s.proc.pid), time.time()
                rate = broadcast_run(a.broadcast_client, s.url, n, a.duration)
                cpu_pct = (cpu_seconds(s.proc.pid) - before) / (time.time() - t0) * 100
                results[(name, n)] = (rate, cpu_pct)
                print(f"# {name} broadcast {n}: {rate} rounds/s, server CPU {cpu_pct:.0f}%",
                      file=sys.stderr)
    print("\n## Broadcast (uWebSockets' benchmarks/broadcast_test.c: N clients each send one "
          "20-byte message per round and wait for all N x N deliveries)\n")
    print("| clients | " + " | ".join(f"{n}: rounds/s (deliveries/s), server CPU" for n, _ in servers)
          + " | tether vs uWS |")
    print("|---|" + "---:|" * len(servers) + "---:|")
    for n in BROADCAST_CLIENTS:
        cells = [f"{fmt(results[(name, n)][0], 1)} ({fmt(results[(name, n)][0] * n * n)}), "
                 f"{fmt(results[(name, n)][1])}%" for name, _ in servers]
        ratio = (f"{results[('tether', n)][0] / results[('uWebSockets', n)][0]:.2f}x"
                 if a.uws else "")
        print(f"| {n} | " + " | ".join(cells) + f" | {ratio} |")


def tether_server_argv(a, tls=False, deflate=False):
    """`tether serve` with TLS and deflate as asked."""
    argv = [a.tether, "serve", "--port", "0"]
    if tls:
        argv += ["--cert", os.path.join(a.certs, "server.pem"),
                 "--key", os.path.join(a.certs, "server.key")]
    if deflate:
        # The library's defaults are windows of 12 bits and memLevel 5 (to
        # save memory): here, libwebsockets' fixed 15 and 8.
        argv += ["--deflate", "--deflate-level", str(a.deflate_level),
                 "--deflate-window-bits", "15,15", "--deflate-mem-level", "8"]
    return argv


def lws_argv(a, tls=False, deflate=False):
    argv = [a.lws, "--port", "17681"]
    if tls:
        argv += ["--cert", os.path.join(a.certs, "server.pem"),
                 "--key", os.path.join(a.certs, "server.key")]
    if deflate:  # windows of 15 bits and memLevel 8 are all it does
        argv += ["--deflate", "--deflate-level", str(a.deflate_level)]
    return argv


def section_tls(a):
    """Each server with and without TLS, at the loads of the ws section."""
    runs = [  # (row name, transport, argv, scheme)
        ("tether", "ws", tether_server_argv(a), "ws"),
        ("tether", "wss", tether_server_argv(a, tls=True), "wss"),
        ("libwebsockets", "ws", lws_argv(a), "ws"),
        ("libwebsockets", "wss", lws_argv(a, tls=True), "wss"),
    ]
    ca = ["--ca", os.path.join(a.certs, "ca.pem")]
    results = {}
    for name, transport, argv, scheme in runs:
        with Server(f"{name} {transport}", argv, scheme) as s:
            for cfg in CONFIGS:
                r = measure(s, a.tether, cfg, a.duration, ca if scheme == "wss" else ())
                results[(name, transport, cfg)] = r
                print(f"# {name} {transport} {cfg}: {json.dumps(r)}", file=sys.stderr)
    some = results[("tether", "wss", CONFIGS[0])]
    print(f"\n## TLS (wss://) echo: {some['tls_version']} {some['tls_cipher']}, "
          "same certificate (ECDSA P-256) for both servers")
    for cfg in CONFIGS:
        print(f"\n{cfg[0]} connections x {cfg[1]} bytes, depth {cfg[2]}\n")
        print("| server | ws msg/s | wss msg/s | wss/ws msg/s | ws CPU us/msg | wss CPU us/msg | "
              "wss/ws CPU/msg | wss p50 us | wss p99 us | bench CPU (wss) | others (ws, wss) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in ("tether", "libwebsockets"):
            w, t = results[(name, "ws", cfg)], results[(name, "wss", cfg)]
            print(f"| {name} | {fmt(w['messages_per_s'])} | {fmt(t['messages_per_s'])} | "
                  f"{t['messages_per_s'] / w['messages_per_s']:.2f} | "
                  f"{fmt(w['server_cpu_us_per_msg'], 2)} | {fmt(t['server_cpu_us_per_msg'], 2)} | "
                  f"{t['server_cpu_us_per_msg'] / w['server_cpu_us_per_msg']:.2f} | "
                  f"{t['latency_p50_us']} | {t['latency_p99_us']} | {fmt(t['cpu_percent'])}% | "
                  f"{fmt(w['others_cpu_pct'])}%, {fmt(t['others_cpu_pct'])}% |")
        ours, theirs = results[("tether", "wss", cfg)], results[("libwebsockets", "wss", cfg)]
        print(f"\ntether vs libwebsockets over wss://: msg/s "
              f"{ours['messages_per_s'] / theirs['messages_per_s']:.2f}x, CPU/msg "
              f"{theirs['server_cpu_us_per_msg'] / ours['server_cpu_us_per_msg']:.2f}x")


DEFLATE_ROWS = [  # (label, bench options, connections, depth)
    ("window 15, context takeover, depth 1", ["--deflate-window-bits", "15,15"], 100, 1),
    ("window 15, context takeover, depth 16", ["--deflate-window-bits", "15,15"], 100, 16),
    ("window 15, no context takeover, depth 1",
     ["--deflate-window-bits", "15,15", "--deflate-no-context-takeover", "both"], 100, 1),
    ("window 15, no context takeover, depth 16",
     ["--deflate-window-bits", "15,15", "--deflate-no-context-takeover", "both"], 100, 16),
]


def section_deflate(a):
    level = a.deflate_level
    servers = [
        ("tether", tether_server_argv(a, deflate=True)),
        ("libwebsockets", lws_argv(a, deflate=True)),
    ]
    common = ["--corpus", a.corpus, "--deflate", "--deflate-level", str(level),
              "--deflate-mem-level", "8"]
    results = {}
    for name, argv in servers:
        with Server(name, argv) as s:
            for label, opts, conns, depth in DEFLATE_ROWS:
                r = measure(s, a.tether, (conns, None, depth), a.duration, common + opts)
                results[(name, label)] = r
                print(f"# {name} {label}: {json.dumps(r)}", file=sys.stderr)
    r0 = results[("tether", DEFLATE_ROWS[0][0])]
    print(f"\n## permessage-deflate echo: corpus of {r0['corpus_messages']:,} JSON messages "
          f"({r0['size']:.0f} bytes on average), windows of 15 bits, zlib level {level} and memLevel 8 on "
          "both servers and the client")
    for label, _, conns, depth in DEFLATE_ROWS:
        print(f"\n{label}, {conns} connections\n")
        print("| server | msg/s | payload MB/s | server CPU us/msg | payload MB per server "
              "CPU-s | wire/payload server->client | wire/payload client->server | "
              "bench CPU | others | negotiated |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, _ in servers:
            r = results[(name, label)]
            up = r["wire_tx_bytes"] / r["payload_bytes"] if r.get("wire_tx_bytes") else float("nan")
            print(f"| {name} | {fmt(r['messages_per_s'])} | {fmt(r['mb_per_s'], 1)} | "
                  f"{fmt(r['server_cpu_us_per_msg'], 2)} | {fmt(r['server_mb_per_cpu_s'], 1)} | "
                  f"{r.get('wire_ratio', float('nan')):.3f} | {up:.3f} | "
                  f"{fmt(r['cpu_percent'])}% | {fmt(r['others_cpu_pct'])}% | `{r['extensions']}` |")
        ours, theirs = results[("tether", label)], results[("libwebsockets", label)]
        print(f"\ntether vs libwebsockets: msg/s "
              f"{ours['messages_per_s'] / theirs['messages_per_s']:.2f}x, CPU/msg "
              f"{theirs['server_cpu_us_per_msg'] / ours['server_cpu_us_per_msg']:.2f}x, "
              f"compression ratio {theirs['wire_ratio'] / ours['wire_ratio']:.2f}x")

    # For information: tether with its own defaults (windows of 12 bits and
    # memLevel 5, chosen to save memory per connection); libwebsockets has
    # no such setting on its server side, so there is no ratio.
    argv = tether_server_argv(a) + ["--deflate", "--deflate-level", str(level)]
    with Server("tether defaults", argv) as s:
        rows = []
        for label, opts, conns, depth in DEFLATE_ROWS[:2]:
            r = measure(s, a.tether, (conns, None, depth), a.duration,
                        ["--corpus", a.corpus, "--deflate", "--deflate-level", str(level)])
            print(f"# tether defaults {label}: {json.dumps(r)}", file=sys.stderr)
            rows.append((label.replace("window 15, ", ""), r))
    print(f"\nFor information: tether at its defaults (windows of 12 bits, memLevel 5) on both "
          f"sides, zlib level {level}, {DEFLATE_ROWS[0][2]} connections\n")
    print("| load | msg/s | payload MB/s | server CPU us/msg | payload MB per server CPU-s | "
          "wire/payload server->client | bench CPU | others | negotiated |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, r in rows:
        print(f"| {label} | {fmt(r['messages_per_s'])} | {fmt(r['mb_per_s'], 1)} | "
              f"{fmt(r['server_cpu_us_per_msg'], 2)} | {fmt(r['server_mb_per_cpu_s'], 1)} | "
              f"{r.get('wire_ratio', float('nan')):.3f} | {fmt(r['cpu_percent'])}% | "
              f"{fmt(r['others_cpu_pct'])}% | `{r['extensions']}` |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tether", required=True)
    ap.add_argument("--lws", required=True)
    ap.add_argument("--node-dir")
    ap.add_argument("--raw", help="bench/raw_echo.c built: the raw TCP echo row")
    ap.add_argument("--uws", help="bench/uws_echo.cpp built: the uWebSockets row")
    ap.add_argument("--repeat", type=int, default=1, help="runs per load (median)")
    ap.add_argument("--broadcast-client", help="uWebSockets' broadcast_test, built")
    ap.add_argument("--certs", help="directory made by tests/certs/make_certs.sh")
    ap.add_argument("--corpus", help="file made by bench/corpus.py")
    ap.add_argument("--only", default="all", help="ws, tls, deflate, comma-separated, or all")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--deflate-level", type=int, default=6)
    a = ap.parse_args()
    only = {"ws", "tls", "deflate"} if a.only == "all" else set(a.only.split(","))
    if a.only == "all" and a.broadcast_client:
        only.add("broadcast")
    if only - {"ws", "tls", "deflate", "http", "broadcast"}:
        ap.error(f"--only: unknown section in {a.only!r}")
    only.discard("http")  # bench/http_bench.py's, run by scripts/bench.sh
    if not only:
        return
    if "tls" in only and not a.certs:
        ap.error("the tls section needs --certs")
    if "deflate" in only and not a.corpus:
        ap.error("the deflate section needs --corpus")
    if "broadcast" in only and not a.broadcast_client:
        ap.error("the broadcast section needs --broadcast-client (UWS_SRC, USOCKETS_SRC)")
    load0 = os.getloadavg()[0]
    if "ws" in only:
        section_ws(a)
    if "tls" in only:
        section_tls(a)
    if "deflate" in only:
        section_deflate(a)
    if "broadcast" in only:
        section_broadcast(a)
    print("\nRatios: above 1.00x means tether is ahead (more messages/s, less CPU per "
          "message, fewer wire bytes).")
    if only & {"tls", "deflate"}:
        print("'others': CPU time taken during that run by everything on the machine but "
              "the server and the load generator (other processes, kernel work charged to "
              "neither), in % of one core. When it is high, something else squeezed the run: "
              "messages/s suffer most, CPU per message much less.")
    # Other work on the machine skews everything: say how busy it was.
    print(f"Machine: {os.cpu_count()} cores; 1-minute load average {load0:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end (this benchmark itself adds about 2).")


if __name__ == "__main__":
    main()
