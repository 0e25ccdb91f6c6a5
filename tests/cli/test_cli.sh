#!/usr/bin/env bash
# test_cli.sh: staggerctl keygen, roster and release sign/verify end to end,
# with tampering, non-operator signers, unsafe key modes and usage errors.
# usage: test_cli.sh STAGGERCTL SEAL VERSION   (prints TAP)
set -uo pipefail
CTL=$(realpath "$1")
SEAL=$(realpath "$2")
VERSION=$3

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/tap.sh"
flip() { # FILE OFFSET: invert the low bit of one byte in place
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf '%b' "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
size() { stat -c %s "$1"; }

# ---- keys
run 0 "keygen writes a key pair" -- "$CTL" keygen ops
check "keygen prints the public key of ops.pub" cmp -s out ops.pub
check "secret key is mode 0600" test "$(stat -c %a ops.key)" = 600
run 3 "keygen refuses to overwrite a key" "ops.key.*already exists" -- "$CTL" keygen ops
for k in ops2 p1 s1 r1 d1; do "$CTL" keygen $k >/dev/null || echo "# keygen $k failed"; done

roster roster.json 1 ops

# ---- roster sign and verify
run 0 "roster sign with an operator key" -- "$CTL" roster sign --key ops.key roster.json
check "roster sign writes roster.signed next to roster.json" test -s roster.signed
run 0 "roster verify accepts it" -- "$CTL" roster verify roster.signed
fp=$(head -c 8 ops.pub)
check "verify summary names fleet, serial, members and signer" \
    grep -q "fleet pool, serial 1, 4 members.*signed by $fp" out
check "verify summary shows the update order by stage and the holdback pair" \
    grep -qx "  update order: stage 1: relay1; stage 3: bp" out
check "... and the holdback pair" \
    grep -qx "  holdback (last, after the proof): standby, dark1" out
run 0 "roster verify --print" -- "$CTL" roster verify --print roster.signed
check "--print gives back the exact signed bytes" cmp -s out roster.json

cp roster.signed t.signed && flip t.signed 21
run 1 "one flipped payload byte is refused" "t.signed: .*does not verify" -- \
    "$CTL" roster verify t.signed
cp roster.signed t.signed && flip t.signed $(($(size t.signed) - 10))
run 1 "one flipped signature byte is refused" "t.signed: .*does not verify" -- \
    "$CTL" roster verify t.signed
cp roster.signed t.signed && flip t.signed $(($(size t.signed) - 90))
run 1 "one flipped signer-key byte is refused" "t.signed: .*signature 0 .*(may not sign|does not verify)" -- \
    "$CTL" roster verify t.signed
head -c -1 roster.signed >t.signed
run 1 "a truncated roster is refused" "t.signed: .*(truncated|length)" -- "$CTL" roster verify t.signed

run 1 "roster sign refuses a key that is not an operator" \
    "roster.json: key .* \(ops2.key\) is not an operator of this roster; add its .pub" -- \
    "$CTL" roster sign --key ops2.key -o x.signed roster.json
check "nothing written after the refusal" test ! -e x.signed
"$SEAL" roster ops2.key roster.json rogue.signed
run 1 "a roster sealed by a non-operator key is refused" "rogue.signed: .*may not sign" -- \
    "$CTL" roster verify rogue.signed

sed 's|tcp://127.0.0.1:7403|udp://127.0.0.1:7403|' roster.json >bad.json
run 1 "roster sign refuses an invalid roster, naming the field" "bad.json: members\[2\]\.endpoint" -- \
    "$CTL" roster sign --key ops.key bad.json
"$SEAL" roster ops.key bad.json bad.signed
run 1 "roster verify refuses an invalid roster even when well signed" "bad.signed: .*members\[2\]\.endpoint" -- \
    "$CTL" roster verify bad.signed

# ---- replacing a roster
roster roster2.json 2 ops
"$CTL" roster sign --key ops.key roster2.json >/dev/null
run 0 "a higher serial may replace the current roster" -- \
    "$CTL" roster verify --current roster.signed roster2.signed
run 1 "a lower serial may not" "roster.signed: .*serial: 1 .*2" -- \
    "$CTL" roster verify --current roster2.signed roster.signed
roster other.json 5 ops
sed -i 's/"fleet": "pool"/"fleet": "other"/' other.json
"$CTL" roster sign --key ops.key other.json >/dev/null
run 1 "nor may another fleet's roster" "other.signed: .*fleet" -- \
    "$CTL" roster verify --current roster2.signed other.signed
roster roster3.json 3 ops2
"$CTL" roster sign --key ops2.key roster3.json >/dev/null
run 0 "a roster naming new operators verifies on its own" -- "$CTL" roster verify roster3.signed
run 1 "but cannot replace one whose operators did not sign it" "roster3.signed: .*may not sign" -- \
    "$CTL" roster verify --current roster2.signed roster3.signed

# ---- co-signing
roster roster4.json 4 ops ops2
"$CTL" roster sign --key ops.key roster4.json >/dev/null
run 0 "sign-add adds a second operator's signature" -- "$CTL" sign-add --key ops2.key roster4.signed
run 0 "the co-signed roster verifies" -- "$CTL" roster verify roster4.signed
check "both signers are listed" grep -q "signed by $fp\.\.\., $(head -c 8 ops2.pub)\.\.\." out
run 1 "sign-add refuses a key that already signed" "already signed" -- \
    "$CTL" sign-add --key ops2.key -o y.signed roster4.signed
run 1 "sign-add refuses a non-operator" "is not an operator" -- \
    "$CTL" sign-add --key p1.key -o y.signed roster4.signed
cp roster4.signed t.signed && flip t.signed 21
run 1 "sign-add will not co-sign an altered document" "t.signed: not co-signing: .*does not verify" -- \
    "$CTL" sign-add --key ops2.key -o y.signed t.signed

# ---- releases
H=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cat >release.json <<EOF
{"component": "cardano-node", "version": "10.5.3", "created_at": 1764115200,
 "artifacts": {"debian": {"url": "https://example.org/cardano-node-10.5.3.deb", "sha256": "$H"},
               "nix": {"image": "cardano-node@sha256:$H"}}}
EOF
run 0 "release sign with an operator key" -- \
    "$CTL" release sign --key ops.key --roster roster.signed release.json
run 0 "release verify accepts it" -- "$CTL" release verify --roster roster.signed release.signed
check "release summary names component, version and signer" \
    grep -q "cardano-node 10.5.3.*signed by $fp" out
run 0 "release verify --print" -- "$CTL" release verify --roster roster.signed --print release.signed
check "--print gives back the exact signed bytes" cmp -s out release.json
run 1 "release sign refuses a key that is not an operator of the roster" \
    "release.json: key .* \(ops2.key\) is not an operator of roster roster.signed" -- \
    "$CTL" release sign --key ops2.key --roster roster.signed -o x.signed release.json
"$SEAL" release ops2.key release.json rogue-rel.signed
run 1 "a release sealed by a non-operator key is refused" "rogue-rel.signed: .*may not sign" -- \
    "$CTL" release verify --roster roster.signed rogue-rel.signed
cp release.signed t.signed && flip t.signed 30
run 1 "one flipped release payload byte is refused" "t.signed: .*does not verify" -- \
    "$CTL" release verify --roster roster.signed t.signed
run 1 "a roster does not pass as a release" "roster.signed" -- \
    "$CTL" release verify --roster roster.signed roster.signed
cp roster.signed t.signed && flip t.signed 21
run 1 "release verify refuses a tampered roster" "t.signed: roster refused" -- \
    "$CTL" release verify --roster t.signed release.signed

# ---- key files
chmod 644 ops.key
run 3 "a world-readable secret key is refused" "ops.key: .*chmod 600" -- \
    "$CTL" roster sign --key ops.key -o x.signed roster.json
chmod 600 ops.key
run 3 "a missing file is a file error" "nosuch.json: cannot open" -- \
    "$CTL" roster sign --key ops.key nosuch.json
ln -s ops.key link.key
run 3 "a symlinked secret key is refused" "link.key: .*symbolic link.*real file's path\$" -- \
    "$CTL" roster sign --key link.key -o x.signed roster.json
check "... with one message of one line" test "$(wc -l <err)" = 1

# ---- help and usage
# help_shape_ok: the help in out has its parts in the one order every
# command uses, with exit codes 0..3 (and 4 for status) listed once.
help_shape_ok() {
    local shape
    shape=$(grep -E '^(usage: |options:$|exit codes:$|example:$|  -h, --help +show this help$|  [0-9]  |  staggerctl )' out |
        sed -E 's/^  ([0-9])  .*/\1/; s/^usage: .*/usage/; s/^  staggerctl .*/ex/; s/^  -h.*/-h/' | tr '\n' ' ')
    [[ "$shape" =~ ^"usage options: -h exit codes: 0 1 2 3 "("4 ")?"example: ex "$ ]] ||
        { echo "# help shape: $shape"; return 1; }
}
for c in "keygen" "roster sign" "roster verify" "release sign" "release verify" "sign-add" \
    "status" "roster publish" "release publish" "emergency update" "emergency rollback" \
    "emergency halt" "emergency resume" "emergency abandon" "emergency clear-grants" "emergency send"; do
    # shellcheck disable=SC2086 # the command words must split
    run 0 "staggerctl $c --help" -- "$CTL" $c --help
    check "$c --help has one layout: usage, options with -h, exit codes, an example" \
        help_shape_ok
    check "$c --help: exit 2 is a usage error" grep -q '^  2  .*usage error' out
    check "$c --help lists exit codes once" test "$(grep -c 'exit codes' out)" = 1
    # shellcheck disable=SC2086
    run 0 "staggerctl help $c" -- "$CTL" help $c
done
# status: one exit code list, the same in --help and docs/operations.md
"$CTL" status --help | sed -n '/^exit codes:/,/^$/p' | grep '^  [0-9]  ' >codes
check "status --help documents exit codes 0 to 4" test "$(cut -c3 codes | tr -d '\n')" = 01234
check "status --help: 4 is a halted or failed rollout, 2 no peer reached" \
    grep -qz "  2  no peer could be reached.*  4  rollout halted by an operator, an update failed" codes
check "docs/operations.md lists the same status exit codes, word for word" \
    bash -c 'while IFS= read -r l; do grep -qxF -- "    $l" "$1" || { echo "# docs lack: $l"; exit 1; }; done <codes' \
    _ "$SRC/docs/operations.md"
run 0 "staggerctl --help" -- "$CTL" --help
check "--help lists the commands and exit codes" grep -qz "roster sign.*release verify.*exit codes:" out
run 0 "staggerctl roster --help" -- "$CTL" roster --help
run 2 "no command is a usage error" -- "$CTL"
run 2 "an unknown command is a usage error" "unknown command 'frobnicate'" -- "$CTL" frobnicate
run 2 "an unknown sub-command is a usage error" "roster: unknown sub-command 'burn'" -- "$CTL" roster burn
run 2 "help for an unknown command is a usage error" -- "$CTL" help frobnicate
run 2 "roster sign without --key is a usage error" "--key is required" -- \
    "$CTL" roster sign roster.json
run 2 "release verify without --roster is a usage error" "--roster is required" -- \
    "$CTL" release verify release.signed
run 2 "an unknown option is a usage error" "unknown option '--force'" -- \
    "$CTL" roster verify --force roster.signed
run 2 "a missing file argument is a usage error, named as in the usage line" \
    "missing argument 'roster.signed'; usage: staggerctl roster verify .*roster.signed" -- \
    "$CTL" roster verify
run 2 "keygen without NAME says NAME, as its usage does" \
    "keygen: missing argument 'NAME'; usage: staggerctl keygen NAME" -- "$CTL" keygen
run 2 "an extra argument is a usage error" "unexpected argument 'two'" -- \
    "$CTL" roster verify one two
run 2 "an option without its value is a usage error" "missing value" -- \
    "$CTL" roster sign roster.json --key
run 2 "sign-add of a release needs --roster" "pass --roster" -- \
    "$CTL" sign-add --key ops.key release.signed

# ---- version
run 0 "staggerctl --version" -- "$CTL" --version
check "--version names the meson project version and the git revision when built from git" \
    version_ok staggerctl out
run 0 "staggerctl -V" -- "$CTL" -V

tap_end
