#!/usr/bin/env python3
"""HTTP benchmark: "hello world" requests on tether (bench/http_hello.c),
libwebsockets 4.1 (bench/lws_http.c) and, when built, uWebSockets
(bench/uws_http.cpp, an anchor only), one after the other on this machine,
each server pinned to one core and h2load (nghttp2's load generator) to
the other.

Rows: HTTP/1.1 with 100 connections, one request at a time on each (keep-
alive, no pipelining); HTTP/1.1 with 16 pipelined requests per connection;
HTTP/2 (h2c, prior knowledge) with 10 connections of 10 streams (tether
only: libwebsockets serves HTTP/2 only under TLS, uWebSockets not at all).
For each: requests/s, the server's own CPU time per request (from
/proc/PID/stat, the fair figure when h2load saturates its core) and
h2load's CPU, median of --runs runs.

With --ws-load and --tether-cli, also WebSocket echo on tether's server
(32-byte messages, each stream waiting for its echo): 100 WebSockets as
streams of ONE HTTP/2 connection (bench/h2_ws_load.c) against 100 over
their own HTTP/1.1 connections (`tether bench`). The load generators
differ, so only the server's CPU per message compares.

Usage: http_bench.py --tether BIN --lws BIN [--uws BIN] [--ws-load BIN --tether-cli BIN]
                     [--duration S] [--runs N]
"""
import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pin(core):
    return ["taskset", "-c", str(core)] if os.cpu_count() >= 2 else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv):
    port = free_port()
    proc = subprocess.Popen(pin(0) + [argv, str(port)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        sys.exit(f"{argv} did not start: {line!r}")
    return proc, port


def h2load(args, url):
    """Runs h2load; returns (requests done, seconds, h2load CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cp = subprocess.run(pin(1) + ["h2load", *args, url], capture_output=True, text=True,
                        timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"finished in ([\d.]+)(m?s)", cp.stdout)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", cp.stdout)
    if not m or not done or done.group(1) != done.group(2):
        sys.exit(f"h2load failed:\n{cp.stdout}\n{cp.stderr}")
    secs = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return int(done.group(1)), secs, cpu


LOADS = [  # (name, h2load arguments, which servers)
    ("HTTP/1.1, 100 conns, 1 request at a time", ["--h1", "-c", "100", "-m", "1"], "all"),
    ("HTTP/1.1, 100 conns, 16 pipelined", ["--h1", "-c", "100", "-m", "16"], "all"),
    ("HTTP/2 (h2c), 10 conns x 10 streams", ["-c", "10", "-m", "10"], "tether"),
]


def measure(binary, args, duration):
    proc, port = start(binary)
    try:
        h2load(args + ["-D", "1"], f"http://127.0.0.1:{port}/")  # warm up
        cpu0 = cpu_seconds(proc.pid)
        done, secs, gen_cpu = h2load(args + ["-D", str(duration)], f"http://127.0.0.1:{port}/")
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"rps": done / secs, "cpu_us": cpu * 1e6 / done, "gen": 100 * gen_cpu / secs}


def measure_ws(server, load_argv):
    """Server CPU per echoed message under a WebSocket load generator that
    prints JSON with "messages"."""
    proc, port = start(server)
    try:
        cpu0 = cpu_seconds(proc.pid)
        argv = [a.replace("PORT", str(port)) for a in load_argv]
        cp = subprocess.run(pin(1) + argv, capture_output=True, text=True, timeout=600)
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if cp.returncode or not lines:
        sys.exit(f"{load_argv[0]} failed:\n{cp.stdout}\n{cp.stderr}")
    r = json.loads(lines[-1])
    secs = r.get("seconds") or r.get("duration_s")
    return {"mps": r["messages"] / secs, "cpu_us": cpu * 1e6 / r["messages"]}


def ws_rows(a):
    loads = [
        ("WebSocket echo, 100 streams on one HTTP/2 connection",
         [a.ws_load, "PORT", "100", "32", str(a.duration)]),
        ("WebSocket echo, 100 HTTP/1.1 connections",
         [a.tether_cli, "bench", "ws://127.0.0.1:PORT/", "--connections", "100", "--size", "32",
          "--depth", "1", "--duration", str(a.duration), "--json"]),
    ]
    print()
    print("| load (tether's server, 32 B, depth 1) | messages/s (its own generator) | "
          "server CPU per message |")
    print("|---|---:|---:|")
    for name, argv in loads:
        runs = [measure_ws(a.tether, argv) for _ in range(a.runs)]
        r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        print(f"| {name} | {r['mps']:,.0f} | {r['cpu_us']:.2f} us |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tether", required=True)
    ap.add_argument("--lws", required=True)
    ap.add_argument("--uws")
    ap.add_argument("--ws-load")
    ap.add_argument("--tether-cli")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    servers = [("tether", a.tether), ("libwebsockets", a.lws)]
    if a.uws:
        servers.append(("uWebSockets", a.uws))
    print("| load | server | requests/s | server CPU per request | h2load CPU | "
          "tether's ratio (req/s, CPU/req) |")
    print("|---|---|---:|---:|---:|---|")
    for load, args, which in LOADS:
        base = None
        for name, binary in servers:
            if which != "all" and name != which:
                continue
            runs = [measure(binary, args, a.duration) for _ in range(a.runs)]
            r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
            if base is None:
                base = r
                ratio = ""
            else:
                ratio = f"{base['rps'] / r['rps']:.2f}x, {r['cpu_us'] / base['cpu_us']:.2f}x"
            print(f"| {load} | {name} | {r['rps']:,.0f} | {r['cpu_us']:.2f} us | "
                  f"{r['gen']:.0f}% | {ratio} |", flush=True)
    if a.ws_load and a.tether_cli:
        ws_rows(a)


if __name__ == "__main__":
    main()
