/* discord_gw.c: Discord Gateway client: hello, identify/resume, heartbeats, reconnects. */
#include "discord_gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"
#include "utf8.h"

#define GW_RX_MAX           (4u << 20) /* a GUILD_CREATE of a big guild is large */
#define GW_SEND_LIMIT       120        /* frames per 60 s per connection */
#define GW_SEND_RESERVE     5          /* kept for heartbeats */
#define GW_HELLO_TIMEOUT_MS 10000
#define GW_CLOSE_RESUME     4900  /* our own close code: not 1000, so resumable */
#define GW_RESUME_TRIES     3     /* failed resumes in a row before a new session */
#define GW_URL_WAIT_MS      10000 /* how long a fresh /gateway/bot URL may take */

enum gw_state { GW_IDLE, GW_CONNECTING, GW_HELLO, GW_IDENTIFY_WAIT, GW_AUTH, GW_LIVE, GW_STOPPED };

struct frame {
	char *text;
	size_t len;
	int heartbeat;
	struct frame *next;
};

struct discord_gw {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct lws *wsi;
	struct discord_gw_cfg cfg;
	char *token;
	struct discord_gw_ops ops;
	void *arg;
	enum gw_state state;
	char url[512];        /* from /gateway/bot */
	char resume_url[512]; /* from READY */
	char session_id[64];
	int64_t seq;
	int resuming;       /* this connection resumes */
	int64_t connect_at; /* idle: when to connect */
	int64_t backoff_ms;
	int64_t hello_deadline;
	int64_t interval;
	int64_t next_hb;
	int beat_unacked; /* a heartbeat went out and no ACK came yet */
	int64_t last_identify;
	int close_code_out;   /* nonzero: close with this on the next writable */
	int server_code;      /* the server's close code on this connection */
	int next_fresh;       /* after this connection: identify (not resume) */
	int64_t next_wait_ms; /* after this connection: wait this long first */
	int resume_failures;  /* resumes in a row that never reached RESUMED */
	int64_t url_wait;     /* nonzero: waiting until then for a fresh URL */
	int64_t win_start;
	int win_count;
	struct frame *out, *out_tail;
	struct buf rx;
	struct discord_gw_stats stats;
};

void discord_gw_join_url(const char *base, char *out, size_t outlen)
{
	/* Keep scheme, host and path, drop any query; "wss://h" needs a "/". */
	size_t n = strcspn(base, "?");
	const char *sep = strstr(base, "://");
	const char *host = sep && (size_t)(sep - base) < n ? sep + 3 : base;
	size_t hostlen = n - (size_t)(host - base);
	int has_path = memchr(host, '/', hostlen) != NULL;
	snprintf(out, outlen, "%.*s%s?v=10&encoding=json", (int)n, base, has_path ? "" : "/");
}

static void send_frame(struct discord_gw *g, cJSON *f, int heartbeat)
{
	struct frame *fr = xcalloc(1, sizeof *fr);
	fr->text = json_print(f);
	fr->len = strlen(fr->text);
	fr->heartbeat = heartbeat;
	cJSON_Delete(f);
	if (heartbeat) {
		/* A heartbeat jumps the queue: being late for it costs the connection. */
		fr->next = g->out;
		g->out = fr;
		if (!g->out_tail)
			g->out_tail = fr;
	} else {
		if (g->out_tail)
			g->out_tail->next = fr;
		else
			g->out = fr;
		g->out_tail = fr;
	}
	if (g->wsi)
		lws_callback_on_writable(g->wsi);
}

static cJSON *op_frame(int op, cJSON *d)
{
	cJSON *f = json_new_object();
	json_add_int(f, "op", op);
	json_add(f, "d", d ? d : cJSON_CreateNull());
	return f;
}

static void clear_out(struct discord_gw *g)
{
	for (struct frame *f = g->out, *n; f; f = n) {
		n = f->next;
		free(f->text);
		free(f);
	}
	g->out = g->out_tail = NULL;
}

static void heartbeat(struct discord_gw *g)
{
	send_frame(g, op_frame(1, g->seq > 0 ? cJSON_CreateNumber((double)g->seq) : NULL), 1);
	g->beat_unacked = 1;
}

static void identify(struct discord_gw *g)
{
	cJSON *d = json_new_object();
	json_add_str(d, "token", g->token);
	cJSON *p = json_new_object();
	json_add_str(p, "os", "linux");
	json_add_str(p, "browser", "opsbot");
	json_add_str(p, "device", "opsbot");
	json_add(d, "properties", p);
	json_add_int(d, "intents", g->cfg.intents);
	json_add_int(d, "large_threshold", 50);
	send_frame(g, op_frame(2, d), 0);
	g->last_identify = time_mono_ms();
	g->stats.identifies++;
	g->state = GW_AUTH;
	log_info("event=discord_identify intents=%u", g->cfg.intents);
}

static void resume(struct discord_gw *g)
{
	cJSON *d = json_new_object();
	json_add_str(d, "token", g->token);
	json_add_str(d, "session_id", g->session_id);
	json_add_int(d, "seq", g->seq);
	send_frame(g, op_frame(6, d), 0);
	g->state = GW_AUTH;
	log_info("event=discord_resume session=%s seq=%lld", g->session_id, (long long)g->seq);
}

static void forget_session(struct discord_gw *g)
{
	g->session_id[0] = 0;
	g->resume_url[0] = 0;
	g->seq = 0;
}

/* Close the current connection from our side (never 1000, so resumable). */
static void close_ours(struct discord_gw *g, int code)
{
	g->close_code_out = code;
	if (g->wsi)
		lws_callback_on_writable(g->wsi);
}

static void start_auth(struct discord_gw *g)
{
	if (g->resuming) {
		resume(g);
		return;
	}
	int64_t now = time_mono_ms();
	if (g->last_identify && now - g->last_identify < g->cfg.identify_gap_ms) {
		g->state = GW_IDENTIFY_WAIT; /* tick sends it when the gap has passed */
		return;
	}
	identify(g);
}

static void on_frame(struct discord_gw *g, const char *text, size_t len)
{
	cJSON *f = NULL;
	char err[128];
	if (utf8_parse_json(text, len, &f, err, sizeof err) < 0) {
		log_warn("event=discord_bad_frame error=%s", log_q(err));
		return;
	}
	int op = (int)json_int(f, "op", -1);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "d");
	int64_t now = time_mono_ms();
	switch (op) {
	case 10: {
		int64_t iv = json_int(d, "heartbeat_interval", 0);
		if (iv <= 0) {
			log_warn("event=discord_bad_hello");
			close_ours(g, GW_CLOSE_RESUME);
			break;
		}
		g->interval = iv;
		/* First beat after interval x jitter, as the documentation asks. */
		double jitter = (double)rand() / ((double)RAND_MAX + 1.0);
		g->next_hb = now + (int64_t)((double)iv * jitter);
		g->beat_unacked = 0;
		start_auth(g);
		break;
	}
	case 11:
		g->beat_unacked = 0;
		break;
	case 1:
		heartbeat(g);
		break;
	case 7:
		log_info("event=discord_reconnect_requested");
		close_ours(g, GW_CLOSE_RESUME);
		break;
	case 9: {
		int resumable = cJSON_IsTrue(d);
		g->stats.invalid_sessions++;
		log_info("event=discord_invalid_session resumable=%d", resumable);
		if (!resumable) {
			forget_session(g);
			g->next_fresh = 1;
			int64_t span = g->cfg.invalid_wait_max_ms - g->cfg.invalid_wait_min_ms;
			g->next_wait_ms =
			    g->cfg.invalid_wait_min_ms + (span > 0 ? rand() % (span + 1) : 0);
		}
		close_ours(g, GW_CLOSE_RESUME);
		break;
	}
	case 0: {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(f, "s");
		const char *t = json_str(f, "t");
		if (cJSON_IsNumber(s) && (int64_t)s->valuedouble > g->seq)
			g->seq = (int64_t)s->valuedouble;
		if (!t) {
			log_warn("event=discord_dispatch_without_t");
			break;
		}
		if (strcmp(t, "READY") == 0) {
			const char *sid = json_str(d, "session_id");
			const char *ru = json_str(d, "resume_gateway_url");
			if (!sid || !ru) {
				log_warn("event=discord_bad_ready");
				break;
			}
			str_copy(g->session_id, sizeof g->session_id, sid);
			str_copy(g->resume_url, sizeof g->resume_url, ru);
			g->state = GW_LIVE;
			g->backoff_ms = 0;
			g->resume_failures = 0;
			g->stats.connected = 1;
			log_info("event=discord_ready session=%s", sid);
		} else if (strcmp(t, "RESUMED") == 0) {
			g->state = GW_LIVE;
			g->backoff_ms = 0;
			g->resume_failures = 0;
			g->stats.connected = 1;
			g->stats.resumes++;
			log_info("event=discord_resumed session=%s seq=%lld", g->session_id,
			         (long long)g->seq);
		}
		if (g->ops.dispatch && cJSON_IsObject(d))
			g->ops.dispatch(g->arg, t, d);
		else if (!cJSON_IsObject(d))
			log_warn(
			    "event=discord_dispatch_skipped t=%s reason=\"d is not an object\"",
			    log_q(t));
		break;
	}
	default:
		log_warn("event=discord_unknown_op op=%d", op);
		break;
	}
	cJSON_Delete(f);
}

static int fatal_code(int code)
{
	return code == 4004 || (code >= 4010 && code <= 4014);
}

static const char *fatal_reason(int code)
{
	switch (code) {
	case 4004:
		return "authentication failed: check DISCORD_BOT_TOKEN";
	case 4010:
		return "invalid shard";
	case 4011:
		return "sharding required";
	case 4012:
		return "invalid API version";
	case 4013:
		return "invalid intents";
	case 4014:
		return "disallowed intents: enable them in the developer portal or drop them";
	}
	return "unknown";
}

/*
 * A resume that never reached RESUMED (resume_gateway_url does not resolve,
 * refuses, or drops us).  After GW_RESUME_TRIES in a row the session is
 * given up: a new session starts at a fresh /gateway/bot URL (asked of the
 * owner when it can fetch one, else the cached one) with an Identify.
 */
static void resume_failed(struct discord_gw *g)
{
	g->resume_failures++;
	log_warn("event=discord_resume_failed attempt=%d of=%d url=%s", g->resume_failures,
	         GW_RESUME_TRIES, log_q(g->resume_url));
	if (g->resume_failures < GW_RESUME_TRIES)
		return;
	g->resume_failures = 0;
	g->next_fresh = 1;
	if (g->ops.need_url) {
		log_warn(
		    "event=discord_resume_abandoned action=\"GET /gateway/bot, then Identify a "
		    "new session\"");
		g->url_wait = time_mono_ms() + GW_URL_WAIT_MS;
		g->ops.need_url(g->arg);
	} else {
		log_warn("event=discord_resume_abandoned action=\"Identify a new session at the "
		         "cached /gateway/bot URL\"");
	}
}

static void on_closed(struct discord_gw *g)
{
	int code = g->server_code;
	int was_live = g->state == GW_LIVE;
	g->wsi = NULL;
	g->stats.connected = 0;
	clear_out(g);
	buf_reset(&g->rx);
	if (g->state == GW_STOPPED)
		return;
	if (fatal_code(code)) {
		g->state = GW_STOPPED;
		g->stats.stopped_code = code;
		log_error("event=discord_gateway_stopped code=%d reason=%s action=\"not "
		          "reconnecting; fix the configuration and restart\"",
		          code, log_q(fatal_reason(code)));
		if (g->ops.stopped)
			g->ops.stopped(g->arg, code);
		return;
	}
	if (code == 4007 || code == 4009)
		g->next_fresh = 1;
	if (g->resuming && !was_live && !g->next_fresh)
		resume_failed(g);
	if (g->next_fresh) {
		forget_session(g);
		g->next_fresh = 0;
	}
	int64_t wait = g->next_wait_ms;
	g->next_wait_ms = 0;
	if (!was_live) {
		/* Failing before READY: back off, doubling, with jitter. */
		g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2 : 250;
		if (g->backoff_ms > g->cfg.backoff_max_ms)
			g->backoff_ms = g->cfg.backoff_max_ms;
		wait += g->backoff_ms / 2 + rand() % (g->backoff_ms / 2 + 1);
	}
	g->stats.reconnects++;
	g->state = GW_IDLE;
	g->connect_at = time_mono_ms() + wait;
	log_info("event=discord_gateway_closed code=%d resume=%d reconnect_in_ms=%lld", code,
	         g->session_id[0] != 0, (long long)wait);
}

static int writable(struct discord_gw *g, struct lws *wsi)
{
	int64_t now = time_mono_ms();
	if (g->close_code_out) {
		int code = g->close_code_out;
		g->close_code_out = 0;
		lws_close_reason(wsi, (enum lws_close_status)code, NULL, 0);
		return -1;
	}
	struct frame *f = g->out;
	if (!f)
		return 0;
	if (now - g->win_start >= 60000) {
		g->win_start = now;
		g->win_count = 0;
	}
	int cap = f->heartbeat ? GW_SEND_LIMIT : GW_SEND_LIMIT - GW_SEND_RESERVE;
	if (g->win_count >= cap)
		return 0; /* the tick asks again when the window rolls */
	g->out = f->next;
	if (!g->out)
		g->out_tail = NULL;
	unsigned char *buf = xmalloc(LWS_PRE + f->len);
	memcpy(buf + LWS_PRE, f->text, f->len);
	int n = lws_write(wsi, buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
	free(buf);
	free(f->text);
	free(f);
	g->win_count++;
	if (n < 0)
		return -1;
	if (g->out || g->close_code_out)
		lws_callback_on_writable(wsi);
	return 0;
}

static int gw_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct discord_gw *g = lws_get_opaque_user_data(wsi);
	(void)user;
	if (!g)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		g->state = GW_HELLO;
		g->hello_deadline = time_mono_ms() + GW_HELLO_TIMEOUT_MS;
		g->win_start = time_mono_ms();
		g->win_count = 0;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (buf_append(&g->rx, in, len) < 0) {
			log_warn("event=discord_frame_too_big max=%u", GW_RX_MAX);
			buf_reset(&g->rx);
			close_ours(g, GW_CLOSE_RESUME);
			return 0;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			on_frame(g, g->rx.data, g->rx.len);
			buf_reset(&g->rx);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return writable(g, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *b = in;
			g->server_code = (b[0] << 8) | b[1];
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warn("event=discord_connect_failed error=%s",
		         log_q(in ? (const char *)in : "?"));
		lws_set_opaque_user_data(wsi, NULL);
		on_closed(g);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		lws_set_opaque_user_data(wsi, NULL);
		on_closed(g);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols gw_protocols[] = {
    {"discord-gw", gw_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int discord_gw_new(struct discord_gw **out, struct lws_context *ctx,
                   const struct discord_gw_cfg *cfg, const struct discord_gw_ops *ops, void *arg,
                   char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = gw_protocols;
	info.vhost_name = "discord-gw";
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	struct lws_vhost *vh = lws_create_vhost(ctx, &info);
	if (!vh) {
		snprintf(err, errlen, "cannot create the discord-gw vhost");
		return -1;
	}
	struct discord_gw *g = xcalloc(1, sizeof *g);
	g->ctx = ctx;
	g->vh = vh;
	g->cfg = *cfg;
	g->token = xstrdup(cfg->token);
	g->cfg.token = NULL;
	if (g->cfg.backoff_max_ms <= 0)
		g->cfg.backoff_max_ms = 30000;
	g->ops = *ops;
	g->arg = arg;
	g->rx.max = GW_RX_MAX;
	g->state = GW_IDLE;
	*out = g;
	return 0;
}

void discord_gw_set_url(struct discord_gw *g, const char *url)
{
	if (g->url_wait)
		log_info("event=discord_gateway_url_refreshed action=\"Identify\"");
	g->url_wait = 0;
	str_copy(g->url, sizeof g->url, url);
}

static void connect_now(struct discord_gw *g)
{
	char full[600];
	g->resuming = g->session_id[0] && g->resume_url[0];
	discord_gw_join_url(g->resuming ? g->resume_url : g->url, full, sizeof full);
	char *copy = xstrdup(full);
	const char *prot, *addr, *path;
	int port;
	if (lws_parse_uri(copy, &prot, &addr, &port, &path)) {
		log_error("event=discord_bad_gateway_url url=%s", log_q(full));
		free(copy);
		g->connect_at = time_mono_ms() + 5000;
		if (g->resuming) {
			g->state = GW_CONNECTING; /* counts as a failed resume */
			on_closed(g);
		}
		return;
	}
	char fullpath[512];
	snprintf(fullpath, sizeof fullpath, "/%s", path);
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = g->ctx;
	ci.vhost = g->vh;
	ci.address = addr;
	ci.port = port;
	ci.path = fullpath;
	ci.host = addr;
	ci.origin = addr;
	ci.ssl_connection = strcmp(prot, "wss") == 0 ? LCCSCF_USE_SSL : 0;
	ci.local_protocol_name = "discord-gw";
	ci.opaque_user_data = g;
	ci.pwsi = &g->wsi;
	g->server_code = 0;
	g->close_code_out = 0;
	g->state = GW_CONNECTING;
	g->hello_deadline = time_mono_ms() + GW_HELLO_TIMEOUT_MS;
	log_info("event=discord_connect resume=%d", g->resuming);
	if (!lws_client_connect_via_info(&ci)) {
		/* The CONNECTION_ERROR callback may already have rescheduled us;
		 * otherwise (the host did not resolve) close the attempt here. */
		if (g->state == GW_CONNECTING) {
			log_warn("event=discord_connect_failed error=%s host=%s",
			         log_q("cannot start the connection"), log_q(addr));
			g->wsi = NULL;
			on_closed(g);
		}
	}
	free(copy);
}

void discord_gw_tick(struct discord_gw *g)
{
	int64_t now = time_mono_ms();
	switch (g->state) {
	case GW_IDLE:
		if (g->url_wait && now >= g->url_wait) {
			log_warn(
			    "event=discord_gateway_url_late action=\"Identify at the cached URL\"");
			g->url_wait = 0;
		}
		if (g->url[0] && now >= g->connect_at && !g->url_wait)
			connect_now(g);
		break;
	case GW_CONNECTING:
	case GW_HELLO:
		if (now > g->hello_deadline && g->wsi) {
			log_warn("event=discord_no_hello");
			g->hello_deadline = now + GW_HELLO_TIMEOUT_MS;
			close_ours(g, GW_CLOSE_RESUME);
		}
		break;
	case GW_IDENTIFY_WAIT:
		if (now - g->last_identify >= g->cfg.identify_gap_ms)
			identify(g);
		break;
	default:
		break;
	}
	if ((g->state == GW_AUTH || g->state == GW_LIVE || g->state == GW_IDENTIFY_WAIT) &&
	    g->interval > 0 && now >= g->next_hb && !g->close_code_out) {
		if (g->beat_unacked) {
			/* No ACK since the last beat: a zombie.  Close and resume. */
			g->stats.zombies++;
			log_warn("event=discord_zombie action=\"reconnect and resume\"");
			g->beat_unacked = 0;
			close_ours(g, GW_CLOSE_RESUME);
		} else {
			heartbeat(g);
			g->next_hb = now + g->interval;
		}
	}
	if (g->wsi && g->out)
		lws_callback_on_writable(g->wsi);
}

void discord_gw_stats(const struct discord_gw *g, struct discord_gw_stats *out)
{
	*out = g->stats;
	out->seq = g->seq;
	str_copy(out->session_id, sizeof out->session_id, g->session_id);
}

void discord_gw_free(struct discord_gw *g)
{
	if (!g)
		return;
	if (g->wsi) {
		lws_set_opaque_user_data(g->wsi, NULL);
		/* Closing with 1000 ends the session: the bot goes offline. */
		lws_close_reason(g->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		lws_set_timeout(g->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	}
	clear_out(g);
	buf_free(&g->rx);
	free(g->token);
	free(g);
}
