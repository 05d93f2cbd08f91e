/*
 * ws plugin internals, shared by its three files:
 *
 *   ws_conf.c  the option map and step_compile: the url split into an
 *              address resolved once at load time (lws resolves with a
 *              blocking getaddrinfo) and a path, the Host header and others,
 *              the subprotocol list, the tag strings
 *   ws_loop.c  a worker's lws_context on the worker's libuv loop (a foreign
 *              loop: no service thread of its own) and the lws callback
 *   ws.c       the descriptor, metrics and the per-VU session: connect,
 *              send queue, timers, receive, checks, expect, reply times, end
 *
 * ../common/ptls.c (shared with http) is the `tls:` option: each wss step
 * gets a profile with its OpenSSL context at load time; ws_loop.c gives
 * every lws context one vhost per profile.
 *
 * One step is one session, or `sockets` of them. step_start connects;
 * step_done comes when every session has ended (close_after, expect met or
 * timed out, server close, an error) from the timer of the last one,
 * never from inside an lws callback.
 */
#ifndef VOLLEY_WS_INT_H
#define VOLLEY_WS_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uv.h>

#include "ptls.h"
#include "volley/plugin.h"

/* ---- configuration (filled by the core from the step's option map) ---- */

enum ws_opt {
    OPT_URL, OPT_NAME, OPT_HEADERS, OPT_QUERY, OPT_SUBPROTOCOLS, OPT_CONNECT_TIMEOUT,
    OPT_SEND_ON_OPEN, OPT_SEND_EVERY, OPT_PING_EVERY, OPT_CLOSE_AFTER, OPT_MAX_MESSAGE,
    OPT_CHECK_EACH, OPT_EXPECT, OPT_REPLY_MATCH, OPT_TLS, OPT_PONG_TIMEOUT, OPT_SEND_AFTER,
    OPT_ON_MESSAGE, OPT_SOCKETS
};

/* Durations that may hold run-time ${...} (send_every.interval,
 * close_after, the after: of send_after and on_message) are templates;
 * ws_conf.c parses the constant ones at load time (ws_dur). */
typedef struct ws_send_every_cfg {
    uint64_t set;
    const volley_template *interval;
    volley_json_list message;
} ws_send_every_cfg;

/* An item of send_after: k6's socket.setTimeout(() => socket.send(...)). */
enum { SA_AFTER, SA_MESSAGE, SA_CLOSE_AFTER, SA_STOP_EVERY };
typedef struct ws_send_after_cfg {
    uint64_t set;
    const volley_template *after;
    volley_json_list message;
    const volley_template *close_after;   /* then close this long after it */
    bool stop_send_every;
} ws_send_after_cfg;

/* An item of on_message: k6's socket.on('message', ...) that sends. */
enum { OM_MATCH, OM_SEND, OM_AFTER };
typedef struct ws_on_message_cfg {
    uint64_t set;
    const volley_checks *match;           /* NULL: every message */
    volley_json_list send;
    const volley_template *after;         /* NULL: at once */
} ws_on_message_cfg;

typedef struct ws_expect_cfg {
    uint64_t set;
    const volley_checks *match;
    int64_t timeout_ns;
    const volley_captures *capture;
} ws_expect_cfg;

typedef struct ws_reply_cfg {
    uint64_t set;
    const char *request;       /* JSON path in a sent message           */
    const char *reply;         /* JSON path in a received one            */
    bool next;                 /* the next message answers the oldest send */
} ws_reply_cfg;

typedef struct ws_config {
    uint64_t set;
    const volley_template *url;
    const char *name;
    volley_template_map headers;
    volley_template_map query;
    volley_string_list subprotocols;
    int64_t connect_timeout_ns;
    volley_json_list send_on_open;
    ws_send_every_cfg send_every;
    int64_t ping_every_ns;
    int64_t pong_timeout_ns;
    const volley_template *close_after;
    int64_t max_message;
    const volley_checks *check_each;
    ws_expect_cfg expect;
    ws_reply_cfg reply_match;
    ptls_config tls;
    volley_object_list send_after;        /* ws_send_after_cfg items */
    volley_object_list on_message;        /* ws_on_message_cfg items */
    int64_t sockets;
} ws_config;

extern const volley_option_map ws_step_options;

/* ---- plugin instance ---- */

enum ws_metric {
    MET_CONNECTING, MET_SESSIONS, MET_SESSION_DURATION, MET_MSGS_SENT, MET_MSGS_RECEIVED,
    MET_PING, MET_REPLY_TIME, MET_SESSION_FAILED, MET_DATA_SENT, MET_DATA_RECEIVED, MET_COUNT
};

typedef struct ws_plugin {
    const volley_host *host;
    volley_core *core;
    int metric[MET_COUNT];
    atomic_bool any_tls;            /* a compiled step uses wss://         */
    ptls_set tls;                   /* the wss steps' distinct tls: settings,
                                       each with its OpenSSL context: one
                                       lws vhost per context and profile  */
    uv_mutex_t codes_lock;          /* interned error_code tag strings */
    char **codes;
    size_t n_codes;
} ws_plugin;

/* A tag string for an error_code, valid for the run (interned). */
const char *ws_code(ws_plugin *p, const char *fmt, int n);

/* ---- compiled step ---- */

/* A JSON path: dotted keys and [index] parts ("payload.items[0].id"). */
typedef struct ws_path {
    size_t n;
    struct ws_seg {
        const char *key;            /* NULL: index */
        long index;
    } *segs;
} ws_path;

typedef enum ws_reply_mode { REPLY_NONE, REPLY_NEXT, REPLY_ID } ws_reply_mode;

/* A duration option that may be a run-time template. */
typedef struct ws_dur {
    const volley_template *t;       /* NULL: not given                     */
    int64_t ns;                     /* its value when constant, else -1    */
    int64_t min_ns, max_ns;
    char what[64];                  /* "send_after[1].after", for messages */
} ws_dur;

/* The compiled durations of one send_after / on_message item. */
typedef struct ws_item_durs {
    ws_dur after, close_after;
} ws_item_durs;

typedef struct ws_step {
    const ws_config *cfg;
    bool tls;
    const ptls_profile *tls_profile; /* wss: its settings (never NULL then) */
    char address[64];               /* IP literal, resolved at load time */
    int port;
    const char *host_hdr;           /* constant Host, or NULL: host_tmpl   */
    const volley_template *host_tmpl;
    const char *path;               /* constant path + query, or NULL      */
    size_t prefix_len;              /* templated url: chars before the path */
    char *subprotocols;             /* "a, b" or NULL                      */
    size_t n_headers;               /* the other headers                   */
    char **header_names;            /* "Name:" as lws wants them           */
    const volley_template **header_values;
    const char *tag_name, *tag_url;
    bool copy_messages;             /* a check, expect or reply id reads them */
    ws_reply_mode reply_mode;
    ws_path reply_req, reply_res;
    ws_dur close_after, interval;
    ws_item_durs *send_after;       /* by item of cfg->send_after          */
    ws_item_durs *on_message;       /* by item of cfg->on_message          */
    unsigned sockets;               /* sessions per step (1 by default)    */
    atomic_bool duration_said;      /* a drawn duration failed: said once  */
} ws_step;

void *ws_step_compile(void *inst, const void *config, const volley_step_info *info, char *err,
                      size_t errcap);
void ws_step_free(void *inst, void *step);
/* Appends the step's query (URL-encoded, rendered for vu; NULL: constant
 * values only) to b, which holds the path. */
int ws_append_query(const volley_host *h, const ws_config *c, volley_vu *vu, volley_buf *b);
/* The value of d for one session: its constant, or its template rendered
 * for vu (into scratch) and parsed; -1 with the reason in err. */
int ws_dur_get(const volley_host *h, const ws_dur *d, volley_vu *vu, volley_buf *scratch,
               int64_t *ns, char *err, size_t errcap);
/* Parses "a.b[0].c"; -1 on a syntax error. */
int ws_path_compile(const char *text, ws_path *out);
/* The value at path in a JSON text, as compact JSON text into out (cleared
 * first); -1 when the text is not JSON or the path is absent. */
int ws_path_value(const ws_path *p, const char *json, size_t len, char *out, size_t cap);

/* ---- per worker ---- */

#define WS_MAX_CONTEXTS 64
#define WS_DEFAULT_CONTEXTS 8

typedef struct ws_worker {
    ws_plugin *p;
    const volley_host *host;
    uv_loop_t *loop;
    /* Several contexts per worker, sessions spread over them: lws 4.1.6
     * keeps every timer of a context in one sorted list and inserts by
     * walking it, so its cost per message grows with the sessions of a
     * context (see ws_loop.c). */
    struct lws_context *ctx[WS_MAX_CONTEXTS];
    unsigned n_ctx, next_ctx;
    /* wss: the vhost of each context for each TLS profile, [ctx][profile]
     * (profile 0 is the context's default vhost) */
    struct lws_vhost **vhosts;
    unsigned n_profiles;
    char (*vhost_names)[24];        /* by profile: lws keeps the pointers */
    volley_buf scratch;             /* rendering of url, headers */
} ws_worker;

void *ws_worker_init(void *inst, volley_worker *vw, char *err, size_t errcap);
void ws_worker_fini(void *wstate);
void ws_worker_done(void *wstate);
/* The vhost of context ctx (one of the worker's) for TLS profile idx. */
struct lws_vhost *ws_vhost(const ws_worker *w, const struct lws_context *ctx, unsigned idx);
/* The lws protocol callback (ws.c). */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

/* ---- per VU: its sessions ---- */

enum ws_phase { PH_IDLE = 0, PH_CONNECTING, PH_OPEN, PH_ENDED };

#define WS_REPLY_SLOTS 64
#define WS_REPLY_KEY 48
#define WS_MAX_SOCKETS 1000
#define WS_MAX_TIMED 1024   /* delayed sends waiting in one session */

typedef struct ws_pending {
    uint64_t t;
    char key[WS_REPLY_KEY];
} ws_pending;

/* A send waiting for its time (send_after, on_message with after). */
typedef struct ws_timed {
    uint64_t at;                    /* relative to the open until it opens */
    const volley_json_list *msg;
    int item;                       /* its send_after item, or -1          */
} ws_timed;

struct ws_vu;

/* One WebSocket session: lws' user data for its connection. */
typedef struct ws_sess {
    ws_worker *w;
    volley_vu *vu;
    struct ws_vu *owner;            /* the VU whose step it belongs to    */
    const ws_step *st;
    struct lws *wsi;
    uv_timer_t timer;
    bool timer_ready;
    uint8_t phase;
    bool close_pending;             /* write a close frame next          */
    bool close_sent;                /* ours is on the wire               */
    bool close_cut;                 /* a failure: cut once it is sent    */
    bool ping_pending;
    bool expect_done;
    bool msg_text;                  /* the message being received        */
    bool established;
    bool tcp_up;                    /* connected, handshake request sent */
    bool tls_cert_requested;        /* the server asked for a client cert */
    bool connect_pending;           /* started; connects on the next turn */
    bool allocated;                 /* one of the VU's extra sessions    */
    uint16_t close_code;            /* ours, when we close               */
    int status;                     /* handshake status (101 when open)  */
    uint32_t utf8;                  /* validator state across fragments  */
    uint64_t t0, t_open, t_end;
    uint64_t bytes_sent, bytes_received;   /* the session's, as data_sent/_received */
    bool bytes_known;                      /*   (read from TCP_INFO at its end)    */
    uint64_t connect_deadline, next_send, next_ping, close_at, expect_at, kill_at;
    uint64_t ping_sent;
    uint64_t pong_due;              /* pong_timeout: a ping unanswered by */
    int64_t close_after_ns;         /* this session's (rendered), or 0  */
    int64_t interval_ns;            /* send_every's, or 0                */
    size_t msg_len;                 /* bytes of the message so far       */
    const char *error;              /* why the session failed, or NULL   */
    const char *error_code;
    volley_buf out;                 /* queued messages (see ws.c)        */
    size_t out_head;
    volley_buf msg;                 /* the message being received        */
    volley_buf expected;            /* the message that met expect       */
    volley_buf hdrs;                /* handshake response headers, for checks */
    struct lws_context *ctx;        /* the worker's context it uses      */
    ws_pending *pend;               /* reply_match: unanswered sends     */
    unsigned pend_head, pend_n;
    ws_timed *timed;                /* by time; kept across sessions     */
    unsigned n_timed, cap_timed;
    char errtext[256];
} ws_sess;

/* A VU's state: the sessions of its current step (`sockets`). The first
 * is here; more are allocated once, when a step first wants them, and
 * kept (their uv timers and lws user data must not move). */
typedef struct ws_vu {
    ws_sess first;
    ws_sess **more;
    unsigned n_more;
    unsigned n;                     /* sessions of the current step      */
    unsigned live;                  /* of them, not yet handed over      */
} ws_vu;

#endif
