/*
 * intake.c: opsbot-bot's HTTP intake -- alert webhooks in, /metrics out.
 *
 * Routes (on the [http] listener):
 *   POST /hooks/alertmanager  Alertmanager webhook (payload version 4)
 *   POST /hooks/generic       the small JSON shape documented in alert.h
 *   GET  /metrics             Prometheus text exposition (passes promtool),
 *                             with the chat API counters (chatstats.h)
 * (GET /healthz is main.c's.)
 *
 * Trust: every request is untrusted.  Hooks need "Authorization: Bearer
 * <token>" with the token from the environment variable [hooks] token_env
 * (default OPSBOT_HOOK_TOKEN), compared in constant time; without a token
 * set, hooks answer 401 and say why.  A payload is parsed and checked
 * completely (alert.c) before anything is sent to the queue, so a bad one
 * gets a 4xx with a one-line reason and changes nothing; bodies above
 * [http] max_body get 413 from httpd.  Every queue request carries an
 * idempotency key, so Alertmanager's retries after a 503 (queue not
 * answering) converge on the same incident, note and resolution.
 *
 * Alertmanager flow: submit (key from the group key and the episode) -> for
 * a group already known, a note with the notification -> when the group is
 * resolved, a resolve command (unless [hooks] resolve = no: then only the
 * note).
 *
 * Episodes: a group that fires again after its incident ended (resolved,
 * rejected, expired, failed) opens a new incident.  A firing notification
 * walks the group's episode keys ("am:<group>", "am:<group>#2", ...): the
 * first that is new creates the incident, the first whose incident is still
 * live takes the note, an ended one sends the walk on.  The keys depend
 * only on the group, so a retried notification walks to the same incident
 * and changes nothing.  A resolved notification never creates an episode: it
 * goes to the group's newest incident (by its am_group label, among the
 * newest INTAKE_LOOKBACK incidents; only a group never seen is submitted).
 * [hooks] refire = note keeps the old way: every notification of a group
 * lands on its first incident.
 *
 * Filtered alerts: an alert below [hooks] min_severity (default info: none
 * is below) or whose name (Alertmanager's alertname, a generic alert's
 * title) is in [hooks] ignore opens no incident.  A firing notification of
 * one is recorded in the queue as alert.filtered (a command "filtered" of
 * incident 0, keyed like the notification, so a retry counts once) for the
 * digests' alert counts, and answered 200 {"filtered": reason}.  A resolved
 * notification is not counted: it closes the incident its group opened
 * before it was filtered (a changed label or config), else it only gets
 * that answer.
 *
 * Config [hooks]: token_env, resolve = yes, refire = new|note,
 * alertmanager_max_body = 32 MiB (413 beyond; any number of alerts),
 * min_severity = info, ignore = NAME, NAME, queue_timeout = 5s (one queue
 * call; a webhook is answered 503 after three of them time out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "bot.h"
#include "chatstats.h"
#include "config.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "severity.h"
#include "surface.h"
#include "timeutil.h"
#include "wire.h"

#define INTAKE_CALL_MS  5000
#define INTAKE_RETRIES  2
#define INTAKE_COUNTERS 32
#define INTAKE_EPISODES 64  /* episodes walked per group; then notes on the last */
#define INTAKE_LOOKBACK 500 /* newest incidents searched for a group's episode */

struct intake {
	struct bot *b;
	const char *token; /* from the environment; NULL when unset */
	char token_env[64];
	int resolve;
	int refire_new; /* [hooks] refire = new: a group firing after its end opens an episode */
	int64_t am_max_body;
	int call_ms;   /* [hooks] queue_timeout: one queue call (of 1 + INTAKE_RETRIES) */
	int min_rank;  /* [hooks] min_severity as severity_rank() */
	char **ignore; /* [hooks] ignore: alert names that open nothing */
	size_t nignore;
	struct {
		char hook[16];
		int code;
		unsigned long long n;
	} count[INTAKE_COUNTERS];
	size_t ncount;
	int64_t last_queue_ms;    /* round trip of the last stats query */
	struct httpd_x **waiters; /* /metrics requests waiting for the stats */
	size_t nwaiters;
	int stats_inflight;
};

/* One webhook being carried through its queue calls. */
struct intake_x {
	struct intake *in;
	struct httpd_x *x;
	const char *hook;
	struct alert_req req;
	int64_t incident;
	int created;
	int episode; /* Alertmanager: 1.. */
	int64_t t0;
	char filtered[200]; /* why it opens no incident ([hooks] min_severity, ignore), or "" */
};

static void intake_count(struct intake *in, const char *hook, int code)
{
	for (size_t i = 0; i < in->ncount; i++)
		if (in->count[i].code == code && strcmp(in->count[i].hook, hook) == 0) {
			in->count[i].n++;
			return;
		}
	if (in->ncount == INTAKE_COUNTERS)
		return;
	str_copy(in->count[in->ncount].hook, sizeof in->count[0].hook, hook);
	in->count[in->ncount].code = code;
	in->count[in->ncount].n = 1;
	in->ncount++;
}

/* Answer with JSON {"error": reason} or the given object; counts the code. */
static void intake_reply(struct intake *in, struct httpd_x *x, const char *hook, int code,
                         cJSON *body, const char *reason)
{
	if (!body) {
		body = json_new_object();
		json_add_str(body, "error", reason);
	}
	char *text = json_print(body);
	httpd_reply_str(x, code, "application/json", text);
	free(text);
	cJSON_Delete(body);
	intake_count(in, hook, code);
	if (code >= 400)
		log_info("event=hook_refused hook=%s code=%d reason=%s", hook, code,
		         log_q(reason ? reason : ""));
}

static void intake_done(struct intake_x *ix, int code, cJSON *body, const char *reason)
{
	intake_reply(ix->in, ix->x, ix->hook, code, body, reason);
	alert_req_free(&ix->req);
	free(ix);
}

static void intake_ok(struct intake_x *ix, int resolved)
{
	cJSON *o = json_new_object();
	json_add_int(o, "incident", ix->incident);
	json_add_bool(o, "created", ix->created);
	if (ix->req.update)
		json_add_bool(o, "resolved", resolved);
	log_info("event=hook_accepted hook=%s incident=%lld created=%d resolved=%d ms=%lld",
	         ix->hook, (long long)ix->incident, ix->created, resolved,
	         (long long)(time_mono_ms() - ix->t0));
	intake_done(ix, ix->created ? 201 : 200, o, NULL);
}

/* A queue failure as an HTTP answer: 503 when it may pass, 422 when refused. */
static void intake_queue_failed(struct intake_x *ix, int rc, const char *err)
{
	if (rc == -1)
		intake_done(ix, 503, NULL,
		            "opsbot's queue did not answer; nothing was recorded, please retry");
	else
		intake_done(ix, 422, NULL, err && *err ? err : "the queue refused the request");
}

static void intake_resolved_cb(struct bot *b, void *arg, int rc, const cJSON *reply,
                               const char *err)
{
	(void)b;
	struct intake_x *ix = arg;
	if (rc == -1) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	/* -2 here is "already resolved": the wanted state, so it is success too. */
	(void)reply;
	intake_ok(ix, 1);
}

static int intake_state_ended(const char *st)
{
	return st && (!strcmp(st, WIRE_ST_RESOLVED) || !strcmp(st, WIRE_ST_REJECTED) ||
	              !strcmp(st, WIRE_ST_EXPIRED) || !strcmp(st, WIRE_ST_FAILED));
}

/* The keys of episode n (the first episode keeps the keys opsbot always used). */
static void intake_episode_keys(struct intake_x *ix, int n)
{
	struct alert_req *r = &ix->req;
	char ep[16] = "";
	if (n > 1)
		snprintf(ep, sizeof ep, "#%d", n);
	ix->episode = n;
	snprintf(r->key, sizeof r->key, "am:%s%s", r->group_hash, ep);
	snprintf(r->note_key, sizeof r->note_key, "am:%s%s:note:%s", r->group_hash, ep,
	         r->sig_hash);
	snprintf(r->resolve_key, sizeof r->resolve_key, "am:%s%s:resolve:%s", r->group_hash, ep,
	         r->sig_hash);
}

static void intake_submit_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err);
static void intake_episode_cb(struct bot *b, void *arg, int rc, const cJSON *reply,
                              const char *err);

static void intake_submit(struct intake_x *ix)
{
	cJSON *req = wire_new(WIRE_SUBMIT, 0);
	json_add_str(req, "what", "incident");
	if (ix->req.key[0])
		json_add_str(req, "key", ix->req.key);
	cJSON *spec = json_dup(ix->req.spec);
	if (ix->episode > 1) {
		cJSON *labels = cJSON_GetObjectItemCaseSensitive(spec, "labels");
		char n[16];
		snprintf(n, sizeof n, "%d", ix->episode);
		if (labels)
			json_add_str(labels, "am_episode", n);
	}
	json_add(req, "spec", spec);
	bot_call(ix->in->b, req, ix->in->call_ms, INTAKE_RETRIES, intake_submit_cb, ix);
}

static void intake_command(struct intake_x *ix, const char *action, const char *key, bot_call_cb cb)
{
	cJSON *req = wire_new(WIRE_COMMAND, ix->incident);
	json_add_str(req, "action", action);
	json_add_str(req, "user", "alertmanager");
	json_add_str(req, "surface", "alertmanager");
	json_add_str(req, "note", ix->req.note);
	json_add_str(req, "key", key);
	bot_call(ix->in->b, req, ix->in->call_ms, INTAKE_RETRIES, cb, ix);
}

static void intake_after_note(struct intake_x *ix)
{
	if (ix->req.resolved && ix->in->resolve)
		intake_command(ix, "resolve", ix->req.resolve_key, intake_resolved_cb);
	else
		intake_ok(ix, 0);
}

static void intake_note_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	(void)reply;
	struct intake_x *ix = arg;
	if (rc == -1) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	if (rc == -2) /* e.g. a note on a closed incident: recorded nowhere, not an error */
		log_info("event=hook_note_refused incident=%lld reason=%s", (long long)ix->incident,
		         log_q(err));
	intake_after_note(ix);
}

static void intake_submit_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	struct intake_x *ix = arg;
	if (rc < 0) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	ix->incident = json_int(reply, "incident", 0);
	ix->created = json_bool(reply, "created", 0);
	if (!ix->req.update) {
		intake_ok(ix, 0);
		return;
	}
	if (ix->created) {
		intake_after_note(ix);
		return;
	}
	if (ix->in->refire_new && !ix->req.resolved && ix->episode < INTAKE_EPISODES) {
		/* a known episode: still live, or ended so this firing opens the next? */
		cJSON *q = wire_new(WIRE_QUERY, ix->incident);
		json_add_str(q, "what", "incident");
		bot_call(ix->in->b, q, ix->in->call_ms, INTAKE_RETRIES, intake_episode_cb, ix);
		return;
	}
	intake_command(ix, "note", ix->req.note_key, intake_note_cb);
}

static void intake_episode_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	struct intake_x *ix = arg;
	if (rc < 0) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(reply, "incident");
	if (intake_state_ended(json_str(inc, "state"))) {
		log_info("event=hook_group_refired incident=%lld episode=%d",
		         (long long)ix->incident, ix->episode + 1);
		intake_episode_keys(ix, ix->episode + 1);
		intake_submit(ix);
		return;
	}
	intake_command(ix, "note", ix->req.note_key, intake_note_cb);
}

static void intake_filtered_cb(struct bot *b, void *arg, int rc, const cJSON *reply,
                               const char *err);

/* A resolved notification: the newest episode of its group, never a new one. */
static void intake_latest_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	struct intake_x *ix = arg;
	if (rc < 0) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	/* the group's newest incident (by id: episode keys may have been
	 * pruned by the queue's retention since) takes the note and resolve */
	int64_t newest = 0;
	int episode = 1;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "items"))
	{
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(it, "labels");
		const char *g = json_str(labels, "am_group");
		const char *e = json_str(labels, "am_episode");
		int64_t id = json_int(it, "id", 0);
		if (!g || strcmp(g, ix->req.group_hash) != 0 || id <= newest)
			continue;
		newest = id;
		episode = e ? (int)strtol(e, NULL, 10) : 1;
		if (episode < 1 || episode > INTAKE_EPISODES)
			episode = 1;
	}
	intake_episode_keys(ix, episode);
	if (!newest && ix->filtered[0]) { /* a filtered group's end: nothing to close */
		intake_filtered_cb(b, ix, 0, NULL, NULL);
		return;
	}
	if (!newest) { /* never seen (or out of sight): as opsbot always did */
		intake_submit(ix);
		return;
	}
	ix->incident = newest;
	ix->created = 0;
	intake_command(ix, "note", ix->req.note_key, intake_note_cb);
}

/* The alert's name for people: Alertmanager's alertname, else the title. */
static const char *intake_alert_name(const struct alert_req *r)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(r->spec, "labels");
	const char *an = json_str(labels, "alertname");
	return an && *an ? an : json_str(r->spec, "title");
}

/* Why this alert opens no incident (into why), or 0 when it does. */
static int intake_filtered(const struct intake *in, const struct alert_req *r, char *why,
                           size_t whylen)
{
	const char *sev = json_str(r->spec, "severity");
	const char *name = intake_alert_name(r);
	int rank = sev ? severity_rank(sev) : -1;
	if (rank > in->min_rank) {
		snprintf(why, whylen, "severity %s is below [hooks] min_severity %s", sev,
		         severity_names[in->min_rank]);
		return 1;
	}
	for (size_t i = 0; name && i < in->nignore; i++)
		if (!strcmp(in->ignore[i], name)) {
			snprintf(why, whylen, "alert %s is in [hooks] ignore", name);
			return 1;
		}
	return 0;
}

static void intake_filtered_cb(struct bot *b, void *arg, int rc, const cJSON *reply,
                               const char *err)
{
	(void)b;
	(void)reply;
	struct intake_x *ix = arg;
	if (rc < 0) {
		intake_queue_failed(ix, rc, err);
		return;
	}
	cJSON *o = json_new_object();
	json_add_int(o, "incident", 0);
	json_add_bool(o, "created", 0);
	json_add_str(o, "filtered", ix->filtered);
	log_info("event=hook_filtered hook=%s reason=%s", ix->hook, log_q(ix->filtered));
	intake_done(ix, 200, o, NULL);
}

/* Record a filtered firing alert for the digests; no incident. */
static void intake_record_filtered(struct intake_x *ix)
{
	struct alert_req *r = &ix->req;
	const char *why = ix->filtered;
	cJSON *req = wire_new(WIRE_COMMAND, 0);
	json_add_str(req, "action", "filtered");
	json_add_str(req, "user", ix->hook);
	json_add_str(req, "surface", ix->hook);
	json_add_str(req, "note", why);
	char key[160];
	if (r->update)
		snprintf(key, sizeof key, "am:%s:filtered:%s", r->group_hash, r->sig_hash);
	else if (r->key[0])
		snprintf(key, sizeof key, "%.100s:filtered", r->key);
	else
		key[0] = '\0'; /* a generic alert without a key: rpc.c keys the request */
	if (key[0])
		json_add_str(req, "key", key);
	cJSON *a = json_new_object();
	const char *name = intake_alert_name(r);
	json_add_str(a, "name", name ? name : "?");
	json_add_str(a, "severity", json_str(r->spec, "severity"));
	json_add_str(a, "service", json_str(r->spec, "service"));
	json_add_str(a, "status", r->update ? (r->resolved ? "resolved" : "firing") : "firing");
	json_add_int(a, "alerts", r->nalerts > 0 ? r->nfiring : 1);
	json_add_str(a, "reason", why);
	json_add(req, "alert", a);
	bot_call(ix->in->b, req, ix->in->call_ms, INTAKE_RETRIES, intake_filtered_cb, ix);
}

static int intake_auth(struct intake *in, struct httpd_x *x, const char *hook)
{
	if (!in->token) {
		char why[160];
		snprintf(why, sizeof why,
		         "webhooks are off: set %s in opsbot-bot's environment to a shared token",
		         in->token_env);
		intake_reply(in, x, hook, 401, NULL, why);
		return -1;
	}
	if (!httpd_bearer_ok(x, in->token)) {
		intake_reply(in, x, hook, 401, NULL, "missing or wrong bearer token");
		return -1;
	}
	return 0;
}

static void intake_hook(struct httpd_x *x, struct intake *in, const char *hook,
                        int (*parse)(const char *, size_t, struct alert_req *, char *, size_t))
{
	if (intake_auth(in, x, hook) < 0)
		return;
	const struct httpd_req *r = httpd_request(x);
	struct intake_x *ix = xcalloc(1, sizeof *ix);
	ix->in = in;
	ix->x = x;
	ix->hook = hook;
	ix->t0 = time_mono_ms();
	char err[300];
	if (parse(r->body, r->body_len, &ix->req, err, sizeof err) < 0) {
		char why[340];
		snprintf(why, sizeof why, "bad %s payload: %s", hook, err);
		{
			intake_done(ix, 400, NULL, why);
			return;
		}
	}
	httpd_hold(x);
	if (intake_filtered(in, &ix->req, ix->filtered, sizeof ix->filtered)) {
		if (!(ix->req.update && ix->req.resolved)) {
			intake_record_filtered(ix);
			return;
		}
		/* A resolved notification is not counted, but it still closes the
		 * incident its group opened before the filter said so (the newest
		 * episode, as below); a group without one is only answered. */
		intake_episode_keys(ix, 1);
		cJSON *q = wire_new(WIRE_QUERY, 0);
		json_add_str(q, "what", "incidents");
		json_add_int(q, "limit", INTAKE_LOOKBACK);
		bot_call(in->b, q, in->call_ms, INTAKE_RETRIES, intake_latest_cb, ix);
		return;
	}
	if (ix->req.update && ix->in->refire_new) {
		intake_episode_keys(ix, 1);
		if (ix->req.resolved) {
			cJSON *q = wire_new(WIRE_QUERY, 0);
			json_add_str(q, "what", "incidents");
			json_add_int(q, "limit", INTAKE_LOOKBACK);
			bot_call(in->b, q, in->call_ms, INTAKE_RETRIES, intake_latest_cb, ix);
			return;
		}
	}
	intake_submit(ix);
}

static void intake_alertmanager(struct httpd_x *x, void *arg)
{
	intake_hook(x, arg, "alertmanager", alert_parse_alertmanager);
}

static void intake_generic(struct httpd_x *x, void *arg)
{
	intake_hook(x, arg, "generic", alert_parse_generic);
}

/* Once the headers are in: a request without the token gets 401 before
 * any of its body is read. */
static void intake_early_alertmanager(struct httpd_x *x, void *arg)
{
	intake_auth(arg, x, "alertmanager");
}

static void intake_early_generic(struct httpd_x *x, void *arg)
{
	intake_auth(arg, x, "generic");
}

/* A label value escaped for the exposition format. */
static void intake_label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_appendf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_append(b, "\\n", 2);
		else
			buf_append(b, s, 1);
	}
}

/*
 * /metrics requests that arrive while a stats query is out wait for that
 * query's answer: one queue call serves any number of scrapes, so a burst
 * of scrapes costs one round trip, not one each (2,000 at once used to
 * queue 2,000 calls behind 2 RPC threads and most never got an answer).
 */
#define METRICS_MAX_WAITERS 1024

struct intake_metrics {
	struct intake *in;
	int64_t t0;
};

static void intake_metrics_cb(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct intake_metrics *m = arg;
	struct intake *in = m->in;
	struct buf o = {.max = 4 << 20};
	(void)err;
	const cJSON *stats = rc == 0 ? cJSON_GetObjectItemCaseSensitive(reply, "stats") : NULL;
	if (rc == 0)
		in->last_queue_ms = time_mono_ms() - m->t0;
	buf_appendf(&o,
	            "# HELP opsbot_queue_up Whether opsbot-queue answered the stats query.\n"
	            "# TYPE opsbot_queue_up gauge\nopsbot_queue_up %d\n",
	            stats ? 1 : 0);
	if (stats) {
		buf_appendf(&o,
		            "# HELP opsbot_queue_rpc_seconds Round trip of the last stats "
		            "query to the queue.\n# TYPE opsbot_queue_rpc_seconds gauge\n"
		            "opsbot_queue_rpc_seconds %.3f\n",
		            (double)in->last_queue_ms / 1000.0);
		const cJSON *inc = cJSON_GetObjectItemCaseSensitive(stats, "incidents"), *it;
		buf_appendf(&o, "# HELP opsbot_incidents Incidents by state.\n"
		                "# TYPE opsbot_incidents gauge\n");
		cJSON_ArrayForEach(it, inc)
		{
			buf_appendf(&o, "opsbot_incidents{state=\"");
			intake_label(&o, it->string);
			buf_appendf(&o, "\"} %lld\n", (long long)it->valuedouble);
		}
		const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(stats, "jobs"), *k, *s;
		buf_appendf(&o, "# HELP opsbot_jobs Jobs by kind and state.\n"
		                "# TYPE opsbot_jobs gauge\n");
		cJSON_ArrayForEach(k, jobs)
		{
			cJSON_ArrayForEach(s, k)
			{
				buf_appendf(&o, "opsbot_jobs{kind=\"");
				intake_label(&o, k->string);
				buf_appendf(&o, "\",state=\"");
				intake_label(&o, s->string);
				buf_appendf(&o, "\"} %lld\n", (long long)s->valuedouble);
			}
		}
		buf_appendf(&o,
		            "# HELP opsbot_job_leases Jobs held by a worker now.\n"
		            "# TYPE opsbot_job_leases gauge\nopsbot_job_leases %lld\n"
		            "# HELP opsbot_dead_letters Jobs that ran out of attempts.\n"
		            "# TYPE opsbot_dead_letters gauge\nopsbot_dead_letters %lld\n",
		            (long long)json_int(stats, "leases", 0),
		            (long long)json_int(stats, "dead_letters", 0));
	}
	buf_appendf(&o,
	            "# HELP opsbot_bot_event_seq Highest queue event this bot has dispatched.\n"
	            "# TYPE opsbot_bot_event_seq gauge\nopsbot_bot_event_seq %lld\n",
	            (long long)bot_seq_dispatched(b));
	buf_appendf(&o, "# HELP opsbot_hook_requests_total Webhook requests by hook and HTTP "
	                "status.\n# TYPE opsbot_hook_requests_total counter\n");
	for (size_t i = 0; i < in->ncount; i++)
		buf_appendf(&o, "opsbot_hook_requests_total{hook=\"%s\",code=\"%d\"} %llu\n",
		            in->count[i].hook, in->count[i].code, in->count[i].n);
	chatstats_write(&o);
	for (size_t i = 0; i < in->nwaiters; i++)
		httpd_reply(in->waiters[i], 200, "text/plain; version=0.0.4; charset=utf-8",
		            o.data ? o.data : "", o.len, NULL);
	in->nwaiters = 0;
	in->stats_inflight = 0;
	buf_free(&o);
	free(m);
}

static void intake_metrics(struct httpd_x *x, void *arg)
{
	struct intake *in = arg;
	if (in->nwaiters >= METRICS_MAX_WAITERS) {
		httpd_reply_str(x, 503, "text/plain", "too many scrapes at once; retry shortly\n");
		return;
	}
	if (!in->waiters)
		in->waiters = xcalloc(METRICS_MAX_WAITERS, sizeof *in->waiters);
	in->waiters[in->nwaiters++] = x;
	httpd_hold(x);
	if (in->stats_inflight)
		return; /* answered with the query already out */
	struct intake_metrics *m = xcalloc(1, sizeof *m);
	m->in = in;
	m->t0 = time_mono_ms();
	in->stats_inflight = 1;
	cJSON *req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "stats");
	bot_call(in->b, req, 2000, 0, intake_metrics_cb, m);
}

/* "A, B c" -> {"A", "B c"}: comma-separated, trimmed (a title may hold spaces). */
static char **intake_list(const char *text, size_t *n)
{
	char **out = NULL, *copy = xstrdup(text), *save = NULL;
	*n = 0;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		while (*w == ' ' || *w == '\t')
			w++;
		size_t len = strlen(w);
		while (len && (w[len - 1] == ' ' || w[len - 1] == '\t'))
			w[--len] = '\0';
		if (!len)
			continue;
		out = xrealloc(out, (*n + 1) * sizeof *out);
		out[(*n)++] = xstrdup(w);
	}
	free(copy);
	return out;
}

static int intake_init(struct bot *b, struct config *cfg, void **priv)
{
	struct intake *in = xcalloc(1, sizeof *in);
	in->b = b;
	str_copy(in->token_env, sizeof in->token_env,
	         config_str(cfg, "hooks", "token_env", "OPSBOT_HOOK_TOKEN"));
	in->token = config_secret(in->token_env);
	in->resolve = config_bool(cfg, "hooks", "resolve", 1);
	in->refire_new =
	    config_enum(cfg, "hooks", "refire", (const char *const[]){"note", "new", NULL}, 1);
	/* Alertmanager sends a whole group unless max_alerts is set: take it */
	in->am_max_body =
	    config_int(cfg, "hooks", "alertmanager_max_body", 32 << 20, 1024, 256 << 20);
	int64_t qt = config_duration_ms(cfg, "hooks", "queue_timeout", INTAKE_CALL_MS);
	if (qt < 100 || qt > 600000) {
		config_error(cfg, "hooks", "queue_timeout", "must be from 100ms to 10m");
		free(in);
		return -1;
	}
	in->call_ms = (int)qt;
	const char *ms = config_str(cfg, "hooks", "min_severity", "info");
	in->min_rank = severity_rank(ms);
	if (in->min_rank < 0) {
		config_error(cfg, "hooks", "min_severity", "must be one of %s, not %s",
		             severity_list(), ms);
		free(in);
		return -1;
	}
	in->ignore = intake_list(config_str(cfg, "hooks", "ignore", ""), &in->nignore);
	struct httpd_route_opts am = {.max_body = (size_t)in->am_max_body,
	                              .early = intake_early_alertmanager};
	struct httpd_route_opts gen = {.early = intake_early_generic};
	if (httpd_route_opts(b->httpd, "POST", "/hooks/alertmanager", intake_alertmanager, in,
	                     &am) < 0 ||
	    httpd_route_opts(b->httpd, "POST", "/hooks/generic", intake_generic, in, &gen) < 0 ||
	    httpd_route(b->httpd, "GET", "/metrics", intake_metrics, in) < 0) {
		config_error(cfg, "hooks", "token_env", "the HTTP route table is full");
		free(in);
		return -1;
	}
	if (!in->token)
		log_warn("event=hooks_without_token env=%s reason=\"webhooks will answer 401\"",
		         in->token_env);
	*priv = in;
	return 1;
}

static void intake_fini(struct bot *b, void *priv)
{
	struct intake *in = priv;
	(void)b;
	for (size_t i = 0; i < in->nignore; i++)
		free(in->ignore[i]);
	free(in->ignore);
	free(in->waiters);
	free(in);
}

const struct surface hooks_surface = {
    .name = "hooks",
    .init = intake_init,
    .on_event = NULL,
    .tick = NULL,
    .fini = intake_fini,
};
