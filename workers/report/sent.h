/*
 * sent.h: the report worker's record of mail the relay accepted.
 *
 * One SQLite file ([report] db, WAL, synchronous=FULL).  After the relay's
 * 250 for a message, its Message-ID is written here before the outbox job
 * is completed; a job delivered again (the worker died before completing,
 * or the queue did not hear the completion) finds the row and completes
 * without sending.  The remaining window is the time between the 250 and
 * this commit (a few milliseconds): a crash exactly there sends the mail
 * again, with the same Message-ID, which mail clients show once.
 * The file is per host: report workers on several hosts each keep their own.
 * It also holds the digest schedule (below), so digests of periods that
 * ended while the worker was down are queued when it is back.
 */
#ifndef OPSBOT_REPORT_SENT_H
#define OPSBOT_REPORT_SENT_H

#include <stddef.h>
#include <stdint.h>

struct sent;

int sent_open(struct sent **out, const char *path, char *err, size_t errlen);
void sent_close(struct sent *s);
/* 1 when message_id was sent (with *at_ms), 0 when not, -1 on error. */
int sent_get(struct sent *s, const char *message_id, int64_t *at_ms);
int sent_put(struct sent *s, const char *message_id, int64_t job, const char *to, int64_t at_ms);

/*
 * The digest schedule: the start of the next period whose digest is still to
 * be queued, per period name.  1 with *next_from_ms, 0 when never stored, -1.
 */
int sent_sched_get(struct sent *s, const char *period, int64_t *next_from_ms);
int sent_sched_put(struct sent *s, const char *period, int64_t next_from_ms);

#endif
