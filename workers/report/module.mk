# workers/report/module.mk: opsbot-report (PDF summaries, email outbox, digests).

REPORT_CORE := doc report mail sent
REPORT_CORE_OBJS := $(REPORT_CORE:%=$(B)/workers/report/%.o)
# chart samples come from the same [source NAME] sections detection reads
REPORT_SOURCE_OBJS := $(addprefix $(B)/workers/detect/,source.o csv.o rca.o)
REPORT_OBJS := $(REPORT_CORE_OBJS) $(B)/workers/report/main.o $(REPORT_SOURCE_OBJS)
ALL_OBJS += $(REPORT_OBJS)
REPORT_LDLIBS := $(LIBS_PANGO) $(LIBS_ESMTP) $(LIBS_SQLITE) -lssl

PROGRAMS += $(B)/bin/opsbot-report
$(B)/bin/opsbot-report: $(REPORT_OBJS) $(LIB_A)
	$(call link,$(REPORT_LDLIBS))

REPORT_TESTS := mail report
ALL_OBJS += $(REPORT_TESTS:%=$(B)/workers/report/%_test.o)
UNIT_TESTS += $(REPORT_TESTS:%=$(B)/tests/report_%)
$(B)/tests/report_%: $(B)/workers/report/%_test.o $(REPORT_CORE_OBJS) $(LIB_A)
	$(call link,$(REPORT_LDLIBS) $(LIBS_CMOCKA))

INTEG_TESTS += workers/report/report_pdf_test.sh workers/report/report_mail_test.sh \
	workers/report/report_upload_test.sh workers/report/report_digest_test.sh \
	workers/report/report_alerts_test.sh workers/report/report_endings_test.sh

BENCHES += report
.PHONY: bench-report
bench-report: $(B)/bin/opsbot-report
	@OPSBOT_BIN=$(abspath $(B)/bin) bash workers/report/bench.sh
