"""The quorum port's Twisted shells: bytes in, packets to the sans-IO cores, packets out.

- :class:`LearnerCnxAcceptor` / :class:`LearnerHandlerProtocol`: the leader's side, one
  protocol per learner connection, feeding :class:`~zk_twisted.quorum.leader.Leader`.
- :class:`LeaderConnection`: the learner's side, feeding
  :class:`~zk_twisted.quorum.learner.Learner`; after a SNAP packet the bytes that follow
  go to a snapshot reader (the SNAP stream codec, injected) until it has the snapshot.
- :func:`connect_to_leader`: Learner.connectToLeader's retries (at most 5 tries within
  initLimit ticks), and :func:`start_half_ticks`: a core's clock.

The protocols only frame and dispatch; a stream that cannot be a QuorumPacket closes that
one connection.  An environment (``IZabEnvironment``) sends with ``peer.send_packet(p)``
and closes with ``peer.close()``: see :class:`ProtocolPeers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from twisted.internet import defer, protocol, task
from twisted.internet.error import ConnectError

from ..jute import JuteError
from ..jute import records as R
from .packets import PacketType
from .zab_stream import QuorumPacketReader, StreamError

log = logging.getLogger(__name__)


class _PacketProtocol(protocol.Protocol):
    """Common framing: QuorumPackets in, encoded QuorumPackets out."""

    def __init__(self) -> None:
        self.reader = QuorumPacketReader()
        self.closed = False

    def send_packet(self, pkt) -> None:
        if not self.closed:
            self.transport.write(R.QuorumPacket.to_bytes(pkt))

    def write_raw(self, data: bytes) -> None:
        """Bytes that are not a packet (the SNAP stream after a SNAP packet)."""
        if not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()

    def _bad_stream(self, e: Exception) -> None:
        peer = self.transport.getPeer() if self.transport else None
        log.warning("Closing quorum connection %s: %s", peer, e)
        self.close()


class LearnerHandlerProtocol(_PacketProtocol):
    """The leader's end of one learner connection."""

    def connectionMade(self) -> None:
        self.leader = self.factory.leader
        self.leader.learner_connected(self)

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        self.reader.feed(data)
        try:
            while not self.closed:
                pkt = self.reader.next()
                if pkt is None:
                    return
                self.leader.receive(self, pkt)
        except (StreamError, JuteError) as e:
            self._bad_stream(e)
            self.leader.learner_lost(self)

    def connectionLost(self, reason=None) -> None:
        self.closed = True
        self.leader.learner_lost(self)


class LearnerCnxAcceptor(protocol.Factory):
    """Leader.LearnerCnxAcceptor: accepts learners on the quorum port for one leader."""

    protocol = LearnerHandlerProtocol

    def __init__(self, leader) -> None:
        self.leader = leader


class LeaderConnection(_PacketProtocol):
    """The learner's end of its connection to the leader.

    ``snapshot_reader()`` makes an object with ``feed(data) -> (snapshot, rest) | None``:
    the SNAP stream parser (the quorum-wire branch's snapstream).
    """

    def __init__(self, learner, snapshot_reader: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.learner = learner
        self.snapshot_reader = snapshot_reader
        self._snap_packet = None
        self._snap = None

    def connectionMade(self) -> None:
        self.learner.leader = self
        self.learner.connected()

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._consume(data)
        except (StreamError, JuteError, ValueError) as e:
            self._bad_stream(e)
            self.learner.connection_lost()

    def _consume(self, data: bytes) -> None:
        while data and not self.closed:
            if self._snap is not None:
                done = self._snap.feed(data)
                if done is None:
                    return
                snapshot, data = done
                pkt, self._snap_packet, self._snap = self._snap_packet, None, None
                self.learner.receive(pkt, snapshot)
                self.reader.feed(data)
                data = b""
            else:
                self.reader.feed(data)
                data = b""
            while not self.closed and self._snap is None:
                pkt = self.reader.next()
                if pkt is None:
                    break
                if pkt.type == PacketType.SNAP:
                    if self.snapshot_reader is None:
                        raise StreamError("a SNAP arrived and no snapshot reader is configured")
                    self._snap_packet, self._snap = pkt, self.snapshot_reader()
                    data = self.reader.take_raw()
                    break
                self.learner.receive(pkt)

    def connectionLost(self, reason=None) -> None:
        self.closed = True
        self.learner.connection_lost()


class ProtocolPeers:
    """The ``send`` / ``close`` half of an environment, for peers that are these protocols."""

    def send(self, peer, pkt) -> None:
        peer.send_packet(pkt)

    def close(self, peer) -> None:
        peer.close()


def connect_to_leader(
    reactor, host: str, port: int, protocol_factory: Callable[[], protocol.Protocol], *,
    timeout_s: float, tries: int = 5, retry_delay_s: float = 1.0,
) -> defer.Deferred:  # fmt: skip
    """Learner.connectToLeader: up to ``tries`` attempts, all within ``timeout_s``
    (initLimit * tickTime); fires with the connected protocol or fails."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    deadline = reactor.seconds() + timeout_s

    @defer.inlineCallbacks
    def attempt():
        last = None
        for n in range(1, tries + 1):
            remaining = deadline - reactor.seconds()
            if remaining <= 0:
                break
            ep = TCP4ClientEndpoint(reactor, host, port, timeout=max(1, int(remaining)))
            try:
                proto = yield connectProtocol(ep, protocol_factory())
                return proto
            except ConnectError as e:
                last = e
                log.warning("Unexpected exception, tries=%d, connecting to %s:%d: %s", n, host, port, e)
                yield task.deferLater(reactor, retry_delay_s, lambda: None)
        raise last or ConnectError(string=f"could not connect to the leader at {host}:{port}")

    return attempt()


def start_half_ticks(reactor, core, tick_time_ms: int) -> task.LoopingCall:
    """Drive ``core.half_tick()`` every tickTime / 2 (the lead loop's cadence)."""
    loop = task.LoopingCall(core.half_tick)
    loop.clock = reactor
    loop.start(tick_time_ms / 2000.0, now=False)
    return loop
