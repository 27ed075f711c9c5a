"""A deterministic in-memory network for the election port (and, later, the quorum port).

Every byte the nodes write goes into a FIFO per connection direction; nothing moves until
the caller says so.  The caller (a test, a hypothesis strategy, the conformance runner)
picks one enabled :class:`Event` at a time from :meth:`MemoryNetwork.events`:

* ``deliver``  -- the next write on one direction of a connection reaches the other end
                  (a write is one ``transport.write``: on the election port, one frame or
                  one initial message), or its close does;
* ``connect``  -- a pending dial completes (the listener gets the connection);
* ``refuse``   -- a pending dial fails (nobody listening, link broken, or chosen);
* ``timer``    -- time advances to the next scheduled call of the shared ``Clock``.

Faults are method calls: :meth:`crash` (the node's connections break at both ends, what
was in flight is lost), :meth:`partition` / :meth:`heal` (a broken link loses its
connections and refuses dials), :meth:`drop` (lose the next write on a direction).
:meth:`run` steps with a ``random.Random`` until a predicate holds; same seed, same run.

Nodes are anything with an election ``QuorumCnxManager`` (``node.qcm``); the network
plays reactor for them: it listens for them (``listen``) and dials for them
(:class:`MemoryDialer`, an ``IElectionDialer``).  :func:`election_node` builds the whole
election stack of one server over it (QuorumCnxManager + FastLeaderElection +
LeaderElection), the same objects the live server runs.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from twisted.internet.task import Clock
from zope.interface import implementer

from ..election.cnxmanager import QuorumCnxManager
from ..election.driver import LeaderElection
from ..election.fle import FastLeaderElection
from ..interfaces import IElectionDialer, IElectionTransport

__all__ = ["MemoryNetwork", "MemoryDialer", "Event", "ElectionNode", "election_node", "FIN"]

#: the close marker in a direction's queue (delivered after the data before it, as TCP's FIN)
FIN = object()


@dataclass(frozen=True)
class Event:
    """One thing the network can do next.  ``kind``: deliver / connect / refuse / timer."""

    kind: str
    key: tuple = ()

    def __str__(self) -> str:
        return f"{self.kind}{self.key}"


@implementer(IElectionTransport)
class _End:
    """One end of an in-memory connection, as its owner sees it."""

    def __init__(self, net: MemoryNetwork, conn: _Conn, side: int) -> None:
        self.net, self.conn, self.side = net, conn, side
        self.channel = None  # the Channel fed by this end
        self.closed = False

    @property
    def node(self) -> int:
        return self.conn.nodes[self.side]

    def write(self, data: bytes) -> None:
        if self.closed or self.conn.broken or not self.net.alive(self.node):
            return
        self.conn.queues[self.side].append(bytes(data))

    def close(self) -> None:
        if self.closed or self.conn.broken:
            return
        self.closed = True
        self.conn.queues[self.side].append(FIN)

    def peer_text(self) -> str:
        other = self.conn.nodes[1 - self.side]
        return f"memory:{other}->{self.node}#{self.conn.cid}"


@dataclass
class _Conn:
    cid: int
    nodes: tuple[int, int]  # (dialler, listener)
    ends: list = field(default_factory=list)
    #: queues[side]: what side wrote, not yet delivered to the other side
    queues: tuple[deque, deque] = field(default_factory=lambda: (deque(), deque()))
    broken: bool = False


@dataclass
class _Dial:
    did: int
    src: int
    manager: object
    sid: int
    address: tuple[str, int]


@implementer(IElectionDialer)
class MemoryDialer:
    """Dials for node ``src`` through the network (IElectionDialer)."""

    def __init__(self, net: MemoryNetwork, src: int) -> None:
        self.net, self.src = net, src

    def dial(self, manager, sid, host, port, timeout) -> None:
        self.net._dial(self.src, manager, sid, (host, port))


class MemoryNetwork:
    """Connections, dials and time of a set of nodes, all under the caller's control."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.listeners: dict[tuple[str, int], tuple[int, Callable]] = {}
        self.conns: dict[int, _Conn] = {}
        self.dials: dict[int, _Dial] = {}
        self.dead: set[int] = set()
        self.broken_links: set[frozenset] = set()
        self._ids = itertools.count(1)
        #: every event taken, in order (a schedule that can be replayed or printed)
        self.trace: list[str] = []

    # ---------------------------------------------------------------- wiring
    def listen(self, node: int, address: tuple[str, int], accept: Callable) -> None:
        """``accept(transport) -> channel`` is called for each connection to ``address``."""
        self.listeners[tuple(address)] = (node, accept)

    def unlisten(self, node: int) -> None:
        for addr, (n, _) in list(self.listeners.items()):
            if n == node:
                del self.listeners[addr]

    def alive(self, node: int) -> bool:
        return node not in self.dead

    def linked(self, a: int, b: int) -> bool:
        return a == b or frozenset((a, b)) not in self.broken_links

    def _dial(self, src: int, manager, sid: int, address: tuple[str, int]) -> None:
        if not self.alive(src):
            return
        d = _Dial(next(self._ids), src, manager, sid, tuple(address))
        self.dials[d.did] = d

    # ---------------------------------------------------------------- events
    def events(self) -> list[Event]:
        """Everything that can happen next, in a stable order."""
        out: list[Event] = []
        for did in sorted(self.dials):
            out.append(Event("connect", (did,)))
            out.append(Event("refuse", (did,)))
        for cid in sorted(self.conns):
            c = self.conns[cid]
            for side in (0, 1):
                if c.queues[side]:
                    out.append(Event("deliver", (cid, side)))
        if self.clock.getDelayedCalls():
            out.append(Event("timer"))
        return out

    def step(self, ev: Event) -> None:
        self.trace.append(str(ev))
        if ev.kind == "deliver":
            self._deliver(*ev.key)
        elif ev.kind == "connect":
            self._connect(self.dials.pop(ev.key[0]))
        elif ev.kind == "refuse":
            d = self.dials.pop(ev.key[0])
            if self.alive(d.src):
                d.manager.dial_failed(d.sid, "connection refused (chosen)")
        elif ev.kind == "timer":
            calls = self.clock.getDelayedCalls()
            if calls:
                due = min(c.getTime() for c in calls)
                self.clock.advance(max(0.0, due - self.clock.seconds()))
        else:  # pragma: no cover
            raise ValueError(ev)

    def _connect(self, d: _Dial) -> None:
        if not self.alive(d.src):
            return
        target = self.listeners.get(d.address)
        if target is None or not self.alive(target[0]) or not self.linked(d.src, target[0]):
            d.manager.dial_failed(d.sid, f"connection refused: {d.address}")
            return
        dst, accept = target
        c = _Conn(next(self._ids), (d.src, dst))
        c.ends = [_End(self, c, 0), _End(self, c, 1)]
        self.conns[c.cid] = c
        c.ends[1].channel = accept(c.ends[1])
        c.ends[0].channel = d.manager.outgoing_connected(d.sid, c.ends[0])

    def _deliver(self, cid: int, side: int) -> None:
        c = self.conns[cid]
        item = c.queues[side].popleft()
        receiver = c.ends[1 - side]
        if item is FIN:
            self._close_end(c, 1 - side)
            if not c.queues[0] and not c.queues[1] and c.ends[0].closed and c.ends[1].closed:
                del self.conns[cid]
            return
        if receiver.channel is not None and not receiver.closed:
            receiver.channel.data_received(item)

    def _close_end(self, c: _Conn, side: int) -> None:
        """The other side closed: ``side`` sees connection_lost and closes too."""
        end = c.ends[side]
        was_closed = end.closed
        end.closed = True
        if end.channel is not None:
            end.channel.connection_lost("connection closed by peer")
        if not was_closed:
            c.queues[side].append(FIN)

    def _break(self, c: _Conn, why: str) -> None:
        c.broken = True
        c.queues[0].clear()
        c.queues[1].clear()
        self.conns.pop(c.cid, None)
        for end in c.ends:
            if not end.closed and self.alive(end.node):
                end.closed = True
                if end.channel is not None:
                    end.channel.connection_lost(why)

    # ---------------------------------------------------------------- faults
    def crash(self, node: int) -> None:
        """kill -9: everything to and from ``node`` is lost; peers see their connections
        break.  The node's own objects are dead: drop them and build a new node to restart."""
        self.dead.add(node)
        self.unlisten(node)
        for d in list(self.dials.values()):
            if d.src == node:
                del self.dials[d.did]
        for c in list(self.conns.values()):
            if node in c.nodes:
                self._break(c, f"server {node} crashed")

    def revive(self, node: int) -> None:
        """The node may run again (a new incarnation registers itself with ``listen``)."""
        self.dead.discard(node)

    def partition(self, a: int, b: int) -> None:
        """Cut the link a-b: its connections break at both ends, dials across it fail."""
        self.broken_links.add(frozenset((a, b)))
        for c in list(self.conns.values()):
            if set(c.nodes) == {a, b}:
                self._break(c, f"link {a}-{b} broken")

    def heal(self, a: int, b: int) -> None:
        self.broken_links.discard(frozenset((a, b)))

    def drop(self, cid: int, side: int) -> None:
        """Lose the next write on one direction (a connection that drops a message is not
        TCP: use it to model what 3.8 would lose on a reset, then break the connection)."""
        c = self.conns[cid]
        if c.queues[side]:
            c.queues[side].popleft()

    # ---------------------------------------------------------------- running
    def run(
        self,
        done: Callable[[], bool],
        rng: random.Random | None = None,
        max_steps: int = 10000,
        choose: Callable[[list[Event]], Event] | None = None,
        refuse_weight: float = 0.0,
    ) -> int:
        """Take events (random ones from ``rng``, or ``choose``'s) until ``done()``; returns
        the number of steps.  Dials are refused only with probability ``refuse_weight``;
        the timer is taken only when nothing else can happen, unless ``choose`` decides."""
        rng = rng or random.Random(0)
        for n in range(max_steps):
            if done():
                return n
            evs = self.events()
            if not evs:
                return n
            if choose is not None:
                ev = choose(evs)
            else:
                ev = _pick(evs, rng, refuse_weight)
            self.step(ev)
        return max_steps


def _pick(evs: list[Event], rng: random.Random, refuse_weight: float) -> Event:
    now = [e for e in evs if e.kind in ("deliver", "connect")]
    if refuse_weight and rng.random() < refuse_weight:
        refusals = [e for e in evs if e.kind == "refuse"]
        if refusals:
            return rng.choice(refusals)
    if now:
        return rng.choice(now)
    timers = [e for e in evs if e.kind == "timer"]
    if timers:
        return timers[0]
    return rng.choice(evs)


# ------------------------------------------------------------------------ election nodes
@dataclass
class ElectionNode:
    """One server's election stack on the in-memory network."""

    sid: int
    qcm: QuorumCnxManager
    fle: FastLeaderElection
    election: LeaderElection
    last_zxid: int
    current_epoch: int


def election_node(
    net: MemoryNetwork,
    sid: int,
    servers: Mapping,
    verifier,
    *,
    last_zxid: int = 0,
    current_epoch: int = 0,
    learner_type: str = "participant",
    socket_timeout_ms: int = 10000,
    start: bool = True,
) -> ElectionNode:
    """Build (and start looking, unless ``start`` is False) server ``sid``'s election:
    ``servers`` maps sid -> QuorumServer (its ``election_addr`` is its address here)."""
    me = servers[sid]
    net.revive(sid)
    qcm = QuorumCnxManager(
        sid,
        servers,
        [me.election_addr],
        net.clock,
        MemoryDialer(net, sid),
        socket_timeout_ms=socket_timeout_ms,
    )
    net.listen(sid, me.election_addr, qcm.incoming_connected)
    fle = FastLeaderElection(sid, verifier, learner_type)
    election = LeaderElection(fle, qcm, net.clock)
    node = ElectionNode(sid, qcm, fle, election, last_zxid, current_epoch)
    if start:
        election.look_for_leader(last_zxid, current_epoch)
    return node


def kill(net: MemoryNetwork, node: ElectionNode) -> None:
    """Crash ``node``: the network forgets it, its timers stop."""
    net.crash(node.sid)
    node.election.stop()
    node.qcm.halt()  # the network ignores what a dead node writes or closes
