/* config.c: staggerd's configuration file, decoded with the same strict
 * JSON rules as every other input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "stagger/keyfile.h"

static const char *const top_fields[] = {"key",   "roster",    "listen", "state_dir",
                                         "component", "hooks", "log_level", "tuning",
                                         "metrics", "components", NULL};
static const char *const hook_fields[] = {"health", "install", "rollback", "gate", NULL};
static const char *const component_fields[] = {"name", "hooks", NULL};
static const char *const tuning_fields[] = {
    "probe_interval_ms", "probe_timeout_ms", "indirect_checks", "suspicion_ms",
    "sync_interval_ms", "fanout", "health_interval_ms", "retransmit", "partners",
    "local_health_max", "crash_restarts", "crash_window_ms", "refresh_ms", NULL};

static int tuning(json_t *o, stg_core_tuning_t *t, stg_diag_t *d) {
    int64_t v;
    int rc = stg_json_only(o, "tuning", tuning_fields, d);
#define MS(field, lo, hi)                                                       \
    if (!rc && !(rc = stg_json_int(o, "tuning", #field, false, lo, hi, &v, d)) && \
        json_object_get(o, #field))                                             \
        t->field = v;
#define CNT(field, lo, hi)                                                      \
    if (!rc && !(rc = stg_json_int(o, "tuning", #field, false, lo, hi, &v, d)) && \
        json_object_get(o, #field))                                             \
        t->field = (unsigned)v;
    MS(probe_interval_ms, 50, 60000)
    MS(probe_timeout_ms, 10, 60000)
    CNT(indirect_checks, 0, 16)
    MS(suspicion_ms, 100, 600000)
    MS(sync_interval_ms, 50, 600000)
    CNT(fanout, 1, 16)
    MS(health_interval_ms, 100, 3600000)
    CNT(retransmit, 1, 16)
    CNT(partners, 0, 255)
    CNT(local_health_max, 0, 8)
    CNT(crash_restarts, 0, 1000)
    MS(crash_window_ms, 1000, 86400000)
    MS(refresh_ms, 1000, 3600000)
#undef MS
#undef CNT
    if (!rc && t->probe_timeout_ms >= t->probe_interval_ms)
        rc = stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "tuning.probe_timeout_ms",
                          "must be shorter than probe_interval_ms (%lld)",
                          (long long)t->probe_interval_ms);
    return rc;
}

void stg_config_hooks_field(unsigned k, char *out, size_t cap) {
    if (k == 0) snprintf(out, cap, "hooks");
    else snprintf(out, cap, "components[%u].hooks", k - 1);
}

/* A component's hook path i, in the order of hook_fields. */
static const char *hook_path(const stg_hooks_t *h, size_t i) {
    const char *const p[] = {h->health, h->install, h->rollback, h->gate};
    return p[i];
}

/* The "hooks" object at path (optional: absent is no hooks). */
static int hooks(json_t *o, const char *path, stg_hooks_t *out, stg_diag_t *d) {
    json_t *h = o ? json_object_get(o, "hooks") : NULL;
    int rc = 0;
    if (h) rc = stg_json_object_only(h, path, hook_fields, d);
    for (size_t i = 0; h && !rc && hook_fields[i]; i++) {
        char *dst = (char *)hook_path(out, i); /* out is ours to write */
        rc = stg_json_str(h, path, hook_fields[i], false, dst, STG_PATH_MAX, d);
        if (!rc && dst[0] && dst[0] != '/') {
            stg_path_t f;
            stg_path_key(&f, path, hook_fields[i]);
            rc = stg_diag_set(d, STG_REJECT_BAD_VALUE, f.s,
                              "must be an absolute path to an executable");
        }
    }
    return rc;
}

/* "components": the others beside the primary, each {"name", "hooks"}. */
static int components(json_t *o, stg_config_t *cfg, stg_diag_t *d) {
    json_t *arr;
    int rc = stg_json_array(o, "", "components", false, STG_COMPONENTS_MAX - 1, &arr, d);
    size_t i;
    json_t *e;
    if (rc || !arr) return rc;
    json_array_foreach(arr, i, e) {
        stg_path_t at, hp;
        stg_path_idx(&at, "components", i);
        stg_component_cfg_t *c = &cfg->comp[1 + i];
        rc = stg_json_object_only(e, at.s, component_fields, d);
        if (!rc) rc = stg_json_name(e, at.s, "name", true, c->name, d);
        stg_path_key(&hp, at.s, "hooks");
        if (!rc) rc = hooks(e, hp.s, &c->hooks, d);
        for (unsigned k = 0; !rc && k <= i; k++)
            if (strcmp(cfg->comp[k].name, c->name) == 0)
                rc = stg_diag_set(d, STG_REJECT_DUPLICATE_VALUE, at.s,
                                  "\"%s\" is managed already%s; give each component one entry",
                                  c->name, k == 0 ? " (it is the top-level \"component\")" : "");
        if (rc) return rc;
        cfg->ncomponents++;
    }
    return 0;
}

int stg_config_load(const char *path, stg_config_t *cfg, char *msg, size_t cap) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->comp[0].name, sizeof cfg->comp[0].name, "cardano-node");
    cfg->ncomponents = 1;
    snprintf(cfg->metrics, sizeof cfg->metrics, "%s", STG_METRICS_DEFAULT);
    cfg->log_level = STG_LOG_INFO;
    stg_core_tuning_default(&cfg->tuning);
    uint8_t *buf;
    size_t len;
    int rc = stg_file_read(path, STG_PAYLOAD_MAX, &buf, &len, msg, cap);
    if (rc < 0) return rc;
    stg_diag_t d = {0};
    json_t *o = stg_json_parse(buf, len, &d);
    free(buf);
    rc = o ? 0 : STG_EREJECT;
    json_t *tun = NULL;
    char level[16] = "info";
    if (!rc) rc = stg_json_only(o, "", top_fields, &d);
    if (!rc) rc = stg_json_str(o, "", "key", true, cfg->key, sizeof cfg->key, &d);
    if (!rc) rc = stg_json_str(o, "", "roster", true, cfg->roster, sizeof cfg->roster, &d);
    if (!rc) rc = stg_json_str(o, "", "listen", false, cfg->listen, sizeof cfg->listen, &d);
    if (!rc) rc = stg_json_str(o, "", "metrics", false, cfg->metrics, sizeof cfg->metrics, &d);
    if (!rc) rc = stg_json_str(o, "", "state_dir", true, cfg->state_dir, sizeof cfg->state_dir, &d);
    if (!rc)
        rc = stg_json_str(o, "", "component", false, cfg->comp[0].name, sizeof cfg->comp[0].name,
                          &d);
    if (!rc) rc = stg_json_str(o, "", "log_level", false, level, sizeof level, &d);
    if (!rc) rc = hooks(o, "hooks", &cfg->comp[0].hooks, &d);
    if (!rc) rc = stg_json_object(o, "", "tuning", false, &tun, &d);
    if (!rc && tun) rc = tuning(tun, &cfg->tuning, &d);
    if (!rc && !stg_name_ok(cfg->comp[0].name))
        rc = stg_diag_set(&d, STG_REJECT_BAD_VALUE, "component",
                          "\"%s\" is not a name (a-z 0-9 . _ -)", cfg->comp[0].name);
    if (!rc) rc = components(o, cfg, &d);
    if (!rc) {
        static const char *const levels[] = {"error", "warning", "info", "debug"};
        cfg->log_level = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(level, levels[i]) == 0) cfg->log_level = i;
        if (cfg->log_level < 0)
            rc = stg_diag_set(&d, STG_REJECT_BAD_VALUE, "log_level",
                              "must be error, warning, info or debug");
    }
    if (!rc && cfg->listen[0] && strncmp(cfg->listen, "tcp://", 6) != 0)
        rc = stg_diag_set(&d, STG_REJECT_BAD_VALUE, "listen", "must look like tcp://HOST:PORT");
    json_decref(o);
    if (rc) snprintf(msg, cap, "%s: %s", path, d.msg);
    return rc;
}

int stg_config_check_hooks(const stg_config_t *cfg, void (*bad)(void *ctx, const char *line),
                           void *ctx) {
    int nbad = 0;
    for (unsigned k = 0; k < cfg->ncomponents; k++) {
        char field[64];
        stg_config_hooks_field(k, field, sizeof field);
        const stg_hooks_t *hk = &cfg->comp[k].hooks;
        for (size_t i = 0; hook_fields[i]; i++) {
            const char *p = hook_path(hk, i), *name = hook_fields[i];
            if (!p[0]) continue;
            struct stat st;
            char line[STG_PATH_MAX + 256];
            line[0] = '\0';
            /* stat follows a symlink: a link to the real script is fine. */
            if (stat(p, &st) != 0)
                snprintf(line, sizeof line,
                         "%s.%s: %s: %s; install the hook there or correct the path", field,
                         name, p, strerror(errno));
            else if (!S_ISREG(st.st_mode))
                snprintf(line, sizeof line,
                         "%s.%s: %s: not a regular file; point it at the hook's executable",
                         field, name, p);
            else if (access(p, X_OK) != 0)
                snprintf(line, sizeof line, "%s.%s: %s: not executable; fix with: chmod +x %s",
                         field, name, p, p);
            if (line[0]) {
                bad(ctx, line);
                nbad++;
            }
        }
    }
    return nbad;
}
