/*
 * What a finished request leaves behind, whichever client ran it: its k6
 * timings, its error text and code, its samples (the metrics are
 * registered here too) and the response handed to step_done. The bottom
 * of the request paths: it calls only the host.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

static const struct {
    const char *name;
    volley_metric_type type;
    volley_metric_contains contains;
} metric_defs[MET_COUNT] = {
    [MET_REQS] = {"http_reqs", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    [MET_DURATION] = {"http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_BLOCKED] = {"http_req_blocked", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_CONNECTING] = {"http_req_connecting", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_TLS] = {"http_req_tls_handshaking", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_SENDING] = {"http_req_sending", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_WAITING] = {"http_req_waiting", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_RECEIVING] = {"http_req_receiving", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [MET_FAILED] = {"http_req_failed", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT},
    [MET_DATA_SENT] = {"data_sent", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA},
    [MET_DATA_RECEIVED] = {"data_received", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA},
};

int http_result_init(http_plugin *p, char *err, size_t errcap)
{
    const volley_host *host = p->host;
    for (int i = 0; i < MET_COUNT; i++) {
        p->metric[i] = host->metric_register(p->core, metric_defs[i].name, metric_defs[i].type,
                                             metric_defs[i].contains, err, errcap);
        if (p->metric[i] < 0)
            return -1;
    }
    for (int i = 0; i < 200; i++)
        snprintf(p->status_code[i], sizeof p->status_code[i], "%d", 1400 + i);
    return 0;
}

/* Transport errors as k6 codes them (lib/netext/httpext/error_codes.go),
 * with a short k6-like message put in front of curl's own text. */
static const char *error_kind(CURLcode rc, long os_errno, bool sent, const char *detail,
                              const char **code)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        *code = "1050";
        return "request timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
        *code = "1101";
        return "lookup: no such host";
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) {
            *code = "1212";
            return "dial: connection refused";
        }
        if (os_errno == ETIMEDOUT) {
            *code = "1211";
            return "dial: i/o timeout";
        }
        *code = os_errno ? "1213" : "1210";
        return "dial: error";
    case CURLE_URL_MALFORMAT:
        *code = "1020";
        return "invalid URL";
    case CURLE_UNSUPPORTED_PROTOCOL:
        if (!sent) {
            *code = "1020";
            return "invalid URL";
        }
        *code = "1000";   /* e.g. an HTTP/0.9 (non-HTTP) reply */
        return "malformed HTTP response";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        /* A TLS 1.3 server refuses a missing client certificate after the
         * client's side of the handshake: the alert comes with the
         * response ("SSL_read: ... tlsv13 alert certificate required"). */
        if (detail && strstr(detail, "SSL routines") && strstr(detail, "alert")) {
            *code = "1300";
            return "tls: the server refused the connection";
        }
        if (os_errno == ECONNRESET) {
            *code = "1220";
            return rc == CURLE_SEND_ERROR ? "write: connection reset by peer"
                                          : "read: connection reset by peer";
        }
        if (os_errno == EPIPE) {
            *code = "1201";
            return "write: broken pipe";
        }
        *code = os_errno ? "1202" : "1200";
        return rc == CURLE_SEND_ERROR ? "write: error" : "read: error";
    case CURLE_GOT_NOTHING:
        *code = "1000";
        return "EOF (empty reply from server)";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
        *code = "1000";
        return "malformed HTTP response";
    case CURLE_SSL_CONNECT_ERROR:
        *code = "1300";
        return "tls: handshake failed";
    case CURLE_SSL_CLIENTCERT:
        *code = "1300";
        return "tls: the server wants a client certificate";
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
        *code = "1300";
        return "tls: error";
    case CURLE_PEER_FAILED_VERIFICATION:
        if (detail && (strstr(detail, "subject") || strstr(detail, "hostname") ||
                       strstr(detail, "IP address"))) {
            *code = "1311";
            return "x509: certificate doesn't match hostname";
        }
        *code = "1310";
        return "x509: unknown authority";
    case CURLE_HTTP2:
        *code = "1650";
        return "http2: connection error";
    case CURLE_HTTP2_STREAM:
        *code = "1630";
        return "http2: stream error";
    case CURLE_FILESIZE_EXCEEDED:
        /* max_response_size, or headers over curl's limits: both clients */
        *code = "1060";
        return "response too large";
    case CURLE_BAD_CONTENT_ENCODING:
        *code = "1701";
        return "response decompression failed";
    default:
        *code = "1000";
        return "request failed";
    }
}

void http_outcome_error(http_worker *w, http_outcome *o, CURLcode rc, long os_errno, bool sent,
                        const char *detail)
{
    const char *kind = error_kind(rc, os_errno, sent, detail, &o->error_code);
    /* step_done reads it before anything else can complete */
    snprintf(w->errtext, sizeof w->errtext, "%s: %s", kind, detail);
    o->error = w->errtext;
    o->status = 0;
}

/*
 * k6's definitions on the VU's stamps (README.md). blocked: step start to
 * connection ready (so it holds connect and TLS of a new connection, as in
 * k6); sending: until the request was written; waiting: until the first
 * response byte. receiving is the client's own measure, used once the
 * first byte came.
 */
http_timings http_measure(const http_vu *vs, uint64_t now, double receiving)
{
    http_timings t = {0};
    t.blocked = http_ns_ms(vs->t_start, vs->t_prereq ? vs->t_prereq : now);
    if (vs->t_prereq) {
        uint64_t sent = vs->t_sent ? vs->t_sent : vs->t_prereq;
        t.sending = http_ns_ms(vs->t_prereq, sent);
        if (vs->t_first) {
            t.waiting = http_ns_ms(sent, vs->t_first);
            t.receiving = receiving;
        } else {
            t.waiting = http_ns_ms(sent, now);
        }
    }
    t.duration = t.sending + t.waiting + t.receiving;
    return t;
}

/*
 * A request without a response (refused, reset, timed out or answered
 * with garbage before a status line) has no timings to give: its zeros
 * would pull the trends down, and a target that is down would pass
 * `p(95)<500`. It counts in http_reqs, http_req_failed and the data
 * metrics only, none of the seven timing trends (connecting and TLS of a
 * connection that then got nothing included), so each trend's count is
 * the number of responses. k6 records zeros there; docs/spec-reference.md
 * says why Volley does not.
 */
static void emit(http_worker *w, http_vu *vs, const http_outcome *o, const volley_tags *tags,
                 bool failed)
{
    const volley_host *h = w->host;
    const int *m = w->p->metric;
    volley_vu *vu = vs->vu;
    const http_timings *t = &o->t;
    h->sample(vu, m[MET_REQS], 1.0, tags);
    if (o->responded) {
        h->sample(vu, m[MET_DURATION], t->duration, tags);
        h->sample(vu, m[MET_BLOCKED], t->blocked, tags);
        h->sample(vu, m[MET_CONNECTING], t->connecting, tags);
        h->sample(vu, m[MET_TLS], t->tls, tags);
        h->sample(vu, m[MET_SENDING], t->sending, tags);
        h->sample(vu, m[MET_WAITING], t->waiting, tags);
        h->sample(vu, m[MET_RECEIVING], t->receiving, tags);
    }
    h->sample(vu, m[MET_FAILED], failed ? 1.0 : 0.0, tags);
    /* k6 tags data_sent/data_received with scenario and group only. */
    volley_tags plain = VOLLEY_TAGS_INIT;
    h->sample(vu, m[MET_DATA_SENT], o->sent, &plain);
    h->sample(vu, m[MET_DATA_RECEIVED], (double)(vs->resp.hdr_bytes + vs->resp.body_bytes), &plain);
}

void http_record(http_worker *w, http_vu *vs, const http_outcome *o)
{
    const http_step *st = vs->step;
    volley_tags tags = VOLLEY_TAGS_INIT;
    tags.name = st->tag_name;
    tags.method = http_method_names[st->method];
    tags.url = st->tag_url;
    tags.error_code = o->error_code;
    tags.tls_version = vs->tls_version;
    vs->tls_version = NULL;   /* each client sets it for its requests */
    long status = o->status;
    if (!o->error && status >= 400 && status < 600)
        tags.error_code = w->p->status_code[status - 400];
    tags.status = (int)status;
    tags.expected_response = http_status_expected(st, status);
    emit(w, vs, o, &tags, !tags.expected_response);
}

void http_respond(http_worker *w, http_vu *vs, const http_outcome *o)
{
    volley_response resp = {
        .status = (int)o->status,
        .error = o->error,
        .headers = vs->resp.headers.data ? vs->resp.headers.data : "",
        .headers_len = vs->resp.headers.len,
        .body = vs->resp.body.data ? vs->resp.body.data : "",
        .body_len = vs->resp.body.len,
        .duration_ms = o->t.duration,
        .jar = o->jar,
        .jar_len = o->jar_len,
        /* revision 7: the exchange, as k6's r.proto, r.url, r.timings */
        .proto = o->responded ? o->proto : NULL,
        .url = o->url,
        .has = VOLLEY_RESP_BYTES | (o->responded ? VOLLEY_RESP_TIMINGS : 0),
        .blocked_ms = o->t.blocked,
        .connecting_ms = o->t.connecting,
        .tls_handshaking_ms = o->t.tls,
        .sending_ms = o->t.sending,
        .waiting_ms = o->t.waiting,
        .receiving_ms = o->t.receiving,
        .bytes_sent = (uint64_t)o->sent,
        .bytes_received = vs->resp.hdr_bytes + vs->resp.body_bytes,
        .tls_version = vs->tls_info.version,
        .tls_cipher_suite = vs->tls_info.cipher_suite,
        .ocsp_status = vs->tls_info.ocsp_status,
        .vu_jar = o->vu_jar,
        .vu_jar_len = o->vu_jar_len,
    };
    vs->tls_info = (ptls_info){NULL, NULL, NULL};
    w->host->step_done(vs->vu, &resp);
}
