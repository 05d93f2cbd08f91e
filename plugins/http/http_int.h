/*
 * http plugin internals: the private header of its files (as libuv's
 * unix/internal.h), with the types they share and each file's internal
 * functions, bottom layer first.
 *
 * Files, top to bottom. A file calls only files below it; "->" lists the
 * ones it calls (raw for http_raw.c, and so on).
 *
 *   http.c          the descriptor, the plugin instance, worker_init and
 *                   worker_fini, the per-VU request cycle (step_start,
 *                   step_cancel, vu_fini) that sends each request down one
 *                   of the two clients, a batch lane's lane_init
 *                   -> raw, loop, curl, cookie, result, conf (ops table)
 *   http_raw.c      the fast path: http:// and https:// HTTP/1.1 requests
 *                   written and read by the plugin, on the VU's own
 *                   connections; bulk responses read in turns, deadlines
 *                   stamped as their timers fire; hands redirects and
 *                   servers that choose HTTP/2 over to curl
 *                   -> tls, loop, curl, request, cookie, result, parse
 *   http_tls.c      the fast path's TLS: a connection's OpenSSL session on
 *                   its socket (non-blocking, own BIO), handshake, reads
 *                   and writes as recv/send, failures as curl reports them,
 *                   the VU's sessions for resumption; the profiles' contexts
 *                   set up at load time
 *                   -> (OpenSSL, ptls)
 *   http_loop.c     the curl path's event side: a worker's groups of VUs,
 *                   one CURLM each, on its libuv loop (uv_poll_t per socket
 *                   with its own fd table and lazy removal, a uv_timer_t per
 *                   CURLM, the drain of finished transfers), the VUs' easy
 *                   handles, the connections a VU's per_iteration requests
 *                   used, the bulk budget of a loop turn and curl's paused
 *                   bulk transfers, and the worker's lifetime
 *                   -> curl
 *   http_curl.c     the curl path's transfer side: a VU's easy handle set
 *                   for its step, its callbacks and stamps, completion and
 *                   redirects
 *                   -> request, cookie, result
 *   http_conf.c     the option map and step_compile: everything constant
 *                   about a step is built once here (url, header list,
 *                   body, DNS pin, whether the fast path may run it and its
 *                   prebuilt request)
 *                   -> tls, cookie, request, multipart
 *   http_cookie.c   a step's cookies (cookies:, jar:, cookie_jar:, its
 *                   Cookie header) compiled, and per request: the jar's
 *                   lifetime and operations, the one Cookie line both
 *                   clients send, Set-Cookie into the jar, the jar view
 *                   -> jar
 *   http_jar.c      a VU's cookie jar by k6's (Go's) rules: Set-Cookie
 *                   parsing, domain and path matching, the jar's cookies
 *                   for a url in the order they are sent
 *   http_result.c   what a finished request leaves: k6 timings, error codes,
 *                   samples, the response to step_done
 *                   -> request (the method names)
 *   http_request.c  request building: templated url and body rendered per
 *                   request, the fast path's request bytes and url check
 *                   -> multipart
 *   http_multipart.c multipart/form-data bodies: built at load time (files
 *                   read once), a templated value's pieces rendered per
 *                   request
 *   http_parse.c    the HTTP/1.1 response parser (http_parse.h): pure, no
 *                   curl, no libuv
 *   http_text.h     inline text and buffer helpers used everywhere
 *
 * ../common/ptls.h is the `tls:` option, shared with the ws plugin: its
 * checks at load time and the profiles (one per distinct setting) that
 * http_conf.c hands each step, http_curl.c turns into curl options and
 * http_tls.c uses as they are (their SSL_CTX) on the fast path.
 *
 * http_parse.h and http_text.h include neither curl nor libuv.
 *
 * One call goes up, through a pointer, the way libuv calls its user back:
 * a worker_fini that comes during a drain of finished transfers is
 * deferred, and http_drain runs it afterwards through w->fini (set by
 * http.c at worker_init).
 */
#ifndef VOLLEY_HTTP_INT_H
#define VOLLEY_HTTP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <uv.h>

#include "volley/plugin.h"

#include "http_parse.h"
#include "http_text.h"
#include "ptls.h"

/* ======================================================================== */
/* Types                                                                     */
/* ======================================================================== */

/* ---- configuration (filled by the core from the step's option map) ---- */

enum http_method {
    HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_HEAD, HTTP_OPTIONS
};

enum http_opt {
    OPT_METHOD, OPT_URL, OPT_NAME, OPT_HEADERS, OPT_BODY, OPT_JSON, OPT_TIMEOUT,
    OPT_QUERY, OPT_FORM, OPT_REDIRECTS, OPT_EXPECTED, OPT_TLS, OPT_REUSE, OPT_MAX_RESPONSE,
    OPT_COOKIES, OPT_JAR, OPT_JAR_LIFE, OPT_AUTH, OPT_MULTIPART
};

/* auth: k6's auth param (basic, digest, ntlm), with the credentials in the
 * url (http://user:pass@host/) or beside the scheme. */
enum http_auth_scheme { HTTP_AUTH_BASIC, HTTP_AUTH_DIGEST, HTTP_AUTH_NTLM };

typedef struct http_auth_config {
    uint64_t set;
    int scheme;                    /* enum http_auth_scheme */
    const volley_template *username;   /* known at load time (${env.*}) */
    const volley_template *password;
} http_auth_config;

/* One multipart/form-data part: a value, or a file read at load time (k6's
 * http.file()). */
typedef struct http_part_config {
    uint64_t set;
    const char *name;
    const volley_template *value;
    const char *file;              /* VOLLEY_OPT_FILE: the resolved path */
    const char *filename;          /* default: the file's base name      */
    const char *content_type;      /* a file's default: application/octet-stream */
} http_part_config;

/* connection_reuse: k6's default, noConnectionReuse, noVUConnectionReuse. */
enum http_reuse {
    HTTP_REUSE_KEEP,       /* keep-alive connections, across iterations     */
    HTTP_REUSE_CLOSE,      /* a new connection per request, closed after it */
    HTTP_REUSE_ITERATION   /* a new one per host and iteration of the VU    */
};

/* jar: of a step (http_cookie.c's option map). */
typedef struct http_jar_cfg {
    uint64_t set;
    const char *use;               /* a named jar of the VU, or "vu" */
    const volley_template *clear;
    volley_object_list del;
    volley_object_list set_;
} http_jar_cfg;

typedef struct http_config {
    uint64_t set;
    int method;
    const volley_template *url;
    const char *name;
    volley_template_map headers;
    const volley_template *body;
    const volley_json *json;
    int64_t timeout_ns;
    volley_template_map query;
    volley_template_map form;
    int64_t redirects;
    volley_string_list expected;   /* "200", "200-299" */
    ptls_config tls;
    int reuse;                     /* enum http_reuse */
    int64_t max_response;          /* bytes of body; 0: no cap */
    volley_template_map cookies;   /* cookies: name -> value */
    http_jar_cfg jar;              /* jar: use, clear, delete, set */
    int jar_life;                  /* cookie_jar: per_iteration, per_vu */
    http_auth_config auth;
    volley_object_list multipart;  /* of http_part_config */
} http_config;

extern const volley_option_map http_step_options;   /* http_conf.c    */
extern const char *const http_method_names[];       /* http_request.c */
extern const char *const http_reuse_names[];        /* http_conf.c    */
extern const volley_option_map http_jar_map;        /* http_cookie.c  */
extern const char *const http_jar_lifetimes[];      /* http_cookie.c  */
extern const volley_option_map http_part_map;       /* http_multipart.c */

#define HTTP_USER_AGENT "volley/0.1"   /* sent unless a step sets User-Agent */
#define HTTP_MAX_REDIRECTS 10          /* k6's default maxRedirects           */
#define HTTP_MAX_RESPONSE "16777216"   /* max_response_size: 16 MiB of body   */
enum { HTTP_TOO_LARGE_HEADERS = 1, HTTP_TOO_LARGE_BODY };

/* ---- plugin instance ---- */

enum http_metric {
    MET_REQS, MET_DURATION, MET_BLOCKED, MET_CONNECTING, MET_TLS, MET_SENDING,
    MET_WAITING, MET_RECEIVING, MET_FAILED, MET_DATA_SENT, MET_DATA_RECEIVED,
    MET_COUNT
};

/* Named cookie jars a spec may use besides each VU's own (k6's local
 * new http.CookieJar() objects): each VU has one of each name it uses. */
#define HTTP_MAX_JARS 8

typedef struct http_plugin {
    const volley_host *host;
    volley_core *core;
    bool raw_enabled;               /* VOLLEY_HTTP_CLIENT is not "curl"     */
    bool raw_tls;                   /*   and VOLLEY_HTTP_FAST_TLS is not    */
                                    /*   "off": https:// on the fast path   */
    int metric[MET_COUNT];
    unsigned n_steps;               /* step indexes handed out so far */
    char status_code[200][5];       /* error_code tags "1400".."1599" */
    ptls_set tls;                   /* the steps' distinct tls: settings,   */
                                    /*   and the system's (ptls_system)     */
    const char *jar_names[HTTP_MAX_JARS];   /* the spec's `jar: NAME`s (its  */
    unsigned n_jar_names;                   /*   arena's text), in order     */
} http_plugin;

/* ---- compiled step ---- */

enum http_body_kind {
    BODY_NONE,      /* no request body                                  */
    BODY_FIXED,     /* body_text/body_len (may be "" for POST/PUT/PATCH)  */
    BODY_TEMPLATE,  /* rendered per request from body_tmpl               */
    BODY_JSON,      /* rendered per request from body_json               */
    BODY_FORM,      /* rendered per request from the form map            */
    BODY_MULTIPART  /* rendered per request from mp_segs (a templated value) */
};

/* A piece of a templated multipart body: fixed bytes or a value. */
typedef struct http_mp_seg {
    const char *text;               /* into http_step.mp_bytes, or NULL     */
    size_t len;
    const volley_template *value;
} http_mp_seg;

/* An expected-status range: [lo, hi] inclusive. */
typedef struct http_status_range {
    int lo, hi;
} http_status_range;

/* One request header line: fixed text, or a key and a template value. */
typedef struct http_header {
    char *line;                     /* "Key: value" when fixed, else NULL   */
    const char *key;                /* set for the spec's own headers       */
    const volley_template *value;
    const char *raw;                /* fast path: the bytes curl sends for a */
    size_t raw_len;                 /*   fixed line (0: curl drops it)      */
} http_header;

/* An address of a fast-path step's host, resolved at load time. */
typedef struct http_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} http_addr;

typedef struct http_step {
    unsigned idx;                   /* dense index, for per-worker tables   */
    int method;
    const char *url_text;           /* constant url, or NULL                */
    const volley_template *url_tmpl;
    const char *tag_name, *tag_url; /* tag strings, valid for the run       */
    size_t n_headers;
    http_header *headers;
    bool headers_dynamic;
    struct curl_slist *header_list; /* prebuilt nodes when not dynamic      */
    int body_kind;
    const char *body_text;
    size_t body_len;
    const volley_template *body_tmpl;
    const volley_json *body_json;
    long timeout_ms;
    unsigned max_redirects;         /* redirects followed (k6 maxRedirects) */
    size_t n_expected;              /* expected_response ranges; 0: k6's    */
    http_status_range *expected;    /*   default 200-399                    */
    /* query: and form: pairs; values templated (NULL key list: none) */
    const char *url_base;           /* constant url before its query, when
                                       only the query is templated          */
    char *url_built;                /* owned: url_text with its query       */
    char *tag_masked;               /* owned: tag_url with its user:password
                                       shown as ****:**** (k6), or NULL     */
    volley_template_map query;      /* n 0: none                            */
    volley_template_map form;
    char *form_text;                /* owned: the constant form body        */
    CURLU *curlu;                   /* the constant url, parsed once        */
    const ptls_profile *tls;        /* its tls: settings; NULL: curl's own  */
    int reuse;                      /* enum http_reuse                      */
    bool keep_body;                 /* a check or capture reads the body    */
    uint64_t max_body;              /* max_response_size; 0: no cap         */
    struct curl_slist *resolve;     /* "host:port:addr[,addr]" pin, or NULL */
    char *batch_host;               /* step_host: "http://host:port", or NULL */

    /* Cookies (http_cookie.c): the request's one Cookie header is built
     * per request when the step has cookie parts or the VU's jar has
     * cookies; the step's Cookie header is not among `headers`. */
    bool cookie_parts;              /* Cookie header, cookies: or jar:      */
    bool jar_per_vu;                /* cookie_jar: per_vu                   */
    unsigned char jar_slot;         /* jar: NAME: 1 + its index in          */
                                    /*   http_plugin.jar_names; 0: the VU's */
    char *cookie_fixed;             /* owned: its constant Cookie header    */
    const volley_template *cookie_tmpl;   /*   or the templated one         */
    volley_template_map cookies;    /* cookies: (n 0: none)                 */
    const char *const *cookie_replace;    /* names of cookies: with replace */
    size_t n_cookie_replace;
    struct http_jar_op *jar_ops;    /* owned: jar: clear, delete, set       */
    size_t n_jar_ops;
    long auth;                      /* CURLAUTH_* of auth:, 0: none (curl's
                                       basic for credentials in the url)    */
    const char *auth_user, *auth_pass;   /* auth:'s, or NULL                */
    char *mp_bytes;                 /* owned: the multipart body's fixed bytes */
    char *mp_ctype;                 /* owned: its Content-Type header line  */
    http_mp_seg *mp_segs;           /* owned: BODY_MULTIPART's pieces       */
    size_t n_mp_segs;

    /* Fast path (http_raw.c), decided at compile time; NULL/0 when not. */
    bool raw;                       /* http(s)://, origin known, resolved    */
    atomic_bool curl_only;          /* set at run time: redirects, a server  */
                                    /*   that chose HTTP/2                  */
    const ptls_profile *raw_tls;    /* https://: its profile (the default   */
                                    /*   one without tls:); NULL: http://   */
    char *tls_host;                 /* the url's host for SNI and the check */
    bool tls_host_ip;               /*   (no brackets); it is an address    */
    char *origin;                   /* "http://host:port/": a templated url  */
    size_t origin_len;              /*   must start with it                  */
    char *host_name;                /* for cookies and error messages        */
    unsigned port;
    http_addr *addrs;
    size_t n_addrs;
    char *raw_req;                  /* the whole request, when constant      */
    size_t raw_req_len;
    const char *raw_target;         /* constant url: its request target      */
    size_t raw_target_len;
    char *raw_mid;                  /* " HTTP/1.1\r\nHost: ...\r\n[Accept]"  */
    size_t raw_mid_len;
} http_step;

/* ---- the fast path's TLS (http_tls.c) ---- */

/* What the BIO of a TLS connection works with: its socket, whether it read
 * the end, and the stamp of the first ClientHello byte written. */
typedef struct http_tls_io {
    int fd;
    bool eof;
    uint64_t t_hello;               /* 0: nothing written yet               */
    uint64_t (*now)(void);
} http_tls_io;

/* A VU's TLS sessions, for resumption on its next connection to the same
 * host, port and profile (as k6 keeps TLS state per VU). */
#define HTTP_TLS_SESSIONS 4
typedef struct http_tls_session {
    const char *host;               /* a step's tls_host                    */
    unsigned port;
    const ptls_profile *tls;
    SSL_SESSION *s;                 /* NULL: a free slot                    */
} http_tls_session;

typedef struct http_tls_sessions {
    http_tls_session e[HTTP_TLS_SESSIONS];
} http_tls_sessions;

/* ---- per worker ---- */

typedef struct http_sock http_sock;     /* http_loop.c's */
typedef struct http_vu http_vu;
typedef struct http_worker http_worker;
typedef struct http_raw http_raw;       /* http_raw.c's  */

/*
 * VUs per curl multi handle. Curl 7.88 walks the connections of a multi
 * twice per request (the connection-cache search steps over the busy ones;
 * curl_multi_remove_handle looks for the last-used connection through the
 * whole cache): ~90 instructions per connection visited, half of them on
 * average, so one multi for 5,000 VUs adds ~200,000 instructions to curl's
 * ~57,000 per request. A worker therefore splits its VUs into groups of at
 * most this many, each with its own multi (connection cache, DNS cache) and
 * timer. A group costs about 40 KB (curl's socket hash and the cache's
 * closure handle): 0.3 KB per VU at 128, where the walks cost ~6,000
 * instructions per request once a group is full.
 */
#define HTTP_GROUP_VUS 128

/*
 * Bulk responses. A response is bulk once its body passed HTTP_BULK_BYTES;
 * smaller ones are read as they come. Bulk ones are read in turns: each
 * loop turn a worker reads at most HTTP_BULK_TURN bytes of them in all
 * (http_worker.bulk_left, refilled before each poll), to the one that
 * waited longest first (a FIFO per client: the fast path's connections
 * taken off epoll meanwhile, curl's transfers paused and resumed with
 * HTTP_BULK_GRANT bytes to take).
 * So servers that send without end (an endless body, 200 at once) cannot
 * make a turn long, and the other VUs' small answers and the timers (the
 * request deadlines) wait at most a short turn; a bulk download still
 * moves at HTTP_BULK_TURN per turn, and turns are short.
 */
#define HTTP_BULK_BYTES (64 * 1024)
#define HTTP_BULK_TURN (256 * 1024)
#define HTTP_BULK_GRANT (128 * 1024)

typedef struct http_group {
    http_worker *w;
    CURLM *multi;
    uv_timer_t timer;
    unsigned char *pinned;          /* by step idx: DNS pin loaded          */
    size_t n_pinned;
    int n_vus;                      /* VUs whose easy handle is here        */
    long maxconnects;               /* CURLMOPT_MAXCONNECTS set so far      */
    bool lanes;                     /* batch lanes' handles (http_easy)     */
} http_group;

struct http_worker {
    http_plugin *p;
    const volley_host *host;
    uv_loop_t *loop;
    http_group **groups;
    size_t n_groups;
    http_sock **socks;              /* indexed by fd                        */
    size_t n_socks;
    http_sock *free_socks;          /* closed slots kept for reuse          */
    http_vu *active;                /* VUs whose handle is in a multi       */
    long n_vus;                     /* VUs holding an easy handle           */
    http_raw *raws;                 /* VUs' fast-path states                */
    http_raw *expired;              /* fast path: requests past their       */
    uv_idle_t expire;               /*   deadline this turn, reported by it */
                                    /*   after the turn's timers            */
    char *rbuf;                     /* fast path: scratch read buffer of    */
#define HTTP_RAW_RBUF 65536         /*   this size                          */
    volley_buf location;            /* fast path: a redirect's Location     */
    uv_prepare_t turn;              /* refills bulk_left each loop turn     */
    int64_t bulk_left;              /* of HTTP_BULK_TURN                    */
    uv_idle_t resume;               /* curl path: resumes paused transfers, */
    http_vu *paused, *paused_tail;  /*   oldest first (a FIFO)              */
    struct http_conn *bulk_head;    /* fast path: bulk connections waiting  */
    struct http_conn *bulk_tail;    /*   for their turn (a FIFO)            */
    uv_idle_t bulk;                 /*   served by this                     */
    bool raw_handles;               /* expire and bulk set up (first VU)    */
    int open_handles;               /* uv handles not yet closed            */
    int dispatching;                /* nesting depth of http_drain()        */
    bool closing;                   /* worker_fini ran                      */
    bool fini_pending;              /* worker_fini came during a drain      */
    void (*fini)(void *w);          /* worker_fini, for http_drain to run   */
    char errtext[CURL_ERROR_SIZE + 48];   /* error text handed to step_done */
    X509_STORE **stores;            /* curl path: the worker's copy of each */
    size_t n_stores;                /*   profile's CA store, by its idx     */
    bool system_store;              /*   the system profile's among them    */
};

/* ---- cookies (http_jar.c, http_cookie.c) ---- */

/* One cookie of a jar: its text is one block, name\0value\0domain\0path\0. */
typedef struct http_cookie {
    char *text;
    size_t cap;
    size_t nlen, vlen, dlen, plen;
    int64_t expires;                /* unix seconds; 0: a session cookie    */
    uint64_t seq;                   /* order of creation                    */
    bool host_only, secure, http_only;
} http_cookie;

/* A VU's cookie jar. Slots past n keep their blocks for reuse. */
typedef struct http_jar {
    http_cookie *c;
    size_t n, cap;
    uint64_t seq;
    uint64_t iter;                  /* the VU iteration it belongs to       */
} http_jar;

/* What of a url cookies look at. */
typedef struct http_url_parts {
    bool https;
    bool ip;                        /* the host is an address               */
    char host[256];                 /* lower case, no port                  */
    const char *path;               /* into the url; "/" when none          */
    size_t path_len;
} http_url_parts;

/* A cookie to put into a jar: a Set-Cookie's, or jar: set's. */
typedef struct http_cookie_in {
    const char *name, *value, *domain, *path;   /* domain, path: NULL none */
    size_t nlen, vlen, dlen, plen;
    int64_t expires;                /* 0: none                              */
    bool remove;                    /* Max-Age <= 0                         */
    bool secure, http_only;
} http_cookie_in;

enum http_jar_kind { HTTP_JAR_CLEAR, HTTP_JAR_DELETE, HTTP_JAR_SET };

/* One operation of a step's jar:, run before its request. */
typedef struct http_jar_op {
    int kind;                       /* enum http_jar_kind                   */
    const volley_template *url;     /* NULL: the step's url                 */
    const char *name;
    const volley_template *value;
    const char *domain, *path;
    int64_t expires;                /* 0: none                              */
    bool has_max_age;
    int64_t max_age;
    bool secure, http_only;
} http_jar_op;

/* ---- per VU ---- */

/*
 * connection_reuse: per_iteration on the curl path. Curl pools
 * connections per group, so the VU notes the ones its requests used in
 * its current iteration (by origin, the url's scheme://host:port):
 * http_curl.c asks curl for a new one (CURLOPT_FRESH_CONNECT) for the
 * first request to an origin in the iteration, http_loop.c records each
 * transfer's connection and, when the VU starts another iteration, closes
 * the ones it was the last to use.
 */
#define HTTP_ITER_CONNS 4

typedef struct http_iter_conns {
    uint64_t iter;                  /* the VU iteration they belong to      */
    uint64_t origin;                /* of the transfer in flight            */
    unsigned n;
    struct {
        uint64_t origin;
        curl_socket_t fd;
    } c[HTTP_ITER_CONNS];
} http_iter_conns;

/* A request header node of a VU whose headers are rendered per request. */
typedef struct http_hnode {
    struct curl_slist sl;
    size_t off;                     /* of the line in http_vu.hdrtext      */
} http_hnode;

struct http_vu {
    CURL *easy;
    http_worker *w;
    http_group *g;                  /* whose multi runs the handle          */
    volley_vu *vu;
    const http_step *step;          /* the running step                     */
    const http_step *configured;    /* whose options the handle carries     */
    const ptls_profile *tls;        /* whose TLS options it carries (NULL:  */
                                    /*   the system's profile)              */
    bool tls_unknown;               /* new handle, or setting them failed:  */
                                    /*   set all again                      */
    http_vu *prev, *next;           /* in http_worker.active                */
    bool active;
    bool resolve_set;               /* CURLOPT_RESOLVE set on the handle    */
    bool set_cookie;                /* curl path: the response has one      */
    bool curl_cookie;               /* CURLOPT_COOKIE set on the handle     */
    http_jar own_jar;               /* the VU's cookies (http_jar.c)        */
    http_jar *named;                /* owned: its named jars, HTTP_MAX_JARS */
                                    /*   of them, made when one is first    */
                                    /*   used; NULL before                  */
    http_jar *jar;                  /* the running step's (step_start):     */
                                    /*   read through http_vu_jar          */
    http_vu *jar_owner;             /* a batch lane's: its VU's state, whose */
                                    /*   jars it uses (lane_init); NULL on  */
                                    /*   a VU                               */
    bool lane;                      /* a batch lane's state (lane_init)     */
    volley_buf cookie;              /* the request's Cookie header value    */
    volley_buf cookie_val;          /* a cookie value rendered              */
    volley_buf jar_view;            /* the jar for the response's url       */
    volley_buf vu_jar_view;         /*   and the VU's own, when the step    */
                                    /*   used a named one                   */
    unsigned redirects;
    uint64_t t_start;               /* step_start (or redirect hop start)   */
    uint64_t t_prereq;              /* connection ready, request about to go */
    uint64_t t_sent;                /* curl switched to reading             */
    uint64_t t_first;               /* first response line arrived          */
    const char *tls_version;        /* k6's tag of the request's connection */
    ptls_info tls_info;             /* and its TLS for checks (the last hop's) */
    http_response resp;             /* what checks get (both clients fill it) */
    volley_buf url;                 /* rendered url                         */
    volley_buf reqbody;             /* rendered body                        */
    volley_buf hdrtext;             /* rendered header lines                */
    volley_buf rawreq;              /* fast path: rendered request head     */
    http_raw *raw;                  /* fast path: connection and request    */
    http_iter_conns *iterc;         /* per_iteration on curl, once needed    */
    http_hnode *hnodes;
    size_t hnodes_cap;
    long recv_buf;                  /* CURLOPT_BUFFERSIZE of the handle     */
    bool paused;                    /* curl path: in http_worker.paused     */
    http_vu *paused_next;
    int64_t grant;                  /* bulk body bytes it may take before   */
                                    /*   it pauses for its next turn        */
    unsigned char too_large;        /* curl path: a callback refused the    */
                                    /*   response's HTTP_TOO_LARGE_* part   */
    char errbuf[CURL_ERROR_SIZE];
};

/* The jar the running step's request reads and fills (set by
 * http_cookie_select at step_start): the VU's own or a named one; a batch
 * lane's are its VU's, as k6's http.batch uses the VU's jar. */
static inline http_jar *http_vu_jar(http_vu *vs)
{
    return vs->jar;
}

/* The k6 timings of one request, in milliseconds. */
typedef struct http_timings {
    double duration, blocked, connecting, tls, sending, waiting, receiving;
} http_timings;

/* How a request ended. */
typedef struct http_outcome {
    http_timings t;
    long status;                    /* 0 on a transport error               */
    bool responded;                 /* a status line was read: only then do  */
                                    /*   the timing trends get samples      */
    const char *error;              /* error text (w->errtext), or NULL     */
    const char *error_code;         /* k6 code of a transport error, or NULL */
    double sent;                    /* data_sent                            */
    const char *jar;                /* the VU's cookies for the final url   */
    size_t jar_len;                 /*   (NULL: no jar view)                */
    const char *vu_jar;             /* the VU's own jar's, when the step    */
    size_t vu_jar_len;              /*   used a named one; else NULL        */
    const char *proto;              /* k6's r.proto of the response, or NULL */
    const char *url;                /* the url this hop requested (after the
                                       redirects: the final one), or NULL   */
} http_outcome;

/* ---- helpers on the types ---- */

/* Two stamps as milliseconds; 0 rather than negative when a mark is
 * missing or out of order. */
static inline double http_ns_ms(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1e6 : 0.0;
}

/* Whether a status is a redirect to follow (the ones Go follows). */
static inline bool http_is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Whether a status counts as an expected response (k6's expected_response). */
static inline bool http_status_expected(const http_step *st, long status)
{
    if (st->n_expected == 0)
        return status >= 200 && status < 400;
    for (size_t i = 0; i < st->n_expected; i++)
        if (status >= st->expected[i].lo && status <= st->expected[i].hi)
            return true;
    return false;
}

/* ======================================================================== */
/* Functions, by file, bottom layer first                                    */
/* ======================================================================== */

/* ---- http_request.c: request building (calls the host only) ---- */

/* Renders a step's run-time url (its template, or its constant base, plus
 * its query) into vs->url, NUL-terminated. */
int http_render_url(const volley_host *h, http_vu *vs, const http_step *st);
/* Renders a templated, JSON or form body into vs->reqbody, NUL-terminated. */
int http_render_body(const volley_host *h, http_vu *vs, const http_step *st);

/* ---- http_multipart.c ---- */

/* multipart: into st (BODY_FIXED, or BODY_MULTIPART with a run-time
 * value) and its Content-Type line; files read now. -1 with err. */
int http_mp_compile(http_plugin *p, http_step *st, const volley_object_list *parts, char *err,
                    size_t errcap);
/* A BODY_MULTIPART body for vu, appended to out. */
int http_mp_render(const volley_host *h, const http_step *st, volley_vu *vu, volley_buf *out);
/* Whether curl would send a (rendered) url of the step as it is, so the
 * fast path may send it. */
bool http_url_verbatim(const http_step *st, const char *url, size_t len);
/* Appends the fast path's request head for target (templated headers
 * rendered for vu; NULL at load time, when there are none), with a
 * Content-Length of blen when the step has a body, and a Cookie line of
 * cookie's text where curl puts it (NULL or empty: none). */
int http_render_head(const volley_host *h, volley_buf *b, const http_step *st, volley_vu *vu,
                  const char *target, size_t tlen, size_t blen, const volley_buf *cookie);

/* ---- http_result.c: what a finished request leaves (calls the host) ---- */

/* create: registers the metrics and builds the status error_code tags. */
int http_result_init(http_plugin *p, char *err, size_t errcap);
/* The timings both clients share, from the VU's stamps: blocked, sending,
 * waiting; receiving as the client measured it; duration their sum. */
http_timings http_measure(const http_vu *vs, uint64_t now, double receiving);
/* A transport error: status 0, the k6 error code, and the text (a k6-like
 * kind, then detail) in w->errtext. */
void http_outcome_error(http_worker *w, http_outcome *o, CURLcode rc, long os_errno, bool sent,
                        const char *detail);
/* The samples of one finished request (each redirect hop has its own). */
void http_record(http_worker *w, http_vu *vs, const http_outcome *o);
/* The response to step_done, which may end the VU or the worker: the
 * caller's last act. */
void http_respond(http_worker *w, http_vu *vs, const http_outcome *o);

/* ---- http_jar.c: a VU's cookie jar (pure: no curl but curl_getdate) ---- */

/* The parts of an http(s):// url cookies look at; -1 when it is none. */
int http_cookie_url(const char *url, http_url_parts *u);
/* Whether a byte may stand in a cookie value (Go's rule). */
bool http_cookie_value_byte(unsigned char b);
/* One Set-Cookie value (after the colon) read: name, value, attributes. */
int http_cookie_parse(const char *v, size_t n, http_cookie_in *out);
/* Puts a cookie for url u into the jar, or removes it; -1: refused. */
int http_jar_put(http_jar *j, const http_url_parts *u, const http_cookie_in *in);
/* A cookie's domain for u (Go's domainAndType): d[0..dl) (none: u's host,
 * host-only) lower-cased into dom; -1 when it does not cover u's host. */
int http_jar_domain(const http_url_parts *u, const char *d, size_t dl, char dom[256],
                    bool *host_only);
/* Every Set-Cookie line of a response header block to url into the jar;
 * the number kept. */
int http_jar_store(http_jar *j, const char *headers, size_t len, const char *url);
/* Whether a cookie of the jar is sent to u now. */
bool http_jar_matches(const http_cookie *c, const http_url_parts *u, int64_t now);
/* Appends "; name=value" (no "; " when b is empty), the value as Go sends
 * it (invalid bytes dropped, quoted when it holds a space or a comma). */
int http_cookie_append(const volley_host *h, volley_buf *b, const char *name, size_t nlen,
                       const char *value, size_t vlen);
/* Appends the jar's cookies for u, in the order they are sent, but those
 * named in skip; the number appended or -1. */
int http_jar_header(const volley_host *h, http_jar *j, const http_url_parts *u, volley_buf *b,
                    const char *const *skip, size_t n_skip);
/* Removes the cookies the jar would send to u (only those named name,
 * unless NULL) and the expired ones; how many went. */
size_t http_jar_remove(http_jar *j, const http_url_parts *u, const char *name, size_t nlen);
void http_jar_empty(http_jar *j);
void http_jar_free(http_jar *j);

/* ---- http_cookie.c: a step's cookies per request (calls the jar) ---- */

/* step_compile: cookies:, jar:, cookie_jar: into the step; -1 with err. */
int http_cookie_compile(http_plugin *p, http_step *st, const http_config *c, char *err,
                        size_t errcap);
/* step_start, first: the jar the step's request uses into vs->jar (the
 * VU's named jars made when one is first used); -1: out of memory. */
int http_cookie_named(http_vu *vs, const http_step *st);
static inline int http_cookie_select(http_vu *vs, const http_step *st)
{
    http_vu *o = vs->jar_owner ? vs->jar_owner : vs;
    if (!st->jar_slot) {
        vs->jar = &o->own_jar;
        return 0;
    }
    return http_cookie_named(vs, st);
}
/* step_start of a step with cookie parts or a VU with cookies: the jar
 * emptied when the VU started another iteration (cookie_jar:
 * per_iteration), then the step's jar: operations (its url rendered in
 * vs->url when templated). */
int http_cookie_start(http_vu *vs, const http_step *st);
/* The Cookie header value of the VU's request to url into vs->cookie
 * (len 0: none is sent). */
int http_cookie_header(http_vu *vs, const http_step *st, const char *url);
/* A response (its header block in vs->resp) to url: its cookies into the
 * jar. */
void http_cookie_response(http_vu *vs, const char *url);
/* Before http_respond: the jar's cookies for the request's final url (the
 * last redirect's), as a Cookie header value, into o->jar (vs->jar_view). */
void http_cookie_view(http_vu *vs, http_outcome *o);
/* vu_fini: the VU's jars (not a lane's shared ones) and the buffers. */
void http_cookie_free(http_vu *vs);

/* ---- http_tls.c: the fast path's TLS (calls OpenSSL, ptls) ---- */

/* Load time: the step's profile for the fast path (the default profile,
 * built once, when the step has no tls:) with its context set up for it;
 * 0, or -1 with err. */
int http_tls_compile(http_plugin *p, http_step *st, char *err, size_t errcap);
/* destroy: what http_tls_compile made once per process. */
void http_tls_global_free(void);
/* A new connection's SSL on io->fd for the step: verification of the url's
 * host, SNI, the VU's last session with the host (ss may be NULL). NULL
 * when out of memory. */
SSL *http_tls_new(const http_step *st, http_tls_io *io, http_tls_sessions *ss);
/* Drives the handshake: 0 done, 1 in progress (*events: what to poll for),
 * -1 failed (*rc, *os_errno and detail as curl reports the failure). */
int http_tls_handshake(SSL *ssl, int *events, CURLcode *rc, long *os_errno, char *detail,
                       size_t cap);
/* Whether the server chose HTTP/2 (ALPN): curl runs such a step. */
bool http_tls_h2(const SSL *ssl);
/* SSL_read and SSL_write as recv and send: > 0 bytes; 0 when the peer
 * closed (reads); -1 with errno EAGAIN (*events: what to poll for), an OS
 * error, or EPROTO for a TLS failure (its text in detail). */
ssize_t http_tls_recv(SSL *ssl, void *buf, size_t len, int *events, char *detail, size_t cap);
ssize_t http_tls_send(SSL *ssl, const void *buf, size_t len, int *events, char *detail,
                      size_t cap);
/* Data OpenSSL holds that epoll will not report. */
bool http_tls_pending(const SSL *ssl);
/* An idle connection was readable (session tickets, or its end): whether
 * it may still carry a request. */
bool http_tls_idle_ok(SSL *ssl);
/* After a response: keeps the connection's session in the VU's ss. */
void http_tls_keep_session(http_tls_sessions *ss, const http_step *st, SSL *ssl);
void http_tls_sessions_free(http_tls_sessions *ss);
/* Frees a connection's SSL without a close_notify. */
void http_tls_free(SSL *ssl);

/* ---- http_conf.c: step_compile (calls request building) ---- */

void *http_step_compile(void *inst, const void *config, const volley_step_info *info,
                        char *err, size_t errcap);
void http_step_free(void *inst, void *step);

/* ---- http_curl.c: the curl path's transfers ---- */

/* The options every transfer of the VU's new easy handle shares. */
int http_curl_setup(http_vu *vs);
/* Runs the VU's request for st on its easy handle (http_easy): the
 * handle set for the step, templated parts rendered, into its multi. */
int http_curl_start(http_worker *w, http_vu *vs, const http_step *st);
/* A 3xx the fast path read goes on on curl: the VU's handle (http_easy)
 * is set for its step and sent to location, resolved against the
 * request's url. */
int http_curl_follow_raw(http_worker *w, http_vu *vs, const char *location, long status);
/* The socket callback saw curl switch this transfer to reading. */
void http_curl_sent(CURL *easy);
/* One finished transfer, outside any curl callback: samples, then a
 * redirect hop or step_done. */
void http_curl_complete(http_worker *w, http_vu *vs, CURLcode rc, uint64_t now);
/* Takes the VU's handle out of its multi (no step_done). */
void http_curl_deactivate(http_worker *w, http_vu *vs);

/* ---- http_loop.c: the curl path's event side, the worker's lifetime ---- */

/* worker_init: the worker and its first group; fini is worker_fini, which
 * http_drain runs when it came during a drain. */
http_worker *http_worker_new(http_plugin *p, volley_worker *vw, void (*fini)(void *),
                             char *err, size_t errcap);
/* worker_fini, after the transfers and the fast path are gone: closes the
 * multis and uv handles; the worker is freed when the last has closed. */
void http_worker_close(http_worker *w);
/* After curl_multi_socket_action: hands finished transfers to
 * http_curl_complete; timed_out_at (not 0: a timeout action) is when the
 * ones that timed out ended. */
void http_drain(http_group *g, uint64_t timed_out_at);
/* The VU's easy handle, created on first use in a group with room; NULL
 * when it cannot be. */
CURL *http_easy(http_worker *w, http_vu *vs);
/* The worker's copy of profile t's CA store (NULL: the system's profile,
 * built on first use), made on first use; NULL with w->errtext on failure.
 * *t is set to the profile used. */
X509_STORE *http_tls_store(http_worker *w, const ptls_profile **t);
/* Inside the VU's body callback, which then returns CURL_WRITEFUNC_PAUSE:
 * the transfer is resumed in its turn (HTTP_BULK_TURN). */
void http_pause(http_worker *w, http_vu *vs);
/* The VU's transfer leaves its multi: it is not resumed any more. */
void http_unpause(http_worker *w, http_vu *vs);
/* vu_fini: the VU's easy handle goes; may free the worker after
 * worker_fini (the caller's last use of it). */
void http_easy_free(http_vu *vs);
/* A uv handle the fast path owned has closed (w->open_handles); may free
 * the worker after worker_fini. */
void http_worker_handle_closed(uv_handle_t *h);   /* the same, as a close
                                                     callback (data: w) */
void http_handle_closed(http_worker *w);
/* per_iteration, at step_start: when the VU started a new iteration, closes
 * the connections of its last one that are idle and that it used last. */
void http_iter_begin(http_worker *w, http_vu *vs);
/* vu_fini: the same for the VU's current iteration; frees vs->iterc. */
void http_iter_end(http_worker *w, http_vu *vs);

/* ---- http_raw.c: the fast path ---- */

/* Runs the VU's request on the fast path when it can: 1 when started, 0
 * when curl must run it (only vs->url may have been rendered), -1 on
 * failure. */
int http_raw_start(http_worker *w, http_vu *vs, const http_step *st);
/* Aborts a request in flight (no step_done); the connection is closed. */
void http_raw_cancel(http_vu *vs);
/* The VU ends: closes its connections and handles (freed when closed). */
void http_raw_release(http_vu *vs);
/* worker_fini: releases every VU's fast-path state. */
void http_raw_fini(http_worker *w);

#endif
