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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "dgw.h"
#include "drest.h"
#include "dstate.h"
#include "log.h"
#include "mem.h"

#define WS_RX_MAX (64 * 1024)

struct pss {
	int is_ws;
	/* HTTP */
	char method[8];
	char path[512];
	char query[512];
	char auth[256];
	char ua[160];
	char ctype[96];
	struct buf body;
	struct drest_resp resp;
	int body_too_big;
	/* websocket */
	struct dconn *conn;
	struct buf rx;
	int client_code;
};

static struct dstate g_st;
static struct lws_context *g_ctx;
static volatile sig_atomic_t g_stop;
static lws_sorted_usec_list_t g_sul;

static void wake(struct dconn *c)
{
	if (c->wsi)
		lws_callback_on_writable((struct lws *)c->wsi);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	dgw_tick(&g_st);
	lws_sul_schedule(g_ctx, 0, sul, tick, 50 * LWS_US_PER_MS);
}

static void copy_hdr(struct lws *wsi, enum lws_token_indexes t, char *out, size_t len)
{
	out[0] = 0;
	if (lws_hdr_total_length(wsi, t) > 0 && lws_hdr_copy(wsi, out, (int)len, t) < 0)
		out[0] = 0;
}

static void copy_query(struct lws *wsi, char *out, size_t len)
{
	out[0] = 0;
	size_t used = 0;
	char frag[256];
	for (int i = 0; i < 16; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		int w = snprintf(out + used, len - used, "%s%s", used ? "&" : "", frag);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static int respond(struct lws *wsi, struct pss *p)
{
	struct drest_req req = {
	    .method = p->method,
	    .path = p->path,
	    .query = p->query,
	    .authorization = p->auth[0] ? p->auth : NULL,
	    .user_agent = p->ua[0] ? p->ua : NULL,
	    .content_type = p->ctype[0] ? p->ctype : NULL,
	    .body = p->body.data ? p->body.data : "",
	    .body_len = p->body.len,
	};
	memset(&p->resp, 0, sizeof p->resp);
	if (p->body_too_big) {
		p->resp.status = 413;
		p->resp.content_type = "application/json";
		buf_appendf(&p->resp.body,
		            "{\"message\":\"Request entity too large\",\"code\":40005}");
	} else {
		drest_handle(&g_st, &req, &p->resp);
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_response(struct lws *wsi, struct pss *p)
{
	unsigned char hdr[LWS_PRE + 2048];
	unsigned char *start = hdr + LWS_PRE, *q = start, *end = hdr + sizeof hdr - 1;
	struct drest_resp *r = &p->resp;
	size_t blen = r->body.len;
	if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->content_type,
	                                (lws_filepos_t)blen, &q, end))
		return -1;
	for (int i = 0; i < r->nheaders; i++) {
		char name[48];
		snprintf(name, sizeof name, "%s:", r->hname[i]);
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
		                                (const unsigned char *)r->hval[i],
		                                (int)strlen(r->hval[i]), &q, end))
			return -1;
	}
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	if (blen) {
		unsigned char *out = xmalloc(LWS_PRE + blen);
		memcpy(out + LWS_PRE, r->body.data, blen);
		int n = lws_write(wsi, out + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL);
		free(out);
		if (n < 0)
			return -1;
	}
	buf_free(&r->body);
	buf_free(&p->body);
	p->resp.status = 0;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int ws_writable(struct lws *wsi, struct pss *p)
{
	struct dconn *c = p->conn;
	if (!c)
		return -1;
	if (c->drop) {
		/* A bare TCP drop: no close frame, as when a network path dies. */
		shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
		return -1;
	}
	struct dframe *f = dstate_conn_pop(c);
	if (f) {
		unsigned char *out = xmalloc(LWS_PRE + f->len);
		memcpy(out + LWS_PRE, f->text, f->len);
		int n = lws_write(wsi, out + LWS_PRE, f->len, LWS_WRITE_TEXT);
		free(out);
		free(f->text);
		free(f);
		if (n < 0)
			return -1;
		if (c->out || c->close_code)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_code) {
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
		                 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		memset(p, 0, sizeof *p);
		p->body.max = DREST_MAX_BODY;
		static const struct {
			enum lws_token_indexes t;
			const char *m;
		} methods[] = {{WSI_TOKEN_GET_URI, "GET"},
		               {WSI_TOKEN_POST_URI, "POST"},
		               {WSI_TOKEN_PUT_URI, "PUT"},
		               {WSI_TOKEN_PATCH_URI, "PATCH"},
		               {WSI_TOKEN_DELETE_URI, "DELETE"}};
		for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
			if (lws_hdr_total_length(wsi, methods[i].t) > 0)
				str_copy(p->method, sizeof p->method, methods[i].m);
		if (!p->method[0])
			return -1;
		str_copy(p->path, sizeof p->path, (const char *)in);
		copy_query(wsi, p->query, sizeof p->query);
		copy_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, p->auth, sizeof p->auth);
		copy_hdr(wsi, WSI_TOKEN_HTTP_USER_AGENT, p->ua, sizeof p->ua);
		copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, p->ctype, sizeof p->ctype);
		char cl[32] = "";
		copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
		if (cl[0] && strtol(cl, NULL, 10) > 0)
			return 0; /* the body follows */
		return respond(wsi, p);
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (buf_append(&p->body, in, len) < 0)
			p->body_too_big = 1;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return respond(wsi, p);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!p || !p->resp.status)
			return 0;
		return write_response(wsi, p);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (p) {
			buf_free(&p->body);
			buf_free(&p->resp.body);
		}
		return 0;

	case LWS_CALLBACK_ESTABLISHED: {
		memset(p, 0, sizeof *p);
		p->is_ws = 1;
		p->rx.max = WS_RX_MAX;
		char query[512];
		copy_query(wsi, query, sizeof query);
		p->conn = dgw_open(&g_st, query);
		p->conn->wsi = wsi;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		if (!p->conn)
			return -1;
		if (buf_append(&p->rx, in, len) < 0) {
			dstate_conn_close(&g_st, p->conn, 4002, "Error while decoding payload.");
			buf_reset(&p->rx);
			return 0;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			dgw_on_text(&g_st, p->conn, p->rx.data, p->rx.len);
			buf_reset(&p->rx);
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_writable(wsi, p);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *b = in;
			p->client_code = (b[0] << 8) | b[1];
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (p->conn) {
			log_info("event=gateway_closed client_code=%d server_code=%d",
			         p->client_code, p->conn->close_code);
			dgw_closed(&g_st, p->conn, p->client_code);
			dgw_conn_free(&g_st, p->conn);
			p->conn = NULL;
		}
		buf_free(&p->rx);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"discord", callback, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

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
	info.port = listen_port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.pt_serv_buf_size = 64 * 1024;
	g_ctx = lws_create_context(&info);
	if (!g_ctx) {
		log_error("event=start_failed reason=\"lws context\"");
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(g_ctx, "default");
	int port = vh ? lws_get_vhost_listen_port(vh) : -1;
	if (port <= 0) {
		log_error("event=start_failed reason=\"no listen port\"");
		lws_context_destroy(g_ctx);
		return 1;
	}
	snprintf(g_st.base_ws, sizeof g_st.base_ws, "ws://127.0.0.1:%d", port);
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
		log_error("event=start_failed reason=\"cannot write port file\" file=%s",
		          log_q(port_file));
		lws_context_destroy(g_ctx);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("event=listening port=%d heartbeat_ms=%d", port, cfg.heartbeat_ms);
	lws_sul_schedule(g_ctx, 0, &g_sul, tick, 50 * LWS_US_PER_MS);
	while (!g_stop)
		if (lws_service(g_ctx, 0) < 0)
			break;
	lws_context_destroy(g_ctx);
	dstate_free(&g_st);
	log_info("event=stopped");
	return 0;
}
