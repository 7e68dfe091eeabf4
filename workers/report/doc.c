/*
 * doc.c: flowing PDF documents with cairo + pango (see doc.h).
 */
#include "doc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "mem.h"

#define MARGIN_X   54.0
#define MARGIN_TOP 54.0
#define MARGIN_BOT 60.0
#define FONT_BODY  "DejaVu Sans 9.5"
#define FONT_BOLD  "DejaVu Sans Bold 9.5"
#define FONT_SMALL "DejaVu Sans 8"
#define FONT_NOTE  "DejaVu Sans Oblique 9"
#define FONT_H1    "DejaVu Sans Bold 17"
#define FONT_H2    "DejaVu Sans Bold 12"
#define FONT_MONO  "DejaVu Sans Mono 7.8"
#define CELL_MAX   900 /* bytes of one table cell or kv value; more is trimmed */

struct doc {
	cairo_t *cr;
	cairo_surface_t *surf;
	int dry;       /* counting pass: nothing is drawn */
	int page;      /* 1-based current page */
	int pages;     /* total, known in the drawing pass */
	double pw, ph; /* paper in points */
	double y;      /* cursor: top of the next block */
	double top, bottom, left, width;
	const char *footer;
	double kv_key; /* share of the width for doc_kv's key column */
	PangoFontDescription *f_body, *f_bold, *f_small, *f_note, *f_h1, *f_h2, *f_mono;
};

static cairo_status_t discard(void *closure, const unsigned char *data, unsigned int len)
{
	(void)closure;
	(void)data;
	(void)len;
	return CAIRO_STATUS_SUCCESS;
}

int doc_paper_parse(const char *s, enum doc_paper *out)
{
	if (!strcmp(s, "a4") || !strcmp(s, "A4"))
		*out = DOC_A4;
	else if (!strcmp(s, "letter") || !strcmp(s, "Letter"))
		*out = DOC_LETTER;
	else
		return -1;
	return 0;
}

void doc_kv_key_width(struct doc *d, double share)
{
	d->kv_key = share < 0.1 ? 0.1 : share > 0.6 ? 0.6 : share;
}

double doc_width(const struct doc *d)
{
	return d->width;
}

static PangoLayout *layout(struct doc *d, const PangoFontDescription *f, const char *text,
                           double width)
{
	PangoLayout *l = pango_cairo_create_layout(d->cr);
	pango_layout_set_font_description(l, f);
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	if (width > 0)
		pango_layout_set_width(l, (int)(width * PANGO_SCALE));
	pango_layout_set_text(l, text ? text : "", -1);
	return l;
}

static double layout_h(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)h / PANGO_SCALE;
}

static void footer(struct doc *d)
{
	if (d->dry)
		return;
	cairo_t *cr = d->cr;
	double fy = d->ph - MARGIN_BOT + 22;
	cairo_set_source_rgb(cr, 0.78, 0.78, 0.78);
	cairo_set_line_width(cr, 0.5);
	cairo_move_to(cr, d->left, fy - 6);
	cairo_line_to(cr, d->left + d->width, fy - 6);
	cairo_stroke(cr);
	cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
	PangoLayout *l = layout(d, d->f_small, d->footer, d->width * 0.75);
	pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
	pango_layout_set_height(l, -1);
	cairo_move_to(cr, d->left, fy);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
	char pg[64];
	snprintf(pg, sizeof(pg), "page %d of %d", d->page, d->pages);
	l = layout(d, d->f_small, pg, d->width * 0.25);
	pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
	cairo_move_to(cr, d->left + d->width * 0.75, fy);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
	cairo_set_source_rgb(cr, 0, 0, 0);
}

static void new_page(struct doc *d)
{
	footer(d);
	cairo_show_page(d->cr);
	d->page++;
	d->y = d->top;
}

/* Make room for h points: a new page when the block would not fit (and the page is not empty). */
static void need(struct doc *d, double h)
{
	if (d->y + h > d->bottom && d->y > d->top + 0.5)
		new_page(d);
}

/* Draw a layout at x, flowing its lines over pages as needed. */
static void flow(struct doc *d, PangoLayout *l, double x)
{
	PangoLayoutIter *it = pango_layout_get_iter(l);
	double base = d->y; /* page y of the layout's top */
	double end = 0;
	do {
		PangoRectangle log;
		pango_layout_iter_get_line_extents(it, NULL, &log);
		double ly = (double)log.y / PANGO_SCALE, lh = (double)log.height / PANGO_SCALE;
		if (base + ly + lh > d->bottom && base + ly > d->top + 0.5) {
			new_page(d);
			base = d->top - ly;
		}
		if (!d->dry) {
			double bl = (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE;
			cairo_move_to(d->cr, x + (double)log.x / PANGO_SCALE, base + bl);
			pango_cairo_show_layout_line(d->cr,
			                             pango_layout_iter_get_line_readonly(it));
		}
		end = base + ly + lh;
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
	d->y = end;
}

static char *trimmed(const char *s, size_t max);
#define TITLE_MAX 400  /* bytes of a title */
#define PARA_MAX  6000 /* bytes of one paragraph or note */

void doc_space(struct doc *d, double pt)
{
	d->y += pt;
	if (d->y > d->bottom)
		new_page(d);
}

void doc_title(struct doc *d, const char *text, const char *subtitle)
{
	char *t = trimmed(text, TITLE_MAX);
	PangoLayout *l = layout(d, d->f_h1, t, d->width);
	free(t);
	need(d, layout_h(l) + 20);
	cairo_set_source_rgb(d->cr, 0.08, 0.12, 0.2);
	flow(d, l, d->left);
	g_object_unref(l);
	if (subtitle && *subtitle) {
		d->y += 3;
		l = layout(d, d->f_body, subtitle, d->width);
		cairo_set_source_rgb(d->cr, 0.35, 0.35, 0.35);
		flow(d, l, d->left);
		g_object_unref(l);
	}
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	d->y += 8;
}

void doc_heading(struct doc *d, const char *text)
{
	char *t = trimmed(text, TITLE_MAX);
	PangoLayout *l = layout(d, d->f_h2, t, d->width);
	free(t);
	/* keep a heading with at least a few lines of what follows */
	need(d, layout_h(l) + 14 + 40);
	d->y += 10;
	cairo_set_source_rgb(d->cr, 0.1, 0.25, 0.45);
	flow(d, l, d->left);
	g_object_unref(l);
	if (!d->dry) {
		cairo_set_line_width(d->cr, 0.8);
		cairo_move_to(d->cr, d->left, d->y + 2);
		cairo_line_to(d->cr, d->left + d->width, d->y + 2);
		cairo_stroke(d->cr);
	}
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	d->y += 7;
}

void doc_para(struct doc *d, const char *text)
{
	char *t = trimmed(text, PARA_MAX);
	PangoLayout *l = layout(d, d->f_body, t, d->width);
	free(t);
	pango_layout_set_spacing(l, 2 * PANGO_SCALE);
	flow(d, l, d->left);
	g_object_unref(l);
	d->y += 4;
}

void doc_note(struct doc *d, const char *text)
{
	char *t = trimmed(text, PARA_MAX);
	PangoLayout *l = layout(d, d->f_note, t, d->width);
	free(t);
	cairo_set_source_rgb(d->cr, 0.4, 0.4, 0.4);
	flow(d, l, d->left);
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	g_object_unref(l);
	d->y += 4;
}

static char *trimmed(const char *s, size_t max)
{
	if (!s)
		return xstrdup("");
	size_t n = strlen(s);
	if (n <= max)
		return xstrdup(s);
	/* cut on a UTF-8 boundary */
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return xasprintf("%.*s …", (int)max, s);
}

void doc_row(struct doc *d, int n, const double *widths, const char *const *cells, int header)
{
	PangoLayout *ls[8];
	double h = 0, pad = 3;
	if (n > 8)
		n = 8;
	for (int i = 0; i < n; i++) {
		char *t = trimmed(cells[i], CELL_MAX);
		ls[i] =
		    layout(d, header ? d->f_bold : d->f_body, t, widths[i] * d->width - 2 * pad);
		free(t);
		double lh = layout_h(ls[i]);
		if (lh > h)
			h = lh;
	}
	h += 2 * pad;
	need(d, header ? h + 70 : h); /* a header stays with at least one row */
	if (!d->dry) {
		cairo_t *cr = d->cr;
		if (header) {
			cairo_set_source_rgb(cr, 0.91, 0.93, 0.96);
			cairo_rectangle(cr, d->left, d->y, d->width, h);
			cairo_fill(cr);
		}
		cairo_set_source_rgb(cr, 0.86, 0.86, 0.86);
		cairo_set_line_width(cr, 0.4);
		cairo_move_to(cr, d->left, d->y + h);
		cairo_line_to(cr, d->left + d->width, d->y + h);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		double x = d->left;
		for (int i = 0; i < n; i++) {
			cairo_move_to(cr, x + pad, d->y + pad);
			pango_cairo_show_layout(cr, ls[i]);
			x += widths[i] * d->width;
		}
	}
	for (int i = 0; i < n; i++)
		g_object_unref(ls[i]);
	d->y += h;
}

void doc_kv(struct doc *d, const char *key, const char *value)
{
	const double w[2] = {d->kv_key, 1.0 - d->kv_key};
	PangoLayout *k = layout(d, d->f_bold, key, w[0] * d->width - 6);
	char *t = trimmed(value, CELL_MAX);
	PangoLayout *v = layout(d, d->f_body, t, w[1] * d->width);
	free(t);
	double h = fmax(layout_h(k), layout_h(v)) + 3;
	need(d, h);
	if (!d->dry) {
		cairo_set_source_rgb(d->cr, 0.3, 0.3, 0.3);
		cairo_move_to(d->cr, d->left, d->y);
		pango_cairo_show_layout(d->cr, k);
		cairo_set_source_rgb(d->cr, 0, 0, 0);
		cairo_move_to(d->cr, d->left + w[0] * d->width, d->y);
		pango_cairo_show_layout(d->cr, v);
	}
	g_object_unref(k);
	g_object_unref(v);
	d->y += h;
}

void doc_mono(struct doc *d, const char *text)
{
	char *t = trimmed(text, PARA_MAX);
	PangoLayout *l = layout(d, d->f_mono, t, d->width - 12);
	free(t);
	double h = layout_h(l);
	need(d, fmin(h, 40) + 8);
	double top = d->y;
	int page = d->page;
	d->y += 4;
	if (!d->dry && d->y + h <= d->bottom) { /* a background band when it fits on one page */
		cairo_set_source_rgb(d->cr, 0.96, 0.96, 0.95);
		cairo_rectangle(d->cr, d->left, top, d->width, h + 8);
		cairo_fill(d->cr);
	}
	(void)page;
	cairo_set_source_rgb(d->cr, 0.15, 0.15, 0.15);
	flow(d, l, d->left + 6);
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	g_object_unref(l);
	d->y += 8;
}

void doc_chips(struct doc *d, int n, const char *const *texts, const double (*rgb)[3])
{
	double x = d->left, h = 0;
	PangoLayout *ls[8];
	if (n > 8)
		n = 8;
	for (int i = 0; i < n; i++) {
		ls[i] = layout(d, d->f_bold, texts[i], -1);
		h = fmax(h, layout_h(ls[i]));
	}
	h += 6;
	need(d, h);
	for (int i = 0; i < n; i++) {
		int w, lh;
		pango_layout_get_size(ls[i], &w, &lh);
		double cw = (double)w / PANGO_SCALE + 14;
		if (x + cw > d->left + d->width) {
			x = d->left;
			d->y += h + 4;
		}
		if (!d->dry) {
			cairo_set_source_rgb(d->cr, rgb[i][0], rgb[i][1], rgb[i][2]);
			cairo_rectangle(d->cr, x, d->y, cw, h);
			cairo_fill(d->cr);
			cairo_set_source_rgb(d->cr, 1, 1, 1);
			cairo_move_to(d->cr, x + 7, d->y + 3);
			pango_cairo_show_layout(d->cr, ls[i]);
		}
		x += cw + 6;
		g_object_unref(ls[i]);
	}
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	d->y += h + 8;
}

/* ---- charts ---- */

static double nice_step(double range, int want)
{
	double raw = range / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
	double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
	return nf * mag;
}

static void fmt_num(double v, double step, char *out, size_t len)
{
	if (fabs(v) >= 1e6)
		snprintf(out, len, "%.3gM", v / 1e6);
	else if (fabs(v) >= 1e4)
		snprintf(out, len, "%.0fk", v / 1e3);
	else if (step >= 1)
		snprintf(out, len, "%.0f", v);
	else if (step >= 0.1)
		snprintf(out, len, "%.1f", v);
	else
		snprintf(out, len, "%.2g", v);
}

static double text_w(struct doc *d, const char *text)
{
	PangoLayout *l = layout(d, d->f_small, text, -1);
	int w, h;
	pango_layout_get_size(l, &w, &h);
	g_object_unref(l);
	return (double)w / PANGO_SCALE;
}

static double small_text(struct doc *d, const char *text, double x, double y, int align, int bold)
{
	PangoLayout *l = layout(d, bold ? d->f_bold : d->f_small, text, -1);
	int w, h;
	pango_layout_get_size(l, &w, &h);
	double tw = (double)w / PANGO_SCALE, th = (double)h / PANGO_SCALE;
	double tx = align == 0 ? x : align == 1 ? x - tw / 2 : x - tw;
	cairo_move_to(d->cr, tx, y - th / 2);
	pango_cairo_show_layout(d->cr, l);
	g_object_unref(l);
	return tw;
}

/* One chart's plot area and scales: time t0..t1 across ax..ax+aw, values
 * lo..hi (grid step ys) up ay+ah..ay. */
struct chart_frame {
	double ax, aw, ay, ah;
	int64_t t0, t1;
	double lo, hi, ys;
};

static double chart_x(const struct chart_frame *f, int64_t t)
{
	return f->ax + f->aw * (double)(t - f->t0) / (double)(f->t1 - f->t0);
}

static double chart_y(const struct chart_frame *f, double v)
{
	return f->ay + f->ah - f->ah * (v - f->lo) / (f->hi - f->lo);
}

/* series colours, in the plot and the legend */
static const double chart_col[3][3] = {{0.1, 0.35, 0.7}, {0.2, 0.55, 0.25}, {0.55, 0.3, 0.6}};

/* The value range: the finite samples within t0..t1, from 0 when that is
 * close, widened when flat, rounded out to a nice grid step. */
static void chart_y_range(struct chart_frame *f, const struct doc_series *s, size_t ns)
{
	double lo = INFINITY, hi = -INFINITY;
	for (size_t k = 0; k < ns; k++)
		for (size_t i = 0; i < s[k].n; i++)
			if (isfinite(s[k].v[i]) && s[k].t_ms[i] >= f->t0 && s[k].t_ms[i] <= f->t1) {
				lo = fmin(lo, s[k].v[i]);
				hi = fmax(hi, s[k].v[i]);
			}
	int have = isfinite(lo);
	if (!have) {
		lo = 0;
		hi = 1;
	}
	if (lo > 0 && lo < (hi - lo) * 0.6)
		lo = 0;
	if (hi - lo < 1e-9)
		hi = lo + (fabs(lo) > 0 ? fabs(lo) * 0.1 : 1);
	double ys = nice_step(hi - lo, 4);
	f->lo = floor(lo / ys) * ys;
	f->hi = ceil(hi / ys) * ys;
	f->ys = ys;
}

/* The plot area: background, anomaly spans, grid and the series lines,
 * clipped to the area. */
static void chart_plot(struct doc *d, const struct chart_frame *f, const struct doc_series *s,
                       size_t ns, const struct doc_span *spans, size_t nspans)
{
	cairo_t *cr = d->cr;
	double ax = f->ax, aw = f->aw, ay = f->ay, ah = f->ah;
	int64_t t0 = f->t0, t1 = f->t1;
	cairo_set_source_rgb(cr, 0.985, 0.985, 0.985);
	cairo_rectangle(cr, ax, ay, aw, ah);
	cairo_fill(cr);
	cairo_save(cr);
	cairo_rectangle(cr, ax, ay, aw, ah);
	cairo_clip(cr);
	for (size_t i = 0; i < nspans; i++) {
		int64_t a = spans[i].from_ms < t0 ? t0 : spans[i].from_ms;
		int64_t b = spans[i].to_ms > t1 ? t1 : spans[i].to_ms;
		if (b < a)
			continue;
		double w = fmax(chart_x(f, b) - chart_x(f, a), 2.0);
		cairo_set_source_rgba(cr, 0.85, 0.2, 0.15, 0.16);
		cairo_rectangle(cr, chart_x(f, a), ay, w, ah);
		cairo_fill(cr);
	}
	/* grid */
	cairo_set_line_width(cr, 0.4);
	if (ns) {
		for (double v = f->lo; v <= f->hi + f->ys / 2; v += f->ys) {
			cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
			cairo_move_to(cr, ax, chart_y(f, v));
			cairo_line_to(cr, ax + aw, chart_y(f, v));
			cairo_stroke(cr);
		}
	}
	/* series */
	for (size_t k = 0; k < ns; k++) {
		cairo_set_source_rgb(cr, chart_col[k % 3][0], chart_col[k % 3][1],
		                     chart_col[k % 3][2]);
		cairo_set_line_width(cr, 1.3);
		int pen = 0;
		for (size_t i = 0; i < s[k].n; i++) {
			if (!isfinite(s[k].v[i])) {
				pen = 0;
				continue;
			}
			double x = chart_x(f, s[k].t_ms[i]), y = chart_y(f, s[k].v[i]);
			if (pen)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
			pen = 1;
		}
		cairo_stroke(cr);
	}
	cairo_restore(cr);
}

/* Marks within t0..t1: actions as numbered dots, incident events as grey
 * dashed lines with their label. */
static void chart_draw_marks(struct doc *d, const struct chart_frame *f,
                             const struct doc_mark *marks, size_t nmarks)
{
	cairo_t *cr = d->cr;
	double ay = f->ay, ah = f->ah;
	int grey = 0;
	for (size_t i = 0; i < nmarks; i++) {
		if (marks[i].at_ms < f->t0 || marks[i].at_ms > f->t1)
			continue;
		double x = chart_x(f, marks[i].at_ms);
		double dash[] = {3, 2};
		cairo_set_dash(cr, dash, 2, 0);
		if (marks[i].kind == 0)
			cairo_set_source_rgb(cr, 0.1, 0.3, 0.75);
		else
			cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		cairo_set_line_width(cr, 0.9);
		cairo_move_to(cr, x, ay);
		cairo_line_to(cr, x, ay + ah);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
		if (marks[i].kind == 0) {
			cairo_arc(cr, x, ay - 6, 6, 0, 2 * M_PI);
			cairo_fill(cr);
			cairo_set_source_rgb(cr, 1, 1, 1);
			small_text(d, marks[i].label, x, ay - 6, 1, 0);
		} else {
			/* event labels: one row each, so close events never print over each other
			 */
			small_text(d, marks[i].label, x + 2, ay + 7 + 10.0 * (double)(grey++ % 3),
			           0, 0);
		}
	}
}

/* The axes, the value labels (when there are series), the time ticks and
 * the time axis title. */
static void chart_axes(struct doc *d, const struct chart_frame *f, size_t ns)
{
	cairo_t *cr = d->cr;
	double ax = f->ax, aw = f->aw, ay = f->ay, ah = f->ah;
	int64_t t0 = f->t0, t1 = f->t1;
	cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
	cairo_set_line_width(cr, 0.8);
	cairo_move_to(cr, ax, ay);
	cairo_line_to(cr, ax, ay + ah);
	cairo_line_to(cr, ax + aw, ay + ah);
	cairo_stroke(cr);
	if (ns) {
		char lab[32];
		for (double v = f->lo; v <= f->hi + f->ys / 2; v += f->ys) {
			fmt_num(v, f->ys, lab, sizeof(lab));
			small_text(d, lab, ax - 4, chart_y(f, v), 2, 0);
		}
	}
	/* time ticks */
	static const int64_t steps[] = {10000,    30000,    60000,    120000,  300000,
	                                600000,   900000,   1800000,  3600000, 7200000,
	                                10800000, 21600000, 43200000, 86400000};
	int64_t span = t1 - t0, st = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] <= 7) {
			st = steps[i];
			break;
		}
	if (!st) /* longer than a week: whole days, at most 7 ticks */
		st = (span / 7 / 86400000 + 1) * 86400000;
	cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
	for (int64_t t = (t0 + st - 1) / st * st; t <= t1; t += st) {
		time_t tt = (time_t)(t / 1000);
		struct tm tm;
		gmtime_r(&tt, &tm);
		char lab[16];
		if (st >= 86400000)
			strftime(lab, sizeof(lab), "%m-%d", &tm);
		else if (st < 60000)
			strftime(lab, sizeof(lab), "%H:%M:%S", &tm);
		else
			strftime(lab, sizeof(lab), "%H:%M", &tm);
		cairo_move_to(cr, chart_x(f, t), ay + ah);
		cairo_line_to(cr, chart_x(f, t), ay + ah + 3);
		cairo_stroke(cr);
		small_text(d, lab, chart_x(f, t), ay + ah + 10, 1, 0);
	}
	{
		time_t tt = (time_t)(t0 / 1000);
		struct tm tm;
		gmtime_r(&tt, &tm);
		char lab[64];
		strftime(lab, sizeof(lab), "time (UTC, %Y-%m-%d)", &tm);
		small_text(d, lab, ax + aw, ay + ah + 23, 2, 0);
	}
}

/* The legend, under the time axis title; wraps to a second line. */
static void chart_legend(struct doc *d, const struct chart_frame *f, const struct doc_series *s,
                         size_t ns, size_t nspans, size_t nmarks)
{
	cairo_t *cr = d->cr;
	double ax = f->ax;
	double lx = ax, ly = f->ay + f->ah + 37, right = d->left + d->width;
#define ROOM(w)                                                                                    \
	do {                                                                                       \
		if (lx + (w) > right) {                                                            \
			lx = ax;                                                                   \
			ly += 12;                                                                  \
		}                                                                                  \
	} while (0)
	for (size_t k = 0; k < ns; k++) {
		ROOM(18 + text_w(d, s[k].name));
		cairo_set_source_rgb(cr, chart_col[k % 3][0], chart_col[k % 3][1],
		                     chart_col[k % 3][2]);
		cairo_set_line_width(cr, 1.5);
		cairo_move_to(cr, lx, ly);
		cairo_line_to(cr, lx + 14, ly);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lx += 18 + 12 + small_text(d, s[k].name, lx + 18, ly, 0, 0);
	}
	if (nspans) {
		ROOM(16 + text_w(d, "anomaly"));
		cairo_set_source_rgba(cr, 0.85, 0.2, 0.15, 0.3);
		cairo_rectangle(cr, lx, ly - 4, 12, 8);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lx += 16 + 12 + small_text(d, "anomaly", lx + 16, ly, 0, 0);
	}
	if (nmarks) {
		ROOM(13 + text_w(d, "action (see Actions)"));
		cairo_set_source_rgb(cr, 0.1, 0.3, 0.75);
		cairo_arc(cr, lx + 5, ly, 4, 0, 2 * M_PI);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lx += 13 + 12 + small_text(d, "action (see Actions)", lx + 13, ly, 0, 0);
		ROOM(5 + text_w(d, "incident event"));
		double dash[] = {3, 2};
		cairo_set_dash(cr, dash, 2, 0);
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		cairo_set_line_width(cr, 0.9);
		cairo_move_to(cr, lx, ly - 5);
		cairo_line_to(cr, lx, ly + 5);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		small_text(d, "incident event", lx + 5, ly, 0, 0);
	}
#undef ROOM
}

void doc_chart(struct doc *d, const char *caption, int64_t t0, int64_t t1,
               const struct doc_series *s, size_t ns, const struct doc_span *spans, size_t nspans,
               const struct doc_mark *marks, size_t nmarks)
{
	double plot_h = ns ? 130 : 50, total = plot_h + 84;
	need(d, total);
	double top = d->y;
	d->y += total;
	if (d->dry)
		return;
	if (t1 <= t0)
		t1 = t0 + 60000;
	struct chart_frame f = {
	    .ax = d->left + 52,
	    .aw = d->width - 52 - 10,
	    .ay = top + 22,
	    .ah = plot_h,
	    .t0 = t0,
	    .t1 = t1,
	};
	small_text(d, caption, d->left, top + 7, 0, 1);
	chart_y_range(&f, s, ns);
	chart_plot(d, &f, s, ns, spans, nspans);
	chart_draw_marks(d, &f, marks, nmarks);
	chart_axes(d, &f, ns);
	chart_legend(d, &f, s, ns, nspans, nmarks);
	cairo_set_source_rgb(d->cr, 0, 0, 0);
}

/* ---- rendering ---- */

static int pass(struct doc *d, cairo_surface_t *surf, doc_compose_fn fn, void *arg, char *err,
                size_t errlen)
{
	d->surf = surf;
	d->cr = cairo_create(surf);
	d->page = 1;
	d->y = d->top;
	fn(d, arg);
	footer(d);
	cairo_show_page(d->cr);
	cairo_status_t st = cairo_status(d->cr);
	cairo_destroy(d->cr);
	cairo_surface_finish(surf);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(surf);
	cairo_surface_destroy(surf);
	d->cr = NULL;
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cairo: %s", cairo_status_to_string(st));
		return -1;
	}
	return 0;
}

int doc_render(const char *path, enum doc_paper paper, const char *title, const char *foot,
               doc_compose_fn fn, void *arg, int *pages, char *err, size_t errlen)
{
	struct doc d = {0};
	d.pw = paper == DOC_A4 ? 595.276 : 612.0;
	d.ph = paper == DOC_A4 ? 841.89 : 792.0;
	d.left = MARGIN_X;
	d.width = d.pw - 2 * MARGIN_X;
	d.top = MARGIN_TOP;
	d.bottom = d.ph - MARGIN_BOT;
	d.footer = foot;
	d.kv_key = 0.24;
	d.f_body = pango_font_description_from_string(FONT_BODY);
	d.f_bold = pango_font_description_from_string(FONT_BOLD);
	d.f_small = pango_font_description_from_string(FONT_SMALL);
	d.f_note = pango_font_description_from_string(FONT_NOTE);
	d.f_h1 = pango_font_description_from_string(FONT_H1);
	d.f_h2 = pango_font_description_from_string(FONT_H2);
	d.f_mono = pango_font_description_from_string(FONT_MONO);
	int rc = 0;
	d.dry = 1;
	d.pages = 0;
	rc = pass(&d, cairo_pdf_surface_create_for_stream(discard, NULL, d.pw, d.ph), fn, arg, err,
	          errlen);
	if (rc == 0) {
		d.pages = d.page;
		d.dry = 0;
		cairo_surface_t *s = cairo_pdf_surface_create(path, d.pw, d.ph);
		if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
			snprintf(err, errlen, "cannot write %s: %s", path,
			         cairo_status_to_string(cairo_surface_status(s)));
			cairo_surface_destroy(s);
			rc = -1;
		} else {
			cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title);
			cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR,
			                               "opsbot-report");
			rc = pass(&d, s, fn, arg, err, errlen);
			if (rc == 0 && d.page != d.pages) {
				snprintf(err, errlen,
				         "layout changed between passes (%d vs %d pages)", d.pages,
				         d.page);
				rc = -1;
			}
		}
	}
	if (pages)
		*pages = d.page;
	pango_font_description_free(d.f_body);
	pango_font_description_free(d.f_bold);
	pango_font_description_free(d.f_small);
	pango_font_description_free(d.f_note);
	pango_font_description_free(d.f_h1);
	pango_font_description_free(d.f_h2);
	pango_font_description_free(d.f_mono);
	return rc;
}

/*
 * fontconfig and pango keep font caches for the life of the process and
 * free them nowhere; under AddressSanitizer (make check-asan) LeakSanitizer
 * is told so.  Without a sanitizer nothing calls this.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\nleak:libpango-1.0.so\nleak:libpangoft2-1.0.so\n"
	       "leak:libpangocairo-1.0.so\nleak:libcairo.so\nleak:libglib-2.0.so\n"
	       "leak:libgobject-2.0.so\nleak:libharfbuzz.so\nleak:libfreetype.so\n";
}
