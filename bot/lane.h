/*
 * lane.h: a lane: worker threads that run queued jobs, for the parts of
 * opsbot-bot that must not block the lws loop.
 *
 * With one thread a lane keeps order: Slack's outbox and Discord's post
 * lane run an incident's messages in event order, so a thread reads in the
 * order things happened.  With several threads (the queue-call pool of
 * bot.c) jobs run in parallel, each still started in push order.  Keyed
 * jobs (lane_push_keyed; Discord's posts, keyed by channel) run one at a
 * time per key, in push order, while other keys' jobs run on the other
 * threads: a key held up (a rate limit, a slow server) holds only its own
 * jobs.  Every thread has its own HTTP client, handed to each job it runs.
 *
 * Invariants:
 *  1. Jobs start in push order, except that a keyed job whose key is
 *     running is passed over (jobs behind it may start first); with one
 *     thread, one at a time.
 *  2. lane_stop() lets running jobs finish (lane_nap returns at once from
 *     then on), then frees every job still queued with its free function
 *     without running it.
 *  3. lane_pending() counts queued and running jobs.
 *  4. Two jobs with the same key never run at once, and start in push order.
 *
 * Ownership: the lane owns arg from push until fn ran (fn frees it) or
 * free_fn was called.
 */
#ifndef OPSBOT_BOT_LANE_H
#define OPSBOT_BOT_LANE_H

#include <stddef.h>
#include <stdint.h>

struct http_client;
struct lane;

/* Runs on a lane thread with that thread's HTTP client; frees arg. */
typedef void (*lane_job_fn)(void *arg, struct http_client *hc);
typedef void (*lane_free_fn)(void *arg);

/* Start nthreads (>= 1) threads named name; exits the process when it cannot. */
struct lane *lane_start(const char *name, int nthreads);
void lane_push(struct lane *l, lane_job_fn fn, lane_free_fn free_fn, void *arg);
/* Push with a key (NULL or "" = none; the first 63 bytes count). */
void lane_push_keyed(struct lane *l, const char *key, lane_job_fn fn, lane_free_fn free_fn,
                     void *arg);
size_t lane_pending(struct lane *l);
/* Sleep ms unless the lane is stopping; 1 when it is (then return at once). */
int lane_nap(struct lane *l, int64_t ms);
int lane_stopping(struct lane *l);
void lane_stop(struct lane *l);

#endif
