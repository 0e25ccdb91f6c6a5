#!/usr/bin/python3
"""test_health.py: the health hook contract, fleet-wide. Exit 0 -> healthy;
exit 1 -> unhealthy with the hook's detail text on every peer (status exit
1, the table shows the detail); a hook that hangs past policy.timeouts.health_s
-> unhealthy with "timed out" in the detail on every peer, both from healthy
and straight from another unhealthy state; recovery -> healthy everywhere.
A healthy member whose detail carries a warning (WARN ..., a producer's
KES periods) shows it under its row in the status table. Two members whose
hooks say forging=1 are named in every peer's status (`forgers`); the
table says so and exits 4, and the log says CRITICAL, until one stops.

usage: /usr/bin/python3 test_health.py STAGGERD STAGGERCTL   (prints TAP)
"""
import sys

from fleet import HEALTH_TIMEOUT_S, TUNING, main

SICK = "relay2"
DETAIL = "cardano-node not synced: tip 42 slots behind"
WARNING = "WARN KES: 5 periods left (~7.5 days): rotate the KES key and opcert"


def has_timed_out(v):
    """a detail saying "timed out\""""
    return "timed out" in v


def test(f, tap):
    # A healthy producer whose hook warns (KES periods running out, as the
    # cardano-node hook words it): the table shows the warning under it.
    with open(f.dir + "/bp/warn", "w") as w:
        w.write(WARNING + "\n")
    f.start_all()
    if not f.converge(timeout=30):
        return
    r = f.status(None, as_json=False)
    rows = r.out.splitlines()
    at = [i for i, l in enumerate(rows) if l.split()[:1] == ["bp"]]
    tap.check(at and at[0] + 1 < len(rows) and rows[at[0] + 1].strip() == WARNING and
              r.rc == 0, "a healthy member's warning shows under its row (fleet still healthy, "
              "exit 0)", r.out)
    version = open(f.dir + "/" + SICK + "/version").read().strip()
    # A hung hook is seen after the timeout plus one health period; the rest is slack.
    hang_s = HEALTH_TIMEOUT_S + TUNING["health_interval_ms"] / 1000 + 10

    def sick(detail):
        exp = f.healthy_expect()
        exp[SICK] = {"health": "unhealthy", "liveness": "alive", "version": version,
                     "detail": detail}
        return exp

    f.set_health(SICK, "unhealthy", detail=DETAIL)
    f.check_wait("hook exit 1: every peer shows %s unhealthy with the hook's detail, "
                 "status exit 1" % SICK, lambda: f.problems(sick(DETAIL), rc=1), 10)
    s = f.last_views["bp"].doc["summary"]
    tap.check(s["state"] == "degraded" and s["unhealthy"] == 1 and s["healthy"] == 7,
              "summary: degraded, 1 unhealthy, 7 healthy", repr(s))
    r = f.status(None, as_json=False)
    tap.check(r.rc == 1 and DETAIL in r.out and "1 unhealthy" in r.out,
              "the status table shows the detail under the unhealthy member", r.out)

    f.set_health(SICK, "hang")
    f.check_wait("hook hangs (unhealthy before): every peer shows \"timed out\" in the detail",
                 lambda: f.problems(sick(has_timed_out), rc=1), hang_s)

    f.set_health(SICK, "healthy")
    f.check_wait("hook exits 0 again: healthy everywhere, status exit 0",
                 lambda: f.problems(f.healthy_expect(), rc=0), 10)

    f.set_health(SICK, "hang")
    f.check_wait("hook hangs (healthy before): unhealthy with \"timed out\" on every peer",
                 lambda: f.problems(sick(has_timed_out), rc=1), hang_s)

    f.set_health(SICK, "healthy")
    f.check_wait("recovered: healthy everywhere, status exit 0",
                 lambda: f.problems(f.healthy_expect(), rc=0), 10)
    tap.check(all(v.row(SICK)["detail"] == "" for v in f.last_views.values()),
              "the old detail is gone once healthy")

    # Issue 13: only the active producer may forge. The hooks of bp and of
    # the standby both say forging=1 (a standby promoted by hand while the
    # old producer still runs): every peer names both, no update may start.
    def forgers(want, rc, needle):
        bad = []
        for p, st in f.status_all().items():
            got = sorted((st.doc or {}).get("forgers") or [])
            if got != want:
                bad.append("%s: forgers %r" % (p, got))
        r = f.status(None, as_json=False)
        if r.rc != rc or needle not in r.out:
            bad.append("status exit %d (want %d), %r not in:\n%s" % (r.rc, rc, needle, r.out))
        return bad

    for n in ("bp", "standby"):
        with open(f.dir + "/" + n + "/forging", "w") as w:
            w.write("1\n")
    f.check_wait("bp and the standby both forge: every peer's status names them, the table "
                 "says CRITICAL and exits 4", lambda: forgers(
                     ["bp", "standby"], 4, "CRITICAL: more than one member forges (bp, standby)"),
                 10)
    tap.check(f.wait_log("relay1", "CRITICAL: more than one member forges (bp, standby)", 5),
              "... and each peer's log says so once (ERROR)", f.log_tail("relay1", 10))
    with open(f.dir + "/standby/forging", "w") as w:
        w.write("0\n")
    f.check_wait("the standby stops: one forger again, status exit 0",
                 lambda: forgers(["bp"], 0, "fleet healthy"), 10)


if __name__ == "__main__":
    sys.exit(main(test))
