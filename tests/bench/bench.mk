# tests/bench/bench.mk: stack benchmarks (alert storm) and the soak.
# chat_slack's rule is in bot/bot.mk (tests/bench/chat_slack.sh).

# make bench BENCH=storm: 1,000 Alertmanager notifications in 60 s into
# queue + bot + fake-slack at Slack's limits (ALERTS, DURATION, DEADLINE
# shorten it; see tests/bench/storm.sh).
BENCHES += storm
.PHONY: bench-storm
bench-storm: $(B)/bin/fake-slack $(B)/bin/opsbot-bot $(B)/bin/opsbot-queue
	@OPSBOT_BIN=$(abspath $(B)/bin) bash tests/bench/storm.sh

# make soak: a simulated week of steady alerts at accelerated time under the
# master (SOAK_MINUTES, default 5).  Not part of make test or make bench.
.PHONY: soak
soak: $(B)/bin/opsbot $(B)/bin/fake-slack $(B)/bin/opsbot-bot $(B)/bin/opsbot-queue
	@OPSBOT_BIN=$(abspath $(B)/bin) bash tests/bench/soak.sh

# The storm bench end to end on a small storm, limits lifted (~10 s).
INTEG_TESTS += tests/bench/storm_smoke.sh
