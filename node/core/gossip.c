/* gossip.c: state gossip: our own signed record, records pushed when they
 * change and relayed once, and push-pull anti-entropy (a summary hash on
 * every ping, the version vector only when the hashes differ). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* Our record as our state says it is now, unsigned (seq and time are the
 * signer's). */
/* The release our record names while the executor is idle: the primary's,
 * unless we run it already and another component's we do not, so that a
 * peer that missed that one's flood asks for it too. */
static const comp_t *named_release(const stg_core_t *c, const char *flavour) {
    const comp_t *pick = c->comps[0].have_release ? &c->comps[0] : NULL;
    for (unsigned k = 1; k < c->ncomps; k++) {
        const comp_t *x = &c->comps[k];
        bool pick_done = pick && stg__runs(&pick->release, flavour, pick->version, pick->build);
        if (x->have_release && (!pick || pick_done) &&
            !stg__runs(&x->release, flavour, x->version, x->build))
            pick = x;
    }
    return pick;
}

static void fill_own(const stg_core_t *c, stg_record_t *r) {
    const stg_member_t *m = &c->roster->members[c->self];
    const comp_t *p = &c->comps[0]; /* the primary: the record's top level */
    memset(r, 0, sizeof *r);
    snprintf(r->fleet, sizeof r->fleet, "%s", c->roster->fleet);
    snprintf(r->node, sizeof r->node, "%s", m->name);
    r->inc = c->inc;
    snprintf(r->component, sizeof r->component, "%s", c->comps[0].name);
    snprintf(r->version, sizeof r->version, "%s", p->version);
    snprintf(r->build, sizeof r->build, "%s", p->build);
    r->tip = c->tip;
    snprintf(r->flavour, sizeof r->flavour, "%s", m->flavour);
    r->health = p->health;
    snprintf(r->detail, sizeof r->detail, "%s", p->detail);
    r->health_since_ms = p->health_since_ms;
    for (unsigned k = 1; k < c->ncomps; k++) {
        stg_comp_rec_t *e = &r->comps[r->ncomps++];
        const comp_t *x = &c->comps[k];
        snprintf(e->component, sizeof e->component, "%s", x->name);
        snprintf(e->version, sizeof e->version, "%s", x->version);
        snprintf(e->build, sizeof e->build, "%s", x->build);
        e->health = x->health;
        e->health_since_ms = x->health_since_ms;
    }
    for (unsigned k = 0; c->nknown > 1 && k < c->nknown; k++)
        if (c->comps[k].have_release)
            sodium_bin2hex(r->releases[r->nreleases++], sizeof r->releases[0],
                           c->comps[k].release_id, 8);
    r->phase = c->phase;
    /* A failure not yet resumed, once the record is about another release. */
    if (c->ncomps > 1 && c->failed_rel[0] && c->exec_have) {
        char hex[17];
        stg__id_hex(c->exec_id, hex);
        if (strcmp(hex, c->failed_rel) != 0) snprintf(r->failed, sizeof r->failed, "%s", c->failed_rel);
    }
    const comp_t *named = named_release(c, m->flavour);
    if (c->exec_have)
        sodium_bin2hex(r->release, sizeof r->release, c->exec_id, sizeof c->exec_id);
    else if (named)
        /* Idle: name the release we wait for, so a peer that missed its
         * flood (lost, or down at the time) asks for it (release-want). */
        sodium_bin2hex(r->release, sizeof r->release, named->release_id, sizeof named->release_id);
    r->phase_since_ms = c->phase_since_ms;
    r->cmd_seq = c->cmd_seq;
    snprintf(r->stagger, sizeof r->stagger, "%s", c->stagger);
    r->caps = c->caps;
    r->forging = c->forging;
    r->attempt = (int64_t)c->slot_attempt;
    /* What is left of our announced absence: a record signed later in the
     * window does not stretch it on the peers, which time it from receipt. */
    r->away_ms = c->away_until_ms > c->now ? c->away_until_ms - c->now : 0;
    if (c->phase != STG_PHASE_IDLE)
        snprintf(r->phase_detail, sizeof r->phase_detail, "%s", c->exec_detail);
#if STG_SELFTEST_NEXT
    stg__selftest_note(c, r);
#endif
}

/* Cut s to at most n bytes, at a UTF-8 character boundary. */
static void cut_utf8(char *s, size_t n) {
    if (strlen(s) <= n) return;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    s[n] = '\0';
}

void stg__sign_own(stg_core_t *c) {
    if (c->self < 0) return;
    peer_t *me = &c->peers[c->self];
    stg_record_t r;
    fill_own(c, &r);
    r.seq = ++c->seq;
    r.time_ms = c->now;
    /* As large as a record's envelope: a payload that fits one is one we
     * must be able to sign (names, two details and a tip at their longest
     * need some 1.7 KiB of the 1.9 an envelope leaves). A hook's detail is
     * 255 bytes, but one full of quotes or control characters escapes to
     * two or six bytes a character in JSON: then the longer detail loses a
     * quarter until the record fits, here and in our state (so the next
     * record says the same), rather than the node not signing at all. */
    uint8_t json[STG_RECORD_ENV_MAX];
    int n = -1;
    size_t elen = 0;
    for (unsigned cut = 0;; cut++) {
        n = stg_record_encode(&r, json, sizeof json);
        if (n >= 0 && stg_envelope_seal(STG_DOC_RECORD, json, (size_t)n, c->key, me->env,
                                        sizeof me->env, &elen) == 0)
            break;
        if (cut == 16 || (!r.detail[0] && !r.phase_detail[0])) {
            stg__log(c, STG_LOG_ERROR, "gossip", "cannot sign own record (bug): %d", n);
            return;
        }
        bool first = strlen(r.detail) >= strlen(r.phase_detail);
        char *d = first ? r.detail : r.phase_detail;
        cut_utf8(d, strlen(d) * 3 / 4);
        memcpy(first ? c->comps[0].detail : c->exec_detail, d, strlen(d) + 1); /* shorter than before */
        if (cut == 0)
            stg__log(c, STG_LOG_WARNING, "gossip",
                     "a hook's detail does not fit our record once escaped: shortened");
    }
    me->env_len = elen;
    me->rec = r;
    me->have = true;
    me->live = STG_LIVE_ALIVE;
    me->live_inc = (uint64_t)c->inc;
    me->last_heard_ms = c->now;
}

/* The rules read our record in the same step (done_on, updating): it says
 * the new state at once; the signature and the push wait for the flush. */
void stg__own_changed(stg_core_t *c) {
    if (c->self < 0) return;
    peer_t *me = &c->peers[c->self];
    stg_record_t r;
    fill_own(c, &r);
    r.seq = me->rec.seq;
    r.time_ms = me->rec.time_ms;
    me->rec = r;
    stg__tip_note(c, c->self);
    c->own_dirty = true;
}

void stg__records_to(stg_core_t *c, int peer, const int *idx, unsigned n) {
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

static void push_to(stg_core_t *c, const int *to, unsigned n) {
    for (unsigned i = 0; i < n; i++) stg__records_to(c, to[i], &c->self, 1);
    c->pushed = c->peers[c->self].rec;
    c->pushed_have = true;
    c->own_push_at_ms = 0;
}

/* Our record, to every partner (everyone in a full mesh): at start, and a
 * deferred cmd_seq-only change (stg__flush_own). */
void stg__push_own(stg_core_t *c) {
    int to[STG_MEMBERS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (c->partner[i]) to[n++] = (int)i;
    push_to(c, to, n);
}

static bool only_cmd_seq(const stg_record_t *a, const stg_record_t *b);

/* The end of a step that changed our record: sign it and push it, unless
 * its only change since the last push is cmd_seq. After an emergency
 * command every member's record changes so at once, and N members each
 * signing and pushing to its partners, who check each signature, is work
 * that competed with the command's own flood on a busy fleet: such a
 * record is signed and sent CMD_SEQ_PUSH_MS later (or with the next real
 * change), so a burst of commands costs one signature a member, not one
 * a command. Until then our record says the new cmd_seq (status reads it)
 * and the copy we serve is the last signed one, whose version vector
 * entry is unchanged; nothing waits on it but the `applied_by` of status
 * (§7.4). */
void stg__flush_own(stg_core_t *c) {
    if (c->self < 0) return;
    if (c->pushed_have && only_cmd_seq(&c->pushed, &c->peers[c->self].rec)) {
        if (!c->own_push_at_ms) c->own_push_at_ms = c->now + CMD_SEQ_PUSH_MS;
        return;
    }
    bool announces = c->peers[c->self].rec.away_ms > 0 && !(c->pushed_have && c->pushed.away_ms > 0);
    stg__sign_own(c);
    /* A planned absence goes to every partner, the members that probe us:
     * each must hold it before we go (§7.5). */
    if (announces) {
        stg__push_own(c);
        return;
    }
    /* News, which every member relays on: along the flood tree, like a
     * command (§7.8). A cmd_seq-only change, never relayed, goes to every
     * partner (stg__push_own): catch-up reads it from their copies. */
    int to[STG_MEMBERS_MAX];
    push_to(c, to, stg__flood_targets(c, -1, to));
}

/* A deferred cmd_seq-only change whose time has come: signed now. */
void stg__own_push_tick(stg_core_t *c) {
    if (!c->own_push_at_ms || c->now < c->own_push_at_ms) return;
    stg__sign_own(c);
    stg__push_own(c);
}

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
void stg__vv_summary(const stg_core_t *c, stg_msg_t *m) {
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
void stg__on_summary(stg_core_t *c, const stg_msg_t *m, int from) {
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

void stg__on_digest(stg_core_t *c, const stg_msg_t *m, int from) {
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
    if (ngive) stg__records_to(c, from, give, ngive);
    if (they_newer && m->want_reply) send_digest(c, from, false);
}

/* The same bytes as a record we hold: a rumour's duplicate, which is the
 * common case. Nothing to verify or learn. */
static bool held_env(const stg_core_t *c, const uint8_t *env, size_t len) {
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (p->have && p->env_len == len && memcmp(p->env, env, len) == 0) return true;
    }
    return false;
}

/* A member pushed its next record itself, just signed: its signing time
 * against our clock is its clock's offset (plus one network hop). Shown in
 * status when it is beyond what the rules allow twice in a row. */
static void observe_clock(stg_core_t *c, int idx, int64_t signed_ms) {
    peer_t *p = &c->peers[idx];
    p->skew_ms = signed_ms - c->now;
    bool over = p->skew_ms > STG_CLOCK_SKEW_MAX_MS || p->skew_ms < -STG_CLOCK_SKEW_MAX_MS;
    if (!over) {
        p->skew_over = 0;
        return;
    }
    if (++p->skew_over == 2)
        stg__log(c, STG_LOG_WARNING, "gossip",
                 "%s's clock is %+lld ms off ours (more than %d ms): check NTP on both",
                 stg__mname(c, idx), (long long)p->skew_ms, STG_CLOCK_SKEW_MAX_MS);
}

/* Does b differ from a only in what every member's record changes after an
 * emergency command (its cmd_seq, and so its seq and signing time)? Such a
 * record is not relayed (§7.4): relaying every member's after every command
 * is N x N x partners messages, seconds of work at 64 members. */
/* The other components' entries and the adopted releases (§9.8) say the same. */
static bool same_comps(const stg_record_t *a, const stg_record_t *b) {
    if (a->ncomps != b->ncomps || a->nreleases != b->nreleases || strcmp(a->failed, b->failed))
        return false;
    for (unsigned k = 0; k < a->nreleases && k < STG_COMPONENTS_MAX; k++)
        if (strcmp(a->releases[k], b->releases[k]) != 0) return false;
    for (unsigned k = 0; k < a->ncomps && k < STG_COMPONENTS_MAX - 1; k++) {
        const stg_comp_rec_t *x = &a->comps[k], *y = &b->comps[k];
        if (strcmp(x->component, y->component) || strcmp(x->version, y->version) ||
            strcmp(x->build, y->build) || x->health != y->health ||
            x->health_since_ms != y->health_since_ms)
            return false;
    }
    return true;
}

static bool only_cmd_seq(const stg_record_t *a, const stg_record_t *b) {
    return a->inc == b->inc && a->cmd_seq != b->cmd_seq && a->health == b->health &&
           (a->away_ms > 0) == (b->away_ms > 0) &&
           a->phase == b->phase && a->health_since_ms == b->health_since_ms &&
           a->phase_since_ms == b->phase_since_ms && a->attempt == b->attempt &&
           a->forging == b->forging && a->caps == b->caps &&
           strcmp(a->version, b->version) == 0 && strcmp(a->build, b->build) == 0 &&
           a->tip.have == b->tip.have &&
           a->tip.block == b->tip.block && strcmp(a->tip.hash, b->tip.hash) == 0 &&
           strcmp(a->detail, b->detail) == 0 &&
           strcmp(a->release, b->release) == 0 && strcmp(a->phase_detail, b->phase_detail) == 0 &&
           strcmp(a->component, b->component) == 0 && strcmp(a->flavour, b->flavour) == 0 &&
           same_comps(a, b);
}

/* One record of a records message (§7.4): stored if newer, marked for the
 * relay in b, and what it means beyond gossip reported in news for core.c
 * to route: a claim that we are suspect to refute, a member proved alive,
 * a record that may name a release we lack or show a missed command. */
stg_news_t stg__record_take(stg_core_t *c, const stg_msg_t *m, unsigned i, int from,
                            stg_relay_t *b, stg_record_news_t *news) {
    memset(news, 0, sizeof *news);
    if (held_env(c, m->rec[i], m->rec_len[i])) return STG_NEWS_NONE;
    stg_record_t r;
    int idx = -1;
    stg_diag_t d = {0};
    /* The signature is checked last, and only for news: a copy of what we
     * hold, or of something older, changes nothing here, and a fleet that
     * refutes many suspicions at once (a busy start at 256) receives far
     * more of those than news, each check ~50 us of CPU it has not got. */
    if (stg_record_peek(m->rec[i], m->rec_len[i], c->roster, &r, &idx, &d) != 0) {
        stg__reject(c, &d, from);
        return STG_NEWS_NONE;
    }
    peer_t *p = &c->peers[idx];
    int cmp = p->have ? stg__cmp_version(r.inc, r.seq, p->rec.inc, p->rec.seq) : 1;
    if (cmp == 0 && idx != c->self) return STG_NEWS_NONE; /* a duplicate: normal with rumour spreading */
    if (cmp < 0) {
        /* An older copy: gossip reorders and repeats, so this is normal,
         * not an attack (a forged one would fail its signature if it were
         * news). */
        if (idx != c->self) c->stats.records_stale++;
        return STG_NEWS_NONE;
    }
    if (cmp > 0 && stg_record_verify(m->rec[i], m->rec_len[i], c->roster, idx, &d) != 0) {
        stg__reject(c, &d, from);
        return STG_NEWS_NONE;
    }
    if (idx == c->self) {
        /* Someone holds a newer record of ours than we do: our journal
         * was lost. Move past it so our records win again. */
        news->inc = (uint64_t)r.inc;
        return cmp > 0 ? STG_NEWS_REFUTE : STG_NEWS_NONE;
    }
    if (idx == from && p->have && r.inc == p->rec.inc && r.seq == p->rec.seq + 1)
        observe_clock(c, idx, r.time_ms);
    bool changed = !p->have || p->rec.health != r.health ||
                   strcmp(p->rec.version, r.version) != 0;
    bool relay = !p->have || !only_cmd_seq(&p->rec, &r);
    if (changed)
        stg__log(c, STG_LOG_INFO, "gossip", "%s: %s %s, %s%s%s", r.node, r.component,
              r.version[0] ? r.version : "(version unknown)", stg_health_name(r.health),
              r.detail[0] ? ": " : "", r.detail);
    for (unsigned k = 0; k < r.ncomps; k++) {
        stg_comp_rec_t tmp;
        const stg_comp_rec_t *e = &r.comps[k], *was = p->have ? stg_record_comp(&p->rec, e->component, &tmp) : NULL;
        if (!was || was->health != e->health || strcmp(was->version, e->version) != 0)
            stg__log(c, STG_LOG_INFO, "gossip", "%s: %s %s, %s", r.node, e->component,
                     e->version[0] ? e->version : "(version unknown)", stg_health_name(e->health));
    }
    p->rec = r;
    stg__tip_note(c, idx);
    memcpy(p->env, m->rec[i], m->rec_len[i]);
    p->env_len = m->rec_len[i];
    p->have = true;
    news->idx = idx;
    news->inc = (uint64_t)r.inc;
    news->cmd_seq = r.cmd_seq;
    if (p->live != STG_LIVE_ALIVE && (uint64_t)r.inc > p->live_inc)
        news->alive = true; /* core.c sets it, SWIM's precedence kept there */
    else if (p->live == STG_LIVE_ALIVE)
        p->live_inc = (uint64_t)r.inc;
    if (idx == from) p->last_heard_ms = c->now;
    c->stats.records_new++;
    if (relay) b->fresh[b->n++] = idx;
    return STG_NEWS_RECORD;
}

/* Rumour: pass what was new to us on, once, at once (§7.4), where a flood
 * goes (stg__flood_targets): over the overlay along the flood tree, so it
 * crosses it in its few hops with one copy a member; in a full mesh, where
 * the origin told everyone, to a few others. */
void stg__records_relay(stg_core_t *c, const stg_relay_t *b, int from) {
    if (!b->n) return;
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__flood_targets(c, from, to);
    for (unsigned k = 0; k < n; k++) {
        int peer = to[k];
        int subset[STG_RECORDS_MAX];
        unsigned ns = 0;
        for (unsigned j = 0; j < b->n; j++)
            if (b->fresh[j] != peer) subset[ns++] = b->fresh[j];
        if (ns) stg__records_to(c, peer, subset, ns);
    }
}

/* Anti-entropy: our vector's hash to one random member (§7.4). */
void stg__send_sync(stg_core_t *c) {
    int peer = stg__random_peer(c, -1, -1);
    if (peer < 0) return;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SYNC;
    stg__vv_summary(c, &m);
    stg__send(c, peer, &m);
}
