/*
 * embed.c: the /v1/embeddings client over lib/http.
 *
 * Answers are untrusted: every vector must have the same length, every
 * index must be in range and used once, every element must be a number.
 */
#include "embed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "mem.h"

struct embed {
	char *base_url;
	char *model;
	char *auth; /* "Authorization: Bearer ..." or NULL */
	long timeout_ms;
	struct http_client *http;
};

struct embed *embed_new(const char *base_url, const char *model, const char *api_key,
                        long timeout_ms)
{
	struct embed *e = xcalloc(1, sizeof(*e));
	size_t n = strlen(base_url);
	while (n > 0 && base_url[n - 1] == '/')
		n--;
	e->base_url = xstrndup(base_url, n);
	e->model = xstrdup(model);
	e->auth = api_key ? xasprintf("Authorization: Bearer %s", api_key) : NULL;
	e->timeout_ms = timeout_ms;
	e->http = http_client_new();
	return e;
}

void embed_free(struct embed *e)
{
	if (!e)
		return;
	http_client_free(e->http);
	free(e->base_url);
	free(e->model);
	free(e->auth);
	free(e);
}

const char *embed_model(const struct embed *e)
{
	return e->model;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence; caller frees. */
static char *embed_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return xstrdup(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return xstrndup(s, n);
}

static int embed_batch(struct embed *e, const char *const *texts, size_t n, float *out, size_t *dim,
                       char *err, size_t errlen)
{
	int ret = -1;
	char *body = NULL;
	cJSON *reply = NULL;
	struct http_response resp = {0};
	cJSON *req = json_new_object();
	json_add_str(req, "model", e->model);
	json_add_str(req, "encoding_format", "float");
	cJSON *input = json_new_array();
	for (size_t i = 0; i < n; i++) {
		char *t = embed_cut(texts[i][0] ? texts[i] : " ", EMBED_TEXT_MAX);
		cJSON_AddItemToArray(input, cJSON_CreateString(t));
		free(t);
	}
	json_add(req, "input", input);
	body = json_print(req);
	char *url = xasprintf("%s/embeddings", e->base_url);
	const char *headers[] = {"Content-Type: application/json", e->auth, NULL};
	struct http_request hr = {.method = "POST",
	                          .url = url,
	                          .headers = headers,
	                          .body = body,
	                          .body_len = strlen(body),
	                          .timeout_ms = e->timeout_ms,
	                          .max_response = EMBED_MAX_REPLY};
	char herr[256];
	int rc = http_do_retry(e->http, &hr, &HTTP_RETRY_DEFAULT, &resp, herr, sizeof(herr));
	free(url);
	if (rc < 0 || resp.status != 200) {
		if (rc < 0 && resp.status == 0)
			snprintf(err, errlen, "embeddings request failed: %s", herr);
		else
			snprintf(err, errlen, "embeddings endpoint answered HTTP %ld", resp.status);
		goto out;
	}
	char jerr[256];
	if (json_parse_object(resp.body.data, resp.body.len, &reply, jerr, sizeof(jerr)) < 0) {
		snprintf(err, errlen, "embeddings answer is not JSON: %s", jerr);
		goto out;
	}
	cJSON *data;
	if (json_get_arr(reply, "data", &data, jerr, sizeof(jerr)) < 0) {
		snprintf(err, errlen, "embeddings answer: %s", jerr);
		goto out;
	}
	if ((size_t)cJSON_GetArraySize(data) != n) {
		snprintf(err, errlen, "embeddings answer has %d vectors for %zu texts",
		         cJSON_GetArraySize(data), n);
		goto out;
	}
	unsigned char *seen = xcalloc(n, 1);
	const cJSON *item;
	size_t pos = 0;
	cJSON_ArrayForEach(item, data)
	{
		int64_t idx = json_int(item, "index", (int64_t)pos);
		cJSON *vec;
		pos++;
		if (idx < 0 || (size_t)idx >= n || seen[idx]) {
			snprintf(err, errlen,
			         "embeddings answer: field 'index' %lld is out of range "
			         "or repeated",
			         (long long)idx);
			free(seen);
			goto out;
		}
		seen[idx] = 1;
		if (json_get_arr(item, "embedding", &vec, jerr, sizeof(jerr)) < 0) {
			snprintf(err, errlen, "embeddings answer: %s", jerr);
			free(seen);
			goto out;
		}
		size_t d = (size_t)cJSON_GetArraySize(vec);
		if (d == 0 || d > EMBED_MAX_DIMS || (*dim && d != *dim)) {
			snprintf(err, errlen, "embeddings answer: vector of %zu numbers (want %zu)",
			         d, *dim ? *dim : (size_t)1);
			free(seen);
			goto out;
		}
		*dim = d;
		float *v = out + (size_t)idx * EMBED_MAX_DIMS;
		double norm = 0;
		size_t j = 0;
		const cJSON *x;
		cJSON_ArrayForEach(x, vec)
		{
			if (!cJSON_IsNumber(x)) {
				snprintf(err, errlen,
				         "embeddings answer: field 'embedding' holds a "
				         "non-number");
				free(seen);
				goto out;
			}
			v[j++] = (float)x->valuedouble;
			norm += x->valuedouble * x->valuedouble;
		}
		norm = sqrt(norm);
		for (j = 0; j < d && norm > 0; j++)
			v[j] = (float)(v[j] / norm);
	}
	free(seen);
	ret = 0;
out:
	http_response_free(&resp);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	free(body);
	return ret;
}

int embed_texts(struct embed *e, const char *const *texts, size_t n, float **out, size_t *dim,
                char *err, size_t errlen)
{
	/* Batches land in a scratch area with room for the largest vector, then
	 * are packed once the dimension is known. */
	float *scratch = xmalloc(EMBED_BATCH * EMBED_MAX_DIMS * sizeof(float));
	float *res = NULL;
	size_t d = 0;
	for (size_t off = 0; off < n; off += EMBED_BATCH) {
		size_t b = n - off < EMBED_BATCH ? n - off : EMBED_BATCH;
		if (embed_batch(e, texts + off, b, scratch, &d, err, errlen) < 0) {
			free(scratch);
			free(res);
			return -1;
		}
		if (!res)
			res = xmalloc((n ? n : 1) * d * sizeof(float));
		for (size_t i = 0; i < b; i++)
			memcpy(res + (off + i) * d, scratch + i * EMBED_MAX_DIMS,
			       d * sizeof(float));
	}
	free(scratch);
	if (!res)
		res = xmalloc(sizeof(float));
	*out = res;
	*dim = d;
	return 0;
}
