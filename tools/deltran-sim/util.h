/*
 * util: what every module of the stand-in shares — allocation that aborts
 * on exhaustion (a test stand-in has nothing better to do), a growable byte
 * buffer, the seeded random source, UUIDs and the three time formats the
 * real services print (Go, Rust/chrono, Python/FastAPI).
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

struct sbuf {
    char *data;
    size_t len, cap;
};

void sb_reserve(struct sbuf *b, size_t extra);
void sb_add(struct sbuf *b, const void *p, size_t n);
void sb_adds(struct sbuf *b, const char *s);
void sb_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(struct sbuf *b, const char *fmt, va_list ap);
void sb_free(struct sbuf *b);

/* xoshiro256** seeded through splitmix64: one process-wide stream, so a
 * --seed makes every random choice (injection, ids, jitter) repeatable. */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);
double rng_unit(void); /* [0, 1) */

/* Lower-case hyphenated version-4 UUID into out[37]. */
void uuid_v4(char out[37]);

/* Wall clock in nanoseconds since the epoch. */
int64_t wall_ns(void);
/* Monotonic clock in nanoseconds. */
int64_t mono_ns(void);

/* Go's time.Time JSON form (RFC3339Nano, UTC, trailing zeros trimmed). */
void fmt_time_go(int64_t ns, char out[40]);
/* Go's time.RFC3339 (seconds only, UTC "Z"). */
void fmt_time_rfc3339(int64_t ns, char out[40]);
/* chrono DateTime<Utc> serde form: fraction in 3, 6 or 9 digits, or none. */
void fmt_time_rust(int64_t ns, char out[40]);
/* Python datetime.isoformat() of an aware UTC value: "+00:00", 6 digits
 * unless the microseconds are zero. */
void fmt_time_py(int64_t ns, char out[40]);
/* Go's time.Duration.String(): "1m2.5s", "350ms", "0s". */
void fmt_go_duration(int64_t ns, char out[48]);

/* Parses an RFC 3339 / ISO-8601 date-time ("2025-01-02T03:04:05Z",
 * "...T03:04:05.123+02:00", "2025-01-02 03:04:05"); 0 and *ns, or -1.
 * Naive times (no zone) are taken as UTC; years outside 1678-2261 (what
 * nanoseconds in an int64 can hold) are refused. */
int parse_datetime(const char *s, int64_t *ns);

#endif
