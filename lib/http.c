/* http.c: libcurl client with bounded bodies, Retry-After and backoff. */
#include "http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "timeutil.h"

#define HTTP_DEFAULT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_MAX        (8u << 20)
#define HTTP_MAX_HEADERS        (64 * 1024)

const struct http_retry HTTP_RETRY_DEFAULT = {4, 200, 30000};

struct http_client {
	CURL *curl;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		log_fatal("event=curl_init_failed");
}

struct http_client *http_client_new(void)
{
	pthread_once(&http_once, http_global_init);
	struct http_client *c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl)
		log_fatal("event=curl_easy_init_failed");
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

struct http_sink {
	struct buf *b;
	int overflow;
};

static size_t http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_sink *s = arg;
	if (buf_append(s->b, p, size * n) < 0) {
		s->overflow = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return size * n;
}

static size_t http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	/* A new status line (after a redirect or 100-continue) starts over. */
	if (size * n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		buf_reset(b);
	if (buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
            char *err, size_t errlen)
{
	CURL *h = c->curl;
	curl_easy_reset(h);
	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->body.max = req->max_response ? req->max_response : HTTP_DEFAULT_MAX;
	resp->headers.max = HTTP_MAX_HEADERS;
	resp->status = 0;
	struct http_sink sink = {&resp->body, 0};
	struct curl_slist *hl = NULL;
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		struct curl_slist *nl = curl_slist_append(hl, *hp);
		if (!nl)
			log_fatal("event=out_of_memory where=curl_slist");
		hl = nl;
	}
	/* No "Expect: 100-continue" round trip on large bodies. */
	struct curl_slist *nl = curl_slist_append(hl, "Expect:");
	if (!nl)
		log_fatal("event=out_of_memory where=curl_slist");
	hl = nl;
	const char *method = req->method ? req->method : "GET";
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	                 req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->headers);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "PATCH") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)(req->body ? req->body_len : 0));
		}
	}
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hl);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc != CURLE_OK) {
		if (sink.overflow)
			snprintf(err, errlen, "response body larger than %zu bytes",
			         resp->body.max);
		else
			snprintf(err, errlen, "%s %s: %s", method, req->url,
			         curl_easy_strerror(rc));
		return -1;
	}
	if (!resp->body.data)
		buf_append(&resp->body, "", 0);
	return 0;
}

int http_header(const struct http_response *resp, const char *name, char *val, size_t vallen)
{
	const char *p = resp->headers.data;
	size_t nl = strlen(name);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
		if (linelen > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			const char *e = p + linelen;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			size_t n = (size_t)(e - v);
			if (n >= vallen)
				n = vallen - 1;
			memcpy(val, v, n);
			val[n] = '\0';
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

int64_t http_retry_after_ms(const struct http_response *resp)
{
	char v[128];
	if (http_header(resp, "Retry-After", v, sizeof(v)) < 0)
		return -1;
	char *end;
	double secs = strtod(v, &end);
	if (end != v && *end == '\0' && secs >= 0)
		return (int64_t)(secs * 1000 + 0.5);
	struct tm tm = {0};
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
		int64_t at = (int64_t)timegm(&tm) * 1000;
		int64_t now = time_now_ms();
		return at > now ? at - now : 0;
	}
	return -1;
}

int http_do_retry(struct http_client *c, const struct http_request *req,
                  const struct http_retry *policy, struct http_response *resp, char *err,
                  size_t errlen)
{
	const struct http_retry *pol = policy ? policy : &HTTP_RETRY_DEFAULT;
	int64_t backoff = pol->base_ms > 0 ? pol->base_ms : 100;
	int attempts = pol->max_attempts > 0 ? pol->max_attempts : 1;
	for (int i = 1;; i++) {
		resp->attempts = i;
		int rc = http_do(c, req, resp, err, errlen);
		int64_t wait;
		if (rc == 0 && resp->status != 429 && resp->status < 500)
			return 0;
		if (rc == 0 && resp->status == 429) {
			wait = http_retry_after_ms(resp);
			if (wait < 0)
				wait = backoff;
			snprintf(err, errlen, "%s answered 429 (rate limited)", req->url);
			if (wait > pol->max_wait_ms) {
				snprintf(err, errlen,
				         "%s asks to wait %lld ms, longer than allowed", req->url,
				         (long long)wait);
				return -1;
			}
		} else {
			if (rc == 0)
				snprintf(err, errlen, "%s answered %ld", req->url, resp->status);
			/* jitter: 75%..125% of the backoff */
			wait = backoff * 3 / 4 + (int64_t)(rand() % (int)(backoff / 2 + 1));
		}
		if (i >= attempts)
			return -1;
		log_debug("event=http_retry url=%s attempt=%d wait_ms=%lld", log_q(req->url), i,
		          (long long)wait);
		time_sleep_ms(wait, NULL);
		backoff *= 2;
	}
}

void http_response_free(struct http_response *resp)
{
	buf_free(&resp->body);
	buf_free(&resp->headers);
}

int http_urlencode(const char *s, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			if (buf_append(out, p, 1) < 0)
				return -1;
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			if (buf_append(out, e, 3) < 0)
				return -1;
		}
	}
	return 0;
}
