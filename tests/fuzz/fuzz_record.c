/* fuzz_record.c: libFuzzer target for node records. Each input is tried as
 * a payload, sealed by a member key and opened against a one-member roster
 * (decoding and opening must agree), and as a raw envelope. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "stagger/record.h"

static void check(const stg_record_t *r) {
    fuzz_check_str(r->fleet, sizeof r->fleet);
    fuzz_check_str(r->node, sizeof r->node);
    fuzz_check_str(r->version, sizeof r->version);
    fuzz_check_str(r->detail, sizeof r->detail);
    if ((unsigned)r->phase >= STG_PHASE__COUNT) abort();
    fuzz_check_str(r->release, sizeof r->release);
    fuzz_check_str(r->phase_detail, sizeof r->phase_detail);
    FUZZ_ASSERT(r->inc >= 1 && r->seq >= 1 && (unsigned)r->health < STG_HEALTH__COUNT);
    FUZZ_ASSERT((r->caps & ~STG_CAPS_OWN) == 0); /* only capabilities this build knows */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_record_t *rec = fuzz_calloc(sizeof *rec);
    stg_roster_t *roster = fuzz_test_roster();
    stg_seckey_t k;
    fuzz_test_key(&k);
    /* The test key is the only member, "n00" of fleet "sim". */
    strcpy(roster->fleet, "sim");
    roster->nmembers = 1;
    strcpy(roster->members[0].name, "n00");
    roster->members[0].key = k.pub;
    stg_diag_t d;

    int rc_dec = fuzz_verdict(stg_record_decode(data, size, rec, fuzz_diag(&d)), &d);
    if (rc_dec == 0) check(rec);
    bool names_us = rc_dec == 0 && strcmp(rec->fleet, "sim") == 0 && strcmp(rec->node, "n00") == 0;

    size_t envlen = 0;
    uint8_t *env = fuzz_seal(STG_DOC_RECORD, data, size, &envlen);
    if (env) {
        int member = -1;
        int rc = fuzz_verdict(stg_record_open(env, envlen, roster, rec, &member, fuzz_diag(&d)), &d);
        /* Signed by n00: it opens exactly when it decodes and names n00. */
        FUZZ_ASSERT((rc == 0) == names_us);
        if (rc == 0) FUZZ_ASSERT(member == 0);
        free(env);
    }
    int member = -1;
    if (fuzz_verdict(stg_record_open(data, size, roster, rec, &member, fuzz_diag(&d)), &d) == 0)
        check(rec);
    free(rec);
    free(roster);
    return 0;
}
