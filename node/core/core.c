/* core.c: the core's entry points: stg_core_step dispatches each event to
 * the module that owns it, runs the timers, and the lifecycle (new,
 * destroy, next wake-up). Pure, like every file of node/core (see core.h):
 * no clock, no randomness, no I/O; time comes with each event, randomness
 * from the seeded rng, and everything the node wants done leaves as an
 * action (emit.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"


/* A records message: gossip.c stores each record and says what it means
 * beyond gossip; each meaning goes to its owner here, record by record,
 * and what was new is relayed once at the end. */
static void on_records(stg_core_t *c, const stg_msg_t *m, int from) {
    stg_relay_t relay = {.n = 0};
#if STG_SELFTEST_NEXT
    int fresh[STG_RECORDS_MAX];
    unsigned nfresh = 0;
#endif
    for (unsigned i = 0; i < m->nrec; i++) {
        stg_record_news_t n;
        switch (stg__record_take(c, m, i, from, &relay, &n)) {
        case STG_NEWS_NONE: break;
        case STG_NEWS_REFUTE: stg__refute(c, n.inc); break;
        case STG_NEWS_RECORD:
#if STG_SELFTEST_NEXT
            fresh[nfresh++] = n.idx;
#endif
            if (n.alive) stg__set_live(c, n.idx, STG_LIVE_ALIVE, n.inc);
            stg__away_note(c, n.idx);
            stg__rollout_record(c, n.idx);
            stg__command_catch_up(c, n.idx, n.cmd_seq);
            break;
        }
    }
#if STG_SELFTEST_NEXT
    stg__selftest_relayed(c, from, fresh, nfresh);
#endif
    stg__records_relay(c, &relay, from);
}

static void on_message(stg_core_t *c, const stg_event_t *ev) {
    stg_msg_t *m = malloc(sizeof *m);
    if (!m) return;
    stg_diag_t d = {0};
    int from = ev->from;
    c->stats.msgs_in++;
    if (stg_msg_decode(ev->data, ev->len, m, &d) != 0) {
        stg__reject(c, &d, from);
        goto out;
    }
    if (from < 0 || (unsigned)from >= c->roster->nmembers) {
        /* A client (operator) may hand us a roster or a release; nothing else. */
        if (m->type == STG_MSG_ROSTER) stg__on_roster(c, m->blob, m->blob_len, -1);
        else if (m->type == STG_MSG_RELEASE) stg__rollout_release(c, m->blob, m->blob_len, -1);
        else if (m->type == STG_MSG_COMMAND) stg__command_msg(c, m->blob, m->blob_len, -1);
        else {
            stg_diag_set(&d, STG_REJECT_NOT_ALLOWED, "message", "%s from a non-member",
                         stg_msg_name(m->type));
            stg__reject(c, &d, from);
        }
        goto out;
    }
    if (from == c->self) goto out;
    if (m->type == STG_MSG_ROSTER) {
        stg__on_roster(c, m->blob, m->blob_len, from);
        goto out;
    }
    if (m->serial != (uint64_t)c->roster->serial) {
        /* Rosters differ: whoever is behind catches up first. */
        if (m->serial < (uint64_t)c->roster->serial) stg__send_roster(c, from);
        else if (m->type != STG_MSG_ROSTER_WANT) {
            stg_msg_t w;
            memset(&w, 0, sizeof w);
            w.type = STG_MSG_ROSTER_WANT;
            if (!c->peers[from].roster_sent_ms || c->now - c->peers[from].roster_sent_ms >= 1000) {
                c->peers[from].roster_sent_ms = c->now;
                stg__send(c, from, &w);
            }
        }
        goto out;
    }
    c->peers[from].last_heard_ms = c->now;
    for (unsigned i = 0; i < m->npiggy; i++) stg__on_claim(c, &m->piggy[i], from);
    switch (m->type) {
    case STG_MSG_PING:
        stg__send_probe_msg(c, from, STG_MSG_ACK, m->seq, -1);
        stg__on_summary(c, m, from);
        break;
    case STG_MSG_ACK: stg__on_ack(c, m->seq, from); break;
    case STG_MSG_NACK: stg__on_nack(c, m->seq, from); break;
    case STG_MSG_SUSPECT: stg__on_suspect(c, m, from); break;
    case STG_MSG_PING_REQ: stg__on_ping_req(c, m, from); break;
    case STG_MSG_SYNC: stg__on_summary(c, m, from); break;
    case STG_MSG_DIGEST: stg__on_digest(c, m, from); break;
    case STG_MSG_RECORDS: on_records(c, m, from); break;
    case STG_MSG_ROSTER_WANT: stg__send_roster(c, from); break;
    case STG_MSG_RELEASE: stg__rollout_release(c, m->blob, m->blob_len, from); break;
    case STG_MSG_COMMAND: stg__command_msg(c, m->blob, m->blob_len, from); break;
#if STG_SELFTEST_NEXT
    case STG_MSG_SELFTEST_HELLO: stg__selftest_hello(c, from); break;
#endif
    default: {
        elect_t e = stg__rollout_msg(c, m, from);
        if (e == ELECT_WON) stg__start_update(c);
        if (e != ELECT_NOT_MINE) break;
        stg_diag_set(&d, STG_REJECT_NOT_ALLOWED, "message", "%s between peers",
                     stg_msg_name(m->type));
        stg__reject(c, &d, from);
        break;
    }
    }
out:
    free(m);
}

/* The component whose health drives the executor: the one it updates,
 * else the primary. */
static comp_t *exec_comp(const stg_core_t *c) {
    comp_t *k = c->exec_have ? stg__comp_named(c, c->exec_rel.component) : NULL;
    return k ? k : (comp_t *)&c->comps[0];
}

static void on_health(stg_core_t *c, const stg_event_t *ev) {
    if (ev->component >= c->ncomps) {
        stg__log(c, STG_LOG_WARNING, "hook", "a health report for component %u, of %u: ignored",
                 ev->component, c->ncomps);
        return;
    }
    comp_t *k = &c->comps[ev->component];
    bool primary = ev->component == 0;
    stg__judge(c, k);
    c->R->health_heard = true;
    bool changed = ev->health != c->R->health;
    bool new_build = ev->build && strcmp(ev->build, c->R->build) != 0;
    if (new_build) snprintf(c->R->build, sizeof c->R->build, "%s", ev->build);
    if ((ev->version && strcmp(ev->version, c->R->version) != 0) || new_build) {
        if (ev->version) snprintf(c->R->version, sizeof c->R->version, "%s", ev->version);
        changed = true;
        /* Healthy on a new version is a new health: the proof measures from
         * it (a node that stays healthy through its update must not carry
         * the old version's time into the holdback pair's epoch wait). */
        if (ev->health == c->R->health) c->R->health_since_ms = ev->now_ms;
    }
    if (primary && ev->forging != c->forging) {
        c->forging = ev->forging;
        changed = true;
    }
    /* The chain tip moves every block (~20 s): like a healthy node's
     * detail, at most once a minute while healthy (fork.c samples it). */
    stg_tip_t tip = {0};
    if (ev->tip) tip = *ev->tip;
    if (primary && (tip.have != c->tip.have || tip.block != c->tip.block || strcmp(tip.hash, c->tip.hash))) {
        bool gone = !tip.have;
        if (tip.have) stg__tip_follow(&tip, &c->tip);
        c->tip = tip;
        if (gone || ev->health != STG_HEALTH_HEALTHY ||
            c->now - c->detail_signed_ms >= c->t.refresh_ms)
            changed = true;
    }
    if (ev->health != c->R->health) {
        stg__log(c, ev->health == STG_HEALTH_HEALTHY ? STG_LOG_INFO : STG_LOG_WARNING, "hook",
              "health%s%s: %s -> %s%s%s", primary ? "" : " of ", primary ? "" : k->name,
              stg_health_name(c->R->health), stg_health_name(ev->health),
              ev->detail && *ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        c->R->health = ev->health;
        c->R->health_since_ms = ev->now_ms;
    }
    /* A new reason for the same state (a hook that now times out instead of
     * failing) is news too: the record is what status shows fleet-wide. A
     * healthy node's detail changes at every run ("tip age 12s"), so while
     * healthy it is refreshed at most once a minute: otherwise every node
     * would push to every peer every health interval. */
    if (ev->detail && strcmp(ev->detail, c->R->detail) != 0) {
        snprintf(c->R->detail, sizeof c->R->detail, "%s", ev->detail);
        /* Another component's detail is not in our record: status only. */
        if (primary &&
            (ev->health != STG_HEALTH_HEALTHY || c->now - c->detail_signed_ms >= c->t.refresh_ms))
            changed = true;
    }
    if (changed && c->self >= 0) {
        c->detail_signed_ms = c->now;
        stg__own_changed(c);
    }
    if (k == exec_comp(c)) stg__rollout_health(c, ev);
    stg__judge(c, NULL);
}

static void on_tick(stg_core_t *c) {
    if (c->self < 0) return;
    if (!c->started) {
        c->started = true;
        stg__push_own(c);
        stg__send_sync(c);
    }
    if (c->now >= c->next_health_ms) {
        for (unsigned k = 0; k < c->ncomps; k++) {
            stg_action_t *a = stg__act(c, STG_ACT_RUN_HEALTH);
            if (a) a->component = k;
        }
        c->next_health_ms = c->now + c->t.health_interval_ms;
    }
    stg__swim_tick(c);
    if (c->away_until_ms && c->now >= c->away_until_ms) {
        /* Still here when our announced absence ended: the reboot did not
         * happen (or not yet). The record says so; peers judge us as ever. */
        c->away_until_ms = 0;
        stg__log(c, STG_LOG_WARNING, "exec",
                 "our announced absence ended and we are still up: the record no longer "
                 "announces it");
        stg__own_changed(c);
    }
    stg__own_push_tick(c);
    stg__command_tick(c);
    /* A journal write that failed, or that the shell never reported, is
     * made again: what waits on it leaves once one succeeds. */
    if ((c->write_failed && c->now >= c->write_retry_ms) ||
        (c->jgen_done < c->jgen && c->now - c->jgen_sent_ms >= WRITE_ANSWER_MS)) {
        c->write_retry_ms = c->now + WRITE_RETRY_MS;
        c->jgen_sent_ms = c->now;
        stg__journal_save(c);
    }
    stg__rollout_tick(c);
    if (c->now >= c->next_sync_ms) {
        c->next_sync_ms = c->now + c->t.sync_interval_ms;
        stg__send_sync(c);
    }
}

/* The journal at start, each part to its owner (stg_journal_t). */
static void load_journal(stg_core_t *c, const uint8_t *journal, size_t len) {
    stg__journal_reset(c);
    int holders[STG_BATCH_MAX];
    for (unsigned s = 0; s < STG_BATCH_MAX; s++) {
        holders[s] = -1;
        stg__grant_set(c, s, -1, c->roster->nmembers);
    }
    stg_journal_t jr;
    if (stg__journal_open(c, journal, len, &jr) == 0) {
        if (jr.have_rel) stg__adopt(c, jr.rel_env, jr.rel_len, &jr.rel, jr.rel_id);
        for (unsigned k = 0; k < jr.nmore; k++) {
            /* One no longer configured is held, to vote on (§9.8). */
            comp_t *x = stg__comp_hold(c, jr.more_rel[k].component);
            if (!x || x == &c->comps[0]) continue;
            comp_t *was = stg__judge(c, x);
            stg__adopt(c, jr.more_env[k], jr.more_len[k], &jr.more_rel[k], jr.more_id[k]);
            x->abandoned = jr.more_abandoned[k];
            memcpy(x->abandoned_id, jr.more_ab_id[k], 8);
            c->R = was;
        }
        if (jr.have_exec) {
            stg__set_exec_release(c, &jr.exec_rel, jr.exec_id, jr.exec_env, jr.exec_len);
            stg__exec_restart(c, stg__journal_exec(c, &jr));
        }
        stg__journal_rest(c, &jr, holders);
        stg__journal_close(&jr);
    }
    for (unsigned s = 0; s < STG_BATCH_MAX; s++)
        if (holders[s] >= 0) stg__grant_set(c, s, holders[s], c->roster->nmembers);
}

/* The end of a step: our record and the journal, each written once if they
 * changed, and the step's messages and hook runs held behind the write
 * (docs/architecture.md, "Writes are barriers"). */
static void flush(stg_core_t *c) {
    if (c->own_dirty) {
        c->own_dirty = false;
        stg__flush_own(c);
    }
    bool write = c->journal_dirty;
    c->journal_dirty = false;
    if (!c->acts) return;
    stg__hold_behind_write(c, write);
    if (write) stg__journal_write(c, stg__command_state(c));
}

void stg_core_step(stg_core_t *c, const stg_event_t *ev, stg_actions_t *acts) {
    acts->n = 0;
    acts->used = 0;
    acts->dropped = 0;
    c->acts = acts;
    c->acts_exempt = 0;
    c->now = ev->now_ms;
    stg__judge(c, NULL);
    switch (ev->type) {
    case STG_EV_TICK: break;
    case STG_EV_MESSAGE: on_message(c, ev); break;
    case STG_EV_HEALTH: on_health(c, ev); break;
    case STG_EV_ROSTER: stg__on_roster(c, ev->data, ev->len, -1); break;
    case STG_EV_HOOK_DONE: stg__rollout_hook_done(c, ev); break;
    case STG_EV_RELEASE: stg__rollout_release(c, ev->data, ev->len, -1); break;
    case STG_EV_LINK_LOST: stg__on_link_lost(c, ev->from); break;
    case STG_EV_PERSISTED: stg__on_persisted(c, ev); break;
    case STG_EV_LOOP_LATE: stg__on_loop_late(c, ev->late_ms); break;
    case STG_EV_AWAY: stg__exec_away(c, ev); break;
    }
    /* Timers are checked on every event, so a busy node never starves them. */
    on_tick(c);
    stg__spread_news(c);
    flush(c);
    c->acts = NULL;
    assert(c->R == &c->comps[0]); /* what the public readers (status.c) judge */
}

void stg_core_tuning_default(stg_core_tuning_t *t) {
    t->probe_interval_ms = 1200;
    t->probe_timeout_ms = 400;
    t->indirect_checks = 3;
    t->suspicion_ms = 3000;
    t->sync_interval_ms = 30000; /* a safety net: every ping carries the summary */
    t->fanout = 2;
    t->health_interval_ms = 10000;
    t->retransmit = 3;
    t->partners = 10;
    t->start_bound_ms = 10000;
    t->backoff_ms = 1000;
    t->local_health_max = 8;
    t->crash_restarts = 3;
    t->crash_window_ms = 600000;
    t->refresh_ms = 60000;
}

stg_core_t *stg_core_new(const stg_core_config_t *cfg, int64_t now_ms, stg_diag_t *err) {
    stg_core_t *c = calloc(1, sizeof *c);
    stg_roster_t *r = malloc(sizeof *r);
    if (!c || !r) {
        free(c);
        free(r);
        stg_diag_set(err, STG_REJECT_TOO_LONG, "", "out of memory");
        return NULL;
    }
    if (stg_roster_open(cfg->roster_env, cfg->roster_len, NULL, r, err) != 0) {
        free(c);
        free(r);
        return NULL;
    }
    c->t = cfg->tuning;
    c->key = cfg->key;
    c->ncomps = 1 + (cfg->nextra < STG_COMPONENTS_MAX ? cfg->nextra : STG_COMPONENTS_MAX - 1);
    c->R = &c->comps[0];
    for (unsigned k = 1; k < c->ncomps; k++)
        snprintf(c->comps[k].name, sizeof c->comps[k].name, "%s", cfg->extra_components[k - 1]);
    snprintf(c->comps[0].name, sizeof c->comps[0].name, "%s", cfg->component);
    c->nknown = c->ncomps;
    snprintf(c->stagger, sizeof c->stagger, "%s", cfg->stagger);
    c->caps = STG_CAPS_OWN & ~cfg->caps_without;
    c->inc = cfg->incarnation > 0 ? cfg->incarnation : 1;
    c->now = now_ms;
    stg__rng_seed(&c->rng, cfg->seed);
    if (stg__install_roster(c, r, cfg->roster_env, cfg->roster_len) != 0) {
        free(r);
        free(c);
        stg_diag_set(err, STG_REJECT_TOO_LONG, "", "out of memory");
        return NULL;
    }
    if (c->self < 0) {
        stg_diag_set(err, STG_REJECT_UNKNOWN_MEMBER, "roster",
                     "this node's public key is not a member of fleet %s; add it to "
                     "\"members\" or use the right key file",
                     r->fleet);
        stg_core_destroy(&c);
        return NULL;
    }
    for (unsigned k = 0; k < c->ncomps; k++) {
        c->comps[k].health = STG_HEALTH_UNKNOWN;
        c->comps[k].health_since_ms = now_ms;
    }
    /* Spread the first probes of a fleet started together over a period. */
    c->next_probe_ms = now_ms + (int64_t)stg__rng_below(&c->rng, (uint32_t)c->t.probe_interval_ms);
    c->next_sync_ms = now_ms + (int64_t)stg__rng_below(&c->rng, (uint32_t)c->t.sync_interval_ms);
    c->next_health_ms = now_ms;
    load_journal(c, cfg->journal, cfg->journal_len);
    stg__command_load(c, cfg->journal, cfg->journal_len, "commands");
    if (c->cmd_seq == 0) /* a state directory from before the journal held them */
        stg__command_load(c, cfg->commands, cfg->commands_len, NULL);
    stg__sign_own(c);
    return c;
}

void stg_core_destroy(stg_core_t **cp) {
    if (!cp || !*cp) return;
    stg_core_t *c = *cp;
    stg__rollout_free(c);
    stg__command_free(c);
    stg__held_free(c);
    stg__peers_free(c);
    free(c->roster_env);
    free(c->roster);
    free(c);
    *cp = NULL;
}

int64_t stg_core_next_wakeup(const stg_core_t *c) {
    int64_t w = stg__swim_wakeup(c);
    if (c->next_sync_ms < w) w = c->next_sync_ms;
    if (c->next_health_ms < w) w = c->next_health_ms;
    if (c->write_failed && c->write_retry_ms < w) w = c->write_retry_ms;
    if (c->own_push_at_ms && c->own_push_at_ms < w) w = c->own_push_at_ms;
    if (c->away_until_ms && c->away_until_ms < w) w = c->away_until_ms;
    if (c->jgen_done < c->jgen && c->jgen_sent_ms + WRITE_ANSWER_MS < w)
        w = c->jgen_sent_ms + WRITE_ANSWER_MS;
    int64_t r = stg__rollout_wakeup(c);
    return r < w ? r : w;
}
