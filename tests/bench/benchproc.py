"""benchproc.py: the processes a benchmark starts, tracked by PID and always
stopped: TERM, a bounded wait, then KILL; on exit and on SIGINT/TERM/HUP
too. Shared by bench_gossip.py and bench_emergency.py (stdlib only)."""
import atexit
import json
import os
import signal
import subprocess
import sys
import time

_PROCS = {}   # pid -> (Popen, label, group): everything started and not yet reaped


def spawn(argv, label, group=False, **kw):
    """Start argv, tracked; group=True gives it its own process group."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=group, **kw)
    _PROCS[p.pid] = (p, label, group)
    return p


def pace(i, batch, gap_s):
    """Before starting peer i of a fleet: a pause of gap_s after every
    `batch` peers (batch 0: all at once). 256 daemons started in the same
    second on two cores overload the machine for good (docs/benchmarks.md);
    started a batch at a time, they come up as a real fleet's machines do."""
    if batch and i and i % batch == 0:
        time.sleep(gap_s)  # the launch's own pace (what is measured), not a wait


def add_pace_args(ap):
    ap.add_argument("--launch-batch", type=int, default=0,
                    help="start the peers this many at a time (default 0: all at once)")
    ap.add_argument("--launch-gap-s", type=float, default=5.0,
                    help="the pause between those batches (default 5)")


def parse_tuning(items):
    """--tuning KEY=MS items (repeated) as the config's "tuning" object."""
    t = {}
    for it in items or []:
        k, _, v = it.partition("=")
        if not v:
            raise SystemExit("--tuning wants KEY=VALUE, got %r" % it)
        t[k] = int(v)
    return t


def forget(p):
    """p was reaped by the caller (it waited for it): stop tracking it."""
    _PROCS.pop(p.pid, None)


def _signal(p, group, sig):
    try:
        if group:
            os.killpg(p.pid, sig)   # the group we created for it: its pgid is its pid
        else:
            p.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(procs, grace=5.0):
    """TERM, wait at most `grace` s, then KILL; reaps and forgets them."""
    procs = [p for p in procs if p.pid in _PROCS]
    for p in procs:
        if p.poll() is None:
            _signal(p, _PROCS[p.pid][2], signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        if p.poll() is None:
            _signal(p, _PROCS[p.pid][2], signal.SIGKILL)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print("bench: pid %d (%s) would not die" % (p.pid, _PROCS[p.pid][1]),
                      file=sys.stderr)
        _PROCS.pop(p.pid, None)


def stop_everything():
    if _PROCS:
        stop([v[0] for v in list(_PROCS.values())], grace=15.0)


def _on_signal(signum, _frame):
    signal.signal(signum, signal.SIG_IGN)
    print("bench: signal %d, stopping everything" % signum, file=sys.stderr)
    stop_everything()
    sys.exit(128 + signum)


atexit.register(stop_everything)
for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def run(argv, timeout=30, **kw):
    """A short helper command (staggerctl): tracked, with a deadline."""
    p = spawn(argv, os.path.basename(argv[0]), stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop([p], grace=1.0)
        raise RuntimeError("%s timed out after %s s" % (" ".join(argv), timeout))
    forget(p)
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def make_roster(ctl, keys, names, port_base):
    """Keys for an operator and every name (kept if already there), and a
    roster signed by the operator in keys/roster.signed: one producer, one
    standby, the rest relays, name i on 127.0.0.1:port_base+i."""
    os.makedirs(keys, exist_ok=True)
    for k in ["operator"] + list(names):
        if os.path.exists(os.path.join(keys, k + ".key")):
            continue
        rc, _, err = run([ctl, "keygen", k], cwd=keys)
        if rc:
            raise RuntimeError("staggerctl keygen %s: %s" % (k, err.strip()))

    def pub(k):
        with open(os.path.join(keys, k + ".pub")) as f:
            return f.read().strip()
    roles = ["producer", "standby"] + ["relay"] * (len(names) - 2)
    members = [{"name": n, "key": pub(n), "endpoint": "tcp://127.0.0.1:%d" % (port_base + i),
                "role": roles[i], "flavour": "debian"} for i, n in enumerate(names)]
    doc = {"fleet": "bench", "serial": 1, "operators": [pub("operator")],
           "emergency_quorum": 1, "observers": [], "members": members}
    with open(os.path.join(keys, "roster.json"), "w") as f:
        json.dump(doc, f, indent=1)
    signed = os.path.join(keys, "roster.signed")
    if os.path.exists(signed):
        os.unlink(signed)
    rc, _, err = run([ctl, "roster", "sign", "--key", "operator.key", "-o", "roster.signed",
                      "roster.json"], cwd=keys)
    if rc:
        raise RuntimeError("staggerctl roster sign: %s" % err.strip())
