/* discord_upload.c: a Discord message with one file, as multipart/form-data. */
#include "discord_upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatstats.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

#define USER_AGENT      "User-Agent: DiscordBot (https://github.com/opsbot/opsbot, 0.1)"
#define MAX_429_TRIES   8
#define RESET_MARGIN_MS 10
#define UPLOAD_TIMEOUT  60000
#define ROUTE           "POST /channels/{id}/messages (file)"

struct discord_upload {
	char *base;
	char *auth;
	int64_t max_wait_ms;
	int64_t route_until;  /* monotonic ms: the messages bucket is empty until then */
	int64_t global_until; /* a global 429 */
	int stopped;          /* a 401 was seen */
};

struct discord_upload *discord_upload_new(const char *base, const char *token, int64_t max_wait_ms)
{
	struct discord_upload *u = xcalloc(1, sizeof *u);
	u->base = xstrdup(base);
	u->auth = xasprintf("Authorization: Bot %s", token);
	u->max_wait_ms = max_wait_ms > 0 ? max_wait_ms : 60000;
	return u;
}

void discord_upload_free(struct discord_upload *u)
{
	if (!u)
		return;
	free(u->base);
	free(u->auth);
	free(u);
}

void discord_upload_boundary(const char *data, size_t len, char *out, size_t outlen)
{
	for (unsigned n = 0;; n++) {
		snprintf(out, outlen, "opsbot-%08x%08x-%u", (unsigned)rand(), (unsigned)rand(), n);
		size_t bl = strlen(out);
		if (!len || !memmem(data, len, out, bl))
			return;
	}
}

static int header_safe(const char *s)
{
	return !strpbrk(s, "\"\r\n");
}

int discord_multipart(struct buf *out, const char *boundary, const cJSON *payload,
                      const char *filename, const char *ctype, const char *data, size_t len)
{
	if (!header_safe(filename) || !header_safe(ctype) || !header_safe(boundary))
		return -1;
	char *pj = json_print(payload);
	int rc = 0;
	rc |= buf_appendf(out,
	                  "--%s\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n"
	                  "Content-Type: application/json\r\n\r\n",
	                  boundary);
	rc |= buf_append(out, pj, strlen(pj));
	rc |= buf_appendf(out,
	                  "\r\n--%s\r\nContent-Disposition: form-data; name=\"files[0]\"; "
	                  "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
	                  boundary, filename, ctype);
	rc |= buf_append(out, data, len);
	rc |= buf_appendf(out, "\r\n--%s--\r\n", boundary);
	free(pj);
	return rc ? -1 : 0;
}

/* Sleep ms in small steps so *quit ends it early. */
static void nap(int64_t ms, volatile int *quit)
{
	int64_t until = time_mono_ms() + ms;
	for (int64_t left = ms; left > 0 && !(quit && *quit); left = until - time_mono_ms())
		time_sleep_ms(left < 100 ? left : 100, NULL);
}

static void learn(struct discord_upload *u, const struct http_response *resp, const cJSON *body)
{
	char v[64];
	int64_t now = time_mono_ms();
	if (http_header(resp, "X-RateLimit-Remaining", v, sizeof v) == 0 &&
	    strtol(v, NULL, 10) == 0 &&
	    http_header(resp, "X-RateLimit-Reset-After", v, sizeof v) == 0)
		u->route_until = now + (int64_t)(strtod(v, NULL) * 1000) + RESET_MARGIN_MS;
	if (resp->status == 429) {
		double ra = json_num(body, "retry_after", -1);
		int64_t ms = ra >= 0 ? (int64_t)(ra * 1000) : http_retry_after_ms(resp);
		if (ms < 0)
			ms = 1000;
		int global = json_bool(body, "global", 0) ||
		             http_header(resp, "X-RateLimit-Global", v, sizeof v) == 0;
		if (global)
			u->global_until = now + ms + RESET_MARGIN_MS;
		else
			u->route_until = now + ms + RESET_MARGIN_MS;
		log_info("event=discord_429 route=%s global=%d retry_after_ms=%lld", log_q(ROUTE),
		         global, (long long)ms);
	}
	if (resp->status == 401 && !u->stopped) {
		u->stopped = 1;
		log_error("event=discord_unauthorized action=\"file uploads stopped; check "
		          "DISCORD_BOT_TOKEN\"");
	}
}

int discord_upload_post(struct discord_upload *u, struct http_client *h, const char *channel,
                        const char *content, const char *filename, const char *ctype,
                        const char *data, size_t len, const char *nonce, char *msg_id, size_t idlen,
                        int64_t *stored_size, char *err, size_t errlen, volatile int *quit)
{
	cJSON *payload = json_new_object();
	json_add_str(payload, "content", content);
	if (nonce && *nonce) {
		json_add_str(payload, "nonce", nonce);
		json_add_bool(payload, "enforce_nonce", 1);
	}
	cJSON *atts = json_new_array(), *a = json_new_object();
	json_add_int(a, "id", 0);
	json_add_str(a, "filename", filename);
	cJSON_AddItemToArray(atts, a);
	json_add(payload, "attachments", atts);
	/* no pings from a file post, whatever the text holds */
	cJSON *am = json_new_object();
	json_add(am, "parse", json_new_array());
	json_add(payload, "allowed_mentions", am);

	char boundary[64];
	discord_upload_boundary(data, len, boundary, sizeof boundary);
	struct buf body = {.max = (size_t)30 << 20};
	int bad = discord_multipart(&body, boundary, payload, filename, ctype, data, len);
	cJSON_Delete(payload);
	if (bad) {
		snprintf(err, errlen, "file name or type not sendable: %s", filename);
		buf_free(&body);
		return DUP_REFUSED;
	}
	char *url = xasprintf("%s/channels/%s/messages", u->base, channel);
	char ct[128];
	snprintf(ct, sizeof ct, "Content-Type: multipart/form-data; boundary=%s", boundary);
	const char *hdrs[] = {u->auth, USER_AGENT, ct, NULL};
	struct http_request req = {.method = "POST",
	                           .url = url,
	                           .headers = hdrs,
	                           .body = body.data,
	                           .body_len = body.len,
	                           .timeout_ms = UPLOAD_TIMEOUT};
	struct http_response resp = {0};
	int64_t deadline = time_mono_ms() + u->max_wait_ms;
	int rc = DUP_RETRY;
	for (int tries = 0; !(quit && *quit);) {
		if (u->stopped) {
			snprintf(err, errlen, "stopped after a 401 (bad token)");
			rc = DUP_REFUSED;
			break;
		}
		int64_t now = time_mono_ms();
		int64_t until = u->global_until > u->route_until ? u->global_until : u->route_until;
		if (until > now) {
			if (until > deadline) {
				snprintf(err, errlen, "rate limited longer than %lld ms",
				         (long long)u->max_wait_ms);
				break;
			}
			nap(until - now, quit);
			continue;
		}
		if (http_do(h, &req, &resp, err, errlen) < 0) {
			chatstats_count("discord", ROUTE, 0);
			break;
		}
		chatstats_count("discord", ROUTE, resp.status);
		cJSON *parsed = NULL;
		char perr[64];
		if (resp.body.len)
			json_parse(resp.body.data, resp.body.len, &parsed, perr, sizeof perr);
		learn(u, &resp, parsed);
		if (resp.status == 429) {
			cJSON_Delete(parsed);
			if (++tries >= MAX_429_TRIES) {
				snprintf(err, errlen, "still rate limited after %d tries", tries);
				break;
			}
			continue;
		}
		if (resp.status == 200 && json_str(parsed, "id")) {
			str_copy(msg_id, idlen, json_str(parsed, "id"));
			const cJSON *a0 = cJSON_GetArrayItem(
			    cJSON_GetObjectItemCaseSensitive(parsed, "attachments"), 0);
			if (stored_size)
				*stored_size = json_int(a0, "size", -1);
			rc = DUP_OK;
		} else {
			snprintf(err, errlen, "HTTP %ld code %lld: %s", resp.status,
			         (long long)json_int(parsed, "code", 0),
			         json_str(parsed, "message") ? json_str(parsed, "message")
			                                     : "no message");
			rc = resp.status >= 400 && resp.status < 500 ? DUP_REFUSED : DUP_RETRY;
		}
		cJSON_Delete(parsed);
		break;
	}
	http_response_free(&resp);
	free(url);
	buf_free(&body);
	return rc;
}
