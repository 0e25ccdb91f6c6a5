#!/usr/bin/env bash
# tests/run.sh: the whole test suite, from a fresh Debian 12 machine.
# Installs what is missing, builds twice (gcc, and gcc with ASan+UBSan),
# runs every test in both, builds the clang libFuzzer targets and runs each
# briefly, and ends with one line "N passed, N failed" counted from meson's results.
# STAGGER_TEST_BUSY=1: a CPU burner on every core, at our own priority, for
# the whole run (the suite must pass on a busy machine; docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

burners=() current= cpu_chain=
stop_burners() {
  local pid
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
  burners=()
}
# A signal stops the step in progress (by PID: meson then ends its tests,
# which clean up after themselves) and the burners at once. Each step runs
# in the background under `wait`, where bash runs a trap immediately; it
# defers one for a foreground command, and drops SIGINT when that command
# exits normally after it (as meson does).
on_signal() {
  if [ -n "$current" ]; then kill -TERM "$current" 2>/dev/null; wait "$current" || true; fi
  if [ -n "$cpu_chain" ]; then kill -TERM "$cpu_chain" 2>/dev/null; wait "$cpu_chain" || true; fi
  stop_burners
  exit "$1"
}
trap stop_burners EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
in_background() { "$@" & current=$!; wait "$current"; local rc=$?; current=; return $rc; }
if [ "${STAGGER_TEST_BUSY:-0}" = 1 ]; then
  for _ in $(seq "$(nproc)"); do
    # Pure CPU; every ~0.1 s it checks that this script is still there, so
    # a burner never outlives a run killed with SIGKILL.
    (trap - INT TERM
     while kill -0 $$ 2>/dev/null; do for ((i = 0; i < 100000; i++)); do :; done; done) &
    burners+=($!)
  done
  echo "STAGGER_TEST_BUSY=1: CPU burners on every core, PIDs ${burners[*]}"
fi

bash deploy/deps.sh

jobs=$(nproc)
setup() { # dir, extra options...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then in_background meson setup --reconfigure "$dir" "$@" >/dev/null
  else in_background meson setup "$dir" "$@" >/dev/null; fi
}

setup build/plain
setup build/asan -Db_sanitize=address,undefined -Db_lundef=false
CC=clang setup build/fuzz -Dfuzz=true -Db_lundef=false -Db_sanitize=address,undefined

status=0
in_background ninja -C build/plain >/dev/null || status=1
in_background ninja -C build/asan >/dev/null || status=1
in_background ninja -C build/fuzz >/dev/null || status=1
[ $status -eq 0 ] || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# meson's timeouts are the backstop behind the fleet tests' own deadlines,
# which scale with the load they measure: give them the same room.
slow=1
[ "${STAGGER_TEST_BUSY:-0}" = 1 ] && slow=3
# Each run's results only: the count at the end reads every testlog*.json.
rm -f build/plain/meson-logs/testlog*.json build/asan/meson-logs/testlog*.json \
  build/fuzz/meson-logs/testlog*.json
# Two chains at once. The suites that only compute (the simulator's seeds
# and scenarios, the mutants, the fuzzers) run at nice 19 in the
# background (tests/nice19.sh, which also lowers each test's autogroup): they fill the CPU the fleet tests leave idle while those wait
# on soaks, deadlines and hooks, and give way at once when a daemon wakes.
# Run after the fleets, one core each, they took about 9 of the 33 minutes.
# Their meson timeouts get room for the minutes the foreground starves
# them: they run in simulated time, so a timeout here is only the backstop
# for a hang (test_gossip took 249 s of its 120 s x 4 in CI-K, and timed
# out at x4 when the ASan fleet was tried beside the plain foreground).
# Each chain has its own meson log base.
cpu_suites() { # tree, timeout multiplier, suites (none: all of the tree's)...
  local tree=$1 mult=$2; shift 2
  local args=() s
  for s in "$@"; do args+=(--suite "$s"); done
  meson test -C "$tree" --no-rebuild --num-processes "$jobs" --print-errorlogs \
    "${wrap[@]}" --timeout-multiplier "$mult" --logbase testlog-cpu \
    "${args[@]}" "${extra[@]}" &
  cur=$!
  wait "$cur"
}
extra=("$@")
start_cpu_chain() { # timeout multipliers: plain and fuzz, ASan
  local plain=$1 asan=$2
  (
    cur=
    trap '[ -n "$cur" ] && kill -TERM "$cur" 2>/dev/null; wait "$cur" 2>/dev/null; exit 143' TERM
    st=0
    cpu_suites build/plain "$plain" sim mutants || st=1
    cpu_suites build/asan "$asan" sim || st=1
    # libFuzzer runs: each target fuzzes briefly over a copy of its corpus.
    cpu_suites build/fuzz "$plain" || st=1
    exit $st
  ) &
  cpu_chain=$!
}
# At nice 19 the chain gets next to nothing while anything else at nice 0
# keeps the cores busy: the foreground here, or another copy of the suite
# and its burners (two clones at once). Its timeouts, only the backstop for
# a hang, allow an hour of that. With our own burners (nice 0) on every
# core the chain runs after the rest instead, at the suite's own priority:
# at nice 19 beside them it crawled (test_commands 364 s, twenty times its
# time beside the foreground).
wrap=()
if [ "${STAGGER_TEST_BUSY:-0}" = 1 ]; then
  chain_mult=("$slow" $((3 * slow)))
else
  wrap=(--wrapper "$PWD/tests/nice19.sh")
  chain_mult=(30 90)
  start_cpu_chain "${chain_mult[@]}"
fi

in_background meson test -C build/plain --no-rebuild --num-processes "$jobs" --print-errorlogs \
  --timeout-multiplier "$slow" --no-suite sim --no-suite mutants "$@" || status=1
# Suites package (build, lint and install the .deb) and containers (a fleet
# on real podman) once, in the plain tree.
in_background meson test -C build/asan --no-rebuild --num-processes "$jobs" --print-errorlogs \
  --timeout-multiplier $((3 * slow)) --no-suite package --no-suite fleet --no-suite containers \
  --no-suite sim "$@" || status=1
# The sanitizers' fleets one at a time: eight ASan daemons already fill two
# cores at start-up, and sixteen starved each other into suspicions (CI
# failed so). Suite fleet-asan: the fleet tests whose daemon and CLI paths no
# other one drives (docs/testing.md, "The ASan fleet"); the plain tree ran
# all of them. Its own log base, so the count below sees both runs.
in_background meson test -C build/asan --no-rebuild --num-processes 1 --print-errorlogs \
  --timeout-multiplier $((3 * slow)) --suite fleet-asan --logbase testlog-fleet "$@" || status=1
[ -n "$cpu_chain" ] || start_cpu_chain "${chain_mult[@]}"
# (bash runs a trap at once during wait, as for in_background.)
wait "$cpu_chain" || status=1
cpu_chain=

/usr/bin/python3 - build/plain build/asan build/fuzz <<'PY'
import glob, json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
  for log in sorted(glob.glob(d + "/meson-logs/testlog*.json")):
    with open(log) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"): passed += 1
            elif r == "SKIP": skipped += 1
            else: failed += 1
line = f"{passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
