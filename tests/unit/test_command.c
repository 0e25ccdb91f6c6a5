/* test_command.c: emergency command documents: strict decode, the quorum
 * of operator signatures, fleet, expiry and the embedded release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "stagger/doc.h"
#include "stagger/record.h"

static stg_seckey_t key(uint8_t first) {
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(first + i);
    stg_seckey_t k;
    assert_int_equal(stg_seckey_from_seed(&k, seed), 0);
    return k;
}

static stg_roster_t *roster(unsigned quorum) {
    stg_seckey_t o1 = key(100), o2 = key(101), o3 = key(102), a = key(1), b = key(2), c = key(3);
    char k[6][STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(&o1.pub, k[0]);
    stg_pubkey_to_b64(&o2.pub, k[1]);
    stg_pubkey_to_b64(&o3.pub, k[2]);
    stg_pubkey_to_b64(&a.pub, k[3]);
    stg_pubkey_to_b64(&b.pub, k[4]);
    stg_pubkey_to_b64(&c.pub, k[5]);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"fleet\":\"pool\",\"serial\":1,\"operators\":[\"%s\",\"%s\",\"%s\"],"
             "\"emergency_quorum\":%u,\"members\":["
             "{\"name\":\"relay1\",\"key\":\"%s\",\"endpoint\":\"tcp://127.0.0.1:7401\","
             "\"role\":\"relay\",\"flavour\":\"debian\"},"
             "{\"name\":\"standby\",\"key\":\"%s\",\"endpoint\":\"tcp://127.0.0.1:7402\","
             "\"role\":\"standby\",\"flavour\":\"nix\"},"
             "{\"name\":\"relay2\",\"key\":\"%s\",\"endpoint\":\"tcp://127.0.0.1:7403\","
             "\"role\":\"relay\",\"flavour\":\"nix\"}]}",
             k[0], k[1], k[2], quorum, k[3], k[4], k[5]);
    stg_roster_t *r = malloc(sizeof *r);
    stg_diag_t d = {0};
    int rc = stg_roster_decode((const uint8_t *)json, strlen(json), r, &d);
    if (rc) fprintf(stderr, "roster: %s\n", d.msg);
    assert_int_equal(rc, 0);
    return r;
}

#define NOW_S 1800000000LL

static size_t seal(const char *json, const uint8_t *signers, unsigned n, uint8_t *out, size_t cap) {
    stg_seckey_t k0 = key(signers[0]);
    size_t len = 0;
    assert_int_equal(stg_envelope_seal(STG_DOC_COMMAND, (const uint8_t *)json, strlen(json), &k0,
                                       out, cap, &len), 0);
    for (unsigned i = 1; i < n; i++) {
        stg_seckey_t ki = key(signers[i]);
        assert_int_equal(stg_envelope_cosign(out, &len, cap, &ki, NULL), 0);
    }
    return len;
}

static char *halt_json(const char *fleet, long long issued, long long expires) {
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"fleet\":\"%s\",\"seq\":7,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"halt\",\"reason\":\"fork on 10.5.3\"}",
             fleet, issued, expires);
    return buf;
}

static void quorum_of_operators(void **state) {
    (void)state;
    stg_roster_t *r = roster(2);
    static stg_command_t c;
    uint8_t buf[4096];
    stg_diag_t d = {0};
    const uint8_t one[] = {100}, two[] = {100, 102}, stranger[] = {100, 1};
    size_t n = seal(halt_json("pool", NOW_S, NOW_S + 3600), one, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_TOO_FEW_SIGNATURES);
    unsigned signers = 0;
    n = seal(halt_json("pool", NOW_S, NOW_S + 3600), two, 2, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, &signers, &d), 0);
    assert_int_equal(c.action, STG_CMD_HALT);
    assert_int_equal(c.seq, 7);
    assert_int_equal(signers, 2);
    assert_string_equal(c.reason, "fork on 10.5.3");
    /* A member key is not an operator, even as the second signature. */
    n = seal(halt_json("pool", NOW_S, NOW_S + 3600), stranger, 2, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_UNKNOWN_SIGNER);
    /* One flipped payload byte. */
    n = seal(halt_json("pool", NOW_S, NOW_S + 3600), two, 2, buf, sizeof buf);
    buf[STG_ENV_HEADER + 3] ^= 1;
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_SIGNATURE);
    free(r);
}

static void fleet_and_time(void **state) {
    (void)state;
    stg_roster_t *r = roster(1);
    static stg_command_t c;
    uint8_t buf[4096];
    stg_diag_t d = {0};
    const uint8_t op[] = {101};
    size_t n = seal(halt_json("other", NOW_S, NOW_S + 3600), op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_WRONG_FLEET);
    n = seal(halt_json("pool", NOW_S - 7200, NOW_S - 3600), op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_EXPIRED);
    n = seal(halt_json("pool", NOW_S + 3600, NOW_S + 7200), op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_NOT_YET);
    free(r);
}

static void schema(void **state) {
    (void)state;
    static stg_command_t c;
    stg_diag_t d = {0};
    struct {
        const char *json;
        stg_reject_t reason;
        const char *field;
    } bad[] = {
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"reboot\"}",
         STG_REJECT_BAD_VALUE, "action"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"update\"}",
         STG_REJECT_MISSING_FIELD, "release"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"halt\","
         "\"spacing_s\":5}",
         STG_REJECT_BAD_VALUE, "spacing_s"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"rollback\","
         "\"force\":true}",
         STG_REJECT_BAD_VALUE, "force"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"halt\","
         "\"after_healthy\":true}",
         STG_REJECT_BAD_VALUE, "after_healthy"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"update\","
         "\"force\":1,\"release\":\"AAAA\"}",
         STG_REJECT_WRONG_TYPE, "force"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":5,\"expires_at\":5,\"action\":\"halt\"}",
         STG_REJECT_OUT_OF_RANGE, "expires_at"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":9000000,\"action\":\"halt\"}",
         STG_REJECT_OUT_OF_RANGE, "expires_at"},
        {"{\"fleet\":\"pool\",\"seq\":0,\"issued_at\":1,\"expires_at\":2,\"action\":\"halt\"}",
         STG_REJECT_OUT_OF_RANGE, "seq"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"halt\","
         "\"targets\":[\"a\",\"a\"]}",
         STG_REJECT_DUPLICATE_VALUE, "targets[1]"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,\"action\":\"halt\","
         "\"sudo\":true}",
         STG_REJECT_UNKNOWN_FIELD, "sudo"},
        /* promote names the one standby that becomes the producer. */
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,"
         "\"action\":\"promote\"}",
         STG_REJECT_MISSING_FIELD, "targets"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,"
         "\"action\":\"promote\",\"targets\":[\"a\",\"b\"]}",
         STG_REJECT_BAD_VALUE, "targets"},
        /* clear-grants names whose grants it clears: never "all". */
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,"
         "\"action\":\"clear-grants\"}",
         STG_REJECT_MISSING_FIELD, "targets"},
        {"{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,"
         "\"action\":\"clear-grants\",\"targets\":[]}",
         STG_REJECT_BAD_VALUE, "targets"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stg_command_decode((const uint8_t *)bad[i].json, strlen(bad[i].json), &c, &d),
                         STG_EREJECT);
        assert_int_equal(d.reason, bad[i].reason);
        assert_non_null(strstr(d.msg, bad[i].field));
    }
    /* An update's gate and spacing: absent is false. */
    static const char upd[] = "{\"fleet\":\"pool\",\"seq\":1,\"issued_at\":1,\"expires_at\":2,"
                              "\"action\":\"update\",\"release\":\"AAAA\"%s}";
    char json[256];
    snprintf(json, sizeof json, upd, "");
    assert_int_equal(stg_command_decode((const uint8_t *)json, strlen(json), &c, &d), 0);
    assert_false(c.force || c.after_healthy);
    snprintf(json, sizeof json, upd, ",\"force\":true,\"after_healthy\":true");
    assert_int_equal(stg_command_decode((const uint8_t *)json, strlen(json), &c, &d), 0);
    assert_true(c.force && c.after_healthy);
}

static void targets(void **state) {
    (void)state;
    stg_roster_t *r = roster(1);
    static stg_command_t c;
    uint8_t buf[4096];
    stg_diag_t d = {0};
    const uint8_t op[] = {100};
    char json[512];
    snprintf(json, sizeof json,
             "{\"fleet\":\"pool\",\"seq\":3,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"rollback\",\"targets\":[\"relay1\"]}",
             NOW_S, NOW_S + 60);
    size_t n = seal(json, op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), 0);
    assert_true(stg_command_targets(&c, "relay1"));
    assert_false(stg_command_targets(&c, "standby"));
    snprintf(json, sizeof json,
             "{\"fleet\":\"pool\",\"seq\":3,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"rollback\",\"targets\":[\"relay9\"]}",
             NOW_S, NOW_S + 60);
    n = seal(json, op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_UNKNOWN_MEMBER);
    snprintf(json, sizeof json,
             "{\"fleet\":\"pool\",\"seq\":4,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"clear-grants\",\"targets\":[\"relay1\"]}",
             NOW_S, NOW_S + 60);
    n = seal(json, op, 1, buf, sizeof buf);
    assert_int_equal(stg_command_open(buf, n, r, NOW_S * 1000, &c, NULL, &d), 0);
    assert_int_equal(c.action, STG_CMD_CLEAR_GRANTS);
    assert_true(stg_command_targets(&c, "relay1"));
    free(r);
}

/* §2.1 and §6: a signature by a key not allowed to sign this type is
 * UNKNOWN_SIGNER, whoever holds the key. An operator may sign commands but
 * never a node record (UNKNOWN_MEMBER is for names and indices that are not
 * in the roster, like the targets above). Tested here because this file
 * has the roster with operators. */
/* relay1's record (member 0 of roster(1)), seq 7, unsigned. */
static const char relay1_json[] =
    "{\"fleet\":\"pool\",\"node\":\"relay1\",\"inc\":1,\"seq\":7,\"time_ms\":0,"
    "\"component\":\"cardano-node\",\"version\":\"\",\"flavour\":\"debian\","
    "\"health\":\"unknown\",\"detail\":\"\",\"health_since_ms\":0,\"phase\":\"idle\","
    "\"release\":\"\",\"phase_since_ms\":0}";

static void record_by_an_operator(void **state) {
    (void)state;
    stg_roster_t *r = roster(1);
    stg_seckey_t op = key(100), member = key(1);
    uint8_t buf[4096];
    size_t len = 0;
    stg_record_t rec;
    int idx = -1;
    stg_diag_t d = {0};
    assert_int_equal(stg_envelope_seal(STG_DOC_RECORD, (const uint8_t *)relay1_json, strlen(relay1_json),
                                       &member, buf, sizeof buf, &len), 0);
    int rc = stg_record_open(buf, len, r, &rec, &idx, &d);
    if (rc) fail_msg("the member's own record: %s", d.msg);
    assert_int_equal(idx, 0);
    assert_int_equal(stg_envelope_seal(STG_DOC_RECORD, (const uint8_t *)relay1_json, strlen(relay1_json), &op,
                                       buf, sizeof buf, &len), 0);
    assert_int_equal(stg_record_open(buf, len, r, &rec, &idx, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_UNKNOWN_SIGNER);
    free(r);
}

/* stg_record_open in two steps (what gossip does, so that copies it holds
 * newer cost no signature check): peek reads an altered record, verify
 * refuses it; open refuses it in one. */
static void record_peek_then_verify(void **state) {
    (void)state;
    stg_roster_t *r = roster(1);
    stg_seckey_t member = key(1);
    uint8_t buf[4096];
    size_t len = 0;
    stg_record_t rec;
    int idx = -1;
    stg_diag_t d = {0};
    assert_int_equal(stg_envelope_seal(STG_DOC_RECORD, (const uint8_t *)relay1_json, strlen(relay1_json),
                                       &member, buf, sizeof buf, &len), 0);
    assert_int_equal(stg_record_peek(buf, len, r, &rec, &idx, &d), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(rec.seq, 7);
    assert_int_equal(stg_record_verify(buf, len, r, idx, &d), 0);
    /* seq 7 -> 8 in the signed payload: still readable, no longer verified. */
    uint8_t *seven = NULL;
    for (size_t i = 0; i + 7 <= len && !seven; i++)
        if (memcmp(buf + i, "\"seq\":7", 7) == 0) seven = buf + i;
    assert_non_null(seven);
    seven[6] = '8';
    assert_int_equal(stg_record_peek(buf, len, r, &rec, &idx, &d), 0);
    assert_int_equal(rec.seq, 8);
    assert_int_equal(stg_record_verify(buf, len, r, idx, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_SIGNATURE);
    assert_int_equal(stg_record_open(buf, len, r, &rec, &idx, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_SIGNATURE);
    free(r);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quorum_of_operators),
        cmocka_unit_test(fleet_and_time),
        cmocka_unit_test(schema),
        cmocka_unit_test(targets),
        cmocka_unit_test(record_by_an_operator),
        cmocka_unit_test(record_peek_then_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
