/*
 * The liquidity router on 8083 (actix, deltran-api.md §4.3): stateless
 * heuristics, like the real one; /metrics answers with the health JSON.
 */
#include <math.h>
#include <string.h>

#include "reply.h"
#include "sim.h"
#include "util.h"
#include "validate.h"

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s}", "status", "healthy", "service", "liquidity-router", "version", "1.0.0"),
               false);
}

static void h_predict(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "corridor", FK_STR, false, NULL }, { "amount", FK_DEC, false, NULL },
                                      { "bank_id", FK_UUID, false, NULL },
                                      { "time_horizon_hours", FK_INT, false, NULL } };
    json_t *in = actix_json(req, resp, f, 4);
    if (!in)
        return;
    struct decimal amt;
    decimal_from_json(json_object_get(in, "amount"), &amt);
    double a = decimal_to_double(amt);
    double hours = (double)json_integer_value(json_object_get(in, "time_horizon_hours"));
    double conf = fmax(0.1, fmin(0.95, 0.9 - a / 5e6 + hours / 100));
    bool instant = a <= 500000 && conf >= 0.6;
    double gap = instant ? 0 : a * 0.25;
    char now[40];
    fmt_time_rust(wall_ns(), now);
    json_t *sources = json_pack("[{s:s, s:o, s:i, s:i}, {s:s, s:o, s:i, s:i}]", "source_type", "NettingPool",
                                "amount_available", decimal_json(decimal_from_double(a * 0.6, 2)), "cost_bps", 2,
                                "execution_time_seconds", 5, "source_type", "MarketMaker", "amount_available",
                                decimal_json(decimal_from_double(a * 1.5, 2)), "cost_bps", 8,
                                "execution_time_seconds", 30);
    reply_json(resp, 200,
               json_pack("{s:b, s:f, s:o, s:f, s:o, s:o, s:s}", "can_instant_settle", instant, "confidence", conf,
                         "expected_counterflow", decimal_json(decimal_from_double(a * 0.35, 2)),
                         "counterflow_probability", 0.72, "liquidity_gap",
                         decimal_json(decimal_from_double(gap, 2)), "recommended_sources", sources,
                         "predicted_at", now),
               false);
    json_decref(in);
}

static double usd(const char *c)
{
    static const struct {
        const char *c;
        double v;
    } r[] = { { "USD", 1.0 }, { "AED", 0.2723 }, { "INR", 0.012 }, { "EUR", 1.08 }, { "GBP", 1.27 } };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (strcmp(r[i].c, c) == 0)
            return r[i].v;
    return 0;
}

static void h_optimize(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    const char *from = req->params[0], *to = req->params[1];
    double a = usd(from), b = usd(to);
    if (!a || !b || strcmp(from, to) == 0) {
        reply_json(resp, 404, json_pack("{s:s}", "error", "No conversion path found"), false);
        return;
    }
    bool direct = strcmp(from, "USD") == 0 || strcmp(to, "USD") == 0;
    json_t *route = direct ? json_pack("[s,s]", from, to) : json_pack("[s,s,s]", from, "USD", to);
    char pair[16];
    snprintf(pair, sizeof pair, "%s/%s", from, to);
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:o, s:i, s:i, s:{s:f}}", "from_currency", from, "to_currency", to, "route",
                         route, "total_cost_bps", direct ? 5 : 12, "estimated_time_seconds", direct ? 30 : 60,
                         "fx_rates", pair, a / b),
               false);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 500, json_pack("{s:s}", "error", "injected by deltran-sim"), false);
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/api/v1/liquidity/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_health, ROUTE_NO_INJECT },
    { "POST", "/api/v1/liquidity/predict", h_predict, 0 },
    { "GET", "/api/v1/liquidity/optimize/{}/{}", h_optimize, 0 },
};

const struct service svc_liquidity = {
    .name = "liquidity", .port = 8083, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0], .injected_error = injected,
};
