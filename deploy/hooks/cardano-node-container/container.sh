# shellcheck shell=sh disable=SC2034 # the settings are used by the hooks that source this
# container.sh: sourced by the cardano-node container install and rollback
# hooks, after ../cardano-node/common.sh (settings, say/die, the ledger
# snapshot helpers, which the host hooks use too).
#
# The node runs as one container, NAME (default cardano-node), made by these
# hooks from one file, OPTIONS (default /etc/stagger/cardano-node.container):
# the engine's `run` options, one argument per line (mounts, ports, network,
# environment, user), then optionally a line `--` and the node's command
# arguments, one per line. Blank lines and '#' lines are skipped; nothing is
# evaluated by a shell. The hooks add what they own: --name, --detach,
# --stop-signal SIGINT, --stop-timeout, --restart and the label
# stagger.artifact (the pinned reference, which the health hook checks).
#
# State (HOOK_STATE, default $STAGGER_STATE_DIR/cardano-node):
#   image.current    "<image id> <reference>" the hooks last started
#   image.previous   "<image id> <reference>" the rollback target
# The two images are also tagged localhost/stagger/NAME:current and
# :previous, so that an image pruning never deletes the rollback target.
# Ledger snapshots live in SNAPSHOTS/<image id> (default: ledger-snapshots
# beside the database, so that hardlinks work).

ENGINE=${STAGGER_CONTAINER_ENGINE:-podman}
case $ENGINE in
    podman) ENGINE_CMD=${PODMAN:-podman} ;;
    docker) ENGINE_CMD=${DOCKER:-docker} ;;
    *) die "STAGGER_CONTAINER_ENGINE=$ENGINE: want podman or docker" ;;
esac
# Words, split on spaces (no quoting): e.g. podman's --remote --url
# unix:///run/podman/podman.sock, docker's --host unix:///run/docker.sock.
ENGINE_ARGS=${STAGGER_CONTAINER_ENGINE_ARGS:-}
RUNTIME=${STAGGER_CONTAINER_RUNTIME:-}
# podman takes the OCI runtime as a global option, docker as a run option.
RUN_RUNTIME=
if [ -n "$RUNTIME" ]; then
    case $ENGINE in
        podman) ENGINE_ARGS="$ENGINE_ARGS --runtime $RUNTIME" ;;
        docker) RUN_RUNTIME=$RUNTIME ;;
    esac
fi
NAME=${STAGGER_CONTAINER_NAME:-cardano-node}
OPTIONS=${STAGGER_CONTAINER_OPTIONS:-/etc/stagger/cardano-node.container}
STOP_S=${STAGGER_CONTAINER_STOP_TIMEOUT_S:-600}
RESTART=${STAGGER_CONTAINER_RESTART:-on-failure}
IMAGE_DIR=${STAGGER_CONTAINER_IMAGE_DIR:-}
SNAPSHOTS=${STAGGER_CONTAINER_SNAPSHOT_DIR:-${DB%/*}/ledger-snapshots}
KEEP_TAG=localhost/stagger/$NAME

case $STOP_S in '' | *[!0-9]*) die "STAGGER_CONTAINER_STOP_TIMEOUT_S=$STOP_S is not a number" ;; esac
[ "$STOP_S" -ge "$MIN_STOP_S" ] ||
    die "STAGGER_CONTAINER_STOP_TIMEOUT_S=$STOP_S is under ${MIN_STOP_S}s: a clean stop of cardano-node can take minutes"

# staggerd gives hooks no HOME, and both engines' clients want one (podman
# for its config, docker for ~/.docker): one of their own in the state dir,
# which the unit leaves writable (ProtectHome hides /home anyway).
if [ -z "${HOME:-}" ]; then
    HOME=$HOOK_STATE/home
    export HOME
fi
mkdir -p "$HOOK_STATE" "$HOME"

# eng ARGS...: the engine with its global options.
eng() {
    # shellcheck disable=SC2086 # ENGINE_ARGS are words
    "$ENGINE_CMD" $ENGINE_ARGS "$@"
}

# engine_ok: the engine answers; else "no container" would be a guess.
engine_ok() {
    STEP="asking $ENGINE_CMD for its version"
    eng version >/dev/null 2>&1 ||
        die "cannot reach the container engine: '$ENGINE_CMD $ENGINE_ARGS version' fails (engine socket down, or staggerd's user not in its group? deploy/README.md)"
}

# image_id REF: the local image's id (hex, no "sha256:"), or return 1. A
# reference pinned by digest resolves only to an image whose manifest has
# that digest: both engines check it, which is the digest check.
image_id() {
    _id=$(eng image inspect --format '{{.Id}}' "$1" 2>/dev/null) || return 1
    [ -n "$_id" ] || return 1
    printf '%s\n' "${_id#sha256:}"
}

# ctr FORMAT: a field of the container, or return 1 when there is none.
ctr() {
    eng container inspect --format "$1" "$NAME" 2>/dev/null
}

ctr_image() {
    _i=$(ctr '{{.Image}}') || return 0
    printf '%s\n' "${_i#sha256:}"
}

ctr_running() {
    [ "$(ctr '{{.State.Running}}')" = true ]
}

# state_get FILE: "<id> <ref>" or nothing. state_put FILE ID REF: atomically.
state_get() {
    cat "$HOOK_STATE/$1" 2>/dev/null || true
}
state_put() {
    printf '%s %s\n' "$2" "$3" >"$HOOK_STATE/.$1.$$"
    mv -f "$HOOK_STATE/.$1.$$" "$HOOK_STATE/$1"
}

keep_tag() { # ID TAG: keeps the image from pruning and shows what it is for
    eng tag "$1" "$KEEP_TAG:$2" >/dev/null || say "WARNING: cannot tag $1 as $KEEP_TAG:$2"
}

# fetch_image REF HEX: REF (NAME@sha256:HEX) into local storage: already
# there, else from IMAGE_DIR (podman: HEX/ as `podman push IMAGE
# dir:IMAGE_DIR/HEX` or `skopeo copy ... dir:` writes it, or HEX.tar, an OCI
# archive), else pulled from its registry. Either way the engine must then
# resolve REF by its digest, or the image is refused.
fetch_image() {
    STEP="fetching $1"
    if image_id "$1" >/dev/null; then
        say "image $1 is in local storage"
        return 0
    fi
    _src=
    if [ -n "$IMAGE_DIR" ]; then
        if [ -d "$IMAGE_DIR/$2" ]; then
            _src=dir:$IMAGE_DIR/$2
        elif [ -f "$IMAGE_DIR/$2.tar" ]; then
            _src=oci-archive:$IMAGE_DIR/$2.tar
        fi
    fi
    if [ -n "$_src" ]; then
        # docker load keeps no manifest digest, so nothing could be checked.
        [ "$ENGINE" = podman ] ||
            die "STAGGER_CONTAINER_IMAGE_DIR needs podman (docker load keeps no digest to check): pull $1 from a registry or mirror"
        say "loading $1 from $_src"
        eng pull -q "$_src" >/dev/null || die "$ENGINE_CMD pull $_src failed"
    else
        say "pulling $1"
        eng pull -q "$1" >/dev/null || die "$ENGINE_CMD pull $1 failed"
    fi
    image_id "$1" >/dev/null ||
        die "no image with digest sha256:$2 after loading ${_src:-$1}: it holds another image; not installing"
}

# check_stop_signal: the container must stop cardano-node with SIGINT (a
# SIGTERM or SIGKILL costs an hour of replay); podman says 2, docker SIGINT.
check_stop_signal() {
    _sig=$(ctr '{{.Config.StopSignal}}') || return 0
    case $_sig in 2 | SIGINT | INT) return 0 ;; esac
    say "container $NAME stops with signal '${_sig:-SIGTERM}', not SIGINT: let these hooks recreate it (remove it, run install) or recreate it with --stop-signal SIGINT"
    return 1
}

# stop_container: SIGINT, then up to STOP_S for the node to close its
# databases. `stop` (unlike kill) also keeps the restart policy off it, so it
# is called on an exited container too: one that crash-loops is exited
# between two restarts, and would otherwise come back. A restart the engine
# had already begun can still finish after the stop: then stop again.
stop_container() {
    ctr '{{.Id}}' >/dev/null || return 0
    STEP="stopping container $NAME"
    say "stopping container $NAME (SIGINT, up to ${STOP_S}s; a clean stop can take minutes)"
    _t0=$(date +%s)
    _try=0
    while :; do
        eng stop -t "$STOP_S" "$NAME" >/dev/null || say "WARNING: $ENGINE_CMD stop $NAME failed"
        ctr_running || break
        # A restart the policy had begun before the stop ran after it.
        _try=$((_try + 1))
        [ "$_try" -lt 5 ] || die "container $NAME still runs after $_try times $ENGINE_CMD stop"
        say "container $NAME runs again (a restart under way); stopping it again"
        sleep 1  # for that restart to finish, so that the next stop sees it
    done
    [ "$(ctr '{{.State.ExitCode}}')" != 137 ] ||
        say "WARNING: $NAME did not stop within ${STOP_S}s and was killed; expect a long ledger replay"
    say "stopped container $NAME in $(($(date +%s) - _t0))s"
}

# remove_container: after stop_container. A restart the policy had already
# begun can still race the stop: then stop again and retry, a few times.
remove_container() {
    STEP="removing container $NAME"
    _try=0
    while ctr '{{.Id}}' >/dev/null; do
        eng rm "$NAME" >/dev/null && return 0
        _try=$((_try + 1))
        [ "$_try" -lt 5 ] || die "$ENGINE_CMD rm $NAME failed $_try times"
        say "$ENGINE_CMD rm $NAME failed (a restart under way?); stopping it again"
        sleep 1  # let the engine finish the restart it began
        stop_container
    done
}

# write_run_args ID REF: the arguments of `eng run` into RUN_FILE, one a
# line (an argument may hold spaces; none is ever evaluated). Install calls
# it before stopping anything, so a bad OPTIONS file changes nothing.
RUN_FILE=$HOOK_STATE/.run-args.$$
write_run_args() {
    CLEANUP=$RUN_FILE
    [ -r "$OPTIONS" ] || die "cannot read the container options file $OPTIONS (STAGGER_CONTAINER_OPTIONS)"
    {
        printf '%s\n' run --detach --name "$NAME" --stop-signal SIGINT --stop-timeout "$STOP_S" \
            --restart "$RESTART" --label "stagger.artifact=$2"
        if [ -n "$RUN_RUNTIME" ]; then printf '%s\n' --runtime "$RUN_RUNTIME"; fi
    } >"$RUN_FILE"
    _image_done=
    while IFS= read -r _l || [ -n "$_l" ]; do
        _l=${_l#"${_l%%[![:space:]]*}"}
        _l=${_l%"${_l##*[![:space:]]}"}
        case $_l in '' | '#'*) continue ;; esac
        if [ -z "$_image_done" ]; then
            case $_l in
                --) printf '%s\n' "$1" >>"$RUN_FILE"; _image_done=1; continue ;;
                --name | --name=* | --rm | --rm=* | --stop-signal* | --stop-timeout* | --restart* | --label=stagger.* | -d | --detach*)
                    die "$OPTIONS: '$_l' is set by the hooks; remove it" ;;
                [!-]*) die "$OPTIONS: '$_l' is not an option; write each as --opt=value on one line, the command after a line '--'" ;;
            esac
        fi
        printf '%s\n' "$_l" >>"$RUN_FILE"
    done <"$OPTIONS"
    if [ -z "$_image_done" ]; then printf '%s\n' "$1" >>"$RUN_FILE"; fi
}

# run_container ID REF: a new container NAME from image ID, labelled REF.
run_container() {
    STEP="starting container $NAME from $2"
    write_run_args "$1" "$2"
    set --
    while IFS= read -r _a; do set -- "$@" "$_a"; done <"$RUN_FILE"
    rm -f "$RUN_FILE"
    CLEANUP=
    eng "$@" >/dev/null || die "$ENGINE_CMD run failed for $NAME (see $ENGINE_CMD logs $NAME)"
    ctr_running || die "container $NAME is not running after $ENGINE_CMD run (see $ENGINE_CMD logs $NAME)"
}

# ensure_running: the existing container started (its image unchanged).
ensure_running() {
    ctr_running && return 0
    STEP="starting container $NAME"
    eng start "$NAME" >/dev/null || die "$ENGINE_CMD start $NAME failed (see $ENGINE_CMD logs $NAME)"
}

# prune_snapshots KEEP_ID: only the rollback target's snapshot is kept.
prune_snapshots() {
    for _s in "$SNAPSHOTS"/*; do
        [ -e "$_s" ] || continue
        [ "${_s##*/}" = "$1" ] || rm -rf "$_s"
    done
}
