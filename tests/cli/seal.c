/* seal.c: test helper that seals any payload with any key, bypassing every
 * check staggerctl makes, so tests can build documents it would refuse to
 * sign (non-operator signer, invalid roster) and prove verify refuses them.
 * usage: seal TYPE KEY PAYLOAD OUT   (TYPE = roster, release, ...) */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "stagger/keyfile.h"

int main(int argc, char **argv) {
    if (argc != 5 || sodium_init() < 0) {
        fprintf(stderr, "usage: seal TYPE KEY PAYLOAD OUT\n");
        return 2;
    }
    int type = stg_doc_from_name(argv[1]);
    char err[512];
    stg_seckey_t *k = NULL;
    uint8_t *payload = NULL, *env = NULL;
    size_t len = 0, envlen = 0;
    int rc = type ? 0 : STG_EINVAL;
    snprintf(err, sizeof err, "unknown document type %s", argv[1]);
    if (rc == 0) rc = stg_seckey_load(argv[2], &k, err, sizeof err);
    if (rc == 0) rc = stg_file_read(argv[3], STG_PAYLOAD_MAX, &payload, &len, err, sizeof err);
    if (rc == 0) {
        envlen = stg_envelope_size(len, 1);
        env = malloc(envlen);
        rc = env ? stg_envelope_seal(type, payload, len, k, env, envlen, &envlen) : STG_ENOSPACE;
        snprintf(err, sizeof err, "%s", stg_strerror(rc));
    }
    if (rc == 0 && (rc = stg_file_write_atomic(argv[4], env, envlen, 0644)) != 0)
        snprintf(err, sizeof err, "%s: %s", argv[4], stg_strerror(rc));
    if (rc != 0) fprintf(stderr, "seal: %s\n", err);
    stg_seckey_destroy(&k);
    free(payload);
    free(env);
    return rc == 0 ? 0 : 1;
}
