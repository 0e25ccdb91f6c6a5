"""benchlog.py: what the benchmarks share about daemons' logs and figures:
the nearest-rank percentile, and a follower that reads each new complete
line of a staggerd log and hands it on parsed. Stdlib only."""
import calendar
import re
import time

# staggerd's log line: UTC time with ms, daemon name, level, [tag], text.
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z (\S+) (\w+)\s+\[(\w+)\] (.*)$")
_SECS = {}


def pctl(xs, p):
    """Nearest-rank percentile (the Serf script's definition)."""
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def log_ms(date, ms):
    """Unix ms of a log line's time fields."""
    s = _SECS.get(date)
    if s is None:
        s = _SECS[date] = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return s * 1000 + int(ms)


class LogFollower:
    """Follows one daemon's log file: each poll() passes every new complete
    line to line(ms, level, tag, text, raw)."""

    def __init__(self, path):
        self.path, self.off, self.rest = path, 0, b""

    def line(self, ms, level, tag, text, raw):
        raise NotImplementedError

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read(1 << 22)
        except FileNotFoundError:
            return
        self.off += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        for raw in data[:cut].decode(errors="replace").splitlines():
            m = LINE.match(raw)
            if m:
                self.line(log_ms(m.group(1), m.group(2)), m.group(4), m.group(5), m.group(6), raw)
