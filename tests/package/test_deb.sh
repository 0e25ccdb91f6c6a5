#!/usr/bin/env bash
# test_deb.sh: build the Debian package with deploy/debian/build.sh
# (dpkg-buildpackage -us -uc -b), check it with lintian (no errors), install
# it with apt-get into a throwaway root (an overlay of / in a private mount
# namespace: the host is not touched) and check what landed there, then
# verify the installed unit with systemd-analyze and purge the package.
# usage: test_deb.sh OUTDIR VERSION   (prints TAP; needs root, else skips)
# STAGGER_DEB_REUSE=1 takes the package already in OUTDIR instead of
# building it (to iterate on the install checks).
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
if [ -z "${STAGGER_DEB_REUSE:-}" ]; then
    rm -f "$OUT"/stagger*.deb "$OUT"/stagger*.changes "$OUT"/stagger*.buildinfo
    # nocheck: the package's own test run (unit, cli) is what the other suites run.
    run 0 "deploy/debian/build.sh builds the package (dpkg-buildpackage -us -uc -b)" -- \
        env DEB_BUILD_OPTIONS=nocheck bash "$SRC/deploy/debian/build.sh" "$OUT"
fi
DEB=$OUT/stagger_${VERSION}_$(dpkg --print-architecture).deb
check "it made $(basename "$DEB")" test -s "$DEB"
check "... with its debug symbols" bash -c 'ls "$1"/stagger-dbgsym_*.*deb >/dev/null' _ "$OUT"

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
    bash -c 'has -rw-r--r-- "$0/common.sh" && has -rw-r--r-- "$0/cardano_hooklib.py" &&
             has -rw-r--r-- "$1/os-debian/common.sh" && has -rw-r--r-- "$1/stagger/common.sh"' \
    "$hooks" /usr/libexec/stagger/hooks
cthooks=/usr/libexec/stagger/hooks/cardano-node-container
check "the container hooks: executable, container.sh sourced, gate the host gate" \
    bash -c 'for h in health install rollback; do has -rwxr-xr-x "$0/$h" || exit 1; done
             has -rw-r--r-- "$0/container.sh" && grep -q "^lrwxrwxrwx $0/gate\$" contents' \
    "$cthooks"
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
drop_root() {
    umount -R "$R" 2>/dev/null
}
trap 'drop_root; rmdir "$R"; [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"' EXIT
# make_root: a fresh throwaway root at $F.
make_root() {
    drop_root
    mount -t tmpfs tmpfs "$R" && mkdir "$R/upper" "$R/work" "$F"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$F"
    mount -t proc proc "$F/proc"
    mount -t tmpfs -o mode=755 tmpfs "$F/dev"
    local node name major minor
    for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r name major minor <<<"$node"
        mknod -m 666 "$F/dev/$name" c "$major" "$minor"
    done
    mkdir "$F/dev/pts" "$F/dev/shm" && mount -t tmpfs -o mode=1777 tmpfs "$F/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$F/dev/pts"
    ln -s pts/ptmx "$F/dev/ptmx" && ln -s /proc/self/fd "$F/dev/fd"
    mount -t tmpfs tmpfs "$F/tmp" && mount -t tmpfs tmpfs "$F/run"
}
make_root
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

# ---- the Ansible role, run inside a fresh throwaway root with a local
# connection: the package installed, key, roster and config in place with
# the right owners and modes, --check-config passed, the unit enabled.
make_root
in_root useradd --system --user-group --shell /bin/sh cardano
mkdir "$F/tmp/site" && cp -r "$SRC/deploy/ansible/." "$F/tmp/site/"
cp "$DEB" "$F/tmp/site/"
# The operator's side, with the packaged staggerctl: keys and a signed roster.
dpkg-deb -x "$DEB" pkg
CTL=$T/pkg/usr/bin/staggerctl
( mkdir "$F/tmp/site/keys" && cd "$F/tmp/site/keys" &&
  for k in ops p1 s1 r1 d1; do "$CTL" keygen $k >/dev/null; done &&
  roster roster.json 1 ops && "$CTL" roster sign --key ops.key -o ../roster.signed roster.json >/dev/null &&
  cp r1.key relay1.key )
check "the controller side: relay1's key and a signed roster" test -s "$F/tmp/site/roster.signed"
# The play targets group "stagger": put localhost in it.
printf '[stagger]\nlocalhost\n' >"$F/tmp/site/hosts.ini"
play() {
    in_root env ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_NOCOLOR=1 ansible-playbook \
        -i /tmp/site/hosts.ini -c local /tmp/site/site.yml -e ansible_become_method=su \
        -e "stagger_node=relay1 stagger_deb=/tmp/site/$(basename "$DEB")" -e '{"stagger_start": false}' \
        -e "stagger_key_src=/tmp/site/keys/relay1.key stagger_roster_src=/tmp/site/roster.signed"
}
run 0 "ansible-playbook site.yml (role stagger) runs in the throwaway root" -- play
sed -n '/PLAY RECAP/,$p' out | sed 's/^/# /'
run 0 "... it installed the package" -- in_root dpkg -s stagger
# mode_of PATH: "mode owner group" of PATH inside the root.
mode_of() { in_root stat -c '%a %U %G' "$1"; }
check "/etc/stagger: 750 root:cardano" test "$(mode_of /etc/stagger)" = "750 root cardano"
check "the node key: 600, owned by cardano" test "$(mode_of /etc/stagger/relay1.key)" = "600 cardano cardano"
check "... the very key given" cmp -s "$F/tmp/site/keys/relay1.key" "$F/etc/stagger/relay1.key"
check "the roster: 644 root:cardano" test "$(mode_of /etc/stagger/roster.signed)" = "644 root cardano"
check "the config: 640 root:cardano" test "$(mode_of /etc/stagger/staggerd.json)" = "640 root cardano"
run 0 "the config it wrote passes staggerd --check-config, as cardano" -- \
    in_root su -s /bin/sh -c "staggerd --config /etc/stagger/staggerd.json --check-config" cardano
check "... node relay1, hooks executable" grep -q "ok: node relay1 of fleet pool .*hooks executable" out
run 0 "the unit is enabled" -- in_root systemctl is-enabled staggerd
run 0 "a second run changes nothing" -- play
check "... changed=0" grep -qE "localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0" out

tap_end
