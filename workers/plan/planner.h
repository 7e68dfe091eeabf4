/*
 * planner.h: one plan job from input to result: choose the planner, run the
 * critic, attach approvals, name and hash the plan.
 *
 * Config ([plan] and [llm] in config/opsbot.conf):
 *   plan.catalog     action catalog (config/actions.conf)
 *   plan.policy      approval policy (config/policy.conf)
 *   plan.db          the planner's memory (var/plan.db; ":memory:" for none kept)
 *   plan.planner     auto | playbook | llm (auto: llm when [llm] base_url is set)
 *   plan.max_steps   most steps in a plan (1..10, default 3)
 *   plan.ucb_c       bandit exploration weight (default 0.5)
 *   plan.fallback    action when nothing matches (default page_oncall; "none")
 *   plan.learn       follow the queue's events to learn outcomes (default yes)
 *   plan.learn_interval  how often to ask for new events (default 2s)
 *   llm.base_url     e.g. http://127.0.0.1:11434/v1 (OpenAI-compatible)
 *   llm.model, llm.timeout, llm.max_attempts, llm.max_retry_wait,
 *   llm.token_budget, llm.max_tokens, llm.json_schema,
 *   llm.prompt_cost_per_1k, llm.completion_cost_per_1k
 *   The key comes from the environment: OPSBOT_LLM_API_KEY.
 *
 * Result (lib/wire.h plan job): {plan:{id, hash, planner, signature, steps,
 * notes}, needs_approval, summary, llm?:{usage}}.  The hash covers the
 * incident and every step's action, params and approval, so a button for an
 * older plan no longer matches.
 */
#ifndef OPSBOT_PLAN_PLANNER_H
#define OPSBOT_PLAN_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "planctx.h"

struct planner;

/* Read [plan] and [llm], load catalog and policy, open the memory.  -1 with err. */
int planner_new(struct planner **out, struct config *cfg, char *err, size_t errlen);
void planner_free(struct planner *p);

/*
 * Plan one incident at wall-clock now_ms.  Returns 0 with *result (caller
 * owns) or -1 with err when the input itself is unusable (no incident).
 */
int planner_run(struct planner *p, const cJSON *input, int64_t now_ms, cJSON **result, char *err,
                size_t errlen);

/* Settings the worker needs after init (the event follower). */
const char *planner_db_path(const struct planner *p);
int planner_learns(const struct planner *p);
/* Whether plans go to the LLM first (then the timeline is worth fetching). */
int planner_uses_llm(const struct planner *p);
int64_t planner_learn_interval_ms(const struct planner *p);
/* Milliseconds the last run spent outside the model (benchmark). */
double planner_last_overhead_ms(const struct planner *p);

#endif
