"""A TCP forwarder that tests put between a client and a real server to make faults happen on
the wire: connections cut silently, replies held back, and what the client sends watched."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class Proxy:
    """Forwards each connection made to ``127.0.0.1:<port>`` to *host*:*port* upstream.

    *watch*, when given, sees every chunk a client sends (with the client's socket), in the
    order sent, before it goes upstream.
    """

    def __init__(
        self, host: str, port: int, watch: Callable[[socket.socket, bytes], None] | None = None
    ) -> None:
        self.upstream = (host, port)
        self.watch = watch
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.cut_clients: set[socket.socket] = set()
        self.released = threading.Event()
        self.released.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if from_client:
                if source in self.cut_clients:
                    source.close()  # the client learns of the cut only now, when it sends
                    return
                if data and self.watch is not None:
                    self.watch(source, data)
            else:
                self.released.wait()
            if not data:
                if from_client:
                    target.close()
                # (A server's end is not passed on: a cut stays silent until the client sends.)
                return
            try:
                target.sendall(data)
            except OSError:
                return

    def cut(self) -> None:
        """End every connection made so far on the server's side only, as a proxy or a
        firewall that drops idle connections does: a client is not told until it sends."""
        for client, server in self.pairs:
            self.cut_clients.add(client)
            with contextlib.suppress(OSError):  # already closed when the client left
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        self.pairs = []

    def hold(self) -> None:
        """Keep the server's replies from reaching the clients until :meth:`release`."""
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        """Stop accepting, let held replies through, and close every connection."""
        self.release()
        self.listener.close()
        for client, server in self.pairs:
            client.close()
            server.close()
