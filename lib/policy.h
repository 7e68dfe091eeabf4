/*
 * policy.h: who may approve what, and when nothing may change
 * (config/policy.conf).
 *
 *   [policy]
 *   auto = noop, page_oncall         # actions that never wait for approval
 *   auto_risk = low                  # and any action at or below this risk
 *                                    # (none, low, medium, high)
 *   approvers = sre                  # default approvers (people or groups)
 *   distinct_approvers = 1
 *   requester_may_approve = no
 *   approval_expiry = 30m
 *   timezone = UTC                   # default zone of freeze windows
 *
 *   [person alice]
 *   slack = U0ALICE01
 *   discord = 111111111111111111
 *   unix = alice                     # local account (opsbotctl over ipc://)
 *
 *   [group sre]
 *   members = alice, bob
 *
 *   [approval high]                  # per risk (low|medium|high) or per
 *   approvers = sre-leads            # action name; an action's own section
 *   distinct_approvers = 2           # wins over its risk's
 *   requester_may_approve = no
 *   approval_expiry = 15m
 *
 *   [freeze friday]
 *   days = fri                       # mon..sun, ranges fri-sun, or *
 *   hours = 12:00-24:00              # HH:MM-HH:MM, may wrap past midnight
 *   timezone = Europe/Berlin
 *   min_risk = medium                # actions at or above this risk
 *   actions = *                      # or a list; except = a list
 *   reason = No risky changes on Friday afternoons.
 *
 *   [replicas]
 *   default = 1..20                  # any service
 *   checkout = 2..30                 # one service
 *
 * Loading checks every name against the catalog and every person a group or
 * rule names; errors are "file:line: what is wrong".  Ownership: the policy
 * owns its strings (policy_free()); it keeps no pointer into the catalog.
 */
#ifndef OPSBOT_POLICY_H
#define OPSBOT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

struct policy;

struct policy_approval {
	int required;                 /* 0: runs without approval ("auto") */
	const char *const *approvers; /* person or group names, NULL-terminated */
	int distinct;                 /* distinct approvers needed */
	int requester_may_approve;
	int64_t expiry_ms;
	const char *rule; /* the section that decided: "policy", "approval high", ... */
};

struct policy_freeze_hit {
	const char *name;
	const char *reason;
	int64_t ends_ms; /* when this window (and any window of it that follows at once) ends */
};

int policy_load(const char *path, const struct catalog *cat, struct policy **out, char *err,
                size_t errlen);
int policy_parse(const char *name, const char *text, const struct catalog *cat, struct policy **out,
                 char *err, size_t errlen);
void policy_free(struct policy *p);

/* The approval a step of action a needs; pointers live as long as the policy. */
void policy_approval_for(const struct policy *p, const struct catalog_action *a,
                         struct policy_approval *out);

/* Whether a freeze window covers action a at wall-clock time now_ms (1 and *hit, or 0). */
int policy_frozen(const struct policy *p, const struct catalog_action *a, int64_t now_ms,
                  struct policy_freeze_hit *hit);

/* Replica limits for a service (its own line, else default); 0, or -1 when none apply. */
int policy_replicas(const struct policy *p, const char *service, int64_t *min, int64_t *max);

/*
 * Whether the chat user `user_id` on `surface` ("slack"|"discord") may
 * approve a step of action a requested by `requester_id` (may be NULL).
 * Returns 1 (may), 0 (may not; reason in why), for the approve path.
 */
int policy_may_approve(const struct policy *p, const struct catalog_action *a, const char *surface,
                       const char *user_id, const char *requester_id, char *why, size_t whylen);

/*
 * Whether `person` may approve a step under approval rule ap (of action
 * `action`) when `requester` (a person name, may be NULL) opened the
 * incident.  1 (may) or 0 with the reason in why.  Persons, not chat ids:
 * one person's Slack and Discord accounts are the same approver.
 */
int policy_person_may_approve(const struct policy *p, const struct policy_approval *ap,
                              const char *action, const char *person, const char *requester,
                              char *why, size_t whylen);

/* The [policy] section's rule (used when a plan needs approval but no step names a rule). */
void policy_default_approval(const struct policy *p, struct policy_approval *out);

/*
 * The person name for a user id on surface "slack", "discord" or "unix"
 * (a local account name), or NULL.
 */
const char *policy_person_of(const struct policy *p, const char *surface, const char *user_id);

#endif
