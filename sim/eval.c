/*
 * eval.c: `opsbotctl eval --episodes N --seed S --out results.csv` (eval.h).
 *
 * One stack for the whole run, started under `opsbot` in a work folder:
 * the queue, the metric watch (scraping opsbot-sim), detect, retrieve, plan
 * and exec, with the catalog and policy of the checkout (cooldowns, rate
 * limits and freeze windows left out: every episode is a fresh system, so
 * they would only carry one episode's actions into the next).
 *
 * An episode:
 *   1. POST /control/reset {seed}: a fresh, healthy shop at tick 0 and an
 *      empty history file;
 *   2. a quiet stretch of random length; any incident the watch opens now
 *      is a false alarm (counted, then resolved, as a person would);
 *   3. one random fault (kind, service, severity);
 *   4. the harness approves every plan of the episode's incidents (as
 *      bob, then carol when policy wants two people) and waits until they
 *      end or the horizon passes;
 *   5. GET /control/log: every fault and action with its tick.
 *
 * Scoring.  Detection, time to detect, the root-cause ranking and the
 * actions come from the live run (the queue's incidents and their results).
 * Recovery is judged by replaying the episode in sim/model.c: the model
 * is a pure function of its seed and of the commands at their ticks, so
 * the replay is the live run, tick for tick (checked: the replayed state
 * at the live tick must equal /control/state).  The same replay gives the
 * baselines on the same episode:
 *   - threshold-only detection: static limits (each service's objective
 *     for p95, errors over 2 %, CPU or memory over 90 %, db connections
 *     over 80 % of the pool, cache hit ratio under 0.6), two samples in a
 *     row, sampled as often as the watch polls, on the fault left alone;
 *   - no root-cause ranking: blame the service whose threshold fired first
 *     (then the others in the order they fired); and a random order;
 *   - random action: as many random catalog actions, on random services,
 *     as opsbot's first plan had steps, at the tick opsbot's first action
 *     reached the simulator;
 *   - no action at all (how many faults go away by themselves).
 * Recovered: every service meets its objectives from some tick R until
 * the horizon, with at least EV_STABLE_S of that before it; time to recover
 * is R minus the fault's tick.  Only episodes where the fault hurt (some
 * service missed an objective with no action taken) count for recovery.
 * All times are simulated seconds.
 */
#include "eval.h"

#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "sig.h"
#include "log.h"
#include "mem.h"
#include "model.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"

#define EV_MAX_EPISODES 1000
#define EV_MAX_CMDS     512
#define EV_STABLE_S     30
#define EV_MAX_INC      64
#define EV_MAX_CAT      64
#define EV_WATCH_WARMUP 20 /* polls (100 ms each) before the watch judges */
#define EV_WATCH_MS     100

struct ev_opts {
	int episodes;
	uint64_t seed;
	const char *out, *work, *repo;
	double accel;
	int horizon_s, quiet_min_s, quiet_max_s;
	int bench;
	char bin[PATH_MAX];
};

struct ev_cmd {
	int64_t tick;
	char type; /* f a c */
	int kind, service;
	double value;
};

struct ev_ep {
	int n;
	uint64_t seed;
	int fault, service;
	double severity;
	int quiet_s;
	/* live */
	int detected;
	double ttd_s;
	int64_t incident;
	char rca[3][16];
	int nrca;
	int top1, top3;
	char actions[400];
	int nsteps;
	int false_alarms;
	int64_t tick_fault, tick_act, tick_end;
	int replay_ok;
	/* judged by replay */
	int impact;
	int recovered;
	double ttr_s;
	int thr_detected;
	double thr_ttd_s;
	int thr_false;
	int alert_top1, alert_top3, rand_top1, rand_top3;
	char rand_action[200];
	int rand_recovered;
	double rand_ttr_s;
	int none_recovered;
};

struct ev {
	struct ev_opts o;
	char work[PATH_MAX], conf[PATH_MAX + 32], sim_url[128];
	pid_t master, sim, watch;
	struct rpc *rpc;
	struct http_client *http;
	char cat[EV_MAX_CAT][64];
	int ncat;
	uint64_t rng;
	int64_t last_id; /* highest incident id seen */
};

static volatile sig_atomic_t ev_stop;

static void ev_on_signal(int sig)
{
	(void)sig;
	ev_stop = 1;
}

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t ev_next(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static double ev_unif(uint64_t *s)
{
	return (double)(ev_next(s) >> 11) / 9007199254740992.0;
}

static int ev_pick(uint64_t *s, int n)
{
	return (int)(ev_unif(s) * n) % n;
}

static int ev_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int ev_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double ev_median(double *v, int n)
{
	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, ev_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- the simulator over HTTP -------------------------------------------------- */

static cJSON *ev_sim(struct ev *e, const char *method, const char *path, const char *body)
{
	char url[300], err[256];
	snprintf(url, sizeof url, "%s%s", e->sim_url, path);
	static const char *const hdr[] = {"Content-Type: application/json", NULL};
	struct http_request rq = {.method = method,
	                          .url = url,
	                          .headers = hdr,
	                          .body = body,
	                          .body_len = body ? strlen(body) : 0,
	                          .timeout_ms = 5000};
	struct http_response rs = {0};
	cJSON *o = NULL;
	if (http_do(e->http, &rq, &rs, err, sizeof err) == 0 && rs.status == 200)
		json_parse_object(rs.body.data, rs.body.len, &o, err, sizeof err);
	else
		fprintf(stderr, "opsbotctl eval: %s %s: %s\n", method, path,
		        rs.status ? (rs.body.data ? rs.body.data : "error") : err);
	http_response_free(&rs);
	return o;
}

/* ---- the queue ------------------------------------------------------------------- */

static cJSON *ev_call(struct ev *e, cJSON *req, int quiet)
{
	cJSON *reply = NULL;
	char err[512];
	int rc = rpc_call(e->rpc, req, &reply, 10000, 2, err, sizeof err);
	cJSON_Delete(req);
	if (rc != 0) {
		if (!quiet)
			fprintf(stderr, "opsbotctl eval: queue: %s\n", err);
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}

static cJSON *ev_incident(struct ev *e, int64_t id)
{
	cJSON *req = wire_new(WIRE_QUERY, id);
	json_add_str(req, "what", "incident");
	cJSON *r = ev_call(e, req, 0);
	if (!r)
		return NULL;
	cJSON *inc = cJSON_DetachItemFromObjectCaseSensitive(r, "incident");
	cJSON_Delete(r);
	return inc;
}

static void ev_resolve(struct ev *e, int64_t id, const char *why)
{
	cJSON *req = wire_new(WIRE_COMMAND, id);
	json_add_str(req, "action", "resolve");
	json_add_str(req, "user", "opsbot-eval");
	json_add_str(req, "surface", "cli");
	json_add_str(req, "note", why);
	cJSON_Delete(ev_call(e, req, 1));
}

static int ev_terminal(const char *state)
{
	return state && (!strcmp(state, "resolved") || !strcmp(state, "failed") ||
	                 !strcmp(state, "rejected") || !strcmp(state, "expired"));
}

/* ---- the stack ------------------------------------------------------------------- */

static pid_t ev_spawn(char *const argv[], const char *log_path)
{
	pid_t p = fork();
	if (p != 0)
		return p;
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	int nul = open("/dev/null", O_RDONLY);
	if (nul >= 0)
		dup2(nul, 0);
	setpgid(0, 0);
	execv(argv[0], argv);
	_exit(127);
}

static void ev_kill(pid_t *p, int ms)
{
	if (*p <= 0)
		return;
	kill(*p, SIGTERM);
	int st;
	for (int i = 0; i < ms / 50; i++) {
		if (waitpid(*p, &st, WNOHANG) == *p) {
			*p = 0;
			return;
		}
		time_sleep_ms(50, &ev_stop);
	}
	kill(*p, SIGKILL);
	waitpid(*p, &st, 0);
	*p = 0;
}

/* Copy src to dst, leaving out lines that start with one of drop[] (after
 * spaces) and, when drop_sections, whole [freeze ...] sections. */
static int ev_filter(const char *src, const char *dst, const char *const *drop, int drop_freeze,
                     struct ev *e)
{
	FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
	if (!in || !out) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -1;
	}
	char line[2048];
	int skip = 0;
	while (fgets(line, sizeof line, in)) {
		const char *p = line + strspn(line, " \t");
		if (*p == '[') {
			skip = drop_freeze && strncmp(p, "[freeze", 7) == 0;
			char name[64];
			if (e && sscanf(p, "[action %63[a-z0-9_]]", name) == 1 &&
			    e->ncat < EV_MAX_CAT)
				str_copy(e->cat[e->ncat++], sizeof e->cat[0], name);
		}
		int keep = !skip;
		for (int i = 0; keep && drop && drop[i]; i++)
			if (strncmp(p, drop[i], strlen(drop[i])) == 0)
				keep = 0;
		if (keep)
			fputs(line, out);
	}
	fclose(in);
	return fclose(out);
}

/* The work folder, and this checkout's catalog and policy in it, for
 * independent episodes (e->cat: the catalog's action names). */
static int ev_prepare(struct ev *e)
{
	const struct ev_opts *o = &e->o;
	char path[PATH_MAX + 64];
	mkdir(e->work, 0700);
	snprintf(path, sizeof path, "%s/run", e->work);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/sim", e->work);
	mkdir(path, 0700);
	static const char *const cat_drop[] = {"cooldown", "rate_limit", NULL};
	char src[PATH_MAX + 64], cat[PATH_MAX + 64], pol[PATH_MAX + 64];
	snprintf(src, sizeof src, "%s/config/actions.conf", o->repo);
	snprintf(cat, sizeof cat, "%s/actions.conf", e->work);
	if (ev_filter(src, cat, cat_drop, 0, e) < 0 || e->ncat == 0) {
		fprintf(stderr, "opsbotctl eval: cannot read %s (use --repo DIR)\n", src);
		return -1;
	}
	snprintf(src, sizeof src, "%s/config/policy.conf", o->repo);
	snprintf(pol, sizeof pol, "%s/policy.conf", e->work);
	if (ev_filter(src, pol, NULL, 1, NULL) < 0) {
		fprintf(stderr, "opsbotctl eval: cannot read %s\n", src);
		return -1;
	}
	return 0;
}

/* opsbot-sim on a kernel-picked port; e->sim_url once its port file says
 * where (also written to the work folder's sim/url). */
static int ev_start_sim(struct ev *e)
{
	const struct ev_opts *o = &e->o;
	char simbin[PATH_MAX + 32], accel[32], hist[PATH_MAX + 64], pf[PATH_MAX + 64], seed[32],
	    log[PATH_MAX + 64], port[64], path[PATH_MAX + 64];
	snprintf(simbin, sizeof simbin, "%s/opsbot-sim", o->bin);
	snprintf(accel, sizeof accel, "%g", o->accel);
	snprintf(hist, sizeof hist, "%s/history.csv", e->work);
	snprintf(pf, sizeof pf, "%s/run/sim.port", e->work);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	snprintf(log, sizeof log, "%s/sim.log", e->work);
	unlink(pf);
	char *sargv[] = {simbin, "--port",  "0",   "--port-file", pf,   "--seed",
	                 seed,   "--accel", accel, "--history",   hist, "--history-every",
	                 "100",  NULL};
	e->sim = ev_spawn(sargv, log);
	int64_t end = time_mono_ms() + 10000;
	FILE *f = NULL;
	while (!(f = fopen(pf, "r")) && time_mono_ms() < end && !ev_stop)
		time_sleep_ms(50, &ev_stop);
	if (!f || !fgets(port, sizeof port, f)) {
		if (f)
			fclose(f);
		fprintf(stderr, "opsbotctl eval: opsbot-sim did not start (see %s)\n", log);
		return -1;
	}
	fclose(f);
	long pn = strtol(port, NULL, 10);
	if (pn <= 0 || pn > 65535) {
		fprintf(stderr, "opsbotctl eval: bad port file %s\n", pf);
		return -1;
	}
	snprintf(e->sim_url, sizeof e->sim_url, "http://127.0.0.1:%ld", pn);
	snprintf(path, sizeof path, "%s/sim/url", e->work);
	char urlline[160];
	snprintf(urlline, sizeof urlline, "%s\n", e->sim_url);
	ev_write_file(path, urlline);
	return 0;
}

/* The stack's config: watch.conf (the scrape alone) and eval.conf (with the
 * history file too); e->conf names eval.conf. */
static int ev_write_conf(struct ev *e)
{
	const struct ev_opts *o = &e->o;
	const char *w = e->work, *r = o->repo;
	char cat[PATH_MAX + 64], pol[PATH_MAX + 64];
	snprintf(cat, sizeof cat, "%s/actions.conf", w);
	snprintf(pol, sizeof pol, "%s/policy.conf", w);
	/* The watch and the detector see time pass accel times faster than the
	 * model: their windows are in real time. */
	struct buf c = {.max = 1 << 16};
	buf_appendf(&c,
	            "# Written by opsbotctl eval for one run; safe to delete.\n"
	            "[queue]\nlisten = ipc://%s/run/q.ipc\nevents = ipc://%s/run/e.ipc\n"
	            "db = %s/opsbot.db\n\n"
	            "[pipeline]\nstages = detect retrieve plan execute verify\n"
	            "group_window = 10m\n\n"
	            "[master]\nrun_dir = %s/run\nrestart_min = 200ms\nrestart_max = 2s\n"
	            "stop_timeout = 5s\n\n"
	            "[daemons]\nqueue = opsbot-queue\ndetect = opsbot-detect\n"
	            "retrieve = opsbot-retrieve\nplan = opsbot-plan\nexecute = opsbot-exec\n\n"
	            "[plan]\ncatalog = %s\npolicy = %s\ndb = %s/plan.db\n\n"
	            "[retrieve]\nknowledge = %s/knowledge\nsynonyms = %s/knowledge/synonyms.tsv\n"
	            "stopwords = %s/knowledge/stopwords.txt\ncatalog = %s\ndb = %s/knowledge.db\n\n"
	            "[exec]\ncatalog = %s\nworkdir = %s\nverify_window = %ds\n"
	            "verify_interval = 500ms\n\n"
	            "[detect]\nwindow = 90s\nlead = 2s\nafter = 0s\nstep = 100ms\n"
	            "watch_interval = 100ms\nwatch_warmup = %d\nwatch_open_points = 2\n"
	            "watch_close_points = 8\nwatch_severity = high\n\n"
	            "[services]\nfrontend = api, cache, db, payment\napi = cache, db, payment\n\n"
	            "[source sim]\ntype = scrape\nurl = %s/metrics\n\n",
	            w, w, w, w, cat, pol, w, r, r, r, cat, w, cat, r,
	            (int)fmax(5.0, o->horizon_s / o->accel / 2), EV_WATCH_WARMUP, e->sim_url);
	/* The watch alerts on the symptoms it scrapes; the detect stage also reads
	 * the history file, with its change log (deployed versions). */
	snprintf(e->conf, sizeof e->conf, "%s/watch.conf", w);
	int rc = ev_write_file(e->conf, c.data);
	buf_appendf(&c, "[source history]\ntype = csv\npath = %s/history.csv\n", w);
	snprintf(e->conf, sizeof e->conf, "%s/eval.conf", w);
	rc |= ev_write_file(e->conf, c.data);
	buf_free(&c);
	return rc < 0 ? -1 : 0;
}

/* The master, with this build's programs first on PATH and the simulator's
 * whereabouts in the environment (the exec actions reach it there). */
static void ev_start_master(struct ev *e)
{
	const struct ev_opts *o = &e->o;
	char path[PATH_MAX + 64], master[PATH_MAX + 32], log[PATH_MAX + 64];
	const char *old = getenv("PATH");
	struct buf pb = {.max = 1 << 16};
	buf_appendf(&pb, "%s:%s", o->bin, old ? old : "/usr/bin:/bin");
	setenv("PATH", pb.data, 1);
	buf_free(&pb);
	snprintf(path, sizeof path, "%s/sim", e->work);
	setenv("OPSBOT_SIM_STATE", path, 1);
	setenv("OPSBOT_SIM_URL", e->sim_url, 1);
	snprintf(master, sizeof master, "%s/opsbot", o->bin);
	snprintf(log, sizeof log, "%s/opsbot.log", e->work);
	char *margv[] = {master, "-c", e->conf, NULL};
	e->master = ev_spawn(margv, log);
}

/* The queue's socket, once the queue answers a query (20 s at most). */
static int ev_wait_queue(struct ev *e)
{
	char qurl[PATH_MAX + 32], err[256];
	snprintf(qurl, sizeof qurl, "ipc://%s/run/q.ipc", e->work);
	if (rpc_open(&e->rpc, qurl, err, sizeof err) < 0) {
		fprintf(stderr, "opsbotctl eval: %s\n", err);
		return -1;
	}
	int64_t end = time_mono_ms() + 20000;
	for (;;) {
		cJSON *req = wire_new(WIRE_QUERY, 0);
		json_add_str(req, "what", "incidents");
		cJSON *rep = ev_call(e, req, 1);
		if (rep) {
			cJSON_Delete(rep);
			break;
		}
		if (time_mono_ms() > end || ev_stop) {
			fprintf(stderr,
			        "opsbotctl eval: the queue did not answer (see %s/opsbot.log)\n",
			        e->work);
			return -1;
		}
		time_sleep_ms(100, &ev_stop);
	}
	return ev_stop ? -1 : 0;
}

static int ev_start(struct ev *e)
{
	if (ev_prepare(e) < 0 || ev_start_sim(e) < 0 || ev_write_conf(e) < 0)
		return -1;
	ev_start_master(e);
	return ev_wait_queue(e);
}

/* Lines of the watch's log that say it started. */
static int ev_watch_starts(const struct ev *e)
{
	char path[PATH_MAX + 32], line[4096];
	snprintf(path, sizeof path, "%s/watch.log", e->work);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, "event=watch_started") != NULL;
	if (f)
		fclose(f);
	return n;
}

/*
 * A new watch for each episode: it learns the quiet stretch as normal, the
 * way a watch in production has learned weeks of normal traffic.  One watch
 * across episodes would learn the last episodes' faults as normal (they are
 * half of the eval's time, never of production's).  Returns the monotonic
 * time at which it has seen its warm-up polls, or -1.
 */
static int64_t ev_watch_restart(struct ev *e)
{
	ev_kill(&e->watch, 5000);
	char prog[PATH_MAX + 32], conf[PATH_MAX + 32], log[PATH_MAX + 32];
	snprintf(prog, sizeof prog, "%s/opsbot-detect", e->o.bin);
	snprintf(conf, sizeof conf, "%s/watch.conf", e->work);
	snprintf(log, sizeof log, "%s/watch.log", e->work);
	int before = ev_watch_starts(e);
	char *argv[] = {prog, "-c", conf, "watch", NULL};
	e->watch = ev_spawn(argv, log);
	int64_t end = time_mono_ms() + 15000;
	while (ev_watch_starts(e) <= before) {
		if (time_mono_ms() > end || ev_stop) {
			fprintf(stderr, "opsbotctl eval: the watch did not start (see %s)\n", log);
			return -1;
		}
		time_sleep_ms(20, &ev_stop);
	}
	return time_mono_ms() + (EV_WATCH_WARMUP + 5) * EV_WATCH_MS;
}

/* ---- replay ------------------------------------------------------------------------ */

struct ev_judge {
	int impact;                       /* some service missed an objective after the fault */
	int64_t recover;                  /* start of the final all-healthy stretch, -1 none */
	int64_t thr_fire;                 /* first threshold alarm at or after the fault, -1 none */
	int thr_false;                    /* threshold alarms before the fault */
	int order[SIM_NSERVICES], norder; /* services in the order their threshold fired */
};

static const double ev_slo_ms[SIM_NSERVICES] = {300.0, 250.0, 10.0, 60.0, 250.0};

/* Static thresholds on the reported (noisy) numbers: which services alarm. */
static void ev_threshold(const struct sim_model *m, int over[SIM_NSERVICES])
{
	for (int s = 0; s < SIM_NSERVICES; s++) {
		const struct sim_metrics *x = &m->svc[s].m;
		over[s] =
		    x->p95_ms > ev_slo_ms[s] || x->err > 0.02 || x->cpu > 90.0 || x->mem > 90.0;
	}
	over[SIM_CACHE] |= m->hit_seen < 0.6;
	over[SIM_DB] |= m->conns_seen > 0.8 * 100.0;
}

static int ev_apply(struct sim_model *m, const struct ev_cmd *c)
{
	char msg[200], err[200];
	if (c->type == 'f')
		return sim_fault_inject(m, (enum sim_fault_kind)c->kind, c->service, c->value, err,
		                        sizeof err) < 0
		           ? -1
		           : 0;
	if (c->type == 'a')
		return sim_action(m, (enum sim_action_kind)c->kind, c->service, (int)c->value, msg,
		                  sizeof msg, err, sizeof err) < 0
		           ? -1
		           : 0;
	sim_fault_clear_all(m);
	return 0;
}

/*
 * Replay seed + cmds up to tick `until` and judge it.  fault_tick: the
 * episode's fault; sample: threshold sampling period in ticks.  When
 * check is not NULL, the state at check_tick is compared with it (the
 * live /control/state) and *same says whether they agree.
 */
static void ev_replay(uint64_t seed, const struct ev_cmd *cmds, int n, int64_t fault_tick,
                      int64_t until, int sample, struct ev_judge *j, const cJSON *check, int *same)
{
	static struct sim_model m;
	sim_init(&m, seed);
	memset(j, 0, sizeof *j);
	j->recover = -1;
	j->thr_fire = -1;
	int k = 0, run[SIM_NSERVICES] = {0}, firing[SIM_NSERVICES] = {0}, any_prev = 0;
	int64_t check_tick = check ? json_int(check, "tick", -1) : -1;
	int64_t healthy_from = -1;
	for (;;) {
		while (k < n && cmds[k].tick <= m.tick)
			ev_apply(&m, &cmds[k++]);
		if (m.tick == check_tick && same) {
			*same = 1;
			const cJSON *sv;
			int i = 0;
			cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(check, "services"))
			{
				if (i >= SIM_NSERVICES)
					break;
				double p = round(m.svc[i].m.p95_ms * 10.0) / 10.0;
				double er = round(m.svc[i].m.err * 10000.0) / 100.0;
				if (fabs(p - json_num(sv, "p95_ms", -1)) > 1e-6 ||
				    fabs(er - json_num(sv, "error_pct", -1)) > 1e-6) {
					if (*same && getenv("OPSBOT_EVAL_DEBUG"))
						fprintf(stderr,
						        "eval: replay differs at tick %lld: %s p95 "
						        "%.1f vs %.1f, errors %.2f vs %.2f\n",
						        (long long)m.tick, sim_service_name(i), p,
						        json_num(sv, "p95_ms", -1), er,
						        json_num(sv, "error_pct", -1));
					*same = 0;
				}
				i++;
			}
		}
		if (m.tick >= until && m.tick >= check_tick)
			break;
		sim_step(&m);
		if (m.tick > until)
			continue; /* only on to the live state's tick, to compare */
		char why[256];
		int all = 1;
		for (int s = 0; s < SIM_NSERVICES; s++)
			all &= sim_healthy(&m, (enum sim_service)s, why, sizeof why);
		if (m.tick > fault_tick) {
			if (!all)
				j->impact = 1;
			if (all && healthy_from < 0)
				healthy_from = m.tick;
			if (!all)
				healthy_from = -1;
		}
		if (sample > 0 && m.tick % sample == 0) {
			int over[SIM_NSERVICES], any = 0;
			ev_threshold(&m, over);
			for (int s = 0; s < SIM_NSERVICES; s++) {
				run[s] = over[s] ? run[s] + 1 : 0;
				int was = firing[s];
				firing[s] = run[s] >= 2;
				any |= firing[s];
				if (firing[s] && !was && m.tick >= fault_tick) {
					if (j->thr_fire < 0)
						j->thr_fire = m.tick;
					int dup = 0;
					for (int q = 0; q < j->norder; q++)
						dup |= j->order[q] == s;
					if (!dup)
						j->order[j->norder++] = s;
				}
			}
			if (any && !any_prev && m.tick < fault_tick)
				j->thr_false++;
			any_prev = any;
		}
	}
	if (healthy_from >= 0 && until - healthy_from >= EV_STABLE_S)
		j->recover = healthy_from;
}

/* A catalog action as the scripts in scripts/actions turn it into a command. */
static int ev_catalog_cmd(const char *name, int service, struct ev_cmd *c)
{
	static const struct {
		const char *name;
		int kind;
		double arg;
	} map[] = {
	    {"restart_service", SIM_A_RESTART, 0},
	    {"scale_service", SIM_A_SCALE, 6},
	    {"rollback_deploy", SIM_A_ROLLBACK, 0},
	    {"clear_cache", SIM_A_CLEAR_CACHE, 0},
	    {"failover_database", SIM_A_FAILOVER, 0},
	    {"kill_slow_queries", SIM_A_KILL_QUERIES, 0},
	    {"increase_connection_pool", SIM_A_POOL, 100},
	    {"limit_traffic", SIM_A_LIMIT_TRAFFIC, 70},
	    {"unlimit_traffic", SIM_A_UNLIMIT_TRAFFIC, 0},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(map[i].name, name)) {
			c->type = 'a';
			c->kind = map[i].kind;
			c->service = service;
			c->value = map[i].arg;
			return 0;
		}
	return -1; /* pages, tickets, nodes...: nothing the shop notices */
}

/* ---- one episode ---------------------------------------------------------------- */

static int ev_cmds_from_log(const cJSON *log, struct ev_cmd *cmds, int max)
{
	int n = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(log, "commands"))
	{
		if (n == max)
			break;
		struct ev_cmd c = {.tick = json_int(x, "tick", 0)};
		const char *t = json_str(x, "type");
		if (t && !strcmp(t, "fault")) {
			c.type = 'f';
			c.kind = sim_fault_parse(json_str(x, "kind"));
			c.service = sim_service_parse(json_str(x, "service"));
			c.value = json_num(x, "severity", 0.8);
		} else if (t && !strcmp(t, "action")) {
			c.type = 'a';
			c.kind = sim_action_parse(json_str(x, "action"));
			c.service = sim_service_parse(json_str(x, "service"));
			c.value = (double)json_int(x, "arg", 0);
		} else {
			c.type = 'c';
		}
		if (c.type != 'c' && (c.kind < 0 || c.service < 0))
			continue;
		cmds[n++] = c;
	}
	return n;
}

/* Add the incident's current plan to ep->actions once (seen: "id:hash " tags). */
static void ev_record_plan(struct ev_ep *ep, int64_t id, const cJSON *inc, char *seen,
                           size_t seenlen)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(inc, "results"),
	                                     "plan"),
	    "plan");
	const char *hash = json_str(plan, "hash");
	char tag[80];
	if (!hash)
		return;
	snprintf(tag, sizeof tag, "%lld:%.40s ", (long long)id, hash);
	if (strstr(seen, tag))
		return;
	size_t dl = strlen(seen);
	snprintf(seen + dl, seenlen - dl, "%s", tag);
	const cJSON *st;
	int nsteps = 0, acting = 0;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
	{
		/* watch_service changes nothing: verification's, not a choice */
		acting += strcmp(json_str(st, "action") ? json_str(st, "action") : "",
		                 "watch_service") != 0;
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(st, "params");
		const char *tgt = json_str(p, "service")   ? json_str(p, "service")
		                  : json_str(p, "cluster") ? json_str(p, "cluster")
		                                           : json_str(p, "team");
		size_t l = strlen(ep->actions);
		snprintf(ep->actions + l, sizeof ep->actions - l, "%s%s %s",
		         l ? (nsteps ? " + " : " | ") : "", json_str(st, "action"), tgt ? tgt : "");
		nsteps++;
	}
	ep->nsteps += acting;
}

/* Approve incident id's current plan (bob, then carol, then alice while it
 * waits); seen holds the hashes whose steps are in ep->actions already. */
static void ev_approve(struct ev *e, int64_t id, struct ev_ep *ep, char *seen, size_t seenlen)
{
	cJSON *inc = ev_incident(e, id);
	if (!inc)
		return;
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(inc, "results"),
	                                     "plan"),
	    "plan");
	const char *hash = json_str(plan, "hash");
	if (!hash || strcmp(json_str(inc, "state") ? json_str(inc, "state") : "",
	                    "awaiting_approval") != 0) {
		cJSON_Delete(inc);
		return;
	}
	ev_record_plan(ep, id, inc, seen, seenlen);
	static const char *const who[] = {"U0BOB", "U0CAROL", "U0ALICE"};
	for (int i = 0; i < 3; i++) {
		cJSON *req = wire_new(WIRE_APPROVE, id);
		json_add_str(req, "plan", hash);
		json_add_str(req, "user", who[i]);
		json_add_str(req, "surface", "slack");
		json_add_str(req, "decision", "approve");
		cJSON *r = ev_call(e, req, 1);
		const char *s = json_str(r, "state");
		int wait = !r || (s && !strcmp(s, "awaiting_approval"));
		cJSON_Delete(r);
		if (!wait)
			break;
	}
	cJSON_Delete(inc);
}

/* What the live part of an episode keeps between polls of the queue. */
struct ev_live {
	int64_t base;            /* incidents up to this id are older episodes' */
	int64_t ids[EV_MAX_INC]; /* the episode's incidents, as first seen */
	int nids;
	int64_t next_approve[EV_MAX_INC]; /* per incident: not before this (mono ms) */
	char approved[4096];              /* plan hashes approved (ev_approve) */
	int64_t t_fault_wall, t_fault_mono, horizon_mono; /* 0 until the fault */
	int64_t first_id;                                 /* the first incident after the fault */
};

/* A fresh shop and a restarted watch; the end of the quiet stretch (mono
 * ms): at least the watch's warm-up (a busy machine may stretch it: the
 * CSV says how long).  -1 when the simulator or the watch failed. */
static int64_t ev_reset(struct ev *e, struct ev_ep *ep)
{
	const struct ev_opts *o = &e->o;
	char body[64];
	snprintf(body, sizeof body, "{\"seed\":%llu}", (unsigned long long)ep->seed);
	cJSON *r = ev_sim(e, "POST", "/control/reset", body);
	if (!r)
		return -1;
	cJSON_Delete(r);
	int64_t t_reset = time_mono_ms();
	int64_t warm = ev_watch_restart(e);
	if (warm < 0)
		return -1;
	int64_t t_quiet_end = t_reset + (int64_t)(ep->quiet_s * 1000.0 / o->accel);
	if (t_quiet_end < warm) {
		t_quiet_end = warm;
		ep->quiet_s = (int)((warm - t_reset) * o->accel / 1000.0);
	}
	return t_quiet_end;
}

/* The episode's fault, with its wall time (the middle of the call), its
 * tick, and the horizon it starts. */
static int ev_inject_fault(struct ev *e, struct ev_ep *ep, struct ev_live *lv)
{
	const struct ev_opts *o = &e->o;
	char body[256];
	snprintf(body, sizeof body, "{\"kind\":\"%s\",\"service\":\"%s\",\"severity\":%.3f}",
	         sim_fault_name(ep->fault), sim_service_name(ep->service), ep->severity);
	int64_t w0 = time_now_ms();
	cJSON *r = ev_sim(e, "POST", "/control/fault", body);
	if (!r)
		return -1;
	lv->t_fault_wall = (w0 + time_now_ms()) / 2;
	lv->t_fault_mono = time_mono_ms();
	ep->tick_fault = json_int(r, "tick", 0);
	cJSON_Delete(r);
	lv->horizon_mono = lv->t_fault_mono + (int64_t)(o->horizon_s * 1000.0 / o->accel);
	return 0;
}

/* A new incident: before the fault a false alarm (resolved at once);
 * after it, the first one is the episode's detection.  0 when it was a
 * false alarm. */
static int ev_first_seen(struct ev *e, struct ev_ep *ep, struct ev_live *lv, const cJSON *it)
{
	int64_t id = json_int(it, "id", 0);
	int64_t created = json_int(it, "created_ms", 0);
	lv->ids[lv->nids++] = id;
	if (!lv->t_fault_wall || created < lv->t_fault_wall) {
		ep->false_alarms++;
		ev_resolve(e, id, "opened before the evaluation's fault: a false alarm");
		return 0;
	}
	if (!lv->first_id || id < lv->first_id) {
		lv->first_id = id;
		ep->incident = id;
		ep->detected = 1;
		ep->ttd_s = (double)(created - lv->t_fault_wall) * e->o.accel / 1000.0;
	}
	return 1;
}

/* One look at the queue's incidents: new ones noted, plans awaiting
 * approval approved (once a second at most), and how many of the
 * episode's incidents are still open (*live) or working (*busy). */
static void ev_poll(struct ev *e, struct ev_ep *ep, struct ev_live *lv, int64_t now, int *live,
                    int *busy)
{
	cJSON *req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "incidents");
	json_add_int(req, "limit", 50);
	cJSON *list = ev_call(e, req, 0);
	const cJSON *it;
	*live = *busy = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		int64_t id = json_int(it, "id", 0);
		const char *state = json_str(it, "state");
		if (id <= lv->base)
			continue;
		if (id > e->last_id)
			e->last_id = id;
		int known = 0;
		for (int i = 0; i < lv->nids; i++)
			known |= lv->ids[i] == id;
		if (!known && lv->nids < EV_MAX_INC && !ev_first_seen(e, ep, lv, it))
			continue;
		if (!lv->t_fault_wall || json_int(it, "created_ms", 0) < lv->t_fault_wall)
			continue;
		if (!ev_terminal(state))
			(*live)++;
		int slot = 0;
		while (slot < lv->nids && lv->ids[slot] != id)
			slot++;
		if (state && !strcmp(state, "awaiting_approval") && slot < lv->nids &&
		    now >= lv->next_approve[slot]) {
			ev_approve(e, id, ep, lv->approved, sizeof lv->approved);
			lv->next_approve[slot] = now + 1000;
		}
		if (state && strcmp(state, "awaiting_approval") && !ev_terminal(state))
			(*busy)++;
	}
	cJSON_Delete(list);
}

/* The live run: quiet, then the fault, then polls until the episode's
 * incidents are done or the horizon passes; ep->tick_end. */
static int ev_live_run(struct ev *e, struct ev_ep *ep, struct ev_live *lv, int64_t t_quiet_end)
{
	while (!ev_stop) {
		int64_t now = time_mono_ms();
		int live, busy;
		if (!lv->t_fault_wall && now >= t_quiet_end && ev_inject_fault(e, ep, lv) < 0)
			return -1;
		ev_poll(e, ep, lv, now, &live, &busy);
		if (lv->t_fault_wall) {
			if (now >= lv->horizon_mono)
				break;
			if (ep->detected && live == 0 && busy == 0)
				break;
		}
		time_sleep_ms(100, &ev_stop);
	}
	if (ev_stop)
		return -1;
	ep->tick_end =
	    ep->tick_fault + (int64_t)((time_mono_ms() - lv->t_fault_mono) * e->o.accel / 1000.0);
	return 0;
}

/* Leftovers are closed, as a person would; a plan that ran on its own
 * (every step low risk) is recorded too. */
static void ev_close_leftovers(struct ev *e, struct ev_ep *ep, struct ev_live *lv)
{
	for (int i = 0; i < lv->nids; i++) {
		cJSON *inc = ev_incident(e, lv->ids[i]);
		if (inc && json_int(inc, "created_ms", 0) >= lv->t_fault_wall)
			ev_record_plan(ep, lv->ids[i], inc, lv->approved, sizeof lv->approved);
		if (inc && !ev_terminal(json_str(inc, "state")))
			ev_resolve(e, lv->ids[i], "the evaluation's episode ended");
		cJSON_Delete(inc);
	}
}

/* The root-cause ranking of the first incident, against the fault's service. */
static void ev_score_rca(struct ev *e, struct ev_ep *ep)
{
	if (!ep->incident)
		return;
	cJSON *inc = ev_incident(e, ep->incident);
	const cJSON *rank = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(inc, "results"),
	                                     "detect"),
	    "ranking");
	const cJSON *x;
	cJSON_ArrayForEach(x, rank)
	{
		if (ep->nrca == 3)
			break;
		const char *s = json_str(x, "service");
		str_copy(ep->rca[ep->nrca++], sizeof ep->rca[0], s ? s : "?");
	}
	cJSON_Delete(inc);
	const char *want = sim_service_name(ep->service);
	for (int i = 0; i < ep->nrca; i++)
		if (!strcmp(ep->rca[i], want)) {
			ep->top3 = 1;
			ep->top1 |= i == 0;
		}
}

/* Kept for a person who wants to look at one episode again. */
static void ev_keep_episode(struct ev *e, const struct ev_ep *ep, const cJSON *log,
                            const cJSON *state)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/episodes", e->work);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/episodes/%03d.json", e->work, ep->n);
	cJSON *d = json_new_object();
	json_add_int(d, "episode", ep->n);
	json_add_int(d, "incident", ep->incident);
	json_add(d, "log", cJSON_Duplicate(log, 1));
	json_add(d, "state", cJSON_Duplicate(state, 1));
	char *t = json_print(d);
	ev_write_file(p, t);
	free(t);
	cJSON_Delete(d);
}

/* The baseline on the fault alone (cmds without opsbot's actions, into
 * base): threshold detection, its ranking, and recovery with no action.
 * Returns how many commands base holds. */
static int ev_judge_alone(struct ev_ep *ep, const struct ev_cmd *cmds, int n, struct ev_cmd *base,
                          int64_t until, int sample)
{
	struct ev_judge j;
	int nb = 0;
	for (int i = 0; i < n; i++)
		if (cmds[i].type != 'a' || cmds[i].tick < ep->tick_fault)
			base[nb++] = cmds[i];
	ev_replay(ep->seed, base, nb, ep->tick_fault, until, sample, &j, NULL, NULL);
	ep->impact = j.impact;
	ep->none_recovered = j.recover >= 0;
	ep->thr_detected = j.thr_fire >= 0;
	ep->thr_ttd_s = ep->thr_detected ? (double)(j.thr_fire - ep->tick_fault) : NAN;
	ep->thr_false = j.thr_false;
	const char *want = sim_service_name(ep->service);
	for (int q = 0; q < j.norder && q < 3; q++)
		if (!strcmp(sim_service_name(j.order[q]), want)) {
			ep->alert_top3 = 1;
			ep->alert_top1 |= q == 0;
		}
	return nb;
}

/* Random ranking (a shuffled list of the services), then random action(s)
 * at opsbot's time (or a minute after the fault) added to base (nb
 * commands of the fault alone) and replayed. */
static void ev_judge_random(struct ev *e, struct ev_ep *ep, struct ev_cmd *base, int nb,
                            int64_t until)
{
	uint64_t rs = ep->seed ^ 0x5eedULL;
	int perm[SIM_NSERVICES];
	for (int s = 0; s < SIM_NSERVICES; s++)
		perm[s] = s;
	for (int s = SIM_NSERVICES - 1; s > 0; s--) {
		int q = ev_pick(&rs, s + 1), t = perm[s];
		perm[s] = perm[q];
		perm[q] = t;
	}
	for (int q = 0; q < 3; q++)
		if (perm[q] == ep->service) {
			ep->rand_top3 = 1;
			ep->rand_top1 |= q == 0;
		}
	int64_t at = ep->tick_act >= 0 ? ep->tick_act : ep->tick_fault + 60;
	int nb2 = nb, k = ep->nsteps > 0 ? ep->nsteps : 1;
	for (int i = 0; i < k; i++) {
		const char *name = e->cat[ev_pick(&rs, e->ncat)];
		int svc = ev_pick(&rs, SIM_NSERVICES);
		size_t l = strlen(ep->rand_action);
		snprintf(ep->rand_action + l, sizeof ep->rand_action - l, "%s%s %s", l ? " + " : "",
		         name, sim_service_name(svc));
		struct ev_cmd c = {.tick = at};
		if (ev_catalog_cmd(name, svc, &c) == 0 && nb2 < EV_MAX_CMDS + 8)
			base[nb2++] = c;
	}
	/* keep the commands in tick order (the random ones go after the fault) */
	for (int a = 1; a < nb2; a++)
		for (int b = a; b > 0 && base[b - 1].tick > base[b].tick; b--) {
			struct ev_cmd t = base[b];
			base[b] = base[b - 1];
			base[b - 1] = t;
		}
	struct ev_judge j;
	ev_replay(ep->seed, base, nb2, ep->tick_fault, until, 0, &j, NULL, NULL);
	ep->rand_recovered = j.recover >= 0;
	ep->rand_ttr_s = ep->rand_recovered ? (double)(j.recover - ep->tick_fault) : NAN;
}

/* Recovery by replay of what reached the simulator (checked against the
 * live state), then the baselines on the same episode. */
static void ev_judge(struct ev *e, struct ev_ep *ep, const cJSON *log, cJSON *state)
{
	const struct ev_opts *o = &e->o;
	static struct ev_cmd cmds[EV_MAX_CMDS], base_cmds[EV_MAX_CMDS + 8];
	int n = ev_cmds_from_log(log, cmds, EV_MAX_CMDS);
	ep->tick_act = -1;
	for (int i = 0; i < n; i++)
		if (cmds[i].type == 'a' && cmds[i].tick >= ep->tick_fault) {
			ep->tick_act = cmds[i].tick;
			break;
		}
	int64_t until = ep->tick_fault + o->horizon_s;
	int sample = (int)fmax(1.0, floor(EV_WATCH_MS * o->accel / 1000.0));
	struct ev_judge j;
	ev_replay(ep->seed, cmds, n, ep->tick_fault, until, sample, &j, state, &ep->replay_ok);
	ep->recovered = j.recover >= 0;
	ep->ttr_s = ep->recovered ? (double)(j.recover - ep->tick_fault) : NAN;
	int nb = ev_judge_alone(ep, cmds, n, base_cmds, until, sample);
	ev_judge_random(e, ep, base_cmds, nb, until);
}

static int ev_episode(struct ev *e, struct ev_ep *ep)
{
	struct ev_live *lv = xcalloc(1, sizeof *lv);
	lv->base = e->last_id;
	int64_t t_quiet_end = ev_reset(e, ep);
	int rc = t_quiet_end < 0 ? -1 : ev_live_run(e, ep, lv, t_quiet_end);
	if (rc == 0) {
		ev_close_leftovers(e, ep, lv);
		ev_score_rca(e, ep);
	}
	free(lv);
	if (rc < 0)
		return -1;
	/* what reached the simulator, and the live state to check the replay with */
	cJSON *state = ev_sim(e, "GET", "/control/state", NULL);
	cJSON *log = ev_sim(e, "GET", "/control/log", NULL);
	if (log && state) {
		ev_keep_episode(e, ep, log, state);
		ev_judge(e, ep, log, state);
	} else {
		rc = -1;
	}
	cJSON_Delete(state);
	cJSON_Delete(log);
	return rc;
}

/* ---- charts --------------------------------------------------------------------------- */

/* A grouped bar chart: ncat groups of nser bars (vals[c * nser + s], NAN = none). */
static int ev_chart(const char *path, const char *title, const char *ylabel, int ncat,
                    const char *const *cats, int nser, const char *const *sers, const double *vals)
{
	const int W = 960, H = 520, L = 70, R = 20, T = 60, B = 90;
	static const double col[][3] = {
	    {0.16, 0.42, 0.70}, {0.85, 0.45, 0.15}, {0.55, 0.55, 0.55}, {0.30, 0.65, 0.35}};
	cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
	cairo_t *cr = cairo_create(sf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	double ymax = 0;
	for (int i = 0; i < ncat * nser; i++)
		if (isfinite(vals[i]) && vals[i] > ymax)
			ymax = vals[i];
	if (ymax <= 0)
		ymax = 1;
	/* a round top: 1, 2 or 5 times a power of ten */
	double p = pow(10.0, floor(log10(ymax))), top = p;
	while (top < ymax)
		top += p * (top < 2 * p ? 1 : top < 5 * p ? 3 : 5);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_font_size(cr, 17);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	cairo_move_to(cr, L, 30);
	cairo_show_text(cr, title);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 12);
	double ph = H - T - B, pw = W - L - R;
	/* grid and y labels */
	for (int g = 0; g <= 5; g++) {
		double y = T + ph - ph * g / 5.0;
		char lab[32];
		snprintf(lab, sizeof lab, "%g", top * g / 5.0);
		cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
		cairo_move_to(cr, L, y);
		cairo_line_to(cr, W - R, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		cairo_move_to(cr, 8, y + 4);
		cairo_show_text(cr, lab);
	}
	cairo_move_to(cr, L, T - 10);
	cairo_show_text(cr, ylabel);
	double gw = pw / ncat, bw = gw * 0.8 / nser;
	for (int c = 0; c < ncat; c++) {
		for (int s = 0; s < nser; s++) {
			double v = vals[c * nser + s];
			double x = L + c * gw + gw * 0.1 + s * bw;
			cairo_set_source_rgb(cr, col[s % 4][0], col[s % 4][1], col[s % 4][2]);
			if (isfinite(v)) {
				double h = ph * v / top;
				cairo_rectangle(cr, x, T + ph - h, bw - 2, h);
				cairo_fill(cr);
			} else {
				cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
				cairo_move_to(cr, x + 2, T + ph - 4);
				cairo_show_text(cr, "-");
			}
		}
		cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
		cairo_text_extents_t te;
		cairo_text_extents(cr, cats[c], &te);
		cairo_move_to(cr, L + c * gw + (gw - te.width) / 2, T + ph + 18);
		cairo_show_text(cr, cats[c]);
	}
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	cairo_move_to(cr, L, T + ph);
	cairo_line_to(cr, W - R, T + ph);
	cairo_stroke(cr);
	/* legend */
	double lx = L;
	for (int s = 0; s < nser; s++) {
		cairo_set_source_rgb(cr, col[s % 4][0], col[s % 4][1], col[s % 4][2]);
		cairo_rectangle(cr, lx, H - 40, 14, 14);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		cairo_move_to(cr, lx + 20, H - 28);
		cairo_show_text(cr, sers[s]);
		cairo_text_extents_t te;
		cairo_text_extents(cr, sers[s], &te);
		lx += 40 + te.width;
	}
	cairo_destroy(cr);
	cairo_status_t st = cairo_surface_write_to_png(sf, path);
	cairo_surface_destroy(sf);
	if (st != CAIRO_STATUS_SUCCESS) {
		fprintf(stderr, "opsbotctl eval: cannot write %s: %s\n", path,
		        cairo_status_to_string(st));
		return -1;
	}
	return 0;
}

/*
 * fontconfig keeps its font caches for the life of the process (cairo's
 * text calls load it); under AddressSanitizer LeakSanitizer is told so.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\nleak:libcairo.so\nleak:libfreetype.so\n"
	       "leak:libglib-2.0.so\n";
}

/* ---- output --------------------------------------------------------------------------- */

static void ev_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.1f", v);
}

static int ev_csv(const char *path, const struct ev_ep *eps, int n)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "opsbotctl eval: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("episode,fault,service,severity,detected,time_to_detect_s,rca_top1,rca_top3,"
	      "rca_ranking,action,recovered,time_to_recover_s,false_alarms,impact,incident,seed,"
	      "quiet_s,threshold_detected,threshold_time_to_detect_s,threshold_false_alarms,"
	      "first_alert_rca_top1,first_alert_rca_top3,random_rca_top1,random_rca_top3,"
	      "random_action,random_action_recovered,random_action_time_to_recover_s,"
	      "no_action_recovered,replay_matches\n",
	      f);
	for (int i = 0; i < n; i++) {
		const struct ev_ep *e = &eps[i];
		fprintf(f, "%d,%s,%s,%.2f,%d,", e->n, sim_fault_name(e->fault),
		        sim_service_name(e->service), e->severity, e->detected);
		if (e->detected)
			ev_num(f, e->ttd_s);
		fprintf(f, ",%d,%d,%s%s%s%s%s,\"%s\",%d,", e->top1, e->top3,
		        e->nrca > 0 ? e->rca[0] : "", e->nrca > 1 ? " " : "",
		        e->nrca > 1 ? e->rca[1] : "", e->nrca > 2 ? " " : "",
		        e->nrca > 2 ? e->rca[2] : "", e->actions, e->recovered);
		ev_num(f, e->ttr_s);
		fprintf(f, ",%d,%d,%lld,%llu,%d,%d,", e->false_alarms, e->impact,
		        (long long)e->incident, (unsigned long long)e->seed, e->quiet_s,
		        e->thr_detected);
		ev_num(f, e->thr_ttd_s);
		fprintf(f, ",%d,%d,%d,%d,%d,\"%s\",%d,", e->thr_false, e->alert_top1, e->alert_top3,
		        e->rand_top1, e->rand_top3, e->rand_action, e->rand_recovered);
		ev_num(f, e->rand_ttr_s);
		fprintf(f, ",%d,%d\n", e->none_recovered, e->replay_ok);
	}
	return fclose(f);
}

struct ev_sum {
	double det, prec, mttd, top1, top3, rec, mttr;
	double t_det, t_prec, t_mttd, a_top1, a_top3, r_top1, r_top3;
	double ra_rec, ra_mttr, none_rec;
	int n, impact, replay_ok;
};

static void ev_summarize(const struct ev_ep *eps, int n, struct ev_sum *s)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	double *a = xcalloc((size_t)n + 1, sizeof *a), *b = xcalloc((size_t)n + 1, sizeof *b),
	       *c = xcalloc((size_t)n + 1, sizeof *c), *d = xcalloc((size_t)n + 1, sizeof *d);
	int na = 0, nb = 0, nc = 0, nd = 0, det = 0, tdet = 0, fa = 0, tfa = 0;
	for (int i = 0; i < n; i++) {
		const struct ev_ep *e = &eps[i];
		det += e->detected;
		tdet += e->thr_detected;
		fa += e->false_alarms;
		tfa += e->thr_false;
		if (e->detected)
			a[na++] = e->ttd_s;
		if (e->thr_detected)
			b[nb++] = e->thr_ttd_s;
		s->top1 += e->top1;
		s->top3 += e->top3;
		s->a_top1 += e->alert_top1;
		s->a_top3 += e->alert_top3;
		s->r_top1 += e->rand_top1;
		s->r_top3 += e->rand_top3;
		s->replay_ok += e->replay_ok;
		if (!e->impact)
			continue;
		s->impact++;
		s->rec += e->recovered;
		s->ra_rec += e->rand_recovered;
		s->none_rec += e->none_recovered;
		if (e->recovered)
			c[nc++] = e->ttr_s;
		if (e->rand_recovered)
			d[nd++] = e->rand_ttr_s;
	}
	double N = n > 0 ? n : 1, I = s->impact > 0 ? s->impact : 1;
	s->det = det / N;
	s->t_det = tdet / N;
	s->prec = det + fa > 0 ? (double)det / (det + fa) : NAN;
	s->t_prec = tdet + tfa > 0 ? (double)tdet / (tdet + tfa) : NAN;
	s->mttd = ev_median(a, na);
	s->t_mttd = ev_median(b, nb);
	s->top1 /= N;
	s->top3 /= N;
	s->a_top1 /= N;
	s->a_top3 /= N;
	s->r_top1 /= N;
	s->r_top3 /= N;
	s->rec /= I;
	s->ra_rec /= I;
	s->none_rec /= I;
	s->mttr = ev_median(c, nc);
	s->ra_mttr = ev_median(d, nd);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* "12.5 s", or "-" when there is nothing to take a median of. */
static const char *ev_secs(double v, char *buf, size_t len)
{
	if (isfinite(v))
		snprintf(buf, len, "%.1f s", v);
	else
		snprintf(buf, len, "-");
	return buf;
}

static void ev_print_summary(FILE *f, const struct ev_opts *o, const struct ev_sum *s,
                             double wall_s)
{
	fprintf(f,
	        "opsbot eval: %d episodes, seed %llu, simulator at %gx (times in simulated "
	        "seconds), %.0f s of wall time\n\n",
	        s->n, (unsigned long long)o->seed, o->accel, wall_s);
	fprintf(f, "  detection              opsbot watch   threshold only\n");
	fprintf(f, "    detection rate       %12.2f   %14.2f\n", s->det, s->t_det);
	fprintf(f, "    precision            %12.2f   %14.2f\n", s->prec, s->t_prec);
	char a[32], b[32];
	fprintf(f, "    median time to detect %11s %14s\n\n", ev_secs(s->mttd, a, sizeof a),
	        ev_secs(s->t_mttd, b, sizeof b));
	fprintf(f, "  root cause (of all episodes)  opsbot   first alert   random\n");
	fprintf(f, "    right at rank 1      %12.2f   %11.2f   %6.2f\n", s->top1, s->a_top1,
	        s->r_top1);
	fprintf(f, "    right within 3       %12.2f   %11.2f   %6.2f\n\n", s->top3, s->a_top3,
	        s->r_top3);
	fprintf(f,
	        "  recovery (%d episodes where the fault hurt)  opsbot   random action   "
	        "no action\n",
	        s->impact);
	fprintf(f, "    recovery rate        %12.2f   %13.2f   %9.2f\n", s->rec, s->ra_rec,
	        s->none_rec);
	fprintf(f, "    median time to recover %10s %15s\n\n", ev_secs(s->mttr, a, sizeof a),
	        ev_secs(s->ra_mttr, b, sizeof b));
	fprintf(f, "  replay of the live run matched the simulator in %d of %d episodes\n",
	        s->replay_ok, s->n);
}

static void ev_json_num(struct buf *b, const char *k, double v)
{
	if (isfinite(v))
		buf_appendf(b, ",\"%s\":%.4g", k, v);
	else
		buf_appendf(b, ",\"%s\":null", k);
}

static int ev_charts(const char *out, const struct ev_ep *eps, int n)
{
	char dir[PATH_MAX], stem[PATH_MAX], path[2 * PATH_MAX + 32];
	str_copy(dir, sizeof dir, out);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		str_copy(dir, sizeof dir, ".");
	str_copy(stem, sizeof stem, slash ? slash + 1 : out);
	char *dot = strrchr(stem, '.');
	if (dot)
		*dot = 0;
	const char *cats[SIM_NFAULTS];
	double ttd[SIM_NFAULTS * 2], ttr[SIM_NFAULTS * 2], rec[SIM_NFAULTS * 3];
	double *v = xcalloc((size_t)n + 1, sizeof *v);
	for (int k = 0; k < SIM_NFAULTS; k++) {
		cats[k] = sim_fault_name(k);
		for (int s = 0; s < 4; s++) {
			int m = 0, den = 0, num = 0;
			for (int i = 0; i < n; i++) {
				const struct ev_ep *e = &eps[i];
				if (e->fault != k)
					continue;
				if (s == 0 && e->detected)
					v[m++] = e->ttd_s;
				if (s == 1 && e->thr_detected)
					v[m++] = e->thr_ttd_s;
				if (s == 2 && e->impact && e->recovered)
					v[m++] = e->ttr_s;
				if (s == 3 && e->impact && e->rand_recovered)
					v[m++] = e->rand_ttr_s;
			}
			double med = ev_median(v, m);
			if (s < 2)
				ttd[k * 2 + s] = med;
			else
				ttr[k * 2 + s - 2] = med;
			for (int i = 0; i < n && s < 3; i++) {
				const struct ev_ep *e = &eps[i];
				if (e->fault != k || !e->impact)
					continue;
				den++;
				num += s == 0   ? e->recovered
				       : s == 1 ? e->rand_recovered
				                : e->none_recovered;
			}
			if (s < 3)
				rec[k * 3 + s] = den ? 100.0 * num / den : NAN;
		}
	}
	free(v);
	static const char *const s_ttd[] = {"opsbot watch", "threshold only"};
	static const char *const s_ttr[] = {"opsbot", "random action"};
	static const char *const s_rec[] = {"opsbot", "random action", "no action"};
	int rc = 0;
	snprintf(path, sizeof path, "%s/%s-ttd.png", dir, stem);
	rc |= ev_chart(path, "Median time to detect per fault type (lower is better)",
	               "simulated seconds", SIM_NFAULTS, cats, 2, s_ttd, ttd);
	snprintf(path, sizeof path, "%s/%s-ttr.png", dir, stem);
	rc |= ev_chart(path, "Median time to recover per fault type, recovered episodes only",
	               "simulated seconds", SIM_NFAULTS, cats, 2, s_ttr, ttr);
	snprintf(path, sizeof path, "%s/%s-recovery.png", dir, stem);
	rc |= ev_chart(path, "Recovery rate per fault type (episodes where the fault hurt)",
	               "percent", SIM_NFAULTS, cats, 3, s_rec, rec);
	return rc;
}

/* --replay FILE: check one saved episode (work/episodes/NNN.json) again. */
static int ev_replay_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "opsbotctl eval: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct buf b = {.max = 8 << 20};
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	cJSON *d = NULL;
	char err[200];
	if (!b.data || json_parse_object(b.data, b.len, &d, err, sizeof err) < 0) {
		fprintf(stderr, "opsbotctl eval: %s: %s\n", path, b.data ? err : "empty");
		buf_free(&b);
		return 1;
	}
	buf_free(&b);
	const cJSON *log = cJSON_GetObjectItemCaseSensitive(d, "log");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(d, "state");
	static struct ev_cmd cmds[EV_MAX_CMDS];
	int nc = ev_cmds_from_log(log, cmds, EV_MAX_CMDS);
	const char *seed = json_str(log, "seed");
	int64_t fault = -1;
	for (int i = 0; i < nc && fault < 0; i++)
		if (cmds[i].type == 'f')
			fault = cmds[i].tick;
	struct ev_judge j;
	int same = 0;
	setenv("OPSBOT_EVAL_DEBUG", "1", 1);
	ev_replay(seed ? strtoull(seed, NULL, 10) : 0, cmds, nc, fault, json_int(state, "tick", 0),
	          0, &j, state, &same);
	printf("%s: %d command(s); the replay %s the live state at tick %lld\n", path, nc,
	       same ? "matches" : "does NOT match", (long long)json_int(state, "tick", 0));
	cJSON_Delete(d);
	return same ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------------------- */

static int ev_usage(void)
{
	fprintf(stderr, "usage: opsbotctl eval --episodes N --seed S --out results.csv\n"
	                "                      [--accel X] [--horizon SECONDS] [--quiet MIN-MAX]\n"
	                "                      [--work DIR] [--repo DIR] [--bench]\n"
	                "  Runs N simulated incidents through the whole pipeline and scores them\n"
	                "  beside baselines; writes the CSV and PNG charts beside it.\n");
	return 2;
}

static int ev_parse_int(const char *s, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (!*s || *e || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The options; -1 to go on, else the exit code (usage, help, --replay). */
static int ev_parse_args(int argc, char **argv, struct ev_opts *o)
{
	long v;
	if (argc == 3 && !strcmp(argv[1], "--replay"))
		return ev_replay_file(argv[2]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			ev_usage();
			return 0;
		}
		if (!strcmp(a, "--bench")) {
			o->bench = 1;
			continue;
		}
		if (!val)
			return ev_usage();
		i++;
		if (!strcmp(a, "--episodes") && ev_parse_int(val, 1, EV_MAX_EPISODES, &v) == 0)
			o->episodes = (int)v;
		else if (!strcmp(a, "--seed") && ev_parse_int(val, 0, LONG_MAX, &v) == 0)
			o->seed = (uint64_t)v;
		else if (!strcmp(a, "--out"))
			o->out = val;
		else if (!strcmp(a, "--work"))
			o->work = val;
		else if (!strcmp(a, "--repo"))
			o->repo = val;
		else if (!strcmp(a, "--accel") && ev_parse_int(val, 1, 50, &v) == 0)
			o->accel = (double)v;
		else if (!strcmp(a, "--horizon") && ev_parse_int(val, 60, 3600, &v) == 0)
			o->horizon_s = (int)v;
		else if (!strcmp(a, "--quiet") &&
		         sscanf(val, "%d-%d", &o->quiet_min_s, &o->quiet_max_s) == 2 &&
		         o->quiet_min_s >= 10 && o->quiet_max_s >= o->quiet_min_s &&
		         o->quiet_max_s <= 3600)
			;
		else {
			fprintf(stderr, "opsbotctl eval: bad value for %s: %s\n", a, val);
			return ev_usage();
		}
	}
	if (!o->episodes || !o->out)
		return ev_usage();
	return -1;
}

/* This build's programs (next to opsbotctl, or OPSBOT_BIN as make test sets
 * it) and the checkout's folder, made absolute.  0, or the exit code. */
static int ev_find_programs(struct ev_opts *o)
{
	static char absrepo[PATH_MAX];
	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0) {
		fprintf(stderr, "opsbotctl eval: cannot find its own program\n");
		return 1;
	}
	self[sl] = 0;
	*strrchr(self, '/') = 0;
	const char *envbin = getenv("OPSBOT_BIN");
	str_copy(o->bin, sizeof o->bin, envbin && *envbin ? envbin : self);
	if (!realpath(o->repo, absrepo)) {
		fprintf(stderr, "opsbotctl eval: no folder %s (use --repo DIR)\n", o->repo);
		return 2;
	}
	o->repo = absrepo;
	return 0;
}

/* The work folder (beside the CSV unless given), absolute, short enough
 * for a socket path, without a previous run's state.  0, or the exit code. */
static int ev_work_folder(struct ev *e)
{
	const struct ev_opts *o = &e->o;
	if (o->work) {
		str_copy(e->work, sizeof e->work, o->work);
	} else {
		str_copy(e->work, sizeof e->work, o->out);
		char *sl2 = strrchr(e->work, '/');
		if (sl2)
			sl2[1] = 0;
		else
			e->work[0] = 0;
		size_t l = strlen(e->work);
		snprintf(e->work + l, sizeof e->work - l, "eval-run");
	}
	char abswork[PATH_MAX];
	mkdir(e->work, 0700);
	if (!realpath(e->work, abswork)) {
		fprintf(stderr, "opsbotctl eval: cannot create %s\n", e->work);
		return 1;
	}
	str_copy(e->work, sizeof e->work, abswork);
	if (strlen(e->work) > 80) {
		fprintf(stderr, "opsbotctl eval: the work folder's path is too long for a socket "
		                "(use --work with a shorter one)\n");
		return 2;
	}
	char rmrf[PATH_MAX + 64];
	static const char *const stale[] = {"opsbot.db",    "opsbot.db-wal",    "opsbot.db-shm",
	                                    "plan.db",      "plan.db-wal",      "plan.db-shm",
	                                    "knowledge.db", "knowledge.db-wal", "knowledge.db-shm",
	                                    "opsbot.log",   "sim.log",          NULL};
	for (int i = 0; stale[i]; i++) {
		snprintf(rmrf, sizeof rmrf, "%s/%s", e->work, stale[i]);
		unlink(rmrf);
	}
	return 0;
}

/* Episode i's draw from the run's generator: seed, fault, service (the
 * faults that have one service get it), severity, quiet stretch. */
static void ev_draw(struct ev *e, struct ev_ep *ep, int i)
{
	const struct ev_opts *o = &e->o;
	memset(ep, 0, sizeof *ep);
	ep->n = i + 1;
	ep->seed = ev_next(&e->rng) >> 12;
	ep->fault = ev_pick(&e->rng, SIM_NFAULTS);
	ep->service = ev_pick(&e->rng, SIM_NSERVICES);
	if (ep->fault == SIM_F_CACHE_FAILURE || ep->fault == SIM_F_DB_CONN_EXHAUSTION ||
	    ep->fault == SIM_F_TRAFFIC_SURGE)
		ep->service = sim_fault_default_service((enum sim_fault_kind)ep->fault);
	ep->severity = 0.5 + 0.5 * ev_unif(&e->rng);
	ep->quiet_s = o->quiet_min_s + ev_pick(&e->rng, o->quiet_max_s - o->quiet_min_s + 1);
}

static void ev_print_episode(const struct ev_ep *ep, double secs)
{
	fprintf(stderr, "  episode %d (%.0f s): %s on %s (%.2f): %s%s, rca %s, %s, %s\n", ep->n,
	        secs, sim_fault_name(ep->fault), sim_service_name(ep->service), ep->severity,
	        ep->detected ? "detected" : "not detected",
	        ep->false_alarms ? " (+false alarm)" : "",
	        ep->top1   ? "right"
	        : ep->top3 ? "top 3"
	                   : "wrong",
	        ep->actions[0] ? ep->actions : "no action",
	        !ep->impact     ? "no harm done"
	        : ep->recovered ? "recovered"
	                        : "not recovered");
}

/* Start the stack and play the episodes; how many were played in *done.
 * 0, or 1 when the stack or an episode failed. */
static int ev_run(struct ev *e, struct ev_ep *eps, int *done)
{
	const struct ev_opts *o = &e->o;
	*done = 0;
	if (!o->bench)
		fprintf(stderr, "opsbotctl eval: starting the stack in %s\n", e->work);
	if (ev_start(e) < 0)
		return 1;
	e->rng = o->seed * 0x9e3779b97f4a7c15ULL + 1;
	for (int i = 0; i < o->episodes && !ev_stop; i++) {
		struct ev_ep *ep = &eps[i];
		ev_draw(e, ep, i);
		int64_t t_ep = time_mono_ms();
		if (ev_episode(e, ep) < 0)
			return 1;
		(*done)++;
		if (!o->bench)
			ev_print_episode(ep, (double)(time_mono_ms() - t_ep) / 1000.0);
	}
	return 0;
}

static void ev_stop_stack(struct ev *e)
{
	ev_kill(&e->watch, 5000);
	ev_kill(&e->master, 20000);
	ev_kill(&e->sim, 5000);
	if (e->rpc)
		rpc_close(e->rpc);
	http_client_free(e->http);
}

/* The bench line: every figure of the summary as one JSON object. */
static void ev_bench_json(struct buf *b, const struct ev_opts *o, const struct ev_sum *s, int done,
                          double wall)
{
	buf_appendf(b, "{\"bench\":\"eval\",\"episodes\":%d", done);
	ev_json_num(b, "detection_rate", s->det);
	ev_json_num(b, "precision", s->prec);
	ev_json_num(b, "rca_top1", s->top1);
	ev_json_num(b, "recovery_rate", s->rec);
	ev_json_num(b, "mttd_s", s->mttd);
	ev_json_num(b, "mttr_s", s->mttr);
	ev_json_num(b, "rca_top3", s->top3);
	ev_json_num(b, "threshold_detection_rate", s->t_det);
	ev_json_num(b, "threshold_precision", s->t_prec);
	ev_json_num(b, "threshold_mttd_s", s->t_mttd);
	ev_json_num(b, "first_alert_rca_top1", s->a_top1);
	ev_json_num(b, "random_rca_top1", s->r_top1);
	ev_json_num(b, "random_action_recovery_rate", s->ra_rec);
	ev_json_num(b, "random_action_mttr_s", s->ra_mttr);
	ev_json_num(b, "no_action_recovery_rate", s->none_rec);
	buf_appendf(b, ",\"impact_episodes\":%d,\"replay_matched\":%d,\"accel\":%g", s->impact,
	            s->replay_ok, o->accel);
	ev_json_num(b, "wall_s", wall);
	buf_appendf(b, "}");
}

/* The CSV, the charts, the summary for a person, and the JSON line (printed
 * with --bench, else written beside the CSV); wall time counts from t0. */
static int ev_report(const struct ev_opts *o, const struct ev_ep *eps, int done, int64_t t0)
{
	if (ev_csv(o->out, eps, done) < 0 || ev_charts(o->out, eps, done) < 0)
		return 1;
	struct ev_sum s;
	ev_summarize(eps, done, &s);
	double wall = (double)(time_mono_ms() - t0) / 1000.0;
	ev_print_summary(o->bench ? stderr : stdout, o, &s, wall);
	if (!o->bench)
		printf("\n  CSV: %s (one row per episode); charts beside it (*-ttd.png, *-ttr.png, "
		       "*-recovery.png)\n",
		       o->out);
	struct buf b = {.max = 4096};
	ev_bench_json(&b, o, &s, done, wall);
	if (o->bench)
		printf("%s\n", b.data);
	else {
		char jp[PATH_MAX + 16];
		snprintf(jp, sizeof jp, "%s.json", o->out);
		ev_write_file(jp, b.data);
	}
	buf_free(&b);
	return 0;
}

int eval_main(int argc, char **argv)
{
	static struct ev e;
	static struct ev_ep eps[EV_MAX_EPISODES];
	struct ev_opts *o = &e.o;
	*o = (struct ev_opts){.episodes = 0,
	                      .seed = 1,
	                      .repo = ".",
	                      .accel = 10,
	                      .horizon_s = 300,
	                      .quiet_min_s = 30,
	                      .quiet_max_s = 60};
	int rc = ev_parse_args(argc, argv, o);
	if (rc >= 0)
		return rc;
	if ((rc = ev_find_programs(o)) != 0 || (rc = ev_work_folder(&e)) != 0)
		return rc;
	sig_on_stop(ev_on_signal, 0);
	e.http = http_client_new();
	int64_t t0 = time_mono_ms();
	int done;
	rc = ev_run(&e, eps, &done);
	ev_stop_stack(&e);
	if (rc != 0 || done == 0) {
		fprintf(stderr, "opsbotctl eval: stopped after %d episode(s); logs in %s\n", done,
		        e.work);
		return 1;
	}
	return ev_report(o, eps, done, t0);
}
