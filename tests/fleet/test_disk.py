#!/usr/bin/python3
"""test_disk.py: a node whose state directory cannot be written (issue 10,
item 5): it votes for no one and starts nothing until it can write again,
says so in its status and in an ERROR line, and then recovers; and an
install or rollback hook whose process group cannot be recorded never runs.

usage: /usr/bin/python3 test_disk.py STAGGERD STAGGERCTL [full|readonly|hookpgid]
(prints TAP; needs root for a private mount namespace and tmpfs mounts,
skipped without).

full, readonly: six peers; the producer bp (the last node before the
holdback pair) keeps its state directory on a 64 KiB tmpfs. While the first
relay installs, that tmpfs is filled to the last page (full) or remounted
read-only (readonly). Checked: bp's status says `journal.ok: false` with
the error, its log has `ERROR [journal] cannot write the journal (...)`;
the two other relays are elected and finish while bp cannot write (in
bp's own view, which is what it acts on), and
bp's log shows no `[elect] ... granted to` from its first journal error to
its recovery although at least one election began after that error (its
vote was asked); an emergency resume handed to bp then gets `ok-rep`
pending (staggerctl exits 1 and says why), while its flood reaches the
others; with bp next in the order, for 5 s it does not start
(no executor move, no install hook, status `waiting` says why). Then the
space is freed (or the tmpfs remounted read-write): bp's journal is ok
again, it updates, the holdback pair follows, every peer shows all six
done, never two updating at once.

Why these observables fail on a core that ignores write failures (issue 10
as filed: "cannot write ... No space left on device" followed at once by
"[elect] slot 0: granted to relay4"): a voter that does not know it cannot
write grants the next relay like any other voter, and logs the grant; and
as the next node it asks for its slot, wins it (five of six voters can
write) and runs its install hook while its journal still says idle. Both
would show in the windows above.

hookpgid: five peers; the first node in the order has its install and
rollback hooks begin by creating a marker file. Its hook.pgid cannot be
written: the temporary file it is written through (hook.pgid.tmp.PID) is a
bind mount of a file on a second, full tmpfs, so the write fails with
ENOSPC exactly as on a full disk, while the journal writes beside it
succeed. (One full tmpfs cannot produce that order: an atomic replace that
succeeds frees the old copy's pages, at least as many as the one page
hook.pgid needs, so the journal write that comes before every install
would have failed first, and then the core never asks for the hook: the
case of `full`.) Checked: the node reports the install failed with
`not started: cannot record its process group: No space left on device`
(its status, the others' view, an ERROR line), neither hook's marker
exists and neither hook wrote its log, no process of the hook is left,
hook.pgid does not exist, and the fleet stops granting the release. Then
the bind mount goes, the operator sends `resume`, and the node installs
(once) and the rollout completes.
"""
import os
import re
import sys

import disk_util
import emergency_util as eu
from fleet import NEW_VERSION, busy_spans, main, max_overlap, rollout_policy, variant

VARIANT = variant("full")
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10)
ERROR = {"full": "No space left on device", "readonly": "Read-only file system"}
TMPFS_KIB = 64
# How long the test watches the node that cannot write, with its turn come,
# not start: an observation of the system (not scaled), like hold().
STALL_S = 5
NOT_STARTED = "not started: cannot record its process group: No space left on device"


def state_dir(f, name):
    return os.path.join(f.nodes[name].dir, "state")


def journal(f, name):
    st = f.status(name)
    return (st.doc or {}).get("journal") or {}


def lines_between(text, start, end):
    """The lines of text from the first containing start up to (not
    including) the first after it containing end (to the end if none)."""
    out, inside = [], False
    for line in text.splitlines():
        if not inside and start in line:
            inside = True
        elif inside and end in line:
            break
        if inside:
            out.append(line)
    return out


def test_unwritable(f, tap, disk):
    v = "bp"
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    order = [n for n, _ in f.expected_order(rid)]
    hold = f.holdback()
    rest = [n for n in order if n not in hold]
    if not tap.check(rest[-1] == v and len(rest) == 4,
                     "%s is the last of the 4 nodes before the holdback pair (%s)"
                     % (v, ", ".join(rest))):
        return
    first = rest[0]
    f.set_update(first, install_ms=3000)
    r = f.publish(signed, rest[1])
    tap.check(r.returncode == 0, "release %s published to %s" % (NEW_VERSION, rest[1]),
              r.stdout + r.stderr)

    def first_installing():
        st = f.status(v)
        doc = st.doc or {}
        rel = (doc.get("rollout") or {}).get("release") or {}
        row = st.row(first) or {}
        bad = []
        if rel.get("id") != rid:
            bad.append("%s has not adopted the release (%r)" % (v, rel))
        if row.get("phase") != "installing" or not f.installs(first):
            bad.append("%s sees %s %r; its install hook began: %s"
                       % (v, first, row.get("phase"), bool(f.installs(first))))
        return bad

    if not f.check_wait("%s adopted the release and sees %s installing" % (v, first),
                        first_installing, 30):
        return
    if VARIANT == "full":
        size = disk.fill()
        tap.note("filled %s's %d KiB state directory with %d bytes" % (v, TMPFS_KIB, size))
    else:
        disk.remount("ro")
        tap.note("remounted %s's state directory read-only" % v)
    want = ERROR[VARIANT]

    def failed():
        j = journal(f, v)
        if j.get("ok") is False and want in j.get("error", ""):
            return []
        return ["%s's status journal: %r" % (v, j)]

    # It notices at its next journal write: when it frees the first relay's
    # grant as that relay finishes.
    if not f.check_wait("%s's status: journal ok false, error \"%s\"" % (v, want), failed, 40):
        return
    table = f.status(v, as_json=False).out
    tap.check("cannot write its journal (journal.json: %s)" % want in table,
              "staggerctl status at %s says it cannot write its journal" % v, table)
    errs = eu.log_lines(f, v, "ERROR [journal] cannot write the journal (")
    tap.check(errs and ("(journal.json: %s)" % want) in errs[0][1],
              "%s logged ERROR [journal] cannot write the journal (journal.json: %s)"
              % (v, want), f.log_tail(v, 20))
    if not errs:
        return
    t_err = errs[0][0]

    # In bp's own view, which is what it acts on (the others' views of it
    # may flap to suspect on a loaded machine, and skip it meanwhile).
    if not f.check_wait("the other relays are elected and done while %s cannot write"
                        % v, lambda: f.rolled_out(names=rest[:-1], peers=[v]), 90):
        return

    def next_is_v(peer, doc):
        nxt = doc["rollout"].get("next")
        return [] if nxt == [v] else ["%s: next %r" % (peer, nxt)]

    if not f.check_wait("%s names itself next" % v,
                        lambda: f.views_problems(next_is_v, peers=[v]), 20):
        return

    def stalled():
        bad = []
        if [m for m in f.moves(v, NEW_VERSION) if m.run == 1]:
            bad.append("%s moved: %r" % (v, f.moves(v, NEW_VERSION)))
        if f.installs(v):
            bad.append("%s ran its install hook: %r" % (v, f.hooks_log(v)))
        doc = f.status(v).doc or {}
        waiting = (doc.get("rollout") or {}).get("waiting", "")
        if not waiting.startswith("this node cannot write its journal"):
            bad.append("%s waiting: %r" % (v, waiting))
        if (doc.get("journal") or {}).get("ok") is not False:
            bad.append("%s journal: %r" % (v, doc.get("journal")))
        return bad

    ok, bad = f.hold(stalled, STALL_S)
    tap.check(ok, "for %d s with %s next, it does not start: no executor move, no install "
              "hook, its status waiting says it cannot write its journal" % (STALL_S, v),
              "\n".join(bad))

    # Its vote was asked after it knew: a candidate elected well after the
    # error line sent its vote request after it too (same machine clock).
    later = ["%s elected %d ms after" % (n, t - t_err) for n in rest[:-1]
             for t in eu.started_at(f, n, NEW_VERSION) if t > t_err + 500]
    tap.check(later, "an election began after %s's journal error (%s)"
              % (v, "; ".join(later) or "none"))

    # A client's document to the node that cannot write is pending, not
    # applied (docs/protocol.md §7.9): staggerctl says so and exits 1. A
    # resume of a fleet that is not halted changes nothing but the
    # sequence; the command's flood leaves at once, so the others apply it.
    r = eu.emergency(f, "resume", ("op",), v)
    tap.check(r.returncode == 1 and "(pending)" in r.stderr and want in r.stderr,
              "a resume handed to %s: staggerctl exits 1 and says pending, with \"%s\""
              % (v, want), "rc %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    applied = re.search(r"command #(\d+) applied, but", r.stderr)
    seq = int(applied.group(1)) if applied else None

    def applied_seq(peer):
        doc = f.status(peer).doc or {}
        return (doc.get("commands") or {}).get("applied_seq")

    if seq:
        f.check_wait("%s applied the pending command #%d from %s's flood" % (rest[0], seq, v),
                     lambda: [] if applied_seq(rest[0]) == seq else
                     ["%s applied_seq %r" % (rest[0], applied_seq(rest[0]))], 20)

    if VARIANT == "full":
        disk.free()
    else:
        disk.remount("rw")
    again = "space freed" if VARIANT == "full" else "read-write again"
    if not f.check_wait("%s: %s's status journal ok true" % (again, v),
                        lambda: [] if journal(f, v).get("ok") is True else
                        ["%s journal %r" % (v, journal(f, v))], 30):
        return
    text = f.log_text(v)
    window = lines_between(text, "cannot write the journal (", "the journal is written again")
    tap.check(window and not [l for l in window if "granted to" in l],
              "%s's log: no slot granted from its first journal error to \"the journal is "
              "written again\" (%d lines)" % (v, len(window)),
              "\n".join(l for l in window if "[elect]" in l))
    recovered = eu.log_lines(f, v, "the journal is written again")
    t_ok = recovered[0][0] if recovered else None
    if not f.check_wait("the rollout completes: every peer shows all %d done on %s"
                        % (len(f.order), NEW_VERSION), lambda: f.rolled_out(), 120):
        return
    elected = eu.started_at(f, v, NEW_VERSION)
    tap.check(t_ok and len(elected) == 1 and elected[0] >= t_ok,
              "%s was elected once, after its journal was written again" % v,
              "elected %r, recovered %r" % (elected, t_ok))
    busy = [s for n in f.order for s in busy_spans(f.moves(n, NEW_VERSION))]
    most, at = max_overlap(busy)
    tap.check(most == 1, "never more than 1 node between elected and done", "%d at %s"
              % (most, at))
    j = journal(f, v)
    tap.check(j.get("ok") is True and j.get("failures", 0) >= 1,
              "%s's status counts %s failed journal writes, none waiting now" %
              (v, j.get("failures")), repr(j))


MARK = ": >'%s'  # marker: the first thing this hook does (test_disk.py hookpgid)\n"


def mark_hooks(f, name):
    """Make NAME's install and rollback hooks create a marker file first;
    returns {hook: marker path}."""
    marks = {}
    for h in ("install", "rollback"):
        path = f.nodes[name].update_hooks[h]
        marks[h] = os.path.join(f.nodes[name].dir, h + "-ran")
        lines = open(path).read().splitlines(True)
        with open(path, "w") as out:
            out.write(lines[0] + MARK % marks[h] + "".join(lines[1:]))
    return marks


def hook_processes(path):
    """PIDs whose command line names path."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read()
        except OSError:
            continue
        if path.encode() in cmd:
            out.append(int(pid))
    return out


def test_hookpgid(f, tap, full):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    order = [n for n, _ in f.expected_order(rid)]
    v = order[0]
    marks = mark_hooks(f, v)
    src = os.path.join(full.path, "pgid")
    open(src, "w").close()
    size = full.fill()
    target = os.path.join(state_dir(f, v), "hook.pgid.tmp.%d" % f.pid(v))
    open(target, "w").close()
    full.bind_file(src, target)
    tap.note("%s's %s is a file on a full %d KiB tmpfs (filled with %d bytes)"
             % (v, os.path.basename(target), 4, size))
    r = f.publish(signed, order[1])
    tap.check(r.returncode == 0, "release %s published to %s" % (NEW_VERSION, order[1]),
              r.stdout + r.stderr)

    def reported(peer, doc):
        row = [m for m in doc["members"] if m["name"] == v][0]
        if row["phase"] in ("failed", "rolled-back") and NOT_STARTED in row["phase_detail"]:
            return []
        return ["%s sees %s %s: %r" % (peer, v, row["phase"], row["phase_detail"])]

    if not f.check_wait("every peer shows %s failed with \"%s\"" % (v, NOT_STARTED),
                        lambda: f.views_problems(reported), 40):
        return
    tap.note("%s: %s" % (v, [m for m in f.status(v).doc["members"] if m["name"] == v][0]))
    ran = [h for h, path in marks.items() if os.path.exists(path)]
    tap.check(not ran, "neither the install nor the rollback hook's first line ran (no marker)",
              repr(ran))
    tap.check(not f.hooks_log(v) or all(h[1] == "gate" for h in f.hooks_log(v)),
              "%s's update hooks wrote nothing to hooks.log (only its gate ran)" % v,
              repr(f.hooks_log(v)))
    errs = eu.log_lines(f, v, "ERROR [hook] install: not started: cannot record its process "
                              "group: No space left on device")
    tap.check(errs, "%s logged ERROR [hook] install: not started: cannot record its process "
              "group: No space left on device" % v, f.log_tail(v, 20))
    left = hook_processes(f.nodes[v].update_hooks["install"]) + \
        hook_processes(f.nodes[v].update_hooks["rollback"])
    tap.check(not left, "no process of %s's install or rollback hook is left" % v, repr(left))
    tap.check(not os.path.exists(os.path.join(state_dir(f, v), "hook.pgid")),
              "%s's state directory has no hook.pgid" % v)

    def halted(peer, doc):
        fl = doc["rollout"].get("failed") or {}
        return [] if fl.get("node") == v else ["%s: rollout.failed %r" % (peer, fl)]

    f.check_wait("every peer's rollout names %s failed: the release is no longer granted" % v,
                 lambda: f.views_problems(halted), 20)
    others = [n for n in f.order if n != v]
    tap.check(not any(f.moves(n, NEW_VERSION) for n in others),
              "no other node started", repr({n: f.moves(n, NEW_VERSION) for n in others}))

    # The way out (docs/operations.md, when the disk is full): room again,
    # then the operator's resume. Neither hook ran, so the node still runs
    # the old version and the resume makes it try again.
    full.unbind()
    r = eu.emergency(f, "resume", ("op",), order[1])
    tap.check(r.returncode == 0, "hook.pgid writable again; emergency resume applied",
              r.stdout + r.stderr)
    if not f.check_wait("the rollout completes: every peer shows all %d done on %s"
                        % (len(f.order), NEW_VERSION), lambda: f.rolled_out(), 120):
        return
    begun = [h for h in f.hooks_log(v) if h[1] == "install" and h[3].startswith("begin")]
    tap.check(os.path.exists(marks["install"]) and len(begun) == 1,
              "%s's install hook ran once, after the resume" % v, repr(f.hooks_log(v)))


def test(f, tap):
    if VARIANT == "hookpgid":
        disk = disk_util.Tmpfs(os.path.join(f.dir, "fullfs"), 4)
    else:
        disk = disk_util.Tmpfs(state_dir(f, "bp"), TMPFS_KIB)
    try:
        if VARIANT == "hookpgid":
            test_hookpgid(f, tap, disk)
        else:
            test_unwritable(f, tap, disk)
    finally:
        # The daemons go before their file systems; cleanup() kills the rest.
        disk.unbind()
        for n in f.order:
            if f.alive(n):
                f.stop(n, timeout=5)
        disk.unmount()


if __name__ == "__main__":
    why = disk_util.private_mounts()
    if why:
        print("1..0 # SKIP %s" % why)
        sys.exit(0)
    sys.exit(main(test, n=5 if VARIANT == "hookpgid" else 6, policy=POLICY))
