/*
 * segment: k6's execution segments (--execution-segment,
 * --execution-segment-sequence), pure. A segment is a rational (from, to]
 * of the whole test; a sequence lists adjacent segments covering 0..1.
 * Integers are split over the sequence by striping: the indexes 0, 1, 2...
 * are dealt out in cycles of the sequence's least common denominator (LCD),
 * each segment taking its numerator's share of every cycle at positions
 * spread as evenly as k6 spreads them. So the N instances' scaled values
 * always add up exactly to the global value, and each global index (a VU,
 * an arrival, a pool row) belongs to exactly one instance.
 *
 * Rationals are kept in int64 with numerators and denominators of at most
 * SEG_MAX_DEN; the LCD is capped at SEG_MAX_LCD (the stripes are arrays
 * of that size).
 */
#ifndef VOLLEY_SEGMENT_H
#define VOLLEY_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_MAX_DEN INT64_C(1000000000)
#define SEG_MAX_LCD INT64_C(1000000)
#define SEG_MAX_POINTS 1001

#define SEG_SEGMENT_EXPECTED \
    "FROM:TO or TO (= 0:TO) with 0 <= FROM < TO <= 1, each a fraction (1/3), a decimal (0.5) " \
    "or a whole percent (50%), e.g. 1/3:2/3"
#define SEG_SEQUENCE_EXPECTED \
    "increasing points from 0 to 1 separated by commas, each a fraction, a decimal or a whole " \
    "percent, e.g. 0,1/3,2/3,1"

typedef struct seg_rat {
    int64_t num, den;          /* reduced, den > 0 */
} seg_rat;

typedef struct seg_segment {
    seg_rat from, to;
} seg_segment;

/* One segment's share of a sequence: `count` positions in every cycle of
 * `lcd` indexes, at pos[0] < pos[1] < ... (each < lcd). */
typedef struct seg_stripe {
    int64_t lcd, count;
    const int64_t *pos;
} seg_stripe;

/* A full sequence (0 = pts[0] < ... < pts[n] = 1) and the stripe of each
 * of its n segments. */
typedef struct seg_seq {
    size_t n;
    seg_rat *pts;              /* n + 1 */
    int64_t lcd;
    seg_stripe *stripes;       /* n */
    int64_t *pos;              /* lcd: the stripes' positions */
} seg_seq;

/* This instance: a sequence and the index of its segment in it. */
typedef struct seg_tuple {
    seg_seq seq;
    size_t index;
} seg_tuple;

/* One value as k6 reads it: "1/3", "0.5", "50%" (whole percents). 0, or
 * -1 with err. No range check. */
int seg_parse_rat(const char *s, size_t len, seg_rat *out, char *err, size_t errcap);
/* --execution-segment: "a:b", or "x" = "0:x" ("" = "0:1"). */
int seg_parse_segment(const char *s, seg_segment *out, char *err, size_t errcap);
/* --execution-segment-sequence "r0,r1,...,rn" (n >= 1; need not start at
 * 0 or end at 1). pts gets at most cap points; *n_pts their number. */
int seg_parse_sequence(const char *s, seg_rat *pts, size_t cap, size_t *n_pts, char *err,
                       size_t errcap);

/* The tuple of a segment in a sequence (pts NULL: none), k6's
 * NewExecutionTuple: the sequence is filled to 0..1 (without one, around
 * the segment), then the segment must be one of its segments. 0, or -1
 * with err; free with seg_tuple_free. */
int seg_tuple_init(seg_tuple *t, const seg_segment *segment, const seg_rat *pts, size_t n_pts,
                   char *err, size_t errcap);
void seg_tuple_free(seg_tuple *t);

/* The stripes of a full sequence (pts[0] = 0, pts[n] = 1, increasing);
 * k6's NewExecutionSegmentSequenceWrapper. 0, or -1 with err (LCD too
 * large, out of memory). */
int seg_seq_init(seg_seq *q, const seg_rat *pts, size_t n_pts, char *err, size_t errcap);
void seg_seq_free(seg_seq *q);

/* k6's ExecutionTuple.GetNewExecutionTupleFromValue: the sequence split
 * again by how `value` scales over it (segments whose share is 0 left
 * out), so that what a scenario's VUs carry (its iterations, its arrivals)
 * goes to the instances in proportion to their VUs. 0 with *out set, 1
 * when this instance's share of `value` is 0 (*out untouched), -1 on
 * error. */
int seg_tuple_rescale(const seg_tuple *t, int64_t value, seg_tuple *out, char *err,
                      size_t errcap);

static inline const seg_stripe *seg_tuple_stripe(const seg_tuple *t)
{
    return &t->seq.stripes[t->index];
}

/* k6's ScaleInt64: this stripe's share of `value` (the global indexes
 * below value that are its own). NULL: value. */
int64_t seg_scale(const seg_stripe *st, int64_t value);
/* The global index of this stripe's local index j (0-based). NULL: j. */
int64_t seg_global(const seg_stripe *st, int64_t j);

/* Room for any formatted segment: two 47-character rationals, ':' and NUL. */
#define SEG_TEXT_MAX 96

/* "1/3", "0", "1": k6's RatString. */
void seg_rat_format(seg_rat r, char *buf, size_t cap);
/* "1/3:2/3" and "0,1/3,2/3,1". */
void seg_segment_format(const seg_segment *s, char *buf, size_t cap);
void seg_seq_format(const seg_seq *q, char *buf, size_t cap);

#endif
