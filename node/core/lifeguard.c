/* lifeguard.c: Lifeguard's timing rules for SWIM (docs/protocol.md §7.5):
 * the local health score, which stretches this node's own probe timers
 * when it has reason to distrust them, and suspicions that start long and
 * shorten with independent confirmations. swim.c applies them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- Lifeguard: local health ------------------------------------------ */

/* The score says how far this node distrusts its own timing: a probe of
 * ours that nobody answered, not even a helper's nack, a suspicion about
 * us that we had to refute, our own loop running late. It multiplies our
 * probe interval and timeout by 1 + the score; each answered probe takes
 * one off. */
void stg__local_health(stg_core_t *c, int delta, const char *why) {
    int max = c->t.local_health_max > LHM_LIMIT ? LHM_LIMIT : (int)c->t.local_health_max;
    int old = c->lhm, v = old + delta;
    if (v < 0) v = 0;
    if (v > max) v = max;
    if (v == old) return;
    c->lhm = v;
    stg__log(c, old == 0 ? STG_LOG_WARNING : v == 0 ? STG_LOG_INFO : STG_LOG_DEBUG, "swim",
             "local health %d -> %d (%s): probing every %lld ms, timeout %lld ms", old, v, why,
             (long long)stg__probe_interval(c), (long long)stg__probe_timeout(c));
}

int64_t stg__probe_timeout(const stg_core_t *c) {
    return c->t.probe_timeout_ms * (1 + c->lhm);
}

int64_t stg__probe_interval(const stg_core_t *c) {
    return c->t.probe_interval_ms * (1 + c->lhm);
}

int stg_core_local_health(const stg_core_t *c) { return c->lhm; }

/* ---- Lifeguard: suspicions shortened by independent confirmations ------ */

/* Confirmations wanted to bring a suspicion down to suspicion_ms: no more
 * than the members who could give one (all but the suspect and the first
 * accuser). */
static unsigned confirm_k(const stg_core_t *c) {
    unsigned others = c->roster->nmembers > 2 ? c->roster->nmembers - 2 : 0;
    return others < SUSPECT_CONFIRM_K ? others : SUSPECT_CONFIRM_K;
}

/* 1000 ln(x), for x = 1 .. SUSPECT_CONFIRM_K + 1: the core keeps to integers. */
static const int64_t ln1000[SUSPECT_CONFIRM_K + 2] = {0, 0, 693, 1099, 1386};

/* The shortest suspicion: suspicion_ms up to 16 members, then a quarter
 * more per doubling (x2 at 256), as memberlist scales its own with log N:
 * a larger fleet needs longer for a refutation to reach every member, and
 * a suspicion that outlives its refutation's flood only by chance declares
 * live members dead whenever the machines are slow (256 peers on two
 * cores died and came back by the hundred). */
static int64_t suspicion_min(const stg_core_t *c) {
    unsigned lg = 0;
    while ((1u << lg) < c->roster->nmembers) lg++;
    return c->t.suspicion_ms * (lg > 4 ? lg : 4) / 4;
}

/* How long a suspicion lasts from its start: SUSPICION_MAX_MULT times
 * suspicion_ms with no confirmation beyond the first accuser, falling with
 * the logarithm of their number to suspicion_ms at k (memberlist's
 * suspicion.go): one node's bad view alone waits long, a failure many
 * members see is declared fast. */
int64_t stg__suspicion_timeout(const stg_core_t *c, const peer_t *p) {
    int64_t min = suspicion_min(c), max = min * SUSPICION_MAX_MULT;
    unsigned k = confirm_k(c), n = p->naccusers > 0 ? p->naccusers - 1 : 0;
    if (k == 0 || n >= k) return min;
    return max - (max - min) * ln1000[n + 1] / ln1000[k + 1];
}

static bool accused_by(const peer_t *p, int a) { return (p->accusers[a / 8] >> (a % 8)) & 1; }

/* Member a's own probe of suspect i failed: count it once, move the end
 * of the suspicion closer. False when it was counted already or enough
 * have been (then our own accusation need not go out). */
bool stg__confirm(stg_core_t *c, int i, int a) {
    peer_t *p = &c->peers[i];
    if (p->live != STG_LIVE_SUSPECT || accused_by(p, a) || p->naccusers > confirm_k(c)) return false;
    p->accusers[a / 8] |= (uint8_t)(1u << (a % 8));
    if (p->naccusers++ > 0) c->stats.confirmations++;
    p->suspect_deadline_ms = p->suspect_since_ms + stg__suspicion_timeout(c, p);
    return true;
}
