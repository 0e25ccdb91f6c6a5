"""Shared by the cardano-node health and gate hooks: settings, the clock,
Cardano time arithmetic and a Prometheus text parser. Python 3 stdlib only.

Settings come from the environment first, then from the env file
(STAGGER_CARDANO_ENV, default /etc/stagger/cardano-node.env: KEY=VALUE
lines, '#' comments, optional quotes), then the defaults below (mainnet).
staggerd passes hooks only its own STAGGER_* variables and PATH, so on a
pool machine the env file is where the settings live.

The epoch schedule is the exception: it is the roster's (policy.epoch),
which staggerd hands every hook as STAGGER_EPOCH_START_S, _LENGTH_S and
_GUARD_S. STAGGER_CARDANO_EPOCH_* only stand in for them when a hook runs
by hand; where both are set and disagree, the roster wins and the hook says
so on stderr (see Epochs).
"""
import math
import os
import re
import sys
import time

DEFAULTS = {
    "STAGGER_CARDANO_METRICS_URL": "http://127.0.0.1:12798/metrics",
    "STAGGER_CARDANO_METRICS_TIMEOUT_S": "3",
    # Tip time = slot * slot length + offset. Mainnet: 1 s slots since
    # Shelley, offset 1591566291 (the Byron era had 20 s slots).
    "STAGGER_CARDANO_SLOT_OFFSET_S": "1591566291",
    "STAGGER_CARDANO_SLOT_LENGTH_S": "1",
    "STAGGER_CARDANO_HEALTHY_TIP_AGE_S": "120",
    "STAGGER_CARDANO_WARN_TIP_AGE_S": "180",
    "STAGGER_CARDANO_DEGRADED_TIP_AGE_S": "300",
    "STAGGER_CARDANO_UNHEALTHY_TIP_AGE_S": "600",
    "STAGGER_CARDANO_KES_WARN_PERIODS": "10",
    "STAGGER_CARDANO_KES_PERIOD_S": "129600",
    "STAGGER_CARDANO_PRODUCER_MUST_FORGE": "1",
    # Epoch EPOCH_REF starts at EPOCH_START_S: how epochs are numbered (the
    # roster knows boundary times only). LENGTH, GUARD and START as the
    # boundary schedule serve only when staggerd did not hand the roster's.
    "STAGGER_CARDANO_EPOCH_START_S": "1596059091",
    "STAGGER_CARDANO_EPOCH_REF": "208",
    "STAGGER_CARDANO_EPOCH_LENGTH_S": "432000",
    "STAGGER_CARDANO_EPOCH_GUARD_S": "3600",
    "STAGGER_CARDANO_LEADER_SLOTS_FILE": "",
    # How long before an epoch its leader schedule can be computed (the
    # nonce's stability window, 3k/f slots: mainnet and preprod 129600 s).
    "STAGGER_CARDANO_LEADER_KNOWN_S": "129600",
    "STAGGER_CARDANO_RESTART_S": "600",
    "STAGGER_CARDANO_LEADER_MARGIN_S": "600",
    "STAGGER_CARDANO_ROOT": "/opt/cardano-node",
    # A command printing `cardano-cli query tip` JSON; empty: no tip= line
    # (staggerd's fork detection then has no word from this node).
    "STAGGER_CARDANO_TIP_CMD": "",
    "STAGGER_CARDANO_HOOK_STATE": "",
    "STAGGER_CARDANO_NOW": "",
}

_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Settings(dict):
    """The settings by name; given maps each one set in the environment or
    the env file (not left at its default) to where it was set."""

    def __init__(self, *args):
        super().__init__(*args)
        self.given = {}


def load_settings(environ=None):
    env = dict(os.environ if environ is None else environ)
    path = env.get("STAGGER_CARDANO_ENV", "/etc/stagger/cardano-node.env")
    from_file = {}
    try:
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                if line.startswith("export "):
                    line = line[7:].lstrip()
                key, val = line.split("=", 1)
                key, val = key.strip(), val.strip()
                if len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
                    val = val[1:-1]
                if _KEY.match(key):
                    from_file[key] = val
    except FileNotFoundError:
        pass
    from_env = {k: v for k, v in env.items() if k.startswith("STAGGER_")}
    out = Settings(DEFAULTS)
    out.update(from_file)
    out.update(from_env)
    out.given = dict.fromkeys(from_file, path)
    out.given.update(dict.fromkeys(from_env, "the environment"))
    return out


class SettingError(Exception):
    pass


def num(cfg, key, kind=int):
    val = cfg.get(key, "")
    try:
        return kind(val)
    except ValueError:
        raise SettingError("%s=%r is not a number" % (key, val)) from None


def now(cfg):
    """The clock; STAGGER_CARDANO_NOW (Unix seconds) replaces it in tests."""
    if cfg.get("STAGGER_CARDANO_NOW"):
        return num(cfg, "STAGGER_CARDANO_NOW", float)
    return time.time()


def hook_state_dir(cfg):
    """Where the hooks keep their own small files, or None."""
    d = cfg.get("STAGGER_CARDANO_HOOK_STATE") or ""
    if not d and cfg.get("STAGGER_STATE_DIR"):
        d = os.path.join(cfg["STAGGER_STATE_DIR"], "cardano-node")
    return d or None


def slot_time(cfg, slot):
    return slot * num(cfg, "STAGGER_CARDANO_SLOT_LENGTH_S", float) + \
        num(cfg, "STAGGER_CARDANO_SLOT_OFFSET_S", float)


class Epochs:
    """The epoch schedule. Boundaries (start, length) and the guard are the
    roster's, from STAGGER_EPOCH_*; the hook's STAGGER_CARDANO_EPOCH_* only
    when staggerd did not hand them (a hook run by hand). Numbers come from
    the hook's reference, epoch STAGGER_CARDANO_EPOCH_REF beginning at
    STAGGER_CARDANO_EPOCH_START_S, moved to the nearest roster boundary:
    the roster knows when boundaries fall, not what the chain calls them,
    and leader schedules are named by epoch number and slot."""

    def __init__(self, cfg, note=None):
        self.notes = []
        self.length, src = self._pick(cfg, "LENGTH_S", float)
        if self.length <= 0:
            raise SettingError("%s must be positive" % src)
        self.guard, src = self._pick(cfg, "GUARD_S", int)
        if self.guard < 0:
            raise SettingError("%s must not be negative" % src)
        self.start, _ = self._pick(cfg, "START_S", float)
        self.ref = num(cfg, "STAGGER_CARDANO_EPOCH_REF")
        ref_start = num(cfg, "STAGGER_CARDANO_EPOCH_START_S", float)
        k = round((ref_start - self.start) / self.length)
        self.ref_start = self.start + k * self.length
        for line in self.notes:
            (note or _stderr)(line)

    def _pick(self, cfg, what, kind):
        """(value, the variable it came from): the roster's if staggerd
        handed it, else the hook's own setting."""
        roster, own = "STAGGER_EPOCH_" + what, "STAGGER_CARDANO_EPOCH_" + what
        if not cfg.get(roster):
            return num(cfg, own, kind), own
        val = num(cfg, roster, kind)
        given = getattr(cfg, "given", {})
        if own not in given:
            return val, roster
        mine = num(cfg, own, kind)
        where = "%s=%s (in %s)" % (own, cfg[own], given[own])
        if what != "START_S" and mine != val:
            self.notes.append("epoch schedule: the roster's %s is %s, not %s: using the "
                              "roster's" % (what.lower(), cfg[roster], where))
        elif what == "START_S" and (mine - val) % self.length != 0:
            # Any boundary serves as a start: they disagree only when the
            # hook's is off the roster's grid, and then numbers are off too.
            self.notes.append("epoch schedule: %s is not a boundary of the roster's (start_s "
                              "%s, every %d s): using the roster's, epochs numbered from its "
                              "nearest boundary" % (where, cfg[roster], self.length))
        return val, roster

    def at(self, t):
        """(epoch number, its start, its end) for Unix time t."""
        k = math.floor((t - self.ref_start) / self.length)
        s = self.ref_start + k * self.length
        return self.ref + k, s, s + self.length

    def start_of(self, epoch):
        return self.ref_start + (epoch - self.ref) * self.length


def _stderr(line):
    print(line, file=sys.stderr, flush=True)


# ---- Prometheus text -------------------------------------------------------

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_prometheus(text):
    """[(name, {label: value}, float)] for each sample line; '#' lines
    (HELP, TYPE, EOF) and unparsable lines are skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = {}
        if m.group(2):
            for lm in _LABEL.finditer(m.group(2)):
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\\\", "\\")
        out.append((m.group(1), labels, value))
    return out


# Both generations of names (legacy EKG-derived and the new tracing system),
# compared after dropping the prefix, the type suffix and the case.
ALIASES = {
    "slot": ("slotnum",),
    "block": ("blocknum",),
    "epoch": ("epoch",),
    "slot_in_epoch": ("slotinepoch",),
    "density": ("density",),
    "replay": ("blockreplayprogress",),
    "forging": ("forging_enabled",),
    "kes": ("remainingkesperiods",),
    "missed": ("slotsmissed", "slotsmissednum"),
    "forged": ("forge_forged",),
    "hot": ("peerselection_hot",),
    "inbound": ("connectionmanager_inboundconns",),
}
_PREFIXES = ("cardano_node_metrics_", "cardano_node_")
_SUFFIXES = ("_int", "_real", "_counter", "_gauge", "_total")
_LOOKUP = {alias: key for key, names in ALIASES.items() for alias in names}


def _normal(name):
    n = name.lower()
    for p in _PREFIXES:
        if n.startswith(p):
            n = n[len(p):]
            break
    for s in _SUFFIXES:
        if n.endswith(s):
            n = n[: -len(s)]
            break
    return n


def cardano_metrics(samples):
    """The metrics the hooks use, by logical name, plus 'version' from
    cardano_build_info{version="..."} when present."""
    out = {}
    for name, labels, value in samples:
        if name.endswith("build_info") and labels.get("version"):
            out["version"] = labels["version"]
            continue
        key = _LOOKUP.get(_normal(name))
        if key and key not in out:
            out[key] = value
    return out
