/*
 * bot.c: opsbot-bot's core: non-blocking queue calls, the event subscriber,
 * ordered exactly-once dispatch of events to surfaces, and catch-up.
 *
 * Threads:
 *   loop      lws service; runs every callback; owns b->state
 *   NNG's     an asynchronous rpc call (rpc_start) ends in NNG's callback,
 *             which puts the call on `done`; nothing blocks the loop and
 *             no thread of ours sits between it and the queue
 *   sub       rpc_sub_recv into `events`
 * The lists are guarded by core->mu; the callbacks wake the loop with
 * lws_cancel_service and the loop drains the lists in bot_core_pump().
 * At most [bot] rpc_threads calls are in flight; later ones wait in
 * `waiting` and start in the order they were made.
 *
 * A finished call goes before events: bot_core_pump answers every call
 * that is done before it dispatches the next event, so a slash command's
 * ack never waits behind the posts of other incidents.
 *
 * Event dispatch (loop thread):
 *
 *   PUB event seq == dispatched+1  -> dispatch
 *   PUB event seq >  dispatched+1  -> a gap: catch up from `dispatched`
 *   PUB event seq <= dispatched    -> already seen; drop
 *   catch-up reply                 -> dispatch every item > dispatched, in
 *                                     order; a full page asks for the next
 *
 * Catch-up also runs at start and every [bot] catchup_interval, so a lost
 * last event (nothing after it to reveal the gap) still arrives.
 *
 * A surface seen for the first time (no seq in bot.db) starts after the
 * queue's last event (`query what:"stats"` -> last_seq), not at the
 * beginning of history: enabling Slack on a running install must not
 * repost every old incident.  Until that answer arrives nothing is
 * dispatched.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "bot.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "state.h"
#include "surface.h"
#include "timeutil.h"
#include "wire.h"

#define BOT_MAX_SURFACES 8
#define BOT_MAX_INFLIGHT 8 /* [bot] rpc_threads at most */
#define CATCHUP_PAGE     200

struct call {
	struct call *next;          /* waiting or done list */
	struct call *iprev, *inext; /* in flight (core->inflight) */
	struct rpc_async *a;
	struct bot *b;
	cJSON *req;
	int timeout_ms, retries;
	bot_call_cb cb;
	void *arg;
	int urgent; /* an ack waits on it: events are held meanwhile */
	int rc;
	cJSON *reply;
	char err[256];
};

struct ev {
	struct ev *next;
	cJSON *event;
	int64_t at_ms; /* monotonic: when it arrived */
};

/*
 * While a call someone is waiting on (a slash command's ack) is in flight,
 * events wait up to this long before they are dispatched: the reply then
 * finds the loop free instead of behind an incident's posts, which take
 * 1-3 ms of the loop each on a busy machine.  The hold ends as soon as
 * the call is answered; after it, or at the next tick, events go on.
 */
#define ACK_HOLD_MS 20

struct bot_core {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct call *done, *done_tail;
	struct call *waiting, *waiting_tail; /* not started: max_inflight reached */
	struct call *inflight;               /* started, not yet answered on the loop */
	int ninflight, max_inflight;
	int urgent; /* urgent calls made and not yet answered on the loop */
	struct ev *evs, *evs_tail;
	size_t nevs;
	int quit;
	pthread_t sub_thread;
	int sub_started;
	struct rpc_sub *sub;

	const struct surface *surf[BOT_MAX_SURFACES];
	void *priv[BOT_MAX_SURFACES];
	int64_t loaded[BOT_MAX_SURFACES]; /* stored seq at start */
	int fresh[BOT_MAX_SURFACES];      /* no stored seq: start at the queue's last */
	int need_origin;                  /* some surface is fresh; ask for last_seq */
	int origin_inflight;
	int nsurf;
	int wants_events;

	int64_t dispatched;
	int catchup_inflight;
	int catchup_again;
	int64_t next_catchup_ms;
	int64_t catchup_every_ms;
};

static void push_call(struct call **head, struct call **tail, struct call *c)
{
	c->next = NULL;
	if (*tail)
		(*tail)->next = c;
	else
		*head = c;
	*tail = c;
}

void bot_health_set(struct bot *b, const char *who, const char *what)
{
	int free_slot = -1;
	for (int i = 0; i < BOT_HEALTH_MAX; i++) {
		if (!strcmp(b->health[i].who, who)) {
			if (what && *what) {
				str_copy(b->health[i].what, sizeof b->health[i].what, what);
			} else {
				b->health[i].who[0] = '\0';
				b->health[i].what[0] = '\0';
			}
			return;
		}
		if (free_slot < 0 && !b->health[i].who[0])
			free_slot = i;
	}
	if (what && *what && free_slot >= 0) {
		str_copy(b->health[free_slot].who, sizeof b->health[free_slot].who, who);
		str_copy(b->health[free_slot].what, sizeof b->health[free_slot].what, what);
	}
}

int bot_health_text(const struct bot *b, char *out, size_t outlen)
{
	size_t len = 0;
	int n = 0;

	if (outlen)
		out[0] = '\0';
	for (int i = 0; i < BOT_HEALTH_MAX; i++) {
		if (!b->health[i].who[0])
			continue;
		n++;
		if (len < outlen) {
			int w = snprintf(out + len, outlen - len, "%s: %s\n", b->health[i].who,
			                 b->health[i].what);
			if (w > 0)
				len += (size_t)w;
		}
	}
	return n;
}

void bot_wake(struct bot *b)
{
	if (b->lws)
		lws_cancel_service(b->lws);
}

static void call_free(struct call *call)
{
	cJSON_Delete(call->req);
	cJSON_Delete(call->reply);
	free(call);
}

/* NNG's thread: the call ended; hand it to the loop. */
static void call_ended(struct rpc_async *a, void *arg)
{
	struct call *call = arg;
	struct bot *b = call->b;
	struct bot_core *c = b->core;

	pthread_mutex_lock(&c->mu);
	call->a = a;
	push_call(&c->done, &c->done_tail, call);
	pthread_mutex_unlock(&c->mu);
	bot_wake(b);
}

/* Put call in flight (c->mu held); call_send() then sends it, without the lock. */
static void call_inflight(struct bot_core *c, struct call *call)
{
	call->iprev = NULL;
	call->inext = c->inflight;
	if (c->inflight)
		c->inflight->iprev = call;
	c->inflight = call;
	c->ninflight++;
}

/* Send call (in flight, no lock held: NNG may call back at once). */
static void call_send(struct bot_core *c, struct call *call)
{
	struct bot *b = call->b;
	struct rpc_async *a =
	    rpc_start(b->rpc, call->req, call->timeout_ms, call->retries, call_ended, call);
	int running = rpc_async_running(a);
	pthread_mutex_lock(&c->mu);
	call->a = a;
	if (!running) /* not sent: its outcome is ready */
		push_call(&c->done, &c->done_tail, call);
	pthread_mutex_unlock(&c->mu);
	if (!running)
		bot_wake(b);
}

/*
 * Off the in-flight list (c->mu held); the waiting calls that may start now
 * move in flight and are returned (chained by next) for call_send().
 */
static struct call *call_finish(struct bot_core *c, struct call *call)
{
	struct call *start = NULL, **tail = &start;
	if (call->iprev)
		call->iprev->inext = call->inext;
	else
		c->inflight = call->inext;
	if (call->inext)
		call->inext->iprev = call->iprev;
	c->ninflight--;
	while (c->waiting && c->ninflight < c->max_inflight && !c->quit) {
		struct call *w = c->waiting;
		c->waiting = w->next;
		if (!c->waiting)
			c->waiting_tail = NULL;
		w->next = NULL;
		call_inflight(c, w);
		*tail = w;
		tail = &w->next;
	}
	return start;
}

/* Take the calls that are done (the loop). */
static struct call *take_done(struct bot_core *c)
{
	pthread_mutex_lock(&c->mu);
	struct call *calls = c->done;
	c->done = c->done_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	return calls;
}

/* Answer each call: its outcome, its callback, then it is freed. */
static void run_done(struct bot *b, struct call *calls)
{
	struct bot_core *c = b->core;
	while (calls) {
		struct call *n = calls->next;
		calls->rc =
		    rpc_async_result(calls->a, &calls->reply, calls->err, sizeof calls->err);
		rpc_async_free(calls->a); /* its callback has returned */
		calls->a = NULL;
		pthread_mutex_lock(&c->mu);
		c->urgent -= calls->urgent;
		struct call *start = call_finish(c, calls);
		pthread_mutex_unlock(&c->mu);
		for (struct call *sn, *st = start; st; st = sn) {
			sn = st->next;
			call_send(c, st);
		}
		if (calls->cb)
			calls->cb(b, calls->arg, calls->rc, calls->reply, calls->err);
		else if (calls->rc != 0)
			log_warn("event=queue_call_failed type=%s error=%s",
			         log_q(json_str(calls->req, "type")), log_q(calls->err));
		call_free(calls);
		calls = n;
	}
}

/* Events buffered between the subscriber and the loop; beyond this, drop
 * (catch-up fetches them again). */
#define MAX_BUFFERED_EVENTS 10000

static void *sub_main(void *arg)
{
	struct bot *b = arg;
	struct bot_core *c = b->core;

	for (;;) {
		cJSON *event = NULL;
		int quit;
		pthread_mutex_lock(&c->mu);
		quit = c->quit;
		pthread_mutex_unlock(&c->mu);
		if (quit)
			return NULL;
		if (rpc_sub_recv(c->sub, &event, 200) < 0 || !event)
			continue;
		struct ev *e = xcalloc(1, sizeof *e);
		e->event = event;
		e->at_ms = time_mono_ms();
		pthread_mutex_lock(&c->mu);
		if (c->nevs >= MAX_BUFFERED_EVENTS) {
			pthread_mutex_unlock(&c->mu);
			cJSON_Delete(event);
			free(e);
			continue;
		}
		if (c->evs_tail)
			c->evs_tail->next = e;
		else
			c->evs = e;
		c->evs_tail = e;
		c->nevs++;
		/* an ack is on its way: its answer wakes the loop (the tick at worst) */
		int wake = c->urgent == 0;
		pthread_mutex_unlock(&c->mu);
		if (wake)
			bot_wake(b);
	}
}

static void call_make(struct bot *b, cJSON *req, int timeout_ms, int retries, bot_call_cb cb,
                      void *arg, int urgent)
{
	struct bot_core *c = b->core;
	struct call *call = xcalloc(1, sizeof *call);

	call->b = b;
	call->req = req;
	call->timeout_ms = timeout_ms;
	call->retries = retries;
	call->cb = cb;
	call->arg = arg;
	call->urgent = urgent;
	pthread_mutex_lock(&c->mu);
	if (c->quit) {
		pthread_mutex_unlock(&c->mu);
		call_free(call);
		return;
	}
	c->urgent += urgent;
	int now = c->ninflight < c->max_inflight && !c->waiting;
	if (now) {
		call_inflight(c, call);
	} else {
		call->next = NULL;
		if (c->waiting_tail)
			c->waiting_tail->next = call;
		else
			c->waiting = call;
		c->waiting_tail = call;
	}
	pthread_mutex_unlock(&c->mu);
	if (now)
		call_send(c, call);
}

void bot_call(struct bot *b, cJSON *req, int timeout_ms, int retries, bot_call_cb cb, void *arg)
{
	call_make(b, req, timeout_ms, retries, cb, arg, 0);
}

void bot_call_ack(struct bot *b, cJSON *req, int timeout_ms, int retries, bot_call_cb cb, void *arg)
{
	call_make(b, req, timeout_ms, retries, cb, arg, 1);
}

void bot_surface_done(struct bot *b, const char *name, int64_t seq)
{
	if (state_seq_set(b->state, name, seq) < 0)
		log_warn("event=surface_seq_save_failed surface=%s seq=%lld", name, (long long)seq);
}

int64_t bot_seq_dispatched(const struct bot *b)
{
	return b->core ? b->core->dispatched : 0;
}

static void dispatch(struct bot *b, const cJSON *event, int64_t seq)
{
	struct bot_core *c = b->core;

	c->dispatched = seq;
	log_debug("event=dispatch seq=%lld name=%s incident=%lld", (long long)seq,
	          log_q(json_str(event, "name")), (long long)json_int(event, "incident", 0));
	for (int i = 0; i < c->nsurf; i++) {
		if (!c->surf[i]->on_event || seq <= c->loaded[i])
			continue;
		c->surf[i]->on_event(b, c->priv[i], event, seq);
	}
}

static void catchup_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct bot_core *c = b->core;
	const cJSON *items, *it;
	int n = 0;

	(void)arg;
	c->catchup_inflight = 0;
	if (rc != 0) {
		log_warn("event=catchup_failed since=%lld error=%s", (long long)c->dispatched,
		         log_q(err));
		c->next_catchup_ms = time_mono_ms() + 1000;
		return;
	}
	items = cJSON_GetObjectItemCaseSensitive(reply, "items");
	cJSON_ArrayForEach(it, items)
	{
		int64_t seq = json_int(it, "seq", -1);
		n++;
		if (seq <= c->dispatched)
			continue;
		dispatch(b, it, seq);
	}
	if (n > 0)
		log_info("event=catchup items=%d upto=%lld", n, (long long)c->dispatched);
	if (n >= CATCHUP_PAGE)
		c->catchup_again = 1;
}

static void recompute_start(struct bot_core *c)
{
	int64_t min = INT64_MAX;
	for (int i = 0; i < c->nsurf; i++)
		if (c->surf[i]->on_event && c->loaded[i] < min)
			min = c->loaded[i];
	c->dispatched = min == INT64_MAX ? 0 : min;
}

static void origin_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct bot_core *c = b->core;
	int64_t last;

	(void)arg;
	c->origin_inflight = 0;
	if (rc != 0) {
		log_warn("event=queue_stats_failed error=%s", log_q(err));
		c->next_catchup_ms = time_mono_ms() + 1000;
		return;
	}
	last = json_int(cJSON_GetObjectItemCaseSensitive(reply, "stats"), "last_seq", 0);
	for (int i = 0; i < c->nsurf; i++) {
		if (!c->fresh[i])
			continue;
		c->loaded[i] = last;
		c->fresh[i] = 0;
		state_seq_set(b->state, c->surf[i]->name, last);
		log_info("event=surface_first_start surface=%s from_seq=%lld", c->surf[i]->name,
		         (long long)last);
	}
	c->need_origin = 0;
	recompute_start(c);
	c->next_catchup_ms = 0;
}

static void catchup_start(struct bot *b)
{
	struct bot_core *c = b->core;
	cJSON *req;

	if (c->need_origin) {
		if (!c->origin_inflight && time_mono_ms() >= c->next_catchup_ms) {
			c->origin_inflight = 1;
			req = wire_new(WIRE_QUERY, 0);
			json_add_str(req, "what", "stats");
			bot_call(b, req, 3000, 1, origin_done, NULL);
		}
		return;
	}
	if (c->catchup_inflight || !c->wants_events)
		return;
	c->catchup_inflight = 1;
	c->catchup_again = 0;
	c->next_catchup_ms = time_mono_ms() + c->catchup_every_ms;
	req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "events");
	json_add_int(req, "since", c->dispatched);
	json_add_int(req, "limit", CATCHUP_PAGE);
	bot_call(b, req, 3000, 2, catchup_done, NULL);
}

static void take_event(struct bot *b, cJSON *event)
{
	struct bot_core *c = b->core;
	int64_t seq = json_int(event, "seq", -1);

	if (seq < 0) {
		log_warn("event=bad_event reason=%s", log_q("no seq"));
		return;
	}
	if (!c->wants_events || c->need_origin || seq <= c->dispatched)
		return;
	if (seq == c->dispatched + 1 && !c->catchup_inflight) {
		dispatch(b, event, seq);
		return;
	}
	/* a gap (or a catch-up running that will return it) */
	if (c->catchup_inflight)
		c->catchup_again = 1;
	else
		catchup_start(b);
}

void bot_core_pump(struct bot *b)
{
	struct bot_core *c = b->core;
	struct ev *evs;

	if (!c)
		return;
	run_done(b, take_done(c));
	pthread_mutex_lock(&c->mu);
	evs = c->evs;
	/* an ack is on its way: hold the events a little (ACK_HOLD_MS) */
	if (evs && c->urgent > 0 && time_mono_ms() - evs->at_ms < ACK_HOLD_MS) {
		evs = NULL;
	} else {
		c->evs = c->evs_tail = NULL;
		c->nevs = 0;
	}
	pthread_mutex_unlock(&c->mu);

	while (evs) {
		struct ev *n = evs->next;
		take_event(b, evs->event);
		cJSON_Delete(evs->event);
		free(evs);
		evs = n;
		/* a call answered meanwhile (a command's ack) goes first */
		run_done(b, take_done(c));
	}
	if (!c->catchup_inflight &&
	    (c->catchup_again || c->need_origin || time_mono_ms() >= c->next_catchup_ms))
		catchup_start(b);
}

int bot_core_start(struct bot *b, const struct surface *const *surfaces, void *const *privs,
                   int nsurfaces, char *err, size_t errlen)
{
	struct bot_core *c = xcalloc(1, sizeof *c);
	const char *events_url;

	b->core = c;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (nsurfaces > BOT_MAX_SURFACES) {
		snprintf(err, errlen, "too many surfaces (%d)", nsurfaces);
		return -1;
	}
	c->nsurf = nsurfaces;
	for (int i = 0; i < nsurfaces; i++) {
		int rc;
		c->surf[i] = surfaces[i];
		c->priv[i] = privs[i];
		rc = state_seq_get(b->state, surfaces[i]->name, &c->loaded[i]);
		if (rc < 0) {
			snprintf(err, errlen, "cannot read %s state", surfaces[i]->name);
			return -1;
		}
		if (surfaces[i]->on_event) {
			c->wants_events = 1;
			if (rc == 0)
				c->fresh[i] = c->need_origin = 1;
		}
	}
	recompute_start(c);
	c->catchup_every_ms = b->catchup_ms > 0 ? b->catchup_ms : 5000;
	c->max_inflight =
	    b->rpc_threads > 0 && b->rpc_threads <= BOT_MAX_INFLIGHT ? b->rpc_threads : 2;
	events_url = b->events_url;

	if (rpc_open(&b->rpc, b->queue_url, err, errlen) < 0)
		return -1;
	if (rpc_sub_open(&c->sub, events_url, err, errlen) < 0)
		return -1;
	if (pthread_create(&c->sub_thread, NULL, sub_main, b) != 0) {
		snprintf(err, errlen, "cannot start subscriber thread");
		return -1;
	}
	c->sub_started = 1;
	log_info("event=core_started queue=%s events=%s since=%lld", log_q(b->queue_url),
	         log_q(events_url), (long long)c->dispatched);
	c->next_catchup_ms = 0; /* catch up at once */
	return 0;
}

void bot_core_stop(struct bot *b)
{
	struct bot_core *c = b->core;

	if (!c)
		return;
	struct call *inflight, *waiting;
	pthread_mutex_lock(&c->mu);
	c->quit = 1;
	pthread_cond_broadcast(&c->cv);
	inflight = c->inflight;
	waiting = c->waiting;
	c->inflight = c->waiting = c->waiting_tail = c->done = c->done_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	/* calls not answered yet are dropped; every done call is in flight too */
	for (struct call *n, *k = inflight; k; k = n) {
		n = k->inext;
		rpc_async_free(k->a); /* stops it and waits for its callback */
		call_free(k);
	}
	for (struct call *n, *k = waiting; k; k = n) {
		n = k->next;
		call_free(k);
	}
	if (c->sub_started)
		pthread_join(c->sub_thread, NULL);
	for (struct ev *n, *e = c->evs; e; e = n) {
		n = e->next;
		cJSON_Delete(e->event);
		free(e);
	}
	if (c->sub)
		rpc_sub_close(c->sub);
	if (b->rpc)
		rpc_close(b->rpc);
	b->rpc = NULL;
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	b->core = NULL;
}
