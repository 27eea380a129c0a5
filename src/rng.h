/* Seeded random numbers (xoshiro256** seeded through splitmix64). Every
 * random choice in uoe-wb goes through one of these, so runs reproduce. */
#ifndef UOE_RNG_H
#define UOE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state[4];
} Rng;

void rng_seed(Rng *rng, uint64_t seed);
uint64_t rng_next(Rng *rng);
/* Uniform in [0, 1). */
double rng_uniform(Rng *rng);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *rng);
/* Uniform integer in [0, bound). */
uint64_t rng_below(Rng *rng, uint64_t bound);
/* Fisher-Yates: a uniformly random permutation of order[0..count). */
void rng_shuffle(Rng *rng, int *order, int count);

#endif
