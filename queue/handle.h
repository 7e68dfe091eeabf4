/*
 * handle.h: what opsbot-queue does with each request (handle.c).
 *
 * The main loop (main.c) owns the sockets and the transaction; these
 * functions run inside that transaction, change the store, queue events in
 * q->outbox for publishing after COMMIT, and build the reply.  They never
 * send anything themselves, so nothing leaves the process before COMMIT.
 */
#ifndef OPSBOT_QUEUE_HANDLE_H
#define OPSBOT_QUEUE_HANDLE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"
#include "wire.h"

struct catalog;
struct policy;

/*
 * Who sent the request being handled (main.c reads it from the NNG pipe).
 *   PEER_SERVICE  ipc:// peer running as the queue's own uid: opsbot-bot,
 *                 the workers, opsbotctl run by the service account.  Full
 *                 rights; the only peer that may state a chat user id.
 *   PEER_LOCAL    ipc:// peer with another uid (a person's opsbotctl when
 *                 [queue] socket_group lets them reach the socket): read
 *                 requests, submit an incident, approve/reject/commands as
 *                 their own local account (surface "cli").
 *   PEER_REMOTE   tls+tcp:// peer with a client certificate our CA signed,
 *                 or a plain tcp:// peer: a worker.  claim, heartbeat,
 *                 complete, fail, submit, query; never approve or command.
 */
enum peer_kind { PEER_SERVICE, PEER_LOCAL, PEER_REMOTE };

struct handle_peer {
	enum peer_kind kind;
	long long uid;    /* ipc://: the peer's uid from SO_PEERCRED; -1 otherwise */
	char account[64]; /* ipc://: its account name ("uid:N" when it has none) */
	char via[16];     /* "ipc", "tls+tcp", "tcp" */
};

#define GROUP_EDGES_MAX 512

/* [pipeline] group_window / group_sources and the [services] graph (queue/group.c). */
struct group_conf {
	int64_t window_ms; /* 0: no grouping */
	unsigned sources;  /* bit per group_sources word */
	int nedges;
	struct {
		char caller[64], callee[64];
	} edges[GROUP_EDGES_MAX];
};

/* [queue] retain_* and prune_interval (queue/retention.c); 0 keeps forever. */
struct retain_conf {
	int64_t jobs_ms, events_ms, keys_ms, interval_ms;
};

struct queue_conf {
	const char *listen, *events, *db; /* owned by the config */
	const char *socket_group;         /* NULL: sockets owner-only */
	const char *policy, *catalog;     /* NULL: [plan]'s */
	const char *tls_listen, *tls_cert, *tls_key, *tls_ca, *tls_port_file;
	int64_t lease_ms, retry_base_ms, approval_expiry_ms;
	int max_attempts, contexts;
	enum store_sync sync;
	unsigned stages; /* bit per enum stage_id */
	struct group_conf group;
	struct retain_conf retain;
};

struct queue {
	struct queue_conf conf;
	struct store *st;
	cJSON *outbox; /* events (whole wire messages) to publish after COMMIT */
	int64_t now;   /* wall clock of the current batch, ms */
	/*
	 * Kinds that got a claimable job in this batch (queue_mark_ready): only
	 * parked claims for one of them are tried again after the batch.  all:
	 * some job of an unknown kind (every parked claim is tried).
	 */
	struct {
		char kind[8][WIRE_KIND_MAX + 1];
		int n, all;
	} ready;
	uint64_t commits, requests, rollbacks;
	int parked;            /* claims waiting (for stats) */
	int64_t next_prune_ms; /* wall clock of the next retention pass */
	uint64_t pruned_jobs, pruned_events, pruned_keys;
	int64_t started_ms;
	/* Approval policy; NULL: no policy loaded, so every approve is refused. */
	const struct catalog *cat;
	const struct policy *pol;
	/* The sender of the request in hand; NULL counts as PEER_SERVICE (tests, bench). */
	const struct handle_peer *peer;
};

enum handle_rc {
	HANDLE_REPLY = 0,     /* *reply is set; send it after COMMIT */
	HANDLE_PARK = 1,      /* a claim found nothing: wait (main.c retries it) */
	HANDLE_STORE_ERR = -1 /* the store failed: roll the batch back */
};

/* The one dispatcher: a switch over the request type.  *reply belongs to the caller. */
enum handle_rc handle_request(struct queue *q, const struct wire_msg *m, cJSON **reply);
/* Retry a parked claim: HANDLE_REPLY with its job(s), HANDLE_PARK when still none. */
enum handle_rc handle_claim_try(struct queue *q, const struct wire_msg *m, cJSON **reply);
/* The empty reply of a claim whose wait passed (job:null, or jobs:[] with max); caller owns it. */
cJSON *handle_claim_none(const struct wire_msg *m);
/* A job of kind (NULL: of some kind) became claimable in this batch. */
void queue_mark_ready(struct queue *q, const char *kind);
/* Did any of a claim's kinds (its "kinds" array) get work in this batch? */
int queue_ready_for(const struct queue *q, const cJSON *kinds);
/* Append an event to the timeline and to q->outbox (published after COMMIT); 0 or -1. */
int handle_event(struct queue *q, int64_t incident, const char *name, cJSON *data);
/* Expired leases and approval deadlines; 0 or HANDLE_STORE_ERR. */
int handle_timers(struct queue *q);

#endif
