/*
 * discord_in.c: Discord interactions: the /incident command, buttons and the
 * reject modal, from the Gateway (INTERACTION_CREATE) or signed HTTP POSTs.
 *
 * Each interaction is answered within Discord's 3 s: at once when nothing
 * needs the queue, else deferred (type 5 or 6) with the outcome as a
 * follow-up.  Commands are parsed by bot/command.c (the parser Slack uses
 * too) and button presses become queue requests there as well; the queue is
 * the judge, and a refusal is shown to the clicking person only (ephemeral,
 * flag 64).  Reject asks for a reason first (a modal, type 9; its
 * submission arrives as type 5).
 *
 * Buttons carry custom_id "ob:<incident>:<action>[:<arg>]" (templates/
 * discord/button), the reject modal "obr:<incident>:<plan hash>".
 *
 * Trust: everything from Discord is untrusted: fields are read with checks,
 * text is escaped by the templates, and nothing from a user is fatal.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "command.h"
#include "discord.h"
#include "discord_rest.h"
#include "discord_sig.h"
#include "httpd.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "step.h"
#include "timeutil.h"
#include "utf8.h"
#include "wire.h"

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
	d->answered[d->answered_n++ % DISCORD_ANSWERED_MAX] = token;
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
		for (unsigned i = 0; i < DISCORD_ANSWERED_MAX && !found; i++)
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
		discord_log_refused(j->what, status, out);
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
	lane_push(followup ? d->follow : d->ack, ack_job, ack_job_free, j);
}

cJSON *discord_commands_json(void)
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
	cJSON *msg = discord_render(d->tpl, "help", ctx);
	cJSON_Delete(ctx);
	if (!msg) /* a broken template still gets the user an answer */
		msg = text_data("opsbot could not show its help; see /incident help later.", 0);
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "flags");
	json_add_int(msg, "flags", DISCORD_EPHEMERAL);
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
	ack_push(d, "followup", "POST", path, text_data(content, DISCORD_EPHEMERAL), token, 1);
}

struct pending {
	struct discord *d;
	char token[512];
	char what[16];
	int edit;    /* 1: edit @original; 0: ephemeral follow-up only on error */
	cJSON *sent; /* a copy of a request with a reason, for cmd_without_reason */
};

/*
 * A reply's words come from templates/discord/reply.json: ctx sets one flag
 * (declared, already, status, list, done, failed) and its values.  Returns
 * the content, a new string; ctx is freed.
 */
static char *reply_content(struct discord *d, cJSON *ctx)
{
	cJSON *m = discord_render(d->tpl, "reply", ctx);
	const char *c = json_str(m, "content");
	char *s = xstrdup(c ? c
	                    : "opsbot could not word its answer (template reply is broken); the "
	                      "incident's thread shows what happened.");
	cJSON_Delete(ctx);
	cJSON_Delete(m);
	return s;
}

static void add_field(cJSON *to, const cJSON *from, const char *key, size_t clamp)
{
	const char *v = json_str(from, key);
	if (!clamp) {
		json_add_str(to, key, v ? v : "?");
		return;
	}
	char *c = step_clamp(v ? v : "?", clamp);
	json_add_str(to, key, c);
	free(c);
}

/* Open incidents for the list answer, as many as fit in one message. */
static cJSON *list_items(const cJSON *reply)
{
	cJSON *items = json_new_array(), *last = NULL;
	const cJSON *i;
	size_t room = 1900;
	cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(reply, "items"))
	{
		if (step_state_final(json_str(i, "state")))
			continue; /* open incidents only, as on Slack */
		cJSON *o = json_new_object();
		json_add_int(o, "id", json_int(i, "id", 0));
		add_field(o, i, "title", 100);
		add_field(o, i, "state", 0);
		size_t need = strlen(json_str(o, "title")) * 2 + strlen(json_str(o, "state")) + 32;
		if (need > room) {
			cJSON_Delete(o);
			break;
		}
		room -= need;
		if (last)
			json_add_bool(last, "more", 1);
		cJSON_AddItemToArray(items, o);
		last = o;
	}
	return items;
}

static cJSON *reply_ctx(const char *what, int rc, const cJSON *reply, const char *err)
{
	cJSON *c = json_new_object();
	if (rc != 0) {
		const char *why = rc == -2 ? json_str(reply, "message") : NULL;
		json_add_bool(c, "failed", 1);
		json_add_bool(c, "refused", rc == -2);
		json_add_str(c, "why",
		             why ? why : (err && *err ? err : "the queue did not answer"));
	} else if (strcmp(what, "declare") == 0) {
		json_add_bool(c, json_bool(reply, "created", 1) ? "declared" : "already", 1);
		json_add_int(c, "id", json_int(reply, "incident", 0));
	} else if (strcmp(what, "status") == 0) {
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(reply, "incident");
		json_add_bool(c, "status", 1);
		json_add_int(c, "id", json_int(i, "id", 0));
		add_field(c, i, "title", 200);
		add_field(c, i, "state", 0);
		add_field(c, i, "severity", 0);
		add_field(c, i, "service", 0);
	} else if (strcmp(what, "list") == 0) {
		json_add_bool(c, "list", 1);
		json_add(c, "items", list_items(reply));
	} else {
		json_add_bool(c, "done", 1);
		json_add_str(c, "what", what);
	}
	return c;
}

static void queue_done(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err)
{
	(void)b;
	struct pending *p = arg;
	struct discord *d = p->d;
	cJSON *again = rc == -2 ? cmd_without_reason(p->sent, reply, err) : NULL;
	if (again) {
		log_warn("event=discord_reason_dropped what=%s", p->what);
		cJSON_Delete(p->sent);
		p->sent = NULL;
		bot_call(d->b, again, d->queue_timeout_ms, 2, queue_done, p);
		return;
	}
	char *msg = reply_content(d, reply_ctx(p->what, rc, reply, err));
	if (p->edit)
		followup_edit(d, p->token, msg);
	else if (rc != 0)
		followup_ephemeral(d, p->token, msg);
	if (rc != 0) {
		const char *why = rc == -2 ? json_str(reply, "message") : NULL;
		log_warn("event=discord_queue_refused what=%s rc=%d error=%s", p->what, rc,
		         log_q(why ? why : err));
	}
	free(msg);
	cJSON_Delete(p->sent);
	free(p);
}

static void queue_send(struct discord *d, cJSON *req, const char *token, const char *what, int edit)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->d = d;
	str_copy(p->token, sizeof p->token, token);
	str_copy(p->what, sizeof p->what, what);
	p->edit = edit;
	if (cJSON_GetObjectItemCaseSensitive(req, "reason"))
		p->sent = json_dup(req);
	bot_call(d->b, req, d->queue_timeout_ms, 2, queue_done, p);
}

static int seen_before(struct discord *d, const char *id)
{
	for (int i = 0; i < d->seen_n && i < DISCORD_SEEN_MAX; i++)
		if (strcmp(d->seen[i], id) == 0)
			return 1;
	str_copy(d->seen[d->seen_n % DISCORD_SEEN_MAX], sizeof d->seen[0], id);
	d->seen_n++;
	if (d->seen_n >= 2 * DISCORD_SEEN_MAX)
		d->seen_n = DISCORD_SEEN_MAX; /* keep the index bounded; the ring stays full */
	return 0;
}

/* The person's Discord id: the queue judges approvals by it (policy.conf). */
static const char *user_id(const cJSON *in)
{
	const cJSON *mu = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(in, "member"), "user");
	if (!mu)
		mu = cJSON_GetObjectItemCaseSensitive(in, "user");
	return json_str(mu, "id");
}

/* A refused button or form: why (a cmd_button_request code) in Discord's words. */
static void answer_why(struct discord *d, struct reply_to *to, const char *why)
{
	char *text = cmd_why_code(d->tpl, why, NULL);
	answer(d, to, 4, text_data(text, DISCORD_EPHEMERAL));
	free(text);
}

static void on_command(struct discord *d, const cJSON *in, struct reply_to *to, const char *user,
                       const char *channel)
{
	struct cmd c;
	struct cmd_origin o = {
	    .surface = SURFACE, .channel = channel, .user = user, .user_id = user_id(in)};
	char key[64];
	cJSON *req;

	cmd_parse_options(cJSON_GetObjectItemCaseSensitive(in, "data"), &c);
	if (c.kind == CMD_HELP || c.kind == CMD_BAD) {
		char *why = c.kind == CMD_BAD ? cmd_why(d->tpl, &c) : NULL;
		help(d, to, why);
		free(why);
		return;
	}
	snprintf(key, sizeof key, "discord:%s", to->id);
	req = cmd_request(&c, &o, key);
	if (c.kind == CMD_DECLARE) {
		answer(d, to, 5, NULL); /* the queue answers next; show "thinking" meanwhile */
		queue_send(d, req, to->token, "declare", 1);
		return;
	}
	answer(d, to, 5, text_data("", DISCORD_EPHEMERAL));
	if (c.kind == CMD_LIST)
		queue_send(d, req, to->token, "list", 1);
	else if (c.kind == CMD_STATUS)
		queue_send(d, req, to->token, "status", 1);
	else
		queue_send(d, req, to->token, cmd_action(c.kind), 1);
}

/* Reject asks why first: a modal (callback type 9) from templates/discord. */
static void reject_modal(struct discord *d, struct reply_to *to, long long incident,
                         const char *hash, int64_t msg_incident)
{
	cJSON *ctx = json_new_object(), *modal;
	json_add_int(ctx, "id", incident);
	json_add_str(ctx, "hash", hash);
	if (msg_incident > 0)
		json_add_int(ctx, "msg_incident", msg_incident);
	modal = discord_render(d->tpl, "reject_modal", ctx);
	cJSON_Delete(ctx);
	if (!modal) {
		answer(d, to, 4,
		       text_data("opsbot could not ask for a reason; nothing was rejected.",
		                 DISCORD_EPHEMERAL));
		return;
	}
	answer(d, to, 9, modal);
}

/*
 * The incident of the message the button was on, from bot.db's threads: the
 * incident's parent message, or a message in its thread (a thread's id is
 * its parent message's id).  0 when opsbot does not know the message.
 */
static int64_t message_incident(struct discord *d, const cJSON *in)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(in, "message");
	const char *refs[] = {json_str(msg, "id"), json_str(msg, "channel_id"),
	                      json_str(in, "channel_id")};
	int64_t id = 0;

	if (!d->b->state)
		return 0;
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		if (refs[i] && *refs[i] &&
		    state_thread_find(d->b->state, SURFACE, NULL, refs[i], &id) == 1)
			return id;
	}
	return 0;
}

static void on_button(struct discord *d, const cJSON *in, struct reply_to *to, const char *user)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
	const char *cid = json_str(data, "custom_id");
	struct cmd_origin o = {.surface = SURFACE,
	                       .channel = json_str(in, "channel_id"),
	                       .user = user,
	                       .user_id = user_id(in)};
	char action[16] = "", arg[101] = "", key[64];
	long long incident = 0;
	const char *why;
	int n = cid ? sscanf(cid, "ob:%lld:%15[a-z_]:%100s", &incident, action, arg) : 0;
	int64_t msg_incident;
	cJSON *req;

	if (n < 2 || incident <= 0) {
		answer_why(d, to, "button_unknown");
		return;
	}
	msg_incident = message_incident(d, in);
	if (!strcmp(action, STEP_ACT_REJECT) && arg[0]) {
		reject_modal(d, to, incident, arg, msg_incident);
		return;
	}
	snprintf(key, sizeof key, "discord:%s", to->id);
	req = cmd_button_request(action, incident, arg, NULL, &o, key, &why);
	if (!req) {
		answer_why(d, to, why);
		return;
	}
	cmd_set_message_incident(req, msg_incident);
	answer(d, to, 6, NULL); /* acknowledged; the thread shows the outcome */
	queue_send(d, req, to->token, action, 0);
}

/* The reject modal's submission: custom_id "obr:<incident>:<hash>". */
static void on_modal(struct discord *d, const cJSON *in, struct reply_to *to, const char *user)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
	const char *cid = json_str(data, "custom_id");
	const cJSON *row, *c;
	const char *reason = NULL, *why;
	struct cmd_origin o = {.surface = SURFACE,
	                       .channel = json_str(in, "channel_id"),
	                       .user = user,
	                       .user_id = user_id(in)};
	char hash[101] = "", key[64], *mi;
	long long incident = 0;
	int64_t msg_incident = 0;
	cJSON *req;

	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(data, "components"))
	{
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(row, "components"))
		{
			if (json_str(c, "custom_id") && !strcmp(json_str(c, "custom_id"), "reason"))
				reason = json_str(c, "value");
		}
	}
	if (!cid || sscanf(cid, "obr:%lld:%100s", &incident, hash) != 2 || incident <= 0) {
		answer_why(d, to, "form_unknown");
		return;
	}
	/* ":<incident>" after the hash: the message the Reject was clicked on */
	if ((mi = strchr(hash, ':'))) {
		*mi++ = '\0';
		msg_incident = strtoll(mi, NULL, 10);
	}
	snprintf(key, sizeof key, "discord:%s", to->id);
	req = cmd_button_request(STEP_ACT_REJECT, incident, hash, reason, &o, key, &why);
	if (!req) {
		answer_why(d, to, why);
		return;
	}
	cmd_set_message_incident(req, msg_incident);
	answer(d, to, 5, text_data("", DISCORD_EPHEMERAL));
	queue_send(d, req, to->token, "reject", 1);
}

/*
 * Handle one interaction (gateway or HTTP).  Malformed ones are logged and
 * skipped; over HTTP they get 400.
 */
void discord_interaction(struct discord *d, const cJSON *in, struct httpd_x *x)
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
	if (!uid || !*uid || !channel || !*channel) {
		/* refused at the door, as on Slack: it would fail later anyway */
		d->bad_interactions++;
		log_warn("event=discord_interaction_refused id=%s reason=\"no user id or channel\"",
		         id);
		answer(d, &to, 4,
		       text_data("opsbot could not tell who sent this or from which channel, so "
		                 "nothing was done. Please try again from a server channel.",
		                 DISCORD_EPHEMERAL));
	} else if (type == 2)
		on_command(d, in, &to, who, channel);
	else if (type == 3)
		on_button(d, in, &to, who);
	else if (type == 5)
		on_modal(d, in, &to, who);
	else
		answer(d, &to, 4,
		       text_data("opsbot does not handle that kind of interaction.",
		                 DISCORD_EPHEMERAL));
	if (to.x) /* every path above answers; this is a guard against a silent drop */
		httpd_reply_str(to.x, 202, "application/json", "{}");
}

/* ------------------------------------------------------- HTTP interactions */

void discord_http_interaction(struct httpd_x *x, void *arg)
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
	if (utf8_parse_json(r->body, r->body_len, &in, err, sizeof err) < 0) {
		httpd_reply_str(x, 400, "application/json",
		                "{\"error\":\"body is not a JSON object\"}");
		return;
	}
	discord_interaction(d, in, x);
	cJSON_Delete(in);
}
