/*
 * runbook.h: one Markdown runbook split into its front matter and sections.
 *
 * A runbook starts with a front matter block:
 *
 *   ---
 *   title: High latency on a service          (required)
 *   services: checkout, any                    (optional, default "any")
 *   symptoms: p99 latency high, timeouts       (required)
 *   actions: scale_service, rollback_deploy    (required, catalog names)
 *   ---
 *
 * then Markdown.  Each "## Heading" starts a section; text before the first
 * heading is the section "Overview".  A section is what a search hit cites.
 *
 * Errors name the file and line ("knowledge/x.md:4: unknown key 'titel'").
 *
 * Ownership: every string in a struct runbook belongs to it until
 * runbook_free().
 */
#ifndef OPSBOT_RETRIEVE_RUNBOOK_H
#define OPSBOT_RETRIEVE_RUNBOOK_H

#include <stddef.h>

#define RUNBOOK_MAX_BYTES    (1 << 20) /* a bigger file is refused */
#define RUNBOOK_MAX_SECTIONS 256
#define RUNBOOK_MAX_ACTIONS  32

struct runbook_section {
	char *name; /* heading text, or "Overview" */
	char *text; /* body of the section without its heading line */
	int line;   /* 1-based line of the heading (or first body line) */
};

struct runbook {
	char *title;
	char *services; /* comma-separated, as written */
	char *symptoms;
	char *actions[RUNBOOK_MAX_ACTIONS];
	size_t nactions;
	struct runbook_section *sections;
	size_t nsections;
};

/*
 * Parse text[0..len) of the file `path` (used only in messages).  catalog is
 * a NULL-terminated list of known action names, or NULL to check only their
 * spelling.  Returns 0, or -1 with "path:line: what is wrong" in err.
 */
int runbook_parse(const char *path, const char *text, size_t len, const char *const *catalog,
                  struct runbook *out, char *err, size_t errlen);
void runbook_free(struct runbook *rb);

#endif
