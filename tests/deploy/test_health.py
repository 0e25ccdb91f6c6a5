#!/usr/bin/python3
"""The cardano-node health hook against a fake metrics server on 127.0.0.1
(canned Prometheus bodies, a free port), with an injected clock.
  test_health.py HOOKS_DIR"""
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploytap import Tap, run_hook  # noqa: E402

HOOK = os.path.join(sys.argv[1], "health")
NOW = 1764115200          # 2025-11-26 00:00:00 UTC
MAINNET_OFFSET = 1591566291
t = Tap()


class Server(ThreadingHTTPServer):
    body = ""
    status = 200
    requests = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests += 1
        if self.path != "/metrics":
            self.send_error(404)
            return
        data = self.server.body.encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


srv = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
URL = "http://127.0.0.1:%d/metrics" % srv.server_address[1]


def slot_for(age, offset=MAINNET_OFFSET):
    return NOW - offset - age


def new_style(age=14, forging=0, kes=None, replay=100.0, version="10.5.3", missed=0):
    lines = [
        "# HELP cardano_node_metrics_slotNum_int slot number",
        "# TYPE cardano_node_metrics_slotNum_int gauge",
        "cardano_node_metrics_slotNum_int %d" % slot_for(age),
        "cardano_node_metrics_blockNum_int 12345678",
        "cardano_node_metrics_epoch_int 512",
        "cardano_node_metrics_slotInEpoch_int 221734",
        "cardano_node_metrics_density_real 4.9e-2",
        "cardano_node_metrics_blockReplayProgress_real %s" % replay,
        "cardano_node_metrics_forging_enabled_int %d" % forging,
        "cardano_node_metrics_peerSelection_Hot_int 7",
        "cardano_node_metrics_connectionManager_inboundConns_int 12",
        "cardano_node_metrics_slotsMissed_int %d" % missed,
        "cardano_node_metrics_Forge_forged_counter 42",
        'cardano_build_info{version="%s",revision="0d7a1b2c", ghc_version="9.6.7"} 1' % version,
    ]
    if kes is not None:
        lines.append("cardano_node_metrics_remainingKESPeriods_int %d" % kes)
    return "\n".join(lines) + "\n# EOF\n"


def legacy(age=3):
    # Legacy names, a trailing timestamp on some samples, no trailing EOF.
    ts = NOW * 1000
    return "\n".join([
        "# TYPE cardano_node_metrics_slotNum_int gauge",
        "cardano_node_metrics_slotNum_int %d %d" % (slot_for(age), ts),
        "cardano_node_metrics_blockNum_int 11000000",
        "cardano_node_metrics_epoch_int 498 %d" % ts,
        "cardano_node_metrics_slotInEpoch_int 1234",
        "cardano_node_metrics_forging_enabled_int 1",
        "cardano_node_metrics_slotsMissedNum_int 2",
        "cardano_node_metrics_Forge_forged_int 17",
        "cardano_node_metrics_remainingKESPeriods_int 40",
        'cardano_build_info{revision="abc",version="8.9.4"} 1.0',
    ]) + "\n"


REPLAYING = "\n".join([
    "cardano_node_metrics_blockReplayProgress_real 43.21",
    'cardano_build_info{version="10.5.3"} 1',
]) + "\n"

GARBAGE = "<html><body>It works!</body></html>\nthis is { not prometheus\n"

state_root = tempfile.mkdtemp(prefix="stagger-health-")
_n = [0]


def fresh_state():
    _n[0] += 1
    d = os.path.join(state_root, "s%d" % _n[0])
    os.makedirs(d)
    return d


def health(body=None, role="relay", state=None, url=None, **extra):
    if body is not None:
        srv.body = body
    env = {"STAGGER_CARDANO_METRICS_URL": url or URL, "STAGGER_CARDANO_NOW": str(NOW),
           "STAGGER_ROLE": role, "STAGGER_STATE_DIR": state or fresh_state()}
    env.update(extra)
    return run_hook(HOOK, env)


# ---- synced, both generations of names ---------------------------------------
before = srv.requests
r = health(new_style(age=14))
t.ok(r.code == 0, "new names, tip age 14s: healthy", r)
t.ok(srv.requests - before == 1, "one scrape per run", "requests: %d" % (srv.requests - before))
t.ok(r.value("version") == "10.5.3", "version from cardano_build_info", r)
d = r.value("detail") or ""
t.ok(d.startswith("tip age 14s, epoch 512, slot 221734 in epoch, 7 hot peers"),
     "detail: tip age, epoch, slot in epoch, hot peers", d)
t.ok(r.value("progress") is None, "no progress line when synced", r)

r = health(legacy(age=3), role="producer")
t.ok(r.code == 0, "legacy names (slotsMissedNum, Forge_forged_int), timestamps: healthy", r)
t.ok(r.value("version") == "8.9.4", "version from build_info, labels in any order", r)
d = r.value("detail") or ""
t.ok("tip age 3s" in d and "epoch 498" in d and "forged 17" in d and "missed 2 slots" in d,
     "producer detail has forged and missed counts from legacy names", d)
t.ok("KES" not in d, "40 KES periods left: no warning", d)

r = health(new_style(age=14, forging=1, kes=50), role="producer")
t.ok(r.code == 0 and "forged 42" in (r.value("detail") or ""),
     "new Forge_forged_counter read on the producer", r)

# ---- replay -----------------------------------------------------------------
r = health(REPLAYING)
t.ok(r.code == 1, "replaying the ledger: unhealthy", r)
t.ok(r.value("progress") == "43.21", "progress=<blockReplayProgress> while replaying", r)
t.ok("replaying" in (r.value("detail") or "") and "43.21%" in r.value("detail"),
     "detail says replaying with the percentage", r)
t.ok(r.value("version") == "10.5.3", "version reported during the replay", r)

r = health(new_style(age=10, replay=99.97))
t.ok(r.code == 0 and r.value("progress") is None,
     "replay metric stuck under 100 but tip fresh: healthy, not replaying", r)

# ---- not synced -------------------------------------------------------------
r = health(new_style(age=700))
t.ok(r.code == 1, "tip 700s old: unhealthy", r)
t.ok("NOT SYNCED" in (r.value("detail") or "") and "700s" in r.value("detail"),
     "detail says not synced and the age", r)

# ---- roles ------------------------------------------------------------------
for role in ("relay", "standby", "dark-relay"):
    r = health(new_style(age=5, forging=1), role=role)
    t.ok(r.code == 1 and "CRITICAL" in (r.value("detail") or "") and "forging" in r.value("detail"),
         "forging_enabled 1 on a %s: unhealthy, critical" % role, r)
r = health(new_style(age=5000, forging=1), role="relay")
t.ok(r.code == 1 and "CRITICAL" in (r.value("detail") or ""),
     "a forging relay is critical even when not synced", r)
r = health(new_style(age=5, forging=1, kes=50), role="producer")
t.ok(r.code == 0, "forging on the producer: healthy", r)
t.ok(r.value("forging") == "1", "... and it tells staggerd forging=1 (the fleet-wide "
     "one-forger check reads it from the records)", r)
r = health(new_style(age=5, forging=0, kes=50), role="producer")
t.ok(r.code == 1 and "NOT FORGING" in (r.value("detail") or ""),
     "the producer not forging: unhealthy", r)
t.ok(r.value("forging") == "0", "... and forging=0", r)
r = health(new_style(age=5, forging=0, kes=50), role="producer",
           STAGGER_CARDANO_PRODUCER_MUST_FORGE="0")
t.ok(r.code == 0, "PRODUCER_MUST_FORGE=0 allows a non-forging producer", r)

r = health(new_style(age=5, forging=1, kes=5), role="producer")
d = r.value("detail") or ""
t.ok(r.code == 0 and "KES: 5 periods left" in d and "7.5 days" in d,
     "low KES on the producer: healthy with a warning and days left", r)
r = health(new_style(age=5, forging=1, kes=5), role="producer",
           STAGGER_CARDANO_KES_WARN_PERIODS="3")
t.ok(r.code == 0 and "KES" not in (r.value("detail") or ""), "KES threshold configurable", r)
r = health(new_style(age=5, forging=0, kes=2), role="relay")
t.ok(r.code == 0 and "KES" not in (r.value("detail") or ""), "no KES warning on a relay", r)

# ---- restarts (crash-loop detection in staggerd) -----------------------------
stub_dir = tempfile.mkdtemp(prefix="stagger-health-systemctl-")
stub = os.path.join(stub_dir, "systemctl")
with open(stub, "w") as f:
    f.write('#!/bin/sh\n[ "$*" = "show -p NRestarts --value cardano-node.service" ] && '
            '{ echo 4; exit 0; }\nexit 1\n')
os.chmod(stub, 0o755)
r = health(new_style(age=5), SYSTEMCTL=stub)
t.ok(r.code == 0 and r.value("restarts") == "4",
     "restarts=<the unit's NRestarts> from systemctl show", r)
r = health(new_style(age=5), SYSTEMCTL=stub, STAGGER_CARDANO_UNIT="other.service")
t.ok(r.code == 0 and r.value("restarts") is None,
     "no restarts line when systemctl cannot tell (another unit, no systemd)", r)
r = health(new_style(age=5), SYSTEMCTL=os.path.join(stub_dir, "missing"))
t.ok(r.code == 0 and r.value("restarts") is None, "no restarts line without systemctl", r)
r = health(url="http://127.0.0.1:9/metrics", SYSTEMCTL=stub)
t.ok(r.code == 1 and r.value("restarts") == "4" and "unreachable" in (r.value("detail") or ""),
     "restarts= also when the metrics do not answer (a crash-looping node is down at most "
     "scrapes)", r)

# ---- build identity: the artifact ROOT/current was installed from (issue 13) ----
root = os.path.join(state_root, "root")
os.makedirs(os.path.join(root, "versions", "10.5.3@0123456789ab"))
os.symlink("versions/10.5.3@0123456789ab", os.path.join(root, "current"))
marker = os.path.join(root, "current", ".stagger-artifact")
sha = hashlib.sha256(b"rebuild").hexdigest()
with open(marker, "w") as f:
    f.write("url https://pkgs.example/cardano-node-10.5.3.tar.gz %s\n" % sha)
r = health(new_style(age=5), STAGGER_CARDANO_ROOT=root)
t.ok(r.code == 0 and r.value("build") == sha,
     "build=<the SHA-256 in current/.stagger-artifact>, the artifact it was installed from", r)
with open(marker, "w") as f:
    f.write("url https://pkgs.example/x.tar.gz not-a-hash\n")
r = health(new_style(age=5), STAGGER_CARDANO_ROOT=root)
t.ok(r.code == 0 and r.value("build") is None, "no build line for a marker without a SHA-256", r)
r = health(new_style(age=5), STAGGER_CARDANO_ROOT=os.path.join(root, "missing"))
t.ok(r.code == 0 and r.value("build") is None,
     "no build line without current (a tree installed by hand)", r)

# ---- the chain tip, for staggerd's fork detection (issue 13) -------------------
tipcmd = os.path.join(state_root, "tip.sh")
with open(tipcmd, "w") as f:
    f.write('#!/bin/sh\n[ "$1" = query ] || exit 3\necho \'{"block": 11482311, "epoch": 560, '
            '"era": "Conway", "hash": "6f1c2b7e0a9d44f3b1f2e9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8", '
            '"slot": 152470911, "slotInEpoch": 247311, "slotsToEpochEnd": 184689, '
            '"syncProgress": "100.00"}\'\n')
os.chmod(tipcmd, 0o755)
r = health(new_style(age=5), STAGGER_CARDANO_TIP_CMD=tipcmd + " query tip --mainnet")
t.ok(r.code == 0 and r.value("tip") ==
     "11482311:152470911:6f1c2b7e0a9d44f3b1f2e9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8",
     "tip=BLOCK:SLOT:HASH from cardano-cli query tip's JSON", r)
r = health(new_style(age=5), STAGGER_CARDANO_TIP_CMD=tipcmd + " other")
t.ok(r.code == 0 and r.value("tip") is None and "tip command exited 3" in r.out,
     "a failing tip command: no tip line, said in the output, still healthy", r)
r = health(new_style(age=5), STAGGER_CARDANO_TIP_CMD="echo '{\"block\": 1}'")
t.ok(r.code == 0 and r.value("tip") is None and "no tip" in r.out,
     "output without slot and hash: no tip line", r)
r = health(new_style(age=5))
t.ok(r.value("tip") is None, "no tip line without STAGGER_CARDANO_TIP_CMD", r)

# ---- garbage and unreachable --------------------------------------------------
r = health(GARBAGE)
t.ok(r.code == 1 and "no slotNum" in (r.value("detail") or ""), "garbage body: unhealthy", r)
t.ok(r.value("version") is None, "garbage body: no version line", r)

srv.status = 500
r = health(new_style())
srv.status = 200
t.ok(r.code == 1 and "unreachable" in (r.value("detail") or ""), "HTTP 500: unhealthy", r)

s = socket.socket()
s.bind(("127.0.0.1", 0))
dead = "http://127.0.0.1:%d/metrics" % s.getsockname()[1]
s.close()
r = health(url=dead)
t.ok(r.code == 1 and "unreachable" in (r.value("detail") or "") and dead in r.value("detail"),
     "nothing listening: unhealthy, detail names the URL", r)

# A server that accepts and never answers: the short timeout ends the run.
hang = socket.socket()
hang.bind(("127.0.0.1", 0))
hang.listen(1)
r = health(url="http://127.0.0.1:%d/metrics" % hang.getsockname()[1],
           STAGGER_CARDANO_METRICS_TIMEOUT_S="1")
hang.close()
t.ok(r.code == 1 and "unreachable" in (r.value("detail") or ""), "hung server: timeout, unhealthy", r)

# ---- hysteresis between HEALTHY (120 s) and UNHEALTHY (600 s) ------------------
st = fresh_state()
seq = [(300, 1, "fresh state, 300s: not yet healthy"),
       (14, 0, "then 14s: healthy"),
       (400, 0, "then 400s (a block gap): stays healthy"),
       (700, 1, "then 700s: unhealthy"),
       (400, 1, "then 400s: stays unhealthy"),
       (100, 0, "then 100s: healthy again")]
for age, want, name in seq:
    r = health(new_style(age=age), state=st)
    t.ok(r.code == want, "hysteresis: " + name, r)
    if age == 400 and want == 0:
        t.ok("degraded: tip age 400s" in (r.value("detail") or ""),
             "a 400s gap while healthy says degraded", r)

# ---- catching up shows as progress (a new best tip age) -----------------------
st = fresh_state()
r1 = health(new_style(age=5000), state=st)
r2 = health(new_style(age=4000), state=st)
r3 = health(new_style(age=4500), state=st)
t.ok(r1.value("progress") and r2.value("progress") and r1.value("progress") != r2.value("progress"),
     "catching up: each new best tip age is new progress", "%s\n%s" % (r1, r2))
t.ok(r3.value("progress") is None, "falling behind again is no progress", r3)

# ---- settings: env file, env over file, testnet slot offset --------------------
envfile = os.path.join(state_root, "cardano-node.env")
with open(envfile, "w") as f:
    f.write("# pool settings\nSTAGGER_CARDANO_METRICS_URL=%s\n"
            "export STAGGER_CARDANO_HEALTHY_TIP_AGE_S='10'\n" % URL)
srv.body = new_style(age=14)
before = srv.requests
r = run_hook(HOOK, {"STAGGER_CARDANO_ENV": envfile, "STAGGER_CARDANO_NOW": str(NOW),
                    "STAGGER_ROLE": "relay", "STAGGER_STATE_DIR": fresh_state()})
t.ok(srv.requests - before == 1 and r.code == 1 and "healthy under 10s" in (r.value("detail") or ""),
     "URL and threshold read from the env file", r)
r = run_hook(HOOK, {"STAGGER_CARDANO_ENV": envfile, "STAGGER_CARDANO_NOW": str(NOW),
                    "STAGGER_ROLE": "relay", "STAGGER_STATE_DIR": fresh_state(),
                    "STAGGER_CARDANO_HEALTHY_TIP_AGE_S": "120"})
t.ok(r.code == 0, "the environment overrides the env file", r)

PREVIEW = 1666656000
srv.body = new_style().replace("slotNum_int %d" % slot_for(14), "slotNum_int %d" % slot_for(30, PREVIEW))
r = health(STAGGER_CARDANO_SLOT_OFFSET_S=str(PREVIEW))
t.ok(r.code == 0 and (r.value("detail") or "").startswith("tip age 30s"),
     "testnet slot offset configurable", r)

# ---- the restart duration is measured for the gate -------------------------------
st = fresh_state()
os.makedirs(os.path.join(st, "cardano-node"))
with open(os.path.join(st, "cardano-node", "restart-begin"), "w") as f:
    f.write("%d\n" % (NOW - 321))
r = health(new_style(age=5), state=st)
try:
    measured = open(os.path.join(st, "cardano-node", "restart_s")).read().strip()
except OSError:
    measured = None
t.ok(r.code == 0 and measured == "321", "first healthy report after an install records restart_s",
     "%s\nrestart_s=%s" % (r, measured))
t.ok(not os.path.exists(os.path.join(st, "cardano-node", "restart-begin")),
     "restart-begin consumed", r)

srv.shutdown()
shutil.rmtree(state_root, ignore_errors=True)
shutil.rmtree(stub_dir, ignore_errors=True)
t.done()
