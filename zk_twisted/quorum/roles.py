"""The roles a QuorumPeer runs: LEADING, FOLLOWING, OBSERVING.

Each role joins a sans-IO ZAB core (``leader.Leader``, ``learner.Learner``) to its
surroundings: the role's request chain (``zkservers``), the shared database and its storage,
the epoch files, and the quorum port (``network.quorum_port``).  A role is what the core's
environment interface (``interfaces.ILeaderEnvironment`` / ``ILearnerEnvironment``) names,
plus the quorum port's handler; ``run()`` returns a Deferred that fires when the core says
the role is over, after the role's connections, timers and Sync stage are shut down.  Each
role is a child service of its QuorumPeer (``peer.Role``) for as long as it runs.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path

from twisted.internet import defer, task
from zope.interface import implementer

from ..constants import Op
from ..election.messages import ServerState
from ..interfaces import ILeaderEnvironment, ILearnerEnvironment
from ..jute import records as R
from ..network.quorum_port import CONNECT_RETRY_PAUSE, LearnerAcceptorFactory, connect_to_leader
from ..persistence.files import LOG_PREFIX, sorted_files, zxid_from_name
from ..persistence.truncate import truncate_log
from ..persistence.txnlog import LogFileReader, log_readers
from ..service import settings_from_config
from . import tracelog
from .leader import Leader
from .learner import Learner
from .packets import PACKET_NAMES, PacketType
from .peer import Role
from .snapstream import SnapStreamLoader, serialize_snap_stream
from .sync_choice import Proposal, TxnLogSlice
from .verifier import verifier_from_config
from .zkservers import LeaderZooKeeperServer, LearnerZooKeeperServer

log = logging.getLogger(__name__)


def _now_ms(reactor) -> int:
    return int(reactor.seconds() * 1000)


#: a TxnHeader's zxid: after clientId (long) and cxid (int)
_TXN_ZXID = struct.Struct(">q")


def logged_proposals(log_dir: Path, start: int, upto: int | None = None) -> Iterator[Proposal]:
    """The txns of the log from ``start`` (inclusive) to ``upto``, as PROPOSAL data (framed
    and checksummed, not decoded: only the header's zxid is read)."""
    for reader in log_readers(log_dir, start):
        yield from _proposals(reader, start, upto)


def last_logged_proposals(log_dir: Path, upto: int, count: int) -> list[Proposal]:
    """The last ``count`` logged txns up to ``upto``, whatever their epochs: the leader's
    committed log (3.8's ZKDatabase fills it with the txns its restore replays, keeping
    the last commitLogCount + 1).  Reads files newest first until it has enough."""
    out: list[Proposal] = []
    for path in reversed(sorted_files(log_dir, LOG_PREFIX)):
        if count <= len(out):
            break
        if zxid_from_name(path.name, LOG_PREFIX) <= upto:
            out[:0] = _proposals(LogFileReader(path), 0, upto)
    return out[-count:] if count else []


def _proposals(reader: LogFileReader, start: int, upto: int | None) -> Iterator[Proposal]:
    reader.decode = False
    for e in reader:
        z = _TXN_ZXID.unpack_from(e.body, 12)[0]
        if z < start:
            continue
        if upto is not None and z > upto:
            return
        yield Proposal(z, bytes(e.body))


#: the quorum packets the spec models (spec/README.md's actions), by the side that reads them
_TRACED_FROM_LEARNER = frozenset({PacketType.FOLLOWERINFO, PacketType.ACKEPOCH, PacketType.ACK})
_TRACED_FROM_LEADER = frozenset(
    {
        PacketType.LEADERINFO, PacketType.DIFF, PacketType.TRUNC, PacketType.SNAP,
        PacketType.NEWLEADER, PacketType.UPTODATE, PacketType.PROPOSAL, PacketType.COMMIT,
    }
)  # fmt: skip


def _trace_packet(p, sid) -> None:
    """One handled packet into the protocol event log: Handle<TYPE>(i, j)."""
    tracelog.active.record(f"Handle{PACKET_NAMES.get(p.type, p.type)}", j=sid, zxid=tracelog.zx(p.zxid))


class _RoleBase(Role):
    """What every role shares: the peer, a Deferred for the role's end, the half-tick."""

    kind = "role"

    def __init__(self, peer, decision) -> None:
        self.peer = peer
        self.reactor = peer.reactor
        self.cfg = peer.config
        self.decision = decision
        self.core = None
        self.zks = None
        self.done: defer.Deferred = defer.Deferred()
        self._ticker: task.LoopingCall | None = None
        self._timers: list = []
        self.ended: str | None = None

    def _start_ticking(self) -> None:
        self._ticker = task.LoopingCall(self._half_tick)
        self._ticker.clock = self.reactor
        self._ticker.start(self.cfg.tick_time / 2000.0, now=False)

    def _half_tick(self) -> None:
        if self.core is not None:
            self.core.half_tick()

    # -- IZabEnvironment (shared part)
    def send(self, peer, packet) -> None:
        peer.send(packet)

    def close(self, peer) -> None:
        peer.close()

    def write_accepted_epoch(self, epoch: int) -> None:
        self.peer.epochs.set_accepted_epoch(epoch)

    def write_current_epoch(self, epoch: int) -> None:
        self.peer.epochs.set_current_epoch(epoch)

    def role_ended(self, reason: str) -> None:
        if self.ended is not None:
            return
        self.ended = reason
        log.info("%s role ended: %s", self.kind, reason)
        # no client may reach the ended core (a follower would forward to no leader)
        self.peer.unserve()
        # let the core finish the step that ended it before tearing down
        self.reactor.callLater(0, self._teardown)

    @property
    def in_broadcast(self) -> bool:
        """A learner that was following in broadcast: everything it applied is on disk (its
        sync was made durable at NEWLEADER, the Sync stage flushed at the role's end)."""
        return isinstance(self.core, Learner) and self.core.zab_state == "BROADCAST"

    @defer.inlineCallbacks
    def _teardown(self):
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        for t in self._timers:
            if t.running:
                t.stop()
        self.peer.unserve()
        yield self._close_connections()
        if self.zks is not None:
            try:
                yield defer.maybeDeferred(self.zks.sync.shutdown)
            except Exception:
                log.exception("Shutting down the %s's Sync stage", self.kind)
        if not self.done.called:
            self.done.callback(self.ended)

    def _close_connections(self):
        return None

    def _serve_clients(self, epoch: int) -> None:
        """The role is established: clients are served, the election vote carries the epoch."""
        self.peer.serve(self.zks)
        self.peer.election.election.update_election_vote(epoch)

    def stop(self):
        """The server is stopping: end the role now; fires when it is torn down."""
        if self.ended is None:
            if self.core is not None:
                self.core.shutdown("the server is shutting down")
            else:  # a learner still connecting
                self.role_ended("the server is shutting down")
        return self.done


@implementer(ILeaderEnvironment)
class LeaderRole(_RoleBase):
    """Leader.lead: accept learners on the quorum port, discover, synchronize, broadcast."""

    kind = "leader"

    def __init__(self, peer, decision) -> None:
        super().__init__(peer, decision)
        cfg = self.cfg
        db = peer.db
        self.zks = LeaderZooKeeperServer(settings_from_config(cfg), db, self.reactor, peer.sync_factory)
        self.snaplog = peer.storage.snaplog
        self.port = None
        self.connections: set = set()

    def run(self) -> defer.Deferred:
        me = self.cfg.my_server
        host, port = me.addr
        interface = "" if self.cfg.quorum_listen_on_all_ips else host
        self.port = self.reactor.listenTCP(
            port, LearnerAcceptorFactory(self, self.cfg.jute_maxbuffer), interface=interface
        )
        log.info("LEADING - accepting learners on %s:%d", interface or "0.0.0.0", port)
        # Leader's constructor binds first: learners connect (into the backlog) while the
        # committed log is read
        self._make_core()
        self._start_ticking()
        self.core.start()
        return self.done

    def _make_core(self) -> None:
        db = self.peer.db
        cfg = self.cfg
        last = db.last_processed_zxid
        committed = last_logged_proposals(self.snaplog.log_dir, last, cfg.commit_log_count + 1)
        verifier = verifier_from_config(cfg)
        self.core = Leader(
            cfg.server_id,
            verifier,
            self,
            accepted_epoch=self.peer.accepted_epoch,
            current_epoch=self.peer.current_epoch,
            last_zxid=last,
            committed_log=committed,
            commit_log_count=cfg.commit_log_count,
            snapshot_size_factor=cfg.snapshot_size_factor,
            init_limit=cfg.init_limit,
            sync_limit=cfg.sync_limit,
            # NEWLEADER carries the leader's QuorumVerifier text (lastSeenQV), as 3.8 sends it
            newleader_data=verifier.to_string().encode("utf-8"),
            config_version=cfg.config_version,
            txn_log=self._read_txn_log,
            snapshot_size=self._snapshot_size,
            force_snap_sync=(cfg.system_property("zookeeper.forceSnapshotSync") or "").lower() == "true",
        )
        self.zks.broadcaster = self.core

    @defer.inlineCallbacks
    def _close_connections(self):
        for c in list(self.connections):
            c.close()
        if self.port is not None:
            yield self.port.stopListening()

    # -- the quorum port's handler
    def connected(self, conn) -> None:
        self.connections.add(conn)
        self.core.learner_connected(conn)

    def packet_received(self, conn, p) -> None:
        if tracelog.active is None or p.type not in _TRACED_FROM_LEARNER:
            self.core.receive(conn, p)
            return
        h = self.core.handlers.get(conn)
        self.core.receive(conn, p)
        _trace_packet(p, h.sid if h is not None else None)

    def connection_lost(self, conn, reason) -> None:
        self.connections.discard(conn)
        self.core.learner_lost(conn)

    # -- ILeaderEnvironment
    def log(self, entries) -> None:
        for zxid, _ in entries:
            self.zks.log_proposed(zxid)

    def commit(self, zxid, data, request) -> None:
        self.zks.committed([zxid])

    def serving(self, epoch: int) -> None:
        zks = self.zks
        zks.start_epoch(epoch)
        # Leader.startZkServer: the database's last zxid names the new epoch (as 3.8)
        tree = self.peer.db.tree
        tree.last_processed_zxid = max(tree.last_processed_zxid, epoch << 32)
        if (self.cfg.system_property("zookeeper.leaderServes") or "yes") != "no":
            self._serve_clients(epoch)
        else:
            # Leader.lead: with leaderServes=no the client port stays with nobody serving
            log.info("leaderServes=no: this leader serves no clients")
            self.peer.election.election.update_election_vote(epoch)
        self._schedule_session_expiry()
        containers = task.LoopingCall(zks.check_containers)
        containers.clock = self.reactor
        containers.start(self.cfg.container_check_interval_ms / 1000.0, now=False)
        self._timers.append(containers)

    def _schedule_session_expiry(self) -> None:
        def expire() -> None:
            if self.ended is None:
                self.zks.expire_sessions()

        loop = task.LoopingCall(expire)
        loop.clock = self.reactor
        loop.start(self.cfg.tick_time / 1000.0, now=False)
        self._timers.append(loop)

    def send_snapshot(self, peer) -> None:
        d = peer.send_stream(serialize_snap_stream(self.peer.db))
        d.addErrback(lambda f: log.warning("Sending a snapshot to %s failed: %s", peer.describe(), f.value))

    def submit_learner_request(self, peer, sid, session_id, cxid, op, body, authinfo) -> None:
        if op == Op.sync:
            self.core.process_sync(peer)
            return
        auth = tuple((i.scheme, i.id) for i in authinfo or ())
        self.zks.submit_learner_request(session_id, cxid, op, body, auth, owner=sid)

    def touch(self, session_id, timeout) -> None:
        self.zks.sessions.touch(session_id, timeout, _now_ms(self.reactor))

    def revalidate_session(self, sid, session_id, timeout) -> bool:
        return self.zks.revalidate_learner_session(sid, session_id, timeout)

    # -- what the sync choice reads
    def _read_txn_log(self, start: int) -> TxnLogSlice | None:
        readers = log_readers(self.snaplog.log_dir, start)
        if not readers:
            return None
        # FileTxnIterator.getStorageSize sums only the files not opened yet: the first one
        # (holding ``start``) is open by then, so a learner behind by part of the current
        # log file is always served from the log, as 3.8 does
        size = sum(r.path.stat().st_size for r in readers[1:])
        props = logged_proposals(self.snaplog.log_dir, start, self.peer.db.last_processed_zxid)
        first = next(props, None)
        if first is None:
            return TxnLogSlice(None, size, ())

        def chained():
            yield first
            yield from props

        return TxnLogSlice(first.zxid, size, chained())

    def _snapshot_size(self) -> int:
        snaps = self.snaplog.find_n_valid_snapshots(1)
        return snaps[0].stat().st_size if snaps else 0


@implementer(ILearnerEnvironment)
class LearnerRole(_RoleBase):
    """Follower.followLeader / Observer.observeLeader: connect, register, sync, follow."""

    kind = "follower"

    def __init__(self, peer, decision, observer: bool = False) -> None:
        super().__init__(peer, decision)
        self.observer = observer
        self.kind = "observer" if observer else "follower"
        cfg = self.cfg
        if peer.storage is not None:
            peer.storage.startup_snapshot_due = False  # a learner syncs before it snapshots
        self.zks = LearnerZooKeeperServer(settings_from_config(cfg), peer.db, self.reactor, peer.sync_factory)
        self.zks.link = self
        self.conn = None
        self._revalidations: dict[int, list] = {}
        self._snap: SnapStreamLoader | None = None
        self._snap_packet = None

    @defer.inlineCallbacks
    def run(self):
        leader = self.cfg.servers.get(self.decision.leader)
        if leader is None:
            self.role_ended(f"the leader {self.decision.leader} is not in the configuration")
            result = yield self.done
            return result
        host, port = leader.addr
        timeout = self.cfg.tick_time * self.cfg.init_limit / 1000.0
        try:
            delay = self.cfg.system_property("zookeeper.leaderConnectDelayDuringRetryMs")
            self.conn = yield connect_to_leader(
                self.reactor, host, port, self, timeout, self.cfg.jute_maxbuffer,
                retry_pause=int(delay) / 1000.0 if delay and delay.strip().isdigit() else CONNECT_RETRY_PAUSE,
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - every try failed (the shell logged each)
            self.role_ended(f"could not connect to the leader {self.decision.leader}")
        result = yield self.done
        return result

    def _close_connections(self):
        if self.conn is not None:
            self.conn.close()

    # -- the quorum port's handler
    def connected(self, conn) -> None:
        self.conn = conn
        self.core = Learner(
            self.cfg.server_id,
            conn,
            self,
            observer=self.observer,
            accepted_epoch=self.peer.accepted_epoch,
            current_epoch=self.peer.current_epoch,
            config_version=self.cfg.config_version,
            init_limit=self.cfg.init_limit,
            sync_limit=self.cfg.sync_limit,
        )
        self._start_ticking()
        self.core.connected()

    def packet_received(self, conn, p) -> None:
        if p.type == PacketType.SNAP:
            # the stream that follows is loaded into the database before the core hears of it
            self._snap_packet = p
            self._snap = SnapStreamLoader(self.peer.db, p.zxid)
            conn.raw_mode(self._snap_bytes)
            return
        self.core.receive(p)
        if tracelog.active is not None and p.type in _TRACED_FROM_LEADER:
            _trace_packet(p, self.decision.leader)

    def _snap_bytes(self, data: bytes) -> bytes | None:
        if not self._snap.feed(data):
            return None
        loader, pkt = self._snap, self._snap_packet
        self._snap = self._snap_packet = None
        self.core.receive(pkt, snapshot=loader)
        if tracelog.active is not None:
            _trace_packet(pkt, self.decision.leader)
        return loader.reader.leftover

    def connection_lost(self, conn, reason) -> None:
        if self.core is not None:
            self.core.connection_lost()
        else:
            self.role_ended("the connection to the leader closed")

    # -- the chain's LeaderLink
    def forward(self, req) -> None:
        auth = [R.Id(s, i) for s, i in (req.auth_ids or ())]
        self.core.forward_request(req.session_id, req.cxid, req.type, req.payload, auth)

    def logged(self, zxid: int) -> None:
        if self.core is not None:
            self.core.logged(zxid)

    def revalidate(self, session_id: int, timeout: int, done) -> None:
        self._revalidations.setdefault(session_id, []).append(done)
        self.core.revalidate(session_id, timeout)

    # -- ILearnerEnvironment
    def log(self, entries) -> None:
        for _, data in entries:
            self.zks.log_proposal(data)

    def commit(self, zxid, data, request) -> None:
        self.zks.committed(zxid)

    def serving(self, epoch: int) -> None:
        # the sync's txns are applied: the snapshot they replayed onto is exact from here
        self.peer.db.fuzzy_until = 0
        self._serve_clients(epoch)

    def last_logged_zxid(self) -> int:
        return self.peer.last_logged_zxid()

    def truncate_log(self, zxid: int) -> bool:
        snaplog = self.peer.storage.snaplog
        try:
            n = truncate_log(snaplog.log_dir, snaplog.data_dir, zxid)
        except Exception as e:  # noqa: BLE001 - the core turns False into a protocol error
            log.error("Unable to truncate the log to 0x%x: %s", zxid, e)
            return False
        self.peer.reload_database()
        log.info("Truncated %d txns; the database is at 0x%x", n, self.peer.db.last_processed_zxid)
        self._resync_sessions()
        return True

    def load_snapshot(self, snapshot, zxid) -> None:
        # the stream was loaded into the shared database as it arrived (packet_received)
        log.info("Loaded the leader's snapshot at 0x%x: %d nodes", zxid, snapshot.nodes)
        # the leader wrote it while committing (fuzzy): every txn it commits before UPTODATE
        # may be in it already, so those txns' digests are not compared (until serving)
        self.peer.db.fuzzy_until = (1 << 63) - 1
        self._resync_sessions()

    def _resync_sessions(self) -> None:
        now = self.zks.now_ms()
        for sid, timeout in self.peer.db.sessions_with_timeouts.items():
            self.zks.sessions.track_session(sid, timeout, now)

    def save_snapshot(self) -> None:
        # the snapshot names the new epoch before currentEpoch does: 3.8's updatingEpoch mark
        self.peer.epochs.begin_epoch_update()
        self.peer.storage.snaplog.save(self.peer.db)

    def write_current_epoch(self, epoch: int) -> None:
        self.peer.epochs.set_current_epoch(epoch)
        self.peer.epochs.end_epoch_update()

    def touches(self):
        return list(self.zks.sessions.take_touches().items())

    def sync_done(self) -> None:
        self.zks.synced()

    def revalidated(self, session_id, valid) -> None:
        waiting = self._revalidations.get(session_id)
        if waiting:
            done = waiting.pop(0)
            if not waiting:
                del self._revalidations[session_id]
            done(valid)


def role_for(peer, decision):
    """QuorumPeer's role factory: the decision's state names the role."""
    if decision.state == ServerState.LEADING:
        return LeaderRole(peer, decision)
    if decision.state == ServerState.OBSERVING:
        return LearnerRole(peer, decision, observer=True)
    return LearnerRole(peer, decision)
