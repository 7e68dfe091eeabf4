/*
 * utf8.h: one rule for text entering opsbot (webhooks, chat, opsbotctl).
 *
 * The rule, everywhere:
 *   - a NUL byte (or a JSON "\u0000" escape) is refused: the caller answers
 *     with an error naming the input; nothing is stored;
 *   - every invalid UTF-8 sequence (stray continuation byte, truncated or
 *     overlong sequence, UTF-16 surrogate, beyond U+10FFFF) becomes one
 *     U+FFFD REPLACEMENT CHARACTER, so stored text is always valid UTF-8;
 *   - text is shortened only between characters, never inside one.
 *
 * Ownership: utf8_clean/utf8_clean_json return a malloc'd, NUL-terminated
 * copy in *out (free it).  Everything else works in place or on the
 * caller's buffers.  No locale, no allocation beyond *out.
 */
#ifndef OPSBOT_UTF8_H
#define OPSBOT_UTF8_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* 1 when s[0..len) is well-formed UTF-8 and holds no NUL byte. */
int utf8_valid(const char *s, size_t len);

/*
 * The entrance rule on raw bytes: -1 (with a reason in err) when s holds a
 * NUL byte; else 0 and a repaired copy in *out (*outlen bytes).
 */
int utf8_clean(const char *s, size_t len, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * The same for a JSON document before it is parsed: also refuses the
 * "\u0000" escape (a parser would cut the string there).  The repaired
 * copy is still JSON: only bytes inside strings can be invalid UTF-8 in
 * valid JSON, and U+FFFD is valid there.
 */
int utf8_clean_json(const char *s, size_t len, char **out, size_t *outlen, char *err,
                    size_t errlen);

/*
 * Length of the longest prefix of s (len bytes of valid UTF-8) that is at
 * most max bytes and ends on a character boundary.
 */
size_t utf8_prefix(const char *s, size_t len, size_t max);

/*
 * Copy NUL-terminated src into dst (dstlen bytes, dstlen >= 4), repairing
 * invalid sequences and cutting on a character boundary; a cut string ends
 * with "…" (U+2026) within dstlen.  A NUL ends src as in C.  Returns 1
 * when src was cut, 0 when it fit.
 */
int utf8_copy(char *dst, size_t dstlen, const char *src);

/*
 * Repair a NUL-terminated string in place where possible: invalid bytes
 * become U+FFFD when there is room (dstlen), else '?'.  For fields that
 * arrive already decoded (form values, CLI arguments).  Returns the number
 * of repairs made.
 */
size_t utf8_repair_inplace(char *s, size_t cap);

/*
 * For callers that parse JSON themselves (Slack, Discord, opsbotctl): the
 * rule, then json_parse_object().  0, or -1 with a one-line reason.
 */
int utf8_parse_json(const char *s, size_t len, cJSON **out, char *err, size_t errlen);

/*
 * Repair every string value and key in a parsed JSON tree in place (a tree
 * built from C strings cannot hold a NUL).  For text that arrived decoded
 * (form fields, command-line arguments) and went into an object: one call
 * before the object is sent on.  Returns the number of strings repaired.
 */
size_t utf8_repair_json(cJSON *item);

#endif
