/*
 * rng: the per-VU random stream behind random.* templates, uuid() and
 * random pool picks. Each VU's stream is derived from the run's seed and
 * the VU's id alone, so `--seed N` repeats every VU's choices whatever the
 * threads do. splitmix64: one word of state, fast, good enough for test
 * data (not for secrets).
 */
#ifndef VOLLEY_RNG_H
#define VOLLEY_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The starting state of VU `id`'s stream in a run seeded with `seed`. */
static inline uint64_t rng_vu_state(uint64_t seed, uint64_t id)
{
    uint64_t s = seed ^ (id * 0xd1342543de82ef95ull);
    return rng_next(&s);
}

/* Uniform in [0, n) for n >= 1 (multiply-shift; the bias is below 2^-32
 * for the ranges test data uses). */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(state) * n) >> 64);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
