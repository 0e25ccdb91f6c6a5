/* fuzz_json.c: libFuzzer target for strict JSON: stg_json_parse, then every
 * typed getter on every key and element it accepted, the name and quoting
 * helpers on every string, and the stg_json_decode frame. */
#include <string.h>

#include "fuzz.h"

/* A sample of real schema names, so stg_json_only both passes and refuses. */
static const char *const known[] = {"fleet", "serial", "members", "name", "key",
                                    "version", "component", "flag", "a", NULL};

static void getters(json_t *obj, const char *path, const char *key) {
    stg_diag_t d;
    char s[STG_NAME_MAX + 1];
    int64_t i = 7;
    bool b = false;
    json_t *sub = NULL;

    if (fuzz_verdict(stg_json_str(obj, path, key, true, s, sizeof s, fuzz_diag(&d)), &d) == 0)
        FUZZ_ASSERT(strlen(s) == json_string_length(json_object_get(obj, key)));
    if (fuzz_verdict(stg_json_name(obj, path, key, true, s, fuzz_diag(&d)), &d) == 0)
        FUZZ_ASSERT(stg_name_ok(s));
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

/* Quoting hostile text: always terminated inside cap, printable ASCII. */
static void quote(const char *s) {
    static const size_t caps[] = {1, 2, 4, 5, 8, STG_QUOTE_MAX};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        char q[STG_QUOTE_MAX];
        stg_json_quote(s, q, caps[c]);
        fuzz_check_str(q, caps[c]);
        for (const char *p = q; *p; p++) FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f);
    }
}

static void string(json_t *v, const char *path) {
    const char *s = json_string_value(v);
    quote(s);
    stg_diag_t d;
    int rc = fuzz_verdict(stg_name_check(path, s, fuzz_diag(&d)), &d);
    FUZZ_ASSERT((rc == 0) == stg_name_ok(s));
}

static void elements(json_t *arr, const char *path) {
    stg_diag_t d;
    char s[STG_NAME_MAX + 1];
    size_t n = json_array_size(arr);
    for (size_t i = 0; i <= n; i++) {
        int rc = fuzz_verdict(stg_json_elem_str(arr, path, i, s, sizeof s, fuzz_diag(&d)), &d);
        if (i == n) FUZZ_ASSERT(rc == STG_EREJECT && d.reason == STG_REJECT_MISSING_FIELD);
        if (rc == 0) FUZZ_ASSERT(strlen(s) == json_string_length(json_array_get(arr, i)));
    }
}

static void walk(json_t *v, const char *path, int depth);

static void walk_object(json_t *obj, const char *path, int depth) {
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
    stg_diag_t d;
    fuzz_verdict(stg_json_object_only(v, path, known, fuzz_diag(&d)), &d);
    if (json_is_string(v)) string(v, path);
    if (json_is_object(v)) {
        walk_object(v, path, depth);
    } else if (json_is_array(v)) {
        elements(v, path);
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

/* A small document for the stg_json_decode frame. */
typedef struct {
    char fleet[STG_NAME_MAX + 1];
    int64_t serial;
    bool flag;
} doc_t;

static int decode_doc(json_t *root, void *out, stg_diag_t *d) {
    doc_t *doc = out;
    static const char *const fields[] = {"fleet", "serial", "flag", NULL};
    int rc = stg_json_only(root, "", fields, d);
    if (rc == 0) rc = stg_json_name(root, "", "fleet", true, doc->fleet, d);
    if (rc == 0) rc = stg_json_int(root, "", "serial", false, 1, INT64_MAX, &doc->serial, d);
    if (rc == 0) rc = stg_json_bool(root, "", "flag", false, &doc->flag, d);
    return rc;
}

/* On refusal the frame leaves nothing half-decoded behind. */
static void frame(const uint8_t *data, size_t size) {
    doc_t doc, zero;
    memset(&doc, 0xa5, sizeof doc);
    memset(&zero, 0, sizeof zero);
    stg_diag_t d;
    int rc = stg_json_decode(data, size, decode_doc, &doc, sizeof doc, fuzz_diag(&d));
    if (fuzz_verdict(rc, &d) == 0) FUZZ_ASSERT(stg_name_ok(doc.fleet));
    else FUZZ_ASSERT(memcmp(&doc, &zero, sizeof doc) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    frame(data, size);
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
