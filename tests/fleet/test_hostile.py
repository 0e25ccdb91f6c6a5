#!/usr/bin/python3
"""test_hostile.py: an authenticated member (relay4's key, by pyzmq) sends
relay1 what staggerd never would: frames with a bad type, a wrong version,
too short, truncated, bad liveness claims, broken record lists, a
multi-frame message, a frame over 256 KiB, and a replayed (older) record of
its own. Each is counted (rejects.* or transport.frames_bad) and dropped,
and relay1 keeps serving: it answers status, the fleet stays healthy, and a
later version change (relay1's own, and relay4's) still spreads.

usage: /usr/bin/python3 test_hostile.py STAGGERD STAGGERCTL   (prints TAP)
"""
import struct
import sys

import fleet as fl
from fleet import frame, main, ping_frame, record_payload, records_frame, seal

TARGET, SENDER = "relay1", "relay4"
REPLAYED = "0.0.1-replayed"


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    steady = f.healthy_expect()
    st0 = f.status(TARGET)
    serial = st0.doc["serial"]
    sender_row = st0.row(SENDER)
    pid = f.pid(TARGET)
    sock, outcome = f.client(TARGET, SENDER)
    tap.check(outcome == "ok", "a member's key passes the handshake", outcome)
    key = f.signing_key(SENDER)

    # Each: (what, frame, counter it must raise).
    own_old = seal("record", record_payload(SENDER, sender_row["incarnation"], 1, REPLAYED,
                                            flavour=f.nodes[SENDER].flavour), key)
    cases = [
        ("an unknown message type", frame(99, serial), "BAD_TYPE"),
        ("protocol version 2", frame("sync", serial, bytes(10), version=2), "BAD_VERSION"),
        ("a 3-byte frame", b"\x01\x01\x00", "TOO_SHORT"),
        ("a truncated ping", frame("ping", serial, b"\x00\x00"), "BAD_LENGTH"),
        ("a liveness claim about member 999", ping_frame(serial, 7, [(999, 1, 5)]),
         "UNKNOWN_MEMBER"),
        ("a liveness claim with state 7", ping_frame(serial, 8, [(0, 7, 5)]), "BAD_VALUE"),
        ("records announcing 0 records", frame("records", serial, b"\x00"), "OUT_OF_RANGE"),
        ("a record length past the frame's end",
         frame("records", serial, b"\x01" + struct.pack(">H", 900) + b"STG"), "BAD_LENGTH"),
        ("a record that is not an envelope", records_frame(serial, [b"NOT" + bytes(200)]),
         "BAD_MAGIC"),
        # An older record is what gossip carries all the time: dropped, and
        # not counted as REPLAY, which an operator would read as an attack
        # (protocol.md §7.4). Checked below: no REPLAY, no row changed.
        ("a replay of the sender's own older record (seq 1)", records_frame(serial, [own_old]),
         None),
    ]
    want = {}
    for what, data, reason in cases:
        if reason:
            want[reason] = want.get(reason, 0) + 1
    base = {r: st0.rejects(r) for r in list(want) + ["REPLAY"]}
    bad0 = st0.transport("frames_bad")
    for what, data, reason in cases:
        sock.send(data)
    sock.send_multipart([frame("ping", serial, struct.pack(">I", 9) + b"\x00"), b"second"])

    def counted():
        st = f.status(TARGET)
        miss = ["%s: %d more, want %d" % (r, st.rejects(r) - base[r], n)
                for r, n in want.items() if st.rejects(r) - base[r] < n]
        if st.transport("frames_bad") <= bad0:
            miss.append("transport.frames_bad still %d" % bad0)
        return miss
    f.check_wait("%s counts every malformed frame under its reason (%s) and the "
                 "two-frame message in transport.frames_bad"
                 % (TARGET, ", ".join(sorted(want))), counted, 10)
    replays = f.status(TARGET).rejects("REPLAY") - base["REPLAY"]
    tap.check(replays == 0, "the older record is dropped without a REPLAY count",
              "REPLAY rose by %d" % replays)
    for what, data, reason in cases:
        tap.note("sent %s -> %s" % (what, reason))

    # Over the 256 KiB frame limit: libzmq drops it (and the connection) before
    # staggerd sees it. Were it delivered, its trailing bytes would count BAD_LENGTH.
    st1 = f.status(TARGET)
    big = records_frame(serial, [own_old]) + bytes(fl.WIRE_MAX + 4096)
    mon = fl.monitor(sock, fl.zmq.EVENT_DISCONNECTED)
    sock.send(big)
    dropped = mon.poll(10000) and fl.recv_monitor_message(mon)["event"]
    tap.check(dropped == fl.zmq.EVENT_DISCONNECTED,
              "%s drops the connection that carried a %d KiB frame"
              % (TARGET, len(big) // 1024), repr(dropped))
    sock.disable_monitor()
    mon.close(0)
    sock.close(0)
    sock, outcome = f.client(TARGET, SENDER)
    sock.send(frame(99, serial))
    f.check_wait("%s still takes messages from the member on a new connection" % TARGET,
                 lambda: [] if f.status(TARGET).rejects("BAD_TYPE") > st1.rejects("BAD_TYPE")
                 else ["no new BAD_TYPE"], 10)
    st2 = f.status(TARGET)
    tap.check(st2.rejects("BAD_LENGTH") == st1.rejects("BAD_LENGTH"),
              "the oversized frame never reached the decoder",
              "BAD_LENGTH %d -> %d" % (st1.rejects("BAD_LENGTH"), st2.rejects("BAD_LENGTH")))
    sock.close(0)
    tap.check(f.alive(TARGET) and f.pid(TARGET) == pid, "%s is still the same process" % TARGET)

    # Not back to the replayed seq 1: relay4's own later records (a health
    # refresh, a refutation under load) may still move its row forward.
    replayed = {SENDER: {"version": lambda v: v != REPLAYED,
                         "seq": lambda q: q >= sender_row["seq"]}}
    ok, bad = f.hold(lambda: f.problems(replayed), 1.0)
    tap.check(ok, "the replayed record changed %s's row nowhere" % SENDER, "\n".join(bad))
    f.check_wait("the fleet is healthy on every peer, status exit 0",
                 lambda: f.problems(steady, rc=0), 10)
    f.set_health(TARGET, "healthy", version="10.6.0")
    f.set_health(SENDER, "healthy", version="10.6.1")
    f.check_wait("later version changes of %s and %s still reach every peer"
                 % (TARGET, SENDER), lambda: f.problems(f.healthy_expect(), rc=0), 15)


if __name__ == "__main__":
    sys.exit(main(test))
