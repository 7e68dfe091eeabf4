/*
 * dform.h: fake-discord's multipart/form-data reader (RFC 7578), for message
 * creation with files: a `payload_json` part and `files[n]` parts.
 *
 * The reader is strict: CRLF line ends, a boundary from the Content-Type
 * header (quoted or not, 1-70 characters), a closing delimiter, and a
 * Content-Disposition "form-data" with a name on every part.  Anything else
 * is refused with a reason, which the REST side turns into Discord's 50035.
 *
 * Ownership: parts point into the body handed in; they live as long as it.
 */
#ifndef FAKE_DISCORD_DFORM_H
#define FAKE_DISCORD_DFORM_H

#include <stddef.h>

#define DFORM_MAX_PARTS 16

struct dform_part {
	char name[64];
	char filename[256]; /* "" when the part has none */
	char ctype[128];    /* "" when the part has no Content-Type */
	int has_filename;
	const char *data;
	size_t len;
};

struct dform {
	struct dform_part parts[DFORM_MAX_PARTS];
	int nparts;
};

/* 1 when content_type names multipart/form-data (any case, parameters after). */
int dform_is_multipart(const char *content_type);

/* Split body into parts.  0, or -1 with the reason in err. */
int dform_parse(const char *content_type, const char *body, size_t len, struct dform *f, char *err,
                size_t errlen);

/* The first part named name, or NULL. */
const struct dform_part *dform_get(const struct dform *f, const char *name);

/* n when name is "files[n]" (n 0-9999), else -1. */
int dform_file_index(const char *name);

#endif
