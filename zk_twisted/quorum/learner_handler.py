"""LearnerHandler: the leader's side of one learner connection (sans-IO).

One object per quorum-port connection.  It keeps the learner's phase, named as the spec
names it (``learners[i][j]`` in spec/README.md), and the per-learner timers of 3.8's
LearnerHandler (read timeouts, tickOfNextAckDeadline, SyncLimitCheck); the decisions that
involve several learners (the epoch, the epoch-ack and NEWLEADER quorums, commits) are
the :class:`~zk_twisted.quorum.leader.Leader`'s, which dispatches packets here by phase.
"""

from __future__ import annotations

from dataclasses import dataclass

#: phases of a learner at the leader (spec/README.md, learners[i][j])
NONE = "NONE"
WAIT_EPOCH = "WAIT_EPOCH"
WAIT_ACKEPOCH = "WAIT_ACKEPOCH"
WAIT_SYNC = "WAIT_SYNC"
WAIT_NEWLEADER_ACK = "WAIT_NEWLEADER_ACK"
WAIT_QUORUM = "WAIT_QUORUM"
SYNCED = "SYNCED"

#: phases in which the learner gets every PROPOSAL / COMMIT (forwardingFollowers) and PINGs
FORWARDING = frozenset((WAIT_NEWLEADER_ACK, WAIT_QUORUM, SYNCED))

PARTICIPANT = "participant"
OBSERVER = "observer"


class ProtocolError(Exception):
    """A packet that is not legal in the receiver's phase: it ends that connection (leader)
    or the role (learner); never a silent accept."""


@dataclass
class SyncLimitCheck:
    """LearnerHandler.SyncLimitCheck: the oldest un-ACKed PROPOSAL sent to the learner
    (and the next one); a learner that leaves one un-ACKed for syncLimit ticks is dropped.
    Times are the leader's half-tick counter."""

    started: bool = False
    current_zxid: int = 0
    current_time: int | None = None
    next_zxid: int = 0
    next_time: int | None = None

    def update_proposal(self, zxid: int, now: int) -> None:
        if not self.started:
            return
        if self.current_time is None:
            self.current_time, self.current_zxid = now, zxid
        else:
            self.next_time, self.next_zxid = now, zxid

    def update_ack(self, zxid: int) -> None:
        if self.current_zxid == zxid:
            self.current_time, self.current_zxid = self.next_time, self.next_zxid
            self.next_time, self.next_zxid = None, 0
        elif self.next_zxid == zxid:
            self.next_time, self.next_zxid = None, 0

    def check(self, now: int, limit_half_ticks: int) -> bool:
        return self.current_time is None or now - self.current_time < limit_half_ticks


class LearnerHandler:
    """State of one learner connection at the leader."""

    def __init__(self, peer, now: int, read_deadline: int, tick_of_next_ack_deadline: int) -> None:
        self.peer = peer
        #: the learner's sid, from its LearnerInfo (None until FOLLOWERINFO / OBSERVERINFO)
        self.sid: int | None = None
        self.learner_type = PARTICIPANT
        self.protocol_version = 0
        self.phase = NONE
        #: the learner's ACKEPOCH: its currentEpoch and last zxid (StateSummary)
        self.peer_epoch = -1
        self.peer_last_zxid = -1
        #: which sync it got (DIFF / TRUNC / SNAP type), for logs and mntr
        self.sync_kind: int | None = None
        self.connected_at = now
        #: half-tick by which the next packet must arrive (the socket's soTimeout)
        self.read_deadline = read_deadline
        #: 3.8's tickOfNextAckDeadline: the learner is "synced" while tick <= this
        self.tick_of_next_ack_deadline = tick_of_next_ack_deadline
        self.sync_limit_check = SyncLimitCheck()
        self.packets_received = 0
        self.packets_sent = 0
        self.requests_received = 0
        self.closed = False

    @property
    def is_participant(self) -> bool:
        return self.learner_type == PARTICIPANT

    @property
    def forwarding(self) -> bool:
        return self.phase in FORWARDING

    def synced(self, tick: int) -> bool:
        """LearnerHandler.synced: alive and heard from within syncLimit ticks."""
        return not self.closed and tick <= self.tick_of_next_ack_deadline

    def __repr__(self) -> str:
        return f"<LearnerHandler sid={self.sid} {self.learner_type} {self.phase}>"
