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

# ---- a one-node setup: relay1 of a four-member roster whose other members
# never run
for k in ops p1 s1 r1 d1; do "$CTL" keygen $k >/dev/null || echo "# keygen $k failed"; done
roster roster.json 1 ops
"$CTL" roster sign --key ops.key roster.json >/dev/null || echo "# roster sign failed"
# config [LOG_LEVEL [HOOKS_JSON]]: write relay1's config to staggerd.json
config() {
    cat >staggerd.json <<EOC
{"key": "$T/r1.key", "roster": "$T/roster.signed", "listen": "tcp://127.0.0.1:*",
 "state_dir": "$T/state", "log_level": "${1:-info}", "hooks": ${2:-{\}}}
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

tap_end
