/* core/rng.h - a splitmix64-seeded xoshiro256** generator: deterministic,
 * no global state. Not part of the public API. */
#ifndef BP_CORE_RNG_H
#define BP_CORE_RNG_H

#include "core/base.h"

typedef struct bp_rng { uint64_t s[4]; } bp_rng;
void bp_rng_seed(bp_rng *r, uint64_t seed);
uint64_t bp_rng_next(bp_rng *r);
double bp_rng_uniform(bp_rng *r);   /* [0, 1) with 53 random bits */
double bp_rng_normal(bp_rng *r);    /* N(0, 1), Box-Muller */

#endif
