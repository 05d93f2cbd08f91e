/*
 * ws: the notification engine's WebSocket side (RFC 6455 server) — the
 * handshake with gorilla/websocket's refusals, frame parsing with
 * fragmentation and control frames, the engine's JSON protocol (ping ->
 * pong, subscribe ignored, malformed frame -> close), server pings and
 * the read deadline, and the hub that fans notifications out by user_id /
 * bank_id / broadcast.
 */
#ifndef SIM_WS_H
#define SIM_WS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct ws_session;
struct conn;

/* Answers a GET on a WebSocket route: 400 (text) when user_id is required
 * and missing or the upgrade headers are wrong, else 101 with
 * resp->upgrade set to a new session. */
void ws_handshake(const struct http_req *req, struct http_resp *resp, bool require_user);

void ws_attach(struct ws_session *s, struct conn *c);
/* Parses frames from buf; returns bytes consumed, or -1 once the session
 * is closing (the connection closes after its last write). */
long ws_on_data(struct ws_session *s, const char *buf, size_t len);
/* The connection is closing: take the session out of the hub (it stays
 * allocated, and ignores further input, until ws_free). */
void ws_detach(struct ws_session *s);
/* Frees a session: from the connection's final close callback, or for a
 * 101 that was never sent. */
void ws_free(struct ws_session *s);

/* Sends {type:"notification", user_id, bank_id?, payload, timestamp} to
 * the matching sessions; returns how many got it. */
size_t ws_notify(const char *user_id, const char *bank_id, json_t *payload);
size_t ws_count(void);

void ws_init(void);
void ws_shutdown(void);

#endif
