# shellcheck shell=sh disable=SC2034 # the settings are used by the hooks that source this
# common.sh: sourced by the os-debian hooks (health, install, rollback, gate),
# which roll Debian package updates through staggerd's election like a
# cardano-node release (docs/operations.md, "The operating system as a
# component").
#
# State (OS_STATE_DIR, default /var/lib/stagger-os):
#   version                 the OS release this machine runs, as the fleet
#                           knows it: written by install, put back by rollback
#   releases/<v>/           one release's record, kept for the operator:
#     was                   the OS release before <v>
#     package-set           <v>'s verified package set (a url artifact)
#     before, after         `pkg=version` of every installed package before
#                           <v>'s first apt run and after its last
#     previous              pkg=oldversion of each package <v> changed or
#                           removed: what rollback reinstalls
#     added                 packages <v> installed that were not there
#     apt.log               apt-get's and dpkg's output
#     started, installed    apt ran (maybe cut short) / finished and recorded
#     reboot, rollback-reboot  the boot id when a reboot was asked (asked once)
#     rolled-back           rollback finished
# Settings: the environment, then OS_DEBIAN_ENV (default
# /etc/stagger/os-debian.env), then the defaults below. Every external
# command is a variable so that tests can stand it in.
# Failures print one line on stderr (staggerd runs hooks with 2>&1, so it
# is the last line it reports).

# KEY=VALUE lines; a variable already in the environment wins. Keys are
# checked before eval, values are never evaluated. The same reader as
# ../cardano-node/common.sh's stg_load_env, for another file.
os_load_env() {
    _f=${OS_DEBIAN_ENV:-/etc/stagger/os-debian.env}
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
os_load_env

STATE=${OS_STATE_DIR:-/var/lib/stagger-os}
SERVICES=${OS_SERVICES-cardano-node}
PENDING_MAX_S=${OS_REBOOT_PENDING_MAX_S:-86400}
REBOOT_CMD=${OS_REBOOT_CMD:-systemctl reboot}
REBOOT_REQUIRED=${OS_REBOOT_REQUIRED_FILE:-/run/reboot-required}
AWAY_S=${OS_AWAY_S:-900}
AWAY_WAIT_S=${OS_AWAY_WAIT_S:-10}
DEBIAN_VERSION_FILE=${OS_DEBIAN_VERSION_FILE:-/etc/debian_version}
BOOT_ID_FILE=${OS_BOOT_ID_FILE:-/proc/sys/kernel/random/boot_id}
LOCK_TIMEOUT_S=${OS_APT_LOCK_TIMEOUT_S:-600}
NODE_GATE=${OS_NODE_GATE:-}
OTHER_STAGGER_DIRS=${OS_OTHER_STAGGER_DIRS:-}
APT_GET=${APT_GET:-apt-get}
DPKG_QUERY=${DPKG_QUERY:-dpkg-query}
DPKG=${DPKG:-dpkg}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
CURL=${CURL:-curl}
SHA256SUM=${SHA256SUM:-sha256sum}

HOOK=${0##*/}
STEP=starting

say() { printf '%s: %s\n' "$HOOK" "$*"; }
# die REASON: one line on stderr, exit 1.
die() {
    STEP=
    printf '%s failed: %s\n' "$HOOK" "$*" >&2
    exit 1
}
# An unexpected failure under set -e still ends with a line saying where.
on_exit() {
    _rc=$?
    if [ "$_rc" -ne 0 ] && [ -n "$STEP" ]; then
        printf '%s failed (exit %s) while %s\n' "$HOOK" "$_rc" "$STEP" >&2
    fi
}
trap on_exit EXIT

# put FILE TEXT: FILE holds TEXT, or its old content after an interruption.
put() {
    printf '%s\n' "$2" >"$1.new"
    mv -f "$1.new" "$1"
}

# check_version V: a release name staggerd hands out (protocol.md §5) that
# is also safe as a directory name.
check_version() {
    [ -n "$1" ] || die "STAGGER_RELEASE_VERSION is empty (run this hook from staggerd, or set it)"
    case $1 in *[!A-Za-z0-9.+_~-]* | .*) die "refusing release name '$1'" ;; esac
}

# os_version: the OS release this machine runs, as health reports it: the
# one the last install (or rollback) recorded, else debian-<debian_version>
# in the release name alphabet ("12.11" -> debian-12.11, "trixie/sid" ->
# debian-trixie-sid), else "unknown".
os_version() {
    _v=$(cat "$STATE/version" 2>/dev/null) || _v=
    if [ -z "$_v" ]; then
        _v=$(head -n 1 "$DEBIAN_VERSION_FILE" 2>/dev/null) || _v=
        _v=$(printf '%s' "$_v" | tr -c 'A-Za-z0-9.+_~-' '-')
        _v=${_v:+debian-$_v}
    fi
    printf '%s\n' "${_v:-unknown}"
}

boot_id() { cat "$BOOT_ID_FILE" 2>/dev/null || echo unknown; }

# snapshot FILE: `pkg=version` of every package dpkg has unpacked or
# installed (not the removed ones that left only config files), sorted.
snapshot() {
    # shellcheck disable=SC2016 # dpkg-query's ${fields}, not the shell's
    "$DPKG_QUERY" -W -f '${db:Status-Abbrev} ${binary:Package}=${Version}\n' >"$1.raw" ||
        die "$DPKG_QUERY -W failed: cannot list the installed packages"
    awk 'substr($1, 2, 1) !~ /[nc]/ && NF >= 2 { print $2 }' "$1.raw" | LC_ALL=C sort >"$1.new"
    rm -f "$1.raw"
    mv -f "$1.new" "$1"
}

# apt_run LOG WHAT ARGS...: apt-get without questions, keeping the config
# files the operator changed, waiting for another apt (unattended-upgrades)
# to let go of the lock; its output goes to LOG. On failure, the reason is
# apt's last E: line.
apt_run() {
    _log=$1 _what=$2
    shift 2
    STEP="running $_what (log: $_log)"
    say "$_what"
    printf '==== %s: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$_what" >>"$_log"
    _rc=0
    DEBIAN_FRONTEND=noninteractive "$APT_GET" -q -y \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        -o DPkg::Lock::Timeout="$LOCK_TIMEOUT_S" "$@" >>"$_log" 2>&1 </dev/null || _rc=$?
    [ "$_rc" -eq 0 ] && return 0
    _why=$(grep '^E:' "$_log" | tail -n 1) || _why=
    die "$_what failed (exit $_rc): ${_why:-see $_log}${_why:+ (full log: $_log)}"
}

# dpkg_recover LOG: after a run cut short (a power cut, a reboot in the
# middle), finish configuring what dpkg had unpacked; apt refuses to run
# until this is done.
dpkg_recover() {
    STEP="finishing an interrupted dpkg run"
    say "an earlier run was cut short: dpkg --configure -a"
    DEBIAN_FRONTEND=noninteractive "$DPKG" --force-confdef --force-confold --configure -a \
        >>"$1" 2>&1 </dev/null || die "dpkg --configure -a failed: see $1, repair dpkg by hand"
}

# announce_away: tell staggerd that this machine is about to be away for up
# to AWAY_S (a planned reboot: the line away=S), and wait, at most
# AWAY_WAIT_S, for its answer on the descriptor STAGGER_ANSWER_FD: "away
# ok" once its record saying so has left for every peer, which then show
# this node rebooting, not dead, for that long (docs/operations.md §11).
# Without the answer (an older staggerd, a journal it cannot write) the
# reboot goes ahead all the same: the fleet sees a crash, as it used to.
announce_away() {
    [ "$AWAY_S" -gt 0 ] || return 0
    printf 'away=%s\n' "$AWAY_S"
    case ${STAGGER_ANSWER_FD:-} in
        [0-9]) _ans=$(timeout "$AWAY_WAIT_S" sh -c \
                   "read -r a <&$STAGGER_ANSWER_FD && printf '%s' \"\$a\"" 2>/dev/null) || _ans=
               [ -n "$_ans" ] || _ans="no answer in ${AWAY_WAIT_S}s" ;;
        *) _ans="no STAGGER_ANSWER_FD: an older staggerd" ;;
    esac
    if [ "$_ans" = "away ok" ]; then
        say "staggerd announced the absence (up to ${AWAY_S}s) to the fleet"
    else
        say "staggerd did not confirm the absence ($_ans): the fleet may see a crash"
    fi
}

# maybe_reboot MARKER WHAT: reboot through OS_REBOOT_CMD when the packages
# asked for it (REBOOT_REQUIRED exists), at most once per MARKER: a rerun
# after the reboot, or while it is under way, does not ask again. The
# marker holds this boot's id, so health can tell the reboot has not
# happened yet.
maybe_reboot() {
    if [ ! -e "$REBOOT_REQUIRED" ]; then
        say "no reboot required"
        return 0
    fi
    if [ -e "$1" ]; then
        say "a reboot for $2 was already asked (boot $(cat "$1")); not asking again"
        return 0
    fi
    case $AWAY_S in
        '' | *[!0-9]*) die "OS_AWAY_S=$AWAY_S: whole seconds, 0 to 3600; fix /etc/stagger/os-debian.env" ;;
    esac
    [ "$AWAY_S" -le 3600 ] || die "OS_AWAY_S=$AWAY_S: at most 3600 (an hour); fix /etc/stagger/os-debian.env"
    _pkgs=$(tr '\n' ' ' <"$REBOOT_REQUIRED.pkgs" 2>/dev/null) || _pkgs=
    put "$1" "$(boot_id)"
    STEP="announcing the reboot to staggerd"
    announce_away
    STEP="asking for a reboot with $REBOOT_CMD"
    say "rebooting for $2 with '$REBOOT_CMD' ($REBOOT_REQUIRED exists${_pkgs:+; packages: $_pkgs})"
    if ! sh -c "$REBOOT_CMD" </dev/null; then
        rm -f "$1"
        die "'$REBOOT_CMD' failed: reboot this machine by hand, or fix OS_REBOOT_CMD"
    fi
}
