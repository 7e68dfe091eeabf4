/* sig.c: the stop signals (sig.h). */
#include "sig.h"

#include <signal.h>

void sig_on_stop(void (*on_stop)(int), int with_hup)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (with_hup)
		sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
