#!/usr/bin/python3
"""test_emergency_partition.py: a node cut off from the fleet while a `halt`
is sent applies it after the partition heals, exactly once (issue 5,
acceptance 4).

The partition is real where the sandbox allows it: iptables (installed from
Debian if missing, as root) drops TCP to the node's port on lo and
everything its process sends, by a cgroup match (emergency_util.Partition).
Without root, iptables or its cgroup match, the node is frozen with SIGSTOP
instead (a stopped process is partitioned away too: nothing in, nothing
out), and the test says so.

Checks: the others see the node go suspect or dead (the cut is real); the
halt is applied by the 7 others while the node's audit.log stays empty and
its row shows an older cmd_seq; after healing, the node applies it (by the
flood's queued delivery or the catch-up from records' cmd_seq), its
audit.log has exactly one `applied` line for that sequence and no refusal,
still so seconds later, and every peer lists all 8 in applied_by and is
halted.

usage: /usr/bin/python3 test_emergency_partition.py STAGGERD STAGGERCTL   (prints TAP)
"""
import sys

import emergency_util as eu
from fleet import main

CUT = "dark2"


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    others = [n for n in f.order if n != CUT]
    part = eu.Partition(f, CUT)
    real = part.available()
    tap.note("partition: %s" % ("iptables on lo (port %d) and a cgroup match on its process"
                                % f.nodes[CUT].port if real else
                                "SIGSTOP (%s)" % part.why))
    try:
        if real:
            part.cut()
        else:
            f.sigstop(CUT)
        f.check_wait("the 7 others see %s suspect or dead" % CUT,
                     lambda: f.problems({CUT: {"liveness": lambda v: v in ("suspect", "dead")}},
                                        peers=others), 15)
        r = eu.emergency(f, "halt", ("op",), "relay1", "--reason", "partition test")
        seq = eu.out_seq(r.stdout)
        tap.check(r.returncode == 0 and seq, "emergency halt sent to relay1: applied",
                  r.stdout + r.stderr)
        if not seq:
            return
        if not f.check_wait("the 7 others applied #%d and are halted" % seq,
                            lambda: eu.applied_everywhere(f, seq, peers=others) +
                            eu.rollout_field(f, "halted", True, peers=others), 15):
            return
        ok, bad = f.hold(lambda: ["%s applied it" % CUT] if eu.applied_lines(f, CUT, seq)
                         else [], 2)
        tap.check(ok, "%s, cut off, has not applied it (2 s)" % CUT, "\n".join(bad))
        bad = f.problems({CUT: {"cmd_seq": lambda v: v is not None and v < seq}}, peers=others)
        tap.check(not bad, "the others' rows for %s show an older cmd_seq" % CUT, "\n".join(bad))
    finally:
        if real:
            part.heal()
        else:
            f.sigcont(CUT)
    if not f.check_wait("healed: every peer, %s too, applied #%d with all 8 in applied_by, "
                        "halted" % (CUT, seq),
                        lambda: eu.applied_everywhere(f, seq) + eu.rollout_field(f, "halted",
                                                                                 True), 30):
        return
    lines = eu.applied_lines(f, CUT, seq)
    tap.check(len(lines) == 1, "%s's audit.log has exactly one applied line for #%d (from %s)"
              % (CUT, seq, lines[0].get("from") if lines else "-"), repr(eu.audit(f, CUT)))
    f.hold(lambda: [], 3)  # catch-up repeats and retransmissions would land by now
    aud = eu.audit(f, CUT)
    tap.check(len([a for a in aud if a.get("seq") == seq and a.get("verdict") == "applied"]) == 1
              and not [a for a in aud if a.get("verdict") != "applied"],
              "3 s later: still one applied line and no refusal (repeats dropped as echoes)",
              repr(aud))
    tap.check(len(eu.log_lines(f, CUT, "applied operator command #%d " % seq)) == 1,
              "%s logged applying it once" % CUT)
    bad = f.problems({n: {"cmd_seq": seq} for n in f.order})
    tap.check(not bad, "every peer's row for every member shows cmd_seq #%d" % seq,
              "\n".join(bad))


if __name__ == "__main__":
    sys.exit(main(test))
