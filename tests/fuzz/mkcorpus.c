/* mkcorpus.c: writes the seed corpus of the fuzz targets, reproducibly.
 *
 *   build/DIR/tests/fuzz/mkcorpus tests/fuzz/corpus
 *
 * Envelopes are sealed with the test key of docs/protocol.md §2.2 (seed
 * 00..1f; co-signers use seeds counting on from 0x20), and Ed25519 is
 * deterministic, so the same build writes the same bytes. Built in the
 * normal build, never run by the suite: the corpus is checked in, and
 * inputs found by fuzzing are added beside these by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Which target directories a seed goes to. */
enum { J = 1, R = 2, L = 4 };

#define GOLDEN_RELEASE "{\"component\":\"cardano-node\",\"version\":\"10.5.3\"}"
#define TEST_KEY "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
/* Keys of seeds 20..3f, 40..5f, 60..7f, 80..9f (see key_n). */
#define KEY_1 "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="
#define KEY_2 "JUO5L/EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0="
#define KEY_3 "F0VTtFbd38aQjsqxwQH+arIeK6oGF3lbfUOmNIKZP9U="
#define KEY_4 "zRSzf5VulTGU/3+3Oz2B3MVh1hp1OAlLfD4aZD7l86o="

/* A roster using every field; the test key is its operator. */
#define ROSTER                                                                              \
    "{\"fleet\":\"pool-a\",\"serial\":7,\"operators\":[\"" TEST_KEY "\"],"                  \
    "\"emergency_quorum\":1,\"observers\":[\"" KEY_4 "\"],\"members\":["                    \
    "{\"name\":\"relay-1\",\"key\":\"" KEY_1 "\",\"endpoint\":\"tcp://10.0.0.1:3001\","     \
    "\"role\":\"relay\",\"flavour\":\"amd64\",\"tags\":[\"eu\",\"fast\"]},"                 \
    "{\"name\":\"bp-1\",\"key\":\"" KEY_2 "\",\"endpoint\":\"tcp://[fd00::2]:3001\","       \
    "\"role\":\"producer\",\"flavour\":\"amd64\",\"stage\":3},"                             \
    "{\"name\":\"bp-2\",\"key\":\"" KEY_3 "\",\"endpoint\":\"tcp://bp-2.example.org:3001\"," \
    "\"role\":\"standby\",\"flavour\":\"arm64\",\"holdback\":true}],"                       \
    "\"policy\":{\"batch\":2,\"soak_s\":3600,\"unavailable_max\":1,"                        \
    "\"health_deadline_s\":600,"                                                            \
    "\"epoch\":{\"start_s\":1596059091,\"length_s\":432000,\"proof_epochs\":1,"             \
    "\"guard_s\":600},"                                                                     \
    "\"timeouts\":{\"install_s\":600,\"health_s\":30,\"rollback_s\":600,\"gate_s\":30},"    \
    "\"windows\":[{\"days\":[\"mon\",\"tue\"],\"start\":\"22:00\",\"end\":\"02:00\"}]}}"

/* The smallest roster: defaults pick the holdback pair (standby, relay). */
#define ROSTER_HEAD "{\"fleet\":\"f\",\"serial\":1,\"operators\":[\"" TEST_KEY "\"],"
#define MEMBER_A                                                                            \
    "{\"name\":\"a\",\"key\":\"" KEY_1 "\",\"endpoint\":\"tcp://a:1\",\"role\":\"standby\","  \
    "\"flavour\":\"x\"}"
#define MEMBERS_OK                                                                          \
    MEMBER_A ","                                                                            \
    "{\"name\":\"b\",\"key\":\"" KEY_2 "\",\"endpoint\":\"tcp://b:1\",\"role\":\"dark-relay\"," \
    "\"flavour\":\"x\"},"                                                                    \
    "{\"name\":\"c\",\"key\":\"" KEY_3 "\",\"endpoint\":\"tcp://c:1\",\"role\":\"relay\","     \
    "\"flavour\":\"x\"}"
#define ROSTER_MIN ROSTER_HEAD "\"members\":[" MEMBERS_OK "]}"

#define RELEASE                                                                             \
    "{\"component\":\"cardano-node\",\"version\":\"10.5.3\",\"created_at\":1750000000,"     \
    "\"not_before\":1750003600,\"artifacts\":{\"amd64\":{\"image\":"                        \
    "\"ghcr.io/intersectmbo/cardano-node:10.5.3@sha256:"                                    \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"                  \
    "\"arm64\":{\"url\":\"https://example.org/cardano-node.tar.gz\",\"sha256\":"            \
    "\"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\"}}}"
#define RELEASE_HEAD "{\"component\":\"c\",\"version\":\"1\",\"created_at\":1,"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Text seeds, with their length so they may hold any byte. */
#define T(s) s, sizeof(s) - 1
static const struct {
    int dirs;
    const char *name;
    const char *text;
    size_t len;
} texts[] = {
    {J | L, "golden-release.json", T(GOLDEN_RELEASE)},
    {J | R, "roster.json", T(ROSTER)},
    {R, "roster-min.json", T(ROSTER_MIN)},
    {R, "roster-no-holdback-pair.json", T(ROSTER_HEAD "\"members\":[" MEMBER_A "]}")},
    {R, "roster-operator-as-member.json",
     T(ROSTER_HEAD "\"members\":[{\"name\":\"a\",\"key\":\"" TEST_KEY "\","
       "\"endpoint\":\"tcp://a:1\",\"role\":\"relay\",\"flavour\":\"x\"}]}")},
    {R, "roster-duplicate-member.json",
     T(ROSTER_HEAD "\"members\":[" MEMBER_A "," MEMBER_A "]}")},
    {R, "roster-bad-key.json",
     T(ROSTER_HEAD "\"members\":[{\"name\":\"a\",\"key\":"
       "\"Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdd=\",\"endpoint\":\"tcp://a:1\","
       "\"role\":\"relay\",\"flavour\":\"x\"}]}")},
    {R, "roster-bad-endpoint.json",
     T(ROSTER_HEAD "\"members\":[{\"name\":\"a\",\"key\":\"" KEY_1 "\","
       "\"endpoint\":\"tcp://[::1:65536\",\"role\":\"relay\",\"flavour\":\"x\"}]}")},
    {R, "roster-empty-window.json",
     T(ROSTER_HEAD "\"members\":[" MEMBERS_OK "],\"policy\":{\"windows\":[{\"days\":"
       "[\"sun\",\"sun\"],\"start\":\"24:00\",\"end\":\"24:00\"}]}}")},
    {R, "roster-guard-over-length.json",
     T(ROSTER_HEAD "\"members\":[" MEMBERS_OK "],\"policy\":{\"epoch\":{\"length_s\":60}}}")},
    {R, "roster-quorum-over-operators.json",
     T(ROSTER_HEAD "\"emergency_quorum\":2,\"members\":[" MEMBERS_OK "]}")},
    {J | L, "release.json", T(RELEASE)},
    {L, "release-url.json",
     T(RELEASE_HEAD "\"artifacts\":{\"x\":{\"url\":\"file:///srv/a\",\"sha256\":\"" HEX64
       "\"}}}")},
    {L, "release-image-and-url.json",
     T(RELEASE_HEAD "\"artifacts\":{\"x\":{\"image\":\"a@sha256:" HEX64 "\","
       "\"url\":\"https://a\"}}}")},
    {L, "release-image-with-sha256.json",
     T(RELEASE_HEAD "\"artifacts\":{\"x\":{\"image\":\"a@sha256:" HEX64 "\","
       "\"sha256\":\"" HEX64 "\"}}}")},
    {L, "release-unpinned-image.json",
     T(RELEASE_HEAD "\"artifacts\":{\"x\":{\"image\":\"a:latest@sha256:0123\"}}}")},
    {L, "release-bad-flavour.json",
     T(RELEASE_HEAD "\"artifacts\":{\"X Y\":{\"url\":\"https://a\",\"sha256\":\"" HEX64
       "\"}}}")},
    {L, "release-not-before-created.json",
     T("{\"component\":\"c\",\"version\":\"1\",\"created_at\":5,\"not_before\":4,"
       "\"artifacts\":{}}")},
    {J, "getters.json",
     T("{\"a\":\"relay-1\",\"b\":-5,\"c\":9223372036854775807,\"d\":true,\"e\":null,"
       "\"f\":[1,2,3,4,5],\"g\":{\"h\":[{\"i\":\"x\"}]},\"j\":1.5,\"k\":\"\\u00e9\","
       "\"l\":\"Upper\"}")},
    {J, "frame.json", T("{\"fleet\":\"pool-a\",\"serial\":7,\"flag\":true}")},
    {J, "frame-bad-name.json", T("{\"fleet\":\"Pool A\",\"serial\":7}")},
    {J, "quote.json",
     T("{\"a\":\"tab\\there\\n\\u00ff\\u2028 and a long tail, longer than a quote may be\"}")},
    {J, "nested-8.json", T("{\"a\":[[[[[[[{\"b\":1}]]]]]]]}")},
    {J | R | L, "nested-9.json", T("{\"a\":[[[[[[[[{\"b\":1}]]]]]]]]}")},
    {J, "brackets-in-string.json", T("{\"a\":\"[[[[[[[[[[{{{{{{{{\\\"\",\"b\":[]}")},
    {J | R | L, "duplicate-key.json", T("{\"fleet\":\"a\",\"fleet\":\"b\"}")},
    {J | R | L, "duplicate-key-nested.json",
     T("{\"members\":[{\"name\":\"a\",\"name\":\"a\"}]}")},
    {J | R | L, "bad-utf8-overlong.json", T("{\"a\":\"\xc0\xaf\"}")},
    {J | R | L, "bad-utf8-surrogate.json", T("{\"a\":\"\xed\xa0\x80\"}")},
    {J | R | L, "bad-utf8-truncated.json", T("{\"a\":\"\xe2\x82")},
    {J | R | L, "bad-utf8-above-max.json", T("{\"a\":\"\xf4\x90\x80\x80\"}")},
    {J | R | L, "nul-byte.json", T("{\"a\":\"x\0y\"}")},
    {J | R | L, "nul-escape.json", T("{\"a\":\"x\\u0000y\"}")},
    {J | R | L, "top-level-array.json", T("[{\"a\":1}]")},
    {J | R | L, "trailing-garbage.json", T("{\"a\":1} {")},
    {J | R | L, "truncated.json", T("{\"component\":\"cardano-node\",\"vers")},
    {J | R | L, "empty.json", T("")},
    {J | R | L, "integer-overflow.json", T("{\"serial\":92233720368547758070}")},
    {J | R | L, "long-name.json",
     T("{\"fleet\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}")},
};
#undef T

static const char *dir_names[] = {[J] = "json", [R] = "roster", [L] = "release"};

static const char *root;

static void put(const char *dir, const char *name, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void key_n(stg_seckey_t *k, unsigned n) {
    uint8_t seed[STG_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(n * STG_SEED_BYTES + i);
    FUZZ_ASSERT(stg_seckey_from_seed(k, seed) == 0);
}

/* An envelope sealed by the test key and co-signed by nsig-1 more keys.
 * Caller owns the result (free()). */
static uint8_t *sealed(int type, const char *payload, unsigned nsig, size_t *len) {
    size_t plen = strlen(payload), cap = stg_envelope_size(plen, nsig);
    uint8_t *env = fuzz_seal(type, (const uint8_t *)payload, plen, len);
    FUZZ_ASSERT(env != NULL);
    env = realloc(env, cap);
    FUZZ_ASSERT(env != NULL);
    for (unsigned i = 1; i < nsig; i++) {
        stg_seckey_t k;
        key_n(&k, i);
        FUZZ_ASSERT(stg_envelope_cosign(env, len, cap, &k, NULL) == 0);
    }
    return env;
}

static void put_env(int dirs, const char *name, const uint8_t *env, size_t len) {
    put("envelope", name, env, len);
    for (int bit = R; bit <= L; bit <<= 1)
        if (dirs & bit) put(dir_names[bit], name, env, len);
}

/* Broken variants of one good envelope: each stops at another check. */
static void put_broken(const uint8_t *good, size_t len) {
    uint8_t *b = malloc(len + 1);
    FUZZ_ASSERT(b != NULL);
#define VARIANT(name, n, edit)                                  \
    do {                                                        \
        memcpy(b, good, len);                                   \
        b[len] = 0;                                             \
        edit;                                                   \
        put_env(R | L, name, b, n);                             \
    } while (0)
    VARIANT("truncated-header.env", 9, (void)0);
    VARIANT("truncated-signature.env", len - 1, (void)0);
    VARIANT("padded.env", len + 1, (void)0);
    VARIANT("bad-magic.env", len, b[0] = 'X');
    VARIANT("bad-version.env", len, b[3] = 2);
    VARIANT("bad-type-0.env", len, b[4] = 0);
    VARIANT("bad-type-6.env", len, b[4] = 6);
    VARIANT("other-type.env", len, b[4] = STG_DOC_ROSTER);
    VARIANT("nsig-0.env", len, b[5] = 0);
    VARIANT("nsig-9.env", len, b[5] = 9);
    VARIANT("oversized-header.env", len, memset(b + 6, 0xff, 4));
    VARIANT("payload-len-65537.env", len, (b[6] = 0, b[7] = 1, b[8] = 0, b[9] = 1));
    VARIANT("payload-len-0.env", len, memset(b + 6, 0, 4));
    VARIANT("bad-signature.env", len, b[len - 1] ^= 1);
    VARIANT("altered-payload.env", len, b[STG_ENV_HEADER] ^= 1);
#undef VARIANT
    free(b);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
        return 2;
    }
    root = argv[1];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (int bit = J; bit <= L; bit <<= 1)
            if (texts[i].dirs & bit) put(dir_names[bit], texts[i].name, texts[i].text, texts[i].len);

    size_t len;
    uint8_t *env = sealed(STG_DOC_RELEASE, GOLDEN_RELEASE, 1, &len);
    put_env(L, "golden-release.env", env, len);
    put_broken(env, len);
    free(env);

    env = sealed(STG_DOC_RELEASE, RELEASE, 2, &len);
    put_env(L, "release-cosigned.env", env, len);
    /* The same key twice: the second entry repeats the first. */
    env[5] = 2;
    memcpy(env + len - STG_ENV_SIG_ENTRY, env + len - 2 * STG_ENV_SIG_ENTRY, STG_ENV_SIG_ENTRY);
    put_env(L, "duplicate-signer.env", env, len);
    free(env);

    env = sealed(STG_DOC_ROSTER, ROSTER, 1, &len);
    put_env(R, "roster.env", env, len);
    free(env);
    env = sealed(STG_DOC_ROSTER, ROSTER_MIN, 1, &len);
    put_env(R, "roster-min.env", env, len);
    free(env);
    env = sealed(STG_DOC_ROSTER, ROSTER, STG_SIG_MAX, &len);
    put_env(R, "roster-8-signatures.env", env, len);
    free(env);

    static const int others[] = {STG_DOC_RECORD, STG_DOC_COMMAND};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.env", stg_doc_name(others[i]));
        env = sealed(others[i], "{}", 1, &len);
        put_env(0, name, env, len);
        free(env);
    }
    return 0;
}
