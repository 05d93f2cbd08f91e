/*
 * The token engine on 8081 (actix, deltran-api.md §4.1): mint, burn,
 * transfer and convert against in-memory balances per bank and currency,
 * with the engine's UUID and decimal validation and error envelope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"
#include "validate.h"

struct token {
    char id[37], bank_id[37];
    char currency[16];
    struct decimal amount;
    char *reference;
    const char *status;
    int64_t created;
};

struct balance {
    char bank_id[37];
    char currency[16];
    struct decimal available, locked;
};

static struct store tokens, balances;
static uint64_t minted, burned, transferred, converted;

static void free_token(void *p)
{
    struct token *t = p;
    free(t->reference);
    free(t);
}

static void tk_init(void)
{
    store_init(&tokens, g_sim.cfg.max_records, free_token);
    store_init(&balances, 0, free);
}

static void tk_shutdown(void)
{
    store_destroy(&tokens);
    store_destroy(&balances);
}

static struct balance *balance_of(const char *bank, const char *currency, bool create)
{
    char key[64];
    snprintf(key, sizeof key, "%s|%s", bank, currency);
    struct balance *b = store_get(&balances, key);
    if (!b && create) {
        b = xcalloc(1, sizeof *b);
        snprintf(b->bank_id, sizeof b->bank_id, "%s", bank);
        snprintf(b->currency, sizeof b->currency, "%s", currency);
        b->available.scale = 2;
        b->locked.scale = 2;
        store_put(&balances, key, b);
    }
    return b;
}

static json_t *token_json(const struct token *t)
{
    char ts[40];
    fmt_time_rust(t->created, ts);
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s}", "id", t->id, "currency", t->currency, "amount",
                     decimal_json(t->amount), "bank_id", t->bank_id, "status", t->status, "created_at", ts,
                     "transaction_reference", t->reference);
}

static struct token *new_token(const char *bank, const char *currency, struct decimal amount, const char *ref)
{
    struct token *t = xcalloc(1, sizeof *t);
    uuid_v4(t->id);
    uuid_normalize(bank, t->bank_id);
    snprintf(t->currency, sizeof t->currency, "%s", currency);
    t->amount = amount;
    t->reference = xstrdup(ref);
    t->status = "ACTIVE";
    t->created = wall_ns();
    store_put(&tokens, t->id, t);
    return t;
}

static bool positive(struct http_resp *resp, struct decimal a)
{
    if (a.mant > 0)
        return true;
    reply_engine_error(resp, 400, "validation_error", "Amount must be positive");
    return false;
}

static struct decimal dec_of(json_t *in, const char *k)
{
    struct decimal d = { 0, 0 };
    decimal_from_json(json_object_get(in, k), &d);
    return d;
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, json_pack("{s:s, s:s, s:s}", "status", "healthy", "service", "token-engine", "version", "1.0.0"),
               false);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    resp->ctype = "text/plain; version=0.0.4";
    sb_addf(&resp->body,
            "# HELP token_operations_total Token operations by kind\n# TYPE token_operations_total counter\n"
            "token_operations_total{operation=\"mint\"} %llu\ntoken_operations_total{operation=\"burn\"} %llu\n"
            "token_operations_total{operation=\"transfer\"} %llu\ntoken_operations_total{operation=\"convert\"} %llu\n"
            "# HELP token_active_tokens Tokens held in memory\n# TYPE token_active_tokens gauge\ntoken_active_tokens %zu\n",
            (unsigned long long)minted, (unsigned long long)burned, (unsigned long long)transferred,
            (unsigned long long)converted, tokens.count);
}

static void h_mint(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "currency", FK_STR, false, NULL }, { "amount", FK_DEC, false, NULL },
                                      { "bank_id", FK_UUID, false, NULL }, { "reference", FK_STR, false, NULL },
                                      { "metadata", FK_OBJ, true, NULL } };
    json_t *in = actix_json(req, resp, f, 5);
    if (!in)
        return;
    const char *cur = jstr(in, "currency");
    struct decimal amt = dec_of(in, "amount");
    if (strlen(cur) < 3 || strlen(cur) > 4) {
        reply_engine_error(resp, 400, "validation_error", "currency: Currency must be 3-4 characters");
    } else if (positive(resp, amt)) {
        char xcur[16];
        snprintf(xcur, sizeof xcur, "x%s", cur);
        struct token *t = new_token(jstr(in, "bank_id"), xcur, amt, jstr(in, "reference"));
        struct balance *b = balance_of(t->bank_id, xcur, true);
        decimal_add(b->available, amt, &b->available);
        minted++;
        reply_json(resp, 200, token_json(t), false);
    }
    json_decref(in);
}

static void h_burn(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "token_id", FK_UUID, false, NULL }, { "amount", FK_DEC, false, NULL },
                                      { "reference", FK_STR, false, NULL },
                                      { "destination_account", FK_STR, false, NULL } };
    json_t *in = actix_json(req, resp, f, 4);
    if (!in)
        return;
    char id[37];
    uuid_normalize(jstr(in, "token_id"), id);
    struct token *t = store_get(&tokens, id);
    struct decimal amt = dec_of(in, "amount");
    if (!t) {
        reply_engine_error(resp, 404, "not_found", "Token not found");
    } else if (positive(resp, amt)) {
        struct balance *b = balance_of(t->bank_id, t->currency, true);
        if (decimal_cmp(t->amount, amt) < 0 || decimal_cmp(b->available, amt) < 0) {
            reply_engine_error(resp, 400, "insufficient_balance", "Insufficient balance");
        } else {
            decimal_add(t->amount, decimal_neg(amt), &t->amount);
            decimal_add(b->available, decimal_neg(amt), &b->available);
            if (t->amount.mant == 0)
                t->status = "BURNED";
            burned++;
            reply_json(resp, 200, token_json(t), false);
        }
    }
    json_decref(in);
}

static void h_transfer(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "from_bank_id", FK_UUID, false, NULL }, { "to_bank_id", FK_UUID, false, NULL },
                                      { "currency", FK_STR, false, NULL }, { "amount", FK_DEC, false, NULL },
                                      { "reference", FK_STR, false, NULL } };
    json_t *in = actix_json(req, resp, f, 5);
    if (!in)
        return;
    char from[37], to[37];
    uuid_normalize(jstr(in, "from_bank_id"), from);
    uuid_normalize(jstr(in, "to_bank_id"), to);
    struct decimal amt = dec_of(in, "amount");
    const char *cur = jstr(in, "currency");
    char xcur[16];
    snprintf(xcur, sizeof xcur, "%s%s", cur[0] == 'x' ? "" : "x", cur);
    if (positive(resp, amt)) {
        struct balance *src = balance_of(from, xcur, false);
        if (!src || decimal_cmp(src->available, amt) < 0) {
            reply_engine_error(resp, 400, "insufficient_balance", "Insufficient balance");
        } else {
            decimal_add(src->available, decimal_neg(amt), &src->available);
            struct balance *dst = balance_of(to, xcur, true);
            decimal_add(dst->available, amt, &dst->available);
            struct token *t = new_token(to, xcur, amt, jstr(in, "reference"));
            transferred++;
            reply_json(resp, 200, token_json(t), false);
        }
    }
    json_decref(in);
}

static double rate_to_usd(const char *c)
{
    if (strcmp(c, "USD") == 0)
        return 1.0;
    if (strcmp(c, "AED") == 0)
        return 0.2723;
    if (strcmp(c, "INR") == 0)
        return 0.012;
    return 0;
}

static void h_convert(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct field f[] = { { "bank_id", FK_UUID, false, NULL }, { "from_currency", FK_STR, false, NULL },
                                      { "to_currency", FK_STR, false, NULL }, { "amount", FK_DEC, false, NULL },
                                      { "reference", FK_STR, false, NULL } };
    json_t *in = actix_json(req, resp, f, 5);
    if (!in)
        return;
    const char *fc = jstr(in, "from_currency"), *tc = jstr(in, "to_currency");
    struct decimal amt = dec_of(in, "amount");
    double rf = rate_to_usd(fc), rt_ = rate_to_usd(tc);
    char bank[37];
    uuid_normalize(jstr(in, "bank_id"), bank);
    if (!rf || !rt_ || strcmp(fc, tc) == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "Invalid currency pair: %s -> %s", fc, tc);
        reply_engine_error(resp, 400, "invalid_currency", msg);
    } else if (positive(resp, amt)) {
        char xf[16], xt[16];
        snprintf(xf, sizeof xf, "x%s", fc);
        snprintf(xt, sizeof xt, "x%s", tc);
        struct balance *src = balance_of(bank, xf, false);
        if (!src || decimal_cmp(src->available, amt) < 0) {
            reply_engine_error(resp, 400, "insufficient_balance", "Insufficient balance");
        } else {
            decimal_add(src->available, decimal_neg(amt), &src->available);
            struct decimal out = decimal_from_double(decimal_to_double(amt) * rf / rt_, 2);
            struct balance *dst = balance_of(bank, xt, true);
            decimal_add(dst->available, out, &dst->available);
            struct token *t = new_token(bank, xt, out, jstr(in, "reference"));
            converted++;
            reply_json(resp, 200, token_json(t), false);
        }
    }
    json_decref(in);
}

static json_t *balances_json(const char *bank, const char *only)
{
    json_t *arr = json_array();
    for (const struct store_ent *e = balances.oldest; e; e = e->newer) {
        const struct balance *b = e->val;
        if (strcmp(b->bank_id, bank) != 0)
            continue;
        if (only && *only && strcmp(b->currency, only) != 0 && strcmp(b->currency + 1, only) != 0)
            continue;
        struct decimal total;
        decimal_add(b->available, b->locked, &total);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "bank_id", b->bank_id, "currency",
                                             b->currency, "available_balance", decimal_json(b->available),
                                             "locked_balance", decimal_json(b->locked), "total_balance",
                                             decimal_json(total)));
    }
    return arr;
}

static bool bank_param(struct http_req *req, struct http_resp *resp, char out[37])
{
    if (!uuid_valid(req->params[0])) {
        resp->status = 404; /* actix Path<Uuid> extraction failure */
        return false;
    }
    uuid_normalize(req->params[0], out);
    return true;
}

static void h_balance(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char bank[37], cur[32] = "";
    if (!bank_param(req, resp, bank))
        return;
    http_query(req, "currency", cur, sizeof cur);
    reply_json(resp, 200, json_pack("{s:s, s:o}", "bank_id", bank, "balances", balances_json(bank, cur)), false);
}

static void h_balances(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char bank[37];
    if (!bank_param(req, resp, bank))
        return;
    json_t *arr = balances_json(bank, NULL);
    size_t n = json_array_size(arr);
    reply_json(resp, 200, json_pack("{s:s, s:o, s:i}", "bank_id", bank, "balances", arr, "total_currencies", (int)n),
               false);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_engine_error(resp, 500, "database_error", "Database error: injected by deltran-sim");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/api/v1/tokens/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_metrics, ROUTE_NO_INJECT },
    { "POST", "/api/v1/tokens/mint", h_mint, 0 },
    { "POST", "/api/v1/tokens/burn", h_burn, 0 },
    { "POST", "/api/v1/tokens/transfer", h_transfer, 0 },
    { "POST", "/api/v1/tokens/convert", h_convert, 0 },
    { "GET", "/api/v1/tokens/balance/{}", h_balance, 0 },
    { "GET", "/api/v1/tokens/balances/{}", h_balances, 0 },
};

const struct service svc_token = {
    .name = "token", .port = 8081, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0], .trim_slash = true,
    .init = tk_init, .shutdown = tk_shutdown, .injected_error = injected,
};
