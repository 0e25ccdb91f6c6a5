/* rollout.c: the rollout's tick and what it waits for: the executor's
 * timers, grant expiry, the campaign, and the reason shown in status. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* Time each member's healthy period on the release from when we first see
 * it: the proof measures on our clock only (docs/protocol.md §9.6). */
static void observe_proof(stg_core_t *c) {
    if (!c->R->have_release) return;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *p = &c->peers[i];
        unsigned k = stg__comp_index(c, c->R);
        int64_t key = stg__proof_key(c, (int)i);
        if (key != p->proof_key[k]) {
            p->proof_key[k] = key;
            p->proof_seen_ms[k] = c->now;
        }
    }
}

/* The forgers' names, ", "-joined, into buf. */
static void forger_names(const stg_core_t *c, char *buf, size_t cap) {
    int f[8];
    unsigned n = stg__forgers(c, f, 8), len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && i < 8 && len < cap; i++)
        len += (unsigned)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", stg__mname(c, f[i]));
}

/* Two forgers make competing blocks: said once when it begins (ERROR)
 * and once when it ends; meanwhile no slot is granted (policy.c). */
static void watch_forgers(stg_core_t *c) {
    bool two = stg__forgers(c, NULL, 0) > 1;
    if (two == c->two_forgers) return;
    c->two_forgers = two;
    char names[256];
    forger_names(c, names, sizeof names);
    if (two)
        stg__log(c, STG_LOG_ERROR, "fleet",
                 "CRITICAL: more than one member forges (%s): only the active producer may; "
                 "no update starts until one stops", names);
    else
        stg__log(c, STG_LOG_WARNING, "fleet", "one forger again%s%s: updates may start",
                 *names ? ": " : "", names);
}

static void explain(stg_core_t *c) {
    char *w = c->R->waiting;
    size_t cap = sizeof c->R->waiting;
    if (!c->R->have_release) {
        snprintf(w, cap, "no release published");
        return;
    }
    int f = stg__failed_any(c);
    if (c->write_failed)
        snprintf(w, cap, "this node cannot write its journal (%s): it neither votes nor starts "
                 "until it can", c->write_error);
    else if (c->halted) {
        /* The reason of the newest halt we hold, if its operator gave one. */
        const char *why = "";
        for (unsigned i = c->ncmd_hist; i-- > 0;)
            if (c->cmd_hist[i].action == STG_CMD_HALT) {
                why = c->cmd_hist[i].reason;
                break;
            }
        snprintf(w, cap, "halted by the operator%s%.200s", *why ? ": " : "", why);
    }
    else if (c->two_forgers) {
        char names[256];
        forger_names(c, names, sizeof names);
        snprintf(w, cap, "CRITICAL: more than one member forges (%.200s): stop all but the "
                 "active producer", names);
    }
    else if (c->fork.on) {
        char text[400];
        stg__fork_text(c, text, sizeof text);
        snprintf(w, cap, "CRITICAL: %.300s: no update starts until they agree", text);
    }
    else if (stg__abandoned(c, c->R->release_id))
        snprintf(w, cap, "abandoned: the operator gave up on %s %s; publish a newer release",
                 c->R->release.component, c->R->release.version);
    else if (f >= 0 && stg__failed_member(c) == f)
        snprintf(w, cap, "halted: %s %s failed on %s: %s; resume or abandon it",
                 c->R->release.component, c->R->release.version, stg__mname(c, f),
                 c->peers[f].rec.phase_detail);
    else if (f >= 0)
        snprintf(w, cap, "halted: another component's update failed on %s: %s; resume or "
                 "abandon it", stg__mname(c, f), c->peers[f].rec.phase_detail);
    else if (stg__pending_count(c) == 0)
        snprintf(w, cap, "done: every member runs %s %s", c->R->release.component,
                 c->R->release.version);
    else {
        int el[STG_MEMBERS_MAX];
        unsigned n = stg__eligible(c, el);
        unsigned held = c->roster->policy.batch - stg__free_slots(c, -1);
        if (held == c->roster->policy.batch) {
            int h = c->grants[0].holder;
            const char *comp = "";
            if (c->nknown > 1 && h >= 0 && !stg__rec_about(c, h, c->R->release_id))
                comp = " (another component)";
            snprintf(w, cap, "wave in progress: %s %s%s", h >= 0 ? stg__mname(c, h) : "?",
                     h >= 0 && c->peers[h].have ? stg_phase_name(c->peers[h].rec.phase) : "",
                     comp);
        } else if (n == 0) {
            snprintf(w, cap, "waiting: the members still to update are busy or unavailable");
        } else {
            stg_deny_t why = stg__voter_check(c, el[0], 0, c->R->release_id);
            if (why == STG_DENY_PROOF) {
                proof_t pf = stg__proof(c, c->now);
                if (pf.blocker >= 0)
                    snprintf(w, cap, "proof: waiting for %s", stg__mname(c, pf.blocker));
                else if (pf.epochs_left > 0) /* when: proof.next_boundary_ms */
                    snprintf(w, cap, "proof: %lld epoch boundar%s left",
                             (long long)pf.epochs_left, pf.epochs_left == 1 ? "y" : "ies");
                else
                    snprintf(w, cap, "proof: soaking, %lld s left",
                             (long long)(pf.soak_left_ms + 999) / 1000);
            } else if (why == STG_DENY_NONE || why == STG_DENY_SLOT_TAKEN) {
                snprintf(w, cap, "next: %s", stg__mname(c, el[0]));
            } else {
                snprintf(w, cap, "next %s waits: %s", stg__mname(c, el[0]), stg_deny_text(why));
            }
        }
    }
}

/* A component beyond the primary rolls out only once every member's
 * staggerd knows components (§11): an older voter would not hold its
 * release, and could never grant it. */
static bool comps_capable(const stg_core_t *c) {
    return c->R == &c->comps[0] || (stg__fleet_caps(c) & STG_CAPS_OF(STG_CAP_COMPONENTS));
}

void stg__rollout_tick(stg_core_t *c) {
    if (c->self < 0) return;
    stg__exec_tick(c);
    stg__judge(c, NULL);
    stg__release_tick(c);
    for (unsigned k = 0; k < c->nknown; k++) {
        stg__judge(c, &c->comps[k]);
        observe_proof(c);
    }
    stg__judge(c, NULL);
    stg__expire_grants(c);
    watch_forgers(c);
    stg__fork_watch(c);
    if (c->att.active && c->now - c->att.began_ms > c->t.start_bound_ms / 2)
        stg__attempt_end(c, false, "no majority in time");
    /* One executor, one slot: the components take turns, the primary
     * first; the first that campaigns (or runs its gate) ends the round. */
    for (unsigned k = 0; k < c->ncomps && !c->att.active && !c->gate_running; k++) {
        stg__judge(c, &c->comps[k]);
        if (!comps_capable(c)) continue;
        elect_t e = stg__campaign(c);
        if (e == ELECT_RUN_GATE) stg__run_hook(c, STG_HOOK_GATE, &c->R->release);
        else if (e == ELECT_WON) stg__start_update(c);
        if (e != ELECT_NONE) break;
    }
    for (unsigned k = 0; k < c->ncomps; k++) {
        stg__judge(c, &c->comps[k]);
        explain(c);
        if (!comps_capable(c) && c->R->have_release && strncmp(c->R->waiting, "done", 4) != 0)
            snprintf(c->R->waiting, sizeof c->R->waiting,
                     "waiting: every member's staggerd must know components (capability "
                     "\"components\") before %s rolls out", c->R->name);
    }
    stg__judge(c, NULL);
}

int64_t stg__rollout_wakeup(const stg_core_t *c) {
    int64_t w = INT64_MAX;
    if (c->phase == STG_PHASE_SOAKING)
        w = c->phase_since_ms + stg__soak_s(c, c->exec_rel.component) * 1000;
    if (c->phase == STG_PHASE_VERIFYING && c->deadline_ms + 1 < w) w = c->deadline_ms + 1;
    if (c->att.active && c->att.began_ms + c->t.start_bound_ms / 2 + 1 < w)
        w = c->att.began_ms + c->t.start_bound_ms / 2 + 1;
    for (unsigned s = 0; s < STG_BATCH_MAX; s++)
        if (c->grants[s].holder >= 0 && !c->grants[s].started &&
            c->grants[s].at_ms + c->t.start_bound_ms + 1 < w)
            w = c->grants[s].at_ms + c->t.start_bound_ms + 1;
    bool any = false;
    for (unsigned k = 0; k < c->ncomps; k++) any |= c->comps[k].have_release;
    if (any && c->phase == STG_PHASE_IDLE && c->backoff_until_ms > c->now &&
        c->backoff_until_ms < w)
        w = c->backoff_until_ms;
    /* Waiting on time-based rules (soak, epochs, windows): look again each second. */
    if (any && c->now + 1000 < w) w = c->now + 1000;
    return w;
}

void stg__rollout_free(stg_core_t *c) {
    for (unsigned k = 0; k < c->nknown; k++) {
        free(c->comps[k].release_env);
        c->comps[k].release_env = NULL;
    }
    free(c->exec_env);
    free(c->pending_env);
    c->exec_env = c->pending_env = NULL;
}
