/* roster.c: placeholder until the roster codec lands. */
#include "stagger/doc.h"

int stg_roster_decode(const uint8_t *json, size_t len, stg_roster_t *r, stg_diag_t *d) {
    (void)json; (void)len; (void)r;
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, "", "not implemented");
}
int stg_roster_open(const uint8_t *buf, size_t len, const stg_roster_t *current,
                    stg_roster_t *r, stg_diag_t *d) {
    (void)buf; (void)len; (void)current; (void)r;
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, "", "not implemented");
}
int stg_roster_find_key(const stg_roster_t *r, const stg_pubkey_t *k) {
    for (unsigned i = 0; i < r->nmembers; i++)
        if (stg_pubkey_eq(&r->members[i].key, k)) return (int)i;
    return -1;
}
int stg_roster_find_name(const stg_roster_t *r, const char *name) { (void)r; (void)name; return -1; }
