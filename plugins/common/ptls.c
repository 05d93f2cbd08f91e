/*
 * The `tls:` option of the http and ws steps: checked and turned into a
 * shared profile with its OpenSSL client context at load time (ptls.h).
 */
#include "ptls.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

static const char *const versions[] = {"1.0", "1.1", "1.2", "1.3", NULL};
static const int version_codes[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};

/*
 * k6's tlsCipherSuites names (Go's crypto/tls constants, the IANA names
 * but for the ChaCha20 ones, which k6 writes without _SHA256) and
 * OpenSSL's names of the same suites. Debian's OpenSSL 3 has no RC4 and
 * no 3DES suites: they are known names that this OpenSSL cannot offer.
 */
static const struct suite {
    const char *k6, *openssl;
    bool tls13;
} suites[] = {
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", false},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", false},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", false},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", false},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", false},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", false},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", false},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA", false},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", false},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true},
};

static const volley_option options[] = {
    [PTLS_OPT_CA_FILE] = {.name = "ca_file", .type = VOLLEY_OPT_STRING,
                          .offset = offsetof(ptls_config, ca_file), .flags = VOLLEY_OPT_FILE,
                          .help = "PEM file of the CAs trusted instead of the system's"},
    [PTLS_OPT_INSECURE] = {.name = "insecure_skip_verify", .type = VOLLEY_OPT_BOOL,
                           .offset = offsetof(ptls_config, insecure_skip_verify),
                           .default_value = "false",
                           .help = "true: accept any server certificate (never in production)"},
    [PTLS_OPT_CLIENT_CERT] = {.name = "client_cert", .type = VOLLEY_OPT_STRING,
                              .offset = offsetof(ptls_config, client_cert),
                              .flags = VOLLEY_OPT_FILE,
                              .help = "PEM client certificate (chain) for mutual TLS"},
    [PTLS_OPT_CLIENT_KEY] = {.name = "client_key", .type = VOLLEY_OPT_STRING,
                             .offset = offsetof(ptls_config, client_key),
                             .flags = VOLLEY_OPT_FILE,
                             .help = "PEM private key of client_cert (not encrypted)"},
    [PTLS_OPT_SERVER_NAME] = {.name = "server_name", .type = VOLLEY_OPT_TEMPLATE,
                              .offset = offsetof(ptls_config, server_name),
                              .help = "name sent in SNI and checked in the certificate instead "
                                      "of the url's host"},
    [PTLS_OPT_MIN_VERSION] = {.name = "min_version", .type = VOLLEY_OPT_ENUM,
                              .offset = offsetof(ptls_config, min_version),
                              .enum_values = versions,
                              .help = "lowest TLS version accepted: 1.0, 1.1, 1.2 or 1.3 "
                                      "(k6's tlsVersion.min)"},
    [PTLS_OPT_SESSION_RESUMPTION] = {.name = "session_resumption", .type = VOLLEY_OPT_BOOL,
                                     .offset = offsetof(ptls_config, session_resumption),
                                     .default_value = "true",
                                     .help = "false: no session is resumed, every new connection "
                                             "makes a full handshake"},
    [PTLS_OPT_MAX_VERSION] = {.name = "max_version", .type = VOLLEY_OPT_ENUM,
                              .offset = offsetof(ptls_config, max_version),
                              .enum_values = versions,
                              .help = "highest TLS version offered: 1.0, 1.1, 1.2 or 1.3 "
                                      "(k6's tlsVersion.max)"},
    [PTLS_OPT_CIPHER_SUITES] = {.name = "cipher_suites", .type = VOLLEY_OPT_STRING_LIST,
                                .offset = offsetof(ptls_config, cipher_suites),
                                .help = "the cipher suites offered, by k6's names "
                                        "(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
                                        "TLS_AES_128_GCM_SHA256; k6's tlsCipherSuites)"},
};

const volley_option_map ptls_config_map = {options, VOLLEY_COUNTOF(options), sizeof(ptls_config),
                                           NULL};

/* ------------------------------------------------------------------------ */
/* OpenSSL indexes and callbacks                                             */
/* ------------------------------------------------------------------------ */

/* Our ex_data slots: the server_name on a context; on a connection, the
 * alerts it received and sent and whether the server asked for a client
 * certificate. Registered once per plugin (each has its own copy). */
static int ctx_name_idx = -1, ssl_alert_in_idx = -1, ssl_alert_out_idx = -1, ssl_cert_req_idx = -1;

static void new_indexes(void)
{
    ctx_name_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ssl_alert_in_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ssl_alert_out_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ssl_cert_req_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Once: ptls_system may come first, from a worker thread. */
static void init_indexes(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, new_indexes);
}

/*
 * The context's info callback. At the start of a handshake it puts the
 * profile's server_name in the ClientHello (SNI): curl and lws set the
 * url's host there when they create the connection, and neither has an
 * option for another name; the ClientHello is built after this point.
 * It also notes the fatal alerts either side sent and whether the server
 * asked for a client certificate, so a session that fails can say why
 * (a TLS 1.3 server refuses a missing client certificate only after the
 * client has finished its handshake).
 */
static void info_cb(const SSL *ssl, int where, int ret)
{
    SSL *s = (SSL *)ssl;
    if ((where & SSL_CB_HANDSHAKE_START) && ctx_name_idx >= 0) {
        const char *name = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_name_idx);
        if (name)
            SSL_set_tlsext_host_name(s, name);
    }
    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        int idx = (where & SSL_CB_READ) ? ssl_alert_in_idx : ssl_alert_out_idx;
        if (idx >= 0)
            SSL_set_ex_data(s, idx, (void *)SSL_alert_desc_string_long(ret));
    }
    if ((where & SSL_CB_CONNECT_LOOP) && ssl_cert_req_idx >= 0 &&
        SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
        SSL_set_ex_data(s, ssl_cert_req_idx, (void *)1);
}

ptls_state ptls_connection_state(const SSL *ssl)
{
    ptls_state st = {NULL, NULL, false};
    if (ssl && ssl_alert_in_idx >= 0) {
        st.alert_received = SSL_get_ex_data(ssl, ssl_alert_in_idx);
        st.alert_sent = SSL_get_ex_data(ssl, ssl_alert_out_idx);
        st.cert_requested = SSL_get_ex_data(ssl, ssl_cert_req_idx) != NULL;
    }
    return st;
}

int ptls_ctx_apply(SSL_CTX *ctx, const ptls_profile *p)
{
    SSL_CTX_set_info_callback(ctx, info_cb);
    /* k6 (Go) always asks for a stapled OCSP response */
    if (SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp) != 1)
        return -1;
    if ((p->min_version && SSL_CTX_set_min_proto_version(ctx, p->min_version) != 1) ||
        (p->max_version && SSL_CTX_set_max_proto_version(ctx, p->max_version) != 1))
        return -1;
    /* OpenSSL 3 refuses TLS 1.0 and 1.1 (their MD5+SHA1 signatures) above
     * security level 0; a spec that asks for them gets them, as in k6 */
    if ((p->min_version && p->min_version < TLS1_2_VERSION) ||
        (p->max_version && p->max_version < TLS1_2_VERSION))
        SSL_CTX_set_security_level(ctx, 0);
    if ((p->cipher_list && SSL_CTX_set_cipher_list(ctx, p->cipher_list) != 1) ||
        (p->ciphersuites && SSL_CTX_set_ciphersuites(ctx, p->ciphersuites) != 1))
        return -1;
    if (!p->server_name)
        return 0;
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (p->server_name_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, p->server_name) != 1)
            return -1;
    } else if (X509_VERIFY_PARAM_set1_host(param, p->server_name, 0) != 1 ||
               SSL_CTX_set_ex_data(ctx, ctx_name_idx, p->server_name) != 1) {
        return -1;   /* an IP is never sent in SNI (RFC 6066) */
    }
    return 0;
}

const char *ptls_verify_code(long vr, const char **kind)
{
    switch (vr) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        *kind = "x509: certificate doesn't match hostname";
        return "1311";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        *kind = "x509: unknown authority";
        return "1310";
    default:
        *kind = "tls: certificate rejected";
        return "1300";
    }
}

/* ------------------------------------------------------------------------ */
/* Load time                                                                 */
/* ------------------------------------------------------------------------ */

/* Reports a problem with one option at its place (config_error, revision
 * 2) and in err as "tls.KEY: why" (what an older core reports at the step). */
static void bad(const volley_host *h, volley_core *core, const void *field, const char *key,
                char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void bad(const volley_host *h, volley_core *core, const void *field, const char *key,
                char *err, size_t errcap, const char *fmt, ...)
{
    char why[2048];   /* room for the list of cipher suite names */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errcap, "tls.%s: %s", key, why);
    if (VOLLEY_HAS(h, config_error) && h->config_error)
        h->config_error(core, field, "%s", why);
}

/* OpenSSL's reason for the last failure, for messages. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "not PEM";
}

/* A key file must not make OpenSSL prompt on the terminal for a password. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap + 1);
            if (!b || cap > (64u << 20)) {
                free(b ? b : buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void profile_free(ptls_profile *p)
{
    if (!p)
        return;
    SSL_CTX_free(p->ctx);
    free(p->ca_file);
    free(p->client_cert);
    free(p->client_key);
    free(p->cert_pem);
    free(p->key_pem);
    free(p->server_name);
    free(p->cipher_list);
    free(p->ciphersuites);
    free(p);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same(const ptls_profile *a, const ptls_profile *b)
{
    return a->custom == b->custom && a->insecure == b->insecure &&
           a->min_version == b->min_version && a->max_version == b->max_version &&
           same_str(a->cipher_list, b->cipher_list) && same_str(a->ciphersuites, b->ciphersuites) &&
           a->no_resume == b->no_resume &&
           same_str(a->ca_file, b->ca_file) &&
           same_str(a->client_cert, b->client_cert) && same_str(a->client_key, b->client_key) &&
           same_str(a->server_name, b->server_name);
}

/* A suite by k6's name (or the IANA name of a ChaCha20 one); NULL. */
static const struct suite *find_suite(const char *name)
{
    for (size_t k = 0; k < sizeof suites / sizeof *suites; k++) {
        size_t n = strlen(suites[k].k6);
        if (strncmp(suites[k].k6, name, n) == 0 &&
            (name[n] == '\0' || (strstr(suites[k].k6, "CHACHA20") && !suites[k].tls13 &&
                                  strcmp(name + n, "_SHA256") == 0)))
            return &suites[k];
    }
    return NULL;
}

/* Appends name to the ':'-joined list *l; -1 when out of memory. */
static int join(char **l, const char *name)
{
    size_t n = *l ? strlen(*l) : 0, k = strlen(name);
    char *m = realloc(*l, n + k + 2);
    if (!m)
        return -1;
    if (n)
        m[n++] = ':';
    memcpy(m + n, name, k + 1);
    *l = m;
    return 0;
}

/*
 * The TLS 1.2 suites offered when cipher_suites names none of them: Go's crypto/tls
 * default order (k6's: Go 1.22+ on a CPU with AES instructions), so a
 * server that takes the client's order picks the suite k6 would get
 * (OpenSSL's own default offers AES-256-GCM first). OpenSSL's other
 * default suites follow (ALL less COMPLEMENTOFDEFAULT is DEFAULT's set),
 * as Go does not offer them: a server with none of Go's still connects.
 */
static const char go_tls12_order[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
    "ALL:!COMPLEMENTOFDEFAULT:!eNULL";
/* TLS 1.3: the same three suites as OpenSSL's default, in Go's order
 * (OpenSSL's puts AES-256-GCM first). */
static const char go_tls13_order[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/*
 * cipher_suites as OpenSSL's two lists: the TLS 1.3 names restrict TLS 1.3,
 * the others TLS 1.2 and older. A version none of whose suites is named
 * keeps OpenSSL's defaults (Go, and so k6, never restricts TLS 1.3). An
 * unknown name is an error that lists the known ones.
 */
static int suite_lists(ptls_profile *p, const volley_host *h, volley_core *core,
                       const ptls_config *c, char *err, size_t errcap)
{
    for (size_t i = 0; i < c->cipher_suites.n; i++) {
        const char *name = c->cipher_suites.v[i];
        const struct suite *s = find_suite(name);
        if (!s) {
            char list[2048] = "";
            size_t n = 0;
            for (size_t k = 0; k < sizeof suites / sizeof *suites && n < sizeof list; k++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", suites[k].k6);
            bad(h, core, &c->cipher_suites, "cipher_suites", err, errcap,
                "unknown cipher suite \"%s\"; the names (k6's) are: %s", name, list);
            return -1;
        }
        if (join(s->tls13 ? &p->ciphersuites : &p->cipher_list, s->openssl) != 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
    }
    return 0;
}

/*
 * After the context took cipher_suites: the named suites this OpenSSL does
 * not have (Debian's has no RC4 or 3DES) are said once, as a warning; none
 * at all of a version's is an error.
 */
static void check_suites(const ptls_profile *p, const volley_host *h, volley_core *core,
                         const ptls_config *c)
{
    STACK_OF(SSL_CIPHER) *have = SSL_CTX_get_ciphers(p->ctx);
    char missing[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < c->cipher_suites.n; i++) {
        const char *name = c->cipher_suites.v[i];
        const struct suite *s = find_suite(name);
        bool found = false;
        for (int k = 0; s && k < sk_SSL_CIPHER_num(have) && !found; k++)
            found = strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(have, k)), s->openssl) == 0;
        if (!found && n < sizeof missing)
            n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", name);
    }
    if (!*missing)
        return;
    const char *text = "tls.cipher_suites: this OpenSSL (%s) does not offer %s; the other "
                       "suites are offered";
    if (VOLLEY_HAS(h, config_warning) && h->config_warning)
        h->config_warning(core, &c->cipher_suites, text, OpenSSL_version(OPENSSL_VERSION_STRING),
                          missing);
    else
        h->log(core, VOLLEY_LOG_WARN, text, OpenSSL_version(OPENSSL_VERSION_STRING), missing);
}

/* The candidate's settings from the option; -1 after reporting. */
static int settings(ptls_profile *p, const volley_host *h, volley_core *core, const ptls_config *c,
                    char *err, size_t errcap)
{
    p->custom = c->set != 0;
    p->insecure = c->insecure_skip_verify;
    p->no_resume = VOLLEY_OPT_IS_SET(c, PTLS_OPT_SESSION_RESUMPTION) && !c->session_resumption;
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_MIN_VERSION))
        p->min_version = version_codes[c->min_version];
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_MAX_VERSION))
        p->max_version = version_codes[c->max_version];
    if (p->min_version && p->max_version && p->min_version > p->max_version) {
        bad(h, core, &c->max_version, "max_version", err, errcap,
            "%s is below tls.min_version %s", versions[c->max_version], versions[c->min_version]);
        return -1;
    }
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_CIPHER_SUITES) &&
        suite_lists(p, h, core, c, err, errcap) != 0)
        return -1;
    if ((!p->cipher_list && !(p->cipher_list = strdup(go_tls12_order))) ||
        (!p->ciphersuites && !(p->ciphersuites = strdup(go_tls13_order))))
        goto oom;
    bool has_cert = VOLLEY_OPT_IS_SET(c, PTLS_OPT_CLIENT_CERT) && c->client_cert;
    bool has_key = VOLLEY_OPT_IS_SET(c, PTLS_OPT_CLIENT_KEY) && c->client_key;
    if (has_cert != has_key) {
        if (has_cert)
            bad(h, core, &c->client_cert, "client_cert", err, errcap,
                "needs tls.client_key, the certificate's private key (PEM)");
        else
            bad(h, core, &c->client_key, "client_key", err, errcap,
                "needs tls.client_cert, the certificate it belongs to (PEM)");
        return -1;
    }
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_SERVER_NAME) && c->server_name) {
        const char *name = h->template_const(c->server_name);
        if (!name) {
            bad(h, core, &c->server_name, "server_name", err, errcap,
                "must be known at load time: only ${env.*} and ${services.*} can be used in it");
            return -1;
        }
        if (!*name || strpbrk(name, " \t\r\n/:")) {
            bad(h, core, &c->server_name, "server_name", err, errcap,
                "expected a host name or IP address, got \"%s\"", name);
            return -1;
        }
        if (!(p->server_name = strdup(name)))
            goto oom;
        p->server_name_ip = is_ip(name);
    }
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_CA_FILE) && c->ca_file && !(p->ca_file = strdup(c->ca_file)))
        goto oom;
    if (has_cert && (!(p->client_cert = strdup(c->client_cert)) ||
                     !(p->client_key = strdup(c->client_key))))
        goto oom;
    return 0;
oom:
    snprintf(err, errcap, "out of memory");
    return -1;
}

/*
 * Builds the profile's client context: its CA store (ca_file alone, else
 * OpenSSL's default paths, which honour SSL_CERT_FILE/SSL_CERT_DIR), the
 * client certificate and key (read once here; their text is kept for
 * curl), the lowest version, server_name. Each file problem is reported at
 * its option's place.
 */
static int build_ctx(ptls_profile *p, const volley_host *h, volley_core *core,
                     const ptls_config *c, char *err, size_t errcap)
{
    ERR_clear_error();
    SSL_CTX *ctx = p->ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errcap, "tls: cannot create an OpenSSL context: %s", ssl_reason());
        return -1;
    }
    /* as lws sets its own client contexts */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    if (p->ca_file) {
        if (SSL_CTX_load_verify_file(ctx, p->ca_file) != 1) {
            bad(h, core, &c->ca_file, "ca_file", err, errcap,
                "no CA certificate in \"%s\" (expected PEM certificates): %s", p->ca_file,
                ssl_reason());
            return -1;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errcap, "tls: cannot load the system's CA certificates: %s", ssl_reason());
        return -1;
    }
    if (p->client_cert) {
        if (!(p->cert_pem = read_file(p->client_cert, &p->cert_len)) ||
            !(p->key_pem = read_file(p->client_key, &p->key_len))) {
            snprintf(err, errcap, "tls: cannot read \"%s\"",
                     p->cert_pem ? p->client_key : p->client_cert);
            return -1;
        }
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ctx, p->client_cert) != 1) {
            bad(h, core, &c->client_cert, "client_cert", err, errcap,
                "\"%s\" is not a PEM certificate: %s", p->client_cert, ssl_reason());
            return -1;
        }
        ERR_clear_error();
        if (SSL_CTX_use_PrivateKey_file(ctx, p->client_key, SSL_FILETYPE_PEM) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
                bad(h, core, &c->client_key, "client_key", err, errcap,
                    "\"%s\" is not the private key of tls.client_cert \"%s\"", p->client_key,
                    p->client_cert);
            else
                bad(h, core, &c->client_key, "client_key", err, errcap,
                    "\"%s\" is not a PEM private key, or it is encrypted (not supported): %s",
                    p->client_key, ssl_reason());
            return -1;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            bad(h, core, &c->client_key, "client_key", err, errcap,
                "\"%s\" is not the private key of tls.client_cert \"%s\"", p->client_key,
                p->client_cert);
            return -1;
        }
    }
    if (p->no_resume) {
        /* no session kept, none offered (lws and a client of our own) */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    if ((p->min_version && SSL_CTX_set_min_proto_version(ctx, p->min_version) != 1) ||
        (p->max_version && SSL_CTX_set_max_proto_version(ctx, p->max_version) != 1)) {
        snprintf(err, errcap, "tls.min_version/max_version: not supported by this OpenSSL");
        return -1;
    }
    ERR_clear_error();
    bool none12 = p->cipher_list && SSL_CTX_set_cipher_list(ctx, p->cipher_list) != 1;
    bool none13 = !none12 && p->ciphersuites && SSL_CTX_set_ciphersuites(ctx, p->ciphersuites) != 1;
    if (none12 || none13) {
        bad(h, core, &c->cipher_suites, "cipher_suites", err, errcap,
            "this OpenSSL (%s) offers none of the TLS %s suites named here (%s)",
            OpenSSL_version(OPENSSL_VERSION_STRING), none12 ? "1.2" : "1.3",
            none12 ? p->cipher_list : p->ciphersuites);
        return -1;
    }
    if (VOLLEY_OPT_IS_SET(c, PTLS_OPT_CIPHER_SUITES))
        check_suites(p, h, core, c);
    if (ptls_ctx_apply(ctx, p) != 0) {
        snprintf(err, errcap, "tls.server_name: cannot use \"%s\"", p->server_name);
        return -1;
    }
    return 0;
}

const ptls_profile *ptls_compile(ptls_set *set, const volley_host *h, volley_core *core,
                                 const ptls_config *c, bool want_default, char *err,
                                 size_t errcap)
{
    init_indexes();
    if (c->set == 0 && !want_default)
        return NULL;
    if (c->insecure_skip_verify) {
        const char *text = "tls.insecure_skip_verify is true: server certificates are not "
                           "verified, so any server (or anyone in between) is trusted";
        if (VOLLEY_HAS(h, config_warning) && h->config_warning)
            h->config_warning(core, &c->insecure_skip_verify, "%s", text);
        else
            h->log(core, VOLLEY_LOG_WARN, "%s", text);
    }
    ptls_profile *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    if (settings(p, h, core, c, err, errcap) != 0)
        goto fail;
    for (ptls_profile *q = set->head; q; q = q->next) {
        if (same(p, q)) {
            profile_free(p);
            return q;
        }
    }
    if (build_ctx(p, h, core, c, err, errcap) != 0)
        goto fail;
    p->idx = set->n++;
    ptls_profile **tail = &set->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    return p;
fail:
    profile_free(p);
    ERR_clear_error();
    return NULL;
}

void ptls_set_free(ptls_set *set)
{
    for (ptls_profile *p = set->head, *next; p; p = next) {
        next = p->next;
        profile_free(p);
    }
    set->head = NULL;
    set->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Run time                                                                  */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;

const ptls_profile *ptls_system(ptls_set *set, const volley_host *h, volley_core *core, char *err,
                                size_t errcap)
{
    pthread_mutex_lock(&system_lock);
    const ptls_profile *p = NULL;
    for (const ptls_profile *q = set->head; q && !p; q = q->next)
        if (!q->custom)
            p = q;
    if (!p) {
        ptls_config none;
        memset(&none, 0, sizeof none);
        p = ptls_compile(set, h, core, &none, true, err, errcap);
    }
    pthread_mutex_unlock(&system_lock);
    return p;
}

X509_STORE *ptls_store_dup(const ptls_profile *p)
{
    X509_STORE *from = SSL_CTX_get_cert_store(p->ctx);
    X509_STORE *to = X509_STORE_new();
    if (!from || !to)
        goto fail;
    bool ok = true;
    /* lws may add certificates from the CA directory meanwhile */
    X509_STORE_lock(from);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(from);
    for (int i = 0; ok && i < sk_X509_OBJECT_num(objs); i++) {
        X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
        X509 *x = X509_OBJECT_get0_X509(o);
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(o);
        if (x)
            ok = X509_STORE_add_cert(to, x) == 1;
        else if (crl)
            ok = X509_STORE_add_crl(to, crl) == 1;
    }
    X509_STORE_unlock(from);
    if (!ok || X509_VERIFY_PARAM_set1(X509_STORE_get0_param(to), X509_STORE_get0_param(from)) != 1)
        goto fail;
    if (!p->ca_file) {
        /* as SSL_CTX_set_default_verify_paths: SSL_CERT_DIR or OpenSSL's */
        X509_LOOKUP *dir = X509_STORE_add_lookup(to, X509_LOOKUP_hash_dir());
        if (!dir || X509_LOOKUP_add_dir(dir, NULL, X509_FILETYPE_DEFAULT) != 1)
            goto fail;
    }
    return to;
fail:
    X509_STORE_free(to);
    ERR_clear_error();
    return NULL;
}

const char *ptls_version_tag(const SSL *ssl)
{
    switch (ssl ? SSL_version(ssl) : 0) {
    case TLS1_3_VERSION: return "tls1.3";
    case TLS1_2_VERSION: return "tls1.2";
    case TLS1_1_VERSION: return "tls1.1";
    case TLS1_VERSION: return "tls1.0";
    default: return NULL;
    }
}

/* k6's name of a negotiated suite, else OpenSSL's standard (IANA) name. */
static const char *suite_name(const SSL *ssl)
{
    const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
    if (!ci)
        return NULL;
    const char *name = SSL_CIPHER_get_name(ci);
    for (size_t k = 0; name && k < sizeof suites / sizeof *suites; k++)
        if (strcmp(suites[k].openssl, name) == 0)
            return suites[k].k6;
    return SSL_CIPHER_standard_name(ci);
}

/* The status k6 reads from a stapled response: its first answer, parsed
 * without checking its signature (Go's ocsp.ParseResponse(der, nil));
 * NULL when none was stapled. */
static const char *ocsp_parse(SSL *ssl)
{
    const unsigned char *der = NULL;
    long len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
    if (len <= 0 || !der)
        return NULL;
    const char *st = "unknown";
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &der, len);
    OCSP_BASICRESP *b = r && OCSP_response_status(r) == OCSP_RESPONSE_STATUS_SUCCESSFUL
                            ? OCSP_response_get1_basic(r)
                            : NULL;
    OCSP_SINGLERESP *one = b ? OCSP_resp_get0(b, 0) : NULL;
    if (one) {
        int reason = 0;
        switch (OCSP_single_get0_status(one, &reason, NULL, NULL, NULL)) {
        case V_OCSP_CERTSTATUS_GOOD: st = "good"; break;
        case V_OCSP_CERTSTATUS_REVOKED: st = "revoked"; break;
        default: break;
        }
    }
    OCSP_BASICRESP_free(b);
    OCSP_RESPONSE_free(r);
    ERR_clear_error();
    return st;
}

static int ssl_ocsp_idx = -1, ssl_suite_idx = -1, sess_ocsp_idx = -1;
static void new_info_indexes(void)
{
    ssl_ocsp_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ssl_suite_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    sess_ocsp_idx = SSL_SESSION_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * A resumed session brings no certificate, so no stapled response: as Go
 * (k6) keeps the response in its session, the status is kept on the
 * SSL_SESSION of the full handshake, and read back when it is resumed.
 * TLS 1.3's tickets are copies of that session (their ex_data too) made
 * when they arrive, after the handshake, where this runs.
 */
static const char *ocsp_status(SSL *ssl)
{
    const char *st = ocsp_parse(ssl);
    SSL_SESSION *sess = SSL_get0_session(ssl);
    if (sess && sess_ocsp_idx >= 0) {
        if (st)
            SSL_SESSION_set_ex_data(sess, sess_ocsp_idx, (void *)st);
        else if (SSL_session_reused(ssl))
            st = SSL_SESSION_get_ex_data(sess, sess_ocsp_idx);
    }
    return st ? st : "unknown";
}

ptls_info ptls_conn_info(SSL *ssl)
{
    ptls_info in = {NULL, NULL, NULL};
    if (!ssl || !(in.version = ptls_version_tag(ssl)))
        return in;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, new_info_indexes);
    /* found once per connection: its later requests read them back */
    in.ocsp_status = ssl_ocsp_idx >= 0 ? SSL_get_ex_data(ssl, ssl_ocsp_idx) : NULL;
    in.cipher_suite = ssl_suite_idx >= 0 ? SSL_get_ex_data(ssl, ssl_suite_idx) : NULL;
    if (!in.ocsp_status) {
        in.ocsp_status = ocsp_status(ssl);
        in.cipher_suite = suite_name(ssl);
        if (ssl_ocsp_idx >= 0 && ssl_suite_idx >= 0) {
            SSL_set_ex_data(ssl, ssl_ocsp_idx, (void *)in.ocsp_status);
            SSL_set_ex_data(ssl, ssl_suite_idx, (void *)in.cipher_suite);
        }
    }
    return in;
}
