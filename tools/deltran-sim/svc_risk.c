/*
 * The risk engine on 8084 (actix, deltran-api.md §4.4): a score from the
 * amount, corridor and transaction type, bank limits kept in memory,
 * 24-hour counters. Its health has no "service" field and reports
 * uptime_seconds as seconds since the epoch, as the real one does.
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

static struct store limits;
static long long evaluated, approved, rejected, review;
static double score_sum;

static void rk_init(void)
{
    store_init(&limits, g_sim.cfg.max_records, free);
}

static void rk_shutdown(void)
{
    store_destroy(&limits);
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:I}", "status", "healthy", "version", "1.0.0", "uptime_seconds",
                         (json_int_t)(wall_ns() / 1000000000)),
               false);
}

static void risk_error(struct http_resp *resp, int status, const char *code, const char *msg)
{
    reply_json(resp, status, json_pack("{s:s, s:s}", "error", code, "message", msg), false);
}

static void h_evaluate(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const char *const types[] = { "B2B", "B2C", "C2C", "Internal", NULL };
    static const struct field f[] = {
        { "transaction_id", FK_UUID, false, NULL },   { "sender_bank_id", FK_UUID, false, NULL },
        { "receiver_bank_id", FK_UUID, false, NULL }, { "amount", FK_DEC, false, NULL },
        { "from_currency", FK_STR, false, NULL },     { "to_currency", FK_STR, false, NULL },
        { "sender_country", FK_STR, false, NULL },    { "receiver_country", FK_STR, false, NULL },
        { "transaction_type", FK_ENUM, false, types }, { "metadata", FK_OBJ, true, NULL },
    };
    json_t *in = actix_json(req, resp, f, sizeof f / sizeof f[0]);
    if (!in)
        return;
    struct decimal amt;
    decimal_from_json(json_object_get(in, "amount"), &amt);
    double a = decimal_to_double(amt);
    if (a <= 0) {
        risk_error(resp, 400, "VALIDATION_ERROR", "Amount must be positive");
        json_decref(in);
        return;
    }
    double amount_score = fmin(100, a / 20000.0);
    bool cross = strcmp(jstr(in, "sender_country"), jstr(in, "receiver_country")) != 0;
    double corridor_score = cross ? 30 : 10;
    double type_score = strcmp(jstr(in, "transaction_type"), "C2C") == 0 ? 40 : 15;
    double score = fmin(100, 0.5 * amount_score + 0.3 * corridor_score + 0.2 * type_score);
    const char *decision = score < 30 ? "Approve" : score < 50 ? "ApproveWithLimit" : score < 75 ? "Review" : "Reject";
    evaluated++;
    score_sum += score;
    if (score < 50)
        approved++;
    else if (score < 75)
        review++;
    else
        rejected++;
    char now[40];
    fmt_time_rust(wall_ns(), now);
    json_t *factors = json_pack("[{s:s, s:f, s:f, s:s}, {s:s, s:f, s:f, s:s}, {s:s, s:f, s:f, s:s}]", "name",
                                "amount", "weight", 0.5, "score", amount_score, "reason", "Transaction size",
                                "name", "corridor", "weight", 0.3, "score", corridor_score, "reason",
                                cross ? "Cross-border corridor" : "Domestic corridor", "name", "transaction_type",
                                "weight", 0.2, "score", type_score, "reason", "Transaction type profile");
    char expl[96];
    snprintf(expl, sizeof expl, "Risk score %.1f: %s", score, decision);
    reply_json(resp, 200,
               json_pack("{s:s, s:f, s:s, s:f, s:o, s:s, s:s}", "transaction_id", jstr(in, "transaction_id"),
                         "overall_score", score, "decision", decision, "confidence", 0.87, "factors", factors,
                         "explanation", expl, "calculated_at", now),
               false);
    json_decref(in);
}

static bool bank_param(struct http_req *req, struct http_resp *resp, char out[37])
{
    if (!uuid_valid(req->params[0])) {
        resp->status = 404;
        return false;
    }
    uuid_normalize(req->params[0], out);
    return true;
}

static void h_limit(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char bank[37], key[160];
    if (!bank_param(req, resp, bank))
        return;
    snprintf(key, sizeof key, "%s|%s", bank, req->params[1]);
    double *base = store_get(&limits, key);
    double b = base ? *base : 1000000.0;
    char until[40];
    fmt_time_rust(wall_ns() + INT64_C(86400000000000), until);
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:o, s:o, s:f, s:s, s:s}", "bank_id", bank, "corridor", req->params[1],
                         "current_limit", decimal_json(decimal_from_double(b, 2)), "base_limit",
                         decimal_json(decimal_from_double(b, 2)), "adjustment_factor", 1.0, "reason",
                         base ? "Limit set by operator" : "Default limit", "valid_until", until),
               false);
}

static void h_set_limit(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "corridor", FK_STR, false, NULL }, { "base_limit", FK_DEC, false, NULL } };
    char bank[37], key[160];
    if (!bank_param(req, resp, bank))
        return;
    json_t *in = actix_json(req, resp, f, 2);
    if (!in)
        return;
    struct decimal d;
    decimal_from_json(json_object_get(in, "base_limit"), &d);
    snprintf(key, sizeof key, "%s|%s", bank, jstr(in, "corridor"));
    double *v = xmalloc(sizeof *v);
    *v = decimal_to_double(d);
    store_put(&limits, key, v);
    reply_json(resp, 200, json_pack("{s:s}", "status", "updated"), false);
    json_decref(in);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:I, s:I, s:I, s:I, s:f, s:[]}", "total_evaluated", (json_int_t)evaluated, "approved",
                         (json_int_t)approved, "rejected", (json_int_t)rejected, "under_review", (json_int_t)review,
                         "average_score", evaluated ? score_sum / (double)evaluated : 0.0, "high_risk_corridors"),
               false);
}

static void h_cb_status(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:i, s:i, s:n}", "state", "Closed", "failure_count", 0, "success_count",
                         (int)evaluated, "last_failure_time"),
               false);
}

static void h_cb_reset(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, json_pack("{s:s}", "status", "reset"), false);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    risk_error(resp, 500, "DATABASE_ERROR", "injected by deltran-sim");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "POST", "/api/v1/risk/evaluate", h_evaluate, 0 },
    { "GET", "/api/v1/risk/limits/{}/{}", h_limit, 0 },
    { "PUT", "/api/v1/risk/limits/{}", h_set_limit, 0 },
    { "GET", "/api/v1/risk/metrics", h_metrics, 0 },
    { "GET", "/api/v1/risk/circuit-breaker/status", h_cb_status, 0 },
    { "POST", "/api/v1/risk/circuit-breaker/reset", h_cb_reset, 0 },
};

const struct service svc_risk = {
    .name = "risk", .port = 8084, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
    .init = rk_init, .shutdown = rk_shutdown, .injected_error = injected,
};
