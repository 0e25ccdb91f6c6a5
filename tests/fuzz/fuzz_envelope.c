/* fuzz_envelope.c: libFuzzer target for the signed envelope: parse, verify
 * against the fixed test key, and co-sign (which parses its input too). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* A parsed envelope must describe exactly the bytes it came from. */
static void check_parsed(const stg_envelope_t *env, const uint8_t *data, size_t size) {
    FUZZ_ASSERT(env->nsig >= 1 && env->nsig <= STG_SIG_MAX);
    FUZZ_ASSERT(stg_doc_name(env->type) != NULL);
    FUZZ_ASSERT(env->payload == data + STG_ENV_HEADER);
    FUZZ_ASSERT(stg_envelope_size(env->payload_len, env->nsig) == size);
    for (unsigned i = 0; i < env->nsig; i++)
        for (unsigned j = 0; j < i; j++)
            FUZZ_ASSERT(!stg_pubkey_eq(&env->sigs[i].key, &env->sigs[j].key));
}

static void verify(const stg_envelope_t *env, const stg_seckey_t *key) {
    stg_diag_t d;
    size_t signer = (size_t)-1;
    if (fuzz_verdict(stg_envelope_verify(env, &key->pub, 1, 1, &signer, fuzz_diag(&d)), &d) == 0) {
        /* Only the test key may sign, and the envelope has no duplicates. */
        FUZZ_ASSERT(signer == 0 && env->nsig == 1);
        FUZZ_ASSERT(stg_pubkey_eq(&env->sigs[0].key, &key->pub));
    }
    /* Asking for more signatures than there are can never pass. */
    int rc = stg_envelope_verify(env, &key->pub, 1, (unsigned)env->nsig + 1, NULL, fuzz_diag(&d));
    FUZZ_ASSERT(fuzz_verdict(rc, &d) == STG_EREJECT);
}

/* Co-signing a valid envelope yields a valid envelope one signature longer;
 * co-signing anything else is refused without writing past the buffer. */
static void cosign(const uint8_t *data, size_t size, const stg_envelope_t *env,
                   bool parsed, const stg_seckey_t *key) {
    size_t cap = size + STG_ENV_SIG_ENTRY, len = size;
    uint8_t *buf = fuzz_calloc(cap);
    memcpy(buf, data, size);
    stg_diag_t d;
    int rc = stg_envelope_cosign(buf, &len, cap, key, fuzz_diag(&d));
    if (!parsed) FUZZ_ASSERT(rc < 0);
    if (rc == 0) {
        FUZZ_ASSERT(len == cap);
        stg_envelope_t out;
        FUZZ_ASSERT(stg_envelope_parse(buf, len, &out, &d) == 0);
        FUZZ_ASSERT(out.nsig == env->nsig + 1 && out.type == env->type);
        FUZZ_ASSERT(stg_pubkey_eq(&out.sigs[env->nsig].key, &key->pub));
        FUZZ_ASSERT(memcmp(out.payload, env->payload, env->payload_len) == 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_seckey_t key;
    fuzz_test_key(&key);
    stg_envelope_t env;
    stg_diag_t d;
    int rc = fuzz_verdict(stg_envelope_parse(data, size, &env, fuzz_diag(&d)), &d);
    if (rc == 0) {
        check_parsed(&env, data, size);
        verify(&env, &key);
    }
    cosign(data, size, &env, rc == 0, &key);
    return 0;
}
