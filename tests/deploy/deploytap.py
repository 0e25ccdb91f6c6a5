"""Shared by the deploy tests: TAP output and running a hook with a clean
environment (staggerd gives hooks only its STAGGER_* variables and PATH)."""
import os
import subprocess
import sys


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, info=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            for line in str(info).splitlines() or [""]:
                print("#   " + line, flush=True)
        return cond

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


class Result:
    def __init__(self, p):
        self.code = p.returncode
        self.out = p.stdout
        self.lines = p.stdout.splitlines()

    def value(self, key):
        """The last 'key=...' line's value, or None."""
        v = None
        for line in self.lines:
            if line.startswith(key + "="):
                v = line[len(key) + 1:]
        return v

    @property
    def last(self):
        return self.lines[-1] if self.lines else ""

    def __str__(self):
        return "exit %s\n%s" % (self.code, self.out)


def run_hook(path, env, timeout=60):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "STAGGER_CARDANO_ENV": "/nonexistent/cardano-node.env"}
    base.update(env)
    p = subprocess.run([path], env=base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return Result(p)
