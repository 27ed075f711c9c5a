"""Record what Java ZooKeeper 3.8 nodes say to each other on the quorum and election ports.

A :class:`CaptureNet` is a set of TCP relays on loopback, one per (dialling node, dialled
node, port kind). Each node's zoo.cfg lists its own ports for itself and, for every other
server, the relay that forwards to that server, so every connection a node opens to a peer
passes a relay, which records per connection, per direction, each chunk with a timestamp.

The election port's dial-back: a node that receives a connection from a smaller sid drops
it and dials back to the election address in the connection header (QuorumCnxManager
.handleConnection), which is the dialler's *real* port. The relay therefore rewrites that
address in the header to the relay for the way back; the capture keeps the header bytes as
Java sent them, and the rewritten header in :attr:`Connection.rewritten`.

A relay can also drop one direction (:meth:`CaptureNet.drop`): the bytes are recorded,
flagged ``dropped``, and never delivered (how the TRUNC scenario keeps followers from
seeing a leader's last proposal).

:class:`JavaEnsemble` starts Debian's ZooKeeper 3.8 (QuorumPeerMain, the classpath that
``zk_java.sh`` and ``zkharness.java_classpath`` use) with these configs.
"""

from __future__ import annotations

import selectors
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from zkharness import four_letter, free_port, java_classpath, wait_for

QUORUM = "quorum"
ELECTION = "election"
#: direction of a chunk: from the node that dialled, or towards it
OUT, IN = "out", "in"
#: how long a relay keeps retrying a port that is not open yet (seconds)
DIAL_PATIENCE = 10.0


@dataclass
class Chunk:
    t: float  # time.monotonic() when the relay read it
    direction: str  # OUT (dialler -> dialled) or IN
    data: bytes
    dropped: bool = False


@dataclass
class Connection:
    kind: str  # QUORUM or ELECTION
    src: int  # sid of the node that dialled
    dst: int  # sid of the node dialled
    index: int  # order of acceptance over the whole capture
    opened: float
    closed: float | None = None
    chunks: list[Chunk] = field(default_factory=list)
    #: election port: the connection header as forwarded (address rewritten), if it was
    rewritten: bytes | None = None
    #: the relay's own port on its connection to the dialled node (what that node logs)
    relay_port: int = 0

    def stream(self, direction: str, include_dropped: bool = True) -> bytes:
        """Every byte sent one way, in order (dropped ones too unless told otherwise)."""
        return b"".join(c.data for c in self.chunks if c.direction == direction and (include_dropped or not c.dropped))


class _Pipe:
    """One relayed connection: two sockets and their pending output."""

    def __init__(self, conn: Connection, a: socket.socket, b: socket.socket, relay: _Relay) -> None:
        self.conn = conn
        self.a, self.b = a, b  # a: the dialler's side, b: the dialled node's
        self.relay = relay
        self.header = bytearray() if conn.kind == ELECTION else None  # election header, until parsed


class _Relay:
    def __init__(self, net: CaptureNet, kind: str, src: int, dst: int) -> None:
        self.net, self.kind, self.src, self.dst = net, kind, src, dst
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.target_port = 0  # set once the real ports are known


class CaptureNet:
    """The relays of an ensemble and everything they recorded."""

    def __init__(self) -> None:
        self.relays: dict[tuple[str, int, int], _Relay] = {}
        self.connections: list[Connection] = []
        self._drops: set[tuple[str, int, int, str]] = set()
        self._lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pipes: dict[socket.socket, tuple[_Pipe, str]] = {}
        self._todo: list[_Pipe] = []  # dialled, to be registered by the loop
        #: sids of nodes that are stopped: connections to them are closed at once
        self.down: set[int] = set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    # ---- set-up
    def relay(self, kind: str, src: int, dst: int) -> _Relay:
        key = (kind, src, dst)
        r = self.relays.get(key)
        if r is None:
            r = self.relays[key] = _Relay(self, kind, src, dst)
            self._sel.register(r.listener, selectors.EVENT_READ, r)
        return r

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="quorumcapture", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(10)
        for r in self.relays.values():
            r.listener.close()
        for s in list(self._pipes):
            s.close()
        self._wake_r.close()
        self._wake_w.close()

    # ---- control
    def drop(self, kind: str, src: int, dst: int, direction: str, on: bool = True) -> None:
        """Record but do not deliver bytes of ``direction`` on src->dst connections of ``kind``."""
        with self._lock:
            key = (kind, src, dst, direction)
            if on:
                self._drops.add(key)
            else:
                self._drops.discard(key)

    def snapshot(self) -> list[Connection]:
        with self._lock:
            return list(self.connections)

    def of_kind(self, kind: str) -> list[Connection]:
        return [c for c in self.snapshot() if c.kind == kind]

    # ---- the loop
    def _run(self) -> None:
        while not self._stopped:
            for key, _ in self._sel.select(0.5):
                obj = key.data
                if obj is None:
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
                    self._register()
                elif isinstance(obj, _Relay):
                    self._accept(obj)
                else:
                    self._pump(key.fileobj)

    def _accept(self, relay: _Relay) -> None:
        try:
            a, _ = relay.listener.accept()
        except OSError:
            return
        threading.Thread(target=self._dial, args=(relay, a), name="quorumcapture-dial", daemon=True).start()

    def _dial(self, relay: _Relay, a: socket.socket) -> None:
        """Connect to the real port, retrying while it is not open yet (a new leader opens
        its quorum port a moment after the election): a direct connection would have been
        refused and retried by the Java node, while one the relay accepted and then closed
        reads as a leader that dropped the learner, which sends it back to the election.
        A node known to be down (:attr:`CaptureNet.down`) is not waited for."""
        deadline = time.monotonic() + DIAL_PATIENCE
        while True:
            try:
                b = socket.create_connection(("127.0.0.1", relay.target_port), timeout=5)
                break
            except OSError:
                if self._stopped or relay.dst in self.down or time.monotonic() > deadline:
                    a.close()  # the node is down: the dialler sees its connection closed
                    return
                time.sleep(0.05)
        for s in (a, b):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(None)
        with self._lock:
            conn = Connection(relay.kind, relay.src, relay.dst, len(self.connections), time.monotonic())
            conn.relay_port = b.getsockname()[1]
            self.connections.append(conn)
            pipe = _Pipe(conn, a, b, relay)
            self._todo.append(pipe)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _register(self) -> None:
        with self._lock:
            todo, self._todo = self._todo, []
            for pipe in todo:
                self._pipes[pipe.a] = (pipe, OUT)
                self._pipes[pipe.b] = (pipe, IN)
        for pipe in todo:
            self._sel.register(pipe.a, selectors.EVENT_READ, pipe)
            self._sel.register(pipe.b, selectors.EVENT_READ, pipe)

    def _close_pipe(self, pipe: _Pipe) -> None:
        with self._lock:
            for s in (pipe.a, pipe.b):
                if s in self._pipes:
                    del self._pipes[s]
                    try:
                        self._sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
                    s.close()
            if pipe.conn.closed is None:
                pipe.conn.closed = time.monotonic()

    def _pump(self, sock: socket.socket) -> None:
        entry = self._pipes.get(sock)
        if entry is None:
            return
        pipe, direction = entry
        try:
            data = sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self._close_pipe(pipe)
            return
        conn = pipe.conn
        with self._lock:
            dropped = (conn.kind, conn.src, conn.dst, direction) in self._drops
            conn.chunks.append(Chunk(time.monotonic(), direction, data, dropped))
        if dropped:
            return
        out = pipe.b if direction == OUT else pipe.a
        if pipe.header is not None and direction == OUT:
            pipe.header += data
            fixed = self._rewrite_header(pipe)
            if fixed is None:
                return  # header not complete yet
            data = fixed
        try:
            out.sendall(data)  # blocking: the peers read continuously, loopback buffers are deep
        except OSError:
            self._close_pipe(pipe)

    def _rewrite_header(self, pipe: _Pipe) -> bytes | None:
        """The election header with its address pointing at the relay for the way back."""
        buf = pipe.header
        if len(buf) < 8:
            return None
        (proto,) = struct.unpack_from(">q", buf, 0)
        if proto >= 0 or len(buf) >= 20 and not (0 < struct.unpack_from(">i", buf, 16)[0] <= 2048):
            pipe.header = None  # legacy header (the sid only) or garbage: forward as is
            return bytes(buf)
        if len(buf) < 20:
            return None
        (n,) = struct.unpack_from(">i", buf, 16)
        if len(buf) < 20 + n:
            return None
        back = self.relays.get((ELECTION, pipe.conn.dst, pipe.conn.src))
        rest = bytes(buf[20 + n :])
        pipe.header = None
        if back is None:
            return bytes(buf)
        addr = f"127.0.0.1:{back.port}".encode()
        new = bytes(buf[:16]) + struct.pack(">i", len(addr)) + addr
        pipe.conn.rewritten = new
        return new + rest


# ---------------------------------------------------------------------------- Java nodes
LOG4J = """log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zookeeper.log.dir}/${zookeeper.log.file}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
"""


@dataclass
class JavaNode:
    sid: int
    base: Path
    client_port: int
    quorum_port: int
    election_port: int
    observer: bool = False
    proc: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.base / f"data{self.sid}"

    @property
    def cfg(self) -> Path:
        return self.base / f"zk{self.sid}.cfg"

    @property
    def log_path(self) -> Path:
        return self.base / f"zk{self.sid}.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    net: CaptureNet | None = None

    def start(self) -> None:
        if self.net is not None:
            self.net.down.discard(self.sid)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{self.sid}\n")
        out = open(self.base / f"zk{self.sid}.out", "ab")
        self.proc = subprocess.Popen(
            [
                # quick start-up on a loaded machine; none of this changes what goes on the wire
                "java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m", "-cp", java_classpath(),
                f"-Dzookeeper.log.dir={self.base}", f"-Dzookeeper.log.file=zk{self.sid}.log",
                f"-Dlog4j.configuration=file:{self.base}/log4j.properties",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.cfg),
            ],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        out.close()

    def kill(self) -> None:
        if self.net is not None:
            self.net.down.add(self.sid)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.net is not None:
            self.net.down.add(self.sid)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def wipe(self) -> None:
        """Remove the data dir's contents but myid (a member that lost its disk)."""
        shutil.rmtree(self.data_dir / "version-2", ignore_errors=True)

    def mode(self) -> str:
        for line in four_letter(self.client_port, "srvr", timeout=1.0).splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return ""

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.client_port}"


class JavaEnsemble:
    """``participants`` voters (sids 1..n) and ``observers`` observers (sids after them),
    all on loopback, every peer-to-peer connection through ``net``'s relays."""

    def __init__(self, base: Path, participants: int = 3, observers: int = 0, extra: dict | None = None) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "log4j.properties").write_text(LOG4J)
        self.net = CaptureNet()
        self.nodes: dict[int, JavaNode] = {}
        total = participants + observers
        for sid in range(1, total + 1):
            self.nodes[sid] = JavaNode(sid, self.base, free_port(), free_port(), free_port(), observer=sid > participants)
            self.nodes[sid].net = self.net
        for i in self.nodes:
            for j in self.nodes:
                if i != j:
                    self.net.relay(QUORUM, i, j).target_port = self.nodes[j].quorum_port
                    self.net.relay(ELECTION, i, j).target_port = self.nodes[j].election_port
        self.extra = {
            "tickTime": "2000", "initLimit": "10", "syncLimit": "5",
            "admin.enableServer": "false", "4lw.commands.whitelist": "*",
            **(extra or {}),
        }  # fmt: skip
        for node in self.nodes.values():
            node.cfg.write_text(self._config(node))
        self.net.start()

    def _config(self, node: JavaNode) -> str:
        lines = [f"{k}={v}" for k, v in self.extra.items()]
        lines += [f"dataDir={node.data_dir}", f"clientPort={node.client_port}", "clientPortAddress=127.0.0.1"]
        if node.observer:
            lines.append("peerType=observer")
        for j, other in self.nodes.items():
            if j == node.sid:
                q, e = other.quorum_port, other.election_port
            else:
                q, e = self.net.relays[(QUORUM, node.sid, j)].port, self.net.relays[(ELECTION, node.sid, j)].port
            lines.append(f"server.{j}=127.0.0.1:{q}:{e}" + (":observer" if other.observer else ""))
        return "\n".join(lines) + "\n"

    def start(self, sids=None) -> None:
        for sid in sids or self.nodes:
            self.nodes[sid].start()

    def wait_serving(self, sids=None, timeout: float = 60.0) -> int:
        """Wait until exactly one of ``sids`` (default: the live ones) leads and all serve; the leader's sid."""
        sids = list(sids or [s for s, n in self.nodes.items() if n.proc is not None and n.proc.poll() is None])
        found: list[int] = []
        modes: dict[int, str] = {}

        def ready() -> bool:
            modes.update({s: self.nodes[s].mode() for s in sids})
            leaders = [s for s, m in modes.items() if m == "leader"]
            if len(leaders) == 1 and all(m in ("leader", "follower", "observer") for m in modes.values()):
                found[:] = leaders
                return True
            return False

        try:
            wait_for(ready, timeout, interval=0.1, what=f"Java ensemble {sids} serving")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; modes {modes}; see {self.base}/zk*.log") from None
        return found[0]

    def leader(self) -> int:
        for sid, n in self.nodes.items():
            if n.mode() == "leader":
                return sid
        raise AssertionError("no leader")

    def close(self) -> None:
        for n in self.nodes.values():
            n.kill()
        self.net.close()


def wait_until(pred, timeout: float = 30.0, what: str = "condition") -> None:
    wait_for(pred, timeout, interval=0.05, what=what)
