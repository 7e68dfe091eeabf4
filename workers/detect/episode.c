/*
 * episode.c: the watch-mode episode machine (see episode.h).
 */
#include "episode.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"

void episode_init(struct episode_state *e, const struct episode_cfg *cfg)
{
	memset(e, 0, sizeof *e);
	e->cfg = *cfg;
	if (e->cfg.close_at > e->cfg.open_at)
		e->cfg.close_at = e->cfg.open_at;
	if (e->cfg.open_points < 1)
		e->cfg.open_points = 1;
	if (e->cfg.close_points < 1)
		e->cfg.close_points = 1;
}

enum episode_event episode_observe(struct episode_state *e, const char *service, int64_t ts,
                                   double score, const char *series, int64_t *start_ms)
{
	size_t i = 0;
	while (i < e->n && strcmp(e->svc[i].service, service) != 0)
		i++;
	if (i == e->n) {
		if (e->n == EPISODE_MAX_SERVICES)
			return EPISODE_NONE;
		memset(&e->svc[i], 0, sizeof e->svc[i]);
		str_copy(e->svc[i].service, sizeof e->svc[i].service, service);
		e->n++;
	}
	__typeof__(&e->svc[0]) s = &e->svc[i];
	if (!s->active) {
		if (score >= e->cfg.open_at) {
			if (s->run == 0) {
				s->first_ms = ts;
				s->peak = 0.0;
			}
			s->run++;
			if (score > s->peak) {
				s->peak = score;
				str_copy(s->series, sizeof s->series, series ? series : "");
			}
			if (s->run >= e->cfg.open_points) {
				s->active = 1;
				s->run = 0;
				s->start_ms = s->first_ms;
				*start_ms = s->start_ms;
				return EPISODE_OPEN;
			}
		} else {
			s->run = 0;
		}
		return EPISODE_NONE;
	}
	if (score < e->cfg.close_at) {
		s->run++;
		if (s->run >= e->cfg.close_points) {
			s->active = 0;
			s->run = 0;
			*start_ms = s->start_ms;
			return EPISODE_CLOSE;
		}
	} else {
		s->run = 0;
		if (score > s->peak) {
			s->peak = score;
			str_copy(s->series, sizeof s->series, series ? series : "");
		}
	}
	return EPISODE_NONE;
}

void episode_key(const char *service, int64_t start_ms, char *buf, size_t len)
{
	snprintf(buf, len, "watch:%s:%lld", service, (long long)start_ms);
}
