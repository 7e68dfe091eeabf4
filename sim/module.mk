# sim/module.mk: opsbot-sim, the simulated production system, and its tests.

SIM_CORE_OBJS := $(B)/sim/model.o
SIM_OBJS := $(SIM_CORE_OBJS) $(B)/sim/server.o
ALL_OBJS += $(SIM_OBJS) $(B)/sim/model_test.o

$(B)/bin/opsbot-sim: $(SIM_OBJS) $(LIB_A)
	$(call link)
PROGRAMS += $(B)/bin/opsbot-sim

$(B)/tests/sim_model: $(B)/sim/model_test.o $(SIM_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_CMOCKA))
UNIT_TESTS += $(B)/tests/sim_model

INTEG_TESTS += tests/integration/sim_http.sh tests/integration/sim_prometheus.sh \
	tests/integration/sim_watch.sh tests/integration/sim_slack_page.sh \
	tests/integration/sim_demo_prometheus.sh

# opsbotctl eval (sim/eval.c): the evaluation harness replays episodes in the
# model and draws its charts with cairo.
ALL_OBJS += $(B)/sim/eval.o
$(B)/bin/opsbotctl: $(B)/sim/eval.o $(SIM_CORE_OBJS)
$(B)/bin/opsbotctl: LIB_LDLIBS += $(LIBS_PANGO)

INTEG_TESTS += tests/integration/eval_runs.sh tests/integration/demo_interactive.sh

# make bench BENCH=eval: 50 episodes through the whole pipeline (about 15 s
# each at 10x); one JSON line on stdout, the table on stderr.
BENCHES += eval
.PHONY: bench-eval
bench-eval: $(PROGRAMS)
	@mkdir -p var/bench
	@$(B)/bin/opsbotctl eval --episodes 50 --seed 1 --out var/bench/eval.csv \
		--work $(abspath var/bench/eval-run) --bench
