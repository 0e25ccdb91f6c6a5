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

/* Between elected and done, or rolling back: the node holds a slot (the
 * rollout's rule, so the core's; the phases themselves are in record.h). */
bool stg_phase_updating(stg_phase_t p);

#define STG_HOOK_MAP(X)            \
    X(INSTALL, "install")          \
    X(HEALTH, "health")            \
    X(ROLLBACK, "rollback")        \
    X(GATE, "gate")

typedef enum {
#define X(name, text) STG_HOOK_##name,
    STG_HOOK_MAP(X)
#undef X
    STG_HOOK__COUNT
} stg_hook_kind_t;

const char *stg_hook_name(stg_hook_kind_t h);

/* Why a voter refused a slot (also why the rollout waits). */
#define STG_DENY_MAP(X)                                      \
    X(NONE, "granted")                                       \
    X(NO_RELEASE, "no such release adopted")                 \
    X(HALTED, "the fleet is halted")                         \
    X(FAILED_RELEASE, "the release failed")                  \
    X(SLOT_TAKEN, "the slot is held")                        \
    X(HOLDS_OTHER, "the candidate holds another slot")       \
    X(BUDGET, "too many members unavailable")                \
    X(NOT_NEXT, "not next in the order")                     \
    X(WINDOW, "outside the update windows")                  \
    X(EPOCH_GUARD, "an epoch boundary is near")              \
    X(PROOF, "the release is not proven yet")                \
    X(NOT_YET, "the release is not valid yet")               \
    X(GATE, "the gate hook said no") /* reserved: never sent */ \
    X(ALREADY_DONE, "the candidate already runs it")         \
    X(ABANDONED, "the operator abandoned the release")       \
    X(NO_DISK, "the voter cannot write its journal")         \
    X(TWO_FORGERS, "more than one member forges")           \
    X(FORK, "a version-correlated fork")

typedef enum {
#define X(name, text) STG_DENY_##name,
    STG_DENY_MAP(X)
#undef X
    STG_DENY__COUNT
} stg_deny_t;

const char *stg_deny_text(stg_deny_t d);

typedef struct {
    int64_t probe_interval_ms;    /* one direct ping per period */
    int64_t probe_timeout_ms;     /* then ask others (ping-req) */
    unsigned indirect_checks;     /* helpers asked per failed ping */
    int64_t suspicion_ms;         /* suspect -> dead when not refuted, once enough
                                     members confirmed it; up to 6 times this
                                     before any did (docs/protocol.md §7.5) */
    int64_t sync_interval_ms;     /* one anti-entropy summary per period */
    unsigned fanout;              /* peers a new record is pushed to */
    int64_t health_interval_ms;   /* how often the health hook runs */
    unsigned retransmit;          /* sends of each liveness claim */
    unsigned partners;            /* probe and gossip with at most this many
                                     members; 0: with all (docs/protocol.md §7.8) */
    int64_t start_bound_ms;       /* a grant not started within this expires */
    int64_t backoff_ms;           /* base delay after a lost election */
    unsigned local_health_max;    /* Lifeguard: the highest local health score
                                     (0..8); probe interval and timeout are
                                     multiplied by 1 + the score. 0: off */
    unsigned crash_restarts;      /* an update fails at once when the service
                                     restarted this often (the health hook's
                                     restarts=) within crash_window_ms of the
                                     install. 0: off */
    int64_t crash_window_ms;
    int64_t refresh_ms;           /* while healthy, a new detail or chain tip is
                                     signed into our record at most this often
                                     (a change of health, version or phase at
                                     once) */
} stg_core_tuning_t;

/* Defaults, documented in docs/operations.md. */
void stg_core_tuning_default(stg_core_tuning_t *t);

typedef struct {
    const stg_seckey_t *key;      /* borrowed for the core's lifetime */
    const uint8_t *roster_env;    /* signed roster, copied */
    size_t roster_len;
    int64_t incarnation;          /* this start's, from the journal: > last */
    uint64_t seed;                /* random source */
    const uint8_t *journal;       /* last persisted journal, or NULL; copied */
    size_t journal_len;
    const uint8_t *commands;      /* commands.json of versions before 0.1 kept
                                   * commands apart from the journal, or NULL */
    size_t commands_len;
    char component[STG_NAME_MAX + 1]; /* the primary component: our record's top level */
    /* The other components this node manages, each with its own hooks in
     * the shell and its own releases (docs/operations.md, "Components"):
     * one executor and one slot serve them all. Component k > 0 of the
     * core is extra_components[k - 1]. */
    unsigned nextra;
    char extra_components[STG_COMPONENTS_MAX - 1][STG_NAME_MAX + 1];
    char stagger[STG_VERSION_MAX + 1]; /* our own version, for our record; "" none */
    stg_caps_t caps_without;      /* capabilities (caps.h) to leave out of our record,
                                     as a staggerd older than them would: the
                                     simulator plays mixed versions with it;
                                     staggerd leaves it 0 (all of STG_CAPS_OWN) */
    stg_core_tuning_t tuning;
} stg_core_config_t;

/* Where a PERSIST action writes (docs/operations.md, the state directory). */
#define STG_STORE_MAP(X)                \
    X(INCARNATION, "incarnation")       \
    X(ROSTER, "roster")                 \
    X(JOURNAL, "journal")               \
    X(AUDIT, "audit")

typedef enum {
#define X(name, text) STG_STORE_##name,
    STG_STORE_MAP(X)
#undef X
    STG_STORE__COUNT
} stg_store_t;

const char *stg_store_name(stg_store_t s);

#define STG_EV_MAP(X)               \
    X(TICK, "tick")                 \
    X(MESSAGE, "message")           \
    X(HEALTH, "health")             \
    X(ROSTER, "roster")             \
    X(HOOK_DONE, "hook-done")       \
    X(RELEASE, "release")           \
    X(LINK_LOST, "link-lost")       \
    X(PERSISTED, "persisted")      \
    X(LOOP_LATE, "loop-late")      \
    X(AWAY, "away")

typedef enum {
#define X(name, text) STG_EV_##name,
    STG_EV_MAP(X)
#undef X
} stg_ev_type_t;

typedef struct {
    stg_ev_type_t type;
    int64_t now_ms;
    /* MESSAGE: the authenticated sender's roster index (-1 for a
     * non-member client such as an operator) and the frame.
     * LINK_LOST: the member whose established connection just ended (its
     * process died, or restarted): a hint to probe it now, never proof. */
    int from;
    const uint8_t *data;          /* MESSAGE frame, ROSTER envelope; borrowed */
    size_t len;
    /* HEALTH: result of the health hook of our component `component` (0: the
     * primary; k: the config's extra_components[k - 1]). */
    unsigned component;
    stg_health_t health;
    const char *version;          /* may be NULL: unchanged */
    const char *build;            /* HEALTH: the hook's build=, the SHA-256 (64 hex)
                                     of the artifact it runs; NULL: unchanged */
    const stg_tip_t *tip;         /* HEALTH: the hook's tip=; NULL when it said none */
    const char *detail;           /* may be NULL */
    const char *progress;         /* HEALTH: progress marker, NULL when none */
    stg_forging_t forging;        /* HEALTH: the hook's forging=, UNKNOWN when it said none */
    uint32_t restarts;            /* HEALTH: the hook's restarts= (how often the
                                     service has restarted: systemd's NRestarts,
                                     a container's RestartCount), 0 when none */
    bool has_restarts;            /* HEALTH: the hook said restarts= this run */
    /* HOOK_DONE: which hook, and whether it succeeded (exit 0 in time). */
    stg_hook_kind_t hook;
    bool ok;
    /* PERSISTED: the result (ok, and detail on failure) of the PERSIST
     * action with this store and gen. The shell reports every journal
     * write: messages and hook runs that depend on it are held until it
     * succeeded (docs/operations.md, "writes are barriers"). */
    stg_store_t store;
    uint64_t gen;
    /* LOOP_LATE: the shell's own loop ran this late (ms): a timer fired,
     * or an event was handled, this long after the core's wake-up was due
     * (the process was starved of CPU, or busy). Sent before the event
     * that noticed it. The core does not blame peers for answers it could
     * not read in that gap (docs/protocol.md §7.5). */
    int64_t late_ms;
    /* AWAY: the running install or rollback hook (hook) announced that the
     * machine is about to be away for up to this long (its away=S line, ms):
     * a planned reboot. 1..STG_AWAY_MAX_MS; the core signs it into our
     * record and pushes it at once (stg_core_away_sent says when it left). */
    int64_t away_ms;
} stg_event_t;

#define STG_ACT_MAP(X)              \
    X(SEND, "send")                 \
    X(PERSIST, "persist")           \
    X(LOG, "log")                   \
    X(RUN_HEALTH, "run-health")     \
    X(RUN_HOOK, "run-hook")         \
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
    stg_store_t store;            /* PERSIST: replace the store's file, or for
                                   * STG_STORE_AUDIT append a line */
    uint64_t gen;                 /* PERSIST of the journal: report the result
                                   * as a PERSISTED event with this gen */
    uint8_t msg_type;             /* SEND: the message type (stg_msg_type_t) */
    stg_hook_kind_t hook;         /* RUN_HOOK */
    unsigned component;           /* RUN_HEALTH, RUN_HOOK: which of our components
                                     (stg_event_t.component); a RUN_HOOK's release
                                     is that component's */
    const stg_release_t *release; /* RUN_HOOK: borrowed, valid until the next step */
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
    bool rebooting;               /* announced a planned absence and stopped
                                     answering inside it: not suspect, not dead */
    int64_t away_left_ms;         /* what is left of its announced window on our
                                     clock, 0: none */
    int64_t last_heard_ms;        /* 0 = never */
} stg_member_view_t;

void stg_core_member(const stg_core_t *core, int idx, stg_member_view_t *out);
/* Member idx's liveness alone, what is left of its announced absence (0:
 * none) and whether it is rebooting in it (may be NULL), without copying
 * its record: cheap enough for the simulator's checks after every step. */
stg_live_t stg_core_member_live(const stg_core_t *core, int idx, int64_t *away_left_ms,
                                bool *rebooting);
/* What the status shows: healthy/unhealthy only for live members with a
 * record; otherwise unknown. */
stg_health_t stg_core_shown_health(const stg_core_t *core, int idx);
/* Is member idx one this node probes and gossips with (docs/protocol.md
 * §7.8)? Everyone else, when the roster has at most tuning.partners + 1
 * members. */
bool stg_core_partner(const stg_core_t *core, int idx);

/* Rejection counters by reason, and counters of notable events. */
typedef struct {
    uint64_t rejects[STG_REJECT__COUNT];
    uint64_t msgs_in, msgs_out, records_new, suspicions, deaths, refutes,
        roster_updates;
    uint64_t grants, denials[STG_DENY__COUNT], elections_won, elections_lost, transitions;
    uint64_t journal_writes, journal_write_failures; /* as the shell reported them */
    uint64_t records_stale;       /* gossip brought an older copy of a record: normal */
    uint64_t loop_late;           /* LOOP_LATE events longer than the probe timeout */
    uint64_t nacks;               /* nacks received from ping-req helpers */
    uint64_t confirmations;       /* independent accusers counted on suspicions */
} stg_core_stats_t;
const stg_core_stats_t *stg_core_stats(const stg_core_t *core);
/* A planned absence of ours (STG_EV_AWAY): how long our record still
 * announces, 0 when none; and whether the record announcing it has left for
 * every partner (signed, its journal write done, nothing held behind it):
 * the hook that reboots may go on then. */
int64_t stg_core_away_left(const stg_core_t *core);
bool stg_core_away_sent(const stg_core_t *core);

/* Lifeguard's local health score, 0 (healthy) .. tuning.local_health_max:
 * how much this node distrusts its own timing (docs/protocol.md §7.5). */
int stg_core_local_health(const stg_core_t *core);

/* The executor of this node, for the simulator's invariants and status. */
typedef struct {
    stg_phase_t phase;
    int slot;                     /* slot held, or -1 */
    unsigned acks;                /* start acknowledgements that made it hold the slot */
    bool have_release;
    stg_release_t release;        /* the release the phase is about */
    uint8_t release_id[8];
    int64_t since_ms;
    char detail[STG_DETAIL_MAX + 1];
    bool emergency;               /* an operator's emergency update: no slot, by design */
} stg_exec_view_t;
void stg_core_exec(const stg_core_t *core, stg_exec_view_t *out);

/* The executor in brief, without copying the release: cheap enough for the
 * simulator to call after every step. */
typedef struct {
    stg_phase_t phase;
    int slot;                     /* slot held, or -1 */
    unsigned acks;
    bool have_release;
    uint8_t release_id[8];        /* the release the phase is about */
    int64_t since_ms;
    bool emergency;               /* an operator's emergency update: no slot, by design */
} stg_exec_brief_t;
void stg_core_exec_brief(const stg_core_t *core, stg_exec_brief_t *out);

/* A member whose record, in this node's view, shows it failed on release
 * id (failed, rolling back or rolled back); -1 when none. */
int stg_core_failed_member(const stg_core_t *core, const uint8_t id[8]);

/* False while this node's last journal write failed: everything it decided
 * since (votes, starts, floods, hook runs) waits for a write that works. */
bool stg_core_journal_ok(const stg_core_t *core);
/* How many sends and hook runs wait behind a journal write not yet
 * confirmed: a shell that replaces its image (staggerd's re-exec) waits for
 * 0, so nothing the core decided is lost with the old image. */
unsigned stg_core_held_actions(const stg_core_t *core);

/* The highest emergency command sequence this node applied (0: none), and
 * whether the operator halted the fleet in its view. */
int64_t stg_core_cmd_seq(const stg_core_t *core);
bool stg_core_halted(const stg_core_t *core);

/* The release this node has adopted (newest valid for its component), or
 * NULL. Borrowed, valid until the next step. */
const stg_release_t *stg_core_release(const stg_core_t *core, uint8_t id[8]);
/* Our components: how many (1 + the config's nextra), the name of
 * component k, and the release of it we adopted (NULL: none) and why its
 * rollout waits (status's rollout.waiting for component 0). */
unsigned stg_core_ncomponents(const stg_core_t *core);
const char *stg_core_component(const stg_core_t *core, unsigned k);
const stg_release_t *stg_core_release_of(const stg_core_t *core, unsigned k, uint8_t id[8]);

/* This voter's grant of slot s: holder index, or -1. */
int stg_core_grant(const stg_core_t *core, unsigned slot, uint8_t release_id[8], bool *started);

/* The 8-byte id of a release: BLAKE2b-64 of its envelope payload. */
void stg_release_id(const uint8_t *payload, size_t len, uint8_t id[8]);

/* The capabilities every roster member has, by the records this node
 * holds (docs/protocol.md §11): a feature every member must understand is
 * used only when its capability is in this set. A member whose record has
 * not reached this node yet counts as having none. */
stg_caps_t stg_core_fleet_caps(const stg_core_t *core);
/* Would the core refuse this command from a client because a member lacks
 * a capability its action needs (stg_cmd_needs)? 0 when not; otherwise
 * STG_EREJECT with d saying MISSING_CAPABILITY and naming the members, the
 * text the core logged when it refused it. */
int stg_core_cmd_capable(const stg_core_t *core, const stg_command_t *cmd, stg_diag_t *d);

/* Status as JSON (schema in docs/protocol.md §8). Caller owns the result. */
json_t *stg_core_status_json(const stg_core_t *core, int64_t now_ms);

#endif
