/* scenario.c: the scenarios' shared fleet and verdict (see scenario.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "scenario.h"

static const char POLICY[] =
    "{\"batch\":%u,\"soak_s\":3,\"unavailable_max\":1,"
    "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":0,\"guard_s\":2},"
    "\"health_deadline_s\":60}";

sim_t *scenario_new(unsigned n, unsigned batch, uint64_t seed, bool os) {
    return scenario_new_members(n, batch, seed, os, NULL);
}

sim_t *scenario_new_members(unsigned n, unsigned batch, uint64_t seed, bool os,
                            const sim_member_t *members) {
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    static char policy[sizeof POLICY + 8]; /* the simulator keeps the pointer */
    snprintf(policy, sizeof policy, POLICY, batch);
    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .policy_json = policy, .start_ms = SCENARIO_START_MS,
                        .install_ms = 1000, .restart_ms = 2000, .trace = true,
                        .trace_keep = getenv("SIM_TRACE") ? 0 : 300, .os = os,
                        .members = members};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    return s;
}

void scenario_assert_clean(sim_t *s, const check_t *c) {
    if (check_violation(c) || getenv("SIM_TRACE")) sim_dump_trace(s);
    if (check_violation(c)) fprintf(stderr, "violation: %s\n", check_violation(c));
    assert_null(check_violation(c));
}
