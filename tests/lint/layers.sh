#!/usr/bin/env bash
# layers.sh: prove the core's modules never call up. Each object file of
# the archives given is a module, placed on a layer below; a module may use
# what a module on a lower layer defines, never one on its own layer or
# above (what a module needs from above, core.c routes to it: see
# docs/architecture.md, "The layers of the core"). The call graph comes
# from the objects' symbols: every undefined symbol one object takes from
# another. A module missing from the table fails too, so a new file has
# to be placed, in review.
set -euo pipefail

# module layer (higher calls lower)
layers='
core      9
command   8
members   8
rollout   8
executor  7
election  6
release   5
swim      5
journal   4
lifeguard 4
gossip    3
peers     2
status    2
fork      2
roles     2
selftest  2
emit      1
policy    1
names     0
rng       0
upcall    0
'
# upcall: tests/lint/upcall.c, the self-test (purity-catches-impure's twin):
# it sits on the bottom layer and calls the executor, so the test
# layers-catch-upcall must see this lint fail.

# Known upward calls, to remove: each is "caller callee symbol". An entry
# no longer needed fails the lint, so the list only shrinks; a new upward
# call is not added here but routed through core.c. Empty since gossip.c
# reports what a record means (stg__record_take) and the journal is read
# back in parts that core.c hands to their owners (stg_journal_t).
known='
'

nm -A -P -g "$@" | awk -v layers="$layers" -v known="$known" '
function module(f) {
    sub(/\]:$/, "", f); sub(/^.*\[/, "", f); sub(/^.*\//, "", f); sub(/(\.c)?\.o(bj)?$/, "", f)
    return f
}
BEGIN {
    n = split(layers, l, "\n")
    for (i = 1; i <= n; i++)
        if (split(l[i], f, " ") == 2) { level[f[1]] = f[2]; mods[++nmods] = f[1] }
    n = split(known, l, "\n")
    for (i = 1; i <= n; i++)
        if (split(l[i], f, " ") == 3) { k = f[1] " " f[2] " " f[3]; allowed[k] = 1; keys[++nkeys] = k }
}
{
    m = module($1)
    seen[m] = 1
    if ($3 == "U") ref[++nref] = m " " $2
    else def[$2] = m
}
END {
    t = 0; status = 0
    for (i = 1; i <= nref; i++) {
        split(ref[i], f, " ")
        from = f[1]; sym = f[2]; to = def[sym]
        if (to == "" || to == from) continue
        if (!(from in level) || !(to in level)) continue
        if (level[to] < level[from]) continue
        key = from " " to " " sym
        if (key in allowed) { used[key] = 1; continue }
        bad[from] = bad[from] "#   " from " (layer " level[from] ") -> " to " (layer " level[to] "): " sym "\n"
    }
    for (m in seen)
        if (!(m in level)) {
            printf "not ok %d - %s is on no layer: place it in tests/lint/layers.sh\n", ++t, m
            status = 1
        }
    for (i = 1; i <= nmods; i++) {
        m = mods[i]
        if (!(m in seen)) continue
        t++
        if (m in bad) {
            printf "not ok %d - %s calls up:\n%s", t, m, bad[m]
            status = 1
        } else {
            printf "ok %d - %s (layer %d) calls only below it\n", t, m, level[m]
        }
    }
    for (i = 1; i <= nkeys; i++) {
        k = keys[i]
        t++
        if (k in used) {
            printf "ok %d - known upward call, to remove: %s\n", t, k
        } else {
            printf "not ok %d - known upward call no longer made: delete \"%s\" from the list\n", t, k
            status = 1
        }
    }
    printf "1..%d\n", t
    exit status
}'
