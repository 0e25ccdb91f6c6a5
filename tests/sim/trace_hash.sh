#!/usr/bin/env bash
# trace_hash.sh: has a change of code left the core's behaviour byte for byte
# the same? Runs fixed simulator seeds and the cmocka scenarios, hashes every
# action every core produced (sim_trace_hash), and compares with the hashes
# recorded in tests/sim/trace/ before the change. A refactoring that only moves
# code must pass it unchanged; a change of behaviour re-records on purpose:
#
#   tests/sim/trace_hash.sh BUILD_DIR           compare (the test)
#   tests/sim/trace_hash.sh BUILD_DIR --record  write tests/sim/trace/*.txt anew
set -euo pipefail
build=$(cd "$1" && pwd)
mode=${2:-compare}
here=$(cd "$(dirname "$0")" && pwd)
sim=$build/tests/sim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hashes() { # name, command...
    local name=$1; shift
    # Its verdicts are the other sim tests' business: only the hashes count here.
    "$@" > "$work/$name.out" || true
    grep -E '^seed [0-9]+ [0-9a-f]{32}$' "$work/$name.out" > "$work/$name.txt" || true
}
scenarios() { # the cmocka program's scenarios, one hash per simulated fleet
    rm -f "$work/$1.txt"
    STG_SIM_TRACE_HASH="$work/$1.txt" "$sim/$1" > "$work/$1.out" 2>&1 || true
}

hashes seeds-all "$sim/stagger-sim" --seeds 1..300 --quiet --trace-hash
hashes seeds-net "$sim/stagger-sim" --seeds 1..60 --faults net --quiet --trace-hash
hashes seeds-partners-4 "$sim/stagger-sim" --seeds 1..100 --partners 4 --quiet --trace-hash
scenarios test_rollout
scenarios test_commands
scenarios test_gossip

status=0
for f in "$work"/*.txt; do
    name=$(basename "$f")
    if [ "$mode" = --record ]; then
        cp "$f" "$here/trace/$name"
        echo "recorded $(wc -l < "$f") hashes in tests/sim/trace/$name"
    elif [ ! -s "$f" ]; then
        echo "not ok: $name: no hashes were produced"; status=1
    elif ! diff -q "$here/trace/$name" "$f" >/dev/null; then
        echo "not ok: $name: the action trace changed:"
        diff "$here/trace/$name" "$f" | head -20 || true
        status=1
    else
        echo "ok: $name: $(wc -l < "$f") traces byte-identical"
    fi
done
exit $status
