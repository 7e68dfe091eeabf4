/*
 * alert.h: webhook payloads (Prometheus Alertmanager, generic JSON) turned
 * into what opsbot-queue takes: an incident spec with an idempotency key,
 * and for Alertmanager the follow-up note and resolution.
 *
 * Alertmanager (webhook payload version 4):
 *   {version:"4", groupKey, status:"firing"|"resolved", receiver,
 *    groupLabels{}, commonLabels{}, commonAnnotations{}, externalURL,
 *    truncatedAlerts, alerts:[{status, labels{}, annotations{}, startsAt,
 *    endsAt, generatorURL, fingerprint}]}
 *   One incident per episode of a group: the first episode's key is
 *   "am:" + the first 32 hex digits of SHA-256(groupKey) (group_hash), the
 *   n-th's "am:<group_hash>#n"; the intake walks the episodes so a group
 *   that fires again after its incident was resolved opens episode n+1,
 *   while a retried notification lands on the same one (intake.c).  The
 *   incident's labels carry commonLabels, the group key, am_group and `at`
 *   (the earliest startsAt: where detection looks).  A later notification
 *   of the group becomes a note (keyed by the set of fingerprints and
 *   statuses, sig_hash, so Alertmanager's repeats are harmless); status
 *   "resolved" becomes a resolve command.
 *
 *   Any number of alerts is taken (Alertmanager sends a whole group unless
 *   its max_alerts is set, and does not retry a 4xx): the incident gets the
 *   counts, the labels all alerts share and the first ALERT_SHOWN alerts in
 *   full; memory is bounded by the route's body cap ([hooks]
 *   alertmanager_max_body, 32 MiB).
 *
 * Generic (POST /hooks/generic), the documented shape:
 *   {"title": "Checkout errors",         required, 1..200 chars
 *    "service": "checkout",              required, 1..100 chars
 *    "severity": "high",                 critical|high|medium|low|info (medium)
 *    "labels": {"team": "payments"},     optional, string values only
 *    "text": "Error rate 12% since 04:50", optional, up to 4000 chars
 *    "key": "deploy-4711"}               optional idempotency key (up to 100)
 *   Any other field is an error.
 *
 * Text: every body passes utf8_clean_json() first (lib/utf8.h): a NUL is
 * refused, invalid UTF-8 becomes U+FFFD, and every cut is on a character
 * boundary.
 *
 * Parsing is strict and complete before anything is sent, so a bad payload
 * changes nothing.  Ownership: alert_req_free releases what a parser made.
 */
#ifndef OPSBOT_BOT_ALERT_H
#define OPSBOT_BOT_ALERT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define ALERT_SHOWN 5 /* alerts quoted in full in the incident summary */

struct alert_req {
	char key[128];         /* idempotency key of the submit ("" = none) */
	cJSON *spec;           /* incident spec for submit */
	int update;            /* Alertmanager: a note goes with every notification */
	int resolved;          /* Alertmanager: the group is resolved */
	char note[600];        /* what the notification says, one line */
	char note_key[128];    /* idempotency key of the note */
	char resolve_key[128]; /* idempotency key of the resolve */
	char group_hash[33];   /* Alertmanager: 32 hex digits of SHA-256(groupKey) */
	char sig_hash[33];     /* Alertmanager: of status + fingerprints/statuses */
	int nalerts, nfiring;
};

/* 0, or -1 with a one-line reason naming the field in err. */
int alert_parse_alertmanager(const char *body, size_t len, struct alert_req *out, char *err,
                             size_t errlen);
int alert_parse_generic(const char *body, size_t len, struct alert_req *out, char *err,
                        size_t errlen);
void alert_req_free(struct alert_req *r);

/* Map a free-form severity label to opsbot's five ("warning" -> medium). */
const char *alert_severity(const char *label);

#endif
