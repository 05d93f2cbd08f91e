/*
 * validate: the value types the Rust engines insist on — uuid::Uuid and
 * rust_decimal::Decimal — parsed the way their serde impls parse them,
 * and a small fixed-point decimal for the balances the engines keep.
 */
#ifndef SIM_VALIDATE_H
#define SIM_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Hyphenated, simple (32 hex), braced or urn:uuid: forms, as Uuid::parse_str. */
bool uuid_valid(const char *s);
/* Lower-case hyphenated form of a valid UUID into out[37]. */
void uuid_normalize(const char *s, char out[37]);

/* value = mant / 10^scale; |mant| < 10^18, scale <= 9. */
struct decimal {
    int64_t mant;
    int scale;
};

/* rust_decimal's serde: a JSON string ("100.50", "-3", "1_000") or number.
 * NULL on success, else serde's reason. */
const char *decimal_from_json(const json_t *v, struct decimal *out);
const char *decimal_parse(const char *s, struct decimal *out);
/* Keeps the larger scale, as rust_decimal does; false on overflow. */
bool decimal_add(struct decimal a, struct decimal b, struct decimal *out);
struct decimal decimal_neg(struct decimal a);
int decimal_cmp(struct decimal a, struct decimal b);
double decimal_to_double(struct decimal a);
struct decimal decimal_from_double(double v, int scale);
void decimal_format(struct decimal a, char out[48]);
/* Formatted as a JSON string value, the way the engines serialise Decimal. */
json_t *decimal_json(struct decimal a);

#endif
