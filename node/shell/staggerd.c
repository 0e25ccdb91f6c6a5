/* staggerd.c: the stagger peer daemon. The shell around the pure core: it
 * owns the libuv loop, the transport, timers, hooks, signals and the state
 * directory, turns all of them into core events, and carries out the
 * core's actions. No policy lives here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "config.h"
#include "hook.h"
#include "metrics.h"
#include "page.h"
#include "net.h"
#include "stagger/core.h"
#include "stagger/keyfile.h"
#include "version.h"

/* A test-only build (node/shell/meson.build, staggerd-mute) sends no peer
 * message at all: it starts, answers status, runs hooks, but cannot rejoin
 * its fleet (tests/fleet/test_self_update.py's bad build). Never set in a
 * build that is shipped. */
#ifndef STG_SELFTEST_MUTE
#define STG_SELFTEST_MUTE 0
#endif

typedef struct {
    uint8_t x[32];
    char user_id[STG_KEY_B64_LEN + 1];
} admitted_t;

/* Per store: failed writes since the last one that worked, and when one
 * was last logged (a full disk fails every retry). */
typedef struct {
    uint64_t failures, unlogged; /* failures: since the last write that worked */
    int64_t logged_ms;
    int err;                      /* the last failure's errno */
} store_err_t;

/* One component's health hook run: at most one per component at a time,
 * the components' runs independent of each other. */
typedef struct {
    struct daemon *d;
    unsigned k;                   /* the core's component index (cfg.comp[k]) */
    stg_hook_t *h;                /* running, or NULL */
} health_run_t;

typedef struct daemon {
    stg_config_t cfg;
    const char *config_path;
    uv_loop_t *loop;
    stg_seckey_t *key;
    stg_core_t *core;
    stg_net_t *net;
    stg_actions_t *acts;
    uv_timer_t timer;
    uint64_t due_ns;              /* uv_hrtime() when the core's wake-up is due; 0: none */
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1, sig_usr2;
    health_run_t health[STG_COMPONENTS_MAX];
    bool stopping;
    /* Re-exec (SIGUSR2, docs/operations.md "Upgrading stagger itself"):
     * asked for, and then done once nothing would be lost by it. */
    bool reexec_pending, reexec;
    uv_timer_t reexec_timer;      /* 0 ms: checks again from the loop's top level */
    unsigned update_running;      /* install, rollback or gate hooks running */
    char reexec_waits[96];        /* what it waited for when last logged */
    char exe[STG_PATH_MAX + 1];   /* the binary's path at start: what a re-exec runs */
    char config_abs[STG_PATH_MAX + 1];
    admitted_t *admitted;
    size_t nadmitted;
    char name[STG_NAME_MAX + 1];
    uint64_t unknown_sender;      /* messages from keys no longer in the roster */
    char **hook_env;              /* what every hook gets (make_hook_env); each run
                                     adds its own (hook_env) */
    /* While a member's message arrived on the inbox is handled: who sent it
     * and on which connection, so answers to it go back the same way. */
    int reply_peer;
    const stg_net_route_t *reply_route;
    store_err_t store_err[STG_STORE__COUNT];
    struct hook_ctx *away_hook;   /* the hook that said away= and waits for our answer */
    stg_metrics_t *metrics;       /* NULL: off, or it could not listen */
    stg_hook_stats_t hook_stats;
} daemon_t;

/* ---- logging ---------------------------------------------------------- */

static int log_level = STG_LOG_INFO;
static const char *log_name = "";
/* stderr is a journald stream: lines start with "<N>" (sd-daemon(3)'s
 * priority prefix) and carry no timestamp, journald keeps its own. */
static bool log_journal;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
 * stderr. It is inherited by children whose stderr was redirected since, so
 * it counts only when it names our stderr (systemd.exec(5)). */
static bool stderr_is_journal(void) {
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char extra;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &extra) != 2) return false;
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* While the actions of one core step are carried out: the clock reading
 * that step was given. Its lines carry the time the core decided, not the
 * time they were written, which on a starved machine can be a good part of
 * a second later (and log-based checks of soak and spacing would see a
 * soak shorter than the core kept). 0: stamp with the clock. */
static int64_t log_step_ms;

__attribute__((format(printf, 3, 4))) static void say(int level, const char *tag,
                                                       const char *fmt, ...) {
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    /* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
    static const int priorities[] = {3, 4, 6, 7};
    if (level > log_level) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One event, one line (hook output has newlines): otherwise journald
     * would file the rest as separate info entries. */
    size_t len = strlen(line);
    while (len && line[len - 1] == '\n') line[--len] = '\0';
    for (char *nl = strchr(line, '\n'); nl; nl = strchr(nl, '\n')) *nl = '|';
    if (log_journal) {
        fprintf(stderr, "<%d>%s %-5s [%s] %s\n", priorities[level], log_name, names[level], tag,
                line);
        return;
    }
    int64_t now = log_step_ms ? log_step_ms : wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03dZ %s %-5s [%s] %s\n", ts, (int)(now % 1000), log_name,
            names[level], tag, line);
}

/* ---- state directory -------------------------------------------------- */

static void state_path(const daemon_t *d, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", d->cfg.state_dir, name);
}

/* The audit log is append-only: one JSON line per command received. It is
 * not fsynced: what a command did is durable in the journal (written before
 * its audit line), and a line still in the page cache survives a crash of
 * the daemon; only a power cut can lose the last lines. An fsync here was a
 * third disk flush per command on every member, all at the same moment. */
static int append_audit(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    ssize_t w = fd >= 0 ? write(fd, data, len) : -1;
    int e = w < 0 ? errno : EIO; /* a short write: the disk filled up */
    if (fd >= 0) close(fd);
    return w == (ssize_t)len ? 0 : -e;
}

/* A state file that may be absent (a first start): *buf stays NULL then. */
static int read_state(const daemon_t *d, const char *name, uint8_t **buf, size_t *len, char *msg,
                      size_t cap) {
    char path[STG_PATH_MAX + 64];
    state_path(d, name, path, sizeof path);
    if (access(path, R_OK) != 0) return 0;
    return stg_file_read(path, 4 * STG_PAYLOAD_MAX, buf, len, msg, cap);
}

/* The file each store lives in (docs/operations.md, the state directory). */
static const char *store_file(stg_store_t s) {
    switch (s) {
    case STG_STORE_INCARNATION: return "incarnation";
    case STG_STORE_ROSTER: return "roster.signed";
    case STG_STORE_JOURNAL: return "journal.json";
    case STG_STORE_AUDIT: return "audit.log";
    default: return "unknown-store";
    }
}

/* A write that fails is logged at once, then (the core retries the
 * journal every second while the disk refuses) once a minute with the
 * count, and the first one that works again says so. */
#define STORE_ERR_LOG_MS 60000

static int persist(daemon_t *d, stg_store_t store, const void *data, size_t len) {
    char path[STG_PATH_MAX + 64];
    state_path(d, store_file(store), path, sizeof path);
    int rc = store == STG_STORE_AUDIT ? append_audit(path, data, len)
                                      : stg_file_write_atomic(path, data, len, 0600);
    store_err_t *e = &d->store_err[store];
    int64_t now = wall_ms();
    if (rc == 0) {
        if (e->failures)
            say(STG_LOG_INFO, "journal", "%s is written again, after %llu failed write%s", path,
                (unsigned long long)e->failures, e->failures == 1 ? "" : "s");
        e->failures = e->unlogged = 0;
        return 0;
    }
    e->err = -rc;
    if (e->failures++ == 0 || now - e->logged_ms >= STORE_ERR_LOG_MS) {
        char more[64] = "";
        if (e->unlogged)
            snprintf(more, sizeof more, " (%llu more failures since the last report)",
                     (unsigned long long)e->unlogged);
        say(STG_LOG_ERROR, "journal", "cannot %s %s: %s%s; check the disk and permissions",
            store == STG_STORE_AUDIT ? "append to" : "write", path, strerror(-rc), more);
        e->logged_ms = now;
        e->unlogged = 0;
    } else {
        e->unlogged++;
    }
    return rc;
}

/* ---- core glue -------------------------------------------------------- */

static void step(daemon_t *d, const stg_event_t *ev);

/* Who may connect: members, operators, observers of the current roster. */
static void rebuild_admit(daemon_t *d) {
    const stg_roster_t *r = stg_core_roster(d->core);
    free(d->admitted);
    d->nadmitted = 0;
    d->admitted = calloc(r->nmembers + r->noperators + r->nobservers, sizeof *d->admitted);
    const stg_pubkey_t *keys[STG_MEMBERS_MAX + STG_OPERATORS_MAX + STG_OBSERVERS_MAX];
    size_t n = 0;
    for (unsigned i = 0; i < r->nmembers; i++) keys[n++] = &r->members[i].key;
    for (unsigned i = 0; i < r->noperators; i++) keys[n++] = &r->operators[i];
    for (unsigned i = 0; i < r->nobservers; i++) keys[n++] = &r->observers[i];
    for (size_t i = 0; i < n; i++) {
        admitted_t *a = &d->admitted[d->nadmitted];
        if (stg_curve_from_pubkey(keys[i], a->x) != 0) continue;
        stg_pubkey_to_b64(keys[i], a->user_id);
        d->nadmitted++;
    }
}

static void rebuild_peers(daemon_t *d) {
    const stg_roster_t *r = stg_core_roster(d->core);
    int self = stg_core_self(d->core);
    rebuild_admit(d);
    for (unsigned i = 0; i < r->nmembers; i++) {
        if ((int)i == self) continue;
        int rc = stg_net_peer_set(d->net, i, r->members[i].endpoint, &r->members[i].key);
        if (rc < 0)
            say(STG_LOG_WARNING, "net", "%s: cannot set up %s: %s", r->members[i].name,
                r->members[i].endpoint, stg_strerror(rc));
    }
    if (self >= 0) stg_net_peer_drop(d->net, (unsigned)self);
    for (unsigned i = r->nmembers; i < STG_NET_PEERS_MAX; i++) stg_net_peer_drop(d->net, i);
}

static void count_hook(daemon_t *d, stg_hook_kind_t kind, bool ok, int64_t elapsed_ms) {
    if (ok) d->hook_stats.ok[kind]++;
    else d->hook_stats.failed[kind]++;
    d->hook_stats.elapsed_ms[kind] += elapsed_ms;
}

static void arm_reexec(daemon_t *d);

/* The component a hook is for, as logs name it: nothing for the primary
 * (a single-component daemon's lines stay as they were), " of NAME" for
 * the others. */
static const char *of_comp(const daemon_t *d, unsigned k, char *buf, size_t cap) {
    buf[0] = '\0';
    if (k > 0 && k < d->cfg.ncomponents) snprintf(buf, cap, " of %s", d->cfg.comp[k].name);
    return buf;
}

/* Which of our components a release is for: the core's index, or -1. */
static int comp_index(const daemon_t *d, const char *name) {
    for (unsigned k = 0; k < d->cfg.ncomponents; k++)
        if (strcmp(d->cfg.comp[k].name, name) == 0) return (int)k;
    return -1;
}

static bool health_any(const daemon_t *d) {
    for (unsigned k = 0; k < d->cfg.ncomponents; k++)
        if (d->health[k].h) return true;
    return false;
}

static void health_kill_all(daemon_t *d) {
    for (unsigned k = 0; k < d->cfg.ncomponents; k++)
        if (d->health[k].h) stg_hook_kill(d->health[k].h);
}

static void health_done(void *ctx, const stg_hook_result_t *res) {
    health_run_t *run = ctx;
    daemon_t *d = run->d;
    run->h = NULL;
    char of[STG_NAME_MAX + 8];
    of_comp(d, run->k, of, sizeof of);
    if (d->stopping) return;
    if (d->reexec_pending) {
        /* Killed for the re-exec (or finished meanwhile): its verdict is
         * not the service's, and a soaking node must not fail on "killed
         * by signal 9". The new image runs the hook again at once. */
        say(STG_LOG_DEBUG, "hook", "health%s: result dropped, re-exec pending", of);
        arm_reexec(d);
        return;
    }
    stg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = STG_EV_HEALTH;
    ev.now_ms = wall_ms();
    ev.component = run->k;
    char version[STG_VERSION_MAX + 1] = "", detail[STG_DETAIL_MAX + 1] = "", progress[64] = "";
    char build[65] = "";
    stg_tip_t tip = {0};
    /* Output lines "version=X", "build=[sha256:]HEX", "tip=BLOCK:SLOT:HASH", "detail=text",
     * "forging=1" or "forging=0", "restarts=N" (docs/operations.md, hooks);
     * the rest is kept out of the record (it goes to the debug log). */
    char *save = NULL, out[STG_HOOK_OUTPUT_MAX];
    snprintf(out, sizeof out, "%s", res->output);
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "version=", 8) == 0) snprintf(version, sizeof version, "%s", line + 8);
        else if (strncmp(line, "detail=", 7) == 0) snprintf(detail, sizeof detail, "%s", line + 7);
        else if (strncmp(line, "progress=", 9) == 0)
            snprintf(progress, sizeof progress, "%s", line + 9);
        else if (strncmp(line, "build=", 6) == 0) {
            const char *b = line + 6;
            if (strncmp(b, "sha256:", 7) == 0) b += 7;
            if (stg_sha256_hex_ok(b)) snprintf(build, sizeof build, "%s", b);
            else
                say(STG_LOG_WARNING, "hook",
                    "health%s: ignoring \"%.80s\": build= takes the artifact's SHA-256, 64 "
                    "lowercase hex digits, optionally after sha256:",
                    of, line);
        } else if (strncmp(line, "tip=", 4) == 0) {
            if (!stg_tip_parse(line + 4, &tip))
                say(STG_LOG_WARNING, "hook",
                    "health%s: ignoring \"%.80s\": tip= takes BLOCK:SLOT:HASH, the hash 16 to "
                    "64 lowercase hex digits",
                    of, line);
        } else if (strcmp(line, "forging=1") == 0) ev.forging = STG_FORGING_YES;
        else if (strcmp(line, "forging=0") == 0) ev.forging = STG_FORGING_NO;
        else if (strncmp(line, "restarts=", 9) == 0) {
            char *end = NULL;
            unsigned long long n = strtoull(line + 9, &end, 10);
            if (end != line + 9 && !*end && line[9] != '-') {
                ev.restarts = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
                ev.has_restarts = true;
            }
        }
    }
    if (res->timed_out) {
        ev.health = STG_HEALTH_UNHEALTHY;
        snprintf(detail, sizeof detail, "health hook timed out after %lld ms",
                 (long long)res->elapsed_ms);
    } else if (res->term_signal) {
        ev.health = STG_HEALTH_UNHEALTHY;
        snprintf(detail, sizeof detail, "health hook killed by signal %d", res->term_signal);
    } else if (res->exit_status != 0) {
        ev.health = STG_HEALTH_UNHEALTHY;
        if (!detail[0]) snprintf(detail, sizeof detail, "health hook exited %d", res->exit_status);
    } else {
        ev.health = STG_HEALTH_HEALTHY;
    }
    count_hook(d, STG_HOOK_HEALTH, ev.health == STG_HEALTH_HEALTHY, res->elapsed_ms);
    say(STG_LOG_DEBUG, "hook", "health%s: exit %d signal %d%s in %lld ms: %s", of,
        res->exit_status, res->term_signal, res->timed_out ? " (timed out)" : "",
        (long long)res->elapsed_ms, res->output);
    ev.version = version[0] ? version : NULL;
    ev.build = build[0] ? build : NULL;
    ev.tip = tip.have ? &tip : NULL;
    ev.detail = detail;
    ev.progress = progress[0] ? progress : NULL;
    step(d, &ev);
}

/* ---- update hooks (install, rollback, gate) ---------------------------- */

typedef struct hook_ctx {
    daemon_t *d;
    stg_hook_kind_t kind;
    unsigned comp;         /* whose hook: the release's component */
    stg_hook_t *h;
    char not_started[160]; /* why a held hook was cancelled, or "" */
} hook_ctx_t;

/* The hook that announced an absence hears "away ok" on its fd 3 once our
 * record saying so has left for every partner (its journal write done):
 * then it may reboot. Called after every step. */
static void away_answer(daemon_t *d) {
    hook_ctx_t *hc = d->away_hook;
    if (!hc || !stg_core_away_sent(d->core)) return;
    d->away_hook = NULL;
    int rc = stg_hook_answer(hc->h, "away ok\n");
    char of[STG_NAME_MAX + 8];
    say(rc == 0 ? STG_LOG_INFO : STG_LOG_WARNING, "hook",
        "%s%s: our record announcing the absence has left for every partner%s%s",
        stg_hook_name(hc->kind), of_comp(d, hc->comp, of, sizeof of),
        rc == 0 ? "; told the hook" : ": cannot tell the hook: ", rc == 0 ? "" : strerror(-rc));
}

/* A line of an install or rollback hook's output, as it comes: away=S (S
 * seconds, a whole number) announces that the machine is about to be away,
 * a planned reboot (docs/operations.md §11). The core signs it into our
 * record; the hook's answer comes when that record has left. */
static void on_hook_line(void *ctx, const char *line) {
    hook_ctx_t *hc = ctx;
    daemon_t *d = hc->d;
    if (strncmp(line, "away=", 5) != 0 || d->stopping) return;
    char *end = NULL;
    long long s = strtoll(line + 5, &end, 10);
    if (end == line + 5 || *end || s < 1 || s > STG_AWAY_MAX_MS / 1000) {
        char of[STG_NAME_MAX + 8];
        say(STG_LOG_WARNING, "hook", "%s%s: ignoring \"%.40s\": away= takes whole seconds, 1 to %d",
            stg_hook_name(hc->kind), of_comp(d, hc->comp, of, sizeof of), line,
            STG_AWAY_MAX_MS / 1000);
        stg_hook_answer(hc->h, "away refused\n");
        return;
    }
    stg_event_t ev = {.type = STG_EV_AWAY, .now_ms = wall_ms(), .hook = hc->kind,
                      .away_ms = (int64_t)s * 1000};
    step(d, &ev);
    if (stg_core_away_left(d->core) <= 0) {
        stg_hook_answer(hc->h, "away refused\n");
        return;
    }
    d->away_hook = hc;
    away_answer(d);
}

/* The last non-empty line of a hook's output: what it said last is why. */
static void last_line(const char *out, char *dst, size_t cap) {
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) n--;
    size_t b = n;
    while (b && out[b - 1] != '\n') b--;
    snprintf(dst, cap, "%.*s", (int)(n - b), out + b);
}

/* The running install or rollback hook's process group, kept in the state
 * directory: after a crash of the daemon alone the hook may live on, and a
 * resumed update must not run a second installer beside it. */
static void hook_group_file(const daemon_t *d, char *out, size_t cap) {
    snprintf(out, cap, "%s/hook.pgid", d->cfg.state_dir);
}

static void kill_orphaned_hook(const daemon_t *d) {
    char path[STG_PATH_MAX + 64], text[4096] = ""; /* the %4095 below */
    hook_group_file(d, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return;
    long pgid = 0;
    if (fscanf(f, "%ld %4095[^\n]", &pgid, text) < 1) pgid = 0;
    fclose(f);
    unlink(path);
    if (pgid <= 1 || !text[0]) return;
    /* Only if that process is still our hook: a reused pid is left alone. */
    char proc[64], cmd[4096] = "";
    snprintf(proc, sizeof proc, "/proc/%ld/cmdline", pgid);
    f = fopen(proc, "r");
    if (!f) return;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (cmd[i] == '\0') cmd[i] = ' ';
    cmd[n] = '\0';
    if (!strstr(cmd, text)) return;
    say(STG_LOG_WARNING, "hook", "killing the hook left running by the previous daemon (group %ld: "
                                 "%s) before resuming",
        pgid, text);
    kill(-(pid_t)pgid, SIGKILL);
    for (int i = 0; i < 100 && kill((pid_t)pgid, 0) == 0; i++) {
        struct timespec ts = {0, 50 * 1000000L}; /* reaped by init: wait, bounded, for it to go */
        nanosleep(&ts, NULL);
    }
}

static void update_hook_done(void *ctx, const stg_hook_result_t *res) {
    hook_ctx_t *hc = ctx;
    daemon_t *d = hc->d;
    stg_hook_kind_t kind = hc->kind;
    char of[STG_NAME_MAX + 8];
    of_comp(d, hc->comp, of, sizeof of);
    char not_started[sizeof hc->not_started];
    memcpy(not_started, hc->not_started, sizeof not_started);
    if (d->away_hook == hc) d->away_hook = NULL;
    free(hc);
    d->update_running--;
    if (kind != STG_HOOK_GATE) {
        char path[STG_PATH_MAX + 64];
        hook_group_file(d, path, sizeof path);
        unlink(path);
    }
    if (d->stopping) return;
    if (kind != STG_HOOK_GATE && res->term_signal && stg_core_away_left(d->core) > 0) {
        /* The reboot it announced is under way: systemd signals the whole
         * unit at once, and the hook may die before our own SIGTERM is
         * read. Not a failure: the journal says the install asked for the
         * reboot, and the restart resumes from it. */
        say(STG_LOG_WARNING, "hook", "%s%s: killed by signal %d during the absence it announced "
                                     "(the reboot under way): left to the restart",
            stg_hook_name(kind), of, res->term_signal);
        return;
    }
    char tail[200], detail[STG_DETAIL_MAX + 1];
    last_line(res->output, tail, sizeof tail);
    bool ok = !res->cancelled && !res->timed_out && !res->term_signal && res->exit_status == 0;
    if (res->cancelled)
        snprintf(detail, sizeof detail, "not started: %s", not_started);
    else if (res->timed_out)
        snprintf(detail, sizeof detail, "%s hook timed out after %llds%s%s", stg_hook_name(kind),
                 (long long)(res->elapsed_ms / 1000), tail[0] ? ": " : "", tail);
    else if (res->term_signal)
        snprintf(detail, sizeof detail, "%s hook killed by signal %d", stg_hook_name(kind),
                 res->term_signal);
    else if (!ok)
        snprintf(detail, sizeof detail, "%s hook exited %d%s%s", stg_hook_name(kind),
                 res->exit_status, tail[0] ? ": " : "", tail);
    else
        snprintf(detail, sizeof detail, "%s", tail);
    count_hook(d, kind, ok, res->elapsed_ms);
    say(ok ? STG_LOG_INFO : STG_LOG_WARNING, "hook", "%s%s: %s in %lld ms%s%s", stg_hook_name(kind),
        of, ok ? "ok" : "failed", (long long)res->elapsed_ms, detail[0] ? ": " : "", detail);
    stg_event_t ev = {.type = STG_EV_HOOK_DONE, .now_ms = wall_ms(), .hook = kind, .ok = ok,
                      .detail = detail};
    step(d, &ev);
}

/* env: the base every hook gets (make_hook_env: PATH, the roster's, the
 * epoch schedule), STAGGER_COMPONENT for component k, then extra[0..n),
 * NULL-terminated; with room to spare: none may be cut off silently.
 * Borrows from d and extra. */
#define HOOK_ENV_MAX 40
static void hook_env(const daemon_t *d, unsigned k, const char *what, char (*extra)[640], int n,
                     char **env) {
    snprintf(extra[n++], sizeof extra[0], "STAGGER_COMPONENT=%s", d->cfg.comp[k].name);
    int m = 0, base_max = HOOK_ENV_MAX - 1 - n;
    for (char **e = d->hook_env; e && *e; e++) {
        if (m == base_max) {
            say(STG_LOG_ERROR, "hook", "%s: more than %d environment entries; %s and later "
                "are not passed", what, base_max, *e);
            break;
        }
        env[m++] = *e;
    }
    for (int i = 0; i < n; i++) env[m++] = extra[i];
    env[m] = NULL;
}

static void run_update_hook(daemon_t *d, stg_hook_kind_t kind, const stg_release_t *rel) {
    const stg_roster_t *r = stg_core_roster(d->core);
    const stg_policy_t *p = &r->policy;
    /* The release names the component: its hooks run, whichever it is. */
    int ci = comp_index(d, rel->component);
    if (ci < 0) {
        char det[STG_DETAIL_MAX + 1];
        snprintf(det, sizeof det, "no %s hook: this node does not manage %s", stg_hook_name(kind),
                 rel->component);
        say(STG_LOG_ERROR, "hook", "%s (bug)", det);
        stg_event_t ev = {.type = STG_EV_HOOK_DONE, .now_ms = wall_ms(), .hook = kind,
                          .ok = false, .detail = det};
        step(d, &ev);
        return;
    }
    unsigned comp = (unsigned)ci;
    const stg_hooks_t *hooks = &d->cfg.comp[comp].hooks;
    char of[STG_NAME_MAX + 8];
    of_comp(d, comp, of, sizeof of);
    const char *path = kind == STG_HOOK_INSTALL    ? hooks->install
                       : kind == STG_HOOK_ROLLBACK ? hooks->rollback
                                                   : hooks->gate;
    int64_t timeout_s = kind == STG_HOOK_INSTALL    ? p->install_timeout_s
                        : kind == STG_HOOK_ROLLBACK ? p->rollback_timeout_s
                                                    : p->gate_timeout_s;
    if (!path[0]) {
        /* No gate means yes; no rollback hook means nothing to undo; an
         * install without a hook cannot happen. */
        bool ok = kind != STG_HOOK_INSTALL;
        stg_event_t ev = {.type = STG_EV_HOOK_DONE, .now_ms = wall_ms(), .hook = kind, .ok = ok,
                          .detail = ok ? "no hook configured" : "no install hook configured"};
        step(d, &ev);
        return;
    }
    const stg_member_t *me = &r->members[stg_core_self(d->core)];
    const stg_artifact_t *art = stg_release_artifact(rel, me->flavour);
    char extra[9][640]; /* one left for hook_env's STAGGER_COMPONENT */
    int n = 0;
    snprintf(extra[n++], sizeof extra[0], "STAGGER_HOOK=%s", stg_hook_name(kind));
    snprintf(extra[n++], sizeof extra[0], "STAGGER_RELEASE_COMPONENT=%s", rel->component);
    snprintf(extra[n++], sizeof extra[0], "STAGGER_RELEASE_VERSION=%s", rel->version);
    snprintf(extra[n++], sizeof extra[0], "STAGGER_ARTIFACT=%s",
             art ? (art->image[0] ? art->image : art->url) : "");
    snprintf(extra[n++], sizeof extra[0], "STAGGER_ARTIFACT_SHA256=%s", art ? art->sha256 : "");
    snprintf(extra[n++], sizeof extra[0], "STAGGER_ARTIFACT_KIND=%s",
             art ? (art->image[0] ? "image" : "url") : "none");
    /* Install and rollback: the daemon's answers (to away=) on fd 3. */
    if (kind != STG_HOOK_GATE) snprintf(extra[n++], sizeof extra[0], "STAGGER_ANSWER_FD=3");
    char *env[HOOK_ENV_MAX];
    hook_env(d, comp, stg_hook_name(kind), extra, n, env);
    hook_ctx_t *hc = calloc(1, sizeof *hc);
    hc->d = d;
    hc->kind = kind;
    hc->comp = comp;
    say(STG_LOG_INFO, "hook", "%s%s: running %s for %s %s", stg_hook_name(kind), of, path,
        rel->component, rel->version);
    stg_hook_t *h = NULL;
    /* An install or rollback starts held: its process group is on disk
     * (hook.pgid) before it may run, so a daemon restarted after a crash
     * can always find and kill it, and two installers never run at once.
     * Without the record it does not run at all. */
    bool held = kind != STG_HOOK_GATE;
    int rc = stg_hook_run(d->loop, path, env, timeout_s * 1000, held, update_hook_done, hc, &h);
    if (rc == 0) d->update_running++; /* update_hook_done is called, whatever happens next */
    if (rc == 0) {
        hc->h = h;
        if (kind != STG_HOOK_GATE) stg_hook_on_line(h, on_hook_line, hc);
    }
    if (rc == 0 && held) {
        char gfile[STG_PATH_MAX + 64], line[STG_PATH_MAX + 32];
        hook_group_file(d, gfile, sizeof gfile);
        int ln = snprintf(line, sizeof line, "%d %s\n", stg_hook_pid(h), path);
        int wrc = stg_file_write_atomic(gfile, line, (size_t)ln, 0600);
        if (wrc < 0)
            snprintf(hc->not_started, sizeof hc->not_started,
                     "cannot record its process group: %s", strerror(-wrc));
        else if ((wrc = stg_hook_release(h)) < 0)
            snprintf(hc->not_started, sizeof hc->not_started, "cannot release it: %s",
                     strerror(-wrc));
        if (wrc < 0) {
            say(STG_LOG_ERROR, "hook", "%s%s: not started: %s (%s); check the disk",
                stg_hook_name(kind), of, hc->not_started, gfile);
            stg_hook_cancel(h); /* done reports it failed, with that reason */
        }
    }
    if (rc != 0) {
        free(hc);
        char det[STG_DETAIL_MAX + 1];
        snprintf(det, sizeof det, "cannot run %s hook %s: %s", stg_hook_name(kind), path,
                 uv_strerror(rc));
        say(STG_LOG_ERROR, "hook", "%s; check the path and that it is executable", det);
        stg_event_t ev = {.type = STG_EV_HOOK_DONE, .now_ms = wall_ms(), .hook = kind,
                          .ok = false, .detail = det};
        step(d, &ev);
    }
}

/* Component k's health hook, unless one of its runs is under way (its
 * result will do); the components' runs are independent. */
static void run_health(daemon_t *d, unsigned k) {
    /* A re-exec waits for no health run: the new image starts one. */
    if (d->reexec_pending) return;
    if (k >= d->cfg.ncomponents) {
        say(STG_LOG_ERROR, "hook", "the core asks for the health of component %u of %u (bug)", k,
            d->cfg.ncomponents);
        return;
    }
    health_run_t *run = &d->health[k];
    const char *path = d->cfg.comp[k].hooks.health;
    char of[STG_NAME_MAX + 8];
    of_comp(d, k, of, sizeof of);
    if (!path[0]) {
        /* No hook configured: the node is reachable, its service unknown. */
        stg_event_t ev = {.type = STG_EV_HEALTH, .now_ms = wall_ms(), .component = k,
                          .health = STG_HEALTH_UNKNOWN, .detail = "no health hook configured"};
        step(d, &ev);
        return;
    }
    if (run->h) return;
    char extra[1][640], *env[HOOK_ENV_MAX], what[32];
    snprintf(what, sizeof what, "health%s", of);
    hook_env(d, k, what, extra, 0, env);
    run->d = d;
    run->k = k;
    int64_t timeout_ms = stg_core_roster(d->core)->policy.health_timeout_s * 1000;
    int rc = stg_hook_run(d->loop, path, env, timeout_ms, false, health_done, run, &run->h);
    if (rc != 0) {
        say(STG_LOG_ERROR, "hook", "cannot run health hook%s %s: %s; check the path and that it "
                                   "is executable", of, path, uv_strerror(rc));
        stg_event_t ev = {.type = STG_EV_HEALTH, .now_ms = wall_ms(), .component = k,
                          .health = STG_HEALTH_UNHEALTHY, .detail = "health hook cannot start"};
        step(d, &ev);
    }
}

static void make_hook_env(daemon_t *d) {
    const stg_roster_t *r = stg_core_roster(d->core);
    const stg_member_t *m = &r->members[stg_core_self(d->core)];
    char buf[11][STG_PATH_MAX + 32];
    snprintf(buf[0], sizeof buf[0], "STAGGER_NODE=%s", m->name);
    snprintf(buf[1], sizeof buf[1], "STAGGER_FLEET=%s", r->fleet);
    snprintf(buf[2], sizeof buf[2], "STAGGER_ROLE=%s", stg_role_name(m->role));
    snprintf(buf[3], sizeof buf[3], "STAGGER_FLAVOUR=%s", m->flavour);
    /* STAGGER_COMPONENT is each run's own (hook_env): the component whose
     * hook it is. */
    snprintf(buf[4], sizeof buf[4], "STAGGER_STATE_DIR=%s", d->cfg.state_dir);
    /* The epoch schedule is the roster's alone: hooks that keep the producer
     * off the boundaries (the cardano-node gate) read it here rather than
     * from a second copy of their own. */
    const stg_policy_t *pol = &r->policy;
    snprintf(buf[5], sizeof buf[5], "STAGGER_EPOCH_START_S=%lld", (long long)pol->epoch_start_s);
    snprintf(buf[6], sizeof buf[6], "STAGGER_EPOCH_LENGTH_S=%lld", (long long)pol->epoch_length_s);
    snprintf(buf[7], sizeof buf[7], "STAGGER_EPOCH_GUARD_S=%lld", (long long)pol->epoch_guard_s);
    /* For hooks that manage staggerd itself (deploy/hooks/stagger): whom to
     * send SIGUSR2, which binary it runs, and its configuration. */
    snprintf(buf[8], sizeof buf[8], "STAGGER_PID=%ld", (long)getpid());
    snprintf(buf[9], sizeof buf[9], "STAGGER_EXE=%s", d->exe);
    snprintf(buf[10], sizeof buf[10], "STAGGER_CONFIG=%s", d->config_abs);
    const char *path = getenv("PATH");
    if (d->hook_env)
        for (char **e = d->hook_env; *e; e++) free(*e);
    free(d->hook_env);
    const int nbuf = (int)(sizeof buf / sizeof buf[0]);
    d->hook_env = calloc((size_t)nbuf + 2, sizeof *d->hook_env);
    for (int i = 0; i < nbuf; i++) d->hook_env[i] = strdup(buf[i]);
    char p[4096];
    snprintf(p, sizeof p, "PATH=%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    d->hook_env[nbuf] = strdup(p);
}

static void on_timer(uv_timer_t *t);

static void arm_timer(daemon_t *d) {
    int64_t wait = stg_core_next_wakeup(d->core) - wall_ms();
    if (wait < 0) wait = 0;
    if (wait > 60000) wait = 60000;
    d->due_ns = uv_hrtime() + (uint64_t)wait * 1000000u;
    uv_timer_start(&d->timer, on_timer, (uint64_t)wait, 0);
}

static void apply_actions(daemon_t *d);

/* Carry out the actions of the step that was given now_ms. */
static void apply(daemon_t *d, int64_t now_ms) {
    int64_t outer = log_step_ms;
    log_step_ms = now_ms;
    apply_actions(d);
    log_step_ms = outer;
}

static void apply_actions(daemon_t *d) {
    stg_actions_t *a = d->acts;
    if (a->dropped)
        say(STG_LOG_WARNING, "core", "%u actions did not fit in one step and were dropped",
            a->dropped);
    for (unsigned i = 0; i < a->n; i++) {
        const stg_action_t *x = &a->a[i];
        switch (x->type) {
        case STG_ACT_SEND: {
            if (STG_SELFTEST_MUTE) break;
            int rc = -1;
            if (d->reply_route && x->peer == d->reply_peer)
                rc = stg_net_reply(d->net, d->reply_route, x->data, x->len);
            if (rc < 0) rc = stg_net_send(d->net, (unsigned)x->peer, x->data, x->len);
            if (rc < 0 && rc != -EAGAIN)
                say(STG_LOG_DEBUG, "net", "send to %d: %s", x->peer, stg_strerror(rc));
            break;
        }
        case STG_ACT_PERSIST: {
            int rc = persist(d, x->store, x->data, x->len);
            if (x->store == STG_STORE_JOURNAL) {
                /* The core holds what depends on this write until it hears
                 * how it went (after this action list: see step). */
                char why[160];
                snprintf(why, sizeof why, "%s: %s", store_file(x->store),
                         rc < 0 ? strerror(-rc) : "ok");
                stg_event_t ev = {.type = STG_EV_PERSISTED, .now_ms = wall_ms(),
                                  .store = x->store, .gen = x->gen, .ok = rc == 0, .detail = why};
                step(d, &ev);
            }
            break;
        }
        case STG_ACT_LOG:
            say((int)x->level, x->tag, "%.*s", (int)x->len, (const char *)x->data);
            break;
        case STG_ACT_RUN_HEALTH: run_health(d, x->component); break;
        case STG_ACT_RUN_HOOK: run_update_hook(d, x->hook, x->release); break;
        case STG_ACT_ROSTER_CHANGED:
            if (stg_core_self(d->core) < 0) break;
            rebuild_peers(d);
            make_hook_env(d);
            break;
        }
    }
}

/* Events that arise while actions are being carried out (a hook that is
 * not configured answers at once) wait here, so one action list is never
 * overwritten while it is being read. */
#define DEFERRED_MAX 8
typedef struct {
    stg_event_t ev;
    char detail[STG_DETAIL_MAX + 1];
} deferred_t;
static deferred_t deferred[DEFERRED_MAX];
static unsigned ndeferred;
static bool in_step;

/* Lifeguard's loop-late rule (docs/protocol.md §7.5): the core hears how
 * late its wake-up came (the timer fired, or another event was handled,
 * after it was due: no CPU for us, or a long burst of work) before the
 * event that noticed it, so it does not blame peers for answers that
 * waited unread. A few ms is the timer's ordinary slack. */
#define LATE_REPORT_MS 10
static void report_late(daemon_t *d, int64_t now_ms) {
    uint64_t now = uv_hrtime();
    if (!d->due_ns || now < d->due_ns + LATE_REPORT_MS * 1000000u) return;
    stg_event_t ev = {.type = STG_EV_LOOP_LATE, .now_ms = now_ms,
                      .late_ms = (int64_t)((now - d->due_ns) / 1000000u)};
    d->due_ns = 0;
    stg_core_step(d->core, &ev, d->acts);
    apply(d, ev.now_ms);
}

static void step(daemon_t *d, const stg_event_t *ev) {
    if (d->stopping) return;
    if (in_step) {
        if (ndeferred == DEFERRED_MAX) {
            say(STG_LOG_ERROR, "core", "event queue full; dropping a %s event (bug)", "nested");
            return;
        }
        deferred_t *q = &deferred[ndeferred++];
        q->ev = *ev;
        snprintf(q->detail, sizeof q->detail, "%s", ev->detail ? ev->detail : "");
        q->ev.detail = q->detail;
        q->ev.data = NULL; /* only data-less events are ever deferred */
        q->ev.len = 0;
        return;
    }
    in_step = true;
    report_late(d, ev->now_ms);
    stg_core_step(d->core, ev, d->acts);
    apply(d, ev->now_ms);
    for (unsigned i = 0; i < ndeferred && !d->stopping; i++) {
        stg_core_step(d->core, &deferred[i].ev, d->acts);
        apply(d, deferred[i].ev.now_ms);
    }
    ndeferred = 0;
    in_step = false;
    away_answer(d);
    if (!d->stopping) arm_timer(d);
    /* What a pending re-exec waits for may be over now (a hook ended, a
     * write is on disk): look again from the loop's top level, not from
     * inside a transport callback, where the sockets cannot be closed. */
    if (d->reexec_pending && !d->stopping) arm_reexec(d);
}

static void on_timer(uv_timer_t *t) {
    daemon_t *d = t->data;
    stg_event_t ev = {.type = STG_EV_TICK, .now_ms = wall_ms()};
    step(d, &ev);
}

/* ---- transport callbacks ---------------------------------------------- */

static bool admit(void *ctx, const uint8_t x[32], char user_id[STG_NET_USER_ID_MAX]) {
    daemon_t *d = ctx;
    for (size_t i = 0; i < d->nadmitted; i++)
        if (sodium_memcmp(d->admitted[i].x, x, 32) == 0) {
            snprintf(user_id, STG_NET_USER_ID_MAX, "%s", d->admitted[i].user_id);
            return true;
        }
    return false;
}

/* Send one reply frame (status-rep, error-rep, ok-rep) back on the
 * connection the request came in on. */
static void reply(daemon_t *d, const stg_net_route_t *route, stg_msg_t *m) {
    m->serial = (uint64_t)stg_core_roster(d->core)->serial;
    size_t cap = STG_WIRE_HEADER + 1 + m->blob_len;
    uint8_t *frame = malloc(cap);
    int n = frame ? stg_msg_encode(m, frame, cap) : -1;
    if (n > 0) stg_net_reply(d->net, route, frame, (size_t)n);
    free(frame);
}

/* The status document (docs/protocol.md §8): the core's, with the
 * transport's counters. Caller owns it. */
static json_t *status_doc(daemon_t *d) {
    json_t *st = stg_core_status_json(d->core, wall_ms());
    stg_net_stats_t ns;
    stg_net_stats(d->net, &ns);
    json_object_set_new(st, "transport",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "zap_allowed",
                                  (json_int_t)ns.zap_allowed, "zap_denied",
                                  (json_int_t)ns.zap_denied, "frames_bad",
                                  (json_int_t)ns.frames_bad, "rx_msgs", (json_int_t)ns.rx_msgs,
                                  "tx_msgs", (json_int_t)ns.tx_msgs, "tx_dropped",
                                  (json_int_t)ns.tx_dropped, "unknown_sender",
                                  (json_int_t)d->unknown_sender));
    return st;
}

static void reply_status(daemon_t *d, const stg_net_route_t *route) {
    json_t *st = status_doc(d);
    char *text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    if (!text) return;
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_STATUS_REP;
    m.blob = (const uint8_t *)text;
    m.blob_len = strlen(text);
    reply(d, route, &m);
    free(text);
}

/* One request to the endpoint: the status document, as the metrics text
 * or as the status page. */
static char *render_metrics(void *ctx, stg_serve_t what, size_t *len) {
    daemon_t *d = ctx;
    json_t *st = status_doc(d);
    char version[64];
    stg_version_string(version, sizeof version);
    char *text = !st                      ? NULL
                 : what == STG_SERVE_PAGE ? stg_page_html(st, version, len)
                                          : stg_metrics_text(st, stg_core_stats(d->core),
                                                             &d->hook_stats, version, len);
    json_decref(st);
    return text;
}

/* error-rep or ok-rep: a code and a line of text (docs/protocol.md §7.9). */
static void reply_verdict(daemon_t *d, const stg_net_route_t *route, int type, uint8_t code,
                          const char *text) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.reason = code;
    m.outcome = code;
    m.blob = (const uint8_t *)text;
    m.blob_len = strnlen(text, STG_REPLY_TEXT_MAX);
    reply(d, route, &m);
}

/* What a client's frame could change in the core, read before and after
 * the step that processed it: the reply is decided from the difference,
 * so the shell needs no policy of its own (the core stays untouched). */
typedef struct {
    uint64_t rejects[STG_REJECT__COUNT];
    int64_t serial, cmd_seq;
    bool have_release[STG_COMPONENTS_MAX]; /* each of our components' adopted release */
    uint8_t release_id[STG_COMPONENTS_MAX][8];
} core_mark_t;

static void mark(const daemon_t *d, core_mark_t *mk) {
    memcpy(mk->rejects, stg_core_stats(d->core)->rejects, sizeof mk->rejects);
    mk->serial = stg_core_roster(d->core)->serial;
    mk->cmd_seq = stg_core_cmd_seq(d->core);
    memset(mk->release_id, 0, sizeof mk->release_id);
    for (unsigned k = 0; k < STG_COMPONENTS_MAX; k++)
        mk->have_release[k] = stg_core_release_of(d->core, k, mk->release_id[k]) != NULL;
}

/* The reason whose counter grew between two marks, or NONE. One frame is
 * refused for one reason; should two ever grow, the first listed wins. */
static stg_reject_t grown(const core_mark_t *before, const core_mark_t *after) {
    for (int k = 1; k < STG_REJECT__COUNT; k++)
        if (after->rejects[k] > before->rejects[k]) return (stg_reject_t)k;
    return STG_REJECT_NONE;
}

/* Why the core refused a client's document, in words: the decoders are
 * pure, so opening the document again gives the message the core logged;
 * what only the core decides (an old release, a replayed command) is said
 * from the marks. The reason itself always comes from the counters. */
static void refusal_text(const daemon_t *d, const stg_msg_t *m, stg_reject_t why,
                         const core_mark_t *before, char *out, size_t cap) {
    const stg_roster_t *r = stg_core_roster(d->core);
    stg_diag_t dg = {0};
    int rc = 0;
    if (why == STG_REJECT_NOT_ALLOWED) {
        stg_diag_set(&dg, why, "message",
                     "%s from a client: clients may send status-req, roster, release and "
                     "command",
                     stg_msg_name(m->type));
        rc = STG_EREJECT;
    } else if (m->type == STG_MSG_ROSTER) {
        stg_roster_t *tmp = malloc(sizeof *tmp);
        rc = tmp ? stg_roster_open(m->blob, m->blob_len, r, tmp, &dg) : 0;
        free(tmp);
    } else if (m->type == STG_MSG_RELEASE) {
        stg_release_t rel;
        rc = stg_release_open(m->blob, m->blob_len, r, &rel, &dg);
        int k = rc == 0 ? comp_index(d, rel.component) : -1;
        const stg_release_t *held = k >= 0 ? stg_core_release_of(d->core, (unsigned)k, NULL) : NULL;
        if (rc == 0 && why == STG_REJECT_STALE && held)
            rc = stg_diag_set(&dg, why, "release", "%s %s is not newer than the adopted %s",
                              rel.component, rel.version, held->version);
    } else if (m->type == STG_MSG_COMMAND) {
        stg_command_t *cmd = malloc(sizeof *cmd);
        rc = cmd ? stg_command_open(m->blob, m->blob_len, r, wall_ms(), cmd, NULL, &dg) : 0;
        if (rc == 0 && cmd && why == STG_REJECT_REPLAY)
            rc = stg_diag_set(&dg, why, "command", "%s #%lld is not above the last applied #%lld",
                              stg_cmd_name(cmd->action), (long long)cmd->seq,
                              (long long)before->cmd_seq);
        /* Which members lack what the action needs: the core's own words,
         * from the records it held when it refused (a refusal changes
         * nothing, so it holds them still). */
        if (rc == 0 && cmd && why == STG_REJECT_MISSING_CAPABILITY)
            rc = stg_core_cmd_capable(d->core, cmd, &dg);
        free(cmd);
    }
    snprintf(out, cap, "%s", rc != 0 && dg.msg[0] ? dg.msg : stg_reject_text(why));
}

/* What an accepted document did: applied (the marks moved), held already,
 * or not for this node (another component's release; a node outside the
 * roster applies no command). */
static stg_outcome_t outcome_text(const daemon_t *d, const stg_msg_t *m,
                                  const core_mark_t *before, const core_mark_t *after,
                                  char *out, size_t cap) {
    if (m->type == STG_MSG_ROSTER) {
        if (after->serial != before->serial) {
            snprintf(out, cap, "roster serial %lld adopted (was %lld)", (long long)after->serial,
                     (long long)before->serial);
            return STG_OUTCOME_APPLIED;
        }
        snprintf(out, cap, "roster serial %lld is held already", (long long)after->serial);
        return STG_OUTCOME_HELD;
    }
    if (m->type == STG_MSG_RELEASE) {
        stg_release_t rel;
        memset(&rel, 0, sizeof rel);
        stg_release_open(m->blob, m->blob_len, stg_core_roster(d->core), &rel, NULL);
        int k = comp_index(d, rel.component);
        bool moved = k >= 0 && after->have_release[k] &&
                     (!before->have_release[k] ||
                      memcmp(after->release_id[k], before->release_id[k], 8));
        if (moved) {
            snprintf(out, cap, "release %s %s adopted", rel.component, rel.version);
            return STG_OUTCOME_APPLIED;
        }
        if (k < 0) {
            char ours[STG_COMPONENTS_MAX * (STG_NAME_MAX + 2)] = "";
            for (unsigned j = 0; j < d->cfg.ncomponents; j++) {
                size_t n = strlen(ours);
                snprintf(ours + n, sizeof ours - n, "%s%s", j ? ", " : "", d->cfg.comp[j].name);
            }
            snprintf(out, cap, "release of %s: this node manages %s", rel.component, ours);
            return STG_OUTCOME_NOT_HERE;
        }
        snprintf(out, cap, "release %s %s is held already", rel.component, rel.version);
        return STG_OUTCOME_HELD;
    }
    if (after->cmd_seq != before->cmd_seq) {
        snprintf(out, cap, "command #%lld applied", (long long)after->cmd_seq);
        return STG_OUTCOME_APPLIED;
    }
    snprintf(out, cap, "this node is not a member of roster serial %lld: it applies no command",
             (long long)after->serial);
    return STG_OUTCOME_NOT_HERE;
}

/* An applied document whose write failed here is only pending (docs/
 * protocol.md §7.9): the node holds it in memory, what waits on its journal
 * waits, and a restart forgets it. APPLIED when the writes worked. */
static stg_outcome_t pending_text(const daemon_t *d, const stg_msg_t *m, char *text,
                                  size_t cap) {
    stg_store_t store = STG_STORE_JOURNAL;
    if (m->type == STG_MSG_ROSTER && d->store_err[STG_STORE_ROSTER].failures)
        store = STG_STORE_ROSTER;
    else if (stg_core_journal_ok(d->core))
        return STG_OUTCOME_APPLIED;
    const store_err_t *e = &d->store_err[store];
    size_t n = strnlen(text, cap);
    snprintf(text + n, cap - n,
             ", but this node cannot write its %s (%s): it holds it in memory only (what "
             "waits on its journal waits, and a restart forgets it); hand it to another "
             "peer as well, and check this node's disk",
             store_file(store), e->err ? strerror(e->err) : "write failed");
    return STG_OUTCOME_PENDING;
}

/* A frame from a client (operator or observer key, not a member): the core
 * takes it like any other, and the client gets exactly one answer. */
static void client_msg(daemon_t *d, const stg_net_route_t *route, const uint8_t *body, size_t len) {
    stg_msg_t *m = malloc(sizeof *m);
    core_mark_t *before = malloc(sizeof *before), *after = malloc(sizeof *after);
    if (!m || !before || !after) goto out;
    stg_diag_t dg = {0};
    bool decoded = stg_msg_decode(body, len, m, &dg) == 0;
    mark(d, before);
    stg_event_t ev = {.type = STG_EV_MESSAGE, .now_ms = wall_ms(), .from = -1, .data = body,
                      .len = len};
    step(d, &ev);
    if (d->stopping || !route) goto out;
    mark(d, after);
    stg_reject_t why = grown(before, after);
    char text[STG_REPLY_TEXT_MAX];
    if (why != STG_REJECT_NONE) {
        if (decoded) refusal_text(d, m, why, before, text, sizeof text);
        else snprintf(text, sizeof text, "%s", dg.msg);
        reply_verdict(d, route, STG_MSG_ERROR_REP, (uint8_t)why, text);
    } else if (decoded && (m->type == STG_MSG_ROSTER || m->type == STG_MSG_RELEASE ||
                           m->type == STG_MSG_COMMAND)) {
        stg_outcome_t o = outcome_text(d, m, before, after, text, sizeof text);
        if (o == STG_OUTCOME_APPLIED) o = pending_text(d, m, text, sizeof text);
        reply_verdict(d, route, STG_MSG_OK_REP, (uint8_t)o, text);
    } else {
        /* The core counts every refusal; a frame it neither refused nor took
         * is a bug here or there: say so rather than leave the client
         * waiting. */
        say(STG_LOG_ERROR, "proto", "a client's %s was neither refused nor taken (bug)",
            decoded ? stg_msg_name(m->type) : "frame");
        reply_verdict(d, route, STG_MSG_ERROR_REP, STG_REJECT_BAD_VALUE, "not processed");
    }
out:
    free(m);
    free(before);
    free(after);
}

static void on_msg(void *ctx, const char *user_id, const stg_net_route_t *route,
                   const uint8_t *body, size_t len) {
    daemon_t *d = ctx;
    if (d->stopping) return;
    const stg_roster_t *r = stg_core_roster(d->core);
    /* ZAP ran at the handshake; the roster may have changed since. The
     * key is only looked up among the roster's, which were checked when
     * it was loaded: no point check per message. */
    stg_pubkey_t k;
    int from = -2;
    if (stg_pubkey_lookup_b64(&k, user_id) == 0) {
        from = stg_roster_find_key(r, &k);
        if (from < 0) {
            for (unsigned i = 0; i < r->noperators; i++)
                if (stg_pubkey_eq(&k, &r->operators[i])) from = -1;
            for (unsigned i = 0; i < r->nobservers; i++)
                if (stg_pubkey_eq(&k, &r->observers[i])) from = -1;
        }
    }
    if (from == -2) {
        d->unknown_sender++;
        return;
    }
    /* status-req is the shell's to answer (the core has no status message):
     * from anyone, when it decodes strictly. A bad one goes on to the core,
     * which counts why, and a client gets that reason. */
    if (stg_msg_peek_type(body, len, NULL) == STG_MSG_STATUS_REQ) {
        stg_msg_t *m = malloc(sizeof *m);
        bool good = m && stg_msg_decode(body, len, m, NULL) == 0;
        free(m);
        if (good) {
            if (route) reply_status(d, route);
            return;
        }
    }
    if (from == -1) {
        client_msg(d, route, body, len);
        return;
    }
    stg_event_t ev = {.type = STG_EV_MESSAGE, .now_ms = wall_ms(), .from = from, .data = body,
                      .len = len};
    if (route) {
        d->reply_peer = from;
        d->reply_route = route;
    }
    step(d, &ev);
    d->reply_route = NULL;
}

/* An established connection to a member ended: tell the core, which
 * probes it now rather than at its turn (a killed peer's kernel resets
 * its connections at once). */
static void on_peer(void *ctx, unsigned peer_id, stg_net_peer_event_t what, int detail) {
    (void)detail;
    daemon_t *d = ctx;
    if (d->stopping || what != STG_NET_PEER_DOWN) return;
    stg_event_t ev = {.type = STG_EV_LINK_LOST, .now_ms = wall_ms(), .from = (int)peer_id};
    step(d, &ev);
}

/* ---- signals and shutdown --------------------------------------------- */

static void shutdown_(daemon_t *d, const char *why) {
    if (d->stopping) return;
    say(STG_LOG_INFO, "shell", "stopping (%s)", why);
    d->stopping = true;
    health_kill_all(d);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_hup, NULL);
    uv_close((uv_handle_t *)&d->sig_usr1, NULL);
    uv_close((uv_handle_t *)&d->sig_usr2, NULL);
    uv_close((uv_handle_t *)&d->reexec_timer, NULL);
    stg_net_close(&d->net);
    stg_metrics_stop(&d->metrics);
}

/* ---- re-exec: replace this image with the binary now at its path ------- */

/* Why SIGUSR2 and not "when the install hook ends": the operator can ask
 * too (a binary put in place by hand or by a package), and the stagger
 * hooks ask once the new binary is in place; the daemon alone decides when
 * it is safe. It waits until (docs/operations.md, "Upgrading stagger
 * itself"): no install, rollback or gate hook runs (one that asked ends
 * first, and its result is journaled by the old image: the new one never
 * has to guess what an interrupted hook did); the core's last journal write
 * worked and nothing waits behind one (every message and hook run that
 * depended on it is out); no health hook runs (one is killed, its verdict
 * dropped). Then the ordinary stop closes the sockets (linger bounded, the
 * ZeroMQ context terminated), the timers, signals and the metrics server,
 * and main() executes the binary with the same argv: same pid, same state
 * directory, and the journal resumes the phase (verifying, after an
 * install). */
static void reexec_wait(daemon_t *d, const char *what) {
    if (strcmp(d->reexec_waits, what) == 0) return;
    snprintf(d->reexec_waits, sizeof d->reexec_waits, "%s", what);
    say(STG_LOG_INFO, "shell", "re-exec: waiting until %s", what);
}

static void try_reexec(daemon_t *d) {
    if (!d->reexec_pending || d->stopping) return;
    if (d->update_running) {
        reexec_wait(d, "the running install, rollback or gate hook ends");
        return;
    }
    if (!stg_core_journal_ok(d->core) || stg_core_held_actions(d->core)) {
        reexec_wait(d, "the journal is written and nothing waits behind it");
        return;
    }
    if (health_any(d)) {
        reexec_wait(d, "the health hooks, killed now, are gone");
        health_kill_all(d);
        return;
    }
    char version[64];
    stg_version_string(version, sizeof version);
    say(STG_LOG_INFO, "shell", "re-exec: journal written, no hook running; closing the sockets "
        "and executing %s (now running %s, pid %ld)", d->exe, version, (long)getpid());
    d->reexec = true;
    shutdown_(d, "re-exec");
}

static void on_reexec_check(uv_timer_t *t) { try_reexec(t->data); }

static void arm_reexec(daemon_t *d) {
    if (!d->stopping) uv_timer_start(&d->reexec_timer, on_reexec_check, 0, 0);
}

static void request_reexec(daemon_t *d, const char *why) {
    if (d->stopping) return;
    if (!d->reexec_pending)
        say(STG_LOG_INFO, "shell", "%s: re-exec of %s requested", why, d->exe);
    d->reexec_pending = true;
    arm_reexec(d);
}

/* After the loop stopped: every fd but stdio is made close-on-exec (what
 * libuv, ZeroMQ and our files open already is; this catches anything a
 * library left), the signals a hook or operator may repeat are ignored
 * until the new image handles them (their default would kill it), and the
 * new binary runs. Should it not run (gone, not executable, wrong format),
 * the image we are is executed again from /proc/self/exe, which stays
 * valid after the file was replaced: the daemon goes on, on its old
 * version, and says so. Returns only when both failed. */
static int do_reexec(const daemon_t *d, char **argv) {
    DIR *dir = opendir("/proc/self/fd");
    if (dir) {
        for (struct dirent *e = readdir(dir); e; e = readdir(dir)) {
            int fd = atoi(e->d_name);
            if (fd <= STDERR_FILENO || fd == dirfd(dir)) continue;
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0 && !(fl & FD_CLOEXEC)) {
                say(STG_LOG_DEBUG, "shell", "re-exec: fd %d was not close-on-exec", fd);
                fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
            }
        }
        closedir(dir);
    }
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    char version[64];
    stg_version_string(version, sizeof version);
    setenv("STAGGER_REEXEC_FROM", version, 1);
    fflush(stderr);
    execv(d->exe, argv);
    say(STG_LOG_ERROR, "shell", "re-exec: cannot execute %s: %s; executing this image (%s) again",
        d->exe, strerror(errno), version);
    fflush(stderr);
    execv("/proc/self/exe", argv);
    say(STG_LOG_ERROR, "shell", "re-exec: cannot execute /proc/self/exe either: %s; exiting, "
        "the supervisor must start staggerd", strerror(errno));
    return 3;
}

static int load_roster_file(const char *path, const stg_roster_t *current, uint8_t **env,
                            size_t *len, stg_roster_t *out, char *msg, size_t cap) {
    int rc = stg_file_read(path, stg_envelope_size(STG_PAYLOAD_MAX, STG_SIG_MAX), env, len, msg,
                           cap);
    if (rc < 0) return rc;
    stg_diag_t dg = {0};
    rc = stg_roster_open(*env, *len, current, out, &dg);
    if (rc) {
        snprintf(msg, cap, "%s: %s", path, dg.msg);
        free(*env);
        *env = NULL;
    }
    return rc;
}

/* SIGHUP: take the log level and the hook paths from the configuration
 * file again. The rest (key, roster path, listen, metrics, state_dir,
 * component, tuning) is fixed for the daemon's life: a change there is reported as
 * needing a restart, and the running values stay. */
static void hook_unusable_log(void *config, const char *line);

/* The same components, by name and in the same order. */
static bool same_components(const stg_config_t *a, const stg_config_t *b) {
    if (a->ncomponents != b->ncomponents) return false;
    for (unsigned k = 1; k < a->ncomponents; k++)
        if (strcmp(a->comp[k].name, b->comp[k].name) != 0) return false;
    return true;
}

static void reload_config(daemon_t *d) {
    stg_config_t *c = malloc(sizeof *c);
    char msg[1024];
    if (!c || stg_config_load(d->config_path, c, msg, sizeof msg) != 0) {
        say(STG_LOG_WARNING, "shell", "SIGHUP: keeping the current configuration: %s",
            c ? msg : "out of memory");
        free(c);
        return;
    }
    const struct {
        const char *field;
        bool same;
    } fixed[] = {
        {"key", strcmp(c->key, d->cfg.key) == 0},
        {"roster", strcmp(c->roster, d->cfg.roster) == 0},
        {"listen", strcmp(c->listen, d->cfg.listen) == 0},
        {"metrics", strcmp(c->metrics, d->cfg.metrics) == 0},
        {"state_dir", strcmp(c->state_dir, d->cfg.state_dir) == 0},
        {"component", strcmp(c->comp[0].name, d->cfg.comp[0].name) == 0},
        {"components", same_components(c, &d->cfg)},
        {"tuning", memcmp(&c->tuning, &d->cfg.tuning, sizeof c->tuning) == 0},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!fixed[i].same)
            say(STG_LOG_WARNING, "shell", "SIGHUP: %s changed in %s; it takes effect at the next "
                "restart (systemctl restart staggerd)", fixed[i].field, d->config_path);
    static const char *const levels[] = {"error", "warning", "info", "debug"};
    if (c->log_level != d->cfg.log_level)
        say(STG_LOG_INFO, "shell", "SIGHUP: log level %s -> %s", levels[d->cfg.log_level],
            levels[c->log_level]);
    d->cfg.log_level = log_level = c->log_level;
    /* The hooks of the components we run with: a component added or
     * removed waits for the restart, like the names. */
    for (unsigned k = 0; k < d->cfg.ncomponents; k++) {
        int j = k == 0 ? 0 : same_components(c, &d->cfg) ? (int)k : -1;
        if (j >= 0) d->cfg.comp[k].hooks = c->comp[j].hooks;
    }
    stg_config_check_hooks(&d->cfg, hook_unusable_log, (void *)d->config_path);
    char hooks[STG_COMPONENTS_MAX * (4 * STG_PATH_MAX + 96)];
    size_t n = 0;
    hooks[0] = '\0';
    for (unsigned k = 0; k < d->cfg.ncomponents && n < sizeof hooks; k++) {
        const stg_hooks_t *h = &d->cfg.comp[k].hooks;
        char of[STG_NAME_MAX + 8] = "";
        if (k) snprintf(of, sizeof of, "; %s", d->cfg.comp[k].name);
        n += (size_t)snprintf(hooks + n, sizeof hooks - n, "%s hooks health=%s install=%s "
                              "rollback=%s gate=%s", of, h->health[0] ? h->health : "-",
                              h->install[0] ? h->install : "-", h->rollback[0] ? h->rollback : "-",
                              h->gate[0] ? h->gate : "-");
    }
    say(STG_LOG_INFO, "shell", "SIGHUP: re-read %s: log level %s,%s", d->config_path,
        levels[log_level], hooks);
    free(c);
}

static void on_signal(uv_signal_t *s, int signum) {
    daemon_t *d = s->data;
    if (signum == SIGUSR2) {
        request_reexec(d, "SIGUSR2");
        return;
    }
    if (signum == SIGUSR1) {
        /* "Look now": after a deliberate change of the service, its new
         * version or health reaches the fleet without waiting for the next
         * health_interval_ms. One run at a time, as always. */
        say(STG_LOG_DEBUG, "hook", "SIGUSR1: running the health hook%s now%s",
            d->cfg.ncomponents > 1 ? "s" : "",
            health_any(d) ? " (one is running: its result will do)" : "");
        for (unsigned k = 0; k < d->cfg.ncomponents; k++) run_health(d, k);
        return;
    }
    if (signum != SIGHUP) {
        shutdown_(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
    reload_config(d);
    /* SIGHUP: offer the roster file again; a higher serial replaces ours. */
    uint8_t *env = NULL;
    size_t len = 0;
    char msg[512];
    stg_roster_t *tmp = malloc(sizeof *tmp);
    int rc = tmp ? load_roster_file(d->cfg.roster, NULL, &env, &len, tmp, msg, sizeof msg) : -1;
    free(tmp);
    if (rc) {
        say(STG_LOG_WARNING, "roster", "SIGHUP: keeping the current roster: %s", msg);
        return;
    }
    say(STG_LOG_INFO, "roster", "SIGHUP: offering %s", d->cfg.roster);
    stg_event_t ev = {.type = STG_EV_ROSTER, .now_ms = wall_ms(), .data = env, .len = len};
    step(d, &ev);
    free(env);
}

/* ---- start-up --------------------------------------------------------- */

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%sstaggerd: ", log_journal ? "<3>" : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* A configured hook that cannot run: fatal for --check-config; at start
 * and after SIGHUP an error to act on while the daemon carries on (the
 * hook's next run fails and says so again). */
static void hook_unusable_fatal(void *config, const char *line) {
    fail("%s: %s", (const char *)config, line);
}

static void hook_unusable_log(void *config, const char *line) {
    say(STG_LOG_ERROR, "hook", "%s: %s", (const char *)config, line);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: staggerd --config FILE [--check-config]\n"
            "       staggerd --version | --help\n"
            "\n"
            "The stagger peer daemon: gossips this node's version and health with the\n"
            "fleet's other members over CURVE-authenticated ZeroMQ, and takes part in\n"
            "the staggered rollout of releases.\n"
            "\n"
            "options:\n"
            "  -c, --config FILE   daemon configuration (JSON; see docs/operations.md)\n"
            "  -k, --check-config  check the configuration, key, roster and hooks, then exit\n"
            "  -V, --version       print the version (and git revision) and exit\n"
            "  -h, --help          show this help\n"
            "\n"
            "signals:\n"
            "  SIGTERM, SIGINT     stop cleanly\n"
            "  SIGHUP              re-read the configuration's log level and hooks, and the\n"
            "                      roster file (adopted when its serial is higher); other\n"
            "                      settings need a restart\n"
            "  SIGUSR1             run the health hook now\n"
            "  SIGUSR2             re-exec: once no hook runs and the journal is written,\n"
            "                      run the binary now at this one's path, same pid and\n"
            "                      arguments (how the stagger hooks upgrade staggerd)\n"
            "\n"
            "exit codes:\n"
            "  0  clean stop, or the configuration checked is good\n"
            "  1  bad configuration, key or roster (the message names the file and field)\n"
            "  2  usage error (bad command line)\n"
            "  3  runtime failure (cannot write the state directory)\n"
            "\n"
            "example:\n"
            "  staggerd --config /etc/stagger/staggerd.json --check-config\n");
}

/* NAME.tmp.PID: what stg_file_write_atomic writes before its rename. */
static bool stale_temp_name(const char *name) {
    const char *tail = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) tail = p;
    if (!tail || tail == name || !tail[5]) return false;
    for (const char *p = tail + 5; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

/* A kill between a write and its rename leaves the temporary file behind.
 * At start none of them can be ours in flight: remove every regular file
 * of that pattern in the state directory, and nothing else. */
static void remove_stale_temps(const daemon_t *d) {
    DIR *dir = opendir(d->cfg.state_dir);
    if (!dir) {
        say(STG_LOG_WARNING, "journal", "cannot list %s for stale temporary files: %s",
            d->cfg.state_dir, strerror(errno));
        return;
    }
    unsigned removed = 0;
    for (struct dirent *e = readdir(dir); e; e = readdir(dir)) {
        struct stat st;
        if (!stale_temp_name(e->d_name) ||
            fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(dir), e->d_name, 0) == 0) removed++;
        else
            say(STG_LOG_WARNING, "journal", "cannot remove the stale temporary file %s/%s: %s",
                d->cfg.state_dir, e->d_name, strerror(errno));
    }
    closedir(dir);
    if (removed)
        say(STG_LOG_INFO, "journal", "removed %u stale temporary file%s (NAME.tmp.PID) from %s, "
            "left by a daemon stopped between a write and its rename", removed,
            removed == 1 ? "" : "s", d->cfg.state_dir);
}

static int64_t read_incarnation(const daemon_t *d) {
    char path[STG_PATH_MAX + 64];
    state_path(d, "incarnation", path, sizeof path);
    uint8_t *buf;
    size_t len;
    char msg[256];
    if (stg_file_read(path, 64, &buf, &len, msg, sizeof msg) < 0) return 0;
    char text[65];
    memcpy(text, buf, len);
    text[len] = '\0';
    free(buf);
    return strtoll(text, NULL, 10);
}

/* path made absolute (realpath), or as it is when that fails. */
static void abs_path(const char *path, char *out, size_t cap) {
    char *r = realpath(path, NULL);
    snprintf(out, cap, "%s", r ? r : path);
    free(r);
}

/* The path of the binary we run, for a re-exec: /proc/self/exe as it is
 * at start (a file replaced since shows " (deleted)": that is cut off, the
 * path is what counts), else argv[0] made absolute. */
static void find_exe(daemon_t *d, const char *argv0) {
    ssize_t n = readlink("/proc/self/exe", d->exe, sizeof d->exe - 1);
    if (n > 0) {
        d->exe[n] = '\0';
        static const char deleted[] = " (deleted)";
        size_t len = (size_t)n, dl = sizeof deleted - 1;
        if (len > dl && strcmp(d->exe + len - dl, deleted) == 0) d->exe[len - dl] = '\0';
        return;
    }
    abs_path(argv0, d->exe, sizeof d->exe);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    const char *config = NULL;
    bool check = false;
    int o;
    log_journal = stderr_is_journal();
    while ((o = getopt_long(argc, argv, "c:khV", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config = optarg; break;
        case 'k': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': stg_print_version("staggerd"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) return fail("libsodium failed to initialise");
    /* Secret keys live in this process: no core dumps. */
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);

    static daemon_t dd;
    daemon_t *d = &dd;
    char msg[1024];
    d->config_path = config;
    if (stg_config_load(config, &d->cfg, msg, sizeof msg) != 0) return fail("%s", msg);
    log_level = d->cfg.log_level;
    if (stg_seckey_load(d->cfg.key, &d->key, msg, sizeof msg) != 0)
        return fail("config key: %s", msg);
    stg_roster_t *boot = malloc(sizeof *boot);
    uint8_t *env = NULL;
    size_t len = 0;
    if (load_roster_file(d->cfg.roster, NULL, &env, &len, boot, msg, sizeof msg) != 0)
        return fail("config roster: %s", msg);
    int self = stg_roster_find_key(boot, &d->key->pub);
    if (self < 0)
        return fail("%s: this node's key %s is not a member of fleet %s; add it to the roster "
                    "or point \"key\" at the right file",
                    d->cfg.roster, d->cfg.key, boot->fleet);
    snprintf(d->name, sizeof d->name, "%s", boot->members[self].name);
    log_name = d->name;
    int bad_hooks = stg_config_check_hooks(&d->cfg, check ? hook_unusable_fatal : hook_unusable_log,
                                           (void *)config);
    if (check) {
        char comps[STG_COMPONENTS_MAX * (STG_NAME_MAX + 2) + 16] = "";
        for (unsigned k = 0; d->cfg.ncomponents > 1 && k < d->cfg.ncomponents; k++) {
            size_t n = strlen(comps);
            snprintf(comps + n, sizeof comps - n, "%s%s", k ? ", " : "components ",
                     d->cfg.comp[k].name);
        }
        if (comps[0]) strcat(comps, "; ");
        if (bad_hooks == 0)
            printf("%s: ok: node %s of fleet %s (roster serial %lld, %u members, %shooks "
                   "executable)\n",
                   config, d->name, boot->fleet, (long long)boot->serial, boot->nmembers, comps);
        free(boot);
        free(env);
        stg_seckey_destroy(&d->key);
        return bad_hooks ? 1 : 0;
    }
    find_exe(d, argv[0]);
    abs_path(config, d->config_abs, sizeof d->config_abs);
    if (mkdir(d->cfg.state_dir, 0700) != 0 && errno != EEXIST)
        return fail("state_dir %s: %s", d->cfg.state_dir, strerror(errno));

    /* A roster learnt at run time, newer than the configured one, wins. */
    char spath[STG_PATH_MAX + 64];
    state_path(d, "roster.signed", spath, sizeof spath);
    uint8_t *senv = NULL;
    size_t slen = 0;
    stg_roster_t *later = malloc(sizeof *later);
    if (access(spath, R_OK) == 0 &&
        load_roster_file(spath, boot, &senv, &slen, later, msg, sizeof msg) == 0) {
        free(env);
        env = senv;
        len = slen;
        say(STG_LOG_INFO, "roster", "using roster serial %lld from %s", (long long)later->serial,
            spath);
    }
    free(later);

    remove_stale_temps(d);
    kill_orphaned_hook(d);

    /* The incarnation grows at every start and is on disk before we speak. */
    int64_t inc = read_incarnation(d) + 1;
    char text[32];
    int tn = snprintf(text, sizeof text, "%lld", (long long)inc);
    if (persist(d, STG_STORE_INCARNATION, text, (size_t)tn) != 0) return 3;

    uint8_t *journal = NULL, *commands = NULL;
    size_t journal_len = 0, commands_len = 0;
    if (read_state(d, "journal.json", &journal, &journal_len, msg, sizeof msg) != 0 ||
        read_state(d, "commands.json", &commands, &commands_len, msg, sizeof msg) != 0) {
        free(journal);
        return fail("%s", msg);
    }

    stg_core_config_t cc;
    memset(&cc, 0, sizeof cc);
    cc.journal = journal;
    cc.journal_len = journal_len;
    cc.commands = commands;
    cc.commands_len = commands_len;
    cc.key = d->key;
    cc.roster_env = env;
    cc.roster_len = len;
    cc.incarnation = inc;
    randombytes_buf(&cc.seed, sizeof cc.seed);
    snprintf(cc.component, sizeof cc.component, "%s", d->cfg.comp[0].name);
    cc.nextra = d->cfg.ncomponents - 1;
    for (unsigned k = 1; k < d->cfg.ncomponents; k++)
        snprintf(cc.extra_components[k - 1], sizeof cc.extra_components[0], "%s",
                 d->cfg.comp[k].name);
    stg_version_string(cc.stagger, sizeof cc.stagger);
    cc.tuning = d->cfg.tuning;
    stg_diag_t dg = {0};
    int64_t now = wall_ms();
    d->core = stg_core_new(&cc, now, &dg);
    free(journal);
    free(commands);
    free(env);
    free(boot);
    if (!d->core) return fail("%s", dg.msg);
    d->acts = malloc(sizeof *d->acts);

    d->loop = uv_default_loop();
    const stg_roster_t *r = stg_core_roster(d->core);
    const char *listen = d->cfg.listen[0] ? d->cfg.listen : r->members[stg_core_self(d->core)].endpoint;
    stg_net_callbacks_t cb = {.admit = admit, .on_msg = on_msg, .on_peer = on_peer};
    rebuild_admit(d);
    d->net = stg_net_new(d->loop, d->key, listen, &cb, d, msg, sizeof msg);
    if (!d->net) return fail("cannot listen on %s: %s", listen, msg);
    rebuild_peers(d);
    make_hook_env(d);

    uv_timer_init(d->loop, &d->timer);
    d->timer.data = d;
    uv_signal_init(d->loop, &d->sig_term);
    uv_signal_init(d->loop, &d->sig_int);
    uv_signal_init(d->loop, &d->sig_hup);
    uv_signal_init(d->loop, &d->sig_usr1);
    uv_signal_init(d->loop, &d->sig_usr2);
    uv_timer_init(d->loop, &d->reexec_timer);
    d->reexec_timer.data = d;
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d->sig_usr1.data = d->sig_usr2.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    uv_signal_start(&d->sig_usr1, on_signal, SIGUSR1);
    uv_signal_start(&d->sig_usr2, on_signal, SIGUSR2);
    signal(SIGPIPE, SIG_IGN);

    say(STG_LOG_INFO, "shell", "node %s of fleet %s listening on %s, incarnation %lld, %u members",
        d->name, r->fleet, stg_net_endpoint(d->net), (long long)inc, r->nmembers);
    const char *from = getenv("STAGGER_REEXEC_FROM");
    if (from) {
        char version[64];
        stg_version_string(version, sizeof version);
        say(STG_LOG_INFO, "shell", "re-exec'd from %s to %s (pid %ld, %s)", from, version,
            (long)getpid(), d->exe);
        unsetenv("STAGGER_REEXEC_FROM");
    }
    if (d->cfg.metrics[0]) {
        /* Metrics are for watching, not for running: a port taken by
         * another process is a warning, and the daemon goes on. */
        int mrc = stg_metrics_start(d->loop, d->cfg.metrics, render_metrics, d, &d->metrics, msg,
                                    sizeof msg);
        if (mrc == 0)
            say(STG_LOG_INFO, "shell", "metrics on http://%s/metrics, status page on http://%s/",
                d->cfg.metrics, d->cfg.metrics);
        else
            say(STG_LOG_WARNING, "shell", "metrics: %s; running without them (set \"metrics\" "
                "in %s to another HOST:PORT, or \"\" to turn them off)", msg, d->config_path);
    }
    stg_event_t ev = {.type = STG_EV_TICK, .now_ms = wall_ms()};
    step(d, &ev);
    uv_run(d->loop, UV_RUN_DEFAULT);

    stg_core_destroy(&d->core);
    stg_seckey_destroy(&d->key);
    free(d->acts);
    free(d->admitted);
    if (d->hook_env)
        for (char **e = d->hook_env; *e; e++) free(*e);
    free(d->hook_env);
    uv_loop_close(d->loop);
    if (d->reexec) return do_reexec(d, argv);
    say(STG_LOG_INFO, "shell", "stopped");
    return 0;
}
