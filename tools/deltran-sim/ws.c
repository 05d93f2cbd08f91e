#include "ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "server.h"
#include "sim.h"
#include "util.h"

#define WS_MAX_MESSAGE (512 * 1024)

enum { OP_CONT = 0, OP_TEXT = 1, OP_BIN = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

struct ws_session {
    struct conn *c;
    char *user_id, *bank_id;
    struct sbuf msg;  /* fragments of the message being assembled */
    bool in_message;
    bool closing;
    bool linked; /* in the hub's list */
    int64_t next_ping_ns, deadline_ns;
    struct ws_session *prev, *next;
};

static struct ws_session *sessions;
static size_t nsessions;
static uv_timer_t tick;
static bool tick_started;

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static void free_session(struct ws_session *s)
{
    free(s->user_id);
    free(s->bank_id);
    sb_free(&s->msg);
    free(s);
}

static void bad_handshake(struct http_resp *resp, const char *why)
{
    /* gorilla's Upgrader.Error: http.Error with the reason. */
    reply_go_error(resp, 400, why);
}

void ws_handshake(const struct http_req *req, struct http_resp *resp, bool require_user)
{
    char user[256] = "", bank[256] = "";
    http_query(req, "user_id", user, sizeof user);
    http_query(req, "bank_id", bank, sizeof bank);
    if (require_user && !user[0]) {
        reply_go_error(resp, 400, "user_id required");
        return;
    }
    const char *conn = http_header(req, "Connection");
    const char *up = http_header(req, "Upgrade");
    const char *ver = http_header(req, "Sec-WebSocket-Version");
    const char *key = http_header(req, "Sec-WebSocket-Key");
    if (!conn || !http_token_in(conn, "upgrade")) {
        bad_handshake(resp, "websocket: the client is not using the websocket protocol: "
                            "'upgrade' token not found in 'Connection' header");
        return;
    }
    if (!up || !http_token_in(up, "websocket")) {
        bad_handshake(resp, "websocket: the client is not using the websocket protocol: "
                            "'websocket' token not found in 'Upgrade' header");
        return;
    }
    if (!ver || strcmp(ver, "13") != 0) {
        bad_handshake(resp, "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header");
        return;
    }
    if (!key || !*key) {
        bad_handshake(resp, "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing or blank");
        return;
    }
    unsigned char digest[SHA_DIGEST_LENGTH];
    char cat[256];
    size_t kl = strlen(key);
    if (kl > sizeof cat - sizeof GUID) {
        bad_handshake(resp, "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is too long");
        return;
    }
    memcpy(cat, key, kl);
    memcpy(cat + kl, GUID, sizeof GUID - 1);
    SHA1((const unsigned char *)cat, kl + sizeof GUID - 1, digest);
    unsigned char accept[64];
    EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);

    resp->status = 101;
    resp->ctype = NULL;
    resp->no_content_length = true;
    resp_header(resp, "Upgrade", "websocket");
    resp_header(resp, "Connection", "Upgrade");
    resp_header(resp, "Sec-WebSocket-Accept", "%s", accept);
    struct ws_session *s = xcalloc(1, sizeof *s);
    s->user_id = xstrdup(user);
    s->bank_id = xstrdup(bank);
    resp->upgrade = s;
}

static void send_frame(struct ws_session *s, int op, const void *data, size_t len)
{
    unsigned char h[10];
    size_t hl;
    h[0] = (unsigned char)(0x80 | op);
    if (len < 126) {
        h[1] = (unsigned char)len;
        hl = 2;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    struct sbuf f = { 0 };
    sb_add(&f, h, hl);
    sb_add(&f, data, len);
    conn_send(s->c, f.data, f.len);
    sb_free(&f);
}

static void send_close(struct ws_session *s, int code, const char *reason)
{
    if (s->closing)
        return;
    unsigned char p[128];
    size_t n = 0;
    if (code) {
        p[0] = (unsigned char)(code >> 8);
        p[1] = (unsigned char)code;
        n = 2;
        size_t rl = strlen(reason);
        if (rl > 120)
            rl = 120;
        memcpy(p + 2, reason, rl);
        n += rl;
    }
    send_frame(s, OP_CLOSE, p, n);
    s->closing = true;
    conn_close_after_write(s->c);
}

static void send_json(struct ws_session *s, json_t *obj)
{
    char *txt = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(obj);
    if (txt)
        send_frame(s, OP_TEXT, txt, strlen(txt));
    free(txt);
}

/* The engine's Message struct decoded with encoding/json: any field of
 * the wrong type (a numeric timestamp, say) is an error that ends the
 * read loop and closes the connection. */
static bool handle_message(struct ws_session *s, const char *data, size_t len)
{
    json_error_t err;
    json_t *m = json_loadb(data, len, 0, &err);
    if (!m || !json_is_object(m)) {
        json_decref(m);
        return false;
    }
    bool ok = true;
    json_t *v;
    const char *strs[] = { "type", "user_id", "bank_id" };
    for (size_t i = 0; i < 3; i++)
        if ((v = json_object_get(m, strs[i])) && !json_is_string(v) && !json_is_null(v))
            ok = false;
    if ((v = json_object_get(m, "payload")) && !json_is_object(v) && !json_is_null(v))
        ok = false;
    int64_t ns;
    if ((v = json_object_get(m, "timestamp")) && !json_is_null(v) &&
        (!json_is_string(v) || parse_datetime(json_string_value(v), &ns) != 0))
        ok = false;
    if (ok && strcmp(jstr(m, "type"), "ping") == 0) {
        char ts[40];
        fmt_time_go(wall_ns(), ts);
        send_json(s, json_pack("{s:s, s:n, s:s}", "type", "pong", "payload", "timestamp", ts));
    }
    /* "subscribe", "ack" and anything else: logged by the engine, no reply. */
    json_decref(m);
    return ok;
}

long ws_on_data(struct ws_session *s, const char *buf, size_t len)
{
    size_t off = 0;
    while (!s->closing) {
        const unsigned char *p = (const unsigned char *)buf + off;
        size_t avail = len - off;
        if (avail < 2)
            break;
        bool fin = p[0] & 0x80;
        int rsv = p[0] & 0x70, op = p[0] & 0x0f;
        bool masked = p[1] & 0x80;
        uint64_t plen = p[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = ((uint64_t)p[2] << 8) | p[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | p[2 + i];
            hl = 10;
        }
        if (rsv || !masked) {
            send_close(s, 1002, rsv ? "unexpected reserved bits" : "bad MASK");
            break;
        }
        if (plen > WS_MAX_MESSAGE || s->msg.len + plen > WS_MAX_MESSAGE) {
            send_close(s, 1009, "message too big");
            break;
        }
        if (avail < hl + 4 + plen)
            break;
        const unsigned char *mask = p + hl;
        unsigned char *payload = xmalloc(plen + 1);
        for (uint64_t i = 0; i < plen; i++)
            payload[i] = p[hl + 4 + i] ^ mask[i & 3];
        off += hl + 4 + plen;

        if (op >= 8) {
            if (!fin || plen > 125) {
                send_close(s, 1002, "bad control frame");
            } else if (op == OP_PING) {
                send_frame(s, OP_PONG, payload, plen);
            } else if (op == OP_PONG) {
                s->deadline_ns = mono_ns() + g_sim.cfg.ws_read_timeout_ns;
            } else if (op == OP_CLOSE) {
                int code = plen >= 2 ? (payload[0] << 8 | payload[1]) : 0;
                if (code)
                    send_close(s, code, "");
                else
                    send_close(s, 0, "");
            } else {
                send_close(s, 1002, "unknown opcode");
            }
            free(payload);
            continue;
        }
        if (op == OP_TEXT || op == OP_BIN) {
            if (s->in_message) {
                free(payload);
                send_close(s, 1002, "continuation frame expected");
                break;
            }
            s->in_message = true;
            s->msg.len = 0;
        } else if (op != OP_CONT || !s->in_message) {
            free(payload);
            send_close(s, 1002, op == OP_CONT ? "unexpected continuation frame" : "unknown opcode");
            break;
        }
        sb_add(&s->msg, payload, plen);
        free(payload);
        if (fin) {
            s->in_message = false;
            if (!handle_message(s, s->msg.data ? s->msg.data : "", s->msg.len))
                send_close(s, 0, "");
            s->msg.len = 0;
        }
    }
    return s->closing ? -1 : (long)off;
}

static void on_tick(uv_timer_t *t)
{
    int64_t now = mono_ns();
    struct ws_session *s = sessions, *next;
    for (; s; s = next) {
        next = s->next;
        if (s->closing)
            continue;
        if (now >= s->deadline_ns) {
            send_close(s, 0, "");
            continue;
        }
        if (now >= s->next_ping_ns) {
            send_frame(s, OP_PING, "", 0);
            s->next_ping_ns = now + g_sim.cfg.ws_ping_ns;
        }
    }
}

void ws_attach(struct ws_session *s, struct conn *c)
{
    s->c = c;
    int64_t now = mono_ns();
    s->next_ping_ns = now + g_sim.cfg.ws_ping_ns;
    s->deadline_ns = now + g_sim.cfg.ws_read_timeout_ns;
    s->next = sessions;
    if (sessions)
        sessions->prev = s;
    sessions = s;
    s->linked = true;
    nsessions++;
    if (!tick_started) {
        int64_t ms = g_sim.cfg.ws_ping_ns / 1000000 / 10;
        if (ms > 1000)
            ms = 1000;
        if (ms < 10)
            ms = 10;
        uv_timer_start(&tick, on_tick, (uint64_t)ms, (uint64_t)ms);
        tick_started = true;
    }
}

void ws_detach(struct ws_session *s)
{
    s->closing = true;
    if (!s->linked)
        return;
    s->linked = false;
    if (s->prev)
        s->prev->next = s->next;
    else
        sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    nsessions--;
    s->prev = s->next = NULL;
}

void ws_free(struct ws_session *s)
{
    ws_detach(s);
    free_session(s);
}

size_t ws_notify(const char *user_id, const char *bank_id, json_t *payload)
{
    char ts[40];
    fmt_time_go(wall_ns(), ts);
    json_t *m = json_object();
    json_object_set_new(m, "type", json_string("notification"));
    if (user_id && *user_id)
        json_object_set_new(m, "user_id", json_string(user_id));
    if (bank_id && *bank_id)
        json_object_set_new(m, "bank_id", json_string(bank_id));
    json_object_set(m, "payload", payload ? payload : json_null());
    json_object_set_new(m, "timestamp", json_string(ts));
    char *txt = json_dumps(m, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(m);
    size_t n = 0;
    int copies = g_sim.cfg.ws_duplicate ? 2 : 1;
    for (struct ws_session *s = sessions; s && txt; s = s->next) {
        if (s->closing)
            continue;
        bool match;
        if (user_id && *user_id)
            match = strcmp(s->user_id, user_id) == 0;
        else if (bank_id && *bank_id)
            match = strcmp(s->bank_id, bank_id) == 0;
        else
            match = true;
        if (!match)
            continue;
        for (int i = 0; i < copies; i++)
            send_frame(s, OP_TEXT, txt, strlen(txt));
        n++;
    }
    free(txt);
    return n;
}

size_t ws_count(void)
{
    return nsessions;
}

void ws_init(void)
{
    uv_timer_init(g_sim.loop, &tick);
}

void ws_shutdown(void)
{
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
}
