/* test_selftest.c: the codecs as the test build staggerd-next has them
 * (include/stagger/selftest.h, docs/protocol.md §11.1), built with
 * STG_SELFTEST_NEXT against its own copy of proto: its record field and
 * capability survive a round trip and are what it signs, and its message
 * type 240 is known to it, with an empty body and nothing trailing. That
 * every other build refuses 240 is test_wire.c's, and that it ignores the
 * field test_record.c's (an unknown key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagger/record.h"
#include "stagger/wire.h"

static void record_field(void **state) {
    (void)state;
    stg_record_t r, back;
    memset(&r, 0, sizeof r);
    snprintf(r.fleet, sizeof r.fleet, "pool");
    snprintf(r.node, sizeof r.node, "relay1");
    r.inc = r.seq = 1;
    snprintf(r.component, sizeof r.component, "stagger");
    snprintf(r.flavour, sizeof r.flavour, "debian");
    r.phase = STG_PHASE_IDLE;
    r.caps = STG_CAPS_OWN;
    snprintf(r.selftest_note, sizeof r.selftest_note, "hello from relay1");
    uint8_t buf[2048];
    int n = stg_record_encode(&r, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr((char *)buf, "\"caps\":[\"promote\",\"components\",\"selftest-hello\"]"));
    assert_non_null(strstr((char *)buf, "\"selftest_note\":\"hello from relay1\""));
    stg_diag_t d = {0};
    assert_int_equal(stg_record_decode(buf, (size_t)n, &back, &d), 0);
    assert_string_equal(back.selftest_note, "hello from relay1");
    assert_int_equal(back.caps, STG_CAPS_OWN);
    assert_int_equal(stg_cap_from_name("selftest-hello"), STG_CAP_SELFTEST_HELLO);
    /* Optional: absent is "", and a value of the wrong type is refused. */
    static const char older[] =
        "{\"fleet\":\"pool\",\"node\":\"relay2\",\"inc\":1,\"seq\":1,\"time_ms\":0,"
        "\"component\":\"stagger\",\"version\":\"\",\"flavour\":\"nix\",\"health\":\"unknown\","
        "\"detail\":\"\",\"health_since_ms\":0,\"phase\":\"idle\",\"release\":\"\","
        "\"phase_since_ms\":0}";
    assert_int_equal(stg_record_decode((const uint8_t *)older, strlen(older), &back, &d), 0);
    assert_string_equal(back.selftest_note, "");
    char wrong[512];
    snprintf(wrong, sizeof wrong, "%.*s,\"selftest_note\":7}", (int)strlen(older) - 1, older);
    assert_int_equal(stg_record_decode((const uint8_t *)wrong, strlen(wrong), &back, &d),
                     STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_WRONG_TYPE);
}

static void hello_frame(void **state) {
    (void)state;
    assert_string_equal(stg_msg_name(240), "selftest-hello");
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SELFTEST_HELLO;
    m.serial = 3;
    uint8_t buf[16];
    int n = stg_msg_encode(&m, buf, sizeof buf);
    static const uint8_t want[] = {1, 240, 0, 0, 0, 0, 0, 0, 0, 3};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    stg_diag_t d = {0};
    assert_int_equal(stg_msg_decode(buf, (size_t)n, &m, &d), 0);
    assert_int_equal(m.type, STG_MSG_SELFTEST_HELLO);
    buf[n] = 0;
    assert_int_equal(stg_msg_decode(buf, (size_t)n + 1, &m, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_LENGTH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_field),
        cmocka_unit_test(hello_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
