#!/usr/bin/env bash
# tests/run.sh: the whole test suite, from a fresh Debian 12 machine.
# Installs what is missing, builds twice (gcc, and gcc with ASan+UBSan),
# runs every test in both, builds the clang libFuzzer targets and runs each
# briefly, and ends with one line "N passed, N failed" counted from meson's results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/deps.sh

jobs=$(nproc)
setup() { # dir, extra options...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
}

setup build/plain
setup build/asan -Db_sanitize=address,undefined -Db_lundef=false
CC=clang setup build/fuzz -Dfuzz=true -Db_lundef=false -Db_sanitize=address,undefined

status=0
ninja -C build/plain >/dev/null || status=1
ninja -C build/asan >/dev/null || status=1
ninja -C build/fuzz >/dev/null || status=1
[ $status -eq 0 ] || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C build/plain --num-processes "$jobs" --print-errorlogs "$@" || status=1
# Suite package (build, lint and install the .deb) once, in the plain tree.
meson test -C build/asan --num-processes "$jobs" --print-errorlogs --timeout-multiplier 3 \
  --no-suite package "$@" || status=1
# libFuzzer runs: each target fuzzes briefly over a copy of its corpus.
meson test -C build/fuzz --num-processes "$jobs" --print-errorlogs "$@" || status=1

/usr/bin/python3 - build/plain build/asan build/fuzz <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    with open(d + "/meson-logs/testlog.json") as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"): passed += 1
            elif r == "SKIP": skipped += 1
            else: failed += 1
line = f"{passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
