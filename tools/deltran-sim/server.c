#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject.h"
#include "router.h"
#include "util.h"
#include "ws.h"

struct listener {
    uv_tcp_t tcp;
    const struct service *svc;
    struct listener *next;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* holds a delayed response */
    struct listener *lst;
    struct sbuf in;
    struct sbuf held;
    bool held_close;
    void *held_upgrade;
    bool busy, closing, close_after_write, sent_continue;
    int handles_open;
    unsigned writes_pending;
    struct ws_session *ws;
    char peer[64];
    struct conn *prev, *next;
};

struct wreq {
    uv_write_t req;
    struct conn *c;
    size_t len;
    char data[];
};

static struct listener *listeners;
static struct conn *conns;
static size_t nconns;
static char readbuf[64 * 1024];

#define SIM_MAX_INPUT (HTTP_MAX_HEAD + HTTP_MAX_BODY + 4096)

static void conn_process(struct conn *c);

static void on_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    if (c->ws)
        ws_free(c->ws);
    sb_free(&c->in);
    sb_free(&c->held);
    free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->ws)
        ws_detach(c->ws);
    if (c->held_upgrade) {
        ws_free(c->held_upgrade);
        c->held_upgrade = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nconns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    free(w);
    c->writes_pending--;
    if (c->closing)
        return;
    if (status < 0 || (c->close_after_write && c->writes_pending == 0))
        conn_close(c);
}

void conn_send(struct conn *c, const char *data, size_t len)
{
    if (c->closing || len == 0)
        return;
    if (c->writes_pending == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)len)
            return;
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    struct wreq *w = xmalloc(sizeof *w + len);
    w->c = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w);
        conn_close(c);
        return;
    }
    c->writes_pending++;
}

void conn_close_after_write(struct conn *c)
{
    if (c->closing)
        return;
    c->close_after_write = true;
    if (c->writes_pending == 0)
        conn_close(c);
}

size_t server_connections(void)
{
    return nconns;
}

static void consume(struct sbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

/* Feeds buffered bytes to the websocket session; closes on its request. */
static void ws_feed(struct conn *c)
{
    if (!c->ws || c->in.len == 0)
        return;
    long used = ws_on_data(c->ws, c->in.data, c->in.len);
    if (used < 0) {
        c->in.len = 0;
        conn_close_after_write(c);
        return;
    }
    consume(&c->in, (size_t)used);
}

static void deliver(struct conn *c, struct sbuf *out, bool close, void *upgrade)
{
    conn_send(c, out->data, out->len);
    if (c->closing) {
        if (upgrade)
            ws_free(upgrade);
        return;
    }
    if (upgrade) {
        c->ws = upgrade;
        ws_attach(c->ws, c);
        ws_feed(c);
        return;
    }
    if (close)
        conn_close_after_write(c);
}

static void on_delay(uv_timer_t *t)
{
    struct conn *c = t->data;
    struct sbuf out = c->held;
    void *up = c->held_upgrade;
    bool close = c->held_close;
    memset(&c->held, 0, sizeof c->held);
    c->held_upgrade = NULL;
    c->busy = false;
    deliver(c, &out, close, up);
    sb_free(&out);
    if (!c->closing)
        conn_process(c);
}

static void conn_process(struct conn *c)
{
    while (!c->busy && !c->closing && !c->ws && !c->close_after_write && c->in.len > 0) {
        struct http_req req;
        int status = 400;
        enum http_parse_result r = http_parse(c->in.data, c->in.len, &req, &status);
        if (r == HTTP_PARSE_AGAIN)
            break;
        if (r == HTTP_PARSE_HEADERS) {
            if (req.expect_continue && !c->sent_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                conn_send(c, cont, sizeof cont - 1);
                c->sent_continue = true;
            }
            break;
        }
        c->sent_continue = false;
        struct http_resp resp;
        resp_init(&resp);
        size_t used;
        if (r == HTTP_PARSE_ERROR) {
            resp.status = status;
            resp.ctype = "text/plain; charset=utf-8";
            sb_addf(&resp.body, "%d %s", status, http_reason(status));
            resp.close = true;
            used = c->in.len;
        } else {
            req.peer = c->peer;
            g_sim.requests++;
            router_dispatch(c->lst->svc, &req, &resp);
            if (!req.keep_alive)
                resp.close = true;
            else if (req.minor == 0)
                resp_header(&resp, "Connection", "keep-alive");
            used = req.total_len;
        }
        void *upgrade = resp.upgrade;
        if (upgrade)
            resp.close = false;
        struct sbuf out = { 0 };
        resp_serialize(&resp, &out);
        bool close = resp.close;
        resp_free(&resp);
        consume(&c->in, used);
        int64_t d = inject_delay_ns();
        if (d > 0) {
            c->held = out;
            c->held_close = close;
            c->held_upgrade = upgrade;
            c->busy = true;
            uv_timer_start(&c->timer, on_delay, (uint64_t)((d + 999999) / 1000000), 0);
            return;
        }
        deliver(c, &out, close, upgrade);
        sb_free(&out);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = readbuf;
    buf->len = sizeof readbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0 || c->closing)
        return;
    if (c->in.len + (size_t)n > SIM_MAX_INPUT) {
        conn_close(c);
        return;
    }
    sb_add(&c->in, buf->base, (size_t)n);
    if (c->ws)
        ws_feed(c);
    else
        conn_process(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct listener *l = server->data;
    struct conn *c = xcalloc(1, sizeof *c);
    c->lst = l;
    uv_tcp_init(g_sim.loop, &c->tcp);
    c->tcp.data = c;
    c->handles_open = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    uv_timer_init(g_sim.loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    nconns++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void free_listener(uv_handle_t *h)
{
    free(h->data);
}

int server_listen(const struct service *svc, const char *addr, int port, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errcap, "%s is not an IP address", addr);
        return -1;
    }
    struct listener *l = xcalloc(1, sizeof *l);
    l->svc = svc;
    uv_tcp_init(g_sim.loop, &l->tcp);
    l->tcp.data = l;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 4096, on_connection);
    if (rc != 0) {
        snprintf(err, errcap, "%s on %s:%d: %s", svc->name, addr, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, free_listener);
        return -1;
    }
    l->next = listeners;
    listeners = l;
    return 0;
}

void server_shutdown(void)
{
    while (listeners) {
        struct listener *l = listeners;
        listeners = l->next;
        uv_close((uv_handle_t *)&l->tcp, free_listener);
    }
    while (conns)
        conn_close(conns);
}
