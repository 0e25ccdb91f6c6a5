/* caps.h: capabilities, the features of the protocol a staggerd announces
 * in its record (`caps`, docs/protocol.md §7.3) so that a feature every peer
 * must understand is switched on only once every member has it (§11).
 *
 * STG_CAP_MAP is this build's own set, in one place: a build lists a
 * capability exactly when it implements it, and its record carries all of
 * them. A name, once listed, is never removed or renamed: older peers read
 * it. A new feature that every member must understand appends its name
 * here, and checks it with the fleet-wide set (stg_core_fleet_caps) before
 * it acts. */
#ifndef STAGGER_CAPS_H
#define STAGGER_CAPS_H

#include <stdint.h>

#include "stagger/selftest.h"

#define STG_CAP_MAP(X)                 \
    X(PROMOTE, "promote") /* the emergency command promote (§10) */ \
    X(COMPONENTS, "components") /* releases of a member's other components (§9.8) */ \
    STG_SELFTEST_CAP_MAP(X) /* staggerd-next only (selftest.h) */

typedef enum {
#define X(name, text) STG_CAP_##name,
    STG_CAP_MAP(X)
#undef X
    STG_CAP__COUNT
} stg_cap_t;

/* A set of capabilities this build knows: bit STG_CAP_x. A name a newer
 * peer announces that this build does not know has no bit: it cannot be
 * fleet-wide while this node is a member. */
typedef uint32_t stg_caps_t;
#define STG_CAPS_OF(cap) ((stg_caps_t)1 << (cap))
_Static_assert(STG_CAP__COUNT <= 32, "stg_caps_t holds 32 capabilities");
/* This build's own set: every capability it knows. */
#define STG_CAPS_OWN ((stg_caps_t)((((uint64_t)1) << STG_CAP__COUNT) - 1))

/* A record's `caps`: at most this many names (known or not), each a name
 * (docs/protocol.md §4.5) of at most this many characters. */
#define STG_CAPS_MAX 32
#define STG_CAP_NAME_MAX 31

/* "promote"; borrowed, static. */
const char *stg_cap_name(stg_cap_t c);
/* The capability of that name, or -1 when this build does not know it. */
int stg_cap_from_name(const char *s);

#endif
