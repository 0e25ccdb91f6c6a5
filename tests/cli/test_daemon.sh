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

tap_end
