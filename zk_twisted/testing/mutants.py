"""Seeded bugs in zk_twisted's own code (implementation mutants), for tests only.

Each :class:`Mutant` is a small patch of one handler, re-creating a real ZooKeeper bug
where one applies, that the simulation's invariants (:mod:`.simulation`) or a targeted test
must catch (the catalogue and what catches each: :mod:`conformance.mutants`)::

    with mutant("trunc_skipped"):
        ...                      # every Learner skips the truncation TRUNC asks for

Why patches swapped in and out here rather than switches in the node code: the production
modules carry no test hook at all (no flag to check on every packet, nothing a zoo.cfg or
``-D`` property could turn on), and a mutant applies to every object of the patched class
in this process, so the simulation, a conformance runner, or a unit test of one core all
see it without being told.  The price: a mutated method is a copy of the real one with one
change, so when a handler changes its mutant must follow (the tests run the catalogue
against the unmutated code too, and each mutant must still be caught).

A patch is undone when the ``with`` block ends, even on an exception; mutants nest.  Not
thread-safe (the simulation and the cores run on one thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..election import fle
from ..quorum import epochs, leader, learner
from ..quorum.packets import PacketType, counter_of, epoch_of

__all__ = ["MUTANTS", "Mutant", "Patch", "active", "mutant"]


@dataclass(frozen=True)
class Patch:
    """Replace ``owner.name`` (or ``owner[name]`` when ``owner`` is a dict) by
    ``make(original)``; ``also``: more (owner, name) places that hold the same original
    and get the same replacement (a handler in its class and in a dispatch table)."""

    owner: object
    name: object
    make: Callable[[object], object]
    also: tuple[tuple[object, object], ...] = ()

    @property
    def places(self) -> tuple[tuple[object, object], ...]:
        return ((self.owner, self.name), *self.also)

    @staticmethod
    def get(owner, name):
        return owner[name] if isinstance(owner, dict) else getattr(owner, name)

    @staticmethod
    def put(owner, name, value) -> None:
        if isinstance(owner, dict):
            owner[name] = value
        else:
            setattr(owner, name, value)


@dataclass(frozen=True)
class Mutant:
    """One seeded bug: ``name``, what it does (``summary``), the ZooKeeper bug it re-creates
    (``bug``, or "" for a generic one) and the patches that make it."""

    name: str
    summary: str
    bug: str
    patches: tuple[Patch, ...]


_active: list[str] = []


def active() -> tuple[str, ...]:
    """The mutants applied now, outermost first."""
    return tuple(_active)


@contextmanager
def mutant(name: str) -> Iterator[Mutant]:
    """Apply the mutant ``name`` (a key of :data:`MUTANTS`) while the block runs."""
    m = MUTANTS[name]
    undo: list[tuple[object, object, object]] = []
    pushed = False
    try:
        for p in m.patches:
            replacement = p.make(Patch.get(p.owner, p.name))
            for owner, key in p.places:
                undo.append((owner, key, Patch.get(owner, key)))
                Patch.put(owner, key, replacement)
        _active.append(name)
        pushed = True
        yield m
    finally:
        if pushed:
            _active.pop()
        for owner, key, original in reversed(undo):
            Patch.put(owner, key, original)


def _handler(ptype: int, fname: str, make: Callable) -> tuple[Patch]:
    """A Learner handler is reached through the class and through the dispatch table."""
    return (Patch(learner.Learner, fname, make, also=((learner._HANDLERS, ptype),)),)


# ============================================================================ the mutants
def _follower_ack_before_fsync(_original):
    def _log_and_ack(self, p):
        self._log([p])
        if not self.observer:
            self._ack(p.zxid)  # MUTANT: ACKed as it is queued, not once durable
        self._drain()

    return _log_and_ack


def _leader_commit_without_quorum(_original):
    def process_ack(self, sid, zxid):
        if counter_of(zxid) == 0 or not self.outstanding or zxid <= self.last_committed:
            return
        p = self.outstanding.get(zxid)
        if p is None:
            return
        if sid is not None:
            p.acks.add(sid)
        if zxid - 1 in self.outstanding:  # MUTANT: no contains_quorum(p.acks)
            return
        self._commit(p)

    return process_ack


def _accept_older_epoch_check_order(_original):
    def _check_order(self, pkt):
        z = pkt.zxid
        hdr_zxid = learner.P.txn_zxid(pkt.data)
        if hdr_zxid != z:
            raise learner.ProtocolError(f"txn header zxid 0x{hdr_zxid:x} in packet 0x{z:x}")
        if z <= self.last_queued:
            if (
                self.sync_mode == PacketType.SNAP
                and self.sync_stage == learner.SYNCING
                and z <= self.sync_commit
            ):
                return False
            raise learner.ProtocolError(f"txn 0x{z:x} does not follow 0x{self.last_queued:x}")
        if epoch_of(z) > self.new_epoch:
            raise learner.ProtocolError(f"txn 0x{z:x} from an epoch after the leader's {self.new_epoch}")
        # MUTANT: no "PROPOSAL from an older epoch" check after NEWLEADER
        self.last_queued = z
        return True

    return _check_order


def _accept_older_epoch_proposal(_original):
    def handle_PROPOSAL(self, pkt):  # noqa: N802 - the handler's name
        if self.observer and self.zab_state == learner.BROADCAST:
            raise self._illegal(pkt)
        if self._in_sync():
            if not self._check_order(pkt):
                return
            p = learner.Proposal(pkt.zxid, pkt.data)
            self.sync_proposals.append(p)
            if self.newleader_zxid is not None:
                self._log_and_ack(p)
            return
        if self.zab_state != learner.BROADCAST:
            raise self._illegal(pkt)
        # MUTANT: no "not of the leader's epoch" check
        self._check_order(pkt)
        p = learner.Proposal(pkt.zxid, pkt.data)
        self.pending.append(p)
        self._log_and_ack(p)

    return handle_PROPOSAL


def _trunc_skipped(_original):
    def handle_TRUNC(self, pkt):  # noqa: N802
        self._expect_sync_packet(pkt)
        # MUTANT: env.truncate_log(pkt.zxid) never called; the log keeps its tail
        self.sync_mode = PacketType.TRUNC
        self.last_queued = self.sync_commit = pkt.zxid
        self.sync_stage = learner.SYNCING

    return handle_TRUNC


def _current_epoch_first(original):
    def handle_NEWLEADER(self, pkt):  # noqa: N802
        if (
            self.sync_stage == learner.SYNCING
            and self.newleader_zxid is None
            and epoch_of(pkt.zxid) == self.new_epoch
        ):
            # MUTANT (3.8's order): currentEpoch written before the synced txns are logged
            self.env.write_current_epoch(epoch_of(pkt.zxid))
            self.current_epoch = epoch_of(pkt.zxid)
        original(self, pkt)

    return handle_NEWLEADER


def _newleader_ack_first(_original):
    def handle_NEWLEADER(self, pkt):  # noqa: N802
        if self.sync_stage != learner.SYNCING or self.newleader_zxid is not None:
            raise self._illegal(pkt)
        if epoch_of(pkt.zxid) != self.new_epoch:
            raise learner.ProtocolError(f"NEWLEADER 0x{pkt.zxid:x} of another epoch than {self.new_epoch}")
        self.newleader_zxid = pkt.zxid
        self.newleader_data = pkt.data
        if self.sync_mode in (PacketType.SNAP,):
            self.env.save_snapshot()
        to_log = list(self.sync_proposals)
        uncommitted = [] if self.observer else [p.zxid for p in to_log if p.zxid > self.sync_commit]
        # MUTANT (3.8.0's order): ACK(NEWLEADER) and the proposals' ACKs go out now, the
        # txns are logged after (currentEpoch still waits for them: a separate mutant)
        self._ack(pkt.zxid)
        for z in uncommitted:
            self._ack(z)
        self.sync_stage = learner.NEWLEADER_ACKED
        self._log(to_log)
        need = to_log[-1].zxid if to_log else None

        def write_epoch():
            self.env.write_current_epoch(epoch_of(pkt.zxid))
            self.current_epoch = epoch_of(pkt.zxid)

        self._after_durable.append((need, write_epoch))
        self._drain()

    return handle_NEWLEADER


def _record_before_apply(_original):
    def _apply(self, p):
        self.last_committed = p.zxid  # MUTANT: recorded before it is applied (ZOOKEEPER-2355)
        self.env.commit(p.zxid, p.data, None)

    return _apply


def _votes_without_peer_epoch(_original):
    def _better(self, leader_, zxid, epoch, cur_leader, cur_zxid, cur_epoch):
        if self.verifier.weight(leader_) == 0:
            return False
        return (zxid, leader_) > (cur_zxid, cur_leader)  # MUTANT: peerEpoch not compared

    return _better


def _write_in_place(_original):
    def write_file_durably(io, path, data, fsync=True):
        fd = io.create(path)  # MUTANT: truncated in place, no temp file and rename
        try:
            io.pwrite_all(fd, data, 0)
            if fsync:
                io.fsync(fd)
        finally:
            io.close(fd)

    return write_file_durably


def _keep_stale_acks(_original):
    def _forget(self, h):
        h.closed = True
        h.phase = leader.LH.NONE
        self.handlers.pop(h.peer, None)
        # MUTANT (3.8's Leader.removeLearnerHandler): the learner's ACKs keep counting,
        # though its next sync may TRUNCate what it ACKed

    return _forget


_CATALOGUE = [
    Mutant(
        "follower_ack_before_fsync",
        "a follower ACKs a broadcast PROPOSAL when it queues it for the log, before the fsync",
        "",
        (Patch(learner.Learner, "_log_and_ack", _follower_ack_before_fsync),),
    ),
    Mutant(
        "leader_commit_without_quorum",
        "the leader commits a proposal on the first ACK (its own), without a quorum",
        "",
        (Patch(leader.Leader, "process_ack", _leader_commit_without_quorum),),
    ),
    Mutant(
        "follower_accepts_older_epoch_proposal",
        "a follower logs and ACKs a PROPOSAL of an epoch older than its leader's",
        "",
        (
            Patch(learner.Learner, "_check_order", _accept_older_epoch_check_order),
            *_handler(PacketType.PROPOSAL, "handle_PROPOSAL", _accept_older_epoch_proposal),
        ),
    ),
    Mutant(
        "trunc_skipped",
        "a follower told to TRUNC keeps its log's tail (the truncation is skipped)",
        "",
        _handler(PacketType.TRUNC, "handle_TRUNC", _trunc_skipped),
    ),
    Mutant(
        "current_epoch_before_sync_durable",
        "at NEWLEADER a follower writes currentEpoch before the synced txns are on disk",
        "ZOOKEEPER-4394 / 4643 / 4646",
        _handler(PacketType.NEWLEADER, "handle_NEWLEADER", _current_epoch_first),
    ),
    Mutant(
        "record_zxid_before_apply",
        "a follower records a committed zxid (lastCommitted) before the txn is applied",
        "ZOOKEEPER-2355",
        (Patch(learner.Learner, "_apply", _record_before_apply),),
    ),
    Mutant(
        "votes_without_peer_epoch",
        "the election orders votes by (zxid, sid), without peerEpoch",
        "ZOOKEEPER-1419",
        (Patch(fle.FastLeaderElection, "_better", _votes_without_peer_epoch),),
    ),
    Mutant(
        "non_atomic_epoch_file",
        "an epoch file is rewritten in place (truncate, write, fsync): no temp file, no rename",
        "ZOOKEEPER-1653",
        (Patch(epochs, "write_file_durably", _write_in_place),),
    ),
    Mutant(
        "leader_keeps_stale_acks",
        "a leader keeps counting the ACKs of a learner whose connection closed (it may come back TRUNCated)",
        "3.8 Leader.removeLearnerHandler (spec mutant zk38_stale_acks)",
        (Patch(leader.Leader, "_forget", _keep_stale_acks),),
    ),
    Mutant(
        "newleader_ack_before_sync_logged",
        "a follower ACKs NEWLEADER (and the synced proposals) before the synced txns are logged",
        "ZOOKEEPER-4685 / 4712",
        _handler(PacketType.NEWLEADER, "handle_NEWLEADER", _newleader_ack_first),
    ),
]

#: name -> Mutant, in catalogue order
MUTANTS: dict[str, Mutant] = {m.name: m for m in _CATALOGUE}
