/* keygen.c: "staggerctl keygen NAME", a new Ed25519 identity as NAME.key
 * (the seed, 0600) and NAME.pub, for an operator, an observer or a node. */
#include <stdio.h>

#include "ctl.h"

static int run(const ctl_cmd_t *self, int argc, char **argv) {
    static const ctl_opt_t opts[] = {{0}};
    const char *name;
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &name, 1, &rc)) return rc;
    stg_pubkey_t pub;
    char err[512];
    if (stg_keygen_files(name, &pub, err, sizeof err) != 0) {
        ctl_err("%s", err);
        return CTL_SYSTEM;
    }
    char b64[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(&pub, b64);
    /* Only the key on stdout, so scripts can capture it. */
    printf("%s\n", b64);
    return CTL_OK;
}

const ctl_cmd_t ctl_keygen_cmd = {
    .name = "keygen",
    .summary = "make a key pair NAME.key (secret) and NAME.pub",
    .usage = "keygen NAME",
    .text = "Make a new Ed25519 identity: NAME.key holds the secret seed (mode 0600;\n"
            "keep operator keys offline), NAME.pub the public key, which goes into\n"
            "the roster. Prints the public key. Never overwrites an existing key.\n\n"
            "options:\n"
            "  -h, --help   show this help",
    .example = "staggerctl keygen ops        # writes ops.key and ops.pub",
    .run = run,
};
