/*
 * embed.h: the fake LLM's deterministic text embedding.
 *
 * Feature hashing: every word (lower-cased run of letters, digits or UTF-8
 * bytes) adds 1.0 and every character trigram of "^word$" adds 0.5 to the
 * dimension FNV-1a picks for it, with a sign taken from another bit of the
 * same hash; the vector is then L2-normalised.  Texts that share words or
 * word pieces ("latency", "latencies") land near each other; the same text
 * always gives the same vector, on every machine.  Empty text (no words)
 * gives the zero vector.
 */
#ifndef OPSBOT_FAKE_EMBED_H
#define OPSBOT_FAKE_EMBED_H

#include <stddef.h>

#define EMBED_MAX_DIM 4096

/* Fill out[0..dim) with the embedding of text[0..len).  dim is 1..EMBED_MAX_DIM. */
void embed_text(const char *text, size_t len, float *out, size_t dim);
/* Cosine similarity of two normalised vectors (their dot product). */
double embed_dot(const float *a, const float *b, size_t dim);

#endif
