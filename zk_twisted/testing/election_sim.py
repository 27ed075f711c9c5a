"""A whole ensemble's elections in one process: nodes, faults, a stand-in for the roles.

:class:`ElectionSim` puts N election stacks (QuorumCnxManager + FastLeaderElection +
LeaderElection, the live objects) on a :class:`~zk_twisted.testing.network.MemoryNetwork`
and drives them from a seed.  No ZAB runs; in its place a *role check* (a timer of
``role_timeout`` seconds after each decision, as ZAB's initLimit / syncLimit timeouts)
sends back to LOOKING a follower whose leader is not LEADING, or a leader that no quorum
follows -- what the Leader / Follower roles would do.  Durable state (last zxid,
currentEpoch) survives a crash; the logical clock does not, as in 3.8.

After every step :meth:`check` asserts the election invariants of
``spec/FastLeaderElection.tla`` (VoteNeverBelowOwn) and that no voter
counts an observer's vote.  Later the ZAB roles replace the role check and the same
network carries the quorum port.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from twisted.internet.defer import CancelledError

from ..config import QuorumServer
from ..election.driver import Decision
from ..election.messages import ServerState
from ..quorum.verifier import QuorumHierarchical, QuorumMaj
from .network import ElectionNode, MemoryNetwork, election_node, kill

__all__ = ["ElectionSim", "DecisionRecord"]


@dataclass(frozen=True)
class DecisionRecord:
    sid: int
    incarnation: int
    leader: int
    state: ServerState
    round: int
    time: float
    phase: str


@dataclass
class ElectionSim:
    """``votes``: sid -> (currentEpoch, last zxid) of each voter; ``observers``: their sids."""

    votes: Mapping[int, tuple[int, int]]
    observers: tuple[int, ...] = ()
    seed: int = 0
    #: group.N / weight.N: hierarchical quorums when given (gid -> sids, sid -> weight)
    groups: Mapping[int, tuple[int, ...]] | None = None
    weights: Mapping[int, int] | None = None
    role_timeout: float = 4.0
    net: MemoryNetwork = field(default_factory=MemoryNetwork)
    nodes: dict[int, ElectionNode] = field(default_factory=dict)
    decisions: list[DecisionRecord] = field(default_factory=list)
    phase: str = "faults"

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        sids = sorted(self.votes) + sorted(self.observers)
        self.servers = {
            s: QuorumServer(
                s,
                ("127.0.0.1", 20000 + s),
                ("127.0.0.1", 30000 + s),
                "observer" if s in self.observers else "participant",
            )
            for s in sids
        }
        voting = {s: q for s, q in self.servers.items() if q.is_participant}
        observing = {s: self.servers[s] for s in self.observers}
        if self.groups is not None:
            self.verifier = QuorumHierarchical(voting, observing, self.groups, self.weights or {})
        else:
            self.verifier = QuorumMaj(voting, observing)
        self.incarnation = dict.fromkeys(sids, 0)
        for s in sids:
            self.start(s)

    # ---------------------------------------------------------------- nodes
    def init_vote(self, sid: int) -> tuple[int, int, int]:
        epoch, zxid = self.votes[sid]
        return (epoch, zxid, sid)

    def start(self, sid: int) -> None:
        epoch, zxid = self.votes.get(sid, (0, 0))
        self.incarnation[sid] += 1
        node = election_node(
            self.net,
            sid,
            self.servers,
            self.verifier,
            last_zxid=zxid,
            current_epoch=epoch,
            learner_type=self.servers[sid].learner_type,
            start=False,
        )
        self.nodes[sid] = node
        self._look(sid)

    def _look(self, sid: int) -> None:
        node, inc = self.nodes[sid], self.incarnation[sid]
        node.election.set_state(ServerState.LOOKING)
        d = node.election.look_for_leader(node.last_zxid, node.current_epoch)
        d.addCallback(self._decided, sid, inc)
        d.addErrback(lambda f: f.trap(CancelledError))  # the node crashed while looking

    def _decided(self, decision: Decision, sid: int, inc: int) -> None:
        node = self.nodes[sid]
        self.decisions.append(
            DecisionRecord(
                sid, inc, decision.leader, decision.state, node.fle.logicalclock, self.net.clock.seconds(), self.phase
            )
        )
        self.net.clock.callLater(self.role_timeout, self._role_check, sid, inc)

    def _role_check(self, sid: int, inc: int) -> None:
        """What ZAB would find after its timeouts: no leader to follow, no quorum to lead."""
        if self.incarnation[sid] != inc or not self.alive(sid):
            return
        node = self.nodes[sid]
        if node.fle.state == ServerState.LOOKING:
            return
        if self.role_ok(sid):
            self.net.clock.callLater(self.role_timeout, self._role_check, sid, inc)
        else:
            self._look(sid)

    def role_ok(self, sid: int) -> bool:
        node = self.nodes[sid]
        leader = node.fle.current_vote.leader
        if node.fle.state == ServerState.LEADING:
            team = {s for s in self.live() if self._follows(s, sid)}
            return self.verifier.contains_quorum(team)
        return (
            self.alive(leader)
            and self.nodes[leader].fle.state == ServerState.LEADING
            and self.net.linked(sid, leader)
        )

    def _follows(self, s: int, leader: int) -> bool:
        fle = self.nodes[s].fle
        if not self.net.linked(s, leader):
            return False
        return fle.state in (ServerState.FOLLOWING, ServerState.LEADING) and fle.current_vote.leader == leader

    def alive(self, sid: int) -> bool:
        return self.net.alive(sid)

    def live(self) -> list[int]:
        return [s for s in self.nodes if self.alive(s)]

    # ---------------------------------------------------------------- faults
    def crash(self, sid: int) -> None:
        kill(self.net, self.nodes[sid])

    def restart(self, sid: int) -> None:
        self.start(sid)

    def fault_step(self) -> str:
        """One random fault: crash, restart, partition, heal, refuse a dial, or an early timer."""
        rng = self.rng
        live, dead = self.live(), [s for s in self.nodes if not self.alive(s)]
        kind = rng.choice(["crash", "restart", "partition", "heal", "refuse", "early_timer"])
        if kind == "crash" and len(live) > 1:
            s = rng.choice(live)
            self.crash(s)
            return f"crash {s}"
        if kind == "restart" and dead:
            s = rng.choice(dead)
            self.restart(s)
            return f"restart {s}"
        if kind == "partition" and len(self.nodes) > 1:
            a, b = rng.sample(sorted(self.nodes), 2)
            self.net.partition(a, b)
            return f"partition {a}-{b}"
        if kind == "heal" and self.net.broken_links:
            a, b = sorted(rng.choice(sorted(self.net.broken_links, key=sorted)))
            self.net.heal(a, b)
            return f"heal {a}-{b}"
        if kind == "refuse":
            evs = [e for e in self.net.events() if e.kind == "refuse"]
            if evs:
                self.net.step(rng.choice(evs))
                return "refuse"
        if kind == "early_timer" and self.net.clock.getDelayedCalls():
            self.net.step(next(e for e in self.net.events() if e.kind == "timer"))
            return "early timer"
        return "none"

    def step(self, fault_rate: float = 0.0) -> bool:
        """One step: a fault with probability ``fault_rate``, else a delivery or dial (the
        timer only when nothing else can happen).  False when nothing at all can happen."""
        if fault_rate and self.rng.random() < fault_rate:
            self.fault_step()
            return True
        evs = self.net.events()
        now = [e for e in evs if e.kind in ("deliver", "connect")]
        if now:
            self.net.step(self.rng.choice(now))
        elif any(e.kind == "timer" for e in evs):
            self.net.step(next(e for e in evs if e.kind == "timer"))
        else:
            return False
        return True

    def stop_faults(self) -> None:
        """Heal every link and restart every crashed node: from now on, no fault."""
        self.phase = "calm"
        for link in list(self.net.broken_links):
            a, b = sorted(link)
            self.net.heal(a, b)
        for s in sorted(self.nodes):
            if not self.alive(s):
                self.restart(s)

    # ---------------------------------------------------------------- checks
    def check(self) -> None:
        """The spec's election invariants, on every live node, after every step."""
        for s in self.live():
            fle = self.nodes[s].fle
            for votes in (fle.recvset, fle.outofelection):
                assert not (set(votes) & set(self.observers)), f"{s} counted an observer: {votes}"
            if not fle.looking or s in self.observers:
                continue
            p = fle.proposal
            assert p.order_key() >= self.init_vote(s), f"VoteNeverBelowOwn: {s} proposes {p}"

    def settled(self) -> int | None:
        """The leader every live node agrees on (LEADING itself, all others following it and
        their roles valid), or None."""
        live = self.live()
        states = {s: self.nodes[s].fle for s in live}
        if any(f.looking or f.state == ServerState.LOOKING for f in states.values()):
            return None
        leaders = {f.current_vote.leader for f in states.values()}
        if len(leaders) != 1:
            return None
        (leader,) = leaders
        if leader not in states or states[leader].state != ServerState.LEADING:
            return None
        return leader if all(self.role_ok(s) for s in live) else None
