#!/usr/bin/python3
"""The cardano-node gate hook with an injected clock (STAGGER_CARDANO_NOW):
epoch boundaries (mainnet constants and a short test schedule) from the
roster's STAGGER_EPOCH_* or the hook's own settings, the measured restart
time, the leader schedule as cncli and cardano-cli write it, one file per
epoch ({epoch}) across a boundary, producer against relay.
  test_gate.py HOOKS_DIR"""
import datetime
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploytap import Tap, run_hook  # noqa: E402

HOOK = os.path.join(sys.argv[1], "gate")
t = Tap()
tmp = tempfile.mkdtemp(prefix="stagger-gate-")

# Mainnet: epoch N starts at 1596059091 + (N - 208) * 432000.
E512 = 1596059091 + (512 - 208) * 432000
E513 = E512 + 432000
OFFSET = 1591566291          # mainnet tip time = slot + offset


def gate(now, role="producer", **extra):
    env = {"STAGGER_ROLE": role, "STAGGER_CARDANO_NOW": str(now),
           "STAGGER_STATE_DIR": extra.pop("state", os.path.join(tmp, "state-none"))}
    env.update(extra)
    return run_hook(HOOK, env)


# ---- epoch boundaries, mainnet defaults (guard 1 h, restart 600 s) -------------
r = gate(E512 + 1800)
t.ok(r.code == 1 and "epoch 512 began 1800s ago" in r.last, "producer 30 min after a boundary: no", r)
r = gate(E512 - 1800)
t.ok(r.code == 1 and "epoch 512 begins in 1800s" in r.last, "producer 30 min before a boundary: no", r)
r = gate(E512 + 2 * 86400)
t.ok(r.code == 0 and "epoch 512" in r.last, "producer mid-epoch: yes", r)
r = gate(E512 + 3600 + 5)
t.ok(r.code == 0, "producer just past the guard after a boundary: yes", r)
r = gate(E513 - 3600 - 600 + 5)
t.ok(r.code == 1 and "epoch 513" in r.last,
     "producer whose restart would end inside the guard before a boundary: no", r)
r = gate(E513 - 3600 - 600 - 5)
t.ok(r.code == 0, "producer whose restart ends before the guard: yes", r)
for role in ("relay", "standby", "dark-relay"):
    r = gate(E512 + 60, role=role)
    t.ok(r.code == 0, "%s one minute after a boundary: yes" % role, r)
r = gate(E512 + 1800, STAGGER_CARDANO_EPOCH_GUARD_S="600")
t.ok(r.code == 0, "guard configurable (600 s): 30 min after is fine", r)

# ---- a short schedule, as in tests and testnets --------------------------------
short = {"STAGGER_CARDANO_EPOCH_START_S": "1000000", "STAGGER_CARDANO_EPOCH_REF": "0",
         "STAGGER_CARDANO_EPOCH_LENGTH_S": "3600", "STAGGER_CARDANO_EPOCH_GUARD_S": "300",
         "STAGGER_CARDANO_RESTART_S": "60"}
r = gate(1000000 + 5 * 3600 + 100, **short)
t.ok(r.code == 1 and "epoch 5 began 100s ago" in r.last, "short schedule: near a boundary: no", r)
r = gate(1000000 + 5 * 3600 + 1800, **short)
t.ok(r.code == 0 and "epoch 5" in r.last, "short schedule: mid-epoch: yes", r)

# ---- the epoch schedule is the roster's, handed by staggerd as STAGGER_EPOCH_* ---
roster = {"STAGGER_EPOCH_START_S": str(E512 - 7 * 432000), "STAGGER_EPOCH_LENGTH_S": "432000",
          "STAGGER_EPOCH_GUARD_S": "600"}
r = gate(E512 + 1800, **roster)
t.ok(r.code == 0 and "epoch 512 " in r.last and len(r.lines) == 1,
     "the roster's guard (600 s) over the hook's default (3600 s), numbered by the hook's "
     "reference; nothing to say when no hook setting is given", r)
r = gate(E512 + 1800, STAGGER_CARDANO_EPOCH_GUARD_S="7200", **roster)
t.ok(r.code == 0 and "the roster's guard_s is 600, not STAGGER_CARDANO_EPOCH_GUARD_S=7200 "
     "(in the environment): using the roster's" in r.out and "epoch 512 " in r.last,
     "roster and hook setting disagree: the roster wins, and the hook says so", r)
r = gate(1000000 + 5 * 3600 + 100, STAGGER_EPOCH_START_S="1000000", STAGGER_EPOCH_LENGTH_S="3600",
         STAGGER_EPOCH_GUARD_S="300", STAGGER_CARDANO_RESTART_S="60",
         STAGGER_CARDANO_EPOCH_LENGTH_S="432000", STAGGER_CARDANO_EPOCH_START_S="1000000",
         STAGGER_CARDANO_EPOCH_REF="0")
t.ok(r.code == 1 and "epoch 5 began 100s ago" in r.last and "length_s is 3600" in r.out,
     "a short roster schedule wins over the hook's length: epoch 5 began 100 s ago", r)
agree = os.path.join(tmp, "agree.env")
with open(agree, "w") as f:
    f.write("STAGGER_CARDANO_EPOCH_START_S=1596059091\nSTAGGER_CARDANO_EPOCH_REF=208\n"
            "STAGGER_CARDANO_EPOCH_LENGTH_S=432000\nSTAGGER_CARDANO_EPOCH_GUARD_S=600\n")
r = gate(E512 + 1800, STAGGER_CARDANO_ENV=agree, **roster)
t.ok(r.code == 0 and len(r.lines) == 1,
     "an env file that agrees (another boundary of the same grid): no note", r)
offgrid = dict(roster, STAGGER_CARDANO_EPOCH_START_S=str(1596059091 + 100))
r = gate(E512 + 1800, **offgrid)
t.ok(r.code == 0 and "STAGGER_CARDANO_EPOCH_START_S=1596059191 (in the environment) is not a "
     "boundary of the roster's" in r.out and "epoch 512 " in r.last,
     "a hook start off the roster's grid: the roster's boundaries, numbered from the nearest", r)
r = gate(E512 + 1800, **dict(roster, STAGGER_EPOCH_LENGTH_S="0"))
t.ok(r.code == 2 and "STAGGER_EPOCH_LENGTH_S" in r.last, "a bad roster value: refused, named", r)

# ---- the restart time measured by the health hook counts -----------------------
st = os.path.join(tmp, "state-measured")
os.makedirs(os.path.join(st, "cardano-node"))
with open(os.path.join(st, "cardano-node", "restart_s"), "w") as f:
    f.write("7200\n")
at = E513 - 3600 - 3000
r = gate(at)
t.ok(r.code == 0, "configured 600 s restart fits before the guard", r)
r = gate(at, state=st)
t.ok(r.code == 1 and "7200s, measured" in r.last, "a measured 2 h restart does not fit: no", r)

# ---- leader slots file -------------------------------------------------------
NOW = E512 + 2 * 86400


def leader_file(name, content, mtime=NOW - 3600):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(content)
    os.utime(p, (mtime, mtime))
    return p


def slot_at(ts):
    return ts - OFFSET


near = leader_file("near", "# slots of epoch 512\n%d\n%d\n" % (slot_at(NOW - 500), slot_at(NOW + 900)))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=near)
t.ok(r.code == 1 and "next leader slot %d" % slot_at(NOW + 900) in r.last and "in 900s" in r.last,
     "leader slot in 15 min (< restart 600 + margin 600): no; past slots ignored", r)
r = gate(NOW, role="relay", STAGGER_CARDANO_LEADER_SLOTS_FILE=near)
t.ok(r.code == 0, "the same file on a relay: yes", r)
far = leader_file("far", "%d\n" % slot_at(NOW + 5000))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=far)
t.ok(r.code == 0 and "in 5000s" in r.last, "leader slot in 83 min: yes", r)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=far, STAGGER_CARDANO_LEADER_MARGIN_S="4800")
t.ok(r.code == 1, "margin configurable: 600 + 4800 > 5000: no", r)
cncli = leader_file("cncli.json", json.dumps({"status": "ok", "epoch": 512, "assignedSlots": [
    {"no": 1, "slot": slot_at(NOW + 300), "slotInEpoch": 1, "at": "..."}]}))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=cncli)
t.ok(r.code == 1 and "in 300s" in r.last, "cncli JSON (assignedSlots): near slot: no", r)
lst = leader_file("list.json", json.dumps([slot_at(NOW + 200000)]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=lst)
t.ok(r.code == 0, "JSON list, slot far: yes", r)
empty = leader_file("empty", "# no slots this epoch\n")
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=empty)
t.ok(r.code == 0 and "no leader slot ahead" in r.last, "fresh file with no slots: yes", r)
stale = leader_file("stale", "# written last epoch\n", mtime=E512 - 100)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=stale)
t.ok(r.code == 1 and "stale" in r.last, "file older than the epoch: no", r)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=os.path.join(tmp, "missing"))
t.ok(r.code == 1 and "cannot read" in r.last, "configured file missing: no", r)

# ---- the schedule as the tools write it ---------------------------------------
# Shapes from the tools' sources: cncli src/nodeclient/leaderlog/mod.rs
# (struct LeaderLog, Slot, LeaderLogError), cardano-cli
# src/Cardano/CLI/EraBased/Query/Run.hs (leadershipScheduleToJson).
def iso(ts, hours=0):
    """ts as cncli's at (RFC 3339 in its --tz) or, hours=None, cardano-cli's slotTime."""
    if hours is None:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone(datetime.timedelta(hours=hours))).isoformat()


def leaderlog(epoch, times):
    """cncli leaderlog's output for epoch (E512's grid) with slots at these Unix times."""
    first = E512 + (epoch - 512) * 432000
    return json.dumps({
        "status": "ok", "epoch": epoch, "epochNonce": "0e53" * 16, "consensus": "praos",
        "epochSlots": len(times), "epochSlotsIdeal": 2.1, "maxPerformance": 95.2,
        "poolId": "00beef0a9be2f6d897ed24a613cf547bb20cd282a04edfc53d477114",
        "sigma": 0.0001, "activeStake": 1, "totalActiveStake": 2, "d": 0.0, "f": 0.05,
        "assignedSlots": [{"no": i + 1, "slot": slot_at(ts), "slotInEpoch": ts - first,
                           "at": iso(ts, -8)} for i, ts in enumerate(times)]}, indent=2)


def leadership_schedule(times):
    """cardano-cli query leadership-schedule --output-json."""
    return json.dumps([{"slotNumber": slot_at(ts), "slotTime": iso(ts, None)} for ts in times],
                      indent=2)


ll = leader_file("ll-512.json", leaderlog(512, [NOW - 4000, NOW + 900]), mtime=E512 - 86400)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=ll)
t.ok(r.code == 1 and "next leader slot %d" % slot_at(NOW + 900) in r.last and "in 900s" in r.last,
     "cncli leaderlog: a slot in 15 min: no; its epoch field, not its age, says it is current", r)
ll = leader_file("ll-512-far.json", leaderlog(512, [NOW + 7200]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=ll)
t.ok(r.code == 0 and "in 7200s" in r.last, "cncli leaderlog: the next slot in 2 h: yes", r)
ll = leader_file("ll-511.json", leaderlog(511, [E512 - 5000]), mtime=NOW - 60)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=ll)
t.ok(r.code == 1 and "stale" in r.last and "epoch 511" in r.last,
     "cncli leaderlog of the last epoch, written a minute ago: stale by its epoch field", r)
err = leader_file("ll-error.json", json.dumps({"status": "error",
                                               "errorMessage": "Query returned no rows"}))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=err)
t.ok(r.code == 1 and 'status "error": Query returned no rows' in r.last,
     "cncli's error answer in the file: no (not \"no slots\")", r)
cc = leader_file("cc.json", leadership_schedule([NOW - 100, NOW + 700]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=cc)
t.ok(r.code == 1 and "in 700s" in r.last, "cardano-cli leadership-schedule JSON: slot in 700 s: no",
     r)
cc = leader_file("cc-far.json", leadership_schedule([NOW + 100000]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=cc)
t.ok(r.code == 0 and "next leader slot %d in 100000s" % slot_at(NOW + 100000) in r.last,
     "cardano-cli leadership-schedule JSON: far: yes", r)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=cc, STAGGER_CARDANO_SLOT_OFFSET_S="1655683200")
t.ok(r.code == 2 and "STAGGER_CARDANO_SLOT_OFFSET_S" in r.last,
     "slotTime against another network's slot offset: a setting is wrong (exit 2)", r)
table = leader_file("cc.txt", "     SlotNo                          UTC Time              \n"
                    + "-" * 62 + "\n     %d                   %s\n" %
                    (slot_at(NOW + 800), time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                       time.gmtime(NOW + 800))))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=table)
t.ok(r.code == 1 and "in 800s" in r.last, "cardano-cli's --output-text table: slot in 800 s: no", r)
for name, content, says in (("zero", "", "empty"),
                            ("junk", "cardano-cli: Network.Socket.connect: 11\n",
                             "line 1 does not start with a slot number"),
                            ("noslot", json.dumps([{"slotTime": iso(NOW, None)}]), "entry 1"),
                            ("torn", '{"status": "ok", "epoch": 512, "assig', "not valid JSON")):
    r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=leader_file(name, content))
    t.ok(r.code == 1 and "cannot use" in r.last and says in r.last,
         "a file that cannot be trusted (%s): no, not \"no slots\"" % name, r)

# ---- one file per epoch: {epoch} in the path -----------------------------------
per = os.path.join(tmp, "per-epoch")
os.makedirs(per)
pattern = os.path.join(per, "leaderlog-{epoch}.json")


def epoch_file(epoch, content, mtime=NOW - 3600):
    return leader_file(os.path.join(per, "leaderlog-%d.json" % epoch), content, mtime)


r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 1 and "cannot read the leader schedule of epoch 512" in r.last
     and "leaderlog-512.json" in r.last, "{epoch}: this epoch's file missing: no", r)
epoch_file(512, leaderlog(512, [NOW + 600]))
epoch_file(511, leaderlog(511, [E512 - 9000]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 1 and "in 600s" in r.last, "{epoch}: leaderlog-512.json read, slot in 10 min: no", r)
epoch_file(512, leadership_schedule([NOW + 9000]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 0 and "in 9000s" in r.last, "{epoch}: cardano-cli's list for epoch 512: yes", r)
epoch_file(512, leadership_schedule([E512 - 9000]))
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 1 and "holds slot %d" % slot_at(E512 - 9000) in r.last and "of epoch 511" in r.last,
     "{epoch}: leaderlog-512.json holding a slot of epoch 511 (--current run too early): no", r)
epoch_file(512, "[]\n", mtime=E512 - 200000)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 1 and "stale" in r.last and "before epoch 512's could be known" in r.last,
     "{epoch}: a file with no epoch field written before its schedule was knowable: stale", r)
epoch_file(512, "[]\n", mtime=E512 - 3600)
r = gate(NOW, STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
t.ok(r.code == 0 and "no leader slot ahead" in r.last,
     "{epoch}: [] written by cardano-cli --next during epoch 511: no slots, yes", r)

# Across the boundary: a 600 s guard and a 4000 s margin let the restart
# window (600 + 4000 s) reach into epoch 513 while the restart itself ends
# before the guard.
cross = dict(roster, STAGGER_CARDANO_LEADER_MARGIN_S="4000",
             STAGGER_CARDANO_LEADER_SLOTS_FILE=pattern)
AT = E513 - 3000
epoch_file(512, leaderlog(512, [NOW]))
r = gate(AT, **cross)
t.ok(r.code == 1 and "reach into epoch 513" in r.last and "cannot read" in r.last
     and "leaderlog-513.json" in r.last,
     "crossing the boundary, the next epoch's file missing though knowable: no", r)
epoch_file(513, leaderlog(513, [E513 + 500]), mtime=E513 - 100000)
r = gate(AT, **cross)
t.ok(r.code == 1 and "next leader slot %d" % slot_at(E513 + 500) in r.last and "in 3500s" in r.last,
     "crossing: a slot 500 s into epoch 513 (in leaderlog-513.json) is in the window: no", r)
epoch_file(513, leaderlog(513, [E513 + 90000]))
r = gate(AT, **cross)
t.ok(r.code == 0 and "in 93000s" in r.last,
     "crossing: both files read, the next slot beyond the window: yes", r)
os.unlink(os.path.join(per, "leaderlog-513.json"))
r = gate(AT, STAGGER_CARDANO_LEADER_KNOWN_S="2000", **cross)
t.ok(r.code == 0 and "epoch 513's schedule is not known before" in r.last,
     "crossing, but epoch 513's schedule not knowable yet: no file needed (the guard covers "
     "the restart itself): yes", r)
r = gate(AT, **dict(cross, STAGGER_CARDANO_LEADER_SLOTS_FILE=os.path.join(
    per, "leaderlog-512.json")))
t.ok(r.code == 1 and "single file" in r.last and "{epoch}" in r.last,
     "crossing with a single file: no, use {epoch}", r)
r = gate(E513 - 200000, **cross)
t.ok(r.code == 0, "far from the boundary only this epoch's file is read: yes", r)

# ---- settings from the env file; a bad setting ------------------------------
envfile = os.path.join(tmp, "cardano-node.env")
with open(envfile, "w") as f:
    f.write('STAGGER_CARDANO_EPOCH_GUARD_S="600"\nSTAGGER_CARDANO_LEADER_SLOTS_FILE=%s\n' % near)
r = gate(E512 + 1800, STAGGER_CARDANO_ENV=envfile, STAGGER_CARDANO_LEADER_SLOTS_FILE="")
t.ok(r.code == 0, "guard from the env file; the environment overrides the file's leader file", r)
r = gate(NOW, STAGGER_CARDANO_ENV=envfile)
t.ok(r.code == 1 and "leader slot" in r.last, "leader file from the env file", r)
r = gate(NOW, STAGGER_CARDANO_EPOCH_GUARD_S="an hour")
t.ok(r.code == 2 and "STAGGER_CARDANO_EPOCH_GUARD_S" in r.last, "bad setting: refused, named", r)

t.done()
