#!/bin/sh
# run-fuzzer.sh: one short libFuzzer run, for the 'fuzz-run' test suite.
# Usage: run-fuzzer.sh FUZZER SEED-CORPUS WORK-DIR SECONDS
# New inputs go to WORK-DIR (in the build tree), listed first so libFuzzer
# writes there; the checked-in SEED-CORPUS is only read. A crash is saved as
# WORK-DIR-crash-<sha1> and fails the test.
set -eu
fuzzer=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work-" "$work" "$seeds"
