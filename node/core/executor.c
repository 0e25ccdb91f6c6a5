/* executor.c: the update executor of this node: the phase machine
 * (docs/protocol.md §9), hook results, and the operator's emergency update
 * and rollback. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define GATE_VALID_MS 60000

#define GATE_RETRY_MS 30000

static bool legal(stg_phase_t a, stg_phase_t b) {
    switch (a) {
    case STG_PHASE_IDLE: return b == STG_PHASE_ELECTED || b == STG_PHASE_ROLLING_BACK;
    case STG_PHASE_ELECTED: return b == STG_PHASE_INSTALLING || b == STG_PHASE_VERIFYING;
    case STG_PHASE_INSTALLING: return b == STG_PHASE_VERIFYING || b == STG_PHASE_FAILED;
    case STG_PHASE_VERIFYING:
        return b == STG_PHASE_SOAKING || b == STG_PHASE_FAILED || b == STG_PHASE_INSTALLING;
    case STG_PHASE_SOAKING: return b == STG_PHASE_DONE || b == STG_PHASE_FAILED;
    case STG_PHASE_DONE:
        return b == STG_PHASE_IDLE || b == STG_PHASE_ELECTED || b == STG_PHASE_ROLLING_BACK;
    case STG_PHASE_FAILED: return b == STG_PHASE_ROLLING_BACK || b == STG_PHASE_IDLE;
    case STG_PHASE_ROLLING_BACK: return b == STG_PHASE_ROLLED_BACK || b == STG_PHASE_FAILED;
    case STG_PHASE_ROLLED_BACK: return b == STG_PHASE_IDLE || b == STG_PHASE_ELECTED;
    default: return false;
    }
}

/* The one transition function: checks the move, logs "old -> new",
 * counts it, persists it, and tells the fleet through our record. */
static void set_phase(stg_core_t *c, stg_phase_t to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_phase(stg_core_t *c, stg_phase_t to, const char *fmt, ...) {
    c->soak_bad_since_ms = 0;
    assert(legal(c->phase, to));
    assert(c->slot < (int)c->roster->policy.batch);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->exec_detail, sizeof c->exec_detail, fmt, ap);
    va_end(ap);
    stg__log(c, to == STG_PHASE_FAILED ? STG_LOG_ERROR : STG_LOG_INFO, "exec",
             "%s -> %s (%s %s)%s%s", stg_phase_name(c->phase), stg_phase_name(to),
             c->exec_rel.component, c->exec_rel.version, c->exec_detail[0] ? ": " : "",
             c->exec_detail);
    c->phase = to;
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
    if (h != STG_HOOK_GATE) c->hook_running = true;
}

static void fail(stg_core_t *c, const char *why) {
    snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    set_phase(c, STG_PHASE_FAILED, "%s", why);
    set_phase(c, STG_PHASE_ROLLING_BACK, "running the rollback hook after: %s", why);
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

void stg__rollout_health(stg_core_t *c, const stg_event_t *ev) {
    if (c->phase == STG_PHASE_VERIFYING) {
        bool right = !c->version[0] || strcmp(c->version, c->exec_rel.version) == 0;
        if (c->install_cut_short && ev->health == STG_HEALTH_HEALTHY && !right && !c->hook_running) {
            /* The old version runs, healthy: the install never happened. */
            c->install_cut_short = false;
            set_phase(c, STG_PHASE_INSTALLING, "the install was cut short by a restart: running it again");
            stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
            return;
        }
        if (ev->health == STG_HEALTH_HEALTHY) c->install_cut_short = false;
        if (ev->health == STG_HEALTH_HEALTHY && right) {
            set_phase(c, STG_PHASE_SOAKING, "healthy on %s; soaking %llds", c->exec_rel.version,
                      (long long)c->roster->policy.soak_s);
            return;
        }
        if (ev->progress && strcmp(ev->progress, c->last_progress) != 0) {
            /* Visible progress (a ledger replay) moves the deadline. */
            snprintf(c->last_progress, sizeof c->last_progress, "%s", ev->progress);
            c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
        }
    } else if (c->phase == STG_PHASE_SOAKING && ev->health != STG_HEALTH_UNHEALTHY) {
        c->soak_bad_since_ms = 0;
    } else if (c->phase == STG_PHASE_SOAKING && ev->health == STG_HEALTH_UNHEALTHY) {
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
}

void stg__rollout_hook_done(stg_core_t *c, const stg_event_t *ev) {
    const char *d = ev->detail ? ev->detail : "";
    if (ev->hook == STG_HOOK_GATE) {
        c->gate_running = false;
        if (ev->ok) c->gate_ok_until_ms = c->now + GATE_VALID_MS;
        else {
            c->backoff_until_ms = c->now + GATE_RETRY_MS;
            snprintf(c->waiting, sizeof c->waiting, "gate hook said no: %s", d);
            stg__log(c, STG_LOG_WARNING, "hook", "gate: not now: %s", d);
        }
        return;
    }
    c->hook_running = false;
    if (ev->hook == STG_HOOK_INSTALL && c->phase == STG_PHASE_INSTALLING && c->rollback_after_install) {
        c->rollback_after_install = false;
        fail(c, "the operator ordered a rollback during the install");
    } else if (ev->hook == STG_HOOK_INSTALL && c->phase == STG_PHASE_INSTALLING) {
        if (ev->ok) {
            c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
            c->last_progress[0] = '\0';
            set_phase(c, STG_PHASE_VERIFYING, "installed; waiting for health (deadline %llds)",
                      (long long)c->roster->policy.health_deadline_s);
            stg__act(c, STG_ACT_RUN_HEALTH);
        } else {
            char why[STG_DETAIL_MAX + 1];
            snprintf(why, sizeof why, "install hook failed: %s", d);
            fail(c, why);
        }
    } else if (ev->hook == STG_HOOK_ROLLBACK && c->phase == STG_PHASE_ROLLING_BACK) {
        if (ev->ok) {
            set_phase(c, STG_PHASE_ROLLED_BACK, "rolled back from %s after: %s",
                      c->exec_rel.version, c->fail_reason);
            stg__release_slot(c);
            c->emergency = false;
        } else {
            set_phase(c, STG_PHASE_FAILED, "%s, and the rollback hook failed too: %s; the operator must act",
                      c->fail_reason, d);
        }
    }
}

void stg__set_exec_release(stg_core_t *c, const stg_release_t *rel, const uint8_t id[8],
                             const uint8_t *env, size_t len) {
    if (!stg__keep_copy(&c->exec_env, &c->exec_len, env, len)) return;
    c->exec_rel = *rel;
    memcpy(c->exec_id, id, 8);
    c->exec_have = true;
}

/* The executor may begin an update only from rest. */
static bool at_rest(const stg_core_t *c) {
    return c->phase == STG_PHASE_IDLE || c->phase == STG_PHASE_DONE ||
           c->phase == STG_PHASE_ROLLED_BACK;
}

void stg__start_update(stg_core_t *c) {
    if (!at_rest(c)) {
        /* An emergency update or rollback took the executor meanwhile: one
         * installer at a time, and the slot goes back to the fleet. */
        stg__attempt_end(c, false, "the executor is busy with an operator's command");
        return;
    }
    c->avoid_slot = -1;
    stg__set_exec_release(c, &c->release, c->release_id, c->release_env, c->release_len);
    c->slot = c->att.slot;
    c->slot_attempt = c->att.id;
    c->acks = c->att.nacked;
    stg__attempt_end(c, true, NULL);
    c->stats.elections_won++;
    set_phase(c, STG_PHASE_ELECTED, "holding slot %d with %u of %u start acknowledgements",
              c->slot, c->acks, c->roster->nmembers);
    set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
    stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
}

static void start_emergency(stg_core_t *c) {
    stg_release_t rel;
    uint8_t id[8];
    c->emergency_pending = false;
    if (!stg__open_release(c, c->pending_env, c->pending_len, &rel, id)) return;
    /* An election of ours still open ends here, its slot freed. */
    stg__attempt_end(c, false, "an operator's emergency update takes over");
    if (!at_rest(c)) {
        stg__log(c, STG_LOG_WARNING, "exec",
                 "emergency update by operator command #%lld not started: the executor is %s",
                 (long long)c->emergency_seq, stg_phase_name(c->phase));
        return;
    }
    /* A normal update to the same release may have finished in the meantime. */
    if (strcmp(c->version, rel.version) == 0 ||
        (c->phase == STG_PHASE_DONE && c->exec_have && memcmp(c->exec_id, id, 8) == 0))
        return;
    stg__set_exec_release(c, &rel, id, c->pending_env, c->pending_len);
    c->emergency = true;
    c->slot = -1;
    c->acks = 0;
    set_phase(c, STG_PHASE_ELECTED, "emergency update by operator command #%lld: no slot, no soak wait",
              (long long)c->emergency_seq);
    set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
    stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
}

void stg__rollout_emergency_update(stg_core_t *c, const uint8_t *env, size_t len,
                                   int64_t spacing_s, int64_t seq, bool start) {
    stg_release_t rel;
    uint8_t id[8];
    if (!stg__open_release(c, env, len, &rel, id)) return;
    /* The operator's word wins over created_at: an emergency downgrade is an update too. */
    if (!c->have_release || memcmp(id, c->release_id, 8) != 0) {
        stg__adopt(c, env, len, &rel, id);
        char hex[17];
        stg__id_hex(id, hex);
        stg__log(c, STG_LOG_INFO, "rollout", "adopted release %s %s (%s) from an operator command",
                 rel.component, rel.version, hex);
    }
    if (!start || strcmp(c->version, rel.version) == 0) return; /* not ours, or runs it already */
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, env, len);
    free(c->pending_env);
    c->pending_env = copy;
    c->pending_len = len;
    /* Spaced in the rollout order, so not every relay restarts at once. */
    int ord[STG_MEMBERS_MAX];
    unsigned n = stg__order(c, ord), k = 0;
    for (unsigned i = 0; i < n && ord[i] != c->self; i++) k++;
    c->emergency_pending = true;
    c->emergency_seq = seq;
    c->emergency_at_ms = c->now + (int64_t)k * spacing_s * 1000;
    stg__log(c, STG_LOG_WARNING, "exec", "emergency update to %s %s in %llds (command #%lld)",
             rel.component, rel.version, (long long)(k * spacing_s), (long long)seq);
}

void stg__rollout_emergency_rollback(stg_core_t *c, int64_t seq) {
    c->emergency_pending = false;
    stg__attempt_end(c, false, "an operator's rollback takes over");
    char why[96];
    snprintf(why, sizeof why, "operator rollback (command #%lld)", (long long)seq);
    switch (c->phase) {
    case STG_PHASE_ELECTED:
    case STG_PHASE_INSTALLING: c->rollback_after_install = true; return;
    case STG_PHASE_VERIFYING:
    case STG_PHASE_SOAKING: fail(c, why); return;
    case STG_PHASE_DONE:
    case STG_PHASE_IDLE:
        /* Done on the release, or running its version: put the old one back. */
        if (!c->have_release || strcmp(c->version, c->release.version) != 0) return;
        if (c->phase == STG_PHASE_IDLE || !c->exec_have || memcmp(c->exec_id, c->release_id, 8) != 0)
            stg__set_exec_release(c, &c->release, c->release_id, c->release_env, c->release_len);
        snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
        set_phase(c, STG_PHASE_ROLLING_BACK, "%s", why);
        stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        return;
    default: return;
    }
}

/* The executor's timers: resume after a restart, the health deadline, the
 * end of the soak, a pending emergency update. */
void stg__exec_forgive(stg_core_t *c, int64_t seq) {
    if (c->phase == STG_PHASE_ROLLED_BACK ||
        (c->phase == STG_PHASE_FAILED && c->exec_have && strcmp(c->version, c->exec_rel.version) != 0)) {
        set_phase(c, STG_PHASE_IDLE, "the operator's resume #%lld forgives: %s", (long long)seq,
                  c->fail_reason[0] ? c->fail_reason : "the failure");
    } else if (c->phase == STG_PHASE_FAILED && c->exec_have) {
        /* The rollback failed and the release still runs: the resume tries
         * the rollback again; should it fail again, the fleet halts again. */
        set_phase(c, STG_PHASE_ROLLING_BACK, "the operator's resume #%lld: running the rollback hook again",
                  (long long)seq);
        stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
    }
}

void stg__exec_tick(stg_core_t *c) {
    /* Resume after a restart (set up by rollout_init). */
    if (!c->hook_running) {
        if (c->phase == STG_PHASE_ELECTED) {
            set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
            stg__run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
        } else if (c->phase == STG_PHASE_VERIFYING && c->rollback_after_install) {
            /* Restarted during an install the operator had ordered rolled
             * back: what is there is not kept. */
            c->rollback_after_install = false;
            fail(c, "the operator ordered a rollback during the install");
        } else if (c->phase == STG_PHASE_ROLLING_BACK) {
            stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        } else if (c->phase == STG_PHASE_FAILED && c->slot >= 0 &&
                   strstr(c->exec_detail, "rollback hook failed") == NULL) {
            set_phase(c, STG_PHASE_ROLLING_BACK, "resuming the rollback");
            stg__run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        }
    }
    if (c->phase == STG_PHASE_VERIFYING && c->now > c->deadline_ms) {
        char why[128];
        snprintf(why, sizeof why, "not healthy on %s within %llds", c->exec_rel.version,
                 (long long)c->roster->policy.health_deadline_s);
        fail(c, why);
    }
    if (c->phase == STG_PHASE_SOAKING &&
        c->now >= c->phase_since_ms + c->roster->policy.soak_s * 1000) {
        set_phase(c, STG_PHASE_DONE, "healthy on %s for %llds", c->exec_rel.version,
                  (long long)c->roster->policy.soak_s);
        stg__release_slot(c);
        c->emergency = false;
    }
    if (c->emergency_pending && c->now >= c->emergency_at_ms &&
        (c->phase == STG_PHASE_IDLE || c->phase == STG_PHASE_DONE ||
         c->phase == STG_PHASE_ROLLED_BACK))
        start_emergency(c);
}
