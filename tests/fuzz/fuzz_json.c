/* fuzz_json.c: libFuzzer target for strict JSON: stg_json_parse, then every
 * typed getter on every key of every object it accepted. */
#include <string.h>

#include "fuzz.h"

/* A sample of real schema names, so stg_json_only both passes and refuses. */
static const char *const known[] = {"fleet", "serial", "members", "name", "key",
                                    "version", "component", "a", NULL};

static void getters(json_t *obj, const char *path, const char *key) {
    stg_diag_t d;
    char s[STG_NAME_MAX + 1];
    int64_t i = 7;
    bool b = false;
    json_t *sub = NULL;

    if (fuzz_verdict(stg_json_str(obj, path, key, true, s, sizeof s, fuzz_diag(&d)), &d) == 0) {
        FUZZ_ASSERT(strlen(s) == json_string_length(json_object_get(obj, key)));
        (void)stg_name_ok(s);
    }
    fuzz_verdict(stg_json_int(obj, path, key, true, -1000, 1000, &i, fuzz_diag(&d)), &d);
    FUZZ_ASSERT(i >= -1000 && i <= 1000);
    fuzz_verdict(stg_json_int(obj, path, key, true, INT64_MIN, INT64_MAX, &i, fuzz_diag(&d)), &d);
    fuzz_verdict(stg_json_bool(obj, path, key, true, &b, fuzz_diag(&d)), &d);
    int rc = fuzz_verdict(stg_json_array(obj, path, key, true, 4, &sub, fuzz_diag(&d)), &d);
    FUZZ_ASSERT(rc == 0 ? json_array_size(sub) <= 4 : sub == NULL);
    rc = fuzz_verdict(stg_json_object(obj, path, key, true, &sub, fuzz_diag(&d)), &d);
    FUZZ_ASSERT(rc == 0 ? json_is_object(sub) : sub == NULL);
}

/* An optional field that is absent leaves the output alone. */
static void absent(json_t *obj, const char *path) {
    static const char *const missing = "\x01 not a key";
    if (json_object_get(obj, missing)) return;
    stg_diag_t d;
    char s[8] = "keep";
    int64_t i = 7;
    bool b = true;
    fuzz_diag(&d);
    FUZZ_ASSERT(stg_json_str(obj, path, missing, false, s, sizeof s, &d) == 0);
    FUZZ_ASSERT(stg_json_int(obj, path, missing, false, 0, 1, &i, &d) == 0);
    FUZZ_ASSERT(stg_json_bool(obj, path, missing, false, &b, &d) == 0);
    FUZZ_ASSERT(strcmp(s, "keep") == 0 && i == 7 && b);
    FUZZ_ASSERT(stg_json_str(obj, path, missing, true, s, sizeof s, &d) == STG_EREJECT);
    FUZZ_ASSERT(d.reason == STG_REJECT_MISSING_FIELD);
}

static void walk(json_t *v, const char *path, int depth);

static void walk_object(json_t *obj, const char *path, int depth) {
    stg_diag_t d;
    fuzz_verdict(stg_json_only(obj, path, known, fuzz_diag(&d)), &d);
    absent(obj, path);
    const char *k;
    json_t *c;
    json_object_foreach(obj, k, c) {
        getters(obj, path, k);
        stg_path_t p;
        stg_path_key(&p, path, k);
        fuzz_check_str(p.s, sizeof p.s);
        walk(c, p.s, depth + 1);
    }
}

static void walk(json_t *v, const char *path, int depth) {
    /* stg_json_parse promises this bound; the walk relies on it. */
    FUZZ_ASSERT(depth <= STG_JSON_DEPTH_MAX);
    if (json_is_object(v)) {
        walk_object(v, path, depth);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            stg_path_t p;
            stg_path_idx(&p, path, i);
            fuzz_check_str(p.s, sizeof p.s);
            walk(c, p.s, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stg_diag_t d;
    json_t *root = stg_json_parse(data, size, fuzz_diag(&d));
    if (!root) {
        fuzz_verdict(STG_EREJECT, &d);
        return 0;
    }
    FUZZ_ASSERT(json_is_object(root));
    walk(root, "", 0);
    json_decref(root);
    return 0;
}
