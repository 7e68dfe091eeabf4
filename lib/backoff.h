/*
 * backoff.h: exponential backoff between retries (reconnects, restarts).
 *
 * Each delay doubles the previous one, from min_ms up to max_ms, and
 * backoff_reset() starts over after a success.  No jitter: the processes
 * retrying against one queue are few and the sequence stays predictable for
 * tests and for the person reading the log.
 */
#ifndef OPSBOT_BACKOFF_H
#define OPSBOT_BACKOFF_H

#include <stdint.h>

struct backoff {
	int64_t min_ms;
	int64_t max_ms;
	int64_t next_ms; /* the delay backoff_next() returns next */
};

void backoff_init(struct backoff *b, int64_t min_ms, int64_t max_ms);
/* The delay to wait now; the one after it is twice as long (capped). */
int64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

#endif
