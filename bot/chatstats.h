/*
 * chatstats.h: counters of the chat APIs' HTTP calls (Slack Web API,
 * Discord REST), per surface and method/route, for /metrics.
 *
 * Process-wide and thread-safe: the callers are the surfaces' sender and
 * connector threads.  At most CHATSTATS_MAX (surface, route) rows; calls past
 * that count under route "other", so the label set stays bounded.  Path
 * segments that are ids (5+ digits) become ":id" and long ones (tokens, e.g.
 * Discord's interaction webhooks) ":token": bounded labels, no secrets.
 *
 * Invariant: every counter only rises.
 */
#ifndef OPSBOT_BOT_CHATSTATS_H
#define OPSBOT_BOT_CHATSTATS_H

#include <stddef.h>

struct buf;

#define CHATSTATS_MAX 64

/*
 * One finished HTTP call of surface ("slack") to route ("chat.postMessage",
 * "POST /channels/:id/messages") that got HTTP status (0: no answer, a
 * transport error or timeout).
 */
void chatstats_count(const char *surface, const char *route, long status);

/* Append the counters in Prometheus text format (nothing when none yet). */
void chatstats_write(struct buf *out);

/* One counter, for tests: which 0 calls, 1 429s, 2 5xx, 3 transport errors. */
unsigned long long chatstats_get(const char *surface, const char *route, int which);

#endif
