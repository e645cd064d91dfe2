#!/usr/bin/env python3
"""A real Prometheus scrapes a real 3-node braid cluster (issue 12 §7).

Starts three braidd on loopback (gossip, migration, a cluster secret, each with
`--metrics 127.0.0.1:<free port>`), and a real Prometheus whose configuration is
deploy/prometheus/prometheus.yml with test-sized intervals, its file-based
discovery pointed at a temp dir filled as the Ansible role fills
/etc/prometheus/braid.d/, and the same alert rules. Runs a workload on one node
(short tasks that migrate, pinned tasks that fail, a cancel), then asks
Prometheus' HTTP API that
  - every target is up, with its `node` label;
  - every series of docs/metrics.md exists on every node with every label value;
  - the values agree with what was done and with what `braid` reports;
  - every alert rule evaluates cleanly and none fires;
  - every query of deploy/grafana/braid.json returns data over the run;
  - a node killed with SIGKILL makes BraidNodeDown pending for it.
Environment: BRAID_BIN_DIR (braidd, braid), BRAID_SOURCE_DIR, BRAID_PROMETHEUS.
Stdlib only. Everything it starts is stopped at the end, whatever happens.
"""
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

BIN = os.environ.get("BRAID_BIN_DIR", "build/bin")
SRC = os.environ.get("BRAID_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PROMETHEUS = os.environ.get("BRAID_PROMETHEUS", "prometheus")
NODES = ["n0", "n1", "n2"]
SLOTS = 2
SHORT_TASKS = 60  # `sleep`s submitted to n0 at once: more than its slots, so some migrate
FAILING_TASKS = 5  # pinned to n0, exit 3
T0 = time.monotonic()


def log(msg):
    print("[%5.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def eventually(ready, timeout_s, interval_s=0.1, what="condition"):
    """Polls ready() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        try:
            last = ready()
            if last:
                return last
        except (Failure, OSError, ValueError, KeyError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise Failure("%s: not within %ss (last: %r)" % (what, timeout_s, last))
        time.sleep(interval_s)  # polling with a deadline


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, root, name, metrics_port):
        self.name = name
        self.dir = os.path.join(root, name)
        self.socket = os.path.join(self.dir, "braidd.sock")
        self.metrics_port = metrics_port
        self.proc = None

    def start(self, secret_file, join, extra):
        argv = [os.path.join(BIN, "braidd"), "--name", self.name, "--data-dir", self.dir,
                "--listen", "127.0.0.1:0", "--gossip-profile", "fast", "--migrate",
                "--cluster-secret-file", secret_file, "--slots", str(SLOTS), "--io-aware", "off",
                "--metrics", "127.0.0.1:%d" % self.metrics_port, "--http", "off",
                "--log-level", "info"]
        for seed in join:
            argv += ["--join", seed]
        argv += extra
        self.stderr = open(os.path.join(os.path.dirname(self.dir), self.name + ".stderr"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.stderr,
                                     stderr=self.stderr)

    def log_tail(self):
        with open(self.stderr.name, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def cli(self, *args, ok=True):
        r = subprocess.run([os.path.join(BIN, "braid"), "--socket", self.socket, *args],
                           capture_output=True, text=True, timeout=60)
        if ok and r.returncode != 0:
            raise Failure("%s: braid %s exited %d: %s" % (self.name, " ".join(args),
                                                          r.returncode, r.stderr.strip()))
        return r

    def json(self, *args):
        return json.loads(self.cli(*args).stdout)

    def wait_up(self):
        def up():
            if self.proc.poll() is not None:
                raise SystemExit("braidd %s exited %d:\n%s" % (self.name, self.proc.returncode,
                                                               self.log_tail()))
            return os.path.exists(self.socket) and self.cli("stats", ok=False).returncode == 0
        eventually(up, 30, 0.05, "braidd %s answering" % self.name)

    def address(self):
        for m in self.json("peers", "--json"):
            if m["self"]:
                return m["address"]
        raise Failure("%s: no self in peers" % self.name)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Prometheus:
    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.sd_dir = os.path.join(root, "braid.d")
        os.mkdir(self.sd_dir)
        self.proc = None

    def write_config(self):
        """deploy/prometheus/prometheus.yml, with test intervals and temp paths."""
        with open(os.path.join(SRC, "deploy", "prometheus", "prometheus.yml")) as f:
            text = f.read()

        def sub(pattern, repl):
            nonlocal text
            text, n = re.subn(pattern, repl, text, flags=re.M)
            check(n == 1, "prometheus.yml: expected one match of %r, found %d" % (pattern, n))

        sub(r"^(\s*scrape_interval:) 15s$", r"\1 1s")
        sub(r"^(\s*evaluation_interval:) 15s$", r"\1 1s")
        sub(r"^(\s*scrape_timeout:) \S+$", r"\1 1s")
        sub(r"^(\s*refresh_interval:) \S+$", r"\1 1s")
        sub(r"/etc/prometheus/braid\.d/\*\.json", os.path.join(self.sd_dir, "*.json"))
        sub(r"^(\s*- )braid\.rules\.yml$",
            r"\g<1>" + os.path.join(SRC, "deploy", "prometheus", "braid.rules.yml"))
        self.config = os.path.join(self.root, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(text)

    def write_targets(self, nodes):
        """What the Ansible role writes: one entry per node, its name as label."""
        entries = [{"targets": ["127.0.0.1:%d" % n.metrics_port], "labels": {"node": n.name}}
                   for n in nodes]
        tmp = os.path.join(self.root, "braid.json.tmp")
        with open(tmp, "w") as f:
            json.dump(entries, f)
        os.rename(tmp, os.path.join(self.sd_dir, "braid.json"))  # atomic, as file_sd wants

    def start(self):
        self.stderr = open(os.path.join(self.root, "prometheus.stderr"), "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.config,
             "--storage.tsdb.path=" + os.path.join(self.root, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)

        def ready():
            if self.proc.poll() is not None:
                with open(self.stderr.name) as f:
                    raise SystemExit("prometheus exited %d:\n%s" % (self.proc.returncode,
                                                                    f.read()[-3000:]))
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, ConnectionError):
                return False
        eventually(ready, 30, 0.1, "prometheus ready")

    def api(self, path, **params):
        url = self.url + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            raise Failure("%s: HTTP %d: %s" % (path, e.code, e.read()[:500]))
        check(body.get("status") == "success", "%s: %r" % (path, body))
        return body["data"]

    def query(self, expr):
        """Instant query: {frozenset(labels without __name__): value}."""
        data = self.api("query", query=expr)
        check(data["resultType"] == "vector", "%s: %s" % (expr, data["resultType"]))
        out = {}
        for s in data["result"]:
            labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
            out[frozenset(labels.items())] = float(s["value"][1])
        return out

    def per_node(self, expr):
        """node -> value of a query whose series each carry one `node`."""
        out = {}
        for labels, v in self.query(expr).items():
            node = dict(labels).get("node")
            check(node not in out, "%s: two series for node %s" % (expr, node))
            out[node] = v
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------
# docs/metrics.md: the contract


def contract():
    """[(name, type, {label: [values]})] from the table of docs/metrics.md."""
    with open(os.path.join(SRC, "docs", "metrics.md")) as f:
        text = f.read()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`braid_"):
            continue
        names = re.findall(r"`(braid_[a-z0-9_]+)`", cells[0])
        labels = {}
        for part in cells[2].split(";"):
            m = re.match(r"\s*`([a-z_]+)` = (.+)", part)
            if m:
                labels[m.group(1)] = [v.strip() for v in m.group(2).split(",")]
        for name in names:
            rows.append((name, cells[1], labels))
    check(len(rows) >= 30, "docs/metrics.md: only %d metrics parsed" % len(rows))
    return rows


def check_contract(prom):
    """Every series of docs/metrics.md on every node, with every label value."""
    missing = []
    for name, kind, labels in contract():
        series = name + "_count" if kind == "histogram" else name
        got = prom.query('%s{job="braid"}' % series)
        for node in NODES:
            mine = [dict(l) for l in got if dict(l).get("node") == node]
            if not mine:
                missing.append("%s on %s" % (series, node))
                continue
            for label, values in labels.items():
                have = {l.get(label) for l in mine}
                for v in values:
                    if v not in have:
                        missing.append('%s{%s="%s"} on %s' % (series, label, v, node))
        if kind == "histogram":
            for node in NODES:
                inf = prom.query('%s_bucket{job="braid", node="%s", le="+Inf"}' % (name, node))
                if not inf:
                    missing.append('%s_bucket{le="+Inf"} on %s' % (name, node))
    check(not missing, "series of docs/metrics.md missing: " + ", ".join(missing))


# ---------------------------------------------------------------------------
# the workload


def run_workload(nodes):
    n0 = nodes[0]
    # A task that is running when it is cancelled.
    victim = n0.json("submit", "--json", "--pin", "--name", "victim", "--", "sleep", "60")["id"]
    eventually(lambda: n0.json("show", victim, "--json")["state"] == "running", 10, 0.05,
               "%s running" % victim)
    n0.cli("cancel", victim)
    eventually(lambda: n0.json("show", victim, "--json")["state"] == "cancelled", 20, 0.05,
               "%s cancelled" % victim)
    short = n0.json("submit", "--json", "--array", str(SHORT_TASKS), "--name", "short-{}",
                    "--", "sleep", "0.4")["ids"]
    check(len(short) == SHORT_TASKS, "submitted %d short tasks" % len(short))
    failing = n0.json("submit", "--json", "--array", str(FAILING_TASKS), "--pin", "--name",
                      "failing-{}", "--", "sh", "-c", "exit 3")["ids"]
    check(len(failing) == FAILING_TASKS, "submitted %d failing tasks" % len(failing))
    return 1 + SHORT_TASKS + FAILING_TASKS


def cluster_tasks(nodes):
    """Every task once, by the node that holds it (braid ps --cluster --all)."""
    return nodes[0].json("ps", "--cluster", "--all", "--json")


def all_ended(nodes, total):
    tasks = cluster_tasks(nodes)
    ended = [t for t in tasks if t["state"] in ("completed", "failed", "cancelled")]
    return len(ended) == total and len(tasks) == total and tasks


# ---------------------------------------------------------------------------
# the checks


def check_targets(prom):
    active = prom.api("targets", state="active")["activeTargets"]
    braid = [t for t in active if t["labels"].get("job") == "braid"]
    check(sorted(t["labels"].get("node") for t in braid) == NODES,
          "targets: %r" % [t["labels"] for t in braid])
    for t in braid:
        check(t["health"] == "up", "target %s: %s %s" % (t["labels"]["node"], t["health"],
                                                        t.get("lastError")))
    check(prom.per_node('up{job="braid"}') == {n: 1.0 for n in NODES}, "up != 1 on a node")


def check_values(prom, nodes, total):
    def expect(expr, want, what=None):
        got = prom.per_node(expr)
        check(got == want, "%s: got %r, want %r" % (what or expr, got, want))
        return got

    def each(value):
        return {n: float(value) for n in NODES}

    tasks = cluster_tasks(nodes)
    log("tasks ended by node: %s" % {n: sum(1 for t in tasks if t["node"] == n) for n in NODES})
    # Submissions: all on n0.
    expect('braid_tasks_submitted_total{job="braid"}', {"n0": total, "n1": 0.0, "n2": 0.0})
    # The pinned ones ended on n0, and only there.
    expect('braid_tasks_completed_total{job="braid", outcome="failed"}',
           {"n0": FAILING_TASKS, "n1": 0.0, "n2": 0.0})
    expect('braid_tasks_completed_total{job="braid", outcome="cancelled"}',
           {"n0": 1.0, "n1": 0.0, "n2": 0.0})
    expect('braid_tasks_cancelled_total{job="braid"}', {"n0": 1.0, "n1": 0.0, "n2": 0.0})
    # Each short task succeeded once, on the node that ran it.
    ran_on = {n: float(sum(1 for t in tasks if t["node"] == n and t["state"] == "completed"))
              for n in NODES}
    check(sum(ran_on.values()) == SHORT_TASKS, "completed tasks by node: %r" % ran_on)
    # (counted by the node that ran it, not again at its origin: docs/metrics.md)
    expect('braid_tasks_completed_total{job="braid", outcome="succeeded"}', ran_on)
    log("succeeded by node: %s, as braid ps --cluster has them" % ran_on)
    # The gauge by state agrees with each node's own `braid ps --all`.
    for node in nodes:
        rows = node.json("ps", "--all", "--json")
        counts = {}
        for t in rows:
            counts[t["state"]] = counts.get(t["state"], 0) + 1
        got = {dict(l)["state"]: v for l, v in
               prom.query('braid_tasks{job="braid", node="%s"}' % node.name).items()}
        for state, v in got.items():
            check(v == counts.get(state, 0), "%s: braid_tasks{state=%s} = %g, braid ps --all: %d"
                  % (node.name, state, v, counts.get(state, 0)))
    # No retries, so every task started exactly one attempt, on one node.
    attempts = prom.query('sum(braid_tasks_scheduled_total{job="braid"})')
    check(list(attempts.values()) == [float(total)], "attempts started: %r" % attempts)
    waits = prom.query('sum(braid_queue_wait_seconds_count{job="braid"})')
    check(list(waits.values()) == [float(total)], "queue waits observed: %r" % waits)
    switches = prom.query('sum(braid_context_switches_total{job="braid"})')
    check(list(switches.values())[0] >= total, "context switches: %r" % switches)
    # Migration: some moved, and every move out is a move in elsewhere.
    ins = prom.per_node('braid_migrations_in_total{job="braid"}')
    outs = prom.per_node('braid_migrations_out_total{job="braid"}')
    log("migrations in %s out %s" % (ins, outs))
    check(sum(outs.values()) > 0, "no task migrated: %r" % outs)
    check(sum(ins.values()) == sum(outs.values()), "migrations in %r != out %r" % (ins, outs))
    moved = sum(1 for t in tasks if t.get("adopted_from"))
    check(sum(ins.values()) >= moved, "%d adopted tasks, %r migrations in" % (moved, ins))
    expect('braid_handoffs_unresolved{job="braid"}', each(0))
    expect('braid_handoffs_held{job="braid"}', each(0))
    expect('braid_tasks_run_twice_total{job="braid"}', each(0))
    # Nothing left running; slots as configured.
    expect('braid_slots{job="braid"}', each(SLOTS))
    expect('braid_slots_busy{job="braid"}', each(0))
    expect('braid_tasks{job="braid", state="running"}', each(0))
    # Gossip: everyone alive everywhere, probes answered, messages both ways.
    expect('braid_gossip_members{job="braid", state="alive"}', each(3))
    expect('sum by (node) (braid_gossip_members{job="braid", state!="alive"})', each(0))
    for expr in ['braid_gossip_probe_rtt_seconds_count{job="braid"}',
                 'braid_gossip_messages_sent_total{job="braid"}',
                 'braid_gossip_messages_received_total{job="braid"}',
                 'braid_gossip_bytes_sent_total{job="braid"}',
                 'braid_gossip_bytes_received_total{job="braid"}',
                 'braid_schedule_decision_seconds_count{job="braid"}',
                 'braid_process_cpu_seconds_total{job="braid"}',
                 'braid_uptime_seconds{job="braid"}']:
        got = prom.per_node(expr)
        check(sorted(got) == NODES and all(v > 0 for v in got.values()), "%s: %r" % (expr, got))
    bytes_sent = prom.per_node('braid_gossip_bytes_sent_total{job="braid"}')
    msgs_sent = prom.per_node('braid_gossip_messages_sent_total{job="braid"}')
    check(all(bytes_sent[n] >= msgs_sent[n] for n in NODES), "gossip bytes < messages")
    # n0 stored submissions and their ends durably.
    for expr in ['braid_store_write_seconds_count{job="braid", node="n0"}',
                 'braid_store_sync_seconds_count{job="braid", node="n0"}']:
        got = prom.per_node(expr)
        check(got.get("n0", 0) > 0, "%s: %r" % (expr, got))
    # n0 preempts (RoundRobin, more started than slots): slice errors observed.
    check(prom.per_node('braid_preemptions_total{job="braid"}')["n0"] > 0, "no preemption on n0")
    check(prom.per_node('braid_time_slice_error_seconds_count{job="braid"}')["n0"] > 0,
          "no slice error observed on n0")
    # Policy and the rest of the node's state.
    expect('braid_policy{job="braid"} == 1',
           {"n0": 1.0, "n1": 1.0, "n2": 1.0}, "one current policy per node")
    policies = {dict(l)["node"]: dict(l)["policy"] for l in prom.query('braid_policy == 1')}
    check(policies == {"n0": "RoundRobin", "n1": "Fair", "n2": "Fair"}, "policies %r" % policies)
    check(prom.per_node('braid_policy_seconds_total{policy="RoundRobin"}')["n0"] > 0,
          "no RoundRobin time on n0")
    expect('braid_quantum_seconds{job="braid"}', each(0.01))
    expect('sum by (node) (braid_executor_mode{job="braid"})', each(1))
    expect('braid_draining{job="braid"}', each(0))
    rss = prom.per_node('braid_process_resident_memory_bytes{job="braid"}')
    check(all(1 << 20 < v < 4 << 30 for v in rss.values()) and len(rss) == 3, "RSS %r" % rss)
    # And against `braid stats` of each node.
    for node in nodes:
        s = node.json("stats", "--json")
        for metric, field in [("braid_tasks_scheduled_total", "total_scheduled"),
                              ("braid_context_switches_total", "context_switches"),
                              ("braid_preemptions_total", "preemptions")]:
            got = prom.per_node('%s{node="%s"}' % (metric, node.name))[node.name]
            check(got == s[field], "%s: %s = %g, braid stats %s = %r"
                  % (node.name, metric, got, field, s[field]))


def check_rules(prom):
    groups = prom.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    check(len(rules) >= 4, "rules loaded: %d" % len(rules))
    for r in rules:
        check(r.get("health") == "ok", "rule %s: %s %s" % (r["name"], r.get("health"),
                                                          r.get("lastError")))
    firing = [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]
    check(not firing, "alerts firing: %r" % firing)
    log("%d rules evaluate cleanly, none fires" % len(rules))


def dashboard_queries():
    """[(panel title, refId, expr, instant)] of deploy/grafana/braid.json."""
    with open(os.path.join(SRC, "deploy", "grafana", "braid.json")) as f:
        dash = json.load(f)

    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    out = []
    for p in walk(dash["panels"]):
        for t in p.get("targets", []):
            out.append((p["title"], t["refId"], t["expr"], bool(t.get("instant"))))
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check("datasource" in variables and "node" in variables, "dashboard variables")
    return out, variables["node"]


def substitute(expr, node, range_s):
    expr = expr.replace("$__rate_interval", "5s").replace("$__interval", "1s")
    expr = expr.replace("$__range", "%ds" % range_s).replace("${node}", node)
    expr = expr.replace("$node", node)
    check("$" not in expr, "unsubstituted variable in %s" % expr)
    return expr


def check_dashboard_names():
    """Every metric a dashboard query names is in docs/metrics.md (or is `up`)."""
    known = set()
    for name, kind, _ in contract():
        known |= {name + s for s in ("_bucket", "_count", "_sum")} if kind == "histogram" \
            else {name}
    queries, node_var = dashboard_queries()
    unknown = set()
    for _, _, expr, _ in queries + [("", "", node_var["definition"], False)]:
        unknown |= set(re.findall(r"\bbraid_[a-z0-9_]+", expr)) - known
    check(not unknown, "dashboard names metrics not in docs/metrics.md: %s" % sorted(unknown))


def check_dashboard(prom, start):
    check_dashboard_names()
    queries, node_var = dashboard_queries()
    # The node variable: label_values(METRIC, node) lists the three nodes.
    m = re.fullmatch(r"label_values\((.+), *node\)", node_var["definition"])
    check(m is not None, "node variable: %s" % node_var["definition"])
    values = prom.api("label/node/values", **{"match[]": m.group(1)})
    check(sorted(values) == NODES, "node variable values %r" % values)
    end = time.time()
    range_s = int(end - start) + 1
    empty = []
    # All nodes, and n0 alone, where every kind of event happened: a value
    # (not NaN) somewhere in the run. n1 alone (it adopted tasks, never
    # preempted): series, though a quantile of a histogram without
    # observations in range is NaN, as Grafana shows it.
    for node, values_required in [(".*", True), ("n0", True), ("n1", False)]:
        for title, ref, expr, instant in queries:
            e = substitute(expr, node, range_s)
            if instant:
                values = list(prom.query(e).values())
            else:
                data = prom.api("query_range", query=e, start="%.3f" % start, end="%.3f" % end,
                                step="1")
                values = [float(v) for s in data["result"] for _, v in s["values"]]
            ok = any(not math.isnan(v) for v in values) if values_required else bool(values)
            if not ok:
                empty.append("%s [%s] node=%s: %s" % (title, ref, node, e))
    check(not empty, "dashboard queries without data:\n  " + "\n  ".join(empty))
    log("%d dashboard queries x 3 node selections return data" % len(queries))


def check_node_down(prom, nodes):
    """A crashed node: its scrape fails and BraidNodeDown becomes pending for it
    (it fires after 2 minutes, as braid.rules.test.yml checks); its peers'
    gossip stops counting it alive."""
    victim = nodes[2]
    victim.proc.kill()
    victim.proc.wait()

    def pending():
        alerts = prom.api("alerts")["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == "BraidNodeDown" and
                a["labels"].get("node") == victim.name and a["state"] == "pending"]
    eventually(pending, 15, 0.2, "BraidNodeDown pending for %s" % victim.name)
    eventually(lambda: prom.per_node('braid_gossip_members{job="braid", state="alive"}') ==
               {"n0": 2.0, "n1": 2.0}, 20, 0.2, "n0 and n1 count 2 alive")
    log("%s killed: BraidNodeDown pending, its peers count 2 alive" % victim.name)


def main():
    root = tempfile.mkdtemp(prefix="braid-prom-", dir="/tmp")  # short: socket paths
    nodes = [Node(root, n, free_port()) for n in NODES]
    prom = Prometheus(root)
    ok = False
    try:
        secret = os.path.join(root, "cluster.secret")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
        # n0 preempts: RoundRobin with more started tasks than slots.
        nodes[0].start(secret, [], ["--policy", "RoundRobin", "--started-max", "4"])
        nodes[0].wait_up()
        seed = nodes[0].address()
        for n in nodes[1:]:
            n.start(secret, [seed], [])
        for n in nodes[1:]:
            n.wait_up()

        def converged():
            return all(sorted((m["name"], m["state"]) for m in n.json("peers", "--json")) ==
                       [(x, "alive") for x in NODES] for n in nodes)
        eventually(converged, 20, 0.1, "3 nodes alive everywhere")
        log("cluster up")
        prom.write_config()
        prom.write_targets(nodes)
        prom.start()
        log("prometheus up on %s" % prom.url)
        eventually(lambda: check_targets(prom) or True, 20, 0.2, "3 targets up")
        # The series exist at zero before anything happened.
        check_contract(prom)
        log("every series of docs/metrics.md is there before the workload")
        start = time.time() - 2
        total = run_workload(nodes)
        log("submitted %d tasks to n0" % total)
        eventually(lambda: all_ended(nodes, total), 40, 0.25, "all %d tasks ended" % total)
        log("all tasks ended")
        # Outcomes of moved tasks are back at their origin: nothing changes any more.
        eventually(lambda: all((n.json("stats", "--json")["migration"] or {}).get("outcomes_owed")
                               == 0 for n in nodes), 15, 0.1, "outcomes delivered")
        # Prometheus has scraped the final state once every node reports what
        # `braid stats` reports now (and handoffs have resolved).
        want = {n.name: float(n.json("stats", "--json")["total_scheduled"]) for n in nodes}
        eventually(lambda: prom.per_node('braid_tasks_scheduled_total{job="braid"}') == want and
                   sum(prom.per_node('braid_handoffs_held{job="braid"}').values()) == 0 and
                   sum(prom.per_node('braid_handoffs_unresolved{job="braid"}').values()) == 0,
                   15, 0.2, "final state scraped")
        ended_at = time.time()
        eventually(lambda: all(v > ended_at + 1 for v in
                               prom.query('timestamp(up{job="braid"})').values()),
                   10, 0.2, "two more scrapes of every node")
        check_targets(prom)
        check_contract(prom)
        check_values(prom, nodes, total)
        log("values agree with the workload and braid stats")
        check_rules(prom)
        check_dashboard(prom, start)
        check_node_down(prom, nodes)
        ok = True
    except Failure as e:
        print("FAILED: %s" % e, file=sys.stderr)
    finally:
        prom.stop()
        for n in nodes:
            n.stop()
        if not ok:
            for n in nodes:
                if n.proc is not None:
                    print("--- %s stderr (tail)\n%s" % (n.name, n.log_tail()), file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
    log("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
