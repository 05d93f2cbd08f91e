/*
 * ratelimit: the gateway's two limiters, keyed by a client string.
 * token bucket — golang.org/x/time/rate as the orchestrating gateway uses
 * it (refill rpm/60 per second, burst), one bucket per key;
 * fixed window — the enhanced gateway's "visitor": `limit` requests, the
 * count restored when more than a window passed since the last allowed
 * request. A sweep drops keys idle long enough that dropping them cannot
 * be observed.
 */
#ifndef SIM_RATELIMIT_H
#define SIM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct tbucket {
    struct store keys;
    double per_ns, burst;
};

void tbucket_init(struct tbucket *t, int per_minute, int burst);
bool tbucket_allow(struct tbucket *t, const char *key, int64_t now_ns);
void tbucket_sweep(struct tbucket *t, int64_t now_ns);
void tbucket_destroy(struct tbucket *t);

struct fwindow {
    struct store keys;
    int limit;
    int64_t window_ns;
};

void fwindow_init(struct fwindow *f, int limit, int64_t window_ns);
/* true = allowed; *remaining is what the X-RateLimit-Remaining header says. */
bool fwindow_take(struct fwindow *f, const char *key, int64_t now_ns, int *remaining);
void fwindow_sweep(struct fwindow *f, int64_t now_ns);
void fwindow_destroy(struct fwindow *f);

#endif
