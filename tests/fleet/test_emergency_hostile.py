#!/usr/bin/python3
"""test_emergency_hostile.py: bad emergency commands change nothing on any
of eight real staggerd peers (issue 5, acceptance 3). The roster needs 2 of
3 operator signatures; the fleet is halted by a good command first, and every
bad one is a `resume` (or the halt again), so that applying it would show.

staggerctl checks a command as the peers will and refuses to send most bad
ones; that is checked first (nothing reaches a peer). Then the same and
worse go straight to relay2 as raw `command` frames (docs/protocol.md §9.1),
built and signed here with PyNaCl and sent by pyzmq with an operator's
CURVE key: a flipped payload byte (BAD_SIGNATURE), no signature
(NO_SIGNATURE), a member's signature (UNKNOWN_SIGNER), 1 of the 2 needed
(TOO_FEW_SIGNATURES), another fleet (WRONG_FLEET), expired (EXPIRED), issued
an hour ahead (NOT_YET), the applied halt's exact bytes and an older
sequence (REPLAY; the byte-identical replay through `staggerctl emergency
send` too). For each: relay2 counts the reason in rejects, its audit.log
gets a `refused` line naming it, its log the `[proto] rejected` line; no
peer's applied_seq or halted changes, and no other peer even hears of it.
Then relay2 is restarted (SIGTERM, start) and the halt replayed: still
REPLAY, from the sequence it persisted in its journal. Last, its state
directory is rewritten as an earlier version left it (the commands in a
commands.json, not in the journal) and it is started again: the same.

usage: /usr/bin/python3 test_emergency_hostile.py STAGGERD STAGGERCTL   (prints TAP)
"""
import json
import os
import sys
import time

import emergency_util as eu
from fleet import main, verdict

TARGET = "relay2"


def test(f, tap):
    eu.use_operators(f, quorum=2)
    f.start_all()
    if not f.converge(timeout=30):
        return
    halt = os.path.join(f.dir, "halt.signed")
    r = eu.emergency(f, "halt", ("op", "op3"), None, "--out", halt, "--reason", "good halt")
    seq = eu.out_seq(r.stdout)
    r = f.ctl("emergency", "send", "--key", f.keyfile("op"), "--roster", f.roster, "--peer",
              "bp", halt)
    tap.check(r.returncode == 0 and seq, "a good halt (2 of 3 operators) is applied", r.stdout +
              r.stderr)
    if not f.check_wait("every peer applied the halt #%s" % seq,
                        lambda: eu.applied_everywhere(f, seq, action="halt") +
                        eu.rollout_field(f, "halted", True), 15):
        return

    def unchanged():
        bad = []
        for p, d in eu.cmd_views(f).items():
            if d is None:
                bad.append("%s: no status" % p)
            elif d["commands"]["applied_seq"] != seq or d["rollout"]["halted"] is not True:
                bad.append("%s: applied_seq %s halted %s" % (p, d["commands"]["applied_seq"],
                                                             d["rollout"]["halted"]))
        return bad

    # ---- staggerctl refuses to send them ----
    cli = [
        ("1 of the 2 signatures", ("op",), []),
        ("signed by a member key", ("op", "relay1"), []),
        ("already expired (--expires-in-s 0)", ("op", "op2"), ["--expires-in-s", "0"]),
        ("an unknown target", ("op", "op2"), ["--targets", "nosuch"]),
    ]
    for what, signers, extra in cli:
        r = eu.emergency(f, "resume", signers, TARGET, *extra)
        tap.check(r.returncode != 0 and "applied" not in r.stdout,
                  "staggerctl emergency resume, %s: refused, not sent (exit %d)"
                  % (what, r.returncode), r.stdout + r.stderr)
    before = f.status(TARGET).doc
    tap.check(before["commands"]["last_refusal"] == "" and
              not [a for a in eu.audit(f, TARGET) if a.get("verdict") == "refused"],
              "%s heard none of them: no refusal in status or audit.log" % TARGET,
              repr(before["commands"]))

    # ---- raw frames, as an operator, past staggerctl's checks ----
    op, op2, member = f.signing_key("op"), f.signing_key("op2"), f.signing_key("relay4")
    serial = before["serial"]
    now = int(time.time())
    good = eu.command_doc("resume", seq + 10, reason="hostile")
    forged = bytearray(eu.seal_multi(good, [op, op2]))
    forged[10 + good.index(b"hostile")] ^= 0x01
    halt_bytes = open(halt, "rb").read()
    cases = [
        ("forged: one payload byte flipped", bytes(forged), "BAD_SIGNATURE"),
        ("unsigned", eu.seal_multi(good, []), "NO_SIGNATURE"),
        ("signed by an operator and a member", eu.seal_multi(good, [op, member]),
         "UNKNOWN_SIGNER"),
        ("under-signed: 1 of the 2 required", eu.seal_multi(good, [op]), "TOO_FEW_SIGNATURES"),
        ("another fleet", eu.seal_multi(eu.command_doc("resume", seq + 11, fleet="mainnet"),
                                        [op, op2]), "WRONG_FLEET"),
        ("expired", eu.seal_multi(eu.command_doc("resume", seq + 12, issued_at=now - 7200,
                                                 ttl_s=3600), [op, op2]), "EXPIRED"),
        ("issued an hour in the future", eu.seal_multi(
            eu.command_doc("resume", seq + 13, issued_at=now + 3600), [op, op2]), "NOT_YET"),
        ("the applied halt's exact bytes again", halt_bytes, "REPLAY"),
        ("a resume with an older sequence", eu.seal_multi(
            eu.command_doc("resume", seq - 1), [op, op2]), "REPLAY"),
    ]
    sock, outcome = f.client(TARGET, "op")
    tap.check(outcome == "ok", "an operator's key passes %s's handshake" % TARGET, outcome)
    base = dict(before.get("rejects") or {})
    seen = {}
    for what, env, reason in cases:
        n_audit = len(eu.audit(f, TARGET))
        reply = f.request(sock, eu.command_frame(serial, env))
        st = f.status(TARGET)
        seen[reason] = seen.get(reason, 0) + 1
        got = st.rejects(reason) - base.get(reason, 0)
        new = eu.audit(f, TARGET)[n_audit:]
        v = verdict(reply)
        ok = (v is not None and v[:2] == ("refused", reason) and got == seen[reason] and
              len(new) == 1 and
              new[0].get("verdict") == "refused" and new[0].get("from") == "client" and
              "(%s)" % reason in new[0].get("why", "") and
              reason in st.doc["commands"]["last_refusal"])
        tap.check(ok, "%s: error-rep %s to the client, counted, audited" % (what, reason),
                  "reply %r, rejects %s +%d (want +%d), audit %r, last_refusal %r" % (
                      v, reason, got, seen[reason], new,
                      st.doc["commands"]["last_refusal"]))
    sock.close(0)
    logged = {reason for _, _, reason in cases
              if "[proto] rejected from client" not in f.log_text(TARGET) or
              "(%s)" % reason not in "\n".join(l for _, l in eu.log_lines(
                  f, TARGET, "[proto] rejected from client"))}
    tap.check(not logged, "%s logged a [proto] rejected line for each reason" % TARGET,
              repr(logged))
    bad = unchanged()
    tap.check(not bad, "no peer's applied_seq or halted changed", "\n".join(bad))
    heard = {n: [a for a in eu.audit(f, n) if a.get("verdict") == "refused"]
             for n in f.order if n != TARGET}
    tap.check(not any(heard.values()), "nothing bad was relayed: no other peer audited a "
              "refusal", repr(heard))
    tap.check(all(len(eu.applied_lines(f, n, seq)) == 1 and len(eu.audit(f, n)) == 1
                  for n in f.order if n != TARGET),
              "every other audit.log has exactly the one applied halt")

    # ---- the replay through staggerctl, then after a restart ----
    r = f.ctl("emergency", "send", "--key", f.keyfile("op"), "--roster", f.roster, "--peer",
              TARGET, halt)
    tap.check(r.returncode == 1 and "refused it: REPLAY" in r.stderr and
              "a replay changes nothing" in r.stderr,
              "staggerctl emergency send of the same halt file: %s refuses it (REPLAY)" % TARGET,
              r.stdout + r.stderr)
    tap.check(f.stop(TARGET) == 0, "%s stops on SIGTERM" % TARGET)
    f.start(TARGET)
    # Halted: every member healthy, and status exits 4, never 0 (issue 12).
    if not f.check_wait("all peers healthy again, status exit 4 (halted)",
                        lambda: f.problems(f.healthy_expect(), rc=4), 30):
        return
    st = f.status(TARGET)
    tap.check(st.doc["commands"]["applied_seq"] == seq and st.doc["rollout"]["halted"] is True,
              "after the restart %s still has applied_seq #%d and is halted" % (TARGET, seq),
              repr(st.doc["commands"]))
    # rejects.REPLAY also counts stale gossip records (proto §6), which a
    # busy machine's refutations make common: the command's own refusal is
    # the one audit line, and the counter must rise across it.
    n_audit = len(eu.audit(f, TARGET))
    replays0 = st.rejects("REPLAY")
    sock, outcome = f.client(TARGET, "op")
    reply = f.request(sock, eu.command_frame(serial, halt_bytes))
    sock.close(0)
    st = f.status(TARGET)
    new = eu.audit(f, TARGET)[n_audit:]
    tap.check(verdict(reply)[:2] == ("refused", "REPLAY") and st.rejects("REPLAY") > replays0 and
              len(new) == 1 and
              new[0]["verdict"] == "refused" and "(REPLAY)" in new[0]["why"],
              "the halt replayed after the restart: refused as REPLAY (persisted sequence)",
              "rejects %r (was REPLAY %d) audit %r" % (st.doc.get("rejects"), replays0, new))
    since = f.log_text(TARGET, since_start=True)
    tap.check("[proto] rejected from client" in since and "(REPLAY)" in since,
              "and logged as such by the restarted daemon")
    bad = unchanged()
    tap.check(not bad, "still no peer's applied_seq or halted changed", "\n".join(bad))

    # ---- a state directory written by an earlier version: commands.json ----
    tap.check(f.stop(TARGET) == 0, "%s stops again" % TARGET)
    state = os.path.join(f.dir, TARGET, "state")
    with open(os.path.join(state, "journal.json")) as fh:
        journal = json.load(fh)
    cmds = journal.pop("commands", None)
    tap.check(cmds is not None and cmds["applied_seq"] == seq,
              "the journal holds the applied sequence #%d with the halt it made" % seq, repr(cmds))
    with open(os.path.join(state, "journal.json"), "w") as fh:
        json.dump(journal, fh)
    with open(os.path.join(state, "commands.json"), "w") as fh:
        json.dump(cmds or {}, fh)
    f.start(TARGET)
    # Halted: every member healthy, and status exits 4, never 0 (issue 12).
    if not f.check_wait("all peers healthy again, status exit 4 (halted)",
                        lambda: f.problems(f.healthy_expect(), rc=4), 30):
        return
    st = f.status(TARGET)
    tap.check(st.doc["commands"]["applied_seq"] == seq,
              "started from an old-style state directory (commands.json beside a journal "
              "without them), %s still has applied_seq #%d" % (TARGET, seq),
              repr(st.doc["commands"]))
    n_audit = len(eu.audit(f, TARGET))
    replays0 = st.rejects("REPLAY")
    sock, outcome = f.client(TARGET, "op")
    reply = f.request(sock, eu.command_frame(serial, halt_bytes))
    sock.close(0)
    st = f.status(TARGET)
    new = eu.audit(f, TARGET)[n_audit:]
    tap.check(reply is not None and st.rejects("REPLAY") > replays0 and len(new) == 1 and
              "(REPLAY)" in new[0]["why"], "and refuses the replayed halt as REPLAY",
              "rejects %r (was REPLAY %d) audit %r" % (st.doc.get("rejects"), replays0, new))


if __name__ == "__main__":
    sys.exit(main(test))
