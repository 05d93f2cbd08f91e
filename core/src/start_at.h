/*
 * start_at: --start-at TIME, the wall-clock instant a run's load starts
 * (scale-out: every instance waits for the same instant). Pure: parses
 * and checks against a `now` the caller passes in.
 */
#ifndef VOLLEY_START_AT_H
#define VOLLEY_START_AT_H

#include <stddef.h>
#include <stdint.h>

/* The furthest ahead --start-at may be: a typo (a wrong year or day)
 * would otherwise leave instances waiting silently. */
#define START_AT_MAX_AHEAD_NS (INT64_C(24) * 3600 * 1000000000)

#define START_AT_EXPECTED \
    "an RFC 3339 time (2026-12-07T06:00:00Z, 2026-12-07T07:00:00.5+01:00) or Unix seconds (1796623200, 1796623200.25)"

/* RFC 3339 date-time with a Z or +-HH:MM offset, or Unix epoch seconds
 * with an optional fraction, to ns since the epoch. 0 or -1 + err. */
int start_at_parse(const char *s, int64_t *unix_ns, char *err, size_t errcap);
/* The instant must be after now_ns and at most START_AT_MAX_AHEAD_NS
 * ahead: 0, or -1 + err naming both times. */
int start_at_check(int64_t unix_ns, int64_t now_ns, char *err, size_t errcap);
/* ns since the epoch as "2026-12-07T06:00:00.250Z" (milliseconds, UTC). */
void start_at_format(int64_t unix_ns, char *buf, size_t cap);

#endif
