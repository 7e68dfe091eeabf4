/*
 * NAME
 *   fake-discord - a local Discord stand-in for opsbot's tests and demo
 *
 * SYNOPSIS
 *   fake-discord --port-file FILE [--port N] [--token T] [--heartbeat-ms N]
 *                [--bucket-limit N] [--bucket-window-ms N] [--global-limit N]
 *                [--deadline-ms N] [--identify-gap-ms N] [--privileged MASK]
 *                [--app-id ID] [--guild-id ID]
 *
 * DESCRIPTION
 *   Listens on 127.0.0.1 on a port the kernel picks (or --port) and writes
 *   it to FILE.
 *   Speaks Discord's REST API under /api/v10 and the Gateway (v10, JSON) as
 *   a websocket on /gateway and /gateway-resume, as documented and as real
 *   captures show (Discord's API documentation); a control API under
 *   /_fake/ lets tests play users (slash commands, button clicks), read
 *   channels and threads, and make the service misbehave (reconnect, invalid
 *   session, dropped socket, 429s).  See drest.c for the routes.
 *   HTTP and websockets are lib/httpd's (as opsbot-bot's and fake-slack's);
 *   this file only moves requests to drest_handle() and frames to dgw.c.
 *
 * TRUST
 *   Test-only.  Binds loopback only.  Accepts one bot token (--token, or
 *   DISCORD_BOT_TOKEN from the environment, else "fake-bot-token").  Every
 *   request body is bounded (8 MiB), every Gateway payload 4096 bytes.
 *
 * DIAGNOSTICS
 *   key=value lines on stderr (OPSBOT_LOG_LEVEL).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "dgw.h"
#include "drest.h"
#include "dstate.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"

/* A Gateway message over this closes with 4002, as Discord does. */
#define WS_RX_MAX (64 * 1024)
/* What lib/httpd accepts at all; beyond it closes with 1009. */
#define WS_MSG_CAP (1024 * 1024)

static struct dstate g_st;
static struct lws_context *g_ctx;
static struct httpd *g_httpd;
static volatile sig_atomic_t g_stop;
static lws_sorted_usec_list_t g_sul;

/*
 * dstate queues frames and closes on the connection; move them to the
 * websocket.  A client that does not read is cut off once DSTATE_OUT_MAX
 * frames wait, as a real server would.
 */
static void wake(struct dconn *c)
{
	struct httpd_ws *ws = c->wsi;
	struct dframe *f;

	if (!ws)
		return;
	if (c->drop) { /* a bare TCP drop: no close frame, as when a network path dies */
		httpd_ws_drop(ws);
		return;
	}
	while ((f = dstate_conn_pop(c))) {
		httpd_ws_send(ws, f->text, f->len);
		free(f->text);
		free(f);
	}
	if (!c->close_code && httpd_ws_backlog(ws) > DSTATE_OUT_MAX)
		dstate_conn_close(&g_st, c, 4000, "Unknown error.");
	else if (c->close_code)
		httpd_ws_close_reason(ws, c->close_code, c->close_reason);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	dgw_tick(&g_st);
	lws_sul_schedule(g_ctx, 0, sul, tick, 50 * LWS_US_PER_MS);
}

/* ---- the Gateway: every websocket upgrade, whatever its path ---------- */

static int gw_open(struct httpd_ws *ws, const char *path, const char *query, void *arg)
{
	(void)path;
	(void)arg;
	struct dconn *c = dgw_open(&g_st, query);
	c->wsi = ws;
	httpd_ws_set_user(ws, c);
	wake(c); /* Hello, or the close dgw_open decided on */
	return 0;
}

static void gw_message(struct httpd_ws *ws, const char *data, size_t len, void *arg)
{
	(void)arg;
	struct dconn *c = httpd_ws_user(ws);
	if (len > WS_RX_MAX)
		dstate_conn_close(&g_st, c, 4002, "Error while decoding payload.");
	else
		dgw_on_text(&g_st, c, data, len);
}

static void gw_closed(struct httpd_ws *ws, void *arg)
{
	(void)arg;
	struct dconn *c = httpd_ws_user(ws);
	int client_code = httpd_ws_peer_code(ws);
	log_info("event=gateway_closed client_code=%d server_code=%d", client_code, c->close_code);
	c->wsi = NULL;
	dgw_closed(&g_st, c, client_code);
	dgw_conn_free(&g_st, c);
}

static const struct httpd_ws_ops gw_ops = {gw_open, gw_message, gw_closed};

/* ---- REST and control: every HTTP request goes to drest_handle -------- */

static const char *hdr(struct httpd_x *x, const char *name, char *val, size_t len)
{
	return httpd_header(x, name, val, len) == 0 ? val : NULL;
}

/* Over 25 MiB: Discord's 413, answered before the body is read. */
static void rest_early(struct httpd_x *x, void *arg)
{
	(void)arg;
	char cl[32];
	if (hdr(x, "Content-Length", cl, sizeof cl) && strtoll(cl, NULL, 10) > DREST_MAX_BODY)
		httpd_reply_str(x, 413, "application/json",
		                "{\"message\":\"Request entity too large\",\"code\":40005}");
}

static void rest(struct httpd_x *x, void *arg)
{
	(void)arg;
	const struct httpd_req *r = httpd_request(x);
	char auth[256], ua[160], ctype[256];
	struct drest_req req = {
	    .method = r->method,
	    .path = r->path,
	    .query = r->query,
	    .authorization = hdr(x, "Authorization", auth, sizeof auth),
	    .user_agent = hdr(x, "User-Agent", ua, sizeof ua),
	    .content_type = hdr(x, "Content-Type", ctype, sizeof ctype),
	    .body = r->body,
	    .body_len = r->body_len,
	};
	struct drest_resp resp;
	char lines[DREST_MAX_HEADERS][120];
	const char *extra[DREST_MAX_HEADERS + 1];

	memset(&resp, 0, sizeof resp);
	drest_handle(&g_st, &req, &resp);
	if (resp.status == 0) {
		/* a stalled post (/_fake/stall): stored, never answered; the
		 * exchange lives until the client goes away (or the fake exits) */
		httpd_hold(x);
		buf_free(&resp.body);
		return;
	}
	for (int i = 0; i < resp.nheaders; i++) {
		snprintf(lines[i], sizeof lines[i], "%s: %s", resp.hname[i], resp.hval[i]);
		extra[i] = lines[i];
	}
	extra[resp.nheaders] = NULL;
	httpd_reply(x, resp.status, resp.content_type, resp.body.data ? resp.body.data : "",
	            resp.body.len, extra);
	buf_free(&resp.body);
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_ctx)
		lws_cancel_service(g_ctx);
}

static int arg_int(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || *end || v < 0 || v > 1000000000)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	log_init("fake-discord");
	struct dconfig cfg = {
	    .heartbeat_ms = 41250,
	    .interaction_deadline_ms = 3000,
	    .bucket_limit = 1000,
	    .bucket_window_ms = 1000,
	    .global_limit = 10000,
	    .privileged = 0,
	    .identify_gap_ms = 0,
	};
	const char *env_tok = getenv("DISCORD_BOT_TOKEN");
	str_copy(cfg.token, sizeof cfg.token, env_tok && *env_tok ? env_tok : "fake-bot-token");
	str_copy(cfg.app_id, sizeof cfg.app_id, "1380486651436073092");
	str_copy(cfg.guild_id, sizeof cfg.guild_id, "1380488052169769110");
	const char *port_file = NULL;
	int listen_port = 0;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (!v) {
			bad = 1;
		} else if (strcmp(a, "--port-file") == 0) {
			port_file = v;
		} else if (strcmp(a, "--port") == 0) {
			bad = arg_int(v, &listen_port) < 0 || listen_port > 65535;
		} else if (strcmp(a, "--token") == 0) {
			str_copy(cfg.token, sizeof cfg.token, v);
		} else if (strcmp(a, "--app-id") == 0) {
			str_copy(cfg.app_id, sizeof cfg.app_id, v);
		} else if (strcmp(a, "--guild-id") == 0) {
			str_copy(cfg.guild_id, sizeof cfg.guild_id, v);
		} else if (strcmp(a, "--heartbeat-ms") == 0) {
			bad = arg_int(v, &cfg.heartbeat_ms) < 0 || cfg.heartbeat_ms < 50;
		} else if (strcmp(a, "--deadline-ms") == 0) {
			bad = arg_int(v, &cfg.interaction_deadline_ms) < 0;
		} else if (strcmp(a, "--bucket-limit") == 0) {
			bad = arg_int(v, &cfg.bucket_limit) < 0 || cfg.bucket_limit < 1;
		} else if (strcmp(a, "--bucket-window-ms") == 0) {
			bad = arg_int(v, &cfg.bucket_window_ms) < 0 || cfg.bucket_window_ms < 1;
		} else if (strcmp(a, "--global-limit") == 0) {
			bad = arg_int(v, &cfg.global_limit) < 0 || cfg.global_limit < 1;
		} else if (strcmp(a, "--identify-gap-ms") == 0) {
			bad = arg_int(v, &cfg.identify_gap_ms) < 0;
		} else if (strcmp(a, "--privileged") == 0) {
			int m;
			bad = arg_int(v, &m) < 0;
			cfg.privileged = (unsigned)m;
		} else {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr,
			        "fake-discord: bad argument %s (see the header of main.c)\n", a);
			return 2;
		}
	}
	if (!port_file) {
		fprintf(stderr, "fake-discord: --port-file is required\n");
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	dstate_init(&g_st, &cfg);
	g_st.wake = wake;

	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.pt_serv_buf_size = 64 * 1024;
	g_ctx = lws_create_context(&info);
	if (!g_ctx) {
		log_error("event=start_failed reason=\"lws context\"");
		return 1;
	}
	char listen[64], err[256];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", listen_port);
	/* the port file is written here; nothing is served before the loop */
	if (httpd_open(&g_httpd, g_ctx, listen, DREST_MAX_BODY, port_file, err, sizeof err) < 0) {
		log_error("event=start_failed reason=%s", log_q(err));
		lws_context_destroy(g_ctx);
		return 1;
	}
	int port = httpd_port(g_httpd);
	snprintf(g_st.base_ws, sizeof g_st.base_ws, "ws://127.0.0.1:%d", port);
	struct httpd_route_opts ro = {.max_body = DREST_MAX_BODY, .early = rest_early};
	httpd_route_opts(g_httpd, "*", "/*", rest, NULL, &ro);
	httpd_websocket(g_httpd, "/", &gw_ops, WS_MSG_CAP, NULL);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("event=listening port=%d heartbeat_ms=%d", port, cfg.heartbeat_ms);
	lws_sul_schedule(g_ctx, 0, &g_sul, tick, 50 * LWS_US_PER_MS);
	while (!g_stop)
		if (lws_service(g_ctx, 0) < 0)
			break;
	lws_context_destroy(g_ctx);
	httpd_close(g_httpd);
	dstate_free(&g_st);
	log_info("event=stopped");
	return 0;
}
