#!/usr/bin/python3
"""test_container_fleet.py: eight real staggerd peers, each managing its own
stand-in cardano-node container on real Podman through the shipped container
hooks (deploy/hooks/cardano-node-container; issue 13's acceptance test).
Each node has podman storage of its own in the fleet's temp dir, a
container on the host network serving metrics on a port of its own, a
database directory for the ledger snapshots, and an env file; flavours
"deb" and "nix" alternate in the roster, each with its own images, built
offline here (tests/deploy/container_standin.py) and served from one image
directory as a mirror would. Every node is first deployed by running its
install hook by hand, as an operator would. Then:

1. a good release (10.5.3, both flavours' images pinned by digest) rolls
   out to done everywhere; every container runs its flavour's image, each
   node remembers the image it ran before, and its health hook reports the
   image digest as the build;
2. a bad release (10.5.4: the service crashes at start, the restart policy
   restarts it, restarts= climbs) fails on the first node in the order,
   which runs its rollback hook and is healthy on the 10.5.3 image again;
   the fleet halts and no other node installs;
3. after `staggerctl emergency abandon`, a GHC-only rebuild of 10.5.3 (the
   same version, new image digests) rolls out to done everywhere: a node
   counts as updated only when its version and its build match.

usage: /usr/bin/python3 test_container_fleet.py STAGGERD STAGGERCTL (prints TAP)
"""
import os
import signal
import subprocess
import sys
import time

import fleet as fl
from fleet import expected_order, main, reserve_ports, release_ports, rollout_policy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy"))
import container_standin as cs  # noqa: E402

HOOKS = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                      "deploy", "hooks", "cardano-node-container"))
why = cs.available()
if why:
    print("1..0 # SKIP %s" % why)
    sys.exit(0)

OLD, GOOD, BAD = "10.5.2", "10.5.3", "10.5.4"
REV, REV2 = "ghc9.6.6", "ghc9.6.7"
FLAVOURS = ("deb", "nix")
fl.FLAVOURS[:] = list(FLAVOURS)
# A container health run is python and one podman call (~0.2 s of CPU):
# eight nodes running it every second would take most of a 2-core machine.
fl.TUNING["health_interval_ms"] = 2500
POLICY = rollout_policy(batch=1, soak_s=1, health_deadline_s=60)
# The real gate keeps the producer's restart (600 s unless measured longer)
# an hour's guard away from epoch boundaries, which staggerd hands it from
# the roster: an hour-long epoch with the test in its middle, and no
# boundary needed before the holdback pair (test_rollout_good checks that).
POLICY["epoch"] = {"start_s": int(time.time()) - 1800, "length_s": 3600, "proof_epochs": 0,
                   "guard_s": 60}
# Installs pull, stop, snapshot and start: seconds, more on a loaded machine.
POLICY["timeouts"].update(health_s=10, install_s=120, rollback_s=120, gate_s=10)
STATUS_S = 150  # a rollout of 8 at batch 1: ~6 s each, plus slack


def hook_wrapper(node, hook, envfile):
    """NODE's HOOK: the shipped container hook with this node's env file (as
    /etc/stagger/cardano-node.env would be), logging hooks.log lines in the
    harness's format ("<unix ms> <hook> <version> <event>")."""
    return """#!/bin/sh
# %(hook)s of %(node)s: %(target)s with its settings
d='%(dir)s'
note() { echo "$(date +%%s%%3N) %(hook)s ${STAGGER_RELEASE_VERSION:--} $*" >>"$d/hooks.log"; }
[ %(hook)s = health ] || note "begin ${STAGGER_ARTIFACT:-}"
STAGGER_CARDANO_ENV='%(env)s' '%(target)s'
rc=$?
[ %(hook)s = health ] || note "end $rc"
exit $rc
""" % {"hook": hook, "node": node.name, "dir": node.dir, "env": envfile,
       "target": os.path.join(HOOKS, hook)}


class Site:
    """One node's container machinery: podman storage, port, db, env file."""

    def __init__(self, f, node, port, archive):
        self.node = node
        self.pm = cs.Podman(os.path.join(node.dir, "podman"))
        self.port = port
        self.name = "stagger-fleet-%d-%s" % (os.getpid(), node.name)
        self.db = os.path.join(node.dir, "db")
        os.makedirs(os.path.join(self.db, "ledger", "100"))
        self.state = os.path.join(node.dir, "state", "cardano-node")
        opts = os.path.join(node.dir, "cardano-node.container")
        with open(opts, "w") as fo:
            fo.write("--network=host\n--volume=%s:/data/db\n--env=PORT=%d\n--env=FORGING=%d\n"
                     % (self.db, port, 1 if node.role == "producer" else 0))
        self.env = os.path.join(node.dir, "cardano-node.env")
        settings = dict(self.pm.hook_settings(), STAGGER_CONTAINER_NAME=self.name,
                        STAGGER_CONTAINER_OPTIONS=opts, STAGGER_CONTAINER_IMAGE_DIR=archive,
                        STAGGER_CARDANO_DB=self.db, STAGGER_CONTAINER_STOP_TIMEOUT_S="300",
                        STAGGER_CARDANO_METRICS_URL="http://127.0.0.1:%d/cgi-bin/metrics" % port)
        with open(self.env, "w") as fo:
            fo.write("# %s's /etc/stagger/cardano-node.env\n" % node.name)
            for k, v in settings.items():
                fo.write("%s=%s\n" % (k, v))
        for hook in ("install", "rollback", "gate"):
            self.write(node.update_hooks[hook], hook_wrapper(node, hook, self.env))
        self.write(node.hook, hook_wrapper(node, "health", self.env))

    @staticmethod
    def write(path, text):
        with open(path, "w") as fo:
            fo.write(text)
        os.chmod(path, 0o755)

    def container(self):
        return self.pm.inspect(self.name)

    def image_of(self, ref):
        p = self.pm.run("image", "inspect", "--format", "{{.Id}}", ref, check=False)
        return p.stdout.strip() if p.returncode == 0 else None

    def recorded(self, which):
        try:
            return open(os.path.join(self.state, "image." + which)).read().split()
        except FileNotFoundError:
            return None


def hook_log(f, name, hook, version):
    return [h for h in f.hooks_log(name) if h[1] == hook and h[2] == version]


def artifacts(images, key):
    """A release's artifacts: each flavour's image KEY, pinned by digest."""
    return {fl_: {"image": images[fl_, key][0]} for fl_ in FLAVOURS}


def swapped(f, sites, images, key, prev_key):
    """Problems until every node's container runs its flavour's image KEY
    and the node recorded image PREV_KEY as the one before."""
    bad = []
    for n, s in sites.items():
        fl_ = f.nodes[n].flavour
        c = s.container()
        if not (c and c["State"]["Running"] and c["Image"] == s.image_of(images[fl_, key][0])):
            bad.append("%s: container %r" % (n, c and (c["Image"], c["State"]["Status"])))
        if (s.recorded("previous") or [None])[0] != s.image_of(images[fl_, prev_key][0]):
            bad.append("%s: image.previous %r, want %s's" % (n, s.recorded("previous"), prev_key))
    return bad


def roll_out(f, tap, images, key, peer, want, what, created_at=None):
    """Publish a release of cardano-node 10.5.3 made of the images KEY to
    PEER; wait until every peer's view is WANT."""
    t = time.monotonic()
    signed, rid = f.release(GOOD, stem=key, artifacts=artifacts(images, key),
                            created_at=created_at)
    r = f.publish(signed, peer)
    tap.check(r.returncode == 0, what + " published", r.stdout + r.stderr)
    ok = f.check_wait("every peer shows all 8 members done on %s, each with its flavour's %s "
                      "image digest as its build" % (GOOD, key), lambda: f.problems(want),
                      STATUS_S)
    tap.note("%s rollout: %.1f s" % (key, time.monotonic() - t))
    return ok


def test(f, tap):
    ports = reserve_ports(len(f.order))
    archive = os.path.join(f.dir, "images")
    builder = cs.Podman(os.path.join(f.dir, "builder"))
    sites = {n: Site(f, f.nodes[n], ports[i], archive) for i, n in enumerate(f.order)}
    try:
        body(f, tap, sites, builder, archive)
    finally:
        # The daemons first, and any hook they left running (its process
        # group is in hook.pgid), so that nothing starts a container anew
        # while the containers are removed.
        for n in f.order:
            if f.alive(n):
                f.kill9(n)
            try:
                pgid = int(open(os.path.join(f.nodes[n].dir, "state", "hook.pgid"))
                           .read().split()[0])
                os.killpg(pgid, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        for s in sites.values():
            s.pm.cleanup()
        builder.cleanup()
        release_ports(ports)


def body(f, tap, sites, builder, archive):
    t0 = time.monotonic()
    images = {}
    for fl_ in FLAVOURS:
        name = "localhost/cardano-node-" + fl_
        for key, version, rev, mode in (("old", OLD, REV, "good"), ("good", GOOD, REV, "good"),
                                        ("bad", BAD, REV, "crash"),
                                        ("rebuild", GOOD, REV2, "good")):
            ref, hexd = cs.build_image(builder, f.dir, name, version, rev, mode, flavour=fl_)
            cs.export_image(builder, ref, archive)
            images[fl_, key] = (ref, hexd)
    builder.cleanup()
    tap.check(len({h for _, h in images.values()}) == 8,
              "8 stand-in images (2 flavours x 10.5.2, 10.5.3, a crashing 10.5.4 and a "
              "GHC-only rebuild of 10.5.3) in the image directory (%.1f s)"
              % (time.monotonic() - t0))

    # ---- the operator deploys each node's first container with its hook ----
    t1 = time.monotonic()
    procs = {}
    for n in f.order:
        ref, hexd = images[f.nodes[n].flavour, "old"]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STAGGER_STATE_DIR":
               os.path.join(f.nodes[n].dir, "state"), "STAGGER_RELEASE_VERSION": OLD,
               "STAGGER_ARTIFACT": ref, "STAGGER_ARTIFACT_KIND": "image",
               "STAGGER_ARTIFACT_SHA256": hexd, "STAGGER_ROLE": f.nodes[n].role}
        procs[n] = subprocess.Popen([f.nodes[n].update_hooks["install"]], env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    bad = []
    for n, p in procs.items():
        out, _ = p.communicate(timeout=f.deadline(120))
        if p.returncode != 0:
            bad.append("%s: exit %s: %s" % (n, p.returncode, out))
    tap.check(not bad, "every node's first container started by its install hook (%.1f s)"
              % (time.monotonic() - t1), "\n".join(bad))
    if bad:
        return
    for n in f.order:  # made by the hook: staggerd keeps its state dir 0700
        os.chmod(os.path.join(f.nodes[n].dir, "state"), 0o700)
    f.start_all()
    if not f.converge(timeout=60):
        return

    def builds(key, phase=None, version=GOOD):
        want = {}
        for n in f.order:
            want[n] = {"version": version, "health": "healthy",
                       "build": images[f.nodes[n].flavour, key][1]}
            if phase:
                want[n]["phase"] = phase
        return want

    if not f.check_wait("every peer shows each member's build: its image's digest",
                        lambda: f.problems(builds("old", version=OLD)), 30):
        return

    # ---- 1. a good release ----
    if not roll_out(f, tap, images, "good", "relay1", builds("good", "done"),
                    "release %s (deb and nix images pinned by digest)" % GOOD):
        return
    bad = swapped(f, sites, images, "good", "old")
    for n in f.order:
        if len(hook_log(f, n, "install", GOOD)) != 2:  # begin and end, once
            bad.append("%s: install runs %r" % (n, hook_log(f, n, "install", GOOD)))
    gates = [h[3] for h in hook_log(f, "bp", "gate", GOOD)]
    tap.check(gates and gates[-1] == "end 0",
              "the producer asked the real gate (with the roster's epoch schedule), which "
              "said yes", repr(gates))
    tap.check(not bad, "each container runs its flavour's %s image, each node recorded the "
              "%s image as previous, and ran its install hook once" % (GOOD, OLD),
              "\n".join(bad))

    # ---- 2. a bad release: fails on the first node, rolled back, halted ----
    t3 = time.monotonic()
    signed, rid = f.release(BAD, stem="bad", artifacts=artifacts(images, "bad"),
                            created_at=int(time.time()) + 1)
    first = expected_order(f.roster_json(), rid)[0][0]
    others = [n for n in f.order if n != first]
    tap.note("first in the order of %s: %s (%s)" % (BAD, first, f.nodes[first].flavour))
    r = f.publish(signed, "relay2")
    tap.check(r.returncode == 0, "release %s (crashes at start) published" % BAD,
              r.stdout + r.stderr)
    back = {first: {"phase": "rolled-back", "version": GOOD, "health": "healthy",
                    "build": images[f.nodes[first].flavour, "good"][1]}}
    if not f.check_wait("every peer shows %s rolled back, healthy on the %s image again"
                        % (first, GOOD), lambda: f.problems(back), 90):
        return
    tap.note("bad release to rolled back: %.1f s" % (time.monotonic() - t3))

    def halted(peer, doc):
        ro = doc["rollout"]
        failed, waiting = ro.get("failed") or {}, ro.get("waiting", "")
        out = []
        if failed.get("node") != first or "crash loop" not in failed.get("detail", ""):
            out.append("%s: rollout.failed = %r" % (peer, failed))
        if not waiting.startswith("halted: cardano-node %s failed on %s" % (BAD, first)):
            out.append("%s: rollout.waiting = %r" % (peer, waiting))
        return out

    f.check_wait("every peer: the rollout is halted, failed on %s by a crash loop (the "
                 "container's restart count)" % first, lambda: f.views_problems(halted), 10)
    s = sites[first]
    fl_ = f.nodes[first].flavour
    c = s.container()
    tap.check(c and c["State"]["Running"] and c["Image"] == s.image_of(images[fl_, "good"][0])
              and s.recorded("current")[0] == c["Image"],
              "%s's container runs the %s image again (image.current says so)" % (first, GOOD),
              repr(c and (c["Image"], c["State"]["Status"])))
    rb = hook_log(f, first, "rollback", BAD)
    tap.check(len(rb) == 2 and rb[-1][3] == "end 0", "its rollback hook ran once and succeeded",
              repr(rb))
    ran = {n: hook_log(f, n, "install", BAD) for n in others if hook_log(f, n, "install", BAD)}
    tap.check(not ran, "no other node ran its install hook for %s" % BAD, repr(ran))
    still = {n: {"version": GOOD, "health": "healthy",
                 "build": images[f.nodes[n].flavour, "good"][1]} for n in others}
    tap.check(not f.problems(still), "every other node still runs the %s image, healthy" % GOOD,
              "\n".join(f.problems(still)[:10]))

    # ---- 3. abandon it; a GHC-only rebuild of 10.5.3 rolls out ----
    r = f.ctl("emergency", "abandon", "--key", f.keyfile("op"), "--roster", f.roster,
              "--peer", "relay3", timeout=30)
    tap.check(r.returncode == 0, "staggerctl emergency abandon: %s is abandoned" % BAD,
              r.stdout + r.stderr)
    if not roll_out(f, tap, images, "rebuild", "relay4", builds("rebuild", "done"),
                    "the GHC-only rebuild of %s (same version, new digests)" % GOOD,
                    created_at=int(time.time()) + 2):
        return
    bad = swapped(f, sites, images, "rebuild", "good")
    tap.check(not bad, "each container runs its flavour's rebuild, the %s image kept as "
              "previous" % GOOD, "\n".join(bad))
    tap.note("container fleet test body: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY, versions={n: OLD for n, _ in fl.MEMBERS}))
