"""Replay a spec trace against real zk_twisted nodes, one runner-caused event per spec step.

The nodes are the whole-node simulation's (:mod:`zk_twisted.testing.simulation`): real
QuorumPeer / FastLeaderElection / Leader / Learner code, real election and quorum-port
protocols over in-memory transports, real txn logs and epoch files in temp dirs, one
``Clock``.  The runner holds the network and the clock (spec/README.md, "What the
conformance runner compares, exposes and fakes"):

* a spec step is one event it causes: deliver the head of link j -> i (one notification
  frame on the election connection, or one quorum packet), fire a node's election /
  finalize timer, pump a role's ticks to its timeout, crash, restart, break or heal a link,
  a client write at the leader;
* between steps it takes the events no spec step names (:meth:`ImplReplay.settle`): dials
  completed or refused, the election handshake and its dial-back, connection ends, due
  zero-delay calls (a role's teardown, the next FLE round), and the fsyncs of every node
  whose log tail the step's spec state does not keep pending (``pendingFsync``: with
  ``ModelFsync`` FALSE, every fsync; with it TRUE, a node's pending tail waits for its
  ``FsyncLog`` step, while a role end's flush, NEWLEADER's sync and a crash empty it in
  their own step).  Timers with a delay never fire by themselves;
* the election loopback (a notification to oneself) is held in a per-node queue, as the
  spec's ``emsgs[i][i]`` (3.8's QuorumCnxManager puts it in its receive queue);
* a learner hears that its quorum connection closed only at its ``FollowerTimeout``
  (the spec's follower stays FOLLOWING until then); the leader hears it at once.

After each step :func:`conformance.abstraction.abstract_state` must equal the trace's state
(compared fields only).  The first difference is a :class:`Divergence`; a step the
implementation cannot take is one too (field ``enabled``).  Actions the runner does not
drive yet are reported as unsupported, never skipped.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from twisted.internet import error
from twisted.python.failure import Failure

from zk_twisted.server.sessions import generate_passwd
from zk_twisted.testing.simnet import _FIN, CLIENT
from zk_twisted.testing.simulation import ClientOutcome, SimClientOp, Simulation

from .abstraction import abstract_state, diff_states, notification_message, quorum_messages
from .impl_disk import CLIENT_SESSION, CLIENT_SESSION_TIMEOUT_MS, value_data, write_data_dir

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"

__all__ = [
    "ImplReplay",
    "Divergence",
    "ReplayResult",
    "replay_trace",
    "SUPPORTED",
    "DIVERGENT",
    "KNOWN",
    "CannotTake",
]

log = logging.getLogger(__name__)

#: spec actions the runner drives (any other is reported as unsupported)
SUPPORTED = frozenset(
    {
        "HandleNotification", "FinalizeElection", "ElectionTimeout",
        "HandleFOLLOWERINFO", "HandleLEADERINFO", "HandleACKEPOCH", "HandleDIFF", "HandleTRUNC", "HandleSNAP",
        "HandleNEWLEADER", "HandleUPTODATE", "HandlePROPOSAL", "HandleCOMMIT", "HandleACK",
        "ClientWrite", "FsyncLog", "LeaderTimeout", "FollowerTimeout", "Crash", "Restart", "LinkBreak",
        "LinkHeal",
    }
)  # fmt: skip
#: the known ways the implementation departs from the spec at this grain (spec/README.md): a
#: divergence that is exactly one of them is reported as ``known`` (the trace stops there), any
#: other is a divergence.  None is left: the spec models 3.8's QuorumCnxManager (kept messages)
#: and its notification timeout (re-send to all, or redial)
KNOWN: dict[str, str] = {}
#: kept for callers of the first version: the actions where the known differences show first
DIVERGENT: dict[str, str] = {}
QUORUM_BASE, ELECTION_BASE, CLIENT_BASE = 13000, 14000, 12000


class CannotTake(Exception):
    """The spec takes a step the implementation cannot (the event it maps to is not there)."""


@dataclass
class Divergence:
    """The first step where the implementation and the trace differ."""

    trace: int
    step: int
    action: str
    params: dict
    #: var -> {where: {"spec": ..., "impl": ...}}; ``enabled`` when the step could not be taken
    fields: dict
    #: a KNOWN cause, when the divergence is exactly one of them
    cause: str | None = None

    def to_json(self) -> dict:
        return {"trace": self.trace, "step": self.step, "action": self.action, "params": self.params,
                "fields": self.fields, "cause": self.cause}  # fmt: skip


@dataclass
class ReplayResult:
    steps: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    divergence: Divergence | None = None
    #: the first action the runner does not drive, if the trace stopped at it
    unsupported: str | None = None
    #: the KNOWN cause of the divergence, when it is one of them (``divergence`` holds it)
    known: str | None = None
    #: what happened, step by step, for the divergence report
    events: list[dict] = field(default_factory=list)


class _ReplaySimulation(Simulation):
    """The simulation with the election loopback held by the runner."""

    def __init__(self, runner: ImplReplay, *a, **kw) -> None:
        self.runner = runner
        super().__init__(*a, **kw)

    def election_factory(self, cfg, reactor):  # shadows Simulation's staticmethod
        from zk_twisted.network.election_port import create_election

        stack = create_election(cfg, reactor)
        qcm = stack.manager
        send = qcm.send
        loop = self.runner.loopback.setdefault(cfg.server_id, deque())
        loop.clear()

        def held_send(sid: int, message: bytes) -> None:
            if sid == qcm.my_sid and not qcm.halted:
                loop.append(message)
                return
            send(sid, message)

        qcm.send = qcm.to_send = held_send
        return stack


class ImplReplay:
    """N real nodes started from a spec state, driven step by step by a trace."""

    def __init__(self, initial: dict, n: int, window: int) -> None:
        self.sids = list(range(1, n + 1))
        self.base = Path(tempfile.mkdtemp(prefix="zk_twisted-replay-"))
        for k, sid in enumerate(self.sids):
            d = self.base / f"node{sid}" / "data"
            d.mkdir(parents=True)
            (d / "myid").write_text(f"{sid}\n")
            write_data_dir(d, initial["history"][k], initial["currentEpoch"][k], initial["acceptedEpoch"][k])
        self.loopback: dict[int, deque] = {}
        #: learner dials whose target was down or cut off when they were made: never connected
        self.lost_dials: set[int] = set()
        #: learner sid -> quorum connections whose end it has not heard of yet
        self.held_ends: dict[int, list] = {s: [] for s in self.sids}
        #: the last ZAB core of each node's incarnation that reached BROADCAST (lastCommitted)
        self._last_core: dict[int, object] = {}
        #: nodes whose log tail the spec keeps pending after the current step (pendingFsync
        #: non-empty): their fsync waits for a FsyncLog step; every other node's is taken
        #: between steps (with ModelFsync FALSE the spec's logs are durable when written)
        self.spec_pending: set[int] = set()
        # the model's synchronization: a committedLog of `window` txns (3.8 keeps commitLogCount
        # + 1) and no DIFF from the on-disk txn log (snapshotSizeFactor < 0)
        self.sim = _ReplaySimulation(
            self, n, base_dir=str(self.base), check_every_step=False,
            extra_config={"localSessionsEnabled": "true", "localSessionsUpgradingEnabled": "false"},
            config_overrides={"commit_log_count": window - 1},
            jvm_properties={"zookeeper.snapshotSizeFactor": "-1"},
        )  # fmt: skip
        self.settle()

    def close(self) -> None:
        self.sim.close()
        shutil.rmtree(self.base, ignore_errors=True)

    # ------------------------------------------------------------------ views (read by abstraction)
    def core(self, sid: int):
        p = self.sim.nodes[sid].peer
        role = p.role if p is not None else None
        return getattr(role, "core", None) if role is not None else None

    def last_committed(self, sid: int) -> int:
        if self.sim.nodes[sid].peer is None:
            return 0
        # a role's core sets it at establishment / UPTODATE; until then the last role's value
        # stands (the spec keeps lastCommitted across roles within an incarnation)
        c = self.core(sid)
        if c is None or getattr(c, "zab_state", None) != "BROADCAST":
            c = self._last_core.get(sid)
        return getattr(c, "last_committed", 0) or 0 if c is not None else 0

    def sync_history(self, sid: int, learner, durable: list[dict]) -> list[dict]:
        from zk_twisted.quorum.packets import PacketType

        from .abstraction import _txns_of, proposal_value, zx

        if learner.sync_mode == PacketType.SNAP:  # the loaded snapshot (durable at NEWLEADER)
            tree = self.sim.nodes[sid].db.tree
            out = _txns_of([n for path, n in tree.nodes.items() if path not in ("", "/")])
        else:
            out = list(durable)
        for p in learner.sync_proposals:
            out.append({"zxid": zx(p.zxid), "value": proposal_value(p.data)})
        return out

    def _kind(self, c) -> str:
        port = c.addresses[1].port
        if QUORUM_BASE < port <= QUORUM_BASE + 100:
            return "quorum"
        if ELECTION_BASE < port <= ELECTION_BASE + 100:
            return "election"
        return "client"

    def _conns(self, kind: str, a: int, b: int):
        return [c for c in self.sim.net.conns.values() if self._kind(c) == kind and set(c.nodes) == {a, b}]

    def election_in_flight(self, i: int, j: int) -> list[dict]:
        """emsgs[i][j]: i's loopback, or the frames from i to j not yet delivered."""
        if i == j:
            return [notification_message(m) for m in self.loopback.get(i, ())]
        out = []
        for c in self._conns("election", i, j):
            side = c.nodes.index(i)
            recv = c.ends[1 - side].protocol
            ch = getattr(recv, "channel", None)
            if c.reset or ch is None or ch.closed:
                continue
            for chunk in c.queues[side]:
                if chunk is _FIN:
                    break
                out.extend(notification_message(f[4:]) for f in _frames(chunk))
        return out

    def election_kept(self, i: int, j: int) -> list[dict]:
        """ekept[i][j]: what i's QuorumCnxManager keeps for j, its queued message or else the
        one it sent last (what a new connection to j carries first)."""
        peer = self.sim.nodes[i].peer
        if i == j or peer is None:
            return []
        m = peer.election.manager
        q = m.send_queues.get(j)
        if q:
            return [notification_message(q[-1])]
        return [notification_message(m.last_sent[j])] if j in m.last_sent else []

    def election_queued(self, i: int) -> list[int]:
        """equeued[i]: the peers whose message from i waits in its queue (no connection)."""
        peer = self.sim.nodes[i].peer
        if peer is None:
            return []
        return sorted(j for j, q in peer.election.manager.send_queues.items() if q and j != i)

    def quorum_in_flight(self, i: int, j: int) -> list[dict]:
        """qmsgs[i][j]: packets written by i to j not yet delivered (a learner's dial that
        waits for a leader counts as its FOLLOWERINFO)."""
        out: list[dict] = []
        for c in self._conns("quorum", i, j):
            if c.reset:
                continue
            side = c.nodes.index(i)
            q = list(c.queues[side])
            if _FIN in q:
                continue
            out.extend(quorum_messages(q))
        for did, d in self.sim.net.dials.items():
            if d.src == i and d.address[1] == QUORUM_BASE + j and did not in self.lost_dials:
                p = self.sim.nodes[i].peer
                if p is not None:
                    out.append({"mtype": "FOLLOWERINFO", "mzxid": [p.accepted_epoch, 0]})
        return out

    def _reachable(self, i: int, j: int) -> bool:
        net = self.sim.net
        return net.alive(j) and net.linked(i, j)

    def explain(self, action: str, diff: dict) -> str | None:
        """The KNOWN cause of a divergence, or None (KNOWN is empty now)."""
        return None

    # ------------------------------------------------------------------ the runner's own events
    def settle(self, limit: int = 10000) -> None:
        """Take every event no spec step names, until none is left."""
        for _ in range(limit):
            if not self._one_internal():
                self._remember_cores()
                return
        raise RuntimeError("the implementation does not settle (internal events keep coming)")

    def _remember_cores(self) -> None:
        for s in self.sids:
            c = self.core(s)
            if c is not None and getattr(c, "zab_state", None) == "BROADCAST":
                self._last_core[s] = c

    def _one_internal(self) -> bool:
        sim, net = self.sim, self.sim.net
        self._remember_cores()
        now = sim.clock.seconds()
        if any(c.getTime() <= now for c in sim.clock.getDelayedCalls()):
            sim._advance(0.0)
            return True
        for s in self.sids:
            n = sim.nodes[s]
            if n.alive and n.pending_fsync() and s not in self.spec_pending:
                n.fsync()
                return True
        for did, d in list(net.dials.items()):
            if self._dial_decision(d) is not None:
                if self._dial_decision(d):
                    net.do_connect(did)
                else:
                    net.do_refuse(did)
                return True
        for c in list(net.conns.values()):
            if c.pending_lost:
                for side in list(c.pending_lost):
                    if self._kind(c) == "quorum" and side == 0 and self._learner_alive(c):
                        c.pending_lost.remove(side)
                        self._hold(c)
                    else:
                        net.lost(c.cid, side)
                return True
            kind = self._kind(c)
            for side in (0, 1):
                q = c.queues[side]
                if not q:
                    continue
                if kind == "client":
                    net.deliver(c.cid, side)
                    return True
                if kind == "election":
                    recv = c.ends[1 - side].protocol
                    ch = getattr(recv, "channel", None)
                    if (
                        q[0] is _FIN
                        or ch is None
                        or ch.closed
                        or ch._header is not None
                        or not ch.established
                    ):
                        net.deliver(c.cid, side)
                        return True
                    continue
                if _FIN in q:  # a quorum connection closing: what is in flight is lost
                    self._quorum_closing(c, side)
                    return True
        return False

    def _learner_alive(self, c) -> bool:
        p = self.sim.nodes[c.nodes[0]].peer
        return p is not None and p.role is not None and getattr(p.role, "ended", None) is None

    def _hold(self, c) -> None:
        """The learner end of quorum connection ``c`` hears of its end at FollowerTimeout."""
        c.reset = True
        c.queues[0].clear()
        c.queues[1].clear()
        self.held_ends[c.nodes[0]].append(c)

    def _quorum_closing(self, c, side: int) -> None:
        net = self.sim.net
        c.queues[side].clear()
        c.queues[1 - side].clear()
        c.reset = True
        why = error.ConnectionDone("closed by peer")
        if side == 0 or not self._learner_alive(c):  # the learner closed: both ends now
            for s in (0, 1):
                net._finish(c, s, why)
        else:  # the leader closed: it is done now, the learner hears at its timeout
            net._finish(c, 1, why)
            net.conns.pop(c.cid, None)
            self.held_ends[c.nodes[0]].append(c)

    def _dial_decision(self, d) -> bool | None:
        """True: connect; False: refuse; None: hold (a learner's dial to a leader not
        listening yet: its FOLLOWERINFO waits, as in the spec)."""
        net = self.sim.net
        port = d.address[1]
        if d.src == CLIENT:
            return True
        if QUORUM_BASE < port <= QUORUM_BASE + 100:
            dst = port - QUORUM_BASE
            if d.did in self.lost_dials or not net.alive(dst) or not net.linked(d.src, dst):
                # the FOLLOWERINFO is lost (spec); the learner gives up at its FollowerTimeout
                self.lost_dials.add(d.did)
                return None
            return True if (d.address in net.listeners) else None
        dst = port - ELECTION_BASE
        if not net.alive(dst) or not net.linked(d.src, dst):
            return False
        if d.src < dst:
            other = self.sim.nodes[dst].peer
            if other is not None:
                m = other.election.manager
                if dst > d.src and (d.src in m.workers or d.src in m.in_progress):
                    return False  # the larger sid's connection carries the link
        return True

    # ------------------------------------------------------------------ spec steps
    def take(self, action: str, p: dict, after: dict) -> None:
        """Cause the event of spec step ``(action, p)``; CannotTake if it is not there."""
        i, j = p.get("i"), p.get("j")
        pend = after.get("pendingFsync") or [[] for _ in self.sids]
        self.spec_pending = {s for s, tail in zip(self.sids, pend, strict=False) if tail}
        if action == "HandleNotification":
            self._deliver_notification(i, j)
        elif action in ("FinalizeElection", "ElectionTimeout"):
            self._fire_election_timer(i, "finalize" if action == "FinalizeElection" else "notification")
        elif action.startswith("Handle"):
            self._deliver_packet(i, j, action[len("Handle") :])
        elif action == "ClientWrite":
            self._client_write(i, after["clientWrites"])
        elif action == "FsyncLog":
            # the sync thread's fsync of i's pending batches: settle() takes it now that the
            # spec's tail of i is empty
            n = self.sim.nodes[i]
            if not (n.alive and n.pending_fsync()):
                raise CannotTake(f"server {i} has nothing to fsync")
        elif action == "LeaderTimeout":
            self._leader_timeout(i)
            self._lose_dials_to(i)
        elif action == "FollowerTimeout":
            self._follower_timeout(i)
            self._lose_dials_to(i)
        elif action == "Crash":
            self._crash(i)
        elif action == "Restart":
            if self.sim.nodes[i].alive:
                raise CannotTake(f"server {i} is up")
            self.sim.restart(i)
        elif action == "LinkBreak":
            self._link_break(i, j)
        elif action == "LinkHeal":
            self.sim.heal(i, j)
        else:
            raise CannotTake(f"unsupported action {action}")
        self.settle()

    def _deliver_notification(self, i: int, j: int) -> None:
        peer = self.sim.nodes[i].peer
        if peer is None:
            raise CannotTake(f"server {i} is down")
        if i == j:
            q = self.loopback.get(i)
            if not q:
                raise CannotTake(f"no notification on {i}'s loopback")
            peer.election.manager._add_to_recv_queue(i, q.popleft())
            return
        for c in self._conns("election", i, j):
            side = c.nodes.index(j)
            q = c.queues[side]
            if q and q[0] is not _FIN and not c.reset:
                self.sim.net.deliver(c.cid, side)
                return
        raise CannotTake(f"no notification in flight from {j} to {i}")

    def _fire_election_timer(self, i: int, kind: str) -> None:
        peer = self.sim.nodes[i].peer
        if peer is None:
            raise CannotTake(f"server {i} is down")
        le = peer.election.election
        t = le._timer
        if t is None or not t.active() or le._timer_kind != kind:
            raise CannotTake(f"server {i} has no {kind} timer armed (it has {le._timer_kind})")
        t.cancel()
        le._timer = None
        le._timer_kind = kind
        le._fire()

    def _deliver_packet(self, i: int, j: int, mtype: str) -> None:
        net = self.sim.net
        if mtype == "FOLLOWERINFO":
            for did, d in list(net.dials.items()):
                if d.src == j and d.address[1] == QUORUM_BASE + i:
                    if d.address not in net.listeners:
                        raise CannotTake(f"server {i} does not listen on its quorum port")
                    net.do_connect(did)
                    break
        for c in self._conns("quorum", i, j):
            side = c.nodes.index(j)
            q = c.queues[side]
            while q and q[0] is not _FIN and not c.reset:
                msgs = quorum_messages([q[0]])
                if not msgs:  # a packet the spec does not model (PING): delivered on the way
                    net.deliver(c.cid, side)
                    continue
                if msgs[0]["mtype"] != mtype:
                    raise CannotTake(f"the head of {j}->{i} is {msgs[0]['mtype']}, not {mtype}")
                net.deliver(c.cid, side)
                if mtype == "SNAP":  # and the snapshot stream after it, up to its end
                    role = self.sim.nodes[i].peer.role
                    while q and getattr(role, "_snap", None) is not None and not c.reset:
                        net.deliver(c.cid, side)
                return
        raise CannotTake(f"no {mtype} in flight from {j} to {i}")

    def _client_write(self, i: int, value: int) -> None:
        if not self.sim.nodes[i].alive:
            raise CannotTake(f"server {i} is down")
        o = ClientOutcome(value, i, f"/w{value}")
        self.sim.clients.append(o)
        self.sim.net.dial(
            CLIENT, 0, "127.0.0.1", CLIENT_BASE + i, _SessionWrite(self.sim, o, value_data(value))
        )

    def _leader_timeout(self, i: int) -> None:
        p = self.sim.nodes[i].peer
        role = p.role if p is not None else None
        core = getattr(role, "core", None)
        if core is None or not hasattr(core, "handlers"):
            raise CannotTake(f"server {i} is not leading")
        for _ in range(10000):
            if core.ended is not None:
                return
            role._half_tick()
        raise CannotTake(f"leader {i} does not time out")

    def _follower_timeout(self, i: int) -> None:
        p = self.sim.nodes[i].peer
        role = p.role if p is not None else None
        if role is None or not hasattr(role, "observer"):
            raise CannotTake(f"server {i} is not following")
        net = self.sim.net
        for _ in range(100):
            if role.ended is not None:
                return
            held = self.held_ends[i]
            if held:
                c = held.pop(0)
                net._finish(c, 0, error.ConnectionLost("connection to the leader lost"))
            else:
                dials = [did for did, d in net.dials.items() if d.src == i and d.address[1] > QUORUM_BASE
                         and d.address[1] <= QUORUM_BASE + 100]  # fmt: skip
                if dials:
                    net.do_refuse(dials[0])
                else:
                    retry = [c for c in self.sim.nodes[i].reactor.getDelayedCalls()
                             if getattr(getattr(c.func, "__self__", None), "callback", None) == c.func]  # fmt: skip
                    if not retry:
                        raise CannotTake(f"follower {i} has a connection to its leader")
                    c = retry[0]
                    f, args, kw = c.func, c.args, c.kw
                    c.cancel()
                    f(*args, **kw)
            self._drain_due()
        if role.ended is None:
            raise CannotTake(f"follower {i} does not time out")

    def _lose_dials_to(self, i: int) -> None:
        """i left its role: the FOLLOWERINFOs of learners whose dial to i the runner holds are
        lost (the spec's LeaveRole empties every queue to i); those learners time out."""
        for did, d in self.sim.net.dials.items():
            if d.src != i and d.address[1] == QUORUM_BASE + i:
                self.lost_dials.add(did)

    def _drain_due(self) -> None:
        now = self.sim.clock.seconds()
        while any(c.getTime() <= now for c in self.sim.clock.getDelayedCalls()):
            self.sim._advance(0.0)

    def _crash(self, i: int) -> None:
        if not self.sim.nodes[i].alive:
            raise CannotTake(f"server {i} is down")
        for c in list(self.sim.net.conns.values()):
            if self._kind(c) == "quorum" and c.nodes[1] == i and c.nodes[0] != i and self._learner_alive(c):
                c.ends[1].lost = True
                self.sim.net.conns.pop(c.cid, None)
                self._hold(c)
        for s in self.sids:
            self.held_ends[s] = [c for c in self.held_ends[s] if c.nodes[0] != i]
        self.loopback.get(i, deque()).clear()
        self.sim.crash(i)
        self._last_core.pop(i, None)

    def _link_break(self, a: int, b: int) -> None:
        net = self.sim.net
        for c in list(net.conns.values()):
            if self._kind(c) == "quorum" and set(c.nodes) == {a, b} and self._learner_alive(c):
                net.conns.pop(c.cid, None)
                c.queues[0].clear()
                c.queues[1].clear()
                c.reset = True
                net._finish(c, 1, error.ConnectionLost(f"link {a}-{b} broken"))
                self.held_ends[c.nodes[0]].append(c)
        self.sim.partition(a, b)


class _SessionWrite(SimClientOp):
    """The simulation's client write, on the session the data dirs hold (no createSession txn)."""

    def connectionMade(self) -> None:
        import struct

        body = struct.pack(">iqiq", 0, 0, CLIENT_SESSION_TIMEOUT_MS, CLIENT_SESSION)
        pw = generate_passwd(CLIENT_SESSION)
        body += struct.pack(">i", len(pw)) + pw + b"\x00"
        self.transport.write(struct.pack(">i", len(body)) + body)
        self.outcome.state = "session"


def _frames(chunk: bytes) -> list[bytes]:
    """The length-prefixed election frames of one write (4-byte length + payload)."""
    out, off = [], 0
    while off + 4 <= len(chunk):
        n = int.from_bytes(chunk[off : off + 4], "big")
        out.append(chunk[off : off + 4 + n])
        off += 4 + n
    return out


def model_window(trace: dict) -> int:
    """The ``CommittedLogSize`` of the model a walker trace names (its ``config``, in spec/)."""
    name = Path(trace.get("config") or "ZkSystemTraces.cfg").name
    text = (SPEC_DIR / name).read_text(encoding="utf-8")
    m = re.search(r"^\s*CommittedLogSize\s*=\s*(\d+)", text, re.M)
    if m is None:
        raise ValueError(f"{name} sets no CommittedLogSize")
    # the nodes sync from the committedLog only (snapshotSizeFactor=-1) and have no observer
    if re.search(r"^\s*TxnLogSync\s*=\s*TRUE\s*$", text, re.M):
        raise ValueError(f"{name} sets TxnLogSync: the runner's nodes never sync from the txn log")
    if re.search(r"^\s*Observers\s*=\s*\{\s*[^}\s]", text, re.M):
        raise ValueError(f"{name} has observers: the runner's ensembles have none")
    return int(m.group(1))


def replay_trace(
    trace: dict, index: int = 0, *, strict: bool = False
) -> ReplayResult:
    """Replay one walker trace (``{"steps": [{action, params, state}, ...]}``) against real nodes.
    ``strict``: no divergence is explained as KNOWN."""
    steps = trace["steps"]
    s0 = steps[0]["state"]
    n = len(s0["state"])
    res = ReplayResult()
    rp = ImplReplay(s0, n, model_window(trace))
    try:
        d = diff_states(s0, abstract_state(rp))
        res.events.append({"step": 0, "action": "Init", "params": {}, "state": s0})
        if d:
            res.divergence = Divergence(index, 0, "Init", {}, d)
            return res
        for k, st in enumerate(steps[1:], start=1):
            action, params = st["action"], st["params"]
            res.events.append({"step": k, "action": action, "params": params, "state": st["state"]})
            if action not in SUPPORTED:
                res.unsupported = action
                return res
            try:
                rp.take(action, params, st["state"])
            except CannotTake as e:
                res.divergence = Divergence(
                    index, k, action, params, {"enabled": {"spec": True, "impl": str(e)}}
                )
                return res
            res.steps += 1
            res.actions[action] = res.actions.get(action, 0) + 1
            d = diff_states(st["state"], abstract_state(rp))
            if d:
                res.divergence = Divergence(index, k, action, params, d)
                cause = None if strict else rp.explain(action, d)
                if cause is not None:
                    res.known, res.divergence.cause = cause, cause
                return res
        return res
    finally:
        rp.close()


def _unused(_f: Failure) -> None:  # pragma: no cover - keeps Failure imported for type hints
    pass
