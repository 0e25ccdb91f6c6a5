/* test_json.c: the strict-JSON helpers every decoder is built on: each way
 * hostile input can be wrong is refused with its reason and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagger/proto.h"

static json_t *parse_len(const char *s, size_t n, stg_diag_t *d) {
    return stg_json_parse((const uint8_t *)s, n, d);
}

static json_t *parse(const char *s, stg_diag_t *d) { return parse_len(s, strlen(s), d); }

static void refused(const char *s, size_t n, stg_reject_t want) {
    stg_diag_t d = {0};
    json_t *j = parse_len(s, n, &d);
    if (j) fail_msg("accepted: %s", s);
    if (d.reason != want)
        fail_msg("%s: got %s (%s), want %s", s, stg_reject_name(d.reason), d.msg,
                 stg_reject_name(want));
    assert_non_null(strstr(d.msg, "payload"));
}

static void accepted(const char *s) {
    stg_diag_t d = {0};
    json_t *j = parse(s, &d);
    if (!j) fail_msg("refused %s: %s", s, d.msg);
    json_decref(j);
}

static void duplicate_key(void **state) {
    (void)state;
    refused("{\"a\":1,\"a\":2}", 13, STG_REJECT_DUPLICATE_FIELD);
    refused("{\"o\":{\"k\":1,\"k\":1}}", 19, STG_REJECT_DUPLICATE_FIELD);
}

static void depth_bounded(void **state) {
    (void)state;
    /* Eight levels, counting the top object, is the most allowed. */
    accepted("{\"a\":[[[[[[[1]]]]]]]}");
    const char *nine = "{\"a\":[[[[[[[[1]]]]]]]]}";
    refused(nine, strlen(nine), STG_REJECT_TOO_DEEP);
    const char *nine_obj = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}";
    refused(nine_obj, strlen(nine_obj), STG_REJECT_TOO_DEEP);
    /* Brackets inside strings, escaped quotes included, are not nesting. */
    accepted("{\"a\":\"[[[[[[[[[[{{{{{{{{{\",\"b\":\"\\\"[[[[[[[[[[\"}");
}

static void utf8_checked(void **state) {
    (void)state;
    static const char *bad[] = {
        "{\"a\":\"\xff\"}",         /* never valid */
        "{\"a\":\"\xc0\xaf\"}",     /* overlong '/' */
        "{\"a\":\"\xed\xa0\x80\"}", /* surrogate */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"a\":\"\xe2\x82\"}",     /* truncated sequence */
        "{\"a\":\"\x80\"}",         /* lone continuation byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(bad[i], strlen(bad[i]), STG_REJECT_BAD_UTF8);
    refused("{\"a\":\"\xe2\x82", 9, STG_REJECT_BAD_UTF8); /* cut at the end of the input */
    accepted("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"}");
}

static void nul_refused(void **state) {
    (void)state;
    refused("{\"a\":\"x\0y\"}", 11, STG_REJECT_BAD_UTF8);
    refused("{\"a\":1}\0", 8, STG_REJECT_BAD_UTF8);
    /* The escaped form is refused by jansson itself (no JSON_ALLOW_NUL). */
    const char *esc = "{\"a\":\"x\\u0000y\"}";
    refused(esc, strlen(esc), STG_REJECT_BAD_JSON);
}

static void object_at_top(void **state) {
    (void)state;
    refused("[1,2]", 5, STG_REJECT_WRONG_TYPE);
    refused("1", 1, STG_REJECT_BAD_JSON);
    refused("\"x\"", 3, STG_REJECT_BAD_JSON);
    refused("null", 4, STG_REJECT_BAD_JSON);
}

static void malformed_and_oversized(void **state) {
    (void)state;
    refused("{\"a\":}", 6, STG_REJECT_BAD_JSON);
    refused("{\"a\":1} {}", 10, STG_REJECT_BAD_JSON);
    refused("{\"a\":99999999999999999999}", 26, STG_REJECT_BAD_JSON);
    refused("", 0, STG_REJECT_BAD_JSON);
    size_t n = STG_PAYLOAD_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    refused(big, n, STG_REJECT_TOO_LONG);
    big[n - 2] = '}'; /* exactly the limit parses */
    stg_diag_t d = {0};
    json_t *j = parse_len(big, n - 1, &d);
    assert_non_null(j);
    json_decref(j);
    free(big);
}

/* A getter's verdict on field "x" of doc. */
static void verdict(int rc, const stg_diag_t *d, stg_reject_t want, const char *path) {
    assert_int_equal(rc, STG_EREJECT);
    if (d->reason != want)
        fail_msg("got %s (%s), want %s", stg_reject_name(d->reason), d->msg,
                 stg_reject_name(want));
    if (!strstr(d->msg, path)) fail_msg("message \"%s\" does not name %s", d->msg, path);
}

static void unknown_field(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{\"a\":1,\"speling\":2}", &d);
    assert_non_null(j);
    static const char *const allowed[] = {"a", "b", NULL};
    verdict(stg_json_only(j, "policy", allowed, &d), &d, STG_REJECT_UNKNOWN_FIELD,
            "policy.speling");
    static const char *const both[] = {"a", "speling", NULL};
    assert_int_equal(stg_json_only(j, "", both, &d), 0);
    json_decref(j);
}

static void object_shape(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{\"m\":[{\"name\":\"a\"},3,{\"nmae\":\"b\"}]}", &d);
    json_t *arr = json_object_get(j, "m");
    static const char *const fields[] = {"name", NULL};
    assert_int_equal(stg_json_object_only(json_array_get(arr, 0), "m[0]", fields, &d), 0);
    verdict(stg_json_object_only(json_array_get(arr, 1), "m[1]", fields, &d), &d,
            STG_REJECT_WRONG_TYPE, "m[1]");
    verdict(stg_json_object_only(json_array_get(arr, 2), "m[2]", fields, &d), &d,
            STG_REJECT_UNKNOWN_FIELD, "m[2].nmae");
    json_decref(j);
}

static int decode_x(json_t *root, void *out, stg_diag_t *d) {
    int64_t *x = out;
    x[0] = 7; /* written before the refusal below: must not survive it */
    return stg_json_int(root, "", "x", true, 0, 9, &x[1], d);
}

static void decode_frame(void **state) {
    (void)state;
    stg_diag_t d = {0};
    int64_t out[2] = {-1, -1};
    const char *good = "{\"x\":5}", *bad = "{\"x\":50}";
    assert_int_equal(stg_json_decode((const uint8_t *)good, strlen(good), decode_x, out,
                                     sizeof out, &d), 0);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[1], 5);
    verdict(stg_json_decode((const uint8_t *)bad, strlen(bad), decode_x, out, sizeof out, &d),
            &d, STG_REJECT_OUT_OF_RANGE, "x");
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    out[0] = -1;
    verdict(stg_json_decode((const uint8_t *)"[]", 2, decode_x, out, sizeof out, &d), &d,
            STG_REJECT_WRONG_TYPE, "payload");
    assert_int_equal(out[0], 0);
}

static void wrong_types(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{\"s\":\"x\",\"i\":1,\"r\":1.0,\"b\":true,\"a\":[],\"o\":{},\"n\":null}",
                      &d);
    assert_non_null(j);
    char s[8];
    int64_t i;
    bool b;
    json_t *v;
    verdict(stg_json_str(j, "doc", "i", true, s, sizeof s, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.i");
    verdict(stg_json_str(j, "doc", "n", true, s, sizeof s, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.n");
    verdict(stg_json_int(j, "doc", "s", true, 0, 9, &i, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.s");
    verdict(stg_json_int(j, "doc", "r", true, 0, 9, &i, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.r");
    verdict(stg_json_int(j, "doc", "b", true, 0, 9, &i, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.b");
    verdict(stg_json_bool(j, "doc", "i", true, &b, &d), &d, STG_REJECT_WRONG_TYPE, "doc.i");
    verdict(stg_json_array(j, "doc", "o", true, 4, &v, &d), &d, STG_REJECT_WRONG_TYPE,
            "doc.o");
    assert_null(v);
    verdict(stg_json_object(j, "doc", "a", true, &v, &d), &d, STG_REJECT_WRONG_TYPE, "doc.a");
    assert_null(v);
    assert_int_equal(stg_json_array(j, "doc", "a", true, 4, &v, &d), 0);
    assert_true(json_is_array(v));
    assert_int_equal(stg_json_object(j, "doc", "o", true, &v, &d), 0);
    assert_true(json_is_object(v));
    json_decref(j);
}

static void missing_and_optional(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{}", &d);
    char s[8] = "keep";
    int64_t i = 42;
    bool b = true;
    json_t *v = j;
    verdict(stg_json_int(j, "policy", "batch", true, 1, 2, &i, &d), &d,
            STG_REJECT_MISSING_FIELD, "policy.batch");
    assert_int_equal(stg_json_str(j, "", "x", false, s, sizeof s, &d), 0);
    assert_int_equal(stg_json_int(j, "", "x", false, 0, 1, &i, &d), 0);
    assert_int_equal(stg_json_bool(j, "", "x", false, &b, &d), 0);
    assert_int_equal(stg_json_array(j, "", "x", false, 1, &v, &d), 0);
    assert_null(v);
    /* Absent optional fields leave the default in place. */
    assert_string_equal(s, "keep");
    assert_int_equal(i, 42);
    assert_true(b);
    json_decref(j);
}

static void int_range(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{\"lo\":0,\"hi\":3,\"neg\":-9007199254740993,"
                      "\"big\":9223372036854775807}",
                      &d);
    assert_non_null(j);
    int64_t i = -1;
    assert_int_equal(stg_json_int(j, "p", "lo", true, 0, 3, &i, &d), 0);
    assert_int_equal(i, 0);
    assert_int_equal(stg_json_int(j, "p", "hi", true, 0, 3, &i, &d), 0);
    assert_int_equal(i, 3);
    verdict(stg_json_int(j, "p", "lo", true, 1, 3, &i, &d), &d, STG_REJECT_OUT_OF_RANGE,
            "p.lo");
    verdict(stg_json_int(j, "p", "hi", true, 0, 2, &i, &d), &d, STG_REJECT_OUT_OF_RANGE,
            "p.hi");
    verdict(stg_json_int(j, "p", "neg", true, 0, 3, &i, &d), &d, STG_REJECT_OUT_OF_RANGE,
            "p.neg");
    verdict(stg_json_int(j, "p", "big", true, 0, INT64_MAX - 1, &i, &d), &d,
            STG_REJECT_OUT_OF_RANGE, "p.big");
    assert_int_equal(i, 3); /* untouched by the refusals */
    json_decref(j);
}

static void string_length(void **state) {
    (void)state;
    stg_diag_t d = {0};
    json_t *j = parse("{\"s\":\"abcdefg\",\"e\":\"\",\"arr\":[\"x\",\"abcdefgh\",3]}", &d);
    assert_non_null(j);
    char s[8];
    assert_int_equal(stg_json_str(j, "", "s", true, s, sizeof s, &d), 0);
    assert_string_equal(s, "abcdefg");
    verdict(stg_json_str(j, "", "s", true, s, 7, &d), &d, STG_REJECT_TOO_LONG, "s");
    assert_int_equal(stg_json_str(j, "", "e", true, s, sizeof s, &d), 0);
    assert_string_equal(s, "");
    json_t *arr;
    assert_int_equal(stg_json_array(j, "", "arr", true, 3, &arr, &d), 0);
    verdict(stg_json_array(j, "", "arr", true, 2, &arr, &d), &d, STG_REJECT_TOO_LONG, "arr");
    assert_int_equal(stg_json_array(j, "", "arr", true, 3, &arr, &d), 0);
    assert_int_equal(stg_json_elem_str(arr, "arr", 0, s, sizeof s, &d), 0);
    assert_string_equal(s, "x");
    verdict(stg_json_elem_str(arr, "arr", 1, s, sizeof s, &d), &d, STG_REJECT_TOO_LONG,
            "arr[1]");
    verdict(stg_json_elem_str(arr, "arr", 2, s, sizeof s, &d), &d, STG_REJECT_WRONG_TYPE,
            "arr[2]");
    json_decref(j);
}

static void names(void **state) {
    (void)state;
    static const char *const good[] = {"a", "0", "pool-a", "relay_1.eu", "x-"};
    static const char *const bad[] = {"", "-a", ".a", "_a", "Relay", "a b", "a/b", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(stg_name_ok(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(stg_name_ok(bad[i]));
    char n64[65];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    assert_false(stg_name_ok(n64));
    assert_true(stg_name_ok(n64 + 1));

    stg_diag_t d = {0};
    json_t *j = parse("{\"fleet\":\"Pool A\",\"ok\":\"pool-a\"}", &d);
    char out[STG_NAME_MAX + 1];
    verdict(stg_json_name(j, "", "fleet", true, out, &d), &d, STG_REJECT_BAD_VALUE, "fleet");
    assert_non_null(strstr(d.msg, "Pool A"));
    assert_int_equal(stg_json_name(j, "", "ok", true, out, &d), 0);
    assert_string_equal(out, "pool-a");
    assert_int_equal(stg_json_name(j, "", "absent", false, out, &d), 0);
    json_decref(j);
}

static void quoting(void **state) {
    (void)state;
    char q[STG_QUOTE_MAX];
    assert_string_equal(stg_json_quote("plain", q, sizeof q), "plain");
    assert_string_equal(stg_json_quote("a\nb\x1b[31m\xc3\xa9", q, sizeof q), "a?b?[31m??");
    char long_in[100];
    memset(long_in, 'x', sizeof long_in - 1);
    long_in[99] = '\0';
    stg_json_quote(long_in, q, sizeof q);
    assert_int_equal(strlen(q), sizeof q - 1);
    assert_string_equal(q + sizeof q - 4, "...");
    char tiny[3];
    assert_string_equal(stg_json_quote("abc", tiny, sizeof tiny), "ab");
}

static void paths(void **state) {
    (void)state;
    stg_path_t p, q;
    stg_path_idx(&p, "members", 3);
    stg_path_key(&q, p.s, "endpoint");
    assert_string_equal(q.s, "members[3].endpoint");
    stg_path_key(&q, "", "fleet");
    assert_string_equal(q.s, "fleet");
    stg_path_key(&q, NULL, "fleet");
    assert_string_equal(q.s, "fleet");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicate_key),
        cmocka_unit_test(depth_bounded),
        cmocka_unit_test(utf8_checked),
        cmocka_unit_test(nul_refused),
        cmocka_unit_test(object_at_top),
        cmocka_unit_test(malformed_and_oversized),
        cmocka_unit_test(unknown_field),
        cmocka_unit_test(object_shape),
        cmocka_unit_test(decode_frame),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(missing_and_optional),
        cmocka_unit_test(int_range),
        cmocka_unit_test(string_length),
        cmocka_unit_test(names),
        cmocka_unit_test(quoting),
        cmocka_unit_test(paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
