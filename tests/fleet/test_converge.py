#!/usr/bin/python3
"""test_converge.py: eight staggerd peers on loopback converge: every peer's
status lists all eight members, healthy, each with the version its own
health hook reports (two different versions in the fleet), `staggerctl
status` exits 0 and prints the human table.

usage: /usr/bin/python3 test_converge.py STAGGERD STAGGERCTL   (prints TAP)
"""
import sys

from fleet import main


def test(f, tap):
    f.start_all()
    tap.check(all(f.alive(n) for n in f.order), "8 staggerd processes started")
    f.converge(timeout=30)

    versions = {f.last_views[p].row(n)["version"] for p in f.order for n in f.order}
    tap.check(versions == {"10.5.1", "10.5.2"},
              "both running versions are reported (10.5.1 and 10.5.2)", repr(versions))
    own = [p for p in f.order if not f.last_views[p].row(p)["self"]]
    tap.check(not own, "each peer marks its own row as self", repr(own))
    st = f.last_views["bp"].doc
    tap.check(st["fleet"] == "loopback" and st["serial"] == 1 and
              st["summary"] == {"state": "healthy", "members": 8, "healthy": 8,
                                "unhealthy": 0, "unknown": 0},
              "summary: 8 members, 8 healthy, state healthy", repr(st.get("summary")))
    roles = {m["name"]: (m["role"], m["flavour"]) for m in st["members"]}
    want = {n: (f.nodes[n].role, f.nodes[n].flavour) for n in f.order}
    tap.check(roles == want, "roles and flavours are the roster's", repr(roles))
    # Each record carries its staggerd's own version (protocol §7.3).
    staggers = {m["name"]: m.get("stagger") for m in st["members"]}
    tap.check(set(staggers.values()) == {f.stagger_version},
              "every member's record shows its staggerd version (%s)" % f.stagger_version,
              repr(staggers))
    # ... and its capabilities (§7.3 caps): all the same, so the fleet-wide
    # set (§11) is this version's own.
    caps = {m["name"]: m.get("caps") for m in st["members"]}
    own = ["promote", "components"]
    tap.check(sorted(st.get("capabilities") or []) == sorted(own) and
              all(sorted(c or []) == sorted(own) for c in caps.values()),
              "every member has capabilities promote and components, and so the fleet (%r)"
              % st.get("capabilities"), repr(caps))

    # Through a tunnel: NAME@ENDPOINT is that member's key at an address the
    # roster does not list (localhost, not 127.0.0.1); the wrong member's
    # key there fails the CURVE handshake.
    name, port = f.order[2], f.nodes[f.order[2]].port
    r = f.status("%s@tcp://localhost:%d" % (name, port), as_json=False)
    tap.check(r.rc == 0 and ("as seen by %s" % name) in r.out,
              "status --peer %s@tcp://localhost:%d (a tunnel's address) answers" % (name, port),
              repr(r))
    other = f.order[3]
    r = f.status("%s@tcp://localhost:%d" % (other, port), as_json=False, timeout_ms=1500)
    tap.check(r.rc == 2 and ("%s (tcp://localhost:%d)" % (other, port)) in r.err,
              "... and with another member's name there, no answer (its key is not that "
              "daemon's): exit 2", repr(r))

    # The operator's view: the first peer that answers, as a table.
    r = f.status(None, as_json=False)
    tap.check(r.rc == 0, "staggerctl status (no --peer) exits 0 for a healthy fleet", repr(r))
    lines = r.out.splitlines()
    rows = {}
    for line in lines:
        cols = line.split()
        if cols and cols[0] in f.nodes:
            rows[cols[0]] = cols
    tap.check(lines and lines[0].startswith("fleet loopback (roster serial 1), as seen by"),
              "the table names fleet, serial and the answering peer", r.out)
    tap.check(len(lines) > 1 and lines[1].split()[:6] ==
              ["NAME", "ROLE", "STAGE", "FLAVOUR", "VERSION", "HEALTH"],
              "the table has its header", r.out)
    good = [n for n in f.order if n in rows and rows[n][1] == f.nodes[n].role and
            rows[n][4] == open(f.dir + "/" + n + "/version").read().strip() and
            rows[n][5] == "healthy"]
    tap.check(len(good) == 8, "one row per member with role, version and health", r.out)
    hold = f.holdback()
    staged = [n for n in f.order if n in rows and
              (rows[n][2] == "last") == (n in hold) and (n in hold or rows[n][2].isdigit())]
    tap.check(len(staged) == 8 and "last: the holdback pair" in r.out,
              "the STAGE column: a stage number, \"last\" for the holdback pair (%s)"
              % ", ".join(hold), r.out)
    tap.check(any("8 members: 8 healthy, 0 unhealthy, 0 unknown; fleet healthy" in l
                  for l in lines), "the table ends with the summary", r.out)
    tap.check(any(l.endswith("(answering)") for l in lines), "the answering peer is marked",
              r.out)
    tap.check("stagger: %s on 8 of 8" % f.stagger_version in lines,
              "the table says which staggerd version the fleet runs", r.out)
    tap.check(not any(l.startswith("capability ") for l in lines),
              "no capability line: every member has every capability", r.out)

    # A version change on one node spreads to every peer.
    f.set_health("relay3", "healthy", version="10.5.3")
    f.check_wait("relay3's new version 10.5.3 reaches every peer",
                 lambda: f.problems({"relay3": {"version": "10.5.3", "health": "healthy"}}),
                 15)
    codes = {n: f.stop(n) for n in f.order}
    tap.check(all(c == 0 for c in codes.values()), "SIGTERM stops every peer cleanly (exit 0)",
              repr(codes))


if __name__ == "__main__":
    sys.exit(main(test))
