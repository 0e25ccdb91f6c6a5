/* fuzz_common.c: the shared half of every fuzz target (see fuzz.h): the
 * fixed test key, sealing, and the checks every decoder verdict must pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"

_Noreturn void fuzz_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

void fuzz_test_key(stg_seckey_t *k) {
    uint8_t seed[STG_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)i;
    FUZZ_ASSERT(sodium_init() >= 0);
    FUZZ_ASSERT(stg_seckey_from_seed(k, seed) == 0);
}

stg_diag_t *fuzz_diag(stg_diag_t *d) {
    d->reason = STG_REJECT_NONE;
    memset(d->msg, 0, sizeof d->msg);
    return d;
}

void *fuzz_calloc(size_t size) {
    void *p = calloc(1, size);
    FUZZ_ASSERT(p != NULL);
    return p;
}

bool fuzz_is_zero(const void *p, size_t n) {
    /* Each byte equals the next and the first is 0. One memcmp, not a loop
     * of instrumented compares: rosters are 200 KB and this runs per input. */
    const uint8_t *b = p;
    return n == 0 || (b[0] == 0 && memcmp(b, b + 1, n - 1) == 0);
}

void fuzz_check_str(const char *s, size_t cap) {
    FUZZ_ASSERT(memchr(s, '\0', cap) != NULL);
}

int fuzz_verdict(int rc, const stg_diag_t *d) {
    if (rc == 0) return 0;
    FUZZ_ASSERT(rc == STG_EREJECT);
    FUZZ_ASSERT(d->reason > STG_REJECT_NONE && d->reason < STG_REJECT__COUNT);
    fuzz_check_str(d->msg, sizeof d->msg);
    FUZZ_ASSERT(d->msg[0] != '\0');
    return rc;
}

uint8_t *fuzz_seal(int type, const uint8_t *payload, size_t len, size_t *outlen) {
    if (len == 0 || len > STG_PAYLOAD_MAX) return NULL;
    stg_seckey_t key;
    fuzz_test_key(&key);
    size_t cap = stg_envelope_size(len, 1);
    uint8_t *out = malloc(cap);
    FUZZ_ASSERT(out != NULL);
    FUZZ_ASSERT(stg_envelope_seal(type, payload, len, &key, out, cap, outlen) == 0);
    FUZZ_ASSERT(*outlen == cap);
    sodium_memzero(&key, sizeof key);
    return out;
}

stg_roster_t *fuzz_test_roster(void) {
    stg_roster_t *r = fuzz_calloc(sizeof *r);
    stg_seckey_t key;
    fuzz_test_key(&key);
    snprintf(r->fleet, sizeof r->fleet, "fuzz");
    r->serial = 1;
    r->noperators = 1;
    r->operators[0] = key.pub;
    r->emergency_quorum = 1;
    return r;
}
