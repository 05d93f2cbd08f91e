#include "secret.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* The forms to hide, in chunks that never move. A writer (under `lock`)
 * fills the next slot, links a new chunk when one is full, then publishes
 * the count (release); a reader takes the count (acquire) and reads that
 * many slots, without a lock: what it reads was written before. Only
 * secret_reset (tests) ever frees. */
#define CHUNK 32
typedef struct chunk {
    _Atomic(struct chunk *) next;
    secret_val v[CHUNK];
} chunk;

static chunk head;
static _Atomic size_t count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t published(void) { return atomic_load_explicit(&count, memory_order_acquire); }

/* Slot i of n published ones; *c walks the chunks (start at &head, i = 0
 * and go up by one). */
static const secret_val *slot(const chunk **c, size_t i)
{
    if (i && i % CHUNK == 0)
        *c = atomic_load_explicit(&(*c)->next, memory_order_relaxed);
    return &(*c)->v[i % CHUNK];
}

bool secret_any(void) { return published() > 0; }

static bool contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

static bool ends_ci(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcasecmp(s + n - t, tail) == 0;
}

bool secret_name(const char *name)
{
    if (!name || ends_ci(name, "_port") || ends_ci(name, "_host") || ends_ci(name, "_url"))
        return false;   /* where a secret is served (TOKEN_PORT), not one */
    return contains_ci(name, "token") || contains_ci(name, "secret") ||
           contains_ci(name, "password") || contains_ci(name, "key");
}

bool secret_header(const char *name, size_t len)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
            return true;
    return false;
}

/* ---- registering ---- */

static bool query_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* s URL-encoded as Go's url.QueryEscape (space_plus) or with %20. */
static int url_form(const char *s, size_t len, bool space_plus, volley_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        int rc = query_safe(c)                ? vbuf_append(out, &s[i], 1)
                 : c == ' ' && space_plus     ? vbuf_append(out, "+", 1)
                                              : vbuf_append(out, enc, 3);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Under lock. */
static bool known(const char *s, size_t len)
{
    const chunk *c = &head;
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        const secret_val *v = slot(&c, i);
        if (v->len == len && memcmp(v->s, s, len) == 0)
            return true;
    }
    return false;
}

/* Under lock: one more form, published at once. */
static void append(const char *s, size_t len)
{
    if (known(s, len))
        return;
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    chunk *c = &head;
    for (size_t i = CHUNK; i <= n; i += CHUNK) {
        chunk *next = atomic_load_explicit(&c->next, memory_order_relaxed);
        if (!next) {
            if (!(next = calloc(1, sizeof *next)))
                return;
            atomic_store_explicit(&c->next, next, memory_order_relaxed);
        }
        c = next;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, s, len);
    copy[len] = '\0';
    c->v[n % CHUNK] = (secret_val){copy, len};
    atomic_store_explicit(&count, n + 1, memory_order_release);
}

void secret_add(const char *value, size_t len)
{
    if (!value || len == 0)
        return;
    pthread_mutex_lock(&lock);
    if (!known(value, len)) {
        volley_buf forms[3] = {{0}};
        int rc = vbuf_append_json_escaped(&forms[0], value, len) |
                 url_form(value, len, true, &forms[1]) | url_form(value, len, false, &forms[2]);
        append(value, len);
        for (size_t i = 0; rc == 0 && i < 3; i++)
            if (forms[i].len)
                append(forms[i].data, forms[i].len);
        for (size_t i = 0; i < 3; i++)
            vbuf_free(&forms[i]);
    }
    pthread_mutex_unlock(&lock);
}

void secret_reset(void)
{
    pthread_mutex_lock(&lock);
    const chunk *c = &head;
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        free((char *)slot(&c, i)->s);
    chunk *next = atomic_load_explicit(&head.next, memory_order_relaxed);
    while (next) {
        chunk *after = atomic_load_explicit(&next->next, memory_order_relaxed);
        free(next);
        next = after;
    }
    atomic_store_explicit(&head.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&count, 0, memory_order_release);
    pthread_mutex_unlock(&lock);
}

/* ---- redacting ---- */

/* The length of the longest secret (of the n published, or of `more`)
 * that starts at text[i], or 0. */
static size_t match_at(size_t n, const secret_val *more, size_t n_more, const char *text,
                       size_t len, size_t i)
{
    size_t best = 0;
    const chunk *c = &head;
    for (size_t k = 0; k < n + n_more; k++) {
        const secret_val *v = k < n ? slot(&c, k) : &more[k - n];
        if (v->len > best && v->len <= len - i && v->s[0] == text[i] &&
            memcmp(v->s, text + i, v->len) == 0)
            best = v->len;
    }
    return best;
}

size_t secret_redact(const char *text, size_t len, const secret_val *more, size_t n_more,
                     char *out, size_t outcap)
{
    size_t n = published(), w = 0;
    for (size_t i = 0; i < len;) {
        size_t m = n + n_more ? match_at(n, more, n_more, text, len, i) : 0;
        const char *s = m ? SECRET_MASK : text + i;
        size_t put = m ? sizeof SECRET_MASK - 1 : 1;
        for (size_t k = 0; k < put; k++, w++)
            if (w + 1 < outcap)
                out[w] = s[k];
        i += m ? m : 1;
    }
    if (outcap)
        out[w < outcap ? w : outcap - 1] = '\0';
    return w;
}

size_t secret_host_redact(const char *header, const char *text, size_t len, char *out,
                          size_t outcap)
{
    if (header && secret_header(header, strlen(header))) {
        if (outcap)
            snprintf(out, outcap, "%s", SECRET_MASK);
        return sizeof SECRET_MASK - 1;
    }
    if (!text)
        text = "", len = 0;
    return secret_redact(text, len, NULL, 0, out, outcap);
}

static bool holds_secret(const char *text, size_t len, const secret_val *more, size_t n_more)
{
    size_t n = published();
    if (n + n_more == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (match_at(n, more, n_more, text, len, i))
            return true;
    return false;
}

void secret_redact_in(char *buf, size_t cap, const secret_val *more, size_t n_more)
{
    if (!buf || cap == 0)
        return;
    size_t len = strnlen(buf, cap);
    if (!holds_secret(buf, len, more, n_more))
        return;
    char small[1024];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy) {
        /* Out of memory: hide the whole text rather than show a secret. */
        snprintf(buf, cap, "%s", SECRET_MASK);
        return;
    }
    memcpy(copy, buf, len);
    secret_redact(copy, len, more, n_more, buf, cap);
    if (copy != small)
        free(copy);
}

const char *secret_redact_keep(arena *a, const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text);
    if (!holds_secret(text, len, NULL, 0))
        return text;
    size_t n = secret_redact(text, len, NULL, 0, NULL, 0);
    char *out = arena_alloc(a, n + 1);
    if (out)
        secret_redact(text, len, NULL, 0, out, n + 1);
    return out;
}

int secret_fputs(const char *text, FILE *f)
{
    size_t len = strlen(text);
    if (!holds_secret(text, len, NULL, 0))
        return fputs(text, f);
    size_t n = secret_redact(text, len, NULL, 0, NULL, 0);
    char *out = malloc(n + 1);
    if (!out)
        return fputs(SECRET_MASK, f);   /* rather than the secret */
    secret_redact(text, len, NULL, 0, out, n + 1);
    int rc = fputs(out, f);
    free(out);
    return rc;
}

int secret_fprintf(FILE *f, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    char *text = small;
    if ((size_t)n >= sizeof small) {
        if (!(text = malloc((size_t)n + 1)))
            return -1;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int rc = secret_fputs(text, f);
    if (text != small)
        free(text);
    return rc;
}
