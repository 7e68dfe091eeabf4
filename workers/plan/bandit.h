/*
 * bandit.h: the upper-confidence-bound score that ranks candidate actions
 * for one incident signature.
 *
 * Each action is an arm with `runs` recorded results of which `wins` fixed
 * the incident.  Its mean is smoothed toward a prior in [0,1] (how well the
 * findings and runbooks point at it) with BANDIT_PRIOR_WEIGHT pseudo-runs,
 * and the bonus c * sqrt(ln(total + 1) / (runs + 1)) favours arms tried
 * less often than the rest.  With no history at all the score is the prior,
 * so a fresh install follows its runbooks; with history, what worked rises.
 */
#ifndef OPSBOT_PLAN_BANDIT_H
#define OPSBOT_PLAN_BANDIT_H

#include <stdint.h>

#define BANDIT_PRIOR_WEIGHT 2.0

double bandit_score(double prior, int64_t runs, int64_t wins, int64_t total_runs, double c);

#endif
