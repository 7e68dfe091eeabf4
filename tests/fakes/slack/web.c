/*
 * web.c: fake-slack's Web API: POST (or GET) /api/<method>, form-encoded or
 * JSON arguments, token from "Authorization: Bearer" or a `token` field,
 * answers always HTTP 200 with {"ok":...} except injected 429/500 and the
 * per-channel posting limit (429 + Retry-After, error "ratelimited").
 *
 * Methods: auth.test, apps.connections.open (app token; refused with
 * socket_mode_disabled after link_disabled), chat.postMessage (channel id
 * or name), chat.update, chat.delete, chat.postEphemeral, chat.getPermalink,
 * reactions.add, conversations.info/.replies/.history, users.info,
 * views.open, views.update, files.getUploadURLExternal,
 * files.completeUploadExternal, and the upload URL itself (POST
 * /upload/<file id>, raw bytes or multipart).  Channels must exist
 * (workspace.c); stored blocks get a block_id when they have none.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/form.h"
#include "bot/httpd.h"
#include "fake_slack.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define MAX_TEXT 40000

typedef const char *(*method_fn)(cJSON *args, cJSON *reply, int *status);

static const char *arg_str(const cJSON *args, const char *key)
{
	return json_str(args, key);
}

/* A JSON argument: a real JSON value (JSON bodies) or a JSON string (forms).
 * Returns a new tree (caller frees), NULL when absent; *bad set on bad JSON. */
cJSON *web_arg_json(const cJSON *args, const char *key, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
	cJSON *out = NULL;
	char err[128];

	*bad = 0;
	if (!v)
		return NULL;
	if (cJSON_IsString(v)) {
		if (!*v->valuestring)
			return NULL;
		if (json_parse(v->valuestring, strlen(v->valuestring), &out, err, sizeof err) < 0) {
			*bad = 1;
			return NULL;
		}
		return out;
	}
	return json_dup(v);
}

#define arg_json web_arg_json

/* An existing channel given by id (Slack's methods other than
 * chat.postMessage take ids only). */
static int channel_valid(const char *c)
{
	return ws_channel(c, 0) != NULL;
}

void web_add_block_ids(cJSON *blocks)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	cJSON *b;
	cJSON_ArrayForEach(b, blocks)
	{
		char id[8];
		if (!cJSON_IsObject(b) || cJSON_GetObjectItemCaseSensitive(b, "block_id"))
			continue;
		for (int i = 0; i < 5; i++)
			id[i] = set[random() % (sizeof set - 1)];
		id[5] = '\0';
		json_add_str(b, "block_id", id);
	}
}

void web_new_ts(char *buf, size_t len)
{
	int64_t us = fs_now_us();
	/* wall clock, bumped to stay strictly increasing */
	if (us <= fs.last_ts_us)
		us = fs.last_ts_us + 1;
	fs.last_ts_us = us;
	snprintf(buf, len, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

/*
 * Messages by channel and ts: a chained hash beside fs.messages, so a
 * lookup costs the same with 10 messages or 100,000 (as Slack's does); a
 * linear scan made the stand-in itself the slowest part of a storm.
 */
struct msg_node {
	struct msg_node *next;
	cJSON *msg;
	uint64_t h;
};
static struct {
	struct msg_node **b;
	size_t nb, n;
} idx;

static uint64_t msg_hash(const char *channel, const char *ts)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = channel; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = ts; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static int msg_is(const cJSON *m, const char *channel, const char *ts)
{
	const char *c = json_str(m, "channel"), *t = json_str(m, "ts");
	return c && t && strcmp(c, channel) == 0 && strcmp(t, ts) == 0;
}

static void idx_grow(void)
{
	size_t nb = idx.nb ? idx.nb * 2 : 1024;
	struct msg_node **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < idx.nb; i++)
		for (struct msg_node *e = idx.b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	free(idx.b);
	idx.b = b;
	idx.nb = nb;
}

cJSON *web_find_message(const char *channel, const char *ts)
{
	if (!channel || !ts || !idx.nb)
		return NULL;
	uint64_t h = msg_hash(channel, ts);
	cJSON *found = NULL;
	/* Chains are newest first; the oldest match wins, as in fs.messages order. */
	for (struct msg_node *e = idx.b[h & (idx.nb - 1)]; e; e = e->next)
		if (e->h == h && msg_is(e->msg, channel, ts))
			found = e->msg;
	return found;
}

void web_add_message(cJSON *msg)
{
	const char *c = json_str(msg, "channel"), *t = json_str(msg, "ts");
	cJSON_AddItemToArray(fs.messages, msg);
	if (!c || !t)
		return;
	if (idx.n >= idx.nb / 2)
		idx_grow();
	struct msg_node *e = xcalloc(1, sizeof *e);
	e->msg = msg;
	e->h = msg_hash(c, t);
	e->next = idx.b[e->h & (idx.nb - 1)];
	idx.b[e->h & (idx.nb - 1)] = e;
	idx.n++;
}

void web_drop_message(cJSON *msg)
{
	const char *c = json_str(msg, "channel"), *t = json_str(msg, "ts");
	if (c && t && idx.nb) {
		struct msg_node **pp = &idx.b[msg_hash(c, t) & (idx.nb - 1)];
		for (; *pp; pp = &(*pp)->next)
			if ((*pp)->msg == msg) {
				struct msg_node *e = *pp;
				*pp = e->next;
				free(e);
				idx.n--;
				break;
			}
	}
	cJSON_DetachItemViaPointer(fs.messages, msg);
}

void web_index_free(void)
{
	for (size_t i = 0; i < idx.nb; i++)
		for (struct msg_node *e = idx.b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(idx.b);
	memset(&idx, 0, sizeof idx);
}

/*
 * The message at ts in channel, for a method that acts on one: NULL with
 * *msg, or Slack's error (channel_not_found, message_not_found, or
 * not_bots when it is not the bot's own and not_bots is given).
 */
static const char *message_arg(const char *channel, const char *ts, const char *not_bots,
                               cJSON **msg)
{
	if (!channel_valid(channel))
		return "channel_not_found";
	*msg = web_find_message(channel, ts);
	if (!*msg)
		return "message_not_found";
	if (not_bots && !json_str(*msg, "bot_id"))
		return not_bots;
	return NULL;
}

/* A public copy of a stored message (internal fields removed). */
static cJSON *public_msg(const cJSON *m)
{
	cJSON *c = json_dup(m);
	cJSON_DeleteItemFromObjectCaseSensitive(c, "posted_us");
	cJSON_DeleteItemFromObjectCaseSensitive(c, "edits");
	cJSON_DeleteItemFromObjectCaseSensitive(c, "channel");
	return c;
}

/* The per-channel posting limit: a token bucket of post_burst at post_rate/s. */
static int post_allowed(const char *channel)
{
	cJSON *b;
	int64_t now = fs_now_us();
	double tokens;

	if (fs.post_rate <= 0)
		return 1;
	b = cJSON_GetObjectItemCaseSensitive(fs.channels, channel);
	if (!b) {
		b = json_new_object();
		json_add_num(b, "tokens", fs.post_burst);
		json_add_int(b, "at_us", now);
		json_add(fs.channels, channel, b);
	}
	tokens = json_num(b, "tokens", 0) +
	         (double)(now - json_int(b, "at_us", now)) / 1e6 * fs.post_rate;
	if (tokens > fs.post_burst)
		tokens = fs.post_burst;
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "at_us"), (double)now);
	if (tokens < 1) {
		cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "tokens"), tokens);
		return 0;
	}
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "tokens"), tokens - 1);
	return 1;
}

/* text and blocks shared by postMessage/update/postEphemeral */
static const char *content(cJSON *args, cJSON *msg, int need, cJSON *reply)
{
	int bad;
	const char *text = arg_str(args, "text");
	cJSON *blocks = arg_json(args, "blocks", &bad);
	char err[256];

	if (bad)
		return "invalid_blocks_format";
	if (need && (!text || !*text) && (!blocks || cJSON_GetArraySize(blocks) == 0)) {
		cJSON_Delete(blocks);
		return "no_text";
	}
	if (text && blocks_strlen(text) > MAX_TEXT) {
		cJSON_Delete(blocks);
		return "msg_too_long";
	}
	if (blocks && blocks_check(blocks, err, sizeof err) < 0) {
		cJSON *errs = json_new_array(), *md = json_new_object(), *msgs = json_new_array();
		char line[300];
		cJSON_AddItemToArray(errs, cJSON_CreateString(err));
		json_add(reply, "errors", errs);
		snprintf(line, sizeof line, "[ERROR] %s", err);
		cJSON_AddItemToArray(msgs, cJSON_CreateString(line));
		json_add(md, "messages", msgs);
		json_add(reply, "response_metadata", md);
		cJSON_Delete(blocks);
		fs.invalid_blocks++;
		return "invalid_blocks";
	}
	if (blocks)
		web_add_block_ids(blocks);
	if (text) {
		cJSON_DeleteItemFromObjectCaseSensitive(msg, "text");
		json_add_str(msg, "text", text);
	}
	if (blocks) {
		cJSON_DeleteItemFromObjectCaseSensitive(msg, "blocks");
		if (cJSON_GetArraySize(blocks) > 0)
			json_add(msg, "blocks", blocks);
		else
			cJSON_Delete(blocks);
	}
	return NULL;
}

static const char *m_auth_test(cJSON *args, cJSON *reply, int *status)
{
	(void)args;
	(void)status;
	json_add_str(reply, "url", "https://opsbot-fake.slack.local/");
	json_add_str(reply, "team", "opsbot fake workspace");
	json_add_str(reply, "user", "opsbot");
	json_add_str(reply, "team_id", fs.team);
	json_add_str(reply, "user_id", fs.bot_user);
	json_add_str(reply, "bot_id", "B0OPSBOT");
	return NULL;
}

static const char *m_connections_open(cJSON *args, cJSON *reply, int *status)
{
	char url[256];
	(void)args;
	(void)status;
	if (fs.socket_disabled)
		return "socket_mode_disabled"; /* Slack's code here is unpublished */
	if (socket_new_ticket(url, sizeof url) < 0)
		return "too_many_websockets";
	json_add_str(reply, "url", url);
	return NULL;
}

static const char *m_post(cJSON *args, cJSON *reply, int *status)
{
	/* chat.postMessage takes a channel id or its name ("#incidents") */
	const char *channel = ws_channel(arg_str(args, "channel"), 1);
	const char *thread_ts = arg_str(args, "thread_ts");
	cJSON *msg;
	const char *e;
	char ts[32];

	if (!channel)
		return "channel_not_found";
	msg = json_new_object();
	if ((e = content(args, msg, 1, reply))) {
		cJSON_Delete(msg);
		return e;
	}
	{
		int bad;
		cJSON *md = arg_json(args, "metadata", &bad);
		if (bad || (md && (!cJSON_IsObject(md) || !json_str(md, "event_type") ||
		                   !cJSON_IsObject(
		                       cJSON_GetObjectItemCaseSensitive(md, "event_payload"))))) {
			cJSON_Delete(md);
			cJSON_Delete(msg);
			return "invalid_metadata_format";
		}
		if (md)
			json_add(msg, "metadata", md);
	}
	if (!post_allowed(channel)) {
		cJSON_Delete(msg);
		*status = 429;
		fs.rate_limited++;
		return "ratelimited";
	}
	if (thread_ts && *thread_ts) {
		cJSON *parent = web_find_message(channel, thread_ts);
		if (!parent || json_str(parent, "thread_ts")) {
			/* Slack answers a reply to an unknown parent as a plain post;
			 * the stand-in is stricter so tests notice a wrong ts. */
			cJSON_Delete(msg);
			return "thread_not_found";
		}
		json_add_str(msg, "thread_ts", thread_ts);
		cJSON *rc = cJSON_GetObjectItemCaseSensitive(parent, "reply_count");
		if (rc)
			cJSON_SetNumberValue(rc, rc->valuedouble + 1);
		else
			json_add_int(parent, "reply_count", 1);
	}
	web_new_ts(ts, sizeof ts);
	json_add_str(msg, "type", "message");
	json_add_str(msg, "user", fs.bot_user);
	json_add_str(msg, "bot_id", "B0OPSBOT");
	json_add_str(msg, "app_id", fs.app_id);
	json_add_str(msg, "team", fs.team);
	json_add_str(msg, "ts", ts);
	json_add_str(msg, "channel", channel);
	json_add_int(msg, "posted_us", fs_now_us());
	web_add_message(msg);
	json_add_str(reply, "channel", channel);
	json_add_str(reply, "ts", ts);
	json_add(reply, "message", public_msg(msg));
	return NULL;
}

static const char *m_update(cJSON *args, cJSON *reply, int *status)
{
	const char *channel = arg_str(args, "channel");
	const char *ts = arg_str(args, "ts");
	cJSON *msg, *edited, *n;
	const char *e;
	char now[32];

	(void)status;
	if ((e = message_arg(channel, ts, "cant_update_message", &msg)) ||
	    (e = content(args, msg, 0, reply)))
		return e;
	web_new_ts(now, sizeof now);
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "edited");
	edited = json_new_object();
	json_add_str(edited, "user", fs.bot_user);
	json_add_str(edited, "ts", now);
	json_add(msg, "edited", edited);
	n = cJSON_GetObjectItemCaseSensitive(msg, "edits");
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		json_add_int(msg, "edits", 1);
	json_add_str(reply, "channel", channel);
	json_add_str(reply, "ts", ts);
	json_add_str(reply, "text", json_str(msg, "text") ? json_str(msg, "text") : "");
	json_add(reply, "message", public_msg(msg));
	return NULL;
}

static const char *m_ephemeral(cJSON *args, cJSON *reply, int *status)
{
	const char *channel = arg_str(args, "channel");
	const char *user = arg_str(args, "user");
	cJSON *msg;
	const char *e;
	char ts[32];

	(void)status;
	if (!channel_valid(channel))
		return "channel_not_found";
	if (!user || !*user)
		return "user_not_in_channel";
	msg = json_new_object();
	if ((e = content(args, msg, 1, reply))) {
		cJSON_Delete(msg);
		return e;
	}
	web_new_ts(ts, sizeof ts);
	json_add_str(msg, "channel", channel);
	json_add_str(msg, "user", user);
	json_add_str(msg, "ts", ts);
	json_add_str(msg, "source", "chat.postEphemeral");
	if (arg_str(args, "thread_ts"))
		json_add_str(msg, "thread_ts", arg_str(args, "thread_ts"));
	cJSON_AddItemToArray(fs.ephemeral, msg);
	json_add_str(reply, "message_ts", ts);
	return NULL;
}

static const char *m_react(cJSON *args, cJSON *reply, int *status)
{
	const char *name = arg_str(args, "name"), *e;
	cJSON *msg, *rs, *r;

	(void)reply;
	(void)status;
	if ((e = message_arg(arg_str(args, "channel"), arg_str(args, "timestamp"), NULL, &msg)))
		return e;
	if (!name || !*name)
		return "invalid_name";
	rs = cJSON_GetObjectItemCaseSensitive(msg, "reactions");
	if (!rs) {
		rs = json_new_array();
		json_add(msg, "reactions", rs);
	}
	cJSON_ArrayForEach(r, rs)
	{
		if (strcmp(json_str(r, "name"), name) == 0)
			return "already_reacted";
	}
	r = json_new_object();
	json_add_str(r, "name", name);
	json_add_int(r, "count", 1);
	cJSON *users = json_new_array();
	cJSON_AddItemToArray(users, cJSON_CreateString(fs.bot_user));
	json_add(r, "users", users);
	cJSON_AddItemToArray(rs, r);
	return NULL;
}

static const char *m_conv_info(cJSON *args, cJSON *reply, int *status)
{
	const char *channel = arg_str(args, "channel");
	char name[64];
	cJSON *c;

	(void)status;
	if (!channel_valid(channel))
		return "channel_not_found";
	str_copy(name, sizeof name, ws_channel_name(channel));
	c = json_new_object();
	json_add_str(c, "id", channel);
	json_add_str(c, "name", name);
	json_add_bool(c, "is_channel", channel[0] == 'C');
	json_add_bool(c, "is_private", channel[0] == 'G');
	json_add_bool(c, "is_archived", 0);
	json_add_bool(c, "is_member", 1);
	json_add(reply, "channel", c);
	return NULL;
}

static const char *m_upload_url(cJSON *args, cJSON *reply, int *status)
{
	const char *filename = arg_str(args, "filename");
	const char *length = arg_str(args, "length");
	int64_t len = json_int(args, "length", -1);
	char id[32], url[128];
	cJSON *f;

	(void)status;
	if (length)
		len = strtoll(length, NULL, 10);
	if (!filename || !*filename)
		return "invalid_arguments";
	if (len <= 0)
		return "invalid_arguments";
	snprintf(id, sizeof id, "F%08llu", (unsigned long long)++fs.seq);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/upload/%s", fs.port, id);
	f = json_new_object();
	json_add_str(f, "name", filename);
	json_add_int(f, "length", len);
	json_add_int(f, "received", -1);
	json_add(fs.files, id, f);
	json_add_str(reply, "upload_url", url);
	json_add_str(reply, "file_id", id);
	return NULL;
}

static const char *m_upload_complete(cJSON *args, cJSON *reply, int *status)
{
	int bad;
	cJSON *files = arg_json(args, "files", &bad), *it, *out = json_new_array();
	const char *channel = arg_str(args, "channel_id");
	const char *thread_ts = arg_str(args, "thread_ts");

	(void)status;
	if (bad || !cJSON_IsArray(files) || cJSON_GetArraySize(files) == 0) {
		cJSON_Delete(files);
		cJSON_Delete(out);
		return "invalid_arguments";
	}
	if (channel && *channel && !channel_valid(channel)) {
		cJSON_Delete(files);
		cJSON_Delete(out);
		return "channel_not_found";
	}
	cJSON_ArrayForEach(it, files)
	{
		const char *id = json_str(it, "id");
		cJSON *f = id ? cJSON_GetObjectItemCaseSensitive(fs.files, id) : NULL;
		if (!f || json_int(f, "received", -1) < 0) {
			cJSON_Delete(files);
			cJSON_Delete(out);
			return "file_not_found";
		}
		cJSON *o = json_new_object();
		json_add_str(o, "id", id);
		json_add_str(o, "title",
		             json_str(it, "title") ? json_str(it, "title") : json_str(f, "name"));
		json_add_str(o, "name", json_str(f, "name"));
		/* the size Slack records is the declared one */
		json_add_int(o, "size", json_int(f, "length", 0));
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(files);
	if (channel && *channel) {
		cJSON *msg = json_new_object();
		char ts[32];
		web_new_ts(ts, sizeof ts);
		json_add_str(msg, "type", "message");
		json_add_str(msg, "user", fs.bot_user);
		json_add_str(msg, "bot_id", "B0OPSBOT");
		json_add_str(msg, "text",
		             arg_str(args, "initial_comment") ? arg_str(args, "initial_comment")
		                                              : "");
		json_add_str(msg, "ts", ts);
		json_add_str(msg, "channel", channel);
		if (thread_ts && web_find_message(channel, thread_ts))
			json_add_str(msg, "thread_ts", thread_ts);
		json_add(msg, "files", json_dup(out));
		json_add_int(msg, "posted_us", fs_now_us());
		web_add_message(msg);
	}
	json_add(reply, "files", out);
	return NULL;
}

/*
 * conversations.replies: the thread's parent first, then its replies, oldest
 * first; cursor paging (limit, default 1000 here, max 1000); metadata only
 * with include_all_metadata, as Slack does.
 */
static const char *list_msgs(cJSON *args, cJSON *reply, int history)
{
	const char *channel = arg_str(args, "channel"), *ts = arg_str(args, "ts");
	const char *oldest = arg_str(args, "oldest");
	const char *cursor = arg_str(args, "cursor"), *lim = arg_str(args, "limit");
	const cJSON *incl = cJSON_GetObjectItemCaseSensitive(args, "include_all_metadata");
	int with_md = cJSON_IsTrue(incl) ||
	              (cJSON_IsString(incl) &&
	               (!strcmp(incl->valuestring, "true") || !strcmp(incl->valuestring, "1")));
	long limit = 1000, skip = 0, n = 0, i = 0;
	cJSON *parent, *out, *m;
	char *end;

	if (!channel_valid(channel))
		return "channel_not_found";
	if (!history && (!ts || !*ts))
		return "invalid_arguments";
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(args, "limit")))
		limit = (long)json_int(args, "limit", 1000);
	else if (lim && *lim) {
		limit = strtol(lim, &end, 10);
		if (*end)
			return "invalid_arguments";
	}
	if (limit < 1 || limit > 1000)
		limit = 1000;
	if (cursor && *cursor) {
		if (strncmp(cursor, "off:", 4) != 0)
			return "invalid_cursor";
		skip = strtol(cursor + 4, &end, 10);
		if (*end || skip < 0)
			return "invalid_cursor";
	}
	parent = history ? NULL : web_find_message(channel, ts);
	if (!history && !parent)
		return "thread_not_found";
	out = json_new_array();
	/* replies oldest first; history newest first */
	for (m = history ? cJSON_GetArrayItem(fs.messages, cJSON_GetArraySize(fs.messages) - 1)
	                 : fs.messages->child;
	     m; m = history ? (m->prev && m->prev->next ? m->prev : NULL) : m->next) {
		const char *c = json_str(m, "channel"), *t = json_str(m, "thread_ts");
		if (!c || strcmp(c, channel) != 0)
			continue;
		if (history
		        ? t != NULL || (oldest && *oldest && strcmp(json_str(m, "ts"), oldest) <= 0)
		        : (m != parent && (!t || strcmp(t, ts) != 0)))
			continue;
		if (i++ < skip)
			continue;
		if (n == limit) {
			char next[32];
			cJSON *md = json_new_object();
			snprintf(next, sizeof next, "off:%ld", skip + n);
			json_add_str(md, "next_cursor", next);
			json_add(reply, "response_metadata", md);
			json_add_bool(reply, "has_more", 1);
			json_add(reply, "messages", out);
			return NULL;
		}
		cJSON *pm = public_msg(m);
		if (!with_md)
			cJSON_DeleteItemFromObjectCaseSensitive(pm, "metadata");
		cJSON_AddItemToArray(out, pm);
		n++;
	}
	json_add_bool(reply, "has_more", 0);
	json_add(reply, "messages", out);
	return NULL;
}

static const char *m_replies(cJSON *args, cJSON *reply, int *status)
{
	(void)status;
	return list_msgs(args, reply, 0);
}

/* conversations.history: top-level messages, newest first, from `oldest`. */
static const char *m_history(cJSON *args, cJSON *reply, int *status)
{
	(void)status;
	return list_msgs(args, reply, 1);
}

static const char *m_delete(cJSON *args, cJSON *reply, int *status)
{
	const char *channel = arg_str(args, "channel"), *ts = arg_str(args, "ts"), *e;
	cJSON *msg;

	(void)status;
	if ((e = message_arg(channel, ts, "cant_delete_message", &msg)))
		return e;
	json_add_str(reply, "channel", channel);
	json_add_str(reply, "ts", ts);
	web_drop_message(msg);
	if (json_str(msg, "thread_ts")) {
		cJSON *parent = web_find_message(channel, json_str(msg, "thread_ts"));
		cJSON *rc = cJSON_GetObjectItemCaseSensitive(parent, "reply_count");
		if (rc && rc->valuedouble > 0)
			cJSON_SetNumberValue(rc, rc->valuedouble - 1);
	}
	cJSON_Delete(msg);
	return NULL;
}

static const char *m_permalink(cJSON *args, cJSON *reply, int *status)
{
	const char *channel = arg_str(args, "channel"), *ts = arg_str(args, "message_ts"), *e;
	cJSON *msg;
	char link[256], digits[32];
	size_t n = 0;

	(void)status;
	if ((e = message_arg(channel, ts, NULL, &msg)))
		return e;
	for (const char *p = ts; *p && n + 1 < sizeof digits; p++)
		if (*p != '.')
			digits[n++] = *p;
	digits[n] = '\0';
	if (json_str(msg, "thread_ts"))
		snprintf(link, sizeof link,
		         "https://opsbot-fake.slack.com/archives/%s/p%s?thread_ts=%s&cid=%s",
		         channel, digits, json_str(msg, "thread_ts"), channel);
	else
		snprintf(link, sizeof link, "https://opsbot-fake.slack.com/archives/%s/p%s",
		         channel, digits);
	json_add_str(reply, "channel", channel);
	json_add_str(reply, "permalink", link);
	return NULL;
}

static const char *m_users_info(cJSON *args, cJSON *reply, int *status)
{
	const cJSON *u = ws_user(arg_str(args, "user"));
	(void)status;
	if (!u)
		return "user_not_found";
	json_add(reply, "user", json_dup(u));
	return NULL;
}

static const char *m_views_open(cJSON *args, cJSON *reply, int *status)
{
	(void)status;
	return views_open(args, reply);
}

static const char *m_views_update(cJSON *args, cJSON *reply, int *status)
{
	(void)status;
	return views_update(args, reply);
}

static const struct method {
	const char *name;
	int app_token; /* needs the xapp token instead of the bot token */
	method_fn fn;
} methods[] = {
    {"auth.test", 0, m_auth_test},
    {"apps.connections.open", 1, m_connections_open},
    {"chat.postMessage", 0, m_post},
    {"chat.update", 0, m_update},
    {"chat.delete", 0, m_delete},
    {"chat.getPermalink", 0, m_permalink},
    {"users.info", 0, m_users_info},
    {"views.open", 0, m_views_open},
    {"views.update", 0, m_views_update},
    {"chat.postEphemeral", 0, m_ephemeral},
    {"reactions.add", 0, m_react},
    {"conversations.info", 0, m_conv_info},
    {"conversations.replies", 0, m_replies},
    {"conversations.history", 0, m_history},
    {"files.getUploadURLExternal", 0, m_upload_url},
    {"files.completeUploadExternal", 0, m_upload_complete},
};

const char *web_call(const char *method, cJSON *args, cJSON *reply)
{
	int status = 200;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, method) == 0)
			return methods[i].fn(args, reply, &status);
	return "unknown_method";
}

static void count_call(const char *method)
{
	cJSON *n = cJSON_GetObjectItemCaseSensitive(fs.calls, method);
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		json_add_int(fs.calls, method, 1);
}

static void answer(struct httpd_x *x, int status, cJSON *reply)
{
	char *s = json_print(reply);
	char ra[64];
	const char *hdrs[] = {ra, NULL};

	snprintf(ra, sizeof ra, "Retry-After: %d", fs.retry_after_s);
	httpd_reply(x, status, "application/json; charset=utf-8", s, strlen(s),
	            status == 429 ? hdrs : NULL);
	free(s);
	cJSON_Delete(reply);
}

static void api(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	const char *name = r->path + strlen("/api/");
	const struct method *m = NULL;
	cJSON *args = NULL, *reply = json_new_object();
	char ctype[128] = "", auth[512] = "", err[128];
	const char *token, *e;
	int status = 200;

	(void)arg;
	count_call(name);
	if (fs.fail_next > 0) {
		fs.fail_next--;
		if (fs.fail_status == 429) {
			fs.served_429++;
			json_add_bool(reply, "ok", 0);
			json_add_str(reply, "error", "ratelimited");
			answer(x, 429, reply);
		} else {
			fs.served_500++;
			cJSON_Delete(reply);
			httpd_reply_str(x, fs.fail_status, "text/plain",
			                "internal error (injected)\n");
		}
		return;
	}
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			m = &methods[i];
	httpd_header(x, "Content-Type", ctype, sizeof ctype);
	if (strncmp(ctype, "application/json", 16) == 0) {
		if (json_parse_object(r->body, r->body_len, &args, err, sizeof err) < 0) {
			e = r->body_len && r->body[0] != '{' ? "json_not_object" : "invalid_json";
			goto fail;
		}
	} else if (r->body_len) {
		args = form_parse(r->body, r->body_len);
	} else {
		args = form_parse(r->query, strlen(r->query));
	}
	token = NULL;
	if (httpd_header(x, "Authorization", auth, sizeof auth) == 0 &&
	    strncmp(auth, "Bearer ", 7) == 0)
		token = auth + 7;
	else if (arg_str(args, "token"))
		token = arg_str(args, "token");
	if (!token || !*token) {
		e = "not_authed";
		goto fail;
	}
	if (!m) {
		e = "unknown_method";
		goto fail;
	}
	if (strcmp(token, m->app_token ? fs.app_token : fs.bot_token) != 0) {
		e = strncmp(token, "xapp-", 5) == 0 || strncmp(token, "xoxb-", 5) == 0
		        ? (strcmp(token, m->app_token ? fs.bot_token : fs.app_token) == 0
		               ? "not_allowed_token_type"
		               : "invalid_auth")
		        : "invalid_auth";
		goto fail;
	}
	e = m->fn(args, reply, &status);
	if (e)
		goto fail;
	cJSON_Delete(args);
	cJSON_AddItemToObject(reply, "ok", cJSON_CreateTrue());
	if (m->fn == m_post && fs.stall_posts > 0 &&
	    fs.nstalled < (int)(sizeof fs.stalled / sizeof fs.stalled[0])) {
		/* stored, but the client never hears so: a crash window test */
		fs.stall_posts--;
		log_info("event=post_stalled ts=%s", log_q(json_str(reply, "ts")));
		cJSON_Delete(reply);
		httpd_hold(x);
		fs.stalled[fs.nstalled++] = x;
		return;
	}
	answer(x, 200, reply);
	return;
fail:
	log_info("event=api_error method=%s error=%s", log_q(name), e);
	cJSON_Delete(args);
	json_add_bool(reply, "ok", 0);
	json_add_str(reply, "error", e);
	answer(x, status, reply);
}

/*
 * The file's bytes in an upload body: the body itself, or for
 * multipart/form-data the first part that carries a filename (else the
 * first part), as a browser or an SDK (node filesUploadV2) sends it.
 */
static size_t file_bytes(struct httpd_x *x, const char *body, size_t len)
{
	char ctype[256] = "", delim[200];
	const char *b, *end = body + len, *p, *part = NULL, *part_end = NULL;

	if (httpd_header(x, "Content-Type", ctype, sizeof ctype) < 0 ||
	    strncmp(ctype, "multipart/form-data", 19) != 0 || !(b = strstr(ctype, "boundary=")))
		return len;
	b += 9;
	if (*b == '"')
		b++;
	snprintf(delim, sizeof delim, "--%.*s", (int)strcspn(b, "\";"), b);
	size_t dl = strlen(delim);
	for (p = body; p && p + dl <= end;) {
		const char *hs = memmem(p, (size_t)(end - p), delim, dl);
		if (!hs)
			break;
		hs += dl;
		if (hs + 2 <= end && hs[0] == '-' && hs[1] == '-')
			break; /* the closing delimiter */
		const char *he = memmem(hs, (size_t)(end - hs), "\r\n\r\n", 4);
		if (!he)
			break;
		const char *data = he + 4;
		const char *next = memmem(data, (size_t)(end - data), delim, dl);
		const char *dend = next ? next : end;
		if (dend - data >= 2 && dend[-2] == '\r' && dend[-1] == '\n')
			dend -= 2;
		int named = memmem(hs, (size_t)(he - hs), "filename=", 9) != NULL;
		if (!part || named) {
			part = data;
			part_end = dend;
		}
		if (named)
			break;
		p = next;
	}
	return part ? (size_t)(part_end - part) : len;
}

static void upload(struct httpd_x *x, void *arg)
{
	const struct httpd_req *r = httpd_request(x);
	const char *id = r->path + strlen("/upload/");
	cJSON *f = cJSON_GetObjectItemCaseSensitive(fs.files, id);
	char body[64];

	(void)arg;
	if (!f) {
		httpd_reply_str(x, 404, "text/plain", "no such upload\n");
		return;
	}
	size_t got = file_bytes(x, r->body, r->body_len);
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "received"), (double)got);
	snprintf(body, sizeof body, "OK - %zu", got);
	httpd_reply_str(x, 200, "text/plain", body);
}

void web_release_stalled(void)
{
	for (int i = 0; i < fs.nstalled; i++)
		httpd_reply_str(fs.stalled[i], 500, "text/plain", "stalled\n");
	fs.nstalled = 0;
}

void web_register(struct httpd *h)
{
	httpd_route(h, "*", "/api/*", api, NULL);
	httpd_route(h, "POST", "/upload/*", upload, NULL);
}
