#include "template_fn.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* ---- names ---- */

static int find(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static const char *const alg_names[TFN_ALG__COUNT] = {"md5", "sha1", "sha256", "sha384", "sha512"};
/* OpenSSL's names for EVP_MD_fetch. */
static const char *const alg_fetch[TFN_ALG__COUNT] = {"MD5", "SHA1", "SHA256", "SHA384", "SHA512"};

int tfn_lookup(const char *name, tfn_kind *kind, tfn_alg *alg)
{
    static const struct {
        const char *name;
        tfn_kind kind;
    } fns[] = {{"base64", TFN_BASE64}, {"base64decode", TFN_BASE64_DECODE}, {"hex", TFN_HEX},
               {"urlencode", TFN_URLENCODE}, {"hmac", TFN_HMAC}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        if (strcmp(fns[i].name, name) == 0) {
            *kind = fns[i].kind;
            return 0;
        }
    }
    int a = find(alg_names, TFN_ALG__COUNT, name);
    if (a < 0)
        return -1;
    *kind = TFN_DIGEST;
    *alg = (tfn_alg)a;
    return 0;
}

int tfn_b64_parse(const char *s)
{
    static const char *const names[] = {"std", "rawstd", "url", "rawurl"};
    return find(names, 4, s);
}

int tfn_out_parse(const char *s)
{
    static const char *const names[] = {"hex", "base64", "base64url", "base64rawurl", "binary"};
    return find(names, 5, s);
}

int tfn_alg_parse(const char *s) { return find(alg_names, TFN_ALG__COUNT, s); }

/* ---- encodings, in place ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool b64_is_url(tfn_b64 v) { return v == TFN_B64_URL || v == TFN_B64_RAWURL; }
static bool b64_pads(tfn_b64 v) { return v == TFN_B64_STD || v == TFN_B64_URL; }

/* Groups are encoded from the last: group i is read at from + 3i and
 * written at from + 4i, never before a group still to be read. */
int tfn_base64_tail(volley_buf *out, size_t from, tfn_b64 v)
{
    size_t n = out->len - from, full = n / 3, rest = n % 3;
    size_t len = full * 4 + (rest ? (b64_pads(v) ? 4 : rest + 1) : 0);
    if (vbuf_reserve(out, len - n) != 0)
        return -1;
    const char *abc = b64_is_url(v) ? b64_url : b64_std;
    unsigned char *s = (unsigned char *)out->data + from;
    char *d = out->data + from;
    if (rest) {
        uint32_t x = (uint32_t)s[full * 3] << 16 | (rest == 2 ? (uint32_t)s[full * 3 + 1] << 8 : 0);
        char *w = d + full * 4;
        w[0] = abc[x >> 18 & 63];
        w[1] = abc[x >> 12 & 63];
        if (rest == 2)
            w[2] = abc[x >> 6 & 63];
        else if (b64_pads(v))
            w[2] = '=';
        if (b64_pads(v))
            w[3] = '=';
    }
    for (size_t i = full; i-- > 0;) {
        uint32_t x = (uint32_t)s[i * 3] << 16 | (uint32_t)s[i * 3 + 1] << 8 | s[i * 3 + 2];
        char *w = d + i * 4;
        w[3] = abc[x & 63];
        w[2] = abc[x >> 6 & 63];
        w[1] = abc[x >> 12 & 63];
        w[0] = abc[x >> 18 & 63];
    }
    out->len = from + len;
    out->data[out->len] = '\0';
    return 0;
}

static int b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Padding is accepted whether the variant writes it or not (a raw value
 * decodes with std, as k6 users paste either); anything else outside the
 * alphabet, or a length no encoder makes, is refused. */
int tfn_base64_decode_tail(volley_buf *out, size_t from, tfn_b64 v)
{
    unsigned char *s = (unsigned char *)out->data + from;
    size_t n = out->len - from;
    while (n > 0 && s[n - 1] == '=' && (out->len - from) - n < 2)
        n--;
    if (n % 4 == 1)
        return -1;
    bool url = b64_is_url(v);
    size_t w = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int x = b64_value(s[i], url);
        if (x < 0)
            return -1;
        acc = acc << 6 | (uint32_t)x;
        if (i % 4 == 3) {
            s[w++] = (unsigned char)(acc >> 16);
            s[w++] = (unsigned char)(acc >> 8);
            s[w++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        s[w++] = (unsigned char)(acc >> 4);
    } else if (n % 4 == 3) {
        s[w++] = (unsigned char)(acc >> 10);
        s[w++] = (unsigned char)(acc >> 2);
    }
    out->len = from + w;
    out->data[out->len] = '\0';
    return 0;
}

int tfn_hex_tail(volley_buf *out, size_t from)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = out->len - from;
    if (vbuf_reserve(out, n) != 0)
        return -1;
    unsigned char *s = (unsigned char *)out->data + from;
    for (size_t i = n; i-- > 0;) {
        unsigned char c = s[i];
        s[2 * i + 1] = (unsigned char)hex[c & 15];
        s[2 * i] = (unsigned char)hex[c >> 4];
    }
    out->len = from + 2 * n;
    out->data[out->len] = '\0';
    return 0;
}

static bool uri_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_.!~*'()", c) != NULL;
}

int tfn_urlencode_tail(volley_buf *out, size_t from)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t extra = 0;
    for (size_t i = from; i < out->len; i++)
        extra += out->data[i] && uri_unreserved((unsigned char)out->data[i]) ? 0 : 2;
    if (vbuf_reserve(out, extra) != 0)
        return -1;
    char *d = out->data;
    size_t r = out->len, w = out->len + extra;
    while (r > from) {
        unsigned char c = (unsigned char)d[--r];
        if (c && uri_unreserved(c)) {
            d[--w] = (char)c;
        } else {
            d[--w] = hex[c & 15];
            d[--w] = hex[c >> 4];
            d[--w] = '%';
        }
    }
    out->len += extra;
    out->data[out->len] = '\0';
    return 0;
}

/* ---- digests ---- */

/* The algorithms, fetched once for the process (their providers' lookup
 * is not free); NULL where this OpenSSL lacks one (a FIPS build: md5). */
static EVP_MD *mds[TFN_ALG__COUNT];
static EVP_MAC *hmac_alg;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    for (int i = 0; i < TFN_ALG__COUNT; i++)
        mds[i] = EVP_MD_fetch(NULL, alg_fetch[i], NULL);
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* One digest and one HMAC context per algorithm per thread, made on first
 * use and freed when the thread ends. OpenSSL 3.0 still allocates its
 * provider state on every init (measured: 1 allocation per digest, 5 per
 * HMAC init with a key, 2 without one), so each HMAC context remembers its
 * last key and is re-initialized without one when the key is the same
 * (the usual case: a key from env): 2 allocations instead of 5. */
typedef struct fn_ctx {
    EVP_MD_CTX *md[TFN_ALG__COUNT];
    EVP_MAC_CTX *mac[TFN_ALG__COUNT];
    volley_buf key[TFN_ALG__COUNT];   /* the key mac[i] holds */
    bool keyed[TFN_ALG__COUNT];
} fn_ctx;

static pthread_key_t ctx_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p)
{
    fn_ctx *c = p;
    for (int i = 0; i < TFN_ALG__COUNT; i++) {
        EVP_MD_CTX_free(c->md[i]);
        EVP_MAC_CTX_free(c->mac[i]);
        vbuf_free(&c->key[i]);
    }
    free(c);
}

static void make_key(void) { (void)pthread_key_create(&ctx_key, ctx_free); }

static fn_ctx *thread_ctx(void)
{
    pthread_once(&fetch_once, fetch_all);
    pthread_once(&key_once, make_key);
    fn_ctx *c = pthread_getspecific(ctx_key);
    if (!c && (c = calloc(1, sizeof *c)) != NULL && pthread_setspecific(ctx_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

/* md[0..n) written in enc at out[from..], replacing what was there. */
static int put_digest(volley_buf *out, size_t from, const unsigned char *md, size_t n, tfn_out enc)
{
    out->len = from;
    if (vbuf_append(out, md, n) != 0)
        return -1;
    switch (enc) {
    case TFN_OUT_HEX: return tfn_hex_tail(out, from);
    case TFN_OUT_BASE64: return tfn_base64_tail(out, from, TFN_B64_STD);
    case TFN_OUT_BASE64URL: return tfn_base64_tail(out, from, TFN_B64_URL);
    case TFN_OUT_BASE64RAWURL: return tfn_base64_tail(out, from, TFN_B64_RAWURL);
    case TFN_OUT_BINARY: return 0;
    }
    return -1;
}

int tfn_digest_tail(volley_buf *out, size_t from, tfn_alg alg, tfn_out enc)
{
    fn_ctx *c = thread_ctx();
    if (!c || !mds[alg])
        return -1;
    if (!c->md[alg] && !(c->md[alg] = EVP_MD_CTX_new()))
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_DigestInit_ex2(c->md[alg], mds[alg], NULL) ||
        !EVP_DigestUpdate(c->md[alg], out->data + from, out->len - from) ||
        !EVP_DigestFinal_ex(c->md[alg], md, &n))
        return -1;
    return put_digest(out, from, md, n, enc);
}

int tfn_hmac_tail(volley_buf *out, size_t from, size_t mid, tfn_alg alg, tfn_out enc)
{
    fn_ctx *c = thread_ctx();
    if (!c || !mds[alg] || !hmac_alg)
        return -1;
    if (!c->mac[alg]) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)alg_fetch[alg], 0),
            OSSL_PARAM_construct_end()};
        if (!(c->mac[alg] = EVP_MAC_CTX_new(hmac_alg)) || !EVP_MAC_CTX_set_params(c->mac[alg], params))
            return -1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t n = 0;
    /* An empty key is a valid HMAC key; OpenSSL wants a non-NULL pointer. */
    static const unsigned char empty[1];
    const unsigned char *key = mid > from ? (const unsigned char *)out->data + from : empty;
    size_t klen = mid - from;
    volley_buf *last = &c->key[alg];
    bool same = c->keyed[alg] && last->len == klen && memcmp(last->data ? last->data : "", key, klen) == 0;
    if (!same) {
        c->keyed[alg] = false;
        last->len = 0;
        if (vbuf_append(last, key, klen) != 0)
            return -1;
    }
    if (!EVP_MAC_init(c->mac[alg], same ? NULL : key, same ? 0 : klen, NULL) ||
        !EVP_MAC_update(c->mac[alg], (const unsigned char *)out->data + mid, out->len - mid) ||
        !EVP_MAC_final(c->mac[alg], md, &n, sizeof md))
        return -1;
    c->keyed[alg] = true;
    return put_digest(out, from, md, n, enc);
}
