/* test_policy.c: the rollout's pure rules (node/core/policy.c), table by
 * table: the update order, the predicates the rules rest on (done, failed,
 * updating, free slots, majority), update windows, the producer's epoch
 * guard, the proof timed on the voter's clock, the voter's check with
 * one row for each refusal it can give, and the fleet-wide capabilities
 * with the client commands that wait for them; and that our own record is
 * signed however long its fields. Every row is its own cmocka test,
 * named "table: case".
 *
 * The calendar rules (windows, the epoch guard, boundaries) take only a
 * policy and a time and are also checked on their own. The other rules
 * take a whole core: each test makes a real one from a signed
 * roster (stg_core_new), then sets the state the rule reads directly
 * (node/core/internal.h), starting from ready(): every member alive,
 * healthy, idle on version 1.0, release A (2.0) adopted, no grant, in the
 * middle of an epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "internal.h"

/* ---- the fleet -------------------------------------------------------------
 * Eight members shaped like a stake pool. The default holdback pair (§4.3)
 * is n01 (the first standby) and n06 (the first dark relay). This node, the
 * voter, is n07 (n00 in the smaller fleets of the majority table). */

#define NMEMBERS 8

static const struct {
    const char *name, *role, *flavour;
} FLEET[NMEMBERS] = {
    {"n00", "producer", "debian"}, {"n01", "standby", "nix"},
    {"n02", "relay", "debian"},    {"n03", "relay", "nix"},
    {"n04", "relay", "debian"},    {"n05", "relay", "nix"},
    {"n06", "dark-relay", "debian"}, {"n07", "dark-relay", "nix"},
};

#define SOAK_S 100
#define EPOCH_START_S 1000
#define EPOCH_LEN_S 1000
#define GUARD_S 100
#define POLICY                                                                      \
    "{\"batch\":1,\"soak_s\":100,\"unavailable_max\":1,\"epoch\":{\"start_s\":1000," \
    "\"length_s\":1000,\"proof_epochs\":1,\"guard_s\":100}}"

/* Epoch boundary k, in ms, and the middle of epoch 10: no boundary near. */
#define BOUNDARY_MS(k) ((EPOCH_START_S + (int64_t)(k) * EPOCH_LEN_S) * 1000)
#define T0 (BOUNDARY_MS(10) + 500000)

static const uint8_t ID_A[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* the adopted release */
static const uint8_t ID_B[8] = {0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17};

/* The order for release A (the "order" table checks it): n03 goes first,
 * n02 second. */
#define FIRST "n03"
#define SECOND "n02"

#define HEALTHY STG_HEALTH_HEALTHY
#define UNHEALTHY STG_HEALTH_UNHEALTHY

typedef struct {
    stg_seckey_t keys[NMEMBERS], op; /* the core borrows its key */
    stg_core_t *c;
    const void *row;
} fx_t;

static stg_seckey_t seed_key(uint8_t tag) {
    uint8_t seed[32] = {tag, 0x70, 0x6f, 0x6c};
    stg_seckey_t k;
    assert_int_equal(stg_seckey_from_seed(&k, seed), 0);
    return k;
}

/* The first n members of FLEET; below eight the holdback is n01 alone,
 * marked, since the default pair needs a standby and a relay. */
static fx_t *fx_new_with(unsigned n, const char *policy, const char *extra1, const char *extra2);

static fx_t *fx_new(unsigned n) { return fx_new_with(n, POLICY, NULL, NULL); }

/* fx_new with this policy and up to two more components of ours. */
static fx_t *fx_new_with(unsigned n, const char *policy, const char *extra1, const char *extra2) {
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->op = seed_key(0xff);
    json_t *members = json_array();
    for (unsigned i = 0; i < n; i++) {
        f->keys[i] = seed_key((uint8_t)i);
        char key[STG_KEY_B64_LEN + 1], ep[32];
        stg_pubkey_to_b64(&f->keys[i].pub, key);
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", 7000 + i);
        json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", FLEET[i].name, "key", key,
                              "endpoint", ep, "role", FLEET[i].role, "flavour", FLEET[i].flavour);
        if (n < NMEMBERS && i == 1) json_object_set_new(m, "holdback", json_true());
        json_array_append_new(members, m);
    }
    char opk[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(&f->op.pub, opk);
    json_t *r = json_pack("{s:s, s:i, s:[s], s:o, s:o}", "fleet", "test", "serial", 1, "operators",
                          opk, "members", members, "policy", json_loads(policy, 0, NULL));
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    assert_non_null(text);
    static uint8_t env[65536];
    size_t len = 0;
    assert_int_equal(stg_envelope_seal(STG_DOC_ROSTER, (const uint8_t *)text, strlen(text), &f->op,
                                       env, sizeof env, &len), 0);
    free(text);
    stg_core_config_t cfg = {.key = &f->keys[n < NMEMBERS ? 0 : 7], .roster_env = env,
                             .roster_len = len, .incarnation = 1, .seed = 1};
    snprintf(cfg.component, sizeof cfg.component, "cardano-node");
    const char *extra[] = {extra1, extra2};
    for (unsigned k = 0; k < 2 && extra[k]; k++)
        snprintf(cfg.extra_components[cfg.nextra++], sizeof cfg.extra_components[0], "%s", extra[k]);
    stg_core_tuning_default(&cfg.tuning);
    stg_diag_t d = {0};
    f->c = stg_core_new(&cfg, BOUNDARY_MS(5), &d);
    if (!f->c) fail_msg("stg_core_new: %s", d.msg);
    return f;
}

static void fx_destroy(fx_t **f) {
    stg_core_destroy(&(*f)->c);
    free(*f);
    *f = NULL;
}

static int member(const fx_t *f, const char *name) {
    int i = stg_roster_find_name(f->c->roster, name);
    if (i < 0) fail_msg("no member %s", name);
    return i;
}

static peer_t *peer(fx_t *f, const char *name) { return &f->c->peers[member(f, name)]; }

/* Member name's record, as this node holds it. about: the release its phase
 * is about, or NULL for "". */
static void set_rec(fx_t *f, const char *name, const char *phase, const uint8_t *about,
                    const char *version, stg_health_t health) {
    peer_t *p = peer(f, name);
    p->have = true;
    p->live = STG_LIVE_ALIVE;
    p->rec.inc = 1;
    p->rec.seq = 10;
    int ph = stg_phase_from_name(phase); /* the record codec refuses any other */
    assert_true(ph >= 0);
    p->rec.phase = (stg_phase_t)ph;
    p->rec.release[0] = '\0';
    if (about) stg__id_hex(about, p->rec.release);
    snprintf(p->rec.version, sizeof p->rec.version, "%s", version);
    snprintf(p->rec.component, sizeof p->rec.component, "%s", f->c->comps[0].name);
    p->rec.health = health;
}

static void done(fx_t *f, const char *name) {
    set_rec(f, name, "done", ID_A, "2.0", HEALTHY);
}

static void grant(fx_t *f, unsigned slot, const char *holder, const uint8_t *id) {
    grant_t *g = &f->c->grants[slot];
    g->holder = member(f, holder);
    g->attempt = 1;
    memcpy(g->release, id, 8);
}

static void ready(fx_t *f) {
    stg_core_t *c = f->c;
    c->R->have_release = true;
    memset(&c->R->release, 0, sizeof c->R->release);
    snprintf(c->R->release.component, sizeof c->R->release.component, "cardano-node");
    snprintf(c->R->release.version, sizeof c->R->release.version, "2.0");
    memcpy(c->R->release_id, ID_A, 8);
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        set_rec(f, c->roster->members[i].name, "idle", ID_A, "1.0", HEALTHY);
    c->now = T0;
}

/* Every member before name in the order runs the release: name is next. */
static void make_next(fx_t *f, const char *name) {
    int ord[STG_MEMBERS_MAX];
    unsigned n = stg__order(f->c, ord);
    for (unsigned i = 0; i < n && ord[i] != member(f, name); i++)
        done(f, f->c->roster->members[ord[i]].name);
}

static void expect_deny(stg_deny_t got, stg_deny_t want) {
    if (got != want)
        fail_msg("the voter says \"%s\", want \"%s\"", stg_deny_text(got), stg_deny_text(want));
}

/* Each row's test gets a fresh fleet; the row rides in initial_state. */
static int fx_setup(void **state) {
    const void *row = *state;
    fx_t *f = fx_new(NMEMBERS);
    f->row = row;
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    fx_t *f = *state;
    fx_destroy(&f);
    return 0;
}

/* ---- the order (docs/protocol.md §9.3) -------------------------------------
 * Expected orders worked out from the text of §9.3 alone, with Python's
 * hashlib.blake2b(digest_size=8), not from the code. */

typedef struct {
    const char *name;
    const uint8_t *id;
    const char *order[NMEMBERS];
} order_row_t;

static const order_row_t ORDER_ROWS[] = {
    {.name = "release A: relays by flavour in turn, producer, holdback last",
     .id = ID_A, .order = {"n03", "n02", "n05", "n04", "n07", "n00", "n01", "n06"}},
    {.name = "release B: another release, another order inside the stages",
     .id = ID_B, .order = {"n05", "n02", "n03", "n04", "n07", "n00", "n01", "n06"}},
    {.name = "release 0: the holdback pair reorders too",
     .id = (const uint8_t[8]){0},
     .order = {"n02", "n03", "n04", "n05", "n07", "n00", "n06", "n01"}},
};

static void run_order(void **state) {
    fx_t *f = *state;
    const order_row_t *r = f->row;
    memcpy(f->c->R->release_id, r->id, 8);
    int ord[STG_MEMBERS_MAX];
    unsigned n = stg__order(f->c, ord);
    assert_int_equal(n, NMEMBERS);
    for (unsigned i = 0; i < n; i++)
        if (ord[i] != member(f, r->order[i]))
            fail_msg("position %u: %s, want %s", i, stg__mname(f->c, ord[i]), r->order[i]);
}

/* Over many releases: stages in order, the holdback pair last, and inside
 * the relays' stage (two debian, two nix) the flavours take turns. */
static void order_shape(void **state) {
    fx_t *f = *state;
    for (unsigned k = 0; k < 256; k++) {
        uint8_t id[8] = {(uint8_t)k, (uint8_t)(k * 7), 0x5a};
        memcpy(f->c->R->release_id, id, 8);
        int ord[STG_MEMBERS_MAX];
        unsigned n = stg__order(f->c, ord);
        assert_int_equal(n, NMEMBERS);
        const stg_member_t *m[NMEMBERS];
        for (unsigned i = 0; i < n; i++) m[i] = &f->c->roster->members[ord[i]];
        for (unsigned i = 0; i < 4; i++) assert_int_equal(m[i]->role, STG_ROLE_RELAY);
        for (unsigned i = 1; i < 4; i++) assert_string_not_equal(m[i]->flavour, m[i - 1]->flavour);
        assert_string_equal(m[4]->name, "n07");
        assert_string_equal(m[5]->name, "n00");
        assert_true(m[6]->holdback && m[7]->holdback);
    }
}

/* ---- done, failed, updating (§9.3) ------------------------------------------ */

typedef struct {
    const char *name;
    bool no_record, no_release;
    const char *phase, *version;
    const uint8_t *about;
    int cleared;                  /* 1: the operator cleared this very record;
                                     -1: the one before it */
    bool want_done, want_failed, want_updating;
} state_row_t;

static const state_row_t STATE_ROWS[] = {
    {.name = "no record (a stale one said done)", .no_record = true, .phase = "done",
     .about = ID_A, .version = "2.0"},
    {.name = "no record (a stale one said failed)", .no_record = true, .phase = "failed",
     .about = ID_A, .version = "2.0"},
    {.name = "no release adopted", .no_release = true, .phase = "done", .about = ID_A,
     .version = "2.0"},
    {.name = "idle on the old version", .phase = "idle", .about = ID_A, .version = "1.0"},
    {.name = "idle, already on the release's version", .phase = "idle", .about = ID_A,
     .version = "2.0", .want_done = true},
    {.name = "done on the release", .phase = "done", .about = ID_A, .version = "2.0",
     .want_done = true},
    {.name = "done on the release, reporting another version", .phase = "done", .about = ID_A,
     .version = "2.0-rc1", .want_done = true},
    {.name = "done on an older release", .phase = "done", .about = ID_B, .version = "1.0"},
    {.name = "done on an older release of the same version", .phase = "done", .about = ID_B,
     .version = "2.0", .want_done = true},
    {.name = "elected", .phase = "elected", .about = ID_A, .version = "1.0", .want_updating = true},
    {.name = "installing", .phase = "installing", .about = ID_A, .version = "1.0",
     .want_updating = true},
    {.name = "verifying", .phase = "verifying", .about = ID_A, .version = "2.0",
     .want_updating = true},
    {.name = "soaking on the new version is not done yet", .phase = "soaking", .about = ID_A,
     .version = "2.0", .want_updating = true},
    {.name = "failed", .phase = "failed", .about = ID_A, .version = "2.0", .want_failed = true,
     .want_updating = true},
    {.name = "rolling back", .phase = "rolling-back", .about = ID_A, .version = "2.0",
     .want_failed = true, .want_updating = true},
    {.name = "rolled back", .phase = "rolled-back", .about = ID_A, .version = "1.0",
     .want_failed = true},
    {.name = "rolled back on the release's version", .phase = "rolled-back", .about = ID_A,
     .version = "2.0", .want_failed = true},
    {.name = "failed on an older release: holds a slot, not this release", .phase = "failed",
     .about = ID_B, .version = "1.0", .want_updating = true},
    {.name = "rolled back from an older release", .phase = "rolled-back", .about = ID_B,
     .version = "1.0"},
    {.name = "installing, that record cleared by the operator", .phase = "installing",
     .about = ID_A, .version = "1.0", .cleared = 1},
    {.name = "installing, a record newer than the cleared one", .phase = "installing",
     .about = ID_A, .version = "1.0", .cleared = -1, .want_updating = true},
};

static void run_state(void **state) {
    fx_t *f = *state;
    const state_row_t *r = f->row;
    ready(f);
    set_rec(f, "n03", r->phase, r->about, r->version, HEALTHY);
    peer_t *p = peer(f, "n03");
    p->have = !r->no_record;
    f->c->R->have_release = !r->no_release;
    if (r->cleared) {
        p->cleared = true;
        p->cleared_inc = p->rec.inc;
        p->cleared_seq = r->cleared > 0 ? p->rec.seq : p->rec.seq - 1;
    }
    int i = member(f, "n03");
    assert_int_equal(stg__done_on(f->c, i), r->want_done);
    assert_int_equal(stg__failed_on(f->c, i, ID_A), r->want_failed);
    assert_int_equal(stg__updating(f->c, i), r->want_updating);
    /* What the voter's check and status read: n03 is the only candidate to fail. */
    assert_int_equal(stg__failed_member(f->c), r->want_failed ? i : -1);
    assert_int_equal(stg__pending_count(f->c), NMEMBERS - (unsigned)r->want_done);
}

/* ---- eligible: who could start now, in order (§9.3) ------------------------- */

typedef struct {
    const char *name;
    void (*set)(fx_t *f);
    const char *gone;             /* the member the change takes off the list */
} eligible_row_t;

static void n05_done(fx_t *f) { done(f, "n05"); }
static void n05_failed(fx_t *f) { set_rec(f, "n05", "rolled-back", ID_A, "1.0", HEALTHY); }
static void n05_installing(fx_t *f) { set_rec(f, "n05", "installing", ID_A, "1.0", HEALTHY); }
static void n05_granted(fx_t *f) { grant(f, 0, "n05", ID_A); }
static void n05_unhealthy(fx_t *f) { peer(f, "n05")->rec.health = UNHEALTHY; }
static void n05_health_unknown(fx_t *f) { peer(f, "n05")->rec.health = STG_HEALTH_UNKNOWN; }
static void n05_suspect(fx_t *f) { peer(f, "n05")->live = STG_LIVE_SUSPECT; }
static void n05_dead(fx_t *f) { peer(f, "n05")->live = STG_LIVE_DEAD; }
static void n05_unheard(fx_t *f) { peer(f, "n05")->have = false; }

static const eligible_row_t ELIGIBLE_ROWS[] = {
    {.name = "done", .set = n05_done, .gone = "n05"},
    {.name = "failed on the release", .set = n05_failed, .gone = "n05"},
    {.name = "updating", .set = n05_installing, .gone = "n05"},
    {.name = "holds our grant", .set = n05_granted, .gone = "n05"},
    {.name = "unhealthy", .set = n05_unhealthy, .gone = "n05"},
    {.name = "health unknown", .set = n05_health_unknown, .gone = "n05"},
    {.name = "suspect", .set = n05_suspect, .gone = "n05"},
    {.name = "dead", .set = n05_dead, .gone = "n05"},
    {.name = "never heard of", .set = n05_unheard, .gone = "n05"},
    {.name = "nothing in the way", .set = NULL, .gone = NULL},
};

static void run_eligible(void **state) {
    fx_t *f = *state;
    const eligible_row_t *r = f->row;
    ready(f);
    if (r->set) r->set(f);
    int ord[STG_MEMBERS_MAX], el[STG_MEMBERS_MAX];
    unsigned n = stg__order(f->c, ord), k = 0;
    for (unsigned i = 0; i < n; i++)
        if (!r->gone || ord[i] != member(f, r->gone)) ord[k++] = ord[i];
    assert_int_equal(stg__eligible(f->c, el), k);
    for (unsigned i = 0; i < k; i++) assert_int_equal(el[i], ord[i]);
}

/* ---- free slots and the majority (§9.4) -------------------------------------- */

typedef struct {
    const char *name;
    unsigned batch;
    const char *granted[STG_BATCH_MAX]; /* our grant of each slot, or NULL */
    const char *updating[3];      /* members whose records show them updating */
    int except_slot;
    unsigned want;
} slots_row_t;

static const slots_row_t SLOTS_ROWS[] = {
    {.name = "batch 1, nothing held", .batch = 1, .except_slot = -1, .want = 1},
    {.name = "batch 2, nothing held", .batch = 2, .except_slot = -1, .want = 2},
    {.name = "batch 2, our grant of slot 0", .batch = 2, .granted = {"n03"}, .except_slot = -1,
     .want = 1},
    {.name = "batch 2, our grant of slot 0, counted as free", .batch = 2, .granted = {"n03"},
     .except_slot = 0, .want = 2},
    {.name = "batch 2, our grant of slot 1, slot 0 counted as free", .batch = 2,
     .granted = {NULL, "n03"}, .except_slot = 0, .want = 1},
    {.name = "batch 1, a member updating on a slot others granted", .batch = 1,
     .updating = {"n05"}, .except_slot = -1, .want = 0},
    {.name = "batch 2, a member updating under our grant counts once", .batch = 2,
     .granted = {"n05"}, .updating = {"n05"}, .except_slot = -1, .want = 1},
    {.name = "batch 2, more in use than slots: none, never negative", .batch = 2,
     .granted = {"n02"}, .updating = {"n03", "n05"}, .except_slot = -1, .want = 0},
};

static void run_slots(void **state) {
    fx_t *f = *state;
    const slots_row_t *r = f->row;
    ready(f);
    f->c->roster->policy.batch = r->batch;
    for (unsigned s = 0; s < STG_BATCH_MAX; s++)
        if (r->granted[s]) grant(f, s, r->granted[s], ID_A);
    for (unsigned i = 0; i < 3 && r->updating[i]; i++)
        set_rec(f, r->updating[i], "installing", ID_A, "1.0", HEALTHY);
    assert_int_equal(stg__free_slots(f->c, r->except_slot), r->want);
}

typedef struct {
    const char *name;
    unsigned members, dead;
    int want;
} majority_row_t;

static const majority_row_t MAJORITY_ROWS[] = {
    {.name = "2 members: both", .members = 2, .want = 2},
    {.name = "3 members", .members = 3, .want = 2},
    {.name = "4 members: a tie is not a majority", .members = 4, .want = 3},
    {.name = "5 members", .members = 5, .want = 3},
    {.name = "8 members", .members = 8, .want = 5},
    {.name = "8 members, 3 of them dead: still of the roster", .members = 8, .dead = 3, .want = 5},
};

static void run_majority(void **state) {
    const majority_row_t *r = ((fx_t *)*state)->row;
    fx_t *f = fx_new(r->members);
    for (unsigned i = 0; i < r->dead; i++) f->c->peers[i + 1].live = STG_LIVE_DEAD;
    assert_int_equal(stg__majority(f->c), r->want);
    fx_destroy(&f);
}

/* ---- update windows (§4.4, §9.4 rule 7) ----------------------------------------
 * Read through the voter's check: the calendar rule is static in policy.c.
 * Times are UTC in the week of Monday 2024-01-01. */

#define MON (1u << 0)
#define TUE (1u << 1)
#define WED (1u << 2)
#define THU (1u << 3)
#define FRI (1u << 4)
#define SAT (1u << 5)
#define SUN (1u << 6)
#define HM(h, m) ((h) * 60 + (m))
#define WEEK_MS 1704067200000LL   /* Monday 2024-01-01 00:00 UTC */
#define AT(day, h, m) (WEEK_MS + ((int64_t)(day) * 86400 + (h) * 3600 + (m) * 60) * 1000)
enum { D_MON, D_TUE, D_WED, D_THU, D_FRI, D_SAT, D_SUN, D_NEXT_MON };

typedef struct {
    const char *name;
    unsigned nwindows;
    stg_window_t windows[2];
    int64_t now_ms;
    bool open;
} window_row_t;

#define OFFICE {.days = MON | TUE | WED | THU | FRI, .start_min = HM(9, 0), .end_min = HM(17, 0)}
#define SAT_NIGHT {.days = SAT, .start_min = HM(22, 0), .end_min = HM(2, 0)}

static const window_row_t WINDOW_ROWS[] = {
    {.name = "no windows: always open", .now_ms = AT(D_SUN, 3, 0), .open = true},
    {.name = "office hours: Monday 09:00 opens", .nwindows = 1, .windows = {OFFICE},
     .now_ms = AT(D_MON, 9, 0), .open = true},
    {.name = "office hours: 1 ms before Monday 09:00", .nwindows = 1, .windows = {OFFICE},
     .now_ms = AT(D_MON, 9, 0) - 1},
    {.name = "office hours: Friday 16:59", .nwindows = 1, .windows = {OFFICE},
     .now_ms = AT(D_FRI, 16, 59), .open = true},
    {.name = "office hours: Friday 17:00, the end is exclusive", .nwindows = 1,
     .windows = {OFFICE}, .now_ms = AT(D_FRI, 17, 0)},
    {.name = "office hours: Saturday noon, not a listed day", .nwindows = 1, .windows = {OFFICE},
     .now_ms = AT(D_SAT, 12, 0)},
    {.name = "Saturday 22:00-02:00: 1 ms before Saturday 22:00", .nwindows = 1,
     .windows = {SAT_NIGHT}, .now_ms = AT(D_SAT, 22, 0) - 1},
    {.name = "Saturday 22:00-02:00: Saturday 22:00", .nwindows = 1, .windows = {SAT_NIGHT},
     .now_ms = AT(D_SAT, 22, 0), .open = true},
    {.name = "Saturday 22:00-02:00: Sunday 00:00, past midnight", .nwindows = 1,
     .windows = {SAT_NIGHT}, .now_ms = AT(D_SUN, 0, 0), .open = true},
    {.name = "Saturday 22:00-02:00: Sunday 01:59", .nwindows = 1, .windows = {SAT_NIGHT},
     .now_ms = AT(D_SUN, 1, 59), .open = true},
    {.name = "Saturday 22:00-02:00: Sunday 02:00 closes", .nwindows = 1, .windows = {SAT_NIGHT},
     .now_ms = AT(D_SUN, 2, 0)},
    {.name = "Saturday 22:00-02:00: Saturday 01:00 is Friday's night", .nwindows = 1,
     .windows = {SAT_NIGHT}, .now_ms = AT(D_SAT, 1, 0)},
    {.name = "Saturday 22:00-02:00: Sunday 23:00, Sunday not listed", .nwindows = 1,
     .windows = {SAT_NIGHT}, .now_ms = AT(D_SUN, 23, 0)},
    {.name = "Sunday 23:00-01:00: Monday 00:30, across the week's end", .nwindows = 1,
     .windows = {{.days = SUN, .start_min = HM(23, 0), .end_min = HM(1, 0)}},
     .now_ms = AT(D_NEXT_MON, 0, 30), .open = true},
    {.name = "two windows: the second is open", .nwindows = 2, .windows = {OFFICE, SAT_NIGHT},
     .now_ms = AT(D_SAT, 23, 0), .open = true},
    {.name = "two windows: neither is open", .nwindows = 2, .windows = {OFFICE, SAT_NIGHT},
     .now_ms = AT(D_SAT, 12, 0)},
};

static void run_window(void **state) {
    fx_t *f = *state;
    const window_row_t *r = f->row;
    ready(f);
    stg_policy_t *p = &f->c->roster->policy;
    p->nwindows = r->nwindows;
    memcpy(p->windows, r->windows, sizeof r->windows);
    f->c->now = r->now_ms;
    expect_deny(stg__voter_check(f->c, member(f, FIRST), 0, ID_A),
                r->open ? STG_DENY_NONE : STG_DENY_WINDOW);
}

/* The same rows on the rule itself: a policy and a time, no core. */
static void window_rule(void **state) {
    const window_row_t *r = ((fx_t *)*state)->row;
    stg_policy_t p = {.nwindows = r->nwindows};
    memcpy(p.windows, r->windows, sizeof r->windows);
    assert_int_equal(stg__window_open(&p, r->now_ms), r->open);
}

/* ---- the producer's epoch guard (§4.4, §9.4 rule 8) --------------------------
 * Boundaries at epoch.start_s + k * length_s; the guard is guard_s either
 * side. The candidate is made next, so "clear" is a grant. */

typedef struct {
    const char *name;
    const char *cand;
    int64_t start_s;              /* 0: the roster's, 1000 */
    bool no_guard;                /* guard_s 0 instead of the roster's 100 */
    int64_t now_ms;
    stg_deny_t want;
} epoch_row_t;

#define B10 BOUNDARY_MS(10)
#define G (GUARD_S * 1000)

static const epoch_row_t EPOCH_ROWS[] = {
    {.name = "producer, mid-epoch", .cand = "n00", .now_ms = B10 + 500000},
    {.name = "producer, guard + 1 ms before a boundary", .cand = "n00", .now_ms = B10 - G - 1},
    {.name = "producer, exactly guard before a boundary", .cand = "n00", .now_ms = B10 - G},
    {.name = "producer, guard - 1 ms before a boundary", .cand = "n00", .now_ms = B10 - G + 1,
     .want = STG_DENY_EPOCH_GUARD},
    {.name = "producer, at a boundary", .cand = "n00", .now_ms = B10,
     .want = STG_DENY_EPOCH_GUARD},
    {.name = "producer, guard - 1 ms after a boundary", .cand = "n00", .now_ms = B10 + G - 1,
     .want = STG_DENY_EPOCH_GUARD},
    {.name = "producer, exactly guard after a boundary", .cand = "n00", .now_ms = B10 + G},
    {.name = "producer, guard 0: not even at a boundary", .cand = "n00", .no_guard = true,
     .now_ms = B10},
    {.name = "producer, at a boundary before epoch.start_s", .cand = "n00", .start_s = 20000,
     .now_ms = B10, .want = STG_DENY_EPOCH_GUARD},
    {.name = "producer, mid-epoch before epoch.start_s", .cand = "n00", .start_s = 20000,
     .now_ms = B10 + 500000},
    {.name = "producer, 1 ms after a boundary before epoch.start_s", .cand = "n00",
     .start_s = 20000, .now_ms = B10 + 1, .want = STG_DENY_EPOCH_GUARD},
    {.name = "relay, at a boundary: the guard is the producer's", .cand = FIRST, .now_ms = B10},
};

static void run_epoch(void **state) {
    fx_t *f = *state;
    const epoch_row_t *r = f->row;
    ready(f);
    stg_policy_t *p = &f->c->roster->policy;
    if (r->start_s) p->epoch_start_s = r->start_s;
    if (r->no_guard) p->epoch_guard_s = 0;
    make_next(f, r->cand);
    f->c->now = r->now_ms;
    expect_deny(stg__voter_check(f->c, member(f, r->cand), 0, ID_A), r->want);
}

/* The same rows on the rule itself. The relay's row is at a boundary too:
 * the rule knows no roles, the voter's check applies it to the producer. */
static void epoch_rule(void **state) {
    const epoch_row_t *r = ((fx_t *)*state)->row;
    bool relay = strcmp(r->cand, "n00") != 0;
    stg_policy_t p = {.epoch_start_s = r->start_s ? r->start_s : EPOCH_START_S,
                      .epoch_length_s = EPOCH_LEN_S,
                      .epoch_guard_s = r->no_guard ? 0 : GUARD_S};
    assert_int_equal(stg__near_boundary(&p, r->now_ms), relay || r->want == STG_DENY_EPOCH_GUARD);
}

/* ---- epoch boundaries, counted (§9.6) -----------------------------------------
 * Boundaries at epoch.start_s + k * length_s (every 1000 s from 1000 s);
 * crossed in (a, b], the first one after a. */

typedef struct {
    const char *name;
    int64_t a_ms, b_ms;
    int64_t crossed, next_ms;
} boundary_row_t;

static const boundary_row_t BOUNDARY_ROWS[] = {
    {.name = "inside one epoch: none", .a_ms = B10 + 1, .b_ms = BOUNDARY_MS(11) - 1,
     .crossed = 0, .next_ms = BOUNDARY_MS(11)},
    {.name = "ending on a boundary: it counts", .a_ms = B10 + 1, .b_ms = BOUNDARY_MS(11),
     .crossed = 1, .next_ms = BOUNDARY_MS(11)},
    {.name = "starting on a boundary: it does not", .a_ms = B10, .b_ms = BOUNDARY_MS(11) - 1,
     .crossed = 0, .next_ms = BOUNDARY_MS(11)},
    {.name = "three", .a_ms = B10 - 1, .b_ms = BOUNDARY_MS(12), .crossed = 3, .next_ms = B10},
    {.name = "backwards: none", .a_ms = BOUNDARY_MS(12), .b_ms = B10, .crossed = 0,
     .next_ms = BOUNDARY_MS(13)},
    {.name = "before epoch.start_s: counted the same", .a_ms = BOUNDARY_MS(-3) + 1,
     .b_ms = BOUNDARY_MS(-1), .crossed = 2, .next_ms = BOUNDARY_MS(-2)},
};

static void run_boundary(void **state) {
    const boundary_row_t *r = ((fx_t *)*state)->row;
    stg_policy_t p = {.epoch_start_s = EPOCH_START_S, .epoch_length_s = EPOCH_LEN_S};
    assert_int_equal(stg__boundaries_between(&p, r->a_ms, r->b_ms), r->crossed);
    assert_int_equal(stg__next_boundary(&p, r->a_ms), r->next_ms);
}

/* ---- the proof (§9.6) ---------------------------------------------------------
 * Every member but the holdback pair (n01, n06) is done and healthy on
 * release A; its record's health_since_ms (their clock) is OLD, and this
 * voter first saw that healthy period at seen_ms (its clock). */

#define OLD 5000 /* a member's clock: long ago */

typedef struct {
    const char *name;
    unsigned proof_epochs;
    int64_t seen_ms, now_ms;
    void (*set)(fx_t *f, int64_t now_ms);
    bool holds;
    int64_t soak_left_ms, epochs_left;
    const char *blocker;
} proof_row_t;

static void n05_seen_later(fx_t *f, int64_t now) {
    (void)now;
    peer(f, "n05")->proof_seen_ms[0] = B10 + 50000;
}

/* n03 says its healthy period began long ago, on its clock; we first saw
 * it 10 s ago. */
static void n03_old_period_seen_lately(fx_t *f, int64_t now) {
    peer(f, "n03")->proof_seen_ms[0] = now - 10000;
}

/* n03's clock is a day ahead: its periods are named by future times. */
static void n03_clock_ahead(fx_t *f, int64_t now) {
    peer_t *p = peer(f, "n03");
    p->rec.health_since_ms = p->proof_key[0] = now + 86400000;
}

/* n03's record names a healthy period this voter has not observed yet. */
static void n03_new_period(fx_t *f, int64_t now) {
    (void)now;
    peer(f, "n03")->rec.health_since_ms = OLD + 1;
}

static void n05_not_done(fx_t *f, int64_t now) {
    (void)now;
    set_rec(f, "n05", "idle", ID_A, "1.0", HEALTHY);
}

static void n05_proof_suspect(fx_t *f, int64_t now) {
    (void)now;
    peer(f, "n05")->live = STG_LIVE_SUSPECT;
}

static void n05_proof_unhealthy(fx_t *f, int64_t now) {
    (void)now;
    peer(f, "n05")->rec.health = UNHEALTHY;
}

static const proof_row_t PROOF_ROWS[] = {
    {.name = "soaked and a boundary crossed", .proof_epochs = 1, .seen_ms = B10 - 200000,
     .now_ms = B10 + 1000, .holds = true},
    {.name = "soaked, no boundary crossed yet", .proof_epochs = 1, .seen_ms = B10 + 1000,
     .now_ms = B10 + 500000, .epochs_left = 1},
    {.name = "1 ms before the next boundary", .proof_epochs = 1, .seen_ms = B10 + 1000,
     .now_ms = BOUNDARY_MS(11) - 1, .epochs_left = 1},
    {.name = "at the next boundary", .proof_epochs = 1, .seen_ms = B10 + 1000,
     .now_ms = BOUNDARY_MS(11), .holds = true},
    {.name = "a boundary at the instant first seen is not crossed", .proof_epochs = 1,
     .seen_ms = B10, .now_ms = BOUNDARY_MS(11) - 1, .epochs_left = 1},
    {.name = "soak 1 ms short", .proof_epochs = 0, .seen_ms = T0,
     .now_ms = T0 + SOAK_S * 1000 - 1, .soak_left_ms = 1},
    {.name = "soak just done, no epochs asked", .proof_epochs = 0, .seen_ms = T0,
     .now_ms = T0 + SOAK_S * 1000, .holds = true},
    {.name = "soak and epochs both short", .proof_epochs = 1, .seen_ms = B10 + 1000,
     .now_ms = B10 + 2000, .soak_left_ms = SOAK_S * 1000 - 1000, .epochs_left = 1},
    {.name = "two epochs asked, one crossed", .proof_epochs = 2, .seen_ms = B10 - 200000,
     .now_ms = B10 + 1000, .epochs_left = 1},
    {.name = "two epochs asked, two crossed", .proof_epochs = 2, .seen_ms = B10 - 200000,
     .now_ms = BOUNDARY_MS(11), .holds = true},
    {.name = "the member seen last times it", .proof_epochs = 0, .seen_ms = B10 - 500000,
     .set = n05_seen_later, .now_ms = B10 + 120000, .soak_left_ms = 30000},
    {.name = "an old health_since_ms seen 10 s ago waits the soak", .proof_epochs = 0,
     .seen_ms = B10 - 500000, .set = n03_old_period_seen_lately, .now_ms = T0,
     .soak_left_ms = SOAK_S * 1000 - 10000},
    {.name = "a member's clock a day ahead changes nothing", .proof_epochs = 1,
     .seen_ms = B10 - 200000, .set = n03_clock_ahead, .now_ms = B10 + 1000, .holds = true},
    {.name = "a period not observed yet is timed from now", .proof_epochs = 0,
     .seen_ms = B10 - 500000, .set = n03_new_period, .now_ms = T0,
     .soak_left_ms = SOAK_S * 1000},
    {.name = "a member not done blocks it", .proof_epochs = 1, .seen_ms = B10 - 200000,
     .set = n05_not_done, .now_ms = B10 + 1000, .blocker = "n05"},
    {.name = "a suspect member blocks it", .proof_epochs = 1, .seen_ms = B10 - 200000,
     .set = n05_proof_suspect, .now_ms = B10 + 1000, .blocker = "n05"},
    {.name = "an unhealthy member blocks it", .proof_epochs = 1, .seen_ms = B10 - 200000,
     .set = n05_proof_unhealthy, .now_ms = B10 + 1000, .blocker = "n05"},
};

/* The non-holdback members done and healthy on A, first seen at seen_ms. */
static void proven_so_far(fx_t *f, int64_t seen_ms) {
    const stg_roster_t *r = f->c->roster;
    for (unsigned i = 0; i < r->nmembers; i++) {
        if (r->members[i].holdback) continue;
        done(f, r->members[i].name);
        peer_t *p = &f->c->peers[i];
        p->rec.health_since_ms = OLD;
        p->proof_key[0] = OLD;
        p->proof_seen_ms[0] = seen_ms;
    }
}

static void run_proof(void **state) {
    fx_t *f = *state;
    const proof_row_t *r = f->row;
    ready(f);
    f->c->roster->policy.proof_epochs = r->proof_epochs;
    proven_so_far(f, r->seen_ms);
    if (r->set) r->set(f, r->now_ms);
    proof_t pf = stg__proof(f->c, r->now_ms);
    assert_int_equal(pf.blocker, r->blocker ? member(f, r->blocker) : -1);
    assert_int_equal(pf.holds, r->holds);
    if (r->blocker) return; /* the times are not worked out */
    assert_int_equal(pf.soak_left_ms, r->soak_left_ms);
    assert_int_equal(pf.epochs_left, r->epochs_left);
    int64_t epoch = (r->now_ms - BOUNDARY_MS(0)) / (EPOCH_LEN_S * 1000);
    assert_int_equal(pf.next_boundary_ms, BOUNDARY_MS(epoch + 1));
}

/* The proof through the core's own observation (a tick): the healthy
 * period is timed from the tick that first sees it, whatever the record
 * says, and a new period starts the wait again. */
static void proof_timed_from_first_sight(void **state) {
    fx_t *f = *state;
    ready(f);
    proven_so_far(f, 0);
    for (unsigned i = 0; i < NMEMBERS; i++) f->c->peers[i].proof_key[0] = -1; /* never observed */
    stg_actions_t *acts = malloc(sizeof *acts);
    assert_non_null(acts);
    int64_t t1 = B10 - SOAK_S * 1000; /* the soak ends at a boundary */
    stg_event_t tick = {.type = STG_EV_TICK, .now_ms = t1};
    stg_core_step(f->c, &tick, acts);
    proof_t pf = stg__proof(f->c, B10 - 1);
    assert_false(pf.holds);
    assert_int_equal(pf.soak_left_ms, 1);
    assert_int_equal(pf.epochs_left, 1);
    assert_true(stg__proof(f->c, B10).holds);
    /* n03 turns healthy anew (its record names a new period), seen 1 s
     * after the boundary: a new soak, and the next boundary to cross. */
    peer(f, "n03")->rec.health_since_ms = OLD + 1;
    int64_t t2 = B10 + 1000;
    tick.now_ms = t2;
    stg_core_step(f->c, &tick, acts);
    /* Nobody answered the tick's probe, so a member may be suspect now:
     * it holds the proof back meanwhile, but its period goes on (§9.6). */
    for (unsigned i = 0; i < NMEMBERS; i++) f->c->peers[i].live = STG_LIVE_ALIVE;
    pf = stg__proof(f->c, t2 + SOAK_S * 1000 - 1);
    assert_false(pf.holds);
    assert_int_equal(pf.soak_left_ms, 1);
    assert_int_equal(pf.epochs_left, 1);
    pf = stg__proof(f->c, BOUNDARY_MS(11) - 1);
    assert_false(pf.holds);
    assert_int_equal(pf.soak_left_ms, 0);
    assert_int_equal(pf.epochs_left, 1);
    assert_true(stg__proof(f->c, BOUNDARY_MS(11)).holds);
    free(acts);
}

/* ---- the voter's check (§9.4) --------------------------------------------------
 * One row at least for every refusal the check gives, each from ready() with
 * one thing changed, and rows at the edges of each. */

typedef struct {
    const char *name;
    void (*set)(fx_t *f);
    const char *cand;             /* NULL: FIRST */
    unsigned slot;
    const uint8_t *id;            /* the release asked for; NULL: A */
    stg_deny_t want;
} voter_row_t;

static void no_release(fx_t *f) { f->c->R->have_release = false; }
static void not_before_ahead(fx_t *f) { f->c->R->release.not_before_s = T0 / 1000 + 1; }
static void not_before_now(fx_t *f) { f->c->R->release.not_before_s = T0 / 1000; }
static void not_before_in_1ms(fx_t *f) {
    f->c->R->release.not_before_s = T0 / 1000;
    f->c->now = T0 - 1;
}
static void halted(fx_t *f) { f->c->halted = true; }
static void write_failed(fx_t *f) { f->c->write_failed = true; }
static void abandoned(fx_t *f) {
    f->c->R->abandoned = true;
    memcpy(f->c->R->abandoned_id, ID_A, 8);
}
static void other_abandoned(fx_t *f) {
    f->c->R->abandoned = true;
    memcpy(f->c->R->abandoned_id, ID_B, 8);
}
static void n00_failed(fx_t *f) { set_rec(f, "n00", "failed", ID_A, "2.0", UNHEALTHY); }
static void n00_rolling_back(fx_t *f) { set_rec(f, "n00", "rolling-back", ID_A, "2.0", UNHEALTHY); }
static void n00_rolled_back(fx_t *f) { set_rec(f, "n00", "rolled-back", ID_A, "1.0", HEALTHY); }
static void n00_rolled_back_older(fx_t *f) {
    set_rec(f, "n00", "rolled-back", ID_B, "1.0", HEALTHY);
}
static void n00_failed_older(fx_t *f) { set_rec(f, "n00", "failed", ID_B, "1.0", HEALTHY); }
static void first_on_version(fx_t *f) { set_rec(f, FIRST, "idle", ID_A, "2.0", HEALTHY); }
static void first_done(fx_t *f) { done(f, FIRST); }
static void slot_to_n02(fx_t *f) { grant(f, 0, "n02", ID_A); }
static void slot_to_first_for_b(fx_t *f) { grant(f, 0, FIRST, ID_B); }
static void slot_to_second(fx_t *f) { grant(f, 0, SECOND, ID_A); }
static void batch2_first_holds_slot1(fx_t *f) {
    f->c->roster->policy.batch = 2;
    grant(f, 1, FIRST, ID_A);
}
static void batch2(fx_t *f) { f->c->roster->policy.batch = 2; }
static void producer_unhealthy(fx_t *f) { peer(f, "n00")->rec.health = UNHEALTHY; }
static void two_forgers(fx_t *f) {
    peer(f, "n00")->rec.forging = STG_FORGING_YES;
    peer(f, "n01")->rec.forging = STG_FORGING_YES;
}
/* Member name reports chain tip `block` on chain `chain` ('a' or 'b'). */
static void tip(fx_t *f, const char *name, int64_t block, char chain) {
    peer_t *p = peer(f, name);
    p->rec.tip.have = true;
    p->rec.tip.block = block;
    p->rec.tip.slot = block * 20;
    snprintf(p->rec.tip.hash, sizeof p->rec.tip.hash, "%c%015llx", chain, (long long)block);
    stg__tip_note(f->c, member(f, name));
}
/* n00 and n01 run the release, the others not; from block 100 on, for
 * `blocks` blocks, the release's members follow chain b and the others a,
 * each side reporting every other height and the two sides interleaved
 * (the heights the fleet sees in common are where it can tell). */
static void two_chains(fx_t *f, int64_t blocks) {
    done(f, "n00");
    done(f, "n01");
    for (int64_t b = 90; b <= 100 + blocks; b++) {
        char side = b >= 100 ? 'b' : 'a';
        tip(f, b % 2 ? "n00" : "n01", b, side);
        tip(f, b % 2 ? "n02" : "n03", b, 'a');
        tip(f, "n04", b, 'a');
    }
    stg__fork_watch(f->c);
}
static void version_fork(fx_t *f) { two_chains(f, 10); }
static void short_fork(fx_t *f) { two_chains(f, 9); }
static void fork_healed(fx_t *f) {
    two_chains(f, 10);
    assert_true(f->c->fork.on);
    tip(f, "n00", 120, 'a'); /* the release's members back on the others' chain */
    tip(f, "n03", 120, 'a');
    stg__fork_watch(f->c);
}
/* One old-version member alone on chain b: its own side disagrees with it. */
static void lone_fork(fx_t *f) {
    done(f, "n00");
    for (int64_t b = 90; b <= 120; b++) {
        tip(f, "n00", b, 'a');
        tip(f, "n02", b, b >= 100 ? 'b' : 'a');
        tip(f, "n03", b, 'a');
    }
    stg__fork_watch(f->c);
}
static void one_forger_one_dead(fx_t *f) {
    two_forgers(f);
    peer(f, "n01")->live = STG_LIVE_DEAD;
}
static void two_unhealthy(fx_t *f) {
    producer_unhealthy(f);
    peer(f, "n01")->rec.health = UNHEALTHY;
}
static void unhealthy_and_suspect(fx_t *f) {
    producer_unhealthy(f);
    peer(f, "n01")->live = STG_LIVE_SUSPECT;
}
static void unhealthy_and_unheard(fx_t *f) {
    producer_unhealthy(f);
    peer(f, "n01")->have = false;
}
static void budget0_one_dead(fx_t *f) {
    f->c->roster->policy.unavailable_max = 0;
    peer(f, "n01")->live = STG_LIVE_DEAD;
}
/* Batch 2: n05 updates (unhealthy, restarting) on a slot others granted. */
static void unhealthy_updating_not_counted(fx_t *f) {
    batch2(f);
    producer_unhealthy(f);
    set_rec(f, "n05", "installing", ID_A, "1.0", UNHEALTHY);
}
static void window_closed(fx_t *f) { /* T0 is Thursday 1970-01-01 03:11 UTC */
    f->c->roster->policy.nwindows = 1;
    f->c->roster->policy.windows[0] =
        (stg_window_t){.days = THU, .start_min = HM(4, 0), .end_min = HM(5, 0)};
}
static void at_boundary(fx_t *f) { f->c->now = BOUNDARY_MS(11); }
static void proof_holds(fx_t *f) {
    proven_so_far(f, B10 - 200000);
    f->c->now = B10 + 1000;
}
static void proof_soak_short(fx_t *f) {
    proven_so_far(f, B10 - 50000);
    f->c->now = B10 + 1000;
}

static const voter_row_t VOTER_ROWS[] = {
    {.name = "granted: the first in the order"},
    {.name = "no release adopted", .set = no_release, .want = STG_DENY_NO_RELEASE},
    {.name = "asks for another release than the adopted one", .id = ID_B,
     .want = STG_DENY_NO_RELEASE},
    {.name = "not_before 1 s ahead", .set = not_before_ahead, .want = STG_DENY_NOT_YET},
    {.name = "not_before 1 ms ahead", .set = not_before_in_1ms, .want = STG_DENY_NOT_YET},
    {.name = "not_before now: valid", .set = not_before_now},
    {.name = "halted", .set = halted, .want = STG_DENY_HALTED},
    {.name = "cannot write its journal", .set = write_failed, .want = STG_DENY_NO_DISK},
    {.name = "the release abandoned", .set = abandoned, .want = STG_DENY_ABANDONED},
    {.name = "another release abandoned", .set = other_abandoned},
    {.name = "a member failed on the release", .set = n00_failed,
     .want = STG_DENY_FAILED_RELEASE},
    {.name = "a member rolling back from the release", .set = n00_rolling_back,
     .want = STG_DENY_FAILED_RELEASE},
    {.name = "a member rolled back from the release", .set = n00_rolled_back,
     .want = STG_DENY_FAILED_RELEASE},
    {.name = "a member rolled back from an older release", .set = n00_rolled_back_older},
    {.name = "a member failed on an older release still holds a slot",
     .set = n00_failed_older, .want = STG_DENY_NOT_NEXT},
    {.name = "the candidate already runs the version", .set = first_on_version,
     .want = STG_DENY_ALREADY_DONE},
    {.name = "the candidate is done on the release", .set = first_done,
     .want = STG_DENY_ALREADY_DONE},
    {.name = "the slot granted to another member", .set = slot_to_n02,
     .want = STG_DENY_SLOT_TAKEN},
    {.name = "the slot granted to it for another release", .set = slot_to_first_for_b,
     .want = STG_DENY_SLOT_TAKEN},
    {.name = "our unstarted grant to it stands, next or not", .set = slot_to_second,
     .cand = SECOND},
    {.name = "it holds the other slot", .set = batch2_first_holds_slot1,
     .want = STG_DENY_HOLDS_OTHER},
    {.name = "it holds this slot, asked again", .set = batch2_first_holds_slot1, .slot = 1},
    {.name = "two members forge", .set = two_forgers, .want = STG_DENY_TWO_FORGERS},
    {.name = "two forged, one is dead: one forger", .set = one_forger_one_dead},
    {.name = "the release's members on another chain for fork_blocks", .set = version_fork,
     .want = STG_DENY_FORK},
    {.name = "two chains for fork_blocks - 1: a short fork", .set = short_fork},
    {.name = "the two sides agree again", .set = fork_healed},
    {.name = "one old-version member alone on another chain", .set = lone_fork},
    {.name = "one member unhealthy: within a budget of 1", .set = producer_unhealthy},
    {.name = "two members unhealthy", .set = two_unhealthy, .want = STG_DENY_BUDGET},
    {.name = "one unhealthy, one suspect", .set = unhealthy_and_suspect, .want = STG_DENY_BUDGET},
    {.name = "one unhealthy, one never heard of", .set = unhealthy_and_unheard,
     .want = STG_DENY_BUDGET},
    {.name = "budget 0, one dead", .set = budget0_one_dead, .want = STG_DENY_BUDGET},
    {.name = "an unhealthy member that is updating is not counted",
     .set = unhealthy_updating_not_counted},
    {.name = "outside the update windows", .set = window_closed, .want = STG_DENY_WINDOW},
    {.name = "the producer at an epoch boundary", .set = at_boundary, .cand = "n00",
     .want = STG_DENY_EPOCH_GUARD},
    {.name = "a holdback member before the proof", .cand = "n01", .want = STG_DENY_PROOF},
    {.name = "a holdback member, proof soak not over", .set = proof_soak_short, .cand = "n01",
     .want = STG_DENY_PROOF},
    {.name = "a holdback member after the proof", .set = proof_holds, .cand = "n01"},
    {.name = "second in the order, one slot", .cand = SECOND, .want = STG_DENY_NOT_NEXT},
    {.name = "second in the order, two slots", .set = batch2, .cand = SECOND},
    {.name = "first, but a member updates on the only slot", .set = n05_installing,
     .want = STG_DENY_NOT_NEXT},
};

static void run_voter(void **state) {
    fx_t *f = *state;
    const voter_row_t *r = f->row;
    ready(f);
    if (r->set) r->set(f);
    int cand = member(f, r->cand ? r->cand : FIRST);
    expect_deny(stg__voter_check(f->c, cand, r->slot, r->id ? r->id : ID_A), r->want);
}

/* A refusal added to core.h without a row here fails. The gate is the one
 * exception: the candidate runs its own gate hook before it asks
 * (election.c, stg__campaign), so no voter ever answers "gate". */
static void every_refusal_has_a_row(void **state) {
    (void)state;
    for (int d = 0; d < STG_DENY__COUNT; d++) {
        bool row = false;
        for (size_t i = 0; i < sizeof VOTER_ROWS / sizeof VOTER_ROWS[0]; i++)
            row |= VOTER_ROWS[i].want == (stg_deny_t)d;
        if (row == (d == STG_DENY_GATE))
            fail_msg("\"%s\": %s", stg_deny_text((stg_deny_t)d),
                     row ? "the voter's check never gives it" : "no row gives it");
    }
}

/* ---- capabilities (§11; §10, promote) ---------------------------------------------
 * The fleet-wide set is what every member's record shows, ours included;
 * a member with no record counts as having none. A client's command is
 * refused only for a capability its action needs, naming who lacks it. */

typedef struct {
    const char *name;
    stg_cmd_action_t action;
    const char *lacking[2];       /* records without promote */
    const char *unheard[2];       /* no record held */
    bool none_heard;              /* no record of anyone but ourselves */
    const char *says;             /* in the refusal; NULL: the command is taken */
    const char *not_says;
} caps_row_t;

static const caps_row_t CAPS_ROWS[] = {
    {.name = "every record has promote: taken", .action = STG_CMD_PROMOTE},
    {.name = "one record lacks it: refused, naming it", .action = STG_CMD_PROMOTE,
     .lacking = {"n04"}, .says = "and n04 lacks it: update its staggerd", .not_says = "n03"},
    {.name = "no record yet counts as lacking", .action = STG_CMD_PROMOTE, .unheard = {"n02"},
     .says = "n02 (no record yet) lacks it"},
    {.name = "two, in roster order", .action = STG_CMD_PROMOTE, .lacking = {"n05"},
     .unheard = {"n02"}, .says = "n02 (no record yet), n05 lack it: update their"},
    {.name = "our own record counts too", .action = STG_CMD_PROMOTE, .lacking = {"n07"},
     .says = "n07 lacks it"},
    {.name = "a fresh start: the first six named, the rest counted",
     .action = STG_CMD_PROMOTE, .none_heard = true,
     .says = "n05 (no record yet) and 1 more lack it", .not_says = "n06"},
    {.name = "halt needs nothing: taken while members lack promote", .action = STG_CMD_HALT,
     .lacking = {"n04"}, .unheard = {"n02"}},
};

static void run_caps(void **state) {
    fx_t *f = *state;
    const caps_row_t *r = f->row;
    ready(f);
    for (unsigned i = 0; i < f->c->roster->nmembers; i++) f->c->peers[i].rec.caps = STG_CAPS_OWN;
    for (unsigned i = 0; i < 2 && r->lacking[i]; i++) peer(f, r->lacking[i])->rec.caps = 0;
    for (unsigned i = 0; i < 2 && r->unheard[i]; i++) peer(f, r->unheard[i])->have = false;
    for (unsigned i = 0; r->none_heard && i < f->c->roster->nmembers; i++)
        if ((int)i != f->c->self) f->c->peers[i].have = false;
    bool all = !r->lacking[0] && !r->unheard[0] && !r->none_heard;
    assert_int_equal(stg__fleet_caps(f->c), all ? STG_CAPS_OWN : 0);
    stg_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.action = r->action;
    stg_diag_t d = {0};
    int rc = stg__cmd_capable(f->c, &cmd, &d);
    if (!r->says) {
        if (rc != 0) fail_msg("refused: %s", d.msg);
        return;
    }
    assert_int_equal(rc, STG_EREJECT);
    assert_int_equal(d.reason, STG_REJECT_MISSING_CAPABILITY);
    if (!strstr(d.msg, r->says) || !strstr(d.msg, "capability \"promote\"") ||
        (r->not_says && strstr(d.msg, r->not_says)))
        fail_msg("\"%s\": want \"%s\"%s%s", d.msg, r->says, r->not_says ? ", not " : "",
                 r->not_says ? r->not_says : "");
}

/* ---- our own record (node/core/gossip.c) ------------------------------------------
 * Every field as large as the hooks and the executor can make it, in plain
 * text (the roster's names are short here): the record is still signed. It
 * was encoded into 1 KiB, so such a node logged "cannot sign own record"
 * and its peers kept its last state: a failed update went unseen. */
static void own_record_at_its_largest(void **state) {
    fx_t *f = *state;
    stg_core_t *c = f->c;
    const int64_t most = ((int64_t)1 << 53) - 1;
    memset(c->R->detail, 'd', STG_DETAIL_MAX);
    memset(c->exec_detail, 'p', STG_DETAIL_MAX);
    memset(c->R->version, 'v', STG_VERSION_MAX);
    memset(c->stagger, 's', STG_VERSION_MAX);
    memset(c->R->build, 'b', 64);
    c->R->health = UNHEALTHY;
    c->phase = STG_PHASE_ROLLING_BACK;
    c->exec_have = true;
    c->cmd_seq = most;
    c->slot_attempt = (uint64_t)most;
    c->forging = STG_FORGING_YES;
    c->R->health_since_ms = c->phase_since_ms = most;
    c->now = most;
    c->tip = (stg_tip_t){.have = true, .block = most, .slot = most, .nrecent = STG_TIP_RECENT};
    memset(c->tip.hash, 'a', 64);
    for (unsigned k = 0; k < STG_TIP_RECENT; k++) {
        c->tip.recent[k].block = most - 1 - k;
        memset(c->tip.recent[k].hash, 'c', 16);
    }
    stg__sign_own(c);
    const peer_t *me = &c->peers[c->self];
    stg_record_t r;
    int idx = -1;
    stg_diag_t d = {0};
    if (stg_record_open(me->env, me->env_len, c->roster, &r, &idx, &d) != 0)
        fail_msg("our record: %s", d.msg);
    assert_string_equal(r.detail, c->R->detail);
    assert_string_equal(r.phase_detail, c->exec_detail);
    assert_int_equal(r.tip.nrecent, STG_TIP_RECENT);
    assert_int_equal(r.caps, STG_CAPS_OWN);
    assert_int_equal(r.cmd_seq, most);
}

/* Details of quotes and control characters escape to 2 and 6 bytes each:
 * the record is still signed, the longer detail shortened at a character
 * boundary (and our state with it), everything else intact. */
static void own_record_escaped_details(void **state) {
    fx_t *f = *state;
    stg_core_t *c = f->c;
    memset(c->R->version, 'v', STG_VERSION_MAX);
    memset(c->stagger, 's', STG_VERSION_MAX);
    c->phase = STG_PHASE_ROLLING_BACK;
    c->exec_have = true;
    memset(c->R->detail, 0x01, STG_DETAIL_MAX);
    c->R->detail[STG_DETAIL_MAX] = '\0';
    /* Two-byte characters (é), so a cut must not split one. */
    for (unsigned i = 0; i + 2 <= STG_DETAIL_MAX; i += 2) memcpy(c->exec_detail + i, "\xc3\xa9", 2);
    memset(c->exec_detail, '"', 40);
    uint64_t seq0 = (uint64_t)c->seq;
    stg__sign_own(c);
    const peer_t *me = &c->peers[c->self];
    assert_int_equal((uint64_t)c->seq, seq0 + 1);
    stg_record_t r;
    int idx = -1;
    stg_diag_t d = {0};
    if (stg_record_open(me->env, me->env_len, c->roster, &r, &idx, &d) != 0)
        fail_msg("our record: %s", d.msg);
    assert_true(strlen(r.detail) < STG_DETAIL_MAX);
    assert_true(strlen(r.detail) > 0);
    assert_string_equal(r.detail, c->R->detail);
    assert_string_equal(r.phase_detail, c->exec_detail);
    assert_int_equal(strlen(r.version), STG_VERSION_MAX);
}

/* ---- the tests: one per row ------------------------------------------------------ */

#define ROWS(table) (sizeof table / sizeof table[0])
#define TESTS_MAX 256

static struct CMUnitTest tests[TESTS_MAX];
static char names[TESTS_MAX][160];
static size_t ntests;

static void add(const char *table, const char *name, CMUnitTestFunction fn, const void *row) {
    if (ntests == TESTS_MAX) abort();
    snprintf(names[ntests], sizeof names[ntests], "%s: %s", table, name);
    tests[ntests] = (struct CMUnitTest){names[ntests], fn, fx_setup, fx_teardown, (void *)row};
    ntests++;
}

#define ADD_ROWS(label, table, fn)                                         \
    for (size_t i = 0; i < ROWS(table); i++) add(label, table[i].name, fn, &table[i])

/* ---- components (issue 14) ----------------------------------------------------
 * A roster's policy.components: the OS opts out of the epoch proof and
 * soaks a minute; "agent" does not hold the holdback pair back. The
 * primary keeps the policy's own rules. Everyone is done and healthy on
 * each component's release, seen long ago; now is inside epoch 10, no
 * boundary crossed since the periods were seen. */
#define COMP_POLICY                                                                   \
    "{\"batch\":1,\"soak_s\":100,\"unavailable_max\":1,\"epoch\":{\"start_s\":1000," \
    "\"length_s\":1000,\"proof_epochs\":1,\"guard_s\":100},\"components\":{"        \
    "\"os\":{\"proof_epochs\":0,\"soak_s\":60},\"agent\":{\"holdback\":false}}}"

static void all_done_on(fx_t *f, comp_t *k, const uint8_t id[8], const char *version) {
    stg_core_t *c = f->c;
    stg__judge(c, k);
    k->have_release = true;
    memset(&k->release, 0, sizeof k->release);
    snprintf(k->release.component, sizeof k->release.component, "%s", k->name);
    snprintf(k->release.version, sizeof k->release.version, "%s", version);
    memcpy(k->release_id, id, 8);
    k->rank_valid = false;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *p = &c->peers[i];
        if (k == &c->comps[0]) set_rec(f, c->roster->members[i].name, "idle", NULL, "1.0", HEALTHY);
        stg_comp_rec_t *e = NULL;
        for (unsigned j = 0; j < p->rec.ncomps; j++)
            if (strcmp(p->rec.comps[j].component, k->name) == 0) e = &p->rec.comps[j];
        if (k != &c->comps[0] && !e) e = &p->rec.comps[p->rec.ncomps++];
        if (e) {
            snprintf(e->component, sizeof e->component, "%s", k->name);
            snprintf(e->version, sizeof e->version, "%s", version);
            e->health = HEALTHY;
            e->health_since_ms = OLD;
        } else {
            snprintf(p->rec.version, sizeof p->rec.version, "%s", version);
            p->rec.health_since_ms = OLD;
        }
        unsigned x = stg__comp_index(c, k);
        p->proof_key[x] = OLD;
        p->proof_seen_ms[x] = B10;
    }
}

static void component_policy(void **state) {
    (void)state;
    fx_t *f = fx_new_with(NMEMBERS, COMP_POLICY, "os", "agent");
    stg_core_t *c = f->c;
    assert_int_equal(stg_core_ncomponents(c), 3);
    int hb = member(f, "n01"); /* of the holdback pair */
    assert_true(c->roster->members[hb].holdback);
    all_done_on(f, &c->comps[0], ID_A, "2.0");
    all_done_on(f, &c->comps[1], ID_B, "os-2");
    static const uint8_t ID_C[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    all_done_on(f, &c->comps[2], ID_C, "agent-2");
    c->now = B10 + 200000; /* 200 s after the periods were seen, no boundary since */

    stg__judge(c, &c->comps[0]); /* the policy's own: an epoch boundary to cross */
    assert_int_equal(stg__soak_s(c, "cardano-node"), 100);
    assert_int_equal(stg__proof_epochs(c), 1);
    assert_true(stg__held_back(c, hb));
    proof_t pf = stg__proof(c, c->now);
    if (pf.blocker >= 0) fail_msg("blocked by %s", stg__mname(c, pf.blocker));
    assert_false(pf.holds);
    assert_int_equal(pf.epochs_left, 1);

    stg__judge(c, &c->comps[1]); /* os: no epoch wait, its own soak, long over */
    assert_int_equal(stg__soak_s(c, "os"), 60);
    assert_int_equal(stg__proof_epochs(c), 0);
    assert_true(stg__held_back(c, hb));
    pf = stg__proof(c, c->now);
    assert_true(pf.holds);
    assert_int_equal(pf.epochs_left, 0);

    /* The pair's relay (n06) goes last for the primary, with the relays
     * (stage 2, a dark relay) for agent. */
    int hr = member(f, "n06");
    assert_true(c->roster->members[hr].holdback);
    int ord[STG_MEMBERS_MAX];
    stg__judge(c, &c->comps[2]); /* agent: the pair is not held back */
    assert_false(stg__held_back(c, hb));
    unsigned n = stg__order(c, ord), pos = 0;
    assert_int_equal(n, NMEMBERS);
    while (ord[pos] != hr) pos++;
    assert_true(pos < NMEMBERS - 2);
    stg__judge(c, &c->comps[0]);
    n = stg__order(c, ord);
    assert_true(ord[n - 1] == hr || ord[n - 2] == hr); /* the primary: last */
    /* A member whose record lacks a component is not waited for. */
    stg__judge(c, &c->comps[1]);
    peer_t *p = &c->peers[member(f, "n03")];
    p->rec.ncomps = 0;
    assert_true(stg__done_on(c, member(f, "n03")));
    stg__judge(c, NULL);
    fx_destroy(&f);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    ADD_ROWS("order", ORDER_ROWS, run_order);
    add("order", "stages, holdback last, flavours in turn, over 256 releases", order_shape, NULL);
    ADD_ROWS("state", STATE_ROWS, run_state);
    ADD_ROWS("eligible", ELIGIBLE_ROWS, run_eligible);
    ADD_ROWS("free slots", SLOTS_ROWS, run_slots);
    ADD_ROWS("majority", MAJORITY_ROWS, run_majority);
    ADD_ROWS("window", WINDOW_ROWS, run_window);
    ADD_ROWS("window rule", WINDOW_ROWS, window_rule);
    ADD_ROWS("epoch guard", EPOCH_ROWS, run_epoch);
    ADD_ROWS("epoch guard rule", EPOCH_ROWS, epoch_rule);
    ADD_ROWS("boundaries", BOUNDARY_ROWS, run_boundary);
    ADD_ROWS("proof", PROOF_ROWS, run_proof);
    add("proof", "timed from this node's first sight, through a tick", proof_timed_from_first_sight,
        NULL);
    ADD_ROWS("voter", VOTER_ROWS, run_voter);
    add("voter", "every refusal but the gate has a row", every_refusal_has_a_row, NULL);
    ADD_ROWS("capabilities", CAPS_ROWS, run_caps);
    add("own record", "every field at its longest: still signed", own_record_at_its_largest, NULL);
    tests[ntests++] = (struct CMUnitTest){"components: each its own soak, proof and holdback",
                                          component_policy, NULL, NULL, NULL};
    add("own record", "details that escape to 6 bytes a character: shortened, signed",
        own_record_escaped_details, NULL);
    return _cmocka_run_group_tests("policy", tests, ntests, NULL, NULL);
}
