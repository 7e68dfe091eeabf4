/*
 * jobs.h: what the retrieve and index jobs read from their input.
 *
 * retrieve input {incident:{title, service, summary, labels{}}, detect:{summary,
 * ranking[{service, rationale}]}} becomes one query text.  index input
 * {incident:{id, title, service, summary, labels{}}, timeline:[{name, data}]}
 * becomes a struct kb_incident: root cause from the detect result, actions
 * and their outcome from the execute and verify results.  Inputs come from
 * the queue and are checked field by field; an unexpected shape is an error
 * naming the field, never a crash.
 *
 * Ownership: strings written into struct jobs_memory belong to it until
 * jobs_memory_free().
 */
#ifndef OPSBOT_RETRIEVE_JOBS_H
#define OPSBOT_RETRIEVE_JOBS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "kb.h"
#include "mem.h"

#define JOBS_QUERY_MAX 2048 /* bytes of query text built from an incident */

/* Append the query text for a retrieve input to q (bounded).  -1 with err. */
int jobs_query(const cJSON *input, struct buf *q, char **service, char *err, size_t errlen);

struct jobs_memory {
	struct kb_incident inc; /* pointers into the strings below */
	char *title, *service, *summary, *root_cause, *actions;
	char signature[256];
};

/* Build incident memory from an index input; incident_id is the job's. */
int jobs_memory_from(const cJSON *input, int64_t incident_id, struct jobs_memory *m, char *err,
                     size_t errlen);
void jobs_memory_free(struct jobs_memory *m);

#endif
