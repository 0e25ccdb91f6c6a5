/* status.c: staggerctl status and roster publish: talk to one running peer
 * over CURVE as an operator or observer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"
#include "stagger/wire.h"

#define REPLY_MAX (1024u * 1024u)
/* A status request is idempotent: asked again after each 500 ms of silence
 * within its deadline, so one lost frame on a busy machine costs 500 ms,
 * not the whole --timeout-ms. */
#define STATUS_RESEND_MS 500

/* Resolve --peer (a member name or its endpoint; absent = every member in
 * turn) to the list of members to try. */
/* The members --peer names, in the order to try: every member (none
 * given), the one with that name or roster endpoint, or NAME@ENDPOINT: that
 * member's key at another endpoint (an SSH tunnel, a NAT), *via set. */
static int peers_to_try(const stg_roster_t *r, const char *peer, int *out, int *n,
                        const char **via) {
    *n = 0;
    *via = NULL;
    char name[STG_NAME_MAX + 1] = "";
    const char *at = peer ? strstr(peer, "@tcp://") : NULL;
    if (at) {
        if ((size_t)(at - peer) >= sizeof name || strlen(at + 1) > STG_ENDPOINT_MAX) {
            ctl_err("--peer %s: NAME@tcp://HOST:PORT is too long", peer);
            return CTL_USAGE;
        }
        memcpy(name, peer, (size_t)(at - peer));
        name[at - peer] = '\0';
        *via = at + 1;
    }
    for (unsigned i = 0; i < r->nmembers; i++)
        if (!peer || (at ? strcmp(name, r->members[i].name) == 0
                         : (strcmp(peer, r->members[i].name) == 0 ||
                            strcmp(peer, r->members[i].endpoint) == 0)))
            out[(*n)++] = (int)i;
    if (*n == 0) {
        ctl_err("--peer %s: no member of fleet %s has that %s; see the roster's \"members\"",
                peer, r->fleet, at ? "name" : "name or endpoint");
        return CTL_USAGE;
    }
    return CTL_OK;
}

/* Send frame to the first peer that answers and decode its reply (one of
 * status-rep, ok-rep, error-rep). resend_ms > 0 (only for an idempotent
 * frame) sends it again after each resend_ms of silence. On failure prints
 * why and returns the exit code: CTL_UNREACHABLE when no peer answered. */
int ctl_request(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                const uint8_t *frame, size_t flen, int timeout_ms, int resend_ms,
                ctl_reply_t *out) {
    int order[STG_MEMBERS_MAX], n, rc;
    const char *via;
    memset(out, 0, sizeof *out);
    if ((rc = peers_to_try(r, peer, order, &n, &via)) != CTL_OK) return rc;
    uint8_t *reply = malloc(REPLY_MAX);
    stg_msg_t *msg = malloc(sizeof *msg);
    rc = reply && msg ? CTL_UNREACHABLE : CTL_SYSTEM;
    for (int k = 0; k < n && rc == CTL_UNREACHABLE; k++) {
        const stg_member_t *m = &r->members[order[k]];
        const char *endpoint = via ? via : m->endpoint;
        size_t rlen = 0;
        int e = stg_client_query(endpoint, &m->key, key, frame, flen, reply, REPLY_MAX, &rlen,
                                 timeout_ms, resend_ms);
        if (e != 0) {
            const char *why = e == -ETIMEDOUT ? "no answer (is staggerd running there?)"
                              : e == -EACCES  ? "refused our key: use an operator or observer "
                                                "key listed in this roster"
                                              : stg_strerror(e);
            ctl_err("%s (%s): %s", m->name, endpoint, why);
            continue;
        }
        stg_diag_t d = {0};
        if (stg_msg_decode(reply, rlen, msg, &d) != 0 ||
            (msg->type != STG_MSG_STATUS_REP && msg->type != STG_MSG_ERROR_REP &&
             msg->type != STG_MSG_OK_REP)) {
            ctl_err("%s: unexpected reply: %s", m->name,
                    d.msg[0] ? d.msg : stg_msg_name(msg->type));
            continue;
        }
        out->type = msg->type;
        out->code = msg->type == STG_MSG_ERROR_REP ? msg->reason : msg->outcome;
        out->text = strndup((const char *)msg->blob, msg->blob_len);
        out->peer = m->name;
        rc = out->text ? CTL_OK : CTL_SYSTEM;
    }
    free(msg);
    free(reply);
    return rc;
}

void ctl_print_refusal(const char *what, const ctl_reply_t *rep) {
    if ((unsigned)rep->code >= STG_REJECT__COUNT) /* a newer peer's reason */
        ctl_err("%s: %s refused it: reason %d (newer than this staggerctl): %s", what,
                rep->peer, rep->code, rep->text);
    else
        ctl_err("%s: %s refused it: %s (%s): %s", what, rep->peer,
                stg_reject_name((stg_reject_t)rep->code),
                stg_reject_text((stg_reject_t)rep->code), rep->text);
}

bool ctl_taken(const ctl_reply_t *rep) {
    return rep->code == STG_OUTCOME_APPLIED || rep->code == STG_OUTCOME_HELD;
}

void ctl_print_pending(const char *what, const ctl_reply_t *rep) {
    ctl_err("%s: %s took it but has not stored it (pending): %s", what, rep->peer, rep->text);
}

char *ctl_ask_status(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                     int timeout_ms, int *rc) {
    uint8_t frame[STG_WIRE_HEADER];
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_STATUS_REQ;
    m.serial = (uint64_t)r->serial;
    int n = stg_msg_encode(&m, frame, sizeof frame);
    ctl_reply_t rep;
    *rc = ctl_request(r, peer, key, frame, (size_t)n, timeout_ms, STATUS_RESEND_MS, &rep);
    if (*rc != CTL_OK) return NULL;
    if (rep.type == STG_MSG_STATUS_REP) return rep.text;
    if (rep.type == STG_MSG_ERROR_REP) ctl_print_refusal("status", &rep);
    else ctl_err("%s: answered a status request with %s", rep.peer, stg_msg_name(rep.type));
    free(rep.text);
    *rc = CTL_REFUSED;
    return NULL;
}

int ctl_handover_timeout_ms = CTL_HANDOVER_TIMEOUT_MS;

bool ctl_set_handover_timeout(const char *tmo) {
    if (!tmo) return true;
    char *end = NULL;
    long v = strtol(tmo, &end, 10);
    if (!*tmo || *end || v <= 0 || v > 600000) {
        ctl_err("--timeout-ms %s: must be a number of milliseconds from 1 to 600000", tmo);
        return false;
    }
    ctl_handover_timeout_ms = (int)v;
    return true;
}

int ctl_hand_over(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                  int msg_type, const uint8_t *env, size_t elen, ctl_reply_t *out) {
    uint8_t *frame = malloc(STG_WIRE_HEADER + elen);
    memset(out, 0, sizeof *out);
    if (!frame) return CTL_SYSTEM;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)msg_type;
    m.serial = (uint64_t)r->serial;
    m.blob = env;
    m.blob_len = elen;
    int n = stg_msg_encode(&m, frame, STG_WIRE_HEADER + elen);
    int rc = n > 0 ? ctl_request(r, peer, key, frame, (size_t)n, ctl_handover_timeout_ms, 0, out)
                   : CTL_SYSTEM;
    free(frame);
    if (rc == CTL_OK && out->type == STG_MSG_STATUS_REP) {
        ctl_err("%s: answered with status, not with ok-rep or error-rep: a staggerd older "
                "than this staggerctl? see its log for what it did",
                out->peer);
        free(out->text);
        out->text = NULL;
        rc = CTL_REFUSED;
    }
    return rc;
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : "-";
}

/* More than one member forges (status `forgers`, issue 13): no update
 * starts until one stops. */
static bool two_forgers(json_t *st) { return json_array_size(json_object_get(st, "forgers")) > 1; }

/* New-version members follow another chain than the others (status
 * `fork`, issue 13): no update starts until they agree. */
static bool forked(json_t *st) { return json_is_object(json_object_get(st, "fork")); }

/* An update failed on some member, of any component's release (status
 * `rollout.failed`, `rollout.components[].failed`): every rollout halts. */
static bool update_failed(json_t *st) {
    json_t *ro = json_object_get(st, "rollout"), *more;
    bool any = json_is_object(json_object_get(ro, "failed"));
    size_t i;
    json_array_foreach(json_object_get(ro, "components"), i, more) any |=
        json_is_object(json_object_get(more, "failed"));
    return any;
}

/* A member's other components (status `members[].components`), on a line
 * under its row: the table's VERSION and HEALTH are its primary's. */
static void print_components(FILE *out, json_t *m) {
    json_t *comps = json_object_get(m, "components"), *c;
    size_t i;
    if (!json_array_size(comps)) return;
    fprintf(out, "%-14s  ", "");
    json_array_foreach(comps, i, c) fprintf(out, "%s %s %s %s", i ? ";" : "",
                                            str(c, "component"), str(c, "version"),
                                            str(c, "health"));
    fprintf(out, "\n");
}

/* Which staggerd versions the fleet runs (each record's `stagger`), one
 * count per version in the order first seen: while stagger updates
 * itself, the operator sees how far it has got. */
static void print_stagger_versions(FILE *out, json_t *members) {
    const char *seen[16];
    unsigned count[16], n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *v = json_string_value(json_object_get(m, "stagger"));
        if (!v || !*v) v = "unknown";
        unsigned k = 0;
        while (k < n && strcmp(seen[k], v) != 0) k++;
        if (k == n) {
            if (n == sizeof seen / sizeof seen[0]) continue;
            seen[n] = v;
            count[n++] = 0;
        }
        count[k]++;
    }
    if (!n) return;
    fprintf(out, "stagger:");
    for (unsigned k = 0; k < n; k++)
        fprintf(out, "%s %s on %u", k ? "," : "", seen[k], count[k]);
    fprintf(out, " of %zu\n", json_array_size(members));
}

static bool lists(json_t *names, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
    }
    return false;
}

/* One capability some members lack, and which members. */
static void print_lacking(FILE *out, json_t *members, const char *cap) {
    fprintf(out, "capability %s: not yet on", cap);
    unsigned n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (!lists(json_object_get(m, "caps"), cap))
            fprintf(out, "%s %s", n++ ? "," : "", str(m, "name"));
    }
    fprintf(out, " (an older staggerd, or no record of it yet): refused until every member has "
                 "it\n");
}

/* The capabilities some members have and others lack (status
 * `capabilities`, the fleet-wide set, against `members[].caps`;
 * docs/protocol.md §11): while stagger updates itself, what waits for the
 * last members, and for which. A peer too old to send `capabilities` says
 * nothing here. */
static void print_missing_caps(FILE *out, json_t *st) {
    json_t *fleet = json_object_get(st, "capabilities"), *members = json_object_get(st, "members");
    if (!json_is_array(fleet)) return;
    json_t *said = json_array();
    size_t i, k;
    json_t *m, *cap;
    json_array_foreach(members, i, m) {
        json_array_foreach(json_object_get(m, "caps"), k, cap) {
            const char *name = json_string_value(cap);
            if (!name || lists(fleet, name) || lists(said, name)) continue;
            json_array_append(said, cap);
            print_lacking(out, members, name);
        }
    }
    json_decref(said);
}

/* One component's rollout (status `rollout`, or an entry of
 * `rollout.components`): its release, wave, next and why it waits. A
 * component beyond the primary with no release says nothing. */
static void print_rollout(FILE *out, json_t *ro, bool primary) {
    const char *why = json_string_value(json_object_get(ro, "waiting"));
    json_t *rel = json_object_get(ro, "release");
    if (!primary && !json_is_object(rel)) return;
    if (json_is_object(rel)) {
        fprintf(out, "release %s %s (%s), %lld member(s) still to update\n", str(rel, "component"),
               str(rel, "version"), str(rel, "id"),
               (long long)json_integer_value(json_object_get(ro, "pending")));
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(ro, "wave"), k, w) {
            json_t *left = json_object_get(w, "soak_left_ms");
            if (json_is_integer(left))
                fprintf(out, "  wave: %s %s, %.0fs of soak left\n", str(w, "name"), str(w, "phase"),
                       json_integer_value(left) / 1000.0);
            else
                fprintf(out, "  wave: %s %s\n", str(w, "name"), str(w, "phase"));
        }
        /* Who is next, unless nobody will start (halted, failed) or the
         * waiting line below says it already ("next: X", "next X waits"). */
        json_t *next = json_object_get(ro, "next");
        bool stopped = json_is_true(json_object_get(ro, "halted")) ||
                       json_is_object(json_object_get(ro, "failed"));
        if (json_array_size(next) && !stopped && !(why && strncmp(why, "next", 4) == 0)) {
            fprintf(out, "  next:");
            json_array_foreach(next, k, w) fprintf(out, " %s", json_string_value(w));
            fprintf(out, "\n");
        }
    }
    if (why && *why) {
        fprintf(out, "  %s", why);
        json_t *pf = json_object_get(ro, "proof");
        json_int_t nb = json_integer_value(json_object_get(pf, "next_boundary_ms"));
        if (json_integer_value(json_object_get(pf, "epochs_left")) > 0 && nb > 0) {
            time_t t = (time_t)(nb / 1000);
            struct tm tm;
            char when[32];
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
            fprintf(out, " (next epoch boundary %s)", when);
        }
        fprintf(out, "\n");
    }
}

void ctl_print_status(FILE *out, json_t *st) {
    fprintf(out, "fleet %s (roster serial %lld), as seen by %s\n", str(st, "fleet"),
           (long long)json_integer_value(json_object_get(st, "serial")), str(st, "self"));
    fprintf(out, "%-14s %-10s %-5s %-8s %-12s %-9s %-12s %8s %5s\n", "NAME", "ROLE", "STAGE",
            "FLAVOUR", "VERSION", "HEALTH", "PHASE", "HEARD", "INC");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "members"), i, m) {
        json_t *ago = json_object_get(m, "heard_ago_ms");
        char heard[16] = "never";
        if (json_is_integer(ago)) snprintf(heard, sizeof heard, "%.1fs", json_integer_value(ago) / 1000.0);
        char stage[8] = "last";
        if (!json_is_true(json_object_get(m, "holdback")))
            snprintf(stage, sizeof stage, "%lld",
                     (long long)json_integer_value(json_object_get(m, "stage")));
        fprintf(out, "%-14s %-10s %-5s %-8s %-12s %-9s %-12s %8s %5lld%s\n", str(m, "name"),
                str(m, "role"), stage, str(m, "flavour"), str(m, "version"), str(m, "health"),
                str(m, "phase"), heard,
               (long long)json_integer_value(json_object_get(m, "incarnation")),
               json_is_true(json_object_get(m, "self")) ? "  (answering)" : "");
        print_components(out, m);
        /* The hook's detail: why a member is not healthy, or a warning
         * that a healthy one carries (a producer's KES periods running
         * out: the hooks start such a line with "WARN"). */
        const char *detail = json_string_value(json_object_get(m, "detail"));
        if (detail && *detail &&
            (strcmp(str(m, "health"), "healthy") != 0 || strstr(detail, "WARN")))
            fprintf(out, "%-14s   %s\n", "", detail);
        /* Away on purpose (a planned reboot it announced). */
        const char *live = str(m, "liveness");
        json_t *away = json_object_get(m, "away_left_ms");
        if (strcmp(live, "rebooting") == 0)
            fprintf(out, "%-14s   rebooting (announced), back within %llds or suspected\n", "",
                    (long long)((json_integer_value(away) + 999) / 1000));
        else if (json_is_integer(away) && json_is_true(json_object_get(m, "self")))
            fprintf(out, "%-14s   announced an absence of up to %llds more (a reboot)\n", "",
                    (long long)((json_integer_value(away) + 999) / 1000));
        json_t *skew = json_object_get(m, "clock_skew_ms");
        if (json_is_integer(skew))
            fprintf(out, "%-14s   clock %+.1fs off %s's: check NTP on both\n", "",
                   json_integer_value(skew) / 1000.0, str(st, "self"));
    }
    bool held_back = false;
    json_array_foreach(json_object_get(st, "members"), i, m) held_back |=
        json_is_true(json_object_get(m, "holdback"));
    if (held_back)
        fprintf(out, "(STAGE: the rollout's order; last: the holdback pair, after the proof)\n");
    print_stagger_versions(out, json_object_get(st, "members"));
    print_missing_caps(out, st);
    json_t *jr = json_object_get(st, "journal");
    const char *why = json_string_value(json_object_get(json_object_get(st, "rollout"), "waiting"));
    /* Said once: the rollout's waiting line may say it already. */
    if (json_is_false(json_object_get(jr, "ok")) && !(why && strstr(why, "cannot write its journal")))
        fprintf(out, "%s cannot write its journal (%s): it neither votes nor starts until it can\n",
               str(st, "self"), str(jr, "error"));
    json_t *ro = json_object_get(st, "rollout");
    print_rollout(out, ro, true);
    /* The other components' rollouts, each in the same words; one slot
     * per machine serves them all (docs/operations.md, "Components"). */
    json_t *more;
    json_array_foreach(json_object_get(ro, "components"), i, more) print_rollout(out, more, false);
    json_t *cmds = json_object_get(st, "commands");
    size_t ci;
    json_t *ce;
    json_array_foreach(json_object_get(cmds, "recent"), ci, ce) {
        if (ci == 3) break;
        const char *reason = str(ce, "reason");
        fprintf(out, "  operator command #%lld %s: applied by %zu of %zu members%s%s%s\n",
               (long long)json_integer_value(json_object_get(ce, "seq")), str(ce, "action"),
               json_array_size(json_object_get(ce, "applied_by")),
               json_array_size(json_object_get(st, "members")), *reason ? " (\"" : "", reason,
               *reason ? "\")" : "");
    }
    if (two_forgers(st) && !(why && strncmp(why, "CRITICAL", 8) == 0)) {
        fprintf(out, "CRITICAL: more than one member forges (");
        size_t fi;
        json_t *fe;
        json_array_foreach(json_object_get(st, "forgers"), fi, fe)
            fprintf(out, "%s%s", fi ? ", " : "", json_string_value(fe));
        fprintf(out, "): stop all but the active producer\n");
    }
    json_t *s = json_object_get(st, "summary");
    /* The last line agrees with the exit code: never "healthy" alone while halted. */
    const char *stop = json_is_true(json_object_get(ro, "halted"))          ? ", rollout halted"
                       : update_failed(st)                             ? ", update failed"
                       : two_forgers(st)                               ? ", more than one forger"
                       : forked(st)                                    ? ", version-correlated fork"
                                                                        : "";
    fprintf(out, "%lld members: %lld healthy, %lld unhealthy, %lld unknown; fleet %s%s\n",
           (long long)json_integer_value(json_object_get(s, "members")),
           (long long)json_integer_value(json_object_get(s, "healthy")),
           (long long)json_integer_value(json_object_get(s, "unhealthy")),
           (long long)json_integer_value(json_object_get(s, "unknown")), str(s, "state"), stop);
}

/* The documented exit code for a status document: 4 halted or failed,
 * else 1 degraded, else 0. */
int ctl_status_open(const char *cmd, const char *key, const char *roster, const char *tmo,
                    int *timeout_ms, stg_roster_t **r, stg_seckey_t **k) {
    *r = NULL;
    *k = NULL;
    if (!key || !roster) {
        ctl_err("%s needs --key and --roster; see 'staggerctl %s --help'", cmd, cmd);
        return CTL_USAGE;
    }
    *timeout_ms = tmo ? atoi(tmo) : 2000;
    if (*timeout_ms <= 0) {
        ctl_err("--timeout-ms %s: must be a positive number of milliseconds", tmo);
        return CTL_USAGE;
    }
    if (!(*r = ctl_roster_new())) return CTL_SYSTEM;
    int rc;
    if ((rc = ctl_open_roster(roster, NULL, *r, NULL, NULL)) != CTL_OK ||
        (rc = ctl_load_key(key, k)) != CTL_OK) {
        free(*r);
        *r = NULL;
        /* Exit 1 means degraded here: a roster that does not verify is a
         * bad file. */
        return rc == CTL_REFUSED ? CTL_SYSTEM : rc;
    }
    return CTL_OK;
}

int ctl_status_exit(json_t *st) {
    json_t *ro = json_object_get(st, "rollout");
    if (json_is_true(json_object_get(ro, "halted")) || update_failed(st) || two_forgers(st) ||
        forked(st))
        return CTL_HALTED;
    const char *state = json_string_value(json_object_get(json_object_get(st, "summary"), "state"));
    return state && strcmp(state, "healthy") == 0 ? CTL_OK : 1;
}

static int run_status(const ctl_cmd_t *self, int argc, char **argv) {
    const char *key = NULL, *roster = NULL, *peer = NULL, *tmo = NULL;
    bool json = false;
    const ctl_opt_t opts[] = {{"key", 'k', &key, NULL},
                              {"roster", 'r', &roster, NULL},
                              {"peer", 'p', &peer, NULL},
                              {"timeout-ms", 't', &tmo, NULL},
                              {"json", 'j', NULL, &json},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, NULL, 0, &rc)) return rc;
    int timeout_ms;
    stg_roster_t *r;
    stg_seckey_t *k;
    if ((rc = ctl_status_open("status", key, roster, tmo, &timeout_ms, &r, &k)) != CTL_OK)
        return rc;
    char *text = ctl_ask_status(r, peer, k, timeout_ms, &rc);
    stg_seckey_destroy(&k);
    free(r);
    /* An error-rep: that peer would not give a status, so none was had. */
    if (!text) return rc == CTL_REFUSED ? CTL_UNREACHABLE : rc;
    json_error_t err;
    json_t *st = json_loads(text, 0, &err);
    if (!st) {
        ctl_err("the peer answered with invalid JSON: %s", err.text);
        free(text);
        return CTL_SYSTEM;
    }
    if (json) printf("%s\n", text);
    else ctl_print_status(stdout, st);
    rc = ctl_status_exit(st);
    json_decref(st);
    free(text);
    return rc;
}

const ctl_cmd_t ctl_status_cmd = {
    .name = "status",
    .summary = "ask one peer for its view of the whole fleet",
    .usage = "status --key KEY --roster ROSTER.signed [--peer NAME|ENDPOINT] [--json] "
             "[--timeout-ms N]",
    .text = "Connects to one staggerd (the member named by --peer, or each member in turn\n"
            "until one answers) with an operator or observer key of the roster, and prints\n"
            "its view: one row per member with role, flavour, running version, health,\n"
            "update phase, time since last heard and incarnation, then a summary.\n"
            "Members that are suspected, dead or rebooting (a planned reboot they\n"
            "announced: a line says so) show health \"unknown\".\n"
            "VERSION and HEALTH are the primary component's; a member that manages\n"
            "more (the OS, stagger itself) has a line under its row with each one's\n"
            "version and health, and each of those components' rollouts follows the\n"
            "primary's (docs/operations.md, \"Components\").\n\n"
            "options:\n"
            "  --key FILE        an operator or observer secret key of the roster\n"
            "  --roster FILE     the signed roster (to find the peer and its key)\n"
            "  --peer X          member name or endpoint to ask (default: first that answers)\n"
            "                    or NAME@tcp://HOST:PORT: that member through a tunnel\n"
            "  --json            print the peer's status document (docs/protocol.md §8)\n"
            "  --timeout-ms N    how long to wait per peer (default 2000)\n"
            "  -h, --help        show this help\n\n"
            "The exit code tells a script the fleet's state. A halted or failed rollout\n"
            "(4) outranks a degraded fleet (1).",
    .exit_codes = "  0  fleet healthy, and the rollout (if any) progressing\n"
                  "  1  degraded: a member unhealthy or unknown\n"
                  "  2  no peer could be reached (or a usage error: bad command line)\n"
                  "  3  file or system error (missing file, bad roster, unsafe key permissions, ...)\n"
                  "  4  rollout halted by an operator, an update failed, two members forge,\n"
                  "     or a version-correlated fork",
    .example = "staggerctl status --key ops.key --roster roster.signed --peer relay1",
    .run = run_status,
};

/* The start every hand-over command shares: --key, --roster, --peer and
 * one signed file, the roster opened, the file read, the key loaded. */
bool ctl_handover_open(const ctl_cmd_t *self, int argc, char **argv, ctl_handover_t *h, int *rc) {
    const char *pos[1], *tmo = NULL;
    memset(h, 0, sizeof *h);
    const ctl_opt_t opts[] = {{"key", 'k', &h->key, NULL},
                              {"roster", 'r', &h->roster, NULL},
                              {"peer", 'p', &h->peer, NULL},
                              {"timeout-ms", 't', &tmo, NULL},
                              {0}};
    if (!ctl_parse(self, argc, argv, opts, pos, 1, rc)) return false;
    h->file = pos[0];
    if (!ctl_set_handover_timeout(tmo)) {
        *rc = CTL_USAGE;
        return false;
    }
    if (!h->key || !h->roster) {
        ctl_err("%s needs --key and --roster; see 'staggerctl %s --help'", self->name, self->name);
        *rc = CTL_USAGE;
        return false;
    }
    h->r = ctl_roster_new();
    *rc = h->r ? CTL_OK : CTL_SYSTEM;
    if (*rc == CTL_OK) *rc = ctl_open_roster(h->roster, NULL, h->r, NULL, NULL);
    if (*rc == CTL_OK) *rc = ctl_read(h->file, CTL_SIGNED_MAX, &h->env, &h->elen);
    if (*rc == CTL_OK) *rc = ctl_load_key(h->key, &h->k);
    if (*rc != CTL_OK) ctl_handover_free(h);
    return *rc == CTL_OK;
}

void ctl_handover_free(ctl_handover_t *h) {
    stg_seckey_destroy(&h->k);
    free(h->env);
    free(h->r);
    h->env = NULL;
    h->r = NULL;
}

static int run_publish(const ctl_cmd_t *self, int argc, char **argv) {
    ctl_handover_t h;
    int rc;
    if (!ctl_handover_open(self, argc, argv, &h, &rc)) return rc;
    stg_roster_t *next = ctl_roster_new();
    stg_diag_t d = {0};
    rc = next ? CTL_OK : CTL_SYSTEM;
    /* Check it here as the peers will: a higher serial signed by a current operator. */
    if (rc == CTL_OK && stg_roster_open(h.env, h.elen, h.r, next, &d) != 0)
        rc = ctl_refused(h.file, "roster", &d);
    ctl_reply_t rep = {0};
    if (rc == CTL_OK) rc = ctl_hand_over(h.r, h.peer, h.k, STG_MSG_ROSTER, h.env, h.elen, &rep);
    if (rc == CTL_OK && rep.type == STG_MSG_OK_REP && ctl_taken(&rep)) {
        printf("%s: roster serial %lld accepted by %s (%s); it floods to the fleet from there\n",
               h.file, (long long)next->serial, rep.peer, rep.text);
    } else if (rc == CTL_OK) {
        if (rep.type == STG_MSG_ERROR_REP) ctl_print_refusal(h.file, &rep);
        else if (rep.code == STG_OUTCOME_PENDING) ctl_print_pending(h.file, &rep);
        else ctl_err("%s: %s did not take it: %s", h.file, rep.peer, rep.text);
        rc = CTL_REFUSED;
    }
    free(rep.text);
    free(next);
    ctl_handover_free(&h);
    return rc;
}

const ctl_cmd_t ctl_roster_publish_cmd = {
    .name = "roster publish",
    .summary = "hand a newer signed roster to a running peer",
    .usage = "roster publish --key KEY --roster CURRENT.signed [--peer NAME] [--timeout-ms N] NEW.signed",
    .text = "Checks NEW.signed against the current roster (higher serial, signed by a\n"
            "current operator), then gives it to one peer, which floods it to every member.\n"
            "The peer answers accepted, or refused with the reason it counted (e.g.\n"
            "REPLAY, STALE, UNKNOWN_SIGNER), which is printed; refused exits 1, and so\n"
            "does pending (the peer took it but could not write it to its disk).\n\n"
            "options:\n"
            "  --key FILE      an operator or observer key of the current roster\n"
            "  --roster FILE   the current signed roster\n"
            "  --peer X        member name or endpoint (default: first that answers)\n"
            "                  or NAME@tcp://HOST:PORT: that member through a tunnel\n"
            "  --timeout-ms N  how long to wait for its answer (default 10000)\n"
            "  -h, --help      show this help",
    .example = "staggerctl roster publish --key ops.key --roster roster.signed roster-v4.signed",
    .run = run_publish,
};

static int run_release_publish(const ctl_cmd_t *self, int argc, char **argv) {
    ctl_handover_t h;
    int rc;
    if (!ctl_handover_open(self, argc, argv, &h, &rc)) return rc;
    stg_release_t rel;
    stg_diag_t d = {0};
    /* Check it here as the peers will: signed by an operator of this roster. */
    if (stg_release_open(h.env, h.elen, h.r, &rel, &d) != 0) rc = ctl_refused(h.file, "release", &d);
    ctl_reply_t rep = {0};
    if (rc == CTL_OK) rc = ctl_hand_over(h.r, h.peer, h.k, STG_MSG_RELEASE, h.env, h.elen, &rep);
    if (rc == CTL_OK && rep.type == STG_MSG_OK_REP && ctl_taken(&rep)) {
        printf("%s: release %s %s %s by %s; it spreads to the fleet and rolls out from "
               "there (watch with 'staggerctl status')\n",
               h.file, rel.component, rel.version,
               rep.code == STG_OUTCOME_APPLIED ? "adopted" : "already adopted", rep.peer);
    } else if (rc == CTL_OK) {
        if (rep.type == STG_MSG_ERROR_REP) ctl_print_refusal(h.file, &rep);
        else if (rep.code == STG_OUTCOME_PENDING) ctl_print_pending(h.file, &rep);
        else ctl_err("%s: %s did not take it: %s", h.file, rep.peer, rep.text);
        rc = CTL_REFUSED;
    }
    free(rep.text);
    ctl_handover_free(&h);
    return rc;
}

const ctl_cmd_t ctl_release_publish_cmd = {
    .name = "release publish",
    .summary = "hand a signed release to a running peer: the fleet rolls it out",
    .usage = "release publish --key KEY --roster ROSTER.signed [--peer NAME] [--timeout-ms N] RELEASE.signed",
    .text = "Checks RELEASE.signed against the roster (signed by one of its operators), then\n"
            "gives it to one peer. The peer adopts it when it is the newest release of its\n"
            "component, floods it to every member, and the staggered rollout begins: one or\n"
            "two members at a time, the holdback pair last, after the proof.\n"
            "The peer answers accepted, or refused with the reason it counted (e.g.\n"
            "REPLAY, STALE, UNKNOWN_SIGNER), which is printed; refused exits 1, and so\n"
            "does pending (the peer took it but could not write it to its disk).\n\n"
            "options:\n"
            "  --key FILE      an operator or observer key of the roster\n"
            "  --roster FILE   the signed roster\n"
            "  --peer X        member name or endpoint (default: first that answers)\n"
            "                  or NAME@tcp://HOST:PORT: that member through a tunnel\n"
            "  --timeout-ms N  how long to wait for its answer (default 10000)\n"
            "  -h, --help      show this help",
    .example = "staggerctl release publish --key ops.key --roster roster.signed --peer relay1 "
               "cardano-node-10.5.2.signed",
    .run = run_release_publish,
};
