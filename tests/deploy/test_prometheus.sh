#!/usr/bin/env bash
# test_prometheus.sh: deploy/prometheus's alert rules load (promtool check
# rules), each alert fires on the series that should fire it and stays
# silent on the others (promtool test rules, stagger.rules.test.yml), and
# every metric a rule or the dashboard (deploy/grafana) names is one staggerd exports
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
check "... 9 rules" grep -q "SUCCESS: 9 rules found" out
run 0 "promtool test rules: every alert's unit tests pass" -- \
    bash -c 'cd "$1" && promtool test rules stagger.rules.test.yml' _ "$P"
sed 's/StaggerUpdateFailed/StaggerUpdateFailedX/' "$P/stagger.rules.yml" >broken.rules.yml
sed "s|stagger.rules.yml|$PWD/broken.rules.yml|" "$P/stagger.rules.test.yml" >broken.test.yml
run 1 "... and they fail when an alert is renamed" -- promtool test rules broken.test.yml
check "... saying FAILED" grep -q FAILED err
# The Grafana dashboard: JSON, every panel has a query, and each query is
# valid PromQL (promtool checks it as a recording rule).
G=$SRC/deploy/grafana/stagger.json
run 0 "deploy/grafana/stagger.json is a dashboard: JSON, every panel with a query" -- \
    /usr/bin/python3 - "$G" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for p in d["panels"] if p["type"] != "row"]
assert d["title"] and d["uid"] and len(panels) >= 10, "too few panels"
with open("dash.rules.yml", "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, p in enumerate(panels):
        assert p.get("targets"), "panel %r has no query" % p["title"]
        for t in p["targets"]:
            out.write("      - record: dashboard_query_%d_%s\n        expr: %s\n"
                      % (i, t["refId"], json.dumps(t["expr"])))
PY
run 0 "... and every query is valid PromQL (promtool check rules)" -- promtool check rules dash.rules.yml
cat "$P/stagger.rules.yml" "$G" | grep -oE 'stagger_[a-z_]+' | sort -u >used
missing=$(while read -r m; do
    grep -q "\"$m\"\|\"${m%_total}_total\"\|$m[{ \"]" "$SRC/node/shell/metrics.c" || echo "$m"
done <used)
check "every metric the rules and the dashboard name is exported by staggerd ($(wc -l <used) names)" \
    test -z "$missing"
[ -z "$missing" ] || echo "# not exported: $missing"
echo "1..$n"
