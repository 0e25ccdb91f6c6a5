# shellcheck shell=sh disable=SC2034 # the settings are used by the hooks that source this
# common.sh: sourced by the cardano-node install and rollback hooks.
#
# Layout (all under STAGGER_CARDANO_ROOT, default /opt/cardano-node):
#   versions/<version>/         one release: binary + config bundle, as unpacked
#   current -> versions/<v>     what cardano-node.service runs (switched atomically)
#   previous -> versions/<v>    the version before the last install (the rollback target)
#   ledger-snapshots/<v>/<slot> the newest db/ledger/<slot> of <v>, taken with
#                               the node stopped just before leaving <v>
#   .staging/                   downloads and unpacking, same filesystem as versions/
# Settings: the environment, then STAGGER_CARDANO_ENV (default
# /etc/stagger/cardano-node.env), then the defaults below. Every external
# command is a variable (SYSTEMCTL, CURL, ...) so that tests can stub it.
# The last line a hook prints is what staggerd shows as its outcome.

# KEY=VALUE lines; a variable already in the environment wins. Keys are
# checked before eval, values are never evaluated. $1: the file (default
# STAGGER_CARDANO_ENV; the stagger hooks pass their own).
stg_load_env() {
    _f=${1:-${STAGGER_CARDANO_ENV:-/etc/stagger/cardano-node.env}}
    [ -r "$_f" ] || return 0
    while IFS= read -r _line || [ -n "$_line" ]; do
        _line=${_line#"${_line%%[![:space:]]*}"}
        _line=${_line%"${_line##*[![:space:]]}"}
        case $_line in '' | '#'*) continue ;; 'export '*) _line=${_line#export } ;; esac
        case $_line in *=*) ;; *) continue ;; esac
        _key=${_line%%=*}
        _val=${_line#*=}
        case $_key in '' | [!A-Z_]* | *[!A-Z0-9_]*) continue ;; esac
        case $_val in
            \"*\") _val=${_val#\"}; _val=${_val%\"} ;;
            \'*\') _val=${_val#\'}; _val=${_val%\'} ;;
        esac
        eval "_set=\${$_key+x}"
        if [ -z "$_set" ]; then
            eval "$_key=\$_val"
            export "${_key?}"
        fi
    done <"$_f"
}
stg_load_env

ROOT=${STAGGER_CARDANO_ROOT:-/opt/cardano-node}
DB=${STAGGER_CARDANO_DB:-/var/lib/cardano-node/db}
UNIT=${STAGGER_CARDANO_UNIT:-cardano-node.service}
if [ -n "${STAGGER_CARDANO_HOOK_STATE:-}" ]; then
    HOOK_STATE=$STAGGER_CARDANO_HOOK_STATE
elif [ -n "${STAGGER_STATE_DIR:-}" ]; then
    HOOK_STATE=$STAGGER_STATE_DIR/cardano-node
else
    HOOK_STATE=$ROOT/.stagger-state
fi
MIN_STOP_S=${STAGGER_CARDANO_MIN_STOP_TIMEOUT_S:-300}
CHECK_UNIT=${STAGGER_CARDANO_CHECK_UNIT:-1}
SNAPSHOT_MODE=${STAGGER_CARDANO_SNAPSHOT_MODE:-hardlink}
BIN_SUBPATH=${STAGGER_CARDANO_BIN_SUBPATH:-bin/cardano-node}
CONFIG_SUBPATH=${STAGGER_CARDANO_CONFIG_SUBPATH-config}
KEEP_VERSIONS=${STAGGER_CARDANO_KEEP_VERSIONS:-3}
IMAGE_PATH=${STAGGER_CARDANO_IMAGE_PATH:-/opt/cardano-node}
IMAGE_FETCH=${STAGGER_CARDANO_IMAGE_FETCH:-}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
CURL=${CURL:-curl}
SHA256SUM=${SHA256SUM:-sha256sum}
TAR=${TAR:-tar}
DPKG_DEB=${DPKG_DEB:-dpkg-deb}
PODMAN=${PODMAN:-podman}

HOOK=${0##*/}
STEP=starting
CLEANUP=

say() { printf '%s: %s\n' "$HOOK" "$*"; }
# die REASON: the reason is the last line, which staggerd reports.
die() {
    STEP=
    printf '%s failed: %s\n' "$HOOK" "$*"
    exit 1
}
# An unexpected failure under set -e still ends with a line saying where.
on_exit() {
    _rc=$?
    if [ -n "$CLEANUP" ]; then rm -rf "$CLEANUP"; fi
    if [ "$_rc" -ne 0 ] && [ -n "$STEP" ]; then
        printf '%s failed (exit %s) while %s\n' "$HOOK" "$_rc" "$STEP"
    fi
}
trap on_exit EXIT

now() { printf '%s\n' "${STAGGER_CARDANO_NOW:-$(date +%s)}"; }

# link_version NAME: the version a ROOT/NAME symlink points at, or nothing.
link_version() {
    _t=$(readlink "$ROOT/$1" 2>/dev/null) || return 0
    printf '%s\n' "${_t##*/}"
}

# release_marker: what versions/<dir>/.stagger-artifact says of the release
# in the environment (written by install when it unpacks that artifact).
release_marker() {
    printf '%s\n' "${STAGGER_ARTIFACT_KIND:-} ${STAGGER_ARTIFACT:-} ${STAGGER_ARTIFACT_SHA256:-}"
}

# tree_sha PATH: the SHA-256 of the artifact the tree at ROOT/PATH was
# unpacked from (the last word of its marker), or nothing.
tree_sha() {
    _m=$(cat "$ROOT/$1/.stagger-artifact" 2>/dev/null) || return 0
    printf '%s\n' "${_m##* }"
}

# holds_release NAME: does ROOT/NAME hold the release in the environment?
# Its artifact's SHA-256 decides (a rebuild of a version is another
# artifact, in versions/<version>@<sha256 prefix>); without a marker or an
# artifact in the environment, the version name.
holds_release() {
    _s=$(tree_sha "$1")
    if [ -n "$_s" ] && [ -n "${STAGGER_ARTIFACT_SHA256:-}" ]; then
        [ "$_s" = "$STAGGER_ARTIFACT_SHA256" ]
    else
        [ -n "$(link_version "$1")" ] && [ "$(link_version "$1")" = "${STAGGER_RELEASE_VERSION:-}" ]
    fi
}

# switch_link NAME VERSION: ROOT/NAME -> versions/VERSION, atomically (rename
# over the old link, so there is never a moment without one).
switch_link() {
    ln -s "versions/$2" "$ROOT/.$1.new.$$"
    mv -T "$ROOT/.$1.new.$$" "$ROOT/$1"
}

# newest_ledger DIR: the newest <slot> (or <slot>_<suffix>) entry in DIR.
newest_ledger() {
    _best=
    _bslot=-1
    for _e in "$1"/*; do
        [ -e "$_e" ] || continue
        _n=${_e##*/}
        _s=${_n%%_*}
        case $_s in '' | *[!0-9]*) continue ;; esac
        if [ "$_s" -gt "$_bslot" ]; then
            _bslot=$_s
            _best=$_n
        fi
    done
    [ -n "$_best" ] && printf '%s\n' "$_best"
    return 0
}

# copy_tree SRC DST: hardlinks (instant, no space; cardano-node never
# rewrites a finished snapshot in place) or a full copy, per SNAPSHOT_MODE;
# hardlinks fall back to a copy across filesystems.
copy_tree() {
    if [ "$SNAPSHOT_MODE" = hardlink ] && cp -al "$1" "$2" 2>/dev/null; then
        return 0
    fi
    rm -rf "$2"
    cp -a "$1" "$2"
}

# save_ledger_snapshot DIR LABEL: the newest DB/ledger/<slot> into DIR
# (replaced whole, via DIR.new, so an interruption leaves the old copy);
# taken with the node stopped, just before it leaves LABEL.
save_ledger_snapshot() {
    STEP="saving the ledger snapshot of $2"
    _slot=$(newest_ledger "$DB/ledger")
    if [ -z "$_slot" ]; then
        say "WARNING: no snapshot in $DB/ledger to save; a rollback would replay the chain"
        return 0
    fi
    rm -rf "$1.new"
    mkdir -p "$1.new"
    copy_tree "$DB/ledger/$_slot" "$1.new/$_slot"
    rm -rf "$1"
    mv -T "$1.new" "$1"
    say "saved ledger snapshot $_slot of $2 in $1 ($SNAPSHOT_MODE)"
}

# restore_ledger_snapshot DIR LABEL BAD: if DB/ledger changed since the
# snapshot in DIR was taken (BAD wrote newer ones, possibly in a format
# LABEL cannot read), move it aside to DB/ledger.before-rollback and put the
# snapshot back: LABEL then replays only the blocks since it, not the chain.
restore_ledger_snapshot() {
    STEP="restoring the ledger snapshot of $2"
    _saved=$(newest_ledger "$1")
    if [ -z "$_saved" ]; then
        say "WARNING: no saved ledger snapshot for $2; it starts from what $DB/ledger holds"
    elif [ "$(newest_ledger "$DB/ledger")" = "$_saved" ]; then
        say "ledger unchanged since the upgrade (newest snapshot $_saved): kept"
    else
        rm -rf "$DB/ledger.restore"
        mkdir -p "$DB/ledger.restore"
        copy_tree "$1/$_saved" "$DB/ledger.restore/$_saved"
        rm -rf "$DB/ledger.before-rollback"
        if [ -e "$DB/ledger" ]; then mv -T "$DB/ledger" "$DB/ledger.before-rollback"; fi
        mv -T "$DB/ledger.restore" "$DB/ledger"
        say "restored ledger snapshot $_saved of $2; $3's ledger moved to $DB/ledger.before-rollback (delete it once $2 runs)"
    fi
}

# seconds DURATION: systemd's "1min 30s" / "10min" / "infinity" in seconds.
seconds() {
    _total=0
    for _tok in $1; do
        case $_tok in
            infinity) printf '%s\n' 999999999; return 0 ;;
            *us) _v=0 ;;
            *ms) _v=$(( ${_tok%ms} / 1000 )) ;;
            *min) _v=$(( ${_tok%min} * 60 )) ;;
            *h) _v=$(( ${_tok%h} * 3600 )) ;;
            *d) _v=$(( ${_tok%d} * 86400 )) ;;
            *s) _v=${_tok%s} ;;
            *[!0-9]* | '') _v=0 ;;
            *) _v=$_tok ;;
        esac
        _total=$((_total + _v))
    done
    printf '%s\n' "$_total"
}

# check_unit: the unit must stop cardano-node with SIGINT and a timeout of
# minutes (a SIGKILL after 90 s costs an hour of replay). Prints the problem
# and returns 1 when it does not.
check_unit() {
    [ "$CHECK_UNIT" = 1 ] || return 0
    _sig=$("$SYSTEMCTL" show -p KillSignal --value "$UNIT") || {
        say "cannot read $UNIT's KillSignal with $SYSTEMCTL show"
        return 1
    }
    _tmo=$("$SYSTEMCTL" show -p TimeoutStopUSec --value "$UNIT") || _tmo=0
    _tmo_s=$(seconds "$_tmo")
    case $_sig in 2 | SIGINT | INT) ;; *)
        say "$UNIT stops with signal $_sig, not SIGINT: add KillSignal=SIGINT and TimeoutStopSec=600 (deploy/systemd/cardano-node.service.d/stagger.conf)"
        return 1 ;;
    esac
    if [ "$_tmo_s" -lt "$MIN_STOP_S" ]; then
        say "$UNIT's TimeoutStopSec is $_tmo (${_tmo_s}s), under ${MIN_STOP_S}s: a clean stop can take minutes; raise it (deploy/systemd/cardano-node.service.d/stagger.conf)"
        return 1
    fi
    return 0
}

# stop_service: systemctl stop, which sends the unit's KillSignal (SIGINT)
# and waits up to its TimeoutStopSec; unlike a bare kill, it also keeps
# Restart= from starting the old binary again.
stop_service() {
    STEP="stopping $UNIT"
    say "stopping $UNIT (SIGINT; a clean stop can take minutes)"
    _t0=$(date +%s)
    "$SYSTEMCTL" stop "$UNIT" || die "systemctl stop $UNIT failed"
    if "$SYSTEMCTL" is-active --quiet "$UNIT"; then
        die "$UNIT is still active after systemctl stop"
    fi
    _res=$("$SYSTEMCTL" show -p Result --value "$UNIT" 2>/dev/null) || _res=
    [ "$_res" = timeout ] &&
        say "WARNING: $UNIT did not stop within its TimeoutStopSec and was killed; expect a long ledger replay"
    say "stopped $UNIT in $(($(date +%s) - _t0))s"
}

start_service() {
    STEP="starting $UNIT"
    "$SYSTEMCTL" start "$UNIT" || die "systemctl start $UNIT failed (see journalctl -u $UNIT)"
    "$SYSTEMCTL" is-active --quiet "$UNIT" ||
        die "$UNIT is not active after systemctl start (see journalctl -u $UNIT)"
}

# A new version must prove itself from scratch: forget the health hook's
# last verdict and best tip age, and let it time this restart.
restart_began() {
    mkdir -p "$HOOK_STATE"
    rm -f "$HOOK_STATE/health.json"
    now >"$HOOK_STATE/restart-begin"
}
