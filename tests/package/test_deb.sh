#!/usr/bin/env bash
# test_deb.sh: build the Debian package with deploy/debian/build.sh
# (dpkg-buildpackage -us -uc -b), check it with lintian (no errors), install
# it with apt-get into a throwaway root (an overlay of / in a private mount
# namespace: the host is not touched) and check what landed there, then
# verify the installed unit with systemd-analyze and purge the package.
# usage: test_deb.sh OUTDIR VERSION   (prints TAP; needs root, else skips)
set -uo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP needs root (mount, chroot)"; exit 0; fi
# Every mount below dies with this namespace, also when the test fails.
if [ -z "${STAGGER_TEST_NS:-}" ]; then
    exec unshare -m --propagation private env STAGGER_TEST_NS=1 bash "$0" "$@"
fi
OUT=$(mkdir -p "$1" && realpath "$1")
VERSION=$2
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../cli/tap.sh"

# ---- build
rm -f "$OUT"/stagger*.deb "$OUT"/stagger*.changes "$OUT"/stagger*.buildinfo
# nocheck: the package's own test run (unit, cli) is what the other suites run.
run 0 "deploy/debian/build.sh builds the package (dpkg-buildpackage -us -uc -b)" -- \
    env DEB_BUILD_OPTIONS=nocheck bash "$SRC/deploy/debian/build.sh" "$OUT"
DEB=$OUT/stagger_${VERSION}_$(dpkg --print-architecture).deb
check "it made $(basename "$DEB")" test -s "$DEB"
check "... with its debug symbols" bash -c 'ls "$1"/stagger-dbgsym_*.*deb' _ "$OUT"

# ---- lintian
run 0 "lintian --fail-on error: no errors" -- \
    lintian --fail-on error "$OUT"/stagger_"$VERSION"_*.changes
sed 's/^/# lintian: /' out

# ---- contents
dpkg-deb -c "$DEB" | awk '{print $1, $6}' | sed 's| \./| /|' >contents
has() { # MODE PATH: the package holds PATH with permissions MODE (ls -l style)
    grep -qxF -- "$1 $2" contents || { echo "# no $1 $2"; return 1; }
}
export -f has
check "binaries in /usr/bin" bash -c 'has -rwxr-xr-x /usr/bin/staggerd && has -rwxr-xr-x /usr/bin/staggerctl'
hooks=/usr/libexec/stagger/hooks/cardano-node
check "the four cardano-node hooks, executable, where staggerd.json.example points" \
    bash -c 'for h in health install rollback gate; do has -rwxr-xr-x "$0/$h" || exit 1; done' "$hooks"
check "the hooks' sourced helpers, not executable" \
    bash -c 'has -rw-r--r-- "$0/common.sh" && has -rw-r--r-- "$0/cardano_hooklib.py"' "$hooks"
check "the systemd unit" has -rw-r--r-- /usr/lib/systemd/system/staggerd.service
check "the manual pages" \
    bash -c 'has -rw-r--r-- /usr/share/man/man8/staggerd.8.gz && has -rw-r--r-- /usr/share/man/man1/staggerctl.1.gz'
check "bash completion for both commands" \
    bash -c 'has -rw-r--r-- /usr/share/bash-completion/completions/staggerctl &&
             grep -q "^lrwxrwxrwx /usr/share/bash-completion/completions/staggerd" contents'
ex=/usr/share/doc/stagger/deploy
check "example config, hook settings, polkit rule and cardano-node drop-in" \
    bash -c 'for f in staggerd.json.example cardano-node.env.example stagger-cardano-node.rules stagger.conf; do
                 has -rw-r--r-- "$0/$f" || exit 1; done' "$ex"
export -f has

# ---- install into a throwaway root: an overlay over / (writes go to a tmpfs)
# Nothing of the host is mounted inside it (its own proc, a private /dev with
# a few nodes, a new devpts instance), and everything is unmounted before the
# scratch directory is removed: a recursive delete must never reach a host
# file system through a bind mount.
R=$(mktemp -d /tmp/stagger-deb-root.XXXXXX)
F=$R/fs
cleanup_root() {
    umount -R "$R" 2>/dev/null
    rmdir "$R" 2>/dev/null
}
trap 'cleanup_root; [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"' EXIT
mount -t tmpfs tmpfs "$R" && mkdir "$R/upper" "$R/work" "$F"
mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$F"
mount -t proc proc "$F/proc"
mount -t tmpfs -o mode=755 tmpfs "$F/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 666 "$F/dev/$name" c "$major" "$minor"
done
mkdir "$F/dev/pts" && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$F/dev/pts"
ln -s pts/ptmx "$F/dev/ptmx" && ln -s /proc/self/fd "$F/dev/fd"
mount -t tmpfs tmpfs "$F/tmp" && mount -t tmpfs tmpfs "$F/run"
cp "$DEB" "$F/tmp/"
in_root() { chroot "$F" "$@"; }
check "the throwaway root does not have stagger yet" bash -c '! chroot "$0" dpkg -s stagger >/dev/null 2>&1' "$F"
run 0 "apt-get install ./$(basename "$DEB") in the throwaway root" -- \
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "/tmp/$(basename "$DEB")"
run 0 "dpkg says it is installed" -- in_root dpkg -s stagger
check "... version $VERSION" grep -qx "Version: $VERSION" out
run 0 "the installed staggerd runs" -- in_root staggerd --version
check "... and says version $VERSION" grep -qx "staggerd $VERSION" out
run 0 "the installed staggerctl runs" -- in_root staggerctl --version
run 0 "man finds staggerd(8)" -- in_root man -w staggerd
run 0 "man finds staggerctl(1)" -- in_root man -w staggerctl
run 1 "the installed example config passes every check up to its (absent) node key" \
    "/etc/stagger/relay1.key: cannot open secret key" -- \
    in_root staggerd --config "$ex/staggerd.json.example" --check-config
check "the host is untouched" test ! -e /usr/bin/staggerd -o -n "$(dpkg -s stagger 2>/dev/null)"

# ---- the unit
unit=/usr/lib/systemd/system/staggerd.service
run 0 "systemd-analyze verify of the installed unit" -- in_root systemd-analyze verify "$unit"
check "... says nothing" bash -c '! test -s err'
sed 's|^ExecStart=/usr/bin/staggerd|ExecStart=/usr/bin/no-such-staggerd|' "$F$unit" >"$F/tmp/broken.service"
run 1 "... and would catch a unit whose ExecStart is missing" "no-such-staggerd" -- \
    in_root systemd-analyze verify /tmp/broken.service
run 1 "the package leaves the unit disabled (it needs a config, key and roster first)" -- \
    in_root systemctl is-enabled staggerd
check "... systemctl says disabled" grep -qx disabled out

# ---- removal
run 0 "apt-get purge stagger" -- in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y stagger
check "the binaries and the unit are gone" bash -c '! test -e "$0/usr/bin/staggerd" && ! test -e "$0$1"' "$F" "$unit"

tap_end
