#include "secret.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* An immutable list of the forms to hide, longest first. A new value makes
 * a new snapshot; the old one stays (a reader may still walk it) and is
 * reachable through `prev`, as are the strings, which snapshots share. */
typedef struct secret_set {
    const struct secret_set *prev;
    size_t n;
    secret_val v[];
} secret_set;

static _Atomic(const secret_set *) current;

static const secret_set *snapshot(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

bool secret_any(void) { return snapshot() != NULL; }

static bool contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

bool secret_name(const char *name)
{
    return name && (contains_ci(name, "token") || contains_ci(name, "secret") ||
                    contains_ci(name, "password") || contains_ci(name, "key"));
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

static bool known(const secret_set *set, const char *s, size_t len)
{
    for (size_t i = 0; set && i < set->n; i++)
        if (set->v[i].len == len && memcmp(set->v[i].s, s, len) == 0)
            return true;
    return false;
}

/* Publishes a snapshot with `add` (n forms) in order, longest first. */
static void publish(const secret_val *add, size_t n)
{
    const secret_set *old = snapshot();
    size_t have = old ? old->n : 0;
    secret_set *set = malloc(sizeof *set + (have + n) * sizeof set->v[0]);
    if (!set)
        return;
    set->prev = old;
    set->n = 0;
    for (size_t i = 0; i < have; i++)
        set->v[set->n++] = old->v[i];
    for (size_t k = 0; k < n; k++) {
        if (known(set, add[k].s, add[k].len))
            continue;
        char *copy = malloc(add[k].len + 1);
        if (!copy)
            continue;
        memcpy(copy, add[k].s, add[k].len);
        copy[add[k].len] = '\0';
        size_t at = set->n;
        while (at > 0 && set->v[at - 1].len < add[k].len) {
            set->v[at] = set->v[at - 1];
            at--;
        }
        set->v[at] = (secret_val){copy, add[k].len};
        set->n++;
    }
    atomic_store_explicit(&current, set, memory_order_release);
}

void secret_add(const char *value, size_t len)
{
    if (!value || len == 0 || known(snapshot(), value, len))
        return;
    volley_buf forms[3] = {{0}};
    int rc = vbuf_append_json_escaped(&forms[0], value, len) |
             url_form(value, len, true, &forms[1]) | url_form(value, len, false, &forms[2]);
    secret_val add[4] = {{value, len}};
    size_t n = 1;
    for (size_t i = 0; rc == 0 && i < 3; i++)
        if (forms[i].len && !(forms[i].len == len && memcmp(forms[i].data, value, len) == 0))
            add[n++] = (secret_val){forms[i].data, forms[i].len};
    publish(add, n);
    for (size_t i = 0; i < 3; i++)
        vbuf_free(&forms[i]);
}

void secret_reset(void)
{
    const secret_set *set = atomic_exchange(&current, NULL);
    if (set)
        for (size_t i = 0; i < set->n; i++)
            free((char *)set->v[i].s);
    while (set) {
        const secret_set *prev = set->prev;
        free((secret_set *)set);
        set = prev;
    }
}

/* ---- redacting ---- */

/* The length of the secret that starts at text[i], or 0. */
static size_t match_at(const secret_set *set, const secret_val *more, size_t n_more,
                       const char *text, size_t len, size_t i)
{
    size_t best = 0;
    for (size_t k = 0; set && k < set->n; k++) {
        const secret_val *v = &set->v[k];
        if (v->len <= len - i && v->s[0] == text[i] && memcmp(v->s, text + i, v->len) == 0) {
            best = v->len;   /* longest first: the first match is the longest */
            break;
        }
    }
    for (size_t k = 0; k < n_more; k++) {
        const secret_val *v = &more[k];
        if (v->len > best && v->len <= len - i && v->s[0] == text[i] &&
            memcmp(v->s, text + i, v->len) == 0)
            best = v->len;
    }
    return best;
}

size_t secret_redact(const char *text, size_t len, const secret_val *more, size_t n_more,
                     char *out, size_t outcap)
{
    const secret_set *set = snapshot();
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        size_t m = match_at(set, more, n_more, text, len, i);
        const char *s = m ? SECRET_MASK : text + i;
        size_t n = m ? sizeof SECRET_MASK - 1 : 1;
        for (size_t k = 0; k < n; k++, w++)
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
    const secret_set *set = snapshot();
    if (!set && n_more == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (match_at(set, more, n_more, text, len, i))
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
