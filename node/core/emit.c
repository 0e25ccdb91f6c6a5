/* emit.c: the action list of one step: sends, writes, logs and hook runs
 * go out through here, into the caller's stg_actions_t and its arena. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

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
