#!/usr/bin/env bash
# rotate_certificate.sh DOMAIN: issue and install a fresh simulated certificate.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "rotate_certificate.sh DOMAIN"
sim_check domain "$1" '([a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}'
sim_maybe_fail "$1"
sim_set "certs/$1/not_after" $(( $(date -u +%s) + 90 * 86400 ))
sim_log "domain=$1"
sim_record "$1" "certificate rotated"
echo "rotated the certificate of $1 (valid 90 days)"
