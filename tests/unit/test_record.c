/* test_record.c: the node record's payload codec (docs/protocol.md §7.3):
 * a round trip keeps every field, the optional fields are written only when
 * set, the decoder refuses what §7.3 refuses, each with its reason and
 * field (an unknown phase or health, a missing field, a wrong type), and
 * ignores a key it does not know (a newer version's optional field, §11);
 * `caps` within its bounds, a capability it does not know left out;
 * `away_ms` (a planned absence) within 1..STG_AWAY_MAX_MS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagger/record.h"

static stg_record_t sample(void) {
    stg_record_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.fleet, sizeof r.fleet, "pool");
    snprintf(r.node, sizeof r.node, "relay1");
    r.inc = 3;
    r.seq = 7;
    r.time_ms = 1800000000123;
    snprintf(r.component, sizeof r.component, "cardano-node");
    snprintf(r.version, sizeof r.version, "10.5.2");
    snprintf(r.flavour, sizeof r.flavour, "debian");
    r.health = STG_HEALTH_HEALTHY;
    snprintf(r.detail, sizeof r.detail, "ok");
    r.health_since_ms = 1800000000000;
    r.phase = STG_PHASE_SOAKING;
    snprintf(r.release, sizeof r.release, "02bf9fb41fcb34b9");
    r.phase_since_ms = 1800000000100;
    return r;
}

static void round_trip(void **state) {
    (void)state;
    stg_record_t r = sample(), back;
    r.cmd_seq = 12;
    r.attempt = 5;
    snprintf(r.stagger, sizeof r.stagger, "0.2.0 (git 1a2b3c4)");
    snprintf(r.phase_detail, sizeof r.phase_detail, "healthy on 10.5.2");
    snprintf(r.build, sizeof r.build, "%s",
             "411b666d476f7b28e6bed75a1cc46d144b0088a189ff8fd231b0b5f71bd9fa8d");
    r.tip.have = true;
    r.tip.block = 12345678;
    r.tip.slot = 170000000;
    snprintf(r.tip.hash, sizeof r.tip.hash, "%s", "4f3a9c1b22d07e6a5b1c");
    r.caps = STG_CAPS_OWN;
    r.away_ms = 300000;
    r.tip.nrecent = 2;
    r.tip.recent[0].block = 12345677;
    snprintf(r.tip.recent[0].hash, sizeof r.tip.recent[0].hash, "0123456789abcdef");
    r.tip.recent[1].block = 12345675;
    snprintf(r.tip.recent[1].hash, sizeof r.tip.recent[1].hash, "fedcba9876543210");
    uint8_t buf[2048];
    int n = stg_record_encode(&r, buf, sizeof buf);
    assert_true(n > 0);
    stg_diag_t d = {0};
    assert_int_equal(stg_record_decode(buf, (size_t)n, &back, &d), 0);
    assert_memory_equal(&r, &back, sizeof r);
    assert_non_null(strstr((const char *)buf, "\"phase\":\"soaking\""));
    assert_non_null(strstr((const char *)buf, "\"caps\":[\"promote\",\"components\"]"));
    assert_non_null(strstr((const char *)buf, "\"away_ms\":300000"));
}

static void optional_fields_only_when_set(void **state) {
    (void)state;
    stg_record_t r = sample();
    uint8_t buf[2048];
    int n = stg_record_encode(&r, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_null(strstr((const char *)buf, "attempt"));
    assert_null(strstr((const char *)buf, "cmd_seq"));
    assert_null(strstr((const char *)buf, "phase_detail"));
    assert_null(strstr((const char *)buf, "stagger"));
    assert_null(strstr((const char *)buf, "build"));
    assert_null(strstr((const char *)buf, "tip"));
    assert_null(strstr((const char *)buf, "caps"));
    assert_null(strstr((const char *)buf, "away"));
}


/* A health hook's tip= line: BLOCK:SLOT:HASH, the hash 16..64 lowercase
 * hex digits; anything else is not a tip. */
static void tip_lines(void **state) {
    (void)state;
    stg_tip_t t;
    assert_true(stg_tip_parse("12345678:170000000:4f3a9c1b22d07e6a", &t));
    assert_true(t.have && t.block == 12345678 && t.slot == 170000000);
    assert_string_equal(t.hash, "4f3a9c1b22d07e6a");
    assert_true(stg_tip_parse("0:0:"
                              "4f3a9c1b22d07e6a4f3a9c1b22d07e6a4f3a9c1b22d07e6a4f3a9c1b22d07e6a",
                              &t));
    static const char *const bad[] = {
        "", "12:34", "12:34:4f3a9c1b22d07e6", /* 15 digits */
        "12:34:4F3A9C1B22D07E6A", "-1:34:4f3a9c1b22d07e6a", "12:34:4f3a9c1b22d07e6a ",
        "12 :34:4f3a9c1b22d07e6a", "9007199254740992:1:4f3a9c1b22d07e6a",
        "12:34:4f3a9c1b22d07e6a4f3a9c1b22d07e6a4f3a9c1b22d07e6a4f3a9c1b22d07e6a0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (stg_tip_parse(bad[i], &t) || t.have) fail_msg("\"%s\" read as a tip", bad[i]);
}

/* A newer stagger's record carries a field this build does not know: it is
 * read as if the key were absent (and kept as signed by the caller, who
 * relays the envelope), where it used to be refused UNKNOWN_FIELD, which
 * cut a fleet in two while stagger updated itself (issue 14). */
static void unknown_field_ignored(void **state) {
    (void)state;
    stg_record_t r = sample(), back;
    char buf[2048], mod[2048];
    int n = stg_record_encode(&r, (uint8_t *)buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    char *at = strstr(buf, "\"phase\":\"soaking\"");
    assert_non_null(at);
    snprintf(mod, sizeof mod, "%.*s\"mood\":{\"new\":[1,2]},%s", (int)(at - buf), buf, at);
    stg_diag_t d = {0};
    assert_int_equal(stg_record_decode((const uint8_t *)mod, strlen(mod), &back, &d), 0);
    assert_memory_equal(&r, &back, sizeof r);
}

/* A sample record's JSON with the first occurrence of from replaced by
 * to, decoded into back. */
static int decode_edited(const char *from, const char *to, stg_record_t *back, stg_diag_t *d) {
    stg_record_t r = sample();
    char buf[2048], mod[4096];
    int n = stg_record_encode(&r, (uint8_t *)buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    char *at = strstr(buf, from);
    assert_non_null(at);
    snprintf(mod, sizeof mod, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    return stg_record_decode((const uint8_t *)mod, strlen(mod), back, d);
}

/* The edited record is refused: the reason and the field named. */
static void refuse(const char *from, const char *to, stg_reject_t reason, const char *field) {
    stg_record_t back;
    stg_diag_t d = {0};
    assert_int_equal(decode_edited(from, to, &back, &d), STG_EREJECT);
    assert_int_equal(d.reason, reason);
    if (!strstr(d.msg, field)) fail_msg("%s: message \"%s\" does not name %s", to, d.msg, field);
}

/* The sample record with `"caps":LIST` decodes: the set it reads. */
static stg_caps_t caps_of(const char *list) {
    char to[4096];
    snprintf(to, sizeof to, "\"phase\":\"soaking\",\"caps\":%s", list);
    stg_record_t back;
    stg_diag_t d = {0};
    if (decode_edited("\"phase\":\"soaking\"", to, &back, &d) != 0)
        fail_msg("caps %s refused: %s", list, d.msg);
    return back.caps;
}

/* `caps` lists the signer's capabilities (§7.3): absent or empty is none
 * (every older staggerd's record), a name this build does not know is a
 * newer staggerd's and is left out, and the list is bounded like every
 * other field: at most STG_CAPS_MAX names of at most STG_CAP_NAME_MAX
 * characters, each a name, none twice. */
static void caps_field(void **state) {
    (void)state;
    stg_record_t back;
    stg_diag_t d = {0};
    assert_int_equal(decode_edited("\"phase\"", "\"phase\"", &back, &d), 0);
    assert_int_equal(back.caps, 0);
    assert_int_equal(caps_of("[]"), 0);
    assert_int_equal(caps_of("[\"promote\"]"), STG_CAPS_OF(STG_CAP_PROMOTE));
    assert_int_equal(caps_of("[\"a-later-one\",\"promote\",\"x.2\"]"),
                     STG_CAPS_OF(STG_CAP_PROMOTE));
    assert_int_equal(caps_of("[\"a-later-one\"]"), 0);
    assert_int_equal(stg_cap_from_name("promote"), STG_CAP_PROMOTE);
    assert_int_equal(stg_cap_from_name("Promote"), -1);
    assert_string_equal(stg_cap_name(STG_CAP_PROMOTE), "promote");

    /* STG_CAPS_MAX names pass, one more is too many. */
    char list[2048] = "[\"promote\"";
    for (int k = 1; k < STG_CAPS_MAX; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), ",\"cap%d\"", k);
    char full[2100], over[2100];
    snprintf(full, sizeof full, "%s]", list);
    snprintf(over, sizeof over, "%s,\"one-more\"]", list);
    assert_int_equal(caps_of(full), STG_CAPS_OF(STG_CAP_PROMOTE));
    char to[2200];
    snprintf(to, sizeof to, "\"phase\":\"soaking\",\"caps\":%s", over);
    refuse("\"phase\":\"soaking\"", to, STG_REJECT_TOO_LONG, "record.caps");

    /* A name of STG_CAP_NAME_MAX characters passes, one more is too long. */
    char name[STG_CAP_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(to, sizeof to, "[\"%.*s\"]", STG_CAP_NAME_MAX, name);
    assert_int_equal(caps_of(to), 0);
    snprintf(to, sizeof to, "\"phase\":\"soaking\",\"caps\":[\"promote\",\"%s\"]", name);
    refuse("\"phase\":\"soaking\"", to, STG_REJECT_TOO_LONG, "record.caps[1]");

    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"caps\":\"promote\"",
           STG_REJECT_WRONG_TYPE, "record.caps");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"caps\":[\"promote\",7]",
           STG_REJECT_WRONG_TYPE, "record.caps[1]");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"caps\":[\"Promote\"]",
           STG_REJECT_BAD_VALUE, "record.caps[0]");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"caps\":[\"\"]",
           STG_REJECT_BAD_VALUE, "record.caps[0]");
    refuse("\"phase\":\"soaking\"",
           "\"phase\":\"soaking\",\"caps\":[\"x\",\"promote\",\"x\"]",
           STG_REJECT_DUPLICATE_VALUE, "record.caps[2]");
}

static void refusals(void **state) {
    (void)state;
    refuse("\"phase\":\"soaking\"", "\"phase\":\"sleeping\"", STG_REJECT_BAD_VALUE, "record.phase");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"\"", STG_REJECT_BAD_VALUE, "record.phase");
    refuse("\"health\":\"healthy\"", "\"health\":\"fine\"", STG_REJECT_BAD_VALUE, "record.health");
    refuse("\"phase\":\"soaking\",", "", STG_REJECT_MISSING_FIELD, "phase");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"stagger\":7", STG_REJECT_WRONG_TYPE,
           "stagger");
    refuse("\"phase\":\"soaking\"", "\"phase\":3", STG_REJECT_WRONG_TYPE, "phase");
    /* build: an artifact's SHA-256, so it compares with the release's. */
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"build\":\"sha256:411b\"",
           STG_REJECT_BAD_VALUE, "record.build");
    refuse("\"phase\":\"soaking\"",
           "\"phase\":\"soaking\",\"build\":"
           "\"411B666D476F7B28E6BED75A1CC46D144B0088A189FF8FD231B0B5F71BD9FA8D\"",
           STG_REJECT_BAD_VALUE, "record.build");
    refuse("\"phase\":\"soaking\"",
           "\"phase\":\"soaking\",\"tip\":{\"block\":1,\"slot\":2,\"hash\":\"4f3a\"}",
           STG_REJECT_BAD_VALUE, "record.tip.hash");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"tip\":{\"block\":1,\"hash\":"
           "\"4f3a9c1b22d07e6a\"}", STG_REJECT_MISSING_FIELD, "slot");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"tip\":{\"block\":1,\"slot\":2,"
           "\"hash\":\"4f3a9c1b22d07e6a\",\"recent\":[\"7:4f3a\"]}", STG_REJECT_BAD_VALUE,
           "record.tip.recent");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"tip\":7", STG_REJECT_WRONG_TYPE,
           "tip");
}

/* away_ms (§7.3): a planned absence of at most an hour; 0 is none. */
static void away_field(void **state) {
    (void)state;
    stg_record_t back;
    stg_diag_t d = {0};
    assert_int_equal(decode_edited("\"phase\":\"soaking\"",
                                   "\"phase\":\"soaking\",\"away_ms\":3600000", &back, &d), 0);
    assert_int_equal(back.away_ms, STG_AWAY_MAX_MS);
    assert_int_equal(decode_edited("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"away_ms\":0",
                                   &back, &d), 0);
    assert_int_equal(back.away_ms, 0);
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"away_ms\":3600001",
           STG_REJECT_OUT_OF_RANGE, "record.away_ms");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"away_ms\":-1",
           STG_REJECT_OUT_OF_RANGE, "record.away_ms");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"away_ms\":\"300\"",
           STG_REJECT_WRONG_TYPE, "record.away_ms");
}

/* Issue 14: the signer's other components, and stg_record_comp's view. */
static void components_field(void **state) {
    (void)state;
    static const char OS[] = "{\"component\":\"os\",\"version\":\"2026-12-01\","
                             "\"health\":\"healthy\",\"health_since_ms\":5}";
    char to[512];
    snprintf(to, sizeof to, "\"phase\":\"soaking\",\"components\":[%s]", OS);
    stg_record_t back;
    stg_diag_t d = {0};
    assert_int_equal(decode_edited("\"phase\":\"soaking\"", to, &back, &d), 0);
    assert_int_equal(back.ncomps, 1);
    stg_comp_rec_t tmp;
    const stg_comp_rec_t *e = stg_record_comp(&back, "os", &tmp);
    assert_non_null(e);
    assert_string_equal(e->version, "2026-12-01");
    assert_int_equal(e->health, STG_HEALTH_HEALTHY);
    assert_int_equal(e->health_since_ms, 5);
    e = stg_record_comp(&back, back.component, &tmp); /* the top level */
    assert_non_null(e);
    assert_string_equal(e->version, back.version);
    assert_null(stg_record_comp(&back, "stagger", &tmp));
    /* Encoded again, it reads the same. */
    uint8_t buf[4096];
    int n = stg_record_encode(&back, buf, sizeof buf);
    assert_true(n > 0);
    stg_record_t again;
    assert_int_equal(stg_record_decode(buf, (size_t)n, &again, &d), 0);
    assert_int_equal(again.ncomps, 1);
    assert_memory_equal(&again.comps[0], &back.comps[0], sizeof back.comps[0]);
    snprintf(to, sizeof to, "\"phase\":\"soaking\",\"components\":[%s,%s]", OS, OS);
    refuse("\"phase\":\"soaking\"", to, STG_REJECT_DUPLICATE_VALUE, "record.components");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"components\":[{\"component\":"
           "\"os\",\"version\":\"1\",\"health\":\"fine\",\"health_since_ms\":5}]",
           STG_REJECT_BAD_VALUE, "record.components.health");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"components\":[{\"component\":"
           "\"os\",\"health\":\"healthy\",\"health_since_ms\":5}]",
           STG_REJECT_MISSING_FIELD, "record.components.version");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"components\":[1,2,3]",
           STG_REJECT_TOO_LONG, "record.components");
    /* Every component's adopted release, and a failure not yet resumed. */
    assert_int_equal(decode_edited("\"phase\":\"soaking\"",
                                   "\"phase\":\"soaking\",\"releases\":[\"0011223344556677\","
                                   "\"8899aabbccddeeff\"],\"failed\":\"8899aabbccddeeff\"",
                                   &back, &d), 0);
    assert_int_equal(back.nreleases, 2);
    assert_string_equal(back.releases[1], "8899aabbccddeeff");
    assert_string_equal(back.failed, "8899aabbccddeeff");
    n = stg_record_encode(&back, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(stg_record_decode(buf, (size_t)n, &again, &d), 0);
    assert_int_equal(again.nreleases, 2);
    assert_string_equal(again.failed, back.failed);
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"releases\":[\"0011\"]",
           STG_REJECT_BAD_VALUE, "record.releases");
    refuse("\"phase\":\"soaking\"", "\"phase\":\"soaking\",\"failed\":\"XYZ\"",
           STG_REJECT_BAD_VALUE, "record.failed");
}

static void phase_names(void **state) {
    (void)state;
    for (int p = 0; p < STG_PHASE__COUNT; p++)
        assert_int_equal(stg_phase_from_name(stg_phase_name((stg_phase_t)p)), p);
    assert_int_equal(stg_phase_from_name("rolled_back"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(optional_fields_only_when_set),
        cmocka_unit_test(unknown_field_ignored),
        cmocka_unit_test(refusals),
        cmocka_unit_test(components_field),
        cmocka_unit_test(caps_field),
        cmocka_unit_test(away_field),
        cmocka_unit_test(tip_lines),
        cmocka_unit_test(phase_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
