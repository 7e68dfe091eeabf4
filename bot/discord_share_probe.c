/*
 * discord_share_probe.c: for tests/integration/discord_share_limits.sh only
 * (never deployed).  Drives the real Discord REST client (discord_rest.c)
 * and the real file upload (discord_upload.c) of one process against
 * fake-discord, to show that they share rate-limit buckets:
 *
 *   discord-share-probe BASE CHANNEL upload-first
 *     thread A posts a file (the test has forced a 429 on it); once the
 *     upload has been given its 429, the main thread posts a JSON message
 *     into the same channel: it must wait out the upload's 429.
 *   discord-share-probe BASE CHANNEL json-first
 *     the other way: thread A's JSON post is given the 429, then the main
 *     thread's upload must wait it out.
 *
 * Prints one line "ok json=ID file=ID" or exits 1 saying why.  When each
 * request reached the stand-in is read from its request log by the test.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord_rest.h"
#include "discord_upload.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

struct probe {
	struct discord_rest *rest;
	struct discord_upload *up;
	const char *channel;
	int upload_first;
	char json_id[64], file_id[64];
	char err[300];  /* the first call's (thread A) */
	char err2[300]; /* the second call's (main thread) */
	int rc;
};

static int post_json(struct probe *p, char *err, size_t errlen)
{
	struct http_client *hc = http_client_new();
	cJSON *body = json_new_object(), *out = NULL;
	json_add_str(body, "content", "probe: a JSON post on the shared bucket");
	char path[160];
	long status = 0;
	snprintf(path, sizeof path, "/channels/%s/messages", p->channel);
	int rc = discord_rest_call(p->rest, hc, "POST", path, body, &status, &out, err, errlen);
	if (rc == 0 && status == 200 && json_str(out, "id"))
		str_copy(p->json_id, sizeof p->json_id, json_str(out, "id"));
	else if (rc == 0)
		snprintf(err, errlen, "JSON post: HTTP %ld", status);
	cJSON_Delete(out);
	cJSON_Delete(body);
	http_client_free(hc);
	return p->json_id[0] ? 0 : -1;
}

static int post_file(struct probe *p, char *err, size_t errlen)
{
	struct http_client *hc = http_client_new();
	static const char pdf[] = "%PDF-1.4\n% probe\n%%EOF\n";
	int rc = discord_upload_post(p->up, hc, p->channel, "probe: a file on the shared bucket",
	                             "probe.pdf", "application/pdf", pdf, sizeof pdf - 1, NULL,
	                             p->file_id, sizeof p->file_id, NULL, err, errlen, NULL);
	http_client_free(hc);
	return rc == DUP_OK ? 0 : -1;
}

static void *first(void *arg)
{
	struct probe *p = arg;
	p->rc = p->upload_first ? post_file(p, p->err, sizeof p->err)
	                        : post_json(p, p->err, sizeof p->err);
	return NULL;
}

/* Until the client behind r has been given a route 429 (20 s at most). */
static int saw_429(struct discord_rest *r)
{
	for (int i = 0; i < 2000; i++) {
		struct discord_rest_stats s;
		discord_rest_stats(r, &s);
		if (s.r429_route > 0)
			return 1;
		time_sleep_ms(10, (volatile int *)NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[3], "upload-first") && strcmp(argv[3], "json-first"))) {
		fprintf(stderr,
		        "usage: discord-share-probe BASE CHANNEL upload-first|json-first\n");
		return 2;
	}
	log_set_level(LOG_WARN);
	struct probe p = {0};
	p.channel = argv[2];
	p.rest = discord_rest_new(argv[1], "fake-bot-token", 50, 30000);
	p.up = discord_upload_new(argv[1], "fake-bot-token", 30000);
	int upload_first = p.upload_first = !strcmp(argv[3], "upload-first");
	pthread_t th;
	pthread_create(&th, NULL, first, &p);
	int rc = 1;
	/* the stats of the client that was given the 429 */
	if (!saw_429(upload_first ? discord_upload_rest(p.up) : p.rest)) {
		fprintf(stderr, "probe: the first call was never given a 429\n");
		pthread_join(th, NULL);
		goto out;
	}
	int second = upload_first ? post_json(&p, p.err2, sizeof p.err2)
	                          : post_file(&p, p.err2, sizeof p.err2);
	pthread_join(th, NULL);
	if (second < 0 || p.rc < 0) {
		fprintf(stderr, "probe: %s\n", second < 0 ? p.err2 : p.err);
		goto out;
	}
	printf("ok json=%s file=%s\n", p.json_id, p.file_id);
	rc = 0;
out:
	discord_upload_free(p.up);
	discord_rest_free(p.rest);
	return rc;
}
