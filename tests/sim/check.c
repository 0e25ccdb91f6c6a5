/* check.c: the rollout invariants after every step (see check.h). Only the
 * node that stepped can have changed, so the checker keeps a small shadow
 * of every node (its executor and grants) and refreshes one per step: a
 * crashed node keeps the shadow of its last step, which is what its
 * journal holds (unless a write failed: the restart then reloads an older
 * journal, and the shadow is read again when it restarts). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define RELEASES_MAX 8
#define GAPS_MAX 1024
#define CMDS_MAX 64
#define HALT_HIST 16

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
    unsigned comp;                /* its component (SIM_COMP_*) */
    stg_release_t release;        /* its artifacts: which build each flavour runs */
    bool failed;
    int64_t failed_at;
} rel_t;

/* An operator command the driver sent (check_command). */
typedef struct {
    int64_t seq;
    char action[16];
    bool include_holdback;
    int64_t at;
} cmd_t;

/* Whether a node is halted, by the commands it applied: the halt state
 * that goes with each applied sequence, so a restart that reloads an older
 * journal is judged by the sequence it reloaded. */
typedef struct {
    int64_t seq[HALT_HIST];
    bool halted[HALT_HIST];
    unsigned n;
    int64_t last_seq;             /* the applied sequence at its last step */
    bool unknown;                 /* it applied a command the checker was not told of */
} halt_track_t;

struct check {
    sim_t *sim;
    unsigned n, batch, majority;
    bool holdback[SIM_NODES_MAX];
    stg_role_t role[SIM_NODES_MAX]; /* as the roster said, then the promotes */
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
    cmd_t cmds[CMDS_MAX];
    unsigned ncmds;
    halt_track_t halt[SIM_NODES_MAX];
    bool op_rollback[SIM_NODES_MAX]; /* rolling back by an operator's command: no slot */
    stg_policy_t policy;
    unsigned expect;              /* components whose release the run published (bits) */
};

/* Holding a slot, as docs/protocol.md §9 defines it: written here from the
 * phases themselves, never with the core's own predicate, so a core whose
 * predicate forgets a phase is caught rather than agreed with. */
static bool updating(stg_phase_t p) {
    switch (p) {
    case STG_PHASE_ELECTED:
    case STG_PHASE_INSTALLING:
    case STG_PHASE_VERIFYING:
    case STG_PHASE_SOAKING:
    case STG_PHASE_FAILED:
    case STG_PHASE_ROLLING_BACK: return true;
    default: return false;
    }
}

static bool holdback_update_sent(const check_t *c);
static bool expect_halted(const check_t *c, unsigned i);
static void check_proof_true_time(check_t *c, unsigned i, const rel_t *r, int slot);
static bool rollback_applied(const check_t *c, unsigned i);

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

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

static rel_t *rel_find(const check_t *c, const uint8_t id[8]) {
    for (unsigned i = 0; i < c->nrel; i++)
        if (memcmp(c->rel[i].id, id, 8) == 0) return (rel_t *)&c->rel[i];
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
    r->comp = sim_component_index(x->release.component);
    r->release = x->release;
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

/* 9: what a voter acknowledged survives its restart. A started grant whose
 * acknowledgement left (the simulator saw the start-ack go) is the voter's
 * promise that the slot is taken until the holder frees it or finishes; the
 * acknowledgement may leave only once the grant is on disk, so the
 * restarted voter must still hold it. */
static void check_grants_survive(check_t *c, unsigned j, const shadow_t *before,
                                 const shadow_t *after) {
    for (unsigned s = 0; s < 2; s++) {
        const shadow_grant_t *a = &before->g[s], *b = &after->g[s];
        /* Its own grant it may rebuild from its own executor's journal. */
        if (a->holder < 0 || a->holder == (int)j || !a->started) continue;
        if (b->holder == a->holder && b->started && memcmp(a->id, b->id, 8) == 0) continue;
        /* Started in memory, but its acknowledgement waited for a journal
         * write that failed and died with the crash: nobody was promised. */
        if (!sim_acked(c->sim, j, s, a->holder, a->id)) continue;
        bool stale = sim_restarted_stale(c->sim, j);
        violate(c, "journal: voter n%02u restarted %s slot %u to n%02u, whose start it had "
                   "acknowledged%s",
                j, b->holder == a->holder ? "without the started mark on its grant of"
                                          : "without its grant of",
                s, a->holder, stale ? " (a journal write had failed: the acknowledgement left "
                                      "before the write)" : "");
    }
}

/* A restart reloads the journal: the same state as the last step, except
 * that an install cut short reads as verifying. Refresh quietly. */
static void refresh_restarted(check_t *c) {
    for (unsigned j = 0; j < c->n; j++)
        if (sim_alive(c->sim, j) && sim_starts(c->sim, j) != c->sh[j].starts) {
            shadow_t before = c->sh[j];
            read_node(c, j, &c->sh[j]);
            check_grants_survive(c, j, &before, &c->sh[j]);
            /* A restart from an older journal (its last write failed) may
             * resume an operator's rollback that had ended: still the
             * operator's path. */
            if (c->sh[j].x.phase == STG_PHASE_ROLLING_BACK && rollback_applied(c, j))
                c->op_rollback[j] = true;
        }
}

/* Node j's service runs rel's version, and its build where its health
 * hook reports one (a rebuild of a version is a new artifact). */
static bool runs_version(sim_t *s, unsigned j, const stg_release_t *rel) {
    unsigned k = sim_component_index(rel->component);
    if (!sim_manages(s, j, k)) return true; /* nothing of it to run: never waited for */
    if (strcmp(sim_running_of(s, j, k), rel->version) != 0) return false;
    const char *b = sim_build_of(s, j, k);
    const stg_artifact_t *a =
        b[0] ? stg_release_artifact(rel, stg_core_roster(sim_core(s, j))->members[j].flavour)
             : NULL;
    return !a || strcmp(b, a->sha256) == 0;
}

/* Node j's executor is about a release of another component than comp
 * (one the checker saw it elected for or fail on). */
static bool busy_elsewhere(const check_t *c, unsigned j, unsigned comp) {
    const stg_exec_brief_t *x = &c->sh[j].x;
    const rel_t *o = x->have_release ? rel_find(c, x->release_id) : NULL;
    return o && o->comp != comp;
}

static bool runs_release(const check_t *c, unsigned j, const rel_t *r) {
    const stg_exec_brief_t *x = &c->sh[j].x;
    if (x->phase == STG_PHASE_DONE && x->have_release && memcmp(x->release_id, r->id, 8) == 0)
        return true;
    /* An executor busy with another component says nothing of this one:
     * the version its service runs does (one executor serves both). */
    return (x->phase == STG_PHASE_IDLE || x->phase == STG_PHASE_DONE ||
            busy_elsewhere(c, j, r->comp)) &&
           runs_version(c->sim, j, &r->release);
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
        else if (c->holdback[i] && c->ncmds && !holdback_update_sent(c))
            violate(c, "emergency: holdback n%02u runs an emergency update, but no update command "
                       "included the holdback nodes", i);
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
    /* 6: and only after the soak and the epochs, in true time. */
    if (c->holdback[i] && r) check_proof_true_time(c, i, r, now->x.slot);
    /* 4: holdback only after everyone else runs it. */
    if (c->holdback[i] && r)
        for (unsigned j = 0; j < c->n; j++)
            if (!c->holdback[j] && !runs_release(c, j, r)) {
                violate(c, "proof: holdback n%02u entered elected on %s %s %s while n%02u is %s "
                           "running %s",
                        i, r->release.component, r->version, h, j,
                        stg_phase_name(c->sh[j].x.phase), sim_running_of(c->sim, j, r->comp));
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
    /* The same across components: a failure on one component's release
     * halts every component's rollout, while the failed release is the one
     * the electing node holds for its component. */
    for (unsigned q = 0; r && c->healed && q < c->nrel; q++) {
        const rel_t *f = &c->rel[q];
        uint8_t held[8];
        if (!f->failed || f->comp == r->comp || !sim_manages(c->sim, i, f->comp) ||
            !stg_core_release_of(sim_core(c->sim, i), f->comp, held) || memcmp(held, f->id, 8))
            continue;
        int64_t known = f->failed_at > c->healed_at ? f->failed_at : c->healed_at;
        if (sim_now(c->sim) > known + FAILED_NEWS_MS)
            violate(c, "failed: n%02u entered elected on %s %s at %lld ms, although %s %s failed "
                       "at %lld ms (healed at %lld ms)",
                    i, r->release.component, r->version, (long long)sim_now(c->sim),
                    f->release.component, f->version, (long long)f->failed_at,
                    (long long)c->healed_at);
    }
}

/* 6: the proof in true time. A holdback node enters elected only when every
 * other member has run the release, healthy, for the soak time and across
 * proof_epochs epoch boundaries, measured on the simulator's true clock: not
 * on any node's skewed one. A member's service cannot be seen healthy on
 * the version before it switched to it and restarted (switched_at +
 * restart_ms), so that is the earliest start of its healthy time; a core
 * whose proof holds earlier trusted a clock it should not have. Slack: the
 * soak measured on one drifting clock; the boundaries as the voters that
 * granted the slot see them on their own clocks ("durations are measured
 * on the node that decides"): a boundary may count up to their largest
 * clock error early. Another node's clock buys no slack. */
static void check_proof_true_time(check_t *c, unsigned i, const rel_t *r, int slot) {
    sim_t *s = c->sim;
    int64_t healthy_from = -1, worst_err = 0;
    int last = -1;
    for (unsigned v = 0; v < c->n && slot >= 0 && slot < 2; v++) {
        const shadow_grant_t *g = &c->sh[v].g[slot];
        if (g->holder != (int)i || !g->started) continue;
        int64_t err = sim_node_clock(s, v) - sim_wall_ms(s);
        if (err < 0) err = -err;
        if (err > worst_err) worst_err = err;
    }
    for (unsigned j = 0; j < c->n; j++) {
        if (c->holdback[j] || !sim_manages(s, j, r->comp)) continue;
        if (!runs_version(s, j, &r->release) || sim_switched_at_of(s, j, r->comp) < 0)
            return; /* invariant 4 speaks for this one */
        int64_t from = sim_switched_at_of(s, j, r->comp) + sim_restart_ms(s);
        if (from > healthy_from) {
            healthy_from = from;
            last = (int)j;
        }
    }
    if (last < 0) return;
    int64_t now = sim_now(s), soak = c->policy.soak_s * 1000;
    int64_t slack = soak * sim_drift_ppm_max(s) / 1000000 + 1;
    if (now - healthy_from < soak - slack) {
        violate(c, "proof: holdback n%02u entered elected %lld ms (true time) after n%02u could "
                   "first be healthy on %s; the soak is %lld ms",
                i, (long long)(now - healthy_from), last, r->version, (long long)soak);
        return;
    }
    int64_t len = c->policy.epoch_length_s * 1000, start = c->policy.epoch_start_s * 1000;
    int64_t wall0 = sim_wall_ms(s) - now; /* the true wall clock at virtual time 0 */
    if (len <= 0 || c->policy.proof_epochs == 0) return;
    int64_t a = wall0 + healthy_from - worst_err, b = wall0 + now + worst_err;
    int64_t crossed = floor_div(b - start, len) - floor_div(a - start, len);
    if (crossed < (int64_t)c->policy.proof_epochs)
        violate(c, "proof: holdback n%02u entered elected with %lld of %u epoch boundaries "
                   "(true time, +-%lld ms for the grantors' clocks) since n%02u could first be healthy on %s",
                i, (long long)crossed, c->policy.proof_epochs, (long long)worst_err, last,
                r->version);
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
        /* 7: a voter the operator halted grants nothing new. */
        if (fresh && expect_halted(c, i))
            violate(c, "halted: voter n%02u granted slot %u to n%02u although it applied a halt "
                       "(command #%lld) and no resume since",
                    i, s, b->holder, (long long)c->halt[i].last_seq);
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

static const cmd_t *cmd_find(const check_t *c, int64_t seq) {
    for (unsigned k = 0; k < c->ncmds; k++)
        if (c->cmds[k].seq == seq) return &c->cmds[k];
    return NULL;
}

static bool holdback_update_sent(const check_t *c) {
    for (unsigned k = 0; k < c->ncmds; k++)
        if (strcmp(c->cmds[k].action, "update") == 0 && c->cmds[k].include_holdback) return true;
    return false;
}

/* Has node applied an operator rollback (or, in a scenario that does not
 * tell the checker its commands, any command)? */
static bool rollback_applied(const check_t *c, unsigned i) {
    int64_t seq = stg_core_cmd_seq(sim_core(c->sim, i));
    if (!c->ncmds) return seq > 0;
    for (unsigned k = 0; k < c->ncmds; k++)
        if (strcmp(c->cmds[k].action, "rollback") == 0 && c->cmds[k].seq <= seq) return true;
    return false;
}

/* Halted, by the commands node applied (the sequence it holds now). */
static bool expect_halted(const check_t *c, unsigned i) {
    const halt_track_t *h = &c->halt[i];
    if (h->unknown) return false;
    bool halted = false;
    for (unsigned k = 0; k < h->n; k++)
        if (h->seq[k] <= h->last_seq) halted = h->halted[k];
    return halted;
}

/* 7: the halt. Follow the sequence node applied; the halt state that goes
 * with it is the one its core must show, also after a restart (which may
 * reload an older journal, and so an older sequence). */
static void check_halt(check_t *c, unsigned i) {
    halt_track_t *h = &c->halt[i];
    int64_t seq = stg_core_cmd_seq(sim_core(c->sim, i));
    if (h->unknown) return;
    if (seq > h->last_seq) {
        const cmd_t *cmd = cmd_find(c, seq);
        if (!cmd) {
            h->unknown = true; /* a scenario's own commands: not ours to judge */
            return;
        }
        bool halted = expect_halted(c, i);
        if (strcmp(cmd->action, "halt") == 0) halted = true;
        if (strcmp(cmd->action, "resume") == 0) halted = false;
        while (h->n && h->seq[h->n - 1] >= seq) h->n--; /* a reloaded older life's future */
        if (h->n == HALT_HIST) {
            memmove(h->seq, h->seq + 1, (HALT_HIST - 1) * sizeof h->seq[0]);
            memmove(h->halted, h->halted + 1, (HALT_HIST - 1) * sizeof h->halted[0]);
            h->n--;
        }
        h->seq[h->n] = seq;
        h->halted[h->n++] = halted;
    }
    h->last_seq = seq;
    bool want = expect_halted(c, i), is = stg_core_halted(sim_core(c->sim, i));
    if (want && !is)
        violate(c, "halted: n%02u applied a halt (its command sequence is #%lld, no resume since) "
                   "but is not halted (restarted %llu times)",
                i, (long long)seq, (unsigned long long)(sim_starts(c->sim, i) - 1));
}

/* 11: machines, across components. A machine is disrupted while its
 * executor holds a slot (the phases of `updating`), an install or rollback
 * hook runs on it (the simulator's own account, whatever the core thinks),
 * or it is down in a reboot its install announced; at most `batch` are,
 * whichever component each one updates (the slot is the machine's). The
 * operator's two paths are named, as in 1. And one machine runs one
 * component's update at a time: a hook that runs is for the component of
 * the release its executor is about, never another's. */
static void check_machines(check_t *c) {
    unsigned busy = 0;
    char list[320] = "";
    for (unsigned j = 0; j < c->n; j++) {
        const stg_exec_brief_t *x = &c->sh[j].x;
        int hook = sim_hook_comp(c->sim, j);
        const rel_t *r = x->have_release ? rel_find(c, x->release_id) : NULL;
        if (hook >= 0 && r && (unsigned)hook != r->comp)
            violate(c, "machines: n%02u runs a %s hook while its executor is %s on %s %s", j,
                    sim_component_name((unsigned)hook), stg_phase_name(x->phase),
                    r->release.component, r->version);
        if (x->emergency || c->op_rollback[j]) continue;
        bool disrupted = updating(x->phase) || hook >= 0 || sim_rebooting(c->sim, j);
        if (!disrupted) continue;
        busy++;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, " n%02u:%s%s%s", j, stg_phase_name(x->phase),
                 hook >= 0 ? "+hook:" : r ? ":" : "",
                 hook >= 0 ? sim_component_name((unsigned)hook) : r ? r->release.component : "");
        if (sim_rebooting(c->sim, j)) snprintf(list + strlen(list), sizeof list - strlen(list),
                                                "+rebooting");
    }
    if (busy > c->batch)
        violate(c, "machines: %u machines disrupted at once across components, batch %u:%s", busy,
                c->batch, list);
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
    /* Transitions of the node that stepped. The operator's rollback is the
     * second path that skips slots (every node rolls back at once): named
     * here, like the emergency update, not loosened below. */
    if (!updating(now.x.phase)) c->op_rollback[i] = false;
    if (!updating(was.x.phase) && updating(now.x.phase)) {
        if (now.x.phase == STG_PHASE_ROLLING_BACK && rollback_applied(c, i)) c->op_rollback[i] = true;
        else on_elected(c, i, &now);
    }
    if (was.x.phase == STG_PHASE_SOAKING && now.x.phase == STG_PHASE_DONE)
        c->last_done_at = sim_now(c->sim);
    /* Entering it: a node that stays rolled back after the operator's resume
     * (which forgives what failed before it) is not a new failure. */
    if (now.x.have_release && was.x.phase != now.x.phase &&
        (now.x.phase == STG_PHASE_FAILED || now.x.phase == STG_PHASE_ROLLING_BACK ||
         now.x.phase == STG_PHASE_ROLLED_BACK)) {
        rel_t *r = rel_learn(c, i, now.x.release_id);
        if (r && !r->failed) {
            r->failed = true;
            r->failed_at = sim_now(c->sim);
        }
    }
    check_halt(c, i);
    on_grants(c, i, &was, &now);
    /* 8: one installer per node at a time, across restarts. */
    if (sim_installers(c->sim, i) > 1)
        violate(c, "installer: n%02u runs %u install or rollback hooks at once", i,
                sim_installers(c->sim, i));
    /* 10: a planned absence is no death. The node that stepped holds no
     * member dead while that member's announced window runs on its clock. */
    stg_core_t *core = sim_core(c->sim, i);
    for (unsigned m = 0; m < c->n; m++) {
        int64_t left = 0;
        if (m != i && stg_core_member_live(core, (int)m, &left, NULL) == STG_LIVE_DEAD && left > 0)
            violate(c, "rebooting: n%02u holds n%02u dead inside its announced absence (%lld ms "
                       "left)",
                    i, m, (long long)left);
    }
    check_machines(c);
    /* 1 and 2: over the whole fleet's true executors. A machine down in a
     * reboot its install announced is disrupted too (by its journal it is
     * installing: the same slot). */
    unsigned busy = 0;
    int holder_of[2] = {-1, -1};
    for (unsigned j = 0; j < c->n; j++) {
        const stg_exec_brief_t *x = &c->sh[j].x;
        if (x->emergency || c->op_rollback[j])
            continue; /* the operator's paths: see on_elected and check_step */
        if (!updating(x->phase)) {
            if (sim_rebooting(c->sim, j))
                violate(c, "batch: n%02u reboots for an update while its journal says %s", j,
                        stg_phase_name(x->phase));
            continue;
        }
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
            if (updating(c->sh[j].x.phase) && !c->sh[j].x.emergency && !c->op_rollback[j]) {
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
    c->policy = r->policy;
    c->majority = c->n / 2 + 1;
    c->last_done_at = -1;
    c->expect = 1u << SIM_COMP_NODE;
    for (unsigned i = 0; i < c->n; i++) {
        c->holdback[i] = r->members[i].holdback;
        c->role[i] = r->members[i].role;
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

void check_promote(check_t *c, unsigned standby) {
    if (standby >= c->n || c->role[standby] != STG_ROLE_STANDBY) return;
    for (unsigned p = 0; p < c->n; p++) {
        if (c->role[p] != STG_ROLE_PRODUCER) continue;
        c->role[p] = STG_ROLE_STANDBY;
        c->role[standby] = STG_ROLE_PRODUCER;
        bool h = c->holdback[p];
        c->holdback[p] = c->holdback[standby];
        c->holdback[standby] = h;
        return;
    }
}

void check_command(check_t *c, int64_t seq, const char *action, bool include_holdback) {
    if (c->ncmds == CMDS_MAX) return;
    cmd_t *k = &c->cmds[c->ncmds++];
    k->seq = seq;
    snprintf(k->action, sizeof k->action, "%s", action);
    k->include_holdback = include_holdback;
    k->at = sim_now(c->sim);
    /* The operator's resume forgives the failures before it: invariant 5's
     * clock starts again with the next failure. */
    if (strcmp(action, "resume") == 0)
        for (unsigned r = 0; r < c->nrel; r++) c->rel[r].failed = false;
}

void check_cleared(check_t *c, unsigned node) { c->op_rollback[node] = true; }
void check_expect(check_t *c, unsigned comp, bool published) {
    if (published) c->expect |= 1u << comp;
    else c->expect &= ~(1u << comp);
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

/* How one component's rollout ended (check_finished). */
typedef enum { FIN_NOT, FIN_NONE, FIN_DONE, FIN_ABANDONED, FIN_FAILED, FIN_HALTED } fin_t;
static const char *const fin_name[] = {"not finished", "none", "done", "abandoned", "failed",
                                       "halted"};

typedef struct {
    fin_t fin;
    bool busy;                    /* a node is mid-update on it */
    bool stuck;                   /* failed: a node whose rollback failed too stays failed */
    uint8_t id[8];
    char why[160];
} comp_end_t;

/* Node i's executor is about an adopted release of one of its components
 * other than k. */
static bool about_other(sim_t *s, unsigned i, unsigned k, const stg_exec_brief_t *x) {
    for (unsigned o = 0; x->have_release && o < SIM_COMPONENTS; o++) {
        uint8_t id[8];
        if (o != k && sim_manages(s, i, o) && stg_core_release_of(sim_core(s, i), o, id) &&
            memcmp(id, x->release_id, 8) == 0)
            return true;
    }
    return false;
}

static void finished_comp(const check_t *c, unsigned k, comp_end_t *e) {
    sim_t *s = c->sim;
    const char *name = sim_component_name(k);
    const stg_release_t *rel = NULL;
    unsigned managing = 0, holding = 0;
    memset(e, 0, sizeof *e);
    e->fin = FIN_NOT;
    for (unsigned i = 0; i < c->n; i++) {
        if (!sim_manages(s, i, k)) continue;
        managing++;
        uint8_t mine[8];
        const stg_release_t *r = stg_core_release_of(sim_core(s, i), k, mine);
        if (!r) {
            snprintf(e->why, sizeof e->why, "n%02u has no %s release", i, name);
            continue;
        }
        holding++;
        if (!rel) {
            rel = r;
            memcpy(e->id, mine, 8);
        } else if (memcmp(e->id, mine, 8) != 0) {
            snprintf(e->why, sizeof e->why, "n%02u adopted another %s release", i, name);
            return;
        }
    }
    if (!holding && (!managing || !(c->expect & 1u << k))) {
        e->fin = FIN_NONE; /* nothing published of it, nothing to end */
        return;
    }
    if (holding < managing) return;
    unsigned done = 0, failed = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (!sim_manages(s, i, k)) continue;
        stg_exec_brief_t x;
        stg_core_exec_brief(sim_core(s, i), &x);
        bool about = x.have_release && memcmp(x.release_id, e->id, 8) == 0;
        bool other = !about && about_other(s, i, k, &x);
        bool runs = runs_version(s, i, rel);
        /* Idle and already running it counts as done (an older journal
         * reloaded after the install, as the proof counts it too); so does
         * an executor that last updated another component. */
        if ((about && x.phase == STG_PHASE_DONE && runs) || (x.phase == STG_PHASE_IDLE && runs) ||
            (other && !updating(x.phase) && runs))
            done++;
        else if (about && (x.phase == STG_PHASE_ROLLED_BACK || x.phase == STG_PHASE_FAILED))
            failed++;
        /* Failed on it, and its executor moved on to another component's
         * release since (an emergency update): its record still says so. */
        else if (other && !updating(x.phase) &&
                 stg_core_failed_member(sim_core(s, i), e->id) == (int)i)
            failed++;
        else if (updating(x.phase) && !other) {
            snprintf(e->why, sizeof e->why, "n%02u is %s", i, stg_phase_name(x.phase));
            e->busy = true;
            return;
        }
    }
    if (done == managing) {
        e->fin = FIN_DONE;
        return;
    }
    /* The operator gave up on the release (abandon, or rollback, which
     * abandons it too): a legal end once every node applied that command or
     * a later one and nobody is mid-update (checked above). */
    int64_t gave_up = 0;
    for (unsigned q = 0; q < c->ncmds; q++)
        if (strcmp(c->cmds[q].action, "abandon") == 0 || strcmp(c->cmds[q].action, "rollback") == 0)
            gave_up = c->cmds[q].seq;
    if (gave_up) {
        unsigned knows = 0;
        for (unsigned i = 0; i < c->n; i++)
            if (stg_core_cmd_seq(sim_core(s, i)) >= gave_up) knows++;
        if (knows == c->n) {
            e->fin = FIN_ABANDONED;
            return;
        }
    }
    if (!failed) {
        snprintf(e->why, sizeof e->why, "%u of %u done", done, managing);
        return;
    }
    /* A node whose rollback hook failed too stays failed until the operator
     * mends it by hand: an end, even when a resume forgave the failure in the
     * others' views and they wait for it. */
    for (unsigned i = 0; i < c->n; i++)
        if (c->sh[i].x.phase == STG_PHASE_FAILED && c->sh[i].x.have_release &&
            memcmp(c->sh[i].x.release_id, e->id, 8) == 0) {
            e->fin = FIN_FAILED;
            e->stuck = true;
            return;
        }
    for (unsigned i = 0; i < c->n; i++)
        if (stg_core_failed_member(sim_core(s, i), e->id) < 0) {
            snprintf(e->why, sizeof e->why, "failed, but n%02u does not know yet", i);
            return;
        }
    e->fin = FIN_FAILED;
}

/* The end of every component's rollout: each done, abandoned or failed
 * (as the primary's alone was judged before components), or halted part
 * way, with nobody mid-update on it, by another component's failure that
 * every node knows of: the core halts every component on any failure. */
bool check_finished(const check_t *c, char *why, size_t cap) {
    sim_t *s = c->sim;
    for (unsigned i = 0; i < c->n; i++)
        if (!sim_alive(s, i)) {
            snprintf(why, cap, "n%02u is down", i);
            return false;
        }
    comp_end_t e[SIM_COMPONENTS];
    for (unsigned k = 0; k < SIM_COMPONENTS; k++) finished_comp(c, k, &e[k]);
    for (unsigned k = 0; k < SIM_COMPONENTS; k++) {
        if (e[k].fin != FIN_NOT || e[k].busy) continue;
        for (unsigned o = 0; o < SIM_COMPONENTS && e[k].fin == FIN_NOT; o++) {
            if (o == k || e[o].fin != FIN_FAILED) continue;
            bool known = e[o].stuck;
            for (unsigned i = 0; i < c->n && !known; i++)
                if (stg_core_failed_member(sim_core(s, i), e[o].id) < 0) break;
                else if (i + 1 == c->n) known = true;
            if (known) e[k].fin = FIN_HALTED;
        }
    }
    unsigned shown = 0;
    bool ok = true;
    why[0] = '\0';
    for (unsigned k = 0; k < SIM_COMPONENTS; k++) {
        if (e[k].fin == FIN_NONE) continue;
        if (e[k].fin == FIN_NOT) ok = false;
        size_t l = strlen(why);
        snprintf(why + l, cap - l, "%s%s", shown++ ? ", " : "",
                 e[k].fin == FIN_NOT ? e[k].why : fin_name[e[k].fin]);
    }
    if (!ok) {
        /* What is missing, alone. */
        for (unsigned k = 0; k < SIM_COMPONENTS; k++)
            if (e[k].fin == FIN_NOT) {
                snprintf(why, cap, "%s%s%s", k ? sim_component_name(k) : "", k ? ": " : "",
                         e[k].why);
                break;
            }
        return false;
    }
    if (shown > 1) {
        /* Several components: each one's end, by name. */
        why[0] = '\0';
        shown = 0;
        for (unsigned k = 0; k < SIM_COMPONENTS; k++) {
            if (e[k].fin == FIN_NONE) continue;
            size_t l = strlen(why);
            snprintf(why + l, cap - l, "%s%s %s", shown++ ? ", " : "", sim_component_name(k),
                     fin_name[e[k].fin]);
        }
    }
    return true;
}
