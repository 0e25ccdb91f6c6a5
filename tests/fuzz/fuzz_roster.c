/* fuzz_roster.c: libFuzzer target for the roster codec. Each input is tried
 * as a payload (stg_roster_decode), sealed with the test key and opened
 * (stg_roster_open, new and as a replacement), and as a raw envelope. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* What doc.h promises about any roster it hands out. */
static void check_roster(const stg_roster_t *r) {
    fuzz_check_str(r->fleet, sizeof r->fleet);
    FUZZ_ASSERT(stg_name_ok(r->fleet));
    FUZZ_ASSERT(r->noperators >= 1 && r->noperators <= STG_OPERATORS_MAX);
    FUZZ_ASSERT(r->emergency_quorum >= 1 && r->emergency_quorum <= r->noperators);
    FUZZ_ASSERT(r->nobservers <= STG_OBSERVERS_MAX);
    FUZZ_ASSERT(r->nmembers >= 1 && r->nmembers <= STG_MEMBERS_MAX);
    unsigned held = 0;
    for (unsigned i = 0; i < r->nmembers; i++) {
        const stg_member_t *m = &r->members[i];
        fuzz_check_str(m->name, sizeof m->name);
        fuzz_check_str(m->endpoint, sizeof m->endpoint);
        fuzz_check_str(m->flavour, sizeof m->flavour);
        FUZZ_ASSERT(stg_name_ok(m->name));
        FUZZ_ASSERT((unsigned)m->role < STG_ROLE__COUNT);
        FUZZ_ASSERT(m->stage >= 1 && m->stage <= 9);
        FUZZ_ASSERT(m->ntags <= STG_TAGS_MAX);
        for (unsigned t = 0; t < m->ntags; t++) fuzz_check_str(m->tags[t], sizeof m->tags[t]);
        FUZZ_ASSERT(stg_roster_find_key(r, &m->key) == (int)i);
        FUZZ_ASSERT(stg_roster_find_name(r, m->name) == (int)i);
        held += m->holdback;
    }
    /* Someone must be left to prove a release. */
    FUZZ_ASSERT(held < r->nmembers);
    const stg_policy_t *p = &r->policy;
    FUZZ_ASSERT(p->batch == 1 || p->batch == 2);
    FUZZ_ASSERT(p->nwindows <= STG_WINDOWS_MAX);
    for (unsigned w = 0; w < p->nwindows; w++) {
        FUZZ_ASSERT(p->windows[w].days < 0x80);
        FUZZ_ASSERT(p->windows[w].start_min < 24 * 60 && p->windows[w].end_min <= 24 * 60);
    }
}

/* A roster is either fully decoded and checked, or all zero: nothing
 * half-decoded or unverified may be left where a caller could use it. */
static int verdict(int rc, const stg_diag_t *d, const stg_roster_t *r) {
    if (fuzz_verdict(rc, d) == 0) check_roster(r);
    else FUZZ_ASSERT(fuzz_is_zero(r, sizeof *r));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_roster_t *decoded = fuzz_calloc(sizeof *decoded);
    stg_roster_t *opened = fuzz_calloc(sizeof *opened);
    stg_diag_t d;

    int rc_dec = verdict(stg_roster_decode(data, size, decoded, fuzz_diag(&d)), &d, decoded);

    size_t envlen = 0;
    uint8_t *env = fuzz_seal(STG_DOC_ROSTER, data, size, &envlen);
    if (env) {
        if (verdict(stg_roster_open(env, envlen, NULL, opened, fuzz_diag(&d)), &d, opened) == 0) {
            /* Opening adds checks to decoding, never different results. */
            FUZZ_ASSERT(rc_dec == 0);
            FUZZ_ASSERT(memcmp(decoded, opened, sizeof *opened) == 0);
        }
        if (rc_dec == 0) {
            /* The decoded roster as the current one: its own serial is
             * not higher, so it never replaces itself. */
            int rc = stg_roster_open(env, envlen, decoded, opened, fuzz_diag(&d));
            FUZZ_ASSERT(verdict(rc, &d, opened) == STG_EREJECT);
        }
        free(env);
    }

    /* The input as an envelope: signatures the fuzzer made up never pass. */
    verdict(stg_roster_open(data, size, NULL, opened, fuzz_diag(&d)), &d, opened);

    free(decoded);
    free(opened);
    return 0;
}
