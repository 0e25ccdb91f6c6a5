# shellcheck shell=bash
# tap.sh: the TAP helpers of the cli test scripts (sourced, not run).
# Each test runs in its own scratch directory; files "out" and "err" there
# hold the last command's stdout and stderr. KEEP=1 in the environment keeps
# the directory for a look after a failure.
# SRC: the source tree (for the docs the tests compare with).
SRC=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"' EXIT
cd "$T" || exit 1
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)) failed=$((failed + 1))
    echo "not ok $n - $1"
    sed 's/^/# stdout: /' out; sed 's/^/# stderr: /' err
}
# run WANT_RC DESCRIPTION [PATTERN_IN_STDERR] -- COMMAND...: checks the exit
# code, and that stderr names what went wrong.
run() {
    local want=$1 desc=$2 pat=
    shift 2
    if [ "$1" != -- ]; then pat=$1; shift; fi
    shift
    "$@" >out 2>err
    local rc=$?
    if [ $rc -ne "$want" ]; then
        echo "# exit code $rc, wanted $want" >>err
        not_ok "$desc"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" err; then
        echo "# stderr lacks /$pat/" >>err
        not_ok "$desc"
    else
        ok "$desc"
    fi
}
# check DESCRIPTION COMMAND...: a plain assertion on the files left behind.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# version_ok PROG FILE: FILE holds "PROG <meson version>", with " (git REV)"
# when the sources are a git checkout (REV the current commit, maybe -dirty).
version_ok() {
    local want="$1 $VERSION" rev
    if rev=$(git -C "$SRC" rev-parse --short=7 HEAD 2>/dev/null); then
        grep -Eqx -- "$want \(git ${rev}[0-9a-f]*(-dirty)?\)" "$2"
    else
        grep -qx -- "$want" "$2"
    fi
}
pub() { cat "$1.pub"; }
# roster FILE SERIAL OPERATOR_KEYS...: a valid four-member roster whose
# members' keys are p1, s1, r1 and d1 (make them with keygen first), at
# loopback ports PORTS (default 7401..7404; nothing needs to listen there).
PORTS=(7401 7402 7403 7404)
roster() {
    local f=$1 serial=$2 ops="" k
    shift 2
    for k in "$@"; do ops="$ops${ops:+, }\"$(pub "$k")\""; done
    cat >"$f" <<EOF
{"fleet": "pool", "serial": $serial, "operators": [$ops], "emergency_quorum": 1,
 "observers": [],
 "members": [
  {"name": "bp", "key": "$(pub p1)", "endpoint": "tcp://127.0.0.1:${PORTS[0]}", "role": "producer", "flavour": "debian"},
  {"name": "standby", "key": "$(pub s1)", "endpoint": "tcp://127.0.0.1:${PORTS[1]}", "role": "standby", "flavour": "nix"},
  {"name": "relay1", "key": "$(pub r1)", "endpoint": "tcp://127.0.0.1:${PORTS[2]}", "role": "relay", "flavour": "debian"},
  {"name": "dark1", "key": "$(pub d1)", "endpoint": "tcp://127.0.0.1:${PORTS[3]}", "role": "dark-relay", "flavour": "nix"}
 ]}
EOF
}
# tap_end: the plan line, and the exit code meson reads.
tap_end() {
    echo "1..$n"
    exit $((failed > 0))
}
