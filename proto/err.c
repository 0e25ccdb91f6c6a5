/* err.c: name tables for error codes and reject reasons (see err.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stagger/err.h"

const char *stg_strerror(int code) {
    switch (code) {
#define X(name, val, text) \
    case (val): return text;
        STG_ERR_MAP(X)
#undef X
    case 0: return "success";
    default: break;
    }
    if (code < 0 && code > -1000) return strerror(-code);
    return "unknown error";
}

static const char *const reject_names[] = {
#define X(name, text) #name,
    STG_REJECT_MAP(X)
#undef X
};

static const char *const reject_texts[] = {
#define X(name, text) text,
    STG_REJECT_MAP(X)
#undef X
};

const char *stg_reject_name(stg_reject_t r) {
    /* Lower-case names live in a static table built on first use would need
     * state; the canonical upper-case name is fine for logs and JSON. */
    if ((unsigned)r >= STG_REJECT__COUNT) return "UNKNOWN";
    return reject_names[r];
}

const char *stg_reject_text(stg_reject_t r) {
    if ((unsigned)r >= STG_REJECT__COUNT) return "unknown reason";
    return reject_texts[r];
}

int stg_diag_set(stg_diag_t *d, stg_reject_t reason, const char *field,
                 const char *fmt, ...) {
    if (!d) return STG_EREJECT;
    d->reason = reason;
    size_t off = 0;
    if (field && *field) {
        int n = snprintf(d->msg, sizeof d->msg, "%s: ", field);
        off = n < 0 ? 0 : ((size_t)n < sizeof d->msg ? (size_t)n : sizeof d->msg - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg + off, sizeof d->msg - off, fmt, ap);
    va_end(ap);
    return STG_EREJECT;
}
