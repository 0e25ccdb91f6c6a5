/* command.c: operator-signed emergency commands: strict decode, and the
 * checks every receiver makes before applying one (quorum of operator
 * signatures, fleet, freshness). Replays are the receiver's to refuse: it
 * alone knows the highest sequence it applied. */
#include <string.h>

#include <sodium.h>

#include "stagger/doc.h"

#define TIME_MAX_S ((int64_t)1 << 40)
#define SKEW_S 300

static const char *const cmd_names[] = {
#define X(name, text, needs) text,
    STG_CMD_MAP(X)
#undef X
};

static const stg_caps_t cmd_needs[] = {
#define X(name, text, needs) needs,
    STG_CMD_MAP(X)
#undef X
};

const char *stg_cmd_name(stg_cmd_action_t a) {
    return (unsigned)a < STG_CMD__COUNT ? cmd_names[a] : "unknown";
}

stg_caps_t stg_cmd_needs(stg_cmd_action_t a) {
    return (unsigned)a < STG_CMD__COUNT ? cmd_needs[a] : 0;
}

static const char *const CMD_FIELDS[] = {"fleet", "seq", "issued_at", "expires_at", "action",
                                         "targets", "include_holdback", "spacing_s", "reason",
                                         "release", "after_healthy", "force", NULL};

static int command(json_t *root, void *out, stg_diag_t *d) {
    stg_command_t *c = out;
    char action[16] = "";
    int rc;
    if ((rc = stg_json_only(root, "", CMD_FIELDS, d)) < 0 ||
        (rc = stg_json_name(root, "", "fleet", true, c->fleet, d)) < 0 ||
        (rc = stg_json_int(root, "", "seq", true, 1, ((int64_t)1 << 53) - 1, &c->seq, d)) < 0 ||
        (rc = stg_json_int(root, "", "issued_at", true, 0, TIME_MAX_S, &c->issued_at_s, d)) < 0 ||
        (rc = stg_json_int(root, "", "expires_at", true, c->issued_at_s + 1, TIME_MAX_S,
                           &c->expires_at_s, d)) < 0 ||
        (rc = stg_json_str(root, "", "action", true, action, sizeof action, d)) < 0 ||
        (rc = stg_json_str(root, "", "reason", false, c->reason, sizeof c->reason, d)) < 0)
        return rc;
    c->action = STG_CMD__COUNT;
    for (int i = 0; i < STG_CMD__COUNT; i++)
        if (strcmp(action, cmd_names[i]) == 0) c->action = (stg_cmd_action_t)i;
    if (c->action == STG_CMD__COUNT)
        return stg_diag_set(d, STG_REJECT_BAD_VALUE, "action",
                            "must be update, rollback, halt, resume, abandon, clear-grants or "
                            "promote");
    if (c->expires_at_s - c->issued_at_s > 7 * 86400)
        return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "expires_at",
                            "at most 7 days after issued_at: an emergency command is short-lived");
    json_t *targets;
    if ((rc = stg_json_array(root, "", "targets", false, STG_MEMBERS_MAX, &targets, d)) < 0)
        return rc;
    for (size_t i = 0; targets && i < json_array_size(targets); i++) {
        stg_path_t p;
        stg_path_idx(&p, "targets", i);
        if ((rc = stg_json_elem_str(targets, "targets", i, c->targets[i], sizeof c->targets[i],
                                    d)) < 0 ||
            (rc = stg_name_check(p.s, c->targets[i], d)) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->targets[i], c->targets[j]) == 0)
                return stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, p.s, "\"%s\" is listed twice",
                                    c->targets[i]);
        c->ntargets++;
    }
    if (c->action == STG_CMD_CLEAR_GRANTS && c->ntargets == 0)
        return stg_diag_set(d, targets ? STG_REJECT_BAD_VALUE : STG_REJECT_MISSING_FIELD,
                            "targets", "clear-grants names the members whose grants it clears");
    if (c->action == STG_CMD_PROMOTE && c->ntargets != 1)
        return stg_diag_set(d, targets ? STG_REJECT_BAD_VALUE : STG_REJECT_MISSING_FIELD,
                            "targets", "promote names exactly one member: the standby that "
                            "becomes the producer");
    bool upd = c->action == STG_CMD_UPDATE;
    if ((rc = stg_json_bool(root, "", "include_holdback", false, &c->include_holdback, d)) < 0 ||
        (rc = stg_json_int(root, "", "spacing_s", false, 0, 3600, &c->spacing_s, d)) < 0 ||
        (rc = stg_json_bool(root, "", "after_healthy", false, &c->after_healthy, d)) < 0 ||
        (rc = stg_json_bool(root, "", "force", false, &c->force, d)) < 0)
        return rc;
    static const char *const UPDATE_ONLY[] = {"include_holdback", "spacing_s", "after_healthy",
                                              "force"};
    for (size_t i = 0; !upd && i < sizeof UPDATE_ONLY / sizeof UPDATE_ONLY[0]; i++)
        if (json_object_get(root, UPDATE_ONLY[i]))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, UPDATE_ONLY[i],
                                "only an update takes this");
    json_t *rel = json_object_get(root, "release");
    if (upd != (rel != NULL))
        return stg_diag_set(d, upd ? STG_REJECT_MISSING_FIELD : STG_REJECT_BAD_VALUE, "release",
                            upd ? "an update carries the signed release (base64 of the file "
                                  "'staggerctl release sign' wrote)"
                                : "only an update carries a release");
    if (rel) {
        const char *b64 = json_string_value(rel);
        if (!b64)
            return stg_diag_set(d, STG_REJECT_WRONG_TYPE, "release", "must be a base64 string");
        if (sodium_base642bin(c->release, sizeof c->release, b64, strlen(b64), NULL,
                              &c->release_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            c->release_len == 0)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "release",
                                "not base64 of a signed release of at most %d bytes",
                                STG_CMD_RELEASE_MAX);
    }
    return 0;
}

int stg_command_decode(const uint8_t *json, size_t len, stg_command_t *cmd, stg_diag_t *d) {
    return stg_json_decode(json, len, command, cmd, sizeof *cmd, d);
}

int stg_command_open(const uint8_t *buf, size_t len, const stg_roster_t *r, int64_t now_ms,
                     stg_command_t *cmd, unsigned *nsigners, stg_diag_t *d) {
    memset(cmd, 0, sizeof *cmd);
    stg_envelope_t env;
    int rc = stg_envelope_parse(buf, len, &env, d);
    if (rc < 0) return rc;
    if (env.type != STG_DOC_COMMAND)
        return stg_diag_set(d, STG_REJECT_WRONG_TYPE_DOC, "envelope",
                            "holds a %s, expected a command", stg_doc_name(env.type));
    if ((rc = stg_envelope_verify(&env, r->operators, r->noperators, r->emergency_quorum, NULL,
                                  d)) < 0)
        return rc;
    if ((rc = stg_command_decode(env.payload, env.payload_len, cmd, d)) < 0) return rc;
    if (nsigners) *nsigners = env.nsig;
    if (strcmp(cmd->fleet, r->fleet) != 0)
        return stg_diag_set(d, STG_REJECT_WRONG_FLEET, "fleet", "\"%s\", this is fleet \"%s\"",
                            cmd->fleet, r->fleet);
    if (now_ms >= cmd->expires_at_s * 1000)
        return stg_diag_set(d, STG_REJECT_EXPIRED, "expires_at",
                            "the command expired %llds ago",
                            (long long)(now_ms / 1000 - cmd->expires_at_s));
    if (cmd->issued_at_s * 1000 > now_ms + SKEW_S * 1000)
        return stg_diag_set(d, STG_REJECT_NOT_YET, "issued_at",
                            "issued %llds in the future: check the clocks",
                            (long long)(cmd->issued_at_s - now_ms / 1000));
    for (unsigned i = 0; i < cmd->ntargets; i++)
        if (stg_roster_find_name(r, cmd->targets[i]) < 0)
            return stg_diag_set(d, STG_REJECT_UNKNOWN_MEMBER, "targets",
                                "\"%s\" is not a member of fleet %s", cmd->targets[i], r->fleet);
    if (cmd->action == STG_CMD_UPDATE) {
        stg_release_t rel;
        stg_diag_t rd = {0};
        if (stg_release_open(cmd->release, cmd->release_len, r, &rel, &rd) < 0)
            return stg_diag_set(d, rd.reason, "release", "the embedded release: %s", rd.msg);
    }
    return 0;
}

bool stg_command_targets(const stg_command_t *cmd, const char *name) {
    if (cmd->ntargets == 0) return true;
    for (unsigned i = 0; i < cmd->ntargets; i++)
        if (strcmp(cmd->targets[i], name) == 0) return true;
    return false;
}
