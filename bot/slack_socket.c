/*
 * slack_socket.c: the Socket Mode client, on opsbot-bot's lws loop.
 *
 * A connector thread calls apps.connections.open with the app token (a
 * blocking HTTPS call must not stall the loop) and hands back a fresh
 * single-use URL; the loop opens the websocket.  A socket counts as up only
 * after Slack's `hello`.
 *
 *   down --fetch URL--> connecting --hello--> up
 *    ^                                         |
 *    +---- closed / error (backoff) -----------+
 *   up --disconnect(refresh_requested|warning)--> retiring: a new socket is
 *        opened first and the old one closed once the new one says hello
 *   any --disconnect(link_disabled) or invalid_auth--> disabled: one error
 *        line saying what is wrong and what the operator must do, and the
 *        reason in slack_socket_problem() (the surface puts it in /healthz).
 *        Not an exit: Discord, the hooks and Slack posting share this
 *        process, and a restart cannot fix a token or an app setting.
 *
 * Envelopes go to the surface whole; the surface acks each exactly once
 * (slack_socket_ack), on the socket it came from.  An envelope id acked in
 * the last dedupe_ttl_ms is acked again and not delivered twice.
 * Malformed frames (bad JSON, wrong types, oversized) are logged and
 * skipped.
 *
 * Invariants:
 *  1. At most one URL fetch is in flight; conns[] holds every live wsi.
 *  2. Backoff doubles from 250 ms up to max_backoff_ms and resets on hello.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "bot.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "slack.h"
#include "timeutil.h"
#include "utf8.h"
#include "wsq.h"

#define MAX_CONNS 4
#define MAX_FRAME (4 << 20)
#define SEEN      2048

struct sconn {
	struct lws *wsi; /* NULL: slot free */
	int id;
	int hello;
	int retiring;
	int closing;
	struct buf in;
	struct wsq out;
	struct slack_socket *s;
};

struct seen {
	char id[72];
	int64_t at_ms;
};

struct slack_socket {
	char *api_url, *app_token;
	int64_t dedupe_ttl_ms, max_backoff_ms;
	int want; /* sockets to keep open */
	struct bot *b;
	slack_envelope_fn fn;
	void *arg;
	struct lws_vhost *vh;
	struct lws_protocols protocols[2];
	struct sconn conns[MAX_CONNS];
	int next_id;

	pthread_t th;
	int th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int quit;
	int want_url;  /* loop -> connector */
	int url_state; /* 0 none, 1 ready, -1 failed, -2 fatal */
	char url[1024];
	char url_err[160];
	int64_t url_retry_ms;

	int fetching;
	int disabled;
	char problem[240]; /* why disabled: for /healthz */
	int64_t backoff_ms;
	int64_t next_connect_ms;
	struct seen seen[SEEN];
	int seen_pos;
};

static int live_conns(const struct slack_socket *s, int need_hello)
{
	int n = 0;
	for (int i = 0; i < MAX_CONNS; i++)
		if (s->conns[i].wsi && !s->conns[i].retiring && !s->conns[i].closing &&
		    (!need_hello || s->conns[i].hello))
			n++;
	return n;
}

const char *slack_socket_problem(const struct slack_socket *s)
{
	return s && s->disabled && s->problem[0] ? s->problem : NULL;
}

int slack_socket_connected(const struct slack_socket *s)
{
	return s && live_conns(s, 1) > 0;
}

static struct sconn *conn_by_id(struct slack_socket *s, int id)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (s->conns[i].wsi && s->conns[i].id == id)
			return &s->conns[i];
	return NULL;
}

static void conn_reset(struct sconn *c)
{
	wsq_clear(&c->out);
	buf_free(&c->in);
	c->wsi = NULL;
	c->hello = c->retiring = c->closing = 0;
}

static void conn_send(struct sconn *c, const char *text, size_t len)
{
	if (!c->wsi || c->closing)
		return;
	wsq_push(&c->out, text, len, 0);
	lws_callback_on_writable(c->wsi);
}

static void schedule_reconnect(struct slack_socket *s, const char *why)
{
	int64_t jitter = s->backoff_ms / 4 ? random() % (s->backoff_ms / 4) : 0;
	s->next_connect_ms = time_mono_ms() + s->backoff_ms + jitter;
	log_info("event=slack_reconnect_scheduled in_ms=%lld reason=%s",
	         (long long)(s->backoff_ms + jitter), log_q(why));
	s->backoff_ms *= 2;
	if (s->backoff_ms > s->max_backoff_ms)
		s->backoff_ms = s->max_backoff_ms;
}

static int seen_has(struct slack_socket *s, const char *id)
{
	int64_t now = time_mono_ms();
	for (int i = 0; i < SEEN; i++)
		if (s->seen[i].id[0] && now - s->seen[i].at_ms < s->dedupe_ttl_ms &&
		    !strcmp(s->seen[i].id, id))
			return 1;
	return 0;
}

static void seen_add(struct slack_socket *s, const char *id)
{
	str_copy(s->seen[s->seen_pos].id, sizeof s->seen[0].id, id);
	s->seen[s->seen_pos].at_ms = time_mono_ms();
	s->seen_pos = (s->seen_pos + 1) % SEEN;
}

void slack_socket_ack(struct slack_socket *s, int conn, const char *envelope_id,
                      const cJSON *payload)
{
	struct sconn *c = conn_by_id(s, conn);
	cJSON *ack;
	char *text;

	seen_add(s, envelope_id);
	if (!c) {
		log_warn("event=slack_ack_lost envelope=%s reason=%s", log_q(envelope_id),
		         log_q("socket closed"));
		return;
	}
	ack = json_new_object();
	json_add_str(ack, "envelope_id", envelope_id);
	if (payload)
		json_add(ack, "payload", json_dup(payload));
	text = json_print(ack);
	conn_send(c, text, strlen(text));
	free(text);
	cJSON_Delete(ack);
}

static void retire_others(struct slack_socket *s, struct sconn *keep)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct sconn *c = &s->conns[i];
		if (c != keep && c->wsi && c->retiring && !c->closing) {
			c->closing = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
}

static void on_frame(struct slack_socket *s, struct sconn *c, const char *data, size_t len)
{
	cJSON *m = NULL;
	const char *type, *id;
	char err[160];

	if (utf8_parse_json(data, len, &m, err, sizeof err) <
	    0) { /* the entrance rule, lib/utf8.h */
		log_warn("event=slack_bad_frame conn=%d bytes=%zu error=%s", c->id, len,
		         log_q(err));
		return;
	}
	type = json_str(m, "type");
	if (!type) {
		log_warn("event=slack_bad_frame conn=%d error=%s", c->id,
		         log_q("field 'type' is missing or not a string"));
		goto out;
	}
	if (!strcmp(type, "hello")) {
		c->hello = 1;
		s->backoff_ms = 250;
		s->next_connect_ms = 0; /* open the next one now if we want more */
		log_info("event=slack_hello conn=%d num_connections=%lld", c->id,
		         (long long)json_int(m, "num_connections", 0));
		retire_others(s, c);
		goto out;
	}
	if (!strcmp(type, "disconnect")) {
		const char *reason = json_str(m, "reason");
		reason = reason ? reason : "";
		log_info("event=slack_disconnect conn=%d reason=%s", c->id, log_q(reason));
		if (!strcmp(reason, "link_disabled")) {
			str_copy(
			    s->problem, sizeof s->problem,
			    "Slack disabled Socket Mode for this app (link_disabled): slash "
			    "commands and buttons are off, posting goes on. Switch Socket Mode "
			    "on in the app's settings (or use [slack] mode = http), then "
			    "restart opsbot-bot.");
			log_error(
			    "event=slack_link_disabled surface=slack state=input_off error=%s "
			    "action=%s",
			    log_q("Slack switched Socket Mode off for this app; slash "
			          "commands and buttons stop, posting goes on"),
			    log_q("switch Socket Mode on in the app's settings (or set "
			          "[slack] mode = http), then restart opsbot-bot"));
			s->disabled = 1;
			for (int i = 0; i < MAX_CONNS; i++)
				if (s->conns[i].wsi) {
					s->conns[i].closing = 1;
					lws_callback_on_writable(s->conns[i].wsi);
				}
			goto out;
		}
		/* refresh_requested, warning, too_many_websockets, anything new:
		 * open the next socket now, close this one once it says hello */
		c->retiring = 1;
		s->next_connect_ms = 0;
		goto out;
	}
	id = json_str(m, "envelope_id");
	if (!id || !*id || strlen(id) >= sizeof s->seen[0].id) {
		log_warn("event=slack_bad_frame conn=%d type=%s error=%s", c->id, log_q(type),
		         log_q("field 'envelope_id' is missing or not a string"));
		goto out;
	}
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "payload"))) {
		log_warn("event=slack_bad_frame conn=%d envelope=%s error=%s", c->id, log_q(id),
		         log_q("field 'payload' must be an object"));
		slack_socket_ack(s, c->id, id, NULL); /* nothing to do with it, ever */
		goto out;
	}
	if (seen_has(s, id)) {
		log_info("event=slack_duplicate envelope=%s retry_attempt=%lld", log_q(id),
		         (long long)json_int(m, "retry_attempt", 0));
		slack_socket_ack(s, c->id, id, NULL);
		goto out;
	}
	s->fn(s->arg, s, c->id, m);
out:
	cJSON_Delete(m);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct sconn *c = lws_get_opaque_user_data(wsi);
	(void)user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c)
			log_info("event=slack_socket_open conn=%d", c->id);
		if (c && c->out.n)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!c)
			return -1;
		if (buf_append(&c->in, in, len) < 0) {
			log_warn("event=slack_bad_frame conn=%d error=%s", c->id,
			         log_q("frame over 4 MiB"));
			buf_reset(&c->in);
			c->in.max = MAX_FRAME;
			return -1; /* Slack will redeliver on a fresh socket */
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			on_frame(c->s, c, c->in.data ? c->in.data : "", c->in.len);
			buf_reset(&c->in);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		if (!c)
			return -1;
		int wrote = wsq_write_next(&c->out, wsi, c->closing);
		if (wrote)
			return wrote < 0 ? -1 : 0;
		if (c->closing) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c) {
			struct slack_socket *s = c->s;
			int was_planned = c->retiring || c->closing;
			log_info("event=slack_socket_closed conn=%d error=%s", c->id,
			         log_q(reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR && in
			                   ? (const char *)in
			                   : ""));
			lws_set_opaque_user_data(wsi, NULL);
			conn_reset(c);
			if (!s->disabled && live_conns(s, 0) < s->want && !s->fetching) {
				if (was_planned)
					s->next_connect_ms = 0; /* a refresh: straight on */
				else
					schedule_reconnect(s, "socket closed");
			}
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void *connector_main(void *arg)
{
	struct slack_socket *s = arg;

	for (;;) {
		cJSON *args, *reply = NULL;
		int64_t ra = -1;
		char err[160] = "";
		int rc;

		pthread_mutex_lock(&s->mu);
		while (!s->want_url && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		s->want_url = 0;
		pthread_mutex_unlock(&s->mu);

		args = json_new_object();
		rc = slack_web_call(s->api_url, s->app_token, "apps.connections.open", args, &reply,
		                    &ra, err, sizeof err);
		cJSON_Delete(args);

		pthread_mutex_lock(&s->mu);
		s->url_retry_ms = ra;
		str_copy(s->url_err, sizeof s->url_err, err);
		if (rc == 0 && json_str(reply, "url")) {
			str_copy(s->url, sizeof s->url, json_str(reply, "url"));
			s->url_state = 1;
		} else if (rc == -2 &&
		           (!strcmp(err, "invalid_auth") || !strcmp(err, "not_authed") ||
		            !strcmp(err, "account_inactive") ||
		            !strcmp(err, "user_removed_from_team") ||
		            !strcmp(err, "team_disabled") ||
		            !strcmp(err, "not_allowed_token_type"))) {
			s->url_state = -2;
		} else {
			s->url_state = -1;
		}
		pthread_mutex_unlock(&s->mu);
		cJSON_Delete(reply);
		bot_wake(s->b);
	}
}

static void open_socket(struct slack_socket *s, const char *url)
{
	struct lws_client_connect_info i;
	char copy[1024], path[1100];
	const char *prot, *addr, *p;
	int port;
	struct sconn *c = NULL;

	for (int k = 0; k < MAX_CONNS; k++)
		if (!s->conns[k].wsi) {
			c = &s->conns[k];
			break;
		}
	if (!c) {
		log_warn("event=slack_too_many_sockets");
		return;
	}
	str_copy(copy, sizeof copy, url);
	if (lws_parse_uri(copy, &prot, &addr, &port, &p)) {
		log_warn("event=slack_bad_url");
		schedule_reconnect(s, "bad socket URL");
		return;
	}
	snprintf(path, sizeof path, "/%s", p);
	memset(&i, 0, sizeof i);
	i.context = s->b->lws;
	i.vhost = s->vh;
	i.address = addr;
	i.port = port;
	i.path = path;
	i.host = addr;
	i.origin = addr;
	i.ssl_connection = !strcmp(prot, "wss") ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = "slack-socket";
	i.opaque_user_data = c;
	/* ping after 10 s of silence, give up on a socket silent for 25 s (a
	 * peer that vanished without a FIN would otherwise hold us forever) */
	static const lws_retry_bo_t idle = {.secs_since_valid_ping = 10,
	                                    .secs_since_valid_hangup = 25};
	i.retry_and_idle_policy = &idle;
	memset(c, 0, sizeof *c);
	c->s = s;
	c->id = ++s->next_id;
	c->in.max = MAX_FRAME;
	c->wsi = (struct lws *)1; /* reserve the slot while connecting */
	struct lws *w = lws_client_connect_via_info(&i);
	if (!w) {
		/* the error callback may already have run and reset the slot */
		if (c->wsi == (struct lws *)1)
			c->wsi = NULL;
		if (live_conns(s, 0) == 0)
			schedule_reconnect(s, "connect failed");
		return;
	}
	if (c->wsi == (struct lws *)1)
		c->wsi = w;
	log_info("event=slack_socket_connecting conn=%d host=%s port=%d", c->id, addr, port);
}

void slack_socket_tick(struct slack_socket *s)
{
	int64_t now = time_mono_ms();
	int state;

	if (!s || s->disabled)
		return;
	pthread_mutex_lock(&s->mu);
	state = s->url_state;
	s->url_state = 0;
	pthread_mutex_unlock(&s->mu);
	if (state != 0)
		s->fetching = 0;
	if (state == 1) {
		open_socket(s, s->url);
	} else if (state == -2) {
		snprintf(s->problem, sizeof s->problem,
		         "Slack refused SLACK_APP_TOKEN (%.40s): slash commands and buttons are "
		         "off, posting goes on. Set SLACK_APP_TOKEN to the app-level token "
		         "(xapp-..., scope connections:write), then restart opsbot-bot.",
		         s->url_err);
		log_error(
		    "event=slack_auth_failed error=%s surface=slack state=input_off action=%s",
		    log_q(s->url_err),
		    log_q("set SLACK_APP_TOKEN to the app-level token (xapp-..., scope "
		          "connections:write), then restart opsbot-bot; posting goes on"));
		s->disabled = 1;
		return;
	} else if (state == -1) {
		if (s->url_retry_ms > 0 && s->url_retry_ms > s->backoff_ms)
			s->backoff_ms = s->url_retry_ms;
		schedule_reconnect(s, s->url_err);
	}
	if (!s->fetching && now >= s->next_connect_ms && live_conns(s, 0) < s->want) {
		s->fetching = 1;
		s->next_connect_ms = INT64_MAX;
		pthread_mutex_lock(&s->mu);
		s->want_url = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
}

int slack_socket_start(struct slack_socket **out, const struct slack_socket_cfg *cfg, struct bot *b,
                       slack_envelope_fn fn, void *arg, char *err, size_t errlen)
{
	struct slack_socket *s = xcalloc(1, sizeof *s);
	struct lws_context_creation_info info;

	s->api_url = xstrdup(cfg->api_url);
	s->app_token = xstrdup(cfg->app_token);
	s->dedupe_ttl_ms = cfg->dedupe_ttl_ms;
	s->max_backoff_ms = cfg->max_backoff_ms;
	s->want = cfg->sockets >= 1 && cfg->sockets < MAX_CONNS ? cfg->sockets : 1;
	s->b = b;
	s->fn = fn;
	s->arg = arg;
	s->backoff_ms = 250;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->protocols[0].name = "slack-socket";
	s->protocols[0].callback = cb;
	s->protocols[0].user = s;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = s->protocols;
	info.vhost_name = "slack";
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	s->vh = lws_create_vhost(b->lws, &info);
	if (!s->vh) {
		snprintf(err, errlen, "cannot create the Slack client vhost");
		slack_socket_stop(s);
		return -1;
	}
	if (pthread_create(&s->th, NULL, connector_main, s) != 0) {
		snprintf(err, errlen, "cannot start the Slack connector thread");
		slack_socket_stop(s);
		return -1;
	}
	s->th_started = 1;
	*out = s;
	return 0;
}

void slack_socket_stop(struct slack_socket *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->th_started)
		pthread_join(s->th, NULL);
	for (int i = 0; i < MAX_CONNS; i++) {
		if (s->conns[i].wsi && s->conns[i].wsi != (struct lws *)1)
			lws_set_opaque_user_data(s->conns[i].wsi, NULL);
		conn_reset(&s->conns[i]);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->api_url);
	free(s->app_token);
	free(s);
}
