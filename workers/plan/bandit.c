/* bandit.c: UCB1 with a smoothed mean (see bandit.h). */
#include "bandit.h"

#include <math.h>

double bandit_score(double prior, int64_t runs, int64_t wins, int64_t total_runs, double c)
{
	if (prior < 0)
		prior = 0;
	if (prior > 1)
		prior = 1;
	if (runs < 0)
		runs = 0;
	if (wins < 0)
		wins = 0;
	if (wins > runs)
		wins = runs;
	double mean =
	    ((double)wins + prior * BANDIT_PRIOR_WEIGHT) / ((double)runs + BANDIT_PRIOR_WEIGHT);
	double bonus = c * sqrt(log((double)total_runs + 1.0) / ((double)runs + 1.0));
	return mean + bonus;
}
