"""A tiny TCP proxy on loopback that a test controls: cut every connection, refuse new ones.

Clients connect to ``proxy.port``; each connection is piped to the target server.  A test
forces a client to reconnect (``cut()``) or keeps it away from the server for a while
(``refuse = True``: new connections are accepted and closed at once, which a ZooKeeper
client sees as a failed connection attempt and retries).
"""

from __future__ import annotations

import selectors
import socket
import threading


class TCPProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.refuse = False
        self.accepted = 0  # connections piped to the server so far
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self.listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._stopped = False
        self._todo: list = []
        self._thread = threading.Thread(target=self._run, name=f"tcpproxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ---- control (any thread)
    def cut(self) -> int:
        """Close every open connection (both sides); returns how many were cut."""
        done = threading.Event()
        result: list[int] = []
        self._call(lambda: (result.append(self._cut_all()), done.set()))
        done.wait(10)
        return result[0] if result else 0

    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        if self._stopped:
            return
        self._call(self._stop)
        self._thread.join(10)

    def __enter__(self) -> TCPProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the loop (proxy thread)
    def _call(self, fn) -> None:
        with self._lock:
            self._todo.append(fn)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stopped:
            for key, _ in self._sel.select(1.0):
                tag = key.data
                if tag == "accept":
                    self._accept()
                elif tag == "wake":
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    with self._lock:
                        todo, self._todo = self._todo, []
                    for fn in todo:
                        fn()
                    if self._stopped:
                        break
                else:
                    self._pipe(key.fileobj, tag)

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        if self.refuse:
            client.close()
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._pairs.append((client, server))
            self.accepted += 1
        self._sel.register(client, selectors.EVENT_READ, server)
        self._sel.register(server, selectors.EVENT_READ, client)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            data = src.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            try:
                dst.setblocking(True)
                dst.sendall(data)
                dst.setblocking(False)
                return
            except OSError:
                pass
        self._close_pair(src)

    def _close_pair(self, s: socket.socket) -> None:
        with self._lock:
            pair = next((p for p in self._pairs if s in p), None)
            if pair is not None:
                self._pairs.remove(pair)
        for x in pair or (s,):
            try:
                self._sel.unregister(x)
            except (KeyError, ValueError):
                pass
            try:
                x.close()
            except OSError:
                pass

    def _cut_all(self) -> int:
        with self._lock:
            pairs = list(self._pairs)
        for c, _ in pairs:
            self._close_pair(c)
        return len(pairs)

    def _stop(self) -> None:
        self._cut_all()
        self._stopped = True
        for s in (self.listener, self._wake_r, self._wake_w):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._sel.close()
