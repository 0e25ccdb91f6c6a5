#!/usr/bin/python3
"""test_rollout_crash.py: kill -9 of the updating node in the middle of its
install. The first node's install takes 3 s; when status shows it
`installing` (and its own log and hook log agree the install has not
ended), it is killed with SIGKILL. Restarted, it resumes from its journal
in `verifying` and ends done, with no rollback; no other node starts while
it holds the slot; and the rollout carries on to every node.

usage: /usr/bin/python3 test_rollout_crash.py STAGGERD STAGGERCTL [daemon|group]
(prints TAP). daemon: only staggerd is killed; its install hook, in its own
process group, lives on and finishes. group: the hook's process group is
killed too, as a supervisor stopping the whole service would (systemd's
control group): the install never finished, the old version runs healthy,
and the node must run the install again.
"""
import os
import signal
import sys

from fleet import NEW_VERSION, busy_spans, main, max_overlap, rollout_policy, variant

VARIANT = variant("daemon")
POLICY = rollout_policy(batch=1, soak_s=2, epoch_s=10)
INSTALL_MS = 3000


def test(f, tap):
    f.start_all()
    if not f.converge(timeout=30):
        return
    signed, rid = f.release()
    first = f.expected_order(rid)[0][0]
    f.set_update(first, install_ms=INSTALL_MS)
    watcher = [n for n in f.order if n != first][0]
    r = f.publish(signed, watcher)
    tap.check(r.returncode == 0, "release %s published to %s" % (NEW_VERSION, watcher),
              r.stdout + r.stderr)

    def installing():
        st = f.status(watcher)
        rows = [m["name"] for m in (st.doc or {}).get("members", [])
                if m["phase"] == "installing"]
        if not rows:
            return ["%s sees nobody installing" % watcher]
        # Gossip can outrun the hook's first line on a loaded machine.
        if not f.installs(rows[0]):
            return ["%s installing, its install hook has not begun yet" % rows[0]]
        return []

    if not f.check_wait("%s's status shows a node installing, whose install hook has begun"
                        % watcher, installing, 20):
        return
    victim = [m["name"] for m in f.status(watcher).doc["members"]
              if m["phase"] == "installing"][0]
    tap.check(victim == first, "it is %s, the first in the order" % first, victim)
    moves = [m.new for m in f.moves(victim, NEW_VERSION)]
    hooks = [h[3].split()[0] for h in f.hooks_log(victim) if h[1] == "install"]
    mid = moves == ["elected", "installing"] and hooks == ["begin"]
    f.kill9(victim)
    if VARIANT == "group":
        # The hook runs in its own session: its pid is its process group.
        pid = int([h for h in f.hooks_log(victim) if h[1] == "install"][0][3].split()[-1])
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    tap.check(mid, "killed %s%s with SIGKILL mid-install (its log: %s; install hook: %s)"
              % (victim, " and its install hook" if VARIANT == "group" else "",
                 " -> ".join(moves), ", ".join(hooks)))

    f.start(victim)
    done = {n: {"version": NEW_VERSION, "phase": "done"} for n in [victim]}
    f.check_wait("restarted, %s ends done on %s in every peer's view" % (victim, NEW_VERSION),
                 lambda: f.problems(done), 30)
    f.check_wait("the rollout carries on: every peer shows all 8 members done on %s"
                 % NEW_VERSION, lambda: f.rolled_out(), 120)

    mv = f.moves(victim, NEW_VERSION)
    after = [m.new for m in mv if m.run == 2]
    # Resumed in verifying (no log line: the journal said installing). The
    # install found done is only verified; one cut short runs again.
    again = ["installing", "verifying", "soaking", "done"]
    want = [again] if VARIANT == "group" else [["soaking", "done"], again]
    tap.check(after in want and mv[-len(after)].old == "verifying",
              "after the restart it went on from verifying, no new election%s (%s)"
              % (", the install run again" if VARIANT == "group" else "",
                 " -> ".join(after)))
    hooks = [(h[1], h[3].split()[0]) for h in f.hooks_log(victim) if h[1] != "gate"]
    runs = 2 if after == again else 1
    # An install cut short never finishes: with the group killed (systemd),
    # or, when only the daemon died, killed by the restarted daemon before
    # it resumes, so two installers never run side by side.
    killed = "killing the hook left running by the previous daemon" in f.log_text(victim)
    ends = 1 if runs == 2 and (VARIANT == "group" or killed) else runs
    tap.check(hooks.count(("install", "begin")) == runs and
              hooks.count(("install", "end")) == ends and
              not any(h[0] == "rollback" for h in hooks),
              "its install hook ran %d time(s), %d finished; no rollback" % (runs, ends),
              repr(f.hooks_log(victim)))
    if VARIANT == "daemon" and runs == 2:
        tap.check(killed, "the restarted daemon killed the orphaned install before running it "
                          "again", f.log_text(victim)[-2000:])
    busy = {n: busy_spans(f.moves(n, NEW_VERSION)) for n in f.order}
    most, at = max_overlap([s for n in f.order for s in busy[n]])
    tap.check(most == 1, "never more than 1 node between elected and done, the crash included",
              "%d at %s: %r" % (most, at, busy))
    vic_done = busy[victim][0][1] if busy[victim] else None
    later = [n for n in f.order if n != victim and busy[n] and vic_done and
             busy[n][0][0] < vic_done]
    tap.check(vic_done and not later, "no other node was elected before %s was done" % victim,
              repr(later))
    tap.check(f.status(watcher).doc["rollout"]["waiting"].startswith("done:"),
              "%s says the rollout is done" % watcher)


if __name__ == "__main__":
    sys.exit(main(test, policy=POLICY))
