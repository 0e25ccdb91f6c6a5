/* check.c: the rollout invariants after every step (see check.h). Only the
 * node that stepped can have changed, so the checker keeps a small shadow
 * of every node (its executor and grants) and refreshes one per step: a
 * crashed node keeps the shadow of its last step, which is what its
 * journal holds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define RELEASES_MAX 8
#define GAPS_MAX 1024

typedef struct {
    int holder;
    uint8_t id[8];
    bool started;
} shadow_grant_t;

typedef struct {
    uint64_t starts;              /* sim_starts when last read */
    stg_exec_brief_t x;
    shadow_grant_t g[2];
} shadow_t;

typedef struct {
    uint8_t id[8];
    char version[STG_VERSION_MAX + 1];
    bool failed;
    int64_t failed_at;
} rel_t;

struct check {
    sim_t *sim;
    unsigned n, batch, majority;
    bool holdback[SIM_NODES_MAX];
    shadow_t sh[SIM_NODES_MAX];
    rel_t rel[RELEASES_MAX];
    unsigned nrel;
    bool healed;
    int64_t healed_at;
    char violation[512];
    uint64_t violation_step;
    unsigned elections;
    int64_t last_done_at;         /* -1: no wave ended since the last election */
    check_gap_t gaps[GAPS_MAX];
    unsigned ngaps;
};

static bool updating(stg_phase_t p) { return stg_phase_updating(p); }

static void violate(check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violate(check_t *c, const char *fmt, ...) {
    if (c->violation[0]) return; /* the first one is the story */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->violation, sizeof c->violation, fmt, ap);
    va_end(ap);
    c->violation_step = sim_steps(c->sim);
    sim_note(c->sim, "VIOLATION: %s", c->violation);
}

static void hex(const uint8_t id[8], char out[17]) {
    for (int k = 0; k < 8; k++) snprintf(out + 2 * k, 3, "%02x", id[k]);
}

static rel_t *rel_find(check_t *c, const uint8_t id[8]) {
    for (unsigned i = 0; i < c->nrel; i++)
        if (memcmp(c->rel[i].id, id, 8) == 0) return &c->rel[i];
    return NULL;
}

/* Learn a release (its version) from a core whose executor is about it. */
static rel_t *rel_learn(check_t *c, unsigned node, const uint8_t id[8]) {
    rel_t *r = rel_find(c, id);
    if (r || c->nrel == RELEASES_MAX) return r;
    stg_exec_view_t *x = malloc(sizeof *x);
    if (!x) abort();
    stg_core_exec(sim_core(c->sim, node), x);
    r = &c->rel[c->nrel++];
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, 8);
    snprintf(r->version, sizeof r->version, "%s", x->release.version);
    free(x);
    return r;
}

static void read_node(check_t *c, unsigned i, shadow_t *out) {
    stg_core_t *core = sim_core(c->sim, i);
    out->starts = sim_starts(c->sim, i);
    stg_core_exec_brief(core, &out->x);
    for (unsigned s = 0; s < 2; s++) {
        bool started = false;
        out->g[s].holder = stg_core_grant(core, s, out->g[s].id, &started);
        out->g[s].started = started;
    }
}

/* A restart reloads the journal: the same state as the last step, except
 * that an install cut short reads as verifying. Refresh quietly. */
static void refresh_restarted(check_t *c) {
    for (unsigned j = 0; j < c->n; j++)
        if (sim_alive(c->sim, j) && sim_starts(c->sim, j) != c->sh[j].starts)
            read_node(c, j, &c->sh[j]);
}

static bool runs_release(const check_t *c, unsigned j, const rel_t *r) {
    const stg_exec_brief_t *x = &c->sh[j].x;
    if (x->phase == STG_PHASE_DONE && x->have_release && memcmp(x->release_id, r->id, 8) == 0)
        return true;
    return (x->phase == STG_PHASE_IDLE || x->phase == STG_PHASE_DONE) &&
           strcmp(sim_running(c->sim, j), r->version) == 0;
}

static void on_elected(check_t *c, unsigned i, const shadow_t *now) {
    char h[17];
    hex(now->x.release_id, h);
    c->elections++;
    rel_t *r = rel_learn(c, i, now->x.release_id);
    /* The one path that skips slots: an operator's emergency update, named
     * here rather than loosening the rules below. It needs a command. */
    if (now->x.emergency) {
        if (stg_core_cmd_seq(sim_core(c->sim, i)) == 0)
            violate(c, "emergency: n%02u runs an emergency update without an operator command", i);
        return;
    }
    if (c->last_done_at >= 0 && c->ngaps < GAPS_MAX) {
        c->gaps[c->ngaps++] = (check_gap_t){sim_now(c->sim) - c->last_done_at, c->holdback[i]};
        c->last_done_at = -1;
    }
    /* 3: a strict majority, by its own count and by the voters' true grants. */
    if (now->x.acks < c->majority)
        violate(c, "majority: n%02u entered %s on slot %d of %s with %u acks, needs %u of %u",
                i, stg_phase_name(now->x.phase), now->x.slot, h, now->x.acks, c->majority, c->n);
    unsigned holding = 0;
    if (now->x.slot >= 0 && now->x.slot < 2)
        for (unsigned v = 0; v < c->n; v++) {
            const shadow_grant_t *g = &c->sh[v].g[now->x.slot];
            if (g->holder == (int)i && g->started && memcmp(g->id, now->x.release_id, 8) == 0)
                holding++;
        }
    if (holding < c->majority)
        violate(c, "majority: n%02u entered elected on slot %d of %s but only %u voters hold a "
                   "started grant for it, needs %u of %u",
                i, now->x.slot, h, holding, c->majority, c->n);
    /* 4: holdback only after everyone else runs it. */
    if (c->holdback[i] && r)
        for (unsigned j = 0; j < c->n; j++)
            if (!c->holdback[j] && !runs_release(c, j, r)) {
                violate(c, "proof: holdback n%02u entered elected on %s %s while n%02u is %s "
                           "running %s",
                        i, r->version, h, j, stg_phase_name(c->sh[j].x.phase),
                        sim_running(c->sim, j));
                break;
            }
    /* 5, global: after the heal, the failure stops new elections in bounded time. */
    if (r && r->failed && c->healed) {
        int64_t known = r->failed_at > c->healed_at ? r->failed_at : c->healed_at;
        if (sim_now(c->sim) > known + FAILED_NEWS_MS)
            violate(c, "failed: n%02u entered elected on %s %s at %lld ms, failed at %lld ms, "
                       "healed at %lld ms",
                    i, r->version, h, (long long)sim_now(c->sim), (long long)r->failed_at,
                    (long long)c->healed_at);
    }
}

/* 5, local: a grant or start acknowledgement for a release this voter
 * already knows failed. */
static void on_grants(check_t *c, unsigned i, const shadow_t *was, const shadow_t *now) {
    for (unsigned s = 0; s < 2; s++) {
        const shadow_grant_t *a = &was->g[s], *b = &now->g[s];
        if (b->holder < 0) continue;
        bool fresh = a->holder != b->holder || memcmp(a->id, b->id, 8) != 0;
        bool acked = b->started && (fresh || !a->started);
        if (!fresh && !acked) continue;
        int f = stg_core_failed_member(sim_core(c->sim, i), b->id);
        if (f >= 0) {
            char h[17];
            hex(b->id, h);
            violate(c, "failed: voter n%02u %s slot %u of %s to n%02u while its view shows n%02u "
                       "failed on it",
                    i, fresh ? "granted" : "acknowledged the start of", s, h, b->holder, f);
        }
    }
}

static void observe(sim_t *s, unsigned i, void *ctx) {
    (void)s;
    check_step(ctx, i);
}

void check_step(check_t *c, unsigned i) {
    refresh_restarted(c);
    shadow_t was = c->sh[i], now;
    read_node(c, i, &now);
    c->sh[i] = now;
    if (was.starts != now.starts) was = now; /* first step after a restart */
    /* Transitions of the node that stepped. */
    if (!updating(was.x.phase) && updating(now.x.phase)) on_elected(c, i, &now);
    if (was.x.phase == STG_PHASE_SOAKING && now.x.phase == STG_PHASE_DONE)
        c->last_done_at = sim_now(c->sim);
    if (now.x.have_release &&
        (now.x.phase == STG_PHASE_FAILED || now.x.phase == STG_PHASE_ROLLING_BACK ||
         now.x.phase == STG_PHASE_ROLLED_BACK)) {
        rel_t *r = rel_learn(c, i, now.x.release_id);
        if (r && !r->failed) {
            r->failed = true;
            r->failed_at = sim_now(c->sim);
        }
    }
    on_grants(c, i, &was, &now);
    /* 1 and 2: over the whole fleet's true executors. */
    unsigned busy = 0;
    int holder_of[2] = {-1, -1};
    for (unsigned j = 0; j < c->n; j++) {
        const stg_exec_brief_t *x = &c->sh[j].x;
        if (!updating(x->phase) || x->emergency) continue; /* emergency: see on_elected */
        busy++;
        if (x->slot < 0 || (unsigned)x->slot >= c->batch) {
            violate(c, "slot: n%02u is %s holding slot %d, batch %u", j,
                    stg_phase_name(x->phase), x->slot, c->batch);
            continue;
        }
        if (holder_of[x->slot] >= 0)
            violate(c, "slot: n%02u (%s) and n%02u (%s) both hold slot %d", holder_of[x->slot],
                    stg_phase_name(c->sh[holder_of[x->slot]].x.phase), j,
                    stg_phase_name(x->phase), x->slot);
        holder_of[x->slot] = (int)j;
    }
    if (busy > c->batch) {
        char list[256] = "";
        for (unsigned j = 0; j < c->n; j++)
            if (updating(c->sh[j].x.phase) && !c->sh[j].x.emergency) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, " n%02u:%s", j,
                         stg_phase_name(c->sh[j].x.phase));
            }
        violate(c, "batch: %u nodes updating, batch %u:%s", busy, c->batch, list);
    }
}

check_t *check_new(sim_t *s) {
    check_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->sim = s;
    c->n = sim_nodes(s);
    const stg_roster_t *r = stg_core_roster(sim_core(s, 0));
    c->batch = r->policy.batch;
    c->majority = c->n / 2 + 1;
    c->last_done_at = -1;
    for (unsigned i = 0; i < c->n; i++) {
        c->holdback[i] = r->members[i].holdback;
        read_node(c, i, &c->sh[i]);
    }
    sim_observe(s, observe, c);
    return c;
}

void check_destroy(check_t **cp) {
    if (!cp || !*cp) return;
    sim_observe((*cp)->sim, NULL, NULL);
    free(*cp);
    *cp = NULL;
}

void check_healed(check_t *c) {
    c->healed = true;
    c->healed_at = sim_now(c->sim);
}

const char *check_violation(const check_t *c) { return c->violation[0] ? c->violation : NULL; }
uint64_t check_violation_step(const check_t *c) { return c->violation_step; }
unsigned check_elections(const check_t *c) { return c->elections; }
unsigned check_gaps(const check_t *c, const check_gap_t **out) {
    *out = c->gaps;
    return c->ngaps;
}
bool check_release_failed(const check_t *c) {
    for (unsigned i = 0; i < c->nrel; i++)
        if (c->rel[i].failed) return true;
    return false;
}

bool check_finished(const check_t *c, char *why, size_t cap) {
    sim_t *s = c->sim;
    uint8_t id[8];
    const stg_release_t *rel = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        if (!sim_alive(s, i)) {
            snprintf(why, cap, "n%02u is down", i);
            return false;
        }
        uint8_t mine[8];
        const stg_release_t *r = stg_core_release(sim_core(s, i), mine);
        if (!r) {
            snprintf(why, cap, "n%02u has no release", i);
            return false;
        }
        if (!rel) {
            rel = r;
            memcpy(id, mine, 8);
        } else if (memcmp(id, mine, 8) != 0) {
            snprintf(why, cap, "n%02u adopted another release", i);
            return false;
        }
    }
    unsigned done = 0, failed = 0;
    for (unsigned i = 0; i < c->n; i++) {
        stg_exec_brief_t x;
        stg_core_exec_brief(sim_core(s, i), &x);
        bool about = x.have_release && memcmp(x.release_id, id, 8) == 0;
        if (about && x.phase == STG_PHASE_DONE && strcmp(sim_running(s, i), rel->version) == 0)
            done++;
        else if (about && (x.phase == STG_PHASE_ROLLED_BACK || x.phase == STG_PHASE_FAILED))
            failed++;
        else if (updating(x.phase)) {
            snprintf(why, cap, "n%02u is %s", i, stg_phase_name(x.phase));
            return false;
        }
    }
    if (done == c->n) {
        snprintf(why, cap, "done");
        return true;
    }
    if (!failed) {
        snprintf(why, cap, "%u of %u done", done, c->n);
        return false;
    }
    for (unsigned i = 0; i < c->n; i++)
        if (stg_core_failed_member(sim_core(s, i), id) < 0) {
            snprintf(why, cap, "failed, but n%02u does not know yet", i);
            return false;
        }
    snprintf(why, cap, "failed");
    return true;
}
