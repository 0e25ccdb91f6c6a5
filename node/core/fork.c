/* fork.c: a version-correlated fork (docs/protocol.md §9.7). Each member's
 * record may carry the chain tip its service follows; every voter keeps the
 * last few (block, hash) pairs it saw per member, and compares, height by
 * height, the members that run the release ("new") with those that do not
 * ("old"). At a height where some new and some old member saw the same
 * block, the two sides agree; where both sides saw blocks and none is
 * shared, they split. When the sides split at heights K blocks apart
 * (policy.fork_blocks) with no agreement since the first of them, the new
 * version follows another chain: no slot is granted until they agree
 * again. A member alone on another chain (its own side agrees with the
 * other) is not the version's doing, and a stall (no new blocks anywhere)
 * brings no new heights, so neither is blamed on the version. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The first 16 hex digits of a block hash, as a number. */
static uint64_t hash64(const char *hex) {
    uint64_t v = 0;
    for (int i = 0; i < 16 && hex[i]; i++)
        v = v << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return v;
}

void stg__tip_follow(stg_tip_t *now, const stg_tip_t *before) {
    now->nrecent = 0;
    if (!before->have) return;
    /* The previous tip first, then its own recent ones: newest first, one
     * entry per height, none at the new tip's height. */
    int64_t blocks[STG_TIP_RECENT + 1];
    const char *hashes[STG_TIP_RECENT + 1];
    unsigned n = 0;
    blocks[n] = before->block;
    hashes[n++] = before->hash;
    for (unsigned k = 0; k < before->nrecent && n < STG_TIP_RECENT + 1; k++) {
        blocks[n] = before->recent[k].block;
        hashes[n++] = before->recent[k].hash;
    }
    for (unsigned k = 0; k < n && now->nrecent < STG_TIP_RECENT; k++) {
        bool dup = blocks[k] == now->block;
        for (unsigned j = 0; j < now->nrecent && !dup; j++) dup = now->recent[j].block == blocks[k];
        if (dup) continue;
        now->recent[now->nrecent].block = blocks[k];
        snprintf(now->recent[now->nrecent].hash, sizeof now->recent[0].hash, "%.16s", hashes[k]);
        now->nrecent++;
    }
}

/* One (block, hash) a member followed, into its history. A member that
 * moved to another block at a height it reported before (it switched
 * chains) is read by its latest word. */
static void seen(peer_t *p, int64_t b, uint64_t h) {
    if (!p->tips && !(p->tips = calloc(STG_TIP_HIST, sizeof *p->tips))) return;
    for (unsigned k = 0; k < p->ntips; k++)
        if (p->tips[k].block == b) {
            p->tips[k].hash = h;
            return;
        }
    unsigned at = p->ntips < STG_TIP_HIST ? p->ntips++ : p->tip_next;
    p->tips[at] = (tip_seen_t){b, h};
    p->tip_next = (uint8_t)((at + 1) % STG_TIP_HIST);
}

void stg__peers_free(stg_core_t *c) {
    for (unsigned i = 0; c->peers && c->roster && i < c->roster->nmembers; i++) free(c->peers[i].tips);
    free(c->peers);
    c->peers = NULL;
}

void stg__tip_note(stg_core_t *c, int i) {
    peer_t *p = &c->peers[i];
    const stg_tip_t *t = &p->rec.tip;
    if (!t->have) return;
    c->tips_dirty = true;
    /* Oldest first, so the newest word on a height is the one kept. */
    for (unsigned k = t->nrecent; k-- > 0;) seen(p, t->recent[k].block, hash64(t->recent[k].hash));
    seen(p, t->block, hash64(t->hash));
}

typedef struct {
    int64_t block;
    uint64_t hash;
    int member;
    bool new_side;
} obs_t;

static int by_block(const void *a, const void *b) {
    const obs_t *x = a, *y = b;
    return x->block < y->block ? -1 : x->block > y->block;
}

/* One height's observations: do the sides share a block, and are both there? */
static void judge_height(const obs_t *o, size_t n, bool *both, bool *shared) {
    bool seen_new = false, seen_old = false;
    *shared = false;
    for (size_t a = 0; a < n; a++) {
        seen_new |= o[a].new_side;
        seen_old |= !o[a].new_side;
        for (size_t b = a + 1; b < n && !*shared; b++)
            *shared = o[a].new_side != o[b].new_side && o[a].hash == o[b].hash;
    }
    *both = seen_new && seen_old;
}

static void name_sides(stg_core_t *c, const obs_t *o, size_t n, int64_t from) {
    bool named[STG_MEMBERS_MAX] = {false};
    c->fork.nnew = c->fork.nold = 0;
    for (size_t k = 0; k < n; k++) {
        if (o[k].block < from || named[o[k].member]) continue;
        named[o[k].member] = true;
        if (o[k].new_side) c->fork.new_m[c->fork.nnew++] = o[k].member;
        else c->fork.old_m[c->fork.nold++] = o[k].member;
    }
}

/* The verdict from every live member's tips; false when it cannot be had. */
static bool judge(stg_core_t *c) {
    if (!c->R->have_release) return false;
    size_t cap = 0, n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (p->have && p->live != STG_LIVE_DEAD) cap += p->ntips;
    }
    if (cap == 0) return false; /* nobody reports tips: the common case, no allocation */
    obs_t *o = malloc(cap * sizeof *o);
    if (!o) return c->fork.on; /* keep what we had */
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (!p->have || !p->ntips || p->live == STG_LIVE_DEAD) continue;
        bool side = stg__runs(&c->R->release, c->roster->members[i].flavour, p->rec.version,
                              p->rec.build);
        for (unsigned k = 0; k < p->ntips; k++)
            o[n++] = (obs_t){p->tips[k].block, p->tips[k].hash, (int)i, side};
    }
    qsort(o, n, sizeof *o, by_block);
    int64_t first = -1, last = -1;
    size_t first_at = 0;
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && o[b].block == o[a].block; b++) {}
        bool both, shared;
        judge_height(o + a, b - a, &both, &shared);
        if (shared) first = last = -1; /* they agree here: nothing before counts */
        else if (both) {
            if (first < 0) {
                first = o[a].block;
                first_at = a;
            }
            last = o[a].block;
        }
    }
    bool on = first >= 0 && last - first >= (int64_t)c->roster->policy.fork_blocks;
    if (on) {
        c->fork.since_block = first;
        c->fork.last_block = last;
        name_sides(c, o + first_at, n - first_at, first);
    }
    free(o);
    return on;
}

/* Names of one side, ", "-joined. */
static void side_names(const stg_core_t *c, const int *m, unsigned n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned k = 0; k < n && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", stg__mname(c, m[k]));
}

void stg__fork_text(const stg_core_t *c, char *buf, size_t cap) {
    char a[160], b[160];
    side_names(c, c->fork.new_m, c->fork.nnew, a, sizeof a);
    side_names(c, c->fork.old_m, c->fork.nold, b, sizeof b);
    snprintf(buf, cap, "version-correlated fork: %s on %s %s follow%s another chain than %s "
             "since block %lld (%lld blocks)", a, c->R->release.component, c->R->release.version,
             c->fork.nnew == 1 ? "s" : "", b, (long long)c->fork.since_block,
             (long long)(c->fork.last_block - c->fork.since_block));
}

void stg__fork_watch(stg_core_t *c) {
    if (!c->tips_dirty) return;
    c->tips_dirty = false;
    bool on = judge(c);
    if (on == c->fork.on) return;
    c->fork.on = on;
    if (on) {
        char text[400];
        stg__fork_text(c, text, sizeof text);
        stg__log(c, STG_LOG_ERROR, "fleet", "CRITICAL: %s; no update starts until they agree "
                 "(roll the release back: staggerctl emergency rollback)", text);
    } else {
        stg__log(c, STG_LOG_WARNING, "fleet", "the fork is over: members on %s %s and the "
                 "others agree on the chain again; updates may start", c->R->release.component,
                 c->R->release.version);
    }
}
