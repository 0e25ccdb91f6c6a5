/* policy.c: the rollout's rules, read from this node's view of the fleet:
 * who runs what, the update order, windows and epochs, the proof, and the
 * voter's check. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

comp_t *stg__comp_named(const stg_core_t *c, const char *name) {
    for (unsigned k = 0; k < c->ncomps; k++)
        if (strcmp(c->comps[k].name, name) == 0) return (comp_t *)&c->comps[k];
    return NULL;
}

comp_t *stg__comp_by_id(const stg_core_t *c, const uint8_t id[8]) {
    for (unsigned k = 0; k < c->nknown; k++)
        if (c->comps[k].have_release && memcmp(c->comps[k].release_id, id, 8) == 0)
            return (comp_t *)&c->comps[k];
    return NULL;
}

comp_t *stg__comp_hold(stg_core_t *c, const char *name) {
    for (unsigned k = 0; k < c->nknown; k++)
        if (strcmp(c->comps[k].name, name) == 0) return &c->comps[k];
    if (c->nknown >= STG_COMPONENTS_MAX) return NULL;
    comp_t *x = &c->comps[c->nknown++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->health = STG_HEALTH_UNKNOWN;
    return x;
}

comp_t *stg__judge(stg_core_t *c, comp_t *k) {
    comp_t *was = c->R;
    c->R = k ? k : &c->comps[0];
    return was;
}

unsigned stg__comp_index(const stg_core_t *c, const comp_t *k) {
    return (unsigned)(k - c->comps);
}

const stg_comp_rec_t *stg__rec_comp(const stg_core_t *c, int i, stg_comp_rec_t *tmp) {
    const peer_t *p = &c->peers[i];
    return p->have ? stg_record_comp(&p->rec, c->R->name, tmp) : NULL;
}

int stg__failed_any(const stg_core_t *c) {
    for (unsigned k = 0; k < c->nknown; k++) {
        const comp_t *x = &c->comps[k];
        if (!x->have_release) continue;
        for (unsigned i = 0; i < c->roster->nmembers; i++)
            if (stg__failed_on(c, (int)i, x->release_id)) return (int)i;
    }
    return -1;
}

static int comp_policy(const stg_core_t *c, const char *component) {
    const stg_policy_t *p = &c->roster->policy;
    for (unsigned k = 0; k < p->ncomponents; k++)
        if (strcmp(p->components[k].name, component) == 0) return (int)k;
    return -1;
}

int64_t stg__soak_s(const stg_core_t *c, const char *component) {
    int k = comp_policy(c, component);
    return k < 0 ? c->roster->policy.soak_s : c->roster->policy.components[k].soak_s;
}

unsigned stg__proof_epochs(const stg_core_t *c) {
    int k = comp_policy(c, c->R->name);
    return k < 0 ? c->roster->policy.proof_epochs : c->roster->policy.components[k].proof_epochs;
}

bool stg__held_back(const stg_core_t *c, int i) {
    int k = comp_policy(c, c->R->name);
    return c->roster->members[i].holdback && (k < 0 || c->roster->policy.components[k].holdback);
}

int stg__majority(const stg_core_t *c) { return (int)c->roster->nmembers / 2 + 1; }

bool stg__rec_about(const stg_core_t *c, int i, const uint8_t id[8]) {
    const peer_t *p = &c->peers[i];
    if (!p->have) return false;
    char hex[17];
    stg__id_hex(id, hex);
    return strcmp(p->rec.release, hex) == 0;
}

stg_phase_t stg__rec_phase(const stg_core_t *c, int i) { return c->peers[i].rec.phase; }

/* A service of this flavour, reporting this version and build, runs rel:
 * the version matches, and so does the build wherever the health hook
 * reports one (a rebuild of the same version, e.g. with a new GHC, is a new
 * artifact: docs/protocol.md §5). */
bool stg__runs(const stg_release_t *rel, const char *flavour, const char *version,
               const char *build) {
    if (strcmp(version, rel->version) != 0) return false;
    const stg_artifact_t *a = build[0] ? stg_release_artifact(rel, flavour) : NULL;
    return !a || strcmp(build, a->sha256) == 0;
}

bool stg__self_runs(const stg_core_t *c, const stg_release_t *rel) {
    return c->self >= 0 &&
           stg__runs(rel, c->roster->members[c->self].flavour, c->R->version, c->R->build);
}

/* hex names the release we hold of a component other than c->R's. */
static bool other_comp_release(const stg_core_t *c, const char *hex) {
    for (unsigned k = 0; k < c->nknown; k++) {
        const comp_t *x = &c->comps[k];
        char h[17];
        if (x == c->R || !x->have_release) continue;
        stg__id_hex(x->release_id, h);
        if (strcmp(h, hex) == 0) return true;
    }
    return false;
}

/* Runs the release: finished an update to it, or already ran it. */
bool stg__done_on(const stg_core_t *c, int i) {
    const peer_t *p = &c->peers[i];
    if (!p->have || !c->R->have_release) return false;
    stg_comp_rec_t tmp;
    const stg_comp_rec_t *e = stg__rec_comp(c, i, &tmp);
    /* A member that does not manage this component has nothing to update:
     * it is neither next nor holds the proof back. */
    if (!e) return true;
    stg_phase_t ph = stg__rec_phase(c, i);
    if (stg__rec_about(c, i, c->R->release_id) && ph == STG_PHASE_DONE) return true;
    /* Its executor busy with another of our components' releases says
     * nothing about this one: the version does. */
    bool other = !stg__rec_about(c, i, c->R->release_id) && p->rec.release[0] && c->nknown > 1 &&
                 other_comp_release(c, p->rec.release);
    return (other || ph == STG_PHASE_IDLE || ph == STG_PHASE_DONE) &&
           stg__runs(&c->R->release, c->roster->members[i].flavour, e->version, e->build);
}

bool stg__failed_on(const stg_core_t *c, int i, const uint8_t id[8]) {
    /* Its executor moved on to another component's release since (an
     * emergency update): the record still names the failure (§9.8). */
    const peer_t *p = &c->peers[i];
    if (p->have && p->rec.failed[0] && !stg__rec_about(c, i, id)) {
        char hex[17];
        stg__id_hex(id, hex);
        if (strcmp(p->rec.failed, hex) == 0) return true;
    }
    if (!stg__rec_about(c, i, id)) return false;
    stg_phase_t ph = stg__rec_phase(c, i);
    /* A resume forgives a failure where it is applied: the failed node
     * leaves for idle (stg__exec_forgive), so its record stops saying so. */
    return ph == STG_PHASE_FAILED || ph == STG_PHASE_ROLLING_BACK || ph == STG_PHASE_ROLLED_BACK;
}

bool stg__abandoned(const stg_core_t *c, const uint8_t id[8]) {
    return c->R->abandoned && memcmp(id, c->R->abandoned_id, 8) == 0;
}

int stg__failed_member(const stg_core_t *c) {
    if (!c->R->have_release) return -1;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (stg__failed_on(c, (int)i, c->R->release_id)) return (int)i;
    return -1;
}

/* Only the active producer may forge: two forgers make competing blocks
 * (issue 13). Read from the records, ours included; a dead member's last
 * record is not counted (a failover stops the old producer first). */
unsigned stg__forgers(const stg_core_t *c, int *out, unsigned cap) {
    unsigned n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (!p->have || p->rec.forging != STG_FORGING_YES || p->live == STG_LIVE_DEAD) continue;
        if (out && n < cap) out[n] = (int)i;
        n++;
    }
    return n;
}

/* Capabilities (docs/protocol.md §11): the ones every roster member's
 * record shows, ours included. A member whose record has not reached us
 * counts as having none: it may run a staggerd older than any capability,
 * and a feature switched on without it would split the fleet; its record,
 * once here, says. A member that is down counts by its last record: it
 * comes back on the staggerd that signed it, or on a newer one whose next
 * record says so. */
stg_caps_t stg__fleet_caps(const stg_core_t *c) {
    stg_caps_t all = STG_CAPS_OWN;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        all &= c->peers[i].have ? c->peers[i].rec.caps : 0;
    return all;
}

int stg__cmd_capable(const stg_core_t *c, const stg_command_t *cmd, stg_diag_t *d) {
    stg_caps_t missing = stg_cmd_needs(cmd->action) & ~stg__fleet_caps(c);
    int cap = 0;
    if (!missing) return 0;
    while (!(missing & STG_CAPS_OF(cap))) cap++;
    char who[160] = "";
    size_t len = 0;
    unsigned lacking = 0, named = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        if (p->have && (p->rec.caps & STG_CAPS_OF(cap))) continue;
        const char *name = c->roster->members[i].name;
        /* Names in roster order while they fit, with room left for
         * " and N more"; once one did not, the rest are counted only. */
        if (lacking++ == named && len + strlen(name) + 40 < sizeof who) {
            len += (size_t)snprintf(who + len, sizeof who - len, "%s%s%s", named ? ", " : "",
                                    name, p->have ? "" : " (no record yet)");
            named++;
        }
    }
    if (named < lacking)
        snprintf(who + len, sizeof who - len, " and %u more", lacking - named);
    return stg_diag_set(d, STG_REJECT_MISSING_CAPABILITY, "command",
                        "%s needs capability \"%s\" on every member (docs/protocol.md "
                        "§11), and %s lack%s it: update %s staggerd first",
                        stg_cmd_name(cmd->action), stg_cap_name((stg_cap_t)cap), who,
                        lacking == 1 ? "s" : "", lacking == 1 ? "its" : "their");
}

bool stg__updating(const stg_core_t *c, int i) {
    const peer_t *p = &c->peers[i];
    /* The operator's clear-grants: the record it saw holds no slot any more;
     * the member's next record (a restart, a new phase) counts again. */
    if (p->cleared && p->rec.inc == p->cleared_inc && p->rec.seq == p->cleared_seq) return false;
    return p->have && stg_phase_updating(stg__rec_phase(c, i));
}

static bool holds_grant(const stg_core_t *c, int i) {
    for (unsigned s = 0; s < c->roster->policy.batch && s < STG_BATCH_MAX; s++)
        if (c->grants[s].holder == i) return true;
    return false;
}

/* A planned absence (docs/protocol.md §7.5), as swim.c keeps it: the
 * window is about the life that announced it, so a claim about a newer
 * life (it came back, and went again, before its new record reached us)
 * is judged as usual. */
bool stg__away(const stg_core_t *c, int i) {
    const peer_t *p = &c->peers[i];
    return i != c->self && p->have && p->away_until_ms > c->now &&
           p->live_inc <= (uint64_t)p->rec.inc;
}

bool stg__rebooting(const stg_core_t *c, int i) {
    return stg__away(c, i) && (c->peers[i].away_down || c->peers[i].live == STG_LIVE_SUSPECT);
}

stg_health_t stg__shown_health(const stg_core_t *c, int i) {
    const peer_t *p = &c->peers[i];
    if (!p->have || p->live != STG_LIVE_ALIVE || stg__rebooting(c, i)) return STG_HEALTH_UNKNOWN;
    return p->rec.health;
}

static bool available(const stg_core_t *c, int i) {
    return stg__shown_health(c, i) == STG_HEALTH_HEALTHY;
}

/* Member i is up and its service of c->R's component healthy (entry e). */
static bool comp_available(const stg_core_t *c, int i, const stg_comp_rec_t *e) {
    if (c->R == &c->comps[0]) return available(c, i);
    const peer_t *p = &c->peers[i];
    return e && p->have && p->live == STG_LIVE_ALIVE && !stg__rebooting(c, i) &&
           e->health == STG_HEALTH_HEALTHY;
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


static unsigned compute_order(const stg_core_t *c, int *out) {
    const stg_roster_t *r = c->roster;
    okey_t k[STG_MEMBERS_MAX];
    unsigned n = r->nmembers;
    for (unsigned i = 0; i < n; i++) {
        k[i].idx = (int)i;
        k[i].stage = stg__held_back(c, (int)i) ? 100 : r->members[i].stage;
        k[i].key = h64(c->R->release_id, r->members[i].name);
        k[i].flav_key = h64(c->R->release_id, r->members[i].flavour);
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
unsigned stg__order(const stg_core_t *c, int *out) {
    stg_core_t *w = (stg_core_t *)c; /* a cache, not state */
    if (!w->R->rank_valid || memcmp(w->R->rank_id, c->R->release_id, 8) != 0) {
        w->R->rank_n = compute_order(c, w->R->rank);
        memcpy(w->R->rank_id, c->R->release_id, 8);
        w->R->rank_valid = true;
    }
    memcpy(out, w->R->rank, w->R->rank_n * sizeof *out);
    return w->R->rank_n;
}

/* Members still to update, in order, that could start now (available,
 * not holding or using a slot). */
unsigned stg__eligible(const stg_core_t *c, int *out) {
    int ord[STG_MEMBERS_MAX];
    unsigned n = stg__order(c, ord), m = 0;
    for (unsigned i = 0; i < n; i++) {
        int x = ord[i];
        if (stg__done_on(c, x) || stg__failed_on(c, x, c->R->release_id) || stg__updating(c, x) ||
            holds_grant(c, x) || !available(c, x))
            continue;
        out[m++] = x;
    }
    return m;
}

unsigned stg__pending_count(const stg_core_t *c) {
    unsigned n = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (!stg__done_on(c, (int)i)) n++;
    return n;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t stg__boundaries_between(const stg_policy_t *p, int64_t a_ms, int64_t b_ms) {
    int64_t start = p->epoch_start_s * 1000, len = p->epoch_length_s * 1000;
    if (len <= 0 || b_ms <= a_ms) return 0;
    return floor_div(b_ms - start, len) - floor_div(a_ms - start, len);
}

int64_t stg__next_boundary(const stg_policy_t *p, int64_t now_ms) {
    int64_t start = p->epoch_start_s * 1000, len = p->epoch_length_s * 1000;
    return start + (floor_div(now_ms - start, len) + 1) * len;
}

bool stg__near_boundary(const stg_policy_t *p, int64_t now_ms) {
    int64_t nb = stg__next_boundary(p, now_ms), prev = nb - p->epoch_length_s * 1000;
    int64_t g = p->epoch_guard_s * 1000;
    return nb - now_ms < g || now_ms - prev < g;
}

bool stg__window_open(const stg_policy_t *p, int64_t now_ms) {
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

/* The proof: every non-holdback member done on the release and healthy,
 * since t_h (the last of them to turn healthy), for the soak time and across
 * proof_epochs boundaries. */
/* Which healthy period of member i on the release the proof counts: its
 * record's health_since_ms, used only as a name for the period (it is the
 * member's clock, never compared with ours); -1 when it is not done and
 * healthy on the release. */
int64_t stg__proof_key(const stg_core_t *c, int i) {
    stg_comp_rec_t tmp;
    const stg_comp_rec_t *e = stg__rec_comp(c, i, &tmp);
    if (!e || !stg__done_on(c, i) || e->health != STG_HEALTH_HEALTHY) return -1;
    return e->health_since_ms;
}

/* The proof, judged on this node's clock alone: each member's healthy
 * period is timed from when we first saw it (rollout.c's observe_proof), so a
 * member whose clock is slow or fast cannot shorten the wait. */
proof_t stg__proof(const stg_core_t *c, int64_t now) {
    proof_t pf = {false, 0, 0, 0, -1};
    const stg_policy_t *pol = &c->roster->policy;
    int64_t th = 0;
    unsigned k = stg__comp_index(c, c->R);
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        if (stg__held_back(c, (int)i)) continue;
        const peer_t *p = &c->peers[i];
        stg_comp_rec_t tmp;
        const stg_comp_rec_t *e = stg__rec_comp(c, (int)i, &tmp);
        if (p->have && !e) continue; /* does not manage this component */
        if (!stg__done_on(c, (int)i) || !comp_available(c, (int)i, e)) {
            pf.blocker = (int)i;
            return pf;
        }
        int64_t seen = p->proof_key[k] == stg__proof_key(c, (int)i) && p->proof_key[k] >= 0
                           ? p->proof_seen_ms[k] : now; /* not observed yet: from now */
        if (seen > th) th = seen;
    }
    int64_t soak_end = th + stg__soak_s(c, c->R->name) * 1000;
    pf.soak_left_ms = soak_end > now ? soak_end - now : 0;
    int64_t crossed = stg__boundaries_between(pol, th, now);
    int64_t need = stg__proof_epochs(c);
    pf.epochs_left = crossed >= need ? 0 : need - crossed;
    pf.next_boundary_ms = stg__next_boundary(pol, now);
    pf.holds = pf.soak_left_ms == 0 && pf.epochs_left == 0;
    return pf;
}

/* Slots free in this voter's view, counting except_slot as free: its own
 * grants, and members whose records show them updating on a slot that a
 * majority without this voter granted. */
unsigned stg__free_slots(const stg_core_t *c, int except_slot) {
    unsigned batch = c->roster->policy.batch, used = 0;
    for (unsigned s = 0; s < batch; s++)
        if (c->grants[s].holder >= 0 && (int)s != except_slot) used++;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (stg__updating(c, (int)i) && !holds_grant(c, (int)i)) used++;
    return used >= batch ? 0 : batch - used;
}

stg_deny_t stg__voter_check(const stg_core_t *c, int cand, unsigned slot, const uint8_t id[8]) {
    const stg_policy_t *pol = &c->roster->policy;
    if (!c->R->have_release || memcmp(id, c->R->release_id, 8) != 0) return STG_DENY_NO_RELEASE;
    if (c->R->release.not_before_s * 1000 > c->now) return STG_DENY_NOT_YET;
    if (c->halted) return STG_DENY_HALTED;
    if (stg__forgers(c, NULL, 0) > 1) return STG_DENY_TWO_FORGERS;
    if (c->fork.on) return STG_DENY_FORK;
    /* A grant must reach the disk before it is given: a voter that cannot
     * write grants nothing (and its answers wait for the disk anyway). */
    if (c->write_failed) return STG_DENY_NO_DISK;
    if (stg__abandoned(c, id)) return STG_DENY_ABANDONED;
    if (stg__failed_any(c) >= 0) return STG_DENY_FAILED_RELEASE;
    if (stg__done_on(c, cand)) return STG_DENY_ALREADY_DONE;
    const grant_t *g = &c->grants[slot];
    if (g->holder >= 0 && (g->holder != cand || memcmp(g->release, id, 8) != 0))
        return STG_DENY_SLOT_TAKEN;
    for (unsigned s = 0; s < pol->batch; s++)
        if (s != slot && c->grants[s].holder == cand) return STG_DENY_HOLDS_OTHER;
    unsigned unavailable = 0;
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if ((int)i != cand && !holds_grant(c, (int)i) && !stg__updating(c, (int)i) &&
            !available(c, (int)i))
            unavailable++;
    if (unavailable > pol->unavailable_max) return STG_DENY_BUDGET;
    if (!stg__window_open(pol, c->now)) return STG_DENY_WINDOW;
    if (c->roster->members[cand].role == STG_ROLE_PRODUCER && stg__near_boundary(pol, c->now))
        return STG_DENY_EPOCH_GUARD;
    if (stg__held_back(c, cand) && !stg__proof(c, c->now).holds) return STG_DENY_PROOF;
    int el[STG_MEMBERS_MAX];
    unsigned n = stg__eligible(c, el), k = stg__free_slots(c, (int)slot);
    for (unsigned i = 0; i < n && i < k; i++)
        if (el[i] == cand) return STG_DENY_NONE;
    /* Already granted by us and not yet started: it was next when we gave it. */
    if (g->holder == cand) return STG_DENY_NONE;
    return STG_DENY_NOT_NEXT;
}
