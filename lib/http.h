/*
 * http.h: the HTTP client every outbound call uses (Slack Web API, Discord
 * REST, LLM endpoints, Prometheus), over libcurl.
 *
 * One request at a time per http_client; a client keeps its connection alive
 * between calls.  http_do() makes one attempt; http_do_retry() retries
 * transport errors, 429 (waiting Retry-After, never longer than the policy
 * allows) and 5xx with exponential backoff and jitter.  Services with their
 * own rate-limit rules (Slack tiers, Discord buckets) use http_do() and keep
 * their own limiter; the parsed headers help them.
 *
 * Ownership: a response's buffers belong to the caller until
 * http_response_free(); a client is freed with http_client_free().
 */
#ifndef OPSBOT_HTTP_H
#define OPSBOT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

struct http_client;

struct http_request {
	const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;           /* may be NULL */
	size_t body_len;
	long timeout_ms;     /* whole request; 0 means 10 s */
	size_t max_response; /* body bytes accepted; 0 means 8 MiB */
};

struct http_response {
	long status;        /* 0 when no response came */
	struct buf body;    /* NUL-terminated */
	struct buf headers; /* raw header lines of the final response */
	int attempts;       /* how many tries http_do_retry made */
};

struct http_retry {
	int max_attempts;    /* total tries, at least 1 */
	int64_t base_ms;     /* first backoff; doubles each try */
	int64_t max_wait_ms; /* a longer Retry-After fails the call instead */
};

/* Defaults: 4 attempts, 200 ms base, 30 s longest wait. */
extern const struct http_retry HTTP_RETRY_DEFAULT;

struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/*
 * One attempt.  Returns 0 when a response arrived (any status), -1 on a
 * transport error or oversized body with the reason in err.
 */
int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
            char *err, size_t errlen);
/* With retries per policy; returns 0 when the final answer is 2xx-4xx except 429. */
int http_do_retry(struct http_client *c, const struct http_request *req,
                  const struct http_retry *policy, struct http_response *resp, char *err,
                  size_t errlen);

/* A header of the response (case-insensitive name) into val; -1 when absent. */
int http_header(const struct http_response *resp, const char *name, char *val, size_t vallen);
/* Retry-After in ms (seconds, decimal seconds or an HTTP date); -1 when absent. */
int64_t http_retry_after_ms(const struct http_response *resp);
void http_response_free(struct http_response *resp);

/* Percent-encode s for a form body or query string, appended to out. */
int http_urlencode(const char *s, struct buf *out);

#endif
