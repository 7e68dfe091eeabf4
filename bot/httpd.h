/*
 * httpd.h: a small HTTP (and optional websocket) listener on a
 * libwebsockets vhost, with a route table.
 *
 * opsbot-bot listens here for alert webhooks, /healthz, /metrics, Slack HTTP
 * mode and Discord HTTP interactions; the local Slack stand-in serves its Web
 * API and Socket Mode through the same code.
 *
 * A request is routed by exact method and path.  Its body is read whole
 * before the handler runs and is bounded (max_body; 413 beyond).  A handler
 * answers with httpd_reply() at once, or calls httpd_hold() and answers later
 * from the loop thread (e.g. after a queue call); if the client went away
 * meanwhile, the late httpd_reply() only frees the exchange.
 *
 * Invariants:
 *  1. Every exchange is answered exactly once (httpd_reply), or freed when
 *     its connection closes and nobody holds it.
 *  2. All calls happen on the lws service thread.
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

const struct httpd_req *httpd_request(const struct httpd_x *x);
/*
 * A request header by case-insensitive name ("X-Slack-Signature"), copied
 * into val.  0, or -1 when absent or longer than vallen-1.
 */
int httpd_header(const struct httpd_x *x, const char *name, char *val, size_t vallen);

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
 * Websockets (used by the Slack stand-in).  An upgrade on a path starting
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
/* Drop the TCP connection at once, without a close frame. */
void httpd_ws_drop(struct httpd_ws *c);
void httpd_ws_set_user(struct httpd_ws *c, void *user);
void *httpd_ws_user(const struct httpd_ws *c);

#endif
