/* common.c: staggerctl's shared plumbing: help layout, option parsing, and
 * file, key and roster loading that report failures the same way everywhere. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void ctl_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("staggerctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void ctl_print_exit_codes(void) {
    printf("exit codes:\n"
           "  0  success\n"
           "  1  the document or signature was refused (by this command or the peer)\n"
           "  2  usage error (bad command line), or no peer could be reached\n"
           "  3  file or system error (missing file, unsafe key permissions, ...)\n");
}

void ctl_print_help(const ctl_cmd_t *cmd) {
    printf("usage: staggerctl %s\n\n%s\n\n", cmd->usage, cmd->text);
    if (cmd->exit_codes) printf("exit codes:\n%s\n", cmd->exit_codes);
    else ctl_print_exit_codes();
    /* Every help the same shape: each example line indented by two. */
    printf("\nexample:\n");
    for (const char *l = cmd->example; *l;) {
        size_t n = strcspn(l, "\n");
        printf("  %.*s\n", (int)n, l);
        l += n + (l[n] == '\n');
    }
}

static int usage_error(const ctl_cmd_t *cmd, const char *what, const char *arg) {
    ctl_err("%s: %s '%s'; usage: staggerctl %s (see 'staggerctl %s --help')", cmd->name,
            what, arg, cmd->usage, cmd->name);
    return CTL_USAGE;
}

static const ctl_opt_t *find_opt(const ctl_opt_t *opts, const char *arg, size_t *namelen) {
    for (const ctl_opt_t *o = opts; o->name; o++) {
        if (arg[1] == '-') {
            size_t n = strlen(o->name);
            if (strncmp(arg + 2, o->name, n) == 0 && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
                *namelen = 2 + n;
                return o;
            }
        } else if (o->letter && arg[1] == o->letter) {
            *namelen = 2;
            return o;
        }
    }
    return NULL;
}

bool ctl_parse(const ctl_cmd_t *cmd, int argc, char **argv, const ctl_opt_t *opts,
               const char **pos, int npos, int *rc) {
    int got = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            ctl_print_help(cmd);
            *rc = CTL_OK;
            return false;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (got == npos) {
                *rc = usage_error(cmd, "unexpected argument", a);
                return false;
            }
            pos[got++] = a;
            continue;
        }
        size_t n = 0;
        const ctl_opt_t *o = find_opt(opts, a, &n);
        if (!o) {
            *rc = usage_error(cmd, "unknown option", a);
            return false;
        }
        if (!o->value) {
            if (a[n] != '\0') {
                *rc = usage_error(cmd, "option takes no value", a);
                return false;
            }
            *o->flag = true;
            continue;
        }
        /* "--key=F", "-oF", "--key F" and "-o F" all work. */
        const char *v = a[n] == '=' ? a + n + 1 : a[n] ? a + n : NULL;
        if (!v) {
            if (i + 1 == argc) {
                *rc = usage_error(cmd, "missing value for option", a);
                return false;
            }
            v = argv[++i];
        }
        if (*v == '\0') {
            *rc = usage_error(cmd, "empty value for option", a);
            return false;
        }
        *o->value = v;
    }
    if (got < npos) {
        /* Name the argument as the usage line does ("keygen NAME"). */
        const char *last = strrchr(cmd->usage, ' ');
        *rc = usage_error(cmd, "missing argument", npos == 1 && last ? last + 1 : "...");
        return false;
    }
    return true;
}

int ctl_read(const char *path, size_t max, uint8_t **buf, size_t *len) {
    char err[512];
    int rc = stg_file_read(path, max, buf, len, err, sizeof err);
    if (rc == 0) return CTL_OK;
    ctl_err("%s", err);
    /* A file too big to be a document is a refused document, not an I/O
     * problem. */
    return rc == -EFBIG ? CTL_REFUSED : CTL_SYSTEM;
}

int ctl_write(const char *path, const uint8_t *buf, size_t len) {
    int rc = stg_file_write_atomic(path, buf, len, 0644);
    if (rc == 0) return CTL_OK;
    ctl_err("%s: cannot write: %s; check the directory exists and is writable", path,
            stg_strerror(rc));
    return CTL_SYSTEM;
}

int ctl_load_key(const char *path, stg_seckey_t **k) {
    char err[512];
    if (stg_seckey_load(path, k, err, sizeof err) == 0) return CTL_OK;
    ctl_err("%s", err);
    return CTL_SYSTEM;
}

stg_roster_t *ctl_roster_new(void) {
    stg_roster_t *r = calloc(1, sizeof *r);
    if (!r) ctl_err("out of memory");
    return r;
}

int ctl_refused(const char *path, const char *what, const stg_diag_t *d) {
    ctl_err("%s: %s refused: %s", path, what, d->msg);
    return CTL_REFUSED;
}

int ctl_open_roster(const char *path, const stg_roster_t *current, stg_roster_t *r,
                    uint8_t **bufp, size_t *lenp) {
    uint8_t *buf;
    size_t len;
    int rc = ctl_read(path, CTL_SIGNED_MAX, &buf, &len);
    if (rc) return rc;
    stg_diag_t d = {0};
    if (stg_roster_open(buf, len, current, r, &d) != 0) rc = ctl_refused(path, "roster", &d);
    if (rc == 0 && bufp) {
        *bufp = buf;
        *lenp = len;
    } else {
        free(buf);
    }
    return rc;
}

bool ctl_is_operator(const stg_roster_t *r, const stg_pubkey_t *k) {
    for (unsigned i = 0; i < r->noperators; i++)
        if (stg_pubkey_eq(&r->operators[i], k)) return true;
    return false;
}

void ctl_signers(const uint8_t *buf, size_t len, char *out, size_t cap) {
    stg_envelope_t env;
    size_t used = 0;
    out[0] = '\0';
    if (stg_envelope_parse(buf, len, &env, NULL) != 0) return;
    for (unsigned i = 0; i < env.nsig && used < cap; i++) {
        char fp[9];
        stg_pubkey_short(&env.sigs[i].key, fp);
        int n = snprintf(out + used, cap - used, "%s%s...", i ? ", " : "", fp);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int ctl_default_out(const char *in, char *out, size_t cap) {
    size_t n = strlen(in);
    int w;
    if (n > 5 && strcmp(in + n - 5, ".json") == 0)
        w = snprintf(out, cap, "%.*s.signed", (int)(n - 5), in);
    else
        w = snprintf(out, cap, "%s.signed", in);
    if (w < 0 || (size_t)w >= cap) {
        ctl_err("%s: file name too long; pass a shorter one with -o", in);
        return CTL_USAGE;
    }
    return CTL_OK;
}
