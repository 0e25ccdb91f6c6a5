/* release.c: the release codec: one operator-signed manifest naming a
 * version and, per flavour, an artifact pinned by digest, so a node installs
 * exactly the bytes the operator signed (docs/protocol.md §5). */
#include <string.h>

#include "stagger/doc.h"

#define TIME_MAX_S 9007199254740992LL /* 2^53: exact in every JSON reader */
#define DIGEST_PREFIX "@sha256:"

static const char *const RELEASE_FIELDS[] = {"component", "version",   "created_at",
                                             "not_before", "artifacts", NULL};
static const char *const ARTIFACT_FIELDS[] = {"image", "url", "sha256", NULL};

bool stg_sha256_hex_ok(const char *s) {
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* An image reference NAME@sha256:<64 hex>: a tag alone can be moved, a
 * digest cannot. NAME is registry/path[:tag] in the usual characters. */
static bool image_ok(const char *s) {
    const char *at = strstr(s, DIGEST_PREFIX);
    if (!at || at == s) return false;
    size_t n = (size_t)(at - s);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:-") != n)
        return false;
    return stg_sha256_hex_ok(at + strlen(DIGEST_PREFIX));
}

static bool url_ok(const char *s) {
    static const char *const schemes[] = {"https://", "http://", "file://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t k = strlen(schemes[i]);
        if (strncmp(s, schemes[i], k) != 0 || s[k] == '\0') continue;
        for (const char *c = s + k; *c; c++)
            if (*c <= 0x20 || *c >= 0x7f) return false;
        return true;
    }
    return false;
}

static int artifact(json_t *v, const char *path, stg_artifact_t *a, stg_diag_t *d) {
    int rc = stg_json_object_only(v, path, ARTIFACT_FIELDS, d);
    if (rc < 0) return rc;
    bool has_image = json_object_get(v, "image"), has_url = json_object_get(v, "url");
    if (has_image == has_url)
        return stg_diag_set(d, has_image ? STG_REJECT_BAD_VALUE : STG_REJECT_MISSING_FIELD,
                            path, "needs exactly one of image or url");
    stg_path_t p;
    char q[STG_QUOTE_MAX];
    if (has_image) {
        stg_path_key(&p, path, "image");
        if ((rc = stg_json_str(v, path, "image", true, a->image, sizeof a->image, d)) < 0)
            return rc;
        if (!image_ok(a->image))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                                "must be pinned by digest: NAME@sha256: and 64 lowercase "
                                "hex digits (got \"%s\")",
                                stg_json_quote(a->image, q, sizeof q));
        stg_path_key(&p, path, "sha256");
        if (json_object_get(v, "sha256"))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                                "an image carries its digest in the reference: remove sha256");
        memcpy(a->sha256, a->image + strlen(a->image) - 64, 65);
        return 0;
    }
    stg_path_key(&p, path, "url");
    if ((rc = stg_json_str(v, path, "url", true, a->url, sizeof a->url, d)) < 0) return rc;
    if (!url_ok(a->url))
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "must start with https://, http:// or file:// and contain no "
                            "spaces (got \"%s\")",
                            stg_json_quote(a->url, q, sizeof q));
    /* Read more than 64 so a wrong length gets the same advice. */
    char hex[128];
    stg_path_key(&p, path, "sha256");
    if ((rc = stg_json_str(v, path, "sha256", true, hex, sizeof hex, d)) < 0) return rc;
    if (!stg_sha256_hex_ok(hex))
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "must be the SHA-256 of the file: 64 lowercase hex digits "
                            "(got \"%s\")",
                            stg_json_quote(hex, q, sizeof q));
    memcpy(a->sha256, hex, sizeof a->sha256);
    return 0;
}

static int artifacts(json_t *root, stg_release_t *rel, stg_diag_t *d) {
    json_t *arts;
    int rc = stg_json_object(root, "", "artifacts", true, &arts, d);
    if (rc < 0) return rc;
    size_t n = json_object_size(arts);
    if (n < 1 || n > STG_FLAVOURS_MAX)
        return stg_diag_set(d, n ? STG_REJECT_TOO_LONG : STG_REJECT_TOO_SHORT, "artifacts",
                            "%zu flavours, give 1..%d", n, STG_FLAVOURS_MAX);
    const char *flavour;
    json_t *v;
    json_object_foreach(arts, flavour, v) {
        stg_path_t p;
        stg_path_key(&p, "artifacts", flavour);
        if ((rc = stg_name_check(p.s, flavour, d)) < 0) return rc;
        stg_artifact_t *a = &rel->artifacts[rel->nartifacts];
        strcpy(a->flavour, flavour); /* fits: stg_name_check bounds it */
        if ((rc = artifact(v, p.s, a, d)) < 0) return rc;
        rel->nartifacts++;
    }
    return 0;
}

static int release(json_t *root, void *out, stg_diag_t *d) {
    stg_release_t *rel = out;
    int rc;
    if ((rc = stg_json_only(root, "", RELEASE_FIELDS, d)) < 0 ||
        (rc = stg_json_name(root, "", "component", true, rel->component, d)) < 0 ||
        (rc = stg_json_str(root, "", "version", true, rel->version, sizeof rel->version,
                           d)) < 0)
        return rc;
    size_t vlen = strlen(rel->version);
    if (vlen == 0 ||
        strspn(rel->version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789.+_~-") != vlen) {
        char q[STG_QUOTE_MAX];
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, "version",
                            "must be 1..%d characters of A-Z a-z 0-9 . + _ ~ - (got \"%s\")",
                            STG_VERSION_MAX, stg_json_quote(rel->version, q, sizeof q));
    }
    if ((rc = stg_json_int(root, "", "created_at", true, 0, TIME_MAX_S, &rel->created_at_s,
                           d)) < 0 ||
        (rc = stg_json_int(root, "", "not_before", false, rel->created_at_s, TIME_MAX_S,
                           &rel->not_before_s, d)) < 0)
        return rc;
    return artifacts(root, rel, d);
}

int stg_release_decode(const uint8_t *json, size_t len, stg_release_t *rel, stg_diag_t *d) {
    return stg_json_decode(json, len, release, rel, sizeof *rel, d);
}

int stg_release_open(const uint8_t *buf, size_t len, const stg_roster_t *r,
                     stg_release_t *rel, stg_diag_t *d) {
    memset(rel, 0, sizeof *rel);
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, len, &env, d);
    if (rc < 0) return rc;
    if (env.type != STG_DOC_RELEASE)
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE_DOC, "envelope",
                            "holds a %s, expected a release", stg_doc_name(env.type));
    /* Signature first: the parser never sees bytes no operator signed. */
    if ((rc = stg_envelope_verify(&env, r->operators, r->noperators, 1, NULL, d)) < 0)
        return rc;
    return stg_release_decode(env.payload, env.payload_len, rel, d);
}

const stg_artifact_t *stg_release_artifact(const stg_release_t *rel, const char *flavour) {
    for (unsigned i = 0; i < rel->nartifacts; i++)
        if (strcmp(rel->artifacts[i].flavour, flavour) == 0) return &rel->artifacts[i];
    return NULL;
}
