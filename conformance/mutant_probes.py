"""Probes for the implementation mutants no schedule reaches (:mod:`conformance.mutants`):
one handler driven directly, with its environment recorded.  A probe raises
:class:`ProbeFailed` when the handler misbehaves, and passes on the unmutated code.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from zk_twisted.persistence.diskio import DiskIO
from zk_twisted.quorum import epochs as epoch_files
from zk_twisted.quorum.learner import Learner
from zk_twisted.quorum.packets import PacketType, int_payload, make_zxid, packet

__all__ = ["PROBES", "ProbeFailed"]


class ProbeFailed(AssertionError):
    """A probe's check failed: the handler under test misbehaved."""


def _txn(zxid: int) -> bytes:
    """A PROPOSAL's data: a setData txn whose header carries ``zxid``."""
    from zk_twisted.constants import OpCode
    from zk_twisted.jute import records as R
    from zk_twisted.server.txn import encode_txn

    hdr = R.TxnHeader(0x1234, 1, zxid, 1000, OpCode.setData)
    return encode_txn(hdr, R.SetDataTxn("/v", b"1", 1))


class _LearnerEnv:
    """What a Learner core asks of its role, recorded (no disk, no network)."""

    def __init__(self, last_zxid: int) -> None:
        self.sent: list = []
        self.logged: list[int] = []
        self.applied: list[int] = []
        self.ended: str | None = None
        self.last = last_zxid
        self.current_epoch = self.accepted_epoch = epoch_of_(last_zxid)
        self.fail_apply = False

    def send(self, peer, pkt) -> None:
        self.sent.append((pkt.type, pkt.zxid))

    def close(self, peer) -> None:
        pass

    def role_ended(self, reason) -> None:
        self.ended = reason

    def write_accepted_epoch(self, e) -> None:
        self.accepted_epoch = e

    def write_current_epoch(self, e) -> None:
        self.current_epoch = e

    def last_logged_zxid(self) -> int:
        return self.last

    def log(self, entries) -> None:
        self.logged += [z for z, _ in entries]

    def commit(self, zxid, data, request) -> None:
        if self.fail_apply:
            raise OSError("the database could not apply the txn")
        self.applied.append(zxid)

    def serving(self, epoch) -> None:
        pass

    def truncate_log(self, zxid) -> bool:
        return True

    def load_snapshot(self, snapshot, zxid) -> None:
        pass

    def save_snapshot(self) -> None:
        pass

    def touches(self):
        return []


def epoch_of_(zxid: int) -> int:
    return zxid >> 32


def _following(last_zxid: int, epoch: int) -> tuple[Learner, _LearnerEnv]:
    """A follower in broadcast of ``epoch``, synced by DIFF from ``last_zxid``."""
    env = _LearnerEnv(last_zxid)
    f = Learner(2, "leader", env, accepted_epoch=env.accepted_epoch, current_epoch=env.current_epoch)
    f.connected()
    f.receive(packet(PacketType.LEADERINFO, make_zxid(epoch, 0), int_payload(0x10000)))
    f.receive(packet(PacketType.DIFF, last_zxid))
    f.receive(packet(PacketType.NEWLEADER, make_zxid(epoch, 0)))
    f.receive(packet(PacketType.UPTODATE, -1))
    if f.zab_state != "BROADCAST":
        raise RuntimeError(f"the probe's follower did not reach broadcast: {f}")
    return f, env


def probe_older_epoch_proposal() -> None:
    """A follower of epoch 3, synced to 0x200000005, gets PROPOSAL 0x200000006 (epoch 2):
    it must end the role, neither logging nor ACKing it."""
    f, env = _following(make_zxid(2, 5), 3)
    z = make_zxid(2, 6)
    f.receive(packet(PacketType.PROPOSAL, z, _txn(z)))
    f.logged(z)
    if z in env.logged or (PacketType.ACK, z) in env.sent:
        raise ProbeFailed(f"PROPOSAL 0x{z:x} of epoch 2 logged by a follower of epoch 3")
    if env.ended is None:
        raise ProbeFailed("a PROPOSAL of an older epoch did not end the follower's role")


def probe_record_before_apply() -> None:
    """A COMMIT whose txn fails to apply: lastCommitted must not name it (ZOOKEEPER-2355)."""
    f, env = _following(make_zxid(1, 5), 2)
    z = make_zxid(2, 1)
    f.receive(packet(PacketType.PROPOSAL, z, _txn(z)))
    f.logged(z)
    env.fail_apply = True
    try:
        f.receive(packet(PacketType.COMMIT, z))
    except OSError:
        pass
    if f.last_committed >= z:
        raise ProbeFailed(f"lastCommitted 0x{f.last_committed:x} names a txn that was never applied")


class _PowerCut(BaseException):
    """The power goes: raised by :class:`_CutDisk` at its n-th file operation."""


class _CutDisk(DiskIO):
    """The real disk, until the power goes just before the ``cut``-th primitive operation
    (what the process did before it is on disk: no page cache between this test and it)."""

    def __init__(self, cut: int) -> None:
        self.cut, self.ops = cut, 0

    def _op(self) -> None:
        self.ops += 1
        if self.ops == self.cut:
            raise _PowerCut()

    def create(self, path, mode=0o644):
        self._op()
        return super().create(path, mode)

    def pwrite(self, fd, data, offset):
        self._op()
        return super().pwrite(fd, data, offset)

    def fsync(self, fd):
        self._op()

    def rename(self, src, dst):
        self._op()
        return super().rename(src, dst)

    def fsync_dir(self, directory):
        self._op()


def probe_epoch_file_power_cut() -> None:
    """currentEpoch 4 rewritten as 5 with the power cut before each file operation in turn:
    every cut must leave a data dir whose epoch reads 4 or 5 (QuorumPeer start-up)."""
    root = Path(tempfile.mkdtemp(prefix="zk_twisted-mutant-epoch-"))
    try:
        for cut in range(1, 12):
            d = root / f"cut{cut}"
            d.mkdir()
            epoch_files.EpochFiles(d).set_current_epoch(4)
            disk = _CutDisk(cut)
            try:
                epoch_files.EpochFiles(d, io=disk).set_current_epoch(5)
            except _PowerCut:
                pass
            try:
                value = epoch_files.EpochFiles(d).read(epoch_files.CURRENT_EPOCH)
            except epoch_files.EpochFileError as e:
                raise ProbeFailed(f"power cut before file operation {cut}: {e}") from None
            if value not in (4, 5):
                raise ProbeFailed(f"power cut before file operation {cut}: currentEpoch reads {value}")
            if disk.ops < cut:
                break  # the write finished before the cut: every point was tried
    finally:
        shutil.rmtree(root, ignore_errors=True)


#: name -> probe (raises ProbeFailed when the handler misbehaves)
PROBES: dict[str, Callable[[], None]] = {
    "older_epoch_proposal": probe_older_epoch_proposal,
    "record_before_apply": probe_record_before_apply,
    "epoch_file_power_cut": probe_epoch_file_power_cut,
}
