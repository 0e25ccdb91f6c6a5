/* check.h: the rollout invariants, checked after every simulator step
 * against the true state of every core (crashed nodes by their journal).
 * Used by stagger-sim and by the rollout scenario tests.
 *
 * The invariants (docs/testing.md, "Simulator" has the same list):
 *  1 batch      at most `batch` executors hold a slot (elected, installing,
 *               verifying, soaking, failed or rolling back), crashed ones
 *               counted by their journal; a machine down in a reboot its
 *               install announced is one of them (its journal says so).
 *  2 slot       no two of those executors hold the same slot number, and
 *               none holds a slot >= batch.
 *  3 majority   a node that enters elected has acks > n/2, and more than n/2
 *               voters (true state) hold a started grant of that slot and
 *               release for it at that moment.
 *  4 proof      a holdback node enters elected only when every non-holdback
 *               member's executor is done on that release, or it is idle or
 *               done and its service already runs that version.
 *  5 failed     a voter never grants or acknowledges the start of a slot for
 *               release R in a step after which its own view shows a member
 *               failed on R; and once the network is healed, no node enters
 *               elected on R later than FAILED_NEWS_MS after both the first
 *               failure on R and the heal; nor on a release of another
 *               component while R is the one it holds of R's component (a
 *               failure halts every component).
 *  6 proof, true time  a holdback node enters elected (not by an emergency
 *               update) only when every other member has run the release
 *               since at least the soak time and proof_epochs epoch
 *               boundaries, measured on the simulator's true clock from the
 *               earliest moment it could be healthy on it (its switch plus
 *               the service's restart): never on a node's skewed clock
 *               (slack: drift, and the granting voters' clock errors).
 *  7 halted     a voter that applied a halt and no resume since grants no
 *               new slot, and its core shows the halt, also after a
 *               restart (judged by the command sequence it reloaded).
 *  8 installer  at most one install or rollback hook runs on a node at a
 *               time, across restarts.
 *  9 journal    a voter that acknowledged a holder's start still holds
 *               that started grant after a restart (the acknowledgement
 *               leaves only after the grant is on disk).
 * 10 rebooting  no node holds a member dead while that member's announced
 *               absence (record away_ms) runs on the node's own clock.
 * 11 machines   at most `batch` machines are disrupted at once, whatever
 *               component each updates: a machine counts while its executor
 *               holds a slot (as in 1), an install or rollback hook runs on
 *               it (the simulator's account), or it is down in an announced
 *               reboot; and a hook that runs is for the component of the
 *               release its executor is about (one machine, one component's
 *               update at a time).
 *  emergency    an emergency update needs an applied command, and on a
 *               holdback node one whose update included the holdback nodes.
 * Every predicate here is written from the phases and the simulator's own
 * state, never with the core's helpers (stg_phase_updating, the proof), so
 * a core whose predicate is wrong cannot agree with its checker.
 * The end state (check_finished) is judged by the driver after the healed
 * phase. */
#ifndef STAGGER_SIM_CHECK_H
#define STAGGER_SIM_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/* After a heal, how long the failure of a release may take to stop new
 * elections: an attempt granted before the news may still collect its
 * start acknowledgements until start_bound / 2 (5 s by default), and the
 * news crosses a healed fleet in well under 5 s (push, then rumour). */
#define FAILED_NEWS_MS 10000

typedef struct check check_t;

/* Watch s (installs itself as the observer). Caller owns the result. */
check_t *check_new(sim_t *s);
void check_destroy(check_t **c);
/* What the observer does after node stepped; for a caller that installs an
 * observer of its own (sim_observe) and chains to the checker. */
void check_step(check_t *c, unsigned node);

/* The driver sent operator command seq (action "halt", "resume", "rollback",
 * "update", "abandon"): invariant 7 and the end state need to know. */
void check_command(check_t *c, int64_t seq, const char *action, bool include_holdback);
/* The driver promoted member `standby` (an operator's promote): from now
 * on the holdback pair the invariants judge by follows the swapped roles,
 * as the members' does. A member that is not the standby changes nothing. */
void check_promote(check_t *c, unsigned standby);

/* The driver published a release of component comp (SIM_COMP_*), or took
 * it back: check_finished then wants its rollout to end too. The primary's
 * is expected from the start; any component a node holds a release of is
 * judged anyway. */
void check_expect(check_t *c, unsigned comp, bool published);

/* The network is healed from now on (starts the clock of invariant 5). */
void check_healed(check_t *c);
/* The operator's clear-grants named node: its update under way (if any) is
 * on the operator's word from now on, like an operator's rollback. */
void check_cleared(check_t *c, unsigned node);

/* The first violation, or NULL. */
const char *check_violation(const check_t *c);
uint64_t check_violation_step(const check_t *c);

/* The end state: every node up; and for each component with a release
 * (of the nodes that manage it): either every node is done on the release
 * and runs its version; or the operator abandoned the release (abandon or
 * rollback) and every node applied that command or a later one; or the
 * release failed: the nodes that failed on it rolled back (or, when their
 * rollback hook failed, stay failed), and every node's own view shows the
 * failure; or another component's release failed so (every node knowing
 * it) and this one halted part way. In each case no node is mid-update.
 * Writes the outcome ("done", "abandoned", "failed"; with several
 * components "cardano-node done, os failed") or what is missing into why. */
bool check_finished(const check_t *c, char *why, size_t cap);

/* Elections seen, and the gaps from the end of a wave's soak (an executor
 * soaking -> done) to the next node entering elected, in ms of virtual
 * time. next_holdback tells whether that next node was a holdback one (it
 * waits for the proof, not for gossip). */
typedef struct {
    int64_t gap_ms;
    bool next_holdback;
} check_gap_t;
unsigned check_elections(const check_t *c);
unsigned check_gaps(const check_t *c, const check_gap_t **out);
/* Did any node fail on the release? */
bool check_release_failed(const check_t *c);

#endif
