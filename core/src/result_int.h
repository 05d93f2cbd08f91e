/*
 * result_int: what result_read.c and result_from_ndjson.c share. Calls go
 * result_read.c -> result_from_ndjson.c (after the first line says the file
 * is json-out's NDJSON) -> result_ndjson_scan.c (a line's fields),
 * result_ndjson_time.c (its time) and rr__next_line / rr__dup, which live
 * in result_read.c.
 */
#ifndef VOLLEY_RESULT_INT_H
#define VOLLEY_RESULT_INT_H

#include <stdbool.h>
#include <stddef.h>
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
/* err = "PATH:LINE: message" ("PATH: message" for line 0): the readers'
 * one error form; returns -1. */
int rr__fail(char *err, size_t errcap, const char *path, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
char *rr__dup(const char *s);

/* What a json-out line says (result_ndjson_scan.c): pointers into the
 * line or a JSON tree, NUL-terminated; NULL when absent or not a string. */
enum { RR_TAG_NAME, RR_TAG_SCENARIO, RR_TAG_STATUS, RR_TAG_ERROR_CODE, RR_TAG_CHECK, RR_TAG_GROUP, RR_TAG_CAPTURE, RR_NTAGS };
extern const char *const rr_tag_names[RR_NTAGS];

typedef struct rr_line {
    const char *type, *metric, *time;   /* "type", "metric", "data"."time" */
    size_t type_len, metric_len, time_len;
    const char *tag[RR_NTAGS];           /* "data"."tags".* */
    size_t tag_len[RR_NTAGS];
    double value;                        /* "data"."value", when has_value */
    bool has_value;
} rr_line;

/* Reads a Point line's fields without a JSON tree: 1 (the strings kept
 * are NUL-terminated in the line), or 0, the line untouched, when it is
 * not a Point line or not plain JSON this scanner reads (escapes,
 * non-ASCII, malformed): then read it with jansson. */
int rr__scan_line(char *line, size_t len, rr_line *l);

/* Reads json-out's NDJSON (k6's `--out json` lines: Metric and Point) from
 * f, positioned at its start, into r (result_from_ndjson.c). 0, or -1 with
 * err ("FILE:LINE: what"). */
int rr__from_ndjson(gzFile f, const char *path, result *r, char *err, size_t errcap);

/* An RFC 3339 time ("2026-12-07T01:02:03.123456789+01:00", "...Z") as
 * nanoseconds since the epoch; 0, or -1 when it is not one
 * (result_ndjson_time.c). */
int rr__parse_time(const char *s, size_t len, int64_t *ns);

/* The same, with the date and clock parsed once per second of points
 * (json-out writes a second's prefix the same on each of its lines). */
typedef struct rr_time_cache {
    char prefix[20];         /* the last "YYYY-MM-DDTHH:MM:SS" */
    int64_t sec;
} rr_time_cache;
int rr__parse_time_cached(rr_time_cache *c, const char *s, size_t len, int64_t *ns);

#endif
