/* test_components.c: one daemon, two components (issue 14): cardano-node
 * and the operating system, each with its own health hook, hooks and
 * releases, one executor and one slot per machine. Real cores in the
 * simulator with the invariants of check.h after every step (11: at most
 * `batch` machines disrupted at once, whatever the component): releases
 * of both pending together reach every node, one machine at a time, the
 * holdback pair last for each component; a failed OS install halts the
 * cardano-node rollout too, until the operator's resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "scenario.h"
#include "sim.h"

#define NODE_NEW "10.5.2"
#define OS_NEW "12.9"

/* What the run showed, step by step, beside the checker. */
typedef struct {
    check_t *check;
    unsigned n;
    unsigned most_disrupted;              /* machines disrupted at once, the most seen */
    unsigned installs[SIM_NODES_MAX][SIM_COMPONENTS]; /* entries into installing */
    unsigned order[SIM_COMPONENTS][SIM_NODES_MAX];    /* who entered elected, in turn */
    unsigned norder[SIM_COMPONENTS];
    stg_phase_t last[SIM_NODES_MAX];
    int64_t elected_at[SIM_NODES_MAX];    /* the last entry into elected (virtual ms) */
} watch_t;

/* The component node's executor is about, by its release's name; -1 idle. */
static int exec_comp(sim_t *s, unsigned node, stg_phase_t *phase) {
    stg_exec_view_t *x = malloc(sizeof *x);
    assert_non_null(x);
    stg_core_exec(sim_core(s, node), x);
    *phase = x->phase;
    int k = x->have_release ? (int)sim_component_index(x->release.component) : -1;
    free(x);
    return k;
}

/* Holding a slot (written out here, as check.c does, not the core's). */
static bool slot_phase(stg_phase_t p) {
    return p == STG_PHASE_ELECTED || p == STG_PHASE_INSTALLING || p == STG_PHASE_VERIFYING ||
           p == STG_PHASE_SOAKING || p == STG_PHASE_FAILED || p == STG_PHASE_ROLLING_BACK;
}

static void observe(sim_t *s, unsigned node, void *ctx) {
    watch_t *w = ctx;
    check_step(w->check, node);
    stg_phase_t ph;
    int k = exec_comp(s, node, &ph);
    /* Elected and installing may come in one step: the entry into a slot. */
    if (k >= 0 && ph != w->last[node]) {
        if (!slot_phase(w->last[node]) && slot_phase(ph) && ph != STG_PHASE_ROLLING_BACK) {
            w->order[k][w->norder[k]++ % SIM_NODES_MAX] = node;
            w->elected_at[node] = sim_now(s);
        }
        if (ph == STG_PHASE_INSTALLING) w->installs[node][k]++;
    }
    w->last[node] = ph;
    /* Disrupted, counted here apart from check.c: a slot held by the phase
     * the core last showed (a crashed node by the phase it had), a hook
     * running, or a reboot under way. */
    unsigned busy = 0;
    for (unsigned i = 0; i < w->n; i++)
        busy += slot_phase(w->last[i]) || sim_hook_comp(s, i) >= 0 || sim_rebooting(s, i);
    if (busy > w->most_disrupted) w->most_disrupted = busy;
}

/* members: n entries, or NULL for the defaults (sim_config_t.members). */
static sim_t *make_of(unsigned n, unsigned batch, uint64_t seed, const sim_member_t *members,
                      watch_t *w) {
    sim_t *s = scenario_new_members(n, batch, seed, true, members);
    memset(w, 0, sizeof *w);
    w->n = n;
    w->check = check_new(s);
    check_expect(w->check, SIM_COMP_OS, true);
    check_healed(w->check); /* no faults: invariant 5's clock runs from the start */
    sim_observe(s, observe, w);
    return s;
}

static sim_t *make(unsigned n, unsigned batch, uint64_t seed, watch_t *w) {
    return make_of(n, batch, seed, NULL, w);
}

static void assert_clean(sim_t *s, watch_t *w) { scenario_assert_clean(s, w->check); }

static void finish(sim_t **s, watch_t *w) {
    check_destroy(&w->check);
    sim_destroy(s);
}

static bool finished(const watch_t *w, char *why, size_t cap) {
    return check_finished(w->check, why, cap);
}

/* Every member's view shows every member on both new versions: the OS
 * health hook's answers reached the records (record "components"). */
static bool views_show_both(sim_t *s) {
    for (unsigned i = 0; i < sim_nodes(s); i++)
        for (unsigned m = 0; m < sim_nodes(s); m++) {
            stg_member_view_t mv;
            stg_core_member(sim_core(s, i), (int)m, &mv);
            if (strcmp(mv.rec.version, NODE_NEW) != 0 || mv.rec.ncomps != 1 ||
                strcmp(mv.rec.comps[0].component, "os") != 0 ||
                strcmp(mv.rec.comps[0].version, OS_NEW) != 0)
                return false;
        }
    return true;
}

/* For component k, every holdback member entered elected after every
 * other member did. */
static void assert_holdback_last(sim_t *s, const watch_t *w, unsigned k) {
    const stg_roster_t *r = stg_core_roster(sim_core(s, 0));
    bool seen_holdback = false;
    for (unsigned q = 0; q < w->norder[k]; q++) {
        bool hb = r->members[w->order[k][q]].holdback;
        if (seen_holdback && !hb) {
            sim_dump_trace(s);
            fail_msg("%s: n%02u (not holdback) elected after a holdback member",
                     sim_component_name(k), w->order[k][q]);
        }
        seen_holdback |= hb;
    }
    assert_true(seen_holdback);
}

static void os_reboots(sim_t *s, unsigned node, int64_t away_ms, int64_t reboot_ms,
                       bool install_fails) {
    sim_behaviour_t b = {0};
    b.os.away_ms = away_ms;
    b.os.reboot_ms = reboot_ms;
    b.os.install_fails = install_fails;
    sim_set_behaviour(s, node, &b);
}

/* A cardano-node and an OS release published together on eight nodes,
 * batch 1, every OS install rebooting the machine: never two machines
 * disrupted at once (check.c 11, and counted here too), each node
 * installs each component once, both rollouts end with every node on both
 * new versions (check_finished per component) and every view shows it, and
 * for each component the holdback pair goes last. */
static void node_and_os_pending_together(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 1, 1401, &w);
    for (unsigned i = 0; i < 8; i++) os_reboots(s, i, 20000, 2000 + 500 * (int64_t)i, false);
    sim_run_until(s, 5000);
    sim_publish_of(s, 2, SIM_COMP_NODE, NODE_NEW, 0, 1800000100);
    sim_publish_of(s, 5, SIM_COMP_OS, OS_NEW, 0, 1800000100);
    char why[160] = "";
    SIM_MUST_WITHIN(s, 1200000, finished(&w, why, sizeof why));
    assert_string_equal(why, "cardano-node done, os done");
    SIM_MUST_WITHIN(s, 10000, views_show_both(s));
    assert_clean(s, &w);
    assert_int_equal(w.most_disrupted, 1);
    for (unsigned i = 0; i < 8; i++) {
        assert_string_equal(sim_running_of(s, i, SIM_COMP_NODE), NODE_NEW);
        assert_string_equal(sim_running_of(s, i, SIM_COMP_OS), OS_NEW);
        assert_int_equal(w.installs[i][SIM_COMP_NODE], 1);
        assert_int_equal(w.installs[i][SIM_COMP_OS], 1);
        assert_int_equal(sim_starts(s, i), 2); /* one reboot each */
    }
    assert_holdback_last(s, &w, SIM_COMP_NODE);
    assert_holdback_last(s, &w, SIM_COMP_OS);
    finish(&s, &w);
}

/* The OS managed by three of eight members only (the others' staggerd has
 * no such component): the five still hold its release, relay it and vote
 * on its slots (§9.8), so the three reach the majority of five they need.
 * Before, the five refused every OS vote (no such release) and the OS
 * rollout waited for ever. Both rollouts end, one machine at a time; no
 * member that does not manage the OS ran an OS hook. */
static void os_managed_by_a_minority(void **state) {
    (void)state;
    sim_member_t mem[8];
    memset(mem, 0, sizeof mem);
    for (unsigned i = 0; i < 8; i++) mem[i].no_os = !(i == 0 || i == 3 || i == 5);
    watch_t w;
    sim_t *s = make_of(8, 1, 1403, mem, &w);
    sim_run_until(s, 5000);
    sim_publish_of(s, 2, SIM_COMP_NODE, NODE_NEW, 0, 1800000100);
    sim_publish_of(s, 4, SIM_COMP_OS, OS_NEW, 0, 1800000100); /* from one that does not run it */
    char why[160] = "";
    SIM_MUST_WITHIN(s, 1200000, finished(&w, why, sizeof why));
    assert_string_equal(why, "cardano-node done, os done");
    assert_clean(s, &w);
    assert_int_equal(w.most_disrupted, 1);
    for (unsigned i = 0; i < 8; i++) {
        assert_string_equal(sim_running_of(s, i, SIM_COMP_NODE), NODE_NEW);
        assert_int_equal(w.installs[i][SIM_COMP_NODE], 1);
        assert_int_equal(w.installs[i][SIM_COMP_OS], mem[i].no_os ? 0 : 1);
        if (!mem[i].no_os) assert_string_equal(sim_running_of(s, i, SIM_COMP_OS), OS_NEW);
    }
    finish(&s, &w);
}

static unsigned running(sim_t *s, unsigned comp, const char *version) {
    unsigned k = 0;
    for (unsigned i = 0; i < sim_nodes(s); i++) k += strcmp(sim_running_of(s, i, comp), version) == 0;
    return k;
}

static int rolled_back_on_os(sim_t *s) {
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        stg_phase_t ph;
        if (sim_alive(s, i) && exec_comp(s, i, &ph) == SIM_COMP_OS && ph == STG_PHASE_ROLLED_BACK)
            return (int)i;
    }
    return -1;
}

static unsigned elections(const watch_t *w) {
    return w->norder[SIM_COMP_NODE] + w->norder[SIM_COMP_OS];
}

/* The cardano-node rollout is under way when the OS release comes, and
 * every OS install fails: the first one rolls back, and from then on no
 * machine is elected for either component (the core halts every component
 * on any failure; check.c 5 across components too); the node rollout stays
 * part way. The operator mends the OS hook and resumes: both end. */
static void failed_os_install_halts_node_rollout(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(6, 1, 1402, &w);
    for (unsigned i = 0; i < 6; i++) os_reboots(s, i, 0, 0, true);
    sim_run_until(s, 5000);
    sim_publish_of(s, 0, SIM_COMP_NODE, NODE_NEW, 0, 1800000100);
    SIM_MUST_WITHIN(s, 120000, running(s, SIM_COMP_NODE, NODE_NEW) >= 1);
    sim_publish_of(s, 3, SIM_COMP_OS, OS_NEW, 0, 1800000100);
    int victim = -1;
    SIM_MUST_WITHIN(s, 300000, (victim = rolled_back_on_os(s)) >= 0);
    unsigned node_new = running(s, SIM_COMP_NODE, NODE_NEW);
    if (node_new == 6) {
        sim_dump_trace(s);
        fail_msg("the node rollout ended before the OS install failed: nothing left to halt");
    }
    /* The news crosses the fleet (a grant given before it may still start
     * within start_bound / 2); then nothing moves for a minute. */
    sim_run_until(s, sim_now(s) + 6000);
    unsigned before = elections(&w);
    unsigned node_now = running(s, SIM_COMP_NODE, NODE_NEW);
    sim_run_until(s, sim_now(s) + 60000);
    assert_clean(s, &w);
    if (elections(&w) != before || running(s, SIM_COMP_NODE, NODE_NEW) != node_now) {
        sim_dump_trace(s);
        fail_msg("after n%02u's OS install failed: %u more elections, %u -> %u nodes on %s",
                 victim, elections(&w) - before, node_now, running(s, SIM_COMP_NODE, NODE_NEW),
                 NODE_NEW);
    }
    assert_int_equal(running(s, SIM_COMP_OS, OS_NEW), 0);
    for (unsigned i = 0; i < 6; i++) {
        json_t *st = stg_core_status_json(sim_core(s, i), sim_node_clock(s, i));
        const char *waiting =
            json_string_value(json_object_get(json_object_get(st, "rollout"), "waiting"));
        if (node_now < 6 && (!waiting || !strstr(waiting, "halted"))) {
            sim_dump_trace(s);
            fail_msg("n%02u: cardano-node rollout waits for \"%s\", not the OS failure", i,
                     waiting ? waiting : "(none)");
        }
        json_decref(st);
    }
    /* The operator mends the OS hook and resumes. */
    for (unsigned i = 0; i < 6; i++) os_reboots(s, i, 0, 0, false);
    char json[256];
    int64_t now_s = sim_wall_ms(s) / 1000;
    snprintf(json, sizeof json,
             "{\"fleet\":\"sim\",\"seq\":1,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"resume\"}",
             (long long)now_s, (long long)now_s + 3600);
    check_command(w.check, 1, "resume", false);
    uint8_t env[4096];
    sim_command(s, 1, json, env, sizeof env);
    char why[160] = "";
    SIM_MUST_WITHIN(s, 1200000, finished(&w, why, sizeof why) &&
                                    strcmp(why, "cardano-node done, os done") == 0);
    assert_clean(s, &w);
    assert_int_equal(w.most_disrupted, 1);
    finish(&s, &w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_and_os_pending_together),
        cmocka_unit_test(failed_os_install_halts_node_rollout),
        cmocka_unit_test(os_managed_by_a_minority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
