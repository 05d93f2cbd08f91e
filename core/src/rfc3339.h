/*
 * rfc3339: RFC 3339 date-times ("2026-12-07T01:02:03.123456789+01:00",
 * "...Z", 't'/' ' for 'T') as nanoseconds since the epoch, with no time
 * zone database and no libc time parsing: the date is counted in days of
 * the proleptic Gregorian calendar. One parser for --start-at (start_at.c)
 * and the times of json-out's lines (result_ndjson_time.c).
 */
#ifndef VOLLEY_RFC3339_H
#define VOLLEY_RFC3339_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The first 19 bytes, "YYYY-MM-DDTHH:MM:SS", as seconds since the epoch,
 * the offset aside; -1 unless len >= 19 and they are a real date and time
 * (a leap second :60 is the instant after :59, as POSIX time has it). */
int rfc3339_seconds(const char *s, size_t len, int64_t *sec);
/* What follows the seconds (".ddd", up to 9 digits kept; then Z or
 * +HH:MM / -HH:MM, also +HHMM when colonless) as nanoseconds to add to
 * them; -1 when it is not that or anything follows. */
int rfc3339_tail(const char *s, size_t len, bool colonless, int64_t *add);
/* The whole time as ns since the epoch; -1 when it is not one or lies
 * beyond int64 nanoseconds (before 1678, after 2262). */
int rfc3339_parse(const char *s, size_t len, bool colonless, int64_t *ns);

#endif
