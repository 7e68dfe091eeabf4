/* discord_upload.c: a Discord message with one file, as multipart/form-data. */
#include "discord_upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord_rest.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

#define UPLOAD_TIMEOUT 60000

/* The limits live in a discord_rest of the same base and token: the Discord
 * surface's, shared (bot/discord_rest.h). */
struct discord_upload {
	struct discord_rest *rest;
};

struct discord_upload *discord_upload_new(const char *base, const char *token, int64_t max_wait_ms)
{
	struct discord_upload *u = xcalloc(1, sizeof *u);
	u->rest = discord_rest_new(base, token, 0, max_wait_ms);
	return u;
}

void discord_upload_free(struct discord_upload *u)
{
	if (!u)
		return;
	discord_rest_free(u->rest);
	free(u);
}

struct discord_rest *discord_upload_rest(struct discord_upload *u)
{
	return u->rest;
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
	char path[160], ct[128];
	snprintf(path, sizeof path, "/channels/%s/messages", channel);
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
	long status = 0;
	cJSON *parsed = NULL;
	int rc = DUP_RETRY;
	if (discord_rest_send(u->rest, h, "POST", path, ct, body.data, body.len, UPLOAD_TIMEOUT,
	                      &status, &parsed, err, errlen, quit) < 0) {
		if (strstr(err, "401"))
			rc = DUP_REFUSED; /* the token is wrong: retrying only earns a ban */
	} else if (status == 200 && json_str(parsed, "id")) {
		str_copy(msg_id, idlen, json_str(parsed, "id"));
		const cJSON *a0 =
		    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(parsed, "attachments"), 0);
		if (stored_size)
			*stored_size = json_int(a0, "size", -1);
		rc = DUP_OK;
	} else if (status == 429) {
		snprintf(err, errlen, "still rate limited after several tries");
	} else {
		snprintf(err, errlen, "HTTP %ld code %lld: %s", status,
		         (long long)json_int(parsed, "code", 0),
		         json_str(parsed, "message") ? json_str(parsed, "message") : "no message");
		rc = status >= 400 && status < 500 ? DUP_REFUSED : DUP_RETRY;
	}
	cJSON_Delete(parsed);
	buf_free(&body);
	return rc;
}
