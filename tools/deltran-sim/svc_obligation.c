/*
 * The obligation engine on 8082 (actix, deltran-api.md §4.2): obligations
 * in 6-hour clearing windows (floor(epoch_hours / 6) * 6), multilateral
 * netting per bank and currency, settlement of a window.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"
#include "validate.h"

struct obligation {
    char id[37], txid[37], debtor[37], creditor[37];
    char *corridor, *sent_cur, *cred_cur, *reference, *metadata;
    struct decimal sent, credited;
    const char *status;
    long long window;
    int64_t created, settled;
};

static struct store obligations, by_tx;

static void free_ob(void *p)
{
    struct obligation *o = p;
    free(o->corridor);
    free(o->sent_cur);
    free(o->cred_cur);
    free(o->reference);
    free(o->metadata);
    free(o);
}

static void ob_init(void)
{
    store_init(&obligations, g_sim.cfg.max_records, free_ob);
    store_init(&by_tx, 0, NULL);
}

static void ob_shutdown(void)
{
    store_destroy(&by_tx);
    store_destroy(&obligations);
}

static long long window_of(int64_t ns)
{
    long long hours = (long long)(ns / INT64_C(3600000000000));
    return hours / 6 * 6;
}

static json_t *ob_json(const struct obligation *o)
{
    char c[40], s[40];
    fmt_time_rust(o->created, c);
    fmt_time_rust(o->settled, s);
    json_t *meta = NULL;
    if (o->metadata) {
        json_error_t err;
        meta = json_loads(o->metadata, 0, &err);
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o}", "id", o->id,
                     "corridor", o->corridor, "amount_sent", decimal_json(o->sent), "amount_credited",
                     decimal_json(o->credited), "sent_currency", o->sent_cur, "credited_currency", o->cred_cur,
                     "bank_debtor_id", o->debtor, "bank_creditor_id", o->creditor, "status", o->status,
                     "clearing_window", (json_int_t)o->window, "transaction_id", o->txid, "created_at", c,
                     "settled_at", o->settled ? json_string(s) : json_null(), "metadata", meta ? meta : json_null());
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s}", "status", "healthy", "service", "obligation-engine", "version", "1.0.0"),
               false);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    resp->ctype = "text/plain; version=0.0.4";
    sb_addf(&resp->body,
            "# HELP obligations_total Obligations held in memory\n# TYPE obligations_total gauge\n"
            "obligations_total %zu\n",
            obligations.count);
}

static void h_create(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = {
        { "transaction_id", FK_UUID, false, NULL },   { "bank_debtor_id", FK_UUID, false, NULL },
        { "bank_creditor_id", FK_UUID, false, NULL }, { "corridor", FK_STR, false, NULL },
        { "amount_sent", FK_DEC, false, NULL },       { "amount_credited", FK_DEC, false, NULL },
        { "sent_currency", FK_STR, false, NULL },     { "credited_currency", FK_STR, false, NULL },
        { "reference", FK_STR, false, NULL },         { "metadata", FK_OBJ, true, NULL },
    };
    json_t *in = actix_json(req, resp, f, sizeof f / sizeof f[0]);
    if (!in)
        return;
    char txid[37];
    uuid_normalize(jstr(in, "transaction_id"), txid);
    struct decimal sent, cred;
    decimal_from_json(json_object_get(in, "amount_sent"), &sent);
    decimal_from_json(json_object_get(in, "amount_credited"), &cred);
    if (sent.mant <= 0 || cred.mant <= 0) {
        reply_engine_error(resp, 400, "validation_error", "Amounts must be positive");
        json_decref(in);
        return;
    }
    if (store_get(&by_tx, txid)) {
        reply_engine_error(resp, 409, "duplicate", "Obligation already exists for this transaction");
        json_decref(in);
        return;
    }
    struct obligation *o = xcalloc(1, sizeof *o);
    uuid_v4(o->id);
    snprintf(o->txid, sizeof o->txid, "%s", txid);
    uuid_normalize(jstr(in, "bank_debtor_id"), o->debtor);
    uuid_normalize(jstr(in, "bank_creditor_id"), o->creditor);
    o->corridor = xstrdup(jstr(in, "corridor"));
    o->sent_cur = xstrdup(jstr(in, "sent_currency"));
    o->cred_cur = xstrdup(jstr(in, "credited_currency"));
    o->reference = xstrdup(jstr(in, "reference"));
    json_t *meta = json_object_get(in, "metadata");
    if (json_is_object(meta))
        o->metadata = json_dumps(meta, JSON_COMPACT);
    o->sent = sent;
    o->credited = cred;
    o->status = "PENDING";
    o->created = wall_ns();
    o->window = window_of(o->created);
    store_put(&obligations, o->id, o);
    store_put(&by_tx, txid, o);
    double amount = decimal_to_double(sent);
    bool instant = amount <= 1000000;
    reply_json(resp, 200,
               json_pack("{s:o, s:{s:b, s:f, s:f, s:b, s:f, s:s}, s:s}", "obligation", ob_json(o),
                         "instant_settlement", "can_settle_instant", instant, "confidence_score",
                         instant ? 0.85 : 0.4, "expected_netting_offset", 0.35, "liquidity_available", instant,
                         "risk_score", fmin(amount / 1e7, 1.0), "reason",
                         instant ? "Sufficient liquidity and netting offset" : "Amount exceeds instant limit",
                         "message", "Obligation created successfully"),
               false);
    json_decref(in);
}

static void h_get(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    if (!uuid_valid(req->params[0])) {
        resp->status = 404;
        return;
    }
    char id[37];
    uuid_normalize(req->params[0], id);
    const struct obligation *o = store_get(&obligations, id);
    if (!o) {
        reply_engine_error(resp, 404, "not_found", "Obligation not found");
        return;
    }
    reply_json(resp, 200, ob_json(o), false);
}

static bool window_param(struct http_req *req, struct http_resp *resp, long long *w)
{
    char *end;
    *w = strtoll(req->params[0], &end, 10);
    if (*end || end == req->params[0]) {
        resp->status = 404;
        return false;
    }
    return true;
}

static void h_window(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    long long w;
    if (!window_param(req, resp, &w))
        return;
    json_t *arr = json_array();
    for (const struct store_ent *e = obligations.oldest; e; e = e->newer) {
        const struct obligation *o = e->val;
        if (o->window == w)
            json_array_append_new(arr, ob_json(o));
    }
    size_t n = json_array_size(arr);
    reply_json(resp, 200, json_pack("{s:I, s:i, s:o}", "clearing_window", (json_int_t)w, "total_obligations", (int)n,
                                    "obligations", arr),
               false);
}

struct position {
    char bank[37], cur[16];
    struct decimal in, out;
};

static struct position *position(struct position *p, size_t *n, const char *bank, const char *cur)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(p[i].bank, bank) == 0 && strcmp(p[i].cur, cur) == 0)
            return &p[i];
    struct position *q = &p[(*n)++];
    memset(q, 0, sizeof *q);
    snprintf(q->bank, sizeof q->bank, "%s", bank);
    snprintf(q->cur, sizeof q->cur, "%s", cur);
    return q;
}

static void h_netting(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    long long w;
    if (!window_param(req, resp, &w))
        return;
    size_t cap = 2 * obligations.count + 2, np = 0, count = 0;
    struct position *p = xcalloc(cap, sizeof *p);
    double gross = 0;
    for (const struct store_ent *e = obligations.oldest; e; e = e->newer) {
        struct obligation *o = e->val;
        if (o->window != w || strcmp(o->status, "SETTLED") == 0)
            continue;
        count++;
        struct position *d = position(p, &np, o->debtor, o->sent_cur);
        decimal_add(d->out, o->sent, &d->out);
        struct position *c = position(p, &np, o->creditor, o->cred_cur);
        decimal_add(c->in, o->credited, &c->in);
        gross += decimal_to_double(o->sent);
        o->status = "NETTED";
    }
    char now[40];
    fmt_time_rust(wall_ns(), now);
    json_t *arr = json_array();
    double net = 0;
    for (size_t i = 0; i < np; i++) {
        struct decimal n;
        decimal_add(p[i].in, decimal_neg(p[i].out), &n);
        net += fabs(decimal_to_double(n));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:s}", "bank_id", p[i].bank, "currency",
                                             p[i].cur, "net_amount", decimal_json(n), "gross_inflow",
                                             decimal_json(p[i].in), "gross_outflow", decimal_json(p[i].out),
                                             "clearing_window", (json_int_t)w, "calculated_at", now));
    }
    free(p);
    net /= 2;
    reply_json(resp, 200,
               json_pack("{s:I, s:i, s:o, s:f, s:o, s:o, s:s}", "clearing_window", (json_int_t)w, "total_obligations",
                         (int)count, "net_positions", arr, "netting_efficiency", gross > 0 ? 1.0 - net / gross : 0.0,
                         "gross_amount", decimal_json(decimal_from_double(gross, 2)), "net_amount",
                         decimal_json(decimal_from_double(net, 2)), "calculated_at", now),
               false);
}

static void h_settle(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "clearing_window", FK_INT, false, NULL },
                                      { "force_settlement", FK_BOOL, false, NULL } };
    json_t *in = actix_json(req, resp, f, 2);
    if (!in)
        return;
    long long w = (long long)json_integer_value(json_object_get(in, "clearing_window"));
    bool force = json_is_true(json_object_get(in, "force_settlement"));
    if (!force && w == window_of(wall_ns())) {
        reply_engine_error(resp, 409, "window_closed", "Clearing window is still open; use force_settlement");
        json_decref(in);
        return;
    }
    int64_t now = wall_ns();
    int n = 0;
    for (const struct store_ent *e = obligations.oldest; e; e = e->newer) {
        struct obligation *o = e->val;
        if (o->window == w && strcmp(o->status, "SETTLED") != 0) {
            o->status = "SETTLED";
            o->settled = now;
            n++;
        }
    }
    char ts[40];
    fmt_time_rust(now, ts);
    reply_json(resp, 200,
               json_pack("{s:I, s:i, s:s, s:s}", "clearing_window", (json_int_t)w, "settled_obligations", n, "status",
                         "SETTLED", "settled_at", ts),
               false);
    json_decref(in);
}

static void h_current(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    int64_t now = wall_ns();
    long long w = window_of(now);
    char a[40], b[40];
    fmt_time_rust((int64_t)w * INT64_C(3600000000000), a);
    fmt_time_rust((int64_t)(w + 6) * INT64_C(3600000000000), b);
    int n = 0;
    for (const struct store_ent *e = obligations.oldest; e; e = e->newer)
        n += ((const struct obligation *)e->val)->window == w;
    reply_json(resp, 200,
               json_pack("{s:I, s:{s:I, s:s, s:s, s:s, s:i}}", "current_window", (json_int_t)w, "window_info",
                         "window_id", (json_int_t)w, "start_time", a, "end_time", b, "status", "OPEN",
                         "obligations_count", n),
               false);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_engine_error(resp, 500, "database_error", "Database error: injected by deltran-sim");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/api/v1/obligations/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_metrics, ROUTE_NO_INJECT },
    { "POST", "/api/v1/obligations/create", h_create, 0 },
    { "POST", "/api/v1/obligations/settle", h_settle, 0 },
    { "GET", "/api/v1/obligations/current-window", h_current, 0 },
    { "GET", "/api/v1/obligations/window/{}", h_window, 0 },
    { "POST", "/api/v1/obligations/netting/{}", h_netting, 0 },
    { "GET", "/api/v1/obligations/{}", h_get, 0 },
};

const struct service svc_obligation = {
    .name = "obligation", .port = 8082, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0], .trim_slash = true,
    .init = ob_init, .shutdown = ob_shutdown, .injected_error = injected,
};
