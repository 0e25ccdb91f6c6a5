/* watch.c: staggerctl watch, the status table refreshed in place (issue 12).
 * On a terminal it redraws the screen; otherwise it prints the table again,
 * under a time line, whenever it changed, so a log of a rollout reads in
 * order. It ends on Ctrl-C (exit 0) or, with --until, when the rollout is
 * done (0) or halted or failed (4). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }

/* Sleep ms, or less when a signal asks us to stop. */
static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!stop_signal && nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* The rollout as --until sees it: every member runs the adopted release
 * (done), or the fleet grants no slot (halted by an operator, or failed).
 * With other components (rollout.components), each one's release that was
 * published must be done too. */
static bool rollout_done(json_t *st) {
    json_t *ro = json_object_get(st, "rollout"), *more;
    bool any = json_is_object(json_object_get(ro, "release")),
         done = !any || json_integer_value(json_object_get(ro, "pending")) == 0;
    size_t i;
    json_array_foreach(json_object_get(ro, "components"), i, more) {
        if (!json_is_object(json_object_get(more, "release"))) continue;
        any = true;
        done &= json_integer_value(json_object_get(more, "pending")) == 0;
    }
    return any && done;
}

/* What a change is, without the clocks: each member's version, health,
 * phase and liveness, and what the rollout waits for. malloc'd. */
static char *state_key(json_t *st) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    size_t i;
    size_t k;
    json_t *m, *c;
    json_array_foreach(json_object_get(st, "members"), i, m) {
        fprintf(f, "%s|%s|%s|%s|%s", json_string_value(json_object_get(m, "name")),
                json_string_value(json_object_get(m, "version")),
                json_string_value(json_object_get(m, "health")),
                json_string_value(json_object_get(m, "phase")),
                json_string_value(json_object_get(m, "liveness")));
        json_array_foreach(json_object_get(m, "components"), k, c) fprintf(
            f, "|%s %s %s", json_string_value(json_object_get(c, "component")),
            json_string_value(json_object_get(c, "version")),
            json_string_value(json_object_get(c, "health")));
        fprintf(f, "\n");
    }
    json_t *ro = json_object_get(st, "rollout");
    fprintf(f, "%s|%d\n", json_string_value(json_object_get(ro, "waiting")),
            json_is_true(json_object_get(ro, "halted")));
    json_array_foreach(json_object_get(ro, "components"), k, c)
        fprintf(f, "%s\n", json_string_value(json_object_get(c, "waiting")));
    fclose(f);
    return out;
}

static void now_text(char *out, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static int run_watch(const ctl_cmd_t *self, int argc, char **argv) {
    const char *key = NULL, *roster = NULL, *peer = NULL, *every = NULL, *until = NULL,
               *tmo = NULL;
    const ctl_opt_t opts[] = {{"key", 'k', &key, NULL},
                              {"roster", 'r', &roster, NULL},
                              {"peer", 'p', &peer, NULL},
                              {"interval-s", 'i', &every, NULL},
                              {"until", 0, &until, NULL},
                              {"timeout-ms", 't', &tmo, NULL},
                              {0}};
    int rc;
    if (!ctl_parse(self, argc, argv, opts, NULL, 0, &rc)) return rc;
    double interval = every ? atof(every) : 2.0;
    if (interval < 0.2 || interval > 3600) {
        ctl_err("--interval-s %s: must be between 0.2 and 3600 seconds", every);
        return CTL_USAGE;
    }
    if (until && strcmp(until, "done") != 0 && strcmp(until, "halted") != 0) {
        ctl_err("--until %s: must be done or halted", until);
        return CTL_USAGE;
    }
    int timeout_ms;
    stg_roster_t *r;
    stg_seckey_t *k;
    if ((rc = ctl_status_open("watch", key, roster, tmo, &timeout_ms, &r, &k)) != CTL_OK)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: the sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(STDOUT_FILENO);
    char *last = NULL; /* state_key of the last table printed (not a terminal) */
    rc = CTL_OK;
    while (!stop_signal) {
        char when[40], *text = NULL;
        size_t len = 0;
        now_text(when, sizeof when);
        int qrc;
        char *doc = ctl_ask_status(r, peer, k, timeout_ms, &qrc);
        json_t *st = doc ? json_loads(doc, 0, NULL) : NULL;
        free(doc);
        FILE *mem = open_memstream(&text, &len);
        if (!mem) {
            json_decref(st);
            rc = CTL_SYSTEM;
            break;
        }
        char *key_now = st ? state_key(st) : NULL;
        if (st) ctl_print_status(mem, st);
        else fprintf(mem, "no status from %s (it says why above); trying again\n",
                     peer ? peer : "any member");
        fclose(mem);
        if (tty) {
            /* Home, clear, then the frame: one write, so it does not flicker. */
            printf("\033[H\033[2J%s  (every %gs; Ctrl-C to quit)\n\n%s", when, interval, text);
            fflush(stdout);
        } else if (!last || !key_now || strcmp(last, key_now) != 0) {
            printf("--- %s\n%s", when, text);
            fflush(stdout);
        }
        free(text);
        free(last);
        last = key_now;
        bool halted = st && ctl_status_exit(st) == CTL_HALTED;
        bool done = st && rollout_done(st);
        json_decref(st);
        if (until && halted) {
            rc = CTL_HALTED;
            break;
        }
        if (until && strcmp(until, "done") == 0 && done) break;
        pause_ms((long)(interval * 1000));
    }
    free(last);
    stg_seckey_destroy(&k);
    free(r);
    return rc;
}

const ctl_cmd_t ctl_watch_cmd = {
    .name = "watch",
    .summary = "the status of the fleet and the rollout, refreshed in place",
    .usage = "watch --key KEY --roster ROSTER.signed [--peer NAME|ENDPOINT] [--interval-s S] "
             "[--until done|halted] [--timeout-ms N]",
    .text = "Asks one peer for its status (as 'staggerctl status') every --interval-s\n"
            "seconds and shows it. On a terminal the screen is redrawn in place; when\n"
            "stdout is not a terminal, the table is printed again, under a time line,\n"
            "when a member's version, health, phase or liveness, or what the rollout\n"
            "waits for, changed. A peer that does not answer is retried.\n\n"
            "options:\n"
            "  --key FILE          an operator or observer secret key of the roster\n"
            "  --roster FILE       the signed roster (to find the peer and its key)\n"
            "  --peer X            member name or endpoint to ask (default: first that answers)\n"
            "                      or NAME@tcp://HOST:PORT: that member through a tunnel\n"
            "  --interval-s S      seconds between refreshes (default 2; 0.2 to 3600)\n"
            "  --until done        stop when every member runs the adopted release (exit 0),\n"
            "                      or when the rollout is halted or failed (exit 4)\n"
            "  --until halted      stop when the rollout is halted or failed (exit 4)\n"
            "  --timeout-ms N      how long to wait for each answer (default 2000)\n"
            "  -h, --help          show this help",
    .exit_codes = "  0  stopped by Ctrl-C (or SIGTERM), or --until done reached\n"
                  "  2  usage error\n"
                  "  3  file or system error (missing file, bad roster, unsafe key permissions, ...)\n"
                  "  4  --until: the rollout is halted by an operator, or an update failed",
    .example = "staggerctl watch --key ops.key --roster roster.signed --until done",
    .run = run_watch,
};
