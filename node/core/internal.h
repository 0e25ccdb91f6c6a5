/* internal.h: the state of one core, shared by its modules, and the
 * functions they call in each other. Not installed; nothing outside node/core sees it. */
#ifndef STAGGER_CORE_INTERNAL_H
#define STAGGER_CORE_INTERNAL_H

/* The core's invariants hold in every build: a broken one is a bug that
 * must stop the daemon (systemd restarts it from its journal), not a line
 * in a log that the next step builds on. */
#undef NDEBUG
#include <assert.h>

#include "stagger/core.h"
#include "executor.h"
#include "rng.h"

#define CLAIMS_MAX 64
#define RELAYS_MAX 32
#define REJECT_LOG_EVERY_MS 10000
#define DEAD_PING_EVERY 4     /* probe rounds, on average, between pings to the dead */
/* Lifeguard (docs/protocol.md §7.5): a suspicion lasts SUSPICION_MAX_MULT
 * times tuning.suspicion_ms with no independent confirmation, and shrinks
 * to suspicion_ms with SUSPECT_CONFIRM_K of them. */
#define SUSPICION_MAX_MULT 6
#define SUSPECT_CONFIRM_K 3
#define LHM_LIMIT 8           /* the highest local_health_max */
#define LATE_LOG_EVERY_MS 10000

/* One chain tip a member reported (fork.c): the block number and the first
 * 16 hex digits of its hash. */
#define STG_TIP_HIST 32
typedef struct {
    int64_t block;
    uint64_t hash;
} tip_seen_t;

typedef struct {
    bool have;
    stg_record_t rec;
    uint8_t env[STG_RECORD_ENV_MAX];
    size_t env_len;
    stg_live_t live;
    uint64_t live_inc;            /* incarnation the liveness state is about */
    int64_t suspect_deadline_ms;
    int64_t suspect_since_ms;     /* when this suspicion began, on our clock */
    uint8_t accusers[STG_MEMBERS_MAX / 8]; /* members whose own probe of it failed */
    unsigned naccusers;
    int64_t last_heard_ms;
    int64_t roster_sent_ms;       /* rate limit for roster pushes to it */
    int64_t cmd_sent_ms;          /* rate limit for command catch-up to it */
    /* per component of ours (comps[k]): */
    int64_t proof_key[STG_COMPONENTS_MAX]; /* the healthy period the proof times (stg__proof_key) */
    int64_t proof_seen_ms[STG_COMPONENTS_MAX]; /* when we first saw it, on our clock */
    int64_t skew_ms;              /* its clock minus ours, from its last direct push */
    unsigned skew_over;           /* consecutive pushes beyond STG_CLOCK_SKEW_MAX_MS */
    bool cleared;                 /* clear-grants: its record (cleared_inc, cleared_seq) */
    int64_t cleared_inc, cleared_seq; /* no longer counts as holding a slot */
    int64_t away_until_ms;        /* its record announces a planned absence (away_ms):
                                     until then, on our clock from when we got that
                                     record, a failed probe makes it rebooting, not
                                     suspect (swim.c); 0: none */
    bool away_down;               /* inside that window a probe of it failed: it is
                                     rebooting */
    tip_seen_t *tips;             /* the last distinct heights it reported (STG_TIP_HIST,
                                     allocated at its first tip: a fleet whose
                                     hooks report none pays nothing) */
    uint8_t ntips, tip_next;
} peer_t;

typedef struct {
    uint16_t member;
    uint8_t state;
    uint64_t inc;
    unsigned left;                /* transmissions still to make */
} claim_t;

typedef struct {
    bool active, acked, indirect_sent;
    int target;
    uint32_t seq;
    int64_t sent_ms;              /* the ping left (or the wait began again, after our
                                     own loop ran late) */
    unsigned nacks_expected, nacks; /* from the ping-req helpers */
    int64_t verdict_ms;           /* once ping-reqs went out: judged then, even
                                     before the period ends (§7.5) */
    uint64_t away_inc;            /* sent inside the target's announced absence: the
                                     incarnation that announced it, else 0 */
} probe_t;

typedef struct {
    bool used;
    uint32_t my_seq;
    int origin;
    uint32_t origin_seq;
    int64_t expires_ms;
    int64_t nack_ms;              /* no ack from the target by then: nack the origin */
    bool nack_sent;
} relay_t;

typedef struct {
    int holder;                   /* -1: free */
    uint64_t attempt;             /* the holder's election attempt it was granted to */
    uint8_t release[8];
    bool started;                 /* the holder confirmed it started */
    int64_t at_ms;
    int64_t queried_ms;           /* when we last asked the holder about it (slot-query) */
} grant_t;

#define WANT_EVERY_MS 1000        /* release-want: the first retry, and the rate limit */
#define WANT_MAX_MS 30000         /* release-want: the longest backoff */
#define WANT_SKIP_MAX 8
#define QUERY_EVERY_MS 2000       /* ask a started grant's holder this often, while
                                     its record does not show it using the grant */

typedef struct {
    bool active;
    uint64_t id;                  /* (incarnation << 24) + counter: ties answers to it */
    int slot;
    uint8_t release[8];
    int64_t began_ms;
    bool start_sent;
    uint8_t granted[STG_MEMBERS_MAX / 8], acked[STG_MEMBERS_MAX / 8], denied[STG_MEMBERS_MAX / 8];
    unsigned ngranted, nacked, ndenied;
    stg_deny_t last_deny;
} attempt_t;

#define STG_CMD_HISTORY 8

/* An action that waits for a journal write (emit.c, "writes are barriers"). */
typedef struct {
    stg_act_type_t type;          /* SEND or RUN_HOOK */
    int peer;
    uint8_t msg_type;
    stg_hook_kind_t hook;
    const stg_release_t *release; /* RUN_HOOK: points into the core */
    uint8_t *data;                /* SEND: owned copy */
    size_t len;
    uint64_t gen;                 /* leaves when the journal write of this gen succeeded */
} held_t;

#define HELD_MAX 256
#define WRITE_RETRY_MS 1000       /* a failed journal write is tried again this often */
#define WRITE_ANSWER_MS 5000      /* a write the shell never reported is written again */
#define CMD_SEQ_PUSH_MS 500       /* our record whose only change is cmd_seq waits this long */

typedef struct {
    uint8_t *env;
    size_t len;
    int64_t seq;
    stg_cmd_action_t action;
    int64_t expires_at_s;
    int64_t applied_ms;
    char reason[STG_CMD_REASON_MAX + 1]; /* the operator's --reason, for status */
} cmd_hist_t;

/* One component this node manages (docs/operations.md, "Components"):
 * its service's health as its own health hook says, and the release of it
 * the node adopted. comps[0] is the primary: its health and version are
 * the top level of our record; the others ride the record's "components".
 * The machine has one executor and one slot, whatever the component. */
typedef struct {
    char name[STG_NAME_MAX + 1];
    stg_health_t health;
    char version[STG_VERSION_MAX + 1];
    char build[65];               /* the artifact's SHA-256 our service runs, or "" */
    char detail[STG_DETAIL_MAX + 1];
    int64_t health_since_ms;
    bool health_heard;            /* a health hook reported since this start */
    /* the adopted release */
    bool have_release;
    stg_release_t release;
    uint8_t release_id[8];
    uint8_t *release_env;
    size_t release_len;
    bool rank_valid;              /* cache of the update order for rank_id */
    uint8_t rank_id[8];
    int rank[STG_MEMBERS_MAX];
    unsigned rank_n;
    bool abandoned;               /* the operator gave up on abandoned_id */
    uint8_t abandoned_id[8];
    char waiting[256];            /* why its rollout waits, for status */
} comp_t;

struct stg_core {
    stg_core_tuning_t t;
    const stg_seckey_t *key;
    comp_t comps[STG_COMPONENTS_MAX];
    unsigned ncomps;              /* the components we manage: comps[0..ncomps) */
    unsigned nknown;              /* and those whose release we only hold, to vote
                                     on and relay it: comps[ncomps..nknown) (§9.8) */
    comp_t *R;                    /* the component the rules are judged for now
                                     (stg__judge); &comps[0] between steps */
    char stagger[STG_VERSION_MAX + 1]; /* our staggerd's version (stg_core_config_t) */
    stg_caps_t caps;              /* ours, for our record: STG_CAPS_OWN less the
                                     config's caps_without */
    stg_roster_t *roster;
    uint8_t *roster_env;
    size_t roster_len;
    int self;                     /* -1 when we are not in the roster */
    int64_t inc, seq;
    peer_t *peers;                /* roster->nmembers entries */
    stg_rng_t rng;
    probe_t probe;
    int order[STG_MEMBERS_MAX];
    unsigned order_n, order_pos;
    int urgent;                   /* probe this member next (a lost link), or -1 */
    bool partner[STG_MEMBERS_MAX]; /* the members we probe and gossip with */
    unsigned npartners;
    bool tree[STG_MEMBERS_MAX];   /* our neighbours on the flood tree (peers.c) */
    bool have_tree;               /* false in a full mesh: floods go to every partner */
    relay_t relays[RELAYS_MAX];
    claim_t claims[CLAIMS_MAX];
    unsigned nclaims;
    uint32_t next_seq;
    int lhm;                      /* Lifeguard local health score, 0..t.local_health_max */
    int64_t late_log_ms;          /* loop-late warnings, rate-limited */
    unsigned late_unlogged;
    int64_t late_worst_ms;
    int64_t next_probe_ms, next_sync_ms, next_health_ms;
    int64_t summary_repair_ms;    /* when a ping's summary last started a digest exchange */
    stg_forging_t forging;        /* our service forges, as our health hook said */
    bool two_forgers;             /* the fleet has more than one forger (logged once) */
    struct {                      /* roles swapped by an operator's promote (members.c) */
        bool on;                  /* c->roster's producer and standby are swapped */
        int64_t serial, seq;      /* of the roster they were swapped in, the command */
        char producer[STG_NAME_MAX + 1], standby[STG_NAME_MAX + 1]; /* after the swap */
    } promoted;
    stg_tip_t tip;                /* our service's chain tip, as our health hook said */
    bool tips_dirty;              /* a tip or a release arrived: judge the fork again */
    struct {                      /* a version-correlated fork (fork.c) */
        bool on;
        int64_t since_block, last_block;
        unsigned nnew, nold;
        int new_m[STG_MEMBERS_MAX], old_m[STG_MEMBERS_MAX];
    } fork;
    bool started;
    stg_core_stats_t stats;
#if STG_SELFTEST_NEXT
    struct {                      /* staggerd-next's additions (selftest.c) */
        int64_t hello_next_ms;    /* no hello before this */
        uint64_t hello_sent, hello_received;
        uint64_t notes_via_old;   /* notes relayed to us by a member without one */
    } selftest;
#endif
    int64_t reject_log_ms[STG_REJECT__COUNT];
    uint64_t reject_unlogged[STG_REJECT__COUNT];
    int64_t release_want_ms;      /* last release-want sent, 0: none wanted */
    int64_t want_backoff_ms;      /* until the next one */
    unsigned want_rr;             /* the member asked last */
    uint8_t want_skip[WANT_SKIP_MAX][8]; /* fetched, not for us: not asked again */
    unsigned want_skip_next;
    /* rollout: this node as a voter */
    grant_t grants[STG_BATCH_MAX];
    /* rollout: this node as a candidate */
    attempt_t att;
    int64_t backoff_until_ms;
    int avoid_slot;               /* a majority said this slot is taken: try another */
    bool gate_running;
    int64_t gate_ok_until_ms;
    uint8_t gate_for[8];          /* the release the gate hook ran (runs) for */
    /* rollout: this node's executor */
    stg_exec_state_t exec_state;  /* executor.c's machine; only it moves it */
    stg_phase_t phase;            /* what our record shows: exec_state's phase */
    int slot;
    uint64_t slot_attempt;        /* the attempt that won the slot, for slot-free */
    uint32_t attempts;            /* election attempts in this incarnation */
    unsigned acks;
    int64_t phase_since_ms;
    int64_t deadline_ms;
    bool exec_have;
    stg_release_t exec_rel;
    uint8_t exec_id[8];
    uint8_t *exec_env;            /* the envelope of exec_rel, for the journal */
    size_t exec_len;
    char exec_detail[STG_DETAIL_MAX + 1];
    char last_progress[64];
    char fail_reason[STG_DETAIL_MAX + 1]; /* why the update failed, kept through rollback */
    char failed_rel[17];          /* the release (hex) we failed on, until the operator's
                                     resume: with several components our record says
                                     it after the executor moved on (§9.8) */
    int64_t forgive_seq;          /* a resume that waits for that report (0: none) */
    int64_t detail_signed_ms;     /* last record re-signed for a detail change */
    bool liveness_news;           /* a suspicion or death adopted, not spread yet */
    /* A planned absence of ours (an install or rollback hook said away=S,
     * before it reboots the machine): our record says away_ms until then,
     * on our clock; 0: none. install_away: the install hook running now
     * announced it (journaled: a restart resumes with its health check). */
    int64_t away_until_ms;
    bool install_away;
    int64_t news_spread_ms;       /* when news was last spread (stg__spread_news); 0: never */
    /* emergency commands (command.c) */
    int64_t cmd_seq;              /* highest applied, persisted */
    int64_t cmd_applied_ms;       /* when we applied it; 0 if loaded from the journal */
    cmd_hist_t cmd_hist[STG_CMD_HISTORY];
    unsigned ncmd_hist;
    char cmd_refusal[320];
    bool emergency_pending;       /* an emergency update waits for emergency_at_ms */
    int64_t emergency_at_ms;
    bool emergency_force;         /* the pending one skips the gate hook */
    bool emergency_after_healthy; /* and waits for the targets before us */
    unsigned emergency_nahead;    /* those targets (roster indices), in order */
    int emergency_ahead[STG_MEMBERS_MAX];
    char emergency_waits[160];    /* what it waits for, "" when nothing (logged once) */
    bool emergency;               /* the executor runs an emergency update */
    int64_t emergency_seq;
    unsigned emergency_comp;      /* the component (comps[]) it updates */
    int64_t soak_bad_since_ms;    /* unhealthy while soaking since, or 0 */
    /* crash loop (executor.c): the service's restart count at the first
     * health report after the install, and when the install ended */
    bool crash_have_base;
    uint32_t crash_base;
    int64_t crash_since_ms;
    uint8_t *pending_env;         /* the emergency release */
    size_t pending_len;
    bool hook_running;
    bool halted;
    /* writes are barriers (emit.c): one journal write at the end of a step,
     * and what depends on it held until the shell says it is on disk */
    bool journal_dirty;           /* write the journal at the end of this step */
    bool own_dirty;               /* sign and push our record at the end of this step */
    stg_record_t pushed;          /* our record as last pushed to the partners */
    bool pushed_have;
    int64_t own_push_at_ms;       /* a deferred push of a cmd_seq-only change; 0 none */
    uint64_t jgen;                /* generation of the last journal write asked for */
    uint64_t jgen_done;           /* the last one the shell confirmed */
    int64_t jgen_sent_ms;
    bool write_failed;            /* the last journal write failed: no votes, no starts */
    int64_t write_retry_ms;
    int64_t write_error_log_ms;
    char write_error[160];
    held_t held[HELD_MAX];
    unsigned nheld;
    unsigned acts_exempt;         /* actions before this index leave as they are */
    /* per step */
    stg_actions_t *acts;
    int64_t now;
};


/* The proof before the holdback nodes update (policy.c). */
typedef struct {
    bool holds;
    int64_t soak_left_ms;
    int64_t epochs_left;
    int64_t next_boundary_ms;
    int blocker;          /* a member that is not done yet, or -1 */
} proof_t;

/* emit.c */
uint8_t *stg__arena(stg_core_t *c, size_t n);
stg_action_t *stg__act(stg_core_t *c, stg_act_type_t type);
void stg__log(stg_core_t *c, stg_log_level_t lvl, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *stg__mname(const stg_core_t *c, int i);
void stg__send(stg_core_t *c, int peer, stg_msg_t *m);
void stg__persist(stg_core_t *c, stg_store_t store, const void *data, size_t len);
/* End of a step (core.c's flush): hold the step's messages and hook runs
 * behind the journal write about to be made (write) or still waiting. */
void stg__hold_behind_write(stg_core_t *c, bool write);
/* The shell's report of a journal write: release or keep what waits on it. */
void stg__on_persisted(stg_core_t *c, const stg_event_t *ev);
void stg__held_free(stg_core_t *c);
void stg__reject(stg_core_t *c, const stg_diag_t *d, int from);

/* peers.c */
bool stg__usable(const stg_core_t *c, int i);
/* News we start (from < 0: from a client) or that is new to us goes on
 * once, at once: along the flood tree over the overlay (to every usable
 * partner but the sender when the tree does not hold), to every partner or
 * `fanout` random others in a full mesh (peers.c, docs/protocol.md §7.8). */
void stg__flood(stg_core_t *c, int from, stg_msg_t *m);
unsigned stg__flood_targets(stg_core_t *c, int from, int *to);
unsigned stg__relay_targets(stg_core_t *c, int from, int *to);
unsigned stg__random_peers(stg_core_t *c, int not1, int not2, unsigned k, int *out);
int stg__random_peer(stg_core_t *c, int not1, int not2);
void stg__find_partners(stg_core_t *c);
/* Member m's partners (§7.8), as every member computes them. */
void stg__partners_of(const stg_core_t *c, unsigned m, bool out[STG_MEMBERS_MAX]);

/* lifeguard.c */
/* Our probe interval and timeout, stretched by the local health score. */
int64_t stg__probe_timeout(const stg_core_t *c);
int64_t stg__probe_interval(const stg_core_t *c);
/* Move the local health score by delta (clamped), logging why. */
void stg__local_health(stg_core_t *c, int delta, const char *why);
/* How long suspect p's suspicion lasts from its start, by its accusers. */
int64_t stg__suspicion_timeout(const stg_core_t *c, const peer_t *p);
/* Member a's own probe of suspect i failed: count it once, bring the end
 * of the suspicion closer. False when counted already or enough have been. */
bool stg__confirm(stg_core_t *c, int i, int a);

/* swim.c */
void stg__set_live(stg_core_t *c, int i, stg_live_t s, uint64_t inc);
void stg__refute(stg_core_t *c, uint64_t claimed_inc);
void stg__on_claim(stg_core_t *c, const stg_piggy_t *pg, int from);
void stg__reshuffle(stg_core_t *c);
void stg__send_probe_msg(stg_core_t *c, int peer, stg_msg_type_t type, uint32_t seq, int target);
void stg__on_ack(stg_core_t *c, uint32_t seq, int from);
void stg__on_ping_req(stg_core_t *c, const stg_msg_t *m, int from);
void stg__on_link_lost(stg_core_t *c, int i);
void stg__on_nack(stg_core_t *c, uint32_t seq, int from);
void stg__on_suspect(stg_core_t *c, const stg_msg_t *m, int from);
/* The shell's loop ran late_ms late: excuse what timed out in the gap. */
void stg__on_loop_late(stg_core_t *c, int64_t late_ms);
void stg__spread_news(stg_core_t *c);
void stg__swim_tick(stg_core_t *c);
/* A new record of member i is stored: start or end its announced absence
 * (core.c routes it here from gossip.c's news). */
void stg__away_note(stg_core_t *c, int i);
/* The earliest SWIM timer: probe timeout, next round, nacks, suspicions. */
int64_t stg__swim_wakeup(const stg_core_t *c);

/* gossip.c */
void stg__sign_own(stg_core_t *c);
/* Our state changed: the in-memory record now, signed and pushed once at
 * the end of the step (core.c's flush). */
void stg__own_changed(stg_core_t *c);
void stg__push_own(stg_core_t *c);
/* Sign our changed record and push it, or defer a cmd_seq-only change by
 * CMD_SEQ_PUSH_MS (stg__own_push_tick sends it). */
void stg__flush_own(stg_core_t *c);
void stg__own_push_tick(stg_core_t *c);
int stg__cmp_version(int64_t inc_a, int64_t seq_a, int64_t inc_b, int64_t seq_b);
void stg__records_to(stg_core_t *c, int peer, const int *idx, unsigned n);
void stg__vv_summary(const stg_core_t *c, stg_msg_t *m);
void stg__on_summary(stg_core_t *c, const stg_msg_t *m, int from);
void stg__on_digest(stg_core_t *c, const stg_msg_t *m, int from);
/* What one record of a records message means beyond gossip, for core.c
 * to route to its owners (gossip sits below them and never calls up). */
typedef enum {
    STG_NEWS_NONE,   /* nothing new: a duplicate, stale, held or refused */
    STG_NEWS_REFUTE, /* a newer record of ours: refute (swim.c) past inc */
    STG_NEWS_RECORD, /* a newer record of idx, now stored */
} stg_news_t;
typedef struct {
    int idx;
    uint64_t inc;
    int64_t cmd_seq;
    bool alive; /* proves idx alive at inc: swim.c's stg__set_live */
} stg_record_news_t;
/* The records of one message that were new, to relay once at its end. */
typedef struct {
    int fresh[STG_RECORDS_MAX];
    unsigned n;
} stg_relay_t;
stg_news_t stg__record_take(stg_core_t *c, const stg_msg_t *m, unsigned i, int from,
                            stg_relay_t *b, stg_record_news_t *news);
void stg__records_relay(stg_core_t *c, const stg_relay_t *b, int from);
void stg__send_sync(stg_core_t *c);

/* members.c */
void stg__send_roster(stg_core_t *c, int peer);
int stg__install_roster(stg_core_t *c, stg_roster_t *r, const uint8_t *env, size_t len);
void stg__on_roster(stg_core_t *c, const uint8_t *env, size_t len, int from);

/* names.c */
void stg__id_hex(const uint8_t id[8], char out[17]);
/* A release envelope opened against our roster (names.c), and its id. */
bool stg__open_release(const stg_core_t *c, const uint8_t *env, size_t len, stg_release_t *rel,
                       uint8_t id[8]);

/* policy.c */
/* Our components (comp_t): the one of this name, or whose adopted release
 * is id; NULL when none. stg__judge points c->R at k (comps[0] for NULL)
 * and returns what it pointed at before: the rules below read c->R. */
comp_t *stg__comp_named(const stg_core_t *c, const char *name);
comp_t *stg__comp_by_id(const stg_core_t *c, const uint8_t id[8]);
/* The component of this name whose releases we hold, managed or not; else a
 * new entry to hold one of a component we do not manage, while there is
 * room (STG_COMPONENTS_MAX in all); NULL when there is none. */
comp_t *stg__comp_hold(stg_core_t *c, const char *name);
comp_t *stg__judge(stg_core_t *c, comp_t *k);
unsigned stg__comp_index(const stg_core_t *c, const comp_t *k);
/* Member i's entry for c->R's component in its record (stg_record_comp):
 * NULL when it has no record or does not manage the component. */
const stg_comp_rec_t *stg__rec_comp(const stg_core_t *c, int i, stg_comp_rec_t *tmp);
/* A member failed on the adopted release of any of our components: every
 * component's rollout halts (one failure halts the fleet, §9.5). */
int stg__failed_any(const stg_core_t *c);
int stg__majority(const stg_core_t *c);
/* The roster's policy for a component (policy.components, else the
 * policy's own): its soak, the epochs its proof crosses, and whether
 * member i is held back for c->R's component until its proof holds. */
int64_t stg__soak_s(const stg_core_t *c, const char *component);
unsigned stg__proof_epochs(const stg_core_t *c);
bool stg__held_back(const stg_core_t *c, int i);
bool stg__rec_about(const stg_core_t *c, int i, const uint8_t id[8]);
stg_phase_t stg__rec_phase(const stg_core_t *c, int i);
bool stg__runs(const stg_release_t *rel, const char *flavour, const char *version,
               const char *build);
bool stg__self_runs(const stg_core_t *c, const stg_release_t *rel);
bool stg__done_on(const stg_core_t *c, int i);
bool stg__failed_on(const stg_core_t *c, int i, const uint8_t id[8]);
bool stg__abandoned(const stg_core_t *c, const uint8_t id[8]);
int stg__failed_member(const stg_core_t *c);
/* The members whose records say they forge (live ones): how many, and
 * up to cap of their indexes in out (may be NULL). */
unsigned stg__forgers(const stg_core_t *c, int *out, unsigned cap);
/* The capabilities every member's record shows; a member without a
 * record yet has none (docs/protocol.md §11). */
stg_caps_t stg__fleet_caps(const stg_core_t *c);
/* A client's command needs capabilities (stg_cmd_needs) every member
 * has: 0, or MISSING_CAPABILITY in d naming the members that lack one. */
int stg__cmd_capable(const stg_core_t *c, const stg_command_t *cmd, stg_diag_t *d);
/* fork.c */
void stg__tip_note(stg_core_t *c, int i);
void stg__peers_free(stg_core_t *c); /* c->peers and what each holds */
/* roles.c: the operator's promote: the standby `name` becomes the
 * producer, the producer the standby (role, stage and holdback swapped in
 * c->roster); false when name is not the standby. */
bool stg__promote(stg_core_t *c, const char *name, int64_t seq);
void stg__tip_follow(stg_tip_t *now, const stg_tip_t *before);
void stg__fork_watch(stg_core_t *c);
void stg__fork_text(const stg_core_t *c, char *buf, size_t cap);
bool stg__updating(const stg_core_t *c, int i);
/* Member i announced a planned absence that has not ended on our clock
 * (swim.c keeps the window); rebooting: and stopped answering inside it,
 * shown so, never suspect or dead until it ends (docs/protocol.md §7.5). */
bool stg__away(const stg_core_t *c, int i);
bool stg__rebooting(const stg_core_t *c, int i);
/* Member i's health as this node shows it: unknown unless its record is
 * held and it is alive (stg_core_shown_health). */
stg_health_t stg__shown_health(const stg_core_t *c, int i);
unsigned stg__order(const stg_core_t *c, int *out);
unsigned stg__eligible(const stg_core_t *c, int *out);
unsigned stg__pending_count(const stg_core_t *c);
int64_t stg__proof_key(const stg_core_t *c, int i);
proof_t stg__proof(const stg_core_t *c, int64_t now);
/* The calendar rules, pure functions of the policy and a time (ms since
 * 1970, this node's clock): epoch boundaries crossed in (a_ms, b_ms]; the
 * first boundary after now_ms; within epoch_guard_s of a boundary (the
 * producer's guard); inside an update window (none: always). */
int64_t stg__boundaries_between(const stg_policy_t *p, int64_t a_ms, int64_t b_ms);
int64_t stg__next_boundary(const stg_policy_t *p, int64_t now_ms);
bool stg__near_boundary(const stg_policy_t *p, int64_t now_ms);
bool stg__window_open(const stg_policy_t *p, int64_t now_ms);
unsigned stg__free_slots(const stg_core_t *c, int except_slot);
stg_deny_t stg__voter_check(const stg_core_t *c, int cand, unsigned slot, const uint8_t id[8]);

/* release.c */
void stg__rollout_release(stg_core_t *c, const uint8_t *env, size_t len, int from);
/* A record of member idx changed (after it is stored). */
void stg__rollout_record(stg_core_t *c, int idx);
bool stg__keep_copy(uint8_t **dst, size_t *dlen, const uint8_t *env, size_t len);
int stg__adopt(stg_core_t *c, const uint8_t *env, size_t len, const stg_release_t *rel, const uint8_t id[8]);
void stg__release_tick(stg_core_t *c);

/* election.c */
/* What the election asks of its caller: the election never calls the
 * executor above it (tests/lint/layers.sh), so the caller runs the gate
 * hook, or hands a won attempt to stg__start_update, at once. */
typedef enum { ELECT_NONE, ELECT_NOT_MINE, ELECT_RUN_GATE, ELECT_WON } elect_t;
/* Handle a rollout message; ELECT_NOT_MINE when the type is not a rollout one. */
elect_t stg__rollout_msg(stg_core_t *c, const stg_msg_t *m, int from);
void stg__release_slot(stg_core_t *c);
/* The only place a grant's holder changes (granted, freed, or moved to its
 * index in a new roster of nmembers): -1 frees slot s. Asserts the slot and
 * that the holder is a member. Its other fields are the caller's. */
void stg__grant_set(stg_core_t *c, unsigned s, int holder, unsigned nmembers);
/* The one place an election attempt ends: won (the executor takes the slot
 * it was for) or not, and then every voter that granted it is told with
 * slot-free, our own grant goes, and we back off before trying again. */
void stg__attempt_end(stg_core_t *c, bool won, const char *why);
/* The operator's clear-grants: free every grant we hold for its targets; a
 * target gives up its open election. */
void stg__clear_grants(stg_core_t *c, const stg_command_t *cmd);
void stg__expire_grants(stg_core_t *c);
elect_t stg__campaign(stg_core_t *c);

/* executor.c */
void stg__rollout_emergency_update(stg_core_t *c, const stg_command_t *cmd, bool start);
void stg__rollout_emergency_rollback(stg_core_t *c, int64_t seq);
void stg__rollout_health(stg_core_t *c, const stg_event_t *ev);
void stg__rollout_hook_done(stg_core_t *c, const stg_event_t *ev);
void stg__run_hook(stg_core_t *c, stg_hook_kind_t h, const stg_release_t *rel);
void stg__set_exec_release(stg_core_t *c, const stg_release_t *rel, const uint8_t id[8], const uint8_t *env, size_t len);
void stg__start_update(stg_core_t *c);
void stg__exec_tick(stg_core_t *c);
/* At start, from the journal: put the executor in state s (whose release
 * stg__set_exec_release has set) and apply the restart's event to it. */
void stg__exec_restart(stg_core_t *c, stg_exec_state_t s);
/* The operator's resume #seq: a rolled-back executor (or a failed one whose
 * old version runs) goes idle; a failed one still on the release runs the
 * rollback hook again. */
void stg__exec_forgive(stg_core_t *c, int64_t seq);
/* The running install or rollback hook announced a planned absence of
 * away_ms (STG_EV_AWAY): into our record at once, and journaled. */
void stg__exec_away(stg_core_t *c, const stg_event_t *ev);

/* journal.c */
void stg__rollout_save(stg_core_t *c);
/* The journal read back at start, in four steps because its parts belong
 * to modules above the journal: core.c's stg_core_new hands the release to
 * release.c (stg__adopt), the executor's release and state to executor.c
 * (stg__set_exec_release, then stg__exec_restart with what
 * stg__journal_exec returns, before the rest is loaded), and the rest to
 * stg__journal_rest. */
typedef struct {
    json_t *j; /* the parsed journal */
    uint8_t *rel_env, *exec_env;
    size_t rel_len, exec_len;
    bool have_rel, have_exec; /* each opened against the roster */
    stg_release_t rel, exec_rel;
    uint8_t rel_id[8], exec_id[8];
    int phase, state; /* as written; -1 when absent */
    /* the other components' adopted releases, each opened against the roster */
    unsigned nmore;
    uint8_t *more_env[STG_COMPONENTS_MAX - 1];
    size_t more_len[STG_COMPONENTS_MAX - 1];
    stg_release_t more_rel[STG_COMPONENTS_MAX - 1];
    uint8_t more_id[STG_COMPONENTS_MAX - 1][8];
    bool more_abandoned[STG_COMPONENTS_MAX - 1];
    uint8_t more_ab_id[STG_COMPONENTS_MAX - 1][8];
} stg_journal_t;
/* The state before any journal: idle, no slot. */
void stg__journal_reset(stg_core_t *c);
/* Parse a journal; -1 (and nothing to load) when there is none. */
int stg__journal_open(const stg_core_t *c, const uint8_t *journal, size_t len, stg_journal_t *jr);
/* Load the executor's fields; returns the state to restart in. */
stg_exec_state_t stg__journal_exec(stg_core_t *c, const stg_journal_t *jr);
/* The rest of the journal; each grant's holder (-1: none) goes to holders,
 * for core.c to set through stg__grant_set (the one place holders change). */
void stg__journal_rest(stg_core_t *c, const stg_journal_t *jr, int holders[STG_BATCH_MAX]);
void stg__journal_close(stg_journal_t *jr);
/* The journal changed: it is written once, at the end of the step. */
void stg__journal_save(stg_core_t *c);
/* Encode the journal and emit its PERSIST action (core.c's flush). */
void stg__journal_write(stg_core_t *c, json_t *commands);

/* command.c */
void stg__command_msg(stg_core_t *c, const uint8_t *env, size_t len, int from);
void stg__command_catch_up(stg_core_t *c, int idx, int64_t their_seq);
void stg__command_tick(stg_core_t *c);
void stg__command_load(stg_core_t *c, const uint8_t *text, size_t len, const char *member);
json_t *stg__command_state(const stg_core_t *c);
void stg__command_free(stg_core_t *c);

/* rollout.c */
void stg__rollout_free(stg_core_t *c);
void stg__rollout_tick(stg_core_t *c);
int64_t stg__rollout_wakeup(const stg_core_t *c);

#if STG_SELFTEST_NEXT
/* selftest.c: staggerd-next's record field, capability and message
 * (stagger/selftest.h); compiled into its core only. */
void stg__selftest_note(const stg_core_t *c, stg_record_t *r);
void stg__selftest_probe(stg_core_t *c, int target);
void stg__selftest_hello(stg_core_t *c, int from);
void stg__selftest_relayed(stg_core_t *c, int from, const int *idx, unsigned n);
#endif

/* status.c */
json_t *stg__command_status(const stg_core_t *c);
json_t *stg__rollout_status(const stg_core_t *c, int64_t now_ms);

#endif
