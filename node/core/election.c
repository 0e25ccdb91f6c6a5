/* election.c: the slot election (docs/protocol.md §9). Safety rests on
 * three rules. A slot is granted by a strict majority of the roster, and each
 * voter grants a slot to one holder at a time, with the grant on disk
 * (journal) before the answer leaves. A grant that is not confirmed by the
 * holder's START within start_bound expires; a START that comes later is
 * refused; the holder begins only with a majority of START
 * acknowledgements, so two holders of one slot would need two majorities.
 * A started grant is released only by the holder (slot-free) or by its
 * record showing it finished. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static bool bit(const uint8_t *b, int i) { return b[i / 8] >> (i % 8) & 1; }

static void setbit(uint8_t *b, int i) { b[i / 8] |= (uint8_t)(1u << (i % 8)); }

/* slot-free for (slot, release, attempt) to one member, or to every
 * member with to < 0. */
static void send_slot_free_to(stg_core_t *c, int to, int slot, const uint8_t id[8],
                              uint64_t attempt) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SLOT_FREE;
    m.attempt = attempt;
    m.slot = (uint8_t)slot;
    memcpy(m.release, id, 8);
    if (to >= 0) stg__send(c, to, &m);
    else
        for (unsigned i = 0; i < c->roster->nmembers; i++) stg__send(c, (int)i, &m);
}

static void send_slot_free(stg_core_t *c, int slot, const uint8_t id[8], uint64_t attempt) {
    send_slot_free_to(c, -1, slot, id, attempt);
}

void stg__grant_set(stg_core_t *c, unsigned s, int holder, unsigned nmembers) {
    assert(s < STG_BATCH_MAX);
    assert(holder >= -1 && holder < (int)nmembers && nmembers <= STG_MEMBERS_MAX);
    c->grants[s].holder = holder;
}

static void free_grant(stg_core_t *c, unsigned s, const char *why) {
    grant_t *g = &c->grants[s];
    if (g->holder < 0) return;
    stg__log(c, STG_LOG_INFO, "elect", "slot %u: released grant to %s (%s)", s,
             stg__mname(c, g->holder), why);
    stg__grant_set(c, s, -1, c->roster->nmembers);
    g->started = false;
    stg__journal_save(c);
}

void stg__release_slot(stg_core_t *c) {
    if (c->slot < 0) return;
    send_slot_free(c, c->slot, c->exec_id, c->slot_attempt);
    /* Our own grant (we are a voter too) goes with it. */
    if (c->grants[c->slot].holder == c->self) free_grant(c, (unsigned)c->slot, "we finished");
    c->slot = -1;
}

void stg__attempt_end(stg_core_t *c, bool won, const char *why) {
    if (!c->att.active) return;
    c->att.active = false;
    if (won) return;
    c->stats.elections_lost++;
    c->avoid_slot = c->att.last_deny == STG_DENY_SLOT_TAKEN ? c->att.slot : -1;
    /* Anyone who granted us may forget it now. */
    send_slot_free(c, c->att.slot, c->att.release, c->att.id);
    if (c->grants[c->att.slot].holder == c->self) free_grant(c, (unsigned)c->att.slot, "we gave up");
    int64_t b = c->t.backoff_ms;
    c->backoff_until_ms = c->now + b / 2 + (int64_t)stg__rng_below(&c->rng, (uint32_t)(b + 1));
    stg__log(c, STG_LOG_INFO, "elect", "slot %d: gave up (%s); retrying after a backoff",
             c->att.slot, why);
}

void stg__clear_grants(stg_core_t *c, const stg_command_t *cmd) {
    char why[64];
    snprintf(why, sizeof why, "cleared by operator command #%lld", (long long)cmd->seq);
    for (unsigned s = 0; s < c->roster->policy.batch; s++) {
        int h = c->grants[s].holder;
        if (h >= 0 && stg_command_targets(cmd, c->roster->members[h].name)) free_grant(c, s, why);
    }
    /* A target whose last record shows it updating (it died mid-install)
     * holds a slot in every view: that record no longer does. */
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *p = &c->peers[i];
        if ((int)i == c->self || !p->have || !stg_command_targets(cmd, c->roster->members[i].name))
            continue;
        p->cleared = true;
        p->cleared_inc = p->rec.inc;
        p->cleared_seq = p->rec.seq;
        stg__journal_save(c);
    }
    if (stg_command_targets(cmd, c->roster->members[c->self].name)) {
        stg__attempt_end(c, false, why);
        if (stg_phase_updating(c->phase))
            stg__log(c, STG_LOG_WARNING, "elect",
                     "%s clears our grants, but our update runs on (%s): halt first to stop it",
                     why, stg_phase_name(c->phase));
    }
}

static void send_vote(stg_core_t *c, int to, const stg_msg_t *req, stg_deny_t why) {
    stg_msg_t v;
    memset(&v, 0, sizeof v);
    v.type = STG_MSG_VOTE;
    v.slot = req->slot;
    memcpy(v.release, req->release, 8);
    v.attempt = req->attempt;
    v.ok = why == STG_DENY_NONE;
    v.reason = (uint8_t)why;
    stg__send(c, to, &v);
}

/* Voter: a candidate asks for a slot. Returns the decision (for self-votes). */
static stg_deny_t on_vote_req(stg_core_t *c, const stg_msg_t *m, int from) {
    if (m->slot >= c->roster->policy.batch) return STG_DENY_SLOT_TAKEN;
    /* A later attempt proves the candidate's earlier ones are over (it asks
     * only while not updating): a grant we still hold for one, on another
     * slot, whose slot-free was lost, goes. */
    for (unsigned s = 0; s < c->roster->policy.batch; s++)
        if (s != m->slot && c->grants[s].holder == from && c->grants[s].attempt < m->attempt)
            free_grant(c, s, "its holder has moved on to a later attempt");
    stg_deny_t why = stg__voter_check(c, from, m->slot, m->release);
    grant_t *g = &c->grants[m->slot];
    /* The holder asking again: a later attempt means the earlier one is over
     * (a candidate asks only while it is not updating), so it replaces the
     * grant, started or not; an earlier attempt is a stale message. */
    if (why == STG_DENY_NONE && g->holder == from && m->attempt < g->attempt)
        why = STG_DENY_SLOT_TAKEN;
    c->stats.denials[why]++;
    if (why == STG_DENY_NONE) {
        if (g->holder == from && g->attempt != m->attempt) {
            g->attempt = m->attempt;
            g->started = false;
            g->at_ms = c->now;
            stg__journal_save(c);
        } else if (g->holder != from) {
            g->attempt = m->attempt;
            g->started = false;
            g->at_ms = c->now;
            g->queried_ms = 0;
            memcpy(g->release, m->release, 8);
            stg__grant_set(c, m->slot, from, c->roster->nmembers);
            c->stats.grants++;
            stg__log(c, STG_LOG_INFO, "elect", "slot %u: granted to %s", m->slot,
                     stg__mname(c, from));
            /* On disk before the answer: the step's flush holds our vote
             * until the shell reports the write (STG_EV_PERSISTED). */
            stg__journal_save(c);
        }
    }
    if (from != c->self) send_vote(c, from, m, why);
    return why;
}

static bool on_start(stg_core_t *c, const stg_msg_t *m, int from) {
    grant_t *g = m->slot < STG_BATCH_MAX ? &c->grants[m->slot] : NULL;
    /* Only the attempt the grant was given to may start it: a START from an
     * attempt the candidate abandoned must not claim a grant renewed since. */
    bool ok = g && g->holder == from && g->attempt == m->attempt &&
              memcmp(g->release, m->release, 8) == 0;
    /* What the voter has learnt since granting counts: no help starting a
     * release it now knows failed, or in a fleet the operator halted. */
    if (ok && !g->started &&
        (c->halted || stg__abandoned(c, m->release) ||
         (c->R->have_release && memcmp(m->release, c->R->release_id, 8) == 0 && stg__failed_member(c) >= 0))) {
        ok = false;
        free_grant(c, m->slot, "the fleet halted or the release failed before it started");
    }
    if (ok && !g->started) {
        g->started = true;
        stg__journal_save(c);
    }
    if (from != c->self) {
        stg_msg_t a;
        memset(&a, 0, sizeof a);
        a.type = STG_MSG_START_ACK;
        a.slot = m->slot;
        a.attempt = m->attempt;
        memcpy(a.release, m->release, 8);
        a.ok = ok;
        stg__send(c, from, &a);
    }
    return ok;
}

/* True when this ack makes a majority: the attempt is won, and the caller
 * hands it to the executor at once (core.c, rollout.c). */
static bool count_ack(stg_core_t *c, int from, bool ok) {
    attempt_t *a = &c->att;
    if (!ok || bit(a->acked, from)) return false;
    setbit(a->acked, from);
    a->nacked++;
    return (int)a->nacked >= stg__majority(c);
}

static bool send_starts(stg_core_t *c) {
    attempt_t *a = &c->att;
    a->start_sent = true;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_START;
    m.slot = (uint8_t)a->slot;
    m.attempt = a->id;
    memcpy(m.release, a->release, 8);
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if (!bit(a->granted, (int)i)) continue;
        if ((int)i == c->self) {
            /* Won already: a one-member majority. */
            if (on_start(c, &m, c->self) && count_ack(c, c->self, true)) return true;
        } else {
            stg__send(c, (int)i, &m);
        }
    }
    return false;
}

/* True when the vote completes a won attempt (see count_ack). */
static bool count_vote(stg_core_t *c, int from, bool ok, stg_deny_t why) {
    attempt_t *a = &c->att;
    /* A duplicated answer (the network repeats) counts once. */
    if (bit(a->granted, from) || bit(a->denied, from)) return false;
    if (ok) {
        setbit(a->granted, from);
        a->ngranted++;
        if (!a->start_sent && (int)a->ngranted >= stg__majority(c)) return send_starts(c);
    } else {
        setbit(a->denied, from);
        a->ndenied++;
        a->last_deny = why;
        if ((int)(c->roster->nmembers - a->ndenied) < stg__majority(c)) {
            char w[96];
            snprintf(w, sizeof w, "refused by a majority: %s", stg_deny_text(why));
            stg__attempt_end(c, false, w);
        }
    }
    return false;
}

static elect_t rollout_msg(stg_core_t *c, const stg_msg_t *m, int from) {
    attempt_t *a = &c->att;
    /* Answers count only for the attempt they answer: a late vote or ack from
     * an attempt given up on may come from a voter that has since granted
     * the slot to someone else. */
    bool mine = a->active && m->attempt == a->id && m->slot == a->slot &&
                memcmp(m->release, a->release, 8) == 0;
    switch (m->type) {
    case STG_MSG_VOTE_REQ: on_vote_req(c, m, from); return ELECT_NONE;
    case STG_MSG_VOTE:
        if (mine && count_vote(c, from, m->ok,
                               m->reason < STG_DENY__COUNT ? (stg_deny_t)m->reason : STG_DENY_NONE))
            return ELECT_WON;
        return ELECT_NONE;
    case STG_MSG_START: on_start(c, m, from); return ELECT_NONE;
    case STG_MSG_START_ACK:
        return mine && a->start_sent && count_ack(c, from, m->ok) ? ELECT_WON : ELECT_NONE;
    case STG_MSG_SLOT_FREE:
        /* That attempt, or a later one of the same holder, is over. */
        if (m->slot < STG_BATCH_MAX && c->grants[m->slot].holder == from &&
            c->grants[m->slot].attempt <= m->attempt &&
            memcmp(c->grants[m->slot].release, m->release, 8) == 0)
            free_grant(c, m->slot, "its holder says it is done or gave up");
        return ELECT_NONE;
    case STG_MSG_SLOT_QUERY: {
        /* A voter asks whether we still use its grant: only the attempt we
         * are running, or the one we hold a slot under, is in use. */
        bool in_use = (a->active && a->id == m->attempt) ||
                      (c->slot == (int)m->slot && c->slot_attempt == m->attempt &&
                       stg_phase_updating(c->phase));
        if (!in_use) send_slot_free_to(c, from, m->slot, m->release, m->attempt);
        return ELECT_NONE;
    }
    case STG_MSG_RELEASE_WANT:
        if (c->R->have_release && memcmp(m->release, c->R->release_id, 8) == 0) {
            stg_msg_t r;
            memset(&r, 0, sizeof r);
            r.type = STG_MSG_RELEASE;
            r.blob = c->R->release_env;
            r.blob_len = c->R->release_len;
            stg__send(c, from, &r);
        }
        return ELECT_NONE;
    default: return ELECT_NOT_MINE;
    }
}

/* Every rollout message names a release: it is judged for the component
 * whose release that is (the primary's rules when none of ours is). */
elect_t stg__rollout_msg(stg_core_t *c, const stg_msg_t *m, int from) {
    comp_t *was = stg__judge(c, stg__comp_by_id(c, m->release));
    elect_t e = rollout_msg(c, m, from);
    c->R = was;
    return e;
}

void stg__expire_grants(stg_core_t *c) {
    for (unsigned s = 0; s < c->roster->policy.batch; s++) {
        grant_t *g = &c->grants[s];
        if (g->holder < 0) continue;
        if ((unsigned)g->holder >= c->roster->nmembers) {
            free_grant(c, s, "holder left the roster");
            continue;
        }
        if (!g->started && c->now - g->at_ms > c->t.start_bound_ms) {
            free_grant(c, s, "never started");
            continue;
        }
        if (g->holder == c->self && !c->att.active && !stg_phase_updating(c->phase)) {
            /* Our own attempt did not survive a restart (it is not in the
             * journal), so nobody updates under this grant; a started one
             * would otherwise be held for ever, here and by whoever
             * acknowledged our start. */
            send_slot_free(c, (int)s, g->release, g->attempt);
            free_grant(c, s, "our attempt ended with a restart");
            continue;
        }
        if (g->holder == c->self) continue;
        /* The holder's own record says the update under this attempt (or a
         * later one) ended: no clock is compared, only its attempt number. */
        const stg_record_t *hr = &c->peers[g->holder].rec;
        bool about = stg__rec_about(c, g->holder, g->release);
        stg_phase_t ph = stg__rec_phase(c, g->holder);
        if (about && (uint64_t)hr->attempt >= g->attempt &&
            (ph == STG_PHASE_DONE || ph == STG_PHASE_ROLLED_BACK)) {
            free_grant(c, s, ph == STG_PHASE_DONE ? "holder finished" : "holder rolled back");
            continue;
        }
        /* Otherwise, while its record does not show it updating under this
         * grant (it gave up and its slot-free was lost, or it restarted),
         * ask the holder itself: it answers slot-free when the attempt is
         * over (docs/protocol.md §9.4). */
        bool using = about && (uint64_t)hr->attempt == g->attempt && stg_phase_updating(ph);
        if (g->started && !using && c->now - g->queried_ms >= QUERY_EVERY_MS) {
            g->queried_ms = c->now;
            stg_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = STG_MSG_SLOT_QUERY;
            m.attempt = g->attempt;
            m.slot = (uint8_t)s;
            memcpy(m.release, g->release, 8);
            stg__send(c, g->holder, &m);
        }
    }
}

elect_t stg__campaign(stg_core_t *c) {
    if (c->phase != STG_PHASE_IDLE && c->phase != STG_PHASE_DONE &&
        c->phase != STG_PHASE_ROLLED_BACK)
        return ELECT_NONE;
    if (!c->R->have_release || c->att.active || c->now < c->backoff_until_ms) return ELECT_NONE;
    if (stg__done_on(c, c->self) || stg__failed_on(c, c->self, c->R->release_id) ||
        stg__abandoned(c, c->R->release_id) || c->emergency_pending)
        return ELECT_NONE;
    /* Ask only when our own rule says we are next: voters apply the same. */
    /* The lowest slot free in our view, but not the one a majority just said
     * is taken: that one went to someone whose grant we did not see. */
    int slot = -1;
    for (unsigned s = 0; s < c->roster->policy.batch; s++)
        if ((c->grants[s].holder < 0 || c->grants[s].holder == c->self) &&
            (slot < 0 || slot == c->avoid_slot)) {
            slot = (int)s;
            if (slot != c->avoid_slot) break;
        }
    if (slot < 0) return ELECT_NONE;
    if (stg__voter_check(c, c->self, (unsigned)slot, c->R->release_id) != STG_DENY_NONE)
        return ELECT_NONE;
    if (c->now >= c->gate_ok_until_ms || memcmp(c->gate_for, c->R->release_id, 8) != 0) {
        if (c->gate_running) return ELECT_NONE;
        c->gate_running = true;
        c->gate_ok_until_ms = 0; /* a yes for another component's release is not this one's */
        memcpy(c->gate_for, c->R->release_id, 8);
        return ELECT_RUN_GATE;
    }
    attempt_t *a = &c->att;
    memset(a, 0, sizeof *a);
    a->active = true;
    a->id = ((uint64_t)c->inc << 24) + (++c->attempts & 0xffffff);
    a->slot = slot;
    memcpy(a->release, c->R->release_id, 8);
    a->began_ms = c->now;
    stg__log(c, STG_LOG_INFO, "elect", "slot %d: asking the fleet to update to %s", slot,
             c->R->release.version);
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_VOTE_REQ;
    m.slot = (uint8_t)slot;
    m.attempt = a->id;
    memcpy(m.release, c->R->release_id, 8);
    stg_deny_t self = on_vote_req(c, &m, c->self);
    if (count_vote(c, c->self, self == STG_DENY_NONE, self)) return ELECT_WON;
    if (!a->active) return ELECT_NONE;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if ((int)i != c->self) stg__send(c, (int)i, &m);
    return ELECT_NONE;
}
