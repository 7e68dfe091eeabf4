/* dgw.c: fake-discord's Gateway opcodes, sessions, heartbeats and resume. */
#include "dgw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define DGW_MAX_PAYLOAD    4096
#define DGW_EVENTS_PER_MIN 120
#define DGW_LATER_US       1000000 /* a close announced by op 7 / op 9 follows this late */

static void send_op(struct dstate *st, struct dconn *c, int op, const cJSON *d)
{
	char *text = dstate_frame(op, d, 0, NULL);
	dstate_conn_send(st, c, text, strlen(text));
	free(text);
}

struct dconn *dgw_open(struct dstate *st, const char *query)
{
	struct dconn *c = xcalloc(1, sizeof *c);
	c->opened_us = dstate_now_us();
	c->last_hb_us = c->opened_us;
	c->window_start_us = c->opened_us;
	c->next = st->conns;
	st->conns = c;

	char v[16] = "", enc[16] = "json";
	httpd_query_get(query, "v", v, sizeof v);
	httpd_query_get(query, "encoding", enc, sizeof enc);
	if (strcmp(v, "10") != 0) {
		dstate_conn_close(st, c, 4012, "Invalid API version.");
		return c;
	}
	if (strcmp(enc, "json") != 0) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		return c;
	}
	cJSON *d = json_new_object();
	json_add_int(d, "heartbeat_interval", st->cfg.heartbeat_ms);
	cJSON *trace = json_new_array();
	cJSON_AddItemToArray(trace,
	                     cJSON_CreateString("[\"fake-discord-gateway\",{\"micros\":0.0}]"));
	json_add(d, "_trace", trace);
	if (st->hold_until_us > c->opened_us) {
		/* Held: the client waits for Hello as if the gateway were slow. */
		c->hello = dstate_frame(10, d, 0, NULL);
		c->hello_at = st->hold_until_us;
	} else {
		send_op(st, c, 10, d);
	}
	cJSON_Delete(d);
	return c;
}

static cJSON *ready_payload(struct dstate *st, struct dsess *s, const cJSON *shard)
{
	cJSON *d = json_new_object();
	json_add_int(d, "v", 10);
	json_add(d, "user_settings", json_new_object());
	cJSON *u = json_new_object();
	json_add_bool(u, "verified", 1);
	json_add_str(u, "username", "opsbot");
	json_add(u, "primary_guild", cJSON_CreateNull());
	json_add_bool(u, "mfa_enabled", 1);
	json_add_str(u, "id", st->cfg.app_id);
	json_add(u, "global_name", cJSON_CreateNull());
	json_add_int(u, "flags", 0);
	json_add(u, "email", cJSON_CreateNull());
	json_add_str(u, "discriminator", "0001");
	json_add(u, "clan", cJSON_CreateNull());
	json_add_bool(u, "bot", 1);
	json_add(u, "avatar", cJSON_CreateNull());
	json_add(d, "user", u);
	if (shard)
		json_add(d, "shard", json_dup(shard));
	json_add_str(d, "session_type", "normal");
	json_add_str(d, "session_id", s->id);
	char rurl[160];
	if (st->resume_url[0])
		str_copy(rurl, sizeof rurl, st->resume_url); /* control: e.g. unreachable */
	else
		snprintf(rurl, sizeof rurl, "%s/gateway-resume", st->base_ws);
	json_add_str(d, "resume_gateway_url", rurl);
	json_add(d, "relationships", json_new_array());
	json_add(d, "private_channels", json_new_array());
	json_add(d, "presences", json_new_array());
	cJSON *guilds = json_new_array();
	cJSON *g = json_new_object();
	json_add_bool(g, "unavailable", 1);
	json_add_str(g, "id", st->cfg.guild_id);
	cJSON_AddItemToArray(guilds, g);
	json_add(d, "guilds", guilds);
	json_add(d, "guild_join_requests", json_new_array());
	cJSON *geo = json_new_array();
	cJSON_AddItemToArray(geo, cJSON_CreateString("local"));
	json_add(d, "geo_ordered_rtc_regions", geo);
	json_add(d, "game_relationships", json_new_array());
	json_add(d, "auth", json_new_object());
	cJSON *app = json_new_object();
	json_add_str(app, "id", st->cfg.app_id);
	json_add_int(app, "flags", 41975808);
	json_add(d, "application", app);
	cJSON *trace = json_new_array();
	cJSON_AddItemToArray(trace,
	                     cJSON_CreateString("[\"fake-discord-sessions\",{\"micros\":0}]"));
	json_add(d, "_trace", trace);
	return d;
}

static cJSON *guild_payload(struct dstate *st)
{
	cJSON *g = json_new_object();
	json_add_str(g, "id", st->cfg.guild_id);
	json_add_str(g, "name", "opsbot test guild");
	json_add(g, "icon", cJSON_CreateNull());
	json_add_str(g, "owner_id", "100000000000000001");
	json_add_bool(g, "unavailable", 0);
	json_add_bool(g, "large", 0);
	json_add_int(g, "member_count", 3);
	json_add_str(g, "joined_at", "2026-01-01T00:00:00.000000+00:00");
	json_add_str(g, "preferred_locale", "en-US");
	json_add(g, "features", json_new_array());
	json_add(g, "roles", json_new_array());
	json_add(g, "emojis", json_new_array());
	json_add(g, "stickers", json_new_array());
	json_add(g, "members", json_new_array());
	json_add(g, "voice_states", json_new_array());
	json_add(g, "presences", json_new_array());
	json_add(g, "stage_instances", json_new_array());
	json_add(g, "guild_scheduled_events", json_new_array());
	cJSON *chans = json_new_array(), *threads = json_new_array();
	int pos = 0;
	for (struct dchan *c = st->chans; c; c = c->next) {
		cJSON *o = json_new_object();
		json_add_str(o, "id", c->id);
		json_add_int(o, "type", c->type);
		json_add_str(o, "name", c->name);
		if (c->type == 0) {
			json_add_int(o, "position", pos++);
			json_add(o, "topic", cJSON_CreateNull());
			json_add_bool(o, "nsfw", 0);
			json_add_int(o, "rate_limit_per_user", 0);
			json_add(o, "parent_id", cJSON_CreateNull());
			json_add(o, "permission_overwrites", json_new_array());
			json_add(o, "last_message_id",
			         c->last ? cJSON_CreateString(c->last->id) : cJSON_CreateNull());
			cJSON_AddItemToArray(chans, o);
		} else {
			json_add_str(o, "guild_id", st->cfg.guild_id);
			json_add_str(o, "parent_id", c->parent_id);
			cJSON_AddItemToArray(threads, o);
		}
	}
	json_add(g, "channels", chans);
	json_add(g, "threads", threads);
	return g;
}

static void do_identify(struct dstate *st, struct dconn *c, const cJSON *d)
{
	const char *token = json_str(d, "token");
	cJSON *intents = cJSON_GetObjectItemCaseSensitive(d, "intents");
	if (!token || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "properties")) ||
	    !cJSON_IsNumber(intents)) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		return;
	}
	if (strcmp(token, st->cfg.token) != 0) {
		dstate_conn_close(st, c, 4004, "Authentication failed.");
		return;
	}
	double iv = intents->valuedouble;
	if (iv < 0 || iv > (double)DINTENT_ALL || iv != (double)(int64_t)iv) {
		dstate_conn_close(st, c, 4013, "Invalid intent(s).");
		return;
	}
	unsigned bits = (unsigned)(int64_t)iv;
	if (bits & DINTENT_PRIVILEGED & ~st->cfg.privileged) {
		dstate_conn_close(st, c, 4014, "Disallowed intent(s).");
		return;
	}
	int64_t now = dstate_now_us();
	if (st->last_identify_us &&
	    now - st->last_identify_us < (int64_t)st->cfg.identify_gap_ms * 1000) {
		/* max_concurrency 1: more than one identify per window is refused. */
		st->invalid_sessions++;
		cJSON *f = cJSON_CreateFalse();
		send_op(st, c, 9, f);
		cJSON_Delete(f);
		return;
	}
	st->last_identify_us = now;
	st->identifies++;
	struct dsess *s = xcalloc(1, sizeof *s);
	for (int i = 0; i < 32; i++)
		s->id[i] = "0123456789abcdef"[rand() & 15];
	s->intents = bits;
	s->valid = 1;
	s->next = st->sessions;
	st->sessions = s;
	s->conn = c;
	c->sess = s;
	c->close_at_us = 0;
	cJSON *r = ready_payload(st, s, cJSON_GetObjectItemCaseSensitive(d, "shard"));
	dstate_dispatch_to(st, s, "READY", r);
	cJSON_Delete(r);
	if (bits & DINTENT_GUILDS) {
		cJSON *g = guild_payload(st);
		dstate_dispatch_to(st, s, "GUILD_CREATE", g);
		cJSON_Delete(g);
	}
	log_info("event=identify session=%s intents=%u", s->id, bits);
}

static void invalid_session(struct dstate *st, struct dconn *c)
{
	st->invalid_sessions++;
	cJSON *f = cJSON_CreateFalse();
	send_op(st, c, 9, f);
	cJSON_Delete(f);
	c->close_at_us = dstate_now_us() + DGW_LATER_US;
}

static void do_resume(struct dstate *st, struct dconn *c, const cJSON *d)
{
	const char *token = json_str(d, "token");
	const char *sid = json_str(d, "session_id");
	cJSON *seqj = cJSON_GetObjectItemCaseSensitive(d, "seq");
	if (!token || !sid || !(cJSON_IsNumber(seqj) || cJSON_IsNull(seqj))) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		return;
	}
	if (strcmp(token, st->cfg.token) != 0) {
		dstate_conn_close(st, c, 4004, "Authentication failed.");
		return;
	}
	struct dsess *s = NULL;
	for (struct dsess *x = st->sessions; x; x = x->next)
		if (strcmp(x->id, sid) == 0)
			s = x;
	int64_t seq = cJSON_IsNumber(seqj) ? (int64_t)seqj->valuedouble : 0;
	if (!s || !s->valid || seq > s->seq) {
		invalid_session(st, c);
		return;
	}
	/* Events after seq must all still be in the log. */
	int64_t oldest = s->log_len ? s->log[s->log_head].s : s->seq + 1;
	if (seq + 1 < oldest) {
		invalid_session(st, c);
		return;
	}
	if (s->conn && s->conn != c) {
		/* The old connection is superseded. */
		s->conn->sess = NULL;
		dstate_conn_close(st, s->conn, 4000, "Unknown error.");
	}
	s->conn = c;
	c->sess = s;
	c->close_at_us = 0; /* a close announced by op 9 is moot once resumed here */
	st->resumes++;
	int replayed = 0;
	for (size_t i = 0; i < s->log_len; i++) {
		struct devent *e = &s->log[(s->log_head + i) % s->log_cap];
		if (e->s > seq) {
			dstate_conn_send(st, c, e->text, e->len);
			replayed++;
		}
	}
	cJSON *r = json_new_object();
	cJSON *trace = json_new_array();
	cJSON_AddItemToArray(trace,
	                     cJSON_CreateString("[\"fake-discord-gateway\",{\"micros\":0}]"));
	json_add(r, "_trace", trace);
	dstate_dispatch_to(st, s, "RESUMED", r);
	cJSON_Delete(r);
	log_info("event=resume session=%s from_seq=%lld replayed=%d", s->id, (long long)seq,
	         replayed);
}

void dgw_on_text(struct dstate *st, struct dconn *c, const char *text, size_t len)
{
	if (c->gone || c->close_code || c->drop)
		return;
	int64_t now = dstate_now_us();
	if (now - c->window_start_us >= 60 * 1000000LL) {
		c->window_start_us = now;
		c->window_count = 0;
	}
	if (++c->window_count > DGW_EVENTS_PER_MIN) {
		dstate_conn_close(st, c, 4008, "Rate limited.");
		return;
	}
	if (len > DGW_MAX_PAYLOAD) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		return;
	}
	cJSON *f = NULL;
	char err[128];
	if (json_parse_object(text, len, &f, err, sizeof err) < 0) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		return;
	}
	cJSON *opj = cJSON_GetObjectItemCaseSensitive(f, "op");
	cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "d");
	if (!cJSON_IsNumber(opj)) {
		dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		goto out;
	}
	int op = opj->valueint;
	switch (op) {
	case 1:
		if (d && !cJSON_IsNumber(d) && !cJSON_IsNull(d)) {
			dstate_conn_close(st, c, 4002, "Error while decoding payload.");
			break;
		}
		c->last_hb_us = now;
		if (!c->ack_off)
			send_op(st, c, 11, NULL);
		break;
	case 2: /* identify */
	case 6: /* resume */
		if (c->sess)
			dstate_conn_close(st, c, 4005, "Already authenticated.");
		else if (!cJSON_IsObject(d))
			dstate_conn_close(st, c, 4002, "Error while decoding payload.");
		else if (op == 2)
			do_identify(st, c, d);
		else
			do_resume(st, c, d);
		break;
	case 3:
	case 4:
	case 8:
	case 31:
	case 43:
		if (!c->sess)
			dstate_conn_close(st, c, 4003, "Not authenticated.");
		break; /* accepted, nothing to do in the stand-in */
	default:
		dstate_conn_close(st, c, 4001, "Unknown opcode.");
		break;
	}
out:
	cJSON_Delete(f);
}

void dgw_closed(struct dstate *st, struct dconn *c, int client_code)
{
	(void)st;
	c->gone = 1;
	struct dsess *s = c->sess;
	if (!s)
		return;
	if (s->conn == c)
		s->conn = NULL;
	/* A client close with 1000/1001 ends the session; anything else keeps it. */
	if (client_code == 1000 || client_code == 1001)
		s->valid = 0;
	/* Server closes that need a new session. */
	if (c->close_code == 4007 || c->close_code == 4009 || c->close_code == 4004 ||
	    (c->close_code >= 4010 && c->close_code <= 4014))
		s->valid = 0;
	c->sess = NULL;
}

void dgw_conn_free(struct dstate *st, struct dconn *c)
{
	for (struct dconn **pp = &st->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->sess && c->sess->conn == c)
		c->sess->conn = NULL;
	struct dframe *f;
	while ((f = dstate_conn_pop(c))) {
		free(f->text);
		free(f);
	}
	free(c->hello);
	free(c);
}

void dgw_tick(struct dstate *st)
{
	int64_t now = dstate_now_us();
	/* Discord allows some slack past the interval before it gives up. */
	int64_t limit = (int64_t)st->cfg.heartbeat_ms * 1000 * 3 / 2 + 200000;
	for (struct dconn *c = st->conns; c; c = c->next) {
		if (c->gone || c->close_code || c->drop)
			continue;
		if (c->hello && now >= c->hello_at) {
			dstate_conn_send(st, c, c->hello, strlen(c->hello));
			free(c->hello);
			c->hello = NULL;
			c->last_hb_us = now;
		}
		if (c->hello)
			continue;
		if (c->close_at_us && now >= c->close_at_us) {
			dstate_conn_close(st, c, 4000, "Unknown error.");
			continue;
		}
		if (now - c->last_hb_us > limit) {
			log_info("event=heartbeat_missed");
			dstate_conn_close(st, c, 4009, "Session timed out.");
		}
	}
}

static struct dconn *active_conn(struct dstate *st)
{
	struct dsess *s = dstate_active(st);
	return s ? s->conn : NULL;
}

int dgw_ctl_reconnect(struct dstate *st)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	send_op(st, c, 7, NULL);
	c->close_at_us = dstate_now_us() + DGW_LATER_US;
	return 0;
}

int dgw_ctl_invalid_session(struct dstate *st, int resumable)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	cJSON *b = cJSON_CreateBool(resumable);
	send_op(st, c, 9, b);
	cJSON_Delete(b);
	st->invalid_sessions++;
	if (!resumable)
		c->sess->valid = 0;
	/* Either way this connection is no longer logged in: the client must
	 * Resume (d:true) or Identify (d:false) before anything else counts. */
	c->sess->conn = NULL;
	c->sess = NULL;
	c->close_at_us = dstate_now_us() + DGW_LATER_US;
	return 0;
}

int dgw_ctl_drop(struct dstate *st, int hold_ms, int forget)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	if (forget)
		c->sess->valid = 0; /* the server lost the session: a resume is refused */
	if (hold_ms > 0)
		st->hold_until_us = dstate_now_us() + (int64_t)hold_ms * 1000;
	dstate_conn_close(st, c, 0, NULL);
	return 0;
}

int dgw_ctl_dispatch(struct dstate *st, const char *t, const cJSON *d)
{
	struct dsess *s = dstate_active(st);
	if (!s)
		return -1;
	/* Sent as is: the test decides what is malformed. */
	s->seq++;
	char *text = dstate_frame(0, d, s->seq, t);
	dstate_conn_send(st, s->conn, text, strlen(text));
	free(text);
	return 0;
}

int dgw_ctl_close(struct dstate *st, int code)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	dstate_conn_close(st, c, code, "Closed by the control API.");
	return 0;
}

int dgw_ctl_acks(struct dstate *st, int on)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	c->ack_off = !on;
	return 0;
}

int dgw_ctl_heartbeat_request(struct dstate *st)
{
	struct dconn *c = active_conn(st);
	if (!c)
		return -1;
	send_op(st, c, 1, NULL);
	return 0;
}
