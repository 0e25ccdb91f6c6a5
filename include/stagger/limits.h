/* limits.h: every fixed cap in stagger, in one place. The core stores
 * nothing without a cap; decoders check sizes before they parse. */
#ifndef STAGGER_LIMITS_H
#define STAGGER_LIMITS_H

#define STG_PROTO_VERSION 1

#define STG_KEY_BYTES 32          /* Ed25519 public key, X25519 key */
#define STG_SEED_BYTES 32         /* Ed25519 secret seed */
#define STG_SIG_BYTES 64          /* Ed25519 signature */
#define STG_KEY_B64_LEN 44        /* base64 of 32 bytes, with padding */

#define STG_SIG_MAX 8             /* signatures on one envelope */
/* The two caps a scale build raises (tests/sim/sim_scale.c: 1,000
 * simulated members); a daemon is always built with these. */
#ifndef STG_PAYLOAD_MAX
#define STG_PAYLOAD_MAX 65536     /* payload bytes of any envelope */
#endif
#define STG_JSON_DEPTH_MAX 8      /* nesting of any JSON payload */

#define STG_BATCH_MAX 2           /* members updating at once (policy.batch) */
#ifndef STG_MEMBERS_MAX
#define STG_MEMBERS_MAX 256
#endif
#define STG_OPERATORS_MAX 8
#define STG_OBSERVERS_MAX 16
#define STG_NAME_MAX 63           /* member, fleet, flavour, component names */
#define STG_COMPONENTS_MAX 3      /* components one staggerd manages (the primary
                                     and two more: e.g. cardano-node, os, stagger) */
#define STG_ENDPOINT_MAX 127
#define STG_TAGS_MAX 8
#define STG_WINDOWS_MAX 8
#define STG_FLAVOURS_MAX 8
#define STG_VERSION_MAX 63
#define STG_ARTIFACT_MAX 511      /* image reference or URL */
#define STG_DETAIL_MAX 255        /* free text from a hook */

#define STG_CLOCK_SKEW_MAX_MS 10000 /* a member's clock further off than this is
                                       shown in status (docs/operations.md, clocks) */

#endif
