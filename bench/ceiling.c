/*
 * ceiling.c - the fastest a bare libevent evhttp server can answer the bytes
 * the emulator answers for the benchmarked request.
 *
 * It answers every request, whatever its method or path, with status 200, the
 * body read once at startup from a file, Content-Type: application/json and a
 * fixed x-amzn-RequestId header. evhttp adds Date and Content-Length itself,
 * as it does for the emulator. One thread, one event loop: the same shape as
 * the emulator, so the ratio emulator/ceiling measures the emulator's own cost.
 *
 * Usage: ceiling --port PORT --body FILE     (or: ceiling PORT FILE)
 *   PORT 0 picks a free port. Once listening, prints one line
 *   "http://127.0.0.1:PORT" on stdout and flushes it. SIGTERM/SIGINT stop it.
 *
 * Build: cc -O2 -o ceiling ceiling.c $(pkg-config --cflags --libs libevent_core libevent_extra)
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#define REQUEST_ID "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"

static char *body;
static size_t body_len;

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s --port PORT --body FILE   (or: %s PORT FILE)\n", argv0, argv0);
    exit(2);
}

static int read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ceiling: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return -1; }
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *n = realloc(buf, cap);
            if (!n) { free(buf); fclose(f); return -1; }
            buf = n;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return -1; }
    body = buf;
    body_len = len;
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg) {
    (void)arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "x-amzn-RequestId", REQUEST_ID);
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    /* The body lives for the whole process: no copy needed. */
    evbuffer_add_reference(buf, body, body_len, NULL, NULL);
    evhttp_send_reply(req, HTTP_OK, "OK", buf);
    evbuffer_free(buf);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)sig; (void)what;
    event_base_loopbreak((struct event_base *)arg);
}

int main(int argc, char **argv) {
    const char *port_s = NULL, *body_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port_s = argv[++i];
        else if (strcmp(argv[i], "--body") == 0 && i + 1 < argc) body_path = argv[++i];
        else if (argv[i][0] == '-') usage(argv[0]);
        else if (!port_s) port_s = argv[i];
        else if (!body_path) body_path = argv[i];
        else usage(argv[0]);
    }
    if (!port_s || !body_path) usage(argv[0]);
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*end || port < 0 || port > 65535) usage(argv[0]);
    if (read_file(body_path) != 0) return 1;

    signal(SIGPIPE, SIG_IGN);

    struct event_base *base = event_base_new();
    if (!base) { fprintf(stderr, "ceiling: event_base_new failed\n"); return 1; }
    struct evhttp *http = evhttp_new(base);
    if (!http) { fprintf(stderr, "ceiling: evhttp_new failed\n"); return 1; }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                     EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http, on_request, NULL);

    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (!bound) {
        fprintf(stderr, "ceiling: cannot bind 127.0.0.1:%ld\n", port);
        return 1;
    }
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) != 0) {
        perror("ceiling: getsockname");
        return 1;
    }

    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL)) {
        fprintf(stderr, "ceiling: cannot install signal handlers\n");
        return 1;
    }

    printf("http://127.0.0.1:%u\n", (unsigned)ntohs(sin.sin_port));
    fflush(stdout);

    event_base_dispatch(base);

    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(base);
    free(body);
    return 0;
}
