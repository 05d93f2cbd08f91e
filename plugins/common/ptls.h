/*
 * ptls: the `tls:` option of the http and ws steps, shared by both plugins
 * (compiled into each; nothing here is exported).
 *
 * A step's `tls:` mapping (merged by the core from defaults:, the step's
 * service and the step itself, key by key) is checked once at load time:
 * its files are read and parsed, a client key is matched against its
 * certificate, and an OpenSSL client context (SSL_CTX) is built from it.
 * Steps with the same settings share one profile and so one context: the
 * form a later "one context per distinct config, shared by workers, with
 * session resumption" grows from. The ws plugin hands the context to lws
 * (one vhost per profile); the http plugin's fast path makes its
 * connections from it (http_tls.c), and gives curl the equivalent options
 * (curl 7.88 builds its own context per connection), adding what curl has
 * no option for (server_name) from its SSL_CTX callback.
 */
#ifndef VOLLEY_PTLS_H
#define VOLLEY_PTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "volley/plugin.h"

/* The option, filled by the core (its `set` bits follow this order). */
enum ptls_opt {
    PTLS_OPT_CA_FILE, PTLS_OPT_INSECURE, PTLS_OPT_CLIENT_CERT, PTLS_OPT_CLIENT_KEY,
    PTLS_OPT_SERVER_NAME, PTLS_OPT_MIN_VERSION, PTLS_OPT_SESSION_RESUMPTION,
    PTLS_OPT_MAX_VERSION, PTLS_OPT_CIPHER_SUITES
};

typedef struct ptls_config {
    uint64_t set;
    const char *ca_file;               /* VOLLEY_OPT_FILE: a readable path  */
    bool insecure_skip_verify;
    const char *client_cert;
    const char *client_key;
    const volley_template *server_name; /* constant at load time            */
    int min_version;                   /* index into "1.0" .. "1.3"         */
    bool session_resumption;           /* default true                      */
    int max_version;                   /* index into "1.0" .. "1.3"         */
    volley_string_list cipher_suites;  /* k6's (IANA) names                 */
} ptls_config;

/* The `tls` option's sub-map: declare it as
 *   {.name = "tls", .type = VOLLEY_OPT_OBJECT, .sub = &ptls_config_map, ...} */
extern const volley_option_map ptls_config_map;
#define PTLS_HELP "TLS options: { ca_file, insecure_skip_verify, client_cert, client_key, " \
                  "server_name, min_version, max_version, cipher_suites, session_resumption }"

/* A distinct set of TLS settings, shared by the steps that have it. */
typedef struct ptls_profile {
    unsigned idx;            /* 0, 1, ... in its set, in order of creation */
    bool custom;             /* any option set; else the library defaults */
    char *ca_file;           /* NULL: the system's CA store */
    bool insecure;
    char *client_cert, *client_key;
    char *cert_pem, *key_pem;   /* the files' text, read at load time */
    size_t cert_len, key_len;
    char *server_name;       /* NULL: the url's host */
    bool server_name_ip;     /* server_name is an IP address */
    int min_version;         /* 0 or TLS1_VERSION .. TLS1_3_VERSION */
    int max_version;         /* the same */
    char *cipher_list;       /* TLS 1.2 and older suites, OpenSSL's names joined
                                by ':' (SSL_CTX_set_cipher_list); Go's default
                                order when cipher_suites names none */
    char *ciphersuites;      /* TLS 1.3 suites (SSL_CTX_set_ciphersuites); Go's
                                order when cipher_suites names none */
    bool no_resume;          /* session_resumption: false */
    SSL_CTX *ctx;            /* built at load time from the above */
    struct ptls_profile *next;
} ptls_profile;

/* A plugin instance's profiles (main thread while steps compile; read-only
 * afterwards). */
typedef struct ptls_set {
    ptls_profile *head;
    unsigned n;
} ptls_set;

/*
 * The profile of a step: `c` is its filled tls option (absent keys at their
 * defaults), `set` whether the step has one at all. Checks everything
 * (files, key against certificate, server_name known at load time),
 * reporting each problem at its place with host->config_error (when the
 * core has it) and in err ("tls.KEY: why"); NULL then. A step without
 * options gets the default profile (system CAs, verification on), built
 * only when want_default. Warns once per place about insecure_skip_verify
 * (host->config_warning, or the log). Main thread, load time.
 */
const ptls_profile *ptls_compile(ptls_set *set, const volley_host *h, volley_core *core,
                                 const ptls_config *c, bool want_default, char *err,
                                 size_t errcap);
void ptls_set_free(ptls_set *set);

/* Sets on a context what the profile says beyond its CA store and client
 * certificate: the versions, the cipher suites (and OpenSSL's security
 * level 0 for TLS 1.0/1.1), a request for a stapled OCSP response, and
 * server_name as the name checked in the certificate and sent in SNI. The
 * profile's own context gets it at load time; curl 7.88's per-connection
 * contexts in its CURLOPT_SSL_CTX_FUNCTION (after curl's own settings, so
 * these win). 0, or -1 when OpenSSL refuses (out of memory). */
int ptls_ctx_apply(SSL_CTX *ctx, const ptls_profile *p);

/* k6's code and words for a certificate verification result
 * (SSL_get_verify_result): "1311" hostname mismatch, "1310" unknown
 * authority (also self-signed), "1300" any other (expired, ...). */
const char *ptls_verify_code(long verify_result, const char **kind);

/* What a connection made with a profile's context (its info callback) saw
 * of a TLS failure: the fatal alert the server sent ("protocol version",
 * "certificate required") and the one we sent, and whether the server asked
 * for a client certificate. */
typedef struct ptls_state {
    const char *alert_received;
    const char *alert_sent;
    bool cert_requested;
} ptls_state;
ptls_state ptls_connection_state(const SSL *ssl);

/*
 * The set's profile of the system's CA store with every option at its
 * default: what a step without tls: gets when it reaches https:// at run
 * time. Built on first use (the CA bundle read and parsed once for the
 * run, some 30 ms), then shared; safe from any thread (a lock; callers
 * after the first only wait while it is built). NULL with err on failure.
 */
const ptls_profile *ptls_system(ptls_set *set, const volley_host *h, volley_core *core, char *err,
                                size_t errcap);

/*
 * A new X509 store holding the profile's trusted certificates and CRLs
 * (the same objects, counted references: no file is read or parsed) and
 * its verification flags; one of the system's store also looks in the
 * default CA directory on a miss, as the profile's does. For a client
 * that builds contexts per connection (curl 7.88): each worker gives its
 * connections its own copy (SSL_CTX_set1_cert_store), so verification
 * shares no lock or flags across threads. Any thread. NULL when out of
 * memory.
 */
X509_STORE *ptls_store_dup(const ptls_profile *p);

/* k6's tls_version tag of a connection: "tls1.3", "tls1.2", "tls1.1",
 * "tls1.0" (Go's names as k6 prints them); NULL when no TLS (or an older
 * protocol) was negotiated. Static strings. */
const char *ptls_version_tag(const SSL *ssl);

/* What checks see of a connection's TLS (volley_response, revision 7):
 * k6's r.tls_version, r.tls_cipher_suite (k6's name of the suite, else
 * the IANA one) and r.ocsp.status ("good", "revoked", "unknown": the
 * first answer of the OCSP response the server stapled, not verified, as
 * k6 reads it; "unknown" when none was; a resumed session's is its full
 * handshake's, as Go keeps it). All NULL without TLS. Static
 * strings; the OCSP response is parsed once per connection (kept on the
 * SSL). The loop thread of the connection. */
typedef struct ptls_info {
    const char *version, *cipher_suite, *ocsp_status;
} ptls_info;
ptls_info ptls_conn_info(SSL *ssl);

#endif
