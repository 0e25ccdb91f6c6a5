/* keys.c: Ed25519 identities, their base64 text form and CURVE conversion. */
#include <string.h>

#include <sodium.h>

#include "stagger/proto.h"

int stg_seckey_from_seed(stg_seckey_t *k, const uint8_t seed[STG_SEED_BYTES]) {
    memcpy(k->seed, seed, STG_SEED_BYTES);
    if (crypto_sign_seed_keypair(k->pub.key, k->sk, seed) != 0) return STG_ECRYPTO;
    return 0;
}

void stg_pubkey_to_b64(const stg_pubkey_t *k, char out[STG_KEY_B64_LEN + 1]) {
    sodium_bin2base64(out, STG_KEY_B64_LEN + 1, k->key, STG_KEY_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
}

int stg_key_text_decode(const uint8_t *text, size_t len, uint8_t out[32]) {
    bool ending = len == STG_KEY_B64_LEN ||
                  (len == STG_KEY_B64_LEN + 1 && text[STG_KEY_B64_LEN] == '\n') ||
                  (len == STG_KEY_B64_LEN + 2 && text[STG_KEY_B64_LEN] == '\r' &&
                   text[STG_KEY_B64_LEN + 1] == '\n');
    size_t n = 0;
    if (!ending ||
        sodium_base642bin(out, 32, (const char *)text, STG_KEY_B64_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != 32)
        return STG_EINVAL;
    return 0;
}

int stg_pubkey_from_b64(stg_pubkey_t *k, const char *s) {
    size_t n = 0;
    if (strlen(s) != STG_KEY_B64_LEN) return STG_EREJECT;
    if (sodium_base642bin(k->key, sizeof k->key, s, STG_KEY_B64_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != STG_KEY_BYTES)
        return STG_EREJECT;
    /* Canonical encoding only: re-encoding must give the same text, so one
     * key has exactly one spelling in a roster. */
    char back[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(k, back);
    if (strcmp(back, s) != 0) return STG_EREJECT;
    if (!crypto_core_ed25519_is_valid_point(k->key)) return STG_EREJECT;
    return 0;
}

int stg_pubkey_lookup_b64(stg_pubkey_t *k, const char *s) {
    size_t n = 0;
    if (strlen(s) != STG_KEY_B64_LEN ||
        sodium_base642bin(k->key, sizeof k->key, s, STG_KEY_B64_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != STG_KEY_BYTES)
        return STG_EREJECT;
    return 0;
}

bool stg_pubkey_eq(const stg_pubkey_t *a, const stg_pubkey_t *b) {
    return memcmp(a->key, b->key, STG_KEY_BYTES) == 0;
}

void stg_pubkey_short(const stg_pubkey_t *k, char out[9]) {
    char full[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(k, full);
    memcpy(out, full, 8);
    out[8] = '\0';
}

int stg_curve_from_seckey(const stg_seckey_t *k, uint8_t curve_pk[32],
                          uint8_t curve_sk[32]) {
    if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, k->pub.key) != 0) return STG_ECRYPTO;
    if (crypto_sign_ed25519_sk_to_curve25519(curve_sk, k->sk) != 0) return STG_ECRYPTO;
    return 0;
}

int stg_curve_from_pubkey(const stg_pubkey_t *k, uint8_t curve_pk[32]) {
    return crypto_sign_ed25519_pk_to_curve25519(curve_pk, k->key) == 0 ? 0 : STG_ECRYPTO;
}
