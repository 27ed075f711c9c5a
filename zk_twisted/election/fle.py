"""FastLeaderElection (sans-IO): ZooKeeper 3.8's election, one handler per spec action.

Events in, decisions out.  The handlers are the actions of ``spec/FastLeaderElection.tla``:

=====================================  ==========================================
spec action                            handler
=====================================  ==========================================
``HandleNotification(i, j)``           :meth:`FastLeaderElection.handle_notification`
``FinalizeElection(i)``                :meth:`FastLeaderElection.finalize_election`
``ElectionTimeout(i)``                 :meth:`FastLeaderElection.election_timeout`
``Restart(i)`` / ``BecomeLooking(i)``  :meth:`FastLeaderElection.look_for_leader`
=====================================  ==========================================

Each returns a list of decisions (:class:`Send`, :class:`SetTimer`, :class:`CancelTimer`,
:class:`ConnectAll`, :class:`Decided`) for a driver to carry out
(:class:`zk_twisted.election.driver.LeaderElection`).  The state the spec names is public:
``logicalclock``, the proposal (``proposal``), ``recvset``, ``outofelection``, ``state``,
``current_vote``.  WorkerReceiver (answers to peers) and lookForLeader (the vote
bookkeeping) act in one step, as in the spec.  A notification to ourselves is a
:class:`Send` like any other: the driver loops it back through QuorumCnxManager, as 3.8.

Where this differs from 3.8, on purpose:

* An observer never answers a voter's notification.  A voter answers any non-voter at
  once and never counts what it says, so 3.8's observer (OBSERVING, or LOOKING in a later
  round) and a LOOKING voter ping-pong notifications for as long as the voter looks.
  The observer still learns the leader from the answers to its own notifications.
* QuorumOracleMaj (2-node oracle) and reconfig through notifications are not implemented;
  a notification's config is read for its version only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..interfaces import IQuorumVerifier
from .messages import Notification, ServerState

__all__ = [
    "Vote",
    "Send",
    "SetTimer",
    "CancelTimer",
    "ConnectAll",
    "Decided",
    "FastLeaderElection",
    "FINALIZE_WAIT",
    "MIN_NOTIFICATION_INTERVAL",
    "MAX_NOTIFICATION_INTERVAL",
]

log = logging.getLogger(__name__)

#: FastLeaderElection.finalizeWait (ms)
FINALIZE_WAIT = 200
#: zookeeper.fastleader.minNotificationInterval default (ms)
MIN_NOTIFICATION_INTERVAL = FINALIZE_WAIT
#: zookeeper.fastleader.maxNotificationInterval default (ms)
MAX_NOTIFICATION_INTERVAL = 60000
#: Long.MIN_VALUE: the vote of a server that does not vote
MIN_LONG = -(1 << 63)

LOOKING, FOLLOWING, LEADING, OBSERVING = (
    ServerState.LOOKING,
    ServerState.FOLLOWING,
    ServerState.LEADING,
    ServerState.OBSERVING,
)


@dataclass(frozen=True)
class Vote:
    """3.8's Vote: a proposed leader with its zxid and epoch, and the round it was cast in."""

    leader: int
    zxid: int
    election_epoch: int = -1
    peer_epoch: int = -1
    state: ServerState = LOOKING
    version: int = 0

    def order_key(self) -> tuple[int, int, int]:
        """totalOrderPredicate's order: (peerEpoch, zxid, sid), one total order (ZOOKEEPER-1419)."""
        return (self.peer_epoch, self.zxid, self.leader)

    def matches(self, other: Vote) -> bool:
        """Vote.equals: LOOKING votes compare everything but the state; votes of servers out of
        election compare (id, peerEpoch), or the id alone across notification versions 0 / >0."""
        if self.state == LOOKING or other.state == LOOKING:
            return (
                self.leader == other.leader
                and self.zxid == other.zxid
                and self.election_epoch == other.election_epoch
                and self.peer_epoch == other.peer_epoch
            )
        if (self.version > 0) != (other.version > 0):
            return self.leader == other.leader
        return self.leader == other.leader and self.peer_epoch == other.peer_epoch

    def __str__(self) -> str:
        return (
            f"({self.leader}, {self.zxid & 0xFFFFFFFFFFFFFFFF:x}, {self.peer_epoch & 0xFFFFFFFFFFFFFFFF:x})"
        )


# ------------------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Send:
    """Send a notification (ToSend) to ``to``; ``to`` may be ourselves (loopback)."""

    to: int
    state: ServerState
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int


@dataclass(frozen=True)
class SetTimer:
    """(Re)arm the election's one timer: ``"notification"`` (poll timeout) or ``"finalize"``."""

    kind: str
    delay_ms: int


@dataclass(frozen=True)
class CancelTimer:
    """No timer: the election is over."""


@dataclass(frozen=True)
class ConnectAll:
    """QuorumCnxManager.connectAll: nothing was delivered, dial the peers again."""


@dataclass(frozen=True)
class Decided:
    """The election ended: ``vote`` is the final vote, ``state`` our new role."""

    vote: Vote
    state: ServerState


# ------------------------------------------------------------------------------- the core
class FastLeaderElection:
    """One server's FastLeaderElection: logical clock, proposal, recvset, outofelection.

    ``learner_type`` is ``"participant"`` or ``"observer"``.  Observers send their (never
    winning) vote to the voters, learn the leader from their answers, and never vote.
    """

    def __init__(
        self,
        my_sid: int,
        verifier: IQuorumVerifier,
        learner_type: str = "participant",
        *,
        min_notification_interval: int = MIN_NOTIFICATION_INTERVAL,
        max_notification_interval: int = MAX_NOTIFICATION_INTERVAL,
        finalize_wait: int = FINALIZE_WAIT,
    ) -> None:
        self.my_sid = my_sid
        self.verifier = verifier
        self.participant = learner_type == "participant"
        self.min_interval = min_notification_interval
        self.max_interval = max_notification_interval
        self.finalize_wait = finalize_wait
        self.logicalclock = 0
        self.proposed_leader = -1
        self.proposed_zxid = -1
        self.proposed_epoch = -1
        #: QuorumPeer's peer state, as WorkerReceiver reads it
        self.state: ServerState = LOOKING
        #: QuorumPeer.currentVote: what we answer while not LOOKING (and to non-voters)
        self.current_vote: Vote | None = None
        self.recvset: dict[int, Vote] = {}
        self.outofelection: dict[int, Vote] = {}
        self.not_timeout = self.min_interval
        #: inside lookForLeader (between look_for_leader and Decided)
        self.looking = False
        #: a quorum agrees with the proposal: the finalize wait runs
        self.finalizing = False
        self.last_logged_zxid = -1
        self.current_epoch = -1
        self.voters = self._voter_order(verifier.voting_members)

    @staticmethod
    def _voter_order(voters: Mapping) -> tuple[int, ...]:
        from ..quorum.verifier import java_long_order

        return tuple(java_long_order(sorted(voters)))

    # ---- the state the spec names
    @property
    def proposal(self) -> Vote:
        """getVote(): the proposal of this round (a LOOKING vote of round ``logicalclock``)."""
        return Vote(self.proposed_leader, self.proposed_zxid, self.logicalclock, self.proposed_epoch)

    def valid_voter(self, sid: int) -> bool:
        return sid in self.verifier.voting_members

    # ---- initial vote (getInitId / getInitLastLoggedZxid / getPeerEpoch)
    def _init_id(self) -> int:
        return self.my_sid if self.my_sid in self.verifier.voting_members else MIN_LONG

    def _init_zxid(self) -> int:
        return self.last_logged_zxid if self.participant else MIN_LONG

    def _init_epoch(self) -> int:
        return self.current_epoch if self.participant else MIN_LONG

    def _better(
        self, leader: int, zxid: int, epoch: int, cur_leader: int, cur_zxid: int, cur_epoch: int
    ) -> bool:
        """totalOrderPredicate: (epoch, zxid, sid) greater; a weight-0 server never wins."""
        if self.verifier.weight(leader) == 0:
            return False
        return (epoch, zxid, leader) > (cur_epoch, cur_zxid, cur_leader)

    def _update_proposal(self, leader: int, zxid: int, epoch: int) -> None:
        self.proposed_leader, self.proposed_zxid, self.proposed_epoch = leader, zxid, epoch

    def _send_notifications(self) -> list[Send]:
        """sendNotifications: our proposal to every voter, ourselves included."""
        return [
            Send(
                sid, LOOKING, self.proposed_leader, self.proposed_zxid, self.logicalclock, self.proposed_epoch
            )
            for sid in self.voters
        ]

    def _has_quorum(self, votes: Mapping[int, Vote], vote: Vote) -> bool:
        """getVoteTracker(votes, vote).hasAllQuorums(): voters whose vote equals ``vote``."""
        acks = [sid for sid, v in votes.items() if vote.matches(v) and self.valid_voter(sid)]
        return self.verifier.contains_quorum(acks)

    def _check_leader(self, votes: Mapping[int, Vote], leader: int, election_epoch: int) -> bool:
        """checkLeader: another leader must have said LEADING; if it is us, the round is ours."""
        if leader != self.my_sid:
            v = votes.get(leader)
            return v is not None and v.state == LEADING
        return self.logicalclock == election_epoch

    # ------------------------------------------------------------------ look_for_leader
    def look_for_leader(self, last_logged_zxid: int, current_epoch: int) -> list:
        """A new round (lookForLeader's start): clock + 1, our initial vote to every voter.

        ``last_logged_zxid`` is the last zxid in our database (QuorumPeer.getLastLoggedZxid),
        ``current_epoch`` the currentEpoch file.
        """
        self.last_logged_zxid = last_logged_zxid
        self.current_epoch = current_epoch
        if self.current_vote is None:  # QuorumPeer.startLeaderElection
            self.current_vote = Vote(self.my_sid, last_logged_zxid, -1, current_epoch)
        self.state = LOOKING
        self.looking = True
        self.finalizing = False
        self.recvset = {}
        self.outofelection = {}
        self.not_timeout = self.min_interval
        self.logicalclock += 1
        self._update_proposal(self._init_id(), self._init_zxid(), self._init_epoch())
        log.info(
            "New election. My id = %d, proposed zxid=0x%x", self.my_sid, self.proposed_zxid & (2**64 - 1)
        )
        return [*self._send_notifications(), SetTimer("notification", self.not_timeout)]

    # -------------------------------------------------------------- handle_notification
    def handle_notification(self, n: Notification) -> list:
        """One notification from ``n.sid``: WorkerReceiver's answers, then lookForLeader's step."""
        if not self.valid_voter(n.sid):
            # a non-voter (observer) is answered at once with the current vote, never queued
            cv = self.current_vote or self.proposal
            return [Send(n.sid, self.state, cv.leader, cv.zxid, self.logicalclock, cv.peer_epoch)]
        if n.state not in (0, 1, 2, 3):
            log.warning("Dropping a notification from %d with unknown state %d", n.sid, n.state)
            return []
        nstate = ServerState(n.state)
        log.info(
            "Notification: my state:%s; n.sid:%d, n.state:%s, n.leader:%d, n.round:0x%x, n.peerEpoch:0x%x, "
            "n.zxid:0x%x, message format version:0x%x",
            self.state.name,
            n.sid,
            nstate.name,
            n.leader,
            n.election_epoch & (2**64 - 1),
            n.peer_epoch & (2**64 - 1),
            n.zxid & (2**64 - 1),
            n.version,
        )
        if self.state != LOOKING:
            # our own leftover LOOKING notification: 3.8 answers itself and drops the answer
            if (
                nstate == LOOKING
                and self.current_vote is not None
                and self.participant
                and n.sid != self.my_sid
            ):
                cv = self.current_vote
                return [Send(n.sid, self.state, cv.leader, cv.zxid, cv.election_epoch, cv.peer_epoch)]
            return []
        out: list = []
        # an older round is answered; our own leftover of one is not (as the spec; 3.8 answers itself)
        if (
            nstate == LOOKING
            and n.election_epoch < self.logicalclock
            and self.participant
            and n.sid != self.my_sid
        ):
            p = self.proposal
            out.append(Send(n.sid, LOOKING, p.leader, p.zxid, self.logicalclock, p.peer_epoch))
        if self.looking:
            out += self._lookup_step(n, nstate)
        return out

    def _lookup_step(self, n: Notification, nstate: ServerState) -> list:
        """One turn of lookForLeader's loop with ``n`` polled from the queue."""
        if self.finalizing:
            if not self._better(n.leader, n.zxid, n.peer_epoch, *self._proposal_tuple()):
                return [SetTimer("finalize", self.finalize_wait)]  # dropped; wait again
            self.finalizing = False  # requeued: handled below as a fresh poll
        out: list = []
        if self.valid_voter(n.sid) and self.valid_voter(n.leader):
            if nstate == LOOKING:
                out += self._looking(n)
            elif nstate in (FOLLOWING, LEADING):
                out += self._out_of_election(n, nstate)
                if out and isinstance(out[-1], Decided):
                    return out
            else:
                log.debug("Notification from observer: %d", n.sid)
        else:
            if not self.valid_voter(n.leader):
                log.warning(
                    "Ignoring notification for non-cluster member sid %d from sid %d", n.leader, n.sid
                )
            if not self.valid_voter(n.sid):
                log.warning("Ignoring notification for sid %d from non-quorum member sid %d", n.leader, n.sid)
        if self.finalizing:
            out.append(SetTimer("finalize", self.finalize_wait))
        else:
            out.append(SetTimer("notification", self.not_timeout))
        return out

    def _proposal_tuple(self) -> tuple[int, int, int]:
        return self.proposed_leader, self.proposed_zxid, self.proposed_epoch

    def _looking(self, n: Notification) -> list:
        if self._init_zxid() == -1:
            log.debug("Ignoring notification as our zxid is -1")
            return []
        if n.zxid == -1:
            log.debug("Ignoring notification from member with -1 zxid %d", n.sid)
            return []
        out: list = []
        if n.election_epoch > self.logicalclock:
            self.logicalclock = n.election_epoch
            self.recvset = {}
            if self._better(
                n.leader, n.zxid, n.peer_epoch, self._init_id(), self._init_zxid(), self._init_epoch()
            ):
                self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            else:
                self._update_proposal(self._init_id(), self._init_zxid(), self._init_epoch())
            out += self._send_notifications()
        elif n.election_epoch < self.logicalclock:
            return []
        elif self._better(n.leader, n.zxid, n.peer_epoch, *self._proposal_tuple()):
            self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            out += self._send_notifications()
        self.recvset[n.sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if self._has_quorum(self.recvset, self.proposal):
            self.finalizing = True
        return out

    def _out_of_election(self, n: Notification, nstate: ServerState) -> list:
        """receivedFollowingNotification / receivedLeadingNotification (no oracle)."""
        target = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, nstate, n.version)
        if n.election_epoch == self.logicalclock:
            self.recvset[n.sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, nstate)
            if self._has_quorum(self.recvset, target) and self._check_leader(
                self.recvset, n.leader, n.election_epoch
            ):
                return self._decide(Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch))
        self.outofelection[n.sid] = target
        if self._has_quorum(self.outofelection, target) and self._check_leader(
            self.outofelection, n.leader, n.election_epoch
        ):
            self.logicalclock = n.election_epoch
            return self._decide(Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch))
        return []

    def _decide(self, vote: Vote) -> list:
        """setPeerState + leaveInstance: the round's state is dropped, the vote is current."""
        if vote.leader == self.my_sid:
            state = LEADING
        else:
            state = FOLLOWING if self.participant else OBSERVING
        self.state = state
        self.current_vote = vote
        self.looking = False
        self.finalizing = False
        self.recvset = {}
        self.outofelection = {}
        log.info(
            "Election decided: leader %d, my state %s, round 0x%x", vote.leader, state.name, self.logicalclock
        )
        return [CancelTimer(), Decided(vote, state)]

    # ---------------------------------------------------------------------- the timers
    def finalize_election(self) -> list:
        """The finalize wait passed with no better notification: the proposal wins."""
        if not (self.looking and self.finalizing):
            return []
        p = self.proposal
        return self._decide(Vote(p.leader, p.zxid, self.logicalclock, p.peer_epoch))

    def election_timeout(self, have_delivered: bool = True) -> list:
        """The notification timeout passed with nothing received: resend (or redial), and wait
        twice as long next time, up to the maximum."""
        if not self.looking or self.finalizing:
            return []
        out: list = self._send_notifications() if have_delivered else [ConnectAll()]
        self.not_timeout = min(self.not_timeout * 2, self.max_interval)
        log.info("Notification time out: %d ms", self.not_timeout)
        out.append(SetTimer("notification", self.not_timeout))
        return out

    def timer_fired(self, kind: str, have_delivered: bool = True) -> list:
        if kind == "finalize":
            return self.finalize_election()
        return self.election_timeout(have_delivered)

    # ---------------------------------------------------------------- from QuorumPeer
    def update_election_vote(self, new_epoch: int) -> None:
        """QuorumPeer.updateElectionVote: the role established epoch ``new_epoch``; peers that
        ask from now on hear it as our vote's peerEpoch (the zxid stays as elected)."""
        cv = self.current_vote
        if cv is not None:
            self.current_vote = Vote(cv.leader, cv.zxid, cv.election_epoch, new_epoch, cv.state, cv.version)

    def set_state(self, state: ServerState) -> None:
        """The peer left its role (or stopped electing): the state WorkerReceiver reports."""
        self.state = ServerState(state)
        if state != LOOKING:
            self.looking = False
            self.finalizing = False

    def voters_of(self, sids: Iterable[int]) -> list[int]:
        return [s for s in sids if self.valid_voter(s)]

    # ---------------------------------------------------------------- for the runner
    def abstract_state(self) -> dict:
        """This server's election variables in the spec's shape (spec/README.md): zxids as
        ``(epoch, counter)``, votes as ``{leader, zxid, peerEpoch}``, recvset / outofelection
        as sets of ``(sid, leader, zxid, electionEpoch, peerEpoch, state)``."""

        def zx(z: int) -> tuple[int, int]:
            return ((z >> 32) & 0xFFFFFFFF, z & 0xFFFFFFFF)

        def rec(sid: int, v: Vote) -> tuple:
            return (sid, v.leader, zx(v.zxid), v.election_epoch, v.peer_epoch, v.state.name)

        v = self.proposal if self.looking else (self.current_vote or self.proposal)
        return {
            "state": self.state.name,
            "logicalclock": self.logicalclock,
            "vote": {"leader": v.leader, "zxid": zx(v.zxid), "peerEpoch": v.peer_epoch},
            "recvVotes": {rec(s, w) for s, w in self.recvset.items()},
            "outOfElection": {rec(s, w) for s, w in self.outofelection.items()},
        }
