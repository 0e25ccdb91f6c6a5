#!/usr/bin/python3
"""test_emergency_control.py: `staggerctl emergency halt|resume|abandon|
rollback` against a staggered rollout under way on eight real staggerd peers
(issue 5, acceptance 2). Each variant checks every peer's view afterwards,
and what the nodes did from their own logs and hook records.

  halt      the first node of the order installs slowly; `halt` while it
            does: rollout.halted on every peer, the running node finishes,
            no other node starts in a window after it; `resume`: the rollout
            runs to completion on every peer.
  retry     the first node's install fails: it rolls back and the fleet
            halts with the reason on every peer; after the hook is fixed,
            `resume` forgives the failure: that node updates again and the
            rollout completes.
  abandon   `abandon` while the first node installs: every peer says
            abandoned, the running node finishes, no other node starts.
  rollback  after two nodes are done, `rollback`: every node that runs the
            release, or was updating to it, runs its rollback hook, every
            peer shows each node on its old version again, and no node
            updates to the release afterwards.

usage: /usr/bin/python3 test_emergency_control.py STAGGERD STAGGERCTL
       [halt|retry|abandon|rollback]   (prints TAP)
"""
import subprocess
import sys

import emergency_util as eu
from fleet import NEW_VERSION, main, rollout_policy, variant

VARIANT = variant("halt")
POLICY = rollout_policy(batch=1, soak_s=1, epoch_s=4)
SLOW_INSTALL_MS = 3000
QUIET_S = 3          # "no new node starts": watched this long after the running one ends
UPDATING = ("elected", "installing", "verifying", "soaking")


def send(f, tap, action, peer):
    r = eu.emergency(f, action, ("op",), peer, "--reason", "test " + action)
    seq = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq, "staggerctl emergency %s --peer %s: applied" %
              (action, peer), r.stdout + r.stderr)
    if seq and not f.check_wait("every peer applied #%d (%s), all 8 in applied_by" %
                                (seq, action),
                                lambda: eu.applied_everywhere(f, seq, action=action), 15):
        return None
    return seq


def applied_ms(f, seq):
    """Each node's own `[cmd] applied operator command #SEQ` log time. A node
    is only bound by a command from the moment it has it: one elected while
    the command is still on its way to it did nothing wrong."""
    out = {}
    for n in f.order:
        ts = [t for t, _ in eu.log_lines(f, n, "applied operator command #%d " % seq)]
        out[n] = min(ts) if ts else 0
    return out


def elected_after(f, t_ms, except_=()):
    """Elections later than t_ms: one time for all, or a node -> time dict."""
    at = t_ms if isinstance(t_ms, dict) else {n: t_ms for n in f.order}
    return {n: [m.t for m in f.moves(n, NEW_VERSION) if m.new == "elected" and m.t > at[n]]
            for n in f.order if n not in except_}


def check_no_start(f, tap, t_ms, except_, why):
    ok, _ = f.hold(lambda: [], QUIET_S)  # the window: polling status, nothing else
    late = {n: t for n, t in elected_after(f, t_ms, except_).items() if t}
    tap.check(not late, "no other node started in the %d s after %s" % (QUIET_S, why), repr(late))


def wait_waiting(f, tap, prefix, timeout=10):
    return f.check_wait("every peer's rollout waits: \"%s...\"" % prefix,
                        lambda: eu.rollout_field(f, "waiting", lambda w: bool(w) and
                                                 w.startswith(prefix)), timeout)


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    old = {n: f.version_of(n) for n in f.order}
    signed, rid = f.release()
    order = [n for n, _ in f.expected_order(rid)]
    first = order[0]
    if VARIANT in ("halt", "abandon"):
        f.set_update(first, install_ms=SLOW_INSTALL_MS)
    if VARIANT == "retry":
        f.set_update(first, fail_install="test: a broken build")
    r = f.publish(signed, "relay3")
    tap.check(r.returncode == 0, "release published to relay3", r.stdout + r.stderr)

    if VARIANT in ("halt", "abandon"):
        if not f.check_wait("every peer sees %s installing" % first,
                            lambda: f.problems({first: {"phase": "installing"}}), 20):
            return
        action = "halt" if VARIANT == "halt" else "abandon"
        seq = send(f, tap, action, "relay4")
        if not seq:
            return
        t = applied_ms(f, seq)
        if VARIANT == "halt":
            bad = eu.rollout_field(f, "halted", True)
            tap.check(not bad, "rollout.halted is true on every peer", "\n".join(bad))
            wait_waiting(f, tap, "halted by the operator: test halt")
            views = eu.cmd_views(f)
            tap.check(all(d and d["commands"]["recent"][0].get("reason") == "test halt"
                          for d in views.values()),
                      "every peer's status shows the halt's reason in commands.recent")
            r = subprocess.run(f.status_cmd("relay1", as_json=False), capture_output=True,
                               text=True, timeout=30)
            tap.check('halt: applied by 8 of 8 members ("test halt")' in r.stdout and
                      "halted by the operator: test halt" in r.stdout,
                      "staggerctl status shows the halt and its reason", r.stdout + r.stderr)
        else:
            wait_waiting(f, tap, "abandoned: the operator gave up on cardano-node " + NEW_VERSION)
        if not f.check_wait("the running node, %s, finishes: done on %s on every peer"
                            % (first, NEW_VERSION),
                            lambda: f.rolled_out(names=[first]), 20):
            return
        check_no_start(f, tap, t, [first], action)
        bad = f.problems({n: {"version": old[n], "phase": "idle"}
                          for n in f.order if n != first})
        tap.check(not bad, "every peer shows the 7 others idle on their old versions",
                  "\n".join(bad))
        if VARIANT == "abandon":
            views = f.last_views
            tap.check(all(st.doc["rollout"]["halted"] is False and
                          st.doc["rollout"]["release"]["id"] == rid for st in views.values()),
                      "abandoned is not halted: each peer still holds the release, not halted")
            return
        seq2 = send(f, tap, "resume", "standby")
        if not seq2:
            return
        bad = eu.rollout_field(f, "halted", False)
        tap.check(not bad, "rollout.halted is false on every peer", "\n".join(bad))
        f.check_wait("the rollout completes: every peer shows all 8 done on " + NEW_VERSION,
                     lambda: f.rolled_out(), 60)
        return

    if VARIANT == "retry":
        if not f.check_wait("every peer shows %s rolled back and the fleet halted for it" % first,
                            lambda: f.problems({first: {"phase": "rolled-back",
                                                        "version": old[first]}}) +
                            eu.rollout_field(f, "failed", lambda x: bool(x) and
                                             x.get("node") == first and
                                             "a broken build" in x.get("detail", "")), 20):
            return
        t_fail = max(m.t for m in f.moves(first, NEW_VERSION))
        wait_waiting(f, tap, "halted: cardano-node %s failed on %s" % (NEW_VERSION, first))
        check_no_start(f, tap, t_fail, [first], "the failure")
        f.set_update(first, fail_install=None)
        seq = send(f, tap, "resume", "dark1")
        if not seq:
            return
        if not f.check_wait("the rollout completes: every peer shows all 8 done on " + NEW_VERSION,
                            lambda: f.rolled_out(), 60):
            return
        ins = [h[3] for h in f.installs(first)]
        tap.check(len(ins) == 2, "%s's install hook ran twice: failed, then retried after "
                  "resume" % first, repr(f.hooks_log(first)))
        tap.check([m.new for m in f.moves(first, NEW_VERSION)] ==
                  ["elected", "installing", "failed", "rolling-back", "rolled-back",
                   "idle", "elected", "installing", "verifying", "soaking", "done"],
                  "%s: failed, rolled back, left its failure for idle at the resume "
                  "(protocol.md §10), then elected again and done" % first,
                  repr(f.moves(first, NEW_VERSION)))
        bad = eu.rollout_field(f, "failed", None)
        tap.check(not bad, "no peer shows a failed member any more", "\n".join(bad))
        return

    # rollback
    two = order[:2]
    if not f.check_wait("every peer shows %s done on %s" % (" and ".join(two), NEW_VERSION),
                        lambda: f.rolled_out(names=two), 40):
        return
    seq = send(f, tap, "rollback", "bp")
    if not seq:
        return
    t = applied_ms(f, seq)
    touched = []

    def back():
        touched[:] = [n for n in f.order if f.moves(n, NEW_VERSION)]  # done, or updating to it
        return f.problems({n: {"version": old[n], "phase": "rolled-back" if n in touched
                               else "idle", "health": "healthy"} for n in f.order})
    if not f.check_wait("every peer shows every node on its old version again, those that "
                        "had the release rolled back", back, 20):
        return
    tap.note("ran or was updating to %s when rolled back: %s" % (NEW_VERSION, ", ".join(touched)))
    rb = {n: [h for h in f.hooks_log(n) if h[1] == "rollback" and h[3].startswith("end")]
          for n in touched}
    tap.check(all(len(v) == 1 and v[0][3] == "end " + old[n] for n, v in rb.items()),
              "each of them ran its rollback hook once, back to its old version", repr(rb))
    tap.check(all(f.version_of(n) == old[n] for n in f.order),
              "every node's service runs its old version")
    wait_waiting(f, tap, "abandoned: the operator gave up on cardano-node " + NEW_VERSION)
    check_no_start(f, tap, t, [], "the rollback")
    late = {n: [m.t for m in f.moves(n, NEW_VERSION) if m.new == "installing" and m.t > t[n]]
            for n in f.order}
    late = {n: v for n, v in late.items() if v}
    tap.check(not late, "no install hook started on a node after it applied the rollback",
              "applied at %r, installing at %r" % (t, late))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
