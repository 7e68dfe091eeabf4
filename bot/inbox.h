/*
 * inbox.h: declarations opsbot acked in chat before the queue stored them.
 *
 * A slash command that declares an incident is acked as soon as its queue
 * request is in this file (SQLite, WAL, synchronous = FULL: on disk when
 * inbox_put returns), so the ack waits for one local fsync and no other
 * process.  The request then goes to the queue; its row is marked done
 * with the incident the queue answered, in batches and without an fsync (a
 * mark lost in a crash only sends the request again).  Rows not done are
 * sent again (same bytes: the same wire id and key, so the queue acts once)
 * at start and while the queue is unreachable, until it answers.  A done
 * row answers a repeat of the same command at once, and is pruned after a
 * while.  Nothing indexes pending rows: the caller looks for them only at
 * start and after a send failed.
 *
 * Invariants:
 *  1. A key has one row; its request never changes.
 *  2. A row goes from pending (incident 0) to done (incident > 0, or -1
 *     when the queue refused the request), never back.
 *
 * Loop thread only: one connection that no other thread shares, so a put
 * never waits on another writer's lock.  The caller closes what inbox_open
 * returns with inbox_close.
 */
#ifndef OPSBOT_BOT_INBOX_H
#define OPSBOT_BOT_INBOX_H

#include <stddef.h>
#include <stdint.h>

struct inbox;

int inbox_open(const char *path, struct inbox **out, char *err, size_t errlen);
void inbox_close(struct inbox *ib);

struct inbox_row {
	const char *key, *channel, *user, *request; /* borrowed */
	int64_t incident;                           /* 0 pending, > 0 done, -1 refused */
	int told;                                   /* the user heard the queue was away */
};

/*
 * Store a new pending row, durably.  0 when stored; 1 when key was there
 * already (*incident gets its incident: 0 while pending); -1 on error
 * (logged; nothing stored).
 */
int inbox_put(struct inbox *ib, const struct inbox_row *row, int64_t now_ms, int64_t *incident);
/*
 * The queue answered: incident > 0, or -1 when it refused.  Kept in memory
 * (a repeat sees it at once) and written by the next inbox_flush, which the
 * caller runs on its tick; inbox_pending and inbox_close flush first.  0 or
 * -1.
 */
int inbox_done(struct inbox *ib, const char *key, int64_t incident);
/* Write the answers inbox_done kept, in one transaction, without an fsync. */
int inbox_flush(struct inbox *ib);
/* The user was told the queue is away (once per row).  0 or -1. */
int inbox_told(struct inbox *ib, const char *key);
/*
 * Call fn for each pending row, oldest first, at most max of them; the
 * row's strings live until fn returns.  Returns how many, or -1.
 */
int inbox_pending(struct inbox *ib, int max, void (*fn)(void *arg, const struct inbox_row *row),
                  void *arg);
/* Delete done rows older than before_ms, at most max.  Rows deleted, or -1. */
int inbox_prune(struct inbox *ib, int64_t before_ms, int max);

#endif
