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
{"key": "$T/r1.key", "roster": "$T/roster.signed", "tuning": {"health_interval_ms": 300}, "state_dir": "$T/state", "log_level": "${1:-info}", "hooks": ${2:-{\}}}
EOC
}
config

pid=
stop_daemon() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; fi
}
trap 'stop_daemon; [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"' EXIT
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

# ---- --check-config: every configured hook must exist and be executable
mkdir hooks && cp health hooks/health && cp health hooks/install && cp health hooks/gate
printf '#!/bin/sh\nexit 0\n' >hooks/rollback && chmod 755 hooks/*
H=$T/hooks
all_hooks='{"health": "'"$H"'/health", "install": "'"$H"'/install", "rollback": "'"$H"'/rollback", "gate": "'"$H"'/gate"}'
config info "$all_hooks"
run 0 "--check-config with four executable hooks" -- "$D" --config staggerd.json --check-config
check "... says ok, hooks checked" grep -q "staggerd.json: ok: node relay1 of fleet pool .*hooks executable" out
rm hooks/install
run 1 "--check-config: a hook that does not exist" \
    "^staggerd: staggerd.json: hooks.install: $H/install: No such file or directory; install the hook there or correct the path\$" -- \
    "$D" --config staggerd.json --check-config
check "... and no ok" test ! -s out
cp health hooks/install && chmod 644 hooks/install
run 1 "--check-config: a hook that is not executable, with the chmod that fixes it" \
    "^staggerd: staggerd.json: hooks.install: $H/install: not executable; fix with: chmod \+x $H/install\$" -- \
    "$D" --config staggerd.json --check-config
chmod 755 hooks/install && mv hooks/gate hooks/gate.real && mkdir hooks/gate
run 1 "--check-config: a hook path that is a directory" \
    "hooks.gate: $H/gate: not a regular file" -- "$D" --config staggerd.json --check-config
rm hooks/health
run 1 "--check-config names every bad hook, one line each" "hooks.health: .*No such file" -- \
    "$D" --config staggerd.json --check-config
check "... two lines for two bad hooks" test "$(wc -l <err)" = 2
ln -s gate.real hooks/gate2
config info '{"gate": "'"$H"'/gate2"}'
run 0 "--check-config: a symlink to an executable hook is fine" -- \
    "$D" --config staggerd.json --check-config
config info '{"install": "'"$H"'/nosuch"}'
start_daemon
check "at start a missing hook is an ERROR naming it; the daemon carries on" \
    wait_log "ERROR \[hook\] staggerd.json: hooks.install: $H/nosuch: No such file"
check "... and listens" wait_log 'listening on'

# ---- SIGHUP re-reads the log level and the hooks; the rest needs a restart
rmdir hooks/gate && mv hooks/gate.real hooks/gate && cp health hooks/health
config debug "$all_hooks"
sed -i 's/"state_dir"/"component": "other-node", "state_dir"/' staggerd.json
kill -HUP "$pid"
check "SIGHUP: the new log level and hooks are taken" \
    wait_log "INFO +\[shell\] SIGHUP: re-read .*staggerd.json: log level debug, hooks health=$H/health install=$H/install"
check "... debug lines follow" wait_log 'DEBUG'
check "... the new health hook runs" wait_log "\[hook\] health: exit 0"
check "... a changed component is reported as needing a restart" \
    wait_log "WARN +\[shell\] SIGHUP: component changed in .*staggerd.json; it takes effect at the next restart"
echo '{"key": 1}' >staggerd.json
kill -HUP "$pid"
check "SIGHUP with a broken config keeps the running one, and says why" \
    wait_log "WARN +\[shell\] SIGHUP: keeping the current configuration: staggerd.json: key"
stop_daemon
config

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

# ---- every hook is handed the roster's epoch schedule, and a newer roster's
# once it is adopted (the cardano-node gate takes it from there)
cat >envhook <<EOF
#!/bin/sh
env | grep '^STAGGER_EPOCH_' | sort >"$T/epoch.env.new" && mv "$T/epoch.env.new" "$T/epoch.env"
echo version=10.5.2
EOF
chmod 755 envhook
# signed_roster SERIAL EPOCH_JSON: roster.signed with that policy.epoch
signed_roster() {
    roster roster.json "$1" ops
    sed -i 's/"observers": \[\],/"observers": [], "policy": {"epoch": '"$2"'},/' roster.json
    "$CTL" roster sign --key ops.key roster.json >/dev/null || echo "# roster sign failed"
}
# epoch_env_is START LENGTH GUARD: what the hook last saw, within 10 s
epoch_env_is() {
    local want deadline=$((SECONDS + 10))
    want=$(printf 'STAGGER_EPOCH_GUARD_S=%s\nSTAGGER_EPOCH_LENGTH_S=%s\nSTAGGER_EPOCH_START_S=%s' \
        "$3" "$2" "$1")
    while [ $SECONDS -lt $deadline ]; do
        [ "$(cat epoch.env 2>/dev/null)" = "$want" ] && return 0
        sleep 0.05
    done
    echo "# the hook saw:"; sed 's/^/#   /' epoch.env 2>/dev/null
    echo "# wanted:"; echo "$want" | sed 's/^/#   /'
    return 1
}
signed_roster 2 '{"start_s": 1700000000, "length_s": 7200, "guard_s": 600}'
config info '{"health": "'"$T"'/envhook"}'
start_daemon
check "hooks get the roster's epoch start_s, length_s and guard_s as STAGGER_EPOCH_*" \
    epoch_env_is 1700000000 7200 600
signed_roster 3 '{"start_s": 1700001800, "length_s": 3600, "guard_s": 300}'
kill -HUP "$pid"
check "... and a newer roster's once SIGHUP has it adopted" epoch_env_is 1700001800 3600 300
stop_daemon

# ---- "components": more components, each with its own hooks (docs/
# operations.md, "Components"); strict like the rest of the file
# comps_config COMPONENTS_JSON [HOOKS_JSON]: relay1's config with them
comps_config() {
    cat >staggerd.json <<EOC
{"key": "$T/r1.key", "roster": "$T/roster.signed", "tuning": {"health_interval_ms": 300}, "state_dir": "$T/state", "hooks": ${2:-{\}}, "components": $1}
EOC
}
cat >comphook <<EOF
#!/bin/sh
echo "\$STAGGER_COMPONENT" >"$T/seen.\$STAGGER_COMPONENT"
echo version=1
EOF
chmod 755 comphook
comps_config '[{"name": "os", "hooks": {"health": "'"$H"'/health", "install": "'"$H"'/install"}}]'
run 0 "--check-config with a second component" -- "$D" --config staggerd.json --check-config
check "... names both components" grep -q "ok: node relay1 .*components cardano-node, os; hooks executable" out
# refused DESC PATTERN COMPONENTS_JSON: --check-config exits 1, stderr matching
refused() {
    comps_config "$3"
    run 1 "$1" "$2" -- "$D" --config staggerd.json --check-config
}
refused "--check-config names a component's bad hook by its place in the file" \
    "^staggerd: staggerd.json: components\[0\]\.hooks\.install: $H/nosuch: No such file or directory; install the hook there or correct the path\$" \
    '[{"name": "os", "hooks": {"install": "'"$H"'/nosuch"}}]'
refused "a component's hook path must be absolute" "components\[0\]\.hooks\.install.*absolute path" \
    '[{"name": "os", "hooks": {"install": "relative/install"}}]'
refused "an unknown field in a component is refused, named" "components\[0\]\.hook" \
    '[{"name": "os", "hook": {}}]'
refused "an unknown hook of a component is refused, named" "components\[0\]\.hooks\.heath" \
    '[{"name": "os", "hooks": {"heath": "/bin/true"}}]'
refused "a component needs a name" "components\[0\]\.name.*missing" '[{"hooks": {}}]'
refused "a component's name must be a name" "components\[0\]\.name" '[{"name": "OS"}]'
refused "a component may not repeat the primary" \
    "components\[0\]: \"cardano-node\" is managed already \(it is the top-level \"component\"\)" \
    '[{"name": "cardano-node"}]'
refused "nor another component" "components\[1\]: \"os\" is managed already; give each" \
    '[{"name": "os"}, {"name": "os"}]'
refused "at most two components beside the primary" "components: 3 entries, at most 2" \
    '[{"name": "os"}, {"name": "stagger"}, {"name": "third"}]'
refused "components is an array" "components: must be an array" '{"name": "os"}'
comps_config '[{"name": "os", "hooks": {"health": "'"$T"'/comphook"}}]' '{"health": "'"$T"'/comphook"}'
rm -f seen.*
start_daemon
check "each component's health hook runs, STAGGER_COMPONENT naming its own component" \
    bash -c 'for i in $(seq 100); do [ -e seen.os ] && [ -e seen.cardano-node ] && exit 0; sleep 0.05; done; exit 1'
check "... os's saw os" grep -qx os seen.os
check "... the primary's saw cardano-node" grep -qx cardano-node seen.cardano-node
comps_config '[{"name": "stagger", "hooks": {"health": "'"$T"'/comphook"}}]' '{"health": "'"$T"'/comphook"}'
kill -HUP "$pid"
check "SIGHUP: changed components are reported as needing a restart" \
    wait_log "WARN +\[shell\] SIGHUP: components changed in .*staggerd.json; it takes effect at the next restart"
stop_daemon
config

tap_end
