# queue/access.mk: end-to-end tests of who may talk to the queue and what
# they may do (approvals by policy, identities, request ids, local files,
# remote workers over TLS).
INTEG_TESTS += tests/integration/access_approvals.sh
INTEG_TESTS += tests/integration/access_request_ids.sh
INTEG_TESTS += tests/integration/access_files.sh
INTEG_TESTS += tests/integration/access_tls.sh
INTEG_TESTS += tests/integration/access_env.sh
INTEG_TESTS += tests/integration/access_discord.sh
