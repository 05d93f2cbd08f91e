/*
 * secret: what volley never shows, and the one place that hides it.
 *
 * The rule (docs/spec-reference.md#secrets):
 *   - the value of ${env.NAME} whose NAME contains TOKEN, SECRET, PASSWORD
 *     or KEY (in any case; not ending in _PORT, _HOST or _URL) is a
 *     secret: templates register it when they
 *     fold it in at load time (template.c), whether it came from -e, the
 *     environment or the template's :-default;
 *   - so is the constant value of a request header named Authorization,
 *     Proxy-Authorization, Cookie or Set-Cookie (options.c), and a value
 *     captured from a response header of those names or into a capture
 *     whose name matches the env rule (per VU, at run time: capture.c
 *     marks the slot, the engine passes the VU's marked values as `more`);
 *   - the requests themselves are never changed: a secret is sent as it
 *     is. Wherever volley shows text (tags of samples, so every output;
 *     error and warning messages; check failure reasons; the summary and
 *     its export; volley scan) each secret is replaced by "***".
 *
 * Redaction goes by value: a registered value is replaced wherever it
 * appears in shown text, as it is and in the forms it takes in a URL query
 * (Go's QueryEscape, and %20 for spaces) and inside a JSON string. It runs
 * where text is made once (tag sets, load-time messages) or only on
 * failure paths (the first failure reason of a check), never per request.
 *
 * The registry is process-wide (the host table's redact has no core to
 * reach, a check plugin's eval() none either) and append-only: values are
 * added while a spec loads (under a lock); readers on any thread take no
 * lock and never see a half-added value (slots that never move, their
 * count published with release/acquire). A handful of values per spec:
 * each text is compared with every one.
 */
#ifndef VOLLEY_SECRET_H
#define VOLLEY_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "arena.h"

/* What is shown in place of a secret. */
#define SECRET_MASK "***"

/* True when NAME contains TOKEN, SECRET, PASSWORD or KEY, in any case
 * (API_TOKEN, db_password, ApiKey, MONKEY too: when in doubt, hidden),
 * unless it ends in _PORT, _HOST or _URL: an address (TOKEN_PORT of the
 * DelTran specs is the token service's port), shown as it is. */
bool secret_name(const char *name);
/* True for the headers whose values are never shown: Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie (any case). */
bool secret_header(const char *name, size_t len);

/* Registers a value (and its URL-query and JSON-string forms) as secret.
 * An empty value, or one already known, is ignored. Main thread, load
 * time (before the workers of a run start). */
void secret_add(const char *value, size_t len);
/* True when any secret is registered (nothing to redact otherwise). */
bool secret_any(void);

/* One more value to hide, beyond the registered ones (a VU's captured
 * secret), as it is. */
typedef struct secret_val {
    const char *s;
    size_t len;
} secret_val;

/* Writes text[0..len) to out with every secret (registered, and each of
 * `more`) replaced by SECRET_MASK; cut to outcap - 1 bytes and NUL-
 * terminated when outcap > 0. Returns the length of the whole result (as
 * snprintf does). Longer secrets are tried first. out must not overlap
 * text. Any thread. */
size_t secret_redact(const char *text, size_t len, const secret_val *more, size_t n_more,
                     char *out, size_t outcap);
/* The same, in place in a NUL-terminated buf of cap bytes (cut to fit). */
void secret_redact_in(char *buf, size_t cap, const secret_val *more, size_t n_more);
/* A copy of text with the secrets hidden, in `a`: text itself when it
 * holds none (so pointers stay stable), NULL only on out-of-memory. */
const char *secret_redact_keep(arena *a, const char *text);
/* printf to f, the secrets in the formatted text hidden. */
int secret_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a string: fputs with the secrets hidden. */
int secret_fputs(const char *text, FILE *f);

/* The host table's redact (plugin.h, revision 4): with `header` one of
 * secret_header's names the whole text is SECRET_MASK, else as
 * secret_redact. */
size_t secret_host_redact(const char *header, const char *text, size_t len, char *out,
                          size_t outcap);

/* Forgets every secret. Tests only: no other thread may read meanwhile. */
void secret_reset(void);

#endif
