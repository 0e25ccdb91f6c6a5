/* release.c: adopting releases: the newest valid one for our component,
 * flooded on, and asked for when a record names one we lack. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"


/* Replace *dst (of *dlen bytes) with a copy of env; false when out of memory. */
bool stg__keep_copy(uint8_t **dst, size_t *dlen, const uint8_t *env, size_t len) {
    uint8_t *copy = malloc(len);
    if (!copy) return false;
    memcpy(copy, env, len);
    free(*dst);
    *dst = copy;
    *dlen = len;
    return true;
}

/* Releases a record named that we fetched and will not adopt (older than
 * ours, another component's, or not valid here): not asked for again. */
static bool unwanted(const stg_core_t *c, const uint8_t id[8]) {
    for (unsigned k = 0; k < WANT_SKIP_MAX; k++)
        if (memcmp(c->want_skip[k], id, 8) == 0) return true;
    return false;
}

static void skip(stg_core_t *c, const uint8_t id[8]) {
    if (unwanted(c, id)) return;
    memcpy(c->want_skip[c->want_skip_next], id, 8);
    c->want_skip_next = (c->want_skip_next + 1) % WANT_SKIP_MAX;
}

/* hex names a release we lack and want: into id. */
static bool lacks_hex(const stg_core_t *c, const char *hex, uint8_t id[8]) {
    size_t n = 0;
    if (!hex[0] || sodium_hex2bin(id, 8, hex, strlen(hex), NULL, &n, NULL) != 0 || n != 8)
        return false;
    if (stg__comp_by_id(c, id)) return false;
    if (c->exec_have && memcmp(id, c->exec_id, 8) == 0) return false;
    return !unwanted(c, id);
}

/* A release member idx's record names (its `release`, or with several
 * components one of its `releases`, §9.8), when it is one we lack and want. */
static bool lacks(const stg_core_t *c, int idx, uint8_t id[8]) {
    const peer_t *p = &c->peers[idx];
    if (idx == c->self || !p->have) return false;
    if (lacks_hex(c, p->rec.release, id)) return true;
    for (unsigned k = 0; k < p->rec.nreleases && k < STG_COMPONENTS_MAX; k++)
        if (lacks_hex(c, p->rec.releases[k], id)) return true;
    return false;
}

static void want(stg_core_t *c, int idx, const uint8_t id[8]) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RELEASE_WANT;
    memcpy(m.release, id, 8);
    c->release_want_ms = c->now;
    /* Until it comes: 1 s, 2 s, 4 s ... 30 s between asks. A want or its
     * answer can be lost, and nothing else would make us ask again. */
    c->want_backoff_ms = c->want_backoff_ms ? c->want_backoff_ms * 2 : WANT_EVERY_MS;
    if (c->want_backoff_ms > WANT_MAX_MS) c->want_backoff_ms = WANT_MAX_MS;
    stg__send(c, idx, &m);
}

static bool newer(const stg_release_t *a, const uint8_t ida[8], const stg_release_t *b,
                  const uint8_t idb[8]) {
    if (a->created_at_s != b->created_at_s) return a->created_at_s > b->created_at_s;
    return memcmp(ida, idb, 8) > 0;
}

int stg__adopt(stg_core_t *c, const uint8_t *env, size_t len, const stg_release_t *rel,
                 const uint8_t id[8]) {
    if (!stg__keep_copy(&c->R->release_env, &c->R->release_len, env, len)) return STG_ENOSPACE;
    c->R->release = *rel;
    memcpy(c->R->release_id, id, 8);
    c->R->have_release = true;
    c->tips_dirty = true; /* other sides for the fork check */
    return 0;
}

static void take_release(stg_core_t *c, const uint8_t *env, size_t len, int from,
                         const stg_release_t *relp, const uint8_t id[8]);

void stg__rollout_release(stg_core_t *c, const uint8_t *env, size_t len, int from) {
    /* The flood's repeats are byte-identical: drop them before any crypto. */
    for (unsigned k = 0; k < c->nknown; k++)
        if (c->comps[k].have_release && len == c->comps[k].release_len &&
            memcmp(env, c->comps[k].release_env, len) == 0)
            return;
    stg_release_t rel;
    stg_diag_t d = {0};
    if (stg_release_open(env, len, c->roster, &rel, &d) != 0) {
        stg__reject(c, &d, from);
        return;
    }
    stg_envelope_t e;
    stg_envelope_parse(env, len, &e, NULL);
    uint8_t id[8];
    stg_release_id(e.payload, e.payload_len, id);
    /* A component we do not manage is held all the same: we vote on its
     * slots and relay it (§9.8). Skipped only when there is no room. */
    comp_t *k = stg__comp_hold(c, rel.component);
    if (!k) {
        skip(c, id);
        return;
    }
    comp_t *was = stg__judge(c, k);
    take_release(c, env, len, from, &rel, id);
    c->R = was;
}

/* A verified release of c->R's component: adopted when newer, and flooded on. */
static void take_release(stg_core_t *c, const uint8_t *env, size_t len, int from,
                         const stg_release_t *relp, const uint8_t id[8]) {
    stg_release_t rel = *relp;
    stg_diag_t d = {0};
    if (c->R->have_release && memcmp(id, c->R->release_id, 8) == 0) return; /* flood echo */
    if (c->R->have_release && !newer(&rel, id, &c->R->release, c->R->release_id)) {
        skip(c, id);
        stg_diag_set(&d, STG_REJECT_STALE, "release", "%s %s is older than the adopted %s",
                     rel.component, rel.version, c->R->release.version);
        stg__reject(c, &d, from);
        return;
    }
    if (stg__adopt(c, env, len, &rel, id) != 0) return;
    char hex[17];
    stg__id_hex(id, hex);
    stg__log(c, STG_LOG_INFO, "rollout", "adopted release %s %s (%s)", rel.component,
             rel.version, hex);
    stg__journal_save(c);
    if (!c->exec_have) stg__own_changed(c); /* our record now names it (see stg__sign_own) */
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RELEASE;
    m.blob = c->R->release_env;
    m.blob_len = c->R->release_len;
    /* Records name the release, so a member the flood missed asks for it. */
    stg__flood(c, from, &m);
}

/* A record names a release we do not hold: ask its sender for it. */
void stg__rollout_record(stg_core_t *c, int idx) {
    uint8_t id[8];
    if (!lacks(c, idx, id)) return;
    if (c->release_want_ms && c->now - c->release_want_ms < WANT_EVERY_MS) return;
    want(c, idx, id);
}

/* Still lacking a release some record names: ask again, with backoff, a
 * different member each time. */
void stg__release_tick(stg_core_t *c) {
    int64_t wait = c->want_backoff_ms ? c->want_backoff_ms : WANT_EVERY_MS;
    if (c->self < 0 || c->now - c->release_want_ms < wait) return;
    unsigned n = c->roster->nmembers;
    uint8_t id[8];
    for (unsigned k = 1; k <= n; k++) {
        int idx = (int)((c->want_rr + k) % n);
        if (stg__usable(c, idx) && lacks(c, idx, id)) {
            c->want_rr = (unsigned)idx;
            want(c, idx, id);
            return;
        }
    }
    c->release_want_ms = c->now; /* nothing lacking: look again in a second */
    c->want_backoff_ms = 0;
}
