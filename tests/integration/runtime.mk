# tests/integration/runtime.mk: integration tests of the worker runtime,
# the master and opsbotctl (real processes in a temp dir).
INTEG_TESTS += tests/integration/master_supervise.sh
INTEG_TESTS += tests/integration/worker_kill.sh
INTEG_TESTS += tests/integration/worker_stop.sh
INTEG_TESTS += tests/integration/pipeline_ctl.sh
INTEG_TESTS += tests/integration/demo_runs.sh
