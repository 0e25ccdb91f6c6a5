#!/usr/bin/python3
"""test_reboot.py: planned reboots (issue 14) on 8 real peers. Two relays
need the release; the others run it already. Each one's install hook, like
the os-debian hook, announces an absence (away=S), waits for staggerd's
answer on STAGGER_ANSWER_FD, and then "reboots": the test stops the daemon
(SIGTERM, as systemd would), kills the hook, and starts the daemon again
later with the same state directory.

- The first announces 20 s and is back after ~4 s: every peer shows it
  `rebooting` (staggerctl status says so too), never suspect or dead; back,
  it resumes from its journal in verifying (no second install, no
  rollback), ends done, and the rollout goes on.
- The second announces 4 s and stays away longer: rebooting first, then,
  its window over on the peers' clocks, suspect and dead as any crash;
  back, it finishes too.

usage: /usr/bin/python3 test_reboot.py STAGGERD STAGGERCTL (prints TAP)
"""
import os
import signal
import sys
import time

from fleet import MEMBERS, NEW_VERSION, main, rollout_policy

POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=8)
UPDATING = ("relay2", "relay3")  # neither is in the holdback pair
VERSIONS = {n: NEW_VERSION for n, _ in MEMBERS if n not in UPDATING}


def reboot(f, tap, name):
    """Wait until NAME's install hook asked for the reboot, then stop the
    daemon and kill the hook, as a reboot does; returns the hook's note."""
    now = os.path.join(f.dir, name, "reboot-now")
    if not f.check_wait("%s's install hook announced its absence and asks for the reboot" % name,
                        lambda: [] if os.path.exists(now) else ["no reboot-now yet"], 30):
        return None
    note = [h[3] for h in f.hooks_log(name) if h[1] == "install" and h[3].startswith("away")]
    # systemd stops the whole unit at once: the daemon and its hook.
    os.kill(f.pid(name), signal.SIGTERM)
    pid = int([h for h in f.installs(name)][-1][3].split()[-1])
    try:
        os.killpg(pid, signal.SIGTERM)  # its own session: the pid is the group
    except ProcessLookupError:
        pass
    os.unlink(now)
    f.stop(name)
    return note[-1] if note else ""


def flapped(f, name, peers):
    """The peers whose log, from NAME's announcement to its return, says
    it was suspected or dead (a busy machine's false suspicions before or
    after are not the reboot's)."""
    bad = []
    for n in peers:
        log = f.log_text(n)
        start = log.find("%s announces a planned absence" % name)
        end = log.find("%s: rebooting -> alive" % name, max(start, 0))
        span = log[start:end if end >= 0 else len(log)] if start >= 0 else ""
        if start < 0 or "%s: alive -> suspect" % name in span or "%s: suspect -> dead" % name in span:
            bad.append(n)
    return bad


def liveness(f, name, want, peers):
    return f.problems({name: {"liveness": want}}, peers=peers)


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    order = [n for n, _ in f.expected_order(rid) if n in UPDATING]
    first, late = order
    f.set_update(first, reboot_away=20)
    f.set_update(late, reboot_away=4)
    others = [n for n in f.order if n not in UPDATING]
    r = f.publish(signed, others[0])
    tap.check(r.returncode == 0, "release %s published" % NEW_VERSION, r.stdout + r.stderr)

    # ---- back within the window ---------------------------------------------------
    note = reboot(f, tap, first)
    if note is None:
        return
    tap.check(note == "away 20 answered away ok",
              "staggerd answered the hook once its record announcing it had left (%s)" % note)
    peers = [n for n in f.order if n != first]
    f.check_wait("every peer shows %s rebooting" % first,
                 lambda: liveness(f, first, "rebooting", peers), 10)
    ok, bad = f.hold(lambda: liveness(f, first, "rebooting", peers), 3)
    tap.check(ok, "for 3 s, every peer still shows %s rebooting, never suspect or dead" % first,
              "\n".join(bad[:10]))
    st = f.status(others[0], as_json=False)
    tap.check("rebooting (announced), back within" in st.out,
              "staggerctl status says %s is rebooting and for how long" % first, st.out)
    f.start(first)
    f.check_wait("back, %s ends done on %s in every peer's view" % (first, NEW_VERSION),
                 lambda: f.problems({first: {"version": NEW_VERSION, "phase": "done",
                                             "liveness": "alive"}}), 30)
    after = [(m.old, m.new) for m in f.moves(first, NEW_VERSION) if m.run == 2]
    tap.check(after == [("verifying", "soaking"), ("soaking", "done")],
              "it resumed from its journal in verifying, with the health check of the new "
              "version (%s)" % after, f.log_text(first)[-1500:])
    hooks = [(h[1], h[3].split()[0]) for h in f.hooks_log(first) if h[1] != "gate"]
    tap.check(hooks.count(("install", "begin")) == 1 and not any(h[0] == "rollback" for h in hooks),
              "its install ran once, no rollback", repr(hooks))
    tap.check(not flapped(f, first, peers),
              "no peer suspected %s or declared it dead from its announcement to its return"
              % first, repr(flapped(f, first, peers)))

    # ---- not back within the window ---------------------------------------------------
    t0 = time.monotonic()
    note = reboot(f, tap, late)
    if note is None:
        return
    down = time.monotonic()
    peers = [n for n in f.order if n != late]
    f.check_wait("every peer shows %s rebooting (announced 4 s)" % late,
                 lambda: liveness(f, late, "rebooting", peers), 10)
    f.check_wait("its window over, every peer declares %s dead" % late,
                 lambda: liveness(f, late, "dead", peers), 20)
    took = time.monotonic() - down
    said = [n for n in peers if "%s did not come back within its announced absence" % late
            in f.log_text(n)]
    # A peer that had not probed it inside the window (no failed probe:
    # still alive to it) learns of it from the others' claims afterwards.
    tap.check(took >= 3 and said,
              "dead only after its window ended (%.1f s after it went; %d of %d peers found "
              "it gone in the window and logged that it did not come back)"
              % (took, len(said), len(peers)), repr(said))
    f.start(late)
    f.check_wait("back, every peer shows both done on %s (the others ran it already)"
                 % NEW_VERSION, lambda: f.rolled_out(names=list(UPDATING)), 60)
    tap.note("the late reboot took %.1f s from the announcement to done" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY, versions=VERSIONS))
