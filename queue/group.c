/*
 * group.c: alerts that belong together become one incident (see group.h).
 *
 * In a storm one failure fires many alerts: the database, then every
 * service that calls it.  An incident submitted by a source listed in
 * [pipeline] group_sources (alerts and the metric watch, not a person's
 * /incident declare) attaches to a live incident instead of opening a new
 * one when, within [pipeline] group_window of that incident's opening:
 *
 *   - it names the same Alertmanager group (labels.group_key), or
 *   - it is on the same service, or on a service next to it in the
 *     [services] dependency graph (either direction: a database alert joins
 *     the checkout incident that calls it, and the other way round).
 *
 * The incident keeps the count and the first GROUP_KEEP alerts in its spec
 * ("grouped": {"count", "alerts": [...]}) and an incident.updated event
 * puts the count and the newest alert in the thread.  Retries of the same
 * notification are still answered by its idempotency key, which now names
 * the incident it joined.
 */
#include "group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "mem.h"

#define GROUP_KEEP     10  /* alerts kept in full in the spec */
#define GROUP_SCAN_MAX 256 /* live incidents looked at per submit */

static const char *const group_source_names[] = {"alertmanager", "generic", "watch", "slack",
                                                 "discord",      "cli",     NULL};

int group_sources_parse(const char *text, unsigned *mask, char *bad, size_t badlen)
{
	*mask = 0;
	char word[64];
	for (const char *p = text; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, " \t,");
		if (!n)
			break;
		snprintf(word, sizeof(word), "%.*s", (int)(n < 63 ? n : 63), p);
		int i = 0;
		while (group_source_names[i] && strcmp(group_source_names[i], word))
			i++;
		if (!group_source_names[i]) {
			snprintf(bad, badlen, "%s", word);
			return -1;
		}
		*mask |= 1u << i;
		p += n;
	}
	return 0;
}

static int source_bit(const char *source)
{
	for (int i = 0; source && group_source_names[i]; i++)
		if (!strcmp(group_source_names[i], source))
			return i;
	return -1;
}

int group_edge_add(struct group_conf *g, const char *caller, const char *callee)
{
	if (g->nedges >= GROUP_EDGES_MAX)
		return -1;
	if (str_copy(g->edges[g->nedges].caller, sizeof(g->edges[0].caller), caller) < 0 ||
	    str_copy(g->edges[g->nedges].callee, sizeof(g->edges[0].callee), callee) < 0)
		return -1;
	g->nedges++;
	return 0;
}

int group_related(const struct group_conf *g, const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 1;
	for (int i = 0; i < g->nedges; i++) {
		const char *x = g->edges[i].caller, *y = g->edges[i].callee;
		if ((!strcmp(x, a) && !strcmp(y, b)) || (!strcmp(x, b) && !strcmp(y, a)))
			return 1;
	}
	return 0;
}

static const char *group_key_of(const cJSON *spec)
{
	return json_str(cJSON_GetObjectItemCaseSensitive(spec, "labels"), "group_key");
}

int group_find(struct queue *q, const cJSON *spec, int64_t *into)
{
	const struct group_conf *g = &q->conf.group;
	*into = 0;
	int bit = source_bit(json_str(spec, "source"));
	if (g->window_ms <= 0 || bit < 0 || !(g->sources & (1u << bit)))
		return 0;
	const char *service = json_str(spec, "service");
	const char *gkey = group_key_of(spec);
	struct store_live *live = xcalloc(GROUP_SCAN_MAX, sizeof(*live));
	int n = 0;
	if (store_incidents_live_since(q->st, q->now - g->window_ms, live, GROUP_SCAN_MAX, &n) <
	    0) {
		free(live);
		return -1;
	}
	/* The same Alertmanager group first, then the newest related service. */
	int64_t by_service = 0;
	for (int i = 0; i < n && !*into; i++) {
		if (gkey) {
			struct store_incident in;
			int rc = store_incident_get(q->st, live[i].id, &in);
			if (rc < 0) {
				free(live);
				return -1;
			}
			if (rc == 1) {
				cJSON *s = cJSON_Parse(in.spec);
				const char *k = group_key_of(s);
				if (k && !strcmp(k, gkey))
					*into = live[i].id;
				cJSON_Delete(s);
				store_incident_clear(&in);
			}
		}
		if (!by_service && service && group_related(g, service, live[i].service))
			by_service = live[i].id;
	}
	if (!*into)
		*into = by_service;
	free(live);
	return *into ? 1 : 0;
}

/* "title" on service (severity, source): one line about an alert. */
static void alert_line(const cJSON *spec, char *out, size_t len)
{
	snprintf(out, len, "%s on %s (%s, %s)",
	         json_str(spec, "title") ? json_str(spec, "title") : "",
	         json_str(spec, "service") ? json_str(spec, "service") : "?",
	         json_str(spec, "severity") ? json_str(spec, "severity") : "?",
	         json_str(spec, "source") ? json_str(spec, "source") : "?");
}

int group_attach(struct queue *q, int64_t into, const cJSON *spec)
{
	struct store_incident in;
	int rc = store_incident_get(q->st, into, &in);
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	cJSON *s = cJSON_Parse(in.spec);
	if (!cJSON_IsObject(s)) {
		cJSON_Delete(s);
		s = json_new_object();
	}
	cJSON *grp = cJSON_GetObjectItemCaseSensitive(s, "grouped");
	if (!cJSON_IsObject(grp)) {
		cJSON_DeleteItemFromObjectCaseSensitive(s, "grouped");
		grp = json_new_object();
		json_add_int(grp, "count", 1); /* the alert that opened it */
		json_add(grp, "alerts", json_new_array());
		json_add(s, "grouped", grp);
	}
	int64_t count = json_int(grp, "count", 1) + 1;
	cJSON_ReplaceItemInObjectCaseSensitive(grp, "count", cJSON_CreateNumber((double)count));
	cJSON *alerts = cJSON_GetObjectItemCaseSensitive(grp, "alerts");
	if (cJSON_IsArray(alerts) && cJSON_GetArraySize(alerts) < GROUP_KEEP) {
		cJSON *a = json_new_object();
		static const char *const keep[] = {"title", "service", "severity", "source", NULL};
		for (int i = 0; keep[i]; i++)
			json_add_str(a, keep[i], json_str(spec, keep[i]));
		json_add_int(a, "at_ms", q->now);
		cJSON_AddItemToArray(alerts, a);
	}
	char *text = json_print(s);
	rc = store_incident_set_spec(q->st, into, text, q->now);
	free(text);
	cJSON_Delete(s);
	store_incident_clear(&in);
	if (rc < 0)
		return -1;

	char line[512], n[96];
	alert_line(spec, line, sizeof(line));
	snprintf(n, sizeof(n), "%lld grouped into this incident", (long long)count);
	cJSON *d = json_new_object();
	json_add_str(d, "alerts", n);
	json_add_str(d, "latest_alert", line);
	log_info("event=alert_grouped incident=%lld count=%lld service=%s", (long long)into,
	         (long long)count, log_q(json_str(spec, "service")));
	return handle_event(q, into, WIRE_EV_UPDATED, d) < 0 ? -1 : 1;
}
