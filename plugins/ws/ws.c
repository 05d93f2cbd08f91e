/*
 * ws: the WebSocket protocol plugin, on libwebsockets 4.1.6 in the core's
 * event loop (ws_loop.c), steps compiled in ws_conf.c.
 *
 * One step is one session, as k6's ws.connect, or `sockets` of them:
 * step_start connects, and the step finishes when every session has
 * ended. A session's state lives in its ws_sess (the VU's ws_vu holds
 * them) with one uv timer for every deadline (connect, periodic and
 * delayed sends, ping, pong_timeout, close_after, expect, close backstop)
 * and, once the session has ended inside an lws callback, for handing the
 * result over on the next loop turn: step_done is never called from
 * inside lws.
 *
 * Per message, nothing is allocated: outgoing messages are rendered into
 * the VU's send queue (a buffer that only grows, reset when drained), and
 * a received message is copied into the VU's message buffer only when a
 * check, expect or reply_match by id reads it; otherwise only its length
 * (max_message_size) and, for text, its UTF-8 validity are followed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <netinet/tcp.h>

#include "ws_int.h"

#define CLOSE_GRACE_NS 3000000000ull   /* our close frame, then we cut */
#define KILL_GRACE_NS 2000000000ull    /* a cut, then we stop waiting for lws */
/* lws' own write type for a close frame: private in 4.1.6
 * (roles/ws/private-lib-roles-ws.h), which leaves close frames to
 * lws_close_reason; see on_writeable for why we write ours. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

/* ------------------------------------------------------------------------ */
/* Plugin instance                                                           */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    volley_metric_type type;
    volley_metric_contains contains;
} metric_defs[MET_COUNT] = {
    [MET_CONNECTING] = {"ws_connecting", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_SESSIONS] = {"ws_sessions", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    [MET_SESSION_DURATION] = {"ws_session_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_MSGS_SENT] = {"ws_msgs_sent", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    [MET_MSGS_RECEIVED] = {"ws_msgs_received", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    [MET_PING] = {"ws_ping", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_REPLY_TIME] = {"ws_msg_reply_time", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_SESSION_FAILED] = {"ws_session_failed", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT},
    [MET_DATA_SENT] = {"data_sent", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA},
    [MET_DATA_RECEIVED] = {"data_received", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA},
};

static void ws_destroy(void *inst)
{
    ws_plugin *p = inst;
    if (!p)
        return;
    ptls_set_free(&p->tls);
    for (size_t i = 0; i < p->n_codes; i++)
        free(p->codes[i]);
    free(p->codes);
    uv_mutex_destroy(&p->codes_lock);
    free(p);
}

static void *ws_create(const volley_host *host, volley_core *core, char *err, size_t errcap)
{
    if (host->size < offsetof(volley_host, template_map_urlencode) + sizeof host->template_map_urlencode) {
        snprintf(err, errcap, "the core is too old for ws (no template_map_urlencode in its host table)");
        return NULL;
    }
    ws_plugin *p = calloc(1, sizeof *p);
    if (!p || uv_mutex_init(&p->codes_lock) != 0) {
        free(p);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->host = host;
    p->core = core;
    for (int i = 0; i < MET_COUNT; i++) {
        p->metric[i] = host->metric_register(core, metric_defs[i].name, metric_defs[i].type,
                                             metric_defs[i].contains, err, errcap);
        if (p->metric[i] < 0) {
            ws_destroy(p);
            return NULL;
        }
    }
    return p;
}

/* Tag strings must live for the run: codes with a number ("close_4001")
 * are made once and kept. Only failures get here. */
const char *ws_code(ws_plugin *p, const char *fmt, int n)
{
    char buf[48];
    snprintf(buf, sizeof buf, fmt, n);
    const char *found = NULL;
    uv_mutex_lock(&p->codes_lock);
    for (size_t i = 0; i < p->n_codes && !found; i++)
        if (strcmp(p->codes[i], buf) == 0)
            found = p->codes[i];
    if (!found && p->n_codes < 4096) {
        char **t = realloc(p->codes, (p->n_codes + 1) * sizeof *t);
        char *s = strdup(buf);
        if (t)
            p->codes = t;
        if (t && s) {
            p->codes[p->n_codes++] = s;
            found = s;
        } else {
            free(s);
        }
    }
    uv_mutex_unlock(&p->codes_lock);
    return found ? found : "other";
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                   */
/* ------------------------------------------------------------------------ */

static volley_tags session_tags(const ws_sess *vs)
{
    volley_tags t = VOLLEY_TAGS_INIT;
    t.name = vs->st->tag_name;
    t.url = vs->st->tag_url;
    t.status = vs->status;
    t.error_code = vs->error_code;
    return t;
}

static void sample(ws_sess *vs, int m, double v)
{
    volley_tags t = session_tags(vs);
    vs->w->host->sample(vs->vu, vs->w->p->metric[m], v, &t);
}

static double ms_between(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e6 : 0.0; }

/* data_sent and data_received, as k6 counts them for ws: every byte the
 * session's connection carried (handshake, frames, TLS records). Read once
 * at the end from the kernel's TCP counters, so messages cost nothing. The
 * counters run in sequence numbers: sent = acknowledged + still queued,
 * less our SYN and FIN; received = in order from the peer, less its FIN.
 * Tagged with scenario and group only, as http's and k6's are. */
struct ws_tcp_info {
    struct tcp_info glibc;   /* the kernel's up to tcpi_total_retrans; then: */
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked, bytes_received;   /* Linux 4.1 */
};
_Static_assert(offsetof(struct ws_tcp_info, bytes_acked) == 120, "struct tcp_info layout");

static void sample_data(ws_sess *vs)
{
    int fd = (int)lws_get_socket_fd(vs->wsi);
    struct ws_tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof ti)
        return;
    int queued = 0;
    if (ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0)
        queued = 0;
    int st = ti.glibc.tcpi_state;
    bool our_fin = st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 || st == TCP_CLOSING ||
                   st == TCP_TIME_WAIT || st == TCP_LAST_ACK;
    bool peer_fin = st == TCP_CLOSE_WAIT || st == TCP_LAST_ACK || st == TCP_CLOSING ||
                    st == TCP_TIME_WAIT;
    uint64_t seq = ti.bytes_acked + (uint64_t)queued, less = 1u + our_fin;
    uint64_t sent = seq > less ? seq - less : 0;
    uint64_t received = ti.bytes_received > (uint64_t)peer_fin ? ti.bytes_received - peer_fin : 0;
    volley_tags plain = VOLLEY_TAGS_INIT;
    const int *m = vs->w->p->metric;
    vs->w->host->sample(vs->vu, m[MET_DATA_SENT], (double)sent, &plain);
    vs->w->host->sample(vs->vu, m[MET_DATA_RECEIVED], (double)received, &plain);
    vs->bytes_sent = sent;
    vs->bytes_received = received;
    vs->bytes_known = true;
}

/* ------------------------------------------------------------------------ */
/* Session end                                                               */
/* ------------------------------------------------------------------------ */

/* Records why the session failed; the first reason wins. */
static void fail(ws_sess *vs, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(ws_sess *vs, const char *code, const char *fmt, ...)
{
    if (vs->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vs->errtext, sizeof vs->errtext, fmt, ap);
    va_end(ap);
    vs->error = vs->errtext;
    vs->error_code = code;
}

static void arm(ws_sess *vs, uint64_t now);

/* The session is over (inside an lws callback, or from step_start): its
 * samples now, the step's end on the next loop turn. */
static void session_end(ws_sess *vs)
{
    if (vs->phase == PH_ENDED || vs->phase == PH_IDLE)
        return;
    uint64_t now = vs->w->host->now_ns();
    if (vs->wsi) {
        sample_data(vs);
        lws_set_wsi_user(vs->wsi, NULL);
        vs->wsi = NULL;
    }
    if (vs->established && !vs->error && VOLLEY_OPT_IS_SET(vs->st->cfg, OPT_EXPECT) &&
        !vs->expect_done)
        fail(vs, "expect_unmet", "the session closed before a message matched expect");
    vs->t_end = now;
    vs->phase = PH_ENDED;
    sample(vs, MET_SESSIONS, 1);
    sample(vs, MET_SESSION_FAILED, vs->error ? 1 : 0);
    if (vs->established)
        sample(vs, MET_SESSION_DURATION, ms_between(vs->t_open, now));
    arm(vs, now);   /* deliver() on the next loop turn */
}

static ws_sess *sess_at(struct ws_vu *v, unsigned i) { return i ? v->more[i - 1] : &v->first; }

/* The session's url when no part of it is rendered per VU, else NULL. */
static const char *session_url(const ws_sess *vs)
{
    const ws_config *c = vs->st->cfg;
    if (VOLLEY_OPT_IS_SET(c, OPT_QUERY) && c->query.n)
        return NULL;
    return vs->w->host->template_const(c->url);
}

/* Hands an ended session over; the last of the step's sessions hands the
 * step to the core. The response is the first failed session's, else the
 * first session's; its duration the longest session's, its bytes all the
 * sessions'. The last thing done with vs. */
static void deliver(ws_sess *vs)
{
    const volley_host *h = vs->w->host;
    struct ws_vu *v = vs->owner;
    vs->phase = PH_IDLE;
    if (v->live && --v->live)
        return;   /* others still run */
    const ws_sess *r = &v->first;
    double longest = 0;
    uint64_t sent = 0, received = 0;
    bool bytes_known = false;
    for (unsigned i = 0; i < v->n; i++) {
        const ws_sess *s = sess_at(v, i);
        if (s->error && !r->error)
            r = s;
        if (s->established && ms_between(s->t_open, s->t_end) > longest)
            longest = ms_between(s->t_open, s->t_end);
        sent += s->bytes_sent;
        received += s->bytes_received;
        bytes_known |= s->bytes_known;
    }
    volley_response resp = {
        .status = r->status,   /* 101 once open; the handshake's, or 0 */
        .error = r->error,
        .headers = r->hdrs.len ? r->hdrs.data : "",
        .headers_len = r->hdrs.len,
        .body = r->expect_done && r->expected.data ? r->expected.data : "",
        .body_len = r->expect_done ? r->expected.len : 0,
        .duration_ms = longest,
        /* revision 7: a session has no HTTP timings; its url when it is
         * constant (k6's ws res.url is the one asked for), its bytes */
        .url = session_url(r),
        .has = bytes_known ? VOLLEY_RESP_BYTES : 0,
        .bytes_sent = sent,
        .bytes_received = received,
    };
    h->step_done(vs->vu, &resp);
}

/* Asks lws to end the connection now (it calls back with the close). */
static void kill_wsi(struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    /* Called from our own timer, outside lws: lws re-arms its uv timer
     * for the kill only when it next services something, so wake it. */
    lws_cancel_service(lws_get_context(wsi));
}

/* Kills the connection; if lws has not reported its end by kill_at, the
 * timer ends the session itself (detached), so a VU can never hang. */
static void kill_now(ws_sess *vs, uint64_t now)
{
    if (vs->wsi)
        kill_wsi(vs->wsi);
    vs->kill_at = now + KILL_GRACE_NS;
}

/*
 * Our close: a close frame with code, written when the socket is writable.
 * A normal close (close_after, expect met or timed out) then waits for the
 * server's close frame, CLOSE_GRACE_NS at most; a failure (cut: a message
 * too big, invalid UTF-8, no pong) cuts the connection once the frame is
 * out, as RFC 6455 7.1.7 fails a connection: a server in the middle of a
 * 100 MB frame cannot answer before it has sent all of it.
 */
static void begin_close(ws_sess *vs, uint16_t code, bool cut, uint64_t now)
{
    if (vs->close_pending || !vs->wsi)
        return;
    vs->close_pending = true;
    vs->close_cut = cut;
    vs->close_code = code;
    vs->close_at = now + CLOSE_GRACE_NS;   /* from here: the backstop */
    lws_callback_on_writable(vs->wsi);
    arm(vs, now);
}

/* ------------------------------------------------------------------------ */
/* Send queue                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Entries back to back in vs->out: a 4-byte length, LWS_PRE bytes lws may
 * write its frame header into, the payload; each entry padded to 8 bytes.
 */
#define ENTRY_HEAD 8
#define ENTRY_SIZE(len) ((ENTRY_HEAD + LWS_PRE + (len) + 7) & ~(size_t)7)

static int queue_item(ws_sess *vs, const volley_json_item *it)
{
    const volley_host *h = vs->w->host;
    volley_buf *b = &vs->out;
    size_t start = b->len;
    if (h->buf_reserve(b, ENTRY_HEAD + LWS_PRE) != 0)
        return -1;
    b->len += ENTRY_HEAD + LWS_PRE;
    const char *fixed = it->json ? h->json_const(it->json) : h->template_const(it->text);
    int rc;
    if (fixed) {
        size_t n = strlen(fixed);
        rc = h->buf_reserve(b, n);
        if (rc == 0) {
            memcpy(b->data + b->len, fixed, n);
            b->len += n;
        }
    } else {
        rc = it->json ? h->json_render(it->json, vs->vu, b) : h->template_render(it->text, vs->vu, b);
    }
    if (rc != 0) {
        b->len = start;
        return -1;
    }
    uint32_t len = (uint32_t)(b->len - start - ENTRY_HEAD - LWS_PRE);
    size_t total = ENTRY_SIZE(len);
    if (h->buf_reserve(b, total - (b->len - start)) != 0) {
        b->len = start;
        return -1;
    }
    memcpy(b->data + start, &len, sizeof len);
    b->len = start + total;
    return 0;
}

static void queue_list(ws_sess *vs, const volley_json_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (queue_item(vs, &l->v[i]) != 0)
            fail(vs, "render", "a message could not be rendered (out of memory)");
    if (l->n && vs->wsi)
        lws_callback_on_writable(vs->wsi);
}

/*
 * Sends for later (send_after, on_message with after) wait in vs->timed,
 * sorted by time: new ones are mostly the latest, so inserting from the
 * end is short. Until the session opens, send_after's times are offsets
 * from the open (on_established adds it).
 */
static void timed_add(ws_sess *vs, uint64_t at, const volley_json_list *msg, int item)
{
    if (vs->n_timed == WS_MAX_TIMED) {
        fail(vs, "backlog", "more than %d delayed sends waiting (on_message with after)",
             WS_MAX_TIMED);
        begin_close(vs, LWS_CLOSE_STATUS_POLICY_VIOLATION, false, vs->w->host->now_ns());
        return;
    }
    if (vs->n_timed == vs->cap_timed) {
        unsigned cap = vs->cap_timed ? vs->cap_timed * 2 : 8;
        ws_timed *t = realloc(vs->timed, cap * sizeof *t);
        if (!t) {
            fail(vs, "render", "a delayed send could not be kept (out of memory)");
            return;
        }
        vs->timed = t;
        vs->cap_timed = cap;
    }
    unsigned i = vs->n_timed++;
    for (; i > 0 && vs->timed[i - 1].at > at; i--)
        vs->timed[i] = vs->timed[i - 1];
    vs->timed[i] = (ws_timed){.at = at, .msg = msg, .item = item};
}

/* A duration drawn at run time was not one: the session fails (error_code
 * duration); the reason is said once per step on stderr and in the run's
 * summary (host->log warnings), where a check would be needed otherwise. */
static void duration_failed(ws_sess *vs, const char *err)
{
    fail(vs, "duration", "%s", err);
    ws_step *st = (ws_step *)vs->st;   /* duration_said: its one field written in a run */
    if (!atomic_exchange(&st->duration_said, true))
        vs->w->host->log(vs->w->p->core, VOLLEY_LOG_WARN,
                         "ws step %s: %s: its sessions fail (error_code duration; said once)",
                         st->tag_name, err);
}

/* The session's own durations, drawn when it starts: close_after,
 * send_every's interval, send_after's times. false when one does not
 * render to a duration in its range (the session fails: duration). */
static bool draw_durations(ws_sess *vs)
{
    const ws_step *st = vs->st;
    const volley_host *h = vs->w->host;
    volley_buf *scratch = &vs->w->scratch;
    char err[256];
    vs->n_timed = 0;
    vs->close_after_ns = vs->interval_ns = 0;
    if (st->close_after.t &&
        ws_dur_get(h, &st->close_after, vs->vu, scratch, &vs->close_after_ns, err, sizeof err))
        goto bad;
    if (st->interval.t &&
        ws_dur_get(h, &st->interval, vs->vu, scratch, &vs->interval_ns, err, sizeof err))
        goto bad;
    const ws_send_after_cfg *sa = st->cfg->send_after.items;
    for (size_t i = 0; i < st->cfg->send_after.n; i++) {
        int64_t ns;
        if (ws_dur_get(h, &st->send_after[i].after, vs->vu, scratch, &ns, err, sizeof err))
            goto bad;
        timed_add(vs, (uint64_t)ns, sa[i].message.n ? &sa[i].message : NULL, (int)i);
    }
    return !vs->error;
bad:
    duration_failed(vs, err);
    return false;
}

/* A send_after item's time has come. */
static void fire_send_after(ws_sess *vs, int item, uint64_t now)
{
    const ws_step *st = vs->st;
    const ws_send_after_cfg *sa = (const ws_send_after_cfg *)st->cfg->send_after.items + item;
    if (sa->stop_send_every)
        vs->next_send = 0;
    if (sa->close_after) {
        int64_t ns;
        char err[256];
        if (ws_dur_get(vs->w->host, &st->send_after[item].close_after, vs->vu, &vs->w->scratch,
                       &ns, err, sizeof err) != 0) {
            duration_failed(vs, err);
            begin_close(vs, LWS_CLOSE_STATUS_NORMAL, false, now);
            return;
        }
        uint64_t at = now + (uint64_t)ns;
        if (!vs->close_at || at < vs->close_at)
            vs->close_at = at;
    }
}

/* Sends whose time has come, in time order. */
static void fire_timed(ws_sess *vs, uint64_t now)
{
    unsigned k = 0;
    while (k < vs->n_timed && vs->timed[k].at <= now && !vs->close_pending) {
        ws_timed t = vs->timed[k++];
        if (t.msg)
            queue_list(vs, t.msg);
        if (t.item >= 0)
            fire_send_after(vs, t.item, now);
    }
    if (k) {
        memmove(vs->timed, vs->timed + k, (vs->n_timed - k) * sizeof *vs->timed);
        vs->n_timed -= k;
    }
}

static void remember_send(ws_sess *vs, const char *msg, size_t len, uint64_t now)
{
    const ws_step *st = vs->st;
    if (st->reply_mode == REPLY_NONE)
        return;
    if (!vs->pend && !(vs->pend = calloc(WS_REPLY_SLOTS, sizeof *vs->pend)))
        return;
    char key[WS_REPLY_KEY] = "";
    if (st->reply_mode == REPLY_ID && ws_path_value(&st->reply_req, msg, len, key, sizeof key) != 0)
        return;   /* a message without the id expects no reply */
    if (vs->pend_n == WS_REPLY_SLOTS) {   /* the oldest is given up */
        vs->pend_head = (vs->pend_head + 1) % WS_REPLY_SLOTS;
        vs->pend_n--;
    }
    ws_pending *e = &vs->pend[(vs->pend_head + vs->pend_n++) % WS_REPLY_SLOTS];
    e->t = now;
    memcpy(e->key, key, sizeof key);
}

/* A received message answers a send: the oldest (next), or the one with
 * the same id. */
static void match_reply(ws_sess *vs, const char *msg, size_t len, uint64_t now)
{
    const ws_step *st = vs->st;
    if (st->reply_mode == REPLY_NONE || !vs->pend_n)
        return;
    if (st->reply_mode == REPLY_NEXT) {
        sample(vs, MET_REPLY_TIME, ms_between(vs->pend[vs->pend_head].t, now));
        vs->pend_head = (vs->pend_head + 1) % WS_REPLY_SLOTS;
        vs->pend_n--;
        return;
    }
    char key[WS_REPLY_KEY];
    if (ws_path_value(&st->reply_res, msg, len, key, sizeof key) != 0)
        return;
    for (unsigned i = 0; i < vs->pend_n; i++) {
        ws_pending *e = &vs->pend[(vs->pend_head + i) % WS_REPLY_SLOTS];
        if (strcmp(e->key, key) != 0)
            continue;
        sample(vs, MET_REPLY_TIME, ms_between(e->t, now));
        /* close the gap: later entries move one slot toward the head */
        for (unsigned j = i; j + 1 < vs->pend_n; j++)
            vs->pend[(vs->pend_head + j) % WS_REPLY_SLOTS] =
                vs->pend[(vs->pend_head + j + 1) % WS_REPLY_SLOTS];
        vs->pend_n--;
        return;
    }
}

/* One frame per WRITEABLE: close, then ping, then the oldest message. */
static int on_writeable(ws_sess *vs, struct lws *wsi)
{
    uint64_t now = vs->w->host->now_ns();
    if (vs->close_pending && vs->close_code) {
        /* Written here, not left to lws (lws_close_reason and -1): Debian's
         * lws 4.1.6 is built with _DEBUG, where a close asked for from a
         * callback is repeated at once on libuv ("uv repeat test" in
         * lws_service_fd_tsi) and that second close drops the connection
         * before the close frame is written. */
        if (!vs->close_sent) {
            unsigned char frame[LWS_PRE + 2];
            frame[LWS_PRE] = (unsigned char)(vs->close_code >> 8);
            frame[LWS_PRE + 1] = (unsigned char)(vs->close_code & 0xff);
            vs->close_sent = true;
            if (lws_write(wsi, frame + LWS_PRE, 2, WS_WRITE_CLOSE) < 2)
                return -1;
        }
        return vs->close_cut ? -1 : 0;
    }
    if (vs->ping_pending) {
        unsigned char buf[LWS_PRE + 8];
        memcpy(buf + LWS_PRE, &now, 8);
        vs->ping_pending = false;
        vs->ping_sent = now;
        if (VOLLEY_OPT_IS_SET(vs->st->cfg, OPT_PONG_TIMEOUT) && !vs->pong_due) {
            vs->pong_due = now + (uint64_t)vs->st->cfg->pong_timeout_ns;
            arm(vs, now);
        }
        if (lws_write(wsi, buf + LWS_PRE, 8, LWS_WRITE_PING) < 8) {
            fail(vs, "write", "write error (ping)");
            return -1;
        }
    } else if (vs->out_head < vs->out.len) {
        char *e = vs->out.data + vs->out_head;
        uint32_t len;
        memcpy(&len, e, sizeof len);
        unsigned char *payload = (unsigned char *)e + ENTRY_HEAD + LWS_PRE;
        /* before lws_write, which masks the payload in place */
        remember_send(vs, (const char *)payload, len, now);
        if (lws_write(wsi, payload, len, LWS_WRITE_TEXT) < (int)len) {
            fail(vs, "write", "write error");
            return -1;
        }
        sample(vs, MET_MSGS_SENT, 1);
        vs->out_head += ENTRY_SIZE(len);
        if (vs->out_head >= vs->out.len)
            vs->out_head = vs->out.len = 0;
    }
    if (vs->ping_pending || vs->out_head < vs->out.len)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Receive                                                                   */
/* ------------------------------------------------------------------------ */

/* An incremental UTF-8 validator (RFC 3629: no overlongs, surrogates or
 * code points above U+10FFFF): state = bytes still expected | the allowed
 * range of the next byte. false at the first invalid byte. */
static bool utf8_feed(uint32_t *state, const unsigned char *s, size_t n)
{
    unsigned need = *state & 0xff, lo = (*state >> 8) & 0xff, hi = (*state >> 16) & 0xff;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (need) {
            if (c < lo || c > hi)
                return false;
            need--;
            lo = 0x80;
            hi = 0xbf;
            continue;
        }
        if (c < 0x80)
            continue;
        lo = 0x80;
        hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c == 0xe0)
            need = 2, lo = 0xa0;
        else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
            need = 2;
        else if (c == 0xed)
            need = 2, hi = 0x9f;
        else if (c == 0xf0)
            need = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 3;
        else if (c == 0xf4)
            need = 3, hi = 0x8f;
        else
            return false;
    }
    *state = need | lo << 8 | hi << 16;
    return true;
}

/* expect's conditions on a message, with the VU's run-time values
 * (${tx_id} in an equals) where the core can render them. */
static bool expect_matches(const volley_host *h, const volley_checks *match, volley_vu *vu,
                           const volley_response *r)
{
    if (VOLLEY_HAS(h, checks_match_vu) && h->checks_match_vu)
        return h->checks_match_vu(match, vu, r);
    return h->checks_match(match, r);
}

/* on_message: every item whose match the message meets sends, at once or
 * after its delay (drawn per message), as k6's handlers each run. */
static void answer_message(ws_sess *vs, const volley_response *r, uint64_t now)
{
    const volley_host *h = vs->w->host;
    const ws_step *st = vs->st;
    const ws_on_message_cfg *om = st->cfg->on_message.items;
    for (size_t i = 0; i < st->cfg->on_message.n; i++) {
        if (vs->close_pending || vs->error)
            return;   /* closing: nothing more goes out */
        if (om[i].match && !expect_matches(h, om[i].match, vs->vu, r))
            continue;
        if (!om[i].after) {
            queue_list(vs, &om[i].send);
            continue;
        }
        int64_t ns;
        char err[256];
        if (ws_dur_get(h, &st->on_message[i].after, vs->vu, &vs->w->scratch, &ns, err,
                       sizeof err) != 0) {
            duration_failed(vs, err);
            begin_close(vs, LWS_CLOSE_STATUS_NORMAL, false, now);
            return;
        }
        timed_add(vs, now + (uint64_t)ns, &om[i].send, -1);
        arm(vs, now);
    }
}

/* A whole message has arrived (its bytes in vs->msg when copied). */
static void on_message(ws_sess *vs, uint64_t now)
{
    const volley_host *h = vs->w->host;
    const ws_step *st = vs->st;
    const ws_config *c = st->cfg;
    sample(vs, MET_MSGS_RECEIVED, 1);
    const char *body = vs->msg.data ? vs->msg.data : "";
    size_t len = st->copy_messages ? vs->msg.len : 0;
    volley_response r = {.status = 101, .headers = "", .body = body, .body_len = len,
                         .duration_ms = ms_between(vs->t_open, now)};
    if (c->check_each)
        h->checks_run(c->check_each, vs->vu, &r);
    if (VOLLEY_OPT_IS_SET(c, OPT_EXPECT) && !vs->expect_done &&
        expect_matches(h, c->expect.match, vs->vu, &r)) {
        vs->expect_done = true;
        vs->expected.len = 0;
        if (h->buf_reserve(&vs->expected, len) == 0) {
            memcpy(vs->expected.data, body, len);
            vs->expected.len = len;
            vs->expected.data[len] = '\0';
        }
        if (c->expect.capture)
            h->captures_apply(c->expect.capture, vs->vu, &r);
        vs->expect_at = 0;
        if (!VOLLEY_OPT_IS_SET(c, OPT_CLOSE_AFTER))
            begin_close(vs, LWS_CLOSE_STATUS_NORMAL, false, now);
    }
    match_reply(vs, body, len, now);
    if (c->on_message.n)
        answer_message(vs, &r, now);
}

static int on_receive(ws_sess *vs, struct lws *wsi, const void *in, size_t len)
{
    const ws_step *st = vs->st;
    if (lws_is_first_fragment(wsi)) {
        vs->msg_len = 0;
        vs->msg.len = 0;
        vs->utf8 = 0;
        vs->msg_text = !lws_frame_is_binary(wsi);
    }
    vs->msg_len += len;
    if (vs->error || vs->close_sent)
        return 0;   /* closing: the rest is dropped */
    uint64_t now = vs->w->host->now_ns();
    /* lws hands a frame over in pieces of its rx buffer (16 KB) as they
     * arrive, with what is left of the frame: a frame that will take the
     * message over the limit is refused at its first piece, not after
     * max_message_size bytes; the continuation frames of a fragmented
     * message add up in msg_len. */
    if (vs->msg_len + lws_remaining_packet_payload(wsi) > (uint64_t)st->cfg->max_message) {
        fail(vs, "too_big", "message too big (over max_message_size %lld bytes)",
             (long long)st->cfg->max_message);
        begin_close(vs, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, true, now);
        return 0;
    }
    if (vs->msg_text && !utf8_feed(&vs->utf8, in, len)) {
        fail(vs, "protocol", "protocol error: invalid UTF-8 in a text message");
        begin_close(vs, LWS_CLOSE_STATUS_INVALID_PAYLOAD, true, now);
        return 0;
    }
    if (st->copy_messages) {
        if (vs->w->host->buf_reserve(&vs->msg, len) != 0) {
            fail(vs, "too_big", "out of memory for a message");
            return -1;
        }
        memcpy(vs->msg.data + vs->msg.len, in, len);
        vs->msg.len += len;
        vs->msg.data[vs->msg.len] = '\0';
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (vs->msg_text && (vs->utf8 & 0xff)) {
        fail(vs, "protocol", "protocol error: invalid UTF-8 in a text message");
        begin_close(vs, LWS_CLOSE_STATUS_INVALID_PAYLOAD, true, now);
        return 0;
    }
    on_message(vs, now);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Timer: every deadline of the session, and the hand-over to the core       */
/* ------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t);
static void connect_now(ws_sess *vs, uint64_t now);

static void consider(uint64_t *next, uint64_t at)
{
    if (at && (!*next || at < *next))
        *next = at;
}

static void arm(ws_sess *vs, uint64_t now)
{
    uint64_t next = 0;
    if (vs->phase == PH_ENDED) {
        uv_timer_start(&vs->timer, on_timer, 0, 0);
        return;
    }
    consider(&next, vs->kill_at);
    if (vs->phase == PH_CONNECTING)
        consider(&next, vs->connect_deadline);
    if (vs->phase == PH_OPEN) {
        consider(&next, vs->close_at);
        if (!vs->close_pending) {
            consider(&next, vs->next_send);
            consider(&next, vs->n_timed ? vs->timed[0].at : 0);
            consider(&next, vs->next_ping);
            consider(&next, vs->expect_at);
            consider(&next, vs->pong_due);
        }
    }
    if (!next) {
        uv_timer_stop(&vs->timer);
        return;
    }
    uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
    uv_timer_start(&vs->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    ws_sess *vs = t->data;
    const ws_config *c = vs->st ? vs->st->cfg : NULL;
    if (vs->phase == PH_ENDED) {
        deliver(vs);   /* may start the VU's next step: nothing after */
        return;
    }
    if (!c)
        return;
    uint64_t now = vs->w->host->now_ns();
    if (vs->connect_pending) {
        connect_now(vs, now);
        return;
    }
    if (vs->phase == PH_CONNECTING && now >= vs->connect_deadline) {
        fail(vs, "timeout", "connect timeout: no handshake within %.3gs",
             (double)c->connect_timeout_ns / 1e9);
        vs->connect_deadline = 0;
        kill_now(vs, now);
        arm(vs, now);
        return;
    }
    if (vs->kill_at && now >= vs->kill_at) {
        fail(vs, "close_1006", "the connection did not end after it was cut");
        session_end(vs);   /* detaches the wsi; deliver() next turn */
        return;
    }
    if (vs->phase == PH_OPEN) {
        if (vs->close_pending) {
            if (vs->close_at && now >= vs->close_at) {   /* the close frame did not go out */
                vs->close_at = 0;
                kill_now(vs, now);
            }
        } else {
            if (vs->pong_due && now >= vs->pong_due) {
                fail(vs, "pong_timeout", "no pong within %.3gs of a ping",
                     (double)c->pong_timeout_ns / 1e9);
                begin_close(vs, LWS_CLOSE_STATUS_GOINGAWAY, true, now);
            } else if (vs->expect_at && now >= vs->expect_at) {
                fail(vs, "expect_timeout", "expect: no matching message within %.3gs",
                     (double)c->expect.timeout_ns / 1e9);
                begin_close(vs, LWS_CLOSE_STATUS_NORMAL, false, now);
            } else if (vs->close_at && now >= vs->close_at) {
                begin_close(vs, LWS_CLOSE_STATUS_NORMAL, false, now);
            } else {
                /* in time order: a late turn may find both due, and a
                 * send_after may stop send_every */
                bool every_first = vs->next_send && now >= vs->next_send &&
                                   (!vs->n_timed || vs->next_send <= vs->timed[0].at);
                if (!every_first && vs->n_timed && vs->timed[0].at <= now)
                    fire_timed(vs, now);
                if (vs->next_send && now >= vs->next_send && !vs->close_pending) {
                    queue_list(vs, &c->send_every.message);
                    vs->next_send += (uint64_t)vs->interval_ns;
                    if (vs->next_send <= now)   /* fell behind: no burst */
                        vs->next_send = now + (uint64_t)vs->interval_ns;
                }
                if (every_first && vs->n_timed && vs->timed[0].at <= now)
                    fire_timed(vs, now);
                if (vs->next_ping && now >= vs->next_ping) {
                    vs->ping_pending = true;
                    lws_callback_on_writable(vs->wsi);
                    vs->next_ping += (uint64_t)c->ping_every_ns;
                    if (vs->next_ping <= now)
                        vs->next_ping = now + (uint64_t)c->ping_every_ns;
                }
            }
        }
    }
    arm(vs, now);
}

/* ------------------------------------------------------------------------ */
/* The lws callback                                                          */
/* ------------------------------------------------------------------------ */

static void on_established(ws_sess *vs, uint64_t now)
{
    const ws_config *c = vs->st->cfg;
    vs->established = true;
    vs->status = 101;
    vs->phase = PH_OPEN;
    vs->t_open = now;
    vs->connect_deadline = 0;
    sample(vs, MET_CONNECTING, ms_between(vs->t0, now));
    if (c->send_on_open.n)
        queue_list(vs, &c->send_on_open);
    if (vs->interval_ns)
        vs->next_send = now + (uint64_t)vs->interval_ns;
    if (VOLLEY_OPT_IS_SET(c, OPT_PING_EVERY))
        vs->next_ping = now + (uint64_t)c->ping_every_ns;
    if (vs->close_after_ns)
        vs->close_at = now + (uint64_t)vs->close_after_ns;
    for (unsigned i = 0; i < vs->n_timed; i++)   /* send_after: from the open */
        vs->timed[i].at += now;
    if (VOLLEY_OPT_IS_SET(c, OPT_EXPECT))
        vs->expect_at = now + (uint64_t)c->expect.timeout_ns;
    arm(vs, now);
}

/* The handshake response's headers as "Name: value\r\n" lines for the
 * step's checks. lws 4.1.6 parses the headers it knows into tokens and
 * keeps others only for lookup by name, so only known names are listed
 * (Server, Set-Cookie, Sec-WebSocket-Protocol, Content-Type, ...). */
static void copy_headers(ws_sess *vs, struct lws *wsi)
{
    const volley_host *h = vs->w->host;
    volley_buf *b = &vs->hdrs;
    b->len = 0;
    for (int t = 0; t < (int)WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        size_t nl = name ? strlen(name) : 0;
        /* header names end with ':'; skip the request line's and h2's */
        if (nl < 2 || name[0] == ':' || name[nl - 1] != ':')
            continue;
        int n = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (n <= 0)
            continue;
        if (h->buf_reserve(b, nl + 1 + (size_t)n + 3) != 0)
            return;
        memcpy(b->data + b->len, name, nl - 1);
        b->len += nl - 1;
        memcpy(b->data + b->len, ": ", 2);
        b->len += 2;
        int got = lws_hdr_copy(wsi, b->data + b->len, n + 1, (enum lws_token_indexes)t);
        b->len += got > 0 ? (size_t)got : 0;
        memcpy(b->data + b->len, "\r\n", 2);
        b->len += 2;
    }
}

/*
 * A wss session that failed in TLS, from its connection's OpenSSL state
 * (still there while lws reports the error; the connection exists only
 * once TCP connected): a certificate the profile's checks refused, an
 * alert the server sent (a TLS version it does not speak, a client
 * certificate it wanted), a client certificate the server asked for and
 * the step has none (a TLS 1.3 server says no only after our side of the
 * handshake, often by closing), or any other failure before the upgrade
 * request went out. Codes as k6's 1311, 1310 and 1300.
 */
static bool tls_failure(ws_sess *vs, struct lws *wsi, const char *why, int soerr)
{
    if (!vs->st->tls)
        return false;
    SSL *ssl = wsi ? lws_get_ssl(wsi) : NULL;
    if (!ssl && !vs->tls_cert_requested)
        return false;
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    ptls_state ts = ptls_connection_state(ssl);
    bool no_cert = (ts.cert_requested || vs->tls_cert_requested) &&
                   !vs->st->tls_profile->cert_pem;
    if (vr != X509_V_OK) {
        const char *kind;
        const char *code = ptls_verify_code(vr, &kind);
        fail(vs, strcmp(code, "1311") == 0   ? "tls_hostname"
                 : strcmp(code, "1310") == 0 ? "tls_authority"
                                             : "tls",
             "%s: %s", kind, X509_verify_cert_error_string(vr));
    } else if (ts.alert_received) {
        fail(vs, "tls", "tls: the server refused the connection: alert \"%s\"%s",
             ts.alert_received,
             no_cert ? " (it asked for a client certificate: tls.client_cert)" : "");
    } else if (no_cert) {
        fail(vs, "tls", "tls: the server asked for a client certificate and closed the "
             "connection; none is set (tls.client_cert, tls.client_key)");
    } else if (!vs->tcp_up && ssl) {
        /* lws' own words here ("connect SSL err 1: error:00000001:...")
         * print SSL_get_error's number as an OpenSSL error code */
        bool garbled = !why || strncmp(why, "connect SSL err", 15) == 0;
        if (ts.alert_sent)
            fail(vs, "tls", "tls: handshake failed: we sent alert \"%s\"", ts.alert_sent);
        else
            fail(vs, "tls", "tls: handshake failed: %s",
                 soerr ? strerror(soerr) : garbled ? "the server ended it" : why);
    } else {
        return false;
    }
    return true;
}

/* Why a connection never opened, from lws' words and the HTTP status. */
static void on_connect_error(ws_sess *vs, struct lws *wsi, const char *why)
{
    int status = wsi ? (int)lws_http_client_http_response(wsi) : 0;
    if (status > 0 && status != 101) {
        vs->status = status;
        copy_headers(vs, wsi);
        fail(vs, "handshake", "handshake: status %d instead of 101%s%s", status,
             why ? ": " : "", why ? why : "");
        return;
    }
    /* lws says "closed before established" for any TCP failure; the
     * socket's pending error tells a refusal apart. */
    int fd = wsi ? (int)lws_get_socket_fd(wsi) : -1, soerr = 0;
    socklen_t sl = sizeof soerr;
    if (fd >= 0)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (tls_failure(vs, wsi, why, soerr))
        return;
    if (!vs->tcp_up && soerr == ECONNREFUSED) {
        fail(vs, "refused", "dial: connection refused");
    } else if (!vs->tcp_up && soerr) {
        fail(vs, "connect", "dial: %s", strerror(soerr));
    } else {
        fail(vs, vs->tcp_up ? "handshake" : "connect", "%s: %s",
             vs->tcp_up ? "handshake failed" : "connect failed", why ? why : "unknown error");
    }
}

/*
 * LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION, once per
 * certificate of the server's chain as OpenSSL checks it: a session whose
 * step has insecure_skip_verify accepts whatever OpenSSL found wrong (lws
 * goes on when we clear the error and answer 0). Anything else is left as
 * OpenSSL decided.
 */
static int verify_cert(struct lws *wsi, X509_STORE_CTX *x509, int preverify_ok)
{
    const ws_sess *vs = wsi ? lws_wsi_user(wsi) : NULL;
    if (!preverify_ok && vs && vs->w && vs->phase == PH_CONNECTING && vs->st &&
        vs->st->tls_profile && vs->st->tls_profile->insecure)
        X509_STORE_CTX_set_error(x509, X509_V_OK);
    return 0;
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len)
{
    /* lws' OpenSSL callbacks pass OpenSSL objects in `user`, not ours */
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        return verify_cert(wsi, user, (int)len);
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
    case LWS_CALLBACK_OPENSSL_CONTEXT_REQUIRES_PRIVATE_KEY:
    case LWS_CALLBACK_SSL_INFO:
        return 0;
    default:
        break;
    }
    ws_sess *vs = user;
    if (!vs || !vs->w || vs->phase == PH_IDLE || vs->phase == PH_ENDED)
        return 0;   /* context events, or a session already detached */
    if (!vs->wsi)
        vs->wsi = wsi;   /* a callback during lws_client_connect_via_info */
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        vs->tcp_up = true;
        /* TLS is done; its connection may be gone when a server that
         * wanted a client certificate hangs up */
        if (vs->st->tls)
            vs->tls_cert_requested = ptls_connection_state(lws_get_ssl(wsi)).cert_requested;
        unsigned char **p = in, *end = *p + len;
        const ws_step *st = vs->st;
        const volley_host *h = vs->w->host;
        volley_buf *b = &vs->w->scratch;
        for (size_t i = 0; i < st->n_headers; i++) {
            b->len = 0;
            if (h->template_render(st->header_values[i], vs->vu, b) != 0 ||
                h->buf_reserve(b, 0) != 0)
                return -1;
            for (size_t j = 0; j < b->len; j++)   /* no header injection */
                if (b->data[j] == '\r' || b->data[j] == '\n')
                    b->data[j] = ' ';
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)st->header_names[i],
                                            (const unsigned char *)b->data, (int)b->len, p,
                                            end)) {
                fail(vs, "connect", "handshake headers too large");
                return -1;
            }
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        copy_headers(vs, wsi);   /* by ESTABLISHED lws has dropped them */
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        vs->wsi = wsi;
        on_established(vs, vs->w->host->now_ns());
        if (vs->out.len)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        on_connect_error(vs, wsi, (const char *)in);
        session_end(vs);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(vs, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(vs, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        vs->pong_due = 0;
        if (len == 8) {
            uint64_t t;
            memcpy(&t, in, 8);
            sample(vs, MET_PING, ms_between(t, vs->w->host->now_ns()));
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *b = in;
        int code = len >= 2 ? (b[0] << 8 | b[1]) : 1005;
        if (code != 1000 && code != 1001 && !vs->close_pending)
            fail(vs, ws_code(vs->w->p, "close_%d", code),
                 "closed by the server with code %d%s%.*s", code, len > 2 ? ": " : "",
                 len > 2 ? (int)(len - 2 > 120 ? 120 : len - 2) : 0,
                 len > 2 ? (const char *)b + 2 : "");
        if (vs->close_sent)
            return -1;   /* the answer to ours: lws drops the connection */
        vs->close_pending = true;   /* the server's close: lws echoes it */
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (vs->phase == PH_CONNECTING)
            on_connect_error(vs, wsi, "connection closed during the handshake");
        else if (!vs->close_pending)
            fail(vs, "close_1006", "connection lost (closed without a close frame, 1006)");
        session_end(vs);
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Steps                                                                     */
/* ------------------------------------------------------------------------ */

/* Renders what lws copies at connect: the path with its query, and Host
 * when templated. */
static const char *render_path(ws_sess *vs, volley_buf *b)
{
    const ws_step *st = vs->st;
    const volley_host *h = vs->w->host;
    if (st->path)
        return st->path;
    volley_buf *scratch = &vs->w->scratch;
    scratch->len = 0;
    b->len = 0;
    if (h->template_render(st->cfg->url, vs->vu, scratch) != 0 || h->buf_reserve(scratch, 0) != 0)
        return NULL;
    const char *rest = scratch->len >= st->prefix_len ? scratch->data + st->prefix_len : "";
    size_t rl = strcspn(rest, "#");
    if (h->buf_reserve(b, rl + 1) != 0)
        return NULL;
    if (*rest != '/')
        b->data[b->len++] = '/';
    memcpy(b->data + b->len, rest, rl);
    b->len += rl;
    b->data[b->len] = '\0';
    if (ws_append_query(h, st->cfg, vs->vu, b) != 0)
        return NULL;
    return b->data;
}

static const char *render_tmpl(ws_sess *vs, const volley_template *t, volley_buf *b)
{
    b->len = 0;
    const volley_host *h = vs->w->host;
    if (h->template_render(t, vs->vu, b) != 0 || h->buf_reserve(b, 0) != 0)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

/* Resets a session for the VU's new step; it connects on the next loop
 * turn. */
static void sess_start(ws_worker *w, const ws_step *st, volley_vu *vu, ws_vu *v, ws_sess *vs)
{
    vs->w = w;
    vs->vu = vu;
    vs->owner = v;
    vs->st = st;
    if (!vs->ctx)   /* a session keeps its context; sessions take them in turn */
        vs->ctx = w->ctx[w->next_ctx++ % w->n_ctx];
    vs->wsi = NULL;
    vs->close_pending = vs->ping_pending = vs->expect_done = vs->established = false;
    vs->close_sent = vs->close_cut = false;
    vs->pong_due = 0;
    vs->tcp_up = false;
    vs->tls_cert_requested = false;
    vs->close_code = 0;
    vs->status = 0;
    vs->connect_deadline = vs->next_send = vs->next_ping = vs->close_at = vs->expect_at = 0;
    vs->kill_at = 0;
    vs->error = NULL;
    vs->error_code = NULL;
    vs->bytes_sent = vs->bytes_received = 0;
    vs->bytes_known = false;
    vs->out.len = vs->out_head = 0;
    vs->expected.len = 0;
    vs->hdrs.len = 0;
    vs->pend_head = vs->pend_n = 0;
    vs->n_timed = 0;

    uint64_t now = w->host->now_ns();
    vs->t0 = now;
    vs->phase = PH_CONNECTING;
    vs->connect_pending = true;
    vs->connect_deadline = now + (uint64_t)st->cfg->connect_timeout_ns;
    /* The connect itself runs from the session's timer on the next loop
     * turn: step_start may come from inside another plugin's completion
     * (an http step just closed its socket, its poll handle still
     * closing), and an lws socket opened right then can get that fd number
     * while libuv still has the old handle (seen as an abort in
     * uv_poll_start). */
    uv_timer_start(&vs->timer, on_timer, 0, 0);
}

/* The VU's sessions up to n, each with its timer; -1 when out of memory
 * (nothing started). */
static int ensure_sessions(ws_worker *w, ws_vu *v, unsigned n)
{
    if (n - 1 > v->n_more) {
        ws_sess **more = realloc(v->more, (n - 1) * sizeof *more);
        if (!more)
            return -1;
        v->more = more;
        while (v->n_more < n - 1) {
            ws_sess *s = calloc(1, sizeof *s);
            if (!s)
                return -1;
            s->allocated = true;
            more[v->n_more++] = s;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        ws_sess *vs = sess_at(v, i);
        if (vs->timer_ready)
            continue;
        if (uv_timer_init(w->loop, &vs->timer) != 0)
            return -1;
        vs->timer.data = vs;
        vs->timer_ready = true;
    }
    return 0;
}

static int ws_step_start(void *wstate, void *step, volley_vu *vu, void *vu_state)
{
    ws_worker *w = wstate;
    ws_vu *v = vu_state;
    const ws_step *st = step;
    if (ensure_sessions(w, v, st->sockets) != 0)
        return -1;
    v->n = v->live = st->sockets;
    for (unsigned i = 0; i < v->n; i++)
        sess_start(w, st, vu, v, sess_at(v, i));
    return 0;
}

/* The connect of a started session (from the timer). */
static void connect_now(ws_sess *vs, uint64_t now)
{
    const ws_step *st = vs->st;
    vs->connect_pending = false;
    if (!draw_durations(vs)) {
        session_end(vs);
        return;
    }
    volley_buf path = {0}, host = {0};
    const char *p = render_path(vs, &path);
    const char *hh = st->host_tmpl ? render_tmpl(vs, st->host_tmpl, &host) : st->host_hdr;
    if (!p || !hh) {
        free(path.data), free(host.data);
        fail(vs, "render", "the url or Host could not be rendered (out of memory)");
        session_end(vs);
        return;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = vs->ctx;
    ci.address = st->address;
    ci.port = st->port;
    ci.path = p;
    ci.host = hh;
    ci.protocol = st->subprotocols;
    ci.ssl_connection = 0;
    if (st->tls) {
        /* the profile's vhost, on this VU's context; its SSL_CTX does the
         * checks (ptls.c); lws' own host check would use the url's host */
        const ptls_profile *t = st->tls_profile;
        ci.vhost = ws_vhost(vs->w, vs->ctx, t->idx);
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (t->server_name || t->insecure)
            ci.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
        if (t->insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_EXPIRED |
                                 LCCSCF_ALLOW_INSECURE;
    }
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = "volley-ws";
    ci.userdata = vs;
    /* No ci.pwsi: lws writes NULL through it when it finally frees the
     * wsi, which can be after this VU has started its next session. */
    arm(vs, now);
    struct lws *wsi = lws_client_connect_via_info(&ci);
    free(path.data), free(host.data);
    if (wsi && vs->phase == PH_CONNECTING)
        vs->wsi = wsi;
    if (!wsi && vs->phase == PH_CONNECTING) {
        vs->wsi = NULL;
        fail(vs, "connect", "connect failed (lws refused the connection attempt)");
        session_end(vs);
    }
}

/* Detaches the session from lws (no more callbacks for it) and ends it. */
static void detach(ws_sess *vs)
{
    if (vs->wsi) {
        lws_set_wsi_user(vs->wsi, NULL);
        kill_wsi(vs->wsi);
        vs->wsi = NULL;
    }
    if (vs->timer_ready)
        uv_timer_stop(&vs->timer);
    vs->phase = PH_IDLE;
}

/* Graceful stop ran out or the test ends: an open session is counted as
 * ended by the test (not failed); no step_done. */
static void ws_step_cancel(void *wstate, volley_vu *vu, void *vu_state)
{
    (void)wstate, (void)vu;
    ws_vu *v = vu_state;
    for (unsigned i = 0; i < v->n; i++) {
        ws_sess *vs = sess_at(v, i);
        if (vs->phase == PH_OPEN && !vs->error) {
            sample(vs, MET_SESSIONS, 1);
            sample(vs, MET_SESSION_FAILED, 0);
            sample(vs, MET_SESSION_DURATION, ms_between(vs->t_open, vs->w->host->now_ns()));
        }
        detach(vs);
    }
    v->live = 0;
}

/* An extra session is freed once its timer has closed. */
static void on_timer_closed(uv_handle_t *h)
{
    ws_sess *vs = h->data;
    if (vs && vs->allocated)
        free(vs);
}

static void sess_fini(ws_sess *vs)
{
    detach(vs);
    free(vs->out.data);
    free(vs->msg.data);
    free(vs->expected.data);
    free(vs->hdrs.data);
    free(vs->pend);
    free(vs->timed);
    vs->out = vs->msg = vs->expected = vs->hdrs = (volley_buf){0};
    vs->pend = NULL;
    vs->timed = NULL;
    vs->n_timed = vs->cap_timed = 0;
    if (vs->timer_ready) {
        vs->timer_ready = false;
        uv_close((uv_handle_t *)&vs->timer, on_timer_closed);   /* vs outlives the close */
    } else if (vs->allocated) {
        free(vs);
    }
}

static void ws_vu_fini(void *wstate, void *vu_state)
{
    (void)wstate;
    ws_vu *v = vu_state;
    sess_fini(&v->first);
    for (unsigned i = 0; i < v->n_more; i++)
        sess_fini(v->more[i]);
    free(v->more);
    v->more = NULL;
    v->n_more = v->n = v->live = 0;
}

/* ------------------------------------------------------------------------ */
/* Descriptor                                                                */
/* ------------------------------------------------------------------------ */

/* The `name` tag of the step's samples: its `name` option, else its url. */
static const char *ws_step_name(void *inst, const void *step)
{
    (void)inst;
    return ((const ws_step *)step)->tag_name;
}

static const volley_protocol_ops ops = {
    .size = sizeof(volley_protocol_ops),
    .step_key = "ws",
    .step_options = &ws_step_options,
    .vu_state_size = sizeof(ws_vu),
    .create = ws_create,
    .destroy = ws_destroy,
    .step_compile = ws_step_compile,
    .step_free = ws_step_free,
    .worker_init = ws_worker_init,
    .worker_fini = ws_worker_fini,
    .step_start = ws_step_start,
    .step_cancel = ws_step_cancel,
    .vu_fini = ws_vu_fini,
    .worker_done = ws_worker_done,
    .step_name = ws_step_name,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_PROTOCOL, .name = "ws", .version = "0.1.0",
                     .description = "WebSocket sessions (libwebsockets on the worker's loop)",
                     .protocol = &ops)
