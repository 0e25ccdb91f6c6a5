/* members.c: the roster in the core: install a newer signed roster, carry
 * what we know across by key, and spread it to every member. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

void stg__send_roster(stg_core_t *c, int peer) {
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

int stg__install_roster(stg_core_t *c, stg_roster_t *r, const uint8_t *env, size_t len) {
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
            c->peers[old].tips = NULL; /* moved: not freed with the old array */
            peers[i].roster_sent_ms = 0;
            if (strcmp(peers[i].rec.node, r->members[i].name) != 0) peers[i].have = false;
        }
    }
    /* Grants follow their holders by key too: forgetting a started grant
     * would let a second member take a slot still in use. A holder that
     * left the roster is dropped by the rollout's expiry pass. */
    for (unsigned s = 0; s < STG_BATCH_MAX && c->roster; s++) {
        int h = c->grants[s].holder;
        if (h >= 0 && (unsigned)h < c->roster->nmembers)
            stg__grant_set(c, s, stg_roster_find_key(r, &c->roster->members[h].key), r->nmembers);
    }
    c->promoted.on = false; /* a roster states its roles; a promote was of the old one */
    stg__peers_free(c);
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
    stg__find_partners(c);
    stg__reshuffle(c);
    c->urgent = -1;
    c->R->rank_valid = false;
    /* A campaign in flight counted votes by index, so it starts over, its
     * grants freed (the grants themselves were carried across above). */
    stg__attempt_end(c, false, "the roster changed");
    return 0;
}

void stg__on_roster(stg_core_t *c, const uint8_t *env, size_t len, int from) {
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
    if (stg__install_roster(c, r, env, len) != 0) {
        free(r);
        return;
    }
    c->stats.roster_updates++;
    stg__persist(c, STG_STORE_ROSTER, env, len);
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
    stg__own_changed(c);
    /* Flood: every member hears it at once. */
    for (unsigned i = 0; i < r->nmembers; i++) stg__send_roster(c, (int)i);
}
