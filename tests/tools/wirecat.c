/*
 * NAME
 *   wirecat - send one opsbot wire request and print the reply
 *
 * SYNOPSIS
 *   wirecat [-t TIMEOUT_MS] [-r RETRIES] URL [JSON]
 *   wirecat -s [-t TIMEOUT_MS] [-n COUNT] URL     (subscribe: print events)
 *
 * DESCRIPTION
 *   A test and debugging tool.  JSON is the request (from argv or stdin);
 *   fields of the envelope that are missing (v, id, trace, incident) are
 *   filled in, so '{"type":"query","what":"stats"}' is enough.  The reply
 *   is printed as one line on stdout.  Exit status: 0 ok:true, 1 ok:false,
 *   2 transport failure or bad input.  With -s it subscribes to a PUB URL
 *   and prints COUNT events (default 1), one per line, then exits; 2 when
 *   none came within the timeout.
 *
 * TRUST
 *   Sends whatever it is given; the queue does the checking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "wire.h"

static int wirecat_sub(const char *url, int timeout_ms, long count)
{
	struct rpc_sub *s;
	char err[256];
	if (rpc_sub_open(&s, url, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirecat: %s\n", err);
		return 2;
	}
	for (long i = 0; i < count; i++) {
		cJSON *ev;
		if (rpc_sub_recv(s, &ev, timeout_ms) < 0) {
			fprintf(stderr, "wirecat: no event within %d ms\n", timeout_ms);
			rpc_sub_close(s);
			return 2;
		}
		char *t = json_print(ev);
		printf("%s\n", t);
		fflush(stdout);
		free(t);
		cJSON_Delete(ev);
	}
	rpc_sub_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	int timeout_ms = 5000, retries = 0, sub = 0, opt;
	long count = 1;
	log_init("wirecat");
	while ((opt = getopt(argc, argv, "t:r:sn:")) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = (int)strtol(optarg, NULL, 10);
			break;
		case 'r':
			retries = (int)strtol(optarg, NULL, 10);
			break;
		case 's':
			sub = 1;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(
			    stderr,
			    "usage: wirecat [-t MS] [-r N] URL [JSON] | wirecat -s [-n N] URL\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "wirecat: URL missing\n");
		return 2;
	}
	const char *url = argv[optind];
	if (sub)
		return wirecat_sub(url, timeout_ms, count);
	struct buf in = {.max = WIRE_MAX_BYTES};
	if (optind + 1 < argc) {
		buf_append(&in, argv[optind + 1], strlen(argv[optind + 1]));
	} else {
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
			if (buf_append(&in, chunk, n) < 0) {
				fprintf(stderr, "wirecat: request larger than %d bytes\n",
				        WIRE_MAX_BYTES);
				return 2;
			}
		}
	}
	cJSON *req;
	char err[512];
	if (json_parse_object(in.data ? in.data : "", in.len, &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirecat: %s\n", err);
		return 2;
	}
	buf_free(&in);
	/* Fill the envelope where the caller left it out. */
	cJSON *env = wire_new(WIRE_QUERY, 0);
	static const char *const keys[] = {"v", "id", "incident", "trace"};
	for (size_t i = 0; i < 4; i++)
		if (!cJSON_GetObjectItemCaseSensitive(req, keys[i]))
			json_add(req, keys[i],
			         json_dup(cJSON_GetObjectItemCaseSensitive(env, keys[i])));
	cJSON_Delete(env);
	struct rpc *r;
	if (rpc_open(&r, url, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirecat: %s\n", err);
		return 2;
	}
	cJSON *reply = NULL;
	int rc = rpc_call(r, req, &reply, timeout_ms, retries, err, sizeof(err));
	if (reply) {
		char *t = json_print(reply);
		printf("%s\n", t);
		free(t);
	} else {
		fprintf(stderr, "wirecat: %s\n", err);
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
	rpc_close(r);
	return rc == 0 ? 0 : rc == -2 ? 1 : 2;
}
