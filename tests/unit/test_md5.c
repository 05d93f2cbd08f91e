#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "md5.h"

static void hex_is(const char *in, size_t len, const char *want)
{
    char got[33];
    md5_hex(in, len, got);
    assert_string_equal(got, want);
}

/* RFC 1321's test suite (appendix A.5). */
static void test_rfc1321_suite(void **state)
{
    (void)state;
    hex_is("", 0, "d41d8cd98f00b204e9800998ecf8427e");
    hex_is("a", 1, "0cc175b9c0f1b6a831c399e269772661");
    hex_is("abc", 3, "900150983cd24fb0d6963f7d28e17f72");
    hex_is("message digest", 14, "f96b697d7cb7938d525a2f31aaf161d0");
    hex_is("abcdefghijklmnopqrstuvwxyz", 26, "c3fcd3d76192e4007dfb496cca67e13b");
    const char *alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    hex_is(alnum, strlen(alnum), "d174ab98d277d9f5a5611c2c9f419d9f");
    const char *digits = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
    hex_is(digits, strlen(digits), "57edf4a22be3c955ac49da2e2107b67a");
}

/* Tails of 55, 56 and 64 bytes: one or two padding blocks. */
static void test_block_edges(void **state)
{
    (void)state;
    char buf[129];
    memset(buf, 'a', sizeof buf);
    hex_is(buf, 55, "ef1772b6dff9a122358552954ad0df65");
    hex_is(buf, 56, "3b0c8ac703f828b04c6c197006d17218");
    hex_is(buf, 64, "014842d480b571495a4a0363793f7367");
    hex_is(buf, 128, "e510683b3f5ffe4093d021808bc6ff70");
}

/* k6's group and check ids (internal/js/summary_test.go): md5 of the path. */
static void test_k6_ids(void **state)
{
    (void)state;
    hex_is("::child", 7, "f41cbb53a398ec1c9fb3d33e20c9b040");
    hex_is("::child::check1", 15, "6289a7a06253a1c3f6137dfb25695563");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_suite),
        cmocka_unit_test(test_block_edges),
        cmocka_unit_test(test_k6_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
