#!/usr/bin/env python3
"""The Ansible deployment, tested with the real tools (issue 12, section 7).

1. `ansible-playbook --syntax-check` of every play, and `ansible-lint` when it is
   installed: both clean.
2. site.yml against three inventory hosts on this machine (connection local,
   a prefix and ports per host, braid_service_mode process, the binaries of
   $BRAID_BIN_DIR): `braid peers` must show 3 alive; the cluster secret file
   is 0600; the Prometheus targets file lists the three metrics addresses.
3. rolling-upgrade.yml while a client keeps submitting `sleep 1` tasks to
   whichever node takes them: afterwards every task completed exactly once
   (`braid wait` at its origin, and each one's marker line written once),
   every node was restarted (new incarnation) and `braid peers` shows 3 alive.
4. The cluster secret rotation of docs/operations.md: site.yml writes a new
   secret without restarting, a rolling restart picks it up, and every node
   sees 3 alive again.

Needs no network and no sudo. Every braidd it starts is stopped at the end.
Exit 0 pass, 1 fail, 77 skip (ansible-playbook missing).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
NODES = ["node1", "node2", "node3"]
TASKS = 30


def log(message):
    print(f"[ansible_test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message):
    log("FAIL: " + message)
    raise SystemExit(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what, deadline_s, probe, interval_s=0.2):
    """probe() until it returns a true value; fail naming `what` at the deadline."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    fail(f"{what}: not within {deadline_s}s (last: {last!r})")


class Cluster:
    def __init__(self, root, bin_dir):
        self.root = root
        self.bin_dir = bin_dir
        self.braid = os.path.join(bin_dir, "braid")

    def prefix(self, node):
        return os.path.join(self.root, node)

    def socket(self, node):
        return os.path.join(self.prefix(node), "run/braid/braidd.sock")

    def cli(self, node, *args, timeout=60):
        return subprocess.run(
            [self.braid, "--socket", self.socket(node), "--answer-timeout", "5s", *args],
            capture_output=True, text=True, timeout=timeout)

    def peers(self, node):
        r = self.cli(node, "peers", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def stats(self, node):
        r = self.cli(node, "stats", "--json")
        if r.returncode != 0:
            fail(f"stats on {node}: exit {r.returncode}: {r.stderr}")
        return json.loads(r.stdout)

    def alive(self, node):
        rows = self.peers(node) or []
        return {row["name"]: row["incarnation"] for row in rows if row["state"] == "alive"}

    def pidfile(self, node):
        return os.path.join(self.prefix(node), "run/braid/braidd.pid")

    def pid(self, node):
        with open(self.pidfile(node)) as f:
            return int(f.read().strip())

    def stop_all(self):
        """Stops every braidd this test started: braidd-service, then SIGKILL by pid."""
        for node in NODES:
            service = os.path.join(self.prefix(node), "usr/local/bin/braidd-service")
            if os.path.exists(service):
                subprocess.run([service, "stop"], capture_output=True, timeout=60)
            try:
                with open(self.pidfile(node)) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def run(cmd, env, what, timeout=300):
    started = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - started
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-6000:])
        sys.stdout.write(r.stderr[-3000:])
        fail(f"{what}: exit {r.returncode}")
    log(f"{what}: ok in {took:.1f}s")
    return r


def write_inventory(path, cluster, peer_ports, metrics_ports, bin_dir):
    hosts = {}
    for node, peer_port, metrics_port in zip(NODES, peer_ports, metrics_ports):
        hosts[node] = {
            "braid_prefix": cluster.prefix(node),
            "braid_listen": f"127.0.0.1:{peer_port}",
            "braid_metrics": f"127.0.0.1:{metrics_port}",
        }
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
            },
            "children": {
                "braid": {
                    "vars": {
                        "braid_service_mode": "process",
                        "braid_install_deps": False,
                        "braid_build_dir": bin_dir,
                        "braid_cluster_secret_store": os.path.join(cluster.root, "secret-store"),
                        "braid_slots": 2,
                        "braid_kill_grace": "2s",
                        "braid_labels": {"zone": "test"},
                        # Strict slots: sleeping tasks do not lend theirs, so
                        # the tasks are still running when the upgrade starts.
                        "braid_config_extra": {"io_aware": "off"},
                    },
                    "hosts": hosts,
                },
                "prometheus": {
                    "hosts": {
                        "monitor": {
                            "braid_prometheus_sd_dir": os.path.join(cluster.root, "prometheus"),
                            "braid_prometheus_become": False,
                        }
                    }
                },
            },
        }
    }
    with open(path, "w") as f:
        json.dump(inventory, f, indent=2)  # JSON is YAML


class Submitter(threading.Thread):
    """A client that keeps submitting `sleep 1` tasks, each to the next node
    that takes it (a draining node refuses, exit 2; a restarting one does not
    answer, exit 3). Each task appends its marker to one file before sleeping."""

    def __init__(self, cluster, marks, count, burst, interval_s):
        super().__init__(daemon=True)
        self.cluster, self.marks, self.count = cluster, marks, count
        self.burst, self.interval_s = burst, interval_s
        self.ids = {}  # marker -> task id
        self.refusals = 0
        self.error = None

    def submit_one(self, k):
        script = 'echo "$0" >> "$1"; sleep 1'
        for attempt in range(300):
            node = NODES[(k + attempt) % len(NODES)]
            r = self.cluster.cli(node, "submit", "--name", f"upgrade-{k}", "--json", "--",
                                 "sh", "-c", script, f"mark-{k}", self.marks)
            if r.returncode == 0:
                self.ids[k] = json.loads(r.stdout)["id"]
                return
            self.refusals += 1
            time.sleep(0.1)
        self.error = f"task {k}: no node took it"

    def run(self):
        for k in range(self.count):
            self.submit_one(k)
            if self.error:
                return
            if k >= self.burst:
                time.sleep(self.interval_s)


def directives(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def check_systemd_unit(playbook, env, root, ansible_dir, source, bin_dir):
    """The role's unit, rendered with its defaults, has the directives of
    deploy/systemd/braidd.service, and `systemd-analyze verify` accepts it
    (with ExecStart pointing at the built braidd: verify wants it to exist)."""
    rendered = os.path.join(root, "braidd.service")
    play = os.path.join(root, "render-unit.yml")
    with open(play, "w") as f:
        json.dump([{
            "name": "Render the unit", "hosts": "localhost", "gather_facts": False,
            "tasks": [
                {"name": "Role defaults", "ansible.builtin.include_role": {
                    "name": os.path.join(ansible_dir, "roles/braid"), "tasks_from": "facts.yml",
                    "public": True}},
                {"name": "Unit", "ansible.builtin.template": {
                    "src": os.path.join(ansible_dir, "roles/braid/templates/braidd.service.j2"),
                    "dest": rendered, "mode": "0644"}},
            ]}], f)
    run([playbook, "-i", "localhost,", "-c", "local", play], env, "render braidd.service.j2")
    with open(rendered) as f:
        unit = f.read()
    with open(os.path.join(source, "deploy/systemd/braidd.service")) as f:
        static = f.read()
    if directives(unit) != directives(static):
        fail(f"the role's unit and deploy/systemd/braidd.service differ:\n{directives(unit)}\n"
             f"{directives(static)}")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        log("systemd-analyze is not installed: unit not verified")
        return
    unit = unit.replace("ExecStart=/usr/local/bin/braidd", f"ExecStart={bin_dir}/braidd")
    with open(rendered, "w") as f:
        f.write(unit)
    r = subprocess.run([analyze, "verify", rendered], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        fail(f"systemd-analyze verify: exit {r.returncode}: {r.stdout}{r.stderr}")
    log("braidd.service: the role's and deploy/systemd's agree; systemd-analyze verify: clean")


def main():
    playbook = shutil.which("ansible-playbook")
    if playbook is None:
        log("SKIP: ansible-playbook is not installed (deploy/install-deps.sh installs it)")
        return SKIP
    source = os.environ.get("BRAID_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
    bin_dir = os.environ.get("BRAID_BIN_DIR", os.path.join(source, "build/bin"))
    ansible_dir = os.path.join(source, "deploy/ansible")
    for binary in ("braidd", "braid"):
        if not os.access(os.path.join(bin_dir, binary), os.X_OK):
            fail(f"{bin_dir}/{binary} is missing: build it, or set BRAID_BIN_DIR")

    started = time.monotonic()
    root = tempfile.mkdtemp(prefix="braid-ansible-")
    cluster = Cluster(root, bin_dir)
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ansible_dir, "ansible.cfg"),
        "ANSIBLE_HOME": os.path.join(root, "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": os.path.join(root, "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(root, "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    })
    try:
        # 1. Syntax and lint.
        plays = [os.path.join(ansible_dir, p) for p in ("site.yml", "rolling-upgrade.yml")]
        for play in plays:
            run([playbook, "--syntax-check", "-i", os.path.join(ansible_dir, "inventory.example.yml"),
                 play], env, f"syntax-check {os.path.basename(play)}")
        lint = shutil.which("ansible-lint")
        if lint:
            lint_env = dict(env, HOME=os.path.join(root, "lint-home"))
            r = subprocess.run([lint, "--offline", "-p", "site.yml", "rolling-upgrade.yml",
                                "roles/braid"], cwd=ansible_dir, env=lint_env,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                sys.stdout.write(r.stdout + r.stderr)
                fail(f"ansible-lint: exit {r.returncode}")
            log("ansible-lint: clean")
        else:
            log("ansible-lint is not installed: lint step skipped")

        check_systemd_unit(playbook, env, root, ansible_dir, source, bin_dir)

        # 2. Deploy three nodes on this machine.
        peer_ports = [free_port() for _ in NODES]
        metrics_ports = [free_port() for _ in NODES]
        inventory = os.path.join(root, "inventory.yml")
        write_inventory(inventory, cluster, peer_ports, metrics_ports, bin_dir)
        deploy_started = time.monotonic()
        run([playbook, "-i", inventory, os.path.join(ansible_dir, "site.yml")], env, "site.yml")
        poll("3 nodes alive in node1's peers", 30, lambda: len(cluster.alive("node1")) == 3)
        log(f"3 alive {time.monotonic() - deploy_started:.1f}s after site.yml began")
        for node in NODES:
            secret = os.path.join(cluster.prefix(node), "etc/braid/cluster.secret")
            mode = os.stat(secret).st_mode & 0o777
            if mode != 0o600:
                fail(f"{secret}: mode {mode:o}, want 600")
        with open(os.path.join(root, "prometheus/braid.json")) as f:
            targets = json.load(f)
        want = [{"targets": [f"127.0.0.1:{port}"], "labels": {"node": node}}
                for node, port in zip(NODES, metrics_ports)]
        if targets != want:
            fail(f"prometheus targets: {targets}, want {want}")
        # A second run changes nothing and restarts nothing.
        before = cluster.alive("node1")
        r = run([playbook, "-i", inventory, os.path.join(ansible_dir, "site.yml")], env,
                "site.yml again")
        changed = [int(n) for n in re.findall(r"changed=(\d+)", r.stdout)]
        if len(changed) != len(NODES) + 1 or any(changed) or cluster.alive("node1") != before:
            sys.stdout.write(r.stdout[-3000:])
            fail("a second site.yml run changed something")

        # 3. The rolling upgrade while tasks are submitted and running.
        marks = os.path.join(root, "marks")
        incarnations = cluster.alive("node1")
        pids = {node: cluster.pid(node) for node in NODES}
        # A burst (queued work for the first drain to hand over), then a
        # steady trickle while the nodes restart one by one.
        burst = 12
        submitter = Submitter(cluster, marks, TASKS, burst=burst, interval_s=1.0)
        submitter.start()
        poll("the first tasks submitted", 30, lambda: len(submitter.ids) >= burst)
        unfinished = sum(cluster.stats(node)["tasks"]["queued"] +
                         cluster.stats(node)["tasks"]["running"] for node in NODES)
        if unfinished == 0:
            fail("no task is queued or running as the upgrade starts")
        upgrade_started = time.monotonic()
        run([playbook, "-i", inventory, os.path.join(ansible_dir, "rolling-upgrade.yml")], env,
            "rolling-upgrade.yml")
        upgrade_s = time.monotonic() - upgrade_started
        submitter.join(timeout=120)
        if submitter.error:
            fail(submitter.error)
        if len(submitter.ids) != TASKS:
            fail(f"submitted {len(submitter.ids)} of {TASKS}")
        log(f"{unfinished} tasks queued or running as the upgrade began; "
            f"{TASKS} tasks submitted ({submitter.refusals} refusals while nodes drained or "
            f"restarted); the upgrade took {upgrade_s:.1f}s")

        by_origin = {}
        for task_id in submitter.ids.values():
            by_origin.setdefault(task_id.split(":")[0], []).append(task_id)
        moved = 0
        for origin, ids in sorted(by_origin.items()):
            r = cluster.cli(origin, "wait", "--timeout", "90s", "--json", *ids, timeout=120)
            if r.returncode != 0:
                fail(f"wait at {origin} for {ids}: exit {r.returncode}: {r.stdout[-2000:]} {r.stderr}")
            r = cluster.cli(origin, "show", "--json", *ids)
            shown = json.loads(r.stdout)
            shown = shown if isinstance(shown, list) else [shown]
            for task in shown:
                if task["state"] != "completed":
                    fail(f"{task['id']}: {task['state']} ({task['reason']})")
                moved += task["moved_to"] is not None
        with open(marks) as f:
            lines = f.read().split()
        for k in range(TASKS):
            if lines.count(f"mark-{k}") != 1:
                fail(f"task mark-{k} ran {lines.count(f'mark-{k}')} times, want exactly once")
        if len(lines) != TASKS:
            fail(f"{len(lines)} marker lines for {TASKS} tasks")
        log(f"every task completed exactly once ({moved} of them ran on another node than "
            f"their origin)")

        after = poll("3 nodes alive again", 30,
                     lambda: (lambda a: a if len(a) == 3 else None)(cluster.alive("node1")))
        for node in NODES:
            if after[node] <= incarnations[node] or cluster.pid(node) == pids[node]:
                fail(f"{node} was not restarted (incarnation {after[node]}, "
                     f"pid {cluster.pid(node)})")
        log(f"3 alive again, each restarted once: {incarnations} -> {after}")

        # 4. Rotate the cluster secret as docs/operations.md says: new secret
        # everywhere without a restart, then a rolling restart whose witness
        # is each node itself (peers with the old secret cannot see it).
        store = os.path.join(root, "secret-store")
        new_secret = "rotated" + os.urandom(16).hex()
        with open(store, "w") as f:
            f.write(new_secret + "\n")
        run([playbook, "-i", inventory, os.path.join(ansible_dir, "site.yml"),
             "-e", "braid_restart_on_change=false"], env, "site.yml with a new secret, no restart")
        if cluster.alive("node1") != after:
            fail("writing the new secret restarted a node")
        rotate_started = time.monotonic()
        run([playbook, "-i", inventory, os.path.join(ansible_dir, "rolling-upgrade.yml"),
             "-e", "braid_upgrade_witness={{ inventory_hostname }}"], env,
            "rolling restart onto the new secret")
        for node in NODES:
            with open(os.path.join(cluster.prefix(node), "etc/braid/cluster.secret")) as f:
                if f.read().strip() != new_secret:
                    fail(f"{node} did not get the new secret")
        for node in NODES:
            poll(f"3 alive in {node}'s peers after the rotation", 60,
                 lambda node=node: len(cluster.alive(node)) == 3)
        log(f"secret rotated: 3 alive everywhere {time.monotonic() - rotate_started:.1f}s after "
            f"the rolling restart began")
        log(f"PASS in {time.monotonic() - started:.1f}s")
        return 0
    finally:
        cluster.stop_all()
        leftovers = []
        for node in NODES:
            try:
                with open(cluster.pidfile(node)) as f:
                    leftovers.append(f.read().strip())
            except OSError:
                pass
        if leftovers:
            log(f"pid files left: {leftovers}")
        if os.environ.get("BRAID_KEEP_TEMP"):
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
