/* wire.h: peer-to-peer and client messages (one ZeroMQ frame each).
 *
 * Hops are authenticated by CURVE, so these frames carry no signature of
 * their own; what they carry that is about a node (its record) is a signed
 * envelope, verified end to end. Layout in docs/protocol.md §7.
 *
 *   version u8 | type u8 | roster_serial u64be | body
 */
#ifndef STAGGER_WIRE_H
#define STAGGER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stagger/err.h"
#include "stagger/selftest.h"

#define STG_WIRE_HEADER 10u
#define STG_WIRE_MAX (256u * 1024u)
#define STG_PIGGY_MAX 8
#define STG_DIGEST_MAX 256
#define STG_RECORDS_MAX 32
#define STG_RECORD_ENV_MAX 2048

#define STG_MSG_MAP(X)              \
    X(PING, 1, "ping")              \
    X(ACK, 2, "ack")                \
    X(PING_REQ, 3, "ping-req")      \
    X(SYNC, 4, "sync")              \
    X(DIGEST, 5, "digest")          \
    X(RECORDS, 6, "records")        \
    X(ROSTER, 7, "roster")          \
    X(ROSTER_WANT, 8, "roster-want")\
    X(RELEASE, 9, "release")        \
    X(RELEASE_WANT, 10, "release-want") \
    X(VOTE_REQ, 11, "vote-req")     \
    X(VOTE, 12, "vote")             \
    X(START, 13, "start")           \
    X(START_ACK, 14, "start-ack")   \
    X(SLOT_FREE, 15, "slot-free")   \
    X(COMMAND, 16, "command")       \
    X(SLOT_QUERY, 17, "slot-query") \
    X(NACK, 18, "nack")             \
    X(SUSPECT, 19, "suspect")       \
    X(STATUS_REQ, 20, "status-req") \
    X(STATUS_REP, 21, "status-rep") \
    X(ERROR_REP, 22, "error-rep")   \
    X(OK_REP, 23, "ok-rep")         \
    STG_SELFTEST_MSG_MAP(X) /* staggerd-next only (selftest.h) */

typedef enum {
#define X(name, val, text) STG_MSG_##name = (val),
    STG_MSG_MAP(X)
#undef X
} stg_msg_type_t;

const char *stg_msg_name(int type);

/* What an ok-rep says happened to a client's roster, release or command
 * (docs/protocol.md §7.9). The numbers are on the wire. */
#define STG_OUTCOME_MAP(X)                                                   \
    X(APPLIED, 0, "applied")       /* the node holds it now: state changed */ \
    X(HELD, 1, "held")             /* it held this already: nothing changed */ \
    X(NOT_HERE, 2, "not-here")     /* valid, but not for this node */      \
    X(PENDING, 3, "pending")       /* taken, but not yet on this node's disk */

typedef enum {
#define X(name, val, text) STG_OUTCOME_##name = (val),
    STG_OUTCOME_MAP(X)
#undef X
} stg_outcome_t;

/* "applied", ... or NULL for an unknown outcome. Borrowed, static. */
const char *stg_outcome_name(int outcome);

#define STG_REPLY_TEXT_MAX 1024u /* the text of an error-rep or ok-rep */

/* Liveness claims piggybacked on probe messages. */
typedef enum { STG_LIVE_ALIVE = 0, STG_LIVE_SUSPECT = 1, STG_LIVE_DEAD = 2 } stg_live_t;

typedef struct {
    uint16_t member;   /* index in the roster of the given serial */
    uint8_t state;     /* stg_live_t */
    uint64_t inc;      /* incarnation the claim is about */
} stg_piggy_t;

typedef struct {
    uint16_t member;
    uint64_t inc, seq;
} stg_vv_entry_t;

/* A decoded message. Pointers borrow from the frame. */
typedef struct {
    uint8_t type;
    uint64_t serial;
    uint32_t seq;                 /* PING, ACK, PING_REQ, NACK */
    uint16_t target;              /* PING_REQ; SUSPECT: the member suspected */
    uint64_t inc;                 /* SUSPECT: the incarnation it is suspected at */
    uint16_t accuser;             /* SUSPECT: the member whose own probe failed */
    uint8_t npiggy;
    stg_piggy_t piggy[STG_PIGGY_MAX];
    uint8_t hash[8];              /* SYNC */
    uint16_t nrecords_held;       /* SYNC */
    uint8_t want_reply;           /* DIGEST */
    uint16_t nvv;
    stg_vv_entry_t vv[STG_DIGEST_MAX];
    uint8_t nrec;                 /* RECORDS */
    const uint8_t *rec[STG_RECORDS_MAX];
    uint16_t rec_len[STG_RECORDS_MAX];
    /* VOTE_REQ, VOTE, START, START_ACK, SLOT_FREE, RELEASE_WANT */
    uint8_t slot;
    uint8_t release[8];           /* release id (see stg_release_id) */
    uint64_t attempt;             /* VOTE_REQ..SLOT_FREE: the candidate's election attempt,
                                   * (incarnation << 24) + a counter: later is larger */
    uint8_t ok;                   /* VOTE: granted; START_ACK: accepted */
    uint8_t reason;               /* VOTE: stg_deny_t when refused;
                                   * ERROR_REP: stg_reject_t, never NONE */
    uint8_t outcome;              /* OK_REP: stg_outcome_t */
    const uint8_t *blob;          /* ROSTER/RELEASE/COMMAND envelope, STATUS_REP JSON,
                                   * ERROR_REP/OK_REP text (may be empty) */
    size_t blob_len;
} stg_msg_t;

/* The type of a frame whose header is well formed (10 bytes at least, at
 * most STG_WIRE_MAX, version 1, a known type), body unread; or STG_EREJECT
 * with d naming the reason (TOO_SHORT, TOO_LONG, BAD_VERSION, BAD_TYPE).
 * What a shell routes on before the core sees the frame; the body still
 * needs stg_msg_decode. */
int stg_msg_peek_type(const uint8_t *buf, size_t len, stg_diag_t *d);
/* Decode one frame strictly (no truncated field, no trailing byte); 0 or
 * STG_EREJECT with d set. */
int stg_msg_decode(const uint8_t *buf, size_t len, stg_msg_t *m, stg_diag_t *d);
/* Encode m into out; returns bytes written or a negative code. */
int stg_msg_encode(const stg_msg_t *m, uint8_t *out, size_t cap);

#endif
