/*
 * watch.c: the watch loop (see watch.h).
 *
 * Invariants:
 *   1. trackers[i] holds the detector of one series name; a point reaches a
 *      detector at most once (ts > last_ts), so streaming state is exact.
 *   2. An opened episode's incident is submitted until the queue accepts
 *      it (pending list, same idempotency key), never twice with two keys;
 *      pending items go in order, so a close is sent only after its open.
 */
#include "watch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "timeutil.h"
#include "wire.h"

#define WATCH_MAX_PENDING 64

struct watch_tracker {
	char name[SOURCE_NAME_MAX];
	struct detector *d;
	int64_t last_ts;
	long seen; /* points fed so far */
};

static volatile int watch_stop;

static void watch_on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void watch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watch_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static cJSON *watch_submit_req(const struct job_state *st, const char *service, const char *series,
                               double score, int64_t start_ms)
{
	cJSON *req = wire_new(WIRE_SUBMIT, 0);
	json_add_str(req, "what", "incident");
	char key[256];
	episode_key(service, start_ms, key, sizeof key);
	json_add_str(req, "key", key);
	cJSON *spec = json_new_object();
	char title[400], summary[600], when[40];
	snprintf(title, sizeof title, "Anomaly on %.120s: %.200s", service, series);
	time_fmt_iso(start_ms, when, sizeof when);
	snprintf(summary, sizeof summary,
	         "opsbot's metric watch saw %.300s leave its usual range from %s (score %.2f). "
	         "Detection and root-cause ranking follow in this thread.",
	         series, when, score);
	json_add_str(spec, "title", title);
	json_add_str(spec, "service", service);
	json_add_str(spec, "severity", st->severity);
	json_add_str(spec, "source", "watch");
	json_add_str(spec, "summary", summary);
	cJSON *labels = json_new_object();
	json_add_str(labels, "series", series);
	json_add_str(labels, "episode_start", when);
	json_add(spec, "labels", labels);
	json_add(req, "spec", spec);
	return req;
}

/*
 * Something to tell the queue: an episode's incident (submit), or that the
 * episode ended (the same submit, which answers with the existing incident
 * without creating one, then a note on it).
 */
struct watch_pending {
	cJSON *submit;
	int closed;
};

static int watch_send(struct rpc *rpc, const struct watch_pending *pd)
{
	const char *key = json_str(pd->submit, "key");
	if (!rpc) {
		if (pd->closed) {
			printf("{\"event\":\"episode_closed\",\"key\":\"%s\"}\n", key);
		} else {
			char *text = json_print(pd->submit);
			printf("%s\n", text);
			free(text);
		}
		fflush(stdout);
		return 0;
	}
	cJSON *reply = NULL;
	char err[512];
	int rc = rpc_call(rpc, pd->submit, &reply, 5000, 2, err, sizeof err);
	int64_t incident = rc == 0 ? json_int(reply, "incident", 0) : 0;
	if (rc == 0 && !pd->closed)
		log_info("event=watch_incident key=%s incident=%lld created=%d", log_q(key),
		         (long long)incident, json_bool(reply, "created", 0));
	cJSON_Delete(reply);
	if (rc == 0 && pd->closed) {
		cJSON *note = wire_new(WIRE_COMMAND, incident);
		char nkey[300];
		snprintf(nkey, sizeof nkey, "%s:closed", key);
		json_add_str(note, "action", "note");
		json_add_str(note, "user", "opsbot-watch");
		json_add_str(note, "surface", "watch");
		json_add_str(note, "note",
		             "The metric watch sees this service back in its usual range; the "
		             "incident stays open until someone resolves it.");
		json_add_str(note, "key", nkey);
		reply = NULL;
		rc = rpc_call(rpc, note, &reply, 5000, 2, err, sizeof err);
		if (rc == -2)
			rc = 0; /* e.g. already resolved: nothing to tell */
		if (rc == 0)
			log_info("event=watch_episode_noted key=%s incident=%lld", log_q(key),
			         (long long)incident);
		cJSON_Delete(note);
		cJSON_Delete(reply);
	}
	if (rc != 0)
		log_warn("event=watch_submit_failed key=%s error=%s", log_q(key), log_q(err));
	return rc == 0 ? 0 : -1;
}

/* The series that peaked in a service's episode (the open title's series). */
static const char *ep_series(const struct episode_state *e, const char *service)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->svc[i].service, service) == 0)
			return e->svc[i].series;
	return "";
}

/* One service's best score among a poll's recent points, and its series. */
struct watch_best {
	char service[128];
	double score;
	const char *series;
};

/* Feed each series' new points to its detector (a tracker per series name,
 * created on first sight) and keep, per service, the best score among the
 * points after `recent` once warm-up is over.  Returns how many services
 * scored. */
static size_t watch_score(const struct job_state *st, const struct source_list *l,
                          struct watch_tracker *tr, size_t *ntr, int64_t recent,
                          struct watch_best *best)
{
	size_t nb = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct source_series *s = &l->s[i];
		size_t t = 0;
		while (t < *ntr && strcmp(tr[t].name, s->name) != 0)
			t++;
		if (t == *ntr) {
			if (*ntr == SOURCE_MAX_SERIES)
				continue;
			str_copy(tr[t].name, sizeof tr[t].name, s->name);
			tr[t].d = detector_new(&st->watch_params);
			tr[t].last_ts = INT64_MIN;
			(*ntr)++;
		}
		double sc_max = -1.0;
		for (size_t k = 0; k < s->n; k++) {
			if (s->ts_ms[k] <= tr[t].last_ts)
				continue;
			double sc = detector_step(tr[t].d, s->ts_ms[k], s->v[k], NULL);
			tr[t].last_ts = s->ts_ms[k];
			tr[t].seen++;
			if (tr[t].seen > st->watch_warmup && s->ts_ms[k] >= recent && sc > sc_max)
				sc_max = sc;
		}
		if (sc_max < 0.0)
			continue;
		size_t b = 0;
		while (b < nb && strcmp(best[b].service, s->service) != 0)
			b++;
		if (b == nb) {
			if (nb == EPISODE_MAX_SERVICES)
				continue;
			str_copy(best[b].service, sizeof best[b].service, s->service);
			best[b].score = -1.0;
			nb++;
		}
		if (sc_max > best[b].score) {
			best[b].score = sc_max;
			best[b].series = s->name;
		}
	}
	return nb;
}

/* Pass each service's score to the episode tracker; an episode that opens
 * or closes queues a submit in pending.  Returns the new pending count. */
static size_t watch_episodes(const struct job_state *st, struct episode_state *ep, int64_t now,
                             const struct watch_best *best, size_t nb,
                             struct watch_pending *pending, size_t npend)
{
	for (size_t b = 0; b < nb; b++) {
		int64_t start;
		enum episode_event ev = episode_observe(ep, best[b].service, now, best[b].score,
		                                        best[b].series, &start);
		if (ev == EPISODE_OPEN) {
			log_info("event=episode_open service=%s series=%s score=%.3f",
			         log_q(best[b].service), log_q(best[b].series), best[b].score);
			if (npend < WATCH_MAX_PENDING)
				pending[npend++] = (struct watch_pending){
				    watch_submit_req(st, best[b].service, best[b].series,
				                     best[b].score, start),
				    0};
			else
				log_warn("event=watch_pending_full service=%s",
				         log_q(best[b].service));
		} else if (ev == EPISODE_CLOSE) {
			log_info("event=episode_close service=%s", log_q(best[b].service));
			if (npend < WATCH_MAX_PENDING)
				pending[npend++] = (struct watch_pending){
				    watch_submit_req(st, best[b].service,
				                     ep_series(ep, best[b].service), 0.0, start),
				    1};
		}
	}
	return npend;
}

/* Send what is pending, oldest first; stop at the first failure so an
 * episode's close never goes before its open (invariant 2).  Returns how
 * many are still pending (moved to the front). */
static size_t watch_flush(struct rpc *rpc, struct watch_pending *pending, size_t npend)
{
	size_t kept = 0, p = 0;
	for (; p < npend; p++) {
		if (watch_send(rpc, &pending[p]) < 0)
			break;
		cJSON_Delete(pending[p].submit);
	}
	for (; p < npend; p++)
		pending[kept++] = pending[p];
	return kept;
}

int watch_run(struct job_state *st, int dry_run, long polls)
{
	struct rpc *rpc = NULL;
	char err[512];
	if (!dry_run && rpc_open(&rpc, st->queue_url, err, sizeof err) < 0) {
		fprintf(stderr, "opsbot-detect: queue %s: %s\n", st->queue_url, err);
		return 1;
	}
	watch_signals();
	struct watch_tracker *tr = xcalloc(SOURCE_MAX_SERIES, sizeof *tr);
	size_t ntr = 0;
	struct watch_pending pending[WATCH_MAX_PENDING];
	size_t npend = 0;
	struct episode_state *ep = xmalloc(sizeof *ep);
	episode_init(ep, &st->episode);
	log_info("event=watch_started interval_ms=%lld dry_run=%d",
	         (long long)st->watch_interval_ms, dry_run);
	for (long poll = 0; !watch_stop && (polls <= 0 || poll < polls); poll++) {
		int64_t now = time_now_ms();
		source_scrape(st->src, now, err, sizeof err);
		struct source_list l = {0};
		int failed;
		if (source_fetch(st->src, now - st->window_ms, now, st->step_ms, &l, &failed, err,
		                 sizeof err) < 0)
			log_warn("event=watch_fetch_failed error=%s", log_q(err));
		struct watch_best best[EPISODE_MAX_SERVICES];
		size_t nb = watch_score(st, &l, tr, &ntr, now - 2 * st->watch_interval_ms, best);
		npend = watch_episodes(st, ep, now, best, nb, pending, npend);
		log_debug("event=watch_poll poll=%ld series=%zu services=%zu", poll, l.n, nb);
		source_list_free(&l);
		npend = watch_flush(rpc, pending, npend);
		if (polls <= 0 || poll + 1 < polls)
			time_sleep_ms(st->watch_interval_ms, &watch_stop);
	}
	for (size_t p = 0; p < npend; p++)
		cJSON_Delete(pending[p].submit);
	for (size_t t = 0; t < ntr; t++)
		detector_free(tr[t].d);
	free(tr);
	free(ep);
	if (rpc)
		rpc_close(rpc);
	log_info("event=watch_stopped");
	return 0;
}
