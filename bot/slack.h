/*
 * slack.h: the pieces of opsbot-bot's Slack surface, shared between its
 * files:
 *   slack.c         the surface: config, start-up, events -> messages
 *   slack_in.c      commands, clicks, the reject modal, mentions (in)
 *   slack_web.c     Web API senders (outbox per channel, rate limits)
 *   slack_socket.c  Socket Mode client on the lws loop
 *   slack_render.c  templates -> {text, blocks}
 *   slack_sig.c     HTTP mode request signatures
 */
#ifndef OPSBOT_BOT_SLACK_H
#define OPSBOT_BOT_SLACK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct bot;
struct httpd_x;
struct lane;
struct route_table;
struct slack_socket;
struct state;
struct template_set;

/* ---- slack.c: the surface, shared with slack_in.c ---- */

struct slack {
	struct bot *b;
	struct template_set *ts;
	struct slack_web *web;
	struct slack_socket *sock;
	struct lane *ui; /* modals (views.open): never behind the outbox's posts */
	const char *api_url, *bot_token;
	const char *channel;        /* default channel, may be NULL */
	struct route_table *routes; /* [slack] route lines (route.h) */
	const char *signing_secret;
	int64_t queue_timeout_ms;
	int64_t done_reported;
	int64_t done_at_ms;
	int health_set;      /* the socket's problem is in /healthz */
	struct inbox *inbox; /* declarations acked before the queue has them */
	int inbox_inflight;  /* their queue calls in flight */
	int inbox_waiting;   /* rows may wait unsent: set at start and when a send fails */
	int64_t inbox_retry_at, inbox_prune_at; /* monotonic ms */
};

/* ---- slack_web.c: the outbox ---- */

enum slack_op_kind {
	SLACK_OP_PARENT,    /* post the incident's parent message; remember its ts */
	SLACK_OP_UPDATE,    /* chat.update the parent */
	SLACK_OP_REPLY,     /* post in the incident's thread */
	SLACK_OP_EPHEMERAL, /* chat.postEphemeral to one user */
	SLACK_OP_EDIT,      /* chat.update the thread reply posted under `key` */
	SLACK_OP_DONE,      /* every op before this finished: event `seq` is done */
	SLACK_OP_SUMMARY,   /* made by a sender: new incidents still waiting (storm) */
};

struct slack_web;
struct slack_op {
	struct slack_op *next;
	struct slack_web *web; /* set by slack_web_push */
	enum slack_op_kind kind;
	int64_t incident;
	int64_t seq;
	char key[96];          /* posted-once key (event id + part), "" for none;
	                          EDIT: the key of the reply to change */
	char channel[64];      /* PARENT/EPHEMERAL: where; others look the thread up */
	char user[64];         /* EPHEMERAL */
	char *text;            /* owned */
	char *blocks;          /* owned JSON array text, or NULL */
	int nobatch;           /* REPLY: never joined with others (it is edited later) */
	int summarized;        /* PARENT: listed in a storm summary already */
	struct slack_op *more; /* a batch: the replies joined after this one */
};

struct slack_web_cfg {
	const char *api_url;   /* "https://slack.com/api/" */
	const char *bot_token; /* xoxb-... */
	const char *state_path;
	double channel_rate; /* posts per second per channel; 0 = no limit */
	double channel_burst;
	int method_limits; /* apply Slack's per-method tiers */
	int max_tries;     /* per op for 5xx / transport errors */
	int64_t max_backoff_ms;
	int senders;       /* sender threads (channels served at once), 1..16 */
	int storm_queue;   /* a channel with more ops waiting batches its replies; 0 = never */
	int storm_summary; /* this many new incidents waiting in a channel beyond what may
	                      post now: one summary message lists them; 0 = never */
};

struct slack_web;
int slack_web_start(struct slack_web **out, const struct slack_web_cfg *cfg, struct bot *b,
                    char *err, size_t errlen);
/*
 * Queue op (takes ownership).  PARENT/REPLY/UPDATE/EDIT/EPHEMERAL ops need
 * op->channel (the queue they wait in); DONE needs none.  Within a channel
 * a new incident's parent goes first, an incident's replies and edits keep
 * their order, and a waiting UPDATE (EDIT of the same key) takes the newer
 * text instead of queueing a second call.  See slack_web.c.
 */
void slack_web_push(struct slack_web *w, struct slack_op *op);
/* The highest seq whose DONE op ran (loop thread reads it). */
int64_t slack_web_done_seq(struct slack_web *w);
size_t slack_web_pending(struct slack_web *w);
/* Stop the sender (queued ops are dropped; a restart replays them);
 * returns the last done seq. */
int64_t slack_web_stop(struct slack_web *w);

/*
 * One blocking Web API call with the given token, for the few calls made
 * off the outbox (apps.connections.open from the connector thread).
 * *reply is the parsed body (caller frees).  0 when ok:true; -1 transport or
 * HTTP error (err); -2 ok:false (err holds the Slack error code).
 * *retry_after_ms is set on 429 (else -1).
 */
int slack_web_call(const char *api_url, const char *token, const char *method, const cJSON *args,
                   cJSON **reply, int64_t *retry_after_ms, char *err, size_t errlen);

struct slack_op *slack_op_new(enum slack_op_kind kind, int64_t incident, int64_t seq);

/* ---- slack_render.c ---- */

/*
 * Render template `name` (JSON blocks) and `name`_text (fallback) with ctx.
 * *text and *blocks are new strings (caller frees); *blocks may be NULL when
 * the set has no JSON template.  0, or -1 with err.
 */
int slack_render(const struct template_set *ts, const char *name, const cJSON *ctx, char **text,
                 char **blocks, char *err, size_t errlen);
/* Load templates from dir, falling back to the built-in set when dir is absent. */
int slack_render_load(const char *dir, struct template_set **out, char *err, size_t errlen);
/* Render the plain-text template `name` with ctx (mrkdwn escaping); a new
 * string (caller frees), or NULL with err. */
char *slack_render_text(const struct template_set *ts, const char *name, const cJSON *ctx,
                        char *err, size_t errlen);
/* A reply to one person (templates/slack/reply_text, see there for ctx),
 * trimmed; a new string, or NULL with err. */
char *slack_render_reply(const struct template_set *ts, const cJSON *ctx, char *err, size_t errlen);

/* ---- slack_socket.c: Socket Mode ---- */

struct slack_socket;
struct slack_socket_cfg {
	const char *api_url;
	const char *app_token;
	int64_t dedupe_ttl_ms;
	int64_t max_backoff_ms;
	int sockets; /* sockets to keep open (1..3); Slack spreads envelopes */
};
/*
 * An envelope for the surface: the whole parsed message (type, envelope_id,
 * payload).  The surface must call slack_socket_ack exactly once per
 * envelope it got (ack payload may be NULL), now or later.
 */
typedef void (*slack_envelope_fn)(void *arg, struct slack_socket *s, int conn,
                                  const cJSON *envelope);
int slack_socket_start(struct slack_socket **out, const struct slack_socket_cfg *cfg, struct bot *b,
                       slack_envelope_fn fn, void *arg, char *err, size_t errlen);
/* Ack envelope_id on connection conn (a no-op when that socket closed). */
void slack_socket_ack(struct slack_socket *s, int conn, const char *envelope_id,
                      const cJSON *payload);
void slack_socket_tick(struct slack_socket *s);
int slack_socket_connected(const struct slack_socket *s);
/* Why Socket Mode was switched off for good (link_disabled, invalid_auth),
 * or NULL while it is not; the string lives as long as s. */
const char *slack_socket_problem(const struct slack_socket *s);
void slack_socket_stop(struct slack_socket *s);

/* ---- slack_in.c: inbound ---- */

void slack_in_envelope(void *arg, struct slack_socket *s, int conn, const cJSON *envelope);
void slack_in_http_commands(struct httpd_x *x, void *arg);
void slack_in_http_interactive(struct httpd_x *x, void *arg);
void slack_in_http_events(struct httpd_x *x, void *arg);
/* Send declarations still waiting for the queue again (loop tick). */
void slack_inbox_tick(struct slack *sl);

#endif
