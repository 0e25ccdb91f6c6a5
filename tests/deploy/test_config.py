#!/usr/bin/python3
"""The deploy files agree with each other and with the daemon: the example
daemon config parses, points at the installed hooks; the env example only
names settings the hooks read and restates their defaults; the units match
what the hooks require; the hooks run from an installed copy.
  test_config.py DEPLOY_DIR STAGGERD"""
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploytap import Tap, run_hook  # noqa: E402

DEPLOY, STAGGERD = sys.argv[1], sys.argv[2]
HOOKS = os.path.join(DEPLOY, "hooks", "cardano-node")
t = Tap()
tmp = tempfile.mkdtemp(prefix="stagger-deploy-config-")

# ---- staggerd.json.example --------------------------------------------------
example = os.path.join(DEPLOY, "systemd", "staggerd.json.example")
p = subprocess.run([STAGGERD, "--config", example, "--check-config"], capture_output=True, text=True)
# Every field is decoded before the key file is opened: failing on the key
# (absent here) means the fields themselves were accepted.
t.ok(p.returncode != 0 and "cannot open secret key" in p.stderr and "/etc/stagger/relay1.key" in p.stderr,
     "staggerd accepts every field of staggerd.json.example (stops at the absent key)", p.stderr)
cfg = json.load(open(example))
want = {h: "/usr/libexec/stagger/hooks/cardano-node/" + h
        for h in ("health", "install", "rollback", "gate")}
t.ok(cfg.get("hooks") == want, "the example's hooks are where deploy/meson.build installs them", cfg)
t.ok(all(os.access(os.path.join(HOOKS, h), os.X_OK) for h in want), "each hook exists, executable")
t.ok(cfg.get("state_dir") == "/var/lib/stagger", "state_dir is the unit's StateDirectory", cfg)

# ---- cardano-node.env.example --------------------------------------------------
envex = os.path.join(HOOKS, "cardano-node.env.example")
# "#KEY=value" (no space) is a setting left at its default on purpose.
keys = re.findall(r"^#?([A-Z_][A-Z0-9_]*)=", open(envex).read(), re.M)
sources = "".join(open(os.path.join(HOOKS, f)).read()
                  for f in ("health", "gate", "cardano_hooklib.py", "common.sh", "install", "rollback"))
unknown = [k for k in keys if not re.search(r"\b%s\b" % k, sources)]
t.ok(len(keys) > 30 and not unknown, "every key of the env example is read by a hook (%d keys)" % len(keys),
     unknown)

sys.path.insert(0, HOOKS)
import cardano_hooklib as lib  # noqa: E402
with_file = lib.load_settings({"STAGGER_CARDANO_ENV": envex})
without = lib.load_settings({"STAGGER_CARDANO_ENV": "/nonexistent"})
diff = {k: (with_file.get(k), without.get(k)) for k in lib.DEFAULTS if with_file.get(k) != without.get(k)}
t.ok(not diff, "the env example restates the Python hooks' defaults", diff)
t.ok(set(lib.DEFAULTS) - {"STAGGER_CARDANO_NOW", "STAGGER_CARDANO_HOOK_STATE"} <= set(keys),
     "every Python setting is in the env example", set(lib.DEFAULTS) - set(keys))

SHOW = ('. "%s/common.sh"; STEP=; printf "%%s|" "$ROOT" "$DB" "$UNIT" "$MIN_STOP_S" "$CHECK_UNIT" '
        '"$SNAPSHOT_MODE" "$BIN_SUBPATH" "$CONFIG_SUBPATH" "$KEEP_VERSIONS" "$IMAGE_PATH" '
        '"$IMAGE_FETCH" "$SYSTEMCTL" "$CURL" "$SHA256SUM" "$TAR" "$DPKG_DEB" "$PODMAN"' % HOOKS)


def sh_settings(envfile):
    return subprocess.run(["sh", "-c", SHOW], env={"PATH": os.environ["PATH"], "STAGGER_CARDANO_ENV": envfile},
                          capture_output=True, text=True).stdout


a, b = sh_settings(envex), sh_settings("/nonexistent")
t.ok(a == b and a.startswith("/opt/cardano-node|/var/lib/cardano-node/db|cardano-node.service|300|"),
     "the env example restates the sh hooks' defaults", "%s\n%s" % (a, b))
hostile = os.path.join(tmp, "hostile.env")
with open(hostile, "w") as f:
    f.write("STAGGER_CARDANO_ROOT=$(touch %s/pwned)\nBAD-KEY=1\n;touch %s/pwned2;X=1\n" % (tmp, tmp))
out = sh_settings(hostile)
t.ok(out.startswith("$(touch") and not os.path.exists(os.path.join(tmp, "pwned"))
     and not os.path.exists(os.path.join(tmp, "pwned2")),
     "env file values are read, never executed", out)

# ---- units -----------------------------------------------------------------------


def unit(path):
    c = configparser.ConfigParser(strict=False, interpolation=None)
    c.optionxform = str
    c.read(path)
    return c


svc = unit(os.path.join(DEPLOY, "systemd", "staggerd.service"))["Service"]
t.ok(svc.get("NoNewPrivileges") == "yes" and svc.get("ProtectSystem") == "strict"
     and svc.get("StateDirectory") == "stagger" and svc.get("Restart") == "on-failure"
     and svc.get("KillSignal") == "SIGTERM", "staggerd.service: hardening, state dir, restart, signal",
     dict(svc))
rw = svc.get("ReadWritePaths", "").split()
t.ok("/opt/cardano-node" in rw and any("/var/lib/cardano-node/db".startswith(p) for p in rw),
     "the unit lets the hooks write the default ROOT and DB", rw)
t.ok("AF_UNIX" in svc.get("RestrictAddressFamilies", "") and svc.get("PrivateUsers") is None,
     "systemctl can still reach D-Bus (AF_UNIX, no PrivateUsers)", dict(svc))
drop = unit(os.path.join(DEPLOY, "systemd", "cardano-node.service.d", "stagger.conf"))["Service"]
t.ok(drop.get("KillSignal") == "SIGINT" and int(drop.get("TimeoutStopSec", "0")) >= 300,
     "the cardano-node drop-in passes the install hook's unit check (SIGINT, >= 300 s)", dict(drop))
rules = open(os.path.join(DEPLOY, "systemd", "stagger-cardano-node.rules")).read()
t.ok('subject.user == "%s"' % svc.get("User") in rules and '"cardano-node.service"' in rules,
     "the polkit rule is for the unit's User and cardano-node.service only", svc.get("User"))

# ---- the container deployment ----------------------------------------------------
CT = os.path.join(DEPLOY, "hooks", "cardano-node-container")
ctenv = os.path.join(CT, "cardano-node-container.env.example")
ctkeys = re.findall(r"^([A-Z_][A-Z0-9_]*)=", open(ctenv).read(), re.M)
ctsources = sources + "".join(open(os.path.join(CT, f)).read()
                              for f in ("health", "container.sh", "install", "rollback"))
unknown = [k for k in ctkeys if not re.search(r"\b%s\b" % k, ctsources)]
t.ok(len(ctkeys) > 15 and not unknown,
     "every key of the container env example is read by a hook (%d keys)" % len(ctkeys), unknown)
CTSHOW = ('. "%s/common.sh"; . "%s/container.sh"; STEP=; printf "%%s|" "$ENGINE" "$ENGINE_CMD" '
          '"$ENGINE_ARGS" "$NAME" "$OPTIONS" "$STOP_S" "$RESTART" "$IMAGE_DIR" "$DB" "$SNAPSHOTS" '
          '"$SNAPSHOT_MODE"' % (HOOKS, CT))


def ct_settings(envfile):
    return subprocess.run(["sh", "-c", CTSHOW], env={"PATH": os.environ["PATH"],
                                                     "STAGGER_CARDANO_ENV": envfile,
                                                     "STAGGER_STATE_DIR": tmp},
                          capture_output=True, text=True).stdout


a, b = ct_settings(ctenv), ct_settings("/nonexistent")
t.ok(a == b and a.startswith("podman|podman||cardano-node|/etc/stagger/cardano-node.container|600|"),
     "the container env example restates container.sh's defaults", "%s\n%s" % (a, b))
ctsvc = unit(os.path.join(DEPLOY, "systemd", "staggerd.service.d", "containers.conf"))["Service"]
sock = unit(os.path.join(DEPLOY, "systemd", "podman.socket.d", "stagger.conf"))["Socket"]
t.ok(ctsvc.get("SupplementaryGroups") == sock.get("SocketGroup") and
     sock.get("SocketMode") == "0660",
     "the staggerd drop-in's group owns the podman socket, mode 0660", (dict(ctsvc), dict(sock)))
t.ok(not any(k in ctsvc for k in ("NoNewPrivileges", "ProtectSystem", "ProtectHome",
                                  "RestrictNamespaces", "RestrictSUIDSGID", "User")),
     "the drop-in loosens none of the unit's sandbox (NoNewPrivileges stays yes)", dict(ctsvc))
rwlines = re.findall(r"^ReadWritePaths=(.*)$", open(os.path.join(
    DEPLOY, "systemd", "staggerd.service.d", "containers.conf")).read(), re.M)
t.ok(rwlines and rwlines[0] == "" and "/opt/cardano-node" not in " ".join(rwlines) and
     any("/var/lib/cardano-node/db".startswith(p) for ln in rwlines for p in ln.split()),
     "it resets ReadWritePaths (no /opt/cardano-node, which may not exist) and keeps the db",
     rwlines)

# ---- the hooks run from an installed copy (libexecdir, no source tree) ---------
inst = os.path.join(tmp, "libexec", "stagger", "hooks", "cardano-node")
os.makedirs(inst)
for f in ("health", "install", "rollback", "gate", "common.sh", "cardano_hooklib.py"):
    shutil.copy2(os.path.join(HOOKS, f), inst)
r = run_hook(os.path.join(inst, "gate"), {"STAGGER_ROLE": "relay"})
t.ok(r.code == 0 and "relay" in r.last, "installed gate runs", r)
r = run_hook(os.path.join(inst, "health"), {"STAGGER_ROLE": "relay",
                                            "STAGGER_CARDANO_METRICS_URL": "http://127.0.0.1:9/metrics"})
t.ok(r.code == 1 and "unreachable" in (r.value("detail") or ""), "installed health runs", r)
r = run_hook(os.path.join(inst, "rollback"), {"STAGGER_CARDANO_ROOT": os.path.join(tmp, "root"),
                                              "SYSTEMCTL": "/bin/true", "STAGGER_RELEASE_VERSION": "1.0"})
t.ok(r.code == 0 and "nothing to switch back" in r.last, "installed rollback finds common.sh", r)
ctinst = os.path.join(tmp, "libexec", "stagger", "hooks", "cardano-node-container")
os.makedirs(ctinst)
for f in ("health", "install", "rollback", "container.sh"):
    shutil.copy2(os.path.join(CT, f), ctinst)
os.symlink("../cardano-node/gate", os.path.join(ctinst, "gate"))
r = run_hook(os.path.join(ctinst, "gate"), {"STAGGER_ROLE": "relay"})
t.ok(r.code == 0 and "relay" in r.last, "installed container gate (the host gate) runs", r)
r = run_hook(os.path.join(ctinst, "health"), {"STAGGER_ROLE": "relay", "STAGGER_STATE_DIR": tmp,
                                              "PODMAN": "/nonexistent/podman"})
t.ok(r.code == 1 and "cannot ask the container engine" in (r.value("detail") or ""),
     "installed container health loads the host health and says when the engine is missing", r)
r = run_hook(os.path.join(ctinst, "rollback"), {"STAGGER_STATE_DIR": tmp,
                                                "PODMAN": "/nonexistent/podman"})
t.ok(r.code == 1 and "cannot reach the container engine" in r.last,
     "installed container rollback finds both common.sh and container.sh", r)
t.ok(not os.path.exists(os.path.join(inst, "__pycache__")) and
     not os.path.exists(os.path.join(ctinst, "__pycache__")), "no bytecode written next to the hooks")
t.done()
