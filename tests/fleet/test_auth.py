#!/usr/bin/python3
"""test_auth.py: only roster keys get in, and a member cannot speak for
another. (a) A CURVE client with a random key, and a real staggerd whose own
roster lists itself beside the fleet's endpoints, are refused at the
handshake: the fleet's transport.zap_denied rises and no member changes.
(b) A member that sends a record signed by itself but naming another member
is rejected (rejects.IMPERSONATION on the receiving peer), as is one whose
signature is not by the key it shows (BAD_SIGNATURE); the named member's row
is unchanged on every peer.

usage: /usr/bin/python3 test_auth.py STAGGERD STAGGERCTL   (prints TAP)
"""
import json
import os
import sys

import fleet as fl
from fleet import main, records_frame, record_payload, seal

FORGED = "6.6.6-forged"
HUGE = 2**53 - 1


def not_forged(v):
    """not the forged version"""
    return v != FORGED


def small(v):
    """below the forged seq"""
    return v < HUGE


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    steady = f.healthy_expect()

    # (a1) a random key, by hand.
    denied0 = f.status("relay1").transport("zap_denied")
    sock, outcome = f.client("relay1", None)
    tap.check(outcome == "denied", "a random CURVE key is refused at the handshake", outcome)
    f.check_wait("relay1 counts it in transport.zap_denied",
                 lambda: [] if f.status("relay1").transport("zap_denied") > denied0
                 else ["zap_denied still %d" % denied0], 10)
    reply = f.request(sock, fl.frame("status-req", 1), timeout=1)
    tap.check(reply is None, "nothing sent on the refused connection is answered")
    sock.close(0)

    # (a2) a real staggerd that believes it is a member: its own roster
    # (own operator, serial 5) lists the fleet's eight endpoints and itself.
    f.pub("intruder")
    f.pub("intruder-op")
    port = f.spare_ports[0]
    doc = f.roster_doc(5, operators=("intruder-op",), extra_members=[
        {"name": "intruder", "key": f.pub("intruder"), "endpoint": "tcp://127.0.0.1:%d" % port,
         "role": "relay", "flavour": "debian"}])
    iroster = f.sign_roster(doc, "intruder-roster", key="intruder-op")
    idir = os.path.join(f.dir, "intruder")
    os.mkdir(idir)
    cfg = os.path.join(idir, "staggerd.json")
    with open(cfg, "w") as fh:
        json.dump({"key": f.keyfile("intruder"), "roster": iroster,
                   "state_dir": os.path.join(idir, "state"), "log_level": "info",
                   "tuning": fl.TUNING}, fh)
    before = {n: v.transport("zap_denied") for n, v in f.status_all().items()}
    intruder = f.start_extra("intruder", cfg, os.path.join(idir, "staggerd.log"))

    def all_denied():
        now = {n: v.transport("zap_denied") for n, v in f.status_all().items()}
        return ["%s: zap_denied %d, was %d" % (n, now[n], before[n])
                for n in f.order if now[n] <= before[n]]
    f.check_wait("every fleet peer refuses the intruder staggerd's handshakes "
                 "(zap_denied rises on all 8)", all_denied, 15)
    tap.check(intruder.poll() is None, "the intruder is running (it was really trying)")
    f.check_wait("the fleet is unchanged: 8 members, serial 1, all healthy with their "
                 "versions, no intruder row", lambda: f.problems(steady, serial=1, rc=0), 10)
    leaked = f.status("intruder", key="intruder-op", roster=iroster)
    rows = [m for m in (leaked.doc or {}).get("members", []) if m["name"] != "intruder"]
    tap.check(leaked.doc is not None and len(rows) == 8 and
              all(m["version"] == "" and m["health"] == "unknown" for m in rows),
              "nothing reached the intruder: it holds no record of any fleet member",
              json.dumps(rows)[:2000] + repr(leaked))
    r = f.status("bp", key="intruder-op", ctl=True)
    tap.check(r.rc == 2 and "refused our key" in r.err,
              "status with a key outside the roster is refused (exit 2)", repr(r))
    os.kill(intruder.pid, 15)
    intruder.wait(10)

    # (b) relay4, a real member, claims to be bp.
    views = f.status_all()
    bp_inc = views["bp"].row("bp")["incarnation"]
    imp0 = views["relay1"].rejects("IMPERSONATION")
    sig0 = views["relay1"].rejects("BAD_SIGNATURE")
    sock, outcome = f.client("relay1", "relay4")
    tap.check(outcome == "ok", "relay4's key (converted to X25519) passes the handshake",
              outcome)
    relay4 = f.signing_key("relay4")
    lie = record_payload("bp", bp_inc + 5, HUGE, FORGED, health="unhealthy",
                         detail="forged by relay4")
    sock.send(records_frame(1, [seal("record", lie, relay4)]))
    f.check_wait("relay1 rejects relay4's record naming bp (rejects.IMPERSONATION)",
                 lambda: [] if f.status("relay1").rejects("IMPERSONATION") > imp0
                 else ["IMPERSONATION still %d" % imp0], 10)
    # The same lie carrying bp's public key but relay4's signature.
    env = bytearray(seal("record", lie, relay4))
    env[-96:-64] = bytes(f.signing_key("bp").verify_key)
    sock.send(records_frame(1, [bytes(env)]))
    f.check_wait("and the lie under bp's key with relay4's signature (rejects.BAD_SIGNATURE)",
                 lambda: [] if f.status("relay1").rejects("BAD_SIGNATURE") > sig0
                 else ["BAD_SIGNATURE still %d" % sig0], 10)
    sock.close(0)
    # Unchanged: bp's row, and no row anywhere carries the forged record.
    rows = {n: {"version": not_forged} for n in f.order}
    rows["bp"] = {"version": not_forged, "seq": small, "health": "healthy",
                  "incarnation": bp_inc}
    ok, bad = f.hold(lambda: f.problems(rows), 2.0)
    tap.check(ok, "bp's row is unchanged and the forgery is in no row, on every peer "
              "(held 2 s, 4 sync rounds)", "\n".join(bad))
    f.check_wait("the fleet is still healthy everywhere", lambda: f.problems(steady, rc=0), 10)


if __name__ == "__main__":
    sys.exit(main(test))
