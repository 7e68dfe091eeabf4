/*
 * surface.h: one chat surface of opsbot-bot (Slack, Discord, ...).
 *
 * main.c holds the table of surfaces; any number may be enabled at once.
 * All callbacks run on the lws service thread.  A surface keeps its own
 * state behind *priv.
 *
 * Events: on_event is called once per queue event, in seq order, for every
 * event after the surface's stored seq (state.h).  The surface calls
 * bot_surface_done(bot, name, seq) when everything up to seq is durably
 * handled (posted, or recorded as not needing a post); after a restart
 * catch-up resumes after that seq, so an event accepted but not yet posted
 * is offered again.  A surface must therefore tolerate seeing an event twice
 * across restarts (state_posted_* makes that cheap).  A surface new to
 * bot.db starts after the queue's last event (history is not replayed).
 *
 * Adding one: define `const struct surface discord_surface = {...}` in
 * bot/discord.c and add `BOT_SRCS += bot/discord.c` in your own fragment;
 * main.c names discord_surface, slack_surface and hooks_surface weakly, so
 * each is in the table exactly when its file is linked.  A part with no
 * chat (HTTP intake: /hooks/..., /metrics) is a surface with on_event NULL
 * whose init registers routes with httpd_route(b->httpd, ...).  A surface
 * that needs websockets creates its own client vhost in init
 * (lws_create_vhost on b->lws with CONTEXT_PORT_NO_LISTEN), as slack does.
 */
#ifndef OPSBOT_BOT_SURFACE_H
#define OPSBOT_BOT_SURFACE_H

#include <stdint.h>

#include <cjson/cJSON.h>

struct bot;
struct config;

struct surface {
	const char *name; /* "slack"; also the key in bot.db */
	/*
	 * Read this surface's config section, open connections, register HTTP
	 * routes.  Returns 1 when enabled (*priv set), 0 when not configured,
	 * -1 on a config error (recorded with config_error; start-up stops).
	 */
	int (*init)(struct bot *b, struct config *cfg, void **priv);
	/* One queue event (the whole event object); ownership stays with the bot. */
	void (*on_event)(struct bot *b, void *priv, const cJSON *event, int64_t seq);
	/* Called about every 100 ms and whenever the loop is woken. */
	void (*tick)(struct bot *b, void *priv);
	/* Stop: close connections, join threads, free priv. */
	void (*fini)(struct bot *b, void *priv);
};

#endif
