/*
 * srv.c -- cairn-server processes for client tests (srv.h).
 */
#include "tests/client/srv.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN      16
#define START_PATIENCE_MS 30000
#define STOP_PATIENCE_MS  60000

static pid_t children[MAX_CHILDREN];
static int hooks_set;

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
}

static void on_fatal(int sig)
{
    kill_children();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void remember(pid_t pid, int add)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (add && children[i] == 0) {
            children[i] = pid;
            return;
        }
        if (!add && children[i] == pid) {
            children[i] = 0;
            return;
        }
    }
}

static void set_hooks(void)
{
    if (hooks_set++)
        return;
    atexit(kill_children);
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    signal(SIGINT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGPIPE, SIG_IGN);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t spawn(struct srv *s)
{
    char port[16], log[300];
    pid_t pid;

    snprintf(port, sizeof(port), "%u", s->port);
    snprintf(log, sizeof(log), "%s.log", s->dir);
    pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);

        (void)f;
        /* Die with the test even when it is killed outright. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        execl(s->bin, s->bin, "--data-dir", s->dir, "--listen", "127.0.0.1",
              "--port", port, "--sync", "group", (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        remember(pid, 1);
    return pid;
}

/* Wait until a client can connect; 0, or -1 if the process exited. */
static int wait_serving(struct srv *s)
{
    int64_t until = mono_ms() + START_PATIENCE_MS;

    while (mono_ms() < until) {
        cairn_client_t *c = srv_client(s, 1);
        int status;

        if (c) {
            cairn_client_free(c);
            return 0;
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            remember(s->pid, 0);
            s->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

/* Copy the server's log to stderr, so a failed start explains itself. */
static void show_log(struct srv *s)
{
    char path[300], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s.log", s->dir);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

int srv_restart(struct srv *s)
{
    set_hooks();
    s->pid = spawn(s);
    if (s->pid < 0)
        return -1;
    if (wait_serving(s) < 0) {
        fprintf(stderr,
                "srv: cairn-server on port %u did not serve; its "
                "log:\n",
                s->port);
        show_log(s);
        if (s->pid)
            srv_stop(s, SIGKILL);
        return -1;
    }
    return 0;
}

int srv_start(struct srv *s, const char *bin)
{
    memset(s, 0, sizeof(*s));
    s->bin = bin;
    snprintf(s->dir, sizeof(s->dir), "/tmp/cairn-client-test-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    /* Try a few ports: another test may hold one. */
    for (int i = 0; i < 8; i++) {
        s->port = (uint16_t)(22000 + ((getpid() + i * 37) % 166) * 3);
        snprintf(s->contact, sizeof(s->contact), "127.0.0.1:%u", s->port);
        if (srv_restart(s) == 0)
            return 0;
    }
    srv_cleanup(s);
    return -1;
}

int srv_stop(struct srv *s, int sig)
{
    int64_t until = mono_ms() + STOP_PATIENCE_MS;
    int status = 0;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (mono_ms() > until) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    remember(s->pid, 0);
    s->pid = 0;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void srv_cleanup(struct srv *s)
{
    char log[300];

    if (s->pid > 0)
        srv_stop(s, SIGKILL);
    if (s->dir[0]) {
        nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(log, sizeof(log), "%s.log", s->dir);
        remove(log);
    }
}

cairn_client_t *srv_client(struct srv *s, uint32_t pool)
{
    cairn_options_t o;
    cairn_client_t *c;

    cairn_options_init(&o);
    o.contact_points = s->contact;
    o.connections_per_host = pool;
    o.connect_timeout_ms = 2000;
    return cairn_client_new(&o, &c) == 0 ? c : NULL;
}
