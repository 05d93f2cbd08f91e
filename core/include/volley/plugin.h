/*
 * Volley plugin SDK: the one header a plugin author needs.
 *
 * A plugin is a shared object that exports exactly one function,
 * volley_plugin_entry(), normally through VOLLEY_PLUGIN_DEFINE(). The core
 * calls it with its ABI version and its host API table; the plugin answers
 * with a const, versioned, size-tagged descriptor. Plugins call the core only
 * through the host table, so a test can hand a plugin a mock host.
 *
 * Three kinds exist:
 *   protocol  executes one kind of flow step (http, ws) on a worker's libuv loop
 *   check     evaluates named check conditions (status, json, ...) on a response
 *   output    receives batches of samples on its own thread (json-out, ...)
 *
 * Compatibility (see "Versioning" below): every struct that crosses the
 * boundary carries its `size`; fields are only ever appended, and each
 * append raises VOLLEY_ABI_REVISION. The core accepts a plugin built
 * against any earlier revision of the same VOLLEY_ABI_VERSION and reads its
 * structs only up to the size they declare; a plugin tests for what a newer
 * revision added with VOLLEY_HAS().
 */
#ifndef VOLLEY_PLUGIN_H
#define VOLLEY_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versioning                                                                */
/* ------------------------------------------------------------------------ */

/*
 * VOLLEY_ABI_VERSION changes only when a struct changes incompatibly (a
 * field moves or changes type); a core refuses a plugin of another ABI
 * version. VOLLEY_ABI_REVISION grows by one with every release that appends
 * fields; older revisions stay loadable:
 *
 *   revision 0  (volley 0.1.0) the first ABI 1 layout
 *   revision 1  volley_plugin.revision; volley_host.revision;
 *               volley_output_ops.config_check and .tick
 *   revision 2  VOLLEY_OPT_VALUE, VOLLEY_OPT_VALUE_LIST (check values that
 *               may be known only at run time); volley_host.value_get and
 *               .checks_match_vu; volley_protocol_ops.step_name
 *   revision 3  VOLLEY_OPT_FILE; volley_host.config_error and
 *               .config_warning
 *   revision 4  volley_host.redact; volley_step_info.reads and
 *               volley_check_ops.reads (what of a response the spec reads:
 *               a protocol may discard the rest)
 *   revision 5  volley_output_ops.summary and volley_run_summary (the
 *               run's threshold verdicts and checks, for report outputs
 *               such as junit)
 *   revision 6  volley_tags.tls_version (read from the samples of a
 *               protocol plugin of revision 6 or later only)
 *   revision 7  volley_protocol_ops.step_host (a protocol whose steps may
 *               run in a `batch:`, and the host its per-host limit counts);
 *               VOLLEY_OPT_LONG_FORM and volley_template_map.replace (k6's
 *               request cookies { value, replace }); volley_response.jar
 *               and .jar_len (a VU's cookies for the response's url, read
 *               from a protocol plugin of revision 7 or later only);
 *               volley_response.proto, .url, .has, the timing components
 *               (.blocked_ms ... .receiving_ms) and .bytes_sent,
 *               .bytes_received (read from a protocol plugin of revision
 *               7 or later only; check plugins test host->revision >= 7);
 *               volley_run_summary.n_captures and .captures;
 *               VOLLEY_OPT_REPEAT (a template map whose list values
 *               repeat their key: form and query's tag: [a, b]);
 *               volley_response.tls_version, .tls_cipher_suite and
 *               .ocsp_status (the connection's TLS, read likewise);
 *               VOLLEY_READS_NO_RESPONSE (a check key that may stand in
 *               a `check:` step without a request);
 *               volley_protocol_ops.lane_init (a batch lane's state
 *               tied to its VU's: one cookie jar);
 *               volley_response.vu_jar and .vu_jar_len (the VU's own
 *               jar when a step's request used a named one)
 *
 * What the core promises: it accepts descriptors and ops structs as small as
 * revision 0 made them (fields added later read as absent: NULL or 0) and
 * ignores fields it does not know (a newer plugin's). What a plugin does
 * before calling a host function or reading a field added after the oldest
 * core it supports: VOLLEY_HAS(host, field). volley_check_key is an array
 * element without a size of its own: it never grows (a later revision adds
 * a new array beside it instead).
 *
 * The first four fields of volley_plugin (abi, size, kind, name) keep their
 * place in every ABI version, so a core can name a plugin it refuses.
 */
#define VOLLEY_ABI_VERSION 1u
#define VOLLEY_ABI_REVISION 7u

/* True when *s (any struct with a `size` member) is large enough to hold
 * `field`: the other side was built against a header that has it. */
#define VOLLEY_HAS(s, field)                                                 \
    ((s) != NULL &&                                                          \
     (size_t)(s)->size >= offsetof(__typeof__(*(s)), field) + sizeof((s)->field))

#define VOLLEY_PLUGIN_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------------ */
/* Opaque core objects                                                       */
/* ------------------------------------------------------------------------ */

typedef struct volley_core volley_core;         /* the run context          */
typedef struct volley_worker volley_worker;     /* one worker thread         */
typedef struct volley_vu volley_vu;             /* one virtual user          */
typedef struct volley_template volley_template; /* compiled "${...}" string  */
typedef struct volley_json volley_json;         /* compiled JSON body tree   */
typedef struct volley_memo volley_memo;         /* per-response scratch      */
typedef struct volley_checks volley_checks;     /* compiled check items      */
typedef struct volley_captures volley_captures; /* compiled captures         */

/* A growable byte buffer. The owner frees `data` with free(). */
typedef struct volley_buf {
    char *data;
    size_t len;
    size_t cap;
} volley_buf;

/* ------------------------------------------------------------------------ */
/* Typed option maps                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Plugins never see YAML. Each declares an option map; the core checks the
 * spec against it (unknown keys, types, ranges, required keys, with file:line:
 * column) and fills a config struct of `config_size` bytes.
 *
 * Convention: every config struct starts with `uint64_t set;` -- bit i is set
 * when option i (its index in the map) appeared in the spec. Defaults do not
 * set the bit. So a map holds at most 64 options.
 *
 * Values owned by the core (strings, lists, templates) live until the plugin's
 * config is released at the end of the run; plugins do not free them.
 */
typedef enum volley_opt_type {
    VOLLEY_OPT_STRING = 1,    /* const char *                                */
    VOLLEY_OPT_TEMPLATE,      /* const volley_template * (string w/ ${...})  */
    VOLLEY_OPT_INT,           /* int64_t, strict integer                     */
    VOLLEY_OPT_DOUBLE,        /* double, strict number                       */
    VOLLEY_OPT_BOOL,          /* bool: true/false only                       */
    VOLLEY_OPT_DURATION,      /* int64_t nanoseconds: "150ms", "1m30s", 2    */
    VOLLEY_OPT_ENUM,          /* int: index into enum_values                 */
    VOLLEY_OPT_INT_LIST,      /* volley_int_list: one integer or a list      */
    VOLLEY_OPT_STRING_LIST,   /* volley_string_list: one string or a list    */
    VOLLEY_OPT_TEMPLATE_MAP,  /* volley_template_map: string -> template     */
    VOLLEY_OPT_SCALAR,        /* volley_scalar: null/bool/int/double/string  */
    VOLLEY_OPT_JSON,          /* const volley_json *: any tree, templated    */
    VOLLEY_OPT_OBJECT,        /* nested struct described by `sub`            */
    VOLLEY_OPT_OBJECT_LIST,   /* volley_object_list: a list of `sub` structs */
    VOLLEY_OPT_CHECKS,        /* const volley_checks *: check items, compiled
                                 by the core exactly as a step's `check:`   */
    VOLLEY_OPT_CAPTURES,      /* const volley_captures *: NAME: SOURCE, as a
                                 step's `capture:`; later steps see NAME    */
    VOLLEY_OPT_JSON_LIST,     /* volley_json_list: one value or a list; a
                                 string item is a text template, any other
                                 item a JSON tree (e.g. messages to send)   */
    /* revision 2: */
    VOLLEY_OPT_VALUE,         /* volley_value: a scalar known at load time,
                                 or a ${...} rendered per response (a check's
                                 expected value: ${tx_id}, ${row.status});
                                 with min < max, one known at load time
                                 must be an integer within them */
    VOLLEY_OPT_VALUE_LIST     /* volley_value_list: one value or a list     */
} volley_opt_type;

#define VOLLEY_OPT_REQUIRED 0x1u
/* VOLLEY_OPT_CHECKS only: the items are conditions to match (checks_match),
 * never recorded, so they need no name. */
#define VOLLEY_OPT_MATCH_ONLY 0x2u
/* VOLLEY_OPT_STRING only (revision 3): the value names a file the plugin
 * reads at load time. ${env.*} and ${services.*} in it are filled in, a
 * relative path is taken relative to the directory of the spec file the
 * value is written in, and a file that cannot be opened for reading is an
 * error at the value's place (reported once, however many steps inherit
 * it from defaults: or a service). The plugin gets the resulting path.
 * A core older than revision 3 ignores the flag and passes the text as
 * written. */
#define VOLLEY_OPT_FILE 0x4u
/* VOLLEY_OPT_TEMPLATE_MAP only (revision 7): a value may also be written as
 * a mapping { value: TEXT, replace: BOOL } (k6's request cookies); the
 * map's `replace` then says, per key, whether replace was true. A core
 * older than revision 7 refuses the mapping form (expects a string). */
#define VOLLEY_OPT_LONG_FORM 0x8u
/* VOLLEY_OPT_TEMPLATE_MAP only (revision 7): a value may also be a list of
 * strings, which gives its key once per item, in order (`tag: [a, b]`:
 * keys tag, tag). A core older than revision 7 refuses the list. */
#define VOLLEY_OPT_REPEAT 0x10u

typedef struct volley_option_map volley_option_map;

typedef struct volley_option {
    const char *name;
    volley_opt_type type;
    size_t offset;                    /* of the value in the config struct   */
    const char *default_value;        /* YAML-scalar text, NULL for none     */
    const char *help;                 /* one line, shown by docs and errors  */
    unsigned flags;                   /* VOLLEY_OPT_REQUIRED                 */
    double min, max;                  /* numeric bounds when min < max       */
    const char *const *enum_values;   /* NULL-terminated, for ENUM           */
    const volley_option_map *sub;     /* for OBJECT                          */
} volley_option;

struct volley_option_map {
    const volley_option *options;
    size_t count;
    size_t config_size;
    /* When the spec gives a scalar or a list instead of a mapping, it is read
     * as { shorthand: value }. NULL: a mapping is required. */
    const char *shorthand;
};

typedef struct volley_int_list {
    size_t n;
    const int64_t *v;
} volley_int_list;

typedef struct volley_string_list {
    size_t n;
    const char *const *v;
} volley_string_list;

/* n structs of sub->config_size bytes each, back to back. */
typedef struct volley_object_list {
    size_t n;
    const void *items;
} volley_object_list;

/* An item of a VOLLEY_OPT_JSON_LIST: exactly one of the two is set. */
typedef struct volley_json_item {
    const volley_json *json;          /* an object, array, number, bool...  */
    const volley_template *text;      /* a string, sent/used as plain text  */
} volley_json_item;

typedef struct volley_json_list {
    size_t n;
    const volley_json_item *v;
} volley_json_list;

typedef struct volley_template_map {
    size_t n;
    const char *const *keys;
    const volley_template *const *values;
    /* ---- revision 7: filled only for an option with VOLLEY_OPT_LONG_FORM
     * (n flags); NULL otherwise, and from an older core ---- */
    const bool *replace;
} volley_template_map;

typedef enum volley_scalar_type {
    VOLLEY_SCALAR_NULL = 0,
    VOLLEY_SCALAR_BOOL,
    VOLLEY_SCALAR_INT,
    VOLLEY_SCALAR_DOUBLE,
    VOLLEY_SCALAR_STRING
} volley_scalar_type;

typedef struct volley_scalar {
    volley_scalar_type type;
    bool b;
    int64_t i;
    double d;
    const char *s;
} volley_scalar;

/*
 * A check's expected value (revision 2). Known at load time: `now` holds
 * it (typed as YAML types a scalar: `200` an integer, `"200"` a string)
 * and `later` is NULL. Known only at run time (a capture, row.*, vu.*):
 * `later` is the compiled template, rendered per response by
 * host->value_get in eval(), and `now` is NULL-typed. `text` is the value
 * as written ("${tx_id}"), for messages.
 */
typedef struct volley_value {
    volley_scalar now;
    const volley_template *later;
    bool quoted;                     /* written quoted: renders to a string */
    const char *text;
} volley_value;

typedef struct volley_value_list {
    size_t n;
    const volley_value *v;
} volley_value_list;

/* ------------------------------------------------------------------------ */
/* Metrics and samples                                                       */
/* ------------------------------------------------------------------------ */

typedef enum volley_metric_type {
    VOLLEY_METRIC_COUNTER = 1,
    VOLLEY_METRIC_GAUGE,
    VOLLEY_METRIC_RATE,
    VOLLEY_METRIC_TREND
} volley_metric_type;

typedef enum volley_metric_contains {
    VOLLEY_CONTAINS_DEFAULT = 0,
    VOLLEY_CONTAINS_TIME,   /* values in milliseconds */
    VOLLEY_CONTAINS_DATA    /* values in bytes        */
} volley_metric_contains;

typedef struct volley_metric_info {
    const char *name;
    volley_metric_type type;
    volley_metric_contains contains;
    size_t n_thresholds;
    const char *const *thresholds;   /* threshold sources, for outputs */
} volley_metric_info;

/*
 * Request-level tags a protocol plugin attaches to a sample. Strings must
 * stay valid for the whole run (point into the compiled step), because the
 * core interns tag sets by pointer. The core adds `scenario` and `group`.
 * Each field becomes the tag of the same name (VOLLEY_TAG_* below).
 */
typedef struct volley_tags {
    const char *name;          /* k6 `name`: url, or the step's name        */
    const char *method;
    const char *url;
    int status;                /* 0 = no status (transport error)           */
    int expected_response;     /* -1 = not set, 0 = false, 1 = true         */
    const char *check;         /* check name, for the `checks` metric        */
    const char *error_code;    /* e.g. "1211"-style code or NULL              */
    /* ---- revision 6: volley_tags has no size of its own; the core reads
     * this only from a protocol plugin whose descriptor says revision 6 or
     * later (a sample of the step it runs) ---- */
    const char *tls_version;   /* k6's: "tls1.3", "tls1.2"; NULL: no TLS    */
} volley_tags;

#define VOLLEY_TAGS_INIT { NULL, NULL, NULL, 0, -1, NULL, NULL, NULL }

typedef struct volley_tag {
    const char *key;
    const char *value;
} volley_tag;

/* The tag keys a sample can carry, as outputs see them in a volley_tagset
 * (sorted by key). Besides these, a sample carries the step's own `tags:`
 * and every `--tag NAME=VALUE` of the run, under the user's names. */
#define VOLLEY_TAG_CHECK "check"                  /* checks metric         */
#define VOLLEY_TAG_ERROR_CODE "error_code"        /* transport/HTTP error  */
#define VOLLEY_TAG_EXPECTED_RESPONSE "expected_response" /* "true"/"false" */
#define VOLLEY_TAG_GROUP "group"                  /* "::outer::inner"      */
#define VOLLEY_TAG_METHOD "method"
#define VOLLEY_TAG_NAME "name"                    /* url or the step name  */
#define VOLLEY_TAG_SCENARIO "scenario"
#define VOLLEY_TAG_STATUS "status"                /* "200"; "" on error    */
#define VOLLEY_TAG_TLS_VERSION "tls_version"      /* "tls1.3" (revision 6) */
#define VOLLEY_TAG_URL "url"

/* An interned, immutable tag set as outputs see it (keys sorted). The same
 * tags give the same pointer within a worker (two workers may hand out
 * different pointers for equal sets). Lifetime: a tag set, its tags and
 * their strings stay valid until the output's close() has returned, so an
 * output may keep pointers to them (e.g. cache a formatted line per set). */
typedef struct volley_tagset {
    size_t n;
    const volley_tag *tags;
} volley_tagset;

typedef struct volley_sample {
    uint32_t metric;              /* id: metric_info(core, id) describes it  */
    const volley_tagset *tags;    /* never NULL; may have n == 0             */
    int64_t time_unix_ns;         /* wall clock, for outputs                 */
    double value;
} volley_sample;

/* ------------------------------------------------------------------------ */
/* Protocol responses (what checks look at)                                  */
/* ------------------------------------------------------------------------ */

typedef struct volley_response {
    int status;                   /* HTTP status; 0 on a transport error     */
    const char *error;            /* transport error text, or NULL           */
    const char *headers;          /* raw header block, "Name: value\r\n"...  */
    size_t headers_len;
    const char *body;
    size_t body_len;
    double duration_ms;           /* k6 http_req_duration of this response   */
    /* ---- revision 7. volley_response has no size of its own: the core
     * reads these only from a protocol plugin whose descriptor says
     * revision 7 or later, and hands check plugins (and captures, records)
     * a full-size copy with them zeroed for an older one. A check plugin
     * reads them only when host->revision >= 7 (an older core's struct
     * ends above). They describe the response the checks see: after
     * redirects, the last hop's. ---- */
    const char *proto;            /* k6's r.proto: "HTTP/1.1", "HTTP/2.0";
                                     NULL: not told (no response, or a
                                     protocol without one)                  */
    const char *url;              /* k6's r.url: the final URL, after the
                                     redirects followed; NULL: not told     */
    uint32_t has;                 /* VOLLEY_RESP_* bits: which of the fields
                                     below the protocol filled              */
    double blocked_ms;            /* k6's r.timings, as the http_req_*       */
    double connecting_ms;         /*   trends of this response: blocked,     */
    double tls_handshaking_ms;    /*   connecting, tls_handshaking, sending, */
    double sending_ms;            /*   waiting, receiving (duration is       */
    double waiting_ms;            /*   duration_ms above)                    */
    double receiving_ms;
    uint64_t bytes_sent;          /* the request on the wire: head and body  */
    uint64_t bytes_received;      /* the response on the wire: status line,
                                     headers and body as received          */
    const char *jar;              /* the VU's cookie jar for the response's
                                     url, after its Set-Cookie were stored,
                                     as a Cookie header value "a=1; b=2";
                                     NULL: the protocol has no jar          */
    size_t jar_len;
    /* The connection's TLS (revision 7, read as the fields above): static
     * strings, all NULL on a plain connection or without a response. */
    const char *tls_version;      /* k6's r.tls_version: "tls1.3", "tls1.2" */
    const char *tls_cipher_suite; /* k6's r.tls_cipher_suite: k6's name of the
                                     suite, "TLS_AES_128_GCM_SHA256"        */
    const char *ocsp_status;      /* k6's r.ocsp.status of the stapled OCSP
                                     response: "good", "revoked", "unknown"
                                     (none stapled, as k6 says)             */
    /* revision 7, read as the fields above: the VU's own cookie jar for the
     * response's url, as jar, when the step's request used another of the
     * VU's jars (the http plugin's jar: NAME, k6's local CookieJar); NULL:
     * the step used the VU's own, which is jar. */
    const char *vu_jar;
    size_t vu_jar_len;
} volley_response;

/* volley_response.has (revision 7). */
#define VOLLEY_RESP_TIMINGS 0x1u  /* the *_ms components: a response came     */
#define VOLLEY_RESP_BYTES 0x2u    /* bytes_sent and bytes_received            */

/* ------------------------------------------------------------------------ */
/* Host API: the only way a plugin talks to the core                          */
/* ------------------------------------------------------------------------ */

enum { VOLLEY_LOG_ERROR = 0, VOLLEY_LOG_WARN, VOLLEY_LOG_INFO, VOLLEY_LOG_DEBUG };

typedef struct volley_host {
    uint32_t abi;    /* VOLLEY_ABI_VERSION of the core */
    uint32_t size;   /* sizeof(volley_host) of the core */

    /* Monotonic clock in nanoseconds (the core's clock). */
    uint64_t (*now_ns)(void);
    void (*log)(volley_core *core, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Metrics: register at create() time (main thread, before workers
     * start); returns the id, or -1 with a message in err. Registering an
     * existing name with the same type returns the existing id. */
    int (*metric_register)(volley_core *core, const char *name,
                           volley_metric_type type,
                           volley_metric_contains contains, char *err,
                           size_t errcap);
    /* Loop threads: record one sample for the VU's worker. No locks. */
    void (*sample)(volley_vu *vu, int metric, double value,
                   const volley_tags *tags);
    /* Any thread: metadata of a registered metric (NULL if unknown). */
    const volley_metric_info *(*metric_info)(volley_core *core, uint32_t id);

    /* Workers. */
    void *(*worker_loop)(volley_worker *w);   /* returns uv_loop_t *       */
    int (*worker_index)(volley_worker *w);

    /* VUs. */
    volley_worker *(*vu_worker)(volley_vu *vu);
    uint64_t (*vu_id)(volley_vu *vu);          /* 1-based, unique in run   */
    uint64_t (*vu_iteration)(volley_vu *vu);   /* 0-based, per VU          */
    /* Marks the step started with step_start() as finished. Call it from
     * the loop thread, outside any third-party library callback (e.g. after
     * curl_multi_info_read, not inside a curl write callback). `resp` is
     * only read during the call. May start the VU's next step at once. */
    void (*step_done)(volley_vu *vu, const volley_response *resp);

    /* Templates. const_str: the text when it has no run-time part, else
     * NULL (so plugins can prebuild requests). render: appends the text for
     * this VU to out; 0 on success, -1 on allocation failure. */
    const char *(*template_const)(const volley_template *t);
    int (*template_render)(const volley_template *t, volley_vu *vu,
                           volley_buf *out);
    const char *(*json_const)(const volley_json *j);
    int (*json_render)(const volley_json *j, volley_vu *vu, volley_buf *out);

    /* Buffers: make room for `extra` more bytes past b->len, plus one byte
     * more, so that data[len + extra] can always hold a terminating NUL
     * (buf_reserve itself writes none). 0, or -1 when out of memory (the
     * buffer is unchanged). */
    int (*buf_reserve)(volley_buf *b, size_t extra);

    /* Per-response scratch shared by the checks of one response (e.g. a
     * parsed JSON body). The value is freed with free_fn after the checks. */
    void *(*memo_get)(volley_memo *m, const void *key);
    int (*memo_put)(volley_memo *m, const void *key, void *value,
                    void (*free_fn)(void *));

    /* Stable display text of a template for tags: load-time parts folded
     * in, run-time parts shown as written ("http://h/tx/${vu.id}"). Lives
     * for the run. */
    const char *(*template_display)(const volley_template *t);

    /* Check items and captures a plugin declared as VOLLEY_OPT_CHECKS /
     * VOLLEY_OPT_CAPTURES options, applied to a response the plugin builds
     * (e.g. one WebSocket message as the body). Loop thread of the VU, while
     * its step runs.
     *
     * checks_run: evaluates every item, records each one's `checks` sample
     * (with the step's scenario and group) and remembers the first failure
     * reason for the summary, as for a step's own `check:`. true when all
     * passed. NULL checks: true. Match-only items (VOLLEY_OPT_MATCH_ONLY)
     * are evaluated without recording. */
    bool (*checks_run)(const volley_checks *c, volley_vu *vu,
                       const volley_response *resp);
    /* checks_match: true when every condition of every item holds; records
     * nothing (for "wait until a message matches"). */
    bool (*checks_match)(const volley_checks *c, const volley_response *resp);
    /* captures_apply: takes each capture into the VU's slot (seen by later
     * steps of the iteration) and records its `captures` sample (a core
     * of revision 7 or later; before, a "capture NAME" check). true when
     * all captured. */
    bool (*captures_apply)(const volley_captures *c, volley_vu *vu,
                           const volley_response *resp);

    /* Appends "k=v&k2=v2" for a template map, keys and rendered values
     * URL-encoded as Go's url.QueryEscape (space as '+'): query strings and
     * form bodies. vu may be NULL when every value is constant (else -1). */
    int (*template_map_urlencode)(const volley_template_map *m, volley_vu *vu,
                                  volley_buf *out);

    /* ---- revision 1 ---- */
    uint32_t revision;   /* VOLLEY_ABI_REVISION of the core */

    /* ---- revision 2 ---- */
    /* In a check key's eval(): the value of a VOLLEY_OPT_VALUE option for
     * this response. `now` is copied; `later` is rendered for the VU whose
     * response it is and typed as YAML types a plain scalar (a quoted one
     * stays a string). out->s lives until the response's checks end. 0, or
     * -1 with the reason in err (no VU: host->checks_match was called
     * without one; out of memory). */
    int (*value_get)(const volley_value *v, volley_memo *memo, volley_scalar *out, char *err,
                     size_t errcap);
    /* checks_match for a VU: run-time values in the items render for it
     * (checks_match has no VU: such values fail there). */
    bool (*checks_match_vu)(const volley_checks *c, volley_vu *vu, const volley_response *resp);

    /* ---- revision 3 ---- */
    /* Load-time messages about one option of a step, at the spec place its
     * value was written (which may be under defaults: or services:).
     * Main thread, during step_compile only. `field` is the address of
     * the option's value inside the config being compiled (e.g.
     * &cfg->tls.client_key); NULL, or an option not written in the spec,
     * means the step itself. The same text at the same place is printed
     * once, however many steps share the value.
     *
     * config_error: a spec error ("file:line:col: error: PATH: TEXT"). The
     * step must then be rejected (step_compile returns NULL; err may stay
     * empty: the core adds no message of its own for it). */
    void (*config_error)(volley_core *core, const void *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* config_warning: printed on stderr at once and again as a WARNING
     * line at the end of the run's summary: for what must not go unseen
     * (certificate verification switched off). */
    void (*config_warning)(volley_core *core, const void *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* ---- revision 4 ---- */
    /* Secrets: text a plugin is about to show (a failure reason, a log
     * line, a field of an output's report) as it may be shown. Writes
     * text[0..len) to out with every secret in it replaced by "***": the
     * values of ${env.NAME} whose NAME contains TOKEN, SECRET, PASSWORD or
     * KEY (the whole rule: "Secrets" in docs/spec-reference.md), the
     * constant values of request headers named Authorization,
     * Proxy-Authorization, Cookie or Set-Cookie. With `header` (may be
     * NULL) one of those names, the whole text is "***": a value of that
     * header, never shown. Cut to outcap - 1 bytes and NUL-terminated when
     * outcap > 0; returns the length of the whole result, as snprintf.
     * Any thread; allocates nothing. Redact a value before shortening it
     * for a message: a cut secret is no longer recognized. The core
     * already hides secrets in tags (so in every output's samples), in
     * host->log text, in check and capture failure reasons, resp->error
     * and the err of an output's callbacks, wherever it shows them. */
    size_t (*redact)(const char *header, const char *text, size_t len, char *out, size_t outcap);
} volley_host;

/* ------------------------------------------------------------------------ */
/* Protocol plugins                                                          */
/* ------------------------------------------------------------------------ */

/* What of a response something reads (volley_step_info.reads,
 * volley_check_ops.reads). The status and the timing are always kept. */
enum {
    VOLLEY_READS_HEADERS = 1u << 0,
    VOLLEY_READS_BODY = 1u << 1,
    VOLLEY_READS_ALL = VOLLEY_READS_HEADERS | VOLLEY_READS_BODY,
    /* revision 7, in volley_check_ops.reads: the key reads nothing of a
     * response, only its own values (checks-basic's `value`), so it may
     * stand in a `check:` step that makes no request */
    VOLLEY_READS_NO_RESPONSE = 1u << 2
};

/* No size of its own: the core makes it, and a field added later is read
 * only when host->revision says the core has it. */
typedef struct volley_step_info {
    const char *scenario;      /* stable for the run */
    const char *group;         /* "::outer::inner" or "" */
    const char *location;      /* "spec.yaml:12:7" of the step, for messages */
    /* ---- revision 4 (read only when host->revision >= 4) ---- */
    /* VOLLEY_READS_* bits: what the step's checks, captures and records
     * read of its responses. A protocol need not keep what nobody reads
     * (a body nobody checks is counted and dropped, as k6's
     * discardResponseBodies); step_done then hands it empty. */
    uint32_t reads;
} volley_step_info;

typedef struct volley_protocol_ops {
    uint32_t size;                        /* sizeof(volley_protocol_ops) */
    const char *step_key;                 /* flow step key, e.g. "http"  */
    const volley_option_map *step_options;
    size_t vu_state_size;                 /* zeroed per-VU block         */

    /* Once per run, main thread: register metrics, keep host/core. */
    void *(*create)(const volley_host *host, volley_core *core, char *err,
                    size_t errcap);
    void (*destroy)(void *inst);

    /* Once per step in the spec: `config` is filled from step_options and
     * stays valid until destroy. Return NULL + err to reject the step. */
    void *(*step_compile)(void *inst, const void *config,
                          const volley_step_info *info, char *err,
                          size_t errcap);
    void (*step_free)(void *inst, void *step);

    /* Per worker thread, on that thread: set up state on its loop. */
    void *(*worker_init)(void *inst, volley_worker *w, char *err,
                         size_t errcap);
    /* On the worker thread after all VUs ended, and only once every
     * worker's traffic is over (no worker opens sockets any more): close
     * every handle. The core runs the loop afterwards until the closes
     * complete. */
    void (*worker_fini)(void *wstate);

    /* Start a step for a VU; later call host->step_done exactly once,
     * unless step_cancel comes first. Returns 0, or -1 when it could not
     * start (then the core records the step as failed). */
    int (*step_start)(void *wstate, void *step, volley_vu *vu,
                      void *vu_state);
    /* Abort the VU's running step at once (graceful stop ran out, SIGINT):
     * no step_done afterwards. */
    void (*step_cancel)(void *wstate, volley_vu *vu, void *vu_state);
    /* The VU ends: release what its vu_state holds. */
    void (*vu_fini)(void *wstate, void *vu_state);

    /* Optional: on the
     * worker thread, once the loop has run dry after worker_fini (every
     * handle closed) and before it is closed. For libraries that finish
     * their teardown only after their handles' close callbacks ran (e.g.
     * libwebsockets on a foreign loop); the wstate may be freed here. */
    void (*worker_done)(void *wstate);

    /* ---- revision 2 (optional: NULL when not given) ---- */

    /* Main thread, load time (`volley validate` too), after step_compile:
     * the `name` tag every sample of this step carries, valid as long as
     * the step; NULL when its samples carry none or not always the same.
     * The core reads it to warn about a threshold filter {name:...}
     * that no step of the spec produces (without it, or with one step
     * answering NULL, no such warning is given) and to find the per-name
     * sub-metrics of samples whose volley_tags.name is this very pointer
     * without comparing texts: return the pointer the samples carry. */
    const char *(*step_name)(void *inst, const void *step);

    /* ---- revision 7 (optional: NULL when not given) ---- */

    /* Main thread, load time, after step_compile. Giving it says the
     * protocol's steps may run in a `batch:` (k6's http.batch): the core
     * then runs one of a batch's steps at a time on the VU itself (as k6
     * runs a batch on the VU's transport: its idle connection) and each
     * other one on a lane of the VU, a vu_state of its own (its own
     * connections), with a volley_vu of its own whose host calls
     * (step_done, sample, vu_id, template_render...) act for the VU.
     * Returns the host the step's requests go to
     * ("http://host:port"), the key of the batch's per-host limit (k6's
     * batchPerHost), valid as long as the step; NULL when it is known only
     * per request (the step then counts as a host of its own). */
    const char *(*step_host)(void *inst, const void *step);

    /* Revision 7, optional: on the worker thread, when the core makes a
     * lane's vu_state (zeroed) for a VU whose own is owner_state (NULL
     * when vu_state_size is 0), before the lane's first step_start. For
     * what a batch's requests share with their VU, as k6's share its
     * cookie jar: the lane may point into owner_state, which outlives it
     * (the core calls a lane's vu_fini before its VU's). */
    void (*lane_init)(void *wstate, void *lane_state, void *owner_state);
} volley_protocol_ops;

/* ------------------------------------------------------------------------ */
/* Check plugins                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A check plugin claims one or more keys of a check item, e.g.
 *   check: [ { name: ok, status: [200, 201], json: { path: id, exists: true } } ]
 * Each key has an option map; compile() runs once at load time and eval()
 * on a loop thread per response, with no shared mutable state.
 */
typedef struct volley_check_key {
    const char *key;
    const volley_option_map *options;
    /* Returns the compiled condition or NULL with err (reported at the
     * spec location of the key). */
    void *(*compile)(const volley_host *host, const void *config, char *err,
                     size_t errcap);
    void (*free)(void *cond);
    /* true when the condition holds. On false, may write why into msg. */
    bool (*eval)(const void *cond, const volley_response *resp,
                 volley_memo *memo, char *msg, size_t msgcap);
} volley_check_key;

typedef struct volley_check_ops {
    uint32_t size;                        /* sizeof(volley_check_ops) */
    size_t n_keys;
    const volley_check_key *keys;

    /* ---- revision 4 (optional: NULL when not given) ---- */

    /* Beside keys, one per key: the VOLLEY_READS_* bits its eval() reads
     * of a response (a status check reads neither headers nor body). A
     * key without it is taken to read everything. */
    const uint32_t *reads;
} volley_check_ops;

/* ------------------------------------------------------------------------ */
/* Output plugins                                                            */
/* ------------------------------------------------------------------------ */

/*
 * The end of a run as the core judged it (revision 5), handed to an
 * output's summary() once, after its last write() and before its close().
 * Everything in it, strings included, is valid during that call only.
 * Each struct carries its `size` (the core's sizeof): a later revision
 * appends fields, and an output tests for them with VOLLEY_HAS(). Arrays
 * hold pointers, so an element may grow too.
 */
typedef enum volley_verdict {
    VOLLEY_VERDICT_PASS = 0,
    VOLLEY_VERDICT_FAIL,
    VOLLEY_VERDICT_NO_DATA      /* not one sample reached the (sub-)metric */
} volley_verdict;

typedef struct volley_threshold_result {
    uint32_t size;              /* sizeof(volley_threshold_result) of the core */
    const char *key;            /* "http_req_duration{name:transfer}"         */
    const char *metric;         /* "http_req_duration"                        */
    const char *expression;     /* "p(95)<500", as written                    */
    volley_verdict verdict;
    bool fails_run;             /* FAIL, or NO_DATA without allow_no_data     */
    bool allow_no_data;
    bool abort_on_fail;         /* the threshold has abort_on_fail: true      */
    bool aborted_run;           /* ...and it stopped the run                  */
    double observed;            /* what the aggregation read; NAN for no data */
    const char *observed_text;  /* "p(95)=612.3ms", "rate=0.12"; "" no data   */
    const char *aggregation;    /* "p(95)", "rate", "count", ...              */
    const char *op;             /* "<", "<=", ">", ">=", "==", "!="           */
    double limit;               /* the number the expression compares with    */
} volley_threshold_result;

typedef struct volley_check_result {
    uint32_t size;              /* sizeof(volley_check_result) of the core    */
    const char *name;           /* the check's name                           */
    const char *group;          /* "::outer::inner"; "" outside any group     */
    uint64_t passes, fails;     /* both 0: declared but never evaluated       */
    const char *first_failure;  /* reason of the first failure, secrets
                                   already hidden; NULL when none was kept    */
} volley_check_result;

typedef struct volley_run_summary {
    uint32_t size;              /* sizeof(volley_run_summary) of the core     */
    const char *spec_name;      /* the spec's name: (or its file's name)      */
    const char *spec_path;      /* as given on the command line               */
    int64_t start_unix_ns;      /* wall clock when the run started            */
    double duration_s;          /* wall time of the run                       */
    /* What volley exits with for this spec (docs/spec-reference.md, "Exit
     * codes"): 0, 99, 100, 101, 103, 105, 107 or 108. Known before the
     * outputs close, so an output or --summary-export that fails after
     * this call still turns it into 103. */
    int exit_code;
    bool interrupted;           /* SIGINT/SIGTERM                              */
    bool aborted;               /* by abort_on_fail or on_check_fail           */
    uint64_t seed;              /* the run's seed (--seed repeats it)          */
    size_t n_thresholds;        /* in the spec's order                        */
    const volley_threshold_result *const *thresholds;
    size_t n_checks;            /* in the order of the text summary            */
    const volley_check_result *const *checks;
    /* ---- revision 7 (test with VOLLEY_HAS) ---- */
    /* The captures (a step's capture:), each as a check result named by
     * the capture's NAME: passes = taken, fails = nothing matched. Not
     * among `checks` from revision 7 on (before, they were, as checks
     * named "capture NAME"). */
    size_t n_captures;
    const volley_check_result *const *captures;
} volley_run_summary;

/*
 * Lifecycle of one output:
 *   config_check (load time, also `volley validate`)  main thread
 *   create                                            main thread
 *   tick, write ... in any order, never two at once   the output's thread
 *   summary (revision 5: once, when the run was measured) the output's thread
 *   close (always, even after a failed write or tick) the output's thread
 *   destroy (after close; or at once, with no close, when the
 *            output's thread cannot start)             main thread
 */
typedef struct volley_output_ops {
    uint32_t size;                        /* sizeof(volley_output_ops) */
    const volley_option_map *options;     /* shorthand = the CLI "=ARG" */
    /* Main thread, before the run. */
    void *(*create)(const volley_host *host, volley_core *core,
                    const void *config, char *err, size_t errcap);
    /* The output's own thread: a batch of samples (n >= 1) in time order
     * per worker. Return 0, or -1 with err: the core reports it once (the
     * run then exits 103), calls no more write() or tick() and counts the
     * samples of later batches as dropped; close() still comes. */
    int (*write)(void *inst, const volley_sample *samples, size_t n,
                 char *err, size_t errcap);
    /* The output's own thread, after the last batch: flush and close.
     * Called once, also after write() failed. */
    int (*close)(void *inst, char *err, size_t errcap);
    void (*destroy)(void *inst);

    /* ---- revision 1 (optional: NULL when not needed) ---- */

    /* Load time, on the filled config (no side effects: nothing is opened
     * or created). `volley validate` and `volley run` both call it; return
     * 0, or -1 with err, reported at the output's place in the spec or on
     * the command line. Checks what the option map cannot express (an
     * empty path, a URL scheme, two options that exclude each other). */
    int (*config_check)(const volley_host *host, const void *config,
                        char *err, size_t errcap);
    /* Periodic work on the output's own thread, never at the same time as
     * write() (flush on a timer, push to a remote). Called first right
     * after the thread starts, then again *next_ns nanoseconds after each
     * call returned; set *next_ns on every call (it comes in as the last
     * value, 0 the first time; leave 0 for no further ticks). No tick
     * comes once the run's end began: the batches still queued, then
     * close() follow. Return 0, or -1 with err: as a failed write(). */
    int (*tick)(void *inst, uint64_t *next_ns, char *err, size_t errcap);

    /* ---- revision 5 (optional: NULL when not needed) ---- */

    /* The output's own thread, once per run, after the last write() and
     * before close(): the thresholds as judged and the checks (above). Not
     * called when nothing was measured (the run never started) or after a
     * failed write() or tick(). Comes also when the run was interrupted
     * (SIGINT) or aborted. Return 0, or -1 with err: as a failed write()
     * (exit 103). A core older than revision 5 never calls it. */
    int (*summary)(void *inst, const volley_run_summary *s, char *err, size_t errcap);
} volley_output_ops;

/* ------------------------------------------------------------------------ */
/* The descriptor and the entry point                                        */
/* ------------------------------------------------------------------------ */

typedef enum volley_plugin_kind {
    VOLLEY_KIND_PROTOCOL = 1,
    VOLLEY_KIND_CHECK,
    VOLLEY_KIND_OUTPUT
} volley_plugin_kind;

typedef struct volley_plugin {
    uint32_t abi;                 /* VOLLEY_ABI_VERSION the plugin was built for */
    uint32_t size;                /* sizeof(volley_plugin) in the plugin      */
    volley_plugin_kind kind;
    const char *name;             /* "http", "checks-json", "json-out"        */
    const char *version;          /* the plugin's own version                 */
    const char *description;      /* one line                                 */
    const volley_protocol_ops *protocol;   /* the one matching `kind`         */
    const volley_check_ops *check;
    const volley_output_ops *output;
    /* ---- revision 1 ---- */
    uint32_t revision;            /* VOLLEY_ABI_REVISION the plugin was built for */
} volley_plugin;

typedef const volley_plugin *(*volley_plugin_entry_fn)(uint32_t host_abi,
                                                        const volley_host *host);

#define VOLLEY_PLUGIN_ENTRY_SYMBOL "volley_plugin_entry"

/*
 * Defines the exported entry. The arguments are designated initializers of
 * volley_plugin, e.g.
 *   VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-json",
 *                        .version = "0.1.0", .check = &ops)
 * The descriptor carries the plugin's ABI; the core compares it with its own
 * and refuses an ABI it does not know, naming the file.
 */
#define VOLLEY_PLUGIN_DEFINE(...)                                            \
    VOLLEY_PLUGIN_EXPORT const volley_plugin *volley_plugin_entry(           \
        uint32_t host_abi, const volley_host *host);                         \
    VOLLEY_PLUGIN_EXPORT const volley_plugin *volley_plugin_entry(           \
        uint32_t host_abi, const volley_host *host)                          \
    {                                                                        \
        static const volley_plugin desc = {.abi = VOLLEY_ABI_VERSION,        \
                                           .size = sizeof(volley_plugin),    \
                                           .revision = VOLLEY_ABI_REVISION,  \
                                           __VA_ARGS__};                     \
        (void)host_abi;                                                      \
        (void)host;                                                          \
        return &desc;                                                        \
    }

/* Helpers for option maps. */
#define VOLLEY_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))
#define VOLLEY_OPT_IS_SET(cfg, index) ((((cfg)->set) >> (index)) & 1u)

#ifdef __cplusplus
}
#endif
#endif
