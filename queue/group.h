/*
 * group.h: alerts that belong together become one incident (queue/group.c).
 *
 * CONFIG ([pipeline]; [services] is read too)
 *   group_window   how long after an incident opens related alerts join it
 *                  (0: never; every alert opens its own incident)
 *   group_sources  sources whose incidents may join another
 *                  (alertmanager generic watch slack discord cli)
 */
#ifndef OPSBOT_QUEUE_GROUP_H
#define OPSBOT_QUEUE_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "handle.h"

/* group_sources as a bit mask; -1 with the unknown word in bad. */
int group_sources_parse(const char *text, unsigned *mask, char *bad, size_t badlen);
/* One [services] edge: caller calls callee.  -1 when the table is full. */
int group_edge_add(struct group_conf *g, const char *caller, const char *callee);
/* Same service, or one calls the other. */
int group_related(const struct group_conf *g, const char *a, const char *b);
/*
 * Should the incident spec join a live one?  1 and *into, 0 (open a new
 * one), -1 when the store failed.  Runs inside the batch's transaction.
 */
int group_find(struct queue *q, const cJSON *spec, int64_t *into);
/* Record spec as one more alert of incident into (spec count, event); 1, or -1. */
int group_attach(struct queue *q, int64_t into, const cJSON *spec);

#endif
