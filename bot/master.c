/*
 * NAME
 *	opsbot - start and supervise opsbot's daemons
 *
 * SYNOPSIS
 *	opsbot [-c FILE]
 *
 * DESCRIPTION
 *	The master reads the [daemons] table of the configuration (name =
 *	command line, in start order) and runs each command with "-c FILE"
 *	from its own bin directory, in the foreground.  The daemon named
 *	"queue" starts first, and the others only once its socket answers a
 *	query (or after [master] queue_wait, with a warning: workers retry by
 *	themselves).
 *
 *	A daemon that exits is restarted after a delay that doubles from
 *	restart_min to restart_max; once it stays up stable_after the delay
 *	starts over.  A daemon whose program does not exist (a stage not built
 *	yet) is reported once and looked for again only on SIGHUP.
 *
 *	Watchdog: each daemon gets OPSBOT_HEARTBEAT=<run_dir>/heartbeat-<name>
 *	in its environment.  A daemon that supports it (opsbot-bot: its event
 *	loop) touches that file every second; once the file exists, a beat
 *	older than heartbeat_timeout means the process is alive but stuck, and
 *	the master kills it (SIGKILL, logged as event=daemon_stuck) so the
 *	usual restart follows.  A daemon that never beats is not watched.
 *
 *	SIGTERM or SIGINT: SIGTERM to every daemon but the queue, wait up to
 *	stop_timeout (then SIGKILL), then the same for the queue, and exit 0.
 *	A second SIGTERM/SIGINT while stopping kills what is left at once.
 *	SIGHUP: reload the configuration; start new entries, stop removed ones,
 *	restart changed ones, forward SIGHUP to the rest.
 *
 * SECURITY
 *	Trusts the configuration file (written by the operator).  Reads no
 *	network input; the one message it sends is a "query stats" to see that
 *	the queue answers.  Commands run as argv, never through a shell, in
 *	their own process group, and die with the master (PR_SET_PDEATHSIG).
 *	Each daemon gets only the secret environment variables it uses
 *	(lib/secenv.h) and umask 077, so what it creates is owner-only.
 *
 * FILES
 *	<run_dir>/opsbot.pid           lock: one master per state directory
 *	<run_dir>/opsbot-master.json   process table for opsbotctl status,
 *	                               rewritten atomically on every change
 *
 * CONFIG
 *	[daemons]  name = command line (see bot/daemons.h)
 *	[master]   restart_min (1s), restart_max (60s), stable_after (30s),
 *	           stop_timeout (15s), queue_wait (10s), run_dir (var/run),
 *	           heartbeat_timeout (30s; 0 turns the watchdog off)
 *	[queue]    listen (read to check that the queue answers)
 *
 * DIAGNOSTICS
 *	key=value lines on stderr; exit 1 for bad configuration or a master
 *	already running, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff.h"
#include "defaults.h"
#include "config.h"
#include "daemons.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "secenv.h"
#include "timeutil.h"
#include "wire.h"

#define MASTER_DEFAULT_CONFIG "config/opsbot.conf"
#define MASTER_DEFAULT_QUEUE  DEF_QUEUE_URL
#define MASTER_STATUS_FILE    "opsbot-master.json"
#define MASTER_PID_FILE       "opsbot.pid"

enum dstate { D_STOPPED, D_RUNNING, D_BACKOFF, D_MISSING, D_STOPPING };
static const char *const dstate_names[] = {"stopped", "running", "backoff", "missing", "stopping"};

struct daemon {
	struct daemon_spec spec; /* owned; spec strings freed with the entry */
	enum dstate state;
	pid_t pid;
	int restarts;
	int removed;     /* gone from the table after reload: do not restart */
	int restart_now; /* command changed on reload: restart without delay */
	int stuck;       /* the watchdog killed it; waiting for the exit */
	int64_t started_mono, restart_at_mono, since_ms;
	struct backoff bo;
	char last_exit[64];
};

struct master {
	char config_path[PATH_MAX];
	char bindir[PATH_MAX];
	char run_dir[PATH_MAX];
	char queue_url[512];
	int64_t restart_min, restart_max, stable_after, stop_timeout, queue_wait;
	int64_t heartbeat_timeout;
	struct daemon d[DAEMONS_MAX * 2]; /* room for removed ones still stopping */
	size_t n;
	int others_started; /* the queue answered (or we gave up waiting) */
	int64_t queue_wait_until;
	struct rpc *rpc;
	int64_t started_ms;
	int stopping;
};

static struct daemon *master_find(struct master *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->d[i].removed && strcmp(m->d[i].spec.name, name) == 0)
			return &m->d[i];
	return NULL;
}

static int master_is_queue(const struct daemon *d)
{
	return strcmp(d->spec.name, "queue") == 0;
}

/* Read config into m (settings and, when table is set, the daemon specs). */
static int master_load(struct master *m, struct daemon_spec **specs, size_t *nspecs, char *err,
                       size_t errlen)
{
	struct config *cfg;
	if (config_load(m->config_path, &cfg, err, errlen) < 0)
		return -1;
	m->restart_min = config_duration_ms(cfg, "master", "restart_min", 1000);
	m->restart_max = config_duration_ms(cfg, "master", "restart_max", 60000);
	m->stable_after = config_duration_ms(cfg, "master", "stable_after", 30000);
	m->stop_timeout = config_duration_ms(cfg, "master", "stop_timeout", 15000);
	m->queue_wait = config_duration_ms(cfg, "master", "queue_wait", 10000);
	m->heartbeat_timeout = config_duration_ms(cfg, "master", "heartbeat_timeout", 30000);
	const char *rd = config_str(cfg, "master", "run_dir", "var/run");
	const char *q = config_str(cfg, "queue", "listen", MASTER_DEFAULT_QUEUE);
	if (str_copy(m->run_dir, sizeof(m->run_dir), rd) < 0)
		config_error(cfg, "master", "run_dir", "path too long");
	if (str_copy(m->queue_url, sizeof(m->queue_url), q) < 0)
		config_error(cfg, "queue", "listen", "address too long");
	if (!config_has_section(cfg, "daemons"))
		config_error(cfg, "daemons", "-",
		             "no [daemons] section: list the daemons to run, queue first");
	daemons_load(cfg, m->bindir, m->config_path, specs, nspecs);
	int rc = config_check(cfg, (const char *const[]){"daemons", "master", NULL}, err, errlen);
	config_free(cfg);
	if (rc < 0) {
		daemons_free(*specs, *nspecs);
		*specs = NULL;
		*nspecs = 0;
	}
	return rc;
}

static void master_write_status(struct master *m)
{
	cJSON *o = json_new_object();
	json_add_int(o, "pid", getpid());
	json_add_str(o, "config", m->config_path);
	json_add_str(o, "queue", m->queue_url);
	json_add_int(o, "started_ms", m->started_ms);
	json_add_str(o, "state", m->stopping ? "stopping" : "running");
	cJSON *arr = json_new_array();
	for (size_t i = 0; i < m->n; i++) {
		const struct daemon *d = &m->d[i];
		cJSON *e = json_new_object();
		json_add_str(e, "name", d->spec.name);
		json_add_str(e, "command", d->spec.cmdline);
		json_add_str(e, "path", d->spec.path);
		json_add_str(e, "state", dstate_names[d->state]);
		json_add_int(e, "pid",
		             d->state == D_RUNNING || d->state == D_STOPPING ? d->pid : 0);
		json_add_int(e, "restarts", d->restarts);
		json_add_int(e, "since_ms", d->since_ms);
		json_add_str(e, "last_exit", d->last_exit);
		cJSON_AddItemToArray(arr, e);
	}
	json_add(o, "daemons", arr);
	char *text = json_print(o);
	cJSON_Delete(o);
	char tmp[PATH_MAX + 64], path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, MASTER_STATUS_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", m->run_dir, MASTER_STATUS_FILE);
	FILE *f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0)
		log_warn("event=status_write_failed path=%s error=%s", log_q(path),
		         log_q(strerror(errno)));
	free(text);
}

static void master_set(struct daemon *d, enum dstate st)
{
	d->state = st;
	d->since_ms = time_now_ms();
}

static void master_heartbeat_path(const struct master *m, const struct daemon *d, char *buf,
                                  size_t len)
{
	snprintf(buf, len, "%s/heartbeat-%s", m->run_dir, d->spec.name);
}

static void master_start(struct master *m, struct daemon *d)
{
	char hb[PATH_MAX + 64];
	master_heartbeat_path(m, d, hb, sizeof hb);
	unlink(hb); /* a beat from the last run must not count for this one */
	d->stuck = 0;
	if (access(d->spec.path, X_OK) < 0) {
		if (d->state != D_MISSING)
			log_warn(
			    "event=daemon_missing daemon=%s path=%s reason=\"%s: this stage is "
			    "not built or not installed yet; it is not started and is looked "
			    "for again on SIGHUP\"",
			    d->spec.name, log_q(d->spec.path), strerror(errno));
		master_set(d, D_MISSING);
		return;
	}
	pid_t master_pid = getpid();
	extern char **environ;
	char **env = secenv_for(d->spec.path, environ); /* only the secrets it uses (secenv.h) */
	pid_t pid = fork();
	if (pid < 0) {
		free(env);
		log_warn("event=fork_failed daemon=%s error=%s", d->spec.name,
		         log_q(strerror(errno)));
		d->restart_at_mono = time_mono_ms() + backoff_next(&d->bo);
		master_set(d, D_BACKOFF);
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0); /* a terminal's ^C reaches the master only; it orders the stop */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master_pid)
			_exit(1);
		umask(077); /* databases, sockets and files of every daemon: owner-only */
		setenv("OPSBOT_HEARTBEAT", hb, 1);
		env = secenv_for(d->spec.path, environ); /* again: with the heartbeat path */
		execve(d->spec.path, d->spec.argv, env);
		fprintf(stderr, "opsbot: cannot run %s: %s\n", d->spec.path, strerror(errno));
		_exit(127);
	}
	free(env);
	d->pid = pid;
	d->started_mono = time_mono_ms();
	master_set(d, D_RUNNING);
	log_info("event=daemon_started daemon=%s pid=%d command=%s", d->spec.name, (int)pid,
	         log_q(d->spec.cmdline));
}

static void master_exit_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %d", status);
}

static void master_drop(struct master *m, size_t i)
{
	daemons_spec_free(&m->d[i].spec);
	memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof(m->d[0]));
	m->n--;
}

/* Collect every exited child; returns how many were ours. */
static int master_reap(struct master *m)
{
	int count = 0;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		for (size_t i = 0; i < m->n; i++) {
			struct daemon *d = &m->d[i];
			if (d->pid != pid || (d->state != D_RUNNING && d->state != D_STOPPING))
				continue;
			count++;
			master_exit_text(status, d->last_exit, sizeof(d->last_exit));
			d->pid = 0;
			int64_t now = time_mono_ms();
			if (m->stopping || d->removed) {
				log_info("event=daemon_stopped daemon=%s pid=%d status=%s",
				         d->spec.name, (int)pid, log_q(d->last_exit));
				master_set(d, D_STOPPED);
				if (d->removed && !m->stopping)
					master_drop(m, i);
				break;
			}
			if (now - d->started_mono >= m->stable_after || d->restart_now)
				backoff_reset(&d->bo);
			int64_t delay = d->restart_now ? 0 : backoff_next(&d->bo);
			d->restart_now = 0;
			d->restart_at_mono = now + delay;
			master_set(d, D_BACKOFF);
			log_warn("event=daemon_exited daemon=%s pid=%d status=%s uptime_ms=%lld "
			         "restart_in_ms=%lld",
			         d->spec.name, (int)pid, log_q(d->last_exit),
			         (long long)(now - d->started_mono), (long long)delay);
			break;
		}
	}
	return count;
}

/* Does the queue answer a query?  Opens the socket on first use. */
static int master_queue_answers(struct master *m)
{
	char err[256];
	if (!m->rpc && rpc_open(&m->rpc, m->queue_url, err, sizeof(err)) < 0)
		return 0;
	cJSON *req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "stats");
	cJSON *reply = NULL;
	int rc = rpc_call(m->rpc, req, &reply, 300, 0, err, sizeof(err));
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc == 0;
}

/* Start every stopped daemon that may start now; returns how many it tried. */
static int master_start_all(struct master *m)
{
	int n = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct daemon *d = &m->d[i];
		if (d->state != D_STOPPED || d->removed)
			continue;
		if (!m->others_started && !master_is_queue(d))
			continue;
		master_start(m, d);
		n++;
	}
	return n;
}

static void master_signal_all(struct master *m, int sig, int queue)
{
	for (size_t i = 0; i < m->n; i++) {
		struct daemon *d = &m->d[i];
		if ((d->state == D_RUNNING || d->state == D_STOPPING) &&
		    master_is_queue(d) == queue)
			kill(d->pid, sig);
	}
}

static int master_alive(struct master *m, int queue)
{
	int n = 0;
	for (size_t i = 0; i < m->n; i++)
		if ((m->d[i].state == D_RUNNING || m->d[i].state == D_STOPPING) &&
		    master_is_queue(&m->d[i]) == queue)
			n++;
	return n;
}

static void master_reload(struct master *m)
{
	struct daemon_spec *specs;
	size_t ns;
	char err[512];
	if (master_load(m, &specs, &ns, err, sizeof(err)) < 0) {
		log_warn("event=reload_failed error=%s keeping=old_table", log_q(err));
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct daemon *d = &m->d[i];
		if (d->removed)
			continue;
		int keep = 0;
		for (size_t k = 0; k < ns; k++)
			if (strcmp(specs[k].name, d->spec.name) == 0)
				keep = 1;
		if (!keep) {
			d->removed = 1;
			log_info("event=daemon_removed daemon=%s", d->spec.name);
			if (d->state == D_RUNNING) {
				kill(d->pid, SIGTERM);
				master_set(d, D_STOPPING);
			} else {
				master_drop(m, i--);
			}
		}
	}
	for (size_t k = 0; k < ns; k++) {
		struct daemon *d = master_find(m, specs[k].name);
		if (!d) {
			if (m->n == sizeof(m->d) / sizeof(m->d[0])) {
				log_warn("event=too_many_daemons daemon=%s", specs[k].name);
				continue;
			}
			d = &m->d[m->n++];
			*d = (struct daemon){.spec = specs[k]};
			memset(&specs[k], 0, sizeof(specs[k]));
			backoff_init(&d->bo, m->restart_min, m->restart_max);
			log_info("event=daemon_added daemon=%s", d->spec.name);
			continue; /* started by master_start_all */
		}
		backoff_init(&d->bo, m->restart_min, m->restart_max);
		if (strcmp(d->spec.cmdline, specs[k].cmdline) == 0 &&
		    strcmp(d->spec.path, specs[k].path) == 0) {
			if (d->state == D_RUNNING)
				kill(d->pid, SIGHUP);
			if (d->state == D_MISSING)
				master_set(d, D_STOPPED); /* look again */
			continue;
		}
		/* Changed command: swap the spec, restart the process now. */
		struct daemon_spec old = d->spec;
		d->spec = specs[k];
		memset(&specs[k], 0, sizeof(specs[k]));
		daemons_spec_free(&old);
		log_info("event=daemon_changed daemon=%s command=%s", d->spec.name,
		         log_q(d->spec.cmdline));
		if (d->state == D_RUNNING) {
			d->restart_now = 1;
			kill(d->pid, SIGTERM);
		} else {
			master_set(d, D_STOPPED);
		}
	}
	/* Entries moved into the table were zeroed; daemons_free skips NULLs. */
	daemons_free(specs, ns);
	log_info("event=reloaded daemons=%zu", m->n);
}

/* Wait until no daemon of this group (queue or not) runs, or the deadline. */
static void master_wait_group(struct master *m, int queue, sigset_t *set)
{
	int64_t deadline = time_mono_ms() + m->stop_timeout;
	int killed = 0;
	while (master_alive(m, queue) > 0) {
		int64_t left = deadline - time_mono_ms();
		if (left <= 0 && !killed) {
			log_warn("event=stop_timeout group=%s action=SIGKILL",
			         queue ? "queue" : "workers");
			master_signal_all(m, SIGKILL, queue);
			killed = 1;
			deadline = time_mono_ms() + 5000;
			continue;
		}
		if (left <= 0)
			break; /* unkillable: leave it, we are going */
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		if (ts.tv_sec > 0 || ts.tv_nsec > 100000000)
			ts = (struct timespec){0, 100000000};
		siginfo_t si;
		int sig = sigtimedwait(set, &si, &ts);
		if ((sig == SIGTERM || sig == SIGINT) && !killed) {
			log_warn("event=stop_forced action=SIGKILL");
			master_signal_all(m, SIGKILL, 0);
			master_signal_all(m, SIGKILL, 1);
			killed = 1;
		}
		master_reap(m);
		master_write_status(m);
	}
}

static void master_stop(struct master *m, sigset_t *set)
{
	m->stopping = 1;
	log_info("event=stopping daemons=%zu", m->n);
	for (size_t i = 0; i < m->n; i++)
		if (m->d[i].state == D_RUNNING && !master_is_queue(&m->d[i]))
			master_set(&m->d[i], D_STOPPING);
	master_signal_all(m, SIGTERM, 0);
	master_write_status(m);
	master_wait_group(m, 0, set);
	for (size_t i = 0; i < m->n; i++)
		if (m->d[i].state == D_RUNNING)
			master_set(&m->d[i], D_STOPPING);
	master_signal_all(m, SIGTERM, 1);
	master_wait_group(m, 1, set);
	for (size_t i = 0; i < m->n; i++)
		if (m->d[i].state == D_BACKOFF)
			master_set(&m->d[i], D_STOPPED);
	master_write_status(m);
}

static int master_lock(struct master *m)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, MASTER_PID_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("event=pid_file_failed path=%s error=%s", log_q(path),
		          log_q(strerror(errno)));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char other[32] = "";
		ssize_t r = read(fd, other, sizeof(other) - 1);
		other[r > 0 ? r : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		fprintf(stderr,
		        "opsbot: another opsbot (pid %s) already runs with state in %s; stop it "
		        "first (kill -TERM %s)\n",
		        other[0] ? other : "?", m->run_dir, other[0] ? other : "PID");
		close(fd);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)len) != len)
		log_warn("event=pid_file_write_failed path=%s", log_q(path));
	return fd; /* held open (and locked) until exit */
}

static int master_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	if (str_copy(p, sizeof(p), dir) < 0)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/*
 * The watchdog: a running daemon whose heartbeat file is older than
 * heartbeat_timeout is stuck (alive, not working); kill it so it restarts.
 */
static void master_watchdog(struct master *m)
{
	if (m->heartbeat_timeout <= 0)
		return;
	int64_t now = time_now_ms();
	for (size_t i = 0; i < m->n; i++) {
		struct daemon *d = &m->d[i];
		char hb[PATH_MAX + 64];
		struct stat st;
		if (d->state != D_RUNNING || d->stuck)
			continue;
		master_heartbeat_path(m, d, hb, sizeof hb);
		if (stat(hb, &st) < 0)
			continue; /* not beating (yet, or never): not watched */
		int64_t beat = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		if (now - beat <= m->heartbeat_timeout)
			continue;
		log_warn("event=daemon_stuck daemon=%s pid=%d last_beat_ms_ago=%lld action=SIGKILL "
		         "reason=\"its event loop stopped beating; it is restarted\"",
		         d->spec.name, (int)d->pid, (long long)(now - beat));
		d->stuck = 1;
		kill(d->pid, SIGKILL);
	}
}

static int master_next_timeout_ms(struct master *m)
{
	int64_t now = time_mono_ms();
	int64_t t = 1000;
	if (!m->others_started)
		t = 50;
	for (size_t i = 0; i < m->n; i++)
		if (m->d[i].state == D_BACKOFF && m->d[i].restart_at_mono - now < t)
			t = m->d[i].restart_at_mono - now;
	return t < 0 ? 0 : (int)t;
}

static void master_usage(FILE *f)
{
	fprintf(f,
	        "usage: opsbot [-c FILE]\n"
	        "  Runs every daemon of the [daemons] table in FILE (default %s)\n"
	        "  in the foreground.  Stop with SIGTERM or ^C; reload with SIGHUP.\n",
	        MASTER_DEFAULT_CONFIG);
}

/* Read the config, find our bin dir, make the run dir, take the lock, and
 * fill m's daemons.  0, or the exit code. */
static int master_setup(struct master *m, const char *cfgarg)
{
	if (!realpath(cfgarg, m->config_path)) {
		fprintf(stderr, "opsbot: cannot read config %s: %s\n", cfgarg, strerror(errno));
		return 1;
	}
	char exe[PATH_MAX];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el <= 0)
		log_fatal("event=no_bindir error=%s", log_q(strerror(errno)));
	exe[el] = '\0';
	*strrchr(exe, '/') = '\0';
	str_copy(m->bindir, sizeof(m->bindir), exe);

	struct daemon_spec *specs;
	size_t ns;
	char err[512];
	if (master_load(m, &specs, &ns, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot: %s\n", err);
		return 1;
	}
	if (master_mkdirs(m->run_dir) < 0) {
		fprintf(stderr, "opsbot: cannot create %s: %s\n", m->run_dir, strerror(errno));
		daemons_free(specs, ns);
		return 1;
	}
	if (master_lock(m) < 0) {
		daemons_free(specs, ns);
		return 1;
	}
	for (size_t i = 0; i < ns; i++) {
		m->d[m->n] = (struct daemon){.spec = specs[i]};
		backoff_init(&m->d[m->n].bo, m->restart_min, m->restart_max);
		m->n++;
	}
	free(specs); /* the strings now belong to m->d */
	m->started_ms = time_now_ms();
	return 0;
}

/* The others start once the queue answers, or when it cannot be waited for. */
static void master_wait_queue(struct master *m)
{
	if (m->others_started)
		return;
	struct daemon *q = master_find(m, "queue");
	if (q && q->state == D_RUNNING && master_queue_answers(m)) {
		log_info("event=queue_ready url=%s", log_q(m->queue_url));
		m->others_started = 1;
	} else if (!q || q->state == D_MISSING) {
		log_warn("event=queue_not_started action=\"starting the others; "
		         "they retry until a queue answers\"");
		m->others_started = 1;
	} else if (time_mono_ms() >= m->queue_wait_until) {
		log_warn("event=queue_not_ready url=%s waited_ms=%lld action=\"starting "
		         "the others; they retry until it answers\"",
		         log_q(m->queue_url), (long long)m->queue_wait);
		m->others_started = 1;
	}
}

/* One turn of the loop after a signal (or none): 1 when a daemon changed. */
static int master_turn(struct master *m, int sig)
{
	int changed = 0;
	if (sig == SIGHUP) {
		log_info("event=reload");
		master_reload(m);
		changed = 1;
	}
	if (master_reap(m) > 0)
		changed = 1;
	master_wait_queue(m);
	int64_t now = time_mono_ms();
	for (size_t i = 0; i < m->n; i++) {
		struct daemon *d = &m->d[i];
		if (d->state == D_BACKOFF && now >= d->restart_at_mono) {
			d->restarts++;
			master_start(m, d);
			changed = 1;
		}
	}
	if (master_start_all(m) > 0)
		changed = 1;
	master_watchdog(m);
	return changed;
}

/* After the daemons stopped: the queue link, the status and pid files. */
static void master_cleanup(struct master *m)
{
	if (m->rpc)
		rpc_close(m->rpc);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, MASTER_STATUS_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", m->run_dir, MASTER_PID_FILE);
	unlink(path);
	for (size_t i = 0; i < m->n; i++)
		daemons_spec_free(&m->d[i].spec);
}

int main(int argc, char **argv)
{
	log_init("opsbot");
	static struct master m;
	const char *cfgarg = MASTER_DEFAULT_CONFIG;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			cfgarg = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			master_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "opsbot: unexpected argument %s\n", argv[i]);
			master_usage(stderr);
			return 2;
		}
	}
	int rc = master_setup(&m, cfgarg);
	if (rc != 0)
		return rc;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	m.others_started = master_find(&m, "queue") == NULL;
	m.queue_wait_until = time_mono_ms() + m.queue_wait;
	log_info("event=started config=%s daemons=%zu bindir=%s", log_q(m.config_path), m.n,
	         log_q(m.bindir));
	master_start_all(&m);
	master_write_status(&m);

	while (!m.stopping) {
		int t = master_next_timeout_ms(&m);
		struct timespec ts = {t / 1000, (long)(t % 1000) * 1000000};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (master_turn(&m, sig))
			master_write_status(&m);
	}
	master_stop(&m, &set);
	master_cleanup(&m);
	log_info("event=stopped");
	return 0;
}
