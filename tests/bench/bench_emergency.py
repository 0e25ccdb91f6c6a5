#!/usr/bin/python3
"""bench_emergency.py: issue 5's benchmark: how fast an operator's emergency
command reaches every peer, beside Serf's user-event propagation.

For each N it starts N staggerd peers on 127.0.0.1 (ports --port-base+i,
default 17700..17955; CURVE, a freshly signed roster, the operator's default
tuning), waits until every peer has heard every other, then sends --commands
commands (halt and resume alternating) with `staggerctl emergency`, each to
a different peer (1, 4, 7, ... mod N, as Serf's script rotates its sender):

  t0       just before staggerctl is started (so the CLI's start-up, key
           loading, CURVE handshake and local checks are included);
  t_recv   the receiving peer's own `[cmd] applied operator command #SEQ`
           log line (UTC ms), which separates the CLI's cost;
  arrival  each peer's `[cmd] applied operator command #SEQ` line.

Per command: "last" = the last peer's arrival - t0, "flood" = the last
arrival - t_recv. It prints median, p99 and max over the commands, and
how many did not reach every peer within --deadline-s.

Then (unless --no-serf), after every staggerd has stopped, it runs
../shared/bench/serf/serf_bench.sh N lan for the same N (one at a time,
never beside staggerd; --idle 0 --no-fail: only the user-event phases) and
prints Serf's user-event t100 (handler and RPC stream) beside ours, with
the ratio. Every process started here is tracked by PID and stopped (TERM,
at most 5 s, then KILL) on exit, error or signal; every wait has a
deadline. Stdlib only.

usage: /usr/bin/python3 tests/bench/bench_emergency.py --build BUILD_DIR
           [--n 8 32 64] [--commands 20] [--no-serf] [--out DIR] [--check]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# ---------------------------------------------------------------- processes
# Processes: spawn/stop/run, tracked by PID and stopped on exit (benchproc.py).
from benchproc import (add_pace_args, forget, make_roster, pace, parse_tuning,  # noqa: E402
                       run, spawn, stop)
from benchlog import LogFollower, pctl  # noqa: E402


# ---------------------------------------------------------------- figures
def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"n": len(xs), "p50": round(statistics.median(xs), 1), "p99": round(pctl(xs, 99), 1),
            "max": round(max(xs), 1), "min": round(min(xs), 1)}


# ---------------------------------------------------------------- logs
APPLIED = re.compile(r"^applied operator command #(\d+) ")
GOSSIP = re.compile(r"^(\S+): ")


class PeerLog(LogFollower):
    """Follows one daemon's log file: command applications and gossip heard."""

    def __init__(self, path):
        super().__init__(path)
        self.applied = {}   # seq -> [ms, ...] (more than one would be a bug)
        self.heard = set()  # members whose record it logged

    def line(self, ms, level, tag, msg, raw):
        if tag == "cmd":
            a = APPLIED.match(msg)
            if a:
                self.applied.setdefault(int(a.group(1)), []).append(ms)
        elif tag == "gossip":
            g = GOSSIP.match(msg)
            if g:
                self.heard.add(g.group(1))


HOOK = """#!/bin/sh
# bench health hook: healthy, on a fixed version
echo "version=bench.0"
"""


def name_of(i):
    return "n%02d" % i


class Fleet:
    def __init__(self, a, n, dirn):
        self.a, self.n, self.dir = a, n, dirn
        self.keys = os.path.join(dirn, "keys")
        self.roster = os.path.join(self.keys, "roster.signed")
        self.procs, self.logs = [], []

    def setup(self):
        make_roster(self.a.staggerctl, self.keys, [name_of(i) for i in range(self.n)],
                    self.a.port_base)
        hook = os.path.join(self.dir, "health.sh")
        with open(hook, "w") as f:
            f.write(HOOK)
        os.chmod(hook, 0o755)
        for i in range(self.n):
            d = os.path.join(self.dir, name_of(i))
            os.makedirs(os.path.join(d, "state"), mode=0o700, exist_ok=True)
            cfg = {"key": os.path.join(self.keys, name_of(i) + ".key"), "roster": self.roster,
                   "state_dir": os.path.join(d, "state"), "hooks": {"health": hook},
                   "log_level": "info",
                   # No metrics endpoint: the default would give 127.0.0.1:9479
                   # to the first peer and a warning to every other.
                   "metrics": ""}
            if self.a.tuning:
                cfg["tuning"] = self.a.tuning
            with open(os.path.join(d, "staggerd.json"), "w") as f:
                json.dump(cfg, f, indent=1)

    def start(self):
        for i in range(self.n):
            pace(i, getattr(self.a, "launch_batch", 0), getattr(self.a, "launch_gap_s", 0))
            d = os.path.join(self.dir, name_of(i))
            log = open(os.path.join(d, "staggerd.log"), "wb")
            p = spawn([self.a.staggerd, "--config", os.path.join(d, "staggerd.json")],
                      "staggerd " + name_of(i), stdout=log, stderr=log)
            log.close()
            self.procs.append(p)
            self.logs.append(PeerLog(os.path.join(d, "staggerd.log")))

    def poll(self):
        for lg in self.logs:
            lg.poll()

    def converge(self, timeout):
        """Until every peer logged a record of every other peer."""
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            self.poll()
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a staggerd exited during start-up; see %s" % self.dir)
            if all(len(lg.heard - {name_of(i)}) >= self.n - 1 for i, lg in enumerate(self.logs)):
                return round(time.monotonic() - t0, 1)
            time.sleep(0.2)
        return None

    def stop(self):
        stop(self.procs)


# ---------------------------------------------------------------- stagger
def bench_stagger(a, n, base):
    fl = Fleet(a, n, os.path.join(base, "stagger-%d" % n))
    fl.setup()
    fl.start()
    res = {"n": n, "commands": []}
    try:
        conv = fl.converge(a.converge_s)
        if conv is None:
            raise RuntimeError("N=%d: peers did not hear each other within %d s; see %s"
                               % (n, a.converge_s, fl.dir))
        res["converge_s"] = conv
        time.sleep(a.settle_s)  # the start-up churn (suspicions, refutations) settles
        for k in range(a.commands):
            action = "halt" if k % 2 == 0 else "resume"
            to = (1 + 3 * k) % n
            argv = [a.staggerctl, "emergency", action, "--key",
                    os.path.join(fl.keys, "operator.key"), "--roster", fl.roster, "--peer",
                    name_of(to), "--reason", "bench %d" % k]
            t0 = time.time_ns() / 1e6
            rc, out, err = run(argv, timeout=30)
            t_cli = time.time_ns() / 1e6 - t0
            m = re.search(r"command (\d+) applied by", out)
            if rc or not m:
                res["commands"].append({"k": k, "error": (out + err).strip()[-300:]})
                continue
            seq = int(m.group(1))
            deadline = time.monotonic() + a.deadline_s
            while time.monotonic() < deadline:
                fl.poll()
                if all(seq in lg.applied for lg in fl.logs):
                    break
                time.sleep(0.02)
            fl.poll()
            arr = {name_of(i): lg.applied[seq][0] for i, lg in enumerate(fl.logs)
                   if seq in lg.applied}
            twice = [name_of(i) for i, lg in enumerate(fl.logs) if len(lg.applied.get(seq, [])) > 1]
            t_recv = arr.get(name_of(to))
            rec = {"k": k, "seq": seq, "action": action, "to": name_of(to),
                   "reached": len(arr), "cli_ms": round(t_cli, 1), "twice": twice}
            if len(arr) == n:
                rec["last_ms"] = round(max(arr.values()) - t0, 1)
                rec["flood_ms"] = max(arr.values()) - t_recv if t_recv is not None else None
                rec["recv_ms"] = round(t_recv - t0, 1) if t_recv is not None else None
                # Every peer's arrival after the receiving peer's, sorted: the
                # flood's shape (its hops, its tail) for a reader of summary.json.
                if t_recv is not None:
                    rec["arrivals_ms"] = sorted(round(t - t_recv, 1) for t in arr.values())
            res["commands"].append(rec)
            time.sleep(a.gap_s)
    finally:
        fl.stop()
    cmds = res["commands"]
    res["last_ms"] = stats([c.get("last_ms") for c in cmds])
    res["flood_ms"] = stats([c.get("flood_ms") for c in cmds])
    res["recv_ms"] = stats([c.get("recv_ms") for c in cmds])
    res["incomplete"] = sum(1 for c in cmds if c.get("reached") != n)
    res["applied_twice"] = sum(len(c.get("twice", [])) for c in cmds)
    return res


# ---------------------------------------------------------------- serf
def bench_serf(a, n, base):
    out_dir = os.path.join(base, "serf-%d" % n)
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SERF_BENCH_RESULTS=os.path.join(out_dir, "results"))
    argv = ["bash", a.serf_script, str(n), "lan", "--idle", "0", "--no-fail",
            "--out", os.path.join(out_dir, "runs"), "--results", os.path.join(out_dir, "results")]
    with open(os.path.join(out_dir, "serf_bench.out"), "wb") as logf:
        p = spawn(argv, "serf_bench.sh", group=True, stdout=logf, stderr=subprocess.STDOUT,
                  env=env)
        try:
            p.wait(timeout=a.serf_timeout_s)
        except subprocess.TimeoutExpired:
            stop([p])
            return {"error": "serf_bench.sh timed out after %d s" % a.serf_timeout_s}
    forget(p)
    with open(os.path.join(out_dir, "serf_bench.out"), errors="replace") as f:
        for line in f:
            if line.startswith("{") and '"bench": "serf"' in line:
                s = json.loads(line)
                return {"handler_t100": s.get("event_handler") and s["event_handler"]["t100_ms"],
                        "stream_t100": s.get("event_stream") and s["event_stream"]["t100_ms"],
                        "handler_full": s.get("event_handler") and
                        s["event_handler"].get("events_fully_delivered"),
                        "events": s.get("event_handler") and s["event_handler"].get("events")}
    return {"error": "no JSON line from serf_bench.sh (exit %s); see %s/serf_bench.out"
            % (p.returncode, out_dir)}


def ensure_serf():
    if shutil.which("serf"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        run(["apt-get", "install", "-y", "-q", "serf"], timeout=300)
    return bool(shutil.which("serf"))


# ---------------------------------------------------------------- report
def fmt(x):
    return "-" if x is None else ("%.1f" % x)


def table(results):
    lines = ["Emergency command propagation (staggerctl -> last peer applied), ms",
             "%-4s %-10s %-22s %-22s %-18s %-10s %-24s %-24s %-8s" % (
                 "N", "commands", "last: p50 / p99 / max", "flood: p50 / p99 / max",
                 "CLI->recv p50", "incomplete", "serf handler t100 p50/max",
                 "serf stream t100 p50/max", "ratio")]
    for r in results:
        st, sf = r["stagger"], r.get("serf") or {}
        la, flo, rv = st["last_ms"] or {}, st["flood_ms"] or {}, st["recv_ms"] or {}
        h, s = sf.get("handler_t100") or {}, sf.get("stream_t100") or {}
        ratio = "-"
        if la.get("p50") and s.get("p50"):
            ratio = "%.3f" % (la["p50"] / s["p50"])
        lines.append("%-4d %-10s %-22s %-22s %-18s %-10s %-24s %-24s %-8s" % (
            st["n"], "%d" % len(st["commands"]),
            "%s / %s / %s" % (fmt(la.get("p50")), fmt(la.get("p99")), fmt(la.get("max"))),
            "%s / %s / %s" % (fmt(flo.get("p50")), fmt(flo.get("p99")), fmt(flo.get("max"))),
            fmt(rv.get("p50")), "%d" % st["incomplete"],
            "%s / %s" % (fmt(h.get("p50")), fmt(h.get("max"))) if h else sf.get("error", "-")[:24],
            "%s / %s" % (fmt(s.get("p50")), fmt(s.get("max"))) if s else "-", ratio))
    lines.append("ratio: stagger last p50 / serf stream t100 p50 (lower is faster)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--n", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--commands", type=int, default=20)
    ap.add_argument("--gap-s", type=float, default=0.3)
    ap.add_argument("--deadline-s", type=float, default=5.0)
    ap.add_argument("--converge-s", type=int, default=120)
    ap.add_argument("--settle-s", type=float, default=3.0)
    ap.add_argument("--port-base", type=int, default=17700)
    add_pace_args(ap)
    ap.add_argument("--tuning", action="append", metavar="KEY=MS",
                    help="tuning for every peer, as bench_gossip.py's (default: none, "
                         "the operator's defaults)")
    ap.add_argument("--no-serf", action="store_true")
    ap.add_argument("--serf-script", default=os.path.join(os.path.dirname(ROOT), "shared",
                                                          "bench", "serf", "serf_bench.sh"))
    ap.add_argument("--serf-timeout-s", type=int, default=900)
    ap.add_argument("--out", default=None)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every command reached every peer exactly once")
    a = ap.parse_args()
    a.tuning = parse_tuning(a.tuning)
    a.build = os.path.abspath(a.build)
    a.staggerd = os.path.join(a.build, "node", "shell", "staggerd")
    a.staggerctl = os.path.join(a.build, "node", "ctl", "staggerctl")
    if max(a.n) > 256 or min(a.n) < 3:
        raise SystemExit("bench: N must be 3..256 (a roster's most; ports %d..%d)"
                         % (a.port_base, a.port_base + 255))
    base = a.out or tempfile.mkdtemp(prefix="stagger-bench-emergency-")
    if os.path.exists(base):
        shutil.rmtree(base)
    os.makedirs(base)
    if not a.no_serf and not ensure_serf():
        raise SystemExit("bench: serf not installed (apt-get install -y serf) or use --no-serf")
    results = []
    for n in a.n:
        print("bench: N=%d stagger" % n, flush=True)
        r = {"stagger": bench_stagger(a, n, base)}
        print("bench: N=%d last-applied %s, incomplete %d" % (n, r["stagger"]["last_ms"],
                                                              r["stagger"]["incomplete"]),
              flush=True)
        if not a.no_serf:
            print("bench: N=%d serf (serf_bench.sh %d lan)" % (n, n), flush=True)
            r["serf"] = bench_serf(a, n, base)
        results.append(r)
        with open(os.path.join(base, "summary.json"), "w") as f:
            json.dump(results, f, indent=1)
    print(table(results))
    print("details: %s/summary.json" % base)
    if a.check:
        bad = [(r["stagger"]["n"], r["stagger"]["incomplete"], r["stagger"]["applied_twice"])
               for r in results
               if r["stagger"]["incomplete"] or r["stagger"]["applied_twice"] or
               len(r["stagger"]["commands"]) != a.commands]
        if bad:
            print("bench: FAILED (N, incomplete, applied twice): %r" % bad)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
