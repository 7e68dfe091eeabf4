/*
 * fake_slack.h: shared state of fake-slack, the local Slack stand-in.
 *
 * One process, one lws loop, one thread: the Web API (web.c), Socket Mode
 * (socket.c), Block Kit checks (blocks.c), channels/users/trigger ids and
 * response URLs (workspace.c), response_url posts and modals (interact.c)
 * and the control API (main.c) all work on `struct fs` below.
 *
 * Invariants:
 *  1. At most FS_MAX_CONNS sockets are open; conns[] holds exactly them.
 *  2. A ticket is used at most once.
 *  3. Message ts values are unique and increase in posting order.
 *  4. An envelope is redelivered only when it is events_api and unacked.
 */
#ifndef OPSBOT_FAKE_SLACK_H
#define OPSBOT_FAKE_SLACK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct httpd;
struct httpd_ws;
struct httpd_x;
struct lws_context;

#define FS_MAX_CONNS   10
#define FS_MAX_TICKETS 64
#define FS_MAX_ENVS    20000

struct fs_conn {
	struct httpd_ws *ws;
	int id;
	int64_t opened_us;
	int64_t close_at_us; /* 0, or when to close it (after a disconnect message) */
	int64_t pinged_us;   /* last ping sent */
};

struct fs_env {
	char id[64];
	char type[24];  /* events_api | slash_commands | interactive */
	int accepts;    /* accepts_response_payload */
	cJSON *payload; /* owned */
	int attempts;   /* deliveries so far */
	int conn_id;    /* socket of the last delivery */
	int sent;       /* delivered at least once */
	int acked;
	int64_t injected_us;
	int64_t sent_us;
	int64_t ack_us;
	int64_t deadline_us; /* redelivery deadline (events_api only) */
	cJSON *ack_payload;  /* owned; what the client put in its ack */
};

struct fs {
	struct lws_context *lws;
	struct httpd *httpd;
	int port;
	char bot_token[128];
	char app_token[128];
	char team[16];
	char app_id[16];
	char bot_user[16];

	/* behaviour, settable by flags and /control/config */
	double post_rate;  /* chat.postMessage per channel per second; 0 = no limit */
	double post_burst; /* bucket size */
	int ack_timeout_ms;
	int max_retries;
	int retry_after_s;
	int refresh_grace_ms;
	int ping_ms; /* server pings every ping_ms; 0 = none */
	int accepts_response_payload_actions;
	int trigger_ttl_ms;  /* a trigger_id works once, this long (Slack: 3 s) */
	int socket_disabled; /* after link_disabled: no more connection tickets */

	/* injected faults */
	int fail_next; /* how many Web API calls still answer fail_status */
	int fail_status;
	int stall_acks;
	int stall_posts;            /* store the next N chat.postMessage calls, never answer them */
	struct httpd_x *stalled[8]; /* held exchanges of stalled posts */
	int nstalled;

	/* sockets */
	struct fs_conn conns[FS_MAX_CONNS];
	int nconns;
	int next_conn_id;
	int rr; /* round robin over conns */
	char tickets[FS_MAX_TICKETS][40];
	int ntickets;

	/* envelopes, in injection order */
	struct fs_env *envs;
	size_t nenvs;

	/* the workspace */
	cJSON *messages;  /* array of message objects (top level and replies) */
	cJSON *ephemeral; /* array */
	cJSON *channels;  /* object: id -> {tokens, at_us} for the post limiter */
	cJSON *files;     /* object: file id -> {name, length, uploaded} */
	cJSON *convs;     /* object: channel id -> {name, created} */
	cJSON *users;     /* object: user id -> users.info user */
	cJSON *triggers;  /* object: trigger_id -> {issued_us, user, used} */
	cJSON *responses; /* object: response_url id -> {kind, channel, message_ts, uses} */
	cJSON *views;     /* object: view id -> view (+ _open, _user, _errors) */
	int64_t last_ts_us;
	uint64_t seq;

	/* counters */
	cJSON *calls; /* object: method -> count */
	int64_t served_429, served_500, rate_limited, invalid_blocks;
	int64_t redelivered, connects, refused, pings, pongs_closed;
};

extern struct fs fs;

/* web.c: /api/<method> and the upload URL. */
void web_register(struct httpd *h);
/* Answer (or, when the client left, free) every stalled post. */
void web_release_stalled(void);
/* A new unique message ts ("1700000000.000100"); buf >= 32 bytes. */
void web_new_ts(char *buf, size_t len);
cJSON *web_find_message(const char *channel, const char *ts);
/* Append a message to fs.messages / take one out, keeping the lookup index. */
void web_add_message(cJSON *msg);
void web_drop_message(cJSON *msg);
void web_index_free(void);
/* Run a Web API method without token or limits (response_url uses it):
 * NULL, or the error code; reply gets the method's fields. */
const char *web_call(const char *method, cJSON *args, cJSON *reply);
/* A JSON argument: a JSON value, or a JSON string (forms); new tree or NULL. */
cJSON *web_arg_json(const cJSON *args, const char *key, int *bad);
/* Give every block (and nothing else) without a block_id one, as Slack does. */
void web_add_block_ids(cJSON *blocks);

/* socket.c: Socket Mode. */
void socket_register(struct httpd *h);
/* New ticket; returns the ws URL in buf. */
int socket_new_ticket(char *url, size_t len);
/* Queue an envelope (takes payload) and try to deliver it; returns it. */
struct fs_env *socket_inject(const char *type, cJSON *payload, int accepts_response_payload);
/* Send raw text to one open socket; -1 when none. */
int socket_send_raw(const char *text, size_t len);
/* Send disconnect{reason} to every socket. */
void socket_disconnect_all(const char *reason);
void socket_drop_all(void);
/* Pongs received on open sockets plus closed ones. */
int64_t socket_pongs(void);
/* Redeliveries, refresh closes and pings; call often. */
void socket_tick(void);
struct fs_env *socket_find_env(const char *id);

/* blocks.c: Block Kit limits.  0, or -1 with a reason in err. */
int blocks_check(const cJSON *blocks, char *err, size_t errlen);
/* The same with another block limit (modals: 100). */
int blocks_check_max(const cJSON *blocks, int max, char *err, size_t errlen);
/* Characters (UTF-8 code points) in s. */
size_t blocks_strlen(const char *s);

/* workspace.c */
void ws_init(void);
void ws_free(void);
int ws_channel_id_ok(const char *id);
/* 0, or -1 when id or name is malformed; an existing channel keeps its name. */
int ws_channel_add(const char *id, const char *name);
/* The id of an existing channel named by id (or, names_ok, "#name"/"name"). */
const char *ws_channel(const char *ref, int names_ok);
const char *ws_channel_name(const char *id);
/* Remember a user (users.info answers for them). */
void ws_user_touch(const char *id, const char *name);
const cJSON *ws_user(const char *id);
/* An interaction payload's user object {id, username, name, team_id}, then
 * its api_app_id and verification token, as Slack sends them. */
void ws_add_actor(cJSON *payload, const char *user);
void ws_trigger_new(char *out, size_t len, const char *user);
/* Use a trigger id: NULL (and *user), or the error code. */
const char *ws_trigger_take(const char *id, const char **user);
/* A new response_url for a slash command ("commands") or action ("actions"). */
void ws_response_new(char *url, size_t len, const char *kind, const char *channel,
                     const char *message_ts, const char *user);
/* Count one use; NULL with *err when used up, expired or unknown. */
cJSON *ws_response_use(const char *id, const char **err);

/* interact.c */
void interact_register(struct httpd *h);
const char *views_open(cJSON *args, cJSON *reply);
const char *views_update(cJSON *args, cJSON *reply);
/* An envelope was acked: apply a view_submission's response_action. */
void views_on_ack(const struct fs_env *e);

int64_t fs_now_us(void);

#endif
