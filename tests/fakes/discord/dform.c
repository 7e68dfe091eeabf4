/* dform.c: a strict multipart/form-data reader for fake-discord's file uploads. */
#include "dform.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

#define BOUNDARY_MAX 70 /* RFC 2046 */

int dform_is_multipart(const char *ct)
{
	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "multipart/form-data", 19) == 0 &&
	       (ct[19] == 0 || ct[19] == ';' || ct[19] == ' ');
}

/*
 * The value of parameter key in a header value like `form-data; name="x"` or
 * `multipart/form-data; boundary=abc`.  1 found, 0 absent, -1 malformed.
 */
static int param(const char *v, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = strchr(v, ';');
	while (p) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, key, kl) == 0 && p[kl] == '=') {
			p += kl + 1;
			size_t n = 0;
			if (*p == '"') {
				p++;
				const char *e = strchr(p, '"');
				if (!e)
					return -1;
				n = (size_t)(e - p);
			} else {
				n = strcspn(p, "; \t");
			}
			if (n >= outlen)
				return -1;
			memcpy(out, p, n);
			out[n] = 0;
			return 1;
		}
		/* skip this parameter, minding quotes */
		int q = 0;
		while (*p && (q || *p != ';')) {
			if (*p == '"')
				q = !q;
			p++;
		}
		p = *p ? p : NULL;
	}
	return 0;
}

/* Parse one part's header block [h, hend) into part.  0 or -1. */
static int part_headers(const char *h, const char *hend, struct dform_part *part, char *err,
                        size_t errlen)
{
	int have_disp = 0;
	while (h < hend) {
		const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
		size_t n = eol ? (size_t)(eol - h) : (size_t)(hend - h);
		char line[1024];
		if (n >= sizeof line) {
			snprintf(err, errlen, "a part header is longer than %zu bytes",
			         sizeof line - 1);
			return -1;
		}
		memcpy(line, h, n);
		line[n] = 0;
		if (memchr(h, 0, n)) {
			snprintf(err, errlen, "a part header contains a NUL byte");
			return -1;
		}
		h += n + (eol ? 2 : 0);
		char *colon = strchr(line, ':');
		if (!colon) {
			snprintf(err, errlen, "a part header has no colon");
			return -1;
		}
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (strncasecmp(v, "form-data", 9) != 0 || (v[9] && v[9] != ';')) {
				snprintf(err, errlen,
				         "a part's Content-Disposition is not form-data");
				return -1;
			}
			if (param(v, "name", part->name, sizeof part->name) != 1 ||
			    !part->name[0]) {
				snprintf(err, errlen, "a part has no name (or one over %zu bytes)",
				         sizeof part->name - 1);
				return -1;
			}
			int fr = param(v, "filename", part->filename, sizeof part->filename);
			if (fr < 0) {
				snprintf(err, errlen,
				         "a part's filename is malformed or over %zu bytes",
				         sizeof part->filename - 1);
				return -1;
			}
			part->has_filename = fr == 1;
			have_disp = 1;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			str_copy(part->ctype, sizeof part->ctype, v);
		}
	}
	if (!have_disp) {
		snprintf(err, errlen, "a part has no Content-Disposition");
		return -1;
	}
	return 0;
}

int dform_parse(const char *content_type, const char *body, size_t len, struct dform *f, char *err,
                size_t errlen)
{
	memset(f, 0, sizeof *f);
	char boundary[BOUNDARY_MAX + 1];
	if (!dform_is_multipart(content_type)) {
		snprintf(err, errlen, "not multipart/form-data");
		return -1;
	}
	if (param(content_type, "boundary", boundary, sizeof boundary) != 1 || !boundary[0]) {
		snprintf(err, errlen, "no boundary (1-%d characters) in Content-Type",
		         BOUNDARY_MAX);
		return -1;
	}
	char delim[BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
	int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	const char *end = body + len;
	/* The first delimiter may open the body (no CRLF before it) or follow a preamble. */
	const char *p;
	if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0)
		p = body + dl - 2;
	else {
		p = memmem(body, len, delim, (size_t)dl);
		if (!p) {
			snprintf(err, errlen, "the body has no part with the boundary");
			return -1;
		}
		p += dl;
	}
	for (;;) {
		/* p is just past a delimiter: "--" closes, CRLF opens a part */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t')) /* transport padding */
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
			snprintf(err, errlen, "a boundary line does not end with CRLF");
			return -1;
		}
		p += 2;
		if (f->nparts == DFORM_MAX_PARTS) {
			snprintf(err, errlen, "more than %d parts", DFORM_MAX_PARTS);
			return -1;
		}
		struct dform_part *part = &f->parts[f->nparts];
		const char *hend;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			hend = p; /* no headers at all */
		else {
			hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
			if (!hend) {
				snprintf(err, errlen, "a part's headers do not end");
				return -1;
			}
		}
		if (part_headers(p, hend, part, err, errlen) < 0)
			return -1;
		p = hend + (hend == p ? 2 : 4);
		const char *next = memmem(p, (size_t)(end - p), delim, (size_t)dl);
		if (!next) {
			snprintf(err, errlen, "part \"%s\" is not closed by the boundary",
			         part->name);
			return -1;
		}
		part->data = p;
		part->len = (size_t)(next - p);
		f->nparts++;
		p = next + dl;
	}
	return 0;
}

const struct dform_part *dform_get(const struct dform *f, const char *name)
{
	for (int i = 0; i < f->nparts; i++)
		if (strcmp(f->parts[i].name, name) == 0)
			return &f->parts[i];
	return NULL;
}

int dform_file_index(const char *name)
{
	if (strncmp(name, "files[", 6) != 0)
		return -1;
	const char *d = name + 6;
	size_t n = strspn(d, "0123456789");
	if (n == 0 || n > 4 || d[n] != ']' || d[n + 1] != 0)
		return -1;
	return (int)strtol(d, NULL, 10);
}
