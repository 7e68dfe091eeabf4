/*
 * route.h: which chat channel a new incident goes to.
 *
 * An incident that did not start in a chat channel (an alert, the metric
 * watch, opsbotctl) goes to the first route that matches its service and
 * severity, else to the surface's default channel.  Routes come from the
 * surface's section ([slack] or [discord]), one per line, first match wins:
 *
 *   route = CHANNEL PATTERN... [severity>=LEVEL]
 *
 * PATTERN is a service name or a shell pattern (payments-*, db-?); "*"
 * matches every service.  severity>=LEVEL keeps the route to incidents at
 * least that severe (critical > high > medium > low > info).  In a storm
 * this spreads new incidents over the teams' channels, so each channel's
 * own posting limit (Slack: about one message a second) carries only its
 * share.
 *
 * Ownership: the table copies what it needs from the config.
 */
#ifndef OPSBOT_BOT_ROUTE_H
#define OPSBOT_BOT_ROUTE_H

#include <stddef.h>

struct config;
struct route_table;

/*
 * Read every `route` line of section.  A bad line is recorded against the
 * config (config_error) and skipped.  Returns a table (possibly empty);
 * free with route_free.
 */
struct route_table *route_load(struct config *cfg, const char *section);
/* Parse one route line's value into t; 0, or -1 with err. */
int route_add(struct route_table *t, const char *line, char *err, size_t errlen);
struct route_table *route_new(void);
/* The channel for an incident on service (may be NULL) at severity (may be
 * NULL), or NULL when no route matches. */
const char *route_pick(const struct route_table *t, const char *service, const char *severity);
size_t route_count(const struct route_table *t);
/* Route i's channel (i < route_count). */
const char *route_channel(const struct route_table *t, size_t i);
void route_free(struct route_table *t);

#endif
