#!/usr/bin/env bash
# test_man.sh: the installed manual pages render without a warning and agree
# with the binaries' --help (every command, option and exit code); the bash
# completion script is valid bash and completes commands, sub-commands and
# each command's options.
# usage: test_man.sh BUILD_DEPLOY_DIR STAGGERD STAGGERCTL VERSION   (prints TAP)
set -uo pipefail
MAN=$(realpath "$1")
D=$(realpath "$2")
CTL=$(realpath "$3")
VERSION=$4
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../cli/tap.sh"
COMP=$SRC/deploy/bash-completion/staggerctl

# ---- rendering
for page in staggerd.8 staggerctl.1; do
    p=$MAN/$page
    run 0 "$page: groff -ww -man renders it" -- groff -ww -z -man "$p"
    check "$page: ... without a warning" test ! -s err
    run 0 "$page: man -l renders it" -- env MANWIDTH=80 man --warnings -l "$p"
    check "$page: ... without a warning, to text" bash -c '! test -s err && test "$(wc -l <out)" -gt 40'
    if command -v mandoc >/dev/null; then
        run 0 "$page: mandoc -T lint" -- mandoc -T lint -W warning "$p"
        check "$page: ... says nothing" bash -c '! test -s out && ! test -s err'
    else
        ok "# SKIP $page: mandoc -T lint (Debian package mandoc not installed)"
    fi
    check "$page: the header names stagger $VERSION" grep -q "^\.TH .* \"stagger $VERSION\"" "$p"
done

# ---- the pages say what the binaries do
# plain PAGE: the page as text, one long line per paragraph, no hyphenation.
plain() { MANWIDTH=2000 man -l "$1" 2>/dev/null | col -b | sed 's/‐/-/g'; }
plain "$MAN/staggerctl.1" >ctl.txt
plain "$MAN/staggerd.8" >d.txt
"$CTL" --help | sed -n '/^commands:/,/^$/p' | grep '^  [a-z]' | grep -v '^  help' |
    sed -E 's/^  ([a-z-]+( [a-z-]+)?)  .*/\1/; s/ +$//' >commands
check "staggerctl --help lists 18 commands" test "$(wc -l <commands)" = 18
check "staggerctl(1) documents every command" \
    bash -c 'while read -r c; do grep -q "^ *$c " ctl.txt || { echo "# missing: $c"; exit 1; }; done <commands'
"$CTL" status --help | grep -E '^  [0-9]  ' | sed -E 's/^  [0-9]  //' >codes
check "staggerctl(1) has status's exit codes as --help words them" \
    bash -c 'while read -r l; do grep -qiF -- "$l" ctl.txt || { echo "# missing: $l"; exit 1; }; done <codes'
"$D" --help >dhelp
grep -oE -- '--[a-z][a-z-]*' dhelp | sort -u >dopts
check "staggerd(8) documents every option of --help" \
    bash -c 'while read -r o; do grep -qF -- "$o" d.txt || { echo "# missing: $o"; exit 1; }; done <dopts'
grep -E '^  [0-9]  ' dhelp | sed -E 's/^  [0-9]  //' >dcodes
check "staggerd(8) has the exit codes as --help words them" \
    bash -c 'while read -r l; do grep -qiF -- "$l" d.txt || { echo "# missing: $l"; exit 1; }; done <dcodes'

# ---- bash completion
run 0 "the completion script is valid bash" -- bash -n "$COMP"
# complete WORD...: the completions bash offers for the last word (empty for
# a new word), one per line, as the completion function computes them.
complete_words() {
    bash -c '. "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        f=$(complete -p "${1##*/}" | sed -E "s/.*-F ([^ ]+) .*/\1/")
        "$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$COMP" "$@"
}
cut -d' ' -f1 commands | sort -u >first
echo help >>first && sort -o first first
export -f complete_words; export COMP
check "staggerctl <TAB> offers exactly the command words of --help" \
    bash -c 'diff <(complete_words "$0" "") first' "$CTL"
complete_words "$CTL" emergency "" >got
check "staggerctl emergency <TAB> offers its eight sub-commands" \
    test "$(tr '\n' ' ' <got)" = "abandon clear-grants halt promote resume rollback send update "
complete_words "$CTL" roster p >got
check "staggerctl roster p<TAB> completes publish" test "$(cat got)" = publish
complete_words "$CTL" status --r >got
check "staggerctl status --r<TAB> completes --roster (from status --help)" test "$(cat got)" = --roster
complete_words "$CTL" emergency update --inc >got
check "staggerctl emergency update --inc<TAB> completes --include-holdback" \
    test "$(cat got)" = --include-holdback
touch ops.key
complete_words "$CTL" status --key op >got
check "a file after --key completes to a file name" grep -qx ops.key got
complete_words "$D" --c >got
check "staggerd --c<TAB> offers --check-config and --config" \
    test "$(tr '\n' ' ' <got)" = "--check-config --config "

tap_end
