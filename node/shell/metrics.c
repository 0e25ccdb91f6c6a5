/* metrics.c: the Prometheus endpoint (metrics.h). */
#include "metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stagger/caps.h"
#include "stagger/wire.h"
#include "text.h"

struct stg_metrics {
    struct MHD_Daemon *mhd;
    uv_poll_t poll;   /* MHD's epoll descriptor: readable when it has work */
    uv_timer_t timer; /* MHD's own timeouts (idle connections) */
    stg_metrics_render_fn render;
    void *ctx;
    int handles;      /* uv handles still open; freed when the last closes */
};

/* ---- the text ------------------------------------------------------------ */

/* A label value, escaped as the text format says (\\, \", \n). */
static const char *esc(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; s && *s && k + 2 < cap; s++) {
        if (*s == '\\' || *s == '"') out[k++] = '\\', out[k++] = *s;
        else if (*s == '\n') out[k++] = '\\', out[k++] = 'n';
        else out[k++] = *s;
    }
    out[k] = '\0';
    return out;
}

static void head(text_t *t, const char *name, const char *type, const char *help) {
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One gauge per member that has a value: get(member, &value) false when
 * it has none (the sample is left out). */
static void per_member(text_t *t, json_t *members, const char *name, const char *help,
                            bool (*get)(json_t *m, double *v)) {
    head(t, name, "gauge", help);
    size_t i;
    json_t *m;
    char e[256];
    double v;
    json_array_foreach(members, i, m) if (get(m, &v))
        put(t, "%s{member=\"%s\"} %g\n", name, esc(jstr(m, "name"), e, sizeof e), v);
}

static bool forging(json_t *m, double *v) {
    json_t *f = json_object_get(m, "forging");
    *v = json_is_true(f);
    return json_is_boolean(f);
}

static bool clock_skew(json_t *m, double *v) {
    json_t *sk = json_object_get(m, "clock_skew_ms");
    *v = (double)json_integer_value(sk) / 1000.0;
    return json_is_integer(sk);
}

/* Every member has these (per_member's getters that always answer). */
static bool up(json_t *m, double *v) {
    *v = strcmp(jstr(m, "liveness"), "alive") == 0;
    return true;
}
static bool rebooting(json_t *m, double *v) {
    *v = strcmp(jstr(m, "liveness"), "rebooting") == 0;
    return true;
}
static bool healthy(json_t *m, double *v) {
    *v = strcmp(jstr(m, "health"), "healthy") == 0;
    return true;
}
static bool warned(json_t *m, double *v) {
    *v = strstr(jstr(m, "detail"), "WARN") != NULL;
    return true;
}

/* The members' other components (status members[].components, docs/
 * operations.md "Components"): one sample per member and component, its
 * version as a label (info) or 1 when its health hook says healthy; the
 * primary's are stagger_member_info and stagger_member_healthy. */
static void per_component(text_t *t, json_t *ms, const char *name, const char *help,
                          bool info) {
    size_t i, k;
    json_t *m, *c;
    char e[3][256];
    head(t, name, "gauge", help);
    json_array_foreach(ms, i, m) json_array_foreach(json_object_get(m, "components"), k, c) {
        put(t, "%s{member=\"%s\",component=\"%s\"", name,
            esc(jstr(m, "name"), e[0], sizeof e[0]), esc(jstr(c, "component"), e[1], sizeof e[1]));
        if (info) put(t, ",version=\"%s\"} 1\n", esc(jstr(c, "version"), e[2], sizeof e[2]));
        else put(t, "} %d\n", strcmp(jstr(c, "health"), "healthy") == 0);
    }
}

static void member_components(text_t *t, json_t *ms) {
    per_component(t, ms, "stagger_member_component_info",
                  "A component a member manages beside its primary (the OS, stagger itself), "
                  "with the version its health hook reports.", true);
    per_component(t, ms, "stagger_member_component_healthy",
                  "1 when the health hook of a member's component beside its primary says "
                  "healthy, else 0.", false);
}

static void members(text_t *t, json_t *st) {
    json_t *ms = json_object_get(st, "members");
    size_t i;
    json_t *m;
    char e[5][256];
    head(t, "stagger_member_info", "gauge",
         "A fleet member as this node sees it: role, flavour, the version its record reports "
         "and its staggerd's own version (stagger, empty when unknown).");
    json_array_foreach(ms, i, m) put(t,
        "stagger_member_info{member=\"%s\",role=\"%s\",flavour=\"%s\",version=\"%s\","
        "stagger=\"%s\"} 1\n",
        esc(jstr(m, "name"), e[0], sizeof e[0]), esc(jstr(m, "role"), e[1], sizeof e[1]),
        esc(jstr(m, "flavour"), e[2], sizeof e[2]), esc(jstr(m, "version"), e[3], sizeof e[3]),
        esc(jstr(m, "stagger"), e[4], sizeof e[4]));
    per_member(t, ms, "stagger_member_up", "1 when the member is alive (SWIM), else 0.", up);
    per_member(t, ms, "stagger_member_rebooting",
               "1 while the member is away on a planned reboot it announced (not suspect, "
               "not dead), else 0.",
               rebooting);
    per_member(t, ms, "stagger_member_warning",
               "1 when the member's health hook detail carries a warning (WARN ..., e.g. a "
               "producer's KES periods running out), healthy or not.",
               warned);
    per_member(t, ms, "stagger_member_healthy",
               "1 when the member's health hook says healthy, else 0 (unhealthy or unknown).",
               healthy);
    head(t, "stagger_member_phase", "gauge",
         "The member's update phase (docs/protocol.md §9.5): 1 for the phase it is in.");
    json_array_foreach(ms, i, m) {
        const char *ph = jstr(m, "phase");
        put(t, "stagger_member_phase{member=\"%s\",phase=\"%s\"} 1\n",
            esc(jstr(m, "name"), e[0], sizeof e[0]), esc(ph[0] ? ph : "unknown", e[1], sizeof e[1]));
    }
    per_member(t, ms, "stagger_member_forging",
                    "1 when the member's health hook says its service forges, 0 when it says "
                    "not; absent when it says nothing.",
                    forging);
    head(t, "stagger_fleet_forgers", "gauge",
         "Members that forge, live ones, as this node sees them: more than 1 is critical (two "
         "forgers make competing blocks) and no update starts.");
    put(t, "stagger_fleet_forgers %zu\n", json_array_size(json_object_get(st, "forgers")));
    head(t, "stagger_fleet_fork", "gauge",
         "1 while members on the release follow another chain than the others (a "
         "version-correlated fork, status `fork`): critical, and no update starts.");
    put(t, "stagger_fleet_fork %d\n", json_is_object(json_object_get(st, "fork")) ? 1 : 0);
    per_member(t, ms, "stagger_member_clock_skew_seconds",
                    "How far a member's clock is off this node's, when it is off by more than "
                    "the rules allow (docs/operations.md, clocks); absent otherwise.",
                    clock_skew);
    json_t *s = json_object_get(st, "summary");
    head(t, "stagger_fleet_members", "gauge", "Fleet members by shown health.");
    static const char *const hs[] = {"healthy", "unhealthy", "unknown"};
    for (int k = 0; k < 3; k++)
        put(t, "stagger_fleet_members{health=\"%s\"} %lld\n", hs[k], jint(s, hs[k]));
    member_components(t, ms);
}

/* The other components' rollouts (status rollout.components), one sample
 * per component that has a release: its rollout's state as the
 * primary's series give it. */
static void component_rollouts(text_t *t, json_t *ro) {
    json_t *more = json_object_get(ro, "components"), *c;
    size_t i;
    char e[256];
    static const struct {
        const char *name, *help;
    } series[] = {
        {"stagger_rollout_component_pending_members",
         "Members still to update to the adopted release of a component beside the primary."},
        {"stagger_rollout_component_wave_members",
         "Members updating a component beside the primary now (holding the machine's slot)."},
        {"stagger_rollout_component_failed",
         "1 while an update of a component beside the primary failed on a member (every "
         "component's rollout halts until resume or abandon)."},
    };
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++) {
        head(t, series[s].name, "gauge", series[s].help);
        json_array_foreach(more, i, c) {
            if (!json_is_object(json_object_get(c, "release"))) continue;
            long long v = s == 0   ? jint(c, "pending")
                          : s == 1 ? (long long)json_array_size(json_object_get(c, "wave"))
                                   : json_is_object(json_object_get(c, "failed"));
            put(t, "%s{component=\"%s\"} %lld\n", series[s].name,
                esc(jstr(c, "component"), e, sizeof e), v);
        }
    }
}

static void rollout(text_t *t, json_t *st) {
    json_t *ro = json_object_get(st, "rollout");
    json_t *rel = json_object_get(ro, "release");
    char e[3][256];
    head(t, "stagger_rollout_release_info", "gauge",
         "The release this node has adopted, one per component it manages.");
    json_t *more = json_object_get(ro, "components");
    for (size_t k = 0; k <= json_array_size(more); k++) {
        json_t *r = k == 0 ? rel : json_object_get(json_array_get(more, k - 1), "release");
        if (json_is_object(r))
            put(t, "stagger_rollout_release_info{component=\"%s\",version=\"%s\",id=\"%s\"} 1\n",
                esc(jstr(r, "component"), e[0], sizeof e[0]),
                esc(jstr(r, "version"), e[1], sizeof e[1]), esc(jstr(r, "id"), e[2], sizeof e[2]));
    }
    head(t, "stagger_rollout_halted", "gauge", "1 while the operator has halted the fleet.");
    put(t, "stagger_rollout_halted %d\n", json_is_true(json_object_get(ro, "halted")));
    head(t, "stagger_rollout_failed", "gauge",
         "1 while an update of the adopted release failed on a member (the fleet grants no slot "
         "for it until resume or abandon).");
    put(t, "stagger_rollout_failed %d\n", json_is_object(json_object_get(ro, "failed")));
    head(t, "stagger_rollout_pending_members", "gauge",
         "Members still to update to the adopted release.");
    put(t, "stagger_rollout_pending_members %lld\n", jint(ro, "pending"));
    json_t *wave = json_object_get(ro, "wave");
    long long soak = 0;
    size_t i;
    json_t *w;
    json_array_foreach(wave, i, w) if (jint(w, "soak_left_ms") > soak) soak = jint(w, "soak_left_ms");
    head(t, "stagger_rollout_wave_members", "gauge", "Members updating now (holding a slot).");
    put(t, "stagger_rollout_wave_members %zu\n", json_array_size(wave));
    head(t, "stagger_rollout_soak_remaining_seconds", "gauge",
         "The longest soak left in the wave; 0 when none soaks.");
    put(t, "stagger_rollout_soak_remaining_seconds %.3f\n", soak / 1000.0);
    head(t, "stagger_rollout_proof_holds", "gauge",
         "1 when the proof lets the holdback pair update (docs/protocol.md §9.6).");
    put(t, "stagger_rollout_proof_holds %d\n",
        json_is_true(json_object_get(json_object_get(ro, "proof"), "holds")));
    component_rollouts(t, ro);
    head(t, "stagger_commands_applied_seq", "gauge",
         "The highest emergency command sequence this node applied (0: none).");
    put(t, "stagger_commands_applied_seq %lld\n",
        jint(json_object_get(st, "commands"), "applied_seq"));
    json_t *j = json_object_get(st, "journal");
    head(t, "stagger_journal_ok", "gauge",
         "0 while this node's last journal write failed: it neither votes nor starts.");
    put(t, "stagger_journal_ok %d\n", json_is_true(json_object_get(j, "ok")));
}

static void counter(text_t *t, const char *name, const char *help, uint64_t v) {
    head(t, name, "counter", help);
    put(t, "%s %llu\n", name, (unsigned long long)v);
}

static const char *lower(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
    return out;
}

static void counters(text_t *t, const stg_core_stats_t *st) {
    const struct {
        const char *name, *help;
        uint64_t v;
    } plain[] = {
        {"stagger_messages_received_total", "Peer messages this node took in.", st->msgs_in},
        {"stagger_messages_sent_total", "Peer messages this node sent.", st->msgs_out},
        {"stagger_records_new_total", "Newer member records learnt by gossip.", st->records_new},
        {"stagger_suspicions_total", "Members this node came to suspect (SWIM).", st->suspicions},
        {"stagger_deaths_total", "Members this node came to hold dead (SWIM).", st->deaths},
        {"stagger_refutations_total", "Suspicions of itself this node refuted.", st->refutes},
        {"stagger_roster_updates_total", "Newer rosters adopted.", st->roster_updates},
        {"stagger_grants_total", "Slot votes this node granted.", st->grants},
        {"stagger_transitions_total", "Moves of this node's executor between phases.",
         st->transitions},
        {"stagger_journal_writes_total", "Journal writes, failed ones included.",
         st->journal_writes},
        {"stagger_journal_write_failures_total", "Journal writes that failed.",
         st->journal_write_failures},
    };
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
        counter(t, plain[k].name, plain[k].help, plain[k].v);
    head(t, "stagger_elections_total", "counter", "Elections this node ran for itself, by result.");
    put(t, "stagger_elections_total{result=\"won\"} %llu\n",
        (unsigned long long)st->elections_won);
    put(t, "stagger_elections_total{result=\"lost\"} %llu\n",
        (unsigned long long)st->elections_lost);
    static const char *const deny[] = {
#define X(name, text) #name,
        STG_DENY_MAP(X)
#undef X
    };
    char low[64];
    head(t, "stagger_denials_total", "counter", "Slot votes this node refused, by reason.");
    for (int k = 1; k < STG_DENY__COUNT; k++)
        put(t, "stagger_denials_total{reason=\"%s\"} %llu\n", lower(deny[k], low, sizeof low),
            (unsigned long long)st->denials[k]);
    head(t, "stagger_rejects_total", "counter",
         "Messages and documents refused, by reason (docs/protocol.md §6).");
    for (int k = 1; k < STG_REJECT__COUNT; k++)
        put(t, "stagger_rejects_total{reason=\"%s\"} %llu\n", stg_reject_name((stg_reject_t)k),
            (unsigned long long)st->rejects[k]);
}

static void hooks(text_t *t, const stg_hook_stats_t *h) {
    head(t, "stagger_hook_runs_total", "counter", "Hook runs that ended, by hook and result.");
    for (int k = 0; k < STG_HOOK__COUNT; k++) {
        put(t, "stagger_hook_runs_total{hook=\"%s\",result=\"ok\"} %llu\n",
            stg_hook_name((stg_hook_kind_t)k), (unsigned long long)h->ok[k]);
        put(t, "stagger_hook_runs_total{hook=\"%s\",result=\"failed\"} %llu\n",
            stg_hook_name((stg_hook_kind_t)k), (unsigned long long)h->failed[k]);
    }
    head(t, "stagger_hook_duration_seconds", "summary", "How long hook runs took, by hook.");
    for (int k = 0; k < STG_HOOK__COUNT; k++) {
        const char *n = stg_hook_name((stg_hook_kind_t)k);
        put(t, "stagger_hook_duration_seconds_sum{hook=\"%s\"} %.3f\n", n,
            h->elapsed_ms[k] / 1000.0);
        put(t, "stagger_hook_duration_seconds_count{hook=\"%s\"} %llu\n", n,
            (unsigned long long)(h->ok[k] + h->failed[k]));
    }
}

/* The capabilities this build knows, each 1 when every member has it (the
 * fleet-wide set of docs/protocol.md §11: what waits for it may run). */
static void capabilities(text_t *t, json_t *st) {
    json_t *fleet = json_object_get(st, "capabilities");
    head(t, "stagger_fleet_capability", "gauge",
         "1 when every fleet member announces the capability (docs/protocol.md section 11), "
         "so the feature that needs it may run; 0 while some member lacks it.");
    for (unsigned c = 0; c < STG_CAP__COUNT; c++) {
        const char *name = stg_cap_name((stg_cap_t)c);
        bool all = false;
        size_t i;
        json_t *v;
        json_array_foreach(fleet, i, v) all |= json_is_string(v) && !strcmp(json_string_value(v), name);
        put(t, "stagger_fleet_capability{capability=\"%s\"} %d\n", name, all);
    }
}

char *stg_metrics_text(json_t *status, const stg_core_stats_t *st, const stg_hook_stats_t *hk,
                       const char *version, size_t *len) {
    text_t t;
    if (!text_init(&t, 16384)) return NULL;
    char e[2][256];
    head(&t, "stagger_build_info", "gauge", "This staggerd: its version, and the node it runs as.");
    put(&t, "stagger_build_info{version=\"%s\",member=\"%s\",fleet=\"%s\"} 1\n",
        esc(version, e[0], sizeof e[0]), esc(jstr(status, "self"), e[1], sizeof e[1]),
        jstr(status, "fleet"));
    head(&t, "stagger_roster_serial", "gauge", "The serial of the roster this node holds.");
    put(&t, "stagger_roster_serial %lld\n", jint(status, "serial"));
    members(&t, status);
    capabilities(&t, status);
    rollout(&t, status);
    counters(&t, st);
    hooks(&t, hk);
    return text_take(&t, len);
}

/* ---- the server ------------------------------------------------------ */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned code, const char *type,
                              char *body, size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* The page is read-only and self-contained: it may load nothing, run
     * nothing, and be framed by nobody. */
    if (strncmp(type, "text/html", 9) == 0)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; "
                                "frame-ancestors 'none'");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **req) {
    (void)version, (void)upload, (void)req;
    stg_metrics_t *m = cls;
    static char not_allowed[] = "only GET and HEAD\n",
                not_found[] = "not found: try /metrics, or / for the status page\n",
                failed[] = "could not render the answer\n";
    const char *plain = "text/plain; charset=utf-8";
    if (*upload_len) return MHD_NO; /* a body where none belongs: drop the connection */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, plain, not_allowed,
                      sizeof not_allowed - 1, MHD_RESPMEM_PERSISTENT);
    stg_serve_t what;
    if (strcmp(url, "/metrics") == 0) what = STG_SERVE_METRICS;
    else if (strcmp(url, "/") == 0) what = STG_SERVE_PAGE;
    else
        return answer(conn, MHD_HTTP_NOT_FOUND, plain, not_found, sizeof not_found - 1,
                      MHD_RESPMEM_PERSISTENT);
    size_t len = 0;
    char *text = m->render(m->ctx, what, &len);
    if (!text)
        return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, plain, failed, sizeof failed - 1,
                      MHD_RESPMEM_PERSISTENT);
    return answer(conn, MHD_HTTP_OK,
                  what == STG_SERVE_PAGE ? "text/html; charset=utf-8"
                                         : "text/plain; version=0.0.4; charset=utf-8",
                  text, len, MHD_RESPMEM_MUST_FREE);
}

static void on_timer(uv_timer_t *t);

/* Let MHD do what is ready, then wait for its descriptor or its next
 * timeout, whichever comes first. */
static void pump(stg_metrics_t *m) {
    MHD_run(m->mhd);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) uv_timer_start(&m->timer, on_timer, ms, 0);
    else uv_timer_stop(&m->timer);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }
static void on_poll(uv_poll_t *p, int status, int events) {
    (void)status, (void)events;
    pump(p->data);
}

/* "HOST:PORT" or "[HOST]:PORT" with a numeric address. */
static int parse(const char *hp, struct sockaddr_storage *ss, socklen_t *sl, char *err,
                 size_t cap) {
    char host[64];
    const char *colon = strrchr(hp, ':');
    const char *h = hp, *he = colon;
    if (hp[0] == '[') {
        h = hp + 1;
        he = strchr(hp, ']');
        if (!he || he + 1 != colon) he = NULL;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !he || he <= h || (size_t)(he - h) >= sizeof host || !end || *end ||
        port < 1 || port > 65535) {
        snprintf(err, cap, "\"%s\" is not HOST:PORT (e.g. 127.0.0.1:9479 or [::1]:9479)", hp);
        return -EINVAL;
    }
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *a6;
    } else {
        snprintf(err, cap, "\"%s\": %s is not a numeric IPv4 or IPv6 address", hp, host);
        return -EINVAL;
    }
    return 0;
}

int stg_metrics_start(uv_loop_t *loop, const char *hostport, stg_metrics_render_fn render,
                      void *ctx, stg_metrics_t **out, char *err, size_t cap) {
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = parse(hostport, &ss, &sl, err, cap);
    if (rc) return rc;
    /* Our own listening socket, so a bind error says why (MHD would only
     * fail). */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
        rc = -errno;
        snprintf(err, cap, "cannot listen on %s: %s", hostport, strerror(errno));
        if (fd >= 0) close(fd);
        return rc;
    }
    stg_metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    m->render = render;
    m->ctx = ctx;
    m->mhd = MHD_start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
                              NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
                              10u, MHD_OPTION_END);
    const union MHD_DaemonInfo *di =
        m->mhd ? MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!di) {
        snprintf(err, cap, "cannot start the HTTP server on %s (libmicrohttpd)", hostport);
        if (m->mhd) MHD_stop_daemon(m->mhd);
        else close(fd);
        free(m);
        return -EIO;
    }
    uv_timer_init(loop, &m->timer);
    uv_poll_init(loop, &m->poll, di->epoll_fd);
    m->timer.data = m->poll.data = m;
    m->handles = 2;
    uv_poll_start(&m->poll, UV_READABLE, on_poll);
    *out = m;
    return 0;
}

static void on_closed(uv_handle_t *h) {
    stg_metrics_t *m = h->data;
    if (--m->handles == 0) free(m);
}

void stg_metrics_stop(stg_metrics_t **mp) {
    stg_metrics_t *m = *mp;
    if (!m) return;
    *mp = NULL;
    uv_poll_stop(&m->poll);
    uv_timer_stop(&m->timer);
    MHD_stop_daemon(m->mhd); /* closes its epoll descriptor and our socket */
    m->mhd = NULL;
    uv_close((uv_handle_t *)&m->poll, on_closed);
    uv_close((uv_handle_t *)&m->timer, on_closed);
}
