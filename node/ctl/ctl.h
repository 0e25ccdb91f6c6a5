/* ctl.h: what the staggerctl sub-commands share: exit codes, the command
 * table entry, option parsing and file helpers that print their own errors.
 *
 * Every helper that can fail prints one line to stderr, "staggerctl: FILE:
 * what happened; what to do", and returns the exit code to use, so a
 * sub-command only passes the code up. */
#ifndef STAGGER_CTL_H
#define STAGGER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "stagger/doc.h"
#include "stagger/keyfile.h"

/* The exit codes every sub-command documents and uses. status gives 1 and
 * 2 its own meanings and adds 4 (see its exit_codes). */
enum {
    CTL_OK = 0,          /* success */
    CTL_REFUSED = 1,     /* the document or signature was refused */
    CTL_USAGE = 2,       /* bad command line */
    CTL_UNREACHABLE = 2, /* no peer answered (commands that talk to one) */
    CTL_SYSTEM = 3,      /* file or system error (including unsafe key modes) */
    CTL_HALTED = 4,      /* status: the rollout is halted or an update failed */
};

typedef struct ctl_cmd {
    const char *name;    /* "roster sign": the words that select it */
    const char *summary; /* one line for the command list */
    const char *usage;   /* after "usage: staggerctl " */
    const char *text;    /* what it does, then its options */
    const char *example;
    /* The command's own exit-code lines, or NULL for the common table. */
    const char *exit_codes;
    /* argv[0] is the last word of the name; options follow in any order. */
    int (*run)(const struct ctl_cmd *self, int argc, char **argv);
} ctl_cmd_t;

extern const ctl_cmd_t ctl_keygen_cmd;
extern const ctl_cmd_t ctl_roster_sign_cmd, ctl_roster_verify_cmd;
extern const ctl_cmd_t ctl_release_sign_cmd, ctl_release_verify_cmd;
extern const ctl_cmd_t ctl_sign_add_cmd;
extern const ctl_cmd_t ctl_status_cmd, ctl_roster_publish_cmd, ctl_release_publish_cmd;
extern const ctl_cmd_t ctl_watch_cmd;
extern const ctl_cmd_t ctl_emergency_update_cmd, ctl_emergency_rollback_cmd, ctl_emergency_halt_cmd,
    ctl_emergency_resume_cmd, ctl_emergency_abandon_cmd, ctl_emergency_clear_grants_cmd, ctl_emergency_promote_cmd,
    ctl_emergency_send_cmd;

/* "staggerctl: " + message + newline, on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The common exit code table of --help (a command may have its own). */
void ctl_print_exit_codes(void);
void ctl_print_help(const ctl_cmd_t *cmd);

/* One option: a flag (value == NULL) or an option with a value. */
typedef struct {
    const char *name; /* long name without "--" */
    char letter;      /* short form, or 0 */
    const char **value;
    bool *flag;
} ctl_opt_t;

/* Parse argv[1..]: options (terminated by a zeroed entry) anywhere,
 * "--" ends them, exactly npos positional arguments into pos[].
 * Returns true to go on; false when the command is finished, with *rc set
 * (CTL_OK after --help, CTL_USAGE after a message). */
bool ctl_parse(const ctl_cmd_t *cmd, int argc, char **argv, const ctl_opt_t *opts,
               const char **pos, int npos, int *rc);

/* Read a whole file of at most max bytes. Caller owns *buf (free()). */
int ctl_read(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Write atomically, mode 0644. */
int ctl_write(const char *path, const uint8_t *buf, size_t len);
/* Load a secret key (refuses unsafe modes). Caller owns *k
 * (stg_seckey_destroy). */
int ctl_load_key(const char *path, stg_seckey_t **k);

/* Read and open a signed roster; current may be NULL. When buf is not NULL
 * the caller gets the file's bytes and owns them (free()). */
int ctl_open_roster(const char *path, const stg_roster_t *current, stg_roster_t *r,
                    uint8_t **buf, size_t *len);
/* Print "staggerctl: PATH: WHAT refused: <diag>" and return CTL_REFUSED. */
int ctl_refused(const char *path, const char *what, const stg_diag_t *d);
/* Caller owns the result (free()); NULL after printing an error. */
stg_roster_t *ctl_roster_new(void);

bool ctl_is_operator(const stg_roster_t *r, const stg_pubkey_t *k);
/* "AbCdEfGh..., IjKlMnOp..." for the signers of an envelope in buf. */
void ctl_signers(const uint8_t *buf, size_t len, char *out, size_t cap);

/* The output file for a signed document: in with ".json" replaced by
 * ".signed", or in + ".signed". */
int ctl_default_out(const char *in, char *out, size_t cap);

/* A peer's answer to a client request (docs/protocol.md §7.9). */
typedef struct {
    int type;         /* STG_MSG_STATUS_REP, STG_MSG_OK_REP or STG_MSG_ERROR_REP */
    int code;         /* ok-rep: stg_outcome_t; error-rep: stg_reject_t */
    char *text;       /* status JSON or the reply's text; caller frees */
    const char *peer; /* the member that answered; borrowed from the roster */
} ctl_reply_t;

/* Send one frame to --peer (a member name or endpoint; NULL: each member in
 * turn until one answers) with key and decode its reply into out; resend_ms
 * > 0 (status-req only) sends it again after each resend_ms of silence. Returns
 * CTL_OK, or the exit code after printing why: CTL_UNREACHABLE when no peer answered,
 * CTL_USAGE for a bad --peer. */
int ctl_request(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                const uint8_t *frame, size_t flen, int timeout_ms, int resend_ms,
                ctl_reply_t *out);
/* Hand a signed document over in a wire message of type msg_type (roster,
 * release, command): CTL_OK with out an ok-rep or an error-rep, else as
 * ctl_request. */
/* How long a hand-over (release, roster, command) waits for the peer's
 * answer: --timeout-ms, default CTL_HANDOVER_TIMEOUT_MS. A peer answers
 * after it has applied and written what it took, which on a busy machine
 * (an epoch boundary's ledger work, a full CPU) takes seconds. */
#define CTL_HANDOVER_TIMEOUT_MS 10000
extern int ctl_handover_timeout_ms;
/* Take --timeout-ms TEXT (NULL: keep the default); false after printing
 * why it is not a positive number of milliseconds. */
bool ctl_set_handover_timeout(const char *tmo);
int ctl_hand_over(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                  int msg_type, const uint8_t *env, size_t elen, ctl_reply_t *out);
/* The status JSON a peer answers a status-req with (caller frees); NULL
 * after printing why, with *rc CTL_UNREACHABLE when no peer answered,
 * CTL_REFUSED when it refused. */
char *ctl_ask_status(const stg_roster_t *r, const char *peer, const stg_seckey_t *key,
                     int timeout_ms, int *rc);
/* A status document as the table 'staggerctl status' prints. */
void ctl_print_status(FILE *out, json_t *st);
/* What status and watch start from: --key and --roster given, --timeout-ms
 * (default 2000) valid, the roster and key loaded. CTL_OK, or the exit code
 * after printing why (a bad roster is CTL_SYSTEM: 1 means degraded there). */
int ctl_status_open(const char *cmd, const char *key, const char *roster, const char *tmo,
                    int *timeout_ms, stg_roster_t **r, stg_seckey_t **k);
/* Its exit code: 4 halted or failed, else 1 degraded, else 0. */
int ctl_status_exit(json_t *st);
/* "staggerctl: WHAT: PEER refused it: REASON (reason text): detail". */
void ctl_print_refusal(const char *what, const ctl_reply_t *rep);
/* An ok-rep the peer took the document with: applied or held (not
 * not-here, not pending). */
bool ctl_taken(const ctl_reply_t *rep);
/* "staggerctl: WHAT: PEER took it but has not stored it (pending): detail". */
void ctl_print_pending(const char *what, const ctl_reply_t *rep);

/* What a command that hands one signed file to a peer starts from. */
typedef struct {
    const char *key, *roster, *peer, *file; /* from the command line */
    stg_roster_t *r;                        /* the roster, opened */
    stg_seckey_t *k;                        /* the connection's key */
    uint8_t *env;                           /* the file's bytes */
    size_t elen;
} ctl_handover_t;
/* Parse --key, --roster, --peer and one file, open the roster, read the
 * file, load the key. false when the command is finished (help, or an
 * error already printed), with *rc its exit code. Free with
 * ctl_handover_free. */
bool ctl_handover_open(const ctl_cmd_t *self, int argc, char **argv, ctl_handover_t *h, int *rc);
void ctl_handover_free(ctl_handover_t *h);

/* Largest signed document a file may hold. */
#define CTL_SIGNED_MAX (STG_ENV_HEADER + STG_PAYLOAD_MAX + STG_SIG_MAX * STG_ENV_SIG_ENTRY)

#endif
