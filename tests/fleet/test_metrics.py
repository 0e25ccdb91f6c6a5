#!/usr/bin/python3
"""test_metrics.py: the Prometheus endpoint (issue 12; docs/operations.md,
"Metrics").

usage: /usr/bin/python3 test_metrics.py STAGGERD STAGGERCTL

Four peers, each with "metrics" on its own loopback port, except relay2,
whose port the test holds with a listening socket of its own before the
daemons start. Checked: relay2 logs `WARN  [shell] metrics: cannot listen
on ...: Address already in use; running without them` and still takes part
(the fleet converges); every other peer answers GET /metrics with 200 and
the text format's content type, and the text passes `promtool check
metrics` (Debian's prometheus package; the check is skipped, and said so,
when promtool is missing); each scrape lists all four members up and
healthy with their versions (`stagger_member_info`, `stagger_member_up`,
`stagger_member_healthy`), bp's hook warning (`stagger_member_warning`),
counts health hook runs, shows no halt; after an
emergency halt `stagger_rollout_halted` is 1 on every scraped peer and
`stagger_commands_applied_seq` is the command's sequence; a path other than
/metrics is 404, a POST 405.

Why these fail without the endpoint: there is no server on the port (the
scrape is refused), and a daemon whose metrics port is taken would exit or
stay silent about it.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import emergency_util as eu
from fleet import main

TAKEN = "relay2"


def scrape(f, name, path="/metrics", method="GET"):
    """(status, content type, body) of one request to NAME's endpoint."""
    url = "http://127.0.0.1:%d%s" % (f.metrics_port(name), path)
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=f.deadline(5)) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def samples(text, name):
    """{labels text: value} of metric NAME's samples."""
    out = {}
    for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


def test(f, tap):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", f.metrics_port(TAKEN)))
    holder.listen(1)
    try:
        body(f, tap)
    finally:
        holder.close()


def body(f, tap):
    with open(f.dir + "/bp/warn", "w") as w:  # a healthy node's warning (fleet.py HOOK)
        w.write("WARN KES: 5 periods left\n")
    f.start_all()
    if not f.converge(timeout=30):
        return
    warn = [l for l in f.log_text(TAKEN).splitlines()
            if "WARN  [shell] metrics: cannot listen on 127.0.0.1:%d: Address already in use; "
               "running without them" % f.metrics_port(TAKEN) in l]
    tap.check(warn, "%s, whose metrics port is taken, says so in a WARNING and runs on (the "
              "fleet converged)" % TAKEN, f.log_tail(TAKEN, 10))
    scraped = [n for n in f.order if n != TAKEN]
    texts = {}
    for n in scraped:
        code, ctype, text = scrape(f, n)
        texts[n] = text
        tap.check(code == 200 and ctype.startswith("text/plain; version=0.0.4"),
                  "%s: GET /metrics is 200, %s" % (n, ctype), "%d %s" % (code, text[:200]))
    promtool = shutil.which("promtool")
    if promtool:
        for n in scraped:
            r = subprocess.run([promtool, "check", "metrics"], input=texts[n],
                               capture_output=True, text=True, timeout=30)
            tap.check(r.returncode == 0, "%s's scrape passes promtool check metrics" % n,
                      r.stdout + r.stderr)
    else:
        tap.note("promtool missing (apt-get install prometheus): format not checked")

    def fleet_seen(n):
        text = scrape(f, n)[2]
        info = samples(text, "stagger_member_info")
        bad = []
        for m in f.order:
            version = f.status(m).row(m) or {}
            want = '{member="%s",' % m
            rows = [k for k in info if k.startswith(want)]
            if len(rows) != 1:
                bad.append("%s: member_info for %s: %r" % (n, m, rows))
            elif 'version="%s"' % version.get("version") not in rows[0]:
                bad.append("%s: %s %r, status says %r" % (n, m, rows[0], version.get("version")))
            elif 'stagger="%s"' % f.stagger_version not in rows[0]:
                bad.append("%s: %s %r, staggerd --version says %r"
                           % (n, m, rows[0], f.stagger_version))
            for metric in ("stagger_member_up", "stagger_member_healthy"):
                v = samples(text, metric).get('{member="%s"}' % m)
                if v != 1:
                    bad.append("%s: %s{member=%s} %r" % (n, metric, m, v))
        warned = samples(text, "stagger_member_warning")
        if warned.get('{member="bp"}') != 1 or sum(warned.values()) != 1:
            bad.append("%s: stagger_member_warning %r (bp only)" % (n, warned))
        runs = samples(text, "stagger_hook_runs_total").get('{hook="health",result="ok"}', 0)
        if runs < 1:
            bad.append("%s: health hook runs ok %r" % (n, runs))
        if samples(text, "stagger_fleet_forgers").get("") != 0:
            bad.append("%s: forgers %r (no hook says forging=)"
                       % (n, samples(text, "stagger_fleet_forgers")))
        if samples(text, "stagger_fleet_capability").get('{capability="promote"}') != 1:
            bad.append("%s: stagger_fleet_capability %r (promote: every member has it)"
                       % (n, samples(text, "stagger_fleet_capability")))
        if samples(text, "stagger_rollout_halted").get("") != 0:
            bad.append("%s: halted %r" % (n, samples(text, "stagger_rollout_halted")))
        return bad

    f.check_wait("every scraped peer lists all %d members up and healthy with the versions "
                 "status shows, bp's warning, health hook runs, and no halt" % len(f.order),
                 lambda: [b for n in scraped for b in fleet_seen(n)], 20)

    r = eu.emergency(f, "halt", ("op",), scraped[0])
    seq = eu.out_seq(r.stdout)
    tap.check(r.returncode == 0 and seq, "emergency halt applied", r.stdout + r.stderr)

    def halted():
        bad = []
        for n in scraped:
            text = scrape(f, n)[2]
            if samples(text, "stagger_rollout_halted").get("") != 1 or \
                    samples(text, "stagger_commands_applied_seq").get("") != seq:
                bad.append("%s: halted %r, applied seq %r" % (
                    n, samples(text, "stagger_rollout_halted"),
                    samples(text, "stagger_commands_applied_seq")))
        return bad

    f.check_wait("after the halt every scraped peer shows stagger_rollout_halted 1 and "
                 "stagger_commands_applied_seq %s" % seq, halted, 20)
    code = scrape(f, scraped[0], "/nothing")[0]
    tap.check(code == 404, "GET /nothing is 404", str(code))
    code = scrape(f, scraped[0], method="POST")[0]
    tap.check(code == 405, "POST /metrics is 405", str(code))


if __name__ == "__main__":
    sys.exit(main(test, n=4, metrics=True))
