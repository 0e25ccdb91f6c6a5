#!/usr/bin/python3
"""test_rollout_rebuild.py: a rebuild of the version every node already
runs (cardano-node 10.5.3 built again with another GHC: new artifacts, new
SHA-256s, the same version) rolls out to every node (issue 13, build
identity). Eight real staggerd peers whose health hooks report the
artifact they run (build=sha256:HEX, as a container's image digest):

1. each member's status shows that build, fleet-wide, as 64 hex digits
   (the "sha256:" prefix the hook wrote is dropped);
2. the release they run (same version, same SHA-256s) is adopted and
   counts as done everywhere at once: no install hook runs;
3. the rebuild (same version, new SHA-256s) is installed on every node,
   in waves as any release, and every member's status ends showing the
   new build, done.

Without build identity step 3 finds every node "already on 10.5.3" and
installs nowhere: the failure the issue reports.

usage: /usr/bin/python3 test_rollout_rebuild.py STAGGERD STAGGERCTL (prints TAP)
"""
import sys
import time

from fleet import NEW_VERSION, RELEASE_BUILDS, main, rollout_policy

POLICY = rollout_policy(batch=2, soak_s=1, epoch_s=6)
REBUILD = {"debian": "6" * 64, "nix": "8" * 64}


def builds_are(f, builds, phase=None):
    want = {}
    for n in f.order:
        want[n] = {"version": NEW_VERSION, "build": builds[f.nodes[n].flavour]}
        if phase:
            want[n]["phase"] = phase
    return want


def test(f, tap):
    for n in f.order:
        f.set_health(n, "healthy", version=NEW_VERSION, build=RELEASE_BUILDS[f.nodes[n].flavour])
    f.start_all()
    if not f.converge(timeout=30):
        return
    if not f.check_wait("every peer shows each member's build, the SHA-256 its hook reports",
                        lambda: f.problems(builds_are(f, RELEASE_BUILDS)), 30):
        return

    signed, rid = f.release()
    r = f.publish(signed, "relay1")
    tap.check(r.returncode == 0, "the release they run is published", r.stdout + r.stderr)
    if not f.check_wait("every peer: release %s adopted, 0 pending (version and build match)"
                        % rid, lambda: pending_is(f, rid, 0), 30):
        return
    installs = {n: len(f.installs(n)) for n in f.order}
    tap.check(set(installs.values()) == {0}, "no install hook ran for it", repr(installs))

    signed2, rid2 = f.release(stem="rebuild", created_at=int(time.time()) + 1, builds=REBUILD)
    r = f.publish(signed2, "relay2")
    tap.check(r.returncode == 0 and rid2 != rid, "the rebuild of %s is published (%s)"
              % (NEW_VERSION, rid2), r.stdout + r.stderr)
    if not f.check_wait("every peer shows all 8 members done on %s with the rebuild's SHA-256"
                        % NEW_VERSION,
                        lambda: f.problems(builds_are(f, REBUILD, "done")), 150):
        return
    bad = pending_is(f, rid2, 0)
    tap.check(not bad, "every peer: the rebuild adopted, 0 pending", "\n".join(bad))
    installs = {n: len(f.installs(n)) for n in f.order}
    tap.check(set(installs.values()) == {1}, "the install hook ran once on each node",
              repr(installs))


def pending_is(f, rid, n):
    bad = []
    for peer, st in f.status_all().items():
        ro = st.doc and st.doc.get("rollout") or {}
        rel = ro.get("release") or {}
        if rel.get("id") != rid or ro.get("pending") != n:
            bad.append("%s: release %s, pending %s" % (peer, rel.get("id"), ro.get("pending")))
    return bad


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
