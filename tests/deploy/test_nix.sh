#!/usr/bin/env bash
# test_nix.sh: deploy/nix parses (nix-instantiate --parse, Debian's nix-bin;
# building needs nixpkgs, which the test machines lack), the derivation has
# meson's version, and the NixOS module carries every setting of the
# Debian unit's [Service] section, so the two sandboxes cannot drift apart.
# usage: test_nix.sh VERSION   (prints TAP; skips without nix-instantiate)
set -uo pipefail
VERSION=$1
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../cli/tap.sh"
if ! command -v nix-instantiate >/dev/null; then
    echo "1..0 # SKIP nix-instantiate (Debian package nix-bin) not installed"
    exit 0
fi
# No nix daemon or build users here: parsing needs neither.
export NIX_CONFIG="build-users-group ="
NIX=$SRC/deploy/nix

for f in default.nix package.nix module.nix; do
    run 0 "nix-instantiate --parse deploy/nix/$f" -- nix-instantiate --parse "$NIX/$f"
    check "... without a warning" test ! -s err
done
{ cat "$NIX/module.nix"; echo "{"; } >broken.nix
run 1 "... and a broken copy does not parse" "error" -- nix-instantiate --parse broken.nix
check "package.nix builds version $VERSION (meson.build's)" \
    grep -q "^  version = \"$VERSION\";" "$NIX/package.nix"

unit=$SRC/deploy/systemd/staggerd.service
sed -n '/^\[Service\]/,/^\[/p' "$unit" | grep -E '^[A-Za-z]+=' | cut -d= -f1 | sort -u >keys
check "the unit's [Service] section has its hardening (over 20 settings)" test "$(wc -l <keys)" -gt 20
# ExecReload is the module's reload = ...; every other key is in serviceConfig.
check "module.nix sets every [Service] setting of staggerd.service" \
    bash -c 'while read -r k; do
        [ "$k" = ExecReload ] && k=reload
        grep -qE "^ +$k = " "$1" || { echo "# module.nix lacks $k"; exit 1; }
    done <keys' _ "$NIX/module.nix"
for k in NoNewPrivileges ProtectSystem PrivateDevices RestrictNamespaces SystemCallFilter; do
    want=$(sed -n "s/^$k=//p" "$unit")
    check "module.nix: $k as in the unit ($want)" \
        grep -qE "^ +$k = (\"$want\"|\[ \"$want\" \]|$( [ "$want" = yes ] && echo true || echo x));" "$NIX/module.nix"
done

tap_end
