/*
 * state.h: the incident state machine, as pure functions (state.c).
 *
 * Nothing here touches the store: state.c says which transitions exist and
 * where an incident goes next; queue/handle.c applies that in a transaction.
 */
#ifndef OPSBOT_QUEUE_STATE_H
#define OPSBOT_QUEUE_STATE_H

enum state_id {
	ST_OPEN,
	ST_DETECTING,
	ST_RETRIEVING,
	ST_PLANNING,
	ST_AWAITING,
	ST_EXECUTING,
	ST_VERIFYING,
	ST_RESOLVED,
	ST_REJECTED,
	ST_EXPIRED,
	ST_FAILED,
	ST_PAUSED,
	ST_COUNT
};

/* Pipeline stages in order; each names a job kind (wire.h WIRE_JOB_*). */
enum stage_id {
	STAGE_DETECT,
	STAGE_RETRIEVE,
	STAGE_PLAN,
	STAGE_EXECUTE,
	STAGE_VERIFY,
	STAGE_REPORT,
	STAGE_INDEX,
	STAGE_COUNT
};
#define STAGE_ALL ((1u << STAGE_COUNT) - 1)

const char *state_name(enum state_id s);
/* 0 and *out, or -1 when s names no state. */
int state_parse(const char *s, enum state_id *out);
const char *state_stage_name(enum stage_id g);
int state_stage_parse(const char *s, enum stage_id *out);

/* resolved, rejected, expired: nothing changes an incident any more. */
int state_terminal(enum state_id s);
/* A state in which a stage job runs (detecting..verifying except awaiting). */
int state_working(enum state_id s);
/* Whether from -> to is a transition of the machine. */
int state_allowed(enum state_id from, enum state_id to);
/* The stage whose job runs in s, or -1. */
int state_stage_of(enum state_id s);
/* The state in which stage g's job runs, or -1 for report/index. */
int state_of_stage(enum stage_id g);

/*
 * Where an incident goes when the work of state `from` is done (from is
 * open, a working state other than verifying, or awaiting_approval after an
 * approve).  Stages not in `enabled` (bit per stage_id) are passed through:
 * each appears in steps[] with skipped[i] = 1.  The last step is where the
 * incident stops: a working state whose job is enqueued, awaiting_approval
 * (planning finished and needs_approval), or resolved when no stage is left.
 */
struct state_path {
	int n;
	enum state_id steps[ST_COUNT];
	int skipped[ST_COUNT];
};
void state_advance(enum state_id from, unsigned enabled, int needs_approval,
                   struct state_path *out);

#endif
