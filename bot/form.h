/*
 * form.h: application/x-www-form-urlencoded bodies (Slack HTTP mode sends
 * slash commands and interactivity this way; the Slack stand-in reads Web
 * API calls this way).
 */
#ifndef OPSBOT_BOT_FORM_H
#define OPSBOT_BOT_FORM_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * Decode "a=1&b=x%20y" into a new object of strings ({"a":"1","b":"x y"});
 * '+' is a space; a repeated key keeps the last value; a bad %xx is kept
 * literally.  Caller frees with cJSON_Delete.
 */
cJSON *form_parse(const char *s, size_t len);

#endif
