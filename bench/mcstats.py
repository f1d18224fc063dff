"""memcached's `stats`, read on one connection kept open for the whole run
(so reading them adds no connection to total_connections)."""
import socket

# Every command a session store sends counts once: meta and classic get
# (cmd_get), mg with T (counted as cmd_touch, not cmd_get), every storage
# command incl. ms/add/cas/replace (cmd_set), touch, delete, incr/decr.
COMMAND_STATS = ("cmd_get", "cmd_set", "cmd_touch", "cmd_flush",
                 "delete_hits", "delete_misses", "incr_hits", "incr_misses",
                 "decr_hits", "decr_misses")


class Memcached:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _until(self, terminators):
        while not any(self.buf.endswith(t) for t in terminators):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("memcached closed the stats connection")
            self.buf += chunk
        out, self.buf = self.buf, b""
        return out.decode()

    def stats(self):
        self.sock.sendall(b"stats\r\n")
        figures = {}
        for line in self._until((b"END\r\n",)).split("\r\n"):
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT":
                try:
                    figures[parts[1]] = int(parts[2])
                except ValueError:
                    pass
        return figures

    def flush_all(self):
        self.sock.sendall(b"flush_all\r\n")
        reply = self._until((b"\r\n",))
        if reply.strip() != "OK":
            raise RuntimeError("flush_all answered %r" % reply)

    def close(self):
        self.sock.close()


def commands(before, after):
    """Commands served between two stats snapshots."""
    return sum(after.get(k, 0) - before.get(k, 0) for k in COMMAND_STATS)


def new_connections(before, after):
    return after["total_connections"] - before["total_connections"]
