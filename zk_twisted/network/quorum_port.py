"""The quorum port's Twisted shells: the leader's learner acceptor, a learner's connection.

Thin: bytes are cut into QuorumPackets by the sans-IO ``QuorumPacketReader`` and handed to a
handler (the role), packets go out as their records' bytes (no length prefix).  After a SNAP
packet the bytes that follow are the snapshot stream: the handler takes them with
:meth:`QuorumConnection.raw_mode` until it says the stream is over.  Garbage, or a packet
the handler refuses (``ValueError``), closes that one connection with a log line.
:func:`connect_to_leader` is Learner.connectToLeader, retries included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from twisted.internet import defer, task
from twisted.internet.protocol import ClientFactory, Factory, Protocol

from ..jute import JuteError
from ..quorum.packets import DEFAULT_MAX_BUFFER, PACKET_NAMES, QuorumPacketReader, encode_packet

log = logging.getLogger(__name__)


class QuorumConnection(Protocol):
    """One quorum-port connection.  ``handler`` has ``connected(conn)``,
    ``packet_received(conn, packet)`` and ``connection_lost(conn, reason)``."""

    def __init__(self, handler, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.handler = handler
        #: runs :meth:`send_stream`'s writer (task.cooperate: the global reactor's cooperator)
        self.cooperate: Callable = task.cooperate
        self.reader = QuorumPacketReader(max_buffer)
        self._raw: Callable[[bytes], bytes | None] | None = None
        self.closed = False
        self.bytes_received = 0
        self.bytes_sent = 0
        #: what the handler keeps about this connection (the learner's sid, ...)
        self.peer = None
        self.on_made: Callable[[QuorumConnection], None] | None = None
        #: packets sent while a stream is being written go out after it, in order
        self._held: list[bytes] | None = None

    # ---- Twisted
    def connectionMade(self) -> None:
        # follower.nodelay (true by default): both ends of a quorum connection, as 3.8's
        # Learner and LearnerCnxAcceptor set it (small ACK / COMMIT packets, no Nagle wait)
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)
        if self.on_made is not None:
            self.on_made(self)
        self.handler.connected(self)

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        self.bytes_received += len(data)
        try:
            if self._raw is not None:
                self._feed_raw(data)
            else:
                self._deliver(self.reader.feed(data))
        except (ValueError, JuteError) as e:
            self.abort(f"bad input: {e}")

    def _deliver(self, packets) -> None:
        for p in packets:
            if self.closed:
                return
            self.handler.packet_received(self, p)
        if self.reader.paused and self._raw is not None and not self.closed:
            # a SNAP: what is buffered already belongs to the stream
            self._feed_raw(self.reader.take_buffered())

    def _feed_raw(self, data: bytes) -> None:
        leftover = self._raw(data)
        if leftover is not None:  # the stream is complete: packets again
            self._raw = None
            self._deliver(self.reader.resume(leftover))

    def connectionLost(self, reason=None) -> None:
        was_closed, self.closed = self.closed, True
        self.handler.connection_lost(self, None if was_closed else reason)

    # ---- for the handler
    def raw_mode(self, consume: Callable[[bytes], bytes | None]) -> None:
        """Hand every following byte to ``consume`` until it returns the bytes after its
        stream (``b""`` if none), then parse packets again."""
        self._raw = consume

    def send(self, packet) -> None:
        if not self.closed:
            data = encode_packet(packet)
            if self._held is not None:
                self._held.append(data)
                return
            self.bytes_sent += len(data)
            self.transport.write(data)

    def send_stream(self, chunks: Iterable[bytes]) -> defer.Deferred:
        """Write a long byte stream (a SNAP) cooperatively, so the reactor keeps serving;
        packets sent meanwhile follow the stream, in the order they were sent.  ``chunks``
        is closed at the end if it can be (SnapStream's copy-on-write view)."""
        if self._held is not None:
            raise RuntimeError("a stream is already being written")
        self._held = []

        def write_all():
            for chunk in chunks:
                if self.closed:
                    return
                self.bytes_sent += len(chunk)
                self.transport.write(chunk)
                yield None

        def flush(result):
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # a stream left unfinished (connection gone) lets go of what it holds
            held, self._held = self._held, None
            if not self.closed and held:
                self.bytes_sent += sum(map(len, held))
                self.transport.writeSequence(held)
            return result

        return self.cooperate(write_all()).whenDone().addBoth(flush)

    def abort(self, why: str) -> None:
        if not self.closed:
            log.warning("Closing quorum connection %s: %s", self.describe(), why)
            self.closed = True
            self.transport.abortConnection()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()

    def describe(self) -> str:
        peer = getattr(self.transport, "getPeer", lambda: None)()
        where = f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}" if peer else "?"
        return f"{where}" + (f" (sid {self.peer})" if self.peer is not None else "")


def packet_name(p) -> str:
    return PACKET_NAMES.get(p.type, str(p.type))


class LearnerAcceptorFactory(Factory):
    """The leader's quorum port: one :class:`QuorumConnection` per learner, all handled by
    the leader role (which makes one LearnerHandler per connection)."""

    def __init__(self, handler, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.handler = handler
        #: runs :meth:`send_stream`'s writer (task.cooperate: the global reactor's cooperator)
        self.cooperate: Callable = task.cooperate
        self.max_buffer = max_buffer

    def buildProtocol(self, addr):
        return QuorumConnection(self.handler, self.max_buffer)


class _LeaderConnector(ClientFactory):
    def __init__(self, handler, max_buffer: int, d: defer.Deferred) -> None:
        self.handler, self.max_buffer, self.d = handler, max_buffer, d

    def buildProtocol(self, addr):
        conn = QuorumConnection(self.handler, self.max_buffer)
        conn.on_made = self.d.callback
        return conn

    def clientConnectionFailed(self, connector, reason) -> None:
        if not self.d.called:
            self.d.errback(reason)


#: Learner.connectToLeader: attempts, and the pause between them (s): 3.8's
#: zookeeper.leaderConnectDelayDuringRetryMs, 100 ms by default (its comment still says
#: 1000).  A learner usually dials a new leader before that opens its quorum port, so this
#: pause is in every failover
CONNECT_TRIES = 5
CONNECT_RETRY_PAUSE = 0.1


def connect_to_leader(
    reactor, host: str, port: int, handler, timeout: float, max_buffer: int = DEFAULT_MAX_BUFFER,
    *, tries: int = CONNECT_TRIES, retry_pause: float = CONNECT_RETRY_PAUSE,
) -> defer.Deferred:  # fmt: skip
    """Learner.connectToLeader: up to ``tries`` attempts, each allowed ``timeout`` seconds,
    ``retry_pause`` apart.  Fires with the :class:`QuorumConnection` as it connects (just
    before ``handler.connected``); fails with the last attempt's reason."""

    @defer.inlineCallbacks
    def attempts():
        for attempt in range(1, tries + 1):
            d: defer.Deferred = defer.Deferred()
            reactor.connectTCP(host, port, _LeaderConnector(handler, max_buffer, d), timeout=timeout)
            try:
                conn = yield d
            except Exception as e:  # noqa: BLE001 - any failure to connect is retried
                log.warning("Unexpected exception, tries=%d, connecting to %s:%d: %s", attempt, host, port, e)
                if attempt == tries:
                    raise
                yield task.deferLater(reactor, retry_pause, lambda: None)
            else:
                return conn

    return attempts()
