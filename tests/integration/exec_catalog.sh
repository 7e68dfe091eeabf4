#!/usr/bin/env bash
# exec_catalog.sh: the shipped catalog loads in opsbot-exec, and the argv of
# its entries is exactly what a dry run says, including the commented
# kubectl, docker and systemctl entries (uncommented here); bad values for
# them are refused by the type checks.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
root=$(cd "$D/../.." && pwd)
. "$D/exec_lib.sh"
exec_t_setup
printf '[exec]\ncatalog = %s/config/actions.conf\nworkdir = %s\n' "$root" "$root" > shipped.conf
opsbot-exec -c shipped.conf check >check.out 2>&1 || t_fail "shipped catalog: $(cat check.out)"
grep -q "actions$" check.out || t_fail "check: $(cat check.out)"

sed -n 's/^#~ //p' "$root/config/actions.conf" > real.conf
n=$(grep -c '^\[action ' real.conf)
[ "$n" = 5 ] || t_fail "commented real-target entries: got $n want 5"
printf '[exec]\ncatalog = %s/real.conf\nworkdir = %s\n' "$T" "$T" > real-exec.conf
opsbot-exec -c real-exec.conf check >check2.out 2>&1 || t_fail "real-target catalog: $(cat check2.out)"

# want CONF ACTION PARAMS ARGV-JSON [VERIFY-JSON]
want() {
  local out; out=$(opsbot-exec -c "$1" argv "$2" "$3" 2>err.out) || t_fail "$2 $3: refused: $(cat err.out)"
  [ "$(jq -c '.steps[0].argv' <<<"$out")" = "$4" ] ||
    t_fail "$2 $3: argv got $(jq -c '.steps[0].argv' <<<"$out") want $4"
  if [ -n "${5:-}" ]; then
    [ "$(jq -c '.steps[0].verify' <<<"$out")" = "$5" ] ||
      t_fail "$2 $3: verify got $(jq -c '.steps[0].verify' <<<"$out") want $5"
  fi
}
# refused CONF ACTION PARAMS WHY-REGEX
refused() {
  local out; out=$(opsbot-exec -c "$1" argv "$2" "$3" 2>&1) && t_fail "$2 $3 was accepted: $out"
  grep -Eq -- "$4" <<<"$out" || t_fail "$2 $3: got '$out' want /$4/"
}
K='"/usr/bin/kubectl","--context","prod-eu"'
want real-exec.conf k8s_rollout_restart '{"context":"prod-eu","deployment":"checkout"}' \
  "[$K,\"--namespace\",\"default\",\"rollout\",\"restart\",\"deployment/checkout\"]" \
  "[$K,\"--namespace\",\"default\",\"rollout\",\"status\",\"deployment/checkout\",\"--timeout=120s\"]"
want real-exec.conf k8s_scale '{"context":"prod-eu","namespace":"shop","deployment":"checkout","replicas":6}' \
  "[$K,\"--namespace\",\"shop\",\"scale\",\"deployment/checkout\",\"--replicas=6\"]"
want real-exec.conf k8s_rollout_undo '{"context":"prod-eu","namespace":"shop","deployment":"checkout"}' \
  "[$K,\"--namespace\",\"shop\",\"rollout\",\"undo\",\"deployment/checkout\"]"
want real-exec.conf k8s_rollout_undo '{"context":"prod-eu","namespace":"shop","deployment":"checkout","revision":42}' \
  "[$K,\"--namespace\",\"shop\",\"rollout\",\"undo\",\"deployment/checkout\",\"--to-revision=42\"]"
want real-exec.conf docker_restart '{"container":"web-1"}' \
  '["/usr/bin/docker","restart","--time","10","web-1"]' '["/usr/bin/docker","top","web-1"]'
want real-exec.conf systemd_restart '{"unit":"nginx.service"}' \
  '["/usr/bin/systemctl","restart","nginx.service"]' '["/usr/bin/systemctl","is-active","--quiet","nginx.service"]'
refused real-exec.conf k8s_scale '{"context":"prod-eu","deployment":"checkout","replicas":0}' "replicas must be from 1 to 50"
refused real-exec.conf k8s_scale '{"context":"prod-eu","deployment":"checkout"}' "needs parameter replicas"
refused real-exec.conf k8s_rollout_restart '{"context":"prod-eu","deployment":"checkout; rm -rf /"}' "deployment does not match"
refused real-exec.conf k8s_rollout_restart '{"context":"prod-eu","namespace":"--all-namespaces","deployment":"x"}' "namespace must not begin with '-'"
refused real-exec.conf k8s_rollout_restart '{"context":"$(id)","deployment":"x"}' "context does not match"
refused real-exec.conf docker_restart '{"container":"../../etc"}' "container does not match"
refused real-exec.conf systemd_restart '{"unit":"-.service"}' "unit must not begin with '-'"
refused real-exec.conf systemd_restart '{"unit":"nginx.service --now"}' "unit does not match"
refused real-exec.conf systemd_restart '{"unit":"nginx"}' "unit does not match"
refused real-exec.conf nosuch '{}' "not in the action catalog"

# The demo's own entries keep their argv interface.
want shipped.conf restart_service '{"service":"checkout"}' '["scripts/actions/restart_service.sh","checkout"]'
want shipped.conf scale_service '{"service":"checkout"}' '["scripts/actions/scale_service.sh","checkout","6"]'
want shipped.conf rollback_deploy '{"service":"payment"}' '["scripts/actions/rollback_deploy.sh","payment"]'
want shipped.conf rollback_deploy '{"service":"payment","version":"v1.2.3"}' '["scripts/actions/rollback_deploy.sh","payment","v1.2.3"]'
want shipped.conf free_disk_space '{"node":"node-1"}' '["scripts/actions/free_disk_space.sh","node-1","/var/log"]'
refused shipped.conf free_disk_space '{"node":"node-1","path":"/"}' "path must be one of"
echo "ok exec_catalog"
