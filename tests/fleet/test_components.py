#!/usr/bin/python3
"""test_components.py: one staggerd per machine manages two components
(issue 14; docs/operations.md, "Components"): `cardano-node`, the
primary, with the stand-in hooks of the other fleet tests, and `os`, with
the same stand-ins in a directory of its own whose install announces a
reboot (away=S) and waits to be "rebooted": the test stops the daemon
(SIGTERM, as systemd would), kills the hook, and starts the daemon again a
moment later with the same state directory.

Eight peers; a cardano-node release and an OS release are signed and
published with staggerctl one right after the other, so both are pending
together. Checked:

- at every status poll (one long-lived client, every running peer asked at
  once), never more than `policy.batch` machines disrupted, across both
  components: a machine is disrupted while its own status shows it
  elected, installing, verifying, soaking or rolling back, or while it is
  down for its reboot; and from the logs afterwards (each machine's
  elected-to-done spans, both components), the same bound;
- a rebooting machine is never shown suspect or dead by a peer that
  answers (its liveness is `rebooting`), and no peer's log has it suspected
  or dead between its announcement and its return;
- every member ends on both new versions, in every peer's view, with
  nothing pending on either component's rollout;
- each component's holdback pair (the standby and the first dark relay)
  updates that component only after every other member finished it (the
  times of the executor's moves in the logs);
- the operator's view: `staggerctl status` shows each member's os version
  and health under its row and a line for the os release; the metrics show
  `stagger_member_component_info` and the os rollout; the status page has
  each member's os in its components column, and a row for the finished os
  rollout (release and id, waiting line, 0 pending, no wave, no failure)
  served exactly as bp's `rollout.components` says, escaped.

usage: /usr/bin/python3 test_components.py STAGGERD STAGGERCTL (prints TAP)
"""
import calendar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from fleet import (HOOK, NEW_VERSION, UPDATE_HOOK_HEAD, UPDATE_HOOKS, busy_spans, main,
                   max_overlap, page_component_rollouts, page_component_row, rollout_policy)

BATCH = 2
POLICY = rollout_policy(batch=BATCH, soak_s=2, epoch_s=8, unavailable_max=BATCH)
OS_OLD, OS_NEW = "2026.11", "2026.12"
OS_BUILD = "a" * 64
AWAY_S = 30       # announced; the stand-in reboot is back long before
REBOOT_S = 1.0    # how long a "reboot" keeps the daemon down
DISRUPTED = {"elected", "installing", "verifying", "soaking", "rolling-back"}


def os_dir(f, name):
    return os.path.join(f.nodes[name].dir, "os")


def setup_os(f, name):
    """NAME's os component: stand-in hooks in NODE/os (the files they read
    and write are there: version, build, mode, hooks.log, reboot-now), and
    the config's "components" entry pointing at them."""
    d = os_dir(f, name)
    os.mkdir(d)
    hooks = {"health": os.path.join(d, "health.sh")}
    with open(hooks["health"], "w") as h:
        h.write(HOOK % d)
    for kind, text in UPDATE_HOOKS.items():
        hooks[kind] = os.path.join(d, kind + ".sh")
        with open(hooks[kind], "w") as h:
            h.write(UPDATE_HOOK_HEAD % (kind, d) + text)
    for path in hooks.values():
        os.chmod(path, 0o755)
    for field, value in (("version", OS_OLD), ("mode", "healthy"), ("reboot-away", AWAY_S)):
        with open(os.path.join(d, field), "w") as h:
            h.write("%s\n" % value)
    node = f.nodes[name]
    cfg = json.load(open(node.config))
    cfg["components"] = [{"name": "os", "hooks": hooks}]
    with open(node.config, "w") as h:
        json.dump(cfg, h, indent=1)


def os_release(f):
    """The OS release, signed with staggerctl as an operator would."""
    arts = {fl: {"url": "https://example.org/os/%s-%s.pkgs" % (OS_NEW, fl), "sha256": OS_BUILD}
            for fl in ("debian", "nix")}
    return f.release(version=OS_NEW, stem="os-release", component="os", artifacts=arts)


def os_hooks_log(f, name):
    try:
        lines = open(os.path.join(os_dir(f, name), "hooks.log")).read().splitlines()
    except FileNotFoundError:
        return []
    return [l.split(None, 3) for l in lines if len(l.split(None, 3)) == 4]


class Reboots:
    """The stand-in reboots: a machine whose os install asked for it
    (NODE/os/reboot-now) is stopped with its hook, and started again
    REBOOT_S later. down: name -> (when it went, when it comes back,
    monotonic; when it went, Unix ms); done: (name, Unix ms down, up)."""

    def __init__(self, f, tap):
        self.f, self.tap = f, tap
        self.down, self.done, self.notes = {}, [], {}

    def step(self):
        now = time.monotonic()
        for name in self.f.order:
            if name in self.down:
                if now >= self.down[name][1]:
                    self.f.start(name)
                    self.done.append((name, self.down[name][2], int(time.time() * 1000)))
                    del self.down[name]
                continue
            marker = os.path.join(os_dir(self.f, name), "reboot-now")
            if not os.path.exists(marker) or not self.f.alive(name):
                continue
            # systemd stops the whole unit at once: the daemon and its hook.
            went = int(time.time() * 1000)
            os.kill(self.f.pid(name), signal.SIGTERM)
            begins = [h for h in os_hooks_log(self.f, name)
                      if h[1] == "install" and h[3].startswith("begin pid")]
            try:
                os.killpg(int(begins[-1][3].split()[-1]), signal.SIGTERM)
            except (IndexError, ValueError, ProcessLookupError):
                pass
            os.unlink(marker)
            self.f.stop(name)
            notes = [h[3] for h in os_hooks_log(self.f, name)
                     if h[1] == "install" and h[3].startswith("away")]
            self.notes[name] = notes[-1] if notes else ""
            self.down[name] = (time.monotonic(), time.monotonic() + REBOOT_S, went)


def comp(row, name):
    for c in row.get("components") or []:
        if c.get("component") == name:
            return c
    return None


def poll_problems(f, views, down, batch):
    """What one poll's views break: more than BATCH machines disrupted (by
    their own status, or down for a reboot), or a peer showing a rebooting
    machine suspect or dead."""
    bad, busy = [], set(down)
    for peer, st in views.items():
        row = st.row(peer) if st.doc else None
        if row is not None and row.get("phase") in DISRUPTED:
            busy.add(peer)
        for name in down:
            r = st.row(name) if st.doc else None
            if r is not None and r.get("liveness") in ("suspect", "dead"):
                bad.append("%s shows %s %s while it reboots" % (peer, name, r["liveness"]))
    if len(busy) > batch:
        bad.append("%d machines disrupted at once: %s (down for a reboot: %s)"
                   % (len(busy), sorted(busy), sorted(down)))
    return bad, busy


def all_done(f, views):
    """Problems until every view shows every member on both new versions,
    both rollouts with nothing pending."""
    bad = []
    for peer, st in views.items():
        if st.doc is None:
            bad.append("%s: no status" % peer)
            continue
        ro = st.doc.get("rollout") or {}
        more = [r for r in ro.get("components") or [] if r.get("component") == "os"]
        if ro.get("pending") != 0 or not more or more[0].get("pending") != 0:
            bad.append("%s: pending cardano-node %s, os %s" % (
                peer, ro.get("pending"), more[0].get("pending") if more else "-"))
        for name in f.order:
            r = st.row(name) or {}
            c = comp(r, "os") or {}
            if r.get("version") != NEW_VERSION or c.get("version") != OS_NEW:
                bad.append("%s sees %s on %s and os %s" % (peer, name, r.get("version"),
                                                            c.get("version")))
    return bad


SWIM_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z \S+ +\w+ +\[swim\] "
                       r"(\S+): \w+ -> (suspect|dead)")


def flapped(f, name, since_ms, until_ms):
    """The lines in which a peer suspected NAME or declared it dead while it
    was down for its reboot (Unix ms since_ms to until_ms, the test's own
    clock readings around the stop and the start). A busy machine's false
    suspicions before or after are not the reboot's; nor does a peer that
    never probed it in its short absence say "rebooting -> alive"."""
    out = []
    for n in f.order:
        for line in f.log_text(n).splitlines():
            m = SWIM_LINE.match(line)
            if not m or m.group(3) != name:
                continue
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 1000 + \
                int(m.group(2))
            if since_ms <= t <= until_ms:
                out.append(line)
    return out


def test(f, tap):
    for name in f.order:
        setup_os(f, name)
    f.start_all()
    if not f.converge(timeout=30):
        return
    f.check_wait("every peer shows every member's os %s healthy" % OS_OLD,
                 lambda: f.views_problems(lambda p, doc: [
                     "%s sees %s os %r" % (p, m["name"], comp(m, "os"))
                     for m in doc["members"]
                     if (comp(m, "os") or {}).get("version") != OS_OLD or
                     comp(m, "os")["health"] != "healthy"]), 20)

    node_signed, _ = f.release()
    os_signed, _ = os_release(f)
    for what, signed in (("cardano-node %s" % NEW_VERSION, node_signed), ("os " + OS_NEW, os_signed)):
        r = f.publish(signed, "relay1")
        tap.check(r.returncode == 0 and "adopted by relay1" in r.stdout,
                  "staggerctl release publish --peer relay1: %s adopted" % what,
                  r.stdout + r.stderr)

    # Both roll out: 16 updates, two machines at a time, each a few seconds
    # plus its soak, an os reboot each, and per component the proof (up to
    # an epoch) before its holdback pair.
    reboots = Reboots(f, tap)
    problems, most, polls, status_text = [], 0, 0, None
    deadline = time.monotonic() + f.deadline(150)
    t0 = time.monotonic()
    finished = False
    while time.monotonic() < deadline:
        reboots.step()
        up = [n for n in f.order if n not in reboots.down and f.alive(n)]
        views = f.status_all(up)
        polls += 1
        bad, busy = poll_problems(f, views, reboots.down, BATCH)
        most = max(most, len(busy))
        problems += ["poll %d (%.1f s): %s" % (polls, time.monotonic() - t0, b) for b in bad]
        shown = [p for p, st in views.items() for n in reboots.down
                 if (st.row(n) or {}).get("liveness") == "rebooting"]
        if status_text is None and shown:
            # What the operator sees while a machine reboots: one staggerctl.
            status_text = f.status(shown[0], as_json=False).out
        if not reboots.down and len(up) == len(f.order) and not all_done(f, views):
            finished = True
            break
        time.sleep(0.15)  # poll interval of a wait with a deadline
    took = time.monotonic() - t0
    tap.check(finished, "every peer shows all 8 members on cardano-node %s and os %s, both "
              "rollouts done (%.1f s)" % (NEW_VERSION, OS_NEW, took),
              "\n".join(all_done(f, f.status_all())[:20]))
    tap.check(not problems and polls > 20,
              "at every one of %d polls: at most %d machines disrupted across both components "
              "(most seen %d), and no rebooting machine shown suspect or dead"
              % (polls, BATCH, most), "\n".join(problems[:20]))

    rebooted = sorted({n for n, _, _ in reboots.done})
    tap.check(rebooted == sorted(f.order),
              "every machine rebooted once for its os install (%d)" % len(reboots.done),
              repr(reboots.done))
    answered = {n: v for n, v in reboots.notes.items() if v != "away %d answered away ok" % AWAY_S}
    tap.check(not answered, "each os install's away=%d was answered 'away ok' before its reboot"
              % AWAY_S, repr(answered))
    flaps = [l for n, down, up in reboots.done for l in flapped(f, n, down, up)]
    tap.check(not flaps, "no peer's log has a machine suspected or dead while it was down for "
              "its reboot", "\n".join(flaps[:20]))

    # ---- from the logs: machine-wide spans, and each component's holdback pair
    moves = {n: f.moves(n) for n in f.order}
    spans = [s for n in f.order for s in busy_spans(moves[n])]
    worst, at = max_overlap(spans)
    tap.check(worst <= BATCH, "from the logs: at most %d machines between elected and done at "
              "once, both components counted (%d)" % (BATCH, worst),
              "at %s: %r" % (at, spans))
    hold = f.holdback()
    for component, version in (("cardano-node", NEW_VERSION), ("os", OS_NEW)):
        done = {n: [m.t for m in moves[n] if m.version == version and m.new == "done"]
                for n in f.order}
        elected = {n: [m.t for m in moves[n] if m.version == version and m.new == "elected"]
                   for n in f.order}
        missing = [n for n in f.order if not done[n] or not elected[n]]
        if missing:
            tap.check(False, "%s: every member updated it (elected ... done)" % component,
                      repr(missing))
            continue
        last_other = max(done[n][-1] for n in f.order if n not in hold)
        first_hold = min(elected[n][0] for n in hold)
        tap.check(first_hold >= last_other,
                  "%s: its holdback pair (%s) was elected only after every other member was "
                  "done with it (%d ms after)" % (component, ", ".join(sorted(hold)),
                                                 first_hold - last_other),
                  "last other done %d, first holdback elected %d" % (last_other, first_hold))

    # ---- the operator's view
    text = f.status("bp", as_json=False).out
    tap.check(re.search(r"^ +os %s healthy$" % re.escape(OS_NEW), text, re.M) and
              re.search(r"^release os %s \(\w+\), 0 member\(s\) still to update$"
                        % re.escape(OS_NEW), text, re.M),
              "staggerctl status: each member's os version and health under its row, and the os "
              "release's line", text)
    tap.check(status_text is not None and "rebooting (announced)" in status_text and
              re.search(r"^release os %s " % re.escape(OS_NEW), status_text, re.M),
              "staggerctl status while a machine reboots says so and shows the os rollout",
              status_text or "no machine was down when looked")
    metrics = f.http("bp", "/metrics")
    want = ['stagger_member_component_info{member="%s",component="os",version="%s"} 1'
            % (n, OS_NEW) for n in f.order]
    want += ['stagger_member_component_healthy{member="%s",component="os"} 1' % n
             for n in f.order]
    want += ['stagger_rollout_component_pending_members{component="os"} 0',
             'stagger_rollout_component_failed{component="os"} 0']
    lacking = [w for w in want if w not in metrics.splitlines()]
    tap.check(not lacking and re.search(r'^stagger_rollout_release_info\{component="os",'
                                        r'version="%s",' % re.escape(OS_NEW), metrics, re.M),
              "metrics: each member's os version and health, and the os rollout",
              "\n".join(lacking[:10]))
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True,
                           text=True, timeout=f.deadline(30))
        tap.check(r.returncode == 0, "the scrape with the component series passes promtool check "
                  "metrics", r.stdout + r.stderr)
    else:
        tap.note("promtool missing (apt-get install prometheus): format not checked")
    page = f.http("bp")
    rows = re.findall(r'<tr data-member="([^"]+)">.*?</tr>', page)
    cells = re.findall(r'os %s <span class="good">healthy</span></td></tr>' % re.escape(OS_NEW),
                       page)
    tap.check(sorted(rows) == sorted(f.order) and len(cells) == len(f.order),
              "the status page's components column shows each member's os %s healthy" % OS_NEW,
              "rows %r, %d cells" % (rows, len(cells)))
    # The finished os rollout, as bp's status says it and its page shows it.
    more = (f.status("bp").doc or {}).get("rollout", {}).get("components") or []
    shown = page_component_rollouts(page)
    want = {ro.get("component"): page_component_row(ro) for ro in more}
    tap.check(list(want) == ["os"] and shown == want and
              want["os"][1][1].startswith("<b>%s</b> (id " % OS_NEW) and want["os"][1][3] == "0",
              "the status page's other components' rollouts: one row, os %s with its id, its "
              "waiting line, 0 pending, no wave, nothing failed, as bp's rollout.components"
              % OS_NEW, "page %r\nstatus %r" % (shown, more))
    deaths = re.search(r"^stagger_deaths_total (\d+)", metrics, re.M)
    tap.note("bp counted %s deaths (any member, a busy machine's flaps included)"
             % (deaths.group(1) if deaths else "?"))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY, metrics=True))
