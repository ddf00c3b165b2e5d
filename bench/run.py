#!/usr/bin/env python3
"""Side-by-side WebSocket echo benchmark: tether against libwebsockets and
Node ws, all on this machine, in one run, with one load generator
(`tether bench`).

Each server runs pinned to one core and the load generator to the other.
When the load generator saturates its core (its CPU is printed), messages/s
measure the generator more than the server; the server's own CPU time per
message (from /proc/PID/stat) is then the fairer figure, so both are shown.

Usage: run.py --tether BIN --lws BIN --node-dir DIR [--duration S] [--idle N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = [  # (connections, size, depth)
    (100, 32, 1),
    (100, 32, 16),
    (10, 65536, 1),
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
    def __init__(self, name, argv):
        self.name, self.argv, self.proc = name, argv, None

    def __enter__(self):
        self.proc = subprocess.Popen(pin(1) + self.argv, stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline and not line.startswith("listening on "):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited before listening")
        self.url = "ws://" + line.split()[-1] + "/"
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_bench(tether, url, conns, size, depth, duration, warmup=1.0):
    argv = pin(0) + [tether, "bench", url, "-c", str(conns), "-s", str(size), "-d", str(depth),
                     "-t", str(duration), "-w", str(warmup), "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(f"bench failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(server, tether, cfg, duration):
    conns, size, depth = cfg
    before = cpu_seconds(server.proc.pid)
    r = run_bench(tether, server.url, conns, size, depth, duration)
    spent = cpu_seconds(server.proc.pid) - before
    total = r["messages_per_s"] * (duration + 1.0)  # warm-up included in the CPU time
    r["server_cpu_us_per_msg"] = spent / total * 1e6 if total else float("nan")
    r["server_cpu_pct"] = spent / (duration + 1.0) * 100
    return r


def idle_memory(server, tether, n):
    base = rss_kib(server.proc.pid)
    argv = pin(0) + [tether, "bench", server.url, "-c", str(n), "-d", "0", "-t", "6", "-w", "0"]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tether", required=True)
    ap.add_argument("--lws", required=True)
    ap.add_argument("--node-dir", required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--idle", type=int, default=10000)
    a = ap.parse_args()
    servers = [
        ("tether", [a.tether, "serve", "--port", "0"]),
        ("libwebsockets", [a.lws, "--port", "17681"]),
        ("node ws", ["node", os.path.join(a.node_dir, "node_echo.js"), "--port", "0"]),
    ]
    results = {}
    for name, argv in servers:
        with Server(name, argv) as s:
            for cfg in CONFIGS:
                results[(name, cfg)] = measure(s, a.tether, cfg, a.duration)
                print(f"# {name} {cfg}: {json.dumps(results[(name, cfg)])}", file=sys.stderr)
            if a.idle:
                results[(name, "idle")] = idle_memory(s, a.tether, a.idle)
    for cfg in CONFIGS:
        ours = results[("tether", cfg)]
        print(f"\n{cfg[0]} connections x {cfg[1]} bytes, depth {cfg[2]}\n")
        print("| server | msg/s | MB/s | p50 us | p99 us | server CPU us/msg | "
              "bench CPU | tether msg/s ratio | tether CPU/msg ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, _ in servers:
            r = results[(name, cfg)]
            ratio = ours["messages_per_s"] / r["messages_per_s"]
            cpu_ratio = r["server_cpu_us_per_msg"] / ours["server_cpu_us_per_msg"]
            print(f"| {name} | {fmt(r['messages_per_s'])} | {fmt(r['mb_per_s'], 1)} | "
                  f"{r['latency_p50_us']} | {r['latency_p99_us']} | "
                  f"{fmt(r['server_cpu_us_per_msg'], 2)} | {fmt(r['cpu_percent'])}% | "
                  f"{ratio:.2f}x | {cpu_ratio:.2f}x |")
    if a.idle:
        print(f"\nMemory per idle connection ({a.idle} connections, server RSS growth)\n")
        print("| server | bytes per connection |")
        print("|---|---:|")
        for name, _ in servers:
            print(f"| {name} | {fmt(results[(name, 'idle')])} |")
    print("\nRatios: above 1.00x means tether is ahead (more messages/s, less CPU per message).")


if __name__ == "__main__":
    main()
