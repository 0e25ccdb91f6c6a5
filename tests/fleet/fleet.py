#!/usr/bin/python3
"""fleet.py: the harness of the multi-process fleet tests (tests/fleet/):
real staggerd processes on 127.0.0.1, keys and rosters made with staggerctl,
waiting only by polling status (or a log) against a deadline scaled by how
busy the machine is (measure_scale), status asked through one long-lived
CURVE client (StatusClient) rather than a staggerctl per poll, and a
pyzmq/PyNaCl client that speaks the peer protocol as an authenticated
member, for the tests that must send what staggerd never would.

Each test file is `test_NAME.py STAGGERD STAGGERCTL`, prints TAP, and runs
its body through main() below, which owns the temporary directory and every
process: all are killed by PID at the end (finally, atexit, SIGTERM), and on
a failure the tail of every daemon's log is printed as TAP comments.
Debian's /usr/bin/python3 with python3-zmq and python3-nacl (PITFALLS.md).
"""
import atexit
import base64
import calendar
import ctypes
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

try:
    import zmq
    from zmq.utils.monitor import recv_monitor_message
    from nacl.bindings import (crypto_sign_ed25519_pk_to_curve25519,
                               crypto_sign_ed25519_sk_to_curve25519)
    from nacl.signing import SigningKey
except ImportError as e:  # the suite needs Debian's python3-zmq and python3-nacl
    print("1..0 # SKIP %s (install python3-zmq and python3-nacl)" % e)
    sys.exit(0)

# The fleet: 1 producer, 1 standby, relays and dark relays, flavours alternating.
MEMBERS = [("bp", "producer"), ("standby", "standby"), ("relay1", "relay"),
           ("relay2", "relay"), ("dark1", "dark-relay"), ("relay3", "relay"),
           ("dark2", "dark-relay"), ("relay4", "relay")]
FLAVOURS = ["debian", "nix"]
FLEET = "loopback"

# Fast timers so a failure is seen in seconds; health_s in the roster policy
# (HEALTH_TIMEOUT_S, below: scaled like the deadlines). The health hook runs
# once a second, not faster: each run is a fork of the daemon and two execs
# of /bin/sh, and a fork of an ASan daemon (hundreds of MiB resident) copies
# its page tables. At 300 ms, two 8-node ASan fleets forked 53 times a
# second and that was about 40 % of the machine (perf, issue 11): the
# harness must not be the load it then blames the daemons for.
TUNING = {"probe_interval_ms": 300, "probe_timeout_ms": 150, "indirect_checks": 2,
          "suspicion_ms": 1200, "sync_interval_ms": 500, "fanout": 2,
          "health_interval_ms": 1000, "retransmit": 3}
POLL_S = 0.15

# docs/protocol.md §2 and proto/wire.c: the envelope and the peer frames.
DOC_TYPES = {"roster": 1, "release": 2, "record": 3, "command": 4}
MSG = {"ping": 1, "ack": 2, "ping-req": 3, "sync": 4, "digest": 5, "records": 6,
       "roster": 7, "roster-want": 8, "status-req": 20, "status-rep": 21, "error-rep": 22,
       "ok-rep": 23}
WIRE_MAX = 256 * 1024
# docs/protocol.md §6: reject reasons by their number in an error-rep.
REJECTS = ["NONE", "TOO_SHORT", "TOO_LONG", "BAD_MAGIC", "BAD_VERSION", "BAD_TYPE",
           "WRONG_TYPE_DOC", "BAD_LENGTH", "NO_SIGNATURE", "TOO_MANY_SIGNATURES",
           "DUPLICATE_SIGNER", "BAD_SIGNATURE", "UNKNOWN_SIGNER", "TOO_FEW_SIGNATURES",
           "BAD_UTF8", "BAD_JSON", "TOO_DEEP", "DUPLICATE_FIELD", "UNKNOWN_FIELD",
           "MISSING_FIELD", "WRONG_TYPE", "OUT_OF_RANGE", "BAD_VALUE", "DUPLICATE_VALUE",
           "BAD_KEY", "WRONG_FLEET", "STALE", "REPLAY", "EXPIRED", "NOT_YET",
           "UNAUTHENTICATED", "UNKNOWN_MEMBER", "IMPERSONATION", "BAD_FRAMES", "NOT_ALLOWED",
           "MISSING_CAPABILITY"]
OUTCOMES = ["applied", "held", "not-here", "pending"]


def verdict(reply):
    """A client reply (docs/protocol.md §7.9) as (kind, code name, text):
    ("refused", "REPLAY", ...) for an error-rep, ("accepted", "applied", ...)
    for an ok-rep, ("status", None, json) for a status-rep; None for no
    reply or anything else."""
    if reply is None or len(reply) < 10 or reply[0] != 1:
        return None
    if reply[1] == MSG["error-rep"] and len(reply) >= 11 and 0 < reply[10] < len(REJECTS):
        return ("refused", REJECTS[reply[10]], reply[11:].decode())
    if reply[1] == MSG["ok-rep"] and len(reply) >= 11 and reply[10] < len(OUTCOMES):
        return ("accepted", OUTCOMES[reply[10]], reply[11:].decode())
    if reply[1] == MSG["status-rep"]:
        return ("status", None, reply[10:].decode())
    return None

# ---- processes: every one we start is killed by PID, whatever happens ----

_live = {}  # pid -> Popen


def _kill_all():
    for pid, p in list(_live.items()):
        if p.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        _live.pop(pid, None)


def _on_sigterm(signum, frame):
    # meson's timeout: unwind through the finally blocks, which clean up.
    raise SystemExit(128 + signum)


atexit.register(_kill_all)
signal.signal(signal.SIGTERM, _on_sigterm)

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # A daemon must not outlive a harness that was itself SIGKILLed.
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---- ports: free at run time, and distinct between tests running at once ----

_PORT_DIR = os.path.join(tempfile.gettempdir(), "stagger-fleet-ports")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reserve_ports(n):
    """n TCP ports the kernel says are free on 127.0.0.1. The sockets are held
    until all are chosen (distinct within the test); a file per port under
    _PORT_DIR, named after it and holding our PID, keeps other fleet tests
    running in parallel off them until release_ports()."""
    os.makedirs(_PORT_DIR, exist_ok=True)
    held, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            path = os.path.join(_PORT_DIR, str(port))
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    owner = int(open(path).read() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and _pid_alive(owner):
                    continue
                os.unlink(path)  # left by a run that died
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def release_ports(ports):
    for p in ports:
        try:
            os.unlink(os.path.join(_PORT_DIR, str(p)))
        except FileNotFoundError:
            pass


# ---- deadlines: scaled by how busy the machine is ----

# A fixed amount of CPU work, timed on the wall clock: on a quiet core it
# takes as long as it computes; with k runnable processes per core (other
# tests, a CPU burner, a build) the scheduler gives it about 1/k of a core.
SCALE_LOOP_CPU_S = 0.3
SCALE_LOAD_MAX = 6.0
# Sanitizer trees (meson passes STAGGER_TEST_TREE, tests/fleet/meson.build)
# run every daemon and staggerctl about twice as slowly, busy or not.
TREE_FACTOR = {"plain": 1.0, "asan": 2.0}


def measure_scale():
    """(factor, how it was found): the multiplier of every deadline in this
    test. STAGGER_TEST_SCALE=X forces X (at least 1)."""
    tree = os.environ.get("STAGGER_TEST_TREE", "plain")
    forced = os.environ.get("STAGGER_TEST_SCALE")
    if forced:
        f = max(1.0, float(forced))
        return f, "forced by STAGGER_TEST_SCALE=%s" % forced
    cpu0, wall0 = time.thread_time(), time.monotonic()
    x = 0
    while time.thread_time() - cpu0 < SCALE_LOOP_CPU_S:
        for i in range(2000):
            x ^= i * i
    cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
    load = min(max(wall / cpu, 1.0), SCALE_LOAD_MAX)
    f = round(load * TREE_FACTOR.get(tree, 2.0), 1)
    return f, ("load %.2f (%.2f s of CPU work took %.2f s) x tree %s %.1f"
               % (load, cpu, wall, tree, TREE_FACTOR.get(tree, 2.0)))


# Measured once, when the test starts (this module is imported first).
SCALE, SCALE_HOW = measure_scale()
# The health hook's time limit: a shell script that runs in milliseconds on
# a quiet machine can take seconds on a loaded one, and a hook that times
# out is a test machine too slow for its configuration, not a finding.
HEALTH_TIMEOUT_S = math.ceil(1 * SCALE)


# ---- TAP ----

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, desc, detail=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond:
            self.failed += 1
            self.note(detail)
        return bool(cond)

    def note(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)


# ---- the envelope and records, from docs/protocol.md §2 ----

def b64(raw):
    return base64.b64encode(raw).decode()


def seal(doc_type, payload, key):
    """An envelope of payload signed by SigningKey key."""
    msg = b"stagger/v1/" + doc_type.encode() + b"\0" + payload
    sig = key.sign(msg).signature
    head = b"STG" + bytes([1, DOC_TYPES[doc_type], 1]) + struct.pack(">I", len(payload))
    return head + payload + bytes(key.verify_key) + sig


def record_payload(node, inc, seq, version, health="healthy", detail="", flavour="debian",
                   fleet=FLEET):
    now = int(time.time() * 1000)
    doc = {"fleet": fleet, "node": node, "inc": inc, "seq": seq, "time_ms": now,
           "component": "cardano-node", "version": version, "flavour": flavour,
           "health": health, "detail": detail, "health_since_ms": now, "phase": "idle",
           "release": "", "phase_since_ms": now}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def frame(msg_type, serial, body=b"", version=1):
    """version u8 | type u8 | roster_serial u64be | body (proto/wire.c)."""
    t = MSG[msg_type] if isinstance(msg_type, str) else msg_type
    return bytes([version, t]) + struct.pack(">Q", serial) + body


def records_frame(serial, envelopes):
    body = bytes([len(envelopes)])
    for e in envelopes:
        body += struct.pack(">H", len(e)) + e
    return frame("records", serial, body)


def ping_frame(serial, seq, claims=(), summary=bytes(8), held=0):
    """claims: (member index, state 0/1/2, incarnation); summary: the 8-byte
    version-vector hash a ping carries (any value will do: a differing one
    only makes the receiver start a digest exchange)."""
    body = struct.pack(">I", seq) + summary + struct.pack(">H", held) + bytes([len(claims)])
    for member, state, inc in claims:
        body += struct.pack(">HBQ", member, state, inc)
    return frame("ping", serial, body)


# ---- the fleet ----

class Status:
    """One `staggerctl status` answer: exit code, parsed JSON (or None), text."""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        try:
            self.doc = json.loads(out) if out.strip().startswith("{") else None
        except ValueError:
            self.doc = None

    def row(self, name):
        for m in (self.doc or {}).get("members", []):
            if m.get("name") == name:
                return m
        return None

    def rejects(self, reason):
        return ((self.doc or {}).get("rejects") or {}).get(reason, 0)

    def transport(self, field):
        return ((self.doc or {}).get("transport") or {}).get(field, 0)

    def __repr__(self):
        return "rc=%d err=%r" % (self.rc, self.err.strip()[-300:])


# staggerctl's exit codes for status (node/ctl/status.c), which Status.rc
# mirrors whichever client asked.
RC_HEALTHY, RC_DEGRADED, RC_UNREACHABLE, RC_HALTED = 0, 1, 2, 4
RC_REFUSED = 1  # an error-rep: the peer refused the request


def status_of(text):
    """A Status for a status-rep's JSON text, rc as staggerctl would exit
    (status_exit in node/ctl/status.c): 4 when the rollout is halted or a
    member failed (an update of any component), else 0 healthy or 1
    degraded."""
    st = Status(RC_DEGRADED, text + "\n", "")
    doc = st.doc or {}
    rollout = doc.get("rollout") or {}
    state = (doc.get("summary") or {}).get("state")
    failed = [r for r in [rollout] + list(rollout.get("components") or [])
              if isinstance(r.get("failed"), dict)]
    if rollout.get("halted") is True or failed:
        st.rc = RC_HALTED
    else:
        st.rc = RC_HEALTHY if state == "healthy" else RC_DEGRADED
    return st


_monitor_ids = itertools.count(1)


def monitor(sock, events):
    """sock's monitor PAIR on an inproc address of its own. pyzmq's default
    address is named after the socket's file descriptor, and libzmq frees
    a disabled monitor's address only later, from its reaper thread: a new
    monitor on the same descriptor then failed with "Address already in
    use" on a busy machine."""
    return sock.get_monitor_socket(events, addr="inproc://stagger-monitor-%d-%d"
                                   % (os.getpid(), next(_monitor_ids)))


class StatusClient:
    """The harness's one status client: a CURVE DEALER per (peer, key) that
    stays connected across polls (docs/protocol.md §7.1, §8), so polling
    costs the machine a frame, not a process and a handshake. A socket that
    went unanswered or was refused is closed, so a late reply can never be
    taken for the answer to a later request; the next poll opens a new one."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.socks = {}  # (peer, key) -> (DEALER, monitor PAIR)

    def _open(self, peer, key):
        k = (peer, key)
        if k not in self.socks:
            self.socks[k] = self.fleet.dealer(peer, key, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        return self.socks[k]

    def _drop(self, k):
        s, mon = self.socks.pop(k)
        s.disable_monitor()
        mon.close(0)
        s.close(0)

    def ask(self, peers, key, timeout_s):
        """Each peer's Status, asked at once; a peer that does not answer
        within timeout_s gets rc 2 and staggerctl's words for it."""
        out, waiting = {}, {}
        req = frame("status-req", 0)
        for p in peers:
            s, mon = self._open(p, key)
            try:
                s.send(req, zmq.NOBLOCK)
                waiting[p] = (s, mon)
            except zmq.Again:  # no pipe to it at all: as good as silent
                self._drop((p, key))
                out[p] = self._silent(p)
        poller = zmq.Poller()
        for s, mon in waiting.values():
            poller.register(s, zmq.POLLIN)
            poller.register(mon, zmq.POLLIN)
        deadline = time.monotonic() + timeout_s
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = dict(poller.poll(left * 1000))
            for p, (s, mon) in list(waiting.items()):
                if mon in ready:
                    ev = recv_monitor_message(mon)["event"]
                    if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                        out[p] = Status(RC_UNREACHABLE, "", "%s (%s): refused our key: use an "
                                        "operator or observer key listed in this roster"
                                        % (p, self.fleet.nodes[p].endpoint))
                elif s in ready:
                    out[p] = self._reply(p, s.recv())
                if p in out:
                    poller.unregister(s)
                    poller.unregister(mon)
                    del waiting[p]
                    if out[p].rc == RC_UNREACHABLE:
                        self._drop((p, key))
        for p in waiting:
            self._drop((p, key))
            out[p] = self._silent(p)
        return out

    def _silent(self, p):
        return Status(RC_UNREACHABLE, "", "%s (%s): no answer (is staggerd running there?)"
                      % (p, self.fleet.nodes[p].endpoint))

    def _reply(self, p, rep):
        if len(rep) >= 10 and rep[0] == 1 and rep[1] == MSG["status-rep"]:
            return status_of(rep[10:].decode(errors="replace"))
        if len(rep) >= 10 and rep[0] == 1 and rep[1] == MSG["error-rep"]:
            return Status(RC_REFUSED, "", "%s: %s" % (p, rep[10:].decode(errors="replace")))
        return Status(RC_UNREACHABLE, "", "%s: unexpected reply %r" % (p, rep[:40]))

    def close(self):
        for k in list(self.socks):
            self._drop(k)


class Node:
    def __init__(self, fleet, name, role, flavour, port):
        self.name, self.role, self.flavour, self.port = name, role, flavour, port
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.dir = os.path.join(fleet.dir, name)
        self.key = os.path.join(fleet.keys, name + ".key")
        self.roster = os.path.join(self.dir, "roster.signed")
        self.config = os.path.join(self.dir, "staggerd.json")
        self.hook = os.path.join(self.dir, "health.sh")
        self.log = os.path.join(self.dir, "staggerd.log")
        self.update_hooks = {h: os.path.join(self.dir, h + ".sh") for h in UPDATE_HOOKS}
        self.proc = None
        self.exe = None  # this node's own staggerd binary; None: the fleet's


HOOK = r"""#!/bin/sh
# Health hook of one test node: what it does is set by files beside it
# (fleet.py set_health): "mode" healthy | unhealthy | hang, "version", "detail";
# "forging" 1 or 0 (what a cardano-node hook reports);
# "tip" (BLOCK:SLOT:HASH, the chain tip the service follows, written by
# the test): reported as tip=;
# "build" (the installed artifact's SHA-256, written by the install hook):
# reported as build=sha256:HEX, as a container's image digest is;
# "restart-until" (Unix ms, written by the install hook): restarting till then;
# "crashing" (written by the install hook): the service restarts before
# every run, counted in "restarts" and reported as restarts=N.
d='%s'
[ -d "$d" ] || exit 9
# The role staggerd says this node has (it follows an operator's promote).
echo "${STAGGER_ROLE:-}" >"$d/.role-seen.$$" && mv "$d/.role-seen.$$" "$d/role-seen"
v=
read -r v <"$d/version" 2>/dev/null
[ -n "$v" ] && echo "version=$v"
if [ -e "$d/forging" ]; then read -r fg <"$d/forging"; echo "forging=$fg"; fi
b=
read -r b <"$d/build" 2>/dev/null
[ -n "$b" ] && echo "build=sha256:$b"
t=
read -r t <"$d/tip" 2>/dev/null
[ -n "$t" ] && echo "tip=$t"
if [ -e "$d/crashing" ]; then
    c=0
    read -r c <"$d/restarts" 2>/dev/null
    c=$((c + 1))
    echo "$c" >"$d/restarts"
    echo "restarts=$c"
fi
if [ -e "$d/restart-until" ]; then
    u=0
    read -r u <"$d/restart-until"
    now=$(date +%%s%%3N)
    if [ "$now" -lt "$u" ]; then
        echo "progress=$now"
        echo "detail=restarting on $v"
        exit 1
    fi
fi
mode=healthy
read -r mode <"$d/mode" 2>/dev/null
case $mode in
healthy)
    # "warn": a healthy node's warning (a producer's KES periods), as the
    # cardano-node hook words it
    w=
    read -r w <"$d/warn" 2>/dev/null
    [ -n "$w" ] && echo "detail=$w"
    exit 0 ;;
unhealthy)
    detail=
    read -r detail <"$d/detail" 2>/dev/null
    echo "detail=$detail"
    exit 1 ;;
hang)
    # Until staggerd kills it; bounded, so a hook orphaned by a kill -9 of
    # its daemon goes away by itself once the mode changes or the test ends.
    n=0
    while [ $n -lt 300 ] && [ -d "$d" ] && [ "$mode" = hang ]; do
        sleep 0.1  # the hang being simulated; polls its mode file, bounded
        read -r mode <"$d/mode" 2>/dev/null || mode=
        n=$((n + 1))
    done
    exit 3 ;;
esac
exit 2
"""


# The update hooks of one test node, stand-ins like deploy/demo's: what they
# do is set by files in the node's directory (fleet.py set_update), and each
# run leaves "<unix ms> <hook> <version> <event>" lines in hooks.log, which
# tests read as evidence independent of staggerd's own log. The "service" is
# the health hook's version file: install switches it, rollback puts it back.
UPDATE_HOOK_HEAD = r"""#!/bin/sh
# %s hook of one test node (tests/fleet/fleet.py UPDATE_HOOKS).
d='%s'
[ -d "$d" ] || exit 9
note() { echo "$(date +%%s%%3N) $STAGGER_HOOK $STAGGER_RELEASE_VERSION $*" >>"$d/hooks.log"; }
put() { printf '%%s\n' "$2" >"$d/.$1.$$" && mv "$d/.$1.$$" "$d/$1"; }
"""
UPDATE_HOOKS = {
    # Files: "fail-install" (exit 1 with its text), "install-ms" (how long
    # it takes), "install-align" ("START_MS LENGTH_MS OFFSET_MS": it ends
    # OFFSET_MS after the next epoch boundary, to place a node's turning
    # healthy on the epoch grid), "restart-ms" (the service then restarts:
    # unhealthy that long), "sick" (the new version never turns healthy),
    # "crashloop" (the new version crashes and is restarted again and again:
    # unhealthy, with a restart count that climbs), "reboot-away" (below).
    "install": r"""note "begin pid $$"
if [ -e "$d/fail-install" ]; then
    note fail
    cat "$d/fail-install"
    exit 1
fi
# stderr first: a failed "<" must not write to the daemon's pipe, which a
# hook orphaned by a kill -9 of its daemon would die of (SIGPIPE).
ms=0
read -r ms 2>/dev/null <"$d/install-ms"
# In tenths of a second, so a hook orphaned by a kill -9 of its daemon
# still ends by itself, and at once when the test's directory is gone.
n=0
while [ $((n * 100)) -lt "$ms" ] && [ -d "$d" ]; do
    sleep 0.1  # the install's simulated duration, bounded, polls its directory
    n=$((n + 1))
done
if [ -e "$d/install-align" ]; then
    read -r start len off <"$d/install-align"
    now=$(date +%s%3N)
    until=$((start + ((now - start) / len + 1) * len + off))
    while [ "$(date +%s%3N)" -lt "$until" ] && [ -d "$d" ]; do
        sleep 0.1  # simulated duration up to a set instant; polls its directory
    done
fi
[ -d "$d" ] || exit 9
put previous "$(cat "$d/version")"
put previous-build "$(cat "$d/build" 2>/dev/null)"
if [ -e "$d/sick" ]; then
    put detail "$(cat "$d/sick")"
    put mode unhealthy
fi
if [ -e "$d/crashloop" ]; then
    put detail "$(cat "$d/crashloop")"
    put mode unhealthy
    put crashing 1
fi
r=0
read -r r 2>/dev/null <"$d/restart-ms"
[ "$r" -gt 0 ] && put restart-until $(($(date +%s%3N) + r))
put version "$STAGGER_RELEASE_VERSION"
put build "$STAGGER_ARTIFACT_SHA256"
# "reboot-away" (seconds): the install needs a reboot, as the os-debian hook
# does: it announces the absence (away=), waits for staggerd's answer on
# STAGGER_ANSWER_FD, writes "reboot-now" and waits for the test to "reboot"
# (stop the daemon, kill this hook); bounded, it ends when the file goes.
if [ -e "$d/reboot-away" ]; then
    read -r s <"$d/reboot-away"
    echo "away=$s"
    a=
    case ${STAGGER_ANSWER_FD:-} in
        [0-9]) a=$(timeout 10 sh -c "read -r x <&$STAGGER_ANSWER_FD && echo \"\$x\"") ;;
    esac
    note "away $s answered ${a:-nothing}"
    : >"$d/reboot-now"
    n=0
    while [ -e "$d/reboot-now" ] && [ $n -lt 600 ] && [ -d "$d" ]; do
        sleep 0.1  # the reboot under way: the test kills it; bounded
        n=$((n + 1))
    done
    exit 0
fi
note end
echo "installed $STAGGER_RELEASE_VERSION ($STAGGER_FLAVOUR) from $STAGGER_ARTIFACT"
""",
    # The previous version back, healthy again.
    "rollback": r"""note "begin pid $$"
[ -e "$d/previous" ] && put version "$(cat "$d/previous")"
pb=$(cat "$d/previous-build" 2>/dev/null)
if [ -n "$pb" ]; then put build "$pb"; else rm -f "$d/build"; fi
put mode healthy
rm -f "$d/crashing"
v=$(cat "$d/version")
note "end $v"
echo "rolled back to $v"
""",
    # Yes, unless a file "gate-no" says why not. It notes the epoch schedule
    # staggerd hands every hook (the roster's), for the tests to compare.
    "gate": r"""note asked epoch "$STAGGER_EPOCH_START_S" "$STAGGER_EPOCH_LENGTH_S" "$STAGGER_EPOCH_GUARD_S"
if [ -e "$d/gate-no" ]; then
    cat "$d/gate-no"
    exit 1
fi
exit 0
""",
}

# ---- rollouts (issue 4): a policy with test-sized times ----

NEW_VERSION = "10.5.3"
# The artifacts' SHA-256s Fleet.release signs by default, per flavour.
RELEASE_BUILDS = {"debian": "5" * 64, "nix": "7" * 64}
ROLE_STAGE = {"relay": 1, "dark-relay": 2, "producer": 3, "standby": 4}


def rollout_policy(batch=1, soak_s=2, epoch_s=8, unavailable_max=1, health_deadline_s=60):
    """A roster policy for rollout tests: seconds instead of days. The epoch
    grid starts on a multiple of its length; one boundary makes the proof
    (proof_epochs 1) and the producer keeps 1 s off each boundary (guard_s).
    health_deadline_s cannot go under the roster's minimum of 60."""
    start = int(time.time()) // epoch_s * epoch_s
    return {"batch": batch, "soak_s": soak_s, "unavailable_max": unavailable_max,
            "epoch": {"start_s": start, "length_s": epoch_s, "proof_epochs": 1, "guard_s": 1},
            "timeouts": {"health_s": HEALTH_TIMEOUT_S, "install_s": 30, "rollback_s": 30,
                         "gate_s": 5},
            "health_deadline_s": health_deadline_s}


def blake8(data):
    """BLAKE2b with an 8-byte output (libsodium crypto_generichash, outlen 8)."""
    return hashlib.blake2b(data, digest_size=8).digest()


def envelope_payload(env):
    """The payload of an envelope: STG, version, type, signature count, u32be
    length, payload (docs/protocol.md §2, seal() above)."""
    n = struct.unpack(">I", env[6:10])[0]
    return env[10:10 + n]


def release_id(signed_path):
    """docs/protocol.md §9.1: the first 8 bytes of BLAKE2b of the payload, hex."""
    return blake8(envelope_payload(open(signed_path, "rb").read())).hex()


def holdback_members(roster):
    """The holdback set of a roster document, by docs/protocol.md §4.3."""
    ms = roster["members"]
    flagged = [m["name"] for m in ms if m.get("holdback") is True]
    if flagged:
        return set(flagged)
    def first(role):
        names = sorted((m["name"] for m in ms if m["role"] == role and
                        m.get("holdback") is not False), key=lambda n: n.encode())
        return names[:1]

    return set(first("standby") + (first("dark-relay") or first("relay")))


def expected_order(roster, rid_hex):
    """The update order of docs/protocol.md §9.3, computed here from the spec
    (not from staggerd): stage, then rank inside the flavour, then the
    flavour's key, then the name's key. Returns [(name, stage)]."""
    rid = bytes.fromhex(rid_hex)
    hold = holdback_members(roster)

    def key(x):
        return int.from_bytes(blake8(rid + x.encode()), "big")

    ms = roster["members"]
    stage = {m["name"]: 100 if m["name"] in hold else m.get("stage", ROLE_STAGE[m["role"]])
             for m in ms}
    rows = []
    for i, m in enumerate(ms):
        n = m["name"]
        rank = sum(1 for j, o in enumerate(ms)
                   if stage[o["name"]] == stage[n] and o["flavour"] == m["flavour"] and
                   (key(o["name"]) < key(n) or (key(o["name"]) == key(n) and j < i)))
        rows.append(((stage[n], rank, key(m["flavour"]), key(n), i), n))
    return [(n, k[0]) for k, n in sorted(rows)]


# ---- staggerd's log: the executor's "[exec] old -> new" lines ----

EXEC_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z (\S+) +\w+ +\[exec\] "
                       r"([a-z-]+) -> ([a-z-]+) \((\S+) (\S+)\)(?:: (.*))?$")
START_MARK = "=== fleet.py: start"


class Move:
    """One executor transition from a log line; t is Unix ms (the line's UTC
    timestamp); run counts the fleet.py starts of the daemon (1 = first)."""

    def __init__(self, t, old, new, version, detail, run):
        self.t, self.old, self.new, self.version = t, old, new, version
        self.detail, self.run = detail or "", run

    def __repr__(self):
        return "%s %s -> %s (%s, run %d)%s" % (
            time.strftime("%H:%M:%S", time.gmtime(self.t / 1000)) + ".%03d" % (self.t % 1000),
            self.old, self.new, self.version, self.run, ": " + self.detail if self.detail else "")


def parse_exec(text):
    moves, run = [], 0
    for line in text.splitlines():
        if line.startswith(START_MARK):
            run += 1
            continue
        m = EXEC_LINE.match(line)
        if m:
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 1000 + \
                int(m.group(2))
            moves.append(Move(t, m.group(4), m.group(5), m.group(7), m.group(8), run))
    return moves


def spans(moves):
    """[(phase, start ms, end ms or None)] from a node's moves: each move
    ends the phase it leaves and begins the one it enters."""
    out = []
    for mv in moves:
        if out and out[-1][2] is None:
            out[-1] = (out[-1][0], out[-1][1], mv.t)
        out.append((mv.new, mv.t, None))
    return out


BUSY_END = ("done", "rolled-back")


def busy_spans(moves):
    """[(start, end or None)]: from each "-> elected" to the next done or
    rolled-back, the time a node holds (or uses) an update slot."""
    out, start = [], None
    for mv in moves:
        if mv.new == "elected" and start is None:
            start = mv.t
        elif mv.new in BUSY_END and start is not None:
            out.append((start, mv.t))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def max_overlap(intervals):
    """The most intervals open at one instant, and that instant; an interval
    ending at the instant another starts does not overlap it."""
    ev = []
    for a, b in intervals:
        ev.append((a, 1))
        ev.append((b if b is not None else float("inf"), -1))
    ev.sort(key=lambda e: (e[0], e[1]))
    cur = best = 0
    at = None
    for t, d in ev:
        cur += d
        if cur > best:
            best, at = cur, t
    return best, at


def boundaries_between(policy, a_ms, b_ms):
    """Epoch boundaries in (a_ms, b_ms] (docs/protocol.md §9.6)."""
    start, length = policy["epoch"]["start_s"] * 1000, policy["epoch"]["length_s"] * 1000
    if b_ms <= a_ms:
        return 0
    return (b_ms - start) // length - (a_ms - start) // length


# ---- the status page (node/shell/page.c, docs/operations.md "The status page")

def page_escape(text):
    """TEXT as the page escapes it (page.c html()): &, <, >, " and '."""
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        text = text.replace(a, b)
    return text


PAGE_COMPONENT_ROW = re.compile(r'<tr data-component="([^"]*)" class="(\w+)">(.*?)</tr>')


def page_component_rollouts(page):
    """The page's table of the rollouts beside the primary's, as served:
    component -> (row class, [each cell's HTML])."""
    return {m.group(1): (m.group(2), re.findall(r"<td[^>]*>(.*?)</td>", m.group(3)))
            for m in PAGE_COMPONENT_ROW.finditer(page)}


def page_component_row(ro):
    """What the page must serve for one entry of status's rollout.components
    (docs/protocol.md §8): (row class, [each cell's HTML]), every text from
    the document escaped."""
    rel, failed = ro.get("release"), ro.get("failed")
    failed = failed if isinstance(failed, dict) else None
    cls = "halted" if ro.get("halted") is True else "failed" if failed else "running"
    return cls, [
        page_escape(ro.get("component", "")),
        "<b>%s</b> (id %s)" % (page_escape(rel["version"]), page_escape(rel["id"])) if rel
        else "no release adopted",
        page_escape(ro.get("waiting", "")),
        str(ro.get("pending")) if rel else "",
        "; ".join("%s %s" % (page_escape(w["name"]), page_escape(w["phase"]))
                  for w in ro.get("wave") or []),
        "%s: %s" % (page_escape(failed["node"]), page_escape(failed["detail"])) if failed else ""]


class Fleet:
    def __init__(self, staggerd, staggerctl, tap, n=8, versions=None, policy=None,
                 metrics=False):
        self.staggerd = os.path.realpath(staggerd)
        self.ctl_path = os.path.realpath(staggerctl)
        # What every record's `stagger` should say: `staggerd --version`
        # without the program's name ("0.1.0 (git 1a2b3c4)").
        out = subprocess.run([self.staggerd, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        self.stagger_version = out.split(" ", 1)[1] if " " in out else out
        self.tap = tap
        self.dir = tempfile.mkdtemp(prefix="stagger-fleet-")
        self.keys = os.path.join(self.dir, "keys")
        os.mkdir(self.keys)
        # two spare, for intruders; with metrics, one more per node for its
        # Prometheus endpoint (off otherwise: parallel fleets would all
        # want the default port)
        self.ports = reserve_ports(n + 2 + (n if metrics else 0))
        self.spare_ports = self.ports[n:n + 2]
        self.metrics_ports = self.ports[n + 2:]
        self.zctx = None
        self.nodes = {}
        self.order = []
        self.policy = policy
        self.stopped = set()
        self.scale = SCALE
        tap.note("deadlines x %.1f: %s; health hook timeout %d s" % (SCALE, SCALE_HOW,
                                                                      HEALTH_TIMEOUT_S))
        self.statuses = None
        self.pub("op")
        for i in range(n):
            name, role = MEMBERS[i] if i < len(MEMBERS) else ("relay%d" % (i + 1), "relay")
            node = Node(self, name, role, FLAVOURS[i % 2], self.ports[i])
            os.mkdir(node.dir)
            self.pub(name)
            with open(node.hook, "w") as f:
                f.write(HOOK % node.dir)
            os.chmod(node.hook, 0o755)
            for h, path in node.update_hooks.items():
                with open(path, "w") as f:
                    f.write(UPDATE_HOOK_HEAD % (h, node.dir) + UPDATE_HOOKS[h])
                os.chmod(path, 0o755)
            version = (versions or {}).get(name, "10.5.1" if i % 2 == 0 else "10.5.2")
            self.set_health(name, "healthy", version=version)
            self.nodes[name] = node
            self.order.append(name)
        self.roster = self.sign_roster(self.roster_doc(1), "roster1")
        for node in self.nodes.values():
            shutil.copy(self.roster, node.roster)
            self.write_config(node)

    # -- keys, rosters, configs

    def metrics_port(self, name):
        """The port of NAME's Prometheus endpoint (a fleet made with metrics)."""
        return self.metrics_ports[self.order.index(name)]

    def http(self, name, path="/"):
        """GET PATH from NAME's metrics endpoint (a fleet made with metrics):
        the body as text."""
        url = "http://127.0.0.1:%d%s" % (self.metrics_port(name), path)
        with urllib.request.urlopen(url, timeout=self.deadline(5)) as r:
            return r.read().decode()

    def deadline(self, seconds):
        """A deadline of SECONDS on a quiet machine, scaled for this one."""
        return seconds * self.scale

    def ctl(self, *args, timeout=15):
        return subprocess.run([self.ctl_path] + [str(a) for a in args], cwd=self.dir,
                              capture_output=True, text=True, timeout=self.deadline(timeout))

    def pub(self, name):
        """Public key text of keys/NAME, made with staggerctl keygen if new."""
        path = os.path.join(self.keys, name + ".pub")
        if not os.path.exists(path):
            r = subprocess.run([self.ctl_path, "keygen", name], cwd=self.keys,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("staggerctl keygen %s: %s" % (name, r.stderr))
        return open(path).read().strip()

    def keyfile(self, name):
        return os.path.join(self.keys, name + ".key")

    def signing_key(self, name):
        """The Ed25519 key of keys/NAME.key (base64 seed, docs/protocol.md §1)."""
        return SigningKey(base64.b64decode(open(self.keyfile(name)).read().strip()))

    def roster_doc(self, serial, observers=(), extra_members=(), operators=("op",),
                   members=None):
        names = self.order if members is None else members
        doc = {"fleet": FLEET, "serial": serial,
               "operators": [self.pub(o) for o in operators], "emergency_quorum": 1,
               "observers": [self.pub(o) for o in observers],
               "members": [{"name": n, "key": self.pub(n), "endpoint": self.nodes[n].endpoint,
                            "role": self.nodes[n].role, "flavour": self.nodes[n].flavour}
                           for n in names] + list(extra_members),
               "policy": self.policy or {"timeouts": {"health_s": HEALTH_TIMEOUT_S}}}
        return doc

    def sign_roster(self, doc, stem, key="op"):
        """Write STEM.json and sign it with staggerctl; returns STEM.signed."""
        js = os.path.join(self.dir, stem + ".json")
        out = os.path.join(self.dir, stem + ".signed")
        with open(js, "w") as f:
            json.dump(doc, f, indent=1)
        r = self.ctl("roster", "sign", "--key", self.keyfile(key), "-o", out, js)
        if r.returncode != 0:
            raise RuntimeError("staggerctl roster sign %s: %s" % (stem, r.stderr))
        return out

    def write_config(self, node, roster=None, key=None):
        cfg = {"key": key or node.key, "roster": roster or node.roster,
               "state_dir": os.path.join(node.dir, "state"), "component": "cardano-node",
               "hooks": dict(node.update_hooks, health=node.hook), "log_level": "info",
               "tuning": TUNING, "metrics": ""}
        if self.metrics_ports:
            cfg["metrics"] = "127.0.0.1:%d" % self.metrics_port(node.name)
        with open(node.config, "w") as f:
            json.dump(cfg, f, indent=1)

    # -- the health hook's behaviour

    def set_health(self, name, mode, version=None, detail=None, build=None):
        d = os.path.join(self.dir, name)
        for field, value in (("mode", mode), ("version", version), ("detail", detail),
                             ("build", build)):
            if value is None:
                continue
            tmp = os.path.join(d, "." + field)
            with open(tmp, "w") as f:
                f.write(value + "\n")
            os.replace(tmp, os.path.join(d, field))

    def set_update(self, name, **files):
        """The update hooks' behaviour: fail_install="why", install_ms=N,
        restart_ms=N, sick="detail", crashloop="detail",
        install_align="START LENGTH OFFSET" (ms)
        (see UPDATE_HOOKS); None removes the file."""
        d = os.path.join(self.dir, name)
        for field, value in files.items():
            path = os.path.join(d, field.replace("_", "-"))
            if value is None:
                if os.path.exists(path):
                    os.unlink(path)
                continue
            with open(path + ".t", "w") as f:
                f.write("%s\n" % value)
            os.replace(path + ".t", path)

    def version_of(self, name):
        """What the node's "service" runs: the version its health hook prints."""
        return open(os.path.join(self.dir, name, "version")).read().strip()

    # -- processes

    def start(self, name, tries=3, env=None):
        """Start NAME's staggerd and wait (by its log) until it listens.
        env: variables to add to its environment (e.g. libfaketime's)."""
        node = self.nodes[name]
        for attempt in range(tries):
            log = open(node.log, "a")
            log.write("=== fleet.py: start %s\n" % name)
            log.flush()
            p = subprocess.Popen([node.exe or self.staggerd, "--config", node.config],
                                 stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, cwd=node.dir,
                                 preexec_fn=_die_with_parent,
                                 env=dict(os.environ, **env) if env else None)
            log.close()
            _live[p.pid] = p
            node.proc = p
            if self.wait_log(name, "listening on", 10, since_start=True):
                return p
            if p.poll() is None:
                raise RuntimeError("%s: staggerd did not report listening in %.0f s"
                                   % (name, self.deadline(10)))
            _live.pop(p.pid, None)
            # A port taken in the gap between our check and its bind (another
            # process's outgoing connection) is the only retryable failure.
            if "cannot listen" not in self.log_tail(name, 5):
                break
        raise RuntimeError("%s: staggerd exited with %s:\n%s"
                           % (name, p.returncode, self.log_tail(name, 20)))

    def start_all(self, names=None):
        for n in names or self.order:
            self.start(n)

    def pid(self, name):
        return self.nodes[name].proc.pid

    def kill9(self, name):
        p = self.nodes[name].proc
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        _live.pop(p.pid, None)

    def stop(self, name, timeout=10):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        p = self.nodes[name].proc
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(self.deadline(timeout))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
                _live.pop(p.pid, None)
                return None
        _live.pop(p.pid, None)
        return p.returncode

    def hup(self, name):
        os.kill(self.nodes[name].proc.pid, signal.SIGHUP)

    def sigstop(self, name):
        """Freeze NAME: to its peers it is partitioned away (cleanup resumes it)."""
        self.stopped.add(name)
        os.kill(self.nodes[name].proc.pid, signal.SIGSTOP)

    def sigcont(self, name):
        p = self.nodes[name].proc
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
        self.stopped.discard(name)

    def alive(self, name):
        p = self.nodes[name].proc
        return p is not None and p.poll() is None

    def start_extra(self, tag, config, log):
        """A staggerd outside the fleet (an intruder), tracked like the others."""
        f = open(log, "a")
        p = subprocess.Popen([self.staggerd, "--config", config], stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        f.close()
        _live[p.pid] = p
        self.extra_logs = getattr(self, "extra_logs", []) + [(tag, log)]
        return p

    # -- logs

    def log_text(self, name, since_start=False):
        try:
            text = open(self.nodes[name].log, errors="replace").read()
        except FileNotFoundError:
            return ""
        if since_start:
            text = text[text.rfind("=== fleet.py: start"):]
        return text

    def log_tail(self, name, lines=60):
        return "\n".join(self.log_text(name).splitlines()[-lines:])

    def wait_log(self, name, needle, timeout, since_start=False):
        deadline = time.monotonic() + self.deadline(timeout)
        while True:
            if needle in self.log_text(name, since_start):
                return True
            if time.monotonic() >= deadline or not self.alive(name):
                return needle in self.log_text(name, since_start)
            time.sleep(0.05)  # poll interval of a wait with a deadline

    def dump_logs(self):
        for name in self.order:
            self.tap.note("---- %s (pid %s) log tail ----\n%s" % (
                name, self.nodes[name].proc.pid if self.nodes[name].proc else "-",
                self.log_tail(name, 40)))
        for tag, log in getattr(self, "extra_logs", []):
            try:
                text = "\n".join(open(log, errors="replace").read().splitlines()[-40:])
            except FileNotFoundError:
                text = ""
            self.tap.note("---- %s log tail ----\n%s" % (tag, text))

    # -- status: polled through one long-lived client, staggerctl on request

    STATUS_TIMEOUT_S = 2.0

    def status_cmd(self, peer, key="op", roster=None, as_json=True, timeout_ms=None):
        cmd = [self.ctl_path, "status", "--key", self.keyfile(key),
               "--roster", roster or self.roster, "--timeout-ms",
               str(int(self.deadline(timeout_ms or self.STATUS_TIMEOUT_S * 1000)))]
        if peer:
            cmd += ["--peer", peer]
        if as_json:
            cmd.append("--json")
        return cmd

    def status(self, peer, ctl=False, **kw):
        """PEER's Status. JSON views of fleet members come from the
        harness's own client (StatusClient); the table (as_json=False), the
        first peer that answers (peer None), a peer outside the fleet, and
        ctl=True (a check of staggerctl itself) run `staggerctl status`."""
        if ctl or peer not in self.nodes or not kw.get("as_json", True):
            r = subprocess.run(self.status_cmd(peer, **kw), capture_output=True, text=True,
                               timeout=self.deadline(15))
            return Status(r.returncode, r.stdout, r.stderr)
        kw.pop("as_json", None)
        return self.status_all([peer], **kw)[peer]

    def status_all(self, peers=None, key="op", roster=None, timeout_ms=None):
        """Every peer's answer, asked concurrently: name -> Status. The roster
        only names endpoints and keys, which stay those of the fleet's nodes."""
        if self.statuses is None:
            self.statuses = StatusClient(self)
        timeout_s = self.deadline((timeout_ms or self.STATUS_TIMEOUT_S * 1000) / 1000)
        return self.statuses.ask(peers or self.order, key, timeout_s)

    def problems(self, expect, peers=None, serial=None, members=None, rc=None, **kw):
        """What, in every asked peer's view, differs from expect: a dict
        member name -> {field: value or predicate}. Empty list: all agree."""
        bad = []
        views = self.status_all(peers, **kw)
        for peer, st in views.items():
            if st.doc is None:
                bad.append("%s: no status (%r)" % (peer, st))
                continue
            if rc is not None and st.rc != rc:
                bad.append("%s: status exit %d, want %d" % (peer, st.rc, rc))
            if serial is not None and st.doc.get("serial") != serial:
                bad.append("%s: serial %s, want %s" % (peer, st.doc.get("serial"), serial))
            want_n = len(self.order) if members is None else members
            if len(st.doc.get("members", [])) != want_n:
                bad.append("%s: %d members, want %d" % (peer, len(st.doc["members"]), want_n))
            for name, fields in expect.items():
                row = st.row(name)
                if row is None:
                    bad.append("%s: no row for %s" % (peer, name))
                    continue
                for field, want in fields.items():
                    got = row.get(field)
                    ok = want(got) if callable(want) else got == want
                    if not ok:
                        bad.append("%s sees %s.%s = %r, want %s" % (
                            peer, name, field, got,
                            (callable(want) and want.__doc__) or repr(want)))
        self.last_views = views
        return bad

    def healthy_expect(self, names=None):
        """Every member healthy, alive, with the version its hook prints."""
        exp = {}
        for n in names or self.order:
            v = open(os.path.join(self.dir, n, "version")).read().strip()
            exp[n] = {"health": "healthy", "liveness": "alive", "version": v}
        return exp

    # -- waiting: by polling against a deadline, never by sleeping

    def wait(self, what, timeout):
        """Poll what() (a list of problems) until it is empty or the deadline
        passes. Returns (ok, seconds taken, last problems)."""
        t0 = time.monotonic()
        timeout = self.deadline(timeout)
        while True:
            bad = what()
            took = time.monotonic() - t0
            if not bad:
                return True, took, []
            if took >= timeout:
                return False, took, bad
            time.sleep(POLL_S)  # poll interval of a wait with a deadline

    def hold(self, what, duration):
        """Poll what() for duration seconds; it must stay empty throughout.
        Returns (ok, problems at the first failure)."""
        t0 = time.monotonic()
        while True:
            bad = what()
            if bad:
                return False, bad
            if time.monotonic() - t0 >= duration:
                return True, []
            time.sleep(POLL_S)  # poll interval of a bounded observation window

    def check_wait(self, desc, what, timeout):
        ok, took, bad = self.wait(what, timeout)
        self.tap.check(ok, "%s (%.1f s)" % (desc, took) if ok else
                       "%s (not within %.0f s)" % (desc, self.deadline(timeout)),
                       "\n".join(bad[:20]))
        return ok

    def converge(self, timeout=30):
        return self.check_wait("all %d peers list %d members, all healthy with their versions"
                               % (len(self.order), len(self.order)),
                               lambda: self.problems(self.healthy_expect(), rc=0), timeout)

    # -- releases and rollouts (issue 4)

    def release(self, version=NEW_VERSION, stem="release", created_at=None, builds=None,
                artifacts=None, component="cardano-node"):
        """Sign a release of COMPONENT VERSION with an artifact for each
        flavour, their SHA-256s BUILDS[flavour] (default RELEASE_BUILDS), or
        exactly ARTIFACTS (flavour -> artifact object) when given; returns
        (path of the signed release, its id in hex)."""
        builds = builds or RELEASE_BUILDS
        doc = {"component": component, "version": version,
               "created_at": created_at or int(time.time()),
               "artifacts": artifacts or {
                   "debian": {"url": "https://example.org/cardano-node-%s-amd64.deb" % version,
                              "sha256": builds["debian"]},
                   "nix": {"image": "ghcr.io/example/cardano-node@sha256:" + builds["nix"]}}}
        js = os.path.join(self.dir, stem + ".json")
        out = os.path.join(self.dir, stem + ".signed")
        with open(js, "w") as f:
            json.dump(doc, f, indent=1)
        r = self.ctl("release", "sign", "--key", self.keyfile("op"), "--roster", self.roster,
                     "-o", out, js)
        if r.returncode != 0:
            raise RuntimeError("staggerctl release sign: %s" % r.stderr)
        return out, release_id(out)

    def publish(self, signed, peer):
        """staggerctl release publish --peer PEER; returns the CompletedProcess."""
        return self.ctl("release", "publish", "--key", self.keyfile("op"), "--roster",
                        self.roster, "--peer", peer, signed)

    def roster_json(self):
        return json.load(open(os.path.join(self.dir, "roster1.json")))

    def expected_order(self, rid):
        return expected_order(self.roster_json(), rid)

    def holdback(self):
        return holdback_members(self.roster_json())

    def moves(self, name, version=None):
        """The executor moves in NAME's log (every run), for VERSION if given."""
        return [m for m in parse_exec(self.log_text(name))
                if version is None or m.version == version]

    def hooks_log(self, name):
        """[(unix ms, hook, version, event...)] from the node's update hooks."""
        try:
            lines = open(os.path.join(self.dir, name, "hooks.log")).read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            f = line.split()
            if len(f) >= 4 and f[0].isdigit():
                out.append((int(f[0]), f[1], f[2], " ".join(f[3:])))
        return out

    def installs(self, name):
        return [h for h in self.hooks_log(name) if h[1] == "install" and h[3].startswith("begin")]

    def views_problems(self, check, peers=None):
        """check(peer, status doc) -> list of problems, over every asked peer."""
        bad = []
        views = self.status_all(peers)
        for peer, st in views.items():
            if st.doc is None:
                bad.append("%s: no status (%r)" % (peer, st))
            else:
                bad += check(peer, st.doc)
        self.last_views = views
        return bad

    def rolled_out(self, version=NEW_VERSION, names=None, peers=None):
        """Problems until every peer shows NAMES (default all) done on VERSION."""
        want = {n: {"version": version, "phase": "done", "health": "healthy"}
                for n in names or self.order}
        return self.problems(want, peers=peers)

    # -- speaking the peer protocol directly

    def context(self):
        if self.zctx is None:
            self.zctx = zmq.Context()
        return self.zctx

    def dealer(self, to, as_key, events):
        """A CURVE DEALER connecting to peer `to` with the keys of keys/AS_KEY
        (X25519 converted from its Ed25519 key, docs/protocol.md §1), or with
        a random key when as_key is None, and the PAIR that reports its
        monitor EVENTS. Returns (socket, monitor) without waiting."""
        node = self.nodes[to]
        s = self.context().socket(zmq.DEALER)
        s.linger = 0
        # A DEALER with no live connection blocks a send for ever: bound it.
        s.sndtimeo = 1000
        if as_key is None:
            sk = SigningKey.generate()
        else:
            sk = self.signing_key(as_key)
        sk64 = bytes(sk) + bytes(sk.verify_key)
        s.curve_secretkey = crypto_sign_ed25519_sk_to_curve25519(sk64)
        s.curve_publickey = crypto_sign_ed25519_pk_to_curve25519(bytes(sk.verify_key))
        server = base64.b64decode(self.pub(to))
        s.curve_serverkey = crypto_sign_ed25519_pk_to_curve25519(server)
        mon = monitor(s, events)
        s.connect(node.endpoint)
        return s, mon

    def client(self, to, as_key, expect_auth=True, timeout=5):
        """A CURVE DEALER connected to peer `to` as AS_KEY (see dealer()).
        Returns (socket, outcome): outcome is "ok" after a successful
        handshake, "denied" when refused."""
        s, mon = self.dealer(to, as_key, zmq.EVENT_HANDSHAKE_SUCCEEDED |
                             zmq.EVENT_HANDSHAKE_FAILED_AUTH |
                             zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        outcome = "timeout"
        if mon.poll(self.deadline(timeout) * 1000):
            ev = recv_monitor_message(mon)["event"]
            outcome = "ok" if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED else \
                "denied" if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH else "failed %#x" % ev
        s.disable_monitor()
        mon.close(0)
        return s, outcome

    def request(self, sock, data, timeout=3):
        """Send one frame and wait for one reply frame (None: no reply, or
        nowhere to send it)."""
        try:
            sock.send(data)
        except zmq.Again:
            return None
        if sock.poll(self.deadline(timeout) * 1000):
            return sock.recv()
        return None

    def flaps(self):
        """How often the failure detector moved, over every daemon's log:
        (alive -> suspect, -> dead, refutations); for the test log, to tell
        a busy machine's false suspicions from a test's own failure."""
        text = "".join(self.log_text(n) for n in self.order)
        return (len(re.findall(r"\[swim\] \S+: alive -> suspect", text)),
                len(re.findall(r"\[swim\] \S+: \w+ -> dead", text)),
                text.count("refuting a suspicion about us"))

    def cleanup(self):
        self.tap.note("failure detector, all logs: %d alive -> suspect, %d -> dead, "
                      "%d refutations" % self.flaps())
        for n in list(self.stopped):
            self.sigcont(n)
        for n in self.order:
            p = self.nodes[n].proc
            if p is not None and p.poll() is None:
                self.stop(n, timeout=5)
        _kill_all()
        if self.statuses is not None:
            self.statuses.close()
        if self.zctx is not None:
            self.zctx.destroy(linger=0)
        release_ports(self.ports)
        if os.environ.get("FLEET_KEEP"):  # for a post-mortem of logs and hooks
            self.tap.note("kept " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def variant(default):
    """The test's variant: the optional third argument (meson passes it)."""
    return sys.argv[3] if len(sys.argv) > 3 else default


def main(body, **fleet_args):
    """Run body(fleet, tap) with a fresh fleet; TAP out, exit 1 on failure."""
    if len(sys.argv) not in (3, 4):
        print("usage: %s STAGGERD STAGGERCTL [VARIANT]" % sys.argv[0], file=sys.stderr)
        return 2
    tap = Tap()
    fleet = None
    t0 = time.monotonic()
    try:
        fleet = Fleet(sys.argv[1], sys.argv[2], tap, **fleet_args)
        body(fleet, tap)
    except BaseException as e:  # SystemExit from SIGTERM included: still clean up
        tap.check(False, "test body ran to the end", "".join(traceback.format_exception(e)))
    finally:
        if fleet is not None:
            if tap.failed:
                fleet.dump_logs()
            fleet.cleanup()
        _kill_all()
    tap.note("%.1f s" % (time.monotonic() - t0))
    print("1..%d" % tap.n, flush=True)
    return 1 if tap.failed else 0
