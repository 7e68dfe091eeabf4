/*
 * eval.h: `opsbotctl eval`, the evaluation harness (sim/eval.c).
 *
 * Runs N episodes of one random fault each through the real pipeline
 * (opsbot-sim at accelerated time, the queue, the metric watch, detect,
 * retrieve, plan, exec) with approvals given automatically, and scores
 * detection, root cause and recovery beside baselines computed on the
 * same episodes.  See the README section "Evaluation".
 */
#ifndef OPSBOT_SIM_EVAL_H
#define OPSBOT_SIM_EVAL_H

/* argv[0] is "eval"; returns the process exit code (0 ok, 1 failed, 2 usage). */
int eval_main(int argc, char **argv);

#endif
