/*
 * httpd.c: the route-table HTTP listener (and websocket endpoints) over one
 * libwebsockets vhost.  See httpd.h for the contract.
 *
 * One lws protocol handles both plain HTTP and websocket upgrades on the
 * vhost; per-connection data (struct pss) points at the current exchange or
 * websocket.  lws allocates the pss only once a request's headers are in,
 * so every callback must expect user == NULL (a port scan, a load
 * balancer's TCP check, garbage bytes).  Each accepted connection also gets
 * a struct conn (lws opaque user data), which the sweep timer uses to
 * enforce the header and body deadlines and which counts connections.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"
#include "wsq.h"

#define SWEEP_US (200 * 1000)

struct route {
	char method[16];
	char path[256];
	httpd_handler fn;
	void *arg;
	size_t max_body;
	httpd_handler early;
};

/* One accepted TCP connection (plain HTTP or websocket). */
struct conn {
	struct conn *prev, *next;
	struct lws *wsi;
	int64_t t0; /* accepted, monotonic ms */
	int ws;     /* upgraded: no HTTP deadlines */
	int killed; /* a deadline closed it; waiting for lws */
};

struct ws_route {
	char prefix[128];
	const struct httpd_ws_ops *ops;
	size_t max_msg;
	void *arg;
};

struct httpd {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct httpd_limits lim;
	struct conn *conns; /* list of open connections */
	size_t nconn;
	lws_sorted_usec_list_t sweep;
	unsigned long long busy_refused;
	size_t buffered; /* request body bytes held by all exchanges */
	int64_t busy_logged_ms;
	struct lws_protocols protocols[2];
	size_t max_body;
	int port;
	struct route routes[HTTPD_MAX_ROUTES];
	size_t nroutes;
	struct ws_route ws[4];
	size_t nws;
};

struct httpd_x {
	struct httpd *h;
	struct lws *wsi; /* NULL once the connection closed */
	struct httpd_req req;
	char method[16];
	char *path;
	char *query;
	char peer[64];
	struct buf body;
	const struct route *route; /* NULL: 404/405 */
	size_t max_body;
	int64_t t0; /* headers in, monotonic ms */
	int too_big;
	int chunked;    /* refused: lws 4.1 does not hand us chunked request bodies */
	int dispatched; /* the handler ran (or an early answer was given) */
	int held;
	int replied;
	/* the reply, waiting for WRITEABLE */
	int status;
	char ctype[96];
	unsigned char *out; /* LWS_PRE headroom + body */
	size_t out_len;
	char *extra; /* "Name: value\n"... */
};

struct httpd_ws {
	struct httpd *h;
	const struct ws_route *route;
	struct lws *wsi;
	struct buf in;
	struct wsq out; /* messages waiting for the socket */
	int closing;
	int close_code;
	char close_reason[124]; /* a close frame holds at most 123 bytes of reason */
	int peer_code;          /* the client's close code, 0 until it sends one */
	int dropped;
	long pongs;
	void *user;
};

struct pss {
	struct httpd_x *x;
	struct httpd_ws *ws;
};

static void x_free(struct httpd_x *x)
{
	if (!x)
		return;
	x->h->buffered -= x->body.len;
	free(x->path);
	free(x->query);
	buf_free(&x->body);
	free(x->out);
	free(x->extra);
	free(x);
}

static const struct route *route_find(struct httpd *h, const char *method, const char *path,
                                      int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < h->nroutes; i++) {
		const char *rp = h->routes[i].path;
		size_t n = strlen(rp);
		if (n && rp[n - 1] == '*') {
			if (strncmp(rp, path, n - 1) != 0)
				continue;
		} else if (strcmp(rp, path) != 0) {
			continue;
		}
		*path_known = 1;
		if (strcmp(h->routes[i].method, "*") == 0 ||
		    strcmp(h->routes[i].method, method) == 0)
			return &h->routes[i];
	}
	return NULL;
}

/*
 * Answers that need no body: unknown route, body too big or chunked, or the
 * route's early check.  1 when x was answered (its body is never read).
 */
static int x_early(struct httpd_x *x)
{
	int known;

	x->req.body = "";
	x->req.body_len = 0;
	x->route = route_find(x->h, x->method, x->path, &known);
	if (!x->route && (x->too_big || x->chunked)) {
		httpd_reply_str(x, x->too_big ? 413 : 411, "application/json",
		                x->too_big ? "{\"ok\":false,\"error\":\"request body too large\"}"
		                           : "{\"ok\":false,\"error\":\"send the body with a "
		                             "Content-Length\"}");
		return 1;
	}
	if (!x->route) {
		httpd_reply_str(x, known ? 405 : 404, "application/json",
		                known ? "{\"ok\":false,\"error\":\"method not allowed\"}"
		                      : "{\"ok\":false,\"error\":\"not found\"}");
		return 1;
	}
	if (x->route->early) { /* e.g. the token: refused before any limit is told */
		x->route->early(x, x->route->arg);
		if (x->replied || x->held)
			return 1;
	}
	if (x->too_big) {
		httpd_reply_str(x, 413, "application/json",
		                "{\"ok\":false,\"error\":\"request body too large\"}");
		return 1;
	}
	if (x->chunked) {
		httpd_reply_str(x, 411, "application/json",
		                "{\"ok\":false,\"error\":\"send the body with a Content-Length\"}");
		return 1;
	}
	return 0;
}

static void x_dispatch(struct httpd_x *x)
{
	const struct route *r = x->route;

	x->dispatched = 1;
	x->req.body = x->body.data ? x->body.data : "";
	x->req.body_len = x->body.len;
	if (x->too_big) {
		httpd_reply_str(x, 413, "application/json",
		                "{\"ok\":false,\"error\":\"request body too large\"}");
		return;
	}
	r->fn(x, r->arg);
	if (!x->replied && !x->held) {
		log_warn("event=http_no_reply method=%s path=%s", x->method, log_q(x->path));
		httpd_reply_str(x, 500, "application/json",
		                "{\"ok\":false,\"error\":\"handler gave no answer\"}");
	}
}

static const char *method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} m[] = {
	    {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
	    {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
	    {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
	    {WSI_TOKEN_HEAD_URI, "HEAD"},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (lws_hdr_total_length(wsi, m[i].tok) > 0)
			return m[i].name;
	return "?";
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes tok)
{
	int n = lws_hdr_total_length(wsi, tok);
	char *s;

	if (n <= 0)
		return xstrdup("");
	s = xmalloc((size_t)n + 1);
	if (lws_hdr_copy(wsi, s, n + 1, tok) < 0)
		s[0] = '\0';
	return s;
}

/* The query string: lws keeps each a=b as a fragment; join them with '&'. */
static char *query_dup(struct lws *wsi)
{
	struct buf q = {.max = 64 * 1024};
	char frag[4096];
	int n;

	for (int i = 0;
	     (n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i)) >= 0;
	     i++) {
		if (n == 0 && lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
			break;
		if ((q.len && buf_append(&q, "&", 1) < 0) || buf_append(&q, frag, (size_t)n) < 0)
			break;
	}
	return q.data ? q.data : xstrdup("");
}

/*
 * "Expect: 100-continue" (curl sends it before a body over 1 MiB): say 100 so
 * the client sends the body now instead of after its own one-second wait.
 * lws does not; nothing else has been written on this connection yet.
 */
static void x_continue(struct lws *wsi)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char v[32];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_EXPECT) <= 0 ||
	    lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_EXPECT) < 0 ||
	    strcasecmp(v, "100-continue") != 0)
		return;
	if (send(lws_get_socket_fd(wsi), cont, sizeof cont - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("event=http_continue_failed error=%s", log_q(strerror(errno)));
}

static int x_begin(struct httpd *h, struct lws *wsi, struct pss *pss, const char *in)
{
	struct httpd_x *x = xcalloc(1, sizeof *x);
	char cl[32];
	long long clen = -1;
	int known;

	x->h = h;
	x->wsi = wsi;
	x->t0 = time_mono_ms();
	str_copy(x->method, sizeof x->method, method_of(wsi));
	x->path = xstrdup(in && *in ? in : "/");
	x->query = query_dup(wsi);
	if (lws_get_peer_simple(wsi, x->peer, sizeof x->peer) == NULL)
		str_copy(x->peer, sizeof x->peer, "?");
	x->route = route_find(h, x->method, x->path, &known);
	x->max_body = x->route && x->route->max_body ? x->route->max_body : h->max_body;
	x->body.max = x->max_body + 1;
	x->req.method = x->method;
	x->req.path = x->path;
	x->req.query = x->query;
	x->req.peer = x->peer;
	pss->x = x;

	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
		char *end;
		errno = 0;
		clen = strtoll(cl, &end, 10);
		if (errno || *end || clen < 0)
			clen = -1;
	}
	if (clen > (long long)x->max_body)
		x->too_big = 1;
	if (clen < 0 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		x->chunked = 1;
	if (x_early(x)) {
		x->dispatched = 1;
		return 0;
	}
	int has_body = clen > 0;
	if (!has_body || strcmp(x->method, "GET") == 0 || strcmp(x->method, "HEAD") == 0)
		x_dispatch(x);
	else
		x_continue(wsi);
	return 0;
}

static int x_write(struct lws *wsi, struct httpd_x *x)
{
	unsigned char hdr[LWS_PRE + 2048];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;

	if (lws_add_http_common_headers(wsi, (unsigned int)x->status, x->ctype, x->out_len, &p,
	                                end))
		return -1;
	/* one request per connection: nothing pipelined behind it is read */
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
	                                 5, &p, end))
		return -1;
	for (char *line = x->extra; line && *line;) {
		char *nl = strchr(line, '\n');
		char *colon = strchr(line, ':');
		char name[96];
		size_t nlen;
		if (!nl)
			break;
		if (colon && colon < nl && (size_t)(colon - line) + 2 < sizeof name) {
			nlen = (size_t)(colon - line);
			for (size_t i = 0; i < nlen; i++)
				name[i] = (char)tolower((unsigned char)line[i]);
			name[nlen] = ':';
			name[nlen + 1] = '\0';
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
			                                (const unsigned char *)v, (int)(nl - v), &p,
			                                end))
				return -1;
		}
		line = nl + 1;
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (x->out_len && strcmp(x->method, "HEAD") != 0) {
		if (lws_write(wsi, x->out + LWS_PRE, x->out_len, LWS_WRITE_HTTP_FINAL) !=
		    (int)x->out_len)
			return -1;
	}
	return 0;
}

static struct ws_route *ws_route_find(struct httpd *h, const char *path)
{
	for (size_t i = 0; i < h->nws; i++)
		if (strncmp(path, h->ws[i].prefix, strlen(h->ws[i].prefix)) == 0)
			return &h->ws[i];
	return NULL;
}

static void ws_free(struct httpd_ws *c)
{
	wsq_clear(&c->out);
	buf_free(&c->in);
	free(c);
}

/*
 * A whole answer written straight to the socket, for connections lws has
 * not parsed a request on (deadline, too many connections).  Whatever the
 * client sent is read and dropped first, so the close is a FIN, not a RST
 * that could discard the answer in the client's buffer.
 */
static void raw_answer(int fd, int status, const char *reason, const char *json)
{
	char msg[512], junk[4096];
	int n =
	    snprintf(msg, sizeof msg,
	             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
	             status, reason, strlen(json), status == 503 ? "Retry-After: 1\r\n" : "", json);
	if (fd < 0 || n <= 0 || (size_t)n >= sizeof msg)
		return;
	for (int i = 0; i < 16 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++)
		;
	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return;
	shutdown(fd, SHUT_WR);
}

static void conn_add(struct httpd *h, struct lws *wsi)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->wsi = wsi;
	c->t0 = time_mono_ms();
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->nconn++;
	lws_set_opaque_user_data(wsi, c);
}

static void conn_del(struct httpd *h, struct lws *wsi)
{
	struct conn *c = lws_get_opaque_user_data(wsi);
	if (!c)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nconn--;
	free(c);
}

static void conn_kill(struct conn *c)
{
	c->killed = 1;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* Body deadline passed: 408, then close (the rest of the body is never read). */
static void x_timeout(struct httpd_x *x)
{
	log_info("event=http_body_timeout method=%s path=%s peer=%s", x->method, log_q(x->path),
	         x->peer);
	x->dispatched = 1;
	x->too_big = 1; /* nothing more is read */
	httpd_reply_str(x, 408, "application/json",
	                "{\"ok\":false,\"error\":\"the request body came too slowly\"}");
}

static void sweep(lws_sorted_usec_list_t *sul)
{
	struct httpd *h = lws_container_of(sul, struct httpd, sweep);
	int64_t now = time_mono_ms();

	for (struct conn *c = h->conns; c; c = c->next) {
		struct pss *pss = lws_wsi_user(c->wsi);
		if (c->ws || c->killed)
			continue;
		if (!pss || (!pss->x && !pss->ws)) {
			if (now - c->t0 > h->lim.header_timeout_ms) {
				log_info("event=http_header_timeout");
				raw_answer(
				    lws_get_socket_fd(c->wsi), 408, "Request Timeout",
				    "{\"ok\":false,\"error\":\"no complete request headers in "
				    "time\"}");
				conn_kill(c);
			}
			continue;
		}
		if (pss->x && !pss->x->dispatched && !pss->x->replied &&
		    now - pss->x->t0 > h->lim.body_timeout_ms)
			x_timeout(pss->x);
	}
	lws_sul_schedule(h->ctx, 0, &h->sweep, sweep, SWEEP_US);
}

/*
 * The lws callback, one function per event.  pss is NULL until a request's
 * headers are in; h is NULL for events outside our vhost.
 */

/* Before the connection exists (`in` is its socket): over max_conns, 503. */
static int on_new_socket(struct httpd *h, void *in)
{
	if (!h || h->nconn < h->lim.max_conns)
		return 0;
	int64_t now = time_mono_ms();
	h->busy_refused++;
	if (now - h->busy_logged_ms >= 1000) { /* one line a second at most */
		log_warn("event=http_busy conns=%zu refused=%llu", h->nconn, h->busy_refused);
		h->busy_logged_ms = now;
	}
	raw_answer((int)(intptr_t)in, 503, "Service Unavailable",
	           "{\"ok\":false,\"error\":\"too many connections; retry "
	           "shortly\"}");
	return 1;
}

/* Some request body bytes: buffer them, within the route's and the total cap. */
static int on_body(struct httpd *h, struct pss *pss, void *in, size_t len)
{
	struct httpd_x *x = pss ? pss->x : NULL;
	if (!x)
		return -1;
	if (x->dispatched || x->replied)
		return 0; /* answered early: the rest is dropped with the connection */
	if (h->buffered + len > h->lim.max_buffered) {
		/* all bodies together are bounded: refuse this one, keep the rest */
		log_warn("event=http_busy reason=\"request bodies over %zu bytes in total\"",
		         h->lim.max_buffered);
		x->dispatched = 1;
		x->too_big = 1;
		httpd_reply_str(x, 503, "application/json",
		                "{\"ok\":false,\"error\":\"too busy to take this body now; retry "
		                "shortly\"}");
		return 0;
	}
	if (!x->too_big && buf_append(&x->body, in, len) < 0)
		x->too_big = 1;
	else if (!x->too_big)
		h->buffered += len;
	if (x->body.len > x->max_body)
		x->too_big = 1;
	if (x->too_big) {
		x_dispatch(x); /* 413 now, not after the whole body */
		return 0;
	}
	if (time_mono_ms() - x->t0 > h->lim.body_timeout_ms)
		x_timeout(x);
	return 0;
}

/* The answer can go out: write it, then close (one request a connection). */
static int on_http_writeable(struct lws *wsi, struct pss *pss)
{
	struct httpd_x *x = pss ? pss->x : NULL;
	if (!x || !x->replied)
		return 0;
	x_write(wsi, x);
	pss->x = NULL;
	x_free(x);
	return -1;
}

/*
 * Without pss: closed before a request was parsed (a port scan, a TCP health
 * check, headers over lws's 4 KB, not HTTP at all); lws has already shut the
 * socket, nothing to answer or free.
 */
static int on_http_closed(struct pss *pss)
{
	if (pss && pss->x) {
		struct httpd_x *x = pss->x;
		pss->x = NULL;
		if (x->held && !x->replied)
			x->wsi = NULL; /* freed by the late httpd_reply() */
		else
			x_free(x);
	}
	return 0;
}

/* A websocket upgrade: a route's prefix must match and its open() accept. */
static int on_ws_upgrade(struct httpd *h, struct lws *wsi, struct pss *pss)
{
	if (!h || !pss)
		return -1;
	char *path = hdr_dup(wsi, WSI_TOKEN_GET_URI);
	char *query = query_dup(wsi);
	struct ws_route *r = ws_route_find(h, path);
	struct httpd_ws *c = NULL;
	int rc = -1;
	if (r) {
		c = xcalloc(1, sizeof *c);
		c->h = h;
		c->route = r;
		c->wsi = wsi;
		c->in.max = r->max_msg;
		rc = r->ops->open(c, path, query, r->arg);
	}
	free(path);
	free(query);
	if (rc < 0) {
		if (c)
			ws_free(c);
		return -1;
	}
	pss->ws = c;
	if (lws_get_opaque_user_data(wsi))
		((struct conn *)lws_get_opaque_user_data(wsi))->ws = 1;
	return 0;
}

/* A websocket fragment: join them; a whole message goes to the route. */
static int on_ws_receive(struct lws *wsi, struct pss *pss, void *in, size_t len)
{
	struct httpd_ws *c = pss ? pss->ws : NULL;
	if (!c)
		return -1;
	if (buf_append(&c->in, in, len) < 0) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
		return -1;
	}
	if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
		c->route->ops->message(c, c->in.data ? c->in.data : "", c->in.len, c->route->arg);
		buf_reset(&c->in);
	}
	return 0;
}

/* One queued message (or ping) out; then the close, once the queue is empty. */
static int on_ws_writeable(struct lws *wsi, struct pss *pss)
{
	struct httpd_ws *c = pss ? pss->ws : NULL;
	if (!c || c->dropped)
		return -1;
	int wrote = wsq_write_next(&c->out, wsi, c->closing);
	if (wrote)
		return wrote < 0 ? -1 : 0;
	if (c->closing) {
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
		                 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	return 0;
}

static int on_ws_closed(struct pss *pss)
{
	if (pss && pss->ws) {
		struct httpd_ws *c = pss->ws;
		pss->ws = NULL;
		c->wsi = NULL;
		c->route->ops->closed(c, c->route->arg);
		ws_free(c);
	}
	return 0;
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *pss = user;
	const struct lws_protocols *proto = lws_get_protocol(wsi);
	struct httpd *h = proto ? proto->user : NULL;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return on_new_socket(h, in);
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		if (h)
			conn_add(h, wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (h)
			conn_del(h, wsi);
		return 0;
	/* plain HTTP */
	case LWS_CALLBACK_HTTP:
		if (!h || !pss)
			return -1;
		return x_begin(h, wsi, pss, in);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(h, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss && pss->x && !pss->x->dispatched && !pss->x->replied && !pss->x->held)
			x_dispatch(pss->x);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_http_writeable(wsi, pss);
	case LWS_CALLBACK_CLOSED_HTTP:
		return on_http_closed(pss);
	/* websockets */
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_ws_upgrade(h, wsi, pss);
	case LWS_CALLBACK_ESTABLISHED:
		if (pss && pss->ws && (pss->ws->out.n || pss->ws->closing || pss->ws->dropped))
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return on_ws_receive(wsi, pss, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* the payload of the client's close frame: a 2-byte code, then text */
		if (pss && pss->ws && len >= 2) {
			const unsigned char *b = in;
			pss->ws->peer_code = (b[0] << 8) | b[1];
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (pss && pss->ws)
			pss->ws->pongs++;
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_ws_writeable(wsi, pss);
	case LWS_CALLBACK_CLOSED:
		return on_ws_closed(pss);
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int httpd_open(struct httpd **out, struct lws_context *ctx, const char *listen, size_t max_body,
               const char *port_file, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct httpd *h;
	char host[256];
	const char *colon = strrchr(listen, ':');
	long port;
	char *end;

	if (!colon || (size_t)(colon - listen) >= sizeof host) {
		snprintf(err, errlen, "listen address '%s' must be host:port", listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 0 || port > 65535) {
		snprintf(err, errlen, "listen port in '%s' must be 0..65535", listen);
		return -1;
	}

	h = xcalloc(1, sizeof *h);
	h->ctx = ctx;
	h->max_body = max_body;
	h->lim.max_conns = 256;
	h->lim.header_timeout_ms = 10000;
	h->lim.body_timeout_ms = 30000;
	h->lim.max_buffered = 96u << 20;
	h->protocols[0].name = "http";
	h->protocols[0].callback = cb;
	h->protocols[0].per_session_data_size = sizeof(struct pss);
	h->protocols[0].rx_buffer_size = 0;
	h->protocols[0].user = h;

	memset(&info, 0, sizeof info);
	info.port = (int)port;
	info.iface = host[0] ? host : NULL;
	info.protocols = h->protocols;
	info.vhost_name = "httpd";
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	/* our sweep answers slow headers with 408 first; this is the backstop */
	info.timeout_secs_ah_idle = 120;
	info.timeout_secs = 120;
	h->vh = lws_create_vhost(ctx, &info);
	if (!h->vh) {
		snprintf(err, errlen, "cannot listen on %s", listen);
		free(h);
		return -1;
	}
	h->port = lws_get_vhost_listen_port(h->vh);
	if (port_file && *port_file && write_port_file(port_file, h->port) < 0) {
		snprintf(err, errlen, "cannot write port file %s: %s", port_file, strerror(errno));
		lws_vhost_destroy(h->vh);
		free(h);
		return -1;
	}
	lws_sul_schedule(ctx, 0, &h->sweep, sweep, SWEEP_US);
	log_info("event=http_listen addr=%s port=%d", host, h->port);
	*out = h;
	return 0;
}

void httpd_close(struct httpd *h)
{
	if (!h)
		return;
	/* the vhost goes with the context; nothing here may outlive it */
	free(h);
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_set_limits(struct httpd *h, const struct httpd_limits *l)
{
	if (l->max_conns)
		h->lim.max_conns = l->max_conns;
	if (l->header_timeout_ms > 0)
		h->lim.header_timeout_ms = l->header_timeout_ms;
	if (l->body_timeout_ms > 0)
		h->lim.body_timeout_ms = l->body_timeout_ms;
	if (l->max_buffered)
		h->lim.max_buffered = l->max_buffered;
}

int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler fn, void *arg)
{
	return httpd_route_opts(h, method, path, fn, arg, NULL);
}

int httpd_route_opts(struct httpd *h, const char *method, const char *path, httpd_handler fn,
                     void *arg, const struct httpd_route_opts *o)
{
	struct route *r;

	if (h->nroutes >= HTTPD_MAX_ROUTES)
		return -1;
	r = &h->routes[h->nroutes];
	if (str_copy(r->method, sizeof r->method, method) < 0 ||
	    str_copy(r->path, sizeof r->path, path) < 0)
		return -1;
	r->fn = fn;
	r->arg = arg;
	r->max_body = o ? o->max_body : 0;
	r->early = o ? o->early : NULL;
	h->nroutes++;
	return 0;
}

const struct httpd_req *httpd_request(const struct httpd_x *x)
{
	return &x->req;
}

int httpd_query_get(const char *query, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p;) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "&");
			if (outlen == 0)
				return 0;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return -1;
}

int httpd_header(const struct httpd_x *x, const char *name, char *val, size_t vallen)
{
	char lname[128];
	size_t n = strlen(name);
	int len;

	if (!x->wsi || n + 2 > sizeof lname || vallen == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	lname[n] = ':';
	lname[n + 1] = '\0';
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
		if (!s || strcmp((const char *)s, lname) != 0)
			continue;
		len = lws_hdr_total_length(x->wsi, (enum lws_token_indexes)t);
		if (len <= 0 || (size_t)len >= vallen)
			return -1;
		return lws_hdr_copy(x->wsi, val, (int)vallen, (enum lws_token_indexes)t) < 0 ? -1
		                                                                             : 0;
	}
	len = lws_hdr_custom_length(x->wsi, lname, (int)(n + 1));
	if (len < 0 || (size_t)len >= vallen)
		return -1;
	return lws_hdr_custom_copy(x->wsi, val, (int)vallen, lname, (int)(n + 1)) < 0 ? -1 : 0;
}

int httpd_secret_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	/* compare over the longer length, so the time says nothing about where
	 * the first difference is; a length mismatch fails after the same work */
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;
	const unsigned char *pa = a, *pb = b;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)((i < alen ? pa[i] : 0) ^ (i < blen ? pb[i] : 0));
	return diff == 0;
}

int httpd_bearer_ok(const struct httpd_x *x, const char *token)
{
	char have[1024], want[1024];
	int n, wn;

	if (!x->wsi || !token || !*token)
		return 0;
	wn = snprintf(want, sizeof want, "Bearer %s", token);
	if (wn <= 0 || (size_t)wn >= sizeof want)
		return 0;
	n = lws_hdr_total_length(x->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0 || (size_t)n >= sizeof have)
		return 0;
	/* lws_hdr_copy copies n bytes (NULs too); compare all of them */
	if (lws_hdr_copy(x->wsi, have, (int)sizeof have, WSI_TOKEN_HTTP_AUTHORIZATION) != n)
		return 0;
	return httpd_secret_eq(have, (size_t)n, want, (size_t)wn);
}

void httpd_hold(struct httpd_x *x)
{
	x->held = 1;
}

void httpd_reply(struct httpd_x *x, int status, const char *content_type, const char *body,
                 size_t body_len, const char *const *extra_headers)
{
	struct buf extra = {.max = 4096};

	LOG_ASSERT(!x->replied);
	if (!x->wsi) { /* the client went away while we worked */
		x_free(x);
		return;
	}
	x->replied = 1;
	x->status = status;
	str_copy(x->ctype, sizeof x->ctype, content_type ? content_type : "text/plain");
	x->out = xmalloc(LWS_PRE + body_len + 1);
	if (body_len)
		memcpy(x->out + LWS_PRE, body, body_len);
	x->out_len = body_len;
	for (size_t i = 0; extra_headers && extra_headers[i]; i++)
		buf_appendf(&extra, "%s\n", extra_headers[i]);
	x->extra = extra.data; /* owned by x now */
	lws_callback_on_writable(x->wsi);
}

void httpd_reply_str(struct httpd_x *x, int status, const char *content_type, const char *body)
{
	httpd_reply(x, status, content_type, body, strlen(body), NULL);
}

int httpd_websocket(struct httpd *h, const char *prefix, const struct httpd_ws_ops *ops,
                    size_t max_msg, void *arg)
{
	struct ws_route *r;

	if (h->nws >= sizeof h->ws / sizeof h->ws[0])
		return -1;
	r = &h->ws[h->nws];
	if (str_copy(r->prefix, sizeof r->prefix, prefix) < 0)
		return -1;
	r->ops = ops;
	r->max_msg = max_msg;
	r->arg = arg;
	h->nws++;
	return 0;
}

static int ws_queue(struct httpd_ws *c, const char *data, size_t len, int ping)
{
	if (!c->wsi || c->closing || c->dropped)
		return -1;
	wsq_push(&c->out, data, len, ping);
	lws_callback_on_writable(c->wsi);
	return 0;
}

int httpd_ws_send(struct httpd_ws *c, const char *data, size_t len)
{
	return ws_queue(c, data, len, 0);
}

int httpd_ws_ping(struct httpd_ws *c)
{
	return ws_queue(c, "ping", 4, 1); /* lws does not answer an empty ping */
}

long httpd_ws_pongs(const struct httpd_ws *c)
{
	return c->pongs;
}

void httpd_ws_close(struct httpd_ws *c, int code)
{
	httpd_ws_close_reason(c, code, NULL);
}

void httpd_ws_close_reason(struct httpd_ws *c, int code, const char *reason)
{
	if (!c->wsi || c->closing)
		return;
	c->closing = 1;
	c->close_code = code ? code : 1000;
	str_copy(c->close_reason, sizeof c->close_reason, reason ? reason : "");
	lws_callback_on_writable(c->wsi);
}

size_t httpd_ws_backlog(const struct httpd_ws *c)
{
	return c->out.n;
}

int httpd_ws_peer_code(const struct httpd_ws *c)
{
	return c->peer_code;
}

void httpd_ws_drop(struct httpd_ws *c)
{
	if (!c->wsi)
		return;
	c->dropped = 1;
	/* cut the TCP stream now, so lws's own close cannot send a close frame */
	shutdown(lws_get_socket_fd(c->wsi), SHUT_RDWR);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void httpd_ws_set_user(struct httpd_ws *c, void *user)
{
	c->user = user;
}

void *httpd_ws_user(const struct httpd_ws *c)
{
	return c->user;
}
