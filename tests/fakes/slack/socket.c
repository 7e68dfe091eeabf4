/*
 * socket.c: fake-slack's Socket Mode.
 *
 * apps.connections.open hands out single-use tickets; a websocket on
 * /link/?ticket=T gets `hello` first, then envelopes spread round-robin over
 * the open sockets (at most 10).  The client acks {"envelope_id":...}.  An
 * unacked events_api envelope comes back after ack_timeout_ms with
 * retry_attempt raised and retry_reason "timeout" (max_retries times);
 * slash_commands and interactive envelopes are never redelivered.  An
 * envelope injected while no socket is open waits for the next one.
 *
 * Envelope ids are random UUIDs (8-4-4-4-12), as Slack's are.
 *
 * Faults: stall_acks ignores acks; disconnect sends {type:"disconnect",
 * reason} (refresh_requested and link_disabled then close the socket, the
 * first after a grace period so a client can open its next socket first);
 * drop closes every TCP connection without a close frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot/httpd.h"
#include "fake_slack.h"
#include "json.h"
#include "log.h"
#include "mem.h"

static size_t scan_from; /* envs before this need no more work */

static void rand_hex(char *buf, size_t len, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = hex[random() & 15];
	buf[i] = '\0';
}

int socket_new_ticket(char *url, size_t len)
{
	char t[40];

	rand_hex(t, sizeof t, 32);
	if (fs.ntickets == FS_MAX_TICKETS) { /* forget the oldest unused one */
		memmove(fs.tickets[0], fs.tickets[1], sizeof fs.tickets[0] * (FS_MAX_TICKETS - 1));
		fs.ntickets--;
	}
	str_copy(fs.tickets[fs.ntickets++], sizeof fs.tickets[0], t);
	snprintf(url, len, "ws://127.0.0.1:%d/link/?ticket=%s&app_id=%s", fs.port, t, fs.app_id);
	return 0;
}

static int take_ticket(const char *query)
{
	const char *p = strstr(query, "ticket=");
	char t[40];
	size_t n;

	if (!p)
		return -1;
	p += 7;
	n = strcspn(p, "&");
	if (n == 0 || n >= sizeof t)
		return -1;
	memcpy(t, p, n);
	t[n] = '\0';
	for (int i = 0; i < fs.ntickets; i++) {
		if (strcmp(fs.tickets[i], t) == 0) {
			memmove(fs.tickets[i], fs.tickets[i + 1],
			        sizeof fs.tickets[0] * (size_t)(fs.ntickets - i - 1));
			fs.ntickets--;
			return 0;
		}
	}
	return -1;
}

static struct fs_conn *conn_of(struct httpd_ws *c)
{
	for (int i = 0; i < fs.nconns; i++)
		if (fs.conns[i].ws == c)
			return &fs.conns[i];
	return NULL;
}

static int send_json(struct fs_conn *c, cJSON *msg)
{
	char *s = json_print(msg);
	int rc = httpd_ws_send(c->ws, s, strlen(s));
	free(s);
	return rc;
}

/* Next socket that is not being closed, round robin; NULL when none. */
static struct fs_conn *pick(void)
{
	for (int k = 0; k < fs.nconns; k++) {
		struct fs_conn *c = &fs.conns[(fs.rr + k) % fs.nconns];
		if (!c->close_at_us) {
			fs.rr = (fs.rr + k + 1) % fs.nconns;
			return c;
		}
	}
	return NULL;
}

static void deliver(struct fs_env *e)
{
	struct fs_conn *c = pick();
	cJSON *m;

	if (!c)
		return;
	m = json_new_object();
	json_add_str(m, "envelope_id", e->id);
	json_add_str(m, "type", e->type);
	json_add(m, "payload", json_dup(e->payload));
	json_add_bool(m, "accepts_response_payload", e->accepts);
	if (strcmp(e->type, "events_api") == 0) {
		json_add_int(m, "retry_attempt", e->attempts);
		json_add_str(m, "retry_reason", e->attempts ? "timeout" : "");
	}
	if (send_json(c, m) == 0) {
		if (e->attempts)
			fs.redelivered++;
		e->attempts++;
		e->sent = 1;
		e->conn_id = c->id;
		e->sent_us = fs_now_us();
		e->deadline_us = e->sent_us + (int64_t)fs.ack_timeout_ms * 1000;
	}
	cJSON_Delete(m);
}

struct fs_env *socket_inject(const char *type, cJSON *payload, int accepts)
{
	struct fs_env *e;
	char a[16], b[16], c[16];

	if (fs.nenvs >= FS_MAX_ENVS) {
		cJSON_Delete(payload);
		return NULL;
	}
	if (fs.nenvs % 256 == 0)
		fs.envs = xrealloc(fs.envs, (fs.nenvs + 256) * sizeof *fs.envs);
	e = &fs.envs[fs.nenvs++];
	memset(e, 0, sizeof *e);
	/* a random (version 4) UUID, 8-4-4-4-12, as Slack's envelope ids are */
	rand_hex(a, sizeof a, 8);
	rand_hex(b, sizeof b, 4);
	rand_hex(c, sizeof c, 12);
	snprintf(e->id, sizeof e->id, "%s-%s-4%03lx-%c%03lx-%s", a, b,
	         (unsigned long)(random() & 0xfff), "89ab"[random() & 3],
	         (unsigned long)(random() & 0xfff), c);
	str_copy(e->type, sizeof e->type, type);
	e->payload = payload;
	e->accepts = accepts;
	e->injected_us = fs_now_us();
	deliver(e);
	return e;
}

struct fs_env *socket_find_env(const char *id)
{
	for (size_t i = fs.nenvs; i-- > 0;)
		if (strcmp(fs.envs[i].id, id) == 0)
			return &fs.envs[i];
	return NULL;
}

int socket_send_raw(const char *text, size_t len)
{
	struct fs_conn *c = pick();
	if (!c)
		return -1;
	return httpd_ws_send(c->ws, text, len);
}

void socket_disconnect_all(const char *reason)
{
	cJSON *m = json_new_object(), *d = json_new_object();
	int64_t now = fs_now_us();

	json_add_str(m, "type", "disconnect");
	json_add_str(m, "reason", reason);
	json_add_str(d, "host", "applink-fake-1");
	json_add(m, "debug_info", d);
	for (int i = 0; i < fs.nconns; i++) {
		struct fs_conn *c = &fs.conns[i];
		send_json(c, m);
		if (strcmp(reason, "refresh_requested") == 0)
			c->close_at_us = now + (int64_t)fs.refresh_grace_ms * 1000;
		else if (strcmp(reason, "link_disabled") == 0 ||
		         strcmp(reason, "too_many_websockets") == 0)
			c->close_at_us = now + 1; /* after the message is out */
	}
	cJSON_Delete(m);
	log_info("event=disconnect_sent reason=%s sockets=%d", reason, fs.nconns);
}

int64_t socket_pongs(void)
{
	int64_t n = fs.pongs_closed;
	for (int i = 0; i < fs.nconns; i++)
		n += httpd_ws_pongs(fs.conns[i].ws);
	return n;
}

void socket_drop_all(void)
{
	log_info("event=drop_all sockets=%d", fs.nconns);
	for (int i = 0; i < fs.nconns; i++)
		httpd_ws_drop(fs.conns[i].ws);
}

void socket_tick(void)
{
	int64_t now = fs_now_us();
	int any_open = 0;

	for (int i = 0; i < fs.nconns; i++) {
		struct fs_conn *c = &fs.conns[i];
		if (c->close_at_us && now >= c->close_at_us && c->close_at_us > 0) {
			httpd_ws_close(c->ws, 1000);
			c->close_at_us = -1; /* closing; keep it out of pick() */
		}
		if (!c->close_at_us)
			any_open = 1;
		if (fs.ping_ms > 0 && c->close_at_us == 0 &&
		    now - c->pinged_us >= (int64_t)fs.ping_ms * 1000) {
			c->pinged_us = now;
			if (httpd_ws_ping(c->ws) == 0)
				fs.pings++;
		}
	}
	for (size_t i = scan_from; i < fs.nenvs; i++) {
		struct fs_env *e = &fs.envs[i];
		int events = strcmp(e->type, "events_api") == 0;
		if (!e->sent) {
			if (any_open)
				deliver(e);
			continue;
		}
		if (events && !e->acked && e->attempts <= fs.max_retries && now >= e->deadline_us)
			deliver(e);
	}
	/* advance past finished envelopes */
	while (scan_from < fs.nenvs) {
		struct fs_env *e = &fs.envs[scan_from];
		int events = strcmp(e->type, "events_api") == 0;
		if (!e->sent || (events && !e->acked && e->attempts <= fs.max_retries))
			break;
		scan_from++;
	}
}

static int ws_open(struct httpd_ws *ws, const char *path, const char *query, void *arg)
{
	struct fs_conn *c;
	cJSON *hello, *d, *ci;

	(void)arg;
	if (strncmp(path, "/link", 5) != 0 || take_ticket(query) < 0) {
		fs.refused++;
		log_info("event=ws_refused reason=%s path=%s query=%s", log_q("bad or used ticket"),
		         log_q(path), log_q(query));
		return -1;
	}
	if (fs.nconns >= FS_MAX_CONNS) {
		fs.refused++;
		log_info("event=ws_refused reason=%s", log_q("too many websockets"));
		return -1;
	}
	c = &fs.conns[fs.nconns++];
	memset(c, 0, sizeof *c);
	c->ws = ws;
	c->id = ++fs.next_conn_id;
	c->opened_us = fs_now_us();
	c->pinged_us = c->opened_us;
	fs.connects++;

	hello = json_new_object();
	json_add_str(hello, "type", "hello");
	json_add_int(hello, "num_connections", fs.nconns);
	d = json_new_object();
	json_add_str(d, "host", "applink-fake-1");
	{
		/* when the socket host started, "2020-10-11 12:12:12.120" */
		char started[40];
		time_t now = (time_t)(c->opened_us / 1000000);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S", &tm);
		size_t n = strlen(started);
		snprintf(started + n, sizeof started - n, ".%03d",
		         (int)(c->opened_us / 1000 % 1000));
		json_add_str(d, "started", started);
	}
	json_add_int(d, "build_number", 1);
	json_add_int(d, "approximate_connection_time", 18060);
	json_add(hello, "debug_info", d);
	ci = json_new_object();
	json_add_str(ci, "app_id", fs.app_id);
	json_add(hello, "connection_info", ci);
	send_json(c, hello);
	cJSON_Delete(hello);
	log_info("event=ws_open conn=%d open=%d", c->id, fs.nconns);
	return 0;
}

static void record_ack_response(struct fs_env *e)
{
	const cJSON *p = e->ack_payload;
	cJSON *msg;
	char ts[32];

	if (!p || (!json_str(p, "text") && !cJSON_GetObjectItemCaseSensitive(p, "blocks")))
		return;
	msg = json_dup(p);
	web_new_ts(ts, sizeof ts);
	json_add_str(msg, "ts", ts);
	json_add_str(msg, "source", "ack");
	json_add_str(msg, "envelope_id", e->id);
	if (json_str(e->payload, "channel_id"))
		json_add_str(msg, "channel", json_str(e->payload, "channel_id"));
	if (json_str(e->payload, "user_id"))
		json_add_str(msg, "user", json_str(e->payload, "user_id"));
	cJSON_AddItemToArray(fs.ephemeral, msg);
}

static void ws_message(struct httpd_ws *ws, const char *data, size_t len, void *arg)
{
	cJSON *m = NULL;
	const char *id;
	struct fs_env *e;
	char err[128];

	(void)ws;
	(void)arg;
	if (json_parse_object(data, len, &m, err, sizeof err) < 0) {
		log_warn("event=ws_bad_message error=%s", log_q(err));
		return;
	}
	id = json_str(m, "envelope_id");
	if (!id) {
		log_warn("event=ws_bad_message error=%s", log_q("no envelope_id"));
		goto out;
	}
	if (fs.stall_acks) {
		log_info("event=ack_ignored envelope=%s", id);
		goto out;
	}
	e = socket_find_env(id);
	if (!e) {
		log_warn("event=ack_unknown envelope=%s", log_q(id));
		goto out;
	}
	if (!e->acked) {
		e->acked = 1;
		e->ack_us = fs_now_us();
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "payload");
		if (p) {
			e->ack_payload = json_dup(p);
			record_ack_response(e);
		}
		views_on_ack(e);
	}
out:
	cJSON_Delete(m);
}

static void ws_closed(struct httpd_ws *ws, void *arg)
{
	struct fs_conn *c = conn_of(ws);

	(void)arg;
	if (!c)
		return;
	log_info("event=ws_closed conn=%d", c->id);
	fs.pongs_closed += httpd_ws_pongs(ws);
	int i = (int)(c - fs.conns);
	memmove(&fs.conns[i], &fs.conns[i + 1], sizeof fs.conns[0] * (size_t)(fs.nconns - i - 1));
	fs.nconns--;
	if (fs.rr >= fs.nconns)
		fs.rr = 0;
}

static const struct httpd_ws_ops ops = {ws_open, ws_message, ws_closed};

void socket_register(struct httpd *h)
{
	/* a real block_actions payload can pass 100 KB; acks are small */
	httpd_websocket(h, "/link", &ops, 1 << 20, NULL);
}
