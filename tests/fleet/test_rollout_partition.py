#!/usr/bin/python3
"""test_rollout_partition.py: who may update when peers are missing.

down: the relay first in the order is killed before the release is
published. While it is down it is never elected (no "-> elected" in its log,
never shown updating) and the others go past it; the holdback pair waits,
as the proof needs every other node done; restarted, it updates too and
the rollout completes.

minority: 5 of the 8 peers are frozen with SIGSTOP (partitioned away:
they neither answer nor speak) and the release is published to one of the
3 still running. unavailable_max is 7 here, so only the strict-majority
rule can stop them: a running node does ask for a slot, yet for a bounded
window nobody leaves idle; after SIGCONT the rollout completes.

usage: /usr/bin/python3 test_rollout_partition.py STAGGERD STAGGERCTL [down|minority]
(prints TAP)
"""
import sys

from fleet import NEW_VERSION, busy_spans, main, max_overlap, rollout_policy, variant

VARIANT = variant("down")
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10,
                        unavailable_max=7 if VARIANT == "minority" else 1)
# A candidate that lacks a majority gives up after start_bound_ms/2 (5 s)
# and retries after about a second: 15 s holds two or three attempts. The
# only timed observation in this test.
MINORITY_WINDOW_S = 15


def gone(names):
    """Expectation: NAMES are not alive (suspect or dead), health unknown."""
    return {n: {"health": "unknown", "liveness": lambda v: v in ("suspect", "dead")}
            for n in names}


def idle(names):
    return {n: {"phase": lambda v: v in ("", "idle")} for n in names}


def check_batch(f, tap):
    busy = [s for n in f.order for s in busy_spans(f.moves(n, NEW_VERSION))]
    most, at = max_overlap(busy)
    tap.check(most == 1, "never more than 1 node between elected and done", "%d at %s"
              % (most, at))


def test_down(f, tap, rid, signed):
    order = [n for n, _ in f.expected_order(rid)]
    victim = order[0]
    others = [n for n in f.order if n != victim]
    hold = f.holdback()
    f.kill9(victim)
    if not f.check_wait("%s killed: every other peer shows it unknown" % victim,
                        lambda: f.problems(gone([victim]), peers=others), 15):
        return
    r = f.publish(signed, others[0])
    tap.check(r.returncode == 0, "release published to %s" % others[0], r.stdout + r.stderr)

    shown = set()

    def rest_done():
        bad = f.rolled_out(names=[n for n in others if n not in hold], peers=others)
        for st in f.last_views.values():
            row = st.row(victim)
            if row:
                shown.add(row["phase"])
        return bad

    if not f.check_wait("with %s down, the other non-holdback nodes are all done" % victim,
                        rest_done, 90):
        return
    tap.check(shown <= {"", "idle"}, "%s was never shown updating (phases seen: %s)"
              % (victim, sorted(shown)))
    tap.check(not f.moves(victim), "%s's log has no executor move" % victim,
              repr(f.moves(victim)))

    def proof_waits(peer, doc):
        ro = doc["rollout"]
        return [] if ro["waiting"] == "proof: waiting for " + victim and \
            not ro["proof"]["holds"] else ["%s: %r" % (peer, ro["waiting"])]

    f.check_wait("the holdback pair waits: every other peer says \"proof: waiting for %s\""
                 % victim, lambda: f.views_problems(proof_waits, peers=others), 5)
    tap.check(all(not f.moves(n) for n in hold), "the holdback pair has not moved")

    f.start(victim)
    if not f.check_wait("restarted, %s updates too: every peer shows all 8 done on %s"
                        % (victim, NEW_VERSION), lambda: f.rolled_out(), 90):
        return
    mv = f.moves(victim, NEW_VERSION)
    tap.check([m.new for m in mv] == ["elected", "installing", "verifying", "soaking", "done"]
              and all(m.run == 2 for m in mv),
              "%s was elected only after its restart, and went through to done" % victim,
              repr(mv))
    check_batch(f, tap)


def test_minority(f, tap, rid, signed):
    order = [n for n, _ in f.expected_order(rid)]
    running = order[:3]
    frozen = [n for n in f.order if n not in running]
    for n in frozen:
        f.sigstop(n)
    if not f.check_wait("%s frozen: the 3 running peers show all 5 unknown" % ", ".join(frozen),
                        lambda: f.problems(gone(frozen), peers=running), 20):
        return
    r = f.publish(signed, running[1])
    tap.check(r.returncode == 0, "release published to %s" % running[1], r.stdout + r.stderr)
    ok, bad = f.hold(lambda: f.problems(idle(f.order), peers=running), MINORITY_WINDOW_S)
    tap.check(ok, "for %d s every running peer shows every node idle" % MINORITY_WINDOW_S,
              "\n".join(bad[:20]))
    asked = [n for n in running if "asking the fleet to update" in f.log_text(n)]
    gave_up = [n for n in running if "gave up (no majority in time)" in f.log_text(n)]
    tap.check(asked and gave_up, "a running node asked for a slot and gave up without a "
              "majority (asked: %s; gave up: %s)" % (asked, gave_up))
    moved = {n: f.moves(n) for n in running if f.moves(n)}
    tap.check(not moved, "no running node's log has an executor move", repr(moved))

    for n in frozen:
        f.sigcont(n)
    if not f.check_wait("SIGCONT: every peer shows all 8 members done on %s" % NEW_VERSION,
                        lambda: f.rolled_out(), 120):
        return
    check_batch(f, tap)


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    (test_down if VARIANT == "down" else test_minority)(f, tap, rid, signed)


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
