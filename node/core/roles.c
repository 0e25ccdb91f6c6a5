/* roles.c: an operator's promote (docs/protocol.md §10): the standby and
 * the producer swap roles in this node's copy of the roster, without a new
 * roster, so a failover is one command and a rollout goes on. */
#include <string.h>

#include "internal.h"

/* Swap two members' place in the rollout: role, stage and holdback. */
static void swap_roles(stg_member_t *a, stg_member_t *b) {
    stg_role_t role = a->role;
    int stage = a->stage;
    bool holdback = a->holdback;
    a->role = b->role;
    a->stage = b->stage;
    a->holdback = b->holdback;
    b->role = role;
    b->stage = stage;
    b->holdback = holdback;
}

bool stg__promote(stg_core_t *c, const char *name, int64_t seq) {
    stg_roster_t *r = c->roster;
    int s = stg_roster_find_name(r, name), p = -1;
    for (unsigned i = 0; i < r->nmembers; i++)
        if (r->members[i].role == STG_ROLE_PRODUCER) p = (int)i;
    if (s < 0 || p < 0 || r->members[s].role != STG_ROLE_STANDBY) {
        stg__log(c, STG_LOG_ERROR, "fleet",
                 "promote %s (operator command #%lld) not applied: it is not the standby%s; "
                 "roles unchanged", name, (long long)seq, p < 0 ? " (the roster has no producer)" : "");
        return false;
    }
    swap_roles(&r->members[s], &r->members[p]);
    c->R->rank_valid = false; /* the order follows the stages */
    c->promoted.on = !(c->promoted.on && strcmp(c->promoted.standby, name) == 0);
    c->promoted.serial = r->serial;
    c->promoted.seq = seq;
    snprintf(c->promoted.producer, sizeof c->promoted.producer, "%s", r->members[s].name);
    snprintf(c->promoted.standby, sizeof c->promoted.standby, "%s", r->members[p].name);
    stg__log(c, STG_LOG_WARNING, "fleet",
             "promote (operator command #%lld): %s is the producer now, %s the standby; the "
             "rollout order and the holdback pair follow", (long long)seq, r->members[s].name,
             r->members[p].name);
    stg__act(c, STG_ACT_ROSTER_CHANGED); /* the hooks' STAGGER_ROLE */
    return true;
}
