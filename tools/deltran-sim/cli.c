#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

void cli_usage(FILE *out)
{
    fputs("usage: deltran-sim [options]\n"
          "\n"
          "A local stand-in for the 11 DelTran MVP services (tools/deltran-sim/README.md).\n"
          "Prints one line starting with \"ready\" on stdout once every port listens;\n"
          "SIGINT or SIGTERM stop it.\n"
          "\n"
          "listening:\n"
          "  --listen ADDR            address to bind (default 127.0.0.1)\n"
          "  --port-offset N          add N to every port (default 0: 8080-8093)\n"
          "  --port-map brief|compose brief: reporting 8087, settlement 8088 (default);\n"
          "                           compose: the other way round\n"
          "  --services LIST          comma-separated subset of: gateway, token, obligation,\n"
          "                           liquidity, risk, clearing, compliance, reporting,\n"
          "                           settlement, notification, ws-alias, analytics (default all)\n"
          "gateway:\n"
          "  --profile P              orchestrating (cmd/main.go, default) or enhanced\n"
          "                           (main_enhanced.go)\n"
          "  --jwt-secret S           HMAC secret (default the services' placeholder)\n"
          "  --auth on|off            enhanced: ENABLE_AUTH (default off)\n"
          "  --rate-limit on|off      either profile's limiter (default on)\n"
          "  --rate-rpm N             orchestrating: token bucket refill per minute (100)\n"
          "  --rate-burst N           orchestrating: token bucket burst (20)\n"
          "  --downstream ok|fail     orchestrating: fail = the engines reject the gateway's\n"
          "                           calls, as the real ones do: every transfer is 500\n"
          "  --blocked-rate P         orchestrating: share of transfers compliance blocks (403)\n"
          "  --analytics on|off       enhanced: report to the collector (default on)\n"
          "analytics collector:\n"
          "  --fix-event-updates      apply event updates instead of the real 500\n"
          "notification engine:\n"
          "  --ws-ping-interval D     server ping frames (default 30s)\n"
          "  --ws-read-timeout D      close when no pong for this long (default 60s)\n"
          "  --ws-alias-strict        the 8090 alias demands user_id like 8089/ws\n"
          "  --ws-duplicate           deliver every message twice (the Redis loop-back)\n"
          "  --notify-limit N         per-user burst of the dispatch limiter (10; 0 = off)\n"
          "injection and state:\n"
          "  --latency D              delay every response by D (e.g. 2ms)\n"
          "  --jitter D               plus or minus up to D, uniformly\n"
          "  --error-rate P           answer this share of requests (not /health) with the\n"
          "                           service's 500\n"
          "  --seed N                 make random choices and generated ids repeatable\n"
          "  --max-records N          cap per in-memory table; oldest evicted (100000)\n"
          "  -q, --quiet              no summary on exit\n"
          "  -h, --help               this text\n",
          out);
}

static int fail(char *err, size_t cap, const char *fmt, const char *opt, const char *val)
{
    snprintf(err, cap, fmt, opt, val);
    return -1;
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out, char *err, size_t cap)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        char range[64];
        snprintf(range, sizeof range, "%ld to %ld", lo, hi);
        snprintf(err, cap, "%s: expected a whole number from %s; got \"%s\"", opt, range, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_prob(const char *opt, const char *v, double *out, char *err, size_t cap)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= 0 && x <= 1))
        return fail(err, cap, "%s: expected a probability from 0 to 1 (e.g. 0.01); got \"%s\"", opt, v);
    *out = x;
    return 0;
}

static int parse_dur(const char *opt, const char *v, int64_t *out, char *err, size_t cap)
{
    char why[160];
    if (duration_parse(v, out, why, sizeof why) != 0) {
        snprintf(err, cap, "%s: %s", opt, why);
        return -1;
    }
    return 0;
}

static int parse_onoff(const char *opt, const char *v, bool *out, char *err, size_t cap)
{
    if (strcmp(v, "on") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0)
        *out = false;
    else
        return fail(err, cap, "%s: expected on or off; got \"%s\"", opt, v);
    return 0;
}

static int parse_services(const char *v, bool *enabled, char *err, size_t cap)
{
    memset(enabled, 0, SVC_COUNT * sizeof *enabled);
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        return fail(err, cap, "%s%s", "out of memory", "");
    int rc = 0, n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (strcmp(tok, "all") == 0) {
            for (int i = 0; i < SVC_COUNT; i++)
                enabled[i] = true;
            n++;
            continue;
        }
        int found = -1;
        for (int i = 0; i < SVC_COUNT; i++)
            if (strcmp(tok, sim_service_key((enum sim_service_id)i)) == 0)
                found = i;
        if (found < 0)
            rc = fail(err, cap,
                      "%s: unknown service \"%s\"; expected some of: gateway, token, obligation, liquidity, risk, "
                      "clearing, compliance, reporting, settlement, notification, ws-alias, analytics, all",
                      "--services", tok);
        else
            enabled[found] = true;
        n++;
    }
    free(copy);
    if (rc == 0 && n == 0)
        rc = fail(err, cap, "%s: expected a comma-separated list of services%s", "--services", "");
    return rc;
}

enum {
    O_LISTEN = 256, O_PORT_OFFSET, O_PORT_MAP, O_SERVICES, O_PROFILE, O_JWT_SECRET, O_AUTH, O_RATE_LIMIT,
    O_RATE_RPM, O_RATE_BURST, O_DOWNSTREAM, O_BLOCKED, O_ANALYTICS, O_FIX_EVENTS, O_WS_PING, O_WS_READ,
    O_WS_STRICT, O_WS_DUP, O_NOTIFY_LIMIT, O_LATENCY, O_JITTER, O_ERROR_RATE, O_SEED, O_MAX_RECORDS,
};

enum cli_result cli_parse(int argc, char **argv, struct sim_config *cfg, char *err, size_t errcap)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, O_LISTEN },
        { "port-offset", required_argument, NULL, O_PORT_OFFSET },
        { "port-map", required_argument, NULL, O_PORT_MAP },
        { "services", required_argument, NULL, O_SERVICES },
        { "profile", required_argument, NULL, O_PROFILE },
        { "jwt-secret", required_argument, NULL, O_JWT_SECRET },
        { "auth", required_argument, NULL, O_AUTH },
        { "rate-limit", required_argument, NULL, O_RATE_LIMIT },
        { "rate-rpm", required_argument, NULL, O_RATE_RPM },
        { "rate-burst", required_argument, NULL, O_RATE_BURST },
        { "downstream", required_argument, NULL, O_DOWNSTREAM },
        { "blocked-rate", required_argument, NULL, O_BLOCKED },
        { "analytics", required_argument, NULL, O_ANALYTICS },
        { "fix-event-updates", no_argument, NULL, O_FIX_EVENTS },
        { "ws-ping-interval", required_argument, NULL, O_WS_PING },
        { "ws-read-timeout", required_argument, NULL, O_WS_READ },
        { "ws-alias-strict", no_argument, NULL, O_WS_STRICT },
        { "ws-duplicate", no_argument, NULL, O_WS_DUP },
        { "notify-limit", required_argument, NULL, O_NOTIFY_LIMIT },
        { "latency", required_argument, NULL, O_LATENCY },
        { "jitter", required_argument, NULL, O_JITTER },
        { "error-rate", required_argument, NULL, O_ERROR_RATE },
        { "seed", required_argument, NULL, O_SEED },
        { "max-records", required_argument, NULL, O_MAX_RECORDS },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(cfg, 0, sizeof *cfg);
    cfg->profile = GW_ORCHESTRATING;
    cfg->listen = "127.0.0.1";
    for (int i = 0; i < SVC_COUNT; i++)
        cfg->enabled[i] = true;
    cfg->jwt_secret = "deltran-secret-key-change-in-production";
    cfg->rate_limit = true;
    cfg->g1_rpm = 100;
    cfg->g1_burst = 20;
    cfg->analytics = true;
    cfg->ws_ping_ns = 30 * INT64_C(1000000000);
    cfg->ws_read_timeout_ns = 60 * INT64_C(1000000000);
    cfg->notify_limit = 10;
    cfg->max_records = 100000;

    optind = 1;
    opterr = 0;
    int c;
    long n = 0;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        int rc = 0;
        switch (c) {
        case 'h': return CLI_HELP;
        case 'q': cfg->quiet = true; break;
        case O_LISTEN: cfg->listen = optarg; break;
        case O_PORT_OFFSET:
            rc = parse_long("--port-offset", optarg, -8080, 65535 - 8093, &n, err, errcap);
            cfg->port_offset = (int)n;
            break;
        case O_PORT_MAP:
            if (strcmp(optarg, "brief") == 0)
                cfg->compose_ports = false;
            else if (strcmp(optarg, "compose") == 0)
                cfg->compose_ports = true;
            else
                rc = fail(err, errcap, "%s: expected brief or compose; got \"%s\"", "--port-map", optarg);
            break;
        case O_SERVICES: rc = parse_services(optarg, cfg->enabled, err, errcap); break;
        case O_PROFILE:
            if (strcmp(optarg, "orchestrating") == 0)
                cfg->profile = GW_ORCHESTRATING;
            else if (strcmp(optarg, "enhanced") == 0)
                cfg->profile = GW_ENHANCED;
            else
                rc = fail(err, errcap, "%s: expected orchestrating or enhanced; got \"%s\"", "--profile", optarg);
            break;
        case O_JWT_SECRET:
            if (!*optarg)
                rc = fail(err, errcap, "%s: the secret must not be empty%s", "--jwt-secret", "");
            cfg->jwt_secret = optarg;
            break;
        case O_AUTH: rc = parse_onoff("--auth", optarg, &cfg->auth, err, errcap); break;
        case O_RATE_LIMIT: rc = parse_onoff("--rate-limit", optarg, &cfg->rate_limit, err, errcap); break;
        case O_RATE_RPM:
            rc = parse_long("--rate-rpm", optarg, 1, 100000000, &n, err, errcap);
            cfg->g1_rpm = (int)n;
            break;
        case O_RATE_BURST:
            rc = parse_long("--rate-burst", optarg, 1, 100000000, &n, err, errcap);
            cfg->g1_burst = (int)n;
            break;
        case O_DOWNSTREAM:
            if (strcmp(optarg, "ok") == 0)
                cfg->downstream_fail = false;
            else if (strcmp(optarg, "fail") == 0)
                cfg->downstream_fail = true;
            else
                rc = fail(err, errcap, "%s: expected ok or fail; got \"%s\"", "--downstream", optarg);
            break;
        case O_BLOCKED: rc = parse_prob("--blocked-rate", optarg, &cfg->blocked_rate, err, errcap); break;
        case O_ANALYTICS: rc = parse_onoff("--analytics", optarg, &cfg->analytics, err, errcap); break;
        case O_FIX_EVENTS: cfg->fix_event_updates = true; break;
        case O_WS_PING:
            rc = parse_dur("--ws-ping-interval", optarg, &cfg->ws_ping_ns, err, errcap);
            if (!rc && cfg->ws_ping_ns < INT64_C(10000000))
                rc = fail(err, errcap, "%s: must be at least 10ms; got \"%s\"", "--ws-ping-interval", optarg);
            break;
        case O_WS_READ:
            rc = parse_dur("--ws-read-timeout", optarg, &cfg->ws_read_timeout_ns, err, errcap);
            if (!rc && cfg->ws_read_timeout_ns < INT64_C(10000000))
                rc = fail(err, errcap, "%s: must be at least 10ms; got \"%s\"", "--ws-read-timeout", optarg);
            break;
        case O_WS_STRICT: cfg->alias_strict = true; break;
        case O_WS_DUP: cfg->ws_duplicate = true; break;
        case O_NOTIFY_LIMIT:
            rc = parse_long("--notify-limit", optarg, 0, 1000000000, &n, err, errcap);
            cfg->notify_limit = (int)n;
            break;
        case O_LATENCY: rc = parse_dur("--latency", optarg, &cfg->latency_ns, err, errcap); break;
        case O_JITTER: rc = parse_dur("--jitter", optarg, &cfg->jitter_ns, err, errcap); break;
        case O_ERROR_RATE: rc = parse_prob("--error-rate", optarg, &cfg->error_rate, err, errcap); break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-')
                rc = fail(err, errcap, "%s: expected a non-negative whole number; got \"%s\"", "--seed", optarg);
            cfg->seed = s;
            cfg->seeded = true;
            break;
        }
        case O_MAX_RECORDS:
            rc = parse_long("--max-records", optarg, 1, 100000000, &n, err, errcap);
            cfg->max_records = (size_t)n;
            break;
        case ':': rc = fail(err, errcap, "%s: needs a value%s", name, ""); break;
        default: rc = fail(err, errcap, "unknown option \"%s\"%s", name, ""); break;
        }
        if (rc)
            return CLI_ERROR;
    }
    if (optind < argc) {
        fail(err, errcap, "unexpected argument \"%s\"%s", argv[optind], "");
        return CLI_ERROR;
    }
    return CLI_RUN;
}
