/* selftest.c: what staggerd-next, the test build of a newer minor version,
 * does beyond this source's other builds (stagger/selftest.h): it signs a
 * note into its record, and says hello to the member it probes while every
 * member lists the capability `selftest-hello` (docs/protocol.md §11).
 * Compiled into staggerd-next's core only; core.c, gossip.c and swim.c call
 * it where the next build differs. */
#include <stdio.h>

#include "internal.h"

/* Empty in every other build, so whatever compiles node/core/ whole (the
 * simulator's mutants) needs no list of what to leave out. */
#if STG_SELFTEST_NEXT

/* The field no other build knows: older members ignore it, store it and
 * relay it with the record, which is signed with it. */
void stg__selftest_note(const stg_core_t *c, stg_record_t *r) {
    snprintf(r->selftest_note, sizeof r->selftest_note, "hello from %s", r->node);
    (void)c;
}

/* A member that runs no version with the capability would refuse the
 * message (BAD_TYPE), so it goes out only while the fleet-wide set has it,
 * checked each time: the set shrinks again when a member is downgraded. */
void stg__selftest_probe(stg_core_t *c, int target) {
    if (c->now < c->selftest.hello_next_ms) return;
    if (!(stg__fleet_caps(c) & STG_CAPS_OF(STG_CAP_SELFTEST_HELLO))) return;
    c->selftest.hello_next_ms = c->now + STG_SELFTEST_HELLO_EVERY_MS;
    stg_msg_t m = {.type = STG_MSG_SELFTEST_HELLO};
    stg__send(c, target, &m);
    c->selftest.hello_sent++;
}

void stg__selftest_hello(stg_core_t *c, int from) {
    c->selftest.hello_received++;
    (void)from;
}

/* Records new to us (idx[0..n)) came from member `from`: each note in one
 * that is not from's own record, relayed by a member whose record has no
 * note (an older version), crossed that member unchanged. */
void stg__selftest_relayed(stg_core_t *c, int from, const int *idx, unsigned n) {
    if (from < 0 || !c->peers[from].have || c->peers[from].rec.selftest_note[0]) return;
    for (unsigned k = 0; k < n; k++)
        if (idx[k] != from && c->peers[idx[k]].rec.selftest_note[0]) c->selftest.notes_via_old++;
}

#endif /* STG_SELFTEST_NEXT */
