/*
 * command.h: `/incident ...` commands, whatever surface they came from.
 *
 * Slack sends the words after the command as one text ("declare checkout
 * sev=high p99 over 2s"); Discord sends typed options (subcommand
 * "declare", options title/service/severity/summary).  Both become one
 * struct cmd, checked by the same rules, and one queue request
 * (cmd_request).  Pure: no I/O, so it is tested on its own.
 *
 *   declare <service> [sev=<severity>] <summary...>
 *   status [id]       list                 help
 *   resolve <id> [note...]   pause <id>    resume <id>
 *
 * An id may be written "12" or "#12".  Anything else is CMD_BAD with a
 * one-line reason for the person; the surface answers it with its help.
 */
#ifndef OPSBOT_BOT_COMMAND_H
#define OPSBOT_BOT_COMMAND_H

#include <stdint.h>

#include <cjson/cJSON.h>

#define CMD_NAME "incident" /* the one command the bot registers, without "/" */

enum cmd_kind {
	CMD_HELP,
	CMD_DECLARE,
	CMD_STATUS,
	CMD_LIST,
	CMD_RESOLVE,
	CMD_PAUSE,
	CMD_RESUME,
	CMD_BAD, /* err names what was wrong; answer with help */
};

struct cmd {
	enum cmd_kind kind;
	int64_t incident;  /* STATUS (0 = all open), RESOLVE, PAUSE, RESUME */
	char service[64];  /* DECLARE */
	char severity[16]; /* DECLARE: one of lib/severity.h */
	char title[256];   /* DECLARE: a title (clamped when taken from the text) */
	char text[1024];   /* DECLARE summary, RESOLVE note */
	char err[32];      /* BAD: what was wrong, as a code (see why_text) */
	char err_arg[64];  /* BAD: the word or list the answer names, or "" */
};

/* The verb for RESOLVE/PAUSE/RESUME as the wire's command action; else NULL. */
const char *cmd_action(enum cmd_kind kind);

/* Parse the text after "/incident" (Slack).  Never fails: bad input gives BAD. */
void cmd_parse_text(const char *text, struct cmd *out);

/*
 * Parse a Discord application command's `data` ({name, options:[{name,
 * type:1, options:[...]}]}).  Never fails: bad input gives BAD.
 */
void cmd_parse_options(const cJSON *data, struct cmd *out);

/*
 * Why a BAD command was not understood, in the surface's words: template
 * "why_text" of ts (templates/slack/why_text.txt, templates/discord/...)
 * rendered with {<err>: true, arg: err_arg}, trimmed.  A new string; the
 * code itself when the template has no words for it.
 */
struct template_set;
char *cmd_why(const struct template_set *ts, const struct cmd *c);
/* The same for a code alone (cmd_button_request's why); arg may be NULL. */
char *cmd_why_code(const struct template_set *ts, const char *code, const char *arg);

/* Who asked, for the request. */
struct cmd_origin {
	const char *surface; /* "slack", "discord" */
	const char *channel;
	const char *user;    /* as people read it (Discord: "name (id)") */
	const char *user_id; /* the chat user id when user is a label, else NULL:
	                        approvals are judged by it (config/policy.conf) */
};

/*
 * The queue request for c (DECLARE: submit, STATUS/LIST: query, RESOLVE/
 * PAUSE/RESUME: command); NULL for HELP and BAD.  key is the idempotency
 * key.  Caller owns the result.
 */
cJSON *cmd_request(const struct cmd *c, const struct cmd_origin *o, const char *key);

/*
 * A button press (bot/step.h actions) as a queue request: approve/reject ->
 * approve (arg = plan hash; reason for a reject, may be NULL), ack/pause/
 * resume/resolve -> command, retry -> command with job = arg, step_retry/
 * step_skip/step_abort -> ledger decide (arg = step_key), dryrun ->
 * submit of a "dryrun" job for the incident.  NULL with *why (a code for
 * cmd_why_code: the surface words it) when the action or its argument is
 * not one opsbot knows.
 * Caller owns the result.
 */
cJSON *cmd_button_request(const char *action, int64_t incident, const char *arg, const char *reason,
                          const struct cmd_origin *o, const char *key, const char **why);

/*
 * The incident of the chat message a button was clicked on, when the
 * surface knows it (bot.db's threads): added to an approve request as
 * message_incident so the queue refuses a button naming another incident.
 * Other requests and incident <= 0 (unknown message) are left as they are.
 */
void cmd_set_message_incident(cJSON *req, int64_t incident);

/*
 * Split a button value "<incident>[:<arg>]" (Slack value, the part of a
 * Discord custom_id after the action).  0, or -1 when it is not one.
 */
int cmd_button_value(const char *value, int64_t *incident, char *arg, size_t arglen);

/*
 * A queue older than the approve "reason" field refuses it as an unknown
 * field.  When the refusal (err, or the reply's message) says so, returns a
 * copy of req without the reason to send instead (caller owns it); else
 * NULL.  The click then still counts, without its reason.
 */
cJSON *cmd_without_reason(const cJSON *req, const cJSON *reply, const char *err);

#endif
