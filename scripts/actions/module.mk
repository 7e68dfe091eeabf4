# scripts/actions/module.mk: the simulated action scripts agree with the catalog.
INTEG_TESTS += scripts/actions/actions_test.sh
