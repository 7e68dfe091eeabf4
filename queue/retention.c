/*
 * retention.c: keep the incident database bounded in a long run.
 *
 * Every [queue] prune_interval, inside the loop's normal batch transaction,
 * finished jobs (done, cancelled), events about no incident and
 * idempotency keys older than their retain_* setting are deleted, at most
 * PRUNE_BATCH rows of each per pass so the writer is never held long (a
 * backlog drains over the next passes, which then come every tick).
 * Incidents, their timelines, approvals and the action ledger are kept: they
 * are the record people read and the memory retrieval learns from.  A job's
 * result is also stored on its incident, so pruning a done job loses
 * nothing a person sees.
 */
#include "retention.h"

#include "log.h"
#include "store.h"

#define PRUNE_BATCH 2000

int retention_run(struct queue *q)
{
	const struct retain_conf *r = &q->conf.retain;
	if (r->interval_ms <= 0 || q->now < q->next_prune_ms)
		return 0;
	struct store_pruned p;
	if (store_prune(q->st, r->jobs_ms > 0 ? q->now - r->jobs_ms : 0,
	                r->events_ms > 0 ? q->now - r->events_ms : 0,
	                r->keys_ms > 0 ? q->now - r->keys_ms : 0, PRUNE_BATCH, &p) < 0)
		return -1;
	q->pruned_jobs += (uint64_t)p.jobs;
	q->pruned_events += (uint64_t)p.events;
	q->pruned_keys += (uint64_t)p.keys;
	int more = p.jobs == PRUNE_BATCH || p.events == PRUNE_BATCH || p.keys == PRUNE_BATCH;
	q->next_prune_ms = q->now + (more ? 0 : r->interval_ms);
	if (p.jobs || p.events || p.keys)
		log_info("event=pruned jobs=%lld events=%lld keys=%lld more=%d", (long long)p.jobs,
		         (long long)p.events, (long long)p.keys, more);
	return 0;
}
