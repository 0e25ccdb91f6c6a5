#!/usr/bin/python3
"""mutant.py: build one mutant of the core and show the simulator catches it.

    mutant.py NAME --src SRC --build BUILD --cc CC --sim STAGGER_SIM [--keep]

Copies node/core to BUILD/tests/sim/mutants/NAME/, applies the NAME block of
mutants.txt (its string must occur exactly once in the files it names, or
this fails loudly: a mutant that no longer applies must be rewritten, not
skipped), compiles the copy with the simulator into one stagger-sim in one
compiler run, and runs its seed range. A violating seed counts as a catch
only when the unmutated stagger-sim (STAGGER_SIM) passes the same seed with
the same options, so a bug today's core already has cannot pass for one the
mutant made. Exit 0: caught; 1: not caught or not applicable."""
import fnmatch
import glob
import os
import re
import shutil
import subprocess
import sys


def blocks(path):
    out, cur = [], {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                out.append(cur)
            cur = {}
            continue
        key, _, val = line.partition(":")
        cur[key.strip()] = val[1:] if val.startswith(" ") else val
    if cur:
        out.append(cur)
    return out


def fail(msg):
    print(f"not ok: {msg}")
    sys.exit(1)


def main():
    args = sys.argv[1:]
    name = args[0]
    opt = {args[i]: args[i + 1] for i in range(1, len(args) - 1, 2)}
    src, build, cc, sim = opt["--src"], opt["--build"], opt["--cc"], opt["--sim"]
    here = os.path.join(src, "tests", "sim", "mutants")
    found = [b for b in blocks(os.path.join(here, "mutants.txt")) if b.get("name") == name]
    if len(found) != 1:
        fail(f"{name}: {len(found)} blocks of that name in mutants.txt")
    m = found[0]
    for k in ("files", "find", "replace", "args"):
        if k not in m:
            fail(f"{name}: no '{k}:' line")

    work = os.path.join(build, "tests", "sim", "mutants", name)
    shutil.rmtree(work, ignore_errors=True)
    core = os.path.join(work, "core")
    shutil.copytree(os.path.join(src, "node", "core"), core)

    # Exactly one occurrence across every file the glob names.
    hits = []
    for f in sorted(glob.glob(os.path.join(core, "*"))):
        if fnmatch.fnmatch(os.path.basename(f), m["files"]):
            hits += [f] * open(f, encoding="utf-8").read().count(m["find"])
    if len(hits) != 1:
        fail(f"{name}: '{m['find']}' occurs {len(hits)} times in node/core/{m['files']}, "
             "needs exactly 1: rewrite the mutant for the code as it is now")
    text = open(hits[0], encoding="utf-8").read().replace(m["find"], m["replace"])
    open(hits[0], "w", encoding="utf-8").write(text)

    # One compile: the mutated core, the simulator, the codecs' library.
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libsodium", "jansson"],
                           check=True, capture_output=True, text=True).stdout.split()
    exe = os.path.join(work, "stagger-sim")
    simdir = os.path.join(src, "tests", "sim")
    cmd = [cc, "-O1", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-w",
           "-I", os.path.join(src, "include"), "-I", core, "-I", simdir, "-o", exe]
    cmd += sorted(glob.glob(os.path.join(core, "*.c")))
    cmd += [os.path.join(simdir, f) for f in ("sim.c", "check.c", "stagger_sim.c", "verify_memo.c")]
    cmd += [os.path.join(build, "proto", "libstg_proto.a")] + flags + ["-ldl"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{name}: the mutant does not compile:\n{r.stderr[-3000:]}")

    sim_args = m["args"].split()
    rng = sim_args[sim_args.index("--seeds") + 1]
    first, last = (int(x) for x in rng.split(".."))
    rest = [a for i, a in enumerate(sim_args)
            if a != "--seeds" and (i == 0 or sim_args[i - 1] != "--seeds")]
    while first <= last:
        r = subprocess.run([exe, "--seeds", f"{first}..{last}", "--quiet", "--stop"] + rest,
                           capture_output=True, text=True)
        hit = re.search(r"^seed (\d+): VIOLATION (.*)$", r.stdout, re.M)
        if r.returncode == 0 or not hit:
            break
        seed = int(hit.group(1))
        base = subprocess.run([sim, "--seed", str(seed), "--quiet"] + rest,
                              capture_output=True, text=True)
        if base.returncode == 0:
            print(f"ok: {name} caught at seed {seed} ({' '.join(rest) or 'default options'}): "
                  f"{hit.group(2)}")
            if "--keep" not in args:
                shutil.rmtree(work, ignore_errors=True)
            return 0
        print(f"# seed {seed} fails without the mutant too: not a catch")
        first = seed + 1
    fail(f"{name}: survived stagger-sim {m['args']}")


if __name__ == "__main__":
    sys.exit(main())
