/*
 * The compliance engine on 8086 (actix, deltran-api.md §4.6): sanctions,
 * AML, PEP and pattern checks reduced to deterministic rules on names and
 * amounts. Health as the risk engine's (no "service", epoch seconds).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reply.h"
#include "sim.h"
#include "util.h"
#include "validate.h"

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:I}", "status", "healthy", "version", "1.0.0", "uptime_seconds",
                         (json_int_t)(wall_ns() / 1000000000)),
               false);
}

/* Names on the stand-in's sanctions list: anything containing "sanction". */
static bool listed(const char *name)
{
    return strcasestr(name, "sanction") != NULL;
}

static void h_check(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = {
        { "transaction_id", FK_UUID, false, NULL },   { "sender_bank_id", FK_UUID, false, NULL },
        { "receiver_bank_id", FK_UUID, false, NULL }, { "sender_name", FK_STR, false, NULL },
        { "sender_account", FK_STR, false, NULL },    { "sender_country", FK_STR, false, NULL },
        { "receiver_name", FK_STR, false, NULL },     { "receiver_account", FK_STR, false, NULL },
        { "receiver_country", FK_STR, false, NULL },  { "amount", FK_DEC, false, NULL },
        { "currency", FK_STR, false, NULL },          { "purpose", FK_STR, true, NULL },
        { "metadata", FK_OBJ, true, NULL },
    };
    json_t *in = actix_json(req, resp, f, sizeof f / sizeof f[0]);
    if (!in)
        return;
    struct decimal amt;
    decimal_from_json(json_object_get(in, "amount"), &amt);
    double a = decimal_to_double(amt);
    bool sanctioned = listed(jstr(in, "sender_name")) || listed(jstr(in, "receiver_name"));
    bool aml_alert = a >= 1000000;
    const char *status = sanctioned ? "Rejected" : aml_alert ? "ReviewRequired" : "Approved";
    const char *rating = sanctioned ? "Prohibited" : aml_alert ? "High" : a >= 100000 ? "Medium" : "Low";
    char now[40];
    fmt_time_rust(wall_ns(), now);
    json_t *lists = sanctioned ? json_pack("[s]", "OFAC-SDN") : json_array();
    json_t *actions = sanctioned ? json_pack("[s]", "Block transaction")
                      : aml_alert ? json_pack("[s]", "Enhanced due diligence") : json_array();
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:{s:b, s:o, s:[], s:f}, s:{s:f, s:b, s:[], s:b}, s:{s:b, s:n, s:n, s:n, s:s},"
                         " s:{s:b, s:f, s:[]}, s:s, s:o, s:s}",
                         "transaction_id", jstr(in, "transaction_id"), "overall_status", status, "sanctions_check",
                         "is_sanctioned", sanctioned, "lists_matched", lists, "match_details", "confidence",
                         sanctioned ? 0.95 : 0.0, "aml_check", "risk_score", aml_alert ? 0.8 : 0.1,
                         "requires_sar", aml_alert, "alerts", "requires_ctr", a >= 10000, "pep_check", "is_pep", 0,
                         "pep_type", "position", "country", "risk_level", "Low", "pattern_analysis",
                         "is_suspicious", 0, "anomaly_score", 0.05, "patterns_detected", "risk_rating", rating,
                         "required_actions", actions, "checked_at", now),
               false);
    json_decref(in);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 500, json_pack("{s:s, s:s}", "error", "DatabaseError", "message", "injected by deltran-sim"),
               false);
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "POST", "/api/v1/compliance/check", h_check, 0 },
};

const struct service svc_compliance = {
    .name = "compliance", .port = 8086, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0], .injected_error = injected,
};
