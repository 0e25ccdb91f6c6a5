/* fuzz_wire.c: libFuzzer target for the one-frame wire messages. A frame
 * that decodes must encode back to exactly the same bytes: the layout has
 * one spelling, so a relay never changes what it passes on. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "stagger/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_msg_t *m = fuzz_calloc(sizeof *m);
    stg_diag_t d;
    int rc = fuzz_verdict(stg_msg_decode(data, size, m, fuzz_diag(&d)), &d);
    if (rc == 0) {
        FUZZ_ASSERT(stg_msg_name(m->type) != NULL);
        FUZZ_ASSERT(m->npiggy <= STG_PIGGY_MAX && m->nvv <= STG_DIGEST_MAX &&
                    m->nrec <= STG_RECORDS_MAX);
        uint8_t *out = fuzz_calloc(size + 16);
        int n = stg_msg_encode(m, out, size + 16);
        FUZZ_ASSERT(n == (int)size && memcmp(out, data, size) == 0);
        free(out);
    }
    free(m);
    return 0;
}
