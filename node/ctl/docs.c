/* docs.c: the operator-signed documents: "roster sign|verify", "release
 * sign|verify" and "sign-add" (co-signing, for M-of-N collection).
 *
 * Signing decodes the JSON first, with the same strict decoder the daemon
 * uses, so a document the fleet would refuse is never signed; and it refuses
 * a key the fleet would not accept, so a wrong key is caught at the desk and
 * not after the document has been gossiped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static int missing_opt(const ctl_cmd_t *self, const char *opt) {
    ctl_err("%s: %s is required; usage: staggerctl %s", self->name, opt, self->usage);
    return CTL_USAGE;
}

static int not_operator(const char *in, const char *keypath, const stg_seckey_t *key,
                        const char *roster_path) {
    char fp[9];
    stg_pubkey_short(&key->pub, fp);
    if (!roster_path)
        ctl_err("%s: key %s... (%s) is not an operator of this roster; add its .pub to "
                "\"operators\" or sign with an operator key",
                in, fp, keypath);
    else
        ctl_err("%s: key %s... (%s) is not an operator of roster %s; sign with one of its "
                "operator keys, or add this key's .pub to the roster's \"operators\" and "
                "sign a new roster",
                in, fp, keypath, roster_path);
    return CTL_REFUSED;
}

/* Decode the JSON to be signed; a roster lands in r (its operators are the
 * allowed signers), a release is only checked. */
static int decode(int type, const char *in, const uint8_t *json, size_t len,
                  stg_roster_t *r) {
    stg_diag_t d = {0};
    stg_release_t rel;
    int rc = type == STG_DOC_ROSTER ? stg_roster_decode(json, len, r, &d)
                                    : stg_release_decode(json, len, &rel, &d);
    if (rc == 0) return CTL_OK;
    ctl_err("%s: %s", in, d.msg);
    return CTL_REFUSED;
}

/* Shared by "roster sign" and "release sign". roster_path is the signed
 * roster whose operators may sign a release; NULL for a roster, which names
 * its own operators. */
static int sign_doc(int type, const char *in, const char *keypath, const char *out,
                    const char *roster_path) {
    uint8_t *json = NULL, *env = NULL;
    size_t len = 0, envlen = 0;
    stg_seckey_t *key = NULL;
    char outbuf[4096];
    stg_roster_t *r = ctl_roster_new();
    int rc = r ? CTL_OK : CTL_SYSTEM;
    if (!rc && !out && (rc = ctl_default_out(in, outbuf, sizeof outbuf)) == 0) out = outbuf;
    if (!rc && roster_path) rc = ctl_open_roster(roster_path, NULL, r, NULL, NULL);
    if (!rc) rc = ctl_read(in, STG_PAYLOAD_MAX, &json, &len);
    if (!rc) rc = decode(type, in, json, len, r);
    if (!rc) rc = ctl_load_key(keypath, &key);
    if (!rc && !ctl_is_operator(r, &key->pub))
        rc = not_operator(in, keypath, key, roster_path);
    if (!rc) {
        envlen = stg_envelope_size(len, 1);
        env = malloc(envlen);
        if (!env || stg_envelope_seal(type, json, len, key, env, envlen, &envlen) != 0) {
            ctl_err("%s: cannot sign: out of memory or libsodium failure", in);
            rc = CTL_SYSTEM;
        }
    }
    if (!rc) rc = ctl_write(out, env, envlen);
    if (!rc) {
        char fp[9];
        stg_pubkey_short(&key->pub, fp);
        printf("%s: %s signed by %s...\n", out, stg_doc_name(type), fp);
    }
    stg_seckey_destroy(&key);
    free(env);
    free(json);
    free(r);
    return rc;
}

static int roster_sign(const ctl_cmd_t *self, int argc, char **argv) {
    const char *key = NULL, *out = NULL, *in;
    const ctl_opt_t opts[] = {{"key", 'k', &key, NULL}, {"output", 'o', &out, NULL}, {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &in, 1, &rc)) return rc;
    if (!key) return missing_opt(self, "--key");
    return sign_doc(STG_DOC_ROSTER, in, key, out, NULL);
}

static int release_sign(const ctl_cmd_t *self, int argc, char **argv) {
    const char *key = NULL, *out = NULL, *roster = NULL, *in;
    const ctl_opt_t opts[] = {{"key", 'k', &key, NULL},
                              {"roster", 'r', &roster, NULL},
                              {"output", 'o', &out, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &in, 1, &rc)) return rc;
    if (!key) return missing_opt(self, "--key");
    if (!roster) return missing_opt(self, "--roster");
    return sign_doc(STG_DOC_RELEASE, in, key, out, roster);
}

/* The JSON inside a verified envelope, exactly as signed. */
static void print_payload(const uint8_t *buf, size_t len) {
    stg_envelope_t env;
    if (stg_envelope_parse(buf, len, &env, NULL) != 0) return;
    fwrite(env.payload, 1, env.payload_len, stdout);
    if (env.payload[env.payload_len - 1] != '\n') putchar('\n');
}

/* From the one role list in doc.h, so it cannot drift; local because the
 * summary only needs the text. */
static const char *const role_names[] = {
#define X(name, text, stage) text,
    STG_ROLE_MAP(X)
#undef X
};

static void roster_summary(const char *path, const uint8_t *buf, size_t len,
                           const stg_roster_t *r) {
    unsigned roles[STG_ROLE__COUNT] = {0};
    for (unsigned i = 0; i < r->nmembers; i++)
        if ((unsigned)r->members[i].role < STG_ROLE__COUNT) roles[r->members[i].role]++;
    char signers[256];
    ctl_signers(buf, len, signers, sizeof signers);
    printf("%s: valid roster: fleet %s, serial %lld, %u members (", path, r->fleet,
           (long long)r->serial, r->nmembers);
    for (int i = 0; i < STG_ROLE__COUNT; i++)
        printf("%s%u %s", i ? ", " : "", roles[i], role_names[i]);
    printf("), %u operator(s), emergency quorum %u, signed by %s\n", r->noperators,
           r->emergency_quorum, signers);
    /* The order a rollout takes: stage by stage, the holdback pair last. */
    printf("  update order:");
    for (int stage = 1, first = 1; stage <= 9; stage++) {
        bool any = false;
        for (unsigned i = 0; i < r->nmembers; i++) {
            const stg_member_t *m = &r->members[i];
            if (m->holdback || m->stage != stage) continue;
            if (any) printf(", %s", m->name);
            else printf("%s stage %d: %s", first ? "" : ";", stage, m->name);
            any = true;
            first = 0;
        }
    }
    printf("\n  holdback (last, after the proof):");
    bool none = true;
    for (unsigned i = 0; i < r->nmembers; i++)
        if (r->members[i].holdback) {
            printf("%s %s", none ? "" : ",", r->members[i].name);
            none = false;
        }
    printf("%s\n", none ? " none" : "");
}

static int roster_verify(const ctl_cmd_t *self, int argc, char **argv) {
    const char *current = NULL, *in;
    bool print = false;
    const ctl_opt_t opts[] = {{"print", 'p', NULL, &print}, {"current", 'c', &current, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &in, 1, &rc)) return rc;
    stg_roster_t *old = NULL, *r = ctl_roster_new();
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = r ? CTL_OK : CTL_SYSTEM;
    if (!rc && current) {
        old = ctl_roster_new();
        rc = old ? ctl_open_roster(current, NULL, old, NULL, NULL) : CTL_SYSTEM;
    }
    if (!rc) rc = ctl_open_roster(in, old, r, &buf, &len);
    if (!rc && print) print_payload(buf, len);
    if (!rc && !print) roster_summary(in, buf, len, r);
    free(buf);
    free(old);
    free(r);
    return rc;
}

static void release_summary(const char *path, const uint8_t *buf, size_t len,
                            const stg_release_t *rel, const stg_roster_t *r) {
    char created[32] = "?", signers[256];
    time_t t = (time_t)rel->created_at_s;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ctl_signers(buf, len, signers, sizeof signers);
    printf("%s: valid release: %s %s, created %s, flavours", path, rel->component,
           rel->version, created);
    for (unsigned i = 0; i < rel->nartifacts; i++)
        printf("%s %s", i ? "," : "", rel->artifacts[i].flavour);
    printf(", signed by %s (operator of fleet %s, roster serial %lld)\n", signers, r->fleet,
           (long long)r->serial);
}

static int release_verify(const ctl_cmd_t *self, int argc, char **argv) {
    const char *roster = NULL, *in;
    bool print = false;
    const ctl_opt_t opts[] = {{"print", 'p', NULL, &print}, {"roster", 'r', &roster, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &in, 1, &rc)) return rc;
    if (!roster) return missing_opt(self, "--roster");
    stg_roster_t *r = ctl_roster_new();
    uint8_t *buf = NULL;
    size_t len = 0;
    stg_release_t rel;
    stg_diag_t d = {0};
    rc = r ? ctl_open_roster(roster, NULL, r, NULL, NULL) : CTL_SYSTEM;
    if (!rc) rc = ctl_read(in, CTL_SIGNED_MAX, &buf, &len);
    if (!rc && stg_release_open(buf, len, r, &rel, &d) != 0) rc = ctl_refused(in, "release", &d);
    if (!rc && print) print_payload(buf, len);
    if (!rc && !print) release_summary(in, buf, len, &rel, r);
    free(buf);
    free(r);
    return rc;
}

/* The operators allowed to co-sign env: those of --roster when given, else
 * a roster's own. */
static int cosigners(const ctl_cmd_t *self, const char *in, const char *roster,
                     const stg_envelope_t *env, stg_roster_t *r) {
    if (roster) return ctl_open_roster(roster, NULL, r, NULL, NULL);
    if (env->type != STG_DOC_ROSTER) {
        ctl_err("%s: %s is a %s: pass --roster roster.signed so the key can be checked "
                "against its operators",
                self->name, in, stg_doc_name(env->type));
        return CTL_USAGE;
    }
    stg_diag_t d = {0};
    if (stg_roster_decode(env->payload, env->payload_len, r, &d) != 0)
        return ctl_refused(in, "roster", &d);
    return CTL_OK;
}

static int sign_add(const ctl_cmd_t *self, int argc, char **argv) {
    const char *key = NULL, *out = NULL, *roster = NULL, *in;
    const ctl_opt_t opts[] = {{"key", 'k', &key, NULL},
                              {"roster", 'r', &roster, NULL},
                              {"output", 'o', &out, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, &in, 1, &rc)) return rc;
    if (!key) return missing_opt(self, "--key");
    if (!out) out = in;
    uint8_t *file = NULL, *buf = NULL;
    size_t len = 0;
    stg_seckey_t *k = NULL;
    stg_envelope_t env;
    stg_diag_t d = {0};
    stg_roster_t *r = ctl_roster_new();
    rc = r ? ctl_read(in, CTL_SIGNED_MAX, &file, &len) : CTL_SYSTEM;
    /* Room for one more signature; the envelope is parsed from this copy. */
    if (!rc && !(buf = malloc(len + STG_ENV_SIG_ENTRY))) rc = CTL_SYSTEM;
    if (!rc) memcpy(buf, file, len);
    if (!rc && stg_envelope_parse(buf, len, &env, &d) != 0) rc = ctl_refused(in, "document", &d);
    if (!rc) rc = cosigners(self, in, roster, &env, r);
    if (!rc) rc = ctl_load_key(key, &k);
    if (!rc && !ctl_is_operator(r, &k->pub)) rc = not_operator(in, key, k, roster);
    /* Never add a signature to a document whose other signatures fail: it
     * would lend weight to something altered. */
    if (!rc && stg_envelope_verify(&env, r->operators, r->noperators, 1, NULL, &d) != 0) {
        ctl_err("%s: not co-signing: %s", in, d.msg);
        rc = CTL_REFUSED;
    }
    if (!rc && stg_envelope_cosign(buf, &len, len + STG_ENV_SIG_ENTRY, k, &d) != 0) {
        ctl_err("%s: cannot add a signature: %s", in, d.msg);
        rc = CTL_REFUSED;
    }
    if (!rc) rc = ctl_write(out, buf, len);
    if (!rc) {
        char signers[256];
        ctl_signers(buf, len, signers, sizeof signers);
        printf("%s: signed by %s\n", out, signers);
    }
    stg_seckey_destroy(&k);
    free(buf);
    free(file);
    free(r);
    return rc;
}

#define EX_ROSTER "roster.signed"

const ctl_cmd_t ctl_roster_sign_cmd = {
    .name = "roster sign",
    .summary = "check a roster.json and sign it with an operator key",
    .usage = "roster sign --key OP.key [-o OUT] roster.json",
    .text = "Decode roster.json with the same strict rules the daemons use, check that\n"
            "the key is one of its \"operators\", and write the signed roster (the exact\n"
            "bytes of the file, sealed in a stagger envelope) to OUT.\n\n"
            "options:\n"
            "  -k, --key FILE     operator secret key (mode 0600)\n"
            "  -o, --output OUT   where to write; default roster.json -> roster.signed\n"
            "  -h, --help         show this help",
    .example = "staggerctl roster sign --key ops.key roster.json",
    .run = roster_sign,
};

const ctl_cmd_t ctl_roster_verify_cmd = {
    .name = "roster verify",
    .summary = "check a signed roster and summarise it",
    .usage = "roster verify [--print] [--current OLD.signed] " EX_ROSTER,
    .text = "Check the envelope, that it is signed by the roster's own operators and\n"
            "that the roster is valid, then print a one-line summary. With --current,\n"
            "also check it may replace the roster the fleet holds: same fleet, higher\n"
            "serial, signed by an operator of the current roster.\n\n"
            "options:\n"
            "  -p, --print          print the roster JSON exactly as signed\n"
            "  -c, --current FILE   the signed roster it would replace\n"
            "  -h, --help           show this help",
    .example = "staggerctl roster verify --current roster-41.signed roster-42.signed",
    .run = roster_verify,
};

const ctl_cmd_t ctl_release_sign_cmd = {
    .name = "release sign",
    .summary = "check a release.json and sign it with an operator key",
    .usage = "release sign --key OP.key --roster " EX_ROSTER " [-o OUT] release.json",
    .text = "Decode release.json strictly, check that the key is an operator of the\n"
            "signed roster, and write the signed release to OUT.\n\n"
            "options:\n"
            "  -k, --key FILE      operator secret key (mode 0600)\n"
            "  -r, --roster FILE   the fleet's signed roster\n"
            "  -o, --output OUT    where to write; default release.json -> release.signed\n"
            "  -h, --help          show this help",
    .example = "staggerctl release sign --key ops.key --roster roster.signed release.json",
    .run = release_sign,
};

const ctl_cmd_t ctl_release_verify_cmd = {
    .name = "release verify",
    .summary = "check a signed release against the roster",
    .usage = "release verify --roster " EX_ROSTER " [--print] release.signed",
    .text = "Check the signed roster, then that the release is signed by one of its\n"
            "operators and is valid; print a one-line summary.\n\n"
            "options:\n"
            "  -r, --roster FILE   the fleet's signed roster\n"
            "  -p, --print         print the release JSON exactly as signed\n"
            "  -h, --help          show this help",
    .example = "staggerctl release verify --roster roster.signed release.signed",
    .run = release_verify,
};

const ctl_cmd_t ctl_sign_add_cmd = {
    .name = "sign-add",
    .summary = "add an operator's signature to a signed document (M of N)",
    .usage = "sign-add --key OP.key [--roster " EX_ROSTER "] [-o OUT] FILE.signed",
    .text = "Co-sign: check that the key is an operator and that every signature\n"
            "already on the document verifies, then add this key's signature. A roster\n"
            "is checked against its own operators; any other document needs --roster.\n"
            "The file is replaced in place unless -o is given.\n\n"
            "options:\n"
            "  -k, --key FILE      operator secret key (mode 0600)\n"
            "  -r, --roster FILE   the signed roster whose operators may sign\n"
            "  -o, --output OUT    where to write; default FILE.signed itself\n"
            "  -h, --help          show this help",
    .example = "staggerctl sign-add --key ops2.key roster.signed",
    .run = sign_add,
};
