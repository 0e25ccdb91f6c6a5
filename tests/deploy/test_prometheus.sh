#!/usr/bin/env bash
# test_prometheus.sh: deploy/prometheus's alert rules load (promtool check
# rules), each alert fires on the series that should fire it and stays
# silent on the others (promtool test rules, stagger.rules.test.yml), and
# every metric a rule or the dashboard names is one staggerd exports
# (node/shell/metrics.c), so a renamed metric cannot leave an alert blind.
# usage: test_prometheus.sh   (prints TAP; skips without promtool)
set -uo pipefail
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../cli/tap.sh"
if ! command -v promtool >/dev/null; then
    echo "1..0 # SKIP promtool (Debian package prometheus) not installed"
    exit 0
fi
P=$SRC/deploy/prometheus
run 0 "promtool check rules deploy/prometheus/stagger.rules.yml" -- \
    promtool check rules "$P/stagger.rules.yml"
check "... 7 rules" grep -q "SUCCESS: 7 rules found" out
run 0 "promtool test rules: every alert's unit tests pass" -- \
    bash -c 'cd "$1" && promtool test rules stagger.rules.test.yml' _ "$P"
sed 's/StaggerUpdateFailed/StaggerUpdateFailedX/' "$P/stagger.rules.yml" >broken.rules.yml
sed "s|stagger.rules.yml|$PWD/broken.rules.yml|" "$P/stagger.rules.test.yml" >broken.test.yml
run 1 "... and they fail when an alert is renamed" -- promtool test rules broken.test.yml
check "... saying FAILED" grep -q FAILED err
grep -oE 'stagger_[a-z_]+' "$P/stagger.rules.yml" | sort -u >used
missing=$(while read -r m; do
    grep -q "\"$m\"\|\"${m%_total}_total\"\|$m[{ \"]" "$SRC/node/shell/metrics.c" || echo "$m"
done <used)
check "every metric the rules name is exported by staggerd ($(wc -l <used) names)" \
    test -z "$missing"
[ -z "$missing" ] || echo "# not exported: $missing"
echo "1..$n"
