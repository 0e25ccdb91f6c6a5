/* swim.c: liveness (SWIM with Lifeguard): probes, indirect probes and their
 * nacks, suspicion and death claims piggybacked on probes, refutation by a
 * higher incarnation, and Lifeguard's buddy system (docs/protocol.md §7.5);
 * Lifeguard's timing rules (local health, suspicions shortened by
 * confirmations) are lifeguard.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static int64_t news_due(const stg_core_t *c);

static unsigned retransmits(const stg_core_t *c) {
    unsigned n = c->roster->nmembers + 1, lg = 0;
    while ((1u << lg) < n) lg++;
    return c->t.retransmit * (lg ? lg : 1);
}

static void claim(stg_core_t *c, int member, stg_live_t state, uint64_t inc) {
    for (unsigned i = 0; i < c->nclaims; i++)
        if (c->claims[i].member == member) {
            c->claims[i].state = (uint8_t)state;
            c->claims[i].inc = inc;
            c->claims[i].left = retransmits(c);
            return;
        }
    if (c->nclaims == CLAIMS_MAX) {
        /* Drop the one nearest done: it has been told the most. */
        unsigned worst = 0;
        for (unsigned i = 1; i < c->nclaims; i++)
            if (c->claims[i].left < c->claims[worst].left) worst = i;
        c->claims[worst] = c->claims[--c->nclaims];
    }
    c->claims[c->nclaims++] = (claim_t){(uint16_t)member, (uint8_t)state, inc, retransmits(c)};
}

static void piggyback(stg_core_t *c, stg_msg_t *m, int to) {
    m->npiggy = 0;
    /* The buddy system: a member we hold suspect (or dead) reads it first
     * in whatever we send it, so it can refute at once. */
    bool told = to >= 0 && to != c->self && c->peers[to].live != STG_LIVE_ALIVE;
    if (told)
        m->piggy[m->npiggy++] =
            (stg_piggy_t){(uint16_t)to, (uint8_t)c->peers[to].live, c->peers[to].live_inc};
    for (unsigned i = 0; i < c->nclaims && m->npiggy < STG_PIGGY_MAX;) {
        claim_t *cl = &c->claims[i];
        if (told && cl->member == to) {
            i++;
            continue;
        }
        m->piggy[m->npiggy++] = (stg_piggy_t){cl->member, cl->state, cl->inc};
        if (--cl->left == 0) {
            c->claims[i] = c->claims[--c->nclaims];
            continue;
        }
        i++;
    }
}

/* `suspect`: our own probe of member i (at the incarnation we hold it
 * suspect at) failed. To the suspect's partners, the members that probe it
 * and so run the suspicions that matter (every other member in a full
 * mesh): each counts the accusations it hears, and a failure all of them
 * see is declared after suspicion_ms. Never relayed: over a partner overlay
 * a flood per accusation multiplied a busy start's suspicions into a storm
 * that kept itself going. */
static void send_suspect(stg_core_t *c, int i) {
    bool to[STG_MEMBERS_MAX];
    stg__partners_of(c, (unsigned)i, to);
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SUSPECT;
    m.target = (uint16_t)i;
    m.inc = c->peers[i].live_inc;
    m.accuser = (uint16_t)c->self;
    for (unsigned j = 0; j < c->roster->nmembers; j++)
        if (to[j] && stg__usable(c, (int)j)) stg__send(c, (int)j, &m);
}

void stg__set_live(stg_core_t *c, int i, stg_live_t s, uint64_t inc) {
    peer_t *p = &c->peers[i];
    /* SWIM's order, the one rule every caller keeps: a state about a newer
     * life wins; about the same life dead beats suspect beats alive (the
     * enum's order); about an older life nothing changes. Only a signed
     * record with a higher incarnation makes a member alive again. */
    assert(inc > p->live_inc || (inc == p->live_inc && s >= p->live));
    static const char *const names[] = {"alive", "suspect", "dead"};
    if (p->live != s)
        stg__log(c, s == STG_LIVE_ALIVE ? STG_LOG_INFO : STG_LOG_WARNING, "swim",
              "%s: %s -> %s (incarnation %llu)", stg__mname(c, i), names[p->live], names[s],
              (unsigned long long)inc);
    bool new_suspicion = s == STG_LIVE_SUSPECT && (p->live != s || p->live_inc != inc);
    p->live = s;
    p->live_inc = inc;
    if (new_suspicion) {
        p->suspect_since_ms = c->now;
        memset(p->accusers, 0, sizeof p->accusers);
        p->naccusers = 0;
        p->suspect_deadline_ms = c->now + stg__suspicion_timeout(c, p);
        c->stats.suspicions++;
    }
    if (s == STG_LIVE_DEAD) c->stats.deaths++;
}

void stg__refute(stg_core_t *c, uint64_t claimed_inc) {
    if ((uint64_t)c->inc <= claimed_inc) c->inc = (int64_t)claimed_inc;
    c->inc++;
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)c->inc);
    stg__persist(c, STG_STORE_INCARNATION, text, (size_t)n);
    c->stats.refutes++;
    stg__log(c, STG_LOG_WARNING, "swim", "refuting a suspicion about us: incarnation now %lld",
          (long long)c->inc);
    stg__own_changed(c);
    stg__local_health(c, 1, "refuted a suspicion about us");
}

void stg__on_claim(stg_core_t *c, const stg_piggy_t *pg, int from) {
    if (pg->member >= c->roster->nmembers) {
        stg_diag_t d = {0};
        stg_diag_set(&d, STG_REJECT_UNKNOWN_MEMBER, "message", "liveness claim about member %u",
                     pg->member);
        stg__reject(c, &d, from);
        return;
    }
    if (pg->state == STG_LIVE_ALIVE) return; /* aliveness travels as signed records */
    if (pg->member == c->self) {
        if (pg->inc >= (uint64_t)c->inc) stg__refute(c, pg->inc);
        /* A claim about an older life of ours: its sender missed our newer
         * record (it holds us dead since a partition, say). Send it. */
        else if (from >= 0 && from != c->self) stg__records_to(c, from, &c->self, 1);
        return;
    }
    peer_t *p = &c->peers[pg->member];
    uint64_t rec_inc = p->have ? (uint64_t)p->rec.inc : 0;
    if (pg->inc < rec_inc) return; /* about an older life: stale */
    /* Its announced absence (a planned reboot) is no death: a member that
     * did not hear of it (an older staggerd, a lost push) suspects it, and
     * we do not follow until the window ends on our clock. A claim about a
     * newer life is about its return, and counts. */
    if (pg->inc == rec_inc && stg__away(c, pg->member)) return;
    /* SWIM's order: a claim about a newer life wins; about the same life,
     * dead beats suspect beats alive; about an older life it is stale. A
     * dead claim about life 5 must not undo a suspicion of life 6, or two
     * members holding the two claims flip each other forever. */
    bool newer = pg->inc > p->live_inc, same = pg->inc == p->live_inc;
    if (pg->state == STG_LIVE_SUSPECT && (newer || (same && p->live == STG_LIVE_ALIVE))) {
        stg__set_live(c, pg->member, STG_LIVE_SUSPECT, pg->inc);
        claim(c, pg->member, STG_LIVE_SUSPECT, pg->inc);
        c->liveness_news = true;
    } else if (pg->state == STG_LIVE_DEAD && (newer || (same && p->live != STG_LIVE_DEAD))) {
        stg__set_live(c, pg->member, STG_LIVE_DEAD, pg->inc);
        claim(c, pg->member, STG_LIVE_DEAD, pg->inc);
        c->liveness_news = true;
    }
}

/* SWIM's probe order: every partner once per round, shuffled each round. */
void stg__reshuffle(stg_core_t *c) {
    c->order_n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (c->partner[i]) c->order[c->order_n++] = (int)i;
    for (unsigned i = c->order_n; i > 1; i--) {
        unsigned j = stg__rng_below(&c->rng, i);
        int tmp = c->order[i - 1];
        c->order[i - 1] = c->order[j];
        c->order[j] = tmp;
    }
    c->order_pos = 0;
}

static int next_probe_target(stg_core_t *c) {
    int u = c->urgent;
    c->urgent = -1;
    if (u >= 0 && (unsigned)u < c->roster->nmembers && stg__usable(c, u)) return u;
    for (unsigned tries = 0; tries < 2 * (c->order_n + 1); tries++) {
        if (c->order_pos >= c->order_n) stg__reshuffle(c);
        if (c->order_n == 0) break;
        int t = c->order[c->order_pos++];
        if (stg__usable(c, t)) return t;
    }
    return stg__random_peer(c, -1, -1); /* every partner is down: anyone usable */
}

void stg__send_probe_msg(stg_core_t *c, int peer, stg_msg_type_t type, uint32_t seq, int target) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.seq = seq;
    m.target = (uint16_t)(target < 0 ? 0 : target);
    /* Every ping carries the anti-entropy summary: the probes already
     * visit every member in turn, so repair needs no messages of its own. */
    if (type == STG_MSG_PING) stg__vv_summary(c, &m);
    piggyback(c, &m, peer);
    stg__send(c, peer, &m);
}

void stg__on_ack(stg_core_t *c, uint32_t seq, int from) {
    if (c->probe.active && c->probe.seq == seq) {
        c->probe.acked = true;
        return;
    }
    for (int i = 0; i < RELAYS_MAX; i++) {
        relay_t *r = &c->relays[i];
        if (r->used && r->my_seq == seq) {
            stg__send_probe_msg(c, r->origin, STG_MSG_ACK, r->origin_seq, -1);
            r->used = false;
            return;
        }
    }
    (void)from;
}

void stg__on_ping_req(stg_core_t *c, const stg_msg_t *m, int from) {
    if (m->target >= c->roster->nmembers || m->target == c->self) {
        stg_diag_t d = {0};
        stg_diag_set(&d, STG_REJECT_BAD_VALUE, "message", "ping-req for member %u", m->target);
        stg__reject(c, &d, from);
        return;
    }
    int slot = -1;
    for (int i = 0; i < RELAYS_MAX; i++)
        if (!c->relays[i].used || c->relays[i].expires_ms <= c->now) {
            slot = i;
            break;
        }
    if (slot < 0) return; /* busy helping: the asker has others */
    uint32_t seq = ++c->next_seq;
    /* Lifeguard's nack: no answer from the target within our probe
     * timeout, and we say so, so the asker can tell a dead target (its
     * helpers all nack) from its own trouble (it hears nothing at all). */
    c->relays[slot] = (relay_t){true, seq, from, m->seq, c->now + c->t.probe_interval_ms,
                                c->now + c->t.probe_timeout_ms, false};
    stg__send_probe_msg(c, m->target, STG_MSG_PING, seq, -1);
}

void stg__on_nack(stg_core_t *c, uint32_t seq, int from) {
    (void)from;
    c->stats.nacks++;
    probe_t *p = &c->probe;
    if (p->active && !p->acked && p->indirect_sent && p->seq == seq && p->nacks < p->nacks_expected)
        p->nacks++;
}

/* A `suspect` message: a liveness claim like a piggybacked one, that also
 * names the member whose own probe failed, so independent confirmations
 * can be told from copies of one rumour. */
void stg__on_suspect(stg_core_t *c, const stg_msg_t *m, int from) {
    unsigned n = c->roster->nmembers;
    if (m->target >= n || m->accuser >= n || m->accuser == m->target) {
        stg_diag_t d = {0};
        stg_diag_set(&d, m->accuser == m->target && m->target < n ? STG_REJECT_BAD_VALUE
                                                                   : STG_REJECT_UNKNOWN_MEMBER,
                     "message", "suspect: member %u accused by %u", m->target, m->accuser);
        stg__reject(c, &d, from);
        return;
    }
    stg_piggy_t pg = {m->target, STG_LIVE_SUSPECT, m->inc};
    stg__on_claim(c, &pg, from);
    int i = m->target;
    if (i == c->self || c->peers[i].live != STG_LIVE_SUSPECT || c->peers[i].live_inc != m->inc)
        return;
    stg__confirm(c, i, m->accuser);
}

/* A member we hold dead may be back behind a healed partition, holding us
 * dead too: neither would ever probe the other again, and it cannot refute
 * what it never hears. Now and then tell one of them directly. */
static void ping_the_dead(stg_core_t *c) {
    int dead[STG_MEMBERS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if ((int)i != c->self && c->peers[i].live == STG_LIVE_DEAD) dead[n++] = (int)i;
    if (n == 0 || stg__rng_below(&c->rng, DEAD_PING_EVERY) != 0) return;
    int t = dead[stg__rng_below(&c->rng, n)];
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_PING;
    m.seq = ++c->next_seq;
    m.npiggy = 1;
    m.piggy[0] = (stg_piggy_t){(uint16_t)t, STG_LIVE_DEAD, c->peers[t].live_inc};
    stg__send(c, t, &m);
}

/* Our own probe of member i went unanswered, helpers included. */
static void suspect_by_probe(stg_core_t *c, int i) {
    peer_t *t = &c->peers[i];
    if (stg__away(c, i)) {
        /* Gone as it said it would be: rebooting until its window ends. */
        if (!t->away_down && t->live == STG_LIVE_ALIVE)
            stg__log(c, STG_LOG_INFO, "swim",
                     "%s: alive -> rebooting (its announced absence, up to %llds more)",
                     stg__mname(c, i), (long long)((t->away_until_ms - c->now + 999) / 1000));
        t->away_down = true;
        return;
    }
    if (t->live == STG_LIVE_ALIVE) {
        stg__set_live(c, i, STG_LIVE_SUSPECT, (uint64_t)t->rec.inc);
        claim(c, i, STG_LIVE_SUSPECT, (uint64_t)t->rec.inc);
        c->liveness_news = true;
        /* The buddy system: tell the suspect directly, so it can refute at
         * once (the claim about it comes first, see piggyback). */
        stg__send_probe_msg(c, i, STG_MSG_PING, ++c->next_seq, -1);
    }
    /* Ours is an independent view: it counts towards the suspicion's
     * confirmations, and the members hear who found it. */
    if (t->live == STG_LIVE_SUSPECT && stg__confirm(c, i, c->self)) send_suspect(c, i);
}

/* Judge the current probe: answered, or its target suspect. */
static void end_probe(stg_core_t *c) {
    probe_t *p = &c->probe;
    if (p->active) {
        if (p->acked) {
            stg__local_health(c, -1, "a probe was answered");
            c->peers[p->target].away_down = false; /* not gone yet */
        } else if (p->away_inc && c->peers[p->target].rec.inc > (int64_t)p->away_inc) {
            /* Sent to the life that announced its reboot; the next one has
             * spoken since (its record): the silence was the reboot. */
        } else if (c->peers[p->target].have) {
            /* A member we hold no record of is shown unknown already, and
             * during a fleet's start most are not up yet: suspecting them
             * would only flood claims and refutations (thousands at 64). */
            /* Lifeguard: helpers that sent no nack either point at us (our
             * messages, or our reading of theirs, are slow), not at the
             * target; with no helper to ask, the failed probe itself does. */
            if (p->nacks_expected)
                stg__local_health(c, (int)(p->nacks_expected - p->nacks), "ping-req helpers sent no nack");
            else
                stg__local_health(c, 1, "a probe went unanswered");
            suspect_by_probe(c, p->target);
        }
    }
    p->active = false;
}

static void probe_round(stg_core_t *c) {
    probe_t *p = &c->probe;
    ping_the_dead(c);
    end_probe(c);
    int t = next_probe_target(c);
    if (t < 0) return;
    *p = (probe_t){.active = true, .target = t, .seq = ++c->next_seq, .sent_ms = c->now,
                   .away_inc = stg__away(c, t) ? (uint64_t)c->peers[t].rec.inc : 0};
    stg__send_probe_msg(c, t, STG_MSG_PING, p->seq, -1);
#if STG_SELFTEST_NEXT
    stg__selftest_probe(c, t);
#endif
}

/* A connection to member i ended: when a process dies its kernel resets
 * its connections at once, long before our turn to probe it comes round
 * (a partner is probed about once per npartners periods). Probe it now, as
 * an extra probe: if the current probe is still waiting for its answer,
 * right after it. Only a failed probe makes a suspicion, so a restart or a
 * network hiccup costs one ping. */
void stg__on_link_lost(stg_core_t *c, int i) {
    if (i < 0 || (unsigned)i >= c->roster->nmembers || !stg__usable(c, i) ||
        c->peers[i].live != STG_LIVE_ALIVE || !c->peers[i].have)
        return;
    probe_t *p = &c->probe;
    if (p->active && p->target == i) return; /* being probed already */
    c->urgent = i;
    if (!p->active || p->acked) c->next_probe_ms = c->now;
}

/* A new record of member i is stored: its away_ms (re)starts the window on
 * our clock, from now (never from its signing time: clocks differ); a
 * record without it ends the window (it is back, on a new incarnation, or
 * did not go). A member we hold dead at that life already stays dead: the
 * news came too late for us, and only its return revives it. */
void stg__away_note(stg_core_t *c, int i) {
    peer_t *p = &c->peers[i];
    bool had = p->away_until_ms > 0, down = p->away_down;
    if (p->rec.away_ms > 0 && !(p->live == STG_LIVE_DEAD && p->live_inc >= (uint64_t)p->rec.inc)) {
        if (!had)
            stg__log(c, STG_LOG_INFO, "swim",
                     "%s announces a planned absence of up to %llds (a reboot): rebooting, not "
                     "dead, if it stops answering",
                     stg__mname(c, i), (long long)((p->rec.away_ms + 999) / 1000));
        p->away_until_ms = c->now + p->rec.away_ms;
        return;
    }
    p->away_until_ms = 0;
    p->away_down = false;
    if (had && down)
        stg__log(c, STG_LOG_INFO, "swim", "%s: rebooting -> alive (back, incarnation %lld)",
                 stg__mname(c, i), (long long)p->rec.inc);
}

/* Member i's window ended on our clock. Gone and not back: our probe
 * failed in it, so it is suspect now, as after any failed probe; a
 * suspicion held through the window starts its time again from now. */
static void away_ended(stg_core_t *c, int i) {
    peer_t *q = &c->peers[i];
    bool down = q->away_down;
    q->away_until_ms = 0;
    q->away_down = false;
    if (q->live == STG_LIVE_SUSPECT) {
        q->suspect_since_ms = c->now;
        q->suspect_deadline_ms = c->now + stg__suspicion_timeout(c, q);
    } else if (down && q->live == STG_LIVE_ALIVE) {
        stg__log(c, STG_LOG_WARNING, "swim", "%s did not come back within its announced absence",
                 stg__mname(c, i));
        suspect_by_probe(c, i);
    }
}

/* SWIM's timers: the indirect probe after the timeout, the helpers'
 * nacks, the next probe round, and suspicions that ran out. */
void stg__swim_tick(stg_core_t *c) {
    probe_t *p = &c->probe;
    if (p->active && !p->acked && !p->indirect_sent && c->now >= p->sent_ms + stg__probe_timeout(c)) {
        p->indirect_sent = true;
        int helpers[16];
        unsigned n = stg__random_peers(c, p->target, -1, c->t.indirect_checks > 16 ? 16 : c->t.indirect_checks,
                                  helpers);
        for (unsigned i = 0; i < n; i++)
            stg__send_probe_msg(c, helpers[i], STG_MSG_PING_REQ, p->seq, p->target);
        p->nacks_expected = n;
        /* A helper nacks one probe timeout after our ping-req reaches it:
         * the round waits for that, with room for the way back. Counted
         * from when the ping-reqs were due: a loop that ran late is the
         * loop-late event's business (stg__on_loop_late). */
        int64_t nacks_due = p->sent_ms + stg__probe_timeout(c) + c->t.probe_timeout_ms * 3 / 2;
        if (n && c->next_probe_ms < nacks_due) c->next_probe_ms = nacks_due;
        /* The verdict comes 2.5 timeouts after the ping (stretched by local
         * health like them), not at the period's end: how soon a dead member
         * is found depends on the timeout, not on how often we probe. */
        p->verdict_ms = p->sent_ms + stg__probe_timeout(c) * 5 / 2;
    }
    if (p->active && !p->acked && p->indirect_sent && c->now >= p->verdict_ms) end_probe(c);
    for (int i = 0; i < RELAYS_MAX; i++) {
        relay_t *r = &c->relays[i];
        if (r->used && !r->nack_sent && r->expires_ms > c->now && c->now >= r->nack_ms) {
            r->nack_sent = true;
            stg__send_probe_msg(c, r->origin, STG_MSG_NACK, r->origin_seq, -1);
        }
    }
    if (c->now >= c->next_probe_ms) {
        probe_round(c);
        c->next_probe_ms = c->now + stg__probe_interval(c);
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *q = &c->peers[i];
        if (q->away_until_ms && c->now >= q->away_until_ms) away_ended(c, (int)i);
        if (q->live == STG_LIVE_SUSPECT && c->now >= q->suspect_deadline_ms && !stg__away(c, (int)i)) {
            stg__set_live(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            claim(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            c->liveness_news = true;
        }
    }
}

int64_t stg__swim_wakeup(const stg_core_t *c) {
    int64_t w = c->next_probe_ms;
    if (c->liveness_news && c->self >= 0 && news_due(c) < w) w = news_due(c);
    if (c->probe.active && !c->probe.acked && !c->probe.indirect_sent) {
        int64_t t = c->probe.sent_ms + stg__probe_timeout(c);
        if (t < w) w = t;
    }
    if (c->probe.active && !c->probe.acked && c->probe.indirect_sent && c->probe.verdict_ms < w)
        w = c->probe.verdict_ms;
    for (int i = 0; i < RELAYS_MAX; i++) {
        const relay_t *r = &c->relays[i];
        if (r->used && !r->nack_sent && r->expires_ms > c->now && r->nack_ms < w) w = r->nack_ms;
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *q = &c->peers[i];
        if (stg__away(c, (int)i)) {
            if (q->away_until_ms < w) w = q->away_until_ms; /* no verdict before it */
        } else if (q->live == STG_LIVE_SUSPECT && q->suspect_deadline_ms < w) {
            w = q->suspect_deadline_ms;
        }
    }
    return w;
}

/* Our own loop ran late_ms late (the shell's timer fired that long after
 * it was due: no CPU for us, or a long burst of work). Answers that came
 * in meanwhile wait unread, and the timer runs before the reads: without
 * this, a starved node blames the peers it probed for its own gap. What
 * fell due in the gap gets its full time again from now, and the score
 * rises. A lateness within the probe timeout harms no probe. */
void stg__on_loop_late(stg_core_t *c, int64_t late_ms) {
    if (c->t.local_health_max == 0 || c->self < 0 || late_ms <= stg__probe_timeout(c)) return;
    int64_t gap_start = c->now - late_ms;
    c->stats.loop_late++;
    if (late_ms > c->late_worst_ms) c->late_worst_ms = late_ms;
    if (c->late_log_ms == 0 || c->now - c->late_log_ms >= LATE_LOG_EVERY_MS) {
        stg__log(c, STG_LOG_WARNING, "swim",
                 "our loop ran late (%u times since the last report, the worst by %lld ms): "
                 "probes and suspicions due meanwhile get their time again",
                 c->late_unlogged + 1, (long long)c->late_worst_ms);
        c->late_log_ms = c->now;
        c->late_unlogged = 0;
        c->late_worst_ms = 0;
    } else {
        c->late_unlogged++;
    }
    probe_t *p = &c->probe;
    int64_t timeout_at = p->sent_ms + stg__probe_timeout(c);
    bool excuse = p->active && !p->acked &&
                  ((timeout_at >= gap_start && timeout_at <= c->now) ||
                   (p->indirect_sent && p->verdict_ms >= gap_start && p->verdict_ms <= c->now) ||
                   (c->next_probe_ms >= gap_start && c->next_probe_ms <= c->now));
    stg__local_health(c, 1, "our own loop ran late");
    if (excuse) {
        p->sent_ms = c->now;
        p->indirect_sent = false;
        p->nacks = p->nacks_expected = 0;
        if (c->next_probe_ms < c->now + stg__probe_interval(c))
            c->next_probe_ms = c->now + stg__probe_interval(c);
    }
    for (int i = 0; i < RELAYS_MAX; i++) {
        relay_t *r = &c->relays[i];
        if (r->used && !r->nack_sent && r->nack_ms >= gap_start && r->nack_ms <= c->now) {
            r->nack_ms = c->now + c->t.probe_timeout_ms;
            if (r->expires_ms <= r->nack_ms) r->expires_ms = r->nack_ms + 1;
        }
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *q = &c->peers[i];
        if (q->live == STG_LIVE_SUSPECT && q->suspect_deadline_ms >= gap_start &&
            q->suspect_deadline_ms <= c->now)
            q->suspect_deadline_ms = c->now + stg__probe_timeout(c);
    }
}

/* When news adopted now may go out: at once, unless news went out less
 * than a probe period ago (stretched by local health, like the period). */
static int64_t news_due(const stg_core_t *c) {
    return c->news_spread_ms ? c->news_spread_ms + stg__probe_interval(c) : c->now;
}

/* A suspicion or a death this node adopted goes out to a few random
 * members on a ping that carries it, instead of waiting for the next
 * probes: each of them adopts it and does the same, so the news crosses the
 * fleet in a few network hops rather than in probe periods. Only on news,
 * so an idle fleet pays nothing for it; and at most once a probe period,
 * every claim adopted meanwhile riding on the same pings. Once per claim
 * made a storm of false suspicions (256 peers on two cores) cost each
 * member three pings and three acks per claim, the load that starved the
 * next probes and so fed the storm. */
void stg__spread_news(stg_core_t *c) {
    if (!c->liveness_news || c->self < 0 || c->now < news_due(c)) return;
    c->liveness_news = false;
    c->news_spread_ms = c->now;
    int to[STG_MEMBERS_MAX];
    unsigned n = c->have_tree ? stg__flood_targets(c, -1, to)
                              : stg__random_peers(c, -1, -1, c->t.fanout + 1, to);
    for (unsigned i = 0; i < n; i++) stg__send_probe_msg(c, to[i], STG_MSG_PING, ++c->next_seq, -1);
}
