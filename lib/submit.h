/*
 * submit.h: one place that builds a `submit what:"incident"` request
 * (lib/wire.h), for every program that opens incidents.
 */
#ifndef OPSBOT_SUBMIT_H
#define OPSBOT_SUBMIT_H

#include <cjson/cJSON.h>

struct submit_incident {
	const char *key; /* idempotency key; NULL: none */
	const char *title, *service, *severity, *source;
	const char *summary; /* NULL: none */
	/* where it was declared, so the surface posts there; kind NULL: none */
	const char *surface_kind, *channel, *user;
	const char *user_id; /* the chat user id when user is a label; NULL: none */
};

/* Just the incident spec object of such a request; caller owns it. */
cJSON *submit_spec_new(const struct submit_incident *s);
/* A new submit request; caller owns it (cJSON_Delete). */
cJSON *submit_incident_new(const struct submit_incident *s);

#endif
