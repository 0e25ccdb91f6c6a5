/* test_keyfile.c: the key file format of docs/protocol.md §1, read strictly:
 * 44 base64 characters, then nothing, "\n" or "\r\n"; any other ending, a
 * non-canonical spelling, an unsafe mode or a symbolic link is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "stagger/keyfile.h"

/* The golden key of docs/protocol.md §2.2: seed 00 01 .. 1f. */
#define SEED_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define PUB_B64 "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/stg-keyfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char path[128];
    const char *names[] = {"k", "link"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static const char *put(const char *text, size_t len, int mode) {
    static char path[128];
    snprintf(path, sizeof path, "%s/k", dir);
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
    return path;
}

/* Every ending §1 allows, and the ones it does not. The key text is the
 * same in each; only what follows (or precedes) it changes. */
static const struct {
    const char *tail; /* after the 44 characters */
    const char *head; /* before them */
    int ok;
} cases[] = {
    {"", "", 1},          {"\n", "", 1},       {"\r\n", "", 1},
    {"\n\n", "", 0},      {"\r", "", 0},       {"\n\r\n", "", 0},
    {"\r\n\n", "", 0},    {"\r\r\n", "", 0},   {"\n\r", "", 0},
    {" ", "", 0},         {" \n", "", 0},      {"\t\n", "", 0},
    {"\nx", "", 0},       {"\n" SEED_B64, "", 0},
    {"\n", " ", 0},       {"\n", "\n", 0},     {"", "\xef\xbb\xbf", 0}, /* a BOM */
};

/* The key-file text, bytes in (proto's pure decoder): every ending, for a
 * seed and for a public key alike. */
static void endings_decode(void **state) {
    (void)state;
    for (int secret = 0; secret < 2; secret++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *key = secret ? SEED_B64 : PUB_B64;
            char text[256], back[STG_KEY_B64_LEN + 1];
            uint8_t raw[32];
            int n = snprintf(text, sizeof text, "%s%s%s", cases[i].head, key, cases[i].tail);
            int rc = stg_key_text_decode((const uint8_t *)text, (size_t)n, raw);
            if (cases[i].ok != (rc == 0))
                fail_msg("%s key, case %zu %s", secret ? "secret" : "public", i,
                         rc == 0 ? "accepted" : "refused");
            if (rc != 0) continue;
            sodium_bin2base64(back, sizeof back, raw, 32, sodium_base64_VARIANT_ORIGINAL);
            assert_string_equal(back, key);
        }
    }
}

/* The same endings from a secret key file: its public key, or a message
 * naming the file and the expected shape. */
static void endings_file(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], pub[STG_KEY_B64_LEN + 1], err[512] = "";
        int n = snprintf(text, sizeof text, "%s%s%s", cases[i].head, SEED_B64, cases[i].tail);
        const char *path = put(text, (size_t)n, 0600);
        stg_seckey_t *sk = NULL;
        int rc = stg_seckey_load(path, &sk, err, sizeof err);
        if (cases[i].ok && rc != 0) fail_msg("case %zu refused: %s", i, err);
        if (!cases[i].ok && rc == 0) fail_msg("case %zu accepted", i);
        if (rc == 0) {
            stg_pubkey_to_b64(&sk->pub, pub);
            stg_seckey_destroy(&sk);
            assert_null(sk);
            assert_string_equal(pub, PUB_B64);
        } else {
            assert_null(sk);
            assert_non_null(strstr(err, path));
            assert_non_null(strstr(err, "at most one line ending"));
        }
    }
}

/* Only the canonical spelling: the last character before "=" carries two
 * unused bits, which must be zero ("...Hh8=" and not "...Hh9="), and the
 * padding must be there. */
static void canonical_only(void **state) {
    (void)state;
    static const char *bad[] = {
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", /* unused bits set */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",  /* no padding (43) */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A\n", /* 44, no padding */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=\n", /* URL alphabet */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH h8=\n", /* a space inside */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = put(bad[i], strlen(bad[i]), 0600);
        stg_seckey_t *k = NULL;
        char err[512] = "";
        if (stg_seckey_load(path, &k, err, sizeof err) == 0) {
            stg_seckey_destroy(&k);
            fail_msg("non-canonical seed %zu accepted", i);
        }
    }
}

static void unsafe_files(void **state) {
    (void)state;
    const char *path = put(SEED_B64 "\n", STG_KEY_B64_LEN + 1, 0640);
    stg_seckey_t *k = NULL;
    char err[512] = "";
    assert_int_equal(stg_seckey_load(path, &k, err, sizeof err), STG_EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    char link[128];
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(stg_seckey_load(link, &k, err, sizeof err), -ELOOP);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(stg_seckey_load(path, &k, err, sizeof err), 0);
    stg_seckey_destroy(&k);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endings_decode),
        cmocka_unit_test(endings_file),
        cmocka_unit_test(canonical_only),
        cmocka_unit_test(unsafe_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
