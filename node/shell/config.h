/* config.h: staggerd's configuration file (strict JSON, every error names
 * the field). Schema in docs/operations.md. */
#ifndef STAGGER_CONFIG_H
#define STAGGER_CONFIG_H

#include "stagger/core.h"

#define STG_PATH_MAX 1024
/* The Prometheus endpoint when the configuration names none: loopback. */
#define STG_METRICS_DEFAULT "127.0.0.1:9479"

/* One component's hooks (docs/operations.md §3); "" = none configured. */
typedef struct {
    char health[STG_PATH_MAX];   /* "" = no hook: health unknown */
    char install[STG_PATH_MAX];  /* "" = updates cannot install: they fail */
    char rollback[STG_PATH_MAX]; /* "" = nothing to undo: succeeds */
    char gate[STG_PATH_MAX];     /* "" = always yes */
} stg_hooks_t;

/* A component this daemon manages: its name in releases and its hooks. */
typedef struct {
    char name[STG_NAME_MAX + 1];
    stg_hooks_t hooks;
} stg_component_cfg_t;

typedef struct {
    char key[STG_PATH_MAX];        /* node identity key file */
    char roster[STG_PATH_MAX];     /* signed roster to start from */
    char listen[STG_ENDPOINT_MAX + 1]; /* "" = the roster endpoint */
    char metrics[STG_ENDPOINT_MAX + 1]; /* HOST:PORT of the Prometheus endpoint; "" = off */
    char state_dir[STG_PATH_MAX];
    /* comp[0] is the primary, the top-level "component" and "hooks"; the
     * others are the "components" entries (docs/operations.md,
     * "Components"), in order: the core's component k is comp[k]. */
    unsigned ncomponents;
    stg_component_cfg_t comp[STG_COMPONENTS_MAX];
    int log_level;                 /* stg_log_level_t: 0 error .. 3 debug */
    stg_core_tuning_t tuning;
} stg_config_t;

/* Read and validate path. 0, or negative with msg naming the file, field and fix. */
int stg_config_load(const char *path, stg_config_t *cfg, char *msg, size_t cap);

/* Where component k's hooks are in the file: "hooks" for the primary,
 * "components[K-1].hooks" for the others. */
void stg_config_hooks_field(unsigned k, char *out, size_t cap);

/* Check that every configured hook (every component's) is an executable regular file. Calls
 * bad(ctx, line) once per hook that is not, line naming the field, the
 * path and the fix; returns how many were bad. */
int stg_config_check_hooks(const stg_config_t *cfg, void (*bad)(void *ctx, const char *line),
                           void *ctx);

#endif
