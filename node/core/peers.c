/* peers.c: whom to talk to: usable members, random choices, the flood of
 * news over the partners, and the partner overlay (docs/protocol.md §7.8). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

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

int stg__random_peer(stg_core_t *c, int not1, int not2) {
    int cand[STG_MEMBERS_MAX];
    unsigned n = candidates(c, not1, not2, cand);
    return n ? cand[stg__rng_below(&c->rng, n)] : -1;
}

/* Where news new to us goes on (docs/protocol.md §7.8): over the overlay,
 * every usable partner but the one it came from, so a flood crosses the
 * overlay in its few hops, each member passing it on once; in a full mesh
 * a few random others, since whoever started it told everyone already.
 * Only over standing connections: when no partner but `from` is usable,
 * a few random members (candidates' fallback), never all of them. */
unsigned stg__relay_targets(stg_core_t *c, int from, int *to) {
    unsigned n = 0;
    if (c->npartners + 1 < c->roster->nmembers)
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (c->partner[i] && (int)i != from && stg__usable(c, (int)i)) to[n++] = (int)i;
    if (n == 0) n = stg__random_peers(c, from, -1, c->t.fanout, to);
    return n;
}

/* News we start (from < 0: a client handed it to us) goes to every
 * partner, which in a full mesh is every member; news new to us, on
 * (stg__relay_targets). No connection beyond the partners' is opened to
 * flood: at 64 members that was thousands of CURVE handshakes a command. */
void stg__flood(stg_core_t *c, int from, stg_msg_t *m) {
    if (from < 0) {
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (c->partner[i]) stg__send(c, (int)i, m);
        return;
    }
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__relay_targets(c, from, to);
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
 * period in npartners on average: still one probe per period. Any member
 * can work out any other's partners from the roster (Lifeguard's
 * accusations go to the suspect's, swim.c). */
void stg__partners_of(const stg_core_t *c, unsigned m, bool out[STG_MEMBERS_MAX]) {
    const stg_roster_t *r = c->roster;
    memset(out, 0, STG_MEMBERS_MAX * sizeof out[0]);
    if (c->t.partners == 0 || r->nmembers - 1 <= c->t.partners) {
        for (unsigned i = 0; i < r->nmembers; i++) out[i] = i != m;
        return;
    }
    unsigned rings = c->t.partners / 2 ? c->t.partners / 2 : 1;
    uint64_t pos[STG_MEMBERS_MAX];
    for (unsigned ring = 0; ring < rings; ring++) {
        for (unsigned i = 0; i < r->nmembers; i++) pos[i] = ring_pos(r, ring, i);
        /* The neighbours: the nearest before and after m, around the ring. */
        int pred = -1, succ = -1, lo = -1, hi = -1;
        for (unsigned i = 0; i < r->nmembers; i++) {
            if (i == m) continue;
            if (lo < 0 || ring_before(pos[i], i, pos[lo], (unsigned)lo)) lo = (int)i;
            if (hi < 0 || ring_before(pos[hi], (unsigned)hi, pos[i], i)) hi = (int)i;
            if (ring_before(pos[i], i, pos[m], m)) {
                if (pred < 0 || ring_before(pos[pred], (unsigned)pred, pos[i], i)) pred = (int)i;
            } else if (succ < 0 || ring_before(pos[i], i, pos[succ], (unsigned)succ)) {
                succ = (int)i;
            }
        }
        out[pred >= 0 ? pred : hi] = true;
        out[succ >= 0 ? succ : lo] = true;
    }
}

void stg__find_partners(stg_core_t *c) {
    memset(c->partner, 0, sizeof c->partner);
    c->npartners = 0;
    if (c->self < 0) return;
    stg__partners_of(c, (unsigned)c->self, c->partner);
    for (unsigned i = 0; i < c->roster->nmembers; i++) c->npartners += c->partner[i];
}

bool stg_core_partner(const stg_core_t *c, int idx) {
    return idx >= 0 && (unsigned)idx < c->roster->nmembers && c->partner[idx];
}
