/* page.c: the read-only status page (page.h). Rendered on the server from
 * the status document (docs/protocol.md §8), so it needs no script and no
 * asset from anywhere: one HTML document with its style inline. */
#include "page.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "text.h"

/* s with &, <, >, " and ' as entities, appended to t. */
static void html(text_t *t, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': put(t, "&amp;"); break;
        case '<': put(t, "&lt;"); break;
        case '>': put(t, "&gt;"); break;
        case '"': put(t, "&quot;"); break;
        case '\'': put(t, "&#39;"); break;
        default: put(t, "%c", *s);
        }
    }
}

/* A Unix ms time as UTC text. */
static const char *utc(long long ms, char *out, size_t cap) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, cap, "-");
    return out;
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
    "h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.4em 0 .4em}"
    ".meta{color:#666;margin:.2em 0 1em}"
    "table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eee}"
    ".waiting{font-size:1.1em;padding:.5em .8em;border-left:6px solid #3a7;background:#fff}"
    ".halted .waiting,.failed .waiting{border-color:#c33;background:#fee;font-weight:600}"
    ".timeline{display:flex;flex-wrap:wrap;gap:.4em;list-style:none;padding:0}"
    ".stage{border:1px solid #ccc;border-top:6px solid #bbb;background:#fff;padding:.4em .6em;"
    "min-width:9em}"
    ".stage.done{border-top-color:#3a7}.stage.active{border-top-color:#38c}"
    ".stage.failed{border-top-color:#c33}.stage .label{font-weight:600;display:block}"
    ".m{display:block}.m.done{color:#276}.m.active{color:#146;font-weight:600}"
    ".m.failed{color:#b22;font-weight:600}"
    ".bad{color:#b22;font-weight:600}.good{color:#276}.warn{color:#a60}"
    "tr.failed td,tr.halted td{background:#fee}";

/* Where a member stands on the adopted release, for the timeline. */
static const char *standing(json_t *m, const char *version) {
    const char *ph = jstr(m, "phase");
    if (!strcmp(ph, "failed") || !strcmp(ph, "rolling-back") || !strcmp(ph, "rolled-back"))
        return "failed";
    if (!strcmp(ph, "elected") || !strcmp(ph, "installing") || !strcmp(ph, "verifying") ||
        !strcmp(ph, "soaking"))
        return "active";
    if (!strcmp(ph, "done") || (*version && !strcmp(jstr(m, "version"), version))) return "done";
    return "pending";
}

/* One box of the timeline: the members of stage s (holdback: the pair). */
static void stage_box(text_t *t, json_t *members, long long s, bool holdback, const char *version) {
    size_t i, n = 0, done = 0, active = 0, failed = 0;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (json_is_true(json_object_get(m, "holdback")) != holdback) continue;
        if (!holdback && jint(m, "stage") != s) continue;
        const char *st = standing(m, version);
        n++;
        done += !strcmp(st, "done");
        active += !strcmp(st, "active");
        failed += !strcmp(st, "failed");
    }
    if (!n) return;
    const char *cls = failed ? "failed" : active ? "active" : done == n ? "done" : "pending";
    put(t, "<li class=\"stage %s\"><span class=\"label\">", cls);
    if (holdback) put(t, "holdback pair (after the proof)");
    else put(t, "stage %lld", s);
    put(t, "</span>");
    json_array_foreach(members, i, m) {
        if (json_is_true(json_object_get(m, "holdback")) != holdback) continue;
        if (!holdback && jint(m, "stage") != s) continue;
        const char *st = standing(m, version);
        put(t, "<span class=\"m %s\" data-member=\"", st);
        html(t, jstr(m, "name"));
        put(t, "\">");
        html(t, jstr(m, "name"));
        put(t, ": %s", !strcmp(st, "pending") ? "to update" : st);
        if (strcmp(st, "pending") && strcmp(st, "done") && *jstr(m, "phase"))
            put(t, " (%s)", jstr(m, "phase"));
        put(t, "</span>");
    }
    put(t, "</li>");
}

static void rollout(text_t *t, json_t *st) {
    json_t *ro = json_object_get(st, "rollout"), *rel = json_object_get(ro, "release");
    json_t *members = json_object_get(st, "members");
    bool halted = json_is_true(json_object_get(ro, "halted"));
    bool failed = json_is_object(json_object_get(ro, "failed"));
    char when[40];
    put(t, "<section id=\"rollout\" class=\"%s\"><h2>Rollout</h2>",
        halted ? "halted" : failed ? "failed" : "running");
    put(t, "<p id=\"release\">");
    if (json_is_object(rel)) {
        put(t, "release ");
        html(t, jstr(rel, "component"));
        put(t, " <b>");
        html(t, jstr(rel, "version"));
        put(t, "</b> (id %s, made %s)", jstr(rel, "id"), utc(jint(rel, "created_at") * 1000, when,
                                                              sizeof when));
        put(t, ", %lld member%s still to update", jint(ro, "pending"),
            jint(ro, "pending") == 1 ? "" : "s");
    } else {
        put(t, "no release adopted");
    }
    put(t, "</p><p id=\"waiting\" class=\"waiting\">");
    html(t, jstr(ro, "waiting"));
    put(t, "</p>");
    if (!json_is_object(rel)) {
        put(t, "</section>");
        return;
    }
    const char *version = jstr(rel, "version");
    put(t, "<ol id=\"timeline\" class=\"timeline\">");
    for (long long s = 1; s <= 9; s++) stage_box(t, members, s, false, version);
    stage_box(t, members, 0, true, version);
    put(t, "</ol>");
    json_t *pf = json_object_get(ro, "proof");
    put(t, "<p id=\"proof\">proof for the holdback pair: ");
    if (json_is_true(json_object_get(pf, "holds"))) put(t, "<span class=\"good\">holds</span>");
    else if (jint(pf, "epochs_left") > 0)
        put(t, "%lld epoch boundar%s left, the next at %s", jint(pf, "epochs_left"),
            jint(pf, "epochs_left") == 1 ? "y" : "ies",
            utc(jint(pf, "next_boundary_ms"), when, sizeof when));
    else if (jint(pf, "soak_left_ms") > 0)
        put(t, "soaking, %lld s left", (jint(pf, "soak_left_ms") + 999) / 1000);
    else put(t, "not yet");
    put(t, "</p></section>");
}

/* The rollout of each component beside the primary (rollout.components,
 * docs/protocol.md §8): what `staggerctl status` prints after the
 * primary's release, one row per component. Nothing when there is none. */
static void component_rollouts(text_t *t, json_t *st) {
    json_t *more = json_object_get(json_object_get(st, "rollout"), "components");
    if (!json_array_size(more)) return;
    put(t, "<section><h2>Other components' rollouts</h2><table id=\"component-rollouts\">"
           "<thead><tr><th>component</th><th>release</th><th>waiting</th><th>pending</th>"
           "<th>wave</th><th>failed</th></tr></thead><tbody>");
    size_t i, k;
    json_t *ro, *w;
    json_array_foreach(more, i, ro) {
        json_t *rel = json_object_get(ro, "release"), *failed = json_object_get(ro, "failed");
        bool halted = json_is_true(json_object_get(ro, "halted"));
        put(t, "<tr data-component=\"");
        html(t, jstr(ro, "component"));
        /* As the primary's section: halted by the operator first. */
        put(t, "\" class=\"%s\"><td>", halted                  ? "halted"
                                        : json_is_object(failed) ? "failed"
                                                                 : "running");
        html(t, jstr(ro, "component"));
        put(t, "</td><td>");
        if (json_is_object(rel)) {
            put(t, "<b>");
            html(t, jstr(rel, "version"));
            put(t, "</b> (id ");
            html(t, jstr(rel, "id"));
            put(t, ")");
        } else {
            put(t, "no release adopted");
        }
        put(t, "</td><td class=\"waiting\">");
        html(t, jstr(ro, "waiting"));
        /* Without a release the object has no pending (protocol §8). */
        put(t, "</td><td>");
        if (json_is_object(rel)) put(t, "%lld", jint(ro, "pending"));
        put(t, "</td><td>");
        json_array_foreach(json_object_get(ro, "wave"), k, w) {
            put(t, "%s", k ? "; " : "");
            html(t, jstr(w, "name"));
            put(t, " ");
            html(t, jstr(w, "phase"));
        }
        put(t, "</td><td%s>", json_is_object(failed) ? " class=\"bad\"" : "");
        if (json_is_object(failed)) {
            html(t, jstr(failed, "node"));
            put(t, ": ");
            html(t, jstr(failed, "detail"));
        }
        put(t, "</td></tr>");
    }
    put(t, "</tbody></table></section>");
}

static void fleet(text_t *t, json_t *st) {
    static const char *const cols[] = {"member", "role", "flavour", "version", "stagger",
                                       "caps", "health", "liveness", "phase", "stage",
                                       "holdback", "detail", "components"};
    put(t, "<section><h2>Fleet</h2><table id=\"fleet\"><thead><tr>");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) put(t, "<th>%s</th>", cols[c]);
    put(t, "</tr></thead><tbody>");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "members"), i, m) {
        const char *health = jstr(m, "health"), *live = jstr(m, "liveness");
        put(t, "<tr data-member=\"");
        html(t, jstr(m, "name"));
        put(t, "\"><td>");
        html(t, jstr(m, "name"));
        if (json_is_true(json_object_get(m, "self"))) put(t, " (this node)");
        const char *fields[] = {"role", "flavour", "version", "stagger"};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            put(t, "</td><td>");
            html(t, jstr(m, fields[f]));
        }
        /* Its capabilities (docs/protocol.md §11): what waits for every
         * member shows here who lacks it. */
        put(t, "</td><td>");
        size_t k;
        json_t *cap;
        json_array_foreach(json_object_get(m, "caps"), k, cap) {
            if (k) put(t, " ");
            html(t, json_string_value(cap) ? json_string_value(cap) : "");
        }
        put(t, "</td><td class=\"%s\">%s</td>", !strcmp(health, "healthy") ? "good" : "bad",
            health);
        put(t, "<td class=\"%s\">%s</td><td>", !strcmp(live, "alive") ? "good" : "bad", live);
        html(t, jstr(m, "phase"));
        if (*jstr(m, "phase_detail")) {
            put(t, ": ");
            html(t, jstr(m, "phase_detail"));
        }
        put(t, "</td><td>%lld</td><td>%s</td><td%s>", jint(m, "stage"),
            json_is_true(json_object_get(m, "holdback")) ? "yes" : "",
            strstr(jstr(m, "detail"), "WARN") ? " class=\"warn\"" : "");
        html(t, jstr(m, "detail"));
        /* Its other components (docs/operations.md, "Components"): the
         * version and health columns are its primary's. */
        put(t, "</td><td>");
        json_t *c;
        json_array_foreach(json_object_get(m, "components"), k, c) {
            put(t, "%s", k ? "; " : "");
            html(t, jstr(c, "component"));
            put(t, " ");
            html(t, jstr(c, "version"));
            put(t, " <span class=\"%s\">", !strcmp(jstr(c, "health"), "healthy") ? "good" : "bad");
            html(t, jstr(c, "health"));
            put(t, "</span>");
        }
        put(t, "</td></tr>");
    }
    json_t *s = json_object_get(st, "summary"), *ro = json_object_get(st, "rollout");
    /* As staggerctl status says it: never "healthy" alone while halted. */
    bool failed = json_is_object(json_object_get(ro, "failed"));
    json_t *more;
    json_array_foreach(json_object_get(ro, "components"), i, more) failed |=
        json_is_object(json_object_get(more, "failed"));
    const char *stop = json_is_true(json_object_get(ro, "halted")) ? ", rollout halted"
                       : failed                                    ? ", update failed"
                                                                   : "";
    put(t, "</tbody></table><p id=\"summary\">%lld members: %lld healthy, %lld unhealthy, "
           "%lld unknown; fleet %s%s</p></section>",
        jint(s, "members"), jint(s, "healthy"), jint(s, "unhealthy"), jint(s, "unknown"),
        jstr(s, "state"), stop);
}

static void commands(text_t *t, json_t *st) {
    json_t *cmds = json_object_get(st, "commands"), *recent = json_object_get(cmds, "recent");
    size_t nmembers = json_array_size(json_object_get(st, "members"));
    put(t, "<section><h2>Emergency commands</h2>");
    if (!json_array_size(recent)) {
        put(t, "<p id=\"commands\">none applied</p>");
    } else {
        put(t, "<table id=\"commands\"><thead><tr><th>#</th><th>action</th><th>reason</th>"
               "<th>applied here</th><th>applied by</th></tr></thead><tbody>");
        size_t i;
        json_t *c;
        char when[40];
        json_array_foreach(recent, i, c) {
            put(t, "<tr><td>%lld</td><td>", jint(c, "seq"));
            html(t, jstr(c, "action"));
            put(t, "</td><td class=\"reason\">");
            html(t, jstr(c, "reason"));
            put(t, "</td><td>%s</td><td>%zu of %zu members</td></tr>",
                utc(jint(c, "applied_at_ms"), when, sizeof when),
                json_array_size(json_object_get(c, "applied_by")), nmembers);
        }
        put(t, "</tbody></table>");
    }
    if (*jstr(cmds, "last_refusal")) {
        put(t, "<p id=\"refusal\">last refused: ");
        html(t, jstr(cmds, "last_refusal"));
        put(t, "</p>");
    }
    put(t, "</section>");
}

char *stg_page_html(json_t *status, const char *version, size_t *len) {
    text_t t;
    if (!text_init(&t, 16384)) return NULL;
    char when[40];
    put(&t, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"refresh\" content=\"%d\"><title>stagger: ", STG_PAGE_REFRESH_S);
    html(&t, jstr(status, "fleet"));
    put(&t, "</title><style>%s</style></head><body><h1>stagger: fleet ", STYLE);
    html(&t, jstr(status, "fleet"));
    put(&t, "</h1><p class=\"meta\">as ");
    html(&t, jstr(status, "self"));
    put(&t, " sees it at %s; roster serial %lld; stagger ", utc(jint(status, "now_ms"), when,
                                                                sizeof when),
        jint(status, "serial"));
    html(&t, version);
    put(&t, "; refreshes every %d s</p>", STG_PAGE_REFRESH_S);
    rollout(&t, status);
    component_rollouts(&t, status);
    fleet(&t, status);
    commands(&t, status);
    put(&t, "</body></html>\n");
    return text_take(&t, len);
}
