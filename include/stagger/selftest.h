/* selftest.h: what the test-only build staggerd-next adds to the protocol,
 * so that a fleet test can roll a genuinely newer minor version out over
 * an older one (tests/fleet/test_self_update.py, docs/protocol.md §11,
 * "How the rules are exercised"): one optional record field
 * (`selftest_note`), one capability (`selftest-hello`) and one message type
 * (240, `selftest-hello`) that it sends only while that capability is in
 * the fleet-wide set.
 *
 * Only staggerd-next is compiled with STG_SELFTEST_NEXT=1 (its own copies
 * of proto and the core, node/shell/meson.build). Every other build,
 * shipped or tested, leaves it 0: the lists below expand to nothing and no
 * code behind the flag is compiled, so those builds are the older version
 * that knows none of it. Never set it in a build that is shipped. */
#ifndef STAGGER_SELFTEST_H
#define STAGGER_SELFTEST_H

#ifndef STG_SELFTEST_NEXT
#define STG_SELFTEST_NEXT 0
#endif

#if STG_SELFTEST_NEXT
/* Appended to STG_CAP_MAP (caps.h) and STG_MSG_MAP (wire.h). */
#define STG_SELFTEST_CAP_MAP(X) X(SELFTEST_HELLO, "selftest-hello")
#define STG_SELFTEST_MSG_MAP(X) X(SELFTEST_HELLO, 240, "selftest-hello")
/* The record field's longest value, and how often a hello goes out at
 * most (with a probe, to the member probed). */
#define STG_SELFTEST_NOTE_MAX 63
#define STG_SELFTEST_HELLO_EVERY_MS 1000
#else
#define STG_SELFTEST_CAP_MAP(X)
#define STG_SELFTEST_MSG_MAP(X)
#endif

#endif
