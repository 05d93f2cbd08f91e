/*
 * The `tls` check key: what the response's connection negotiated, k6's
 * r.tls_version, r.tls_cipher_suite and r.ocsp.status.
 *
 *   tls: { version: tls1.2, cipher_suite: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 }
 *   tls: { ocsp_status: good }
 *
 * The protocol plugin fills volley_response's revision 7 fields; a core
 * older than that has none, so the key is refused at load time there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks_basic_int.h"

enum { T_VERSION, T_CIPHER, T_OCSP };

static const char *const versions[] = {"tls1.0", "tls1.1", "tls1.2", "tls1.3", NULL};
static const char *const ocsp[] = {"good", "revoked", "unknown", NULL};

struct tls_cfg {
    uint64_t set;
    int version;
    const char *cipher_suite;
    int ocsp_status;
};

static const volley_option tls_options[] = {
    [T_VERSION] = {.name = "version", .type = VOLLEY_OPT_ENUM, .enum_values = versions,
                   .offset = offsetof(struct tls_cfg, version),
                   .help = "the TLS version negotiated: tls1.0 .. tls1.3 (k6's http.TLS_1_2...)"},
    [T_CIPHER] = {.name = "cipher_suite", .type = VOLLEY_OPT_STRING,
                  .offset = offsetof(struct tls_cfg, cipher_suite),
                  .help = "the cipher suite negotiated, by its IANA name as k6 says it "
                          "(TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"},
    [T_OCSP] = {.name = "ocsp_status", .type = VOLLEY_OPT_ENUM, .enum_values = ocsp,
                .offset = offsetof(struct tls_cfg, ocsp_status),
                .help = "the status in the OCSP response the server stapled: good, revoked, or "
                        "unknown (also when none was stapled)"},
};

const volley_option_map cb_tls_map = {.options = tls_options, .count = VOLLEY_COUNTOF(tls_options),
                                      .config_size = sizeof(struct tls_cfg), .shorthand = NULL};

struct tls_cond {
    const char *version;     /* static, or NULL: not checked */
    char *cipher;            /* owned, or NULL */
    const char *ocsp;        /* static, or NULL */
};

void cb_tls_free(void *cond)
{
    struct tls_cond *c = cond;
    if (c)
        free(c->cipher);
    free(c);
}

void *cb_tls_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct tls_cfg *cfg = config;
    if (!VOLLEY_HAS(host, revision) || host->revision < 7) {
        snprintf(err, errcap, "tls: this volley does not tell checks about TLS (it needs plugin "
                 "ABI revision 7)");
        return NULL;
    }
    if (cfg->set == 0) {
        snprintf(err, errcap, "tls: expected at least one of version, cipher_suite, ocsp_status");
        return NULL;
    }
    struct tls_cond *c = calloc(1, sizeof *c);
    if (!c || ((cfg->set >> T_CIPHER & 1u) && !(c->cipher = strdup(cfg->cipher_suite)))) {
        cb_tls_free(c);
        snprintf(err, errcap, "tls: out of memory");
        return NULL;
    }
    if (cfg->set >> T_VERSION & 1u)
        c->version = versions[cfg->version];
    if (cfg->set >> T_OCSP & 1u)
        c->ocsp = ocsp[cfg->ocsp_status];
    return c;
}

static bool is(const char *got, const char *want, const char *what, char *msg, size_t msgcap)
{
    if (got && strcmp(got, want) == 0)
        return true;
    if (msgcap)
        snprintf(msg, msgcap, "%s is %s%s%s, not %s", what, got ? "" : "(none", got ? got : "",
                 got ? "" : ")", want);
    return false;
}

bool cb_tls_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                 size_t msgcap)
{
    (void)memo;
    const struct tls_cond *c = cond;
    if (!resp->tls_version) {
        if (msgcap)
            snprintf(msg, msgcap, "%s", resp->error ? resp->error
                                    : "the response did not come over TLS");
        return false;
    }
    return (!c->version || is(resp->tls_version, c->version, "the TLS version", msg, msgcap)) &&
           (!c->cipher || is(resp->tls_cipher_suite, c->cipher, "the cipher suite", msg, msgcap)) &&
           (!c->ocsp || is(resp->ocsp_status ? resp->ocsp_status : "unknown", c->ocsp,
                           "the OCSP status", msg, msgcap));
}
