/*
 * The analytics collector on 8093 (FastAPI + asyncpg, deltran-api.md §6):
 * the transaction_analytics table kept in memory with the same columns,
 * the trigger's latency columns, the dashboard and test-run views, and
 * pydantic v2's 422 bodies. The real event-update path fails with 500 on
 * every call (its SQL numbers its parameters wrongly); so does this one
 * unless --fix-event-updates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"

#define NS_S INT64_C(1000000000)

struct arow {
    char id[37];
    char *txid, *sender, *receiver, *currency, *status, *error_message;
    char *test_run_id, *test_scenario, *load_level, *raw_request;
    bool has_amount;
    double amount;
    int64_t ts, created, updated;
    int64_t gw_at, cl_start, cl_done, st_start, st_done; /* 0 = NULL */
    uint64_t seq;
};

static struct store rows;
static uint64_t seq;

static void free_row(void *p)
{
    struct arow *r = p;
    free(r->txid);
    free(r->sender);
    free(r->receiver);
    free(r->currency);
    free(r->status);
    free(r->error_message);
    free(r->test_run_id);
    free(r->test_scenario);
    free(r->load_level);
    free(r->raw_request);
    free(r);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static struct arow *new_row(const char *txid, int64_t ts)
{
    struct arow *r = xcalloc(1, sizeof *r);
    uuid_v4(r->id);
    r->txid = xstrdup(txid);
    r->ts = ts;
    r->created = r->updated = wall_ns();
    r->seq = ++seq;
    return r;
}

static void seed_row(const char *txid, const char *s, const char *rcv, double amount, const char *cur)
{
    struct arow *r = new_row(txid, g_sim.start_wall_ns - 86400 * NS_S);
    r->sender = xstrdup(s);
    r->receiver = xstrdup(rcv);
    r->has_amount = true;
    r->amount = amount;
    r->currency = xstrdup(cur);
    r->status = xstrdup("completed");
    r->test_run_id = xstrdup("TEST-001");
    r->test_scenario = xstrdup("smoke");
    r->load_level = xstrdup("low");
    r->created = r->updated = r->ts;
    store_put(&rows, txid, r);
}

static void an_init(void)
{
    store_init(&rows, g_sim.cfg.max_records, free_row);
    /* the sample rows 001_create_analytics_db.sql inserts */
    seed_row("TXN-SAMPLE-001", "ACC001", "ACC002", 1000.00, "USD");
    seed_row("TXN-SAMPLE-002", "ACC003", "ACC004", 5000.00, "EUR");
}

static void an_shutdown(void)
{
    store_destroy(&rows);
}

static json_t *ts_json(int64_t ns)
{
    if (!ns)
        return json_null();
    char b[40];
    fmt_time_py(ns, b);
    return json_string(b);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *latency(int64_t a, int64_t b)
{
    if (!a || !b)
        return json_null();
    return json_integer((json_int_t)((b - a) / 1000000));
}

static json_t *row_json(const struct arow *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "transaction_id", json_string(r->txid));
    json_object_set_new(o, "timestamp", ts_json(r->ts));
    json_object_set_new(o, "sender_id", str_or_null(r->sender));
    json_object_set_new(o, "receiver_id", str_or_null(r->receiver));
    json_object_set_new(o, "amount", r->has_amount ? json_real(r->amount) : json_null());
    json_object_set_new(o, "currency", str_or_null(r->currency));
    json_object_set_new(o, "gateway_received_at", ts_json(r->gw_at));
    json_object_set_new(o, "clearing_started_at", ts_json(r->cl_start));
    json_object_set_new(o, "clearing_completed_at", ts_json(r->cl_done));
    json_object_set_new(o, "settlement_started_at", ts_json(r->st_start));
    json_object_set_new(o, "settlement_completed_at", ts_json(r->st_done));
    json_object_set_new(o, "gateway_latency", latency(r->gw_at, r->cl_start));
    json_object_set_new(o, "clearing_latency", latency(r->cl_start, r->cl_done));
    json_object_set_new(o, "settlement_latency", latency(r->st_start, r->st_done));
    json_object_set_new(o, "total_latency", latency(r->gw_at, r->st_done));
    json_object_set_new(o, "status", str_or_null(r->status));
    json_object_set_new(o, "error_message", str_or_null(r->error_message));
    json_object_set_new(o, "retry_count", json_integer(0));
    json_object_set_new(o, "test_run_id", str_or_null(r->test_run_id));
    json_object_set_new(o, "test_scenario", str_or_null(r->test_scenario));
    json_object_set_new(o, "load_level", str_or_null(r->load_level));
    json_object_set_new(o, "risk_score", json_null());
    json_object_set_new(o, "compliance_status", json_null());
    json_object_set_new(o, "liquidity_source", json_null());
    json_object_set_new(o, "token_id", json_null());
    json_object_set_new(o, "token_type", json_null());
    json_object_set_new(o, "raw_request", str_or_null(r->raw_request));
    json_object_set_new(o, "raw_response", json_null());
    json_object_set_new(o, "created_at", ts_json(r->created));
    json_object_set_new(o, "updated_at", ts_json(r->updated));
    return o;
}

static void detail(struct http_resp *resp, int status, const char *msg)
{
    reply_json(resp, status, json_pack("{s:s}", "detail", msg), false);
}

/* pydantic v2 error items, collected like pydantic collects them. */
static void err_item(json_t *errs, const char *type, const char *where, const char *field, const char *msg,
                     json_t *input)
{
    json_t *loc = json_array();
    json_array_append_new(loc, json_string(where));
    if (field)
        json_array_append_new(loc, json_string(field));
    json_array_append_new(errs, json_pack("{s:s, s:o, s:s, s:o}", "type", type, "loc", loc, "msg", msg, "input",
                                          input ? json_incref(input) : json_null()));
}

static void reply_422(struct http_resp *resp, json_t *errs)
{
    reply_json(resp, 422, json_pack("{s:o}", "detail", errs), false);
}

/* Decodes the body for a pydantic model: on failure answers 422 and
 * returns NULL. */
static json_t *model_body(const struct http_req *req, struct http_resp *resp)
{
    if (req->body_len == 0) {
        json_t *errs = json_array();
        err_item(errs, "missing", "body", NULL, "Field required", NULL);
        reply_422(resp, errs);
        return NULL;
    }
    json_t *v = body_json(req);
    if (!v) {
        json_t *errs = json_array();
        json_array_append_new(errs, json_pack("{s:s, s:[s,i], s:s, s:{}, s:{s:s}}", "type", "json_invalid", "loc",
                                              "body", 0, "msg", "JSON decode error", "input", "ctx", "error",
                                              "Expecting value"));
        reply_422(resp, errs);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_t *errs = json_array();
        err_item(errs, "model_attributes_type", "body", NULL,
                 "Input should be a valid dictionary or object to extract fields from", v);
        json_decref(v);
        reply_422(resp, errs);
        return NULL;
    }
    return v;
}

static void need_str(json_t *errs, json_t *body, const char *name, bool optional)
{
    json_t *v = json_object_get(body, name);
    if (!v) {
        if (!optional)
            err_item(errs, "missing", "body", name, "Field required", body);
        return;
    }
    if (json_is_null(v) && optional)
        return;
    if (!json_is_string(v))
        err_item(errs, "string_type", "body", name, "Input should be a valid string", v);
}

static bool need_float(json_t *errs, json_t *body, const char *name, double *out)
{
    json_t *v = json_object_get(body, name);
    if (!v) {
        err_item(errs, "missing", "body", name, "Field required", body);
        return false;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        *out = strtod(s, &end);
        if (*s && !*end)
            return true;
        err_item(errs, "float_parsing", "body", name, "Input should be a valid number, unable to parse string as a number", v);
        return false;
    }
    err_item(errs, "float_type", "body", name, "Input should be a valid number", v);
    return false;
}

int analytics_create_transaction(const char *txid, const char *sender, const char *receiver, double amount,
                                 const char *currency, const char *test_run_id, const char *test_scenario,
                                 const char *load_level)
{
    if (!rows.buckets)
        return 0; /* collector not running: connection refused */
    if (strlen(currency) > 3)
        return 500;
    if (store_get(&rows, txid))
        return 201; /* ON CONFLICT DO NOTHING */
    int64_t now = wall_ns();
    struct arow *r = new_row(txid, now);
    r->sender = xstrdup(sender);
    r->receiver = xstrdup(receiver);
    r->has_amount = true;
    r->amount = round(amount * 100) / 100; /* DECIMAL(20,2) */
    r->currency = xstrdup(currency);
    r->status = xstrdup("pending");
    r->test_run_id = dup_or_null(test_run_id);
    r->test_scenario = dup_or_null(test_scenario);
    r->load_level = dup_or_null(load_level);
    r->gw_at = now;
    store_put(&rows, txid, r);
    return 201;
}

static const char *update_error;

int analytics_record_event(const char *txid, const char *event_type, int64_t ts_ns, const char *service,
                           json_t *data)
{
    if (!rows.buckets) {
        json_decref(data);
        return 0;
    }
    struct arow *r = store_get(&rows, txid);
    update_error = NULL;
    if (!r) {
        r = new_row(txid, ts_ns);
        r->status = xstrdup(event_type);
        r->raw_request = data ? json_dumps(data, JSON_COMPACT) : xstrdup("{}");
        store_put(&rows, txid, r);
        json_decref(data);
        return 201;
    }
    int64_t *slot = NULL;
    const char *new_status = NULL;
    int nfields = 1;
    if (strcmp(event_type, "gateway") == 0)
        slot = &r->gw_at;
    else if (strcmp(event_type, "clearing_start") == 0)
        slot = &r->cl_start;
    else if (strcmp(event_type, "clearing_complete") == 0)
        slot = &r->cl_done;
    else if (strcmp(event_type, "settlement_start") == 0)
        slot = &r->st_start;
    else if (strcmp(event_type, "settlement_complete") == 0)
        slot = &r->st_done;
    else if (strcmp(event_type, "completed") == 0)
        new_status = "completed";
    else if (strcmp(event_type, "failed") == 0) {
        new_status = "failed";
        nfields = 2;
    } else {
        json_decref(data);
        return 201;
    }
    if (!g_sim.cfg.fix_event_updates) {
        update_error = nfields == 1 ? "Failed to record event: the server expects 3 arguments for this query, 4 were passed"
                                    : "Failed to record event: the server expects 4 arguments for this query, 5 were passed";
        json_decref(data);
        return 500;
    }
    if (slot)
        *slot = ts_ns;
    if (new_status) {
        free(r->status);
        r->status = xstrdup(new_status);
    }
    if (nfields == 2) {
        const char *e = json_string_value(json_object_get(data, "error"));
        free(r->error_message);
        r->error_message = xstrdup(e ? e : "Unknown error");
    }
    r->updated = wall_ns();
    json_decref(data);
    return 201;
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s}", "status", "healthy", "service", "analytics-collector", "database",
                         "connected"),
               false);
}

static void h_event(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *b = model_body(req, resp);
    if (!b)
        return;
    json_t *errs = json_array();
    need_str(errs, b, "transaction_id", false);
    need_str(errs, b, "event_type", false);
    int64_t ts = 0;
    json_t *t = json_object_get(b, "timestamp");
    if (!t) {
        err_item(errs, "missing", "body", "timestamp", "Field required", b);
    } else if (json_is_number(t)) {
        double v = json_number_value(t);
        ts = (int64_t)(fabs(v) > 2e10 ? v * 1e6 : v * 1e9); /* pydantic: seconds, or ms when large */
    } else if (!json_is_string(t) || parse_datetime(json_string_value(t), &ts) != 0) {
        err_item(errs, json_is_string(t) ? "datetime_from_date_parsing" : "datetime_type", "body", "timestamp",
                 json_is_string(t) ? "Input should be a valid datetime or date, invalid character in year"
                                   : "Input should be a valid datetime",
                 t);
    }
    need_str(errs, b, "service", false);
    json_t *d = json_object_get(b, "data");
    if (d && !json_is_object(d))
        err_item(errs, "dict_type", "body", "data", "Input should be a valid dictionary", d);
    if (json_array_size(errs)) {
        json_decref(b);
        reply_422(resp, errs);
        return;
    }
    json_decref(errs);
    const char *txid = jstr(b, "transaction_id"), *type = jstr(b, "event_type");
    int st = analytics_record_event(txid, type, ts, jstr(b, "service"), d ? json_incref(d) : json_object());
    if (st != 201)
        detail(resp, 500, update_error);
    else
        reply_json(resp, 201,
                   json_pack("{s:s, s:s, s:s}", "status", "recorded", "transaction_id", txid, "event_type", type),
                   false);
    json_decref(b);
}

static void h_create(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *b = model_body(req, resp);
    if (!b)
        return;
    json_t *errs = json_array();
    need_str(errs, b, "transaction_id", false);
    need_str(errs, b, "sender_id", false);
    need_str(errs, b, "receiver_id", false);
    double amount = 0;
    need_float(errs, b, "amount", &amount);
    need_str(errs, b, "currency", true);
    need_str(errs, b, "test_run_id", true);
    need_str(errs, b, "test_scenario", true);
    need_str(errs, b, "load_level", true);
    if (json_array_size(errs)) {
        json_decref(b);
        reply_422(resp, errs);
        return;
    }
    json_decref(errs);
    json_t *cur = json_object_get(b, "currency");
    const char *currency = json_is_string(cur) ? json_string_value(cur) : "USD";
    const char *txid = jstr(b, "transaction_id");
    int st = analytics_create_transaction(txid, jstr(b, "sender_id"), jstr(b, "receiver_id"), amount, currency,
                                          json_string_value(json_object_get(b, "test_run_id")),
                                          json_string_value(json_object_get(b, "test_scenario")),
                                          json_string_value(json_object_get(b, "load_level")));
    if (st != 201)
        detail(resp, 500, "Failed to create transaction: value too long for type character varying(3)");
    else
        reply_json(resp, 201, json_pack("{s:s, s:s}", "status", "created", "transaction_id", txid), false);
    json_decref(b);
}

/* An int query parameter (FastAPI): default when absent, 422 when not
 * an integer. */
static bool query_int(const struct http_req *req, struct http_resp *resp, const char *name, long def, long *out)
{
    char v[64];
    *out = def;
    if (!http_query(req, name, v, sizeof v))
        return true;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end) {
        json_t *errs = json_array();
        json_t *in = json_string(v);
        err_item(errs, "int_parsing", "query", name, "Input should be a valid integer, unable to parse string as an integer", in);
        json_decref(in);
        reply_422(resp, errs);
        return false;
    }
    *out = x;
    return true;
}

static int by_ts_desc(const void *a, const void *b)
{
    const struct arow *x = *(const struct arow *const *)a, *y = *(const struct arow *const *)b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? 1 : -1;
    return x->seq < y->seq ? 1 : -1;
}

static void h_list(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    long limit, offset;
    if (!query_int(req, resp, "limit", 100, &limit) || !query_int(req, resp, "offset", 0, &offset))
        return;
    if (limit < 0 || offset < 0) {
        detail(resp, 500, limit < 0 ? "Failed to list transactions: LIMIT must not be negative"
                                    : "Failed to list transactions: OFFSET must not be negative");
        return;
    }
    char status[128] = "", run[256] = "";
    http_query(req, "status", status, sizeof status);
    http_query(req, "test_run_id", run, sizeof run);
    struct arow **v = xmalloc((rows.count + 1) * sizeof *v);
    size_t n = 0;
    for (const struct store_ent *e = rows.newest; e; e = e->older) {
        const struct arow *r = e->val;
        if (*status && (!r->status || strcmp(r->status, status) != 0))
            continue;
        if (*run && (!r->test_run_id || strcmp(r->test_run_id, run) != 0))
            continue;
        v[n++] = e->val;
    }
    qsort(v, n, sizeof *v, by_ts_desc);
    json_t *arr = json_array();
    for (size_t i = (size_t)offset; i < n && i < (size_t)offset + (size_t)limit; i++)
        json_array_append_new(arr, row_json(v[i]));
    free(v);
    reply_json(resp, 200, arr, false);
}

static void h_get(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    const struct arow *r = store_get(&rows, req->params[0]);
    if (!r) {
        detail(resp, 404, "Transaction not found");
        return;
    }
    reply_json(resp, 200, row_json(r), false);
}

static void h_cleanup(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    long days;
    if (!query_int(req, resp, "days", 30, &days))
        return;
    /* '$1 days' sits inside a string literal, so the query has no parameter */
    detail(resp, 500, "Failed to cleanup: the server expects 0 arguments for this query, 1 was passed");
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* PERCENTILE_CONT(p)::INTEGER over sorted values. */
static json_t *pct(const int *v, size_t n, double p)
{
    if (!n)
        return json_null();
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)pos;
    double x = v[lo] + (lo + 1 < n ? (pos - (double)lo) * (v[lo + 1] - v[lo]) : 0);
    return json_integer((json_int_t)llround(x));
}

static void h_dashboard(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    int64_t since = wall_ns() - 300 * NS_S;
    size_t total = 0, completed = 0, failed = 0, pending = 0, nl = 0;
    int *lat = xmalloc((rows.count + 1) * sizeof *lat);
    struct store snd, rcv; /* COUNT(DISTINCT ...) */
    store_init(&snd, 0, NULL);
    store_init(&rcv, 0, NULL);
    double vol = 0;
    bool any_amount = false;
    for (const struct store_ent *e = rows.newest; e; e = e->older) {
        const struct arow *r = e->val;
        if (r->ts <= since)
            continue;
        total++;
        if (r->status) {
            completed += strcmp(r->status, "completed") == 0;
            failed += strcmp(r->status, "failed") == 0;
            pending += strcmp(r->status, "pending") == 0;
        }
        if (r->gw_at && r->st_done)
            lat[nl++] = (int)((r->st_done - r->gw_at) / 1000000);
        if (r->has_amount) {
            vol += r->amount;
            any_amount = true;
        }
        if (r->sender)
            store_put(&snd, r->sender, NULL);
        if (r->receiver)
            store_put(&rcv, r->receiver, NULL);
    }
    qsort(lat, nl, sizeof *lat, cmp_int);
    double sum = 0;
    for (size_t i = 0; i < nl; i++)
        sum += lat[i];
    json_t *o = json_object();
    json_object_set_new(o, "total_transactions", json_integer((json_int_t)total));
    json_object_set_new(o, "completed", json_integer((json_int_t)completed));
    json_object_set_new(o, "failed", json_integer((json_int_t)failed));
    json_object_set_new(o, "pending", json_integer((json_int_t)pending));
    json_object_set_new(o, "avg_latency", nl ? json_integer((json_int_t)llround(sum / (double)nl)) : json_null());
    json_object_set_new(o, "median_latency", pct(lat, nl, 0.5));
    json_object_set_new(o, "p95_latency", pct(lat, nl, 0.95));
    json_object_set_new(o, "p99_latency", pct(lat, nl, 0.99));
    json_object_set_new(o, "max_latency", nl ? json_integer(lat[nl - 1]) : json_null());
    json_object_set_new(o, "total_volume", any_amount ? json_real(round(vol * 100) / 100) : json_null());
    json_object_set_new(o, "unique_senders", json_integer((json_int_t)snd.count));
    json_object_set_new(o, "unique_receivers", json_integer((json_int_t)rcv.count));
    free(lat);
    store_destroy(&snd);
    store_destroy(&rcv);
    reply_json(resp, 200, o, false);
}

struct run_group {
    const struct arow *first;
    size_t total, ok, bad, nl, cap;
    int *lat;
    int64_t t0, t1;
};

static void free_group(void *p)
{
    struct run_group *g = p;
    free(g->lat);
    free(g);
}

/* The test_run_summary view in one pass: a group per (test_run_id,
 * test_scenario, load_level), in order of first appearance. */
static json_t *run_summaries(const char *only_run)
{
    struct store groups;
    store_init(&groups, 0, free_group);
    struct sbuf key = { 0 };
    for (const struct store_ent *e = rows.oldest; e; e = e->newer) {
        const struct arow *r = e->val;
        if (!r->test_run_id || (only_run && strcmp(r->test_run_id, only_run) != 0))
            continue;
        key.len = 0;
        sb_addf(&key, "%s\x1f%c%s\x1f%c%s", r->test_run_id, r->test_scenario ? 's' : 'n',
                r->test_scenario ? r->test_scenario : "", r->load_level ? 's' : 'n', r->load_level ? r->load_level : "");
        struct run_group *g = store_get(&groups, key.data);
        if (!g) {
            g = xcalloc(1, sizeof *g);
            g->first = r;
            g->t0 = INT64_MAX;
            g->t1 = INT64_MIN;
            store_put(&groups, key.data, g);
        }
        g->total++;
        g->ok += r->status && strcmp(r->status, "completed") == 0;
        g->bad += r->status && strcmp(r->status, "failed") == 0;
        if (r->gw_at && r->st_done) {
            if (g->nl == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 16;
                g->lat = xrealloc(g->lat, g->cap * sizeof *g->lat);
            }
            g->lat[g->nl++] = (int)((r->st_done - r->gw_at) / 1000000);
        }
        if (r->ts < g->t0)
            g->t0 = r->ts;
        if (r->ts > g->t1)
            g->t1 = r->ts;
    }
    sb_free(&key);
    json_t *out = json_array();
    for (const struct store_ent *e = groups.oldest; e; e = e->newer) {
        struct run_group *g = e->val;
        const struct arow *k = g->first;
        if (g->nl)
            qsort(g->lat, g->nl, sizeof *g->lat, cmp_int);
        double sum = 0;
        for (size_t i = 0; i < g->nl; i++)
            sum += g->lat[i];
        json_t *o = json_object();
        json_object_set_new(o, "test_run_id", str_or_null(k->test_run_id));
        json_object_set_new(o, "test_scenario", str_or_null(k->test_scenario));
        json_object_set_new(o, "load_level", str_or_null(k->load_level));
        json_object_set_new(o, "total_requests", json_integer((json_int_t)g->total));
        json_object_set_new(o, "successful", json_integer((json_int_t)g->ok));
        json_object_set_new(o, "failed", json_integer((json_int_t)g->bad));
        json_object_set_new(o, "avg_latency", g->nl ? json_integer((json_int_t)llround(sum / (double)g->nl)) : json_null());
        json_object_set_new(o, "p95_latency", pct(g->lat, g->nl, 0.95));
        json_object_set_new(o, "test_start", ts_json(g->t0));
        json_object_set_new(o, "test_end", ts_json(g->t1));
        json_object_set_new(o, "duration_seconds", json_integer((json_int_t)llround((double)(g->t1 - g->t0) / 1e9)));
        json_array_append_new(out, o);
    }
    store_destroy(&groups);
    return out;
}

static void h_performance(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *all = run_summaries(req->params[0]);
    if (json_array_size(all) == 0) {
        json_decref(all);
        detail(resp, 404, "Test run not found");
        return;
    }
    reply_json(resp, 200, json_incref(json_array_get(all, 0)), false);
    json_decref(all);
}

static int by_start_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "test_start"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "test_start"));
    return -strcmp(x ? x : "", y ? y : "");
}

static void h_test_runs(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    long limit;
    if (!query_int(req, resp, "limit", 10, &limit))
        return;
    json_t *all = run_summaries(NULL);
    size_t n = json_array_size(all);
    json_t **v = xmalloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(all, i);
    qsort(v, n, sizeof *v, by_start_desc);
    json_t *out = json_array();
    for (size_t i = 0; i < n && (long)i < limit; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(all);
    reply_json(resp, 200, out, false);
}

static void h_openapi(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:{s:s, s:s, s:s}, s:{}}", "openapi", "3.1.0", "info", "title",
                         "DelTran Analytics Collector", "description",
                         "Collects and analyzes transaction performance data", "version", "1.0.0", "paths"),
               false);
}

static void h_docs(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_raw(resp, 200, "text/html; charset=utf-8",
              "<!DOCTYPE html><html><head><title>DelTran Analytics Collector - Swagger UI</title></head>"
              "<body><p>deltran-sim: see /openapi.json</p></body></html>");
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    detail(resp, 500, "injected by deltran-sim");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "POST", "/events/transaction", h_event, 0 },
    { "POST", "/transactions", h_create, 0 },
    { "GET", "/metrics/dashboard", h_dashboard, 0 },
    { "GET", "/metrics/performance/{}", h_performance, 0 },
    { "GET", "/metrics/test-runs", h_test_runs, 0 },
    { "GET", "/transactions/{}", h_get, 0 },
    { "GET", "/transactions", h_list, 0 },
    { "DELETE", "/transactions/cleanup", h_cleanup, 0 },
    { "GET", "/openapi.json", h_openapi, ROUTE_NO_INJECT },
    { "GET", "/docs", h_docs, ROUTE_NO_INJECT },
};

const struct service svc_analytics = {
    .name = "analytics", .port = 8093, .family = FAMILY_FASTAPI,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
    .init = an_init, .shutdown = an_shutdown, .injected_error = injected,
};
