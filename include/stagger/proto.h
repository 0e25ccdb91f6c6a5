/* proto.h: keys, the signed envelope and strict JSON helpers.
 *
 * Pure code: no clock, no randomness, no I/O. Everything that is signed in
 * stagger (roster, release, node record, emergency command) travels
 * in one envelope, described byte by byte in docs/protocol.md:
 *
 *   magic "STG" | version u8 | type u8 | nsig u8 | payload_len u32be |
 *   payload | nsig x (public key[32] | signature[64])
 *
 * Each signature is Ed25519 (crypto_sign_detached) over
 *   "stagger/v1/" TYPE-NAME "\0" || payload
 * so a signature for one document type can never pass as another. */
#ifndef STAGGER_PROTO_H
#define STAGGER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "stagger/err.h"
#include "stagger/limits.h"

#define STG_ENV_HEADER 10u
#define STG_ENV_SIG_ENTRY (STG_KEY_BYTES + STG_SIG_BYTES)

/* Document types. Numbers are on the wire and never reused: 5 was a
 * "request" document that was never specified or used; it is an unknown
 * type now (BAD_TYPE), like any other number not listed. */
#define STG_DOC_MAP(X)               \
    X(ROSTER, 1, "roster")           \
    X(RELEASE, 2, "release")         \
    X(RECORD, 3, "record")           \
    X(COMMAND, 4, "command")

typedef enum {
#define X(name, val, text) STG_DOC_##name = (val),
    STG_DOC_MAP(X)
#undef X
} stg_doc_t;

/* "roster", ... or NULL for an unknown type. Borrowed, static. */
const char *stg_doc_name(int type);
/* Inverse of stg_doc_name; returns 0 for an unknown name. */
int stg_doc_from_name(const char *name);

typedef struct {
    uint8_t key[STG_KEY_BYTES];
} stg_pubkey_t;

/* A secret key: seed and the expanded Ed25519 secret. Callers keep it in
 * sodium_malloc'd memory (see stg_seckey_new in keyfile.h). */
typedef struct {
    uint8_t seed[STG_SEED_BYTES];
    uint8_t sk[64];
    stg_pubkey_t pub;
} stg_seckey_t;

/* The text of a key file (docs/protocol.md §1): the 44 base64 characters
 * of 32 bytes, canonical, then nothing, "\n" or "\r\n". Anything else
 * after them (a second newline, a lone "\r", spaces) is refused rather
 * than trimmed: two readers must agree on which files are keys. Fills out;
 * 0 or STG_EINVAL. The file reading is keyfile.h's. */
int stg_key_text_decode(const uint8_t *text, size_t len, uint8_t out[32]);

/* Fill k from its 32-byte seed. Returns 0 or STG_ECRYPTO. */
int stg_seckey_from_seed(stg_seckey_t *k, const uint8_t seed[STG_SEED_BYTES]);

/* Base64 (standard alphabet, with padding) of a public key: 44 chars + NUL. */
void stg_pubkey_to_b64(const stg_pubkey_t *k, char out[STG_KEY_B64_LEN + 1]);
/* Parse exactly 44 base64 chars; 0 or STG_EREJECT. Also refuses keys that
 * are not valid Ed25519 points of the main subgroup. */
int stg_pubkey_from_b64(stg_pubkey_t *k, const char *s);
/* The same 44 characters decoded with none of those checks, for looking a
 * sender up among keys that were checked when they were loaded (a ZAP
 * User-Id): a point check on every message cost as much as a signature
 * check on a flood's members. 0 or STG_EREJECT. */
int stg_pubkey_lookup_b64(stg_pubkey_t *k, const char *s);
bool stg_pubkey_eq(const stg_pubkey_t *a, const stg_pubkey_t *b);
/* Short printable fingerprint (first 8 base64 chars), for logs. */
void stg_pubkey_short(const stg_pubkey_t *k, char out[9]);

/* X25519 key pair for CURVE derived from the Ed25519 identity. */
int stg_curve_from_seckey(const stg_seckey_t *k, uint8_t curve_pk[32],
                          uint8_t curve_sk[32]);
int stg_curve_from_pubkey(const stg_pubkey_t *k, uint8_t curve_pk[32]);

/* A parsed envelope. payload points into the caller's buffer (borrowed,
 * valid while that buffer is). */
typedef struct {
    uint8_t type;
    uint8_t nsig;
    uint32_t payload_len;
    const uint8_t *payload;
    struct {
        stg_pubkey_t key;
        uint8_t sig[STG_SIG_BYTES];
    } sigs[STG_SIG_MAX];
} stg_envelope_t;

/* Bytes an envelope with this payload and signature count takes. */
size_t stg_envelope_size(size_t payload_len, unsigned nsig);

/* Structural parse only: size, magic, version, type, lengths, signature
 * count, no key signing twice. No signature is checked here. */
int stg_envelope_parse(const uint8_t *buf, size_t len, stg_envelope_t *env,
                       stg_diag_t *d);

/* Count the signatures that verify and whose key is in allowed[0..n).
 * A signature by a key not in allowed, or one that does not verify, is a
 * rejection (UNKNOWN_SIGNER / BAD_SIGNATURE): a document carries only good
 * signatures. Then fewer than need valid ones is TOO_FEW_SIGNATURES.
 * On success *signer (may be NULL) gets the index in allowed of the first
 * signature. */
int stg_envelope_verify(const stg_envelope_t *env, const stg_pubkey_t *allowed,
                        size_t n, unsigned need, size_t *signer,
                        stg_diag_t *d);

/* The bytes that are signed: domain string then payload. Returns the
 * length written, or a negative code when cap is too small. */
int stg_signing_input(int type, const uint8_t *payload, size_t len,
                      uint8_t *out, size_t cap);

/* Write an envelope of one signature into out. *outlen gets the size. */
int stg_envelope_seal(int type, const uint8_t *payload, size_t len,
                      const stg_seckey_t *key, uint8_t *out, size_t cap,
                      size_t *outlen);

/* Add a signature by key to the envelope in buf (of *len bytes, buffer cap
 * bytes): used to collect M-of-N operator signatures. A key that already
 * signed is refused with STG_EINVAL. */
int stg_envelope_cosign(uint8_t *buf, size_t *len, size_t cap,
                        const stg_seckey_t *key, stg_diag_t *d);

/* ---- strict JSON -------------------------------------------------------
 * Parse: size limit, UTF-8, duplicate keys refused, object at the top,
 * depth bounded by STG_JSON_DEPTH_MAX. Caller owns the result (json_decref).
 */
json_t *stg_json_parse(const uint8_t *buf, size_t len, stg_diag_t *d);

/* Field path builder for messages: "members[3].endpoint". */
typedef struct {
    char s[128];
} stg_path_t;
void stg_path_key(stg_path_t *out, const char *base, const char *key);
void stg_path_idx(stg_path_t *out, const char *base, size_t idx);

/* Refuse keys of obj that are not in allowed (NULL-terminated). */
int stg_json_only(json_t *obj, const char *path, const char *const *allowed,
                  stg_diag_t *d);
/* v must be an object with no keys but allowed: WRONG_TYPE or
 * UNKNOWN_FIELD otherwise. For array elements and nested objects. */
int stg_json_object_only(json_t *v, const char *path, const char *const *allowed,
                         stg_diag_t *d);

/* The frame of every document decoder: zero out[0..size), parse buf
 * strictly, run fn on the root; on refusal out is zeroed again, so no
 * half-decoded document is ever left behind. */
typedef int (*stg_json_decoder_t)(json_t *root, void *out, stg_diag_t *d);
int stg_json_decode(const uint8_t *buf, size_t len, stg_json_decoder_t fn, void *out,
                    size_t size, stg_diag_t *d);

/* Typed getters. Missing required fields are MISSING_FIELD; wrong types
 * WRONG_TYPE; out-of-bounds OUT_OF_RANGE. *out unchanged when an optional
 * field is absent (return 0). Strings are copied with their length bounded
 * by cap-1 (longer is TOO_LONG) and may not contain NUL. */
int stg_json_str(json_t *obj, const char *path, const char *key, bool required,
                 char *out, size_t cap, stg_diag_t *d);
int stg_json_int(json_t *obj, const char *path, const char *key, bool required,
                 int64_t min, int64_t max, int64_t *out, stg_diag_t *d);
int stg_json_bool(json_t *obj, const char *path, const char *key, bool required,
                  bool *out, stg_diag_t *d);
/* Arrays and objects: borrowed reference into obj, or NULL when absent and
 * optional. Checks the element count is <= max_items. */
int stg_json_array(json_t *obj, const char *path, const char *key,
                   bool required, size_t max_items, json_t **out,
                   stg_diag_t *d);
int stg_json_object(json_t *obj, const char *path, const char *key,
                    bool required, json_t **out, stg_diag_t *d);

/* One array element as a string, like stg_json_str; path names the array
 * ("operators"), the message names the element ("operators[2]"). */
int stg_json_elem_str(json_t *arr, const char *path, size_t idx, char *out,
                      size_t cap, stg_diag_t *d);

/* A name: 1..STG_NAME_MAX chars of [a-z0-9._-], starting with a letter or
 * digit. Used for fleet, member, flavour, component and role tags. */
bool stg_name_ok(const char *s);
/* stg_name_ok, or a BAD_VALUE rejection for the field at path. */
int stg_name_check(const char *path, const char *s, stg_diag_t *d);
/* A required or optional string field that must be a name. */
int stg_json_name(json_t *obj, const char *path, const char *key, bool required,
                  char out[STG_NAME_MAX + 1], stg_diag_t *d);

/* Hostile text made safe to quote in a message or a log line: printable
 * ASCII only (others become '?'), cut to cap-1 bytes with "..." when
 * longer. Returns out. */
#define STG_QUOTE_MAX 48
const char *stg_json_quote(const char *s, char *out, size_t cap);

#endif
