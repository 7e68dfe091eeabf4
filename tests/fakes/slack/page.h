/*
 * page.h: fake-slack's browser page (GET /page), see page.c.
 */
#ifndef OPSBOT_FAKE_SLACK_PAGE_H
#define OPSBOT_FAKE_SLACK_PAGE_H

struct httpd_x;

/* Answer GET /page with the page (HTML and its script; no other files). */
void page_serve(struct httpd_x *x, void *arg);

#endif
