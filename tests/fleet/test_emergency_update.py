#!/usr/bin/python3
"""test_emergency_update.py: `staggerctl emergency update` over eight real
staggerd peers whose roster needs 2 of 3 operator signatures (issue 5,
acceptance 1). A normal rollout here would take minutes: batch 1, a soak
of SOAK_S per wave, and a proof whose epoch boundary is a day away, so the
holdback pair could never go. The emergency path must ignore all of that.

1. The command is signed by one operator with --out, refused by `emergency
   send` for want of a second signature (nothing changes anywhere), co-signed
   with `sign-add`, then sent: every targeted non-holdback node starts at
   once (their `-> elected` moves within START_SPREAD_MS of each other), all
   six are done on the release within one soak (a staggered rollout would
   need six), and the holdback pair stays on its old version.
2. `--include-holdback --spacing-s 2`, signed with `--key op,op2`: all eight
   update, starting SPACING_S apart in the rollout order of docs/protocol.md
   §9.3 (recomputed here), the holdback pair last.
3. `--targets relay1,relay2 --force`, with every gate hook saying no (the
   normal rollout cannot move anyone; --force skips the gate): only those
   two update, and every audit log records the force.
4. `--spacing health` with the producer's gate saying no (issue 13): the
   other targets start one at a time, each only once the one before it in
   the rollout order is healthy on the release; the producer waits for its
   gate and logs so, and updates once the gate agrees.

usage: /usr/bin/python3 test_emergency_update.py STAGGERD STAGGERCTL   (prints TAP)
"""
import os
import sys

import emergency_util as eu
from fleet import main, rollout_policy

SOAK_S = 8
POLICY = rollout_policy(batch=1, soak_s=SOAK_S, epoch_s=86400)
# "at once": the command floods in ms; each node's gate hook run (issue 13),
# ticks and CPU add the rest. Scaled by the load the harness measures.
START_SPREAD_MS = 1500
SPACING_S = 2
SPACING_SLACK_MS = 500


def test(f, tap):
    eu.use_operators(f, quorum=2)
    f.start_all()
    if not f.converge(timeout=30):
        return
    hold = f.holdback()
    old = {n: f.version_of(n) for n in f.order}
    others = [n for n in f.order if n not in hold]

    # ---- 1: --out, a refused under-signed send, sign-add, send ----
    signed, rid = f.release("10.5.3", stem="rel-a")
    cmd = os.path.join(f.dir, "update-a.signed")
    r = eu.emergency(f, "update", ("op",), None, "--release", signed, "--out", cmd,
                     "--reason", "hard fork")
    seq = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq and "signed by 1 of the 2" in r.stdout,
              "emergency update --out: signed by 1 of the 2 operators needed", r.stdout + r.stderr)
    r = f.ctl("emergency", "send", "--key", f.keyfile("op"), "--roster", f.roster, "--peer",
              "relay3", cmd)
    tap.check(r.returncode != 0 and "1 valid signature(s), 2 required" in r.stderr and
              "sign-add" in r.stderr,
              "emergency send refuses the 1-signature command (1 of 2 required, names sign-add)",
              r.stdout + r.stderr)
    views = eu.cmd_views(f)
    tap.check(all(d and d["commands"]["applied_seq"] == 0 and
                  (d["rollout"]["release"] is None) for d in views.values()),
              "no peer applied anything or adopted the release",
              repr({p: d and d["commands"] for p, d in views.items()}))
    r = f.ctl("sign-add", "--key", f.keyfile("op2"), "--roster", f.roster, cmd)
    tap.check(r.returncode == 0, "sign-add --key op2.key adds the second signature",
              r.stdout + r.stderr)
    r = f.ctl("emergency", "send", "--key", f.keyfile("op3"), "--roster", f.roster, "--peer",
              "relay3", cmd)
    tap.check(r.returncode == 0 and "command %d applied by relay3" % seq in r.stdout,
              "emergency send (2 of 3 signatures): applied by relay3", r.stdout + r.stderr)

    def done_ok():
        want = {n: {"version": "10.5.3", "phase": "done"} for n in others}
        want.update({n: {"version": old[n]} for n in hold})
        return f.problems(want)
    if not f.check_wait("every peer shows the 6 non-holdback nodes done on 10.5.3, the holdback "
                        "pair on its old version", done_ok, SOAK_S + 30):
        return
    starts = {n: eu.started_at(f, n, "10.5.3") for n in f.order}
    tap.check(all(len(starts[n]) == 1 for n in others) and not any(starts[n] for n in hold),
              "each non-holdback node started once, the holdback pair never", repr(starts))
    first = {n: starts[n][0] for n in others if starts[n]}
    spread = max(first.values()) - min(first.values())
    bound = f.deadline(START_SPREAD_MS / 1000) * 1000
    tap.check(spread <= bound, "the 6 targeted nodes started within %d ms of each "
              "other (bound %d ms)" % (spread, bound), repr(first))
    done_at = {n: [m.t for m in f.moves(n, "10.5.3") if m.new == "done"] for n in others}
    last_done = max(t[0] for t in done_at.values() if t)
    tap.check(last_done - min(first.values()) < 2 * SOAK_S * 1000,
              "all 6 done %d ms after the first start: one soak, not six waves"
              % (last_done - min(first.values())))
    bad = [n for n in others if [m.new for m in f.moves(n, "10.5.3")] !=
           ["elected", "installing", "verifying", "soaking", "done"]]
    tap.check(not bad, "each went elected, installing, verifying, soaking, done", repr(bad))
    emerg = [n for n in others if "emergency update by operator command #%d" % seq not in
             f.log_text(n)]
    tap.check(not emerg, "each logged its start as the emergency command's", repr(emerg))
    tap.check(all(f.version_of(n) == old[n] for n in hold),
              "the holdback pair's services still run their old versions", repr(hold))
    # What the rollout waits for, once no member is transiently suspect
    # (an ASan fleet beside a second suite flaps: "too many members
    # unavailable" comes first then), is the proof.
    def not_waiting_for_proof():
        bad = f.problems({})
        return bad + ["%s: waiting %r" % (p, st.doc["rollout"]["waiting"])
                      for p, st in f.last_views.items()
                      if st.doc and not st.doc["rollout"]["waiting"].startswith("proof")]
    f.check_wait("every peer's rollout waits for the proof (the holdback pair stays)",
                 not_waiting_for_proof, 15)
    bad = eu.applied_everywhere(f, seq, action="update")
    tap.check(not bad, "every peer applied #%d and lists all 8 in applied_by" % seq,
              "\n".join(bad))
    aud = {n: eu.applied_lines(f, n, seq) for n in f.order}
    tap.check(all(len(a) == 1 and a[0]["signers"] == 2 and a[0]["why"] == "hard fork"
                  for a in aud.values()),
              "each audit.log has one applied line for #%d, 2 signers, the reason" % seq,
              repr(aud))

    # ---- 2: --include-holdback --spacing-s 2 ----
    signed, rid = f.release("10.5.4", stem="rel-b")
    r = eu.emergency(f, "update", ("op", "op2"), "bp", "--release", signed,
                     "--include-holdback", "--spacing-s", SPACING_S)
    seq2 = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq2 and seq2 > seq,
              "emergency update --include-holdback --spacing-s %d --key op,op2: applied"
              % SPACING_S, r.stdout + r.stderr)
    if not f.check_wait("every peer shows all 8 done on 10.5.4",
                        lambda: f.rolled_out("10.5.4"), 7 * SPACING_S + SOAK_S + 40):
        return
    order = [n for n, _ in f.expected_order(rid)]
    starts = {n: eu.started_at(f, n, "10.5.4") for n in f.order}
    tap.check(all(len(s) == 1 for s in starts.values()), "each node started once", repr(starts))
    by_time = sorted(f.order, key=lambda n: starts[n][0])
    tap.check(by_time == order, "in the rollout order of §9.3, the holdback pair last",
              "started %s\nwant    %s" % (by_time, order))
    t0 = starts[order[0]][0]
    off = ["%s: +%d ms, want %d" % (n, starts[n][0] - t0, k * SPACING_S * 1000)
           for k, n in enumerate(order)
           if abs(starts[n][0] - t0 - k * SPACING_S * 1000) > f.deadline(SPACING_SLACK_MS)]
    tap.check(not off, "node k of the order started k x %d s after the first (+-%d ms)"
              % (SPACING_S, f.deadline(SPACING_SLACK_MS)), "\n".join(off))
    tap.check(all(f.version_of(n) == "10.5.4" for n in f.order),
              "every service runs 10.5.4, the holdback pair's too")

    # ---- 3: --targets relay1,relay2 --force, with every gate saying no ----
    for n in f.order:
        f.set_update(n, gate_no="test: no normal rollout")
    signed, rid = f.release("10.5.5", stem="rel-c")
    r = eu.emergency(f, "update", ("op2", "op3"), "dark2", "--release", signed,
                     "--targets", "relay1,relay2", "--force")
    seq3 = eu.out_seq(r.stdout)
    if not tap.check(r.returncode == 0 and seq3,
                     "emergency update --targets relay1,relay2 --force: applied",
                     r.stdout + r.stderr):
        return
    targets = ["relay1", "relay2"]
    if not f.check_wait("every peer shows relay1 and relay2 done on 10.5.5",
                        lambda: f.rolled_out("10.5.5", names=targets), SOAK_S + 30):
        return
    ok, bad = f.hold(lambda: f.problems({n: {"version": "10.5.4", "phase": "done"}
                                         for n in f.order if n not in targets}), 2)
    tap.check(ok, "the 6 others stay done on 10.5.4", "\n".join(bad))
    moved = [n for n in f.order if n not in targets and eu.phases(f, n, "10.5.5")]
    tap.check(not moved and all(f.version_of(n) == "10.5.4" for n in f.order if n not in targets),
              "none of the others moved towards 10.5.5", repr(moved))
    bad = eu.applied_everywhere(f, seq3, action="update")
    tap.check(not bad, "yet every peer applied #%d" % seq3, "\n".join(bad))
    aud = {n: eu.applied_lines(f, n, seq3) for n in f.order}
    tap.check(all(len(a) == 1 and a[0].get("force") is True for a in aud.values()),
              "every audit.log records #%d with \"force\": true" % seq3, repr(aud))

    # ---- 4: --spacing health, and the producer's gate ----
    for n in f.order:
        f.set_update(n, gate_no=None, restart_ms=800)
    f.set_update("bp", gate_no="leader slot in 4 minutes")
    signed, rid = f.release("10.5.6", stem="rel-d")
    r = eu.emergency(f, "update", ("op", "op3"), "relay4", "--release", signed,
                     "--spacing", "health")
    seq4 = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq4, "emergency update --spacing health: applied",
              r.stdout + r.stderr)
    order = [n for n, _ in f.expected_order(rid) if n not in hold]
    rest = [n for n in order if n != "bp"]
    if not f.check_wait("every peer shows the %d targets but bp done on 10.5.6" % len(rest),
                        lambda: f.rolled_out("10.5.6", names=rest), 6 * (SOAK_S + 10)):
        return
    began = {n: eu.started_at(f, n, "10.5.6") for n in order}
    healthy = {n: [m.t for m in f.moves(n, "10.5.6") if m.new == "soaking"] for n in order}
    early = ["%s started %d ms before %s was healthy on 10.5.6" % (b, healthy[a][0] - began[b][0], a)
             for a, b in zip(rest, rest[1:])
             if not began[b] or not healthy[a] or began[b][0] < healthy[a][0]]
    tap.check(not early and all(len(began[n]) == 1 for n in rest),
              "one at a time in the rollout order: each started once, after the one before it "
              "was healthy on the release", "\n".join(early) + repr(began))
    tap.check(not began["bp"] and f.version_of("bp") == "10.5.4",
              "bp has not started: its gate says no", repr(began["bp"]))
    tap.check("emergency update #%d: waiting for the gate hook" % seq4 in f.log_text("bp"),
              "bp logs that its emergency update waits for the gate hook")
    f.set_update("bp", gate_no=None)
    f.check_wait("once its gate agrees, every peer shows bp done on 10.5.6",
                 lambda: f.rolled_out("10.5.6", names=["bp"]), 30 + SOAK_S + 20)


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
