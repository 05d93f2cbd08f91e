#include "validate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Collects the 32 hex digits of a UUID in any accepted form. */
static bool uuid_digits(const char *s, char d[33])
{
    size_t n = strlen(s);
    if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0) {
        s += 9;
        n -= 9;
    } else if (n == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        n = 36;
    }
    int k = 0;
    if (n == 32) {
        for (int i = 0; i < 32; i++) {
            if (!hex(s[i]))
                return false;
            d[k++] = s[i];
        }
    } else if (n == 36) {
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-')
                    return false;
            } else {
                if (!hex(s[i]))
                    return false;
                d[k++] = s[i];
            }
        }
    } else {
        return false;
    }
    d[32] = '\0';
    return true;
}

bool uuid_valid(const char *s)
{
    char d[33];
    return uuid_digits(s, d);
}

void uuid_normalize(const char *s, char out[37])
{
    char d[33];
    if (!uuid_digits(s, d)) {
        snprintf(out, 37, "%s", s);
        return;
    }
    int o = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        char c = d[i];
        out[o++] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    out[o] = '\0';
}

#define DEC_MAX INT64_C(999999999999999999)

const char *decimal_parse(const char *s, struct decimal *out)
{
    int64_t m = 0;
    int scale = 0, ndig = 0;
    bool neg = false, frac = false;
    const char *p = s;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return "Invalid decimal: empty";
    for (; *p; p++) {
        if (*p == '_')
            continue;
        if (*p == '.') {
            if (frac)
                return "Invalid decimal: two decimal points";
            frac = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return "Invalid decimal: unknown character";
        if (frac && scale == 9)
            continue; /* beyond our precision: truncated */
        if (m > (DEC_MAX - 9) / 10)
            return "Invalid decimal: overflow from too many digits";
        m = m * 10 + (*p - '0');
        ndig++;
        if (frac)
            scale++;
    }
    if (ndig == 0)
        return "Invalid decimal: no digits found";
    out->mant = neg ? -m : m;
    out->scale = scale;
    return NULL;
}

const char *decimal_from_json(const json_t *v, struct decimal *out)
{
    static char why[128];
    if (json_is_string(v))
        return decimal_parse(json_string_value(v), out);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i > DEC_MAX || i < -DEC_MAX)
            return "Invalid decimal: overflow";
        out->mant = i;
        out->scale = 0;
        return NULL;
    }
    if (json_is_real(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        if (strchr(buf, 'e'))
            return "Invalid decimal: out of range";
        return decimal_parse(buf, out);
    }
    snprintf(why, sizeof why, "invalid type: %s, expected a Decimal type representing a fixed-point number",
             json_is_null(v) ? "null" : json_is_boolean(v) ? "boolean" : json_is_array(v) ? "sequence" : "map");
    return why;
}

static int64_t p10(int n)
{
    int64_t r = 1;
    while (n-- > 0)
        r *= 10;
    return r;
}

static bool rescale(struct decimal *a, int scale)
{
    while (a->scale < scale) {
        if (a->mant > DEC_MAX / 10 || a->mant < -DEC_MAX / 10)
            return false;
        a->mant *= 10;
        a->scale++;
    }
    return true;
}

bool decimal_add(struct decimal a, struct decimal b, struct decimal *out)
{
    int s = a.scale > b.scale ? a.scale : b.scale;
    if (!rescale(&a, s) || !rescale(&b, s))
        return false;
    int64_t m = a.mant + b.mant;
    if (m > DEC_MAX || m < -DEC_MAX)
        return false;
    out->mant = m;
    out->scale = s;
    return true;
}

struct decimal decimal_neg(struct decimal a)
{
    a.mant = -a.mant;
    return a;
}

int decimal_cmp(struct decimal a, struct decimal b)
{
    double x = decimal_to_double(a), y = decimal_to_double(b);
    struct decimal d;
    if (decimal_add(a, decimal_neg(b), &d))
        return d.mant > 0 ? 1 : d.mant < 0 ? -1 : 0;
    return x > y ? 1 : x < y ? -1 : 0;
}

double decimal_to_double(struct decimal a)
{
    return (double)a.mant / (double)p10(a.scale);
}

struct decimal decimal_from_double(double v, int scale)
{
    struct decimal d = { (int64_t)llround(v * (double)p10(scale)), scale };
    return d;
}

void decimal_format(struct decimal a, char out[48])
{
    uint64_t m = a.mant < 0 ? (uint64_t)(-a.mant) : (uint64_t)a.mant;
    uint64_t div = (uint64_t)p10(a.scale);
    if (a.scale == 0)
        snprintf(out, 48, "%s%llu", a.mant < 0 ? "-" : "", (unsigned long long)m);
    else
        snprintf(out, 48, "%s%llu.%0*llu", a.mant < 0 ? "-" : "", (unsigned long long)(m / div),
                 a.scale, (unsigned long long)(m % div));
}

json_t *decimal_json(struct decimal a)
{
    char buf[48];
    decimal_format(a, buf);
    return json_string(buf);
}
