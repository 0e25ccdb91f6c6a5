# shellcheck shell=sh disable=SC2034 # the settings are used by the hooks that source this
# common.sh: sourced by the stagger install and rollback hooks, which manage
# staggerd itself as a staggerd component (docs/operations.md, "Upgrading
# stagger itself").
#
# Layout:
#   BIN                 the staggerd binary the daemon runs (STAGGER_EXE,
#                       which staggerd passes: the path it was started from)
#   KEEP/previous       the binary that ran before the last install: the
#                       rollback target
#   BIN.new.PID         a download being checked, beside BIN so the final
#                       rename is atomic
# Settings: the environment, then STAGGER_SELF_ENV (default stagger.env
# beside staggerd's configuration, STAGGER_CONFIG), then the defaults below.
# Every external command is a variable (CURL, ...) so that tests can stub it.
# The last line a hook prints is what staggerd shows as its outcome.
#
# The env-file reader, say, die and the exit trap are the cardano-node
# hooks' (../cardano-node/common.sh, installed beside these), as the
# container hooks use them too; its cardano-node settings go unused here.

# shellcheck source-path=SCRIPTDIR source=../cardano-node/common.sh
. "$HERE/../cardano-node/common.sh"

stg_load_env "${STAGGER_SELF_ENV:-$(dirname "${STAGGER_CONFIG:-/etc/stagger/staggerd.json}")/stagger.env}"

BIN=${STAGGER_SELF_BIN:-${STAGGER_EXE:-}}
KEEP=${STAGGER_SELF_KEEP:-${STAGGER_STATE_DIR:-/var/lib/stagger}/stagger-self}
CURL=${CURL:-curl}
SHA256SUM=${SHA256SUM:-sha256sum}

[ -n "$BIN" ] || die "no staggerd binary to manage: STAGGER_EXE is empty and STAGGER_SELF_BIN unset"
case ${STAGGER_PID:-} in
    '' | *[!0-9]*) die "STAGGER_PID '${STAGGER_PID:-}' is not the daemon's pid (staggerd older than the stagger hooks?)" ;;
esac

# sha_of FILE: its SHA-256, or nothing.
sha_of() {
    _s=$("$SHA256SUM" "$1" 2>/dev/null) || return 0
    printf '%s\n' "${_s%% *}"
}

# version_of FILE: the version word of `FILE --version` ("staggerd 0.1.0 (git x)"
# gives 0.1.0), or nothing when it does not run.
version_of() {
    _v=$("$1" --version 2>/dev/null) || return 0
    _v=${_v#* }
    printf '%s\n' "${_v%% *}"
}

# put_in_place SRC: SRC (a file beside BIN) becomes BIN by one rename: the
# daemon, a supervisor's restart or a re-exec sees the old binary or the
# new one, never half of one.
put_in_place() {
    chmod 0755 "$1"
    mv -f "$1" "$BIN"
}

# reexec: ask the running daemon to replace its image with BIN (SIGUSR2; it
# waits until this hook has ended and its result is journaled).
reexec() {
    STEP="signalling staggerd (pid $STAGGER_PID)"
    kill -USR2 "$STAGGER_PID"
}
