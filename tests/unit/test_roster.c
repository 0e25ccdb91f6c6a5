/* test_roster.c: the roster codec: every refusal with its reason and field
 * path, the cardano-node defaults, the holdback pair, and opening signed
 * rosters (bootstrap and replacement). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "stagger/doc.h"

/* ---- building documents ---------------------------------------------------
 * Templates are JSON with ' for " (so they read as JSON) and @K<n> for the
 * public key of test identity n. */

#define NKEYS 1024

static stg_seckey_t key_for(unsigned n) {
    uint8_t seed[32] = {(uint8_t)n, (uint8_t)(n >> 8), 0x5a};
    stg_seckey_t k;
    assert_int_equal(stg_seckey_from_seed(&k, seed), 0);
    return k;
}

static const char *b64_for(unsigned n) {
    static char cache[NKEYS][STG_KEY_B64_LEN + 1];
    assert_true(n < NKEYS);
    if (!cache[n][0]) {
        stg_seckey_t k = key_for(n);
        stg_pubkey_to_b64(&k.pub, cache[n]);
    }
    return cache[n];
}

/* Caller frees. */
static char *expand(const char *t) {
    char *out = malloc(strlen(t) * 12 + 1), *o = out;
    assert_non_null(out);
    while (*t) {
        if (t[0] == '@' && t[1] == 'K') {
            char *end;
            unsigned long n = strtoul(t + 2, &end, 10);
            o = stpcpy(o, b64_for((unsigned)n));
            t = end;
        } else {
            *o++ = *t == '\'' ? '"' : *t;
            t++;
        }
    }
    *o = '\0';
    return out;
}

/* tmpl with its first `find` replaced by `repl` (both templates); fails the
 * test when find is not there, so a typo cannot pass as a refusal. */
static char *edited(const char *tmpl, const char *find, const char *repl) {
    const char *at = strstr(tmpl, find);
    if (!at) fail_msg("template has no %s", find);
    size_t n = strlen(tmpl) + strlen(repl) + 1;
    char *t = malloc(n);
    assert_non_null(t);
    snprintf(t, n, "%.*s%s%s", (int)(at - tmpl), tmpl, repl, at + strlen(find));
    char *out = expand(t);
    free(t);
    return out;
}

static stg_roster_t *roster_new(void) {
    stg_roster_t *r = malloc(sizeof *r); /* ~200 KB: never on the stack */
    assert_non_null(r);
    memset(r, 0xa5, sizeof *r);
    return r;
}

static int decode_text(const char *json, stg_roster_t *r, stg_diag_t *d) {
    return stg_roster_decode((const uint8_t *)json, strlen(json), r, d);
}

#define EPOCH "{'start_s':1700000000,'length_s':3600,'proof_epochs':2,'guard_s':300}"
#define WINDOWS                                                          \
    "[{'days':['mon','tue','wed'],'start':'08:00','end':'17:30'},"       \
    "{'days':['sat'],'start':'22:00','end':'02:00'}]"
#define TIMEOUTS "{'install_s':7200,'health_s':30,'rollback_s':1800,'gate_s':20}"
#define POLICY                                                                           \
    "{'batch':2,'soak_s':600,'unavailable_max':2,'epoch':" EPOCH ",'windows':" WINDOWS \
    ",'timeouts':" TIMEOUTS ",'health_deadline_s':36000,'fork_blocks':20," \
    "'components':{'os':{'soak_s':600,'proof_epochs':0}}}"

/* Members: 0 bp, 1 standby, 2 relay-b, 3 relay-a, 4 dark-b, 5 dark-a. */
static const char FULL[] =
    "{'fleet':'pool-a','serial':7,"
    "'operators':['@K1','@K2'],'emergency_quorum':2,"
    "'observers':['@K3'],"
    "'members':["
    "{'name':'bp','key':'@K10','endpoint':'tcp://10.0.0.1:3001','role':'producer',"
    "'flavour':'debian'},"
    "{'name':'standby','key':'@K11','endpoint':'tcp://[fd00::11]:3001','role':'standby',"
    "'flavour':'nix'},"
    "{'name':'relay-b','key':'@K12','endpoint':'tcp://relay-b.pool.example:3001',"
    "'role':'relay','flavour':'nix','tags':['eu','public']},"
    "{'name':'relay-a','key':'@K13','endpoint':'tcp://relay-a.pool.example:3001',"
    "'role':'relay','flavour':'debian'},"
    "{'name':'dark-b','key':'@K14','endpoint':'tcp://10.0.0.14:3001','role':'dark-relay',"
    "'flavour':'debian','stage':5},"
    "{'name':'dark-a','key':'@K15','endpoint':'tcp://10.0.0.15:3001','role':'dark-relay',"
    "'flavour':'nix'}],"
    "'policy':" POLICY "}";

/* The least a roster can say: everything else takes its default. */
static const char MINIMAL[] =
    "{'fleet':'pool-m','serial':1,'operators':['@K1'],'members':["
    "{'name':'r2','key':'@K20','endpoint':'tcp://10.0.1.2:3001','role':'relay',"
    "'flavour':'debian'},"
    "{'name':'r1','key':'@K21','endpoint':'tcp://10.0.1.1:3001','role':'relay',"
    "'flavour':'nix'},"
    "{'name':'sb','key':'@K22','endpoint':'tcp://10.0.1.3:3001','role':'standby',"
    "'flavour':'nix'}]}";

/* ---- every refusal, one named test each ----------------------------------- */

typedef struct {
    const char *find, *repl; /* the edit that breaks FULL */
    stg_reject_t reason;
    const char *path; /* the field the message must name */
    const char *hint; /* more text the message must carry, or NULL */
} reject_case_t;

static void check_refusal(const char *json, stg_reject_t reason, const char *path,
                          const char *hint) {
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    int rc = decode_text(json, r, &d);
    if (rc != STG_EREJECT) fail_msg("accepted (rc %d): %s", rc, json);
    if (d.reason != reason)
        fail_msg("got %s (%s), want %s", stg_reject_name(d.reason), d.msg,
                 stg_reject_name(reason));
    if (!strstr(d.msg, path)) fail_msg("\"%s\" does not name %s", d.msg, path);
    if (hint && !strstr(d.msg, hint)) fail_msg("\"%s\" does not say \"%s\"", d.msg, hint);
    /* Nothing half-decoded is left behind. */
    assert_int_equal(r->nmembers, 0);
    assert_int_equal(r->serial, 0);
    free(r);
}

static void reject_case(void **state) {
    const reject_case_t *c = *state;
    char *json = edited(FULL, c->find, c->repl);
    check_refusal(json, c->reason, c->path, c->hint);
    free(json);
}

#define M0 "'name':'bp',"
#define REJECTS(X)                                                                          \
    X(top_unknown_field, "'serial':7", "'serial':7,'extra':1", UNKNOWN_FIELD, "extra", NULL) \
    X(top_duplicate_key, "'serial':7", "'serial':7,'serial':8", DUPLICATE_FIELD, "payload",  \
      NULL)                                                                                 \
    X(fleet_missing, "'fleet':'pool-a',", "", MISSING_FIELD, "fleet", NULL)                  \
    X(fleet_not_name, "'pool-a'", "'Pool A'", BAD_VALUE, "fleet", "Pool A")                  \
    X(fleet_wrong_type, "'fleet':'pool-a'", "'fleet':5", WRONG_TYPE, "fleet", NULL)          \
    X(serial_missing, "'serial':7,", "", MISSING_FIELD, "serial", NULL)                      \
    X(serial_zero, "'serial':7", "'serial':0", OUT_OF_RANGE, "serial", NULL)                 \
    X(serial_over_2p53, "'serial':7", "'serial':9007199254740992", OUT_OF_RANGE, "serial",   \
      NULL)                                                                                 \
    X(serial_string, "'serial':7", "'serial':'7'", WRONG_TYPE, "serial", NULL)               \
    X(serial_real, "'serial':7", "'serial':7.0", WRONG_TYPE, "serial", NULL)                 \
    X(operators_missing, "'operators':['@K1','@K2'],'emergency_quorum':2,", "",              \
      MISSING_FIELD, "operators", NULL)                                                      \
    X(operators_empty, "['@K1','@K2'],'emergency_quorum':2", "[]", TOO_SHORT, "operators",   \
      NULL)                                                                                 \
    X(operators_not_array, "['@K1','@K2']", "'@K1'", WRONG_TYPE, "operators", NULL)          \
    X(operator_bad_key, "'@K2']", "'notakey']", BAD_KEY, "operators[1]", "keygen")          \
    X(operator_not_string, "'@K2']", "2]", WRONG_TYPE, "operators[1]", NULL)                 \
    X(operator_twice, "'@K1','@K2'", "'@K1','@K1'", DUPLICATE_VALUE, "operators[1]",        \
      "operators[0]")                                                                        \
    X(quorum_above_operators, "'emergency_quorum':2", "'emergency_quorum':3", OUT_OF_RANGE, \
      "emergency_quorum", NULL)                                                              \
    X(quorum_zero, "'emergency_quorum':2", "'emergency_quorum':0", OUT_OF_RANGE,            \
      "emergency_quorum", NULL)                                                              \
    X(observers_not_array, "['@K3']", "'@K3'", WRONG_TYPE, "observers", NULL)                \
    X(observer_is_operator, "['@K3']", "['@K2']", DUPLICATE_VALUE, "observers[0]",          \
      "operators[1]")                                                                        \
    X(observer_twice, "['@K3']", "['@K3','@K3']", DUPLICATE_VALUE, "observers[1]", NULL)    \
    X(observer_bad_key, "['@K3']", "['@K3=']", BAD_KEY, "observers[0]", NULL)               \
    X(member_not_object, "'members':[", "'members':[3,", WRONG_TYPE, "members[0]", NULL)    \
    X(member_unknown_field, M0, M0 "'colour':'red',", UNKNOWN_FIELD, "members[0].colour",  \
      NULL)                                                                                 \
    X(member_name_missing, M0, "", MISSING_FIELD, "members[0].name", NULL)                 \
    X(member_name_not_name, "'bp'", "'BP 1'", BAD_VALUE, "members[0].name", "BP 1")         \
    X(member_name_twice, "'name':'relay-a'", "'name':'relay-b'", DUPLICATE_VALUE,           \
      "members[3].name", "members[2]")                                                       \
    X(member_key_missing, "'key':'@K10',", "", MISSING_FIELD, "members[0].key", NULL)       \
    X(member_key_bad, "'@K10'", "'AAAA'", BAD_KEY, "members[0].key", "AAAA")                \
    X(member_key_is_operator, "'@K10'", "'@K1'", DUPLICATE_VALUE, "members[0].key",         \
      "operator keys stay offline")                                                          \
    X(member_key_is_observer, "'@K10'", "'@K3'", DUPLICATE_VALUE, "members[0].key",         \
      "observers[0]")                                                                        \
    X(member_key_twice, "'@K13'", "'@K12'", DUPLICATE_VALUE, "members[3].key",              \
      "members[2].key")                                                                      \
    X(endpoint_missing, "'endpoint':'tcp://10.0.0.1:3001',", "", MISSING_FIELD,             \
      "members[0].endpoint", NULL)                                                           \
    X(endpoint_not_tcp, "'tcp://10.0.0.1:3001'", "'foo'", BAD_VALUE, "members[0].endpoint", \
      "tcp://HOST:PORT (got \"foo\")")                                                      \
    X(endpoint_twice, "'tcp://10.0.0.15:3001'", "'tcp://10.0.0.14:3001'", DUPLICATE_VALUE,  \
      "members[5].endpoint", "members[4]")                                                   \
    X(endpoint_twice_case, "'tcp://relay-a.pool.example:3001'",                             \
      "'tcp://RELAY-B.pool.example:3001'", DUPLICATE_VALUE, "members[3].endpoint", NULL)     \
    X(role_missing, "'role':'producer',", "", MISSING_FIELD, "members[0].role", NULL)       \
    X(role_unknown, "'producer'", "'validator'", BAD_VALUE, "members[0].role", "dark-relay") \
    X(second_producer, "'role':'relay','flavour':'debian'", "'role':'producer','flavour':'debian'", \
      BAD_VALUE, "members[3].role", "competing blocks")                                     \
    X(flavour_missing, ",'flavour':'debian'}", "}", MISSING_FIELD, "members[0].flavour",    \
      NULL)                                                                                 \
    X(flavour_not_name, "'flavour':'debian'}", "'flavour':'Debian'}", BAD_VALUE,            \
      "members[0].flavour", NULL)                                                            \
    X(stage_zero, "'stage':5", "'stage':0", OUT_OF_RANGE, "members[4].stage", NULL)         \
    X(stage_ten, "'stage':5", "'stage':10", OUT_OF_RANGE, "members[4].stage", NULL)         \
    X(stage_string, "'stage':5", "'stage':'5'", WRONG_TYPE, "members[4].stage", NULL)       \
    X(holdback_not_bool, "'stage':5", "'stage':5,'holdback':'yes'", WRONG_TYPE,             \
      "members[4].holdback", NULL)                                                           \
    X(tags_not_array, "['eu','public']", "'eu'", WRONG_TYPE, "members[2].tags", NULL)       \
    X(tags_too_many, "['eu','public']", "['a','b','c','d','e','f','g','h','i']", TOO_LONG,  \
      "members[2].tags", NULL)                                                               \
    X(tag_not_name, "['eu','public']", "['EU']", BAD_VALUE, "members[2].tags[0]", NULL)     \
    X(tag_twice, "['eu','public']", "['eu','eu']", DUPLICATE_VALUE, "members[2].tags[1]",   \
      NULL)                                                                                 \
    X(tag_not_string, "['eu','public']", "['eu',1]", WRONG_TYPE, "members[2].tags[1]", NULL) \
    X(no_holdback_pair, "'role':'standby'", "'role':'relay'", BAD_VALUE, "members",          \
      "no possible holdback pair")                                                           \
    X(policy_not_object, POLICY, "3", WRONG_TYPE, "policy", NULL)      \
    X(policy_unknown_field, "'batch':2,", "'batch':2,'bacth':1,", UNKNOWN_FIELD,            \
      "policy.bacth", NULL)                                                                  \
    X(batch_three, "'batch':2", "'batch':3", OUT_OF_RANGE, "policy.batch", NULL)            \
    X(batch_zero, "'batch':2", "'batch':0", OUT_OF_RANGE, "policy.batch", NULL)             \
    X(soak_zero, "'soak_s':600", "'soak_s':0", OUT_OF_RANGE, "policy.soak_s", NULL)         \
    X(soak_over_30_days, "'soak_s':600", "'soak_s':2592001", OUT_OF_RANGE, "policy.soak_s", \
      NULL)                                                                                 \
    X(unavailable_all, "'unavailable_max':2", "'unavailable_max':6", OUT_OF_RANGE,          \
      "policy.unavailable_max", "0..5")                                                      \
    X(unavailable_negative, "'unavailable_max':2", "'unavailable_max':-1", OUT_OF_RANGE,    \
      "policy.unavailable_max", NULL)                                                        \
    X(epoch_not_object, EPOCH, "[]", WRONG_TYPE, "policy.epoch", NULL)  \
    X(epoch_unknown_field, "'start_s'", "'slot_s':1,'start_s'", UNKNOWN_FIELD,              \
      "policy.epoch.slot_s", NULL)                                                           \
    X(epoch_start_negative, "'start_s':1700000000", "'start_s':-1", OUT_OF_RANGE,           \
      "policy.epoch.start_s", NULL)                                                          \
    X(epoch_length_zero, "'length_s':3600", "'length_s':0", OUT_OF_RANGE,                   \
      "policy.epoch.length_s", NULL)                                                         \
    X(proof_epochs_eleven, "'proof_epochs':2", "'proof_epochs':11", OUT_OF_RANGE,           \
      "policy.epoch.proof_epochs", NULL)                                                     \
    X(guard_over_length, "'guard_s':300", "'guard_s':3601", OUT_OF_RANGE,                   \
      "policy.epoch.guard_s", NULL)                                                          \
    X(guard_default_over_length, "'length_s':3600,'proof_epochs':2,'guard_s':300",          \
      "'length_s':600,'proof_epochs':2", OUT_OF_RANGE, "policy.epoch.guard_s", "default")   \
    X(windows_not_array, WINDOWS, "{}", WRONG_TYPE, "policy.windows", \
      NULL)                                                                                 \
    X(windows_too_many, "'windows':[",                                                      \
      "'windows':[{},{},{},{},{},{},{},{},", TOO_LONG, "policy.windows", NULL)              \
    X(window_not_object, "'windows':[", "'windows':[1,", WRONG_TYPE, "policy.windows[0]",   \
      NULL)                                                                                 \
    X(window_unknown_field, "'start':'08:00'", "'start':'08:00','tz':'CET'", UNKNOWN_FIELD, \
      "policy.windows[0].tz", NULL)                                                          \
    X(window_days_missing, "'days':['sat'],", "", MISSING_FIELD, "policy.windows[1].days",  \
      NULL)                                                                                 \
    X(window_days_empty, "['sat']", "[]", TOO_SHORT, "policy.windows[1].days", NULL)        \
    X(window_day_unknown, "['mon','tue','wed']", "['mon','funday']", BAD_VALUE,             \
      "policy.windows[0].days[1]", "funday")                                                 \
    X(window_day_capital, "['sat']", "['Sat']", BAD_VALUE, "policy.windows[1].days[0]",     \
      NULL)                                                                                 \
    X(window_day_twice, "['mon','tue','wed']", "['mon','tue','mon']", DUPLICATE_VALUE,      \
      "policy.windows[0].days[2]", NULL)                                                     \
    X(window_day_not_string, "['sat']", "[6]", WRONG_TYPE, "policy.windows[1].days[0]",     \
      NULL)                                                                                 \
    X(window_start_missing, "'start':'22:00',", "", MISSING_FIELD,                          \
      "policy.windows[1].start", NULL)                                                       \
    X(window_start_one_digit, "'08:00'", "'8:00'", BAD_VALUE, "policy.windows[0].start",   \
      "HH:MM")                                                                               \
    X(window_start_hour_24, "'08:00'", "'24:00'", BAD_VALUE, "policy.windows[0].start",    \
      NULL)                                                                                 \
    X(window_start_minute_60, "'08:00'", "'08:60'", BAD_VALUE, "policy.windows[0].start",  \
      NULL)                                                                                 \
    X(window_start_colons, "'08:00'", "'12:3:'", BAD_VALUE, "policy.windows[0].start",     \
      NULL)                                                                                 \
    X(window_end_bad, "'17:30'", "'17h30'", BAD_VALUE, "policy.windows[0].end", NULL)       \
    X(window_empty, "'end':'02:00'", "'end':'22:00'", BAD_VALUE, "policy.windows[1].end",   \
      "leave policy.windows out")                                                            \
    X(timeouts_not_object, TIMEOUTS, "1", WRONG_TYPE,                \
      "policy.timeouts", NULL)                                                               \
    X(timeouts_unknown_field, "'install_s'", "'instal_s':1,'install_s'", UNKNOWN_FIELD,     \
      "policy.timeouts.instal_s", NULL)                                                      \
    X(install_zero, "'install_s':7200", "'install_s':0", OUT_OF_RANGE,                      \
      "policy.timeouts.install_s", NULL)                                                     \
    X(health_over_day, "'health_s':30", "'health_s':86401", OUT_OF_RANGE,                   \
      "policy.timeouts.health_s", NULL)                                                      \
    X(rollback_string, "'rollback_s':1800", "'rollback_s':'1800'", WRONG_TYPE,              \
      "policy.timeouts.rollback_s", NULL)                                                    \
    X(gate_zero, "'gate_s':20", "'gate_s':0", OUT_OF_RANGE, "policy.timeouts.gate_s", NULL) \
    X(health_deadline_short, "'health_deadline_s':36000", "'health_deadline_s':59",         \
      OUT_OF_RANGE, "policy.health_deadline_s", NULL)                                        \
    X(health_deadline_long, "'health_deadline_s':36000", "'health_deadline_s':172801",      \
      OUT_OF_RANGE, "policy.health_deadline_s", NULL)                                        \
    X(fork_blocks_short, "'fork_blocks':20", "'fork_blocks':1", OUT_OF_RANGE,                 \
      "policy.fork_blocks", NULL)                                                            \
    X(fork_blocks_long, "'fork_blocks':20", "'fork_blocks':2161", OUT_OF_RANGE,               \
      "policy.fork_blocks", NULL)                                                            \
    X(component_unknown_field, "'proof_epochs':0}", "'proof_epochs':0,'soak':1}",             \
      UNKNOWN_FIELD, "policy.components.os", NULL)                                           \
    X(component_bad_name, "{'os':", "{'OS!':", BAD_VALUE, "policy.components", NULL)         \
    X(component_proof_over, "'proof_epochs':0}", "'proof_epochs':11}", OUT_OF_RANGE,          \
      "policy.components.os", NULL)                                                          \
    X(component_holdback_type, "'proof_epochs':0}", "'proof_epochs':0,'holdback':1}",         \
      WRONG_TYPE, "policy.components.os", NULL)                                              \
    X(component_not_object, "{'os':{'soak_s':600,'proof_epochs':0}}", "{'os':3}", WRONG_TYPE, \
      "policy.components.os", NULL)

#define AS_CASE(name, find, repl, reason, path, hint) \
    static reject_case_t case_##name = {find, repl, STG_REJECT_##reason, path, hint};
REJECTS(AS_CASE)
#undef AS_CASE

/* ---- endpoints ------------------------------------------------------------ */

static void endpoints(void **state) {
    (void)state;
    static const char *const bad[] = {
        "udp://10.0.0.1:3001", "tcp://10.0.0.1", "tcp://10.0.0.1:", "tcp://10.0.0.1:0",
        "tcp://10.0.0.1:65536", "tcp://10.0.0.1:03001", "tcp://10.0.0.1:30a1",
        "tcp://10.0.0.1:123456", "tcp://256.0.0.1:3001", "tcp://10.0.1:3001",
        "tcp://10.00.0.1:3001", "tcp://::1:3001", "tcp://[::1:3001", "tcp://[::1]3001",
        "tcp://[zz::1]:3001", "tcp://[]:3001", "tcp://[fe80::1%eth0]:3001",
        "tcp://-relay.example:3001", "tcp://relay-.example:3001", "tcp://a..b:3001",
        "tcp://relay.example.:3001", "tcp://:3001", "tcp://ho st:3001", "tcp://h_st:3001",
        "TCP://10.0.0.1:3001", "tcp://10.0.0.1:3001/x", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char repl[128];
        snprintf(repl, sizeof repl, "'%s'", bad[i]);
        char *json = edited(FULL, "'tcp://10.0.0.1:3001'", repl);
        check_refusal(json, STG_REJECT_BAD_VALUE, "members[0].endpoint", bad[i]);
        free(json);
    }
    static const char *const good[] = {
        "tcp://[::1]:1", "tcp://localhost:65535", "tcp://[2001:db8::7]:7400",
        "tcp://Relay-1.Example.COM:3001", "tcp://[::ffff:10.0.0.9]:3001",
        "tcp://r1:3001", "tcp://0.0.0.0:3001", "tcp://1x.example:3001",
    };
    stg_roster_t *r = roster_new();
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char repl[128];
        snprintf(repl, sizeof repl, "'%s'", good[i]);
        char *json = edited(FULL, "'tcp://10.0.0.1:3001'", repl);
        stg_diag_t d = {0};
        if (decode_text(json, r, &d) != 0) fail_msg("%s refused: %s", good[i], d.msg);
        assert_string_equal(r->members[0].endpoint, good[i]);
        free(json);
    }
    /* 127 characters fit, 128 do not. */
    char longest[200] = "'tcp://", *p = longest + 7;
    for (int label = 0; label < 3; label++) p += sprintf(p, "%.35s.", "abcdefghijabcdefghijabcdefghijabcde");
    p += sprintf(p, "%.8s:3001'", "abcdefgh");
    assert_int_equal(strlen(longest) - 2, 127);
    char *json = edited(FULL, "'tcp://10.0.0.1:3001'", longest);
    stg_diag_t d = {0};
    assert_int_equal(decode_text(json, r, &d), 0);
    free(json);
    longest[7] = 'x';
    memmove(longest + 8, longest + 7, strlen(longest + 7) + 1);
    json = edited(FULL, "'tcp://10.0.0.1:3001'", longest);
    check_refusal(json, STG_REJECT_TOO_LONG, "members[0].endpoint", NULL);
    free(json);
    free(r);
}

/* ---- documents that decode ---------------------------------------------- */

static void full_roster_decodes(void **state) {
    (void)state;
    char *json = expand(FULL);
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    assert_string_equal(r->fleet, "pool-a");
    assert_int_equal(r->serial, 7);
    assert_int_equal(r->noperators, 2);
    stg_seckey_t k1 = key_for(1), k3 = key_for(3), k12 = key_for(12);
    assert_true(stg_pubkey_eq(&r->operators[0], &k1.pub));
    assert_int_equal(r->emergency_quorum, 2);
    assert_int_equal(r->nobservers, 1);
    assert_true(stg_pubkey_eq(&r->observers[0], &k3.pub));
    assert_int_equal(r->nmembers, 6);

    const stg_member_t *m = r->members;
    assert_string_equal(m[1].name, "standby");
    assert_string_equal(m[1].endpoint, "tcp://[fd00::11]:3001");
    assert_string_equal(m[2].flavour, "nix");
    assert_true(stg_pubkey_eq(&m[2].key, &k12.pub));
    assert_int_equal(m[2].ntags, 2);
    assert_string_equal(m[2].tags[1], "public");
    assert_int_equal(m[0].ntags, 0);
    /* Stages from the roles (relay 1, dark-relay 2, producer 3, standby 4)
     * unless given. */
    static const stg_role_t roles[] = {STG_ROLE_PRODUCER, STG_ROLE_STANDBY, STG_ROLE_RELAY,
                                       STG_ROLE_RELAY, STG_ROLE_DARK_RELAY, STG_ROLE_DARK_RELAY};
    static const int stages[] = {3, 4, 1, 1, 5, 2};
    /* The pair: the standby and the first dark relay by name ("dark-a"). */
    static const bool held[] = {false, true, false, false, false, true};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(m[i].role, roles[i]);
        assert_int_equal(m[i].stage, stages[i]);
        assert_int_equal(m[i].holdback, held[i]);
    }

    const stg_policy_t *p = &r->policy;
    assert_int_equal(p->batch, 2);
    assert_int_equal(p->soak_s, 600);
    assert_int_equal(p->unavailable_max, 2);
    assert_int_equal(p->epoch_start_s, 1700000000);
    assert_int_equal(p->epoch_length_s, 3600);
    assert_int_equal(p->proof_epochs, 2);
    assert_int_equal(p->epoch_guard_s, 300);
    assert_int_equal(p->nwindows, 2);
    assert_int_equal(p->windows[0].days, 0x07); /* mon tue wed */
    assert_int_equal(p->windows[0].start_min, 8 * 60);
    assert_int_equal(p->windows[0].end_min, 17 * 60 + 30);
    assert_int_equal(p->windows[1].days, 0x20); /* sat */
    assert_int_equal(p->windows[1].start_min, 22 * 60);
    assert_int_equal(p->windows[1].end_min, 2 * 60); /* crosses midnight */
    assert_int_equal(p->install_timeout_s, 7200);
    assert_int_equal(p->health_timeout_s, 30);
    assert_int_equal(p->rollback_timeout_s, 1800);
    assert_int_equal(p->gate_timeout_s, 20);
    assert_int_equal(p->health_deadline_s, 36000);
    assert_int_equal(p->fork_blocks, 20);
    assert_int_equal(p->ncomponents, 1);
    assert_string_equal(p->components[0].name, "os");
    assert_int_equal(p->components[0].soak_s, 600);
    assert_int_equal(p->components[0].proof_epochs, 0);
    assert_true(p->components[0].holdback); /* the default */

    assert_int_equal(stg_roster_find_name(r, "relay-a"), 3);
    assert_int_equal(stg_roster_find_name(r, "relay"), -1);
    assert_int_equal(stg_roster_find_key(r, &k12.pub), 2);
    assert_int_equal(stg_roster_find_key(r, &k1.pub), -1); /* operators are not members */
    free(json);
    free(r);
}

static void minimal_roster_defaults(void **state) {
    (void)state;
    char *json = expand(MINIMAL);
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    assert_int_equal(r->emergency_quorum, 1);
    assert_int_equal(r->nobservers, 0);
    const stg_policy_t *p = &r->policy;
    assert_int_equal(p->batch, 1);
    assert_int_equal(p->soak_s, 86400);
    assert_int_equal(p->unavailable_max, 1);
    assert_int_equal(p->epoch_start_s, 1596059091); /* mainnet epoch 208 */
    assert_int_equal(p->epoch_length_s, 432000);
    assert_int_equal(p->proof_epochs, 1);
    assert_int_equal(p->epoch_guard_s, 3600);
    assert_int_equal(p->nwindows, 0);
    assert_int_equal(p->install_timeout_s, 3600);
    assert_int_equal(p->health_timeout_s, 60);
    assert_int_equal(p->rollback_timeout_s, 3600);
    assert_int_equal(p->gate_timeout_s, 60);
    assert_int_equal(p->health_deadline_s, 21600);
    assert_int_equal(p->fork_blocks, 10);
    stg_policy_t def;
    stg_policy_default(&def);
    assert_memory_equal(&def, p, sizeof def);
    /* No dark relay: the first relay by name ("r1", listed second). */
    assert_false(r->members[0].holdback);
    assert_true(r->members[1].holdback);
    assert_true(r->members[2].holdback);
    free(json);
    free(r);
}

static void holdback_marked(void **state) {
    (void)state;
    /* Marked members are exactly the set: the default pair is not added. */
    char *json = edited(FULL, "'flavour':'debian','stage':5",
                        "'flavour':'debian','stage':5,'holdback':true");
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    for (unsigned i = 0; i < r->nmembers; i++) assert_int_equal(r->members[i].holdback, i == 4);
    free(json);

    /* A marked set needs no standby at all. */
    json = edited(MINIMAL, "'role':'standby'", "'role':'relay','holdback':true");
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    assert_true(r->members[2].holdback);
    assert_false(r->members[1].holdback);
    free(json);

    /* Explicit false keeps a member out of the default pair. */
    json = edited(MINIMAL, "'name':'r1',", "'name':'r1','holdback':false,");
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    assert_true(r->members[0].holdback); /* r2 */
    assert_false(r->members[1].holdback);
    free(json);

    /* ... and when that leaves no relay, there is no pair. */
    json = edited(MINIMAL, "'name':'sb',", "'name':'sb','holdback':false,");
    check_refusal(json, STG_REJECT_BAD_VALUE, "members", "no possible holdback pair");
    free(json);
    free(r);
}

static void holdback_everyone(void **state) {
    (void)state;
    /* Two members, the default pair takes both: none is left to prove. */
    const char two[] =
        "{'fleet':'f','serial':1,'operators':['@K1'],'members':["
        "{'name':'a','key':'@K20','endpoint':'tcp://a:1','role':'relay','flavour':'x'},"
        "{'name':'b','key':'@K21','endpoint':'tcp://b:1','role':'standby','flavour':'x'}]}";
    char *json = expand(two);
    check_refusal(json, STG_REJECT_BAD_VALUE, "members", "held back");
    free(json);
    const char marked[] =
        "{'fleet':'f','serial':1,'operators':['@K1'],'members':["
        "{'name':'a','key':'@K20','endpoint':'tcp://a:1','role':'relay','flavour':'x',"
        "'holdback':true},"
        "{'name':'b','key':'@K21','endpoint':'tcp://b:1','role':'relay','flavour':'x',"
        "'holdback':true}]}";
    json = expand(marked);
    check_refusal(json, STG_REJECT_BAD_VALUE, "members", "held back");
    free(json);
}

/* ---- sizes: the caps hold, and the largest roster decodes ----------------- */

/* A roster with n members (the first a standby, the rest relays) and the
 * given numbers of operators and observers. Caller frees. */
static char *sized(unsigned nops, unsigned nobs, unsigned n) {
    size_t cap = 200 + (nops + nobs) * 8 + (size_t)n * 160;
    char *t = malloc(cap), *p = t;
    assert_non_null(t);
    p += sprintf(p, "{'fleet':'big','serial':1,'operators':[");
    for (unsigned i = 0; i < nops; i++) p += sprintf(p, "%s'@K%u'", i ? "," : "", 1 + i);
    p += sprintf(p, "],'observers':[");
    for (unsigned i = 0; i < nobs; i++) p += sprintf(p, "%s'@K%u'", i ? "," : "", 20 + i);
    p += sprintf(p, "],'members':[");
    for (unsigned i = 0; i < n; i++)
        p += sprintf(p,
                     "%s{'name':'m%03u','key':'@K%u','endpoint':'tcp://10.1.%u.%u:3001',"
                     "'role':'%s','flavour':'%s'}",
                     i ? "," : "", i, 100 + i, i / 256, i % 256, i ? "relay" : "standby",
                     i % 2 ? "nix" : "debian");
    p += sprintf(p, "]}");
    assert_true((size_t)(p - t) < cap);
    char *json = expand(t);
    free(t);
    return json;
}

static void caps(void **state) {
    (void)state;
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    char *json = sized(STG_OPERATORS_MAX, STG_OBSERVERS_MAX, STG_MEMBERS_MAX);
    assert_true(strlen(json) <= STG_PAYLOAD_MAX);
    if (decode_text(json, r, &d) != 0) fail_msg("%s", d.msg);
    assert_int_equal(r->nmembers, STG_MEMBERS_MAX);
    assert_int_equal(r->noperators, STG_OPERATORS_MAX);
    assert_int_equal(r->nobservers, STG_OBSERVERS_MAX);
    assert_int_equal(stg_roster_find_name(r, "m255"), 255);
    assert_true(r->members[0].holdback && r->members[1].holdback);
    free(json);

    json = sized(STG_OPERATORS_MAX, 0, STG_MEMBERS_MAX + 1);
    check_refusal(json, STG_REJECT_TOO_LONG, "members", "at most 256");
    free(json);
    json = sized(STG_OPERATORS_MAX + 1, 0, 3);
    check_refusal(json, STG_REJECT_TOO_LONG, "operators", NULL);
    free(json);
    json = sized(1, STG_OBSERVERS_MAX + 1, 3);
    check_refusal(json, STG_REJECT_TOO_LONG, "observers", NULL);
    free(json);
    json = sized(1, 0, 0);
    check_refusal(json, STG_REJECT_TOO_SHORT, "members", NULL);
    free(json);
    json = expand("{'fleet':'big','serial':1,'operators':['@K1']}");
    check_refusal(json, STG_REJECT_MISSING_FIELD, "members", NULL);
    free(json);
    free(r);
}

static void roles(void **state) {
    (void)state;
    static const char *const names[] = {"producer", "standby", "relay", "dark-relay"};
    static const int stages[] = {3, 4, 1, 2};
    for (int i = 0; i < STG_ROLE__COUNT; i++) {
        assert_string_equal(stg_role_name((stg_role_t)i), names[i]);
        assert_int_equal(stg_role_from_name(names[i]), i);
        assert_int_equal(stg_role_default_stage((stg_role_t)i), stages[i]);
    }
    assert_int_equal(stg_role_from_name("Relay"), -1);
    assert_int_equal(stg_role_from_name(""), -1);
}

/* ---- opening signed rosters ------------------------------------------------ */

#define ENV_CAP (STG_PAYLOAD_MAX + 1024)

typedef struct {
    uint8_t buf[ENV_CAP];
    size_t len;
} sealed_t;

/* The template (edited when find is not NULL) sealed as `type` by key n.
 * Caller frees. */
static sealed_t *seal(const char *tmpl, const char *find, const char *repl, int type,
                      unsigned signer) {
    char *json = find ? edited(tmpl, find, repl) : expand(tmpl);
    sealed_t *s = malloc(sizeof *s);
    assert_non_null(s);
    stg_seckey_t k = key_for(signer);
    assert_int_equal(stg_envelope_seal(type, (const uint8_t *)json, strlen(json), &k, s->buf,
                                       sizeof s->buf, &s->len),
                     0);
    free(json);
    return s;
}

static void open_refused(const sealed_t *s, const stg_roster_t *current, stg_reject_t want,
                         const char *path) {
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    assert_int_equal(stg_roster_open(s->buf, s->len, current, r, &d), STG_EREJECT);
    if (d.reason != want)
        fail_msg("got %s (%s), want %s", stg_reject_name(d.reason), d.msg,
                 stg_reject_name(want));
    if (!strstr(d.msg, path)) fail_msg("\"%s\" does not name %s", d.msg, path);
    assert_int_equal(r->nmembers, 0);
    free(r);
}

static void open_bootstrap(void **state) {
    (void)state;
    stg_roster_t *r = roster_new();
    stg_diag_t d = {0};
    sealed_t *s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 2); /* any one operator */
    if (stg_roster_open(s->buf, s->len, NULL, r, &d) != 0) fail_msg("%s", d.msg);
    assert_int_equal(r->serial, 7);
    assert_int_equal(r->nmembers, 6);
    free(s);

    /* Signed by a member, an observer or a stranger: not an operator. */
    static const unsigned not_ops[] = {10, 3, 99};
    for (size_t i = 0; i < 3; i++) {
        s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, not_ops[i]);
        open_refused(s, NULL, STG_REJECT_UNKNOWN_SIGNER, "envelope");
        free(s);
    }
    /* One good operator signature does not excuse a bad co-signer. */
    s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1);
    stg_seckey_t stranger = key_for(99);
    assert_int_equal(stg_envelope_cosign(s->buf, &s->len, sizeof s->buf, &stranger, &d), 0);
    open_refused(s, NULL, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    free(s);

    /* A payload byte changed after signing: serial 7 becomes 6, still a
     * valid roster, but no longer the one the operator signed. */
    s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1);
    char *json = expand(FULL);
    size_t seven = (size_t)(strstr(json, "\"serial\":7") - json) + 9;
    free(json);
    s->buf[STG_ENV_HEADER + seven] ^= 0x01;
    open_refused(s, NULL, STG_REJECT_BAD_SIGNATURE, "envelope");
    free(s);

    /* Right signer, wrong kind of document. */
    s = seal(FULL, NULL, NULL, STG_DOC_RELEASE, 1);
    open_refused(s, NULL, STG_REJECT_WRONG_TYPE_DOC, "envelope");
    free(s);
    s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1);
    s->len = 5;
    open_refused(s, NULL, STG_REJECT_TOO_SHORT, "envelope");
    free(s);
    free(r);
}

static void open_replacement(void **state) {
    (void)state;
    stg_roster_t *cur = roster_new(), *r = roster_new();
    stg_diag_t d = {0};
    sealed_t *s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1);
    assert_int_equal(stg_roster_open(s->buf, s->len, NULL, cur, &d), 0);
    free(s);

    s = seal(FULL, "'serial':7", "'serial':8", STG_DOC_ROSTER, 1);
    if (stg_roster_open(s->buf, s->len, cur, r, &d) != 0) fail_msg("%s", d.msg);
    assert_int_equal(r->serial, 8);
    free(s);

    /* Rotating the operators: the current ones sign the hand-over. */
    s = seal(FULL, "'serial':7,'operators':['@K1','@K2']", "'serial':9,'operators':['@K4','@K5']",
             STG_DOC_ROSTER, 2);
    if (stg_roster_open(s->buf, s->len, cur, r, &d) != 0) fail_msg("%s", d.msg);
    stg_seckey_t k4 = key_for(4);
    assert_true(stg_pubkey_eq(&r->operators[0], &k4.pub));
    free(s);

    /* ... but the new operators cannot appoint themselves. */
    s = seal(FULL, "'serial':7,'operators':['@K1','@K2']", "'serial':9,'operators':['@K4','@K5']",
             STG_DOC_ROSTER, 4);
    open_refused(s, cur, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    free(s);

    s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1); /* the same serial again */
    open_refused(s, cur, STG_REJECT_STALE, "serial");
    free(s);
    s = seal(FULL, "'serial':7", "'serial':6", STG_DOC_ROSTER, 1);
    open_refused(s, cur, STG_REJECT_STALE, "serial");
    free(s);
    s = seal(FULL, "'fleet':'pool-a','serial':7", "'fleet':'pool-b','serial':8",
             STG_DOC_ROSTER, 1);
    open_refused(s, cur, STG_REJECT_WRONG_FLEET, "fleet");
    free(s);
    free(cur);
    free(r);
}

static void open_checks_signature_before_json(void **state) {
    (void)state;
    stg_roster_t *cur = roster_new();
    stg_diag_t d = {0};
    sealed_t *s = seal(FULL, NULL, NULL, STG_DOC_ROSTER, 1);
    assert_int_equal(stg_roster_open(s->buf, s->len, NULL, cur, &d), 0);
    free(s);
    /* Garbage from a stranger is refused for its signer, not its JSON:
     * the parser never sees unauthenticated bytes. */
    s = seal("{not json", NULL, NULL, STG_DOC_ROSTER, 99);
    open_refused(s, cur, STG_REJECT_UNKNOWN_SIGNER, "envelope");
    free(s);
    s = seal("{not json", NULL, NULL, STG_DOC_ROSTER, 1);
    open_refused(s, cur, STG_REJECT_BAD_JSON, "payload");
    free(s);
    /* Any flipped payload byte fails the signature, whatever it does to
     * the JSON. */
    s = seal(FULL, "'serial':7", "'serial':8", STG_DOC_ROSTER, 1);
    uint8_t *payload = s->buf + STG_ENV_HEADER;
    size_t plen = s->len - STG_ENV_HEADER - STG_ENV_SIG_ENTRY;
    for (size_t i = 0; i < plen; i += 97) {
        payload[i] ^= 0x20;
        open_refused(s, cur, STG_REJECT_BAD_SIGNATURE, "envelope");
        payload[i] ^= 0x20;
    }
    free(s);
    free(cur);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
#define AS_TEST(name, find, repl, reason, path, hint) \
    {#name, reject_case, NULL, NULL, &case_##name},
        REJECTS(AS_TEST)
#undef AS_TEST
        cmocka_unit_test(endpoints),
        cmocka_unit_test(full_roster_decodes),
        cmocka_unit_test(minimal_roster_defaults),
        cmocka_unit_test(holdback_marked),
        cmocka_unit_test(holdback_everyone),
        cmocka_unit_test(caps),
        cmocka_unit_test(roles),
        cmocka_unit_test(open_bootstrap),
        cmocka_unit_test(open_replacement),
        cmocka_unit_test(open_checks_signature_before_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
