/*
 * kb.c: the knowledge index in SQLite: schema, incremental indexing,
 * incident memory, and search (BM25 + expansion + vectors, fused by RRF).
 *
 * Layout:
 *
 *   docs(id, source UNIQUE, kind, title, services, symptoms, actions,
 *        mtime, size, hash, incident, signature, worked)
 *     1 ──< sections(id, doc, ord, name, line, text, embedding)
 *              1 ── 1 fts(rowid = sections.id: title, symptoms, body, services)
 *
 * Writers use BEGIN IMMEDIATE; the database is in WAL mode so searches in
 * other processes keep reading their snapshot while a re-index runs.
 */
#include "kb.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "mem.h"
#include "rank.h"

const struct kb_weights KB_WEIGHTS_DEFAULT = {10.0, 5.0, 1.0, 2.0};

#define KB_MAX_FILES 10000 /* files one knowledge folder may hold */
#define KB_PATH_MAX  1024
#define KB_VEC_MAX   (1u << 28) /* floats held in the vector cache */

struct kb {
	sqlite3 *db;
	struct kb_weights w;
	double expand_weight;       /* share of an expansion word's BM25 in the score */
	int per_source;             /* hits one document may hold in a result */
	double common_share;        /* a word in more than this share of sections is not searched */
	int64_t nrows, nrows_stamp; /* section count, cached against kb_stamp() */
	struct rank_sizes sizes;    /* column lengths for kbrank, same stamp */
	/* Vector cache: every embedded section, reloaded when the file changed. */
	int64_t *vec_ids;
	float *vec;
	size_t vec_n, vec_dim;
	int64_t vec_stamp; /* data_version * 2^32 + own changes at load; -1 = none */
};

static const char *const kb_schema[] = {
    /* 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE docs(id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL, title TEXT NOT NULL, services TEXT, symptoms TEXT,"
    " actions TEXT, mtime INTEGER, size INTEGER, hash INTEGER, incident INTEGER,"
    " signature TEXT, worked INTEGER);"
    "CREATE TABLE sections(id INTEGER PRIMARY KEY,"
    " doc INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,"
    " ord INTEGER NOT NULL, name TEXT NOT NULL, line INTEGER, text TEXT NOT NULL,"
    " embedding BLOB);"
    "CREATE INDEX sections_doc ON sections(doc);"
    "CREATE VIRTUAL TABLE fts USING fts5(title, symptoms, body, services,"
    " tokenize = 'unicode61');"
    "CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');",
};

static int kb_exec(struct kb *kb, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(kb->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "knowledge db: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int kb_prepare(struct kb *kb, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(kb->db, sql, -1, st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
		return -1;
	}
	return 0;
}

static int kb_migrate(struct kb *kb, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(kb, "PRAGMA user_version", &st, err, errlen) < 0)
		return -1;
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	int want = (int)(sizeof(kb_schema) / sizeof(kb_schema[0]));
	if (version > want) {
		snprintf(err, errlen, "knowledge db has schema %d, newer than this program (%d)",
		         version, want);
		return -1;
	}
	for (int v = version; v < want; v++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", v + 1);
		if (kb_exec(kb, "BEGIN IMMEDIATE", err, errlen) < 0)
			return -1;
		if (kb_exec(kb, kb_schema[v], err, errlen) < 0 ||
		    kb_exec(kb, sql, err, errlen) < 0) {
			kb_exec(kb, "ROLLBACK", err + strlen(err), 0);
			return -1;
		}
		if (kb_exec(kb, "COMMIT", err, errlen) < 0)
			return -1;
	}
	return 0;
}

int kb_open(const char *path, struct kb **out, char *err, size_t errlen)
{
	struct kb *kb = xcalloc(1, sizeof(*kb));
	kb->w = KB_WEIGHTS_DEFAULT;
	kb->expand_weight = KB_EXPAND_WEIGHT;
	kb->per_source = KB_PER_SOURCE;
	kb->common_share = KB_COMMON_SHARE;
	kb->vec_stamp = -1;
	kb->nrows_stamp = -1;
	int rc = sqlite3_open_v2(
	    path, &kb->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		         kb->db ? sqlite3_errmsg(kb->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(kb->db, 5000);
	/* A page cache and a memory map big enough for the whole index of a
	 * large knowledge base: searches then do no read() calls. */
	if (kb_exec(kb,
	            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	            "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;"
	            "PRAGMA mmap_size = 268435456;",
	            err, errlen) < 0 ||
	    kb_migrate(kb, err, errlen) < 0)
		goto fail;
	kb->sizes.enabled = 1;
	if (rank_register(kb->db, &kb->sizes) < 0) {
		snprintf(err, errlen, "%s: SQLite has no FTS5 (needed for the knowledge index)",
		         path);
		goto fail;
	}
	*out = kb;
	return 0;
fail:
	kb_close(kb);
	return -1;
}

void kb_close(struct kb *kb)
{
	if (!kb)
		return;
	sqlite3_close(kb->db);
	rank_sizes_free(&kb->sizes);
	free(kb->vec_ids);
	free(kb->vec);
	free(kb);
}

void kb_set_weights(struct kb *kb, const struct kb_weights *w)
{
	kb->w = *w;
}

void kb_set_expand_weight(struct kb *kb, double w)
{
	kb->expand_weight = w;
}

void kb_set_per_source(struct kb *kb, int n)
{
	kb->per_source = n < 1 ? 1 : n;
}

void kb_set_common_share(struct kb *kb, double share)
{
	kb->common_share = share;
}

static int64_t kb_nrows(struct kb *kb);

void kb_warm(struct kb *kb)
{
	kb_nrows(kb);
}

void kb_set_size_cache(struct kb *kb, int on)
{
	kb->sizes.enabled = on;
	if (!on)
		rank_sizes_free(&kb->sizes);
	kb->nrows_stamp = -1;
}

void kb_set_busy_timeout(struct kb *kb, int ms)
{
	sqlite3_busy_timeout(kb->db, ms);
}

int kb_begin(struct kb *kb, char *err, size_t errlen)
{
	return kb_exec(kb, "BEGIN IMMEDIATE", err, errlen);
}

int kb_commit(struct kb *kb, char *err, size_t errlen)
{
	return kb_exec(kb, "COMMIT", err, errlen);
}

static void kb_rollback(struct kb *kb)
{
	char ignore[128];
	kb_exec(kb, "ROLLBACK", ignore, sizeof(ignore));
}

/* ---- writing ----------------------------------------------------------- */

static int kb_delete_source(struct kb *kb, const char *source, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (kb_prepare(kb,
	               "DELETE FROM fts WHERE rowid IN (SELECT s.id FROM sections s"
	               " JOIN docs d ON d.id = s.doc WHERE d.source = ?1)",
	               &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	if (kb_prepare(kb, "DELETE FROM docs WHERE source = ?1", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	ret = 0;
	goto out;
dberr:
	snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
out:
	sqlite3_finalize(st);
	return ret;
}

struct kb_doc {
	const char *source, *kind, *title, *services, *symptoms, *actions;
	int64_t mtime, size, incident;
	uint64_t hash;
	const char *signature;
	int worked;
};

/* Insert a document row; *id gets its rowid. */
static int kb_insert_doc(struct kb *kb, const struct kb_doc *d, int64_t *id, char *err,
                         size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(kb,
	               "INSERT INTO docs(source, kind, title, services, symptoms, actions, mtime,"
	               " size, hash, incident, signature, worked)"
	               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	               &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, d->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->services, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->symptoms, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->actions, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, d->mtime);
	sqlite3_bind_int64(st, 8, d->size);
	sqlite3_bind_int64(st, 9, (int64_t)d->hash);
	if (d->incident)
		sqlite3_bind_int64(st, 10, d->incident);
	if (d->signature)
		sqlite3_bind_text(st, 11, d->signature, -1, SQLITE_STATIC);
	if (d->worked >= 0)
		sqlite3_bind_int(st, 12, d->worked);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
		return -1;
	}
	*id = sqlite3_last_insert_rowid(kb->db);
	return 0;
}

static int kb_insert_section(struct kb *kb, int64_t doc, int ord, const char *name, int line,
                             const char *text, const struct kb_doc *d, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(
	        kb, "INSERT INTO sections(doc, ord, name, line, text) VALUES (?1, ?2, ?3, ?4, ?5)",
	        &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int(st, 2, ord);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, line);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto dberr;
	int64_t sid = sqlite3_last_insert_rowid(kb->db);
	if (kb_prepare(kb,
	               "INSERT INTO fts(rowid, title, symptoms, body, services)"
	               " VALUES (?1, ?2, ?3, ?4 || char(10) || ?5, ?6)",
	               &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, d->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->symptoms, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->services, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto dberr;
	return 0;
dberr:
	snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
	return -1;
}

int kb_put_runbook(struct kb *kb, const char *source, const struct runbook *rb, int64_t mtime,
                   int64_t size, uint64_t hash, char *err, size_t errlen)
{
	struct buf actions = {0};
	for (size_t i = 0; i < rb->nactions; i++)
		buf_appendf(&actions, "%s%s", i ? ", " : "", rb->actions[i]);
	struct kb_doc d = {.source = source,
	                   .kind = "runbook",
	                   .title = rb->title,
	                   .services = rb->services,
	                   .symptoms = rb->symptoms,
	                   .actions = actions.data ? actions.data : "",
	                   .mtime = mtime,
	                   .size = size,
	                   .hash = hash,
	                   .worked = -1};
	int64_t id;
	int ret = -1;
	if (kb_delete_source(kb, source, err, errlen) < 0 ||
	    kb_insert_doc(kb, &d, &id, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < rb->nsections; i++)
		if (kb_insert_section(kb, id, (int)i, rb->sections[i].name, rb->sections[i].line,
		                      rb->sections[i].text, &d, err, errlen) < 0)
			goto out;
	ret = 0;
out:
	buf_free(&actions);
	return ret;
}

void kb_signature(const char *service, const char *alert_or_title, char *out, size_t outlen)
{
	struct buf b = {.max = outlen > 1 ? outlen - 1 : 1};
	for (const char *p = service ? service : ""; *p; p++) {
		char c = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		if (buf_append(&b, &c, 1) < 0)
			break;
	}
	buf_append(&b, "/", 1);
	int space = 1;
	for (const char *p = alert_or_title ? alert_or_title : ""; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= '0' && c <= '9')
			continue;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) {
			char lc = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			if (buf_append(&b, &lc, 1) < 0)
				break;
			space = 0;
		} else if (!space) {
			if (buf_append(&b, " ", 1) < 0)
				break;
			space = 1;
		}
	}
	while (b.len > 0 && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	str_copy(out, outlen, b.data ? b.data : "/");
	buf_free(&b);
}

int kb_put_incident(struct kb *kb, const struct kb_incident *inc, char *err, size_t errlen)
{
	char source[64];
	snprintf(source, sizeof(source), "incident:%lld", (long long)inc->id);
	const char *outcome = inc->worked == 1 ? "worked" : inc->worked == 0 ? "failed" : "unknown";
	struct buf text = {.max = 64 * 1024};
	buf_appendf(&text, "Summary: %s\nRoot cause: %s\nActions: %s\nOutcome: the actions %s.\n",
	            inc->summary && *inc->summary ? inc->summary : inc->title,
	            inc->root_cause && *inc->root_cause ? inc->root_cause : "not recorded",
	            inc->actions && *inc->actions ? inc->actions : "none recorded",
	            inc->worked == 1   ? "worked"
	            : inc->worked == 0 ? "did not work"
	                               : "have no recorded outcome");
	struct buf sym = {.max = 16 * 1024};
	buf_appendf(&sym, "%s. %s", inc->summary ? inc->summary : "",
	            inc->root_cause ? inc->root_cause : "");
	char title[300];
	snprintf(title, sizeof(title), "Past incident #%lld: %s", (long long)inc->id, inc->title);
	struct kb_doc d = {.source = source,
	                   .kind = "incident",
	                   .title = title,
	                   .services = inc->service ? inc->service : "any",
	                   .symptoms = sym.data ? sym.data : "",
	                   .actions = inc->actions ? inc->actions : "",
	                   .mtime = inc->resolved_ms,
	                   .incident = inc->id,
	                   .signature = inc->signature,
	                   .worked = inc->worked};
	int64_t id;
	int ret = -1;
	if (kb_begin(kb, err, errlen) < 0)
		goto out;
	if (kb_delete_source(kb, source, err, errlen) < 0 ||
	    kb_insert_doc(kb, &d, &id, err, errlen) < 0 ||
	    kb_insert_section(kb, id, 0, "Incident", 1, text.data ? text.data : "", &d, err,
	                      errlen) < 0) {
		kb_rollback(kb);
		goto out;
	}
	if (kb_commit(kb, err, errlen) < 0) {
		kb_rollback(kb);
		goto out;
	}
	log_info("event=kb_incident incident=%lld worked=%s signature=%s", (long long)inc->id,
	         outcome, log_q(inc->signature ? inc->signature : ""));
	ret = 0;
out:
	buf_free(&text);
	buf_free(&sym);
	return ret;
}

/* ---- incremental indexing ---------------------------------------------- */

static uint64_t kb_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct kb_files {
	char **rel; /* paths relative to the root, sorted */
	size_t n, cap;
};

static int kb_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int kb_walk(const char *root, const char *rel, struct kb_files *f, int depth, char *err,
                   size_t errlen)
{
	char path[KB_PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "%s: cannot read folder: %s", path, strerror(errno));
		return -1;
	}
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char sub[KB_PATH_MAX], full[KB_PATH_MAX];
		int n1 = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		int n2 = snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (n1 >= (int)sizeof(sub) || n2 >= (int)sizeof(full))
			continue;
		struct stat sb;
		if (stat(full, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth < 8)
				ret = kb_walk(root, sub, f, depth + 1, err, errlen);
			continue;
		}
		size_t len = strlen(de->d_name);
		if (!S_ISREG(sb.st_mode) || len < 4 || strcmp(de->d_name + len - 3, ".md") != 0 ||
		    strcmp(de->d_name, "README.md") == 0)
			continue;
		if (f->n == KB_MAX_FILES) {
			snprintf(err, errlen, "%s: more than %d runbooks", root, KB_MAX_FILES);
			ret = -1;
			break;
		}
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			f->rel = xrealloc(f->rel, f->cap * sizeof(*f->rel));
		}
		f->rel[f->n++] = xstrdup(sub);
	}
	closedir(d);
	return ret;
}

static int kb_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct buf b = {.max = RUNBOOK_MAX_BYTES + 1};
	char chunk[8192];
	size_t n;
	int ret = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) < 0) {
			snprintf(err, errlen, "%s:1: file is larger than %d bytes", path,
			         RUNBOOK_MAX_BYTES);
			ret = -1;
			break;
		}
	if (ret == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		ret = -1;
	}
	fclose(fp);
	if (ret < 0) {
		buf_free(&b);
		return -1;
	}
	*data = b.data ? b.data : xstrdup("");
	*len = b.len;
	return 0;
}

/* Index one file when it changed.  1 changed, 0 unchanged, -1 parse error. */
static int kb_index_file(struct kb *kb, const char *root, const char *rel,
                         const char *const *catalog, struct kb_index_stats *stats, char *err,
                         size_t errlen, int *dberr)
{
	char path[KB_PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	struct stat sb;
	if (stat(path, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	sqlite3_stmt *st;
	if (kb_prepare(kb, "SELECT mtime, size, hash FROM docs WHERE source = ?1", &st, err,
	               errlen) < 0) {
		*dberr = 1;
		return -1;
	}
	sqlite3_bind_text(st, 1, rel, -1, SQLITE_STATIC);
	int have = 0;
	int64_t old_mtime = 0, old_size = 0;
	uint64_t old_hash = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		have = 1;
		old_mtime = sqlite3_column_int64(st, 0);
		old_size = sqlite3_column_int64(st, 1);
		old_hash = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (have && old_mtime == mtime && old_size == (int64_t)sb.st_size)
		return 0;
	char *data;
	size_t len;
	if (kb_read_file(path, &data, &len, err, errlen) < 0)
		return -1;
	uint64_t h = kb_hash(data, len);
	int ret;
	if (have && h == old_hash) {
		/* Touched, not changed: remember the new mtime only. */
		ret = 0;
		if (kb_prepare(kb, "UPDATE docs SET mtime = ?1, size = ?2 WHERE source = ?3", &st,
		               err, errlen) == 0) {
			sqlite3_bind_int64(st, 1, mtime);
			sqlite3_bind_int64(st, 2, (int64_t)sb.st_size);
			sqlite3_bind_text(st, 3, rel, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE) {
				snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
				*dberr = 1;
				ret = -1;
			}
			sqlite3_finalize(st);
		} else {
			*dberr = 1;
			ret = -1;
		}
		free(data);
		return ret;
	}
	struct runbook rb;
	if (runbook_parse(path, data, len, catalog, &rb, err, errlen) < 0) {
		free(data);
		return -1;
	}
	ret = kb_put_runbook(kb, rel, &rb, mtime, (int64_t)sb.st_size, h, err, errlen);
	if (ret < 0)
		*dberr = 1;
	else
		stats->sections += (int)rb.nsections;
	runbook_free(&rb);
	free(data);
	return ret < 0 ? -1 : 1;
}

int kb_index_dir(struct kb *kb, const char *dir, const char *const *catalog, struct embed *emb,
                 struct kb_index_stats *st, void (*report)(const char *msg, void *arg), void *arg,
                 char *err, size_t errlen)
{
	struct kb_files files = {0};
	struct kb_index_stats s = {0};
	sqlite3_stmt *q = NULL;
	int ret = -1, failed = 0;
	err[0] = '\0';
	if (kb_walk(dir, "", &files, 0, err, errlen) < 0)
		goto out;
	qsort(files.rel, files.n, sizeof(*files.rel), kb_cmp_str);
	if (kb_begin(kb, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < files.n; i++) {
		char ferr[1600];
		int dberr = 0;
		s.scanned++;
		int rc =
		    kb_index_file(kb, dir, files.rel[i], catalog, &s, ferr, sizeof(ferr), &dberr);
		if (dberr) {
			str_copy(err, errlen, ferr);
			kb_rollback(kb);
			goto out;
		}
		if (rc < 0) {
			s.failed++;
			failed = 1;
			if (report)
				report(ferr, arg);
		} else if (rc > 0) {
			s.changed++;
		} else {
			s.unchanged++;
		}
	}
	/* Runbooks whose file is gone. */
	if (kb_prepare(kb, "SELECT source FROM docs WHERE kind = 'runbook'", &q, err, errlen) < 0) {
		kb_rollback(kb);
		goto out;
	}
	struct kb_files gone = {0};
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(q, 0);
		if (bsearch(&src, files.rel, files.n, sizeof(*files.rel), kb_cmp_str))
			continue;
		if (gone.n == gone.cap) {
			gone.cap = gone.cap ? gone.cap * 2 : 16;
			gone.rel = xrealloc(gone.rel, gone.cap * sizeof(*gone.rel));
		}
		gone.rel[gone.n++] = xstrdup(src);
	}
	sqlite3_finalize(q);
	q = NULL;
	int bad = 0;
	for (size_t i = 0; i < gone.n; i++) {
		if (!bad && kb_delete_source(kb, gone.rel[i], err, errlen) < 0)
			bad = 1;
		s.removed++;
		free(gone.rel[i]);
	}
	free(gone.rel);
	if (bad) {
		kb_rollback(kb);
		goto out;
	}
	if (kb_commit(kb, err, errlen) < 0) {
		kb_rollback(kb);
		goto out;
	}
	if (emb && kb_embed_missing(kb, emb, &s.embedded, err, errlen) < 0)
		goto out;
	if (failed)
		snprintf(err, errlen, "%d of %d runbooks could not be indexed", s.failed,
		         s.scanned);
	ret = failed ? -1 : 0;
out:
	for (size_t i = 0; i < files.n; i++)
		free(files.rel[i]);
	free(files.rel);
	if (st)
		*st = s;
	return ret;
}

/* ---- vectors ----------------------------------------------------------- */

static int kb_meta_get(struct kb *kb, const char *key, char *val, size_t vallen)
{
	sqlite3_stmt *st;
	char err[128];
	val[0] = '\0';
	if (kb_prepare(kb, "SELECT value FROM meta WHERE key = ?1", &st, err, sizeof(err)) < 0)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		str_copy(val, vallen, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return found ? 0 : -1;
}

static int kb_meta_set(struct kb *kb, const char *key, const char *val, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(kb, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &st, err,
	               errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
		return -1;
	}
	return 0;
}

int kb_embed_missing(struct kb *kb, struct embed *emb, int *embedded, char *err, size_t errlen)
{
	char model[256];
	*embedded = 0;
	if (kb_meta_get(kb, "embed_model", model, sizeof(model)) < 0 ||
	    strcmp(model, embed_model(emb)) != 0) {
		if (kb_begin(kb, err, errlen) < 0)
			return -1;
		if (kb_exec(kb, "UPDATE sections SET embedding = NULL", err, errlen) < 0 ||
		    kb_meta_set(kb, "embed_model", embed_model(emb), err, errlen) < 0 ||
		    kb_commit(kb, err, errlen) < 0) {
			kb_rollback(kb);
			return -1;
		}
	}
	for (;;) {
		sqlite3_stmt *st;
		if (kb_prepare(kb,
		               "SELECT s.id, d.title || char(10) || s.name || char(10) ||"
		               " coalesce(d.symptoms, '') || char(10) || s.text"
		               " FROM sections s JOIN docs d ON d.id = s.doc"
		               " WHERE s.embedding IS NULL ORDER BY s.id LIMIT 128",
		               &st, err, errlen) < 0)
			return -1;
		int64_t ids[128];
		char *texts[128];
		size_t n = 0;
		while (n < 128 && sqlite3_step(st) == SQLITE_ROW) {
			ids[n] = sqlite3_column_int64(st, 0);
			texts[n++] = xstrdup((const char *)sqlite3_column_text(st, 1));
		}
		sqlite3_finalize(st);
		if (n == 0)
			return 0;
		float *vec = NULL;
		size_t dim = 0;
		int rc = embed_texts(emb, (const char *const *)texts, n, &vec, &dim, err, errlen);
		for (size_t i = 0; i < n; i++)
			free(texts[i]);
		if (rc < 0)
			return -1;
		rc = kb_begin(kb, err, errlen);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = kb_prepare(kb, "UPDATE sections SET embedding = ?1 WHERE id = ?2", &st,
			                err, errlen);
			if (rc < 0)
				break;
			sqlite3_bind_blob(st, 1, vec + i * dim, (int)(dim * sizeof(float)),
			                  SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, ids[i]);
			if (sqlite3_step(st) != SQLITE_DONE) {
				snprintf(err, errlen, "knowledge db: %s", sqlite3_errmsg(kb->db));
				rc = -1;
			}
			sqlite3_finalize(st);
		}
		free(vec);
		if (rc < 0 || kb_commit(kb, err, errlen) < 0) {
			kb_rollback(kb);
			return -1;
		}
		*embedded += (int)n;
	}
}

static int64_t kb_stamp(struct kb *kb)
{
	sqlite3_stmt *st;
	char err[128];
	int64_t v = 0;
	if (kb_prepare(kb, "PRAGMA data_version", &st, err, sizeof(err)) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return (v << 32) ^ (int64_t)sqlite3_total_changes64(kb->db);
}

/* Make sure the vector cache matches the file. */
static int kb_vec_load(struct kb *kb, char *err, size_t errlen)
{
	int64_t stamp = kb_stamp(kb);
	if (stamp == kb->vec_stamp)
		return 0;
	free(kb->vec_ids);
	free(kb->vec);
	kb->vec_ids = NULL;
	kb->vec = NULL;
	kb->vec_n = kb->vec_dim = 0;
	sqlite3_stmt *st;
	if (kb_prepare(kb, "SELECT id, embedding FROM sections WHERE embedding IS NOT NULL", &st,
	               err, errlen) < 0)
		return -1;
	size_t cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t bytes = (size_t)sqlite3_column_bytes(st, 1);
		size_t dim = bytes / sizeof(float);
		if (dim == 0 || (kb->vec_dim && dim != kb->vec_dim))
			continue; /* a vector of another size: not comparable, skip */
		if (kb->vec_n == cap) {
			cap = cap ? cap * 2 : 256;
			if (cap * dim > KB_VEC_MAX)
				break;
			kb->vec_ids = xrealloc(kb->vec_ids, cap * sizeof(*kb->vec_ids));
			kb->vec = xrealloc(kb->vec, cap * dim * sizeof(float));
		}
		kb->vec_dim = dim;
		kb->vec_ids[kb->vec_n] = sqlite3_column_int64(st, 0);
		memcpy(kb->vec + kb->vec_n * dim, sqlite3_column_blob(st, 1), bytes);
		kb->vec_n++;
	}
	sqlite3_finalize(st);
	kb->vec_stamp = stamp;
	return 0;
}

/* ---- search ------------------------------------------------------------ */

struct kb_cand {
	int64_t id;
	double score;
	int lex_rank, vec_rank; /* 1-based, 0 when absent */
};

static int kb_cand_cmp(const void *a, const void *b)
{
	const struct kb_cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static struct kb_cand *kb_cand_find(struct kb_cand *c, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].id == id)
			return &c[i];
	return NULL;
}

/* Top KB_CANDIDATES sections for match; the first ntyped phrases are typed words. */
static int kb_lexical(struct kb *kb, const char *match, size_t ntyped, const double *dfs,
                      size_t ndfs, struct kb_cand *c, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(kb,
	               "SELECT rowid, kbrank(fts, ?2, ?3, ?4, ?5, ?6, ?7, ?9) AS r FROM fts"
	               " WHERE fts MATCH ?1 ORDER BY r DESC LIMIT ?8",
	               &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, kb->w.title);
	sqlite3_bind_double(st, 3, kb->w.symptoms);
	sqlite3_bind_double(st, 4, kb->w.body);
	sqlite3_bind_double(st, 5, kb->w.services);
	sqlite3_bind_int(st, 6, (int)ntyped);
	sqlite3_bind_double(st, 7, kb->expand_weight);
	sqlite3_bind_int(st, 8, KB_CANDIDATES);
	sqlite3_bind_blob(st, 9, dfs, (int)(ndfs * sizeof(double)), SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < KB_CANDIDATES) {
		c[*n].id = sqlite3_column_int64(st, 0);
		c[*n].score = sqlite3_column_double(st, 1);
		c[*n].lex_rank = (int)*n + 1;
		c[*n].vec_rank = 0;
		(*n)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "knowledge db search: %s", sqlite3_errmsg(kb->db));
		return -1;
	}
	return 0;
}

/* Top KB_CANDIDATES sections by cosine to the query vector. */
static void kb_dense(struct kb *kb, const float *q, struct kb_cand *out, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < kb->vec_n; i++) {
		const float *v = kb->vec + i * kb->vec_dim;
		double dot = 0;
		for (size_t j = 0; j < kb->vec_dim; j++)
			dot += (double)v[j] * q[j];
		/* Keep the best KB_CANDIDATES in out[], sorted, by insertion. */
		if (*n == KB_CANDIDATES && dot <= out[*n - 1].score)
			continue;
		size_t pos = *n < KB_CANDIDATES ? (*n)++ : *n - 1;
		while (pos > 0 && out[pos - 1].score < dot) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = (struct kb_cand){.id = kb->vec_ids[i], .score = dot};
	}
	for (size_t i = 0; i < *n; i++)
		out[i].vec_rank = (int)i + 1;
}

/* Does text contain a word like w (same word, or the same stem roughly)? */
struct kb_like {
	const char *w;
	size_t wn;
	int found;
};

static void kb_like_word(const char *x, size_t n, void *arg)
{
	struct kb_like *l = arg;
	if (l->found)
		return;
	if (n == l->wn && memcmp(x, l->w, n) == 0) {
		l->found = 1;
		return;
	}
	size_t m = n < l->wn ? n : l->wn;
	size_t need = m > 6 ? m - 2 : 4;
	if (n >= 4 && l->wn >= 4 && m >= need && memcmp(x, l->w, need) == 0)
		l->found = 1;
}

static int kb_text_has(const char *text, const char *w)
{
	struct kb_like l = {w, strlen(w), 0};
	expand_words(text, strlen(text), kb_like_word, &l);
	return l.found;
}

static char *kb_why(const struct expand_query *q, const char *text, int vec_rank, int lex_rank)
{
	struct buf b = {.max = 1024};
	size_t n = 0;
	for (size_t i = 0; i < q->nterms; i++)
		if (kb_text_has(text, q->terms[i]))
			buf_appendf(&b, "%s%s", n++ ? ", " : "matched ", q->terms[i]);
	size_t m = 0;
	for (size_t i = 0; i < q->nextra; i++)
		if (kb_text_has(text, q->extra[i]))
			buf_appendf(&b, "%s%s -> %s",
			            m++ ? ", "
			            : n ? "; expanded "
			                : "expanded ",
			            q->via[i], q->extra[i]);
	if (vec_rank)
		buf_appendf(&b, "%ssimilar meaning (rank %d)", n + m ? "; " : "", vec_rank);
	if (!b.data || !b.len)
		buf_appendf(&b, lex_rank ? "matched by word stems" : "similar meaning");
	return b.data;
}

/* Cut at max bytes on a UTF-8 boundary; caller frees. */
static char *kb_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return xstrdup(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	char *r = xmalloc(n + 4);
	memcpy(r, s, n);
	memcpy(r + n, "...", 4);
	return r;
}

/*
 * What ordering needs (source, outcome, signature); text and why come later.
 * st is "SELECT d.source, s.name, d.title, d.kind, d.incident, d.worked,
 * d.signature ... WHERE s.id = ?1", prepared once per search.
 */
static int kb_load_hit(sqlite3_stmt *st, const struct kb_cand *c, struct kb_hit *h)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, c->id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return 1; /* deleted since the match: skip */
	memset(h, 0, sizeof(*h));
	h->source = xstrdup((const char *)sqlite3_column_text(st, 0));
	h->section = xstrdup((const char *)sqlite3_column_text(st, 1));
	h->title = xstrdup((const char *)sqlite3_column_text(st, 2));
	h->kind = xstrdup((const char *)sqlite3_column_text(st, 3));
	h->incident = sqlite3_column_int64(st, 4);
	h->worked = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
	h->signature = sqlite3_column_type(st, 6) == SQLITE_NULL
	                   ? NULL
	                   : xstrdup((const char *)sqlite3_column_text(st, 6));
	h->score = c->score;
	h->id = c->id;
	h->lex_rank = c->lex_rank;
	h->vec_rank = c->vec_rank;
	return 0;
}

/* The text of a hit and why it matched. */
static int kb_fill_hit(struct kb *kb, const struct expand_query *q, struct kb_hit *h, char *err,
                       size_t errlen)
{
	sqlite3_stmt *st;
	if (kb_prepare(kb,
	               "SELECT s.text, coalesce(d.symptoms, ''), d.kind, coalesce(d.actions, '')"
	               " FROM sections s JOIN docs d ON d.id = s.doc WHERE s.id = ?1",
	               &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, h->id);
	const char *text = "", *sym = "", *kind = "", *acts = "";
	if (sqlite3_step(st) == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(st, 0);
		sym = (const char *)sqlite3_column_text(st, 1);
		kind = (const char *)sqlite3_column_text(st, 2);
		acts = (const char *)sqlite3_column_text(st, 3);
	}
	h->text = kb_cut(text, KB_HIT_TEXT);
	/* A runbook passage carries its front matter's catalog actions, so a
	 * planner reading any section sees what the runbook suggests. */
	if (strcmp(kind, "runbook") == 0 && *acts) {
		char *t = xasprintf("%s\nSuggested actions: %s", h->text, acts);
		free(h->text);
		h->text = t;
	}
	char *all = xasprintf("%s\n%s\n%s\n%s", h->title, h->section, sym, text);
	h->why = kb_why(q, all, h->vec_rank, h->lex_rank);
	free(all);
	sqlite3_finalize(st);
	return 0;
}

static void kb_hit_free(struct kb_hit *h)
{
	free(h->source);
	free(h->section);
	free(h->title);
	free(h->kind);
	free(h->why);
	free(h->text);
	free(h->signature);
}

static int kb_worked_rank(int worked)
{
	return worked == 1 ? 2 : worked < 0 ? 1 : 0;
}

/*
 * Invariant 4: within each signature, reorder the incident hits that share
 * it so that worked > unknown > failed, keeping the positions the group
 * holds (other hits do not move).
 */
static void kb_order_incidents(struct kb_hit *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!h[i].signature)
			continue;
		/* Gather the group starting at its first member i. */
		size_t pos[KB_CANDIDATES * 2], g = 0;
		int first = 1;
		for (size_t j = 0; j < i && first; j++)
			if (h[j].signature && strcmp(h[j].signature, h[i].signature) == 0)
				first = 0;
		if (!first)
			continue;
		for (size_t j = i; j < n && g < KB_CANDIDATES * 2; j++)
			if (h[j].signature && strcmp(h[j].signature, h[i].signature) == 0)
				pos[g++] = j;
		/* Stable insertion sort of the group's members by outcome. */
		for (size_t a = 1; a < g; a++)
			for (size_t b = a; b > 0; b--) {
				struct kb_hit *x = &h[pos[b - 1]], *y = &h[pos[b]];
				if (kb_worked_rank(x->worked) >= kb_worked_rank(y->worked))
					break;
				struct kb_hit t = *x;
				double sx = x->score, sy = y->score;
				*x = *y;
				*y = t;
				x->score = sx; /* positions keep their scores */
				y->score = sy;
			}
	}
}

/* Sections in the index, cached until the file changes. */
static int64_t kb_nrows(struct kb *kb)
{
	int64_t stamp = kb_stamp(kb);
	if (stamp == kb->nrows_stamp)
		return kb->nrows;
	/* The lengths kbrank reads follow the same rows (see rank.h). */
	if (kb->sizes.enabled && rank_sizes_load(&kb->sizes, kb->db, "fts", 4) < 0)
		log_warn("event=kb_size_cache_failed error=%s", log_q(sqlite3_errmsg(kb->db)));
	sqlite3_stmt *st;
	char err[128];
	kb->nrows = 0;
	if (kb_prepare(kb, "SELECT count(*) FROM sections", &st, err, sizeof(err)) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			kb->nrows = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	kb->nrows_stamp = stamp;
	return kb->nrows;
}

/*
 * Drop words that cannot help: those in no section, and those in more than
 * common_share of all sections (BM25 gives them almost no weight, yet they
 * are the costly ones: every section holding them must be scored).  When
 * every typed word is common, the rarest one stays so the query still
 * means something.
 */
static void kb_prune(struct kb *kb, char **w, const char **via, size_t *n, int keep_one,
                     double *dfs_out)
{
	int64_t rows = kb_nrows(kb);
	sqlite3_stmt *st;
	char err[128];
	for (size_t i = 0; i < *n; i++)
		dfs_out[i] = -1;
	if (rows == 0 || *n == 0 ||
	    kb_prepare(kb, "SELECT doc FROM fts_vocab WHERE term = ?1", &st, err, sizeof(err)) < 0)
		return;
	int64_t df[EXPAND_MAX_TERMS > EXPAND_MAX_EXTRA ? EXPAND_MAX_TERMS : EXPAND_MAX_EXTRA];
	size_t rarest = 0;
	for (size_t i = 0; i < *n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, w[i], -1, SQLITE_STATIC);
		/* A word the tokenizer would spell differently is kept (df unknown). */
		df[i] = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
		if (df[i] > 0 && (df[rarest] <= 0 || df[i] < df[rarest]))
			rarest = i;
	}
	sqlite3_finalize(st);
	double limit = kb->common_share * (double)rows;
	if (limit < KB_COMMON_FLOOR)
		limit = KB_COMMON_FLOOR;
	size_t survivors = 0;
	for (size_t i = 0; i < *n; i++)
		if (!(df[i] > 0 && (double)df[i] > limit))
			survivors++;
	size_t j = 0;
	for (size_t i = 0; i < *n; i++) {
		int common = df[i] > 0 && (double)df[i] > limit;
		if (common && !(keep_one && survivors == 0 && i == rarest)) {
			free(w[i]);
			continue;
		}
		w[j] = w[i];
		if (via)
			via[j] = via[i];
		dfs_out[j] = (double)df[i];
		j++;
	}
	*n = j;
}

/* Keep at most per hits of one source; later ones drop out, order is kept. */
static void kb_diversify(struct kb_result *r, size_t per)
{
	size_t j = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t same = 0;
		for (size_t x = 0; x < j; x++)
			if (strcmp(r->hits[x].source, r->hits[i].source) == 0)
				same++;
		if (same >= per) {
			kb_hit_free(&r->hits[i]);
			continue;
		}
		r->hits[j++] = r->hits[i];
	}
	r->n = j;
}

struct kb_svc_acc {
	struct buf *b;
	int n;
};

static void kb_svc_word(const char *w, size_t n, void *arg)
{
	struct kb_svc_acc *a = arg;
	if (a->n++ < 8)
		buf_appendf(a->b, "%s%.*s", a->n > 1 ? " " : "", (int)n, w);
}

int kb_search(struct kb *kb, const char *query, int flags, const struct expand *e,
              struct embed *emb, size_t k, struct kb_result *out, char *err, size_t errlen)
{
	return kb_search_for(kb, query, NULL, flags, e, emb, k, out, err, errlen);
}

int kb_search_for(struct kb *kb, const char *query, const char *service, int flags,
                  const struct expand *e, struct embed *emb, size_t k, struct kb_result *out,
                  char *err, size_t errlen)
{
	struct expand_query q;
	struct kb_cand lex[KB_CANDIDATES], vec[KB_CANDIDATES], all[KB_CANDIDATES * 2];
	size_t nlex = 0, nvec = 0, nall = 0;
	struct buf match = {.max = 16 * 1024};
	int ret = -1;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (k > KB_MAX_K)
		k = KB_MAX_K;
	/* One read transaction: every statement and the caches loaded below see
	 * the same snapshot, even while another process re-indexes. */
	int own_txn = sqlite3_get_autocommit(kb->db);
	if (own_txn && kb_exec(kb, "BEGIN", err, errlen) < 0)
		return -1;
	expand_query(e, query, (flags & KB_EXPAND) != 0, &q);
	double dfs[EXPAND_MAX_TERMS + EXPAND_MAX_EXTRA];
	kb_prune(kb, q.terms, NULL, &q.nterms, 1, dfs);
	kb_prune(kb, q.extra, q.via, &q.nextra, 0, dfs + q.nterms);
	/* One query: typed words first, then expansion words (weighted in kbrank). */
	int have = expand_match(&q, (flags & KB_EXPAND) != 0, &match) == 0;
	size_t ndfs = q.nterms + ((flags & KB_EXPAND) ? q.nextra : 0);
	if (have && service && *service) {
		/* The service counts only where runbooks and incidents name their
		 * services, weighted like an expansion word: "checkout" in a sales
		 * runbook's text says nothing about a checkout incident. */
		struct buf svc = {.max = 512};
		struct kb_svc_acc acc = {&svc, 0};
		expand_words(service, strnlen(service, 256), kb_svc_word, &acc);
		if (svc.len && ndfs < sizeof(dfs) / sizeof(dfs[0])) {
			buf_appendf(&match, " OR services : \"%s\"", svc.data);
			dfs[ndfs++] = -1;
		}
		buf_free(&svc);
	}
	if (have && kb_lexical(kb, match.data, q.nterms, dfs, ndfs, lex, &nlex, err, errlen) < 0)
		goto out;
	if ((flags & KB_DENSE) && emb) {
		float *qv = NULL;
		size_t dim = 0;
		const char *texts[] = {query};
		char eerr[256];
		if (embed_texts(emb, texts, 1, &qv, &dim, eerr, sizeof(eerr)) < 0) {
			snprintf(err, errlen, "vector search skipped: %s", eerr);
		} else if (kb_vec_load(kb, err, errlen) < 0) {
			free(qv);
			goto out;
		} else if (kb->vec_n && dim == kb->vec_dim) {
			kb_dense(kb, qv, vec, &nvec);
			out->dense_used = 1;
		} else if (kb->vec_n) {
			snprintf(
			    err, errlen,
			    "vector search skipped: query vector has %zu numbers, index has %zu",
			    dim, kb->vec_dim);
		}
		free(qv);
	}
	/* Fuse: reciprocal rank when both rankers ran, else the one that did. */
	for (size_t i = 0; i < nlex; i++)
		all[nall++] = lex[i];
	if (out->dense_used) {
		for (size_t i = 0; i < nall; i++)
			all[i].score = 1.0 / (KB_RRF_K + all[i].lex_rank);
		for (size_t i = 0; i < nvec; i++) {
			struct kb_cand *c = kb_cand_find(all, nall, vec[i].id);
			if (!c) {
				c = &all[nall++];
				*c = (struct kb_cand){.id = vec[i].id, .score = 0};
			}
			c->vec_rank = vec[i].vec_rank;
			c->score += 1.0 / (KB_RRF_K + vec[i].vec_rank);
		}
		qsort(all, nall, sizeof(*all), kb_cand_cmp);
	}
	out->hits = xcalloc(nall ? nall : 1, sizeof(*out->hits));
	sqlite3_stmt *ld;
	if (kb_prepare(kb,
	               "SELECT d.source, s.name, d.title, d.kind, d.incident, d.worked,"
	               " d.signature FROM sections s JOIN docs d ON d.id = s.doc WHERE s.id = ?1",
	               &ld, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < nall; i++)
		if (kb_load_hit(ld, &all[i], &out->hits[out->n]) == 0)
			out->n++;
	sqlite3_finalize(ld);
	kb_order_incidents(out->hits, out->n);
	kb_diversify(out, (size_t)kb->per_source);
	while (out->n > k)
		kb_hit_free(&out->hits[--out->n]);
	for (size_t i = 0; i < out->n; i++)
		if (kb_fill_hit(kb, &q, &out->hits[i], err, errlen) < 0)
			goto out;
	ret = 0;
out:
	if (own_txn) {
		char cerr[128];
		kb_exec(kb, "COMMIT", cerr, sizeof(cerr));
	}
	if (ret < 0)
		kb_result_free(out);
	expand_query_free(&q);
	buf_free(&match);
	return ret;
}

void kb_result_free(struct kb_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		kb_hit_free(&r->hits[i]);
	free(r->hits);
	memset(r, 0, sizeof(*r));
}

int kb_counts(struct kb *kb, int64_t *docs, int64_t *sections, int64_t *incidents)
{
	sqlite3_stmt *st;
	char err[128];
	if (kb_prepare(kb,
	               "SELECT (SELECT count(*) FROM docs WHERE kind = 'runbook'),"
	               " (SELECT count(*) FROM sections),"
	               " (SELECT count(*) FROM docs WHERE kind = 'incident')",
	               &st, err, sizeof(err)) < 0)
		return -1;
	int ok = sqlite3_step(st) == SQLITE_ROW;
	if (ok) {
		*docs = sqlite3_column_int64(st, 0);
		*sections = sqlite3_column_int64(st, 1);
		*incidents = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}
