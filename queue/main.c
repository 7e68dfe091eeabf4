/*
 * NAME
 *   opsbot-queue - opsbot's durable job queue and incident state machine
 *
 * SYNOPSIS
 *   opsbot-queue [-c FILE]
 *
 * DESCRIPTION
 *   The one writer of the incident database.  Requests (lib/wire.h: submit,
 *   claim, heartbeat, complete, fail, approve, command, query) arrive on an
 *   NNG REP socket served by many contexts; events go out on a PUB socket.
 *
 *   One thread touches SQLite.  NNG's aio callbacks only push a received
 *   request into a mutex-protected inbox and wake this thread through a
 *   pipe.  The main loop then drains every waiting request into ONE
 *   transaction (group commit), COMMITs, and only then sends the replies and
 *   publishes the events: a reply that says "done" is on disk.  A claim that
 *   finds no job keeps its context parked until a job of its kind is ready
 *   or its wait_ms passes.  Every 100 ms the loop also expires leases
 *   (the job goes back to ready, or dead after max_attempts) and approval
 *   deadlines.  Each event is a row in the events table too, so a subscriber
 *   that missed one asks `query what:"events" since:N`.
 *
 * TRUST
 *   Every request is untrusted input: decoded strictly (wire_decode names the
 *   bad field), bounded in size (WIRE_MAX_BYTES), and never fatal - a bad
 *   request gets an error reply and nothing changes.  The queue trusts the
 *   config file, the policy and its own database.  It holds no secrets.
 *   Who sent a request is read from its connection, never from its
 *   fields (handle.h, struct handle_peer): on ipc:// the peer's uid
 *   (SO_PEERCRED through NNG_OPT_IPC_PEER_UID) - the queue's own uid is the
 *   service (bot, workers) and the only one that may name a chat user;
 *   another uid (reachable only with socket_group) acts as its own local
 *   account; on tls+tcp:// a peer whose client certificate tls_ca signed is
 *   a worker.  Approvals are judged against config/policy.conf.  Files:
 *   umask 077, sockets 0600 in a 0700 directory (0660/0750 with
 *   socket_group), the database and its WAL 0600 even if an older run left
 *   them wider.
 *
 * TEST HOOK
 *   OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=TYPE (tests only): exit 70 right
 *   after committing a batch that held a TYPE request, before any reply,
 *   to test that clients' resends act once (access_request_ids.sh).
 *
 * MESSAGES
 *   In: the requests of lib/wire.h.  Out: one reply per request, and the
 *   WIRE_EV_* events on the PUB socket, after COMMIT.
 *
 * CONFIG ([queue]; [pipeline] stages and approval_expiry are read too)
 *   listen        REP address             ipc://var/run/opsbot-queue.ipc
 *   events        PUB address             ipc://var/run/opsbot-events.ipc
 *   db            SQLite file             var/opsbot.db
 *   lease         default lease           30s
 *   max_attempts  deliveries before dead  5
 *   retry_base    first retry delay       1s (doubles per attempt, max 1h)
 *   contexts      concurrent requests     128 (long-polling claims may hold
 *                 all but max(4, contexts/8); beyond that the oldest is
 *                 answered job:null and its worker claims again)
 *   sync          full | normal           full
 *   socket_group  group that may also reach the sockets   (none)
 *   policy, catalog  approval policy and catalog   [plan]'s policy, catalog
 *   tls_listen, tls_cert, tls_key, tls_ca, tls_port_file
 *                 tls+tcp:// for remote workers, client certificates required
 *
 * SIGNALS
 *   SIGTERM, SIGINT: finish the batch in hand, commit, stop.  SIGHUP: logged;
 *   [queue] changes need a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grp.h>
#include <pwd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include "catalog.h"
#include "config.h"
#include "sig.h"
#include "defaults.h"
#include "group.h"
#include "handle.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "retention.h"
#include "state.h"
#include "timeutil.h"
#include "wire.h"

#define TICK_MS         100
#define INLINE_SEND_MAX 8 /* replies + events a batch may send without the sender thread */

enum qctx_state { QC_RECV, QC_WORK, QC_SEND };

/* One REP context: receives a request, waits (maybe parked), sends the reply. */
struct qctx {
	nng_ctx ctx;
	nng_aio *aio;
	enum qctx_state state;
	nng_msg *msg;        /* the request; reused for the reply */
	struct wire_msg req; /* decoded request while parked */
	int decoded;
	int64_t park_until;      /* monotonic ms */
	struct handle_peer peer; /* who sent the request in hand */
	long long peer_uid;      /* read on NNG's thread; -1 when not ipc:// */
	int peer_tls;            /* 1 tls+tcp://, 0 tcp:// (when peer_uid is -1) */
	cJSON *reply;
	struct qctx *next; /* inbox, batch or parked list */
};

static struct {
	pthread_mutex_t mu;
	struct qctx *inbox; /* LIFO, reversed when taken */
	int wake[2];
} io = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = {-1, -1}};

static volatile sig_atomic_t stopping, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stopping = 1;
	int saved = errno;
	(void)!write(io.wake[1], "s", 1);
	errno = saved;
}

/* NNG's thread: hand a received request to the main loop; restart receive after a send. */
static void qctx_cb(void *arg)
{
	struct qctx *c = arg;
	int rv = nng_aio_result(c->aio);
	if (c->state == QC_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
		}
		if (rv == NNG_ECLOSED)
			return;
		c->state = QC_RECV;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		log_warn("event=recv_error error=%s", log_q(nng_strerror(rv)));
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	c->msg = nng_aio_get_msg(c->aio);
	nng_aio_set_msg(c->aio, NULL);
	/* Who sent it, while the pipe is surely open: SO_PEERCRED on ipc://. */
	nng_pipe pipe = nng_msg_get_pipe(c->msg);
	uint64_t uid;
	bool verified;
	c->peer_uid = -1;
	c->peer_tls = 0;
	if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &uid) == 0)
		c->peer_uid = (long long)uid;
	else if (nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified) == 0)
		c->peer_tls = 1;
	c->state = QC_WORK;
	pthread_mutex_lock(&io.mu);
	int was_empty = io.inbox == NULL;
	c->next = io.inbox;
	io.inbox = c;
	pthread_mutex_unlock(&io.mu);
	if (was_empty)
		(void)!write(io.wake[1], "r", 1);
}

static struct qctx *inbox_take(void)
{
	char buf[256];
	while (read(io.wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&io.mu);
	struct qctx *l = io.inbox;
	io.inbox = NULL;
	pthread_mutex_unlock(&io.mu);
	struct qctx *fifo = NULL;
	while (l) {
		struct qctx *n = l->next;
		l->next = fifo;
		fifo = l;
		l = n;
	}
	return fifo;
}

static void qctx_send(struct qctx *c)
{
	char *body = json_print(c->reply);
	cJSON_Delete(c->reply);
	c->reply = NULL;
	if (c->decoded) {
		wire_msg_free(&c->req);
		c->decoded = 0;
	}
	nng_msg *msg = c->msg;
	c->msg = NULL;
	nng_msg_clear(msg);
	if (nng_msg_append(msg, body, strlen(body)) != 0)
		log_fatal("event=out_of_memory where=reply");
	free(body);
	c->state = QC_SEND;
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

/* An error reply to bytes that did not decode: use their id when there is one. */
static cJSON *reply_undecodable(const struct qctx *c, const char *why)
{
	struct wire_msg m = {.v = WIRE_VERSION};
	cJSON *raw = NULL;
	char err[64];
	if (nng_msg_len(c->msg) <= WIRE_MAX_BYTES &&
	    json_parse(nng_msg_body(c->msg), nng_msg_len(c->msg), &raw, err, sizeof(err)) == 0) {
		const char *id = json_str(raw, "id");
		if (id)
			str_copy(m.id, sizeof(m.id), id);
		m.incident = json_int(raw, "incident", 0);
	}
	cJSON_Delete(raw);
	return wire_reply_err(&m, "bad_request", "%s", why);
}

/* Create the parent directories of an ipc:// path (relative or absolute). */
static void ipc_dirs(const char *url)
{
	if (strncmp(url, "ipc://", 6) != 0)
		return;
	char dir[1024];
	if (str_copy(dir, sizeof(dir), url + 6) < 0)
		return;
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	}
}

static unsigned parse_stages(struct config *cfg)
{
	const char *v = config_str(cfg, "pipeline", "stages",
	                           "detect retrieve plan execute verify report index");
	unsigned mask = 0;
	char word[64];
	for (const char *p = v; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, " \t,");
		if (!n)
			break;
		enum stage_id g;
		snprintf(word, sizeof(word), "%.*s", (int)(n < 63 ? n : 63), p);
		if (state_stage_parse(word, &g) < 0)
			config_error(cfg, "pipeline", "stages",
			             "unknown stage \"%s\" (stages are detect retrieve plan "
			             "execute verify report index)",
			             word);
		else
			mask |= 1u << g;
		p += n;
	}
	return mask;
}

/* [pipeline] group_window and group_sources, and the [services] graph. */
static void read_grouping(struct config *cfg, struct group_conf *g)
{
	g->window_ms = config_duration_ms(cfg, "pipeline", "group_window", 0);
	char bad[64];
	const char *src =
	    config_str(cfg, "pipeline", "group_sources", "alertmanager generic watch");
	if (group_sources_parse(src, &g->sources, bad, sizeof(bad)) < 0)
		config_error(cfg, "pipeline", "group_sources",
		             "unknown source \"%s\" (sources are alertmanager generic watch slack "
		             "discord cli)",
		             bad);
	size_t n;
	const struct config_entry *e = config_entries(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].section, "services") != 0)
			continue;
		const char *deps = config_str(cfg, "services", e[i].key, "");
		char word[64];
		for (const char *p = deps; *p;) {
			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			size_t len = strcspn(p, " \t,");
			if (!len)
				break;
			snprintf(word, sizeof(word), "%.*s", (int)(len < 63 ? len : 63), p);
			if (group_edge_add(g, e[i].key, word) < 0) {
				config_error(cfg, "services", e[i].key,
				             "more than %d dependencies in [services]",
				             GROUP_EDGES_MAX);
				return;
			}
			p += len;
		}
	}
}

static void read_config(const char *path, struct config **cfgp, struct queue_conf *qc)
{
	char err[512];
	struct config *cfg;
	if (config_load(path, &cfg, err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	qc->listen = config_str(cfg, "queue", "listen", DEF_QUEUE_URL);
	qc->events = config_str(cfg, "queue", "events", DEF_EVENTS_URL);
	qc->db = config_str(cfg, "queue", "db", "var/opsbot.db");
	qc->lease_ms = config_duration_ms(cfg, "queue", "lease", 30000);
	qc->max_attempts = (int)config_int(cfg, "queue", "max_attempts", 5, 1, 1000);
	qc->retry_base_ms = config_duration_ms(cfg, "queue", "retry_base", 1000);
	qc->contexts = (int)config_int(cfg, "queue", "contexts", 128, 1, 4096);
	static const char *const syncs[] = {"full", "normal", NULL};
	qc->sync =
	    config_enum(cfg, "queue", "sync", syncs, 0) == 1 ? STORE_SYNC_NORMAL : STORE_SYNC_FULL;
	qc->stages = parse_stages(cfg);
	qc->approval_expiry_ms = config_duration_ms(cfg, "pipeline", "approval_expiry", 30 * 60000);
	read_grouping(cfg, &qc->group);
	qc->retain.jobs_ms = config_duration_ms(cfg, "queue", "retain_jobs", 7 * 86400000LL);
	qc->retain.events_ms = config_duration_ms(cfg, "queue", "retain_events", 30 * 86400000LL);
	qc->retain.keys_ms = config_duration_ms(cfg, "queue", "retain_keys", 30 * 86400000LL);
	qc->retain.interval_ms = config_duration_ms(cfg, "queue", "prune_interval", 3600000);
	if (qc->lease_ms < 1 || qc->lease_ms > WIRE_LEASE_MAX_MS)
		config_error(cfg, "queue", "lease", "lease must be between 1ms and 1h");
	qc->socket_group = config_str(cfg, "queue", "socket_group", NULL);
	qc->policy = config_str(cfg, "queue", "policy", NULL);
	qc->catalog = config_str(cfg, "queue", "catalog", NULL);
	qc->tls_listen = config_str(cfg, "queue", "tls_listen", NULL);
	qc->tls_cert = config_str(cfg, "queue", "tls_cert", NULL);
	qc->tls_key = config_str(cfg, "queue", "tls_key", NULL);
	qc->tls_ca = config_str(cfg, "queue", "tls_ca", NULL);
	qc->tls_port_file = config_str(cfg, "queue", "tls_port_file", NULL);
	if (qc->tls_listen && *qc->tls_listen) {
		if (strncmp(qc->tls_listen, "tls+tcp://", 10) != 0)
			config_error(cfg, "queue", "tls_listen",
			             "tls_listen must be a tls+tcp:// address");
		else if (!qc->tls_cert || !qc->tls_key || !qc->tls_ca)
			config_error(cfg, "queue", "tls_listen",
			             "tls_listen needs tls_cert, tls_key and tls_ca (PEM files)");
	}
	if (config_check(cfg, (const char *const[]){"queue", NULL}, err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	*cfgp = cfg;
}

/* Replace every reply of a rolled-back batch: nothing it said happened did. */
static void batch_unavailable(struct qctx *done)
{
	for (struct qctx *c = done; c; c = c->next) {
		if (!c->decoded)
			continue; /* its bad_request reply stands */
		cJSON_Delete(c->reply);
		c->reply = wire_reply_err(&c->req, "unavailable",
		                          "the queue could not store this; retry shortly");
	}
}

/* The peer of a received request (main thread; account names cached per uid). */
static void qctx_peer(struct qctx *c)
{
	static struct {
		long long uid;
		char name[64];
	} cache[16];
	static int ncache;
	struct handle_peer *p = &c->peer;
	memset(p, 0, sizeof(*p));
	p->uid = c->peer_uid;
	if (c->peer_uid < 0) {
		p->kind = PEER_REMOTE;
		str_copy(p->via, sizeof(p->via), c->peer_tls ? "tls+tcp" : "tcp");
		return;
	}
	str_copy(p->via, sizeof(p->via), "ipc");
	p->kind = (uid_t)c->peer_uid == geteuid() ? PEER_SERVICE : PEER_LOCAL;
	for (int i = 0; i < ncache; i++) {
		if (cache[i].uid == c->peer_uid) {
			str_copy(p->account, sizeof(p->account), cache[i].name);
			return;
		}
	}
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r((uid_t)c->peer_uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		str_copy(p->account, sizeof(p->account), res->pw_name);
	else
		snprintf(p->account, sizeof(p->account), "uid:%lld", c->peer_uid);
	int slot = ncache < 16 ? ncache++ : (int)(c->peer_uid % 16);
	cache[slot].uid = c->peer_uid;
	str_copy(cache[slot].name, sizeof(cache[slot].name), p->account);
}

/* Test-only: exit after COMMIT and before the replies when the batch held this type. */
static void crash_hook(struct qctx *done)
{
	static const char *want = (const char *)1;
	if (want == (const char *)1)
		want = getenv("OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT");
	if (!want || !*want)
		return;
	for (struct qctx *c = done; c; c = c->next) {
		if (c->decoded && !strcmp(wire_type_name(c->req.type), want)) {
			log_warn("event=test_exit_after_commit type=%s", want);
			_exit(70);
		}
	}
}

/* Owner-only (or owner + socket_group) ipc:// socket and its directory. */
static void ipc_private(const char *url, const char *group)
{
	if (strncmp(url, "ipc://", 6) != 0)
		return;
	const char *path = url + 6;
	gid_t gid = (gid_t)-1;
	if (group && *group) {
		struct group *g = getgrnam(group);
		if (!g)
			log_fatal("event=config_error error=%s",
			          log_q("[queue] socket_group names no group on this host"));
		gid = g->gr_gid;
	}
	char dir[1024];
	str_copy(dir, sizeof(dir), path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (gid != (gid_t)-1 && chown(dir, (uid_t)-1, gid) < 0)
			log_fatal("event=chown_failed path=%s error=%s", log_q(dir),
			          log_q(strerror(errno)));
		if (chmod(dir, gid != (gid_t)-1 ? 0750 : 0700) < 0)
			log_warn("event=chmod_failed path=%s error=%s", log_q(dir),
			         log_q(strerror(errno)));
	}
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
		log_fatal("event=chown_failed path=%s error=%s", log_q(path),
		          log_q(strerror(errno)));
	if (chmod(path, gid != (gid_t)-1 ? 0660 : 0600) < 0)
		log_fatal("event=chmod_failed path=%s error=%s", log_q(path),
		          log_q(strerror(errno)));
}

/* The database and its WAL files owner-only, also when an older run left them open to all. */
static void db_private(const char *db)
{
	static const char *const sfx[] = {"", "-wal", "-shm", NULL};
	for (int i = 0; sfx[i]; i++) {
		char p[1100];
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		if (chmod(p, 0600) < 0 && errno != ENOENT)
			log_warn("event=chmod_failed path=%s error=%s", log_q(p),
			         log_q(strerror(errno)));
	}
}

static char *read_pem(const char *path)
{
	struct buf b = {.max = 1 << 20};
	char err[300];
	if (buf_read_file(&b, path, err, sizeof(err)) < 0)
		log_fatal("event=tls_config_failed error=%s", log_q(err));
	return b.data; /* NUL-terminated by buf */
}

/*
 * tls+tcp:// beside the ipc:// socket: our certificate, and a client
 * certificate signed by tls_ca REQUIRED of every peer (a worker on another
 * host).  Writes the bound port to tls_port_file when set.
 */
static void tls_listen(nng_socket rep, const struct queue_conf *qc)
{
	if (!qc->tls_listen || !*qc->tls_listen)
		return;
	char *cert = read_pem(qc->tls_cert), *key = read_pem(qc->tls_key);
	char *ca = read_pem(qc->tls_ca);
	struct stat st;
	if (stat(qc->tls_key, &st) == 0 && (st.st_mode & 077))
		log_warn("event=tls_key_readable path=%s note=%s", log_q(qc->tls_key),
		         log_q("the private key is readable by others; chmod 600 it"));
	nng_tls_config *tc;
	nng_listener l;
	int rv;
	if ((rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_own_cert(tc, cert, key, NULL)) != 0 ||
	    (rv = nng_tls_config_ca_chain(tc, ca, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
		log_fatal("event=tls_config_failed error=%s note=%s", log_q(nng_strerror(rv)),
		          log_q("check tls_cert, tls_key and tls_ca (PEM files)"));
	if ((rv = nng_listener_create(&l, rep, qc->tls_listen)) != 0 ||
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tc)) != 0 ||
	    (rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, WIRE_MAX_BYTES)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		log_fatal("event=listen_failed url=%s error=%s", log_q(qc->tls_listen),
		          log_q(nng_strerror(rv)));
	nng_tls_config_free(tc); /* the listener holds its own reference */
	int port = 0;
	nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
	log_info("event=tls_listening url=%s port=%d client_certs=required", log_q(qc->tls_listen),
	         port);
	if (qc->tls_port_file && *qc->tls_port_file) {
		char tmp[1100];
		snprintf(tmp, sizeof(tmp), "%s.tmp", qc->tls_port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, qc->tls_port_file) < 0)
			log_fatal("event=port_file_failed path=%s", log_q(qc->tls_port_file));
	}
	explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	free(ca);
}

/* The catalog and policy approvals are judged by ([queue] policy, else [plan]'s). */
static void load_policy(struct config *cfg, struct queue *q, struct catalog **cat,
                        struct policy **pol)
{
	const char *cp = q->conf.catalog, *pp = q->conf.policy;
	int explicit = cp || pp;
	if (!cp)
		cp = config_str(cfg, "plan", "catalog", "config/actions.conf");
	if (!pp)
		pp = config_str(cfg, "plan", "policy", "config/policy.conf");
	char err[600];
	if (!explicit && access(pp, F_OK) != 0) {
		log_warn("event=no_policy policy=%s note=%s", log_q(pp),
		         log_q("no approval policy: every approve and reject is refused"));
		return;
	}
	if (catalog_load(cp, cat, err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	if (policy_load(pp, *cat, pol, err, sizeof(err)) < 0)
		log_fatal("event=config_error error=%s", log_q(err));
	q->cat = *cat;
	q->pol = *pol;
	log_info("event=policy_loaded policy=%s catalog=%s", log_q(pp), log_q(cp));
}

/*
 * The sender: replies and events of committed batches leave from their own
 * thread, in batch order, while the SQLite thread goes on with the next
 * batch.  Encoding a reply and nng_ctx_send (which wakes NNG's threads and
 * waits on its locks) were a third of the SQLite thread's time; nothing here
 * reads or writes the store, so the rule "nothing leaves before COMMIT"
 * holds: a batch is handed over only after its COMMIT.
 */
struct sent_batch {
	struct sent_batch *next;
	struct qctx *replies;
	cJSON *events; /* array of whole event messages */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sent_batch *head, **tail;
	int busy; /* a batch is being sent (by the sender or inline) */
	int stop;
	nng_socket pub;
} tx = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .tail = &tx.head};

static void send_batch(struct sent_batch *b)
{
	while (b->replies) {
		struct qctx *c = b->replies;
		b->replies = c->next;
		c->next = NULL;
		qctx_send(c);
	}
	cJSON *e;
	cJSON_ArrayForEach(e, b->events)
	{
		char *body = json_print(e);
		int rv = nng_send(tx.pub, body, strlen(body), 0);
		if (rv != 0)
			log_warn("event=publish_failed error=%s", log_q(nng_strerror(rv)));
		free(body);
	}
	cJSON_Delete(b->events);
	free(b);
}

static void *sender_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&tx.mu);
	for (;;) {
		while (!tx.head && !tx.stop)
			pthread_cond_wait(&tx.cv, &tx.mu);
		struct sent_batch *b = tx.head;
		if (!b)
			break; /* stopping and drained */
		tx.head = NULL;
		tx.tail = &tx.head;
		tx.busy = 1;
		pthread_mutex_unlock(&tx.mu);
		while (b) {
			struct sent_batch *n = b->next;
			send_batch(b);
			b = n;
		}
		pthread_mutex_lock(&tx.mu);
		tx.busy = 0;
	}
	pthread_mutex_unlock(&tx.mu);
	return NULL;
}

/* Few enough replies and events to send from the SQLite thread itself. */
static int small_batch(const struct sent_batch *b)
{
	int n = cJSON_GetArraySize(b->events);
	for (const struct qctx *c = b->replies; c && n <= INLINE_SEND_MAX; c = c->next)
		n++;
	return n <= INLINE_SEND_MAX;
}

/* After COMMIT: hand the batch's replies, then its events, to the sender. */
static void send_after_commit(struct queue *q, struct qctx *done)
{
	if (!done && cJSON_GetArraySize(q->outbox) == 0)
		return;
	struct sent_batch *b = xcalloc(1, sizeof(*b));
	b->replies = done;
	b->events = q->outbox;
	q->outbox = json_new_array();
	pthread_mutex_lock(&tx.mu);
	if (!tx.head && !tx.busy && small_batch(b)) {
		/*
		 * Nothing older is waiting or being sent: a small batch leaves from
		 * here, without waking the sender (one thread hand-off less per
		 * reply on a busy machine).  Order holds: the sender takes nothing
		 * while busy is set.
		 */
		tx.busy = 1;
		pthread_mutex_unlock(&tx.mu);
		send_batch(b);
		pthread_mutex_lock(&tx.mu);
		tx.busy = 0;
		if (tx.head)
			pthread_cond_signal(&tx.cv);
		pthread_mutex_unlock(&tx.mu);
		return;
	}
	*tx.tail = b;
	tx.tail = &b->next;
	pthread_cond_signal(&tx.cv);
	pthread_mutex_unlock(&tx.mu);
}

/* The main loop's state between batches. */
struct loop {
	struct queue q;
	struct qctx *parked; /* newest first */
	int max_parked;
	int64_t next_tick; /* monotonic ms */
	struct qctx *done, **done_tail;
};

static void done_add(struct loop *L, struct qctx *c)
{
	c->next = NULL;
	*L->done_tail = c;
	L->done_tail = &c->next;
}

/* Sleep until a request arrives, the tick is due or a parked claim's wait ends. */
static void wait_for_work(struct loop *L)
{
	int64_t mono = time_mono_ms();
	int64_t wake_at = L->next_tick;
	for (struct qctx *c = L->parked; c; c = c->next)
		if (c->park_until < wake_at)
			wake_at = c->park_until;
	int timeout = wake_at > mono ? (int)(wake_at - mono) : 0;
	struct pollfd pfd = {.fd = io.wake[0], .events = POLLIN};
	if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
		log_fatal("event=poll_failed error=%s", log_q(strerror(errno)));
	if (hup) {
		hup = 0;
		log_info("event=sighup note=\"[queue] changes need a restart\"");
	}
}

/* Is there anything to do: requests, the tick, or a parked claim whose wait ended? */
static int parked_due(const struct loop *L, int64_t mono)
{
	for (const struct qctx *c = L->parked; c; c = c->next)
		if (c->park_until <= mono)
			return 1;
	return 0;
}

/*
 * Every request of the batch, inside the open transaction: decoded (a bad
 * one gets its error reply), handled, and either answered (its reply waits
 * for COMMIT in L->done) or parked (a claim with nothing to claim yet).
 * Returns the number of requests; sets *failed when the store failed.
 */
static int handle_batch(struct loop *L, struct qctx *batch, int64_t mono, int *failed)
{
	int nreq = 0;
	while (batch) {
		struct qctx *c = batch;
		batch = c->next;
		c->next = NULL;
		nreq++;
		char derr[256];
		if (wire_decode(nng_msg_body(c->msg), nng_msg_len(c->msg), &c->req, derr,
		                sizeof(derr)) < 0) {
			log_info("event=bad_request error=%s", log_q(derr));
			c->reply = reply_undecodable(c, derr);
			done_add(L, c);
			continue;
		}
		c->decoded = 1;
		L->q.requests++;
		if (*failed) {
			c->reply = NULL; /* batch_unavailable answers it */
			done_add(L, c);
			continue;
		}
		qctx_peer(c);
		L->q.peer = &c->peer;
		enum handle_rc rc = handle_request(&L->q, &c->req, &c->reply);
		if (rc == HANDLE_STORE_ERR)
			*failed = 1;
		if (rc == HANDLE_PARK) {
			c->park_until = mono + json_int(c->req.root, "wait_ms", 0);
			c->next = L->parked;
			L->parked = c;
			continue;
		}
		done_add(L, c);
	}
	return nreq;
}

/* Are all of a claim's kinds in the list of kinds found empty in this pass? */
static int kinds_empty(const cJSON *kinds, const char (*empty)[WIRE_KIND_MAX + 1], int nempty)
{
	const cJSON *k;
	cJSON_ArrayForEach(k, kinds)
	{
		int found = 0;
		for (int i = 0; i < nempty && !found; i++)
			found = cJSON_IsString(k) && !strcmp(empty[i], k->valuestring);
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Parked claims, after the batch: tried again only when one of their kinds
 * got work in it (or on the tick, for retries whose time came, or when
 * their wait ended).  A kind found empty once in this pass is not asked
 * again for the next parked claim.  Returns -1 when the store failed.
 */
static int retry_parked(struct loop *L, int tick, int64_t mono)
{
	char empty[WIRE_KINDS_MAX][WIRE_KIND_MAX + 1];
	int nempty = 0;
	struct qctx **pp = &L->parked;
	while (*pp) {
		struct qctx *c = *pp;
		const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(c->req.root, "kinds");
		enum handle_rc rc = HANDLE_PARK;
		int expired = c->park_until <= mono;
		if ((expired || tick || queue_ready_for(&L->q, kinds)) &&
		    !kinds_empty(kinds, (const char(*)[WIRE_KIND_MAX + 1]) empty, nempty)) {
			L->q.peer = &c->peer;
			rc = handle_claim_try(&L->q, &c->req, &c->reply);
			if (rc == HANDLE_STORE_ERR)
				return -1;
			const cJSON *k;
			if (rc == HANDLE_PARK)
				cJSON_ArrayForEach(k, kinds)
				{
					if (nempty < WIRE_KINDS_MAX && cJSON_IsString(k) &&
					    str_copy(empty[nempty], sizeof(empty[0]),
					             k->valuestring) == 0)
						nempty++;
				}
		}
		if (rc == HANDLE_PARK && expired) {
			c->reply = handle_claim_none(&c->req);
			rc = HANDLE_REPLY;
		}
		if (rc == HANDLE_PARK) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		done_add(L, c);
	}
	return 0;
}

/*
 * Parked claims may hold at most max_parked contexts, so submits and
 * completes always find one free: the oldest beyond that are answered
 * job:null now (a worker simply claims again).
 */
static void release_excess_parked(struct loop *L)
{
	int np = 0;
	for (struct qctx **pp = &L->parked; *pp;) {
		if (++np <= L->max_parked) {
			pp = &(*pp)->next;
			continue;
		}
		struct qctx *c = *pp;
		*pp = c->next;
		c->reply = handle_claim_none(&c->req);
		done_add(L, c);
		np--;
	}
	L->q.parked = np;
}

/*
 * COMMIT, or roll back and turn every reply into "unavailable" (and drop the
 * events).  Returns 1 when the batch was rolled back.
 */
static int commit_or_rollback(struct loop *L, int failed, int nreq)
{
	struct queue *q = &L->q;
	if (!failed && store_commit(q->st) < 0)
		failed = 1;
	if (failed) {
		store_rollback(q->st);
		q->rollbacks++;
		log_error("event=batch_rolled_back requests=%d error=%s", nreq,
		          log_q(store_errmsg(q->st)));
		batch_unavailable(L->done);
		cJSON_Delete(q->outbox);
		q->outbox = json_new_array();
	} else if (nreq > 0 || cJSON_GetArraySize(q->outbox) > 0) {
		q->commits++; /* batches that carried something, not idle ticks */
	}
	return failed;
}

/*
 * One turn of the loop, the queue's central rule in order: take what
 * arrived, handle it all in one transaction, COMMIT, and only then let the
 * replies and events go.
 */
static void run_batch(struct loop *L)
{
	struct queue *q = &L->q;
	struct qctx *batch = inbox_take();
	int64_t mono = time_mono_ms();
	int tick = mono >= L->next_tick;
	if (!batch && !tick && !parked_due(L, mono))
		return;
	if (tick)
		L->next_tick = mono + TICK_MS;
	q->now = time_now_ms();
	memset(&q->ready, 0, sizeof(q->ready));
	L->done = NULL;
	L->done_tail = &L->done;

	int failed = store_begin(q->st) < 0;
	int nreq = handle_batch(L, batch, mono, &failed);
	if (!failed && tick && (handle_timers(q) < 0 || retention_run(q) < 0))
		failed = 1;
	if (!failed && L->parked && retry_parked(L, tick, mono) < 0)
		failed = 1;
	failed = commit_or_rollback(L, failed, nreq);
	release_excess_parked(L);
	q->peer = NULL;
	if (!failed)
		crash_hook(L->done);
	send_after_commit(q, L->done);
}

/* The REP socket for requests and the PUB socket for events, listening. */
static void listen_sockets(const struct queue_conf *conf, nng_socket *rep, nng_socket *pub)
{
	int rv;
	ipc_dirs(conf->listen);
	ipc_dirs(conf->events);
	if ((rv = nng_rep0_open(rep)) != 0 || (rv = nng_pub0_open(pub)) != 0)
		log_fatal("event=socket_failed error=%s", log_q(nng_strerror(rv)));
	nng_socket_set_size(*rep, NNG_OPT_RECVMAXSZ, WIRE_MAX_BYTES);
	if ((rv = nng_listen(*rep, conf->listen, NULL, 0)) != 0)
		log_fatal("event=listen_failed url=%s error=%s", log_q(conf->listen),
		          log_q(nng_strerror(rv)));
	if ((rv = nng_listen(*pub, conf->events, NULL, 0)) != 0)
		log_fatal("event=listen_failed url=%s error=%s", log_q(conf->events),
		          log_q(nng_strerror(rv)));
	ipc_private(conf->listen, conf->socket_group);
	ipc_private(conf->events, conf->socket_group);
	if (!strncmp(conf->listen, "tcp://", 6))
		log_warn("event=plain_tcp url=%s note=%s", log_q(conf->listen),
		         log_q("tcp:// has no authentication: anyone who reaches it can act as a "
		               "worker; use tls_listen"));
	tls_listen(*rep, conf);
}

/* n REP contexts, each already receiving. */
static struct qctx *start_contexts(nng_socket rep, int n)
{
	int rv;
	struct qctx *ctxs = xcalloc((size_t)n, sizeof(*ctxs));
	for (int i = 0; i < n; i++) {
		struct qctx *c = &ctxs[i];
		if ((rv = nng_ctx_open(&c->ctx, rep)) != 0 ||
		    (rv = nng_aio_alloc(&c->aio, qctx_cb, c)) != 0)
			log_fatal("event=context_failed error=%s", log_q(nng_strerror(rv)));
		c->state = QC_RECV;
		nng_ctx_recv(c->ctx, c->aio);
	}
	return ctxs;
}

int main(int argc, char **argv)
{
	const char *path = "config/opsbot.conf";
	int opt;
	log_init("opsbot-queue");
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c') {
			path = optarg;
		} else {
			fprintf(stderr, "usage: opsbot-queue [-c FILE]\n");
			return 2;
		}
	}
	struct config *cfg;
	static struct loop L;
	struct queue *q = &L.q;
	/* Everything this process creates is owner-only, whatever umask it inherited. */
	umask(077);
	read_config(path, &cfg, &q->conf);
	struct catalog *cat = NULL;
	struct policy *pol = NULL;
	load_policy(cfg, q, &cat, &pol);

	char err[512];
	if (store_open(q->conf.db, q->conf.sync, &q->st, err, sizeof(err)) < 0)
		log_fatal("event=store_open_failed error=%s", log_q(err));
	db_private(q->conf.db);

	if (pipe2(io.wake, O_NONBLOCK | O_CLOEXEC) < 0)
		log_fatal("event=pipe_failed error=%s", log_q(strerror(errno)));
	sig_on_stop(on_signal, 1);

	nng_socket rep, pub;
	listen_sockets(&q->conf, &rep, &pub);
	struct qctx *ctxs = start_contexts(rep, q->conf.contexts);
	q->started_ms = time_now_ms();
	q->outbox = json_new_array();
	log_info("event=started listen=%s events=%s db=%s contexts=%d sync=%s lease_ms=%lld",
	         log_q(q->conf.listen), log_q(q->conf.events), log_q(q->conf.db), q->conf.contexts,
	         q->conf.sync == STORE_SYNC_FULL ? "full" : "normal", (long long)q->conf.lease_ms);

	int reserve = q->conf.contexts / 8 < 4 ? 4 : q->conf.contexts / 8;
	L.max_parked = q->conf.contexts > reserve ? q->conf.contexts - reserve : 1;
	L.next_tick = time_mono_ms();
	tx.pub = pub;
	pthread_t sender;
	if (pthread_create(&sender, NULL, sender_main, NULL) != 0)
		log_fatal("event=thread_failed what=sender");
	while (!stopping) {
		wait_for_work(&L);
		run_batch(&L);
	}
	pthread_mutex_lock(&tx.mu);
	tx.stop = 1;
	pthread_cond_signal(&tx.cv);
	pthread_mutex_unlock(&tx.mu);
	pthread_join(sender, NULL);
	log_info("event=stopping commits=%llu requests=%llu", (unsigned long long)q->commits,
	         (unsigned long long)q->requests);
	nng_close(rep);
	nng_close(pub);
	for (int i = 0; i < q->conf.contexts; i++) {
		nng_aio_free(ctxs[i].aio);
		if (ctxs[i].decoded)
			wire_msg_free(&ctxs[i].req);
		if (ctxs[i].msg)
			nng_msg_free(ctxs[i].msg);
		cJSON_Delete(ctxs[i].reply);
	}
	free(ctxs);
	cJSON_Delete(q->outbox);
	store_close(q->st);
	policy_free(pol);
	catalog_free(cat);
	config_free(cfg);
	return 0;
}
