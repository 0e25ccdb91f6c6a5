#!/usr/bin/python3
"""The os-debian hooks (install, rollback, health, gate) against stand-in
apt-get, dpkg-query, dpkg, systemctl and reboot commands: small sh scripts
first on PATH that log their argv and keep a fake dpkg database in a temp
dir; /run/reboot-required, /etc/debian_version and the boot id are temp
files too. Nothing real is installed or rebooted.
  test_os_hooks.py HOOKS_DIR"""
import atexit
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploytap import Tap  # noqa: E402

HOOKS = os.path.abspath(sys.argv[1])
t = Tap()
tmp = tempfile.mkdtemp(prefix="stagger-os-")
atexit.register(shutil.rmtree, tmp, True)  # also when a check raises
BIN = os.path.join(tmp, "bin")
FAKE = os.path.join(tmp, "fake")       # the stand-ins' world
STATE = os.path.join(tmp, "state")
LOG = os.path.join(tmp, "calls.log")
RR = os.path.join(tmp, "run", "reboot-required")
DEBVER = os.path.join(tmp, "debian_version")
BOOTID = os.path.join(tmp, "boot_id")
for d in (BIN, FAKE, os.path.join(FAKE, "units"), os.path.dirname(RR)):
    os.makedirs(d)


def script(name, body):
    path = os.path.join(BIN, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body % {"log": LOG, "fake": FAKE, "rr": RR})
    os.chmod(path, 0o755)
    return path


# db: sorted pkg=version lines. apt-get: update does nothing; upgrade applies
# fake/upgrade-plan (pkg=version sets, -pkg removes) and creates the
# reboot-required file when fake/needs-reboot exists; install pins must be
# in fake/archive. fake/apt-fail: print it as an E: line and exit 100;
# fake/crash-after: apply the plan, then die as if cut short.
script("apt-get", r"""F=%(fake)s
echo "apt-get DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >>%(log)s
setver() {
    p=${1%%%%=*}
    grep -v "^${p#-}=" $F/db >$F/db.tmp || true
    case $1 in -*) ;; *) echo "$1" >>$F/db.tmp ;; esac
    LC_ALL=C sort $F/db.tmp >$F/db
    rm -f $F/db.tmp
}
[ -e $F/apt-fail ] && { echo "E: $(cat $F/apt-fail)"; exit 100; }
mode= skip=
for a; do
    [ -z "$skip" ] || { skip=; continue; }
    case $a in
        -o) skip=1 ;;
        update) exit 0 ;;
        upgrade) mode=upgrade ;;
        install) mode=install ;;
        -*) ;;
        *=*) grep -qx "$a" $F/archive || { echo "E: Version '${a#*=}' for '${a%%%%=*}' was not found"; exit 100; }
             setver "$a" ;;
    esac
done
if [ "$mode" = upgrade ]; then
    while read -r p; do setver "$p"; done <$F/upgrade-plan
    [ ! -e $F/needs-reboot ] || { echo linux-image-6.1.0-22-amd64 >%(rr)s.pkgs; : >%(rr)s; }
    [ ! -e $F/crash-after ] || { rm -f $F/crash-after; kill -9 $$; }
fi
exit 0
""")
script("dpkg-query", r"""echo "dpkg-query $*" >>%(log)s
sed 's/^/ii  /' %(fake)s/db
""")
script("dpkg", r"""echo "dpkg $*" >>%(log)s
""")
script("systemctl", r"""echo "systemctl $*" >>%(log)s
[ "$1" = is-active ] || exit 1
s=$(cat %(fake)s/units/"$2" 2>/dev/null || echo unknown)
echo "$s"
[ "$s" = active ]
""")
REBOOT = script("reboot-standin", r"""echo "reboot $*" >>%(log)s
echo "reboot-standin: the machine goes down"
""")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def lines(path):
    return (read(path) or "").splitlines()


def calls(prog=None):
    cs = [c.strip() for c in lines(LOG) if c.strip()]
    return [c for c in cs if prog is None or c.split()[0] == prog]


class Run:
    def __init__(self, p):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr

    def value(self, key):
        v = None
        for line in self.out.splitlines():
            if line.startswith(key + "="):
                v = line[len(key) + 1:]
        return v

    def __str__(self):
        return "exit %s\nstdout:\n%sstderr:\n%s" % (self.code, self.out, self.err)


def hook(name, version="", art="", sha="", kind=None, answer=None, **extra):
    """answer: None, or what staggerd writes on the hook's fd 3 (STAGGER_ANSWER_FD):
    b"" keeps it open and silent."""
    env = {"PATH": BIN + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
           "OS_DEBIAN_ENV": "/nonexistent/os-debian.env", "OS_STATE_DIR": STATE,
           "OS_REBOOT_REQUIRED_FILE": RR, "OS_DEBIAN_VERSION_FILE": DEBVER,
           "OS_BOOT_ID_FILE": BOOTID, "OS_REBOOT_CMD": REBOOT,
           "STAGGER_HOOK": name, "STAGGER_RELEASE_COMPONENT": "os-debian",
           "STAGGER_RELEASE_VERSION": version, "STAGGER_ARTIFACT": art,
           "STAGGER_ARTIFACT_SHA256": sha,
           "STAGGER_ARTIFACT_KIND": kind or ("url" if art else "none")}
    env.update(extra)
    write(LOG, "")
    if answer is None:
        p = subprocess.run([os.path.join(HOOKS, name)], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        return Run(p)
    rfd, wfd = os.pipe()
    os.write(wfd, answer)
    env["STAGGER_ANSWER_FD"] = "3"
    try:
        p = subprocess.run(["/bin/sh", "-c", 'exec "$0" 3<&%d' % rfd, os.path.join(HOOKS, name)],
                           env=env, stdin=subprocess.DEVNULL, pass_fds=(rfd,),
                           capture_output=True, text=True, timeout=30)
    finally:
        os.close(rfd)
        os.close(wfd)
    return Run(p)


def one_error_line(r, *words):
    """Nonzero exit, stderr one line naming the hook and every word."""
    err = r.err.splitlines()
    return r.code != 0 and len(err) == 1 and " failed" in err[0] and all(w in err[0] for w in words)


def pins(argv_line):
    return sorted(w for w in argv_line.split() if "=" in w and not w.startswith(("DEBIAN_", "Dpkg", "DPkg")))


# ---- the machine before ------------------------------------------------------------
DB0 = ["cardano-node=10.5.3-1", "libc6=2.36-9+deb12u9", "linux-image-amd64=6.1.128-1",
       "openssl=3.0.15-1~deb12u1", "oldtool=1.0-1"]
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
write(os.path.join(FAKE, "archive"), "\n".join(DB0 + ["libc6=2.36-9+deb12u10", "openssl=3.0.16-1~deb12u1",
                                                       "linux-image-amd64=6.1.129-1"]) + "\n")
write(os.path.join(FAKE, "upgrade-plan"),
      "libc6=2.36-9+deb12u10\nopenssl=3.0.16-1~deb12u1\nlinux-image-amd64=6.1.129-1\n"
      "linux-image-6.1.0-22-amd64=6.1.129-1\n-oldtool\n")
write(os.path.join(FAKE, "units", "cardano-node"), "active\n")
write(DEBVER, "12.11\n")
write(BOOTID, "boot-1\n")


def db():
    return lines(os.path.join(FAKE, "db"))


# ---- health ----------------------------------------------------------------------------
r = hook("health")
t.ok(r.code == 0 and r.value("version") == "debian-12.11",
     "health: healthy, version=debian-12.11 from /etc/debian_version before any install", r)
t.ok(calls("systemctl") == ["systemctl is-active cardano-node"], "health asks systemctl is-active",
     calls())
write(DEBVER, "trixie/sid\n")
r = hook("health")
t.ok(r.value("version") == "debian-trixie-sid", "health: a testing debian_version in the release alphabet", r)
write(DEBVER, "12.11\n")

write(os.path.join(FAKE, "units", "cardano-node"), "inactive\n")
r = hook("health", OS_SERVICES="ssh cardano-node")
t.ok(r.code == 1 and "cardano-node is inactive" in (r.value("detail") or "")
     and r.value("version") == "debian-12.11",
     "health: a stopped service is unhealthy, named in detail, version still printed", r)
write(os.path.join(FAKE, "units", "ssh"), "active\n")
r = hook("health", OS_SERVICES="ssh")
t.ok(r.code == 0, "health: only the units of OS_SERVICES count", r)
write(os.path.join(FAKE, "units", "cardano-node"), "active\n")

write(RR, "*** System restart required ***\n")
write(RR + ".pkgs", "libc6\n")
r = hook("health")
t.ok(r.code == 0 and "reboot pending" in (r.value("detail") or ""),
     "health: a fresh pending reboot is healthy, and said", r)
old = time.time() - 90000
os.utime(RR, (old, old))
r = hook("health")
t.ok(r.code == 1 and "reboot pending for 9" in (r.value("detail") or "") and "libc6" in r.value("detail"),
     "health: a reboot pending over OS_REBOOT_PENDING_MAX_S (86400) is unhealthy", r)
r = hook("health", OS_REBOOT_PENDING_MAX_S="100000")
t.ok(r.code == 0, "health: OS_REBOOT_PENDING_MAX_S moves the limit", r)
r = hook("health", OS_REBOOT_PENDING_MAX_S="1d")
t.ok(r.code == 2 and "OS_REBOOT_PENDING_MAX_S" in (r.value("detail") or ""),
     "health: a bad setting exits 2 and says which", r)
os.unlink(RR)
os.unlink(RR + ".pkgs")

# ---- errors are one line on stderr ----------------------------------------------------------
r = hook("install", "")
t.ok(one_error_line(r, "STAGGER_RELEASE_VERSION is empty"), "install without a release: one stderr line", r)
r = hook("install", "../etc")
t.ok(one_error_line(r, "refusing release name"), "install refuses a release name that is a path", r)
r = hook("install", "2025-06", art="docker.io/x@sha256:" + "a" * 64, sha="a" * 64, kind="image")
t.ok(one_error_line(r, "package set"), "install refuses an image artifact", r)
t.ok(calls("apt-get") == [], "... before running apt-get", calls())

# ---- install: a plain upgrade ----------------------------------------------------------------
R1 = "2025-06-a"
r = hook("install", R1)
rel1 = os.path.join(STATE, "releases", R1)
apt = calls("apt-get")
t.ok(r.code == 0 and ("%s installed" % R1) in r.out.splitlines()[-1], "install upgrade: exit 0, says installed", r)
t.ok(len(apt) == 2 and apt[0].endswith(" update") and apt[1].endswith("--with-new-pkgs upgrade"),
     "install upgrade: apt-get update, then apt-get upgrade", apt)
t.ok(all("DEBIAN_FRONTEND=noninteractive" in a and "Dpkg::Options::=--force-confold" in a and " -y" in a
         for a in apt), "install: apt-get non-interactive, -y, keeps changed config files", apt)
t.ok(lines(os.path.join(rel1, "previous")) ==
     ["libc6=2.36-9+deb12u9", "linux-image-amd64=6.1.128-1", "oldtool=1.0-1", "openssl=3.0.15-1~deb12u1"],
     "install: the previous versions of what changed or was removed are recorded",
     read(os.path.join(rel1, "previous")))
t.ok(lines(os.path.join(rel1, "added")) == ["linux-image-6.1.0-22-amd64"], "install: added packages recorded",
     read(os.path.join(rel1, "added")))
t.ok(any(c.startswith("dpkg-query -W") for c in calls()), "install reads versions with dpkg-query -W", calls())
t.ok(read(os.path.join(STATE, "version")) == R1 + "\n" and read(os.path.join(rel1, "was")) == "debian-12.11\n",
     "install: the new OS release and the one before are recorded")
t.ok(calls("reboot") == [], "install: no reboot without the reboot-required file", calls())
r = hook("health")
t.ok(r.code == 0 and r.value("version") == R1, "health after install: version=%s" % R1, r)

r = hook("install", R1)
t.ok(r.code == 0 and "already installed" in r.out and calls("apt-get") == [] and calls("reboot") == [],
     "install again: nothing run again", r)

# ---- rollback ----------------------------------------------------------------------------------
r = hook("rollback", R1)
apt = calls("apt-get")
t.ok(r.code == 0 and "rolled back from %s to debian-12.11" % R1 in r.out, "rollback: exit 0, says so", r)
t.ok(len(apt) == 1 and "--allow-downgrades" in apt[0] and " install " in apt[0] and
     pins(apt[0]) == lines(os.path.join(rel1, "previous")),
     "rollback: apt-get install --allow-downgrades exactly the recorded old versions", apt)
t.ok(sorted(x for x in db() if not x.startswith("linux-image-6")) == sorted(DB0),
     "rollback: the old versions are back (the added kernel package stays)", db())
t.ok("linux-image-6.1.0-22-amd64" in r.out and "stays installed" in r.out,
     "rollback: warns that added packages stay", r)
r = hook("health")
t.ok(r.value("version") == "debian-12.11", "health after rollback: the release before", r)
r = hook("rollback", R1)
t.ok(r.code == 0 and calls("apt-get") == [], "rollback again: nothing run again", r)
r = hook("rollback", "never-installed")
t.ok(r.code == 0 and "nothing to roll back" in r.out and calls("apt-get") == [],
     "rollback of a release that changed nothing: exit 0", r)

# ---- a reboot: asked once ---------------------------------------------------------------------
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
write(os.path.join(FAKE, "needs-reboot"), "")
R2 = "2025-06-b"
r = hook("install", R2)
rel2 = os.path.join(STATE, "releases", R2)
t.ok(r.code == 0 and calls("reboot") == ["reboot"], "install: the reboot-required file makes it reboot", r)
t.ok(read(os.path.join(rel2, "reboot")) == "boot-1\n", "install: the reboot marker holds the boot id")
t.ok(r.out.index("rebooting") > r.out.index("changed or removed"),
     "install: records everything before it reboots", r)
t.ok(r.value("away") == "900" and r.out.index("away=900") < r.out.index("reboot-standin"),
     "install: announces the absence (away=900, OS_AWAY_S) before it reboots", r)
t.ok("did not confirm" in r.out, "install: no staggerd answer (no STAGGER_ANSWER_FD): says so, reboots", r)
r = hook("health")
t.ok(r.code == 1 and r.value("version") == R2 and "not happened yet" in (r.value("detail") or ""),
     "health before the reboot happened: unhealthy", r)
r = hook("install", R2)
t.ok(r.code == 0 and calls("reboot") == [] and "not asking again" in r.out,
     "install again (the reboot file still there): no second reboot", r)
write(BOOTID, "boot-2\n")
os.unlink(RR)
r = hook("health")
t.ok(r.code == 0 and r.value("version") == R2, "health after the reboot: healthy on %s" % R2, r)
r = hook("install", R2)
t.ok(r.code == 0 and calls("reboot") == [] and calls("apt-get") == [], "install after the reboot: nothing", r)
os.unlink(os.path.join(FAKE, "needs-reboot"))
write(RR, "")
r = hook("install", R2, OS_REBOOT_CMD="false")
t.ok(r.code == 0 and calls("reboot") == [], "a reboot-required file after the asked reboot: not asked again", r)
os.unlink(RR)

# ---- the announcement: staggerd's answer, none, off -------------------------------------------
for rv, answer, extra, expect in (
        ("2025-06-c", b"away ok\n", {}, "announced the absence"),
        ("2025-06-d", b"", {"OS_AWAY_WAIT_S": "1"}, "did not confirm the absence (no answer in 1s)"),
        ("2025-06-e", b"away refused\n", {}, "did not confirm the absence (away refused)"),
        ("2025-06-f", None, {"OS_AWAY_S": "0"}, None)):
    write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
    write(os.path.join(FAKE, "needs-reboot"), "")
    started = time.monotonic()
    r = hook("install", rv, answer=answer, **extra)
    took = time.monotonic() - started
    if expect is None:
        t.ok(r.code == 0 and r.value("away") is None and calls("reboot") == ["reboot"],
             "install with OS_AWAY_S=0: no announcement, reboots", r)
    else:
        t.ok(r.code == 0 and expect in r.out and calls("reboot") == ["reboot"] and
             r.out.index("away=") < r.out.index(expect) < r.out.index("reboot-standin"),
             "install, staggerd answers %r: %s, then reboots" % (answer, expect), r)
    if answer == b"":
        t.ok(1 <= took < 5, "install: waits OS_AWAY_WAIT_S (1 s) for a silent staggerd, no more (%.1f s)" % took)
    if os.path.exists(RR):
        os.unlink(RR)
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
r = hook("install", "2025-06-g", OS_AWAY_S="7200")
t.ok(one_error_line(r, "OS_AWAY_S=7200", "3600") and calls("reboot") == [] and
     not os.path.exists(os.path.join(STATE, "releases", "2025-06-g", "reboot")),
     "install: an OS_AWAY_S over an hour is refused before the reboot is marked asked", r)
os.unlink(os.path.join(FAKE, "needs-reboot"))
if os.path.exists(RR):
    os.unlink(RR)
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")

# ---- a package set ---------------------------------------------------------------------------
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
pset = os.path.join(tmp, "os-2025-07.pins")
write(pset, "# security: glibc and openssl\nlibc6=2.36-9+deb12u10\n\nopenssl=3.0.16-1~deb12u1  # DSA\n")
psha = hashlib.sha256(open(pset, "rb").read()).hexdigest()
R3 = "2025-07"
r = hook("install", R3, art="file://" + pset, sha="0" * 64)
t.ok(one_error_line(r, "SHA-256 mismatch", psha, "0" * 64), "package set: a wrong SHA-256 is one error line", r)
t.ok(calls("apt-get") == [] and calls("dpkg-query") == [], "package set: refused before apt or dpkg ran", calls())
r = hook("install", R3, art="file://" + pset, sha=psha)
apt = calls("apt-get")
t.ok(r.code == 0 and len(apt) == 2 and apt[0].endswith(" update"), "package set: installed after update", r)
t.ok(" install " in apt[1] and "upgrade" not in apt[1] and
     pins(apt[1]) == ["libc6=2.36-9+deb12u10", "openssl=3.0.16-1~deb12u1"],
     "package set: apt-get install exactly its pins", apt)
t.ok(lines(os.path.join(STATE, "releases", R3, "previous")) ==
     ["libc6=2.36-9+deb12u9", "openssl=3.0.15-1~deb12u1"], "package set: the old versions recorded",
     read(os.path.join(STATE, "releases", R3, "previous")))
write(pset + ".up", "upgrade\nlibc6=2.36-9+deb12u10\n")
upsha = hashlib.sha256(open(pset + ".up", "rb").read()).hexdigest()
r = hook("install", "2025-07-up", art="file://" + pset + ".up", sha=upsha)
apt = calls("apt-get")
t.ok(r.code == 0 and len(apt) == 3 and apt[1].endswith("upgrade") and pins(apt[2]) == ["libc6=2.36-9+deb12u10"],
     "package set with 'upgrade': update, upgrade, then the pins", apt)
for body, why in (("libc6 2.36\n", "'libc6 2.36' is not one"), ("libc6=2.36 openssl=3\n", "is not one"),
                  ("# nothing\n", "names no package"), ("libc6=$(reboot)\n", "is not 'pkg=version'"), ("li*bc6=1\n", "bad package name")):
    write(pset + ".bad", body)
    bsha = hashlib.sha256(body.encode()).hexdigest()
    r = hook("install", "2025-07-bad", art="file://" + pset + ".bad", sha=bsha)
    t.ok(one_error_line(r, why) and calls("apt-get") == [], "package set %r refused: %s" % (body, why), r)
shutil.rmtree(os.path.join(STATE, "releases", "2025-07-bad"))
r = hook("install", "2025-08", art="file://" + os.path.join(tmp, "missing.pins"), sha=psha)
t.ok(one_error_line(r, "download of", "Couldn't open file"), "package set missing: the download failure is one line", r)

# ---- apt fails: apt's own reason, one line ------------------------------------------------------
write(os.path.join(FAKE, "apt-fail"), "Could not get lock /var/lib/dpkg/lock-frontend")
r = hook("install", "2025-09")
t.ok(one_error_line(r, "apt-get update failed (exit 100)", "Could not get lock", "apt.log"),
     "apt-get failing: its E: line and the log's path in one line", r)
os.unlink(os.path.join(FAKE, "apt-fail"))
write(pset + ".gone", "libc6=2.36-9+deb12u99\n")
gsha = hashlib.sha256(open(pset + ".gone", "rb").read()).hexdigest()
r = hook("install", "2025-09-gone", art="file://" + pset + ".gone", sha=gsha)
t.ok(one_error_line(r, "Version '2.36-9+deb12u99' for 'libc6' was not found"),
     "a pin not in the archive: apt's reason", r)

# ---- an install cut short, run again ------------------------------------------------------------
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
write(os.path.join(FAKE, "crash-after"), "")
R4 = "2025-10"
rel4 = os.path.join(STATE, "releases", R4)
r = hook("install", R4)
t.ok(r.code != 0 and not os.path.exists(os.path.join(rel4, "installed")), "install cut short: fails", r)
r = hook("install", R4)
t.ok(r.code == 0 and calls("dpkg") == ["dpkg --force-confdef --force-confold --configure -a"],
     "install again after being cut short: dpkg --configure -a first", calls())
t.ok("libc6=2.36-9+deb12u9" in lines(os.path.join(rel4, "previous")),
     "... and the versions from before the first run are the ones recorded",
     read(os.path.join(rel4, "previous")))
write(os.path.join(FAKE, "db"), "\n".join(sorted(DB0)) + "\n")
write(os.path.join(FAKE, "crash-after"), "")
R5 = "2025-11"
r = hook("install", R5)
r = hook("rollback", R5)
apt = calls("apt-get")
t.ok(r.code == 0 and len(apt) == 1 and pins(apt[0]) ==
     ["libc6=2.36-9+deb12u9", "linux-image-amd64=6.1.128-1", "oldtool=1.0-1", "openssl=3.0.15-1~deb12u1"],
     "rollback of an install cut short: reinstalls what changed since before", r)
t.ok(read(os.path.join(STATE, "version")) == R4 + "\n", "... and records the release before", read(os.path.join(STATE, "version")))
r = hook("install", R5)
t.ok(r.code == 0 and os.path.isdir(os.path.join(STATE, "releases", R5)) and
     any(n.startswith(R5 + ".rolled-back.") for n in os.listdir(os.path.join(STATE, "releases"))),
     "install of a rolled-back release again: starts afresh, the old record kept aside", r)

# ---- gate ----------------------------------------------------------------------------------------
r = hook("gate")
t.ok(r.code == 0 and "no OS_NODE_GATE" in r.out, "gate: no node gate: allowed", r)
node_gate = script("node-gate", 'echo "producer: epoch 560 begins in 900s; not restarting (role $STAGGER_ROLE)"\nexit 1\n')
r = hook("gate", OS_NODE_GATE=node_gate, STAGGER_ROLE="producer")
t.ok(r.code == 1 and r.out.splitlines()[-1] == "producer: epoch 560 begins in 900s; not restarting (role producer)",
     "gate: the node gate's verdict and reason, with this hook's environment", r)
r = hook("gate", OS_NODE_GATE=os.path.join(tmp, "nonexistent-gate"))
t.ok(r.code == 2 and "OS_NODE_GATE" in r.err and len(r.err.splitlines()) == 1,
     "gate: a node gate that is not there is a setting error (exit 2)", r)
other = os.path.join(tmp, "stagger-node")
os.makedirs(other)
write(os.path.join(other, "hook.pgid"), "4242\n")
r = hook("gate", OS_OTHER_STAGGER_DIRS="/nonexistent " + other)
t.ok(r.code == 1 and "hook.pgid" in r.out, "gate: not while another staggerd runs an install", r)

# ---- the env example: every key read by a hook, every default restated ---------------------
envex = os.path.join(HOOKS, "os-debian.env.example")
keys = re.findall(r"^#?([A-Z_][A-Z0-9_]*)=", read(envex), re.M)
sources = "".join(read(os.path.join(HOOKS, f)) for f in ("common.sh", "health", "install", "rollback", "gate"))
t.ok(len(keys) >= 16 and all(re.search(r"\b%s\b" % k, sources) for k in keys),
     "every key of os-debian.env.example is read by a hook", keys)
SHOW = ('. "%s/common.sh"; STEP=; printf "%%s|" "$STATE" "$SERVICES" "$PENDING_MAX_S" "$REBOOT_CMD" '
        '"$REBOOT_REQUIRED" "$DEBIAN_VERSION_FILE" "$BOOT_ID_FILE" "$LOCK_TIMEOUT_S" "$NODE_GATE" '
        '"$OTHER_STAGGER_DIRS" "$APT_GET" "$DPKG_QUERY" "$DPKG" "$SYSTEMCTL" "$CURL" "$SHA256SUM" "$AWAY_S" "$AWAY_WAIT_S"' % HOOKS)


def settings(envfile):
    return subprocess.run(["sh", "-c", SHOW], env={"PATH": "/usr/bin:/bin", "OS_DEBIAN_ENV": envfile},
                          capture_output=True, text=True, timeout=10).stdout


a, b = settings(envex), settings("/nonexistent")
t.ok(a == b and a.startswith("/var/lib/stagger-os|cardano-node|86400|systemctl reboot|"),
     "os-debian.env.example restates the defaults", "%s\n%s" % (a, b))

for h in ("health", "install", "rollback", "gate"):
    t.ok(os.access(os.path.join(HOOKS, h), os.X_OK), "%s is executable" % h)
t.done()
