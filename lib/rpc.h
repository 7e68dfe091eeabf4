/*
 * rpc.h: requests to opsbot-queue over NNG, with timeout and retry, and the
 * event subscription.
 *
 * An rpc handle is one REQ socket; each call uses its own NNG context, so
 * one handle may be shared by threads (a worker heartbeats while handling).
 * A call that times out is resent with the same request id up to `retries`
 * times.  submit, approve and command without a "key" get "rid:<request
 * id>" as their key here, so a resend (also one after the queue restarted
 * between its COMMIT and the reply) never acts twice.
 *
 * tls+tcp:// (a worker on another host): call rpc_tls_setup() or
 * rpc_tls_from_config() before rpc_open; the client presents its
 * certificate and checks the queue's against the CA.
 *
 * Ownership: rpc_call takes no ownership of req; *reply belongs to the
 * caller (cJSON_Delete).
 */
#ifndef OPSBOT_RPC_H
#define OPSBOT_RPC_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct rpc;
struct config;

/* TLS client material for every later tls+tcp:// dial (PEM files). */
int rpc_tls_setup(const char *cert_file, const char *key_file, const char *ca_file,
                  const char *server_name, char *err, size_t errlen);
/*
 * When [queue] listen is tls+tcp://, read [queue] tls_cert, tls_key,
 * tls_ca, tls_server_name and set them up; errors go to config_error().
 * 0, or -1 on error.
 */
int rpc_tls_from_config(struct config *cfg);

int rpc_open(struct rpc **out, const char *url, char *err, size_t errlen);
void rpc_close(struct rpc *r);

/*
 * Send req and wait for its reply.  Returns 0 when a reply came with
 * "ok":true; -1 on transport failure or timeout (err says which); -2 when the
 * queue answered "ok":false (err holds "code: message", *reply the reply).
 */
int rpc_call(struct rpc *r, const cJSON *req, cJSON **reply, int timeout_ms, int retries, char *err,
             size_t errlen);

/*
 * The same call without waiting, for a thread that must not block (the
 * bot's lws loop).  rpc_start sends req (keys and resends as rpc_call) and
 * returns at once.  When it could not send, rpc_async_running() is 0, the
 * outcome is ready and done is never called.  Otherwise done(a, arg) runs
 * once, on an NNG thread, when the outcome is in; it must return quickly
 * and must not free the call.  Then rpc_async_result() gives rpc_call's
 * return value, *reply (the caller's) and err, and rpc_async_free()
 * releases the call.  rpc_async_free() on a call still running stops it
 * (done is then not called) and waits for a callback in progress to
 * return, so it must not be called from done itself.
 */
struct rpc_async;
typedef void (*rpc_async_fn)(struct rpc_async *a, void *arg);
struct rpc_async *rpc_start(struct rpc *r, const cJSON *req, int timeout_ms, int retries,
                            rpc_async_fn done, void *arg);
int rpc_async_running(const struct rpc_async *a);
int rpc_async_result(struct rpc_async *a, cJSON **reply, char *err, size_t errlen);
void rpc_async_free(struct rpc_async *a);

/* Subscriber to the queue's PUB socket (all events). */
struct rpc_sub;
int rpc_sub_open(struct rpc_sub **out, const char *url, char *err, size_t errlen);
/* Wait up to timeout_ms for one event; 0 and *event, or -1 on timeout/error. */
int rpc_sub_recv(struct rpc_sub *s, cJSON **event, int timeout_ms);
/* A file descriptor that becomes readable when an event is waiting (for poll). */
int rpc_sub_fd(struct rpc_sub *s);
void rpc_sub_close(struct rpc_sub *s);

#endif
