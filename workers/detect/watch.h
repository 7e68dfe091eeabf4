/*
 * watch.h: watch mode -- poll the sources, stream every series through its
 * own detector, and open an incident per service and episode (episode.h).
 *
 * Each poll scrapes the scrape sources, fetches the last `window`, feeds
 * each series only the points newer than it has seen (a detector per
 * series, kept across polls), and gives each service's best recent score
 * to the episode machine.  Opening submits {what:"incident", key:
 * "watch:<service>:<start>", spec:{source:"watch", ...}}; the key makes a
 * resubmission after a failure or restart harmless.  Points older than two
 * intervals only warm the detectors up: history never opens an incident,
 * and neither does a series before its detector has seen `watch_warmup`
 * points.
 */
#ifndef OPSBOT_DETECT_WATCH_H
#define OPSBOT_DETECT_WATCH_H

struct job_state;

/*
 * Run until SIGTERM/SIGINT, or for `polls` polls when polls > 0.  dry_run
 * prints what would be submitted as JSON lines on stdout instead of
 * talking to the queue.  Returns the exit code.
 */
int watch_run(struct job_state *st, int dry_run, long polls);

#endif
