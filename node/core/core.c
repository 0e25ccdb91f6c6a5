/* core.c: membership, liveness (SWIM) and state gossip of one node, as a
 * pure state machine (see core.h). No clock, no randomness, no I/O: time
 * arrives with each event, randomness from the seeded rng, and everything
 * the node wants done leaves as an action. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "stagger/core.h"
#include "internal.h"

#define DETAIL_EVERY_MS 60000

/* ---- actions ---------------------------------------------------------- */

uint8_t *stg__arena(stg_core_t *c, size_t n) {
    stg_actions_t *a = c->acts;
    if (!a) return NULL; /* outside a step (construction): nowhere to put it */
    if (a->n >= STG_ACTIONS_MAX || a->used + n > STG_ARENA_BYTES) {
        a->dropped++;
        return NULL;
    }
    uint8_t *p = a->arena + a->used;
    a->used += (n + 7) & ~(size_t)7;
    if (a->used > STG_ARENA_BYTES) a->used = STG_ARENA_BYTES;
    return p;
}

stg_action_t *stg__act(stg_core_t *c, stg_act_type_t type) {
    stg_actions_t *a = c->acts;
    if (!a) return NULL;
    if (a->n >= STG_ACTIONS_MAX) {
        a->dropped++;
        return NULL;
    }
    stg_action_t *x = &a->a[a->n++];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->peer = -1;
    return x;
}

void stg__log(stg_core_t *c, stg_log_level_t lvl,
                                                         const char *tag, const char *fmt, ...) {
    char *buf = (char *)stg__arena(c, 256);
    if (!buf) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, 256, fmt, ap);
    va_end(ap);
    stg_action_t *x = stg__act(c, STG_ACT_LOG);
    if (!x) return;
    x->level = lvl;
    x->tag = tag;
    x->data = (const uint8_t *)buf;
    x->len = n < 0 ? 0 : (n > 255 ? 255 : (size_t)n);
}

const char *stg__mname(const stg_core_t *c, int i) {
    return (i >= 0 && (unsigned)i < c->roster->nmembers) ? c->roster->members[i].name : "?";
}

void stg__send(stg_core_t *c, int peer, stg_msg_t *m) {
    if (peer < 0 || peer == c->self || c->self < 0) return;
    m->serial = (uint64_t)c->roster->serial;
    stg_actions_t *a = c->acts;
    if (!a) return;
    size_t room = STG_ARENA_BYTES - a->used;
    if (a->n >= STG_ACTIONS_MAX || room < 64) {
        a->dropped++;
        return;
    }
    int n = stg_msg_encode(m, a->arena + a->used, room);
    if (n < 0) {
        a->dropped++;
        return;
    }
    uint8_t *p = stg__arena(c, (size_t)n);
    stg_action_t *x = stg__act(c, STG_ACT_SEND);
    if (!p || !x) return;
    x->peer = peer;
    x->data = p;
    x->len = (size_t)n;
    c->stats.msgs_out++;
}

void stg__persist(stg_core_t *c, const char *name, const void *data, size_t len) {
    uint8_t *p = stg__arena(c, len);
    stg_action_t *x = p ? stg__act(c, STG_ACT_PERSIST) : NULL;
    if (!x) return;
    memcpy(p, data, len);
    x->name = name;
    x->data = p;
    x->len = len;
}

void stg__reject(stg_core_t *c, const stg_diag_t *d, int from) {
    stg_reject_t r = d->reason < STG_REJECT__COUNT ? d->reason : STG_REJECT_BAD_VALUE;
    c->stats.rejects[r]++;
    /* Rate-limited: one line per reason per period, with the count since. */
    if (c->now - c->reject_log_ms[r] >= REJECT_LOG_EVERY_MS || c->reject_log_ms[r] == 0) {
        stg__log(c, STG_LOG_WARNING, "proto", "rejected from %s: %s (%s)%s",
              from >= 0 ? stg__mname(c, from) : "client", d->msg, stg_reject_name(r),
              c->reject_unlogged[r] ? " and more since the last report" : "");
        c->reject_log_ms[r] = c->now;
        c->reject_unlogged[r] = 0;
    } else {
        c->reject_unlogged[r]++;
    }
}

/* ---- own record ------------------------------------------------------- */

void stg__sign_own(stg_core_t *c) {
    if (c->self < 0) return;
    peer_t *me = &c->peers[c->self];
    const stg_member_t *m = &c->roster->members[c->self];
    stg_record_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.fleet, sizeof r.fleet, "%s", c->roster->fleet);
    snprintf(r.node, sizeof r.node, "%s", m->name);
    r.inc = c->inc;
    r.seq = ++c->seq;
    r.time_ms = c->now;
    snprintf(r.component, sizeof r.component, "%s", c->component);
    snprintf(r.version, sizeof r.version, "%s", c->version);
    snprintf(r.flavour, sizeof r.flavour, "%s", m->flavour);
    r.health = c->health;
    snprintf(r.detail, sizeof r.detail, "%s", c->detail);
    r.health_since_ms = c->health_since_ms;
    snprintf(r.phase, sizeof r.phase, "%s", stg_phase_name(c->phase));
    if (c->exec_have)
        sodium_bin2hex(r.release, sizeof r.release, c->exec_id, sizeof c->exec_id);
    else if (c->have_release)
        /* Idle: name the release we wait for, so a peer that missed its
         * flood (lost, or down at the time) asks for it (release-want). */
        sodium_bin2hex(r.release, sizeof r.release, c->release_id, sizeof c->release_id);
    r.phase_since_ms = c->phase_since_ms;
    r.cmd_seq = c->cmd_seq;
    if (c->phase != STG_PHASE_IDLE)
        snprintf(r.phase_detail, sizeof r.phase_detail, "%s", c->exec_detail);
    uint8_t json[1024];
    int n = stg_record_encode(&r, json, sizeof json);
    size_t elen = 0;
    if (n < 0 || stg_envelope_seal(STG_DOC_RECORD, json, (size_t)n, c->key, me->env,
                                   sizeof me->env, &elen) != 0) {
        stg__log(c, STG_LOG_ERROR, "gossip", "cannot sign own record (bug): %d", n);
        return;
    }
    me->env_len = elen;
    me->rec = r;
    me->have = true;
    me->live = STG_LIVE_ALIVE;
    me->live_inc = (uint64_t)c->inc;
    me->last_heard_ms = c->now;
}

static void records_to(stg_core_t *c, int peer, const int *idx, unsigned n) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RECORDS;
    for (unsigned i = 0; i < n; i++) {
        const peer_t *p = &c->peers[idx[i]];
        if (!p->have) continue;
        m.rec[m.nrec] = p->env;
        m.rec_len[m.nrec] = (uint16_t)p->env_len;
        if (++m.nrec == STG_RECORDS_MAX) {
            stg__send(c, peer, &m);
            m.nrec = 0;
        }
    }
    if (m.nrec) stg__send(c, peer, &m);
}

/* Our record, to every partner: everyone in a full mesh; over the overlay
 * the partners flood it on (on_records). */
void stg__push_own(stg_core_t *c) {
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (c->partner[i]) records_to(c, (int)i, &c->self, 1);
}

/* ---- liveness claims -------------------------------------------------- */

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

static void set_live(stg_core_t *c, int i, stg_live_t s, uint64_t inc) {
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

static void refute(stg_core_t *c, uint64_t claimed_inc) {
    if ((uint64_t)c->inc <= claimed_inc) c->inc = (int64_t)claimed_inc;
    c->inc++;
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)c->inc);
    stg__persist(c, "incarnation", text, (size_t)n);
    c->stats.refutes++;
    stg__log(c, STG_LOG_WARNING, "swim", "refuting a suspicion about us: incarnation now %lld",
          (long long)c->inc);
    stg__sign_own(c);
    stg__push_own(c);
}

static void on_claim(stg_core_t *c, const stg_piggy_t *pg, int from) {
    if (pg->member >= c->roster->nmembers) {
        stg_diag_t d = {0};
        stg_diag_set(&d, STG_REJECT_UNKNOWN_MEMBER, "message", "liveness claim about member %u",
                     pg->member);
        stg__reject(c, &d, from);
        return;
    }
    if (pg->state == STG_LIVE_ALIVE) return; /* aliveness travels as signed records */
    if (pg->member == c->self) {
        if (pg->inc >= (uint64_t)c->inc) refute(c, pg->inc);
        /* A claim about an older life of ours: its sender missed our newer
         * record (it holds us dead since a partition, say). Send it. */
        else if (from >= 0 && from != c->self) records_to(c, from, &c->self, 1);
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
        set_live(c, pg->member, STG_LIVE_SUSPECT, pg->inc);
        claim(c, pg->member, STG_LIVE_SUSPECT, pg->inc);
        c->liveness_news = true;
    } else if (pg->state == STG_LIVE_DEAD && (newer || (same && p->live != STG_LIVE_DEAD))) {
        set_live(c, pg->member, STG_LIVE_DEAD, pg->inc);
        claim(c, pg->member, STG_LIVE_DEAD, pg->inc);
        c->liveness_news = true;
    }
}

/* ---- peer choice ------------------------------------------------------ */

bool stg__usable(const stg_core_t *c, int i) {
    return i != c->self && c->peers[i].live != STG_LIVE_DEAD;
}

/* Where random choices draw from: the usable partners, other than the
 * excluded; when none of those is usable, every usable member, so a node
 * whose partners are all down still reaches the rest. */
static unsigned candidates(const stg_core_t *c, int not1, int not2, int *cand) {
    unsigned n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (stg__usable(c, (int)i) && (int)i != not1 && (int)i != not2 &&
                (pass || c->partner[i]))
                cand[n++] = (int)i;
    return n;
}

static int random_peer(stg_core_t *c, int not1, int not2) {
    int cand[STG_MEMBERS_MAX];
    unsigned n = candidates(c, not1, not2, cand);
    return n ? cand[stg__rng_below(&c->rng, n)] : -1;
}

void stg__flood(stg_core_t *c, int from, stg_msg_t *m) {
    if (from < 0) {
        for (unsigned i = 0; i < c->roster->nmembers; i++) stg__send(c, (int)i, m);
        return;
    }
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__random_peers(c, from, -1, c->t.fanout, to);
    for (unsigned i = 0; i < n; i++) stg__send(c, to[i], m);
}

/* k distinct random usable peers other than the excluded ones: partners
 * first (see candidates). */
unsigned stg__random_peers(stg_core_t *c, int not1, int not2, unsigned k, int *out) {
    int cand[STG_MEMBERS_MAX];
    unsigned n = candidates(c, not1, not2, cand);
    unsigned take = k < n ? k : n;
    for (unsigned i = 0; i < take; i++) {
        unsigned j = i + stg__rng_below(&c->rng, n - i);
        int tmp = cand[i];
        cand[i] = cand[j];
        cand[j] = tmp;
        out[i] = cand[i];
    }
    return take;
}

/* Where member i sits on ring r: a hash of the ring and its key, so every
 * member computes the same rings from the same roster. */
static uint64_t ring_pos(const stg_roster_t *r, unsigned ring, unsigned i) {
    uint8_t in[4 + STG_KEY_BYTES], h[8];
    in[0] = 's';
    in[1] = 'r';
    in[2] = (uint8_t)(ring >> 8);
    in[3] = (uint8_t)ring;
    memcpy(in + 4, r->members[i].key.key, STG_KEY_BYTES);
    crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | h[k];
    return v;
}

static bool ring_before(uint64_t a, unsigned ia, uint64_t b, unsigned ib) {
    return a < b || (a == b && ia < ib);
}

/* The partner overlay (docs/protocol.md §7.8). With up to partners + 1
 * members everyone is a partner: the full mesh. Beyond, a member's
 * partners are its two neighbours on each of partners / 2 rings, every
 * ring the whole roster in the order of ring_pos. Neighbourhood on a ring
 * is mutual, so partnership is; each ring is a cycle through everyone, so
 * the overlay is connected; a few random rings make an expander, a few
 * hops across. Each member is probed by its partners, each picking it one
 * period in npartners on average: still one probe per period. */
static void find_partners(stg_core_t *c) {
    const stg_roster_t *r = c->roster;
    memset(c->partner, 0, sizeof c->partner);
    c->npartners = 0;
    if (c->self < 0) return;
    unsigned self = (unsigned)c->self;
    if (c->t.partners == 0 || r->nmembers - 1 <= c->t.partners) {
        for (unsigned i = 0; i < r->nmembers; i++) c->partner[i] = i != self;
    } else {
        unsigned rings = c->t.partners / 2 ? c->t.partners / 2 : 1;
        uint64_t pos[STG_MEMBERS_MAX];
        for (unsigned ring = 0; ring < rings; ring++) {
            for (unsigned i = 0; i < r->nmembers; i++) pos[i] = ring_pos(r, ring, i);
            /* The neighbours: the nearest before and after us, around the ring. */
            int pred = -1, succ = -1, lo = -1, hi = -1;
            for (unsigned i = 0; i < r->nmembers; i++) {
                if (i == self) continue;
                if (lo < 0 || ring_before(pos[i], i, pos[lo], (unsigned)lo)) lo = (int)i;
                if (hi < 0 || ring_before(pos[hi], (unsigned)hi, pos[i], i)) hi = (int)i;
                if (ring_before(pos[i], i, pos[self], self)) {
                    if (pred < 0 || ring_before(pos[pred], (unsigned)pred, pos[i], i)) pred = (int)i;
                } else if (succ < 0 || ring_before(pos[i], i, pos[succ], (unsigned)succ)) {
                    succ = (int)i;
                }
            }
            c->partner[pred >= 0 ? pred : hi] = true;
            c->partner[succ >= 0 ? succ : lo] = true;
        }
    }
    for (unsigned i = 0; i < r->nmembers; i++) c->npartners += c->partner[i];
}

bool stg_core_partner(const stg_core_t *c, int idx) {
    return idx >= 0 && (unsigned)idx < c->roster->nmembers && c->partner[idx];
}

/* SWIM's probe order: every partner once per round, shuffled each round. */
static void reshuffle(stg_core_t *c) {
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
        if (c->order_pos >= c->order_n) reshuffle(c);
        if (c->order_n == 0) break;
        int t = c->order[c->order_pos++];
        if (stg__usable(c, t)) return t;
    }
    return random_peer(c, -1, -1); /* every partner is down: anyone usable */
}

/* ---- anti-entropy ----------------------------------------------------- */

static void vv_hash(const stg_core_t *c, uint8_t out[8]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (!p->have) continue;
        uint8_t e[18];
        e[0] = (uint8_t)(i >> 8);
        e[1] = (uint8_t)i;
        for (int k = 0; k < 8; k++) {
            e[2 + k] = (uint8_t)((uint64_t)p->rec.inc >> (56 - 8 * k));
            e[10 + k] = (uint8_t)((uint64_t)p->rec.seq >> (56 - 8 * k));
        }
        crypto_generichash_update(&st, e, sizeof e);
    }
    crypto_generichash_final(&st, out, 8);
}

/* The summary a sync, and every ping, carries: the hash and how many. */
static void vv_summary(const stg_core_t *c, stg_msg_t *m) {
    vv_hash(c, m->hash);
    unsigned held = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) held += c->peers[i].have;
    m->nrecords_held = (uint16_t)held;
}

static void send_digest(stg_core_t *c, int peer, bool want_reply);

/* A ping's summary starts at most one digest exchange per this period: when
 * every record changes at once (each member re-signs after an emergency
 * command) every ping differs, and answering each one made the repair
 * traffic five times the old sync's, all of it competing with the next
 * command. */
#define SUMMARY_REPAIR_EVERY_MS 5000

/* A summary that differs from ours: start the digest exchange (§7.4). */
static void on_summary(stg_core_t *c, const stg_msg_t *m, int from) {
    if (m->type == STG_MSG_PING && c->summary_repair_ms &&
        c->now - c->summary_repair_ms < SUMMARY_REPAIR_EVERY_MS)
        return;
    uint8_t h[8];
    vv_hash(c, h);
    if (memcmp(h, m->hash, 8) == 0) return;
    if (m->type == STG_MSG_PING) c->summary_repair_ms = c->now;
    send_digest(c, from, true);
}

static void send_digest(stg_core_t *c, int peer, bool want_reply) {
    stg_msg_t *m = calloc(1, sizeof *m);
    if (!m) return;
    m->type = STG_MSG_DIGEST;
    m->want_reply = want_reply;
    for (unsigned i = 0; i < c->roster->nmembers && m->nvv < STG_DIGEST_MAX; i++) {
        if (!c->peers[i].have) continue;
        m->vv[m->nvv++] = (stg_vv_entry_t){(uint16_t)i, (uint64_t)c->peers[i].rec.inc,
                                            (uint64_t)c->peers[i].rec.seq};
    }
    stg__send(c, peer, m);
    free(m);
}

int stg__cmp_version(int64_t inc_a, int64_t seq_a, int64_t inc_b, int64_t seq_b) {
    if (inc_a != inc_b) return inc_a < inc_b ? -1 : 1;
    if (seq_a != seq_b) return seq_a < seq_b ? -1 : 1;
    return 0;
}

static void on_digest(stg_core_t *c, const stg_msg_t *m, int from) {
    /* What they lack or hold older: send. What they hold newer: ask. */
    int give[STG_MEMBERS_MAX];
    unsigned ngive = 0;
    bool they_newer = false;
    int64_t their_inc[STG_MEMBERS_MAX] = {0}, their_seq[STG_MEMBERS_MAX] = {0};
    for (unsigned k = 0; k < m->nvv; k++) {
        if (m->vv[k].member >= c->roster->nmembers) continue;
        their_inc[m->vv[k].member] = (int64_t)m->vv[k].inc;
        their_seq[m->vv[k].member] = (int64_t)m->vv[k].seq;
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        int cmp = p->have ? stg__cmp_version(p->rec.inc, p->rec.seq, their_inc[i], their_seq[i])
                          : (their_inc[i] ? -1 : 0);
        if (cmp > 0) give[ngive++] = (int)i;
        if (cmp < 0) they_newer = true;
    }
    if (ngive) records_to(c, from, give, ngive);
    if (they_newer && m->want_reply) send_digest(c, from, false);
}

/* ---- records ---------------------------------------------------------- */

/* The same bytes as a record we hold: a rumour's duplicate, which is the
 * common case. Nothing to verify or learn. */
static bool held_env(const stg_core_t *c, const uint8_t *env, size_t len) {
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (p->have && p->env_len == len && memcmp(p->env, env, len) == 0) return true;
    }
    return false;
}

static void on_records(stg_core_t *c, const stg_msg_t *m, int from) {
    int fresh[STG_RECORDS_MAX];
    unsigned nfresh = 0;
    for (unsigned i = 0; i < m->nrec; i++) {
        if (held_env(c, m->rec[i], m->rec_len[i])) continue;
        stg_record_t r;
        int idx = -1;
        stg_diag_t d = {0};
        if (stg_record_open(m->rec[i], m->rec_len[i], c->roster, &r, &idx, &d) != 0) {
            stg__reject(c, &d, from);
            continue;
        }
        peer_t *p = &c->peers[idx];
        int cmp = p->have ? stg__cmp_version(r.inc, r.seq, p->rec.inc, p->rec.seq) : 1;
        if (idx == c->self) {
            /* Someone holds a newer record of ours than we do: our journal
             * was lost. Move past it so our records win again. */
            if (cmp > 0) refute(c, (uint64_t)r.inc);
            continue;
        }
        if (cmp == 0) continue; /* a duplicate: normal with rumour spreading */
        if (cmp < 0) {
            stg_diag_set(&d, STG_REJECT_REPLAY, "record",
                         "%s (%lld,%lld) is older than the held (%lld,%lld)", r.node,
                         (long long)r.inc, (long long)r.seq, (long long)p->rec.inc,
                         (long long)p->rec.seq);
            c->stats.rejects[STG_REJECT_REPLAY]++;
            continue;
        }
        bool changed = !p->have || p->rec.health != r.health ||
                       strcmp(p->rec.version, r.version) != 0;
        if (changed)
            stg__log(c, STG_LOG_INFO, "gossip", "%s: %s %s, %s%s%s", r.node, r.component,
                  r.version[0] ? r.version : "(version unknown)", stg_health_name(r.health),
                  r.detail[0] ? ": " : "", r.detail);
        p->rec = r;
        memcpy(p->env, m->rec[i], m->rec_len[i]);
        p->env_len = m->rec_len[i];
        p->have = true;
        if (p->live != STG_LIVE_ALIVE && (uint64_t)r.inc > p->live_inc)
            set_live(c, idx, STG_LIVE_ALIVE, (uint64_t)r.inc);
        else if (p->live == STG_LIVE_ALIVE)
            p->live_inc = (uint64_t)r.inc;
        if (idx == from) p->last_heard_ms = c->now;
        c->stats.records_new++;
        fresh[nfresh++] = idx;
        stg__rollout_record(c, idx);
        stg__command_catch_up(c, idx, r.cmd_seq);
    }
    if (!nfresh) return;
    /* Rumour: pass what was new to us on, once: to a few random others in
     * a full mesh, where the origin told everyone already; over the overlay
     * to every partner, so the flood crosses it in its few hops. */
    int to[STG_MEMBERS_MAX];
    unsigned n = 0;
    if (c->npartners + 1 < c->roster->nmembers) {
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (c->partner[i] && (int)i != from && stg__usable(c, (int)i)) to[n++] = (int)i;
    } else {
        n = stg__random_peers(c, from, -1, c->t.fanout, to);
    }
    for (unsigned k = 0; k < n; k++) {
        int peer = to[k];
        int subset[STG_RECORDS_MAX];
        unsigned ns = 0;
        for (unsigned j = 0; j < nfresh; j++)
            if (fresh[j] != peer) subset[ns++] = fresh[j];
        if (ns) records_to(c, peer, subset, ns);
    }
}

/* ---- roster ----------------------------------------------------------- */

static void send_roster(stg_core_t *c, int peer) {
    if (peer < 0 || peer == c->self) return;
    peer_t *p = &c->peers[peer];
    if (p->roster_sent_ms && c->now - p->roster_sent_ms < 1000) return;
    p->roster_sent_ms = c->now;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_ROSTER;
    m.blob = c->roster_env;
    m.blob_len = c->roster_len;
    stg__send(c, peer, &m);
}

static int install_roster(stg_core_t *c, stg_roster_t *r, const uint8_t *env, size_t len) {
    peer_t *peers = calloc(r->nmembers, sizeof *peers);
    uint8_t *copy = malloc(len);
    if (!peers || !copy) {
        free(peers);
        free(copy);
        return STG_ENOSPACE;
    }
    memcpy(copy, env, len);
    /* Carry what we know across by key: indices may move. */
    for (unsigned i = 0; i < r->nmembers; i++) {
        int old = c->roster ? stg_roster_find_key(c->roster, &r->members[i].key) : -1;
        if (old >= 0 && c->peers) {
            peers[i] = c->peers[old];
            peers[i].roster_sent_ms = 0;
            if (strcmp(peers[i].rec.node, r->members[i].name) != 0) peers[i].have = false;
        }
    }
    /* Grants follow their holders by key too: forgetting a started grant
     * would let a second member take a slot still in use. A holder that
     * left the roster is dropped by the rollout's expiry pass. */
    for (unsigned s = 0; s < 2 && c->roster; s++) {
        int h = c->grants[s].holder;
        if (h >= 0 && (unsigned)h < c->roster->nmembers)
            c->grants[s].holder = stg_roster_find_key(r, &c->roster->members[h].key);
    }
    free(c->peers);
    free(c->roster_env);
    if (c->roster && c->roster != r) free(c->roster);
    c->peers = peers;
    c->roster = r;
    c->roster_env = copy;
    c->roster_len = len;
    c->self = stg_roster_find_key(r, &c->key->pub);
    c->nclaims = 0;
    c->probe.active = false;
    memset(c->relays, 0, sizeof c->relays);
    find_partners(c);
    reshuffle(c);
    c->urgent = -1;
    stg__rollout_roster_changed(c);
    return 0;
}

static void on_roster(stg_core_t *c, const uint8_t *env, size_t len, int from) {
    stg_roster_t *r = malloc(sizeof *r);
    if (!r) return;
    stg_diag_t d = {0};
    if (stg_roster_open(env, len, c->roster, r, &d) != 0) {
        free(r);
        /* The same roster coming back from the flood, or an older one a
         * member relayed after we moved on, is old news, not an attack; an
         * operator or the roster file offering an old one is counted. */
        if (d.reason == STG_REJECT_STALE &&
            (from >= 0 || (len == c->roster_len && memcmp(env, c->roster_env, len) == 0)))
            return;
        stg__reject(c, &d, from);
        return;
    }
    int64_t old = c->roster->serial;
    if (install_roster(c, r, env, len) != 0) {
        free(r);
        return;
    }
    c->stats.roster_updates++;
    stg__persist(c, "roster", env, len);
    stg__act(c, STG_ACT_ROSTER_CHANGED);
    stg__log(c, STG_LOG_INFO, "roster", "roster of fleet %s: serial %lld -> %lld, %u members",
          r->fleet, (long long)old, (long long)r->serial, r->nmembers);
    if (c->self < 0) {
        stg__log(c, STG_LOG_ERROR, "roster",
              "this node's key is not in roster serial %lld: it no longer takes part; "
              "add it back or stop this daemon",
              (long long)r->serial);
        return;
    }
    stg__sign_own(c);
    /* Flood: every member hears it at once. */
    for (unsigned i = 0; i < r->nmembers; i++) send_roster(c, (int)i);
    stg__push_own(c);
}

/* ---- probes ----------------------------------------------------------- */

static void send_probe_msg(stg_core_t *c, int peer, stg_msg_type_t type, uint32_t seq, int target) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.seq = seq;
    m.target = (uint16_t)(target < 0 ? 0 : target);
    /* Every ping carries the anti-entropy summary: the probes already
     * visit every member in turn, so repair needs no messages of its own. */
    if (type == STG_MSG_PING) vv_summary(c, &m);
    piggyback(c, &m);
    stg__send(c, peer, &m);
}

static void on_ack(stg_core_t *c, uint32_t seq, int from) {
    if (c->probe.active && c->probe.seq == seq) {
        c->probe.acked = true;
        return;
    }
    for (int i = 0; i < RELAYS_MAX; i++) {
        relay_t *r = &c->relays[i];
        if (r->used && r->my_seq == seq) {
            send_probe_msg(c, r->origin, STG_MSG_ACK, r->origin_seq, -1);
            r->used = false;
            return;
        }
    }
    (void)from;
}

static void on_ping_req(stg_core_t *c, const stg_msg_t *m, int from) {
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
    send_probe_msg(c, m->target, STG_MSG_PING, seq, -1);
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
                set_live(c, p->target, STG_LIVE_SUSPECT, inc);
                claim(c, p->target, STG_LIVE_SUSPECT, inc);
                c->liveness_news = true;
                /* Tell the suspect directly: it can refute at once. */
                send_probe_msg(c, p->target, STG_MSG_PING, ++c->next_seq, -1);
            }
        }
    }
    p->active = false;
    int t = next_probe_target(c);
    if (t < 0) return;
    *p = (probe_t){true, false, false, t, ++c->next_seq, c->now};
    send_probe_msg(c, t, STG_MSG_PING, p->seq, -1);
}

/* A connection to member i ended: when a process dies its kernel resets
 * its connections at once, long before our turn to probe it comes round
 * (a partner is probed about once per npartners periods). Probe it now, as
 * an extra probe: if the current probe is still waiting for its answer,
 * right after it. Only a failed probe makes a suspicion, so a restart or a
 * network hiccup costs one ping. */
static void on_link_lost(stg_core_t *c, int i) {
    if (i < 0 || (unsigned)i >= c->roster->nmembers || !stg__usable(c, i) ||
        c->peers[i].live != STG_LIVE_ALIVE || !c->peers[i].have)
        return;
    probe_t *p = &c->probe;
    if (p->active && p->target == i) return; /* being probed already */
    c->urgent = i;
    if (!p->active || p->acked) c->next_probe_ms = c->now;
}

static int64_t probe_timeout(const stg_core_t *c) {
    return c->t.probe_timeout_ms * (1 + c->lhm);
}

/* ---- events ----------------------------------------------------------- */

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
        if (m->type == STG_MSG_ROSTER) on_roster(c, m->blob, m->blob_len, -1);
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
        on_roster(c, m->blob, m->blob_len, from);
        goto out;
    }
    if (m->serial != (uint64_t)c->roster->serial) {
        /* Rosters differ: whoever is behind catches up first. */
        if (m->serial < (uint64_t)c->roster->serial) send_roster(c, from);
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
    for (unsigned i = 0; i < m->npiggy; i++) on_claim(c, &m->piggy[i], from);
    switch (m->type) {
    case STG_MSG_PING:
        send_probe_msg(c, from, STG_MSG_ACK, m->seq, -1);
        on_summary(c, m, from);
        break;
    case STG_MSG_ACK: on_ack(c, m->seq, from); break;
    case STG_MSG_PING_REQ: on_ping_req(c, m, from); break;
    case STG_MSG_SYNC: on_summary(c, m, from); break;
    case STG_MSG_DIGEST: on_digest(c, m, from); break;
    case STG_MSG_RECORDS: on_records(c, m, from); break;
    case STG_MSG_ROSTER_WANT: send_roster(c, from); break;
    case STG_MSG_RELEASE: stg__rollout_release(c, m->blob, m->blob_len, from); break;
    case STG_MSG_COMMAND: stg__command_msg(c, m->blob, m->blob_len, from); break;
    default:
        if (stg__rollout_msg(c, m, from)) break;
        stg_diag_set(&d, STG_REJECT_NOT_ALLOWED, "message", "%s between peers",
                     stg_msg_name(m->type));
        stg__reject(c, &d, from);
        break;
    }
out:
    free(m);
}

static void on_health(stg_core_t *c, const stg_event_t *ev) {
    bool changed = ev->health != c->health;
    if (ev->version && strcmp(ev->version, c->version) != 0) {
        snprintf(c->version, sizeof c->version, "%s", ev->version);
        changed = true;
        /* Healthy on a new version is a new health: the proof measures from
         * it (a node that stays healthy through its update must not carry
         * the old version's time into the holdback pair's epoch wait). */
        if (ev->health == c->health) c->health_since_ms = ev->now_ms;
    }
    if (ev->health != c->health) {
        stg__log(c, ev->health == STG_HEALTH_HEALTHY ? STG_LOG_INFO : STG_LOG_WARNING, "hook",
              "health: %s -> %s%s%s", stg_health_name(c->health), stg_health_name(ev->health),
              ev->detail && *ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        c->health = ev->health;
        c->health_since_ms = ev->now_ms;
    }
    /* A new reason for the same state (a hook that now times out instead of
     * failing) is news too: the record is what status shows fleet-wide. A
     * healthy node's detail changes at every run ("tip age 12s"), so while
     * healthy it is refreshed at most once a minute: otherwise every node
     * would push to every peer every health interval. */
    if (ev->detail && strcmp(ev->detail, c->detail) != 0) {
        snprintf(c->detail, sizeof c->detail, "%s", ev->detail);
        if (ev->health != STG_HEALTH_HEALTHY || c->now - c->detail_signed_ms >= DETAIL_EVERY_MS)
            changed = true;
    }
    if (changed && c->self >= 0) {
        c->detail_signed_ms = c->now;
        stg__sign_own(c);
        stg__push_own(c);
    }
    stg__rollout_health(c, ev);
}

/* Anti-entropy: our vector's hash to one random member (§7.4). */
static void send_sync(stg_core_t *c) {
    int peer = random_peer(c, -1, -1);
    if (peer < 0) return;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SYNC;
    vv_summary(c, &m);
    stg__send(c, peer, &m);
}

static void on_tick(stg_core_t *c) {
    if (c->self < 0) return;
    if (!c->started) {
        c->started = true;
        stg__push_own(c);
        send_sync(c);
    }
    if (c->now >= c->next_health_ms) {
        stg__act(c, STG_ACT_RUN_HEALTH);
        c->next_health_ms = c->now + c->t.health_interval_ms;
    }
    probe_t *p = &c->probe;
    if (p->active && !p->acked && !p->indirect_sent && c->now >= p->sent_ms + probe_timeout(c)) {
        p->indirect_sent = true;
        int helpers[16];
        unsigned n = stg__random_peers(c, p->target, -1, c->t.indirect_checks > 16 ? 16 : c->t.indirect_checks,
                                  helpers);
        for (unsigned i = 0; i < n; i++)
            send_probe_msg(c, helpers[i], STG_MSG_PING_REQ, p->seq, p->target);
    }
    if (c->now >= c->next_probe_ms) {
        probe_round(c);
        c->next_probe_ms = c->now + c->t.probe_interval_ms;
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *q = &c->peers[i];
        if (q->live == STG_LIVE_SUSPECT && c->now >= q->suspect_deadline_ms) {
            set_live(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            claim(c, (int)i, STG_LIVE_DEAD, q->live_inc);
            c->liveness_news = true;
        }
    }
    stg__rollout_tick(c);
    stg__command_tick(c);
    if (c->now >= c->next_sync_ms) {
        c->next_sync_ms = c->now + c->t.sync_interval_ms;
        send_sync(c);
    }
}

/* A suspicion or a death this node just adopted goes out at once to a few
 * random members on a ping that carries it, instead of waiting for the next
 * probes: each of them adopts it and does the same, so the news crosses the
 * fleet in a few network hops rather than in probe periods. Only on news,
 * so an idle fleet pays nothing for it. */
static void spread_news(stg_core_t *c) {
    if (!c->liveness_news || c->self < 0) return;
    c->liveness_news = false;
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__random_peers(c, -1, -1, c->t.fanout + 1, to);
    for (unsigned i = 0; i < n; i++) send_probe_msg(c, to[i], STG_MSG_PING, ++c->next_seq, -1);
}

void stg_core_step(stg_core_t *c, const stg_event_t *ev, stg_actions_t *acts) {
    acts->n = 0;
    acts->used = 0;
    acts->dropped = 0;
    c->acts = acts;
    c->now = ev->now_ms;
    switch (ev->type) {
    case STG_EV_TICK: break;
    case STG_EV_MESSAGE: on_message(c, ev); break;
    case STG_EV_HEALTH: on_health(c, ev); break;
    case STG_EV_ROSTER: on_roster(c, ev->data, ev->len, -1); break;
    case STG_EV_HOOK_DONE: stg__rollout_hook_done(c, ev); break;
    case STG_EV_RELEASE: stg__rollout_release(c, ev->data, ev->len, -1); break;
    case STG_EV_LINK_LOST: on_link_lost(c, ev->from); break;
    }
    /* Timers are checked on every event, so a busy node never starves them. */
    on_tick(c);
    spread_news(c);
    c->acts = NULL;
}

/* ---- lifecycle and views ---------------------------------------------- */

void stg_core_tuning_default(stg_core_tuning_t *t) {
    t->probe_interval_ms = 1000;
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
    snprintf(c->component, sizeof c->component, "%s", cfg->component);
    c->inc = cfg->incarnation > 0 ? cfg->incarnation : 1;
    c->now = now_ms;
    stg__rng_seed(&c->rng, cfg->seed);
    if (install_roster(c, r, cfg->roster_env, cfg->roster_len) != 0) {
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
    c->health = STG_HEALTH_UNKNOWN;
    c->health_since_ms = now_ms;
    /* Spread the first probes of a fleet started together over a period. */
    c->next_probe_ms = now_ms + (int64_t)stg__rng_below(&c->rng, (uint32_t)c->t.probe_interval_ms);
    c->next_sync_ms = now_ms + (int64_t)stg__rng_below(&c->rng, (uint32_t)c->t.sync_interval_ms);
    c->next_health_ms = now_ms;
    stg__rollout_init(c, cfg->journal, cfg->journal_len);
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
    free(c->peers);
    free(c->roster_env);
    free(c->roster);
    free(c);
    *cp = NULL;
}

int64_t stg_core_next_wakeup(const stg_core_t *c) {
    int64_t w = c->next_probe_ms;
    if (c->next_sync_ms < w) w = c->next_sync_ms;
    if (c->next_health_ms < w) w = c->next_health_ms;
    if (c->probe.active && !c->probe.acked && !c->probe.indirect_sent) {
        int64_t t = c->probe.sent_ms + probe_timeout(c);
        if (t < w) w = t;
    }
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (c->peers[i].live == STG_LIVE_SUSPECT && c->peers[i].suspect_deadline_ms < w)
            w = c->peers[i].suspect_deadline_ms;
    int64_t r = stg__rollout_wakeup(c);
    if (r < w) w = r;
    r = stg__command_wakeup(c);
    return r < w ? r : w;
}

const stg_roster_t *stg_core_roster(const stg_core_t *c) { return c->roster; }
int stg_core_self(const stg_core_t *c) { return c->self; }
const stg_core_stats_t *stg_core_stats(const stg_core_t *c) { return &c->stats; }

void stg_core_member(const stg_core_t *c, int idx, stg_member_view_t *out) {
    memset(out, 0, sizeof *out);
    if (idx < 0 || (unsigned)idx >= c->roster->nmembers) return;
    const peer_t *p = &c->peers[idx];
    out->have_record = p->have;
    if (p->have) out->rec = p->rec;
    out->live = p->live;
    out->known = p->have;
    out->last_heard_ms = idx == c->self ? c->now : p->last_heard_ms;
}

stg_health_t stg_core_shown_health(const stg_core_t *c, int idx) {
    const peer_t *p = &c->peers[idx];
    if (!p->have || p->live != STG_LIVE_ALIVE) return STG_HEALTH_UNKNOWN;
    return p->rec.health;
}

json_t *stg_core_status_json(const stg_core_t *c, int64_t now_ms) {
    static const char *const live_names[] = {"alive", "suspect", "dead"};
    const stg_roster_t *r = c->roster;
    json_t *members = json_array();
    unsigned count[STG_HEALTH__COUNT] = {0};
    for (unsigned i = 0; i < r->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        const stg_member_t *m = &r->members[i];
        stg_health_t shown = stg_core_shown_health(c, (int)i);
        count[shown]++;
        int64_t heard = (int)i == c->self ? now_ms : p->last_heard_ms;
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:o, s:I, s:I}", "name", m->name,
            "role", stg_role_name(m->role), "flavour", m->flavour, "version",
            p->have ? p->rec.version : "", "health", stg_health_name(shown), "detail",
            p->have ? p->rec.detail : "", "phase", p->have ? p->rec.phase : "",
            "phase_detail", p->have ? p->rec.phase_detail : "", "cmd_seq",
            (json_int_t)((int)i == c->self ? c->cmd_seq : (p->have ? p->rec.cmd_seq : 0)),
            "liveness", p->have || (int)i == c->self ? live_names[p->live] : "unknown", "self",
            (int)i == c->self, "heard_ago_ms",
            heard ? json_integer(now_ms - heard) : json_null(), "incarnation",
            (json_int_t)(p->have ? p->rec.inc : 0), "seq", (json_int_t)(p->have ? p->rec.seq : 0));
        json_array_append_new(members, o);
    }
    json_t *rej = json_object();
    for (int k = 1; k < STG_REJECT__COUNT; k++)
        if (c->stats.rejects[k])
            json_object_set_new(rej, stg_reject_name((stg_reject_t)k),
                                json_integer((json_int_t)c->stats.rejects[k]));
    const char *state = count[STG_HEALTH_HEALTHY] == r->nmembers ? "healthy" : "degraded";
    return json_pack("{s:i, s:s, s:I, s:s, s:I, s:o, s:{s:s, s:i, s:i, s:i, s:i}, s:o, s:o, s:o}",
                     "schema", 1, "fleet", r->fleet, "serial", (json_int_t)r->serial, "self",
                     c->self >= 0 ? r->members[c->self].name : "", "now_ms",
                     (json_int_t)now_ms, "members", members, "summary", "state", state,
                     "members", (int)r->nmembers, "healthy", (int)count[STG_HEALTH_HEALTHY],
                     "unhealthy", (int)count[STG_HEALTH_UNHEALTHY], "unknown",
                     (int)count[STG_HEALTH_UNKNOWN], "rejects", rej, "rollout",
                     stg__rollout_status(c, now_ms), "commands", stg__command_status(c));
}
