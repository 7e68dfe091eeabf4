/*
 * run.c: catalog action -> checked argv -> one process group (see run.h).
 *
 * Invariants:
 *   1. No string from a plan is ever interpreted by a shell or split: each
 *      template element renders to at most one argv element.
 *   2. A process group is signalled only while its leader is unreaped (a
 *      zombie leader keeps the group id from being reused), so a kill can
 *      never reach an unrelated process.
 *   3. The child's environment is built here from nothing.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"

#define RUN_POLL_MS  20
#define RUN_DRAIN_MS 100 /* after the leader exits, wait this long for its output */
#define RUN_TAIL_MS  500 /* after killing leftovers, the most we wait for EOF */

void run_cmd_free(struct run_cmd *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->argv && i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	cJSON_Delete(c->params);
	memset(c, 0, sizeof(*c));
}

cJSON *run_argv_json(const struct run_cmd *c)
{
	cJSON *a = json_new_array();
	for (size_t i = 0; i < c->argc; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(c->argv[i]));
	return a;
}

/* Whether template t names parameter p (as {p}). */
static int run_names(const char *t, const char *p)
{
	size_t n = strlen(p);
	for (const char *s = strchr(t, '{'); s; s = strchr(s + 1, '{'))
		if (!strncmp(s + 1, p, n) && s[1 + n] == '}')
			return 1;
	return 0;
}

/* Check params against a's declared parameters; the checked copy (defaults filled) or NULL. */
static cJSON *run_check_params(const struct catalog_action *a, const cJSON *params, char *err,
                               size_t errlen)
{
	if (params && !cJSON_IsObject(params)) {
		snprintf(err, errlen, "the parameters of %s must be an object", a->name);
		return NULL;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, params)
	{
		if (!v->string || !catalog_param(a, v->string)) {
			snprintf(err, errlen, "%s has no parameter %s", a->name,
			         log_q(v->string ? v->string : ""));
			return NULL;
		}
		for (const cJSON *o = v->next; o; o = o->next)
			if (o->string && !strcmp(o->string, v->string)) {
				snprintf(err, errlen, "parameter %s is given twice", v->string);
				return NULL;
			}
	}
	cJSON *out = json_new_object();
	for (size_t i = 0; i < a->nparams; i++) {
		const struct catalog_param *p = &a->params[i];
		const cJSON *given = cJSON_GetObjectItemCaseSensitive(params, p->name);
		char e[300];
		if (given && !cJSON_IsNull(given)) {
			if (catalog_check_value(p, given, e, sizeof(e)) < 0) {
				snprintf(err, errlen, "refused by the catalog's type check: %s", e);
				cJSON_Delete(out);
				return NULL;
			}
			json_add(out, p->name, json_dup(given));
		} else if (p->def) {
			json_add(out, p->name, catalog_value_json(p, p->def));
		} else if (!p->optional) {
			snprintf(err, errlen, "%s needs parameter %s", a->name, p->name);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

int run_build(const struct catalog_action *a, const cJSON *params, enum run_which which,
              struct run_cmd *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char **tmpl = which == RUN_VERIFY ? a->verify : a->argv;
	size_t n = which == RUN_VERIFY ? a->nverify : a->argc;
	if (a->run != CATALOG_RUN_ARGV && which == RUN_ACTION) {
		snprintf(err, errlen, "%s is an http action; opsbot-exec runs argv actions only",
		         a->name);
		return -1;
	}
	if (!tmpl || n == 0) {
		snprintf(err, errlen, "%s has no %s command", a->name,
		         which == RUN_VERIFY ? "verify" : "run");
		return -1;
	}
	if (n >= RUN_ARGS_MAX) {
		snprintf(err, errlen, "%s: more than %d arguments", a->name, RUN_ARGS_MAX - 1);
		return -1;
	}
	cJSON *checked = run_check_params(a, params, err, errlen);
	if (!checked)
		return -1;
	out->argv = xcalloc(n + 1, sizeof(char *));
	out->params = checked;
	for (size_t i = 0; i < n; i++) {
		/* An element naming an optional parameter that has no value is left out. */
		int skip = 0;
		for (size_t k = 0; k < a->nparams; k++) {
			const struct catalog_param *p = &a->params[k];
			if (p->optional && !cJSON_GetObjectItemCaseSensitive(checked, p->name) &&
			    run_names(tmpl[i], p->name))
				skip = 1;
		}
		if (skip)
			continue;
		char e[200];
		char *s = catalog_render(tmpl[i], checked, e, sizeof(e));
		if (!s) {
			snprintf(err, errlen, "%s: %s", a->name, e);
			run_cmd_free(out);
			return -1;
		}
		out->argv[out->argc++] = s;
	}
	out->argv[out->argc] = NULL;
	return 0;
}

cJSON *run_rollback_params(const struct catalog_action *rb, const cJSON *params)
{
	cJSON *o = json_new_object();
	for (size_t i = 0; i < rb->nparams; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, rb->params[i].name);
		if (v)
			json_add(o, rb->params[i].name, json_dup(v));
	}
	return o;
}

char *run_target(const cJSON *params)
{
	struct buf b = {.max = 4096};
	const cJSON *p;
	cJSON_ArrayForEach(p, params)
	{
		if (!cJSON_IsString(p))
			continue;
		if (b.len)
			buf_append(&b, ",", 1);
		buf_appendf(&b, "%s=%s", p->string, p->valuestring);
	}
	return b.data ? b.data : xstrdup("");
}

char **run_env(const struct catalog_action *a)
{
	char **env = xcalloc(a->nenv + 2, sizeof(char *));
	size_t n = 0;
	env[n++] = xstrdup("PATH=" RUN_PATH);
	for (size_t i = 0; i < a->nenv; i++) {
		if (!strcmp(a->env[i], "PATH"))
			continue; /* fixed above: a catalog cannot widen where programs come from */
		const char *v = getenv(a->env[i]);
		if (v)
			env[n++] = xasprintf("%s=%s", a->env[i], v);
	}
	env[n] = NULL;
	return env;
}

void run_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

int run_secret_name(const char *name)
{
	static const char *const words[] = {"TOKEN", "SECRET",     "PASSWORD", "PASSWD", "PASS",
	                                    "KEY",   "CREDENTIAL", "AUTH",     NULL};
	for (const char *const *w = words; *w; w++)
		if (strstr(name, *w))
			return 1;
	return 0;
}

void run_add_secret_env(const char *name)
{
	const char *v = getenv(name);
	if (v && strlen(v) >= 4) /* shorter values would redact ordinary words */
		log_add_secret(v);
}

void run_redact(char *s)
{
	log_redact(s);
}

/* Read what is there (non-blocking fd); 1 at EOF, 0 otherwise. */
static int run_read(int fd, struct buf *b, size_t max, size_t *dropped)
{
	char tmp[8192];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0) {
			size_t keep = b->len < max ? max - b->len : 0;
			if (keep > (size_t)n)
				keep = (size_t)n;
			if (keep)
				buf_append(b, tmp, keep);
			*dropped += (size_t)n - keep;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

/*
 * The spawn's set-up: stdin from /dev/null, stdout and stderr into the pipe
 * (stderr to /dev/null when quiet), the work dir, a process group of its
 * own, no blocked signals and the default action for the ones we ignore.
 * 0, or an errno value.
 */
static int run_prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int *have_fa,
                       int *have_at, int out_fd, const struct run_opts *opts)
{
	int e = posix_spawn_file_actions_init(fa);
	*have_fa = e == 0;
	if (e == 0)
		e = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(fa, out_fd, 1);
	if (e == 0 && opts->quiet_stderr)
		e = posix_spawn_file_actions_addopen(fa, 2, "/dev/null", O_WRONLY, 0);
	else if (e == 0)
		e = posix_spawn_file_actions_adddup2(fa, out_fd, 2);
	if (e == 0 && opts->workdir)
		e = posix_spawn_file_actions_addchdir_np(fa, opts->workdir);
	if (e == 0)
		e = posix_spawnattr_init(at);
	*have_at = e == 0;
	sigset_t none, defs;
	sigemptyset(&none);
	/* Ignored signals survive exec: give the child the defaults back. */
	sigemptyset(&defs);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGHUP);
	sigaddset(&defs, SIGQUIT);
	if (e == 0)
		e = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		                                     POSIX_SPAWN_SETSIGDEF);
	if (e == 0)
		e = posix_spawnattr_setpgroup(at, 0);
	if (e == 0)
		e = posix_spawnattr_setsigmask(at, &none);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(at, &defs);
	return e;
}

/*
 * Read the output until the process exited and the pipe is drained (or
 * RUN_DRAIN_MS after the exit); past the timeout the group gets SIGTERM,
 * then SIGKILL after kill_grace.  *eof: the pipe reached its end.
 */
static void run_watch(pid_t pid, int fd, int64_t t0, const struct run_opts *opts,
                      struct run_result *res, struct buf *b, int *eof)
{
	int64_t deadline = t0 + opts->timeout_ms, term_at = 0, exited_at = 0;
	int exited = 0;
	while (!exited || (!*eof && time_mono_ms() - exited_at < RUN_DRAIN_MS)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (!*eof) {
			int r = poll(&p, 1, RUN_POLL_MS);
			if (r > 0)
				*eof = run_read(fd, b, opts->max_output, &res->dropped);
		} else {
			time_sleep_ms(RUN_POLL_MS / 4 > 0 ? RUN_POLL_MS / 4 : 1, NULL);
		}
		if (!exited) {
			siginfo_t si = {0};
			/* WNOWAIT: the zombie keeps the group id ours (invariant 2). */
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				exited = 1;
				exited_at = time_mono_ms();
				res->ms = exited_at - t0;
			}
		}
		int64_t now = time_mono_ms();
		if (!exited && now >= deadline && !term_at) {
			res->timed_out = 1;
			term_at = now;
			kill(-pid, SIGTERM);
		}
		if (!exited && term_at && now - term_at >= opts->kill_grace_ms)
			kill(-pid, SIGKILL);
	}
}

/* Kill what is left of the group, reap the process, record how it ended. */
static void run_reap(pid_t pid, struct run_result *res)
{
	/* Leftovers in the group (a background child) do not outlive the step. */
	kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signaled = 1;
		res->exit_code = 128 + WTERMSIG(status);
	}
}

void run_exec(char *const *argv, char *const *env, const struct run_opts *opts,
              struct run_result *res)
{
	memset(res, 0, sizeof(*res));
	struct buf b = {.max = RUN_OUTPUT_MAX + 1};
	int pfd[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int have_fa = 0, have_at = 0;
	pid_t pid = -1;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(res->error, sizeof(res->error), "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	int e = run_prepare(&fa, &at, &have_fa, &have_at, pfd[1], opts);
	if (e != 0) {
		snprintf(res->error, sizeof(res->error), "cannot prepare the spawn: %s",
		         strerror(e));
		goto out;
	}
	int64_t t0 = time_mono_ms();
	e = posix_spawn(&pid, argv[0], &fa, &at, argv, env);
	if (e != 0) {
		pid = -1;
		snprintf(res->error, sizeof(res->error), "cannot start %s: %s", argv[0],
		         strerror(e));
		goto out;
	}
	res->spawned = 1;
	if (opts->on_spawn)
		opts->on_spawn(opts->arg, pid);
	close(pfd[1]);
	pfd[1] = -1;
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);

	int eof = 0;
	run_watch(pid, pfd[0], t0, opts, res, &b, &eof);
	run_reap(pid, res);
	int64_t tail = time_mono_ms();
	while (!eof && time_mono_ms() - tail < RUN_TAIL_MS) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		if (poll(&p, 1, RUN_POLL_MS) > 0)
			eof = run_read(pfd[0], &b, opts->max_output, &res->dropped);
	}
out:
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (have_at)
		posix_spawnattr_destroy(&at);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	/* Output is text for people: NUL bytes would end it early. */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\0')
			b.data[i] = ' ';
	res->output = b.data ? b.data : xstrdup("");
	run_redact(res->output);
}

void run_result_free(struct run_result *r)
{
	if (!r)
		return;
	free(r->output);
	r->output = NULL;
}
