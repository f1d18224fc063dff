/* The listening socket: parsed from ADDR:PORT and opened by us rather than
 * by the HTTP library, so that errors name their cause (EADDRINUSE, ...),
 * port 0 can report the port the kernel chose, and every server thread
 * can accept on the one socket. */
#ifndef SERVE_LISTEN_H
#define SERVE_LISTEN_H

#include <stddef.h>

/* Opens a non-blocking listening TCP socket on `spec` ("127.0.0.1:8080",
 * "[::1]:8080", "localhost:0"). Returns the socket, or -1 with a message
 * in err. *bad_spec is set when the spec itself is wrong (a usage error)
 * rather than the system refusing it. */
int listen_open(const char *spec, int *bad_spec, char *err, size_t err_size);

/* True when the socket is bound to a loopback address (127.0.0.0/8 or
 * ::1): only this machine can reach it, so plain HTTP is fine there. */
int listen_is_loopback(int fd);

/* Writes "http://HOST:PORT/" for the socket's bound address. */
int listen_url(int fd, char *out, size_t out_size);

#endif
