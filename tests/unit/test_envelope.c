/* test_envelope.c: the signed envelope, against the golden vector in
 * docs/protocol.md (computed independently with PyNaCl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "stagger/proto.h"

/* Golden vector: seed 00 01 .. 1f, release payload, one signature. */
static const char GOLDEN_PAYLOAD[] = "{\"component\":\"cardano-node\",\"version\":\"10.5.3\"}";
static const char GOLDEN_PUB[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
static const char GOLDEN_ENV_HEX[] =
    "5354470102010000002f7b22636f6d706f6e656e74223a2263617264616e6f2d6e6f6465222c"
    "2276657273696f6e223a2231302e352e33227d03a107bff3ce10be1d70dd18e74bc09967e4d6"
    "309ba50d5f1ddc8664125531b8793ac1962806ebd79369486c05d899b1f214ffdd78e3a97220"
    "d9abb8a25d26081d4741881d6fa7cc0be79b2af60ab7f36d10c8b332062559759cb65cba431c0e";

static stg_seckey_t key_from_byte(uint8_t first) {
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(first + i);
    stg_seckey_t k;
    assert_int_equal(stg_seckey_from_seed(&k, seed), 0);
    return k;
}

static size_t golden(uint8_t *out, size_t cap) {
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(out, cap, GOLDEN_ENV_HEX, strlen(GOLDEN_ENV_HEX), NULL,
                                    &n, NULL), 0);
    return n;
}

static void seal_matches_golden(void **state) {
    (void)state;
    stg_seckey_t k = key_from_byte(0);
    char b64[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(&k.pub, b64);
    assert_string_equal(b64, GOLDEN_PUB);

    uint8_t out[512], want[512];
    size_t n = 0, wn = golden(want, sizeof want);
    assert_int_equal(stg_envelope_seal(STG_DOC_RELEASE, (const uint8_t *)GOLDEN_PAYLOAD,
                                       strlen(GOLDEN_PAYLOAD), &k, out, sizeof out, &n),
                     0);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
}

static void golden_verifies_and_flips_fail(void **state) {
    (void)state;
    stg_seckey_t k = key_from_byte(0);
    uint8_t buf[512];
    size_t n = golden(buf, sizeof buf);
    stg_envelope_t env;
    stg_diag_t d = {0};
    assert_int_equal(stg_envelope_parse(buf, n, &env, &d), 0);
    assert_int_equal(env.type, STG_DOC_RELEASE);
    assert_int_equal(env.payload_len, strlen(GOLDEN_PAYLOAD));
    assert_int_equal(stg_envelope_verify(&env, &k.pub, 1, 1, NULL, &d), 0);

    /* Every single flipped byte after the header must fail: payload,
     * signer key or signature. */
    for (size_t i = STG_ENV_HEADER; i < n; i++) {
        buf[i] ^= 0x01;
        int rc = stg_envelope_parse(buf, n, &env, &d);
        if (rc == 0) rc = stg_envelope_verify(&env, &k.pub, 1, 1, NULL, &d);
        assert_int_equal(rc, STG_EREJECT);
        assert_true(d.reason == STG_REJECT_BAD_SIGNATURE || d.reason == STG_REJECT_UNKNOWN_SIGNER);
        buf[i] ^= 0x01;
    }
}

static void domain_separation(void **state) {
    (void)state;
    /* The same bytes signed as a release do not pass as a roster. */
    stg_seckey_t k = key_from_byte(0);
    uint8_t buf[512];
    size_t n = golden(buf, sizeof buf);
    buf[4] = STG_DOC_ROSTER;
    stg_envelope_t env;
    stg_diag_t d = {0};
    assert_int_equal(stg_envelope_parse(buf, n, &env, &d), 0);
    assert_int_equal(stg_envelope_verify(&env, &k.pub, 1, 1, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_SIGNATURE);
}

static void structural_rejects(void **state) {
    (void)state;
    uint8_t buf[512];
    size_t n = golden(buf, sizeof buf);
    stg_envelope_t env;
    stg_diag_t d = {0};
    struct {
        size_t off;
        uint8_t val;
        stg_reject_t want;
    } cases[] = {
        {0, 'X', STG_REJECT_BAD_MAGIC},     {3, 2, STG_REJECT_BAD_VERSION},
        {4, 99, STG_REJECT_BAD_TYPE},       {5, 0, STG_REJECT_NO_SIGNATURE},
        {4, 5, STG_REJECT_BAD_TYPE}, /* 5 was "request": never specified, not a type */
        {4, 0, STG_REJECT_BAD_TYPE},
        {5, 9, STG_REJECT_TOO_MANY_SIGNATURES}, {5, 2, STG_REJECT_BAD_LENGTH},
        {9, 0x30, STG_REJECT_BAD_LENGTH},
        /* payload_len outside 1..65536: too short or too long, never
         * BAD_LENGTH (which is for lengths that disagree with the size) */
        {9, 0x00, STG_REJECT_TOO_SHORT},    {7, 0x02, STG_REJECT_TOO_LONG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t save = buf[cases[i].off];
        buf[cases[i].off] = cases[i].val;
        assert_int_equal(stg_envelope_parse(buf, n, &env, &d), STG_EREJECT);
        assert_int_equal(d.reason, cases[i].want);
        buf[cases[i].off] = save;
    }
    assert_int_equal(stg_envelope_parse(buf, n - 1, &env, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_BAD_LENGTH);
    assert_int_equal(stg_envelope_parse(buf, 20, &env, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_TOO_SHORT);
}

static void cosign_quorum(void **state) {
    (void)state;
    stg_seckey_t a = key_from_byte(0), b = key_from_byte(1), c = key_from_byte(2);
    stg_pubkey_t ops[3] = {a.pub, b.pub, c.pub};
    const uint8_t payload[] = "{\"x\":1}";
    uint8_t buf[1024];
    size_t n;
    stg_diag_t d = {0};
    stg_envelope_t env;
    assert_int_equal(stg_envelope_seal(STG_DOC_COMMAND, payload, sizeof payload - 1, &a, buf,
                                       sizeof buf, &n), 0);
    assert_int_equal(stg_envelope_parse(buf, n, &env, &d), 0);
    assert_int_equal(stg_envelope_verify(&env, ops, 3, 2, NULL, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_TOO_FEW_SIGNATURES);
    /* The same key twice does not make two. */
    assert_int_equal(stg_envelope_cosign(buf, &n, sizeof buf, &a, &d), STG_EINVAL);
    assert_int_equal(stg_envelope_cosign(buf, &n, sizeof buf, &b, &d), 0);
    assert_int_equal(stg_envelope_parse(buf, n, &env, &d), 0);
    assert_int_equal(env.nsig, 2);
    assert_int_equal(stg_envelope_verify(&env, ops, 3, 2, NULL, &d), 0);
    /* A duplicated signature entry, forged by copying, is refused. */
    memcpy(buf + n, buf + n - STG_ENV_SIG_ENTRY, STG_ENV_SIG_ENTRY);
    buf[5] = 3;
    assert_int_equal(stg_envelope_parse(buf, n + STG_ENV_SIG_ENTRY, &env, &d), STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_DUPLICATE_SIGNER);
    (void)c;
}

static void pubkey_text(void **state) {
    (void)state;
    stg_pubkey_t k;
    assert_int_equal(stg_pubkey_from_b64(&k, GOLDEN_PUB), 0);
    assert_int_equal(stg_pubkey_from_b64(&k, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"), STG_EREJECT);
    assert_int_equal(stg_pubkey_from_b64(&k, "!6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="), STG_EREJECT);
    /* Non-canonical spelling of the last character is refused. */
    assert_int_equal(stg_pubkey_from_b64(&k, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh="), STG_EREJECT);
    /* The lookup spelling (a ZAP User-Id, matched against checked keys):
     * the same 32 bytes, no point or canonical check, bad text refused. */
    stg_pubkey_t l;
    assert_int_equal(stg_pubkey_lookup_b64(&l, GOLDEN_PUB), 0);
    assert_true(stg_pubkey_eq(&k, &l));
    assert_int_equal(stg_pubkey_lookup_b64(&l, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"), STG_EREJECT);
    assert_int_equal(stg_pubkey_lookup_b64(&l, "!6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="), STG_EREJECT);
    /* 32 bytes that are no curve point (all 0xff but the sign bit's byte):
     * fine for a lookup, which only compares them with checked keys. */
    static const char *const off = "//////////////////////////////////////////8=";
    assert_int_equal(stg_pubkey_from_b64(&k, off), STG_EREJECT);
    assert_int_equal(stg_pubkey_lookup_b64(&l, off), 0);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seal_matches_golden),
        cmocka_unit_test(golden_verifies_and_flips_fail),
        cmocka_unit_test(domain_separation),
        cmocka_unit_test(structural_rejects),
        cmocka_unit_test(cosign_quorum),
        cmocka_unit_test(pubkey_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
