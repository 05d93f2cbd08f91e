/*
 * inject: the --latency/--jitter/--error-rate knobs. Delays are applied by
 * the server with a timer per held response (never by sleeping); errors
 * are decided per matched non-health route and answered by the service's
 * own 500 shape.
 */
#ifndef SIM_INJECT_H
#define SIM_INJECT_H

#include <stdbool.h>
#include <stdint.h>

/* latency ± uniform jitter, clamped at 0, in nanoseconds. */
int64_t inject_delay_ns(void);
bool inject_error(void);
/* A Bernoulli draw with probability p on the shared seeded stream. */
bool inject_chance(double p);

#endif
