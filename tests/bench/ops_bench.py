#!/usr/bin/env python3
"""Operations benchmark (issue 12): braidd's HTTP API and /metrics, beside
baselines measured in the same run on the same machine.

  1. GET /kernel/scheduler/stats under wrk (1 thread, 8 connections), beside
     wrk against a real Prometheus' GET /-/healthy (Go's net/http, the server
     every rival's API is compared to here) and `braid stats` over the control
     socket, one process per call.
  2. GET /metrics under wrk: its size and rate; Prometheus' own
     scrape_duration_seconds for braidd's target beside its self-scrape.
  3. A task through the API: POST /v1/tasks {"argv": ["true"]} then the long
     poll GET /v1/tasks/ID/wait, sequentially, beside `braid submit --wait true`
     (a CLI process per task) and a bare fork+exec of `true`.

Usage: tests/bench/ops_bench.py [--seconds 5] [--tasks 200]
Environment: BRAID_BIN_DIR (default build/bin). Needs wrk and prometheus; skips
a part whose tool is missing. Not a test: it prints figures.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("BRAID_BIN_DIR", "build/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t1", "-c8", "-d%ds" % seconds, "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    return rate, lat.get("50", "?"), lat.get("99", "?")


def percentiles_ms(samples_s):
    ordered = sorted(samples_s)
    return (statistics.median(ordered) * 1e3, ordered[int(0.99 * (len(ordered) - 1))] * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=200)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="braid-ops-bench-")
    procs = []
    try:
        api = "127.0.0.1:%d" % free_port()
        sock = os.path.join(tmp, "braidd.sock")
        procs.append(subprocess.Popen(
            [os.path.join(BIN, "braidd"), "--data-dir", os.path.join(tmp, "data"), "--socket",
             sock, "--http", api, "--metrics", api, "--slots", "2"],
            stderr=open(os.path.join(tmp, "braidd.log"), "w")))
        base = "http://" + api
        wait_until(lambda: http("GET", base + "/v1/stats")[0] == 200, 10, "braidd's API")
        env = dict(os.environ, BRAID_SOURCE="", BRAID_SOCKET=sock)
        print("machine: %d cores, load %.2f" % (os.cpu_count(), os.getloadavg()[0]))

        prom_url = None
        if shutil.which("prometheus"):
            prom = "127.0.0.1:%d" % free_port()
            config = os.path.join(tmp, "prometheus.yml")
            with open(config, "w") as f:
                f.write("global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"
                        "scrape_configs:\n"
                        "  - job_name: braid\n    static_configs: [{targets: ['%s']}]\n"
                        "  - job_name: prometheus\n    static_configs: [{targets: ['%s']}]\n"
                        % (api, prom))
            procs.append(subprocess.Popen(
                ["prometheus", "--config.file", config, "--storage.tsdb.path",
                 os.path.join(tmp, "tsdb"), "--web.listen-address", prom],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            prom_url = "http://" + prom
            wait_until(lambda: http("GET", prom_url + "/-/ready")[0] == 200, 30, "prometheus")

        print("\n1. a small GET, %d s of wrk -t1 -c8 each" % args.seconds)
        if shutil.which("wrk"):
            for what, url in [("braidd GET /kernel/scheduler/stats", base + "/kernel/scheduler/stats"),
                              ("prometheus GET /-/healthy (baseline)",
                               prom_url + "/-/healthy" if prom_url else None)]:
                if url:
                    rate, p50, p99 = wrk(url, args.seconds)
                    print("  %-40s %9.0f req/s  p50 %s  p99 %s" % (what, rate, p50, p99))
        calls, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            subprocess.run([os.path.join(BIN, "braid"), "stats"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            calls += 1
        print("  %-40s %9.0f calls/s (a process per call)" % ("braid stats (baseline)",
                                                           calls / (time.monotonic() - t0)))

        print("\n2. GET /metrics")
        size = len(http("GET", base + "/metrics")[1])
        print("  exposition: %d bytes" % size)
        if shutil.which("wrk"):
            rate, p50, p99 = wrk(base + "/metrics", args.seconds)
            print("  braidd GET /metrics: %.0f req/s  p50 %s  p99 %s" % (rate, p50, p99))
        if prom_url:
            time.sleep(3)  # a few scrapes of each target at 1 s
            q = urllib.request.quote("avg_over_time(scrape_duration_seconds[1m])")
            result = json.loads(http("GET", prom_url + "/api/v1/query?query=" + q)[1])
            for r in result["data"]["result"]:
                print("  prometheus scrape_duration_seconds, job %-10s %.2f ms" %
                      (r["metric"]["job"], float(r["value"][1]) * 1e3))

        print("\n3. one task (`true`) submitted and waited for, %d in sequence" % args.tasks)
        spec = json.dumps({"argv": ["true"]}).encode()
        samples = []
        for _ in range(args.tasks):
            t0 = time.monotonic()
            task_id = json.loads(http("POST", base + "/v1/tasks", spec)[1])["ids"][0]
            state = json.loads(http("GET", base + "/v1/tasks/%s/wait?timeout=30s" % task_id)[1])
            samples.append(time.monotonic() - t0)
            assert state["task"]["state"] == "completed", state
        print("  HTTP POST + long-poll wait:     p50 %.2f ms  p99 %.2f ms" % percentiles_ms(samples))
        samples = []
        for _ in range(args.tasks):
            t0 = time.monotonic()
            subprocess.run([os.path.join(BIN, "braid"), "submit", "--wait", "--", "true"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            samples.append(time.monotonic() - t0)
        print("  braid submit --wait (baseline): p50 %.2f ms  p99 %.2f ms" % percentiles_ms(samples))
        samples = []
        for _ in range(args.tasks):
            t0 = time.monotonic()
            subprocess.run(["true"], check=True)
            samples.append(time.monotonic() - t0)
        print("  fork+exec true (baseline):      p50 %.2f ms  p99 %.2f ms" % percentiles_ms(samples))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
