/*
 * The gateway on 8080 in its two profiles (deltran-api.md §3):
 * orchestrating (cmd/main.go: login, JWT on every /api/v1 route, token
 * bucket per client IP:port, downstream chain with hystrix) and enhanced
 * (main_enhanced.go: tiered fixed-window limits from X-User-Role, JWT off
 * unless --auth on, security headers, analytics events).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "inject.h"
#include "jwt.h"
#include "ratelimit.h"
#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"

struct transfer {
    char id[48];
    char *sender_bank, *receiver_bank, *from, *to;
    double amount;
    bool instant;
    int64_t created_ns;
};

static struct store transfers;
static struct tbucket g1_limiter;
static struct fwindow g3_tiers[4];
static uv_timer_t sweep_timer;

static const char *const tier_names[4] = { "anonymous", "basic", "premium", "admin" };
static const int tier_limits[4] = { 10, 100, 1000, 10000 };

/* hystrix for the compliance step: 10 one-second buckets. */
static struct {
    int64_t sec[10];
    int total[10], failed[10];
    int64_t open_until_ns;
} breaker;

static void free_transfer(void *p)
{
    struct transfer *t = p;
    free(t->sender_bank);
    free(t->receiver_bank);
    free(t->from);
    free(t->to);
    free(t);
}

static void on_sweep(uv_timer_t *t)
{
    int64_t now = mono_ns();
    tbucket_sweep(&g1_limiter, now);
    for (int i = 0; i < 4; i++)
        fwindow_sweep(&g3_tiers[i], now);
}

static void gw_init(void)
{
    store_init(&transfers, g_sim.cfg.max_records, free_transfer);
    tbucket_init(&g1_limiter, g_sim.cfg.g1_rpm, g_sim.cfg.g1_burst);
    for (int i = 0; i < 4; i++)
        fwindow_init(&g3_tiers[i], tier_limits[i], 60 * INT64_C(1000000000));
    uv_timer_init(g_sim.loop, &sweep_timer);
    uv_timer_start(&sweep_timer, on_sweep, 60000, 60000);
    uv_unref((uv_handle_t *)&sweep_timer);
}

static void gw_shutdown(void)
{
    store_destroy(&transfers);
    tbucket_destroy(&g1_limiter);
    for (int i = 0; i < 4; i++)
        fwindow_destroy(&g3_tiers[i]);
    uv_timer_stop(&sweep_timer);
    uv_close((uv_handle_t *)&sweep_timer, NULL);
}

static bool enhanced(void)
{
    return g_sim.cfg.profile == GW_ENHANCED;
}

/* G1's errorResponse: {error:"error", message, code:int}. */
static void g1_error(struct http_resp *resp, int status, const char *msg)
{
    reply_json(resp, status, json_pack("{s:s, s:s, s:i}", "error", "error", "message", msg, "code", status), true);
}

/* G3's respondWithError: a map[string]string, so keys come out sorted. */
static void g3_error(struct http_resp *resp, int status, const char *msg)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    reply_json(resp, status, json_pack("{s:s, s:s}", "code", code, "error", msg), true);
}

static double fx_rate(const char *corridor)
{
    static const struct {
        const char *c;
        double r;
    } rates[] = { { "INR-AED", 0.044 }, { "AED-INR", 22.73 }, { "USD-AED", 3.67 },
                  { "AED-USD", 0.27 },  { "INR-USD", 0.012 }, { "USD-INR", 83.33 } };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (strcmp(rates[i].c, corridor) == 0)
            return rates[i].r;
    return 1.0;
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char up[48];
    fmt_go_duration(mono_ns() - g_sim.start_mono_ns, up);
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s, s:s}", "status", "healthy", "service",
                         enhanced() ? "gateway-enhanced" : "gateway", "version",
                         enhanced() ? "2.0.0" : "1.0.0", "uptime", up),
               true);
}

static void h_login(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct gofield f[] = { { "bank_id", GO_STRING }, { "password", GO_STRING } };
    json_t *in = go_decode(req, f, 2);
    if (!in) {
        g1_error(resp, 400, "Invalid request body");
        return;
    }
    if (strcmp(jstr(in, "password"), "demo") != 0) {
        json_decref(in);
        g1_error(resp, 401, "Invalid credentials");
        return;
    }
    long long now = wall_ns() / 1000000000;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "bank_id", jstr(in, "bank_id"), "role", "bank",
                               "iss", "deltran-gateway", "exp", (json_int_t)(now + 86400), "iat",
                               (json_int_t)now);
    char *tok = jwt_sign_hs256(g_sim.cfg.jwt_secret, claims);
    json_decref(claims);
    reply_json(resp, 200, json_pack("{s:s, s:i, s:s}", "bank_id", jstr(in, "bank_id"), "expires_in", 86400, "token", tok),
               true);
    free(tok);
    json_decref(in);
}

static void breaker_record(int64_t now, bool failed)
{
    int64_t sec = now / 1000000000;
    int i = (int)(sec % 10);
    if (breaker.sec[i] != sec) {
        breaker.sec[i] = sec;
        breaker.total[i] = breaker.failed[i] = 0;
    }
    breaker.total[i]++;
    breaker.failed[i] += failed;
    int total = 0, fails = 0;
    for (int k = 0; k < 10; k++)
        if (sec - breaker.sec[k] < 10) {
            total += breaker.total[k];
            fails += breaker.failed[k];
        }
    if (total >= 10 && fails * 2 >= total) {
        breaker.open_until_ns = now + 5 * INT64_C(1000000000);
        memset(breaker.total, 0, sizeof breaker.total);
        memset(breaker.failed, 0, sizeof breaker.failed);
    }
}

/* The orchestration of cmd/main.go, reduced to its observable outcomes:
 * returns 0 to go on, or has answered (500 or 403). */
static int g1_orchestrate(struct http_resp *resp, const char *txid, char *created)
{
    int64_t now = mono_ns();
    if (now < breaker.open_until_ns) {
        g1_error(resp, 500, "Transfer processing failed: compliance check failed: circuit breaker open for "
                            "compliance: hystrix: circuit open");
        return -1;
    }
    if (g_sim.cfg.downstream_fail) {
        /* The engines answer the gateway's mismatched JSON with 400; a
         * status is not a hystrix failure, so the circuit stays closed. */
        breaker_record(now, false);
        g1_error(resp, 500, "Transfer processing failed: compliance check failed: compliance returned error "
                            "status 400: Json deserialize error: missing field `sender_bank_id` at line 1 column 118");
        return -1;
    }
    if (inject_error()) {
        g_sim.injected_errors++;
        breaker_record(now, true);
        g1_error(resp, 500, "Transfer processing failed: compliance check failed: circuit breaker open for "
                            "compliance: request failed: injected by deltran-sim");
        return -1;
    }
    breaker_record(now, false);
    if (inject_chance(g_sim.cfg.blocked_rate)) {
        json_t *cc = json_pack("{s:b, s:b, s:b, s:[s], s:s}", "passed", 0, "sanctions_check", 0, "aml_check", 1,
                               "alerts", "sanctions list match", "checked_at", created);
        reply_json(resp, 403,
                   json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "transaction_id", txid, "status", "BLOCKED",
                             "message", "Transaction blocked by compliance checks", "instant_settlement", 0,
                             "estimated_time", "", "created_at", created, "compliance_check", cc),
                   true);
        return -1;
    }
    return 0;
}

static void h_transfer(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct gofield f[] = {
        { "sender_bank", GO_STRING },    { "receiver_bank", GO_STRING },   { "amount", GO_NUMBER },
        { "from_currency", GO_STRING },  { "to_currency", GO_STRING },     { "reference", GO_STRING },
        { "sender_account", GO_STRING }, { "receiver_account", GO_STRING }, { "idempotency_key", GO_STRING },
        { "sender_name", GO_STRING },    { "receiver_name", GO_STRING },
    };
    json_t *in = go_decode(req, f, sizeof f / sizeof f[0]);
    if (!in) {
        (enhanced() ? g3_error : g1_error)(resp, 400, "Invalid request body");
        return;
    }
    double amount = jnum(in, "amount");
    const char *why = NULL;
    if (enhanced()) {
        if (amount <= 0)
            why = "Amount must be positive";
        else if (!*jstr(in, "sender_bank") || !*jstr(in, "receiver_bank"))
            why = "Sender and receiver banks are required";
    } else {
        static const char *const req_fields[] = { "sender_bank", "receiver_bank", NULL, "from_currency",
                                                  "to_currency", "sender_account", "receiver_account" };
        for (size_t i = 0; i < 7 && !why; i++) {
            static char msg[64];
            if (!req_fields[i]) {
                if (amount <= 0)
                    why = "amount must be positive";
            } else if (!*jstr(in, req_fields[i])) {
                snprintf(msg, sizeof msg, "%s is required", req_fields[i]);
                why = msg;
            }
        }
    }
    if (why) {
        (enhanced() ? g3_error : g1_error)(resp, 400, why);
        json_decref(in);
        return;
    }
    int64_t now = wall_ns();
    char created[40], txid[48];
    fmt_time_go(now, created);
    if (enhanced()) {
        snprintf(txid, sizeof txid, "TXN-%lld", (long long)now);
    } else {
        char u[37];
        uuid_v4(u);
        snprintf(txid, sizeof txid, "TXN-%.8s", u);
        if (g1_orchestrate(resp, txid, created) != 0) {
            json_decref(in);
            return;
        }
    }
    struct transfer *t = xcalloc(1, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", txid);
    t->sender_bank = xstrdup(jstr(in, "sender_bank"));
    t->receiver_bank = xstrdup(jstr(in, "receiver_bank"));
    t->from = xstrdup(jstr(in, "from_currency"));
    t->to = xstrdup(jstr(in, "to_currency"));
    t->amount = amount;
    t->instant = enhanced() || amount <= 100000;
    t->created_ns = now;
    store_put(&transfers, txid, t);

    json_t *out = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "transaction_id", txid, "status", "PROCESSING",
                            "message", "Transaction initiated successfully", "instant_settlement", t->instant,
                            "estimated_time", t->instant ? "5-30 seconds" : "6 hours (next clearing window)",
                            "created_at", created);
    if (enhanced()) {
        resp_header(resp, "X-Transaction-Id", "%s", txid);
        if (g_sim.cfg.analytics)
            analytics_create_transaction(txid, jstr(in, "sender_account"), jstr(in, "receiver_account"), amount,
                                         jstr(in, "from_currency"), NULL, NULL, NULL);
    } else {
        double score = amount / 10000.0;
        if (score > 100)
            score = 100;
        json_object_set_new(out, "compliance_check",
                            json_pack("{s:b, s:b, s:b, s:s}", "passed", 1, "sanctions_check", 1, "aml_check", 1,
                                      "checked_at", created));
        json_object_set_new(out, "risk_score",
                            json_pack("{s:o, s:s, s:b, s:s}", "score", go_num(score), "level",
                                      score < 30 ? "LOW" : score < 70 ? "MEDIUM" : "HIGH", "approved", 1,
                                      "evaluated_at", created));
    }
    reply_json(resp, 202, out, true);
    json_decref(in);
}

/* The real handlers return a fixed mock for any id; the stand-in answers
 * with what was stored for a transfer it made, and the mock otherwise. */
static void h_transaction(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    const char *id = req->params[0];
    const struct transfer *t = store_get(&transfers, id);
    int64_t now = wall_ns();
    char created[40], completed[40];
    int64_t c_ns = t ? t->created_ns : now - 300 * INT64_C(1000000000);
    int64_t d_ns = t ? t->created_ns + INT64_C(1000000000) : now - 240 * INT64_C(1000000000);
    fmt_time_go(c_ns, created);
    fmt_time_go(d_ns, completed);
    const char *from = t ? t->from : "INR", *to = t ? t->to : "AED";
    char corridor[64];
    snprintf(corridor, sizeof corridor, "%s-%s", from, to);
    double amount = t ? t->amount : 100000;
    if (enhanced()) {
        reply_json(resp, 200,
                   json_pack("{s:o, s:s, s:s, s:f, s:s, s:b, s:s, s:s, s:s}", "amount", go_num(amount), "completed_at",
                             completed, "created_at", created, "fx_rate", fx_rate(corridor), "from_currency", from,
                             "instant_settlement", t ? t->instant : 1, "status", "COMPLETED", "to_currency", to,
                             "transaction_id", id),
                   true);
        return;
    }
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:s, s:b, s:s, s:s}", "id", id, "sender_bank",
                         t ? t->sender_bank : "ICICI", "receiver_bank", t ? t->receiver_bank : "ENBD", "amount",
                         go_num(amount), "from_currency", from, "to_currency", to, "fx_rate", fx_rate(corridor), "status",
                         "COMPLETED", "instant_settlement", t ? t->instant : 1, "created_at", created,
                         "completed_at", completed),
               true);
}

static void h_transactions(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *arr = json_array();
    int n = 0;
    for (const struct store_ent *e = transfers.newest; e && n < 50; e = e->older, n++) {
        const struct transfer *t = e->val;
        char created[40], corridor[64];
        fmt_time_go(t->created_ns, created);
        snprintf(corridor, sizeof corridor, "%s-%s", t->from, t->to);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:s, s:b, s:s}", "id", t->id,
                                             "sender_bank", t->sender_bank, "receiver_bank", t->receiver_bank,
                                             "amount", go_num(t->amount), "from_currency", t->from, "to_currency", t->to,
                                             "fx_rate", fx_rate(corridor), "status", "COMPLETED",
                                             "instant_settlement", t->instant, "created_at", created));
    }
    if (n == 0) {
        char created[40];
        fmt_time_go(wall_ns() - 3600 * INT64_C(1000000000), created);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:f, s:s, s:b, s:s}", "id",
                                             "TXN-12345678", "sender_bank", "", "receiver_bank", "ENBD", "amount",
                                             100000, "from_currency", "INR", "to_currency", "AED", "fx_rate", 0.044,
                                             "status", "COMPLETED", "instant_settlement", 1, "created_at", created));
    }
    reply_json(resp, 200, arr, true);
}

static const struct {
    const char *code, *name, *country;
} banks[] = { { "ICICI", "ICICI Bank Limited", "IN" },
              { "ENBD", "Emirates NBD Bank", "AE" },
              { "ADCB", "Abu Dhabi Commercial Bank", "AE" },
              { "AXIS", "Axis Bank Limited", "IN" },
              { "HDFC", "HDFC Bank Limited", "IN" } };

static void h_banks(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < 5; i++) {
        char id[4];
        snprintf(id, sizeof id, "%zu", i + 1);
        json_array_append_new(arr, enhanced() ? json_pack("{s:s, s:s, s:s}", "code", banks[i].code, "country",
                                                          banks[i].country, "name", banks[i].name)
                                              : json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", id, "code",
                                                          banks[i].code, "name", banks[i].name, "country",
                                                          banks[i].country, "active", 1));
    }
    reply_json(resp, 200, arr, true);
}

static void h_corridors(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct {
        const char *from, *to;
        int max;
    } c[] = { { "INR", "AED", 1000000 }, { "AED", "INR", 100000 }, { "USD", "AED", 500000 } };
    json_t *arr = json_array();
    for (size_t i = 0; i < 3; i++) {
        char name[16], id[4];
        snprintf(name, sizeof name, "%s-%s", c[i].from, c[i].to);
        snprintf(id, sizeof id, "%zu", i + 1);
        json_array_append_new(arr, enhanced() ? json_pack("{s:b, s:s, s:b, s:i}", "active", 1, "corridor", name,
                                                          "instant_settlement", 1, "max_amount", c[i].max)
                                              : json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i}", "id", id, "name",
                                                          name, "from_currency", c[i].from, "to_currency", c[i].to,
                                                          "active", 1, "instant_settlement", 1, "max_amount",
                                                          c[i].max));
    }
    reply_json(resp, 200, arr, true);
}

static void h_rates(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char now[40];
    fmt_time_go(wall_ns(), now);
    reply_json(resp, 200,
               json_pack("{s:s, s:f, s:f, s:s}", "corridor", req->params[0], "rate", fx_rate(req->params[0]),
                         "spread", 0.001, "updated_at", now),
               true);
}

static const struct route g1_routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "POST", "/api/v1/auth/login", h_login, 0 },
    /* injection happens inside the orchestration, after validation */
    { "POST", "/api/v1/transfer", h_transfer, ROUTE_NO_INJECT },
    { "GET", "/api/v1/transaction/{}", h_transaction, 0 },
    { "GET", "/api/v1/transactions", h_transactions, 0 },
    { "GET", "/api/v1/banks", h_banks, 0 },
    { "GET", "/api/v1/corridors", h_corridors, 0 },
    { "GET", "/api/v1/rates/{}", h_rates, 0 },
};

static const struct route g3_routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "POST", "/api/v1/transfer", h_transfer, 0 },
    { "GET", "/api/v1/transaction/{}", h_transaction, 0 },
    { "GET", "/api/v1/banks", h_banks, 0 },
    { "GET", "/api/v1/corridors", h_corridors, 0 },
    { "GET", "/api/v1/rates/{}", h_rates, 0 },
};

static void cors(struct http_resp *resp, bool expose)
{
    resp_header(resp, "Access-Control-Allow-Origin", "*");
    resp_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    resp_header(resp, "Access-Control-Allow-Headers", "Content-Type, Authorization%s",
                expose ? ", X-Transaction-ID" : "");
    if (expose)
        resp_header(resp, "Access-Control-Expose-Headers", "X-Transaction-ID, X-RateLimit-Limit, X-RateLimit-Remaining");
}

/* G1 middleware: CORS, token bucket (before auth, not on /health), JWT. */
static bool g1_before(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    cors(resp, false);
    bool health = strcmp(req->path, "/health") == 0;
    if (g_sim.cfg.rate_limit && !health && !tbucket_allow(&g1_limiter, req->peer, mono_ns())) {
        reply_go_error(resp, 429, "Rate limit exceeded. Please try again later.");
        return true;
    }
    if (health || strcmp(req->path, "/api/v1/auth/login") == 0)
        return false;
    const char *auth = http_header(req, "Authorization");
    if (!auth || !*auth) {
        reply_go_error(resp, 401, "Missing authorization header");
        return true;
    }
    const char *sp = strchr(auth, ' ');
    if (!sp || (size_t)(sp - auth) != 6 || strncmp(auth, "Bearer", 6) != 0 || strchr(sp + 1, ' ')) {
        reply_go_error(resp, 401, "Invalid authorization header format");
        return true;
    }
    json_t *claims;
    char err[160];
    if (jwt_verify(g_sim.cfg.jwt_secret, sp + 1, wall_ns() / 1000000000, &claims, err, sizeof err) != 0) {
        reply_go_error(resp, 401, "Invalid or expired token");
        return true;
    }
    json_decref(claims);
    return false;
}

static int tier_of(const char *role)
{
    if (!role)
        return 0;
    if (strcmp(role, "admin") == 0)
        return 3;
    if (strcmp(role, "premium") == 0)
        return 2;
    if (strcmp(role, "user") == 0 || strcmp(role, "basic") == 0)
        return 1;
    return 0;
}

/* getClientIP: first X-Forwarded-For entry, else X-Real-IP, else IP:port. */
static void client_key(const struct http_req *req, char *out, size_t cap)
{
    const char *xff = http_header(req, "X-Forwarded-For");
    if (xff && *xff) {
        size_t n = strcspn(xff, ",");
        snprintf(out, cap, "%.*s", (int)n, xff);
        return;
    }
    const char *xri = http_header(req, "X-Real-IP");
    snprintf(out, cap, "%s", xri && *xri ? xri : req->peer);
}

/* G3 middleware in main_enhanced.go's order: CORS, security headers,
 * (analytics: see g3_after), tiered rate limit, JWT when enabled. */
static bool g3_before(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    cors(resp, true);
    resp_header(resp, "X-Frame-Options", "DENY");
    resp_header(resp, "X-Content-Type-Options", "nosniff");
    resp_header(resp, "X-Xss-Protection", "1; mode=block");
    resp_header(resp, "Referrer-Policy", "strict-origin-when-cross-origin");
    if (g_sim.cfg.rate_limit) {
        int tier = tier_of(http_header(req, "X-User-Role"));
        char key[256];
        client_key(req, key, sizeof key);
        int remaining;
        bool ok = fwindow_take(&g3_tiers[tier], key, mono_ns(), &remaining);
        long long reset = wall_ns() / 1000000000 + 60;
        resp_header(resp, "X-Ratelimit-Tier", "%s", tier_names[tier]);
        resp_header(resp, "X-Ratelimit-Limit", "%d", tier_limits[tier]);
        resp_header(resp, "X-Ratelimit-Remaining", "%d", remaining);
        resp_header(resp, "X-Ratelimit-Reset", "%lld", reset);
        if (!ok) {
            resp_header(resp, "Retry-After", "60");
            reply_json(resp, 429,
                       json_pack("{s:s, s:i, s:i, s:s}", "error", "Rate limit exceeded", "limit", tier_limits[tier],
                                 "retry_after", 60, "tier", tier_names[tier]),
                       true);
            return true;
        }
    }
    if (!g_sim.cfg.auth || strcmp(req->path, "/health") == 0 || strcmp(req->path, "/api/v1/banks") == 0 ||
        strcmp(req->path, "/api/v1/corridors") == 0)
        return false;
    const char *auth = http_header(req, "Authorization");
    if (!auth || !*auth) {
        g3_error(resp, 401, "Missing authorization header");
        return true;
    }
    if (strncmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
        g3_error(resp, 401, "Invalid authorization format");
        return true;
    }
    json_t *claims;
    char err[160], msg[200];
    if (jwt_verify(g_sim.cfg.jwt_secret, auth + 7, wall_ns() / 1000000000, &claims, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "Invalid token: %s", err);
        g3_error(resp, 401, msg);
        return true;
    }
    json_decref(claims);
    return false;
}

/* The analytics middleware: a "gateway" event before and a completion
 * event after every matched request but /health, under the request's
 * X-Transaction-ID or a fresh TXN-<nanos> (not the transfer's id). */
static void g3_after(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    if (!g_sim.cfg.analytics || strcmp(req->path, "/health") == 0)
        return;
    int64_t now = wall_ns();
    char txid[128];
    const char *h = http_header(req, "X-Transaction-ID");
    if (h && *h)
        snprintf(txid, sizeof txid, "%s", h);
    else
        snprintf(txid, sizeof txid, "TXN-%lld", (long long)now);
    const char *ua = http_header(req, "User-Agent");
    analytics_record_event(txid, "gateway", now, "gateway",
                           json_pack("{s:s, s:s, s:s, s:s}", "method", req->method, "path", req->path,
                                     "user_agent", ua ? ua : "", "remote_addr", req->peer));
    int st = resp->status;
    const char *type = st >= 200 && st < 300 ? "completed" : st >= 400 ? "failed" : "processing";
    analytics_record_event(txid, type, wall_ns(), "gateway",
                           json_pack("{s:i, s:i, s:i, s:b}", "status_code", st, "duration_ms", 0,
                                     "response_size", (int)resp->body.len, "success", st < 400));
}

static void g1_injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    g1_error(resp, 500, "injected by deltran-sim");
}

static void g3_injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    g3_error(resp, 500, "injected by deltran-sim");
}

const struct service svc_gateway_g1 = {
    .name = "gateway", .port = 8080, .family = FAMILY_GO_MUX,
    .routes = g1_routes, .nroutes = sizeof g1_routes / sizeof g1_routes[0],
    .init = gw_init, .shutdown = gw_shutdown, .before = g1_before, .injected_error = g1_injected,
};

const struct service svc_gateway_g3 = {
    .name = "gateway", .port = 8080, .family = FAMILY_GO_MUX,
    .routes = g3_routes, .nroutes = sizeof g3_routes / sizeof g3_routes[0],
    .init = gw_init, .shutdown = gw_shutdown, .before = g3_before, .after = g3_after,
    .injected_error = g3_injected,
};
