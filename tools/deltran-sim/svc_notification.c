/*
 * The notification engine on 8089 (Go, deltran-api.md §5): notifications
 * kept in memory per user, the per-user dispatch limiter (burst 10, one
 * more every 6 minutes), /api/v1/stats with the live connection count,
 * /ws with the engine's protocol (ws.c) — and, as a stand-in convenience
 * the real engine does not have, the same WebSocket on 8090.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"
#include "ws.h"

struct note {
    char id[37];
    char *user_id, *bank_id, *type, *template_id, *subject, *content, *metadata, *status;
    int64_t created;
};

struct limit {
    double tokens;
    int64_t last_ns;
};

static struct store notes, limits;

static void free_note(void *p)
{
    struct note *n = p;
    free(n->user_id);
    free(n->bank_id);
    free(n->type);
    free(n->template_id);
    free(n->subject);
    free(n->content);
    free(n->metadata);
    free(n->status);
    free(n);
}

static void nt_init(void)
{
    store_init(&notes, g_sim.cfg.max_records, free_note);
    store_init(&limits, g_sim.cfg.max_records, free);
}

static void nt_shutdown(void)
{
    store_destroy(&notes);
    store_destroy(&limits);
}

/* rate.NewLimiter(rate.Every(6*time.Minute), 10) per user_id. */
static bool limiter_allow(const char *user)
{
    int burst = g_sim.cfg.notify_limit;
    if (burst <= 0)
        return true;
    int64_t now = mono_ns();
    struct limit *l = store_get(&limits, user);
    if (!l) {
        l = xmalloc(sizeof *l);
        l->tokens = burst;
        l->last_ns = now;
        store_put(&limits, user, l);
    }
    l->tokens += (double)(now - l->last_ns) / (360e9);
    if (l->tokens > burst)
        l->tokens = burst;
    l->last_ns = now;
    if (l->tokens < 1)
        return false;
    l->tokens -= 1;
    return true;
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, json_pack("{s:s, s:s}", "status", "healthy", "service", "notification-engine"), true);
}

static json_t *opt(const char *s)
{
    return s && *s ? json_string(s) : NULL;
}

static void set_opt(json_t *o, const char *k, const char *v)
{
    json_t *j = opt(v);
    if (j)
        json_object_set_new(o, k, j);
}

static void h_list(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char user[256] = "";
    http_query(req, "user_id", user, sizeof user);
    if (!*user) {
        reply_go_error(resp, 400, "user_id required");
        return;
    }
    json_t *arr = json_array();
    size_t n = 0;
    for (const struct store_ent *e = notes.newest; e && n < 50; e = e->older) {
        const struct note *nt = e->val;
        if (strcmp(nt->user_id, user) != 0)
            continue;
        char ts[40];
        fmt_time_go(nt->created, ts);
        json_t *o = json_pack("{s:s, s:s}", "id", nt->id, "user_id", nt->user_id);
        set_opt(o, "bank_id", nt->bank_id);
        json_object_set_new(o, "type", json_string(nt->type));
        set_opt(o, "template_id", nt->template_id);
        set_opt(o, "subject", nt->subject);
        json_object_set_new(o, "content", json_string(nt->content ? nt->content : ""));
        if (nt->metadata) {
            json_error_t err;
            json_t *m = json_loads(nt->metadata, 0, &err);
            if (m)
                json_object_set_new(o, "metadata", m);
        }
        json_object_set_new(o, "status", json_string(nt->status));
        json_object_set_new(o, "sent_at", json_string(ts));
        json_object_set_new(o, "retry_count", json_integer(0));
        json_object_set_new(o, "created_at", json_string(ts));
        json_object_set_new(o, "updated_at", json_string(ts));
        json_array_append_new(arr, o);
        n++;
    }
    reply_json(resp, 200, arr, true);
}

static void h_send(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct gofield f[] = {
        { "user_id", GO_STRING }, { "bank_id", GO_STRING }, { "type", GO_STRING }, { "template_id", GO_STRING },
        { "subject", GO_STRING }, { "content", GO_STRING }, { "data", GO_OBJECT },
    };
    json_t *in = go_decode(req, f, sizeof f / sizeof f[0]);
    if (!in) {
        reply_go_error(resp, 400, "Invalid request");
        return;
    }
    const char *type = jstr(in, "type"), *user = jstr(in, "user_id"), *bank = jstr(in, "bank_id");
    bool known = strcmp(type, "email") == 0 || strcmp(type, "sms") == 0 || strcmp(type, "websocket") == 0 ||
                 strcmp(type, "push") == 0;
    if (!known || !limiter_allow(user)) {
        reply_go_error(resp, 500, "Failed to send notification");
        json_decref(in);
        return;
    }
    struct note *n = xcalloc(1, sizeof *n);
    uuid_v4(n->id);
    n->user_id = xstrdup(user);
    n->bank_id = xstrdup(bank);
    n->type = xstrdup(type);
    n->template_id = xstrdup(jstr(in, "template_id"));
    n->subject = xstrdup(jstr(in, "subject"));
    n->content = xstrdup(jstr(in, "content"));
    json_t *data = json_object_get(in, "data");
    if (json_is_object(data))
        n->metadata = json_dumps(data, JSON_COMPACT);
    n->status = xstrdup("sent");
    n->created = wall_ns();
    if (strcmp(type, "websocket") == 0)
        ws_notify(user, bank, json_is_object(data) ? data : NULL);
    reply_json(resp, 200, json_pack("{s:s, s:s}", "id", n->id, "status", "sent"), true);
    store_put(&notes, n->id, n);
    json_decref(in);
}

static void h_stats(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char ts[40];
    fmt_time_go(wall_ns(), ts);
    reply_json(resp, 200, json_pack("{s:i, s:s}", "connected_clients", (int)ws_count(), "timestamp", ts), true);
}

static void h_ws(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    ws_handshake(req, resp, true);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_go_error(resp, 500, "Failed to send notification");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/api/v1/notifications", h_list, 0 },
    { "POST", "/api/v1/notifications", h_send, 0 },
    { "GET", "/api/v1/stats", h_stats, 0 },
    { "GET", "/ws", h_ws, ROUTE_NO_INJECT },
};

const struct service svc_notification = {
    .name = "notification", .port = 8089, .family = FAMILY_GO_MUX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
    .init = nt_init, .shutdown = nt_shutdown, .injected_error = injected,
};

/* 8090: the brief's ws://localhost:8090 — any path upgrades; user_id is
 * optional (such a client gets broadcasts only) unless --ws-alias-strict. */
static void h_alias(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    ws_handshake(req, resp, g_sim.cfg.alias_strict);
}

static const struct route alias_routes[] = {
    { "GET", "/", h_alias, ROUTE_NO_INJECT },
    { "GET", "/ws", h_alias, ROUTE_NO_INJECT },
};

const struct service svc_ws_alias = {
    .name = "ws-alias", .port = 8090, .family = FAMILY_GO_MUX,
    .routes = alias_routes, .nroutes = sizeof alias_routes / sizeof alias_routes[0],
};
