/*
 * outbox.h: how the queue treats outbox jobs (mail opsbot-report delivers).
 *
 * A mail relay that is down must delay mail, not lose it: an "email" job
 * gets OUTBOX_MAX_ATTEMPTS deliveries (or [queue] max_attempts when that
 * is larger) instead of the few a pipeline stage gets.  With the retry
 * backoff (retry_base doubling, capped at 1 h) that is more than a day
 * of a relay being unreachable before the job is dead-lettered, where
 * "opsbotctl retry JOB" can still send it.
 */
#ifndef OPSBOT_QUEUE_OUTBOX_H
#define OPSBOT_QUEUE_OUTBOX_H

#define OUTBOX_KIND_EMAIL   "email"
#define OUTBOX_MAX_ATTEMPTS 40

/* Attempts a job of this kind gets; def is [queue] max_attempts. */
int outbox_max_attempts(const char *kind, int def);

#endif
