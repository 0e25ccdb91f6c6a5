#!/usr/bin/python3
"""demo.py: a stake pool of 8 staggerd peers on loopback rolling out a release.

Shaped like a real pool: 1 block producer, 1 standby producer, 4 relays and
2 dark relays, in debian and nix flavours, each managing a stand-in service
whose version and health the hooks in this folder control. Time is
compressed (soak 8 s, 25 s epochs) so the rollout takes about two minutes.

    demo.py BUILD_DIR [--fail] [--plain]

--fail makes the first node's install fail: watch it roll back and the
fleet halt. --plain prints one line per change instead of redrawing (the
default when stdout is not a terminal). Ctrl-C stops every process started.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODES = [  # name, role, flavour
    ("relay1", "relay", "debian"), ("relay2", "relay", "nix"),
    ("relay3", "relay", "debian"), ("relay4", "relay", "nix"),
    ("dark1", "dark-relay", "debian"), ("dark2", "dark-relay", "nix"),
    ("bp", "producer", "debian"), ("standby", "standby", "nix"),
]
OLD, NEW = "10.5.1", "10.5.3"
SOAK_S, EPOCH_S = 8, 25
PHASE_ORDER = ["idle", "elected", "installing", "verifying", "soaking", "done",
               "failed", "rolling-back", "rolled-back"]
COLOR = {"healthy": "32", "unhealthy": "31", "unknown": "33", "done": "32",
         "soaking": "36", "installing": "35", "verifying": "35", "elected": "35",
         "failed": "31", "rolling-back": "31", "rolled-back": "33"}

procs = []


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + 5
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Demo:
    def __init__(self, build, fail, plain):
        build = os.path.abspath(build)
        self.ctl = os.path.join(build, "node/ctl/staggerctl")
        self.daemon = os.path.join(build, "node/shell/staggerd")
        self.fail, self.plain = fail, plain
        self.dir = tempfile.mkdtemp(prefix="stagger-demo-")
        atexit.register(shutil.rmtree, self.dir, True)
        self.t0 = time.time()
        self.timeline = []      # (seconds, text)
        self.last_phase = {}
        self.last_epoch = None
        self.holdback = ["standby", "dark1"]  # the roster's default: standby + first dark relay

    def run(self, *args, check=True):
        r = subprocess.run([self.ctl, *args], cwd=self.dir, capture_output=True, text=True)
        if check and r.returncode != 0:
            sys.exit(f"demo: staggerctl {' '.join(args)} failed:\n{r.stderr}")
        return r

    def setup(self):
        self.run("keygen", "operator")
        ports = free_ports(len(NODES))
        members = []
        for (name, role, flavour), port in zip(NODES, ports):
            self.run("keygen", name)
            key = open(os.path.join(self.dir, name + ".pub")).read().strip()
            members.append({"name": name, "key": key, "role": role, "flavour": flavour,
                            "endpoint": f"tcp://127.0.0.1:{port}"})
        self.epoch_start = int(time.time()) - 1
        roster = {
            "fleet": "demo-pool", "serial": 1,
            "operators": [open(os.path.join(self.dir, "operator.pub")).read().strip()],
            "members": members,
            "policy": {"batch": 1, "soak_s": SOAK_S, "unavailable_max": 1,
                       "epoch": {"start_s": self.epoch_start, "length_s": EPOCH_S,
                                 "proof_epochs": 1, "guard_s": 3},
                       "timeouts": {"install_s": 30, "health_s": 5, "rollback_s": 30,
                                    "gate_s": 5},
                       "health_deadline_s": 60},
        }
        with open(os.path.join(self.dir, "roster.json"), "w") as f:
            json.dump(roster, f, indent=2)
        self.run("roster", "sign", "--key", "operator.key", "roster.json")
        for k, (name, _, _) in enumerate(NODES):
            state = os.path.join(self.dir, "state-" + name)
            svc = os.path.join(state, "service")
            os.makedirs(svc, mode=0o700)
            open(os.path.join(svc, "version"), "w").write(OLD + "\n")
            cfg = {"key": os.path.join(self.dir, name + ".key"),
                   "roster": os.path.join(self.dir, "roster.signed"),
                   "state_dir": state,
                   "hooks": {h: os.path.join(HERE, h) for h in
                             ("health", "install", "rollback", "gate")},
                   "tuning": {"health_interval_ms": 500},
                   # One Prometheus endpoint on this machine: the first
                   # node's, on the default 127.0.0.1:9479.
                   "metrics": "127.0.0.1:9479" if k == 0 else ""}
            with open(os.path.join(self.dir, name + ".json"), "w") as f:
                json.dump(cfg, f)
        first = None
        if self.fail:
            first = NODES[0][0]
        self.fail_node = first

    def start(self):
        for name, _, _ in NODES:
            log = open(os.path.join(self.dir, name + ".log"), "w")
            procs.append(subprocess.Popen([self.daemon, "--config", name + ".json"],
                                          cwd=self.dir, stdout=log, stderr=log))

    def status(self, peer=None):
        args = ["status", "--key", "operator.key", "--roster", "roster.signed", "--json",
                "--timeout-ms", "1000"]
        if peer:
            args += ["--peer", peer]
        r = self.run(*args, check=False)
        if r.returncode not in (0, 1):
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def publish(self):
        rel = {"component": "cardano-node", "version": NEW, "created_at": int(time.time()),
               "artifacts": {
                   "debian": {"url": f"https://example.org/cardano-node-{NEW}-amd64.deb",
                              "sha256": "5" * 64},
                   "nix": {"image": "ghcr.io/example/cardano-node@sha256:" + "7" * 64}}}
        with open(os.path.join(self.dir, "release.json"), "w") as f:
            json.dump(rel, f, indent=2)
        self.run("release", "sign", "--key", "operator.key", "--roster", "roster.signed",
                 "release.json")
        if self.fail_node:
            # Every node's first install attempt fails: the first elected one halts the fleet.
            for name, _, _ in NODES:
                open(os.path.join(self.dir, "state-" + name, "service", "fail-install"),
                     "w").close()
        self.run("release", "publish", "--key", "operator.key", "--roster", "roster.signed",
                 "--peer", "relay2", "release.signed")
        self.note(f"operator published cardano-node {NEW} to relay2")

    def note(self, text):
        t = time.time() - self.t0
        self.timeline.append((t, text))
        if self.plain:
            print(f"[{t:6.1f}s] {text}", flush=True)

    def epoch_info(self):
        now = time.time()
        n = int((now - self.epoch_start) // EPOCH_S)
        left = self.epoch_start + (n + 1) * EPOCH_S - now
        return n, left

    def observe(self, st):
        n, _ = self.epoch_info()
        if self.last_epoch is not None and n != self.last_epoch:
            self.note(f"epoch boundary: epoch {n} begins")
        self.last_epoch = n
        for m in st["members"]:
            key = (m["phase"], m["version"])
            if self.last_phase.get(m["name"]) != key:
                if m["name"] in self.last_phase:
                    self.note(f"{m['name']}: {m['phase']} (runs {m['version'] or '?'})")
                self.last_phase[m["name"]] = key

    def draw(self, st):
        if self.plain:
            return
        ro = st.get("rollout") or {}
        rel = ro.get("release") or {}
        n, left = self.epoch_info()
        out = ["\x1b[H\x1b[2J",
               f"\x1b[1mstagger demo\x1b[0m  fleet {st['fleet']}  "
               f"t={time.time() - self.t0:5.1f}s  epoch {n} ends in {left:4.1f}s"
               f"  (view of {st['self']})\n",
               f"release: {rel.get('component', '-')} {rel.get('version', '-')}"
               f"   pending: {ro.get('pending', '-')}   batch 1, soak {SOAK_S}s, "
               f"holdback pair ({', '.join(self.holdback)}) last, after the proof\n",
               f"\x1b[1m{ro.get('waiting', '')}\x1b[0m\n\n",
               f"  {'NODE':10} {'ROLE':11} {'FLAVOUR':8} {'VERSION':9} {'HEALTH':10} "
               f"{'PHASE':13} DETAIL\n"]
        soak = {w["name"]: w.get("soak_left_ms") for w in ro.get("wave", [])}
        for m in st["members"]:
            ph, h = m["phase"] or "idle", m["health"]
            extra = m["detail"]
            if soak.get(m["name"]) is not None:
                left_s = soak[m["name"]] / 1000
                bar = "#" * int((SOAK_S - left_s) / SOAK_S * 20)
                extra = f"soak [{bar:20}] {left_s:4.1f}s left"
            out.append(f"  {m['name']:10} {m['role']:11} {m['flavour']:8} "
                       f"{m['version'] or '-':9} \x1b[{COLOR.get(h, '0')}m{h:10}\x1b[0m "
                       f"\x1b[{COLOR.get(ph, '0')}m{ph:13}\x1b[0m {extra[:44]}\n")
        out.append("\n  recent:\n")
        for t, text in self.timeline[-8:]:
            out.append(f"   {t:6.1f}s  {text}\n")
        out.append("\n  Status page: http://127.0.0.1:9479/ (%s's view; if that port was "
                   "free)\n" % NODES[0][0])
        out.append("  Ctrl-C stops the demo and every peer.\n")
        sys.stdout.write("".join(out))
        sys.stdout.flush()

    def finished(self, st):
        ro = st.get("rollout") or {}
        if ro.get("failed"):
            return all(m["phase"] in ("idle", "rolled-back", "done") for m in st["members"]) \
                and any(m["phase"] == "rolled-back" for m in st["members"])
        return all(m["version"] == NEW and m["phase"] == "done" for m in st["members"])

    def main(self):
        self.setup()
        self.start()
        self.note("8 peers started")
        deadline = time.time() + 30
        while time.time() < deadline:
            st = self.status()
            if st and st["summary"]["healthy"] == len(NODES):
                break
            time.sleep(0.2)  # polling the fleet's status with a deadline
        else:
            sys.exit("demo: the fleet did not become healthy in 30 s; logs in " + self.dir)
        self.note("fleet healthy on " + OLD)
        self.publish()
        deadline = time.time() + 300
        peers = [n for n, _, _ in NODES]
        i = 0
        st = None
        while time.time() < deadline:
            st = self.status(peers[i % len(peers)]) or st
            i += 1
            if st:
                self.observe(st)
                self.draw(st)
                if self.finished(st):
                    break
            time.sleep(0.3)  # the live view's refresh period
        else:
            print("demo: the rollout did not finish in 5 minutes; logs in", self.dir)
        self.summary(st)

    def summary(self, st):
        print("\n\x1b[1msummary timeline\x1b[0m" if not self.plain else "\nsummary timeline")
        for t, text in self.timeline:
            if any(k in text for k in ("elected", "done", "rolled-back", "failed", "epoch",
                                       "published", "healthy on", "started")):
                print(f"  {t:6.1f}s  {text}")
        if st:
            ro = st.get("rollout") or {}
            print(f"\nfinal: {ro.get('waiting', '')}")
        print(f"(logs and keys were in {self.dir}; removed on exit)")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    demo = Demo(sys.argv[1], "--fail" in sys.argv,
                "--plain" in sys.argv or not sys.stdout.isatty())
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, lambda *_: sys.exit("\ndemo: stopped by Ctrl-C"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("\ndemo: stopped"))
    demo.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
