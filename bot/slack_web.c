/*
 * slack_web.c: the Slack Web API outbox: an ordered lane (lane.h, one
 * thread) that runs ops in the order they were queued, over libcurl
 * (lib/http.h).
 *
 * Order is the point: an incident's parent must exist before its replies,
 * and replies must appear in event order, so ops are never reordered or run
 * in parallel.  Rate limits are kept before a call (token buckets per method
 * after Slack's tiers, and per channel for chat.postMessage, about 1/s) and
 * after one (HTTP 429: the method and channel wait Retry-After, then the
 * same op is tried again).  5xx and transport errors back off exponentially
 * (capped) and retry the same op without end: giving up would lose a chat
 * update.  ok:false answers are final for the op, except invalid_blocks,
 * which is retried once as plain text so the thread still gets the news.
 *
 * Invariants:
 *  1. done_seq only rises, and only when a DONE op runs, i.e. after every op
 *     queued before it finished.
 *  2. A keyed op whose key is in bot.db is not posted again.
 *  3. The sender thread alone uses w->st and w->http.
 *  4. Exactly once, as the reader sees it: before a keyed post, its intent
 *     (kv "intent:<key>": channel, thread, time) is in bot.db, and the post
 *     carries message metadata {event_type "opsbot_post", event_payload
 *     {key, seq, incident}}.  A crash can land after Slack stored the post
 *     and before bot.db recorded its ts; so a keyed op that has an intent
 *     but no posted row first looks for its marker in the thread
 *     (conversations.replies) or, for a parent, the channel
 *     (conversations.history) and records the ts it finds instead of
 *     posting again.  When the look-up itself is refused (e.g. a missing
 *     history scope) it posts: a rare double beats a lost step.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "chatstats.h"
#include "defaults.h"
#include "http.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "slack.h"
#include "state.h"
#include "timeutil.h"

#define MAX_BUCKETS    128
#define WEB_TIMEOUT_MS DEF_CHAT_API_TIMEOUT_MS

struct bucket {
	char key[80];
	double tokens, rate, burst; /* rate per ms */
	int64_t at_ms;
	int64_t blocked_until_ms;
	int64_t used_ms; /* for replacement */
};

struct slack_web {
	struct slack_web_cfg cfg;
	char *api_url, *token, *state_path;
	struct bot *b;
	struct lane *lane;
	pthread_mutex_t mu; /* done_seq */
	int64_t done_seq;
	struct state *st;         /* the lane thread's own handle */
	struct http_client *http; /* the lane thread's client, set per op */
	struct bucket buckets[MAX_BUCKETS];
	int nb;
};

/* Slack's per-minute tiers for the methods the outbox uses. */
static double method_per_minute(const char *m)
{
	if (!strcmp(m, "chat.postMessage"))
		return 600; /* "several hundred per minute" per workspace */
	if (!strcmp(m, "chat.update") || !strcmp(m, "reactions.add") ||
	    !strcmp(m, "conversations.info") || !strcmp(m, "conversations.replies") ||
	    !strcmp(m, "conversations.history"))
		return 50; /* tier 3 */
	return 100;        /* tier 4: postEphemeral, files.* */
}

struct slack_op *slack_op_new(enum slack_op_kind kind, int64_t incident, int64_t seq)
{
	struct slack_op *op = xcalloc(1, sizeof *op);
	op->kind = kind;
	op->incident = incident;
	op->seq = seq;
	return op;
}

static void op_free(void *arg)
{
	struct slack_op *op = arg;
	free(op->text);
	free(op->blocks);
	free(op);
}

static struct bucket *bucket_get(struct slack_web *w, const char *key, double per_s, double burst)
{
	struct bucket *b = NULL, *oldest = &w->buckets[0];
	int64_t now = time_mono_ms();

	for (int i = 0; i < w->nb; i++) {
		if (!strcmp(w->buckets[i].key, key)) {
			b = &w->buckets[i];
			break;
		}
		if (w->buckets[i].used_ms < oldest->used_ms)
			oldest = &w->buckets[i];
	}
	if (!b) {
		b = w->nb < MAX_BUCKETS ? &w->buckets[w->nb++] : oldest;
		memset(b, 0, sizeof *b);
		str_copy(b->key, sizeof b->key, key);
		b->tokens = burst;
		b->at_ms = now;
	}
	b->rate = per_s / 1000.0;
	b->burst = burst;
	b->used_ms = now;
	return b;
}

/* ms to wait before b allows one call (0: take it now). */
static int64_t bucket_wait(struct bucket *b, int take)
{
	int64_t now = time_mono_ms();

	if (b->blocked_until_ms > now)
		return b->blocked_until_ms - now;
	if (b->rate <= 0)
		return 0;
	b->tokens += (double)(now - b->at_ms) * b->rate;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->at_ms = now;
	if (b->tokens >= 1) {
		if (take)
			b->tokens -= 1;
		return 0;
	}
	return (int64_t)((1 - b->tokens) / b->rate) + 1;
}

/* Sleep up to ms unless asked to quit; returns nonzero when quitting. */
static int nap(struct slack_web *w, int64_t ms)
{
	return lane_nap(w->lane, ms);
}

static int do_call(struct http_client *http, const char *api_url, const char *token,
                   const char *method, const cJSON *args, cJSON **reply, long *status,
                   int64_t *retry_after_ms, char *err, size_t errlen)
{
	char url[512], auth[600];
	const char *hdrs[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
	char *body = json_print(args);
	struct http_request req = {
	    .method = "POST",
	    .url = url,
	    .headers = hdrs,
	    .body = body,
	    .body_len = strlen(body),
	    .timeout_ms = WEB_TIMEOUT_MS,
	    .max_response = 1 << 20,
	};
	struct http_response resp = {0};
	int rc;

	*reply = NULL;
	*status = 0;
	*retry_after_ms = -1;
	snprintf(url, sizeof url, "%s%s", api_url, method);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	rc = http_do(http, &req, &resp, err, errlen);
	free(body);
	chatstats_count("slack", method, rc < 0 ? 0 : resp.status);
	if (rc < 0)
		goto out;
	*status = resp.status;
	if (resp.status == 429) {
		*retry_after_ms = http_retry_after_ms(&resp);
		snprintf(err, errlen, "HTTP 429");
		rc = -1;
		goto out;
	}
	if (resp.status != 200) {
		snprintf(err, errlen, "HTTP %ld", resp.status);
		rc = -1;
		goto out;
	}
	if (json_parse_object(resp.body.data, resp.body.len, reply, err, errlen) < 0) {
		rc = -1;
		goto out;
	}
	if (!json_bool(*reply, "ok", 0)) {
		snprintf(err, errlen, "%s",
		         json_str(*reply, "error") ? json_str(*reply, "error") : "unknown_error");
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	http_response_free(&resp);
	return rc;
}

int slack_web_call(const char *api_url, const char *token, const char *method, const cJSON *args,
                   cJSON **reply, int64_t *retry_after_ms, char *err, size_t errlen)
{
	struct http_client *http = http_client_new();
	long status;
	int rc = do_call(http, api_url, token, method, args, reply, &status, retry_after_ms, err,
	                 errlen);
	http_client_free(http);
	return rc;
}

/*
 * Run one Web API call for an op until it is final: 0 ok (reply set),
 * -2 Slack said ok:false (err = code), 1 quitting.
 */
static int call_until_final(struct slack_web *w, const char *method, const char *channel,
                            const cJSON *args, cJSON **reply, int64_t incident, char *err,
                            size_t errlen)
{
	int64_t backoff = 200;
	int tries = 0;
	char chkey[96];

	snprintf(chkey, sizeof chkey, "ch:%s", channel ? channel : "");
	for (;;) {
		struct bucket *mb = NULL, *cb = NULL;
		int64_t wait = 0, ra;
		long status;
		int rc;

		if (w->cfg.method_limits) {
			double pm = method_per_minute(method);
			mb = bucket_get(w, method, pm / 60.0, pm);
		} else {
			mb = bucket_get(w, method, 0, 1);
		}
		if (!strcmp(method, "chat.postMessage") && channel)
			cb = bucket_get(w, chkey, w->cfg.channel_rate, w->cfg.channel_burst);
		wait = bucket_wait(mb, 0);
		if (cb && bucket_wait(cb, 0) > wait)
			wait = bucket_wait(cb, 0);
		if (wait > 0) {
			if (nap(w, wait))
				return 1;
			continue;
		}
		bucket_wait(mb, 1);
		if (cb)
			bucket_wait(cb, 1);

		tries++;
		rc = do_call(w->http, w->api_url, w->token, method, args, reply, &status, &ra, err,
		             errlen);
		if (rc == 0 || rc == -2)
			return rc;
		if (status == 429) {
			if (ra < 0)
				ra = 1000;
			log_info("event=slack_ratelimited method=%s channel=%s incident=%lld "
			         "retry_after_ms=%lld",
			         method, log_q(channel ? channel : ""), (long long)incident,
			         (long long)ra);
			mb->blocked_until_ms = time_mono_ms() + ra;
			if (cb)
				cb->blocked_until_ms = time_mono_ms() + ra;
			continue;
		}
		if (tries == w->cfg.max_tries)
			log_error(
			    "event=slack_call_failing method=%s incident=%lld tries=%d error=%s",
			    method, (long long)incident, tries, log_q(err));
		else
			log_warn("event=slack_call_retry method=%s incident=%lld tries=%d error=%s "
			         "backoff_ms=%lld",
			         method, (long long)incident, tries, log_q(err),
			         (long long)backoff);
		if (nap(w, backoff + random() % (backoff / 4 + 1)))
			return 1;
		backoff *= 2;
		if (backoff > w->cfg.max_backoff_ms)
			backoff = w->cfg.max_backoff_ms;
	}
}

#define MARK_EVENT_TYPE "opsbot_post"
#define LOOKUP_PAGES    20 /* pages of 200 messages searched for a marker */

static cJSON *op_args(const struct slack_op *op, int with_blocks)
{
	cJSON *a = json_new_object(), *blocks = NULL;
	char err[128];

	json_add_str(a, "text", op->text ? op->text : "");
	if (op->key[0] && (op->kind == SLACK_OP_PARENT || op->kind == SLACK_OP_REPLY)) {
		cJSON *md = json_new_object(), *pl = json_new_object();
		json_add_str(md, "event_type", MARK_EVENT_TYPE);
		json_add_str(pl, "key", op->key);
		json_add_int(pl, "seq", op->seq);
		json_add_int(pl, "incident", op->incident);
		json_add(md, "event_payload", pl);
		json_add(a, "metadata", md);
	}
	if (with_blocks && op->blocks &&
	    json_parse(op->blocks, strlen(op->blocks), &blocks, err, sizeof err) == 0)
		json_add(a, "blocks", blocks);
	return a;
}

/* Run a message op with the invalid_blocks fallback.  Same returns as above. */
static int send_msg(struct slack_web *w, const struct slack_op *op, const char *method,
                    const char *channel, const char *ts_key, const char *ts, cJSON **reply,
                    char *err, size_t errlen)
{
	for (int with_blocks = 1; with_blocks >= 0; with_blocks--) {
		cJSON *a = op_args(op, with_blocks);
		int rc;
		json_add_str(a, "channel", channel);
		if (ts_key && ts)
			json_add_str(a, ts_key, ts);
		if (op->kind == SLACK_OP_EPHEMERAL)
			json_add_str(a, "user", op->user);
		if (op->kind == SLACK_OP_PARENT || op->kind == SLACK_OP_REPLY) {
			json_add_bool(a, "unfurl_links", 0);
			json_add_bool(a, "unfurl_media", 0);
		}
		rc = call_until_final(w, method, channel, a, reply, op->incident, err, errlen);
		cJSON_Delete(a);
		if (rc == -2 && with_blocks && op->blocks &&
		    (!strcmp(err, "invalid_blocks") || !strcmp(err, "invalid_blocks_format"))) {
			log_warn("event=slack_invalid_blocks method=%s incident=%lld "
			         "action=retry_as_text",
			         method, (long long)op->incident);
			cJSON_Delete(*reply);
			*reply = NULL;
			continue;
		}
		return rc;
	}
	return -2;
}

/*
 * Look for the message marked with key: in the thread `thread` (replies) or,
 * when thread is "", among the channel's top-level messages since since_ms.
 * 1 and its ts in ts, 0 not there, -1 the look-up was refused (err),
 * 2 quitting.
 */
static int find_marked(struct slack_web *w, const char *channel, const char *thread,
                       int64_t since_ms, const char *key, int64_t incident, char *ts, size_t tslen,
                       char *err, size_t errlen)
{
	char cursor[256] = "", oldest[32];
	const char *method = *thread ? "conversations.replies" : "conversations.history";

	snprintf(oldest, sizeof oldest, "%lld.000000", (long long)(since_ms / 1000));
	for (int page = 0; page < LOOKUP_PAGES; page++) {
		cJSON *a = json_new_object(), *reply = NULL;
		const cJSON *m;
		const char *next;
		int rc;

		json_add_str(a, "channel", channel);
		if (*thread)
			json_add_str(a, "ts", thread);
		else
			json_add_str(a, "oldest", oldest);
		json_add_bool(a, "include_all_metadata", 1);
		json_add_int(a, "limit", 200);
		if (*cursor)
			json_add_str(a, "cursor", cursor);
		rc = call_until_final(w, method, NULL, a, &reply, incident, err, errlen);
		cJSON_Delete(a);
		if (rc == 1)
			return 2;
		if (rc < 0) {
			cJSON_Delete(reply);
			return -1;
		}
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(reply, "messages"))
		{
			const cJSON *md = cJSON_GetObjectItemCaseSensitive(m, "metadata");
			const cJSON *pl = cJSON_GetObjectItemCaseSensitive(md, "event_payload");
			const char *et = json_str(md, "event_type"), *k = json_str(pl, "key");
			if (et && k && json_str(m, "ts") && !strcmp(et, MARK_EVENT_TYPE) &&
			    !strcmp(k, key)) {
				str_copy(ts, tslen, json_str(m, "ts"));
				cJSON_Delete(reply);
				return 1;
			}
		}
		next = json_str(cJSON_GetObjectItemCaseSensitive(reply, "response_metadata"),
		                "next_cursor");
		if (!json_bool(reply, "has_more", 0) || !next || !*next) {
			cJSON_Delete(reply);
			return 0;
		}
		str_copy(cursor, sizeof cursor, next);
		cJSON_Delete(reply);
	}
	return 0;
}

/*
 * Before a keyed post: if an earlier run meant to post it (intent in bot.db)
 * and may have been killed after Slack stored it, find it by its marker.
 * Then (re)write the intent.  1 when the post is already there (recorded
 * now), 0 to post, 2 quitting.
 */
static int intent_check(struct slack_web *w, const struct slack_op *op, const char *channel,
                        const char *thread)
{
	char ikey[128], ts[64], err[160];
	char *val = NULL;
	cJSON *in = NULL, *rec;
	int rc;

	snprintf(ikey, sizeof ikey, "intent:%s", op->key);
	if (state_kv_get(w->st, "slack", ikey, &val) == 1 &&
	    json_parse_object(val, strlen(val), &in, err, sizeof err) == 0 &&
	    json_str(in, "channel")) {
		rc = find_marked(w, json_str(in, "channel"),
		                 json_str(in, "thread") ? json_str(in, "thread") : "",
		                 json_int(in, "at_ms", 0) - 60000, op->key, op->incident, ts,
		                 sizeof ts, err, sizeof err);
		if (rc == 2) {
			free(val);
			cJSON_Delete(in);
			return 2;
		}
		if (rc == 1) {
			log_info("event=slack_post_recovered key=%s incident=%lld seq=%lld ts=%s",
			         log_q(op->key), (long long)op->incident, (long long)op->seq, ts);
			if (op->kind == SLACK_OP_PARENT)
				state_thread_put(w->st, "slack", op->incident,
				                 json_str(in, "channel"), ts);
			state_posted_put(w->st, "slack", op->key, ts);
			free(val);
			cJSON_Delete(in);
			return 1;
		}
		if (rc < 0)
			log_warn("event=slack_post_lookup_failed key=%s incident=%lld error=%s "
			         "action=post",
			         log_q(op->key), (long long)op->incident, log_q(err));
		else
			log_info("event=slack_post_not_found key=%s incident=%lld action=post",
			         log_q(op->key), (long long)op->incident);
	}
	free(val);
	cJSON_Delete(in);
	rec = json_new_object();
	json_add_str(rec, "channel", channel);
	json_add_str(rec, "thread", thread ? thread : "");
	json_add_int(rec, "seq", op->seq);
	json_add_int(rec, "at_ms", time_now_ms());
	val = json_print(rec);
	cJSON_Delete(rec);
	if (state_kv_put(w->st, "slack", ikey, val) < 0)
		log_warn("event=slack_intent_save_failed key=%s", log_q(op->key));
	free(val);
	return 0;
}

static void run_op(struct slack_web *w, struct slack_op *op)
{
	char channel[64] = "", parent[64] = "", err[160] = "";
	cJSON *reply = NULL;
	int rc = 0;
	const char *what = "";

	if (op->key[0] && (op->kind == SLACK_OP_PARENT || op->kind == SLACK_OP_REPLY) &&
	    state_posted_get(w->st, "slack", op->key, NULL, 0) == 1) {
		log_debug("event=slack_skip_posted key=%s", log_q(op->key));
		return;
	}
	switch (op->kind) {
	case SLACK_OP_PARENT:
		what = "parent";
		if (op->key[0] && intent_check(w, op, op->channel, "") != 0)
			return;
		rc = send_msg(w, op, "chat.postMessage", op->channel, NULL, NULL, &reply, err,
		              sizeof err);
		if (rc == 0) {
			const char *ts = json_str(reply, "ts");
			const char *ch = json_str(reply, "channel");
			if (!ts) {
				log_warn("event=slack_no_ts incident=%lld",
				         (long long)op->incident);
				break;
			}
			state_thread_put(w->st, "slack", op->incident, ch ? ch : op->channel, ts);
			if (op->key[0])
				state_posted_put(w->st, "slack", op->key, ts);
		}
		break;
	case SLACK_OP_UPDATE:
	case SLACK_OP_REPLY:
		what = op->kind == SLACK_OP_UPDATE ? "update" : "reply";
		if (state_thread_get(w->st, "slack", op->incident, channel, sizeof channel, parent,
		                     sizeof parent) != 1) {
			log_warn("event=slack_no_thread incident=%lld op=%s",
			         (long long)op->incident, what);
			break;
		}
		if (op->kind == SLACK_OP_UPDATE) {
			rc = send_msg(w, op, "chat.update", channel, "ts", parent, &reply, err,
			              sizeof err);
		} else {
			if (op->key[0] && intent_check(w, op, channel, parent) != 0)
				return;
			rc = send_msg(w, op, "chat.postMessage", channel, "thread_ts", parent,
			              &reply, err, sizeof err);
			if (rc == 0 && op->key[0])
				state_posted_put(w->st, "slack", op->key,
				                 json_str(reply, "ts") ? json_str(reply, "ts")
				                                       : "");
		}
		break;
	case SLACK_OP_EDIT: {
		char ts[64];
		what = "edit";
		if (state_thread_get(w->st, "slack", op->incident, channel, sizeof channel, parent,
		                     sizeof parent) != 1 ||
		    state_posted_get(w->st, "slack", op->key, ts, sizeof ts) != 1 || !ts[0]) {
			log_warn("event=slack_no_message incident=%lld key=%s op=edit",
			         (long long)op->incident, log_q(op->key));
			break;
		}
		rc = send_msg(w, op, "chat.update", channel, "ts", ts, &reply, err, sizeof err);
		break;
	}
	case SLACK_OP_EPHEMERAL:
		what = "ephemeral";
		rc = send_msg(w, op, "chat.postEphemeral", op->channel, NULL, NULL, &reply, err,
		              sizeof err);
		break;
	case SLACK_OP_DONE:
		pthread_mutex_lock(&w->mu);
		if (op->seq > w->done_seq)
			w->done_seq = op->seq;
		pthread_mutex_unlock(&w->mu);
		bot_wake(w->b);
		return;
	}
	if (rc == -2)
		log_warn("event=slack_post_refused op=%s incident=%lld error=%s", what,
		         (long long)op->incident, log_q(err));
	else if (rc == 0)
		log_debug("event=slack_posted op=%s incident=%lld", what, (long long)op->incident);
	cJSON_Delete(reply);
}

/* One op on the lane thread; frees it. */
static void op_job(void *arg, struct http_client *hc)
{
	struct slack_op *op = arg;
	struct slack_web *w = op->web;

	w->http = hc;
	if (!lane_stopping(w->lane))
		run_op(w, op);
	op_free(op);
}

int slack_web_start(struct slack_web **out, const struct slack_web_cfg *cfg, struct bot *b,
                    char *err, size_t errlen)
{
	struct slack_web *w = xcalloc(1, sizeof *w);

	w->cfg = *cfg;
	w->api_url = xstrdup(cfg->api_url);
	w->token = xstrdup(cfg->bot_token);
	w->state_path = xstrdup(cfg->state_path);
	w->b = b;
	pthread_mutex_init(&w->mu, NULL);
	if (state_open(w->state_path, &w->st, err, errlen) < 0) {
		slack_web_stop(w);
		return -1;
	}
	w->lane = lane_start("slack-web", 1);
	*out = w;
	return 0;
}

void slack_web_push(struct slack_web *w, struct slack_op *op)
{
	op->next = NULL;
	op->web = w;
	lane_push(w->lane, op_job, op_free, op);
}

int64_t slack_web_done_seq(struct slack_web *w)
{
	int64_t s;
	pthread_mutex_lock(&w->mu);
	s = w->done_seq;
	pthread_mutex_unlock(&w->mu);
	return s;
}

size_t slack_web_pending(struct slack_web *w)
{
	return lane_pending(w->lane);
}

int64_t slack_web_stop(struct slack_web *w)
{
	int64_t done;

	if (!w)
		return 0;
	lane_stop(w->lane); /* queued ops are dropped; a restart replays them */
	state_close(w->st);
	pthread_mutex_destroy(&w->mu);
	free(w->api_url);
	free(w->token);
	free(w->state_path);
	done = w->done_seq;
	free(w);
	return done;
}
