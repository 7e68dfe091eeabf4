/*
 * doc.h: a small flowing-document layer over cairo + pango for opsbot's
 * PDFs (incident summaries and digests).
 *
 * A document is composed by a callback that adds blocks top to bottom
 * (headings, paragraphs, key/value rows, table rows, monospace output,
 * charts); the layer breaks pages where a block does not fit, splitting
 * long paragraphs between lines, and draws a footer with "page N of M" on
 * every page.  To know M, the callback runs twice: once to count pages
 * (nothing drawn), once to draw; it must add the same blocks both times.
 *
 * All text is set with pango as plain text (never markup), so any Unicode
 * lays out and nothing in the text is interpreted.  Every text block wraps
 * at word or character boundaries inside the content width: nothing can
 * run past the margin.
 *
 * Ownership: a struct doc lives only inside doc_render; text arguments are
 * copied by pango as needed.
 */
#ifndef OPSBOT_REPORT_DOC_H
#define OPSBOT_REPORT_DOC_H

#include <stddef.h>
#include <stdint.h>

enum doc_paper { DOC_A4, DOC_LETTER };

struct doc;

typedef void (*doc_compose_fn)(struct doc *d, void *arg);

/*
 * Render to path (a PDF).  footer is the left part of every page's footer
 * (e.g. "opsbot · incident 12").  Returns 0, or -1 with err.  *pages gets
 * the page count when pages is not NULL.
 */
int doc_render(const char *path, enum doc_paper paper, const char *title, const char *footer,
               doc_compose_fn fn, void *arg, int *pages, char *err, size_t errlen);
int doc_paper_parse(const char *s, enum doc_paper *out);

/* Blocks. */
void doc_title(struct doc *d, const char *text, const char *subtitle);
void doc_heading(struct doc *d, const char *text);
void doc_para(struct doc *d, const char *text);
void doc_note(struct doc *d, const char *text); /* grey italic: missing data etc. */
void doc_kv(struct doc *d, const char *key, const char *value);
/* The key column's share of the width for the doc_kv rows that follow (default 0.24). */
void doc_kv_key_width(struct doc *d, double share);
/* A table row of n cells with widths as fractions of the content width; header rows are bold
 * on a shaded band. */
void doc_row(struct doc *d, int n, const double *widths, const char *const *cells, int header);
void doc_mono(struct doc *d, const char *text);
void doc_space(struct doc *d, double pt);
/* A badge row: coloured severity / state chips. */
void doc_chips(struct doc *d, int n, const char *const *texts, const double (*rgb)[3]);

/* Charts. */
struct doc_series {
	const char *name;
	const char *unit;
	size_t n;
	const int64_t *t_ms;
	const double *v;
};
struct doc_span {
	int64_t from_ms, to_ms;
};
struct doc_mark {
	int64_t at_ms;
	const char *label; /* short, e.g. "1" or "opened" */
	int kind;          /* 0 action (blue), 1 incident event (grey) */
};
/* One chart block: the series over [t0, t1] (a time strip when n == 0). */
void doc_chart(struct doc *d, const char *caption, int64_t t0, int64_t t1,
               const struct doc_series *s, size_t ns, const struct doc_span *spans, size_t nspans,
               const struct doc_mark *marks, size_t nmarks);

/* Usable width in points (for callers that size things). */
double doc_width(const struct doc *d);

#endif
