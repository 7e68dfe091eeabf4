/* submit.c: one builder of `submit what:"incident"` requests (see submit.h). */
#include "submit.h"

#include "json.h"
#include "wire.h"

cJSON *submit_spec_new(const struct submit_incident *s)
{
	cJSON *spec = json_new_object();

	json_add_str(spec, "title", s->title);
	json_add_str(spec, "service", s->service);
	json_add_str(spec, "severity", s->severity);
	json_add_str(spec, "source", s->source);
	if (s->summary)
		json_add_str(spec, "summary", s->summary);
	if (s->surface_kind) {
		cJSON *surf = json_new_object();
		json_add_str(surf, "kind", s->surface_kind);
		json_add_str(surf, "channel", s->channel ? s->channel : "");
		json_add_str(surf, "user", s->user ? s->user : "");
		if (s->user_id)
			json_add_str(surf, "user_id", s->user_id);
		json_add(spec, "surface", surf);
	}
	return spec;
}

cJSON *submit_incident_new(const struct submit_incident *s)
{
	cJSON *req = wire_new(WIRE_SUBMIT, 0);

	json_add_str(req, "what", "incident");
	if (s->key)
		json_add_str(req, "key", s->key);
	json_add(req, "spec", submit_spec_new(s));
	return req;
}
