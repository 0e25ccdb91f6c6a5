#!/usr/bin/python3
"""test_self_update.py: stagger updates itself through its own election
(issue 14). Eight real staggerd peers whose component is `stagger`, each
running its own copy of the build under test, with the shipped hooks of
deploy/hooks/stagger (install, health, rollback). A signed release of
staggerd-next (the same source built as "0.1.0+next", node/shell/meson.build)
rolls out: each install puts the binary in place and sends SIGUSR2, the
daemon re-execs into it keeping its pid, and the health hook passes once the
new image runs the release and its peers see it. Checked from status, the
daemons' logs and the hooks' files: every node ends on the new version, one
node at a time (batch 1), each went elected, installing, verifying, soaking,
done exactly once, each logged one "re-exec'd from OLD to NEW" with its own
pid, kept the old binary for a rollback, and every daemon is the process the
test started. While versions are mixed an emergency halt reaches every peer
and `staggerctl status` works against old and new daemons; resume finishes
the rollout. Then a bad build (staggerd-mute, "0.1.0+mute": starts, sends no
peer message, so it can never rejoin) goes to the first node of its order:
its health never passes, the deadline fails it, the rollback hook puts the
previous binary back and re-execs, and the fleet halts as for any failed
update, no other node having moved.

The next build is a newer minor version in the sense of docs/protocol.md
§11 (include/stagger/selftest.h): its records carry a field older builds do
not know (`selftest_note`), list a capability they do not know
(`selftest-hello`), and it sends a message type they do not know (240)
only while that capability is fleet-wide. Throughout the mixed period, at
every poll of every peer: no old peer counted a BAD_TYPE the test did not
send it, and no new peer sent a hello while the capability was missing
from its fleet-wide set. While halted: the old peers hold the new peers'
records (field and all, no reject), the new peers read each other's field;
the test's own client sends type 240 to an old peer and gets `error-rep`
BAD_TYPE, counted once, on a connection that still answers status (and
to a new peer, which knows the type, NOT_ALLOWED: members only). Once all
8 run the new build the capability is fleet-wide, hellos flow, every peer
reads every field, and some field reached a new peer relayed unchanged
by an old one.

Variant "component" (fleet_self_update_component) runs all of the above
with stagger as an extra component of each node's one staggerd
(docs/operations.md §12, §13: `"components": [{"name": "stagger", ...}]`)
beside a primary stand-in cardano-node (fleet.py's hooks): stagger's
version and health are then read from each member's `components`, its
rollout from `rollout.components`, and at the end the primary must not
have moved (no executor move but stagger's, no cardano-node install or
rollback hook run, every member on its first cardano-node version, healthy
in every view), and, halted on the mute build, a peer's status page shows
the stagger rollout failed as its `rollout.components` entry says. In both
variants, at every poll of every peer no more than policy.batch machines
are disrupted by their own status rows.

usage: /usr/bin/python3 test_self_update.py STAGGERD STAGGERCTL
[primary|component] (prints TAP); staggerd-next and staggerd-mute are
taken from STAGGERD's directory.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import emergency_util as eu
from fleet import (HEALTH_TIMEOUT_S, TUNING, busy_spans, frame, main, max_overlap,
                   page_component_rollouts, page_component_row, page_escape, rollout_policy,
                   variant, verdict)

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
HOOKS = os.path.join(SRC, "deploy", "hooks", "stagger")
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10, health_deadline_s=60)
# The stagger health hook asks its own daemon, and while updating one
# other peer: two staggerctl runs, each a CURVE handshake.
POLICY["timeouts"]["health_s"] = max(5, 3 * HEALTH_TIMEOUT_S)
# Each of those waits this long for its answer (stagger.env), so that three
# (its own daemon, then up to two peers) fit in the hook's time limit. The
# hook's default, 800 ms, is for a quiet machine: an ASan fleet beside other
# work missed it hundreds of times a run ("staggerd does not answer
# status"), each miss an unhealthy stagger, and the proof never held.
SELF_TIMEOUT_MS = POLICY["timeouts"]["health_s"] * 1000 // 4
DEADLINE_S = POLICY["health_deadline_s"]
UPDATING = ("elected", "installing", "verifying", "soaking")
# A machine is disrupted while its own row shows one of these (it holds the
# slot; test_components.py counts the same, "failed" too: a slot still held).
DISRUPTED = UPDATING + ("failed", "rolling-back")
GOOD_MOVES = ["elected", "installing", "verifying", "soaking", "done"]
FAIL_MOVES = ["elected", "installing", "verifying", "failed", "rolling-back", "rolled-back"]
QUIET_S = 3  # "no new node starts while halted": watched this long
# The halt's reason: every character the status page must escape.
HALT_REASON = "test halt <b>\"mixed\" & 'versions'</b>"
# What the next build adds (include/stagger/selftest.h, docs/protocol.md §11).
CAP, HELLO_TYPE = "selftest-hello", 240


def note_of(name):
    return "hello from %s" % name


def version_string(exe):
    """`staggerd --version` without the program's name: "0.1.0 (git 1a2b3c4)"."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.strip().split(" ", 1)[1]


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def word(v):
    return (v or "").split(" ", 1)[0]


class AsPrimary:
    """Variant "primary": stagger is each daemon's one component (its
    config's `component`), so the member row's version and health are
    stagger's, and its release is the top-level `rollout`."""

    name = "primary"
    hook_tag = "install"  # staggerd's "[hook] install: running ..." line

    def configure(self, f, node, hooks):
        cfg = {"key": node.key, "roster": node.roster, "state_dir": os.path.join(node.dir, "state"),
               "component": "stagger", "hooks": hooks,
               "log_level": "info", "tuning": TUNING, "metrics": ""}
        with open(node.config, "w") as fh:
            json.dump(cfg, fh, indent=1)

    def on(self, f, name, v, healthy=True):
        """What every peer must show of NAME running stagger V (status's
        full version string), and healthy unless not HEALTHY (a busy
        machine's flaps make a member's health unknown, and the stagger
        health hook unhealthy while it sees no majority, for a moment)."""
        return dict({"version": word(v), "stagger": v},
                    **({"health": "healthy"} if healthy else {}))

    def rollout(self, doc):
        return doc["rollout"]


class AsComponent:
    """Variant "component": each daemon's primary is a stand-in cardano-node
    (fleet.py's hooks) and stagger is a component beside it (`components`,
    docs/operations.md §13): the member row's version and health stay the
    primary's, stagger's are in its `components`, and its release is an
    entry of `rollout.components`."""

    name = "component"
    hook_tag = "install of stagger"

    def __init__(self):
        self.primary = {}  # name -> the stand-in cardano-node version at start

    def configure(self, f, node, hooks):
        f.write_config(node)
        with open(node.config) as fh:
            cfg = json.load(fh)
        cfg["components"] = [{"name": "stagger", "hooks": hooks}]
        with open(node.config, "w") as fh:
            json.dump(cfg, fh, indent=1)
        self.primary[node.name] = f.version_of(node.name)

    def on(self, f, name, v, healthy=True):
        def stagger_on(comps):
            c = [c for c in comps or [] if c.get("component") == "stagger"]
            return len(c) == 1 and c[0].get("version") == word(v) and \
                (not healthy or c[0].get("health") == "healthy")
        stagger_on.__doc__ = "component stagger %s%s" % (word(v), " healthy" if healthy else "")
        return dict({"version": self.primary[name], "stagger": v, "components": stagger_on},
                    **({"health": "healthy"} if healthy else {}))

    def rollout(self, doc):
        more = [r for r in doc["rollout"].get("components") or []
                if r.get("component") == "stagger"]
        return more[0] if more else {}


LAYOUT = {"primary": AsPrimary, "component": AsComponent}[variant("primary")]()


def setup(f):
    """Each node: its own copy of staggerd in NODE/bin, the shipped stagger
    hooks (as its primary or beside the stand-in cardano-node, by LAYOUT),
    and their stagger.env beside the config."""
    for node in f.nodes.values():
        os.mkdir(os.path.join(node.dir, "bin"))
        node.exe = os.path.join(node.dir, "bin", "staggerd")
        shutil.copy2(f.staggerd, node.exe)
        LAYOUT.configure(f, node, {h: os.path.join(HOOKS, h)
                                   for h in ("install", "rollback", "health")})
        with open(os.path.join(node.dir, "stagger.env"), "w") as fh:
            fh.write("STAGGER_SELF_CTL=%s\nSTAGGER_SELF_TIMEOUT_MS=%d\n"
                     % (f.ctl_path, SELF_TIMEOUT_MS))


def artifact(f, exe, version):
    """A copy of EXE under the fleet's directory, as a file:// release artifact."""
    os.makedirs(os.path.join(f.dir, "artifacts"), exist_ok=True)
    path = os.path.join(f.dir, "artifacts", "staggerd-" + version)
    shutil.copy2(exe, path)
    art = {"url": "file://" + path, "sha256": sha256(path)}
    return {"debian": art, "nix": art}


def reexecs(f, name, old, new):
    return [line for line in f.log_text(name).splitlines()
            if "re-exec'd from %s to %s (pid %d," % (old, new, f.pid(name)) in line]


class Mixed:
    """§11's rules watched at every poll of the rollout: an old peer (its
    own row's stagger is the old version) counts no BAD_TYPE beyond the
    test's own injections; a new peer whose fleet-wide set lacks the
    capability has sent no hello. And the batch: no more than BATCH
    machines disrupted by their own rows in one poll's answers (a peer
    away for its re-exec does not answer and is not counted; the logs'
    spans are checked afterwards). Violations are kept for one check."""

    def __init__(self, v0, batch):
        self.v0, self.injected, self.bad, self.polls = v0, {}, [], 0
        self.batch, self.crowded, self.most = batch, [], 0

    def look(self, views):
        busy = sorted(p for p, st in views.items()
                      if st.doc and (st.row(p) or {}).get("phase") in DISRUPTED)
        self.most = max(self.most, len(busy))
        if len(busy) > self.batch:
            self.crowded.append("%d machines disrupted at once: %s" % (len(busy), busy))
        for peer, st in views.items():
            doc = st.doc
            if not doc:
                continue
            self.polls += 1
            me = st.row(peer) or {}
            if me.get("stagger") == self.v0:
                if st.rejects("BAD_TYPE") > self.injected.get(peer, 0):
                    self.bad.append("%s (old) counted BAD_TYPE %d: %r" % (
                        peer, st.rejects("BAD_TYPE"), doc.get("rejects")))
            elif CAP not in doc.get("capabilities", []) and \
                    (doc.get("selftest") or {}).get("hello_sent", 0):
                self.bad.append("%s sent %d hellos, capabilities %r" % (
                    peer, doc["selftest"]["hello_sent"], doc.get("capabilities")))

    def problems(self, f, expect):
        bad = f.problems(expect)
        self.look(f.last_views)
        return bad


def inject_hello(f, to, serial):
    """A frame of the next build's type from the test's operator client to
    TO, then a status-req on the same connection: (handshake, verdict of
    each)."""
    sock, outcome = f.client(to, "op")
    try:
        hello = verdict(f.request(sock, frame(HELLO_TYPE, serial)))
        status = verdict(f.request(sock, frame("status-req", serial)))
    finally:
        sock.close(0)
    return outcome, hello, status


def mixed_checks(f, tap, views, old_nodes, new_nodes, v1, watch):
    """While halted with versions mixed: the old peers hold the new peers'
    records, the new peers read each other's field, and type 240 to an old
    peer is refused BAD_TYPE, counted, on a connection that stays up."""
    sent = {n: (views[n].doc.get("selftest") or {}).get("hello_sent") for n in new_nodes}
    tap.check(set(sent.values()) == {0} and
              all(CAP not in views[n].doc["capabilities"] and
                  CAP in views[n].row(n)["caps"] for n in new_nodes),
              "new peers list %s in their records, the fleet-wide set lacks it, and they sent "
              "no hello" % CAP, repr(sent))
    held = ["%s sees %s on %r" % (o, n, views[o].row(n)["stagger"])
            for o in old_nodes for n in new_nodes if views[o].row(n)["stagger"] != v1]
    rej = {o: views[o].doc["rejects"] for o in old_nodes if views[o].doc["rejects"]}
    tap.check(not held and not rej, "old peers hold every new peer's record (unknown field "
              "and capability included) and refused nothing", "\n".join(held) + repr(rej))
    notes = ["%s sees %s's note %r" % (a, b, views[a].row(b).get("selftest_note"))
             for a in new_nodes for b in f.order
             if views[a].row(b).get("selftest_note") != (note_of(b) if b in new_nodes else "")]
    tap.check(not notes, "new peers read each new peer's selftest_note from its record, and "
              "none from an old peer's", "\n".join(notes))
    old, new = old_nodes[0], new_nodes[0]
    serial = views[old].doc["serial"]
    before = f.status(old).doc["rejects"]
    watch.injected[old] = watch.injected.get(old, 0) + 1
    shake, hello, status = inject_hello(f, old, serial)
    after = f.status(old).doc["rejects"]
    tap.check(shake == "ok" and hello and hello[:2] == ("refused", "BAD_TYPE"),
              "type %d from a client to %s (old): error-rep BAD_TYPE" % (HELLO_TYPE, old),
              "%s %r" % (shake, hello))
    tap.check(status and status[0] == "status" and json.loads(status[2])["self"] == old,
              "%s answers a status-req on the same connection" % old, repr(status))
    want = dict(before, BAD_TYPE=before.get("BAD_TYPE", 0) + 1)
    tap.check(after == want, "%s counted it once, under BAD_TYPE, and nothing else" % old,
              "%r -> %r" % (before, after))
    shake, hello, status = inject_hello(f, new, serial)
    tap.check(hello and hello[:2] == ("refused", "NOT_ALLOWED") and status and
              status[0] == "status", "type %d from a client to %s (new, knows it): "
              "NOT_ALLOWED (members only), status still answered" % (HELLO_TYPE, new),
              "%s %r %r" % (shake, hello, status and status[:2]))


def test(f, tap):
    builddir = os.path.dirname(f.staggerd)
    v0 = version_string(f.staggerd)
    v1 = version_string(os.path.join(builddir, "staggerd-next"))
    vbad = version_string(os.path.join(builddir, "staggerd-mute"))
    tap.note("running %s; release %s; bad build %s; stagger as the %s component"
             % (v0, v1, vbad, LAYOUT.name))
    watch = Mixed(v0, POLICY["batch"])
    setup(f)
    f.start_all()
    pids = {n: f.pid(n) for n in f.order}
    if not f.check_wait("all 8 peers healthy and alive on stagger %s, component stagger (%s)"
                        % (word(v0), LAYOUT.name),
                        lambda: f.problems({n: dict(LAYOUT.on(f, n, v0), liveness="alive")
                                            for n in f.order}, rc=0), 30):
        return

    signed, rid = f.release(version=word(v1), stem="release-next", component="stagger",
                            artifacts=artifact(f, os.path.join(builddir, "staggerd-next"),
                                               word(v1)))
    r = f.publish(signed, "relay2")
    tap.check(r.returncode == 0 and "adopted by relay2" in r.stdout,
              "staggerctl release publish --peer relay2: stagger %s adopted" % word(v1),
              r.stdout + r.stderr)

    # ---- versions mixed: halt, status, resume ----
    def mixed():
        views = f.status_all()
        watch.look(views)
        rows = (views["relay2"].doc or {}).get("members", [])
        new = [m["name"] for m in rows if m.get("stagger") == v1 and m.get("phase") == "done"]
        return [] if len(new) >= 2 else ["relay2 sees %d done on %s" % (len(new), v1)]

    if not f.check_wait("two nodes done on %s (versions mixed)" % word(v1), mixed, 90):
        return
    r = eu.emergency(f, "halt", ("op",), "relay1", "--reason", HALT_REASON)
    seq = eu.out_seq(r.stdout)
    if not tap.check(r.returncode == 0 and seq, "staggerctl emergency halt while versions are "
                     "mixed: applied", r.stdout + r.stderr):
        return
    f.check_wait("every peer, old and new, applied the halt",
                 lambda: eu.applied_everywhere(f, seq, action="halt"), 15)
    f.check_wait("no node updating any more (the running one finished)",
                 lambda: ["%s: %s is %s" % (p, m["name"], m["phase"])
                          for p, st in f.status_all().items()
                          for m in (st.doc or {}).get("members", []) if m["phase"] in UPDATING],
                 60)
    views = f.status_all()
    on = {n: word(views["relay2"].row(n)["stagger"]) for n in f.order}
    old_nodes = [n for n in f.order if on[n] == word(v0)]
    new_nodes = [n for n in f.order if on[n] == word(v1)]
    tap.note("while halted, on %s: %s; on %s: %s" % (word(v0), old_nodes, word(v1), new_nodes))
    tap.check(old_nodes and new_nodes and len(old_nodes) + len(new_nodes) == 8,
              "versions are mixed: some nodes on each", repr(on))
    ok = all(st.doc and st.doc["rollout"]["halted"] is True for st in views.values())
    tap.check(ok, "status --json of every peer answers and shows rollout.halted",
              repr({p: st for p, st in views.items() if not st.doc}))
    for n in (old_nodes[:1] + new_nodes[:1]):
        r = f.status(n, as_json=False)
        tap.check(r.rc == 4 and "halted by the operator: " + HALT_REASON in r.out,
                  "staggerctl status --peer %s (on %s) shows the halt" % (n, on[n]),
                  r.out + r.err)
    watch.look(views)
    mixed_checks(f, tap, views, old_nodes, new_nodes, v1, watch)
    if LAYOUT.name == "component":
        waiting = page_escape("halted by the operator: " + HALT_REASON)
        page_shows(f, tap, "relay2", "halted, the operator's reason escaped, %d pending, no "
                   "wave" % len(old_nodes),
                   lambda cls, cells: cls == "halted" and cells[2] == waiting and
                   cells[3] == str(len(old_nodes)) and cells[4] == "" and cells[5] == "")
    held, bad = f.hold(lambda: ["%s: %s" % (m["name"], m["phase"])
                                for m in (f.status("relay3").doc or {}).get("members", [])
                                if m["phase"] in UPDATING], QUIET_S)
    tap.check(held, "no node starts in the %d s after the halt" % QUIET_S, "\n".join(bad))
    r = eu.emergency(f, "resume", ("op",), new_nodes[0], "--reason", "test resume")
    tap.check(r.returncode == 0 and eu.out_seq(r.stdout),
              "staggerctl emergency resume --peer %s: applied" % new_nodes[0], r.stdout + r.stderr)

    # ---- the whole fleet on the new build ----
    if not f.check_wait("every peer shows all 8 done on stagger %s" % word(v1),
                        lambda: watch.problems(f, {n: dict(LAYOUT.on(f, n, v1), phase="done")
                                                   for n in f.order}), 200):
        return
    tap.check(watch.polls > 0 and not watch.bad, "in %d status answers while versions were "
              "mixed, no old peer counted a BAD_TYPE it was not sent by the test, and no new "
              "peer sent a hello without %s fleet-wide" % (watch.polls, CAP),
              "\n".join(watch.bad[:20]))
    tap.check(not watch.crowded and watch.most == POLICY["batch"],
              "at every poll, never more than batch (%d) machine disrupted by its own status "
              "(most seen %d)" % (POLICY["batch"], watch.most), "\n".join(watch.crowded[:20]))

    def flowing():
        bad = []
        for p, st in f.status_all().items():
            doc = st.doc or {}
            s = doc.get("selftest") or {}
            if CAP not in doc.get("capabilities", []) or not s.get("hello_sent") or \
                    not s.get("hello_received"):
                bad.append("%s: capabilities %r, selftest %r" % (p, doc.get("capabilities"), s))
            bad += ["%s sees %s's note %r" % (p, m["name"], m.get("selftest_note"))
                    for m in doc.get("members", []) if m.get("selftest_note") != note_of(m["name"])]
        return bad

    if not f.check_wait("all on %s: %s fleet-wide on every peer, each sent and received hellos "
                        "and reads every member's note" % (word(v1), CAP), flowing, 15):
        return
    via = {n: st.doc["selftest"]["notes_via_old"] for n, st in f.status_all().items()}
    tap.note("notes relayed by old peers, per new peer since its re-exec: %r" % via)
    tap.check(sum(via.values()) > 0, "an old peer relayed a new peer's record, its note intact, "
              "to another new peer (selftest.notes_via_old)", repr(via))
    tap.check(all(f.alive(n) and f.pid(n) == pids[n] for n in f.order),
              "every daemon is still the process the test started (pid kept)")
    exe_ok = {n: os.readlink("/proc/%d/exe" % pids[n]) for n in f.order}
    tap.check(all(exe_ok[n] == f.nodes[n].exe for n in f.order),
              "each process runs its node's bin/staggerd (the replaced file)", repr(exe_ok))
    once = {n: len(reexecs(f, n, v0, v1)) for n in f.order}
    tap.check(set(once.values()) == {1}, "each node logged \"re-exec'd from %s to %s (pid "
              "<its pid>\" once" % (v0, v1), repr(once))
    moves = {n: [m.new for m in f.moves(n, word(v1))] for n in f.order}
    tap.check(all(mv == GOOD_MOVES for mv in moves.values()),
              "each node went elected, installing, verifying, soaking, done, once, across its "
              "re-exec", repr(moves))
    installs = {n: f.log_text(n).count("%s: running %s for stagger %s"
                                       % (LAYOUT.hook_tag, os.path.join(HOOKS, "install"),
                                          word(v1)))
                for n in f.order}
    tap.check(set(installs.values()) == {1}, "the install hook ran once on each node",
              repr(installs))
    busy = [s for n in f.order for s in busy_spans(f.moves(n, word(v1)))]
    most, at = max_overlap(busy)
    tap.check(most == POLICY["batch"], "never more than batch (%d) node between elected and "
              "done" % POLICY["batch"], "%d at %s" % (most, at))
    want_prev = sha256(f.staggerd)
    kept = {n: os.path.join(f.nodes[n].dir, "state", "stagger-self", "previous")
            for n in f.order}
    tap.check(all(os.path.exists(k) and sha256(k) == want_prev for k in kept.values()),
              "each node kept the old binary for a rollback (state/stagger-self/previous)")

    # ---- a bad build: it starts but never rejoins ----
    signed, rid2 = f.release(version=word(vbad), stem="release-mute", component="stagger",
                             artifacts=artifact(f, os.path.join(builddir, "staggerd-mute"),
                                                word(vbad)))
    first = f.expected_order(rid2)[0][0]
    others = [n for n in f.order if n != first]
    tap.note("bad build goes to %s first" % first)
    r = f.publish(signed, others[0])
    tap.check(r.returncode == 0, "release stagger %s published to %s" % (word(vbad), others[0]),
              r.stdout + r.stderr)
    if not f.check_wait("every peer shows %s rolled back, healthy on %s again" % (first, word(v1)),
                        lambda: f.problems({first: dict(LAYOUT.on(f, first, v1),
                                                        phase="rolled-back")}),
                        DEADLINE_S + 60):
        return
    mv = [m.new for m in f.moves(first, word(vbad))]
    tap.check(mv == FAIL_MOVES, "%s moved %s" % (first, " -> ".join(FAIL_MOVES)), repr(mv))
    sp = {m.new: m.t for m in f.moves(first, word(vbad))}
    tap.check(sp["failed"] - sp["verifying"] >= DEADLINE_S * 1000 - 50,
              "it failed when the health deadline (%d s) ran out: never healthy on the mute build"
              % DEADLINE_S)
    tap.check(len(reexecs(f, first, v1, vbad)) == 1 and len(reexecs(f, first, vbad, v1)) == 1,
              "%s re-exec'd into %s and, after its rollback hook, back to %s" % (first, vbad, v1))

    def halted(peer, doc):
        ro = LAYOUT.rollout(doc)
        failed, waiting = ro.get("failed") or {}, ro.get("waiting", "")
        bad = []
        if failed.get("node") != first or ("not healthy on %s within %ds" % (word(vbad), DEADLINE_S)
                                           not in failed.get("detail", "")):
            bad.append("%s: rollout.failed = %r" % (peer, failed))
        if not waiting.startswith("halted: stagger %s failed on %s" % (word(vbad), first)):
            bad.append("%s: rollout.waiting = %r" % (peer, waiting))
        if (ro.get("release") or {}).get("id") != rid2:
            bad.append("%s: release %r" % (peer, ro.get("release")))
        return bad

    f.check_wait("status --json on every peer: rollout.failed names %s, waiting \"halted: ...\""
                 % first, lambda: f.views_problems(halted), 10)
    if LAYOUT.name == "component":
        page_shows_failure(f, tap, others[0], first, vbad)
    still = {n: dict(LAYOUT.on(f, n, v1, healthy=False), phase="done") for n in others}
    ok, bad = f.hold(lambda: f.problems(still), 2 * (POLICY["soak_s"] + 1))
    tap.check(ok, "for %d s after the rollback every other node stays done on %s"
              % (2 * (POLICY["soak_s"] + 1), word(v1)), "\n".join(bad[:20]))
    moved = {n: f.moves(n, word(vbad)) for n in others if f.moves(n, word(vbad))}
    tap.check(not moved, "no other node's log has any move for %s" % word(vbad), repr(moved))
    tap.check(all(f.alive(n) and f.pid(n) == pids[n] for n in f.order),
              "after both rollouts every daemon is still the process the test started")
    if LAYOUT.name == "component":
        primary_untouched(f, tap, v1, vbad)


def page_shows(f, tap, peer, what, ok):
    """PEER's status page: one row in its table of the other components'
    rollouts, stagger's, served as its status's rollout.components entry
    renders (escaped), and ok(row class, cells) for WHAT it must say."""
    page = f.http(peer)
    more = (f.status(peer).doc or {}).get("rollout", {}).get("components") or []
    shown, want = page_component_rollouts(page), {ro.get("component"): page_component_row(ro)
                                                  for ro in more}
    cls, cells = want.get("stagger", ("", [""] * 6))
    tap.check(list(want) == ["stagger"] and shown == want and ok(cls, cells),
              "%s's status page: the stagger rollout's row as rollout.components says: %s"
              % (peer, what), "page %r\nstatus %r" % (shown, more))


def page_shows_failure(f, tap, peer, first, vbad):
    """The failed node and why, once the mute build failed."""
    page_shows(f, tap, peer, "failed on %s, its release and waiting line" % first,
               lambda cls, cells: cls == "failed" and
               cells[1].startswith("<b>%s</b> (id " % page_escape(word(vbad))) and
               cells[2].startswith("halted: stagger %s failed on %s" % (word(vbad), first)) and
               cells[5].startswith(first + ": ") and
               "not healthy on %s within %ds" % (word(vbad), DEADLINE_S) in cells[5])


def primary_untouched(f, tap, v1, vbad):
    """With stagger beside it, the primary never moved: no executor move
    but stagger's two releases, no install or rollback hook of the stand-in
    cardano-node ran (its own hooks.log), and every peer shows every member
    on the cardano-node version it started with, healthy (LAYOUT.on)."""
    others = {n: [m for m in f.moves(n) if m.version not in (word(v1), word(vbad))]
              for n in f.order}
    ran = {n: [h for h in f.hooks_log(n) if h[1] in ("install", "rollback")] for n in f.order}
    tap.check(not any(others.values()) and not any(ran.values()),
              "the primary cardano-node never moved: no executor move but stagger's, no install "
              "or rollback hook of cardano-node ran", repr(others) + repr(ran))
    f.check_wait("every peer shows each member's cardano-node on its first version, healthy",
                 lambda: f.problems({n: {"version": LAYOUT.primary[n], "health": "healthy"}
                                     for n in f.order}), 10)


if __name__ == "__main__":
    # The component variant reads the status page (served beside /metrics).
    sys.exit(main(test, policy=POLICY, metrics=LAYOUT.name == "component"))
