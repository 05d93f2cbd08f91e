/* setup_data: setup:'s captures to and from a file (see setup_data.h). */
#include "setup_data.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *setup_data_dump(const char *const *names, const vu_capture *vals, size_t n,
                      const char *spec_sha256)
{
    json_t *root = json_object(), *values = json_object(), *secret = json_array();
    bool ok = root && values && secret;
    for (size_t i = 0; ok && i < n; i++) {
        if (vals[i].kind == CAP_UNSET || !vals[i].val.data)
            continue;
        json_t *v = vals[i].kind == CAP_JSON
                        ? json_loads(vals[i].val.data, JSON_DECODE_ANY, NULL)
                        : json_stringn(vals[i].val.data, vals[i].val.len);
        if (!v)   /* JSON a capture kept as text that is not JSON after all */
            v = json_stringn(vals[i].val.data, vals[i].val.len);
        ok = v && json_object_set_new(values, names[i], v) == 0;
        if (ok && vals[i].secret)
            ok = json_array_append_new(secret, json_string(names[i])) == 0;
    }
    if (ok && spec_sha256 && *spec_sha256)
        ok = json_object_set_new(root, "spec_sha256", json_string(spec_sha256)) == 0;
    time_t now = time(NULL);
    struct tm tm;
    char made[32];
    if (ok && gmtime_r(&now, &tm) && strftime(made, sizeof made, "%Y-%m-%dT%H:%M:%SZ", &tm))
        ok = json_object_set_new(root, "made", json_string(made)) == 0;
    char *text = NULL;
    if (ok && json_object_set_new(root, "volley_setup_data", json_integer(1)) == 0 &&
        json_object_set(root, "values", values) == 0 && json_object_set(root, "secret", secret) == 0)
        text = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_SORT_KEYS);
    json_decref(values);
    json_decref(secret);
    json_decref(root);
    return text;
}

static bool listed(const json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

static int set_slot(vu_capture *c, const json_t *v)
{
    char *text = json_is_string(v) ? strdup(json_string_value(v))
                                   : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text)
        return -1;
    c->val.data = text;
    c->val.len = json_is_string(v) ? json_string_length(v) : strlen(text);
    c->val.cap = c->val.len + 1;
    c->kind = json_is_string(v) ? CAP_STRING : CAP_JSON;
    return 0;
}

vu_capture *setup_data_load(const char *path, const char *spec_sha256, const char *const *names,
                            size_t n, FILE *note, char *err, size_t errcap)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errcap, "--setup-data %s: %s (line %d)", path, je.text, je.line);
        return NULL;
    }
    json_t *values = json_object_get(root, "values"), *secret = json_object_get(root, "secret");
    if (!json_is_object(values) || json_integer_value(json_object_get(root, "volley_setup_data")) != 1) {
        snprintf(err, errcap, "--setup-data %s: not a file of volley setup (expected "
                 "{\"volley_setup_data\": 1, \"values\": {...}})", path);
        json_decref(root);
        return NULL;
    }
    const char *made = json_string_value(json_object_get(root, "made"));
    const json_t *sha = json_object_get(root, "spec_sha256");
    if (spec_sha256 && *spec_sha256 && json_is_string(sha) &&
        strcmp(json_string_value(sha), spec_sha256) != 0) {
        /* setup's data (a token, ids it created) belongs to the spec it ran */
        snprintf(err, errcap, "--setup-data %s was made by volley setup from a different spec "
                 "(sha256 %.12s..., made %s; this spec's is %.12s...): run volley setup with "
                 "this spec", path, json_string_value(sha), made ? made : "at an unknown time",
                 spec_sha256);
        json_decref(root);
        return NULL;
    }
    if (spec_sha256 && *spec_sha256 && !json_is_string(sha) && note)
        fprintf(note, "volley: warning: --setup-data %s does not say which spec made it (an older "
                "volley setup): not checked against this spec\n", path);
    vu_capture *vals = calloc(n + 1, sizeof *vals);
    for (size_t i = 0; vals && i < n; i++) {
        const json_t *v = json_object_get(values, names[i]);
        if (!v || json_is_null(v)) {
            int len = snprintf(err, errcap, "--setup-data %s: no value for ${setup.%s} (the file has:",
                               path, names[i]);
            const char *k;
            json_t *x;
            json_object_foreach(values, k, x)
                if (len > 0 && (size_t)len < errcap)
                    len += snprintf(err + len, errcap - (size_t)len, " %s", k);
            if (len > 0 && (size_t)len < errcap)
                snprintf(err + len, errcap - (size_t)len, "%s)", json_object_size(values) ? "" : " nothing");
            setup_data_free(vals, n);
            json_decref(root);
            return NULL;
        }
        if (set_slot(&vals[i], v) != 0) {
            setup_data_free(vals, n);
            vals = NULL;
            break;
        }
        vals[i].secret = json_is_array(secret) && listed(secret, names[i]);
    }
    if (!vals)
        snprintf(err, errcap, "--setup-data %s: out of memory", path);
    json_decref(root);
    return vals;
}

void setup_data_free(vu_capture *vals, size_t n)
{
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i].val.data);
    free(vals);
}
