/*
 * rpc.c: the NNG client side of the backbone (rpc.h).
 *
 * One REQ socket per handle, dialled without blocking so a client may start
 * before the queue does (NNG keeps redialling).  Each call opens its own
 * context and aio, so calls from several threads never share state.  A call
 * that times out is sent again on the same context with the same JSON id;
 * sending again cancels the earlier attempt, so at most one reply is read.
 */
#include "rpc.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "wire.h"

struct rpc {
	nng_socket sock;
	char url[256];
};

struct rpc_sub {
	nng_socket sock;
	int recv_timeout; /* last NNG_OPT_RECVTIMEO set, to skip redundant sets */
};

/* The client side of tls+tcp://: our certificate and the CA that signed the queue's. */
static struct {
	pthread_mutex_t mu;
	nng_tls_config *cfg;
} rpc_tls = {.mu = PTHREAD_MUTEX_INITIALIZER};

int rpc_tls_setup(const char *cert_file, const char *key_file, const char *ca_file,
                  const char *server_name, char *err, size_t errlen)
{
	struct buf cert = {.max = 1 << 20}, key = {.max = 1 << 20}, ca = {.max = 1 << 20};
	nng_tls_config *tc = NULL;
	int rv = 0, ret = -1;
	if (buf_read_file(&cert, cert_file, err, errlen) < 0 ||
	    buf_read_file(&key, key_file, err, errlen) < 0 ||
	    buf_read_file(&ca, ca_file, err, errlen) < 0)
		goto out;
	if ((rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_own_cert(tc, cert.data, key.data, NULL)) != 0 ||
	    (rv = nng_tls_config_ca_chain(tc, ca.data, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (server_name && *server_name &&
	     (rv = nng_tls_config_server_name(tc, server_name)) != 0)) {
		snprintf(err, errlen, "TLS client set-up failed: %s (check the PEM files)",
		         nng_strerror(rv));
		if (tc)
			nng_tls_config_free(tc);
		goto out;
	}
	pthread_mutex_lock(&rpc_tls.mu);
	if (rpc_tls.cfg)
		nng_tls_config_free(rpc_tls.cfg);
	rpc_tls.cfg = tc;
	pthread_mutex_unlock(&rpc_tls.mu);
	ret = 0;
out:
	if (key.data)
		explicit_bzero(key.data, key.len);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&ca);
	return ret;
}

int rpc_tls_from_config(struct config *cfg)
{
	const char *url = config_str(cfg, "queue", "listen", "");
	if (strncmp(url, "tls+tcp://", 10) != 0)
		return 0;
	const char *cert = config_str(cfg, "queue", "tls_cert", NULL);
	const char *key = config_str(cfg, "queue", "tls_key", NULL);
	const char *ca = config_str(cfg, "queue", "tls_ca", NULL);
	const char *name = config_str(cfg, "queue", "tls_server_name", NULL);
	char err[400];
	if (!cert || !key || !ca) {
		config_error(cfg, "queue", "listen",
		             "a tls+tcp:// queue needs tls_cert, tls_key (this host's client "
		             "certificate) and tls_ca (the CA that signed the queue's)");
		return -1;
	}
	if (rpc_tls_setup(cert, key, ca, name, err, sizeof(err)) < 0) {
		config_error(cfg, "queue", "tls_cert", "%s", err);
		return -1;
	}
	return 0;
}

/* Dial url on sock (non-blocking), with the TLS client config for tls+tcp://. */
static int rpc_dial(nng_socket sock, const char *url)
{
	if (strncmp(url, "tls+tcp://", 10) != 0)
		return nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK);
	nng_dialer d;
	int rv = nng_dialer_create(&d, sock, url);
	if (rv != 0)
		return rv;
	pthread_mutex_lock(&rpc_tls.mu);
	if (rpc_tls.cfg)
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, rpc_tls.cfg);
	pthread_mutex_unlock(&rpc_tls.mu);
	if (rv == 0)
		rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	return rv;
}

int rpc_open(struct rpc **out, const char *url, char *err, size_t errlen)
{
	struct rpc *r = xcalloc(1, sizeof(*r));
	int rv;
	str_copy(r->url, sizeof(r->url), url);
	if ((rv = nng_req0_open(&r->sock)) != 0) {
		snprintf(err, errlen, "cannot open a request socket: %s", nng_strerror(rv));
		free(r);
		return -1;
	}
	if ((rv = rpc_dial(r->sock, url)) != 0) {
		snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(r->sock);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void rpc_close(struct rpc *r)
{
	if (!r)
		return;
	nng_close(r->sock);
	free(r);
}

/*
 * Requests that change something carry an idempotency key.  One without
 * gets "rid:<its request id>" (ids are unique: 64 random bits per process
 * and a counter), so the same bytes resent after a queue restart are
 * answered from the first commit.  NULL when req needs no change.
 */
static cJSON *rpc_with_key(const cJSON *req)
{
	const char *type = json_str(req, "type"), *id = json_str(req, "id");
	if (!type || !id || cJSON_GetObjectItemCaseSensitive(req, "key"))
		return NULL;
	if (strcmp(type, "submit") && strcmp(type, "approve") && strcmp(type, "command"))
		return NULL;
	cJSON *c = json_dup(req);
	char key[WIRE_KEY_MAX + 1];
	snprintf(key, sizeof(key), "rid:%s", id);
	json_add_str(c, "key", key);
	return c;
}

/*
 * One call in flight.  Everything after rpc_start happens in the aio's
 * callback, on NNG's thread: the send's completion posts the receive, a
 * timeout resends the same bytes on the same context (which cancels the
 * earlier attempt, so at most one reply is read), and the reply is decoded
 * there before done() is told.  Nothing here blocks.
 */
struct rpc_async {
	struct rpc *r;
	nng_ctx ctx;
	nng_aio *aio;
	int ctx_open;
	char *body;
	size_t len;
	char *id; /* NULL when the request had none */
	int timeout_ms, retries, attempt;
	int receiving;
	int started;         /* the callback will run (owner's thread only) */
	atomic_int stopping; /* rpc_async_free: the callback tells no one */
	rpc_async_fn done;
	void *arg;
	/* the outcome, written before done() */
	int rc;
	cJSON *reply;
	char err[600]; /* room for the URL and the decoder's message */
};

/* Send the body once more on the context; 0, or an NNG error (nothing sent). */
static int rpc_async_send(struct rpc_async *a)
{
	nng_msg *msg;
	int rv;
	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		return rv;
	if ((rv = nng_msg_append(msg, a->body, a->len)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	a->receiving = 0;
	nng_aio_set_timeout(a->aio, a->timeout_ms);
	nng_aio_set_msg(a->aio, msg);
	nng_ctx_send(a->ctx, a->aio);
	return 0;
}

/* The reply's bytes -> a->rc, a->reply (ok or refused) and a->err. */
static void rpc_async_decode(struct rpc_async *a, nng_msg *rep)
{
	struct wire_msg m;
	char derr[256];
	const char *url = a->r->url;
	if (wire_decode(nng_msg_body(rep), nng_msg_len(rep), &m, derr, sizeof(derr)) < 0) {
		snprintf(a->err, sizeof(a->err), "bad reply from %s: %s", url, derr);
		return;
	}
	if (m.type != WIRE_REPLY) {
		snprintf(a->err, sizeof(a->err), "bad reply from %s: type is %s, want reply", url,
		         wire_type_name(m.type));
		wire_msg_free(&m);
		return;
	}
	if (a->id && strcmp(m.id, a->id) != 0) {
		snprintf(a->err, sizeof(a->err), "bad reply from %s: id %s answers another request",
		         url, m.id);
		wire_msg_free(&m);
		return;
	}
	a->reply = m.root; /* ownership moves to the caller */
	if (json_bool(m.root, "ok", 0)) {
		a->rc = 0;
	} else {
		const char *msg = json_str(m.root, "message");
		snprintf(a->err, sizeof(a->err), "%s: %s", json_str(m.root, "error"),
		         msg ? msg : "");
		a->rc = -2;
	}
}

static int rpc_retryable(int rv)
{
	return rv == NNG_ETIMEDOUT || rv == NNG_ECONNREFUSED || rv == NNG_ECONNRESET;
}

static void rpc_async_cb(void *arg)
{
	struct rpc_async *a = arg;
	int rv = nng_aio_result(a->aio);
	if (rv != 0 && !a->receiving) {
		/* On a failed send the message is still ours. */
		nng_msg_free(nng_aio_get_msg(a->aio));
		nng_aio_set_msg(a->aio, NULL);
	}
	if (atomic_load(&a->stopping))
		return;
	if (rv == 0 && !a->receiving) {
		a->receiving = 1;
		nng_ctx_recv(a->ctx, a->aio);
		return;
	}
	if (rv != 0 && rpc_retryable(rv) && a->attempt < a->retries) {
		a->attempt++;
		log_debug("event=rpc_resend id=%s attempt=%d error=%s", log_q(a->id ? a->id : ""),
		          a->attempt + 1, log_q(nng_strerror(rv)));
		if ((rv = rpc_async_send(a)) == 0)
			return;
	}
	a->rc = -1;
	if (rv != 0) {
		snprintf(a->err, sizeof(a->err), "no reply from %s after %d attempt(s): %s",
		         a->r->url, a->attempt + 1, nng_strerror(rv));
	} else {
		nng_msg *rep = nng_aio_get_msg(a->aio);
		nng_aio_set_msg(a->aio, NULL);
		rpc_async_decode(a, rep);
		nng_msg_free(rep);
	}
	a->done(a, a->arg);
}

struct rpc_async *rpc_start(struct rpc *r, const cJSON *req, int timeout_ms, int retries,
                            rpc_async_fn done, void *arg)
{
	struct rpc_async *a = xcalloc(1, sizeof(*a));
	cJSON *keyed = rpc_with_key(req);
	int rv;

	a->r = r;
	a->timeout_ms = timeout_ms;
	a->retries = retries;
	a->done = done;
	a->arg = arg;
	a->rc = -1;
	atomic_init(&a->stopping, 0);
	if (keyed)
		req = keyed;
	if (json_str(req, "id"))
		a->id = xstrdup(json_str(req, "id"));
	a->body = json_print(req);
	a->len = strlen(a->body);
	cJSON_Delete(keyed);
	if (a->len > WIRE_MAX_BYTES) {
		snprintf(a->err, sizeof(a->err), "request of %zu bytes is larger than the limit",
		         a->len);
		return a;
	}
	if ((rv = nng_ctx_open(&a->ctx, r->sock)) != 0) {
		snprintf(a->err, sizeof(a->err), "cannot open a request context: %s",
		         nng_strerror(rv));
		return a;
	}
	a->ctx_open = 1;
	if ((rv = nng_aio_alloc(&a->aio, rpc_async_cb, a)) == 0) {
		a->started = 1;
		if ((rv = rpc_async_send(a)) != 0)
			a->started = 0;
	}
	if (rv != 0)
		snprintf(a->err, sizeof(a->err), "cannot send to %s: %s", r->url, nng_strerror(rv));
	return a;
}

int rpc_async_running(const struct rpc_async *a)
{
	return a->started;
}

int rpc_async_result(struct rpc_async *a, cJSON **reply, char *err, size_t errlen)
{
	*reply = a->reply;
	a->reply = NULL;
	str_copy(err, errlen, a->err);
	return a->rc;
}

void rpc_async_free(struct rpc_async *a)
{
	if (!a)
		return;
	atomic_store(&a->stopping, 1);
	if (a->aio)
		nng_aio_free(a->aio); /* stops it; the callback has returned after this */
	if (a->ctx_open)
		nng_ctx_close(a->ctx);
	cJSON_Delete(a->reply);
	free(a->body);
	free(a->id);
	free(a);
}

/* rpc_call: an rpc_start whose done() wakes the waiting caller. */
struct rpc_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void rpc_wait_done(struct rpc_async *a, void *arg)
{
	(void)a;
	struct rpc_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int rpc_call(struct rpc *r, const cJSON *req, cJSON **reply, int timeout_ms, int retries, char *err,
             size_t errlen)
{
	struct rpc_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct rpc_async *a = rpc_start(r, req, timeout_ms, retries, rpc_wait_done, &w);
	if (rpc_async_running(a)) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
	}
	int rc = rpc_async_result(a, reply, err, errlen);
	rpc_async_free(a); /* waits until the callback has returned */
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc;
}

int rpc_sub_open(struct rpc_sub **out, const char *url, char *err, size_t errlen)
{
	struct rpc_sub *s = xcalloc(1, sizeof(*s));
	int rv;
	if ((rv = nng_sub0_open(&s->sock)) != 0) {
		snprintf(err, errlen, "cannot open a subscriber socket: %s", nng_strerror(rv));
		free(s);
		return -1;
	}
	if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = rpc_dial(s->sock, url)) != 0) {
		snprintf(err, errlen, "cannot subscribe to %s: %s", url, nng_strerror(rv));
		nng_close(s->sock);
		free(s);
		return -1;
	}
	s->recv_timeout = -2;
	*out = s;
	return 0;
}

int rpc_sub_recv(struct rpc_sub *s, cJSON **event, int timeout_ms)
{
	nng_msg *msg;
	int rv, flags = 0;
	if (timeout_ms <= 0) {
		flags = NNG_FLAG_NONBLOCK;
	} else if (timeout_ms != s->recv_timeout) {
		nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms);
		s->recv_timeout = timeout_ms;
	}
	for (;;) {
		if ((rv = nng_recvmsg(s->sock, &msg, flags)) != 0)
			return -1;
		struct wire_msg m;
		char err[256];
		int bad = wire_decode(nng_msg_body(msg), nng_msg_len(msg), &m, err, sizeof(err));
		nng_msg_free(msg);
		if (bad == 0 && m.type == WIRE_EVENT) {
			*event = m.root;
			return 0;
		}
		/* A publisher we do not understand is not a reason to stop listening. */
		if (bad == 0)
			wire_msg_free(&m);
		log_warn("event=sub_bad_message error=%s", log_q(bad ? err : "not an event"));
		if (flags == 0)
			continue; /* the next one gets a fresh timeout; close enough */
		return -1;
	}
}

int rpc_sub_fd(struct rpc_sub *s)
{
	int fd = -1;
	if (nng_socket_get_int(s->sock, NNG_OPT_RECVFD, &fd) != 0)
		return -1;
	return fd;
}

void rpc_sub_close(struct rpc_sub *s)
{
	if (!s)
		return;
	nng_close(s->sock);
	free(s);
}
