/*
 * learn.h: the planner learns from the queue's event log.
 *
 * A follower thread asks the queue for events after its cursor ("query
 * what:events since:N", so a restart or a lost PUB message loses nothing)
 * every [plan] learn_interval and applies them to its own connection of the
 * planner's memory:
 *   plan.proposed           the plan and its signature, per incident
 *   job.finished execute    the steps that ran (cooldowns, rate limits)
 *   job.finished verify     a win or a loss for each action that ran
 * The queue being away is not an error: the follower waits and asks again.
 */
#ifndef OPSBOT_PLAN_LEARN_H
#define OPSBOT_PLAN_LEARN_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "outcomes.h"

/* Apply one event (the wire.h event object) to o; 0, or -1 when o failed. */
int learn_event(struct outcomes *o, const cJSON *event);

struct learn;
/* Start following the queue at url into the memory at db_path. */
int learn_start(struct learn **out, const char *url, const char *db_path, int64_t interval_ms,
                char *err, size_t errlen);
/* Stop the thread and free everything. */
void learn_stop(struct learn *l);

#endif
