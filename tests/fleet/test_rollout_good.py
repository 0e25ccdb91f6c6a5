#!/usr/bin/python3
"""test_rollout_good.py: a good release rolls out over eight real staggerd
peers (1 producer, 1 standby, 4 relays, 2 dark relays; debian and nix) and
every rule of the rollout is checked from what the nodes logged, not assumed:
the order (stages relays, dark relays, producer, holdback pair; inside them
the hash order of docs/protocol.md §9.3, recomputed here), both flavours in
the first two updates, never more than `batch` nodes between elected and
done, each wave after the previous one's full soak, the producer off the
epoch boundaries, and the holdback pair only after the proof: every other
node done, and an epoch boundary and the soak time since the last of them
turned healthy on the release; and every gate hook ran with the
roster's epoch schedule in its environment (STAGGER_EPOCH_*).

usage: /usr/bin/python3 test_rollout_good.py STAGGERD STAGGERCTL [batch1|batch2]
(prints TAP). batch1: installs restart the service at once, so a node's
health never changes across its update, and the producer's install ends
just after an epoch boundary: the proof must wait for the next boundary,
as it counts from the last node turning healthy *on the release*, not from
an older turn to healthy. batch2: two slots, and
each install leaves the service restarting (unhealthy) for 0.6 s; checks
that two nodes really update at once.
"""
import sys

from fleet import (NEW_VERSION, boundaries_between, busy_spans, main, max_overlap,
                   rollout_policy, spans, variant)

VARIANT = variant("batch1")
BATCH = {"batch1": 1, "batch2": 2}[VARIANT]
POLICY = rollout_policy(batch=BATCH, soak_s=2, epoch_s=10)
RESTART_MS = {"batch1": 0, "batch2": 600}[VARIANT]
SOAK_MS = POLICY["soak_s"] * 1000
# A log line is stamped when it is written, a few ms after the core's clock
# reading that the soak is measured against.
LOG_SLACK_MS = 50
PHASES = ["elected", "installing", "verifying", "soaking", "done"]


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    old = {n: f.version_of(n) for n in f.order}
    for n in f.order:
        f.set_update(n, restart_ms=RESTART_MS)
    if VARIANT == "batch1":
        # The producer is the last node before the holdback pair: it turns
        # healthy ~0.5 s after a boundary, so a proof that holds before the
        # next boundary (8+ s later) is plainly wrong, whatever the timing.
        f.set_update("bp", install_align="%d %d 300" % (POLICY["epoch"]["start_s"] * 1000,
                                                         POLICY["epoch"]["length_s"] * 1000))
    signed, rid = f.release()
    r = f.publish(signed, "relay2")
    tap.check(r.returncode == 0 and "adopted by relay2" in r.stdout,
              "staggerctl release publish --peer relay2: adopted", r.stdout + r.stderr)

    # 8 nodes one (or two) at a time, each ~1 s plus its soak, then the proof
    # (up to an epoch) and the holdback pair: a minute with batch 1; the rest
    # is slack for a loaded machine.
    if not f.check_wait("every peer shows all 8 members done on %s (batch %d)"
                        % (NEW_VERSION, BATCH), lambda: f.rolled_out(), 150):
        return
    bad = []
    for peer, st in f.last_views.items():
        ro = st.doc["rollout"]
        if not (ro["release"]["id"] == rid and ro["pending"] == 0 and ro["failed"] is None and
                ro["waiting"].startswith("done: every member runs cardano-node " + NEW_VERSION)):
            bad.append("%s: %r" % (peer, ro))
    tap.check(not bad, "every peer's rollout: release %s, 0 pending, none failed, "
              "waiting \"done: ...\"" % rid, "\n".join(bad))
    tap.check(all(f.version_of(n) == NEW_VERSION and f.version_of(n) != old[n] for n in f.order),
              "every node's service runs %s now (its health hook says so)" % NEW_VERSION)

    # ---- the record: each node's executor moves, from its own log ----
    moves = {n: f.moves(n, NEW_VERSION) for n in f.order}
    seq_bad = {n: [m.new for m in mv] for n, mv in moves.items() if [m.new for m in mv] != PHASES}
    tap.check(not seq_bad, "each node went elected, installing, verifying, soaking, done, once",
              repr(seq_bad))
    if seq_bad:
        return
    # Each node's gate saw the roster's epoch schedule in its environment.
    ep = POLICY["epoch"]
    want_gate = "asked epoch %d %d %d" % (ep["start_s"], ep["length_s"], ep["guard_s"])
    gates = {n: [h[3] for h in f.hooks_log(n) if h[1] == "gate"] for n in f.order}
    tap.check(all(g and set(g) == {want_gate} for g in gates.values()),
              "every node's gate hook got the roster's epoch schedule (%s)" % want_gate,
              repr(gates))
    installs = {n: len(f.installs(n)) for n in f.order}
    tap.check(set(installs.values()) == {1}, "the install hook ran once on each node",
              repr(installs))
    sp = {n: {ph: (a, b) for ph, a, b in spans(moves[n])} for n in f.order}
    elected = {n: sp[n]["elected"][0] for n in f.order}
    done = {n: sp[n]["done"][0] for n in f.order}
    healthy = {n: sp[n]["soaking"][0] for n in f.order}   # turned healthy on the release
    started = sorted(f.order, key=lambda n: elected[n])
    tap.note("order of election: " + ", ".join(started))

    expected = f.expected_order(rid)
    stage = dict(expected)
    want = [n for n, _ in expected]
    tap.note("order by docs/protocol.md §9.3: " + ", ".join(want))
    hold = f.holdback()
    tap.check(hold == {"standby", "dark1"} and {n for n, s in expected if s == 100} == hold,
              "the roster's holdback pair is the standby and the first dark relay by name",
              repr(hold))
    stage_names = {1: "relay", 2: "dark-relay", 3: "producer", 100: "holdback"}
    seen = [stage_names[stage[n]] for n in started]
    if BATCH == 1:
        tap.check(seen == ["relay"] * 4 + ["dark-relay", "producer", "holdback", "holdback"],
                  "by stage: 4 relays, then the other dark relay, the producer, then the "
                  "holdback pair", repr(seen))
        tap.check(started == want, "inside each stage, the hash order of §9.3 exactly",
                  "started %s\nwant    %s" % (started, want))
    # With two slots, two nodes free at once may start in either order: a
    # node starts only when fewer than `batch` nodes before it in the order
    # have not started yet (batch 1: the exact order).
    jumped = []
    for n in f.order:
        ahead = [m for m in want[:want.index(n)] if elected[m] > elected[n]]
        if len(ahead) >= BATCH:
            jumped.append("%s started before %s" % (n, ahead))
    tap.check(not jumped, "no node started ahead of %d or more nodes before it in the order"
              % BATCH, "\n".join(jumped))
    flav = {f.nodes[n].flavour for n in started[:2]}
    tap.check(flav == {"debian", "nix"}, "both flavours are among the first two updated (%s)"
              % ", ".join(started[:2]), repr(flav))

    busy = {n: busy_spans(moves[n]) for n in f.order}
    most, at = max_overlap([s for n in f.order for s in busy[n]])
    if BATCH == 1:
        tap.check(most == 1, "never more than 1 node between elected and done", "%d at %s"
                  % (most, at))
    else:
        tap.check(most == 2, "2 nodes between elected and done at once, and never 3",
                  "at most %d at once (at %s)" % (most, at))

    short = {n: sp[n]["soaking"][1] - sp[n]["soaking"][0] for n in f.order
             if sp[n]["soaking"][1] - sp[n]["soaking"][0] < SOAK_MS - LOG_SLACK_MS}
    tap.check(not short, "every node soaked at least soak_s (%d s) before done"
              % POLICY["soak_s"], repr(short))
    if BATCH == 1:
        early = ["%s elected %d ms before %s was done" % (b, done[a] - elected[b], a)
                 for a, b in zip(started, started[1:]) if elected[b] < done[a]]
        tap.check(not early, "each wave started only after the previous wave's soak finished",
                  "\n".join(early))

    # The producer does not restart within guard_s of a boundary (less the
    # vote round between the voters' check and the election).
    length, guard = POLICY["epoch"]["length_s"] * 1000, POLICY["epoch"]["guard_s"] * 1000
    off = (elected["bp"] - POLICY["epoch"]["start_s"] * 1000) % length
    tap.check(min(off, length - off) >= guard - 200,
              "the producer was elected %d ms from the nearest epoch boundary (guard %d ms)"
              % (min(off, length - off), guard))

    # The proof, measured from the logs.
    others = [n for n in f.order if n not in hold]
    last_done = max(done[n] for n in others)
    t_h = max(healthy[n] for n in others)
    hb_start = min(elected[n] for n in hold)
    tap.check(set(started[-2:]) == hold, "the holdback pair updated last", repr(started))
    tap.check(hb_start >= last_done, "the holdback pair started after every other node was done "
              "(%d ms after)" % (hb_start - last_done))
    crossed = boundaries_between(POLICY, t_h, hb_start)
    tap.check(crossed >= POLICY["epoch"]["proof_epochs"],
              "an epoch boundary passed between the last other node turning healthy on the "
              "release and the holdback pair starting (%d)" % crossed,
              "last healthy %d, holdback elected %d, epochs of %d ms from %d"
              % (t_h, hb_start, length, POLICY["epoch"]["start_s"] * 1000))
    tap.check(hb_start - t_h >= SOAK_MS - LOG_SLACK_MS,
              "and at least soak_s passed in between (%d ms)" % (hb_start - t_h))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
