# tests/sdk/sdk.mk: the SDK conformance suite (official Slack and Discord
# Node SDKs against the stand-ins).  sdk_conformance.sh installs the pinned packages
# with `npm ci` when needed and skips (exit 77) without node/npm/registry.
INTEG_TESTS += tests/sdk/sdk_conformance.sh
