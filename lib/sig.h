/* sig.h: the stop signals every long-running opsbot process installs. */
#ifndef OPSBOT_SIG_H
#define OPSBOT_SIG_H

/* SIGTERM and SIGINT call on_stop (no SA_RESTART, so a blocking call returns
 * EINTR and the loop sees the flag on_stop sets); SIGPIPE is ignored, so a
 * peer that closes early is an error return, not a death.  with_hup: SIGHUP
 * calls on_stop too (daemons under the master). */
void sig_on_stop(void (*on_stop)(int), int with_hup);

#endif
