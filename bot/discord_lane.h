/*
 * discord_lane.h: a sender lane: one thread that runs jobs in order.
 *
 * The Discord surface never calls the network from the lws loop.  It pushes
 * jobs onto lanes: one for interaction answers (never queued behind channel
 * posts, so the 3-second deadline holds), one for channel posts (in event
 * order, so a thread reads in the order things happened).  A job may make
 * several blocking REST calls; it reports back to the loop thread itself.
 *
 * Invariants:
 *  1. Jobs of one lane run one at a time, in push order.
 *  2. discord_lane_stop() lets the running job finish, then frees every job
 *     still queued with its free function without running it.
 *
 * Ownership: the lane owns arg from push until run or free_fn.
 */
#ifndef OPSBOT_BOT_DISCORD_LANE_H
#define OPSBOT_BOT_DISCORD_LANE_H

#include <stddef.h>

struct http_client;
struct discord_lane;

/* Runs on the lane's thread with the lane's own HTTP client; frees arg. */
typedef void (*discord_job_fn)(void *arg, struct http_client *hc);
typedef void (*discord_job_free)(void *arg);

struct discord_lane *discord_lane_start(const char *name);
void discord_lane_push(struct discord_lane *l, discord_job_fn fn, discord_job_free free_fn,
                       void *arg);
/* Jobs waiting (not counting the one running). */
size_t discord_lane_pending(struct discord_lane *l);
void discord_lane_stop(struct discord_lane *l);

#endif
