#!/usr/bin/python3
"""test_tempfiles.py: staggerd removes the temporary files a kill between a
write and its rename leaves in its state directory (issue 10, item 6), and
nothing else.

Every state file is written as NAME.tmp.PID and renamed over NAME; a
SIGKILL in between leaves the temporary file for ever. Before one peer's
first start, its state directory gets two such files (a journal and a
hook.pgid, of processes long gone) and files that only look alike: no pid
(`journal.json.tmp`), a suffix that is not a number (`journal.json.tmp.12a`,
`notes.tmp.txt`), and a directory of the pattern (`saved.tmp.77`); a file of
the pattern outside the state directory (in the node's own directory) is
not its business either. Checked: after the start the two are gone, the
rest untouched (same contents), the log says INFO it removed 2, and the
node joins the fleet as usual.

usage: /usr/bin/python3 test_tempfiles.py STAGGERD STAGGERCTL   (prints TAP)
"""
import os
import sys

from fleet import main

STALE = {"journal.json.tmp.12345": '{"v":1,"phase":"insta', "hook.pgid.tmp.999": "4242 /x\n"}
KEEP = {"journal.json.tmp": "no pid\n", "journal.json.tmp.12a": "not a pid\n",
        "notes.tmp.txt": "an operator's notes\n"}
KEEP_DIR = "saved.tmp.77"
OUTSIDE = "roster.signed.tmp.4321"


def test(f, tap):
    v = f.order[-1]
    state = os.path.join(f.nodes[v].dir, "state")
    os.mkdir(state, 0o700)
    for name, text in list(STALE.items()) + list(KEEP.items()):
        with open(os.path.join(state, name), "w") as out:
            out.write(text)
    os.mkdir(os.path.join(state, KEEP_DIR))
    with open(os.path.join(f.nodes[v].dir, OUTSIDE), "w") as out:
        out.write("outside\n")
    f.start_all()
    left = [n for n in STALE if os.path.exists(os.path.join(state, n))]
    tap.check(not left, "%s started: the stale %s are gone" % (v, " and ".join(STALE)),
              repr(sorted(os.listdir(state))))
    changed = [n for n, text in KEEP.items()
               if not os.path.isfile(os.path.join(state, n)) or
               open(os.path.join(state, n)).read() != text]
    tap.check(not changed and os.path.isdir(os.path.join(state, KEEP_DIR)) and
              os.path.exists(os.path.join(f.nodes[v].dir, OUTSIDE)),
              "files that only look alike are untouched: %s, the directory %s, and %s outside "
              "the state directory" % (", ".join(KEEP), KEEP_DIR, OUTSIDE),
              "changed or gone: %r; state dir: %r" % (changed, sorted(os.listdir(state))))
    lines = [l for l in f.log_text(v).splitlines() if "stale temporary file" in l]
    tap.check(len(lines) == 1 and " INFO " in lines[0] and "removed 2 stale temporary files"
              in lines[0], "its log says, at INFO, that it removed 2", "\n".join(lines))
    f.converge(timeout=30)


if __name__ == "__main__":
    sys.exit(main(test, n=3))
