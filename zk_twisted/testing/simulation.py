"""Deterministic simulation of whole ensemble members in one process.

N real :class:`~zk_twisted.quorum.peer.QuorumPeer` objects run side by side: the real
election (QuorumCnxManager + FastLeaderElection behind ``create_election``), the real roles
(``roles.role_for``: LeaderRole / LearnerRole and their ZAB cores and request chains), real
storage in temporary directories (FileTxnSnapLog, the epoch files), and the real Twisted
protocols of the election, quorum and client ports.  What is simulated is only what lies
outside a node:

* **time**: one :class:`twisted.internet.task.Clock`; each node incarnation gets its own
  :class:`~zk_twisted.testing.simnet.SimReactor` on it (``callLater`` / ``seconds`` / ``listenTCP`` / ``connectTCP``),
  so a crash can cancel exactly that incarnation's timers;
* **the network**: every ``transport.write`` is one chunk in a FIFO per connection
  direction; nothing moves until the driver delivers it (:class:`SimNetwork`);
* **the disk's fsync**: the Sync stage's log thread is replaced by :class:`ManualSyncWriter`
  (the same interface as ``persistence.sync.SyncThread``) that writes and reports a batch
  durable only when the driver takes an ``fsync`` event; snapshots run inline, their walk on
  a Cooperator of the simulated clock.  A crash loses what was queued and not fsync'd; the
  files keep exactly what the fsync events wrote (epoch files are written synchronously by
  the node, as 3.8 does);
* **clients**: :class:`SimClientOp` speaks the client protocol (ConnectRequest, then one
  create) over an in-memory connection to a member's real client port.

The driver (a test, a hypothesis strategy, the conformance runner) asks :meth:`Simulation.events`
for what can happen next and applies one with :meth:`Simulation.step`; faults are methods
(:meth:`~Simulation.crash`, :meth:`~Simulation.restart`, :meth:`~Simulation.partition`,
:meth:`~Simulation.heal`, :meth:`~Simulation.cut`, :meth:`~Simulation.write`).
:meth:`Simulation.run` takes events from a ``random.Random``; the same seed and fault plan
give the same :attr:`Simulation.trace`.  :meth:`Simulation.check` asserts the ensemble's
safety properties (one established leader per epoch, prefix-consistent committed
histories, no acknowledged write lost, a serving leader holding every txn committed in
earlier epochs) and is called after every step when ``check_every_step`` is set; a
restart checks that the data dir starts and holds every txn committed before its
currentEpoch.  Each :class:`SafetyViolation` names its invariant (:data:`INVARIANTS`).
:meth:`~Simulation.cut_epoch` cuts a member's power in the middle of its next epoch-file
write (:class:`~zk_twisted.testing.simdisk.SimEpochDisk`).  The seeded bugs that show these
checks bite are :mod:`zk_twisted.testing.mutants` (catalogue: ``python -m conformance mutants``).

Node state for a driver: ``sim.nodes[sid]`` (:class:`SimNode`): ``peer`` (the QuorumPeer,
None while crashed), ``peer.state`` / ``peer.role`` / ``peer.role.core`` (the ZAB core),
``peer.current_epoch`` / ``accepted_epoch``, ``db``, ``history`` (the txns its database
applied, in order), ``serving`` (its role is established); :meth:`Simulation.state` sums
them up as plain data.  Step by step::

    with Simulation(3, seed=7) as sim:          # 3 voters; observers=1 adds one
        while sim.leader() is None:
            ev = choose(sim.events())           # Event("deliver", (cid, side)), "fsync", ...
            sim.step(ev)                        # runs the node code it triggers, then check()
        sim.apply(Fault("write", (2,)))         # or sim.crash(1), sim.partition(1, 3), ...
        sim.settle()                            # faults stop: converge or SafetyViolation

Nothing in the node code knows it is simulated: the network and reactor are
:mod:`~zk_twisted.testing.simnet`, the disk's fsync :mod:`~zk_twisted.testing.simdisk`;
what the simulation watches (the database's applied txns, when a role serves, a SNAP load)
it sees by wrapping those objects' methods on the instances it builds.  One global is
swapped while a Simulation lives: Twisted's default Cooperator (``task.cooperate``), which
the quorum port's SNAP stream uses, steps on the simulated clock.
"""

from __future__ import annotations

import itertools
import logging
import random
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from twisted.internet import task
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from ..config import parse_config
from ..election.messages import ServerState
from ..persistence.filetxnsnaplog import FileTxnSnapLog
from ..quorum import roles as quorum_roles
from ..quorum.peer import QuorumPeer
from ..server.datatree import DataTree
from ..server.zkdatabase import ZKDatabase
from .simdisk import InlineWorker, ManualSyncWriter, PowerCut, SimEpochDisk, SimStorage
from .simnet import CLIENT, HOST, Event, SimNetwork, SimReactor

__all__ = [
    "Simulation",
    "SimNode",
    "SimNetwork",
    "SimReactor",
    "ManualSyncWriter",
    "InlineWorker",
    "SimStorage",
    "SimClientOp",
    "ClientOutcome",
    "Event",
    "SafetyViolation",
    "Fault",
    "random_plan",
]

log = logging.getLogger(__name__)


class SafetyViolation(AssertionError):
    """An ensemble safety property does not hold; the message says where, ``invariant``
    which (one of :data:`INVARIANTS`)."""

    def __init__(self, message: str, invariant: str = "") -> None:
        super().__init__(message)
        self.invariant = invariant


#: what :meth:`Simulation.check` and its helpers assert, by the name a SafetyViolation carries
INVARIANTS = {
    "one_leader_per_epoch": "at most one leader established in each epoch",
    "prefix_consistency": "every serving member's applied txns agree with the committed history",
    "no_acked_write_lost": "a later epoch's leader has every write a client saw acknowledged",
    "leader_completeness": "a serving leader of epoch e has every txn committed before e",
    "epoch_history": "a member restarting with currentEpoch e has every txn committed before e",
    "restartable": "a crashed member's data dir starts again",
    "txn_log_ok": "no member's txn log write fails",
    "convergence": "once faults stop, every member serves the same tree with every acked write",
}


@dataclass(frozen=True)
class Fault:
    """A fault of a plan: ``kind`` crash / restart / partition / heal / cut / write /
    power (every member crashes at once) / cut_epoch (a member's power goes in the middle
    of its next epoch-file write); ``args`` its node ids (``cut``: an index into the open
    connections; ``cut_epoch``: the sid and which file operation the power goes before)."""

    kind: str
    args: tuple = ()

    def __str__(self) -> str:
        return f"{self.kind}{self.args}"


# ============================================================================ nodes
@dataclass
class SimNode:
    """One server of the simulation across its incarnations (its data dir survives)."""

    sim: Simulation
    sid: int
    base: Path
    peer: QuorumPeer | None = None
    reactor: SimReactor | None = None
    incarnation: int = 0
    writers: list = field(default_factory=list)
    #: the txns the database applied since it was last cleared: (zxid, type, session, cxid)
    history: list = field(default_factory=list)
    #: the zxid the applied history starts after (a snapshot's), None until known
    history_base: int | None = None
    #: the current role's epoch once it is established (serves), else None
    serving_epoch: int | None = None
    serving_as: ServerState | None = None
    failures: list = field(default_factory=list)
    #: the epoch files' disk of this incarnation (a power cut can be armed on it)
    epoch_disk: SimEpochDisk | None = None

    @property
    def alive(self) -> bool:
        return self.peer is not None

    @property
    def db(self) -> ZKDatabase | None:
        return self.peer.db if self.peer is not None else None

    @property
    def serving(self) -> bool:
        return self.peer is not None and self.serving_epoch is not None

    @property
    def base_zxid(self) -> int:
        if self.history_base is not None:
            return self.history_base
        return self.db.last_processed_zxid if self.db is not None and not self.history else 0

    def fatal(self, failure: Failure) -> None:
        self.failures.append(failure)

    # ---------------------------------------------------------------- life
    def start(self) -> None:
        net = self.sim.net
        self.incarnation = net.revive(self.sid)
        self.reactor = SimReactor(net, self.sid, self.incarnation)
        self.writers = []
        self.history, self.history_base = [], None
        self.serving_epoch = self.serving_as = None
        cfg = parse_config(
            self.sim.config_for(self.sid), base_dir=str(self.base), jvm_properties=self.sim.jvm_properties
        )
        if self.sim.config_overrides:
            cfg = replace(cfg, **self.sim.config_overrides)
        opened = self._open_storage(cfg)
        self.peer = QuorumPeer(cfg, self.reactor, opened, self.sim.election_factory, self._role)
        self.epoch_disk = self.peer.epochs.io = SimEpochDisk()
        self.peer.startService()

    def _open_storage(self, cfg):
        """open_storage with the simulation's Storage, on a database the node watches."""
        snaplog = FileTxnSnapLog(
            Path(cfg.data_dir),
            Path(cfg.data_log_dir),
            prealloc=cfg.pre_alloc_size,
            force_sync=cfg.force_sync,
            max_entry=cfg.jute_maxbuffer + max(cfg.jute_maxbuffer, 1024),
            fsync_warning_ms=cfg.fsync_warning_threshold_ms,
            log_size_limit=cfg.txn_log_size_limit_kb * 1024,
        )
        db = ZKDatabase(
            DataTree(extended_types=cfg.extended_types_enabled, digest_enabled=cfg.digest_enabled)
        )
        self._watch(db)
        restored = snaplog.restore(db)
        storage = SimStorage(cfg, self.reactor, snaplog, restored, self)
        return storage, db, storage.sync_factory

    def _watch(self, db: ZKDatabase) -> None:
        """Record every txn the database applies (observation only: behaviour unchanged)."""
        apply, clear = db.process_txn, db.clear
        node = self

        def process_txn(hdr, txn, digest=None):
            if node.history_base is None:
                node.history_base = db.last_processed_zxid
            node.history.append((hdr.zxid, hdr.type, hdr.clientId, hdr.cxid))
            return apply(hdr, txn, digest)

        def cleared():
            node.history, node.history_base = [], None
            return clear()

        db.process_txn, db.clear = process_txn, cleared

    def _role(self, peer, decision):
        """roles.role_for, with the role watched: when it serves, and SNAP loads."""
        role = quorum_roles.role_for(peer, decision)
        node = self
        serving, ended = role.serving, role.role_ended

        def on_serving(epoch):
            if node.history_base is None and not node.history:
                # before a leader's serving() names the epoch in the database's last zxid
                node.history_base = node.db.last_processed_zxid
            serving(epoch)
            node.serving_epoch, node.serving_as = epoch, decision.state
            node.sim._established(node, epoch, decision.state)

        def on_ended(reason):
            node.serving_epoch = node.serving_as = None
            return ended(reason)

        role.serving, role.role_ended = on_serving, on_ended
        if node.sim.lone_quorum and isinstance(role, quorum_roles.LeaderRole):
            make_core = role._make_core  # the core is made when the role runs

            def make_lone_core():
                make_core()
                role.core.verifier = _LoneQuorum(role.core.verifier)

            role._make_core = make_lone_core
        if hasattr(role, "load_snapshot"):
            load = role.load_snapshot

            def on_snapshot(snapshot, zxid):
                node.history, node.history_base = [], zxid
                return load(snapshot, zxid)

            role.load_snapshot = on_snapshot
        return role

    def crash(self) -> None:
        """kill -9: memory gone, timers gone, connections broken, unsynced log lost."""
        if self.peer is None:
            return
        self.sim.net.crash(self.sid)
        self.reactor.kill()
        for w in self.writers:
            if not w.closed:
                w.crash()
        self.peer = None
        self.serving_epoch = self.serving_as = None

    def pending_fsync(self) -> bool:
        return any(w.pending for w in self.writers if not w.closed)

    def fsync(self) -> None:
        for w in self.writers:
            if not w.closed and w.pending:
                w.fsync()
                return

    def close(self) -> None:
        for w in self.writers:
            if not w.closed:
                w.crash()


class _LoneQuorum:
    """A seeded bug for the tests: a verifier that takes any non-empty set for a quorum (a
    leader that commits on its own ACK and never misses its followers)."""

    def __init__(self, real) -> None:
        self._real = real

    def contains_quorum(self, sids) -> bool:
        return bool(set(sids))

    def __getattr__(self, name):
        return getattr(self._real, name)


# ============================================================================ clients
def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _ustring(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _buffer(b: bytes) -> bytes:
    return struct.pack(">i", len(b)) + b


@dataclass
class ClientOutcome:
    op: int
    member: int
    path: str
    state: str = "connecting"  # -> session -> sent -> acked | failed | lost
    zxid: int = 0
    err: int = 0
    epoch_at_ack: int = 0


class SimClientOp:
    """One client write: connect to a member's client port, open a session, create
    ``path``.  The reply (or the connection's end) is recorded in ``outcome``."""

    XID = 1

    def __init__(self, sim: Simulation, outcome: ClientOutcome, data: bytes) -> None:
        self.sim, self.outcome, self.data = sim, outcome, data
        self.buf = b""
        self.transport = None

    # a protocol and its own factory
    def buildProtocol(self, addr):
        return self

    def clientConnectionFailed(self, connector, reason) -> None:
        self.outcome.state = "failed"

    def makeConnection(self, transport) -> None:
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        # ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
        body = struct.pack(">iqiq", 0, 0, 30000, 0) + _buffer(bytes(16)) + b"\x00"
        self.transport.write(_frame(body))
        self.outcome.state = "session"

    def dataReceived(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 4:
            (n,) = struct.unpack_from(">i", self.buf)
            if len(self.buf) < 4 + n:
                return
            payload, self.buf = self.buf[4 : 4 + n], self.buf[4 + n :]
            self._frame(payload)

    def _frame(self, payload: bytes) -> None:
        o = self.outcome
        if o.state == "session":
            _, _, session_id = struct.unpack_from(">iiq", payload)
            if not session_id:
                o.state = "failed"
                self.transport.loseConnection()
                return
            o.state = "sent"
            acl = struct.pack(">i", 1) + struct.pack(">i", 31) + _ustring("world") + _ustring("anyone")
            body = (
                struct.pack(">ii", self.XID, 1)
                + _ustring(o.path)
                + _buffer(self.data)
                + acl
                + struct.pack(">i", 0)
            )
            self.transport.write(_frame(body))
        elif o.state == "sent":
            xid, zxid, err = struct.unpack_from(">iqi", payload)
            if xid != self.XID:
                return  # a ping or a notification
            o.zxid, o.err = zxid, err
            o.state = "acked" if err == 0 else "failed"
            if err == 0:
                self.sim._acked(o)
            self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        if self.outcome.state in ("connecting", "session", "sent"):
            self.outcome.state = "lost"


# ============================================================================ the simulation
class Simulation:
    """N ensemble members (``voters`` participants plus ``observers``) on one clock and one
    in-memory network, under the caller's (or a seeded Random's) control."""

    def __init__(
        self,
        voters: int = 3,
        observers: int = 0,
        seed: int = 0,
        *,
        base_dir: str | None = None,
        check_every_step: bool = True,
        ack_before_fsync: bool = False,
        extra_config: dict | None = None,
        weights: dict[str, float] | None = None,
        jvm_properties: dict[str, str] | None = None,
        lone_quorum: bool = False,
        config_overrides: dict | None = None,
    ) -> None:
        self.seed = seed
        #: ZKConfig fields set after parsing, for settings no zoo.cfg can give (the replay runner
        #: scales the committed-log window down to its model's, below 3.8's floor of 500)
        self.config_overrides = dict(config_overrides or {})
        #: seeded bugs, for tests that show the checks fail (see ManualSyncWriter, _LoneQuorum)
        self.lone_quorum = lone_quorum
        #: the -D properties every member starts with (zookeeper.forceSnapshotSync, ...)
        self.jvm_properties = dict(jvm_properties or {})
        self.weights = {**self.weights, **(weights or {})}
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.clock.advance(1_700_000_000.0)  # a wall clock: session ids, txn times
        self.net = SimNetwork(self.clock)
        self.check_every_step = check_every_step
        self.ack_before_fsync = ack_before_fsync
        self.extra_config = dict(extra_config or {})
        self._owned_dir = base_dir is None
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="zk_twisted-sim-"))
        self.sids = list(range(1, voters + observers + 1))
        self.observers = set(self.sids[voters:])
        self.nodes: dict[int, SimNode] = {}
        #: every event and fault taken, in order (same seed and plan: same trace)
        self.trace: list[str] = []
        self.steps = 0
        #: epoch -> sid of the leader established in it
        self.leaders: dict[int, int] = {}
        #: the longest committed history seen (list of txn keys from zxid 1)
        self.committed: list = []
        self.clients: list[ClientOutcome] = []
        self.acked: list[ClientOutcome] = []
        self._ops = itertools.count(1)
        self.cooperator = task.Cooperator(
            terminationPredicateFactory=lambda: lambda: True,
            scheduler=lambda f: self.clock.callLater(0, f),
        )
        self._saved_cooperator = None
        self._install_cooperator()
        for sid in self.sids:
            d = self.base / f"node{sid}"
            (d / "data").mkdir(parents=True, exist_ok=True)
            (d / "data" / "myid").write_text(f"{sid}\n")
            self.nodes[sid] = SimNode(self, sid, d)
        try:
            for sid in self.sids:
                self.nodes[sid].start()
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- wiring
    def cooperate(self, iterator):
        return self.cooperator.cooperate(iterator)

    def _install_cooperator(self) -> None:
        """The quorum port's SNAP stream uses Twisted's global ``task.cooperate``: while the
        simulation runs it steps on the simulated clock (see the report: a missing seam)."""
        self._saved_cooperator = task._theCooperator
        task._theCooperator = self.cooperator

    def config_for(self, sid: int) -> dict:
        cfg = {
            "tickTime": "2000",
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": str(self.base / f"node{sid}" / "data"),
            "clientPort": str(12000 + sid),
            "admin.enableServer": "false",
            "forceSync": "no",
            "preAllocSize": "16",
            "maxClientCnxns": "0",
            "4lw.commands.whitelist": "*",
        }
        for s in self.sids:
            role = ":observer" if s in self.observers else ""
            cfg[f"server.{s}"] = f"{HOST}:{13000 + s}:{14000 + s}{role}"
        if sid in self.observers:
            cfg["peerType"] = "observer"
        cfg.update(self.extra_config)
        return cfg

    @staticmethod
    def election_factory(cfg, reactor):
        from ..network.election_port import create_election

        return create_election(cfg, reactor)

    def close(self) -> None:
        for n in self.nodes.values():
            n.close()
            if n.reactor is not None:
                n.reactor.kill()
        if self._saved_cooperator is not None:
            task._theCooperator = self._saved_cooperator
            self._saved_cooperator = None
        if self._owned_dir:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- events
    def events(self) -> list[Event]:
        """Everything that can happen next, in a stable order."""
        out = self.net.events()
        for sid in self.sids:
            if self.nodes[sid].alive and self.nodes[sid].pending_fsync():
                out.append(Event("fsync", (sid,)))
        calls = self.clock.getDelayedCalls()
        if calls:
            now = self.clock.seconds()
            if any(c.getTime() <= now for c in calls):
                out.append(Event("due"))
            else:
                out.append(Event("advance"))
        return out

    def step(self, ev: Event) -> None:
        self.trace.append(str(ev))
        self.steps += 1
        try:
            self._dispatch(ev)
        except PowerCut:
            pass  # the node that lost power crashes below
        self._power_cuts()
        if self.check_every_step:
            self.check()

    def _dispatch(self, ev: Event) -> None:
        k = ev.kind
        if k == "deliver":
            self.net.deliver(*ev.key)
        elif k == "deliver_all":
            self.net.deliver(*ev.key, everything=True)
        elif k == "deliver_half":
            self.net.deliver(*ev.key, half=True)
        elif k == "connect":
            self.net.do_connect(ev.key[0])
        elif k == "refuse":
            self.net.do_refuse(ev.key[0])
        elif k == "lost":
            self.net.lost(*ev.key)
        elif k == "fsync":
            self.nodes[ev.key[0]].fsync()
        elif k == "due":
            self._advance(0.0)
        elif k == "advance":
            due = min(c.getTime() for c in self.clock.getDelayedCalls())
            self._advance(max(0.0, due - self.clock.seconds()))
        else:
            raise ValueError(f"unknown event {ev}")

    def _power_cuts(self) -> None:
        """A node whose epoch disk lost power in the last step crashes now (its code may
        have caught the PowerCut in a Deferred; it did nothing on disk after it)."""
        for n in self.nodes.values():
            if n.alive and n.epoch_disk is not None and n.epoch_disk.cut:
                self.trace.append(f"power_cut({n.sid})")
                n.crash()

    def _advance(self, dt: float) -> None:
        """Clock.advance; a timer call that raises is logged (as the reactor logs it) and
        the calls due after it run at the next ``due`` event."""
        try:
            self.clock.advance(dt)
        except Exception:  # noqa: BLE001
            self.net.unhandled.append(Failure())
            log.error("Unhandled error in a timed call: %s", self.net.unhandled[-1].getTraceback())

    # ---------------------------------------------------------------- faults
    def apply(self, fault: Fault) -> None:
        """Apply a fault of a plan (a no-op when it cannot apply now: crash of a dead node...)."""
        k, a = fault.kind, fault.args
        if k == "crash":
            self.crash(a[0])
        elif k == "restart":
            self.restart(a[0])
        elif k == "partition":
            self.partition(*a)
        elif k == "heal":
            self.heal(*a)
        elif k == "cut":
            self.cut(a[0])
        elif k == "write":
            self.write(a[0])
        elif k == "power":
            for sid in self.sids:
                self.crash(sid)
        elif k == "cut_epoch":
            self.cut_epoch(*a)
        else:
            raise ValueError(f"unknown fault {fault}")
        self._power_cuts()
        if self.check_every_step:
            self.check()

    def crash(self, sid: int) -> None:
        if self.nodes[sid].alive:
            self.trace.append(f"crash({sid})")
            self.nodes[sid].crash()

    def restart(self, sid: int) -> None:
        if not self.nodes[sid].alive:
            self.trace.append(f"restart({sid})")
            try:
                self.nodes[sid].start()
            except Exception as e:
                raise SafetyViolation(
                    f"server {sid} cannot restart from its data dir: {e}", invariant="restartable"
                ) from e
            self._check_epoch_history(self.nodes[sid])

    def cut_epoch(self, sid: int, n: int = 2) -> None:
        """Member ``sid`` loses power just before the ``n``-th next file operation on its
        epoch files (the next epoch write is torn there), and crashes."""
        node = self.nodes[sid]
        if node.alive:
            self.trace.append(f"cut_epoch({sid},{n})")
            node.epoch_disk.arm(n)

    def partition(self, a: int, b: int) -> None:
        if a != b:
            self.trace.append(f"partition({a},{b})")
            self.net.partition(a, b)

    def heal(self, a: int, b: int) -> None:
        self.trace.append(f"heal({a},{b})")
        self.net.heal(a, b)

    def heal_all(self) -> None:
        for link in sorted(tuple(sorted(x)) for x in self.net.broken):
            self.heal(*link)

    def cut(self, index: int) -> None:
        """Break the ``index``-th open connection (modulo their number), as a reset does."""
        conns = [c for c in self.net.conns.values() if not c.reset]
        if conns:
            c = conns[index % len(conns)]
            self.trace.append(f"cut({c.cid})")
            self.net.sever(c, "connection cut")

    def write(self, sid: int, data: bytes | None = None) -> ClientOutcome:
        """A client creates a new znode through member ``sid``'s client port."""
        n = next(self._ops)
        o = ClientOutcome(n, sid, f"/w{n}")
        self.clients.append(o)
        self.trace.append(f"write({sid},{o.path})")
        op = SimClientOp(self, o, data if data is not None else b"v%d" % n)
        self.net.dial(CLIENT, 0, HOST, 12000 + sid, op)
        return o

    # ---------------------------------------------------------------- observations
    def _established(self, node: SimNode, epoch: int, state: ServerState) -> None:
        if state == ServerState.LEADING:
            other = self.leaders.setdefault(epoch, node.sid)
            if other != node.sid:
                raise SafetyViolation(
                    f"two leaders established in epoch {epoch}: {other} and {node.sid}",
                    invariant="one_leader_per_epoch",
                )

    def _acked(self, o: ClientOutcome) -> None:
        member = self.nodes[o.member]
        o.epoch_at_ack = member.serving_epoch or (o.zxid >> 32)
        self.acked.append(o)

    def leader(self) -> SimNode | None:
        """The serving leader of the highest epoch, if any."""
        best = None
        for n in self.nodes.values():
            if n.serving and n.serving_as == ServerState.LEADING:
                if best is None or n.serving_epoch > best.serving_epoch:
                    best = n
        return best

    def state(self) -> dict[int, dict]:
        """What each member is, now (for drivers such as a conformance runner; the live
        objects are ``nodes[sid].peer``, ``.peer.role.core`` and ``.db``)."""
        out: dict[int, dict] = {}
        for sid, n in self.nodes.items():
            p = n.peer
            if p is None:
                out[sid] = {"alive": False, "incarnation": n.incarnation}
                continue
            out[sid] = {
                "alive": True,
                "incarnation": n.incarnation,
                "state": p.state.name,
                "zab_state": p.quorum.zab_state(),
                "current_epoch": p.current_epoch,
                "accepted_epoch": p.accepted_epoch,
                "last_processed_zxid": p.db.last_processed_zxid,
                "serving_epoch": n.serving_epoch,
                "applied": len(n.history),
                "pending_fsync": n.pending_fsync(),
            }
        return out

    # ---------------------------------------------------------------- safety
    def check(self) -> None:
        """The ensemble's safety properties, now (SafetyViolation if one does not hold)."""
        for n in self.nodes.values():
            if n.failures:
                raise SafetyViolation(
                    f"server {n.sid}: the txn log failed: {n.failures[0].getErrorMessage()}",
                    invariant="txn_log_ok",
                )
        serving = [n for n in self.nodes.values() if n.serving]
        for n in serving:
            self._merge_committed(n)
        for n in serving:
            if n.serving_as != ServerState.LEADING:
                continue
            self._check_leader_complete(n)
            tree = n.db.tree
            for o in self.acked:
                if n.serving_epoch >= o.epoch_at_ack and tree.get_node(o.path) is None:
                    raise SafetyViolation(
                        f"acknowledged write {o.path} (zxid 0x{o.zxid:x} via {o.member}) missing at "
                        f"leader {n.sid} of epoch {n.serving_epoch}",
                        invariant="no_acked_write_lost",
                    )

    def _last_committed_before(self, epoch: int) -> int:
        """The last zxid of the committed history seen that belongs to an epoch before ``epoch``."""
        for key in reversed(self.committed):
            if key[0] >> 32 < epoch:
                return key[0]
        return 0

    def _check_leader_complete(self, n: SimNode) -> None:
        """A serving leader of epoch e holds every txn committed in the epochs before e (its
        history reaches the last of them; prefix consistency says they are the same txns)."""
        need = self._last_committed_before(n.serving_epoch)
        top = n.history[-1][0] if n.history else n.base_zxid
        if top < need:
            raise SafetyViolation(
                f"leader {n.sid} of epoch {n.serving_epoch} lacks committed txns: its history ends at "
                f"0x{top:x}, the committed history of earlier epochs at 0x{need:x}",
                invariant="leader_completeness",
            )

    def _check_epoch_history(self, n: SimNode) -> None:
        """A member that starts with currentEpoch e holds every txn committed before e: it
        acknowledged e's NEWLEADER only with them on disk (else its vote, carrying e, may win
        over the members that have them: ZOOKEEPER-4643's data loss)."""
        epoch = n.peer.current_epoch
        need = self._last_committed_before(epoch)
        have = n.db.last_processed_zxid
        if have < need:
            raise SafetyViolation(
                f"server {n.sid} restarted with currentEpoch {epoch} but its data dir ends at 0x{have:x}, "
                f"before 0x{need:x}, the last txn committed before epoch {epoch}",
                invariant="epoch_history",
            )

    def _merge_committed(self, n: SimNode) -> None:
        """A serving member's applied txns are committed: they must agree with (and may
        extend) every committed history seen before."""
        base = n.base_zxid
        mine = n.history
        glob = self.committed
        if base == 0:
            start = 0
        else:
            start = next((i for i, k in enumerate(glob) if k[0] > base), None)
            if start is None:
                if not glob or glob[-1][0] < base:
                    return  # nothing seen yet reaches this member's snapshot
                start = len(glob)
        common = min(len(glob) - start, len(mine))
        for i in range(common):
            if glob[start + i] != mine[i]:
                a, b = glob[start + i], mine[i]
                raise SafetyViolation(
                    f"server {n.sid} (epoch {n.serving_epoch}) applied txn 0x{b[0]:x} {b[1:]} where the "
                    f"committed history has 0x{a[0]:x} {a[1:]}",
                    invariant="prefix_consistency",
                )
        if len(mine) > common:
            glob.extend(mine[common:])

    def converged(self) -> bool:
        """Every live member serves in one epoch, with the same database."""
        live = [n for n in self.nodes.values() if n.alive]
        if not live or not all(n.serving for n in live):
            return False
        if len({n.serving_epoch for n in live}) != 1:
            return False
        if any(n.pending_fsync() for n in live):
            return False
        # the leader's last zxid names its epoch (Leader.startZkServer): compare the trees
        if len({n.db.tree.digest() for n in live}) != 1:
            return False
        if any(o.state in ("connecting", "session", "sent") for o in self.clients):
            return False
        return all(n.db.tree.get_node(o.path) is not None for n in live for o in self.acked)

    # ---------------------------------------------------------------- running
    #: relative weights of the kinds of events :meth:`pick` chooses among (``refuse`` and
    #: ``advance`` are taken with ``timer_weight``, or when nothing else can happen).
    #: A small ``fsync`` weight models a slow disk.
    weights: dict[str, float] = {
        "deliver": 1.0,
        "deliver_all": 0.5,
        "deliver_half": 0.2,
        "connect": 1.0,
        "lost": 1.0,
        "fsync": 1.0,
        "due": 1.0,
    }

    def pick(self, rng: random.Random, evs: list[Event], timer_weight: float = 0.02) -> Event:
        """A random event: mostly deliveries, fsyncs and due timers (by :attr:`weights`),
        dial refusals rarely, advancing time only now and then or when nothing else can."""
        weights = self.weights
        now = [e for e in evs if e.kind not in ("refuse", "advance")]
        r = rng.random()
        if r < timer_weight or not now:
            later = [e for e in evs if e.kind == "advance"]
            if later:
                return later[0]
        if r < timer_weight * 1.5:
            refusals = [e for e in evs if e.kind == "refuse"]
            if refusals:
                return rng.choice(refusals)
        if not now:
            return rng.choice(evs)
        total = sum(weights.get(e.kind, 1.0) for e in now)
        x = rng.random() * total
        for e in now:
            x -= weights.get(e.kind, 1.0)
            if x < 0:
                return e
        return now[-1]

    def run(
        self,
        steps: int,
        rng: random.Random | None = None,
        plan: Iterable[tuple[int, Fault]] = (),
        done: Callable[[], bool] | None = None,
        allow: Callable[[Event], bool] | None = None,
    ) -> int:
        """Take ``steps`` events chosen by ``rng`` (default: the seed's), applying each fault
        of ``plan`` (``(step, fault)`` pairs) at its step; stop early when ``done()``.
        ``allow`` filters the events (e.g. no fsync for a while).  Returns the steps taken."""
        rng = rng or self.rng
        faults: dict[int, list[Fault]] = {}
        for at, f in plan:
            faults.setdefault(at, []).append(f)
        for i in range(steps):
            for f in faults.get(i, ()):
                self.apply(f)
            if done is not None and done():
                return i
            evs = self.events()
            if allow is not None:
                evs = [e for e in evs if allow(e)]
            if not evs:
                return i
            self.step(self.pick(rng, evs))
        return steps

    def settle(self, max_steps: int = 20000, rng: random.Random | None = None) -> int:
        """Faults stop: links heal, crashed members restart; run until :meth:`converged`.
        Returns the steps it took; SafetyViolation if it did not converge in ``max_steps``."""
        self.heal_all()
        for sid in self.sids:
            self.restart(sid)
        n = self.run(max_steps, rng, done=self.converged)
        if not self.converged():
            states = {
                s: (x.peer.state.name if x.peer else "dead", x.serving_epoch) for s, x in self.nodes.items()
            }
            raise SafetyViolation(
                f"no convergence within {max_steps} steps: {states}", invariant="convergence"
            )
        return n


def random_plan(
    rng: random.Random, sids: list[int], steps: int, n_faults: int, power: bool = False
) -> list[tuple[int, Fault]]:
    """A random fault plan (for benchmarks and seeded runs; tests draw theirs with
    hypothesis); ``power``: whole-ensemble power losses are among the faults."""
    plan = []
    kinds = ["crash", "restart", "partition", "heal", "cut", "write", "write", "write"]
    if power:
        kinds.append("power")
    for _ in range(n_faults):
        at = rng.randrange(steps)
        kind = rng.choice(kinds)
        if kind == "power":
            plan.append((at, Fault(kind)))
        elif kind in ("partition", "heal"):
            a, b = rng.sample(sids, 2)
            plan.append((at, Fault(kind, (a, b))))
        elif kind == "cut":
            plan.append((at, Fault(kind, (rng.randrange(16),))))
        else:
            plan.append((at, Fault(kind, (rng.choice(sids),))))
    return sorted(plan, key=lambda p: p[0])
