/*
 * json-out's private header: the instance and the calls between its files.
 *
 *   json_out.c        options, config_check, create/write/tick/close: keeps
 *                     the samples the filters let through, in time order
 *   json_out_order.c  the reorder buffer: sorted points, emitted once older
 *                     than the newest seen time minus reorder_window
 *   json_out_line.c   what a line says: metrics and tag sets (filter
 *                     verdict and formatted tags, cached per pointer),
 *                     numbers, times, the Metric and Point lines
 *   json_out_sink.c   the bytes: one text buffer written with write(2) or
 *                     through zlib's gzip stream
 *
 * Calls go json_out.c -> order -> line -> sink; nothing calls back up.
 */
#ifndef JSON_OUT_INT_H
#define JSON_OUT_INT_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "volley/plugin.h"

#define JO_BUF_SIZE (256u * 1024u)
#define JO_NS_PER_SEC 1000000000

/* A growable text buffer (formatted tags, a metric line). */
typedef struct jo_text {
    char *data;
    size_t len, cap;
} jo_text;

/* What json-out knows about one metric id, filled the first time it is seen. */
typedef struct jo_metric {
    bool known;          /* filled */
    bool keep;           /* passes the metrics: filter */
    bool line_written;   /* its Metric line is in the file */
    char *tail;          /* `},"metric":"NAME"}\n`, the end of its Point lines */
    size_t tail_len;
} jo_metric;

/* One tag set the run produced: the tags: filter's verdict and its tags as
 * JSON without the dropped ones, both computed once. */
typedef struct jo_tagent {
    const volley_tagset *ts;
    bool match;
    bool cached;         /* text at tagtext[off, off + len) */
    uint32_t off, len;
} jo_tagent;

/* A sample that passed the filters, as the reorder buffer keeps it. */
typedef struct jo_point {
    int64_t time;
    double value;
    uint32_t metric;
    uint32_t tag;        /* index into tagents */
} jo_point;

typedef struct json_out {
    const volley_host *host;
    volley_core *core;
    char *path;

    /* sink */
    int fd;
    int write_errno;         /* first failed write(2) or zlib call, 0 when none */
    bool gzip;
    bool gz_ready;           /* deflateInit2 succeeded: deflateEnd owed */
    bool gz_dirty;           /* input since the last sync flush */
    z_stream z;
    unsigned char *zbuf;
    char *buf;               /* JO_BUF_SIZE bytes of text not yet written */
    size_t len;
    uint64_t last_flush_ns;
    bool wrote_since_tick;

    /* filters (strings owned by the config, which outlives close) */
    size_t n_keep;
    const char *const *keep;       /* metrics: */
    size_t n_match;
    const char *const *match_keys; /* tags: */
    const char **match_values;
    size_t n_drop;
    const char *const *drop;       /* drop_tags: */

    /* metrics and tag sets */
    jo_metric *metrics;
    size_t n_metrics;
    jo_tagent *tagents;
    size_t n_tagents, cap_tagents;
    uint32_t *slots;               /* open addressing: tagent index + 1, 0 empty */
    size_t n_slots;
    const volley_tagset *last_ts;  /* consecutive samples often share a set */
    uint32_t last_tag;
    jo_text tagtext;               /* cached tag JSON, capped (JO_TAGTEXT_MAX) */
    jo_text scratch;               /* a line part built outside the cache */

    /* times: the local time of the current second, formatted once per second */
    locale_t c_locale;       /* "%g" must print '.', whatever the process locale */
    int64_t sec;
    bool sec_valid;
    char prefix[64];         /* "YYYY-MM-DDTHH:MM:SS" */
    size_t prefix_len;
    char offset[8];          /* "+HH:MM" */

    /* reorder buffer: pend[head, len) sorted by time */
    int64_t window_ns;       /* 0: lines in arrival order */
    jo_point *pend;
    size_t pend_head, pend_len, pend_cap;
    jo_point *tmp;           /* merge scratch */
    size_t tmp_cap;
    int64_t newest;          /* newest sample time seen */
    int64_t last_out;        /* time of the last Point line written */
    bool have_newest, have_out;

    /* counts for the close-time report */
    uint64_t lines;          /* Point lines written */
    uint64_t filtered;       /* samples the filters left out */
    uint64_t late;           /* lines written older than one before them */
} json_out;

/* json_out_sink.c */
int jo_sink_open(json_out *j, int level, char *err, size_t errcap);
int jo_sink_flush(json_out *j, bool sync);
int jo_sink_finish(json_out *j);
void jo_sink_free(json_out *j);
int jo_put(json_out *j, const char *p, size_t n);
/* Makes sure `n` more bytes fit in j->buf (n <= JO_BUF_SIZE). */
static inline int jo_room(json_out *j, size_t n)
{
    return JO_BUF_SIZE - j->len >= n ? 0 : jo_sink_flush(j, false);
}

/* json_out_line.c */
const jo_metric *jo_metric_get(json_out *j, uint32_t id, char *err, size_t errcap);
/* Index of the tag set's entry (made the first time); -1: out of memory. */
int64_t jo_tag_get(json_out *j, const volley_tagset *ts);
int jo_emit(json_out *j, const jo_point *p);
void jo_line_free(json_out *j);

/* json_out_order.c */
jo_point *jo_order_space(json_out *j, size_t n);
int jo_order_commit(json_out *j, size_t n);
int jo_order_emit(json_out *j, int64_t before);
void jo_order_free(json_out *j);

#endif
