"""LeaderElection: runs the FastLeaderElection core over a clock and a peer transport.

This is what QuorumPeer calls.  It decodes what QuorumCnxManager delivers, feeds the core,
carries out its decisions (send, timers, redial) and turns "decided" into a Deferred::

    election = LeaderElection(fle, qcm, reactor)
    d = election.look_for_leader(last_logged_zxid, current_epoch)
    d.addCallback(lambda decision: ...)   # Decision(vote, state)
    ...
    election.update_election_vote(new_epoch)   # once the role established its epoch
    election.set_state(ServerState.LOOKING)     # the role ended; then look_for_leader again

Between elections it keeps answering peers that are LOOKING with the current vote (3.8's
WorkerReceiver runs for the whole life of the peer).  Our own notifications loop back
through QuorumCnxManager and are handled right after the step that sent them (one of the
spec's interleavings: there they wait in ``emsgs[i][i]``, and the conformance runner holds
them in such a queue, conformance/replay_impl.py).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from twisted.internet.defer import Deferred

from ..quorum import tracelog
from .fle import CancelTimer, ConnectAll, Decided, FastLeaderElection, Send, SetTimer, Vote
from .messages import NotificationError, ServerState, decode_notification, encode_notification

__all__ = ["LeaderElection", "Decision"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """How an election ended: the final vote and the role it gives this server."""

    vote: Vote
    state: ServerState

    @property
    def leader(self) -> int:
        return self.vote.leader


class LeaderElection:
    """``fle``: the core; ``transport``: an IPeerTransport with ``set_receiver`` and ``drop``
    (QuorumCnxManager); ``clock``: IReactorTime."""

    def __init__(self, fle: FastLeaderElection, transport, clock) -> None:
        self.fle = fle
        self.transport = transport
        self.clock = clock
        self._timer = None
        self._timer_kind: str | None = None
        self._deferred: Deferred | None = None
        self._config = fle.verifier.to_string().encode("utf-8")
        self.stopped = False
        #: every decision made, for tests and logs
        self.decisions: list[Decision] = []
        #: messages that arrived while a step ran (our own loop-back): handled right after it
        self._inbox: deque[tuple[int, bytes]] = deque()
        self._busy = False
        transport.set_receiver(self._received)

    # ---------------------------------------------------------------- QuorumPeer API
    def look_for_leader(self, last_logged_zxid: int, current_epoch: int) -> Deferred:
        """Start a round; the Deferred fires with a :class:`Decision` once a leader is known."""
        if self._deferred is not None:
            raise RuntimeError("an election is already running")
        d = self._deferred = Deferred(self._cancelled)
        trace = tracelog.active
        self._step(
            lambda: self.fle.look_for_leader(last_logged_zxid, current_epoch),
            trace.next_round if trace is not None else None,
        )
        return d

    def update_election_vote(self, new_epoch: int) -> None:
        self.fle.update_election_vote(new_epoch)

    def set_state(self, state: ServerState) -> None:
        self.fle.set_state(state)

    @property
    def state(self) -> ServerState:
        return self.fle.state

    @property
    def current_vote(self) -> Vote | None:
        return self.fle.current_vote

    def stop(self) -> None:
        """FastLeaderElection.shutdown: no more timers, the pending Deferred is cancelled."""
        self.stopped = True
        self._cancel_timer()
        self.transport.set_receiver(None)
        d, self._deferred = self._deferred, None
        if d is not None and not d.called:
            d.cancel()

    def _cancelled(self, d: Deferred) -> None:
        self._deferred = None
        self._cancel_timer()
        self.fle.looking = False  # the round is abandoned; answers to peers go on
        self.fle.finalizing = False

    # ---------------------------------------------------------------- events in
    def _received(self, sid: int, payload: bytes) -> None:
        if self.stopped:
            return
        self._inbox.append((sid, payload))
        if not self._busy:
            self._step(None)

    def _step(self, event, label: str | None = None) -> None:
        """Run one event, then every message it looped back, one after the other."""
        self._busy = True
        try:
            if event is not None:
                self._run(event())
                if label is not None and tracelog.active is not None:
                    tracelog.active.record(label)
            while self._inbox and not self.stopped:
                self._handle(*self._inbox.popleft())
        finally:
            self._busy = False

    def _handle(self, sid: int, payload: bytes) -> None:
        try:
            n = decode_notification(payload, sid)
        except NotificationError as e:
            log.warning("Skipping a malformed notification from sid=%d: %s", sid, e)
            if sid != self.fle.my_sid:
                self.transport.drop(sid, str(e))
            return
        self._run(self.fle.handle_notification(n))
        if tracelog.active is not None:
            tracelog.active.record(
                "HandleNotification", j=sid, leader=n.leader, zxid=tracelog.zx(n.zxid),
                round=n.election_epoch, peerEpoch=n.peer_epoch, mstate=ServerState(n.state).name
                if n.state in (0, 1, 2, 3) else n.state,
            )  # fmt: skip

    def _fire(self) -> None:
        self._timer = None
        kind, self._timer_kind = self._timer_kind, None
        if self.stopped or kind is None:
            return
        self._step(
            lambda: self.fle.timer_fired(kind, self.transport.have_delivered()),
            "FinalizeElection" if kind == "finalize" else "ElectionTimeout",
        )

    # ---------------------------------------------------------------- decisions out
    def _run(self, actions: list) -> None:
        for a in actions:
            if isinstance(a, Send):
                payload = encode_notification(
                    a.state, a.leader, a.zxid, a.election_epoch, a.peer_epoch, self._config
                )
                self.transport.send(a.to, payload)
            elif isinstance(a, SetTimer):
                self._cancel_timer()
                self._timer_kind = a.kind
                self._timer = self.clock.callLater(a.delay_ms / 1000.0, self._fire)
            elif isinstance(a, CancelTimer):
                self._cancel_timer()
            elif isinstance(a, ConnectAll):
                self.transport.connect_all()
            elif isinstance(a, Decided):
                decision = Decision(a.vote, a.state)
                self.decisions.append(decision)
                d, self._deferred = self._deferred, None
                if d is not None:
                    d.callback(decision)

    def _cancel_timer(self) -> None:
        t, self._timer = self._timer, None
        self._timer_kind = None
        if t is not None and t.active():
            t.cancel()
