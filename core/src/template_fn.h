/*
 * template_fn: the encodings and digests of the template functions
 * base64(), base64decode(), hex(), urlencode(), md5() ... sha512() and
 * hmac() (docs/spec-reference.md#template-functions). template.c parses
 * the calls; this file only transforms bytes.
 *
 * Each transform works on the tail of a buffer: the caller renders the
 * arguments into out[from..len) and the transform replaces them with the
 * result, in place (encodings write from the back, decodings from the
 * front), so a request renders without a buffer of its own. Digests and
 * HMACs use OpenSSL's EVP API through contexts kept per thread and made
 * once: a worker's loop does not allocate per request for them.
 */
#ifndef VOLLEY_TEMPLATE_FN_H
#define VOLLEY_TEMPLATE_FN_H

#include <stddef.h>

#include "volley/plugin.h"

typedef enum tfn_kind {
    TFN_BASE64 = 0, TFN_BASE64_DECODE, TFN_HEX, TFN_URLENCODE, TFN_DIGEST, TFN_HMAC
} tfn_kind;

/* k6's encoding.b64encode names: std, rawstd (no padding), url, rawurl. */
typedef enum tfn_b64 { TFN_B64_STD = 0, TFN_B64_RAWSTD, TFN_B64_URL, TFN_B64_RAWURL } tfn_b64;

/* k6's crypto output encodings. */
typedef enum tfn_out {
    TFN_OUT_HEX = 0, TFN_OUT_BASE64, TFN_OUT_BASE64URL, TFN_OUT_BASE64RAWURL, TFN_OUT_BINARY
} tfn_out;

typedef enum tfn_alg {
    TFN_MD5 = 0, TFN_SHA1, TFN_SHA256, TFN_SHA384, TFN_SHA512, TFN_ALG__COUNT
} tfn_alg;

/* What a function name means: kind, and the digest of md5()...sha512().
 * -1 when the name is not one of them. */
int tfn_lookup(const char *name, tfn_kind *kind, tfn_alg *alg);
/* Parses an option argument (an encoding or an algorithm); -1 when it is
 * not one of the names, which tfn_*_names list for messages. */
int tfn_b64_parse(const char *s);
int tfn_out_parse(const char *s);
int tfn_alg_parse(const char *s);
#define TFN_B64_NAMES "std, rawstd, url or rawurl"
#define TFN_OUT_NAMES "hex, base64, base64url, base64rawurl or binary"
#define TFN_ALG_NAMES "md5, sha1, sha256, sha384 or sha512"

/* out[from..len) replaced by its encoding / decoding. 0, or -1 (out of
 * memory; for base64decode also input that is not base64 of that
 * alphabet, out left as it was). */
int tfn_base64_tail(volley_buf *out, size_t from, tfn_b64 v);
int tfn_base64_decode_tail(volley_buf *out, size_t from, tfn_b64 v);
int tfn_hex_tail(volley_buf *out, size_t from);
/* JavaScript's encodeURIComponent: all but A-Z a-z 0-9 - _ . ! ~ * ' ( )
 * as %XX of their UTF-8 bytes. */
int tfn_urlencode_tail(volley_buf *out, size_t from);
/* The digest of out[from..len), written in `enc`, in its place. */
int tfn_digest_tail(volley_buf *out, size_t from, tfn_alg alg, tfn_out enc);
/* HMAC with key out[from..mid) over out[mid..len), in their place. */
int tfn_hmac_tail(volley_buf *out, size_t from, size_t mid, tfn_alg alg, tfn_out enc);

#endif
