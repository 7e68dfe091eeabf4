/* embed.c: hashed bag of words and trigrams, L2-normalised (see embed.h). */
#include "embed.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t embed_fnv(const unsigned char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void embed_add(float *out, size_t dim, const unsigned char *p, size_t n, char kind, float w)
{
	uint64_t h = embed_fnv((const unsigned char *)&kind, 1, 14695981039346656037ull);
	h = embed_fnv(p, n, h);
	/* a final mix so nearby inputs spread over both index and sign */
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	out[h % dim] += (h >> 63) ? -w : w;
}

static int embed_wordch(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

void embed_text(const char *text, size_t len, float *out, size_t dim)
{
	memset(out, 0, dim * sizeof(*out));
	unsigned char word[66];
	size_t i = 0;
	while (i < len) {
		while (i < len && !embed_wordch((unsigned char)text[i]))
			i++;
		size_t n = 0;
		word[n++] = '^';
		while (i < len && embed_wordch((unsigned char)text[i])) {
			unsigned char c = (unsigned char)text[i++];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if (n < sizeof(word) - 1)
				word[n++] = c; /* words longer than 64 bytes are cut */
		}
		if (n == 1)
			break;
		word[n++] = '$';
		embed_add(out, dim, word + 1, n - 2, 'w', 1.0f);
		for (size_t k = 0; k + 3 <= n; k++)
			embed_add(out, dim, word + k, 3, 't', 0.5f);
	}
	double norm = 0;
	for (size_t k = 0; k < dim; k++)
		norm += (double)out[k] * out[k];
	if (norm <= 0)
		return;
	norm = sqrt(norm);
	for (size_t k = 0; k < dim; k++)
		out[k] = (float)(out[k] / norm);
}

double embed_dot(const float *a, const float *b, size_t dim)
{
	double s = 0;
	for (size_t k = 0; k < dim; k++)
		s += (double)a[k] * b[k];
	return s;
}
