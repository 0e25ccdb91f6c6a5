/* rollout.c: release adoption, the slot election and the executor of one
 * node (docs/protocol.md §9). Pure like the rest of the core.
 *
 * Safety rests on three rules. A slot is granted by a strict majority of
 * the roster, and each voter grants a slot to one holder at a time, with
 * the grant on disk (journal) before the answer leaves. A grant that is not
 * confirmed by the holder's START within start_bound expires; a START that
 * comes later is refused; the holder begins only with a majority of START
 * acknowledgements, so two holders of one slot would need two majorities.
 * A started grant is released only by the holder (slot-free) or by its
 * record showing it finished. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define GATE_VALID_MS 60000
#define GATE_RETRY_MS 30000
#define WANT_EVERY_MS 1000

static const char *const phase_names[] = {
#define X(name, text) text,
    STG_PHASE_MAP(X)
#undef X
};
static const char *const hook_names[] = {
#define X(name, text) text,
    STG_HOOK_MAP(X)
#undef X
};
static const char *const deny_texts[] = {
#define X(name, text) text,
    STG_DENY_MAP(X)
#undef X
};

const char *stg_phase_name(stg_phase_t p) {
    return (unsigned)p < STG_PHASE__COUNT ? phase_names[p] : "unknown";
}
int stg_phase_from_name(const char *s) {
    for (int i = 0; i < STG_PHASE__COUNT; i++)
        if (strcmp(s, phase_names[i]) == 0) return i;
    return -1;
}
bool stg_phase_updating(stg_phase_t p) {
    return p == STG_PHASE_ELECTED || p == STG_PHASE_INSTALLING || p == STG_PHASE_VERIFYING ||
           p == STG_PHASE_SOAKING || p == STG_PHASE_FAILED || p == STG_PHASE_ROLLING_BACK;
}
const char *stg_hook_name(stg_hook_kind_t h) {
    return (unsigned)h < STG_HOOK__COUNT ? hook_names[h] : "unknown";
}
const char *stg_deny_text(stg_deny_t d) {
    return (unsigned)d < STG_DENY__COUNT ? deny_texts[d] : "unknown";
}

void stg_release_id(const uint8_t *payload, size_t len, uint8_t id[8]) {
    crypto_generichash(id, 8, payload, len, NULL, 0);
}

static void id_hex(const uint8_t id[8], char out[17]) { sodium_bin2hex(out, 17, id, 8); }

static int majority(const stg_core_t *c) { return (int)c->roster->nmembers / 2 + 1; }

/* ---- reading the fleet from records ------------------------------------ */

static bool rec_about(const stg_core_t *c, int i, const uint8_t id[8]) {
    const peer_t *p = &c->peers[i];
    if (!p->have) return false;
    char hex[17];
    id_hex(id, hex);
    return strcmp(p->rec.release, hex) == 0;
}

static stg_phase_t rec_phase(const stg_core_t *c, int i) {
    int ph = stg_phase_from_name(c->peers[i].rec.phase);
    return ph < 0 ? STG_PHASE_IDLE : (stg_phase_t)ph;
}

/* Runs the release: finished an update to it, or already ran its version. */
static bool done_on(const stg_core_t *c, int i) {
    const peer_t *p = &c->peers[i];
    if (!p->have || !c->have_release) return false;
    stg_phase_t ph = rec_phase(c, i);
    if (rec_about(c, i, c->release_id) && ph == STG_PHASE_DONE) return true;
    return (ph == STG_PHASE_IDLE || ph == STG_PHASE_DONE) &&
           strcmp(p->rec.version, c->release.version) == 0;
}

static bool failed_on(const stg_core_t *c, int i, const uint8_t id[8]) {
    if (!rec_about(c, i, id)) return false;
    stg_phase_t ph = rec_phase(c, i);
    if (ph != STG_PHASE_FAILED && ph != STG_PHASE_ROLLING_BACK && ph != STG_PHASE_ROLLED_BACK)
        return false;
    /* An operator's resume forgives what failed before it. */
    return !(c->forgive_before_ms && memcmp(id, c->forgive_id, 8) == 0 &&
             c->peers[i].rec.phase_since_ms < c->forgive_before_ms);
}

static bool abandoned(const stg_core_t *c, const uint8_t id[8]) {
    return c->abandoned && memcmp(id, c->abandoned_id, 8) == 0;
}

static int failed_member(const stg_core_t *c) {
    if (!c->have_release) return -1;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (failed_on(c, (int)i, c->release_id)) return (int)i;
    return -1;
}

static bool updating(const stg_core_t *c, int i) {
    return c->peers[i].have && stg_phase_updating(rec_phase(c, i));
}

static bool holds_grant(const stg_core_t *c, int i) {
    for (unsigned s = 0; s < c->roster->policy.batch && s < 2; s++)
        if (c->grants[s].holder == i) return true;
    return false;
}

static bool available(const stg_core_t *c, int i) {
    return stg_core_shown_health(c, i) == STG_HEALTH_HEALTHY;
}

/* Deterministic order: stage (holdback last), then inside a stage a hash
 * of (release, node) with the flavours interleaved, so the first waves try
 * every build. Everyone with the same roster and release computes the same. */
static uint64_t h64(const uint8_t id[8], const char *a) {
    uint8_t out[8];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    crypto_generichash_update(&st, id, 8);
    crypto_generichash_update(&st, (const uint8_t *)a, strlen(a));
    crypto_generichash_final(&st, out, 8);
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | out[k];
    return v;
}

typedef struct {
    int idx, stage;
    unsigned rank;        /* position inside its flavour in this stage */
    uint64_t flav_key;    /* orders the flavours */
    uint64_t key;
} okey_t;

static int okey_cmp(const void *a, const void *b) {
    const okey_t *x = a, *y = b;
    if (x->stage != y->stage) return x->stage < y->stage ? -1 : 1;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    if (x->flav_key != y->flav_key) return x->flav_key < y->flav_key ? -1 : 1;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : 1;
}

static int stage_of(const stg_member_t *m) { return m->holdback ? 100 : m->stage; }

static unsigned compute_order(const stg_core_t *c, int *out) {
    const stg_roster_t *r = c->roster;
    okey_t k[STG_MEMBERS_MAX];
    unsigned n = r->nmembers;
    for (unsigned i = 0; i < n; i++) {
        k[i].idx = (int)i;
        k[i].stage = stage_of(&r->members[i]);
        k[i].key = h64(c->release_id, r->members[i].name);
        k[i].flav_key = h64(c->release_id, r->members[i].flavour);
    }
    /* rank = how many of the same stage and flavour hash lower */
    for (unsigned i = 0; i < n; i++) {
        k[i].rank = 0;
        for (unsigned j = 0; j < n; j++)
            if (k[j].stage == k[i].stage &&
                strcmp(r->members[j].flavour, r->members[i].flavour) == 0 &&
                (k[j].key < k[i].key || (k[j].key == k[i].key && j < i)))
                k[i].rank++;
    }
    qsort(k, n, sizeof k[0], okey_cmp);
    for (unsigned i = 0; i < n; i++) out[i] = k[i].idx;
    return n;
}

/* The order depends only on the roster and the release: computed once per
 * pair (every tick consults it). */
static unsigned order(const stg_core_t *c, int *out) {
    stg_core_t *w = (stg_core_t *)c; /* a cache, not state */
    if (!w->rank_valid || memcmp(w->rank_id, c->release_id, 8) != 0) {
        w->rank_n = compute_order(c, w->rank);
        memcpy(w->rank_id, c->release_id, 8);
        w->rank_valid = true;
    }
    memcpy(out, w->rank, w->rank_n * sizeof *out);
    return w->rank_n;
}

/* Members still to update, in order, that could start now (available,
 * not holding or using a slot). */
static unsigned eligible(const stg_core_t *c, int *out) {
    int ord[STG_MEMBERS_MAX];
    unsigned n = order(c, ord), m = 0;
    for (unsigned i = 0; i < n; i++) {
        int x = ord[i];
        if (done_on(c, x) || failed_on(c, x, c->release_id) || updating(c, x) ||
            holds_grant(c, x) || !available(c, x))
            continue;
        out[m++] = x;
    }
    return m;
}

static unsigned pending_count(const stg_core_t *c) {
    unsigned n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (!done_on(c, (int)i)) n++;
    return n;
}

/* ---- time rules -------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t boundaries_between(const stg_policy_t *p, int64_t a_ms, int64_t b_ms) {
    int64_t start = p->epoch_start_s * 1000, len = p->epoch_length_s * 1000;
    if (len <= 0 || b_ms <= a_ms) return 0;
    return floor_div(b_ms - start, len) - floor_div(a_ms - start, len);
}

static int64_t next_boundary(const stg_policy_t *p, int64_t now_ms) {
    int64_t start = p->epoch_start_s * 1000, len = p->epoch_length_s * 1000;
    return start + (floor_div(now_ms - start, len) + 1) * len;
}

static bool near_boundary(const stg_policy_t *p, int64_t now_ms) {
    int64_t nb = next_boundary(p, now_ms), prev = nb - p->epoch_length_s * 1000;
    int64_t g = p->epoch_guard_s * 1000;
    return nb - now_ms < g || now_ms - prev < g;
}

static bool window_open(const stg_policy_t *p, int64_t now_ms) {
    if (p->nwindows == 0) return true;
    int64_t days = floor_div(now_ms, 86400000);
    int wd = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; Monday = 0 */
    int prev = (wd + 6) % 7;
    int min = (int)((now_ms - days * 86400000) / 60000);
    for (unsigned i = 0; i < p->nwindows; i++) {
        const stg_window_t *w = &p->windows[i];
        if (w->start_min < w->end_min) {
            if ((w->days >> wd & 1) && min >= w->start_min && min < w->end_min) return true;
        } else { /* crosses midnight: the listed day is the day it opens */
            if ((w->days >> wd & 1) && min >= w->start_min) return true;
            if ((w->days >> prev & 1) && min < w->end_min) return true;
        }
    }
    return false;
}

typedef struct {
    bool holds;
    int64_t soak_left_ms;
    int64_t epochs_left;
    int64_t next_boundary_ms;
    int blocker;          /* a member that is not done yet, or -1 */
} proof_t;

/* The proof: every non-holdback member done on the release and healthy,
 * since t_h (the last of them to turn healthy), for the soak time and across
 * proof_epochs boundaries. */
static proof_t proof(const stg_core_t *c, int64_t now) {
    proof_t pf = {false, 0, 0, 0, -1};
    const stg_policy_t *pol = &c->roster->policy;
    int64_t th = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if (c->roster->members[i].holdback) continue;
        if (!done_on(c, (int)i) || !available(c, (int)i)) {
            pf.blocker = (int)i;
            return pf;
        }
        if (c->peers[i].rec.health_since_ms > th) th = c->peers[i].rec.health_since_ms;
    }
    int64_t soak_end = th + pol->soak_s * 1000;
    pf.soak_left_ms = soak_end > now ? soak_end - now : 0;
    int64_t crossed = boundaries_between(pol, th, now);
    pf.epochs_left = crossed >= (int64_t)pol->proof_epochs ? 0 : (int64_t)pol->proof_epochs - crossed;
    pf.next_boundary_ms = next_boundary(pol, now);
    pf.holds = pf.soak_left_ms == 0 && pf.epochs_left == 0;
    return pf;
}

bool stg_core_proof_holds(const stg_core_t *c, int64_t now_ms) { return proof(c, now_ms).holds; }

/* ---- the voter's rule -------------------------------------------------- */

/* Slots free in this voter's view, counting except_slot as free: its own
 * grants, and members whose records show them updating on a slot that a
 * majority without this voter granted. */
static unsigned free_slots(const stg_core_t *c, int except_slot) {
    unsigned batch = c->roster->policy.batch, used = 0;
    for (unsigned s = 0; s < batch; s++)
        if (c->grants[s].holder >= 0 && (int)s != except_slot) used++;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (updating(c, (int)i) && !holds_grant(c, (int)i)) used++;
    return used >= batch ? 0 : batch - used;
}

static stg_deny_t voter_check(const stg_core_t *c, int cand, unsigned slot, const uint8_t id[8]) {
    const stg_policy_t *pol = &c->roster->policy;
    if (!c->have_release || memcmp(id, c->release_id, 8) != 0) return STG_DENY_NO_RELEASE;
    if (c->release.not_before_s * 1000 > c->now) return STG_DENY_NOT_YET;
    if (c->halted) return STG_DENY_HALTED;
    if (abandoned(c, id)) return STG_DENY_ABANDONED;
    if (failed_member(c) >= 0) return STG_DENY_FAILED_RELEASE;
    if (done_on(c, cand)) return STG_DENY_ALREADY_DONE;
    const grant_t *g = &c->grants[slot];
#ifndef STG_TEST_BROKEN_VOTER
    if (g->holder >= 0 && (g->holder != cand || memcmp(g->release, id, 8) != 0))
        return STG_DENY_SLOT_TAKEN;
#else
    (void)g; /* a deliberately broken voter: grants a held slot again */
#endif
    for (unsigned s = 0; s < pol->batch; s++)
        if (s != slot && c->grants[s].holder == cand) return STG_DENY_HOLDS_OTHER;
    unsigned unavailable = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if ((int)i != cand && !holds_grant(c, (int)i) && !updating(c, (int)i) &&
            !available(c, (int)i))
            unavailable++;
    if (unavailable > pol->unavailable_max) return STG_DENY_BUDGET;
    if (!window_open(pol, c->now)) return STG_DENY_WINDOW;
    if (c->roster->members[cand].role == STG_ROLE_PRODUCER && near_boundary(pol, c->now))
        return STG_DENY_EPOCH_GUARD;
    if (c->roster->members[cand].holdback && !proof(c, c->now).holds) return STG_DENY_PROOF;
    int el[STG_MEMBERS_MAX];
    unsigned n = eligible(c, el), k = free_slots(c, (int)slot);
    for (unsigned i = 0; i < n && i < k; i++)
        if (el[i] == cand) return STG_DENY_NONE;
    /* Already granted by us and not yet started: it was next when we gave it. */
    if (g->holder == cand) return STG_DENY_NONE;
    return STG_DENY_NOT_NEXT;
}

/* ---- journal ----------------------------------------------------------- */

static json_t *b64_json(const uint8_t *b, size_t n) {
    if (!b || !n) return json_string("");
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (!s) return json_string("");
    sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static void save(stg_core_t *c) {
    json_t *grants = json_array();
    for (unsigned s = 0; s < 2; s++) {
        const grant_t *g = &c->grants[s];
        char hex[17];
        id_hex(g->release, hex);
        json_array_append_new(grants, json_pack("{s:s, s:s, s:b, s:I, s:I}", "holder",
                                                g->holder >= 0 ? stg__mname(c, g->holder) : "",
                                                "release", hex, "started", g->started, "at_ms",
                                                (json_int_t)g->at_ms, "attempt",
                                                (json_int_t)g->attempt));
    }
    json_t *j = json_pack("{s:i, s:o, s:s, s:I, s:i, s:i, s:I, s:s, s:b, s:o, s:s, s:s}", "v", 1,
                          "release", b64_json(c->release_env, c->release_len), "phase",
                          stg_phase_name(c->phase), "since_ms", (json_int_t)c->phase_since_ms,
                          "slot", c->slot, "acks", (int)c->acks, "deadline_ms",
                          (json_int_t)c->deadline_ms, "detail", c->exec_detail, "halted",
                          c->halted, "grants", grants, "exec_version", c->exec_rel.version,
                          "exec_release", "");
    json_object_set_new(j, "emergency", json_boolean(c->emergency));
    json_object_set_new(j, "commands", stg__command_state(c));
    /* An operator's rollback waiting for the install to end: a restart in
     * between must not lose it (the command will not come again). */
    json_object_set_new(j, "rollback_after_install", json_boolean(c->rollback_after_install));
    json_object_set_new(j, "slot_attempt", json_integer((json_int_t)c->slot_attempt));
    if (c->abandoned) {
        char hex[17];
        id_hex(c->abandoned_id, hex);
        json_object_set_new(j, "abandoned", json_string(hex));
    }
    if (c->forgive_before_ms) {
        char hex[17];
        id_hex(c->forgive_id, hex);
        json_object_set_new(j, "forgive", json_pack("{s:s, s:I}", "release", hex, "before_ms",
                                                    (json_int_t)c->forgive_before_ms));
    }
    if (c->emergency_pending)
        json_object_set_new(j, "emergency_pending",
                            json_pack("{s:o, s:I}", "env", b64_json(c->pending_env, c->pending_len),
                                      "at_ms", (json_int_t)c->emergency_at_ms));
    if (c->exec_have) {
        char hex[17];
        id_hex(c->exec_id, hex);
        json_object_set_new(j, "exec_release", json_string(hex));
        json_object_set_new(j, "exec_env", b64_json(c->exec_env, c->exec_len));
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (text) {
        stg__persist(c, "journal", text, strlen(text));
        free(text);
    }
}

/* ---- executor ---------------------------------------------------------- */

static bool legal(stg_phase_t a, stg_phase_t b) {
    switch (a) {
    case STG_PHASE_IDLE: return b == STG_PHASE_ELECTED || b == STG_PHASE_ROLLING_BACK;
    case STG_PHASE_ELECTED: return b == STG_PHASE_INSTALLING || b == STG_PHASE_VERIFYING;
    case STG_PHASE_INSTALLING: return b == STG_PHASE_VERIFYING || b == STG_PHASE_FAILED;
    case STG_PHASE_VERIFYING:
        return b == STG_PHASE_SOAKING || b == STG_PHASE_FAILED || b == STG_PHASE_INSTALLING;
    case STG_PHASE_SOAKING: return b == STG_PHASE_DONE || b == STG_PHASE_FAILED;
    case STG_PHASE_DONE:
        return b == STG_PHASE_IDLE || b == STG_PHASE_ELECTED || b == STG_PHASE_ROLLING_BACK;
    case STG_PHASE_FAILED: return b == STG_PHASE_ROLLING_BACK || b == STG_PHASE_IDLE;
    case STG_PHASE_ROLLING_BACK: return b == STG_PHASE_ROLLED_BACK || b == STG_PHASE_FAILED;
    case STG_PHASE_ROLLED_BACK: return b == STG_PHASE_IDLE || b == STG_PHASE_ELECTED;
    default: return false;
    }
}

/* The one transition function: checks the move, logs "old -> new",
 * counts it, persists it, and tells the fleet through our record. */
static void set_phase(stg_core_t *c, stg_phase_t to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_phase(stg_core_t *c, stg_phase_t to, const char *fmt, ...) {
    c->soak_bad_since_ms = 0;
    if (!legal(c->phase, to)) {
        stg__log(c, STG_LOG_ERROR, "exec", "refusing illegal move %s -> %s (bug)",
                 stg_phase_name(c->phase), stg_phase_name(to));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->exec_detail, sizeof c->exec_detail, fmt, ap);
    va_end(ap);
    stg__log(c, to == STG_PHASE_FAILED ? STG_LOG_ERROR : STG_LOG_INFO, "exec",
             "%s -> %s (%s %s)%s%s", stg_phase_name(c->phase), stg_phase_name(to),
             c->exec_rel.component, c->exec_rel.version, c->exec_detail[0] ? ": " : "",
             c->exec_detail);
    c->phase = to;
    c->phase_since_ms = c->now;
    c->stats.transitions++;
    save(c);
    stg__sign_own(c);
    stg__push_own(c);
}

static void run_hook(stg_core_t *c, stg_hook_kind_t h, const stg_release_t *rel) {
    stg_action_t *a = stg__act(c, STG_ACT_RUN_HOOK);
    if (!a) return;
    a->hook = h;
    a->release = rel;
    if (h != STG_HOOK_GATE) c->hook_running = true;
}

static void send_slot_free(stg_core_t *c, int slot, const uint8_t id[8], uint64_t attempt) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_SLOT_FREE;
    m.attempt = attempt;
    m.slot = (uint8_t)slot;
    memcpy(m.release, id, 8);
    for (unsigned i = 0; i < c->roster->nmembers; i++) stg__send(c, (int)i, &m);
}

static void free_grant(stg_core_t *c, unsigned s, const char *why) {
    grant_t *g = &c->grants[s];
    if (g->holder < 0) return;
    stg__log(c, STG_LOG_INFO, "elect", "slot %u: released grant to %s (%s)", s,
             stg__mname(c, g->holder), why);
    g->holder = -1;
    g->started = false;
    save(c);
}

static void release_slot(stg_core_t *c) {
    if (c->slot < 0) return;
    send_slot_free(c, c->slot, c->exec_id, c->slot_attempt);
    /* Our own grant (we are a voter too) goes with it. */
    if (c->grants[c->slot].holder == c->self) free_grant(c, (unsigned)c->slot, "we finished");
    c->slot = -1;
}

static void fail(stg_core_t *c, const char *why) {
    snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    set_phase(c, STG_PHASE_FAILED, "%s", why);
    set_phase(c, STG_PHASE_ROLLING_BACK, "running the rollback hook after: %s", why);
    run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
}

/* Most of the fleet unhealthy at once is the network (an epoch-boundary
 * stall), not this release: no rollback for that. */
static bool fleet_wide_trouble(const stg_core_t *c) {
    unsigned bad = 0, n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if ((int)i == c->self) continue;
        n++;
        if (c->peers[i].have && c->peers[i].rec.health == STG_HEALTH_UNHEALTHY) bad++;
    }
    return n > 0 && bad * 2 > n;
}

void stg__rollout_health(stg_core_t *c, const stg_event_t *ev) {
    if (c->phase == STG_PHASE_VERIFYING) {
        bool right = !c->version[0] || strcmp(c->version, c->exec_rel.version) == 0;
        if (c->install_cut_short && ev->health == STG_HEALTH_HEALTHY && !right && !c->hook_running) {
            /* The old version runs, healthy: the install never happened. */
            c->install_cut_short = false;
            set_phase(c, STG_PHASE_INSTALLING, "the install was cut short by a restart: running it again");
            run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
            return;
        }
        if (ev->health == STG_HEALTH_HEALTHY) c->install_cut_short = false;
        if (ev->health == STG_HEALTH_HEALTHY && right) {
            set_phase(c, STG_PHASE_SOAKING, "healthy on %s; soaking %llds", c->exec_rel.version,
                      (long long)c->roster->policy.soak_s);
            return;
        }
        if (ev->progress && strcmp(ev->progress, c->last_progress) != 0) {
            /* Visible progress (a ledger replay) moves the deadline. */
            snprintf(c->last_progress, sizeof c->last_progress, "%s", ev->progress);
            c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
        }
    } else if (c->phase == STG_PHASE_SOAKING && ev->health != STG_HEALTH_UNHEALTHY) {
        c->soak_bad_since_ms = 0;
    } else if (c->phase == STG_PHASE_SOAKING && ev->health == STG_HEALTH_UNHEALTHY) {
        /* One failed scrape is not a bad release: it must last a few health
         * intervals (at least 30 s) before the update is failed. */
        int64_t grace = 3 * c->t.health_interval_ms;
        if (grace < 30000) grace = 30000;
        if (!c->soak_bad_since_ms) c->soak_bad_since_ms = c->now;
        if (c->now - c->soak_bad_since_ms < grace) {
            stg__log(c, STG_LOG_WARNING, "exec", "unhealthy while soaking (%s); failing in %llds "
                                                 "unless it recovers",
                     ev->detail ? ev->detail : "",
                     (long long)((grace - (c->now - c->soak_bad_since_ms) + 999) / 1000));
            return;
        }
        if (fleet_wide_trouble(c)) {
            stg__log(c, STG_LOG_WARNING, "exec",
                     "unhealthy while soaking, but so is most of the fleet: not blaming %s",
                     c->exec_rel.version);
            return;
        }
        char why[STG_DETAIL_MAX + 1];
        snprintf(why, sizeof why, "unhealthy while soaking: %s", ev->detail ? ev->detail : "");
        fail(c, why);
    }
}

void stg__rollout_hook_done(stg_core_t *c, const stg_event_t *ev) {
    const char *d = ev->detail ? ev->detail : "";
    if (ev->hook == STG_HOOK_GATE) {
        c->gate_running = false;
        if (ev->ok) c->gate_ok_until_ms = c->now + GATE_VALID_MS;
        else {
            c->backoff_until_ms = c->now + GATE_RETRY_MS;
            snprintf(c->waiting, sizeof c->waiting, "gate hook said no: %s", d);
            stg__log(c, STG_LOG_WARNING, "hook", "gate: not now: %s", d);
        }
        return;
    }
    c->hook_running = false;
    if (ev->hook == STG_HOOK_INSTALL && c->phase == STG_PHASE_INSTALLING && c->rollback_after_install) {
        c->rollback_after_install = false;
        fail(c, "the operator ordered a rollback during the install");
    } else if (ev->hook == STG_HOOK_INSTALL && c->phase == STG_PHASE_INSTALLING) {
        if (ev->ok) {
            c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
            c->last_progress[0] = '\0';
            set_phase(c, STG_PHASE_VERIFYING, "installed; waiting for health (deadline %llds)",
                      (long long)c->roster->policy.health_deadline_s);
            stg__act(c, STG_ACT_RUN_HEALTH);
        } else {
            char why[STG_DETAIL_MAX + 1];
            snprintf(why, sizeof why, "install hook failed: %s", d);
            fail(c, why);
        }
    } else if (ev->hook == STG_HOOK_ROLLBACK && c->phase == STG_PHASE_ROLLING_BACK) {
        if (ev->ok) {
            set_phase(c, STG_PHASE_ROLLED_BACK, "rolled back from %s after: %s",
                      c->exec_rel.version, c->fail_reason);
            release_slot(c);
            c->emergency = false;
        } else {
            set_phase(c, STG_PHASE_FAILED, "%s, and the rollback hook failed too: %s; the operator must act",
                      c->fail_reason, d);
        }
    }
}

/* Replace *dst (of *dlen bytes) with a copy of env; false when out of memory. */
static bool keep_copy(uint8_t **dst, size_t *dlen, const uint8_t *env, size_t len) {
    uint8_t *copy = malloc(len);
    if (!copy) return false;
    memcpy(copy, env, len);
    free(*dst);
    *dst = copy;
    *dlen = len;
    return true;
}

static void set_exec_release(stg_core_t *c, const stg_release_t *rel, const uint8_t id[8],
                             const uint8_t *env, size_t len) {
    if (!keep_copy(&c->exec_env, &c->exec_len, env, len)) return;
    c->exec_rel = *rel;
    memcpy(c->exec_id, id, 8);
    c->exec_have = true;
}

static void start_update(stg_core_t *c) {
    c->avoid_slot = -1;
    set_exec_release(c, &c->release, c->release_id, c->release_env, c->release_len);
    c->slot = c->att.slot;
    c->slot_attempt = c->att.id;
    c->acks = c->att.nacked;
    c->att.active = false;
    c->stats.elections_won++;
    set_phase(c, STG_PHASE_ELECTED, "holding slot %d with %u of %u start acknowledgements",
              c->slot, c->acks, c->roster->nmembers);
    set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
    run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
}

/* ---- election messages ------------------------------------------------- */

static bool bit(const uint8_t *b, int i) { return b[i / 8] >> (i % 8) & 1; }
static void setbit(uint8_t *b, int i) { b[i / 8] |= (uint8_t)(1u << (i % 8)); }

static void give_up(stg_core_t *c, const char *why) {
    if (!c->att.active) return;
    c->att.active = false;
    c->stats.elections_lost++;
    c->avoid_slot = c->att.last_deny == STG_DENY_SLOT_TAKEN ? c->att.slot : -1;
    /* Anyone who granted us may forget it now. */
    send_slot_free(c, c->att.slot, c->att.release, c->att.id);
    if (c->grants[c->att.slot].holder == c->self) free_grant(c, (unsigned)c->att.slot, "we gave up");
    int64_t b = c->t.backoff_ms;
    c->backoff_until_ms = c->now + b / 2 + (int64_t)stg__rng_below(&c->rng, (uint32_t)(b + 1));
    stg__log(c, STG_LOG_INFO, "elect", "slot %d: gave up (%s); retrying after a backoff",
             c->att.slot, why);
}

static void send_vote(stg_core_t *c, int to, const stg_msg_t *req, stg_deny_t why) {
    stg_msg_t v;
    memset(&v, 0, sizeof v);
    v.type = STG_MSG_VOTE;
    v.slot = req->slot;
    memcpy(v.release, req->release, 8);
    v.attempt = req->attempt;
    v.ok = why == STG_DENY_NONE;
    v.reason = (uint8_t)why;
    stg__send(c, to, &v);
}

/* Voter: a candidate asks for a slot. Returns the decision (for self-votes). */
static stg_deny_t on_vote_req(stg_core_t *c, const stg_msg_t *m, int from) {
    if (m->slot >= c->roster->policy.batch) return STG_DENY_SLOT_TAKEN;
    /* A later attempt proves the candidate's earlier ones are over (it asks
     * only while not updating): a grant we still hold for one, on another
     * slot, whose slot-free was lost, goes. */
    for (unsigned s = 0; s < c->roster->policy.batch; s++)
        if (s != m->slot && c->grants[s].holder == from && c->grants[s].attempt < m->attempt)
            free_grant(c, s, "its holder has moved on to a later attempt");
    stg_deny_t why = voter_check(c, from, m->slot, m->release);
    grant_t *g = &c->grants[m->slot];
    /* The holder asking again: a later attempt means the earlier one is over
     * (a candidate asks only while it is not updating), so it replaces the
     * grant, started or not; an earlier attempt is a stale message. */
    if (why == STG_DENY_NONE && g->holder == from && m->attempt < g->attempt)
        why = STG_DENY_SLOT_TAKEN;
    c->stats.denials[why]++;
    if (why == STG_DENY_NONE) {
        if (g->holder == from && g->attempt != m->attempt) {
            g->attempt = m->attempt;
            g->started = false;
            g->at_ms = c->now;
            save(c);
        } else if (g->holder != from) {
            *g = (grant_t){.holder = from, .attempt = m->attempt, .started = false, .at_ms = c->now};
            memcpy(g->release, m->release, 8);
            c->stats.grants++;
            stg__log(c, STG_LOG_INFO, "elect", "slot %u: granted to %s", m->slot,
                     stg__mname(c, from));
            save(c); /* on disk before the answer: the action order guarantees it */
        }
    }
    if (from != c->self) send_vote(c, from, m, why);
    return why;
}

static bool on_start(stg_core_t *c, const stg_msg_t *m, int from) {
    grant_t *g = m->slot < 2 ? &c->grants[m->slot] : NULL;
    /* Only the attempt the grant was given to may start it: a START from an
     * attempt the candidate abandoned must not claim a grant renewed since. */
    bool ok = g && g->holder == from && g->attempt == m->attempt &&
              memcmp(g->release, m->release, 8) == 0;
    /* What the voter has learnt since granting counts: no help starting a
     * release it now knows failed, or in a fleet the operator halted. */
    if (ok && !g->started &&
        (c->halted || abandoned(c, m->release) ||
         (c->have_release && memcmp(m->release, c->release_id, 8) == 0 && failed_member(c) >= 0))) {
        ok = false;
        free_grant(c, m->slot, "the fleet halted or the release failed before it started");
    }
    if (ok && !g->started) {
        g->started = true;
        save(c);
    }
    if (from != c->self) {
        stg_msg_t a;
        memset(&a, 0, sizeof a);
        a.type = STG_MSG_START_ACK;
        a.slot = m->slot;
        a.attempt = m->attempt;
        memcpy(a.release, m->release, 8);
        a.ok = ok;
        stg__send(c, from, &a);
    }
    return ok;
}

static void count_ack(stg_core_t *c, int from, bool ok) {
    attempt_t *a = &c->att;
    if (!ok || bit(a->acked, from)) return;
    setbit(a->acked, from);
    a->nacked++;
    if ((int)a->nacked >= majority(c)) start_update(c);
}

static void send_starts(stg_core_t *c) {
    attempt_t *a = &c->att;
    a->start_sent = true;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_START;
    m.slot = (uint8_t)a->slot;
    m.attempt = a->id;
    memcpy(m.release, a->release, 8);
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if (!bit(a->granted, (int)i)) continue;
        if ((int)i == c->self) {
            if (on_start(c, &m, c->self)) count_ack(c, c->self, true);
            if (!a->active) return; /* won already: a one-member majority */
        } else {
            stg__send(c, (int)i, &m);
        }
    }
}

static void count_vote(stg_core_t *c, int from, bool ok, stg_deny_t why) {
    attempt_t *a = &c->att;
    /* A duplicated answer (the network repeats) counts once. */
    if (bit(a->granted, from) || bit(a->denied, from)) return;
    if (ok) {
        setbit(a->granted, from);
        a->ngranted++;
        if (!a->start_sent && (int)a->ngranted >= majority(c)) send_starts(c);
    } else {
        setbit(a->denied, from);
        a->ndenied++;
        a->last_deny = why;
        if ((int)(c->roster->nmembers - a->ndenied) < majority(c)) {
            char w[96];
            snprintf(w, sizeof w, "refused by a majority: %s", stg_deny_text(why));
            give_up(c, w);
        }
    }
}

bool stg__rollout_msg(stg_core_t *c, const stg_msg_t *m, int from) {
    attempt_t *a = &c->att;
    /* Answers count only for the attempt they answer: a late vote or ack from
     * an attempt given up on may come from a voter that has since granted
     * the slot to someone else. */
    bool mine = a->active && m->attempt == a->id && m->slot == a->slot &&
                memcmp(m->release, a->release, 8) == 0;
    switch (m->type) {
    case STG_MSG_VOTE_REQ: on_vote_req(c, m, from); return true;
    case STG_MSG_VOTE:
        if (mine)
            count_vote(c, from, m->ok,
                       m->reason < STG_DENY__COUNT ? (stg_deny_t)m->reason : STG_DENY_NONE);
        return true;
    case STG_MSG_START: on_start(c, m, from); return true;
    case STG_MSG_START_ACK:
        if (mine && a->start_sent) count_ack(c, from, m->ok);
        return true;
    case STG_MSG_SLOT_FREE:
        /* That attempt, or a later one of the same holder, is over. */
        if (m->slot < 2 && c->grants[m->slot].holder == from &&
            c->grants[m->slot].attempt <= m->attempt &&
            memcmp(c->grants[m->slot].release, m->release, 8) == 0)
            free_grant(c, m->slot, "its holder says it is done or gave up");
        return true;
    case STG_MSG_RELEASE_WANT:
        if (c->have_release && memcmp(m->release, c->release_id, 8) == 0) {
            stg_msg_t r;
            memset(&r, 0, sizeof r);
            r.type = STG_MSG_RELEASE;
            r.blob = c->release_env;
            r.blob_len = c->release_len;
            stg__send(c, from, &r);
        }
        return true;
    default: return false;
    }
}

/* ---- releases ---------------------------------------------------------- */

static bool newer(const stg_release_t *a, const uint8_t ida[8], const stg_release_t *b,
                  const uint8_t idb[8]) {
    if (a->created_at_s != b->created_at_s) return a->created_at_s > b->created_at_s;
    return memcmp(ida, idb, 8) > 0;
}

static int adopt(stg_core_t *c, const uint8_t *env, size_t len, const stg_release_t *rel,
                 const uint8_t id[8]) {
    if (!keep_copy(&c->release_env, &c->release_len, env, len)) return STG_ENOSPACE;
    c->release = *rel;
    memcpy(c->release_id, id, 8);
    c->have_release = true;
    return 0;
}

void stg__rollout_release(stg_core_t *c, const uint8_t *env, size_t len, int from) {
    /* The flood's repeats are byte-identical: drop them before any crypto. */
    if (c->have_release && len == c->release_len && memcmp(env, c->release_env, len) == 0) return;
    stg_release_t rel;
    stg_diag_t d = {0};
    if (stg_release_open(env, len, c->roster, &rel, &d) != 0) {
        stg__reject(c, &d, from);
        return;
    }
    if (strcmp(rel.component, c->component) != 0) return; /* another component's business */
    stg_envelope_t e;
    stg_envelope_parse(env, len, &e, NULL);
    uint8_t id[8];
    stg_release_id(e.payload, e.payload_len, id);
    if (c->have_release && memcmp(id, c->release_id, 8) == 0) return; /* flood echo */
    if (c->have_release && !newer(&rel, id, &c->release, c->release_id)) {
        stg_diag_set(&d, STG_REJECT_STALE, "release", "%s %s is older than the adopted %s",
                     rel.component, rel.version, c->release.version);
        stg__reject(c, &d, from);
        return;
    }
    if (adopt(c, env, len, &rel, id) != 0) return;
    char hex[17];
    id_hex(id, hex);
    stg__log(c, STG_LOG_INFO, "rollout", "adopted release %s %s (%s)", rel.component,
             rel.version, hex);
    save(c);
    if (!c->exec_have) {
        stg__sign_own(c); /* our record now names it (see stg__sign_own) */
        stg__push_own(c);
    }
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RELEASE;
    m.blob = c->release_env;
    m.blob_len = c->release_len;
    /* Records name the release, so a member the flood missed asks for it. */
    stg__flood(c, from, &m);
}

/* A record names a release we do not hold: ask its sender for it. */
void stg__rollout_record(stg_core_t *c, int idx) {
    const peer_t *p = &c->peers[idx];
    if (!p->rec.release[0] || idx == c->self) return;
    char hex[17] = "";
    if (c->have_release) id_hex(c->release_id, hex);
    if (strcmp(hex, p->rec.release) == 0) return;
    if (c->exec_have) {
        char e[17];
        id_hex(c->exec_id, e);
        if (strcmp(e, p->rec.release) == 0) return;
    }
    if (c->release_want_ms && c->now - c->release_want_ms < WANT_EVERY_MS) return;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RELEASE_WANT;
    size_t n = 0;
    if (sodium_hex2bin(m.release, 8, p->rec.release, strlen(p->rec.release), NULL, &n, NULL) != 0 ||
        n != 8)
        return;
    c->release_want_ms = c->now;
    stg__send(c, idx, &m);
}

/* ---- the tick ---------------------------------------------------------- */

/* ---- emergency paths (operator commands, command.c) -------------------- */

static bool open_release(stg_core_t *c, const uint8_t *env, size_t len, stg_release_t *rel,
                         uint8_t id[8]) {
    stg_envelope_t e;
    stg_diag_t d = {0};
    if (stg_release_open(env, len, c->roster, rel, &d) != 0 ||
        stg_envelope_parse(env, len, &e, NULL) != 0)
        return false;
    stg_release_id(e.payload, e.payload_len, id);
    return true;
}

static void start_emergency(stg_core_t *c) {
    stg_release_t rel;
    uint8_t id[8];
    c->emergency_pending = false;
    if (!open_release(c, c->pending_env, c->pending_len, &rel, id)) return;
    /* A normal update to the same release may have finished in the meantime. */
    if (strcmp(c->version, rel.version) == 0 ||
        (c->phase == STG_PHASE_DONE && c->exec_have && memcmp(c->exec_id, id, 8) == 0))
        return;
    set_exec_release(c, &rel, id, c->pending_env, c->pending_len);
    c->emergency = true;
    c->slot = -1;
    c->acks = 0;
    set_phase(c, STG_PHASE_ELECTED, "emergency update by operator command #%lld: no slot, no soak wait",
              (long long)c->emergency_seq);
    set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
    run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
}

void stg__rollout_save(stg_core_t *c) {
    save(c);
    stg__sign_own(c);
}

void stg__rollout_emergency_update(stg_core_t *c, const uint8_t *env, size_t len,
                                   int64_t spacing_s, int64_t seq, bool start) {
    stg_release_t rel;
    uint8_t id[8];
    if (!open_release(c, env, len, &rel, id)) return;
    /* The operator's word wins over created_at: an emergency downgrade is an update too. */
    if (!c->have_release || memcmp(id, c->release_id, 8) != 0) {
        adopt(c, env, len, &rel, id);
        char hex[17];
        id_hex(id, hex);
        stg__log(c, STG_LOG_INFO, "rollout", "adopted release %s %s (%s) from an operator command",
                 rel.component, rel.version, hex);
    }
    if (!start || strcmp(c->version, rel.version) == 0) return; /* not ours, or runs it already */
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, env, len);
    free(c->pending_env);
    c->pending_env = copy;
    c->pending_len = len;
    /* Spaced in the rollout order, so not every relay restarts at once. */
    int ord[STG_MEMBERS_MAX];
    unsigned n = order(c, ord), k = 0;
    for (unsigned i = 0; i < n && ord[i] != c->self; i++) k++;
    c->emergency_pending = true;
    c->emergency_seq = seq;
    c->emergency_at_ms = c->now + (int64_t)k * spacing_s * 1000;
    stg__log(c, STG_LOG_WARNING, "exec", "emergency update to %s %s in %llds (command #%lld)",
             rel.component, rel.version, (long long)(k * spacing_s), (long long)seq);
}

void stg__rollout_emergency_rollback(stg_core_t *c, int64_t seq) {
    c->emergency_pending = false;
    c->att.active = false;
    char why[96];
    snprintf(why, sizeof why, "operator rollback (command #%lld)", (long long)seq);
    switch (c->phase) {
    case STG_PHASE_ELECTED:
    case STG_PHASE_INSTALLING: c->rollback_after_install = true; return;
    case STG_PHASE_VERIFYING:
    case STG_PHASE_SOAKING: fail(c, why); return;
    case STG_PHASE_DONE:
    case STG_PHASE_IDLE:
        /* Done on the release, or running its version: put the old one back. */
        if (!c->have_release || strcmp(c->version, c->release.version) != 0) return;
        if (c->phase == STG_PHASE_IDLE || !c->exec_have || memcmp(c->exec_id, c->release_id, 8) != 0)
            set_exec_release(c, &c->release, c->release_id, c->release_env, c->release_len);
        snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
        set_phase(c, STG_PHASE_ROLLING_BACK, "%s", why);
        run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        return;
    default: return;
    }
}

static void expire_grants(stg_core_t *c) {
    for (unsigned s = 0; s < c->roster->policy.batch; s++) {
        grant_t *g = &c->grants[s];
        if (g->holder < 0) continue;
        if ((unsigned)g->holder >= c->roster->nmembers) {
            free_grant(c, s, "holder left the roster");
            continue;
        }
        if (!g->started && c->now - g->at_ms > c->t.start_bound_ms) {
            free_grant(c, s, "never started");
            continue;
        }
        if (g->holder == c->self && !c->att.active && !stg_phase_updating(c->phase)) {
            /* Our own attempt did not survive a restart (it is not in the
             * journal), so nobody updates under this grant; a started one
             * would otherwise be held for ever, here and by whoever
             * acknowledged our start. */
            send_slot_free(c, (int)s, g->release, g->attempt);
            free_grant(c, s, "our attempt ended with a restart");
            continue;
        }
        if (g->holder != c->self && rec_about(c, g->holder, g->release)) {
            stg_phase_t ph = rec_phase(c, g->holder);
            if ((ph == STG_PHASE_DONE || ph == STG_PHASE_ROLLED_BACK) &&
                c->peers[g->holder].rec.phase_since_ms >= g->at_ms - c->t.start_bound_ms)
                free_grant(c, s, ph == STG_PHASE_DONE ? "holder finished" : "holder rolled back");
        }
    }
}

static void campaign(stg_core_t *c) {
    if (c->phase != STG_PHASE_IDLE && c->phase != STG_PHASE_DONE &&
        c->phase != STG_PHASE_ROLLED_BACK)
        return;
    if (!c->have_release || c->att.active || c->now < c->backoff_until_ms) return;
    if (done_on(c, c->self) || failed_on(c, c->self, c->release_id) ||
        abandoned(c, c->release_id) || c->emergency_pending)
        return;
    /* Ask only when our own rule says we are next: voters apply the same. */
    /* The lowest slot free in our view, but not the one a majority just said
     * is taken: that one went to someone whose grant we did not see. */
    int slot = -1;
    for (unsigned s = 0; s < c->roster->policy.batch; s++)
        if ((c->grants[s].holder < 0 || c->grants[s].holder == c->self) &&
            (slot < 0 || slot == c->avoid_slot)) {
            slot = (int)s;
            if (slot != c->avoid_slot) break;
        }
    if (slot < 0) return;
    if (voter_check(c, c->self, (unsigned)slot, c->release_id) != STG_DENY_NONE) return;
    if (c->now >= c->gate_ok_until_ms) {
        if (!c->gate_running) {
            c->gate_running = true;
            run_hook(c, STG_HOOK_GATE, &c->release);
        }
        return;
    }
    attempt_t *a = &c->att;
    memset(a, 0, sizeof *a);
    a->active = true;
    a->id = ((uint64_t)c->inc << 24) + (++c->attempts & 0xffffff);
    a->slot = slot;
    memcpy(a->release, c->release_id, 8);
    a->began_ms = c->now;
    stg__log(c, STG_LOG_INFO, "elect", "slot %d: asking the fleet to update to %s", slot,
             c->release.version);
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_VOTE_REQ;
    m.slot = (uint8_t)slot;
    m.attempt = a->id;
    memcpy(m.release, c->release_id, 8);
    stg_deny_t self = on_vote_req(c, &m, c->self);
    count_vote(c, c->self, self == STG_DENY_NONE, self);
    if (!a->active) return;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if ((int)i != c->self) stg__send(c, (int)i, &m);
}

static void explain(stg_core_t *c) {
    char *w = c->waiting;
    size_t cap = sizeof c->waiting;
    if (!c->have_release) {
        snprintf(w, cap, "no release published");
        return;
    }
    int f = failed_member(c);
    if (c->halted) snprintf(w, cap, "halted by the operator");
    else if (abandoned(c, c->release_id))
        snprintf(w, cap, "abandoned: the operator gave up on %s %s; publish a newer release",
                 c->release.component, c->release.version);
    else if (f >= 0)
        snprintf(w, cap, "halted: %s %s failed on %s: %s; resume or abandon it",
                 c->release.component, c->release.version, stg__mname(c, f),
                 c->peers[f].rec.phase_detail);
    else if (pending_count(c) == 0)
        snprintf(w, cap, "done: every member runs %s %s", c->release.component,
                 c->release.version);
    else {
        int el[STG_MEMBERS_MAX];
        unsigned n = eligible(c, el);
        unsigned held = c->roster->policy.batch - free_slots(c, -1);
        if (held == c->roster->policy.batch) {
            int h = c->grants[0].holder;
            snprintf(w, cap, "wave in progress: %s %s", h >= 0 ? stg__mname(c, h) : "?",
                     h >= 0 && c->peers[h].have ? c->peers[h].rec.phase : "");
        } else if (n == 0) {
            snprintf(w, cap, "waiting: the members still to update are busy or unavailable");
        } else {
            stg_deny_t why = voter_check(c, el[0], 0, c->release_id);
            if (why == STG_DENY_PROOF) {
                proof_t pf = proof(c, c->now);
                if (pf.blocker >= 0)
                    snprintf(w, cap, "proof: waiting for %s", stg__mname(c, pf.blocker));
                else if (pf.epochs_left > 0)
                    snprintf(w, cap, "proof: %lld epoch boundar%s left, next at %lld ms",
                             (long long)pf.epochs_left, pf.epochs_left == 1 ? "y" : "ies",
                             (long long)pf.next_boundary_ms);
                else
                    snprintf(w, cap, "proof: soaking, %lld s left",
                             (long long)(pf.soak_left_ms + 999) / 1000);
            } else if (why == STG_DENY_NONE || why == STG_DENY_SLOT_TAKEN) {
                snprintf(w, cap, "next: %s", stg__mname(c, el[0]));
            } else {
                snprintf(w, cap, "next %s waits: %s", stg__mname(c, el[0]), stg_deny_text(why));
            }
        }
    }
}

void stg__rollout_tick(stg_core_t *c) {
    if (c->self < 0) return;
    /* Resume after a restart (set up by rollout_init). */
    if (!c->hook_running) {
        if (c->phase == STG_PHASE_ELECTED) {
            set_phase(c, STG_PHASE_INSTALLING, "running the install hook");
            run_hook(c, STG_HOOK_INSTALL, &c->exec_rel);
        } else if (c->phase == STG_PHASE_VERIFYING && c->rollback_after_install) {
            /* Restarted during an install the operator had ordered rolled
             * back: what is there is not kept. */
            c->rollback_after_install = false;
            fail(c, "the operator ordered a rollback during the install");
        } else if (c->phase == STG_PHASE_ROLLING_BACK) {
            run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        } else if (c->phase == STG_PHASE_FAILED && c->slot >= 0 &&
                   strstr(c->exec_detail, "rollback hook failed") == NULL) {
            set_phase(c, STG_PHASE_ROLLING_BACK, "resuming the rollback");
            run_hook(c, STG_HOOK_ROLLBACK, &c->exec_rel);
        }
    }
    if (c->phase == STG_PHASE_VERIFYING && c->now > c->deadline_ms) {
        char why[128];
        snprintf(why, sizeof why, "not healthy on %s within %llds", c->exec_rel.version,
                 (long long)c->roster->policy.health_deadline_s);
        fail(c, why);
    }
    if (c->phase == STG_PHASE_SOAKING &&
        c->now >= c->phase_since_ms + c->roster->policy.soak_s * 1000) {
        set_phase(c, STG_PHASE_DONE, "healthy on %s for %llds", c->exec_rel.version,
                  (long long)c->roster->policy.soak_s);
        release_slot(c);
        c->emergency = false;
    }
    if (c->emergency_pending && c->now >= c->emergency_at_ms &&
        (c->phase == STG_PHASE_IDLE || c->phase == STG_PHASE_DONE ||
         c->phase == STG_PHASE_ROLLED_BACK))
        start_emergency(c);
    expire_grants(c);
    if (c->att.active && c->now - c->att.began_ms > c->t.start_bound_ms / 2)
        give_up(c, "no majority in time");
    campaign(c);
    explain(c);
}

int64_t stg__rollout_wakeup(const stg_core_t *c) {
    int64_t w = INT64_MAX;
    if (c->phase == STG_PHASE_SOAKING) w = c->phase_since_ms + c->roster->policy.soak_s * 1000;
    if (c->phase == STG_PHASE_VERIFYING && c->deadline_ms + 1 < w) w = c->deadline_ms + 1;
    if (c->att.active && c->att.began_ms + c->t.start_bound_ms / 2 + 1 < w)
        w = c->att.began_ms + c->t.start_bound_ms / 2 + 1;
    for (unsigned s = 0; s < 2; s++)
        if (c->grants[s].holder >= 0 && !c->grants[s].started &&
            c->grants[s].at_ms + c->t.start_bound_ms + 1 < w)
            w = c->grants[s].at_ms + c->t.start_bound_ms + 1;
    if (c->have_release && c->phase == STG_PHASE_IDLE && c->backoff_until_ms > c->now &&
        c->backoff_until_ms < w)
        w = c->backoff_until_ms;
    /* Waiting on time-based rules (soak, epochs, windows): look again each second. */
    if (c->have_release && c->now + 1000 < w) w = c->now + 1000;
    return w;
}

void stg__rollout_roster_changed(stg_core_t *c) {
    c->rank_valid = false;
    if (!c->peers || !c->roster) return;
    /* Grants were carried across by key (core.c); a campaign in flight
     * counted votes by index, so it starts over. */
    if (c->att.active) c->att.active = false;
}

/* ---- journal load ------------------------------------------------------ */

static void b64_load(json_t *j, uint8_t **out, size_t *len) {
    const char *s = json_string_value(j);
    *out = NULL;
    *len = 0;
    if (!s || !*s) return;
    size_t cap = strlen(s);
    uint8_t *b = malloc(cap);
    if (!b) return;
    if (sodium_base642bin(b, cap, s, strlen(s), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(b);
        *len = 0;
        return;
    }
    *out = b;
}

void stg__rollout_init(stg_core_t *c, const uint8_t *journal, size_t len) {
    c->slot = -1;
    c->avoid_slot = -1;
    c->phase = STG_PHASE_IDLE;
    for (unsigned s = 0; s < 2; s++) c->grants[s].holder = -1;
    if (!journal || !len) return;
    stg_diag_t d = {0};
    json_t *j = stg_json_parse(journal, len, &d);
    if (!j) return;
    uint8_t *env;
    size_t elen;
    b64_load(json_object_get(j, "release"), &env, &elen);
    if (env) {
        stg_release_t rel;
        stg_envelope_t e;
        if (stg_release_open(env, elen, c->roster, &rel, &d) == 0 &&
            stg_envelope_parse(env, elen, &e, NULL) == 0) {
            uint8_t id[8];
            stg_release_id(e.payload, e.payload_len, id);
            adopt(c, env, elen, &rel, id);
        }
        free(env);
    }
    const char *phname = json_string_value(json_object_get(j, "phase"));
    int ph = phname ? stg_phase_from_name(phname) : -1;
    b64_load(json_object_get(j, "exec_env"), &env, &elen);
    stg_release_t xrel;
    stg_envelope_t xe;
    if (ph > 0 && env && stg_release_open(env, elen, c->roster, &xrel, &d) == 0 &&
        stg_envelope_parse(env, elen, &xe, NULL) == 0) {
        uint8_t xid[8];
        stg_release_id(xe.payload, xe.payload_len, xid);
        set_exec_release(c, &xrel, xid, env, elen);
        c->phase = (stg_phase_t)ph;
        c->phase_since_ms = json_integer_value(json_object_get(j, "since_ms"));
        c->slot = (int)json_integer_value(json_object_get(j, "slot"));
        c->acks = (unsigned)json_integer_value(json_object_get(j, "acks"));
        c->deadline_ms = json_integer_value(json_object_get(j, "deadline_ms"));
        const char *det = json_string_value(json_object_get(j, "detail"));
        snprintf(c->exec_detail, sizeof c->exec_detail, "%s", det ? det : "");
        /* An install cut short is verified, then finished or rolled back. */
        if (c->phase == STG_PHASE_INSTALLING) {
            c->phase = STG_PHASE_VERIFYING;
            c->deadline_ms = c->now + c->roster->policy.health_deadline_s * 1000;
            c->install_cut_short = true;
            snprintf(c->exec_detail, sizeof c->exec_detail,
                     "restarted during install: verifying what is there");
        }
    }
    free(env);
    c->halted = json_is_true(json_object_get(j, "halted"));
    c->emergency = json_is_true(json_object_get(j, "emergency"));
    c->rollback_after_install = json_is_true(json_object_get(j, "rollback_after_install"));
    const char *ab = json_string_value(json_object_get(j, "abandoned"));
    size_t hn = 0;
    if (ab && sodium_hex2bin(c->abandoned_id, 8, ab, strlen(ab), NULL, &hn, NULL) == 0 && hn == 8)
        c->abandoned = true;
    json_t *fg = json_object_get(j, "forgive");
    const char *fr = json_string_value(json_object_get(fg, "release"));
    if (fr && sodium_hex2bin(c->forgive_id, 8, fr, strlen(fr), NULL, &hn, NULL) == 0 && hn == 8)
        c->forgive_before_ms = json_integer_value(json_object_get(fg, "before_ms"));
    json_t *ep = json_object_get(j, "emergency_pending");
    b64_load(json_object_get(ep, "env"), &c->pending_env, &c->pending_len);
    if (c->pending_env) {
        c->emergency_pending = true;
        c->emergency_at_ms = json_integer_value(json_object_get(ep, "at_ms"));
    }
    json_t *gs = json_object_get(j, "grants");
    for (unsigned s = 0; s < 2 && s < json_array_size(gs); s++) {
        json_t *g = json_array_get(gs, s);
        const char *holder = json_string_value(json_object_get(g, "holder"));
        const char *rh = json_string_value(json_object_get(g, "release"));
        int h = holder && *holder ? stg_roster_find_name(c->roster, holder) : -1;
        size_t n = 0;
        if (h < 0 || !rh ||
            sodium_hex2bin(c->grants[s].release, 8, rh, strlen(rh), NULL, &n, NULL) != 0 || n != 8)
            continue;
        c->grants[s].holder = h;
        c->grants[s].started = json_is_true(json_object_get(g, "started"));
        c->grants[s].at_ms = json_integer_value(json_object_get(g, "at_ms"));
        c->grants[s].attempt = (uint64_t)json_integer_value(json_object_get(g, "attempt"));
    }
    c->slot_attempt = (uint64_t)json_integer_value(json_object_get(j, "slot_attempt"));
    json_decref(j);
}

void stg__rollout_free(stg_core_t *c) {
    free(c->release_env);
    free(c->exec_env);
    free(c->pending_env);
    c->release_env = c->exec_env = c->pending_env = NULL;
}

/* ---- views ------------------------------------------------------------- */

void stg_core_exec(const stg_core_t *c, stg_exec_view_t *out) {
    memset(out, 0, sizeof *out);
    out->phase = c->phase;
    out->slot = c->slot;
    out->acks = c->acks;
    out->have_release = c->exec_have;
    if (c->exec_have) {
        out->release = c->exec_rel;
        memcpy(out->release_id, c->exec_id, 8);
    }
    out->since_ms = c->phase_since_ms;
    out->emergency = c->emergency;
    snprintf(out->detail, sizeof out->detail, "%s", c->exec_detail);
}

void stg_core_exec_brief(const stg_core_t *c, stg_exec_brief_t *out) {
    memset(out, 0, sizeof *out);
    out->phase = c->phase;
    out->slot = c->slot;
    out->acks = c->acks;
    out->have_release = c->exec_have;
    if (c->exec_have) memcpy(out->release_id, c->exec_id, 8);
    out->since_ms = c->phase_since_ms;
    out->emergency = c->emergency;
}

int64_t stg_core_cmd_seq(const stg_core_t *c) { return c->cmd_seq; }
bool stg_core_halted(const stg_core_t *c) { return c->halted; }

int stg_core_failed_member(const stg_core_t *c, const uint8_t id[8]) {
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (failed_on(c, (int)i, id)) return (int)i;
    return -1;
}

const stg_release_t *stg_core_release(const stg_core_t *c, uint8_t id[8]) {
    if (!c->have_release) return NULL;
    if (id) memcpy(id, c->release_id, 8);
    return &c->release;
}

int stg_core_grant(const stg_core_t *c, unsigned slot, uint8_t release_id[8], bool *started) {
    if (slot >= 2) return -1;
    if (release_id) memcpy(release_id, c->grants[slot].release, 8);
    if (started) *started = c->grants[slot].started;
    return c->grants[slot].holder;
}

json_t *stg__rollout_status(const stg_core_t *c, int64_t now) {
    json_t *o = json_object();
    json_object_set_new(o, "waiting", json_string(c->waiting));
    json_object_set_new(o, "halted", json_boolean(c->halted));
    if (!c->have_release) {
        json_object_set_new(o, "release", json_null());
        return o;
    }
    char hex[17];
    id_hex(c->release_id, hex);
    json_object_set_new(o, "release",
                        json_pack("{s:s, s:s, s:s, s:I}", "component", c->release.component,
                                  "version", c->release.version, "id", hex, "created_at",
                                  (json_int_t)c->release.created_at_s));
    json_t *wave = json_array();
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if (!updating(c, (int)i)) continue;
        const peer_t *p = &c->peers[i];
        json_t *w = json_pack("{s:s, s:s, s:I}", "name", stg__mname(c, (int)i), "phase",
                              p->rec.phase, "since_ms", (json_int_t)p->rec.phase_since_ms);
        if (rec_phase(c, (int)i) == STG_PHASE_SOAKING) {
            int64_t left = p->rec.phase_since_ms + c->roster->policy.soak_s * 1000 - now;
            json_object_set_new(w, "soak_left_ms", json_integer(left > 0 ? left : 0));
        }
        json_array_append_new(wave, w);
    }
    json_object_set_new(o, "wave", wave);
    int el[STG_MEMBERS_MAX];
    unsigned n = eligible(c, el);
    json_t *next = json_array();
    for (unsigned i = 0; i < n && i < c->roster->policy.batch; i++)
        json_array_append_new(next, json_string(stg__mname(c, el[i])));
    json_object_set_new(o, "next", next);
    json_object_set_new(o, "pending", json_integer((json_int_t)pending_count(c)));
    int f = failed_member(c);
    json_object_set_new(o, "failed", f >= 0 ? json_pack("{s:s, s:s}", "node", stg__mname(c, f),
                                                        "detail", c->peers[f].rec.phase_detail)
                                            : json_null());
    proof_t pf = proof(c, now);
    json_object_set_new(o, "proof", json_pack("{s:b, s:I, s:I, s:I}", "holds", pf.holds,
                                              "soak_left_ms", (json_int_t)pf.soak_left_ms,
                                              "epochs_left", (json_int_t)pf.epochs_left,
                                              "next_boundary_ms",
                                              (json_int_t)pf.next_boundary_ms));
    return o;
}
