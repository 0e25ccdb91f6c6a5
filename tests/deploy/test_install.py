#!/usr/bin/python3
"""The cardano-node install and rollback hooks in a temp root, with a stub
systemctl (it logs each call and what `current` pointed at), real curl and
sha256sum on file:// and a loopback HTTP server, and fake releases.
  test_install.py HOOKS_DIR"""
import hashlib
import io
import os
import stat
import sys
import tarfile
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploytap import Tap, run_hook  # noqa: E402

HOOKS = sys.argv[1]
INSTALL = os.path.join(HOOKS, "install")
ROLLBACK = os.path.join(HOOKS, "rollback")
t = Tap()
tmp = tempfile.mkdtemp(prefix="stagger-install-")
ROOT = os.path.join(tmp, "opt", "cardano-node")
DB = os.path.join(tmp, "db")
STATE = os.path.join(tmp, "state")
ART = os.path.join(tmp, "artifacts")
BIN = os.path.join(tmp, "bin")
UNIT = os.path.join(tmp, "unit")       # the stub unit's state
LOG = os.path.join(tmp, "systemctl.log")
for d in (ROOT, DB, STATE, ART, BIN, UNIT):
    os.makedirs(d, exist_ok=True)

# systemctl stub: records "verb current-target" per call; stop/start change
# the state; files in UNIT make it misbehave (killsignal, fail-start).
SYSTEMCTL = os.path.join(BIN, "systemctl")
with open(SYSTEMCTL, "w") as f:
    f.write("""#!/bin/sh
u=%(unit)s
cur=$(readlink %(root)s/current 2>/dev/null || echo none)
echo "$1 ${cur##*/}" >> %(log)s
case $1 in
  stop) echo inactive > "$u/state" ;;
  start) [ -e "$u/fail-start" ] && { echo "Job for cardano-node.service failed." >&2; exit 1; }
         echo active > "$u/state" ;;
  is-active) [ "$(cat "$u/state")" = active ] ;;
  show) case $3 in
          KillSignal) cat "$u/killsignal" 2>/dev/null || echo 2 ;;
          TimeoutStopUSec) cat "$u/timeout" 2>/dev/null || echo 10min ;;
          Result) echo success ;;
        esac ;;
  *) exit 1 ;;
esac
""" % {"unit": UNIT, "root": ROOT, "log": LOG})
os.chmod(SYSTEMCTL, 0o755)


def unit_state():
    return open(os.path.join(UNIT, "state")).read().strip()


def calls():
    try:
        return [line.split() for line in open(LOG).read().splitlines()]
    except OSError:
        return []


def clear_log():
    open(LOG, "w").close()


def verbs(cs):
    return [c[0] for c in cs if c[0] in ("stop", "start")]


# ---- fake releases -----------------------------------------------------------
def add(tf, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tf.addfile(info, io.BytesIO(data))


def release(version, binary=True, config=True, runs=True, ghc=""):
    """A release tarball; GHC names a rebuild of the version (other bytes)."""
    path = os.path.join(ART, "cardano-node-%s%s-linux.tar.gz" % (version, ghc and "-" + ghc))
    with tarfile.open(path, "w:gz") as tf:
        if binary:
            body = ("echo 'cardano-node %s - linux-x86_64 %s'\n" % (version, ghc) if runs
                    else "exit 127\n")
            add(tf, "bin/cardano-node", ("#!/bin/sh\n" + body).encode(), 0o755)
        if config:
            add(tf, "config/config.json", b'{"Protocol": "Cardano", "v": "%s"}' % version.encode())
            add(tf, "config/shelley-genesis.json", b"{}")
    return path, hashlib.sha256(open(path, "rb").read()).hexdigest()


def tree_version(vdir):
    with open(os.path.join(vdir, "config", "config.json")) as f:
        return f.read()


def link(name):
    try:
        return os.readlink(os.path.join(ROOT, name))
    except OSError:
        return None


# The machine before: 10.5.2 installed and running, a ledger with two snapshots.
v0 = os.path.join(ROOT, "versions", "10.5.2")
os.makedirs(os.path.join(v0, "bin"))
os.makedirs(os.path.join(v0, "config"))
with open(os.path.join(v0, "bin", "cardano-node"), "w") as f:
    f.write("#!/bin/sh\necho 'cardano-node 10.5.2'\n")
os.chmod(os.path.join(v0, "bin", "cardano-node"), 0o755)
with open(os.path.join(v0, "config", "config.json"), "w") as f:
    f.write('{"v": "10.5.2"}')
os.symlink("versions/10.5.2", os.path.join(ROOT, "current"))
LEDGER = os.path.join(DB, "ledger")
for slot in ("140000000", "140004320"):
    os.makedirs(os.path.join(LEDGER, slot, "tables"))
    with open(os.path.join(LEDGER, slot, "state"), "w") as f:
        f.write("ledger state at %s, old format" % slot)
    with open(os.path.join(LEDGER, slot, "tables", "tvar"), "w") as f:
        f.write("utxo " + slot)
with open(os.path.join(UNIT, "state"), "w") as f:
    f.write("active\n")

# Settings in the env file, as on a pool machine; a SYSTEMCTL there that
# would fail proves the environment's stub wins.
ENVFILE = os.path.join(tmp, "cardano-node.env")
with open(ENVFILE, "w") as f:
    f.write("# /etc/stagger/cardano-node.env\nSTAGGER_CARDANO_ROOT=%s\nSTAGGER_CARDANO_DB=\"%s\"\n"
            "SYSTEMCTL=/bin/false\n" % (ROOT, DB))


def hook(path, version, url=None, sha=None, kind="url", **extra):
    env = {"STAGGER_CARDANO_ENV": ENVFILE, "SYSTEMCTL": SYSTEMCTL, "STAGGER_STATE_DIR": STATE,
           "STAGGER_ROLE": "relay", "STAGGER_FLAVOUR": "debian",
           "STAGGER_HOOK": os.path.basename(path), "STAGGER_RELEASE_COMPONENT": "cardano-node",
           "STAGGER_RELEASE_VERSION": version, "STAGGER_ARTIFACT_KIND": kind,
           "STAGGER_ARTIFACT": url or "", "STAGGER_ARTIFACT_SHA256": sha or ""}
    env.update(extra)
    clear_log()
    return run_hook(path, env)


art3, sha3 = release("10.5.3")
url3 = "file://" + art3

# ---- a wrong SHA-256 is refused before anything changes -------------------------
r = hook(INSTALL, "10.5.3", url3, "0" * 64)
t.ok(r.code == 1, "wrong sha256: install exits 1", r)
t.ok("SHA-256 mismatch" in r.last and sha3 in r.last and "0" * 64 in r.last,
     "wrong sha256: the last line says mismatch, got and expected", r)
t.ok(link("current") == "versions/10.5.2" and not os.path.exists(os.path.join(ROOT, "versions", "10.5.3")),
     "wrong sha256: current unchanged, nothing installed", os.listdir(os.path.join(ROOT, "versions")))
t.ok(verbs(calls()) == [] and unit_state() == "active", "wrong sha256: the service was not touched",
     calls())

r = hook(INSTALL, "10.5.3", "file://" + os.path.join(ART, "missing.tar.gz"), sha3)
t.ok(r.code == 1 and "download" in r.last, "missing artifact: download failure reported", r)

# ---- the unit must stop with SIGINT and minutes of timeout ----------------------
with open(os.path.join(UNIT, "killsignal"), "w") as f:
    f.write("15\n")
r = hook(INSTALL, "10.5.3", url3, sha3)
t.ok(r.code == 1 and "SIGINT" in r.out and "nothing changed" in r.last,
     "unit stopping with SIGTERM: install refused", r)
t.ok(verbs(calls()) == [] and link("current") == "versions/10.5.2", "refused before stopping", calls())
os.unlink(os.path.join(UNIT, "killsignal"))
with open(os.path.join(UNIT, "timeout"), "w") as f:
    f.write("1min 30s\n")
r = hook(INSTALL, "10.5.3", url3, sha3)
t.ok(r.code == 1 and "90s" in r.out, "unit with a 90 s stop timeout: refused", r)
os.unlink(os.path.join(UNIT, "timeout"))

# ---- install 10.5.3 from file:// ---------------------------------------------------
before_inode = os.stat(os.path.join(LEDGER, "140004320", "state")).st_ino
r = hook(INSTALL, "10.5.3", url3, sha3)
t.ok(r.code == 0, "install 10.5.3: exit 0", r)
t.ok("10.5.3 installed" in r.last, "install: last line says installed", r)
t.ok(link("current") == "versions/10.5.3", "current -> versions/10.5.3", link("current"))
t.ok(link("previous") == "versions/10.5.2", "previous -> versions/10.5.2", link("previous"))
t.ok(os.access(os.path.join(ROOT, "versions", "10.5.2", "bin", "cardano-node"), os.X_OK)
     and '"10.5.2"' in tree_version(v0), "previous version's binary and config kept")
t.ok('"10.5.3"' in tree_version(os.path.join(ROOT, "current")),
     "the new config bundle is in current/config")
snap = os.path.join(ROOT, "ledger-snapshots", "10.5.2")
t.ok(os.listdir(snap) == ["140004320"] if os.path.isdir(snap) else False,
     "ledger snapshot of the newest slot taken", os.listdir(snap) if os.path.isdir(snap) else snap)
t.ok(os.path.isfile(os.path.join(snap, "140004320", "tables", "tvar"))
     and os.stat(os.path.join(snap, "140004320", "state")).st_ino == before_inode,
     "snapshot is a hardlink copy of the whole <slot> directory")
cs = calls()
t.ok(verbs(cs) == ["stop", "start"], "service stopped then started", cs)
t.ok(["stop", "10.5.2"] in cs and ["start", "10.5.3"] in cs,
     "stopped while current was 10.5.2, started after the switch", cs)
t.ok(cs.index(["show", "10.5.2"]) < cs.index(["stop", "10.5.2"]) if ["show", "10.5.2"] in cs else False,
     "the unit was checked before stopping", cs)
t.ok(unit_state() == "active", "service active after install")
t.ok(os.path.exists(os.path.join(STATE, "cardano-node", "restart-begin")),
     "restart-begin written for the health hook")

# ---- the new version converts the ledger; rollback restores the snapshot -----------
import shutil  # noqa: E402
for slot in ("140000000", "140004320"):
    shutil.rmtree(os.path.join(LEDGER, slot))
os.makedirs(os.path.join(LEDGER, "140008640"))
with open(os.path.join(LEDGER, "140008640", "state"), "w") as f:
    f.write("new format")
r = hook(ROLLBACK, "10.5.3")
t.ok(r.code == 0, "rollback: exit 0", r)
t.ok(link("current") == "versions/10.5.2", "rollback: current -> versions/10.5.2", link("current"))
t.ok(sorted(os.listdir(LEDGER)) == ["140004320"], "rollback: db/ledger holds the saved snapshot",
     os.listdir(LEDGER))
try:
    restored = open(os.path.join(LEDGER, "140004320", "state")).read()
except OSError as e:
    restored = str(e)
t.ok(restored == "ledger state at 140004320, old format"
     and os.path.isfile(os.path.join(LEDGER, "140004320", "tables", "tvar")),
     "rollback: the pre-upgrade snapshot's content is back", restored)
t.ok(os.path.isdir(os.path.join(DB, "ledger.before-rollback", "140008640")),
     "rollback: the new version's ledger moved aside, not deleted")
t.ok(os.path.isdir(os.path.join(snap, "140004320")), "rollback: the saved snapshot itself is kept")
cs = calls()
t.ok(verbs(cs) == ["stop", "start"] and ["stop", "10.5.3"] in cs and ["start", "10.5.2"] in cs,
     "rollback: stopped on 10.5.3, started on 10.5.2", cs)
t.ok("rolled back from 10.5.3 to 10.5.2" in r.last, "rollback: last line says so", r)

r = hook(ROLLBACK, "10.5.3")
t.ok(r.code == 0 and verbs(calls()) == ["start"] and link("current") == "versions/10.5.2",
     "rollback again: nothing switched, only started", "%s\n%s" % (r, calls()))

# ---- install again over HTTP on loopback; a rollback with an unchanged ledger ------
class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=ART))
threading.Thread(target=httpd.serve_forever, daemon=True).start()
url3h = "http://127.0.0.1:%d/%s" % (httpd.server_address[1], os.path.basename(art3))
r = hook(INSTALL, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and link("current") == "versions/10.5.3" and "downloading " + url3h in r.out,
     "install over http://127.0.0.1: downloaded again (new URL), switched", r)
ledger_before = sorted(os.listdir(LEDGER))
r = hook(ROLLBACK, "10.5.3")
t.ok(r.code == 0 and "ledger unchanged" in r.out and sorted(os.listdir(LEDGER)) == ledger_before,
     "rollback with an unchanged ledger keeps it", r)
r = hook(INSTALL, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and "reusing" in r.out and link("current") == "versions/10.5.3",
     "same artifact again: the verified version dir is reused", r)

r = hook(INSTALL, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and verbs(calls()) == ["start"] and "already current" in r.last,
     "install of the running version: only started", "%s\n%s" % (r, calls()))

# ---- a failed start; the rollback puts the old version back ----------------------
art4, sha4 = release("10.6.0")
open(os.path.join(UNIT, "fail-start"), "w").close()
r = hook(INSTALL, "10.6.0", "file://" + art4, sha4)
os.unlink(os.path.join(UNIT, "fail-start"))
t.ok(r.code == 1 and "start" in r.last and "journalctl" in r.last, "start failure: exit 1, says why", r)
t.ok(link("current") == "versions/10.6.0" and link("previous") == "versions/10.5.3",
     "start failure: switched, previous recorded", "%s %s" % (link("current"), link("previous")))
r = hook(ROLLBACK, "10.6.0")
t.ok(r.code == 0 and link("current") == "versions/10.5.3" and unit_state() == "active",
     "rollback after a failed start: 10.5.3 runs again", r)

# ---- a rebuild of the running version (issue 13): its own tree, and back -----------
art5, sha5 = release("10.5.3", ghc="ghc9.6.7")
rebuild = "versions/10.5.3@" + sha5[:12]
r = hook(INSTALL, "10.5.3", "file://" + art5, sha5)
t.ok(r.code == 0 and link("current") == rebuild and link("previous") == "versions/10.5.3"
     and verbs(calls()) == ["stop", "start"],
     "a rebuild of the running 10.5.3 installs into %s, previous -> the first build" % rebuild,
     "%s\n%s %s" % (r, link("current"), link("previous")))
t.ok("ghc9.6.7" in open(os.path.join(ROOT, "current", "bin", "cardano-node")).read(),
     "current runs the rebuild's binary")
r = hook(INSTALL, "10.5.3", "file://" + art5, sha5)
t.ok(r.code == 0 and "already current" in r.last and link("current") == rebuild,
     "the rebuild again: already current, only started", r)
r = hook(INSTALL, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and link("current") == "versions/10.5.3" and link("previous") == rebuild,
     "the first build again: back in versions/10.5.3 (not taken for current by its name)",
     "%s\n%s %s" % (r, link("current"), link("previous")))
r = hook(ROLLBACK, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and link("current") == rebuild and "rolled back" in r.last,
     "rollback of a build of the same version, by its artifact: the other build again", r)
r = hook(ROLLBACK, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and "nothing to switch back" in r.last and link("current") == rebuild,
     "that rollback again: current holds another build, nothing switched", r)
r = hook(INSTALL, "10.5.3", url3h, sha3)
t.ok(r.code == 0 and link("current") == "versions/10.5.3", "the first build once more", r)

# ---- broken releases are refused while the old version still runs ----------------
for name, kw, words in (("no binary", {"binary": False}, "no executable bin/cardano-node"),
                        ("no config bundle", {"config": False}, "config bundle"),
                        ("binary does not run", {"runs": False}, "--version fails")):
    a, s = release("9.9.%d" % len(name), **kw)
    r = hook(INSTALL, "9.9.%d" % len(name), "file://" + a, s)
    t.ok(r.code == 1 and words in r.last and link("current") == "versions/10.5.3"
         and verbs(calls()) == [], "%s: refused, nothing stopped" % name, r)
r = hook(INSTALL, "../evil", url3, sha3)
t.ok(r.code == 1 and "refusing version name" in r.last, "a version name with a path: refused", r)

# ---- image flavour: the operator's fetch command, and the podman default ----------
fixture = os.path.join(tmp, "image-tree")
os.makedirs(os.path.join(fixture, "bin"))
os.makedirs(os.path.join(fixture, "config"))
with open(os.path.join(fixture, "bin", "cardano-node"), "w") as f:
    f.write("#!/bin/sh\necho 'cardano-node 10.6.1'\n")
os.chmod(os.path.join(fixture, "bin", "cardano-node"), 0o755)
with open(os.path.join(fixture, "config", "config.json"), "w") as f:
    f.write('{"v": "10.6.1"}')
digest = hashlib.sha256(b"image").hexdigest()
image = "ghcr.io/pool/cardano-node-nix:10.6.1@sha256:" + digest
r = hook(INSTALL, "10.6.1", image, digest, kind="image",
         STAGGER_CARDANO_IMAGE_FETCH='test "$STAGGER_ARTIFACT" = "%s" && cp -a %s/. "$STAGE"'
         % (image, fixture))
t.ok(r.code == 0 and link("current") == "versions/10.6.1" and link("previous") == "versions/10.5.3",
     "image via STAGGER_CARDANO_IMAGE_FETCH: installed, switched", r)
r = hook(INSTALL, "10.6.2", "ghcr.io/pool/cardano-node-nix:10.6.2", digest, kind="image")
t.ok(r.code == 1 and "not pinned by digest" in r.last, "image without a digest: refused", r)
r = hook(INSTALL, "10.6.2", image, "f" * 64, kind="image")
t.ok(r.code == 1 and "differs" in r.last, "image digest differs from the sha256: refused", r)

PODMAN = os.path.join(BIN, "podman")
PLOG = os.path.join(tmp, "podman.log")
with open(PODMAN, "w") as f:
    f.write("""#!/bin/sh
echo "$*" >> %s
case $1 in
  pull|rm) ;;
  create) echo cid123 ;;
  cp) [ "$2" = "cid123:/opt/cardano-node/." ] && cp -a %s/. "$3" ;;
  *) exit 1 ;;
esac
""" % (PLOG, fixture))
os.chmod(PODMAN, 0o755)
image2 = image.replace("10.6.1", "10.6.2")
r = hook(INSTALL, "10.6.2", image2, digest, kind="image", PODMAN=PODMAN)
plog = open(PLOG).read().splitlines() if os.path.exists(PLOG) else []
t.ok(r.code == 0 and link("current") == "versions/10.6.2",
     "image via the podman default (stubbed): installed", r)
t.ok(plog[:1] == ["pull " + image2] and "rm cid123" in plog, "podman pulled by digest, container removed",
     plog)

# ---- pruning keeps current and previous --------------------------------------------
vs = sorted(os.listdir(os.path.join(ROOT, "versions")))
t.ok(len(vs) == 3 and "10.6.2" in vs and "10.6.1" in vs,
     "pruned to KEEP_VERSIONS (3), current and previous kept", vs)
t.ok(sorted(os.listdir(os.path.join(ROOT, "ledger-snapshots"))) == ["10.6.1"],
     "only the rollback target's ledger snapshot is kept",
     os.listdir(os.path.join(ROOT, "ledger-snapshots")))
t.ok(not os.listdir(os.path.join(ROOT, ".staging")), "nothing left in .staging, even after failures",
     os.listdir(os.path.join(ROOT, ".staging")))

# ---- a rollback without a previous version -------------------------------------------
os.unlink(os.path.join(ROOT, "previous"))
r = hook(ROLLBACK, "10.6.2")
t.ok(r.code == 1 and "no previous version" in r.last and link("current") == "versions/10.6.2",
     "rollback with no previous: exit 1, says so", r)

httpd.shutdown()
mode = stat.S_IMODE(os.stat(INSTALL).st_mode)
t.ok(mode & 0o111 == 0o111, "install hook is executable")
t.done()
