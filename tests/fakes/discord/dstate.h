/*
 * dstate.h: the state of fake-discord, the local Discord stand-in: one
 * application, one guild with text channels, the messages and threads in
 * them, interactions handed to the bot, Gateway sessions and connections,
 * and the REST rate-limit buckets.  No network code here: drest.c (REST and
 * control API) and dgw.c (Gateway) act on this state; main.c carries bytes.
 *
 * Invariants:
 *  1. Every id is a snowflake string made by dstate_snowflake(); ids never
 *     repeat within a run.
 *  2. A thread made from a message has the message's id; a message has at
 *     most one thread (msg->has_thread).
 *  3. A session's event log holds its dispatches in order of `s`, which
 *     starts at 1 (READY) and grows by one per dispatch; the log keeps the
 *     newest DSTATE_LOG_MAX, so a resume from an older seq is refused.
 *  4. A connection belongs to at most one session and a session has at most
 *     one connection (the newest wins).
 *  5. An interaction takes at most one callback, and only within the
 *     deadline (3 s unless configured).
 *
 * Ownership: everything is owned by struct dstate and freed by
 * dstate_free(); cJSON objects handed in are copied unless said otherwise.
 */
#ifndef FAKE_DISCORD_DSTATE_H
#define FAKE_DISCORD_DSTATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define DSTATE_ID_LEN     24
#define DSTATE_LOG_MAX    5000  /* dispatches kept per session for resume */
#define DSTATE_REQLOG_MAX 4096  /* REST requests remembered for the control API */
#define DSTATE_OUT_MAX    20000 /* frames queued on one connection */

/* Gateway intents (bits) the stand-in knows about. */
#define DINTENT_GUILDS                  (1 << 0)
#define DINTENT_GUILD_MEMBERS           (1 << 1)
#define DINTENT_GUILD_PRESENCES         (1 << 8)
#define DINTENT_GUILD_MESSAGES          (1 << 9)
#define DINTENT_GUILD_MESSAGE_REACTIONS (1 << 10)
#define DINTENT_GUILD_MESSAGE_TYPING    (1 << 11)
#define DINTENT_DIRECT_MESSAGES         (1 << 12)
#define DINTENT_MESSAGE_CONTENT         (1 << 15)
#define DINTENT_ALL                     ((1 << 26) - 1) /* bits 0..25 are defined */
#define DINTENT_PRIVILEGED                                                                         \
	(DINTENT_GUILD_MEMBERS | DINTENT_GUILD_PRESENCES | DINTENT_MESSAGE_CONTENT)

struct dmsg {
	char id[DSTATE_ID_LEN];
	char channel_id[DSTATE_ID_LEN];
	cJSON *obj; /* the full message object as REST returns it */
	int has_thread;
	int64_t created_us; /* monotonic, when it was posted */
	struct dmsg *next;
};

struct dchan {
	char id[DSTATE_ID_LEN];
	char parent_id[DSTATE_ID_LEN]; /* threads: the channel they live in */
	char name[101];
	int type; /* 0 text, 11 public thread */
	struct dmsg *msgs, *last;
	int nmsgs;
	struct dchan *next;
};

struct dinter {
	char id[DSTATE_ID_LEN];
	char token[96];
	char channel_id[DSTATE_ID_LEN];
	char message_id[DSTATE_ID_LEN];  /* components: the message clicked */
	char original_id[DSTATE_ID_LEN]; /* the response message, once made */
	int type;                        /* 2 command, 3 component, 5 modal submit */
	int64_t created_us;              /* monotonic, when dispatched */
	int64_t callback_us;             /* monotonic, 0 until the callback */
	int callback_type;
	int late_callbacks;   /* callbacks refused after the deadline */
	int second_callbacks; /* callbacks refused as already acknowledged */
	int followups;
	int external; /* delivered by the test over HTTP; answered inline */
	struct dinter *next;
};

struct dframe {
	char *text;
	size_t len;
	struct dframe *next;
};

struct devent {
	int64_t s;
	char *text; /* the whole frame */
	size_t len;
	unsigned intent; /* 0: always delivered */
};

struct dsess;

/* One websocket connection to the Gateway. */
struct dconn {
	struct dsess *sess; /* NULL until identified or resumed */
	struct dframe *out, *out_last;
	size_t nout;
	int close_code; /* nonzero: close with this after the queued frames */
	char close_reason[64];
	int drop;            /* nonzero: cut the TCP connection without a close frame */
	int64_t close_at_us; /* a close scheduled for later (after op 7 / op 9) */
	int64_t last_hb_us;
	int64_t opened_us;
	int64_t window_start_us; /* 60 s window for the 120 events limit */
	int window_count;
	int ack_off; /* control: stop answering heartbeats (zombie test) */
	char *hello; /* Hello held back until hello_at (control: drop with hold_ms) */
	int64_t hello_at;
	int gone;  /* closed; waiting for the glue to free it */
	void *wsi; /* the glue's handle */
	struct dconn *next;
};

struct dsess {
	char id[33];
	int64_t seq;
	unsigned intents;
	int valid; /* resumable */
	struct devent *log;
	size_t log_len, log_cap, log_head; /* ring buffer of DSTATE_LOG_MAX */
	struct dconn *conn;
	struct dsess *next;
};

struct dbucket {
	char key[160]; /* "METHOD template|major" */
	char hash[17];
	int64_t window_start_us;
	int used;
	struct dbucket *next;
};

struct dreq {
	char method[8];
	char path[160];
	int status;
	int auth_ok;
	int ua_ok;
	int64_t at_us;
};

/* A file uploaded with a message (multipart files[n]); its bytes kept for tests. */
struct dattach {
	char id[DSTATE_ID_LEN];
	char channel_id[DSTATE_ID_LEN];
	char message_id[DSTATE_ID_LEN];
	char filename[256];
	char content_type[128];
	char *data;
	size_t len;
	struct dattach *next;
};

struct dconfig {
	char token[128]; /* the bot token the stand-in accepts */
	char app_id[DSTATE_ID_LEN];
	char guild_id[DSTATE_ID_LEN];
	int heartbeat_ms; /* Hello's heartbeat_interval */
	int interaction_deadline_ms;
	int bucket_limit; /* requests per bucket window */
	int bucket_window_ms;
	int global_limit;    /* requests per second, all non-interaction routes */
	unsigned privileged; /* privileged intents enabled "in the portal" */
	int identify_gap_ms; /* max_concurrency 1: one identify per this gap */
};

struct dstate {
	struct dconfig cfg;
	char base_ws[128];    /* ws://127.0.0.1:PORT */
	char resume_url[160]; /* READY's resume_gateway_url; "" = base_ws/gateway-resume */
	struct dchan *chans;
	struct dinter *inters;
	struct dsess *sessions;
	struct dconn *conns;
	struct dbucket *buckets;
	struct dattach *attachments; /* newest first */
	cJSON *users; /* object: user id -> user object (people seen in interactions) */
	cJSON *global_commands;
	cJSON *guild_commands;
	uint64_t snow_seq;
	int64_t last_identify_us;
	int identifies;
	int resumes;
	int invalid_sessions;
	int64_t hold_until_us; /* new connections get Hello only after this */
	/* forced 429s (control API) */
	int force_route_n;
	char force_route_match[96];
	int force_global_n;
	int force_multipart; /* forced route 429s hit file uploads only */
	double force_retry_after;
	/* POST /_fake/stall: store the next N channel posts, never answer them */
	int stall_posts, stalled_posts;
	size_t file_max; /* per-file upload limit; 0: Discord's 10 MiB */
	/* global limiter */
	int64_t global_window_us;
	int global_used;
	/* REST request log (ring) */
	struct dreq reqlog[DSTATE_REQLOG_MAX];
	size_t reqlog_n;
	/* called when a connection has frames or a close pending */
	void (*wake)(struct dconn *c);
};

void dstate_init(struct dstate *st, const struct dconfig *cfg);
void dstate_free(struct dstate *st);
int64_t dstate_now_us(void);

/* A new unique snowflake id into out (DSTATE_ID_LEN). */
void dstate_snowflake(struct dstate *st, char *out);

/* Channels: the guild's text channels are made by dstate_init ("ops", "general"). */
struct dchan *dstate_chan(struct dstate *st, const char *id);
struct dchan *dstate_chan_by_name(struct dstate *st, const char *name);
struct dchan *dstate_chan_add(struct dstate *st, const char *id, const char *name, int type,
                              const char *parent);
/* A message in channel c; takes ownership of obj. */
struct dmsg *dstate_msg_add(struct dchan *c, const char *id, cJSON *obj);
struct dmsg *dstate_msg(struct dstate *st, const char *channel_id, const char *id);
/* Unlink and free m (a message of c). */
void dstate_msg_del(struct dchan *c, struct dmsg *m);
struct dmsg *dstate_msg_any(struct dstate *st, const char *id);

struct dinter *dstate_inter(struct dstate *st, const char *id);
struct dinter *dstate_inter_by_token(struct dstate *st, const char *token);

/* Queue one frame on a connection (copies text). */
void dstate_conn_send(struct dstate *st, struct dconn *c, const char *text, size_t len);
/* Ask the glue to close c with code (0: cut without a close frame). */
void dstate_conn_close(struct dstate *st, struct dconn *c, int code, const char *reason);
/* Pop the next queued frame; caller frees f->text and f. */
struct dframe *dstate_conn_pop(struct dconn *c);

/* A frame with all four keys in the order real Discord sends them; caller frees. */
char *dstate_frame(int op, const cJSON *d, int64_t s, const char *t);

/*
 * Dispatch event t with data d (not taken) to every valid session whose
 * intents include `intent` (0: all): logged for resume, sent when connected.
 */
void dstate_dispatch(struct dstate *st, const char *t, const cJSON *d, unsigned intent);
/* Dispatch to one session. */
void dstate_dispatch_to(struct dstate *st, struct dsess *s, const char *t, const cJSON *d);

/* The newest valid session that has a connection, or NULL. */
struct dsess *dstate_active(struct dstate *st);

/* Keep a copy of an uploaded file's bytes; returns the record (owned by st). */
struct dattach *dstate_attach_add(struct dstate *st, const char *id, const char *channel_id,
                                  const char *message_id, const char *filename,
                                  const char *content_type, const char *data, size_t len);
struct dattach *dstate_attach(struct dstate *st, const char *id);

void dstate_reqlog_add(struct dstate *st, const struct dreq *r);

#endif
