#!/usr/bin/python3
"""test_page.py: the status page in a real browser (issue 12; docs/operations.md,
"The status page").

usage: /usr/bin/python3 test_page.py STAGGERD STAGGERCTL
(prints TAP; skipped without Debian's chromium)

Four peers with their metrics endpoints on. Headless Chromium loads
relay1's page (http://127.0.0.1:PORT/) three times and the test reads the
DOM Chromium built (--dump-dom), not the bytes the server sent:

1. the converged fleet: a table row per member with its role, flavour and
   version, every one healthy and alive; the rollout waits for "no release
   published"; no commands;
2. a release whose first node's install fails: the rollout section is
   marked failed, its waiting line names the failed node and the hook's
   reason, and the timeline shows that node failed;
3. an emergency halt with --reason: the rollout section is marked halted,
   its waiting line gives the operator's reason, and the commands table
   lists the halt with its reason, applied by all four.

The last load also takes a screenshot (a PNG of the page, kept in the
test's directory). Chromium runs in a session of its own, killed by its
process group at the end.

Why these fail without the page: the endpoint answers / with 404 (the
first DOM has no fleet table), and a page that ignored the halt's reason
would not show it.
"""
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import emergency_util as eu
from fleet import main

PEER = "relay1"
REASON = "page test: fork seen on the new version"


class Dom(html.parser.HTMLParser):
    """The text of every element with an id, the classes of those elements,
    and the member rows and timeline entries (data-member) with their cells."""

    def __init__(self, text):
        super().__init__()
        self.text, self.cls, self.rows, self.marks = {}, {}, {}, {}
        self._open = []  # (tag, id or None, data-member or None)
        self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("meta", "br", "img", "link"):
            return
        ident = a.get("id")
        if ident:
            self.text[ident] = ""
            self.cls[ident] = a.get("class", "")
        member = a.get("data-member")
        if tag == "tr" and member:
            self._row = member
            self.rows[member] = []
        elif member:
            self.marks[member] = a.get("class", "")
        if tag == "td" and self._row:
            self.rows[self._row].append("")
        self._open.append((tag, ident))

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.text[ident] += data
        if self._row and self.rows[self._row]:
            self.rows[self._row][-1] += data


def chromium(f, url, *flags):
    """Run headless Chromium on url; (exit code, stdout). Its own session,
    so the whole process group goes at the end whatever happens."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=f.dir)
    cmd = [shutil.which("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile,
           "--virtual-time-budget=2000"] + list(flags) + [url]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=f.deadline(60))
        return p.returncode, out
    except subprocess.TimeoutExpired:
        return None, ""
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def load(f, tap, what):
    url = "http://127.0.0.1:%d/" % f.metrics_port(PEER)
    rc, out = chromium(f, url, "--dump-dom")
    tap.check(rc == 0 and "<table" in out, "Chromium loaded %s's page (%s)" % (PEER, what),
              "rc %r: %s" % (rc, out[:500]))
    return Dom(out)


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    dom = load(f, tap, "converged")
    bad = []
    for n in f.order:
        row = dom.rows.get(n)
        want = f.status(PEER).row(n) or {}
        if not row:
            bad.append("no row for %s" % n)
            continue
        # member, role, flavour, version, stagger, caps, health, liveness, ...
        if row[1:8] != [want.get("role"), want.get("flavour"), want.get("version"),
                        f.stagger_version, " ".join(want.get("caps") or []), "healthy",
                        "alive"] or "promote" not in row[5].split():
            bad.append("%s: %r, status says %r, staggerd --version %r"
                       % (n, row[:8], want, f.stagger_version))
    tap.check(not bad and len(dom.rows) == len(f.order),
              "the fleet table has a row per member with role, flavour, version, stagger "
              "version and capabilities as status says, each healthy and alive", "\n".join(bad) + "\nrows: %r" % dom.rows)
    tap.check(dom.text.get("waiting", "").strip() == "no release published" and
              "none applied" in dom.text.get("commands", ""),
              "the rollout waits for 'no release published'; no commands",
              "waiting %r, commands %r" % (dom.text.get("waiting"), dom.text.get("commands")))

    signed, rid = f.release()
    first = [n for n, _ in f.expected_order(rid)][0]
    f.set_update(first, fail_install="test: a broken build")
    r = f.publish(signed, PEER)
    tap.check(r.returncode == 0, "release published", r.stdout + r.stderr)
    if not f.check_wait("%s sees the update fail on %s" % (PEER, first),
                        lambda: eu.rollout_field(f, "failed", lambda v: bool(v), [PEER]), 60):
        return
    dom = load(f, tap, "failed update")
    waiting = dom.text.get("waiting", "")
    tap.check("failed" in dom.cls.get("rollout", "") and "failed on %s" % first in waiting and
              "test: a broken build" in waiting,
              "the rollout is marked failed and says why: %s and the hook's reason" % first,
              "class %r, waiting %r" % (dom.cls.get("rollout"), waiting))
    tap.check("failed" in dom.marks.get(first, "").split(),
              "the timeline shows %s failed" % first, repr(dom.marks))

    h = eu.emergency(f, "halt", ("op",), PEER, "--reason", REASON)
    seq = eu.out_seq(h.stdout)
    tap.check(h.returncode == 0 and seq, "emergency halt applied", h.stdout + h.stderr)
    if not f.check_wait("every peer applied the halt", lambda: eu.applied_everywhere(f, seq),
                        15):
        return
    shot = os.path.join(f.dir, "page.png")
    rc, _ = chromium(f, "http://127.0.0.1:%d/" % f.metrics_port(PEER), "--screenshot=" + shot,
                     "--window-size=1280,1000")
    png = open(shot, "rb").read() if os.path.exists(shot) else b""
    tap.check(rc == 0 and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10000,
              "Chromium took a screenshot of the page (%d bytes)" % len(png), "rc %r" % rc)
    dom = load(f, tap, "halted")
    waiting = dom.text.get("waiting", "")
    tap.check("halted" in dom.cls.get("rollout", "").split() and
              waiting.strip() == "halted by the operator: " + REASON,
              "the halted fleet's page shows the halt and the operator's reason",
              "class %r, waiting %r" % (dom.cls.get("rollout"), waiting))
    cmds = dom.text.get("commands", "")
    tap.check(REASON in cmds and "halt" in cmds and "4 of 4 members" in cmds,
              "the commands table lists the halt with its reason, applied by 4 of 4", cmds)


if __name__ == "__main__":
    if not shutil.which("chromium"):
        print("1..0 # SKIP chromium missing (apt-get install chromium)")
        sys.exit(0)
    sys.exit(main(test, n=4, metrics=True))
