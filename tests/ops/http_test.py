#!/usr/bin/env python3
"""The HTTP/JSON API (docs/api.md) against real braidd processes, with real curl.

Every endpoint, including bad input: bad JSON, an invalid policy, unknown
tasks, wrong methods, an oversized body, a missing or wrong token on a
non-loopback API, and the startup rules of --http. Each braidd runs on free
loopback ports in its own temp data dir; every wait is a poll with a deadline.

Environment: BRAID_BIN_DIR (braidd). Exit 0 when every check passed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("BRAID_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
BRAIDD = os.path.join(BIN, "braidd")
CHECKS = 0


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    global CHECKS
    CHECKS += 1
    if not condition:
        fail(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(method, url, body=None, headers=(), data_file=None):
    """Runs curl; returns (status, parsed JSON or text, response headers dict)."""
    cmd = ["curl", "-sS", "-X", method, "--max-time", "20", "-D", "-", "-o", "-", url]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", body]
    if data_file is not None:
        cmd += ["--data-binary", "@" + data_file]
    out = subprocess.run(cmd, capture_output=True, timeout=30)
    if out.returncode != 0:
        fail(f"curl {method} {url}: exit {out.returncode}: {out.stderr.decode().strip()}")
    raw = out.stdout.decode("utf-8", "replace")
    # Skip interim responses (100 Continue) to the final head.
    head, _, payload = raw.partition("\r\n\r\n")
    while head.split(" ")[1].startswith("1") and payload.startswith("HTTP/"):
        head, _, payload = payload.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    if hdrs.get("content-type", "").startswith("application/json"):
        try:
            return status, json.loads(payload), hdrs
        except json.JSONDecodeError:
            fail(f"{method} {url}: not JSON: {payload[:200]!r}")
    return status, payload, hdrs


def poll(what, condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    fail(f"timed out waiting for {what}")


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Braidd:
    def __init__(self, root, name, args):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "braidd.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BRAIDD, "--name", name, "--data-dir", os.path.join(self.dir, "d"), "--listen", "off"]
            + args,
            stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self, timeout_s=10.0):
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"braidd {self.dir} did not exit; log:\n{self.text()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.wait_exit()
        self.log.close()


def main():
    if shutil.which("curl") is None:
        fail("curl is not installed (deploy/install-deps.sh)")
    root = tempfile.mkdtemp(prefix="braid-http-")
    daemons = []
    try:
        run(root, daemons)
    finally:
        for d in daemons:
            try:
                d.stop()
            except SystemExit:
                pass
        if os.environ.get("BRAID_KEEP_TMP"):
            print("kept " + root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"ok: {CHECKS} checks")


def run(root, daemons):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # One strict slot (sleepers do not lend it: --io-aware off), two started
    # tasks at most, a long quantum: schedule-next has a task to switch to.
    a = Braidd(root, "h1", ["--http", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{port}",
                            "--slots", "1", "--started-max", "2", "--policy", "RoundRobin",
                            "--quantum", "1s", "--io-aware", "off"])
    daemons.append(a)
    poll("the API of h1", lambda: port_answers(port) or a.proc.poll() is not None)
    check(a.proc.poll() is None, "h1 exited at start:\n" + a.text())

    # --- the original API's three endpoints ---
    status, j, _ = curl("GET", base + "/kernel/scheduler/stats")
    check(status == 200 and j["success"] is True, f"stats: {status} {j}")
    # The original API's shapes, keys in its order (json.loads keeps the order).
    check(list(j) == ["success", "stats"] and
          list(j["stats"]) == ["total_scheduled", "context_switches", "preemptions",
                               "active_processes", "policy", "quantum_micros"],
          f"stats fields and their order: {j}")
    check(j["stats"]["policy"] == "RoundRobin" and j["stats"]["quantum_micros"] == 1000000,
          f"stats values: {j}")

    status, j, _ = curl("PUT", base + "/kernel/scheduler/policy", '{"policy": "Priority"}')
    check(status == 200 and list(j) == ["success", "policy", "message"]
          and j["success"] is True and j["policy"] == "Priority"
          and isinstance(j["message"], str), f"set policy: {status} {j}")
    status, j, _ = curl("GET", base + "/kernel/scheduler/stats")
    check(j["stats"]["policy"] == "Priority", f"policy not applied: {j}")
    status, j, _ = curl("PUT", base + "/kernel/scheduler/policy", '{"policy": "Lottery"}')
    check(status == 400 and j == {"success": False,
                                  "error": "Invalid policy. Must be RoundRobin, Priority, or Fair"},
          f"invalid policy: {status} {j}")
    status, j, _ = curl("PUT", base + "/kernel/scheduler/policy", '{"policy": ')
    check(status == 400 and j["success"] is False and j["error"].startswith("bad JSON: ")
          and "\n" not in j["error"], f"bad JSON: {status} {j}")
    status, j, hdrs = curl("GET", base + "/kernel/scheduler/policy")
    check(status == 405 and hdrs.get("allow") == "PUT" and j["success"] is False,
          f"GET policy: {status} {j} {hdrs}")
    curl("PUT", base + "/kernel/scheduler/policy", '{"policy": "RoundRobin"}')

    status, j, _ = curl("POST", base + "/kernel/schedule-next")
    check(status == 200 and j == {"success": True, "next_pid": None,
                                  "message": "No processes available to schedule"}
          and list(j) == ["success", "next_pid", "message"],
          f"schedule-next, nothing queued: {status} {j}")

    # --- /v1 tasks: submit, wait, logs, show ---
    spec = {"argv": ["sh", "-c", "echo hello; echo oops >&2"], "name": "greet",
            "separate_stderr": True}
    status, j, _ = curl("POST", base + "/v1/tasks", json.dumps(spec))
    check(status == 201 and j["success"] is True and len(j["ids"]) == 1, f"submit: {status} {j}")
    greet = j["ids"][0]
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}/wait?timeout=15s")
    check(status == 200 and j["timed_out"] is False and j["task"]["state"] == "completed"
          and j["task"]["exit_code"] == 0, f"wait greet: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}/logs")
    check(status == 200 and j["data"] == "hello\n" and j["offset"] == 0
          and j["next_offset"] == 6, f"logs: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}/logs?offset=6&max_bytes=100")
    check(status == 200 and j["data"] == "" and j["finished"] is True, f"logs at end: {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}/logs?stream=stderr&max_bytes=2")
    check(status == 200 and j["data"] == "oo" and j["next_offset"] == 2, f"stderr: {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}/logs?stream=both")
    check(status == 400 and "stdout or stderr" in j["error"], f"bad stream: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{greet}")
    check(status == 200 and j["task"]["id"] == greet and j["task"]["name"] == "greet",
          f"show: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/h1:999999")
    check(status == 404 and j["success"] is False and "unknown task" in j["error"],
          f"unknown task: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/h1:999999/logs")
    check(status == 404, f"logs of an unknown task: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/not%20an%20id")
    check(status == 400 and j["success"] is False, f"bad id: {status} {j}")

    # Bad submissions: JSON, spec fields, the body's shape.
    for body, says in [('{"argv": ["a"', "bad JSON"),
                       ('{"argv": ["true"], "priority": 11}', "priority"),
                       ('{"argv": ["true"], "prio": 1}', 'unknown field "prio"'),
                       ('[{"argv": ["true"]}, {"cmd": 5}]', "task 2: "),
                       ('"a string"', "task spec"),
                       ("[]", "no tasks")]:
        status, j, _ = curl("POST", base + "/v1/tasks", body)
        check(status == 400 and j["success"] is False and says in j["error"],
              f"bad submit {body}: {status} {j}")

    # Two sleepers on one slot: schedule-next switches to the other one.
    body = json.dumps({"tasks": [{"argv": ["sleep", "60"], "name": "slp-1"},
                                 {"argv": ["sleep", "60"], "name": "slp-2"}]})
    status, j, _ = curl("POST", base + "/v1/tasks", body)
    check(status == 201 and len(j["ids"]) == 2, f"submit two: {status} {j}")
    s1, s2 = j["ids"]

    poll("the first sleeper running",
         lambda: curl("GET", f"{base}/v1/tasks/{s1}")[1]["task"]["state"] == "running")
    status, j, _ = curl("POST", base + "/kernel/schedule-next")
    check(status == 200 and isinstance(j["next_pid"], int) and j["next_pid"] > 0,
          f"schedule-next: {status} {j}")
    pids = {curl("GET", f"{base}/v1/tasks/{i}")[1]["task"]["pid"] for i in (s1, s2)}
    check(j["next_pid"] in pids, f"next_pid {j['next_pid']} is not a sleeper's pid {pids}")

    # Lists: filters and pages.
    status, j, _ = curl("GET", base + "/v1/tasks")
    ids = [t["id"] for t in j["tasks"]]
    check(status == 200 and s1 in ids and s2 in ids and greet not in ids and j["next"] is None,
          f"list: {status} {ids}")
    status, j, _ = curl("GET", base + "/v1/tasks?all=true")
    check(greet in [t["id"] for t in j["tasks"]], f"list all: {j}")
    status, j, _ = curl("GET", base + "/v1/tasks?state=completed")
    check([t["id"] for t in j["tasks"]] == [greet], f"list completed: {j}")
    status, j, _ = curl("GET", base + "/v1/tasks?name=slp-*&limit=1")
    check(status == 200 and [t["id"] for t in j["tasks"]] == [s1] and j["next"] is not None,
          f"first page: {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks?name=slp-*&limit=1&after={j['next']}")
    check(status == 200 and [t["id"] for t in j["tasks"]] == [s2], f"second page: {j}")
    for query in ["state=sleepy", "limit=0", "after=x", "all=maybe", "color=red"]:
        status, j, _ = curl("GET", base + "/v1/tasks?" + query)
        check(status == 400 and j["success"] is False, f"list ?{query}: {status} {j}")

    # Wait (long poll) that times out, then cancels both ways.
    started = time.monotonic()
    status, j, _ = curl("GET", f"{base}/v1/tasks/{s1}/wait?timeout=300ms")
    check(status == 200 and j["timed_out"] is True and j["task"]["id"] == s1
          and time.monotonic() - started >= 0.3, f"wait timeout: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/{s1}/wait?timeout=2h")
    check(status == 400, f"wait timeout too long: {status} {j}")
    status, j, _ = curl("GET", f"{base}/v1/tasks/h1:999999/wait?timeout=1s")
    check(status == 404, f"wait unknown: {status} {j}")
    status, j, _ = curl("POST", f"{base}/v1/tasks/{s1}/cancel")
    check(status == 200 and j["success"] is True, f"cancel: {status} {j}")
    status, j, _ = curl("DELETE", f"{base}/v1/tasks/{s2}")
    check(status == 200 and j["success"] is True, f"DELETE: {status} {j}")
    for i in (s1, s2):
        status, j, _ = curl("GET", f"{base}/v1/tasks/{i}/wait?timeout=15s")
        check(status == 200 and j["task"]["state"] == "cancelled", f"cancelled {i}: {j}")
    status, j, _ = curl("POST", f"{base}/v1/tasks/h1:999999/cancel")
    check(status == 404, f"cancel unknown: {status} {j}")

    # Stats, peers, drain.
    status, j, _ = curl("GET", base + "/v1/stats")
    check(status == 200 and j["stats"]["node"] == "h1" and j["stats"]["slots"] == 1,
          f"v1 stats: {status} {j}")
    status, j, _ = curl("GET", base + "/v1/peers")
    check(status == 200 and j["peers"] == [] and j["listen"] is None, f"peers: {status} {j}")
    status, j, _ = curl("GET", base + "/v1/drain")
    check(status == 200 and j["drain"]["draining"] is False, f"drain query: {status} {j}")
    status, j, _ = curl("POST", base + "/v1/drain")
    check(status == 200 and j["drain"]["draining"] is True, f"drain start: {status} {j}")
    status, j, _ = curl("POST", base + "/v1/tasks", '{"argv": ["true"]}')
    check(status == 400 and j["success"] is False, f"submit while draining: {status} {j}")
    status, j, _ = curl("DELETE", base + "/v1/drain")
    check(status == 200 and j["drain"]["draining"] is False, f"drain cancel: {status} {j}")

    # /metrics on the same listener.
    status, text, hdrs = curl("GET", base + "/metrics")
    check(status == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4")
          and len(text) > 0, f"metrics: {status} {hdrs}")

    # Paths, methods, sizes.
    status, j, _ = curl("GET", base + "/v2/nothing")
    check(status == 404 and j["success"] is False, f"unknown path: {status} {j}")
    status, j, hdrs = curl("DELETE", base + "/v1/stats")
    check(status == 405 and hdrs.get("allow") == "GET", f"wrong method: {status} {hdrs}")
    big = os.path.join(root, "big.json")
    with open(big, "wb") as f:
        f.write(b" " * (9 << 20))
    status, j, _ = curl("POST", base + "/v1/tasks", data_file=big)
    check(status == 413 and j["success"] is False, f"9 MiB body: {status} {j}")
    status, j, _ = curl("POST", base + "/v1/tasks", data_file=big,
                        headers=["Transfer-Encoding: chunked"])
    check(status == 413 and j["success"] is False, f"9 MiB chunked body: {status} {j}")
    deep = os.path.join(root, "deep.json")
    with open(deep, "w") as f:
        f.write('{"argv": ' + "[" * 1000000 + "]" * 1000000 + "}")
    status, j, _ = curl("POST", base + "/v1/tasks", data_file=deep)
    check(status == 400 and "nested deeper" in j["error"], f"deep JSON: {status} {j}")
    # Garbage that is not HTTP: the connection is refused, braidd goes on.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        reply = s.recv(4096)
    check(reply.startswith(b"HTTP/1.1 4") or reply.startswith(b"HTTP/1.1 5"),
          f"garbage: {reply[:60]!r}")
    status, j, _ = curl("GET", base + "/kernel/scheduler/stats")
    check(status == 200 and a.proc.poll() is None, "h1 did not survive the bad input")

    # --- an explicit address that is taken: a clear startup error ---
    taken = Braidd(root, "h2", ["--http", f"127.0.0.1:{port}"])
    daemons.append(taken)
    code = taken.wait_exit()
    check(code != 0 and f"--http: cannot listen on 127.0.0.1:{port}" in taken.text(),
          f"taken --http: exit {code}:\n{taken.text()}")

    # --- the default address taken: one warning, braidd runs without the API ---
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 8000))
        holder.listen(1)
    except OSError:
        pass  # taken by someone else: just as good
    try:
        d = Braidd(root, "h3", [])
        daemons.append(d)
        poll("the default --http warning",
             lambda: "this node runs without the HTTP API" in d.text() or d.proc.poll() is not None)
        check(d.proc.poll() is None, "h3 exited with the default --http taken:\n" + d.text())
        warnings = [line for line in d.text().splitlines() if "without the HTTP API" in line]
        check(len(warnings) == 1 and " warning " in warnings[0], f"one warning line: {warnings}")
        d.stop()
    finally:
        holder.close()

    # --- non-loopback API: the token guards mutating requests ---
    no_token = Braidd(root, "h4", ["--http", f"0.0.0.0:{free_port()}"])
    daemons.append(no_token)
    code = no_token.wait_exit()
    check(code == 2 and "needs --api-token-file" in no_token.text(),
          f"non-loopback without a token: exit {code}:\n{no_token.text()}")
    token_file = os.path.join(root, "token")
    with open(token_file, "w") as f:
        f.write("test-token-0123456789abcdef\n")
    os.chmod(token_file, 0o600)
    p5, m5 = free_port(), free_port()
    guarded = Braidd(root, "h5", ["--http", f"0.0.0.0:{p5}", "--api-token-file", token_file,
                                  "--metrics", f"127.0.0.1:{m5}"])
    daemons.append(guarded)
    poll("the API of h5", lambda: (port_answers(p5) and port_answers(m5))
         or guarded.proc.poll() is not None)
    check(guarded.proc.poll() is None, "h5 exited at start:\n" + guarded.text())
    b5 = f"http://127.0.0.1:{p5}"
    status, j, _ = curl("GET", b5 + "/kernel/scheduler/stats")
    check(status == 200, f"reads need no token: {status} {j}")
    status, j, hdrs = curl("PUT", b5 + "/kernel/scheduler/policy", '{"policy": "Fair"}')
    check(status == 401 and j["success"] is False and hdrs.get("www-authenticate") == "Bearer",
          f"no token: {status} {j}")
    status, j, _ = curl("POST", b5 + "/v1/tasks", '{"argv": ["true"]}',
                        headers=["Authorization: Bearer wrong-token"])
    check(status == 401, f"wrong token: {status} {j}")
    status, j, _ = curl("PUT", b5 + "/kernel/scheduler/policy", '{"policy": "Fair"}',
                        headers=["Authorization: Bearer test-token-0123456789abcdef"])
    check(status == 200 and j["policy"] == "Fair", f"right token: {status} {j}")
    status, j, _ = curl("GET", b5 + "/metrics")
    check(status == 404, f"/metrics is not on the API listener here: {status}")
    status, text, hdrs = curl("GET", f"http://127.0.0.1:{m5}/metrics")
    check(status == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
          f"separate metrics listener: {status} {hdrs}")
    status, j, _ = curl("GET", f"http://127.0.0.1:{m5}/kernel/scheduler/stats")
    check(status == 404, f"the metrics listener serves only /metrics: {status} {j}")
    guarded.stop()
    a.stop()
    check(a.proc.returncode == 0, f"h1 stopped with {a.proc.returncode}")


if __name__ == "__main__":
    main()
