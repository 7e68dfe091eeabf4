/* discord_rest.c: Discord REST calls with per-route buckets, the global limit and 429s. */
#include "chatstats.h"
#include "discord_rest.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"

#define ROUTE_MAX       160
#define MAX_BUCKETS     512
#define MAX_429_TRIES   8
#define RESET_MARGIN_MS 10 /* clocks differ a little; wait a hair longer */
#define USER_AGENT      "User-Agent: DiscordBot (https://github.com/opsbot/opsbot, 0.1)"

struct bucket {
	char route[ROUTE_MAX]; /* route key, or "hash|major" once the hash is known */
	int remaining;         /* -1: unknown */
	int64_t reset_at;      /* monotonic ms */
};

struct route_map {
	char route[ROUTE_MAX];
	char hash[48];
};

/*
 * The rate-limit state Discord keeps per bot token: buckets, learned route
 * hashes, the global window and a 401.  Every discord_rest of one base URL
 * and token in this process shares one (a registry, reference counted), so
 * the Discord surface's JSON calls and the upload surface's file posts see
 * each other's 429s and Remaining 0.
 */
struct dr_limits {
	pthread_mutex_t mu;
	char *key; /* base "\n" token */
	int refs;
	struct dr_limits *next;
	int global_per_sec;
	int64_t global_until; /* a global 429 blocks everything until then */
	int64_t gwin_start;   /* the global limiter's 1 s window */
	int gwin_used;
	int stopped; /* a 401 was seen */
	struct bucket buckets[MAX_BUCKETS];
	int nbuckets;
	struct route_map routes[MAX_BUCKETS];
	int nroutes;
};

static pthread_mutex_t dr_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dr_limits *dr_registry;

struct discord_rest {
	struct dr_limits *L; /* shared; its mu also guards stats */
	char *base;
	char *auth;
	int64_t max_wait_ms;
	struct discord_rest_stats stats;
};

struct discord_rest *discord_rest_new(const char *base, const char *token, int global_per_sec,
                                      int64_t max_wait_ms)
{
	struct discord_rest *r = xcalloc(1, sizeof *r);
	r->base = xstrdup(base);
	r->auth = xasprintf("Authorization: Bot %s", token);
	r->max_wait_ms = max_wait_ms > 0 ? max_wait_ms : 60000;
	char *key = xasprintf("%s\n%s", base, token);
	pthread_mutex_lock(&dr_registry_mu);
	struct dr_limits *L = dr_registry;
	while (L && strcmp(L->key, key) != 0)
		L = L->next;
	if (!L) {
		L = xcalloc(1, sizeof *L);
		pthread_mutex_init(&L->mu, NULL);
		L->key = key;
		key = NULL;
		L->global_per_sec = 50;
		L->next = dr_registry;
		dr_registry = L;
	}
	L->refs++;
	pthread_mutex_unlock(&dr_registry_mu);
	free(key);
	if (global_per_sec > 0) { /* 0: keep what the surface configured */
		pthread_mutex_lock(&L->mu);
		L->global_per_sec = global_per_sec;
		pthread_mutex_unlock(&L->mu);
	}
	r->L = L;
	return r;
}

void discord_rest_free(struct discord_rest *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&dr_registry_mu);
	if (--r->L->refs == 0) {
		struct dr_limits **pp = &dr_registry;
		while (*pp != r->L)
			pp = &(*pp)->next;
		*pp = r->L->next;
		pthread_mutex_destroy(&r->L->mu);
		free(r->L->key);
		free(r->L);
	}
	pthread_mutex_unlock(&dr_registry_mu);
	free(r->base);
	free(r->auth);
	free(r);
}

void discord_rest_stats(struct discord_rest *r, struct discord_rest_stats *out)
{
	pthread_mutex_lock(&r->L->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->L->mu);
}

static int is_id(const char *seg, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)seg[i]))
			return 0;
	return 1;
}

void discord_rest_route(const char *method, const char *path, char *out, size_t outlen)
{
	struct buf b = {.max = ROUTE_MAX * 2};
	buf_appendf(&b, "%s ", method);
	const char *p = path;
	char first[32] = "";
	int i = 0;
	while (*p == '/') {
		p++;
		size_t n = strcspn(p, "/?");
		/* Majors: channels/{id}, guilds/{id}, webhooks/{id}/{token}; other ids
		 * and tokens collapse to ":id". */
		int major =
		    (i == 1 && (strcmp(first, "channels") == 0 || strcmp(first, "guilds") == 0 ||
		                strcmp(first, "webhooks") == 0)) ||
		    (i == 2 && strcmp(first, "webhooks") == 0);
		int token = (i == 2 && strcmp(first, "interactions") == 0);
		if (i == 0 && n < sizeof first) {
			memcpy(first, p, n);
			first[n] = 0;
		}
		if (!major && (token || is_id(p, n)))
			buf_appendf(&b, "/:id");
		else
			buf_appendf(&b, "/%.*s", (int)n, p);
		p += n;
		i++;
	}
	str_copy(out, outlen, b.data ? b.data : method);
	buf_free(&b);
}

static void major_of(const char *path, char *out, size_t outlen)
{
	/* "/channels/123/..." -> "123"; for webhooks, id/token. */
	const char *p = path + (path[0] == '/');
	const char *s = strchr(p, '/');
	if (!s) {
		str_copy(out, outlen, "");
		return;
	}
	s++;
	size_t n = strcspn(s, "/?");
	if (strncmp(p, "webhooks/", 9) == 0 && s[n] == '/')
		n += 1 + strcspn(s + n + 1, "/?");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = 0;
}

/* The bucket for a route, found or made (caller holds mu). */
static struct bucket *bucket_for(struct dr_limits *r, const char *route, const char *path)
{
	char key[ROUTE_MAX];
	const char *hash = NULL;
	for (int i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].route, route) == 0)
			hash = r->routes[i].hash;
	if (hash) {
		char major[96];
		major_of(path, major, sizeof major);
		snprintf(key, sizeof key, "%s|%s", hash, major);
	} else {
		str_copy(key, sizeof key, route);
	}
	for (int i = 0; i < r->nbuckets; i++)
		if (strcmp(r->buckets[i].route, key) == 0)
			return &r->buckets[i];
	if (r->nbuckets == MAX_BUCKETS) {
		/* Forget the oldest half: they only cost an unknown first call. */
		memmove(r->buckets, r->buckets + MAX_BUCKETS / 2,
		        sizeof r->buckets[0] * (MAX_BUCKETS / 2));
		r->nbuckets = MAX_BUCKETS / 2;
	}
	struct bucket *b = &r->buckets[r->nbuckets++];
	str_copy(b->route, sizeof b->route, key);
	b->remaining = -1;
	b->reset_at = 0;
	return b;
}

static void learn_hash(struct dr_limits *r, const char *route, const char *hash)
{
	for (int i = 0; i < r->nroutes; i++) {
		if (strcmp(r->routes[i].route, route) == 0) {
			str_copy(r->routes[i].hash, sizeof r->routes[i].hash, hash);
			return;
		}
	}
	if (r->nroutes == MAX_BUCKETS)
		r->nroutes = 0; /* start over; hashes are learned again */
	str_copy(r->routes[r->nroutes].route, sizeof r->routes[0].route, route);
	str_copy(r->routes[r->nroutes].hash, sizeof r->routes[0].hash, hash);
	r->nroutes++;
}

/*
 * How long to wait before this call may go (0: go now, slot taken).
 * Caller holds mu.
 */
static int64_t wait_needed(struct dr_limits *r, const char *route, const char *path, int exempt)
{
	int64_t now = time_mono_ms();
	if (r->global_until > now)
		return r->global_until - now;
	if (!exempt) {
		if (now - r->gwin_start >= 1000) {
			r->gwin_start = now;
			r->gwin_used = 0;
		}
		if (r->gwin_used >= r->global_per_sec)
			return r->gwin_start + 1000 - now;
	}
	struct bucket *b = bucket_for(r, route, path);
	if (b->remaining == 0) {
		if (b->reset_at > now)
			return b->reset_at - now;
		b->remaining = -1; /* the window passed; unknown until the answer */
	}
	if (b->remaining > 0)
		b->remaining--;
	if (!exempt)
		r->gwin_used++;
	return 0;
}

static void learn(struct discord_rest *h, const char *route, const char *path,
                  const struct http_response *resp, const cJSON *body)
{
	char v[64];
	int64_t now = time_mono_ms();
	struct dr_limits *r = h->L;
	pthread_mutex_lock(&r->mu);
	if (http_header(resp, "X-RateLimit-Bucket", v, sizeof v) == 0)
		learn_hash(r, route, v);
	struct bucket *b = bucket_for(r, route, path);
	if (http_header(resp, "X-RateLimit-Remaining", v, sizeof v) == 0)
		b->remaining = (int)strtol(v, NULL, 10);
	if (http_header(resp, "X-RateLimit-Reset-After", v, sizeof v) == 0)
		b->reset_at = now + (int64_t)(strtod(v, NULL) * 1000) + RESET_MARGIN_MS;
	if (resp->status == 429) {
		double ra = json_num(body, "retry_after", -1);
		int64_t ms = ra >= 0 ? (int64_t)(ra * 1000) : http_retry_after_ms(resp);
		if (ms < 0)
			ms = 1000;
		int global = json_bool(body, "global", 0) ||
		             (http_header(resp, "X-RateLimit-Global", v, sizeof v) == 0);
		if (global) {
			r->global_until = now + ms + RESET_MARGIN_MS;
			h->stats.r429_global++;
		} else {
			b->remaining = 0;
			b->reset_at = now + ms + RESET_MARGIN_MS;
			h->stats.r429_route++;
		}
	}
	if (resp->status == 401 && !r->stopped) {
		r->stopped = 1;
		log_error("event=discord_unauthorized action=\"REST calls stopped; check "
		          "DISCORD_BOT_TOKEN\"");
	}
	pthread_mutex_unlock(&r->mu);
}

int discord_rest_send(struct discord_rest *r, struct http_client *hc, const char *method,
                      const char *path, const char *ctype, const char *body, size_t len,
                      long timeout_ms, long *status, cJSON **out, char *err, size_t errlen,
                      volatile int *quit)
{
	char route[ROUTE_MAX], label[ROUTE_MAX + 8];
	discord_rest_route(method, path, route, sizeof route);
	int file = ctype && strncmp(ctype, "multipart/", 10) == 0;
	snprintf(label, sizeof label, "%s%s", route, file ? " (file)" : "");
	int exempt =
	    strncmp(path, "/interactions/", 14) == 0 || strncmp(path, "/webhooks/", 10) == 0;
	char *url = xasprintf("%s%s", r->base, path);
	char *ct = xasprintf("Content-Type: %s", ctype ? ctype : "application/json");
	const char *headers[4];
	int nh = 0;
	if (!exempt)
		headers[nh++] = r->auth;
	headers[nh++] = USER_AGENT;
	headers[nh++] = ct;
	headers[nh] = NULL;
	struct http_request req = {.method = method,
	                           .url = url,
	                           .headers = headers,
	                           .body = body,
	                           .body_len = body ? len : 0,
	                           .timeout_ms = timeout_ms > 0 ? timeout_ms : 10000};
	struct http_response resp = {0};
	struct dr_limits *L = r->L;
	int64_t deadline = time_mono_ms() + r->max_wait_ms;
	int rc = -1;
	*status = 0;
	if (out)
		*out = NULL;
	for (int tries = 0;; tries++) {
		if (quit && *quit) {
			snprintf(err, errlen, "stopping");
			goto out;
		}
		pthread_mutex_lock(&L->mu);
		int stopped = L->stopped;
		int64_t wait = stopped ? 0 : wait_needed(L, route, path, exempt);
		pthread_mutex_unlock(&L->mu);
		if (stopped) {
			snprintf(err, errlen, "stopped after a 401 (bad token)");
			goto out;
		}
		if (wait > 0) {
			if (time_mono_ms() + wait > deadline) {
				snprintf(err, errlen, "rate limited longer than %lld ms",
				         (long long)r->max_wait_ms);
				goto out;
			}
			pthread_mutex_lock(&L->mu);
			r->stats.waits_ms += (long)wait;
			pthread_mutex_unlock(&L->mu);
			time_sleep_ms(wait, quit);
			tries--; /* waiting is not a try */
			continue;
		}
		pthread_mutex_lock(&L->mu);
		r->stats.calls++;
		pthread_mutex_unlock(&L->mu);
		if (http_do(hc, &req, &resp, err, errlen) < 0) {
			chatstats_count("discord", label, 0);
			goto out;
		}
		chatstats_count("discord", label, resp.status);
		cJSON *parsed = NULL;
		char perr[64];
		if (resp.body.len)
			json_parse(resp.body.data, resp.body.len, &parsed, perr, sizeof perr);
		learn(r, route, path, &resp, parsed);
		if (resp.status == 429 && tries + 1 < MAX_429_TRIES) {
			log_info("event=discord_429 route=%s global=%d retry_after=%.3f",
			         log_q(label), json_bool(parsed, "global", 0),
			         json_num(parsed, "retry_after", -1));
			cJSON_Delete(parsed);
			continue;
		}
		*status = resp.status;
		if (out)
			*out = parsed;
		else
			cJSON_Delete(parsed);
		rc = 0;
		break;
	}
out:
	http_response_free(&resp);
	free(url);
	free(ct);
	return rc;
}

int discord_rest_call(struct discord_rest *r, struct http_client *hc, const char *method,
                      const char *path, const cJSON *body, long *status, cJSON **out, char *err,
                      size_t errlen)
{
	char *text = body ? json_print(body) : NULL;
	int rc = discord_rest_send(r, hc, method, path, "application/json", text,
	                           text ? strlen(text) : 0, 10000, status, out, err, errlen, NULL);
	free(text);
	return rc;
}
