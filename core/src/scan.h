/*
 * scan: `volley scan SPEC...` -- one GET to each service's health URL
 * (services.NAME.url + health, or the url itself without a health path),
 * all at once with a timeout, printed as a table. A service is up when it
 * answers 2xx or 3xx; a ws:// or wss:// one gets a WebSocket handshake
 * instead (libcurl connects, TLS included, with CONNECT_ONLY; the upgrade
 * request and its answer go over that connection) and is up on 101. Runs
 * on the main thread before (or instead of) any load, so a plain curl
 * multi poll loop is fine here. An https (or wss) service is reached with
 * its tls: over defaults.tls, as its steps are.
 */
#ifndef VOLLEY_SCAN_H
#define VOLLEY_SCAN_H

#include <stdio.h>

#include "spec.h"

/* One service to probe: url + health (the url itself without health),
 * reached with tls (already merged over defaults.tls). */
typedef struct scan_target {
    const char *name, *url, *health;
    spec_tls tls;
} scan_target;

/* Prints the table to out; returns how many services are not up. */
int scan_services(const spec *s, FILE *out, long timeout_ms);
/* The same table for any list of services under a title line (volley run
 * over several specs scans the union of theirs); returns how many are not up. */
int scan_targets(const char *title, const scan_target *t, size_t n, FILE *out, long timeout_ms);
/* A service's tls: over the spec's defaults.tls, key by key. */
spec_tls scan_merged_tls(const spec *s, const service *sv);

#endif
