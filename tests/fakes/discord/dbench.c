/*
 * NAME
 *   dbench - the chat_discord benchmark's driver
 *
 * SYNOPSIS
 *   dbench BASE_URL N
 *
 * DESCRIPTION
 *   Plays N "/incident declare" commands, one after another, through
 *   fake-discord's control API at BASE_URL, and for each waits until the
 *   incident's message is in the "ops" channel and the interaction has been
 *   answered.  Latencies come from the stand-in's own monotonic clock:
 *     ack  = INTERACTION_CREATE dispatched -> callback received
 *     post = INTERACTION_CREATE dispatched -> incident message created
 *   Prints "ack_p50 ack_p99 post_p50 post_p99" in ms on one line; exit 1 with
 *   a reason on stderr when something never arrives (10 s per command).
 *   Written in C so the driver's own cost does not crowd the 2-core machine.
 *
 * TRUST
 *   Test-only; talks to the stand-in on loopback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "mem.h"
#include "timeutil.h"

static cJSON *call(struct http_client *hc, const char *method, const char *url, const char *body)
{
	struct http_request req = {.method = method,
	                           .url = url,
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .timeout_ms = 5000,
	                           .max_response = 16u << 20};
	struct http_response resp = {0};
	char err[256];
	cJSON *out = NULL;
	if (http_do(hc, &req, &resp, err, sizeof err) == 0 && resp.status == 200)
		json_parse(resp.body.data, resp.body.len, &out, err, sizeof err);
	http_response_free(&resp);
	return out;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof v[0], cmp);
	int i = (int)(p / 100.0 * n);
	return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: dbench BASE_URL N\n");
		return 2;
	}
	const char *base = argv[1];
	int n = (int)strtol(argv[2], NULL, 10);
	if (n <= 0 || n > 1000000)
		return 2;
	struct http_client *hc = http_client_new();
	double *acks = xcalloc((size_t)n, sizeof *acks), *posts = xcalloc((size_t)n, sizeof *posts);
	char last[32] = "";
	int rc = 1;
	for (int i = 0; i < n; i++) {
		char title[64], body[512], url[512], want[80];
		snprintf(title, sizeof title, "bench incident %d", i);
		snprintf(want, sizeof want, ": %s", title);
		snprintf(body, sizeof body,
		         "{\"kind\":\"command\",\"user\":{\"id\":\"1\",\"username\":\"bench\"},"
		         "\"options\":[{\"name\":\"declare\",\"type\":1,\"options\":[{\"name\":"
		         "\"title\","
		         "\"type\":3,\"value\":\"%s\"}]}]}",
		         title);
		snprintf(url, sizeof url, "%s/_fake/interactions", base);
		cJSON *inj = call(hc, "POST", url, body);
		const char *id = json_str(inj, "id");
		if (!id) {
			fprintf(stderr, "dbench: inject %d failed\n", i);
			cJSON_Delete(inj);
			goto out;
		}
		char iid[32];
		str_copy(iid, sizeof iid, id);
		cJSON_Delete(inj);
		int64_t deadline = time_mono_ms() + 10000;
		int64_t found = -1;
		while (found < 0) {
			snprintf(url, sizeof url, "%s/_fake/channels/ops/messages?times=1%s%s",
			         base, last[0] ? "&after=" : "", last);
			cJSON *msgs = call(hc, "GET", url, NULL);
			const cJSON *m;
			cJSON_ArrayForEach(m, msgs)
			{
				const cJSON *e0 = cJSON_GetArrayItem(
				    cJSON_GetObjectItemCaseSensitive(m, "embeds"), 0);
				const char *t = json_str(e0, "title");
				size_t tl = t ? strlen(t) : 0, wl = strlen(want);
				if (t && tl >= wl && strcmp(t + tl - wl, want) == 0)
					found = json_int(m, "_created_us", -1);
				if (json_str(m, "id"))
					str_copy(last, sizeof last, json_str(m, "id"));
			}
			cJSON_Delete(msgs);
			if (found < 0 && time_mono_ms() > deadline) {
				fprintf(stderr, "dbench: no incident message for %s\n", title);
				goto out;
			}
		}
		/* The answer and the post travel on different lanes: wait for both. */
		int64_t cb = -1, created = 0;
		while (cb < 0) {
			snprintf(url, sizeof url, "%s/_fake/interactions/%s", base, iid);
			cJSON *it = call(hc, "GET", url, NULL);
			cb = json_int(it, "callback_latency_us", -1);
			created = json_int(it, "created_us", 0);
			cJSON_Delete(it);
			if (cb < 0 && time_mono_ms() > deadline) {
				fprintf(stderr, "dbench: no callback for %s\n", iid);
				goto out;
			}
		}
		acks[i] = (double)cb / 1000.0;
		posts[i] = (double)(found - created) / 1000.0;
	}
	printf("%.3f %.3f %.3f %.3f\n", pct(acks, n, 50), pct(acks, n, 99), pct(posts, n, 50),
	       pct(posts, n, 99));
	rc = 0;
out:
	free(acks);
	free(posts);
	http_client_free(hc);
	return rc;
}
