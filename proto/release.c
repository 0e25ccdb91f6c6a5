/* release.c: placeholder until the release codec lands. */
#include "stagger/doc.h"

int stg_release_decode(const uint8_t *json, size_t len, stg_release_t *rel, stg_diag_t *d) {
    (void)json; (void)len; (void)rel;
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, "", "not implemented");
}
int stg_release_open(const uint8_t *buf, size_t len, const stg_roster_t *r,
                     stg_release_t *rel, stg_diag_t *d) {
    (void)buf; (void)len; (void)r; (void)rel;
    return stg_diag_set(d, STG_REJECT_BAD_VALUE, "", "not implemented");
}
const stg_artifact_t *stg_release_artifact(const stg_release_t *rel, const char *flavour) {
    (void)rel; (void)flavour; return 0;
}
