/* test_rollout.c: rollouts of real cores in the simulator, with the
 * invariants of check.h after every step: a good release reaches everyone
 * one slot at a time with the holdback pair last; a failing install halts
 * the fleet after one rollback, and every status says why; a crash
 * mid-install resumes; a new version that crash-loops fails at once, not at
 * its health deadline; a node that is down or cut off is never elected; a
 * minority never starts; batch 2 runs two at a time, never three. */
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

#define START_MS 1800000000000LL /* a Unix time in ms, on an epoch boundary below */

static const char POLICY[] =
    "{\"batch\":1,\"soak_s\":5,\"unavailable_max\":1,"
    "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":1,\"guard_s\":2},"
    "\"health_deadline_s\":60}";

typedef struct {
    check_t *check;
    unsigned max_updating;
    unsigned violations;
    int order[SIM_NODES_MAX];
    unsigned norder;
    bool started[SIM_NODES_MAX];
    unsigned holdback_started_early;
    unsigned installs[SIM_NODES_MAX];   /* entries into installing */
    stg_phase_t last[SIM_NODES_MAX];
} watch_t;

static void observe(sim_t *s, unsigned node, void *ctx) {
    watch_t *w = ctx;
    check_step(w->check, node);
    unsigned updating = 0;
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        if (!sim_alive(s, i)) continue;
        stg_exec_view_t x;
        stg_core_exec(sim_core(s, i), &x);
        bool busy = x.phase >= STG_PHASE_ELECTED && x.phase <= STG_PHASE_SOAKING;
        if (busy || x.phase == STG_PHASE_ROLLING_BACK) updating++;
        if (x.phase == STG_PHASE_INSTALLING && w->last[i] != STG_PHASE_INSTALLING) w->installs[i]++;
        w->last[i] = x.phase;
        if (x.phase != STG_PHASE_IDLE && !w->started[i]) {
            w->started[i] = true;
            w->order[w->norder++] = (int)i;
            if (stg_core_roster(sim_core(s, i))->members[i].holdback) {
                /* Every non-holdback member must be done by now. */
                for (unsigned j = 0; j < sim_nodes(s); j++) {
                    if (!sim_alive(s, j)) continue; /* check.c judges those by journal */
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
    if (updating > stg_core_roster(sim_core(s, node))->policy.batch) w->violations++;
}

static sim_t *make_with(unsigned n, uint64_t seed, watch_t *w, const char *policy) {
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = 1000;
    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .policy_json = policy, .start_ms = START_MS,
                        .install_ms = 1000, .restart_ms = 2000, .trace = true,
                        .trace_keep = getenv("SIM_TRACE") ? 0 : 200};
    sim_t *s = sim_new(&cfg);
    assert_non_null(s);
    memset(w, 0, sizeof *w);
    w->check = check_new(s);
    sim_observe(s, observe, w);
    return s;
}

static sim_t *make(unsigned n, uint64_t seed, watch_t *w) { return make_with(n, seed, w, POLICY); }

/* POLICY with another batch and unavailability budget; valid until the next call. */
static const char *policy(unsigned batch, unsigned unavailable_max) {
    static char buf[sizeof POLICY + 8];
    snprintf(buf, sizeof buf, "{\"batch\":%u,\"soak_s\":5,\"unavailable_max\":%u,%s", batch,
             unavailable_max, strstr(POLICY, "\"epoch\""));
    return buf;
}

/* No invariant broken; on failure the trace tells the story. */
static void assert_clean(sim_t *s, watch_t *w) {
    if (check_violation(w->check) || w->violations || getenv("SIM_TRACE")) sim_dump_trace(s);
    if (check_violation(w->check)) fprintf(stderr, "violation: %s\n", check_violation(w->check));
    assert_null(check_violation(w->check));
    assert_int_equal(w->violations, 0);
}

static void finish(sim_t **s, watch_t *w) {
    check_destroy(&w->check);
    sim_destroy(s);
}

static bool all_done(sim_t *s, const char *version) {
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        stg_exec_view_t x;
        stg_core_exec(sim_core(s, i), &x);
        if (strcmp(sim_running(s, i), version) != 0 || x.phase != STG_PHASE_DONE) return false;
    }
    return true;
}

/* Step in 50 ms slices: the time it took for pred to hold, or -1. */
#define WAIT_FOR(s, deadline_ms, pred) SIM_WAIT_FOR(s, deadline_ms, 50, pred)
#define MUST_WITHIN SIM_MUST_WITHIN

/* Does node i's status say its rollout waits for an epoch boundary? Keeps
 * the line in out. */
static bool waits_for_boundary(sim_t *s, unsigned i, char *out, size_t cap) {
    json_t *st = stg_core_status_json(sim_core(s, i), sim_now(s));
    const char *w = json_string_value(json_object_get(json_object_get(st, "rollout"), "waiting"));
    bool yes = w && strstr(w, "epoch boundar") != NULL;
    if (yes) snprintf(out, cap, "%s", w);
    json_decref(st);
    return yes;
}

static void good_release_reaches_everyone(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 11, &w);
    sim_run_until(s, 5000);
    sim_publish(s, 3, "10.5.2", 1800000100);
    /* Issue 12: on the way, the proof's waiting line is for people: it
     * counts the epoch boundaries left and prints no raw millisecond
     * timestamp (staggerctl and the status page show
     * proof.next_boundary_ms as a date). */
    char line[256] = "";
    assert_true(WAIT_FOR(s, 600000, waits_for_boundary(s, 0, line, sizeof line)) >= 0);
    assert_string_equal(line, "proof: 1 epoch boundary left");
    MUST_WITHIN(s, 600000, all_done(s, "10.5.2"));
    assert_clean(s, &w);
    assert_int_equal(w.max_updating, 1);
    assert_int_equal(w.holdback_started_early, 0);
    assert_int_equal(w.norder, 8);
    /* The holdback pair went last. */
    const stg_roster_t *r = stg_core_roster(sim_core(s, 0));
    assert_true(r->members[w.order[6]].holdback);
    assert_true(r->members[w.order[7]].holdback);
    finish(&s, &w);
}

static unsigned count_started(const watch_t *w) { return w->norder; }

static unsigned count_installs(const watch_t *w, unsigned n) {
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) k += w->installs[i];
    return k;
}

/* Every node runs build `build` of version and is done on the release it has. */
static bool all_built(sim_t *s, const char *version, unsigned build) {
    char want[65];
    snprintf(want, sizeof want, "%064u", build);
    for (unsigned i = 0; i < sim_nodes(s); i++)
        if (strcmp(sim_build(s, i), want) != 0) return false;
    return all_done(s, version);
}

/* Issue 13, build identity: 10.5.2 rebuilt with another GHC is a new
 * artifact (a new image digest, a new package hash) under the same
 * version. Where the health hook reports the build it runs (build=), the
 * rebuild rolls out to every node, in waves and with the proof as any
 * release; a node counts as updated only when version and build match.
 * Where it does not, the version alone decides, as before: the rebuild is
 * adopted but installs nowhere (the fallback the docs describe). */
static void rebuild_rolls_out(void **state) {
    (void)state;
    for (int reports = 1; reports >= 0; reports--) {
        watch_t w;
        sim_t *s = make(8, 41, &w);
        sim_behaviour_t b = {.reports_build = reports};
        for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &b);
        sim_run_until(s, 5000);
        sim_publish(s, 3, "10.5.2", 1800000100);
        MUST_WITHIN(s, 600000, reports ? all_built(s, "10.5.2", 0) : all_done(s, "10.5.2"));
        assert_int_equal(count_installs(&w, 8), 8);
        sim_publish_build(s, 5, "10.5.2", 1, 1800000200);
        if (reports) {
            MUST_WITHIN(s, 900000, all_built(s, "10.5.2", 1));
            assert_int_equal(count_installs(&w, 8), 16);
        } else {
            sim_run_until(s, sim_now(s) + 300000);
            assert_int_equal(count_installs(&w, 8), 8);
            assert_true(all_done(s, "10.5.2"));
        }
        assert_clean(s, &w);
        assert_int_equal(w.max_updating, 1);
        assert_int_equal(w.holdback_started_early, 0);
        finish(&s, &w);
    }
}

/* Every node's status: more than one forger, and the waiting line says it. */
static bool all_see_two_forgers(sim_t *s) {
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        json_t *st = stg_core_status_json(sim_core(s, i), sim_now(s));
        const char *w = json_string_value(json_object_get(json_object_get(st, "rollout"), "waiting"));
        bool yes = json_array_size(json_object_get(st, "forgers")) == 2 && w &&
                   strncmp(w, "CRITICAL: more than one member forges (n00, n01)", 48) == 0;
        json_decref(st);
        if (!yes) return false;
    }
    return true;
}

/* Issue 13: two members forge (a standby promoted by hand while the old
 * producer still runs): their records say so (forging, from the health
 * hook), every node shows it, and no update starts, however long it
 * lasts; once one stops, the rollout goes on. Without the check the first
 * relay would start within seconds of the publish. */
static void two_forgers_hold_the_rollout(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 17, &w);
    sim_set_forging(s, 0, STG_FORGING_YES);
    sim_set_forging(s, 1, STG_FORGING_YES);
    for (unsigned i = 2; i < 8; i++) sim_set_forging(s, i, STG_FORGING_NO);
    sim_run_until(s, 5000);
    sim_publish(s, 3, "10.5.2", 1800000100);
    assert_true(WAIT_FOR(s, 10000, all_see_two_forgers(s)) >= 0);
    sim_run_until(s, sim_now(s) + 120000);
    assert_int_equal(count_started(&w), 0);
    assert_true(all_see_two_forgers(s));
    sim_set_forging(s, 1, STG_FORGING_NO); /* the standby's keys removed */
    int64_t t = WAIT_FOR(s, 60000, count_started(&w) > 0);
    assert_true(t >= 0);
    assert_true(WAIT_FOR(s, 600000, all_done(s, "10.5.2")) >= 0);
    assert_clean(s, &w);
    finish(&s, &w);
}

static stg_phase_t phase_of(sim_t *s, unsigned i) {
    stg_exec_brief_t x;
    stg_core_exec_brief(sim_core(s, i), &x);
    return x.phase;
}

/* Publish 10.5.2 to a fleet whose hooks fail it: the first node elected
 * fails, rolls back and the fleet halts; for watch_ms after that nobody
 * else starts, and every node's status names that node, says halted and
 * gives the reason (why). */
static void halts_on_first(sim_t *s, watch_t *w, int64_t watch_ms, const char *why) {
    sim_run_until(s, 5000);
    sim_publish(s, 2, "10.5.2", 1800000100);
    int64_t t = WAIT_FOR(s, 120000, count_started(w) > 0 && phase_of(s, (unsigned)w->order[0]) ==
                                                                 STG_PHASE_ROLLED_BACK);
    assert_true(t >= 0);
    unsigned first = (unsigned)w->order[0];
    sim_run_until(s, sim_now(s) + watch_ms);
    assert_clean(s, w);
    assert_int_equal(count_started(w), 1);
    assert_int_equal(phase_of(s, first), STG_PHASE_ROLLED_BACK);
    assert_string_equal(sim_running(s, first), "10.5.1");
    char name[8];
    snprintf(name, sizeof name, "n%02u", first);
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        json_t *st = stg_core_status_json(sim_core(s, i), sim_node_clock(s, i));
        json_t *ro = json_object_get(st, "rollout");
        json_t *f = json_object_get(ro, "failed");
        assert_true(json_is_object(f));
        assert_string_equal(json_string_value(json_object_get(f, "node")), name);
        const char *waiting = json_string_value(json_object_get(ro, "waiting"));
        assert_non_null(waiting);
        assert_non_null(strstr(waiting, "halted"));
        if (!strstr(waiting, why)) fprintf(stderr, "n%02u waits: %s\n", i, waiting);
        assert_non_null(strstr(waiting, why));
        json_decref(st);
    }
}

/* Every install fails: the first node elected fails, rolls back, and the
 * fleet halts; nobody else starts (watched long enough for several more
 * waves, had the fleet not halted), and every node's status says so. */
static void failing_install_halts_fleet(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 21, &w);
    sim_behaviour_t bad = {.install_fails = true};
    for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &bad);
    halts_on_first(s, &w, 120000, "install hook failed");
    finish(&s, &w);
}

/* A new version that keeps crashing (issue 13): the health hook's
 * restarts= climbs at every run. With a deadline of an hour (a ledger
 * replay's), the update fails at the third restart, seconds after the
 * install, is rolled back and halts the fleet with the reason; without the
 * crash-loop rule it would wait the hour out (and WAIT_FOR's two minutes
 * would run out first). */
static void crash_loop_fails_early(void **state) {
    (void)state;
    watch_t w;
    static const char long_deadline[] =
        "{\"batch\":1,\"soak_s\":5,\"unavailable_max\":1,"
        "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":1,\"guard_s\":2},"
        "\"health_deadline_s\":3600}";
    sim_t *s = make_with(8, 23, &w, long_deadline);
    sim_behaviour_t loops = {.crash_loops_after_install = true};
    for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &loops);
    halts_on_first(s, &w, 30000, "crash loop: 10.5.2 restarted 3 times");
    finish(&s, &w);
    /* A hook that cannot read the count every run (it says restarts= every
     * other run): a run without it is no new baseline. */
    s = make_with(8, 23, &w, long_deadline);
    loops.restarts_flaky = true;
    for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &loops);
    halts_on_first(s, &w, 30000, "crash loop: 10.5.2 restarted 4 times within 3s");
    finish(&s, &w);
}

/* Does every node's status name a version-correlated fork with `first` on
 * the release's side, and say so in the rollout's waiting line? */
static bool all_see_fork(sim_t *s, unsigned first) {
    const char *name = stg_core_roster(sim_core(s, 0))->members[first].name;
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        json_t *st = stg_core_status_json(sim_core(s, i), sim_now(s));
        json_t *fork = json_object_get(st, "fork"), *nw = json_object_get(fork, "new");
        const char *w = json_string_value(json_object_get(json_object_get(st, "rollout"), "waiting"));
        bool yes = json_is_object(fork) && json_array_size(nw) == 1 &&
                   strcmp(json_string_value(json_array_get(nw, 0)), name) == 0 &&
                   json_array_size(json_object_get(fork, "old")) == 7 && w &&
                   strncmp(w, "CRITICAL: version-correlated fork: ", 35) == 0;
        json_decref(st);
        if (!yes) return false;
    }
    return true;
}

static bool nobody_sees_fork(sim_t *s) {
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        json_t *st = stg_core_status_json(sim_core(s, i), sim_now(s));
        bool fork = json_is_object(json_object_get(st, "fork"));
        json_decref(st);
        if (fork) return false;
    }
    return true;
}

/* Issue 13, fork detection: the first node on the new version follows
 * another chain (blocks of the same height, other hashes) than the seven
 * on the old one. Within fork_blocks (10) blocks of tips every node sees
 * it, names the nodes on each side, and no second update starts, though
 * the first wave's soak ends meanwhile; once the new node follows the
 * others' chain again, the rollout goes on. */
static void version_fork_halts(void **state) {
    (void)state;
    watch_t w;
    static const char long_soak[] =
        "{\"batch\":1,\"soak_s\":900,\"unavailable_max\":1,"
        "\"epoch\":{\"start_s\":1800000000,\"length_s\":30,\"proof_epochs\":1,\"guard_s\":2}}";
    sim_t *s = make_with(8, 43, &w, long_soak);
    sim_behaviour_t b = {.reports_tip = true, .forks_on_new = true};
    for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &b);
    sim_run_until(s, 5000);
    sim_publish(s, 3, "10.5.2", 1800000100);
    assert_true(WAIT_FOR(s, 60000, count_started(&w) == 1) >= 0);
    unsigned first = (unsigned)w.order[0];
    /* Ten blocks of 20 s, and a minute for the tips to be signed and spread. */
    MUST_WITHIN(s, 10 * SIM_BLOCK_MS + 120000, all_see_fork(s, first));
    /* Past the first wave's soak (900 s): without the fork, the next starts. */
    sim_run_until(s, sim_now(s) + 1200000);
    assert_int_equal(phase_of(s, first), STG_PHASE_DONE);
    assert_int_equal(count_started(&w), 1);
    assert_true(all_see_fork(s, first));
    /* The new node back on the others' chain: the fork is over. */
    b.forks_on_new = false;
    sim_set_behaviour(s, first, &b);
    MUST_WITHIN(s, 300000, nobody_sees_fork(s) && count_started(&w) == 2);
    assert_clean(s, &w);
    finish(&s, &w);
}

/* The chain stalls fleet-wide (no new block anywhere, as at some epoch
 * boundaries) while the release rolls out: the tips stop moving on both
 * versions alike, nothing is blamed on the version, and the rollout
 * finishes. */
static void stall_not_blamed(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make(8, 47, &w);
    sim_behaviour_t b = {.reports_tip = true};
    for (unsigned i = 0; i < 8; i++) sim_set_behaviour(s, i, &b);
    sim_run_until(s, 5000 + 5 * SIM_BLOCK_MS);
    sim_chain_stall(s, true);
    sim_publish(s, 3, "10.5.2", 1800000100);
    MUST_WITHIN(s, 600000, all_done(s, "10.5.2"));
    assert_true(nobody_sees_fork(s));
    assert_int_equal(w.norder, 8);
    assert_clean(s, &w);
    finish(&s, &w);
}

/* The updating node crashes in the middle of its install and comes back
 * from its journal: whatever the cut-short install left on disk, it ends
 * done (and the rollout carries on to everyone) or rolled back (and the
 * fleet halts on it). Both outcomes must occur over these seeds. */
static void crash_mid_install_resumes(void **state) {
    (void)state;
    unsigned carried_on = 0, rolled_back = 0, reinstalled = 0;
    for (uint64_t seed = 31; seed < 37; seed++) {
        watch_t w;
        sim_t *s = make(6, seed, &w);
        sim_run_until(s, 5000);
        sim_publish(s, 0, "10.5.2", 1800000100);
        int victim = -1;
        assert_true(WAIT_FOR(s, 60000, ({
                        for (unsigned i = 0; i < 6 && victim < 0; i++)
                            if (sim_hook_running(s, i) == STG_HOOK_INSTALL) victim = (int)i;
                        victim >= 0;
                    })) >= 0);
        sim_run_until(s, sim_now(s) + 200 + (int64_t)(seed % 5) * 100); /* mid-install */
        sim_crash(s, (unsigned)victim);
        sim_run_until(s, sim_now(s) + 5000);
        sim_restart(s, (unsigned)victim);
        MUST_WITHIN(s, 900000, all_done(s, "10.5.2") ||
                                            (phase_of(s, (unsigned)victim) == STG_PHASE_ROLLED_BACK &&
                                             w.norder == 1));
        if (all_done(s, "10.5.2")) carried_on++;
        else {
            rolled_back++;
            sim_run_until(s, sim_now(s) + 60000);
            assert_int_equal(w.norder, 1); /* halted: nobody else started */
        }
        /* Where the crash left the old version running, the install ran again. */
        if (w.installs[victim] >= 2) reinstalled++;
        assert_clean(s, &w);
        finish(&s, &w);
    }
    /* Either outcome is allowed; with the install re-run, every seed finishes. */
    assert_int_equal(carried_on + rolled_back, 6);
    assert_int_equal(carried_on, 6);
    assert_true(reinstalled > 0);
}

/* A node that is down, and one cut off from everyone, are never elected
 * while so; the others go ahead (two unavailable are within the budget);
 * when both return the rollout completes. */
static void down_or_cut_off_never_elected(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make_with(8, 41, &w, policy(1, 2));
    sim_run_until(s, 5000);
    const unsigned down = 3, cut = 4;
    sim_crash(s, down);
    for (unsigned i = 0; i < 8; i++)
        if (i != cut) sim_block(s, cut, i, true);
    sim_publish(s, 2, "10.5.2", 1800000100);
    /* Everyone else that is not held back finishes meanwhile. */
    int64_t t = WAIT_FOR(s, 600000, ({
                             bool ok = true;
                             for (unsigned i = 0; i < 8; i++)
                                 if (i != down && i != cut &&
                                     !stg_core_roster(sim_core(s, 0))->members[i].holdback &&
                                     phase_of(s, i) != STG_PHASE_DONE)
                                     ok = false;
                             ok;
                         }));
    if (t < 0) sim_dump_trace(s);
    assert_true(t >= 0);
    sim_run_until(s, sim_now(s) + 30000);
    assert_false(w.started[down]);
    assert_false(w.started[cut]);
    assert_int_equal(phase_of(s, cut), STG_PHASE_IDLE);
    /* Both back: the rollout completes, holdback pair included. */
    sim_heal(s);
    sim_restart(s, down);
    MUST_WITHIN(s, 900000, all_done(s, "10.5.2"));
    assert_clean(s, &w);
    finish(&s, &w);
}

/* Partition 3 | 5 of 8 with the release published on the minority side:
 * the minority never starts; the majority never heard of it and waits.
 * Healed, the rollout completes. Then the same with the release on the
 * majority side: the majority proceeds, the minority still never starts. */
static void minority_never_starts(void **state) {
    (void)state;
    for (int side = 0; side < 2; side++) {
        watch_t w;
        /* A budget for the 3 cut-off members: only the majority rule may stop
         * the minority, and nothing but it stops the majority. */
        sim_t *s = make_with(8, 51 + (uint64_t)side, &w, policy(1, 3));
        sim_run_until(s, 5000);
        for (unsigned a = 0; a < 3; a++)
            for (unsigned b = 3; b < 8; b++) sim_block(s, a, b, true);
        sim_publish(s, side == 0 ? 1 : 5, "10.5.2", 1800000100);
        sim_run_until(s, sim_now(s) + 120000);
        for (unsigned i = 0; i < 3; i++) {
            assert_false(w.started[i]);
            assert_int_equal(phase_of(s, i), STG_PHASE_IDLE);
        }
        if (side == 0) {
            assert_int_equal(count_started(&w), 0);
            for (unsigned i = 3; i < 8; i++) assert_null(stg_core_release(sim_core(s, i), NULL));
        } else {
            assert_true(count_started(&w) > 0); /* the majority went ahead */
        }
        sim_heal(s);
        MUST_WITHIN(s, 900000, all_done(s, "10.5.2"));
        assert_clean(s, &w);
        finish(&s, &w);
    }
}

static void batch_two_never_three(void **state) {
    (void)state;
    watch_t w;
    sim_t *s = make_with(8, 61, &w, policy(2, 2));
    sim_run_until(s, 5000);
    sim_publish(s, 4, "10.5.2", 1800000100);
    MUST_WITHIN(s, 600000, all_done(s, "10.5.2"));
    assert_clean(s, &w);
    assert_int_equal(w.max_updating, 2);
    assert_int_equal(w.holdback_started_early, 0);
    finish(&s, &w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_release_reaches_everyone),
        cmocka_unit_test(two_forgers_hold_the_rollout),
        cmocka_unit_test(failing_install_halts_fleet),
        cmocka_unit_test(crash_loop_fails_early),
        cmocka_unit_test(rebuild_rolls_out),
        cmocka_unit_test(version_fork_halts),
        cmocka_unit_test(stall_not_blamed),
        cmocka_unit_test(crash_mid_install_resumes),
        cmocka_unit_test(down_or_cut_off_never_elected),
        cmocka_unit_test(minority_never_starts),
        cmocka_unit_test(batch_two_never_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
