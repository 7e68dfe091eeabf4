/*
 * embed.h: text embeddings from an OpenAI-compatible /v1/embeddings endpoint.
 *
 * POST {base_url}/embeddings {"model": M, "input": [texts...],
 * "encoding_format": "float"} and read data[i].embedding (placed by
 * data[i].index).  Vectors are L2-normalised here, so cosine similarity is a
 * dot product.  The API key, when the endpoint needs one, comes from the
 * environment (OPSBOT_LLM_API_KEY), never from the config file.
 *
 * Ownership: *out from embed_texts is one malloc'd block of n*dim floats the
 * caller frees; struct embed is freed with embed_free().
 */
#ifndef OPSBOT_RETRIEVE_EMBED_H
#define OPSBOT_RETRIEVE_EMBED_H

#include <stddef.h>

#define EMBED_BATCH     32   /* texts per request */
#define EMBED_MAX_DIMS  8192 /* a longer vector is refused */
#define EMBED_TEXT_MAX  4000 /* bytes of one text sent */
#define EMBED_MAX_REPLY (64 << 20)

struct embed;

/* base_url like "http://127.0.0.1:8080/v1"; api_key may be NULL. */
struct embed *embed_new(const char *base_url, const char *model, const char *api_key,
                        long timeout_ms);
void embed_free(struct embed *e);
const char *embed_model(const struct embed *e);

/*
 * Embed n texts (any n; sent in batches).  0 with *out (n * *dim floats),
 * or -1 with err (transport, status, or a malformed answer naming the field).
 */
int embed_texts(struct embed *e, const char *const *texts, size_t n, float **out, size_t *dim,
                char *err, size_t errlen);

#endif
