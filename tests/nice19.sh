#!/bin/sh
# tests/nice19.sh: run a test at nice 19 (tests/run.sh's compute-only
# chain: meson test --wrapper). meson starts every test in a session of its
# own, and with the kernel's autogroups (sched_autogroup_enabled, on in
# Debian) the scheduler shares the CPU between sessions first: a process's
# own nice counts only inside its session, so `nice -n 19 meson test` left
# each simulator run an equal share beside a fleet test's. Setting the
# session's autogroup to nice 19 too makes it give way to them.
echo 19 >/proc/self/autogroup 2>/dev/null || true
exec nice -n 19 "$@"
