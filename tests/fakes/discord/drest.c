/*
 * drest.c: fake-discord's REST API (/api/v10) and control API (/_fake/).
 *
 * Error shapes, limits and rate-limit headers follow Discord's documentation
 * (as Discord documents them): {code, message, errors{..._errors}}
 * bodies, 50035 Invalid Form Body, 50006 empty message, 10003/10008/10062
 * unknown channel/message/interaction, 40060 already acknowledged, 160004 a
 * second thread on one message; 429 with retry_after and global.
 */
#include "drest.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dform.h"
#include "dgw.h"
#include "httpd.h"
#include "json.h"
#include "log.h"

#define MAX_SEGS                  12
#define INTERACTION_TOKEN_LIFE_US (15 * 60 * 1000000LL)

/* ---------------------------------------------------------------- helpers */

static void set_header(struct drest_resp *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_header(struct drest_resp *r, const char *name, const char *fmt, ...)
{
	if (r->nheaders >= DREST_MAX_HEADERS)
		return;
	str_copy(r->hname[r->nheaders], sizeof r->hname[0], name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->hval[r->nheaders], sizeof r->hval[0], fmt, ap);
	va_end(ap);
	r->nheaders++;
}

static void reply_json(struct drest_resp *r, int status, cJSON *body)
{
	r->status = status;
	r->content_type = "application/json";
	char *t = json_print(body);
	buf_append(&r->body, t, strlen(t));
	free(t);
	cJSON_Delete(body);
}

static void reply_error(struct drest_resp *r, int status, int code, const char *message)
{
	cJSON *b = json_new_object();
	json_add_str(b, "message", message);
	json_add_int(b, "code", code);
	reply_json(r, status, b);
}

static void reply_204(struct drest_resp *r)
{
	r->status = 204;
	r->content_type = NULL;
}

/* Add {code, message} under errors at a dotted path ("embeds.0.title"). */
static void form_error(cJSON *errors, const char *path, const char *code, const char *message)
{
	cJSON *node = errors;
	char part[64];
	const char *p = path;
	while (*p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof part)
			n = sizeof part - 1;
		memcpy(part, p, n);
		part[n] = 0;
		cJSON *next = cJSON_GetObjectItemCaseSensitive(node, part);
		if (!next) {
			next = json_new_object();
			json_add(node, part, next);
		}
		node = next;
		p += n;
		if (*p == '.')
			p++;
	}
	cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "_errors");
	if (!list) {
		list = json_new_array();
		json_add(node, "_errors", list);
	}
	cJSON *e = json_new_object();
	json_add_str(e, "code", code);
	json_add_str(e, "message", message);
	cJSON_AddItemToArray(list, e);
}

static void reply_form(struct drest_resp *r, cJSON *errors)
{
	cJSON *b = json_new_object();
	json_add_int(b, "code", 50035);
	json_add(b, "errors", errors);
	json_add_str(b, "message", "Invalid Form Body");
	reply_json(r, 400, b);
}

static void max_len_error(cJSON *errors, const char *path, int max)
{
	char msg[64];
	snprintf(msg, sizeof msg, "Must be %d or fewer in length.", max);
	form_error(errors, path, "BASE_TYPE_MAX_LENGTH", msg);
}

static void iso_now(char *out, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%.19s.%06d+00:00", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Split "/a/b/c" into segments (pointers into buf). */
static int split_path(const char *path, char *buf, size_t buflen, char **segs)
{
	str_copy(buf, buflen, path);
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, "/", &save); t && n < MAX_SEGS; t = strtok_r(NULL, "/", &save))
		segs[n++] = t;
	return n;
}

static int seg_is(char **segs, int n, int i, const char *s)
{
	return i < n && strcmp(segs[i], s) == 0;
}

static cJSON *channel_json(struct dstate *st, struct dchan *c);
static cJSON *bot_author(struct dstate *st);

/* Snowflakes compare as numbers: the longer is larger, else by digits. */
static int snow_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int snow_ok(const char *s)
{
	if (!*s || strlen(s) > 20)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* %XX in a path segment (an emoji in a reactions route). */
static void pct_decode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = in; *p && o + 1 < outlen; p++) {
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char h[3] = {p[1], p[2], 0};
			out[o++] = (char)strtol(h, NULL, 16);
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

/* --------------------------------------------------------------- messages */

static cJSON *bot_author(struct dstate *st)
{
	cJSON *a = json_new_object();
	json_add_str(a, "id", st->cfg.app_id);
	json_add_str(a, "username", "opsbot");
	json_add_str(a, "discriminator", "0001");
	json_add(a, "avatar", cJSON_CreateNull());
	json_add_bool(a, "bot", 1);
	json_add(a, "global_name", cJSON_CreateNull());
	json_add_int(a, "public_flags", 0);
	return a;
}

static size_t text_len(const cJSON *o, const char *key)
{
	const char *s = json_str(o, key);
	if (!s)
		return 0;
	/* Discord counts characters; count UTF-8 code points. */
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

static void check_len(cJSON *errors, const cJSON *o, const char *key, const char *path, size_t max,
                      size_t *total)
{
	size_t n = text_len(o, key);
	if (n > max)
		max_len_error(errors, path, (int)max);
	if (total)
		*total += n;
}

static void check_embeds(const cJSON *embeds, cJSON *errors)
{
	if (!cJSON_IsArray(embeds)) {
		form_error(errors, "embeds", "BASE_TYPE_ARRAY", "Must be an array.");
		return;
	}
	if (cJSON_GetArraySize(embeds) > 10)
		max_len_error(errors, "embeds", 10);
	size_t total = 0;
	int i = 0;
	char path[96];
	const cJSON *e;
	cJSON_ArrayForEach(e, embeds)
	{
		snprintf(path, sizeof path, "embeds.%d.title", i);
		check_len(errors, e, "title", path, 256, &total);
		snprintf(path, sizeof path, "embeds.%d.description", i);
		check_len(errors, e, "description", path, 4096, &total);
		const cJSON *footer = cJSON_GetObjectItemCaseSensitive(e, "footer");
		if (footer) {
			snprintf(path, sizeof path, "embeds.%d.footer.text", i);
			check_len(errors, footer, "text", path, 2048, &total);
		}
		const cJSON *author = cJSON_GetObjectItemCaseSensitive(e, "author");
		if (author) {
			snprintf(path, sizeof path, "embeds.%d.author.name", i);
			check_len(errors, author, "name", path, 256, &total);
		}
		const cJSON *fields = cJSON_GetObjectItemCaseSensitive(e, "fields");
		if (cJSON_IsArray(fields)) {
			if (cJSON_GetArraySize(fields) > 25) {
				snprintf(path, sizeof path, "embeds.%d.fields", i);
				max_len_error(errors, path, 25);
			}
			int j = 0;
			const cJSON *f;
			cJSON_ArrayForEach(f, fields)
			{
				snprintf(path, sizeof path, "embeds.%d.fields.%d.name", i, j);
				if (!json_str(f, "name"))
					form_error(errors, path, "BASE_TYPE_REQUIRED",
					           "This field is required");
				check_len(errors, f, "name", path, 256, &total);
				snprintf(path, sizeof path, "embeds.%d.fields.%d.value", i, j);
				if (!json_str(f, "value"))
					form_error(errors, path, "BASE_TYPE_REQUIRED",
					           "This field is required");
				check_len(errors, f, "value", path, 1024, &total);
				j++;
			}
		}
		i++;
	}
	if (total > 6000)
		form_error(errors, "embeds", "MAX_EMBED_SIZE_EXCEEDED",
		           "Embed size exceeds maximum size of 6000");
}

static void check_components(const cJSON *comps, cJSON *errors)
{
	if (!cJSON_IsArray(comps)) {
		form_error(errors, "components", "BASE_TYPE_ARRAY", "Must be an array.");
		return;
	}
	if (cJSON_GetArraySize(comps) > 5)
		max_len_error(errors, "components", 5);
	const char *ids[32];
	int nids = 0;
	int i = 0;
	char path[96];
	const cJSON *row;
	cJSON_ArrayForEach(row, comps)
	{
		if (json_int(row, "type", 0) != 1) {
			snprintf(path, sizeof path, "components.%d.type", i);
			form_error(errors, path, "UNION_TYPE_CHOICES",
			           "Value of field \"type\" must be one of (1,).");
			i++;
			continue;
		}
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(row, "components");
		snprintf(path, sizeof path, "components.%d.components", i);
		if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) < 1) {
			form_error(errors, path, "BASE_TYPE_MIN_LENGTH",
			           "Must be 1 or more in length.");
			i++;
			continue;
		}
		if (cJSON_GetArraySize(items) > 5)
			max_len_error(errors, path, 5);
		int j = 0;
		const cJSON *b;
		cJSON_ArrayForEach(b, items)
		{
			int type = (int)json_int(b, "type", 0);
			int style = (int)json_int(b, "style", 0);
			if (type != 2) {
				j++;
				continue; /* selects etc. are accepted as they come */
			}
			snprintf(path, sizeof path, "components.%d.components.%d.style", i, j);
			if (style < 1 || style > 6)
				form_error(errors, path, "BASE_TYPE_CHOICES",
				           "Value must be one of {1, 2, 3, 4, 5, 6}.");
			snprintf(path, sizeof path, "components.%d.components.%d.label", i, j);
			check_len(errors, b, "label", path, 80, NULL);
			snprintf(path, sizeof path, "components.%d.components.%d.custom_id", i, j);
			const char *cid = json_str(b, "custom_id");
			if (style == 5) {
				snprintf(path, sizeof path, "components.%d.components.%d.url", i,
				         j);
				if (!json_str(b, "url"))
					form_error(errors, path, "BASE_TYPE_REQUIRED",
					           "This field is required");
			} else if (style >= 1 && style <= 4) {
				if (!cid || !*cid)
					form_error(errors, path, "BASE_TYPE_REQUIRED",
					           "This field is required");
				else if (text_len(b, "custom_id") > 100)
					max_len_error(errors, path, 100);
				else {
					for (int k = 0; k < nids; k++)
						if (strcmp(ids[k], cid) == 0)
							form_error(errors, path,
							           "COMPONENT_CUSTOM_ID_DUPLICATED",
							           "Component custom id cannot be "
							           "duplicated");
					if (nids < 32)
						ids[nids++] = cid;
				}
			}
			j++;
		}
		i++;
	}
}

/*
 * Check a message body (create, edit, callback data).  0 when valid;
 * otherwise the error reply is written to r.  need_body: refuse an empty one.
 */
static int check_message(const cJSON *m, int need_body, struct drest_resp *r)
{
	cJSON *errors = json_new_object();
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
	const cJSON *embeds = cJSON_GetObjectItemCaseSensitive(m, "embeds");
	const cJSON *comps = cJSON_GetObjectItemCaseSensitive(m, "components");
	if (content && !cJSON_IsString(content) && !cJSON_IsNull(content))
		form_error(errors, "content", "BASE_TYPE_STRING", "Must be a string.");
	if (cJSON_IsString(content) && text_len(m, "content") > 2000)
		max_len_error(errors, "content", 2000);
	if (embeds && !cJSON_IsNull(embeds))
		check_embeds(embeds, errors);
	if (comps && !cJSON_IsNull(comps))
		check_components(comps, errors);
	const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(m, "nonce");
	if (cJSON_IsString(nonce) && strlen(nonce->valuestring) > 25)
		max_len_error(errors, "nonce", 25);
	if (errors->child) {
		reply_form(r, errors);
		return -1;
	}
	cJSON_Delete(errors);
	int has_content = cJSON_IsString(content) && content->valuestring[0];
	int has_embeds = cJSON_IsArray(embeds) && cJSON_GetArraySize(embeds) > 0;
	int has_comps = cJSON_IsArray(comps) && cJSON_GetArraySize(comps) > 0;
	if (need_body && !has_content && !has_embeds && !has_comps) {
		reply_error(r, 400, 50006, "Cannot send an empty message");
		return -1;
	}
	return 0;
}

static cJSON *message_new(struct dstate *st, struct dchan *c, const char *id, const cJSON *in,
                          int type, int flags)
{
	char ts[48];
	iso_now(ts, sizeof ts);
	cJSON *m = json_new_object();
	json_add_int(m, "type", type);
	const char *content = json_str(in, "content");
	json_add_str(m, "content", content ? content : "");
	json_add(m, "mentions", json_new_array());
	json_add(m, "mention_roles", json_new_array());
	json_add(m, "attachments", json_new_array());
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(in, "embeds");
	cJSON *embeds = json_new_array();
	const cJSON *x;
	if (cJSON_IsArray(e)) {
		cJSON_ArrayForEach(x, e)
		{
			cJSON *ed = json_dup(x);
			if (!cJSON_GetObjectItemCaseSensitive(ed, "type"))
				json_add_str(ed, "type", "rich");
			cJSON_AddItemToArray(embeds, ed);
		}
	}
	json_add(m, "embeds", embeds);
	json_add_str(m, "timestamp", ts);
	json_add(m, "edited_timestamp", cJSON_CreateNull());
	json_add_int(m, "flags", flags);
	const cJSON *comps = cJSON_GetObjectItemCaseSensitive(in, "components");
	json_add(m, "components", cJSON_IsArray(comps) ? json_dup(comps) : json_new_array());
	json_add_str(m, "id", id);
	json_add_str(m, "channel_id", c->id);
	json_add(m, "author", bot_author(st));
	json_add_bool(m, "pinned", 0);
	json_add_bool(m, "mention_everyone", 0);
	json_add_bool(m, "tts", 0);
	const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(in, "nonce");
	if (nonce)
		json_add(m, "nonce", json_dup(nonce));
	if (c->type == 11) {
		/* A message in a thread says where; the thread's position counts up. */
		json_add_int(m, "position", c->nmsgs);
	}
	return m;
}

static void message_edit(cJSON *m, const cJSON *in)
{
	static const char *const keys[] = {"content", "embeds", "components", "flags", NULL};
	for (int i = 0; keys[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, keys[i]);
		if (!v)
			continue;
		cJSON *nv = cJSON_IsNull(v)
		                ? (strcmp(keys[i], "content") == 0
		                       ? cJSON_CreateString("")
		                       : (strcmp(keys[i], "flags") == 0 ? cJSON_CreateNumber(0)
		                                                        : json_new_array()))
		                : json_dup(v);
		if (strcmp(keys[i], "flags") == 0) {
			/* Only SUPPRESS_EMBEDS may change by edit; keep the rest. */
			int old = (int)json_int(m, "flags", 0);
			int want = (int)json_int(in, "flags", 0);
			cJSON_Delete(nv);
			nv = cJSON_CreateNumber((old & ~4) | (want & 4));
		}
		cJSON_ReplaceItemInObjectCaseSensitive(m, keys[i], nv);
	}
	char ts[48];
	iso_now(ts, sizeof ts);
	cJSON_ReplaceItemInObjectCaseSensitive(m, "edited_timestamp", cJSON_CreateString(ts));
}

/* A new message in c; atts (taken, may be NULL) becomes its attachments. */
static struct dmsg *post_message_with(struct dstate *st, struct dchan *c, const cJSON *in, int type,
                                      int flags, cJSON *atts)
{
	char id[DSTATE_ID_LEN];
	dstate_snowflake(st, id);
	cJSON *m = message_new(st, c, id, in, type, flags);
	if (atts)
		cJSON_ReplaceItemInObjectCaseSensitive(m, "attachments", atts);
	struct dmsg *dm = dstate_msg_add(c, id, m);
	if (!(flags & 64)) {
		cJSON *ev = json_dup(m);
		json_add_str(ev, "guild_id", st->cfg.guild_id);
		dstate_dispatch(st, "MESSAGE_CREATE", ev, DINTENT_GUILD_MESSAGES);
		cJSON_Delete(ev);
	}
	return dm;
}

static struct dmsg *post_message(struct dstate *st, struct dchan *c, const cJSON *in, int type,
                                 int flags)
{
	return post_message_with(st, c, in, type, flags, NULL);
}

static void dispatch_update(struct dstate *st, const cJSON *m)
{
	cJSON *ev = json_dup(m);
	json_add_str(ev, "guild_id", st->cfg.guild_id);
	dstate_dispatch(st, "MESSAGE_UPDATE", ev, DINTENT_GUILD_MESSAGES);
	cJSON_Delete(ev);
}

static cJSON *parse_body(const struct drest_req *req, struct drest_resp *r)
{
	if (!req->content_type || strncmp(req->content_type, "application/json", 16) != 0) {
		cJSON *errors = json_new_object();
		form_error(errors, "_misc", "CONTENT_TYPE_INVALID",
		           "Expected \"Content-Type\" header to be one of {'application/json', "
		           "'application/x-www-form-urlencoded', 'multipart/form-data'}.");
		reply_form(r, errors);
		return NULL;
	}
	cJSON *b = NULL;
	char err[128];
	if (json_parse_object(req->body ? req->body : "", req->body_len, &b, err, sizeof err) < 0) {
		reply_error(r, 400, 50109, "The request body contains invalid JSON.");
		return NULL;
	}
	return b;
}

/* ------------------------------------------------------------ file uploads */

/*
 * Message creation with files (multipart/form-data): a payload_json part
 * (or a plain `content` part) and files[n] parts.  payload_json's
 * attachments[{id:n, filename?, description?}] refer to files[n] by n and
 * may rename a file.  Limits: 10 files, 10 MiB each (a guild without
 * boosts); a larger file gets 413 with 40005, like a request over 25 MiB
 * (main.c).  A broken multipart body gets 50035 with the reason under
 * errors._misc; a reference to a file that was not sent gets 50035 under
 * attachments.N (the stand-in's wording).
 */
#define UPLOAD_FILES_MAX 10
#define UPLOAD_FILE_MAX  (10u << 20)

struct upfile {
	const struct dform_part *part;
	int index;
	char id[DSTATE_ID_LEN];
	char filename[256];
	const char *description;
};

/* Discord keeps [A-Za-z0-9._-] of a filename and turns the rest into '_'. */
static void safe_filename(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	for (; *in && n + 1 < outlen; in++)
		out[n++] = (isalnum((unsigned char)*in) || *in == '.' || *in == '-' || *in == '_')
		               ? *in
		               : '_';
	out[n] = 0;
	if (!n)
		str_copy(out, outlen, "unknown");
}

static const char *guess_type(const char *filename)
{
	const char *dot = strrchr(filename, '.');
	if (!dot)
		return "application/octet-stream";
	if (strcasecmp(dot, ".pdf") == 0)
		return "application/pdf";
	if (strcasecmp(dot, ".png") == 0)
		return "image/png";
	if (strcasecmp(dot, ".txt") == 0)
		return "text/plain; charset=utf-8";
	if (strcasecmp(dot, ".json") == 0)
		return "application/json";
	return "application/octet-stream";
}

/* An attachment id in payload_json: a number or a decimal string; -1 otherwise. */
static int64_t att_ref(const cJSON *a)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
	if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 1e9)
		return (int64_t)id->valuedouble;
	if (cJSON_IsString(id) && id->valuestring[0] &&
	    strspn(id->valuestring, "0123456789") == strlen(id->valuestring) &&
	    strlen(id->valuestring) < 10)
		return strtoll(id->valuestring, NULL, 10);
	return -1;
}

/*
 * Read a multipart message body.  Returns the payload (caller frees) with
 * files[] filled; NULL when the reply (an error) is already written.
 */
static cJSON *multipart_body(struct dstate *st, const struct drest_req *req, struct dform *f,
                             struct upfile *files, int *nfiles, struct drest_resp *r)
{
	char err[160];
	*nfiles = 0;
	if (dform_parse(req->content_type, req->body, req->body_len, f, err, sizeof err) < 0) {
		cJSON *errors = json_new_object();
		form_error(errors, "_misc", "MULTIPART_BODY_INVALID", err);
		reply_form(r, errors);
		return NULL;
	}
	cJSON *b = NULL;
	const struct dform_part *pj = dform_get(f, "payload_json");
	if (pj) {
		if (json_parse_object(pj->data, pj->len, &b, err, sizeof err) < 0) {
			reply_error(r, 400, 50109, "The request body contains invalid JSON.");
			return NULL;
		}
	} else {
		b = json_new_object();
		const struct dform_part *c = dform_get(f, "content");
		if (c) {
			char *t = xstrndup(c->data, c->len);
			json_add_str(b, "content", t);
			free(t);
		}
	}
	cJSON *errors = json_new_object();
	for (int i = 0; i < f->nparts; i++) {
		const struct dform_part *p = &f->parts[i];
		int n = dform_file_index(p->name);
		if (n < 0)
			continue; /* payload_json, content, or a field Discord ignores */
		if (p->len > (st->file_max ? st->file_max : UPLOAD_FILE_MAX)) {
			cJSON_Delete(errors);
			cJSON_Delete(b);
			reply_error(r, 413, 40005, "Request entity too large");
			return NULL;
		}
		if (*nfiles == UPLOAD_FILES_MAX) {
			char m[64];
			snprintf(m, sizeof m, "Must be %d or fewer in length.", UPLOAD_FILES_MAX);
			form_error(errors, "files", "BASE_TYPE_MAX_LENGTH", m);
			break;
		}
		int dup = 0;
		for (int k = 0; k < *nfiles; k++)
			dup |= files[k].index == n;
		if (dup || !p->has_filename || !p->filename[0]) {
			form_error(errors, p->name, dup ? "DUPLICATE_FILE" : "BASE_TYPE_REQUIRED",
			           dup ? "This file index is used twice."
			               : "A file part needs a filename.");
			continue;
		}
		struct upfile *u = &files[(*nfiles)++];
		memset(u, 0, sizeof *u);
		u->part = p;
		u->index = n;
		dstate_snowflake(st, u->id);
		safe_filename(p->filename, u->filename, sizeof u->filename);
	}
	const cJSON *atts = cJSON_GetObjectItemCaseSensitive(b, "attachments");
	if (atts && !cJSON_IsArray(atts) && !cJSON_IsNull(atts))
		form_error(errors, "attachments", "BASE_TYPE_ARRAY", "Must be an array.");
	int ai = 0;
	const cJSON *a, *alist = cJSON_IsArray(atts) ? atts : NULL;
	cJSON_ArrayForEach(a, alist)
	{
		char path[48];
		snprintf(path, sizeof path, "attachments.%d", ai++);
		int64_t ref = att_ref(a);
		struct upfile *u = NULL;
		for (int k = 0; k < *nfiles; k++)
			if (files[k].index == ref)
				u = &files[k];
		if (!u) {
			form_error(errors, path, "ATTACHMENT_NOT_FOUND",
			           "Attachment data not found");
			continue;
		}
		const char *fn = json_str(a, "filename");
		if (fn && *fn)
			safe_filename(fn, u->filename, sizeof u->filename);
		const char *desc = json_str(a, "description");
		if (desc && strlen(desc) > 1024) {
			char dp[64];
			snprintf(dp, sizeof dp, "%s.description", path);
			max_len_error(errors, dp, 1024);
		}
		u->description = desc;
	}
	if (errors->child) {
		cJSON_Delete(b);
		reply_form(r, errors);
		return NULL;
	}
	cJSON_Delete(errors);
	return b;
}

/* The attachment objects of a new message (what REST returns). */
static cJSON *attachments_json(struct dstate *st, const struct upfile *files, int nfiles)
{
	char base[160];
	snprintf(base, sizeof base, "http%s",
	         strncmp(st->base_ws, "ws", 2) == 0 ? st->base_ws + 2 : st->base_ws);
	cJSON *arr = json_new_array();
	for (int i = 0; i < nfiles; i++) {
		const struct upfile *u = &files[i];
		cJSON *o = json_new_object();
		json_add_str(o, "id", u->id);
		json_add_str(o, "filename", u->filename);
		if (u->description)
			json_add_str(o, "description", u->description);
		json_add_str(o, "content_type",
		             u->part->ctype[0] ? u->part->ctype : guess_type(u->filename));
		json_add_int(o, "size", (int64_t)u->part->len);
		char url[600];
		snprintf(url, sizeof url, "%s/_fake/attachments/%s/%s", base, u->id, u->filename);
		json_add_str(o, "url", url);
		json_add_str(o, "proxy_url", url);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* ----------------------------------------------------------- rate limits */

static unsigned long fnv1a(const char *s)
{
	unsigned long h = 1469598103934665603UL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211UL;
	}
	return h;
}

/*
 * The bucket key keeps the route's major parameter (channel, guild,
 * webhook) and replaces every other id with ":id".
 */
static void route_key(const char *method, char **segs, int n, char *key, size_t keylen, char *tmpl,
                      size_t tmpllen)
{
	struct buf k = {.max = 512}, t = {.max = 512};
	buf_appendf(&k, "%s ", method);
	buf_appendf(&t, "%s ", method);
	for (int i = 0; i < n; i++) {
		int major =
		    i == 1 && (strcmp(segs[0], "channels") == 0 || strcmp(segs[0], "guilds") == 0 ||
		               strcmp(segs[0], "webhooks") == 0);
		int major_tok = i == 2 && strcmp(segs[0], "webhooks") == 0;
		int isid = isdigit((unsigned char)segs[i][0]) ||
		           (i == 2 && strcmp(segs[0], "webhooks") == 0) ||
		           (i == 2 && strcmp(segs[0], "interactions") == 0);
		buf_appendf(&t, "/%s", isid ? ":id" : segs[i]);
		buf_appendf(&k, "/%s", isid && !major && !major_tok ? ":id" : segs[i]);
	}
	str_copy(key, keylen, k.data ? k.data : method);
	str_copy(tmpl, tmpllen, t.data ? t.data : method);
	buf_free(&k);
	buf_free(&t);
}

static void reply_429(struct dstate *st, struct drest_resp *r, int global, const char *hash,
                      double retry_after)
{
	(void)st;
	set_header(r, "Retry-After", "%d", (int)ceil(retry_after));
	if (global) {
		set_header(r, "X-RateLimit-Global", "true");
		set_header(r, "X-RateLimit-Scope", "global");
	} else {
		set_header(r, "X-RateLimit-Limit", "%d", st->cfg.bucket_limit);
		set_header(r, "X-RateLimit-Remaining", "0");
		set_header(r, "X-RateLimit-Reset", "%.3f", wall_s() + retry_after);
		set_header(r, "X-RateLimit-Reset-After", "%.3f", retry_after);
		set_header(r, "X-RateLimit-Bucket", "%s", hash);
		set_header(r, "X-RateLimit-Scope", "user");
	}
	cJSON *b = json_new_object();
	json_add_str(b, "message", "You are being rate limited.");
	json_add_num(b, "retry_after", retry_after);
	json_add_bool(b, "global", global);
	reply_json(r, 429, b);
}

/* 0 to go on (headers set), -1 when a 429 was written. */
static int rate_limit(struct dstate *st, const struct drest_req *req, char **segs, int n,
                      struct drest_resp *r)
{
	char key[160], tmpl[160];
	route_key(req->method, segs, n, key, sizeof key, tmpl, sizeof tmpl);
	char hash[17];
	snprintf(hash, sizeof hash, "%016lx", fnv1a(tmpl));
	int exempt =
	    n > 0 && (strcmp(segs[0], "interactions") == 0 || strcmp(segs[0], "webhooks") == 0);

	if (st->force_global_n > 0 && !exempt) {
		st->force_global_n--;
		reply_429(st, r, 1, hash, st->force_retry_after);
		return -1;
	}
	if (st->force_route_n > 0 &&
	    (!st->force_route_match[0] || strstr(req->path, st->force_route_match)) &&
	    (!st->force_multipart || dform_is_multipart(req->content_type))) {
		st->force_route_n--;
		reply_429(st, r, 0, hash, st->force_retry_after);
		return -1;
	}
	int64_t now = dstate_now_us();
	if (!exempt) {
		if (now - st->global_window_us >= 1000000) {
			st->global_window_us = now;
			st->global_used = 0;
		}
		if (st->global_used >= st->cfg.global_limit) {
			double left = (1000000 - (now - st->global_window_us)) / 1e6;
			reply_429(st, r, 1, hash, left);
			return -1;
		}
	}
	struct dbucket *b = NULL;
	for (struct dbucket *x = st->buckets; x; x = x->next)
		if (strcmp(x->key, key) == 0)
			b = x;
	if (!b) {
		b = xcalloc(1, sizeof *b);
		str_copy(b->key, sizeof b->key, key);
		str_copy(b->hash, sizeof b->hash, hash);
		b->window_start_us = now;
		b->next = st->buckets;
		st->buckets = b;
	}
	int64_t win = (int64_t)st->cfg.bucket_window_ms * 1000;
	if (now - b->window_start_us >= win) {
		b->window_start_us = now;
		b->used = 0;
	}
	double reset_after = (win - (now - b->window_start_us)) / 1e6;
	if (b->used >= st->cfg.bucket_limit) {
		reply_429(st, r, 0, hash, reset_after);
		return -1;
	}
	b->used++;
	if (!exempt)
		st->global_used++;
	set_header(r, "X-RateLimit-Limit", "%d", st->cfg.bucket_limit);
	set_header(r, "X-RateLimit-Remaining", "%d", st->cfg.bucket_limit - b->used);
	set_header(r, "X-RateLimit-Reset", "%.3f", wall_s() + reset_after);
	set_header(r, "X-RateLimit-Reset-After", "%.3f", reset_after);
	set_header(r, "X-RateLimit-Bucket", "%s", hash);
	return 0;
}

/* ---------------------------------------------------------------- commands */

static int name_ok(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80) {
			if ((*p & 0xc0) != 0x80)
				n++;
			continue; /* letters of other scripts */
		}
		if (!(islower(*p) || isdigit(*p) || *p == '-' || *p == '_' || *p == '\''))
			return 0;
		n++;
	}
	return n >= 1 && n <= 32;
}

static void check_options(const cJSON *opts, const char *prefix, cJSON *errors, int depth)
{
	char path[128];
	if (!cJSON_IsArray(opts))
		return;
	if (cJSON_GetArraySize(opts) > 25) {
		snprintf(path, sizeof path, "%s", prefix);
		max_len_error(errors, path, 25);
	}
	int i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, opts)
	{
		const char *name = json_str(o, "name");
		snprintf(path, sizeof path, "%s.%d.name", prefix, i);
		if (!name || !name_ok(name))
			form_error(errors, path, "APPLICATION_COMMAND_INVALID_NAME",
			           "Command name is invalid");
		snprintf(path, sizeof path, "%s.%d.description", prefix, i);
		size_t dl = text_len(o, "description");
		if (dl < 1 || dl > 100)
			form_error(errors, path, "BASE_TYPE_BAD_LENGTH",
			           "Must be between 1 and 100 in length.");
		int64_t type = json_int(o, "type", 0);
		snprintf(path, sizeof path, "%s.%d.type", prefix, i);
		if (type < 1 || type > 11)
			form_error(errors, path, "BASE_TYPE_CHOICES",
			           "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.");
		if (depth < 2) {
			snprintf(path, sizeof path, "%s.%d.options", prefix, i);
			check_options(cJSON_GetObjectItemCaseSensitive(o, "options"), path, errors,
			              depth + 1);
		}
		i++;
	}
}

static void put_commands(struct dstate *st, const struct drest_req *req, int guild,
                         struct drest_resp *r)
{
	cJSON *list = NULL;
	char err[128];
	if (json_parse(req->body ? req->body : "", req->body_len, &list, err, sizeof err) < 0 ||
	    !cJSON_IsArray(list)) {
		cJSON_Delete(list);
		reply_error(r, 400, 50109, "The request body contains invalid JSON.");
		return;
	}
	cJSON *errors = json_new_object();
	char path[64];
	int i = 0;
	const cJSON *c;
	if (cJSON_GetArraySize(list) > 100)
		max_len_error(errors, "_misc", 100);
	cJSON_ArrayForEach(c, list)
	{
		const char *name = json_str(c, "name");
		int64_t type = json_int(c, "type", 1);
		snprintf(path, sizeof path, "%d.name", i);
		if (!name || !name_ok(name))
			form_error(errors, path, "APPLICATION_COMMAND_INVALID_NAME",
			           "Command name is invalid");
		if (type == 1) {
			size_t dl = text_len(c, "description");
			snprintf(path, sizeof path, "%d.description", i);
			if (dl < 1 || dl > 100)
				form_error(errors, path, "BASE_TYPE_BAD_LENGTH",
				           "Must be between 1 and 100 in length.");
		}
		snprintf(path, sizeof path, "%d.options", i);
		check_options(cJSON_GetObjectItemCaseSensitive(c, "options"), path, errors, 0);
		i++;
	}
	if (errors->child) {
		cJSON_Delete(list);
		reply_form(r, errors);
		return;
	}
	cJSON_Delete(errors);
	cJSON *out = json_new_array();
	cJSON_ArrayForEach(c, list)
	{
		cJSON *o = json_dup(c);
		char id[DSTATE_ID_LEN];
		dstate_snowflake(st, id);
		json_add_str(o, "id", id);
		json_add_str(o, "application_id", st->cfg.app_id);
		json_add_str(o, "version", id);
		if (!cJSON_GetObjectItemCaseSensitive(o, "type"))
			json_add_int(o, "type", 1);
		if (guild)
			json_add_str(o, "guild_id", st->cfg.guild_id);
		json_add(o, "default_member_permissions", cJSON_CreateNull());
		json_add_bool(o, "nsfw", 0);
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(list);
	cJSON **slot = guild ? &st->guild_commands : &st->global_commands;
	cJSON_Delete(*slot);
	*slot = json_dup(out);
	reply_json(r, 200, out);
}

/* ------------------------------------------------------------ interactions */

/* A MODAL callback's data: custom_id 1-100, title 1-45, 1-5 rows. */
static int check_modal(const cJSON *data, struct drest_resp *r)
{
	cJSON *errors = json_new_object();
	size_t n = text_len(data, "custom_id");
	if (!json_str(data, "custom_id"))
		form_error(errors, "data.custom_id", "BASE_TYPE_REQUIRED",
		           "This field is required");
	else if (n < 1 || n > 100)
		form_error(errors, "data.custom_id", "BASE_TYPE_BAD_LENGTH",
		           "Must be between 1 and 100 in length.");
	n = text_len(data, "title");
	if (!json_str(data, "title"))
		form_error(errors, "data.title", "BASE_TYPE_REQUIRED", "This field is required");
	else if (n < 1 || n > 45)
		form_error(errors, "data.title", "BASE_TYPE_BAD_LENGTH",
		           "Must be between 1 and 45 in length.");
	const cJSON *comps = cJSON_GetObjectItemCaseSensitive(data, "components");
	if (!cJSON_IsArray(comps) || cJSON_GetArraySize(comps) < 1 || cJSON_GetArraySize(comps) > 5)
		form_error(errors, "data.components", "BASE_TYPE_BAD_LENGTH",
		           "Must be between 1 and 5 in length.");
	if (errors->child) {
		reply_form(r, errors);
		return -1;
	}
	cJSON_Delete(errors);
	return 0;
}

static void callback(struct dstate *st, const struct drest_req *req, const char *iid,
                     const char *token, struct drest_resp *r)
{
	struct dinter *in = dstate_inter(st, iid);
	int64_t now = dstate_now_us();
	if (!in || strcmp(in->token, token) != 0) {
		reply_error(r, 404, 10062, "Unknown interaction");
		return;
	}
	if (in->callback_us) {
		in->second_callbacks++;
		reply_error(r, 400, 40060, "Interaction has already been acknowledged.");
		return;
	}
	if (now - in->created_us > (int64_t)st->cfg.interaction_deadline_ms * 1000) {
		in->late_callbacks++;
		reply_error(r, 404, 10062, "Unknown interaction");
		return;
	}
	cJSON *b = parse_body(req, r);
	if (!b)
		return;
	int type = (int)json_int(b, "type", 0);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(b, "data");
	cJSON *errors = NULL;
	if (type != 1 && type != 4 && type != 5 && type != 6 && type != 7 && type != 8 &&
	    type != 9 && type != 12) {
		errors = json_new_object();
		form_error(errors, "type", "BASE_TYPE_CHOICES",
		           "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.");
	} else if ((type == 6 || type == 7) && in->type != 3 &&
	           !(in->type == 5 && in->message_id[0])) {
		/* updates answer a component, or a modal opened from one */
		errors = json_new_object();
		form_error(errors, "type", "INTERACTION_RESPONSE_TYPE_INVALID",
		           "Interaction response type is not valid for this interaction.");
	} else if (type == 9 && in->type == 5) {
		/* a modal submit cannot be answered with another modal */
		errors = json_new_object();
		form_error(errors, "type", "INTERACTION_RESPONSE_TYPE_INVALID",
		           "Interaction response type is not valid for this interaction.");
	} else if (type == 1 || type == 8) {
		errors = json_new_object();
		form_error(errors, "type", "INTERACTION_RESPONSE_TYPE_INVALID",
		           "Interaction response type is not valid for this interaction.");
	}
	if (errors) {
		cJSON_Delete(b);
		reply_form(r, errors);
		return;
	}
	if (type == 5 && data && (json_int(data, "flags", 0) & ~64)) {
		errors = json_new_object();
		form_error(errors, "data.flags", "INTERACTION_RESPONSE_FLAGS_INVALID",
		           "A deferred response may only carry EPHEMERAL.");
		cJSON_Delete(b);
		reply_form(r, errors);
		return;
	}
	if (type == 9 && check_modal(data, r) < 0) {
		cJSON_Delete(b);
		return;
	}
	if ((type == 4 || type == 7) && check_message(data ? data : b, type == 4, r) < 0) {
		cJSON_Delete(b);
		return;
	}
	struct dchan *c = dstate_chan(st, in->channel_id);
	struct dmsg *made = NULL;
	if (type == 4 && c)
		made = post_message(st, c, data, in->type == 2 ? 20 : 19,
		                    (int)(json_int(data, "flags", 0) & (64 | 4 | 4096)));
	else if (type == 5 && c) {
		cJSON *empty = json_new_object();
		made = post_message(st, c, empty, in->type == 2 ? 20 : 19,
		                    128 | (int)(data ? json_int(data, "flags", 0) & 64 : 0));
		cJSON_Delete(empty);
	} else if (type == 7) {
		struct dmsg *m = dstate_msg(st, in->channel_id, in->message_id);
		if (m && data) {
			message_edit(m->obj, data);
			dispatch_update(st, m->obj);
		}
	}
	if (made)
		str_copy(in->original_id, sizeof in->original_id, made->id);
	in->callback_us = now;
	in->callback_type = type;
	cJSON_Delete(b);
	if (strstr(req->query ? req->query : "", "with_response=true")) {
		cJSON *o = json_new_object();
		cJSON *i = json_new_object();
		json_add_str(i, "id", in->id);
		json_add_int(i, "type", in->type);
		json_add(i, "activity_instance_id", cJSON_CreateNull());
		json_add(i, "response_message_id",
		         made ? cJSON_CreateString(made->id) : cJSON_CreateNull());
		json_add_bool(i, "response_message_loading", type == 5);
		json_add_bool(i, "response_message_ephemeral",
		              made && (json_int(made->obj, "flags", 0) & 64));
		json_add(o, "interaction", i);
		cJSON *res = json_new_object();
		json_add_int(res, "type", type);
		if (made)
			json_add(res, "message", json_dup(made->obj));
		json_add(o, "resource", res);
		reply_json(r, 200, o);
		return;
	}
	reply_204(r);
}

static struct dinter *webhook_inter(struct dstate *st, const char *app, const char *token,
                                    struct drest_resp *r)
{
	struct dinter *in = dstate_inter_by_token(st, token);
	if (!in || strcmp(app, st->cfg.app_id) != 0 || !in->callback_us ||
	    dstate_now_us() - in->created_us > INTERACTION_TOKEN_LIFE_US) {
		reply_error(r, 404, 10015, "Unknown Webhook");
		return NULL;
	}
	return in;
}

static void webhooks(struct dstate *st, const struct drest_req *req, char **segs, int n,
                     struct drest_resp *r)
{
	struct dinter *in = webhook_inter(st, segs[1], segs[2], r);
	if (!in)
		return;
	struct dchan *c = dstate_chan(st, in->channel_id);
	if (n == 3 && strcmp(req->method, "POST") == 0) {
		cJSON *b = parse_body(req, r);
		if (!b)
			return;
		if (check_message(b, 1, r) < 0 || !c) {
			if (!c)
				reply_error(r, 404, 10003, "Unknown Channel");
			cJSON_Delete(b);
			return;
		}
		struct dmsg *m =
		    post_message(st, c, b, 19, (int)(json_int(b, "flags", 0) & (64 | 4 | 4096)));
		json_add_str(m->obj, "webhook_id", st->cfg.app_id);
		in->followups++;
		cJSON_Delete(b);
		reply_json(r, 200, json_dup(m->obj));
		return;
	}
	if (n == 5 && seg_is(segs, n, 3, "messages")) {
		if (strcmp(segs[4], "@original") == 0 && !in->original_id[0] && in->external && c &&
		    strcmp(req->method, "PATCH") == 0) {
			/* An inline deferred answer made a loading message we never saw. */
			cJSON *empty = json_new_object();
			struct dmsg *lm = post_message(st, c, empty, in->type == 2 ? 20 : 19, 128);
			cJSON_Delete(empty);
			str_copy(in->original_id, sizeof in->original_id, lm->id);
		}
		const char *mid = strcmp(segs[4], "@original") == 0 ? in->original_id : segs[4];
		struct dmsg *m = mid[0] ? dstate_msg(st, in->channel_id, mid) : NULL;
		if (!m) {
			reply_error(r, 404, 10008, "Unknown Message");
			return;
		}
		if (strcmp(req->method, "GET") == 0) {
			reply_json(r, 200, json_dup(m->obj));
			return;
		}
		if (strcmp(req->method, "DELETE") == 0) {
			struct dchan *mc = dstate_chan(st, in->channel_id);
			cJSON *ev = json_new_object();
			json_add_str(ev, "id", m->id);
			json_add_str(ev, "channel_id", in->channel_id);
			json_add_str(ev, "guild_id", st->cfg.guild_id);
			if (m->id == in->original_id || strcmp(m->id, in->original_id) == 0)
				in->original_id[0] = 0;
			dstate_msg_del(mc, m);
			dstate_dispatch(st, "MESSAGE_DELETE", ev, DINTENT_GUILD_MESSAGES);
			cJSON_Delete(ev);
			reply_204(r);
			return;
		}
		if (strcmp(req->method, "PATCH") == 0) {
			cJSON *b = parse_body(req, r);
			if (!b)
				return;
			if (check_message(b, 0, r) < 0) {
				cJSON_Delete(b);
				return;
			}
			message_edit(m->obj, b);
			/* Editing the loading message ends the loading state. */
			int fl = (int)json_int(m->obj, "flags", 0) & ~128;
			cJSON_ReplaceItemInObjectCaseSensitive(m->obj, "flags",
			                                       cJSON_CreateNumber(fl));
			cJSON_Delete(b);
			dispatch_update(st, m->obj);
			reply_json(r, 200, json_dup(m->obj));
			return;
		}
	}
	reply_error(r, 405, 0, "405: Method Not Allowed");
}

/* ---------------------------------------------------------------- channels */

/*
 * GET /channels/{c}/messages: newest first; limit 1-100 (default 50);
 * before / after / around a message id, as Discord documents.
 */
static void list_messages(struct dchan *c, const char *query, struct drest_resp *r)
{
	char lim[16] = "", before[32] = "", after[32] = "", around[32] = "";
	long limit = 50;
	httpd_query_get(query, "limit", lim, sizeof lim);
	httpd_query_get(query, "before", before, sizeof before);
	httpd_query_get(query, "after", after, sizeof after);
	httpd_query_get(query, "around", around, sizeof around);
	if (lim[0]) {
		char *end;
		limit = strtol(lim, &end, 10);
		if (*end || limit < 1 || limit > 100) {
			cJSON *errors = json_new_object();
			form_error(errors, "limit",
			           limit > 100 ? "NUMBER_TYPE_MAX" : "NUMBER_TYPE_MIN",
			           limit > 100 ? "int value should be less than or equal to 100."
			                       : "int value should be greater than or equal to 1.");
			reply_form(r, errors);
			return;
		}
	}
	const char *ids[] = {before, after, around};
	for (int i = 0; i < 3; i++) {
		if (ids[i][0] && !snow_ok(ids[i])) {
			cJSON *errors = json_new_object();
			form_error(errors,
			           i == 0   ? "before"
			           : i == 1 ? "after"
			                    : "around",
			           "NUMBER_TYPE_COERCE", "Value is not snowflake.");
			reply_form(r, errors);
			return;
		}
	}
	int total = c->nmsgs, k = 0;
	struct dmsg **all = xcalloc((size_t)total + 1, sizeof *all);
	for (struct dmsg *m = c->msgs; m && k < total; m = m->next)
		all[k++] = m;
	/* [from, to) over the ascending list */
	int from = 0, to = k;
	if (around[0]) {
		int at = 0;
		while (at < k && snow_cmp(all[at]->id, around) < 0)
			at++;
		int before_n = (int)limit / 2;
		from = at - before_n < 0 ? 0 : at - before_n;
		to = from + (int)limit > k ? k : from + (int)limit;
	} else if (after[0]) {
		while (from < k && snow_cmp(all[from]->id, after) <= 0)
			from++;
		to = from + (int)limit > k ? k : from + (int)limit;
	} else {
		if (before[0]) {
			to = 0;
			while (to < k && snow_cmp(all[to]->id, before) < 0)
				to++;
		}
		from = to - (int)limit < 0 ? 0 : to - (int)limit;
	}
	cJSON *arr = json_new_array();
	for (int i = to - 1; i >= from; i--)
		cJSON_AddItemToArray(arr, json_dup(all[i]->obj));
	free(all);
	reply_json(r, 200, arr);
}

/* PUT / DELETE /channels/{c}/messages/{m}/reactions/{emoji}/@me */
static void react(struct dstate *st, struct dchan *c, struct dmsg *m, const char *raw, int add,
                  struct drest_resp *r)
{
	char emoji[128];
	pct_decode(raw, emoji, sizeof emoji);
	char *colon = strchr(emoji, ':');
	if (!emoji[0] || (colon && !snow_ok(colon + 1))) {
		reply_error(r, 400, 10014, "Unknown Emoji");
		return;
	}
	if (colon)
		*colon = 0;
	cJSON *rs = cJSON_GetObjectItemCaseSensitive(m->obj, "reactions");
	if (!rs) {
		rs = json_new_array();
		json_add(m->obj, "reactions", rs);
	}
	cJSON *found = NULL, *x;
	int idx = 0, at = -1;
	cJSON_ArrayForEach(x, rs)
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "emoji");
		if (json_str(e, "name") && strcmp(json_str(e, "name"), emoji) == 0) {
			found = x;
			at = idx;
		}
		idx++;
	}
	int changed = 0;
	if (add && !found) {
		cJSON *o = json_new_object();
		json_add_int(o, "count", 1);
		cJSON *cd = json_new_object();
		json_add_int(cd, "burst", 0);
		json_add_int(cd, "normal", 1);
		json_add(o, "count_details", cd);
		json_add_bool(o, "me", 1);
		json_add_bool(o, "me_burst", 0);
		cJSON *e = json_new_object();
		if (colon)
			json_add_str(e, "id", colon + 1);
		else
			json_add(e, "id", cJSON_CreateNull());
		json_add_str(e, "name", emoji);
		json_add(o, "emoji", e);
		json_add(o, "burst_colors", json_new_array());
		cJSON_AddItemToArray(rs, o);
		found = o;
		changed = 1;
	} else if (!add && found) {
		cJSON_DeleteItemFromArray(rs, at);
		changed = 1;
	}
	if (changed) {
		cJSON *ev = json_new_object();
		json_add_str(ev, "user_id", st->cfg.app_id);
		json_add_str(ev, "channel_id", c->id);
		json_add_str(ev, "message_id", m->id);
		json_add_str(ev, "guild_id", st->cfg.guild_id);
		cJSON *e = json_new_object();
		if (colon)
			json_add_str(e, "id", colon + 1);
		else
			json_add(e, "id", cJSON_CreateNull());
		json_add_str(e, "name", emoji);
		json_add(ev, "emoji", e);
		json_add_bool(ev, "burst", 0);
		json_add_int(ev, "type", 0);
		dstate_dispatch(st, add ? "MESSAGE_REACTION_ADD" : "MESSAGE_REACTION_REMOVE", ev,
		                DINTENT_GUILD_MESSAGE_REACTIONS);
		cJSON_Delete(ev);
	}
	if (cJSON_GetArraySize(rs) == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(m->obj, "reactions");
	reply_204(r);
}

static void channels(struct dstate *st, const struct drest_req *req, char **segs, int n,
                     struct drest_resp *r)
{
	struct dchan *c = dstate_chan(st, segs[1]);
	if (!c) {
		reply_error(r, 404, 10003, "Unknown Channel");
		return;
	}
	if (n == 3 && seg_is(segs, n, 2, "messages") && strcmp(req->method, "POST") == 0) {
		static struct dform form; /* big; the stand-in answers one request at a time */
		struct upfile files[UPLOAD_FILES_MAX];
		int nfiles = 0;
		cJSON *b = dform_is_multipart(req->content_type)
		               ? multipart_body(st, req, &form, files, &nfiles, r)
		               : parse_body(req, r);
		if (!b)
			return;
		if (check_message(b, nfiles == 0, r) < 0) {
			cJSON_Delete(b);
			return;
		}
		int flags = (int)json_int(b, "flags", 0);
		if (flags & ~(4 | 4096 | 8192 | 32768)) {
			cJSON *errors = json_new_object();
			form_error(errors, "flags", "MESSAGE_FLAGS_INVALID", "Invalid flags.");
			cJSON_Delete(b);
			reply_form(r, errors);
			return;
		}
		/* enforce_nonce: a repeat of a recent nonce returns the first message. */
		const char *nonce = json_str(b, "nonce");
		if (nonce && json_bool(b, "enforce_nonce", 0)) {
			for (struct dmsg *x = c->msgs; x; x = x->next) {
				const char *xn = json_str(x->obj, "nonce");
				if (xn && strcmp(xn, nonce) == 0) {
					cJSON_Delete(b);
					reply_json(r, 200, json_dup(x->obj));
					return;
				}
			}
		}
		struct dmsg *m = post_message_with(
		    st, c, b, 0, flags, nfiles ? attachments_json(st, files, nfiles) : NULL);
		for (int i = 0; i < nfiles; i++) {
			const cJSON *ao = cJSON_GetArrayItem(
			    cJSON_GetObjectItemCaseSensitive(m->obj, "attachments"), i);
			dstate_attach_add(st, files[i].id, c->id, m->id, files[i].filename,
			                  json_str(ao, "content_type"), files[i].part->data,
			                  files[i].part->len);
		}
		cJSON_Delete(b);
		if (st->stall_posts > 0) { /* stored, never answered (crash-window tests) */
			st->stall_posts--;
			st->stalled_posts++;
			return;
		}
		reply_json(r, 200, json_dup(m->obj));
		return;
	}
	if (n == 3 && seg_is(segs, n, 2, "messages") && strcmp(req->method, "GET") == 0) {
		list_messages(c, req->query, r);
		return;
	}
	if (n == 2 && strcmp(req->method, "GET") == 0) {
		reply_json(r, 200, channel_json(st, c));
		return;
	}
	if (n == 3 && seg_is(segs, n, 2, "typing") && strcmp(req->method, "POST") == 0) {
		cJSON *ev = json_new_object();
		json_add_str(ev, "channel_id", c->id);
		json_add_str(ev, "guild_id", st->cfg.guild_id);
		json_add_str(ev, "user_id", st->cfg.app_id);
		json_add_int(ev, "timestamp", (int64_t)wall_s());
		dstate_dispatch(st, "TYPING_START", ev, DINTENT_GUILD_MESSAGE_TYPING);
		cJSON_Delete(ev);
		reply_204(r);
		return;
	}
	struct dmsg *m =
	    n >= 4 && seg_is(segs, n, 2, "messages") ? dstate_msg(st, c->id, segs[3]) : NULL;
	if (n >= 4 && seg_is(segs, n, 2, "messages") && !m) {
		reply_error(r, 404, 10008, "Unknown Message");
		return;
	}
	if (n == 4 && m && strcmp(req->method, "GET") == 0) {
		reply_json(r, 200, json_dup(m->obj));
		return;
	}
	if (n == 4 && m && strcmp(req->method, "DELETE") == 0) {
		cJSON *ev = json_new_object();
		json_add_str(ev, "id", m->id);
		json_add_str(ev, "channel_id", c->id);
		json_add_str(ev, "guild_id", st->cfg.guild_id);
		dstate_msg_del(c, m);
		dstate_dispatch(st, "MESSAGE_DELETE", ev, DINTENT_GUILD_MESSAGES);
		cJSON_Delete(ev);
		reply_204(r);
		return;
	}
	if (n == 7 && m && seg_is(segs, n, 4, "reactions") && seg_is(segs, n, 6, "@me") &&
	    (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "DELETE") == 0)) {
		react(st, c, m, segs[5], strcmp(req->method, "PUT") == 0, r);
		return;
	}
	if (n == 4 && m && strcmp(req->method, "PATCH") == 0) {
		cJSON *b = parse_body(req, r);
		if (!b)
			return;
		if (check_message(b, 0, r) < 0) {
			cJSON_Delete(b);
			return;
		}
		message_edit(m->obj, b);
		cJSON_Delete(b);
		dispatch_update(st, m->obj);
		reply_json(r, 200, json_dup(m->obj));
		return;
	}
	if (n == 5 && m && seg_is(segs, n, 4, "threads") && strcmp(req->method, "POST") == 0) {
		cJSON *b = parse_body(req, r);
		if (!b)
			return;
		cJSON *errors = json_new_object();
		size_t nl = text_len(b, "name");
		if (!json_str(b, "name"))
			form_error(errors, "name", "BASE_TYPE_REQUIRED", "This field is required");
		else if (nl < 1 || nl > 100)
			form_error(errors, "name", "BASE_TYPE_BAD_LENGTH",
			           "Must be between 1 and 100 in length.");
		int64_t ad = json_int(b, "auto_archive_duration", 4320);
		if (ad != 60 && ad != 1440 && ad != 4320 && ad != 10080)
			form_error(errors, "auto_archive_duration", "BASE_TYPE_CHOICES",
			           "Value must be one of {60, 1440, 4320, 10080}.");
		if (errors->child) {
			cJSON_Delete(b);
			reply_form(r, errors);
			return;
		}
		cJSON_Delete(errors);
		if (m->has_thread || c->type == 11) {
			cJSON_Delete(b);
			reply_error(r, 400, 160004,
			            "A thread has already been created for this message");
			return;
		}
		m->has_thread = 1;
		struct dchan *t = dstate_chan_add(st, m->id, json_str(b, "name"), 11, c->id);
		cJSON *tc = json_new_object();
		json_add_str(tc, "id", t->id);
		json_add_int(tc, "type", 11);
		json_add_str(tc, "guild_id", st->cfg.guild_id);
		json_add_str(tc, "parent_id", c->id);
		json_add_str(tc, "owner_id", st->cfg.app_id);
		json_add_str(tc, "name", t->name);
		json_add(tc, "last_message_id", cJSON_CreateNull());
		json_add_int(tc, "rate_limit_per_user", json_int(b, "rate_limit_per_user", 0));
		json_add_int(tc, "flags", 0);
		json_add_int(tc, "message_count", 0);
		json_add_int(tc, "member_count", 1);
		cJSON *meta = json_new_object();
		json_add_bool(meta, "archived", 0);
		json_add_int(meta, "auto_archive_duration", ad);
		char ts[48];
		iso_now(ts, sizeof ts);
		json_add_str(meta, "archive_timestamp", ts);
		json_add_bool(meta, "locked", 0);
		json_add_str(meta, "create_timestamp", ts);
		json_add(tc, "thread_metadata", meta);
		cJSON_Delete(b);
		/* The parent message now shows its thread and HAS_THREAD (1 << 5). */
		int fl = (int)json_int(m->obj, "flags", 0) | 32;
		cJSON_ReplaceItemInObjectCaseSensitive(m->obj, "flags", cJSON_CreateNumber(fl));
		cJSON_DeleteItemFromObjectCaseSensitive(m->obj, "thread");
		json_add(m->obj, "thread", json_dup(tc));
		cJSON *ev = json_dup(tc);
		json_add_bool(ev, "newly_created", 1);
		dstate_dispatch(st, "THREAD_CREATE", ev, DINTENT_GUILDS);
		cJSON_Delete(ev);
		dispatch_update(st, m->obj);
		reply_json(r, 201, tc);
		return;
	}
	reply_error(r, 405, 0, "405: Method Not Allowed");
}

/* -------------------------------------------------------------------- API */

static void gateway(struct dstate *st, int bot, struct drest_resp *r)
{
	cJSON *o = json_new_object();
	char url[160];
	snprintf(url, sizeof url, "%s/gateway", st->base_ws);
	json_add_str(o, "url", url);
	if (bot) {
		json_add_int(o, "shards", 1);
		cJSON *l = json_new_object();
		json_add_int(l, "total", 1000);
		json_add_int(l, "remaining", 1000 - st->identifies);
		json_add_int(l, "reset_after", 14400000);
		json_add_int(l, "max_concurrency", 1);
		json_add(o, "session_start_limit", l);
	}
	reply_json(r, 200, o);
}

/* GET /applications/@me: the bot's application. */
static cJSON *application_json(struct dstate *st)
{
	cJSON *a = json_new_object();
	json_add_str(a, "id", st->cfg.app_id);
	json_add_str(a, "name", "opsbot");
	json_add(a, "icon", cJSON_CreateNull());
	json_add_str(a, "description", "");
	json_add(a, "type", cJSON_CreateNull());
	json_add(a, "bot", bot_author(st));
	json_add_bool(a, "bot_public", 0);
	json_add_bool(a, "bot_require_code_grant", 0);
	json_add_str(a, "verify_key",
	             "0000000000000000000000000000000000000000000000000000000000000000");
	json_add_int(a, "flags", 41975808);
	json_add(a, "owner", bot_author(st));
	json_add(a, "team", cJSON_CreateNull());
	json_add_str(a, "summary", "");
	json_add_bool(a, "hook", 1);
	json_add(a, "interactions_endpoint_url", cJSON_CreateNull());
	json_add_int(a, "approximate_guild_count", 1);
	json_add(a, "redirect_uris", json_new_array());
	json_add(a, "tags", json_new_array());
	return a;
}

static void api(struct dstate *st, const struct drest_req *req, char **segs, int n,
                struct drest_resp *r)
{
	int exempt_auth =
	    n > 0 && (strcmp(segs[0], "interactions") == 0 || strcmp(segs[0], "webhooks") == 0 ||
	              (n == 1 && strcmp(segs[0], "gateway") == 0));
	struct dreq log = {.at_us = dstate_now_us()};
	str_copy(log.method, sizeof log.method, req->method);
	str_copy(log.path, sizeof log.path, req->path);
	char want[192];
	snprintf(want, sizeof want, "Bot %s", st->cfg.token);
	log.auth_ok = req->authorization && strcmp(req->authorization, want) == 0;
	log.ua_ok = req->user_agent && strncmp(req->user_agent, "DiscordBot (", 12) == 0;
	if (!log.ua_ok) {
		/* Cloudflare in front of the real API blocks unidentified clients. */
		r->status = 403;
		r->content_type = "text/plain";
		buf_appendf(&r->body, "error code: 1010");
	} else if (!exempt_auth && !log.auth_ok) {
		reply_error(r, 401, 0, "401: Unauthorized");
	} else if (rate_limit(st, req, segs, n, r) < 0) {
		/* 429 written */
	} else if (n == 1 && strcmp(segs[0], "gateway") == 0 && strcmp(req->method, "GET") == 0) {
		gateway(st, 0, r);
	} else if (n == 2 && seg_is(segs, n, 0, "gateway") && seg_is(segs, n, 1, "bot") &&
	           strcmp(req->method, "GET") == 0) {
		gateway(st, 1, r);
	} else if (n == 2 && seg_is(segs, n, 0, "applications") && seg_is(segs, n, 1, "@me") &&
	           strcmp(req->method, "GET") == 0) {
		reply_json(r, 200, application_json(st));
	} else if (n == 2 && seg_is(segs, n, 0, "users") && strcmp(req->method, "GET") == 0) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(st->users, segs[1]);
		if (strcmp(segs[1], "@me") == 0 || strcmp(segs[1], st->cfg.app_id) == 0)
			reply_json(r, 200, bot_author(st));
		else if (u)
			reply_json(r, 200, json_dup(u));
		else
			reply_error(r, 404, 10013, "Unknown User");
	} else if (n == 3 && seg_is(segs, n, 0, "applications") && seg_is(segs, n, 2, "commands")) {
		if (strcmp(segs[1], st->cfg.app_id) != 0)
			reply_error(r, 403, 50001, "Missing Access");
		else if (strcmp(req->method, "PUT") == 0)
			put_commands(st, req, 0, r);
		else if (strcmp(req->method, "GET") == 0)
			reply_json(r, 200, json_dup(st->global_commands));
		else
			reply_error(r, 405, 0, "405: Method Not Allowed");
	} else if (n == 5 && seg_is(segs, n, 0, "applications") && seg_is(segs, n, 2, "guilds") &&
	           seg_is(segs, n, 4, "commands")) {
		if (strcmp(segs[1], st->cfg.app_id) != 0 || strcmp(segs[3], st->cfg.guild_id) != 0)
			reply_error(r, 403, 50001, "Missing Access");
		else if (strcmp(req->method, "PUT") == 0)
			put_commands(st, req, 1, r);
		else if (strcmp(req->method, "GET") == 0)
			reply_json(r, 200, json_dup(st->guild_commands));
		else
			reply_error(r, 405, 0, "405: Method Not Allowed");
	} else if (n == 3 && seg_is(segs, n, 0, "guilds") && seg_is(segs, n, 2, "channels") &&
	           strcmp(req->method, "GET") == 0) {
		if (strcmp(segs[1], st->cfg.guild_id) != 0) {
			reply_error(r, 404, 10004, "Unknown Guild");
		} else {
			cJSON *arr = json_new_array();
			for (struct dchan *c = st->chans; c; c = c->next)
				if (c->type == 0)
					cJSON_AddItemToArray(arr, channel_json(st, c));
			reply_json(r, 200, arr);
		}
	} else if (n >= 2 && seg_is(segs, n, 0, "channels")) {
		channels(st, req, segs, n, r);
	} else if (n == 4 && seg_is(segs, n, 0, "interactions") && seg_is(segs, n, 3, "callback") &&
	           strcmp(req->method, "POST") == 0) {
		callback(st, req, segs[1], segs[2], r);
	} else if (n >= 3 && seg_is(segs, n, 0, "webhooks")) {
		webhooks(st, req, segs, n, r);
	} else {
		reply_error(r, 404, 0, "404: Not Found");
	}
	log.status = r->status;
	dstate_reqlog_add(st, &log);
}

/* ------------------------------------------------------------- control API */

static cJSON *member_json(const cJSON *user)
{
	const char *uid = json_str(user, "id");
	const char *uname = json_str(user, "username");
	cJSON *u = json_new_object();
	json_add(u, "avatar", cJSON_CreateNull());
	json_add(u, "avatar_decoration_data", cJSON_CreateNull());
	json_add(u, "clan", cJSON_CreateNull());
	json_add(u, "collectibles", cJSON_CreateNull());
	json_add_str(u, "discriminator", "0");
	json_add_str(u, "global_name", uname ? uname : "tester");
	json_add_str(u, "id", uid ? uid : "410212090289192960");
	json_add(u, "primary_guild", cJSON_CreateNull());
	json_add_int(u, "public_flags", 0);
	json_add_str(u, "username", uname ? uname : "tester");
	cJSON *m = json_new_object();
	json_add(m, "avatar", cJSON_CreateNull());
	json_add(m, "banner", cJSON_CreateNull());
	json_add(m, "communication_disabled_until", cJSON_CreateNull());
	json_add_bool(m, "deaf", 0);
	json_add_int(m, "flags", 0);
	json_add_str(m, "joined_at", "2026-01-01T00:00:00.000000+00:00");
	json_add_bool(m, "mute", 0);
	json_add(m, "nick", cJSON_CreateNull());
	json_add_bool(m, "pending", 0);
	json_add_str(m, "permissions", "2251799813685247");
	json_add(m, "premium_since", cJSON_CreateNull());
	cJSON *roles = json_new_array();
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(user, "roles");
	const cJSON *x;
	if (cJSON_IsArray(rl))
		cJSON_ArrayForEach(x, rl) cJSON_AddItemToArray(roles, json_dup(x));
	json_add(m, "roles", roles);
	json_add(m, "unusual_dm_activity_until", cJSON_CreateNull());
	json_add(m, "user", u);
	return m;
}

static cJSON *channel_json(struct dstate *st, struct dchan *c)
{
	cJSON *o = json_new_object();
	json_add_int(o, "flags", 0);
	json_add_str(o, "guild_id", st->cfg.guild_id);
	json_add_str(o, "id", c->id);
	json_add(o, "last_message_id",
	         c->last ? cJSON_CreateString(c->last->id) : cJSON_CreateNull());
	json_add_str(o, "name", c->name);
	json_add_bool(o, "nsfw", 0);
	json_add(o, "parent_id",
	         c->parent_id[0] ? cJSON_CreateString(c->parent_id) : cJSON_CreateNull());
	json_add_str(o, "permissions", "2251799813685247");
	json_add_int(o, "position", 0);
	json_add_int(o, "rate_limit_per_user", 0);
	json_add(o, "topic", cJSON_CreateNull());
	json_add_int(o, "type", c->type);
	if (c->type == 11) {
		/* a thread: who made it and its (never archived here) state */
		json_add_str(o, "owner_id", st->cfg.app_id);
		json_add_int(o, "message_count", c->nmsgs);
		json_add_int(o, "member_count", 1);
		cJSON *meta = json_new_object();
		json_add_bool(meta, "archived", 0);
		json_add_int(meta, "auto_archive_duration", 4320);
		json_add_bool(meta, "locked", 0);
		json_add(o, "thread_metadata", meta);
	}
	return o;
}

static struct dchan *chan_ref(struct dstate *st, const char *ref)
{
	if (!ref)
		return dstate_chan_by_name(st, "ops");
	struct dchan *c = dstate_chan(st, ref);
	return c ? c : dstate_chan_by_name(st, ref);
}

static const cJSON *command_id(struct dstate *st, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(
	    c,
	    st->guild_commands) if (strcmp(json_str(c, "name") ? json_str(c, "name") : "", name) ==
	                            0) return cJSON_GetObjectItemCaseSensitive(c, "id");
	cJSON_ArrayForEach(
	    c,
	    st->global_commands) if (strcmp(json_str(c, "name") ? json_str(c, "name") : "", name) ==
	                             0) return cJSON_GetObjectItemCaseSensitive(c, "id");
	return NULL;
}

static void ctl_inject(struct dstate *st, const cJSON *b, struct drest_resp *r)
{
	const char *kind = json_str(b, "kind");
	struct dchan *c = chan_ref(st, json_str(b, "channel"));
	if (!kind || !c) {
		reply_error(r, 400, 0, "need kind (command|button|modal) and a known channel");
		return;
	}
	const char *deliver = json_str(b, "deliver");
	int external = deliver && strcmp(deliver, "return") == 0;
	struct dsess *target = NULL;
	for (struct dsess *s = st->sessions; s && !target; s = s->next)
		if (s->valid)
			target = s; /* newest valid session; replayed on resume if offline */
	if (!target && !external) {
		reply_error(r, 409, 0, "no gateway session to deliver to");
		return;
	}
	struct dinter *in = xcalloc(1, sizeof *in);
	dstate_snowflake(st, in->id);
	snprintf(in->token, sizeof in->token, "aW50ZXJhY3Rpb246%s", in->id);
	for (size_t i = strlen(in->token); i < 80; i++)
		in->token[i] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rand() % 62];
	in->token[80] = 0;
	str_copy(in->channel_id, sizeof in->channel_id, c->id);
	cJSON *d = json_new_object();
	json_add_str(d, "app_permissions", "2248473465835073");
	json_add_str(d, "application_id", st->cfg.app_id);
	json_add_int(d, "attachment_size_limit", 10485760);
	cJSON *aio = json_new_object();
	json_add_str(aio, "0", st->cfg.guild_id);
	json_add(d, "authorizing_integration_owners", aio);
	json_add(d, "channel", channel_json(st, c));
	json_add_str(d, "channel_id", c->id);
	json_add_int(d, "context", 0);
	cJSON *data = json_new_object();
	if (strcmp(kind, "command") == 0) {
		in->type = 2;
		const char *name = json_str(b, "command");
		if (!name)
			name = "incident";
		const cJSON *cid = command_id(st, name);
		json_add_str(data, "id",
		             cJSON_IsString(cid) ? cid->valuestring : "1380515955146358918");
		json_add_str(data, "name", name);
		const cJSON *opts = cJSON_GetObjectItemCaseSensitive(b, "options");
		if (opts)
			json_add(data, "options", json_dup(opts));
		json_add_int(data, "type", 1);
	} else if (strcmp(kind, "button") == 0) {
		in->type = 3;
		const char *cid = json_str(b, "custom_id");
		const char *mid = json_str(b, "message_id");
		struct dmsg *m = mid ? dstate_msg(st, c->id, mid) : NULL;
		if (!cid || !m) {
			cJSON_Delete(d);
			cJSON_Delete(data);
			free(in);
			reply_error(r, 400, 0,
			            "a button needs custom_id and a message_id in that channel");
			return;
		}
		str_copy(in->message_id, sizeof in->message_id, mid);
		json_add_int(data, "component_type", 2);
		json_add_str(data, "custom_id", cid);
		json_add_int(data, "id", 2);
		json_add(d, "message", json_dup(m->obj));
	} else if (strcmp(kind, "modal") == 0) {
		/* MODAL_SUBMIT: what Discord sends when a person submits a modal */
		in->type = 5;
		const char *cid = json_str(b, "custom_id");
		const char *mid = json_str(b, "message_id");
		struct dmsg *m = mid ? dstate_msg(st, c->id, mid) : NULL;
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(b, "values");
		if (!cid || !cJSON_IsObject(vals) || (mid && !m)) {
			cJSON_Delete(d);
			cJSON_Delete(data);
			free(in);
			reply_error(r, 400, 0,
			            "a modal needs custom_id and values {input custom_id: text}"
			            " (and message_id, when given, in that channel)");
			return;
		}
		json_add_str(data, "custom_id", cid);
		cJSON *rows = json_new_array();
		const cJSON *v;
		int cidn = 1;
		cJSON_ArrayForEach(v, vals)
		{
			cJSON *row = json_new_object(), *items = json_new_array(),
			      *ti = json_new_object();
			json_add_int(row, "type", 1);
			json_add_int(row, "id", cidn++);
			json_add_int(ti, "type", 4);
			json_add_int(ti, "id", cidn++);
			json_add_str(ti, "custom_id", v->string);
			json_add_str(ti, "value", cJSON_IsString(v) ? v->valuestring : "");
			cJSON_AddItemToArray(items, ti);
			json_add(row, "components", items);
			cJSON_AddItemToArray(rows, row);
		}
		json_add(data, "components", rows);
		if (m) {
			str_copy(in->message_id, sizeof in->message_id, mid);
			json_add(d, "message", json_dup(m->obj));
		}
	} else {
		cJSON_Delete(d);
		cJSON_Delete(data);
		free(in);
		reply_error(r, 400, 0, "kind must be command, button or modal");
		return;
	}
	json_add(d, "data", data);
	json_add(d, "entitlement_sku_ids", json_new_array());
	json_add(d, "entitlements", json_new_array());
	cJSON *g = json_new_object();
	json_add(g, "features", json_new_array());
	json_add_str(g, "id", st->cfg.guild_id);
	json_add_str(g, "locale", "en-US");
	json_add(d, "guild", g);
	json_add_str(d, "guild_id", st->cfg.guild_id);
	json_add_str(d, "guild_locale", "en-US");
	json_add_str(d, "id", in->id);
	json_add_str(d, "locale", "en-US");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(b, "user");
	cJSON *nouser = json_new_object();
	cJSON *mem = member_json(user ? user : nouser);
	cJSON_Delete(nouser);
	const cJSON *mu = cJSON_GetObjectItemCaseSensitive(mem, "user");
	if (!cJSON_GetObjectItemCaseSensitive(st->users, json_str(mu, "id")))
		json_add(st->users, json_str(mu, "id"),
		         json_dup(mu)); /* GET /users/{id} knows them */
	json_add(d, "member", mem);
	json_add_str(d, "token", in->token);
	json_add_int(d, "type", in->type);
	json_add_int(d, "version", 1);
	in->created_us = dstate_now_us();
	in->next = st->inters;
	st->inters = in;
	cJSON *o = json_new_object();
	json_add_str(o, "id", in->id);
	json_add_str(o, "token", in->token);
	json_add_str(o, "channel_id", c->id);
	if (external) {
		/* The test POSTs it to the bot's endpoint, which answers inline:
		 * the answer counts as the callback, so follow-ups are accepted. */
		in->external = 1;
		in->callback_us = in->created_us;
		json_add(o, "payload", d);
	} else {
		dstate_dispatch_to(st, target, "INTERACTION_CREATE", d);
		cJSON_Delete(d);
		json_add_int(o, "s", target->seq);
	}
	reply_json(r, 200, o);
}

static cJSON *inter_json(struct dinter *in)
{
	cJSON *o = json_new_object();
	json_add_str(o, "id", in->id);
	json_add_int(o, "type", in->type);
	json_add_int(o, "callback_type", in->callback_type);
	json_add_int(o, "callback_latency_us",
	             in->callback_us ? in->callback_us - in->created_us : -1);
	json_add_int(o, "late_callbacks", in->late_callbacks);
	json_add_int(o, "second_callbacks", in->second_callbacks);
	json_add_int(o, "followups", in->followups);
	json_add_str(o, "original_id", in->original_id);
	json_add_int(o, "created_us", in->created_us);
	return o;
}

static void ctl_messages(struct dstate *st, const char *ref, const char *query,
                         struct drest_resp *r)
{
	struct dchan *c = chan_ref(st, ref);
	if (!c) {
		reply_error(r, 404, 10003, "Unknown Channel");
		return;
	}
	int with_time = strstr(query ? query : "", "times=1") != NULL;
	/* after=<id>: only messages posted after that one (cheap polling). */
	const char *after = query ? strstr(query, "after=") : NULL;
	struct dmsg *start = c->msgs;
	if (after) {
		char aid[DSTATE_ID_LEN];
		size_t n = strcspn(after + 6, "&");
		str_copy(aid, sizeof aid, "");
		if (n < sizeof aid) {
			memcpy(aid, after + 6, n);
			aid[n] = 0;
		}
		for (struct dmsg *m = c->msgs; m; m = m->next)
			if (strcmp(m->id, aid) == 0)
				start = m->next;
	}
	cJSON *arr = json_new_array();
	for (struct dmsg *m = start; m; m = m->next) {
		cJSON *o = json_dup(m->obj);
		if (with_time)
			json_add_int(o, "_created_us", m->created_us);
		cJSON_AddItemToArray(arr, o);
	}
	reply_json(r, 200, arr);
}

static void control(struct dstate *st, const struct drest_req *req, char **segs, int n,
                    struct drest_resp *r)
{
	cJSON *b = NULL;
	if (strcmp(req->method, "POST") == 0) {
		char err[128];
		if (json_parse_object(req->body_len ? req->body : "{}",
		                      req->body_len ? req->body_len : 2, &b, err, sizeof err) < 0) {
			reply_error(r, 400, 0, err);
			return;
		}
	}
	const char *m = req->method;
	if (n == 2 && seg_is(segs, n, 1, "interactions") && strcmp(m, "POST") == 0) {
		ctl_inject(st, b, r);
	} else if (n == 3 && seg_is(segs, n, 1, "interactions") && strcmp(m, "GET") == 0) {
		struct dinter *in = dstate_inter(st, segs[2]);
		if (in)
			reply_json(r, 200, inter_json(in));
		else
			reply_error(r, 404, 10062, "Unknown interaction");
	} else if (n == 2 && seg_is(segs, n, 1, "channels") && strcmp(m, "GET") == 0) {
		cJSON *arr = json_new_array();
		for (struct dchan *c = st->chans; c; c = c->next) {
			cJSON *o = channel_json(st, c);
			json_add_int(o, "message_count", c->nmsgs);
			cJSON_AddItemToArray(arr, o);
		}
		reply_json(r, 200, arr);
	} else if (n == 4 && seg_is(segs, n, 1, "channels") && seg_is(segs, n, 3, "messages") &&
	           strcmp(m, "GET") == 0) {
		ctl_messages(st, segs[2], req->query, r);
	} else if (n == 3 && seg_is(segs, n, 1, "gateway") && strcmp(m, "POST") == 0) {
		int rc;
		if (strcmp(segs[2], "reconnect") == 0)
			rc = dgw_ctl_reconnect(st);
		else if (strcmp(segs[2], "invalid_session") == 0)
			rc = dgw_ctl_invalid_session(st, json_bool(b, "resumable", 0));
		else if (strcmp(segs[2], "drop") == 0)
			rc = dgw_ctl_drop(st, (int)json_int(b, "hold_ms", 0),
			                  json_bool(b, "forget", 0));
		else if (strcmp(segs[2], "dispatch") == 0)
			rc = dgw_ctl_dispatch(st, json_str(b, "t") ? json_str(b, "t") : "UNKNOWN",
			                      cJSON_GetObjectItemCaseSensitive(b, "d"));
		else if (strcmp(segs[2], "close") == 0)
			rc = dgw_ctl_close(st, (int)json_int(b, "code", 4000));
		else if (strcmp(segs[2], "acks") == 0)
			rc = dgw_ctl_acks(st, json_bool(b, "on", 1));
		else if (strcmp(segs[2], "heartbeat") == 0)
			rc = dgw_ctl_heartbeat_request(st);
		else if (strcmp(segs[2], "resume_url") == 0) {
			/* READYs from now on name this resume_gateway_url ("" = ours) */
			str_copy(st->resume_url, sizeof st->resume_url,
			         json_str(b, "url") ? json_str(b, "url") : "");
			rc = 0;
		} else {
			reply_error(r, 404, 0, "unknown gateway action");
			goto out;
		}
		if (rc < 0)
			reply_error(r, 409, 0, "no connected gateway session");
		else
			reply_json(r, 200, json_new_object());
	} else if (n == 2 && seg_is(segs, n, 1, "ratelimit") && strcmp(m, "POST") == 0) {
		int cnt = (int)json_int(b, "n", 1);
		const char *scope = json_str(b, "scope");
		st->force_retry_after = json_num(b, "retry_after", 0.2);
		if (scope && strcmp(scope, "global") == 0)
			st->force_global_n = cnt;
		else {
			st->force_route_n = cnt;
			st->force_multipart = json_bool(b, "multipart", 0);
			str_copy(st->force_route_match, sizeof st->force_route_match,
			         json_str(b, "match") ? json_str(b, "match") : "");
		}
		reply_json(r, 200, json_new_object());
	} else if (n == 2 && seg_is(segs, n, 1, "stall") && strcmp(m, "POST") == 0) {
		st->stall_posts = (int)json_int(b, "posts", 1);
		reply_json(r, 200, json_new_object());
	} else if (n == 2 && seg_is(segs, n, 1, "upload_limit") && strcmp(m, "POST") == 0) {
		int64_t fm = json_int(b, "file_max", 0);
		st->file_max = fm > 0 ? (size_t)fm : 0;
		reply_json(r, 200, json_new_object());
	} else if (n == 2 && seg_is(segs, n, 1, "stats") && strcmp(m, "GET") == 0) {
		cJSON *o = json_new_object();
		json_add_int(o, "stalled_posts", st->stalled_posts);
		json_add_int(o, "identifies", st->identifies);
		json_add_int(o, "resumes", st->resumes);
		json_add_int(o, "invalid_sessions", st->invalid_sessions);
		struct dsess *s = dstate_active(st);
		json_add_bool(o, "connected", s != NULL);
		json_add_str(o, "session_id", s ? s->id : "");
		json_add_int(o, "seq", s ? s->seq : 0);
		json_add_int(o, "intents", s ? s->intents : 0);
		json_add_int(o, "requests", (int64_t)st->reqlog_n);
		json_add_int(o, "forced_route_left", st->force_route_n);
		json_add_int(o, "forced_global_left", st->force_global_n);
		int rl = 0, unauth = 0, badua = 0;
		size_t from =
		    st->reqlog_n > DSTATE_REQLOG_MAX ? st->reqlog_n - DSTATE_REQLOG_MAX : 0;
		for (size_t i = from; i < st->reqlog_n; i++) {
			struct dreq *q = &st->reqlog[i % DSTATE_REQLOG_MAX];
			rl += q->status == 429;
			unauth += q->status == 401;
			badua += !q->ua_ok;
		}
		json_add_int(o, "responses_429", rl);
		json_add_int(o, "responses_401", unauth);
		json_add_int(o, "bad_user_agent", badua);
		reply_json(r, 200, o);
	} else if (n == 2 && seg_is(segs, n, 1, "requests") && strcmp(m, "GET") == 0) {
		cJSON *arr = json_new_array();
		size_t from =
		    st->reqlog_n > DSTATE_REQLOG_MAX ? st->reqlog_n - DSTATE_REQLOG_MAX : 0;
		for (size_t i = from; i < st->reqlog_n; i++) {
			struct dreq *q = &st->reqlog[i % DSTATE_REQLOG_MAX];
			cJSON *o = json_new_object();
			json_add_str(o, "method", q->method);
			json_add_str(o, "path", q->path);
			json_add_int(o, "status", q->status);
			json_add_bool(o, "auth_ok", q->auth_ok);
			json_add_bool(o, "ua_ok", q->ua_ok);
			json_add_int(o, "at_us", q->at_us);
			cJSON_AddItemToArray(arr, o);
		}
		reply_json(r, 200, arr);
	} else if ((n == 3 || n == 4) && seg_is(segs, n, 1, "attachments") &&
	           strcmp(m, "GET") == 0) {
		/* an uploaded file's bytes, as a CDN would serve them */
		struct dattach *a = dstate_attach(st, segs[2]);
		if (!a || (n == 4 && strcmp(segs[3], a->filename) != 0)) {
			reply_error(r, 404, 0, "unknown attachment");
		} else {
			r->status = 200;
			r->content_type = "application/octet-stream";
			if (buf_append(&r->body, a->data, a->len) < 0)
				reply_error(r, 500, 0, "attachment larger than a response");
		}
	} else if (n == 2 && seg_is(segs, n, 1, "commands") && strcmp(m, "GET") == 0) {
		cJSON *o = json_new_object();
		json_add(o, "global", json_dup(st->global_commands));
		json_add(o, "guild", json_dup(st->guild_commands));
		reply_json(r, 200, o);
	} else {
		reply_error(r, 404, 0, "unknown control route");
	}
out:
	cJSON_Delete(b);
}

void drest_handle(struct dstate *st, const struct drest_req *req, struct drest_resp *r)
{
	char buf[512];
	char *segs[MAX_SEGS];
	r->body.max = DREST_MAX_BODY;
	int n = split_path(req->path, buf, sizeof buf, segs);
	if (n >= 2 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v10") == 0) {
		api(st, req, segs + 2, n - 2, r);
	} else if (n >= 1 && strcmp(segs[0], "_fake") == 0) {
		control(st, req, segs, n, r);
	} else {
		reply_error(r, 404, 0, "404: Not Found");
	}
}
