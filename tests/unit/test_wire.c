/* test_wire.c: the one-frame messages of docs/protocol.md §7: the header
 * peek a shell routes on, strict bodies (nothing truncated, nothing
 * trailing), one reject reason per case, the client replies byte for byte
 * as §7.9 prints them, and the reject reason numbers that travel in them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagger/wire.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

static void peek_type(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        int want;             /* a type, or -1: refused */
        stg_reject_t reason;  /* when refused */
    } cases[] = {
        {"01 14 0000000000000003", STG_MSG_STATUS_REQ, 0},
        {"01 14 0000000000000003 00", STG_MSG_STATUS_REQ, 0}, /* body unread */
        {"01 10 0000000000000003 ff", STG_MSG_COMMAND, 0},
        {"", -1, STG_REJECT_TOO_SHORT},
        {"01 14", -1, STG_REJECT_TOO_SHORT},
        {"01 14 00000000000000", -1, STG_REJECT_TOO_SHORT},
        {"02 14 0000000000000003", -1, STG_REJECT_BAD_VERSION},
        {"00 14 0000000000000003", -1, STG_REJECT_BAD_VERSION},
        {"01 00 0000000000000003", -1, STG_REJECT_BAD_TYPE},
        {"01 12 0000000000000003", STG_MSG_NACK, 0},
        {"01 13 0000000000000003", STG_MSG_SUSPECT, 0},
        {"01 18 0000000000000003", -1, STG_REJECT_BAD_TYPE},   /* 24: past the last */
        /* 240: reserved for the test build staggerd-next (protocol.md
         * §11.1); unknown to every other build, this one included. */
        {"01 f0 0000000000000003", -1, STG_REJECT_BAD_TYPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(cases[i].hex, buf, sizeof buf);
        stg_diag_t d = {0};
        int got = stg_msg_peek_type(buf, n, &d);
        if (cases[i].want >= 0) {
            assert_int_equal(got, cases[i].want);
        } else {
            if (got != STG_EREJECT) fail_msg("case %zu (%s) gave %d", i, cases[i].hex, got);
            assert_int_equal(d.reason, cases[i].reason);
            assert_true(strncmp(d.msg, "message: ", 9) == 0);
        }
    }
    /* One byte over the frame limit. */
    uint8_t *big = calloc(1, STG_WIRE_MAX + 1);
    big[0] = 1;
    big[1] = STG_MSG_ROSTER;
    stg_diag_t d = {0};
    assert_int_equal(stg_msg_peek_type(big, STG_WIRE_MAX + 1, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_TOO_LONG);
    assert_int_equal(stg_msg_peek_type(big, STG_WIRE_MAX, &d), STG_MSG_ROSTER);
    free(big);
}

/* Each: a frame and the reason a strict decoder gives, or NONE: decodes. */
static const struct {
    const char *what, *hex;
    stg_reject_t reason;
} frames[] = {
    {"status-req", "01 14 0000000000000003", STG_REJECT_NONE},
    {"status-req, any serial", "01 14 0000000000000000", STG_REJECT_NONE},
    {"status-req with a trailing byte", "01 14 0000000000000003 00", STG_REJECT_BAD_LENGTH},
    {"status-req with a body", "01 14 0000000000000003 7b7d", STG_REJECT_BAD_LENGTH},
    {"status-req cut in its serial", "01 14 000000000000", STG_REJECT_TOO_SHORT},
    {"status-req of two bytes", "01 14", STG_REJECT_TOO_SHORT},
    {"roster-want with a trailing byte", "01 08 0000000000000003 00", STG_REJECT_BAD_LENGTH},
    {"release-want cut short", "01 0a 0000000000000003 01020304", STG_REJECT_BAD_LENGTH},
    {"records: zero records", "01 06 0000000000000003 00", STG_REJECT_OUT_OF_RANGE},
    {"records: 33 records", "01 06 0000000000000003 21", STG_REJECT_OUT_OF_RANGE},
    {"records: an empty record", "01 06 0000000000000003 01 0000", STG_REJECT_TOO_SHORT},
    {"records: a record over 2048 bytes", "01 06 0000000000000003 01 0801 00",
     STG_REJECT_TOO_LONG},
    {"records: a length past the end", "01 06 0000000000000003 01 0384 535447",
     STG_REJECT_BAD_LENGTH},
    {"records: a length cut in half", "01 06 0000000000000003 01 03", STG_REJECT_BAD_LENGTH},
    {"digest of 257 entries", "01 05 0000000000000003 00 0101", STG_REJECT_OUT_OF_RANGE},
    {"ping with 9 claims", "01 01 0000000000000003 00000001 0000000000000000 0000 09",
     STG_REJECT_OUT_OF_RANGE},
    {"vote-req for slot 2", "01 0b 0000000000000003 02 0000000000000000 0000000000000000",
     STG_REJECT_OUT_OF_RANGE},
    {"roster with no envelope", "01 07 0000000000000003", STG_REJECT_TOO_SHORT},
    {"nack", "01 12 0000000000000003 0000002a 00", STG_REJECT_NONE},
    {"nack with a claim", "01 12 0000000000000003 0000002a 01 0002 01 0000000000000007",
     STG_REJECT_NONE},
    {"nack without its claims count", "01 12 0000000000000003 0000002a", STG_REJECT_BAD_LENGTH},
    {"suspect", "01 13 0000000000000003 0002 0000000000000007 0005", STG_REJECT_NONE},
    {"suspect without its accuser", "01 13 0000000000000003 0002 0000000000000007",
     STG_REJECT_BAD_LENGTH},
    {"suspect with a trailing byte", "01 13 0000000000000003 0002 0000000000000007 0005 00",
     STG_REJECT_BAD_LENGTH},
    {"error-rep", "01 16 0000000000000003 1b 6e6f", STG_REJECT_NONE},
    {"error-rep without text", "01 16 0000000000000003 1b", STG_REJECT_NONE},
    {"error-rep without a reason", "01 16 0000000000000003", STG_REJECT_BAD_LENGTH},
    {"error-rep with reason 0 (none)", "01 16 0000000000000003 00", STG_REJECT_BAD_VALUE},
    {"error-rep with a reason newer than this build", "01 16 0000000000000003 ff", STG_REJECT_NONE},
    {"ok-rep", "01 17 0000000000000003 00 6f6b", STG_REJECT_NONE},
    {"ok-rep, held", "01 17 0000000000000003 01", STG_REJECT_NONE},
    {"ok-rep, pending", "01 17 0000000000000003 03", STG_REJECT_NONE},
    {"ok-rep with an unknown outcome", "01 17 0000000000000003 04", STG_REJECT_BAD_VALUE},
    {"ok-rep without an outcome", "01 17 0000000000000003", STG_REJECT_BAD_LENGTH},
};

static void strict_bodies(void **state) {
    (void)state;
    stg_msg_t *m = malloc(sizeof *m);
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        uint8_t buf[128];
        size_t n = unhex(frames[i].hex, buf, sizeof buf);
        stg_diag_t d = {0};
        int rc = stg_msg_decode(buf, n, m, &d);
        if (frames[i].reason == STG_REJECT_NONE) {
            if (rc != 0) fail_msg("%s: refused: %s", frames[i].what, d.msg);
            uint8_t out[128];
            assert_int_equal(stg_msg_encode(m, out, sizeof out), (int)n);
            assert_memory_equal(out, buf, n);
        } else {
            if (rc != STG_EREJECT) fail_msg("%s: accepted", frames[i].what);
            if (d.reason != frames[i].reason)
                fail_msg("%s: %s, expected %s (%s)", frames[i].what, stg_reject_name(d.reason),
                         stg_reject_name(frames[i].reason), d.msg);
        }
    }
    free(m);
}

/* An error-rep text over its limit is refused both ways. */
static void reply_text_limit(void **state) {
    (void)state;
    size_t cap = STG_WIRE_HEADER + 1 + STG_REPLY_TEXT_MAX + 1;
    uint8_t *buf = calloc(1, cap), *out = calloc(1, cap);
    char *text = malloc(STG_REPLY_TEXT_MAX + 1);
    memset(text, 'x', STG_REPLY_TEXT_MAX + 1);
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_ERROR_REP;
    m.reason = STG_REJECT_REPLAY;
    m.blob = (const uint8_t *)text;
    m.blob_len = STG_REPLY_TEXT_MAX + 1;
    assert_int_equal(stg_msg_encode(&m, out, cap), STG_ENOSPACE);
    m.blob_len = STG_REPLY_TEXT_MAX;
    int n = stg_msg_encode(&m, buf, cap);
    assert_int_equal(n, (int)(cap - 1));
    stg_msg_t back;
    stg_diag_t d = {0};
    assert_int_equal(stg_msg_decode(buf, (size_t)n, &back, &d), 0);
    /* A reason this build does not know (a newer peer's) still decodes,
     * for the client to show by number; 0 is no reason and is refused. */
    buf[STG_WIRE_HEADER] = 200;
    assert_int_equal(stg_msg_decode(buf, (size_t)n, &back, &d), 0);
    assert_int_equal(back.reason, 200);
    buf[STG_WIRE_HEADER] = 0;
    assert_int_equal(stg_msg_decode(buf, (size_t)n, &back, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_VALUE);
    buf[STG_WIRE_HEADER] = STG_REJECT_REPLAY;
    buf[n] = 'x';
    assert_int_equal(stg_msg_decode(buf, (size_t)n + 1, &back, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_TOO_LONG);
    free(text);
    free(buf);
    free(out);
}

/* The example exchange of docs/protocol.md §7.9, byte for byte. */
static void doc_example(void **state) {
    (void)state;
    static const char refused[] = "command: halt #7 is not above the last applied #9";
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_ERROR_REP;
    m.serial = 3;
    m.reason = STG_REJECT_REPLAY;
    m.blob = (const uint8_t *)refused;
    m.blob_len = strlen(refused);
    uint8_t out[256], want[256];
    int n = stg_msg_encode(&m, out, sizeof out);
    size_t wn = unhex("01 16 0000000000000003 1b"
                      " 636f6d6d616e643a2068616c74202337206973206e6f742061626f7665207468"
                      " 65206c617374206170706c696564202339",
                      want, sizeof want);
    assert_int_equal(n, (int)wn);
    assert_memory_equal(out, want, wn);
    static const char applied[] = "command #7 applied";
    m.type = STG_MSG_OK_REP;
    m.outcome = STG_OUTCOME_APPLIED;
    m.blob = (const uint8_t *)applied;
    m.blob_len = strlen(applied);
    n = stg_msg_encode(&m, out, sizeof out);
    wn = unhex("01 17 0000000000000003 00 636f6d6d616e64202337206170706c696564", want, sizeof want);
    assert_int_equal(n, (int)wn);
    assert_memory_equal(out, want, wn);
}

/* The reason numbers travel in error-rep (§6 lists them): appending is
 * fine, renumbering breaks every client. */
static void reason_numbers(void **state) {
    (void)state;
    static const struct {
        stg_reject_t r;
        int code;
        const char *name;
    } fixed[] = {
        {STG_REJECT_NONE, 0, "NONE"},           {STG_REJECT_TOO_SHORT, 1, "TOO_SHORT"},
        {STG_REJECT_TOO_LONG, 2, "TOO_LONG"},   {STG_REJECT_BAD_TYPE, 5, "BAD_TYPE"},
        {STG_REJECT_BAD_LENGTH, 7, "BAD_LENGTH"},
        {STG_REJECT_BAD_SIGNATURE, 11, "BAD_SIGNATURE"},
        {STG_REJECT_UNKNOWN_SIGNER, 12, "UNKNOWN_SIGNER"},
        {STG_REJECT_OUT_OF_RANGE, 21, "OUT_OF_RANGE"},
        {STG_REJECT_STALE, 26, "STALE"},        {STG_REJECT_REPLAY, 27, "REPLAY"},
        {STG_REJECT_EXPIRED, 28, "EXPIRED"},
        {STG_REJECT_UNAUTHENTICATED, 30, "UNAUTHENTICATED"},
        {STG_REJECT_UNKNOWN_MEMBER, 31, "UNKNOWN_MEMBER"},
        {STG_REJECT_NOT_ALLOWED, 34, "NOT_ALLOWED"},
        {STG_REJECT_MISSING_CAPABILITY, 35, "MISSING_CAPABILITY"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        assert_int_equal((int)fixed[i].r, fixed[i].code);
        assert_string_equal(stg_reject_name(fixed[i].r), fixed[i].name);
    }
    assert_int_equal(STG_REJECT__COUNT, 36);
    assert_string_equal(stg_outcome_name(STG_OUTCOME_APPLIED), "applied");
    assert_string_equal(stg_outcome_name(STG_OUTCOME_HELD), "held");
    assert_string_equal(stg_outcome_name(STG_OUTCOME_NOT_HERE), "not-here");
    assert_string_equal(stg_outcome_name(STG_OUTCOME_PENDING), "pending");
    assert_int_equal(STG_OUTCOME_PENDING, 3);
    assert_null(stg_outcome_name(4));
    assert_string_equal(stg_msg_name(STG_MSG_OK_REP), "ok-rep");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peek_type),
        cmocka_unit_test(strict_bodies),
        cmocka_unit_test(reply_text_limit),
        cmocka_unit_test(doc_example),
        cmocka_unit_test(reason_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
