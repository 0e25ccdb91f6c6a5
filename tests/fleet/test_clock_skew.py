#!/usr/bin/python3
"""test_clock_skew.py: two peers whose clocks are 120 s slow, the producer
(the last node before the holdback pair) among them, cannot make the
holdback pair update before the proof (issue 10, item 3).

Five peers: relays relay1 and relay2, the producer bp, and the holdback
pair standby and dark1. bp and the first relay in the order run under
libfaketime (LD_PRELOAD, FAKETIME=-120s: their CLOCK_REALTIME, and so
every time they sign, log or compare, is 120 s behind; their monotonic
clock is left alone). bp's install ends 300 ms after an epoch boundary, so
it turns healthy on the release just after one, and its soak (2 s) ends
some 8 s before the next.

Checked, on the test's own clock (the unskewed daemons' log lines, and
the `date` of the update hooks, which staggerd runs without its
LD_PRELOAD): every node ends done; the holdback pair is elected only
after an epoch boundary has passed since the last non-holdback node's
service switched to the release (the end of its install hook: the
earliest it can be healthy on it), and at least soak_s after it; and an
unskewed peer's status shows `clock_skew_ms` of about -120000 for each
skewed member (and for no other).

The core as issue 10 found it judged the proof from the producer's own
`health_since_ms`: 120 s old on arrival, so the soak and an epoch boundary
seemed long past, and the standby was granted as soon as bp was done,
with no boundary in between. The epoch length (10 s) divides the skew, so
a skewed voter's own epoch boundaries fall at the same instants as the
test's: the boundary check measures the proof, not a voter's clock error.

usage: /usr/bin/python3 test_clock_skew.py STAGGERD STAGGERCTL   (prints TAP;
skipped without libfaketime: apt-get install libfaketime)
"""
import os
import re
import sys
import time

import emergency_util as eu
from fleet import NEW_VERSION, boundaries_between, main, rollout_policy

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
SKEW_S = -120
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10)
SOAK_MS = POLICY["soak_s"] * 1000
# A skew estimate is a record's signing time against the receiver's clock:
# plus a network hop and the time to process it, on a loaded machine.
SKEW_SLACK_MS = 5000


def faketime_env():
    # libfaketime comes before the sanitizers' runtime in an ASan build:
    # tell ASan not to insist on being first.
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": "%+ds" % SKEW_S,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


def test(f, tap):
    signed, rid = f.release()
    order = [n for n, _ in f.expected_order(rid)]
    hold = f.holdback()
    rest = [n for n in order if n not in hold]
    last = rest[-1]
    skewed = [last, rest[0]]
    tap.check(last == "bp" and hold == {"standby", "dark1"},
              "the producer bp is the last before the holdback pair (%s)" % ", ".join(order))
    # Their clocks really are slow: the stamp of their "listening" line
    # lies between our clock before the start and after it saw the line,
    # less 120 s.
    slow = {}
    for n in f.order:
        before = time.time() * 1000
        f.start(n, env=faketime_env() if n in skewed else None)
        after = time.time() * 1000
        if n in skewed:
            t = eu.log_lines(f, n, "listening on")
            slow[n] = t and before + SKEW_S * 1000 - 1000 <= t[-1][0] <= after + SKEW_S * 1000
    tap.check(all(slow.values()), "%s run %d s slow (their log's stamps)"
              % (" and ".join(skewed), -SKEW_S), repr(slow))
    if not f.converge(timeout=30):
        return
    f.set_update(last, install_align="%d %d 300" % (POLICY["epoch"]["start_s"] * 1000,
                                                     POLICY["epoch"]["length_s"] * 1000))
    peer = [n for n in rest if n not in skewed][0]
    r = f.publish(signed, peer)
    tap.check(r.returncode == 0, "release %s published to %s" % (NEW_VERSION, peer),
              r.stdout + r.stderr)
    if not f.check_wait("every peer shows all %d members done on %s" % (len(f.order), NEW_VERSION),
                        lambda: f.rolled_out(), 120):
        return

    switched = {n: [h[0] for h in f.hooks_log(n) if h[1] == "install" and h[3] == "end"]
                for n in rest}
    if not tap.check(all(len(t) == 1 for t in switched.values()),
                     "each non-holdback node's install ran to its end once", repr(switched)):
        return
    t_h = max(t[0] for t in switched.values())
    elected = {n: eu.started_at(f, n, NEW_VERSION) for n in hold}
    if not tap.check(all(len(t) == 1 for t in elected.values()),
                     "each holdback node was elected once", repr(elected)):
        return
    hb = min(t[0] for t in elected.values())
    tap.note("last service switch %d (%s), holdback elected %d ms later" % (
        t_h, [n for n, t in switched.items() if t[0] == t_h][0], hb - t_h))
    crossed = boundaries_between(POLICY, t_h, hb)
    tap.check(crossed >= POLICY["epoch"]["proof_epochs"],
              "an epoch boundary passed between the last service switch and the holdback "
              "pair's election, on the test's clock (%d)" % crossed,
              "switch %d, elected %d, epochs of %d s from %d" % (
                  t_h, hb, POLICY["epoch"]["length_s"], POLICY["epoch"]["start_s"]))
    tap.check(hb - t_h >= SOAK_MS, "and at least soak_s passed in between (%d ms)" % (hb - t_h))
    begun = [h[0] for n in hold for h in f.hooks_log(n) if h[1] == "install" and
             h[3].startswith("begin")]
    tap.check(begun and min(begun) >= hb, "the holdback pair's install hooks began after that "
              "(%d ms after the switch)" % ((min(begun) if begun else 0) - t_h))

    def skew_shown(p, doc):
        bad = []
        for m in doc["members"]:
            got = m.get("clock_skew_ms")
            if m["name"] in skewed:
                if got is None or abs(got - SKEW_S * 1000) > SKEW_SLACK_MS:
                    bad.append("%s shows %s clock_skew_ms %r" % (p, m["name"], got))
            elif got is not None:
                bad.append("%s shows %s clock_skew_ms %r" % (p, m["name"], got))
        return bad

    watcher = [n for n in f.order if n not in skewed and n not in hold][0]
    f.check_wait("%s's status shows clock_skew_ms near %d for %s, and for no one else"
                 % (watcher, SKEW_S * 1000, " and ".join(skewed)),
                 lambda: f.views_problems(skew_shown, peers=[watcher]), 20)
    table = f.status(watcher, as_json=False).out
    shown = [float(m.group(1)) for m in re.finditer(r"clock ([-+][0-9.]+)s off %s's: check "
                                                      r"NTP on both" % watcher, table)]
    tap.check(len(shown) == len(skewed) and
              all(abs(x * 1000 - SKEW_S * 1000) <= SKEW_SLACK_MS for x in shown),
              "staggerctl status at %s: a line \"clock %+ds off %s's: check NTP on both\" "
              "under each skewed peer" % (watcher, SKEW_S, watcher), table)

if __name__ == "__main__":
    if not os.path.exists(LIBFAKETIME):
        print("1..0 # SKIP %s missing (apt-get install libfaketime)" % LIBFAKETIME)
        sys.exit(0)
    sys.exit(main(test, n=5, policy=POLICY))
