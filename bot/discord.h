/*
 * discord.h: the pieces of opsbot-bot's Discord surface, shared between its
 * files (the same layout as slack.h):
 *   discord.c         the surface: config, start-up (gateway URL, command
 *                     registration), queue events onto the post lane, /healthz
 *   discord_post.c    the post lane: incident message + thread, one message
 *                     per step, redraws, exactly-once across a crash
 *   discord_in.c      interactions: /incident, buttons, the reject modal;
 *                     answers and follow-ups on the answer lanes
 *   discord_render.c  templates/discord/ -> message bodies (bot/step.h)
 * Protocol pieces with their own headers and tests: discord_rest.h (REST
 * client, rate limits), discord_gw.h (Gateway), discord_sig.h (HTTP
 * interaction signatures).
 *
 * Threads: everything runs on the lws loop except jobs on three lanes
 * (lane.h):
 *   ack     interaction answers (3 s deadline) and start-up
 *   follow  follow-ups, which wait for their answer
 *   post    queue events rendered to channel messages: [discord] senders
 *           threads, one channel's events at a time and in seq order
 * Lanes report back through `done` (under mu) and bot_wake(); the loop
 * drains it in tick.
 */
#ifndef OPSBOT_BOT_DISCORD_H
#define OPSBOT_BOT_DISCORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SURFACE             "discord"
#define DISCORD_EPHEMERAL   64
#define DISCORD_TEXT_MAX    1500 /* characters of one step's text (content limit 2000) */
#define DISCORD_TITLE_MAX   200
#define DISCORD_SUMMARY_MAX 1000

struct bot;
struct discord_gw;
struct discord_rest;
struct http_client;
struct httpd_x;
struct lane;
struct post_order;
struct route_table;
struct state;
struct template_set;

#define DISCORD_MAX_CHANNELS 256
#define DISCORD_SEEN_MAX     512 /* interaction ids remembered against replays */
#define DISCORD_ANSWERED_MAX 256

struct discord_chan {
	char id[32];
	char name[101];
};

/* Work a lane finished, for the loop thread. */
struct discord_done {
	enum { DONE_SEQ = 1, DONE_BOOT, DONE_HEALTH } kind;
	int64_t seq;
	char url[512];  /* BOOT: the gateway URL */
	char what[240]; /* HEALTH: the problem, "" when cleared */
	struct discord_done *next;
};

struct discord {
	struct bot *b;
	struct discord_rest *rest;
	struct lane *ack, *follow, *post;
	/* Interactions answered (token hashes): a follow-up waits for its answer,
	 * since answers and follow-ups travel on different lanes. */
	pthread_mutex_t amu;
	pthread_cond_t acv;
	uint64_t answered[DISCORD_ANSWERED_MAX];
	unsigned answered_n;
	struct discord_gw *gw;
	struct template_set *tpl;
	struct state *post_state;   /* the post lane's own handle */
	struct route_table *routes; /* [discord] route lines (route.h) */
	struct post_order *order;   /* discord_post.c: events not yet ended */
	char app_id[32];
	char guild_id[32];
	char channel_ref[101];
	char public_key[65];
	int64_t max_skew_ms;
	int queue_timeout_ms;
	atomic_int stop; /* written by the loop, read by the lanes and the gateway thread */
	pthread_mutex_t mu;
	struct discord_done *done, *done_tail;
	struct discord_chan chans[DISCORD_MAX_CHANNELS];
	int nchans;
	char default_channel[32]; /* resolved channel_ref; under mu (lanes read it) */
	char seen[DISCORD_SEEN_MAX][32];
	int seen_n;
	long interactions, bad_interactions;
};

/* ---- discord.c ---- */

/* Hand finished lane work to the loop (any thread); takes x. */
void discord_done_push(struct discord *d, struct discord_done *x);
/* A problem for /healthz from any thread ("" clears it). */
void discord_health(struct discord *d, const char *what);
/* Remember the default channel's id (any thread). */
void discord_set_default_channel(struct discord *d, const char *id);
/* A REST call with retries for transport errors and 5xx; 0 with status/out. */
int discord_call(struct discord *d, struct http_client *hc, const char *method, const char *path,
                 const cJSON *body, long *status, cJSON **out);
void discord_log_refused(const char *what, long status, const cJSON *body);

/* ---- discord_render.c ---- */

/* Load templates/discord (incident, step, help, reject_modal); 0 or -1 with err. */
int discord_render_load(const char *dir, struct template_set **out, char *err, size_t errlen);
/* Render template name with a context (a step, a parent, ...) into a parsed
 * message body; NULL (logged) when it fails.  Caller frees. */
cJSON *discord_render(const struct template_set *ts, const char *name, const cJSON *ctx);
/*
 * Whether message m (from GET .../messages) is msg (a body we meant to
 * post): the same nonce when Discord returns one, else the same content and
 * first embed title, made at or after since_ms (a snowflake's time).
 */
int discord_same_message(const cJSON *m, const cJSON *msg, int64_t since_ms);
/* Text from outside, clipped and escaped for Discord markdown; caller frees. */
char *discord_md(const char *s, size_t max);

/* ---- discord_post.c: on the post lane ---- */

/* Queue one event (copied) for the post lane (on the loop). */
void discord_post_event(struct discord *d, const cJSON *event, int64_t seq);
/* The post lane's bookkeeping: init before the first event, fini after
 * lane_stop(d->post). */
void discord_post_init(struct discord *d);
void discord_post_fini(struct discord *d);

/* ---- discord_in.c: on the loop ---- */

/* One interaction from the gateway (x NULL) or HTTP (answered inline). */
void discord_interaction(struct discord *d, const cJSON *in, struct httpd_x *x);
/* The HTTP interactions route (signature checked there). */
void discord_http_interaction(struct httpd_x *x, void *arg);
/* The /incident command definition for registration; caller frees. */
cJSON *discord_commands_json(void);

#endif
