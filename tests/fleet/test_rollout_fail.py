#!/usr/bin/python3
"""test_rollout_fail.py: a release that fails on the first node it reaches
halts the fleet. That node runs its rollback hook and ends rolled-back,
healthy on its old version; no other node ever leaves idle (watched for a
bounded window after the rollback, and in every node's log and hook log);
and `staggerctl status --json` on every peer shows rollout.failed naming
the node and the reason, and a waiting text that starts with "halted".

usage: /usr/bin/python3 test_rollout_fail.py STAGGERD STAGGERCTL [install|health|crashloop]
(prints TAP). install: the first node's install hook fails. health: the
install works but the new version never turns healthy, so the health
deadline (60 s, the roster's minimum) runs out. crashloop: the new version
crashes and restarts at every health run (its hook's restarts= climbs), so
the update fails at the third restart (tuning.crash_restarts), long before
that deadline (issue 13).
"""
import sys

from fleet import NEW_VERSION, main, rollout_policy, variant

VARIANT = variant("install")
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10, health_deadline_s=60)
DEADLINE_S = POLICY["health_deadline_s"]
INSTALL_WHY = "checksum mismatch for cardano-node-%s-amd64.deb" % NEW_VERSION
SICK_WHY = "cardano-node %s exits at start: bad config" % NEW_VERSION
CRASH_WHY = "cardano-node %s: segmentation fault" % NEW_VERSION
# Without the halt the next node would be elected within a second or two of
# the rollback; watching two waves' worth (soak + a 1 s install, twice)
# bounds how long "nothing happens" is observed. The only timed wait here.
WINDOW_S = 2 * (POLICY["soak_s"] + 1)
FAIL_MOVES = {"install": ["elected", "installing", "failed", "rolling-back", "rolled-back"],
              "health": ["elected", "installing", "verifying", "failed", "rolling-back",
                         "rolled-back"],
              "crashloop": ["elected", "installing", "verifying", "failed", "rolling-back",
                            "rolled-back"]}[VARIANT]


def reason_ok(text):
    if VARIANT == "install":
        return "install hook failed" in text and INSTALL_WHY in text
    if VARIANT == "crashloop":
        return "crash loop: %s restarted 3 times within" % NEW_VERSION in text
    return "not healthy on %s within %ds" % (NEW_VERSION, DEADLINE_S) in text


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    first = f.expected_order(rid)[0][0]
    others = [n for n in f.order if n != first]
    old = f.version_of(first)
    tap.note("first in the order: %s (on %s)" % (first, old))
    if VARIANT == "install":
        f.set_update(first, fail_install=INSTALL_WHY)
    elif VARIANT == "crashloop":
        f.set_update(first, crashloop=CRASH_WHY)
    else:
        f.set_update(first, sick=SICK_WHY)
    peer = others[0]
    r = f.publish(signed, peer)
    tap.check(r.returncode == 0, "release %s published to %s" % (NEW_VERSION, peer),
              r.stdout + r.stderr)

    back = {first: {"phase": "rolled-back", "version": old, "health": "healthy"}}
    if not f.check_wait("every peer shows %s rolled back, healthy on %s again" % (first, old),
                        lambda: f.problems(back),
                        DEADLINE_S + 40 if VARIANT in ("health", "crashloop") else 30):
        return
    moves = [m.new for m in f.moves(first, NEW_VERSION)]
    tap.check(moves == FAIL_MOVES, "%s moved %s" % (first, " -> ".join(FAIL_MOVES)), repr(moves))
    rollbacks = [h for h in f.hooks_log(first) if h[1] == "rollback" and h[3].startswith("end")]
    tap.check(len(rollbacks) == 1 and rollbacks[0][3] == "end " + old,
              "its rollback hook ran once and put %s back" % old, repr(f.hooks_log(first)))
    if VARIANT == "health":
        sp = {m.new: m.t for m in f.moves(first, NEW_VERSION)}
        waited = sp["failed"] - sp["verifying"]
        tap.check(waited >= DEADLINE_S * 1000 - 50,
                  "it failed only when the health deadline (%d s) ran out: verified for %.1f s"
                  % (DEADLINE_S, waited / 1000))
    if VARIANT == "crashloop":
        sp = {m.new: m.t for m in f.moves(first, NEW_VERSION)}
        waited = sp["failed"] - sp["verifying"]
        # Three health runs after the install, one a second (the harness's
        # interval), scaled for a slow machine: far under the deadline.
        # Never more than 3/4 of the deadline, or the check would say nothing.
        tap.check(waited < min(f.deadline(DEADLINE_S * 1000 / 3), DEADLINE_S * 1000 * 3 / 4),
                  "it failed at the third restart, not at the health deadline (%d s): "
                  "verified for %.1f s" % (DEADLINE_S, waited / 1000))

    still = {n: {"phase": lambda v: v in ("", "idle")} for n in others}
    still[first] = back[first]
    ok, bad = f.hold(lambda: f.problems(still), WINDOW_S)
    tap.check(ok, "for %d s after the rollback, every peer shows every other node idle"
              % WINDOW_S, "\n".join(bad[:20]))
    moved = {n: f.moves(n) for n in others if f.moves(n)}
    tap.check(not moved, "no other node's log has any executor move", repr(moved))
    ran = {n: f.installs(n) for n in others if f.installs(n)}
    tap.check(not ran, "no other node ran its install hook", repr(ran))

    def halted(peer, doc):
        ro = doc["rollout"]
        failed, waiting = ro.get("failed") or {}, ro.get("waiting", "")
        bad = []
        if failed.get("node") != first or not reason_ok(failed.get("detail", "")):
            bad.append("%s: rollout.failed = %r" % (peer, failed))
        if not waiting.startswith("halted: cardano-node %s failed on %s" % (NEW_VERSION, first)):
            bad.append("%s: rollout.waiting = %r" % (peer, waiting))
        if ro["release"]["id"] != rid or ro["pending"] != 8:
            bad.append("%s: release %r, pending %r" % (peer, ro["release"], ro["pending"]))
        return bad

    f.check_wait("status --json on every peer: rollout.failed names %s with the reason, "
                 "waiting \"halted: ...\", 8 pending" % first,
                 lambda: f.views_problems(halted), 5)
    tap.note("%s says: %s" % (peer, f.last_views[peer].doc["rollout"]["waiting"]))
    r = f.status(peer, as_json=False)
    tap.check("halted: cardano-node %s failed on %s" % (NEW_VERSION, first) in r.out,
              "the status table says the fleet is halted and why", r.out)


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
