/*
 * planctx.h: what every part of the planner reads while it plans one
 * incident (catalog, policy, memory, clock, limits).  Borrowed pointers:
 * nothing here is freed by the parts that read it.
 */
#ifndef OPSBOT_PLAN_PLANCTX_H
#define OPSBOT_PLAN_PLANCTX_H

#include <stdint.h>

#include "catalog.h"
#include "outcomes.h"
#include "policy.h"

#define PLAN_MAX_STEPS 10 /* hard cap whatever [plan] max_steps says */
#define PLAN_MAX_EDGES 64 /* [services] caller -> callee pairs read */

struct plan_edge {
	char caller[64], callee[64];
};

struct plan_ctx {
	const struct catalog *cat;
	const struct policy *pol;
	struct outcomes *mem; /* NULL: no cooldown history and no learning */
	int64_t now_ms;       /* wall clock for freezes and cooldowns */
	int max_steps;
	double ucb_c;                  /* exploration weight of the bandit */
	const char *fallback_action;   /* when the playbook finds nothing; NULL for none */
	const struct plan_edge *edges; /* [services]: who calls whom */
	int nedges;
};

#endif
