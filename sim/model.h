/*
 * model.h: the simulated production system behind opsbot-sim.
 *
 * Five services with fixed dependencies:
 *
 *     frontend --> api --+--> cache     (every request)
 *                        +--> db        (cache misses and writes)
 *                        +--> payment   (one request in five)
 *
 * Each service reports p95 latency, error ratio, CPU, memory and request
 * rate.  Time moves in whole simulated seconds (sim_step); nothing here
 * reads a clock or does I/O, so the model is a pure function of its seed
 * and of the commands applied between steps: two models with the same seed
 * that get the same faults and actions at the same ticks report the same
 * numbers, bit for bit.
 *
 * Faults (sim_fault_inject) change a service; the symptoms travel up the
 * dependency graph (a slow db makes api and frontend slow).  Actions
 * (sim_action) take effect after a delay (a rolling restart, new replicas
 * warming up, a rollback rolling out), and the metrics follow with a lag of
 * a few seconds.  Right actions end a fault or remove its load; wrong ones
 * change nothing useful, and some hurt a little (a restart takes capacity
 * away while it runs; flushing a healthy cache sends its reads to the db).
 *
 * Invariants:
 *   1. svc[i].replicas >= 1; 10 <= traffic_pct <= 100; 0 <= hit <= 1.
 *   2. Reported metrics are finite and >= 0; error and cache ratios <= 1.
 *   3. The model holds no pointers: a struct sim_model can be copied or
 *      compared with memcmp.
 */
#ifndef OPSBOT_SIM_MODEL_H
#define OPSBOT_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mem.h"

enum sim_service { SIM_FRONTEND, SIM_API, SIM_CACHE, SIM_DB, SIM_PAYMENT, SIM_NSERVICES };

enum sim_fault_kind {
	SIM_F_CPU_HOG,
	SIM_F_MEMORY_LEAK,
	SIM_F_LATENCY,
	SIM_F_ERROR_SPIKE,
	SIM_F_CACHE_FAILURE,
	SIM_F_DB_CONN_EXHAUSTION,
	SIM_F_BAD_DEPLOY,
	SIM_F_TRAFFIC_SURGE,
	SIM_NFAULTS
};

enum sim_action_kind {
	SIM_A_RESTART,
	SIM_A_SCALE,
	SIM_A_CLEAR_CACHE,
	SIM_A_LIMIT_TRAFFIC,
	SIM_A_UNLIMIT_TRAFFIC,
	SIM_A_ROLLBACK,
	SIM_A_POOL,
	SIM_A_KILL_QUERIES,
	SIM_A_FAILOVER,
	SIM_NACTIONS
};

#define SIM_MAX_FAULTS  16
#define SIM_MAX_PENDING 32
#define SIM_MAX_EVENTS  32

struct sim_metrics {
	double p95_ms; /* p95 latency of the service's responses, dependencies included */
	double err;    /* share of responses that are errors, 0..1 */
	double cpu;    /* percent of allocated CPU */
	double mem;    /* percent of allocated memory */
	double rps;    /* requests per second admitted */
};

struct sim_svc {
	int replicas;
	int traffic_pct; /* share of requests admitted (load shedding) */
	int version, prev_version;
	int64_t restart_until; /* tick a rolling restart ends; capacity is short until then */
	double mem_leaked;     /* percentage points of memory leaked so far */
	int healthy;           /* as of the last step (sim_healthy) */
	int64_t health_tick;   /* when it last changed */
	struct sim_metrics m;  /* what /metrics reports (smoothed, with noise) */
};

struct sim_fault {
	int id;
	enum sim_fault_kind kind;
	enum sim_service service;
	double severity; /* 0 < severity <= 1 */
	int64_t start_tick;
	int active;
	int64_t end_tick; /* when it ended (active == 0) */
};

struct sim_pending {
	int id;
	enum sim_action_kind kind;
	enum sim_service service;
	int arg; /* replicas, percent, pool size */
	int64_t due_tick;
};

struct sim_event {
	int64_t tick;
	char text[120];
};

struct sim_model {
	uint64_t seed, rng;
	int64_t tick; /* simulated seconds since start */
	int next_id;
	struct sim_svc svc[SIM_NSERVICES];
	double hit;          /* cache hit ratio (the cache tier) */
	double leaked_conns; /* db connections held by api and never returned */
	int pool_max;        /* db connection limit */
	double conns_in_use;
	double hit_seen, conns_seen;              /* the two above as reported (with noise) */
	struct sim_metrics smooth[SIM_NSERVICES]; /* noise-free, what health is judged on */
	struct sim_fault faults[SIM_MAX_FAULTS];
	int nfaults;
	struct sim_pending pend[SIM_MAX_PENDING];
	int npend;
	struct sim_event events[SIM_MAX_EVENTS]; /* ring of the latest changes */
	int nevents;
};

/* A fresh, healthy system at tick 0. */
void sim_init(struct sim_model *m, uint64_t seed);
/* Advance one simulated second. */
void sim_step(struct sim_model *m);

/* Names <-> enums; -1 when unknown. */
int sim_service_parse(const char *name);
int sim_fault_parse(const char *name);
int sim_action_parse(const char *name);
const char *sim_service_name(int s);
const char *sim_fault_name(int k);
const char *sim_action_name(int a);
/* The service a fault hits when the request names none. */
enum sim_service sim_fault_default_service(enum sim_fault_kind k);

/*
 * Start a fault now.  service -1 means the kind's default.  Returns the
 * fault id (> 0), or -1 with err (unknown combination, too many faults).
 */
int sim_fault_inject(struct sim_model *m, enum sim_fault_kind kind, int service, double severity,
                     char *err, size_t errlen);
/* End every active fault at once (tests and rehearsals). */
void sim_fault_clear_all(struct sim_model *m);
/* Active faults of a kind on a service (service -1: any). */
int sim_fault_active(const struct sim_model *m, enum sim_fault_kind kind, int service);

/*
 * Ask for an action.  arg: replicas (scale, 1..50), percent (limit_traffic,
 * 10..100), pool size (pool, 10..1000); ignored otherwise.  On success
 * returns the delay in simulated seconds before it takes effect and a line
 * for a person in msg; -1 with err for a bad request (nothing changes).
 */
int sim_action(struct sim_model *m, enum sim_action_kind kind, int service, int arg, char *msg,
               size_t msglen, char *err, size_t errlen);

/* Add a line to the event log (actions with no counterpart in the model). */
void sim_note(struct sim_model *m, const char *text);

/*
 * Whether a service meets its objectives now (p95, errors, CPU, memory
 * under the limits in model.c).  1 healthy, 0 not, with what is wrong in
 * why ("p95 812 ms > 400 ms; ...").
 */
int sim_healthy(const struct sim_model *m, enum sim_service s, char *why, size_t whylen);

/* The Prometheus text exposition of the reported metrics, appended to b. */
int sim_render_metrics(const struct sim_model *m, struct buf *b);
/* The column names and one row of the history CSV (wide, one column per
 * service and metric), appended to b. */
int sim_render_csv_header(struct buf *b);
int sim_render_csv_row(const struct sim_model *m, const char *when, struct buf *b);
/* Everything, as JSON for /control/state; caller frees with cJSON_Delete. */
cJSON *sim_state_json(const struct sim_model *m);

#endif
