/*
 * discord_post.c: the Discord post lane: queue events become channel
 * messages.
 *
 * Senders: the lane has [discord] senders threads and each event is a job
 * keyed by its incident's channel (lane_push_keyed), so a channel's events
 * run one at a time in seq order while other channels go on: a channel
 * held by its rate limit bucket or a 429 (discord_rest.c waits it out on
 * that job's thread) never delays another channel.  An incident's events
 * all take the key its incident.opened took, found among the jobs still
 * waiting or running, else from its thread in bot.db.  The seq reported
 * done is the highest one with no earlier event still waiting or running,
 * so a restart replays every event not yet finished (posted keys make the
 * replay post nothing twice).
 *
 * Each incident is one message in its channel (an embed that follows its
 * state, bot/step.h step_parent) and a thread on it (thread id = message
 * id) with one message per later step (step_event).  The surface keeps a
 * snapshot of each incident in bot.db (kv "inc:<id>"), folds every event
 * into it (step_snapshot_apply) and redraws the parent, the plan message
 * (tally, who approved; buttons off once decided), or an answered "may or
 * may not have run" question (ask_msg; answer shown, buttons off), when it
 * changed.
 *
 * Exactly once, as the reader sees it (the same rule as slack_web.c,
 * invariant 4): before a keyed post its intent (kv "intent:<key>": channel,
 * time) is in bot.db.  A crash can land after Discord stored the post and
 * before bot.db recorded its id; so a keyed post that has an intent but no
 * posted row first looks for itself among the channel's recent messages (by
 * its nonce, or by the same content from this bot) and records the id it
 * finds instead of posting again.  Discord's own enforce_nonce covers only a
 * few minutes; this covers a restart after any outage.  When the look-up is
 * refused it posts: a rare double beats a lost step.
 *
 * Invariants:
 *  1. Only the post lane's threads use d->post_state (SQLite serializes
 *     the calls on one handle); one incident's events never run at once.
 *  2. A key in the posted table is never posted again.
 *  3. Every event ends, posted or not, and a DONE_SEQ for the loop carries
 *     the highest seq with every event up to it ended (never more).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "bot.h"
#include "route.h"
#include "state.h"
#include "step.h"
#include "timeutil.h"
#include "wire.h"

#define LOOKUP_LIMIT 50 /* recent messages searched for a lost post */

/* An event pushed and not yet ended (invariant 3), in push order. */
struct post_pend {
	int64_t seq, incident;
	char key[64];
	int done;
	struct post_pend *next;
};

struct post_order {
	pthread_mutex_t mu;
	struct post_pend *head, *tail;
	int64_t pushed;   /* the highest seq pushed */
	int64_t reported; /* the highest seq handed to the loop */
};

struct post_job {
	struct discord *d;
	cJSON *event;
	int64_t seq;
	struct post_pend *pend;
};

static void post_job_free(void *arg)
{
	struct post_job *j = arg;
	cJSON_Delete(j->event);
	free(j);
}

void discord_post_init(struct discord *d)
{
	d->order = xcalloc(1, sizeof *d->order);
	pthread_mutex_init(&d->order->mu, NULL);
}

/* After the lane stopped: whatever did not end is replayed after a restart. */
void discord_post_fini(struct discord *d)
{
	if (!d->order)
		return;
	for (struct post_pend *p = d->order->head, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	pthread_mutex_destroy(&d->order->mu);
	free(d->order);
	d->order = NULL;
}

/* The event of p ended: the seq the loop may store now, or 0 (none new). */
static int64_t order_end(struct post_order *o, struct post_pend *p)
{
	int64_t safe = 0;
	pthread_mutex_lock(&o->mu);
	p->done = 1;
	while (o->head && o->head->done) {
		struct post_pend *h = o->head;
		o->head = h->next;
		if (!o->head)
			o->tail = NULL;
		free(h);
	}
	int64_t upto = o->head ? o->head->seq - 1 : o->pushed;
	if (upto > o->reported) {
		o->reported = upto;
		safe = upto;
	}
	pthread_mutex_unlock(&o->mu);
	return safe;
}

/* ------------------------------------------------------------- snapshot */

static cJSON *snapshot_load(struct discord *d, int64_t id)
{
	char key[48];
	cJSON *o;
	snprintf(key, sizeof key, "inc:%lld", (long long)id);
	return state_kv_get_json(d->post_state, SURFACE, key, &o) == 1 ? o : NULL;
}

static void snapshot_save(struct discord *d, int64_t id, const cJSON *snap)
{
	char key[48];
	snprintf(key, sizeof key, "inc:%lld", (long long)id);
	if (state_kv_put_json(d->post_state, SURFACE, key, snap) < 0)
		log_warn("event=discord_snapshot_save_failed incident=%lld", (long long)id);
}

/* An incident shown before snapshots were kept: its record from the queue. */
static cJSON *snapshot_from_queue(struct discord *d, int64_t id)
{
	cJSON *req = wire_new(WIRE_QUERY, id), *reply = NULL, *out = NULL;
	char err[256];
	json_add_str(req, "what", "incident");
	if (d->b->rpc &&
	    rpc_call(d->b->rpc, req, &reply, d->queue_timeout_ms, 1, err, sizeof err) == 0 &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(reply, "incident")))
		out = json_dup(cJSON_GetObjectItemCaseSensitive(reply, "incident"));
	cJSON_Delete(reply);
	cJSON_Delete(req);
	if (!out) {
		out = json_new_object();
		json_add_int(out, "id", id);
	}
	return out;
}

/* --------------------------------------------------------- exactly once */

static void intent_key(const char *key, char *out, size_t len)
{
	snprintf(out, len, "intent:%s", key);
}

/*
 * Before a keyed post: if an earlier run meant to post it (intent) and may
 * have died after Discord stored it, look for it.  Then (re)write the
 * intent.  1 and the id in mid when it is there, 0 to post.
 */
static int intent_check(struct discord *d, struct http_client *hc, const char *key,
                        const char *channel, const cJSON *msg, char *mid, size_t midlen)
{
	char ikey[128], *val = NULL, err[64], path[200];
	cJSON *in = NULL, *rec, *list = NULL;
	const cJSON *m;
	long status = 0;
	int found = 0;

	intent_key(key, ikey, sizeof ikey);
	if (state_kv_get(d->post_state, SURFACE, ikey, &val) == 1 &&
	    json_parse_object(val, strlen(val), &in, err, sizeof err) == 0 &&
	    json_str(in, "channel")) {
		snprintf(path, sizeof path, "/channels/%s/messages?limit=%d",
		         json_str(in, "channel"), LOOKUP_LIMIT);
		if (discord_call(d, hc, "GET", path, NULL, &status, &list) == 0 && status == 200) {
			cJSON_ArrayForEach(m, list)
			{
				if (discord_same_message(m, msg,
				                         json_int(in, "at_ms", 0) - 60000)) {
					str_copy(mid, midlen, json_str(m, "id"));
					found = 1;
					break;
				}
			}
			if (found)
				log_info("event=discord_post_recovered key=%s message=%s",
				         log_q(key), mid);
			else
				log_info("event=discord_post_not_found key=%s action=post",
				         log_q(key));
		} else {
			log_warn("event=discord_post_lookup_failed key=%s status=%ld action=post",
			         log_q(key), status);
		}
		cJSON_Delete(list);
	}
	free(val);
	cJSON_Delete(in);
	if (found)
		return 1;
	rec = json_new_object();
	json_add_str(rec, "channel", channel);
	json_add_int(rec, "at_ms", time_now_ms());
	val = json_print(rec);
	cJSON_Delete(rec);
	if (state_kv_put(d->post_state, SURFACE, ikey, val) < 0)
		log_warn("event=discord_intent_save_failed key=%s", log_q(key));
	free(val);
	return 0;
}

/*
 * Post msg to channel once for key (nonce = a short form of key).  0 and the
 * message id in mid (posted now, before, or found after a crash), -1 when
 * Discord refused or never answered.
 */
static int post_once(struct discord *d, struct http_client *hc, const char *key, const char *nonce,
                     const char *channel, cJSON *msg, char *mid, size_t midlen)
{
	char path[160];
	long status = 0;
	cJSON *m = NULL;

	if (state_posted_get(d->post_state, SURFACE, key, mid, midlen) == 1)
		return 0;
	json_add_str(msg, "nonce", nonce);
	json_add_bool(msg, "enforce_nonce", 1);
	if (intent_check(d, hc, key, channel, msg, mid, midlen) == 1) {
		state_posted_put(d->post_state, SURFACE, key, mid);
		return 0;
	}
	snprintf(path, sizeof path, "/channels/%s/messages", channel);
	if (discord_call(d, hc, "POST", path, msg, &status, &m) < 0 || status != 200 ||
	    !json_str(m, "id")) {
		if (status)
			discord_log_refused(key, status, m);
		cJSON_Delete(m);
		return -1;
	}
	str_copy(mid, midlen, json_str(m, "id"));
	cJSON_Delete(m);
	state_posted_put(d->post_state, SURFACE, key, mid);
	return 0;
}

/* ------------------------------------------------------------- messages */

/* The channel an incident started in, else its route's (an id), or NULL. */
static const char *own_channel(const struct discord *d, const cJSON *data)
{
	const cJSON *sf = cJSON_GetObjectItemCaseSensitive(data, "surface");
	const char *kind = json_str(sf, "kind");
	const char *channel = kind && !strcmp(kind, SURFACE) ? json_str(sf, "channel") : NULL;

	if (channel && *channel)
		return channel;
	return route_pick(d->routes, json_str(data, "service"), json_str(data, "severity"));
}

/* The channel a new incident goes to, "" when not Discord's. */
static void incident_channel(struct discord *d, int64_t id, const cJSON *data, char *out,
                             size_t len)
{
	const char *channel = own_channel(d, data);

	out[0] = '\0';
	if (channel && *channel) {
		str_copy(out, len, channel);
		return;
	}
	if (!d->channel_ref[0])
		return;
	/* A channel name resolves once GUILD_CREATE (or the boot lookup) came;
	 * wait for it rather than drop the incident. */
	int64_t until = time_mono_ms() + 30000;
	for (;;) {
		pthread_mutex_lock(&d->mu);
		str_copy(out, len, d->default_channel);
		pthread_mutex_unlock(&d->mu);
		if (out[0] || d->stop || time_mono_ms() > until)
			break;
		time_sleep_ms(100, &d->stop);
	}
	if (!out[0])
		log_error("event=discord_channel_unknown channel=%s incident=%lld "
		          "action=\"not posted; check [discord] channel\"",
		          log_q(d->channel_ref), (long long)id);
}

/* Post the parent message and its thread for a new incident: 0 (thread id
 * in thread), 1 not for Discord, -1 failed. */
static int open_incident(struct discord *d, struct http_client *hc, int64_t id, const cJSON *snap,
                         char *thread, size_t tlen)
{
	char ch[64], parent[64], key[48], nonce[26], mid[64], path[200];
	long status = 0;
	cJSON *t = NULL;

	if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, parent, sizeof parent) ==
	    1) {
		str_copy(thread, tlen, parent); /* thread id = parent message id */
		return 0;
	}
	incident_channel(d, id, snap, ch, sizeof ch);
	if (!ch[0])
		return 1;
	cJSON *ctx = step_parent(id, snap, 0, DISCORD_TITLE_MAX, DISCORD_SUMMARY_MAX);
	cJSON *msg = discord_render(d->tpl, "incident", ctx);
	cJSON_Delete(ctx);
	if (!msg)
		return -1;
	snprintf(key, sizeof key, "inc:%lld:parent", (long long)id);
	snprintf(nonce, sizeof nonce, "obi%lld", (long long)id);
	int rc = post_once(d, hc, key, nonce, ch, msg, mid, sizeof mid);
	cJSON_Delete(msg);
	if (rc < 0)
		return -1;
	cJSON *tb = json_new_object();
	char *title =
	    step_clamp(json_str(snap, "title") ? json_str(snap, "title") : "incident", 80);
	char tname[128];
	snprintf(tname, sizeof tname, "#%lld %s", (long long)id, title);
	free(title);
	json_add_str(tb, "name", tname);
	json_add_int(tb, "auto_archive_duration", 1440);
	snprintf(path, sizeof path, "/channels/%s/messages/%s/threads", ch, mid);
	rc = discord_call(d, hc, "POST", path, tb, &status, &t);
	cJSON_Delete(tb);
	/* 160004: the thread exists already (a retry after a crash); its id is mid. */
	if (rc < 0 || (status != 201 && status != 200 && json_int(t, "code", 0) != 160004)) {
		if (rc == 0)
			discord_log_refused("incident_thread", status, t);
		cJSON_Delete(t);
		return -1;
	}
	cJSON_Delete(t);
	if (state_thread_put(d->post_state, SURFACE, id, ch, mid) < 0)
		log_warn("event=discord_state_failed incident=%lld", (long long)id);
	str_copy(thread, tlen, mid);
	log_info("event=discord_incident_posted incident=%lld channel=%s message=%s", (long long)id,
	         ch, mid);
	return 0;
}

static void patch(struct discord *d, struct http_client *hc, const char *channel, const char *mid,
                  const cJSON *msg, const char *what)
{
	char path[200];
	long status = 0;
	cJSON *out = NULL;
	snprintf(path, sizeof path, "/channels/%s/messages/%s", channel, mid);
	if (discord_call(d, hc, "PATCH", path, msg, &status, &out) == 0 && status != 200)
		discord_log_refused(what, status, out);
	cJSON_Delete(out);
}

static void redraw_parent(struct discord *d, struct http_client *hc, int64_t id, const cJSON *snap,
                          int64_t seq)
{
	char ch[64], parent[64];
	if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, parent, sizeof parent) != 1)
		return;
	cJSON *ctx = step_parent(id, snap, seq, DISCORD_TITLE_MAX, DISCORD_SUMMARY_MAX);
	cJSON *msg = discord_render(d->tpl, "incident", ctx);
	cJSON_Delete(ctx);
	if (msg)
		patch(d, hc, ch, parent, msg, "incident_update");
	cJSON_Delete(msg);
}

/* The plan message again: tally and who approved; no buttons once decided. */
static void redraw_plan(struct discord *d, struct http_client *hc, int64_t id, const cJSON *snap,
                        const char *thread)
{
	const char *mid = json_str(snap, "plan_msg");
	if (!mid || !thread[0])
		return;
	cJSON *ctx = step_plan(id, cJSON_GetObjectItemCaseSensitive(snap, "plan"),
	                       cJSON_GetObjectItemCaseSensitive(snap, "approvals"),
	                       json_bool(snap, "plan_open", 0), DISCORD_TEXT_MAX);
	cJSON *msg = discord_render(d->tpl, "step", ctx);
	cJSON_Delete(ctx);
	if (msg)
		patch(d, hc, thread, mid, msg, "plan_update");
	cJSON_Delete(msg);
}

/* The answered "may or may not have run" question again: its answer, no buttons. */
static void redraw_ask(struct discord *d, struct http_client *hc, int64_t id, const cJSON *snap,
                       const char *thread)
{
	const char *mid = json_str(snap, "ask_msg");
	int64_t ask_seq = 0;
	if (!mid || !thread[0])
		return;
	cJSON *ctx = step_ask(id, snap, DISCORD_TEXT_MAX, &ask_seq);
	cJSON *msg = ctx ? discord_render(d->tpl, "step", ctx) : NULL;
	cJSON_Delete(ctx);
	if (msg)
		patch(d, hc, thread, mid, msg, "ask_update");
	cJSON_Delete(msg);
}

static void post_job(void *arg, struct http_client *hc)
{
	struct post_job *j = arg;
	struct discord *d = j->d;
	const char *name = json_str(j->event, "name");
	int64_t id = json_int(j->event, "incident", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j->event, "data");
	char key[48], nonce[26], thread[64] = "", ch[64], mid[64];
	cJSON *snap = NULL, *step = NULL;

	snprintf(key, sizeof key, "ev:%lld", (long long)j->seq);
	/* A replay after a restart runs through again: posts already made are
	 * found in bot.db (post_once), the snapshot fold is idempotent. */
	if (!name || id <= 0)
		goto done;
	if (!strcmp(name, WIRE_EV_OPENED)) {
		snap = cJSON_IsObject(data) ? json_dup(data) : json_new_object();
		if (!json_str(snap, "state")) {
			cJSON_DeleteItemFromObjectCaseSensitive(snap, "state");
			json_add_str(snap, "state", WIRE_ST_OPEN);
		}
		int rc = open_incident(d, hc, id, snap, thread, sizeof thread);
		if (rc != 0) {
			if (rc < 0)
				log_error("event=discord_post_failed incident=%lld seq=%lld "
				          "what=incident",
				          (long long)id, (long long)j->seq);
			goto done;
		}
		snapshot_save(d, id, snap);
	} else {
		if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, thread,
		                     sizeof thread) != 1)
			goto done; /* an incident this surface does not show */
		snap = snapshot_load(d, id);
		if (!snap)
			snap = snapshot_from_queue(d, id);
	}
	step = step_event(j->event, snap, DISCORD_TEXT_MAX);
	cJSON *msg = step ? discord_render(d->tpl, "step", step) : NULL;
	if (msg) {
		snprintf(nonce, sizeof nonce, "obe%lld", (long long)j->seq);
		if (post_once(d, hc, key, nonce, thread, msg, mid, sizeof mid) < 0)
			log_error("event=discord_post_failed incident=%lld seq=%lld", (long long)id,
			          (long long)j->seq);
		else if (!strcmp(name, WIRE_EV_PLAN)) {
			cJSON_DeleteItemFromObjectCaseSensitive(snap, "plan_msg");
			json_add_str(snap, "plan_msg", mid);
		} else if (!strcmp(name, WIRE_EV_ACTION_UNKNOWN)) {
			/* its buttons go once it is answered (STEP_REDRAW_ASK) */
			cJSON_DeleteItemFromObjectCaseSensitive(snap, "ask_msg");
			json_add_str(snap, "ask_msg", mid);
		}
		cJSON_Delete(msg);
	}
	int redraw = step_snapshot_apply(snap, j->event);
	snapshot_save(d, id, snap);
	if (redraw & STEP_REDRAW_PLAN)
		redraw_plan(d, hc, id, snap, thread);
	if (redraw & STEP_REDRAW_PARENT)
		redraw_parent(d, hc, id, snap, j->seq);
	if (redraw & STEP_REDRAW_ASK)
		redraw_ask(d, hc, id, snap, thread);
done:;
	cJSON_Delete(step);
	cJSON_Delete(snap);
	int64_t safe = order_end(d->order, j->pend);
	if (safe > 0) {
		struct discord_done *x = xcalloc(1, sizeof *x);
		x->kind = DONE_SEQ;
		x->seq = safe;
		discord_done_push(d, x);
	}
	post_job_free(j);
}

/*
 * The sender key of an event (on the loop): its incident's channel.  An
 * opened incident's is where it will go (before a channel name resolves,
 * the name); a later event takes the key of its incident's event still
 * waiting or running, else its thread's channel, else "-" (nothing to post).
 */
static void event_key(struct discord *d, const cJSON *event, char *key, size_t len)
{
	const char *name = json_str(event, "name");
	int64_t id = json_int(event, "incident", 0);
	char parent[64];

	if (name && !strcmp(name, WIRE_EV_OPENED)) {
		const char *ch = own_channel(d, cJSON_GetObjectItemCaseSensitive(event, "data"));
		str_copy(key, len, ch && *ch ? ch : d->channel_ref[0] ? d->channel_ref : "-");
		return;
	}
	key[0] = '\0';
	pthread_mutex_lock(&d->order->mu);
	for (struct post_pend *p = d->order->head; p && id > 0; p = p->next)
		if (p->incident == id && !p->done)
			str_copy(key, len, p->key); /* the latest one's */
	pthread_mutex_unlock(&d->order->mu);
	if (!key[0] && (id <= 0 || state_thread_get(d->b->state, SURFACE, id, key, len, parent,
	                                            sizeof parent) != 1))
		str_copy(key, len, "-");
}

void discord_post_event(struct discord *d, const cJSON *event, int64_t seq)
{
	struct post_job *j = xcalloc(1, sizeof *j);
	struct post_pend *p = xcalloc(1, sizeof *p);
	j->d = d;
	j->event = json_dup(event);
	j->seq = seq;
	j->pend = p;
	p->seq = seq;
	p->incident = json_int(event, "incident", 0);
	event_key(d, event, p->key, sizeof p->key);
	pthread_mutex_lock(&d->order->mu);
	if (d->order->tail)
		d->order->tail->next = p;
	else
		d->order->head = p;
	d->order->tail = p;
	if (seq > d->order->pushed)
		d->order->pushed = seq;
	pthread_mutex_unlock(&d->order->mu);
	lane_push_keyed(d->post, p->key, post_job, post_job_free, j);
}
