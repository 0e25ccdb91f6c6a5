#!/usr/bin/python3
"""The cardano-node container hooks (deploy/hooks/cardano-node-container)
on real Podman, in storage of this test's own (container_standin.py), with
stand-in images loaded from an image directory as a registry mirror would
be: first install, an upgrade (same name, mounts, ports, environment; the
previous image remembered; SIGINT; the ledger snapshot), refusals of wrong
digests, a GHC-only rebuild, a crashing release and its rollback, an
install killed mid-way and run again, and docker chosen by the setting (a
shim that logs its arguments and runs podman).
  test_container_hooks.py HOOKS_DIR   (deploy/hooks/cardano-node-container)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import container_standin as cs  # noqa: E402
from deploytap import Result, Tap  # noqa: E402

HOOKS = os.path.abspath(sys.argv[1])
t = Tap()
why = cs.available()
if why:
    print("1..0 # SKIP %s" % why)
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="stagger-ct-hooks-")
NAME = "stagger-test-%d" % os.getpid()
DB = os.path.join(tmp, "db")
SNAPS = os.path.join(tmp, "ledger-snapshots")
STATE = os.path.join(tmp, "state")
HSTATE = os.path.join(STATE, "cardano-node")
ARCHIVE = os.path.join(tmp, "images")
LOG = os.path.join(tmp, "engine.log")
KILL = os.path.join(tmp, "kill-after")
builder = cs.Podman(os.path.join(tmp, "builder"))
node = cs.Podman(os.path.join(tmp, "node"))
DEADLINE_S = 30


PORT, PUBLISHED = cs.free_ports(2)
PUBLISH = "--publish=127.0.0.1:%d:12798" % PUBLISHED

# The engine as the hooks see it: podman, through a wrapper that logs each
# call's arguments (one call a line, arguments separated by tabs) and, when
# a file KILL holds a verb, SIGKILLs the calling hook's process group right
# after that verb's call: a daemon killed mid-install.
WRAP = os.path.join(tmp, "podman-wrapper")
with open(WRAP, "w") as f:
    f.write("""#!/bin/sh
(IFS='\t'; printf 'podman\t%%s\n' "$*") >>'%(log)s'
podman "$@"
rc=$?
if [ -e '%(kill)s' ]; then
    read -r verb <'%(kill)s'
    for a; do
        if [ "$a" = "$verb" ]; then
            rm -f '%(kill)s'
            kill -KILL -"$(ps -o pgid= -p $$ | tr -d ' ')"
        fi
    done
fi
exit $rc
""" % {"log": LOG, "kill": KILL})
os.chmod(WRAP, 0o755)
# docker: a shim with the same CLI, logging its calls and running them with
# podman (the runtime is a run option for docker, a global one for podman).
SHIM = os.path.join(tmp, "docker-shim")
with open(SHIM, "w") as f:
    f.write("""#!/bin/sh
(IFS='\t'; printf 'docker\t%%s\n' "$*") >>'%(log)s'
first=1
for a; do
    [ -n "$first" ] && set -- && first=
    if [ -n "$skip" ]; then skip=; continue; fi
    case $a in
        --runtime) skip=1 ;;
        --runtime=*) ;;
        *) set -- "$@" "$a" ;;
    esac
done
exec podman --runtime %(rt)s "$@"
""" % {"log": LOG, "rt": node.runtime})
os.chmod(SHIM, 0o755)

OPTIONS = os.path.join(tmp, "cardano-node.container")
OPTION_LINES = ["--network=host", "--volume=%s:/data/db" % DB, "--env=PORT=%d" % PORT,
                "--env=FORGING=0", "--env=STAND_IN_NOTE=two  words", PUBLISH]
with open(OPTIONS, "w") as f:
    f.write("# the test node's container\n" + "\n".join(OPTION_LINES) + "\n\n")
ENVFILE = os.path.join(tmp, "cardano-node.env")
settings = dict(node.hook_settings(), STAGGER_CONTAINER_NAME=NAME,
                STAGGER_CONTAINER_OPTIONS=OPTIONS, STAGGER_CONTAINER_IMAGE_DIR=ARCHIVE,
                STAGGER_CARDANO_DB=DB, STAGGER_CONTAINER_SNAPSHOT_DIR=SNAPS,
                STAGGER_CONTAINER_STOP_TIMEOUT_S="300",
                STAGGER_CARDANO_METRICS_URL="http://127.0.0.1:%d/cgi-bin/metrics" % PORT,
                PODMAN=WRAP, DOCKER=SHIM)
with open(ENVFILE, "w") as f:
    f.write("# /etc/stagger/cardano-node.env\n")
    for k, v in settings.items():
        f.write("%s=%s\n" % (k, v))


def hook(name, ref=None, version="", timeout=90, **extra):
    """Run a hook as staggerd would: only STAGGER_* and PATH, no HOME, in a
    process group of its own (so that the wrapper can kill all of it)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STAGGER_CARDANO_ENV": ENVFILE,
           "STAGGER_STATE_DIR": STATE, "STAGGER_ROLE": "relay", "STAGGER_FLAVOUR": "deb",
           "STAGGER_NODE": "relay1", "STAGGER_HOOK": name,
           "STAGGER_RELEASE_COMPONENT": "cardano-node", "STAGGER_RELEASE_VERSION": version}
    if ref is not None:
        env.update(STAGGER_ARTIFACT=ref, STAGGER_ARTIFACT_KIND="image",
                   STAGGER_ARTIFACT_SHA256=ref.rsplit(":", 1)[1])
    env.update(extra)
    p = subprocess.run([os.path.join(HOOKS, name)], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, start_new_session=True)
    return Result(p)


def calls(engine=None):
    try:
        lines = open(LOG).read().splitlines()
    except FileNotFoundError:
        return []
    out = [line.split("\t") for line in lines]
    return [c[1:] for c in out if engine is None or c[0] == engine]


def clear_log():
    open(LOG, "w").close()


def ctr():
    return node.inspect(NAME)


def image_id(ref):
    return node.out("image", "inspect", "--format", "{{.Id}}", ref)


def state(name):
    try:
        return open(os.path.join(HSTATE, name)).read().split()
    except FileNotFoundError:
        return None


def healthy(build, version, timeout=DEADLINE_S):
    """Poll the health hook until it says healthy (the service needs a
    moment to listen); returns the last Result."""
    end = time.monotonic() + timeout
    while True:
        r = hook("health")
        if r.code == 0 or time.monotonic() > end:
            return r
        time.sleep(0.2)  # poll interval of a wait with a deadline


def ledger_writers(d):
    """What wrote each snapshot in DB/d (the stand-in says which version)."""
    out = []
    for e in sorted(os.listdir(os.path.join(DB, d))):
        try:
            out.append(open(os.path.join(DB, d, e, "state")).read().strip())
        except OSError:
            out.append("?")
    return out


def newest_ledger():
    return max((e for e in os.listdir(os.path.join(DB, "ledger")) if e.isdigit()), key=int)


try:
    # ---- images: built once, kept in the image directory (the mirror) ----
    REV, REV2 = "ghc9.6.6", "ghc9.6.7"
    old, old_hex = cs.build_image(builder, tmp, "localhost/cardano-node-deb", "10.5.2", REV)
    new, new_hex = cs.build_image(builder, tmp, "localhost/cardano-node-deb", "10.5.3", REV)
    ghc, ghc_hex = cs.build_image(builder, tmp, "localhost/cardano-node-deb", "10.5.3", REV2)
    bad, bad_hex = cs.build_image(builder, tmp, "localhost/cardano-node-deb", "10.5.4", REV,
                                  mode="crash")
    for ref in (old, new, ghc, bad):
        cs.export_image(builder, ref, ARCHIVE)
    t.ok(len({old_hex, new_hex, ghc_hex, bad_hex}) == 4,
         "four stand-in images, four digests (the GHC-only rebuild differs from 10.5.3's)")
    builder.cleanup()
    os.makedirs(os.path.join(DB, "ledger", "100"))
    with open(os.path.join(DB, "ledger", "100", "state"), "w") as f:
        f.write("ledger before stagger\n")

    # ---- a container the operator made, stopping with SIGTERM: refused ----
    node.run("pull", "-q", "dir:" + os.path.join(ARCHIVE, old_hex))
    node.run("run", "--detach", "--name", NAME, "--network=host", "--env=PORT=%d" % PORT, old)
    before = ctr()
    r = hook("install", new, "10.5.3")
    t.ok(r.code == 1 and "stops with signal" in r.out and "not SIGINT" in r.out and
         r.last.startswith("install failed: container %s would not stop cleanly" % NAME),
         "install refuses a container that stops with SIGTERM, and says why", r)
    t.ok(ctr()["Id"] == before["Id"] and ctr()["State"]["Running"],
         "... and leaves it running untouched")
    node.run("rm", "--force", "--time", "0", NAME)

    # ---- first install: no container yet ----
    clear_log()
    r = hook("install", old, "10.5.2")
    c = ctr()
    t.ok(r.code == 0 and c and c["State"]["Running"] and c["Image"] == image_id(old),
         "first install: container %s runs 10.5.2's image (loaded from the image dir)" % NAME, r)
    t.ok(state("image.current") == [image_id(old), old] and state("image.previous") is None,
         "image.current records it; nothing to roll back to yet",
         repr((state("image.current"), state("image.previous"))))
    r = healthy("sha256:" + old_hex, "10.5.2")
    t.ok(r.code == 0 and r.value("version") == "10.5.2" and
         r.value("build") == "sha256:" + old_hex and r.value("restarts") == "0" and
         r.value("forging") == "0",
         "health: version=10.5.2, build=sha256:<its digest>, restarts=0, forging=0", r)
    run = [a for a in calls("podman") if "run" in a]
    t.ok(len(run) == 1 and all(line in run[0] for line in OPTION_LINES) and
         run[0][-1] == image_id(old) and "SIGINT" in run[0] and "--runtime" in run[0][:12],
         "podman run got every options-file line verbatim (ports included), SIGINT, the "
         "image by id, and the runtime as a global option", repr(run))

    # ---- upgrade to 10.5.3 ----
    first = ctr()
    ledger_before = newest_ledger()
    r = hook("install", new, "10.5.3")
    c = ctr()
    t.ok(r.code == 0 and c["Id"] != first["Id"] and c["Name"] == NAME and
         c["Image"] == image_id(new) and c["State"]["Running"],
         "install 10.5.3: a new container under the same name, on the new image", r)
    t.ok(c["Mounts"] == first["Mounts"] and c["HostConfig"]["NetworkMode"] ==
         first["HostConfig"]["NetworkMode"] == "host" and
         sorted(c["Config"]["Env"]) == sorted(first["Config"]["Env"]) and
         "STAND_IN_NOTE=two  words" in c["Config"]["Env"],
         "same mounts, network and environment (an argument with spaces kept whole)",
         json.dumps([c["Mounts"], first["Mounts"], c["Config"]["Env"]]))
    t.ok(str(c["Config"]["StopSignal"]) in ("2", "SIGINT") and c["Config"]["StopTimeout"] == 300,
         "it stops with SIGINT and a 300 s timeout", repr(c["Config"]))
    t.ok(open(os.path.join(DB, "last-stop")).read().strip() == "INT",
         "the old node was stopped with SIGINT")
    t.ok(state("image.previous") == [image_id(old), old] and
         state("image.current") == [image_id(new), new],
         "image.previous is 10.5.2's image, image.current 10.5.3's",
         repr((state("image.previous"), state("image.current"))))
    tags = node.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    t.ok("localhost/stagger/%s:previous %s" % (NAME, image_id(old)[:12]) in tags,
         "the previous image is tagged localhost/stagger/%s:previous (no prune takes it)" % NAME,
         tags)
    snap = os.path.join(SNAPS, image_id(old))
    t.ok(os.listdir(snap) == [ledger_before],
         "the ledger snapshot %s of the old image was saved in %s" % (ledger_before, snap),
         repr(os.listdir(snap) if os.path.isdir(snap) else None))
    r = healthy("sha256:" + new_hex, "10.5.3")
    t.ok(r.code == 0 and r.value("version") == "10.5.3" and
         r.value("build") == "sha256:" + new_hex and r.value("restarts") == "0",
         "health: version=10.5.3 build=sha256:<10.5.3's digest>", r)

    # ---- the same release again: nothing restarts ----
    r = hook("install", new, "10.5.3")
    t.ok(r.code == 0 and ctr()["Id"] == c["Id"] and "already runs" in r.last,
         "install of the running image again: nothing restarted", r)

    # ---- the container removed by hand, the same release again ----
    prev = state("image.previous")
    node.run("rm", "--force", "--time", "0", NAME)
    r = hook("install", new, "10.5.3")
    c = ctr()
    t.ok(r.code == 0 and c and c["State"]["Running"] and c["Image"] == image_id(new) and
         state("image.previous") == prev,
         "install again after the container was removed by hand: made anew from the same "
         "image, image.previous kept", r)

    # ---- wrong digests: refused, and nothing changes ----
    keep = ctr()["Id"]
    r = hook("install", new, "10.5.3", STAGGER_ARTIFACT_SHA256=ghc_hex)
    t.ok(r.code == 1 and "differs from STAGGER_ARTIFACT_SHA256" in r.last,
         "a reference whose digest is not STAGGER_ARTIFACT_SHA256 is refused", r)
    r = hook("install", "localhost/cardano-node-deb:10.5.3", "10.5.3",
             STAGGER_ARTIFACT_SHA256=new_hex)
    t.ok(r.code == 1 and "not pinned by digest" in r.last, "... and a tag", r)
    # The mirror holds 10.5.2's image under another digest's name.
    fake_hex = "f" * 64
    shutil.copytree(os.path.join(ARCHIVE, old_hex), os.path.join(ARCHIVE, fake_hex))
    r = hook("install", "localhost/cardano-node-deb@sha256:" + fake_hex, "10.5.3")
    t.ok(r.code == 1 and "no image with digest sha256:%s" % fake_hex in r.last,
         "an image directory entry whose manifest has another digest is refused", r)
    shutil.rmtree(os.path.join(ARCHIVE, fake_hex))
    t.ok(ctr()["Id"] == keep and state("image.current") == [image_id(new), new],
         "after the refusals the same container runs, image.current unchanged")

    # ---- a GHC-only rebuild: same version, new digest ----
    r = hook("install", ghc, "10.5.3")
    t.ok(r.code == 0 and ctr()["Image"] == image_id(ghc),
         "install of the GHC-only rebuild of 10.5.3 replaces the container", r)
    r = healthy("sha256:" + ghc_hex, "10.5.3")
    t.ok(r.code == 0 and r.value("version") == "10.5.3" and
         r.value("build") == "sha256:" + ghc_hex,
         "health: the same version=10.5.3, the new build=sha256:<rebuild's digest>", r)

    # ---- a release that crashes, then its rollback ----
    good_ledger = newest_ledger()
    r = hook("install", bad, "10.5.4")
    t.ok(r.code == 0 and ctr()["Image"] == image_id(bad), "install of the crashing 10.5.4", r)
    end = time.monotonic() + DEADLINE_S
    while True:
        r = hook("health")
        n = r.value("restarts")
        if (r.code == 1 and n and int(n) >= 2) or time.monotonic() > end:
            break
        time.sleep(0.3)  # poll interval of a wait with a deadline
    t.ok(r.code == 1 and int(r.value("restarts") or 0) >= 2 and
         r.value("build") == "sha256:" + bad_hex,
         "health: unhealthy, restarts= climbing (the restart policy at work), "
         "build=<10.5.4's digest>", r)
    t.ok(newest_ledger() != good_ledger, "10.5.4 wrote a newer ledger snapshot")
    r = hook("rollback", bad, "10.5.4")
    c = ctr()
    t.ok(r.code == 0 and c["Image"] == image_id(ghc) and c["State"]["Running"] and
         state("image.current") == [image_id(ghc), ghc],
         "rollback: the container runs the previous image (the rebuild) again", r)
    t.ok(good_ledger in os.listdir(os.path.join(DB, "ledger")) and
         not any("10.5.4" in w for w in ledger_writers("ledger")) and
         any("10.5.4" in w for w in ledger_writers("ledger.before-rollback")),
         "the pre-upgrade ledger snapshot is back, none of 10.5.4's; its ledger is in "
         "ledger.before-rollback", repr(ledger_writers("ledger")))
    r = healthy("sha256:" + ghc_hex, "10.5.3")
    t.ok(r.code == 0 and r.value("build") == "sha256:" + ghc_hex and
         r.value("restarts") == "0",
         "health: healthy on the rebuild again, restarts=0 (a new container)", r)
    keep = ctr()["Id"]
    r = hook("rollback", bad, "10.5.4")
    t.ok(r.code == 0 and ctr()["Id"] == keep and "nothing to switch back" in r.last,
         "rollback again: nothing to switch, nothing restarted", r)

    # ---- killed mid-way, then run again (the daemon crashed and resumes) ----
    for verb in ("stop", "rm"):
        target, target_hex = (new, new_hex) if verb == "stop" else (ghc, ghc_hex)
        was = list(state("image.current"))
        with open(KILL, "w") as f:
            f.write(verb + "\n")
        r = hook("install", target, "10.5.3")
        t.ok(r.code == -signal.SIGKILL and not os.path.exists(KILL),
             "install killed (SIGKILL, its whole group) right after '%s'" % verb, r)
        c = ctr()
        t.ok((c is not None and not c["State"]["Running"]) if verb == "stop" else c is None,
             "... leaving the container %s" % ("stopped" if verb == "stop" else "removed"))
        r = hook("install", target, "10.5.3")
        c = ctr()
        t.ok(r.code == 0 and c and c["State"]["Running"] and c["Image"] == image_id(target) and
             state("image.current") == [image_id(target), target] and
             state("image.previous") == was,
             "run again, it converges: the new image runs, previous is still the image "
             "that ran before the killed install", "%s\nprevious %r, want %r"
             % (r, state("image.previous"), was))
        r = healthy("sha256:" + target_hex, "10.5.3")
        t.ok(r.code == 0 and r.value("build") == "sha256:" + target_hex,
             "... and is healthy with build=<its digest>", r)

    # ---- docker, by the setting ----
    clear_log()
    r = hook("install", new, "10.5.3", STAGGER_CONTAINER_ENGINE="docker")
    dk, pm = calls("docker"), calls("podman")
    run = [a for a in dk if "run" in a]
    t.ok(r.code == 0 and ctr()["Image"] == image_id(new) and dk and not pm,
         "STAGGER_CONTAINER_ENGINE=docker: the install ran the docker CLI only", r)
    t.ok(len(run) == 1 and "--runtime" not in run[0][:run[0].index("run")] and
         run[0][run[0].index("--runtime") + 1] == node.runtime and
         all(line in run[0] for line in OPTION_LINES),
         "docker run got the runtime as a run option and every options-file line", repr(run))
    r = hook("health", STAGGER_CONTAINER_ENGINE="docker")
    t.ok(r.code == 0 and r.value("build") == "sha256:" + new_hex and
         r.value("restarts") == "0" and
         ["container", "inspect", NAME] in [c[-3:] for c in calls("docker")],
         "health through docker: build= and restarts= from docker container inspect", r)
    r = hook("install", "localhost/cardano-node-deb@sha256:" + "e" * 64, "10.5.5",
             STAGGER_CONTAINER_ENGINE="docker")
    t.ok(r.code == 1 and "pull" in r.last and "failed" in r.last,
         "docker with an image that is not in local storage: refused (no registry here)", r)
    clear_log()
    r = hook("health")
    t.ok(r.code == 0 and calls("podman") and not calls("docker"),
         "without the setting, podman (the default) again", r)

    # ---- health without a container ----
    node.run("stop", "--time", "0", NAME)
    r = hook("health")
    t.ok(r.code == 1 and "is not running" in (r.value("detail") or ""),
         "health: a stopped container is unhealthy, and says so", r)
    node.run("rm", NAME)
    r = hook("health")
    t.ok(r.code == 1 and (r.value("detail") or "").startswith("no container"),
         "health: no container at all is unhealthy", r)
    r = hook("rollback", bad, "10.5.4")
    t.ok(r.code == 0 and ctr() and ctr()["Image"] == image_id(new) and ctr()["State"]["Running"],
         "rollback with the container gone and image.current not the release's: it is "
         "made again from image.current", r)
finally:
    node.cleanup()
    builder.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
t.done()
