/*
 * interact.c: fake-slack's response URLs and modals.
 *
 * POST /response/<id>: the response_url of a slash command or a block
 * action.  As Slack documents: JSON body; `response_type` ephemeral (the
 * default) or in_channel; for a block action `replace_original:true` edits
 * the message the button was on and `delete_original:true` removes it;
 * `thread_ts` with in_channel replies in a thread.  A URL works at most 5
 * times and for 30 minutes; after that it answers 404 (`used_url` /
 * `expired_url`: Slack does not publish these bodies).
 *
 * views.open / views.update (methods, registered by web.c through
 * views_open / views_update): a modal opened with a trigger id (valid 3 s,
 * once), stored with its blocks (block_ids added).  POST /control/submit
 * {view_id, user, values:{block_id:{action_id:{type,value}}} |
 * inputs:{action_id:"text"}} sends the view_submission a person's Submit
 * makes; the ack's response_action (errors, update, clear, or none) is
 * applied to the stored view.  GET /control/views[?id=V] shows them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/httpd.h"
#include "fake_slack.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define MAX_MODAL_BLOCKS 100

static void reply_text(struct httpd_x *x, int status, const char *text)
{
	httpd_reply_str(x, status, "text/plain", text);
}

/* ------------------------------------------------------------ response_url */

static void c_response(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	const char *id = r->path + strlen("/response/");
	cJSON *in = NULL, *reply, *args;
	const char *err = NULL, *channel, *mts;
	char perr[160];
	cJSON *rec;

	(void)arg;
	if (json_parse_object(r->body, r->body_len, &in, perr, sizeof perr) < 0) {
		reply_text(x, 400, "invalid_payload");
		return;
	}
	rec = ws_response_use(id, &err);
	if (!rec) {
		cJSON_Delete(in);
		reply_text(x, 404, err);
		return;
	}
	channel = json_str(rec, "channel");
	mts = json_str(rec, "message_ts");
	reply = json_new_object();
	if (json_bool(in, "delete_original", 0)) {
		if (!mts || !*mts)
			err = "no original message to delete";
		else {
			args = json_new_object();
			json_add_str(args, "channel", channel);
			json_add_str(args, "ts", mts);
			err = web_call("chat.delete", args, reply);
			cJSON_Delete(args);
		}
	} else if (json_bool(in, "replace_original", 0) && mts && *mts) {
		args = json_dup(in);
		json_add_str(args, "channel", channel);
		json_add_str(args, "ts", mts);
		err = web_call("chat.update", args, reply);
		cJSON_Delete(args);
	} else if (json_str(in, "response_type") &&
	           strcmp(json_str(in, "response_type"), "in_channel") == 0) {
		args = json_dup(in);
		cJSON_DeleteItemFromObjectCaseSensitive(args, "channel");
		json_add_str(args, "channel", channel);
		err = web_call("chat.postMessage", args, reply);
		cJSON_Delete(args);
	} else {
		/* ephemeral: only the user who acted sees it */
		char ts[32];
		cJSON *m = json_dup(in);
		web_new_ts(ts, sizeof ts);
		json_add_str(m, "ts", ts);
		json_add_str(m, "source", "response_url");
		if (!json_str(m, "channel"))
			json_add_str(m, "channel", channel);
		if (!json_str(m, "user"))
			json_add_str(m, "user", json_str(rec, "user"));
		cJSON_AddItemToArray(fs.ephemeral, m);
	}
	cJSON_Delete(in);
	cJSON_Delete(reply);
	if (err) {
		log_info("event=response_url_error error=%s", log_q(err));
		reply_text(x, 404, err);
		return;
	}
	reply_text(x, 200, "ok");
}

/* ------------------------------------------------------------------ modals */

static void new_view_id(char *out, size_t len)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t i;
	out[0] = 'V';
	for (i = 1; i < 11 && i + 1 < len; i++)
		out[i] = alnum[random() % 36];
	out[i] = '\0';
}

static void set_hash(cJSON *v)
{
	char h[48];
	snprintf(h, sizeof h, "%lld.%08lx", (long long)(fs_now_us() / 1000000),
	         (unsigned long)random());
	cJSON_DeleteItemFromObjectCaseSensitive(v, "hash");
	json_add_str(v, "hash", h);
}

/* Check a view as views.open does; NULL when valid.  The view's blocks get
 * block_ids. */
static const char *view_check(cJSON *v, cJSON *reply)
{
	const cJSON *title = cJSON_GetObjectItemCaseSensitive(v, "title");
	cJSON *blocks = cJSON_GetObjectItemCaseSensitive(v, "blocks");
	const char *type = json_str(v, "type");
	char err[256];
	int inputs = 0;
	const cJSON *b;

	if (!cJSON_IsObject(v) || !type || strcmp(type, "modal") != 0 || !cJSON_IsArray(blocks) ||
	    !title) {
		snprintf(err, sizeof err, "a modal needs type \"modal\", title and blocks");
		goto bad;
	}
	if (strcmp(json_str(title, "type") ? json_str(title, "type") : "", "plain_text") != 0 ||
	    !json_str(title, "text") || blocks_strlen(json_str(title, "text")) > 24) {
		snprintf(err, sizeof err, "title must be plain_text of at most 24 characters");
		goto bad;
	}
	if (blocks_check_max(blocks, MAX_MODAL_BLOCKS, err, sizeof err) < 0)
		goto bad;
	cJSON_ArrayForEach(b, blocks) inputs += strcmp(json_str(b, "type"), "input") == 0;
	if (inputs && !cJSON_GetObjectItemCaseSensitive(v, "submit")) {
		snprintf(err, sizeof err, "a modal with input blocks needs submit");
		goto bad;
	}
	if (json_str(v, "callback_id") && blocks_strlen(json_str(v, "callback_id")) > 255) {
		snprintf(err, sizeof err, "callback_id must be at most 255 characters");
		goto bad;
	}
	if (json_str(v, "private_metadata") && strlen(json_str(v, "private_metadata")) > 3000) {
		snprintf(err, sizeof err, "private_metadata must be at most 3000 characters");
		goto bad;
	}
	web_add_block_ids(blocks);
	return NULL;
bad : {
	cJSON *md = json_new_object(), *msgs = json_new_array();
	char line[300];
	snprintf(line, sizeof line, "[ERROR] %s", err);
	cJSON_AddItemToArray(msgs, cJSON_CreateString(line));
	json_add(md, "messages", msgs);
	json_add(reply, "response_metadata", md);
	return "invalid_arguments";
}
}

static void view_defaults(cJSON *v)
{
	static const char *const strs[] = {"callback_id", "private_metadata", "external_id", NULL};
	for (int i = 0; strs[i]; i++)
		if (!json_str(v, strs[i]))
			json_add_str(v, strs[i], "");
	if (!cJSON_GetObjectItemCaseSensitive(v, "clear_on_close"))
		json_add_bool(v, "clear_on_close", 0);
	if (!cJSON_GetObjectItemCaseSensitive(v, "notify_on_close"))
		json_add_bool(v, "notify_on_close", 0);
	if (!cJSON_GetObjectItemCaseSensitive(v, "close"))
		json_add(v, "close", cJSON_CreateNull());
	if (!cJSON_GetObjectItemCaseSensitive(v, "submit"))
		json_add(v, "submit", cJSON_CreateNull());
	cJSON_DeleteItemFromObjectCaseSensitive(v, "state");
	cJSON *st = json_new_object();
	json_add(st, "values", json_new_object());
	json_add(v, "state", st);
	set_hash(v);
}

/* The view as the Web API shows it (without the stand-in's bookkeeping). */
static cJSON *public_view(const cJSON *v)
{
	cJSON *c = json_dup(v);
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_open");
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_user");
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_errors");
	cJSON_DeleteItemFromObjectCaseSensitive(c, "_submissions");
	return c;
}

const char *views_open(cJSON *args, cJSON *reply)
{
	int bad = 0;
	cJSON *v = web_arg_json(args, "view", &bad);
	const char *e, *user = NULL;
	char id[16];

	if (bad || !v) {
		cJSON_Delete(v);
		return bad ? "invalid_arguments" : "invalid_arguments";
	}
	if ((e = view_check(v, reply))) {
		cJSON_Delete(v);
		return e;
	}
	if ((e = ws_trigger_take(json_str(args, "trigger_id"), &user))) {
		cJSON_Delete(v);
		return e;
	}
	new_view_id(id, sizeof id);
	cJSON_DeleteItemFromObjectCaseSensitive(v, "id");
	json_add_str(v, "id", id);
	json_add_str(v, "team_id", fs.team);
	json_add_str(v, "app_id", fs.app_id);
	json_add_str(v, "bot_id", "B0OPSBOT");
	json_add_str(v, "root_view_id", id);
	json_add(v, "previous_view_id", cJSON_CreateNull());
	json_add_str(v, "app_installed_team_id", fs.team);
	view_defaults(v);
	json_add_bool(v, "_open", 1);
	json_add_str(v, "_user", user);
	json_add(fs.views, id, v);
	json_add(reply, "view", public_view(v));
	return NULL;
}

const char *views_update(cJSON *args, cJSON *reply)
{
	int bad = 0;
	const char *vid = json_str(args, "view_id"), *ext = json_str(args, "external_id");
	const char *hash = json_str(args, "hash"), *e;
	cJSON *old = NULL, *v, *it;

	if (vid && *vid)
		old = cJSON_GetObjectItemCaseSensitive(fs.views, vid);
	else if (ext && *ext)
		cJSON_ArrayForEach(it, fs.views) if (strcmp(json_str(it, "external_id"), ext) == 0)
		    old = it;
	if (!old)
		return "not_found";
	if (hash && *hash && strcmp(hash, json_str(old, "hash")) != 0)
		return "hash_conflict";
	v = web_arg_json(args, "view", &bad);
	if (bad || !v) {
		cJSON_Delete(v);
		return "invalid_arguments";
	}
	if ((e = view_check(v, reply))) {
		cJSON_Delete(v);
		return e;
	}
	static const char *const keep[] = {"id",
	                                   "team_id",
	                                   "app_id",
	                                   "bot_id",
	                                   "root_view_id",
	                                   "previous_view_id",
	                                   "_open",
	                                   "_user",
	                                   "_submissions",
	                                   "app_installed_team_id",
	                                   NULL};
	for (int i = 0; keep[i]; i++) {
		cJSON *k = cJSON_GetObjectItemCaseSensitive(old, keep[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(v, keep[i]);
		if (k)
			json_add(v, keep[i], json_dup(k));
	}
	view_defaults(v);
	char id[16];
	str_copy(id, sizeof id, json_str(old, "id"));
	cJSON_ReplaceItemInObjectCaseSensitive(fs.views, id, v);
	json_add(reply, "view", public_view(v));
	return NULL;
}

/* Find the input block holding an element with this action_id. */
static const cJSON *input_of(const cJSON *view, const char *action_id, const cJSON **elem)
{
	const cJSON *b;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(view, "blocks"))
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "element");
		const char *a = json_str(e, "action_id");
		if (strcmp(json_str(b, "type") ? json_str(b, "type") : "", "input") == 0 && a &&
		    strcmp(a, action_id) == 0) {
			*elem = e;
			return b;
		}
	}
	return NULL;
}

static void c_submit(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	cJSON *in = NULL, *v, *p, *o, *values, *it;
	char err[160], trig[96];
	const char *user;

	(void)arg;
	if (json_parse_object(r->body, r->body_len, &in, err, sizeof err) < 0) {
		reply_text(x, 400, err);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(
	    fs.views, json_str(in, "view_id") ? json_str(in, "view_id") : "");
	if (!v || !json_bool(v, "_open", 0)) {
		cJSON_Delete(in);
		reply_text(x, 404, "no such open view");
		return;
	}
	user = json_str(in, "user") ? json_str(in, "user") : json_str(v, "_user");
	ws_user_touch(user, NULL);
	/* state.values: given whole, or built from {action_id: text} */
	values = json_dup(cJSON_GetObjectItemCaseSensitive(in, "values"));
	if (!cJSON_IsObject(values)) {
		cJSON_Delete(values);
		values = json_new_object();
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(in, "inputs"))
	{
		const cJSON *elem = NULL;
		const cJSON *blk = input_of(v, it->string, &elem);
		if (!blk || !cJSON_IsString(it)) {
			cJSON_Delete(values);
			cJSON_Delete(in);
			reply_text(x, 400, "inputs: no input block with that action_id");
			return;
		}
		cJSON *bv = cJSON_GetObjectItemCaseSensitive(values, json_str(blk, "block_id"));
		if (!bv) {
			bv = json_new_object();
			json_add(values, json_str(blk, "block_id"), bv);
		}
		cJSON *val = json_new_object();
		json_add_str(val, "type", json_str(elem, "type"));
		json_add_str(val, "value", it->valuestring);
		json_add(bv, it->string, val);
	}
	p = json_new_object();
	json_add_str(p, "type", "view_submission");
	o = json_new_object();
	json_add_str(o, "id", fs.team);
	json_add_str(o, "domain", "opsbot-fake");
	json_add(p, "team", o);
	ws_add_actor(p, user);
	ws_trigger_new(trig, sizeof trig, user);
	json_add_str(p, "trigger_id", trig);
	o = public_view(v);
	cJSON *st = json_new_object();
	json_add(st, "values", values);
	cJSON_ReplaceItemInObjectCaseSensitive(o, "state", st);
	json_add(p, "view", o);
	json_add(p, "response_urls", json_new_array());
	json_add_bool(p, "is_enterprise_install", 0);
	json_add(p, "enterprise", cJSON_CreateNull());
	cJSON_Delete(in);
	struct fs_env *e = socket_inject("interactive", p, 1);
	if (!e) {
		reply_text(x, 507, "too many envelopes");
		return;
	}
	o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_str(o, "envelope_id", e->id);
	char *s = json_print(o);
	httpd_reply(x, 200, "application/json", s, strlen(s), NULL);
	free(s);
	cJSON_Delete(o);
}

void views_on_ack(const struct fs_env *e)
{
	const cJSON *p = e->payload, *ack = e->ack_payload;
	const char *vid, *action;
	cJSON *v;

	if (strcmp(json_str(p, "type") ? json_str(p, "type") : "", "view_submission") != 0)
		return;
	vid = json_str(cJSON_GetObjectItemCaseSensitive(p, "view"), "id");
	v = vid ? cJSON_GetObjectItemCaseSensitive(fs.views, vid) : NULL;
	if (!v)
		return;
	cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "_submissions");
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		json_add_int(v, "_submissions", 1);
	action = json_str(ack, "response_action");
	cJSON_DeleteItemFromObjectCaseSensitive(v, "_errors");
	if (action && strcmp(action, "errors") == 0) {
		json_add(v, "_errors", json_dup(cJSON_GetObjectItemCaseSensitive(ack, "errors")));
		return; /* the modal stays open, showing the errors */
	}
	if (action && strcmp(action, "update") == 0) {
		cJSON *args = json_new_object(), *reply = json_new_object();
		json_add_str(args, "view_id", vid);
		json_add(args, "view", json_dup(cJSON_GetObjectItemCaseSensitive(ack, "view")));
		const char *err = views_update(args, reply);
		if (err)
			log_warn("event=view_update_refused error=%s", err);
		cJSON_Delete(args);
		cJSON_Delete(reply);
		return;
	}
	/* no response_action, "clear" or anything else: the modal closes */
	cJSON_ReplaceItemInObjectCaseSensitive(v, "_open", cJSON_CreateFalse());
}

static void c_views(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	const char *q = strstr(r->query, "id=");
	cJSON *o = json_new_object(), *arr = json_new_array(), *v;

	(void)arg;
	cJSON_ArrayForEach(v, fs.views)
	{
		if (q && strncmp(q + 3, v->string, strlen(v->string)) != 0)
			continue;
		cJSON *c = json_dup(v);
		/* bookkeeping under plain names for tests */
		cJSON *k;
		if ((k = cJSON_DetachItemFromObjectCaseSensitive(c, "_open")))
			json_add(c, "open", k);
		if ((k = cJSON_DetachItemFromObjectCaseSensitive(c, "_user")))
			json_add(c, "user", k);
		if ((k = cJSON_DetachItemFromObjectCaseSensitive(c, "_errors")))
			json_add(c, "errors", k);
		if ((k = cJSON_DetachItemFromObjectCaseSensitive(c, "_submissions")))
			json_add(c, "submissions", k);
		cJSON_AddItemToArray(arr, c);
	}
	json_add_bool(o, "ok", 1);
	json_add(o, "views", arr);
	char *s = json_print(o);
	httpd_reply(x, 200, "application/json", s, strlen(s), NULL);
	free(s);
	cJSON_Delete(o);
}

void interact_register(struct httpd *h)
{
	httpd_route(h, "POST", "/response/*", c_response, NULL);
	httpd_route(h, "POST", "/control/submit", c_submit, NULL);
	httpd_route(h, "GET", "/control/views", c_views, NULL);
}
