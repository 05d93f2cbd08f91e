/*
 * result_int: what result_read.c and result_from_ndjson.c share. Calls go
 * result_read.c -> result_from_ndjson.c (after the first line says the file
 * is json-out's NDJSON) -> the helpers below, which live in result_read.c.
 */
#ifndef VOLLEY_RESULT_INT_H
#define VOLLEY_RESULT_INT_H

#include <stdint.h>
#include <zlib.h>

#include "result_read.h"

/* A line longer than this is not a result file's (a window of thousands
 * of series with histograms is a few MB) nor json-out's. */
#define RR_LINE_MAX_BYTES (256u << 20)

/* Reads one line of any length into *buf (NUL-terminated, with its '\n');
 * 1 with a line, 0 at the end, -1 out of memory, -2 longer than
 * RR_LINE_MAX_BYTES, -3 not gzip or corrupt. */
int rr__next_line(gzFile f, char **buf, size_t *cap, size_t *len);
char *rr__dup(const char *s);

/* Reads json-out's NDJSON (k6's `--out json` lines: Metric and Point) from
 * f, positioned at its start, into r (result_from_ndjson.c). 0, or -1 with
 * err ("FILE:LINE: what"). */
int rr__from_ndjson(gzFile f, const char *path, result *r, char *err, size_t errcap);

/* An RFC 3339 time ("2026-12-07T01:02:03.123456789+01:00", "...Z") as
 * nanoseconds since the epoch; 0, or -1 when it is not one. */
int rr__parse_time(const char *s, size_t len, int64_t *ns);

#endif
