#!/usr/bin/env bash
# test_ansible.sh: deploy/ansible passes ansible-playbook --syntax-check and
# ansible-lint (production profile, offline); a broken copy does not. The
# role's run against a throwaway root is in suite package (test_deb.sh).
# usage: test_ansible.sh   (prints TAP; skips without ansible)
set -uo pipefail
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../cli/tap.sh"
if ! command -v ansible-playbook >/dev/null || ! command -v ansible-lint >/dev/null; then
    echo "1..0 # SKIP ansible-core and ansible-lint (Debian packages) not installed"
    exit 0
fi
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_LOCAL_TEMP=$T/tmp HOME=$T
cp -r "$SRC/deploy/ansible" site
run 0 "ansible-playbook --syntax-check site.yml" -- \
    ansible-playbook -i site/inventory.example.ini --syntax-check site/site.yml
run 0 "ansible-lint: the role and playbook pass (production profile)" -- \
    bash -c 'cd site && ansible-lint --offline --profile production --nocolor'
check "... with no failure and no warning" grep -q "Passed with production profile: 0 failure(s), 0 warning(s)" err
cp -r site broken
sed -i 's/ansible.builtin.copy:/copy:/' broken/roles/stagger/tasks/main.yml
run 2 "... and it does fail a copy of the role that uses a short module name" "fqcn" -- \
    bash -c 'cd broken && ansible-lint --offline --profile production --nocolor'
printf -- '- name: x\n  hosts: all\n  tasks:\n  - ansible.builtin.nosuch: {}\n' >broken/bad.yml
run 4 "--syntax-check fails a play with an unknown module" "nosuch" -- \
    ansible-playbook -i site/inventory.example.ini --syntax-check broken/bad.yml

tap_end
