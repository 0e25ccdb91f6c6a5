/* sim.h: many real stagger cores in one process, a virtual clock and a
 * modelled network (delay, loss, duplication, reordering, symmetric and
 * one-way partitions, crashes and restarts from the journal, clock skew,
 * disks that refuse writes),
 * all from one seed. Used by the gossip and rollout tests and by
 * stagger-sim, which checks the invariants after every step.
 *
 * The seed fans out into one random stream per component (network, core
 * seeds, hooks, clocks), so a new fault kind drawing from its own stream
 * leaves the others' draws, and so the rest of a run, unchanged. */
#ifndef STAGGER_SIM_H
#define STAGGER_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "stagger/core.h"

#ifndef SIM_NODES_MAX
#define SIM_NODES_MAX 64
#endif
#define SIM_MSG_TYPES 32 /* above every STG_MSG_* value (wire.h) */

typedef struct sim sim_t;

/* The components a simulated node may manage (issue 14): the primary,
 * cardano-node, and the operating system, whose releases are the
 * os-debian hooks' (docs/operations.md, "Components"). One executor and one
 * slot per machine serve both. The OS runs SIM_OS_OLD before any install. */
#define SIM_COMPONENTS 2
#define SIM_COMP_NODE 0
#define SIM_COMP_OS 1
#define SIM_OS_OLD "12.8"
const char *sim_component_name(unsigned comp);
/* The index of a component's name (SIM_COMP_NODE for a name not above). */
unsigned sim_component_index(const char *name);

/* One member of the simulated roster; zero fields take the defaults. */
typedef struct {
    const char *role;           /* NULL: n00 producer, n01 standby, then relays */
    const char *flavour;        /* NULL: debian / nix alternating */
    int holdback;               /* -1 or 0: roster default (§4.3); 1: "holdback": true */
    int stage;                  /* 0: from the role */
    bool no_os;                 /* with sim_config_t.os: this one does not manage it */
} sim_member_t;

typedef struct {
    unsigned n;                 /* nodes */
    uint64_t seed;
    int64_t delay_min_ms, delay_max_ms;
    double loss;                /* probability a message is lost */
    double dup;                 /* probability a message is delivered twice */
    double reorder;             /* probability a message is held back 1-4 x delay_max */
    bool fifo;                  /* per-link FIFO: no reordering at all */
    int64_t skew_max_ms;        /* per-node clock offset drawn in [-skew, +skew] */
    int drift_max_ppm;          /* per-node clock rate drawn in [-drift, +drift] ppm */
    bool trace;                 /* keep log lines for printing */
    unsigned trace_keep;        /* with trace: keep only the last this many (0: all) */
    const stg_core_tuning_t *tuning; /* NULL: defaults */
    const char *policy_json;    /* roster "policy" object, or NULL for defaults */
    const sim_member_t *members;/* n entries, or NULL for the default roles */
    int64_t start_ms;           /* virtual wall clock at t = 0 (Unix ms) */
    int64_t install_ms;         /* how long an install hook takes */
    int64_t restart_ms;         /* after install, unhealthy this long */
    bool os;                    /* every node (but members[i].no_os) manages the OS too:
                                   its own health hook and releases (SIM_COMP_OS) */
} sim_config_t;

/* How the hooks of a node's OS component behave (sim_behaviour_t.os): as
 * the primary's fields of the same names. */
typedef struct {
    bool install_fails;
    bool health_fails_after_install;
    bool rollback_fails;
    int64_t away_ms;            /* its install reboots the machine, as os-debian's does */
    int64_t reboot_ms;
    bool reboot_keeps_old;
} sim_hooks_t;

/* How a node's hooks behave. */
typedef struct {
    bool install_fails;
    bool health_fails_after_install; /* new version never becomes healthy */
    bool crash_loops_after_install;  /* new version restarts at every health run
                                        (restarts= counts up) and never
                                        becomes healthy */
    bool rollback_fails;
    bool gate_says_no;
    bool reports_build;              /* its health hook says build= (the SHA-256
                                        of the artifact its service runs) */
    bool reports_tip;                /* its health hook says tip= (sim_chain_stall) */
    bool restarts_flaky;             /* its health hook says restarts= every other
                                        run only (it could not read it) */
    bool forks_on_new;               /* on a version other than its first, its
                                        service follows another chain */
    bool forks_alone;                /* its service follows another chain, whatever
                                        it runs */
    int64_t away_ms;                 /* its install hook reboots the machine: halfway
                                        it says away= this (ms), waits for the daemon's
                                        answer (SIM_AWAY_WAIT_MS at most), and reboots;
                                        0: an install that exits */
    int64_t reboot_ms;               /* that reboot lasts this long: then staggerd
                                        starts again from the same state directory */
    bool reboot_keeps_old;           /* after it the old version runs (the install
                                        did not take: a kernel that fell back) */
    stg_caps_t caps_without;         /* its staggerd lacks these capabilities, as an
                                        older version would: its record leaves them
                                        out from its next start (sim_restart) */
    sim_hooks_t os;                  /* its OS component's hooks (the fields above
                                        are the primary's, cardano-node's) */
} sim_behaviour_t;

sim_t *sim_new(const sim_config_t *cfg);
void sim_destroy(sim_t **s);

/* Run until virtual time t (absolute ms since the start). */
void sim_run_until(sim_t *s, int64_t t_ms);
int64_t sim_now(const sim_t *s);
/* Node's own clock (Unix ms) at the current virtual time: skewed, drifting. */
int64_t sim_node_clock(const sim_t *s, unsigned node);

/* Faults. */
void sim_crash(sim_t *s, unsigned node);
void sim_restart(sim_t *s, unsigned node);          /* from its journal */
void sim_block(sim_t *s, unsigned a, unsigned b, bool blocked); /* both ways */
void sim_block_one(sim_t *s, unsigned from, unsigned to, bool blocked); /* from -> to only */
bool sim_blocked(const sim_t *s, unsigned from, unsigned to);
void sim_heal(sim_t *s);                            /* lift every block */
/* Change the network model mid-run (a healed phase sets them to zero). */
void sim_set_net(sim_t *s, double loss, double dup, double reorder);
void sim_set_health(sim_t *s, unsigned node, stg_health_t h, const char *version);
/* What node's health hook says of forging from its next run on. */
void sim_set_forging(sim_t *s, unsigned node, stg_forging_t f);

void sim_set_behaviour(sim_t *s, unsigned node, const sim_behaviour_t *b);
/* The chain the services follow: a block every SIM_BLOCK_MS of virtual
 * time, hash "a" then the height in hex (another chain's start with "b").
 * A stall stops new blocks on every chain until lifted. */
#define SIM_BLOCK_MS 20000
void sim_chain_stall(sim_t *s, bool stalled);
/* Sign a release of cardano-node VERSION (operator key) and hand it to node
 * as a client would (staggerctl release publish). */
void sim_publish(sim_t *s, unsigned node, const char *version, int64_t created_at_s);
/* The same with build number `build` (sim_publish's is 0): every artifact's
 * SHA-256 is that number in 64 decimal digits, so a new build of a version
 * is a new artifact (a rebuild with another GHC, a new image digest). */
void sim_publish_build(sim_t *s, unsigned node, const char *version, unsigned build,
                       int64_t created_at_s);
/* A release of component comp (SIM_COMP_*): the same with its name. */
void sim_publish_of(sim_t *s, unsigned node, unsigned comp, const char *version, unsigned build,
                    int64_t created_at_s);
/* The SHA-256 of the artifact the node's service runs, as its health hook
 * reports it: "" unless its behaviour says reports_build. Before any
 * install, build number 99. */
const char *sim_build(const sim_t *s, unsigned node);
/* The version the node's service runs now (what its health hook reports). */
const char *sim_running(const sim_t *s, unsigned node);
/* The same of component comp (sim_build and sim_running are the primary's). */
const char *sim_build_of(const sim_t *s, unsigned node, unsigned comp);
const char *sim_running_of(const sim_t *s, unsigned node, unsigned comp);
/* Does node manage component comp (the primary: always)? */
bool sim_manages(const sim_t *s, unsigned node, unsigned comp);
/* The component whose install or rollback hook runs on node now, or -1. */
int sim_hook_comp(const sim_t *s, unsigned node);
/* The version it ran before the first install (what a rollback restores). */
const char *sim_old_version(const sim_t *s, unsigned node);
unsigned sim_nodes(const sim_t *s);
/* Which hook the node runs now (STG_HOOK_*), or -1. */
int sim_hook_running(const sim_t *s, unsigned node);
/* Counts a node's starts: 1 after sim_new, +1 per restart. */
uint64_t sim_starts(const sim_t *s, unsigned node);
/* Called after every step with the node that stepped (invariant checks). */
typedef void (*sim_observer_t)(sim_t *s, unsigned node, void *ctx);
void sim_observe(sim_t *s, sim_observer_t fn, void *ctx);

/* Seal json as an operator command and hand it to node as a client would.
 * The envelope is copied to env_out (for replays); returns its length. */
size_t sim_command(sim_t *s, unsigned node, const char *json, uint8_t *env_out, size_t cap);
/* How many commands node's audit log recorded as applied (journal survives restarts). */
unsigned sim_audit_applied(const sim_t *s, unsigned node);
/* The virtual wall clock (Unix ms) the cores see, without skew. */
int64_t sim_wall_ms(const sim_t *s);

/* The signed release envelope sim_publish hands out (same bytes for the same
 * arguments): for an emergency update that carries the published release. */
size_t sim_release_env(sim_t *s, const char *version, int64_t created_at_s, uint8_t *out,
                       size_t cap);
size_t sim_release_env_build(sim_t *s, const char *version, unsigned build,
                             int64_t created_at_s, uint8_t *out, size_t cap);
size_t sim_release_env_of(sim_t *s, unsigned comp, const char *version, unsigned build,
                          int64_t created_at_s, uint8_t *out, size_t cap);

/* Disk faults: while failing, node's PERSIST actions (journal, incarnation,
 * roster, audit) and the incarnation the shell writes at start are refused,
 * as on a full or read-only disk: the stored files keep their older
 * contents, so a restart resumes from them. The core hears of each journal
 * write, as from staggerd (STG_EV_PERSISTED). */
void sim_set_write_fail(sim_t *s, unsigned node, bool failing);
uint64_t sim_write_failures(const sim_t *s, unsigned node);
/* The journal node restarts from (borrowed; NULL before the first write), and
 * whether a later write of it failed. */
const uint8_t *sim_journal(const sim_t *s, unsigned node, size_t *len, bool *stale);
/* Replace the journal node restarts from (copied), as an older daemon might
 * have left it. */
void sim_set_journal(sim_t *s, unsigned node, const uint8_t *journal, size_t len);
/* Did node's last start reload a journal older than the last one its core
 * wrote (a write had failed)? */
bool sim_restarted_stale(const sim_t *s, unsigned node);
/* Did the last start-ack (accepting) that left node for slot go to holder,
 * about release id? What a voter acknowledged only in memory, held behind a
 * journal write that failed, never left. */
bool sim_acked(const sim_t *s, unsigned node, unsigned slot, int holder, const uint8_t id[8]);
/* Install and rollback hooks running on node now. A crash kills the running
 * one, as staggerd kills the hook's process group (hook.pgid) at start;
 * but when the disk refused writes as the hook started, that file was never
 * written: the hook outlives the crash and runs to its end. */
unsigned sim_installers(const sim_t *s, unsigned node);
/* Is node down in a reboot its install hook announced (sim_behaviour_t
 * away_ms), until the reboot's end starts it again? */
bool sim_rebooting(const sim_t *s, unsigned node);
#define SIM_AWAY_WAIT_MS 2000
#define SIM_AWAY_LINGER_MS 100
/* When node's service last switched version (virtual ms; -1: never), and how
 * long it is unhealthy after a switch: it cannot be seen healthy on the new
 * version before switched_at + restart_ms. */
int64_t sim_switched_at(const sim_t *s, unsigned node);
int64_t sim_switched_at_of(const sim_t *s, unsigned node, unsigned comp);
int64_t sim_restart_ms(const sim_t *s);
/* A starved node (another process has the CPU): until virtual time until_ms
 * its loop runs nothing; what arrives or falls due for it waits. When it
 * runs again its timer fires first (libuv runs timers before it reads
 * sockets), preceded by the STG_EV_LOOP_LATE event staggerd sends when its
 * timer fires late, then what waited, in order. */
void sim_stall(sim_t *s, unsigned node, int64_t until_ms);
/* The same, starting right after the node's next wake-up: a starved
 * process gets the CPU when its timer fires, sends its probe, and loses
 * the CPU again before the answer comes. */
void sim_stall_after_wake(sim_t *s, unsigned node, int64_t len_ms);
/* Is it stalled now, or about to be at its next wake-up? */
bool sim_stalled(const sim_t *s, unsigned node);
/* Set node's clock offset (ms) from the true time, as a mis-set NTP would. */
void sim_set_clock_offset(sim_t *s, unsigned node, int64_t offset_ms);
/* The configured bound of clock drift (ppm). */
int64_t sim_drift_ppm_max(const sim_t *s);

/* Hand node a message as if it came from roster member `from` (-1: client). */
void sim_inject(sim_t *s, unsigned node, int from, const uint8_t *frame, size_t len);
/* Seal a document with a node key (or the operator key with node = -1). */
size_t sim_seal(sim_t *s, int node, int type, const char *json, uint8_t *out, size_t cap);
/* A roster JSON for this fleet with the given serial (caller frees). */
char *sim_roster_json(sim_t *s, int64_t serial);

stg_core_t *sim_core(sim_t *s, unsigned node);
bool sim_alive(const sim_t *s, unsigned node);
/* Live nodes whose record of member m reports this running version. */
unsigned sim_seeing(sim_t *s, unsigned m, const char *version);
uint64_t sim_messages(const sim_t *s);
uint64_t sim_link_messages(const sim_t *s, unsigned from, unsigned to); /* sent from -> to */
/* The same, of one message type (STG_MSG_*). */
uint64_t sim_link_type_messages(const sim_t *s, unsigned from, unsigned to, int type);
uint64_t sim_steps(const sim_t *s);
/* Run s in step_ms slices until pred holds or deadline_ms of virtual time
 * have passed: evaluates to the virtual time it took, or -1. */
#define SIM_WAIT_FOR(s, deadline_ms, step_ms, pred)                       \
    ({                                                                    \
        int64_t t0_ = sim_now(s), r_ = -1;                                \
        while (sim_now(s) - t0_ <= (deadline_ms)) {                       \
            if (pred) {                                                   \
                r_ = sim_now(s) - t0_;                                    \
                break;                                                    \
            }                                                             \
            sim_run_until(s, sim_now(s) + (step_ms));                     \
        }                                                                 \
        r_;                                                               \
    })

/* In a cmocka scenario: pred holds within deadline_ms of virtual time (50 ms
 * slices); else the trace is printed and the test fails (cmocka's fail_msg). */
#define SIM_MUST_WITHIN(s, deadline_ms, pred)                                 \
    do {                                                                      \
        if (SIM_WAIT_FOR(s, deadline_ms, 50, pred) < 0) {                     \
            sim_dump_trace(s);                                                \
            fail_msg("not within %d ms: %s", (int)(deadline_ms), #pred);      \
        }                                                                     \
    } while (0)

/* A BLAKE2b-128 hash of every action every core produced so far, in order,
 * with each step's node, time and next wake-up: equal hashes over a seed
 * mean two builds of the core behaved byte for byte alike on it. */
void sim_trace_hash(const sim_t *s, uint8_t out[16]);

/* Print the kept log lines (trace mode) to stderr. */
void sim_dump_trace(const sim_t *s);
/* Add a line of the harness's own to the trace (trace mode). */
void sim_note(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
