/* sim_scale.c: issue 11's scale figures from the simulator: real cores, a
 * simulated network (1-5 ms a message), fleets of up to 1,000 members.
 * Built with the roster's caps raised (meson: STG_MEMBERS_MAX 1024, a
 * 256 KiB envelope payload, SIM_NODES_MAX 1024): the protocol caps a
 * roster at 256 members (docs/protocol.md §4.1), so N above 256 shows how
 * the design grows, not what a daemon accepts. For each N it prints:
 *
 *   partners     per member, min / median / max (tuning.partners, §7.8)
 *   converge     virtual ms from a simultaneous start until every member
 *                sees every other healthy
 *   msgs/member/s  messages each member sends per second in an idle
 *                minute (pings, acks, summaries): what the overlay bounds
 *   dissemination  a version change at one member until every member has
 *                it: median and max over the changes, in ms and in probe
 *                intervals (the rounds a gossip protocol would need)
 *   detection    kill a member: until the first and the last other member
 *                stop showing it healthy, and until the first declares it
 *                dead
 *
 * Figures only; nothing is asserted (a benchmark, not a test).
 *
 *   sim_scale [--n 64 256 1000] [--changes 5] [--kills 3] [--idle-s 60]
 *             [--partners K] [--seed S] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define START_MS 1800000000000LL

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t median(int64_t *v, unsigned n) {
    qsort(v, n, sizeof *v, cmp_i64);
    return n ? v[n / 2] : -1;
}

static int64_t maxof(const int64_t *v, unsigned n) {
    int64_t m = -1;
    for (unsigned i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* Does every member show every other healthy? */
static bool all_healthy(sim_t *s, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        for (unsigned m = 0; m < n; m++)
            if (m != i && stg_core_shown_health(sim_core(s, i), (int)m) != STG_HEALTH_HEALTHY)
                return false;
    return true;
}

/* Live members other than the victim that show it healthy / dead. */
static unsigned showing(sim_t *s, unsigned n, unsigned victim, bool dead) {
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i == victim || !sim_alive(s, i)) continue;
        if (dead) {
            stg_member_view_t mv;
            stg_core_member(sim_core(s, i), (int)victim, &mv);
            k += mv.live == STG_LIVE_DEAD;
        } else {
            k += stg_core_shown_health(sim_core(s, i), (int)victim) == STG_HEALTH_HEALTHY;
        }
    }
    return k;
}

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run(unsigned n, unsigned partners, uint64_t seed, unsigned changes, unsigned kills,
                int64_t idle_ms) {
    double w0 = wall_s();
    stg_core_tuning_t t;
    stg_core_tuning_default(&t);
    if (partners != ~0u) t.partners = partners;
    sim_config_t cfg = {.n = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 5,
                        .tuning = &t, .start_ms = START_MS};
    sim_t *s = sim_new(&cfg);
    if (!s) {
        fprintf(stderr, "sim_scale: cannot make a fleet of %u (SIM_NODES_MAX %d)\n", n,
                SIM_NODES_MAX);
        exit(1);
    }
    unsigned pmin = ~0u, pmax = 0;
    int64_t pc[SIM_NODES_MAX];
    for (unsigned i = 0; i < n; i++) {
        unsigned k = 0;
        for (unsigned m = 0; m < n; m++) k += stg_core_partner(sim_core(s, i), (int)m);
        pmin = k < pmin ? k : pmin;
        pmax = k > pmax ? k : pmax;
        pc[i] = k;
    }
    int64_t conv = SIM_WAIT_FOR(s, 600000, 50, all_healthy(s, n));
    /* Let the start's churn settle, then count an idle window. */
    sim_run_until(s, sim_now(s) + 30000);
    uint64_t m0 = sim_messages(s);
    sim_run_until(s, sim_now(s) + idle_ms);
    double per = (double)(sim_messages(s) - m0) / n / ((double)idle_ms / 1000);

    int64_t diss[64];
    unsigned nd = 0, missed = 0;
    for (unsigned k = 0; k < changes && k < 64; k++) {
        unsigned origin = (unsigned)((k * 7919u + 13u) % n);
        char v[24];
        snprintf(v, sizeof v, "11.0.%u", k);
        sim_set_health(s, origin, STG_HEALTH_HEALTHY, v);
        /* The origin learns it at its next health run. */
        if (SIM_WAIT_FOR(s, 2 * t.health_interval_ms, 1, sim_seeing(s, origin, v) >= 1) < 0) {
            missed++;
            continue;
        }
        int64_t d = SIM_WAIT_FOR(s, 60000, 1, sim_seeing(s, origin, v) == n);
        if (d < 0) missed++;
        else diss[nd++] = d;
        sim_run_until(s, sim_now(s) + 2000);
    }

    int64_t first[16], last[16], dead[16];
    unsigned nk = 0, undetected = 0;
    for (unsigned k = 0; k < kills && k < 16; k++) {
        unsigned victim = (unsigned)((k * 104729u + 5u) % n);
        sim_crash(s, victim);
        unsigned others = n - 1 - k;
        int64_t t0 = sim_now(s), f = -1, l = -1, dd = -1;
        while ((f < 0 || l < 0 || dd < 0) && sim_now(s) - t0 <= 60000) {
            sim_run_until(s, sim_now(s) + 10);
            unsigned healthy = showing(s, n, victim, false);
            if (f < 0 && healthy < others) f = sim_now(s) - t0;
            if (l < 0 && healthy == 0) l = sim_now(s) - t0;
            if (dd < 0 && showing(s, n, victim, true) >= 1) dd = sim_now(s) - t0;
        }
        if (f < 0 || l < 0 || dd < 0) {
            undetected++;
        } else {
            first[nk] = f;
            last[nk] = l;
            dead[nk] = dd;
            nk++;
        }
        sim_run_until(s, sim_now(s) + 5000);
    }
    int64_t dmed = median(diss, nd), dmax = maxof(diss, nd);
    printf("  partners per member: min %u, median %lld, max %u\n", pmin,
           (long long)median(pc, n), pmax);
    printf("  converge after a simultaneous start: %lld ms\n", (long long)conv);
    printf("  idle messages sent per member per second: %.2f\n", per);
    printf("  dissemination t100: median %lld ms (%.3f probe intervals), max %lld ms; %u of %u "
           "changes missed\n",
           (long long)dmed, (double)dmed / (double)t.probe_interval_ms, (long long)dmax, missed,
           changes);
    printf("  detection: first observer median %lld ms, last observer median %lld ms, first "
           "death median %lld ms; %u of %u kills undetected\n",
           (long long)median(first, nk), (long long)median(last, nk), (long long)median(dead, nk),
           undetected, kills);
    printf("  (%.0f s of wall time)\n", wall_s() - w0);
    fflush(stdout);
    sim_destroy(&s);
}

int main(int argc, char **argv) {
    unsigned ns[16], nn = 0, changes = 5, kills = 3, partners = ~0u;
    uint64_t seed = 1;
    int64_t idle_ms = 60000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0) {
            while (i + 1 < argc && argv[i + 1][0] != '-' && nn < 16) ns[nn++] = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--changes") == 0 && i + 1 < argc) {
            changes = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc) {
            kills = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--idle-s") == 0 && i + 1 < argc) {
            idle_ms = atoll(argv[++i]) * 1000;
        } else if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc) {
            partners = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr,
                    "usage: sim_scale [--n N...] [--changes K] [--kills K] [--idle-s S] "
                    "[--partners K] [--seed S]\n"
                    "Fleets of up to %d simulated members: partners, convergence, idle "
                    "messages, dissemination and detection (see the file's head).\n",
                    SIM_NODES_MAX);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (!nn) {
        ns[nn++] = 64;
        ns[nn++] = 256;
        ns[nn++] = 1000;
    }
    for (unsigned i = 0; i < nn; i++) {
        if (ns[i] < 3 || ns[i] > SIM_NODES_MAX) {
            fprintf(stderr, "sim_scale: N must be 3..%d\n", SIM_NODES_MAX);
            return 2;
        }
    }
    for (unsigned i = 0; i < nn; i++) {
        printf("N = %u\n", ns[i]);
        run(ns[i], partners, seed, changes, kills, idle_ms);
    }
    return 0;
}
