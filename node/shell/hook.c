/* hook.c: child processes for hooks (see hook.h). The result is reported
 * only when the process has exited AND its output pipe is closed, so no
 * output is lost and no handle outlives its memory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"

struct stg_hook {
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    stg_hook_done_cb done;
    void *ctx;
    stg_hook_result_t res;
    uint64_t start;
    int open_handles;
    int exited;
    int gate_fd; /* a held hook's gate, then its answers (fd 3): the write end, or -1 */
    stg_hook_line_cb line_cb; /* each line of output as it comes (stg_hook_on_line) */
    void *line_ctx;
    char line[256];           /* the line being read; a longer one is cut */
    size_t line_len;
    char buf[1024];
};

static void maybe_finish(uv_handle_t *h) {
    stg_hook_t *hk = h->data;
    if (--hk->open_handles > 0) return;
    hk->res.elapsed_ms = (int64_t)(uv_now(h->loop) - hk->start);
    if (hk->gate_fd >= 0) close(hk->gate_fd); /* never released: the child had EOF */
    if (hk->done) hk->done(hk->ctx, &hk->res);
    free(hk);
}

static void close_one(uv_handle_t *h) {
    if (!uv_is_closing(h)) uv_close(h, maybe_finish);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    stg_hook_t *hk = h->data;
    *b = uv_buf_init(hk->buf, sizeof hk->buf);
}

/* Whole lines to the line callback as they arrive: a hook that reboots
 * the machine says away= before it goes, and never exits. */
static void feed_lines(stg_hook_t *hk, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (hk->line_len + 1 < sizeof hk->line) hk->line[hk->line_len++] = p[i];
            continue;
        }
        hk->line[hk->line_len] = '\0';
        hk->line_len = 0;
        hk->line_cb(hk->line_ctx, hk->line);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    stg_hook_t *hk = s->data;
    if (n > 0 && hk->line_cb) feed_lines(hk, b->base, (size_t)n);
    if (n > 0) {
        /* Keep the last STG_HOOK_OUTPUT_MAX-1 bytes: the end says why. */
        size_t cap = sizeof hk->res.output - 1, add = (size_t)n;
        if (add >= cap) {
            memcpy(hk->res.output, b->base + add - cap, cap);
            hk->res.output_len = cap;
        } else {
            if (hk->res.output_len + add > cap) {
                size_t drop = hk->res.output_len + add - cap;
                memmove(hk->res.output, hk->res.output + drop, hk->res.output_len - drop);
                hk->res.output_len -= drop;
            }
            memcpy(hk->res.output + hk->res.output_len, b->base, add);
            hk->res.output_len += add;
        }
        hk->res.output[hk->res.output_len] = '\0';
    } else if (n < 0) {
        close_one((uv_handle_t *)s);
        if (hk->exited) close_one((uv_handle_t *)&hk->timer);
    }
}

/* After the exit, output still in the pipe gets a short grace; a child the
 * hook left behind holding the pipe open must not stall us for ever. */
#define PIPE_GRACE_MS 200

static void on_timer(uv_timer_t *t) {
    stg_hook_t *hk = t->data;
    if (hk->exited) {
        close_one((uv_handle_t *)&hk->out);
        close_one((uv_handle_t *)t);
        return;
    }
    hk->res.timed_out = 1;
    stg_hook_kill(hk);
}

static void on_exit_(uv_process_t *p, int64_t status, int sig) {
    stg_hook_t *hk = p->data;
    hk->exited = 1;
    hk->res.exit_status = (int)status;
    hk->res.term_signal = sig;
    close_one((uv_handle_t *)p);
    if (uv_is_closing((uv_handle_t *)&hk->out)) {
        close_one((uv_handle_t *)&hk->timer);
    } else {
        uv_timer_stop(&hk->timer);
        uv_timer_start(&hk->timer, on_timer, PIPE_GRACE_MS, 0);
    }
}

int stg_hook_pid(const stg_hook_t *hk) { return hk->proc.pid; }

/* One line to the hook's fd 3; never blocks the loop (the write end is
 * non-blocking, and a line is far below a pipe's buffer). */
static int gate_write(stg_hook_t *hk, const char *text) {
    if (hk->gate_fd < 0) return -EINVAL;
    size_t len = strlen(text);
    ssize_t w;
    do w = write(hk->gate_fd, text, len);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
}

int stg_hook_release(stg_hook_t *hk) {
    /* The gate stays open: the hook reads the daemon's answers on it. */
    int rc = gate_write(hk, "go\n");
    if (rc < 0) {
        close(hk->gate_fd);
        hk->gate_fd = -1;
    }
    return rc;
}

int stg_hook_answer(stg_hook_t *hk, const char *line) { return gate_write(hk, line); }

void stg_hook_on_line(stg_hook_t *hk, stg_hook_line_cb cb, void *ctx) {
    hk->line_cb = cb;
    hk->line_ctx = ctx;
}

void stg_hook_cancel(stg_hook_t *hk) {
    if (hk->gate_fd >= 0) {
        /* The wrapper reads end of file and exits 125 without running the
         * hook; the kill makes sure, whatever it was doing. */
        close(hk->gate_fd);
        hk->gate_fd = -1;
    }
    hk->res.cancelled = 1;
    stg_hook_kill(hk);
}

void stg_hook_kill(stg_hook_t *hk) {
    if (hk->exited) return;
    /* The whole group: a hook's own children must not outlive it. */
    uv_kill(-hk->proc.pid, SIGKILL);
    uv_process_kill(&hk->proc, SIGKILL);
}

/* A pipe whose ends close at exec: only the child's copy of the read end,
 * placed at fd 3 by libuv, outlives it. No other thread of the daemon
 * forks, so setting the flag after pipe() leaves no gap. */
static int gate_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -errno;
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
        int e = -errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    return 0;
}

int stg_hook_run(uv_loop_t *loop, const char *path, char **env, int64_t timeout_ms, bool held,
                 stg_hook_done_cb done, void *ctx, stg_hook_t **out) {
    int gate[2] = {-1, -1};
    int rc = held ? gate_pipe(gate) : 0; /* libuv's errors are -errno on Unix */
    if (rc != 0) return rc;
    stg_hook_t *hk = calloc(1, sizeof *hk);
    if (!hk) {
        if (held) {
            close(gate[0]);
            close(gate[1]);
        }
        return UV_ENOMEM;
    }
    hk->gate_fd = gate[1];
    hk->done = done;
    hk->ctx = ctx;
    hk->start = uv_now(loop);
    uv_pipe_init(loop, &hk->out, 0);
    uv_timer_init(loop, &hk->timer);
    hk->out.data = hk->timer.data = hk->proc.data = hk;

    /* stderr joins stdout in one pipe, so the kept output reads in order.
     * libuv cannot point stderr at a pipe it has not created yet, so the
     * shell does the join; "$0" keeps the path out of shell parsing. A
     * held hook's shell first waits on the gate at fd 3: "go" runs the
     * hook, end of file exits 125 and the hook never runs. libuv offers no
     * step between fork and exec, so the wait is in the shell we start
     * anyway. The hook keeps fd 3: the daemon's answers (an announced
     * absence confirmed, stg_hook_answer) come on it. */
    char *args[] = {"/bin/sh", "-c",
                    held ? "read -r go <&3 || exit 125; exec \"$0\" 2>&1"
                         : "exec \"$0\" 2>&1",
                    (char *)path, NULL};
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&hk->out;
    stdio[2].flags = UV_IGNORE;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = gate[0];
    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.file = "/bin/sh";
    opt.args = args;
    opt.env = env;
    opt.exit_cb = on_exit_;
    opt.stdio = stdio;
    opt.stdio_count = held ? 4 : 3;
    opt.flags = UV_PROCESS_DETACHED; /* own session and group, for the kill */
    rc = uv_spawn(loop, &hk->proc, &opt);
    if (held) close(gate[0]); /* the child's copy is the one that counts */
    if (rc != 0) {
        if (held) close(gate[1]);
        hk->gate_fd = -1;
        /* libuv still needs the process handle closed after a failed spawn. */
        hk->done = NULL;
        hk->open_handles = 3;
        uv_close((uv_handle_t *)&hk->proc, maybe_finish);
        uv_close((uv_handle_t *)&hk->out, maybe_finish);
        uv_close((uv_handle_t *)&hk->timer, maybe_finish);
        return rc;
    }
    hk->open_handles = 3;
    uv_read_start((uv_stream_t *)&hk->out, on_alloc, on_read);
    uv_timer_start(&hk->timer, on_timer, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    if (out) *out = hk;
    return 0;
}
