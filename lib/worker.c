/*
 * worker.c: the claim / heartbeat / complete loop every worker shares.
 *
 * One job at a time.  The main thread claims (long poll), runs the handler,
 * then completes or fails the job.  While the handler runs, a supervisor
 * thread extends the lease every third of it and enforces the stop grace:
 *
 *   idle --claim--> handling --handler returns--> reporting --> idle
 *                      |                              (complete | fail)
 *                      +-- SIGTERM + stop_grace passed --> fail(retryable), exit 0
 *                      +-- heartbeat says lease_lost --> result dropped
 *
 * Invariants:
 *  1. At most one job is held; w->busy is 1 exactly while its handler runs.
 *  2. A held job ends in exactly one of: complete, fail, handed back, or
 *     dropped because the queue gave the lease to someone else.  Only the
 *     supervisor hands back, only the main thread completes or fails, and
 *     w->handed_back (under w->mu) decides between them.
 *  3. A network error never ends the process: every call to the queue is
 *     retried with backoff until it is answered or the worker stops.
 *  4. After SIGTERM no new claim is sent; a claim already in flight may
 *     still deliver one job, which is handled under the same grace.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "sig.h"
#include "defaults.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"

#define WORKER_DEFAULT_QUEUE DEF_QUEUE_URL
#define WORKER_RETRY_MIN_MS  100
#define WORKER_RETRY_MAX_MS  5000
#define WORKER_CALL_MS       5000 /* timeout of one heartbeat/complete/fail call */
#define WORKER_TICK_MS       100  /* how often the supervisor looks at the stop flag */
#define WORKER_PROBE_MS      1000 /* a claim's slack past its long poll */

struct worker {
	const struct worker_spec *spec;
	struct config *cfg;
	void *state;
	struct rpc *rpc;
	char url[512];
	char ident[160];
	int64_t lease_ms, grace_ms, wait_ms;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy;        /* handler running (invariant 1) */
	int lost;        /* the queue said lease_lost */
	int handed_back; /* the supervisor failed the job back to the queue */
	const struct worker_job *job;
	const char *lease;
};

static atomic_int worker_stop; /* set by the signal handler, read by every thread */
static volatile sig_atomic_t worker_hup;
static const char *worker_cfg_path = WORKER_DEFAULT_CONFIG;

const char *worker_config_path(void)
{
	return worker_cfg_path;
}

int worker_parse_args(int argc, char **argv, struct worker_args *out, char *err, size_t errlen)
{
	*out = (struct worker_args){.config = WORKER_DEFAULT_CONFIG};
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "-c needs a file name");
				return -1;
			}
			out->config = argv[++i];
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			out->help = 1;
		} else if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (a[0] == '-' && a[1] != '\0') {
			snprintf(err, errlen, "unknown option %s", a);
			return -1;
		} else {
			break;
		}
	}
	out->cmd_argc = argc - i;
	out->cmd_argv = out->cmd_argc > 0 ? argv + i : NULL;
	return 0;
}

int worker_parse_claim(const cJSON *reply, struct worker_job *job, char *lease, size_t leaselen,
                       char *err, size_t errlen)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(reply, "job");
	if (!j) {
		snprintf(err, errlen, "field 'job' is missing");
		return -1;
	}
	if (cJSON_IsNull(j))
		return 1;
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen, "field 'job' must be an object or null");
		return -1;
	}
	int64_t id, incident = 0, attempt;
	const char *kind, *ls;
	if (json_get_int(j, "id", &id, err, errlen) < 0 ||
	    json_get_str(j, "kind", &kind, err, errlen) < 0 ||
	    json_get_int(j, "attempt", &attempt, err, errlen) < 0 ||
	    json_get_str(j, "lease", &ls, err, errlen) < 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(j, "incident") &&
	    json_get_int(j, "incident", &incident, err, errlen) < 0)
		return -1;
	if (id <= 0) {
		snprintf(err, errlen, "field 'id' must be positive, got %lld", (long long)id);
		return -1;
	}
	if (attempt < 1 || attempt > 1000000) {
		snprintf(err, errlen, "field 'attempt' out of range: %lld", (long long)attempt);
		return -1;
	}
	if (*ls == '\0' || str_copy(lease, leaselen, ls) < 0) {
		snprintf(err, errlen, "field 'lease' must be 1 to %zu bytes", leaselen - 1);
		return -1;
	}
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
	if (input && !cJSON_IsObject(input) && !cJSON_IsNull(input)) {
		snprintf(err, errlen, "field 'input' must be an object");
		return -1;
	}
	*job = (struct worker_job){
	    .id = id,
	    .incident = incident,
	    .kind = kind,
	    .attempt = (int)attempt,
	    .input = cJSON_IsObject(input) ? input : NULL,
	    .lease = lease,
	};
	return 0;
}

static void worker_on_signal(int sig)
{
	if (sig == SIGHUP)
		worker_hup = 1;
	else
		worker_stop = 1;
}

static void worker_signals(void)
{
	sig_on_stop(worker_on_signal, 1);
}

/* Runtime keys of the worker's own section. */
static void worker_read_keys(struct worker *w, struct config *cfg)
{
	const char *sec = w->spec->section;
	const char *url = config_str(cfg, "queue", "listen", WORKER_DEFAULT_QUEUE);
	if (str_copy(w->url, sizeof(w->url), url) < 0)
		config_error(cfg, "queue", "listen", "address longer than %zu bytes",
		             sizeof(w->url) - 1);
	rpc_tls_from_config(cfg); /* tls+tcp://: this host's client certificate */
	w->lease_ms = config_duration_ms(cfg, sec, "lease", 30000);
	w->grace_ms = config_duration_ms(cfg, sec, "stop_grace", 10000);
	w->wait_ms = config_duration_ms(cfg, sec, "claim_wait", 1000);
	if (w->lease_ms < 300)
		config_error(cfg, sec, "lease",
		             "must be at least 300ms (heartbeats go every third)");
	if (w->wait_ms < 10 || w->wait_ms > 60000)
		config_error(cfg, sec, "claim_wait", "must be between 10ms and 60s");
	if (w->grace_ms < 0)
		config_error(cfg, sec, "stop_grace", "must not be negative");
}

/* Wait on the queue until rpc_open succeeds or we are told to stop. */
static int worker_connect(struct worker *w)
{
	struct backoff bo;
	backoff_init(&bo, WORKER_RETRY_MIN_MS, WORKER_RETRY_MAX_MS);
	while (!worker_stop) {
		char err[256];
		if (rpc_open(&w->rpc, w->url, err, sizeof(err)) == 0)
			return 0;
		int64_t d = backoff_next(&bo);
		log_warn("event=queue_unreachable url=%s error=%s retry_ms=%lld", log_q(w->url),
		         log_q(err), (long long)d);
		time_sleep_ms(d, &worker_stop);
	}
	return -1;
}

/*
 * Send a complete or fail (req is consumed) until the queue answers.  While
 * stopping, give up after the grace period: the lease then expires and the
 * job is claimed again, which is safe.
 */
static void worker_report(struct worker *w, cJSON *req, const char *what, int64_t job_id)
{
	struct backoff bo;
	backoff_init(&bo, WORKER_RETRY_MIN_MS, WORKER_RETRY_MAX_MS);
	int64_t stop_at = 0;
	for (;;) {
		cJSON *reply = NULL;
		char err[512];
		int rc = rpc_call(w->rpc, req, &reply, WORKER_CALL_MS, 1, err, sizeof(err));
		if (rc == 0) {
			if (json_bool(reply, "duplicate", 0))
				log_info("event=%s_duplicate job=%lld", what, (long long)job_id);
			if (json_bool(reply, "dead", 0))
				log_warn("event=job_dead_lettered job=%lld", (long long)job_id);
			cJSON_Delete(reply);
			break;
		}
		cJSON_Delete(reply);
		if (rc == -2) {
			log_warn("event=%s_refused job=%lld error=%s", what, (long long)job_id,
			         log_q(err));
			break;
		}
		if (worker_stop) {
			if (!stop_at)
				stop_at = time_mono_ms();
			if (time_mono_ms() - stop_at >= w->grace_ms) {
				log_warn("event=%s_abandoned job=%lld reason=\"stopping and the "
				         "queue does not answer; the lease will expire\"",
				         what, (long long)job_id);
				break;
			}
		}
		int64_t d = backoff_next(&bo);
		log_warn("event=%s_retry job=%lld error=%s retry_ms=%lld", what, (long long)job_id,
		         log_q(err), (long long)d);
		time_sleep_ms(d, NULL);
	}
	cJSON_Delete(req);
}

static cJSON *worker_fail_req(const struct worker_job *job, const char *lease, const char *error,
                              int retryable)
{
	cJSON *req = wire_new(WIRE_FAIL, job->incident);
	json_add_int(req, "job", job->id);
	json_add_str(req, "lease", lease);
	json_add_str(req, "error", error);
	json_add_bool(req, "retryable", retryable);
	return req;
}

static void worker_heartbeat(struct worker *w, int64_t *next_at)
{
	const struct worker_job *job = w->job;
	cJSON *req = wire_new(WIRE_HEARTBEAT, job->incident);
	json_add_int(req, "job", job->id);
	json_add_str(req, "lease", w->lease);
	json_add_int(req, "lease_ms", w->lease_ms);
	cJSON *reply = NULL;
	char err[512];
	int64_t third = w->lease_ms / 3;
	int64_t timeout = third < WORKER_CALL_MS ? third : WORKER_CALL_MS;
	int rc = rpc_call(w->rpc, req, &reply, (int)timeout, 0, err, sizeof(err));
	int64_t now = time_mono_ms();
	if (rc == 0) {
		log_debug("event=heartbeat job=%lld", (long long)job->id);
		*next_at = now + third;
	} else if (rc == -2) {
		const char *code = json_str(reply, "error");
		if (code && strcmp(code, "lease_lost") == 0) {
			log_warn("event=lease_lost job=%lld incident=%lld reason=\"the queue gave "
			         "the job to another worker; this result will be dropped\"",
			         (long long)job->id, (long long)job->incident);
			pthread_mutex_lock(&w->mu);
			w->lost = 1;
			pthread_mutex_unlock(&w->mu);
		} else {
			log_warn("event=heartbeat_refused job=%lld error=%s", (long long)job->id,
			         log_q(err));
		}
		*next_at = now + third;
	} else {
		/* Try again soon: the lease is still running out. */
		log_warn("event=heartbeat_failed job=%lld error=%s", (long long)job->id,
		         log_q(err));
		*next_at = now + (third / 2 > 0 ? third / 2 : 1);
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
}

/* The supervisor: heartbeats and the stop grace (see the diagram above). */
static void *worker_supervise(void *arg)
{
	struct worker *w = arg;
	int64_t next_hb = time_mono_ms() + w->lease_ms / 3;
	int64_t stop_seen = 0;
	pthread_mutex_lock(&w->mu);
	while (w->busy) {
		int64_t now = time_mono_ms();
		if (worker_stop && !stop_seen) {
			stop_seen = now;
			log_info("event=stopping job=%lld grace_ms=%lld", (long long)w->job->id,
			         (long long)w->grace_ms);
		}
		if (stop_seen && now - stop_seen >= w->grace_ms) {
			w->handed_back = 1;
			pthread_mutex_unlock(&w->mu);
			log_warn("event=job_handed_back job=%lld incident=%lld reason=\"still "
			         "running %lld ms after SIGTERM\"",
			         (long long)w->job->id, (long long)w->job->incident,
			         (long long)w->grace_ms);
			char why[160];
			snprintf(why, sizeof(why),
			         "worker stopped before the job finished (stop_grace %lld ms)",
			         (long long)w->grace_ms);
			worker_report(w, worker_fail_req(w->job, w->lease, why, 1), "fail",
			              w->job->id);
			log_info("event=stopped");
			_exit(0); /* the handler cannot be interrupted safely */
		}
		if (now >= next_hb && !w->lost) {
			pthread_mutex_unlock(&w->mu);
			worker_heartbeat(w, &next_hb);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		int64_t until = next_hb < now + WORKER_TICK_MS ? next_hb : now + WORKER_TICK_MS;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t ns = (int64_t)ts.tv_nsec + (until - now) * 1000000;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void worker_run_job(struct worker *w, const struct worker_job *job, const char *lease)
{
	log_info("event=job_start job=%lld incident=%lld kind=%s attempt=%d", (long long)job->id,
	         (long long)job->incident, job->kind, job->attempt);
	int64_t t0 = time_mono_ms();
	pthread_mutex_lock(&w->mu);
	w->busy = 1;
	w->lost = 0;
	w->handed_back = 0;
	w->job = job;
	w->lease = lease;
	pthread_mutex_unlock(&w->mu);

	pthread_t sup;
	int have_sup = pthread_create(&sup, NULL, worker_supervise, w) == 0;
	if (!have_sup)
		log_warn("event=no_heartbeat_thread job=%lld error=%s", (long long)job->id,
		         log_q(strerror(errno)));

	cJSON *result = NULL;
	char herr[512] = "";
	int st = w->spec->handle(w->state, job, &result, herr, sizeof(herr));

	pthread_mutex_lock(&w->mu);
	w->busy = 0;
	int lost = w->lost, handed = w->handed_back;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (have_sup)
		pthread_join(sup, NULL);
	int64_t ms = time_mono_ms() - t0;

	if (handed || lost) {
		log_warn("event=result_dropped job=%lld reason=%s", (long long)job->id,
		         lost ? "lease_lost" : "handed_back");
		cJSON_Delete(result);
		return;
	}
	if (st == WORKER_OK) {
		cJSON *req = wire_new(WIRE_COMPLETE, job->incident);
		json_add_int(req, "job", job->id);
		json_add_str(req, "lease", lease);
		json_add(req, "result", result ? result : json_new_object());
		log_info("event=job_done job=%lld incident=%lld kind=%s ms=%lld",
		         (long long)job->id, (long long)job->incident, job->kind, (long long)ms);
		worker_report(w, req, "complete", job->id);
		return;
	}
	cJSON_Delete(result);
	int retryable = st != WORKER_PERMANENT;
	if (herr[0] == '\0')
		snprintf(herr, sizeof(herr), "%s: the handler failed without saying why",
		         w->spec->name);
	log_redact(herr);
	log_warn("event=job_failed job=%lld incident=%lld kind=%s retryable=%d ms=%lld error=%s",
	         (long long)job->id, (long long)job->incident, job->kind, retryable, (long long)ms,
	         log_q(herr));
	worker_report(w, worker_fail_req(job, lease, herr, retryable), "fail", job->id);
}

static const char *const *worker_owned(const struct worker_spec *spec, const char **buf)
{
	buf[0] = spec->section;
	buf[1] = NULL;
	return spec->section ? buf : buf + 1;
}

static void worker_reload(struct worker *w)
{
	struct config *nc;
	char err[512];
	if (config_load(worker_cfg_path, &nc, err, sizeof(err)) < 0) {
		log_warn("event=reload_failed error=%s keeping=old_config", log_q(err));
		return;
	}
	struct worker tmp = *w;
	worker_read_keys(&tmp, nc);
	int keep_new = 0;
	if (w->spec->reload) {
		if (w->spec->reload(w->state, nc, err, sizeof(err)) < 0) {
			log_warn("event=reload_failed error=%s keeping=old_config", log_q(err));
			config_free(nc);
			return;
		}
		keep_new = 1;
	}
	const char *ob[2];
	if (config_check(nc, worker_owned(w->spec, ob), err, sizeof(err)) < 0) {
		log_warn("event=reload_config_error error=%s", log_q(err));
		if (!keep_new) {
			config_free(nc);
			return;
		}
	}
	if (strcmp(tmp.url, w->url) != 0) {
		rpc_close(w->rpc);
		w->rpc = NULL;
		memcpy(w->url, tmp.url, sizeof(w->url));
	}
	w->lease_ms = tmp.lease_ms;
	w->grace_ms = tmp.grace_ms;
	w->wait_ms = tmp.wait_ms;
	if (keep_new) {
		config_free(w->cfg);
		w->cfg = nc;
	} else {
		config_free(nc);
	}
	log_info("event=reloaded lease_ms=%lld stop_grace_ms=%lld", (long long)w->lease_ms,
	         (long long)w->grace_ms);
}

static cJSON *worker_claim_req(const struct worker *w, int64_t wait_ms)
{
	cJSON *req = wire_new(WIRE_CLAIM, 0);
	cJSON *kinds = json_new_array();
	for (const char *const *k = w->spec->kinds; *k; k++)
		cJSON_AddItemToArray(kinds, cJSON_CreateString(*k));
	json_add(req, "kinds", kinds);
	json_add_str(req, "worker", w->ident);
	json_add_int(req, "wait_ms", wait_ms);
	json_add_int(req, "lease_ms", w->lease_ms);
	return req;
}

static void worker_loop(struct worker *w)
{
	struct backoff bo;
	backoff_init(&bo, WORKER_RETRY_MIN_MS, WORKER_RETRY_MAX_MS);
	/*
	 * Until the queue has answered (at start, and after a transport error)
	 * claims are probes: no long poll and a short timeout, so a worker
	 * whose queue is down still notices SIGTERM within about a second.
	 */
	int failing = 1, answered = 0;
	while (!worker_stop) {
		if (worker_hup) {
			worker_hup = 0;
			worker_reload(w);
		}
		if (!w->rpc && worker_connect(w) < 0)
			break;
		int64_t wait = failing ? 0 : w->wait_ms;
		cJSON *req = worker_claim_req(w, wait);
		cJSON *reply = NULL;
		char err[512];
		int rc = rpc_call(w->rpc, req, &reply, (int)(wait + WORKER_PROBE_MS), 0, err,
		                  sizeof(err));
		cJSON_Delete(req);
		struct worker_job job;
		char lease[WORKER_LEASE_MAX];
		int pr = -1;
		if (rc == 0)
			pr =
			    worker_parse_claim(reply, &job, lease, sizeof(lease), err, sizeof(err));
		if (rc != 0 || pr < 0) {
			cJSON_Delete(reply);
			int64_t d = backoff_next(&bo);
			log_warn("event=%s url=%s error=%s retry_ms=%lld",
			         rc == -1   ? "queue_unreachable"
			         : rc == -2 ? "claim_refused"
			                    : "claim_bad_reply",
			         log_q(w->url), log_q(err), (long long)d);
			failing = 1;
			time_sleep_ms(d, &worker_stop);
			continue;
		}
		if (failing) {
			if (answered)
				log_info("event=queue_reachable url=%s", log_q(w->url));
			failing = 0;
		}
		answered = 1;
		backoff_reset(&bo);
		if (pr == 0)
			worker_run_job(w, &job, lease);
		cJSON_Delete(reply);
	}
}

static void worker_usage(FILE *f, const struct worker_spec *spec)
{
	fprintf(f,
	        "usage: %s [-c FILE]%s\n"
	        "  -c FILE   configuration (default %s)\n"
	        "Claims %s jobs from opsbot-queue until SIGTERM.\n",
	        spec->name, spec->command ? " [COMMAND ARGS...]" : "", WORKER_DEFAULT_CONFIG,
	        spec->kinds && spec->kinds[0] ? spec->kinds[0] : "no");
}

int worker_main(int argc, char **argv, const struct worker_spec *spec)
{
	log_init(spec->name);
	struct worker_args a;
	char err[512];
	if (worker_parse_args(argc, argv, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", spec->name, err);
		worker_usage(stderr, spec);
		return 2;
	}
	if (a.help) {
		worker_usage(stdout, spec);
		return 0;
	}
	worker_cfg_path = a.config;
	if (a.cmd_argc > 0) {
		if (!spec->command) {
			fprintf(stderr,
			        "%s: unexpected argument %s (this worker has no commands)\n",
			        spec->name, a.cmd_argv[0]);
			return 2;
		}
		return spec->command(a.cmd_argc, a.cmd_argv);
	}
	LOG_ASSERT(spec->kinds && spec->kinds[0] && spec->handle);

	struct worker w = {.spec = spec};
	pthread_mutex_init(&w.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	char host[64] = "host";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(w.ident, sizeof(w.ident), "%s@%s:%d", spec->name, host, (int)getpid());

	if (config_load(a.config, &w.cfg, err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	worker_read_keys(&w, w.cfg);
	if (spec->init && spec->init(w.cfg, &w.state, err, sizeof(err)) < 0)
		log_fatal("event=init_failed error=%s", log_q(err));
	const char *ob[2];
	if (config_check(w.cfg, worker_owned(spec, ob), err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	worker_signals();
	char kinds[256] = "";
	for (const char *const *k = spec->kinds; *k; k++) {
		size_t used = strlen(kinds);
		snprintf(kinds + used, sizeof(kinds) - used, "%s%s", used ? "," : "", *k);
	}
	log_info("event=started queue=%s kinds=%s lease_ms=%lld stop_grace_ms=%lld", log_q(w.url),
	         kinds, (long long)w.lease_ms, (long long)w.grace_ms);

	worker_loop(&w);

	if (spec->fini)
		spec->fini(w.state);
	if (w.rpc)
		rpc_close(w.rpc);
	config_free(w.cfg);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	log_info("event=stopped");
	return 0;
}
