/*
 * NAME
 *   gwprobe - a line-oriented websocket client for testing fake-discord
 *
 * SYNOPSIS
 *   gwprobe ws://127.0.0.1:PORT/gateway?v=10&encoding=json
 *
 * DESCRIPTION
 *   Prints every text frame received as one line on stdout, then
 *   "CLOSE <code>" (0 when the peer sent no close frame) when the connection
 *   ends, and exits.  Each line read from stdin is sent as one text frame;
 *   the line "!close CODE" closes from the client side with CODE.
 *   Test-only; trusts nothing it receives beyond printing it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "mem.h"

#define LINE_MAX_LEN 65536

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_lines[256];
static int g_nlines;
static int g_stdin_eof;
static struct lws *g_wsi;
static struct lws_context *g_ctx;
static int g_done;
static int g_close_code;
static int g_client_close;
static struct buf g_rx = {.max = 1 << 20};

static void *stdin_thread(void *arg)
{
	(void)arg;
	char *line = xmalloc(LINE_MAX_LEN);
	while (fgets(line, LINE_MAX_LEN, stdin)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = 0;
		pthread_mutex_lock(&g_mu);
		if (g_nlines < 256)
			g_lines[g_nlines++] = xstrdup(line);
		pthread_mutex_unlock(&g_mu);
		lws_cancel_service(g_ctx);
	}
	pthread_mutex_lock(&g_mu);
	g_stdin_eof = 1;
	pthread_mutex_unlock(&g_mu);
	free(line);
	return NULL;
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		printf("OPEN\n");
		fflush(stdout);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		buf_append(&g_rx, in, len);
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			printf("%s\n", g_rx.data ? g_rx.data : "");
			fflush(stdout);
			buf_reset(&g_rx);
		}
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (g_wsi)
			lws_callback_on_writable(g_wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		pthread_mutex_lock(&g_mu);
		char *line = NULL;
		if (g_nlines) {
			line = g_lines[0];
			memmove(g_lines, g_lines + 1, sizeof g_lines[0] * (size_t)(g_nlines - 1));
			g_nlines--;
		}
		int more = g_nlines > 0;
		pthread_mutex_unlock(&g_mu);
		if (!line)
			break;
		if (strncmp(line, "!close ", 7) == 0) {
			int code = (int)strtol(line + 7, NULL, 10);
			g_client_close = code;
			lws_close_reason(wsi, (enum lws_close_status)code, NULL, 0);
			free(line);
			return -1;
		}
		size_t n = strlen(line);
		unsigned char *out = xmalloc(LWS_PRE + n);
		memcpy(out + LWS_PRE, line, n);
		lws_write(wsi, out + LWS_PRE, n, LWS_WRITE_TEXT);
		free(out);
		free(line);
		if (more)
			lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *b = in;
			g_close_code = (b[0] << 8) | b[1];
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		printf("ERROR %s\n", in ? (const char *)in : "connect");
		fflush(stdout);
		g_done = 1;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		printf("CLOSE %d\n", g_client_close ? g_client_close : g_close_code);
		fflush(stdout);
		g_done = 1;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {"gwprobe", cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gwprobe ws://host:port/path?query\n");
		return 2;
	}
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	g_ctx = lws_create_context(&info);
	if (!g_ctx)
		return 1;
	char *url = xstrdup(argv[1]);
	const char *prot, *addr, *path;
	int port;
	if (lws_parse_uri(url, &prot, &addr, &port, &path)) {
		fprintf(stderr, "gwprobe: bad url\n");
		return 2;
	}
	char fullpath[1024];
	snprintf(fullpath, sizeof fullpath, "/%s", path);
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = g_ctx;
	ci.address = addr;
	ci.port = port;
	ci.path = fullpath;
	ci.host = addr;
	ci.origin = addr;
	ci.protocol = NULL;
	ci.local_protocol_name = "gwprobe";
	ci.pwsi = &g_wsi;
	if (!lws_client_connect_via_info(&ci)) {
		printf("ERROR connect\n");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, stdin_thread, NULL);
	pthread_detach(th);
	while (!g_done)
		if (lws_service(g_ctx, 0) < 0)
			break;
	lws_context_destroy(g_ctx);
	free(url);
	return 0;
}
