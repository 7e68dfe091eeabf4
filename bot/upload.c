/*
 * upload.c: posts an incident's summary PDF into its chat threads, Slack and
 * Discord (a surface of opsbot-bot named "upload"; bot/surface.h).
 *
 * When opsbot-report finishes a report job, the queue publishes job.finished
 * {kind:"report", result:{pdf, pages, summary}}.  For each such event this
 * surface posts the PDF, with a short text (which incident, page count, where
 * the file is kept on the opsbot host), into the incident's thread on every
 * chat that is configured, the thread that chat's surface recorded in bot.db
 * (state_thread_get with "slack" or "discord").
 *
 * Slack, with the external upload flow:
 *   files.getUploadURLExternal {filename, length} -> {upload_url, file_id}
 *   POST the bytes to upload_url
 *   files.completeUploadExternal {files:[{id, title}], channel_id,
 *                                 thread_ts, initial_comment}
 * The token is SLACK_BOT_TOKEN (needs files:write) and the API base is
 * [slack] api_url, the same as the Slack surface's.
 *
 * Discord, as one multipart/form-data message (bot/discord_upload.c):
 *   POST /channels/{thread}/messages  payload_json {content, nonce,
 *        enforce_nonce, attachments:[{id:0, filename}]} + files[0] (the PDF)
 * The thread id is the incident message's id the Discord surface stored.
 * The token is DISCORD_BOT_TOKEN and the base is [discord] api.  A 429 waits
 * retry_after (route or global) and tries again; a bucket at Remaining 0
 * waits Reset-After.  The buckets are the Discord surface's own (one shared
 * limits registry per base and token, bot/discord_rest.h): a 429 on the
 * upload holds the surface's next post into that thread, and the other way
 * round.  Discord takes
 * files up to 10 MiB (a server without boosts); a larger PDF is refused
 * with 40005 and skipped as below.
 *
 * Delivery: uploads run on this file's own thread, in event order; the
 * surface's seq advances only past events whose uploads finished on every
 * chat (or need none), so a restart offers a pending upload again, and the
 * keys "report-pdf:<incident>:<seq>" (Slack) and
 * "report-pdf-discord:<incident>:<seq>" in bot.db (state_posted_*) keep a
 * finished one from being posted twice; on Discord the nonce "obp<seq>"
 * also makes a retry after a lost answer return the first message.  A PDF
 * that cannot be read, an incident with no thread on that chat once that
 * chat's surface has finished this event's seq (it does not show the
 * incident) or still none after about 15 s, or the chat saying no
 * (missing_scope, 413/40005, 403) is logged and skipped: the summary is still
 * in the thread as text and in the email.
 *
 * Config: [report] chat_upload = yes (default; no turns this off); Slack
 * uploads when [slack] is configured and SLACK_BOT_TOKEN is set, Discord
 * uploads when [discord] is configured (and not enabled = no) and
 * DISCORD_BOT_TOKEN is set.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "config.h"
#include "discord_upload.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "surface.h"
#include "timeutil.h"

#define UP_NAME     "upload"
#define UP_MAX      64         /* uploads waiting */
#define UP_PDF_MAX  (20 << 20) /* bytes of one PDF */
#define UP_TIMEOUT  30000
#define UP_ATTEMPTS 5

struct up_task {
	int64_t seq, incident;
	char *pdf, *comment;
};

struct up {
	struct bot *b;
	int slack; /* post into Slack threads */
	char api[512];
	const char *token;
	struct discord_upload *dc; /* post into Discord threads; NULL: off */
	const char *state_path;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	volatile int quit;
	struct up_task q[UP_MAX];
	int head, n;
	int busy;          /* the thread holds a task */
	int64_t last_seq;  /* the last event offered */
	int64_t done_seq;  /* reported to the bot */
	int64_t up_to_seq; /* every task up to this seq is finished */
};

static int form_add(struct buf *b, const char *k, const char *v)
{
	if (b->len)
		buf_append(b, "&", 1);
	buf_appendf(b, "%s=", k);
	return http_urlencode(v, b);
}

/* One Web API call with a form body: 0 with *reply, -1 transport/HTTP, -2 ok:false. */
static int web(struct up *u, struct http_client *h, const char *method, const struct buf *form,
               cJSON **reply, char *err, size_t errlen)
{
	char url[700], auth[600];
	snprintf(url, sizeof(url), "%s%s", u->api, method);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", u->token);
	const char *hdrs[] = {auth, "Content-Type: application/x-www-form-urlencoded", NULL};
	struct http_request req = {.method = "POST",
	                           .url = url,
	                           .headers = hdrs,
	                           .body = form->data ? form->data : "",
	                           .body_len = form->len,
	                           .timeout_ms = UP_TIMEOUT};
	struct http_response resp = {0};
	*reply = NULL;
	int rc = http_do_retry(h, &req, &HTTP_RETRY_DEFAULT, &resp, err, errlen);
	if (rc == 0 && resp.status != 200) {
		snprintf(err, errlen, "%s: HTTP %ld", method, resp.status);
		rc = -1;
	}
	if (rc == 0 && json_parse_object(resp.body.data, resp.body.len, reply, err, errlen) < 0)
		rc = -1;
	if (rc == 0 && !json_bool(*reply, "ok", 0)) {
		snprintf(err, errlen, "%s: %s", method,
		         json_str(*reply, "error") ? json_str(*reply, "error") : "not ok");
		cJSON_Delete(*reply);
		*reply = NULL;
		rc = -2;
	}
	http_response_free(&resp);
	return rc;
}

/* The PDF's bytes: 0, or -1 (logged) when it cannot be read. */
static int read_pdf(const struct up_task *t, struct buf *pdf)
{
	char err[400];
	*pdf = (struct buf){.max = UP_PDF_MAX};
	if (buf_read_file(pdf, t->pdf, err, sizeof(err)) < 0) {
		log_warn("event=upload_skipped incident=%lld pdf=%s reason=%s",
		         (long long)t->incident, log_q(t->pdf), log_q(err));
		buf_free(pdf);
		return -1;
	}
	return 0;
}

/*
 * No thread for the incident on surface: 0 when that surface has finished
 * every event up to this one (it chose not to show the incident, or gave up
 * on it, so no thread will come; logged), -1 while it may still come.
 */
static int no_thread(struct state *st, const char *surface, const struct up_task *t)
{
	int64_t done = 0;
	if (state_seq_get(st, surface, &done) == 1 && done >= t->seq) {
		log_info("event=upload_skipped incident=%lld surface=%s reason=\"the %s surface "
		         "has no thread for this incident\"",
		         (long long)t->incident, surface, surface);
		return 0;
	}
	log_info("event=upload_waiting incident=%lld surface=%s reason=\"no %s thread for this "
	         "incident yet\"",
	         (long long)t->incident, surface, surface);
	return -1;
}

/* Slack: 0 uploaded (or nothing to do), -1 try again later. */
static int upload_slack(struct up *u, struct state *st, struct http_client *h,
                        const struct up_task *t)
{
	char key[96], ch[64], parent[64], err[400];
	snprintf(key, sizeof(key), "report-pdf:%lld:%lld", (long long)t->incident,
	         (long long)t->seq);
	if (state_posted_get(st, UP_NAME, key, NULL, 0) == 1)
		return 0;
	int have =
	    state_thread_get(st, "slack", t->incident, ch, sizeof(ch), parent, sizeof(parent));
	if (have < 0)
		return -1;
	if (have == 0) /* the Slack surface may not have posted the parent yet */
		return no_thread(st, "slack", t);
	struct buf pdf;
	if (read_pdf(t, &pdf) < 0)
		return 0;
	const char *name = strrchr(t->pdf, '/') ? strrchr(t->pdf, '/') + 1 : t->pdf;
	struct buf f = {0};
	char len[32];
	snprintf(len, sizeof(len), "%zu", pdf.len);
	form_add(&f, "filename", name);
	form_add(&f, "length", len);
	cJSON *r1 = NULL, *r2 = NULL;
	int rc = web(u, h, "files.getUploadURLExternal", &f, &r1, err, sizeof(err));
	const char *url = json_str(r1, "upload_url"), *id = json_str(r1, "file_id");
	if (rc == 0 && (!url || !id)) {
		snprintf(err, sizeof(err), "files.getUploadURLExternal: no upload_url or file_id");
		rc = -2;
	}
	if (rc == 0) {
		const char *hdrs[] = {"Content-Type: application/pdf", NULL};
		struct http_request req = {.method = "POST",
		                           .url = url,
		                           .headers = hdrs,
		                           .body = pdf.data,
		                           .body_len = pdf.len,
		                           .timeout_ms = UP_TIMEOUT};
		struct http_response resp = {0};
		rc = http_do_retry(h, &req, &HTTP_RETRY_DEFAULT, &resp, err, sizeof(err));
		if (rc == 0 && resp.status / 100 != 2) {
			snprintf(err, sizeof(err), "upload: HTTP %ld", resp.status);
			rc = -1;
		}
		http_response_free(&resp);
	}
	if (rc == 0) {
		buf_reset(&f);
		cJSON *files = json_new_array(), *one = json_new_object();
		json_add_str(one, "id", id);
		char title[160];
		snprintf(title, sizeof(title), "Incident %lld summary (PDF)",
		         (long long)t->incident);
		json_add_str(one, "title", title);
		cJSON_AddItemToArray(files, one);
		char *fj = json_print(files);
		cJSON_Delete(files);
		form_add(&f, "files", fj);
		free(fj);
		form_add(&f, "channel_id", ch);
		form_add(&f, "thread_ts", parent);
		form_add(&f, "initial_comment", t->comment);
		rc = web(u, h, "files.completeUploadExternal", &f, &r2, err, sizeof(err));
	}
	if (rc == 0) {
		state_posted_put(st, UP_NAME, key, id);
		log_info("event=pdf_uploaded incident=%lld surface=slack file=%s channel=%s "
		         "thread=%s bytes=%zu",
		         (long long)t->incident, id, ch, parent, pdf.len);
	} else {
		log_warn("event=upload_failed incident=%lld surface=slack error=%s final=%s",
		         (long long)t->incident, log_q(err), rc == -2 ? "yes" : "no");
	}
	cJSON_Delete(r1);
	cJSON_Delete(r2);
	buf_free(&f);
	buf_free(&pdf);
	return rc == -1 ? -1 : 0; /* Slack saying no is final: logged, not retried */
}

/* Discord: 0 posted (or nothing to do), -1 try again later. */
static int upload_discord(struct up *u, struct state *st, struct http_client *h,
                          const struct up_task *t)
{
	char key[96], ch[64], thread[64], err[400];
	snprintf(key, sizeof(key), "report-pdf-discord:%lld:%lld", (long long)t->incident,
	         (long long)t->seq);
	if (state_posted_get(st, UP_NAME, key, NULL, 0) == 1)
		return 0;
	/* the Discord surface records (channel, parent message); the thread id is the parent's */
	int have =
	    state_thread_get(st, "discord", t->incident, ch, sizeof(ch), thread, sizeof(thread));
	if (have < 0)
		return -1;
	if (have == 0)
		return no_thread(st, "discord", t);
	struct buf pdf;
	if (read_pdf(t, &pdf) < 0)
		return 0;
	const char *name = strrchr(t->pdf, '/') ? strrchr(t->pdf, '/') + 1 : t->pdf;
	char nonce[26], mid[64] = "";
	snprintf(nonce, sizeof(nonce), "obp%lld", (long long)t->seq); /* a retry finds the first */
	int64_t stored = -1;
	int rc = discord_upload_post(u->dc, h, thread, t->comment, name, "application/pdf",
	                             pdf.data, pdf.len, nonce, mid, sizeof(mid), &stored, err,
	                             sizeof(err), &u->quit);
	if (rc == DUP_OK) {
		state_posted_put(st, UP_NAME, key, mid);
		log_info("event=pdf_uploaded incident=%lld surface=discord message=%s thread=%s "
		         "bytes=%zu stored=%lld",
		         (long long)t->incident, mid, thread, pdf.len, (long long)stored);
	} else {
		log_warn("event=upload_failed incident=%lld surface=discord error=%s final=%s",
		         (long long)t->incident, log_q(err), rc == DUP_REFUSED ? "yes" : "no");
	}
	buf_free(&pdf);
	return rc == DUP_RETRY ? -1 : 0; /* Discord saying no is final: logged, not retried */
}

/* Every configured chat: 0 when all are finished (or skipped), -1 try again later. */
static int upload_one(struct up *u, struct state *st, struct http_client *h,
                      const struct up_task *t)
{
	int rc = 0;
	if (u->slack && upload_slack(u, st, h, t) < 0)
		rc = -1;
	if (u->dc && upload_discord(u, st, h, t) < 0)
		rc = -1;
	return rc;
}

static void *up_main(void *arg)
{
	struct up *u = arg;
	struct state *st = NULL;
	struct http_client *h = http_client_new();
	char err[300];
	if (state_open(u->state_path, &st, err, sizeof(err)) < 0)
		log_error("event=upload_state_failed error=%s", log_q(err));
	pthread_mutex_lock(&u->mu);
	while (!u->quit) {
		if (!u->n) {
			pthread_cond_wait(&u->cv, &u->mu);
			continue;
		}
		struct up_task t = u->q[u->head];
		u->busy = 1;
		pthread_mutex_unlock(&u->mu);
		int rc = -1;
		for (int a = 0; st && a < UP_ATTEMPTS && rc < 0 && !u->quit; a++) {
			if (a)
				time_sleep_ms(500LL << a, &u->quit); /* 1, 2, 4, 8 s */
			rc = upload_one(u, st, h, &t);
		}
		pthread_mutex_lock(&u->mu);
		u->busy = 0;
		if (rc < 0 && !u->quit)
			log_warn("event=upload_given_up incident=%lld attempts=%d",
			         (long long)t.incident, UP_ATTEMPTS);
		if (u->quit && rc < 0)
			break; /* not finished: the seq stays before it, a restart tries again */
		u->head = (u->head + 1) % UP_MAX;
		u->n--;
		u->up_to_seq = t.seq;
		free(t.pdf);
		free(t.comment);
		bot_wake(u->b);
	}
	pthread_mutex_unlock(&u->mu);
	http_client_free(h);
	state_close(st);
	return NULL;
}

static int up_init(struct bot *b, struct config *cfg, void **priv)
{
	if (!config_bool(cfg, "report", "chat_upload", 1))
		return 0;
	const char *token =
	    config_has_section(cfg, "slack") ? config_secret("SLACK_BOT_TOKEN") : NULL;
	const char *dtoken =
	    config_has_section(cfg, "discord") && config_bool(cfg, "discord", "enabled", 1)
	        ? config_secret("DISCORD_BOT_TOKEN")
	        : NULL;
	if (!token && !dtoken)
		return 0;
	struct up *u = xcalloc(1, sizeof(*u));
	u->b = b;
	u->slack = token != NULL;
	u->token = token;
	u->state_path = b->state_path;
	str_copy(u->api, sizeof(u->api),
	         config_str(cfg, "slack", "api_url", "https://slack.com/api/"));
	if (dtoken)
		u->dc = discord_upload_new(
		    config_str(cfg, "discord", "api", "https://discord.com/api/v10"), dtoken,
		    60000);
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if (pthread_create(&u->th, NULL, up_main, u) != 0) {
		discord_upload_free(u->dc);
		free(u);
		return -1;
	}
	*priv = u;
	return 1;
}

static void up_event(struct bot *b, void *priv, const cJSON *event, int64_t seq)
{
	struct up *u = priv;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(event, "data");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "result");
	const char *name = json_str(event, "name"), *kind = json_str(d, "kind");
	const char *pdf = json_str(res, "pdf");
	pthread_mutex_lock(&u->mu);
	u->last_seq = seq;
	if (name && !strcmp(name, "job.finished") && kind && !strcmp(kind, "report") && pdf &&
	    *pdf) {
		if (u->n < UP_MAX) {
			struct up_task *t = &u->q[(u->head + u->n) % UP_MAX];
			t->seq = seq;
			t->incident = json_int(event, "incident", 0);
			t->pdf = xstrdup(pdf);
			char c[600], st[48] = "";
			int64_t pages = json_int(res, "pages", 0);
			const char *state = json_str(res, "state");
			if (state && (!strcmp(state, "failed") || !strcmp(state, "rejected") ||
			              !strcmp(state, "expired"))) /* resolved goes without saying */
				snprintf(st, sizeof(st), ", %s", state);
			snprintf(c, sizeof(c),
			         "Summary of incident %lld%s (PDF, %lld page%s). The same file is "
			         "kept on the opsbot host at %.300s.",
			         (long long)t->incident, st, (long long)pages,
			         pages == 1 ? "" : "s", pdf);
			t->comment = xstrdup(c);
			u->n++;
			pthread_cond_signal(&u->cv);
		} else {
			log_warn(
			    "event=upload_dropped incident=%lld reason=\"%d uploads already wait\"",
			    (long long)json_int(event, "incident", 0), UP_MAX);
		}
	}
	int idle = !u->n && !u->busy;
	pthread_mutex_unlock(&u->mu);
	if (idle && seq > u->done_seq) {
		u->done_seq = seq;
		bot_surface_done(b, UP_NAME, seq);
	}
}

static void up_tick(struct bot *b, void *priv)
{
	struct up *u = priv;
	pthread_mutex_lock(&u->mu);
	/* everything offered is done when nothing waits; else up to the last finished task */
	int64_t s = !u->n && !u->busy ? u->last_seq : u->up_to_seq;
	pthread_mutex_unlock(&u->mu);
	if (s > u->done_seq) {
		u->done_seq = s;
		bot_surface_done(b, UP_NAME, s);
	}
}

static void up_fini(struct bot *b, void *priv)
{
	(void)b;
	struct up *u = priv;
	pthread_mutex_lock(&u->mu);
	u->quit = 1;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->th, NULL);
	for (int i = 0; i < u->n; i++) {
		free(u->q[(u->head + i) % UP_MAX].pdf);
		free(u->q[(u->head + i) % UP_MAX].comment);
	}
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	discord_upload_free(u->dc);
	free(u);
}

const struct surface upload_surface = {
    .name = UP_NAME,
    .init = up_init,
    .on_event = up_event,
    .tick = up_tick,
    .fini = up_fini,
};
