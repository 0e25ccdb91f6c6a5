#!/usr/bin/python3
"""test_watch.py: `staggerctl watch` on a terminal and off one (issue 12).

usage: /usr/bin/python3 test_watch.py STAGGERD STAGGERCTL
(prints TAP; skipped without tmux)

Four peers. In a tmux session of its own (a private server socket, killed
at the end by the test), `watch --until done --interval-s 0.5` runs on a
real terminal: its pane shows every member and the fleet healthy, with the
screen cleared (the pane holds one frame, not a scroll of them); a release
is published; the pane shows the wave moving, then watch exits 0 by itself
when every member runs the release. A second watch without --until exits 0
at Ctrl-C (tmux send-keys). Off a terminal (stdout a pipe) on the finished
fleet, `--until done` exits 0 at once with plain text: no escape codes, a
`--- ` time line and the table; and `--until halted` after an emergency
halt exits 4.

Why these fail without watch: the command does not exist (exit 2, usage),
and a watch that ignores --until or Ctrl-C never ends (the bounded waits
time out).
"""
import os
import shutil
import subprocess
import sys

import emergency_util as eu
from fleet import NEW_VERSION, main, rollout_policy

SOCK = "stagger-test-watch-%d" % os.getpid()


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", SOCK] + list(args), capture_output=True, text=True,
                       timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError("tmux %s: %s" % (" ".join(args), r.stderr))
    return r


def pane(name):
    return tmux("capture-pane", "-p", "-t", name).stdout


def watch_cmd(f, *extra):
    return [f.ctl_path, "watch", "--key", f.keyfile("op"), "--roster", f.roster,
            "--peer", f.order[0]] + list(extra)


def start_in_tmux(f, name, *extra):
    """A tmux session NAME running watch EXTRA..., then printing its exit code."""
    cmd = " ".join("'%s'" % a for a in watch_cmd(f, *extra))
    # The pane stays after its command ends (remain-on-exit), so the exit
    # line can be read; kill-server at the end takes it away.
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50",
         "%s; echo WATCH-EXIT=$?" % cmd)
    tmux("set-option", "-t", name, "remain-on-exit", "on")


def test(f, tap):
    try:
        body(f, tap)
    finally:
        tmux("kill-server", check=False)


def body(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    start_in_tmux(f, "until", "--until", "done", "--interval-s", "0.5")

    def shows_fleet():
        text = pane("until")
        bad = [n for n in f.order if n not in text]
        if "fleet healthy" not in text:
            bad.append("no 'fleet healthy'")
        return bad and ["pane lacks %s:\n%s" % (bad, text)]

    if not f.check_wait("watch on a terminal shows every member and 'fleet healthy'",
                        shows_fleet, 15):
        return
    # Two more refreshes (the time line changed twice): the screen is
    # redrawn, not scrolled.
    seen = []

    def redrawn():
        first = pane("until").splitlines()[:1]
        if first and first[0] not in seen:
            seen.append(first[0])
        return [] if len(seen) >= 3 else ["refreshes seen: %r" % seen]

    f.check_wait("the watch refreshed twice more", redrawn, 10)
    text = pane("until")
    tap.check(text.count("Ctrl-C to quit") == 1 and text.count("fleet loopback") == 1,
              "after more refreshes the pane holds one frame (the screen is cleared)", text)

    signed, _ = f.release()
    r = f.publish(signed, f.order[1])
    tap.check(r.returncode == 0, "release %s published" % NEW_VERSION, r.stdout + r.stderr)
    seen_wave = [False]

    def exited():
        text = pane("until")
        if "wave:" in text:
            seen_wave[0] = True
        return [] if "WATCH-EXIT=0" in text else ["pane:\n" + text]

    if not f.check_wait("watch --until done exits 0 by itself when every member runs %s"
                        % NEW_VERSION, exited, 120):
        return
    tap.check(seen_wave[0], "on the way it showed a wave in progress")
    bad = f.rolled_out()
    tap.check(not bad, "every peer agrees: all %d run %s" % (len(f.order), NEW_VERSION),
              "\n".join(bad))

    start_in_tmux(f, "ctrlc", "--interval-s", "0.5")
    f.check_wait("a watch without --until is running", lambda: [] if "Ctrl-C to quit" in
                 pane("ctrlc") else [pane("ctrlc")], 10)
    tmux("send-keys", "-t", "ctrlc", "C-c")
    f.check_wait("Ctrl-C ends it with exit 0", lambda: [] if "WATCH-EXIT=0" in pane("ctrlc")
                 else [pane("ctrlc")], 10)

    r = subprocess.run(watch_cmd(f, "--until", "done"), capture_output=True, text=True,
                       timeout=f.deadline(20))
    tap.check(r.returncode == 0 and "\033" not in r.stdout and r.stdout.startswith("--- ") and
              "fleet healthy" in r.stdout,
              "off a terminal, on the finished fleet: exit 0 at once, plain text under a time "
              "line", "rc %d: %r %s" % (r.returncode, r.stdout[:300], r.stderr))
    h = eu.emergency(f, "halt", ("op",), f.order[1])
    tap.check(h.returncode == 0, "emergency halt applied", h.stdout + h.stderr)
    r = subprocess.run(watch_cmd(f, "--until", "halted", "--interval-s", "0.5"),
                       capture_output=True, text=True, timeout=f.deadline(30))
    tap.check(r.returncode == 4 and "rollout halted" in r.stdout,
              "--until halted exits 4 once the halt reached it", "rc %d: %s %s"
              % (r.returncode, r.stdout[-300:], r.stderr))


if __name__ == "__main__":
    if not shutil.which("tmux"):
        print("1..0 # SKIP tmux missing (apt-get install tmux)")
        sys.exit(0)
    sys.exit(main(test, n=4, policy=rollout_policy(batch=1, soak_s=1, epoch_s=6)))
