/* page.h: staggerd's read-only status page (docs/operations.md, "The
 * status page"), served at / beside /metrics by the same endpoint. */
#ifndef STAGGER_PAGE_H
#define STAGGER_PAGE_H

#include <jansson.h>
#include <stddef.h>

#define STG_PAGE_REFRESH_S 5 /* the page reloads itself this often */

/* The page for one status document (docs/protocol.md §8): the rollout with
 * its timeline of stages and the reason it waits, the other components'
 * rollouts, the fleet as a table, the last emergency commands. version: stagger's own. malloc'd, or NULL. */
char *stg_page_html(json_t *status, const char *version, size_t *len);

#endif
