/* fuzz_release.c: libFuzzer target for the release codec. Each input is
 * tried as a payload (stg_release_decode), sealed with the test key and
 * opened against a roster whose operator is that key, and as a raw
 * envelope. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* What doc.h promises about any release it hands out. */
static void check_release(const stg_release_t *rel) {
    fuzz_check_str(rel->component, sizeof rel->component);
    fuzz_check_str(rel->version, sizeof rel->version);
    FUZZ_ASSERT(stg_name_ok(rel->component) && rel->version[0] != '\0');
    FUZZ_ASSERT(rel->not_before_s == 0 || rel->not_before_s >= rel->created_at_s);
    FUZZ_ASSERT(rel->nartifacts >= 1 && rel->nartifacts <= STG_FLAVOURS_MAX);
    for (unsigned i = 0; i < rel->nartifacts; i++) {
        const stg_artifact_t *a = &rel->artifacts[i];
        fuzz_check_str(a->flavour, sizeof a->flavour);
        fuzz_check_str(a->image, sizeof a->image);
        fuzz_check_str(a->url, sizeof a->url);
        fuzz_check_str(a->sha256, sizeof a->sha256);
        FUZZ_ASSERT(stg_name_ok(a->flavour) && strlen(a->sha256) == 64);
        FUZZ_ASSERT((a->image[0] != '\0') != (a->url[0] != '\0'));
        FUZZ_ASSERT(stg_release_artifact(rel, a->flavour) != NULL);
    }
}

/* A release is either fully decoded and checked, or all zero. */
static int verdict(int rc, const stg_diag_t *d, const stg_release_t *rel) {
    if (fuzz_verdict(rc, d) == 0) check_release(rel);
    else FUZZ_ASSERT(fuzz_is_zero(rel, sizeof *rel));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_release_t *decoded = fuzz_calloc(sizeof *decoded);
    stg_release_t *opened = fuzz_calloc(sizeof *opened);
    stg_roster_t *roster = fuzz_test_roster();
    stg_diag_t d;

    int rc_dec = verdict(stg_release_decode(data, size, decoded, fuzz_diag(&d)), &d, decoded);

    size_t envlen = 0;
    uint8_t *env = fuzz_seal(STG_DOC_RELEASE, data, size, &envlen);
    if (env) {
        int rc = verdict(stg_release_open(env, envlen, roster, opened, fuzz_diag(&d)), &d, opened);
        /* The signer is the roster's operator: opening is decoding. */
        FUZZ_ASSERT((rc == 0) == (rc_dec == 0));
        if (rc == 0) FUZZ_ASSERT(memcmp(decoded, opened, sizeof *opened) == 0);
        free(env);
    }

    /* The input as an envelope: signatures the fuzzer made up never pass. */
    verdict(stg_release_open(data, size, roster, opened, fuzz_diag(&d)), &d, opened);

    free(decoded);
    free(opened);
    free(roster);
    return 0;
}
