/* json.c: strict JSON for hostile input, on top of jansson.
 * Size is checked before parsing, duplicates are refused by jansson, depth
 * and unknown keys by us; every refusal names the field. */
#include <stdio.h>
#include <string.h>

#include "stagger/proto.h"

static bool utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { need = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { need = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { need = 3; cp = c & 0x07; }
        else return false;
        if (i + need >= n) return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static int depth_of(json_t *v, int lim) {
    if (lim < 0) return lim;
    int best = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            int dd = depth_of(c, lim - 1);
            if (dd < 0) return dd;
            if (dd > best) best = dd;
        }
        return best + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            int dd = depth_of(c, lim - 1);
            if (dd < 0) return dd;
            if (dd > best) best = dd;
        }
        return best + 1;
    }
    return 0;
}

json_t *stg_json_parse(const uint8_t *buf, size_t len, stg_diag_t *d) {
    if (len > STG_PAYLOAD_MAX) {
        stg_diag_set(d, STG_REJECT_TOO_LONG, "payload", "%zu bytes, at most %d", len,
                     STG_PAYLOAD_MAX);
        return NULL;
    }
    if (!utf8_ok(buf, len) || memchr(buf, 0, len)) {
        stg_diag_set(d, STG_REJECT_BAD_UTF8, "payload", "not valid UTF-8 text");
        return NULL;
    }
    /* A cheap bound before jansson recurses: count brackets. */
    int open = 0, maxopen = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = (char)buf[i];
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') { if (++open > maxopen) maxopen = open; }
        else if (c == '}' || c == ']') open--;
        if (maxopen > STG_JSON_DEPTH_MAX) {
            stg_diag_set(d, STG_REJECT_TOO_DEEP, "payload", "nested deeper than %d levels",
                         STG_JSON_DEPTH_MAX);
            return NULL;
        }
    }
    json_error_t err;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        bool dup = strstr(err.text, "duplicate") != NULL;
        stg_diag_set(d, dup ? STG_REJECT_DUPLICATE_FIELD : STG_REJECT_BAD_JSON, "payload",
                     "line %d column %d: %s", err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        stg_diag_set(d, STG_REJECT_WRONG_TYPE, "payload", "must be a JSON object");
        return NULL;
    }
    if (depth_of(root, STG_JSON_DEPTH_MAX) < 0) {
        json_decref(root);
        stg_diag_set(d, STG_REJECT_TOO_DEEP, "payload", "nested deeper than %d levels",
                     STG_JSON_DEPTH_MAX);
        return NULL;
    }
    return root;
}

void stg_path_key(stg_path_t *out, const char *base, const char *key) {
    if (base && *base) snprintf(out->s, sizeof out->s, "%s.%s", base, key);
    else snprintf(out->s, sizeof out->s, "%s", key);
}

void stg_path_idx(stg_path_t *out, const char *base, size_t idx) {
    snprintf(out->s, sizeof out->s, "%s[%zu]", base ? base : "", idx);
}

int stg_json_only(json_t *obj, const char *path, const char *const *allowed,
                  stg_diag_t *d) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) { ok = true; break; }
        if (!ok) {
            stg_path_t p;
            stg_path_key(&p, path, k);
            return stg_diag_set(d, STG_REJECT_UNKNOWN_FIELD, p.s,
                                "unknown field: remove it or check its spelling");
        }
    }
    return 0;
}

int stg_json_object_only(json_t *v, const char *path, const char *const *allowed,
                         stg_diag_t *d) {
    if (!json_is_object(v)) return stg_diag_set(d, STG_REJECT_WRONG_TYPE, path, "must be an object");
    return stg_json_only(v, path, allowed, d);
}

int stg_json_decode(const uint8_t *buf, size_t len, stg_json_decoder_t fn, void *out,
                    size_t size, stg_diag_t *d) {
    memset(out, 0, size);
    json_t *root = stg_json_parse(buf, len, d);
    if (!root) return STG_EREJECT;
    int rc = fn(root, out, d);
    json_decref(root);
    if (rc < 0) memset(out, 0, size);
    return rc;
}

static json_t *get(json_t *obj, const char *path, const char *key, bool required,
                   stg_path_t *p, int *rc, stg_diag_t *d) {
    stg_path_key(p, path, key);
    json_t *v = json_object_get(obj, key);
    *rc = 0;
    if (!v && required)
        *rc = stg_diag_set(d, STG_REJECT_MISSING_FIELD, p->s, "required field is missing");
    return v;
}

static int str_value(json_t *v, const char *where, char *out, size_t cap,
                     stg_diag_t *d) {
    if (!json_is_string(v))
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE, where, "must be a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (memchr(s, 0, n))
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, where, "must not contain NUL");
    if (n >= cap)
        return stg_diag_set(d, STG_REJECT_TOO_LONG, where, "%zu characters, at most %zu", n,
                            cap - 1);
    memcpy(out, s, n + 1);
    return 0;
}

int stg_json_str(json_t *obj, const char *path, const char *key, bool required,
                 char *out, size_t cap, stg_diag_t *d) {
    stg_path_t p;
    int rc;
    json_t *v = get(obj, path, key, required, &p, &rc, d);
    if (!v) return rc;
    return str_value(v, p.s, out, cap, d);
}

int stg_json_elem_str(json_t *arr, const char *path, size_t idx, char *out,
                      size_t cap, stg_diag_t *d) {
    stg_path_t p;
    stg_path_idx(&p, path, idx);
    json_t *v = json_array_get(arr, idx);
    if (!v) return stg_diag_set(d, STG_REJECT_MISSING_FIELD, p.s, "no such element");
    return str_value(v, p.s, out, cap, d);
}

int stg_json_int(json_t *obj, const char *path, const char *key, bool required,
                 int64_t min, int64_t max, int64_t *out, stg_diag_t *d) {
    stg_path_t p;
    int rc;
    json_t *v = get(obj, path, key, required, &p, &rc, d);
    if (!v) return rc;
    if (!json_is_integer(v))
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE, p.s, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, p.s, "%lld is outside %lld..%lld",
                            (long long)x, (long long)min, (long long)max);
    *out = x;
    return 0;
}

int stg_json_bool(json_t *obj, const char *path, const char *key, bool required,
                  bool *out, stg_diag_t *d) {
    stg_path_t p;
    int rc;
    json_t *v = get(obj, path, key, required, &p, &rc, d);
    if (!v) return rc;
    if (!json_is_boolean(v))
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE, p.s, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

int stg_json_array(json_t *obj, const char *path, const char *key, bool required,
                   size_t max_items, json_t **out, stg_diag_t *d) {
    stg_path_t p;
    int rc;
    *out = NULL;
    json_t *v = get(obj, path, key, required, &p, &rc, d);
    if (!v) return rc;
    if (!json_is_array(v)) return stg_diag_set(d, STG_REJECT_WRONG_TYPE, p.s, "must be an array");
    if (json_array_size(v) > max_items)
        return stg_diag_set(d, STG_REJECT_TOO_LONG, p.s, "%zu entries, at most %zu",
                            json_array_size(v), max_items);
    *out = v;
    return 0;
}

int stg_json_object(json_t *obj, const char *path, const char *key, bool required,
                    json_t **out, stg_diag_t *d) {
    stg_path_t p;
    int rc;
    *out = NULL;
    json_t *v = get(obj, path, key, required, &p, &rc, d);
    if (!v) return rc;
    if (!json_is_object(v)) return stg_diag_set(d, STG_REJECT_WRONG_TYPE, p.s, "must be an object");
    *out = v;
    return 0;
}

bool stg_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > STG_NAME_MAX) return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

int stg_name_check(const char *path, const char *s, stg_diag_t *d) {
    if (stg_name_ok(s)) return 0;
    char q[STG_QUOTE_MAX];
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, path,
                        "must be a name: 1..%d characters of a-z 0-9 . _ -, starting "
                        "with a letter or digit (got \"%s\")",
                        STG_NAME_MAX, stg_json_quote(s, q, sizeof q));
}

int stg_json_name(json_t *obj, const char *path, const char *key, bool required,
                  char out[STG_NAME_MAX + 1], stg_diag_t *d) {
    json_t *present = json_object_get(obj, key);
    int rc = stg_json_str(obj, path, key, required, out, STG_NAME_MAX + 1, d);
    if (rc < 0 || !present) return rc;
    stg_path_t p;
    stg_path_key(&p, path, key);
    return stg_name_check(p.s, out, d);
}

const char *stg_json_quote(const char *s, char *out, size_t cap) {
    if (cap == 0) return out;
    size_t n = strlen(s);
    bool cut = n >= cap;
    size_t keep = !cut ? n : cap > 4 ? cap - 4 : cap - 1;
    for (size_t i = 0; i < keep; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (cut && cap > 4) memcpy(out + keep, "...", 4);
    else out[keep] = '\0';
    return out;
}
