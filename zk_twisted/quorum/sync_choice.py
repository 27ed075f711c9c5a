"""How a leader brings a learner up to date: LearnerHandler.syncFollower as a pure function.

Given the learner's last zxid (its ACKEPOCH zxid) and what the leader holds (its last
processed zxid, the committedLog window, optionally the on-disk txn log), choose DIFF,
TRUNC or SNAP exactly as ZooKeeper 3.8 does (QUORUM_NOTES.md section 5, rules a-f), and
list the packets that go out before NEWLEADER: the DIFF / TRUNC packet and the
PROPOSAL + COMMIT pairs of what the learner lacks.  For a SNAP the plan holds only the
SNAP packet: the serialized database follows it on the wire (the shell writes it).

Nothing here does I/O; the txn log is read through the :class:`TxnLogReader` callable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..config import DEFAULT_COMMIT_LOG_COUNT, DEFAULT_SNAPSHOT_SIZE_FACTOR
from ..jute import records as R
from .packets import PacketType, epoch_of, packet


@dataclass(frozen=True, slots=True)
class Proposal:
    """A committed txn as the leader ships it: zxid and the PROPOSAL data
    (Util.marshallTxnEntry: TxnHeader + txn + TxnDigest, the bytes the txn log stores)."""

    zxid: int
    data: bytes


class CommittedLog:
    """ZKDatabase.committedLog: the most recent committed proposals, for fast sync.

    3.8 drops the oldest entry only once the deque holds *more* than commitLogCount, before
    adding: so it keeps up to commitLogCount + 1 proposals (501 by default).  We keep the
    same number, since it decides which learners get a DIFF and which a SNAP.  ``count`` is
    taken as given: 3.8's floor of 500 applies where the property is read (``ZKConfig``).
    """

    def __init__(self, count: int = DEFAULT_COMMIT_LOG_COUNT, proposals: Iterable[Proposal] = ()) -> None:
        self.count = count
        self.proposals: deque[Proposal] = deque()
        for p in proposals:
            self.add(p)

    def add(self, proposal: Proposal) -> None:
        q = self.proposals
        if len(q) > self.count:
            q.popleft()
        q.append(proposal)

    @property
    def min_zxid(self) -> int:
        return self.proposals[0].zxid if self.proposals else 0

    @property
    def max_zxid(self) -> int:
        return self.proposals[-1].zxid if self.proposals else 0

    def __iter__(self) -> Iterator[Proposal]:
        return iter(self.proposals)

    def __len__(self) -> int:
        return len(self.proposals)


@dataclass
class TxnLogSlice:
    """What FileTxnSnapLog.readTxnLog(start) gives: the proposals from the first txn with
    zxid >= start, in order, and the storage size (bytes, preallocation included) of the
    log files after the first one they come from (FileTxnIterator.getStorageSize counts
    only the files it has not opened yet)."""

    first_zxid: int | None
    storage_size: int
    proposals: Iterable[Proposal]


#: reads the txn log from a zxid; None when there is no log at all
TxnLogReader = Callable[[int], "TxnLogSlice | None"]


@dataclass
class SyncPlan:
    """The outcome of :func:`sync_follower`.

    ``kind``: PacketType.DIFF, TRUNC or SNAP; ``zxid``: that packet's zxid; ``packets``:
    what to queue in order (the DIFF / TRUNC first, then PROPOSAL + COMMIT pairs; for SNAP
    the SNAP packet alone); ``last_queued``: the zxid the leader passes to startForwarding
    (outstanding proposals after it follow); ``rule``: which of QUORUM_NOTES section 5's
    rules decided (a-f, for logs and tests).
    """

    kind: int
    zxid: int
    packets: list = field(default_factory=list)
    last_queued: int = 0
    rule: str = ""

    @property
    def is_snap(self) -> bool:
        return self.kind == PacketType.SNAP


class _Queue:
    """LearnerHandler's queuedPackets + needOpPacket while the choice is made."""

    def __init__(self) -> None:
        self.packets: list[R.QuorumPacket] = []
        self.need_op = True
        self.op: tuple[int, int] | None = None

    def op_packet(self, ptype: int, zxid: int) -> None:
        self.packets.append(packet(ptype, zxid))
        self.op = (ptype, zxid)
        self.need_op = False

    def pair(self, p: Proposal) -> None:
        self.packets.append(packet(PacketType.PROPOSAL, p.zxid, p.data))
        self.packets.append(packet(PacketType.COMMIT, p.zxid))

    def clear(self) -> None:
        self.packets.clear()
        self.op = None
        self.need_op = True


def _queue_committed(
    q: _Queue, proposals: Iterable[Proposal], peer: int, max_zxid: int | None, last_committed: int
) -> int:
    """LearnerHandler.queueCommittedProposals: queue (peer, max_zxid]; returns the last
    zxid queued.  The first proposal at or after ``peer`` decides DIFF / TRUNC when no op
    packet is queued yet; a TRUNC that would cross an epoch returns early (a SNAP)."""
    new_epoch_peer = (peer & 0xFFFFFFFF) == 0
    queued = peer
    prev = -1
    for p in proposals:
        z = p.zxid
        if max_zxid is not None and z > max_zxid:
            break
        if z < peer:
            prev = z
            continue
        if q.need_op:
            if z == peer:
                q.op_packet(PacketType.DIFF, last_committed)
                continue
            if new_epoch_peer:
                q.op_packet(PacketType.DIFF, last_committed)
            elif z > peer:
                if epoch_of(z) != epoch_of(peer):
                    return queued  # no TRUNC across an epoch: the caller falls back to SNAP
                q.op_packet(PacketType.TRUNC, prev)
        if z <= queued:
            continue
        q.pair(p)
        queued = z
    if q.need_op and new_epoch_peer:
        q.op_packet(PacketType.DIFF, last_committed)
    return queued


def sync_follower(
    peer_zxid: int,
    last_processed: int,
    committed_log: Iterable[Proposal],
    *,
    txn_log: TxnLogReader | None = None,
    snapshot_size: int = 0,
    snapshot_size_factor: float = DEFAULT_SNAPSHOT_SIZE_FACTOR,
    force_snap: bool = False,
) -> SyncPlan:
    """Choose DIFF / TRUNC / SNAP for a learner whose last zxid is ``peer_zxid``.

    ``last_processed`` is the leader's ZKDatabase lastProcessedZxid; ``committed_log`` its
    committedLog window (ascending); ``txn_log`` reads the on-disk log (rule e), with
    ``snapshot_size`` the size of the newest snapshot file: the log is used only if the
    files to read are at most ``snapshot_size * snapshot_size_factor`` bytes (0: no limit,
    as 3.8 when it finds no snapshot), and not at all with a negative factor.
    """
    window = list(committed_log)
    if window:
        min_c, max_c = window[0].zxid, window[-1].zxid
    else:
        min_c = max_c = last_processed
    new_epoch_peer = (peer_zxid & 0xFFFFFFFF) == 0
    q = _Queue()
    current = peer_zxid
    need_snap = True
    rule = "f"
    if force_snap:
        rule = "a"
    elif last_processed == peer_zxid:
        rule = "b"
        q.op_packet(PacketType.DIFF, peer_zxid)
        need_snap = False
    elif peer_zxid > max_c and not new_epoch_peer:
        rule = "c"
        q.op_packet(PacketType.TRUNC, max_c)
        current = max_c
        need_snap = False
    elif min_c <= peer_zxid <= max_c:
        rule = "d"
        current = _queue_committed(q, window, peer_zxid, None, max_c)
        need_snap = False
    elif peer_zxid < min_c and snapshot_size_factor >= 0 and txn_log is not None:
        rule = "e"
        size_limit = int(snapshot_size * snapshot_size_factor)
        proposals = _txn_log_proposals(txn_log, peer_zxid, size_limit)
        if proposals is not None:
            current = _queue_committed(q, proposals, peer_zxid, min_c, max_c)
            if current < min_c:
                # a gap between the end of the txn log and the committedLog
                current = peer_zxid
                q.clear()
            else:
                current = _queue_committed(q, window, current, None, max_c)
                need_snap = False
    if need_snap:
        current = last_processed
    if q.need_op and not need_snap:
        need_snap = True  # rule d across an epoch: 3.8 falls back to a snapshot
    if need_snap:
        return SyncPlan(
            PacketType.SNAP, last_processed, [packet(PacketType.SNAP, last_processed)], current, rule
        )
    kind, zxid = q.op
    return SyncPlan(kind, zxid, q.packets, current, rule)


def _txn_log_proposals(txn_log: TxnLogReader, peer: int, size_limit: int) -> Iterator[Proposal] | None:
    """ZKDatabase.getProposalsFromTxnLog: None when the log cannot serve ``peer``."""
    if size_limit < 0:
        return None
    sl = txn_log(peer)
    if sl is None or sl.first_zxid is None or sl.first_zxid > peer:
        return None  # the log does not hold the learner's last txn: cannot tell it is a prefix
    if size_limit > 0 and sl.storage_size > size_limit:
        return None
    it = iter(sl.proposals)
    first = next(it, None)
    if first is None:
        return None

    def chained() -> Iterator[Proposal]:
        yield first
        yield from it

    return chained()
