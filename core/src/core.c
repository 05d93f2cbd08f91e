#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "check.h"
#include "engine.h"
#include "memo.h"
#include "secret.h"
#include "spec.h"
#include "template.h"
#include "vu.h"

static uint64_t host_now_ns(void) { return uv_hrtime(); }

static void host_log(volley_core *core, int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (level >= VOLLEY_LOG_INFO && !(core && core->verbose))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Whole, then redacted (a plugin's message may quote a url with a
     * secret in it): a secret cut at the end would not be recognized. */
    char *text = n >= (int)sizeof msg ? malloc((size_t)n + 1) : NULL;
    if (text) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    secret_fprintf(stderr, "volley: %s: %s\n", names[level >= 0 && level <= 3 ? level : 0],
                   text ? text : msg);
    if (level == VOLLEY_LOG_WARN && core && core->engine) {
        char shown[1024];
        const char *t = text ? text : msg;
        secret_redact(t, strlen(t), NULL, 0, shown, sizeof shown);
        engine_note_warning(core->engine, shown);
    }
    free(text);
}

static int host_metric_register(volley_core *core, const char *name, volley_metric_type type,
                                volley_metric_contains contains, char *err, size_t errcap)
{
    return metrics_register(&core->reg, name, type, contains, err, errcap);
}

static const volley_metric_info *host_metric_info(volley_core *core, uint32_t id)
{
    return id < core->reg.n_metrics ? &core->reg.metrics[id].info : NULL;
}

static uint64_t host_vu_id(volley_vu *vu) { return vu_get_id(vu); }
static uint64_t host_vu_iteration(volley_vu *vu) { return vu_get_iteration(vu); }
static const char *host_template_const(const volley_template *t) { return tmpl_const(t); }
static int host_template_render(const volley_template *t, volley_vu *vu, volley_buf *out)
{
    return tmpl_render(t, vu, out);
}
static const char *host_json_const(const volley_json *j) { return tjson_const(j); }
static int host_json_render(const volley_json *j, volley_vu *vu, volley_buf *out)
{
    return tjson_render(j, vu, out);
}

static void host_config_error(volley_core *core, const void *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spec_config_message(core ? core->loading : NULL, field, true, fmt, ap);
    va_end(ap);
}

static void host_config_warning(volley_core *core, const void *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spec_config_message(core ? core->loading : NULL, field, false, fmt, ap);
    va_end(ap);
}

int core_init(volley_core *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    c->host = (volley_host){
        .abi = VOLLEY_ABI_VERSION,
        .size = sizeof(volley_host),
        .now_ns = host_now_ns,
        .log = host_log,
        .metric_register = host_metric_register,
        .sample = engine_host_sample,
        .metric_info = host_metric_info,
        .worker_loop = engine_host_worker_loop,
        .worker_index = engine_host_worker_index,
        .vu_worker = engine_host_vu_worker,
        .vu_id = host_vu_id,
        .vu_iteration = host_vu_iteration,
        .step_done = engine_host_step_done,
        .template_const = host_template_const,
        .template_render = host_template_render,
        .json_const = host_json_const,
        .json_render = host_json_render,
        .buf_reserve = vbuf_reserve,
        .memo_get = memo_get,
        .memo_put = memo_put,
        .template_display = tmpl_display,
        .checks_run = engine_host_checks_run,
        .checks_match = check_match,
        .value_get = check_value_get,
        .checks_match_vu = check_match_vu,
        .captures_apply = engine_host_captures_apply,
        .template_map_urlencode = tmpl_map_urlencode,
        .revision = VOLLEY_ABI_REVISION,
        .config_error = host_config_error,
        .config_warning = host_config_warning,
        .redact = secret_host_redact,
    };
    metrics_reg_init(&c->reg);
    return spec_register_builtin_metrics(&c->reg, err, errcap);
}

void core_free(volley_core *c)
{
    plug_unload_all(&c->plugins);
    metrics_reg_free(&c->reg);
}
