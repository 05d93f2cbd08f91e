/* libFuzzer: jscan, the loops' JSON walker, on response-like bytes: every
 * element of an array, its fields by key and by index, strings decoded.
 * jansson judges whether the text is JSON: what it accepts as an array,
 * jscan walks without error. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

static void fields(const char *s, size_t len)
{
    static const char *const keys[] = {"a", "id", "0", "1", "-1", "x\"y", ""};
    size_t a, b;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (jscan_field(s, len, keys[k], strlen(keys[k]), &a, &b) &&
            (a > b || b > len))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *s = (const char *)data;
    volley_buf out = {0};
    size_t pos = 0, a, b, n = 0;
    int r;
    while ((r = jscan_array_next(s, size, &pos, &a, &b)) == 1) {
        if (a > b || b > size || pos > size)
            abort();
        fields(s + a, b - a);
        out.len = 0;
        jscan_string(s + a, b - a, &out);
        n++;
    }
    fields(s, size);
    if (jscan_value(s, size, 0, &a, &b) && (a > b || b > size))
        abort();
    out.len = 0;
    jscan_string(s, size, &out);
    /* A top-level array jansson reads must walk to its end without error
     * (jscan takes less care over what it skips, never more). */
    size_t opens = 0;
    for (size_t i = 0; i < size; i++)
        opens += s[i] == '[' || s[i] == '{';
    json_error_t e;
    /* jscan nests 256 deep; jansson reads a NUL byte outside a string as
     * the end of the text ("[5\0]" is [5] to it), which JSON is not. */
    bool compare = opens < 250 && !memchr(s, 0, size);
    json_t *doc = compare ? json_loadb(s, size, JSON_DECODE_ANY, &e) : NULL;
    if (doc && json_is_array(doc) && (r != 0 || n != json_array_size(doc)))
        abort();
    json_decref(doc);
    free(out.data);
    return 0;
}
