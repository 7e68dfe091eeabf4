/*
 * state.h: opsbot-bot's own small SQLite database (var/bot.db).
 *
 * It remembers, per surface ("slack", "discord"), so that nothing is lost or
 * posted twice across restarts:
 *   - the last queue event seq the surface finished (catch-up starts after it);
 *   - which events (or other keyed steps) were posted, with a reference
 *     (e.g. the message ts) so a retry after a crash finds the first post;
 *   - each incident's thread: channel and parent message id/ts.
 *
 * Each thread that needs the database opens its own handle (WAL mode, a busy
 * timeout), so the lws loop and a surface's sender thread never share one.
 *
 * Invariants:
 *  1. A surface's stored seq never goes down (state_seq_set keeps the max).
 *  2. (surface, key) is posted at most once; a second put keeps the first ref.
 *
 * Ownership: the caller closes what state_open returns with state_close.
 */
#ifndef OPSBOT_BOT_STATE_H
#define OPSBOT_BOT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct state;

int state_open(const char *path, struct state **out, char *err, size_t errlen);
void state_close(struct state *st);

/* The last finished seq of a surface: 1 (stored), 0 (never stored; *seq = 0), -1 on error. */
int state_seq_get(struct state *st, const char *surface, int64_t *seq);
/* Raise a surface's seq to seq (never lowers it).  0, or -1 on error. */
int state_seq_set(struct state *st, const char *surface, int64_t seq);

/*
 * Whether key was posted by surface: 1 (ref copied when ref is not NULL),
 * 0 when not, -1 on error.
 */
int state_posted_get(struct state *st, const char *surface, const char *key, char *ref,
                     size_t reflen);
/* Record key as posted with ref; a repeat keeps the first.  0, or -1. */
int state_posted_put(struct state *st, const char *surface, const char *key, const char *ref);

/* An incident's thread: 1 and channel/parent copied, 0 when none, -1 on error. */
int state_thread_get(struct state *st, const char *surface, int64_t incident, char *channel,
                     size_t chlen, char *parent, size_t plen);
/* Record (or replace) an incident's thread.  0, or -1. */
int state_thread_put(struct state *st, const char *surface, int64_t incident, const char *channel,
                     const char *parent);

/*
 * The incident whose thread has parent message `parent` (Slack ts, Discord
 * message id; a Discord thread's id is its parent message id) on surface,
 * and, when channel is not NULL, in that channel.  1 and *incident set, 0
 * when no thread has it, -1 on error.  A click's message maps to its
 * incident through this (the message itself or the thread it is in).
 */
int state_thread_find(struct state *st, const char *surface, const char *channel,
                      const char *parent, int64_t *incident);

/*
 * A small keyed value per surface (e.g. an incident's last known record as
 * JSON, to redraw its parent message).  get: 1 and a new string in *val
 * (caller frees), 0 when absent, -1 on error.
 */
int state_kv_get(struct state *st, const char *surface, const char *key, char **val);
int state_kv_put(struct state *st, const char *surface, const char *key, const char *val);
/* The same for a JSON object (an incident snapshot): get gives 1 and a new
 * tree in *out (caller frees), 0 when absent or not an object, -1 on error. */
int state_kv_get_json(struct state *st, const char *surface, const char *key, cJSON **out);
int state_kv_put_json(struct state *st, const char *surface, const char *key, const cJSON *val);

/*
 * Prune what exactly-once no longer needs, at most max rows of each kind
 * per call (so a pass never stalls the loop long):
 *   - a post's intent (kv "intent:<key>") once the post is recorded as
 *     posted: the posted row now keeps it from being posted again;
 *   - an intent older than keep_ms with no post (a post refused for good;
 *     its event finished long ago);
 *   - posted rows older than keep_ms: their events are long finished and
 *     never replayed (a replay starts after the surface's stored seq).
 * Threads and incident snapshots stay, like the queue's incidents.
 * Returns the rows deleted (0..3*max), or -1 on error.
 */
int state_prune(struct state *st, int64_t now_ms, int64_t keep_ms, int max);
/* Rows in bot.db's per-post tables: intents and posted (for tests, stats). */
int state_post_rows(struct state *st, int64_t *intents, int64_t *posted);

/*
 * Leave WAL checkpoints (which fsync) to other connections of this file:
 * for the lws loop's handle, so a checkpoint never stalls the loop.  Some
 * other handle (a surface's sender) must then write often enough to
 * checkpoint; state_checkpoint() runs one (PASSIVE) by hand.
 */
int state_loop_mode(struct state *st);
int state_checkpoint(struct state *st);

#endif
