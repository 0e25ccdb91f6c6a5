/* stagger_sim.c: stagger-sim, the deterministic rollout simulator. Each
 * seed builds a fleet (3..12 nodes, batch 1 or 2, roles, holdback and
 * policy drawn from the seed), publishes a release, runs a fault phase
 * (delay, loss, duplication, reordering, partitions both ways and one way,
 * crashes and restarts, clock skew and drift, failing hooks and health),
 * then a healed phase that must finish the rollout within a bound. Options
 * add the operator's emergency commands, large clock skew, disk write
 * failures, planned reboots and a second component (the OS, with its own
 * releases), each from its own random stream. The
 * invariants of check.h run after every step; a failing seed prints its
 * trace and replays exactly with --seed.
 *
 *   stagger-sim --seeds 1..2000 --faults all
 *   stagger-sim --seed 1234 --trace
 *   stagger-sim --seeds 1..500 --commands --skew-s 120 --write-faults
 *   stagger-sim --seeds 1..1000 --components */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "check.h"
#include "rng.h"
#include "sim.h"

#define START_MS 1800000000000LL /* on an epoch boundary of the policies below */
#define TRACE_KEEP 200

enum { FAULTS_NONE, FAULTS_NET, FAULTS_ALL };

/* The driver's own random streams, apart from the simulator's. New fault
 * kinds get streams of their own at the end, so a run without them draws
 * exactly what it drew before they existed. */
enum { DS_SHAPE, DS_NET, DS_PARTITION, DS_CRASH, DS_HOOKS, DS_HEALTH, DS_COMMAND, DS_WRITE,
       DS_REBOOT, DS_COMPONENT, DS__COUNT };

typedef struct {
    unsigned nodes, batch;        /* 0: from the seed */
    int partners;                 /* -1: the default tuning */
    int faults;
    bool trace, quiet;
    bool trace_hash;              /* print each seed's action-trace hash */
    bool commands;                /* emergency commands in the fault plan */
    int64_t skew_s;               /* per-node clock offsets up to +-this (0: the default) */
    bool write_faults;            /* disks that refuse writes for a while */
    bool reboots;                 /* installs that announce a reboot, then reboot */
    bool components;              /* fleets that manage the OS too, and its releases */
    bool os_partial;              /* with them, some members do not manage the OS */
    bool stop;                    /* stop at the first violating seed */
} opts_t;

typedef struct {
    bool ok;
    bool finished_failed;         /* the release failed (a legal outcome) */
    unsigned elections;
    int64_t virtual_ms;
    char verdict[600];
    uint8_t trace_hash[16];
} result_t;

static stg_rng_t rs[DS__COUNT];

static uint32_t below(int st, uint32_t n) { return n ? stg__rng_below(&rs[st], n) : 0; }
static int64_t range(int st, int64_t lo, int64_t hi) {
    return lo + (int64_t)below(st, (uint32_t)(hi - lo + 1));
}
static bool chance(int st, unsigned percent) { return below(st, 100) < percent; }

typedef enum {
    F_CRASH, F_RESTART, F_SPLIT, F_ONEWAY, F_UNBLOCK, F_BLIP, F_UNBLIP,
    F_COMMAND, F_WRITE_FAIL, F_WRITE_OK
} fkind_t;

/* The operator's emergency commands (--commands), as staggerctl sends them. */
typedef enum { C_HALT, C_RESUME, C_ROLLBACK, C_UPDATE, C_UPDATE_HOLDBACK, C_ABANDON, C__COUNT } ckind_t;
static const char *const cmd_action[C__COUNT] = {"halt", "resume", "rollback", "update", "update",
                                                 "abandon"};

typedef struct {
    int64_t at;
    fkind_t kind;
    unsigned a, b;                /* F_COMMAND: a is the ckind_t, b the node it is handed to */
    uint64_t mask;                /* F_SPLIT: one side */
} fault_t;

#define FAULTS_MAX 128

/* A release the operator publishes (--components: of either component). */
typedef struct {
    unsigned comp;
    int64_t at;
    bool done;
} pub_t;

static int fault_cmp(const void *x, const void *y) {
    const fault_t *a = x, *b = y;
    if (a->at != b->at) return a->at < b->at ? -1 : 1;
    return a->kind < b->kind ? -1 : a->kind > b->kind;
}

/* Sign an emergency command and hand it to node, as staggerctl would; the
 * checker learns what it is, to judge the halt and the end state. */
static void send_command(sim_t *s, check_t *c, unsigned node, ckind_t k, int64_t seq) {
    static char json[24000];
    char extra[20000] = "";
    if (k == C_UPDATE || k == C_UPDATE_HOLDBACK) {
        /* The published release itself: an update now, skipping the waves. */
        uint8_t renv[4096];
        char b64[6000];
        size_t rn = sim_release_env(s, "10.5.2", START_MS / 1000 + 100, renv, sizeof renv);
        sodium_bin2base64(b64, sizeof b64, renv, rn, sodium_base64_VARIANT_ORIGINAL);
        snprintf(extra, sizeof extra, ",\"release\":\"%s\"%s", b64,
                 k == C_UPDATE_HOLDBACK ? ",\"include_holdback\":true" : "");
    }
    int64_t now_s = sim_wall_ms(s) / 1000; /* the operator's clock is right */
    snprintf(json, sizeof json,
             "{\"fleet\":\"sim\",\"seq\":%lld,\"issued_at\":%lld,\"expires_at\":%lld,"
             "\"action\":\"%s\"%s}",
             (long long)seq, (long long)now_s, (long long)now_s + 3600, cmd_action[k], extra);
    sim_note(s, "operator: command #%lld %s%s to n%02u", (long long)seq, cmd_action[k],
             k == C_UPDATE_HOLDBACK ? " (holdback included)" : "", node);
    check_command(c, seq, cmd_action[k], k == C_UPDATE_HOLDBACK);
    uint8_t env[20000];
    sim_command(s, node, json, env, sizeof env);
}

/* to, or the next node that is up (and manages component comp). */
static unsigned live_node(sim_t *s, unsigned to, unsigned n, unsigned comp) {
    for (unsigned tries = 0; tries < n && !(sim_alive(s, to) && sim_manages(s, to, comp)); tries++)
        to = (to + 1) % n;
    return to;
}

static const char *const pub_version[SIM_COMPONENTS] = {"10.5.2", "12.9"};

/* The operator's release of component comp, handed to node to. */
static void publish(sim_t *s, unsigned to, unsigned comp, bool again) {
    sim_note(s, "publish %s %s %sto n%02u%s", sim_component_name(comp), pub_version[comp],
             again ? "again " : "", to, again ? ": no member has it" : "");
    sim_publish_of(s, to, comp, pub_version[comp], 0, START_MS / 1000 + 100);
}

static void apply_fault(sim_t *s, check_t *c, const fault_t *f, unsigned n, int64_t *seq) {
    switch (f->kind) {
    case F_CRASH:
        if (sim_alive(s, f->a)) sim_crash(s, f->a);
        break;
    case F_RESTART:
        if (!sim_alive(s, f->a)) sim_restart(s, f->a);
        break;
    case F_SPLIT:
        sim_note(s, "partition: mask %llx against the rest", (unsigned long long)f->mask);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                if ((f->mask >> i & 1) != (f->mask >> j & 1)) sim_block_one(s, i, j, true);
        break;
    case F_ONEWAY:
        sim_note(s, "one-way block n%02u -> n%02u", f->a, f->b);
        sim_block_one(s, f->a, f->b, true);
        break;
    case F_UNBLOCK:
        sim_note(s, "partitions lifted");
        sim_heal(s);
        break;
    case F_BLIP:
        sim_note(s, "n%02u unhealthy for a while", f->a);
        sim_set_health(s, f->a, STG_HEALTH_UNHEALTHY, NULL);
        break;
    case F_UNBLIP: sim_set_health(s, f->a, STG_HEALTH_HEALTHY, NULL); break;
    case F_COMMAND:
        send_command(s, c, live_node(s, f->b, n, SIM_COMP_NODE), (ckind_t)f->a, ++*seq);
        break;
    case F_WRITE_FAIL: sim_set_write_fail(s, f->a, true); break;
    case F_WRITE_OK: sim_set_write_fail(s, f->a, false); break;
    }
}

static void run_seed(uint64_t seed, const opts_t *o, result_t *res) {
    for (unsigned k = 0; k < DS__COUNT; k++)
        stg__rng_seed(&rs[k], seed ^ (0xd1b54a32d192ed03ull * (k + 1)));
    memset(res, 0, sizeof *res);

    /* The fleet's shape and policy. */
    unsigned n = o->nodes ? o->nodes : (unsigned)range(DS_SHAPE, 3, 12);
    unsigned batch = o->batch ? o->batch : (unsigned)range(DS_SHAPE, 1, 2);
    sim_member_t mem[SIM_NODES_MAX];
    memset(mem, 0, sizeof mem);
    static const char *const flav[] = {"debian", "nix"};
    for (unsigned i = 0; i < n; i++) {
        mem[i].role = i == 0 ? "producer" : i == 1 ? "standby" : chance(DS_SHAPE, 60) ? "relay" : "dark-relay";
        mem[i].flavour = flav[below(DS_SHAPE, 2)];
    }
    if (n > 3 && chance(DS_SHAPE, 25)) {
        /* An explicit holdback set of one or two, never everyone. */
        unsigned k = (unsigned)range(DS_SHAPE, 1, 2);
        for (unsigned m = 0; m < k; m++) mem[below(DS_SHAPE, n)].holdback = 1;
    }
    if (chance(DS_SHAPE, 25))
        for (unsigned i = 0; i < n; i++) mem[i].stage = (int)range(DS_SHAPE, 1, 3);
    int64_t soak_s = range(DS_SHAPE, 1, 8), epoch_s = range(DS_SHAPE, 20, 60);
    char policy[512];
    snprintf(policy, sizeof policy,
             "{\"batch\":%u,\"soak_s\":%lld,\"unavailable_max\":%u,"
             "\"epoch\":{\"start_s\":%lld,\"length_s\":%lld,\"proof_epochs\":%u,\"guard_s\":%lld},"
             "\"health_deadline_s\":60}",
             batch, (long long)soak_s, (unsigned)range(DS_SHAPE, 1, n > 4 ? 2 : 1),
             START_MS / 1000, (long long)epoch_s, (unsigned)range(DS_SHAPE, 0, 1),
             (long long)range(DS_SHAPE, 1, 3));
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    t.health_interval_ms = range(DS_SHAPE, 500, 2000);
    if (o->partners >= 0) t.partners = (unsigned)o->partners;
    int64_t install_ms = range(DS_SHAPE, 300, 3000);
    /* Components (issue 14): most fleets manage the OS beside cardano-node
     * (a member now and then does not), and publish releases of both,
     * together or one after the other, or of one alone. */
    bool has_os = o->components && chance(DS_COMPONENT, 85);
    enum { P_BOTH, P_NODE_FIRST, P_OS_FIRST, P_OS_ONLY, P_NODE_ONLY } pub = P_NODE_ONLY;
    int64_t second_after = 0;
    if (has_os) {
        /* With --os-partial, up to 69 % of the members do not manage it:
         * often half or more, whose voters hold its releases all the same. */
        unsigned without = o->os_partial ? below(DS_COMPONENT, 70) : 8;
        for (unsigned i = 0; i < n; i++)
            mem[i].no_os = chance(DS_COMPONENT, without) && o->os_partial;
        unsigned w = below(DS_COMPONENT, 100);
        pub = w < 40 ? P_BOTH : w < 60 ? P_NODE_FIRST : w < 80 ? P_OS_FIRST : w < 95 ? P_OS_ONLY
                                                                          : P_NODE_ONLY;
        second_after = pub == P_NODE_FIRST || pub == P_OS_FIRST ? range(DS_COMPONENT, 500, 20000) : 0;
    }
    bool pub_node = pub != P_OS_ONLY, pub_os = has_os && pub != P_NODE_ONLY;

    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .policy_json = policy, .members = mem,
                        .start_ms = START_MS, .install_ms = install_ms,
                        .restart_ms = range(DS_SHAPE, 300, 3000), .trace = true,
                        .trace_keep = o->trace ? 0 : TRACE_KEEP, .os = has_os};
    if (o->faults >= FAULTS_NET) {
        cfg.delay_max_ms = range(DS_NET, 5, 80);
        cfg.loss = chance(DS_NET, 70) ? (double)range(DS_NET, 1, 15) / 100 : 0;
        cfg.dup = chance(DS_NET, 50) ? (double)range(DS_NET, 1, 10) / 100 : 0;
        cfg.reorder = chance(DS_NET, 50) ? (double)range(DS_NET, 1, 20) / 100 : 0;
        cfg.fifo = chance(DS_NET, 20);
    }
    if (o->faults >= FAULTS_ALL) {
        cfg.skew_max_ms = chance(DS_NET, 70) ? 200 : 0;
        cfg.drift_max_ppm = chance(DS_NET, 70) ? 10000 : 0;
    }
    if (o->skew_s > 0) cfg.skew_max_ms = o->skew_s * 1000; /* every seed, every node */
    sim_t *s = sim_new(&cfg);
    if (!s) {
        snprintf(res->verdict, sizeof res->verdict, "cannot build the fleet");
        return;
    }
    check_t *c = check_new(s);

    /* Hooks that fail, from the seed. */
    sim_behaviour_t gate_no[SIM_NODES_MAX];
    memset(gate_no, 0, sizeof gate_no);
    if (o->faults >= FAULTS_ALL) {
        for (unsigned i = 0; i < n; i++) {
            sim_behaviour_t b = {0};
            b.install_fails = chance(DS_HOOKS, 2);
            b.health_fails_after_install = chance(DS_HOOKS, 1);
            b.rollback_fails = chance(DS_HOOKS, 10);
            b.gate_says_no = chance(DS_HOOKS, 2);
            sim_set_behaviour(s, i, &b);
            gate_no[i] = b;
        }
    }
    if (o->reboots) {
        /* Planned reboots (the os-debian install): half the nodes' installs
         * announce an absence and reboot; most come back within it, some
         * too late (then suspect and dead, as any crash), a few on the old
         * version (the install did not take). */
        for (unsigned i = 0; i < n; i++) {
            if (!chance(DS_REBOOT, 50)) continue;
            gate_no[i].away_ms = range(DS_REBOOT, 3000, 40000);
            gate_no[i].reboot_ms = chance(DS_REBOOT, 85)
                                       ? range(DS_REBOOT, 300, gate_no[i].away_ms * 3 / 4)
                                       : range(DS_REBOOT, gate_no[i].away_ms + 1000,
                                               gate_no[i].away_ms + 30000);
            gate_no[i].reboot_keeps_old = chance(DS_REBOOT, 3);
            sim_set_behaviour(s, i, &gate_no[i]);
        }
    }

    if (has_os) {
        /* The OS component's hooks: most installs reboot the machine as the
         * os-debian hook does (announced, most back within the window);
         * under every fault, some fail as the primary's do. */
        for (unsigned i = 0; i < n; i++) {
            sim_hooks_t *h = &gate_no[i].os;
            if (chance(DS_COMPONENT, 70)) {
                h->away_ms = range(DS_COMPONENT, 3000, 40000);
                h->reboot_ms = chance(DS_COMPONENT, 85)
                                   ? range(DS_COMPONENT, 300, h->away_ms * 3 / 4)
                                   : range(DS_COMPONENT, h->away_ms + 1000, h->away_ms + 30000);
                h->reboot_keeps_old = chance(DS_COMPONENT, 3);
            }
            if (o->faults >= FAULTS_ALL) {
                h->install_fails = chance(DS_COMPONENT, 2);
                h->health_fails_after_install = chance(DS_COMPONENT, 1);
                h->rollback_fails = chance(DS_COMPONENT, 10);
            }
            sim_set_behaviour(s, i, &gate_no[i]);
        }
        if (pub_os) check_expect(c, SIM_COMP_OS, true);
        if (!pub_node) check_expect(c, SIM_COMP_NODE, false);
    }

    /* The fault plan. */
    int64_t publish_at = range(DS_SHAPE, 2000, 6000);
    int64_t heal_at = o->faults == FAULTS_NONE ? publish_at : publish_at + range(DS_SHAPE, 20000, 150000);
    fault_t plan[FAULTS_MAX];
    unsigned np = 0;
    if (o->faults >= FAULTS_NET) {
        unsigned parts = (unsigned)range(DS_PARTITION, 0, 4);
        for (unsigned k = 0; k < parts && np + 2 < FAULTS_MAX; k++) {
            int64_t at = range(DS_PARTITION, 0, heal_at), len = range(DS_PARTITION, 1000, 25000);
            if (chance(DS_PARTITION, 60)) {
                uint64_t mask = 0;
                for (unsigned i = 0; i < n; i++)
                    if (chance(DS_PARTITION, 50)) mask |= 1ull << i;
                plan[np++] = (fault_t){.at = at, .kind = F_SPLIT, .mask = mask};
            } else {
                unsigned ways = (unsigned)range(DS_PARTITION, 1, 4);
                for (unsigned w = 0; w < ways && np + 2 < FAULTS_MAX; w++) {
                    unsigned a = below(DS_PARTITION, n), b = below(DS_PARTITION, n);
                    if (a != b) plan[np++] = (fault_t){.at = at, .kind = F_ONEWAY, .a = a, .b = b};
                }
            }
            plan[np++] = (fault_t){.at = at + len, .kind = F_UNBLOCK};
        }
    }
    if (o->faults >= FAULTS_ALL) {
        unsigned crashes = (unsigned)range(DS_CRASH, 0, 4);
        for (unsigned k = 0; k < crashes && np + 2 < FAULTS_MAX; k++) {
            unsigned who = below(DS_CRASH, n);
            int64_t at = range(DS_CRASH, 0, heal_at), down = range(DS_CRASH, 100, 30000);
            plan[np++] = (fault_t){.at = at, .kind = F_CRASH, .a = who};
            if (chance(DS_CRASH, 80)) plan[np++] = (fault_t){.at = at + down, .kind = F_RESTART, .a = who};
        }
        unsigned blips = chance(DS_HEALTH, 15) ? 1 : 0;
        for (unsigned k = 0; k < blips && np + 2 < FAULTS_MAX; k++) {
            unsigned who = below(DS_HEALTH, n);
            int64_t at = range(DS_HEALTH, 0, heal_at);
            plan[np++] = (fault_t){.at = at, .kind = F_BLIP, .a = who};
            plan[np++] = (fault_t){.at = at + range(DS_HEALTH, 500, 5000), .kind = F_UNBLIP, .a = who};
        }
    }
    if (o->commands) {
        /* Emergency commands from the operator at random times, each to a
         * random node (the next live one when it is down). */
        static const unsigned weight[C__COUNT] = {30, 20, 10, 15, 10, 15};
        unsigned cmds = (unsigned)range(DS_COMMAND, 1, 4);
        for (unsigned k = 0; k < cmds && np + 1 < FAULTS_MAX; k++) {
            unsigned w = below(DS_COMMAND, 100), kind = 0;
            while (kind + 1 < C__COUNT && w >= weight[kind]) w -= weight[kind++];
            plan[np++] = (fault_t){.at = range(DS_COMMAND, 0, heal_at), .kind = F_COMMAND,
                                   .a = kind, .b = below(DS_COMMAND, n)};
        }
    }
    if (o->write_faults) {
        /* Disks that refuse writes for a while (full, read-only). */
        unsigned spells = (unsigned)range(DS_WRITE, 1, 3);
        for (unsigned k = 0; k < spells && np + 2 < FAULTS_MAX; k++) {
            unsigned who = below(DS_WRITE, n);
            int64_t at = range(DS_WRITE, 0, heal_at), len = range(DS_WRITE, 1000, 30000);
            plan[np++] = (fault_t){.at = at, .kind = F_WRITE_FAIL, .a = who};
            plan[np++] = (fault_t){.at = at + len, .kind = F_WRITE_OK, .a = who};
        }
    }
    qsort(plan, np, sizeof plan[0], fault_cmp);
    sim_note(s, "seed %llu: %u nodes, batch %u, policy %s, install %lld ms, delay %lld..%lld ms, "
                "loss %.2f, dup %.2f, reorder %.2f%s, publish at %lld, heal at %lld",
             (unsigned long long)seed, n, batch, policy, (long long)install_ms,
             (long long)cfg.delay_min_ms, (long long)cfg.delay_max_ms, cfg.loss, cfg.dup,
             cfg.reorder, cfg.fifo ? " fifo" : "", (long long)publish_at, (long long)heal_at);

    /* What the operator publishes, and when: the primary's release at
     * publish_at (or second), the OS's with it, before or after. */
    pub_t pubs[SIM_COMPONENTS];
    unsigned npub = 0, npublished = 0;
    if (pub_node)
        pubs[npub++] = (pub_t){SIM_COMP_NODE, publish_at + (pub == P_OS_FIRST ? second_after : 0),
                               false};
    if (pub_os)
        pubs[npub++] = (pub_t){SIM_COMP_OS, publish_at + (pub == P_NODE_FIRST ? second_after : 0),
                               false};

    /* The fault phase. */
    unsigned k = 0;
    int64_t cmd_seq = 0;
    for (;;) {
        int64_t next = heal_at;
        int due = -1;
        for (unsigned q = 0; q < npub; q++)
            if (!pubs[q].done && pubs[q].at <= next && (due < 0 || pubs[q].at < pubs[due].at)) {
                next = pubs[q].at;
                due = (int)q;
            }
        if (k < np && plan[k].at < next) next = plan[k].at, due = -1;
        sim_run_until(s, next);
        if (check_violation(c)) break;
        if (due >= 0) {
            /* As staggerctl would: to a node that answers (and manages it).
             * The first publish draws where the primary's alone always did. */
            unsigned comp = pubs[due].comp;
            unsigned to = live_node(s, below(npublished++ ? DS_COMPONENT : DS_SHAPE, n), n, comp);
            publish(s, to, comp, false);
            pubs[due].done = true;
            continue;
        }
        if (k < np && plan[k].at == next) {
            apply_fault(s, c, &plan[k++], n, &cmd_seq);
            continue;
        }
        break;
    }

    /* The healed phase: no more faults, every node back, a bounded time. */
    char why[160] = "";
    if (!check_violation(c)) {
        sim_note(s, "healed: partitions lifted, network clean, every node up");
        sim_heal(s);
        sim_set_net(s, 0, 0, 0);
        for (unsigned i = 0; i < n; i++) sim_set_write_fail(s, i, false);
        for (unsigned i = 0; i < n; i++) {
            if (!sim_alive(s, i)) sim_restart(s, i);
            sim_set_health(s, i, STG_HEALTH_HEALTHY, NULL);
            /* A gate that says no is a passing condition (a leader slot
             * soon): it says yes again. Failing installs stay: they are the
             * release's fault, and the rollout must halt on them. */
            gate_no[i].gate_says_no = false;
            sim_set_behaviour(s, i, &gate_no[i]);
        }
        check_healed(c);
        /* A release planned after the heal (no fault phase) goes out now. A
         * publish whose node could not write it and then crashed reached
         * no disk: nobody has the release, and staggerctl had said it was
         * held, not applied. The operator publishes again. */
        for (unsigned q = 0; q < npub; q++) {
            unsigned comp = pubs[q].comp;
            if (!pubs[q].done) {
                publish(s, live_node(s, 0, n, comp), comp, false);
                continue;
            }
            bool anyone = false;
            uint8_t rid[8];
            for (unsigned i = 0; i < n; i++)
                anyone |= sim_manages(s, i, comp) &&
                          stg_core_release_of(sim_core(s, i), comp, rid) != NULL;
            if (!anyone) publish(s, live_node(s, 0, n, comp), comp, true);
        }
        /* The operator ends whatever halt the commands left: the rollout
         * must then finish, fail and halt, or stay abandoned. */
        if (cmd_seq) send_command(s, c, below(DS_COMMAND, n), C_RESUME, ++cmd_seq);
        /* Each component's rollout in turn (one executor per machine). */
        int64_t bound = (int64_t)(npub ? npub : 1) * n * 30 * (soak_s * 1000 + install_ms) +
                        2 * epoch_s * 1000 + 60000;
        int64_t until = sim_now(s) + bound;
        bool fin = false;
        while (!fin && sim_now(s) < until && !check_violation(c)) {
            sim_run_until(s, sim_now(s) + 1000);
            fin = check_finished(c, why, sizeof why);
        }
        if (!fin && !check_violation(c)) {
            char v[256];
            snprintf(v, sizeof v, "liveness: not finished %lld s after the heal: %s",
                     (long long)bound / 1000, why);
            for (unsigned i = 0; i < n; i++) {
                json_t *st = stg_core_status_json(sim_core(s, i), sim_node_clock(s, i));
                json_t *ro = json_object_get(st, "rollout");
                stg_exec_brief_t x;
                stg_core_exec_brief(sim_core(s, i), &x);
                sim_note(s, "n%02u %s runs %s%s%s; waiting: %s", i, stg_phase_name(x.phase),
                         sim_running(s, i), sim_manages(s, i, SIM_COMP_OS) ? ", os " : "",
                         sim_manages(s, i, SIM_COMP_OS) ? sim_running_of(s, i, SIM_COMP_OS) : "",
                         json_string_value(json_object_get(ro, "waiting")));
                json_decref(st);
            }
            sim_note(s, "VIOLATION: %s", v);
            snprintf(res->verdict, sizeof res->verdict, "%s", v);
        }
        res->ok = fin && !check_violation(c);
        res->finished_failed = fin && strstr(why, "failed") != NULL;
    }
    if (check_violation(c))
        snprintf(res->verdict, sizeof res->verdict, "%s (step %llu, %lld ms)", check_violation(c),
                 (unsigned long long)check_violation_step(c), (long long)sim_now(s));
    else if (res->ok)
        snprintf(res->verdict, sizeof res->verdict, "%s", why);
    res->elections = check_elections(c);
    res->virtual_ms = sim_now(s);
    sim_trace_hash(s, res->trace_hash);
    if (!res->ok || o->trace) {
        if (!o->quiet) sim_dump_trace(s);
    }
    check_destroy(&c);
    sim_destroy(&s);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: stagger-sim [--seed N | --seeds A..B | --count K [--first A]]\n"
            "                   [--nodes 3..12] [--batch 1|2] [--faults none|net|all]\n"
            "                   [--partners K] [--trace] [--quiet] [--trace-hash]\n"
            "                   [--commands] [--skew-s S] [--write-faults] [--reboots]\n"
            "                   [--components]\n"
            "Runs rollouts of real stagger cores on a simulated network, checking the\n"
            "invariants after every step. Exit status 1 when any seed violates one.\n"
            "  --seed N     one seed; on a violation prints the trace (the last %d lines)\n"
            "  --seeds A..B every seed from A to B\n"
            "  --faults     none: clean network; net: delay, loss, duplication,\n"
            "               reordering, partitions; all (default): also crashes and\n"
            "               restarts, clock skew and drift, failing hooks and health\n"
            "  --partners K probe and gossip with at most K partners (tuning.partners;\n"
            "               0: everyone); small K puts the overlay under the faults\n"
            "  --commands   emergency commands (halt, resume, rollback, update with and\n"
            "               without the holdback nodes, abandon) at random times of the\n"
            "               fault phase, to a random node; a resume at the heal\n"
            "  --skew-s S   every node's clock off by up to +-S seconds (default: 70%%\n"
            "               of seeds +-0.2 s)\n"
            "  --write-faults  disks that refuse writes (journal, incarnation, roster,\n"
            "               audit) for 1..30 s: a restart resumes from the older files\n"
            "  --reboots    planned reboots: half the nodes' install hooks announce an\n"
            "               absence of 3..40 s (away=), then reboot for a while (most\n"
            "               back within it, some later, a few on the old version)\n"
            "  --components most fleets manage the OS beside cardano-node (its own\n"
            "               health, hooks and releases; most of its installs reboot);\n"
            "               releases of both, together or apart, or of one alone\n"
            "  --os-partial with --components, up to 69 %% of the members do not manage\n"
            "               the OS (they hold its releases and vote on them all the same)\n"
            "  --stop       end the range at the first violating seed\n"
            "  --trace      print the whole trace of every seed\n"
            "  --quiet      no traces, only the verdict lines\n"
            "  --trace-hash print \"seed N HASH\" per seed: a hash of every action of\n"
            "               every core, to show a change of code changed no behaviour\n",
            TRACE_KEEP);
}

int main(int argc, char **argv) {
    opts_t o = {.faults = FAULTS_ALL, .partners = -1};
    uint64_t first = 1, last = 1;
    bool single = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--seed") == 0 && v) {
            first = last = strtoull(v, NULL, 10);
            single = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            char *dots = strstr(v, "..");
            if (!dots) {
                fprintf(stderr, "stagger-sim: --seeds wants A..B, e.g. 1..2000\n");
                return 2;
            }
            first = strtoull(v, NULL, 10);
            last = strtoull(dots + 2, NULL, 10);
            i++;
        } else if (strcmp(a, "--count") == 0 && v) {
            last = first + strtoull(v, NULL, 10) - 1;
            i++;
        } else if (strcmp(a, "--first") == 0 && v) {
            uint64_t cnt = last - first + 1;
            first = strtoull(v, NULL, 10);
            last = first + cnt - 1;
            i++;
        } else if (strcmp(a, "--nodes") == 0 && v) {
            o.nodes = (unsigned)atoi(v);
            if (o.nodes < 3 || o.nodes > 12) {
                fprintf(stderr, "stagger-sim: --nodes wants 3..12\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            o.batch = (unsigned)atoi(v);
            if (o.batch < 1 || o.batch > 2) {
                fprintf(stderr, "stagger-sim: --batch wants 1 or 2\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--partners") == 0 && v) {
            o.partners = atoi(v);
            if (o.partners < 0 || o.partners > 255) {
                fprintf(stderr, "stagger-sim: --partners wants 0..255\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--faults") == 0 && v) {
            o.faults = strcmp(v, "none") == 0 ? FAULTS_NONE : strcmp(v, "net") == 0 ? FAULTS_NET
                       : strcmp(v, "all") == 0 ? FAULTS_ALL : -1;
            if (o.faults < 0) {
                fprintf(stderr, "stagger-sim: --faults wants none, net or all\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--commands") == 0) {
            o.commands = true;
        } else if (strcmp(a, "--stop") == 0) {
            o.stop = true;
        } else if (strcmp(a, "--write-faults") == 0) {
            o.write_faults = true;
        } else if (strcmp(a, "--reboots") == 0) {
            o.reboots = true;
        } else if (strcmp(a, "--components") == 0) {
            o.components = true;
        } else if (strcmp(a, "--os-partial") == 0) {
            o.os_partial = true;
        } else if (strcmp(a, "--skew-s") == 0 && v) {
            o.skew_s = atoll(v);
            if (o.skew_s < 0 || o.skew_s > 86400) {
                fprintf(stderr, "stagger-sim: --skew-s wants 0..86400 seconds\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            o.trace = true;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if (strcmp(a, "--trace-hash") == 0) {
            o.trace_hash = true;
        } else {
            fprintf(stderr, "stagger-sim: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (last < first) {
        fprintf(stderr, "stagger-sim: empty seed range\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned passed = 0, violations = 0, failed_releases = 0;
    uint64_t elections = 0, first_bad = 0;
    for (uint64_t seed = first; seed <= last; seed++) {
        result_t r;
        run_seed(seed, &o, &r);
        elections += r.elections;
        if (o.trace_hash) {
            printf("seed %llu ", (unsigned long long)seed);
            for (unsigned k = 0; k < sizeof r.trace_hash; k++) printf("%02x", r.trace_hash[k]);
            printf("\n");
        }
        if (r.ok) {
            passed++;
            failed_releases += r.finished_failed;
            if (single) printf("seed %llu: ok (%s)\n", (unsigned long long)seed, r.verdict);
        } else {
            if (!violations) first_bad = seed;
            violations++;
            char skew[32] = "";
            if (o.skew_s) snprintf(skew, sizeof skew, " --skew-s %lld", (long long)o.skew_s);
            printf("seed %llu: VIOLATION %s\n  replay: stagger-sim --seed %llu%s%s%s%s%s%s\n",
                   (unsigned long long)seed, r.verdict, (unsigned long long)seed,
                   o.faults == FAULTS_NONE ? " --faults none" : o.faults == FAULTS_NET ? " --faults net" : "",
                   o.commands ? " --commands" : "", skew,
                   o.write_faults ? (o.reboots ? " --write-faults --reboots" : " --write-faults")
                                  : (o.reboots ? " --reboots" : ""),
                   o.components ? (o.os_partial ? " --components --os-partial" : " --components")
                                : "",
                   o.nodes || o.batch ? " (with the same --nodes/--batch)" : "");
            if (o.stop) {
                last = seed;
                break;
            }
        }
        fflush(stdout);
        if (seed == UINT64_MAX) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("seeds %llu..%llu: %u passed, %u violations", (unsigned long long)first,
           (unsigned long long)last, passed, violations);
    if (violations) printf(" (first at seed %llu, after %llu seeds)", (unsigned long long)first_bad,
                           (unsigned long long)(first_bad - first + 1));
    printf("\n");
    if (!single)
        printf("rollouts: %u ended with the release failed and halted, %llu elections; "
               "%.1f rollouts/s (%.2f s)\n",
               failed_releases, (unsigned long long)elections, (double)(last - first + 1) / secs,
               secs);
    return violations ? 1 : 0;
}
