/* executor.c: the update executor of this node: one state machine
 * (executor.h's states, docs/protocol.md §9.5) driven by one transition
 * function over a state x event table; hook and health results, its timers,
 * and the operator's emergency update and rollback. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define GATE_VALID_MS 60000

#define GATE_RETRY_MS 30000

/* The moves the machine may make, by internal state. ELECTED and FAILED are
 * passed through: each is left in the call that enters it, so the log and
 * the record show the path, and no event ever finds the executor there. */
static bool legal(stg_exec_state_t a, stg_exec_state_t b) {
#define S(x) (1u << STG_EXEC_##x)
    static const unsigned to[STG_EXEC__COUNT] = {
        [STG_EXEC_IDLE] = S(ELECTED) | S(ROLLING_BACK),
        [STG_EXEC_ELECTED] = S(INSTALLING),
        [STG_EXEC_INSTALLING] = S(VERIFYING) | S(FAILED) | S(INSTALLING_THEN_ROLLBACK) |
                                S(VERIFYING_AFTER_CUT_SHORT),
        [STG_EXEC_INSTALLING_THEN_ROLLBACK] = S(FAILED) | S(VERIFYING_THEN_ROLLBACK),
        [STG_EXEC_VERIFYING] = S(SOAKING) | S(FAILED),
        [STG_EXEC_VERIFYING_AFTER_CUT_SHORT] = S(SOAKING) | S(FAILED) | S(INSTALLING) | S(VERIFYING),
        [STG_EXEC_VERIFYING_THEN_ROLLBACK] = S(FAILED),
        [STG_EXEC_SOAKING] = S(DONE) | S(FAILED),
        [STG_EXEC_DONE] = S(ELECTED) | S(ROLLING_BACK),
        [STG_EXEC_FAILED] = S(ROLLING_BACK),
        [STG_EXEC_ROLLING_BACK] = S(ROLLED_BACK) | S(ROLLBACK_FAILED),
        [STG_EXEC_ROLLED_BACK] = S(IDLE) | S(ELECTED),
        [STG_EXEC_ROLLBACK_FAILED] = S(IDLE) | S(ROLLING_BACK),
    };
#undef S
    return (to[a] >> b) & 1u;
}

static void move(stg_core_t *c, stg_exec_state_t to) {
    assert(legal(c->exec_state, to));
    assert(c->phase == stg__exec_state_phase(c->exec_state));
    c->exec_state = to;
    c->phase = stg__exec_state_phase(to);
}

/* A move the fleet sees: logs "old -> new", counts it, persists it, and
 * tells the fleet through our record. */
static void enter(stg_core_t *c, stg_exec_state_t to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void enter(stg_core_t *c, stg_exec_state_t to, const char *fmt, ...) {
    c->soak_bad_since_ms = 0;
    stg_phase_t from = c->phase;
    move(c, to);
    assert(c->slot < (int)c->roster->policy.batch);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->exec_detail, sizeof c->exec_detail, fmt, ap);
    va_end(ap);
    stg__log(c, to == STG_EXEC_FAILED || to == STG_EXEC_ROLLBACK_FAILED ? STG_LOG_ERROR : STG_LOG_INFO,
             "exec", "%s -> %s (%s %s)%s%s", stg_phase_name(from), stg_phase_name(c->phase),
             c->exec_rel.component, c->exec_rel.version, c->exec_detail[0] ? ": " : "",
             c->exec_detail);
    c->phase_since_ms = c->now;
    c->stats.transitions++;
    stg__journal_save(c);
    stg__own_changed(c);
}

void stg__run_hook(stg_core_t *c, stg_hook_kind_t h, const stg_release_t *rel) {
    stg_action_t *a = stg__act(c, STG_ACT_RUN_HOOK);
    if (!a) return;
    a->hook = h;
    a->release = rel;
    const comp_t *k = stg__comp_named(c, rel->component);
    a->component = k ? stg__comp_index(c, k) : 0;
    if (h != STG_HOOK_GATE) c->hook_running = true;
}

static void fail(stg_core_t *c, const char *why) {
    snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    stg__id_hex(c->exec_id, c->failed_rel);
    enter(c, STG_EXEC_FAILED, "%s", why);
    enter(c, STG_EXEC_ROLLING_BACK, "running the rollback hook after: %s", why);
    stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
}

/* Most of the fleet unhealthy at once is the network (an epoch-boundary
 * stall), not this release: no rollback for that. */
static bool fleet_wide_trouble(const stg_core_t *c) {
    unsigned bad = 0, n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if ((int)i == c->self) continue;
        n++;
        if (c->peers[i].have && c->peers[i].rec.health == STG_HEALTH_UNHEALTHY) bad++;
    }
    return n > 0 && bad * 2 > n;
}

void stg__set_exec_release(stg_core_t *c, const stg_release_t *rel, const uint8_t id[8],
                             const uint8_t *env, size_t len) {
    if (!stg__keep_copy(&c->exec_env, &c->exec_len, env, len)) return;
    c->exec_rel = *rel;
    memcpy(c->exec_id, id, 8);
    c->exec_have = true;
}

/* ---- the events ------------------------------------------------------------
 * What may happen to the executor. The tick sends NO_HOOK (no hook of ours
 * runs: what a restart interrupted is taken up again), then TICK (the
 * state's own timer), then EMERGENCY_DUE (a queued emergency update's time
 * has come). */
#define EXEC_EVENT_MAP(X)                                                  \
    X(START)           /* we won a slot's election */                      \
    X(EMERGENCY_DUE)   /* the queued emergency update may start */         \
    X(INSTALL_OK)                                                          \
    X(INSTALL_FAILED)                                                      \
    X(ROLLBACK_OK)                                                         \
    X(ROLLBACK_FAILED)                                                     \
    X(HEALTH)          /* a health hook's result */                        \
    X(NO_HOOK)                                                             \
    X(TICK)                                                                \
    X(ROLLBACK_CMD)    /* the operator's emergency rollback */             \
    X(FORGIVE)         /* the operator's resume */                         \
    X(RESTART)         /* we start from the journal */

typedef enum {
#define X(name) EV_##name,
    EXEC_EVENT_MAP(X)
#undef X
    EV__COUNT
} exec_ev_t;

typedef struct {
    exec_ev_t type;
    const stg_event_t *ev; /* HEALTH, the hook events: the shell's event */
    int64_t seq;           /* ROLLBACK_CMD, FORGIVE: the command's sequence */
} exec_in_t;

typedef void exec_fn(stg_core_t *c, const exec_in_t *in);

/* ---- the cells --------------------------------------------------------- */

static void pass(stg_core_t *c, const exec_in_t *in) {
    (void)c;
    (void)in;
}

static void run_install(stg_core_t *c) {
    enter(c, STG_EXEC_INSTALLING, "running the install hook");
    stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
}

static void start_update(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    c->avoid_slot = -1;
    c->gate_ok_until_ms = 0; /* a gate's yes is for one restart: this one */
    stg__set_exec_release(c, &c->R->release, c->R->release_id, c->R->release_env, c->R->release_len);
    c->slot = c->att.slot;
    c->slot_attempt = c->att.id;
    c->acks = c->att.nacked;
    stg__attempt_end(c, true, NULL);
    c->stats.elections_won++;
    enter(c, STG_EXEC_ELECTED, "holding slot %d with %u of %u start acknowledgements", c->slot,
          c->acks, c->roster->nmembers);
    run_install(c);
}

/* An emergency update or rollback took the executor meanwhile: one
 * installer at a time, and the slot goes back to the fleet. */
static void give_back(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    stg__attempt_end(c, false, "the executor is busy with an operator's command");
}

static void start_emergency(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    stg_release_t rel;
    uint8_t id[8];
    c->emergency_pending = false;
    if (!stg__open_release(c, c->pending_env, c->pending_len, &rel, id)) return;
    /* An election of ours still open ends here, its slot freed. */
    stg__attempt_end(c, false, "an operator's emergency update takes over");
    /* A normal update to the same release may have finished in the meantime. */
    if (stg__self_runs(c, &rel) ||
        (c->exec_state == STG_EXEC_DONE && c->exec_have && memcmp(c->exec_id, id, 8) == 0))
        return;
    stg__set_exec_release(c, &rel, id, c->pending_env, c->pending_len);
    c->gate_ok_until_ms = 0; /* a gate's yes is for one restart: this one */
    c->emergency = true;
    c->slot = -1;
    c->acks = 0;
    enter(c, STG_EXEC_ELECTED, "emergency update by operator command #%lld: no slot, no soak wait",
          (long long)c->emergency_seq);
    run_install(c);
}

static void installed(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    c->crash_have_base = false;
    c->crash_since_ms = c->now;
    c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
    c->last_progress[0] = '\0';
    enter(c, STG_EXEC_VERIFYING, "installed; waiting for health (deadline %llds)",
          (long long)c->roster->policy.health_deadline_s);
    /* At once, the health hook of the component just installed (c->R). */
    stg_action_t *a = stg__act(c, STG_ACT_RUN_HEALTH);
    if (a) a->component = stg__comp_index(c, c->R);
}

static void install_failed(stg_core_t *c, const exec_in_t *in) {
    char why[STG_DETAIL_MAX + 1];
    snprintf(why, sizeof why, "install hook failed: %s", in->ev->detail ? in->ev->detail : "");
    fail(c, why);
}

/* The install ended (or a restart cut it short) after the operator had
 * ordered a rollback: what is there is not kept. */
static void ordered_rollback(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    fail(c, "the operator ordered a rollback during the install");
}

static void rolled_back(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    enter(c, STG_EXEC_ROLLED_BACK, "rolled back from %s after: %s", c->exec_rel.version,
          c->fail_reason);
    stg__release_slot(c);
    c->emergency = false;
}

static void rollback_failed(stg_core_t *c, const exec_in_t *in) {
    enter(c, STG_EXEC_ROLLBACK_FAILED,
          "%s, and the rollback hook failed too: %s; the operator must act", c->fail_reason,
          in->ev->detail ? in->ev->detail : "");
}

static void rerun_rollback(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
}

/* Does the service run the release we install (or say no version)? */
static bool runs_release(const stg_core_t *c) {
    return !c->R->version[0] || stg__self_runs(c, &c->exec_rel);
}

/* A new version that keeps crashing fails at once, not at the end of
 * health_deadline_s (hours, for a ledger replay): the service restarted
 * crash_restarts times (the health hook's restarts=, a counter) within
 * crash_window_ms of the install. The first report after the install is
 * the baseline; a counter that went down (a new container starts at 0)
 * is a new baseline. After a restart of staggerd mid-update the baseline
 * is taken again. */
static bool crash_loop(stg_core_t *c, const stg_event_t *ev) {
    /* A run without the count (the hook could not read it this time) is
     * no baseline: taken for 0, it would reset the count of a crash loop. */
    if (!c->t.crash_restarts || !ev->has_restarts) return false;
    if (!c->crash_have_base || ev->restarts < c->crash_base) {
        c->crash_have_base = true;
        c->crash_base = ev->restarts;
        if (!c->crash_since_ms) c->crash_since_ms = c->now;
        return false;
    }
    uint32_t n = ev->restarts - c->crash_base;
    if (n < c->t.crash_restarts || c->now - c->crash_since_ms > c->t.crash_window_ms)
        return false;
    char why[STG_DETAIL_MAX + 1];
    snprintf(why, sizeof why, "crash loop: %s restarted %u times within %llds of the install%s%s",
             c->exec_rel.version, n, (long long)((c->now - c->crash_since_ms) / 1000),
             ev->detail && *ev->detail ? ": " : "", ev->detail ? ev->detail : "");
    fail(c, why);
    return true;
}

static void verify_health(stg_core_t *c, const exec_in_t *in) {
    const stg_event_t *ev = in->ev;
    if (crash_loop(c, ev)) return;
    if (ev->health == STG_HEALTH_HEALTHY && runs_release(c)) {
        enter(c, STG_EXEC_SOAKING, "healthy on %s; soaking %llds", c->exec_rel.version,
              (long long)stg__soak_s(c, c->exec_rel.component));
        return;
    }
    if (ev->progress && strcmp(ev->progress, c->last_progress) != 0) {
        /* Visible progress (a ledger replay) moves the deadline. */
        snprintf(c->last_progress, sizeof c->last_progress, "%s", ev->progress);
        c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
    }
}

/* After a restart cut the install short: a healthy service tells which
 * version is there. */
static void verify_cut_short_health(stg_core_t *c, const exec_in_t *in) {
    if (in->ev->health == STG_HEALTH_HEALTHY && !runs_release(c)) {
        if (!c->hook_running) {
            /* The old version runs, healthy: the install never happened. */
            enter(c, STG_EXEC_INSTALLING, "the install was cut short by a restart: running it again");
            stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
            return;
        }
        move(c, STG_EXEC_VERIFYING);
    }
    verify_health(c, in);
}

static void soak_health(stg_core_t *c, const exec_in_t *in) {
    const stg_event_t *ev = in->ev;
    if (crash_loop(c, ev)) return;
    if (ev->health != STG_HEALTH_UNHEALTHY) {
        c->soak_bad_since_ms = 0;
        return;
    }
    /* One failed scrape is not a bad release: it must last a few health
     * intervals (at least 30 s) before the update is failed. */
    int64_t grace = 3 * c->t.health_interval_ms;
    if (grace < 30000) grace = 30000;
    if (!c->soak_bad_since_ms) c->soak_bad_since_ms = c->now;
    if (c->now - c->soak_bad_since_ms < grace) {
        stg__log(c, STG_LOG_WARNING, "exec", "unhealthy while soaking (%s); failing in %llds "
                                             "unless it recovers",
                 ev->detail ? ev->detail : "",
                 (long long)((grace - (c->now - c->soak_bad_since_ms) + 999) / 1000));
        return;
    }
    if (fleet_wide_trouble(c)) {
        stg__log(c, STG_LOG_WARNING, "exec",
                 "unhealthy while soaking, but so is most of the fleet: not blaming %s",
                 c->exec_rel.version);
        return;
    }
    char why[STG_DETAIL_MAX + 1];
    snprintf(why, sizeof why, "unhealthy while soaking: %s", ev->detail ? ev->detail : "");
    fail(c, why);
}

static void check_deadline(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    if (c->now <= c->deadline_ms) return;
    char why[128];
    snprintf(why, sizeof why, "not healthy on %s within %llds", c->exec_rel.version,
             (long long)c->roster->policy.health_deadline_s);
    fail(c, why);
}

static void check_soak(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    if (c->now < c->phase_since_ms + stg__soak_s(c, c->exec_rel.component) * 1000) return;
    enter(c, STG_EXEC_DONE, "healthy on %s for %llds", c->exec_rel.version,
          (long long)stg__soak_s(c, c->exec_rel.component));
    stg__release_slot(c);
    c->emergency = false;
}

/* The operator's rollback during the install waits for its end: a restart
 * in between must not lose it (the command will not come again). */
static void rollback_after_install(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    move(c, STG_EXEC_INSTALLING_THEN_ROLLBACK);
    stg__journal_save(c);
}

static void operator_fail(stg_core_t *c, const exec_in_t *in) {
    char why[96];
    snprintf(why, sizeof why, "operator rollback (command #%lld)", (long long)in->seq);
    fail(c, why);
}

/* At rest, done on the release or running its version: put the old one back. */
static void roll_back_release(stg_core_t *c, const exec_in_t *in) {
    if (!c->R->have_release || !stg__self_runs(c, &c->R->release)) return;
    if (c->exec_state == STG_EXEC_IDLE || !c->exec_have ||
        memcmp(c->exec_id, c->R->release_id, 8) != 0)
        stg__set_exec_release(c, &c->R->release, c->R->release_id, c->R->release_env, c->R->release_len);
    char why[96];
    snprintf(why, sizeof why, "operator rollback (command #%lld)", (long long)in->seq);
    snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    enter(c, STG_EXEC_ROLLING_BACK, "%s", why);
    stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
}

static void forgive(stg_core_t *c, const exec_in_t *in) {
    enter(c, STG_EXEC_IDLE, "the operator's resume #%lld forgives: %s", (long long)in->seq,
          c->fail_reason[0] ? c->fail_reason : "the failure");
}

/* The rollback failed: if the old version runs after all, the resume
 * forgives; if the release still runs, it tries the rollback again, and
 * should that fail again, the fleet halts again. */
static void retry_or_forgive(stg_core_t *c, const exec_in_t *in) {
    if (!c->exec_have) return;
    /* Just restarted, we do not know yet which version runs: no version
     * is not "the old one". The first health report decides. */
    if (!c->R->health_heard) {
        c->forgive_seq = in->seq;
        stg__log(c, STG_LOG_INFO, "exec",
                 "the operator's resume #%lld waits for the health hook: the version it finds "
                 "decides between forgiving and running the rollback hook again",
                 (long long)in->seq);
        return;
    }
    c->forgive_seq = 0;
    if (!stg__self_runs(c, &c->exec_rel)) {
        forgive(c, in);
        return;
    }
    enter(c, STG_EXEC_ROLLING_BACK, "the operator's resume #%lld: running the rollback hook again",
          (long long)in->seq);
    stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
}

/* A resume that came before the first health report since our start. */
static void forgive_when_known(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    if (c->forgive_seq) retry_or_forgive(c, &(exec_in_t){.type = EV_FORGIVE, .seq = c->forgive_seq});
}

/* Restarted during the install: it is verified, then finished, run again
 * or rolled back. */
static void cut_short(stg_core_t *c, const exec_in_t *in) {
    (void)in;
    bool away = c->install_away;
    c->install_away = false;
    if (away && c->exec_state == STG_EXEC_INSTALLING) {
        /* The install announced this reboot (away=): its work was done and
         * the reboot finishes it. Its health check decides, as after an
         * install that exits; running it again would reboot again. */
        move(c, STG_EXEC_VERIFYING);
        c->crash_have_base = false;
        c->crash_since_ms = c->now;
        c->last_progress[0] = '\0';
        c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
        snprintf(c->exec_detail, sizeof c->exec_detail,
                 "back from the reboot the install hook announced: verifying %s",
                 c->exec_rel.version);
        stg__log(c, STG_LOG_INFO, "exec", "installing -> verifying (%s %s): %s",
                 c->exec_rel.component, c->exec_rel.version, c->exec_detail);
        return;
    }
    move(c, c->exec_state == STG_EXEC_INSTALLING ? STG_EXEC_VERIFYING_AFTER_CUT_SHORT
                                                 : STG_EXEC_VERIFYING_THEN_ROLLBACK);
    c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
    snprintf(c->exec_detail, sizeof c->exec_detail, "restarted during install: verifying what is there");
}

/* ---- the table -------------------------------------------------------------
 * One row per state, one column per event (FRR's vrrp_event shape). A NULL
 * cell is an event that cannot reach that state: it asserts. ELECTED and
 * FAILED have no row, since no event finds the executor there. Cells that
 * move the executor do it through enter() (the fleet sees it) or move() (a
 * sub-state within the same phase, or the restart's own); both check the
 * move against legal(). */
static exec_fn *const table[STG_EXEC__COUNT][EV__COUNT] = {
    /* START          EMERGENCY_DUE     INSTALL_OK         INSTALL_FAILED     ROLLBACK_OK   ROLLBACK_FAILED
     * HEALTH                    NO_HOOK            TICK             ROLLBACK_CMD             FORGIVE            RESTART */
    [STG_EXEC_IDLE] = {
        start_update,  start_emergency,  pass,              pass,              pass,         pass,
        pass,                     pass,              pass,            roll_back_release,       pass,              pass},
    /* ELECTED: no row (every cell NULL) */
    [STG_EXEC_INSTALLING] = {
        give_back,     pass,             installed,         install_failed,    pass,         pass,
        pass,                     pass,              pass,            rollback_after_install,  pass,              cut_short},
    [STG_EXEC_INSTALLING_THEN_ROLLBACK] = {
        give_back,     pass,             ordered_rollback,  ordered_rollback,  pass,         pass,
        pass,                     pass,              pass,            pass,                    pass,              cut_short},
    [STG_EXEC_VERIFYING] = {
        give_back,     pass,             pass,              pass,              pass,         pass,
        verify_health,            pass,              check_deadline,  operator_fail,           pass,              pass},
    [STG_EXEC_VERIFYING_AFTER_CUT_SHORT] = {
        give_back,     pass,             pass,              pass,              pass,         pass,
        verify_cut_short_health,  pass,              check_deadline,  operator_fail,           pass,              pass},
    [STG_EXEC_VERIFYING_THEN_ROLLBACK] = {
        give_back,     pass,             pass,              pass,              pass,         pass,
        pass,                     ordered_rollback,  check_deadline,  operator_fail,           pass,              pass},
    [STG_EXEC_SOAKING] = {
        give_back,     pass,             pass,              pass,              pass,         pass,
        soak_health,              pass,              check_soak,      operator_fail,           pass,              pass},
    [STG_EXEC_DONE] = {
        start_update,  start_emergency,  pass,              pass,              pass,         pass,
        pass,                     pass,              pass,            roll_back_release,       pass,              pass},
    /* FAILED: no row (every cell NULL) */
    [STG_EXEC_ROLLING_BACK] = {
        give_back,     pass,             pass,              pass,              rolled_back,  rollback_failed,
        pass,                     rerun_rollback,    pass,            pass,                    pass,              pass},
    [STG_EXEC_ROLLED_BACK] = {
        start_update,  start_emergency,  pass,              pass,              pass,         pass,
        pass,                     pass,              pass,            pass,                    forgive,           pass},
    [STG_EXEC_ROLLBACK_FAILED] = {
        give_back,     pass,             pass,              pass,              pass,         pass,
        forgive_when_known,       pass,              pass,            pass,                    retry_or_forgive,  pass},
};

/* The one transition function. */
/* The component an event is judged for (c->R: its version, its health):
 * the one the executor updates; a queued emergency update's own; for a
 * start, what the caller chose (the won release's), and for the
 * operator's rollback the caller's too (the primary: at rest it rolls back
 * the primary's release, docs/protocol.md §10). */
static comp_t *event_comp(stg_core_t *c, const exec_in_t *in) {
    if (in->type == EV_START || in->type == EV_ROLLBACK_CMD) return c->R;
    if (in->type == EV_EMERGENCY_DUE) return &c->comps[c->emergency_comp];
    comp_t *k = c->exec_have ? stg__comp_named(c, c->exec_rel.component) : NULL;
    return k ? k : c->R;
}

static void exec_event(stg_core_t *c, const exec_in_t *in) {
    assert(c->exec_state < STG_EXEC__COUNT && in->type < EV__COUNT);
    exec_fn *cell = table[c->exec_state][in->type];
    assert(cell != NULL);
    comp_t *was = stg__judge(c, event_comp(c, in));
    cell(c, in);
    c->R = was;
}

/* ---- the executor's entry points ------------------------------------------ */

/* The won attempt's release is one of our components': the executor takes it. */
void stg__start_update(stg_core_t *c) {
    comp_t *was = stg__judge(c, stg__comp_by_id(c, c->att.release));
    exec_event(c, &(exec_in_t){.type = EV_START});
    c->R = was;
}

void stg__rollout_health(stg_core_t *c, const stg_event_t *ev) {
    exec_event(c, &(exec_in_t){.type = EV_HEALTH, .ev = ev});
}

void stg__rollout_hook_done(stg_core_t *c, const stg_event_t *ev) {
    const char *d = ev->detail ? ev->detail : "";
    if (ev->hook == STG_HOOK_GATE) {
        c->gate_running = false;
        if (ev->ok) c->gate_ok_until_ms = c->now + GATE_VALID_MS;
        else {
            c->backoff_until_ms = c->now + GATE_RETRY_MS;
            snprintf(c->R->waiting, sizeof c->R->waiting, "gate hook said no: %s", d);
            stg__log(c, STG_LOG_WARNING, "hook", "gate: not now: %s", d);
        }
        return;
    }
    c->hook_running = false;
    if (ev->hook == STG_HOOK_INSTALL) c->install_away = false; /* it ended: no reboot cut it */
    if (ev->hook == STG_HOOK_INSTALL)
        exec_event(c, &(exec_in_t){.type = ev->ok ? EV_INSTALL_OK : EV_INSTALL_FAILED, .ev = ev});
    else if (ev->hook == STG_HOOK_ROLLBACK)
        exec_event(c, &(exec_in_t){.type = ev->ok ? EV_ROLLBACK_OK : EV_ROLLBACK_FAILED, .ev = ev});
}

static void emergency_queue(stg_core_t *c, const stg_command_t *cmd, const uint8_t *env,
                            size_t len, const stg_release_t *rel_in, const uint8_t id[8],
                            bool start);

void stg__rollout_emergency_update(stg_core_t *c, const stg_command_t *cmd, bool start) {
    const uint8_t *env = cmd->release;
    size_t len = cmd->release_len;
    int64_t seq = cmd->seq;
    stg_release_t rel;
    uint8_t id[8];
    if (!stg__open_release(c, env, len, &rel, id)) return;
    comp_t *k = stg__comp_named(c, rel.component);
    if (!k) {
        stg__log(c, STG_LOG_INFO, "exec", "emergency update #%lld is for %s, which this node "
                 "does not manage", (long long)seq, rel.component);
        return;
    }
    comp_t *was = stg__judge(c, k);
    emergency_queue(c, cmd, env, len, &rel, id, start);
    c->R = was;
}

static void emergency_queue(stg_core_t *c, const stg_command_t *cmd, const uint8_t *env,
                            size_t len, const stg_release_t *rel_in, const uint8_t id[8],
                            bool start) {
    int64_t spacing_s = cmd->spacing_s, seq = cmd->seq;
    stg_release_t rel = *rel_in;
    /* The operator's word wins over created_at: an emergency downgrade is an update too. */
    if (!c->R->have_release || memcmp(id, c->R->release_id, 8) != 0) {
        stg__adopt(c, env, len, &rel, id);
        char hex[17];
        stg__id_hex(id, hex);
        stg__log(c, STG_LOG_INFO, "rollout", "adopted release %s %s (%s) from an operator command",
                 rel.component, rel.version, hex);
    }
    if (!start || stg__self_runs(c, &rel)) return; /* not ours, or runs it already */
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, env, len);
    free(c->pending_env);
    c->pending_env = copy;
    c->pending_len = len;
    /* Queued, not a state: it waits behind whatever the executor does now,
     * and starts at rest once its time has come (EMERGENCY_DUE). Spaced in
     * the rollout order, so not every relay restarts at once. */
    int ord[STG_MEMBERS_MAX];
    unsigned n = stg__order(c, ord), k = 0;
    c->emergency_nahead = 0;
    for (unsigned i = 0; i < n && ord[i] != c->self; i++) {
        k++;
        const stg_member_t *m = &c->roster->members[ord[i]];
        if (stg_command_targets(cmd, m->name) && (!m->holdback || cmd->include_holdback))
            c->emergency_ahead[c->emergency_nahead++] = ord[i];
    }
    c->emergency_pending = true;
    c->emergency_comp = stg__comp_index(c, c->R);
    c->emergency_seq = seq;
    c->emergency_at_ms = c->now + (int64_t)k * spacing_s * 1000;
    c->emergency_force = cmd->force;
    c->emergency_after_healthy = cmd->after_healthy;
    c->emergency_waits[0] = '\0';
    stg__log(c, STG_LOG_WARNING, "exec", "emergency update to %s %s in %llds%s%s (command #%lld)",
             rel.component, rel.version, (long long)(k * spacing_s),
             cmd->after_healthy && c->emergency_nahead ? ", after the targets before it are healthy on it" : "",
             cmd->force ? ", without the gate hook (forced)" : ", once the gate hook agrees",
             (long long)seq);
}

/* May the queued emergency update start now? With after_healthy, every
 * target before us in the order must run the release, healthy, as its
 * record says (one that failed on it holds the rest back, as a failure
 * halts a rollout); then the gate hook must agree, unless forced. What it
 * waits for is logged once. */
static bool emergency_may_start(stg_core_t *c) {
    char why[sizeof c->emergency_waits] = "";
    for (unsigned k = 0; c->emergency_after_healthy && k < c->emergency_nahead && !why[0]; k++) {
        int m = c->emergency_ahead[k];
        stg_comp_rec_t tmp;
        const stg_comp_rec_t *e = stg__rec_comp(c, m, &tmp); /* the component it updates */
        if (!e || stg__shown_health(c, m) != STG_HEALTH_HEALTHY ||
            e->health != STG_HEALTH_HEALTHY ||
            !stg__runs(&c->R->release, c->roster->members[m].flavour, e->version, e->build))
            snprintf(why, sizeof why, "waiting for %s to be healthy on %s", stg__mname(c, m),
                     c->R->release.version);
    }
    bool gate = !why[0] && !c->emergency_force &&
                (c->now >= c->gate_ok_until_ms || memcmp(c->gate_for, c->R->release_id, 8) != 0);
    if (gate) {
        snprintf(why, sizeof why, "waiting for the gate hook");
        if (!c->gate_running && c->now >= c->backoff_until_ms) {
            c->gate_running = true;
            c->gate_ok_until_ms = 0;
            memcpy(c->gate_for, c->R->release_id, 8);
            stg__run_hook(c, STG_HOOK_GATE, &c->R->release);
        }
    }
    if (strcmp(why, c->emergency_waits) != 0 && why[0])
        stg__log(c, STG_LOG_INFO, "exec", "emergency update #%lld: %s", (long long)c->emergency_seq,
                 why);
    snprintf(c->emergency_waits, sizeof c->emergency_waits, "%s", why);
    return !why[0];
}

void stg__rollout_emergency_rollback(stg_core_t *c, int64_t seq) {
    c->emergency_pending = false;
    stg__attempt_end(c, false, "an operator's rollback takes over");
    exec_event(c, &(exec_in_t){.type = EV_ROLLBACK_CMD, .seq = seq});
}

void stg__exec_forgive(stg_core_t *c, int64_t seq) {
    exec_event(c, &(exec_in_t){.type = EV_FORGIVE, .seq = seq});
}

/* The executor's timers: take up what a restart interrupted, the state's
 * own timer (the health deadline, the end of the soak), a queued emergency
 * update. */
void stg__exec_tick(stg_core_t *c) {
    if (!c->hook_running) exec_event(c, &(exec_in_t){.type = EV_NO_HOOK});
    exec_event(c, &(exec_in_t){.type = EV_TICK});
    if (!c->emergency_pending || c->now < c->emergency_at_ms) return;
    comp_t *was = stg__judge(c, &c->comps[c->emergency_comp]);
    bool due = emergency_may_start(c);
    c->R = was;
    if (due) exec_event(c, &(exec_in_t){.type = EV_EMERGENCY_DUE});
}

void stg__exec_away(stg_core_t *c, const stg_event_t *ev) {
    bool install = ev->hook == STG_HOOK_INSTALL &&
                   (c->exec_state == STG_EXEC_INSTALLING ||
                    c->exec_state == STG_EXEC_INSTALLING_THEN_ROLLBACK);
    bool rollback = ev->hook == STG_HOOK_ROLLBACK && c->exec_state == STG_EXEC_ROLLING_BACK;
    if (c->self < 0 || !c->hook_running || !(install || rollback) || ev->away_ms < 1 ||
        ev->away_ms > STG_AWAY_MAX_MS) {
        stg__log(c, STG_LOG_WARNING, "exec",
                 "ignoring away=%lld ms from the %s hook: only a running install or rollback "
                 "hook may announce an absence, of 1 ms to %d s",
                 (long long)ev->away_ms, stg_hook_name(ev->hook), STG_AWAY_MAX_MS / 1000);
        return;
    }
    c->away_until_ms = c->now + ev->away_ms;
    c->install_away = install;
    stg__log(c, STG_LOG_INFO, "exec",
             "the %s hook announces an absence of up to %llds (a reboot): peers show this node "
             "rebooting, not dead, while it lasts",
             stg_hook_name(ev->hook), (long long)((ev->away_ms + 999) / 1000));
    /* On disk before the record leaves (writes are barriers): after the
     * reboot the journal says the install asked for it. */
    stg__journal_save(c);
    stg__own_changed(c);
}

void stg__exec_restart(stg_core_t *c, stg_exec_state_t s) {
    assert(s < STG_EXEC__COUNT);
    c->exec_state = s;
    c->phase = stg__exec_state_phase(s);
    exec_event(c, &(exec_in_t){.type = EV_RESTART});
}
