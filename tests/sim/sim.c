/* sim.c: the simulation harness (see sim.h). One heap of timed events
 * (deliveries and wake-ups) drives real cores; every random choice comes
 * from the seed, through one stream per component, so a run replays
 * exactly. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim.h"
#include "rng.h"

enum { EV_DELIVER, EV_WAKE, EV_HEALTH, EV_HOOK, EV_LINK_LOST, EV_PERSISTED, EV_AWAY, EV_REBOOT,
       EV_BOOT };

/* The random streams: one per component, each seeded from the run's seed
 * and its own number, so drawing more from one never shifts another. */
enum { ST_CORE, ST_DELAY, ST_LOSS, ST_DUP, ST_REORDER, ST_HOOK, ST_CLOCK, ST__COUNT };

#define TRACE_LINE 320

typedef struct {
    int64_t at;
    uint64_t order;               /* ties break by insertion: deterministic */
    int kind;
    unsigned node;
    int from;                     /* EV_HOOK: the hook kind; EV_HOOK ok in len */
    uint64_t gen;                 /* node generation (a restart makes old events moot) */
    uint8_t *data;
    size_t len;
    uint64_t wgen;                /* EV_PERSISTED: the write's generation */
    bool unstarted;               /* EV_HOOK: the shell refused to start it */
    bool first;                   /* before every other event at the same time */
    int64_t late;                 /* EV_WAKE: how late a stall made it (ms) */
    unsigned comp;                /* EV_HOOK: the component its release named */
} sev_t;

/* One component's stand-in service on a node: what its health hook says. */
typedef struct {
    stg_health_t health;
    char version[STG_VERSION_MAX + 1];
    char old_version[STG_VERSION_MAX + 1];
    char build[65], old_build[65];  /* the artifact's SHA-256 that runs, ran first */
    int64_t unhealthy_until;      /* restarting after an install */
    int64_t switched_at;          /* when the service last changed version (-1: never) */
} svc_t;

typedef struct {
    stg_seckey_t key;
    stg_core_t *core;
    bool up;
    uint64_t gen;
    int64_t wake_at;              /* the wake-up we have queued, or INT64_MAX */
    int64_t journal_inc;
    uint8_t *journal_roster;
    size_t journal_roster_len;
    svc_t svc[SIM_COMPONENTS];    /* its components' services: the primary, the OS */
    unsigned ncomp;               /* 1, or 2 when it manages the OS (sim_config_t) */
    stg_forging_t forging;        /* what its health hook says (sim_set_forging) */
    uint32_t restarts;            /* its health hook's restarts= */
    uint64_t health_runs;
    uint8_t *journal;
    size_t journal_len;
    unsigned audit_applied;       /* "applied" lines appended to its audit log */
    sim_behaviour_t beh;
    int64_t clock_offset_ms;      /* skew of its clock */
    int64_t clock_ppm;            /* drift of its clock */
    int hook;                     /* install or rollback running, or -1 */
    unsigned installers;          /* install and rollback hooks running now */
    bool write_fail;              /* its disk refuses writes (full, read-only) */
    bool journal_stale;           /* a journal write failed since the last one stored */
    bool restarted_stale;         /* its last start reloaded such an older journal */
    struct {                      /* the last start-ack (ok) that left it, per slot */
        int to;                   /* -1: none */
        uint8_t release[8];
    } acked[STG_BATCH_MAX];
    uint64_t write_failures;
    unsigned hook_comp;           /* the component the running install or rollback is for */
    char hook_version[STG_VERSION_MAX + 1]; /* what the running install puts on disk */
    char hook_build[65];
    uint64_t starts;
    int64_t stall_until;          /* its loop gets no CPU before this (virtual ms) */
    int64_t stall_next_ms;        /* stall this long right after its next wake-up */
    bool rebooting;               /* down in a reboot its install announced (EV_BOOT ends it) */
    int64_t away_at;              /* when its install announced it (EV_REBOOT waits from it) */
    bool away_answered;           /* the daemon answered: the reboot is under way */
} snode_t;

struct sim {
    int64_t stall_block;          /* the chain's height while stalled, or -1 */
    sim_config_t cfg;
    stg_core_tuning_t tuning;
    stg_rng_t rng[ST__COUNT];
    int64_t now;
    uint64_t order;
    sev_t *heap;
    size_t nheap, capheap;
    snode_t nodes[SIM_NODES_MAX];
    stg_seckey_t op;
    uint8_t *roster_env;
    size_t roster_len;
    bool blocked[SIM_NODES_MAX][SIM_NODES_MAX];
    int64_t last_at[SIM_NODES_MAX][SIM_NODES_MAX]; /* FIFO: latest delivery per link */
    stg_actions_t *acts;
    uint64_t messages, steps;
    uint64_t link_msgs[SIM_NODES_MAX][SIM_NODES_MAX]; /* sends per link, lost ones too */
    uint32_t link_type_msgs[SIM_NODES_MAX][SIM_NODES_MAX][SIM_MSG_TYPES]; /* the same, by type */
    char **trace;                 /* trace_keep == 0: every line */
    size_t ntrace, captrace;
    char (*ring)[TRACE_LINE];     /* trace_keep > 0: the last lines */
    size_t ring_next, ring_count;
    sim_observer_t observer;
    void *observer_ctx;
    crypto_generichash_state trace_hash; /* every action of every step, in order */
};

/* ---- heap ------------------------------------------------------------- */

static bool before(const sev_t *a, const sev_t *b) {
    if (a->at != b->at) return a->at < b->at;
    if (a->first != b->first) return a->first;
    return a->order < b->order;
}

static void push(sim_t *s, sev_t e) {
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? 2 * s->capheap : 1024;
        s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
        if (!s->heap) abort();
    }
    e.order = s->order++;
    size_t i = s->nheap++;
    s->heap[i] = e;
    while (i && before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        sev_t t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sev_t pop(sim_t *s) {
    sev_t top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && before(&s->heap[l], &s->heap[m])) m = l;
        if (r < s->nheap && before(&s->heap[r], &s->heap[m])) m = r;
        if (m == i) break;
        sev_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

/* ---- set-up ----------------------------------------------------------- */

static void seed_key(stg_seckey_t *k, unsigned tag) {
    uint8_t seed[32];
    crypto_generichash(seed, sizeof seed, (const uint8_t *)&tag, sizeof tag, NULL, 0);
    if (stg_seckey_from_seed(k, seed) != 0) abort();
}

char *sim_roster_json(sim_t *s, int64_t serial) {
    json_t *members = json_array();
    for (unsigned i = 0; i < s->cfg.n; i++) {
        char name[16], ep[64], key[STG_KEY_B64_LEN + 1];
        snprintf(name, sizeof name, "n%02u", i);
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", 20000 + i);
        stg_pubkey_to_b64(&s->nodes[i].key.pub, key);
        const sim_member_t *sm = s->cfg.members ? &s->cfg.members[i] : NULL;
        const char *role = i == 0 ? "producer" : i == 1 ? "standby" : (i % 3 == 2 ? "dark-relay" : "relay");
        const char *flavour = i % 2 ? "nix" : "debian";
        if (sm && sm->role) role = sm->role;
        if (sm && sm->flavour) flavour = sm->flavour;
        json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "key", key, "endpoint", ep,
                              "role", role, "flavour", flavour);
        if (sm && sm->holdback == 1) json_object_set_new(m, "holdback", json_true());
        if (sm && sm->stage > 0) json_object_set_new(m, "stage", json_integer(sm->stage));
        json_array_append_new(members, m);
    }
    char opk[STG_KEY_B64_LEN + 1];
    stg_pubkey_to_b64(&s->op.pub, opk);
    json_t *r = json_pack("{s:s, s:I, s:[s], s:o}", "fleet", "sim", "serial", (json_int_t)serial,
                          "operators", opk, "members", members);
    if (s->cfg.policy_json) {
        json_t *pol = json_loads(s->cfg.policy_json, 0, NULL);
        if (!pol) abort();
        json_object_set_new(r, "policy", pol);
    }
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

size_t sim_seal(sim_t *s, int node, int type, const char *json, uint8_t *out, size_t cap) {
    size_t n = 0;
    const stg_seckey_t *k = node < 0 ? &s->op : &s->nodes[node].key;
    if (stg_envelope_seal(type, (const uint8_t *)json, strlen(json), k, out, cap, &n) != 0) abort();
    return n;
}

/* A node's clock: offset plus a rate off by ppm; strictly increasing. */
static int64_t node_clock(const sim_t *s, unsigned i, int64_t v) {
    const snode_t *nd = &s->nodes[i];
    return s->cfg.start_ms + nd->clock_offset_ms + v + v * nd->clock_ppm / 1000000;
}

/* The first virtual time at which node i's clock reads at least w. */
static int64_t virtual_at(const sim_t *s, unsigned i, int64_t w) {
    const snode_t *nd = &s->nodes[i];
    int64_t x = w - s->cfg.start_ms - nd->clock_offset_ms;
    if (x <= 0) return 0;
    int64_t v = x * 1000000 / (1000000 + nd->clock_ppm);
    while (node_clock(s, i, v) < w) v++;
    while (v > 0 && node_clock(s, i, v - 1) >= w) v--;
    return v;
}

int64_t sim_node_clock(const sim_t *s, unsigned node) { return node_clock(s, node, s->now); }

static void schedule_wake(sim_t *s, unsigned i) {
    snode_t *nd = &s->nodes[i];
    int64_t next = stg_core_next_wakeup(nd->core);
    int64_t w = next == INT64_MAX ? INT64_MAX / 2 : virtual_at(s, i, next);
    if (w < s->now) w = s->now;
    if (w < nd->wake_at) {
        nd->wake_at = w;
        push(s, (sev_t){.at = w, .kind = EV_WAKE, .node = i, .gen = nd->gen});
    }
}

static void start_node(sim_t *s, unsigned i) {
    snode_t *nd = &s->nodes[i];
    stg_core_config_t cc;
    memset(&cc, 0, sizeof cc);
    cc.key = &nd->key;
    cc.roster_env = nd->journal_roster ? nd->journal_roster : s->roster_env;
    cc.roster_len = nd->journal_roster ? nd->journal_roster_len : s->roster_len;
    /* The shell persists incarnation+1 before it starts the core; on a disk
     * that refuses writes the stored number stays, so the next start after
     * this one uses the same incarnation again. */
    cc.incarnation = nd->journal_inc + 1;
    if (!nd->write_fail) nd->journal_inc++;
    else nd->write_failures++;
    cc.seed = stg__rng_next(&s->rng[ST_CORE]);
    snprintf(cc.component, sizeof cc.component, "%s", sim_component_name(SIM_COMP_NODE));
    cc.nextra = nd->ncomp - 1;
    for (unsigned k = 1; k < nd->ncomp; k++)
        snprintf(cc.extra_components[k - 1], sizeof cc.extra_components[k - 1], "%s",
                 sim_component_name(k));
    cc.caps_without = nd->beh.caps_without;
    cc.tuning = s->tuning;
    cc.journal = nd->journal;
    nd->restarted_stale = nd->journal_stale;
    cc.journal_len = nd->journal_len;
    stg_diag_t d = {0};
    nd->core = stg_core_new(&cc, node_clock(s, i, s->now), &d);
    if (!nd->core) {
        fprintf(stderr, "sim: node %u: %s\n", i, d.msg);
        abort();
    }
    nd->up = true;
    nd->gen++;
    nd->starts++;
    nd->hook = -1;
    nd->installers = 0;
    nd->wake_at = INT64_MAX;
    nd->stall_until = 0;
    nd->stall_next_ms = 0;
    nd->rebooting = false;
    schedule_wake(s, i);
}

sim_t *sim_new(const sim_config_t *cfg) {
    if (sodium_init() < 0 || cfg->n < 2 || cfg->n > SIM_NODES_MAX) return NULL;
    sim_t *s = calloc(1, sizeof *s);
    if (s) s->stall_block = -1;
    s->cfg = *cfg;
    if (cfg->tuning) s->tuning = *cfg->tuning;
    else stg_core_tuning_default(&s->tuning);
    for (unsigned k = 0; k < ST__COUNT; k++)
        stg__rng_seed(&s->rng[k], cfg->seed ^ (0x9e3779b97f4a7c15ull * (k + 1)));
    s->acts = malloc(sizeof *s->acts);
    crypto_generichash_init(&s->trace_hash, NULL, 0, 16);
    if (cfg->trace && cfg->trace_keep) s->ring = calloc(cfg->trace_keep, sizeof *s->ring);
    seed_key(&s->op, 1000);
    for (unsigned i = 0; i < cfg->n; i++) {
        seed_key(&s->nodes[i].key, i);
        if (cfg->skew_max_ms > 0)
            s->nodes[i].clock_offset_ms =
                (int64_t)stg__rng_below(&s->rng[ST_CLOCK], (uint32_t)(2 * cfg->skew_max_ms + 1)) -
                cfg->skew_max_ms;
        if (cfg->drift_max_ppm > 0)
            s->nodes[i].clock_ppm =
                (int64_t)stg__rng_below(&s->rng[ST_CLOCK], (uint32_t)(2 * cfg->drift_max_ppm + 1)) -
                cfg->drift_max_ppm;
        for (unsigned k = 0; k < STG_BATCH_MAX; k++) s->nodes[i].acked[k].to = -1;
        s->nodes[i].ncomp = cfg->os && !(cfg->members && cfg->members[i].no_os) ? 2 : 1;
        for (unsigned k = 0; k < SIM_COMPONENTS; k++) {
            svc_t *v = &s->nodes[i].svc[k];
            v->health = STG_HEALTH_HEALTHY;
            v->switched_at = -1;
            snprintf(v->version, sizeof v->version, "%s", k == SIM_COMP_OS ? SIM_OS_OLD : "10.5.1");
            snprintf(v->build, sizeof v->build, "%064d", 99);
            memcpy(v->old_version, v->version, sizeof v->version);
            memcpy(v->old_build, v->build, sizeof v->build);
        }
    }
    char *json = sim_roster_json(s, 1);
    uint8_t buf[STG_PAYLOAD_MAX];
    s->roster_len = sim_seal(s, -1, STG_DOC_ROSTER, json, buf, sizeof buf);
    free(json);
    s->roster_env = malloc(s->roster_len);
    memcpy(s->roster_env, buf, s->roster_len);
    for (unsigned i = 0; i < cfg->n; i++) start_node(s, i);
    return s;
}

void sim_destroy(sim_t **sp) {
    if (*sp && getenv("STG_SIM_TRACE_HASH")) {
        /* The cmocka scenarios' trace hashes, for tests/sim/trace_hash.sh. */
        FILE *f = fopen(getenv("STG_SIM_TRACE_HASH"), "a");
        uint8_t h[16];
        sim_trace_hash(*sp, h);
        for (unsigned k = 0; f && k < sizeof h; k++) fprintf(f, "%02x", h[k]);
        if (f) fprintf(f, "\n"), fclose(f);
    }
    sim_t *s = *sp;
    if (!s) return;
    for (unsigned i = 0; i < s->cfg.n; i++) {
        stg_core_destroy(&s->nodes[i].core);
        free(s->nodes[i].journal_roster);
        free(s->nodes[i].journal);
    }
    for (size_t i = 0; i < s->nheap; i++) free(s->heap[i].data);
    for (size_t i = 0; i < s->ntrace; i++) free(s->trace[i]);
    free(s->trace);
    free(s->ring);
    free(s->heap);
    free(s->acts);
    free(s->roster_env);
    free(s);
    *sp = NULL;
}

/* ---- running ---------------------------------------------------------- */

static void keep_line(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void keep_line(sim_t *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (s->ring) {
        /* Ring mode: fixed slots, no allocation, so thousands of seeds stay fast. */
        vsnprintf(s->ring[s->ring_next], TRACE_LINE, fmt, ap);
        s->ring_next = (s->ring_next + 1) % s->cfg.trace_keep;
        if (s->ring_count < s->cfg.trace_keep) s->ring_count++;
    } else {
        if (s->ntrace == s->captrace) {
            s->captrace = s->captrace ? 2 * s->captrace : 256;
            s->trace = realloc(s->trace, s->captrace * sizeof *s->trace);
            if (!s->trace) abort();
        }
        char *line = malloc(TRACE_LINE);
        if (!line) abort();
        vsnprintf(line, TRACE_LINE, fmt, ap);
        s->trace[s->ntrace++] = line;
    }
    va_end(ap);
}

static void keep_trace(sim_t *s, unsigned node, const stg_action_t *a) {
    if (!s->cfg.trace) return;
    keep_line(s, "%8lld n%02u [%s] %.*s", (long long)s->now, node, a->tag, (int)a->len,
              (const char *)a->data);
}

void sim_note(sim_t *s, const char *fmt, ...) {
    if (!s->cfg.trace) return;
    char text[TRACE_LINE - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    keep_line(s, "%8lld sim [sim] %s", (long long)s->now, text);
}

static double uniform(sim_t *s, int stream) {
    return (double)(stg__rng_next(&s->rng[stream]) >> 11) / 9007199254740992.0;
}

/* One copy of a message onto the wire: delay, maybe held back, FIFO if asked. */
static void transmit(sim_t *s, unsigned from, unsigned to, const uint8_t *data, size_t len) {
    int64_t span = s->cfg.delay_max_ms - s->cfg.delay_min_ms;
    int64_t delay = s->cfg.delay_min_ms +
                    (span > 0 ? (int64_t)stg__rng_below(&s->rng[ST_DELAY], (uint32_t)span + 1) : 0);
    if (s->cfg.reorder > 0 && uniform(s, ST_REORDER) < s->cfg.reorder) {
        int64_t d = s->cfg.delay_max_ms > 0 ? s->cfg.delay_max_ms : 1;
        delay += d + (int64_t)stg__rng_below(&s->rng[ST_REORDER], (uint32_t)(3 * d + 1));
    }
    int64_t at = s->now + delay;
    if (s->cfg.fifo) {
        if (at < s->last_at[from][to]) at = s->last_at[from][to];
        s->last_at[from][to] = at;
    }
    uint8_t *copy = malloc(len);
    if (!copy) abort();
    memcpy(copy, data, len);
    push(s, (sev_t){.at = at, .kind = EV_DELIVER, .node = to, .from = (int)from, .gen = 0,
                    .data = copy, .len = len});
}

/* The shell reports each journal write back to the core, right after the
 * step's actions (node/shell/staggerd.c): the core holds what the step
 * decided until its write is on disk. */
static void deliver_persist_result(sim_t *s, unsigned i, const stg_action_t *a, bool ok) {
    if (a->store != STG_STORE_JOURNAL) return;
    push(s, (sev_t){.at = s->now, .kind = EV_PERSISTED, .node = i, .gen = s->nodes[i].gen,
                    .len = ok, .wgen = a->gen});
}

static void persist_failed(sim_t *s, unsigned i, const stg_action_t *a);

/* What left the core is what the other side may act on: the checker asks
 * whether a voter's acknowledgement of a start really left (sim_acked). */
static void note_ack(snode_t *nd, unsigned to, const uint8_t *data, size_t len) {
    stg_msg_t *m = malloc(sizeof *m);
    if (!m) abort();
    if (stg_msg_decode(data, len, m, NULL) == 0 && m->ok && m->slot < STG_BATCH_MAX) {
        nd->acked[m->slot].to = (int)to;
        memcpy(nd->acked[m->slot].release, m->release, 8);
    }
    free(m);
}

static void apply(sim_t *s, unsigned i) {
    snode_t *nd = &s->nodes[i];
    stg_actions_t *acts = s->acts;
    for (unsigned k = 0; k < acts->n; k++) {
        const stg_action_t *a = &acts->a[k];
        switch (a->type) {
        case STG_ACT_SEND: {
            unsigned to = (unsigned)a->peer;
            if (to >= s->cfg.n) break;
            if (a->msg_type == STG_MSG_START_ACK) note_ack(nd, to, a->data, a->len);
            s->messages++;
            s->link_msgs[i][to]++;
            if (a->msg_type < SIM_MSG_TYPES) s->link_type_msgs[i][to][a->msg_type]++;
            if (s->cfg.loss > 0 && uniform(s, ST_LOSS) < s->cfg.loss) break;
            transmit(s, i, to, a->data, a->len);
            if (s->cfg.dup > 0 && uniform(s, ST_DUP) < s->cfg.dup) transmit(s, i, to, a->data, a->len);
            break;
        }
        case STG_ACT_PERSIST:
            if (nd->write_fail) {
                persist_failed(s, i, a);
                break;
            }
            if (a->store == STG_STORE_INCARNATION) {
                nd->journal_inc = strtoll((const char *)a->data, NULL, 10);
            } else if (a->store == STG_STORE_AUDIT) {
                char line[160];
                snprintf(line, sizeof line, "%.*s", (int)a->len, (const char *)a->data);
                if (strstr(line, "\"verdict\":\"applied\"")) nd->audit_applied++;
            } else if (a->store == STG_STORE_JOURNAL) {
                free(nd->journal);
                nd->journal = malloc(a->len);
                memcpy(nd->journal, a->data, a->len);
                nd->journal_len = a->len;
                nd->journal_stale = false;
                deliver_persist_result(s, i, a, true);
            } else if (a->store == STG_STORE_ROSTER) {
                free(nd->journal_roster);
                nd->journal_roster = malloc(a->len);
                memcpy(nd->journal_roster, a->data, a->len);
                nd->journal_roster_len = a->len;
            }
            break;
        case STG_ACT_RUN_HEALTH:
            push(s, (sev_t){.at = s->now + 5, .kind = EV_HEALTH, .node = i,
                            .from = (int)a->component, .gen = nd->gen});
            break;
        case STG_ACT_LOG: keep_trace(s, i, a); break;
        case STG_ACT_RUN_HOOK: {
            /* The stand-in service: install switches the version and
             * restarts it (unhealthy for a while); rollback switches back. */
            bool ok = true;
            int64_t took = 1;
            /* The release names the component (a gate's too); its hooks are that one's. */
            unsigned comp = a->release ? sim_component_index(a->release->component) : SIM_COMP_NODE;
            const sim_hooks_t *hk = comp == SIM_COMP_OS ? &nd->beh.os : NULL;
            if ((a->hook == STG_HOOK_INSTALL || a->hook == STG_HOOK_ROLLBACK) && nd->write_fail) {
                /* staggerd writes the hook's process group (hook.pgid)
                 * before the hook may do anything; when that write fails the
                 * hook exits at once, having changed nothing. */
                push(s, (sev_t){.at = s->now + 1, .kind = EV_HOOK, .node = i, .from = (int)a->hook,
                                .gen = nd->gen, .len = 0, .unstarted = true});
                break;
            }
            if (a->hook == STG_HOOK_INSTALL || a->hook == STG_HOOK_ROLLBACK) {
                took = s->cfg.install_ms > 0 ? s->cfg.install_ms : 1000;
                /* Hooks take between 3/4 and 5/4 of the nominal time. */
                took = took * 3 / 4 + (int64_t)stg__rng_below(&s->rng[ST_HOOK], (uint32_t)(took / 2 + 1));
                ok = a->hook == STG_HOOK_INSTALL ? !(hk ? hk->install_fails : nd->beh.install_fails)
                                                 : !(hk ? hk->rollback_fails : nd->beh.rollback_fails);
                nd->hook = (int)a->hook;
                nd->hook_comp = comp;
                nd->installers++;
                snprintf(nd->hook_version, sizeof nd->hook_version, "%s",
                         a->hook == STG_HOOK_INSTALL && a->release ? a->release->version : "");
                const stg_artifact_t *art =
                    a->hook == STG_HOOK_INSTALL && a->release
                        ? stg_release_artifact(a->release,
                                               stg_core_roster(nd->core)->members[i].flavour)
                        : NULL;
                snprintf(nd->hook_build, sizeof nd->hook_build, "%s", art ? art->sha256 : "");
            } else if (a->hook == STG_HOOK_GATE) {
                ok = !nd->beh.gate_says_no;
            }
            if (a->hook == STG_HOOK_INSTALL && ok && (hk ? hk->away_ms : nd->beh.away_ms) > 0) {
                /* An install that reboots the machine (the os-debian
                 * hook): halfway it announces the absence, then reboots
                 * (EV_AWAY, EV_REBOOT); it never exits on its own. */
                push(s, (sev_t){.at = s->now + took / 2, .kind = EV_AWAY, .node = i,
                                .gen = nd->gen});
                break;
            }
            sev_t e = {.at = s->now + took, .kind = EV_HOOK, .node = i, .from = (int)a->hook,
                       .gen = nd->gen, .len = ok, .comp = comp};
            if (a->hook == STG_HOOK_INSTALL && ok) {
                /* The new version is what runs from the moment the hook ends. */
                e.data = (uint8_t *)strdup(a->release->version);
            }
            push(s, e);
            break;
        }
        case STG_ACT_ROSTER_CHANGED: break;
        }
    }
}

/* A write the disk refused (sim_set_write_fail): the stored file keeps its
 * older contents, so a restart resumes from them. The shell logs an ERROR
 * and tells the core, which holds its messages and hook runs meanwhile. */
static void persist_failed(sim_t *s, unsigned i, const stg_action_t *a) {
    snode_t *nd = &s->nodes[i];
    nd->write_failures++;
    if (a->store == STG_STORE_JOURNAL) nd->journal_stale = true;
    sim_note(s, "n%02u: write of %s failed (disk refuses writes)", i, stg_store_name(a->store));
    deliver_persist_result(s, i, a, false);
}

/* Fold one step's actions and next wake-up into the run's trace hash: two
 * builds of the core that hash alike over a seed behaved alike on it. */
static void hash_step(sim_t *s, unsigned i, int64_t wake) {
    crypto_generichash_state *h = &s->trace_hash;
    const stg_actions_t *acts = s->acts;
    int64_t head[3] = {(int64_t)i, s->now, wake};
    crypto_generichash_update(h, (const uint8_t *)head, sizeof head);
    for (unsigned k = 0; k < acts->n; k++) {
        const stg_action_t *a = &acts->a[k];
        int64_t f[5] = {a->type, a->peer, a->level, a->hook, (int64_t)a->len};
        crypto_generichash_update(h, (const uint8_t *)f, sizeof f);
        if (a->tag) crypto_generichash_update(h, (const uint8_t *)a->tag, strlen(a->tag));
        if (a->type == STG_ACT_PERSIST) {
            int64_t st[2] = {a->store, (int64_t)a->gen};
            crypto_generichash_update(h, (const uint8_t *)st, sizeof st);
        }
        if (a->type == STG_ACT_RUN_HOOK && a->release)
            crypto_generichash_update(h, (const uint8_t *)a->release->version,
                                      strlen(a->release->version));
        if (a->data && a->len) crypto_generichash_update(h, a->data, a->len);
    }
}

void sim_trace_hash(const sim_t *s, uint8_t out[16]) {
    crypto_generichash_state copy = s->trace_hash;
    crypto_generichash_final(&copy, out, 16);
}

static void step_node(sim_t *s, unsigned i, const stg_event_t *ev) {
    snode_t *nd = &s->nodes[i];
    stg_event_t e = *ev;
    e.now_ms = node_clock(s, i, s->now);
    s->steps++;
    stg_core_step(nd->core, &e, s->acts);
    hash_step(s, i, stg_core_next_wakeup(nd->core));
    apply(s, i);
    schedule_wake(s, i);
    if (s->observer) s->observer(s, i, s->observer_ctx);
}

/* The OS component's health hook (deploy/hooks/os-debian/health): the
 * services up after boot, no reboot pending; what it runs is its version. */
static void health_os(sim_t *s, unsigned i) {
    snode_t *nd = &s->nodes[i];
    svc_t *v = &nd->svc[SIM_COMP_OS];
    stg_health_t h = v->health;
    if (s->now < v->unhealthy_until) h = STG_HEALTH_UNHEALTHY;
    if (nd->beh.os.health_fails_after_install && strcmp(v->version, v->old_version) != 0)
        h = STG_HEALTH_UNHEALTHY;
    stg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = STG_EV_HEALTH;
    ev.component = SIM_COMP_OS;
    ev.health = h;
    ev.version = v->version;
    ev.build = nd->beh.reports_build ? v->build : NULL;
    ev.detail = h == STG_HEALTH_HEALTHY ? "ok" : "failing";
    step_node(s, i, &ev);
}

void sim_run_until(sim_t *s, int64_t t_ms) {
    while (s->nheap && s->heap[0].at <= t_ms) {
        sev_t e = pop(s);
        s->now = e.at;
        snode_t *nd = &s->nodes[e.node];
        if (e.kind == EV_BOOT) {
            /* The planned reboot is over: the daemon starts again from the
             * same state directory, unless something restarted it already. */
            if (!nd->up && nd->rebooting && e.gen == nd->gen) {
                sim_note(s, "n%02u is back from its reboot", e.node);
                start_node(s, e.node);
            }
            continue;
        }
        if (!nd->up || (e.kind != EV_DELIVER && e.gen != nd->gen)) {
            /* Moot: the node crashed (sim_crash decided what a hook cut
             * short left on disk). */
            free(e.data);
            continue;
        }
        if (s->now < nd->stall_until) {
            /* Starved (sim_stall): everything for it waits for its loop to
             * run again; then its timer fires first, as libuv runs timers
             * before it reads sockets, late by the whole wait. */
            if (e.kind == EV_WAKE) {
                if (e.at != nd->wake_at) continue;
                if (!e.late) e.late = nd->stall_until - e.at;
                e.first = true;
                nd->wake_at = nd->stall_until;
            }
            e.at = nd->stall_until;
            push(s, e);
            continue;
        }
        stg_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.now_ms = s->now;
        switch (e.kind) {
        case EV_WAKE:
            if (e.at != nd->wake_at) break; /* superseded by an earlier one */
            nd->wake_at = INT64_MAX;
            if (e.late > 0) {
                /* staggerd's report of its own lateness, before the tick. */
                ev.type = STG_EV_LOOP_LATE;
                ev.late_ms = e.late;
                step_node(s, e.node, &ev);
                ev.late_ms = 0;
                nd->wake_at = INT64_MAX;
            }
            ev.type = STG_EV_TICK;
            step_node(s, e.node, &ev);
            if (nd->stall_next_ms > 0) {
                nd->stall_until = s->now + nd->stall_next_ms;
                nd->stall_next_ms = 0;
                sim_note(s, "n%02u: no CPU until %lld", e.node, (long long)nd->stall_until);
            }
            break;
        case EV_DELIVER:
            if (e.from >= 0 && (s->blocked[e.from][e.node] || !s->nodes[e.from].up)) break;
            ev.type = STG_EV_MESSAGE;
            ev.from = e.from;
            ev.data = e.data;
            ev.len = e.len;
            step_node(s, e.node, &ev);
            break;
        case EV_PERSISTED:
            ev.type = STG_EV_PERSISTED;
            ev.store = STG_STORE_JOURNAL;
            ev.gen = e.wgen;
            ev.ok = e.len != 0;
            ev.detail = ev.ok ? "ok" : "No space left on device";
            step_node(s, e.node, &ev);
            break;
        case EV_LINK_LOST:
            ev.type = STG_EV_LINK_LOST;
            ev.from = e.from;
            step_node(s, e.node, &ev);
            break;
        case EV_HEALTH: {
            if (e.from == SIM_COMP_OS) {
                health_os(s, e.node);
                break;
            }
            svc_t *v = &nd->svc[SIM_COMP_NODE];
            bool on_new = strcmp(v->version, v->old_version) != 0;
            stg_health_t h = v->health;
            if (s->now < v->unhealthy_until) h = STG_HEALTH_UNHEALTHY;
            if (nd->beh.health_fails_after_install && on_new) h = STG_HEALTH_UNHEALTHY;
            if (nd->beh.crash_loops_after_install && on_new) {
                h = STG_HEALTH_UNHEALTHY;
                nd->restarts++;
            }
            ev.type = STG_EV_HEALTH;
            ev.health = h;
            ev.version = v->version;
            ev.build = nd->beh.reports_build ? v->build : NULL;
            stg_tip_t tip = {0};
            if (nd->beh.reports_tip) {
                bool other = nd->beh.forks_alone || (nd->beh.forks_on_new && on_new);
                tip.have = true;
                tip.block = s->stall_block >= 0 ? s->stall_block : s->now / SIM_BLOCK_MS;
                tip.slot = tip.block * 20;
                snprintf(tip.hash, sizeof tip.hash, "%c%015llx", other ? 'b' : 'a',
                         (long long)tip.block);
                ev.tip = &tip;
            }
            ev.forging = nd->forging;
            ev.restarts = nd->restarts;
            ev.has_restarts = !nd->beh.restarts_flaky || (nd->health_runs++ & 1);
            if (!ev.has_restarts) ev.restarts = 0;
            ev.detail = h == STG_HEALTH_HEALTHY ? "ok" : "failing";
            step_node(s, e.node, &ev);
            break;
        }
        case EV_AWAY: {
            int64_t away = nd->hook_comp == SIM_COMP_OS ? nd->beh.os.away_ms : nd->beh.away_ms;
            ev.type = STG_EV_AWAY;
            ev.hook = STG_HOOK_INSTALL;
            ev.away_ms = away;
            nd->away_at = s->now;
            nd->away_answered = false;
            sim_note(s, "n%02u: its install hook says away=%lld ms", e.node, (long long)away);
            step_node(s, e.node, &ev);
            push(s, (sev_t){.at = s->now + 1, .kind = EV_REBOOT, .node = e.node, .gen = nd->gen});
            break;
        }
        case EV_REBOOT: {
            /* The hook waits for the daemon's answer (its record left), at
             * most AWAY_WAIT_MS as the os-debian hook does, then reboots:
             * what it installed is on disk, the hook and the daemon die. */
            if (!nd->away_answered) {
                bool sent = stg_core_away_sent(nd->core);
                if (!sent && s->now - nd->away_at < SIM_AWAY_WAIT_MS) {
                    push(s, (sev_t){.at = s->now + 5, .kind = EV_REBOOT, .node = e.node,
                                    .gen = nd->gen});
                    break;
                }
                /* systemd stops the daemon: its sockets close with their
                 * linger, so what it sent leaves before it dies. */
                nd->away_answered = true;
                push(s, (sev_t){.at = s->now + SIM_AWAY_LINGER_MS, .kind = EV_REBOOT,
                                .node = e.node, .gen = nd->gen});
                break;
            }
            bool os = nd->hook_comp == SIM_COMP_OS;
            int64_t len = os ? nd->beh.os.reboot_ms : nd->beh.reboot_ms;
            svc_t *v = &nd->svc[nd->hook_comp];
            if (!(os ? nd->beh.os.reboot_keeps_old : nd->beh.reboot_keeps_old) &&
                nd->hook_version[0]) {
                memcpy(v->version, nd->hook_version, sizeof v->version);
                if (nd->hook_build[0]) memcpy(v->build, nd->hook_build, sizeof v->build);
                v->switched_at = s->now + len;
            }
            /* Every service of the machine starts again after it. */
            for (unsigned k = 0; k < nd->ncomp; k++)
                nd->svc[k].unhealthy_until = s->now + len + sim_restart_ms(s);
            nd->hook = -1;
            nd->installers = 0;
            sim_note(s, "n%02u reboots for %lld ms (%s on disk)", e.node, (long long)len,
                     v->version);
            sim_crash(s, e.node);
            nd->rebooting = true;
            push(s, (sev_t){.at = s->now + len, .kind = EV_BOOT, .node = e.node, .gen = nd->gen});
            break;
        }
        case EV_HOOK:
            ev.type = STG_EV_HOOK_DONE;
            ev.hook = (stg_hook_kind_t)e.from;
            if (e.unstarted) {
                ev.ok = false;
                ev.detail = "not started: cannot record its process group: No space left on device";
                step_node(s, e.node, &ev);
                break;
            }
            if (e.from == nd->hook) nd->hook = -1;
            if ((ev.hook == STG_HOOK_INSTALL || ev.hook == STG_HOOK_ROLLBACK) && nd->installers)
                nd->installers--;
            ev.ok = e.len != 0;
            ev.detail = ev.ok ? "" : "exit 1";
            svc_t *v = &nd->svc[e.comp];
            if (ev.hook == STG_HOOK_INSTALL && e.data) {
                snprintf(v->version, sizeof v->version, "%s", (const char *)e.data);
                if (nd->hook_build[0]) memcpy(v->build, nd->hook_build, sizeof v->build);
                v->unhealthy_until = s->now + sim_restart_ms(s);
                v->switched_at = s->now;
            }
            if (ev.hook == STG_HOOK_ROLLBACK && ev.ok) {
                memcpy(v->version, v->old_version, sizeof v->version);
                memcpy(v->build, v->old_build, sizeof v->build);
                v->unhealthy_until = s->now + sim_restart_ms(s);
                v->switched_at = s->now;
            }
            step_node(s, e.node, &ev);
            break;
        }
        free(e.data);
    }
    s->now = t_ms;
}

int64_t sim_now(const sim_t *s) { return s->now; }

void sim_crash(sim_t *s, unsigned node) {
    snode_t *nd = &s->nodes[node];
    if (!nd->up) return;
    /* A hook cut short: the install may or may not have switched the
     * binary, the rollback may or may not have switched it back; either
     * way the service was in the middle of a restart. */
    if (nd->hook >= 0) {
        svc_t *v = &nd->svc[nd->hook_comp];
        bool switched = stg__rng_below(&s->rng[ST_HOOK], 2) == 1;
        if (switched && nd->hook == STG_HOOK_INSTALL && nd->hook_version[0]) {
            memcpy(v->version, nd->hook_version, sizeof v->version);
            if (nd->hook_build[0]) memcpy(v->build, nd->hook_build, sizeof v->build);
        }
        if (switched && nd->hook == STG_HOOK_ROLLBACK) {
            memcpy(v->version, v->old_version, sizeof v->version);
            memcpy(v->build, v->old_build, sizeof v->build);
        }
        if (switched) v->switched_at = s->now;
        v->unhealthy_until = s->now + sim_restart_ms(s);
        sim_note(s, "n%02u crashed during its %s%s hook: %s on disk", node,
                 nd->hook_comp == SIM_COMP_OS ? "os " : "",
                 stg_hook_name((stg_hook_kind_t)nd->hook), v->version);
        nd->hook = -1;
        /* The shell kills the hook's process group with it (hook.pgid). */
        nd->installers = 0;
    } else {
        sim_note(s, "n%02u crashed", node);
    }
    stg_core_destroy(&nd->core);
    nd->up = false;
    nd->gen++;
    /* Its kernel resets its connections: every node that has sent to it
     * (so holds a connection to it, in staggerd) and is not cut off from
     * it hears of the reset one minimal delay later. No random draw, so
     * the other streams stay as they were. */
    for (unsigned j = 0; j < s->cfg.n; j++)
        if (j != node && s->nodes[j].up && s->link_msgs[j][node] && !s->blocked[node][j])
            push(s, (sev_t){.at = s->now + s->cfg.delay_min_ms, .kind = EV_LINK_LOST, .node = j,
                            .from = (int)node, .gen = s->nodes[j].gen});
}

void sim_restart(sim_t *s, unsigned node) {
    if (s->nodes[node].up) sim_crash(s, node);
    sim_note(s, "n%02u restarts from its journal", node);
    start_node(s, node);
}

void sim_block(sim_t *s, unsigned a, unsigned b, bool blocked) {
    s->blocked[a][b] = s->blocked[b][a] = blocked;
}
void sim_block_one(sim_t *s, unsigned from, unsigned to, bool blocked) {
    s->blocked[from][to] = blocked;
}
bool sim_blocked(const sim_t *s, unsigned from, unsigned to) { return s->blocked[from][to]; }
void sim_heal(sim_t *s) { memset(s->blocked, 0, sizeof s->blocked); }
void sim_set_net(sim_t *s, double loss, double dup, double reorder) {
    s->cfg.loss = loss;
    s->cfg.dup = dup;
    s->cfg.reorder = reorder;
}

void sim_set_health(sim_t *s, unsigned node, stg_health_t h, const char *version) {
    svc_t *v = &s->nodes[node].svc[SIM_COMP_NODE];
    v->health = h;
    if (version) snprintf(v->version, sizeof v->version, "%s", version);
}

void sim_set_forging(sim_t *s, unsigned node, stg_forging_t f) { s->nodes[node].forging = f; }

void sim_inject(sim_t *s, unsigned node, int from, const uint8_t *frame, size_t len) {
    uint8_t *copy = malloc(len);
    memcpy(copy, frame, len);
    push(s, (sev_t){.at = s->now, .kind = EV_DELIVER, .node = node, .from = from, .data = copy,
                    .len = len});
}

stg_core_t *sim_core(sim_t *s, unsigned node) { return s->nodes[node].core; }
unsigned sim_nodes(const sim_t *s) { return s->cfg.n; }
const char *sim_running(const sim_t *s, unsigned node) { return sim_running_of(s, node, 0); }
const char *sim_running_of(const sim_t *s, unsigned node, unsigned comp) {
    return s->nodes[node].svc[comp].version;
}
void sim_set_behaviour(sim_t *s, unsigned node, const sim_behaviour_t *b) { s->nodes[node].beh = *b; }
void sim_chain_stall(sim_t *s, bool stalled) {
    s->stall_block = stalled ? s->now / SIM_BLOCK_MS : -1;
}
void sim_observe(sim_t *s, sim_observer_t fn, void *ctx) {
    s->observer = fn;
    s->observer_ctx = ctx;
}

size_t sim_release_env_of(sim_t *s, unsigned comp, const char *version, unsigned build,
                          int64_t created_at_s, uint8_t *out, size_t cap) {
    char json[1024];
    const char *name = sim_component_name(comp);
    snprintf(json, sizeof json,
             "{\"component\":\"%s\",\"version\":\"%s\",\"created_at\":%lld,"
             "\"artifacts\":{\"debian\":{\"url\":\"https://example.org/%s-%s.deb\","
             "\"sha256\":\"%064u\"},\"nix\":{\"image\":\"ghcr.io/pool/%s@sha256:%064u\"}}}",
             name, version, (long long)created_at_s, name, version, build, name, build);
    return sim_seal(s, -1, STG_DOC_RELEASE, json, out, cap);
}

size_t sim_release_env_build(sim_t *s, const char *version, unsigned build,
                             int64_t created_at_s, uint8_t *out, size_t cap) {
    return sim_release_env_of(s, SIM_COMP_NODE, version, build, created_at_s, out, cap);
}

size_t sim_release_env(sim_t *s, const char *version, int64_t created_at_s, uint8_t *out,
                       size_t cap) {
    return sim_release_env_build(s, version, 0, created_at_s, out, cap);
}

void sim_publish(sim_t *s, unsigned node, const char *version, int64_t created_at_s) {
    sim_publish_build(s, node, version, 0, created_at_s);
}

const char *sim_build(const sim_t *s, unsigned node) { return sim_build_of(s, node, 0); }
const char *sim_build_of(const sim_t *s, unsigned node, unsigned comp) {
    return s->nodes[node].beh.reports_build ? s->nodes[node].svc[comp].build : "";
}

void sim_publish_build(sim_t *s, unsigned node, const char *version, unsigned build,
                       int64_t created_at_s) {
    sim_publish_of(s, node, SIM_COMP_NODE, version, build, created_at_s);
}

void sim_publish_of(sim_t *s, unsigned node, unsigned comp, const char *version, unsigned build,
                    int64_t created_at_s) {
    uint8_t env[4096], frame[8192];
    size_t n = sim_release_env_of(s, comp, version, build, created_at_s, env, sizeof env);
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_RELEASE;
    m.blob = env;
    m.blob_len = n;
    int fl = stg_msg_encode(&m, frame, sizeof frame);
    if (fl < 0) abort();
    sim_inject(s, node, -1, frame, (size_t)fl);
}
bool sim_alive(const sim_t *s, unsigned node) { return s->nodes[node].up; }

unsigned sim_seeing(sim_t *s, unsigned m, const char *version) {
    unsigned k = 0;
    for (unsigned i = 0; i < sim_nodes(s); i++) {
        if (!sim_alive(s, i)) continue;
        stg_member_view_t mv;
        stg_core_member(sim_core(s, i), (int)m, &mv);
        k += strcmp(mv.rec.version, version) == 0;
    }
    return k;
}
uint64_t sim_messages(const sim_t *s) { return s->messages; }
uint64_t sim_link_messages(const sim_t *s, unsigned from, unsigned to) {
    return from < SIM_NODES_MAX && to < SIM_NODES_MAX ? s->link_msgs[from][to] : 0;
}

uint64_t sim_link_type_messages(const sim_t *s, unsigned from, unsigned to, int type) {
    return from < SIM_NODES_MAX && to < SIM_NODES_MAX && type >= 0 && type < SIM_MSG_TYPES
               ? s->link_type_msgs[from][to][type]
               : 0;
}
uint64_t sim_steps(const sim_t *s) { return s->steps; }
const char *sim_old_version(const sim_t *s, unsigned node) {
    return s->nodes[node].svc[SIM_COMP_NODE].old_version;
}
int sim_hook_running(const sim_t *s, unsigned node) { return s->nodes[node].hook; }
uint64_t sim_starts(const sim_t *s, unsigned node) { return s->nodes[node].starts; }

void sim_dump_trace(const sim_t *s) {
    for (size_t i = 0; i < s->ntrace; i++) fprintf(stderr, "%s\n", s->trace[i]);
    size_t first = s->ring_count < s->cfg.trace_keep ? 0 : s->ring_next;
    for (size_t k = 0; k < s->ring_count; k++)
        fprintf(stderr, "%s\n", s->ring[(first + k) % s->cfg.trace_keep]);
}

unsigned sim_audit_applied(const sim_t *s, unsigned node) { return s->nodes[node].audit_applied; }

size_t sim_command(sim_t *s, unsigned node, const char *json, uint8_t *env_out, size_t cap) {
    size_t n = sim_seal(s, -1, STG_DOC_COMMAND, json, env_out, cap);
    uint8_t *frame = malloc(n + STG_WIRE_HEADER);
    if (!frame) abort();
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_COMMAND;
    m.blob = env_out;
    m.blob_len = n;
    int fl = stg_msg_encode(&m, frame, n + STG_WIRE_HEADER);
    if (fl < 0) abort();
    sim_inject(s, node, -1, frame, (size_t)fl);
    free(frame);
    return n;
}

int64_t sim_wall_ms(const sim_t *s) { return s->cfg.start_ms + s->now; }


void sim_set_write_fail(sim_t *s, unsigned node, bool failing) {
    if (s->nodes[node].write_fail != failing)
        sim_note(s, "n%02u: disk %s", node, failing ? "refuses writes" : "takes writes again");
    s->nodes[node].write_fail = failing;
}
uint64_t sim_write_failures(const sim_t *s, unsigned node) { return s->nodes[node].write_failures; }
const uint8_t *sim_journal(const sim_t *s, unsigned node, size_t *len, bool *stale) {
    const snode_t *nd = &s->nodes[node];
    *len = nd->journal_len;
    if (stale) *stale = nd->journal_stale;
    return nd->journal;
}
void sim_set_journal(sim_t *s, unsigned node, const uint8_t *journal, size_t len) {
    snode_t *nd = &s->nodes[node];
    free(nd->journal);
    nd->journal = malloc(len);
    memcpy(nd->journal, journal, len);
    nd->journal_len = len;
}
bool sim_restarted_stale(const sim_t *s, unsigned node) { return s->nodes[node].restarted_stale; }
bool sim_acked(const sim_t *s, unsigned node, unsigned slot, int holder, const uint8_t id[8]) {
    return slot < STG_BATCH_MAX && s->nodes[node].acked[slot].to == holder && holder >= 0 &&
           memcmp(s->nodes[node].acked[slot].release, id, 8) == 0;
}
unsigned sim_installers(const sim_t *s, unsigned node) { return s->nodes[node].installers; }
bool sim_rebooting(const sim_t *s, unsigned node) {
    return !s->nodes[node].up && s->nodes[node].rebooting;
}
int64_t sim_switched_at(const sim_t *s, unsigned node) { return sim_switched_at_of(s, node, 0); }
int64_t sim_switched_at_of(const sim_t *s, unsigned node, unsigned comp) {
    return s->nodes[node].svc[comp].switched_at;
}
bool sim_manages(const sim_t *s, unsigned node, unsigned comp) {
    return comp < s->nodes[node].ncomp;
}
int sim_hook_comp(const sim_t *s, unsigned node) {
    return s->nodes[node].installers ? (int)s->nodes[node].hook_comp : -1;
}

static const char *const comp_name[SIM_COMPONENTS] = {"cardano-node", "os"};
const char *sim_component_name(unsigned comp) {
    return comp < SIM_COMPONENTS ? comp_name[comp] : "?";
}
unsigned sim_component_index(const char *name) {
    for (unsigned k = 0; k < SIM_COMPONENTS; k++)
        if (strcmp(name, comp_name[k]) == 0) return k;
    return SIM_COMP_NODE;
}
int64_t sim_restart_ms(const sim_t *s) { return s->cfg.restart_ms > 0 ? s->cfg.restart_ms : 2000; }
void sim_stall(sim_t *s, unsigned node, int64_t until_ms) {
    s->nodes[node].stall_until = until_ms;
    sim_note(s, "n%02u: no CPU until %lld", node, (long long)until_ms);
}
void sim_stall_after_wake(sim_t *s, unsigned node, int64_t len_ms) {
    s->nodes[node].stall_next_ms = len_ms;
}
bool sim_stalled(const sim_t *s, unsigned node) {
    return s->now < s->nodes[node].stall_until || s->nodes[node].stall_next_ms > 0;
}
void sim_set_clock_offset(sim_t *s, unsigned node, int64_t offset_ms) {
    s->nodes[node].clock_offset_ms = offset_ms;
}
int64_t sim_drift_ppm_max(const sim_t *s) { return s->cfg.drift_max_ppm; }
