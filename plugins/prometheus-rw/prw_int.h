/*
 * prometheus-rw's private header: the instance and the calls between its
 * files.
 *
 *   prw.c         options, config_check, create/write/tick/close: folds
 *                 samples into series, makes a batch every push_interval
 *   prw_series.c  the series table: one per metric and tag set (by
 *                 content: two workers hand out different pointers for
 *                 equal sets), cumulative values, which changed
 *   prw_name.c    names: k6's series names, trend stats (p(99.9) ->
 *                 p999), label names Prometheus accepts (pure)
 *   prw_nhist.c   a trend as a native histogram: exponential buckets
 *                 and their spans and deltas (trend_as_native_histogram)
 *   prw_encode.c  a WriteRequest of the changed series, protobuf (protoc-c
 *                 code of remote.proto) then snappy's block format
 *   prw_push.c    the bounded queue of encoded batches and the POSTs:
 *                 libcurl's multi interface driven from tick(), so the
 *                 output's thread never waits on the network; retries
 *                 with backoff on 5xx and transport errors, none on 4xx
 *
 * Calls go prw.c -> series -> name, prw.c -> encode -> series/name,
 * prw.c -> push; nothing calls back up.
 */
#ifndef PRW_INT_H
#define PRW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdr.h"
#include "volley/plugin.h"

/* ---- names (prw_name.c) ---- */

typedef enum prw_stat_kind {
    PRW_STAT_AVG = 0,
    PRW_STAT_MIN,
    PRW_STAT_MED,
    PRW_STAT_MAX,
    PRW_STAT_COUNT,
    PRW_STAT_SUM,
    PRW_STAT_PCT
} prw_stat_kind;

typedef struct prw_stat {
    prw_stat_kind kind;
    double pct;          /* PRW_STAT_PCT: 0..100 */
    char suffix[24];     /* "p99", "p999", "avg" */
} prw_stat;

/* Parses one of k6's trend stats (avg, min, med, max, count, sum, p(N)
 * with 0 <= N <= 100). 0, or -1 with k6's reason in err. */
int prw_stat_parse(const char *text, prw_stat *out, char *err, size_t errcap);

/* The series name of a metric as k6 names it: PREFIX NAME, then _total
 * (counter), _rate (rate), nothing (gauge) or _SUFFIX (a trend's stat, the
 * suffix given), with characters Prometheus does not allow in a metric
 * name turned into '_'. Returns the length it needs (as snprintf). */
size_t prw_series_name(char *out, size_t cap, const char *prefix, const char *metric,
                       volley_metric_type type, const char *stat_suffix);

/* A tag name as a label name: [a-zA-Z_][a-zA-Z0-9_]*, other characters
 * turned into '_', a leading digit behind a '_'. Returns the length it
 * needs (as snprintf). */
size_t prw_label_name(char *out, size_t cap, const char *tag);

/* ---- native histograms (prw_nhist.c) ---- */

#define PRW_NH_SCHEMA 3                   /* bounds 2^(1/8) apart */
#define PRW_NH_ZERO 2.938735877055719e-39 /* 2^-128: Prometheus' Go client's */

typedef struct prw_nside {
    int32_t lo;        /* bucket index of c[0] */
    uint32_t n;
    uint64_t *c;
} prw_nside;

typedef struct prw_nhist {
    prw_nside pos, neg;
    uint64_t zero;     /* |v| <= PRW_NH_ZERO */
} prw_nhist;

/* The bucket of v > 0: i with 2^((i-1)/8) < v <= 2^(i/8). */
int32_t prw_nh_index(double v);
/* The upper bound of bucket idx. */
double prw_nh_upper(int32_t idx);
/* Counts v (in the unit sent). -1 when out of memory. */
int prw_nh_add(prw_nhist *h, double v);
void prw_nh_free(prw_nhist *h);
struct Prometheus__Histogram;
/* *out as remote write's Histogram (its arrays allocated: free them with
 * prw_nh_encoded_free). -1 when out of memory. */
int prw_nh_encode(const prw_nhist *h, uint64_t count, double sum, int64_t ts_ms,
                  struct Prometheus__Histogram *out);
void prw_nh_encoded_free(struct Prometheus__Histogram *h);

/* ---- series (prw_series.c) ---- */

/* A trend's values are kept while it has at most this many, so its stats
 * are k6's exactly (the core's metrics.h does the same); past it, the
 * core's histogram (hdr.h) gives them within 0.2%. */
#define PRW_EXACT_MAX 4096u

typedef struct prw_label {
    char *name, *value;
} prw_label;

typedef struct prw_series {
    uint32_t metric;
    volley_metric_type type;
    bool time;                  /* contains time: values in ms, sent in s */
    size_t n_labels;            /* sorted by name, __name__ among them */
    prw_label *labels;          /* one allocation with the strings */
    size_t name_at;             /* index of __name__ (its value: NULL) */
    char **names;               /* __name__ per stat (a trend), else one */
    size_t n_names;
    char *key;                  /* metric id and labels: the content key */
    size_t key_len;
    uint64_t key_hash;
    /* Cumulative since the run began, as k6's sinks. */
    double sum;                 /* counter; trend */
    double last;                /* gauge */
    int64_t last_ns;            /* gauge: time of `last` */
    uint64_t count, nonzero;    /* rate; trend */
    double min, max;            /* trend (exact) */
    hdr_hist *hist;             /* trend, micro-units as the core's */
    prw_nhist *nh;              /* trend with native_histograms: instead of hist */
    double *exact;              /* trend: its values while count <= PRW_EXACT_MAX */
    bool sorted;                /* exact is in order */
    int64_t latest_ms;          /* newest sample time, ms */
    int64_t pushed_ms;          /* timestamp of the last batch it was in */
    bool changed;               /* a sample since that batch */
} prw_series;

/* One entry per (metric, tag set pointer) ever seen, and the series by
 * content. */
typedef struct prw_table {
    const volley_host *host;
    volley_core *core;
    const char *prefix;
    const prw_stat *stats;      /* a trend's series, one per stat */
    size_t n_stats;
    bool rate_counts;           /* a rate also as _passes_total, _fails_total */
    bool native;                /* a trend as one native histogram _seconds */
    struct prw_alias *alias;    /* open addressing, cap a power of two */
    size_t alias_cap, alias_n;
    uint32_t *by_key;           /* series index + 1, by content key */
    size_t key_cap;
    prw_series **s;
    size_t n, cap;
    char *scratch;              /* the content key being looked up */
    size_t scratch_cap;
} prw_table;

void prw_table_init(prw_table *t, const volley_host *host, volley_core *core, const char *prefix,
                    const prw_stat *stats, size_t n_stats);
void prw_table_free(prw_table *t);
/* Folds one sample into its series. -1 when out of memory. */
int prw_table_add(prw_table *t, const volley_sample *x);

/* ---- encoding (prw_encode.c) ---- */

typedef struct prw_buf {
    uint8_t *data;
    size_t len, cap;
} prw_buf;

/* The changed series of t as a snappy-compressed WriteRequest: one time
 * series per series (a trend: one per stat), timestamps in ms, each
 * series marked pushed. *n_series: the time series it holds (0: nothing
 * changed, out left empty). 0, or -1 when out of memory. */
int prw_encode_changed(prw_table *t, prw_buf *out, size_t *n_series);
/* The value a series sends: a trend's for the stat, in seconds when it
 * holds times (but count); the others' one value (stat unused). */
double prw_series_value(prw_series *s, const prw_stat *stat);
/* The value of a series' m-th time series (names[m]): a trend's stat m; a
 * rate's ratio, then with rate_counts its non-zero and zero samples. */
double prw_series_nth(const prw_table *t, prw_series *s, size_t m);
void prw_buf_free(prw_buf *b);

/* ---- pushing (prw_push.c) ---- */

typedef struct prw_push_cfg {
    const char *url;
    const char *const *headers;   /* "Name: value" lines */
    size_t n_headers;
    const char *username, *password;  /* basic auth when username */
    bool insecure;
    long timeout_ms;              /* one POST */
    size_t max_queue;             /* batches */
    unsigned max_retries;
    uint64_t backoff_ns;          /* first retry's wait, doubled after */
} prw_push_cfg;

typedef struct prw_push_stats {
    uint64_t batches, pushed;     /* made; accepted (2xx) */
    uint64_t retries;             /* attempts after a 5xx or transport error */
    uint64_t failed;              /* given up: a 4xx, or retries spent */
    uint64_t dropped;             /* the oldest, when the queue was full */
    uint64_t series_lost;         /* time series in failed and dropped ones */
    uint64_t samples_pushed;      /* samples whose batch was accepted */
    uint64_t samples_lost;        /* samples whose batch failed or was dropped */
    char first_error[256];        /* the first failure's reason */
} prw_push_stats;

typedef struct prw_push prw_push;

prw_push *prw_push_new(const prw_push_cfg *cfg, char *err, size_t errcap);
void prw_push_free(prw_push *p);
/* Takes the batch (the data is moved; *b is left empty). A full queue
 * drops its oldest batch first. n_samples: the samples it sums up, for
 * the count of those delivered and lost. */
void prw_push_add(prw_push *p, prw_buf *b, size_t n_series, uint64_t n_samples);
/* Moves the transfers on without waiting; returns how long until it needs
 * to run again (0: nothing queued). */
uint64_t prw_push_step(prw_push *p);
/* Until the queue is empty or `limit_ns` has passed, waiting on the
 * network; what is left then counts as failed. */
void prw_push_drain(prw_push *p, uint64_t limit_ns);
const prw_push_stats *prw_push_stats_get(const prw_push *p);
/* true once, at the first failed attempt (the caller says so at once). */
bool prw_push_first_failure(prw_push *p);

#endif
