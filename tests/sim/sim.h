/* sim.h: many real stagger cores in one process, a virtual clock and a
 * modelled network (delay, loss, partitions, crashes), all from one seed.
 * Used by the gossip tests now and by stagger-sim for rollouts. */
#ifndef STAGGER_SIM_H
#define STAGGER_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "stagger/core.h"

#define SIM_NODES_MAX 64

typedef struct sim sim_t;

typedef struct {
    unsigned n;                 /* nodes */
    uint64_t seed;
    int64_t delay_min_ms, delay_max_ms;
    double loss;                /* probability a message is lost */
    bool trace;                 /* keep log lines for printing */
    const stg_core_tuning_t *tuning; /* NULL: defaults */
    const char *policy_json;    /* roster "policy" object, or NULL for defaults */
    int64_t start_ms;           /* virtual wall clock at t = 0 (Unix ms) */
    int64_t install_ms;         /* how long an install hook takes */
    int64_t restart_ms;         /* after install, unhealthy this long */
} sim_config_t;

/* How a node's hooks behave. */
typedef struct {
    bool install_fails;
    bool health_fails_after_install; /* new version never becomes healthy */
    bool rollback_fails;
    bool gate_says_no;
} sim_behaviour_t;

sim_t *sim_new(const sim_config_t *cfg);
void sim_destroy(sim_t **s);

/* Run until virtual time t (absolute ms since the start). */
void sim_run_until(sim_t *s, int64_t t_ms);
int64_t sim_now(const sim_t *s);

/* Faults. */
void sim_crash(sim_t *s, unsigned node);
void sim_restart(sim_t *s, unsigned node);          /* from its journal */
void sim_block(sim_t *s, unsigned a, unsigned b, bool blocked); /* both ways */
void sim_set_health(sim_t *s, unsigned node, stg_health_t h, const char *version);

void sim_set_behaviour(sim_t *s, unsigned node, const sim_behaviour_t *b);
/* Sign a release of cardano-node VERSION (operator key) and hand it to node
 * as a client would (staggerctl release publish). */
void sim_publish(sim_t *s, unsigned node, const char *version, int64_t created_at_s);
/* The version the node's service runs now (what its health hook reports). */
const char *sim_running(const sim_t *s, unsigned node);
unsigned sim_nodes(const sim_t *s);
/* Called after every step with the node that stepped (invariant checks). */
typedef void (*sim_observer_t)(sim_t *s, unsigned node, void *ctx);
void sim_observe(sim_t *s, sim_observer_t fn, void *ctx);

/* Hand node a message as if it came from roster member `from` (-1: client). */
void sim_inject(sim_t *s, unsigned node, int from, const uint8_t *frame, size_t len);
/* Seal a document with a node key (or the operator key with node = -1). */
size_t sim_seal(sim_t *s, int node, int type, const char *json, uint8_t *out, size_t cap);
/* A roster JSON for this fleet with the given serial (caller frees). */
char *sim_roster_json(sim_t *s, int64_t serial);

stg_core_t *sim_core(sim_t *s, unsigned node);
bool sim_alive(const sim_t *s, unsigned node);
uint64_t sim_messages(const sim_t *s);
/* Print the kept log lines (trace mode) to stderr. */
void sim_dump_trace(const sim_t *s);

#endif
