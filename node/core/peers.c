/* peers.c: whom to talk to: usable members, random choices, the flood of
 * news over the partners, and the partner overlay (docs/protocol.md §7.8). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

bool stg__usable(const stg_core_t *c, int i) {
    /* A member rebooting as it announced is down: no probes, helpers'
     * requests or floods for it until it is back (its first record) or its
     * window ends (suspect, then usable again like any suspect). */
    return i != c->self && c->peers[i].live != STG_LIVE_DEAD && !stg__rebooting(c, i);
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

/* Where a flood goes on from us (docs/protocol.md §7.8). In a full mesh,
 * news we start goes to every partner (everyone), news new to us to the
 * relay targets. Over the overlay it follows the flood tree: to our tree
 * neighbours but the sender, one copy a member, where relaying to every
 * partner gave each member one per partner (at 64 members ~600 deliveries
 * a command, each waking two threads: on two cores, the flood's whole
 * time). A copy from off the tree, or a tree neighbour of ours that is
 * dead to us, means the tree does not hold for this flood: then to every
 * usable partner but the sender, which reaches around the gap; catch-up
 * (command.c) and summary repair (gossip.c) mend what still misses. */
unsigned stg__flood_targets(stg_core_t *c, int from, int *to) {
    unsigned n = 0;
    if (c->npartners + 1 >= c->roster->nmembers) {
        if (from >= 0) return stg__relay_targets(c, from, to);
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (c->partner[i]) to[n++] = (int)i;
        return n;
    }
    if (c->have_tree && (from < 0 || c->tree[from])) {
        bool whole = true;
        for (unsigned i = 0; i < c->roster->nmembers && whole; i++)
            if (c->tree[i] && (int)i != from) {
                whole = stg__usable(c, (int)i);
                to[n++] = (int)i;
            }
        if (whole) return n;
    }
    return stg__relay_targets(c, from, to);
}

void stg__flood(stg_core_t *c, int from, stg_msg_t *m) {
    int to[STG_MEMBERS_MAX];
    unsigned n = stg__flood_targets(c, from, to);
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

typedef struct {
    uint64_t pos;
    unsigned idx;
} ring_slot_t;

static int slot_cmp(const void *a, const void *b) {
    const ring_slot_t *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The flood tree (docs/protocol.md §7.8): the spanning tree of the overlay
 * that a breadth-first walk from member 0 gives, each member's edges taken
 * ring by ring, predecessor before successor; every member computes the
 * same one from the roster. We keep our own tree neighbours. Ring
 * neighbours are those of stg__partners_of, found for everyone at once by
 * sorting each ring (N log N a ring, not N x N). No tree (have_tree false,
 * floods go to every partner) in a full mesh or without memory. */
static void find_tree(stg_core_t *c) {
    memset(c->tree, 0, sizeof c->tree);
    c->have_tree = false;
    const stg_roster_t *r = c->roster;
    unsigned n = r->nmembers, rings = c->t.partners / 2 ? c->t.partners / 2 : 1;
    if (c->self < 0 || c->npartners + 1 >= n) return;
    unsigned deg = 2 * rings;
    int *adj = malloc(sizeof *adj * n * deg);
    ring_slot_t *ring = malloc(sizeof *ring * n);
    if (adj && ring) {
        for (unsigned k = 0; k < rings; k++) {
            for (unsigned i = 0; i < n; i++) ring[i] = (ring_slot_t){ring_pos(r, k, i), i};
            qsort(ring, n, sizeof *ring, slot_cmp);
            for (unsigned j = 0; j < n; j++) {
                adj[ring[j].idx * deg + 2 * k] = (int)ring[(j + n - 1) % n].idx;
                adj[ring[j].idx * deg + 2 * k + 1] = (int)ring[(j + 1) % n].idx;
            }
        }
        int parent[STG_MEMBERS_MAX], queue[STG_MEMBERS_MAX];
        for (unsigned i = 0; i < n; i++) parent[i] = -2; /* not reached yet */
        parent[0] = -1;
        queue[0] = 0;
        for (unsigned head = 0, tail = 1; head < tail; head++)
            for (unsigned e = 0; e < deg; e++) {
                int v = adj[(unsigned)queue[head] * deg + e];
                if (parent[v] == -2) {
                    parent[v] = queue[head];
                    queue[tail++] = v;
                }
            }
        for (unsigned i = 0; i < n; i++)
            c->tree[i] = parent[i] == c->self || (parent[c->self] == (int)i);
        c->have_tree = true;
    }
    free(adj);
    free(ring);
}

void stg__find_partners(stg_core_t *c) {
    memset(c->partner, 0, sizeof c->partner);
    c->npartners = 0;
    if (c->self < 0) return;
    stg__partners_of(c, (unsigned)c->self, c->partner);
    for (unsigned i = 0; i < c->roster->nmembers; i++) c->npartners += c->partner[i];
    find_tree(c);
}

bool stg_core_partner(const stg_core_t *c, int idx) {
    return idx >= 0 && (unsigned)idx < c->roster->nmembers && c->partner[idx];
}
