/*
 * slack_web.c: the Slack Web API outbox, over libcurl (lib/http.h).
 *
 * One queue per channel, served by a few sender threads: a channel takes
 * at most one call at a time (so its order holds), and a sender only picks
 * a channel whose next call its limits allow now, so a channel held back by
 * its limit or by a 429 never delays another channel.  Within a channel the
 * order is by need, not strictly by arrival (and across channels, a
 * channel with a new incident's parent ready is served before one with
 * only replies or edits ready, so the workspace's postMessage budget goes
 * to new incidents first):
 *   - a new incident's parent goes before anything else waiting;
 *   - then thread replies (and edits of replies, ephemerals): an incident's
 *     replies and edits keep their order, after their parent;
 *   - then chat.update of parents, which only redraw the latest state.
 * A chat.update queued while one for the same message still waits replaces
 * its text (coalescing); an EDIT of the same reply likewise.  When a
 * channel has more than storm_queue ops waiting, an incident's consecutive
 * replies are joined into one message (text and blocks within Slack's
 * limits) instead of one post per step.
 *
 * When new incidents pile up in a channel beyond what its limit lets post
 * now ([slack] storm_summary), one summary message lists them all at once
 * (summary_due), and their own parents follow as the limit allows.
 *
 * Rate limits are kept before a call (token buckets per method after
 * Slack's tiers, and per channel for chat.postMessage, about 1/s) and after
 * one (HTTP 429: a chat.postMessage's channel, or else the method, waits
 * Retry-After; a single op goes back to the head of its queue meanwhile, so
 * its sender serves other channels, and is tried again after, through its
 * intent check; a batch waits in place).  5xx and transport
 * errors back off exponentially (capped) and retry the same op without end:
 * giving up would lose a chat update.  ok:false answers are final for the
 * op, except invalid_blocks, which is retried once as plain text so the
 * thread still gets the news.
 *
 * Invariants:
 *  1. done_seq only rises; it is the highest seq whose DONE op was queued
 *     while no op of that seq or an earlier one is still waiting or running
 *     (a coalesced op counts as finished: the op that took its text carries
 *     a later seq).
 *  2. A keyed op whose key is in bot.db is not posted again.
 *  3. Each sender thread has its own bot.db handle and HTTP client
 *     (tl_st, tl_http); the buckets and queues are shared under w->mu.
 *     The senders are long jobs on a lane (lane.c), one per lane thread:
 *     the lane owns the threads, their HTTP clients, and the naps that
 *     stop ends.
 *  4. Exactly once, as the reader sees it: before a keyed post, its intent
 *     (kv "intent:<key>": channel, thread, time) is in bot.db, and the post
 *     carries message metadata {event_type "opsbot_post", event_payload
 *     {key, seq, incident[, keys]}} (keys: every reply a batch joined).  A
 *     crash can land after Slack stored the post and before bot.db recorded
 *     its ts; so a keyed op that has an intent but no posted row first looks
 *     for its marker (its key, or its key in a batch's keys) in the thread
 *     (conversations.replies) or, for a parent, the channel
 *     (conversations.history) and records the ts it finds, for every key of
 *     that marker, instead of posting again.  When the look-up itself is
 *     refused (e.g. a missing history scope) it posts: a rare double beats a
 *     lost step.  A reply that has an intent is never batched.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "chatstats.h"
#include "defaults.h"
#include "fifo.h"
#include "http.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "slack.h"
#include "state.h"
#include "timeutil.h"

#define MAX_BUCKETS    256
#define MAX_SENDERS    16
#define WEB_TIMEOUT_MS DEF_CHAT_API_TIMEOUT_MS
#define BATCH_MAX      10   /* replies joined into one message */
#define BATCH_TEXT_MAX 3500 /* characters of joined text */
#define BATCH_BLOCKS   45   /* Slack allows 50 blocks per message */
#define NEVER          INT64_MAX
/* A channel's posts are spaced this much wider than its rate: the stand-in
 * (and Slack) count a post when it arrives, and arrival jitter of a few tens
 * of ms otherwise turns an on-time post into a 429 (Retry-After 1 s and an
 * intent look-up) */
#define CHANNEL_MARGIN_MS 100
/* a method may burst a tenth of its minute (tier 3: 5 calls), not the whole
 * minute at once: Slack tolerates short bursts only, and in a storm the
 * chat.update calls wait (and coalesce) instead of tripping 429s */
#define METHOD_BURST(pm) ((pm) / 10 < 1 ? 1 : (pm) / 10)

struct bucket {
	char key[80];
	double tokens, rate, burst; /* rate per ms */
	double need;                /* tokens a call needs (1, or a bit more: CHANNEL_MARGIN_MS) */
	int64_t at_ms;
	int64_t blocked_until_ms;
	int64_t used_ms; /* for replacement */
};

/* One channel's waiting ops, in arrival order. */
struct chq {
	char id[64];
	struct slack_op *head, *tail;
	size_t n;
	int busy; /* a sender runs one of its ops */
	struct chq *next;
};

/* How many ops of one seq wait or run (invariant 1). */
struct seqrec {
	int64_t seq;
	int n;
	struct seqrec *next;
};

struct slack_web {
	struct slack_web_cfg cfg;
	char *api_url, *token, *state_path;
	struct bot *b;
	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;  /* work, a channel freed, or quit */
	int quit;
	int64_t done_seq, done_pushed;
	struct seqrec *seqs, *seqs_tail;
	struct chq *chans; /* round robin: a served channel moves to the end */
	size_t queued, running;
	struct bucket buckets[MAX_BUCKETS];
	int nb;
	struct lane *senders; /* one long job per sender thread; its naps end on stop */
	struct state *st[MAX_SENDERS];
};

/* The calling sender's own handles (invariant 3). */
static _Thread_local struct state *tl_st;
static _Thread_local struct http_client *tl_http;
/* A single op runs (not a batch): on a 429 its message call gives the op
 * back to its queue (call_until_final returns 3) instead of napping, so the
 * sender serves other channels meanwhile. */
static _Thread_local int tl_defer_ok, tl_may_defer;
/* The method whose limits the sender took when it picked the op (under
 * w->mu, with the choice): the op's first call of it goes without waiting
 * again.  Without this, senders that picked ops of several channels at the
 * same instant raced for one token and the losers napped holding their
 * channels, so a new incident there waited behind a reply's nap. */
static _Thread_local const char *tl_prepaid;

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
	while (op) {
		struct slack_op *m = op->more;
		free(op->text);
		free(op->blocks);
		free(op);
		op = m;
	}
}

/* The bucket for key (w->mu held). */
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

/* ms to wait before b allows one call (0: take it now); w->mu held. */
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
	if (b->tokens >= (b->need > 1 ? b->need : 1)) {
		if (take)
			b->tokens -= 1;
		return 0;
	}
	return (int64_t)(((b->need > 1 ? b->need : 1) - b->tokens) / b->rate) + 1;
}

/*
 * The limits a call of method in channel (may be NULL) must wait for: ms
 * until it may go (0: now, and the tokens are taken when take).  w->mu held.
 */
static int64_t limits_wait(struct slack_web *w, const char *method, const char *channel, int take)
{
	struct bucket *mb, *cb = NULL;
	char chkey[96];
	int64_t wait, cw;

	if (w->cfg.method_limits) {
		double pm = method_per_minute(method);
		mb = bucket_get(w, method, pm / 60.0, METHOD_BURST(pm));
	} else {
		mb = bucket_get(w, method, 0, 1);
	}
	wait = bucket_wait(mb, 0);
	if (channel && *channel && !strcmp(method, "chat.postMessage")) {
		snprintf(chkey, sizeof chkey, "ch:%s", channel);
		cb = bucket_get(w, chkey, w->cfg.channel_rate, w->cfg.channel_burst);
		cb->need = 1 + cb->rate * CHANNEL_MARGIN_MS;
		cw = bucket_wait(cb, 0);
		if (cw > wait)
			wait = cw;
	}
	if (wait == 0 && take) {
		bucket_wait(mb, 1);
		if (cb)
			bucket_wait(cb, 1);
	}
	return wait;
}

/* Give back the tokens limits_wait(take) took for a call never made (an op
 * found posted already, or given up).  w->mu held. */
static void limits_refund(struct slack_web *w, const char *method, const char *channel)
{
	char chkey[96];
	struct bucket *b = NULL, *cb;

	for (int i = 0; i < w->nb; i++)
		if (!strcmp(w->buckets[i].key, method))
			b = &w->buckets[i];
	if (b && b->rate > 0 && b->tokens + 1 <= b->burst)
		b->tokens += 1;
	if (channel && *channel && !strcmp(method, "chat.postMessage")) {
		snprintf(chkey, sizeof chkey, "ch:%s", channel);
		cb = bucket_get(w, chkey, w->cfg.channel_rate, w->cfg.channel_burst);
		if (cb->rate > 0 && cb->tokens + 1 <= cb->burst)
			cb->tokens += 1;
	}
}

/*
 * A 429: a chat.postMessage to a channel waits ms in that channel (Slack's
 * per-channel limit; the method's own bucket keeps the workspace limit),
 * any other call waits ms for its method.
 */
static void limits_block(struct slack_web *w, const char *method, const char *channel, int64_t ms)
{
	char chkey[96];
	struct bucket *b;

	pthread_mutex_lock(&w->mu);
	if (channel && *channel && !strcmp(method, "chat.postMessage")) {
		snprintf(chkey, sizeof chkey, "ch:%s", channel);
		b = bucket_get(w, chkey, w->cfg.channel_rate, w->cfg.channel_burst);
	} else {
		double pm = w->cfg.method_limits ? method_per_minute(method) : 0;
		b = bucket_get(w, method, pm / 60.0, pm > 0 ? METHOD_BURST(pm) : 1);
	}
	b->blocked_until_ms = time_mono_ms() + ms;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
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
 * -2 Slack said ok:false (err = code), 1 quitting, 3 a 429 came and the op
 * goes back to its queue (only when tl_may_defer).
 */
static int call_until_final(struct slack_web *w, const char *method, const char *channel,
                            const cJSON *args, cJSON **reply, int64_t incident, char *err,
                            size_t errlen)
{
	int64_t backoff = 200;
	int tries = 0;

	for (;;) {
		int64_t wait, ra;
		long status;
		int rc;

		if (tl_prepaid && !strcmp(tl_prepaid, method)) {
			wait = 0;
			tl_prepaid = NULL;
		} else {
			pthread_mutex_lock(&w->mu);
			wait = limits_wait(w, method, channel, 1);
			pthread_mutex_unlock(&w->mu);
		}
		if (wait > 0) {
			if (lane_nap(w->senders, wait))
				return 1;
			continue;
		}

		tries++;
		rc = do_call(tl_http, w->api_url, w->token, method, args, reply, &status, &ra, err,
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
			limits_block(w, method, channel, ra);
			if (tl_may_defer)
				return 3;
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
		if (lane_nap(w->senders, backoff + random() % (backoff / 4 + 1)))
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
		if (op->more) {
			cJSON *keys = cJSON_AddArrayToObject(pl, "keys");
			for (const struct slack_op *m = op; m; m = m->more)
				cJSON_AddItemToArray(keys, cJSON_CreateString(m->key));
		}
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
		tl_may_defer = tl_defer_ok;
		rc = call_until_final(w, method, channel, a, reply, op->incident, err, errlen);
		tl_may_defer = 0;
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
 * when thread is "", among the channel's top-level messages since since_ms;
 * a batch's marker lists key in its keys.  1 and its ts in ts (and in *keys
 * a copy of the marker's keys array, or NULL), 0 not there, -1 the look-up
 * was refused (err), 2 quitting.
 */
static int marker_has(const cJSON *pl, const char *key)
{
	const cJSON *k;
	if (json_str(pl, "key") && !strcmp(json_str(pl, "key"), key))
		return 1;
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(pl, "keys"))
	{
		if (cJSON_IsString(k) && !strcmp(k->valuestring, key))
			return 1;
	}
	return 0;
}

static int find_marked(struct slack_web *w, const char *channel, const char *thread,
                       int64_t since_ms, const char *key, int64_t incident, char *ts, size_t tslen,
                       cJSON **keys, char *err, size_t errlen)
{
	char cursor[256] = "", oldest[32];
	const char *method = *thread ? "conversations.replies" : "conversations.history";

	*keys = NULL;
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
			const char *et = json_str(md, "event_type");
			if (et && json_str(m, "ts") && !strcmp(et, MARK_EVENT_TYPE) &&
			    marker_has(pl, key)) {
				const cJSON *ks = cJSON_GetObjectItemCaseSensitive(pl, "keys");
				str_copy(ts, tslen, json_str(m, "ts"));
				*keys = cJSON_IsArray(ks) ? json_dup(ks) : NULL;
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
	cJSON *in = NULL, *rec, *keys = NULL;
	const cJSON *k;
	int rc;

	snprintf(ikey, sizeof ikey, "intent:%s", op->key);
	if (state_kv_get(tl_st, "slack", ikey, &val) == 1 &&
	    json_parse_object(val, strlen(val), &in, err, sizeof err) == 0 &&
	    json_str(in, "channel")) {
		rc = find_marked(w, json_str(in, "channel"),
		                 json_str(in, "thread") ? json_str(in, "thread") : "",
		                 json_int(in, "at_ms", 0) - 60000, op->key, op->incident, ts,
		                 sizeof ts, &keys, err, sizeof err);
		if (rc == 2) {
			free(val);
			cJSON_Delete(in);
			return 2;
		}
		if (rc == 1) {
			log_info("event=slack_post_recovered key=%s incident=%lld seq=%lld ts=%s",
			         log_q(op->key), (long long)op->incident, (long long)op->seq, ts);
			if (op->kind == SLACK_OP_PARENT)
				state_thread_put(tl_st, "slack", op->incident,
				                 json_str(in, "channel"), ts);
			state_posted_put(tl_st, "slack", op->key, ts);
			/* a batch: the other replies it joined are posted too */
			cJSON_ArrayForEach(k, keys)
			{
				if (cJSON_IsString(k) && strcmp(k->valuestring, op->key))
					state_posted_put(tl_st, "slack", k->valuestring, ts);
			}
			cJSON_Delete(keys);
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
	for (const struct slack_op *m = op; m; m = m->more) {
		snprintf(ikey, sizeof ikey, "intent:%s", m->key);
		if (state_kv_put(tl_st, "slack", ikey, val) < 0)
			log_warn("event=slack_intent_save_failed key=%s", log_q(m->key));
	}
	free(val);
	return 0;
}

/* Run one op: 0, or 3 when a 429 gave it back (see tl_defer_ok). */
static int run_op(struct slack_web *w, struct slack_op *op)
{
	char channel[64] = "", parent[64] = "", err[160] = "";
	cJSON *reply = NULL;
	int rc = 0;
	const char *what = "";

	if (op->key[0] && (op->kind == SLACK_OP_PARENT || op->kind == SLACK_OP_REPLY) &&
	    state_posted_get(tl_st, "slack", op->key, NULL, 0) == 1) {
		log_debug("event=slack_skip_posted key=%s", log_q(op->key));
		return 0;
	}
	switch (op->kind) {
	case SLACK_OP_PARENT:
		what = "parent";
		if (op->key[0] && intent_check(w, op, op->channel, "") != 0)
			return 0;
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
			state_thread_put(tl_st, "slack", op->incident, ch ? ch : op->channel, ts);
			if (op->key[0])
				state_posted_put(tl_st, "slack", op->key, ts);
		}
		break;
	case SLACK_OP_UPDATE:
	case SLACK_OP_REPLY:
		what = op->kind == SLACK_OP_UPDATE ? "update" : "reply";
		if (state_thread_get(tl_st, "slack", op->incident, channel, sizeof channel, parent,
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
				return 0;
			rc = send_msg(w, op, "chat.postMessage", channel, "thread_ts", parent,
			              &reply, err, sizeof err);
			for (const struct slack_op *m = op; rc == 0 && m && m->key[0]; m = m->more)
				state_posted_put(tl_st, "slack", m->key,
				                 json_str(reply, "ts") ? json_str(reply, "ts")
				                                       : "");
		}
		break;
	case SLACK_OP_EDIT: {
		char ts[64];
		what = "edit";
		if (state_thread_get(tl_st, "slack", op->incident, channel, sizeof channel, parent,
		                     sizeof parent) != 1 ||
		    state_posted_get(tl_st, "slack", op->key, ts, sizeof ts) != 1 || !ts[0]) {
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
	case SLACK_OP_SUMMARY: /* made and run by a sender, never queued */
		what = "summary";
		rc = send_msg(w, op, "chat.postMessage", op->channel, NULL, NULL, &reply, err,
		              sizeof err);
		break;
	case SLACK_OP_DONE: /* never queued: slack_web_push counts it */
		return 0;
	}
	if (rc == 3) {
		log_info("event=slack_deferred op=%s incident=%lld", what, (long long)op->incident);
		cJSON_Delete(reply);
		return 3;
	}
	if (rc == -2)
		log_warn("event=slack_post_refused op=%s incident=%lld error=%s", what,
		         (long long)op->incident, log_q(err));
	else if (rc == 0)
		log_debug("event=slack_posted op=%s incident=%lld", what, (long long)op->incident);
	cJSON_Delete(reply);
	return 0;
}

/* Replies of a batch that may be joined: none posted or meant to be before. */
static int batch_clean(const struct slack_op *op)
{
	for (const struct slack_op *m = op; m; m = m->more) {
		char ikey[128], *val = NULL;
		int has;
		snprintf(ikey, sizeof ikey, "intent:%s", m->key);
		has = state_kv_get(tl_st, "slack", ikey, &val) == 1;
		free(val);
		if (has || state_posted_get(tl_st, "slack", m->key, NULL, 0) == 1)
			return 0;
	}
	return 1;
}

/* Join a batch's texts (and blocks, when all have them and fit) into op. */
static void batch_join(struct slack_op *op)
{
	struct buf tb = {0};
	cJSON *all = cJSON_CreateArray();
	int ok = 1, n = 0;
	char err[128];

	for (const struct slack_op *m = op; m; m = m->more) {
		cJSON *bl = NULL, *it;
		if (n)
			buf_append(&tb, "\n\n", 2);
		buf_append(&tb, m->text ? m->text : "", m->text ? strlen(m->text) : 0);
		n++;
		if (!ok || !m->blocks ||
		    json_parse(m->blocks, strlen(m->blocks), &bl, err, sizeof err) < 0 ||
		    !cJSON_IsArray(bl)) {
			ok = 0;
			cJSON_Delete(bl);
			continue;
		}
		if (cJSON_GetArraySize(all) > 0)
			cJSON_AddItemToArray(all, cJSON_Parse("{\"type\":\"divider\"}"));
		while ((it = cJSON_DetachItemFromArray(bl, 0)))
			cJSON_AddItemToArray(all, it);
		cJSON_Delete(bl);
		if (cJSON_GetArraySize(all) > BATCH_BLOCKS)
			ok = 0;
	}
	free(op->text);
	op->text = xstrdup(tb.data ? tb.data : "");
	buf_free(&tb);
	free(op->blocks);
	op->blocks = ok ? json_print(all) : NULL;
	cJSON_Delete(all);
	log_info("event=slack_batched incident=%lld replies=%d", (long long)op->incident, n);
}

/*
 * Run op, or a batch: joined when it may be, else one reply after another.
 * 3 when a single op was given back by a 429 (a batch naps out its 429s).
 */
static int run_batch(struct slack_web *w, struct slack_op *op)
{
	int rc;
	if (!op->more) {
		tl_defer_ok = 1;
		rc = run_op(w, op);
		tl_defer_ok = 0;
		return rc;
	}
	if (batch_clean(op)) {
		batch_join(op);
		run_op(w, op);
		return 0;
	}
	for (struct slack_op *m = op; m; m = m->more) {
		struct slack_op *next = m->more;
		m->more = NULL;
		if (!lane_stopping(w->senders))
			run_op(w, m);
		m->more = next;
	}
	return 0;
}

/* ---------------------------------------------------- the scheduler */

/* w->mu held for everything below. */

static void seq_add(struct slack_web *w, int64_t seq)
{
	struct seqrec *r;
	if (seq <= 0)
		return;
	if (w->seqs_tail && w->seqs_tail->seq == seq) {
		w->seqs_tail->n++;
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->seq = seq;
	r->n = 1;
	FIFO_PUSH(w->seqs, w->seqs_tail, r);
}

static void seq_done(struct slack_web *w, int64_t seq)
{
	for (struct seqrec *r = w->seqs; r && seq > 0; r = r->next)
		if (r->seq == seq && r->n > 0) {
			r->n--;
			return;
		}
}

/* Move done_seq (invariant 1); 1 when it rose. */
static int done_recompute(struct slack_web *w)
{
	int64_t d = w->done_pushed;
	while (w->seqs && w->seqs->n == 0) {
		struct seqrec *r = w->seqs;
		w->seqs = r->next;
		if (!w->seqs)
			w->seqs_tail = NULL;
		free(r);
	}
	for (struct seqrec *r = w->seqs; r; r = r->next)
		if (r->n > 0 && r->seq - 1 < d)
			d = r->seq - 1;
	if (d > w->done_seq) {
		w->done_seq = d;
		return 1;
	}
	return 0;
}

static struct chq *chq_get(struct slack_web *w, const char *id)
{
	struct chq *c, *last = NULL;
	for (c = w->chans; c; last = c, c = c->next)
		if (!strcmp(c->id, id))
			return c;
	c = xcalloc(1, sizeof *c);
	str_copy(c->id, sizeof c->id, id);
	if (last)
		last->next = c;
	else
		w->chans = c;
	return c;
}

/* A small set of incidents with two marks, for one scan of a queue. */
#define MARK_PARENT 1 /* an earlier parent of the incident waits */
#define MARK_THREAD 2 /* an earlier parent, reply or edit of it waits */
struct iset {
	int64_t *k;
	unsigned char *v;
	size_t cap;
};

static unsigned char *iset_slot(struct iset *s, int64_t inc)
{
	size_t i = (size_t)((uint64_t)inc * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->k[i] && s->k[i] != inc)
		i = (i + 1) & (s->cap - 1);
	s->k[i] = inc;
	return &s->v[i];
}

#define SCAN_MAX 4096 /* ops of one channel looked at per choice */

/*
 * The op channel c should run now: a ready parent first (one no storm
 * summary showed yet before one a summary did: what nobody has seen goes
 * first), then a ready reply (or reply edit, ephemeral) whose incident has
 * nothing waiting before it, then a ready parent update whose parent is
 * out.  *clsp: 0..3 in that order.  NULL and *wait (ms until
 * one may be ready, NEVER when nothing waits) when none is.
 */
static struct slack_op *choose(struct slack_web *w, struct chq *c, struct slack_op **prevp,
                               int64_t *wait, int *clsp)
{
	/* 0 a new parent, 1 a parent a summary showed, 2 a reply, 3 an update */
	struct slack_op *best[4] = {NULL, NULL, NULL, NULL}, *bprev[4] = {NULL, NULL, NULL, NULL};
	struct slack_op *prev = NULL;
	int64_t wpost = limits_wait(w, "chat.postMessage", c->id, 0);
	int64_t wupd = limits_wait(w, "chat.update", NULL, 0);
	int64_t weph = limits_wait(w, "chat.postEphemeral", NULL, 0);
	struct iset set;
	size_t n = 0;

	*wait = NEVER;
	set.cap = 64;
	while (set.cap < 2 * (c->n < SCAN_MAX ? c->n : SCAN_MAX))
		set.cap *= 2;
	set.k = xcalloc(set.cap, sizeof *set.k);
	set.v = xcalloc(set.cap, 1);
	for (struct slack_op *op = c->head; op && n < SCAN_MAX; prev = op, op = op->next, n++) {
		unsigned char *m = op->incident > 0 ? iset_slot(&set, op->incident) : NULL;
		int cls, ok;
		int64_t wt;

		switch (op->kind) {
		case SLACK_OP_PARENT:
			cls = op->summarized ? 1 : 0;
			ok = !m || !(*m & MARK_PARENT);
			if (m)
				*m |= MARK_PARENT | MARK_THREAD;
			break;
		case SLACK_OP_REPLY:
		case SLACK_OP_EDIT:
			cls = 2;
			ok = !m || !(*m & MARK_THREAD);
			if (m)
				*m |= MARK_THREAD;
			break;
		case SLACK_OP_UPDATE:
			cls = 3;
			ok = !m || !(*m & MARK_PARENT);
			break;
		default:
			cls = 2;
			ok = 1;
			break;
		}
		if (!ok || best[cls])
			continue;
		wt = op->kind == SLACK_OP_EPHEMERAL                             ? weph
		     : op->kind == SLACK_OP_UPDATE || op->kind == SLACK_OP_EDIT ? wupd
		                                                                : wpost;
		if (wt > 0) {
			if (wt < *wait)
				*wait = wt;
			continue;
		}
		best[cls] = op;
		bprev[cls] = prev;
		if (cls == 0)
			break;
	}
	free(set.k);
	free(set.v);
	for (int i = 0; i < 4; i++)
		if (best[i]) {
			*prevp = bprev[i];
			*clsp = i;
			return best[i];
		}
	return NULL;
}

static void chq_unlink(struct slack_web *w, struct chq *c, struct slack_op *prev,
                       struct slack_op *op)
{
	if (prev)
		prev->next = op->next;
	else
		c->head = op->next;
	if (c->tail == op)
		c->tail = prev;
	op->next = NULL;
	c->n--;
	w->queued--;
	w->running++;
}

/*
 * In a saturated channel, join the replies of op's incident that wait after
 * it (up to an edit or a new parent of it) to op->more, within the limits.
 */
static void batch_gather(struct slack_web *w, struct chq *c, struct slack_op *op)
{
	struct slack_op *prev = NULL, *q, *last = op;
	size_t text = op->text ? strlen(op->text) : 0;
	int n = 1;

	if (op->kind != SLACK_OP_REPLY || op->nobatch || !op->key[0] || w->cfg.storm_queue <= 0 ||
	    c->n < (size_t)w->cfg.storm_queue)
		return;
	for (q = c->head; q && n < BATCH_MAX;) {
		struct slack_op *next = q->next;
		if (q->incident != op->incident || q->kind == SLACK_OP_UPDATE) {
			prev = q;
			q = next;
			continue;
		}
		if (q->kind != SLACK_OP_REPLY || q->nobatch || !q->key[0] ||
		    text + (q->text ? strlen(q->text) : 0) + 2 > BATCH_TEXT_MAX)
			break;
		text += (q->text ? strlen(q->text) : 0) + 2;
		chq_unlink(w, c, prev, q);
		last->more = q;
		last = q;
		n++;
		q = next;
	}
}

/* ------------------------------------------------- storm summary */

#define SUMMARY_MAX      25   /* incidents listed in one summary */
#define SUMMARY_TEXT_MAX 3500 /* characters of its text */

/*
 * In a storm a channel's new incidents arrive faster than Slack lets
 * opsbot post them (about one message a second per channel).  When at
 * least storm_summary new incidents wait in channel c beyond what its limit
 * lets post right now, one message lists them all (each parent's own first
 * line: number, title, severity, service, state, and the command to see it),
 * so every one of them is in the channel at once; their own messages and
 * threads follow as the limit allows.  An incident is listed once.  The
 * summary is not keyed: after a crash, parents still waiting may be listed
 * again.  Returns the summary op (listed parents marked), or NULL when
 * none is due.  w->mu held.
 */
static struct slack_op *summary_due(struct slack_web *w, struct chq *c)
{
	struct bucket *cb;
	struct slack_op *sum;
	struct buf tb = {0};
	char chkey[96];
	size_t n = 0;
	int listed = 0;

	if (w->cfg.storm_summary <= 0 || w->cfg.channel_rate <= 0)
		return NULL;
	for (struct slack_op *op = c->head; op; op = op->next) {
		if (op->kind != SLACK_OP_PARENT || op->summarized)
			continue;
		/* a replayed parent that is in the channel already is never listed */
		if (op->key[0] && state_posted_get(tl_st, "slack", op->key, NULL, 0) == 1) {
			op->summarized = 1;
			continue;
		}
		n++;
	}
	snprintf(chkey, sizeof chkey, "ch:%s", c->id);
	cb = bucket_get(w, chkey, w->cfg.channel_rate, w->cfg.channel_burst);
	bucket_wait(cb, 0); /* brings its tokens up to now */
	if (n < (size_t)w->cfg.storm_summary || (double)n <= cb->tokens)
		return NULL;
	buf_appendf(&tb,
	            "*Alert storm:* %zu new incidents in this channel, more than Slack lets "
	            "opsbot post at once. Each gets its own message and thread as Slack allows "
	            "(about one a second); until then:",
	            n);
	for (struct slack_op *op = c->head; op && listed < SUMMARY_MAX; op = op->next) {
		const char *t = op->text ? op->text : "";
		size_t line = strcspn(t, "\n");
		if (op->kind != SLACK_OP_PARENT || op->summarized)
			continue;
		if (tb.len + line + 64 > SUMMARY_TEXT_MAX)
			break;
		buf_appendf(&tb, "\n%.*s  `/incident status %lld`", (int)line, t,
		            (long long)op->incident);
		op->summarized = 1;
		listed++;
	}
	if (!listed) {
		buf_free(&tb);
		return NULL;
	}
	if ((size_t)listed < n)
		buf_appendf(&tb, "\n…and %zu more in the next summary.", n - (size_t)listed);
	sum = slack_op_new(SLACK_OP_SUMMARY, 0, 0);
	str_copy(sum->channel, sizeof sum->channel, c->id);
	sum->text = xstrdup(tb.data);
	buf_free(&tb);
	log_info("event=slack_storm_summary channel=%s listed=%d waiting=%zu", log_q(c->id), listed,
	         n);
	return sum;
}

/* The Web API method an op's message call uses. */
static const char *op_method(const struct slack_op *op)
{
	switch (op->kind) {
	case SLACK_OP_EPHEMERAL:
		return "chat.postEphemeral";
	case SLACK_OP_UPDATE:
	case SLACK_OP_EDIT:
		return "chat.update";
	default:
		return "chat.postMessage";
	}
}

struct sender {
	struct slack_web *w;
	int i;
};

/* The channel a sender serves next and the op it takes there. */
struct pick {
	struct chq *c, *cprev;       /* the channel and the one before it */
	struct slack_op *op, *oprev; /* the op and the one before it in c */
	int cls;                     /* choose()'s class: 0 a new incident's parent */
	int64_t wait;                /* no pick: ms until one may be ready (NEVER) */
};

/*
 * Across channels too, new incidents first: the workspace's postMessage
 * budget goes to a parent before any reply or edit (round robin among
 * channels of the same class).  Returns 0 when no channel's next op may go
 * now (p->wait says how long).  w->mu held.
 */
static int pick_channel(struct slack_web *w, struct pick *p)
{
	struct chq *cprev = NULL;

	memset(p, 0, sizeof *p);
	p->cls = 4;
	p->wait = NEVER;
	for (struct chq *c = w->chans; c; cprev = c, c = c->next) {
		struct slack_op *cop, *coprev = NULL;
		int64_t cw;
		int cls = 4;
		if (c->busy || !c->head)
			continue;
		cop = choose(w, c, &coprev, &cw, &cls);
		if (cop && cls < p->cls) {
			p->c = c;
			p->cprev = cprev;
			p->op = cop;
			p->oprev = coprev;
			p->cls = cls;
			if (cls == 0)
				break;
		}
		if (!cop && cw < p->wait)
			p->wait = cw;
	}
	return p->c != NULL;
}

/* Nothing may go now: sleep until an op is pushed, a channel frees or wait ends. */
static void wait_for_work(struct slack_web *w, int64_t wait)
{
	if (wait == NEVER) {
		pthread_cond_wait(&w->cv, &w->mu);
	} else {
		struct timespec ts = time_deadline(wait);
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
}

/* Round robin: the served channel goes to the end of the list.  w->mu held. */
static void chan_to_end(struct slack_web *w, struct pick *p)
{
	struct chq *c;
	if (!p->c->next)
		return;
	if (p->cprev)
		p->cprev->next = p->c->next;
	else
		w->chans = p->c->next;
	for (c = p->c->next; c->next; c = c->next)
		;
	c->next = p->c;
	p->c->next = NULL;
}

/* No call was made with the limits taken at the pick (posted already): the
 * tokens go back.  Takes w->mu. */
static void refund_prepaid(struct slack_web *w, const char *channel)
{
	if (!tl_prepaid)
		return;
	pthread_mutex_lock(&w->mu);
	limits_refund(w, tl_prepaid, channel);
	pthread_mutex_unlock(&w->mu);
	tl_prepaid = NULL;
}

/*
 * A storm summary, when one is due, goes in place of the parent picked
 * there (which stays first in line).  Returns 1 when one was posted.  w->mu
 * held on entry and return.
 */
static int serve_summary(struct slack_web *w, struct chq *c)
{
	struct slack_op *sum = summary_due(w, c);
	if (!sum)
		return 0;
	c->busy = 1;
	tl_prepaid = "chat.postMessage";
	limits_wait(w, tl_prepaid, c->id, 1);
	pthread_mutex_unlock(&w->mu);
	run_op(w, sum);
	refund_prepaid(w, c->id);
	op_free(sum);
	pthread_mutex_lock(&w->mu);
	c->busy = 0;
	pthread_cond_broadcast(&w->cv);
	return 1;
}

/* A deferred op (a 429) goes back to the head of its queue; its limit now
 * waits.  w->mu held. */
static void requeue_head(struct slack_web *w, struct chq *c, struct slack_op *op)
{
	FIFO_PUSH_FRONT(c->head, c->tail, op);
	c->n++;
	w->queued++;
	w->running--;
	c->busy = 0;
	pthread_cond_broadcast(&w->cv);
}

/* The op (and the batch it gathers) has run: its seqs are done.  w->mu held
 * on entry and return; dropped to free the op and wake the bot. */
static void finish_op(struct slack_web *w, struct chq *c, struct slack_op *op)
{
	int woke;
	for (struct slack_op *m = op; m; m = m->more) {
		seq_done(w, m->seq);
		w->running--;
	}
	c->busy = 0;
	woke = done_recompute(w);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	op_free(op);
	if (woke)
		bot_wake(w->b);
	pthread_mutex_lock(&w->mu);
}

/* Takes the picked op (and the replies it may join), runs it outside w->mu,
 * then requeues or finishes it.  w->mu held on entry and return. */
static void serve_op(struct slack_web *w, struct pick *p)
{
	struct chq *c = p->c;
	struct slack_op *op = p->op;
	int rc;

	chq_unlink(w, c, p->oprev, op);
	batch_gather(w, c, op);
	c->busy = 1;
	tl_prepaid = op_method(op);
	limits_wait(w, tl_prepaid, c->id, 1); /* choose() saw them free */
	pthread_mutex_unlock(&w->mu);
	rc = run_batch(w, op);
	refund_prepaid(w, c->id);
	pthread_mutex_lock(&w->mu);
	if (rc == 3)
		requeue_head(w, c, op);
	else
		finish_op(w, c, op);
}

/* A sender: a lane job that serves channels until the outbox stops. */
static void sender_run(void *arg, struct http_client *hc)
{
	struct sender *sd = arg;
	struct slack_web *w = sd->w;

	tl_st = w->st[sd->i];
	tl_http = hc;
	pthread_mutex_lock(&w->mu);
	while (!w->quit) {
		struct pick p;
		if (!pick_channel(w, &p)) {
			wait_for_work(w, p.wait);
			continue;
		}
		chan_to_end(w, &p);
		if (p.cls == 0 && serve_summary(w, p.c))
			continue;
		serve_op(w, &p);
	}
	pthread_mutex_unlock(&w->mu);
	tl_http = NULL; /* the lane's: it frees it */
	free(sd);
}

int slack_web_start(struct slack_web **out, const struct slack_web_cfg *cfg, struct bot *b,
                    char *err, size_t errlen)
{
	struct slack_web *w = xcalloc(1, sizeof *w);
	int n = cfg->senders < 1 ? 4 : cfg->senders > MAX_SENDERS ? MAX_SENDERS : cfg->senders;

	w->cfg = *cfg;
	w->api_url = xstrdup(cfg->api_url);
	w->token = xstrdup(cfg->bot_token);
	w->state_path = xstrdup(cfg->state_path);
	w->b = b;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (int i = 0; i < n; i++)
		if (state_open(w->state_path, &w->st[i], err, errlen) < 0) {
			slack_web_stop(w);
			return -1;
		}
	/* n threads and n sender jobs that each run until stop: one per thread */
	w->senders = lane_start("slack-web", n);
	for (int i = 0; i < n; i++) {
		struct sender *sd = xcalloc(1, sizeof *sd);
		sd->w = w;
		sd->i = i;
		lane_push(w->senders, sender_run, free, sd);
	}
	*out = w;
	return 0;
}

void slack_web_push(struct slack_web *w, struct slack_op *op)
{
	struct chq *c;
	int woke = 0;

	op->next = NULL;
	op->more = NULL;
	op->web = w;
	pthread_mutex_lock(&w->mu);
	if (w->quit) {
		pthread_mutex_unlock(&w->mu);
		op_free(op);
		return;
	}
	if (op->kind == SLACK_OP_DONE) {
		if (op->seq > w->done_pushed)
			w->done_pushed = op->seq;
		woke = done_recompute(w);
		pthread_mutex_unlock(&w->mu);
		op_free(op);
		if (woke)
			bot_wake(w->b);
		return;
	}
	c = chq_get(w, op->channel);
	if (op->kind == SLACK_OP_UPDATE || op->kind == SLACK_OP_EDIT) {
		for (struct slack_op *q = c->head; q; q = q->next) {
			char *t;
			if (q->kind != op->kind || q->incident != op->incident ||
			    (op->kind == SLACK_OP_EDIT && strcmp(q->key, op->key)))
				continue;
			/* coalesce: the waiting call sends the newer state */
			t = q->text;
			q->text = op->text;
			op->text = t;
			t = q->blocks;
			q->blocks = op->blocks;
			op->blocks = t;
			seq_done(w, q->seq);
			seq_add(w, op->seq);
			q->seq = op->seq;
			woke = done_recompute(w);
			pthread_mutex_unlock(&w->mu);
			log_debug("event=slack_coalesced incident=%lld seq=%lld",
			          (long long)op->incident, (long long)op->seq);
			op_free(op);
			if (woke)
				bot_wake(w->b);
			return;
		}
	}
	FIFO_PUSH(c->head, c->tail, op);
	c->n++;
	w->queued++;
	seq_add(w, op->seq);
	/* every idle sender rescans, so each keeps the earliest wake-up */
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
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
	pthread_mutex_lock(&w->mu);
	size_t n = w->queued + w->running;
	pthread_mutex_unlock(&w->mu);
	return n;
}

int64_t slack_web_stop(struct slack_web *w)
{
	int64_t done;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	lane_stop(w->senders); /* ends the senders' naps, joins them */
	/* queued ops are dropped; a restart replays them */
	for (struct chq *c = w->chans, *cn; c; c = cn) {
		cn = c->next;
		for (struct slack_op *op = c->head, *on; op; op = on) {
			on = op->next;
			op_free(op);
		}
		free(c);
	}
	for (struct seqrec *r = w->seqs, *rn; r; r = rn) {
		rn = r->next;
		free(r);
	}
	for (int i = 0; i < MAX_SENDERS; i++)
		state_close(w->st[i]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->api_url);
	free(w->token);
	free(w->state_path);
	done = w->done_seq;
	free(w);
	return done;
}
