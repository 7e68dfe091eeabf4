/*
 * policy.c: loading the approval policy and answering its questions (see
 * policy.h).
 *
 * Invariants once policy_load() returned 0:
 *   1. every action name in auto, approval sections and freezes is in the
 *      catalog the policy was loaded against;
 *   2. every approver and group member names a person or group defined in
 *      the file; chat ids are unique per surface;
 *   3. distinct approvers is at least 1 and no more than the people who could
 *      approve under that rule;
 *   4. every time zone exists in the system's zone database.
 */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "mem.h"

#define POLICY_MAX_ITEMS 256

struct policy_person {
	char *name, *slack, *discord, *unix_user;
	int line;
};

struct policy_group {
	char *name;
	char **members; /* person names */
	size_t n;
	int line;
};

struct policy_rule {
	char *target;     /* "low"|"medium"|"high" or an action name; "policy" for defaults */
	char *label;      /* "approval high" */
	char **approvers; /* NULL-terminated */
	size_t n;
	int distinct;
	int requester_may_approve;
	int64_t expiry_ms;
};

struct policy_freeze {
	char *name, *reason, *tz;
	unsigned days; /* bit 0 = Sunday, as tm_wday */
	int start_min, end_min;
	enum catalog_risk min_risk;
	char **actions; /* NULL or "*" means all */
	size_t nactions;
	char **except;
	size_t nexcept;
};

struct policy_limit {
	char *service; /* "default" for any */
	int64_t min, max;
};

struct policy {
	char **autos;
	size_t nautos;
	int auto_risk; /* -1 none, else the highest risk that runs on its own */
	struct policy_rule def;
	struct policy_rule *rules;
	size_t nrules;
	struct policy_person *people;
	size_t npeople;
	struct policy_group *groups;
	size_t ngroups;
	struct policy_freeze *freezes;
	size_t nfreezes;
	struct policy_limit *limits;
	size_t nlimits;
	char *tz;
};

/* ---- small helpers ------------------------------------------------------ */

static char **policy_list(const char *s, size_t *n)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t cnt = 0;
	const char *p = s;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *st = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		v = xrealloc(v, (cnt + 2) * sizeof(*v));
		v[cnt++] = xstrndup(st, (size_t)(p - st));
		v[cnt] = NULL;
	}
	*n = cnt;
	return v;
}

static void policy_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void policy_rule_free(struct policy_rule *r)
{
	free(r->target);
	free(r->label);
	policy_strv_free(r->approvers, r->n);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	policy_strv_free(p->autos, p->nautos);
	policy_rule_free(&p->def);
	for (size_t i = 0; i < p->nrules; i++)
		policy_rule_free(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->npeople; i++) {
		free(p->people[i].name);
		free(p->people[i].slack);
		free(p->people[i].discord);
		free(p->people[i].unix_user);
	}
	free(p->people);
	for (size_t i = 0; i < p->ngroups; i++) {
		free(p->groups[i].name);
		policy_strv_free(p->groups[i].members, p->groups[i].n);
	}
	free(p->groups);
	for (size_t i = 0; i < p->nfreezes; i++) {
		struct policy_freeze *f = &p->freezes[i];
		free(f->name);
		free(f->reason);
		free(f->tz);
		policy_strv_free(f->actions, f->nactions);
		policy_strv_free(f->except, f->nexcept);
	}
	free(p->freezes);
	for (size_t i = 0; i < p->nlimits; i++)
		free(p->limits[i].service);
	free(p->limits);
	free(p->tz);
	free(p);
}

static int policy_in(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static const struct policy_person *policy_person(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->npeople; i++)
		if (strcmp(p->people[i].name, name) == 0)
			return &p->people[i];
	return NULL;
}

static const struct policy_group *policy_group(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return &p->groups[i];
	return NULL;
}

static int policy_tz_ok(const char *tz)
{
	if (strcmp(tz, "UTC") == 0)
		return 1;
	if (!*tz || tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 64)
		return 0;
	for (const char *c = tz; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c))
			return 0;
	char path[128];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- loading ------------------------------------------------------------ */

struct policy_ld {
	struct config *cfg;
	const struct catalog *cat;
	const char *file;
	char *err;
	size_t errlen;
	int failed;
};

static int policy_fail(struct policy_ld *ld, const char *section, const char *key, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static int policy_fail(struct policy_ld *ld, const char *section, const char *key, const char *fmt,
                       ...)
{
	if (ld->failed)
		return -1;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int line = key ? config_line(ld->cfg, section, key) : 0;
	if (line > 0)
		snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file, line, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: [%s]: %s", ld->file, section, msg);
	ld->failed = 1;
	return -1;
}

static int policy_risk_word(const char *s, int *out)
{
	if (strcmp(s, "none") == 0) {
		*out = -1;
		return 0;
	}
	enum catalog_risk r;
	if (catalog_risk_parse(s, &r) < 0)
		return -1;
	*out = (int)r;
	return 0;
}

/* Read the approval keys of a section into r (inheriting from base). */
static void policy_read_rule(struct policy_ld *ld, struct policy *p, const char *sec,
                             struct policy_rule *r, const struct policy_rule *base)
{
	const char *ap = config_str(ld->cfg, sec, "approvers", NULL);
	if (ap) {
		r->approvers = policy_list(ap, &r->n);
		if (r->n == 0)
			policy_fail(ld, sec, "approvers", "approvers needs at least one name");
	} else if (base) {
		r->approvers = xcalloc(base->n + 1, sizeof(char *));
		for (size_t i = 0; i < base->n; i++)
			r->approvers[i] = xstrdup(base->approvers[i]);
		r->n = base->n;
	} else {
		r->approvers = xcalloc(1, sizeof(char *));
	}
	for (size_t i = 0; i < r->n && !ld->failed; i++)
		if (!policy_person(p, r->approvers[i]) && !policy_group(p, r->approvers[i]))
			policy_fail(ld, sec, "approvers",
			            "approver %s is neither a [person] nor a [group]",
			            log_q(r->approvers[i]));
	r->distinct =
	    (int)config_int(ld->cfg, sec, "distinct_approvers", base ? base->distinct : 1, 1, 10);
	r->requester_may_approve = config_bool(ld->cfg, sec, "requester_may_approve",
	                                       base ? base->requester_may_approve : 0);
	r->expiry_ms = config_duration_ms(ld->cfg, sec, "approval_expiry",
	                                  base ? base->expiry_ms : 30 * 60000);
	if (!ld->failed && (r->expiry_ms < 1000 || r->expiry_ms > 7LL * 86400000))
		policy_fail(ld, sec, "approval_expiry", "approval_expiry must be from 1s to 7d");
	/* invariant 3: enough people exist to meet the count */
	if (!ld->failed && r->n > 0) {
		const char *who[POLICY_MAX_ITEMS];
		size_t nwho = 0;
		for (size_t i = 0; i < r->n; i++) {
			const struct policy_group *g = policy_group(p, r->approvers[i]);
			size_t cnt = g ? g->n : 1;
			for (size_t k = 0; k < cnt; k++) {
				const char *name = g ? g->members[k] : r->approvers[i];
				int dup = 0;
				for (size_t j = 0; j < nwho; j++)
					if (strcmp(who[j], name) == 0)
						dup = 1;
				if (!dup && nwho < POLICY_MAX_ITEMS)
					who[nwho++] = name;
			}
		}
		if ((size_t)r->distinct > nwho)
			policy_fail(ld, sec,
			            config_line(ld->cfg, sec, "distinct_approvers")
			                ? "distinct_approvers"
			                : "approvers",
			            "distinct_approvers is %d but only %zu people can approve",
			            r->distinct, nwho);
	}
}

static int policy_days(const char *s, unsigned *out)
{
	static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	*out = 0;
	if (strcmp(s, "*") == 0) {
		*out = 0x7f;
		return 0;
	}
	size_t n;
	char **v = policy_list(s, &n);
	int rc = n ? 0 : -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char a[8] = "", b[8] = "";
		const char *dash = strchr(v[i], '-');
		if (dash) {
			if ((size_t)(dash - v[i]) >= sizeof(a)) {
				rc = -1;
				break;
			}
			memcpy(a, v[i], (size_t)(dash - v[i]));
			a[dash - v[i]] = '\0';
			str_copy(b, sizeof(b), dash + 1);
		} else {
			str_copy(a, sizeof(a), v[i]);
			str_copy(b, sizeof(b), v[i]);
		}
		int ia = -1, ib = -1;
		for (int k = 0; k < 7; k++) {
			if (strcasecmp(a, names[k]) == 0)
				ia = k;
			if (strcasecmp(b, names[k]) == 0)
				ib = k;
		}
		if (ia < 0 || ib < 0) {
			rc = -1;
			break;
		}
		for (int k = ia;; k = (k + 1) % 7) {
			*out |= 1u << k;
			if (k == ib)
				break;
		}
	}
	policy_strv_free(v, n);
	return rc;
}

static int policy_hhmm(const char *s, size_t len, int *out)
{
	if (len != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*out = h * 60 + m;
	return 0;
}

static void policy_read_freeze(struct policy_ld *ld, struct policy *p, const char *name)
{
	char sec[160];
	snprintf(sec, sizeof(sec), "freeze %s", name);
	p->freezes = xrealloc(p->freezes, (p->nfreezes + 1) * sizeof(*p->freezes));
	struct policy_freeze *f = &p->freezes[p->nfreezes++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	const char *days = config_str(ld->cfg, sec, "days", NULL);
	if (!days) {
		policy_fail(ld, sec, NULL, "a freeze needs days (mon..sun, ranges or *)");
		return;
	}
	if (policy_days(days, &f->days) < 0) {
		policy_fail(ld, sec, "days", "days must be names like mon, fri-sun or *, not %s",
		            log_q(days));
		return;
	}
	const char *hours = config_str(ld->cfg, sec, "hours", "00:00-24:00");
	const char *dash = strchr(hours, '-');
	if (!dash || policy_hhmm(hours, (size_t)(dash - hours), &f->start_min) < 0 ||
	    policy_hhmm(dash + 1, strlen(dash + 1), &f->end_min) < 0 ||
	    f->start_min == f->end_min || f->start_min == 1440) {
		policy_fail(ld, sec, "hours",
		            "hours must be HH:MM-HH:MM (e.g. 16:00-24:00), not %s", log_q(hours));
		return;
	}
	const char *tz = config_str(ld->cfg, sec, "timezone", p->tz);
	if (!policy_tz_ok(tz)) {
		policy_fail(ld, sec, "timezone", "unknown time zone %s", log_q(tz));
		return;
	}
	f->tz = xstrdup(tz);
	int risk = 0;
	const char *mr = config_str(ld->cfg, sec, "min_risk", "low");
	if (policy_risk_word(mr, &risk) < 0 || risk < 0) {
		policy_fail(ld, sec, "min_risk", "min_risk must be low, medium or high, not %s",
		            log_q(mr));
		return;
	}
	f->min_risk = (enum catalog_risk)risk;
	const char *acts = config_str(ld->cfg, sec, "actions", "*");
	f->actions = policy_list(acts, &f->nactions);
	const char *exc = config_str(ld->cfg, sec, "except", "");
	f->except = policy_list(exc, &f->nexcept);
	for (size_t i = 0; i < f->nactions; i++)
		if (strcmp(f->actions[i], "*") != 0 && !catalog_find(ld->cat, f->actions[i])) {
			policy_fail(ld, sec, "actions", "unknown action %s (not in the catalog)",
			            log_q(f->actions[i]));
			return;
		}
	for (size_t i = 0; i < f->nexcept; i++)
		if (!catalog_find(ld->cat, f->except[i])) {
			policy_fail(ld, sec, "except", "unknown action %s (not in the catalog)",
			            log_q(f->except[i]));
			return;
		}
	const char *reason = config_str(ld->cfg, sec, "reason", NULL);
	f->reason = reason ? xstrdup(reason) : xasprintf("change freeze %s", name);
}

static void policy_read_limits(struct policy_ld *ld, struct policy *p)
{
	size_t n;
	const struct config_entry *e = config_entries(ld->cfg, &n);
	for (size_t i = 0; i < n && !ld->failed; i++) {
		if (strcmp(e[i].section, "replicas") != 0)
			continue;
		config_str(ld->cfg, "replicas", e[i].key, NULL); /* mark read */
		const char *v = e[i].value;
		const char *dots = strstr(v, "..");
		char lo[24], hi[24];
		char *end1 = NULL, *end2 = NULL;
		long long a = -1, b = -1;
		if (dots && (size_t)(dots - v) < sizeof(lo) && strlen(dots + 2) < sizeof(hi)) {
			memcpy(lo, v, (size_t)(dots - v));
			lo[dots - v] = '\0';
			str_copy(hi, sizeof(hi), dots + 2);
			errno = 0;
			a = strtoll(lo, &end1, 10);
			b = strtoll(hi, &end2, 10);
			if (errno || end1 == lo || *end1 || end2 == hi || *end2)
				a = b = -1;
		}
		if (a < 0 || b < a || b > 100000) {
			snprintf(ld->err, ld->errlen,
			         "%s:%d: replica limit must be MIN..MAX with 0 <= MIN <= MAX <= "
			         "100000, not %s",
			         ld->file, e[i].line, log_q(v));
			ld->failed = 1;
			return;
		}
		p->limits = xrealloc(p->limits, (p->nlimits + 1) * sizeof(*p->limits));
		p->limits[p->nlimits++] = (struct policy_limit){xstrdup(e[i].key), a, b};
	}
}

/*
 * The steps of policy_parse, in order.  Each reads one part of ld->cfg into
 * p, or sets ld->failed with the error in ld->err (the first error wins).
 */

/* Sections we know; anything else is a typo. */
static void policy_check_sections(struct policy_ld *ld, struct policy *p)
{
	(void)p;
	size_t ne;
	const struct config_entry *e = config_entries(ld->cfg, &ne);
	for (size_t i = 0; i < ne; i++) {
		const char *s = e[i].section;
		if (strcmp(s, "policy") && strcmp(s, "replicas") && strncmp(s, "person ", 7) &&
		    strncmp(s, "group ", 6) && strncmp(s, "approval ", 9) &&
		    strncmp(s, "freeze ", 7)) {
			snprintf(ld->err, ld->errlen,
			         "%s:%d: unknown section [%s] (known: policy, person, group, "
			         "approval, freeze, replicas)",
			         ld->file, e[i].line, s);
			ld->failed = 1;
			return;
		}
	}
}

static void policy_read_timezone(struct policy_ld *ld, struct policy *p)
{
	const char *tz = config_str(ld->cfg, "policy", "timezone", "UTC");
	if (!policy_tz_ok(tz)) {
		policy_fail(ld, "policy", "timezone", "unknown time zone %s", log_q(tz));
		return;
	}
	p->tz = xstrdup(tz);
}

/* A person's ids: the shape each surface uses, and no id shared by two people. */
static void policy_read_person(struct policy_ld *ld, struct policy *p, const char *name)
{
	char sec[160];
	snprintf(sec, sizeof(sec), "person %s", name);
	struct policy_person *pp = &p->people[p->npeople++];
	pp->name = xstrdup(name);
	const char *sl = config_str(ld->cfg, sec, "slack", NULL);
	const char *dc = config_str(ld->cfg, sec, "discord", NULL);
	const char *ux = config_str(ld->cfg, sec, "unix", NULL);
	pp->line = config_line(ld->cfg, sec, sl ? "slack" : dc ? "discord" : "unix");
	if (!sl && !dc && !ux) {
		policy_fail(ld, sec, NULL,
		            "a person needs a slack or discord user id or a unix account");
		return;
	}
	if (ux && (!*ux || strlen(ux) > 32 || ux[0] == '-' ||
	           strspn(ux, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                      "0123456789._-") != strlen(ux))) {
		policy_fail(ld, sec, "unix",
		            "unix must be a local account name (letters, digits, . _ -; "
		            "up to 32), not %s",
		            log_q(ux));
		return;
	}
	if (sl && (strlen(sl) < 2 || strlen(sl) > 32 ||
	           strspn(sl, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(sl))) {
		policy_fail(ld, sec, "slack",
		            "slack user id must be upper-case letters and digits "
		            "(like U024BE7LH), not %s",
		            log_q(sl));
		return;
	}
	if (dc && (strlen(dc) < 5 || strlen(dc) > 20 || strspn(dc, "0123456789") != strlen(dc))) {
		policy_fail(ld, sec, "discord",
		            "discord user id must be a snowflake (digits), not %s", log_q(dc));
		return;
	}
	for (size_t k = 0; k + 1 < p->npeople; k++) {
		if (sl && p->people[k].slack && strcmp(p->people[k].slack, sl) == 0)
			policy_fail(ld, sec, "slack", "slack id %s already belongs to %s", sl,
			            p->people[k].name);
		if (dc && p->people[k].discord && strcmp(p->people[k].discord, dc) == 0)
			policy_fail(ld, sec, "discord", "discord id %s already belongs to %s", dc,
			            p->people[k].name);
		if (ux && p->people[k].unix_user && strcmp(p->people[k].unix_user, ux) == 0)
			policy_fail(ld, sec, "unix", "unix account %s already belongs to %s", ux,
			            p->people[k].name);
	}
	pp->slack = sl ? xstrdup(sl) : NULL;
	pp->discord = dc ? xstrdup(dc) : NULL;
	pp->unix_user = ux ? xstrdup(ux) : NULL;
}

/* People first: group members must be people. */
static void policy_read_people(struct policy_ld *ld, struct policy *p)
{
	const char *names[POLICY_MAX_ITEMS];
	size_t n = config_sections_of(ld->cfg, "person", names, POLICY_MAX_ITEMS);
	if (n > POLICY_MAX_ITEMS) {
		policy_fail(ld, "policy", NULL, "more than %d people", POLICY_MAX_ITEMS);
		return;
	}
	p->people = xcalloc(n + 1, sizeof(*p->people));
	for (size_t i = 0; i < n && !ld->failed; i++)
		policy_read_person(ld, p, names[i]);
}

static void policy_read_groups(struct policy_ld *ld, struct policy *p)
{
	const char *names[POLICY_MAX_ITEMS];
	size_t n = config_sections_of(ld->cfg, "group", names, POLICY_MAX_ITEMS);
	p->groups = xcalloc(n + 1, sizeof(*p->groups));
	for (size_t i = 0; i < n && i < POLICY_MAX_ITEMS && !ld->failed; i++) {
		char sec[160];
		snprintf(sec, sizeof(sec), "group %s", names[i]);
		if (policy_person(p, names[i])) {
			policy_fail(ld, sec, "members", "%s is both a person and a group",
			            names[i]);
			return;
		}
		struct policy_group *g = &p->groups[p->ngroups++];
		g->name = xstrdup(names[i]);
		const char *m = config_str(ld->cfg, sec, "members", "");
		g->members = policy_list(m, &g->n);
		if (g->n == 0)
			policy_fail(ld, sec, "members", "a group needs members");
		for (size_t k = 0; k < g->n && !ld->failed; k++)
			if (!policy_person(p, g->members[k]))
				policy_fail(ld, sec, "members", "member %s is not a [person]",
				            log_q(g->members[k]));
	}
}

/* [policy]: auto, auto_risk and the default rule. */
static void policy_read_defaults(struct policy_ld *ld, struct policy *p)
{
	const char *autos = config_str(ld->cfg, "policy", "auto", "");
	p->autos = policy_list(autos, &p->nautos);
	for (size_t i = 0; i < p->nautos; i++)
		if (!catalog_find(ld->cat, p->autos[i])) {
			policy_fail(ld, "policy", "auto", "unknown action %s (not in the catalog)",
			            log_q(p->autos[i]));
			return;
		}
	const char *ar = config_str(ld->cfg, "policy", "auto_risk", "none");
	if (policy_risk_word(ar, &p->auto_risk) < 0) {
		policy_fail(ld, "policy", "auto_risk",
		            "auto_risk must be none, low, medium or high, not %s", log_q(ar));
		return;
	}
	p->def.target = xstrdup("policy");
	p->def.label = xstrdup("policy");
	policy_read_rule(ld, p, "policy", &p->def, NULL);
}

/* One [approval NAME]: an action's rule inherits from its risk's rule. */
static void policy_read_approval(struct policy_ld *ld, struct policy *p, const char *name,
                                 int is_risk)
{
	char sec[160];
	snprintf(sec, sizeof(sec), "approval %s", name);
	const struct catalog_action *a = is_risk ? NULL : catalog_find(ld->cat, name);
	if (!is_risk && !a) {
		size_t ce;
		const struct config_entry *all = config_entries(ld->cfg, &ce);
		int line = 0;
		for (size_t k = 0; k < ce && !line; k++)
			if (strcmp(all[k].section, sec) == 0)
				line = all[k].line;
		snprintf(ld->err, ld->errlen,
		         "%s:%d: [approval %s]: not a risk (low, medium, high) nor a "
		         "catalog action",
		         ld->file, line, name);
		ld->failed = 1;
		return;
	}
	const struct policy_rule *base = &p->def;
	if (a)
		for (size_t k = 0; k < p->nrules; k++)
			if (strcmp(p->rules[k].target, catalog_risk_name(a->risk)) == 0)
				base = &p->rules[k];
	struct policy_rule *rule = &p->rules[p->nrules++];
	rule->target = xstrdup(name);
	rule->label = xstrdup(sec);
	policy_read_rule(ld, p, sec, rule, base);
}

/* Approval rules: risk words first, so action rules can inherit from them. */
static void policy_read_approvals(struct policy_ld *ld, struct policy *p)
{
	const char *names[POLICY_MAX_ITEMS];
	size_t n = config_sections_of(ld->cfg, "approval", names, POLICY_MAX_ITEMS);
	p->rules = xcalloc(n + 1, sizeof(*p->rules));
	for (int pass = 0; pass < 2 && !ld->failed; pass++) {
		for (size_t i = 0; i < n && i < POLICY_MAX_ITEMS && !ld->failed; i++) {
			enum catalog_risk r;
			int is_risk = catalog_risk_parse(names[i], &r) == 0;
			if (is_risk == (pass == 0))
				policy_read_approval(ld, p, names[i], is_risk);
		}
	}
}

static void policy_read_freezes(struct policy_ld *ld, struct policy *p)
{
	const char *names[POLICY_MAX_ITEMS];
	size_t n = config_sections_of(ld->cfg, "freeze", names, POLICY_MAX_ITEMS);
	for (size_t i = 0; i < n && i < POLICY_MAX_ITEMS && !ld->failed; i++)
		policy_read_freeze(ld, p, names[i]);
}

/* Every approval path must have someone to ask. */
static void policy_check_approvers(struct policy_ld *ld, struct policy *p)
{
	const struct catalog *cat = ld->cat;
	for (size_t i = 0; i < cat->n && !ld->failed; i++) {
		struct policy_approval ap;
		policy_approval_for(p, &cat->actions[i], &ap);
		if (ap.required && (!ap.approvers || !ap.approvers[0]))
			policy_fail(ld, "policy", "approvers",
			            "action %s needs approval but no approvers are set (add "
			            "approvers to [policy] or [approval %s])",
			            cat->actions[i].name, catalog_risk_name(cat->actions[i].risk));
	}
}

/* Keys nobody reads are typos. */
static void policy_check_keys(struct policy_ld *ld, struct policy *p)
{
	(void)p;
	const char *owned[] = {"policy",   "person *", "group *", "approval *",
	                       "freeze *", "replicas", NULL};
	if (config_check(ld->cfg, owned, ld->err, ld->errlen) < 0)
		ld->failed = 1;
}

int policy_parse(const char *name, const char *text, const struct catalog *cat, struct policy **out,
                 char *err, size_t errlen)
{
	static void (*const steps[])(struct policy_ld *, struct policy *) = {
	    policy_check_sections,  policy_read_timezone,  policy_read_people,  policy_read_groups,
	    policy_read_defaults,   policy_read_approvals, policy_read_freezes, policy_read_limits,
	    policy_check_approvers, policy_check_keys,
	};
	struct config *cfg = NULL;
	if (config_parse(name, text, &cfg, err, errlen) < 0)
		return -1;
	struct policy_ld ld = {.cfg = cfg, .cat = cat, .file = name, .err = err, .errlen = errlen};
	struct policy *p = xcalloc(1, sizeof(*p));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !ld.failed; i++)
		steps[i](&ld, p);
	config_free(cfg);
	if (ld.failed) {
		policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int policy_load(const char *path, const struct catalog *cat, struct policy **out, char *err,
                size_t errlen)
{
	struct buf b = {.max = 1 << 20};
	int rc = buf_read_file(&b, path, err, errlen);
	if (rc == 0)
		rc = policy_parse(path, b.data, cat, out, err, errlen);
	buf_free(&b);
	return rc;
}

/* ---- questions ---------------------------------------------------------- */

static const struct policy_rule *policy_rule_for(const struct policy *p,
                                                 const struct catalog_action *a)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].target, a->name) == 0)
			return &p->rules[i];
	for (size_t i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].target, catalog_risk_name(a->risk)) == 0)
			return &p->rules[i];
	return &p->def;
}

void policy_approval_for(const struct policy *p, const struct catalog_action *a,
                         struct policy_approval *out)
{
	const struct policy_rule *r = policy_rule_for(p, a);
	int autorun = policy_in(p->autos, p->nautos, a->name) || (int)a->risk <= p->auto_risk;
	*out = (struct policy_approval){
	    .required = !autorun,
	    .approvers = (const char *const *)r->approvers,
	    .distinct = r->distinct,
	    .requester_may_approve = r->requester_may_approve,
	    .expiry_ms = r->expiry_ms,
	    .rule = autorun ? "policy auto" : r->label,
	};
}

static pthread_mutex_t policy_tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* Local weekday and minute of the day in zone tz (localtime_r under a lock: TZ is global). */
static void policy_local(const char *tz, int64_t now_ms, int *wday, int *minute)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	pthread_mutex_lock(&policy_tz_lock);
	char *old = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&t, &tm);
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	pthread_mutex_unlock(&policy_tz_lock);
	free(old);
	*wday = tm.tm_wday;
	*minute = tm.tm_hour * 60 + tm.tm_min;
}

/* Whether window f covers wall-clock time t; *left: minutes until its end that day. */
static int policy_freeze_covers(const struct policy_freeze *f, int64_t t, int *left)
{
	int wday, m;
	policy_local(f->tz, t, &wday, &m);
	int in;
	if (f->start_min < f->end_min)
		in = (f->days & (1u << wday)) && m >= f->start_min && m < f->end_min;
	else /* wraps past midnight: the tail belongs to the day before */
		in = ((f->days & (1u << wday)) && m >= f->start_min) ||
		     ((f->days & (1u << ((wday + 6) % 7))) && m < f->end_min);
	if (in && left)
		*left = f->start_min < f->end_min || m < f->end_min ? f->end_min - m
		                                                    : 1440 - m + f->end_min;
	return in;
}

/* The end of the window f that covers now_ms, following windows that continue it
 * at once (days = fri-sun, 00:00-24:00), up to two weeks. */
static int64_t policy_freeze_end(const struct policy_freeze *f, int64_t now_ms)
{
	int64_t t = now_ms - now_ms % 60000; /* minutes, as the windows are */
	int left = 0;
	for (int i = 0; i < 14 && policy_freeze_covers(f, t, &left); i++)
		t += (int64_t)left * 60000;
	return t;
}

int policy_frozen(const struct policy *p, const struct catalog_action *a, int64_t now_ms,
                  struct policy_freeze_hit *hit)
{
	for (size_t i = 0; i < p->nfreezes; i++) {
		const struct policy_freeze *f = &p->freezes[i];
		if (a->risk < f->min_risk || policy_in(f->except, f->nexcept, a->name))
			continue;
		if (!policy_in(f->actions, f->nactions, "*") &&
		    !policy_in(f->actions, f->nactions, a->name))
			continue;
		if (policy_freeze_covers(f, now_ms, NULL)) {
			if (hit)
				*hit = (struct policy_freeze_hit){f->name, f->reason,
				                                  policy_freeze_end(f, now_ms)};
			return 1;
		}
	}
	return 0;
}

int policy_replicas(const struct policy *p, const char *service, int64_t *min, int64_t *max)
{
	const struct policy_limit *def = NULL;
	for (size_t i = 0; i < p->nlimits; i++) {
		if (service && strcmp(p->limits[i].service, service) == 0) {
			*min = p->limits[i].min;
			*max = p->limits[i].max;
			return 0;
		}
		if (strcmp(p->limits[i].service, "default") == 0)
			def = &p->limits[i];
	}
	if (!def)
		return -1;
	*min = def->min;
	*max = def->max;
	return 0;
}

const char *policy_person_of(const struct policy *p, const char *surface, const char *user_id)
{
	if (!surface || !user_id)
		return NULL;
	int slack = strcmp(surface, "slack") == 0, ux = strcmp(surface, "unix") == 0;
	if (!slack && !ux && strcmp(surface, "discord") != 0)
		return NULL;
	for (size_t i = 0; i < p->npeople; i++) {
		const char *id = slack ? p->people[i].slack
		                 : ux  ? p->people[i].unix_user
		                       : p->people[i].discord;
		if (id && strcmp(id, user_id) == 0)
			return p->people[i].name;
	}
	return NULL;
}

int policy_person_may_approve(const struct policy *p, const struct policy_approval *ap,
                              const char *action, const char *person, const char *requester,
                              char *why, size_t whylen)
{
	if (!person) {
		snprintf(why, whylen, "this user is not in the approval policy");
		return 0;
	}
	if (!ap->requester_may_approve && requester && strcmp(requester, person) == 0) {
		snprintf(why, whylen, "%s opened this incident and may not approve %s (rule %s)",
		         person, action, ap->rule);
		return 0;
	}
	for (size_t i = 0; ap->approvers && ap->approvers[i]; i++) {
		if (strcmp(ap->approvers[i], person) == 0)
			return 1;
		const struct policy_group *g = policy_group(p, ap->approvers[i]);
		if (g && policy_in(g->members, g->n, person))
			return 1;
	}
	snprintf(why, whylen, "%s is not an approver for %s (rule %s)", person, action, ap->rule);
	return 0;
}

void policy_default_approval(const struct policy *p, struct policy_approval *out)
{
	*out = (struct policy_approval){
	    .required = 1,
	    .approvers = (const char *const *)p->def.approvers,
	    .distinct = p->def.distinct,
	    .requester_may_approve = p->def.requester_may_approve,
	    .expiry_ms = p->def.expiry_ms,
	    .rule = p->def.label,
	};
}

int policy_may_approve(const struct policy *p, const struct catalog_action *a, const char *surface,
                       const char *user_id, const char *requester_id, char *why, size_t whylen)
{
	struct policy_approval ap;
	policy_approval_for(p, a, &ap);
	const char *who = policy_person_of(p, surface, user_id);
	if (!who) {
		snprintf(why, whylen, "this %s user is not in the approval policy",
		         surface ? surface : "chat");
		return 0;
	}
	/* The requester is a person too: the same person on another surface is still them. */
	const char *req = policy_person_of(p, surface, requester_id);
	if (!req && requester_id && strcmp(requester_id, user_id) == 0)
		req = who;
	return policy_person_may_approve(p, &ap, a->name, who, req, why, whylen);
}
