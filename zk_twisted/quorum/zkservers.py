"""The request chains of an ensemble member (LeaderZooKeeperServer, Follower/Observer ZooKeeperServer).

Standalone, a txn is committed as soon as it is durable: Prep -> Sync -> Final.  In an
ensemble, durable and committed come apart:

* **leader**: Prep -> Proposal (-> Sync -> Ack) -> Commit -> ToBeApplied -> Final.  Each
  prepared txn is handed to the ZAB leader core (:class:`Broadcaster`) as a PROPOSAL and logged
  locally; the local fsync is the leader's own ACK; the core says when a quorum committed it,
  and only then is it applied and answered.  Learners' requests (REQUEST packets) enter the
  same chain with no connection to answer.
* **follower / observer**: FollowerRequestProcessor -> CommitProcessor -> Final.  Writes and
  ``sync`` go to the leader (REQUEST); the leader's PROPOSALs are logged (the follower core
  ACKs them once durable) and applied at COMMIT (INFORM for an observer); a committed txn that
  a local client asked for is answered here, in that session's order, and reads of the
  session wait behind it.

Sans-IO like the standalone server: the ZAB cores (``leader.Leader``, ``learner.Learner``)
are reached through the small :class:`Broadcaster` / :class:`LeaderLink` protocols below;
the role shells (``roles.py``) join the two.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

from ..constants import Code, KeeperError, Op
from ..server.request import TXN_TYPES, Request
from ..server.sessions import SessionTracker
from ..server.txn import decode_txn_entry, encode_txn
from ..server.zkserver import ZooKeeperServer

log = logging.getLogger(__name__)

#: what a learner sends to its leader rather than answering itself
_FORWARDED = TXN_TYPES | frozenset((Op.sync,))


class Broadcaster(Protocol):
    """What the leader's chain needs of the ZAB leader core (zk_twisted.quorum.leader.Leader)."""

    def propose(self, zxid: int, data: bytes, request=None) -> None:
        """PROPOSAL(zxid, data) to the followers; the core has the txn logged (its env.log)
        and commits it once a quorum ACKed, the leader's own ACK counted at :meth:`logged`."""

    def logged(self, zxid: int) -> None:
        """The leader's own log holds every txn up to ``zxid``."""


class LeaderLink(Protocol):
    """What a learner's chain needs of the Learner core and its connection to the leader."""

    def forward(self, req: Request) -> None:
        """REQUEST(sessionId, cxid, type, body; the client's auth ids) to the leader."""

    def logged(self, zxid: int) -> None:
        """Every proposal up to ``zxid`` is durable here (a follower then ACKs)."""

    def revalidate(self, session_id: int, timeout: int, done) -> None:
        """REVALIDATE; ``done(valid: bool)`` when the leader answered."""


class LearnerSessionTracker(SessionTracker):
    """A learner's view of the global sessions: it never expires one (the leader does), and
    remembers which were touched since the last PING, so the PING can carry them."""

    def __init__(self, tick_time: int, server_id: int, now: int) -> None:
        super().__init__(tick_time, server_id, now)
        self.touched: dict[int, int] = {}

    def touch(self, session_id: int, timeout: int, now: int) -> bool:
        if super().touch(session_id, timeout, now):
            self.touched[session_id] = timeout
            return True
        return False

    def take_touches(self) -> dict[int, int]:
        """Sessions touched since the last call (what the next PING reports)."""
        touched, self.touched = self.touched, {}
        return touched

    def expire_due(self, now: int) -> list:
        return []


#: the owner of sessions whose clients are connected to the leader itself (ServerCnxn.me)
LOCAL = "leader"


class LeaderSessionTracker(SessionTracker):
    """The leader's session tracker: it also knows which member each session is attached
    to, so a request a member forwards for a session that moved elsewhere (REVALIDATE on
    another member) fails with SESSIONMOVED, as 3.8's SessionTrackerImpl.checkSession."""

    #: who the request being prepared comes from (a learner's sid, LOCAL), None: internal
    current_owner = None

    def check(self, session_id: int, owner=None) -> None:
        s = self.sessions.get(session_id)
        if s is None or s.closing:
            raise KeeperError(Code.SESSIONEXPIRED)
        owner = self.current_owner if owner is None else owner
        if owner is None:
            return
        if s.owner is None:
            s.owner = owner
        elif s.owner != owner:
            raise KeeperError(Code.SESSIONMOVED)

    def set_owner(self, session_id: int, owner) -> None:
        super().set_owner(session_id, self.current_owner if self.current_owner is not None else owner)


def proposal_data(req: Request) -> bytes:
    """PROPOSAL data: Util.marshallTxnEntry (TxnHeader, txn, TxnDigest), as the log holds it."""
    return encode_txn(req.hdr, req.txn, req.digest)


class LeaderZooKeeperServer(ZooKeeperServer):
    """The leader's chain.  ``broadcaster`` is set once the ZAB leader core exists."""

    def __init__(self, settings, db, clock, sync_factory=None, broadcaster: Broadcaster | None = None) -> None:
        super().__init__(settings, db, clock, sync_factory)
        now = self.now_ms()
        tracker = LeaderSessionTracker(settings.tick_time, settings.session_server_id, now)
        for sid, timeout in db.sessions_with_timeouts.items():
            tracker.track_session(sid, timeout, now)
        self.sessions = tracker
        self.broadcaster = broadcaster
        #: proposals not yet committed, zxid -> request (Proposal -> Commit)
        self.proposed: dict[int, Request] = {}
        #: local ``sync`` requests waiting for the last proposal outstanding when they came
        self.pending_syncs: deque[tuple[int, Request]] = deque()

    def start_epoch(self, epoch: int) -> None:
        """Number this epoch's txns from ``epoch << 32`` (the NEWLEADER zxid)."""
        self.zxid = epoch << 32

    def submit(self, req: Request) -> None:
        if req.type == Op.sync and self.proposed:
            # Leader.processSync: answered once what was proposed before it has committed
            last = max(self.proposed)
            self.pending_syncs.append((last, req))
            return
        self._submit_as(LOCAL if req.cnxn is not None else None, req)

    def _submit_as(self, owner, req: Request) -> None:
        tracker = self.sessions
        tracker.current_owner = owner
        try:
            super().submit(req)
        finally:
            tracker.current_owner = None

    def submit_learner_request(
        self, session_id: int, cxid: int, op: int, body: bytes, auth_ids: tuple = (), owner=None
    ) -> None:
        """A REQUEST from learner ``owner``: prepared and proposed like a local write,
        answered there."""
        now = self.now_ms()
        req = Request(None, session_id, cxid, op, body, auth_ids, now)
        if op != Op.createSession:
            s = self.sessions.sessions.get(session_id)
            if s is not None:  # (not timeouts(): a dict of every session per request)
                self.sessions.touch(session_id, s.timeout, now)
        self._submit_as(owner, req)

    def revalidate_session(self, cnxn, session_id: int, timeout: int, passwd_ok: bool, now: int) -> None:
        """A client reconnecting here: its session now belongs to the leader's connections."""
        if passwd_ok and session_id in self.sessions:
            self.sessions.set_owner(session_id, LOCAL)
        super().revalidate_session(cnxn, session_id, timeout, passwd_ok, now)

    def revalidate_learner_session(self, learner_sid: int, session_id: int, timeout: int) -> bool:
        """Leader.revalidateSession: valid if alive; the session now belongs to that learner."""
        valid = self.sessions.touch(session_id, timeout, self.now_ms())
        if valid:
            self.sessions.sessions[session_id].owner = learner_sid
        return valid

    def log_txn(self, req: Request) -> None:
        """Proposal: the leader core sends it to the followers and has it logged here
        (:meth:`log_proposed`); its fsync is the leader's own ACK."""
        zxid = req.hdr.zxid
        self.proposed[zxid] = req
        req.txn_bytes = data = proposal_data(req)
        self.broadcaster.propose(zxid, data, req)

    def log_proposed(self, zxid: int) -> None:
        """The core's env.log for a txn it proposed: into the local Sync stage."""
        self.sync.process(self.proposed[zxid])

    def commit(self, reqs) -> None:
        """The Sync stage: these are in the leader's log; that is its ACK, not a commit."""
        if reqs:
            self.broadcaster.logged(reqs[-1].hdr.zxid)

    def committed(self, zxids) -> None:
        """The leader core: a quorum ACKed these (in zxid order): apply and answer them."""
        reqs = [self.proposed.pop(z) for z in zxids]
        self.apply_committed(reqs)
        if self.pending_syncs:
            top = zxids[-1]
            while self.pending_syncs and self.pending_syncs[0][0] <= top:
                super().submit(self.pending_syncs.popleft()[1])


class LearnerZooKeeperServer(ZooKeeperServer):
    """A follower's or an observer's chain (the Learner core decides who ACKs).  ``link`` is
    the learner's way to the leader."""

    def __init__(self, settings, db, clock, sync_factory=None, link: LeaderLink | None = None) -> None:
        super().__init__(settings, db, clock, sync_factory)
        self.link = link
        now = self.now_ms()
        tracker = LearnerSessionTracker(settings.tick_time, settings.session_server_id, now)
        for sid, timeout in db.sessions_with_timeouts.items():
            tracker.track_session(sid, timeout, now)
        self.sessions = tracker
        #: proposals logged or being logged, waiting for their COMMIT (zxid order)
        self.pending_txns: deque[Request] = deque()
        #: local ``sync`` requests sent to the leader, oldest first
        self.pending_syncs: deque[Request] = deque()

    # ------------------------------------------------------------------ client side
    def submit(self, req: Request) -> None:
        """FollowerRequestProcessor: writes and sync go to the leader; reads are served here,
        behind any write of the same session still in flight (CommitProcessor)."""
        queue = self.waiting.get(req.session_id)
        if req.type in _FORWARDED:
            if queue is None:
                self.waiting[req.session_id] = deque((req,))
            else:
                queue.append(req)
            if req.type == Op.sync:
                self.pending_syncs.append(req)
            self.link.forward(req)
        elif queue:
            queue.append(req)
        else:
            self.final.process(req)

    def revalidate_session(self, cnxn, session_id: int, timeout: int, passwd_ok: bool, now: int) -> None:
        """Learner.validateSession: the leader decides whether a moved session is valid."""
        if not passwd_ok:
            self.finish_session_init(cnxn, False)
            return

        def done(valid: bool) -> None:
            if valid:
                self.sessions.track_session(session_id, timeout, self.now_ms())
            if not cnxn.closing:
                self.finish_session_init(cnxn, valid)

        self.link.revalidate(session_id, timeout, done)

    # ------------------------------------------------------------------ leader side
    def log_proposal(self, data: bytes) -> None:
        """The core's env.log: a PROPOSAL (or a txn of the sync) into the log; it is applied
        at its commit (:meth:`committed`), in the same order."""
        hdr, txn, digest, exact = decode_txn_entry(data)
        req = Request(None, hdr.clientId, hdr.cxid, hdr.type, b"", None, self.now_ms())
        req.hdr, req.txn, req.digest, req.zxid = hdr, txn, digest, hdr.zxid
        if exact:  # logged as received (FollowerZooKeeperServer.logRequest re-encodes them)
            req.txn_bytes = data
        self.pending_txns.append(req)
        self.sync.process(req)

    def commit(self, reqs) -> None:
        """The Sync stage: durable here (a follower's core then ACKs: SendAckRequestProcessor)."""
        if reqs:
            self.link.logged(reqs[-1].hdr.zxid)

    def committed(self, zxid: int) -> None:
        """COMMIT(zxid): apply the head proposal; answer it if a local client asked for it."""
        pending = self.pending_txns
        if not pending or pending[0].hdr.zxid != zxid:
            head = f"0x{pending[0].hdr.zxid:x}" if pending else "none"
            raise ValueError(f"COMMIT of 0x{zxid:x} is not the next pending proposal ({head})")
        txn_req = pending.popleft()
        self.apply_committed([self._local_request(txn_req)])

    def synced(self) -> None:
        """SYNC from the leader: answer the oldest local ``sync``."""
        if not self.pending_syncs:
            log.warning("SYNC from the leader with no sync outstanding")
            return
        req = self.pending_syncs.popleft()
        queue = self.waiting.get(req.session_id)
        if queue is None or queue[0] is not req:
            raise ValueError(f"SYNC for {req!r} out of session order")
        queue.popleft()
        self.final.process(req)
        self._drain(req.session_id, queue)

    def _local_request(self, txn_req: Request) -> Request:
        """The local client's request this committed txn answers, else the txn itself."""
        queue = self.waiting.get(txn_req.session_id)
        if queue:
            head = queue[0]
            if head.cxid == txn_req.cxid and head.type in TXN_TYPES and head.hdr is None:
                head.hdr, head.txn, head.digest = txn_req.hdr, txn_req.txn, txn_req.digest
                head.zxid = txn_req.zxid
                return head
        return _Remote(txn_req)

    def apply_committed(self, reqs) -> None:
        for req in reqs:
            if isinstance(req, _Remote):
                self.final.process(req.req)
            else:
                queue = self.waiting[req.session_id]
                queue.popleft()
                self.final.process(req)
                self._drain(req.session_id, queue)
        self.db.verify_digest()

    def _drain(self, session_id: int, queue: deque) -> None:
        """Answer the reads that waited behind the request just answered."""
        final = self.final
        while queue and queue[0].type not in _FORWARDED:
            final.process(queue.popleft())
        if not queue:
            del self.waiting[session_id]

    def apply(self, req: Request):
        rc = super().apply(req)
        if req.hdr.type == Op.createSession:
            self.sessions.track_session(req.hdr.clientId, req.txn.timeOut, self.now_ms())
        return rc


class _Remote:
    """A committed txn nobody here waits for (another member's client, or the leader's own)."""

    __slots__ = ("req",)

    def __init__(self, req: Request) -> None:
        self.req = req
