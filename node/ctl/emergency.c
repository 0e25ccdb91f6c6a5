/* emergency.c: staggerctl emergency ACTION and emergency send: operator-
 * signed commands that override the staggering (update or roll back now,
 * halt, resume, abandon, clear-grants), signed by one or more operators and handed to any
 * peer, which floods them to the fleet in one or two hops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl.h"
#include "stagger/wire.h"

#define CMD_JSON_MAX (STG_CMD_RELEASE_MAX * 2)

/* Split "a,b,c" into a JSON array of strings. */
static json_t *split(const char *list) {
    json_t *a = json_array();
    char *copy = strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t) json_array_append_new(a, json_string(t));
    free(copy);
    return a;
}

static int64_t number(const char *opt, const char *v, int64_t dflt, int *rc) {
    if (!v) return dflt;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < 0) {
        ctl_err("--%s %s: must be a non-negative whole number", opt, v);
        *rc = CTL_USAGE;
    }
    return x;
}

static int send_signed(const stg_roster_t *r, const char *peer, const stg_seckey_t *k,
                       const uint8_t *env, size_t elen, const char *what) {
    stg_command_t *cmd = malloc(sizeof *cmd);
    stg_diag_t d = {0};
    unsigned nsig = 0;
    int rc = CTL_OK;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* Check it as the peers will, so an under-signed or expired command is
     * caught here, with the reason, rather than counted over there. */
    if (!cmd) return CTL_SYSTEM;
    if (stg_command_open(env, elen, r, (int64_t)now.tv_sec * 1000, cmd, &nsig, &d) != 0) {
        rc = ctl_refused(what, "command", &d);
        if (d.reason == STG_REJECT_TOO_FEW_SIGNATURES)
            ctl_err("collect more operator signatures with 'staggerctl sign-add --key OP.key "
                    "--roster ROSTER %s'",
                    what);
        free(cmd);
        return rc;
    }
    int64_t seq = cmd->seq;
    free(cmd);
    ctl_reply_t rep;
    if ((rc = ctl_hand_over(r, peer, k, STG_MSG_COMMAND, env, elen, &rep)) != CTL_OK) return rc;
    if (rep.type == STG_MSG_OK_REP && rep.code == STG_OUTCOME_APPLIED) {
        printf("%s: command %lld applied by %s; it floods to every reachable peer, and the "
               "others apply it when they come back (see 'staggerctl status')\n",
               what, (long long)seq, rep.peer);
    } else {
        char label[96];
        snprintf(label, sizeof label, "%s command %lld", what, (long long)seq);
        if (rep.type == STG_MSG_ERROR_REP) ctl_print_refusal(label, &rep);
        else if (rep.code == STG_OUTCOME_PENDING) ctl_print_pending(label, &rep);
        else ctl_err("%s: %s did not apply it: %s", label, rep.peer, rep.text);
        /* The reason, not the prose, says it was a replay. */
        if (rep.type == STG_MSG_ERROR_REP && rep.code == STG_REJECT_REPLAY)
            ctl_err("%s: a command is applied once per sequence: a replay changes nothing; "
                    "to act again, sign a new command (the default --seq is the time)",
                    label);
        rc = CTL_REFUSED;
    }
    free(rep.text);
    return rc;
}

static int run_action(const ctl_cmd_t *self, int argc, char **argv) {
    const char *keys = NULL, *roster = NULL, *peer = NULL, *targets = NULL, *spacing = NULL,
               *release = NULL, *seqs = NULL, *expires = NULL, *reason = NULL, *out = NULL,
               *mode = NULL, *tmo = NULL;
    bool holdback = false, force = false;
    const ctl_opt_t opts[] = {{"key", 'k', &keys, NULL},
                              {"roster", 'r', &roster, NULL},
                              {"peer", 'p', &peer, NULL},
                              {"targets", 't', &targets, NULL},
                              {"include-holdback", 0, NULL, &holdback},
                              {"spacing-s", 0, &spacing, NULL},
                              {"spacing", 0, &mode, NULL},
                              {"force", 0, NULL, &force},
                              {"release", 0, &release, NULL},
                              {"seq", 0, &seqs, NULL},
                              {"expires-in-s", 0, &expires, NULL},
                              {"reason", 0, &reason, NULL},
                              {"out", 'o', &out, NULL},
                              {"timeout-ms", 0, &tmo, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, NULL, 0, &rc)) return rc;
    if (!ctl_set_handover_timeout(tmo)) return CTL_USAGE;
    const char *action = strchr(self->name, ' ') + 1;
    bool upd = strcmp(action, "update") == 0;
    if (!keys || !roster) {
        ctl_err("emergency %s needs --key and --roster; see 'staggerctl emergency %s --help'",
                action, action);
        return CTL_USAGE;
    }
    if (upd != (release != NULL)) {
        ctl_err(upd ? "emergency update needs --release RELEASE.signed"
                    : "--release goes with emergency update only");
        return CTL_USAGE;
    }
    if (strcmp(action, "promote") == 0 && (!targets || strchr(targets, ','))) {
        ctl_err("emergency promote needs --targets NAME: the one standby that becomes the "
                "producer (the producer becomes the standby)");
        return CTL_USAGE;
    }
    if (strcmp(action, "clear-grants") == 0 && !targets) {
        ctl_err("emergency clear-grants needs --targets NAME[,NAME...]: the members whose "
                "grants it clears");
        return CTL_USAGE;
    }
    if (!upd && (holdback || spacing || mode || force)) {
        ctl_err("--include-holdback, --spacing, --spacing-s and --force go with emergency "
                "update only");
        return CTL_USAGE;
    }
    /* --spacing health, or --spacing N as --spacing-s N. */
    bool after_healthy = mode && strcmp(mode, "health") == 0;
    if (mode && !after_healthy) {
        if (spacing) {
            ctl_err("--spacing %s and --spacing-s %s: give one", mode, spacing);
            return CTL_USAGE;
        }
        spacing = mode;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rc = CTL_OK;
    /* The sequence defaults to the time in ms: increasing without the
     * operators having to agree on a counter. */
    int64_t seq = number("seq", seqs, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &rc);
    int64_t ttl = number("expires-in-s", expires, 3600, &rc);
    int64_t space = number("spacing-s", spacing, 0, &rc);
    if (rc != CTL_OK) return rc;

    stg_roster_t *r = ctl_roster_new();
    if (!r) return CTL_SYSTEM;
    if ((rc = ctl_open_roster(roster, NULL, r, NULL, NULL)) != CTL_OK) {
        free(r);
        return rc;
    }
    json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:s}", "fleet", r->fleet, "seq",
                            (json_int_t)seq, "issued_at", (json_int_t)now.tv_sec, "expires_at",
                            (json_int_t)(now.tv_sec + ttl), "action", action);
    if (reason) json_object_set_new(doc, "reason", json_string(reason));
    if (targets) json_object_set_new(doc, "targets", split(targets));
    if (upd) {
        uint8_t *renv;
        size_t rlen;
        if ((rc = ctl_read(release, STG_CMD_RELEASE_MAX, &renv, &rlen)) != CTL_OK) {
            json_decref(doc);
            free(r);
            return rc;
        }
        size_t cap = sodium_base64_encoded_len(rlen, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        sodium_bin2base64(b64, cap, renv, rlen, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(doc, "release", json_string(b64));
        free(b64);
        free(renv);
        if (holdback) json_object_set_new(doc, "include_holdback", json_true());
        if (spacing) json_object_set_new(doc, "spacing_s", json_integer(space));
        if (after_healthy) json_object_set_new(doc, "after_healthy", json_true());
        if (force) json_object_set_new(doc, "force", json_true());
    }
    char *payload = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    /* Sign with every key given, in order. */
    uint8_t *env = malloc(CTL_SIGNED_MAX);
    size_t elen = 0;
    stg_seckey_t *first = NULL;
    char *klist = strdup(keys), *save = NULL;
    for (char *kp = strtok_r(klist, ",", &save); kp && rc == CTL_OK; kp = strtok_r(NULL, ",", &save)) {
        stg_seckey_t *k = NULL;
        if ((rc = ctl_load_key(kp, &k)) != CTL_OK) break;
        stg_diag_t d = {0};
        if (!ctl_is_operator(r, &k->pub)) {
            ctl_err("%s: not an operator key of fleet %s; emergency commands need operator "
                    "signatures",
                    kp, r->fleet);
            rc = CTL_REFUSED;
        } else if (elen == 0) {
            if (stg_envelope_seal(STG_DOC_COMMAND, (const uint8_t *)payload, strlen(payload), k,
                                  env, CTL_SIGNED_MAX, &elen) != 0) {
                ctl_err("cannot sign the command (too large?)");
                rc = CTL_SYSTEM;
            }
        } else if (stg_envelope_cosign(env, &elen, CTL_SIGNED_MAX, k, &d) != 0) {
            rc = ctl_refused(kp, "signature", &d);
        }
        if (!first && rc == CTL_OK) first = k;
        else stg_seckey_destroy(&k);
    }
    free(klist);
    free(payload);
    if (rc == CTL_OK && out) {
        rc = ctl_write(out, env, elen);
        if (rc == CTL_OK)
            printf("%s: %s command %lld signed by %u of the %u operator(s) needed; add more with "
                   "'staggerctl sign-add --key OP.key --roster %s %s', send with 'staggerctl "
                   "emergency send'\n",
                   out, action, (long long)seq, env[5], r->emergency_quorum, roster, out);
    } else if (rc == CTL_OK) {
        rc = send_signed(r, peer, first, env, elen, action);
    }
    stg_seckey_destroy(&first);
    free(env);
    free(r);
    return rc;
}

static int run_send(const ctl_cmd_t *self, int argc, char **argv) {
    ctl_handover_t h;
    int rc;
    if (!ctl_handover_open(self, argc, argv, &h, &rc)) return rc;
    rc = send_signed(h.r, h.peer, h.k, h.env, h.elen, h.file);
    ctl_handover_free(&h);
    return rc;
}

#define COMMON_OPTS                                                                        \
    "  --key K1[,K2...]     operator secret key(s); each signs (the roster's\n"            \
    "                       emergency_quorum of distinct operators is needed)\n"           \
    "  --roster FILE        the signed roster\n"                                            \
    "  --peer X             member name or endpoint to hand it to (default: first that\n"  \
    "                       answers), or NAME@tcp://HOST:PORT: that member through a\n"   \
    "                       tunnel; it floods to every reachable peer at once\n"            \
    "  --targets a,b        only these members (default: all)\n"                            \
    "  --reason TEXT        kept in every peer's audit log and shown in status\n"          \
    "  --seq N              sequence (default: now in ms); a peer applies each once\n"     \
    "  --expires-in-s N     validity (default 3600, at most 7 days)\n"                      \
    "  --out FILE           write the signed command instead of sending it (to collect\n"  \
    "                       more signatures with sign-add, then 'emergency send')\n"    \
    "  --timeout-ms N       how long to wait for the peer's answer (default 10000)\n"    \
    "  -h, --help           show this help"

#define ACTION(var, word, summ, what)                                                      \
    const ctl_cmd_t var = {                                                                \
        .name = "emergency " word,                                                         \
        .summary = summ,                                                                   \
        .usage = "emergency " word " --key K[,K2] --roster ROSTER [--peer X] "             \
                 "[--targets a,b] [--reason TEXT] [--out FILE]",                            \
        .text = what "\n\noptions:\n" COMMON_OPTS,                                          \
        .example = "staggerctl emergency " word " --key ops.key --roster roster.signed "   \
                   "--reason 'fork on 10.5.3'",                                             \
        .run = run_action,                                                                  \
    }

const ctl_cmd_t ctl_emergency_update_cmd = {
    .name = "emergency update",
    .summary = "update now, ignoring waves and soak (operator override)",
    .usage = "emergency update --key K[,K2] --roster ROSTER --release RELEASE.signed [--peer X] "
             "[--targets a,b] [--include-holdback] [--spacing health|N] [--force] [--reason TEXT] "
             "[--out FILE]",
    .text = "Every targeted member installs the release at once, ignoring slots, waves\n"
            "and soak: for a same-day fix or a hard-fork deadline. Each still asks its\n"
            "gate hook first (the producer's leader slots and epoch boundary) unless\n"
            "--force is given. The holdback pair stays on its version unless\n"
            "--include-holdback is given.\n\n"
            "options:\n"
            "  --release FILE       the signed release to install\n"
            "  --include-holdback   update the holdback pair too\n"
            "  --spacing health     start each target only once every target before it\n"
            "                       (rollout order) runs the release, healthy: one node\n"
            "                       restarting at a time, a broken version stops at the first\n"
            "  --spacing N, --spacing-s N\n"
            "                       start the targets N seconds apart, in rollout order,\n"
            "                       so not every relay restarts at the same moment\n"
            "  --force              skip the gate hook (the producer's leader-slot and epoch\n"
            "                       checks): for a hard-fork deadline; recorded in every\n"
            "                       member's audit log\n" COMMON_OPTS,
    .example = "staggerctl emergency update --key ops.key --roster roster.signed "
               "--release cardano-node-10.5.4.signed --spacing health",
    .run = run_action,
};
ACTION(ctl_emergency_rollback_cmd, "rollback", "roll back to the previous version, everywhere, now",
       "Every targeted member that runs (or is installing) the current release runs its\n"
       "rollback hook now; the release is abandoned: no member updates to it again.");
ACTION(ctl_emergency_halt_cmd, "halt", "stop the rollout: no new slots",
       "No member starts a new update; updates under way finish or roll back.");
ACTION(ctl_emergency_resume_cmd, "resume", "undo a halt; retry a failed release",
       "Lift a halt. A release that failed is tried again: each member that rolled\n"
       "back leaves its failure when it applies this command and is eligible again;\n"
       "one whose rollback failed runs the rollback hook again.");
ACTION(ctl_emergency_abandon_cmd, "abandon", "forget the current release",
       "The fleet stops rolling out the current release (failed or not); members keep\n"
       "what they run. A newer release can be published afterwards.");

const ctl_cmd_t ctl_emergency_clear_grants_cmd = {
    .name = "emergency clear-grants",
    .summary = "free the slots granted to named members",
    .usage = "emergency clear-grants --key K[,K2] --roster ROSTER --targets a,b [--peer X] "
             "[--reason TEXT] [--out FILE]",
    .text = "Every member frees the vote grants it holds for the --targets (required), and a\n"
            "target gives up an election it has open. The way out of a rollout that waits on\n"
            "'slot is held' for a member that is not updating. A target already installing\n"
            "or soaking is not stopped: halt first if you mean to stop it.\n\n"
            "options:\n" COMMON_OPTS,
    .example = "staggerctl emergency clear-grants --key ops.key --roster roster.signed "
               "--targets relay4 --reason 'grant leaked after a crash'",
    .run = run_action,
};

const ctl_cmd_t ctl_emergency_promote_cmd = {
    .name = "emergency promote",
    .summary = "fail over: the standby becomes the producer, the producer the standby",
    .usage = "emergency promote --key K[,K2] --roster ROSTER --targets STANDBY [--peer X] "
             "[--reason TEXT] [--out FILE]",
    .text = "Every member swaps the roles of the producer and the standby named by\n"
            "--targets, without a new roster: the rollout order (stages) and the\n"
            "holdback pair follow the new roles, the hooks get the new STAGGER_ROLE, and a\n"
            "rollout under way goes on. Move the keys first: the old producer must stop\n"
            "forging before the standby starts (two forgers halt every update). Promote\n"
            "the other one to swap back; a newer signed roster states the roles itself.\n\n"
            "options:\n" COMMON_OPTS,
    .example = "staggerctl emergency promote --key ops.key --roster roster.signed "
               "--targets standby --reason 'bp host failing'",
    .run = run_action,
};

const ctl_cmd_t ctl_emergency_send_cmd = {
    .name = "emergency send",
    .summary = "hand a signed command file (from --out and sign-add) to a peer",
    .usage = "emergency send --key KEY --roster ROSTER [--peer X] [--timeout-ms N] COMMAND.signed",
    .text = "Checks the command as the peers will (quorum, fleet, expiry), then gives it\n"
            "to one peer, which floods it to every reachable member.\n"
            "The peer answers accepted, or refused with the reason it counted (e.g.\n"
            "REPLAY, STALE, UNKNOWN_SIGNER), which is printed; refused exits 1, and so\n"
            "does pending (the peer took it but could not write it to its disk).\n\n"
            "options:\n"
            "  --key FILE      an operator or observer key (for the connection)\n"
            "  --roster FILE   the signed roster\n"
            "  --peer X        member name or endpoint (default: first that answers)\n"
            "                  or NAME@tcp://HOST:PORT: that member through a tunnel\n"
            "  --timeout-ms N  how long to wait for its answer (default 10000)\n"
            "  -h, --help      show this help",
    .example = "staggerctl emergency send --key ops.key --roster roster.signed halt.signed",
    .run = run_send,
};
