/*
 * NAME
 *   opsbot-bot - opsbot's chat front-ends and HTTP intake
 *
 * SYNOPSIS
 *   opsbot-bot -c FILE
 *
 * DESCRIPTION
 *   Runs one libwebsockets context and its service loop.  On it live the
 *   chat surfaces (Slack Socket Mode + Web API, Discord Gateway + REST; any
 *   of them enabled by its config section, several at once) and the HTTP
 *   listener (alert webhooks, /healthz, /metrics, Slack HTTP mode, Discord
 *   HTTP interactions).  Chat input becomes queue requests (submit, command,
 *   approve); queue events become chat messages: one parent message per
 *   incident and a thread of steps.
 *
 *   The surfaces are a table (struct surface, bot/surface.h).  A surface's
 *   code is linked in by adding its source to BOT_SRCS; the table below
 *   refers to it weakly, so a build without it simply has no such surface.
 *
 * TRUST
 *   Everything from chat and HTTP is untrusted input: it is validated,
 *   bounded ([http] max_body), and never fatal.  Slack HTTP mode requests
 *   must carry a valid v0 signature; webhooks their bearer token.  Tokens
 *   come only from the environment and never reach a log line.  The queue is
 *   trusted to be opsbot-queue.
 *
 * MESSAGES
 *   Sends submit, command, approve and query (events since N) to the queue's
 *   REP socket; receives every event on its PUB socket.
 *
 * STATE
 *   var/bot.db ([bot] state): per surface the last event seq handled, which
 *   events were posted, and each incident's thread (channel + parent id), so
 *   a restart neither loses nor repeats a chat update.  inbox.db beside it:
 *   Slack declarations acked before the queue answered (bot/inbox.h).
 *
 * CONFIG
 *   [queue]  listen, events            queue URLs (dialled unless overridden)
 *   [bot]    queue, events             override the URLs to dial
 *            state = var/bot.db        the bot's own database
 *            rpc_threads = 2           queue calls in flight at once
 *            catchup_interval = 5s     how often to ask for missed events
 *   [http]   listen = 127.0.0.1:8080   port 0 = random
 *            port_file                 where to write the chosen port
 *            max_body = 1048576        bigger requests get 413
 *            max_connections = 256     more at once get 503
 *            header_timeout = 10s      headers slower than this get 408
 *            body_timeout = 30s        bodies slower than this get 408
 *            max_buffered = 100663296  all bodies held at once; beyond: 503
 *   plus each surface's own section ([slack], [discord], ...).
 *
 * LIVENESS
 *   With OPSBOT_HEARTBEAT set (the master sets it), the loop's tick touches
 *   that file every second; the master kills and restarts a bot whose beat
 *   stops (bot/master.c).  OPSBOT_TEST_WEDGE=1 (tests only) makes SIGUSR2
 *   wedge the loop for good, so the watchdog can be tested.
 *
 * DIAGNOSTICS
 *   key=value lines on stderr; exit 1 on a config error (file:line: what).
 *   SIGTERM/SIGINT stop cleanly.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "bot.h"
#include "config.h"
#include "defaults.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "surface.h"
#include "timeutil.h"

/* Surfaces, each defined in its own file when linked (weak otherwise). */
extern const struct surface slack_surface __attribute__((weak));
extern const struct surface discord_surface __attribute__((weak));
extern const struct surface hooks_surface __attribute__((weak));
extern const struct surface upload_surface __attribute__((weak)); /* bot/upload.c (report) */

#define TICK_US (100 * 1000)

static struct bot *the_bot;
static lws_sorted_usec_list_t tick_sul;
static unsigned long ticks;

struct active {
	const struct surface *s[8];
	void *priv[8];
	int n;
};
static struct active active;
static int heartbeat_fd = -1;
static volatile sig_atomic_t wedge; /* test hook: SIGUSR2 wedges the loop */

static void on_wedge(int sig)
{
	(void)sig;
	wedge = 1;
}

static void on_signal(int sig)
{
	(void)sig;
	if (the_bot) {
		the_bot->stop = 1;
		if (the_bot->lws)
			lws_cancel_service(the_bot->lws);
	}
}

/* [bot] retain_posts / prune_interval: bot.db's per-post rows (state_prune) */
static int64_t retain_posts_ms, prune_every_ms, next_prune_ms;
#define PRUNE_BATCH 2000 /* rows of each kind per pass: a few ms of the loop */

static void prune(struct bot *b)
{
	int n;
	if (prune_every_ms <= 0 || retain_posts_ms <= 0 || time_mono_ms() < next_prune_ms)
		return;
	n = state_prune(b->state, time_now_ms(), retain_posts_ms, PRUNE_BATCH);
	/* a full pass may have left more: come back soon, not in an hour */
	next_prune_ms = time_mono_ms() + (n >= PRUNE_BATCH ? 1000 : prune_every_ms);
	if (n > 0)
		log_info("event=bot_db_pruned rows=%d", n);
}

static void pump(struct bot *b)
{
	bot_core_pump(b);
	for (int i = 0; i < active.n; i++)
		if (active.s[i]->tick)
			active.s[i]->tick(b, active.priv[i]);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (!the_bot || the_bot->stop)
		return;
	pump(the_bot);
	prune(the_bot);
	if (heartbeat_fd >= 0 && ticks % (1000000 / TICK_US) == 0)
		futimens(heartbeat_fd, NULL); /* the loop is alive: tell the master */
	while (wedge)
		sleep(1); /* test hook: a loop stuck for good */
	/* the loop's handle does not checkpoint on commit; once a minute is
	 * enough for its few writes (a surface's sender checkpoints its own) */
	if (++ticks % (60 * 1000000 / TICK_US) == 0)
		state_checkpoint(the_bot->state);
	lws_sul_schedule(the_bot->lws, 0, &tick_sul, tick, TICK_US);
}

static int core_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && the_bot && the_bot->core)
		pump(the_bot);
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols core_protocols[] = {
    {"opsbot-core", core_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* 200 "ok", or 503 with one "who: what to do" line per part that is down. */
static void healthz(struct httpd_x *x, void *arg)
{
	struct bot *b = arg;
	char text[BOT_HEALTH_MAX * 260 + 16];

	if (bot_health_text(b, text, sizeof text) == 0) {
		httpd_reply_str(x, 200, "text/plain", "ok\n");
		return;
	}
	httpd_reply_str(x, 503, "text/plain", text);
}

static void usage(void)
{
	fprintf(stderr, "usage: opsbot-bot -c FILE\n");
	exit(2);
}

static const char *parse_args(int argc, char **argv)
{
	const char *cfg_path = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			cfg_path = optarg;
		else
			usage();
	}
	if (!cfg_path || optind != argc)
		usage();
	return cfg_path;
}

/* TERM and INT stop the loop; the test hooks (a wedge, the master's
 * heartbeat file) only when their variables ask. */
static void signals_and_hooks(void)
{
	const char *hb = getenv("OPSBOT_HEARTBEAT");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, SIG_IGN);
	if (getenv("OPSBOT_TEST_WEDGE") && strcmp(getenv("OPSBOT_TEST_WEDGE"), "1") == 0)
		signal(SIGUSR2, on_wedge);
	if (hb && *hb) {
		heartbeat_fd = open(hb, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (heartbeat_fd < 0)
			log_warn("event=heartbeat_open_failed path=%s", log_q(hb));
	}
}

/* [bot]: where the queue is, how the core runs, bot.db and its pruning. */
static void bot_config(struct bot *b)
{
	b->queue_url = config_str(b->cfg, "bot", "queue",
	                          config_str(b->cfg, "queue", "listen", DEF_QUEUE_URL));
	b->events_url = config_str(b->cfg, "bot", "events",
	                           config_str(b->cfg, "queue", "events", DEF_EVENTS_URL));
	b->catchup_ms = config_duration_ms(b->cfg, "bot", "catchup_interval", 5000);
	b->rpc_threads = (int)config_int(b->cfg, "bot", "rpc_threads", 2, 1, 8);
	b->state_path = config_str(b->cfg, "bot", "state", DEF_BOT_STATE);
	retain_posts_ms = config_duration_ms(b->cfg, "bot", "retain_posts", 30LL * 86400 * 1000);
	prune_every_ms = config_duration_ms(b->cfg, "bot", "prune_interval", 3600 * 1000);
}

/* The lws context and the core vhost whose protocol wakes the loop. */
static void loop_open(struct bot *b)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = b;
	b->lws = lws_create_context(&info);
	if (!b->lws)
		log_fatal("event=lws_context_failed");
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = core_protocols;
	info.vhost_name = "core";
	if (!lws_create_vhost(b->lws, &info))
		log_fatal("event=lws_vhost_failed");
}

/* [http]: the listener for webhooks and /healthz, with its limits; a listen
 * address that fails names the config line. */
static void http_open(struct bot *b)
{
	char err[512] = "";
	const char *listen = config_str(b->cfg, "http", "listen", DEF_HTTP_LISTEN);
	const char *port_file = config_str(b->cfg, "http", "port_file", NULL);
	int64_t max_body = config_int(b->cfg, "http", "max_body", 1 << 20, 1024, 64 << 20);

	if (httpd_open(&b->httpd, b->lws, listen, (size_t)max_body, port_file, err, sizeof err) <
	    0) {
		char where[600];
		int line = config_line(b->cfg, "http", "listen");
		if (line)
			snprintf(where, sizeof where, "%s:%d: [http] listen: %s",
			         config_file(b->cfg), line, err);
		else
			snprintf(where, sizeof where, "%s: [http] listen (default %s): %s",
			         config_file(b->cfg), listen, err);
		log_fatal("event=http_listen_failed error=%s", log_q(where));
	}
	struct httpd_limits lim = {
	    .max_conns = (size_t)config_int(b->cfg, "http", "max_connections", 256, 8, 10000),
	    .header_timeout_ms = (int)config_duration_ms(b->cfg, "http", "header_timeout", 10000),
	    .body_timeout_ms = (int)config_duration_ms(b->cfg, "http", "body_timeout", 30000),
	    .max_buffered =
	        (size_t)config_int(b->cfg, "http", "max_buffered", 96 << 20, 1 << 20, 1024LL << 20),
	};
	httpd_set_limits(b->httpd, &lim);
	httpd_route(b->httpd, "GET", "/healthz", healthz, b);
}

/* Each surface reads its section and says whether it is on; then every
 * section the config has must belong to one of them (or to bot, http). */
static void surfaces_init(struct bot *b)
{
	const struct surface *table[] = {&slack_surface, &discord_surface, &hooks_surface,
	                                 &upload_surface};
	const char *owned[16] = {"bot", "http"};
	int nowned = 2;
	char err[512] = "";

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct surface *s = table[i];
		void *priv = NULL;
		int on;
		if (!s)
			continue;
		owned[nowned++] = s->name;
		on = s->init(b, b->cfg, &priv);
		if (on < 0) {
			config_check(b->cfg, owned, err, sizeof err);
			log_fatal("event=surface_init_failed surface=%s error=%s", s->name,
			          log_q(err));
		}
		log_info("event=surface surface=%s enabled=%d", s->name, on);
		if (on) {
			active.s[active.n] = s;
			active.priv[active.n] = priv;
			active.n++;
		}
	}
	owned[nowned] = NULL;
	if (config_check(b->cfg, owned, err, sizeof err) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
}

/* The surfaces stop in reverse order, then the core, the loop, the rest. */
static void shut_down(struct bot *b)
{
	for (int i = active.n - 1; i >= 0; i--)
		if (active.s[i]->fini)
			active.s[i]->fini(b, active.priv[i]);
	lws_sul_cancel(&tick_sul);
	bot_core_stop(b);
	lws_context_destroy(b->lws);
	httpd_close(b->httpd);
	state_close(b->state);
	config_free(b->cfg);
}

int main(int argc, char **argv)
{
	struct bot b;
	char err[512] = "";

	memset(&b, 0, sizeof b);
	b.cfg_path = parse_args(argc, argv);
	log_init("opsbot-bot");
	the_bot = &b;
	if (config_load(b.cfg_path, &b.cfg, err, sizeof err) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	signals_and_hooks();
	lws_set_log_level(LLL_ERR, NULL);
	bot_config(&b);
	if (state_open(b.state_path, &b.state, err, sizeof err) < 0)
		log_fatal("event=state_open_failed error=%s", log_q(err));
	state_loop_mode(b.state); /* checkpoints happen off the loop (see tick) */
	loop_open(&b);
	http_open(&b);
	surfaces_init(&b);
	if (bot_core_start(&b, active.s, active.priv, active.n, err, sizeof err) < 0)
		log_fatal("event=core_start_failed error=%s", log_q(err));

	lws_sul_schedule(b.lws, 0, &tick_sul, tick, TICK_US);
	log_info("event=started surfaces=%d http_port=%d", active.n, httpd_port(b.httpd));
	while (!b.stop) {
		if (lws_service(b.lws, 0) < 0)
			break;
	}
	log_info("event=stopping");
	shut_down(&b);
	return 0;
}
