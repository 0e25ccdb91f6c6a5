/* record.h: a node's own signed state record (document type "record").
 *
 * Each node signs its record; gossip relays it unchanged and every receiver
 * verifies it against the roster key of the node it names. (inc, seq)
 * orders records of one node: inc grows at each restart and each
 * refutation, seq at each change within an incarnation. */
#ifndef STAGGER_RECORD_H
#define STAGGER_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "stagger/caps.h"
#include "stagger/doc.h"

#define STG_HEALTH_MAP(X)          \
    X(UNKNOWN, "unknown")          \
    X(HEALTHY, "healthy")          \
    X(UNHEALTHY, "unhealthy")

typedef enum {
#define X(name, text) STG_HEALTH_##name,
    STG_HEALTH_MAP(X)
#undef X
    STG_HEALTH__COUNT
} stg_health_t;

const char *stg_health_name(stg_health_t h);

/* The executor's phases, in order; see docs/protocol.md §9. */
#define STG_PHASE_MAP(X)               \
    X(IDLE, "idle")                    \
    X(ELECTED, "elected")              \
    X(INSTALLING, "installing")        \
    X(VERIFYING, "verifying")          \
    X(SOAKING, "soaking")              \
    X(DONE, "done")                    \
    X(FAILED, "failed")                \
    X(ROLLING_BACK, "rolling-back")    \
    X(ROLLED_BACK, "rolled-back")

typedef enum {
#define X(name, text) STG_PHASE_##name,
    STG_PHASE_MAP(X)
#undef X
    STG_PHASE__COUNT
} stg_phase_t;

const char *stg_phase_name(stg_phase_t p);
int stg_phase_from_name(const char *s); /* -1 when unknown */

/* Whether a node's service forges (a cardano-node block producer with
 * its keys loaded), as its health hook said: never said, no, yes. */
typedef enum { STG_FORGING_UNKNOWN, STG_FORGING_NO, STG_FORGING_YES } stg_forging_t;

/* The chain tip the node's service follows, as its health hook said: the
 * block number, its slot and its hash (16 to 64 lowercase hex digits, a
 * prefix of the block hash). Nodes on two versions that disagree on the
 * block at the same height for long follow different chains. */
#define STG_TIP_RECENT 6
typedef struct {
    bool have;
    int64_t block;
    int64_t slot;
    char hash[65];
    /* Blocks it followed before this one (the health hook's earlier tips,
     * newest first, distinct heights): a record is signed at most once a
     * minute while healthy, and these let peers compare heights they did
     * not happen to sample themselves. */
    unsigned nrecent;
    struct {
        int64_t block;
        char hash[17];            /* the first 16 hex digits */
    } recent[STG_TIP_RECENT];
} stg_tip_t;

/* "BLOCK:SLOT:HASH" (a health hook's tip= line) into t; false when malformed. */
bool stg_tip_parse(const char *s, stg_tip_t *t);

/* One more component the signer manages (docs/operations.md, "Components"):
 * what its own health hook said. The record's top level is the signer's
 * primary component; these are the others (record "components"). */
typedef struct {
    char component[STG_NAME_MAX + 1];
    char version[STG_VERSION_MAX + 1];/* "" when unknown */
    char build[65];                   /* optional: the artifact's SHA-256 (hex), "" */
    stg_health_t health;
    int64_t health_since_ms;
} stg_comp_rec_t;

typedef struct {
    char fleet[STG_NAME_MAX + 1];
    char node[STG_NAME_MAX + 1];
    int64_t inc;
    int64_t seq;
    int64_t time_ms;                  /* signer's clock when signed */
    char component[STG_NAME_MAX + 1];
    char version[STG_VERSION_MAX + 1];/* running version, "" when unknown */
    char flavour[STG_NAME_MAX + 1];
    stg_health_t health;
    char detail[STG_DETAIL_MAX + 1];
    int64_t health_since_ms;
    stg_phase_t phase;                /* executor phase (its name on the wire) */
    char release[17];                 /* id of the release the phase is about, or "" */
    int64_t phase_since_ms;           /* when the phase began (signer's clock) */
    char phase_detail[STG_DETAIL_MAX + 1]; /* why the phase (a failure's reason); optional */
    int64_t cmd_seq;                  /* highest emergency command applied; optional, 0 */
    int64_t attempt;                  /* the election attempt whose slot the node
                                       * holds or last held; optional, 0 */
    char stagger[STG_VERSION_MAX + 1];/* the signer's staggerd version; optional, "" */
    stg_forging_t forging;            /* optional: absent is UNKNOWN */
    char build[65];                   /* optional: the SHA-256 (hex) of the artifact the
                                       * service runs, as its health hook said; "" */
    stg_tip_t tip;                    /* optional: absent is !have */
    stg_caps_t caps;                  /* optional: the capabilities of the signer's
                                       * staggerd that this build knows (names it does
                                       * not know are checked, then left out); absent
                                       * is none, as every older staggerd's record */
    unsigned ncomps;                  /* optional: the signer's other components */
    stg_comp_rec_t comps[STG_COMPONENTS_MAX - 1];
    unsigned nreleases;               /* optional: with several components, the id
                                       * (16 hex) of each one's adopted release, so a
                                       * peer that missed one's flood asks for it even
                                       * while `release` names another */
    char releases[STG_COMPONENTS_MAX][17];
    char failed[17];                  /* optional, "": with several components, the
                                       * release (16 hex) the signer failed on and the
                                       * operator has not resumed, kept while its
                                       * executor has since moved to another
                                       * component's release (§9.8) */
    int64_t away_ms;                  /* optional (0): the signer is about to be away
                                       * (a planned reboot) for up to this long,
                                       * 1..STG_AWAY_MAX_MS; each receiver times it on
                                       * its own clock from when it got the record */
#if STG_SELFTEST_NEXT
    char selftest_note[STG_SELFTEST_NOTE_MAX + 1]; /* optional, "": the field only
                                       * staggerd-next knows (selftest.h) */
#endif
} stg_record_t;

/* The longest planned absence a record may announce (away_ms): a reboot
 * and the daemon's start, with room for a slow firmware. */
#define STG_AWAY_MAX_MS 3600000

/* JSON payload for r; returns length or a negative code. */
/* The version, build and health member i's record says for component
 * name: its top level when that is the record's component, else its
 * "components" entry. NULL when the record does not manage it. The
 * returned entry is a copy in *tmp, or points into r. */
const stg_comp_rec_t *stg_record_comp(const stg_record_t *r, const char *name, stg_comp_rec_t *tmp);

int stg_record_encode(const stg_record_t *r, uint8_t *out, size_t cap);
/* Strict decode of the payload. */
int stg_record_decode(const uint8_t *json, size_t len, stg_record_t *r, stg_diag_t *d);
/* Envelope in, verified record out: the signer must be the roster member
 * the record names, else IMPERSONATION / UNKNOWN_MEMBER. *member gets its
 * index. */
int stg_record_open(const uint8_t *buf, size_t len, const stg_roster_t *roster,
                    stg_record_t *r, int *member, stg_diag_t *d);
/* stg_record_open in two steps, for a receiver that holds most records
 * already: peek checks everything but the signature (a record it holds at
 * the same or a newer version needs none, since nothing is done with it);
 * verify checks the signature of member's record. Act on a record only
 * once both passed. */
int stg_record_peek(const uint8_t *buf, size_t len, const stg_roster_t *roster,
                    stg_record_t *r, int *member, stg_diag_t *d);
int stg_record_verify(const uint8_t *buf, size_t len, const stg_roster_t *roster, int member,
                      stg_diag_t *d);

#endif
