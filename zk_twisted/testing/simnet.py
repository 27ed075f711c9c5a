"""The in-memory network and reactor of the simulation (:mod:`zk_twisted.testing.simulation`).

:class:`SimNetwork` holds every listener, pending dial and connection of a simulation; a
``transport.write`` is one chunk in a FIFO per connection direction and nothing moves until
the driver takes an :class:`Event` (deliver one chunk, all of them coalesced, or half of the
next; complete or refuse a dial; let a reset end reach a protocol).  :class:`SimReactor` is
what one node incarnation sees as its reactor: the shared Clock's ``callLater`` /
``seconds`` (its calls tracked, so a crash cancels exactly that incarnation's timers) and
``listenTCP`` / ``connectTCP`` on the network.  Protocols are the real Twisted ones; the
transports (:class:`SimTransport`) implement what they call of ITCPTransport.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from twisted.internet import defer, error
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.python.failure import Failure

__all__ = ["CLIENT", "HOST", "Event", "SimNetwork", "SimReactor", "SimTransport", "SimConnection", "SimPort"]

log = logging.getLogger(__name__)

CLIENT = 0  #: the network id of the simulated clients (never crashed, linked to everyone)
HOST = "127.0.0.1"
_FIN = object()


@dataclass(frozen=True, order=True)
class Event:
    """One thing that can happen next.  ``kind``: deliver / deliver_all / deliver_half /
    connect / refuse / lost / fsync / due / advance; ``key`` names the connection, dial or node."""

    kind: str
    key: tuple = ()

    def __str__(self) -> str:
        return f"{self.kind}{self.key}"


class _Delayed:
    """What a dead incarnation gets from ``callLater``: a call that never runs."""

    def active(self) -> bool:
        return False

    def cancel(self) -> None:
        pass

    def getTime(self) -> float:
        return 0.0


class SimPort:
    """A listening port (IListeningPort) of the in-memory network."""

    def __init__(self, net: SimNetwork, node: int, address: tuple[str, int], factory) -> None:
        self.net, self.node, self.address, self.factory = net, node, address, factory

    def stopListening(self) -> defer.Deferred:
        if self.net.listeners.get(self.address) is self:
            del self.net.listeners[self.address]
        return defer.succeed(None)

    loseConnection = stopListening

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", *self.address)


class _Connector:
    """What ClientFactory callbacks get as ``connector``."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address

    def getDestination(self) -> IPv4Address:
        return IPv4Address("TCP", *self.address)

    def stopConnecting(self) -> None:
        pass

    def disconnect(self) -> None:
        pass


@dataclass
class _Dial:
    did: int
    src: int
    incarnation: int
    address: tuple[str, int]
    factory: object
    connector: _Connector


class SimTransport:
    """One end of an in-memory TCP connection (ITransport, ITCPTransport's little we use)."""

    def __init__(self, conn: SimConnection, side: int) -> None:
        self.conn, self.side = conn, side
        self.protocol = None
        self.disconnecting = False  # loseConnection called here
        self.lost = False  # connectionLost delivered to our protocol
        self.paused = False  # pauseProducing: nothing is delivered to us
        self.producer = None
        self.connected = True

    # what the protocol calls
    def write(self, data: bytes) -> None:
        c = self.conn
        if self.disconnecting or c.reset or self.lost or not data:
            return
        c.queues[self.side].append(bytes(data))

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        for d in seq:
            self.write(d)

    def loseConnection(self) -> None:
        if self.disconnecting or self.lost or self.conn.reset:
            return
        self.disconnecting = True
        if self.producer is not None:
            self.unregisterProducer()
        self.conn.queues[self.side].append(_FIN)

    def abortConnection(self) -> None:
        """A reset: whatever is in flight is lost; both ends hear of it at a ``lost`` event."""
        self.conn.net._reset(self.conn)

    def getPeer(self) -> IPv4Address:
        return self.conn.addresses[1 - self.side]

    def getHost(self) -> IPv4Address:
        return self.conn.addresses[self.side]

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.loseConnection()

    def registerProducer(self, producer, streaming: bool) -> None:
        """A pull producer is asked for more until it unregisters (no flow control here)."""
        self.producer = producer
        if not streaming:
            for _ in range(1_000_000):
                if self.producer is not producer or self.disconnecting or self.lost:
                    break
                producer.resumeProducing()

    def unregisterProducer(self) -> None:
        self.producer = None


@dataclass
class SimConnection:
    cid: int
    net: SimNetwork
    nodes: tuple[int, int]  # (dialler, listener)
    incarnations: tuple[int, int]
    addresses: tuple[IPv4Address, IPv4Address]
    kind: str = "tcp"
    ends: list[SimTransport] = field(default_factory=list)
    #: queues[side]: what ``side`` wrote, not yet delivered to the other side
    queues: tuple[deque, deque] = field(default_factory=lambda: (deque(), deque()))
    #: sides whose protocol is still to hear connectionLost (after a reset)
    pending_lost: list[int] = field(default_factory=list)
    reset: bool = False


class SimNetwork:
    """Listeners, dials and connections of the whole simulation; nothing moves by itself."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.listeners: dict[tuple[str, int], SimPort] = {}
        self.conns: dict[int, SimConnection] = {}
        self.dials: dict[int, _Dial] = {}
        self.broken: set[frozenset] = set()
        self.dead: set[int] = set()
        self.incarnation: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._ports = itertools.count(40000)
        #: exceptions protocol callbacks raised (Twisted would log them and drop the connection)
        self.unhandled: list[Failure] = []

    def linked(self, a: int, b: int) -> bool:
        return a == b or CLIENT in (a, b) or frozenset((a, b)) not in self.broken

    def alive(self, node: int, incarnation: int | None = None) -> bool:
        if node in self.dead:
            return False
        return incarnation is None or self.incarnation.get(node, 0) == incarnation

    # ---------------------------------------------------------------- for SimReactor
    def listen(self, node: int, incarnation: int, port: int, factory, interface: str) -> SimPort:
        address = (HOST, port)
        if address in self.listeners:
            raise error.CannotListenError(interface, port, OSError("address already in use"))
        p = SimPort(self, node, address, factory)
        self.listeners[address] = p
        return p

    def dial(self, node: int, incarnation: int, host: str, port: int, factory) -> _Connector:
        connector = _Connector((host, port))
        d = _Dial(next(self._ids), node, incarnation, (host, port), factory, connector)
        self.dials[d.did] = d
        if hasattr(factory, "startedConnecting"):
            factory.startedConnecting(connector)
        return connector

    # ---------------------------------------------------------------- events
    def events(self) -> list[Event]:
        out: list[Event] = []
        for did in self.dials:
            out.append(Event("connect", (did,)))
            out.append(Event("refuse", (did,)))
        for cid, c in self.conns.items():
            for side in c.pending_lost:
                out.append(Event("lost", (cid, side)))
            for side in (0, 1):
                q = c.queues[side]
                if q and not c.ends[1 - side].paused:
                    out.append(Event("deliver", (cid, side)))
                    if len(q) > 1:
                        out.append(Event("deliver_all", (cid, side)))
                    if q[0] is not _FIN and len(q[0]) > 1:
                        out.append(Event("deliver_half", (cid, side)))
        return out

    def do_connect(self, did: int) -> None:
        d = self.dials.pop(did)
        if not self.alive(d.src, d.incarnation):
            return
        target = self.listeners.get(d.address)
        if target is None or not self.alive(target.node) or not self.linked(d.src, target.node):
            self._refused(d)
            return
        cid = next(self._ids)
        local = IPv4Address("TCP", HOST, next(self._ports))
        c = SimConnection(
            cid,
            self,
            (d.src, target.node),
            (d.incarnation, self.incarnation.get(target.node, 0)),
            (local, target.getHost()),
        )
        c.ends = [SimTransport(c, 0), SimTransport(c, 1)]
        self.conns[cid] = c
        server = target.factory.buildProtocol(local)
        client = d.factory.buildProtocol(target.getHost())
        if server is None or client is None:  # pragma: no cover - our factories always build
            self._reset(c)
            return
        c.ends[1].protocol, c.ends[0].protocol = server, client
        self._call(c, server.makeConnection, c.ends[1])
        if not c.reset and not c.ends[0].lost:
            self._call(c, client.makeConnection, c.ends[0])

    def do_refuse(self, did: int) -> None:
        d = self.dials.pop(did)
        if self.alive(d.src, d.incarnation):
            self._refused(d)

    def _refused(self, d: _Dial) -> None:
        reason = Failure(error.ConnectionRefusedError(f"{d.address[0]}:{d.address[1]}"))
        if hasattr(d.factory, "clientConnectionFailed"):
            d.factory.clientConnectionFailed(d.connector, reason)

    def deliver(self, cid: int, side: int, everything: bool = False, half: bool = False) -> None:
        """The next write on one direction arrives (``everything``: all the writes queued
        before a FIN, coalesced as TCP may; ``half``: the first half of the next write, the
        rest stays queued, as TCP may cut it)."""
        c = self.conns[cid]
        q = c.queues[side]
        receiver = c.ends[1 - side]
        if half:
            head = q[0]
            cut = len(head) // 2
            q[0] = head[cut:]
            if not receiver.lost:
                self._call(c, receiver.protocol.dataReceived, head[:cut])
            return
        if everything:
            items = []
            while q and q[0] is not _FIN:
                items.append(q.popleft())
            if items and not receiver.lost:
                self._call(c, receiver.protocol.dataReceived, b"".join(items))
            return
        item = q.popleft()
        if item is _FIN:
            # the closer's FIN arrived: both ends are done with the connection
            self._finish(c, 1 - side, error.ConnectionDone("closed by peer"))
            self._finish(c, side, error.ConnectionDone("closed"))
            return
        if not receiver.lost:
            self._call(c, receiver.protocol.dataReceived, item)

    def _call(self, c: SimConnection, f, *args) -> None:
        """A protocol callback; one that raises is logged and its connection dropped, as
        Twisted's reactor does (the exception is kept in :attr:`unhandled`)."""
        try:
            f(*args)
        except Exception:  # noqa: BLE001 - the reactor's behaviour
            failure = Failure()
            self.unhandled.append(failure)
            log.error("Unhandled error in %r: %s", f, failure.getTraceback())
            self._reset(c)

    def _finish(self, c: SimConnection, side: int, why: Exception) -> None:
        end = c.ends[side]
        if not end.lost:
            end.lost = True
            end.connected = False
            end.producer = None
            if end.protocol is not None:
                try:
                    end.protocol.connectionLost(Failure(why))
                except Exception:  # noqa: BLE001 - logged, as the reactor does
                    self.unhandled.append(Failure())
                    log.error("Unhandled error in connectionLost: %s", self.unhandled[-1].getTraceback())
        if c.ends[0].lost and c.ends[1].lost:
            self.conns.pop(c.cid, None)

    def lost(self, cid: int, side: int) -> None:
        c = self.conns[cid]
        c.pending_lost.remove(side)
        self._finish(c, side, error.ConnectionLost("connection reset"))

    def _reset(self, c: SimConnection) -> None:
        """abortConnection (from inside a protocol): both ends lose it at a later event."""
        if c.reset:
            return
        c.reset = True
        c.queues[0].clear()
        c.queues[1].clear()
        c.pending_lost = [s for s in (0, 1) if not c.ends[s].lost]
        if not c.pending_lost:
            self.conns.pop(c.cid, None)

    def sever(self, c: SimConnection, why: str, skip: int | None = None) -> None:
        """From the driver (not inside a protocol): the connection breaks at once; ``skip``
        is a dead node, whose protocols hear nothing."""
        c.reset = True
        c.queues[0].clear()
        c.queues[1].clear()
        c.pending_lost = []
        for side in (0, 1):
            if c.nodes[side] == skip:
                c.ends[side].lost = True
        for side in (0, 1):
            self._finish(c, side, error.ConnectionLost(why))
        self.conns.pop(c.cid, None)

    # ---------------------------------------------------------------- faults
    def crash(self, node: int) -> None:
        self.dead.add(node)
        for addr, p in list(self.listeners.items()):
            if p.node == node:
                del self.listeners[addr]
        for did, d in list(self.dials.items()):
            if d.src == node:
                del self.dials[did]
        for c in list(self.conns.values()):
            if node in c.nodes:
                self.sever(c, f"server {node} crashed", skip=node)

    def revive(self, node: int) -> int:
        self.dead.discard(node)
        self.incarnation[node] = self.incarnation.get(node, 0) + 1
        return self.incarnation[node]

    def partition(self, a: int, b: int) -> None:
        self.broken.add(frozenset((a, b)))
        for c in list(self.conns.values()):
            if set(c.nodes) == {a, b}:
                self.sever(c, f"link {a}-{b} broken")

    def heal(self, a: int, b: int) -> None:
        self.broken.discard(frozenset((a, b)))


class SimReactor:
    """The reactor one node incarnation sees: the shared clock and network, its own timers."""

    def __init__(self, net: SimNetwork, node: int, incarnation: int) -> None:
        self.net, self.node, self.incarnation = net, node, incarnation
        self.clock = net.clock
        self.calls: list = []
        self.dead = False
        self.running = True

    def seconds(self) -> float:
        return self.clock.seconds()

    def callLater(self, delay, f, *args, **kw):
        if self.dead:
            return _Delayed()
        dc = self.clock.callLater(delay, f, *args, **kw)
        calls = self.calls
        calls.append(dc)
        if len(calls) > 256:
            self.calls = [c for c in calls if c.active()]
        return dc

    def getDelayedCalls(self):
        return [c for c in self.calls if c.active()]

    def callFromThread(self, f, *args, **kw) -> None:
        self.callLater(0, f, *args, **kw)

    def callWhenRunning(self, f, *args, **kw):
        return f(*args, **kw)

    def addSystemEventTrigger(self, *args, **kw) -> None:
        return None

    def listenTCP(self, port, factory, backlog=50, interface=""):
        if self.dead:
            raise error.CannotListenError(interface, port, OSError("the node is dead"))
        return self.net.listen(self.node, self.incarnation, port, factory, interface)

    def connectTCP(self, host, port, factory, timeout=30, bindAddress=None):
        if self.dead:
            return _Connector((host, port))
        return self.net.dial(self.node, self.incarnation, host, port, factory)

    def kill(self) -> None:
        """The incarnation is dead: none of its timers runs again."""
        self.dead = True
        for c in self.calls:
            if c.active():
                c.cancel()
        self.calls = []
