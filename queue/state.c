/*
 * state.c: the incident state machine (DESIGN.md "Incident state machine").
 *
 *   open -> detecting -> retrieving -> planning -+-> awaiting_approval -+-> executing
 *                                                |                      |-> rejected
 *                                                |                      '-> expired
 *                                                '-----------------------------> executing
 *   executing -> verifying -+-> resolved   (verify result ok:true)
 *                           |-> planning   (ok:false, replan:true: opsbot-exec
 *                           |               has rounds left; plan again)
 *                           '-> failed     (ok:false)
 *
 *   any of open..verifying --pause--> paused --resume--> the state it left
 *   any of open..verifying, paused, failed --resolve by hand--> resolved
 *   any of open..verifying, paused --a stage job dead-lettered--> failed
 *   failed --retry of the dead job--> that job's stage state
 *
 * A stage not enabled in [pipeline] stages is passed through: the incident
 * enters its state and leaves it in the same transaction, with a timeline
 * event saying it was skipped.  When no stage is left after executing's or
 * verifying's place, the incident is resolved and the timeline says it was
 * not verified.
 *
 * Invariants (checked with LOG_ASSERT where transitions are applied, in
 * queue/handle.c, and in state_test.c / the queue's tests):
 *   1. Every change of an incident's state is a pair state_allowed() accepts,
 *      and writes exactly one incident.stage event.
 *   2. resolved, rejected and expired are terminal: no transition leaves them.
 *   3. An incident in a working state (detecting, retrieving, planning,
 *      executing, verifying) has exactly one job of that state's stage that
 *      is ready, leased or done-but-not-yet-advanced; a paused incident's
 *      ready jobs are held and go back to ready on resume.  An executing
 *      incident's execute job is also held while a person decides about a
 *      step whose outcome is unknown (queue/ledger.c).
 *   4. paused <=> prev_state is set, and prev_state is one of open..verifying.
 *   5. awaiting_approval <=> an approval deadline is set and a plan result
 *      is stored.
 */
#include "state.h"

#include <string.h>

#include "wire.h"

static const char *const names[ST_COUNT] = {
    [ST_OPEN] = WIRE_ST_OPEN,
    [ST_DETECTING] = WIRE_ST_DETECTING,
    [ST_RETRIEVING] = WIRE_ST_RETRIEVING,
    [ST_PLANNING] = WIRE_ST_PLANNING,
    [ST_AWAITING] = WIRE_ST_AWAITING,
    [ST_EXECUTING] = WIRE_ST_EXECUTING,
    [ST_VERIFYING] = WIRE_ST_VERIFYING,
    [ST_RESOLVED] = WIRE_ST_RESOLVED,
    [ST_REJECTED] = WIRE_ST_REJECTED,
    [ST_EXPIRED] = WIRE_ST_EXPIRED,
    [ST_FAILED] = WIRE_ST_FAILED,
    [ST_PAUSED] = WIRE_ST_PAUSED,
};

static const char *const stages[STAGE_COUNT] = {
    [STAGE_DETECT] = WIRE_JOB_DETECT, [STAGE_RETRIEVE] = WIRE_JOB_RETRIEVE,
    [STAGE_PLAN] = WIRE_JOB_PLAN,     [STAGE_EXECUTE] = WIRE_JOB_EXECUTE,
    [STAGE_VERIFY] = WIRE_JOB_VERIFY, [STAGE_REPORT] = WIRE_JOB_REPORT,
    [STAGE_INDEX] = WIRE_JOB_INDEX,
};

#define B(s)   (1u << (s))
#define ACTIVE (B(ST_PAUSED) | B(ST_RESOLVED) | B(ST_FAILED)) /* exits of a live incident */

/* allowed[from] = set of states reachable in one transition. */
static const unsigned allowed[ST_COUNT] = {
    [ST_OPEN] = B(ST_DETECTING) | ACTIVE,
    [ST_DETECTING] = B(ST_RETRIEVING) | ACTIVE,
    [ST_RETRIEVING] = B(ST_PLANNING) | ACTIVE,
    [ST_PLANNING] = B(ST_AWAITING) | B(ST_EXECUTING) | ACTIVE,
    [ST_AWAITING] = B(ST_EXECUTING) | B(ST_REJECTED) | B(ST_EXPIRED) | ACTIVE,
    [ST_EXECUTING] = B(ST_VERIFYING) | ACTIVE,
    [ST_VERIFYING] = B(ST_PLANNING) | ACTIVE,
    [ST_RESOLVED] = 0,
    [ST_REJECTED] = 0,
    [ST_EXPIRED] = 0,
    [ST_FAILED] = B(ST_DETECTING) | B(ST_RETRIEVING) | B(ST_PLANNING) | B(ST_EXECUTING) |
                  B(ST_VERIFYING) | B(ST_RESOLVED),
    [ST_PAUSED] = B(ST_OPEN) | B(ST_DETECTING) | B(ST_RETRIEVING) | B(ST_PLANNING) |
                  B(ST_AWAITING) | B(ST_EXECUTING) | B(ST_VERIFYING) | B(ST_RESOLVED) |
                  B(ST_FAILED),
};

const char *state_name(enum state_id s)
{
	return (int)s >= 0 && s < ST_COUNT ? names[s] : "unknown";
}

int state_parse(const char *s, enum state_id *out)
{
	for (int i = 0; s && i < ST_COUNT; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum state_id)i;
			return 0;
		}
	}
	return -1;
}

const char *state_stage_name(enum stage_id g)
{
	return (int)g >= 0 && g < STAGE_COUNT ? stages[g] : "unknown";
}

int state_stage_parse(const char *s, enum stage_id *out)
{
	for (int i = 0; s && i < STAGE_COUNT; i++) {
		if (!strcmp(s, stages[i])) {
			*out = (enum stage_id)i;
			return 0;
		}
	}
	return -1;
}

int state_terminal(enum state_id s)
{
	return s == ST_RESOLVED || s == ST_REJECTED || s == ST_EXPIRED;
}

int state_working(enum state_id s)
{
	return state_stage_of(s) >= 0;
}

int state_allowed(enum state_id from, enum state_id to)
{
	if ((int)from < 0 || from >= ST_COUNT || (int)to < 0 || to >= ST_COUNT)
		return 0;
	return (allowed[from] & B(to)) != 0;
}

int state_stage_of(enum state_id s)
{
	switch (s) {
	case ST_DETECTING:
		return STAGE_DETECT;
	case ST_RETRIEVING:
		return STAGE_RETRIEVE;
	case ST_PLANNING:
		return STAGE_PLAN;
	case ST_EXECUTING:
		return STAGE_EXECUTE;
	case ST_VERIFYING:
		return STAGE_VERIFY;
	default:
		return -1;
	}
}

int state_of_stage(enum stage_id g)
{
	static const int map[STAGE_COUNT] = {
	    [STAGE_DETECT] = ST_DETECTING,
	    [STAGE_RETRIEVE] = ST_RETRIEVING,
	    [STAGE_PLAN] = ST_PLANNING,
	    [STAGE_EXECUTE] = ST_EXECUTING,
	    [STAGE_VERIFY] = ST_VERIFYING,
	    [STAGE_REPORT] = -1,
	    [STAGE_INDEX] = -1,
	};
	return (int)g >= 0 && g < STAGE_COUNT ? map[g] : -1;
}

void state_advance(enum state_id from, unsigned enabled, int needs_approval, struct state_path *out)
{
	static const enum state_id order[] = {ST_DETECTING, ST_RETRIEVING, ST_PLANNING,
	                                      ST_EXECUTING, ST_VERIFYING};
	const int norder = (int)(sizeof(order) / sizeof(order[0]));
	int i;
	out->n = 0;
	switch (from) {
	case ST_OPEN:
		i = 0;
		break;
	case ST_DETECTING:
		i = 1;
		break;
	case ST_RETRIEVING:
		i = 2;
		break;
	case ST_PLANNING:
		if (needs_approval) {
			out->steps[0] = ST_AWAITING;
			out->skipped[0] = 0;
			out->n = 1;
			return;
		}
		i = 3;
		break;
	case ST_AWAITING:
		i = 3;
		break;
	case ST_EXECUTING:
		i = 4;
		break;
	default: /* verifying and anything else: nothing left but resolved */
		i = norder;
		break;
	}
	for (; i < norder; i++) {
		out->steps[out->n] = order[i];
		int on = (enabled & (1u << state_stage_of(order[i]))) != 0;
		out->skipped[out->n++] = !on;
		if (on)
			return;
	}
	out->steps[out->n] = ST_RESOLVED;
	out->skipped[out->n++] = 0;
}
