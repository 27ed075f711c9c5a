"""Leader: ZAB's leader role as a sans-IO core (Leader.java + the LearnerHandlers' threads).

Events in: ``learner_connected(peer)``, ``receive(peer, packet)``, ``learner_lost(peer)``,
``half_tick()`` (every tickTime / 2), ``logged(zxid)`` (the leader's own txns durable),
``propose(zxid, data, request)`` and ``process_sync(peer)`` from the request pipeline.
Decisions out, through the :class:`~zk_twisted.interfaces.ILeaderEnvironment`: packets to
send, connections to close, txns to log and to commit, epochs to write, the role's end.

One handler per spec action (spec/README.md): ``handle_FOLLOWERINFO`` (OBSERVERINFO too),
``handle_ACKEPOCH``, ``handle_ACK``, ``propose`` (ClientWrite), ``half_tick`` (the
LeaderTimeout checks), plus the packets the spec does not model (PING, REQUEST,
REVALIDATE).  The spec's variables are plain attributes: ``epoch`` (newEpoch),
``zab_state``, ``learners``, ``learner_zxid``, ``connecting_followers``,
``electing_followers``, ``new_leader_ackers``, ``proposal_acks``, ``last_committed``.

Where 3.8's threads block (getEpochToPropose, waitForEpochAck, waitForNewLeaderAck), this
core keeps the learner in a waiting phase and finishes the step for every waiting learner
when the quorum is reached, as the spec does.  Timeouts are counted in half-ticks.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..config import DEFAULT_COMMIT_LOG_COUNT, DEFAULT_SNAPSHOT_SIZE_FACTOR
from ..jute import records as R
from . import learner_handler as LH
from . import payloads as P
from . import tracelog
from .learner_handler import LearnerHandler, ProtocolError
from .packets import (
    PACKET_NAMES,
    PROTOCOL_VERSION,
    PacketType,
    counter_of,
    epoch_of,
    int_payload,
    make_zxid,
    packet,
)
from .packets import read_int_payload as _read_int
from .sync_choice import (
    CommittedLog,
    Proposal,
    SyncPlan,
    TxnLogReader,
    sync_follower,
)

log = logging.getLogger(__name__)

# ZabState (QuorumPeer.ZabState)
DISCOVERY = "DISCOVERY"
SYNCHRONIZATION = "SYNCHRONIZATION"
BROADCAST = "BROADCAST"


class XidRolloverError(Exception):
    """Leader.XidRolloverException: the zxid counter is exhausted; a new epoch is needed."""


@dataclass
class LeaderProposal:
    """An outstanding proposal (Leader.Proposal): its packet data and who ACKed it."""

    zxid: int
    data: bytes
    request: object = None
    acks: set = field(default_factory=set)


class Leader:
    """The leader role of server ``sid`` for one epoch."""

    def __init__(
        self,
        sid: int,
        verifier,
        env,
        *,
        accepted_epoch: int,
        current_epoch: int,
        last_zxid: int,
        committed_log: Iterable[Proposal] = (),
        init_limit: int = 10,
        sync_limit: int = 5,
        newleader_data: bytes | None = None,
        config_version: int = 0,
        txn_log: TxnLogReader | None = None,
        snapshot_size: Callable[[], int] | None = None,
        snapshot_size_factor: float = DEFAULT_SNAPSHOT_SIZE_FACTOR,
        commit_log_count: int = DEFAULT_COMMIT_LOG_COUNT,
        force_snap_sync: bool = False,
        last_committed: int = 0,
    ) -> None:
        self.sid = sid
        self.verifier = verifier
        self.env = env
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        #: Leader.leaderStateSummary: what a learner may not be more recent than
        self.leader_state = (current_epoch, last_zxid)
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.newleader_data = newleader_data
        self.config_version = config_version
        self.txn_log = txn_log
        self.snapshot_size = snapshot_size
        self.snapshot_size_factor = snapshot_size_factor
        self.force_snap_sync = force_snap_sync
        self.committed_log = CommittedLog(commit_log_count, committed_log)

        self.zab_state = DISCOVERY
        #: the epoch this leader proposes, then leads (Leader.epoch; spec newEpoch)
        self.epoch = accepted_epoch + 1
        self.waiting_for_new_epoch = True
        self.election_finished = False
        self.quorum_formed = False
        #: spec sets: learners counted toward each quorum (the leader itself is implicit)
        self.connecting_followers: set[int] = set()
        self.electing_followers: set[int] = set()
        self.new_leader_ackers: set[int] = set()
        self.handlers: dict[object, LearnerHandler] = {}
        #: zxid -> LeaderProposal, in zxid order (outstandingProposals)
        self.outstanding: OrderedDict[int, LeaderProposal] = OrderedDict()
        #: spec lastCommitted: kept from the last role until establishment commits the
        #: whole log (its last zxid), then each commit
        self.last_committed = last_committed
        #: ZKDatabase lastProcessedZxid as 3.8's sync choice reads it (<<epoch, 0>> at establishment)
        self.last_processed = last_zxid
        self.last_proposed = last_zxid
        self._self_acked = last_zxid
        self.pending_syncs: dict[int, list] = {}
        #: time, in half-ticks since the role started; ticks counted as 3.8's lead loop does
        self.now = 0
        self.tick = 0
        self._tick_skip = True
        self._phase_deadline = 2 * init_limit
        self.ended: str | None = None
        self._follower_counter = -1
        self.started = False
        #: (sid, reason) of every learner connection this leader closed, for logs and tests
        self.dropped: list[tuple[int | None, str]] = []

    # ------------------------------------------------------------------ views for the runner
    @property
    def learners(self) -> dict[int, str]:
        """sid -> phase of every connected learner that has said who it is."""
        return {h.sid: h.phase for h in self.handlers.values() if h.sid is not None}

    @property
    def learner_zxid(self) -> dict[int, int]:
        """The ACKEPOCH zxid of each learner waiting for the epoch-ack quorum."""
        return {h.sid: h.peer_last_zxid for h in self.handlers.values() if h.phase == LH.WAIT_SYNC}

    @property
    def proposal_acks(self) -> set[tuple[int, int]]:
        return {(s, z) for z, p in self.outstanding.items() for s in p.acks}

    def _is_quorum(self, sids) -> bool:
        return self.verifier.contains_quorum(set(sids) | {self.sid})

    def _is_participant(self, sid) -> bool:
        return sid in self.verifier.voting_members

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Leader.lead's first steps: propose an epoch (a one-voter ensemble decides alone)."""
        self.started = True
        log.info("LEADING: proposing epoch %d (acceptedEpoch %d)", self.epoch, self.accepted_epoch)
        self._try_decide_epoch()

    def shutdown(self, reason: str) -> None:
        """Leader.shutdown: close every learner connection; the role ends (once)."""
        if self.ended is not None:
            return
        self.ended = reason
        log.info("Shutting down leader of epoch %d: %s", self.epoch, reason)
        for h in list(self.handlers.values()):
            self._forget(h)
            self.env.close(h.peer)
        self.env.role_ended(reason)

    # ------------------------------------------------------------------ connections
    def learner_connected(self, peer) -> LearnerHandler:
        """A learner connected to the quorum port (LearnerCnxAcceptor)."""
        h = LearnerHandler(
            peer,
            self.now,
            self.now + 2 * self.init_limit,
            self.tick + self.init_limit + self.sync_limit,
        )
        self.handlers[peer] = h
        return h

    def learner_lost(self, peer) -> None:
        """The learner's connection closed (LearnerHandler.shutdown)."""
        h = self.handlers.get(peer)
        if h is not None:
            log.warning("******* GOODBYE learner %s ********", h.sid)
            self._forget(h)

    def _forget(self, h: LearnerHandler) -> None:
        h.closed = True
        h.phase = LH.NONE
        self.handlers.pop(h.peer, None)
        # Where 3.8 is wrong (Leader.removeLearnerHandler keeps the ack sets): a learner that
        # comes back may be TRUNCated past what it ACKed, so its old ACKs must not count; it
        # ACKs again after its sync (spec: ForgetAcks, mutant zk38_stale_acks)
        sid = h.sid
        if sid is not None and not any(o.sid == sid for o in self.handlers.values()):
            for p in self.outstanding.values():
                p.acks.discard(sid)

    def _drop(self, h: LearnerHandler, reason: str) -> None:
        log.warning("Closing the connection to learner %s (%s): %s", h.sid, h.learner_type, reason)
        self.dropped.append((h.sid, reason))
        self._forget(h)
        self.env.close(h.peer)

    def _send(self, h: LearnerHandler, pkt) -> None:
        h.packets_sent += 1
        if pkt.type == PacketType.PROPOSAL:
            h.sync_limit_check.update_proposal(pkt.zxid, self.now)
        self.env.send(h.peer, pkt)

    # ------------------------------------------------------------------ dispatch
    def receive(self, peer, pkt) -> None:
        """One packet from a learner: dispatched by type and checked against its phase."""
        if self.ended is not None:
            return
        h = self.handlers.get(peer)
        if h is None:
            return
        h.packets_received += 1
        h.read_deadline = self.now + 2 * (self.sync_limit if h.phase == LH.SYNCED else self.init_limit)
        if h.phase == LH.SYNCED:
            h.tick_of_next_ack_deadline = self.tick + self.sync_limit
        try:
            t = pkt.type
            if t in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
                self.handle_FOLLOWERINFO(h, pkt)
            elif t == PacketType.ACKEPOCH:
                self.handle_ACKEPOCH(h, pkt)
            elif t == PacketType.ACK:
                self.handle_ACK(h, pkt)
            elif t == PacketType.PING:
                self.handle_PING(h, pkt)
            elif t == PacketType.REQUEST:
                self.handle_REQUEST(h, pkt)
            elif t == PacketType.REVALIDATE:
                self.handle_REVALIDATE(h, pkt)
            else:
                raise ProtocolError(f"unexpected {PACKET_NAMES.get(t, t)} from a learner")
        except (ProtocolError, P.PayloadError, ValueError) as e:
            if not h.closed:
                self._drop(h, f"{e} (in {h.phase})")

    @staticmethod
    def _expect(h: LearnerHandler, *phases: str, what: str) -> None:
        if h.phase not in phases:
            raise ProtocolError(f"{what} in phase {h.phase}")

    # ------------------------------------------------------------------ discovery
    def handle_FOLLOWERINFO(self, h: LearnerHandler, pkt) -> None:
        """LearnerHandler.run's first packet + Leader.getEpochToPropose (spec HandleFOLLOWERINFO)."""
        self._expect(h, LH.NONE, what=PACKET_NAMES[pkt.type])
        data = pkt.data
        # lenient as LearnerHandler: 8, 12 or 20 bytes; null (or too short for a sid) numbers
        # the learner from 3.8's getAndDecrementFollowerCounter, its version left at 0x1
        info = P.decode_learner_info(data if data is not None and len(data) >= 8 else None)
        if info is None:
            info = R.LearnerInfo(self._follower_counter, 0x1, -1)
            self._follower_counter -= 1
        info_sid = info.serverid
        if info.configVersion > self.config_version:  # -1: not sent
            raise ProtocolError("Follower is ahead of the leader (has a later activated configuration)")
        if info.protocolVersion < PROTOCOL_VERSION:
            raise ProtocolError(f"learner protocol version 0x{info.protocolVersion:x} predates Zab 1.0")
        for other in list(self.handlers.values()):
            if other is not h and other.sid == info_sid:
                self._drop(other, "the learner connected again")
        h.sid = info_sid
        h.protocol_version = info.protocolVersion
        h.learner_type = LH.OBSERVER if pkt.type == PacketType.OBSERVERINFO else LH.PARTICIPANT
        learner_accepted = epoch_of(pkt.zxid)
        log.info("Follower sid: %d (%s) acceptedEpoch %d", info_sid, h.learner_type, learner_accepted)
        if not self.waiting_for_new_epoch:
            h.phase = LH.WAIT_ACKEPOCH
            self._send(
                h, packet(PacketType.LEADERINFO, make_zxid(self.epoch, 0), int_payload(PROTOCOL_VERSION))
            )
            return
        if learner_accepted >= self.epoch:
            self.epoch = learner_accepted + 1
        if self._is_participant(info_sid):
            self.connecting_followers.add(info_sid)
        h.phase = LH.WAIT_EPOCH
        self._try_decide_epoch()

    def _try_decide_epoch(self) -> None:
        if not (self.waiting_for_new_epoch and self._is_quorum(self.connecting_followers)):
            return
        self.waiting_for_new_epoch = False
        self.connecting_followers = set()
        self.accepted_epoch = self.epoch
        self.env.write_accepted_epoch(self.epoch)
        # zk.setZxid(<<epoch, 0>>): PINGs carry it until the first proposal
        self.last_proposed = self._self_acked = make_zxid(self.epoch, 0)
        self._phase_deadline = self.now + 2 * self.init_limit
        log.info("New epoch %d decided by a quorum", self.epoch)
        info = packet(PacketType.LEADERINFO, make_zxid(self.epoch, 0), int_payload(PROTOCOL_VERSION))
        for w in [x for x in self.handlers.values() if x.phase == LH.WAIT_EPOCH]:
            w.phase = LH.WAIT_ACKEPOCH
            w.read_deadline = self.now + 2 * self.init_limit
            self._send(w, info)
        # the leader's own waitForEpochAck
        self._try_finish_epoch_ack()

    def handle_ACKEPOCH(self, h: LearnerHandler, pkt) -> None:
        """Leader.waitForEpochAck (spec HandleACKEPOCH)."""
        self._expect(h, LH.WAIT_ACKEPOCH, what="ACKEPOCH")
        epoch = _read_int(pkt.data)
        h.peer_epoch, h.peer_last_zxid = epoch, pkt.zxid
        if self.election_finished:
            self._synchronize(h)
            return
        if epoch != -1:
            ce, lz = self.leader_state
            if epoch > ce or (epoch == ce and pkt.zxid > lz):
                raise ProtocolError(
                    f"Follower is ahead of the leader, leader summary: {ce} (current epoch), 0x{lz:x} (last zxid)"
                )
            if pkt.zxid != -1 and self._is_participant(h.sid):
                self.electing_followers.add(h.sid)
        h.phase = LH.WAIT_SYNC
        self._try_finish_epoch_ack()

    def _try_finish_epoch_ack(self) -> None:
        if self.election_finished or not self._is_quorum(self.electing_followers):
            return
        self.election_finished = True
        self.electing_followers = set()
        self.current_epoch = self.epoch
        self.env.write_current_epoch(self.epoch)
        self.zab_state = SYNCHRONIZATION
        self._phase_deadline = self.now + 2 * self.init_limit
        log.info("Epoch %d acknowledged by a quorum: synchronizing", self.epoch)
        for w in [x for x in self.handlers.values() if x.phase == LH.WAIT_SYNC]:
            self._synchronize(w)
        # the leader's own waitForNewLeaderAck
        self._try_establish()

    # ------------------------------------------------------------------ synchronization
    def plan_sync(self, peer_zxid: int) -> SyncPlan:
        return sync_follower(
            peer_zxid,
            self.last_processed,
            self.committed_log,
            txn_log=self.txn_log,
            snapshot_size=self.snapshot_size() if self.snapshot_size is not None else 0,
            snapshot_size_factor=self.snapshot_size_factor,
            force_snap=self.force_snap_sync,
        )

    def _synchronize(self, h: LearnerHandler) -> None:
        """LearnerHandler.syncFollower + startForwarding + NEWLEADER, in wire order."""
        plan = self.plan_sync(h.peer_last_zxid)
        h.sync_kind = plan.kind
        log.info(
            "Synchronizing learner %d (peer zxid 0x%x) by %s 0x%x (rule %s)",
            h.sid, h.peer_last_zxid, PACKET_NAMES[plan.kind], plan.zxid, plan.rule,
        )  # fmt: skip
        for p in plan.packets:
            self._send(h, p)
        if plan.is_snap:
            self.env.send_snapshot(h.peer)
        # startForwarding: outstanding proposals after what was queued (participants only)
        if h.is_participant and self.last_proposed > plan.last_queued:
            for z, prop in self.outstanding.items():
                if z > plan.last_queued:
                    self._send(h, packet(PacketType.PROPOSAL, z, prop.data))
        h.phase = LH.WAIT_NEWLEADER_ACK
        h.read_deadline = self.now + 2 * self.init_limit
        self._send(h, packet(PacketType.NEWLEADER, make_zxid(self.epoch, 0), self.newleader_data))

    def handle_ACK(self, h: LearnerHandler, pkt) -> None:
        """The NEWLEADER ACK (Leader.waitForNewLeaderAck) or a proposal ACK (processAck)."""
        if h.phase == LH.WAIT_NEWLEADER_ACK:
            if counter_of(pkt.zxid) != 0 and pkt.zxid <= self.last_proposed:
                # a 3.8.0 learner logs the synced proposals at NEWLEADER and its SyncThread
                # ACKs each once flushed, racing the NEWLEADER ACK it writes itself: one may
                # come first (3.8.0's leader, once established, would take it for the
                # NEWLEADER ACK).  Not counted: wait for the NEWLEADER ACK itself
                log.info("ACK of 0x%x from learner %d before its NEWLEADER ACK: ignored", pkt.zxid, h.sid)
                return
            if pkt.zxid != make_zxid(self.epoch, 0):
                raise ProtocolError(
                    f"NEWLEADER ACK for 0x{pkt.zxid:x}, expected 0x{make_zxid(self.epoch, 0):x}"
                )
            h.sync_limit_check.started = True
            if self.quorum_formed:
                self._up_to_date(h)
                return
            if self._is_participant(h.sid):
                self.new_leader_ackers.add(h.sid)
            h.phase = LH.WAIT_QUORUM
            self._try_establish()
            return
        self._expect(h, LH.WAIT_QUORUM, LH.SYNCED, what="ACK")
        h.sync_limit_check.update_ack(pkt.zxid)
        self.process_ack(h.sid if h.is_participant else None, pkt.zxid)

    def _up_to_date(self, h: LearnerHandler) -> None:
        h.phase = LH.SYNCED
        h.read_deadline = self.now + 2 * self.sync_limit
        h.tick_of_next_ack_deadline = self.tick + self.sync_limit
        self._send(h, packet(PacketType.UPTODATE, -1))

    def _try_establish(self) -> None:
        if self.quorum_formed or not self._is_quorum(self.new_leader_ackers):
            return
        self.quorum_formed = True
        self.new_leader_ackers = set()
        # startZkServer: everything in the log is committed; lastProcessed is <<epoch, 0>>
        self.last_committed = self.leader_state[1]
        self.last_processed = make_zxid(self.epoch, 0)
        self.zab_state = BROADCAST
        log.info("Have quorum of supporters: established as leader of epoch %d", self.epoch)
        self.env.serving(self.epoch)
        for w in [x for x in self.handlers.values() if x.phase == LH.WAIT_QUORUM]:
            self._up_to_date(w)

    # ------------------------------------------------------------------ broadcast
    def propose(self, zxid: int, data: bytes, request=None) -> None:
        """Leader.propose (spec ClientWrite): PROPOSAL to every forwarding follower and the
        txn into the leader's own log; its ACK counts once :meth:`logged` says it is durable.

        ``zxid`` comes from the request pipeline (PrepRequestProcessor numbers txns); it
        must be the next one of this epoch.  The counter's last value forces a new epoch.
        """
        if self.ended is not None or self.zab_state != BROADCAST:
            raise RuntimeError(f"not serving: {self.ended or self.zab_state}")
        if counter_of(zxid) == 0xFFFFFFFF:
            msg = "zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start"
            self.shutdown(msg)
            raise XidRolloverError(msg)
        if epoch_of(zxid) != self.epoch or zxid != self.last_proposed + 1:
            raise ValueError(f"proposal 0x{zxid:x} does not follow 0x{self.last_proposed:x}")
        self.last_proposed = zxid
        self.outstanding[zxid] = LeaderProposal(zxid, data, request)
        pp = packet(PacketType.PROPOSAL, zxid, data)
        for h in list(self.handlers.values()):
            if h.forwarding and h.is_participant:
                self._send(h, pp)
        self.env.log([(zxid, data)])
        if tracelog.active is not None:
            tracelog.active.record("ClientWrite", zxid=tracelog.zx(zxid))

    def logged(self, zxid: int) -> None:
        """The leader's own txns up to ``zxid`` are durable: its ACKs (AckRequestProcessor)."""
        if self.ended is not None:
            return
        acked = []
        after = self._self_acked
        for z in self.outstanding:  # in zxid order (propose): stop at the first beyond
            if z > zxid:
                break
            if z > after:
                acked.append(z)
        before = self.last_committed
        for z in acked:
            self.process_ack(self.sid, z)
        self._self_acked = max(self._self_acked, zxid)
        if tracelog.active is not None and self.last_committed != before:
            # a commit by the leader's own ACK: an observation, no spec step of its own
            tracelog.active.record("LeaderCommitted", zxid=tracelog.zx(self.last_committed))

    def process_ack(self, sid: int | None, zxid: int) -> None:
        """Leader.processAck + tryToCommit: commit in zxid order once a quorum ACKed."""
        if counter_of(zxid) == 0 or not self.outstanding or zxid <= self.last_committed:
            return  # the UPTODATE ACK, nothing pending, or committed already
        p = self.outstanding.get(zxid)
        if p is None:
            log.warning("Trying to commit future proposal: zxid 0x%x from %s", zxid, sid)
            return
        if sid is not None:
            p.acks.add(sid)
        if zxid - 1 in self.outstanding or not self.verifier.contains_quorum(p.acks):
            return
        self._commit(p)

    def _commit(self, p: LeaderProposal) -> None:
        del self.outstanding[p.zxid]
        self.last_committed = p.zxid
        self.last_processed = p.zxid
        commit = packet(PacketType.COMMIT, p.zxid)
        inform = packet(PacketType.INFORM, p.zxid, p.data)
        for h in list(self.handlers.values()):
            if h.forwarding:
                self._send(h, commit if h.is_participant else inform)
        self.committed_log.add(Proposal(p.zxid, p.data))
        self.env.commit(p.zxid, p.data, p.request)
        for peer in self.pending_syncs.pop(p.zxid, ()):
            self._sync_reply(peer)

    def process_sync(self, peer) -> None:
        """Leader.processSync: answer a learner's ``sync`` once what is proposed now commits."""
        if not self.outstanding:
            self._sync_reply(peer)
        else:
            self.pending_syncs.setdefault(self.last_proposed, []).append(peer)

    def _sync_reply(self, peer) -> None:
        h = self.handlers.get(peer)
        if h is not None:
            self._send(h, packet(PacketType.SYNC, 0))

    # ------------------------------------------------------------------ what learners ask
    def handle_PING(self, h: LearnerHandler, pkt) -> None:
        """A learner's PING reply: its sessions' touches."""
        self._expect(h, LH.SYNCED, what="PING")
        for session, timeout in P.SessionTouches.from_bytes(pkt.data).touches:
            self.env.touch(session, timeout)

    def handle_REQUEST(self, h: LearnerHandler, pkt) -> None:
        """A write (or sync) a learner forwards: into the leader's request pipeline."""
        self._expect(h, LH.SYNCED, what="REQUEST")
        req = P.QuorumRequest.from_bytes(pkt.data)
        h.requests_received += 1
        self.env.submit_learner_request(
            h.peer, h.sid, req.session_id, req.cxid, req.type, req.body, pkt.authinfo
        )

    def handle_REVALIDATE(self, h: LearnerHandler, pkt) -> None:
        """Leader.revalidateSession: is a session that moved to this learner still valid?"""
        self._expect(h, LH.SYNCED, what="REVALIDATE")
        req = P.RevalidateRequest.from_bytes(pkt.data)
        valid = bool(self.env.revalidate_session(h.sid, req.session_id, req.timeout))
        answer = P.RevalidateReply(req.session_id, valid).to_bytes()
        self._send(h, packet(PacketType.REVALIDATE, pkt.zxid, answer))

    # ------------------------------------------------------------------ time
    def half_tick(self) -> None:
        """Every tickTime / 2: timeouts, and in BROADCAST 3.8's lead loop (tick count,
        the synced-quorum check every other call, PINGs carrying lastProposed)."""
        if self.ended is not None or not self.started:
            return
        self.now += 1
        for h in list(self.handlers.values()):
            if self.now > h.read_deadline:
                self._drop(h, "read timed out")
        if self.zab_state != BROADCAST:
            if self.now > self._phase_deadline:
                what = (
                    "epoch from quorum" if self.waiting_for_new_epoch
                    else "epoch to be acked by quorum" if not self.election_finished
                    else "NEWLEADER to be acked by quorum"
                )  # fmt: skip
                self.shutdown(f"Timeout while waiting for {what}")
            return
        if not self._tick_skip:
            self.tick += 1
            synced = {h.sid for h in self.handlers.values() if h.synced(self.tick)}
            if not self._is_quorum(synced):
                self.shutdown(f"Not sufficient followers synced, only synced with sids: [ {sorted(synced)} ]")
                return
        self._tick_skip = not self._tick_skip
        ping = packet(PacketType.PING, self.last_proposed)
        for h in list(self.handlers.values()):
            if not h.forwarding:
                continue
            if h.sync_limit_check.check(self.now, 2 * self.sync_limit):
                self._send(h, ping)
            else:
                self._drop(h, "transaction timeout (a proposal un-ACKed for syncLimit)")

    # ------------------------------------------------------------------ introspection
    @property
    def forwarding_followers(self) -> set[int]:
        return {h.sid for h in self.handlers.values() if h.forwarding and h.is_participant}

    @property
    def synced_sids(self) -> set[int]:
        return {h.sid for h in self.handlers.values() if h.phase == LH.SYNCED}

    def __repr__(self) -> str:
        return f"<Leader sid={self.sid} epoch={self.epoch} {self.zab_state}{' ended' if self.ended else ''}>"
