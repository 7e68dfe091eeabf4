/*
 * httpd.h: the HTTP listener moved to lib/httpd.h (so the stand-ins can
 * share it); this forwards for code that still includes "bot/httpd.h".
 */
#include "../lib/httpd.h"
