/*
 * duration: strict parsing and printing of k6-style durations.
 * Accepted: "150ms", "1.5s", "1m30s", "2h", "500us" / "500µs", "10ns",
 * "1h2m3.5s"; a bare number (YAML int/float or "30") means seconds, as in
 * k6's extended durations. Rejected, with a message saying the expected
 * form: empty, negative, unknown units, repeated or out-of-order units,
 * trailing garbage, overflow past ~292 years.
 */
#ifndef VOLLEY_DURATION_H
#define VOLLEY_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_EXPECTED "a duration such as 500ms, 10s, 1m30s or 2h"

/* 0 on success (*ns set), -1 with a short reason in err. */
int duration_parse(const char *s, int64_t *ns, char *err, size_t errcap);
/* Human form, k6-like: "0s", "150ms", "1.5s", "1m30s", "2h0m0s"; returns buf. */
const char *duration_format(int64_t ns, char *buf, size_t cap);
/* A limit as the docs write it: the largest unit that holds it whole,
 * "1us", "250ms", "60s", "5m", "24h", "365 days" (days from 2 on, minutes
 * past 60 s); returns buf. */
const char *duration_format_limit(int64_t ns, char *buf, size_t cap);

#endif
