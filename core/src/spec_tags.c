/*
 * spec_tags: the values the `name`, `group` and `scenario` tags (and the
 * spec's own tags) can take on
 * a compiled spec's samples, and the warning about a threshold filter that
 * names none of them (a typo such as {name:trasnfer}: its sub-metric could
 * get no sample and its thresholds would end with "no data").
 *
 * Names come from the protocol plugins (volley_protocol_ops.step_name); a
 * step whose plugin cannot tell its name turns the name warnings off, as a
 * warning that may be wrong is worse than none. Groups are the flows'
 * group paths ("::outer::inner"), scenarios the ones that run (--scenario).
 * The same for the tags of steps, record entries and scenarios (`tags:`,
 * tag_stage's `stage`): a value nothing sets (a --tag of it matches every
 * sample).
 * Only warnings: the spec loads either way.
 *
 * The same names make the per-name breakdowns (spec_add_breakdowns): each
 * request metric once more per name, for reports and --summary-by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "spec_int.h"
#include "suggest.h"

/* A set of tag values (pointers into the spec; the array is owned). */
typedef struct value_set {
    size_t n, cap;
    const char **v;
    bool unknown;      /* a step whose name the plugin cannot tell */
} value_set;

static bool set_has(const value_set *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return true;
    return false;
}

static void set_add(value_set *s, const char *v)
{
    if (set_has(s, v))
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) {
            s->unknown = true;   /* incomplete: say nothing rather than wrong */
            return;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}

/* What the other filters of the key pin down: names and groups are looked
 * for in that scenario and group only (NULL: any). */
typedef struct scope {
    const char *scenario, *group;
} scope;

static const char *step_name(spec_loader *L, const flow_op *op)
{
    const plug *p = L->s->protos[op->proto].plugin;
    const char *name = NULL;
    if (p->desc->protocol->step_name)
        CRASH_CALL(p->desc->name, "protocol step_name",
                   name = p->desc->protocol->step_name(L->s->protos[op->proto].inst, op->step));
    return name;
}

/* The values `key` takes in the scenarios `scs` within scope `sc`. */
static void collect(spec_loader *L, const scenario *scs, size_t n, tag_key key, const scope *sc,
                    value_set *out)
{
    for (size_t i = 0; i < n; i++) {
        if (sc->scenario && strcmp(scs[i].name, sc->scenario) != 0)
            continue;
        if (key == TAG_SCENARIO)
            set_add(out, scs[i].name);
        for (size_t j = 0; j < scs[i].n_ops; j++) {
            const flow_op *op = &scs[i].ops[j];
            if (key == TAG_GROUP && op->kind == OP_GROUP_ENTER) {
                set_add(out, op->group);
            } else if (key == TAG_NAME && op->kind == OP_STEP &&
                       (!sc->group || strcmp(op->group, sc->group) == 0)) {
                const char *name = step_name(L, op);
                if (name)
                    set_add(out, name);
                else
                    out->unknown = true;
            }
        }
    }
}

/* " (did you mean ...?)", or the values there are, into buf. */
static void hint(tag_key key, const char *value, const value_set *there, char *buf, size_t cap)
{
    char prefixed[512];
    snprintf(prefixed, sizeof prefixed, "::%s", value);
    if (key == TAG_GROUP && strncmp(value, "::", 2) != 0 && set_has(there, prefixed)) {
        snprintf(buf, cap, " (did you mean \"%s\"? a group tag is the group's path, which starts "
                 "with \"::\")", prefixed);
        return;
    }
    if (*suggest_hint(value, there->v, there->n, buf, cap))
        return;
    static const char *const what[] = {[TAG_NAME] = "steps' names", [TAG_GROUP] = "groups",
                                       [TAG_SCENARIO] = "scenarios"};
    static const char *const none[] = {[TAG_NAME] = "steps", [TAG_GROUP] = "groups",
                                       [TAG_SCENARIO] = "scenarios"};
    if (there->n == 0) {
        snprintf(buf, cap, " (no %s there)", none[key]);
        return;
    }
    char list[256];
    suggest_join(there->v, there->n, list, sizeof list);
    snprintf(buf, cap, " (%s: %s)", what[key], list);
}

/* " in scenario "s" and group "::g"": where the value was looked for. */
static void where(tag_key key, const scope *sc, char *buf, size_t cap)
{
    const char *s = key != TAG_SCENARIO ? sc->scenario : NULL;
    const char *g = key == TAG_NAME ? sc->group : NULL;
    if (s && g)
        snprintf(buf, cap, " in scenario \"%s\" and group \"%s\"", s, g);
    else if (s)
        snprintf(buf, cap, " in scenario \"%s\"", s);
    else if (g)
        snprintf(buf, cap, " in group \"%s\"", g);
    else
        buf[0] = '\0';
}

/* Whether one of the key's thresholds fails the run on no data. */
static bool fails_on_no_data(const spec *s, uint32_t series)
{
    for (size_t i = 0; i < s->n_thresholds; i++)
        if (s->thresholds[i].series == series && !s->thresholds[i].allow_no_data)
            return true;
    return false;
}

static void warn_no_sample(spec_loader *L, const ynode *at, const char *path, uint32_t series,
                           const char *why)
{
    const char *then = L->reg->metrics[L->reg->series[series].metric].info.type ==
                               VOLLEY_METRIC_COUNTER ? ", so it will count 0"
                       : fails_on_no_data(L->s, series) ? ", so its thresholds will have no data and fail the run"
                       : ", so its thresholds will have no data (which allow_no_data accepts)";
    ynode_warning(L->d, at, "%s: %s: this sub-metric can get no sample%s", path, why, then);
}

/* One filter: a warning when no sample can carry its value. */
static void check_filter(spec_loader *L, const ynode *at, const char *path, uint32_t series,
                         tag_key key, const char *value, const scope *sc)
{
    const spec *s = L->s;
    value_set run = {0}, all = {0};
    collect(L, s->scenarios, s->n_scenarios, key, sc, &run);
    if (run.unknown || set_has(&run, value))
        goto done;
    collect(L, s->all_scenarios, s->n_all_scenarios, key, sc, &all);
    char in[512], why[2048], more[640] = "";
    if (!all.unknown && set_has(&all, value)) {
        /* It exists, only in scenarios --scenario leaves out. */
        snprintf(why, sizeof why, key == TAG_SCENARIO ? "scenario \"%s\" does not run (--scenario "
                 "leaves it out)" : "\"%s\" is only in scenarios that --scenario leaves out",
                 value);
    } else {
        where(key, sc, in, sizeof in);
        hint(key, value, &run, more, sizeof more);
        if (key == TAG_NAME)
            snprintf(why, sizeof why, "no step%s is named \"%s\"%s", in, value, more);
        else if (key == TAG_GROUP)
            snprintf(why, sizeof why, "no group \"%s\"%s%s", value, in, more);
        else
            snprintf(why, sizeof why, "no scenario \"%s\"%s", value, more);
    }
    warn_no_sample(L, at, path, series, why);
done:
    free(run.v);
    free(all.v);
}

/* The values a step's or scenario's own tag `key` takes in the scenarios
 * `scs` (only scenario `only`, when not NULL): their `tags:`, the stage
 * numbers of tag_stage, their steps' and record entries' `tags:`. */
static void collect_own(const scenario *scs, size_t n, const char *key, const char *only,
                        value_set *out)
{
    for (size_t i = 0; i < n; i++) {
        const scenario *sc = &scs[i];
        if (only && strcmp(sc->name, only) != 0)
            continue;
        for (size_t t = 0; t < sc->n_tags; t++)
            if (strcmp(sc->tags[t].key, key) == 0)
                set_add(out, sc->tags[t].value);
        size_t n_st = sc->stage_tags ? (sc->profile.n ? sc->profile.n : 1) : 0;
        for (size_t k = 0; k < n_st; k++)
            for (size_t t = 0; t <= sc->n_tags; t++)
                if (strcmp(sc->stage_tags[k][t].key, key) == 0)
                    set_add(out, sc->stage_tags[k][t].value);
        for (size_t j = 0; j < sc->n_ops; j++) {
            const flow_op *op = &sc->ops[j];
            for (size_t t = 0; t < op->n_tags; t++)
                if (strcmp(op->tags[t].key, key) == 0)
                    set_add(out, op->tags[t].value);
            for (size_t r = 0; r < op->n_records; r++)   /* a record entry's own */
                for (size_t t = 0; t < op->records[r].n_tags; t++)
                    if (strcmp(op->records[r].tags[t].key, key) == 0)
                        set_add(out, op->records[r].tags[t].value);
        }
    }
}

/* A filter on a step's or scenario's own tag (a --tag of that value would
 * match every sample): a warning when nothing sets that value. */
static void check_own_filter(spec_loader *L, const ynode *at, const char *path, uint32_t series,
                             const series_filter *f, const char *only)
{
    if (f->int_value)
        return;
    const spec *s = L->s;
    value_set run = {0}, all = {0};
    collect_own(s->scenarios, s->n_scenarios, f->step_key, only, &run);
    if (run.unknown || set_has(&run, f->value))
        goto done;
    collect_own(s->all_scenarios, s->n_all_scenarios, f->step_key, only, &all);
    char why[2048], more[640] = "", in[512] = "";
    if (!all.unknown && set_has(&all, f->value)) {
        snprintf(why, sizeof why, "%s:%s is only in scenarios that --scenario leaves out",
                 f->step_key, f->value);
    } else {
        if (only)
            snprintf(in, sizeof in, " in scenario \"%s\"", only);
        if (run.n) {   /* the values, not a "did you mean": stage "2" is no typo of "0" */
            char list[256];
            suggest_join(run.v, run.n, list, sizeof list);
            snprintf(more, sizeof more, " (its values: %s)", list);
        }
        snprintf(why, sizeof why, "no step or scenario%s sets tag %s to \"%s\"%s", in, f->step_key,
                 f->value, more);
    }
    warn_no_sample(L, at, path, series, why);
done:
    free(run.v);
    free(all.v);
}

void spec_warn_tag_filters(spec_loader *L, const ynode *key, uint32_t series, const char *path)
{
    if (L->d->count)   /* a flow that did not compile would give false warnings */
        return;
    const series_def *sd = &L->reg->series[series];
    scope sc = {0};
    for (size_t i = 0; i < sd->n_filters; i++) {
        if (sd->filters[i].key == TAG_SCENARIO)
            sc.scenario = sd->filters[i].value;
        else if (sd->filters[i].key == TAG_GROUP)
            sc.group = sd->filters[i].value;
    }
    /* The scenario first: names and groups are looked for in it, so they
     * are checked only when it exists. */
    if (sc.scenario) {
        scope none = {0};
        size_t before = L->d->n_warnings;
        check_filter(L, key, path, series, TAG_SCENARIO, sc.scenario, &none);
        if (L->d->n_warnings != before)
            return;
    }
    if (sc.group) {
        size_t before = L->d->n_warnings;
        check_filter(L, key, path, series, TAG_GROUP, sc.group, &sc);
        if (L->d->n_warnings != before)
            return;
    }
    for (size_t i = 0; i < sd->n_filters; i++)
        if (sd->filters[i].key == TAG_NAME)
            check_filter(L, key, path, series, TAG_NAME, sd->filters[i].value, &sc);
    for (size_t i = 0; i < sd->n_filters; i++)
        if (sd->filters[i].key == TAG_STEP)
            check_own_filter(L, key, path, series, &sd->filters[i], sc.scenario);
}

/* The request metrics a protocol's steps are broken down into per name. */
static const struct {
    const char *step_key;
    const char *metrics[3];
} breakdown_metrics[] = {
    {"http", {"http_reqs", "http_req_duration", "http_req_failed"}},
    {"ws", {"ws_sessions", "ws_session_duration", "ws_session_failed"}},
};

#define BREAKDOWN_MAX_NAMES 200

void spec_add_breakdowns(spec_loader *L, const ynode *at)
{
    if (L->d->count)
        return;
    const spec *s = L->s;
    value_set names[VOLLEY_COUNTOF(breakdown_metrics)] = {{0}};
    size_t n_names = 0, left_out = 0, n_ptrs = 0;
    const char **ptrs = NULL;
    for (size_t i = 0; i < s->n_scenarios; i++)
        n_ptrs += s->scenarios[i].n_ops;
    if (!(ptrs = calloc(n_ptrs + 1, sizeof *ptrs))) {
        ynode_error(L->d, at, "(top level): out of memory for the per-name breakdowns");
        return;
    }
    n_ptrs = 0;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        for (size_t j = 0; j < s->scenarios[i].n_ops; j++) {
            const flow_op *op = &s->scenarios[i].ops[j];
            if (op->kind != OP_STEP)
                continue;
            const char *name = step_name(L, op);
            if (!name)
                continue;
            ptrs[n_ptrs++] = name;   /* every step's own pointer, for the routes */
            const char *key = s->protos[op->proto].plugin->desc->protocol->step_key;
            size_t p = 0;
            while (p < VOLLEY_COUNTOF(breakdown_metrics) && strcmp(breakdown_metrics[p].step_key, key) != 0)
                p++;
            if (p == VOLLEY_COUNTOF(breakdown_metrics) || set_has(&names[p], name))
                continue;
            if (n_names == BREAKDOWN_MAX_NAMES) {
                left_out++;
                continue;
            }
            set_add(&names[p], name);
            n_names++;
            for (size_t k = 0; k < VOLLEY_COUNTOF(breakdown_metrics[p].metrics); k++) {
                int m = metrics_find(L->reg, breakdown_metrics[p].metrics[k]);
                if (m >= 0 && metrics_add_breakdown(L->reg, (uint32_t)m, TAG_NAME, name) < 0)
                    ynode_error(L->d, at, "(top level): out of memory for the per-name breakdowns");
            }
        }
    }
    if (metrics_route_names(L->reg, ptrs, n_ptrs) != 0)
        ynode_error(L->d, at, "(top level): out of memory for the per-name breakdowns");
    free(ptrs);
    if (left_out)
        ynode_warning(L->d, at, "scenarios: %zu more request name%s past the first %d: %s not broken "
                      "down per name (--summary-by name, reports); their requests still count in "
                      "the metrics", left_out, left_out == 1 ? "" : "s", BREAKDOWN_MAX_NAMES,
                      left_out == 1 ? "it is" : "they are");
    for (size_t p = 0; p < VOLLEY_COUNTOF(names); p++)
        free(names[p].v);
}
