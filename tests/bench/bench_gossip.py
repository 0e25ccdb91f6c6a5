#!/usr/bin/python3
"""bench_gossip.py: issue 3's gossip benchmarks for staggerd, beside Serf.

For each N it starts N staggerd peers on 127.0.0.1 (ports 17400+i, CURVE,
a freshly signed roster) and measures, from the daemons' own log lines
(ms timestamps, UTC) and from /proc, with no polling of the daemons:

  phase A, the operator's defaults (no "tuning" in the config at all; the
  health hook runs at the default interval):
    idle      RSS (VmRSS), CPU (utime+stime) per peer and `lo` tx bytes/s
              divided by N over --idle-s seconds, and the `-> suspect`
              lines logged during that minute (false suspicions);
    failure   kill -9 of peer N/2; per other peer the time from the kill to
              its first `[swim] nV: alive -> suspect|dead` line (the victim
              is "unknown" there), and to `-> dead`.
  phase B, the same defaults (the health hook every 10 s, or --health-ms),
  log_level debug so the origin's hook result is logged; each change is
  written and then the origin is sent SIGUSR1, which runs its health hook
  at once (as an operator's deployment would after changing the service):
  the bench no longer forks a health hook per peer twice a second, which at
  N = 64 on two cores was most of the machine's load:
    dissemination  --trials version changes, each on a different origin:
              t0 = the origin's `[hook] health: exit 0 ... version=X` line,
              logged in the same millisecond the core signs the new record
              (the record's time_ms is taken from the same clock read);
              arrival = each peer's `[gossip] nO: cardano-node X, ...` line.
              The origin counts as reached at t0 (as Serf counts its sender).
              Per change: t50/t90/t100 (nearest rank over N peers). Changes
              that did not reach everyone are counted, within the per-change
              window and again at the end of the phase.

Then (unless --no-serf) it runs ../shared/bench/serf/serf_bench.sh N lan for
the same N, after every stagger peer has stopped, parses its JSON line and
prints stagger/serf ratios. Everything goes to --out; the summary is
OUT/summary.json.

usage: /usr/bin/python3 tests/bench/bench_gossip.py [--n 8 32 64] [--trials 20]
           [--idle-s 60] [--no-serf] [--out DIR] [--check] [--metrics [--scrape-s 15]]

With --metrics the even-numbered peers serve their Prometheus endpoint and
the idle window scrapes each of them every --scrape-s seconds; the odd ones
have it off. The idle window then also reports both halves' CPU and memory
side by side: the same fleet in the same minute, so what moves the idle
figure from one run to the next (about a third, run to run, at N = 32)
cancels out. After the window the bench times 100 back-to-back scrapes of
p0 from its thread CPU (schedstat), less its idle rate: one scrape's cost.
Without --metrics the endpoint is off everywhere.

Every process started here is tracked by PID and stopped (TERM, at most 5 s,
then KILL) on exit, error or signal; every wait has a deadline. Stdlib only.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# A full run uses 17400-17655 (256 peers, a roster's most), bench_emergency
# 17700-17955, the smoke tests 17990-17993: disjoint.
PORT_BASE, PORT_LAST = 17400, 17999
COMPONENT = "cardano-node"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Processes: spawn/stop/run, tracked by PID and stopped on exit (benchproc.py).
from benchproc import (add_pace_args, forget, make_roster, pace, parse_tuning,  # noqa: E402
                       run, spawn, stop)
from benchlog import LogFollower, pctl  # noqa: E402


# ---------------------------------------------------------------- /proc
def proc_cpu_ticks(pid):
    """(utime+stime, cutime+cstime) in clock ticks, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def proc_cpu_ns(pid):
    """CPU time of every thread of PID, in nanoseconds, or None: the first
    field of each /proc/PID/task/TID/schedstat (the scheduler's own count,
    exact where /proc/PID/stat's ticks are 10 ms steps; a thread that has
    ended is not counted, and the daemon's threads live as long as it).
    Hook children are not counted."""
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total
    except (OSError, ValueError, IndexError):
        return None


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


SS_HEADER_BYTES = 52   # IPv4 20 + TCP 20 + timestamp option 12 (lo counts IP lengths)


def ss_counters(pids):
    """Our own TCP traffic, immune to whatever else uses `lo`: per established
    socket of our pids with a stagger port at either end, (bytes_sent,
    segs_out) from the kernel's tcp_info (`ss -tinp`)."""
    rc, out, _ = run(["ss", "-tinpH", "state", "established",
                      "( sport >= :%d and sport <= :%d ) or ( dport >= :%d and dport <= :%d )"
                      % (PORT_BASE, PORT_LAST, PORT_BASE, PORT_LAST)], timeout=20)
    want = set(pids)
    socks, key, owner = {}, None, None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            f = line.split()
            key = (f[2], f[3]) if len(f) >= 4 else None
            m = re.search(r"pid=(\d+)", line)
            owner = int(m.group(1)) if m else None
            continue
        if key is None or owner not in want:
            continue
        b = re.search(r"\bbytes_sent:(\d+)", line)
        g = re.search(r"\bsegs_out:(\d+)", line)
        socks[key] = (int(b.group(1)) if b else 0, int(g.group(1)) if g else 0)
    return socks


def ss_delta(a, b):
    """Bytes and segments sent between two snapshots, over sockets in both."""
    by = sum(b[k][0] - a[k][0] for k in b if k in a)
    sg = sum(b[k][1] - a[k][1] for k in b if k in a)
    return by, sg, sum(1 for k in b if k not in a)


def proc_pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def lo_counters():
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith("lo:"):
                v = line.split(":", 1)[1].split()
                return {"rx_bytes": int(v[0]), "tx_bytes": int(v[8]), "tx_packets": int(v[9])}
    return {"rx_bytes": 0, "tx_bytes": 0, "tx_packets": 0}


def cpu_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v), idle


def busy_pct(a, b):
    tot, idle = b[0] - a[0], b[1] - a[1]
    return round(100.0 * (tot - idle) / tot, 1) if tot > 0 else None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# ---------------------------------------------------------------- statistics
def stats(xs, nd=1):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"n": len(xs), "min": round(min(xs), nd), "p50": round(pctl(xs, 50), nd),
            "p90": round(pctl(xs, 90), nd), "p99": round(pctl(xs, 99), nd),
            "max": round(max(xs), nd), "mean": round(statistics.fmean(xs), nd)}


# ---------------------------------------------------------------- daemon logs
GOSSIP = re.compile(r"^(\S+): (\S+) (.*?), (healthy|unhealthy|unknown)(?::|$)")
SWIM = re.compile(r"^(\S+): (alive|suspect|dead) -> (alive|suspect|dead)")
HOOKV = re.compile(r"^health: exit 0 .*: version=(\S+)")
class PeerLog(LogFollower):
    """Follows one daemon's stderr file; keeps what the benchmark needs."""

    def __init__(self, path):
        super().__init__(path)
        self.gossip = []       # (ms, origin, version, health)
        self.swim = []         # (ms, member, from, to)
        self.hookver = {}      # version -> ms of the first hook result with it
        self.levels = {}       # level -> count
        self.problems = []     # first ERROR/WARN lines, for the report

    def line(self, ms, level, tag, msg, raw):
        self.levels[level] = self.levels.get(level, 0) + 1
        if level in ("ERROR", "WARN") and len(self.problems) < 5 and tag != "swim":
            self.problems.append(raw)
        if tag == "gossip":
            g = GOSSIP.match(msg)
            if g:
                self.gossip.append((ms, g.group(1), g.group(3), g.group(4)))
        elif tag == "swim":
            g = SWIM.match(msg)
            if g:
                self.swim.append((ms, g.group(1), g.group(2), g.group(3)))
        elif tag == "hook":
            g = HOOKV.match(msg)
            if g and g.group(1) not in self.hookver:
                self.hookver[g.group(1)] = ms


# ---------------------------------------------------------------- a fleet
HOOK = """#!/bin/sh
# bench health hook: healthy; the version is what the benchmark wrote last
read -r v < "$STAGGER_STATE_DIR/bench-version" || exit 1
echo "version=$v"
"""


def name_of(i):
    return "n%02d" % i


class Fleet:
    def __init__(self, a, n, dirn, label, log_level="info", tuning=None):
        self.a, self.n, self.dir, self.label = a, n, dirn, label
        self.log_level, self.tuning = log_level, dict(tuning or {})
        self.procs, self.logs = [], []
        self.keys = os.path.join(os.path.dirname(dirn), "keys")
        self.roster = os.path.join(self.keys, "roster.signed")
        self.t_first = self.t_last = None

    # keys are made once per N and shared by the phases; the roster is
    # signed again each time (its endpoints follow --port-base)
    def make_keys(self):
        make_roster(self.a.staggerctl, self.keys, [name_of(i) for i in range(self.n)],
                    self.a.port_base)

    def peer_dir(self, i):
        return os.path.join(self.dir, name_of(i))

    def set_version(self, i, v):
        p = os.path.join(self.peer_dir(i), "state", "bench-version")
        with open(p + ".tmp", "w") as f:
            f.write(v + "\n")
        os.replace(p + ".tmp", p)

    def start(self):
        self.make_keys()
        hook = os.path.join(self.dir, "health.sh")
        os.makedirs(self.dir, exist_ok=True)
        with open(hook, "w") as f:
            f.write(HOOK)
        os.chmod(hook, 0o755)
        for i in range(self.n):
            d = self.peer_dir(i)
            os.makedirs(os.path.join(d, "state"), mode=0o700, exist_ok=True)
            self.set_version(i, "bench.0")
            cfg = {"key": os.path.join(self.keys, name_of(i) + ".key"), "roster": self.roster,
                   "state_dir": os.path.join(d, "state"), "hooks": {"health": hook},
                   "log_level": self.log_level}
            if self.tuning:
                cfg["tuning"] = self.tuning
            # The metrics endpoint: on every peer with --metrics, else off
            # (the daemon's default would give it to the first peer only).
            cfg["metrics"] = ("127.0.0.1:%d" % metrics_port(i)
                              if getattr(self.a, "metrics", False) and i % 2 == 0 else "")
            with open(os.path.join(d, "staggerd.json"), "w") as f:
                json.dump(cfg, f, indent=1)
        self.t_first = time.time_ns()
        with open(os.path.join(self.dir, "pids"), "w") as pids:
            for i in range(self.n):
                pace(i, getattr(self.a, "launch_batch", 0), getattr(self.a, "launch_gap_s", 0))
                d = self.peer_dir(i)
                log = open(os.path.join(d, "staggerd.log"), "wb")
                self.t_last = time.time_ns()
                p = spawn([self.a.staggerd, "--config", os.path.join(d, "staggerd.json")],
                          "staggerd " + name_of(i), stdout=log, stderr=log)
                log.close()
                self.procs.append(p)
                self.logs.append(PeerLog(os.path.join(d, "staggerd.log")))
                pids.write("%d %d\n" % (i, p.pid))

    def poll(self):
        for lg in self.logs:
            lg.poll()

    def alive(self):
        return [i for i, p in enumerate(self.procs) if p.poll() is None]

    def converge(self, version="bench.0", timeout=None):
        """Until every peer's view holds every other peer at `version`,
        healthy (from the gossip lines). Seconds from the last start."""
        timeout = timeout or 90.0 + self.n / 2.0  # 256 peers start slowly on 2 cores
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if len(self.alive()) < self.n:
                raise RuntimeError("%s: a peer exited during start-up; see %s" %
                                   (self.label, self.dir))
            t_all = 0
            done = True
            for i, lg in enumerate(self.logs):
                seen = {}
                for ms, o, v, h in lg.gossip:
                    seen[o] = (ms, v, h)
                for j in range(self.n):
                    if j == i:
                        continue
                    s = seen.get(name_of(j))
                    if not s or s[1] != version or s[2] != "healthy":
                        done = False
                        break
                    t_all = max(t_all, s[0])
                if not done:
                    break
            if done:
                return round((t_all - self.t_last / 1e6) / 1000.0, 3)
            time.sleep(0.1)
        return None

    def quiet(self, quiet_s=5.0, timeout=120.0):
        """Until no peer has logged a liveness change for quiet_s (the
        start-up churn is over). Seconds waited, or None at the deadline."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            self.poll()
            last = max((lg.swim[-1][0] for lg in self.logs if lg.swim), default=0)
            if time.time() * 1000 - last >= quiet_s * 1000:
                return round(time.monotonic() - t0, 1)
            time.sleep(0.2)
        return None

    def stop(self):
        stop(self.procs)

    def status(self, i, timeout_ms=3000):
        rc, out, err = run([self.a.staggerctl, "status", "--key",
                            os.path.join(self.keys, "operator.key"), "--roster", self.roster,
                            "--peer", name_of(i), "--json", "--timeout-ms", str(timeout_ms)],
                           timeout=timeout_ms / 1000.0 + 10)
        try:
            return json.loads(out)
        except ValueError:
            return None

    def suspect_lines(self, t0_ms, t1_ms, exclude=()):
        n = 0
        for lg in self.logs:
            for ms, who, _, to in lg.swim:
                if to == "suspect" and t0_ms <= ms <= t1_ms and who not in exclude:
                    n += 1
        return n


METRICS_OFFSET = 2000  # peer i's metrics endpoint: --port-base + 2000 + i
METRICS_BASE = PORT_BASE + METRICS_OFFSET  # set from --port-base in main


def metrics_port(i):
    return METRICS_BASE + i


class Scraper(threading.Thread):
    """GET /metrics from every peer every `every` seconds, as a Prometheus
    server would (its default interval is 15 s), until stop()."""

    def __init__(self, n, every):
        super().__init__(daemon=True)
        self.n, self.every = n, every
        self.ok, self.failed, self.ms, self.bytes = 0, 0, [], 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for i in range(0, self.n, 2):  # the even peers serve it
                t0 = time.monotonic()
                try:
                    url = "http://127.0.0.1:%d/metrics" % metrics_port(i)
                    with urllib.request.urlopen(url, timeout=5) as r:
                        self.bytes += len(r.read())
                    self.ok += 1
                    self.ms.append((time.monotonic() - t0) * 1000.0)
                except OSError:
                    self.failed += 1
            self.done.wait(self.every)

    @staticmethod
    def cost_ms(pid, k=100):
        """CPU of one scrape of p0 (pid): k back to back, from its threads'
        schedstat, less what it spends idle in as long (measured first)."""
        url = "http://127.0.0.1:%d/metrics" % metrics_port(0)
        a, t = proc_cpu_ns(pid), time.monotonic()
        if a is None:
            return None
        time.sleep(10)  # the window the idle rate is measured over, not a wait
        idle_ns_per_s = (proc_cpu_ns(pid) - a) / (time.monotonic() - t)
        a, t = proc_cpu_ns(pid), time.monotonic()
        try:
            for _ in range(k):
                with urllib.request.urlopen(url, timeout=5) as r:
                    r.read()
        except OSError:
            return None  # p0 could not serve them (its port taken?): no figure
        dt = time.monotonic() - t
        return round((proc_cpu_ns(pid) - a - idle_ns_per_s * dt) / k / 1e6, 3)

    def stop(self):
        self.done.set()
        self.join(10)
        return {"scrape_every_s": self.every, "scrapes_ok": self.ok,
                "scrapes_failed": self.failed, "scrape_ms": stats(self.ms, 2),
                "bytes_per_scrape": round(self.bytes / self.ok) if self.ok else None}


def sleep_watching(fleet, secs):
    """Sleep, but stop early (and say so) if a peer dies."""
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(1.0, left))
        if len(fleet.alive()) < fleet.n:
            return False


def transport_msgs(fleet):
    """Per peer (tx_msgs, rx_msgs) from the status document; None where it
    did not answer. Called outside the measured windows only."""
    out = {}
    for i in fleet.alive():
        st = fleet.status(i)
        t = (st or {}).get("transport") or {}
        out[i] = (t.get("tx_msgs"), t.get("rx_msgs")) if t else None
    return out


# ---------------------------------------------------------------- phase A
def phase_idle_and_fail(a, n, base):
    res = {"tuning": "defaults (no tuning in the config)", "log_level": "info"}
    fl = Fleet(a, n, os.path.join(base, "phaseA"), "phase A", tuning=a.tuning_a)
    if a.tuning_a:
        res["tuning"] = a.tuning_a
    try:
        fl.start()
        res["converge_s"] = fl.converge()
        if res["converge_s"] is None:
            res["error"] = "did not converge"
            return res
        res["quiet_wait_s"] = fl.quiet()
        res["startup_suspicions"] = fl.suspect_lines(0, 1 << 62)
        time.sleep(a.settle_s)
        msgs0 = transport_msgs(fl)
        pids = [p.pid for p in fl.procs]
        c0 = {p: proc_cpu_ticks(p) for p in pids}
        e0 = {p: proc_cpu_ns(p) for p in pids}
        ss0 = ss_counters(pids)
        lo0, s0, la0 = lo_counters(), cpu_stat(), loadavg()
        t0, t0_ms = time.monotonic(), time.time_ns() // 1000000
        scraper = Scraper(n, a.scrape_s) if a.metrics else None
        if scraper:
            scraper.start()
        ok = sleep_watching(fl, a.idle_s)
        scraped = scraper.stop() if scraper else None
        dt = time.monotonic() - t0
        t1_ms = time.time_ns() // 1000000
        c1 = {p: proc_cpu_ticks(p) for p in pids}
        e1 = {p: proc_cpu_ns(p) for p in pids}
        lo1, s1 = lo_counters(), cpu_stat()
        ss1 = ss_counters(pids)
        rss = [proc_status_kb(p, "VmRSS") for p in pids]
        hwm = [proc_status_kb(p, "VmHWM") for p in pids]
        anon = [proc_status_kb(p, "RssAnon") for p in pids]
        rfile = [proc_status_kb(p, "RssFile") for p in pids]
        pss = [proc_pss_kb(p) for p in pids]
        msgs1 = transport_msgs(fl)
        fl.poll()
        cpu = [100.0 * (c1[p][0] - c0[p][0]) / CLK_TCK / dt for p in pids if c0[p] and c1[p]]
        # in pids' order, None where a peer could not be read (stats skips it)
        ecpu = [100.0 * (e1[p] - e0[p]) / 1e9 / dt
                if e0[p] is not None and e1[p] is not None else None for p in pids]
        ccpu = [100.0 * (c1[p][1] - c0[p][1]) / CLK_TCK / dt for p in pids if c0[p] and c1[p]]
        ssb, sss, ssnew = ss_delta(ss0, ss1)
        tx = [(msgs1[i][0] - msgs0[i][0]) for i in range(n)
              if msgs0.get(i) and msgs1.get(i) and msgs0[i][0] is not None
              and msgs1[i][0] is not None]
        res["idle"] = {
            "idle_secs": round(dt, 2), "all_peers_alive": ok,
            "rss_mib": stats([r / 1024.0 for r in rss if r], 2),
            "rss_hwm_mib": stats([r / 1024.0 for r in hwm if r], 2),
            # VmRSS = RssAnon (private heap, stacks) + RssFile (mostly shared
            # libraries: the same pages in every peer); Pss splits the shared.
            "rss_anon_mib": stats([r / 1024.0 for r in anon if r], 2),
            "rss_file_mib": stats([r / 1024.0 for r in rfile if r], 2),
            "pss_mib": stats([r / 1024.0 for r in pss if r], 2),
            "cpu_pct_of_core_per_peer": stats(cpu, 3),
            "cpu_pct_of_core_all_peers": round(sum(cpu), 2),
            "cpu_exact_pct_of_core_per_peer": stats(ecpu, 4),
            "hook_children_cpu_pct_of_core_per_peer": stats(ccpu, 3),
            "lo_bytes_per_s_per_peer": round((lo1["tx_bytes"] - lo0["tx_bytes"]) / dt / n),
            "lo_packets_per_s_per_peer": round((lo1["tx_packets"] - lo0["tx_packets"]) / dt / n, 2),
            "lo_bytes_per_s_total": round((lo1["tx_bytes"] - lo0["tx_bytes"]) / dt),
            "own_tcp_payload_bytes_per_s_per_peer": round(ssb / dt / n, 1),
            "own_tcp_segments_per_s_per_peer": round(sss / dt / n, 2),
            "own_ip_bytes_per_s_per_peer": round((ssb + SS_HEADER_BYTES * sss) / dt / n),
            "own_sockets": len(ss1), "own_sockets_new_in_window": ssnew,
            "msgs_per_s_per_peer": stats([x / dt for x in tx], 2) if tx else None,
            "false_suspicions": fl.suspect_lines(t0_ms, t1_ms),
            "metrics": scraped or "off",
            "cpu_exact_pct_endpoint_on": stats(ecpu[0::2], 4) if scraped else None,
            "cpu_exact_pct_endpoint_off": stats(ecpu[1::2], 4) if scraped else None,
            "rss_mib_endpoint_on": stats([r / 1024.0 for r in rss[0::2] if r], 2)
                                   if scraped else None,
            "rss_mib_endpoint_off": stats([r / 1024.0 for r in rss[1::2] if r], 2)
                                    if scraped else None,
            "scrape_cost_ms": Scraper.cost_ms(pids[0]) if scraped else None,
            "machine_busy_pct": busy_pct(s0, s1),
            "loadavg_start": la0, "loadavg_end": loadavg(),
        }
        # failure detection: kill -9 the peer in the middle
        v = n // 2
        vname = name_of(v)
        res["suspicions_before_kill"] = fl.suspect_lines(0, 1 << 62)
        s0, la0 = cpu_stat(), loadavg()
        t_kill, t_end, res["fail"] = kill_and_watch(fl, v, a.fail_timeout_s)
        res["fail"].update({
            "false_suspicions_after_kill": fl.suspect_lines(t_kill, t_end, exclude={vname}),
            "machine_busy_pct": busy_pct(s0, cpu_stat()),
            "loadavg_start": la0, "loadavg_end": loadavg(),
        })
        res["log_levels"] = _levels(fl)
        res["problems"] = _problems(fl)
        return res
    finally:
        fl.stop()


def kill_and_watch(fl, v, timeout_s):
    """kill -9 peer v; per other peer, from its own log, the time to its
    first `nV: alive -> suspect|dead` (v unknown there) and to `-> dead`,
    until every one declared v dead or timeout_s passed (and one second
    more). Returns (t_kill, t_end) in Unix ms and the figures."""
    vname = name_of(v)
    t_kill = time.time_ns() / 1e6
    os.kill(fl.procs[v].pid, signal.SIGKILL)
    fl.procs[v].wait(timeout=10)
    forget(fl.procs[v])
    observers = [i for i in range(fl.n) if i != v]
    unknown, dead = {}, {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fl.poll()
        for i in observers:
            for ms, who, frm, to in fl.logs[i].swim:
                if who != vname or ms < t_kill:
                    continue
                if frm == "alive" and i not in unknown:
                    unknown[i] = ms
                if to == "dead" and i not in dead:
                    dead[i] = ms
        if len(dead) == len(observers):
            break
        time.sleep(0.05)
    time.sleep(1.0)
    fl.poll()
    t_end = time.time_ns() / 1e6
    u = [(unknown[i] - t_kill) / 1000.0 for i in observers if i in unknown]
    d = [(dead[i] - t_kill) / 1000.0 for i in observers if i in dead]
    return t_kill, t_end, {
        "victim": vname, "observers": len(observers),
        "unknown_by": len(u), "dead_by": len(d),
        "unknown_first_s": round(min(u), 3) if u else None,
        "unknown_p50_s": round(pctl(u, 50), 3) if u else None,
        "unknown_all_s": round(max(u), 3) if len(u) == len(observers) else None,
        "dead_first_s": round(min(d), 3) if d else None,
        "dead_p50_s": round(pctl(d, 50), 3) if d else None,
        "dead_all_s": round(max(d), 3) if len(d) == len(observers) else None,
    }


def _levels(fl):
    tot = {}
    for lg in fl.logs:
        for k, v in lg.levels.items():
            tot[k] = tot.get(k, 0) + v
    return tot


def _problems(fl):
    out = []
    for lg in fl.logs:
        out.extend(lg.problems[:2])
    return out[:8]


# ---------------------------------------------------------------- phase B
def phase_dissemination(a, n, base):
    tuning = dict(a.tuning_b)
    tuning["health_interval_ms"] = a.health_ms
    res = {"tuning": tuning, "log_level": "debug"}
    fl = Fleet(a, n, os.path.join(base, "phaseB"), "phase B", log_level="debug", tuning=tuning)
    try:
        fl.start()
        res["converge_s"] = fl.converge()
        if res["converge_s"] is None:
            res["error"] = "did not converge"
            return res
        res["quiet_wait_s"] = fl.quiet(quiet_s=3.0)
        res["startup_suspicions"] = fl.suspect_lines(0, 1 << 62)
        time.sleep(min(a.settle_s, 3.0))
        stride = 3 if math.gcd(3, n) == 1 else 1
        trials = []
        s0, la0, t_phase0 = cpu_stat(), loadavg(), time.time_ns() // 1000000
        last_version = {}
        for k in range(a.trials):
            o = (1 + k * stride) % n
            oname, ver = name_of(o), "bench.%d" % (k + 1)
            t_write = time.time_ns() / 1e6
            fl.set_version(o, ver)
            os.kill(fl.procs[o].pid, signal.SIGUSR1)  # run the health hook now
            last_version[o] = ver
            tr = {"origin": oname, "version": ver}
            deadline = time.monotonic() + 5
            t0 = None
            while time.monotonic() < deadline:
                fl.logs[o].poll()
                t0 = fl.logs[o].hookver.get(ver)
                if t0 is not None:
                    break
                time.sleep(0.01)
            if t0 is None:
                tr["error"] = "origin never signed the change"
                trials.append(tr)
                continue
            tr["write_to_sign_ms"] = round(t0 - t_write, 1)
            deadline = time.monotonic() + a.trial_timeout_s
            arr = {}
            while time.monotonic() < deadline:
                fl.poll()
                for i in range(n):
                    if i == o or i in arr:
                        continue
                    for ms, org, v, _h in reversed(fl.logs[i].gossip):
                        if org == oname and v == ver:
                            arr[i] = ms
                            break
                if len(arr) == n - 1:
                    break
                time.sleep(0.01)
            tr["arrivals_ms"] = {name_of(i): arr[i] - t0 for i in sorted(arr)}
            _trial_figures(tr, n, t0, arr)
            tr["t0_ms"] = t0
            trials.append(tr)
            time.sleep(a.gap_s)
        # late deliveries: look once more after a pause
        time.sleep(2.0)
        fl.poll()
        late_complete = 0
        for tr in trials:
            if "t0_ms" not in tr:
                continue
            o = int(tr["origin"][1:])
            arr = {}
            for i in range(n):
                if i == o:
                    continue
                for ms, org, v, _h in fl.logs[i].gossip:
                    if org == tr["origin"] and v == tr["version"]:
                        arr[i] = ms
                        break
            tr["reached_by_phase_end"] = len(arr) + 1
            late_complete += len(arr) == n - 1
        busy = busy_pct(s0, cpu_stat())
        # cross-check with the daemons' own view (after the measurement)
        views_ok, views_bad = 0, []
        for i in fl.alive():
            st = fl.status(i)
            if not st:
                views_bad.append("%s: no status" % name_of(i))
                continue
            bad = [m["name"] for m in st.get("members", [])
                   if int(m["name"][1:]) in last_version
                   and m.get("version") != last_version[int(m["name"][1:])]]
            if bad:
                views_bad.append("%s: stale %s" % (name_of(i), ",".join(bad)))
            else:
                views_ok += 1
        fl.poll()
        done = [t for t in trials if "t100_ms" in t]
        t100 = [t["t100_ms"] for t in done if t["t100_ms"] is not None]
        res["dissemination"] = {
            "trials": len(trials),
            "signed": len(done),
            "reached_all_in_window": sum(1 for t in done if t["reached"] == n),
            "not_reached_all_in_window": len(trials) - sum(1 for t in done if t["reached"] == n),
            "reached_all_by_phase_end": late_complete,
            "not_reached_all_by_phase_end": len(trials) - late_complete,
            "missing_deliveries": sum(n - t.get("reached", 1) for t in trials),
            "window_s": a.trial_timeout_s,
            "t100_ms": stats(t100, 1),
            "t90_ms": stats([t["t90_ms"] for t in done], 1),
            "t50_ms": stats([t["t50_ms"] for t in done], 1),
            "write_to_sign_ms": stats([t.get("write_to_sign_ms") for t in done], 1),
            "views_matching_at_end": views_ok, "views_not_matching": views_bad[:10],
            "suspicions_in_phase": fl.suspect_lines(t_phase0, 1 << 62),
            "machine_busy_pct": busy, "loadavg_start": la0, "loadavg_end": loadavg(),
            "per_trial": trials,
        }
        res["log_levels"] = _levels(fl)
        res["problems"] = _problems(fl)
        return res
    finally:
        fl.stop()


def _trial_figures(tr, n, t0, arr):
    lat = sorted([0.0] + [arr[i] - t0 for i in arr])   # the origin is reached at t0
    tr["reached"] = len(lat)
    for p in (50, 90, 100):
        need = max(1, -(-p * n // 100))
        tr["t%d_ms" % p] = lat[need - 1] if len(lat) >= need else None


# ---------------------------------------------------------------- Serf
def run_serf(a, n, base):
    out_dir = os.path.join(base, "serf")
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SERF_BENCH_RESULTS=os.path.join(out_dir, "results"))
    argv = ["bash", a.serf_script, str(n), a.serf_profile, "--out", os.path.join(out_dir, "runs"),
            "--events", str(a.trials), "--idle", str(a.idle_s)]
    print("bench: N=%d: %s" % (n, " ".join(argv[1:])), flush=True)
    logf = open(os.path.join(out_dir, "serf_bench.out"), "wb")
    p = spawn(argv, "serf_bench.sh", group=True, stdout=logf, stderr=subprocess.STDOUT, env=env)
    logf.close()
    try:
        p.wait(timeout=a.serf_timeout_s)
    except subprocess.TimeoutExpired:
        stop([p], grace=15.0)
        return {"error": "serf_bench.sh timed out after %d s" % a.serf_timeout_s}
    stop([p])   # reaped already; forget it (and any straggler in its group)
    summ = None
    with open(os.path.join(out_dir, "serf_bench.out"), errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{") and '"bench": "serf"' in line:
                try:
                    summ = json.loads(line)
                except ValueError:
                    pass
    if summ is None:
        return {"error": "no JSON line from serf_bench.sh (exit %s); see %s" %
                (p.returncode, os.path.join(out_dir, "serf_bench.out"))}
    return summ


def serf_figures(s):
    """The Serf figures that match ours (stream phase: no handler spawn)."""
    if not s or "error" in s:
        return {}
    ev = s.get("event_stream") or s.get("event_handler") or {}
    fd = s.get("fail_detect") or {}
    idle = s.get("idle") or {}
    g = lambda d, *ks: _dig(d, ks)
    return {
        "dissem_t100_p50_ms": g(ev, "t100_ms", "p50"),
        "dissem_t100_p99_ms": g(ev, "t100_ms", "max"),   # nearest-rank p99 of 20 = the max
        "dissem_t50_p50_ms": g(ev, "t50_ms", "p50"),
        "dissem_not_all": (ev.get("events", 0) - ev.get("events_fully_delivered", 0))
        if ev else None,
        "dissem_events": ev.get("events"),
        "fail_first_s": fd.get("first_s"), "fail_p50_s": fd.get("p50_s"),
        "fail_all_s": fd.get("all_s"),
        "false_suspicions": g(s, "log_counts", "suspect_nonvictim"),
        "rss_mib": g(idle, "rss_mib", "p50"),
        "cpu_pct": g(idle, "cpu_pct_of_core_per_agent", "p50"),
        "lo_bps": idle.get("lo_bytes_per_s_per_agent"),
        "converge_s": s.get("converge_s"),
        "busy_idle": g(s, "machine_busy_pct", "idle"),
    }


def _dig(d, ks):
    for k in ks:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


# ---------------------------------------------------------------- report
def stagger_figures(r, n, sync_ms):
    d = (r.get("B") or {}).get("dissemination") or {}
    idle = (r.get("A") or {}).get("idle") or {}
    fl = (r.get("A") or {}).get("fail") or {}
    t100 = d.get("t100_ms") or {}
    med = t100.get("p50")
    return {
        "dissem_t100_p50_ms": med, "dissem_t100_p99_ms": t100.get("p99"),
        "dissem_t50_p50_ms": _dig(d, ("t50_ms", "p50")),
        "dissem_not_all": d.get("not_reached_all_in_window"),
        "dissem_not_all_end": d.get("not_reached_all_by_phase_end"),
        "dissem_events": d.get("trials"),
        "dissem_intervals": round(med / sync_ms, 4) if med is not None else None,
        "dissem_target_intervals": math.ceil(math.log2(n)) + 2,
        "fail_first_s": fl.get("unknown_first_s"), "fail_p50_s": fl.get("unknown_p50_s"),
        "fail_all_s": fl.get("unknown_all_s"), "dead_all_s": fl.get("dead_all_s"),
        "false_suspicions": idle.get("false_suspicions"),
        "false_suspicions_after_kill": fl.get("false_suspicions_after_kill"),
        "rss_mib": _dig(idle, ("rss_mib", "p50")),
        "rss_anon_mib": _dig(idle, ("rss_anon_mib", "p50")),
        "pss_mib": _dig(idle, ("pss_mib", "p50")),
        "cpu_pct": _dig(idle, ("cpu_pct_of_core_per_peer", "p50")),
        "cpu_exact_pct": _dig(idle, ("cpu_exact_pct_of_core_per_peer", "mean")),
        "cpu_on": _dig(idle, ("cpu_exact_pct_endpoint_on", "mean")),
        "cpu_off": _dig(idle, ("cpu_exact_pct_endpoint_off", "mean")),
        "rss_on": _dig(idle, ("rss_mib_endpoint_on", "p50")),
        "rss_off": _dig(idle, ("rss_mib_endpoint_off", "p50")),
        "scrape_cost_ms": idle.get("scrape_cost_ms"),
        "scrape_every_s": _dig(idle, ("metrics", "scrape_every_s")),
        "lo_bps": idle.get("lo_bytes_per_s_per_peer"),
        "own_bps": idle.get("own_ip_bytes_per_s_per_peer"),
        "own_payload_bps": idle.get("own_tcp_payload_bytes_per_s_per_peer"),
        "own_segs": idle.get("own_tcp_segments_per_s_per_peer"),
        "msgs_per_s": _dig(idle, ("msgs_per_s_per_peer", "p50")),
        "converge_s": (r.get("B") or {}).get("converge_s"),
        "startup_suspicions": (r.get("A") or {}).get("startup_suspicions"),
        "busy_idle": idle.get("machine_busy_pct"),
    }


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return ("%." + str(nd) + "f") % x
    return str(x)


def ratio(a, b):
    if a is None or b is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return "-"
    if b == 0:
        return "-" if a else "1"
    return "%.3g" % (a / b)


ROWS = [
    ("dissemination t100 median, ms", "dissem_t100_p50_ms", 1),
    ("dissemination t100 p99, ms (serf: max of 20)", "dissem_t100_p99_ms", 1),
    ("dissemination t50 median, ms", "dissem_t50_p50_ms", 1),
    ("changes not reaching all (of K)", "dissem_not_all", 0),
    ("kill -9 -> unknown, first observer s", "fail_first_s", 2),
    ("kill -9 -> unknown, median observer s", "fail_p50_s", 2),
    ("kill -9 -> unknown, last observer s", "fail_all_s", 2),
    ("false suspicions, idle minute", "false_suspicions", 0),
    ("idle RSS per peer, MiB (median)", "rss_mib", 2),
    ("idle CPU per peer, % of a core", "cpu_pct", 3),
    ("idle CPU per peer, % of a core (schedstat, mean)", "cpu_exact_pct", 4),
    ("idle lo tx B/s per peer", "lo_bps", 0),
]


def print_table(results, sync_ms):
    lines = []
    for n, r in results.items():
        st, sf = r["stagger"], r["serf"]
        lines.append("")
        lines.append("N = %d   (stagger: default tuning, sync interval %d ms; serf: %s profile)" %
                     (n, sync_ms, r.get("serf_profile", "lan")))
        lines.append("%-46s %12s %12s %10s" % ("figure", "stagger", "serf", "ratio"))
        for label, key, nd in ROWS:
            sv, fv = st.get(key), sf.get(key)
            if key == "dissem_not_all":
                sv = "%s (%s)" % (fmt(sv), fmt(st.get("dissem_events")))
                fv = "%s (%s)" % (fmt(fv), fmt(sf.get("dissem_events"))) if sf else "-"
                lines.append("%-46s %12s %12s %10s" % (label, sv, fv, ""))
                continue
            lines.append("%-46s %12s %12s %10s" % (label, fmt(sv, nd), fmt(fv, nd),
                                                   ratio(sv, fv)))
        lines.append("%-46s %12s   (target <= %d)" % ("dissemination median in sync intervals",
                                                     fmt(st.get("dissem_intervals"), 4),
                                                     st["dissem_target_intervals"]))
        lines.append("%-46s %12s %12s %10s" % ("kill -9 -> dead everywhere s (serf: failed)",
                                               fmt(st.get("dead_all_s"), 2),
                                               fmt(sf.get("fail_all_s"), 2),
                                               ratio(st.get("dead_all_s"), sf.get("fail_all_s"))))
        lines.append("%-46s %12s" % ("false suspicions after the kill (non-victims)",
                                     fmt(st.get("false_suspicions_after_kill"))))
        lines.append("%-46s %12s %12s %10s" % ("idle own TCP/IP B/s per peer (ss; serf: lo)",
                                               fmt(st.get("own_bps"), 0), fmt(sf.get("lo_bps"), 0),
                                               ratio(st.get("own_bps"), sf.get("lo_bps"))))
        lines.append("%-46s %12s" % ("  of which TCP payload B/s, segments/s",
                                     "%s, %s" % (fmt(st.get("own_payload_bps"), 0),
                                                 fmt(st.get("own_segs"), 2))))
        lines.append("%-46s %12s" % ("  of which private (RssAnon) MiB; Pss MiB",
                                     "%s; %s" % (fmt(st.get("rss_anon_mib"), 2),
                                                 fmt(st.get("pss_mib"), 2))))
        lines.append("%-46s %12s" % ("suspicions during the simultaneous start (A)",
                                     fmt(st.get("startup_suspicions"))))
        lines.append("%-46s %12s" % ("idle messages sent per peer per s",
                                     fmt(st.get("msgs_per_s"), 2)))
        lines.append("%-46s %12s %12s" % ("machine busy % during idle (others included)",
                                          fmt(st.get("busy_idle")), fmt(sf.get("busy_idle"))))
        if st.get("cpu_on") is not None:
            lines.append("%-46s %12s %12s %10s" % (
                "endpoint on (even peers) vs off (odd): CPU %", fmt(st["cpu_on"], 4),
                fmt(st["cpu_off"], 4), ratio(st["cpu_on"], st["cpu_off"])))
            lines.append("%-46s %12s %12s %10s" % (
                "  and RSS MiB, median", fmt(st["rss_on"], 2), fmt(st["rss_off"], 2),
                ratio(st["rss_on"], st["rss_off"])))
            c, every = st.get("scrape_cost_ms"), st.get("scrape_every_s")
            lines.append("%-46s %12s   (%s %% of a core at one per %s s)" % (
                "one scrape of p0, ms of its CPU", fmt(c, 3),
                fmt(c / every / 10.0 if c is not None and every else None, 4), fmt(every, 0)))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--idle-s", type=float, default=60)
    ap.add_argument("--no-serf", action="store_true")
    ap.add_argument("--out", default=None, help="results directory (default /tmp/stagger-bench/<time>)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--health-ms", type=int, default=10000,
                    help="tuning.health_interval_ms in the dissemination phase (default 10000, "
                         "the daemon's; each change is picked up at once by SIGUSR1)")
    ap.add_argument("--tuning", action="append", metavar="KEY=MS",
                    help="extra tuning for both phases (experiments; default: none)")
    ap.add_argument("--settle-s", type=float, default=70,
                    help="wait after convergence before the idle minute starts (default 70: "
                         "connections opened during the start-up storm close after 60 s "
                         "without a send, and their teardown is start-up, not idle, traffic)")
    ap.add_argument("--gap-s", type=float, default=0.5)
    ap.add_argument("--trial-timeout-s", type=float, default=15)
    ap.add_argument("--fail-timeout-s", type=float, default=60)
    ap.add_argument("--serf-script",
                    default=os.path.join(os.path.dirname(ROOT), "shared", "bench", "serf",
                                         "serf_bench.sh"))
    ap.add_argument("--port-base", type=int, default=PORT_BASE,
                    help="peer i listens on PORT_BASE+i, within %d-%d (default %d)"
                    % (PORT_BASE, PORT_LAST, PORT_BASE))
    ap.add_argument("--serf-profile", default="lan")
    ap.add_argument("--serf-timeout-s", type=int, default=900)
    ap.add_argument("--metrics", action="store_true",
                    help="the even peers serve /metrics (127.0.0.1:PORT_BASE+%d+i), "
                         "scraped every --scrape-s during the idle window; the odd ones and "
                         "every peer without it have metrics off" % METRICS_OFFSET)
    ap.add_argument("--scrape-s", type=float, default=15,
                    help="the scrape interval with --metrics (default 15, Prometheus's)")
    add_pace_args(ap)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every change reached every peer and the killed "
                         "peer became unknown everywhere")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)  # daemons run with other working directories
    a.staggerd = os.path.join(a.build, "node", "shell", "staggerd")
    a.staggerctl = os.path.join(a.build, "node", "ctl", "staggerctl")
    for b in (a.staggerd, a.staggerctl):
        if not os.access(b, os.X_OK):
            raise SystemExit("bench: %s missing; build first (tests/bench/run.sh does)" % b)
    if a.port_base < PORT_BASE or a.port_base + max(a.n) - 1 > PORT_LAST or min(a.n) < 3:
        raise SystemExit("bench: N must be 3..%d with --port-base %d (ports %d-%d)" %
                         (PORT_LAST - a.port_base + 1, a.port_base, PORT_BASE, PORT_LAST))
    if not a.no_serf and not shutil.which("serf"):
        raise SystemExit("bench: serf not installed (apt-get install -y serf) or use --no-serf")
    global METRICS_BASE
    METRICS_BASE = a.port_base + METRICS_OFFSET
    a.tuning_a = a.tuning_b = parse_tuning(a.tuning)
    sync_ms = a.tuning_a.get("sync_interval_ms", default_sync_ms())
    out = a.out or os.path.join("/tmp/stagger-bench", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    a.out = os.path.abspath(out)
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sync_interval_ms": sync_ms, "git_dirty": _git_dirty(),
            "kernel": os.uname().release, "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(), "loadavg_start": loadavg(),
            "args": {k: v for k, v in vars(a).items() if k not in ("tuning_a", "tuning_b")},
            "git": _git_rev()}
    print("bench: results in %s" % a.out, flush=True)
    results = {}
    ok = True
    for n in a.n:
        base = os.path.join(a.out, "n%d" % n)
        os.makedirs(base, exist_ok=True)
        r = {"n": n}
        print("bench: N=%d stagger phase A (defaults: idle %gs, kill -9)" % (n, a.idle_s), flush=True)
        r["A"] = _phase(phase_idle_and_fail, a, n, base)
        print("bench: N=%d stagger phase B (health every %d ms, SIGUSR1 at each change: %d version changes)" %
              (n, a.health_ms, a.trials), flush=True)
        r["B"] = _phase(phase_dissemination, a, n, base)
        r["stagger"] = stagger_figures(r, n, sync_ms)
        if not a.no_serf:
            r["serf_profile"] = a.serf_profile
            r["serf_raw"] = run_serf(a, n, base)
            r["serf"] = serf_figures(r["serf_raw"])
        else:
            r["serf"] = {}
        results[n] = r
        st = r["stagger"]
        if st.get("dissem_not_all") != 0 or st.get("dissem_events") != a.trials \
                or st.get("fail_all_s") is None:
            ok = False
        scraped = _dig(r, ("A", "idle", "metrics"))
        if a.metrics and (not isinstance(scraped, dict) or scraped.get("scrapes_failed")
                          or not scraped.get("scrapes_ok") or st.get("scrape_cost_ms") is None):
            ok = False
        save_results(a.out, meta, results)
    save_results(a.out, meta, results, print_table(results, sync_ms))
    if a.check and not ok:
        print("bench: CHECK FAILED: a change did not reach every peer, or the killed peer "
              "was not unknown everywhere%s" % (", or a scrape failed" if a.metrics else ""),
              file=sys.stderr)
        return 1
    return 0


def save_results(out, meta, results, text=None):
    """OUT/summary.json after each N; with the final table also OUT/table.txt,
    and the end time and load in meta."""
    if text is not None:
        meta["loadavg_end"] = loadavg()
        meta["ended"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(os.path.join(out, "table.txt"), "w") as f:
            f.write(text + "\n")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"meta": meta, "results": {str(k): v for k, v in results.items()}}, f, indent=1)
    if text is not None:
        print("bench: summary %s" % os.path.join(out, "summary.json"))


def _phase(fn, a, n, base):
    """One phase; a failure (a peer that did not start, say) is recorded
    and the run goes on with the next phase."""
    try:
        return fn(a, n, base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("bench: N=%d: %s: %s" % (n, fn.__name__, e), file=sys.stderr, flush=True)
        return {"error": str(e)}


def default_sync_ms():
    """The daemon's default tuning.sync_interval_ms, read from
    stg_core_tuning_default in node/core/core.c (the interval the
    dissemination target is counted in)."""
    try:
        with open(os.path.join(ROOT, "node", "core", "core.c")) as f:
            src = f.read()
        body = src[src.index("void stg_core_tuning_default("):]
        return int(re.search(r"sync_interval_ms = (\d+);", body).group(1))
    except (OSError, ValueError, AttributeError):
        return 1000


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git_dirty():
    try:
        return subprocess.run(["git", "-C", ROOT, "status", "--short", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None


def _git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    sys.exit(main())
