# workers/plan/module.mk: opsbot-plan, the planner worker, and its tests.

PLAN_CORE_SRCS := workers/plan/outcomes.c workers/plan/bandit.c workers/plan/critic.c \
	workers/plan/playbook.c workers/plan/llm.c workers/plan/planner.c workers/plan/learn.c
PLAN_CORE_OBJS := $(PLAN_CORE_SRCS:%.c=$(B)/%.o)
PLAN_OBJS := $(B)/workers/plan/plan.o $(PLAN_CORE_OBJS)
PLAN_TESTS := critic playbook outcomes llm planner
ALL_OBJS += $(PLAN_OBJS) $(PLAN_TESTS:%=$(B)/workers/plan/%_test.o)

PROGRAMS += $(B)/bin/opsbot-plan
$(B)/bin/opsbot-plan: $(PLAN_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE))

UNIT_TESTS += $(PLAN_TESTS:%=$(B)/tests/plan_%)
$(B)/tests/plan_%: $(B)/workers/plan/%_test.o $(PLAN_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE) $(LIBS_CMOCKA))



INTEG_TESTS += workers/plan/plan_cli_test.sh workers/plan/plan_llm_test.sh \
	workers/plan/plan_queue_test.sh

BENCHES += plan
.PHONY: bench-plan
bench-plan: $(B)/bin/opsbot-plan $(B)/bin/fake-llm
	@OPSBOT_BIN=$(abspath $(B)/bin) bash workers/plan/bench.sh
