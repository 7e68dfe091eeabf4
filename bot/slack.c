/*
 * slack.c: opsbot-bot's Slack surface.
 *
 * In: slash commands, button clicks and app mentions, over Socket Mode
 * (slack_socket.c) or HTTP mode (routes on the bot's listener, v0-signed).
 * Each becomes a queue request (submit / command / query); a slash command
 * is acked only after the queue answered, so a crash before that leaves the
 * command unacked (the user sees Slack's error, nothing half-done); a click
 * is acked at once and its outcome shows in the thread.
 *
 * Out: queue events become ops for the ordered outbox (slack_web.c): the
 * incident's parent message on incident.opened, a chat.update of the parent
 * whenever its state, acknowledger or resolver changes, and one threaded
 * reply per step.  Each event's ops end with a DONE op, which moves the
 * surface's stored seq (bot_surface_done) once all of them ran.  Posted
 * keys ("ev-<seq>-...") make a replay after a restart skip what was posted;
 * a post Slack stored just before a crash, before bot.db heard of it, is
 * found again by its metadata marker (slack_web.c, invariant 4).  When
 * Socket Mode is switched off for good (link_disabled, invalid_auth) the
 * surface keeps posting and puts the reason in /healthz.
 *
 * The parent is redrawn from a snapshot of the incident kept in bot.db
 * (kv "inc:<id>"), so a restart can still update it.
 *
 * Config [slack]: enabled, mode (socket|http|both), api_url, channel
 * (default channel for incidents that did not come from Slack), templates,
 * channel_rate, channel_burst, method_limits, queue_timeout, dedupe_ttl,
 * max_backoff, sockets.  Secrets: SLACK_BOT_TOKEN, SLACK_APP_TOKEN (socket mode),
 * SLACK_SIGNING_SECRET (HTTP mode).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "config.h"
#include "form.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "slack.h"
#include "slack_sig.h"
#include "state.h"
#include "surface.h"
#include "template.h"
#include "timeutil.h"
#include "wire.h"

#define TITLE_MAX 120
#define TEXT_MAX  2000

struct slack {
	struct bot *b;
	struct template_set *ts;
	struct slack_web *web;
	struct slack_socket *sock;
	const char *channel; /* default channel, may be NULL */
	const char *signing_secret;
	int64_t queue_timeout_ms;
	int64_t done_reported;
	int64_t done_at_ms;
	int health_set; /* the socket's problem is in /healthz */
};

/* Where an inbound request came from, so it can be acked the same way. */
struct slack_in {
	int http;
	struct httpd_x *x; /* http */
	int conn;          /* socket */
	char envelope[72]; /* socket */
};

struct pending {
	struct slack *sl;
	struct slack_in in;
	struct slack_cmd cmd;
	char channel[64];
	char user[64];
	int from_mention; /* answer with an ephemeral post, not in the ack */
};

/* ---------------------------------------------------------------- acks */

static void in_ack(struct slack *sl, struct slack_in *in, const cJSON *payload)
{
	if (in->http) {
		if (payload) {
			char *s = json_print(payload);
			httpd_reply(in->x, 200, "application/json", s, strlen(s), NULL);
			free(s);
		} else {
			httpd_reply(in->x, 200, "text/plain", "", 0, NULL);
		}
		in->x = NULL;
		return;
	}
	slack_socket_ack(sl->sock, in->conn, in->envelope, payload);
}

static void ephemeral_op(struct slack *sl, const char *channel, const char *user, const char *text)
{
	struct slack_op *op = slack_op_new(SLACK_OP_EPHEMERAL, 0, 0);
	str_copy(op->channel, sizeof op->channel, channel);
	str_copy(op->user, sizeof op->user, user);
	op->text = xstrdup(text);
	slack_web_push(sl->web, op);
}

/* Answer a command: in the ack (slash commands) or as an ephemeral post. */
static void answer(struct pending *p, const char *text)
{
	if (p->from_mention) {
		in_ack(p->sl, &p->in, NULL);
		ephemeral_op(p->sl, p->channel, p->user, text);
		return;
	}
	cJSON *pl = json_new_object();
	json_add_str(pl, "response_type", "ephemeral");
	json_add_str(pl, "text", text);
	in_ack(p->sl, &p->in, pl);
	cJSON_Delete(pl);
}

/* -------------------------------------------------------- slash commands */

static const char *queue_down =
    "opsbot could not reach its queue, so nothing was done. Try again in a minute; if it "
    "keeps failing, ask an admin to check that opsbot-queue is running.";

static void refused(struct pending *p, const char *what, const char *err)
{
	char msg[600];
	/* err is "code: message"; the message is written for people */
	const char *m = strstr(err, ": ");
	snprintf(msg, sizeof msg, "Could not %s: %s", what, m ? m + 2 : err);
	answer(p, msg);
}

static void declare_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	char msg[512];
	(void)b;
	if (rc == -1) {
		log_warn("event=slack_declare_failed user=%s error=%s", log_q(p->user), log_q(err));
		answer(p, queue_down);
	} else if (rc == -2) {
		refused(p, "declare the incident", err);
	} else {
		int64_t id = json_int(reply, "incident", 0);
		if (json_bool(reply, "created", 1))
			snprintf(msg, sizeof msg,
			         "Declared incident #%lld (%s, %s). Its message and thread are in "
			         "this channel; every step will be posted there.",
			         (long long)id, p->cmd.service, p->cmd.severity);
		else
			snprintf(msg, sizeof msg, "This was already declared as incident #%lld.",
			         (long long)id);
		log_info("event=slack_declared incident=%lld user=%s", (long long)id,
		         log_q(p->user));
		answer(p, msg);
	}
	free(p);
}

static void command_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	static const char *verbs[] = {[SLACK_CMD_RESOLVE] = "resolve",
	                              [SLACK_CMD_PAUSE] = "pause",
	                              [SLACK_CMD_RESUME] = "resume"};
	char msg[400], what[64];
	(void)b;
	snprintf(what, sizeof what, "%s incident #%lld", verbs[p->cmd.kind],
	         (long long)p->cmd.incident);
	if (rc == -1) {
		answer(p, queue_down);
	} else if (rc == -2) {
		refused(p, what, err);
	} else {
		snprintf(msg, sizeof msg, "Done: %s. It is now %s.", what,
		         json_str(reply, "state") ? json_str(reply, "state") : "updated");
		answer(p, msg);
	}
	free(p);
}

static void fmt_incident(struct buf *out, const cJSON *inc)
{
	buf_appendf(out, "• #%lld *", (long long)json_int(inc, "id", 0));
	template_escape(json_str(inc, "title") ? json_str(inc, "title") : "?", TEMPLATE_ESC_MRKDWN,
	                out);
	buf_appendf(out, "* (%s, ", json_str(inc, "severity") ? json_str(inc, "severity") : "?");
	template_escape(json_str(inc, "service") ? json_str(inc, "service") : "?",
	                TEMPLATE_ESC_MRKDWN, out);
	buf_appendf(out, "): %s\n", json_str(inc, "state") ? json_str(inc, "state") : "?");
}

static int is_closed(const char *state)
{
	return state && (!strcmp(state, WIRE_ST_RESOLVED) || !strcmp(state, WIRE_ST_REJECTED) ||
	                 !strcmp(state, WIRE_ST_EXPIRED) || !strcmp(state, WIRE_ST_FAILED));
}

static void query_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	struct buf out = {.max = 3500};
	const cJSON *it;
	int n = 0;
	(void)b;
	if (rc == -1) {
		answer(p, queue_down);
		free(p);
		return;
	}
	if (rc == -2) {
		char what[64];
		snprintf(what, sizeof what, "show incident #%lld", (long long)p->cmd.incident);
		refused(p, what, err);
		free(p);
		return;
	}
	if (p->cmd.incident) {
		const cJSON *inc = cJSON_GetObjectItemCaseSensitive(reply, "incident");
		fmt_incident(&out, inc);
		if (json_str(inc, "summary")) {
			buf_appendf(&out, "> ");
			template_escape(json_str(inc, "summary"), TEMPLATE_ESC_MRKDWN, &out);
		}
	} else {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "items"))
		{
			if (is_closed(json_str(it, "state")))
				continue;
			if (n++ < 20)
				fmt_incident(&out, it);
		}
		if (n == 0)
			buf_appendf(&out, "No open incidents.");
		else if (n > 20)
			buf_appendf(&out, "…and %d more; `opsbotctl incidents` lists them all.",
			            n - 20);
	}
	answer(p, out.data ? out.data : "Nothing to show.");
	buf_free(&out);
	free(p);
}

/* Run a parsed command; p is owned from here on. */
static void run_cmd(struct slack *sl, struct pending *p, const char *key)
{
	struct buf msg = {.max = 4096};
	cJSON *req, *spec, *surf;

	switch (p->cmd.kind) {
	case SLACK_CMD_HELP:
		answer(p, slack_cmd_help);
		free(p);
		return;
	case SLACK_CMD_BAD:
		buf_appendf(&msg, "%s.\n\n%s", p->cmd.err, slack_cmd_help);
		answer(p, msg.data);
		buf_free(&msg);
		free(p);
		return;
	case SLACK_CMD_DECLARE: {
		char *title = slack_clamp(p->cmd.text, TITLE_MAX);
		req = wire_new(WIRE_SUBMIT, 0);
		json_add_str(req, "what", "incident");
		json_add_str(req, "key", key);
		spec = json_new_object();
		json_add_str(spec, "title", title);
		json_add_str(spec, "service", p->cmd.service);
		json_add_str(spec, "severity", p->cmd.severity);
		json_add_str(spec, "source", "slack");
		json_add_str(spec, "summary", p->cmd.text);
		surf = json_new_object();
		json_add_str(surf, "kind", "slack");
		json_add_str(surf, "channel", p->channel);
		json_add_str(surf, "user", p->user);
		json_add(spec, "surface", surf);
		json_add(req, "spec", spec);
		free(title);
		bot_call(sl->b, req, (int)sl->queue_timeout_ms, 1, declare_done, p);
		return;
	}
	case SLACK_CMD_STATUS:
	case SLACK_CMD_LIST:
		req = wire_new(WIRE_QUERY, p->cmd.incident);
		json_add_str(req, "what", p->cmd.incident ? "incident" : "incidents");
		if (!p->cmd.incident)
			json_add_int(req, "limit", 200);
		bot_call(sl->b, req, (int)sl->queue_timeout_ms, 1, query_done, p);
		return;
	case SLACK_CMD_RESOLVE:
	case SLACK_CMD_PAUSE:
	case SLACK_CMD_RESUME:
		req = wire_new(WIRE_COMMAND, p->cmd.incident);
		json_add_str(req, "action",
		             p->cmd.kind == SLACK_CMD_RESOLVE ? "resolve"
		             : p->cmd.kind == SLACK_CMD_PAUSE ? "pause"
		                                              : "resume");
		json_add_str(req, "user", p->user);
		json_add_str(req, "surface", "slack");
		if (p->cmd.kind == SLACK_CMD_RESOLVE && p->cmd.text[0])
			json_add_str(req, "note", p->cmd.text);
		json_add_str(req, "key", key);
		bot_call(sl->b, req, (int)sl->queue_timeout_ms, 1, command_done, p);
		return;
	}
	free(p);
}

static void handle_slash(struct slack *sl, struct slack_in *in, const cJSON *payload)
{
	const char *text = json_str(payload, "text");
	const char *user = json_str(payload, "user_id");
	const char *channel = json_str(payload, "channel_id");
	const char *trigger = json_str(payload, "trigger_id");
	struct pending *p;
	char key[160];

	if (!user || !channel || !text) {
		cJSON *pl = json_new_object();
		log_warn("event=slack_bad_command error=%s",
		         log_q("text, user_id and channel_id must be strings"));
		json_add_str(pl, "text", "opsbot could not read this command. Please try again.");
		in_ack(sl, in, pl);
		cJSON_Delete(pl);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->sl = sl;
	p->in = *in;
	str_copy(p->channel, sizeof p->channel, channel);
	str_copy(p->user, sizeof p->user, user);
	slack_cmd_parse(text, &p->cmd);
	log_info("event=slack_command user=%s channel=%s kind=%d", log_q(user), log_q(channel),
	         p->cmd.kind);
	/* A repeat of the same command (same trigger) must not act twice. */
	snprintf(key, sizeof key, "slack-cmd:%s", trigger ? trigger : in->envelope);
	run_cmd(sl, p, key);
}

/* ------------------------------------------------------- button clicks */

struct click {
	struct slack *sl;
	char channel[64], user[64], action[16];
	int64_t incident;
};

static void click_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct click *c = arg;
	char msg[600];
	(void)b;
	(void)reply;
	if (rc != 0) {
		const char *m = rc == -1            ? queue_down
		                : strstr(err, ": ") ? strstr(err, ": ") + 2
		                                    : err;
		snprintf(msg, sizeof msg, "Could not %s incident #%lld: %s",
		         !strcmp(c->action, "ack") ? "acknowledge" : c->action,
		         (long long)c->incident, m);
		log_info("event=slack_click_refused incident=%lld user=%s error=%s",
		         (long long)c->incident, log_q(c->user), log_q(err));
		ephemeral_op(c->sl, c->channel, c->user, msg);
	}
	free(c);
}

static void handle_actions(struct slack *sl, const cJSON *payload)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(payload, "user");
	const cJSON *chan = cJSON_GetObjectItemCaseSensitive(payload, "channel");
	const cJSON *a;
	const char *uid = json_str(user, "id");
	const char *cid = json_str(chan, "id");

	if (!cid)
		cid =
		    json_str(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
	if (!uid || !cid) {
		log_warn("event=slack_bad_click error=%s", log_q("user.id or channel.id missing"));
		return;
	}
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(payload, "actions"))
	{
		const char *aid = json_str(a, "action_id"), *val = json_str(a, "value");
		const char *ats = json_str(a, "action_ts");
		const char *action = NULL;
		char *end;
		long long id;
		char key[200];

		if (!aid || !val)
			continue;
		if (!strcmp(aid, "opsbot_ack"))
			action = "ack";
		else if (!strcmp(aid, "opsbot_resolve"))
			action = "resolve";
		if (!action) {
			log_info("event=slack_click_ignored action_id=%s", log_q(aid));
			continue;
		}
		id = strtoll(val, &end, 10);
		if (*end || id <= 0) {
			log_warn("event=slack_bad_click error=%s",
			         log_q("value is not an incident"));
			continue;
		}
		struct click *c = xcalloc(1, sizeof *c);
		c->sl = sl;
		c->incident = id;
		str_copy(c->channel, sizeof c->channel, cid);
		str_copy(c->user, sizeof c->user, uid);
		str_copy(c->action, sizeof c->action, action);
		cJSON *req = wire_new(WIRE_COMMAND, id);
		json_add_str(req, "action", action);
		json_add_str(req, "user", uid);
		json_add_str(req, "surface", "slack");
		snprintf(key, sizeof key, "slack-click:%s:%s:%s", uid, aid, ats ? ats : "");
		json_add_str(req, "key", key);
		log_info("event=slack_click incident=%lld action=%s user=%s", id, action,
		         log_q(uid));
		bot_call(sl->b, req, (int)sl->queue_timeout_ms, 2, click_done, c);
	}
}

/* -------------------------------------------------------- app mentions */

static void handle_event_cb(struct slack *sl, struct slack_in *in, const cJSON *payload)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(payload, "event");
	const char *type = json_str(ev, "type"), *text = json_str(ev, "text");
	const char *user = json_str(ev, "user"), *channel = json_str(ev, "channel");
	const char *event_id = json_str(payload, "event_id");
	struct buf clean = {.max = 4096};
	struct pending *p;
	char key[160];

	if (!type || strcmp(type, "app_mention") != 0 || !text || !user || !channel || !event_id) {
		in_ack(sl, in, NULL); /* not for us */
		return;
	}
	/* drop the mention tokens ("<@U0OPSBOT>") and keep the words */
	for (const char *s = text; *s;) {
		if (*s == '<' && s[1] == '@') {
			const char *e = strchr(s, '>');
			if (e) {
				s = e + 1;
				continue;
			}
		}
		buf_append(&clean, s, 1);
		s++;
	}
	p = xcalloc(1, sizeof *p);
	p->sl = sl;
	p->in = *in;
	p->from_mention = 1;
	str_copy(p->channel, sizeof p->channel, channel);
	str_copy(p->user, sizeof p->user, user);
	slack_cmd_parse(clean.data ? clean.data : "", &p->cmd);
	buf_free(&clean);
	/* Slack redelivers unacked events with the same event_id: one key */
	snprintf(key, sizeof key, "slack-ev:%s", event_id);
	log_info("event=slack_mention user=%s channel=%s event_id=%s kind=%d", log_q(user),
	         log_q(channel), log_q(event_id), p->cmd.kind);
	run_cmd(sl, p, key);
}

/* ------------------------------------------------------ socket envelopes */

static void on_envelope(void *arg, struct slack_socket *s, int conn, const cJSON *env)
{
	struct slack *sl = arg;
	const char *type = json_str(env, "type");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(env, "payload");
	struct slack_in in = {.conn = conn};

	(void)s;
	str_copy(in.envelope, sizeof in.envelope, json_str(env, "envelope_id"));
	if (!strcmp(type, "slash_commands")) {
		handle_slash(sl, &in, payload);
	} else if (!strcmp(type, "interactive")) {
		in_ack(sl, &in, NULL); /* at once; the outcome shows in the thread */
		if (json_str(payload, "type") &&
		    !strcmp(json_str(payload, "type"), "block_actions"))
			handle_actions(sl, payload);
	} else if (!strcmp(type, "events_api")) {
		handle_event_cb(sl, &in, payload);
	} else {
		log_info("event=slack_envelope_ignored type=%s", log_q(type));
		in_ack(sl, &in, NULL);
	}
}

/* ------------------------------------------------------------ HTTP mode */

static int http_verified(struct slack *sl, struct httpd_x *x)
{
	const struct httpd_req *r = httpd_request(x);
	char ts[32] = "", sig[128] = "", err[160];

	httpd_header(x, "X-Slack-Request-Timestamp", ts, sizeof ts);
	httpd_header(x, "X-Slack-Signature", sig, sizeof sig);
	if (slack_sig_verify(sl->signing_secret, ts, sig, r->body, r->body_len,
	                     time_now_ms() / 1000, err, sizeof err) < 0) {
		log_warn("event=slack_http_refused path=%s peer=%s reason=%s", log_q(r->path),
		         log_q(r->peer), log_q(err));
		httpd_reply_str(x, 401, "text/plain", "invalid signature\n");
		return 0;
	}
	return 1;
}

static void http_commands(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	struct slack_in in = {.http = 1, .x = x};
	cJSON *form;

	if (!http_verified(sl, x))
		return;
	form = form_parse(r->body, r->body_len);
	if (json_str(form, "ssl_check")) {
		httpd_reply_str(x, 200, "text/plain", "");
		cJSON_Delete(form);
		return;
	}
	httpd_hold(x);
	handle_slash(sl, &in, form);
	cJSON_Delete(form);
}

static void http_interactive(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	cJSON *form, *payload = NULL;
	const char *p;
	char err[160];

	if (!http_verified(sl, x))
		return;
	form = form_parse(r->body, r->body_len);
	p = json_str(form, "payload");
	if (!p || json_parse_object(p, strlen(p), &payload, err, sizeof err) < 0) {
		log_warn("event=slack_bad_interaction error=%s", log_q(p ? err : "no payload"));
		httpd_reply_str(x, 400, "text/plain", "payload must be a JSON object\n");
		cJSON_Delete(form);
		return;
	}
	httpd_reply_str(x, 200, "text/plain", "");
	if (json_str(payload, "type") && !strcmp(json_str(payload, "type"), "block_actions"))
		handle_actions(sl, payload);
	cJSON_Delete(payload);
	cJSON_Delete(form);
}

static void http_events(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	struct slack_in in = {.http = 1, .x = x};
	cJSON *body = NULL;
	char err[160];

	if (!http_verified(sl, x))
		return;
	if (json_parse_object(r->body, r->body_len, &body, err, sizeof err) < 0) {
		httpd_reply_str(x, 400, "text/plain", "body must be a JSON object\n");
		return;
	}
	if (json_str(body, "type") && !strcmp(json_str(body, "type"), "url_verification")) {
		const char *ch = json_str(body, "challenge");
		httpd_reply_str(x, 200, "text/plain", ch ? ch : "");
		cJSON_Delete(body);
		return;
	}
	httpd_hold(x);
	handle_event_cb(sl, &in, body);
	cJSON_Delete(body);
}

/* ------------------------------------------------------- queue events */

static const char *sev_icon(const char *sev)
{
	if (!sev)
		return ":white_circle:";
	if (!strcmp(sev, "critical"))
		return ":red_circle:";
	if (!strcmp(sev, "high"))
		return ":large_orange_circle:";
	if (!strcmp(sev, "medium"))
		return ":large_yellow_circle:";
	if (!strcmp(sev, "low"))
		return ":large_blue_circle:";
	return ":white_circle:";
}

static const char *state_icon(const char *st)
{
	if (!st)
		return ":grey_question:";
	if (!strcmp(st, WIRE_ST_RESOLVED))
		return ":white_check_mark:";
	if (!strcmp(st, WIRE_ST_AWAITING))
		return ":raised_hand:";
	if (!strcmp(st, WIRE_ST_PAUSED))
		return ":double_vertical_bar:";
	if (is_closed(st))
		return ":x:";
	return ":hourglass_flowing_sand:";
}

static cJSON *snapshot_load(struct slack *sl, int64_t incident)
{
	char key[48], *val = NULL, err[64];
	cJSON *o = NULL;

	snprintf(key, sizeof key, "inc:%lld", (long long)incident);
	if (state_kv_get(sl->b->state, "slack", key, &val) == 1 &&
	    json_parse_object(val, strlen(val), &o, err, sizeof err) < 0)
		o = NULL;
	free(val);
	return o;
}

static void snapshot_save(struct slack *sl, int64_t incident, const cJSON *snap)
{
	char key[48], *val = json_print(snap);
	snprintf(key, sizeof key, "inc:%lld", (long long)incident);
	if (state_kv_put(sl->b->state, "slack", key, val) < 0)
		log_warn("event=slack_snapshot_save_failed incident=%lld", (long long)incident);
	free(val);
}

static void set_str(cJSON *o, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	if (val)
		json_add_str(o, key, val);
}

static void render_op(struct slack *sl, struct slack_op *op, const char *tmpl, cJSON *ctx)
{
	char err[256];
	if (slack_render(sl->ts, tmpl, ctx, &op->text, &op->blocks, err, sizeof err) < 0) {
		log_warn("event=slack_render_failed template=%s incident=%lld error=%s", tmpl,
		         (long long)op->incident, log_q(err));
		free(op->text);
		free(op->blocks);
		op->blocks = NULL;
		op->text = xasprintf("Incident %lld: an update could not be drawn (%s).",
		                     (long long)op->incident, tmpl);
	}
}

static void push_parent(struct slack *sl, const cJSON *snap, int64_t incident, int64_t seq,
                        int update)
{
	cJSON *ctx = json_new_object();
	const char *state = json_str(snap, "state");
	struct slack_op *op =
	    slack_op_new(update ? SLACK_OP_UPDATE : SLACK_OP_PARENT, incident, seq);
	char *title = slack_clamp(json_str(snap, "title") ? json_str(snap, "title") : "(untitled)",
	                          TITLE_MAX);
	char *summary = slack_clamp(json_str(snap, "summary"), TEXT_MAX);

	json_add_int(ctx, "id", incident);
	json_add_str(ctx, "title", title);
	json_add_str(ctx, "service", json_str(snap, "service") ? json_str(snap, "service") : "?");
	json_add_str(ctx, "severity",
	             json_str(snap, "severity") ? json_str(snap, "severity") : "?");
	json_add_str(ctx, "state", state ? state : "?");
	json_add_str(ctx, "source", json_str(snap, "source") ? json_str(snap, "source") : "?");
	json_add_str(ctx, "summary", summary);
	json_add_str(ctx, "sev_icon", sev_icon(json_str(snap, "severity")));
	json_add_str(ctx, "state_icon", state_icon(state));
	if (json_str(snap, "acked_by"))
		json_add_str(ctx, "acked_by", json_str(snap, "acked_by"));
	if (json_str(snap, "resolved_by"))
		json_add_str(ctx, "resolved_by", json_str(snap, "resolved_by"));
	if (json_str(snap, "note"))
		json_add_str(ctx, "note", json_str(snap, "note"));
	json_add_bool(ctx, "open", !is_closed(state));
	json_add_int(ctx, "rev", seq);
	render_op(sl, op, "parent", ctx);
	if (!update)
		snprintf(op->key, sizeof op->key, "ev-%lld-parent", (long long)seq);
	str_copy(op->channel, sizeof op->channel, json_str(snap, "slack_channel"));
	slack_web_push(sl->web, op);
	cJSON_Delete(ctx);
	free(title);
	free(summary);
}

static void push_step(struct slack *sl, int64_t incident, int64_t seq, const char *event,
                      const char *icon, const char *title, const char *who, const char *text)
{
	cJSON *ctx = json_new_object();
	struct slack_op *op = slack_op_new(SLACK_OP_REPLY, incident, seq);
	char *t = slack_clamp(text, TEXT_MAX);

	json_add_int(ctx, "id", incident);
	json_add_str(ctx, "event", event);
	json_add_str(ctx, "icon", icon);
	json_add_str(ctx, "title", title);
	if (who && *who)
		json_add_str(ctx, "who", who);
	if (*t)
		json_add_str(ctx, "text", t);
	render_op(sl, op, "step", ctx);
	snprintf(op->key, sizeof op->key, "ev-%lld-step", (long long)seq);
	slack_web_push(sl->web, op);
	cJSON_Delete(ctx);
	free(t);
}

static const char *job_icon(const char *kind)
{
	static const struct {
		const char *kind, *icon;
	} m[] = {{WIRE_JOB_DETECT, ":mag:"},
	         {WIRE_JOB_RETRIEVE, ":books:"},
	         {WIRE_JOB_PLAN, ":clipboard:"},
	         {WIRE_JOB_EXECUTE, ":gear:"},
	         {WIRE_JOB_VERIFY, ":test_tube:"},
	         {WIRE_JOB_REPORT, ":page_facing_up:"},
	         {WIRE_JOB_INDEX, ":card_index_dividers:"}};
	for (size_t i = 0; kind && i < sizeof m / sizeof m[0]; i++)
		if (!strcmp(kind, m[i].kind))
			return m[i].icon;
	return ":white_small_square:";
}

static void plan_text(const cJSON *plan, struct buf *out)
{
	const cJSON *st;
	int n = 0;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
	{
		buf_appendf(out, "%d. %s (risk %s, %s)\n", ++n,
		            json_str(st, "action") ? json_str(st, "action") : "?",
		            json_str(st, "risk") ? json_str(st, "risk") : "?",
		            json_str(st, "approval") ? json_str(st, "approval") : "?");
	}
	if (!n)
		buf_appendf(out, "(no steps)");
}

static void on_event(struct bot *b, void *priv, const cJSON *event, int64_t seq)
{
	struct slack *sl = priv;
	const char *name = json_str(event, "name");
	int64_t incident = json_int(event, "incident", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	cJSON *snap = NULL;
	int redraw = 0;
	char title[200];
	struct buf text = {.max = 8192};
	(void)b;

	/* A refused click is for the timeline and the clicker (ephemeral), not the thread. */
	if (!name || incident <= 0 || !strcmp(name, WIRE_EV_APPROVAL_REFUSED))
		goto done;
	if (!strcmp(name, WIRE_EV_OPENED)) {
		const cJSON *surf = cJSON_GetObjectItemCaseSensitive(data, "surface");
		const char *channel = NULL;
		if (json_str(surf, "kind") && !strcmp(json_str(surf, "kind"), "slack"))
			channel = json_str(surf, "channel");
		if (!channel)
			channel = sl->channel;
		if (!channel) {
			log_info("event=slack_no_channel incident=%lld", (long long)incident);
			goto done;
		}
		snap = cJSON_IsObject(data) ? json_dup(data) : json_new_object();
		set_str(snap, "slack_channel", channel);
		if (!json_str(snap, "state"))
			set_str(snap, "state", WIRE_ST_OPEN);
		snapshot_save(sl, incident, snap);
		push_parent(sl, snap, incident, seq, 0);
		buf_appendf(&text, "%s",
		            json_str(data, "summary") ? json_str(data, "summary") : "");
		push_step(sl, incident, seq, name, ":rotating_light:", "Incident opened",
		          json_str(surf, "user"), text.data ? text.data : "");
		goto done;
	}
	snap = snapshot_load(sl, incident);
	if (!snap) /* not an incident this surface shows */
		goto done;

	if (!strcmp(name, WIRE_EV_STAGE)) {
		const char *to = json_str(data, "to");
		snprintf(title, sizeof title, "State: %s → %s",
		         json_str(data, "from") ? json_str(data, "from") : "?", to ? to : "?");
		if (to) {
			set_str(snap, "state", to);
			redraw = 1;
		}
		push_step(sl, incident, seq, name, state_icon(to), title, NULL,
		          json_str(data, "reason") ? json_str(data, "reason") : "");
	} else if (!strcmp(name, WIRE_EV_COMMAND)) {
		const char *action = json_str(data, "action"), *user = json_str(data, "user");
		const char *ic = ":memo:", *t = "Note";
		if (!action)
			action = "?";
		if (!strcmp(action, "ack")) {
			ic = ":eyes:", t = "Acknowledged";
			set_str(snap, "acked_by", user);
			redraw = 1;
		} else if (!strcmp(action, "resolve")) {
			ic = ":white_check_mark:", t = "Resolve requested";
		} else if (!strcmp(action, "pause")) {
			ic = ":double_vertical_bar:", t = "Paused";
		} else if (!strcmp(action, "resume")) {
			ic = ":arrow_forward:", t = "Resumed";
		} else if (!strcmp(action, "retry")) {
			ic = ":repeat:", t = "Retry requested";
		}
		push_step(sl, incident, seq, name, ic, t, user,
		          json_str(data, "note") ? json_str(data, "note") : "");
	} else if (!strcmp(name, WIRE_EV_RESOLVED)) {
		set_str(snap, "state", WIRE_ST_RESOLVED);
		set_str(snap, "resolved_by", json_str(data, "by"));
		set_str(snap, "note", json_str(data, "note"));
		redraw = 1;
		push_step(sl, incident, seq, name, ":white_check_mark:", "Resolved",
		          json_str(data, "by"),
		          json_str(data, "note") ? json_str(data, "note") : "");
	} else if (!strcmp(name, WIRE_EV_FINDINGS)) {
		const char *kind = json_str(data, "kind");
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
		const char *sum =
		    json_str(res, "summary") ? json_str(res, "summary") : json_str(data, "summary");
		snprintf(title, sizeof title, "%c%s finished",
		         kind ? toupper((unsigned char)*kind) : '?', kind && *kind ? kind + 1 : "");
		push_step(sl, incident, seq, name, job_icon(kind), title, NULL, sum ? sum : "");
	} else if (!strcmp(name, WIRE_EV_PLAN)) {
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
		plan_text(plan, &text);
		if (json_bool(data, "needs_approval", 0))
			buf_appendf(&text, "\nSome steps need approval before they run.");
		push_step(sl, incident, seq, name, ":clipboard:", "Plan proposed", NULL,
		          text.data ? text.data : "");
	} else if (!strcmp(name, WIRE_EV_APPROVAL)) {
		const char *d = json_str(data, "decision");
		push_step(sl, incident, seq, name,
		          d && !strcmp(d, "reject") ? ":no_entry:" : ":ballot_box_with_check:",
		          d && !strcmp(d, "reject") ? "Plan rejected" : "Plan approved",
		          json_str(data, "user"), "");
	} else if (!strcmp(name, WIRE_EV_DEAD)) {
		snprintf(title, sizeof title, "%s failed after %lld attempts",
		         json_str(data, "kind") ? json_str(data, "kind") : "a job",
		         (long long)json_int(data, "attempts", 0));
		buf_appendf(&text,
		            "%s\nopsbot stopped retrying. An admin can run it again with "
		            "`opsbotctl retry %lld`.",
		            json_str(data, "error") ? json_str(data, "error") : "",
		            (long long)json_int(data, "job", 0));
		push_step(sl, incident, seq, name, ":x:", title, NULL, text.data);
	} else if (!strcmp(name, WIRE_EV_RETRY)) {
		snprintf(title, sizeof title, "%s will be retried (attempt %lld)",
		         json_str(data, "kind") ? json_str(data, "kind") : "a job",
		         (long long)json_int(data, "attempt", 0));
		push_step(sl, incident, seq, name, ":hourglass:", title, NULL,
		          json_str(data, "error") ? json_str(data, "error") : "");
	} else if (!strcmp(name, WIRE_EV_UPDATED)) {
		const cJSON *f;
		cJSON_ArrayForEach(f, data)
		{
			if (cJSON_IsString(f)) {
				set_str(snap, f->string, f->valuestring);
				buf_appendf(&text, "%s: %s\n", f->string, f->valuestring);
				redraw = 1;
			}
		}
		push_step(sl, incident, seq, name, ":pencil2:", "Incident updated", NULL,
		          text.data ? text.data : "");
	} else {
		push_step(sl, incident, seq, name, ":information_source:", name, NULL,
		          json_str(data, "summary") ? json_str(data, "summary") : "");
	}
	if (redraw) {
		snapshot_save(sl, incident, snap);
		push_parent(sl, snap, incident, seq, 1);
	}
done:
	buf_free(&text);
	cJSON_Delete(snap);
	slack_web_push(sl->web, slack_op_new(SLACK_OP_DONE, incident, seq));
}

/* ------------------------------------------------------------ surface */

static void tick(struct bot *b, void *priv)
{
	struct slack *sl = priv;
	int64_t d;

	if (sl->sock) {
		slack_socket_tick(sl->sock);
		if (!sl->health_set && slack_socket_problem(sl->sock)) {
			bot_health_set(b, "slack", slack_socket_problem(sl->sock));
			sl->health_set = 1;
		}
	}
	/* at most 4 writes a second: a restart replays a few events at worst,
	 * and the posted keys make the replay post nothing twice */
	d = slack_web_done_seq(sl->web);
	if (d > sl->done_reported && time_mono_ms() - sl->done_at_ms >= 250) {
		sl->done_at_ms = time_mono_ms();
		bot_surface_done(b, "slack", d);
		sl->done_reported = d;
	}
}

static void fini(struct bot *b, void *priv)
{
	struct slack *sl = priv;
	int64_t d;

	slack_socket_stop(sl->sock);
	d = slack_web_stop(sl->web);
	if (d > sl->done_reported)
		bot_surface_done(b, "slack", d);
	template_set_free(sl->ts);
	free(sl);
}

static int init(struct bot *b, struct config *cfg, void **priv)
{
	static const char *const modes[] = {"socket", "http", "both", NULL};
	struct slack *sl;
	struct slack_web_cfg wc;
	char err[512];
	const char *api_url, *bot_token, *app_token, *tdir;
	int mode;

	if (!config_has_section(cfg, "slack") || !config_bool(cfg, "slack", "enabled", 1))
		return 0;
	sl = xcalloc(1, sizeof *sl);
	sl->b = b;
	mode = config_enum(cfg, "slack", "mode", modes, 0);
	api_url = config_str(cfg, "slack", "api_url", "https://slack.com/api/");
	sl->channel = config_str(cfg, "slack", "channel", NULL);
	tdir = config_str(cfg, "slack", "templates", "templates/slack");
	sl->queue_timeout_ms = config_duration_ms(cfg, "slack", "queue_timeout", 1200);
	memset(&wc, 0, sizeof wc);
	wc.api_url = api_url;
	wc.state_path = b->state_path;
	wc.channel_rate = config_double(cfg, "slack", "channel_rate", 1, 0, 10000);
	wc.channel_burst = config_double(cfg, "slack", "channel_burst", 3, 1, 10000);
	wc.method_limits = config_bool(cfg, "slack", "method_limits", 1);
	wc.max_tries = 8;
	wc.max_backoff_ms = config_duration_ms(cfg, "slack", "max_backoff", 30000);
	int64_t dedupe = config_duration_ms(cfg, "slack", "dedupe_ttl", 10 * 60 * 1000);
	int sockets = (int)config_int(cfg, "slack", "sockets", 1, 1, 3);

	if (api_url[0] == '\0' || api_url[strlen(api_url) - 1] != '/')
		config_error(cfg, "slack", "api_url", "api_url must end with '/'");
	bot_token = config_secret("SLACK_BOT_TOKEN");
	app_token = config_secret("SLACK_APP_TOKEN");
	sl->signing_secret = config_secret("SLACK_SIGNING_SECRET");
	if (!bot_token)
		config_error(cfg, "slack", "enabled",
		             "SLACK_BOT_TOKEN is not set in the environment (needed to post)");
	if ((mode == 0 || mode == 2) && !app_token)
		config_error(cfg, "slack", "mode",
		             "Socket Mode needs SLACK_APP_TOKEN (xapp-...) in the environment");
	if ((mode == 1 || mode == 2) && !sl->signing_secret)
		config_error(cfg, "slack", "mode",
		             "HTTP mode needs SLACK_SIGNING_SECRET in the environment");
	if (slack_render_load(tdir, &sl->ts, err, sizeof err) < 0)
		config_error(cfg, "slack", "templates", "%s", err);
	if (!bot_token || ((mode == 0 || mode == 2) && !app_token) ||
	    ((mode == 1 || mode == 2) && !sl->signing_secret) || !sl->ts)
		goto fail;
	wc.bot_token = bot_token;
	if (slack_web_start(&sl->web, &wc, b, err, sizeof err) < 0) {
		config_error(cfg, "slack", "enabled", "%s", err);
		goto fail;
	}
	if (mode == 0 || mode == 2) {
		struct slack_socket_cfg sc = {
		    .api_url = api_url,
		    .app_token = app_token,
		    .dedupe_ttl_ms = dedupe,
		    .max_backoff_ms = wc.max_backoff_ms,
		    .sockets = sockets,
		};
		if (slack_socket_start(&sl->sock, &sc, b, on_envelope, sl, err, sizeof err) < 0) {
			config_error(cfg, "slack", "mode", "%s", err);
			goto fail;
		}
	}
	if (mode == 1 || mode == 2) {
		httpd_route(b->httpd, "POST", "/slack/commands", http_commands, sl);
		httpd_route(b->httpd, "POST", "/slack/interactive", http_interactive, sl);
		httpd_route(b->httpd, "POST", "/slack/events", http_events, sl);
	}
	state_seq_get(b->state, "slack", &sl->done_reported);
	log_info("event=slack_ready mode=%s api=%s channel=%s", modes[mode], log_q(api_url),
	         log_q(sl->channel ? sl->channel : ""));
	*priv = sl;
	return 1;
fail:
	slack_socket_stop(sl->sock);
	slack_web_stop(sl->web);
	template_set_free(sl->ts);
	free(sl);
	return -1;
}

const struct surface slack_surface = {
    .name = "slack",
    .init = init,
    .on_event = on_event,
    .tick = tick,
    .fini = fini,
};
