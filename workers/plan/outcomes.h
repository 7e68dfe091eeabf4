/*
 * outcomes.h: the planner's own memory, a small SQLite file ([plan] db).
 *
 * It remembers, per incident signature and action, how often the action was
 * run and how often the incident verified as fixed afterwards (the bandit's
 * arms), when each action last ran on each target (cooldowns and rate
 * limits), and the plan proposed for each incident (to attribute a later
 * verification to its actions).  Everything here is learned from the
 * queue's event log, so losing the file loses learning, never an incident.
 *
 * Invariants:
 *   1. one row per (signature, action) in arms; 0 <= wins <= runs;
 *   2. an incident's outcome is counted once (outcomes_verified ignores an
 *      incident already scored);
 *   3. the event cursor only moves forward.
 *
 * One connection per struct outcomes; use it from one thread at a time
 * (the worker's handler and its event follower each open their own).
 */
#ifndef OPSBOT_PLAN_OUTCOMES_H
#define OPSBOT_PLAN_OUTCOMES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct outcomes;

struct outcomes_arm {
	char action[64];
	int64_t runs;
	int64_t wins;
};

/* Open or create path (":memory:" for tests); -1 with err. */
int outcomes_open(struct outcomes **out, const char *path, char *err, size_t errlen);
void outcomes_close(struct outcomes *o);

/* Every arm of a signature; *arms is malloc'd (caller frees), *n the count. */
int outcomes_arms(struct outcomes *o, const char *signature, struct outcomes_arm **arms, size_t *n);
/* Add one result for (signature, action): win is 1 when it fixed the incident. */
int outcomes_record(struct outcomes *o, const char *signature, const char *action, int win);

/* Remember the plan proposed for an incident (replaces an older one). */
int outcomes_plan(struct outcomes *o, int64_t incident, const char *signature, const cJSON *steps,
                  int64_t at_ms);
/* An execute result: ok steps become executions (for cooldowns). */
int outcomes_executed(struct outcomes *o, int64_t incident, const cJSON *steps, int64_t at_ms);
/* A verify result: every action executed for the incident gets a win or a loss. */
int outcomes_verified(struct outcomes *o, int64_t incident, int ok);

/* Record one execution directly (command line, tests). */
int outcomes_ran(struct outcomes *o, const char *action, const char *target, int64_t incident,
                 int64_t at_ms);
/* Last run of action on target (0 if never) and runs of action since since_ms. */
int outcomes_last_run(struct outcomes *o, const char *action, const char *target, int64_t *last_ms);
int outcomes_runs_since(struct outcomes *o, const char *action, int64_t since_ms, int64_t *n);

/* The event cursor: the last event seq already learned from. */
int outcomes_cursor(struct outcomes *o, int64_t *seq);
int outcomes_set_cursor(struct outcomes *o, int64_t seq);

/*
 * The target of a step for cooldowns: its string parameters in order,
 * "service=checkout" (numbers are amounts, not targets).  Caller frees.
 */
char *outcomes_target(const cJSON *params);

#endif
