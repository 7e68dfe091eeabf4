/*
 * slack.c: opsbot-bot's Slack surface: config, start-up, and queue events
 * into messages.  What comes in (commands, clicks, modals, mentions) is
 * slack_in.c's; the pieces are listed in slack.h.
 *
 * Out: queue events become ops for the per-channel outbox (slack_web.c): the
 * incident's parent message on incident.opened, a chat.update of the parent
 * whenever its state, acknowledger or resolver changes, and one threaded
 * reply per step.  Each event's ops end with a DONE op, which moves the
 * surface's stored seq (bot_surface_done) once all of them ran.  Posted
 * keys ("ev-<seq>-...") make a replay after a restart skip what was posted;
 * a post Slack stored just before a crash, before bot.db heard of it, is
 * found again by its metadata marker (slack_web.c, invariant 4).  When
 * Socket Mode is switched off for good (link_disabled, invalid_auth) the
 * surface keeps posting and puts the reason in /healthz.
 *
 * What a message says comes from the neutral model (step.h) and
 * templates/slack/.  The parent, and the plan message with its tally, are
 * redrawn from a snapshot of the incident kept in bot.db (kv "inc:<id>"),
 * so a restart can still update them.
 *
 * Config [slack]: enabled, mode (socket|http|both), api_url, channel
 * (default channel for incidents that did not come from Slack), route (a
 * channel per service pattern and severity, route.h), templates,
 * channel_rate, channel_burst, method_limits, queue_timeout, dedupe_ttl,
 * max_backoff, sockets, senders (channels served at once), storm_queue (a
 * channel with more ops waiting joins an incident's replies into one post),
 * storm_summary (that many new incidents waiting in a channel beyond what
 * may post now: one message lists them all at once).  Secrets:
 * SLACK_BOT_TOKEN, SLACK_APP_TOKEN (socket mode), SLACK_SIGNING_SECRET (HTTP mode).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "command.h"
#include "config.h"
#include "defaults.h"
#include "inbox.h"
#include "form.h"
#include "httpd.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "route.h"
#include "slack.h"
#include "slack_sig.h"
#include "state.h"
#include "step.h"
#include "surface.h"
#include "template.h"
#include "timeutil.h"
#include "wire.h"

#define TEXT_MAX 2000

/* ------------------------------------------------------- queue events */

static cJSON *snapshot_load(struct slack *sl, int64_t incident)
{
	char key[48];
	cJSON *o;
	snprintf(key, sizeof key, "inc:%lld", (long long)incident);
	return state_kv_get_json(sl->b->state, "slack", key, &o) == 1 ? o : NULL;
}

static void snapshot_save(struct slack *sl, int64_t incident, const cJSON *snap)
{
	char key[48];
	snprintf(key, sizeof key, "inc:%lld", (long long)incident);
	if (state_kv_put_json(sl->b->state, "slack", key, snap) < 0)
		log_warn("event=slack_snapshot_save_failed incident=%lld", (long long)incident);
}

static void render_op(struct slack *sl, struct slack_op *op, const char *tmpl, cJSON *ctx)
{
	char err[256];
	if (slack_render(sl->ts, tmpl, ctx, &op->text, &op->blocks, err, sizeof err) < 0) {
		log_warn("event=slack_render_failed template=%s incident=%lld error=%s", tmpl,
		         (long long)op->incident, log_q(err));
		free(op->text);
		free(op->blocks);
		op->blocks = NULL;
		op->text = xasprintf("Incident %lld: an update could not be drawn (%s).",
		                     (long long)op->incident, tmpl);
	}
}

static void push_parent(struct slack *sl, const cJSON *snap, int64_t incident, int64_t seq,
                        int update)
{
	cJSON *ctx = step_parent(incident, snap, seq, DEF_TITLE_MAX, TEXT_MAX);
	struct slack_op *op =
	    slack_op_new(update ? SLACK_OP_UPDATE : SLACK_OP_PARENT, incident, seq);

	render_op(sl, op, "parent", ctx);
	if (!update)
		snprintf(op->key, sizeof op->key, "ev-%lld-parent", (long long)seq);
	str_copy(op->channel, sizeof op->channel, json_str(snap, "slack_channel"));
	slack_web_push(sl->web, op);
	cJSON_Delete(ctx);
}

/* A threaded reply; the plan message (edited later) is never batched. */
static void push_step(struct slack *sl, const cJSON *snap, int64_t incident, int64_t seq,
                      cJSON *step)
{
	struct slack_op *op = slack_op_new(SLACK_OP_REPLY, incident, seq);
	render_op(sl, op, "step", step);
	snprintf(op->key, sizeof op->key, "ev-%lld-step", (long long)seq);
	str_copy(op->channel, sizeof op->channel, json_str(snap, "slack_channel"));
	op->nobatch = json_int(snap, "plan_seq", 0) == seq;
	slack_web_push(sl->web, op);
}

/* Redraw the plan message in place: the tally, who approved, decided. */
static void push_plan_edit(struct slack *sl, const cJSON *snap, int64_t incident, int64_t seq)
{
	int64_t plan_seq = json_int(snap, "plan_seq", 0);
	cJSON *ctx;
	struct slack_op *op;

	if (plan_seq <= 0)
		return;
	ctx = step_plan(incident, cJSON_GetObjectItemCaseSensitive(snap, "plan"),
	                cJSON_GetObjectItemCaseSensitive(snap, "approvals"),
	                json_bool(snap, "plan_open", 0), TEXT_MAX);
	op = slack_op_new(SLACK_OP_EDIT, incident, seq);
	render_op(sl, op, "step", ctx);
	snprintf(op->key, sizeof op->key, "ev-%lld-step", (long long)plan_seq);
	str_copy(op->channel, sizeof op->channel, json_str(snap, "slack_channel"));
	slack_web_push(sl->web, op);
	cJSON_Delete(ctx);
}

/* Take the buttons off an answered "may or may not have run" question. */
static void push_ask_edit(struct slack *sl, const cJSON *snap, int64_t incident, int64_t seq)
{
	int64_t ask_seq = 0;
	cJSON *ctx = step_ask(incident, snap, TEXT_MAX, &ask_seq);
	struct slack_op *op;

	if (!ctx)
		return;
	op = slack_op_new(SLACK_OP_EDIT, incident, seq);
	render_op(sl, op, "step", ctx);
	snprintf(op->key, sizeof op->key, "ev-%lld-step", (long long)ask_seq);
	slack_web_push(sl->web, op);
	cJSON_Delete(ctx);
}

static void on_event(struct bot *b, void *priv, const cJSON *event, int64_t seq)
{
	struct slack *sl = priv;
	const char *name = json_str(event, "name");
	int64_t incident = json_int(event, "incident", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	cJSON *snap = NULL, *step = NULL;
	int redraw;
	(void)b;

	/* A refused click is for the timeline and the clicker (ephemeral), not the thread. */
	if (!name || incident <= 0 || !strcmp(name, WIRE_EV_APPROVAL_REFUSED))
		goto done;
	if (!strcmp(name, WIRE_EV_OPENED)) {
		const cJSON *surf = cJSON_GetObjectItemCaseSensitive(data, "surface");
		const char *channel = NULL;
		if (json_str(surf, "kind") && !strcmp(json_str(surf, "kind"), "slack"))
			channel = json_str(surf, "channel");
		if (!channel)
			channel = route_pick(sl->routes, json_str(data, "service"),
			                     json_str(data, "severity"));
		if (!channel)
			channel = sl->channel;
		if (!channel) {
			log_info("event=slack_no_channel incident=%lld", (long long)incident);
			goto done;
		}
		snap = cJSON_IsObject(data) ? json_dup(data) : json_new_object();
		cJSON_DeleteItemFromObjectCaseSensitive(snap, "slack_channel");
		json_add_str(snap, "slack_channel", channel);
		if (!json_str(snap, "state")) {
			cJSON_DeleteItemFromObjectCaseSensitive(snap, "state");
			json_add_str(snap, "state", WIRE_ST_OPEN);
		}
		snapshot_save(sl, incident, snap);
		push_parent(sl, snap, incident, seq, 0);
	} else {
		snap = snapshot_load(sl, incident);
		if (!snap) /* not an incident this surface shows */
			goto done;
	}
	step = step_event(event, snap, TEXT_MAX);
	redraw = step_snapshot_apply(snap, event);
	if (redraw)
		snapshot_save(sl, incident, snap);
	if (step)
		push_step(sl, snap, incident, seq, step);
	if (redraw & STEP_REDRAW_PARENT)
		push_parent(sl, snap, incident, seq, 1);
	if (redraw & STEP_REDRAW_PLAN)
		push_plan_edit(sl, snap, incident, seq);
	if (redraw & STEP_REDRAW_ASK)
		push_ask_edit(sl, snap, incident, seq);
done:
	cJSON_Delete(step);
	cJSON_Delete(snap);
	slack_web_push(sl->web, slack_op_new(SLACK_OP_DONE, incident, seq));
}

/* ------------------------------------------------------------ surface */

static void tick(struct bot *b, void *priv)
{
	struct slack *sl = priv;
	int64_t d;

	slack_inbox_tick(sl);
	if (sl->sock) {
		slack_socket_tick(sl->sock);
		if (!sl->health_set && slack_socket_problem(sl->sock)) {
			bot_health_set(b, "slack", slack_socket_problem(sl->sock));
			sl->health_set = 1;
		}
	}
	/* at most 4 writes a second: a restart replays a few events at worst,
	 * and the posted keys make the replay post nothing twice */
	d = slack_web_done_seq(sl->web);
	if (d > sl->done_reported && time_mono_ms() - sl->done_at_ms >= 250) {
		sl->done_at_ms = time_mono_ms();
		bot_surface_done(b, "slack", d);
		sl->done_reported = d;
	}
}

static void fini(struct bot *b, void *priv)
{
	struct slack *sl = priv;
	int64_t d;

	slack_socket_stop(sl->sock);
	lane_stop(sl->ui);
	d = slack_web_stop(sl->web);
	if (d > sl->done_reported)
		bot_surface_done(b, "slack", d);
	template_set_free(sl->ts);
	route_free(sl->routes);
	inbox_close(sl->inbox);
	free(sl);
}

/* The inbox (inbox.h) lives beside bot.db: <dir of [bot] state>/inbox.db. */
static int open_inbox(struct slack *sl, const char *state_path, char *err, size_t errlen)
{
	char path[1024];
	const char *slash = strrchr(state_path, '/');
	int dir = slash ? (int)(slash - state_path) : 1;
	snprintf(path, sizeof path, "%.*s/inbox.db", dir, slash ? state_path : ".");
	return inbox_open(path, &sl->inbox, err, errlen);
}

static int init(struct bot *b, struct config *cfg, void **priv)
{
	static const char *const modes[] = {"socket", "http", "both", NULL};
	struct slack *sl;
	struct slack_web_cfg wc;
	char err[512];
	const char *api_url, *bot_token, *app_token, *tdir;
	int mode;

	if (!config_has_section(cfg, "slack") || !config_bool(cfg, "slack", "enabled", 1))
		return 0;
	sl = xcalloc(1, sizeof *sl);
	sl->b = b;
	mode = config_enum(cfg, "slack", "mode", modes, 0);
	api_url = config_str(cfg, "slack", "api_url", "https://slack.com/api/");
	sl->channel = config_str(cfg, "slack", "channel", NULL);
	sl->routes = route_load(cfg, "slack");
	tdir = config_str(cfg, "slack", "templates", "templates/slack");
	sl->queue_timeout_ms = config_duration_ms(cfg, "slack", "queue_timeout", 1200);
	memset(&wc, 0, sizeof wc);
	wc.api_url = api_url;
	wc.state_path = b->state_path;
	wc.channel_rate = config_double(cfg, "slack", "channel_rate", 1, 0, 10000);
	wc.channel_burst = config_double(cfg, "slack", "channel_burst", 3, 1, 10000);
	wc.method_limits = config_bool(cfg, "slack", "method_limits", 1);
	wc.max_tries = 8;
	wc.max_backoff_ms = config_duration_ms(cfg, "slack", "max_backoff", 30000);
	wc.senders = (int)config_int(cfg, "slack", "senders", 4, 1, 16);
	wc.storm_queue = (int)config_int(cfg, "slack", "storm_queue", 10, 0, 100000);
	wc.storm_summary = (int)config_int(cfg, "slack", "storm_summary", 3, 0, 1000);
	int64_t dedupe = config_duration_ms(cfg, "slack", "dedupe_ttl", 10 * 60 * 1000);
	int sockets = (int)config_int(cfg, "slack", "sockets", 1, 1, 3);

	if (api_url[0] == '\0' || api_url[strlen(api_url) - 1] != '/')
		config_error(cfg, "slack", "api_url", "api_url must end with '/'");
	bot_token = config_secret("SLACK_BOT_TOKEN");
	app_token = config_secret("SLACK_APP_TOKEN");
	sl->signing_secret = config_secret("SLACK_SIGNING_SECRET");
	if (!bot_token)
		config_error(cfg, "slack", "enabled",
		             "SLACK_BOT_TOKEN is not set in the environment (needed to post)");
	if ((mode == 0 || mode == 2) && !app_token)
		config_error(cfg, "slack", "mode",
		             "Socket Mode needs SLACK_APP_TOKEN (xapp-...) in the environment");
	if ((mode == 1 || mode == 2) && !sl->signing_secret)
		config_error(cfg, "slack", "mode",
		             "HTTP mode needs SLACK_SIGNING_SECRET in the environment");
	if (slack_render_load(tdir, &sl->ts, err, sizeof err) < 0)
		config_error(cfg, "slack", "templates", "%s", err);
	if (!bot_token || ((mode == 0 || mode == 2) && !app_token) ||
	    ((mode == 1 || mode == 2) && !sl->signing_secret) || !sl->ts)
		goto fail;
	wc.bot_token = bot_token;
	sl->api_url = api_url;
	sl->bot_token = bot_token;
	if (open_inbox(sl, b->state_path, err, sizeof err) < 0) {
		config_error(cfg, "bot", "state", "%s", err);
		goto fail;
	}
	sl->inbox_waiting = 1; /* the first tick looks for rows a crash left */
	sl->ui = lane_start("slack-ui", 1);
	if (slack_web_start(&sl->web, &wc, b, err, sizeof err) < 0) {
		config_error(cfg, "slack", "enabled", "%s", err);
		goto fail;
	}
	if (mode == 0 || mode == 2) {
		struct slack_socket_cfg sc = {
		    .api_url = api_url,
		    .app_token = app_token,
		    .dedupe_ttl_ms = dedupe,
		    .max_backoff_ms = wc.max_backoff_ms,
		    .sockets = sockets,
		};
		if (slack_socket_start(&sl->sock, &sc, b, slack_in_envelope, sl, err, sizeof err) <
		    0) {
			config_error(cfg, "slack", "mode", "%s", err);
			goto fail;
		}
	}
	if (mode == 1 || mode == 2) {
		httpd_route(b->httpd, "POST", "/slack/commands", slack_in_http_commands, sl);
		httpd_route(b->httpd, "POST", "/slack/interactive", slack_in_http_interactive, sl);
		httpd_route(b->httpd, "POST", "/slack/events", slack_in_http_events, sl);
	}
	state_seq_get(b->state, "slack", &sl->done_reported);
	log_info("event=slack_ready mode=%s api=%s channel=%s", modes[mode], log_q(api_url),
	         log_q(sl->channel ? sl->channel : ""));
	*priv = sl;
	return 1;
fail:
	slack_socket_stop(sl->sock);
	lane_stop(sl->ui);
	slack_web_stop(sl->web);
	template_set_free(sl->ts);
	route_free(sl->routes);
	inbox_close(sl->inbox);
	free(sl);
	return -1;
}

const struct surface slack_surface = {
    .name = "slack",
    .init = init,
    .on_event = on_event,
    .tick = tick,
    .fini = fini,
};
