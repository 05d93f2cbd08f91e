#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define MAX_ERRORS 10
#define NAME_SLOTS 2048u            /* power of two, over 2 x POOL_MAX_FIELDS */
#define STORE_CHUNK (1u << 20)

/* ------------------------------------------------------------------ */
/* the loader: errors, field names, the byte store                     */

/* Text of every cell goes into arena chunks handed out byte-exact (no
 * per-value alignment); the cells themselves are one array. */
typedef struct loader {
    arena *a;
    diag *d;
    const char *file;       /* data file name for locations */
    const char *key;        /* key path for messages */
    size_t errors;
    bool fatal;             /* stop: nothing after this can be trusted */
    char *store;
    size_t left;
    volley_buf scratch;     /* JSON values re-serialized before storing */
    size_t n_fields;
    const char *fields[POOL_MAX_FIELDS];
    size_t field_len[POOL_MAX_FIELDS];
    uint16_t slots[NAME_SLOTS];   /* field index + 1, 0 = free */
} loader;

static loader *loader_new(arena *a, diag *d, const char *file, const char *key)
{
    loader *l = calloc(1, sizeof *l);
    if (!l) {
        diag_error(d, NULL, 0, 0, "%s: out of memory", key ? key : "pool");
        return NULL;
    }
    l->a = a;
    l->d = d;
    l->file = file;
    l->key = key ? key : "pool";
    return l;
}

static void loader_free(loader *l)
{
    if (l)
        vbuf_free(&l->scratch);
    free(l);
}

static bool stopped(const loader *l) { return l->fatal || l->errors >= MAX_ERRORS; }

/* "FILE:LINE:COL: error: KEY[SUB]: msg"; after MAX_ERRORS a last line says
 * the rest of the source was not checked. */
static void verr(loader *l, const char *file, unsigned line, unsigned col, const char *sub,
                 const char *fmt, va_list ap)
{
    char msg[900];
    if (stopped(l))
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    diag_error(l->d, file, line, col, "%s%s: %s", l->key, sub ? sub : "", msg);
    if (++l->errors == MAX_ERRORS)
        diag_error(l->d, file, line, col, "%s: stopping after %d errors", l->key, MAX_ERRORS);
}

static void err_at(loader *l, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(loader *l, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(l, l->file, line, col, NULL, fmt, ap);
    va_end(ap);
}

/* At a YAML node; sub extends the key path ("[3].address"). */
static void err_node(loader *l, const ynode *n, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_node(loader *l, const ynode *n, const char *sub, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(l, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, sub, fmt, ap);
    va_end(ap);
}

static void out_of_memory(loader *l)
{
    if (!l->fatal)
        diag_error(l->d, l->file, 1, 1, "%s: out of memory", l->key);
    l->errors++;
    l->fatal = true;
}

/* Line and column (in characters) of pos; a line ends at \n, or also at a
 * lone \r when cr_ends_line (CSV). */
static void locate(const char *start, const char *end, const char *pos, bool cr_ends_line,
                   unsigned *line, unsigned *col)
{
    unsigned ln = 1;
    const char *bol = start;
    for (const char *p = start; p < pos; p++) {
        if (*p == '\n' || (*p == '\r' && cr_ends_line && !(p + 1 < end && p[1] == '\n'))) {
            ln++;
            bol = p + 1;
        }
    }
    unsigned c = 1;
    for (const char *p = bol; p < pos; p++)
        c += ((unsigned char)*p & 0xC0) != 0x80;
    *line = ln;
    *col = c;
}

static char *take(loader *l, size_t n)
{
    if (n > l->left) {
        /* A big value gets its own block so the chunk's rest stays usable. */
        if (n > STORE_CHUNK / 8) {
            char *p = arena_alloc(l->a, n);
            if (!p)
                out_of_memory(l);
            return p;
        }
        char *c = arena_alloc(l->a, STORE_CHUNK);
        if (!c) {
            out_of_memory(l);
            return NULL;
        }
        l->store = c;
        l->left = STORE_CHUNK;
    }
    char *p = l->store;
    l->store += n;
    l->left -= n;
    return p;
}

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Index of the field named s[0..n), or -1. *slot is where it would go. */
static int field_find(const loader *l, const char *s, size_t n, uint32_t *slot)
{
    for (uint32_t i = name_hash(s, n) & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
        unsigned k = l->slots[i];
        if (!k) {
            if (slot)
                *slot = i;
            return -1;
        }
        if (l->field_len[k - 1] == n && memcmp(l->fields[k - 1], s, n) == 0)
            return (int)k - 1;
    }
}

/* Adds a name that field_find did not find; -1 when there are already
 * POOL_MAX_FIELDS (no message) or on out-of-memory (reported). */
static int field_add(loader *l, const char *s, size_t n, uint32_t slot)
{
    if (l->n_fields == POOL_MAX_FIELDS)
        return -1;
    char *name = take(l, n + 1);
    if (!name)
        return -1;
    memcpy(name, s, n);
    name[n] = '\0';
    l->fields[l->n_fields] = name;
    l->field_len[l->n_fields] = n;
    l->slots[slot] = (uint16_t)(l->n_fields + 1);
    return (int)l->n_fields++;
}

/* The table from the loader's fields and filled cells. */
static int finish(loader *l, pool_value *cells, size_t n_rows, pool_table *out)
{
    const char **fields = arena_alloc(l->a, l->n_fields * sizeof *fields);
    if (!fields) {
        out_of_memory(l);
        return -1;
    }
    memcpy(fields, l->fields, l->n_fields * sizeof *fields);
    *out = (pool_table){.n_fields = l->n_fields, .fields = fields, .n_rows = n_rows,
                        .cells = cells};
    return 0;
}

/* Every cell of a rows x fields table, POOL_NULL until filled when `nulls`
 * (rows may lack keys), else left for the caller to fill; NULL (with the
 * error reported at line:col) when over POOL_MAX_CELLS or out of memory. */
static pool_value *new_cells(loader *l, size_t n_rows, bool nulls, unsigned line, unsigned col)
{
    size_t nf = l->n_fields;
    if (n_rows > POOL_MAX_CELLS / nf) {
        err_at(l, line, col, "%zu rows of %zu fields are more than %u values", n_rows, nf,
               POOL_MAX_CELLS);
        return NULL;
    }
    pool_value *cells = arena_alloc(l->a, n_rows * nf * sizeof *cells);
    if (!cells) {
        out_of_memory(l);
        return NULL;
    }
    for (size_t i = 0; nulls && i < n_rows * nf; i++)
        cells[i] = (pool_value){"null", 4, POOL_NULL, "null", 4};
    return cells;
}

/* ------------------------------------------------------------------ */
/* cells                                                               */

/* Bytes a JSON string escape adds for c: \" \\ \n \r \t, other control
 * characters as \u00XX (the same form as vbuf_append_json_escaped). */
static size_t escape_extra(unsigned char c)
{
    if (c == '"' || c == '\\')
        return 1;
    if (c >= 0x20)
        return 0;
    return c == '\n' || c == '\r' || c == '\t' ? 1 : 5;
}

/* A string cell for text[0..n), already NUL-terminated in the store. */
static void set_string(loader *l, pool_value *v, const char *text, size_t n)
{
    if (n == 0) {
        *v = (pool_value){"", 0, POOL_STRING, "\"\"", 2};
        return;
    }
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += escape_extra((unsigned char)text[i]);
    char *j = take(l, n + extra + 3);
    if (!j)
        return;
    j[0] = '"';
    if (extra)
        json_escape_into(j + 1, text, n);
    else
        memcpy(j + 1, text, n);
    j[n + extra + 1] = '"';
    j[n + extra + 2] = '\0';
    *v = (pool_value){text, n, POOL_STRING, j, n + extra + 2};
}

static void set_string_copy(loader *l, pool_value *v, const char *s, size_t n)
{
    char *t = n ? take(l, n + 1) : NULL;
    if (n && !t)
        return;
    if (t) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    set_string(l, v, n ? t : "", n);
}

/* Numbers and JSON text: the same bytes are text and json. */
static void set_literal(loader *l, pool_value *v, pool_kind kind, const char *s, size_t n)
{
    char *t = take(l, n + 1);
    if (!t)
        return;
    memcpy(t, s, n);
    t[n] = '\0';
    *v = (pool_value){t, n, kind, t, n};
}

static void set_bool(pool_value *v, bool b)
{
    *v = b ? (pool_value){"true", 4, POOL_BOOL, "true", 4}
           : (pool_value){"false", 5, POOL_BOOL, "false", 5};
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */

typedef struct csv {
    const char *start, *p, *end;
    unsigned line;
    const char *bol;        /* first byte of the current line */
} csv;

typedef struct csv_field {
    const char *at;         /* first byte: the opening quote when quoted */
    unsigned line;
    const char *bol;
    const char *s;          /* content (inside the quotes) */
    size_t n;               /* bytes of content, "" counted as two */
    size_t len;             /* bytes once "" became " */
    bool quoted;
    const char *junk;       /* text after the closing quote, or NULL */
} csv_field;

enum { CSV_COMMA, CSV_EOL, CSV_UNTERMINATED };

static unsigned csv_col(const char *bol, const char *at)
{
    unsigned c = 1;
    for (const char *p = bol; p < at; p++)
        c += ((unsigned char)*p & 0xC0) != 0x80;
    return c;
}

static bool csv_stop(char c) { return c == ',' || c == '\n' || c == '\r'; }

/* Past one line end: \r\n, \n or a lone \r. */
static void csv_newline(csv *c)
{
    if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        c->p += 2;
    else
        c->p++;
    c->line++;
    c->bol = c->p;
}

static void csv_skip_blank(csv *c)
{
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r'))
        csv_newline(c);
}

static int csv_after(csv *c)
{
    if (c->p == c->end)
        return CSV_EOL;
    if (*c->p == ',') {
        c->p++;
        return CSV_COMMA;
    }
    csv_newline(c);
    return CSV_EOL;
}

/* One field and what ends it. A quote only opens a quoted field as the
 * field's first byte; elsewhere it is data, as spreadsheets read it. */
static int csv_read(csv *c, csv_field *f)
{
    const char *p = c->p, *end = c->end;
    f->at = p;
    f->line = c->line;
    f->bol = c->bol;
    f->junk = NULL;
    f->quoted = p < end && *p == '"';
    if (!f->quoted) {
        while (p < end && !csv_stop(*p))
            p++;
        f->s = c->p;
        f->n = f->len = (size_t)(p - c->p);
        c->p = p;
        return csv_after(c);
    }
    size_t pairs = 0;
    f->s = ++p;
    for (;;) {
        while (p < end && *p != '"' && *p != '\n' && *p != '\r')
            p++;
        if (p == end)
            return CSV_UNTERMINATED;
        if (*p == '"') {
            if (p + 1 < end && p[1] == '"') {
                pairs++;
                p += 2;
                continue;
            }
            break;
        }
        c->p = p;
        csv_newline(c);
        p = c->p;
    }
    f->n = (size_t)(p - f->s);
    f->len = f->n - pairs;
    c->p = p + 1;
    if (c->p < end && !csv_stop(*c->p)) {
        f->junk = c->p;
        while (c->p < end && !csv_stop(*c->p))
            c->p++;
    }
    return csv_after(c);
}

static void csv_err(loader *l, const csv_field *f, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void csv_err(loader *l, const csv_field *f, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(l, l->file, f->line, csv_col(f->bol, at), NULL, fmt, ap);
    va_end(ap);
}

static void unquote(char *o, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *q = memchr(s, '"', (size_t)(end - s));
        size_t k = q ? (size_t)(q - s) + 1 : (size_t)(end - s);
        memcpy(o, s, k);
        o += k;
        s += k + (q != NULL);
    }
}

static bool bool_word(const char *s, size_t n, bool *b)
{
    if ((n == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "TRUE", 4) == 0)))
        *b = true;
    else if (n == 5 && (memcmp(s, "false", 5) == 0 || memcmp(s, "FALSE", 5) == 0))
        *b = false;
    else
        return false;
    return true;
}

static void csv_cell(loader *l, pool_value *v, const csv_field *f)
{
    bool b;
    if (!f->quoted) {
        if (json_number_text(f->s, f->n))
            set_literal(l, v, POOL_NUMBER, f->s, f->n);
        else if (bool_word(f->s, f->n, &b))
            set_bool(v, b);
        else
            set_string_copy(l, v, f->s, f->n);
        return;
    }
    if (f->len == f->n) {
        set_string_copy(l, v, f->s, f->n);
        return;
    }
    char *t = take(l, f->len + 1);
    if (!t)
        return;
    unquote(t, f->s, f->n);
    t[f->len] = '\0';
    set_string(l, v, t, f->len);
}

/* The first byte that is not UTF-8 text (invalid, or NUL), or NULL. */
static const char *bad_utf8(const char *s, const char *end)
{
    const unsigned char *p = (const unsigned char *)s, *e = (const unsigned char *)end;
    while (p < e) {
        if (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t zero = (w - 0x0101010101010101u) & ~w & 0x8080808080808080u;
            if (!((w & 0x8080808080808080u) | zero)) {
                p += 8;
                continue;
            }
        }
        unsigned c = *p;
        if (c == 0)
            return (const char *)p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;      /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;      /* nothing over U+10FFFF */
        } else
            return (const char *)p;
        if ((size_t)(e - p) <= need || p[1] < lo || p[1] > hi)
            return (const char *)p;
        for (size_t i = 2; i <= need; i++)
            if ((p[i] & 0xC0) != 0x80)
                return (const char *)p;
        p += need + 1;
    }
    return NULL;
}

static void csv_header(loader *l, csv *c)
{
    csv_field f;
    int r;
    size_t i = 0;
    do {
        r = csv_read(c, &f);
        i++;
        if (r == CSV_UNTERMINATED) {
            csv_err(l, &f, f.at, "unterminated quoted field; expected a closing '\"'");
            l->fatal = true;
            return;
        }
        if (f.junk)
            csv_err(l, &f, f.junk, "expected ',' or end of line after the closing quote");
        if (f.len == 0) {
            csv_err(l, &f, f.at, "header field %zu is empty; expected a field name", i);
            continue;
        }
        char *name = take(l, f.len + 1);
        if (!name)
            return;
        unquote(name, f.s, f.n);
        name[f.len] = '\0';
        uint32_t slot;
        int dup = field_find(l, name, f.len, &slot);
        if (dup >= 0) {
            csv_err(l, &f, f.at, "duplicate field name \"%.64s\" (already field %d); expected "
                    "unique names", name, dup + 1);
        } else if (field_add(l, name, f.len, slot) < 0 && !l->fatal) {
            csv_err(l, &f, f.at, "more than %u fields in the header", POOL_MAX_FIELDS);
            l->fatal = true;
            return;
        }
    } while (r == CSV_COMMA);
}

/* The data rows after the header. Without cells: checks them and counts
 * them. With cells (a second pass over checked input): fills them. */
static size_t csv_rows(loader *l, csv *c, size_t nf, pool_value *cells)
{
    size_t row = 0;
    for (;;) {
        csv_skip_blank(c);
        if (c->p == c->end || stopped(l))
            return row;
        if (row == POOL_MAX_ROWS) {
            err_at(l, c->line, 1, "more than %u rows", POOL_MAX_ROWS);
            l->fatal = true;
            return row;
        }
        unsigned row_line = c->line;
        const char *extra = NULL, *extra_bol = NULL;
        unsigned extra_line = 0;
        size_t i = 0;
        csv_field f;
        int r;
        do {
            r = csv_read(c, &f);
            if (r == CSV_UNTERMINATED) {
                csv_err(l, &f, f.at, "unterminated quoted field; expected a closing '\"'");
                l->fatal = true;
                return row;
            }
            if (cells) {
                csv_cell(l, &cells[row * nf + i], &f);
            } else {
                if (f.junk)
                    csv_err(l, &f, f.junk, "expected ',' or end of line after the closing quote");
                if (f.len > POOL_MAX_VALUE)
                    csv_err(l, &f, f.at, "value of %zu bytes is longer than the limit of 1 MiB",
                            f.len);
                if (i == nf) {
                    extra = f.at;
                    extra_bol = f.bol;
                    extra_line = f.line;
                }
            }
            i++;
        } while (r == CSV_COMMA && (cells == NULL || i < nf));
        if (!cells && i < nf)
            err_at(l, row_line, 1, "expected %zu fields, found %zu", nf, i);
        else if (!cells && i > nf)
            err_at(l, extra_line, csv_col(extra_bol, extra), "expected %zu fields, found %zu",
                   nf, i);
        row++;
    }
}

static int csv_load(loader *l, const char *data, size_t len, pool_table *out)
{
    unsigned line, col;
    const char *bad = bad_utf8(data, data + len);
    if (bad) {
        locate(data, data + len, bad, true, &line, &col);
        if (*bad)
            err_at(l, line, col, "invalid UTF-8 byte 0x%02x; expected UTF-8 text",
                   (unsigned char)*bad);
        else
            err_at(l, line, col, "NUL byte; expected text");
        return -1;
    }
    csv c = {data, data, data + len, 1, data};
    csv_skip_blank(&c);
    if (c.p == c.end) {
        err_at(l, c.line, 1, "expected a header row naming the fields");
        return -1;
    }
    csv_header(l, &c);
    if (l->errors)      /* rows are not checked against a broken header */
        return -1;
    csv body = c;
    size_t n_rows = csv_rows(l, &c, l->n_fields, NULL);
    if (l->errors)
        return -1;
    if (n_rows == 0) {
        err_at(l, c.line, csv_col(c.bol, c.p), "expected at least one row after the header");
        return -1;
    }
    pool_value *cells = new_cells(l, n_rows, false, body.line, 1);
    if (!cells)
        return -1;
    csv_rows(l, &body, l->n_fields, cells);
    if (l->errors)
        return -1;
    return finish(l, cells, n_rows, out);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/* jansson checks the document and decodes strings but keeps numbers only
 * as doubles. To keep each number as written, and to have a location for
 * every value, a scanner walks the same text alongside the tree: it yields
 * values in document order, which is the order of json arrays and (with
 * duplicate keys rejected) of jansson's objects. */
typedef enum jtok_kind { JT_END, JT_STRING, JT_NUMBER, JT_WORD, JT_ARRAY, JT_OBJECT } jtok_kind;

typedef struct jtok {
    jtok_kind kind;
    const char *s;
    size_t n;
} jtok;

typedef struct jscan {
    const char *start, *p, *end;
} jscan;

static bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool json_punct(char c) { return c == ',' || c == ':' || c == ']' || c == '}'; }

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* The next value (keys, commas, colons and closing brackets skipped). */
static jtok jnext(jscan *s)
{
    for (;;) {
        while (s->p < s->end && (json_ws(*s->p) || json_punct(*s->p)))
            s->p++;
        if (s->p >= s->end)
            return (jtok){JT_END, s->p, 0};
        const char *at = s->p;
        if (*at == '"') {
            s->p = skip_string(at, s->end);
            const char *q = s->p;
            while (q < s->end && json_ws(*q))
                q++;
            if (q < s->end && *q == ':') {
                s->p = q + 1;   /* that was a key */
                continue;
            }
            return (jtok){JT_STRING, at, (size_t)(s->p - at)};
        }
        if (*at == '[' || *at == '{') {
            s->p++;
            return (jtok){*at == '[' ? JT_ARRAY : JT_OBJECT, at, 1};
        }
        while (s->p < s->end && !json_ws(*s->p) && !json_punct(*s->p))
            s->p++;
        bool num = *at == '-' || (*at >= '0' && *at <= '9');
        return (jtok){num ? JT_NUMBER : JT_WORD, at, (size_t)(s->p - at)};
    }
}

/* Past the rest of a value whose first token was t. */
static void jskip(jscan *s, jtok t)
{
    if (t.kind != JT_ARRAY && t.kind != JT_OBJECT)
        return;
    int depth = 1;
    while (depth > 0 && s->p < s->end) {
        char c = *s->p;
        if (c == '"') {
            s->p = skip_string(s->p, s->end);
            continue;
        }
        if (c == '[' || c == '{')
            depth++;
        else if (c == ']' || c == '}')
            depth--;
        s->p++;
    }
}

static bool tok_is(jtok t, const char *word)
{
    return t.kind == JT_WORD && t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

static bool tok_fits(const json_t *j, jtok t)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return t.kind == JT_OBJECT;
    case JSON_ARRAY: return t.kind == JT_ARRAY;
    case JSON_STRING: return t.kind == JT_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return t.kind == JT_NUMBER && json_number_text(t.s, t.n);
    case JSON_TRUE: return tok_is(t, "true");
    case JSON_FALSE: return tok_is(t, "false");
    default: return tok_is(t, "null");
    }
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_NULL: return "null";
    default: return "boolean";
    }
}

static void err_tok(loader *l, const jscan *s, jtok t, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_tok(loader *l, const jscan *s, jtok t, const char *fmt, ...)
{
    unsigned line, col;
    locate(s->start, s->end, t.s, false, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    verr(l, l->file, line, col, NULL, fmt, ap);
    va_end(ap);
}

static bool in_step(loader *l, const jscan *s, const json_t *j, jtok t)
{
    if (tok_fits(j, t))
        return true;
    err_tok(l, s, t, "internal error: the JSON scanner is out of step with jansson");
    l->fatal = true;
    return false;
}

/* Compact JSON of j (whose token t was just read) into b; numbers as
 * written. Consumes the tokens of everything inside j. */
static int json_write(loader *l, volley_buf *b, const json_t *j, jtok t, jscan *s)
{
    const char *key;
    json_t *v;
    size_t i;
    int rc = 0;
    switch (json_typeof(j)) {
    case JSON_ARRAY:
        rc |= vbuf_append(b, "[", 1);
        json_array_foreach(j, i, v) {
            jtok vt = jnext(s);
            if (!in_step(l, s, v, vt))
                return -1;
            rc |= i ? vbuf_append(b, ",", 1) : 0;
            rc |= json_write(l, b, v, vt, s);
        }
        return rc | vbuf_append(b, "]", 1);
    case JSON_OBJECT:
        rc |= vbuf_append(b, "{", 1);
        i = 0;
        json_object_foreach((json_t *)j, key, v) {
            jtok vt = jnext(s);
            if (!in_step(l, s, v, vt))
                return -1;
            rc |= i++ ? vbuf_append(b, ",\"", 2) : vbuf_append(b, "\"", 1);
            rc |= vbuf_append_json_escaped(b, key, strlen(key));
            rc |= vbuf_append(b, "\":", 2);
            rc |= json_write(l, b, v, vt, s);
        }
        return rc | vbuf_append(b, "}", 1);
    case JSON_STRING:
        rc |= vbuf_append(b, "\"", 1);
        rc |= vbuf_append_json_escaped(b, json_string_value(j), json_string_length(j));
        return rc | vbuf_append(b, "\"", 1);
    default:
        return vbuf_append(b, t.s, t.n);
    }
}

static void json_cell(loader *l, pool_value *v, const json_t *j, jtok t, jscan *s,
                      size_t row, const char *key)
{
    if (!in_step(l, s, j, t))
        return;
    size_t n;
    switch (json_typeof(j)) {
    case JSON_STRING:
        n = json_string_length(j);
        if (n > POOL_MAX_VALUE)
            break;
        set_string_copy(l, v, json_string_value(j), n);
        return;
    case JSON_INTEGER:
    case JSON_REAL:
        n = t.n;
        if (n > POOL_MAX_VALUE)
            break;
        set_literal(l, v, POOL_NUMBER, t.s, t.n);
        return;
    case JSON_TRUE:
    case JSON_FALSE:
        set_bool(v, json_is_true(j));
        return;
    case JSON_NULL:
        return;     /* cells start as null */
    default:
        l->scratch.len = 0;
        if (json_write(l, &l->scratch, j, t, s) != 0) {
            if (!l->fatal)
                out_of_memory(l);
            return;
        }
        n = l->scratch.len;
        if (n > POOL_MAX_VALUE)
            break;
        set_literal(l, v, POOL_JSON, l->scratch.data, n);
        return;
    }
    err_tok(l, s, t, "rows[%zu].%.64s: value of %zu bytes is longer than the limit of 1 MiB",
            row, key, n);
}

static void json_parse_error(loader *l, const json_error_t *e)
{
    const char *text = e->text;
    if (strstr(text, "JSON_ALLOW_NUL"))
        text = "\\u0000 is not allowed in strings";
    err_at(l, e->line > 0 ? (unsigned)e->line : 1, e->column > 0 ? (unsigned)e->column : 1,
           "invalid JSON: %s", text);
}

/* Pass 1: the field names (union of keys in first-seen order) and the
 * shape of every row. */
static void json_fields(loader *l, const json_t *root, jscan *s)
{
    const char *key;
    json_t *v;
    for (size_t i = 0; i < json_array_size(root) && !stopped(l); i++) {
        const json_t *row = json_array_get(root, i);
        jtok t = jnext(s);
        if (!in_step(l, s, row, t))
            return;
        if (!json_is_object(row))
            err_tok(l, s, t, "rows[%zu]: expected an object, got %s", i, json_kind(row));
        json_object_foreach((json_t *)row, key, v) {
            size_t n = strlen(key);
            uint32_t slot;
            if (n == 0) {
                err_tok(l, s, t, "rows[%zu]: empty key; expected a field name", i);
            } else if (field_find(l, key, n, &slot) < 0 && field_add(l, key, n, slot) < 0) {
                if (!l->fatal)
                    err_tok(l, s, t, "rows[%zu]: more than %u fields", i, POOL_MAX_FIELDS);
                l->fatal = true;
                return;
            }
        }
        jskip(s, t);
    }
}

static int json_load(loader *l, const char *data, size_t len, pool_table *out)
{
    json_error_t e;
    int rc = -1;
    /* jansson takes a NUL after a number as the number's end */
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        unsigned line, col;
        locate(data, data + len, nul, false, &line, &col);
        err_at(l, line, col, "NUL byte; expected JSON text");
        return -1;
    }
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
                              JSON_DECODE_INT_AS_REAL, &e);
    if (!root) {
        json_parse_error(l, &e);
        return -1;
    }
    jscan s = {data, data, data + len};
    jtok top = jnext(&s);
    size_t n_rows = json_is_array(root) ? json_array_size(root) : 0;
    if (!json_is_array(root)) {
        err_tok(l, &s, top, "expected an array of objects, got %s", json_kind(root));
        goto done;
    }
    if (n_rows == 0) {
        err_tok(l, &s, top, "expected at least one row");
        goto done;
    }
    if (n_rows > POOL_MAX_ROWS) {
        err_tok(l, &s, top, "%zu rows are more than the limit of %u", n_rows, POOL_MAX_ROWS);
        goto done;
    }
    json_fields(l, root, &s);
    if (l->errors)
        goto done;
    if (l->n_fields == 0) {
        err_tok(l, &s, top, "expected at least one field; every row is an empty object");
        goto done;
    }
    unsigned line, col;
    locate(data, data + len, top.s, false, &line, &col);
    pool_value *cells = new_cells(l, n_rows, true, line, col);
    if (!cells)
        goto done;
    s.p = top.s + 1;
    for (size_t i = 0; i < n_rows && !stopped(l); i++) {
        const json_t *row = json_array_get(root, i);
        const char *key;
        json_t *v;
        jnext(&s);
        json_object_foreach((json_t *)row, key, v) {
            int f = field_find(l, key, strlen(key), NULL);
            json_cell(l, &cells[i * l->n_fields + (size_t)f], v, jnext(&s), &s, i, key);
        }
    }
    if (!l->errors)
        rc = finish(l, cells, n_rows, out);
done:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* inline YAML rows                                                    */

static bool has_nul(const ynode *n) { return memchr(n->str, '\0', n->len) != NULL; }

/* A plain scalar typed like a JSON body value in the spec (template.c):
 * null, booleans, integers, finite floats; everything else a string. */
static void yaml_cell(loader *l, pool_value *v, const ynode *n)
{
    bool b;
    int64_t i;
    double x;
    char num[40];
    if (!n->plain) {
        set_string_copy(l, v, n->str, n->len);
    } else if (ynode_is_null(n)) {
        /* cells start as null */
    } else if (ynode_bool(n, &b)) {
        set_bool(v, b);
    } else if (json_number_text(n->str, n->len)) {
        set_literal(l, v, POOL_NUMBER, n->str, n->len);
    } else if (ynode_int(n, &i)) {
        snprintf(num, sizeof num, "%lld", (long long)i);
        set_literal(l, v, POOL_NUMBER, num, strlen(num));
    } else if (ynode_double(n, &x) && isfinite(x)) {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, x);
            if (strtod(num, NULL) == x)
                break;
        }
        set_literal(l, v, POOL_NUMBER, num, strlen(num));
    } else {
        set_string_copy(l, v, n->str, n->len);
    }
}

static void yaml_fields(loader *l, const ynode *rows)
{
    char sub[100];
    for (size_t i = 0; i < rows->n_items && !stopped(l); i++) {
        const ynode *row = rows->items[i];
        snprintf(sub, sizeof sub, "[%zu]", i);
        if (row->kind != YNODE_MAP) {
            err_node(l, row, sub, "expected a mapping of field names to values, got %s",
                     ynode_kind_name(row));
            continue;
        }
        for (size_t k = 0; k < row->n_pairs; k++) {
            const ynode *key = row->pairs[k].key, *v = row->pairs[k].value;
            uint32_t slot;
            snprintf(sub, sizeof sub, "[%zu]", i);
            if (key->len == 0 || has_nul(key)) {
                err_node(l, key, sub, "%s key; expected a field name",
                         key->len ? "NUL in a" : "empty");
                continue;
            }
            if (field_find(l, key->str, key->len, &slot) < 0 &&
                field_add(l, key->str, key->len, slot) < 0) {
                if (!l->fatal)
                    err_node(l, key, sub, "more than %u fields", POOL_MAX_FIELDS);
                l->fatal = true;
                return;
            }
            snprintf(sub, sizeof sub, "[%zu].%.64s", i, key->str);
            if (v->kind != YNODE_SCALAR)
                err_node(l, v, sub, "expected a string, number, boolean or null, got %s "
                         "(nested values need a JSON data file)", ynode_kind_name(v));
            else if (has_nul(v))
                err_node(l, v, sub, "NUL character; expected text");
            else if (v->len > POOL_MAX_VALUE)
                err_node(l, v, sub, "value of %zu bytes is longer than the limit of 1 MiB",
                         v->len);
        }
    }
}

int pool_from_yaml(arena *a, const ynode *rows, pool_table *out, diag *d, const char *key_path)
{
    loader *l = loader_new(a, d, rows ? rows->file : NULL, key_path);
    int rc = -1;
    if (!l)
        return -1;
    if (!rows || rows->kind != YNODE_SEQ) {
        err_node(l, rows, NULL, "expected a sequence of rows (mappings), got %s",
                 ynode_kind_name(rows));
        goto done;
    }
    if (rows->n_items == 0) {
        err_node(l, rows, NULL, "expected at least one row");
        goto done;
    }
    if (rows->n_items > POOL_MAX_ROWS) {
        err_node(l, rows, NULL, "%zu rows are more than the limit of %u", rows->n_items,
                 POOL_MAX_ROWS);
        goto done;
    }
    yaml_fields(l, rows);
    if (l->errors)
        goto done;
    if (l->n_fields == 0) {
        err_node(l, rows, NULL, "expected at least one field; every row is empty");
        goto done;
    }
    pool_value *cells = new_cells(l, rows->n_items, true, rows->line, rows->col);
    if (!cells)
        goto done;
    for (size_t i = 0; i < rows->n_items; i++) {
        const ynode *row = rows->items[i];
        for (size_t k = 0; k < row->n_pairs; k++) {
            const ynode *key = row->pairs[k].key;
            int f = field_find(l, key->str, key->len, NULL);
            yaml_cell(l, &cells[i * l->n_fields + (size_t)f], row->pairs[k].value);
        }
    }
    if (!l->errors)
        rc = finish(l, cells, rows->n_items, out);
done:
    if (rc != 0)
        memset(out, 0, sizeof *out);
    loader_free(l);
    return rc;
}

/* ------------------------------------------------------------------ */
/* files and buffers                                                   */

int pool_load_buffer(arena *a, const char *name, const char *data, size_t len,
                     pool_format format, pool_table *out, diag *d, const char *key_path)
{
    loader *l = loader_new(a, d, name, key_path);
    int rc = -1;
    if (!l)
        return -1;
    if (len > POOL_MAX_BYTES) {
        err_at(l, 1, 1, "%zu bytes are more than the limit of 64 MiB", len);
    } else {
        if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3;
            len -= 3;
        }
        rc = format == POOL_FORMAT_JSON ? json_load(l, data, len, out)
                                         : csv_load(l, data, len, out);
    }
    if (rc != 0)
        memset(out, 0, sizeof *out);
    loader_free(l);
    return rc;
}

static pool_format format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    if (strcasecmp(dot, ".csv") == 0)
        return POOL_FORMAT_CSV;
    if (strcasecmp(dot, ".json") == 0)
        return POOL_FORMAT_JSON;
    return 0;
}

/* The whole file in a malloc'd buffer; -1 with errno set, or with *too_big
 * when it is over POOL_MAX_BYTES. */
static int read_file(const char *path, char **data, size_t *len, bool *too_big)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) != 0)
        goto fail;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto fail;
    }
    if (st.st_size > (off_t)POOL_MAX_BYTES) {
        *too_big = true;
        goto fail;
    }
    /* One byte more than allowed, so a file that grew is still noticed. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : POOL_MAX_BYTES + 1u;
    buf = malloc(cap);
    if (!buf)
        goto fail;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > POOL_MAX_BYTES) {
        *too_big = true;
        goto fail;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
fail:;
    int err = errno;
    free(buf);
    close(fd);
    errno = err;
    return -1;
}

int pool_load_file(arena *a, const char *path, const char *base_dir, pool_table *out,
                   diag *d, const char *spec_file, unsigned spec_line, unsigned spec_col,
                   const char *key_path)
{
    const char *key = key_path ? key_path : "pool";
    memset(out, 0, sizeof *out);
    bool here = !base_dir || !*base_dir || strcmp(base_dir, ".") == 0;
    size_t bl = here ? 0 : strlen(base_dir);
    const char *full = path[0] == '/' || here ? arena_strdup(a, path)
                       : arena_printf(a, "%s%s%s", base_dir,
                                      base_dir[bl - 1] == '/' ? "" : "/", path);
    if (!full) {
        diag_error(d, spec_file, spec_line, spec_col, "%s: out of memory", key);
        return -1;
    }
    pool_format format = format_of(path);
    if (!format) {
        diag_error(d, spec_file, spec_line, spec_col, "%s: cannot tell the format of %s; "
                   "expected a file name ending in .csv or .json", key, path);
        return -1;
    }
    char *data = NULL;
    size_t len = 0;
    bool too_big = false;
    if (read_file(full, &data, &len, &too_big) != 0) {
        if (too_big)
            diag_error(d, spec_file, spec_line, spec_col, "%s: %s is larger than the limit "
                       "of 64 MiB", key, full);
        else
            diag_error(d, spec_file, spec_line, spec_col, "%s: cannot read %s: %s", key, full,
                       strerror(errno));
        return -1;
    }
    int rc = pool_load_buffer(a, full, data, len, format, out, d, key);
    free(data);
    return rc;
}

int pool_field(const pool_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_fields; i++)
        if (strcmp(t->fields[i], name) == 0)
            return (int)i;
    return -1;
}
