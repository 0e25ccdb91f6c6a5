#!/usr/bin/env bash
# tests/bench/run.sh: issue 3's gossip benchmarks, stagger beside Serf.
#
# Builds staggerd and staggerctl in build/bench (meson, buildtype release),
# then runs tests/bench/bench_gossip.py for N = 8 32 64: per N, stagger's
# idle minute and kill -9 (default tuning), its dissemination trials, and
# then ../shared/bench/serf/serf_bench.sh N lan, one after the other (never
# at the same time), and prints one table of figures and stagger/serf
# ratios. Takes about 25-30 minutes; nothing here asserts on timings.
#
# usage: tests/bench/run.sh [bench_gossip.py options]
#   e.g. tests/bench/run.sh --n 8 --trials 5 --idle-s 20 --no-serf
# Results: --out DIR (default /tmp/stagger-bench/<time>), with summary.json,
# table.txt, every daemon's log and Serf's own run directory.
# Installs the Debian package `serf` with apt-get when it is missing and
# --no-serf is not given. See docs/benchmarks.md for the method.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build/bench"
cd "$root"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype release
fi
# Only what the benchmark runs: the rest of the tree may be mid-edit.
ninja -C "$build" node/shell/staggerd node/ctl/staggerctl
case " $* " in
*" --no-serf "*) ;;
*)
    if ! command -v serf >/dev/null; then
        echo "run.sh: installing serf (apt-get install -y serf)" >&2
        apt-get install -y serf
    fi
    ;;
esac
exec /usr/bin/python3 "$root/tests/bench/bench_gossip.py" --build "$build" "$@"
