/* swim.c: liveness (SWIM): probes, indirect probes, suspicion and death
 * claims piggybacked on probes, refutation by a higher incarnation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

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

static void piggyback(stg_core_t *c, stg_msg_t *m) {
    m->npiggy = 0;
    for (unsigned i = 0; i < c->nclaims && m->npiggy < STG_PIGGY_MAX;) {
        claim_t *cl = &c->claims[i];
        m->piggy[m->npiggy++] = (stg_piggy_t){cl->member, cl->state, cl->inc};
        if (--cl->left == 0) {
            c->claims[i] = c->claims[--c->nclaims];
            continue;
        }
        i++;
    }
}

void stg__set_live(stg_core_t *c, int i, stg_live_t s, uint64_t inc) {
    peer_t *p = &c->peers[i];
    static const char *const names[] = {"alive", "suspect", "dead"};
    if (p->live != s)
        stg__log(c, s == STG_LIVE_ALIVE ? STG_LOG_INFO : STG_LOG_WARNING, "swim",
              "%s: %s -> %s (incarnation %llu)", stg__mname(c, i), names[p->live], names[s],
              (unsigned long long)inc);
    p->live = s;
    p->live_inc = inc;
    if (s == STG_LIVE_SUSPECT) {
        int64_t base = c->t.suspicion_ms;
        p->suspect_deadline_ms = c->now + base;
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
    piggyback(c, &m);
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
    c->relays[slot] = (relay_t){true, seq, from, m->seq, c->now + c->t.probe_interval_ms};
    stg__send_probe_msg(c, m->target, STG_MSG_PING, seq, -1);
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

static void probe_round(stg_core_t *c) {
    probe_t *p = &c->probe;
    ping_the_dead(c);
    if (p->active) {
        if (p->acked) {
            if (c->lhm > 0) c->lhm--;
        } else if (c->peers[p->target].have) {
            /* A member we hold no record of is shown unknown already, and
             * during a fleet's start most are not up yet: suspecting them
             * would only flood claims and refutations (thousands at 64). */
            if (c->lhm < 8) c->lhm++;
            peer_t *t = &c->peers[p->target];
            if (t->live == STG_LIVE_ALIVE) {
                uint64_t inc = t->have ? (uint64_t)t->rec.inc : 0;
                stg__set_live(c, p->target, STG_LIVE_SUSPECT, inc);
                claim(c, p->target, STG_LIVE_SUSPECT, inc);
                c->liveness_news = true;
                /* Tell the suspect directly: it can refute at once. */
                stg__send_probe_msg(c, p->target, STG_MSG_PING, ++c->next_seq, -1);
            }
        }
    }
    p->active = false;
    int t = next_probe_target(c);
    if (t < 0) return;
    *p = (probe_t){true, false, false, t, ++c->next_seq, c->now};
    stg__send_probe_msg(c, t, STG_MSG_PING, p->seq, -1);
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

int64_t stg__probe_timeout(const stg_core_t *c) {
    return c->t.probe_timeout_ms * (1 + c->lhm);
}

/* SWIM's timers: the indirect probe after the timeout, the next probe
 * round, and suspicions that ran out. */
void stg__swim_tick(stg_core_t *c) {
    probe_t *p = &c->probe;
    if (p->active && !p->acked && !p->indirect_sent && c->now >= p->sent_ms + stg__probe_timeout(c)) {
        p->indirect_sent = true;
        int helpers[16];
        unsigned n = stg__random_peers(c, p->target, -1, c->t.indirect_checks > 16 ? 16 : c->t.indirect_checks,
                                  helpers);
        for (unsigned i = 0; i < n; i++)
            stg__send_probe_msg(c, helpers[i], STG_MSG_PING_REQ, p->seq, p->target);
    }
    if (c->now >= c->next_probe_ms) {
        probe_round(c);
        c->next_probe_ms = c->now + c->t.probe_interval_ms;
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *q = &c->peers[i];
        if (q->live == STG_LIVE_SUSPECT && c->now >= q->suspect_deadline_ms) {
            stg__set_live(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            claim(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            c->liveness_news = true;
        }
    }
}

/* A suspicion or a death this node just adopted goes out at once to a few
 * random members on a ping that carries it, instead of waiting for the next
 * probes: each of them adopts it and does the same, so the news crosses the
 * fleet in a few network hops rather than in probe periods. Only on news,
 * so an idle fleet pays nothing for it. */
void stg__spread_news(stg_core_t *c) {
    if (!c->liveness_news || c->self < 0) return;
    c->liveness_news = false;
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__random_peers(c, -1, -1, c->t.fanout + 1, to);
    for (unsigned i = 0; i < n; i++) stg__send_probe_msg(c, to[i], STG_MSG_PING, ++c->next_seq, -1);
}
