/*
 * bot.h: the context every part of opsbot-bot shares.
 *
 * One libwebsockets context and its service loop run on the main thread.
 * Nothing on that thread may block on the network: queue requests go
 * through bot_call(), which sends them without waiting (rpc_start); NNG's
 * callback hands the answer back and the callback runs on the loop thread
 * (woken with lws_cancel_service), before any event waiting there.
 * Queue events arrive from the NNG subscriber on another thread and are
 * dispatched to the surfaces on the loop thread, in seq order, exactly once
 * per process lifetime; gaps (a lost PUB message, a reconnect, a restart)
 * are filled with `query what:"events" since:N`.
 *
 * Invariants:
 *  1. Surfaces see events in strictly increasing seq, with no gaps except
 *     events the queue itself no longer has.
 *  2. bot_call callbacks and surface callbacks run on the loop thread only.
 *  3. A surface's stored seq (state.h) only rises, and only through
 *     bot_surface_done().
 *
 * Ownership: the bot owns cfg, the rpc handle, the subscriber, the state
 * handle and the httpd; surfaces borrow them.
 */
#ifndef OPSBOT_BOT_BOT_H
#define OPSBOT_BOT_BOT_H

#include <signal.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct lws_context;
struct config;
struct rpc;
struct state;
struct httpd;
struct surface;
struct bot_core; /* private to bot.c */

#define BOT_HEALTH_MAX 8

struct bot {
	struct config *cfg;
	const char *cfg_path;
	struct lws_context *lws;
	struct httpd *httpd;
	struct state *state; /* loop-thread handle to var/bot.db */
	const char *state_path;
	struct rpc *rpc; /* shared by the worker threads; thread-safe */
	const char *queue_url;
	const char *events_url; /* [bot] events, else [queue] events */
	int64_t catchup_ms;     /* [bot] catchup_interval */
	int rpc_threads;        /* [bot] rpc_threads */
	volatile sig_atomic_t stop;
	struct bot_core *core;
	/* what /healthz reports: one problem per part, "" = none (loop thread) */
	struct {
		char who[16];
		char what[240];
	} health[BOT_HEALTH_MAX];
};

/*
 * A part of the bot (e.g. "slack") cannot do its job and the operator must
 * act: /healthz answers 503 and lists it.  what NULL or "" clears it.
 * Loop thread only.
 */
void bot_health_set(struct bot *b, const char *who, const char *what);
/* The problems as "who: what" lines into out (""): the number of them. */
int bot_health_text(const struct bot *b, char *out, size_t outlen);

/*
 * Result of a queue request, on the loop thread.  rc is rpc_call's: 0 ok,
 * -1 transport error or timeout, -2 the queue said ok:false (reply holds the
 * reply).  reply and err belong to the bot and live until the callback
 * returns (json_dup what you keep).
 */
typedef void (*bot_call_cb)(struct bot *b, void *arg, int rc, const cJSON *reply, const char *err);

/*
 * Send req to the queue without blocking the loop.  Takes ownership of req.
 * cb may be NULL (fire and forget, errors logged).  timeout_ms per try;
 * retries resends with the same id.  Any thread may call it; at most
 * [bot] rpc_threads calls are in flight, later ones start in call order.
 */
void bot_call(struct bot *b, cJSON *req, int timeout_ms, int retries, bot_call_cb cb, void *arg);
/*
 * bot_call for a request someone waits on (a slash command is acked with
 * its answer): while it is in flight, queue events wait on the loop (at
 * most 20 ms, then until the next tick), so the answer finds the loop free.
 */
void bot_call_ack(struct bot *b, cJSON *req, int timeout_ms, int retries, bot_call_cb cb,
                  void *arg);

/* Record that surface `name` finished every event up to seq (durable). */
void bot_surface_done(struct bot *b, const char *name, int64_t seq);

/* Wake the loop from any thread (surfaces' own threads use it too). */
void bot_wake(struct bot *b);

/* Set up the core: rpc, subscriber, worker threads, state.  0 or -1 with err. */
int bot_core_start(struct bot *b, const struct surface *const *surfaces, void *const *privs,
                   int nsurfaces, char *err, size_t errlen);
/* Dispatch woken work: call results, events, catch-up; run every tick. */
void bot_core_pump(struct bot *b);
void bot_core_stop(struct bot *b);

/* The highest event seq dispatched so far (for /metrics and tests). */
int64_t bot_seq_dispatched(const struct bot *b);

#endif
