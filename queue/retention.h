/*
 * retention.h: pruning of finished jobs, standalone events and old
 * idempotency keys (queue/retention.c).
 *
 * CONFIG ([queue]; durations, 0 keeps forever)
 *   retain_jobs     finished jobs, after their last update     7d
 *   retain_events   events of no incident                      30d
 *   retain_keys     idempotency keys (a resend after this
 *                   long is taken as new)                       30d
 *   prune_interval  how often to prune                          1h
 */
#ifndef OPSBOT_QUEUE_RETENTION_H
#define OPSBOT_QUEUE_RETENTION_H

#include "handle.h"

/* Prune when due (inside the batch's transaction); 0, or -1 when the store failed. */
int retention_run(struct queue *q);

#endif
