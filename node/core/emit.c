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
    x->msg_type = m->type;
    x->data = p;
    x->len = (size_t)n;
    c->stats.msgs_out++;
}

void stg__persist(stg_core_t *c, stg_store_t store, const void *data, size_t len) {
    uint8_t *p = stg__arena(c, len);
    stg_action_t *x = p ? stg__act(c, STG_ACT_PERSIST) : NULL;
    if (!x) return;
    memcpy(p, data, len);
    x->store = store;
    x->data = p;
    x->len = len;
    if (store == STG_STORE_JOURNAL) {
        x->gen = ++c->jgen;
        c->jgen_sent_ms = c->now;
    }
}

/* ---- writes are barriers ----------------------------------------------- */

/* Probes carry no state of ours: they leave at once, so a node that waits
 * for its disk is not declared dead meanwhile. An operator's command is the
 * operator's signed word, not our state: relaying it depends on no write of
 * ours, and holding it would keep a rollback or halt from a fleet whose
 * first receiver cannot write (each receiver records it itself). */
static bool barrier_free(const stg_action_t *x) {
    if (x->type == STG_ACT_SEND)
        return x->msg_type == STG_MSG_PING || x->msg_type == STG_MSG_ACK ||
               x->msg_type == STG_MSG_PING_REQ || x->msg_type == STG_MSG_NACK ||
               x->msg_type == STG_MSG_SUSPECT || x->msg_type == STG_MSG_COMMAND;
    return x->type != STG_ACT_RUN_HOOK;
}

static void hold(stg_core_t *c, const stg_action_t *x, uint64_t gen) {
    if (c->nheld == HELD_MAX) {
        /* Full (a disk that stays full): the oldest message goes; gossip
         * repairs it later. A hook run is never dropped. */
        unsigned k = 0;
        while (k < c->nheld && c->held[k].type != STG_ACT_SEND) k++;
        if (k == c->nheld) return;
        free(c->held[k].data);
        memmove(&c->held[k], &c->held[k + 1], (c->nheld - k - 1) * sizeof c->held[0]);
        c->nheld--;
    }
    held_t *h = &c->held[c->nheld];
    *h = (held_t){.type = x->type, .peer = x->peer, .msg_type = x->msg_type, .hook = x->hook,
                  .release = x->release, .len = x->len, .gen = gen};
    if (x->type == STG_ACT_SEND) {
        h->data = malloc(x->len);
        if (!h->data) return;
        memcpy(h->data, x->data, x->len);
    }
    c->nheld++;
}

void stg__hold_behind_write(stg_core_t *c, bool write) {
    stg_actions_t *a = c->acts;
    if (write || c->nheld) {
        /* What this step decided leaves after the write that records it,
         * and after anything already waiting, in order. */
        uint64_t gen = write ? c->jgen + 1 : c->jgen;
        unsigned k = c->acts_exempt;
        for (unsigned i = c->acts_exempt; i < a->n; i++) {
            if (barrier_free(&a->a[i])) a->a[k++] = a->a[i];
            else hold(c, &a->a[i], gen);
        }
        a->n = k;
    }
}

void stg__on_persisted(stg_core_t *c, const stg_event_t *ev) {
    if (ev->store != STG_STORE_JOURNAL) return;
    c->stats.journal_writes++;
    if (!ev->ok) {
        c->stats.journal_write_failures++;
        snprintf(c->write_error, sizeof c->write_error, "%s", ev->detail ? ev->detail : "");
        if (!c->write_failed || c->now - c->write_error_log_ms >= 60000) {
            stg__log(c, STG_LOG_ERROR, "journal",
                     "cannot write the journal (%s): not voting or starting until it can; "
                     "%u messages and hook runs wait for it",
                     c->write_error, c->nheld);
            c->write_error_log_ms = c->now;
        }
        c->write_failed = true;
        c->write_retry_ms = c->now + WRITE_RETRY_MS;
        return;
    }
    if (ev->gen > c->jgen_done) c->jgen_done = ev->gen;
    if (c->write_failed) {
        c->write_failed = false;
        c->write_error[0] = '\0';
        stg__log(c, STG_LOG_INFO, "journal", "the journal is written again; %u waiting actions leave",
                 c->nheld);
    }
    unsigned k = 0;
    for (unsigned i = 0; i < c->nheld; i++) {
        held_t *h = &c->held[i];
        if (h->gen > c->jgen_done) {
            c->held[k++] = *h;
            continue;
        }
        if (h->type == STG_ACT_RUN_HOOK) {
            stg_action_t *x = stg__act(c, STG_ACT_RUN_HOOK);
            if (x) {
                x->hook = h->hook;
                x->release = h->release;
            }
        } else if (h->data) {
            uint8_t *p = stg__arena(c, h->len);
            stg_action_t *x = p ? stg__act(c, STG_ACT_SEND) : NULL;
            if (x) {
                memcpy(p, h->data, h->len);
                x->peer = h->peer;
                x->msg_type = h->msg_type;
                x->data = p;
                x->len = h->len;
            }
        }
        free(h->data);
    }
    c->nheld = k;
    if (c->acts) c->acts_exempt = c->acts->n;
}

void stg__held_free(stg_core_t *c) {
    for (unsigned i = 0; i < c->nheld; i++) free(c->held[i].data);
    c->nheld = 0;
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
