/*
 * NAME
 *   opsbot-sim - a simulated production system to rehearse incidents on
 *
 * SYNOPSIS
 *   opsbot-sim [--port N] [--port-file F] [--seed S] [--accel X]
 *              [--history FILE.csv] [--history-every MS]
 *
 * DESCRIPTION
 *   Runs the model of sim/model.h (frontend -> api -> {cache, db, payment})
 *   and serves on 127.0.0.1 (port 0: the kernel picks one, written to
 *   --port-file):
 *
 *     GET  /metrics           Prometheus text exposition (gauges per service)
 *     GET  /control/state     everything as JSON: services, faults, actions
 *     GET  /control/health?service=S   {healthy, why}; 404 for no such service
 *     POST /control/fault     {kind, service?, severity? (0..1, default 0.8)}
 *     POST /control/clear     end every fault
 *     POST /control/action    {action, service, replicas?|percent?|size?}
 *     POST /control/record    {action, target?, detail?}  an action with no
 *                             counterpart in the model (a page, a ticket),
 *                             kept in the event log
 *     POST /control/advance   {seconds}  move time by hand (--accel 0 only)
 *     POST /control/reset     {seed?}  a fresh, healthy system at tick 0 (a
 *                             new episode; the history file starts over)
 *     GET  /control/log       the faults and actions applied since the last
 *                             reset, each with its tick, so that a client
 *                             can replay the episode in sim/model.c exactly
 *
 *   Faults: cpu_hog memory_leak latency error_spike cache_failure
 *   db_conn_exhaustion bad_deploy traffic_surge.  Actions: restart scale
 *   clear_cache limit_traffic unlimit_traffic rollback pool kill_queries
 *   failover.
 *
 *   Time: one model step is one simulated second; --accel X runs X steps per
 *   real second (default 1; fractions allowed); --accel 0 stops the clock
 *   so that only /control/advance moves it (a test then gets the same
 *   numbers from the same seed and commands every time).
 *
 *   --history appends one CSV row (wall-clock time, one column per service
 *   and metric) every --history-every ms (default 1000), a file
 *   opsbot-detect's csv source can read.
 *
 * TRUST
 *   A rehearsal tool: loopback only, no authentication.  Requests are
 *   bounded (64 KiB, 64 connections, 5 s to send one); a malformed one gets
 *   a 4xx with a reason and changes nothing.
 *
 * DIAGNOSTICS
 *   key=value log lines on stderr (lib/log.h); exit 0 on SIGTERM/SIGINT,
 *   1 when it cannot listen or write its files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "sig.h"
#include "log.h"
#include "mem.h"
#include "model.h"
#include "timeutil.h"

#define SRV_MAX_CONNS 64
#define SRV_MAX_REQ   (64 * 1024)
#define SRV_REQ_MS    5000
#define SRV_MAX_STEPS 100000 /* per loop turn, so a huge --accel cannot stall I/O */
#define SRV_MAX_LOG   512    /* commands kept since the last reset */

/* A command that changed the model, for GET /control/log. */
struct srv_cmd {
	int64_t tick;
	char type; /* 'f' fault, 'a' action, 'c' clear */
	int kind, service;
	double value; /* fault severity or action argument */
};

struct srv_conn {
	int fd;
	char in[SRV_MAX_REQ + 1];
	size_t inlen;
	struct buf out;
	size_t outoff;
	int64_t deadline_ms;
};

struct srv {
	int lfd;
	struct sim_model m;
	double accel;
	int64_t t0_ms;     /* monotonic time of tick 0 (accel > 0) */
	int64_t base_tick; /* tick at t0 (after a manual advance) */
	FILE *hist;
	int64_t hist_every_ms, hist_next_ms;
	struct srv_conn *c[SRV_MAX_CONNS];
	struct srv_cmd log[SRV_MAX_LOG];
	int nlog, log_lost;
};

static void srv_log_cmd(struct srv *s, char type, int kind, int service, double value)
{
	if (s->nlog == SRV_MAX_LOG) {
		s->log_lost = 1;
		return;
	}
	s->log[s->nlog++] = (struct srv_cmd){s->m.tick, type, kind, service, value};
}

static volatile sig_atomic_t srv_stop;

static void srv_on_signal(int sig)
{
	(void)sig;
	srv_stop = 1;
}

/* ---- responses ------------------------------------------------------------- */

static const char *srv_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 501:
		return "Not Implemented";
	default:
		return "Error";
	}
}

static void srv_reply(struct srv_conn *c, int code, const char *type, const char *body, size_t len)
{
	buf_reset(&c->out);
	buf_appendf(&c->out,
	            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	            code, srv_reason(code), type, len);
	buf_append(&c->out, body, len);
	c->outoff = 0;
}

static void srv_json(struct srv_conn *c, int code, cJSON *o)
{
	char *t = json_print(o);
	size_t n = strlen(t);
	char *nl = xmalloc(n + 2);
	memcpy(nl, t, n);
	nl[n] = '\n';
	srv_reply(c, code, "application/json", nl, n + 1);
	free(nl);
	free(t);
	cJSON_Delete(o);
}

static void srv_error(struct srv_conn *c, int code, const char *msg)
{
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 0);
	json_add_str(o, "error", msg);
	srv_json(c, code, o);
}

/* ---- handlers ---------------------------------------------------------------- */

/* The value of key in a query string (only [a-z0-9_-] values are accepted). */
static int srv_query(const char *q, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	while (q && *q) {
		if (strncmp(q, key, kl) == 0 && q[kl] == '=') {
			const char *v = q + kl + 1;
			size_t n = strcspn(v, "&");
			if (n >= len)
				return -1;
			for (size_t i = 0; i < n; i++)
				if (!((v[i] >= 'a' && v[i] <= 'z') ||
				      (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-'))
					return -1;
			memcpy(out, v, n);
			out[n] = 0;
			return 0;
		}
		q = strchr(q, '&');
		if (q)
			q++;
	}
	return -1;
}

static void srv_metrics(struct srv *s, struct srv_conn *c)
{
	struct buf b = {.max = 1 << 20};
	sim_render_metrics(&s->m, &b);
	srv_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	buf_free(&b);
}

static void srv_state(struct srv *s, struct srv_conn *c)
{
	cJSON *o = sim_state_json(&s->m);
	json_add_num(o, "accel", s->accel);
	json_add_bool(o, "ok", 1);
	srv_json(c, 200, o);
}

static void srv_health(struct srv *s, struct srv_conn *c, const char *query)
{
	char name[64], why[512];
	if (srv_query(query, "service", name, sizeof name) < 0) {
		srv_error(c, 400, "say which service: /control/health?service=NAME");
		return;
	}
	int sv = sim_service_parse(name);
	if (sv < 0) {
		char e[200];
		snprintf(e, sizeof e,
		         "no service %s in the simulator (frontend, api, cache, db, payment)",
		         name);
		srv_error(c, 404, e);
		return;
	}
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_str(o, "service", name);
	json_add_bool(o, "healthy", sim_healthy(&s->m, (enum sim_service)sv, why, sizeof why));
	json_add_str(o, "why", why);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

/* service named in a body: -1 absent, -2 unknown (err says so). */
static int srv_body_service(const cJSON *in, char *err, size_t errlen)
{
	const char *name = json_str(in, "service");
	if (!name)
		return -1;
	int sv = sim_service_parse(name);
	if (sv < 0) {
		snprintf(err, errlen,
		         "no service %.60s in the simulator (frontend, api, cache, db, payment)",
		         name);
		return -2;
	}
	return sv;
}

static void srv_fault(struct srv *s, struct srv_conn *c, const cJSON *in)
{
	char err[200];
	const char *kind = json_str(in, "kind");
	int k = sim_fault_parse(kind);
	if (k < 0) {
		srv_error(c, 400,
		          "kind must be one of cpu_hog, memory_leak, latency, error_spike, "
		          "cache_failure, db_conn_exhaustion, bad_deploy, traffic_surge");
		return;
	}
	int sv = srv_body_service(in, err, sizeof err);
	if (sv == -2) {
		srv_error(c, 404, err);
		return;
	}
	double sev = json_num(in, "severity", 0.8);
	int id = sim_fault_inject(&s->m, (enum sim_fault_kind)k, sv, sev, err, sizeof err);
	if (id < 0) {
		srv_error(c, 400, err);
		return;
	}
	const struct sim_fault *f = &s->m.faults[s->m.nfaults - 1];
	srv_log_cmd(s, 'f', k, (int)f->service, sev);
	log_info("event=fault id=%d kind=%s service=%s severity=%.2f tick=%lld", id,
	         sim_fault_name(k), sim_service_name(f->service), sev, (long long)s->m.tick);
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_int(o, "id", id);
	json_add_str(o, "kind", sim_fault_name(k));
	json_add_str(o, "service", sim_service_name(f->service));
	json_add_num(o, "severity", sev);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

static void srv_action(struct srv *s, struct srv_conn *c, const cJSON *in)
{
	char err[200], msg[200];
	int a = sim_action_parse(json_str(in, "action"));
	if (a < 0) {
		srv_error(c, 400,
		          "action must be one of restart, scale, clear_cache, limit_traffic, "
		          "unlimit_traffic, rollback, pool, kill_queries, failover");
		return;
	}
	int sv = srv_body_service(in, err, sizeof err);
	if (sv == -1) {
		srv_error(c, 400, "say which service the action is for");
		return;
	}
	if (sv == -2) {
		srv_error(c, 404, err);
		return;
	}
	int64_t arg = 0;
	if (a == SIM_A_SCALE)
		arg = json_int(in, "replicas", 0);
	else if (a == SIM_A_LIMIT_TRAFFIC)
		arg = json_int(in, "percent", 70);
	else if (a == SIM_A_POOL)
		arg = json_int(in, "size", 0);
	if (arg < -1000000 || arg > 1000000)
		arg = -1;
	int delay = sim_action(&s->m, (enum sim_action_kind)a, sv, (int)arg, msg, sizeof msg, err,
	                       sizeof err);
	if (delay < 0) {
		srv_error(c, 409, err);
		return;
	}
	srv_log_cmd(s, 'a', a, sv, (double)arg);
	log_info("event=action action=%s service=%s arg=%lld delay_s=%d tick=%lld",
	         sim_action_name(a), sim_service_name(sv), (long long)arg, delay,
	         (long long)s->m.tick);
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_str(o, "action", sim_action_name(a));
	json_add_str(o, "service", sim_service_name(sv));
	json_add_int(o, "delay_s", delay);
	json_add_str(o, "message", msg);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

static void srv_record(struct srv *s, struct srv_conn *c, const cJSON *in)
{
	const char *a = json_str(in, "action"), *t = json_str(in, "target"),
	           *d = json_str(in, "detail");
	if (!a || !*a || strlen(a) > 60) {
		srv_error(c, 400, "action (1..60 characters) is required");
		return;
	}
	char text[120];
	snprintf(text, sizeof text, "%s%s%.40s%s%.40s", a, t ? " " : "", t ? t : "", d ? ": " : "",
	         d ? d : "");
	sim_note(&s->m, text);
	log_info("event=record text=%s", log_q(text));
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

static void srv_advance(struct srv *s, struct srv_conn *c, const cJSON *in)
{
	if (s->accel > 0.0) {
		srv_error(c, 409, "time runs by itself (--accel > 0); advance needs --accel 0");
		return;
	}
	int64_t n = json_int(in, "seconds", -1);
	if (n < 0 || n > 7 * 86400) {
		srv_error(c, 400, "seconds must be 0..604800");
		return;
	}
	for (int64_t i = 0; i < n; i++)
		sim_step(&s->m);
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

static int srv_history_header(struct srv *s)
{
	struct buf b = {0};
	sim_render_csv_header(&b);
	int rc = fwrite(b.data, 1, b.len, s->hist) == b.len && fflush(s->hist) == 0 ? 0 : -1;
	buf_free(&b);
	return rc;
}

/* A new episode: a fresh model, the clock from tick 0, an empty command log
 * and history (the detector must not mistake the last episode for normal). */
static void srv_reset(struct srv *s, struct srv_conn *c, const cJSON *in)
{
	double seed = json_num(in, "seed", (double)s->m.seed);
	if (!(seed >= 0 && seed <= 9007199254740992.0) || seed != floor(seed)) {
		srv_error(c, 400, "seed must be a whole number from 0 to 2^53");
		return;
	}
	sim_init(&s->m, (uint64_t)seed);
	s->nlog = 0;
	s->log_lost = 0;
	s->t0_ms = time_mono_ms();
	s->base_tick = 0;
	if (s->hist && (fflush(s->hist) != 0 || ftruncate(fileno(s->hist), 0) != 0 ||
	                fseek(s->hist, 0, SEEK_SET) != 0 || srv_history_header(s) < 0))
		log_warn("event=history_reset_failed error=%s", log_q(strerror(errno)));
	log_info("event=reset seed=%llu", (unsigned long long)s->m.seed);
	cJSON *o = json_new_object();
	json_add_bool(o, "ok", 1);
	char sd[32];
	snprintf(sd, sizeof sd, "%llu", (unsigned long long)s->m.seed);
	json_add_str(o, "seed", sd);
	json_add_int(o, "tick", s->m.tick);
	srv_json(c, 200, o);
}

static void srv_log(struct srv *s, struct srv_conn *c)
{
	cJSON *o = json_new_object(), *a = json_new_array();
	char sd[32];
	snprintf(sd, sizeof sd, "%llu", (unsigned long long)s->m.seed);
	json_add_bool(o, "ok", 1);
	json_add_str(o, "seed", sd);
	json_add_int(o, "tick", s->m.tick);
	json_add_bool(o, "complete", !s->log_lost);
	for (int i = 0; i < s->nlog; i++) {
		const struct srv_cmd *l = &s->log[i];
		cJSON *x = json_new_object();
		json_add_int(x, "tick", l->tick);
		if (l->type == 'f') {
			json_add_str(x, "type", "fault");
			json_add_str(x, "kind", sim_fault_name(l->kind));
			json_add_str(x, "service", sim_service_name(l->service));
			json_add_num(x, "severity", l->value);
		} else if (l->type == 'a') {
			json_add_str(x, "type", "action");
			json_add_str(x, "action", sim_action_name(l->kind));
			json_add_str(x, "service", sim_service_name(l->service));
			json_add_int(x, "arg", (int64_t)l->value);
		} else {
			json_add_str(x, "type", "clear");
		}
		cJSON_AddItemToArray(a, x);
	}
	json_add(o, "commands", a);
	srv_json(c, 200, o);
}

static void srv_dispatch(struct srv *s, struct srv_conn *c, const char *method, char *target,
                         const char *body, size_t blen)
{
	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0;
	if (strcmp(target, "/metrics") == 0 && get) {
		srv_metrics(s, c);
		return;
	}
	if (strcmp(target, "/control/state") == 0 && get) {
		srv_state(s, c);
		return;
	}
	if (strcmp(target, "/control/health") == 0 && get) {
		srv_health(s, c, query);
		return;
	}
	if (strcmp(target, "/control/log") == 0 && get) {
		srv_log(s, c);
		return;
	}
	if (strcmp(target, "/") == 0 && get) {
		static const char help[] =
		    "opsbot-sim: GET /metrics, GET /control/state, GET /control/health?service=S,\n"
		    "POST /control/fault {kind,service,severity}, POST /control/clear,\n"
		    "POST /control/action {action,service,...}, POST /control/record,\n"
		    "POST /control/advance {seconds} (with --accel 0),\n"
		    "POST /control/reset {seed}, GET /control/log\n";
		srv_reply(c, 200, "text/plain; charset=utf-8", help, sizeof help - 1);
		return;
	}
	static const char *const posts[] = {"/control/fault",
	                                    "/control/clear",
	                                    "/control/action",
	                                    "/control/record",
	                                    "/control/advance",
	                                    "/control/reset",
	                                    NULL};
	int which = -1;
	for (int i = 0; posts[i]; i++)
		if (strcmp(target, posts[i]) == 0)
			which = i;
	if (which < 0) {
		srv_error(c, 404, "no such path; GET / lists them");
		return;
	}
	if (!post) {
		srv_error(c, 405, "use POST with a JSON object body");
		return;
	}
	cJSON *in = NULL;
	char err[200];
	if (blen == 0) {
		in = json_new_object();
	} else if (json_parse_object(body, blen, &in, err, sizeof err) < 0) {
		char e[260];
		snprintf(e, sizeof e, "body is not a JSON object: %s", err);
		srv_error(c, 400, e);
		return;
	}
	switch (which) {
	case 0:
		srv_fault(s, c, in);
		break;
	case 1: {
		sim_fault_clear_all(&s->m);
		srv_log_cmd(s, 'c', 0, 0, 0.0);
		log_info("event=faults_cleared tick=%lld", (long long)s->m.tick);
		cJSON *o = json_new_object();
		json_add_bool(o, "ok", 1);
		srv_json(c, 200, o);
		break;
	}
	case 2:
		srv_action(s, c, in);
		break;
	case 3:
		srv_record(s, c, in);
		break;
	case 4:
		srv_advance(s, c, in);
		break;
	default:
		srv_reset(s, c, in);
		break;
	}
	cJSON_Delete(in);
}

/*
 * A request is complete when its head and Content-Length bytes of body are
 * in; returns 1 (handled, response in c->out), 0 (need more), or answers an
 * error and returns 1.
 */
static int srv_try_request(struct srv *s, struct srv_conn *c)
{
	c->in[c->inlen] = 0;
	char *end = strstr(c->in, "\r\n\r\n");
	if (!end) {
		if (c->inlen >= SRV_MAX_REQ) {
			srv_error(c, 413, "request head too large");
			return 1;
		}
		return 0;
	}
	size_t head = (size_t)(end - c->in) + 4;
	char method[16], target[2048], version[16];
	if (sscanf(c->in, "%15s %2047s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/') {
		srv_error(c, 400, "not an HTTP/1.x request line");
		return 1;
	}
	size_t clen = 0;
	for (char *h = strstr(c->in, "\r\n"); h && h + 2 < end; h = strstr(h + 2, "\r\n")) {
		char *line = h + 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			char *e;
			errno = 0;
			unsigned long long v = strtoull(line + 15, &e, 10);
			if (errno || v > SRV_MAX_REQ) {
				srv_error(c, 413, "body too large (64 KiB at most)");
				return 1;
			}
			clen = (size_t)v;
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			srv_error(c, 501, "send a Content-Length body, not chunked");
			return 1;
		}
	}
	if (head + clen > SRV_MAX_REQ) {
		srv_error(c, 413, "request too large (64 KiB at most)");
		return 1;
	}
	if (c->inlen < head + clen)
		return 0;
	srv_dispatch(s, c, method, target, c->in + head, clen);
	if (strcmp(method, "HEAD") == 0) {
		char *b = strstr(c->out.data, "\r\n\r\n");
		if (b)
			c->out.len = (size_t)(b - c->out.data) + 4;
	}
	return 1;
}

/* ---- the loop ------------------------------------------------------------------ */

static void srv_close(struct srv *s, int i)
{
	close(s->c[i]->fd);
	buf_free(&s->c[i]->out);
	free(s->c[i]);
	s->c[i] = NULL;
}

static void srv_accept(struct srv *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int i = 0;
		while (i < SRV_MAX_CONNS && s->c[i])
			i++;
		if (i == SRV_MAX_CONNS) {
			static const char busy[] =
			    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
			    "0\r\nConnection: close\r\n\r\n";
			if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL) < 0)
				log_debug("event=busy_reply_failed");
			close(fd);
			continue;
		}
		struct srv_conn *c = xcalloc(1, sizeof *c);
		c->fd = fd;
		c->out.max = 2 << 20;
		c->deadline_ms = time_mono_ms() + SRV_REQ_MS;
		s->c[i] = c;
	}
}

static void srv_io(struct srv *s, int i, short rev)
{
	struct srv_conn *c = s->c[i];
	if (c->out.len == 0 && (rev & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = recv(c->fd, c->in + c->inlen, SRV_MAX_REQ - c->inlen, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			srv_close(s, i);
			return;
		}
		if (n > 0) {
			c->inlen += (size_t)n;
			srv_try_request(s, c);
		}
	}
	if (c->out.len > 0 && (rev & POLLOUT || c->outoff == 0)) {
		ssize_t n =
		    send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			srv_close(s, i);
			return;
		}
		if (n > 0)
			c->outoff += (size_t)n;
		if (c->outoff == c->out.len) {
			shutdown(c->fd, SHUT_WR);
			srv_close(s, i);
		}
	}
}

static void srv_history(struct srv *s, int64_t now_real)
{
	char when[40];
	struct buf b = {.max = 1 << 16};
	time_fmt_iso(now_real, when, sizeof when);
	sim_render_csv_row(&s->m, when, &b);
	if (fwrite(b.data, 1, b.len, s->hist) != b.len || fflush(s->hist) != 0)
		log_warn("event=history_write_failed error=%s", log_q(strerror(errno)));
	buf_free(&b);
}

static void srv_clock(struct srv *s)
{
	if (s->accel <= 0.0)
		return;
	int64_t want =
	    s->base_tick + (int64_t)floor((double)(time_mono_ms() - s->t0_ms) * s->accel / 1000.0);
	for (int n = 0; s->m.tick < want && n < SRV_MAX_STEPS; n++)
		sim_step(&s->m);
}

static int srv_listen(int port, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

static void srv_usage(void)
{
	fprintf(stderr, "usage: opsbot-sim [--port N] [--port-file F] [--seed S] [--accel X]\n"
	                "                  [--history FILE.csv] [--history-every MS]\n");
}

static int srv_num(const char *s, double lo, double hi, double *out)
{
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (errno || e == s || *e || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

struct srv_opts {
	const char *port_file, *hist_path;
	double port, seed, accel, every;
};

/* The options; -1 to go on, else the exit code (help, or a bad option). */
static int srv_args(int argc, char **argv, struct srv_opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			srv_usage();
			return 0;
		} else if (!v) {
			bad = 1;
		} else if (strcmp(a, "--port") == 0) {
			bad = srv_num(v, 0, 65535, &o->port);
		} else if (strcmp(a, "--port-file") == 0) {
			o->port_file = v;
		} else if (strcmp(a, "--seed") == 0) {
			bad = srv_num(v, 0, 9007199254740992.0, &o->seed) ||
			      o->seed != floor(o->seed);
		} else if (strcmp(a, "--accel") == 0) {
			bad = srv_num(v, 0, 10000, &o->accel);
		} else if (strcmp(a, "--history") == 0) {
			o->hist_path = v;
		} else if (strcmp(a, "--history-every") == 0) {
			bad = srv_num(v, 50, 3600000, &o->every);
		} else {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "opsbot-sim: bad or incomplete option %s%s%s\n", a,
			        v ? " " : "", v ? v : "");
			srv_usage();
			return 2;
		}
	}
	return -1;
}

/* The history file and its header, when --history asks for one. */
static int srv_open_history(struct srv *s, const struct srv_opts *o)
{
	if (!o->hist_path)
		return 0;
	s->hist = fopen(o->hist_path, "w");
	if (!s->hist || srv_history_header(s) < 0) {
		log_error("event=history_open_failed path=%s error=%s", log_q(o->hist_path),
		          log_q(strerror(errno)));
		return -1;
	}
	s->hist_every_ms = (int64_t)o->every;
	s->hist_next_ms = time_mono_ms();
	return 0;
}

/* The bound port into port_file (written whole, then renamed), when asked. */
static int srv_write_port(const char *port_file, int bound)
{
	if (!port_file)
		return 0;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", bound) < 0 || fclose(f) != 0 || rename(tmp, port_file)) {
		log_error("event=port_file_failed path=%s", log_q(port_file));
		return -1;
	}
	return 0;
}

/* One turn of the loop: poll the listener and every connection (closing the
 * ones past their deadline), step the model, serve what is ready, and write
 * a history row when one is due.  -1 when poll itself failed. */
static int srv_turn(struct srv *s)
{
	struct pollfd p[SRV_MAX_CONNS + 1];
	int idx[SRV_MAX_CONNS + 1], np = 0;
	p[np] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
	idx[np++] = -1;
	int64_t now = time_mono_ms();
	for (int i = 0; i < SRV_MAX_CONNS; i++) {
		if (!s->c[i])
			continue;
		if (now > s->c[i]->deadline_ms) {
			srv_close(s, i);
			continue;
		}
		p[np] = (struct pollfd){.fd = s->c[i]->fd,
		                        .events = s->c[i]->out.len ? POLLOUT : POLLIN};
		idx[np++] = i;
	}
	int timeout = 50;
	if (s->accel > 0.0 && 1000.0 / s->accel < timeout)
		timeout = (int)fmax(1.0, 1000.0 / s->accel);
	if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
		log_error("event=poll_failed error=%s", log_q(strerror(errno)));
		return -1;
	}
	srv_clock(s);
	for (int k = 0; k < np; k++) {
		if (!p[k].revents)
			continue;
		if (idx[k] < 0)
			srv_accept(s);
		else if (s->c[idx[k]])
			srv_io(s, idx[k], p[k].revents);
	}
	if (s->hist && time_mono_ms() >= s->hist_next_ms) {
		srv_history(s, time_now_ms());
		s->hist_next_ms += s->hist_every_ms;
		if (s->hist_next_ms < time_mono_ms())
			s->hist_next_ms = time_mono_ms() + s->hist_every_ms;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct srv s;
	struct srv_opts o = {.seed = 1, .accel = 1, .every = 1000};
	log_init("opsbot-sim");
	int rc = srv_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	sig_on_stop(srv_on_signal, 0);

	sim_init(&s.m, (uint64_t)o.seed);
	s.accel = o.accel;
	int bound;
	s.lfd = srv_listen((int)o.port, &bound);
	if (s.lfd < 0) {
		log_error("event=listen_failed port=%d error=%s", (int)o.port,
		          log_q(strerror(errno)));
		return 1;
	}
	if (srv_open_history(&s, &o) < 0 || srv_write_port(o.port_file, bound) < 0)
		return 1;
	s.t0_ms = time_mono_ms();
	log_info("event=started port=%d seed=%llu accel=%g history=%s", bound,
	         (unsigned long long)s.m.seed, o.accel, log_q(o.hist_path ? o.hist_path : ""));
	while (!srv_stop && srv_turn(&s) == 0)
		;
	for (int i = 0; i < SRV_MAX_CONNS; i++)
		if (s.c[i])
			srv_close(&s, i);
	close(s.lfd);
	if (s.hist)
		fclose(s.hist);
	log_info("event=stopped tick=%lld", (long long)s.m.tick);
	return 0;
}
