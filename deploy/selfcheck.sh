#!/usr/bin/env bash
# deploy/selfcheck.sh: a walkthrough of stagger's keys and signed documents
# for an 8-node stake pool, in a temporary directory it removes afterwards.
# usage: deploy/selfcheck.sh BUILD_DIR   (called by deploy/demo.sh)
set -euo pipefail
build=$(realpath "${1:?usage: selfcheck.sh BUILD_DIR}")
ctl="$build/node/ctl/staggerctl"
[ -x "$ctl" ] || { echo "selfcheck: $ctl not found; build first: ninja -C $1" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n== %s\n' "$*"; }
show() { printf '$ staggerctl %s\n' "$*"; "$ctl" "$@"; }
# refused CMD...: the command must fail with exit 1 (document refused).
refused() {
    printf '$ staggerctl %s   # must be refused\n' "$*"
    local rc=0
    "$ctl" "$@" 2>&1 || rc=$?
    [ $rc -eq 1 ] || { echo "selfcheck: FAILED: exit $rc, wanted 1 (refused)" >&2; exit 1; }
}

step "1. An operator key (kept offline in real life) and one key per node"
show keygen operator
nodes=(bp standby relay1 relay2 relay3 relay4 dark1 dark2)
for n in "${nodes[@]}"; do "$ctl" keygen "$n" >/dev/null; done
stat -c '  %A %n' operator.key operator.pub
echo "  and ${#nodes[@]} node key pairs: ${nodes[*]}"

step "2. The roster: who is in the pool, in which role and build flavour"
# One line per member: name role flavour port [extra fields]. The standby
# and one dark relay are the holdback pair, updated only after the proof.
member() {
    printf '    {"name": "%s", "key": "%s", "endpoint": "tcp://127.0.0.1:%s", "role": "%s", "flavour": "%s"%s}' \
        "$1" "$(cat "$1.pub")" "$4" "$2" "$3" "${5:-}"
}
{
    cat <<EOF
{
  "fleet": "pool",
  "serial": 1,
  "operators": ["$(cat operator.pub)"],
  "emergency_quorum": 1,
  "observers": [],
  "members": [
EOF
    member bp producer debian 7401; echo ","
    member standby standby nix 7402 ', "holdback": true'; echo ","
    member relay1 relay debian 7403; echo ","
    member relay2 relay nix 7404; echo ","
    member relay3 relay debian 7405; echo ","
    member relay4 relay nix 7406; echo ","
    member dark1 dark-relay debian 7407 ', "holdback": true'; echo ","
    member dark2 dark-relay nix 7408; echo
    cat <<EOF
  ],
  "policy": {
    "batch": 1,
    "soak_s": 86400,
    "unavailable_max": 1,
    "epoch": {"start_s": 1596059091, "length_s": 432000, "proof_epochs": 1, "guard_s": 3600},
    "windows": [{"days": ["mon", "tue", "wed", "thu"], "start": "08:00", "end": "16:00"}],
    "timeouts": {"install_s": 1800, "health_s": 60, "rollback_s": 1800, "gate_s": 60},
    "health_deadline_s": 21600
  }
}
EOF
} >roster.json
sed 's/^/  /' roster.json

step "3. Sign the roster with the operator key, then verify it"
show roster sign --key operator.key roster.json
show roster verify roster.signed

step "4. A release: one artifact per flavour, pinned by digest"
digest=$(printf 'cardano-node 10.5.3' | sha256sum | cut -d' ' -f1)
cat >release.json <<EOF
{
  "component": "cardano-node",
  "version": "10.5.3",
  "created_at": $(date +%s),
  "artifacts": {
    "debian": {"url": "https://packages.example.org/cardano-node_10.5.3_amd64.deb", "sha256": "$digest"},
    "nix": {"image": "registry.example.org/cardano-node@sha256:$digest"}
  }
}
EOF
show release sign --key operator.key --roster roster.signed release.json
show release verify --roster roster.signed release.signed

step "5. Tampering is caught: change one byte of the signed roster's payload"
cp roster.signed tampered.signed
# Rename the fleet "pool" -> "qool": still valid JSON, so only the
# signature can catch it.
at=$(grep -obUa '"pool"' tampered.signed | head -n1 | cut -d: -f1)
printf 'q' | dd of=tampered.signed bs=1 seek=$((at + 1)) conv=notrunc status=none
refused roster verify tampered.signed
step "   ... and a node key cannot stand in for the operator's"
refused release sign --key bp.key --roster roster.signed -o forged.signed release.json

printf '\nselfcheck: keys, roster and release signed and verified; tampering refused.\n'
