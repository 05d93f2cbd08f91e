/*
 * json_out_sink: the bytes of the file. Lines are formatted into one text
 * buffer that goes out in large chunks: as written with write(2), or
 * through zlib's gzip stream. A sync flush (the plugin's 200 ms flush)
 * ends a gzip block on a byte boundary, so a process killed at any moment
 * leaves a file whose prefix decompresses to whole lines up to that flush;
 * the buffer in between compresses without flushing (a flush per line
 * would cost ratio and CPU).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_out_int.h"

#define ZBUF_SIZE (128u * 1024u)

static int write_all(json_out *j, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t r = write(j->fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            j->write_errno = r < 0 ? errno : EIO;
            return -1;
        }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

int jo_sink_open(json_out *j, int level, char *err, size_t errcap)
{
    if (!j->gzip)
        return 0;
    j->zbuf = malloc(ZBUF_SIZE);
    if (!j->zbuf) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    /* 15 + 16: a gzip header and trailer around the deflate stream. */
    int rc = deflateInit2(&j->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        snprintf(err, errcap, "cannot start gzip: %s", j->z.msg ? j->z.msg : zError(rc));
        return -1;
    }
    j->gz_ready = true;
    return 0;
}

/* Feeds the text buffer to deflate with `mode` and writes what comes out. */
static int deflate_buf(json_out *j, int mode)
{
    j->z.next_in = (unsigned char *)j->buf;
    j->z.avail_in = (unsigned)j->len;
    for (;;) {
        j->z.next_out = j->zbuf;
        j->z.avail_out = ZBUF_SIZE;
        int rc = deflate(&j->z, mode);
        if (rc == Z_STREAM_ERROR) {
            j->write_errno = EIO;
            return -1;
        }
        size_t have = ZBUF_SIZE - j->z.avail_out;
        if (have && write_all(j, j->zbuf, have) != 0)
            return -1;
        /* Done when deflate had room to spare (all input taken and, for a
         * flush, all of it out), or at the end of the stream. */
        if (mode == Z_FINISH ? rc == Z_STREAM_END : j->z.avail_out != 0 && j->z.avail_in == 0)
            break;
        if (rc == Z_BUF_ERROR && have == 0) {   /* no progress possible */
            j->write_errno = EIO;
            return -1;
        }
    }
    j->len = 0;
    return 0;
}

/* Writes the text buffer out. sync: what was written so far must be
 * readable from the file (a gzip sync flush, only when new text came). */
int jo_sink_flush(json_out *j, bool sync)
{
    if (j->write_errno)
        return -1;
    if (!j->gzip) {
        if (write_all(j, j->buf, j->len) != 0)
            return -1;
        j->len = 0;
        return 0;
    }
    if (j->len)
        j->gz_dirty = true;
    int mode = sync && j->gz_dirty ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    if (mode == Z_NO_FLUSH && j->len == 0)
        return 0;
    if (deflate_buf(j, mode) != 0)
        return -1;
    if (mode == Z_SYNC_FLUSH)
        j->gz_dirty = false;
    return 0;
}

/* The end of the file: the gzip trailer after the last text. */
int jo_sink_finish(json_out *j)
{
    if (!j->gzip)
        return jo_sink_flush(j, false);
    if (j->write_errno)
        return -1;
    return deflate_buf(j, Z_FINISH);
}

void jo_sink_free(json_out *j)
{
    if (j->gz_ready)
        deflateEnd(&j->z);
    j->gz_ready = false;
    free(j->zbuf);
    j->zbuf = NULL;
}

/* Appends n bytes of any length, writing out as the buffer fills. */
int jo_put(json_out *j, const char *p, size_t n)
{
    while (n) {
        if (j->len == JO_BUF_SIZE && jo_sink_flush(j, false) != 0)
            return -1;
        size_t k = JO_BUF_SIZE - j->len < n ? JO_BUF_SIZE - j->len : n;
        memcpy(j->buf + j->len, p, k);
        j->len += k;
        p += k;
        n -= k;
    }
    return 0;
}
