/* http_test.c: the client against a scripted HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

/* A server that answers each connection with the next scripted response. */
struct fake {
	int fd;
	int port;
	const char *const *script; /* raw responses, NULL-terminated */
	char last_request[4096];
	int served;
	pthread_t th;
};

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	for (int i = 0; f->script[i]; i++) {
		int c = accept(f->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		size_t got = 0;
		f->last_request[0] = '\0';
		for (;;) {
			ssize_t n =
			    read(c, f->last_request + got, sizeof(f->last_request) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			f->last_request[got] = '\0';
			char *hdr_end = strstr(f->last_request, "\r\n\r\n");
			if (hdr_end) {
				char *cl = strcasestr(f->last_request, "Content-Length:");
				size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
				if (got >= (size_t)(hdr_end + 4 - f->last_request) + want)
					break;
			}
		}
		ssize_t w = write(c, f->script[i], strlen(f->script[i]));
		(void)w;
		close(c);
		f->served++;
	}
	return NULL;
}

static void fake_start(struct fake *f, const char *const *script)
{
	memset(f, 0, sizeof(*f));
	f->script = script;
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	socklen_t al = sizeof(a);
	getsockname(f->fd, (struct sockaddr *)&a, &al);
	f->port = ntohs(a.sin_port);
	pthread_create(&f->th, NULL, fake_run, f);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->th, NULL);
}

#define OK_BODY(b)                                                                                 \
	"HTTP/1.1 200 OK\r\nContent-Length: " #b "\r\nX-Thing: yes\r\nConnection: close\r\n\r\n"

static void test_post_and_headers(void **state)
{
	(void)state;
	static const char *const script[] = {OK_BODY(11) "{\"ok\":true}", NULL};
	struct fake f;
	fake_start(&f, script);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/chat.postMessage", f.port);
	struct http_client *c = http_client_new();
	const char *hdrs[] = {"Content-Type: application/json",
	                      "Authorization: Bearer xoxb-test-1234", NULL};
	struct http_request req = {"POST", url, hdrs, "{\"a\":1}", 7, 2000, 0};
	struct http_response resp = {0};
	char err[256];
	assert_int_equal(http_do(c, &req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "{\"ok\":true}");
	char v[32];
	assert_int_equal(http_header(&resp, "x-thing", v, sizeof(v)), 0);
	assert_string_equal(v, "yes");
	assert_int_equal(http_header(&resp, "Nope", v, sizeof(v)), -1);
	fake_stop(&f);
	assert_non_null(strstr(f.last_request, "POST /api/chat.postMessage HTTP/1.1"));
	assert_non_null(strstr(f.last_request, "\r\n\r\n{\"a\":1}"));
	http_response_free(&resp);
	http_client_free(c);
}

static void test_retry_429_then_500_then_ok(void **state)
{
	(void)state;
	static const char *const script[] = {
	    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0.05\r\nContent-Length: "
	    "0\r\nConnection: close\r\n\r\n",
	    "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", OK_BODY(2) "{}",
	    NULL};
	struct fake f;
	fake_start(&f, script);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", f.port);
	struct http_client *c = http_client_new();
	struct http_request req = {"GET", url, NULL, NULL, 0, 2000, 0};
	struct http_response resp = {0};
	char err[256];
	struct http_retry pol = {5, 10, 1000};
	int rc = http_do_retry(c, &req, &pol, &resp, err, sizeof(err));
	if (rc != 0 || resp.status != 200 || resp.attempts != 3)
		fail_msg("got rc=%d status=%ld attempts=%d err=%s; want 0 200 3", rc, resp.status,
		         resp.attempts, err);
	fake_stop(&f);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_retry_after_too_long_and_4xx(void **state)
{
	(void)state;
	static const char *const script[] = {
	    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: "
	    "0\r\nConnection: close\r\n\r\n",
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", NULL};
	struct fake f;
	fake_start(&f, script);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", f.port);
	struct http_client *c = http_client_new();
	struct http_request req = {"GET", url, NULL, NULL, 0, 2000, 0};
	struct http_response resp = {0};
	char err[256];
	struct http_retry pol = {5, 10, 1000};
	assert_int_equal(http_do_retry(c, &req, &pol, &resp, err, sizeof(err)), -1);
	assert_int_equal(http_retry_after_ms(&resp), 120000);
	assert_non_null(strstr(err, "longer than allowed"));
	/* A 404 is an answer, not something to retry. */
	assert_int_equal(http_do_retry(c, &req, &pol, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp.status, 404);
	assert_int_equal(resp.attempts, 1);
	fake_stop(&f);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_body_limit_and_refused(void **state)
{
	(void)state;
	static const char *const script[] = {OK_BODY(11) "{\"ok\":true}", NULL};
	struct fake f;
	fake_start(&f, script);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", f.port);
	struct http_client *c = http_client_new();
	struct http_request req = {"GET", url, NULL, NULL, 0, 2000, 4};
	struct http_response resp = {0};
	char err[256];
	assert_int_equal(http_do(c, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than 4 bytes"));
	fake_stop(&f);
	/* Nobody listens any more: a transport error, named. */
	assert_int_equal(http_do(c, &req, &resp, err, sizeof(err)), -1);
	assert_int_equal(resp.status, 0);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_urlencode(void **state)
{
	(void)state;
	struct buf b = {0};
	assert_int_equal(http_urlencode("a b&c=d/é~", &b), 0);
	assert_string_equal(b.data, "a%20b%26c%3Dd%2F%C3%A9~");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_post_and_headers),
	    cmocka_unit_test(test_retry_429_then_500_then_ok),
	    cmocka_unit_test(test_retry_after_too_long_and_4xx),
	    cmocka_unit_test(test_body_limit_and_refused),
	    cmocka_unit_test(test_urlencode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
