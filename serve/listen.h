/* The listening socket: parsed from ADDR:PORT and opened by us rather than
 * by the HTTP library, so that errors name their cause (EADDRINUSE, ...),
 * port 0 can report the port the kernel chose, and every server thread
 * can accept on the one socket. */
#ifndef SERVE_LISTEN_H
#define SERVE_LISTEN_H

#include <stddef.h>

/* Opens a non-blocking listening TCP socket on `spec` ("127.0.0.1:8080",
 * "[::1]:8080", "localhost:0"). Returns the socket, or -1 with one line in
 * err that names the address and says what is wrong, and errno set:
 *   - *bad_spec set (a usage error, errno EINVAL): the spec itself, as
 *     "bad --listen address 'SPEC': the port must be 0 to 65535 (0: any
 *     free port)";
 *   - else the system refused, as "cannot listen on SPEC: REASON", errno
 *     its reason; for a port in use (EADDRINUSE) with another to choose
 *     (listen_next_port). */
int listen_open(const char *spec, int *bad_spec, char *err, size_t err_size);

/* Writes `spec` with the port after its own ("127.0.0.1:8081" for
 * "127.0.0.1:8080"; 8081 after port 0 or 65535): a --listen value to
 * suggest when the port is taken. `spec` is one listen_open parsed. */
void listen_next_port(const char *spec, char *out, size_t size);

/* True when the socket is bound to a loopback address (127.0.0.0/8 or
 * ::1): only this machine can reach it, so plain HTTP is fine there. */
int listen_is_loopback(int fd);

/* Writes "http://HOST:PORT/" for the socket's bound address. */
int listen_url(int fd, char *out, size_t out_size);

#endif
