/* scenario.h: the fleet the hand-written scenarios of planned reboots and
 * components share (test_reboot.c, test_components.c), and their cmocka
 * verdict on the invariants of check.h. */
#ifndef STAGGER_SIM_SCENARIO_H
#define STAGGER_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "sim.h"

#define SCENARIO_START_MS 1800000000000LL /* a Unix time in ms, on an epoch boundary */

/* n nodes, `batch`, soak 3 s, 30 s epochs without the epoch proof, a 1 s
 * health interval, 1 s installs and 2 s restarts, links of 1..5 ms; with
 * os, every node manages the OS too (sim_config_t.os). The trace keeps the
 * last 300 lines, or all with SIM_TRACE set. Caller owns the result. */
sim_t *scenario_new(unsigned n, unsigned batch, uint64_t seed, bool os);
/* The same with these members (n entries: sim_config_t.members). */
sim_t *scenario_new_members(unsigned n, unsigned batch, uint64_t seed, bool os,
                            const sim_member_t *members);
/* No invariant broken so far (else the trace, the violation and a failed
 * cmocka assertion); SIM_TRACE prints the trace anyway. */
void scenario_assert_clean(sim_t *s, const check_t *c);

#endif
