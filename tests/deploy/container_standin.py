"""container_standin.py: real Podman for the container hook tests
(tests/deploy/test_container_hooks.py, tests/fleet/test_container_fleet.py):
storage of its own in a temp dir (never the machine's), the recipe of
shared PITFALLS.md (containers.conf without default ulimits, cgroupfs, the
runc runtime), and stand-in cardano-node images built offline with `podman
import` from a busybox-static rootfs. A stand-in serves cardano-node's
metrics on 127.0.0.1:$PORT/cgi-bin/metrics (busybox httpd and a CGI
script), writes a ledger snapshot into /data/db/ledger/<slot> when it
starts, and on SIGINT or SIGTERM writes which one into /data/db/last-stop.
Modes: good; crash (exits 1 a second after it starts: a crash loop under a
restart policy); stale (its tip is an hour old: not synced)."""
import os
import shutil
import socket
import subprocess
import tarfile
import io
import json

BUSYBOX = "/bin/busybox"
SLOT_OFFSET = 1591566291

CONTAINERS_CONF = """# PITFALLS.md: no default ulimits, cgroupfs (not systemd), for these machines
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
"""

ENTRY = r"""#!/bin/sh
# stand-in cardano-node (tests/deploy/container_standin.py)
read -r mode </stand-in/mode
read -r version </stand-in/version
db=/data/db
echo "${FORGING:-0}" >/tmp/forging
if [ -d "$db" ]; then
    slot=$(($(date +%s) - 1591566291))
    mkdir -p "$db/ledger/$slot"
    echo "ledger written by $version" >"$db/ledger/$slot/state"
fi
if [ "$mode" = crash ]; then
    sleep 1  # a second's life: the restart policy's loop stays slow
    echo "cardano-node $version: bad config" >&2
    exit 1
fi
stop() {
    [ -d "$db" ] && echo "$1" >"$db/last-stop"
    kill "$pid"
    exit 0
}
trap 'stop INT' INT
trap 'stop TERM' TERM
httpd -f -p "127.0.0.1:${PORT:-12798}" -h /www &
pid=$!
wait "$pid"
"""

METRICS = r"""#!/bin/sh
read -r version </stand-in/version
read -r revision </stand-in/revision
read -r mode </stand-in/mode
read -r forging </tmp/forging
now=$(date +%s)
lag=0
[ "$mode" = stale ] && lag=3600
slot=$((now - 1591566291 - lag))
printf 'Content-Type: text/plain; version=0.0.4\r\n\r\n'
echo '# TYPE cardano_build_info gauge'
echo "cardano_build_info{version=\"$version\",revision=\"$revision\"} 1"
echo "cardano_node_metrics_slotNum_int $slot"
echo "cardano_node_metrics_blockNum_int $((slot / 20))"
echo "cardano_node_metrics_epoch_int $(((now - 1596059091) / 432000 + 208))"
echo "cardano_node_metrics_forging_enabled_int $forging"
echo "cardano_node_metrics_peerSelection_Hot_int 20"
echo '# EOF'
"""


def free_ports(n):
    """N distinct TCP ports free on 127.0.0.1 now (held until all are had)."""
    held = [socket.socket() for _ in range(n)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def available():
    """None if the tests can run here, else why not (for a TAP skip)."""
    for prog in ("podman", "runc"):
        if not shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin"):
            return "%s is not installed (deploy/deps.sh)" % prog
    if not os.path.exists(BUSYBOX):
        return "busybox-static is not installed (deploy/deps.sh)"
    if os.geteuid() != 0:
        return "rootful podman needs root"
    return None


class Podman:
    """podman on storage under DIR (--root, --runroot, the vfs driver: no
    overlay mounts to leave behind), with containers.conf from PITFALLS.md."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(d, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(CONTAINERS_CONF)
        self.global_args = ["--root", os.path.join(d, "root"), "--runroot",
                            os.path.join(d, "runroot"), "--storage-driver", "vfs"]
        self.runtime = "runc"
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)

    def engine_args(self):
        """STAGGER_CONTAINER_ENGINE_ARGS for the hooks (the runtime goes in
        STAGGER_CONTAINER_RUNTIME)."""
        return " ".join(self.global_args)

    def hook_settings(self):
        return {"STAGGER_CONTAINER_ENGINE_ARGS": self.engine_args(),
                "STAGGER_CONTAINER_RUNTIME": self.runtime, "CONTAINERS_CONF": self.conf}

    def run(self, *args, check=True, timeout=120):
        p = subprocess.run(["podman"] + self.global_args + ["--runtime", self.runtime] +
                           [str(a) for a in args], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("podman %s: %s" % (" ".join(map(str, args)), p.stderr.strip()))
        return p

    def out(self, *args, **kw):
        return self.run(*args, **kw).stdout.strip()

    def inspect(self, name):
        p = self.run("container", "inspect", name, check=False)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)[0]

    def cleanup(self):
        """Every container removed, then the storage."""
        try:
            self.run("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
            self.run("rmi", "--all", "--force", check=False, timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _add(tf, name, data=None, mode=0o755, link=None):
    info = tarfile.TarInfo(name)
    info.mode = mode
    if link is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = link
        tf.addfile(info)
    elif data is None:
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    else:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def build_image(pm, workdir, name, version, revision, mode="good", flavour="deb"):
    """A stand-in image imported as NAME:TAG into pm's storage; returns
    (reference pinned by digest, digest hex)."""
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    tar = os.path.join(workdir, "%s-%s-%s.tar" % (name.replace("/", "_"), version, revision))
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    with tarfile.open(tar, "w") as tf:
        for d in ("bin", "tmp", "data", "www", "www/cgi-bin", "stand-in", "etc"):
            _add(tf, d, mode=0o1777 if d == "tmp" else 0o755)
        _add(tf, "bin/busybox", busybox)
        for a in applets:
            if a != "busybox":
                _add(tf, "bin/" + a, link="busybox")
        _add(tf, "stand-in/entry", ENTRY.encode())
        _add(tf, "www/cgi-bin/metrics", METRICS.encode())
        for k, v in (("version", version), ("revision", revision), ("mode", mode),
                     ("flavour", flavour)):
            _add(tf, "stand-in/" + k, (v + "\n").encode(), 0o644)
    tag = "%s:%s-%s-%s" % (name, version, revision, mode)
    pm.run("import", "--change", 'ENTRYPOINT ["/stand-in/entry"]', tar, tag)
    os.unlink(tar)
    digest = pm.out("image", "inspect", "--format", "{{.Digest}}", tag)
    hexd = digest.split(":", 1)[1]
    return "%s@sha256:%s" % (name, hexd), hexd


def export_image(pm, ref, archive_dir):
    """ref into ARCHIVE_DIR/<hex> (the `dir:` layout the hooks load from,
    STAGGER_CONTAINER_IMAGE_DIR); the copy keeps the manifest, so its digest."""
    hexd = ref.split("@sha256:", 1)[1]
    os.makedirs(archive_dir, exist_ok=True)
    pm.run("push", ref, "dir:" + os.path.join(archive_dir, hexd))
    return os.path.join(archive_dir, hexd)
