#!/usr/bin/env bash
# deploy/deps.sh: install the Debian 12 packages stagger builds and tests with.
# Idempotent and quiet when everything is present; needs root only when
# something is missing.
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
      libzmq3-dev libstdc++-12-dev libsodium-dev libjansson-dev libuv1-dev libcmocka-dev
      libmicrohttpd-dev  # the metrics endpoint (node/shell/metrics.c)
      prometheus  # promtool: the metrics text (tests/fleet/test_metrics.py)
      tmux  # staggerctl watch on a terminal (tests/fleet/test_watch.py)
      chromium  # the status page in a browser (tests/fleet/test_page.py)
      python3 python3-nacl python3-zmq iproute2 procps iptables curl
      faketime libfaketime  # clock skew (tests/fleet/test_clock_skew.py)
      # real containers, runc (crun fails on these kernels) and a static
      # busybox for the stand-in images (tests/deploy/test_container_hooks.py,
      # tests/fleet/test_container_fleet.py)
      podman runc busybox-static
      groff-base man-db mandoc bsdextrautils  # manual page checks (tests/deploy/test_man.sh)
      nix-bin ansible-core ansible-lint  # deploy/nix and deploy/ansible (tests/deploy/)
      dpkg-dev debhelper lintian systemd util-linux)  # suite package (tests/package/test_deb.sh)
[ "${STAGGER_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$STAGGER_DEPS_EXTRA" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "stagger: missing Debian packages: ${missing[*]}" >&2
  echo "stagger: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "stagger: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
