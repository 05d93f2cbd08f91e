#include "run_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

static const char *op_text(th_op op)
{
    switch (op) {
    case TH_OP_LT: return "<";
    case TH_OP_LE: return "<=";
    case TH_OP_GT: return ">";
    case TH_OP_GE: return ">=";
    case TH_OP_EQ: return "==";
    case TH_OP_NE: return "!=";
    }
    return "?";
}

int run_summary_build(run_summary *rs, const spec *s, const metrics_reg *reg, const run_result *r,
                      const th_verdict *v, int exit_code)
{
    memset(rs, 0, sizeof *rs);
    double dur = (double)r->duration_ns / 1e9;
    rs->pub = (volley_run_summary){
        .size = sizeof(volley_run_summary),
        .spec_name = s->name ? s->name : "",
        .spec_path = s->path ? s->path : "",
        .start_unix_ns = r->start_unix_ns,
        .duration_s = dur,
        .exit_code = exit_code,
        .interrupted = r->interrupted,
        .aborted = r->aborted || r->test_aborted,
        .seed = r->seed,
    };
    size_t n_checks = 0;
    for (size_t i = 0; i < reg->n_series; i++)
        n_checks += reg->series[i].hidden;
    size_t nt = s->n_thresholds ? s->n_thresholds : 1, nc = n_checks ? n_checks : 1;
    rs->th = calloc(nt, sizeof *rs->th);
    rs->th_ptrs = calloc(nt, sizeof *rs->th_ptrs);
    rs->th_text = calloc(nt * 2, sizeof *rs->th_text);
    rs->ck = calloc(nc, sizeof *rs->ck);
    rs->ck_ptrs = calloc(nc, sizeof *rs->ck_ptrs);
    if (!rs->th || !rs->th_ptrs || !rs->th_text || !rs->ck || !rs->ck_ptrs) {
        run_summary_free(rs);
        rs->pub = (volley_run_summary){.size = sizeof(volley_run_summary), .exit_code = exit_code};
        return -1;
    }
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        const series_agg *a = &r->agg.s[t->series];
        volley_threshold_result *o = &rs->th[i];
        char *obs = rs->th_text[2 * i], *agg = rs->th_text[2 * i + 1];
        th_agg_label(&t->expr, agg, sizeof rs->th_text[0]);
        bool no_data = v[i] == TH_NO_DATA;
        if (!no_data)
            summary_fmt_judged(reg, t, a, dur, obs, sizeof rs->th_text[0]);
        *o = (volley_threshold_result){
            .size = sizeof(volley_threshold_result),
            .key = t->key,
            .metric = reg->metrics[t->metric].info.name,
            .expression = t->source,
            .verdict = v[i] == TH_PASS ? VOLLEY_VERDICT_PASS
                       : v[i] == TH_FAIL ? VOLLEY_VERDICT_FAIL : VOLLEY_VERDICT_NO_DATA,
            .fails_run = summary_fails_run(t, v[i]),
            .allow_no_data = t->allow_no_data,
            .abort_on_fail = t->abort_on_fail,
            .aborted_run = r->aborted && r->abort_threshold == i,
            .observed = no_data ? NAN : summary_agg_value(reg, a, t->metric, &t->expr, dur),
            .observed_text = obs,
            .aggregation = agg,
            .op = op_text(t->expr.op),
            .limit = t->expr.target,
        };
        rs->th_ptrs[i] = o;
    }
    /* ck_ptrs: the checks, then the captures (revision 7) */
    size_t k = 0, n_only_checks = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < reg->n_series; i++) {
            const series_def *sd = &reg->series[i];
            if (!sd->hidden || (sd->metric == BUILTIN_CAPTURES) != (pass == 1))
                continue;
            const series_agg *a = &r->agg.s[i];
            rs->ck[k] = (volley_check_result){
                .size = sizeof(volley_check_result),
                .name = sd->check_name ? sd->check_name : "",
                .group = sd->check_group ? sd->check_group : "",
                .passes = a->nonzero,
                .fails = a->count - a->nonzero,
                .first_failure = r->check_fail && i < r->n_check_fail ? r->check_fail[i] : NULL,
            };
            rs->ck_ptrs[k] = &rs->ck[k];
            k++;
            n_only_checks += pass == 0;
        }
    }
    rs->pub.n_thresholds = s->n_thresholds;
    rs->pub.thresholds = rs->th_ptrs;
    rs->pub.n_checks = n_only_checks;
    rs->pub.checks = rs->ck_ptrs;
    rs->pub.n_captures = k - n_only_checks;
    rs->pub.captures = rs->ck_ptrs + n_only_checks;
    return 0;
}

void run_summary_free(run_summary *rs)
{
    free(rs->th);
    free(rs->th_ptrs);
    free(rs->th_text);
    free(rs->ck);
    free(rs->ck_ptrs);
    memset(rs, 0, sizeof *rs);
}
