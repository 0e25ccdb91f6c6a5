#!/usr/bin/env bash
# test_daemon.sh: staggerd's command line: --version, usage errors and their
# exit codes, --check-config, and its log lines (journald priorities).
# usage: test_daemon.sh STAGGERD STAGGERCTL VERSION   (prints TAP)
set -uo pipefail
D=$(realpath "$1")
CTL=$(realpath "$2")
VERSION=$3
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/tap.sh"

# ---- version
run 0 "staggerd --version" -- "$D" --version
check "--version names the meson project version and the git revision when built from git" \
    version_ok staggerd out

# ---- usage
run 0 "staggerd --help" -- "$D" --help
check "--help documents options, signals, exit codes (2 a usage error) and an example" \
    grep -qz "usage: staggerd --config FILE.*options:.*signals:.*exit codes:.*  2  usage error.*example:
  staggerd --config" out
check "--help lists exit codes 0 to 3, once" \
    test "$(sed -n '/^exit codes:/,/^$/p' out | grep '^  [0-9]  ' | cut -c3 | tr -d '\n')" = 0123
run 2 "no --config is a usage error" "usage: staggerd" -- "$D"
run 2 "an unknown option is a usage error" "usage: staggerd" -- "$D" --frobnicate
run 2 "an extra argument is a usage error" "usage: staggerd" -- "$D" --config x.json extra
check "docs/operations.md lists staggerd's exit codes as --help does" \
    bash -c 'sed -n "/^exit codes:/,/^\$/p" out | grep "^  [0-9]" | while IFS= read -r l; do
        grep -qxF -- "    $l" "$1" || { echo "# docs lack: $l"; exit 1; }; done' _ "$SRC/docs/operations.md"

# ---- a one-node setup: relay1 of a four-member roster whose other members
# never run
for k in ops p1 s1 r1 d1; do "$CTL" keygen $k >/dev/null || echo "# keygen $k failed"; done
# Four ports free now (relay1 listens on the third; the rest stay silent).
mapfile -t PORTS < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])')
roster roster.json 1 ops
"$CTL" roster sign --key ops.key roster.json >/dev/null || echo "# roster sign failed"
# config [LOG_LEVEL [HOOKS_JSON]]: write relay1's config to staggerd.json
config() {
    cat >staggerd.json <<EOC
{"key": "$T/r1.key", "roster": "$T/roster.signed", "state_dir": "$T/state", "log_level": "${1:-info}", "hooks": ${2:-{\}}}
EOC
}
config

pid=
stop_daemon() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; fi
}
trap 'stop_daemon; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
# start_daemon [ENV...]: staggerd in the background, stderr to log.
start_daemon() {
    : >log
    env "$@" "$D" --config staggerd.json 2>>log &
    pid=$!
}
# wait_log PATTERN: poll the log for an extended regex, 10 s at most.
wait_log() {
    local deadline=$((SECONDS + 10))
    while [ $SECONDS -lt $deadline ]; do
        grep -Eq -- "$1" log && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    grep -Eq -- "$1" log && return 0
    echo "# log lacks /$1/:"; sed 's/^/# log: /' log | tail -20
    return 1
}

printf '#!/bin/sh\necho version=10.5.2\n' >health && chmod 755 health
# log_none REGEX / log_all REGEX: no line / every line of the log matches
# (the lines that break the rule are shown).
log_none() { ! grep -En -- "$1" log | sed 's/^/# unwanted: /' | grep .; }
log_all() { ! grep -Evn -- "$1" log | sed 's/^/# unwanted: /' | grep .; }

# ---- journald: JOURNAL_STREAM names stderr, so lines carry <N> and no timestamp
config debug '{"health": "'"$T"'/health"}'
: >log
stream=$(stat -c %d:%i log)
start_daemon JOURNAL_STREAM="$stream"
check "with JOURNAL_STREAM, info lines start <6>" wait_log '^<6>relay1 INFO +\[shell\] node relay1 .*listening'
check "debug lines start <7>" wait_log '^<7>relay1 DEBUG'
echo '{' >roster.bad && cp roster.signed roster.good && cp roster.bad roster.signed
kill -HUP "$pid"
check "warning lines start <4>" wait_log '^<4>relay1 WARN +\[roster\] SIGHUP: keeping the current roster'
cp roster.good roster.signed
stop_daemon
check "every line has a priority prefix and no timestamp of its own" \
    log_all '^<[3467]>relay1 (ERROR|WARN |INFO |DEBUG) \[' 
config info
start_daemon JOURNAL_STREAM="$stream"
check "an info-level daemon writes no <7> lines" wait_log '^<6>relay1 INFO +\[shell\] node relay1 .*listening'
stop_daemon
check "... and no debug lines" log_none '^<7>'
: >err
env JOURNAL_STREAM="$(stat -c %d:%i err)" "$D" --config nosuch.json 2>>err >out
check "a fatal start-up error is <3>" grep -q '^<3>staggerd: nosuch.json: cannot open' err

start_daemon JOURNAL_STREAM="1:1"
check "a JOURNAL_STREAM naming another stream is ignored: timestamps, no prefix" \
    wait_log '^20[0-9-]+T[0-9:.]+Z relay1 INFO +\[shell\] node relay1'
stop_daemon
check "... on every line" log_none '^<'

# ---- staggerctl status exit codes against this one live member: the
# others never answer, so the fleet is degraded (1); halted it is 4.
status() { "$CTL" status --key ops.key --roster roster.signed --timeout-ms 2000 "$@"; }
start_daemon
wait_log 'listening on' >/dev/null
run 1 "status of a fleet with unknown members exits 1 (degraded)" -- status --peer relay1
check "... and says so" grep -q "fleet degraded\$" out
run 0 "emergency halt through relay1" -- \
    "$CTL" emergency halt --key ops.key --roster roster.signed --peer relay1 --reason test
run 4 "status while the rollout is halted exits 4, not 0 or 1" -- status --peer relay1
check "... and its last line says the rollout is halted" grep -q "fleet degraded, rollout halted\$" out
run 4 "status --json exits 4 too" -- status --peer relay1 --json
check "... with rollout.halted true" grep -q '"halted": *true' out
run 0 "emergency resume through relay1" -- \
    "$CTL" emergency resume --key ops.key --roster roster.signed --peer relay1
run 1 "status after resume: back to 1 (degraded)" -- status --peer relay1
run 2 "status when no peer answers exits 2" "bp .*no answer" -- \
    "$CTL" status --key ops.key --roster roster.signed --peer bp --timeout-ms 300
run 2 "status with a usage error exits 2" "needs --key and --roster" -- "$CTL" status --peer relay1
run 3 "status with a missing key file exits 3" "nosuch.key" -- \
    "$CTL" status --key nosuch.key --roster roster.signed --peer relay1
cp roster.signed t.signed && printf x >>t.signed
run 3 "status with a roster that does not verify exits 3 (1 would read as degraded)" "t.signed" -- \
    "$CTL" status --key ops.key --roster t.signed --peer relay1
stop_daemon

tap_end
