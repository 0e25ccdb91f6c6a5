#!/usr/bin/python3
"""emergency_util.py: helpers of the emergency-command fleet tests
(tests/fleet/test_emergency_*.py, issue 5), on top of fleet.py: a roster with
several operators and an M-of-N emergency quorum, `staggerctl emergency`,
`sign-add` and `emergency send` runs, command envelopes built here from
docs/protocol.md §2 and §10 (so a test can send what staggerctl refuses to),
each node's state_dir/audit.log, the `[cmd] applied` log lines, and a real
partition of one node with iptables (its port on lo, and everything its
process sends, by cgroup).
"""
import calendar
import json
import os
import re
import shutil
import struct
import subprocess
import time

import fleet as fl
from fleet import FLEET, b64

OPERATORS = ("op", "op2", "op3")


def use_operators(f, quorum=2, operators=OPERATORS):
    """Re-sign the fleet's first roster with several operator keys and an
    emergency quorum of `quorum` (before the daemons start); releases stay
    signed by "op", one of them."""
    doc = f.roster_doc(1, operators=operators)
    doc["emergency_quorum"] = quorum
    f.roster = f.sign_roster(doc, "roster1")
    for node in f.nodes.values():
        shutil.copy(f.roster, node.roster)


def keys(f, names):
    return ",".join(f.keyfile(n) for n in names)


def emergency(f, action, signers=("op", "op2"), peer=None, *extra, timeout=20):
    """staggerctl emergency ACTION --key K1,K2 --roster R [--peer P] EXTRA..."""
    args = ["emergency", action, "--key", keys(f, signers), "--roster", f.roster]
    if "--out" not in extra:
        # The peer answers once it has applied and written the command: on
        # a loaded machine (the ASan tree, burners) that is the deadline
        # factor times slower, like everything else the tests wait for.
        args += ["--timeout-ms", str(int(f.deadline(10) * 1000))]
    if peer:
        args += ["--peer", peer]
    return f.ctl(*(args + list(extra)), timeout=timeout)


def out_seq(stdout):
    """The sequence from staggerctl's "command N applied by" / "ACTION command N signed"."""
    m = re.search(r"command (\d+) (?:applied|signed)", stdout)
    return int(m.group(1)) if m else None


# ---- command envelopes, built here (docs/protocol.md §2, §10) ----

def command_doc(action, seq, issued_at=None, ttl_s=600, fleet=FLEET, **fields):
    now = int(time.time())
    doc = {"fleet": fleet, "seq": seq, "issued_at": now if issued_at is None else issued_at,
           "action": action}
    doc["expires_at"] = doc["issued_at"] + ttl_s
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":")).encode()


def seal_multi(payload, signing_keys, doc_type="command"):
    """An envelope of payload signed by every key given (any number, 0 too)."""
    msg = b"stagger/v1/" + doc_type.encode() + b"\0" + payload
    head = b"STG" + bytes([1, fl.DOC_TYPES[doc_type], len(signing_keys)]) + \
        struct.pack(">I", len(payload))
    sigs = b"".join(bytes(k.verify_key) + k.sign(msg).signature for k in signing_keys)
    return head + payload + sigs


def command_frame(serial, env):
    """Wire type 16 (docs/protocol.md §9.1): the envelope is the body."""
    return fl.frame(16, serial, env)


# ---- what the nodes recorded ----

def audit(f, name):
    """Node NAME's state_dir/audit.log: one dict per line (a line that is not
    JSON becomes {"bad": text}, which a test counts as a failure)."""
    path = os.path.join(f.nodes[name].dir, "state", "audit.log")
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"bad": line})
    return out


def applied_lines(f, name, seq):
    """audit.log lines of NAME that applied SEQ."""
    return [a for a in audit(f, name) if a.get("verdict") == "applied" and a.get("seq") == seq]


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ")


def log_ms(line):
    m = LOG_TIME.match(line)
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 1000 + \
        int(m.group(2))


def log_lines(f, name, needle):
    """(unix ms, line) for each line of NAME's log containing needle."""
    return [(log_ms(l), l) for l in f.log_text(name).splitlines() if needle in l]


def cmd_views(f, peers=None):
    """Every peer's status: name -> its doc (None if it did not answer)."""
    return {p: st.doc for p, st in f.status_all(peers).items()}


def applied_everywhere(f, seq, peers=None, action=None):
    """Problems until every asked peer's commands.applied_seq >= seq and its
    recent list shows seq applied by every member asked."""
    peers = peers or f.order
    bad = []
    for p, doc in cmd_views(f, peers).items():
        if doc is None:
            bad.append("%s: no status" % p)
            continue
        cmds = doc.get("commands") or {}
        if cmds.get("applied_seq", 0) < seq:
            bad.append("%s: applied_seq %s < %d" % (p, cmds.get("applied_seq"), seq))
            continue
        rec = [r for r in cmds.get("recent", []) if r.get("seq") == seq]
        if not rec:
            bad.append("%s: #%d not among recent" % (p, seq))
        elif action and rec[0].get("action") != action:
            bad.append("%s: #%d is %s" % (p, seq, rec[0].get("action")))
        elif set(peers) - set(rec[0].get("applied_by", [])):
            bad.append("%s: #%d applied_by %s" % (p, seq, rec[0].get("applied_by")))
    return bad


def rollout_field(f, field, want, peers=None):
    """Problems until every peer's rollout.FIELD satisfies want (value or predicate)."""
    bad = []
    for p, doc in cmd_views(f, peers).items():
        got = None if doc is None else (doc.get("rollout") or {}).get(field)
        ok = want(got) if callable(want) else got == want
        if doc is None or not ok:
            bad.append("%s: rollout.%s = %r" % (p, field, got))
    return bad


def started_at(f, name, version):
    """Unix ms of each `[exec] idle|done|rolled-back -> elected` move of NAME for VERSION."""
    return [m.t for m in f.moves(name, version) if m.new == "elected"]


def phases(f, name, version):
    return [m.new for m in f.moves(name, version)]


# ---- a real partition: iptables on lo ----

def _cgroup2_root():
    for line in open("/proc/mounts"):
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return parts[1]
    return None


def _iptables():
    ipt = shutil.which("iptables")
    if ipt is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "iptables"], capture_output=True,
                       timeout=180)
        ipt = shutil.which("iptables")
    return ipt


class Partition:
    """Cut node NAME off the others with iptables, both ways: INPUT drops
    TCP to its port, OUTPUT drops everything sent by a process of the
    cgroup (v2) we move it into. Every rule carries a comment naming this
    test's PID, and heal() (also on cleanup) deletes exactly those rules.
    Use available() first: it needs root, iptables (installed here from
    Debian if missing), its cgroup match and a cgroup2 mount."""

    def __init__(self, f, name):
        self.f, self.name = f, name
        self.ipt = _iptables()
        self.tag = "stagger-fleet-%d-%s" % (os.getpid(), name)
        root = _cgroup2_root()
        self.cg = os.path.join(root, self.tag) if root else None
        self.rules = []
        self.why = None

    def available(self):
        if os.environ.get("STAGGER_TEST_PARTITION") == "sigstop":
            self.why = "STAGGER_TEST_PARTITION=sigstop"
        elif os.geteuid() != 0:
            self.why = "not root"
        elif not self.ipt:
            self.why = "no iptables"
        elif not self.cg:
            self.why = "no cgroup2 mount"
        else:
            r = subprocess.run([self.ipt, "-m", "cgroup", "--help"], capture_output=True,
                               text=True)
            if r.returncode != 0:
                self.why = "iptables has no cgroup match"
        return self.why is None

    def _rule(self, op, rule):
        return subprocess.run([self.ipt, op] + rule + ["-m", "comment", "--comment", self.tag],
                              capture_output=True, text=True, timeout=10)

    def cut(self):
        os.makedirs(self.cg, exist_ok=True)
        with open(os.path.join(self.cg, "cgroup.procs"), "w") as fh:
            fh.write(str(self.f.pid(self.name)))
        cgpath = "/" + os.path.basename(self.cg)
        # A socket keeps the cgroup it was created in (libzmq's I/O thread
        # made them before the move), and peers answer on the connection a
        # message came in on: so every TCP connection the node already has
        # is cut by its local port, both ways, besides its listening port.
        port = str(self.f.nodes[self.name].port)
        rules = [["INPUT", "-i", "lo", "-p", "tcp", "--dport", port, "-j", "DROP"],
                 ["INPUT", "-i", "lo", "-p", "tcp", "--sport", port, "-j", "DROP"],
                 ["OUTPUT", "-o", "lo", "-m", "cgroup", "--path", cgpath, "-j", "DROP"]]
        for lport in self._local_ports():
            if lport != port:
                rules += [["INPUT", "-i", "lo", "-p", "tcp", "--sport", lport, "-j", "DROP"],
                          ["INPUT", "-i", "lo", "-p", "tcp", "--dport", lport, "-j", "DROP"]]
        for rule in rules:
            r = self._rule("-A", rule)
            if r.returncode != 0:
                self.heal()
                raise RuntimeError("iptables -A %s: %s" % (" ".join(rule), r.stderr))
            self.rules.append(rule)

    def _local_ports(self):
        """Local ports of the node's established TCP connections (ss -tnp)."""
        pid = self.f.pid(self.name)
        r = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True,
                           text=True, timeout=10)
        ports = set()
        for line in r.stdout.splitlines():
            if "pid=%d," % pid in line:
                fields = line.split()
                if len(fields) >= 3:
                    ports.add(fields[2].rsplit(":", 1)[-1])
        return sorted(ports)

    def heal(self):
        for rule in self.rules:
            self._rule("-D", rule)
        self.rules = []
        if self.cg and os.path.isdir(self.cg):
            # Back to the root group, so the directory can go.
            root = os.path.dirname(self.cg)
            for _ in range(20):  # its hooks come and go: until the group is empty
                try:
                    for pid in open(os.path.join(self.cg, "cgroup.procs")).read().split():
                        try:
                            with open(os.path.join(root, "cgroup.procs"), "w") as fh:
                                fh.write(pid)
                        except OSError:
                            pass  # exited meanwhile
                    os.rmdir(self.cg)
                    break
                except OSError:
                    time.sleep(0.05)  # poll (bounded: 20 tries) until the group is empty
