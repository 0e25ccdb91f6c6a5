/* fuzz_command.c: libFuzzer target for emergency commands. Each input is
 * tried as a payload, sealed by the operator (test key, quorum 1) and
 * opened at a fixed time, and as a raw envelope. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NOW_MS 1800000000000LL

static void check(const stg_command_t *c) {
    fuzz_check_str(c->fleet, sizeof c->fleet);
    fuzz_check_str(c->reason, sizeof c->reason);
    FUZZ_ASSERT(c->seq >= 1 && c->expires_at_s > c->issued_at_s);
    FUZZ_ASSERT((unsigned)c->action < STG_CMD__COUNT && c->ntargets <= STG_MEMBERS_MAX);
    FUZZ_ASSERT(c->release_len <= sizeof c->release);
    FUZZ_ASSERT((c->action == STG_CMD_UPDATE) == (c->release_len > 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_command_t *cmd = fuzz_calloc(sizeof *cmd);
    stg_roster_t *roster = fuzz_test_roster();
    strcpy(roster->fleet, "pool");
    roster->emergency_quorum = 1;
    stg_diag_t d;
    if (fuzz_verdict(stg_command_decode(data, size, cmd, fuzz_diag(&d)), &d) == 0) check(cmd);
    size_t envlen = 0;
    uint8_t *env = fuzz_seal(STG_DOC_COMMAND, data, size, &envlen);
    if (env) {
        if (fuzz_verdict(stg_command_open(env, envlen, roster, NOW_MS, cmd, NULL, fuzz_diag(&d)),
                         &d) == 0)
            check(cmd);
        free(env);
    }
    if (fuzz_verdict(stg_command_open(data, size, roster, NOW_MS, cmd, NULL, fuzz_diag(&d)), &d) == 0)
        check(cmd);
    free(cmd);
    free(roster);
    return 0;
}
