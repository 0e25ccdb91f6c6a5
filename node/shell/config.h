/* config.h: staggerd's configuration file (strict JSON, every error names
 * the field). Schema in docs/operations.md. */
#ifndef STAGGER_CONFIG_H
#define STAGGER_CONFIG_H

#include "stagger/core.h"

#define STG_PATH_MAX 1024
/* The Prometheus endpoint when the configuration names none: loopback. */
#define STG_METRICS_DEFAULT "127.0.0.1:9479"

typedef struct {
    char key[STG_PATH_MAX];        /* node identity key file */
    char roster[STG_PATH_MAX];     /* signed roster to start from */
    char listen[STG_ENDPOINT_MAX + 1]; /* "" = the roster endpoint */
    char metrics[STG_ENDPOINT_MAX + 1]; /* HOST:PORT of the Prometheus endpoint; "" = off */
    char state_dir[STG_PATH_MAX];
    char component[STG_NAME_MAX + 1];
    char health_hook[STG_PATH_MAX];/* "" = no hook: health unknown */
    char install_hook[STG_PATH_MAX];  /* "" = updates cannot install: they fail */
    char rollback_hook[STG_PATH_MAX]; /* "" = nothing to undo: succeeds */
    char gate_hook[STG_PATH_MAX];     /* "" = always yes */
    int log_level;                 /* stg_log_level_t: 0 error .. 3 debug */
    stg_core_tuning_t tuning;
} stg_config_t;

/* Read and validate path. 0, or negative with msg naming the file, field and fix. */
int stg_config_load(const char *path, stg_config_t *cfg, char *msg, size_t cap);

/* Check that every configured hook is an executable regular file. Calls
 * bad(ctx, line) once per hook that is not, line naming the field, the
 * path and the fix; returns how many were bad. */
int stg_config_check_hooks(const stg_config_t *cfg, void (*bad)(void *ctx, const char *line),
                           void *ctx);

#endif
