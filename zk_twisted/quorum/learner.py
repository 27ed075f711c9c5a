"""Learner: the Follower and Observer roles as one sans-IO core (Learner / Follower /
Observer.java).

Events in: ``connected()``, ``receive(packet, snapshot=None)`` (a SNAP packet comes with
the snapshot the shell read after it), ``logged(zxid)`` (txns durable), ``half_tick()``,
``connection_lost()``; from the request pipeline ``forward_request(...)`` and
``revalidate(...)``.  Decisions out through the
:class:`~zk_twisted.interfaces.ILearnerEnvironment`.

One handler per spec action (spec/README.md): ``handle_LEADERINFO``, ``handle_DIFF``,
``handle_TRUNC``, ``handle_SNAP``, ``handle_PROPOSAL``, ``handle_COMMIT``,
``handle_NEWLEADER``, ``handle_UPTODATE``; plus INFORM (observers), PING, SYNC and
REVALIDATE, which the spec does not model.  The spec's follower variables are plain
attributes: ``sync_stage``, ``sync_proposals`` (syncHistory beyond the log), ``sync_commit``,
``last_committed``, ``zab_state``.

Where 3.8 is wrong this core follows the spec and DESIGN.md section 5, on the same wire:
- NEWLEADER: every txn of the synchronization (the SNAP's snapshot, the PROPOSALs received)
  is made durable first, then currentEpoch is written, then NEWLEADER is ACKed, then the
  uncommitted synced proposals are ACKed (3.8 ACKs first and logs later: ZOOKEEPER-4394,
  4643, 4646, 4685, 4712);
- a committed txn is recorded as ``last_committed`` only after it is applied (2355);
- a PROPOSAL of an older epoch, a COMMIT that is not the next pending txn, or any packet
  that is illegal in the current stage is a protocol error that ends the role.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from . import payloads as P
from .learner_handler import ProtocolError
from .packets import PACKET_NAMES, PacketType, epoch_of, int_payload, make_zxid, packet
from .packets import read_int_payload as _read_int
from .sync_choice import Proposal

log = logging.getLogger(__name__)

# ZabState
DISCOVERY = "DISCOVERY"
SYNCHRONIZATION = "SYNCHRONIZATION"
BROADCAST = "BROADCAST"

# syncStage (spec)
NONE = "NONE"
WAIT_SYNC = "WAIT_SYNC"
SYNCING = "SYNCING"
NEWLEADER_ACKED = "NEWLEADER_ACKED"


class Learner:
    """A follower (``observer=False``) or observer of the leader on connection ``leader``."""

    def __init__(
        self,
        sid: int,
        leader,
        env,
        *,
        observer: bool = False,
        accepted_epoch: int,
        current_epoch: int,
        config_version: int = 0,
        init_limit: int = 10,
        sync_limit: int = 5,
        last_committed: int = 0,
    ) -> None:
        self.sid = sid
        self.leader = leader
        self.env = env
        self.observer = observer
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.config_version = config_version
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.zab_state = DISCOVERY
        self.sync_stage = NONE
        #: DIFF / TRUNC / SNAP (the packet type), once the leader said
        self.sync_mode: int | None = None
        #: the leader's epoch (from LEADERINFO)
        self.new_epoch: int | None = None
        #: txns received in synchronization, in order (beyond what the log held)
        self.sync_proposals: list[Proposal] = []
        self.sync_commit = 0
        #: spec lastCommitted: the last txn applied as committed in this incarnation
        self.last_committed = last_committed
        #: broadcast: logged proposals waiting for their COMMIT (FollowerZooKeeperServer.pendingTxns)
        self.pending: deque[Proposal] = deque()
        #: the zxid of the last txn queued (strictly increasing)
        self.last_queued = 0
        #: NEWLEADER seen, its ACK waiting for the synced txns to be durable
        self.newleader_zxid: int | None = None
        self.newleader_data: bytes | None = None
        #: highest zxid reported durable by ``logged`` in this role (-1: none yet)
        self.durable_zxid = -1
        #: actions waiting for durability, in log order: (zxid needed durable or None, action)
        self._after_durable: deque[tuple[int | None, Callable[[], None]]] = deque()
        self._last_logged_here: int | None = None
        self.silent_half_ticks = 0
        self.ended: str | None = None
        self.packets_received = 0

    # ------------------------------------------------------------------ lifecycle
    def connected(self) -> None:
        """Learner.registerWithLeader's first step: FOLLOWERINFO / OBSERVERINFO."""
        info = P.follower_info(self.accepted_epoch, self.sid, self.config_version, observer=self.observer)
        self.env.send(self.leader, info)

    def shutdown(self, reason: str) -> None:
        """Learner.shutdown: the role ends (once), its connection closed."""
        self._end(reason)

    def connection_lost(self) -> None:
        self._end("the connection to the leader closed", close=False)

    def _end(self, reason: str, close: bool = True) -> None:
        if self.ended is not None:
            return
        self.ended = reason
        log.warning("Exception when %s the leader: %s", "observing" if self.observer else "following", reason)
        if close:
            self.env.close(self.leader)
        self.env.role_ended(reason)

    # ------------------------------------------------------------------ dispatch
    def receive(self, pkt, snapshot=None) -> None:
        if self.ended is not None:
            return
        self.packets_received += 1
        self.silent_half_ticks = 0
        handler = _HANDLERS.get(pkt.type)
        try:
            if handler is None:
                raise ProtocolError(f"unknown packet type {pkt.type}")
            if pkt.type == PacketType.SNAP:
                self.handle_SNAP(pkt, snapshot)
            else:
                handler(self, pkt)
        except (ProtocolError, P.PayloadError, ValueError) as e:
            self._end(f"protocol error: {e} (zab {self.zab_state}, sync {self.sync_stage})")

    def _illegal(self, pkt) -> ProtocolError:
        return ProtocolError(f"{PACKET_NAMES.get(pkt.type, pkt.type)} 0x{pkt.zxid:x} is illegal here")

    # ------------------------------------------------------------------ discovery
    def handle_LEADERINFO(self, pkt) -> None:
        """registerWithLeader: accept the new epoch (acceptedEpoch durable first), ACKEPOCH."""
        if self.zab_state != DISCOVERY or self.new_epoch is not None:
            raise self._illegal(pkt)
        _read_int(pkt.data)  # the leader's protocol version
        e = epoch_of(pkt.zxid)
        if e < self.accepted_epoch:
            raise ProtocolError(f"Leaders epoch, {e} is less than accepted epoch, {self.accepted_epoch}")
        if e > self.accepted_epoch:
            reported = self.current_epoch
            self.env.write_accepted_epoch(e)
            self.accepted_epoch = e
        else:
            reported = -1  # already acked this epoch: do not count again
        self.new_epoch = e
        last = self.env.last_logged_zxid()
        self.env.send(self.leader, packet(PacketType.ACKEPOCH, last, int_payload(reported)))
        self.zab_state = SYNCHRONIZATION
        self.sync_stage = WAIT_SYNC

    # ------------------------------------------------------------------ synchronization
    def _expect_sync_packet(self, pkt) -> None:
        if self.sync_stage != WAIT_SYNC:
            raise self._illegal(pkt)

    def handle_DIFF(self, pkt) -> None:
        """DIFF: the log is a prefix of the leader's committed txns; the rest follows."""
        self._expect_sync_packet(pkt)
        self.sync_mode = PacketType.DIFF
        self.last_queued = self.env.last_logged_zxid()
        self.sync_commit = self.last_queued
        self.sync_stage = SYNCING
        log.info("Getting a diff from the leader 0x%x", pkt.zxid)

    def handle_TRUNC(self, pkt) -> None:
        """TRUNC: drop the txns after the given zxid, at once (ZKDatabase.truncateLog)."""
        self._expect_sync_packet(pkt)
        log.warning("Truncating log to get in sync with the leader 0x%x", pkt.zxid)
        if not self.env.truncate_log(pkt.zxid):
            raise ProtocolError(f"Not able to truncate the log 0x{pkt.zxid:x}")
        self.sync_mode = PacketType.TRUNC
        self.last_queued = self.sync_commit = pkt.zxid
        self.sync_stage = SYNCING

    def handle_SNAP(self, pkt, snapshot) -> None:
        """SNAP: the leader's database replaces ours (durable at NEWLEADER)."""
        self._expect_sync_packet(pkt)
        if snapshot is None:
            raise ProtocolError("SNAP without its snapshot")
        log.info("Getting a snapshot from leader 0x%x", pkt.zxid)
        self.env.load_snapshot(snapshot, pkt.zxid)
        self.sync_mode = PacketType.SNAP
        self.last_queued = self.sync_commit = pkt.zxid
        self.sync_stage = SYNCING

    def _in_sync(self) -> bool:
        return self.sync_stage in (SYNCING, NEWLEADER_ACKED)

    def _check_order(self, pkt) -> bool:
        """A txn must come after the last one queued; False: one a SNAP already holds."""
        z = pkt.zxid
        hdr_zxid = P.txn_zxid(pkt.data)
        if hdr_zxid != z:
            raise ProtocolError(f"txn header zxid 0x{hdr_zxid:x} in packet 0x{z:x}")
        if z <= self.last_queued:
            if self.sync_mode == PacketType.SNAP and self.sync_stage == SYNCING and z <= self.sync_commit:
                return False  # sent after a fuzzy snapshot that already holds it
            raise ProtocolError(f"txn 0x{z:x} does not follow 0x{self.last_queued:x}")
        if epoch_of(z) > self.new_epoch:
            raise ProtocolError(f"txn 0x{z:x} from an epoch after the leader's {self.new_epoch}")
        if self.newleader_zxid is not None and epoch_of(z) != self.new_epoch:
            raise ProtocolError(f"PROPOSAL 0x{z:x} from an older epoch than {self.new_epoch}")
        if z != self.last_queued + 1 and epoch_of(z) == epoch_of(self.last_queued):
            log.warning("Got zxid 0x%x expected 0x%x", z, self.last_queued + 1)
        self.last_queued = z
        return True

    def handle_PROPOSAL(self, pkt) -> None:
        """In sync: into the txns being synced (logged at once after NEWLEADER, ACKed after
        the NEWLEADER ACK).  In broadcast: logged with group commit, ACKed once durable."""
        if self.observer and self.zab_state == BROADCAST:
            raise self._illegal(pkt)
        if self._in_sync():
            if not self._check_order(pkt):
                return
            p = Proposal(pkt.zxid, pkt.data)
            self.sync_proposals.append(p)
            if self.newleader_zxid is not None:
                self._log_and_ack(p)
            return
        if self.zab_state != BROADCAST:
            raise self._illegal(pkt)
        if epoch_of(pkt.zxid) != self.new_epoch:
            raise ProtocolError(f"PROPOSAL 0x{pkt.zxid:x} not of the leader's epoch {self.new_epoch}")
        self._check_order(pkt)
        p = Proposal(pkt.zxid, pkt.data)
        self.pending.append(p)
        self._log_and_ack(p)

    def _log_and_ack(self, p: Proposal) -> None:
        self._log([p])
        if not self.observer:
            z = p.zxid
            self._after_durable.append((z, lambda: self._ack(z)))
        self._drain()

    def _log(self, proposals: list[Proposal]) -> None:
        if proposals:
            self._last_logged_here = proposals[-1].zxid
            self.env.log([(p.zxid, p.data) for p in proposals])

    def _ack(self, zxid: int) -> None:
        self.env.send(self.leader, packet(PacketType.ACK, zxid))

    def handle_COMMIT(self, pkt) -> None:
        """In sync: the commit point moves (applied at UPTODATE).  In broadcast: the next
        pending txn is applied, then recorded (a COMMIT of any other txn ends the role)."""
        if self._in_sync():
            if any(p.zxid == pkt.zxid for p in self.sync_proposals) and pkt.zxid > self.sync_commit:
                self.sync_commit = pkt.zxid
            else:
                log.warning("COMMIT 0x%x of no txn being synced", pkt.zxid)
            return
        if self.zab_state != BROADCAST or self.observer:
            raise self._illegal(pkt)
        if not self.pending or self.pending[0].zxid != pkt.zxid:
            head = f"0x{self.pending[0].zxid:x}" if self.pending else "none"
            raise ProtocolError(f"Committing zxid 0x{pkt.zxid:x} but next pending txn is {head}")
        p = self.pending.popleft()
        self._apply(p)

    def handle_INFORM(self, pkt) -> None:
        """Observers: a committed txn with its data; logged and applied."""
        if not self.observer:
            raise self._illegal(pkt)
        if self._in_sync():
            if not self._check_order(pkt):
                return
            p = Proposal(pkt.zxid, pkt.data)
            self.sync_proposals.append(p)
            self.sync_commit = p.zxid
            if self.newleader_zxid is not None:
                self._log([p])
            return
        if self.zab_state != BROADCAST:
            raise self._illegal(pkt)
        self._check_order(pkt)
        p = Proposal(pkt.zxid, pkt.data)
        self._log([p])
        self._apply(p)

    def _apply(self, p: Proposal) -> None:
        self.env.commit(p.zxid, p.data, None)
        self.last_committed = p.zxid  # recorded only once applied (ZOOKEEPER-2355)

    def handle_NEWLEADER(self, pkt) -> None:
        """Our order: the synced txns durable, then currentEpoch, then ACK(NEWLEADER), then
        the ACKs of the uncommitted synced proposals."""
        if self.sync_stage != SYNCING or self.newleader_zxid is not None:
            raise self._illegal(pkt)
        if epoch_of(pkt.zxid) != self.new_epoch:
            raise ProtocolError(f"NEWLEADER 0x{pkt.zxid:x} of another epoch than {self.new_epoch}")
        self.newleader_zxid = pkt.zxid
        self.newleader_data = pkt.data
        if self.sync_mode in (PacketType.SNAP,):
            self.env.save_snapshot()
        to_log = list(self.sync_proposals)
        self._log(to_log)
        uncommitted = [] if self.observer else [p.zxid for p in to_log if p.zxid > self.sync_commit]
        need = to_log[-1].zxid if to_log else None
        self._after_durable.append((need, lambda: self._ack_newleader(pkt.zxid, uncommitted)))
        self._drain()

    def _ack_newleader(self, zxid: int, uncommitted: list[int]) -> None:
        self.env.write_current_epoch(epoch_of(zxid))
        self.current_epoch = epoch_of(zxid)
        self._ack(zxid)
        for z in uncommitted:
            self._ack(z)
        self.sync_stage = NEWLEADER_ACKED

    def handle_UPTODATE(self, pkt) -> None:
        """Serve: apply what the leader committed during sync, ACK <<epoch, 0>>."""
        if self.sync_stage != NEWLEADER_ACKED:
            raise self._illegal(pkt)
        self.zab_state = BROADCAST
        self.sync_stage = NONE
        proposals, self.sync_proposals = self.sync_proposals, []
        for p in proposals:
            if p.zxid <= self.sync_commit:
                self._apply(p)
            elif not self.observer:
                self.pending.append(p)
        if self.last_committed < self.sync_commit:
            self.last_committed = self.sync_commit  # the log's own txns (DIFF / TRUNC / SNAP point)
        self.sync_commit = 0
        self._ack(make_zxid(self.new_epoch, 0))
        log.info("Learner received UPTODATE: serving in epoch %d", self.new_epoch)
        self.env.serving(self.new_epoch)

    # ------------------------------------------------------------------ durability
    def logged(self, zxid: int) -> None:
        """Every txn this role logged up to ``zxid`` is durable (group commit done)."""
        if self.ended is not None:
            return
        self.durable_zxid = max(self.durable_zxid, zxid)
        self._drain()

    def _drain(self) -> None:
        q = self._after_durable
        while q and self.ended is None:
            need, action = q[0]
            if need is not None and need > self.durable_zxid:
                return
            q.popleft()
            action()

    # ------------------------------------------------------------------ broadcast extras
    def handle_PING(self, pkt) -> None:
        """Answered with the touched sessions once serving; ignored while syncing (3.8)."""
        if self.zab_state != BROADCAST:
            if self.sync_stage in (SYNCING, NEWLEADER_ACKED):
                return
            raise self._illegal(pkt)
        self.env.send(self.leader, P.learner_ping(pkt, self.env.touches()))

    def handle_SYNC(self, pkt) -> None:
        if self.zab_state != BROADCAST:
            raise self._illegal(pkt)
        self.env.sync_done()

    def handle_REVALIDATE(self, pkt) -> None:
        if self.zab_state != BROADCAST:
            raise self._illegal(pkt)
        answer = P.RevalidateReply.from_bytes(pkt.data)
        self.env.revalidated(answer.session_id, answer.valid)

    def forward_request(self, session_id: int, cxid: int, op: int, body: bytes, authinfo=None) -> None:
        """FollowerRequestProcessor / Learner.request: a write or sync goes to the leader."""
        if self.ended is not None or self.zab_state != BROADCAST:
            raise RuntimeError("not following a leader")
        self.env.send(self.leader, P.request(P.QuorumRequest(session_id, cxid, op, body or b""), authinfo))

    def revalidate(self, session_id: int, timeout: int) -> None:
        """Learner.validateSession: ask the leader whether a session that moved here lives."""
        if self.ended is not None or self.zab_state != BROADCAST:
            raise RuntimeError("not following a leader")
        self.env.send(self.leader, P.revalidate(session_id, timeout))

    # ------------------------------------------------------------------ time
    def half_tick(self) -> None:
        """Every tickTime / 2: the read timeout (initLimit until NEWLEADER, then syncLimit)."""
        if self.ended is not None:
            return
        self.silent_half_ticks += 1
        limit = (
            self.sync_limit
            if self.newleader_zxid is not None or self.zab_state == BROADCAST
            else self.init_limit
        )
        if self.silent_half_ticks > 2 * limit:
            self._end(f"nothing from the leader for {limit} ticks")

    def __repr__(self) -> str:
        kind = "Observer" if self.observer else "Follower"
        return f"<{kind} sid={self.sid} {self.zab_state}/{self.sync_stage}{' ended' if self.ended else ''}>"


_HANDLERS = {
    PacketType.LEADERINFO: Learner.handle_LEADERINFO,
    PacketType.DIFF: Learner.handle_DIFF,
    PacketType.TRUNC: Learner.handle_TRUNC,
    PacketType.SNAP: Learner.handle_SNAP,
    PacketType.PROPOSAL: Learner.handle_PROPOSAL,
    PacketType.COMMIT: Learner.handle_COMMIT,
    PacketType.INFORM: Learner.handle_INFORM,
    PacketType.NEWLEADER: Learner.handle_NEWLEADER,
    PacketType.UPTODATE: Learner.handle_UPTODATE,
    PacketType.PING: Learner.handle_PING,
    PacketType.SYNC: Learner.handle_SYNC,
    PacketType.REVALIDATE: Learner.handle_REVALIDATE,
}


def Follower(sid: int, leader, env, **kw) -> Learner:  # noqa: N802 - ZooKeeper's name
    return Learner(sid, leader, env, observer=False, **kw)


def Observer(sid: int, leader, env, **kw) -> Learner:  # noqa: N802 - ZooKeeper's name
    return Learner(sid, leader, env, observer=True, **kw)
