#!/usr/bin/python3
"""test_promote.py: failover without a new roster (issue 13). Eight real
staggerd peers; `staggerctl emergency promote --targets standby`:

1. every peer's status shows standby as the producer and bp as the
   standby (roles, stages and the holdback pair swapped) and `promoted`;
   each node's hooks get the new STAGGER_ROLE (the health hook records it);
2. a peer restarted afterwards keeps the swapped roles (its journal);
3. the new producer forges while the old one still does: every peer names
   both, and a release published then installs nowhere (a bounded watch);
   once the old producer stops forging, the release rolls out to all eight
   in the new order: the new producer (standby) in the producer's stage,
   before the holdback pair, and the old producer (bp) in the holdback
   pair, last or next to last;
4. promoting a member that is not the standby changes nothing.

usage: /usr/bin/python3 test_promote.py STAGGERD STAGGERCTL (prints TAP)
"""
import os
import sys
import time

import emergency_util as eu
from fleet import NEW_VERSION, POLL_S, main, rollout_policy

POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=8)


def promote(f, name):
    return f.ctl("emergency", "promote", "--key", f.keyfile("op"), "--roster", f.roster,
                 "--targets", name, "--reason", "bp host failing")


def set_forging(f, name, yes):
    path = os.path.join(f.dir, name, "forging")
    with open(path + ".t", "w") as w:
        w.write("1\n" if yes else "0\n")
    os.replace(path + ".t", path)


def role_seen(f, name):
    try:
        return open(os.path.join(f.dir, name, "role-seen")).read().strip()
    except OSError:
        return ""


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    r = promote(f, "relay1")
    seq = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq, "emergency promote --targets relay1 is sent",
              r.stdout + r.stderr)
    if not f.check_wait("every peer applied #%s" % seq,
                        lambda: eu.applied_everywhere(f, seq, action="promote"), 15):
        return
    swapped = {"standby": {"role": "producer", "holdback": False},
               "bp": {"role": "standby", "holdback": True}}
    unchanged = {"standby": {"role": "standby"}, "bp": {"role": "producer"},
                 "relay1": {"role": "relay"}}
    if not f.check_wait("relay1 is no standby: roles unchanged on every peer",
                        lambda: f.problems(unchanged), 15):
        return
    tap.check(all(st.doc.get("promoted") is None for st in f.last_views.values()),
              "no peer shows a promotion")

    r = promote(f, "standby")
    tap.check(r.returncode == 0, "emergency promote --targets standby is sent", r.stdout + r.stderr)
    if not f.check_wait("every peer shows standby as the producer, bp as the standby in the "
                        "holdback pair", lambda: f.problems(swapped), 15):
        return
    bad = [p for p, st in f.last_views.items()
           if (st.doc.get("promoted") or {}).get("producer") != "standby"]
    tap.check(not bad, "every peer's status says promoted: standby", repr(bad))
    f.check_wait("the hooks get the new roles: STAGGER_ROLE producer on standby, standby on bp",
                 lambda: [] if (role_seen(f, "standby"), role_seen(f, "bp")) ==
                 ("producer", "standby") else ["seen %r" % ((role_seen(f, "standby"),
                                                             role_seen(f, "bp")),)], 10)
    tap.check("promote (operator command" in f.log_text("relay3") and
              "standby is the producer now, bp the standby" in f.log_text("relay3"),
              "relay3 logs the promotion")

    f.stop("relay2")
    f.start("relay2")
    if not f.check_wait("relay2, restarted, still has standby as the producer",
                        lambda: f.problems(swapped, peers=["relay2"]), 20):
        return

    set_forging(f, "standby", True)
    set_forging(f, "bp", True)

    def both_forge(peer, doc):
        got = sorted(doc.get("forgers") or [])
        return [] if got == ["bp", "standby"] else ["%s: forgers %r" % (peer, got)]
    if not f.check_wait("the new producer forges and the old one still does: every peer names both",
                        lambda: f.views_problems(both_forge), 15):
        return
    signed, rid = f.release()
    r = f.publish(signed, "relay3")
    tap.check(r.returncode == 0, "release %s published" % NEW_VERSION, r.stdout + r.stderr)
    # Without the two forgers the first relay would start within a second
    # or two: watched for a bounded window.
    deadline, started = time.time() + 6, []
    while time.time() < deadline and not started:
        started = [n for n in f.order if f.installs(n)]
        time.sleep(POLL_S)  # polling the hooks' logs over a bounded window
    tap.check(not started, "while both forge, no node installs", repr(started))
    waiting = {p: st.doc["rollout"]["waiting"] for p, st in f.status_all().items()}
    tap.check(all(w.startswith("CRITICAL: more than one member forges (bp, standby)")
                  for w in waiting.values()), "every peer's rollout waits on the two forgers",
              repr(waiting))
    set_forging(f, "bp", False)
    tap.note("the old producer stops forging")
    if not f.check_wait("every peer shows all 8 done on %s" % NEW_VERSION,
                        lambda: f.rolled_out(), 180):
        return
    elected = {n: [m.t for m in f.moves(n, NEW_VERSION) if m.new == "elected"] for n in f.order}
    order = sorted(f.order, key=lambda n: elected[n][0] if elected[n] else 0)
    tap.note("order of election: " + ", ".join(order))
    tap.check(order.index("bp") >= 6 and order.index("standby") < 6 and
              order.index("standby") > order.index("relay4"),
              "standby went in the producer's stage, after the relays; bp in the holdback pair",
              repr(order))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
