/*
 * slack_in.c: what comes in from Slack: slash commands, button clicks, the
 * reject modal's submission and app mentions, over Socket Mode
 * (slack_socket.c) or HTTP mode (routes on the bot's listener, v0-signed).
 *
 * Each becomes a queue request built by bot/command.c (the parser and
 * builders Discord uses too).  A slash command is checked at the door (only
 * /incident, a user and a channel).  A declaration is acked once its
 * request is on disk in the inbox (inbox.h) and reaches the queue after;
 * every other command is acked only after the queue answered.  Either way
 * a crash before the ack leaves it unacked (the user sees Slack's error,
 * nothing half-done).  A click is acked at once; its outcome shows in the
 * thread, and a refusal by the queue goes to the clicking person only
 * (chat.postEphemeral).  Reject opens a modal asking why (views.open on its
 * own lane, so it is never queued behind posts; its trigger_id lives 3 s).
 *
 * Trust: every payload is untrusted; HTTP requests are v0-signed
 * (slack_sig.c) and refused with 401 otherwise.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "command.h"
#include "form.h"
#include "httpd.h"
#include "inbox.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "slack.h"
#include "slack_sig.h"
#include "state.h"
#include "step.h"
#include "template.h"
#include "timeutil.h"
#include "utf8.h"
#include "wire.h"

/* Where an inbound request came from, so it can be acked the same way. */
struct slack_in {
	int http;
	struct httpd_x *x; /* http */
	int conn;          /* socket */
	char envelope[72]; /* socket */
	char ts[24];       /* http: X-Slack-Request-Timestamp */
};

struct pending {
	struct slack *sl;
	struct slack_in in;
	struct cmd cmd;
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

/*
 * Replies to one person (command answers, refused clicks) are worded in
 * templates/slack/reply_text: ctx sets one flag (queue_down, queue_wait, declaring, declared,
 * already, done, refused, status, list, click_refused, answer_refused) and
 * its values.  Returns a new string; ctx is freed.
 */
static char *reply_text(struct slack *sl, cJSON *ctx)
{
	char err[256];
	char *t = slack_render_reply(sl->ts, ctx, err, sizeof err);
	cJSON_Delete(ctx);
	if (!t) {
		log_warn("event=slack_render_failed template=reply_text error=%s", log_q(err));
		return xstrdup("opsbot could not word its answer (template reply_text is broken); "
		               "the incident's thread shows what happened.");
	}
	return t;
}

static cJSON *reply_ctx(const char *flag, int64_t incident)
{
	cJSON *c = json_new_object();
	json_add_bool(c, flag, 1);
	if (incident)
		json_add_int(c, "id", incident);
	return c;
}

static void say(struct pending *p, cJSON *ctx)
{
	char *t = reply_text(p->sl, ctx);
	answer(p, t);
	free(t);
}

/* err is "code: message"; the message is written for people. */
static const char *err_message(const char *err)
{
	const char *m = strstr(err, ": ");
	return m ? m + 2 : err;
}

/* The queue said no: what was asked (declare, show, or the verb), and why. */
static void refused(struct pending *p, const char *what, const char *err)
{
	cJSON *c = reply_ctx("refused", p->cmd.incident);
	json_add_bool(c, what, 1);
	json_add_str(c, "verb", cmd_action(p->cmd.kind));
	json_add_str(c, "why", err_message(err));
	say(p, c);
}

static void declare_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	(void)b;
	if (rc == -1) {
		log_warn("event=slack_declare_failed user=%s error=%s", log_q(p->user), log_q(err));
		say(p, reply_ctx("queue_down", 0));
	} else if (rc == -2) {
		refused(p, "declare", err);
	} else {
		int64_t id = json_int(reply, "incident", 0);
		cJSON *c = reply_ctx(json_bool(reply, "created", 1) ? "declared" : "already", id);
		json_add_str(c, "service", p->cmd.service);
		json_add_str(c, "severity", p->cmd.severity);
		say(p, c); /* the ack first: the log line can wait */
		log_info("event=slack_declared incident=%lld user=%s", (long long)id,
		         log_q(p->user));
	}
	free(p);
}

static void command_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	(void)b;
	if (rc == -1) {
		say(p, reply_ctx("queue_down", 0));
	} else if (rc == -2) {
		refused(p, "by_verb", err);
	} else {
		cJSON *c = reply_ctx("done", p->cmd.incident);
		json_add_str(c, "verb", cmd_action(p->cmd.kind));
		json_add_str(c, "state",
		             json_str(reply, "state") ? json_str(reply, "state") : "updated");
		say(p, c);
	}
	free(p);
}

/* An incident's fields for reply_text, "?" for what the queue did not say. */
static void add_incident(cJSON *to, const cJSON *inc)
{
	static const char *const keys[] = {"title", "severity", "service", "state"};
	json_add_int(to, "id", json_int(inc, "id", 0));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		json_add_str(to, keys[i], json_str(inc, keys[i]) ? json_str(inc, keys[i]) : "?");
}

#define LIST_MAX 20 /* open incidents one list answer shows */

static void query_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct pending *p = arg;
	const cJSON *it;
	int n = 0;
	(void)b;
	if (rc == -1) {
		say(p, reply_ctx("queue_down", 0));
	} else if (rc == -2) {
		refused(p, "show", err);
	} else if (p->cmd.incident) {
		const cJSON *inc = cJSON_GetObjectItemCaseSensitive(reply, "incident");
		cJSON *c = reply_ctx("status", 0);
		add_incident(c, inc);
		if (json_str(inc, "summary"))
			json_add_str(c, "summary", json_str(inc, "summary"));
		say(p, c);
	} else {
		cJSON *c = reply_ctx("list", 0), *items = json_new_array();
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "items"))
		{
			if (step_state_final(json_str(it, "state")))
				continue;
			if (n++ < LIST_MAX) {
				cJSON *o = json_new_object();
				add_incident(o, it);
				cJSON_AddItemToArray(items, o);
			}
		}
		json_add(c, "items", items);
		if (n > LIST_MAX)
			json_add_int(c, "others", n - LIST_MAX);
		say(p, c);
	}
	free(p);
}

/* The help text (templates/slack/help_text), with why first when given. */
static void help(struct pending *p, const char *why)
{
	cJSON *ctx = json_new_object();
	char err[256], *text;
	if (why)
		json_add_str(ctx, "why", why);
	text = slack_render_text(p->sl->ts, "help_text", ctx, err, sizeof err);
	cJSON_Delete(ctx);
	if (!text)
		log_warn("event=slack_render_failed template=help_text error=%s", log_q(err));
	answer(p, text ? text : "opsbot could not show its help; try `/incident help` later.");
	free(text);
}

/* ------------------------------------------ declarations, acked on disk */

/*
 * A slash command that declares an incident is acked once its request is
 * in the inbox (inbox.h: one local fsync), then sent to the queue.  The
 * incident's message, with its number, follows in the channel.  Until the
 * queue answers, the row is sent again (same bytes) every INBOX_RETRY_MS
 * and at start; the person hears once if the queue is away, and hears
 * why if the queue refuses.
 */
#define INBOX_RETRY_MS 2000
#define INBOX_KEEP_MS  (24 * 3600 * 1000LL) /* done rows answer repeats this long */

struct declaring {
	struct slack *sl;
	char key[200];
	char channel[64];
	char user[64];
	int told;
};

/* A reply_text answer to one person, after the ack: an ephemeral post. */
static void tell(struct slack *sl, const struct declaring *d, cJSON *ctx)
{
	char *t = reply_text(sl, ctx);
	ephemeral_op(sl, d->channel, d->user, t);
	free(t);
}

static void inbox_answered(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct declaring *d = arg;
	struct slack *sl = d->sl;
	(void)b;
	sl->inbox_inflight--;
	if (rc == -1 || (rc == -2 && !strncmp(err, "unavailable:", 12))) {
		/* Kept: sent again after INBOX_RETRY_MS, and at the next start
		   (also when the queue could not store it: that passes). */
		sl->inbox_retry_at = time_mono_ms() + INBOX_RETRY_MS;
		sl->inbox_waiting = 1;
		if (d->told) {
			log_debug("event=slack_declare_waiting key=%s error=%s", log_q(d->key),
			          log_q(err));
		} else {
			/* once per declaration: the log and the person */
			log_warn("event=slack_declare_waiting key=%s error=%s", log_q(d->key),
			         log_q(err));
			if (inbox_told(sl->inbox, d->key) == 0)
				tell(sl, d, reply_ctx("queue_wait", 0));
		}
	} else if (rc == -2) {
		inbox_done(sl->inbox, d->key, -1);
		log_warn("event=slack_declare_refused user=%s error=%s", log_q(d->user),
		         log_q(err));
		cJSON *c = reply_ctx("refused", 0);
		json_add_bool(c, "declare", 1);
		json_add_str(c, "why", err_message(err));
		tell(sl, d, c);
	} else {
		int64_t id = json_int(reply, "incident", 0);
		inbox_done(sl->inbox, d->key, id);
		log_info("event=slack_declared incident=%lld user=%s created=%d", (long long)id,
		         log_q(d->user), json_bool(reply, "created", 1));
	}
	free(d);
}

/* Send a declaration's request to the queue (req is owned from here on). */
static void inbox_send(struct slack *sl, cJSON *req, const struct inbox_row *r)
{
	struct declaring *d = xcalloc(1, sizeof *d);
	d->sl = sl;
	str_copy(d->key, sizeof d->key, r->key);
	str_copy(d->channel, sizeof d->channel, r->channel);
	str_copy(d->user, sizeof d->user, r->user);
	d->told = r->told;
	sl->inbox_inflight++;
	bot_call(sl->b, req, (int)sl->queue_timeout_ms, 1, inbox_answered, d);
}

static void inbox_resend(void *arg, const struct inbox_row *r)
{
	struct slack *sl = arg;
	cJSON *req = cJSON_Parse(r->request);
	if (!req) { /* cannot happen: it was printed by cJSON; drop it rather than loop */
		log_error("event=slack_inbox_unreadable key=%s", log_q(r->key));
		inbox_done(sl->inbox, r->key, -1);
		return;
	}
	log_debug("event=slack_declare_resend key=%s", log_q(r->key));
	inbox_send(sl, req, r);
}

void slack_inbox_tick(struct slack *sl)
{
	int64_t now = time_mono_ms();
	if (!sl->inbox)
		return;
	inbox_flush(sl->inbox); /* the answers of the last tick, in one write */
	if (now >= sl->inbox_prune_at) {
		sl->inbox_prune_at = now + 3600 * 1000;
		inbox_prune(sl->inbox, time_now_ms() - INBOX_KEEP_MS, 1000);
	}
	/* Rows wait unsent only at start and after a send failed. */
	if (!sl->inbox_waiting || sl->inbox_inflight > 0 || now < sl->inbox_retry_at)
		return;
	sl->inbox_retry_at = now + INBOX_RETRY_MS;
	int n = inbox_pending(sl->inbox, 64, inbox_resend, sl);
	if (n > 0) /* at start, or while the queue is away: one line a pass */
		log_info("event=slack_inbox_resend declarations=%d", n);
	else if (n == 0)
		sl->inbox_waiting = 0;
}

/*
 * Ack a declaration once it is on disk, then send it.  0 when the inbox
 * cannot store it (req untouched: the caller acks after the queue, as for
 * other commands); 1 when acked (req and p are freed).
 */
static int declare_acked(struct slack *sl, struct pending *p, cJSON *req, const char *key)
{
	char *text = json_print(req);
	struct inbox_row row = {
	    .key = key, .channel = p->channel, .user = p->user, .request = text};
	int64_t known;
	int rc = inbox_put(sl->inbox, &row, time_now_ms(), &known);
	if (rc < 0) {
		free(text);
		return 0;
	}
	cJSON *c;
	if (rc == 1 && known > 0) {
		c = reply_ctx("already", known);
	} else if (rc == 1 && known < 0) {
		c = reply_ctx("refused", 0);
		json_add_bool(c, "declare", 1);
		json_add_str(c, "why", "opsbot's queue refused this same command before");
	} else {
		c = reply_ctx("declaring", 0);
		json_add_str(c, "service", p->cmd.service);
		json_add_str(c, "severity", p->cmd.severity);
	}
	say(p, c); /* the ack */
	if (rc == 0)
		inbox_send(sl, req, &row);
	else
		cJSON_Delete(req); /* a repeat: the first one is on its way or done */
	free(text);
	free(p);
	return 1;
}

/* Run a parsed command; p is owned from here on. */
static void run_cmd(struct slack *sl, struct pending *p, const char *key)
{
	struct cmd_origin o = {.surface = "slack", .channel = p->channel, .user = p->user};
	cJSON *req = cmd_request(&p->cmd, &o, key);
	bot_call_cb done = p->cmd.kind == CMD_DECLARE                             ? declare_done
	                   : p->cmd.kind == CMD_STATUS || p->cmd.kind == CMD_LIST ? query_done
	                                                                          : command_done;

	if (!req) {
		char *why = p->cmd.kind == CMD_BAD ? cmd_why(sl->ts, &p->cmd) : NULL;
		help(p, why);
		free(why);
		free(p);
		return;
	}
	if (p->cmd.kind == CMD_DECLARE && !p->from_mention && sl->inbox &&
	    declare_acked(sl, p, req, key))
		return;
	bot_call_ack(sl->b, req, (int)sl->queue_timeout_ms, 1, done, p);
}

/* An answer in the ack, for a command refused before parsing. */
static void refuse_at_door(struct slack *sl, struct slack_in *in, const char *why, const char *text)
{
	cJSON *pl = json_new_object();
	log_warn("event=slack_bad_command error=%s", log_q(why));
	json_add_str(pl, "response_type", "ephemeral");
	json_add_str(pl, "text", text);
	in_ack(sl, in, pl);
	cJSON_Delete(pl);
}

/*
 * The idempotency key of a slash command: Slack's trigger_id when it sent
 * one, else the Socket Mode envelope id (a redelivery keeps it), else (HTTP
 * mode without trigger_id) a hash of the whole request and its signed
 * timestamp, so two distinct commands never share a key.
 */
static void slash_key(const struct slack_in *in, const cJSON *payload, char *key, size_t len)
{
	const char *trigger = json_str(payload, "trigger_id");
	if (trigger && *trigger) {
		snprintf(key, len, "slack-cmd:%s", trigger);
	} else if (in->envelope[0]) {
		snprintf(key, len, "slack-env:%s", in->envelope);
	} else {
		char *all = json_print(payload);
		uint64_t h = 1469598103934665603ULL;
		for (const char *s = all; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		for (const char *s = in->ts; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		free(all);
		snprintf(key, len, "slack-req:%s:%016llx", in->ts, (unsigned long long)h);
	}
}

static void handle_slash(struct slack *sl, struct slack_in *in, const cJSON *payload)
{
	const char *text = json_str(payload, "text");
	const char *user = json_str(payload, "user_id");
	const char *channel = json_str(payload, "channel_id");
	const char *command = json_str(payload, "command");
	struct pending *p;
	char key[200];

	if (!user || !channel || !text || !*user || !*channel) {
		refuse_at_door(sl, in, "text, user_id and channel_id must be non-empty strings",
		               "opsbot could not read this command (no user or channel). Nothing "
		               "was done; please try again.");
		return;
	}
	/* only the command the bot registered; a stray one gets a clear no */
	if (!command || command[0] != '/' || strcmp(command + 1, CMD_NAME)) {
		char msg[200];
		snprintf(msg, sizeof msg,
		         "opsbot answers only /%s; `%.40s` is not one of its commands. Nothing was "
		         "done.",
		         CMD_NAME, command ? command : "(none)");
		refuse_at_door(sl, in, "a command the bot did not register", msg);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->sl = sl;
	p->in = *in;
	str_copy(p->channel, sizeof p->channel, channel);
	str_copy(p->user, sizeof p->user, user);
	cmd_parse_text(text, &p->cmd);
	int kind = p->cmd.kind;
	/* A repeat of the same command must not act twice. */
	slash_key(in, payload, key, sizeof key);
	run_cmd(sl, p, key); /* the request leaves before the log line is written */
	log_info("event=slack_command user=%s channel=%s kind=%d", log_q(user), log_q(channel),
	         kind);
}

/* ------------------------------------------------------- button clicks */

struct click {
	struct slack *sl;
	char channel[64], user[64], action[16];
	int64_t incident;
	cJSON *sent; /* a copy of a request with a reason, for cmd_without_reason */
};

static void click_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	struct click *c = arg;
	(void)b;
	if (rc == -2) {
		cJSON *again = cmd_without_reason(c->sent, reply, err);
		if (again) {
			log_warn("event=slack_reason_dropped incident=%lld error=%s",
			         (long long)c->incident, log_q(err));
			cJSON_Delete(c->sent);
			c->sent = NULL;
			bot_call(c->sl->b, again, (int)c->sl->queue_timeout_ms, 2, click_done, c);
			return;
		}
	}
	if (rc != 0) {
		/* the queue is the judge; its reason goes to the clicking person only */
		int answer_ = !strncmp(c->action, "step_", 5);
		cJSON *ctx = reply_ctx(answer_ ? "answer_refused" : "click_refused", c->incident);
		if (rc == -1)
			json_add_bool(ctx, "down", 1); /* the queue did not answer */
		else
			json_add_str(ctx, "why", err_message(err));
		json_add_bool(ctx,
		              !strcmp(c->action, "ack")      ? "is_ack"
		              : !strcmp(c->action, "dryrun") ? "is_dryrun"
		                                             : "is_other",
		              1);
		json_add_str(ctx, "action", c->action);
		char *msg = reply_text(c->sl, ctx);
		log_info("event=slack_click_refused incident=%lld action=%s user=%s error=%s",
		         (long long)c->incident, c->action, log_q(c->user), log_q(err));
		ephemeral_op(c->sl, c->channel, c->user, msg);
		free(msg);
	}
	cJSON_Delete(c->sent);
	free(c);
}

/* Send one click (or modal answer) to the queue; the thread shows the outcome. */
static void click_send(struct slack *sl, const char *action, int64_t incident, const char *arg,
                       const char *reason, const char *user, const char *channel, const char *key,
                       int64_t msg_incident)
{
	struct cmd_origin o = {.surface = "slack", .channel = channel, .user = user};
	const char *why;
	cJSON *req = cmd_button_request(action, incident, arg, reason, &o, key, &why);
	struct click *c;

	if (!req) {
		log_warn("event=slack_bad_click action=%s error=%s", log_q(action), log_q(why));
		char *text = cmd_why_code(sl->ts, why, NULL);
		ephemeral_op(sl, channel, user, text);
		free(text);
		return;
	}
	cmd_set_message_incident(req, msg_incident);
	c = xcalloc(1, sizeof *c);
	c->sl = sl;
	c->incident = incident;
	str_copy(c->channel, sizeof c->channel, channel);
	str_copy(c->user, sizeof c->user, user);
	str_copy(c->action, sizeof c->action, action);
	if (reason && *reason)
		c->sent = json_dup(req);
	log_info("event=slack_click incident=%lld action=%s user=%s", (long long)incident, action,
	         log_q(user));
	bot_call(sl->b, req, (int)sl->queue_timeout_ms, 2, click_done, c);
}

/* Reject asks why first: a modal (views.open) on the UI lane. */
struct modal_job {
	struct slack *sl;
	char trigger[128], user[64], channel[64], hash[WIRE_KEY_MAX + 1], key[200];
	int64_t incident, msg_incident;
	char *view; /* JSON text */
};

static void modal_job_free(void *arg)
{
	struct modal_job *j = arg;
	free(j->view);
	free(j);
}

static void modal_job(void *arg, struct http_client *hc)
{
	struct modal_job *j = arg;
	cJSON *args = json_new_object(), *view = NULL, *reply = NULL;
	char err[160];
	int64_t ra;
	int rc = -1;

	(void)hc;
	json_add_str(args, "trigger_id", j->trigger);
	if (json_parse_object(j->view, strlen(j->view), &view, err, sizeof err) == 0) {
		json_add(args, "view", view);
		rc = slack_web_call(j->sl->api_url, j->sl->bot_token, "views.open", args, &reply,
		                    &ra, err, sizeof err);
	}
	cJSON_Delete(args);
	cJSON_Delete(reply);
	if (rc < 0) {
		/* no form: the click still counts, as a reject without a reason */
		log_warn(
		    "event=slack_modal_failed incident=%lld error=%s action=reject_without_reason",
		    (long long)j->incident, log_q(err));
		click_send(j->sl, STEP_ACT_REJECT, j->incident, j->hash, NULL, j->user, j->channel,
		           j->key, j->msg_incident);
	}
	modal_job_free(j);
}

static void reject_modal(struct slack *sl, int64_t incident, const char *hash, const char *trigger,
                         const char *user, const char *channel, const char *key,
                         int64_t msg_incident)
{
	cJSON *ctx = json_new_object();
	struct buf out = {.max = TEMPLATE_MAX_OUTPUT};
	char err[256];
	struct modal_job *j;

	json_add_int(ctx, "id", incident);
	json_add_str(ctx, "hash", hash);
	json_add_str(ctx, "channel", channel);
	if (msg_incident > 0)
		json_add_int(ctx, "msg_incident", msg_incident);
	if (template_render(sl->ts, "reject_modal", ctx, TEMPLATE_ESC_JSON | TEMPLATE_ESC_MRKDWN,
	                    &out, err, sizeof err) < 0) {
		log_warn("event=slack_render_failed template=reject_modal error=%s", log_q(err));
		cJSON_Delete(ctx);
		buf_free(&out);
		click_send(sl, STEP_ACT_REJECT, incident, hash, NULL, user, channel, key,
		           msg_incident);
		return;
	}
	cJSON_Delete(ctx);
	j = xcalloc(1, sizeof *j);
	j->sl = sl;
	j->incident = incident;
	j->msg_incident = msg_incident;
	j->view = out.data;
	str_copy(j->trigger, sizeof j->trigger, trigger);
	str_copy(j->user, sizeof j->user, user);
	str_copy(j->channel, sizeof j->channel, channel);
	str_copy(j->hash, sizeof j->hash, hash);
	str_copy(j->key, sizeof j->key, key);
	lane_push(sl->ui, modal_job, modal_job_free, j);
}

/*
 * The incident of the message the button was on, from bot.db's threads: the
 * message is an incident's parent, or a reply in its thread (thread_ts).
 * 0 when opsbot does not know the message; the queue then judges as before.
 */
static int64_t message_incident(struct slack *sl, const cJSON *payload, const char *channel)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(payload, "message");
	const cJSON *cont = cJSON_GetObjectItemCaseSensitive(payload, "container");
	const char *refs[] = {json_str(msg, "thread_ts"), json_str(cont, "thread_ts"),
	                      json_str(cont, "message_ts"), json_str(msg, "ts")};
	int64_t id = 0;

	if (!sl->b->state)
		return 0;
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		if (refs[i] && *refs[i] &&
		    state_thread_find(sl->b->state, "slack", channel, refs[i], &id) == 1)
			return id;
	}
	return 0;
}

static void handle_actions(struct slack *sl, const cJSON *payload)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(payload, "user");
	const cJSON *chan = cJSON_GetObjectItemCaseSensitive(payload, "channel");
	const cJSON *a;
	const char *uid = json_str(user, "id");
	const char *cid = json_str(chan, "id");
	const char *trigger = json_str(payload, "trigger_id");
	int64_t msg_incident;

	if (!cid)
		cid =
		    json_str(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
	if (!uid || !cid || !*uid || !*cid) {
		log_warn("event=slack_bad_click error=%s", log_q("user.id or channel.id missing"));
		return;
	}
	msg_incident = message_incident(sl, payload, cid);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(payload, "actions"))
	{
		const char *aid = json_str(a, "action_id"), *val = json_str(a, "value");
		const char *ats = json_str(a, "action_ts");
		char arg[WIRE_KEY_MAX + 1], key[300];
		int64_t id;

		if (!aid || !val)
			continue;
		if (strncmp(aid, "opsbot_", 7)) {
			log_info("event=slack_click_ignored action_id=%s", log_q(aid));
			continue;
		}
		if (cmd_button_value(val, &id, arg, sizeof arg) < 0) {
			log_warn("event=slack_bad_click error=%s",
			         log_q("value is not an incident"));
			continue;
		}
		snprintf(key, sizeof key, "slack-click:%s:%s:%s", uid, aid, ats ? ats : "");
		if (!strcmp(aid + 7, STEP_ACT_REJECT) && trigger && *trigger && *arg)
			reject_modal(sl, id, arg, trigger, uid, cid, key, msg_incident);
		else
			click_send(sl, aid + 7, id, arg, NULL, uid, cid, key, msg_incident);
	}
}

/* The reject modal's submission: private_metadata "<incident>:<hash>:<channel>". */
static void handle_view(struct slack *sl, const cJSON *payload)
{
	const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
	const char *uid = json_str(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
	const char *cb = json_str(view, "callback_id"), *meta = json_str(view, "private_metadata");
	const char *vid = json_str(view, "id");
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(view, "state"), "values");
	const char *reason =
	    json_str(cJSON_GetObjectItemCaseSensitive(
	                 cJSON_GetObjectItemCaseSensitive(vals, "reason"), "reason"),
	             "value");
	char arg[WIRE_KEY_MAX + 80], key[300], *channel, *mi;
	int64_t id, msg_incident = 0;

	if (!cb || strcmp(cb, "opsbot_reject") || !uid || !*uid || !meta ||
	    cmd_button_value(meta, &id, arg, sizeof arg) < 0 || !(channel = strchr(arg, ':'))) {
		log_warn("event=slack_bad_view callback_id=%s", log_q(cb ? cb : ""));
		return;
	}
	*channel++ = '\0';
	/* ":<incident>" after the channel: the message the Reject was clicked on */
	if ((mi = strchr(channel, ':'))) {
		*mi++ = '\0';
		msg_incident = strtoll(mi, NULL, 10);
	}
	snprintf(key, sizeof key, "slack-view:%s:%s", uid, vid ? vid : meta);
	click_send(sl, STEP_ACT_REJECT, id, arg, reason, uid, channel, key, msg_incident);
}

/* An interactive payload: block_actions or a modal submission. */
static void handle_interactive(struct slack *sl, const cJSON *payload)
{
	const char *type = json_str(payload, "type");
	if (type && !strcmp(type, "block_actions"))
		handle_actions(sl, payload);
	else if (type && !strcmp(type, "view_submission"))
		handle_view(sl, payload);
	else
		log_info("event=slack_interaction_ignored type=%s", log_q(type ? type : ""));
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
	cmd_parse_text(clean.data ? clean.data : "", &p->cmd);
	buf_free(&clean);
	/* Slack redelivers unacked events with the same event_id: one key */
	snprintf(key, sizeof key, "slack-ev:%s", event_id);
	log_info("event=slack_mention user=%s channel=%s event_id=%s kind=%d", log_q(user),
	         log_q(channel), log_q(event_id), p->cmd.kind);
	run_cmd(sl, p, key);
}

/* ------------------------------------------------------ socket envelopes */

void slack_in_envelope(void *arg, struct slack_socket *s, int conn, const cJSON *env)
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
		handle_interactive(sl, payload);
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

void slack_in_http_commands(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	struct slack_in in = {.http = 1, .x = x};
	cJSON *form;

	if (!http_verified(sl, x))
		return;
	form = form_parse(r->body, r->body_len);
	utf8_repair_json(form); /* the entrance rule for decoded form fields */
	if (json_str(form, "ssl_check")) {
		httpd_reply_str(x, 200, "text/plain", "");
		cJSON_Delete(form);
		return;
	}
	httpd_header(x, "X-Slack-Request-Timestamp", in.ts, sizeof in.ts);
	httpd_hold(x);
	handle_slash(sl, &in, form);
	cJSON_Delete(form);
}

void slack_in_http_interactive(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	cJSON *form, *payload = NULL;
	const char *p;
	char err[160];

	if (!http_verified(sl, x))
		return;
	form = form_parse(r->body, r->body_len);
	utf8_repair_json(form); /* the entrance rule for decoded form fields */
	p = json_str(form, "payload");
	if (!p || utf8_parse_json(p, strlen(p), &payload, err, sizeof err) < 0) {
		log_warn("event=slack_bad_interaction error=%s", log_q(p ? err : "no payload"));
		httpd_reply_str(x, 400, "text/plain", "payload must be a JSON object\n");
		cJSON_Delete(form);
		return;
	}
	httpd_reply_str(x, 200, "text/plain", "");
	handle_interactive(sl, payload);
	cJSON_Delete(payload);
	cJSON_Delete(form);
}

void slack_in_http_events(struct httpd_x *x, void *arg)
{
	struct slack *sl = arg;
	const struct httpd_req *r = httpd_request(x);
	struct slack_in in = {.http = 1, .x = x};
	cJSON *body = NULL;
	char err[160];

	if (!http_verified(sl, x))
		return;
	if (utf8_parse_json(r->body, r->body_len, &body, err, sizeof err) < 0) {
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
