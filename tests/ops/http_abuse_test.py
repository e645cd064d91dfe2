#!/usr/bin/env python3
"""Review (issue 12, rev17): misbehaving HTTP clients against a real braidd.

Each step is one misbehaviour an unauthenticated client can do to the API
(and /metrics on the same listener); after it, a well-behaved client must be
served again within a deadline that any sane server timeout would meet.

  stalled_body      256 connections send a GET head with Content-Length and
                    never the body (kj-http has no body timeout, and the
                    listener refuses connection 257 at accept).
  abandoned_wait    256 clients ask GET /v1/tasks/ID/wait?timeout=600s and
                    hang up at once (the server never notices a closed
                    connection while the request runs).

Run: BRAID_BIN_DIR=build/bin python3 tests/ops/http_abuse_test.py [step...]
Exit 0 when every step passed.
"""

import json
import os
import socket
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_test as h  # noqa: E402  (Braidd, curl, poll, free_port)

CONNECTIONS = 256  # rpc::HttpListener::kMaxConnections


def served(base):
    """True when a fresh client gets an answer to GET /v1/stats."""
    try:
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_served(base, what, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served(base):
            return
        time.sleep(0.5)
    h.fail(f"{what}: the API (and /metrics) served nobody for {timeout_s} s")


def step_stalled_body(root, daemons):
    port = h.free_port()
    base = f"http://127.0.0.1:{port}"
    d = h.Braidd(root, "stall", ["--http", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{port}"])
    daemons.append(d)
    h.poll("the API", lambda: h.port_answers(port) or d.proc.poll() is not None)
    h.check(served(base), "the API answers before the stall")
    held = []
    for _ in range(CONNECTIONS):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        held.append(s)
    # The header timeout is 15 s: a server that bounds the body too frees
    # the slots well within 40 s.
    wait_served(base, "256 connections with a stalled body", 40)
    for s in held:
        s.close()


def step_abandoned_wait(root, daemons):
    port = h.free_port()
    base = f"http://127.0.0.1:{port}"
    d = h.Braidd(root, "abandon", ["--http", f"127.0.0.1:{port}", "--metrics",
                                   f"127.0.0.1:{port}"])
    daemons.append(d)
    h.poll("the API", lambda: h.port_answers(port) or d.proc.poll() is not None)
    status, j, _ = h.curl("POST", base + "/v1/tasks", json.dumps({"argv": ["sleep", "1000"]}))
    h.check(status == 201, f"submit: {status} {j}")
    task = j["ids"][0]
    for _ in range(CONNECTIONS + 10):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET /v1/tasks/{task}/wait?timeout=600s HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.002)
        s.close()  # the client gives up at once
    wait_served(base, "256 abandoned long polls", 30)
    h.curl("DELETE", f"{base}/v1/tasks/{task}")


STEPS = {"stalled_body": step_stalled_body, "abandoned_wait": step_abandoned_wait}


def main():
    names = sys.argv[1:] or list(STEPS)
    root = tempfile.mkdtemp(prefix="braid-http-abuse-")
    daemons = []
    try:
        for name in names:
            STEPS[name](root, daemons)
            print(f"ok: {name}")
    finally:
        for d in daemons:
            try:
                d.stop()
            except SystemExit:
                pass
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
