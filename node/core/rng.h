/* rng.h: the core's seeded random source (xoshiro256**); no entropy of its
 * own, so a simulator seed replays exactly. */
#ifndef STAGGER_CORE_RNG_H
#define STAGGER_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} stg_rng_t;

void stg__rng_seed(stg_rng_t *r, uint64_t seed);
uint64_t stg__rng_next(stg_rng_t *r);
/* Uniform in [0, n); n > 0. */
uint32_t stg__rng_below(stg_rng_t *r, uint32_t n);

#endif
