#include "jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const unsigned char *in, size_t n, struct sbuf *out)
{
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        char q[4] = { B64URL[v >> 18], B64URL[(v >> 12) & 63], B64URL[(v >> 6) & 63], B64URL[v & 63] };
        sb_add(out, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        char q[2] = { B64URL[v >> 18], B64URL[(v >> 12) & 63] };
        sb_add(out, q, 2);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        char q[3] = { B64URL[v >> 18], B64URL[(v >> 12) & 63], B64URL[(v >> 6) & 63] };
        sb_add(out, q, 3);
    }
}

static int b64val(char c)
{
    const char *p = c ? strchr(B64URL, c) : NULL;
    return p ? (int)(p - B64URL) : -1;
}

/* Raw (unpadded) base64url, as golang-jwt v5 decodes by default; -1 with
 * the offending byte offset on bad input. */
static int b64url_decode(const char *s, size_t n, struct sbuf *out, size_t *bad)
{
    if (n % 4 == 1) {
        *bad = n - 1;
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            *bad = i;
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char b = (unsigned char)(acc >> bits);
            sb_add(out, &b, 1);
            acc &= (1u << bits) - 1;
        }
    }
    return 0;
}

static const EVP_MD *md_for(const char *alg)
{
    if (strcmp(alg, "HS256") == 0)
        return EVP_sha256();
    if (strcmp(alg, "HS384") == 0)
        return EVP_sha384();
    if (strcmp(alg, "HS512") == 0)
        return EVP_sha512();
    return NULL;
}

static void sign(const EVP_MD *md, const char *secret, const char *data, size_t n, struct sbuf *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(md, secret, (int)strlen(secret), (const unsigned char *)data, n, mac, &maclen);
    b64url_encode(mac, maclen, out);
}

char *jwt_sign_hs256(const char *secret, const json_t *claims)
{
    struct sbuf t = { 0 };
    static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    b64url_encode((const unsigned char *)head, sizeof head - 1, &t);
    sb_add(&t, ".", 1);
    char *c = json_dumps(claims, JSON_COMPACT);
    b64url_encode((const unsigned char *)c, strlen(c), &t);
    free(c);
    size_t signed_len = t.len;
    sb_add(&t, ".", 1);
    sign(EVP_sha256(), secret, t.data, signed_len, &t);
    return t.data;
}

static int fail(char *err, size_t cap, const char *msg)
{
    snprintf(err, cap, "%s", msg);
    return -1;
}

/* Decodes one segment as a JSON object. */
static json_t *segment(const char *s, size_t n, const char *what, char *err, size_t cap)
{
    struct sbuf raw = { 0 };
    size_t bad = 0;
    if (b64url_decode(s, n, &raw, &bad) != 0) {
        snprintf(err, cap, "token is malformed: could not base64 decode %s: illegal base64 data at input byte %zu",
                 what, bad);
        sb_free(&raw);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(raw.data ? raw.data : "", raw.len, 0, &je);
    sb_free(&raw);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        snprintf(err, cap, "token is malformed: could not JSON decode %s", what);
        return NULL;
    }
    return j;
}

static bool num_claim(const json_t *claims, const char *name, double *v, bool *bad)
{
    json_t *c = json_object_get(claims, name);
    if (!c || json_is_null(c))
        return false;
    if (!json_is_number(c)) {
        *bad = true;
        return false;
    }
    *v = json_number_value(c);
    return true;
}

int jwt_verify(const char *secret, const char *token, long long now_s, json_t **claims, char *err,
               size_t errcap)
{
    *claims = NULL;
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return fail(err, errcap, "token is malformed: token contains an invalid number of segments");
    json_t *head = segment(token, (size_t)(d1 - token), "header", err, errcap);
    if (!head)
        return -1;
    json_t *body = segment(d1 + 1, (size_t)(d2 - d1 - 1), "claim", err, errcap);
    if (!body) {
        json_decref(head);
        return -1;
    }
    const char *alg = json_string_value(json_object_get(head, "alg"));
    const EVP_MD *md = alg ? md_for(alg) : NULL;
    if (!md) {
        bool asym = alg && (alg[0] == 'R' || alg[0] == 'E' || alg[0] == 'P');
        json_decref(head);
        json_decref(body);
        if (asym)
            return fail(err, errcap, "token signature is invalid: key is of invalid type");
        return fail(err, errcap, "token is unverifiable: signing method (alg) is unavailable");
    }
    json_decref(head);
    struct sbuf want = { 0 };
    sign(md, secret, token, (size_t)(d2 - token), &want);
    const char *got = d2 + 1;
    bool ok = want.len == strlen(got) && CRYPTO_memcmp(want.data, got, want.len) == 0;
    sb_free(&want);
    if (!ok) {
        json_decref(body);
        return fail(err, errcap, "token signature is invalid: signature is invalid");
    }
    double exp = 0, nbf = 0;   // set when has_exp/has_nbf (gcc -fsanitize=thread cannot tell)
    bool bad = false;
    bool has_exp = num_claim(body, "exp", &exp, &bad);
    bool has_nbf = num_claim(body, "nbf", &nbf, &bad);
    if (bad) {
        json_decref(body);
        return fail(err, errcap, "token is malformed: could not JSON decode claim");
    }
    if (has_exp && (double)now_s >= exp) {
        json_decref(body);
        return fail(err, errcap, "token has invalid claims: token is expired");
    }
    if (has_nbf && (double)now_s < nbf) {
        json_decref(body);
        return fail(err, errcap, "token has invalid claims: token is not valid yet");
    }
    *claims = body;
    return 0;
}
