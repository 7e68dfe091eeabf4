/*
 * fuzz_httpd.c: libFuzzer target for the HTTP request path through the real
 * server code: libwebsockets' parser and lib/httpd.c on a loopback socket.
 * Each input is sent raw on a new TCP connection to a listener in this
 * process (then the write side is shut), and the loop runs until the
 * server closes the connection.  Routes: an echo with a header read, a
 * route with an early bearer check, one with a small body cap, and a
 * websocket endpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "httpd.h"
#include "log.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lws_context *ctx;
static struct httpd *h;

static void echo(struct httpd_x *x, void *arg)
{
	(void)arg;
	const struct httpd_req *r = httpd_request(x);
	char v[128];
	httpd_header(x, "X-Test", v, sizeof v);
	httpd_header(x, "Content-Type", v, sizeof v);
	httpd_reply(x, 200, "text/plain", r->body, r->body_len,
	            (const char *const[]){"X-Echo: yes", NULL});
}

static void auth_early(struct httpd_x *x, void *arg)
{
	(void)arg;
	if (!httpd_bearer_ok(x, "fuzz-token"))
		httpd_reply_str(x, 401, "application/json", "{\"error\":\"token\"}");
}

static int ws_open(struct httpd_ws *c, const char *path, const char *query, void *arg)
{
	(void)c, (void)path, (void)query, (void)arg;
	return 0;
}
static void ws_msg(struct httpd_ws *c, const char *d, size_t n, void *arg)
{
	(void)arg;
	httpd_ws_send(c, d, n);
}
static void ws_closed(struct httpd_ws *c, void *arg)
{
	(void)c, (void)arg;
}
static const struct httpd_ws_ops wsops = {ws_open, ws_msg, ws_closed};

static int setup(void)
{
	struct lws_context_creation_info info;
	char err[256];
	log_init("fuzz-httpd");
	log_set_level(LOG_OFF);
	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ctx = lws_create_context(&info);
	if (!ctx || httpd_open(&h, ctx, "127.0.0.1:0", 4096, NULL, err, sizeof err) < 0)
		abort();
	struct httpd_limits lim = {
	    .max_conns = 64, .header_timeout_ms = 300, .body_timeout_ms = 300};
	httpd_set_limits(h, &lim);
	struct httpd_route_opts small = {.max_body = 64};
	struct httpd_route_opts auth = {.early = auth_early};
	httpd_route(h, "*", "/echo", echo, NULL);
	httpd_route_opts(h, "POST", "/small", echo, NULL, &small);
	httpd_route_opts(h, "POST", "/hooks/*", echo, NULL, &auth);
	httpd_websocket(h, "/ws", &wsops, 4096, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx)
		setup();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)httpd_port(h))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		/* The harness, not the server: out of loopback ports (TIME_WAIT
		 * after tens of thousands of connections) or descriptors. */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t sent = 0;
	int64_t deadline = time_mono_ms() + 2000;
	int shut = 0;
	char buf[8192];
	for (;;) {
		if (sent < size) {
			ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size; /* the server closed on us */
		}
		if (sent == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		lws_service(ctx, -1); /* without waiting: the client side polls */
		ssize_t r = recv(fd, buf, sizeof buf, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			break; /* the server is done with this connection */
		if (time_mono_ms() > deadline)
			break;
	}
	close(fd);
	/* let the server see the close and free the connection */
	for (int i = 0; i < 4; i++)
		lws_service(ctx, -1);
	return 0;
}
