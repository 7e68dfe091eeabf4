/*
 * workspace.c: what fake-slack's workspace holds besides messages: the
 * channels that exist (by id and name), the users seen, trigger ids
 * (valid for trigger_ttl_ms, once) and response URLs (5 uses within 30
 * minutes, as Slack documents for response_url).
 *
 * Channels: C0INCIDENT (#incidents) and C0GENERAL (#general) exist from the
 * start; --channel ID=name and POST /control/channel add more, and a
 * control call that has a user act in a channel (slash, click, event)
 * creates it, since a person can only type where a channel exists.  The
 * Web API refuses an unknown id with channel_not_found, as Slack does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_slack.h"
#include "json.h"
#include "mem.h"

#define RESPONSE_USES    5
#define RESPONSE_LIFE_US (30LL * 60 * 1000000)

int ws_channel_id_ok(const char *c)
{
	if (!c || strlen(c) < 3 || strlen(c) > 20 || (c[0] != 'C' && c[0] != 'G' && c[0] != 'D'))
		return 0;
	for (const char *p = c; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

static int name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len < 1 || len > 80)
		return 0;
	for (const char *p = n; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' &&
		    *p != '_' && !((unsigned char)*p & 0x80))
			return 0;
	return 1;
}

int ws_channel_add(const char *id, const char *name)
{
	char def[32];
	cJSON *c;

	if (!ws_channel_id_ok(id))
		return -1;
	if (!name || !*name) {
		size_t i;
		for (i = 0; id[i] && i + 1 < sizeof def; i++)
			def[i] = (char)tolower((unsigned char)id[i]);
		def[i] = '\0';
		name = def;
	}
	if (*name == '#')
		name++;
	if (!name_ok(name))
		return -1;
	if ((c = cJSON_GetObjectItemCaseSensitive(fs.convs, id)))
		return 0; /* exists: keep its name */
	c = json_new_object();
	json_add_str(c, "name", name);
	json_add_int(c, "created", fs_now_us() / 1000000);
	json_add(fs.convs, id, c);
	return 0;
}

const char *ws_channel(const char *ref, int names_ok)
{
	cJSON *c;

	if (!ref || !*ref)
		return NULL;
	if (ws_channel_id_ok(ref)) {
		c = cJSON_GetObjectItemCaseSensitive(fs.convs, ref);
		return c ? c->string : NULL;
	}
	if (!names_ok)
		return NULL;
	if (*ref == '#')
		ref++;
	cJSON_ArrayForEach(c, fs.convs)
	{
		const char *n = json_str(c, "name");
		if (n && strcmp(n, ref) == 0)
			return c->string;
	}
	return NULL;
}

const char *ws_channel_name(const char *id)
{
	const char *n = json_str(cJSON_GetObjectItemCaseSensitive(fs.convs, id ? id : ""), "name");
	return n ? n : "unknown";
}

void ws_user_touch(const char *id, const char *name)
{
	cJSON *u;
	char lower[64];
	size_t i;

	if (!id || !*id || strlen(id) > 20)
		return;
	if (cJSON_GetObjectItemCaseSensitive(fs.users, id))
		return;
	for (i = 0; id[i] && i + 1 < sizeof lower; i++)
		lower[i] = (char)tolower((unsigned char)id[i]);
	lower[i] = '\0';
	if (!name || !*name || strcmp(name, id) == 0)
		name = strncmp(lower, "u0", 2) == 0 && lower[2] ? lower + 2 : lower;
	u = json_new_object();
	json_add_str(u, "id", id);
	json_add_str(u, "team_id", fs.team);
	json_add_str(u, "name", name);
	json_add_bool(u, "deleted", 0);
	json_add_str(u, "real_name", name);
	json_add_str(u, "tz", "Etc/UTC");
	json_add_str(u, "tz_label", "Coordinated Universal Time");
	json_add_int(u, "tz_offset", 0);
	cJSON *p = json_new_object();
	json_add_str(p, "real_name", name);
	json_add_str(p, "display_name", name);
	json_add_str(p, "real_name_normalized", name);
	json_add_str(p, "display_name_normalized", name);
	json_add_str(p, "team", fs.team);
	json_add(u, "profile", p);
	json_add_bool(u, "is_admin", 0);
	json_add_bool(u, "is_owner", 0);
	json_add_bool(u, "is_bot", strcmp(id, fs.bot_user) == 0);
	json_add_bool(u, "is_app_user", 0);
	json_add_int(u, "updated", fs_now_us() / 1000000);
	json_add(fs.users, id, u);
}

const cJSON *ws_user(const char *id)
{
	return id ? cJSON_GetObjectItemCaseSensitive(fs.users, id) : NULL;
}

void ws_add_actor(cJSON *p, const char *user)
{
	cJSON *o = json_new_object();
	json_add_str(o, "id", user);
	json_add_str(o, "username", json_str(ws_user(user), "name"));
	json_add_str(o, "name", json_str(ws_user(user), "name"));
	json_add_str(o, "team_id", fs.team);
	json_add(p, "user", o);
	json_add_str(p, "api_app_id", fs.app_id);
	json_add_str(p, "token", "fake-verification-token");
}

void ws_trigger_new(char *out, size_t len, const char *user)
{
	cJSON *t = json_new_object();
	snprintf(out, len, "%llu.%llu.%08lx%08lx", (unsigned long long)++fs.seq,
	         (unsigned long long)(fs_now_us() / 1000), (unsigned long)random(),
	         (unsigned long)random());
	json_add_int(t, "issued_us", fs_now_us());
	json_add_str(t, "user", user);
	json_add_bool(t, "used", 0);
	json_add(fs.triggers, out, t);
}

const char *ws_trigger_take(const char *id, const char **user)
{
	cJSON *t = id && *id ? cJSON_GetObjectItemCaseSensitive(fs.triggers, id) : NULL;

	if (!t)
		return "invalid_trigger_id";
	if (json_bool(t, "used", 0) ||
	    fs_now_us() - json_int(t, "issued_us", 0) > (int64_t)fs.trigger_ttl_ms * 1000)
		return "expired_trigger_id";
	cJSON_ReplaceItemInObjectCaseSensitive(t, "used", cJSON_CreateTrue());
	if (user)
		*user = json_str(t, "user");
	return NULL;
}

void ws_response_new(char *url, size_t len, const char *kind, const char *channel,
                     const char *message_ts, const char *user)
{
	char id[64];
	cJSON *r = json_new_object();

	snprintf(id, sizeof id, "%s/%s/%llu/%08lx", kind, fs.team, (unsigned long long)++fs.seq,
	         (unsigned long)random());
	snprintf(url, len, "http://127.0.0.1:%d/response/%s", fs.port, id);
	json_add_str(r, "kind", kind);
	json_add_str(r, "channel", channel);
	json_add_str(r, "message_ts", message_ts);
	json_add_str(r, "user", user);
	json_add_int(r, "created_us", fs_now_us());
	json_add_int(r, "uses", 0);
	json_add(fs.responses, id, r);
}

cJSON *ws_response_use(const char *id, const char **err)
{
	cJSON *r = cJSON_GetObjectItemCaseSensitive(fs.responses, id);

	if (!r) {
		*err = "no such response_url";
		return NULL;
	}
	if (fs_now_us() - json_int(r, "created_us", 0) > RESPONSE_LIFE_US) {
		*err = "expired_url";
		return NULL;
	}
	int64_t uses = json_int(r, "uses", 0);
	if (uses >= RESPONSE_USES) {
		*err = "used_url";
		return NULL;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(r, "uses", cJSON_CreateNumber((double)(uses + 1)));
	return r;
}

void ws_init(void)
{
	fs.convs = json_new_object();
	fs.users = json_new_object();
	fs.triggers = json_new_object();
	fs.responses = json_new_object();
	fs.views = json_new_object();
	ws_channel_add("C0INCIDENT", "incidents");
	ws_channel_add("C0GENERAL", "general");
	ws_user_touch(fs.bot_user, "opsbot");
}

void ws_free(void)
{
	cJSON_Delete(fs.convs);
	cJSON_Delete(fs.users);
	cJSON_Delete(fs.triggers);
	cJSON_Delete(fs.responses);
	cJSON_Delete(fs.views);
}
