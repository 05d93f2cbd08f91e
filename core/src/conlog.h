/*
 * conlog: the lines of `log:` steps (k6's console.log), in the shape k6
 * prints them on a terminal (logrus's text form without colours):
 *
 *   INFO[0003] the text                                      source=console
 *
 * the level in four letters (INFO, WARN, ERRO, DEBU), the run's whole
 * seconds, the text padded to 44 columns, then the field. A line is at most
 * CONLOG_LINE_MAX bytes, so that it goes to stderr in one write(2) (a pipe
 * takes up to PIPE_BUF bytes at once, whole): lines of several workers
 * never interleave, and a worker waits on stderr for one write at most.
 */
#ifndef VOLLEY_CONLOG_H
#define VOLLEY_CONLOG_H

#include <stddef.h>
#include <stdint.h>

/* The whole line, its newline included (PIPE_BUF on Linux). */
#define CONLOG_LINE_MAX 4096

/* In the order of the spec's `level:` names (conlog_level_names). */
typedef enum conlog_level { CONLOG_INFO = 0, CONLOG_WARN, CONLOG_ERROR, CONLOG_DEBUG } conlog_level;

/* "info", "warn", "error", "debug", NULL. */
extern const char *const conlog_level_names[];

/* Formats the line of text (NUL-terminated) at `elapsed_ns` of the run into
 * out (CONLOG_LINE_MAX + 1 bytes at least), NUL-terminated; returns its
 * length, newline included (at most CONLOG_LINE_MAX). A text too long for the line is cut (not inside a
 * UTF-8 sequence) and ends with "...". */
size_t conlog_format(char *out, conlog_level level, uint64_t elapsed_ns, const char *text);

/* Writes a formatted line to stderr with one write(2); a line a full pipe
 * takes only in part is left at that. */
void conlog_write(const char *line, size_t len);

#endif
