/* core.h: the pure decision logic of a stagger node.
 *
 * Sans-I/O: events in, actions out. The core makes no system call, reads no
 * clock and draws no randomness of its own: the time comes with every
 * event, the random source is seeded by the caller. The shell (staggerd)
 * and the simulator drive the same code.
 *
 *   stg_core_step(core, &event, &actions)
 *
 * Membership and liveness follow SWIM (direct ping, indirect ping-req,
 * suspicion refuted by a higher incarnation); state spreads by signed
 * records, pushed when they change and reconciled by push-pull
 * anti-entropy (a summary hash first, the version vector only when the
 * hashes differ). */
#ifndef STAGGER_CORE_H
#define STAGGER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stagger/doc.h"
#include "stagger/record.h"
#include "stagger/wire.h"

typedef struct stg_core stg_core_t;

typedef struct {
    int64_t probe_interval_ms;    /* one direct ping per period */
    int64_t probe_timeout_ms;     /* then ask others (ping-req) */
    unsigned indirect_checks;     /* helpers asked per failed ping */
    int64_t suspicion_ms;         /* suspect -> dead when not refuted */
    int64_t sync_interval_ms;     /* one anti-entropy summary per period */
    unsigned fanout;              /* peers a new record is pushed to */
    int64_t health_interval_ms;   /* how often the health hook runs */
    unsigned retransmit;          /* sends of each liveness claim */
} stg_core_tuning_t;

/* Defaults, documented in docs/operations.md. */
void stg_core_tuning_default(stg_core_tuning_t *t);

typedef struct {
    const stg_seckey_t *key;      /* borrowed for the core's lifetime */
    const uint8_t *roster_env;    /* signed roster, copied */
    size_t roster_len;
    int64_t incarnation;          /* this start's, from the journal: > last */
    uint64_t seed;                /* random source */
    char component[STG_NAME_MAX + 1];
    stg_core_tuning_t tuning;
} stg_core_config_t;

#define STG_EV_MAP(X)               \
    X(TICK, "tick")                 \
    X(MESSAGE, "message")           \
    X(HEALTH, "health")             \
    X(ROSTER, "roster")

typedef enum {
#define X(name, text) STG_EV_##name,
    STG_EV_MAP(X)
#undef X
} stg_ev_type_t;

typedef struct {
    stg_ev_type_t type;
    int64_t now_ms;
    /* MESSAGE: the authenticated sender's roster index (-1 for a
     * non-member client such as an operator) and the frame. */
    int from;
    const uint8_t *data;          /* MESSAGE frame, ROSTER envelope; borrowed */
    size_t len;
    /* HEALTH: result of the health hook. */
    stg_health_t health;
    const char *version;          /* may be NULL: unchanged */
    const char *detail;           /* may be NULL */
} stg_event_t;

#define STG_ACT_MAP(X)              \
    X(SEND, "send")                 \
    X(PERSIST, "persist")           \
    X(LOG, "log")                   \
    X(RUN_HEALTH, "run-health")     \
    X(ROSTER_CHANGED, "roster-changed")

typedef enum {
#define X(name, text) STG_ACT_##name,
    STG_ACT_MAP(X)
#undef X
} stg_act_type_t;

typedef enum { STG_LOG_ERROR, STG_LOG_WARNING, STG_LOG_INFO, STG_LOG_DEBUG } stg_log_level_t;

typedef struct {
    stg_act_type_t type;
    int peer;                     /* SEND: roster index */
    stg_log_level_t level;        /* LOG */
    const char *tag;              /* LOG: "gossip", "swim", "roster", ... */
    const char *name;             /* PERSIST: "incarnation", "roster" */
    const uint8_t *data;          /* borrowed from the action list */
    size_t len;
} stg_action_t;

#define STG_ACTIONS_MAX 512
#define STG_ARENA_BYTES (512u * 1024u)

/* Filled by stg_core_step; valid until the next step. Large: allocate it
 * once (heap), reuse it. */
typedef struct {
    unsigned n;
    unsigned dropped;             /* actions that did not fit */
    stg_action_t a[STG_ACTIONS_MAX];
    size_t used;
    uint8_t arena[STG_ARENA_BYTES];
} stg_actions_t;

/* Make a core; NULL with err filled when the config or roster is bad.
 * Caller owns the result (stg_core_destroy). */
stg_core_t *stg_core_new(const stg_core_config_t *cfg, int64_t now_ms, stg_diag_t *err);
void stg_core_destroy(stg_core_t **core);

/* Process one event. Actions are appended to acts after it is cleared. */
void stg_core_step(stg_core_t *core, const stg_event_t *ev, stg_actions_t *acts);

/* When the core next wants a TICK (absolute ms). */
int64_t stg_core_next_wakeup(const stg_core_t *core);

/* Borrowed, valid until the next step. */
const stg_roster_t *stg_core_roster(const stg_core_t *core);
int stg_core_self(const stg_core_t *core);

/* Per-member view for status. */
typedef struct {
    bool have_record;
    stg_record_t rec;
    stg_live_t live;
    bool known;                   /* ever heard of (record received) */
    int64_t last_heard_ms;        /* 0 = never */
} stg_member_view_t;

void stg_core_member(const stg_core_t *core, int idx, stg_member_view_t *out);
/* What the status shows: healthy/unhealthy only for live members with a
 * record; otherwise unknown. */
stg_health_t stg_core_shown_health(const stg_core_t *core, int idx);

/* Rejection counters by reason, and counters of notable events. */
typedef struct {
    uint64_t rejects[STG_REJECT__COUNT];
    uint64_t msgs_in, msgs_out, records_new, suspicions, deaths, refutes,
        roster_updates;
} stg_core_stats_t;
const stg_core_stats_t *stg_core_stats(const stg_core_t *core);

/* Status as JSON (schema in docs/protocol.md §8). Caller owns the result. */
json_t *stg_core_status_json(const stg_core_t *core, int64_t now_ms);

#endif
