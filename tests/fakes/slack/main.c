/*
 * NAME
 *   fake-slack - a local Slack stand-in speaking Slack's wire protocol
 *
 * SYNOPSIS
 *   fake-slack [--port N] [--port-file F] [--post-rate R] [--post-burst B]
 *              [--ack-timeout-ms MS] [--max-retries N] [--retry-after S]
 *              [--refresh-grace-ms MS] [--ping-ms MS] [--channel ID=name]...
 *
 * DESCRIPTION
 *   Serves on 127.0.0.1 (port 0 = random, written to --port-file):
 *     /api/<method>      the Web API (web.c): auth.test,
 *                        apps.connections.open, chat.postMessage,
 *                        chat.update, chat.delete, chat.postEphemeral,
 *                        chat.getPermalink, reactions.add, users.info,
 *                        conversations.info, conversations.replies,
 *                        conversations.history, views.open, views.update,
 *                        files.getUploadURLExternal,
 *                        files.completeUploadExternal; POST /upload/<id>
 *     /link/?ticket=T    Socket Mode (socket.c)
 *     /response/<id>     response_url posts (interact.c): ephemeral,
 *                        in_channel, replace_original, delete_original;
 *                        5 uses within 30 minutes
 *     /control/...       for tests and the demo (below)
 *   It is the demo's workspace too: GET /control/dump?channel=C prints a
 *   channel with its threads as plain text.
 *
 * CONTROL API (JSON bodies; answers JSON)
 *   Channels must exist: C0INCIDENT (#incidents) and C0GENERAL (#general)
 *   do from the start; --channel and /control/channel add more, and the
 *   three calls below create the channel they act in.
 *   POST /control/channel    {id, name}  a channel that exists from now on
 *   GET  /control/channels
 *   POST /control/slash      {channel, user, text, command="/incident"}
 *   POST /control/click      {channel, user, message_ts, action_id[, block_id,
 *                            value]}  presses that button of the stored
 *                            message (404 when the message has none): text,
 *                            value and block_id come from the message
 *   POST /control/event      {event:{...}}  an events_api envelope; a
 *                            message (or app_mention) event's message is
 *                            stored, so its thread can be replied to
 *   POST /control/submit     {view_id, user, inputs:{action_id:text} |
 *                            values:{...}}  Submit on an open modal
 *   GET  /control/views[?id=V]  modals: open, errors, submissions
 *   POST /control/raw        body sent as-is to one socket (malformed input)
 *   GET  /control/messages?channel=C[&thread=TS]   top level, or one thread
 *   GET  /control/ephemeral?channel=C              ephemeral and ack replies
 *   GET  /control/envelope?id=E, /control/envelopes (each with its payload),
 *        /control/stats
 *   GET  /control/dump?channel=C                   text for a person
 *   POST /control/drop       close every socket without a close frame
 *   POST /control/disconnect {reason: warning|refresh_requested|link_disabled}
 *                            (link_disabled also stops connection tickets)
 *   POST /control/fail       {status: 429|500, count: N}
 *   POST /control/stall      {on: true|false}   ignore acks
 *   POST /control/stall      {posts: N}  store the next N chat.postMessage
 *                            calls but never answer them (a crash-window
 *                            test); {posts: 0} answers the held ones 500
 *   POST /control/config     {post_rate, post_burst, ack_timeout_ms, ping_ms,
 *                             max_retries, retry_after_s, refresh_grace_ms,
 *                             trigger_ttl_ms, socket_mode}
 *
 * TRUST
 *   A test tool: listens on loopback only; tokens default to xoxb-fake and
 *   xapp-fake (SLACK_BOT_TOKEN / SLACK_APP_TOKEN override them).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bot/httpd.h"
#include "fake_slack.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "page.h"

struct fs fs;
static volatile sig_atomic_t stop;
static lws_sorted_usec_list_t tick_sul;

int64_t fs_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* A query parameter into buf; 0, or -1 when absent. */
static int qget(const char *query, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "&");
			if (n >= len)
				return -1;
			memcpy(buf, p + klen + 1, n);
			buf[n] = '\0';
			return 0;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return -1;
}

static void reply_json(struct httpd_x *x, int status, cJSON *o)
{
	char *s = json_print(o);
	httpd_reply(x, status, "application/json", s, strlen(s), NULL);
	free(s);
	cJSON_Delete(o);
}

static void reply_err(struct httpd_x *x, int status, const char *msg)
{
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 0);
	json_add_str(o, "error", msg);
	reply_json(x, status, o);
}

static cJSON *body_obj(struct httpd_x *x)
{
	const struct httpd_req *r = httpd_request(x);
	cJSON *o = NULL;
	char err[160];

	if (r->body_len == 0)
		return json_new_object();
	if (json_parse_object(r->body, r->body_len, &o, err, sizeof err) < 0) {
		reply_err(x, 400, err);
		return NULL;
	}
	return o;
}

static cJSON *env_json(const struct fs_env *e)
{
	cJSON *o = json_new_object();
	json_add_str(o, "envelope_id", e->id);
	json_add_str(o, "type", e->type);
	json_add_int(o, "attempts", e->attempts);
	json_add_int(o, "conn", e->conn_id);
	json_add_bool(o, "acked", e->acked);
	json_add_int(o, "injected_us", e->injected_us);
	json_add_int(o, "sent_us", e->sent_us);
	json_add_int(o, "ack_us", e->ack_us);
	if (e->ack_payload)
		json_add(o, "ack_payload", json_dup(e->ack_payload));
	return o;
}

static void injected(struct httpd_x *x, struct fs_env *e)
{
	cJSON *o;
	if (!e) {
		reply_err(x, 507, "too many envelopes");
		return;
	}
	o = env_json(e);
	json_add_bool(o, "ok", 1);
	reply_json(x, 200, o);
}

static const char * or (const char *s, const char *def)
{
	return s && *s ? s : def;
}

/* The channel a control call acts in: created when new (a person can only
 * type in a channel that exists); NULL and a 400 when malformed. */
static const char *act_channel(struct httpd_x *x, const cJSON *in)
{
	const char *ref = or (json_str(in, "channel"), "C0INCIDENT");
	const char *id = ws_channel(ref, 1);

	if (id)
		return id;
	if (ws_channel_add(ref, json_str(in, "channel_name")) < 0) {
		reply_err(x, 400, "channel must be an id like C0INCIDENT or an existing #name");
		return NULL;
	}
	return ws_channel(ref, 0);
}

static void c_slash(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x), *p;
	char url[192], trig[96];
	const char *channel, *user;

	(void)arg;
	if (!in)
		return;
	if (!(channel = act_channel(x, in))) {
		cJSON_Delete(in);
		return;
	}
	user = or (json_str(in, "user"), "U0ALICE");
	ws_user_touch(user, json_str(in, "user_name"));
	p = json_new_object();
	ws_response_new(url, sizeof url, "commands", channel, NULL, user);
	ws_trigger_new(trig, sizeof trig, user);
	json_add_str(p, "token", "fake-verification-token");
	json_add_str(p, "team_id", fs.team);
	json_add_str(p, "team_domain", "opsbot-fake");
	json_add_str(p, "channel_id", channel);
	json_add_str(p, "channel_name", ws_channel_name(channel));
	json_add_str(p, "user_id", user);
	json_add_str(p, "user_name", json_str(ws_user(user), "name"));
	json_add_str(p, "command", or (json_str(in, "command"), "/incident"));
	json_add_str(p, "text", or (json_str(in, "text"), ""));
	json_add_str(p, "api_app_id", fs.app_id);
	json_add_str(p, "is_enterprise_install", "false");
	json_add_str(p, "response_url", url);
	json_add_str(p, "trigger_id", trig);
	cJSON_Delete(in);
	injected(x, socket_inject("slash_commands", p, 1));
}

/*
 * The interactive element a click presses: in the stored message's blocks
 * (actions elements and section accessories), by action_id and, when the
 * call gives one, block_id or value.  Its block is returned in *block.
 */
static const cJSON *find_button(const cJSON *msg, const cJSON *in, const cJSON **block)
{
	const char *aid = json_str(in, "action_id"), *bid = json_str(in, "block_id");
	const char *val = json_str(in, "value");
	const cJSON *b, *e, *first = NULL, *first_block = NULL;

	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(msg, "blocks"))
	{
		const cJSON *elems = cJSON_GetObjectItemCaseSensitive(b, "elements");
		const cJSON *acc = cJSON_GetObjectItemCaseSensitive(b, "accessory");
		if (bid && strcmp(bid, or (json_str(b, "block_id"), "")) != 0)
			continue;
		for (e = acc ? acc : (elems ? elems->child : NULL); e; e = acc ? NULL : e->next) {
			const char *a = json_str(e, "action_id");
			if (!a || !aid || strcmp(a, aid) != 0)
				continue;
			if (!first) {
				first = e;
				first_block = b;
			}
			if (!val || strcmp(val, or (json_str(e, "value"), "")) == 0) {
				*block = b;
				return e;
			}
		}
	}
	*block = first_block;
	return first;
}

static void c_click(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x), *p, *o, *acts, *a;
	const char *channel, *user, *mts;
	const cJSON *btn, *blk = NULL;
	cJSON *msg;
	char url[192], ts[32], trig[96];

	(void)arg;
	if (!in)
		return;
	if (!(channel = act_channel(x, in))) {
		cJSON_Delete(in);
		return;
	}
	user = or (json_str(in, "user"), "U0ALICE");
	mts = or (json_str(in, "message_ts"), "");
	msg = web_find_message(channel, mts);
	if (!msg) {
		cJSON_Delete(in);
		reply_err(x, 404, "no message with that message_ts in that channel");
		return;
	}
	btn = find_button(msg, in, &blk);
	if (!btn) {
		cJSON_Delete(in);
		reply_err(x, 404, "the message has no button with that action_id");
		return;
	}
	ws_user_touch(user, json_str(in, "user_name"));
	p = json_new_object();
	json_add_str(p, "type", "block_actions");
	ws_add_actor(p, user);
	o = json_new_object();
	json_add_str(o, "type", "message");
	json_add_str(o, "message_ts", mts);
	json_add_str(o, "channel_id", channel);
	json_add_bool(o, "is_ephemeral", 0);
	if (json_str(msg, "thread_ts"))
		json_add_str(o, "thread_ts", json_str(msg, "thread_ts"));
	json_add(p, "container", o);
	ws_trigger_new(trig, sizeof trig, user);
	json_add_str(p, "trigger_id", trig);
	o = json_new_object();
	json_add_str(o, "id", fs.team);
	json_add_str(o, "domain", "opsbot-fake");
	json_add(p, "team", o);
	json_add(p, "enterprise", cJSON_CreateNull());
	json_add_bool(p, "is_enterprise_install", 0);
	o = json_new_object();
	json_add_str(o, "id", channel);
	json_add_str(o, "name", ws_channel_name(channel));
	json_add(p, "channel", o);
	{
		cJSON *m = json_dup(msg);
		cJSON_DeleteItemFromObjectCaseSensitive(m, "posted_us");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "edits");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "channel");
		json_add(p, "message", m);
	}
	o = json_new_object();
	json_add(o, "values", json_new_object());
	json_add(p, "state", o);
	ws_response_new(url, sizeof url, "actions", channel, mts, user);
	json_add_str(p, "response_url", url);
	acts = json_new_array();
	a = json_new_object();
	json_add_str(a, "action_id", json_str(btn, "action_id"));
	json_add_str(a, "block_id", json_str(blk, "block_id"));
	if (cJSON_GetObjectItemCaseSensitive(btn, "text"))
		json_add(a, "text", json_dup(cJSON_GetObjectItemCaseSensitive(btn, "text")));
	if (json_str(btn, "value"))
		json_add_str(a, "value", json_str(btn, "value"));
	if (json_str(btn, "style"))
		json_add_str(a, "style", json_str(btn, "style"));
	json_add_str(a, "type", or (json_str(btn, "type"), "button"));
	web_new_ts(ts, sizeof ts);
	json_add_str(a, "action_ts", ts);
	cJSON_AddItemToArray(acts, a);
	json_add(p, "actions", acts);
	cJSON_Delete(in);
	injected(x, socket_inject("interactive", p, fs.accepts_response_payload_actions));
}

/*
 * A message event is what a person's post looks like to the app: the
 * message is stored too (with a ts when the event has none), so that
 * replying in its thread or reacting to it works as it would in Slack.
 */
static void store_event_message(cJSON *ev, const char *channel)
{
	const char *type = json_str(ev, "type"), *sub = json_str(ev, "subtype");
	const char *ts = json_str(ev, "ts"), *tts;
	char nts[32];
	cJSON *m, *parent, *rc;

	if (!type || (strcmp(type, "message") != 0 && strcmp(type, "app_mention") != 0) ||
	    (sub && strcmp(sub, "thread_broadcast") != 0 && strcmp(sub, "file_share") != 0))
		return;
	if (!ts) {
		web_new_ts(nts, sizeof nts);
		json_add_str(ev, "ts", nts);
		ts = json_str(ev, "ts");
	}
	if (!json_str(ev, "event_ts"))
		json_add_str(ev, "event_ts", ts);
	if (!json_str(ev, "channel"))
		json_add_str(ev, "channel", channel);
	if (web_find_message(channel, ts))
		return; /* app_mention and message for one post: stored once */
	m = json_new_object();
	json_add_str(m, "type", "message");
	json_add_str(m, "user", json_str(ev, "user"));
	json_add_str(m, "text", or (json_str(ev, "text"), ""));
	json_add_str(m, "team", fs.team);
	json_add_str(m, "ts", ts);
	if (cJSON_GetObjectItemCaseSensitive(ev, "blocks"))
		json_add(m, "blocks", json_dup(cJSON_GetObjectItemCaseSensitive(ev, "blocks")));
	tts = json_str(ev, "thread_ts");
	if (tts && strcmp(tts, ts) != 0 && (parent = web_find_message(channel, tts))) {
		json_add_str(m, "thread_ts", tts);
		rc = cJSON_GetObjectItemCaseSensitive(parent, "reply_count");
		if (rc)
			cJSON_SetNumberValue(rc, rc->valuedouble + 1);
		else
			json_add_int(parent, "reply_count", 1);
	}
	json_add_str(m, "channel", channel);
	json_add_int(m, "posted_us", fs_now_us());
	web_add_message(m);
}

static void c_event(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x), *p, *ev, *auths, *au;
	char id[40], ctx[96];
	const char *channel = NULL;

	(void)arg;
	if (!in)
		return;
	ev = cJSON_DetachItemFromObjectCaseSensitive(in, "event");
	if (!cJSON_IsObject(ev)) {
		cJSON_Delete(ev);
		cJSON_Delete(in);
		reply_err(x, 400, "field 'event' must be an object");
		return;
	}
	if (json_str(ev, "channel")) {
		cJSON *ref = json_new_object();
		json_add_str(ref, "channel", json_str(ev, "channel"));
		channel = act_channel(x, ref);
		cJSON_Delete(ref);
		if (!channel) {
			cJSON_Delete(ev);
			cJSON_Delete(in);
			return;
		}
	}
	if (json_str(ev, "user"))
		ws_user_touch(json_str(ev, "user"), NULL);
	if (channel)
		store_event_message(ev, channel);
	p = json_new_object();
	json_add_str(p, "token", "fake-verification-token");
	json_add_str(p, "team_id", fs.team);
	json_add_str(p, "api_app_id", fs.app_id);
	json_add(p, "event", ev);
	json_add_str(p, "type", "event_callback");
	snprintf(id, sizeof id, "Ev%010llu", (unsigned long long)++fs.seq);
	json_add_str(p, "event_id", id);
	json_add_int(p, "event_time", fs_now_us() / 1000000);
	/* who the event is for: the app's bot in this workspace */
	auths = json_new_array();
	au = json_new_object();
	json_add(au, "enterprise_id", cJSON_CreateNull());
	json_add_str(au, "team_id", fs.team);
	json_add_str(au, "user_id", fs.bot_user);
	json_add_bool(au, "is_bot", 1);
	json_add_bool(au, "is_enterprise_install", 0);
	cJSON_AddItemToArray(auths, au);
	json_add(p, "authorizations", auths);
	json_add_bool(p, "is_ext_shared_channel", 0);
	/* an opaque token in Slack; here a readable one of the same shape */
	snprintf(ctx, sizeof ctx, "4-%s-%s-%s",
	         json_str(ev, "type") ? json_str(ev, "type") : "event", fs.team,
	         channel ? channel : "none");
	json_add_str(p, "event_context", ctx);
	cJSON_Delete(in);
	injected(x, socket_inject("events_api", p, 0));
}

static void c_channel(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x), *o;
	(void)arg;
	if (!in)
		return;
	if (ws_channel_add(json_str(in, "id"), json_str(in, "name")) < 0) {
		cJSON_Delete(in);
		reply_err(x, 400, "id must look like C0INCIDENT and name like incidents");
		return;
	}
	o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_str(o, "id", json_str(in, "id"));
	json_add_str(o, "name", ws_channel_name(json_str(in, "id")));
	cJSON_Delete(in);
	reply_json(x, 200, o);
}

static void c_channels(struct httpd_x *x, void *arg)
{
	cJSON *o = json_new_object(), *arr = json_new_array(), *c;
	(void)arg;
	cJSON_ArrayForEach(c, fs.convs)
	{
		cJSON *e = json_new_object();
		json_add_str(e, "id", c->string);
		json_add_str(e, "name", json_str(c, "name"));
		cJSON_AddItemToArray(arr, e);
	}
	json_add_bool(o, "ok", 1);
	json_add(o, "channels", arr);
	reply_json(x, 200, o);
}

static void c_raw(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	(void)arg;
	if (socket_send_raw(r->body, r->body_len) < 0) {
		reply_err(x, 409, "no socket open");
		return;
	}
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static int in_thread(const cJSON *m, const char *thread)
{
	const char *t = json_str(m, "thread_ts"), *ts = json_str(m, "ts");
	return (t && strcmp(t, thread) == 0) || (ts && strcmp(ts, thread) == 0);
}

/*
 * The messages of `from` in ?channel= (every channel without it); by_thread:
 * only the replies of ?thread=, or without it only top-level messages.
 */
static void reply_messages(struct httpd_x *x, cJSON *from, int by_thread)
{
	const struct httpd_req *r = httpd_request(x);
	char channel[64] = "", thread[40] = "";
	cJSON *out = json_new_array(), *m, *o = json_new_object();

	qget(r->query, "channel", channel, sizeof channel);
	int have_thread = qget(r->query, "thread", thread, sizeof thread) == 0;
	cJSON_ArrayForEach(m, from)
	{
		const char *c = json_str(m, "channel");
		if (*channel && (!c || strcmp(c, channel) != 0))
			continue;
		if (by_thread &&
		    (have_thread ? !in_thread(m, thread) : json_str(m, "thread_ts") != NULL))
			continue;
		cJSON_AddItemToArray(out, json_dup(m));
	}
	json_add_bool(o, "ok", 1);
	json_add(o, "messages", out);
	reply_json(x, 200, o);
}

static void c_messages(struct httpd_x *x, void *arg)
{
	(void)arg;
	reply_messages(x, fs.messages, 1);
}

static void c_ephemeral(struct httpd_x *x, void *arg)
{
	(void)arg;
	reply_messages(x, fs.ephemeral, 0);
}

static void c_envelope(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	char id[48];
	struct fs_env *e;

	(void)arg;
	if (qget(r->query, "id", id, sizeof id) < 0 || !(e = socket_find_env(id))) {
		reply_err(x, 404, "no such envelope");
		return;
	}
	cJSON *o = env_json(e);
	json_add(o, "payload", json_dup(e->payload)); /* what the app was sent */
	reply_json(x, 200, o);
}

static void c_envelopes(struct httpd_x *x, void *arg)
{
	cJSON *o = json_new_object(), *a = json_new_array();
	(void)arg;
	for (size_t i = 0; i < fs.nenvs; i++) {
		cJSON *e = env_json(&fs.envs[i]);
		json_add(e, "payload", json_dup(fs.envs[i].payload));
		cJSON_AddItemToArray(a, e);
	}
	json_add_bool(o, "ok", 1);
	json_add(o, "envelopes", a);
	reply_json(x, 200, o);
}

static void c_stats(struct httpd_x *x, void *arg)
{
	cJSON *o = json_new_object();
	int64_t acked = 0;

	(void)arg;
	for (size_t i = 0; i < fs.nenvs; i++)
		acked += fs.envs[i].acked;
	json_add_bool(o, "ok", 1);
	json_add_int(o, "connections", fs.nconns);
	json_add_int(o, "connects", fs.connects);
	json_add_int(o, "refused", fs.refused);
	json_add(o, "calls", json_dup(fs.calls));
	json_add_int(o, "served_429", fs.served_429);
	json_add_int(o, "served_500", fs.served_500);
	json_add_int(o, "rate_limited", fs.rate_limited);
	json_add_int(o, "invalid_blocks", fs.invalid_blocks);
	json_add_int(o, "envelopes", (int64_t)fs.nenvs);
	json_add_int(o, "acked", acked);
	json_add_int(o, "redelivered", fs.redelivered);
	json_add_int(o, "pings", fs.pings);
	json_add_int(o, "pongs", socket_pongs());
	json_add_int(o, "messages", cJSON_GetArraySize(fs.messages));
	json_add_int(o, "fail_next", fs.fail_next);
	json_add_bool(o, "stall_acks", fs.stall_acks);
	json_add_int(o, "stall_posts", fs.stall_posts);
	json_add_int(o, "stalled_posts", fs.nstalled);
	reply_json(x, 200, o);
}

/*
 * One message as plain text for a person watching the demo: its fallback
 * text (continuation lines indented) and, for a message with buttons, the
 * buttons on one line.
 */
static void dump_line(struct buf *b, const cJSON *m, const char *first, const char *cont)
{
	const char *text = json_str(m, "text");
	const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(m, "blocks"), *bl, *e;
	int buttons = 0;

	buf_appendf(b, "%s[%s]%s ", first, json_str(m, "ts"),
	            json_int(m, "edits", 0) ? " (edited)" : "");
	if (!text || !*text)
		text = "(blocks only)";
	for (const char *p = text; *p; p++) {
		buf_append(b, p, 1);
		if (*p == '\n' && p[1])
			buf_appendf(b, "%s", cont);
	}
	buf_append(b, "\n", 1);
	cJSON_ArrayForEach(bl, blocks)
	{
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(bl, "elements"))
		{
			const char *et = json_str(e, "type");
			if (!et || strcmp(et, "button") != 0)
				continue;
			buf_appendf(
			    b, "%s[ %s ]", buttons++ ? " " : cont,
			    or (json_str(cJSON_GetObjectItemCaseSensitive(e, "text"), "text"),
			        "?"));
		}
	}
	if (buttons)
		buf_append(b, "\n", 1);
}

static void c_dump(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	char channel[64] = "";
	struct buf b = {.max = 8 << 20};
	cJSON *m, *k;

	(void)arg;
	qget(r->query, "channel", channel, sizeof channel);
	cJSON_ArrayForEach(m, fs.messages)
	{
		const char *c = json_str(m, "channel");
		if (json_str(m, "thread_ts") || (*channel && strcmp(c, channel) != 0))
			continue;
		buf_appendf(&b, "#%s ", c);
		dump_line(&b, m, "", "    ");
		cJSON_ArrayForEach(k, fs.messages)
		{
			const char *t = json_str(k, "thread_ts");
			if (t && strcmp(t, json_str(m, "ts")) == 0 &&
			    strcmp(json_str(k, "channel"), c) == 0)
				dump_line(&b, k, "    └ ", "        ");
		}
		buf_append(&b, "\n", 1);
	}
	if (b.len == 0)
		buf_appendf(&b, "(no messages yet)\n");
	httpd_reply(x, 200, "text/plain; charset=utf-8", b.data, b.len, NULL);
	buf_free(&b);
}

static void c_drop(struct httpd_x *x, void *arg)
{
	(void)arg;
	socket_drop_all();
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static void c_disconnect(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x);
	(void)arg;
	if (!in)
		return;
	const char *reason = or (json_str(in, "reason"), "refresh_requested");
	if (strcmp(reason, "link_disabled") == 0)
		fs.socket_disabled = 1; /* Socket Mode is off: no more tickets */
	socket_disconnect_all(reason);
	cJSON_Delete(in);
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static void c_fail(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x);
	(void)arg;
	if (!in)
		return;
	fs.fail_status = (int)json_int(in, "status", 429);
	fs.fail_next = (int)json_int(in, "count", 1);
	if (fs.fail_status != 429 && (fs.fail_status < 500 || fs.fail_status > 599)) {
		fs.fail_next = 0;
		cJSON_Delete(in);
		reply_err(x, 400, "status must be 429 or 5xx");
		return;
	}
	cJSON_Delete(in);
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static void c_stall(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x);
	(void)arg;
	if (!in)
		return;
	if (cJSON_GetObjectItemCaseSensitive(in, "posts")) {
		fs.stall_posts = (int)json_int(in, "posts", 0);
		if (fs.stall_posts <= 0) {
			fs.stall_posts = 0;
			web_release_stalled();
		}
	} else {
		fs.stall_acks = json_bool(in, "on", 1);
	}
	cJSON_Delete(in);
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static void c_config(struct httpd_x *x, void *arg)
{
	cJSON *in = body_obj(x);
	(void)arg;
	if (!in)
		return;
	fs.post_rate = json_num(in, "post_rate", fs.post_rate);
	fs.post_burst = json_num(in, "post_burst", fs.post_burst);
	fs.ack_timeout_ms = (int)json_int(in, "ack_timeout_ms", fs.ack_timeout_ms);
	fs.max_retries = (int)json_int(in, "max_retries", fs.max_retries);
	fs.retry_after_s = (int)json_int(in, "retry_after_s", fs.retry_after_s);
	fs.refresh_grace_ms = (int)json_int(in, "refresh_grace_ms", fs.refresh_grace_ms);
	fs.ping_ms = (int)json_int(in, "ping_ms", fs.ping_ms);
	fs.trigger_ttl_ms = (int)json_int(in, "trigger_ttl_ms", fs.trigger_ttl_ms);
	fs.socket_disabled = !json_bool(in, "socket_mode", !fs.socket_disabled);
	cJSON_Delete(in);
	cJSON_Delete(fs.channels);
	fs.channels = json_new_object(); /* restart the buckets */
	httpd_reply_str(x, 200, "application/json", "{\"ok\":true}");
}

static void tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	socket_tick();
	lws_sul_schedule(fs.lws, 0, &tick_sul, tick, 20 * 1000);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (fs.lws)
		lws_cancel_service(fs.lws);
}

static double num_arg(const char *s, const char *name)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || v < 0) {
		fprintf(stderr, "fake-slack: --%s wants a number >= 0\n", name);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"port-file", required_argument, NULL, 'f'},
	    {"post-rate", required_argument, NULL, 'r'},
	    {"post-burst", required_argument, NULL, 'b'},
	    {"ack-timeout-ms", required_argument, NULL, 'a'},
	    {"max-retries", required_argument, NULL, 'm'},
	    {"retry-after", required_argument, NULL, 'R'},
	    {"refresh-grace-ms", required_argument, NULL, 'g'},
	    {"ping-ms", required_argument, NULL, 'P'},
	    {"channel", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct lws_context_creation_info info;
	const char *port_file = NULL;
	int port = 0, o, nchan = 0;
	const char *chan_args[32];
	char listen[64], err[256];

	fs.post_rate = 1;
	fs.post_burst = 3;
	fs.ack_timeout_ms = 3000;
	fs.max_retries = 3;
	fs.retry_after_s = 1;
	fs.refresh_grace_ms = 10000;
	fs.ping_ms = 10000;
	fs.trigger_ttl_ms = 3000;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			port = (int)num_arg(optarg, "port");
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'r':
			fs.post_rate = num_arg(optarg, "post-rate");
			break;
		case 'b':
			fs.post_burst = num_arg(optarg, "post-burst");
			break;
		case 'a':
			fs.ack_timeout_ms = (int)num_arg(optarg, "ack-timeout-ms");
			break;
		case 'm':
			fs.max_retries = (int)num_arg(optarg, "max-retries");
			break;
		case 'R':
			fs.retry_after_s = (int)num_arg(optarg, "retry-after");
			break;
		case 'g':
			fs.refresh_grace_ms = (int)num_arg(optarg, "refresh-grace-ms");
			break;
		case 'P':
			fs.ping_ms = (int)num_arg(optarg, "ping-ms");
			break;
		case 'c':
			if (nchan < 32)
				chan_args[nchan++] = optarg;
			break;
		default:
			fprintf(stderr,
			        "usage: fake-slack [--port N] [--port-file F] [--post-rate R] "
			        "[--post-burst B] [--ack-timeout-ms MS] [--max-retries N] "
			        "[--retry-after S] [--refresh-grace-ms MS] [--ping-ms MS] "
			        "[--channel ID=name]...\n");
			return 2;
		}
	}
	log_init("fake-slack");
	srandom((unsigned)(fs_now_us() ^ getpid()));
	str_copy(fs.bot_token, sizeof fs.bot_token, or (getenv("SLACK_BOT_TOKEN"), "xoxb-fake"));
	str_copy(fs.app_token, sizeof fs.app_token, or (getenv("SLACK_APP_TOKEN"), "xapp-fake"));
	str_copy(fs.team, sizeof fs.team, "T0OPSBOT");
	str_copy(fs.app_id, sizeof fs.app_id, "A0OPSBOT");
	str_copy(fs.bot_user, sizeof fs.bot_user, "U0OPSBOT");
	fs.messages = json_new_array();
	fs.ephemeral = json_new_array();
	fs.channels = json_new_object();
	fs.files = json_new_object();
	fs.calls = json_new_object();
	ws_init();
	for (int i = 0; i < nchan; i++) {
		char id[32];
		const char *eq = strchr(chan_args[i], '=');
		snprintf(id, sizeof id, "%.*s", (int)(eq ? eq - chan_args[i] : 31), chan_args[i]);
		if (ws_channel_add(id, eq ? eq + 1 : NULL) < 0) {
			fprintf(stderr, "fake-slack: --channel wants ID=name, like C0OPS=ops\n");
			return 2;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	fs.lws = lws_create_context(&info);
	if (!fs.lws)
		log_fatal("event=lws_context_failed");
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	if (httpd_open(&fs.httpd, fs.lws, listen, 4 << 20, NULL, err, sizeof err) < 0)
		log_fatal("event=listen_failed error=%s", log_q(err));
	fs.port = httpd_port(fs.httpd);
	web_register(fs.httpd);
	socket_register(fs.httpd);
	httpd_route(fs.httpd, "POST", "/control/slash", c_slash, NULL);
	httpd_route(fs.httpd, "POST", "/control/click", c_click, NULL);
	httpd_route(fs.httpd, "POST", "/control/event", c_event, NULL);
	httpd_route(fs.httpd, "POST", "/control/raw", c_raw, NULL);
	httpd_route(fs.httpd, "GET", "/control/messages", c_messages, NULL);
	httpd_route(fs.httpd, "GET", "/control/ephemeral", c_ephemeral, NULL);
	httpd_route(fs.httpd, "GET", "/control/envelope", c_envelope, NULL);
	httpd_route(fs.httpd, "GET", "/control/envelopes", c_envelopes, NULL);
	httpd_route(fs.httpd, "GET", "/control/stats", c_stats, NULL);
	httpd_route(fs.httpd, "GET", "/control/dump", c_dump, NULL);
	httpd_route(fs.httpd, "GET", "/page", page_serve, NULL); /* page.c: a browser view */
	httpd_route(fs.httpd, "POST", "/control/drop", c_drop, NULL);
	httpd_route(fs.httpd, "POST", "/control/disconnect", c_disconnect, NULL);
	httpd_route(fs.httpd, "POST", "/control/fail", c_fail, NULL);
	httpd_route(fs.httpd, "POST", "/control/stall", c_stall, NULL);
	httpd_route(fs.httpd, "POST", "/control/config", c_config, NULL);
	httpd_route(fs.httpd, "POST", "/control/channel", c_channel, NULL);
	httpd_route(fs.httpd, "GET", "/control/channels", c_channels, NULL);
	interact_register(fs.httpd);
	if (port_file) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", fs.port) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0)
			log_fatal("event=port_file_failed path=%s", log_q(port_file));
	}
	lws_sul_schedule(fs.lws, 0, &tick_sul, tick, 20 * 1000);
	log_info("event=started port=%d", fs.port);
	while (!stop)
		if (lws_service(fs.lws, 0) < 0)
			break;
	lws_sul_cancel(&tick_sul);
	web_release_stalled();
	lws_context_destroy(fs.lws);
	httpd_close(fs.httpd);
	for (size_t i = 0; i < fs.nenvs; i++) {
		cJSON_Delete(fs.envs[i].payload);
		cJSON_Delete(fs.envs[i].ack_payload);
	}
	free(fs.envs);
	web_index_free();
	cJSON_Delete(fs.messages);
	cJSON_Delete(fs.ephemeral);
	cJSON_Delete(fs.channels);
	cJSON_Delete(fs.files);
	cJSON_Delete(fs.calls);
	ws_free();
	return 0;
}
