#include "conlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const conlog_level_names[] = {"info", "warn", "error", "debug", NULL};

/* logrus's level text: the level's name upper-cased, cut to four letters. */
static const char *const level_text[] = {"INFO", "WARN", "ERRO", "DEBU"};

#define FIELD "  source=console\n"
#define CUT "..."
#define PAD 44

size_t conlog_format(char *out, conlog_level level, uint64_t elapsed_ns, const char *text)
{
    const size_t field = sizeof FIELD - 1;
    int head = snprintf(out, CONLOG_LINE_MAX + 1, "%s[%04llu] ",
                        level_text[level <= CONLOG_DEBUG ? level : CONLOG_INFO],
                        (unsigned long long)(elapsed_ns / 1000000000u));
    size_t n = head > 0 ? (size_t)head : 0;
    size_t room = CONLOG_LINE_MAX - n - field;
    size_t len = strlen(text);
    if (len > room) {
        len = room - (sizeof CUT - 1);
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;   /* not inside a UTF-8 sequence */
        memcpy(out + n, text, len);
        memcpy(out + n + len, CUT, sizeof CUT - 1);
        n += len + sizeof CUT - 1;
    } else {
        memcpy(out + n, text, len);
        n += len;
        /* logrus pads the message (%-44s) before its fields */
        for (; len < PAD; len++)
            out[n++] = ' ';
    }
    memcpy(out + n, FIELD, field + 1);
    return n + field;
}

void conlog_write(const char *line, size_t len)
{
    ssize_t w;
    do
        w = write(STDERR_FILENO, line, len);
    while (w < 0 && errno == EINTR);
}
