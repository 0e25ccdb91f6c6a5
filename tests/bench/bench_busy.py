#!/usr/bin/python3
"""bench_busy.py: issue 11's failure detector on a busy machine.

For each N it first starts one CPU burner per core (a shell busy loop at
our own priority, as STAGGER_TEST_BUSY=1 does for the test suite), then N
staggerd peers on 127.0.0.1 (ports 17400+i, the operator's defaults: no
"tuning" in the config), and measures from the daemons' own log lines:

  start     seconds until every peer's view holds every other healthy, and
            the `-> suspect` lines logged until the start-up churn is quiet;
  busy      --minutes with nobody failing: every `X: alive -> suspect` line
            is a false suspicion and every `-> dead` a false death; also the
            refutations (`refuting a suspicion about us`), the highest
            incarnation a refutation reached, and from Lifeguard's own
            lines the share of peer-time with a local health score above 0
            and how often a loop ran later than its probe timeout;
  kill      kill -9 of peer N/2, burners still running; per other peer the
            time from the kill to its first `nV: alive -> suspect|dead`
            (unknown there) and to `-> dead`; suspicions of anyone else
            meanwhile.

Then the peers stop, then the burners. Nothing here asserts on timings
(it prints figures); --check exits 1 only when the killed peer was not
unknown everywhere. Results: --out DIR (default /tmp/stagger-bench/busy-<time>),
with summary.json, table.txt and every daemon's log.

usage: /usr/bin/python3 tests/bench/bench_busy.py [--n 8 32] [--minutes 5]
           [--build build/bench] [--burners N] [--out DIR] [--check]

Every process started here is tracked by PID and stopped (TERM, at most
5 s, then KILL) on exit, error or signal (benchproc.py). Stdlib only.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchproc import spawn, stop  # noqa: E402
from bench_gossip import (PORT_BASE, PORT_LAST, ROOT, Fleet, PeerLog, _cpu_model,  # noqa: E402
                          _git_dirty, _git_rev, busy_pct, cpu_stat, kill_and_watch, loadavg,
                          name_of, parse_tuning, save_results)

REFUTE = re.compile(r"^refuting a suspicion about us: incarnation now (\d+)")
LHM = re.compile(r"^local health (\d+) -> (\d+)")
LATE = re.compile(r"^our loop ran late \((\d+) times")


class BusyLog(PeerLog):
    """PeerLog, and the lines that say how the detector coped."""

    def __init__(self, path):
        super().__init__(path)
        self.refutes = []      # (ms, incarnation)
        self.lhm = []          # (ms, new score) of each logged local health move
        self.late = []         # (ms, how many) of each rate-limited "our loop ran late"

    def line(self, ms, level, tag, msg, raw):
        super().line(ms, level, tag, msg, raw)
        if tag != "swim":
            return
        m = REFUTE.match(msg)
        if m:
            self.refutes.append((ms, int(m.group(1))))
        m = LHM.match(msg)
        if m:
            self.lhm.append((ms, int(m.group(2))))
        m = LATE.match(msg)
        if m:
            self.late.append((ms, int(m.group(1))))

    def unhealthy_ms(self, t0, t1):
        """How long in [t0, t1] its local health score was above 0 (the
        moves from and to 0 are logged at info and above)."""
        above, since, total = False, t0, 0
        for ms, v in self.lhm:
            if ms > t1:
                break
            if ms >= t0 and above:
                total += ms - max(since, t0)
            above, since = v > 0, ms
        if above:
            total += t1 - max(since, t0)
        return total


class BusyFleet(Fleet):
    def start(self):
        super().start()
        self.logs = [BusyLog(lg.path) for lg in self.logs]

    def count(self, t0, t1, what):
        """Lines of one kind between two Unix ms, over every peer."""
        n = 0
        for lg in self.logs:
            if what == "suspect":
                n += sum(1 for ms, _, fr, to in lg.swim if t0 <= ms <= t1 and fr == "alive"
                         and to == "suspect")
            elif what == "dead":
                n += sum(1 for ms, _, _, to in lg.swim if t0 <= ms <= t1 and to == "dead")
            elif what == "refute":
                n += sum(1 for ms, _ in lg.refutes if t0 <= ms <= t1)
            elif what == "late":
                n += sum(k for ms, k in lg.late if t0 <= ms <= t1)
        return n

    def unhealthy_pct(self, t0, t1):
        """Peer-time in [t0, t1] with a local health score above 0, in %."""
        return round(100.0 * sum(lg.unhealthy_ms(t0, t1) for lg in self.logs)
                     / (len(self.logs) * (t1 - t0)), 1)

    def max_incarnation(self, t0, t1):
        return max((inc for lg in self.logs for ms, inc in lg.refutes if t0 <= ms <= t1),
                   default=None)


# ---------------------------------------------------------------- burners
def start_burners(k):
    """k pure-CPU shell loops at our own priority, each in its own group."""
    return [spawn(["/bin/sh", "-c", "while :; do :; done"], "burner", group=True)
            for _ in range(k)]


def now_ms():
    return time.time_ns() // 1000000


def one_n(a, n, base):
    res = {"n": n}
    burners = start_burners(a.burners)
    fl = BusyFleet(a, n, os.path.join(base, "fleet"), "busy fleet", tuning=a.tuning)
    try:
        time.sleep(2.0)  # the burners own the CPUs before the first peer starts
        la0 = loadavg()
        fl.start()
        res["converge_s"] = fl.converge(timeout=a.converge_timeout_s)
        if res["converge_s"] is None:
            res["error"] = "did not converge within %g s" % a.converge_timeout_s
            return res
        res["quiet_wait_s"] = fl.quiet(quiet_s=5.0, timeout=a.quiet_timeout_s)
        res["startup_suspicions"] = fl.count(0, 1 << 62, "suspect")
        # the busy window: nobody fails, so every suspicion is false
        s0, la_w0 = cpu_stat(), loadavg()
        t0 = now_ms()
        secs = a.minutes * 60.0
        end = time.monotonic() + secs
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            fl.poll()
            if len(fl.alive()) < n:
                res["error"] = "a peer exited during the busy window; see %s" % fl.dir
                break
        t1 = now_ms()
        fl.poll()
        mins = (t1 - t0) / 60000.0
        sus = fl.count(t0, t1, "suspect")
        res["busy"] = {
            "minutes": round(mins, 2), "burners": a.burners,
            "false_suspicions": sus,
            "false_suspicions_per_peer_per_min": round(sus / n / mins, 3),
            "false_deaths": fl.count(t0, t1, "dead"),
            "refutations": fl.count(t0, t1, "refute"),
            "max_incarnation": fl.max_incarnation(t0, t1),
            "local_health_above_0_pct": fl.unhealthy_pct(t0, t1),
            "loop_late": fl.count(t0, t1, "late"),
            "machine_busy_pct": busy_pct(s0, cpu_stat()),
            "loadavg_start": la_w0, "loadavg_end": loadavg(),
        }
        # a real failure, on the same busy machine
        v = n // 2
        t_kill, t_end, res["kill"] = kill_and_watch(fl, v, a.kill_timeout_s)
        res["kill"]["others_suspected_or_dead_meanwhile"] = sum(
            1 for lg in fl.logs for ms, who, fr, to in lg.swim
            if t_kill <= ms <= t_end and who != name_of(v) and to != "alive")
        res["loadavg_before_start"] = la0
        return res
    finally:
        fl.stop()
        stop(burners)


def fmt(v, nd=None):
    if v is None:
        return "-"
    if nd is not None and isinstance(v, float):
        return "%.*f" % (nd, v)
    return str(v)


def print_table(results, a):
    ns = sorted(results)
    rows = [
        ("peers started and converged (s)", lambda r: fmt(r.get("converge_s"))),
        ("suspicions during the start", lambda r: fmt(r.get("startup_suspicions"))),
        ("busy window (min)", lambda r: fmt(r.get("busy", {}).get("minutes"))),
        ("false suspicions", lambda r: fmt(r.get("busy", {}).get("false_suspicions"))),
        ("  per peer per minute", lambda r: fmt(r.get("busy", {}).get(
            "false_suspicions_per_peer_per_min"), 3)),
        ("false deaths", lambda r: fmt(r.get("busy", {}).get("false_deaths"))),
        ("refutations", lambda r: fmt(r.get("busy", {}).get("refutations"))),
        ("highest incarnation refuted to", lambda r: fmt(r.get("busy", {}).get(
            "max_incarnation"))),
        ("peer-time with local health above 0 (%)", lambda r: fmt(r.get("busy", {}).get(
            "local_health_above_0_pct"))),
        ("loops late by more than the probe timeout", lambda r: fmt(r.get("busy", {}).get(
            "loop_late"))),
        ("machine busy % (window)", lambda r: fmt(r.get("busy", {}).get("machine_busy_pct"))),
        ("load average at the window's end", lambda r: fmt(
            (r.get("busy", {}).get("loadavg_end") or [None])[0])),
        ("kill -9: unknown, first / p50 / all (s)", lambda r: "%s / %s / %s" % (
            fmt(r.get("kill", {}).get("unknown_first_s")),
            fmt(r.get("kill", {}).get("unknown_p50_s")),
            fmt(r.get("kill", {}).get("unknown_all_s")))),
        ("kill -9: dead, first / p50 / all (s)", lambda r: "%s / %s / %s" % (
            fmt(r.get("kill", {}).get("dead_first_s")),
            fmt(r.get("kill", {}).get("dead_p50_s")),
            fmt(r.get("kill", {}).get("dead_all_s")))),
        ("others suspected after the kill", lambda r: fmt(r.get("kill", {}).get(
            "others_suspected_or_dead_meanwhile"))),
    ]
    lines = ["%-42s" % ("N (%d burners, %s)" % (a.burners, a.build_label))
             + "".join(" %20s" % n for n in ns)]
    for label, f in rows:
        lines.append("%-42s" % label + "".join(" %20s" % f(results[n]) for n in ns))
    for n in ns:
        if results[n].get("error"):
            lines.append("N=%d: %s" % (n, results[n]["error"]))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--minutes", type=float, default=5.0,
                    help="length of the busy window per N (default 5)")
    ap.add_argument("--burners", type=int, default=os.cpu_count() or 1,
                    help="CPU burners (default: one per core)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--port-base", type=int, default=PORT_BASE)
    ap.add_argument("--tuning", action="append", metavar="KEY=MS",
                    help="tuning for the peers (default: none, the operator's defaults)")
    ap.add_argument("--converge-timeout-s", type=float, default=300)
    ap.add_argument("--quiet-timeout-s", type=float, default=120)
    ap.add_argument("--kill-timeout-s", type=float, default=60)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless the killed peer became unknown everywhere")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.build_label = os.path.relpath(a.build, ROOT) if a.build.startswith(ROOT) else a.build
    a.staggerd = os.path.join(a.build, "node", "shell", "staggerd")
    a.staggerctl = os.path.join(a.build, "node", "ctl", "staggerctl")
    for b in (a.staggerd, a.staggerctl):
        if not os.access(b, os.X_OK):
            raise SystemExit("bench: %s missing; build first (meson setup build/bench "
                             "--buildtype release && ninja -C build/bench)" % b)
    if a.port_base < PORT_BASE or a.port_base + max(a.n) - 1 > PORT_LAST or min(a.n) < 3:
        raise SystemExit("bench: N must be 3..%d with --port-base %d" %
                         (PORT_LAST - a.port_base + 1, a.port_base))
    a.tuning = parse_tuning(a.tuning)
    out = a.out or os.path.join("/tmp/stagger-bench", "busy-" + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    a.out = os.path.abspath(out)
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(sys.argv), "git": _git_rev(), "git_dirty": _git_dirty(),
            "kernel": os.uname().release, "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
            "loadavg_start": loadavg(), "build": a.build, "tuning": a.tuning}
    print("bench: results in %s" % a.out, flush=True)
    results, ok = {}, True
    for n in a.n:
        base = os.path.join(a.out, "n%d" % n)
        os.makedirs(base, exist_ok=True)
        print("bench: N=%d beside %d burners: start, %g min busy, kill -9" %
              (n, a.burners, a.minutes), flush=True)
        try:
            results[n] = one_n(a, n, base)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("bench: N=%d: %s" % (n, e), file=sys.stderr, flush=True)
            results[n] = {"n": n, "error": str(e)}
        if results[n].get("kill", {}).get("unknown_all_s") is None:
            ok = False
        save_results(a.out, meta, results)
    save_results(a.out, meta, results, print_table(results, a))
    if a.check and not ok:
        print("bench: CHECK FAILED: the killed peer was not unknown everywhere", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
