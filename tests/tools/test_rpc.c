/*
 * NAME
 *	test-rpc - send one raw request to opsbot-queue (integration tests only)
 *
 * SYNOPSIS
 *	test-rpc URL TYPE [FIELDS-JSON] [INCIDENT]
 *
 * DESCRIPTION
 *	Builds a request of TYPE (submit, claim, query, ...) with a fresh
 *	envelope (wire_new), adds the fields of the FIELDS-JSON object, sends
 *	it with rpc_call and prints the reply on one line.  Exit 0 for ok:true,
 *	1 for ok:false (reply still printed), 3 when the queue does not answer.
 *	Lets tests make requests opsbotctl has no command for (raw jobs,
 *	claims) without a second implementation of the protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "rpc.h"
#include "wire.h"

int main(int argc, char **argv)
{
	log_init("test-rpc");
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: test-rpc URL TYPE [FIELDS-JSON] [INCIDENT]\n");
		return 2;
	}
	enum wire_type t;
	if (wire_type_parse(argv[2], &t) < 0) {
		fprintf(stderr, "test-rpc: unknown type %s\n", argv[2]);
		return 2;
	}
	char err[512];
	cJSON *fields = NULL;
	if (argc >= 4 && json_parse_object(argv[3], strlen(argv[3]), &fields, err, sizeof(err)) < 0) {
		fprintf(stderr, "test-rpc: fields: %s\n", err);
		return 2;
	}
	cJSON *req = wire_new(t, argc == 5 ? strtoll(argv[4], NULL, 10) : 0);
	while (fields && fields->child) {
		cJSON *it = cJSON_DetachItemViaPointer(fields, fields->child);
		cJSON_AddItemToObject(req, it->string, it);
	}
	cJSON_Delete(fields);
	struct rpc *r;
	if (rpc_open(&r, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "test-rpc: %s\n", err);
		cJSON_Delete(req);
		return 3;
	}
	cJSON *reply = NULL;
	int rc = rpc_call(r, req, &reply, 5000, 0, err, sizeof(err));
	cJSON_Delete(req);
	if (reply) {
		char *s = json_print(reply);
		puts(s);
		free(s);
	}
	if (rc == -1)
		fprintf(stderr, "test-rpc: %s\n", err);
	cJSON_Delete(reply);
	rpc_close(r);
	return rc == 0 ? 0 : rc == -2 ? 1 : 3;
}
