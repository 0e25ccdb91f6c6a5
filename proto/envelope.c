/* envelope.c: the one signed envelope every stagger document travels in.
 * Checks run in the order PITFALLS.md gives: size, magic, lengths, then
 * signatures; JSON is parsed only after the signature holds. */
#include <string.h>

#include <sodium.h>

#include "stagger/proto.h"

#define DOMAIN_PREFIX "stagger/v1/"

static const struct {
    int type;
    const char *name;
} doc_names[] = {
#define X(name, val, text) {val, text},
    STG_DOC_MAP(X)
#undef X
};

const char *stg_doc_name(int type) {
    for (size_t i = 0; i < sizeof doc_names / sizeof doc_names[0]; i++)
        if (doc_names[i].type == type) return doc_names[i].name;
    return NULL;
}

int stg_doc_from_name(const char *name) {
    for (size_t i = 0; i < sizeof doc_names / sizeof doc_names[0]; i++)
        if (strcmp(doc_names[i].name, name) == 0) return doc_names[i].type;
    return 0;
}

size_t stg_envelope_size(size_t payload_len, unsigned nsig) {
    return STG_ENV_HEADER + payload_len + (size_t)nsig * STG_ENV_SIG_ENTRY;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int stg_envelope_parse(const uint8_t *buf, size_t len, stg_envelope_t *env,
                       stg_diag_t *d) {
    if (len < STG_ENV_HEADER + 1 + STG_ENV_SIG_ENTRY)
        return stg_diag_set(d, STG_REJECT_TOO_SHORT, "envelope",
                            "%zu bytes is shorter than any signed document", len);
    if (len > stg_envelope_size(STG_PAYLOAD_MAX, STG_SIG_MAX))
        return stg_diag_set(d, STG_REJECT_TOO_LONG, "envelope",
                            "%zu bytes exceeds the limit", len);
    if (memcmp(buf, "STG", 3) != 0)
        return stg_diag_set(d, STG_REJECT_BAD_MAGIC, "envelope",
                            "does not start with \"STG\": not a stagger signed document");
    if (buf[3] != STG_PROTO_VERSION)
        return stg_diag_set(d, STG_REJECT_BAD_VERSION, "envelope",
                            "protocol version %u, this build speaks %u", buf[3],
                            STG_PROTO_VERSION);
    if (!stg_doc_name(buf[4]))
        return stg_diag_set(d, STG_REJECT_BAD_TYPE, "envelope",
                            "unknown document type %u", buf[4]);
    unsigned nsig = buf[5];
    uint32_t plen = get32(buf + 6);
    if (nsig == 0)
        return stg_diag_set(d, STG_REJECT_NO_SIGNATURE, "envelope", "carries no signature");
    if (nsig > STG_SIG_MAX)
        return stg_diag_set(d, STG_REJECT_TOO_MANY_SIGNATURES, "envelope",
                            "%u signatures, at most %d allowed", nsig, STG_SIG_MAX);
    /* A length outside its limits is too short or too long (one reason per
     * case, docs/protocol.md §6); BAD_LENGTH is for lengths that disagree
     * with the bytes received. */
    if (plen == 0)
        return stg_diag_set(d, STG_REJECT_TOO_SHORT, "envelope", "payload length 0, at least 1");
    if (plen > STG_PAYLOAD_MAX)
        return stg_diag_set(d, STG_REJECT_TOO_LONG, "envelope", "payload length %u, at most %d",
                            plen, STG_PAYLOAD_MAX);
    if (stg_envelope_size(plen, nsig) != len)
        return stg_diag_set(d, STG_REJECT_BAD_LENGTH, "envelope",
                            "header says %zu bytes, got %zu (truncated or padded)",
                            stg_envelope_size(plen, nsig), len);
    env->type = buf[4];
    env->nsig = (uint8_t)nsig;
    env->payload_len = plen;
    env->payload = buf + STG_ENV_HEADER;
    const uint8_t *s = buf + STG_ENV_HEADER + plen;
    for (unsigned i = 0; i < nsig; i++, s += STG_ENV_SIG_ENTRY) {
        memcpy(env->sigs[i].key.key, s, STG_KEY_BYTES);
        memcpy(env->sigs[i].sig, s + STG_KEY_BYTES, STG_SIG_BYTES);
        for (unsigned j = 0; j < i; j++)
            if (stg_pubkey_eq(&env->sigs[i].key, &env->sigs[j].key))
                return stg_diag_set(d, STG_REJECT_DUPLICATE_SIGNER, "envelope",
                                    "signature %u repeats the key of signature %u", i, j);
    }
    return 0;
}

int stg_signing_input(int type, const uint8_t *payload, size_t len, uint8_t *out,
                      size_t cap) {
    const char *name = stg_doc_name(type);
    if (!name) return STG_EINVAL;
    size_t plen = strlen(DOMAIN_PREFIX), nlen = strlen(name);
    size_t total = plen + nlen + 1 + len;
    if (total > cap || total > 0x7fffffff) return STG_ENOSPACE;
    memcpy(out, DOMAIN_PREFIX, plen);
    memcpy(out + plen, name, nlen);
    out[plen + nlen] = '\0';
    memcpy(out + plen + nlen + 1, payload, len);
    return (int)total;
}

/* Big enough for any domain string plus the largest payload. */
#define SIGNING_BUF (STG_PAYLOAD_MAX + 64)

static bool sig_ok(int type, const uint8_t *payload, size_t len,
                   const stg_pubkey_t *key, const uint8_t sig[STG_SIG_BYTES]) {
    static uint8_t buf[SIGNING_BUF]; /* single-threaded by design */
    int n = stg_signing_input(type, payload, len, buf, sizeof buf);
    if (n < 0) return false;
    return crypto_sign_verify_detached(sig, buf, (unsigned long long)n, key->key) == 0;
}

int stg_envelope_verify(const stg_envelope_t *env, const stg_pubkey_t *allowed,
                        size_t n, unsigned need, size_t *signer, stg_diag_t *d) {
    unsigned good = 0;
    for (unsigned i = 0; i < env->nsig; i++) {
        size_t k;
        for (k = 0; k < n; k++)
            if (stg_pubkey_eq(&env->sigs[i].key, &allowed[k])) break;
        char shortk[9];
        stg_pubkey_short(&env->sigs[i].key, shortk);
        if (k == n)
            return stg_diag_set(d, STG_REJECT_UNKNOWN_SIGNER, "envelope",
                                "signature %u is by key %s..., which may not sign a %s",
                                i, shortk, stg_doc_name(env->type));
        if (!sig_ok(env->type, env->payload, env->payload_len, &env->sigs[i].key,
                    env->sigs[i].sig))
            return stg_diag_set(d, STG_REJECT_BAD_SIGNATURE, "envelope",
                                "signature %u by key %s... does not verify: the document "
                                "was altered or signed with another key",
                                i, shortk);
        if (good == 0 && signer) *signer = k;
        good++;
    }
    if (good < need)
        return stg_diag_set(d, STG_REJECT_TOO_FEW_SIGNATURES, "envelope",
                            "%u valid signature(s), %u required", good, need);
    return 0;
}

static int sign_into(int type, const uint8_t *payload, size_t len,
                     const stg_seckey_t *key, uint8_t *entry) {
    static uint8_t buf[SIGNING_BUF];
    int n = stg_signing_input(type, payload, len, buf, sizeof buf);
    if (n < 0) return n;
    memcpy(entry, key->pub.key, STG_KEY_BYTES);
    if (crypto_sign_detached(entry + STG_KEY_BYTES, NULL, buf, (unsigned long long)n,
                             key->sk) != 0)
        return STG_ECRYPTO;
    return 0;
}

int stg_envelope_seal(int type, const uint8_t *payload, size_t len,
                      const stg_seckey_t *key, uint8_t *out, size_t cap,
                      size_t *outlen) {
    if (!stg_doc_name(type) || len == 0 || len > STG_PAYLOAD_MAX) return STG_EINVAL;
    size_t total = stg_envelope_size(len, 1);
    if (total > cap) return STG_ENOSPACE;
    memcpy(out, "STG", 3);
    out[3] = STG_PROTO_VERSION;
    out[4] = (uint8_t)type;
    out[5] = 1;
    put32(out + 6, (uint32_t)len);
    memmove(out + STG_ENV_HEADER, payload, len);
    int rc = sign_into(type, out + STG_ENV_HEADER, len, key, out + STG_ENV_HEADER + len);
    if (rc < 0) return rc;
    *outlen = total;
    return 0;
}

int stg_envelope_cosign(uint8_t *buf, size_t *len, size_t cap,
                        const stg_seckey_t *key, stg_diag_t *d) {
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, *len, &env, d);
    if (rc < 0) return rc;
    for (unsigned i = 0; i < env.nsig; i++)
        if (stg_pubkey_eq(&env.sigs[i].key, &key->pub)) {
            stg_diag_set(d, STG_REJECT_DUPLICATE_SIGNER, "envelope",
                         "this key has already signed the document");
            return STG_EINVAL;
        }
    if (env.nsig >= STG_SIG_MAX) {
        stg_diag_set(d, STG_REJECT_TOO_MANY_SIGNATURES, "envelope",
                     "already %u signatures, the most an envelope holds", env.nsig);
        return STG_ENOSPACE;
    }
    if (*len + STG_ENV_SIG_ENTRY > cap) return STG_ENOSPACE;
    rc = sign_into(env.type, env.payload, env.payload_len, key, buf + *len);
    if (rc < 0) return rc;
    buf[5] = (uint8_t)(env.nsig + 1);
    *len += STG_ENV_SIG_ENTRY;
    return 0;
}
