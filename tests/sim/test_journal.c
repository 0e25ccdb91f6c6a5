/* test_journal.c: a journal loads into the executor's right state
 * (node/core/executor.h): one written with "state", and one an older
 * daemon wrote, which had only the phase, the rollback_after_install flag
 * and, for a failed rollback hook, the words in its detail. Each row
 * restarts one node of a small fleet from a journal edited to the row's
 * fields, then reads the state its core resumed in (after the restart's
 * own event, before any step). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "internal.h"
#include "sim.h"

#define START_MS 1800000000000LL
#define NODE 1

static const char POLICY[] =
    "{\"batch\":1,\"soak_s\":5,\"unavailable_max\":1,"
    "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":0,\"guard_s\":2},"
    "\"health_deadline_s\":60}";

#define ROLLBACK_FAILED_TOO \
    "install hook failed: boom, and the rollback hook failed too: exit 1; the operator must act"

typedef struct {
    const char *name;
    const char *state;   /* NULL: no "state" (an older daemon's journal) */
    const char *phase;
    bool rollback_after_install;
    const char *detail;
    int slot;
    stg_exec_state_t want;
} row_t;

static const row_t ROWS[] = {
    /* written by an older daemon */
    {"old: installing", NULL, "installing", false, "running the install hook", 0,
     STG_EXEC_VERIFYING_AFTER_CUT_SHORT},
    {"old: installing, rollback ordered", NULL, "installing", true, "running the install hook", 0,
     STG_EXEC_VERIFYING_THEN_ROLLBACK},
    {"old: verifying after a restart, rollback ordered", NULL, "verifying", true,
     "restarted during install: verifying what is there", 0, STG_EXEC_VERIFYING_THEN_ROLLBACK},
    {"old: verifying", NULL, "verifying", false, "installed", 0, STG_EXEC_VERIFYING},
    {"old: elected (the install may have begun)", NULL, "elected", false, "", 0,
     STG_EXEC_VERIFYING_AFTER_CUT_SHORT},
    {"old: soaking", NULL, "soaking", false, "", 0, STG_EXEC_SOAKING},
    {"old: soaking, a stale flag", NULL, "soaking", true, "", 0, STG_EXEC_SOAKING},
    {"old: done", NULL, "done", false, "", -1, STG_EXEC_DONE},
    {"old: rolling back", NULL, "rolling-back", false, "", 0, STG_EXEC_ROLLING_BACK},
    {"old: rolled back", NULL, "rolled-back", false, "", -1, STG_EXEC_ROLLED_BACK},
    {"old: failed, the rollback hook too", NULL, "failed", false, ROLLBACK_FAILED_TOO, 0,
     STG_EXEC_ROLLBACK_FAILED},
    {"old: failed, holding a slot: the rollback resumes", NULL, "failed", false,
     "install hook failed: boom", 0, STG_EXEC_ROLLING_BACK},
    {"old: failed without a slot", NULL, "failed", false, "install hook failed: boom", -1,
     STG_EXEC_ROLLBACK_FAILED},
    /* written with the state */
    {"state: installing-then-rollback", "installing-then-rollback", "installing", true, "", 0,
     STG_EXEC_VERIFYING_THEN_ROLLBACK},
    {"state: verifying-after-cut-short", "verifying-after-cut-short", "verifying", false, "", 0,
     STG_EXEC_VERIFYING_AFTER_CUT_SHORT},
    {"state: rollback-failed, whatever the detail says", "rollback-failed", "failed", false,
     "install hook failed: boom", 0, STG_EXEC_ROLLBACK_FAILED},
    {"state: rolling-back", "rolling-back", "rolling-back", false, "", 0, STG_EXEC_ROLLING_BACK},
    {"state: unknown, read by the phase", "sleeping", "soaking", false, "", 0, STG_EXEC_SOAKING},
};

static sim_t *fleet(void) {
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    sim_config_t cfg = {.n = 3, .seed = 7, .delay_min_ms = 1, .delay_max_ms = 5, .tuning = &t,
                        .policy_json = POLICY, .start_ms = START_MS, .install_ms = 1000,
                        .restart_ms = 2000};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    /* A release every node adopts, but one no node may start (the gate). */
    sim_behaviour_t b = {.gate_says_no = true};
    for (unsigned i = 0; i < 3; i++) sim_set_behaviour(s, i, &b);
    sim_run_until(s, 3000);
    sim_publish(s, 0, "2.0", 1800000100);
    sim_run_until(s, 6000);
    return s;
}

/* NODE's journal with the row's executor fields, its release the one it
 * runs. Caller frees. */
static char *edited_journal(sim_t *s, const row_t *r) {
    size_t len;
    const uint8_t *j = sim_journal(s, NODE, &len, NULL);
    assert_non_null(j);
    json_error_t e;
    json_t *o = json_loadb((const char *)j, len, 0, &e);
    assert_non_null(o);
    json_t *rel = json_object_get(o, "release");
    assert_true(json_string_length(rel) > 0); /* the node adopted it */
    json_object_set(o, "exec_env", rel);
    json_object_del(o, "state");
    if (r->state) json_object_set_new(o, "state", json_string(r->state));
    json_object_set_new(o, "phase", json_string(r->phase));
    json_object_set_new(o, "rollback_after_install", json_boolean(r->rollback_after_install));
    json_object_set_new(o, "detail", json_string(r->detail));
    json_object_set_new(o, "slot", json_integer(r->slot));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    assert_non_null(text);
    return text;
}

/* A fleet whose NODE has restarted from the row's journal. */
static sim_t *restarted(const row_t *r) {
    sim_t *s = fleet();
    sim_crash(s, NODE);
    char *text = edited_journal(s, r);
    sim_set_journal(s, NODE, (const uint8_t *)text, strlen(text));
    free(text);
    sim_restart(s, NODE);
    return s;
}

static void loads_into(void **state) {
    const row_t *r = *state;
    sim_t *s = restarted(r);
    const stg_core_t *c = sim_core(s, NODE);
    if (c->exec_state != r->want)
        fail_msg("resumed in %s, want %s", stg__exec_state_name(c->exec_state),
                 stg__exec_state_name(r->want));
    assert_int_equal(c->phase, stg__exec_state_phase(r->want));
    sim_destroy(&s);
}

/* An older daemon's journal of an install the operator had ordered rolled
 * back: the rollback is not lost; the node rolls back at its first step. */
static void old_rollback_flag_is_kept(void **state) {
    (void)state;
    sim_t *s = restarted(&ROWS[1]);
    sim_run_until(s, sim_now(s) + 100);
    stg_exec_state_t x = sim_core(s, NODE)->exec_state;
    assert_true(x == STG_EXEC_ROLLING_BACK || x == STG_EXEC_ROLLED_BACK);
    assert_non_null(strstr(sim_core(s, NODE)->fail_reason, "the operator ordered a rollback"));
    sim_destroy(&s);
}

int main(void) {
    enum { N = sizeof ROWS / sizeof ROWS[0] };
    struct CMUnitTest tests[N + 1];
    for (unsigned i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){.name = ROWS[i].name, .test_func = loads_into,
                                       .initial_state = (void *)&ROWS[i]};
    tests[N] = (struct CMUnitTest){.name = "an older journal's rollback flag is kept",
                                   .test_func = old_rollback_flag_is_kept};
    return _cmocka_run_group_tests("journal", tests, N + 1, NULL, NULL);
}
