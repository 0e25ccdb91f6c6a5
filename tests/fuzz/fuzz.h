/* fuzz.h: helpers shared by the libFuzzer targets, replay.c and mkcorpus.c.
 *
 * Each target (fuzz_<name>.c) defines LLVMFuzzerTestOneInput and keeps no
 * state between inputs: whatever it allocates for one input it frees before
 * returning, so ASan's leak check stays on. */
#ifndef STAGGER_FUZZ_H
#define STAGGER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "stagger/doc.h"
#include "stagger/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test key of docs/protocol.md §2.2: seed 00 01 .. 1f. */
void fuzz_test_key(stg_seckey_t *k);

/* Clear d, so a reject that fills in nothing is caught, and return it: the
 * pattern is  rc = fuzz_verdict(stg_x_decode(..., fuzz_diag(&d)), &d);  */
stg_diag_t *fuzz_diag(stg_diag_t *d);

/* A decoder's verdict must be 0, or STG_EREJECT with a named reason and a
 * message; anything else aborts, so libFuzzer records the input. Returns rc. */
int fuzz_verdict(int rc, const stg_diag_t *d);

/* calloc that aborts on failure. Caller owns the result (free()). */
void *fuzz_calloc(size_t size);

/* Whether all n bytes at p are zero. */
bool fuzz_is_zero(const void *p, size_t n);

/* Abort unless s is NUL-terminated within cap bytes. */
void fuzz_check_str(const char *s, size_t cap);

/* Seal payload as a document of this type with the test key. Caller owns
 * the result (free()); NULL when the payload cannot be sealed (empty or
 * over STG_PAYLOAD_MAX). */
uint8_t *fuzz_seal(int type, const uint8_t *payload, size_t len, size_t *outlen);

/* A zeroed roster (caller owns it, free()) whose only operator is the
 * test key: the signer a release must come from. */
stg_roster_t *fuzz_test_roster(void);

#define FUZZ_ASSERT(cond) \
    ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
