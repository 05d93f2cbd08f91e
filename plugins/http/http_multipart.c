/*
 * multipart/form-data bodies (the `multipart:` option, k6's object body
 * holding http.file() values). Built at load time: every part's headers,
 * the constant values and the files' bytes (each file read once, here, on
 * the main thread) go into one buffer, so a body with no run-time value is
 * a fixed body like any other and may run on the fast path. A templated
 * value leaves the body in pieces, fixed bytes and values, which
 * http_request.c renders per request into the VU's body buffer.
 *
 * The format is Go's mime/multipart as k6 writes it: CRLF line ends, a
 * random boundary (48 hex digits, checked against the fixed bytes),
 * `Content-Disposition: form-data; name="..."[; filename="..."]` with \ and
 * " backslash-escaped, then `Content-Type` when the part has one (a file's
 * default is application/octet-stream).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "http_int.h"

enum { PART_NAME, PART_VALUE, PART_FILE, PART_FILENAME, PART_CTYPE };

static const volley_option part_options[] = {
    [PART_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_REQUIRED,
                   .offset = offsetof(http_part_config, name), .help = "the field's name"},
    [PART_VALUE] = {.name = "value", .type = VOLLEY_OPT_TEMPLATE,
                    .offset = offsetof(http_part_config, value),
                    .help = "the field's value (templated), instead of file"},
    [PART_FILE] = {.name = "file", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_FILE,
                   .offset = offsetof(http_part_config, file),
                   .help = "a file sent as the part (k6's http.file), read once at load time; "
                           "relative to the spec's directory"},
    [PART_FILENAME] = {.name = "filename", .type = VOLLEY_OPT_STRING,
                       .offset = offsetof(http_part_config, filename),
                       .help = "the file name sent (default: the file's base name)"},
    [PART_CTYPE] = {.name = "content_type", .type = VOLLEY_OPT_STRING,
                    .offset = offsetof(http_part_config, content_type),
                    .help = "the part's Content-Type (a file's default: application/octet-stream)"},
};

const volley_option_map http_part_map = {part_options, VOLLEY_COUNTOF(part_options),
                                         sizeof(http_part_config), NULL};

/* A file larger than this is refused at load time: bodies live in memory. */
#define MP_FILE_MAX (256u * 1024 * 1024)

struct mp_build {
    char *data;
    size_t len, cap;
    bool oom;
    /* segments as offsets until data stops moving */
    struct { size_t off, len; const volley_template *value; } *seg;
    size_t n_seg, cap_seg;
    size_t fixed_from;        /* start of the fixed bytes not yet a segment */
};

static void add(struct mp_build *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void add_str(struct mp_build *b, const char *s) { add(b, s, strlen(s)); }

/* A quoted header parameter, \ and " escaped (Go's escapeQuotes). */
static void add_quoted(struct mp_build *b, const char *s)
{
    add_str(b, "\"");
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            add(b, "\\", 1);
        add(b, s, 1);
    }
    add_str(b, "\"");
}

static void push_seg(struct mp_build *b, size_t off, size_t len, const volley_template *value)
{
    if (b->oom || (!value && !len))
        return;
    if (b->n_seg == b->cap_seg) {
        size_t cap = b->cap_seg ? b->cap_seg * 2 : 8;
        void *s = realloc(b->seg, cap * sizeof *b->seg);
        if (!s) {
            b->oom = true;
            return;
        }
        b->seg = s;
        b->cap_seg = cap;
    }
    b->seg[b->n_seg].off = off;
    b->seg[b->n_seg].len = len;
    b->seg[b->n_seg].value = value;
    b->n_seg++;
}

/* A run-time value: the fixed bytes before it end a segment. */
static void add_value(struct mp_build *b, const volley_template *value)
{
    push_seg(b, b->fixed_from, b->len - b->fixed_from, NULL);
    push_seg(b, 0, 0, value);
    b->fixed_from = b->len;
}

static int read_file(struct mp_build *b, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "multipart: cannot read \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n, total = 0;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += n;
        if (total > MP_FILE_MAX) {
            snprintf(err, errcap, "multipart: \"%s\" is larger than %u MiB", path,
                     MP_FILE_MAX >> 20);
            rc = -1;
            break;
        }
        add(b, chunk, n);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errcap, "multipart: cannot read \"%s\": %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static bool has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

static void new_boundary(char out[49])
{
    unsigned char r[24];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* no entropy yet: the address and the clock still differ per run */
        uint64_t x = (uint64_t)(uintptr_t)out ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < sizeof r; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            r[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* The parts into b with boundary bd; -1 with err. */
static int build(http_plugin *p, struct mp_build *b, const volley_object_list *parts,
                 const char *bd, char *err, size_t errcap)
{
    const http_part_config *items = parts->items;
    for (size_t i = 0; i < parts->n; i++) {
        const http_part_config *pc = &items[i];
        bool has_value = VOLLEY_OPT_IS_SET(pc, PART_VALUE), has_file = pc->file != NULL;
        if (!pc->name || !*pc->name || has_crlf(pc->name) || has_crlf(pc->filename) ||
            has_crlf(pc->content_type)) {
            snprintf(err, errcap, "multipart[%zu]: %s", i,
                     !pc->name || !*pc->name ? "a part needs a name"
                                             : "name, filename and content_type cannot hold "
                                               "line breaks");
            return -1;
        }
        if (has_value == has_file) {
            snprintf(err, errcap, "multipart[%zu] (%s): give either value or file", i, pc->name);
            return -1;
        }
        if (pc->filename && !has_file) {
            snprintf(err, errcap, "multipart[%zu] (%s): filename goes with file", i, pc->name);
            return -1;
        }
        add_str(b, "--");
        add_str(b, bd);
        add_str(b, "\r\nContent-Disposition: form-data; name=");
        add_quoted(b, pc->name);
        if (has_file) {
            const char *base = strrchr(pc->file, '/');
            add_str(b, "; filename=");
            add_quoted(b, pc->filename ? pc->filename : base ? base + 1 : pc->file);
        }
        const char *ctype = pc->content_type ? pc->content_type
                            : has_file       ? "application/octet-stream"
                                             : NULL;
        if (ctype) {
            add_str(b, "\r\nContent-Type: ");
            add_str(b, ctype);
        }
        add_str(b, "\r\n\r\n");
        if (has_file) {
            if (read_file(b, pc->file, err, errcap) != 0)
                return -1;
        } else {
            const char *v = p->host->template_const(pc->value);
            if (v)
                add_str(b, v);
            else
                add_value(b, pc->value);
        }
        add_str(b, "\r\n");
    }
    add_str(b, "--");
    add_str(b, bd);
    add_str(b, "--\r\n");
    push_seg(b, b->fixed_from, b->len - b->fixed_from, NULL);
    return 0;
}

int http_mp_compile(http_plugin *p, http_step *st, const volley_object_list *parts, char *err,
                    size_t errcap)
{
    char bd[49];
    struct mp_build b = {0};
    for (int tries = 0;; tries++) {
        new_boundary(bd);
        free(b.data);
        free(b.seg);
        memset(&b, 0, sizeof b);
        if (build(p, &b, parts, bd, err, errcap) != 0)
            goto fail;
        if (b.oom)
            goto oom;
        /* the boundary once per part and at the end, never in a file */
        size_t want = 0;
        for (const char *s = b.data; (s = memmem(s, b.len - (size_t)(s - b.data), bd, 48)); s++)
            want++;
        if (want == parts->n + 1 || tries == 8)
            break;
    }
    size_t hl = strlen("Content-Type: multipart/form-data; boundary=") + 48 + 1;
    if (!(st->mp_ctype = malloc(hl)))
        goto oom;
    snprintf(st->mp_ctype, hl, "Content-Type: multipart/form-data; boundary=%s", bd);
    st->mp_bytes = b.data;
    b.data = NULL;
    bool dynamic = false;
    for (size_t i = 0; i < b.n_seg; i++)
        dynamic |= b.seg[i].value != NULL;
    if (!dynamic) {
        st->body_kind = BODY_FIXED;
        st->body_text = st->mp_bytes;
        st->body_len = b.len;
        free(b.seg);
        return 0;
    }
    if (!(st->mp_segs = calloc(b.n_seg, sizeof *st->mp_segs)))
        goto oom;
    for (size_t i = 0; i < b.n_seg; i++)
        st->mp_segs[i] = (http_mp_seg){.text = b.seg[i].value ? NULL : st->mp_bytes + b.seg[i].off,
                                       .len = b.seg[i].len, .value = b.seg[i].value};
    st->n_mp_segs = b.n_seg;
    st->body_kind = BODY_MULTIPART;
    free(b.seg);
    return 0;
oom:
    snprintf(err, errcap, "multipart: out of memory");
fail:
    free(b.data);
    free(b.seg);
    return -1;
}

int http_mp_render(const volley_host *h, const http_step *st, volley_vu *vu, volley_buf *out)
{
    for (size_t i = 0; i < st->n_mp_segs; i++) {
        const http_mp_seg *s = &st->mp_segs[i];
        if (s->value ? h->template_render(s->value, vu, out) != 0
                     : http_buf_add(h, out, s->text, s->len) != 0)
            return -1;
    }
    return 0;
}
