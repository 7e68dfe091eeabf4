/*
 * discord.c: the Discord surface of opsbot-bot.
 *
 * In:  interactions (slash command /incident, button clicks) from the
 *      Gateway (INTERACTION_CREATE) or, when [discord] public_key is set,
 *      signed HTTP POSTs to [discord] interactions_path.
 * Out: interaction answers within Discord's 3 s (a deferred answer first
 *      when the queue has to be asked), follow-ups through the interaction
 *      webhook; for each incident one message with an embed that follows its
 *      state, a thread on it with one message per later step, and buttons
 *      (custom_id "ob:<incident>:<action>[:<arg>]", at most 5 per row).
 *
 * The pieces (discord.h): this file is the surface (config, start-up,
 * events onto the post lane, /healthz); discord_post.c posts, discord_in.c
 * answers interactions, discord_render.c draws from templates/discord/.
 * Threads and lanes: see discord.h.  When the Gateway is refused for good or
 * the token is refused, interactions over HTTP and posting go on and
 * /healthz answers 503 naming the problem, as Slack's surface does.
 *
 * Trust: everything from Discord is untrusted: fields are read with checks,
 * text is escaped by the templates, and nothing from a user is fatal.  The
 * bot token comes from DISCORD_BOT_TOKEN only and never reaches a log.
 *
 * Config [discord]:
 *   api = https://discord.com/api/v10   REST base (the stand-in in tests)
 *   application_id = ID                 required
 *   guild_id = ID                       commands go to this guild (instant);
 *                                       global when unset
 *   channel = ID or name                incidents not started from Discord
 *                                       are posted here (optional)
 *   gateway = yes                       no: HTTP interactions only
 *   public_key = HEX                    enables HTTP interactions
 *   interactions_path = /discord/interactions
 *   max_skew = 5m                       oldest accepted signature timestamp
 *   templates = templates/discord       message templates
 *   global_per_sec = 50                 REST calls per second, all routes
 *   identify_gap = 5s                   one Identify per this (max_concurrency 1)
 *   invalid_session_wait_min = 1s, invalid_session_wait_max = 5s
 *   queue_timeout = 5s                  per queue request
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "config.h"
#include "discord.h"
#include "discord_gw.h"
#include "discord_rest.h"
#include "discord_sig.h"
#include "http.h"
#include "httpd.h"
#include "json.h"
#include "lane.h"
#include "log.h"
#include "mem.h"
#include "route.h"
#include "state.h"
#include "surface.h"
#include "template.h"
#include "timeutil.h"

#define INTENTS   1 /* GUILDS: channel names from GUILD_CREATE; interactions need none */
#define JOB_TRIES 5

/* ------------------------------------------------------------- plumbing */

void discord_done_push(struct discord *d, struct discord_done *x)
{
	pthread_mutex_lock(&d->mu);
	if (d->done_tail)
		d->done_tail->next = x;
	else
		d->done = x;
	d->done_tail = x;
	pthread_mutex_unlock(&d->mu);
	bot_wake(d->b);
}

/* A REST call with retries for transport errors and 5xx; 0 with status/out. */
int discord_call(struct discord *d, struct http_client *hc, const char *method, const char *path,
                 const cJSON *body, long *status, cJSON **out)
{
	char err[256];
	int64_t backoff = 250;
	for (int i = 0; i < JOB_TRIES && !d->stop; i++) {
		if (out)
			*out = NULL;
		int rc = discord_rest_call(d->rest, hc, method, path, body, status, out, err,
		                           sizeof err);
		if (rc == 0 && *status < 500)
			return 0;
		if (rc == 0) {
			snprintf(err, sizeof err, "status %ld", *status);
			if (out) {
				cJSON_Delete(*out);
				*out = NULL;
			}
		}
		log_warn("event=discord_rest_retry method=%s path=%s error=%s", method, log_q(path),
		         log_q(err));
		time_sleep_ms(backoff, &d->stop);
		backoff *= 2;
	}
	return -1;
}

void discord_log_refused(const char *what, long status, const cJSON *body)
{
	log_warn("event=discord_rest_refused what=%s status=%ld code=%lld message=%s", what, status,
	         (long long)json_int(body, "code", 0), log_q(json_str(body, "message")));
}

void discord_health(struct discord *d, const char *what)
{
	struct discord_done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_HEALTH;
	str_copy(x->what, sizeof x->what, what ? what : "");
	discord_done_push(d, x);
}

void discord_set_default_channel(struct discord *d, const char *id)
{
	pthread_mutex_lock(&d->mu);
	int fresh = strcmp(d->default_channel, id) != 0;
	str_copy(d->default_channel, sizeof d->default_channel, id);
	pthread_mutex_unlock(&d->mu);
	if (fresh)
		log_info("event=discord_channel name=%s id=%s", log_q(d->channel_ref), id);
}

static void boot_job(void *arg, struct http_client *hc)
{
	struct discord *d = arg;
	int64_t backoff = 500;
	char url[512] = "";
	while (!d->stop) {
		long status = 0;
		cJSON *out = NULL;
		char err[256];
		if (discord_rest_call(d->rest, hc, "GET", "/gateway/bot", NULL, &status, &out, err,
		                      sizeof err) == 0 &&
		    status == 200 && json_str(out, "url")) {
			str_copy(url, sizeof url, json_str(out, "url"));
			const cJSON *l =
			    cJSON_GetObjectItemCaseSensitive(out, "session_start_limit");
			int64_t left = json_int(l, "remaining", -1);
			log_info("event=discord_gateway_url sessions_left=%lld", (long long)left);
			if (left == 0) {
				/* Identifying past the daily limit resets the token: wait it out.
				 */
				int64_t wait = json_int(l, "reset_after", 60000);
				log_warn("event=discord_identify_limit wait_ms=%lld",
				         (long long)wait);
				time_sleep_ms(wait, &d->stop);
			}
			cJSON_Delete(out);
			break;
		}
		if (status == 401) {
			cJSON_Delete(out);
			log_error("event=discord_stopped reason=\"token refused (401)\"");
			discord_health(d,
			               "DISCORD_BOT_TOKEN was refused (401); set a valid bot token "
			               "and restart opsbot-bot");
			return;
		}
		log_warn("event=discord_gateway_lookup_failed status=%ld error=%s retry_ms=%lld",
		         status, log_q(err), (long long)backoff);
		cJSON_Delete(out);
		time_sleep_ms(backoff, &d->stop);
		if (backoff < 30000)
			backoff *= 2;
	}
	if (d->stop)
		return;
	cJSON *cmds = discord_commands_json();
	char path[160];
	if (d->guild_id[0])
		snprintf(path, sizeof path, "/applications/%s/guilds/%s/commands", d->app_id,
		         d->guild_id);
	else
		snprintf(path, sizeof path, "/applications/%s/commands", d->app_id);
	long status = 0;
	cJSON *out = NULL;
	if (discord_call(d, hc, "PUT", path, cmds, &status, &out) == 0 && status == 200)
		log_info("event=discord_commands_registered scope=%s count=%d",
		         d->guild_id[0] ? "guild" : "global", cJSON_GetArraySize(out));
	else
		discord_log_refused("commands", status, out);
	cJSON_Delete(out);
	cJSON_Delete(cmds);
	pthread_mutex_lock(&d->mu);
	int need_channel = d->channel_ref[0] && !d->default_channel[0] && d->guild_id[0];
	pthread_mutex_unlock(&d->mu);
	if (need_channel) {
		snprintf(path, sizeof path, "/guilds/%s/channels", d->guild_id);
		out = NULL;
		if (discord_call(d, hc, "GET", path, NULL, &status, &out) == 0 && status == 200) {
			const cJSON *c;
			cJSON_ArrayForEach(c, out)
			{
				const char *name = json_str(c, "name"), *cid = json_str(c, "id");
				if (name && cid && json_int(c, "type", -1) == 0 &&
				    strcmp(name, d->channel_ref) == 0)
					discord_set_default_channel(d, cid);
			}
		} else {
			discord_log_refused("guild_channels", status, out);
		}
		cJSON_Delete(out);
	}
	struct discord_done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_BOOT;
	str_copy(x->url, sizeof x->url, url);
	discord_done_push(d, x);
}
/* The gateway gave up resuming: a fresh GET /gateway/bot (discord_gw.c). */
static void gw_url_job(void *arg, struct http_client *hc)
{
	struct discord *d = arg;
	long status = 0;
	cJSON *out = NULL;
	char err[256];
	struct discord_done *x = xcalloc(1, sizeof *x);
	x->kind = DONE_BOOT;
	if (discord_rest_call(d->rest, hc, "GET", "/gateway/bot", NULL, &status, &out, err,
	                      sizeof err) == 0 &&
	    status == 200 && json_str(out, "url")) {
		str_copy(x->url, sizeof x->url, json_str(out, "url"));
		log_info("event=discord_gateway_url reason=\"resume failed\"");
	} else {
		log_warn("event=discord_gateway_lookup_failed status=%ld error=%s", status,
		         log_q(err));
	}
	cJSON_Delete(out);
	discord_done_push(d, x);
}

static void gw_need_url(void *arg)
{
	struct discord *d = arg;
	lane_push(d->ack, gw_url_job, NULL, d);
}

/* ------------------------------------------------------- gateway callbacks */

static void gw_dispatch(void *arg, const char *t, const cJSON *d0)
{
	struct discord *d = arg;
	if (strcmp(t, "INTERACTION_CREATE") == 0) {
		discord_interaction(d, d0, NULL);
	} else if (strcmp(t, "GUILD_CREATE") == 0) {
		const cJSON *chans = cJSON_GetObjectItemCaseSensitive(d0, "channels");
		const cJSON *c;
		cJSON_ArrayForEach(c, chans)
		{
			const char *cid = json_str(c, "id"), *name = json_str(c, "name");
			if (!cid || !name)
				continue;
			int k = 0;
			while (k < d->nchans && strcmp(d->chans[k].id, cid) != 0)
				k++;
			if (k == d->nchans) {
				if (d->nchans == DISCORD_MAX_CHANNELS)
					continue;
				d->nchans++;
			}
			str_copy(d->chans[k].id, sizeof d->chans[k].id, cid);
			str_copy(d->chans[k].name, sizeof d->chans[k].name, name);
			if (d->channel_ref[0] && strcmp(name, d->channel_ref) == 0)
				discord_set_default_channel(d, cid);
		}
	}
}

static void gw_stopped(void *arg, int code)
{
	struct discord *d = arg;
	char what[200];
	/* discord_gw logged the reason once; HTTP interactions and posting go on */
	snprintf(what, sizeof what,
	         "the Discord Gateway closed for good (code %d); commands and buttons over the "
	         "Gateway stop until opsbot-bot is restarted with a fixed config or token",
	         code);
	bot_health_set(d->b, SURFACE, what);
}
/* --------------------------------------------------------------- surface */

static int discord_init(struct bot *b, struct config *cfg, void **priv)
{
	if (!config_has_section(cfg, SURFACE))
		return 0;
	if (!config_bool(cfg, SURFACE, "enabled", 1))
		return 0;
	const char *token = config_secret("DISCORD_BOT_TOKEN");
	const char *api = config_str(cfg, SURFACE, "api", "https://discord.com/api/v10");
	const char *app = config_str(cfg, SURFACE, "application_id", NULL);
	const char *guild = config_str(cfg, SURFACE, "guild_id", "");
	const char *channel = config_str(cfg, SURFACE, "channel", "");
	int use_gw = config_bool(cfg, SURFACE, "gateway", 1);
	const char *pk = config_str(cfg, SURFACE, "public_key", "");
	const char *ipath = config_str(cfg, SURFACE, "interactions_path", "/discord/interactions");
	int64_t skew = config_duration_ms(cfg, SURFACE, "max_skew", 5 * 60 * 1000);
	const char *tdir = config_str(cfg, SURFACE, "templates", "templates/discord");
	int gps = (int)config_int(cfg, SURFACE, "global_per_sec", 50, 1, 100000);
	int senders = (int)config_int(cfg, SURFACE, "senders", 4, 1, 8);
	int64_t gap = config_duration_ms(cfg, SURFACE, "identify_gap", 5000);
	int64_t iwmin = config_duration_ms(cfg, SURFACE, "invalid_session_wait_min", 1000);
	int64_t iwmax = config_duration_ms(cfg, SURFACE, "invalid_session_wait_max", 5000);
	int64_t qt = config_duration_ms(cfg, SURFACE, "queue_timeout", 5000);
	if (!token) {
		config_error(cfg, SURFACE, "application_id",
		             "DISCORD_BOT_TOKEN is not set in the environment");
		return -1;
	}
	if (!app || !*app || strlen(app) > 31) {
		config_error(cfg, SURFACE, "application_id",
		             "application_id is required (a snowflake)");
		return -1;
	}
	unsigned char k[32];
	if (*pk && discord_sig_hex(pk, k, sizeof k) < 0) {
		config_error(cfg, SURFACE, "public_key", "public_key must be 64 hex digits");
		return -1;
	}
	if (iwmax < iwmin) {
		config_error(cfg, SURFACE, "invalid_session_wait_max",
		             "must not be less than invalid_session_wait_min");
		return -1;
	}
	struct template_set *tpl = NULL;
	char err[512];
	if (discord_render_load(tdir, &tpl, err, sizeof err) < 0) {
		config_error(cfg, SURFACE, "templates", "templates %s", err);
		return -1;
	}
	struct route_table *routes = route_load(cfg, SURFACE);
	for (size_t i = 0; i < route_count(routes); i++) {
		const char *ch = route_channel(routes, i);
		if (strspn(ch, "0123456789") != strlen(ch))
			config_error(
			    cfg, SURFACE, "route",
			    "route channel '%s': Discord routes take a channel id (digits)", ch);
	}
	struct discord *d = xcalloc(1, sizeof *d);
	d->b = b;
	d->tpl = tpl;
	d->routes = routes;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->amu, NULL);
	pthread_cond_init(&d->acv, NULL);
	str_copy(d->app_id, sizeof d->app_id, app);
	str_copy(d->guild_id, sizeof d->guild_id, guild);
	str_copy(d->channel_ref, sizeof d->channel_ref, channel);
	/* A numeric channel is an id already; a name waits for GUILD_CREATE. */
	if (*channel && strspn(channel, "0123456789") == strlen(channel))
		str_copy(d->default_channel, sizeof d->default_channel, channel);
	str_copy(d->public_key, sizeof d->public_key, pk);
	d->max_skew_ms = skew;
	d->queue_timeout_ms = (int)qt;
	if (state_open(b->state_path, &d->post_state, err, sizeof err) < 0) {
		config_error(cfg, "bot", "state", "%s", err);
		template_set_free(tpl);
		route_free(d->routes);
		free(d);
		return -1;
	}
	d->rest = discord_rest_new(api, token, gps, 120000);
	d->ack = lane_start("discord-ack", 1);
	d->follow = lane_start("discord-follow", 1);
	discord_post_init(d);
	d->post = lane_start("discord-post", senders);
	if (use_gw) {
		struct discord_gw_cfg gc = {.token = token,
		                            .intents = INTENTS,
		                            .identify_gap_ms = gap,
		                            .invalid_wait_min_ms = iwmin,
		                            .invalid_wait_max_ms = iwmax};
		struct discord_gw_ops ops = {
		    .dispatch = gw_dispatch, .stopped = gw_stopped, .need_url = gw_need_url};
		if (discord_gw_new(&d->gw, b->lws, &gc, &ops, d, err, sizeof err) < 0)
			log_fatal("event=discord_gateway_failed error=%s", log_q(err));
	}
	if (*pk && httpd_route(b->httpd, "POST", ipath, discord_http_interaction, d) < 0)
		log_fatal("event=discord_route_failed path=%s", log_q(ipath));
	lane_push(d->ack, boot_job, NULL, d);
	log_info("event=discord_enabled gateway=%d http_interactions=%d guild=%s", use_gw, *pk != 0,
	         *guild ? guild : "(global)");
	*priv = d;
	return 1;
}

static void discord_on_event(struct bot *b, void *priv, const cJSON *event, int64_t seq)
{
	(void)b;
	discord_post_event(priv, event, seq);
}

static void discord_tick(struct bot *b, void *priv)
{
	struct discord *d = priv;
	pthread_mutex_lock(&d->mu);
	struct discord_done *list = d->done;
	d->done = d->done_tail = NULL;
	pthread_mutex_unlock(&d->mu);
	while (list) {
		struct discord_done *n = list->next;
		if (list->kind == DONE_SEQ)
			bot_surface_done(b, SURFACE, list->seq);
		else if (list->kind == DONE_BOOT && d->gw && list->url[0])
			discord_gw_set_url(d->gw, list->url);
		else if (list->kind == DONE_HEALTH)
			bot_health_set(b, SURFACE, list->what);
		free(list);
		list = n;
	}
	if (d->gw)
		discord_gw_tick(d->gw);
}

static void discord_fini(struct bot *b, void *priv)
{
	(void)b;
	struct discord *d = priv;
	d->stop = 1;
	pthread_mutex_lock(&d->amu);
	pthread_cond_broadcast(&d->acv); /* a follow-up waiting for its answer gives up */
	pthread_mutex_unlock(&d->amu);
	discord_gw_free(d->gw);
	lane_stop(d->ack);
	lane_stop(d->follow);
	lane_stop(d->post);
	discord_post_fini(d);
	route_free(d->routes);
	while (d->done) {
		struct discord_done *n = d->done->next;
		free(d->done);
		d->done = n;
	}
	struct discord_rest_stats rs;
	discord_rest_stats(d->rest, &rs);
	log_info("event=discord_stopped interactions=%ld bad_interactions=%ld rest_calls=%ld "
	         "r429_route=%ld r429_global=%ld",
	         d->interactions, d->bad_interactions, rs.calls, rs.r429_route, rs.r429_global);
	discord_rest_free(d->rest);
	state_close(d->post_state);
	template_set_free(d->tpl);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->amu);
	pthread_cond_destroy(&d->acv);
	free(d);
}

const struct surface discord_surface = {
    .name = SURFACE,
    .init = discord_init,
    .on_event = discord_on_event,
    .tick = discord_tick,
    .fini = discord_fini,
};
