/* test_release.c: the release codec: every refusal with its reason and
 * field path, artifacts pinned by digest, and opening signed releases
 * against a roster's operators. */
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

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define HEX_UPPER "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define IMAGE "ghcr.io/pool/cardano-node:10.5.3@sha256:" HEX_B

/* ' stands for " so the documents read as JSON. */
static const char BASE[] =
    "{'component':'cardano-node','version':'10.5.3','created_at':1760000000,"
    "'not_before':1760003600,'artifacts':{"
    "'debian':{'url':'https://pkgs.example/cardano-node_10.5.3_amd64.deb','sha256':'" HEX_A "'},"
    "'nix':{'image':'" IMAGE "'}}}";

/* Caller frees. */
static char *dq(const char *s) {
    char *out = strdup(s);
    assert_non_null(out);
    for (char *c = out; *c; c++)
        if (*c == '\'') *c = '"';
    return out;
}

static json_t *load(const char *text) {
    char *t = dq(text);
    json_error_t err;
    json_t *v = json_loads(t, JSON_DECODE_ANY, &err);
    if (!v) fail_msg("test document does not parse: %s: %s", err.text, t);
    free(t);
    return v;
}

/* BASE with the field at a dotted path set to value (JSON text, ' for ")
 * or removed when value is NULL. Caller frees. */
static char *with(const char *path, const char *value) {
    json_t *root = load(BASE), *obj = root;
    char key[64];
    const char *p = path, *dot;
    while ((dot = strchr(p, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
        obj = json_object_get(obj, key);
        if (!json_is_object(obj)) fail_msg("no object at %s in %s", key, path);
        p = dot + 1;
    }
    if (value) json_object_set_new(obj, p, load(value));
    else if (json_object_del(obj, p) != 0) fail_msg("nothing to remove at %s", path);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static void check_refusal(const char *json, stg_reject_t reason, const char *path) {
    stg_release_t rel;
    memset(&rel, 0x5a, sizeof rel);
    stg_diag_t d = {0};
    int rc = stg_release_decode((const uint8_t *)json, strlen(json), &rel, &d);
    if (rc != STG_EREJECT) fail_msg("accepted (rc %d): %s", rc, json);
    if (d.reason != reason)
        fail_msg("got %s (%s), want %s", stg_reject_name(d.reason), d.msg,
                 stg_reject_name(reason));
    if (!strstr(d.msg, path)) fail_msg("\"%s\" does not name %s", d.msg, path);
    assert_int_equal(rel.nartifacts, 0);
    assert_string_equal(rel.version, "");
}

/* ---- every refusal, one named test each ----------------------------------- */

typedef struct {
    const char *field, *value; /* the edit that breaks BASE (NULL removes) */
    stg_reject_t reason;
    const char *path;
} reject_case_t;

static void reject_case(void **state) {
    const reject_case_t *c = *state;
    char *json = with(c->field, c->value);
    check_refusal(json, c->reason, c->path);
    free(json);
}

#define NINE_FLAVOURS                                                                    \
    "{'a':{'image':'" IMAGE "'},'b':{'image':'" IMAGE "'},'c':{'image':'" IMAGE "'},"    \
    "'d':{'image':'" IMAGE "'},'e':{'image':'" IMAGE "'},'f':{'image':'" IMAGE "'},"     \
    "'g':{'image':'" IMAGE "'},'h':{'image':'" IMAGE "'},'i':{'image':'" IMAGE "'}}"
#define VERSION_64 "'1234567890123456789012345678901234567890123456789012345678901234'"

#define REJECTS(X)                                                                       \
    X(unknown_field, "signature", "'x'", UNKNOWN_FIELD, "signature")                     \
    X(component_missing, "component", NULL, MISSING_FIELD, "component")                  \
    X(component_not_name, "component", "'Cardano Node'", BAD_VALUE, "component")         \
    X(component_wrong_type, "component", "1", WRONG_TYPE, "component")                   \
    X(version_missing, "version", NULL, MISSING_FIELD, "version")                        \
    X(version_empty, "version", "''", BAD_VALUE, "version")                              \
    X(version_space, "version", "'10.5.3 beta'", BAD_VALUE, "version")                   \
    X(version_slash, "version", "'10/5'", BAD_VALUE, "version")                          \
    X(version_too_long, "version", VERSION_64, TOO_LONG, "version")                      \
    X(version_number, "version", "10.5", WRONG_TYPE, "version")                          \
    X(created_missing, "created_at", NULL, MISSING_FIELD, "created_at")                  \
    X(created_negative, "created_at", "-1", OUT_OF_RANGE, "created_at")                  \
    X(created_over_2p53, "created_at", "9007199254740993", OUT_OF_RANGE, "created_at")   \
    X(created_string, "created_at", "'1760000000'", WRONG_TYPE, "created_at")            \
    X(created_real, "created_at", "1.76e9", WRONG_TYPE, "created_at")                    \
    X(not_before_early, "not_before", "1759999999", OUT_OF_RANGE, "not_before")          \
    X(not_before_bool, "not_before", "true", WRONG_TYPE, "not_before")                   \
    X(artifacts_missing, "artifacts", NULL, MISSING_FIELD, "artifacts")                  \
    X(artifacts_array, "artifacts", "[]", WRONG_TYPE, "artifacts")                       \
    X(artifacts_empty, "artifacts", "{}", TOO_SHORT, "artifacts")                        \
    X(artifacts_nine, "artifacts", NINE_FLAVOURS, TOO_LONG, "artifacts")                 \
    X(flavour_not_name, "artifacts.Debian", "{'image':'" IMAGE "'}", BAD_VALUE,          \
      "artifacts.Debian")                                                                \
    X(artifact_not_object, "artifacts.debian", "'x'", WRONG_TYPE, "artifacts.debian")    \
    X(artifact_unknown_field, "artifacts.debian.size", "1", UNKNOWN_FIELD,               \
      "artifacts.debian.size")                                                           \
    X(artifact_both, "artifacts.nix.url", "'https://x.example/a'", BAD_VALUE,            \
      "artifacts.nix")                                                                   \
    X(artifact_neither, "artifacts.nix.image", NULL, MISSING_FIELD, "artifacts.nix")     \
    X(image_by_tag, "artifacts.nix.image", "'ghcr.io/pool/cardano-node:10.5.3'",         \
      BAD_VALUE, "artifacts.nix.image")                                                  \
    X(image_upper_hex, "artifacts.nix.image", "'cn@sha256:" HEX_UPPER "'", BAD_VALUE,        \
      "artifacts.nix.image")                                                             \
    X(image_short_digest, "artifacts.nix.image", "'cn@sha256:" HEX_63 "'", BAD_VALUE,     \
      "artifacts.nix.image")                                                             \
    X(image_sha512, "artifacts.nix.image", "'cn@sha512:" HEX_A "'", BAD_VALUE,           \
      "artifacts.nix.image")                                                             \
    X(image_no_name, "artifacts.nix.image", "'@sha256:" HEX_A "'", BAD_VALUE,            \
      "artifacts.nix.image")                                                             \
    X(image_space, "artifacts.nix.image", "'c n@sha256:" HEX_A "'", BAD_VALUE,           \
      "artifacts.nix.image")                                                             \
    X(image_trailing, "artifacts.nix.image", "'cn@sha256:" HEX_A "x'", BAD_VALUE,        \
      "artifacts.nix.image")                                                             \
    X(image_with_sha256, "artifacts.nix.sha256", "'" HEX_B "'", BAD_VALUE,               \
      "artifacts.nix.sha256")                                                            \
    X(image_number, "artifacts.nix.image", "5", WRONG_TYPE, "artifacts.nix.image")       \
    X(url_ftp, "artifacts.debian.url", "'ftp://pkgs.example/a.deb'", BAD_VALUE,          \
      "artifacts.debian.url")                                                            \
    X(url_scheme_only, "artifacts.debian.url", "'https://'", BAD_VALUE,                  \
      "artifacts.debian.url")                                                            \
    X(url_space, "artifacts.debian.url", "'https://pkgs.example/a b.deb'", BAD_VALUE,    \
      "artifacts.debian.url")                                                            \
    X(url_relative, "artifacts.debian.url", "'pkgs.example/a.deb'", BAD_VALUE,           \
      "artifacts.debian.url")                                                            \
    X(url_without_sha256, "artifacts.debian.sha256", NULL, MISSING_FIELD,                \
      "artifacts.debian.sha256")                                                         \
    X(sha256_upper, "artifacts.debian.sha256", "'" HEX_UPPER "'", BAD_VALUE,              \
      "artifacts.debian.sha256")                                                         \
    X(sha256_short, "artifacts.debian.sha256", "'" HEX_63 "'", BAD_VALUE,          \
      "artifacts.debian.sha256")                                                         \
    X(sha256_long, "artifacts.debian.sha256", "'" HEX_A "0'", BAD_VALUE,                 \
      "artifacts.debian.sha256")                                                         \
    X(sha256_not_hex, "artifacts.debian.sha256",                                         \
      "'0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef'", BAD_VALUE,   \
      "artifacts.debian.sha256")                                                         \
    X(sha256_number, "artifacts.debian.sha256", "1", WRONG_TYPE, "artifacts.debian.sha256")

#define AS_CASE(name, field, value, reason, path) \
    static const reject_case_t case_##name = {field, value, STG_REJECT_##reason, path};
REJECTS(AS_CASE)
#undef AS_CASE

/* Long strings at the edge of their caps. */
static void lengths(void **state) {
    (void)state;
    char url[600], img[600];
    /* 511 characters fit, 512 do not. */
    int n = snprintf(url, sizeof url, "'https://pkgs.example/%0*d'", 511 - 21, 0);
    assert_int_equal(n, 511 + 2);
    char *json = with("artifacts.debian.url", url);
    stg_release_t rel;
    stg_diag_t d = {0};
    if (stg_release_decode((const uint8_t *)json, strlen(json), &rel, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(strlen(stg_release_artifact(&rel, "debian")->url), 511);
    free(json);
    snprintf(url, sizeof url, "'https://pkgs.example/%0*d'", 512 - 21, 0);
    json = with("artifacts.debian.url", url);
    check_refusal(json, STG_REJECT_TOO_LONG, "artifacts.debian.url");
    free(json);
    snprintf(img, sizeof img, "'%0*d@sha256:%s'", 512 - 8 - 64, 0, HEX_A);
    json = with("artifacts.nix.image", img);
    check_refusal(json, STG_REJECT_TOO_LONG, "artifacts.nix.image");
    free(json);
}

static void duplicate_flavour(void **state) {
    (void)state;
    char *json = dq("{'component':'c','version':'1','created_at':1,'artifacts':{"
                    "'nix':{'image':'" IMAGE "'},'nix':{'image':'" IMAGE "'}}}");
    check_refusal(json, STG_REJECT_DUPLICATE_FIELD, "payload");
    free(json);
}

/* ---- documents that decode ---------------------------------------------- */

static void base_decodes(void **state) {
    (void)state;
    char *json = dq(BASE);
    stg_release_t rel;
    stg_diag_t d = {0};
    if (stg_release_decode((const uint8_t *)json, strlen(json), &rel, &d) != 0)
        fail_msg("%s", d.msg);
    assert_string_equal(rel.component, "cardano-node");
    assert_string_equal(rel.version, "10.5.3");
    assert_int_equal(rel.created_at_s, 1760000000);
    assert_int_equal(rel.not_before_s, 1760003600);
    assert_int_equal(rel.nartifacts, 2);
    const stg_artifact_t *deb = stg_release_artifact(&rel, "debian");
    const stg_artifact_t *nix = stg_release_artifact(&rel, "nix");
    assert_non_null(deb);
    assert_non_null(nix);
    assert_string_equal(deb->url, "https://pkgs.example/cardano-node_10.5.3_amd64.deb");
    assert_string_equal(deb->sha256, HEX_A);
    assert_string_equal(deb->image, "");
    assert_string_equal(nix->image, IMAGE);
    assert_string_equal(nix->sha256, HEX_B); /* taken from the digest */
    assert_string_equal(nix->url, "");
    assert_null(stg_release_artifact(&rel, "arm"));
    assert_null(stg_release_artifact(&rel, "deb"));
    free(json);
}

static void accepted_variants(void **state) {
    (void)state;
    static const struct {
        const char *field, *value;
    } ok[] = {
        {"not_before", NULL}, /* optional */
        {"not_before", "1760000000"}, /* equal to created_at */
        {"created_at", "0"},
        {"version", "'1.0.0+git~rc1_2-A'"},
        {"artifacts.debian.url", "'http://10.0.0.5/cn.deb'"},
        {"artifacts.debian.url", "'file:///srv/stagger/cn.deb'"},
        {"artifacts.nix.image", "'registry.local:5000/pool/cn@sha256:" HEX_A "'"},
        {"artifacts.nix.image", "'cn@sha256:" HEX_A "'"},
        {"artifacts.arm64-nix", "{'image':'cn@sha256:" HEX_A "'}"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *json = with(ok[i].field, ok[i].value);
        stg_release_t rel;
        stg_diag_t d = {0};
        if (stg_release_decode((const uint8_t *)json, strlen(json), &rel, &d) != 0)
            fail_msg("%s=%s refused: %s", ok[i].field, ok[i].value, d.msg);
        free(json);
    }
    char *json = dq("{'component':'c','version':'1','created_at':9007199254740992,"
                    "'artifacts':{'x':{'image':'cn@sha256:" HEX_A "'}}}");
    stg_release_t rel;
    stg_diag_t d = {0};
    assert_int_equal(stg_release_decode((const uint8_t *)json, strlen(json), &rel, &d), 0);
    assert_int_equal(rel.not_before_s, 0);
    assert_string_equal(rel.artifacts[0].sha256, HEX_A);
    free(json);
}

/* ---- opening signed releases ----------------------------------------------- */

static stg_seckey_t op_key(uint8_t n) {
    uint8_t seed[STG_SEED_BYTES] = {0x77, n};
    stg_seckey_t k;
    assert_int_equal(stg_seckey_from_seed(&k, seed), 0);
    return k;
}

/* A roster with two operators (keys 1 and 2) and nothing else: all that
 * stg_release_open reads. */
static stg_roster_t *two_operators(void) {
    stg_roster_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->noperators = 2;
    r->operators[0] = op_key(1).pub;
    r->operators[1] = op_key(2).pub;
    return r;
}

typedef struct {
    uint8_t buf[STG_PAYLOAD_MAX + 1024];
    size_t len;
} sealed_t;

static void seal_text(sealed_t *s, const char *text, int type, uint8_t signer) {
    char *json = dq(text);
    stg_seckey_t k = op_key(signer);
    assert_int_equal(stg_envelope_seal(type, (const uint8_t *)json, strlen(json), &k, s->buf,
                                       sizeof s->buf, &s->len),
                     0);
    free(json);
}

static void open_expect(const sealed_t *s, const stg_roster_t *r, stg_reject_t want,
                        const char *path) {
    stg_release_t rel;
    memset(&rel, 0x5a, sizeof rel);
    stg_diag_t d = {0};
    assert_int_equal(stg_release_open(s->buf, s->len, r, &rel, &d), STG_EREJECT);
    if (d.reason != want)
        fail_msg("got %s (%s), want %s", stg_reject_name(d.reason), d.msg,
                 stg_reject_name(want));
    if (!strstr(d.msg, path)) fail_msg("\"%s\" does not name %s", d.msg, path);
    assert_int_equal(rel.nartifacts, 0);
}

static void open_release(void **state) {
    (void)state;
    stg_roster_t *r = two_operators();
    sealed_t *s = malloc(sizeof *s);
    assert_non_null(s);
    stg_release_t rel;
    stg_diag_t d = {0};

    seal_text(s, BASE, STG_DOC_RELEASE, 2);
    if (stg_release_open(s->buf, s->len, r, &rel, &d) != 0) fail_msg("%s", d.msg);
    assert_string_equal(rel.version, "10.5.3");

    /* One byte of the payload changed after signing: "10.5.3" -> "10.5.2". */
    uint8_t *v = s->buf + STG_ENV_HEADER;
    while (memcmp(v, "10.5.3", 6) != 0) v++;
    v[5] = '2';
    open_expect(s, r, STG_REJECT_BAD_SIGNATURE, "envelope");

    seal_text(s, BASE, STG_DOC_RELEASE, 9); /* not an operator of this roster */
    open_expect(s, r, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    seal_text(s, BASE, STG_DOC_ROSTER, 1); /* an operator, but a roster */
    open_expect(s, r, STG_REJECT_WRONG_TYPE_DOC, "envelope");

    /* The signature is checked before the JSON is read. */
    seal_text(s, "{oops", STG_DOC_RELEASE, 9);
    open_expect(s, r, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    seal_text(s, "{oops", STG_DOC_RELEASE, 1);
    open_expect(s, r, STG_REJECT_BAD_JSON, "payload");
    /* Signed but invalid: the schema still applies. */
    seal_text(s, "{'component':'c','version':'1','created_at':1,'artifacts':{}}",
              STG_DOC_RELEASE, 1);
    open_expect(s, r, STG_REJECT_TOO_SHORT, "artifacts");

    /* A roster with no operators trusts no release. */
    r->noperators = 0;
    seal_text(s, BASE, STG_DOC_RELEASE, 1);
    open_expect(s, r, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    free(s);
    free(r);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
#define AS_TEST(name, field, value, reason, path) \
    {#name, reject_case, NULL, NULL, (void *)&case_##name},
        REJECTS(AS_TEST)
#undef AS_TEST
        cmocka_unit_test(lengths),
        cmocka_unit_test(duplicate_flavour),
        cmocka_unit_test(base_decodes),
        cmocka_unit_test(accepted_variants),
        cmocka_unit_test(open_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
