/* test_faults.c: the simulator's own fault models for issue 10, checked
 * against what they promise: clock offsets that cover +-skew; a write the
 * disk refuses leaves the older journal, which a restart reloads; a hook
 * started while the disk refused writes outlives a crash of its daemon (and
 * counts as an installer until it ends, for invariant 8), while one started
 * with the disk working dies with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define START_MS 1800000000000LL

static const char POLICY[] =
    "{\"batch\":1,\"soak_s\":5,\"unavailable_max\":1,"
    "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":0,\"guard_s\":2},"
    "\"health_deadline_s\":60}";

static sim_t *make(unsigned n, uint64_t seed, int64_t skew_ms) {
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .policy_json = POLICY, .start_ms = START_MS,
                        .install_ms = 1000, .restart_ms = 2000, .skew_max_ms = skew_ms,
                        .trace = true, .trace_keep = getenv("SIM_TRACE") ? 0 : 200};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    return s;
}

static void skew_covers_the_range(void **state) {
    (void)state;
    sim_t *s = make(12, 41, 120000);
    int64_t widest = 0, lo = INT64_MAX, hi = INT64_MIN;
    for (unsigned i = 0; i < 12; i++) {
        int64_t off = sim_node_clock(s, i) - sim_wall_ms(s);
        assert_true(off >= -120000 && off <= 120000);
        if (llabs(off) > widest) widest = llabs(off);
        if (off < lo) lo = off;
        if (off > hi) hi = off;
    }
    assert_true(widest > 60000);  /* seconds, not the default 200 ms */
    assert_true(hi - lo > 60000); /* and different per node */
    sim_destroy(&s);
}

static void refused_write_keeps_the_older_journal(void **state) {
    (void)state;
    sim_t *s = make(5, 42, 0);
    sim_run_until(s, 3000);
    size_t len0;
    bool stale;
    const uint8_t *j = sim_journal(s, 2, &len0, &stale);
    uint8_t *before = malloc(len0 + 1);
    memcpy(before, j ? j : (const uint8_t *)"", len0);
    sim_set_write_fail(s, 2, true);
    sim_publish(s, 0, "10.5.2", START_MS / 1000 + 100);
    uint8_t id[8];
    assert_true(SIM_WAIT_FOR(s, 10000, 100, stg_core_release(sim_core(s, 2), id) != NULL) >= 0);
    sim_run_until(s, sim_now(s) + 2000);
    assert_true(sim_write_failures(s, 2) > 0);
    size_t len1;
    j = sim_journal(s, 2, &len1, &stale);
    assert_true(stale);
    assert_int_equal(len1, len0);
    assert_memory_equal(j ? j : (const uint8_t *)"", before, len0);
    /* The restart reads what is on disk: no release in it yet. */
    sim_restart(s, 2);
    assert_null(stg_core_release(sim_core(s, 2), id));
    /* Writes work again: the next journal is stored. */
    sim_set_write_fail(s, 2, false);
    assert_true(SIM_WAIT_FOR(s, 20000, 100,
                             (sim_journal(s, 2, &len1, &stale), !stale && len1 != len0)) >= 0);
    free(before);
    sim_destroy(&s);
}

static int installing(sim_t *s) {
    for (unsigned i = 0; i < sim_nodes(s); i++)
        if (sim_installers(s, i) > 0) return (int)i;
    return -1;
}

static void untracked_hook_outlives_a_crash(void **state) {
    (void)state;
    sim_t *s = make(5, 43, 0);
    sim_run_until(s, 3000);
    for (unsigned i = 0; i < 5; i++) sim_set_write_fail(s, i, true);
    sim_publish(s, 0, "10.5.2", START_MS / 1000 + 100);
    assert_true(SIM_WAIT_FOR(s, 60000, 10, installing(s) >= 0) >= 0);
    unsigned who = (unsigned)installing(s);
    int64_t crashed_at = sim_now(s);
    sim_crash(s, who);
    assert_int_equal(sim_installers(s, who), 1); /* nobody could kill it */
    sim_restart(s, who);
    assert_true(SIM_WAIT_FOR(s, 5000, 10, sim_installers(s, who) == 0) >= 0);
    assert_string_equal(sim_running(s, who), "10.5.2"); /* the orphan's install */
    assert_true(sim_switched_at(s, who) > crashed_at);
    sim_destroy(&s);
}

/* The same crash with the disk working: the shell kills the hook. */
static void tracked_hook_dies_with_its_daemon(void **state) {
    (void)state;
    sim_t *s = make(5, 43, 0);
    sim_run_until(s, 3000);
    sim_publish(s, 0, "10.5.2", START_MS / 1000 + 100);
    assert_true(SIM_WAIT_FOR(s, 60000, 10, installing(s) >= 0) >= 0);
    unsigned who = (unsigned)installing(s);
    sim_crash(s, who);
    assert_int_equal(sim_installers(s, who), 0);
    sim_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skew_covers_the_range),
        cmocka_unit_test(refused_write_keeps_the_older_journal),
        cmocka_unit_test(untracked_hook_outlives_a_crash),
        cmocka_unit_test(tracked_hook_dies_with_its_daemon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
