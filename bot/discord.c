/*
 * discord.c: the Discord surface of opsbot-bot.
 *
 * In:  interactions (slash command /incident, button clicks) from the
 *      Gateway (INTERACTION_CREATE) or, when [discord] public_key is set,
 *      signed HTTP POSTs to [discord] interactions_path.
 * Out: interaction answers within Discord's 3 s (a deferred answer first
 *      when the queue has to be asked), follow-ups through the interaction
 *      webhook; for each incident one message with an embed that follows its
 *      state, a thread on it with one message per later step, and buttons
 *      (custom_id "ob:<incident>:<action>[:<arg>]", at most 5 per row).
 *
 * Threads: everything here runs on the lws loop except jobs on two lanes:
 *   ack   interaction callbacks, follow-ups, start-up (gateway URL, commands)
 *   post  queue events rendered to channel messages, in seq order
 * Lanes report back through `done` (locked) and bot_wake(); the loop drains
 * it in tick.
 *
 * Trust: everything from Discord is untrusted: fields are read with checks,
 * text is escaped by the templates, and nothing from a user is fatal.  The
 * bot token comes from DISCORD_BOT_TOKEN only and never reaches a log.
 *
 * Config [discord]:
 *   api = https://discord.com/api/v10   REST base (the stand-in in tests)
 *   application_id = ID                 required
 *   guild_id = ID                       commands go to this guild (instant);
 *                                       global when unset
 *   channel = ID or name                incidents not started from Discord
 *                                       are posted here (optional)
 *   gateway = yes                       no: HTTP interactions only
 *   public_key = HEX                    enables HTTP interactions
 *   interactions_path = /discord/interactions
 *   max_skew = 5m                       oldest accepted signature timestamp
 *   templates = templates/discord       message templates
 *   global_per_sec = 50                 REST calls per second, all routes
 *   identify_gap = 5s                   one Identify per this (max_concurrency 1)
 *   invalid_session_wait_min = 1s, invalid_session_wait_max = 5s
 *   queue_timeout = 5s                  per queue request
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "config.h"
#include "discord_gw.h"
#include "discord_lane.h"
#include "discord_rest.h"
#include "discord_sig.h"
#include "http.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "state.h"
#include "surface.h"
#include "template.h"
#include "timeutil.h"
#include "wire.h"

#define SURFACE      "discord"
#define INTENTS      1 /* GUILDS: channel names from GUILD_CREATE; interactions need none */
#define MAX_CHANNELS 256
#define SEEN_MAX     512  /* interaction ids remembered against replays */
#define TEXT_MAX     1500 /* characters of one step's text (content limit 2000) */
#define JOB_TRIES    5
#define EPHEMERAL    64

struct chan {
	char id[32];
	char name[101];
};

struct done {
	int kind; /* DONE_SEQ, DONE_BOOT */
	int64_t seq;
	char url[512];
	struct done *next;
};
enum { DONE_SEQ = 1, DONE_BOOT };

struct incident_cache {
	int64_t id;
	cJSON *rec;
};

#define ANSWERED_MAX 256

struct discord {
	struct bot *b;
	struct discord_rest *rest;
	struct discord_lane *ack, *follow, *post;
	/* Interactions answered (token hashes): a follow-up waits for its answer,
	 * since answers and follow-ups travel on different lanes. */
	pthread_mutex_t amu;
	pthread_cond_t acv;
	uint64_t answered[ANSWERED_MAX];
	unsigned answered_n;
	struct discord_gw *gw;
	struct template_set *tpl;
	struct state *post_state; /* the post lane's own handle */
	char app_id[32];
	char guild_id[32];
	char channel_ref[101];
	char public_key[65];
	int64_t max_skew_ms;
	int queue_timeout_ms;
	volatile int stop;
	pthread_mutex_t mu;
	struct done *done, *done_tail;
	struct chan chans[MAX_CHANNELS];
	int nchans;
	char default_channel[32]; /* resolved channel_ref; under mu (lanes read it) */
	char seen[SEEN_MAX][32];
	int seen_n;
	struct incident_cache cache[256]; /* post lane only */
	long interactions, bad_interactions;
};

/* ------------------------------------------------------------- plumbing */

static void done_push(struct discord *d, struct done *x)
{
	pthread_mutex_lock(&d->mu);
	if (d->done_tail)
		d->done_tail->next = x;
	else
		d->done = x;
	d->done_tail = x;
	pthread_mutex_unlock(&d->mu);
	bot_wake(d->b);
}

/* A REST call with retries for transport errors and 5xx; 0 with status/out. */
static int rest(struct discord *d, struct http_client *hc, const char *method, const char *path,
                const cJSON *body, long *status, cJSON **out)
{
	char err[256];
	int64_t backoff = 250;
	for (int i = 0; i < JOB_TRIES && !d->stop; i++) {
		if (out)
			*out = NULL;
		int rc = discord_rest_call(d->rest, hc, method, path, body, status, out, err,
		                           sizeof err);
		if (rc == 0 && *status < 500)
			return 0;
		if (rc == 0) {
			snprintf(err, sizeof err, "status %ld", *status);
			if (out) {
				cJSON_Delete(*out);
				*out = NULL;
			}
		}
		log_warn("event=discord_rest_retry method=%s path=%s error=%s", method, log_q(path),
		         log_q(err));
		time_sleep_ms(backoff, &d->stop);
		backoff *= 2;
	}
	return -1;
}

static void log_rest_error(const char *what, long status, const cJSON *body)
{
	log_warn("event=discord_rest_refused what=%s status=%ld code=%lld message=%s", what, status,
	         (long long)json_int(body, "code", 0), log_q(json_str(body, "message")));
}

/* Cut s to at most max characters on a UTF-8 boundary, adding an ellipsis. */
static char *clip(const char *s, size_t max)
{
	if (!s)
		return xstrdup("");
	size_t chars = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (chars == max)
				break;
			chars++;
		}
	}
	if (!s[i])
		return xstrdup(s);
	return xasprintf("%.*s…", (int)i, s);
}

/* Text from outside, clipped and escaped for Discord markdown; caller frees. */
static char *md(const char *s, size_t max)
{
	char *c = clip(s ? s : "?", max);
	struct buf b = {.max = 8 * max + 64};
	if (template_escape(c, TEMPLATE_ESC_DISCORD, &b) < 0 || !b.data) {
		buf_free(&b);
		return c;
	}
	free(c);
	return b.data;
}

/* Render template name with ctx into a parsed JSON message body; caller frees. */
static cJSON *render(struct discord *d, const char *name, const cJSON *ctx)
{
	struct buf out = {.max = TEMPLATE_MAX_OUTPUT};
	char err[256];
	cJSON *msg = NULL;
	if (template_render(d->tpl, name, ctx, TEMPLATE_ESC_DISCORD | TEMPLATE_ESC_JSON, &out, err,
	                    sizeof err) < 0 ||
	    json_parse_object(out.data ? out.data : "", out.len, &msg, err, sizeof err) < 0) {
		log_error("event=discord_template_failed template=%s error=%s", name, log_q(err));
		msg = NULL;
	}
	buf_free(&out);
	return msg;
}

/* Buttons in action rows of at most 5 (Discord's limit). */
struct button {
	const char *label;
	int style; /* 1 primary, 2 secondary, 3 success, 4 danger */
	char custom_id[101];
};

static cJSON *button_rows(const struct button *bs, int n)
{
	cJSON *rows = json_new_array();
	cJSON *row = NULL, *items = NULL;
	for (int i = 0; i < n && i < 25; i++) {
		if (i % 5 == 0) {
			row = json_new_object();
			json_add_int(row, "type", 1);
			items = json_new_array();
			json_add(row, "components", items);
			cJSON_AddItemToArray(rows, row);
		}
		cJSON *b = json_new_object();
		json_add_int(b, "type", 2);
		json_add_int(b, "style", bs[i].style);
		json_add_str(b, "label", bs[i].label);
		json_add_str(b, "custom_id", bs[i].custom_id);
		cJSON_AddItemToArray(items, b);
	}
	return rows;
}

static void button_set(struct button *b, const char *label, int style, int64_t incident,
                       const char *action, const char *arg)
{
	b->label = label;
	b->style = style;
	snprintf(b->custom_id, sizeof b->custom_id, "ob:%lld:%s%s%.60s", (long long)incident,
	         action, arg && *arg ? ":" : "", arg ? arg : "");
}

/* --------------------------------------------------------- post lane jobs */

struct post_job {
	struct discord *d;
	cJSON *event;
	int64_t seq;
};

static void post_job_free(void *arg)
{
	struct post_job *j = arg;
	cJSON_Delete(j->event);
	free(j);
}

static cJSON *cache_get(struct discord *d, int64_t id)
{
	for (size_t i = 0; i < sizeof d->cache / sizeof d->cache[0]; i++)
		if (d->cache[i].id == id)
			return d->cache[i].rec;
	return NULL;
}

static void cache_put(struct discord *d, int64_t id, const cJSON *rec)
{
	size_t n = sizeof d->cache / sizeof d->cache[0];
	size_t slot = (size_t)id % n;
	for (size_t i = 0; i < n; i++)
		if (d->cache[i].id == id)
			slot = i;
	cJSON_Delete(d->cache[slot].rec);
	d->cache[slot].id = id;
	d->cache[slot].rec = json_dup(rec);
}

/* The incident record: the cache, else the queue, else a stub. Caller frees. */
static cJSON *incident_record(struct discord *d, int64_t id)
{
	cJSON *c = cache_get(d, id);
	if (c)
		return json_dup(c);
	if (d->b->rpc) {
		cJSON *req = wire_new(WIRE_QUERY, id);
		json_add_str(req, "what", "incident");
		cJSON *reply = NULL;
		char err[256];
		if (rpc_call(d->b->rpc, req, &reply, d->queue_timeout_ms, 1, err, sizeof err) ==
		    0) {
			cJSON *rec = cJSON_GetObjectItemCaseSensitive(reply, "incident");
			if (cJSON_IsObject(rec)) {
				cache_put(d, id, rec);
				cJSON *out = json_dup(rec);
				cJSON_Delete(reply);
				cJSON_Delete(req);
				return out;
			}
		}
		cJSON_Delete(reply);
		cJSON_Delete(req);
	}
	cJSON *stub = json_new_object();
	json_add_int(stub, "id", id);
	return stub;
}

static int severity_color(const char *sev)
{
	if (!sev)
		return 0x95a5a6;
	if (strcmp(sev, "critical") == 0)
		return 0xe74c3c;
	if (strcmp(sev, "high") == 0)
		return 0xe67e22;
	if (strcmp(sev, "medium") == 0)
		return 0xf1c40f;
	if (strcmp(sev, "low") == 0)
		return 0x3498db;
	return 0x95a5a6;
}

static int state_final(const char *st)
{
	return st && (strcmp(st, WIRE_ST_RESOLVED) == 0 || strcmp(st, WIRE_ST_REJECTED) == 0 ||
	              strcmp(st, WIRE_ST_EXPIRED) == 0 || strcmp(st, WIRE_ST_FAILED) == 0);
}

/* The parent message body for an incident record; caller frees. */
static cJSON *parent_message(struct discord *d, int64_t id, const cJSON *rec)
{
	cJSON *ctx = json_new_object();
	json_add_int(ctx, "incident", id);
	const char *st = json_str(rec, "state");
	char *title = clip(json_str(rec, "title") ? json_str(rec, "title") : "(untitled)", 200);
	char *summary = clip(json_str(rec, "summary"), 1000);
	json_add_str(ctx, "title", title);
	json_add_str(ctx, "summary", summary);
	json_add_str(ctx, "service",
	             json_str(rec, "service") ? json_str(rec, "service") : "unknown");
	json_add_str(ctx, "severity",
	             json_str(rec, "severity") ? json_str(rec, "severity") : "unknown");
	json_add_str(ctx, "state", st ? st : WIRE_ST_OPEN);
	json_add_str(ctx, "source", json_str(rec, "source") ? json_str(rec, "source") : "unknown");
	json_add_int(ctx, "color",
	             state_final(st) ? 0x2ecc71 : severity_color(json_str(rec, "severity")));
	json_add_bool(ctx, "final", state_final(st));
	free(title);
	free(summary);
	cJSON *msg = render(d, "incident", ctx);
	cJSON_Delete(ctx);
	if (!msg)
		return NULL;
	struct button bs[3];
	int n = 0;
	if (!state_final(st)) {
		int paused = st && strcmp(st, WIRE_ST_PAUSED) == 0;
		button_set(&bs[n++], "Acknowledge", 2, id, "ack", NULL);
		button_set(&bs[n++], paused ? "Resume" : "Pause", 2, id,
		           paused ? "resume" : "pause", NULL);
		button_set(&bs[n++], "Resolve", 3, id, "resolve", NULL);
	}
	json_add(msg, "components", button_rows(bs, n));
	return msg;
}

/* One thread message for an event; caller frees.  NULL: nothing to post. */
static cJSON *step_message(struct discord *d, const char *name, int64_t id, const cJSON *data)
{
	char head[300] = "";
	const char *icon = "•";
	const char *text = NULL;
	struct buf lines = {.max = 8192};
	struct button bs[5];
	int nb = 0;
	const cJSON *res;
	if (strcmp(name, WIRE_EV_OPENED) == 0) {
		const cJSON *sf = cJSON_GetObjectItemCaseSensitive(data, "surface");
		const char *user = json_str(sf, "user");
		icon = "🚨";
		snprintf(head, sizeof head, "Incident opened%s%s (source: %s)", user ? " by " : "",
		         user ? user : "",
		         json_str(data, "source") ? json_str(data, "source") : "unknown");
		text = json_str(data, "summary");
	} else if (strcmp(name, WIRE_EV_STAGE) == 0) {
		icon = "➡️";
		snprintf(head, sizeof head, "State: %s → %s",
		         json_str(data, "from") ? json_str(data, "from") : "?",
		         json_str(data, "to") ? json_str(data, "to") : "?");
		text = json_str(data, "reason");
	} else if (strcmp(name, WIRE_EV_FINDINGS) == 0) {
		icon = "🔎";
		res = cJSON_GetObjectItemCaseSensitive(data, "result");
		snprintf(head, sizeof head, "%s finished",
		         json_str(data, "kind") ? json_str(data, "kind") : "step");
		text = json_str(res, "summary");
	} else if (strcmp(name, WIRE_EV_PLAN) == 0) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
		int needs = json_bool(data, "needs_approval", 0);
		icon = "📋";
		snprintf(head, sizeof head, "Plan proposed%s", needs ? ": approval needed" : "");
		const cJSON *steps = cJSON_GetObjectItemCaseSensitive(plan, "steps");
		const cJSON *s;
		int k = 0;
		cJSON_ArrayForEach(s, steps)
		{
			char *params = json_print(cJSON_GetObjectItemCaseSensitive(s, "params"));
			buf_appendf(&lines, "%s%d. %s %s (%s)%s%s", k ? "\n" : "", k + 1,
			            json_str(s, "action") ? json_str(s, "action") : "?",
			            params && strcmp(params, "null") ? params : "",
			            json_str(s, "risk") ? json_str(s, "risk") : "risk unknown",
			            json_str(s, "rationale") ? ": " : "",
			            json_str(s, "rationale") ? json_str(s, "rationale") : "");
			free(params);
			k++;
		}
		text = lines.data;
		const char *hash = json_str(plan, "hash");
		if (needs && hash) {
			button_set(&bs[nb++], "Approve", 3, id, "approve", hash);
			button_set(&bs[nb++], "Reject", 4, id, "reject", hash);
		}
	} else if (strcmp(name, WIRE_EV_APPROVAL) == 0) {
		icon = strcmp(json_str(data, "decision") ? json_str(data, "decision") : "",
		              "approve") == 0
		           ? "✅"
		           : "⛔";
		snprintf(head, sizeof head, "%s by %s (%s)",
		         json_str(data, "decision") ? json_str(data, "decision") : "decision",
		         json_str(data, "person") ? json_str(data, "person")
		         : json_str(data, "user") ? json_str(data, "user")
		                                  : "?",
		         json_str(data, "surface") ? json_str(data, "surface") : "?");
	} else if (strcmp(name, WIRE_EV_COMMAND) == 0) {
		icon = "🗒️";
		snprintf(head, sizeof head, "%s by %s (%s)",
		         json_str(data, "action") ? json_str(data, "action") : "command",
		         json_str(data, "user") ? json_str(data, "user") : "?",
		         json_str(data, "surface") ? json_str(data, "surface") : "?");
		text = json_str(data, "note");
	} else if (strcmp(name, WIRE_EV_DEAD) == 0) {
		icon = "❌";
		snprintf(head, sizeof head,
		         "%s failed after %lld attempts; it will not run again by itself",
		         json_str(data, "kind") ? json_str(data, "kind") : "job",
		         (long long)json_int(data, "attempts", 0));
		text = json_str(data, "error");
		char job[32];
		snprintf(job, sizeof job, "%lld", (long long)json_int(data, "job", 0));
		button_set(&bs[nb++], "Retry", 1, id, "retry", job);
	} else if (strcmp(name, WIRE_EV_RETRY) == 0) {
		icon = "🔁";
		snprintf(head, sizeof head, "%s will be tried again (attempt %lld)",
		         json_str(data, "kind") ? json_str(data, "kind") : "job",
		         (long long)json_int(data, "attempt", 0));
		text = json_str(data, "error");
	} else if (strcmp(name, WIRE_EV_RESOLVED) == 0) {
		icon = "✅";
		snprintf(head, sizeof head, "Resolved%s%s", json_str(data, "by") ? " by " : "",
		         json_str(data, "by") ? json_str(data, "by") : "");
		text = json_str(data, "note");
	} else if (strcmp(name, WIRE_EV_UPDATED) == 0) {
		icon = "✏️";
		snprintf(head, sizeof head, "Incident updated");
		text = json_str(data, "summary");
	} else {
		snprintf(head, sizeof head, "%s", name);
	}
	cJSON *ctx = json_new_object();
	json_add_str(ctx, "icon", icon);
	json_add_str(ctx, "headline", head);
	char *t = clip(text, TEXT_MAX);
	if (*t)
		json_add_str(ctx, "text", t);
	free(t);
	buf_free(&lines);
	cJSON *msg = render(d, "step", ctx);
	cJSON_Delete(ctx);
	if (msg && nb)
		json_add(msg, "components", button_rows(bs, nb));
	return msg;
}

static void set_default_channel(struct discord *d, const char *id)
{
	pthread_mutex_lock(&d->mu);
	int fresh = strcmp(d->default_channel, id) != 0;
	str_copy(d->default_channel, sizeof d->default_channel, id);
	pthread_mutex_unlock(&d->mu);
	if (fresh)
		log_info("event=discord_channel name=%s id=%s", log_q(d->channel_ref), id);
}

/* Post the parent message and its thread for a new incident. */
static int open_incident(struct discord *d, struct http_client *hc, int64_t id, const cJSON *data,
                         char *thread, size_t tlen)
{
	char ch[64], parent[64];
	if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, parent, sizeof parent) ==
	    1) {
		str_copy(thread, tlen, parent); /* thread id = parent message id */
		return 0;
	}
	const cJSON *sf = cJSON_GetObjectItemCaseSensitive(data, "surface");
	const char *kind = json_str(sf, "kind");
	const char *channel = kind && strcmp(kind, SURFACE) == 0 ? json_str(sf, "channel") : NULL;
	char defch[32] = "";
	if ((!channel || !*channel) && d->channel_ref[0]) {
		/* A channel name resolves once GUILD_CREATE (or the boot lookup) came;
		 * wait for it rather than drop the incident. */
		int64_t until = time_mono_ms() + 30000;
		for (;;) {
			pthread_mutex_lock(&d->mu);
			str_copy(defch, sizeof defch, d->default_channel);
			pthread_mutex_unlock(&d->mu);
			if (defch[0] || d->stop || time_mono_ms() > until)
				break;
			time_sleep_ms(100, &d->stop);
		}
		if (!defch[0])
			log_error("event=discord_channel_unknown channel=%s incident=%lld "
			          "action=\"not posted; check [discord] channel\"",
			          log_q(d->channel_ref), (long long)id);
		channel = defch[0] ? defch : NULL;
	}
	if (!channel || !*channel)
		return 1; /* not for Discord */
	cache_put(d, id, data);
	cJSON *msg = parent_message(d, id, data);
	if (!msg)
		return -1;
	/* A retry after a crash gets the first message back instead of a second. */
	char nonce[26];
	snprintf(nonce, sizeof nonce, "obi%lld", (long long)id);
	json_add_str(msg, "nonce", nonce);
	json_add_bool(msg, "enforce_nonce", 1);
	char path[160];
	snprintf(path, sizeof path, "/channels/%s/messages", channel);
	long status = 0;
	cJSON *m = NULL;
	int rc = rest(d, hc, "POST", path, msg, &status, &m);
	cJSON_Delete(msg);
	if (rc < 0 || status != 200 || !json_str(m, "id")) {
		if (rc == 0)
			log_rest_error("incident_message", status, m);
		cJSON_Delete(m);
		return -1;
	}
	char mid[64];
	str_copy(mid, sizeof mid, json_str(m, "id"));
	cJSON_Delete(m);
	cJSON *tb = json_new_object();
	char *title = clip(json_str(data, "title") ? json_str(data, "title") : "incident", 80);
	char tname[128];
	snprintf(tname, sizeof tname, "#%lld %s", (long long)id, title);
	free(title);
	json_add_str(tb, "name", tname);
	json_add_int(tb, "auto_archive_duration", 1440);
	snprintf(path, sizeof path, "/channels/%s/messages/%s/threads", channel, mid);
	cJSON *t = NULL;
	rc = rest(d, hc, "POST", path, tb, &status, &t);
	cJSON_Delete(tb);
	/* 160004: the thread exists already (a retry after a crash); its id is mid. */
	if (rc < 0 || (status != 201 && status != 200 && json_int(t, "code", 0) != 160004)) {
		if (rc == 0)
			log_rest_error("incident_thread", status, t);
		cJSON_Delete(t);
		return -1;
	}
	cJSON_Delete(t);
	if (state_thread_put(d->post_state, SURFACE, id, channel, mid) < 0)
		log_warn("event=discord_state_failed incident=%lld", (long long)id);
	str_copy(thread, tlen, mid);
	log_info("event=discord_incident_posted incident=%lld channel=%s message=%s", (long long)id,
	         channel, mid);
	return 0;
}

static void update_parent(struct discord *d, struct http_client *hc, int64_t id, const char *state)
{
	char ch[64], parent[64];
	if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, parent, sizeof parent) != 1)
		return;
	cJSON *rec = incident_record(d, id);
	if (state) {
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "state");
		json_add_str(rec, "state", state);
		cJSON *c = cache_get(d, id);
		if (c) {
			cJSON_DeleteItemFromObjectCaseSensitive(c, "state");
			json_add_str(c, "state", state);
		}
	}
	cJSON *msg = parent_message(d, id, rec);
	cJSON_Delete(rec);
	if (!msg)
		return;
	char path[160];
	snprintf(path, sizeof path, "/channels/%s/messages/%s", ch, parent);
	long status = 0;
	cJSON *out = NULL;
	if (rest(d, hc, "PATCH", path, msg, &status, &out) == 0 && status != 200)
		log_rest_error("incident_update", status, out);
	cJSON_Delete(out);
	cJSON_Delete(msg);
}

/*
 * Approve/Reject buttons live on the plan's thread message; once the
 * incident leaves awaiting_approval they are taken off, so nobody clicks a
 * decision that is already made.  The message id is kept with the incident
 * in the post lane's cache (a restart in between leaves the buttons; a late
 * click is then refused by the queue with a visible reason).
 */
static void remember_plan_message(struct discord *d, int64_t id, const char *mid)
{
	if (!mid)
		return;
	cJSON *c = cache_get(d, id);
	if (!c) {
		cJSON_Delete(incident_record(d, id));
		c = cache_get(d, id);
	}
	if (!c)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_plan_msg");
	json_add_str(c, "_plan_msg", mid);
}

static void retire_plan_buttons(struct discord *d, struct http_client *hc, int64_t id,
                                const char *thread)
{
	cJSON *c = cache_get(d, id);
	const char *mid = json_str(c, "_plan_msg");
	if (!mid || !thread[0])
		return;
	char path[160];
	snprintf(path, sizeof path, "/channels/%s/messages/%s", thread, mid);
	cJSON *b = json_new_object();
	json_add(b, "components", json_new_array());
	long status = 0;
	cJSON *out = NULL;
	if (rest(d, hc, "PATCH", path, b, &status, &out) == 0 && status != 200)
		log_rest_error("plan_buttons", status, out);
	cJSON_Delete(out);
	cJSON_Delete(b);
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_plan_msg");
}

static void post_job(void *arg, struct http_client *hc)
{
	struct post_job *j = arg;
	struct discord *d = j->d;
	const char *name = json_str(j->event, "name");
	int64_t id = json_int(j->event, "incident", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j->event, "data");
	char key[48];
	snprintf(key, sizeof key, "ev:%lld", (long long)j->seq);
	char thread[64] = "";
	/* A refused click is for the timeline and the clicker (ephemeral), not the thread. */
	if (!name || id <= 0 || strcmp(name, WIRE_EV_APPROVAL_REFUSED) == 0 ||
	    state_posted_get(d->post_state, SURFACE, key, NULL, 0) == 1)
		goto done;
	if (strcmp(name, WIRE_EV_OPENED) == 0) {
		int rc = open_incident(d, hc, id, data, thread, sizeof thread);
		if (rc != 0) {
			if (rc < 0)
				log_error("event=discord_post_failed incident=%lld seq=%lld "
				          "what=incident",
				          (long long)id, (long long)j->seq);
			goto done;
		}
	} else {
		char ch[64];
		if (state_thread_get(d->post_state, SURFACE, id, ch, sizeof ch, thread,
		                     sizeof thread) != 1)
			goto done; /* an incident this surface does not show */
	}
	cJSON *msg = step_message(d, name, id, data);
	if (msg) {
		char nonce[26];
		snprintf(nonce, sizeof nonce, "obe%lld", (long long)j->seq);
		json_add_str(msg, "nonce", nonce);
		json_add_bool(msg, "enforce_nonce", 1);
		char path[160];
		snprintf(path, sizeof path, "/channels/%s/messages", thread);
		long status = 0;
		cJSON *m = NULL;
		if (rest(d, hc, "POST", path, msg, &status, &m) == 0 && status == 200) {
			state_posted_put(d->post_state, SURFACE, key, json_str(m, "id"));
			if (cJSON_GetObjectItemCaseSensitive(msg, "components") &&
			    strcmp(name, WIRE_EV_PLAN) == 0)
				remember_plan_message(d, id, json_str(m, "id"));
		} else
			log_error(
			    "event=discord_post_failed incident=%lld seq=%lld status=%ld code=%lld",
			    (long long)id, (long long)j->seq, status,
			    (long long)json_int(m, "code", 0));
		cJSON_Delete(m);
		cJSON_Delete(msg);
	}
	if (strcmp(name, WIRE_EV_STAGE) == 0 &&
	    strcmp(json_str(data, "from") ? json_str(data, "from") : "", WIRE_ST_AWAITING) == 0)
		retire_plan_buttons(d, hc, id, thread);
	if (strcmp(name, WIRE_EV_STAGE) == 0)
		update_parent(d, hc, id, json_str(data, "to"));
	else if (strcmp(name, WIRE_EV_RESOLVED) == 0)
		update_parent(d, hc, id, WIRE_ST_RESOLVED);
	else if (strcmp(name, WIRE_EV_UPDATED) == 0)
		update_parent(d, hc, id, NULL);
done:;
	struct done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_SEQ;
	x->seq = j->seq;
	done_push(d, x);
	post_job_free(j);
}

/* ---------------------------------------------------------- ack lane jobs */

struct ack_job {
	struct discord *d;
	char method[8];
	char path[800];
	cJSON *body;
	char what[32];
	uint64_t token; /* hash of the interaction token */
	int followup;   /* 0: the answer (marks answered); 1: waits for it */
};

static uint64_t token_hash(const char *t)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *t; t++) {
		h ^= (unsigned char)*t;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static void answered_mark(struct discord *d, uint64_t token)
{
	pthread_mutex_lock(&d->amu);
	d->answered[d->answered_n++ % ANSWERED_MAX] = token;
	pthread_cond_broadcast(&d->acv);
	pthread_mutex_unlock(&d->amu);
}

/* Wait until token's answer went out, at most ms.  1 when it did. */
static int answered_wait(struct discord *d, uint64_t token, int64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	int found = 0, rc = 0;
	pthread_mutex_lock(&d->amu);
	while (!found && rc == 0 && !d->stop) {
		for (unsigned i = 0; i < ANSWERED_MAX && !found; i++)
			found = d->answered[i] == token;
		if (!found)
			rc = pthread_cond_timedwait(&d->acv, &d->amu, &until);
	}
	pthread_mutex_unlock(&d->amu);
	return found;
}

static void ack_job_free(void *arg)
{
	struct ack_job *j = arg;
	cJSON_Delete(j->body);
	free(j);
}

static void ack_job(void *arg, struct http_client *hc)
{
	struct ack_job *j = arg;
	long status = 0;
	cJSON *out = NULL;
	char err[256];
	if (j->followup && !answered_wait(j->d, j->token, 4000))
		log_warn("event=discord_followup_unanswered what=%s", j->what);
	/* Interaction answers are not retried blindly: a second callback is refused. */
	int rc = discord_rest_call(j->d->rest, hc, j->method, j->path, j->body, &status, &out, err,
	                           sizeof err);
	if (!j->followup)
		answered_mark(j->d, j->token);
	if (rc < 0)
		log_warn("event=discord_answer_failed what=%s error=%s", j->what, log_q(err));
	else if (status >= 300)
		log_rest_error(j->what, status, out);
	cJSON_Delete(out);
	ack_job_free(j);
}

/* An answer (followup 0) or a follow-up (1) for the interaction with token. */
static void ack_push(struct discord *d, const char *what, const char *method, const char *path,
                     cJSON *body, const char *token, int followup)
{
	struct ack_job *j = xcalloc(1, sizeof *j);
	j->d = d;
	str_copy(j->what, sizeof j->what, what);
	str_copy(j->method, sizeof j->method, method);
	str_copy(j->path, sizeof j->path, path);
	j->body = body;
	j->token = token_hash(token);
	j->followup = followup;
	discord_lane_push(followup ? d->follow : d->ack, ack_job, ack_job_free, j);
}

static cJSON *commands_json(void)
{
	static const char *const text =
	    "[{\"name\":\"incident\",\"type\":1,\"description\":\"Declare and manage incidents "
	    "with opsbot\","
	    "\"options\":["
	    "{\"type\":1,\"name\":\"declare\",\"description\":\"Open a new incident\",\"options\":["
	    "{\"type\":3,\"name\":\"title\",\"description\":\"What is wrong, in a few "
	    "words\",\"required\":true,\"max_length\":200},"
	    "{\"type\":3,\"name\":\"service\",\"description\":\"The affected "
	    "service\",\"max_length\":100},"
	    "{\"type\":3,\"name\":\"severity\",\"description\":\"How bad it is\",\"choices\":["
	    "{\"name\":\"critical\",\"value\":\"critical\"},{\"name\":\"high\",\"value\":\"high\"},"
	    "{\"name\":\"medium\",\"value\":\"medium\"},{\"name\":\"low\",\"value\":\"low\"},"
	    "{\"name\":\"info\",\"value\":\"info\"}]},"
	    "{\"type\":3,\"name\":\"summary\",\"description\":\"More "
	    "detail\",\"max_length\":1000}]},"
	    "{\"type\":1,\"name\":\"status\",\"description\":\"Show one incident\",\"options\":["
	    "{\"type\":4,\"name\":\"id\",\"description\":\"Incident "
	    "number\",\"required\":true,\"min_value\":1}]},"
	    "{\"type\":1,\"name\":\"list\",\"description\":\"List open incidents\"},"
	    "{\"type\":1,\"name\":\"resolve\",\"description\":\"Mark an incident "
	    "resolved\",\"options\":["
	    "{\"type\":4,\"name\":\"id\",\"description\":\"Incident "
	    "number\",\"required\":true,\"min_value\":1},"
	    "{\"type\":3,\"name\":\"note\",\"description\":\"What fixed it\",\"max_length\":500}]},"
	    "{\"type\":1,\"name\":\"pause\",\"description\":\"Pause an incident's "
	    "automation\",\"options\":["
	    "{\"type\":4,\"name\":\"id\",\"description\":\"Incident "
	    "number\",\"required\":true,\"min_value\":1}]},"
	    "{\"type\":1,\"name\":\"resume\",\"description\":\"Resume a paused "
	    "incident\",\"options\":["
	    "{\"type\":4,\"name\":\"id\",\"description\":\"Incident "
	    "number\",\"required\":true,\"min_value\":1}]},"
	    "{\"type\":1,\"name\":\"help\",\"description\":\"How to use /incident\"}]}]";
	cJSON *c = NULL;
	char err[128];
	if (json_parse(text, strlen(text), &c, err, sizeof err) < 0)
		log_panic("event=discord_commands_json_broken error=%s", log_q(err));
	return c;
}

static void boot_job(void *arg, struct http_client *hc)
{
	struct discord *d = arg;
	int64_t backoff = 500;
	char url[512] = "";
	while (!d->stop) {
		long status = 0;
		cJSON *out = NULL;
		char err[256];
		if (discord_rest_call(d->rest, hc, "GET", "/gateway/bot", NULL, &status, &out, err,
		                      sizeof err) == 0 &&
		    status == 200 && json_str(out, "url")) {
			str_copy(url, sizeof url, json_str(out, "url"));
			const cJSON *l =
			    cJSON_GetObjectItemCaseSensitive(out, "session_start_limit");
			int64_t left = json_int(l, "remaining", -1);
			log_info("event=discord_gateway_url sessions_left=%lld", (long long)left);
			if (left == 0) {
				/* Identifying past the daily limit resets the token: wait it out.
				 */
				int64_t wait = json_int(l, "reset_after", 60000);
				log_warn("event=discord_identify_limit wait_ms=%lld",
				         (long long)wait);
				time_sleep_ms(wait, &d->stop);
			}
			cJSON_Delete(out);
			break;
		}
		if (status == 401) {
			cJSON_Delete(out);
			log_error("event=discord_stopped reason=\"token refused (401)\"");
			return;
		}
		log_warn("event=discord_gateway_lookup_failed status=%ld error=%s retry_ms=%lld",
		         status, log_q(err), (long long)backoff);
		cJSON_Delete(out);
		time_sleep_ms(backoff, &d->stop);
		if (backoff < 30000)
			backoff *= 2;
	}
	if (d->stop)
		return;
	cJSON *cmds = commands_json();
	char path[160];
	if (d->guild_id[0])
		snprintf(path, sizeof path, "/applications/%s/guilds/%s/commands", d->app_id,
		         d->guild_id);
	else
		snprintf(path, sizeof path, "/applications/%s/commands", d->app_id);
	long status = 0;
	cJSON *out = NULL;
	if (rest(d, hc, "PUT", path, cmds, &status, &out) == 0 && status == 200)
		log_info("event=discord_commands_registered scope=%s count=%d",
		         d->guild_id[0] ? "guild" : "global", cJSON_GetArraySize(out));
	else
		log_rest_error("commands", status, out);
	cJSON_Delete(out);
	cJSON_Delete(cmds);
	pthread_mutex_lock(&d->mu);
	int need_channel = d->channel_ref[0] && !d->default_channel[0] && d->guild_id[0];
	pthread_mutex_unlock(&d->mu);
	if (need_channel) {
		snprintf(path, sizeof path, "/guilds/%s/channels", d->guild_id);
		out = NULL;
		if (rest(d, hc, "GET", path, NULL, &status, &out) == 0 && status == 200) {
			const cJSON *c;
			cJSON_ArrayForEach(c, out)
			{
				const char *name = json_str(c, "name"), *cid = json_str(c, "id");
				if (name && cid && json_int(c, "type", -1) == 0 &&
				    strcmp(name, d->channel_ref) == 0)
					set_default_channel(d, cid);
			}
		} else {
			log_rest_error("guild_channels", status, out);
		}
		cJSON_Delete(out);
	}
	struct done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_BOOT;
	str_copy(x->url, sizeof x->url, url);
	done_push(d, x);
}

/* The gateway gave up resuming: a fresh GET /gateway/bot (discord_gw.c). */
static void gw_url_job(void *arg, struct http_client *hc)
{
	struct discord *d = arg;
	long status = 0;
	cJSON *out = NULL;
	char err[256];
	struct done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_BOOT;
	if (discord_rest_call(d->rest, hc, "GET", "/gateway/bot", NULL, &status, &out, err,
	                      sizeof err) == 0 &&
	    status == 200 && json_str(out, "url")) {
		str_copy(x->url, sizeof x->url, json_str(out, "url"));
		log_info("event=discord_gateway_url reason=\"resume failed\"");
	} else {
		log_warn("event=discord_gateway_lookup_failed status=%ld error=%s", status,
		         log_q(err));
	}
	cJSON_Delete(out);
	done_push(d, x);
}

static void gw_need_url(void *arg)
{
	struct discord *d = arg;
	discord_lane_push(d->ack, gw_url_job, NULL, d);
}

/* ----------------------------------------------------------- interactions */

/* Where an interaction's answer goes: REST callback, or the HTTP reply. */
struct reply_to {
	char id[32];
	char token[512];
	struct httpd_x *x; /* HTTP interactions: answer inline */
};

static void answer(struct discord *d, struct reply_to *to, int type, cJSON *data)
{
	cJSON *r = json_new_object();
	json_add_int(r, "type", type);
	if (data)
		json_add(r, "data", data);
	if (to->x) {
		char *text = json_print(r);
		httpd_reply_str(to->x, 200, "application/json", text);
		free(text);
		to->x = NULL;
		cJSON_Delete(r);
		answered_mark(d, token_hash(to->token));
		return;
	}
	char path[600];
	snprintf(path, sizeof path, "/interactions/%s/%s/callback", to->id, to->token);
	ack_push(d, "callback", "POST", path, r, to->token, 0);
}

static cJSON *text_data(const char *content, int flags)
{
	cJSON *m = json_new_object();
	json_add_str(m, "content", content);
	if (flags)
		json_add_int(m, "flags", flags);
	json_add(m, "allowed_mentions", json_new_object());
	return m;
}

static void help(struct discord *d, struct reply_to *to, const char *why)
{
	cJSON *ctx = json_new_object();
	if (why)
		json_add_str(ctx, "why", why);
	cJSON *msg = render(d, "help", ctx);
	cJSON_Delete(ctx);
	if (!msg) /* a broken template still gets the user an answer */
		msg = text_data("opsbot could not show its help; see /incident help later.", 0);
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "flags");
	json_add_int(msg, "flags", EPHEMERAL);
	answer(d, to, 4, msg);
}

/* A follow-up after a deferred answer: edit the loading message. */
static void followup_edit(struct discord *d, const char *token, const char *content)
{
	char path[700];
	snprintf(path, sizeof path, "/webhooks/%s/%s/messages/@original", d->app_id, token);
	cJSON *m = json_new_object();
	json_add_str(m, "content", content);
	json_add(m, "allowed_mentions", json_new_object());
	ack_push(d, "followup_edit", "PATCH", path, m, token, 1);
}

static void followup_ephemeral(struct discord *d, const char *token, const char *content)
{
	char path[700];
	snprintf(path, sizeof path, "/webhooks/%s/%s", d->app_id, token);
	ack_push(d, "followup", "POST", path, text_data(content, EPHEMERAL), token, 1);
}

struct pending {
	struct discord *d;
	char token[512];
	char what[16];
	int edit; /* 1: edit @original; 0: ephemeral follow-up only on error */
};

static void queue_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	struct pending *p = arg;
	struct discord *d = p->d;
	char msg[2000];
	if (rc == 0) {
		if (strcmp(p->what, "declare") == 0) {
			snprintf(msg, sizeof msg,
			         "Incident #%lld %s. Its message and thread are in this channel; "
			         "opsbot posts every step there.",
			         (long long)json_int(reply, "incident", 0),
			         json_bool(reply, "created", 1) ? "is open" : "was already open");
		} else if (strcmp(p->what, "status") == 0) {
			const cJSON *i = cJSON_GetObjectItemCaseSensitive(reply, "incident");
			char *title = md(json_str(i, "title"), 200);
			snprintf(msg, sizeof msg,
			         "Incident #%lld: %s — state %s, severity %s, service %s.",
			         (long long)json_int(i, "id", 0), title,
			         json_str(i, "state") ? json_str(i, "state") : "?",
			         json_str(i, "severity") ? json_str(i, "severity") : "?",
			         json_str(i, "service") ? json_str(i, "service") : "?");
			free(title);
		} else if (strcmp(p->what, "list") == 0) {
			struct buf l = {.max = 1900};
			const cJSON *items = cJSON_GetObjectItemCaseSensitive(reply, "items");
			const cJSON *i;
			int n = 0;
			cJSON_ArrayForEach(i, items)
			{
				char *title = md(json_str(i, "title"), 100);
				int full = buf_appendf(&l, "%s#%lld %s (%s)", n ? "\n" : "",
				                       (long long)json_int(i, "id", 0), title,
				                       json_str(i, "state") ? json_str(i, "state")
				                                            : "?") < 0;
				free(title);
				if (full)
					break;
				n++;
			}
			snprintf(msg, sizeof msg, "%s", n ? l.data : "No open incidents.");
			buf_free(&l);
		} else {
			snprintf(msg, sizeof msg,
			         "Done: %s recorded. The incident's thread shows it.", p->what);
		}
		if (p->edit)
			followup_edit(d, p->token, msg);
	} else {
		const char *why = rc == -2 ? json_str(reply, "message") : NULL;
		snprintf(
		    msg, sizeof msg,
		    "opsbot could not do that: %s. Nothing was changed; try again in a moment%s.",
		    why ? why : (err && *err ? err : "the queue did not answer"),
		    rc == -2 ? "" : " (opsbot is retrying its connection)");
		if (p->edit)
			followup_edit(d, p->token, msg);
		else
			followup_ephemeral(d, p->token, msg);
		log_warn("event=discord_queue_refused what=%s rc=%d error=%s", p->what, rc,
		         log_q(why ? why : err));
	}
	free(p);
}

static void queue_send(struct discord *d, cJSON *req, const char *token, const char *what, int edit)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->d = d;
	str_copy(p->token, sizeof p->token, token);
	str_copy(p->what, sizeof p->what, what);
	p->edit = edit;
	bot_call(d->b, req, d->queue_timeout_ms, 2, queue_done, p);
}

static const cJSON *opt(const cJSON *opts, const char *name)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, opts)
	{
		const char *n = json_str(o, "name");
		if (n && strcmp(n, name) == 0)
			return cJSON_GetObjectItemCaseSensitive(o, "value");
	}
	return NULL;
}

static int seen_before(struct discord *d, const char *id)
{
	for (int i = 0; i < d->seen_n && i < SEEN_MAX; i++)
		if (strcmp(d->seen[i], id) == 0)
			return 1;
	str_copy(d->seen[d->seen_n % SEEN_MAX], sizeof d->seen[0], id);
	d->seen_n++;
	if (d->seen_n >= 2 * SEEN_MAX)
		d->seen_n = SEEN_MAX; /* keep the index bounded; the ring stays full */
	return 0;
}

static void on_command(struct discord *d, const cJSON *in, struct reply_to *to, const char *user,
                       const char *channel)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
	const char *cname = json_str(data, "name");
	const cJSON *sub = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(data, "options"), 0);
	const char *sname = json_str(sub, "name");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(sub, "options");
	if (!cname || strcmp(cname, "incident") != 0 || json_int(sub, "type", 0) != 1 || !sname) {
		help(d, to, "That command needs a subcommand.");
		return;
	}
	char key[64];
	snprintf(key, sizeof key, "discord:%s", to->id);
	if (strcmp(sname, "help") == 0) {
		help(d, to, NULL);
		return;
	}
	if (strcmp(sname, "declare") == 0) {
		const cJSON *title = opt(opts, "title");
		const cJSON *service = opt(opts, "service");
		const cJSON *sev = opt(opts, "severity");
		const cJSON *summary = opt(opts, "summary");
		static const char *const sevs[] = {"critical", "high", "medium",
		                                   "low",      "info", NULL};
		int sev_ok = !sev;
		for (int i = 0; sevs[i] && cJSON_IsString(sev); i++)
			sev_ok |= strcmp(sev->valuestring, sevs[i]) == 0;
		if (!cJSON_IsString(title) || !*title->valuestring || !sev_ok ||
		    (service && !cJSON_IsString(service))) {
			help(
			    d, to,
			    "To declare an incident, give it a title (and optionally a service and "
			    "one of the listed severities).");
			return;
		}
		answer(d, to, 5, NULL); /* the queue answers next; show "thinking" meanwhile */
		cJSON *req = wire_new(WIRE_SUBMIT, 0);
		json_add_str(req, "what", "incident");
		json_add_str(req, "key", key);
		cJSON *spec = json_new_object();
		json_add_str(spec, "title", title->valuestring);
		json_add_str(spec, "service",
		             cJSON_IsString(service) ? service->valuestring : "unknown");
		json_add_str(spec, "severity", cJSON_IsString(sev) ? sev->valuestring : "medium");
		json_add_str(spec, "source", "discord");
		if (cJSON_IsString(summary))
			json_add_str(spec, "summary", summary->valuestring);
		cJSON *sf = json_new_object();
		json_add_str(sf, "kind", SURFACE);
		json_add_str(sf, "channel", channel);
		json_add_str(sf, "user", user);
		/* The id the approval policy knows: the requester rule needs it. */
		const cJSON *mu = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(in, "member"), "user");
		if (!mu)
			mu = cJSON_GetObjectItemCaseSensitive(in, "user");
		if (json_str(mu, "id"))
			json_add_str(sf, "user_id", json_str(mu, "id"));
		json_add(spec, "surface", sf);
		json_add(req, "spec", spec);
		queue_send(d, req, to->token, "declare", 1);
		return;
	}
	if (strcmp(sname, "list") == 0) {
		answer(d, to, 5, text_data("", EPHEMERAL));
		cJSON *req = wire_new(WIRE_QUERY, 0);
		json_add_str(req, "what", "incidents");
		json_add_int(req, "limit", 20);
		queue_send(d, req, to->token, "list", 1);
		return;
	}
	const cJSON *idj = opt(opts, "id");
	int64_t id = cJSON_IsNumber(idj) ? (int64_t)idj->valuedouble : 0;
	if (id <= 0) {
		help(d, to, "That needs the incident number, e.g. `id:12`.");
		return;
	}
	if (strcmp(sname, "status") == 0) {
		answer(d, to, 5, text_data("", EPHEMERAL));
		cJSON *req = wire_new(WIRE_QUERY, id);
		json_add_str(req, "what", "incident");
		queue_send(d, req, to->token, "status", 1);
		return;
	}
	if (strcmp(sname, "resolve") == 0 || strcmp(sname, "pause") == 0 ||
	    strcmp(sname, "resume") == 0) {
		answer(d, to, 5, text_data("", EPHEMERAL));
		cJSON *req = wire_new(WIRE_COMMAND, id);
		json_add_str(req, "action", sname);
		json_add_str(req, "user", user);
		json_add_str(req, "surface", SURFACE);
		json_add_str(req, "key", key);
		const cJSON *note = opt(opts, "note");
		if (cJSON_IsString(note))
			json_add_str(req, "note", note->valuestring);
		queue_send(d, req, to->token, sname, 1);
		return;
	}
	help(d, to, "opsbot does not know that subcommand.");
}

static void on_button(struct discord *d, const cJSON *in, struct reply_to *to, const char *user)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
	const char *cid = json_str(data, "custom_id");
	char action[16] = "", arg[101] = "";
	long long incident = 0;
	int n = cid ? sscanf(cid, "ob:%lld:%15[a-z]:%100s", &incident, action, arg) : 0;
	if (n < 2 || incident <= 0) {
		answer(d, to, 4,
		       text_data("That button is not one opsbot understands; nothing was done.",
		                 EPHEMERAL));
		return;
	}
	char key[64];
	snprintf(key, sizeof key, "discord:%s", to->id);
	cJSON *req;
	if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0) {
		if (!arg[0]) {
			answer(d, to, 4,
			       text_data("That approval button has no plan; nothing was done.",
			                 EPHEMERAL));
			return;
		}
		req = wire_new(WIRE_APPROVE, incident);
		json_add_str(req, "plan", arg);
		/* The queue judges by the user id (policy.conf), not the display name. */
		const cJSON *mu = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(in, "member"), "user");
		if (!mu)
			mu = cJSON_GetObjectItemCaseSensitive(in, "user");
		json_add_str(req, "user", json_str(mu, "id") ? json_str(mu, "id") : user);
		json_add_str(req, "surface", SURFACE);
		json_add_str(req, "decision", action);
		json_add_str(req, "key", key);
	} else if (strcmp(action, "ack") == 0 || strcmp(action, "resolve") == 0 ||
	           strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
	           strcmp(action, "retry") == 0) {
		req = wire_new(WIRE_COMMAND, incident);
		json_add_str(req, "action", action);
		json_add_str(req, "user", user);
		json_add_str(req, "surface", SURFACE);
		json_add_str(req, "key", key);
		if (strcmp(action, "retry") == 0) {
			char *end = NULL;
			long long job = strtoll(arg, &end, 10);
			if (!arg[0] || *end || job <= 0) {
				cJSON_Delete(req);
				answer(
				    d, to, 4,
				    text_data("That retry button names no job; nothing was done.",
				              EPHEMERAL));
				return;
			}
			json_add_int(req, "job", job);
		}
	} else {
		answer(d, to, 4,
		       text_data("That button is not one opsbot understands; nothing was done.",
		                 EPHEMERAL));
		return;
	}
	answer(d, to, 6, NULL); /* acknowledged; the thread shows the outcome */
	queue_send(d, req, to->token, action, 0);
}

/*
 * Handle one interaction (gateway or HTTP).  Malformed ones are logged and
 * skipped; over HTTP they get 400.
 */
static void on_interaction(struct discord *d, const cJSON *in, struct httpd_x *x)
{
	struct reply_to to = {.x = x};
	const char *id = json_str(in, "id");
	const char *token = json_str(in, "token");
	int type = (int)json_int(in, "type", 0);
	if (!id || !token || type < 1 || strlen(id) >= sizeof to.id ||
	    strlen(token) >= sizeof to.token) {
		d->bad_interactions++;
		log_warn("event=discord_interaction_skipped reason=\"missing id, token or type\"");
		if (x)
			httpd_reply_str(x, 400, "application/json",
			                "{\"error\":\"malformed interaction\"}");
		return;
	}
	str_copy(to.id, sizeof to.id, id);
	str_copy(to.token, sizeof to.token, token);
	if (type == 1) {
		answer(d, &to, 1, NULL);
		return;
	}
	if (seen_before(d, id)) {
		log_info("event=discord_interaction_duplicate id=%s", id);
		if (x)
			httpd_reply_str(x, 400, "application/json", "{\"error\":\"duplicate\"}");
		return;
	}
	d->interactions++;
	const cJSON *member = cJSON_GetObjectItemCaseSensitive(in, "member");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(member, "user");
	if (!user)
		user = cJSON_GetObjectItemCaseSensitive(in, "user");
	const char *uid = json_str(user, "id");
	const char *uname = json_str(user, "username");
	char who[160];
	snprintf(who, sizeof who, "%s (%s)", uname ? uname : "unknown", uid ? uid : "?");
	const char *channel = json_str(in, "channel_id");
	log_info("event=discord_interaction id=%s type=%d user=%s", id, type, log_q(who));
	if (type == 2)
		on_command(d, in, &to, who, channel ? channel : "");
	else if (type == 3)
		on_button(d, in, &to, who);
	else
		answer(d, &to, 4,
		       text_data("opsbot does not handle that kind of interaction.", EPHEMERAL));
	if (to.x) /* every path above answers; this is a guard against a silent drop */
		httpd_reply_str(to.x, 202, "application/json", "{}");
}

/* ------------------------------------------------------- gateway callbacks */

static void gw_dispatch(void *arg, const char *t, const cJSON *d0)
{
	struct discord *d = arg;
	if (strcmp(t, "INTERACTION_CREATE") == 0) {
		on_interaction(d, d0, NULL);
	} else if (strcmp(t, "GUILD_CREATE") == 0) {
		const cJSON *chans = cJSON_GetObjectItemCaseSensitive(d0, "channels");
		const cJSON *c;
		cJSON_ArrayForEach(c, chans)
		{
			const char *cid = json_str(c, "id"), *name = json_str(c, "name");
			if (!cid || !name)
				continue;
			int k = 0;
			while (k < d->nchans && strcmp(d->chans[k].id, cid) != 0)
				k++;
			if (k == d->nchans) {
				if (d->nchans == MAX_CHANNELS)
					continue;
				d->nchans++;
			}
			str_copy(d->chans[k].id, sizeof d->chans[k].id, cid);
			str_copy(d->chans[k].name, sizeof d->chans[k].name, name);
			if (d->channel_ref[0] && strcmp(name, d->channel_ref) == 0)
				set_default_channel(d, cid);
		}
	}
}

static void gw_stopped(void *arg, int code)
{
	(void)arg;
	(void)code; /* discord_gw logged the reason once; HTTP interactions keep working */
}

/* ------------------------------------------------------- HTTP interactions */

static void http_interaction(struct httpd_x *x, void *arg)
{
	struct discord *d = arg;
	const struct httpd_req *r = httpd_request(x);
	char sig[160], ts[32];
	if (httpd_header(x, "X-Signature-Ed25519", sig, sizeof sig) < 0 ||
	    httpd_header(x, "X-Signature-Timestamp", ts, sizeof ts) < 0 ||
	    !discord_sig_verify(d->public_key, sig, ts, r->body, r->body_len)) {
		log_warn("event=discord_bad_signature peer=%s", log_q(r->peer));
		httpd_reply_str(x, 401, "application/json",
		                "{\"error\":\"invalid request signature\"}");
		return;
	}
	char *end = NULL;
	long long t = strtoll(ts, &end, 10);
	int64_t skew = time_now_ms() - t * 1000;
	if (*end || skew > d->max_skew_ms || skew < -d->max_skew_ms) {
		log_warn("event=discord_stale_signature skew_ms=%lld", (long long)skew);
		httpd_reply_str(x, 401, "application/json",
		                "{\"error\":\"stale request timestamp\"}");
		return;
	}
	cJSON *in = NULL;
	char err[128];
	if (json_parse_object(r->body, r->body_len, &in, err, sizeof err) < 0) {
		httpd_reply_str(x, 400, "application/json",
		                "{\"error\":\"body is not a JSON object\"}");
		return;
	}
	on_interaction(d, in, x);
	cJSON_Delete(in);
}

/* --------------------------------------------------------------- surface */

static int discord_init(struct bot *b, struct config *cfg, void **priv)
{
	if (!config_has_section(cfg, SURFACE))
		return 0;
	if (!config_bool(cfg, SURFACE, "enabled", 1))
		return 0;
	const char *token = config_secret("DISCORD_BOT_TOKEN");
	const char *api = config_str(cfg, SURFACE, "api", "https://discord.com/api/v10");
	const char *app = config_str(cfg, SURFACE, "application_id", NULL);
	const char *guild = config_str(cfg, SURFACE, "guild_id", "");
	const char *channel = config_str(cfg, SURFACE, "channel", "");
	int use_gw = config_bool(cfg, SURFACE, "gateway", 1);
	const char *pk = config_str(cfg, SURFACE, "public_key", "");
	const char *ipath = config_str(cfg, SURFACE, "interactions_path", "/discord/interactions");
	int64_t skew = config_duration_ms(cfg, SURFACE, "max_skew", 5 * 60 * 1000);
	const char *tdir = config_str(cfg, SURFACE, "templates", "templates/discord");
	int gps = (int)config_int(cfg, SURFACE, "global_per_sec", 50, 1, 100000);
	int64_t gap = config_duration_ms(cfg, SURFACE, "identify_gap", 5000);
	int64_t iwmin = config_duration_ms(cfg, SURFACE, "invalid_session_wait_min", 1000);
	int64_t iwmax = config_duration_ms(cfg, SURFACE, "invalid_session_wait_max", 5000);
	int64_t qt = config_duration_ms(cfg, SURFACE, "queue_timeout", 5000);
	if (!token) {
		config_error(cfg, SURFACE, "application_id",
		             "DISCORD_BOT_TOKEN is not set in the environment");
		return -1;
	}
	if (!app || !*app || strlen(app) > 31) {
		config_error(cfg, SURFACE, "application_id",
		             "application_id is required (a snowflake)");
		return -1;
	}
	unsigned char k[32];
	if (*pk && discord_sig_hex(pk, k, sizeof k) < 0) {
		config_error(cfg, SURFACE, "public_key", "public_key must be 64 hex digits");
		return -1;
	}
	if (iwmax < iwmin) {
		config_error(cfg, SURFACE, "invalid_session_wait_max",
		             "must not be less than invalid_session_wait_min");
		return -1;
	}
	struct template_set *tpl = NULL;
	char err[512];
	if (template_set_load(tdir, &tpl, err, sizeof err) < 0 ||
	    !template_set_has(tpl, "incident") || !template_set_has(tpl, "step") ||
	    !template_set_has(tpl, "help")) {
		config_error(cfg, SURFACE, "templates", "templates %s: %s", tdir,
		             tpl ? "needs incident, step and help" : err);
		template_set_free(tpl);
		return -1;
	}
	struct discord *d = xcalloc(1, sizeof *d);
	d->b = b;
	d->tpl = tpl;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->amu, NULL);
	pthread_cond_init(&d->acv, NULL);
	str_copy(d->app_id, sizeof d->app_id, app);
	str_copy(d->guild_id, sizeof d->guild_id, guild);
	str_copy(d->channel_ref, sizeof d->channel_ref, channel);
	/* A numeric channel is an id already; a name waits for GUILD_CREATE. */
	if (*channel && strspn(channel, "0123456789") == strlen(channel))
		str_copy(d->default_channel, sizeof d->default_channel, channel);
	str_copy(d->public_key, sizeof d->public_key, pk);
	d->max_skew_ms = skew;
	d->queue_timeout_ms = (int)qt;
	if (state_open(b->state_path, &d->post_state, err, sizeof err) < 0) {
		config_error(cfg, "bot", "state", "%s", err);
		template_set_free(tpl);
		free(d);
		return -1;
	}
	d->rest = discord_rest_new(api, token, gps, 120000);
	d->ack = discord_lane_start("discord-ack");
	d->follow = discord_lane_start("discord-follow");
	d->post = discord_lane_start("discord-post");
	if (use_gw) {
		struct discord_gw_cfg gc = {.token = token,
		                            .intents = INTENTS,
		                            .identify_gap_ms = gap,
		                            .invalid_wait_min_ms = iwmin,
		                            .invalid_wait_max_ms = iwmax};
		struct discord_gw_ops ops = {
		    .dispatch = gw_dispatch, .stopped = gw_stopped, .need_url = gw_need_url};
		if (discord_gw_new(&d->gw, b->lws, &gc, &ops, d, err, sizeof err) < 0)
			log_fatal("event=discord_gateway_failed error=%s", log_q(err));
	}
	if (*pk && httpd_route(b->httpd, "POST", ipath, http_interaction, d) < 0)
		log_fatal("event=discord_route_failed path=%s", log_q(ipath));
	discord_lane_push(d->ack, boot_job, NULL, d);
	log_info("event=discord_enabled gateway=%d http_interactions=%d guild=%s", use_gw, *pk != 0,
	         *guild ? guild : "(global)");
	*priv = d;
	return 1;
}

static void discord_on_event(struct bot *b, void *priv, const cJSON *event, int64_t seq)
{
	(void)b;
	struct discord *d = priv;
	struct post_job *j = xcalloc(1, sizeof *j);
	j->d = d;
	j->event = json_dup(event);
	j->seq = seq;
	discord_lane_push(d->post, post_job, post_job_free, j);
}

static void discord_tick(struct bot *b, void *priv)
{
	struct discord *d = priv;
	pthread_mutex_lock(&d->mu);
	struct done *list = d->done;
	d->done = d->done_tail = NULL;
	pthread_mutex_unlock(&d->mu);
	while (list) {
		struct done *n = list->next;
		if (list->kind == DONE_SEQ)
			bot_surface_done(b, SURFACE, list->seq);
		else if (list->kind == DONE_BOOT && d->gw && list->url[0])
			discord_gw_set_url(d->gw, list->url);
		free(list);
		list = n;
	}
	if (d->gw)
		discord_gw_tick(d->gw);
}

static void discord_fini(struct bot *b, void *priv)
{
	(void)b;
	struct discord *d = priv;
	d->stop = 1;
	pthread_mutex_lock(&d->amu);
	pthread_cond_broadcast(&d->acv); /* a follow-up waiting for its answer gives up */
	pthread_mutex_unlock(&d->amu);
	discord_gw_free(d->gw);
	discord_lane_stop(d->ack);
	discord_lane_stop(d->follow);
	discord_lane_stop(d->post);
	while (d->done) {
		struct done *n = d->done->next;
		free(d->done);
		d->done = n;
	}
	for (size_t i = 0; i < sizeof d->cache / sizeof d->cache[0]; i++)
		cJSON_Delete(d->cache[i].rec);
	struct discord_rest_stats rs;
	discord_rest_stats(d->rest, &rs);
	log_info("event=discord_stopped interactions=%ld bad_interactions=%ld rest_calls=%ld "
	         "r429_route=%ld r429_global=%ld",
	         d->interactions, d->bad_interactions, rs.calls, rs.r429_route, rs.r429_global);
	discord_rest_free(d->rest);
	state_close(d->post_state);
	template_set_free(d->tpl);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->amu);
	pthread_cond_destroy(&d->acv);
	free(d);
}

const struct surface discord_surface = {
    .name = SURFACE,
    .init = discord_init,
    .on_event = discord_on_event,
    .tick = discord_tick,
    .fini = discord_fini,
};
