/*
 * critic.h: the one check every plan passes, whichever planner wrote it.
 *
 * A proposed step is untrusted input (a language model may have read an
 * alert that told it what to write).  The critic keeps only what the
 * catalog and the policy allow and says why it dropped anything:
 *
 *   - a step that is not an object, names no action, or an action that is
 *     not in the catalog is removed;
 *   - parameters the action does not declare are removed; a value outside
 *     its type (enum, int range, pattern) removes the step; a missing
 *     required value takes the catalog default or removes the step;
 *   - risk, approval or any other field the proposal sets is ignored: risk
 *     comes from the catalog and approval from the policy;
 *   - repeated steps, steps inside a change freeze, steps within their
 *     cooldown or over their rate limit are removed;
 *   - a "replicas" parameter is held inside the policy's replica limits;
 *   - rationale is cut to one clean line; citations are kept only when they
 *     name a retrieved passage ("P2" or its "source#section");
 *   - at most ctx->max_steps steps remain.
 *
 * Each kept step is {action, params, risk, rationale, citations, approval,
 * approvers?, distinct_approvers?, approval_expiry_ms?}.
 */
#ifndef OPSBOT_PLAN_CRITIC_H
#define OPSBOT_PLAN_CRITIC_H

#include <cjson/cJSON.h>

#include "planctx.h"

#define CRITIC_RATIONALE_MAX 300

/*
 * Check raw (an array of proposed steps; anything else counts as empty)
 * against ctx.  passages is retrieve.passages (may be NULL).  Returns the
 * new array of kept steps (caller owns); one line per decision is appended
 * to notes (an array).
 */
cJSON *critic_check(const struct plan_ctx *ctx, const cJSON *raw, const cJSON *passages,
                    cJSON *notes);

/* The citation label of passage i (0-based): "source#section" into out. */
void critic_passage_ref(const cJSON *passage, char *out, size_t outlen);

/* Copy s into out as one clean line: control characters become spaces, cut at max bytes. */
void critic_clean_line(const char *s, char *out, size_t max);

#endif
