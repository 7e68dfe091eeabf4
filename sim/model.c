/*
 * model.c: the simulated production system (see model.h).
 *
 * One step is one simulated second:
 *
 *   1. actions whose delay has passed take effect (in the order asked);
 *   2. faults move on (memory leaks grow, leaked db connections pile up,
 *      the cache hit ratio drifts toward what the cache can serve);
 *   3. each service's raw numbers are computed from its load and faults,
 *      leaves first (cache, db, payment, then api, then frontend), each
 *      adding what its dependencies cost it;
 *   4. the raw numbers are smoothed (a lag of ~3 s, so effects take time
 *      to show) and reported with a little noise from the seeded generator.
 *
 * Load model: utilisation rho = rate / capacity (+ a CPU hog); own p95 grows
 * like base / (1 - rho) and past rho = 1 the excess requests time out
 * (errors) and latency climbs steeply.  All numbers are in model units
 * chosen so that the healthy system sits well inside its objectives.
 */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

#define SIM_DEMAND_RPS 300.0 /* requests per second at the frontend */
#define SIM_POOL_MAX   100   /* db connections */
#define SIM_HIT_NORMAL 0.9
#define SIM_ERR_SLO    0.02
#define SIM_CPU_SLO    90.0
#define SIM_MEM_SLO    90.0
#define SIM_SMOOTH_TAU 3.0  /* seconds: how fast reported numbers follow */
#define SIM_WARM_TAU   20.0 /* seconds: cache warm-up */
#define SIM_MAX_P95_MS 10000.0

static const struct sim_def {
	const char *name;
	int replicas;
	double cap;     /* requests per second one replica serves at 100% CPU */
	double base_ms; /* own p95 at no load */
	double mem;     /* memory percent when healthy */
	double slo_ms;  /* p95 objective */
	int restart_s;  /* how long a rolling restart takes */
} sim_defs[SIM_NSERVICES] = {
    [SIM_FRONTEND] = {"frontend", 4, 300.0, 15.0, 35.0, 300.0, 10},
    [SIM_API] = {"api", 3, 200.0, 25.0, 40.0, 250.0, 10},
    [SIM_CACHE] = {"cache", 2, 2000.0, 1.0, 50.0, 10.0, 5},
    [SIM_DB] = {"db", 1, 250.0, 6.0, 60.0, 60.0, 8},
    [SIM_PAYMENT] = {"payment", 3, 60.0, 40.0, 30.0, 250.0, 10},
};

static const char *const sim_fault_names[SIM_NFAULTS] = {
    "cpu_hog",       "memory_leak",        "latency",    "error_spike",
    "cache_failure", "db_conn_exhaustion", "bad_deploy", "traffic_surge",
};

static const char *const sim_action_names[SIM_NACTIONS] = {
    "restart",  "scale", "clear_cache",  "limit_traffic", "unlimit_traffic",
    "rollback", "pool",  "kill_queries", "failover",
};

/* ---- names ---------------------------------------------------------------- */

static int sim_lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

int sim_service_parse(const char *name)
{
	for (int i = 0; name && i < SIM_NSERVICES; i++)
		if (strcmp(sim_defs[i].name, name) == 0)
			return i;
	return -1;
}

int sim_fault_parse(const char *name)
{
	return sim_lookup(sim_fault_names, SIM_NFAULTS, name);
}

int sim_action_parse(const char *name)
{
	return sim_lookup(sim_action_names, SIM_NACTIONS, name);
}

const char *sim_service_name(int s)
{
	return s >= 0 && s < SIM_NSERVICES ? sim_defs[s].name : "?";
}

const char *sim_fault_name(int k)
{
	return k >= 0 && k < SIM_NFAULTS ? sim_fault_names[k] : "?";
}

const char *sim_action_name(int a)
{
	return a >= 0 && a < SIM_NACTIONS ? sim_action_names[a] : "?";
}

enum sim_service sim_fault_default_service(enum sim_fault_kind k)
{
	switch (k) {
	case SIM_F_CACHE_FAILURE:
		return SIM_CACHE;
	case SIM_F_DB_CONN_EXHAUSTION:
		return SIM_DB;
	case SIM_F_TRAFFIC_SURGE:
		return SIM_FRONTEND;
	default:
		return SIM_API;
	}
}

/* ---- the seeded generator (splitmix64 seeding, xorshift64*) -------------- */

static uint64_t sim_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t sim_next(struct sim_model *m)
{
	uint64_t x = m->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in (0, 1). */
static double sim_uniform(struct sim_model *m)
{
	return ((double)(sim_next(m) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller; two draws per call keeps the sequence simple). */
static double sim_gauss(struct sim_model *m)
{
	double u1 = sim_uniform(m), u2 = sim_uniform(m);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- events ---------------------------------------------------------------- */

static void sim_event(struct sim_model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sim_event(struct sim_model *m, const char *fmt, ...)
{
	struct sim_event *e;
	if (m->nevents == SIM_MAX_EVENTS) {
		memmove(m->events, m->events + 1, sizeof m->events[0] * (SIM_MAX_EVENTS - 1));
		m->nevents--;
	}
	e = &m->events[m->nevents++];
	memset(e, 0, sizeof *e);
	e->tick = m->tick;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
}

void sim_note(struct sim_model *m, const char *text)
{
	sim_event(m, "%s", text);
}

/* ---- faults ---------------------------------------------------------------- */

static double sim_fault_sev(const struct sim_model *m, enum sim_fault_kind kind, int service)
{
	double s = 0.0;
	for (int i = 0; i < m->nfaults; i++) {
		const struct sim_fault *f = &m->faults[i];
		if (f->active && f->kind == kind && (service < 0 || (int)f->service == service))
			s = fmax(s, f->severity);
	}
	return s;
}

int sim_fault_active(const struct sim_model *m, enum sim_fault_kind kind, int service)
{
	return sim_fault_sev(m, kind, service) > 0.0;
}

/* End active faults of a kind on a service; returns how many ended. */
static int sim_fault_end(struct sim_model *m, enum sim_fault_kind kind, int service)
{
	int n = 0;
	for (int i = 0; i < m->nfaults; i++) {
		struct sim_fault *f = &m->faults[i];
		if (f->active && f->kind == kind && (int)f->service == service) {
			f->active = 0;
			f->end_tick = m->tick;
			n++;
			sim_event(m, "fault %d (%s on %s) ended", f->id, sim_fault_name(f->kind),
			          sim_service_name(f->service));
		}
	}
	return n;
}

int sim_fault_inject(struct sim_model *m, enum sim_fault_kind kind, int service, double severity,
                     char *err, size_t errlen)
{
	if ((int)kind < 0 || kind >= SIM_NFAULTS) {
		snprintf(err, errlen, "unknown fault");
		return -1;
	}
	if (service < 0)
		service = (int)sim_fault_default_service(kind);
	if (service >= SIM_NSERVICES) {
		snprintf(err, errlen, "unknown service");
		return -1;
	}
	if (!(severity > 0.0 && severity <= 1.0)) {
		snprintf(err, errlen, "severity must be above 0 and at most 1");
		return -1;
	}
	if ((kind == SIM_F_CACHE_FAILURE && service != SIM_CACHE) ||
	    (kind == SIM_F_DB_CONN_EXHAUSTION && service != SIM_DB) ||
	    (kind == SIM_F_TRAFFIC_SURGE && service != SIM_FRONTEND)) {
		snprintf(err, errlen, "%s happens on %s only", sim_fault_name(kind),
		         sim_service_name(sim_fault_default_service(kind)));
		return -1;
	}
	if (sim_fault_active(m, kind, service)) {
		snprintf(err, errlen, "%s is already active on %s", sim_fault_name(kind),
		         sim_service_name(service));
		return -1;
	}
	/* Keep the table bounded: forget the oldest ended fault when full. */
	if (m->nfaults == SIM_MAX_FAULTS) {
		int k = 0;
		while (k < m->nfaults && m->faults[k].active)
			k++;
		if (k == m->nfaults) {
			snprintf(err, errlen, "%d faults are active already", SIM_MAX_FAULTS);
			return -1;
		}
		memmove(&m->faults[k], &m->faults[k + 1],
		        sizeof m->faults[0] * (size_t)(m->nfaults - k - 1));
		m->nfaults--;
	}
	struct sim_fault *f = &m->faults[m->nfaults++];
	memset(f, 0, sizeof *f);
	f->id = ++m->next_id;
	f->kind = kind;
	f->service = (enum sim_service)service;
	f->severity = severity;
	f->start_tick = m->tick;
	f->active = 1;
	if (kind == SIM_F_BAD_DEPLOY) {
		struct sim_svc *sv = &m->svc[service];
		sv->prev_version = sv->version;
		sv->version++;
	}
	sim_event(m, "fault %d: %s on %s (severity %.2f)", f->id, sim_fault_name(kind),
	          sim_service_name(service), severity);
	return f->id;
}

void sim_fault_clear_all(struct sim_model *m)
{
	for (int i = 0; i < m->nfaults; i++)
		if (m->faults[i].active)
			sim_fault_end(m, m->faults[i].kind, (int)m->faults[i].service);
	m->leaked_conns = 0.0;
	for (int s = 0; s < SIM_NSERVICES; s++)
		m->svc[s].mem_leaked = 0.0;
}

/* ---- actions --------------------------------------------------------------- */

int sim_action(struct sim_model *m, enum sim_action_kind kind, int service, int arg, char *msg,
               size_t msglen, char *err, size_t errlen)
{
	if ((int)kind < 0 || kind >= SIM_NACTIONS) {
		snprintf(err, errlen, "unknown action");
		return -1;
	}
	if (service < 0 || service >= SIM_NSERVICES) {
		snprintf(err, errlen, "unknown service");
		return -1;
	}
	const char *sn = sim_service_name(service);
	struct sim_svc *sv = &m->svc[service];
	int delay = 1;
	switch (kind) {
	case SIM_A_RESTART:
		if (sv->restart_until > m->tick) {
			snprintf(err, errlen, "%s is restarting already", sn);
			return -1;
		}
		delay = sim_defs[service].restart_s;
		sv->restart_until = m->tick + delay;
		snprintf(msg, msglen, "rolling restart of %s started (%d replica%s, about %d s)",
		         sn, sv->replicas, sv->replicas == 1 ? "" : "s", delay);
		break;
	case SIM_A_SCALE:
		if (arg < 1 || arg > 50) {
			snprintf(err, errlen, "replicas must be 1..50");
			return -1;
		}
		delay = 20;
		snprintf(msg, msglen, "scaling %s from %d to %d replicas (ready in about %d s)", sn,
		         sv->replicas, arg, delay);
		break;
	case SIM_A_CLEAR_CACHE:
		if (service != SIM_CACHE && service != SIM_API) {
			snprintf(err, errlen,
			         "%s has no cache (the cache tier is cache, used by api)", sn);
			return -1;
		}
		delay = 1;
		snprintf(msg, msglen, "flushing the cache tier; it warms up again from empty");
		break;
	case SIM_A_LIMIT_TRAFFIC:
	case SIM_A_UNLIMIT_TRAFFIC:
		if (kind == SIM_A_UNLIMIT_TRAFFIC)
			arg = 100;
		if (arg < 10 || arg > 100) {
			snprintf(err, errlen, "percent must be 10..100");
			return -1;
		}
		delay = 2;
		snprintf(msg, msglen, "%s will admit %d%% of requests", sn, arg);
		break;
	case SIM_A_ROLLBACK:
		if (sv->version <= 1) {
			snprintf(err, errlen, "%s runs v1; there is nothing to roll back to", sn);
			return -1;
		}
		delay = 30;
		snprintf(msg, msglen, "rolling %s back from v%d to v%d (about %d s)", sn,
		         sv->version, sv->prev_version, delay);
		break;
	case SIM_A_POOL:
		if (service != SIM_DB && service != SIM_API) {
			snprintf(err, errlen, "the db connection pool is set on db or api, not %s",
			         sn);
			return -1;
		}
		if (arg < 10 || arg > 1000) {
			snprintf(err, errlen, "pool size must be 10..1000");
			return -1;
		}
		delay = 5;
		snprintf(msg, msglen, "db connection pool from %d to %d", m->pool_max, arg);
		break;
	case SIM_A_KILL_QUERIES:
		if (service != SIM_DB) {
			snprintf(err, errlen, "queries run on db, not %s", sn);
			return -1;
		}
		delay = 2;
		snprintf(msg, msglen, "ending long-running db sessions (%.0f idle in transaction)",
		         m->leaked_conns);
		break;
	case SIM_A_FAILOVER:
		if (service != SIM_DB) {
			snprintf(err, errlen, "only db has a replica to fail over to, not %s", sn);
			return -1;
		}
		delay = 6;
		sv->restart_until = m->tick + delay;
		snprintf(msg, msglen, "promoting the db replica (writes pause about %d s)", delay);
		break;
	default:
		snprintf(err, errlen, "unknown action");
		return -1;
	}
	if (m->npend == SIM_MAX_PENDING) {
		snprintf(err, errlen, "%d actions are in flight already", SIM_MAX_PENDING);
		if (kind == SIM_A_RESTART || kind == SIM_A_FAILOVER)
			sv->restart_until = 0;
		return -1;
	}
	struct sim_pending *p = &m->pend[m->npend++];
	p->id = ++m->next_id;
	p->kind = kind;
	p->service = (enum sim_service)service;
	p->arg = arg;
	p->due_tick = m->tick + delay;
	sim_event(m, "action %d: %s %s asked (%s)", p->id, sim_action_name(kind), sn, msg);
	return delay;
}

/* An action's delay has passed: change the system. */
static void sim_apply(struct sim_model *m, const struct sim_pending *p)
{
	struct sim_svc *sv = &m->svc[p->service];
	int s = (int)p->service;
	switch (p->kind) {
	case SIM_A_RESTART:
		/* A fresh process: the hog, the leak, a stuck state and a slow
		 * node are gone; the version (and so a bad deploy) stays. */
		sim_fault_end(m, SIM_F_CPU_HOG, s);
		sim_fault_end(m, SIM_F_MEMORY_LEAK, s);
		sim_fault_end(m, SIM_F_LATENCY, s);
		sim_fault_end(m, SIM_F_ERROR_SPIKE, s);
		sv->mem_leaked = 0.0;
		if (s == SIM_CACHE) {
			sim_fault_end(m, SIM_F_CACHE_FAILURE, SIM_CACHE);
			m->hit = 0.0;
		}
		if (s == SIM_API || s == SIM_DB) {
			/* the leaked connections are api's; either end dropping them frees them */
			sim_fault_end(m, SIM_F_DB_CONN_EXHAUSTION, SIM_DB);
			m->leaked_conns = 0.0;
		}
		sv->restart_until = 0;
		break;
	case SIM_A_SCALE:
		sv->replicas = p->arg;
		break;
	case SIM_A_CLEAR_CACHE:
		sim_fault_end(m, SIM_F_CACHE_FAILURE, SIM_CACHE);
		m->hit = 0.0;
		break;
	case SIM_A_LIMIT_TRAFFIC:
	case SIM_A_UNLIMIT_TRAFFIC:
		sv->traffic_pct = p->arg;
		break;
	case SIM_A_ROLLBACK: {
		int from = sv->version;
		sv->version = sv->prev_version;
		sv->prev_version = sv->version > 1 ? sv->version - 1 : 1;
		(void)from;
		sim_fault_end(m, SIM_F_BAD_DEPLOY, s);
		break;
	}
	case SIM_A_POOL:
		m->pool_max = p->arg;
		break;
	case SIM_A_KILL_QUERIES:
		/* frees what leaked so far; a leak that goes on fills the pool again */
		m->leaked_conns = 0.0;
		break;
	case SIM_A_FAILOVER:
		/* the new primary starts with no sessions: the leaked ones are gone,
		 * but api keeps leaking if the leak is still there */
		m->leaked_conns = 0.0;
		sv->restart_until = 0;
		break;
	default:
		break;
	}
	sim_event(m, "action %d: %s %s took effect", p->id, sim_action_name(p->kind),
	          sim_service_name(s));
}

/* ---- one step ---------------------------------------------------------------- */

struct sim_raw {
	double own_ms, p95_ms, err, cpu, mem, rps;
};

/*
 * A service's own numbers at `rate` requests per second; dep_ms and dep_err
 * are what its calls to dependencies add.
 */
static struct sim_raw sim_service_raw(const struct sim_model *m, int s, double rate, double dep_ms,
                                      double dep_err)
{
	const struct sim_def *d = &sim_defs[s];
	const struct sim_svc *sv = &m->svc[s];
	struct sim_raw r = {0};
	double reps = sv->replicas;
	if (sv->restart_until > m->tick)
		reps = reps - 1.0; /* one replica at a time is down */
	double lat_mult = 1.0, extra_util = 0.0, extra_err = 0.0, extra_ms = 0.0, extra_cpu = 0.0;
	double f;
	if ((f = sim_fault_sev(m, SIM_F_CPU_HOG, s)) > 0)
		extra_util += 0.85 * f;
	if ((f = sim_fault_sev(m, SIM_F_LATENCY, s)) > 0)
		extra_ms += 400.0 * f * fmin(1.0, 3.0 / (double)sv->replicas);
	if ((f = sim_fault_sev(m, SIM_F_ERROR_SPIKE, s)) > 0)
		extra_err += 0.3 * f;
	if ((f = sim_fault_sev(m, SIM_F_BAD_DEPLOY, s)) > 0) {
		extra_err += 0.2 * f;
		lat_mult *= 1.0 + f;
		extra_cpu += 15.0 * f;
	}
	r.rps = rate;
	r.mem = d->mem + sv->mem_leaked + 5.0 * fmin(rate / (d->cap * sv->replicas), 1.0);
	if (r.mem > 99.5)
		r.mem = 99.5;
	if (reps <= 0.0) {
		/* the only replica is down: requests are refused at once */
		r.own_ms = d->base_ms;
		r.p95_ms = d->base_ms;
		r.err = 1.0;
		r.cpu = 0.0;
		return r;
	}
	double rho = rate / (reps * d->cap) + extra_util;
	double rq = fmin(rho, 0.95);
	r.cpu = 3.0 + 90.0 * rho + extra_cpu;
	double own = d->base_ms * lat_mult / (1.0 - rq);
	double err = 0.002 + extra_err;
	if (rho > 1.0) {
		own += 1000.0 * (rho - 1.0);
		err += (rho - 1.0) / rho;
	}
	own += extra_ms;
	if (r.mem > 85.0) { /* garbage collection thrash */
		own *= 1.0 + (r.mem - 85.0) / 5.0;
		r.cpu += (r.mem - 85.0) * 1.5;
	}
	if (r.mem > 95.0)
		err += (r.mem - 95.0) * 0.05;
	if (s == SIM_DB) {
		/* sessions held: in-flight queries (with their transactions), a
		 * reserve api keeps open, and whatever leaked */
		double need = rate * own / 1000.0 * 5.0 + 10.0 + m->leaked_conns;
		if (need > m->pool_max) {
			double over = (need - m->pool_max) / need;
			err += over;
			own += 500.0 * fmin(1.0, 3.0 * over);
		}
	}
	r.own_ms = own;
	r.p95_ms = fmin(own + dep_ms, SIM_MAX_P95_MS);
	err = fmin(err, 1.0);
	r.err = 1.0 - (1.0 - err) * (1.0 - fmin(dep_err, 1.0));
	r.cpu = fmin(r.cpu, 100.0);
	return r;
}

static double sim_follow(double prev, double raw, double tau)
{
	return prev + (raw - prev) * (1.0 - exp(-1.0 / tau));
}

/* Smooth (alpha 1 at start) and add noise; fills svc[s].m. */
static void sim_report(struct sim_model *m, int s, const struct sim_raw *r, int first,
                       struct sim_metrics *smooth)
{
	struct sim_metrics *o = smooth;
	if (first) {
		o->p95_ms = r->p95_ms;
		o->err = r->err;
		o->cpu = r->cpu;
		o->mem = r->mem;
		o->rps = r->rps;
	} else {
		o->p95_ms = sim_follow(o->p95_ms, r->p95_ms, SIM_SMOOTH_TAU);
		o->err = sim_follow(o->err, r->err, SIM_SMOOTH_TAU);
		o->cpu = sim_follow(o->cpu, r->cpu, SIM_SMOOTH_TAU);
		o->mem = sim_follow(o->mem, r->mem, SIM_SMOOTH_TAU);
		o->rps = sim_follow(o->rps, r->rps, 1.0);
	}
	struct sim_metrics *n = &m->svc[s].m;
	n->p95_ms = fmax(0.1, o->p95_ms * (1.0 + 0.03 * sim_gauss(m)));
	n->err = fmin(1.0, fmax(0.0, o->err + 0.0004 * sim_gauss(m)));
	n->cpu = fmin(100.0, fmax(0.0, o->cpu + 0.8 * sim_gauss(m)));
	n->mem = fmin(100.0, fmax(0.0, o->mem + 0.2 * sim_gauss(m)));
	n->rps = fmax(0.0, o->rps * (1.0 + 0.01 * sim_gauss(m)));
}

static void sim_compute(struct sim_model *m, int first)
{
	struct sim_metrics *sm = m->smooth;
	double surge = sim_fault_sev(m, SIM_F_TRAFFIC_SURGE, SIM_FRONTEND);
	double demand = SIM_DEMAND_RPS *
	                (1.0 + 0.05 * sin(6.283185307179586 * (double)m->tick / 900.0)) *
	                (1.0 + 1.5 * surge) * (1.0 + 0.01 * sim_gauss(m));
	/* A limit sheds a share of a service's requests at its door: at the
	 * frontend that is a 429 to the user (not a server error); anywhere
	 * else the caller gets the refusal as an error (a shed cache lookup is
	 * a miss instead). */
	double shed[SIM_NSERVICES];
	for (int s = 0; s < SIM_NSERVICES; s++)
		shed[s] = 1.0 - m->svc[s].traffic_pct / 100.0;
	double fe_rate = demand * (1.0 - shed[SIM_FRONTEND]);
	double api_rate = fe_rate * (1.0 - shed[SIM_API]);
	double hit = m->hit * (1.0 - shed[SIM_CACHE]);
	double db_share = (1.0 - hit) + 0.1; /* misses plus writes */
	struct sim_raw r;

	r = sim_service_raw(m, SIM_CACHE, api_rate * (1.0 - shed[SIM_CACHE]), 0.0, 0.0);
	sim_report(m, SIM_CACHE, &r, first, &sm[SIM_CACHE]);
	double db_rate = api_rate * db_share * (1.0 - shed[SIM_DB]);
	r = sim_service_raw(m, SIM_DB, db_rate, 0.0, 0.0);
	m->conns_in_use =
	    fmin((double)m->pool_max, db_rate * r.own_ms / 1000.0 * 5.0 + 10.0 + m->leaked_conns);
	sim_report(m, SIM_DB, &r, first, &sm[SIM_DB]);
	r = sim_service_raw(m, SIM_PAYMENT, api_rate * 0.2 * (1.0 - shed[SIM_PAYMENT]), 0.0, 0.0);
	sim_report(m, SIM_PAYMENT, &r, first, &sm[SIM_PAYMENT]);

	/* A dependency called by more than one request in twenty sits in api's
	 * p95 tail nearly in full: weight its p95 by min(1, 4 x share). */
	double dep_ms = sm[SIM_CACHE].p95_ms + fmin(1.0, 4.0 * db_share) * sm[SIM_DB].p95_ms +
	                fmin(1.0, 4.0 * 0.2) * sm[SIM_PAYMENT].p95_ms;
	double db_err = 1.0 - (1.0 - sm[SIM_DB].err) * (1.0 - shed[SIM_DB]);
	double pay_err = 1.0 - (1.0 - sm[SIM_PAYMENT].err) * (1.0 - shed[SIM_PAYMENT]);
	double dep_err = fmin(1.0, db_share * db_err + 0.2 * pay_err);
	r = sim_service_raw(m, SIM_API, api_rate, dep_ms, dep_err);
	sim_report(m, SIM_API, &r, first, &sm[SIM_API]);
	double api_err = 1.0 - (1.0 - sm[SIM_API].err) * (1.0 - shed[SIM_API]);
	r = sim_service_raw(m, SIM_FRONTEND, fe_rate, sm[SIM_API].p95_ms, api_err);
	sim_report(m, SIM_FRONTEND, &r, first, &sm[SIM_FRONTEND]);
	m->hit_seen = fmin(1.0, fmax(0.0, m->hit + 0.003 * sim_gauss(m)));
	m->conns_seen = fmax(0.0, m->conns_in_use + 0.8 * sim_gauss(m));
}

void sim_init(struct sim_model *m, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->seed = seed;
	m->rng = sim_mix(seed) | 1; /* xorshift state must not be 0 */
	for (int s = 0; s < SIM_NSERVICES; s++) {
		m->svc[s].replicas = sim_defs[s].replicas;
		m->svc[s].traffic_pct = 100;
		m->svc[s].version = 3;
		m->svc[s].prev_version = 2;
	}
	m->hit = SIM_HIT_NORMAL;
	m->pool_max = SIM_POOL_MAX;
	sim_compute(m, 1);
	for (int s = 0; s < SIM_NSERVICES; s++)
		m->svc[s].healthy = 1;
}

void sim_step(struct sim_model *m)
{
	m->tick++;
	/* 1. due actions, in the order they were asked */
	int kept = 0;
	for (int i = 0; i < m->npend; i++) {
		if (m->pend[i].due_tick <= m->tick)
			sim_apply(m, &m->pend[i]);
		else
			m->pend[kept++] = m->pend[i];
	}
	m->npend = kept;
	/* 2. faults move on */
	for (int s = 0; s < SIM_NSERVICES; s++) {
		double f = sim_fault_sev(m, SIM_F_MEMORY_LEAK, s);
		if (f > 0)
			m->svc[s].mem_leaked = fmin(m->svc[s].mem_leaked + 0.8 * f, 70.0);
	}
	double f = sim_fault_sev(m, SIM_F_DB_CONN_EXHAUSTION, SIM_DB);
	if (f > 0)
		m->leaked_conns = fmin(m->leaked_conns + 3.0 * f, 1000.0);
	double target = SIM_HIT_NORMAL * (1.0 - sim_fault_sev(m, SIM_F_CACHE_FAILURE, SIM_CACHE));
	m->hit = sim_follow(m->hit, target, m->hit < target ? SIM_WARM_TAU : 2.0);
	/* 3 and 4 */
	sim_compute(m, 0);
	/* 5. health changes, for the event log and the state's *_since */
	for (int s = 0; s < SIM_NSERVICES; s++) {
		char why[256];
		int ok = sim_healthy(m, (enum sim_service)s, why, sizeof why);
		if (ok != m->svc[s].healthy) {
			m->svc[s].healthy = ok;
			m->svc[s].health_tick = m->tick;
			sim_event(m, "%s %s%s%s", sim_defs[s].name,
			          ok ? "healthy again" : "unhealthy", ok ? "" : ": ",
			          ok ? "" : why);
		}
	}
}

/* ---- health ------------------------------------------------------------------ */

int sim_healthy(const struct sim_model *m, enum sim_service s, char *why, size_t whylen)
{
	const struct sim_metrics *o = &m->smooth[s];
	struct buf b = {.max = 1024};
	if (o->p95_ms > sim_defs[s].slo_ms)
		buf_appendf(&b, "%sp95 %.0f ms > %.0f ms", b.len ? "; " : "", o->p95_ms,
		            sim_defs[s].slo_ms);
	if (o->err > SIM_ERR_SLO)
		buf_appendf(&b, "%serrors %.1f%% > %.0f%%", b.len ? "; " : "", o->err * 100.0,
		            SIM_ERR_SLO * 100.0);
	if (o->cpu > SIM_CPU_SLO)
		buf_appendf(&b, "%sCPU %.0f%% > %.0f%%", b.len ? "; " : "", o->cpu, SIM_CPU_SLO);
	if (o->mem > SIM_MEM_SLO)
		buf_appendf(&b, "%smemory %.0f%% > %.0f%%", b.len ? "; " : "", o->mem, SIM_MEM_SLO);
	int ok = b.len == 0;
	snprintf(why, whylen, "%s", ok ? "within objectives" : b.data);
	buf_free(&b);
	return ok;
}

/* ---- output ------------------------------------------------------------------- */

static const struct sim_series {
	const char *name, *help;
	double scale;
	size_t off;
} sim_series[] = {
    {"sim_latency_p95_seconds", "p95 latency of the service's responses, dependencies included.",
     0.001, offsetof(struct sim_metrics, p95_ms)},
    {"sim_error_ratio", "Share of responses that are errors (0 to 1).", 1.0,
     offsetof(struct sim_metrics, err)},
    {"sim_cpu_utilization_ratio", "CPU in use over CPU allocated (0 to 1).", 0.01,
     offsetof(struct sim_metrics, cpu)},
    {"sim_memory_utilization_ratio", "Memory in use over memory allocated (0 to 1).", 0.01,
     offsetof(struct sim_metrics, mem)},
    {"sim_requests_per_second", "Requests admitted per second.", 1.0,
     offsetof(struct sim_metrics, rps)},
};

static double sim_get(const struct sim_metrics *o, size_t off)
{
	double v;
	memcpy(&v, (const char *)o + off, sizeof v);
	return v;
}

int sim_render_metrics(const struct sim_model *m, struct buf *b)
{
	int rc = 0;
	for (size_t i = 0; i < sizeof sim_series / sizeof sim_series[0]; i++) {
		const struct sim_series *se = &sim_series[i];
		rc |=
		    buf_appendf(b, "# HELP %s %s\n# TYPE %s gauge\n", se->name, se->help, se->name);
		for (int s = 0; s < SIM_NSERVICES; s++)
			rc |=
			    buf_appendf(b, "%s{service=\"%s\"} %.6g\n", se->name, sim_defs[s].name,
			                sim_get(&m->svc[s].m, se->off) * se->scale);
	}
	rc |= buf_appendf(b,
	                  "# HELP sim_cache_hit_ratio Share of cache lookups that hit.\n"
	                  "# TYPE sim_cache_hit_ratio gauge\n"
	                  "sim_cache_hit_ratio{service=\"cache\"} %.6g\n"
	                  "# HELP sim_db_connections_in_use Database sessions in use.\n"
	                  "# TYPE sim_db_connections_in_use gauge\n"
	                  "sim_db_connections_in_use{service=\"db\"} %.6g\n",
	                  m->hit_seen, m->conns_seen);
	return rc < 0 ? -1 : 0;
}

static const char *const sim_csv_cols[] = {"latency_p95_ms", "error_pct", "cpu_pct", "memory_pct",
                                           "rps"};

int sim_render_csv_header(struct buf *b)
{
	int rc = buf_appendf(b, "time");
	for (int s = 0; s < SIM_NSERVICES; s++)
		for (size_t c = 0; c < 5; c++)
			rc |= buf_appendf(b, ",%s_%s", sim_defs[s].name, sim_csv_cols[c]);
	rc |= buf_appendf(b, ",cache_hit_ratio,db_connections_in_use");
	/* the version each service runs: a change log beside the metrics (a
	 * deploy or a rollback changes it), for the detect stage */
	for (int s = 0; s < SIM_NSERVICES; s++)
		rc |= buf_appendf(b, ",%s_deploy_version", sim_defs[s].name);
	rc |= buf_appendf(b, "\n");
	return rc < 0 ? -1 : 0;
}

int sim_render_csv_row(const struct sim_model *m, const char *when, struct buf *b)
{
	int rc = buf_appendf(b, "%s", when);
	for (int s = 0; s < SIM_NSERVICES; s++) {
		const struct sim_metrics *o = &m->svc[s].m;
		rc |= buf_appendf(b, ",%.3f,%.4f,%.2f,%.2f,%.2f", o->p95_ms, o->err * 100.0, o->cpu,
		                  o->mem, o->rps);
	}
	rc |= buf_appendf(b, ",%.4f,%.1f", m->hit_seen, m->conns_seen);
	for (int s = 0; s < SIM_NSERVICES; s++)
		rc |= buf_appendf(b, ",%d", m->svc[s].version);
	rc |= buf_appendf(b, "\n");
	return rc < 0 ? -1 : 0;
}

cJSON *sim_state_json(const struct sim_model *m)
{
	cJSON *o = json_new_object(), *a, *x;
	char seed[32], why[512];
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->seed);
	json_add_str(o, "seed", seed);
	json_add_int(o, "tick", m->tick);
	a = json_new_array();
	for (int s = 0; s < SIM_NSERVICES; s++) {
		const struct sim_svc *sv = &m->svc[s];
		x = json_new_object();
		json_add_str(x, "name", sim_defs[s].name);
		json_add_int(x, "replicas", sv->replicas);
		json_add_int(x, "traffic_pct", sv->traffic_pct);
		char v[16];
		snprintf(v, sizeof v, "v%d", sv->version);
		json_add_str(x, "version", v);
		snprintf(v, sizeof v, "v%d", sv->prev_version);
		json_add_str(x, "previous_version", v);
		json_add_bool(x, "restarting", sv->restart_until > m->tick);
		json_add_num(x, "p95_ms", round(sv->m.p95_ms * 10.0) / 10.0);
		json_add_num(x, "error_pct", round(sv->m.err * 10000.0) / 100.0);
		json_add_num(x, "cpu_pct", round(sv->m.cpu * 10.0) / 10.0);
		json_add_num(x, "memory_pct", round(sv->m.mem * 10.0) / 10.0);
		json_add_num(x, "rps", round(sv->m.rps * 10.0) / 10.0);
		json_add_bool(x, "healthy", sim_healthy(m, (enum sim_service)s, why, sizeof why));
		json_add_int(x, "since_tick", sv->health_tick);
		json_add_str(x, "why", why);
		cJSON_AddItemToArray(a, x);
	}
	json_add(o, "services", a);
	json_add_num(o, "cache_hit_ratio", round(m->hit * 1000.0) / 1000.0);
	x = json_new_object();
	json_add_num(x, "in_use", round(m->conns_in_use));
	json_add_int(x, "max", m->pool_max);
	json_add_num(x, "leaked", round(m->leaked_conns));
	json_add(o, "db_connections", x);
	a = json_new_array();
	for (int i = 0; i < m->nfaults; i++) {
		const struct sim_fault *f = &m->faults[i];
		x = json_new_object();
		json_add_int(x, "id", f->id);
		json_add_str(x, "kind", sim_fault_name(f->kind));
		json_add_str(x, "service", sim_service_name(f->service));
		json_add_num(x, "severity", f->severity);
		json_add_int(x, "start_tick", f->start_tick);
		json_add_bool(x, "active", f->active);
		if (!f->active)
			json_add_int(x, "end_tick", f->end_tick);
		cJSON_AddItemToArray(a, x);
	}
	json_add(o, "faults", a);
	a = json_new_array();
	for (int i = 0; i < m->npend; i++) {
		const struct sim_pending *p = &m->pend[i];
		x = json_new_object();
		json_add_int(x, "id", p->id);
		json_add_str(x, "action", sim_action_name(p->kind));
		json_add_str(x, "service", sim_service_name(p->service));
		json_add_int(x, "due_tick", p->due_tick);
		cJSON_AddItemToArray(a, x);
	}
	json_add(o, "pending", a);
	a = json_new_array();
	for (int i = 0; i < m->nevents; i++) {
		x = json_new_object();
		json_add_int(x, "tick", m->events[i].tick);
		json_add_str(x, "text", m->events[i].text);
		cJSON_AddItemToArray(a, x);
	}
	json_add(o, "events", a);
	return o;
}
