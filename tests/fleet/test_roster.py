#!/usr/bin/python3
"""test_roster.py: a roster with a higher serial given to ONE peer reaches
all eight: by rewriting that peer's roster file and SIGHUP (serial 2, adds
an observer key, which every peer then admits), and by `staggerctl roster
publish` (serial 3). A lower serial (by SIGHUP, and handed over by an
operator client) and a copy with one flipped signature byte are ignored
everywhere: the serial stays 3 on all peers and the receiving peer counts
rejects.STALE and rejects.BAD_SIGNATURE.

usage: /usr/bin/python3 test_roster.py STAGGERD STAGGERCTL   (prints TAP)
"""
import shutil
import sys

from fleet import frame, main, verdict


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    steady = f.healthy_expect()
    r1 = f.roster
    r2 = f.sign_roster(f.roster_doc(2, observers=["obs1"]), "roster2")
    r3 = f.sign_roster(f.roster_doc(3, observers=["obs1", "obs2"]), "roster3")
    r4 = f.sign_roster(f.roster_doc(4, observers=["obs2"]), "roster4")

    r = f.status("dark1", key="obs1", ctl=True)
    tap.check(r.rc == 2 and "refused our key" in r.err,
              "before serial 2 the observer key obs1 is refused", repr(r))

    # Serial 2 by file + SIGHUP on relay3 only.
    shutil.copy(r2, f.nodes["relay3"].roster)
    f.hup("relay3")
    f.check_wait("serial 2, given to relay3 by SIGHUP, reaches all 8 peers",
                 lambda: f.problems(steady, serial=2, rc=0), 15)

    def observer_admitted():
        views = f.status_all(key="obs1", roster=r2)
        return ["%s: %r" % (n, v) for n, v in views.items() if v.rc != 0 or v.doc is None]
    f.check_wait("every peer now admits the new observer obs1 (status exit 0 with its key)",
                 observer_admitted, 10)
    # An observer reads; it cannot command (docs/operations.md §1, "Observers").
    r = f.ctl("emergency", "halt", "--key", f.keyfile("obs1"), "--roster", r2, "--peer", "dark1")
    st = f.status("dark1")
    tap.check(r.returncode != 0 and "not an operator key" in r.stderr and st.doc is not None and
              not st.doc["rollout"]["halted"],
              "an emergency halt signed with the observer key is refused; nothing halts",
              r.stdout + r.stderr)

    # Serial 3 by staggerctl roster publish to dark2 only.
    r = f.ctl("roster", "publish", "--key", f.keyfile("op"), "--roster", r2, "--peer", "dark2",
              r3)
    tap.check(r.returncode == 0 and "serial 3 accepted by dark2" in r.stdout,
              "staggerctl roster publish hands serial 3 to dark2", r.stdout + r.stderr)
    f.check_wait("serial 3 reaches all 8 peers", lambda: f.problems(steady, serial=3, rc=0), 15)
    views = f.last_views
    tap.check(all(v.rejects("STALE") == 0 and v.rejects("BAD_SIGNATURE") == 0
                  for v in views.values()),
              "the flood itself causes no STALE or BAD_SIGNATURE rejections",
              "\n".join("%s: %s" % (n, v.doc.get("rejects")) for n, v in views.items()))

    # Lower serials: by SIGHUP (relay3 again), and from an operator client (bp).
    shutil.copy(r2, f.nodes["relay3"].roster)
    f.hup("relay3")
    f.check_wait("relay3 refuses serial 2 offered by SIGHUP (rejects.STALE)",
                 lambda: [] if f.status("relay3").rejects("STALE") >= 1 else ["no STALE"], 10)
    r = f.ctl("roster", "publish", "--key", f.keyfile("op"), "--roster", r3, "--peer", "bp", r1)
    tap.check(r.returncode == 1, "staggerctl roster publish will not send serial 1 over 3",
              r.stdout + r.stderr)
    op, outcome = f.client("bp", "op")
    tap.check(outcome == "ok", "an operator client connects to bp", outcome)
    rep = verdict(f.request(op, frame("roster", 3, open(r1, "rb").read())))
    st = f.status("bp")
    tap.check(rep is not None and rep[:2] == ("refused", "STALE") and st.doc is not None and
              st.doc["serial"] == 3 and st.rejects("STALE") == 1,
              "bp refuses serial 1 handed over directly: error-rep STALE, still serial 3, "
              "rejects.STALE 1", repr(rep)[:500])

    # One flipped signature byte in serial 4: to standby from a client, to relay2 by SIGHUP.
    bad = bytearray(open(r4, "rb").read())
    bad[-1] ^= 1
    op2, outcome = f.client("standby", "op")
    rep = verdict(f.request(op2, frame("roster", 3, bytes(bad))))
    st = f.status("standby")
    tap.check(rep is not None and rep[:2] == ("refused", "BAD_SIGNATURE") and
              st.doc is not None and st.doc["serial"] == 3 and
              st.rejects("BAD_SIGNATURE") == 1,
              "standby refuses serial 4 with a flipped signature byte: error-rep "
              "BAD_SIGNATURE, rejects.BAD_SIGNATURE 1", repr(rep)[:500])
    with open(f.nodes["relay2"].roster, "wb") as fh:
        fh.write(bad)
    f.hup("relay2")
    tap.check(f.wait_log("relay2", "SIGHUP: keeping the current roster", 10),
              "relay2 keeps its roster when SIGHUP offers the tampered file",
              f.log_tail("relay2", 5))
    op.close(0)
    op2.close(0)

    ok, bad_views = f.hold(lambda: f.problems(steady, serial=3, rc=0), 2.0)
    tap.check(ok, "serial 3 holds on all 8 peers afterwards (2 s, 4 sync rounds)",
              "\n".join(bad_views))
    f.stop("dark1")
    f.start("dark1")
    tap.check("using roster serial 3 from" in f.log_text("dark1", since_start=True),
              "restarted from its serial-1 config file, dark1 takes serial 3 from its state dir",
              f.log_tail("dark1", 5))
    f.check_wait("and the fleet agrees on serial 3 with it", lambda: f.problems(steady, serial=3, rc=0), 15)


if __name__ == "__main__":
    sys.exit(main(test))
