/*
 * discord_gw.h: the Discord Gateway client (v10, JSON) on the bot's lws loop.
 *
 *   idle --connect--> hello_wait --Hello--> identify / resume --READY|RESUMED--> live
 *    ^                                                                           |
 *    +---- drop, zombie, op 7, op 9, reconnectable close (backoff) <-------------+
 *   4004 / 4010-4014 --> stopped (logged once, never retried)
 *
 * Identify sends only the intents asked for; heartbeats start after
 * interval x random[0,1) and carry the last sequence number; a beat with no
 * ACK since the previous one marks the connection a zombie, which is closed
 * (not with 1000) and resumed.  Resume goes to READY's resume_gateway_url;
 * op 9 d:false, 4007 and 4009 start a new session at the cached /gateway/bot
 * URL; three failed resumes in a row (the resume host does not resolve,
 * refuses or drops us) start a new session at a fresh /gateway/bot URL.  At most one Identify per
 * identify_gap_ms (max_concurrency 1) and at most 120 frames per minute are sent (heartbeats keep a
 * reserve).
 *
 * Invariants:
 *  1. At most one connection at a time; a new one starts only after the old
 *     one's CLOSED callback.
 *  2. seq only grows within a session and is reset with it.
 *  3. Every callback runs on the lws loop thread.
 *
 * Ownership: the gw copies its configuration; cJSON handed to dispatch
 * belongs to the gw and lives only during the call.
 */
#ifndef OPSBOT_BOT_DISCORD_GW_H
#define OPSBOT_BOT_DISCORD_GW_H

#include <stdint.h>

#include <cjson/cJSON.h>

struct lws_context;
struct discord_gw;

struct discord_gw_ops {
	/* One dispatch (op 0): event name and its data. */
	void (*dispatch)(void *arg, const char *t, const cJSON *d);
	/* The gateway stopped for good (close code given). */
	void (*stopped)(void *arg, int code);
	/* Optional: resuming failed GW_RESUME_TRIES times; fetch GET /gateway/bot
	 * and call discord_gw_set_url (the gw waits up to 10 s, then identifies
	 * at the cached URL). */
	void (*need_url)(void *arg);
};

struct discord_gw_cfg {
	const char *token;
	unsigned intents;
	int64_t identify_gap_ms;     /* 5000 for max_concurrency 1 */
	int64_t invalid_wait_min_ms; /* op 9 d:false waits random [min, max] */
	int64_t invalid_wait_max_ms;
	int64_t backoff_max_ms;
};

struct discord_gw_stats {
	int connected; /* live: READY or RESUMED seen on this connection */
	int64_t seq;
	long identifies, resumes, reconnects, zombies, invalid_sessions;
	int stopped_code; /* nonzero once stopped */
	char session_id[64];
};

int discord_gw_new(struct discord_gw **out, struct lws_context *ctx,
                   const struct discord_gw_cfg *cfg, const struct discord_gw_ops *ops, void *arg,
                   char *err, size_t errlen);
/* The URL from GET /gateway/bot; connecting starts with the next tick. */
void discord_gw_set_url(struct discord_gw *g, const char *url);
/* Timers: connect, heartbeat, zombie check, delayed identify. */
void discord_gw_tick(struct discord_gw *g);
void discord_gw_stats(const struct discord_gw *g, struct discord_gw_stats *out);
/* Close with 1000 (the session ends) and free. */
void discord_gw_free(struct discord_gw *g);

/* "wss://host" or "ws://host:1/path/" + "?v=10&encoding=json", joined safely. */
void discord_gw_join_url(const char *base, char *out, size_t outlen);

#endif
