/*
 * httpd.h: a small HTTP (and optional websocket) listener on a
 * libwebsockets vhost, with a route table.
 *
 * opsbot-bot listens here for alert webhooks, /healthz, /metrics, Slack HTTP
 * mode and Discord HTTP interactions; the three stand-ins (tests/fakes) serve
 * their APIs, Slack's Socket Mode and Discord's Gateway through the same code.
 *
 * A request is routed by exact method and path as soon as its headers are
 * in.  An unknown path (404), a wrong method (405), a body over the route's
 * cap (413) or a route's `early` check (e.g. a bearer token, 401) is answered
 * before any body byte is read.  Otherwise the body is read whole and the
 * handler runs; it answers with httpd_reply() at once, or calls httpd_hold()
 * and answers later from the loop thread (e.g. after a queue call); if the
 * client went away meanwhile, the late httpd_reply() only frees the exchange.
 *
 * Hostile clients: each answer carries "Connection: close" and the
 * connection closes after it (no keep-alive, so no pipelining to get wrong).
 * Headers must arrive within header_timeout (408), a body within
 * body_timeout of its headers (408); beyond max_conns open connections a new
 * one gets a canned 503 and is closed, and a body that would take all
 * buffered bodies over max_buffered gets 503.  A connection that closes
 * before its request is parsed costs nothing.
 *
 * Invariants:
 *  1. Every exchange is answered exactly once (httpd_reply), or freed when
 *     its connection closes and nobody holds it.
 *  2. Every connection ends with an answer (2xx..5xx) or a 408/503, except
 *     one that sends bytes lws cannot parse as HTTP (closed at once).
 *  3. All calls happen on the lws service thread.
 *
 * Ownership: the httpd owns its routes and exchanges; request strings live
 * until httpd_reply().  httpd_close() frees the listener (the lws context is
 * the caller's).
 */
#ifndef OPSBOT_HTTPD_H
#define OPSBOT_HTTPD_H

#include <stddef.h>

struct lws_context;
struct httpd;
struct httpd_x; /* one exchange: a request and, later, its reply */

struct httpd_req {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* "/hooks/generic" */
	const char *query;  /* "a=1&b=2" (already percent-decoded by lws), or "" */
	const char *body;   /* NUL-terminated; body_len bytes */
	size_t body_len;
	const char *peer; /* client address */
};

/*
 * A route handler: read x's request with httpd_request(), answer with
 * httpd_reply() (now, or later after httpd_hold()).
 */
typedef void (*httpd_handler)(struct httpd_x *x, void *arg);

#define HTTPD_MAX_ROUTES 64

/* Limits of one listener; httpd_open() sets these defaults. */
struct httpd_limits {
	size_t max_conns;      /* open connections; beyond: 503 (default 256) */
	int header_timeout_ms; /* accept -> headers complete (default 10 s) */
	int body_timeout_ms;   /* headers -> body complete (default 30 s) */
	size_t max_buffered;   /* request body bytes held at once, all requests
	                          together; beyond: 503 (default 96 MiB) */
};
void httpd_set_limits(struct httpd *h, const struct httpd_limits *l);

/* Per-route options (httpd_route_opts); zeroes mean "the listener's". */
struct httpd_route_opts {
	size_t max_body; /* 413 beyond; 0: the listener's max_body */
	/*
	 * Called once the headers are in, before the body is read.  It may
	 * answer (e.g. 401 after httpd_bearer_ok() failed); then the handler
	 * never runs and the body is never read.  Not answering lets the
	 * request go on.
	 */
	httpd_handler early;
};

/*
 * Listen on "host:port" (port 0: the kernel picks; then the port is written
 * to port_file when port_file is not NULL).  0, or -1 with err.
 */
int httpd_open(struct httpd **out, struct lws_context *ctx, const char *listen, size_t max_body,
               const char *port_file, char *err, size_t errlen);
void httpd_close(struct httpd *h);
int httpd_port(const struct httpd *h);

/*
 * Route method+path (exact match, or a prefix when path ends with '*';
 * method "*" matches any; the first route added wins).  -1 when full.
 */
int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler fn, void *arg);
int httpd_route_opts(struct httpd *h, const char *method, const char *path, httpd_handler fn,
                     void *arg, const struct httpd_route_opts *o);

const struct httpd_req *httpd_request(const struct httpd_x *x);
/*
 * A request header by case-insensitive name ("X-Slack-Signature"), copied
 * into val.  0, or -1 when absent or longer than vallen-1.
 */
int httpd_header(const struct httpd_x *x, const char *name, char *val, size_t vallen);
/*
 * The value of key in a query string ("a=1&b=2"; NULL counts as "") into
 * out, cut to outlen-1 bytes.  0, or -1 when key is absent (out untouched).
 */
int httpd_query_get(const char *query, const char *key, char *out, size_t outlen);

/*
 * 1 when the request carries "Authorization: Bearer <token>" exactly: the
 * whole header value (every byte lws received, NULs included) is compared
 * in constant time with "Bearer " + token.  0 otherwise (also for an empty
 * token).
 */
int httpd_bearer_ok(const struct httpd_x *x, const char *token);
/* Constant-time equality of two byte strings over their full lengths. */
int httpd_secret_eq(const void *a, size_t alen, const void *b, size_t blen);

/* Keep x after the handler returns; answer later with httpd_reply(). */
void httpd_hold(struct httpd_x *x);
/*
 * Answer x: status, content type, body (copied).  extra_headers is NULL or a
 * NULL-terminated list of "Name: value" lines.  x must not be used after.
 */
void httpd_reply(struct httpd_x *x, int status, const char *content_type, const char *body,
                 size_t body_len, const char *const *extra_headers);
/* Shorthand for a JSON or text body given as a C string. */
void httpd_reply_str(struct httpd_x *x, int status, const char *content_type, const char *body);

/*
 * Websockets (used by the Slack and Discord stand-ins).  An upgrade on a path starting
 * with `prefix` calls ops->open(conn, path, query); returning -1 refuses it.
 * Messages arrive whole (fragments joined, at most max_msg bytes; a bigger
 * message closes the socket with 1009).
 */
struct httpd_ws;
struct httpd_ws_ops {
	int (*open)(struct httpd_ws *c, const char *path, const char *query, void *arg);
	void (*message)(struct httpd_ws *c, const char *data, size_t len, void *arg);
	void (*closed)(struct httpd_ws *c, void *arg);
};
int httpd_websocket(struct httpd *h, const char *prefix, const struct httpd_ws_ops *ops,
                    size_t max_msg, void *arg);
/* Queue one text message (copied).  -1 when the socket is closing. */
int httpd_ws_send(struct httpd_ws *c, const char *data, size_t len);
/* Queue a ping frame; the count of pongs received so far. */
int httpd_ws_ping(struct httpd_ws *c);
long httpd_ws_pongs(const struct httpd_ws *c);
/* Close after queued messages are sent (code 1000 unless given). */
void httpd_ws_close(struct httpd_ws *c, int code);
/* The same with a reason text in the close frame (cut at 123 bytes). */
void httpd_ws_close_reason(struct httpd_ws *c, int code, const char *reason);
/* Messages queued and not yet written (a client that does not read). */
size_t httpd_ws_backlog(const struct httpd_ws *c);
/* The code of the client's close frame; 0 when it sent none (yet). */
int httpd_ws_peer_code(const struct httpd_ws *c);
/* Drop the TCP connection at once, without a close frame. */
void httpd_ws_drop(struct httpd_ws *c);
void httpd_ws_set_user(struct httpd_ws *c, void *user);
void *httpd_ws_user(const struct httpd_ws *c);

#endif
