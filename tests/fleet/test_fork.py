#!/usr/bin/python3
"""test_fork.py: fork detection over eight real staggerd peers (issue 13).
Every node's health hook reports the chain tip its service follows
(tip=BLOCK:SLOT:HASH); a thread of this test is the chain, a block every
BLOCK_S, written to each node's "tip" file.

fork: the service on the new version follows another chain (same heights,
other hashes). Within policy.fork_blocks blocks every peer's status names
a version-correlated fork (the first node on the release's side, the
seven others on the other), `staggerctl status` says so and exits 4, and
no second update starts although the first wave's soak is long over; when
the new node follows the others' chain again, the fork clears and the
rollout goes on.

stall: no new block anywhere from the publish on (a network-wide stall):
nothing is blamed on the version, and the release reaches every node.

usage: /usr/bin/python3 test_fork.py STAGGERD STAGGERCTL [fork|stall] (prints TAP)
"""
import os
import sys
import threading
import time

import fleet
from fleet import NEW_VERSION, main, rollout_policy, variant

VARIANT = variant("fork")
# A block every 2 s, seen by every node's health hook (once a second) at
# least once, as cardano-node's ~20 s blocks are by a hook run every 10 s.
# The first wave soaks long enough for the fork to show first.
POLICY = dict(rollout_policy(batch=1, soak_s=20, epoch_s=8), fork_blocks=3)
POLICY_STALL = dict(rollout_policy(batch=1, soak_s=2, epoch_s=8), fork_blocks=3)
BLOCK_S = 2.0
# Records carry a new tip at most every refresh_ms while healthy (the
# default minute would make this test minutes long).
fleet.TUNING = dict(fleet.TUNING, refresh_ms=1000)


class Chain(threading.Thread):
    """Writes every node's tip file: block n every BLOCK_S; chain "b" for a
    node whose service runs NEW_VERSION while `fork` is set; frozen while
    `stalled`."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f, self.fork, self.stalled, self.stop = f, False, False, threading.Event()
        self.block, self.t0 = 100, time.time()

    def write(self):
        for n in self.f.order:
            other = self.fork and self.f.version_of(n) == NEW_VERSION
            tip = "%d:%d:%s%015x" % (self.block, self.block * 20, "b" if other else "a",
                                     self.block)
            path = os.path.join(self.f.dir, n, "tip")
            with open(path + ".t", "w") as fh:
                fh.write(tip + "\n")
            os.replace(path + ".t", path)

    def run(self):
        while not self.stop.wait(BLOCK_S / 5):
            if not self.stalled:
                self.block = 100 + int((time.time() - self.t0) / BLOCK_S)
            self.write()


def test(f, tap):
    chain = Chain(f)
    chain.write()
    chain.start()
    try:
        run(f, tap, chain)
    finally:
        chain.stop.set()
        chain.join(5)


def run(f, tap, chain):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    first = f.expected_order(rid)[0][0]
    chain.fork = VARIANT == "fork"
    chain.stalled = VARIANT == "stall"
    r = f.publish(signed, "relay2")
    tap.check(r.returncode == 0, "release %s published" % NEW_VERSION, r.stdout + r.stderr)
    if VARIANT == "stall":
        if not f.check_wait("with the chain stalled, every peer shows all 8 members done on %s"
                            % NEW_VERSION, lambda: f.rolled_out(), 150):
            return
        forked = [p for p, st in f.last_views.items() if st.doc.get("fork") is not None]
        tap.check(not forked, "no peer blames a fork on the version", repr(forked))
        tap.check(all(len(f.installs(n)) == 1 for n in f.order), "every node installed once")
        return

    def fork_seen(peer, doc):
        fk = doc.get("fork") or {}
        waiting = doc["rollout"]["waiting"]
        if fk.get("new") != [first] or len(fk.get("old") or []) != 7 or \
                fk.get("version") != NEW_VERSION or \
                not waiting.startswith("CRITICAL: version-correlated fork: %s on cardano-node %s "
                                       "follows another chain than" % (first, NEW_VERSION)):
            return ["%s: fork %r, waiting %r" % (peer, fk, waiting)]
        return []

    if not f.check_wait("every peer names the fork: %s on %s against the other seven"
                        % (first, NEW_VERSION), lambda: f.views_problems(fork_seen),
                        POLICY["soak_s"] + 10):
        return
    tap.check(all(not f.installs(n) for n in f.order if n != first),
              "it showed before the first wave's soak ended: only %s installed" % first)
    r = f.status("relay2", as_json=False)
    tap.check(r.rc == 4 and "version-correlated fork" in r.out,
              "staggerctl status exits 4 and says version-correlated fork", r.out)
    tap.check(any("CRITICAL: version-correlated fork" in line
                  for line in f.log_text("relay2").splitlines()),
              "relay2 logs the CRITICAL line")
    # Once the first wave's soak is over, without the fork the next node
    # would start within a second or two. Watched for a bounded window.
    if not f.check_wait("%s done: its soak is over" % first,
                        lambda: f.problems({first: {"phase": "done"}}), POLICY["soak_s"] + 15):
        return
    deadline = time.time() + 6
    started = []
    while time.time() < deadline:
        started = [n for n in f.order if n != first and f.installs(n)]
        if started:
            break
        time.sleep(fleet.POLL_S)  # polling the hooks' logs over a bounded window
    tap.check(not started, "no other node installs while the fork lasts", repr(started))

    chain.fork = False
    tap.note("the new version follows the others' chain again")
    f.check_wait("the fork clears on every peer and the rollout goes on: a second node installs",
                 lambda: [p for p, st in f.status_all().items() if st.doc.get("fork")] or
                 ([] if [n for n in f.order if n != first and f.installs(n)] else ["none yet"]),
                 60)


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY if VARIANT == "fork" else POLICY_STALL))
