/* roster.c: the roster codec: who is in the fleet, which keys may sign,
 * and the rollout policy. Strict decode with cardano-node defaults
 * (shared/CARDANO.md), the holdback pair, and opening a signed roster with
 * the signature checked before any JSON is read (docs/protocol.md §4). */
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "stagger/doc.h"

/* The largest integer every JSON reader holds exactly (2^53 - 1). */
#define JSON_SAFE_MAX 9007199254740991LL

static const struct {
    const char *name;
    int stage;
} roles[] = {
#define X(name, text, stage) {text, stage},
    STG_ROLE_MAP(X)
#undef X
};

const char *stg_role_name(stg_role_t r) {
    return (unsigned)r < STG_ROLE__COUNT ? roles[r].name : "unknown";
}

int stg_role_from_name(const char *s) {
    for (int i = 0; i < STG_ROLE__COUNT; i++)
        if (strcmp(roles[i].name, s) == 0) return i;
    return -1;
}

int stg_role_default_stage(stg_role_t r) {
    return (unsigned)r < STG_ROLE__COUNT ? roles[r].stage : 9;
}

int stg_roster_find_key(const stg_roster_t *r, const stg_pubkey_t *k) {
    for (unsigned i = 0; i < r->nmembers; i++)
        if (stg_pubkey_eq(&r->members[i].key, k)) return (int)i;
    return -1;
}

int stg_roster_find_name(const stg_roster_t *r, const char *name) {
    for (unsigned i = 0; i < r->nmembers; i++)
        if (strcmp(r->members[i].name, name) == 0) return (int)i;
    return -1;
}

void stg_policy_default(stg_policy_t *p) {
    /* Why each value: docs/protocol.md §4.4. */
    *p = (stg_policy_t){
        .batch = 1,
        .soak_s = 86400,
        .unavailable_max = 1,
        .epoch_start_s = 1596059091,
        .epoch_length_s = 432000,
        .proof_epochs = 1,
        .epoch_guard_s = 3600,
        .nwindows = 0,
        .install_timeout_s = 3600,
        .health_timeout_s = 60,
        .health_deadline_s = 21600,
        .rollback_timeout_s = 3600,
        .gate_timeout_s = 60,
        .fork_blocks = 10,
    };
}

/* ---- keys: each appears in one place only ----------------------------- */

/* Where key k is already used in r (a field path), or false. */
static bool key_used(const stg_roster_t *r, const stg_pubkey_t *k, stg_path_t *where) {
    for (unsigned i = 0; i < r->noperators; i++)
        if (stg_pubkey_eq(&r->operators[i], k)) {
            stg_path_idx(where, "operators", i);
            return true;
        }
    for (unsigned i = 0; i < r->nobservers; i++)
        if (stg_pubkey_eq(&r->observers[i], k)) {
            stg_path_idx(where, "observers", i);
            return true;
        }
    int m = stg_roster_find_key(r, k);
    if (m < 0) return false;
    stg_path_t p;
    stg_path_idx(&p, "members", (size_t)m);
    stg_path_key(where, p.s, "key");
    return true;
}

static int parse_key(const char *path, const char *text, const stg_roster_t *r,
                     stg_pubkey_t *out, stg_diag_t *d) {
    char q[STG_QUOTE_MAX];
    if (stg_pubkey_from_b64(out, text) < 0)
        return stg_diag_set(d, STG_REJECT_BAD_KEY, path,
                            "must be a public key: the 44 base64 characters of a .pub "
                            "file made by staggerctl keygen (got \"%s\")",
                            stg_json_quote(text, q, sizeof q));
    stg_path_t where;
    if (!key_used(r, out, &where)) return 0;
    bool op_as_node = strncmp(where.s, "operators", 9) == 0 && strncmp(path, "members", 7) == 0;
    return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, path, "same key as %s: %s", where.s,
                        op_as_node ? "operator keys stay offline; generate a separate node "
                                     "key with staggerctl keygen"
                                   : "a key may appear in only one place; generate a "
                                     "separate key with staggerctl keygen");
}

static int need_items(json_t *arr, const char *path, size_t min, const char *what,
                      stg_diag_t *d) {
    size_t n = json_is_array(arr) ? json_array_size(arr) : json_object_size(arr);
    if (n >= min) return 0;
    return stg_diag_set(d, STG_REJECT_TOO_SHORT, path, "%zu entries, at least %zu %s needed",
                        n, min, what);
}

/* operators or observers: an array of keys appended to keys[*n]. */
static int key_list(json_t *root, const char *field, size_t min, size_t max,
                    stg_roster_t *r, stg_pubkey_t *keys, unsigned *n, stg_diag_t *d) {
    json_t *arr;
    int rc = stg_json_array(root, "", field, min > 0, max, &arr, d);
    if (rc < 0 || !arr) return rc;
    if ((rc = need_items(arr, field, min, "key(s)", d)) < 0) return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char text[128];
        stg_path_t p;
        stg_path_idx(&p, field, i);
        if ((rc = stg_json_elem_str(arr, field, i, text, sizeof text, d)) < 0) return rc;
        if ((rc = parse_key(p.s, text, r, &keys[*n], d)) < 0) return rc;
        (*n)++;
    }
    return 0;
}

/* ---- endpoints: tcp://HOST:PORT --------------------------------------- */

static bool hostname_ok(const char *h, size_t n) {
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) return false;
        if (++label > 63) return false;
    }
    return label > 0 && h[n - 1] != '-';
}

/* Why s is not tcp://HOST:PORT, or NULL when it is. */
static const char *endpoint_problem(const char *s) {
    if (strncmp(s, "tcp://", 6) != 0) return "it must start with tcp://";
    const char *host = s + 6, *colon = strrchr(host, ':');
    if (host[0] == '[') {
        colon = strchr(host, ']');
        if (!colon) return "an IPv6 address needs both [ and ]";
        colon++;
    }
    if (!colon || colon[0] != ':' || colon[1] == '\0') return "the :PORT is missing";
    const char *port = colon + 1;
    size_t plen = strlen(port);
    long pv = 0;
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9' || plen > 5) return "the port must be 1..65535";
        pv = pv * 10 + (port[i] - '0');
    }
    if (pv < 1 || pv > 65535 || port[0] == '0') return "the port must be 1..65535";
    size_t hlen = (size_t)(colon - host);
    char h[STG_ENDPOINT_MAX + 1];
    if (hlen == 0) return "the HOST is missing";
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    unsigned char addr[16];
    if (h[0] == '[') {
        h[hlen - 1] = '\0';
        return inet_pton(AF_INET6, h + 1, addr) == 1 ? NULL : "not an IPv6 address inside [ ]";
    }
    if (strchr(h, ':')) return "write an IPv6 address inside [ ]";
    if (strspn(h, "0123456789.") == hlen)
        return inet_pton(AF_INET, h, addr) == 1 ? NULL : "not a dotted IPv4 address";
    return hostname_ok(h, hlen) ? NULL : "the HOST is not a valid DNS name";
}

/* ---- members ----------------------------------------------------------- */

static const char *const MEMBER_FIELDS[] = {"name",  "key",      "endpoint", "role", "flavour",
                                            "stage", "holdback", "tags",     NULL};

static int member_tags(json_t *v, const char *path, stg_member_t *m, stg_diag_t *d) {
    json_t *arr;
    stg_path_t tp;
    stg_path_key(&tp, path, "tags");
    int rc = stg_json_array(v, path, "tags", false, STG_TAGS_MAX, &arr, d);
    if (rc < 0 || !arr) return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        stg_path_t p;
        stg_path_idx(&p, tp.s, i);
        char *tag = m->tags[m->ntags];
        if ((rc = stg_json_elem_str(arr, tp.s, i, tag, STG_NAME_MAX + 1, d)) < 0) return rc;
        if ((rc = stg_name_check(p.s, tag, d)) < 0) return rc;
        for (unsigned j = 0; j < m->ntags; j++)
            if (strcmp(m->tags[j], tag) == 0)
                return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s,
                                    "tag \"%s\" is listed twice: list it once", tag);
        m->ntags++;
    }
    return 0;
}

/* One member, appended to r. *holdback gets -1 (absent), 0 or 1: an
 * explicit false keeps the member out of the default holdback pair. */
static int member(json_t *v, const char *path, stg_roster_t *r, int *holdback,
                  stg_diag_t *d) {
    int rc = stg_json_object_only(v, path, MEMBER_FIELDS, d);
    if (rc < 0) return rc;
    stg_member_t *m = &r->members[r->nmembers];
    stg_path_t p;
    char text[STG_ENDPOINT_MAX + 1], q[STG_QUOTE_MAX];

    if ((rc = stg_json_name(v, path, "name", true, m->name, d)) < 0) return rc;
    int other = stg_roster_find_name(r, m->name);
    stg_path_key(&p, path, "name");
    if (other >= 0)
        return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s,
                            "\"%s\" is also the name of members[%d]: names must be unique",
                            m->name, other);

    if ((rc = stg_json_str(v, path, "key", true, text, sizeof text, d)) < 0) return rc;
    stg_path_key(&p, path, "key");
    if ((rc = parse_key(p.s, text, r, &m->key, d)) < 0) return rc;

    stg_path_key(&p, path, "endpoint");
    if ((rc = stg_json_str(v, path, "endpoint", true, m->endpoint, sizeof m->endpoint, d)) < 0)
        return rc;
    const char *why = endpoint_problem(m->endpoint);
    if (why)
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "must look like tcp://HOST:PORT (got \"%s\"): %s; HOST is a "
                            "dotted IPv4 address, [IPv6] or a DNS name, PORT 1..65535",
                            stg_json_quote(m->endpoint, q, sizeof q), why);
    for (unsigned i = 0; i < r->nmembers; i++)
        if (strcasecmp(r->members[i].endpoint, m->endpoint) == 0)
            return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s,
                                "%s is also the endpoint of members[%u]: each node needs "
                                "its own address",
                                m->endpoint, i);

    stg_path_key(&p, path, "role");
    if ((rc = stg_json_str(v, path, "role", true, text, sizeof text, d)) < 0) return rc;
    int role = stg_role_from_name(text);
    if (role < 0)
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "must be producer, standby, relay or dark-relay (got \"%s\")",
                            stg_json_quote(text, q, sizeof q));
    m->role = (stg_role_t)role;
    for (unsigned i = 0; role == STG_ROLE_PRODUCER && i < r->nmembers; i++)
        if (r->members[i].role == STG_ROLE_PRODUCER)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                                "members[%u] is already the producer: two nodes forging "
                                "with the same keys make competing blocks; make one a "
                                "standby",
                                i);

    if ((rc = stg_json_name(v, path, "flavour", true, m->flavour, d)) < 0) return rc;
    int64_t stage = stg_role_default_stage(m->role);
    if ((rc = stg_json_int(v, path, "stage", false, 1, 9, &stage, d)) < 0) return rc;
    m->stage = (int)stage;
    bool hb = false;
    *holdback = json_object_get(v, "holdback") ? 0 : -1;
    if ((rc = stg_json_bool(v, path, "holdback", false, &hb, d)) < 0) return rc;
    if (hb) *holdback = 1;
    if ((rc = member_tags(v, path, m, d)) < 0) return rc;
    r->nmembers++;
    return 0;
}

/* The first member of a role by name, skipping those that said
 * "holdback": false; -1 when there is none. */
static int first_by_name(const stg_roster_t *r, stg_role_t role, const int *holdback) {
    int best = -1;
    for (unsigned i = 0; i < r->nmembers; i++)
        if (r->members[i].role == role && holdback[i] != 0 &&
            (best < 0 || strcmp(r->members[i].name, r->members[best].name) < 0))
            best = (int)i;
    return best;
}

/* The holdback set stays on the old version until the release is proven:
 * the members marked "holdback": true, or else the first standby plus one
 * relay, preferring a dark relay (docs/protocol.md §4.2). */
static int holdback_set(stg_roster_t *r, const int *holdback, stg_diag_t *d) {
    bool marked = false;
    for (unsigned i = 0; i < r->nmembers; i++) marked |= holdback[i] == 1;
    if (marked) {
        for (unsigned i = 0; i < r->nmembers; i++) r->members[i].holdback = holdback[i] == 1;
    } else {
        int standby = first_by_name(r, STG_ROLE_STANDBY, holdback);
        int relay = first_by_name(r, STG_ROLE_DARK_RELAY, holdback);
        if (relay < 0) relay = first_by_name(r, STG_ROLE_RELAY, holdback);
        if (standby < 0 || relay < 0)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "members",
                                "no possible holdback pair: the roster needs a standby and a "
                                "relay or dark-relay, or mark members with \"holdback\": true");
        r->members[standby].holdback = r->members[relay].holdback = true;
    }
    for (unsigned i = 0; i < r->nmembers; i++)
        if (!r->members[i].holdback) return 0;
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, "members",
                        "every member is held back, so none can prove a release: add "
                        "members or mark fewer with \"holdback\": true");
}

static int members(json_t *root, stg_roster_t *r, stg_diag_t *d) {
    json_t *arr;
    int rc = stg_json_array(root, "", "members", true, STG_MEMBERS_MAX, &arr, d);
    if (rc < 0) return rc;
    if ((rc = need_items(arr, "members", 1, "member(s)", d)) < 0) return rc;
    int holdback[STG_MEMBERS_MAX];
    for (size_t i = 0; i < json_array_size(arr); i++) {
        stg_path_t p;
        stg_path_idx(&p, "members", i);
        if ((rc = member(json_array_get(arr, i), p.s, r, &holdback[i], d)) < 0) return rc;
    }
    return holdback_set(r, holdback, d);
}

/* ---- policy ------------------------------------------------------------ */

static const char *const POLICY_FIELDS[] = {"batch",    "soak_s",   "unavailable_max",
                                            "epoch",    "windows",  "timeouts",
                                            "health_deadline_s",    "fork_blocks",
                                            "components", NULL};
static const char *const COMPONENT_FIELDS[] = {"soak_s", "proof_epochs", "holdback", NULL};
static const char *const EPOCH_FIELDS[] = {"start_s", "length_s", "proof_epochs", "guard_s",
                                           NULL};
static const char *const TIMEOUT_FIELDS[] = {"install_s", "health_s", "rollback_s", "gate_s",
                                             NULL};
static const char *const WINDOW_FIELDS[] = {"days", "start", "end", NULL};
static const char *const DAYS[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* "HH:MM" in UTC as minutes after midnight. */
static int clock_time(json_t *w, const char *path, const char *key, uint16_t *out,
                      stg_diag_t *d) {
    char t[8];
    int rc = stg_json_str(w, path, key, true, t, sizeof t, d);
    if (rc < 0) return rc;
    bool shape = strlen(t) == 5 && t[2] == ':' && strspn(t, "0123456789") == 2 &&
                 strspn(t + 3, "0123456789") == 2;
    int hh = shape ? (t[0] - '0') * 10 + (t[1] - '0') : 99;
    int mm = shape ? (t[3] - '0') * 10 + (t[4] - '0') : 99;
    if (hh > 23 || mm > 59) {
        stg_path_t p;
        char q[STG_QUOTE_MAX];
        stg_path_key(&p, path, key);
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "must be a UTC time \"HH:MM\" from 00:00 to 23:59 (got \"%s\")",
                            stg_json_quote(t, q, sizeof q));
    }
    *out = (uint16_t)(hh * 60 + mm);
    return 0;
}

static int window(json_t *w, const char *path, stg_window_t *out, stg_diag_t *d) {
    int rc = stg_json_object_only(w, path, WINDOW_FIELDS, d);
    if (rc < 0) return rc;
    json_t *days;
    stg_path_t dp;
    stg_path_key(&dp, path, "days");
    if ((rc = stg_json_array(w, path, "days", true, 7, &days, d)) < 0) return rc;
    if ((rc = need_items(days, dp.s, 1, "day(s)", d)) < 0) return rc;
    for (size_t i = 0; i < json_array_size(days); i++) {
        char day[8], q[STG_QUOTE_MAX];
        stg_path_t p;
        stg_path_idx(&p, dp.s, i);
        if ((rc = stg_json_elem_str(days, dp.s, i, day, sizeof day, d)) < 0) return rc;
        unsigned k = 0;
        while (k < 7 && strcmp(DAYS[k], day) != 0) k++;
        if (k == 7)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                                "must be one of mon tue wed thu fri sat sun (got \"%s\")",
                                stg_json_quote(day, q, sizeof q));
        if (out->days & (1u << k))
            return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s,
                                "\"%s\" is listed twice: list each day once", day);
        out->days |= (uint8_t)(1u << k);
    }
    if ((rc = clock_time(w, path, "start", &out->start_min, d)) < 0) return rc;
    if ((rc = clock_time(w, path, "end", &out->end_min, d)) < 0) return rc;
    if (out->start_min == out->end_min) {
        stg_path_t p;
        stg_path_key(&p, path, "end");
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, p.s,
                            "equals start, so the window is empty: to allow any time, "
                            "leave policy.windows out");
    }
    return 0;
}

/* An optional object field with only these keys; *o is NULL when absent. */
static int opt_object(json_t *parent, const char *base, const char *key,
                      const char *const *fields, json_t **o, stg_diag_t *d) {
    stg_path_t p;
    stg_path_key(&p, base, key);
    int rc = stg_json_object(parent, base, key, false, o, d);
    if (rc < 0 || !*o) return rc;
    return stg_json_only(*o, p.s, fields, d);
}

static int epoch(json_t *pol, stg_policy_t *p, stg_diag_t *d) {
    json_t *e;
    int rc = opt_object(pol, "policy", "epoch", EPOCH_FIELDS, &e, d);
    if (rc < 0 || !e) return rc;
    int64_t proof = p->proof_epochs;
    if ((rc = stg_json_int(e, "policy.epoch", "start_s", false, 0, JSON_SAFE_MAX,
                           &p->epoch_start_s, d)) < 0 ||
        (rc = stg_json_int(e, "policy.epoch", "length_s", false, 1, JSON_SAFE_MAX,
                           &p->epoch_length_s, d)) < 0 ||
        (rc = stg_json_int(e, "policy.epoch", "proof_epochs", false, 0, 10, &proof, d)) < 0 ||
        (rc = stg_json_int(e, "policy.epoch", "guard_s", false, 0, p->epoch_length_s,
                           &p->epoch_guard_s, d)) < 0)
        return rc;
    p->proof_epochs = (unsigned)proof;
    if (p->epoch_guard_s > p->epoch_length_s)
        return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "policy.epoch.guard_s",
                            "the default %lld is longer than length_s %lld: set guard_s "
                            "to 0..%lld",
                            (long long)p->epoch_guard_s, (long long)p->epoch_length_s,
                            (long long)p->epoch_length_s);
    return 0;
}

static int timeouts(json_t *pol, stg_policy_t *p, stg_diag_t *d) {
    json_t *t;
    int rc = opt_object(pol, "policy", "timeouts", TIMEOUT_FIELDS, &t, d);
    if (rc < 0 || !t) return rc;
    int64_t *dst[] = {&p->install_timeout_s, &p->health_timeout_s, &p->rollback_timeout_s,
                      &p->gate_timeout_s};
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++)
        if ((rc = stg_json_int(t, "policy.timeouts", TIMEOUT_FIELDS[i], false, 1, 86400,
                               dst[i], d)) < 0)
            return rc;
    return 0;
}

/* policy.components: {"os": {"soak_s": 600, "proof_epochs": 0, "holdback": true}}.
 * Each field defaults to the policy's own (holdback: true). */
static int components(json_t *pol, stg_policy_t *p, stg_diag_t *d) {
    json_t *o;
    int rc = stg_json_object(pol, "policy", "components", false, &o, d);
    if (rc < 0 || !o) return rc;
    if (json_object_size(o) > STG_COMPONENTS_MAX)
        return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "policy.components",
                            "at most %d components", STG_COMPONENTS_MAX);
    const char *name;
    json_t *e;
    json_object_foreach(o, name, e) {
        stg_path_t cp;
        stg_path_key(&cp, "policy.components", name);
        if (!stg_name_ok(name))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, cp.s,
                                "not a valid component name (letters, digits, '-', '_', '.')");
        if (!json_is_object(e))
            return stg_diag_set(d, STG_REJECT_WRONG_TYPE, cp.s, "must be an object");
        if ((rc = stg_json_only(e, cp.s, COMPONENT_FIELDS, d)) < 0) return rc;
        unsigned k = p->ncomponents;
        int64_t proof = p->proof_epochs;
        snprintf(p->components[k].name, sizeof p->components[k].name, "%s", name);
        p->components[k].soak_s = p->soak_s;
        p->components[k].holdback = true;
        if ((rc = stg_json_int(e, cp.s, "soak_s", false, 1, 2592000, &p->components[k].soak_s,
                               d)) < 0 ||
            (rc = stg_json_int(e, cp.s, "proof_epochs", false, 0, 10, &proof, d)) < 0 ||
            (rc = stg_json_bool(e, cp.s, "holdback", false, &p->components[k].holdback, d)) < 0)
            return rc;
        p->components[k].proof_epochs = (unsigned)proof;
        p->ncomponents++;
    }
    return 0;
}

static int policy(json_t *root, stg_roster_t *r, stg_diag_t *d) {
    stg_policy_t *p = &r->policy;
    stg_policy_default(p);
    json_t *pol, *wins;
    int rc = opt_object(root, "", "policy", POLICY_FIELDS, &pol, d);
    if (rc < 0 || !pol) return rc;
    int64_t batch = p->batch, unavailable = p->unavailable_max, fork = p->fork_blocks;
    if ((rc = stg_json_int(pol, "policy", "batch", false, 1, STG_BATCH_MAX, &batch, d)) < 0 ||
        (rc = stg_json_int(pol, "policy", "soak_s", false, 1, 2592000, &p->soak_s, d)) < 0 ||
        (rc = stg_json_int(pol, "policy", "unavailable_max", false, 0,
                           (int64_t)r->nmembers - 1, &unavailable, d)) < 0 ||
        (rc = stg_json_int(pol, "policy", "health_deadline_s", false, 60, 172800,
                           &p->health_deadline_s, d)) < 0 ||
        (rc = stg_json_int(pol, "policy", "fork_blocks", false, 2, 2160, &fork, d)) < 0 ||
        (rc = epoch(pol, p, d)) < 0 || (rc = timeouts(pol, p, d)) < 0 ||
        (rc = components(pol, p, d)) < 0 ||
        (rc = stg_json_array(pol, "policy", "windows", false, STG_WINDOWS_MAX, &wins, d)) < 0)
        return rc;
    p->batch = (unsigned)batch;
    p->unavailable_max = (unsigned)unavailable;
    p->fork_blocks = (unsigned)fork;
    for (size_t i = 0; wins && i < json_array_size(wins); i++) {
        stg_path_t wp;
        stg_path_idx(&wp, "policy.windows", i);
        if ((rc = window(json_array_get(wins, i), wp.s, &p->windows[i], d)) < 0) return rc;
        p->nwindows++;
    }
    return 0;
}

/* ---- the document ------------------------------------------------------ */

static const char *const ROSTER_FIELDS[] = {"fleet",     "serial",  "operators", "emergency_quorum",
                                            "observers", "members", "policy",    NULL};

static int roster(json_t *root, void *out, stg_diag_t *d) {
    stg_roster_t *r = out;
    int64_t quorum = 1;
    int rc;
    if ((rc = stg_json_only(root, "", ROSTER_FIELDS, d)) < 0 ||
        (rc = stg_json_name(root, "", "fleet", true, r->fleet, d)) < 0 ||
        (rc = stg_json_int(root, "", "serial", true, 1, JSON_SAFE_MAX, &r->serial, d)) < 0 ||
        (rc = key_list(root, "operators", 1, STG_OPERATORS_MAX, r, r->operators,
                       &r->noperators, d)) < 0 ||
        (rc = stg_json_int(root, "", "emergency_quorum", false, 1, r->noperators, &quorum,
                           d)) < 0 ||
        (rc = key_list(root, "observers", 0, STG_OBSERVERS_MAX, r, r->observers,
                       &r->nobservers, d)) < 0 ||
        (rc = members(root, r, d)) < 0 || (rc = policy(root, r, d)) < 0)
        return rc;
    r->emergency_quorum = (unsigned)quorum;
    return 0;
}

int stg_roster_decode(const uint8_t *json, size_t len, stg_roster_t *r, stg_diag_t *d) {
    return stg_json_decode(json, len, roster, r, sizeof *r, d);
}

static int replaces(const stg_envelope_t *env, const stg_roster_t *current, stg_roster_t *r,
                    stg_diag_t *d) {
    /* Only the operators we already trust may appoint new ones, and the
     * JSON is read only once they have signed it. */
    int rc = stg_envelope_verify(env, current->operators, current->noperators, 1, NULL, d);
    if (rc < 0) return rc;
    if ((rc = stg_roster_decode(env->payload, env->payload_len, r, d)) < 0) return rc;
    if (strcmp(r->fleet, current->fleet) != 0)
        return stg_diag_set(d, STG_REJECT_WRONG_FLEET, "fleet",
                            "\"%s\" is not this node's fleet \"%s\": send it to the right "
                            "fleet",
                            r->fleet, current->fleet);
    if (r->serial <= current->serial)
        return stg_diag_set(d, STG_REJECT_STALE, "serial",
                            "%lld is not above the current roster's %lld: a replacement "
                            "needs a higher serial",
                            (long long)r->serial, (long long)current->serial);
    return 0;
}

static int open_roster(const uint8_t *buf, size_t len, const stg_roster_t *current,
                       stg_roster_t *r, stg_diag_t *d) {
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, len, &env, d);
    if (rc < 0) return rc;
    if (env.type != STG_DOC_ROSTER)
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE_DOC, "envelope",
                            "holds a %s, expected a roster", stg_doc_name(env.type));
    if (current) return replaces(&env, current, r, d);
    /* Bootstrap from a local file the operator installed: the roster
     * vouches for itself, but still only through its own operators. */
    rc = stg_roster_decode(env.payload, env.payload_len, r, d);
    if (rc < 0) return rc;
    return stg_envelope_verify(&env, r->operators, r->noperators, 1, NULL, d);
}

int stg_roster_open(const uint8_t *buf, size_t len, const stg_roster_t *current,
                    stg_roster_t *r, stg_diag_t *d) {
    assert(r != current);
    int rc = open_roster(buf, len, current, r, d);
    if (rc < 0) memset(r, 0, sizeof *r); /* an unverified roster must not be usable */
    return rc;
}
