# tests/fakes/llm/module.mk: fake-llm, the local OpenAI-compatible stand-in
# (on lib/httpd, as fake-slack and fake-discord).

FAKE_LLM_OBJS := $(B)/tests/fakes/llm/fake_llm.o $(B)/tests/fakes/llm/embed.o
PROGRAMS += $(B)/bin/fake-llm
ALL_OBJS += $(FAKE_LLM_OBJS) $(B)/tests/fakes/llm/embed_test.o

$(B)/bin/fake-llm: $(FAKE_LLM_OBJS) $(LIB_A)
	$(call link,$(LIBS_LWS))

UNIT_TESTS += $(B)/tests/fake_llm_embed
$(B)/tests/fake_llm_embed: $(B)/tests/fakes/llm/embed_test.o $(B)/tests/fakes/llm/embed.o $(LIB_A)
	$(call link,$(LIBS_CMOCKA))

INTEG_TESTS += tests/fakes/llm/fake_llm_test.sh
