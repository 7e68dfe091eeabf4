#!/usr/bin/env bash
# access_tls.sh: remote workers over tls+tcp://.  The queue listens on
# tls+tcp://127.0.0.1 (kernel-picked port) with a server certificate and
# REQUIRES a client certificate signed by its CA (all made by openssl here).
# A test-worker with such a certificate claims and completes a job; one
# whose certificate another CA signed, and a client with none, are refused
# at the handshake and take nothing.
T_DEADLINE=${T_DEADLINE:-40} # TLS handshakes under a loaded ASan build are slow
. "$(dirname "$0")/../lib.sh"
t_setup
command -v openssl >/dev/null || t_skip "openssl is not installed"
QURL="ipc://$T/var/run/q.ipc"
raw() { wirecat -t 5000 "$QURL" "$1"; }
job_state() { raw "{\"type\":\"query\",\"what\":\"jobs\"}" | jq -r --argjson id "$1" '.items[] | select(.id == $id) | .state'; }

# ca NAME: a CA; cert NAME CA CN [SAN]: a key and certificate CA signed.
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$1" -keyout "$1.key" -out "$1.crt" 2>>"$T/openssl.log" || t_fail "openssl: CA $1"
}
cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$3" \
    -keyout "$1.key" -out "$1.csr" 2>>"$T/openssl.log" || t_fail "openssl: key $1"
  printf '%s\n' "${4:-extendedKeyUsage=clientAuth}" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>>"$T/openssl.log" || t_fail "openssl: sign $1"
  chmod 600 "$1.key"
}
ca ca
ca rogue-ca
cert server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
cert worker ca worker-1
cert rogue rogue-ca worker-1

cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/q.db
tls_listen = tls+tcp://127.0.0.1:0
tls_cert = $T/server.crt
tls_key = $T/server.key
tls_ca = $T/ca.crt
tls_port_file = $T/var/run/tls.port
CONF
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue answers" raw '{"type":"query","what":"stats"}'
t_wait "tls port file" test -s "$T/var/run/tls.port"
PORT=$(cat "$T/var/run/tls.port")
grep -q "event=tls_listening .*client_certs=required" queue.log || t_fail "no tls_listening line"

# worker_conf NAME CERT: a remote worker's config (its own cert, our CA).
worker_conf() {
  cat > "$1.conf" <<CONF
[queue]
listen = tls+tcp://127.0.0.1:$PORT
tls_cert = $T/$2.crt
tls_key = $T/$2.key
tls_ca = $T/ca.crt
tls_server_name = localhost
[test-worker]
claim_wait = 200ms
lease = 2s
CONF
}
worker_conf good worker
worker_conf bad rogue

# One job for each; the rogue worker starts first and still gets nothing.
rj=$(raw '{"type":"submit","what":"job","job":{"kind":"tls-rogue","input":{}}}' | jq .job)
gj=$(raw '{"type":"submit","what":"job","job":{"kind":"tls-good","input":{}}}' | jq .job)
t_start rogue test-worker -c "$T/bad.conf" --kind tls-rogue --log "$T/rogue-jobs.log"
t_wait "the rogue worker is refused" grep -q "event=queue_unreachable" rogue.log
t_start good test-worker -c "$T/good.conf" --kind tls-good --log "$T/good-jobs.log"
done_good() { [ "$(job_state "$gj")" = done ]; }
t_wait "the worker with our certificate completes its job over TLS" done_good
grep -q "done job=$gj" good-jobs.log || t_fail "good worker log: $(cat good-jobs.log)"
[ "$(job_state "$rj")" = ready ] || t_fail "rogue job: state $(job_state "$rj") want ready"
[ ! -s rogue-jobs.log ] || t_fail "the rogue worker ran something: $(cat rogue-jobs.log)"

# A client with no certificate at all: asked for one, then cut off before
# the server's Finished (openssl reports EOF or an alert).
out=$( (echo; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile ca.crt \
  -servername localhost 2>&1)
echo "$out" | grep -q "Acceptable client certificate CA names" ||
  t_fail "the queue did not ask for a client certificate: $out"
echo "$out" | grep -qi "unexpected eof\|alert" || t_fail "a client without a certificate got through: $out"
[ "$(job_state "$rj")" = ready ] || t_fail "rogue job taken"
echo ok
