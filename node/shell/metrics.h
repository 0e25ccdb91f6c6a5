/* metrics.h: staggerd's Prometheus endpoint (docs/operations.md, metrics).
 *
 * An HTTP server (GNU libmicrohttpd, driven from the daemon's libuv loop
 * through its epoll descriptor: no thread, so rendering reads the core
 * directly) answering GET /metrics in the Prometheus text format 0.0.4,
 * and GET / with the status page (page.h).
 * The text is rendered from the status document the daemon answers
 * staggerctl with, so the two never disagree, plus counters the shell
 * keeps itself (hook runs). The core stays pure: nothing here is in it. */
#ifndef STAGGER_METRICS_H
#define STAGGER_METRICS_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "stagger/core.h"

typedef struct stg_metrics stg_metrics_t;

/* Hook runs as the shell saw them end. */
typedef struct {
    uint64_t ok[STG_HOOK__COUNT], failed[STG_HOOK__COUNT];
    int64_t elapsed_ms[STG_HOOK__COUNT]; /* sum over every run */
} stg_hook_stats_t;

/* What a request asks for: the metrics text, or the status page. */
typedef enum { STG_SERVE_METRICS, STG_SERVE_PAGE } stg_serve_t;

/* The answer to one request; malloc'd, or NULL. */
typedef char *(*stg_metrics_render_fn)(void *ctx, stg_serve_t what, size_t *len);

/* Listen on "HOST:PORT" (an IPv4 address, or [IPv6]) and serve render's
 * text at /metrics and its status page at /. 0, or a negative errno with
 * err saying what failed. */
int stg_metrics_start(uv_loop_t *loop, const char *hostport, stg_metrics_render_fn render,
                      void *ctx, stg_metrics_t **out, char *err, size_t cap);
/* Stop serving and free (on the loop; *m becomes NULL). */
void stg_metrics_stop(stg_metrics_t **m);

/* The exposition text from a status document (docs/protocol.md §8), the
 * core's counters and the shell's hook counters. version: stagger's own.
 * malloc'd; *len its length. */
char *stg_metrics_text(json_t *status, const stg_core_stats_t *st, const stg_hook_stats_t *hooks,
                       const char *version, size_t *len);

#endif
