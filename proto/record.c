/* record.c: a node's signed state record: JSON payload codec and the
 * end-to-end check that the signer is the node the record names. */
#include <stdio.h>
#include <string.h>

#include "stagger/record.h"

#define INT53 ((int64_t)1 << 53)

static const char *const health_names[] = {
#define X(name, text) text,
    STG_HEALTH_MAP(X)
#undef X
};

static const char *const phase_names[] = {
#define X(name, text) text,
    STG_PHASE_MAP(X)
#undef X
};

static const char *const cap_names[] = {
#define X(name, text) text,
    STG_CAP_MAP(X)
#undef X
};

/* The name of entry i of names[0..n), or "unknown"; and the position of s
 * there, or -1. */
static const char *name_at(const char *const *names, int n, int i) {
    return i >= 0 && i < n ? names[i] : "unknown";
}

static int name_index(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

const char *stg_health_name(stg_health_t h) {
    return name_at(health_names, STG_HEALTH__COUNT, (int)h);
}
const char *stg_phase_name(stg_phase_t p) { return name_at(phase_names, STG_PHASE__COUNT, (int)p); }
int stg_phase_from_name(const char *s) { return name_index(phase_names, STG_PHASE__COUNT, s); }
const char *stg_cap_name(stg_cap_t c) { return name_at(cap_names, STG_CAP__COUNT, (int)c); }
int stg_cap_from_name(const char *s) { return name_index(cap_names, STG_CAP__COUNT, s); }

/* caps (§7.3): names, at most STG_CAPS_MAX of them, none twice. Those this
 * build knows become bits; a newer staggerd's others are checked the same
 * way, then left out: nothing here can use them. */
static int caps_decode(json_t *a, stg_caps_t *caps, stg_diag_t *d) {
    for (size_t k = 0; k < json_array_size(a); k++) {
        char name[STG_CAP_NAME_MAX + 1];
        stg_path_t p;
        stg_path_idx(&p, "record.caps", k);
        int rc = stg_json_elem_str(a, "record.caps", k, name, sizeof name, d);
        if (!rc) rc = stg_name_check(p.s, name, d);
        for (size_t j = 0; !rc && j < k; j++)
            if (strcmp(json_string_value(json_array_get(a, j)), name) == 0)
                rc = stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s, "\"%s\" is listed twice",
                                  name);
        if (rc) return rc;
        int c = stg_cap_from_name(name);
        if (c >= 0) *caps |= STG_CAPS_OF(c);
    }
    return 0;
}

static bool tip_hash_ok(const char *h) {
    size_t n = strlen(h);
    return n >= 16 && n <= 64 && strspn(h, "0123456789abcdef") == n;
}

/* Decimal digits up to `stop`, below 2^53, into *v; the rest after stop. */
static const char *number(const char *s, char stop, int64_t *v) {
    *v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        *v = *v * 10 + (*p - '0');
        if (*v >= INT53) return NULL;
    }
    return p != s && *p == stop ? p + 1 : NULL;
}

bool stg_tip_parse(const char *s, stg_tip_t *t) {
    memset(t, 0, sizeof *t);
    const char *h = number(s, ':', &t->block);
    if (h) h = number(h, ':', &t->slot);
    if (!h || strlen(h) >= sizeof t->hash || !tip_hash_ok(h)) return false;
    snprintf(t->hash, sizeof t->hash, "%s", h);
    t->have = true;
    return true;
}

/* "BLOCK:HASH" of tip.recent, the hash cut to its first 16 digits. */
static bool recent_parse(const char *s, int64_t *block, char hash[17]) {
    const char *h = number(s, ':', block);
    if (!h || !tip_hash_ok(h)) return false;
    snprintf(hash, 17, "%.16s", h);
    return true;
}

static int tip_decode(json_t *o, stg_tip_t *t, stg_diag_t *d) {
    json_t *recent = NULL;
    int rc = stg_json_int(o, "record.tip", "block", true, 0, INT53 - 1, &t->block, d);
    if (!rc) rc = stg_json_int(o, "record.tip", "slot", true, 0, INT53 - 1, &t->slot, d);
    if (!rc) rc = stg_json_str(o, "record.tip", "hash", true, t->hash, sizeof t->hash, d);
    if (!rc && !tip_hash_ok(t->hash))
        rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.tip.hash",
                          "must be 16 to 64 lowercase hex digits (a block hash or its start)");
    if (!rc) rc = stg_json_array(o, "record.tip", "recent", false, STG_TIP_RECENT, &recent, d);
    for (size_t k = 0; !rc && recent && k < json_array_size(recent); k++) {
        const char *e = json_string_value(json_array_get(recent, k));
        if (!e || !recent_parse(e, &t->recent[k].block, t->recent[k].hash))
            rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.tip.recent",
                              "entry %zu must be \"BLOCK:HASH\", HASH 16 to 64 lowercase hex "
                              "digits", k);
        else t->nrecent++;
    }
    t->have = rc == 0;
    return rc;
}

const stg_comp_rec_t *stg_record_comp(const stg_record_t *r, const char *name, stg_comp_rec_t *tmp) {
    if (strcmp(r->component, name) == 0) {
        memset(tmp, 0, sizeof *tmp);
        snprintf(tmp->component, sizeof tmp->component, "%s", r->component);
        snprintf(tmp->version, sizeof tmp->version, "%s", r->version);
        snprintf(tmp->build, sizeof tmp->build, "%s", r->build);
        tmp->health = r->health;
        tmp->health_since_ms = r->health_since_ms;
        return tmp;
    }
    for (unsigned k = 0; k < r->ncomps && k < STG_COMPONENTS_MAX - 1; k++)
        if (strcmp(r->comps[k].component, name) == 0) return &r->comps[k];
    return NULL;
}

static bool hex16_ok(const char *s) {
    if (strlen(s) != 16) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
    return true;
}

static json_t *comps_encode(const stg_record_t *r) {
    json_t *a = json_array();
    for (unsigned k = 0; a && k < r->ncomps && k < STG_COMPONENTS_MAX - 1; k++) {
        const stg_comp_rec_t *e = &r->comps[k];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "component", e->component, "version",
                              e->version, "health", stg_health_name(e->health), "health_since_ms",
                              (json_int_t)e->health_since_ms);
        if (o && e->build[0]) json_object_set_new(o, "build", json_string(e->build));
        json_array_append_new(a, o);
    }
    return a;
}

static int health_from(const char *s, stg_health_t *h) {
    for (int k = 0; k < STG_HEALTH__COUNT; k++)
        if (strcmp(s, health_names[k]) == 0) {
            *h = (stg_health_t)k;
            return 0;
        }
    return -1;
}

static int comps_decode(json_t *a, stg_record_t *r, stg_diag_t *d) {
    for (size_t k = 0; k < json_array_size(a); k++) {
        json_t *o = json_array_get(a, k);
        stg_comp_rec_t *e = &r->comps[k];
        char health[16] = "";
        if (!json_is_object(o))
            return stg_diag_set(d, STG_REJECT_WRONG_TYPE, "record.components",
                                "entry %zu must be an object", k);
        int rc = stg_json_str(o, "record.components", "component", true, e->component,
                              sizeof e->component, d);
        if (!rc)
            rc = stg_json_str(o, "record.components", "version", true, e->version,
                              sizeof e->version, d);
        if (!rc)
            rc = stg_json_str(o, "record.components", "health", true, health, sizeof health, d);
        if (!rc)
            rc = stg_json_int(o, "record.components", "health_since_ms", true, 0, INT53,
                              &e->health_since_ms, d);
        if (!rc)
            rc = stg_json_str(o, "record.components", "build", false, e->build, sizeof e->build, d);
        if (rc) return rc;
        if (!stg_name_ok(e->component) || strcmp(e->component, r->component) == 0)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.components",
                                "entry %zu: \"%s\" is not a valid name, or repeats the "
                                "record's own component", k, e->component);
        for (size_t j = 0; j < k; j++)
            if (strcmp(r->comps[j].component, e->component) == 0)
                return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, "record.components",
                                    "component \"%s\" is listed twice", e->component);
        if (e->build[0] && !stg_sha256_hex_ok(e->build))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.components.build",
                                "must be 64 lowercase hex digits (an artifact's SHA-256)");
        if (health_from(health, &e->health) != 0)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.components.health",
                                "must be healthy, unhealthy or unknown");
        r->ncomps++;
    }
    return 0;
}

int stg_record_encode(const stg_record_t *r, uint8_t *out, size_t cap) {
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
                          "fleet", r->fleet, "node", r->node, "inc", (json_int_t)r->inc,
                          "seq", (json_int_t)r->seq, "time_ms", (json_int_t)r->time_ms,
                          "component", r->component, "version", r->version, "flavour",
                          r->flavour, "health", stg_health_name(r->health), "detail",
                          r->detail, "health_since_ms", (json_int_t)r->health_since_ms,
                          "phase", stg_phase_name(r->phase), "release", r->release, "phase_since_ms",
                          (json_int_t)r->phase_since_ms);
    if (o && r->phase_detail[0]) json_object_set_new(o, "phase_detail", json_string(r->phase_detail));
    if (o && r->cmd_seq) json_object_set_new(o, "cmd_seq", json_integer((json_int_t)r->cmd_seq));
    if (o && r->attempt) json_object_set_new(o, "attempt", json_integer((json_int_t)r->attempt));
    if (o && r->stagger[0]) json_object_set_new(o, "stagger", json_string(r->stagger));
    if (o && r->forging != STG_FORGING_UNKNOWN)
        json_object_set_new(o, "forging", json_boolean(r->forging == STG_FORGING_YES));
    if (o && r->build[0]) json_object_set_new(o, "build", json_string(r->build));
    if (o && r->tip.have) {
        json_t *t = json_pack("{s:I, s:I, s:s}", "block", (json_int_t)r->tip.block, "slot",
                              (json_int_t)r->tip.slot, "hash", r->tip.hash);
        if (t && r->tip.nrecent) {
            json_t *a = json_array();
            for (unsigned k = 0; k < r->tip.nrecent && k < STG_TIP_RECENT; k++) {
                char e[48];
                snprintf(e, sizeof e, "%lld:%s", (long long)r->tip.recent[k].block,
                         r->tip.recent[k].hash);
                json_array_append_new(a, json_string(e));
            }
            json_object_set_new(t, "recent", a);
        }
        json_object_set_new(o, "tip", t);
    }
    if (o && r->ncomps) json_object_set_new(o, "components", comps_encode(r));
    if (o && r->failed[0]) json_object_set_new(o, "failed", json_string(r->failed));
    if (o && r->nreleases) {
        json_t *a = json_array();
        for (unsigned k = 0; k < r->nreleases && k < STG_COMPONENTS_MAX; k++)
            json_array_append_new(a, json_string(r->releases[k]));
        json_object_set_new(o, "releases", a);
    }
    if (o && r->away_ms) json_object_set_new(o, "away_ms", json_integer((json_int_t)r->away_ms));
    if (o && r->caps) {
        json_t *a = json_array();
        for (int k = 0; k < STG_CAP__COUNT; k++)
            if (r->caps & STG_CAPS_OF(k))
                json_array_append_new(a, json_string(stg_cap_name((stg_cap_t)k)));
        json_object_set_new(o, "caps", a);
    }
#if STG_SELFTEST_NEXT
    if (o && r->selftest_note[0])
        json_object_set_new(o, "selftest_note", json_string(r->selftest_note));
#endif
    if (!o) return STG_EINVAL;
    size_t n = json_dumpb(o, (char *)out, cap, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (n == 0 || n > cap) return STG_ENOSPACE;
    return (int)n;
}

int stg_record_decode(const uint8_t *json, size_t len, stg_record_t *r, stg_diag_t *d) {
    json_t *o = stg_json_parse(json, len, d);
    if (!o) return STG_EREJECT;
    memset(r, 0, sizeof *r);
    char health[16] = "", phase[24] = "";
    /* Keys this build does not know are ignored, not refused: a newer
     * version's optional field (docs/protocol.md §7.3, §11). The record is
     * stored and relayed as signed, so they reach every member unchanged. */
    int rc = stg_json_str(o, "record", "fleet", true, r->fleet, sizeof r->fleet, d);
    if (!rc) rc = stg_json_str(o, "record", "node", true, r->node, sizeof r->node, d);
    if (!rc) rc = stg_json_int(o, "record", "inc", true, 1, INT53, &r->inc, d);
    if (!rc) rc = stg_json_int(o, "record", "seq", true, 1, INT53, &r->seq, d);
    if (!rc) rc = stg_json_int(o, "record", "time_ms", true, 0, INT53, &r->time_ms, d);
    if (!rc) rc = stg_json_str(o, "record", "component", true, r->component, sizeof r->component, d);
    if (!rc) rc = stg_json_str(o, "record", "version", true, r->version, sizeof r->version, d);
    if (!rc) rc = stg_json_str(o, "record", "flavour", true, r->flavour, sizeof r->flavour, d);
    if (!rc) rc = stg_json_str(o, "record", "health", true, health, sizeof health, d);
    if (!rc) rc = stg_json_str(o, "record", "detail", true, r->detail, sizeof r->detail, d);
    if (!rc)
        rc = stg_json_int(o, "record", "health_since_ms", true, 0, INT53, &r->health_since_ms, d);
    if (!rc) rc = stg_json_str(o, "record", "phase", true, phase, sizeof phase, d);
    if (!rc) rc = stg_json_str(o, "record", "release", true, r->release, sizeof r->release, d);
    if (!rc)
        rc = stg_json_int(o, "record", "phase_since_ms", true, 0, INT53, &r->phase_since_ms, d);
    if (!rc)
        rc = stg_json_str(o, "record", "phase_detail", false, r->phase_detail,
                          sizeof r->phase_detail, d);
    if (!rc) rc = stg_json_int(o, "record", "cmd_seq", false, 0, INT53, &r->cmd_seq, d);
    if (!rc) rc = stg_json_int(o, "record", "attempt", false, 0, INT53, &r->attempt, d);
    if (!rc) rc = stg_json_str(o, "record", "stagger", false, r->stagger, sizeof r->stagger, d);
    if (!rc) rc = stg_json_int(o, "record", "away_ms", false, 0, STG_AWAY_MAX_MS, &r->away_ms, d);
    if (!rc) rc = stg_json_str(o, "record", "build", false, r->build, sizeof r->build, d);
    if (!rc && r->build[0] && !stg_sha256_hex_ok(r->build))
        rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.build",
                          "must be 64 lowercase hex digits (an artifact's SHA-256)");
    json_t *tip = NULL;
    if (!rc) rc = stg_json_object(o, "record", "tip", false, &tip, d);
    if (!rc && tip) rc = tip_decode(tip, &r->tip, d);
    json_t *comps = NULL;
    if (!rc)
        rc = stg_json_array(o, "record", "components", false, STG_COMPONENTS_MAX - 1, &comps, d);
    if (!rc && comps) rc = comps_decode(comps, r, d);
    if (!rc) rc = stg_json_str(o, "record", "failed", false, r->failed, sizeof r->failed, d);
    if (!rc && r->failed[0] && !hex16_ok(r->failed))
        rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.failed",
                          "must be 16 lowercase hex digits (a release id)");
    json_t *rels = NULL;
    if (!rc) rc = stg_json_array(o, "record", "releases", false, STG_COMPONENTS_MAX, &rels, d);
    for (size_t k = 0; !rc && rels && k < json_array_size(rels); k++) {
        rc = stg_json_elem_str(rels, "record.releases", k, r->releases[k], sizeof r->releases[k], d);
        if (!rc && !hex16_ok(r->releases[k]))
            rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.releases",
                              "entry %zu must be 16 lowercase hex digits (a release id)", k);
        if (!rc) r->nreleases++;
    }
    json_t *caps = NULL;
    if (!rc) rc = stg_json_array(o, "record", "caps", false, STG_CAPS_MAX, &caps, d);
    if (!rc && caps) rc = caps_decode(caps, &r->caps, d);
#if STG_SELFTEST_NEXT
    if (!rc)
        rc = stg_json_str(o, "record", "selftest_note", false, r->selftest_note,
                          sizeof r->selftest_note, d);
#endif
    json_t *forging = json_object_get(o, "forging");
    if (!rc && forging) {
        if (!json_is_boolean(forging))
            rc = stg_diag_set(d, STG_REJECT_WRONG_TYPE, "record.forging", "must be true or false");
        else r->forging = json_is_true(forging) ? STG_FORGING_YES : STG_FORGING_NO;
    }
    json_decref(o);
    if (rc) return rc;
    r->health = STG_HEALTH__COUNT;
    for (int h = 0; h < STG_HEALTH__COUNT; h++)
        if (strcmp(health, health_names[h]) == 0) r->health = (stg_health_t)h;
    if (r->health == STG_HEALTH__COUNT)
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.health",
                            "must be healthy, unhealthy or unknown");
    int ph = stg_phase_from_name(phase);
    if (ph < 0)
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.phase",
                            "\"%s\" is not an executor phase (docs/protocol.md §9.5)", phase);
    r->phase = (stg_phase_t)ph;
    if (!stg_name_ok(r->node))
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, "record.node", "not a valid name");
    return 0;
}

/* The envelope's one signature, which must be the key of a roster member:
 * that member's index, or a reject. */
static int record_signer(const stg_envelope_t *env, const stg_roster_t *roster, stg_diag_t *d) {
    if (env->type != STG_DOC_RECORD)
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE_DOC, "envelope", "a %s, expected a record",
                            stg_doc_name(env->type));
    if (env->nsig != 1)
        return stg_diag_set(d, STG_REJECT_TOO_MANY_SIGNATURES, "envelope",
                            "a record carries exactly one signature");
    int signer = stg_roster_find_key(roster, &env->sigs[0].key);
    if (signer < 0)
        return stg_diag_set(d, STG_REJECT_UNKNOWN_SIGNER, "envelope",
                            "record signed by a key that is not a roster member's (only "
                            "the member a record describes signs it)");
    return signer;
}

int stg_record_peek(const uint8_t *buf, size_t len, const stg_roster_t *roster,
                    stg_record_t *r, int *member, stg_diag_t *d) {
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, len, &env, d);
    if (rc) return rc;
    int signer = record_signer(&env, roster, d);
    if (signer < 0) return signer;
    rc = stg_record_decode(env.payload, env.payload_len, r, d);
    if (rc) return rc;
    if (strcmp(r->fleet, roster->fleet) != 0)
        return stg_diag_set(d, STG_REJECT_WRONG_FLEET, "record.fleet", "\"%s\", this is \"%s\"",
                            r->fleet, roster->fleet);
    if (strcmp(r->node, roster->members[signer].name) != 0)
        return stg_diag_set(d, STG_REJECT_IMPERSONATION, "record.node",
                            "signed by member \"%s\" but claims to be \"%s\"",
                            roster->members[signer].name, r->node);
    *member = signer;
    return 0;
}

int stg_record_verify(const uint8_t *buf, size_t len, const stg_roster_t *roster, int member,
                      stg_diag_t *d) {
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, len, &env, d);
    if (rc) return rc;
    int signer = record_signer(&env, roster, d);
    if (signer < 0) return signer;
    if (signer != member)
        return stg_diag_set(d, STG_REJECT_IMPERSONATION, "envelope",
                            "signed by member \"%s\", not \"%s\"", roster->members[signer].name,
                            roster->members[member].name);
    return stg_envelope_verify(&env, &roster->members[signer].key, 1, 1, NULL, d);
}

int stg_record_open(const uint8_t *buf, size_t len, const stg_roster_t *roster,
                    stg_record_t *r, int *member, stg_diag_t *d) {
    int idx = -1, rc = stg_record_peek(buf, len, roster, r, &idx, d);
    if (rc) return rc;
    rc = stg_record_verify(buf, len, roster, idx, d);
    if (rc) return rc;
    *member = idx;
    return 0;
}
