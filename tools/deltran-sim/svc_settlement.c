/*
 * The settlement engine's HTTP side (actix, deltran-api.md §4.7): health
 * with "database", a placeholder /metrics and the nostro/vostro account
 * lists. Settlements themselves are gRPC in the real engine; the stand-in
 * does not speak gRPC, so the brief's /settlements paths are 404 as there.
 */
#include "reply.h"
#include "sim.h"
#include "util.h"

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s, s:b}", "status", "healthy", "service", "settlement-engine", "version",
                         "0.1.0", "database", 1),
               false);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_raw(resp, 200, "text/plain", "# Prometheus metrics\n");
}

static json_t *accounts(const char *prefix)
{
    static const struct {
        const char *bank, *cur, *bal;
    } a[] = { { "ICICI", "INR", "250000000.00" }, { "ENBD", "AED", "18000000.00" }, { "HDFC", "INR", "180000000.00" },
              { "ADCB", "AED", "12000000.00" } };
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        char id[48];
        snprintf(id, sizeof id, "%s-%s-%s-001", prefix, a[i].bank, a[i].cur);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "account_id", id, "bank",
                                             a[i].bank, "currency", a[i].cur, "ledger_balance", a[i].bal,
                                             "available_balance", a[i].bal, "locked_balance", "0.00", "is_active", 1));
    }
    return arr;
}

static void h_nostro(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, accounts("NOSTRO"), false);
}

static void h_vostro(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, accounts("VOSTRO"), false);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 500, json_pack("{s:s}", "error", "injected by deltran-sim"), false);
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_metrics, ROUTE_NO_INJECT },
    { "GET", "/api/v1/accounts/nostro", h_nostro, 0 },
    { "GET", "/api/v1/accounts/vostro", h_vostro, 0 },
};

const struct service svc_settlement = {
    .name = "settlement", .port = 8088, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0], .injected_error = injected,
};
