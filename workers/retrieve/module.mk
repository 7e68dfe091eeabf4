# workers/retrieve/module.mk: opsbot-retrieve (RAG over runbooks and past
# incidents), its unit tests, integration tests and the retrieval benchmark.

RETRIEVE_CORE := runbook expand embed rank kb jobs eval
RETRIEVE_CORE_OBJS := $(RETRIEVE_CORE:%=$(B)/workers/retrieve/%.o)
RETRIEVE_OBJS := $(RETRIEVE_CORE_OBJS) $(B)/workers/retrieve/retrieve.o
PROGRAMS += $(B)/bin/opsbot-retrieve $(B)/bin/opsbot-retrieve-bench
ALL_OBJS += $(RETRIEVE_OBJS) $(B)/workers/retrieve/bench.o

$(B)/bin/opsbot-retrieve: $(RETRIEVE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE))

$(B)/bin/opsbot-retrieve-bench: $(B)/workers/retrieve/bench.o $(RETRIEVE_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE))

# Unit tests: workers/retrieve/<x>_test.c -> $(B)/tests/retrieve_<x>
RETRIEVE_TESTS := $(patsubst workers/retrieve/%_test.c,%,$(wildcard workers/retrieve/*_test.c))
UNIT_TESTS += $(RETRIEVE_TESTS:%=$(B)/tests/retrieve_%)
ALL_OBJS += $(RETRIEVE_TESTS:%=$(B)/workers/retrieve/%_test.o)

$(B)/tests/retrieve_%: $(B)/workers/retrieve/%_test.o $(RETRIEVE_CORE_OBJS) $(LIB_A)
	$(call link,$(LIBS_SQLITE) $(LIBS_CMOCKA))

INTEG_TESTS += $(sort $(wildcard tests/integration/retrieve_*.sh))

BENCHES += retrieval
.PHONY: bench-retrieval
bench-retrieval: $(B)/bin/opsbot-retrieve-bench
	@$(B)/bin/opsbot-retrieve-bench --knowledge knowledge \
		--queries tests/data/retrieval_queries.tsv \
		--fake-llm $(B)/bin/fake-llm --sections 100000
