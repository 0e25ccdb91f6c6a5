/* err.h: error codes and reject reasons, shared by every part of stagger.
 *
 * Functions return 0 or a negative code: -errno for OS failures, STG_E* for
 * our own. Hostile input (network, files, hooks) never asserts: decoders
 * fill a stg_diag_t with a named reject reason and a message that names the
 * field and says what to do. Both lists are X-macros so a name table can
 * never drift from the enum. */
#ifndef STAGGER_ERR_H
#define STAGGER_ERR_H

#include <stddef.h>

/* Our own error codes, below any errno value. */
#define STG_ERR_MAP(X)                                                   \
    X(INVAL, -1001, "invalid argument")                                  \
    X(REJECT, -1002, "input rejected (see the reject reason)")           \
    X(NOSPACE, -1003, "buffer or table full")                            \
    X(NOTFOUND, -1004, "not found")                                      \
    X(CRYPTO, -1005, "cryptographic library failure")                    \
    X(PERM, -1006, "file permissions are unsafe")                        \
    X(STATE, -1007, "operation not allowed in this state")

enum {
#define X(name, val, text) STG_E##name = (val),
    STG_ERR_MAP(X)
#undef X
};

/* Text for a code returned by any stagger function (our codes or -errno).
 * Borrowed, static. */
const char *stg_strerror(int code);

/* Why a piece of input was refused. Each is counted separately. The
 * position in this list is the reason's number on the wire (an error-rep
 * carries it, docs/protocol.md §6 lists it): append new reasons at the end,
 * never reorder or remove one (tests/unit/test_wire.c holds the numbers). */
#define STG_REJECT_MAP(X)                                                     \
    X(NONE, "none")                                                           \
    X(TOO_SHORT, "too short")                                                 \
    X(TOO_LONG, "too long")                                                   \
    X(BAD_MAGIC, "bad magic")                                                 \
    X(BAD_VERSION, "unsupported protocol version")                           \
    X(BAD_TYPE, "unknown document or message type")                          \
    X(WRONG_TYPE_DOC, "document of another type")                            \
    X(BAD_LENGTH, "length fields disagree with the size")                    \
    X(NO_SIGNATURE, "no signature")                                          \
    X(TOO_MANY_SIGNATURES, "too many signatures")                            \
    X(DUPLICATE_SIGNER, "same key signed twice")                             \
    X(BAD_SIGNATURE, "signature does not verify")                            \
    X(UNKNOWN_SIGNER, "signer is not allowed to sign this")                  \
    X(TOO_FEW_SIGNATURES, "not enough valid signatures")                     \
    X(BAD_UTF8, "payload is not valid UTF-8")                                \
    X(BAD_JSON, "payload is not valid JSON")                                 \
    X(TOO_DEEP, "JSON nested too deeply")                                    \
    X(DUPLICATE_FIELD, "duplicate JSON key")                                 \
    X(UNKNOWN_FIELD, "unknown field")                                        \
    X(MISSING_FIELD, "missing field")                                        \
    X(WRONG_TYPE, "field has the wrong type")                                \
    X(OUT_OF_RANGE, "value out of range")                                    \
    X(BAD_VALUE, "invalid value")                                            \
    X(DUPLICATE_VALUE, "value must be unique")                               \
    X(BAD_KEY, "malformed public key")                                       \
    X(WRONG_FLEET, "document is for another fleet")                          \
    X(STALE, "older than what we hold")                                      \
    X(REPLAY, "sequence number already seen")                                \
    X(EXPIRED, "expired")                                                    \
    X(NOT_YET, "not valid yet")                                              \
    X(UNAUTHENTICATED, "sender is not authenticated")                        \
    X(UNKNOWN_MEMBER, "sender or subject is not in the roster")              \
    X(IMPERSONATION, "signed by one member, claims to be another")           \
    X(BAD_FRAMES, "wrong number of message frames")                          \
    X(NOT_ALLOWED, "sender may not send this")                               \
    X(MISSING_CAPABILITY, "not every member has the capability it needs")

typedef enum {
#define X(name, text) STG_REJECT_##name,
    STG_REJECT_MAP(X)
#undef X
    STG_REJECT__COUNT
} stg_reject_t;

/* Short machine name ("BAD_SIGNATURE", as counted in status), borrowed, static. */
const char *stg_reject_name(stg_reject_t r);
/* Human text ("signature does not verify"), borrowed, static. */
const char *stg_reject_text(stg_reject_t r);

/* A decoder's verdict: the reason, and a message naming the field and the
 * fix, e.g. "members[3].endpoint: must look like tcp://HOST:PORT". */
typedef struct {
    stg_reject_t reason;
    char msg[320];
} stg_diag_t;

/* Record a rejection in d (which may be NULL) and return STG_EREJECT.
 * field may be NULL or "" for the document as a whole. */
int stg_diag_set(stg_diag_t *d, stg_reject_t reason, const char *field,
                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
