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

#include "check.h"
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

static bool all_running(sim_t *s, const char *version) {
    for (unsigned i = 0; i < sim_nodes(s); i++)
        if (strcmp(sim_running(s, i), version) != 0) return false;
    return true;
}

/* Issue 10, item 5: a fleet whose disks refuse writes grants nothing and
 * starts no hook (the vote and the start wait for the journal), says why in
 * status, and rolls out once writes work again. */
static void refused_writes_start_nothing(void **state) {
    (void)state;
    sim_t *s = make(5, 43, 0);
    sim_run_until(s, 3000);
    for (unsigned i = 0; i < 5; i++) sim_set_write_fail(s, i, true);
    sim_publish(s, 0, "10.5.2", START_MS / 1000 + 100);
    sim_run_until(s, sim_now(s) + 60000);
    assert_int_equal(installing(s), -1);
    /* Every node that tried to write says so (one that never heard of the
     * release had nothing to write: its peers hold what they would send). */
    unsigned failing = 0;
    for (unsigned i = 0; i < 5; i++) {
        assert_string_equal(sim_running(s, i), "10.5.1");
        json_t *st = stg_core_status_json(sim_core(s, i), sim_wall_ms(s));
        json_t *j = json_object_get(st, "journal");
        if (json_integer_value(json_object_get(j, "writes")) > 0) {
            assert_true(json_is_false(json_object_get(j, "ok")));
            failing++;
        }
        json_decref(st);
    }
    assert_true(failing >= 1);
    for (unsigned i = 0; i < 5; i++) sim_set_write_fail(s, i, false);
    assert_true(SIM_WAIT_FOR(s, 300000, 100, all_running(s, "10.5.2")) >= 0);
    sim_destroy(&s);
}

/* A crash mid-install: the shell kills the hook's process group. */
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

static void step_checked(sim_t *s, unsigned node, void *ctx) {
    (void)s;
    check_step(ctx, node);
}

/* Issue 10, item 3: the producer (the last member before the holdback pair)
 * and one other member 120 s slow. The proof is timed on each voter's own
 * clock, so the holdback pair waits the soak and an epoch boundary in true
 * time; judged from the producer's health_since_ms, it started at once. */
static void slow_producer_cannot_shorten_the_proof(void **state) {
    (void)state;
    static const char policy[] =
        "{\"batch\":1,\"soak_s\":20,\"unavailable_max\":1,"
        "\"epoch\":{\"start_s\":1800000000,\"length_s\":60,\"proof_epochs\":1,\"guard_s\":2},"
        "\"health_deadline_s\":60}";
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    sim_member_t members[6] = {{0}};
    for (unsigned i = 0; i < 6; i++) members[i].holdback = i == 1 || i == 5 ? 1 : 0;
    sim_config_t cfg = {.n = 6, .seed = 47, .delay_min_ms = 1, .delay_max_ms = 5, .tuning = &t,
                        .policy_json = policy, .start_ms = START_MS, .install_ms = 1000,
                        .restart_ms = 2000, .members = members, .trace = true,
                        .trace_keep = getenv("SIM_TRACE") ? 0 : 200};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    sim_set_clock_offset(s, 0, -120000);
    sim_set_clock_offset(s, 3, -120000);
    check_t *chk = check_new(s);
    sim_observe(s, step_checked, chk);
    sim_run_until(s, 3000);
    sim_publish(s, 2, "10.5.2", START_MS / 1000 + 100);
    assert_true(SIM_WAIT_FOR(s, 600000, 100, all_running(s, "10.5.2")) >= 0);
    if (check_violation(chk)) {
        sim_dump_trace(s);
        fprintf(stderr, "violation: %s\n", check_violation(chk));
    }
    assert_null(check_violation(chk));
    check_destroy(&chk);
    sim_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skew_covers_the_range),
        cmocka_unit_test(refused_write_keeps_the_older_journal),
        cmocka_unit_test(refused_writes_start_nothing),
        cmocka_unit_test(tracked_hook_dies_with_its_daemon),
        cmocka_unit_test(slow_producer_cannot_shorten_the_proof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
