/* bench_sim.c: the simulator's half of benchmark 6. Runs whole rollouts of
 * real cores on a healthy simulated network and prints how many rollouts
 * the simulator does per second, and how long the fleet takes from the end
 * of a wave's soak to the next node's election, in gossip (sync) intervals
 * of the default tuning. Figures only; nothing is asserted (a bench, not a
 * test).
 *
 *   bench_sim [--rollouts K] [--nodes N] [--batch 1|2] [--sync-ms MS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sim.h"

#define START_MS 1800000000000LL

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(const int64_t *v, unsigned n, unsigned p) {
    if (!n) return 0;
    unsigned k = (unsigned)(((uint64_t)n * p + 99) / 100);
    return v[k ? k - 1 : 0];
}

int main(int argc, char **argv) {
    unsigned rollouts = 200, nodes = 8, batch = 1;
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--rollouts") == 0 && v) rollouts = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--nodes") == 0 && v) nodes = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && v) batch = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--sync-ms") == 0 && v) t.sync_interval_ms = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_sim [--rollouts K] [--nodes 3..64] [--batch 1|2] "
                            "[--sync-ms MS]\n");
            return 2;
        }
    }
    if (nodes < 3 || nodes > SIM_NODES_MAX || batch < 1 || batch > 2 || rollouts == 0) {
        fprintf(stderr, "bench_sim: nodes 3..%d, batch 1 or 2, rollouts > 0\n", SIM_NODES_MAX);
        return 2;
    }
    char policy[512];
    snprintf(policy, sizeof policy,
             "{\"batch\":%u,\"soak_s\":5,\"unavailable_max\":1,"
             "\"epoch\":{\"start_s\":%lld,\"length_s\":30,\"proof_epochs\":1,\"guard_s\":2},"
             "\"health_deadline_s\":60}",
             batch, START_MS / 1000);
    int64_t *gaps = NULL, *all = NULL;
    unsigned ngaps = 0, nall = 0, finished = 0;
    uint64_t steps = 0, messages = 0;
    int64_t virt = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned r = 0; r < rollouts; r++) {
        sim_config_t cfg = {.n = nodes, .seed = 1000 + r, .delay_min_ms = 1, .delay_max_ms = 5,
                            .tuning = &t, .policy_json = policy, .start_ms = START_MS,
                            .install_ms = 1000, .restart_ms = 2000};
        sim_t *s = sim_new(&cfg);
        check_t *c = check_new(s);
        sim_run_until(s, 3000);
        sim_publish(s, r % nodes, "10.5.2", START_MS / 1000 + 100);
        char why[160];
        bool fin = false;
        while (!fin && sim_now(s) < 3600000) {
            sim_run_until(s, sim_now(s) + 500);
            fin = check_finished(c, why, sizeof why);
        }
        finished += fin && !check_violation(c);
        const check_gap_t *g;
        unsigned n = check_gaps(c, &g);
        gaps = realloc(gaps, (ngaps + n) * sizeof *gaps);
        all = realloc(all, (nall + n) * sizeof *all);
        if (!gaps || !all) abort();
        for (unsigned k = 0; k < n; k++) {
            all[nall++] = g[k].gap_ms;
            if (!g[k].next_holdback) gaps[ngaps++] = g[k].gap_ms;
        }
        steps += sim_steps(s);
        messages += sim_messages(s);
        virt += sim_now(s);
        check_destroy(&c);
        sim_destroy(&s);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    qsort(gaps, ngaps, sizeof *gaps, cmp_i64);
    qsort(all, nall, sizeof *all, cmp_i64);
    double si = (double)t.sync_interval_ms;
    printf("bench_sim: %u rollouts of %u nodes, batch %u, healthy network (1-5 ms), soak 5 s, "
           "install 1 s\n", rollouts, nodes, batch);
    printf("  finished clean:       %u of %u\n", finished, rollouts);
    printf("  simulator speed:      %.1f rollouts/s (%.2f s wall, %.0f virtual s per wall s, "
           "%.0f steps/s)\n",
           rollouts / secs, secs, (double)virt / 1000 / secs, (double)steps / secs);
    printf("  messages per rollout: %.0f\n", (double)messages / rollouts);
    printf("  soak end -> next election, waves not gated by the proof (%u): median %lld ms "
           "(%.3f sync intervals of %lld ms), p90 %lld ms (%.3f), max %lld ms (%.3f)\n",
           ngaps, (long long)pct(gaps, ngaps, 50), pct(gaps, ngaps, 50) / si,
           (long long)t.sync_interval_ms, (long long)pct(gaps, ngaps, 90),
           pct(gaps, ngaps, 90) / si, (long long)pct(gaps, ngaps, 100),
           pct(gaps, ngaps, 100) / si);
    printf("  soak end -> next election, all waves (%u, the holdback ones wait for the proof): "
           "median %lld ms, p90 %lld ms\n",
           nall, (long long)pct(all, nall, 50), (long long)pct(all, nall, 90));
    free(gaps);
    free(all);
    return 0;
}
