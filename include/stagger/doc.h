/* doc.h: the operator-signed documents, decoded: roster and release.
 *
 * Decoding is pure and strict (see proto.h): unknown fields, duplicates,
 * wrong types and out-of-range values are refused with a message naming the
 * field ("members[3].endpoint: ...") and saying what to do. Defaults suit a
 * Cardano stake pool (shared/CARDANO.md) and are listed in docs/protocol.md.
 */
#ifndef STAGGER_DOC_H
#define STAGGER_DOC_H

#include <stdbool.h>
#include <stdint.h>

#include "stagger/caps.h"
#include "stagger/proto.h"

#define STG_ROLE_MAP(X)                     \
    X(PRODUCER, "producer", 3)              \
    X(STANDBY, "standby", 4)                \
    X(RELAY, "relay", 1)                    \
    X(DARK_RELAY, "dark-relay", 2)

/* The third column is the default stage: relays first, then dark relays,
 * then the active producer; the holdback pair always goes last. */
typedef enum {
#define X(name, text, stage) STG_ROLE_##name,
    STG_ROLE_MAP(X)
#undef X
    STG_ROLE__COUNT
} stg_role_t;

const char *stg_role_name(stg_role_t r);
int stg_role_from_name(const char *s); /* -1 when unknown */
int stg_role_default_stage(stg_role_t r);

typedef struct {
    char name[STG_NAME_MAX + 1];
    stg_pubkey_t key;
    char endpoint[STG_ENDPOINT_MAX + 1]; /* tcp://HOST:PORT */
    stg_role_t role;
    char flavour[STG_NAME_MAX + 1];
    int stage;      /* 1..9; from the role when absent */
    bool holdback;  /* after defaulting: true for the holdback pair */
    unsigned ntags;
    char tags[STG_TAGS_MAX][STG_NAME_MAX + 1];
} stg_member_t;

typedef struct {
    uint8_t days;          /* bit 0 = Monday .. bit 6 = Sunday */
    uint16_t start_min;    /* minutes after 00:00 UTC */
    uint16_t end_min;      /* exclusive; may be < start (crosses midnight) */
} stg_window_t;

typedef struct {
    unsigned batch;              /* 1..STG_BATCH_MAX */
    int64_t soak_s;              /* each wave stays healthy this long */
    unsigned unavailable_max;    /* unhealthy/unknown nodes tolerated */
    int64_t epoch_start_s;       /* Unix time of an epoch boundary */
    int64_t epoch_length_s;
    unsigned proof_epochs;       /* boundaries the proof must cross */
    int64_t epoch_guard_s;       /* no producer restart this near a boundary */
    unsigned nwindows;           /* 0 = always open */
    stg_window_t windows[STG_WINDOWS_MAX];
    int64_t install_timeout_s;
    int64_t health_timeout_s;    /* one run of the health hook */
    int64_t health_deadline_s;   /* time for a new version to become healthy */
    int64_t rollback_timeout_s;
    int64_t gate_timeout_s;
    unsigned fork_blocks;        /* new and old versions on two chains this long: halt */
    /* policy.components: what differs for a component's releases
     * (docs/protocol.md §4.4); a component not listed follows the above. */
    unsigned ncomponents;
    struct {
        char name[STG_NAME_MAX + 1];
        int64_t soak_s;          /* each wave of it stays healthy this long */
        unsigned proof_epochs;   /* boundaries its proof must cross (0: none) */
        bool holdback;           /* the holdback pair waits for its proof; false:
                                    they update it in their stage, as the others */
    } components[STG_COMPONENTS_MAX];
} stg_policy_t;

/* The policy a roster gets when it says nothing: values for cardano-node,
 * each explained in docs/protocol.md §4.4. */
void stg_policy_default(stg_policy_t *p);

typedef struct {
    char fleet[STG_NAME_MAX + 1];
    int64_t serial;
    unsigned noperators;
    stg_pubkey_t operators[STG_OPERATORS_MAX];
    unsigned emergency_quorum;   /* M of the N operators */
    unsigned nobservers;
    stg_pubkey_t observers[STG_OBSERVERS_MAX];
    unsigned nmembers;
    stg_member_t members[STG_MEMBERS_MAX];
    stg_policy_t policy;
} stg_roster_t;

/* Decode and validate a roster payload (the JSON inside the envelope).
 * Returns 0, or STG_EREJECT with d naming the field and the fix. */
int stg_roster_decode(const uint8_t *json, size_t len, stg_roster_t *r, stg_diag_t *d);

/* Parse an envelope, check it is a roster, decode it, and check that its
 * signatures come from its own operator keys (at least one). For a roster
 * replacing `current`, pass current: then the signers must be operators of
 * the current roster (a new roster cannot appoint itself), checked before
 * the JSON is parsed, and the roster must name the same fleet with a higher
 * serial. r must not be current; on failure *r is zeroed. */
int stg_roster_open(const uint8_t *buf, size_t len, const stg_roster_t *current,
                    stg_roster_t *r, stg_diag_t *d);

/* Index of the member with this key / name, or -1. */
int stg_roster_find_key(const stg_roster_t *r, const stg_pubkey_t *k);
int stg_roster_find_name(const stg_roster_t *r, const char *name);

#define STG_FLAVOURS_MAX_REL STG_FLAVOURS_MAX

typedef struct {
    char flavour[STG_NAME_MAX + 1];
    char image[STG_ARTIFACT_MAX + 1];   /* "name@sha256:<64 hex>", or "" */
    char url[STG_ARTIFACT_MAX + 1];     /* https://..., or "" */
    char sha256[65];                    /* hex, with url; digest of image */
} stg_artifact_t;

typedef struct {
    char component[STG_NAME_MAX + 1];
    char version[STG_VERSION_MAX + 1];
    int64_t created_at_s;
    int64_t not_before_s;               /* 0 when absent */
    unsigned nartifacts;
    stg_artifact_t artifacts[STG_FLAVOURS_MAX];
} stg_release_t;

int stg_release_decode(const uint8_t *json, size_t len, stg_release_t *rel, stg_diag_t *d);
/* Parse an envelope, require one operator signature of roster r (checked
 * before the JSON is parsed), decode the release. On failure *rel is
 * zeroed. */
int stg_release_open(const uint8_t *buf, size_t len, const stg_roster_t *r,
                     stg_release_t *rel, stg_diag_t *d);
/* 64 lowercase hex digits: an artifact's SHA-256 as releases and records
 * write it. */
bool stg_sha256_hex_ok(const char *s);
/* The artifact for a flavour, or NULL. Borrowed from rel. */
const stg_artifact_t *stg_release_artifact(const stg_release_t *rel, const char *flavour);

/* ---- emergency commands ------------------------------------------------
 * Operator-signed (the roster's emergency_quorum of distinct operator
 * keys), applied at most once per fleet-wide sequence number. */

/* The third column is the capability (caps.h) every member must have
 * before a client's command of that action is taken (docs/protocol.md
 * §10, §11): the actions added after the first version, which an older
 * member refuses as strict JSON. */
#define STG_CMD_MAP(X)                                          \
    X(UPDATE, "update", 0)                                      \
    X(ROLLBACK, "rollback", 0)                                  \
    X(HALT, "halt", 0)                                          \
    X(RESUME, "resume", 0)                                      \
    X(ABANDON, "abandon", 0)                                    \
    X(CLEAR_GRANTS, "clear-grants", 0)                          \
    X(PROMOTE, "promote", STG_CAPS_OF(STG_CAP_PROMOTE))

typedef enum {
#define X(name, text, needs) STG_CMD_##name,
    STG_CMD_MAP(X)
#undef X
    STG_CMD__COUNT
} stg_cmd_action_t;

const char *stg_cmd_name(stg_cmd_action_t a);
/* The capabilities every member must have before a client's command of
 * this action is taken; 0 for the first version's actions. */
stg_caps_t stg_cmd_needs(stg_cmd_action_t a);

#define STG_CMD_RELEASE_MAX 16384   /* the embedded release envelope */
#define STG_CMD_REASON_MAX 255

typedef struct {
    char fleet[STG_NAME_MAX + 1];
    int64_t seq;                    /* fleet-wide, strictly increasing */
    int64_t issued_at_s, expires_at_s;
    stg_cmd_action_t action;
    unsigned ntargets;              /* 0 = every member */
    char targets[STG_MEMBERS_MAX][STG_NAME_MAX + 1];
    bool include_holdback;          /* update only: the holdback pair too */
    int64_t spacing_s;              /* update only: between targets' starts */
    bool after_healthy;             /* update only: each target starts once every
                                       target before it runs the release, healthy */
    bool force;                     /* update only: skip the gate hook */
    char reason[STG_CMD_REASON_MAX + 1];
    size_t release_len;             /* update only: the signed release */
    uint8_t release[STG_CMD_RELEASE_MAX];
} stg_command_t;

int stg_command_decode(const uint8_t *json, size_t len, stg_command_t *cmd, stg_diag_t *d);
/* Envelope in: type command, every signature by an operator of r and at
 * least r->emergency_quorum of them, the fleet, not expired at now_ms, not
 * issued in the future (beyond 5 minutes of clock skew), and for update an
 * embedded release signed by an operator. The sequence (replay) is the
 * receiver's to check. nsigners (may be NULL) gets the signature count. */
int stg_command_open(const uint8_t *buf, size_t len, const stg_roster_t *r, int64_t now_ms,
                     stg_command_t *cmd, unsigned *nsigners, stg_diag_t *d);
/* Is member name among the command's targets (all when none are named)? */
bool stg_command_targets(const stg_command_t *cmd, const char *name);

#endif
