"""Durability proven at the fsync: a power loss at any moment loses no acknowledged write.

``kill -9`` keeps the page cache, so crash tests pass even with ``forceSync=no``.  Here the
real storage stack (FileTxnLog, SnapshotFileWriter, SyncRequestProcessor under a real
ZooKeeperServer core, real files) writes through a :class:`~diskfakes.RecordingDiskIO`;
pipelined creates and setData, group commits and fuzzy snapshots (with log rolls)
interleave at random.  Then, for every point in the recorded sequence of disk calls, the
disk a power loss there would leave (diskfakes.power_loss: nothing that was not fsync'd,
a torn last write, directory changes up to and maybe past the last directory fsync) is
restored from, and:

* restore succeeds: the log is never unreadable;
* every write whose reply had left the server is there;
* every snapshot file present is complete, and every snapshot reported taken is present.

The checks must bite, and the suite shows they do: with the log's fsync skipped
(``forceSync=no``) acknowledged writes are lost; with the snapshot's file fsync removed a
snapshot can be present but torn; with its directory fsync removed a snapshot reported
taken can vanish.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from corefakes import OPEN_ACL, FakeCnxn
from diskfakes import NoSyncDiskIO, RecordingDiskIO, materialize, power_loss
from test_persistence import InlineWorker, SteppedSync, Stepper

from zk_twisted.constants import OpCode
from zk_twisted.jute import records as R
from zk_twisted.persistence.files import SNAPSHOT_PREFIX, VERSION_DIR
from zk_twisted.persistence.filetxnsnaplog import FileTxnSnapLog
from zk_twisted.persistence.snapshot import is_valid_snapshot, load_snapshot
from zk_twisted.persistence.sync import LogQueue, SnapshotTaker, SyncRequestProcessor
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer

PREALLOC = 16 * 1024
CONNECT = R.ConnectRequest(0, 0, 30000, 0, bytes(16)).to_bytes() + b"\0"
STEPS = 140


class AckingCnxn(FakeCnxn):
    """Marks in the disk record the moment each reply leaves the server."""

    def __init__(self, zks, disk: RecordingDiskIO) -> None:
        self.disk = disk
        super().__init__(zks)

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(data) >= 20:
            xid, _, err = struct.unpack_from(">iqi", data, 4)
            if xid > 0 and err == 0:
                self.disk.mark("ack", xid)


def open_snaplog(base: Path, split: bool, **kw) -> FileTxnSnapLog:
    """``split``: the log in its own dataLogDir, so no log-file fsync covers a snapshot's rename."""
    return FileTxnSnapLog(base / "snap", base / "log" if split else None, prealloc=PREALLOC, **kw)


def run_workload(
    base: Path, disk: RecordingDiskIO, seed: int, split: bool, force_sync: bool = True
) -> dict[int, tuple]:
    """Pipelined writes against a real storage stack; returns xid -> (path, version) expected."""
    rng = random.Random(seed)
    snaplog = open_snaplog(base, split, force_sync=force_sync, io=disk)
    db = ZKDatabase(DataTree(extended_types=True))
    snaplog.restore(db)
    stepper = Stepper()
    made = {}

    def factory(zks):
        snaps = SnapshotTaker(snaplog, zks.db, InlineWorker(), stepper.cooperate, 8)
        writer = SteppedSync(LogQueue(snaplog.txn_log(), 50), auto=False)
        made["sync"] = SyncRequestProcessor(zks, writer, snaps, snap_count=16, rng=random.Random(seed))
        return made["sync"]

    zks = ZooKeeperServer(ServerSettings(), db, _Clock(), factory)
    sync = made["sync"]
    cnxn = AckingCnxn(zks, disk)
    zks.process_connect(cnxn, CONNECT)
    while sync.writer.step():
        pass
    expect: dict[int, tuple] = {}
    versions: dict[str, int] = {}
    xid = 0
    taken = 0
    for _ in range(STEPS):
        r = rng.random()
        if r < 0.45 or not versions:
            xid += 1
            path = f"/n{xid}"
            body = R.CreateRequest(path, rng.randbytes(rng.randint(0, 300)), OPEN_ACL, 0).to_bytes()
            zks.process_packet(cnxn, struct.pack(">ii", xid, OpCode.create) + body)
            versions[path] = 0
            expect[xid] = (path, 0)
        elif r < 0.6:
            xid += 1
            path = rng.choice(sorted(versions))
            versions[path] += 1
            body = R.SetDataRequest(path, rng.randbytes(rng.randint(0, 300)), -1).to_bytes()
            zks.process_packet(cnxn, struct.pack(">ii", xid, OpCode.setData) + body)
            expect[xid] = (path, versions[path])
        elif r < 0.85:
            sync.writer.step()  # one batch: everything queued, one write, one fsync
        else:
            stepper.step()  # the fuzzy snapshot walks on
        if sync.snapshots.taken > taken:
            taken = sync.snapshots.taken
            disk.mark("snapshot", str(sync.snapshots.last_path))
    while sync.writer.step() or stepper.step():
        pass
    assert taken >= 2, "the workload should take snapshots"
    assert sum(1 for op in disk.ops if op[:2] == ("mark", "ack")) == len(expect)
    return expect


class _Clock:
    def seconds(self) -> float:
        return 1_700_000_000.0


def check_power_losses(
    base: Path, work: Path, disk: RecordingDiskIO, expect: dict, seed: int, split: bool
) -> list[str]:
    """Every cut point, three ways (no unsynced metadata; all of it and a torn last write;
    random): the violations found, as readable lines."""
    rng = random.Random(seed)
    problems: list[str] = []
    ops = disk.ops
    for cut in range(len(ops) + 1):
        for meta, tear in (("synced", False), ("all", True), ("random", rng.random() < 0.5)):
            crash = power_loss(ops, cut, rng, meta, tear)
            where = f"cut {cut}/{len(ops)} (after {ops[cut - 1][0] if cut else 'nothing'}, metadata={meta}, tear={tear})"
            for old in work.glob("*/*/*"):  # the last crash's files (dirs are kept: rmdir is slow)
                old.unlink()
            materialize(crash, base, work)
            snaplog = open_snaplog(work, split, io=NoSyncDiskIO())  # makes the dirs a crash may leave out
            snaps = sorted(snaplog.data_dir.glob(f"{SNAPSHOT_PREFIX}.*"))
            for snap in snaps:
                try:
                    ok = is_valid_snapshot(snap)
                    if ok:
                        load_snapshot(snap, ZKDatabase(DataTree(extended_types=True)))
                except Exception:  # noqa: BLE001 - any failure to read is the finding
                    ok = False
                if not ok:
                    problems.append(f"{where}: {snap.name} is present but incomplete")
            names = {s.name for s in snaps}
            for label, value in crash.marks:
                if label == "snapshot" and Path(value).name not in names:
                    problems.append(f"{where}: {Path(value).name} was reported taken but is gone")
            db = ZKDatabase(DataTree(extended_types=True))
            try:
                snaplog.restore(db)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{where}: restore failed: {e}")
                continue
            for label, value in crash.marks:
                if label != "ack":
                    continue
                path, version = expect[value]
                node = db.tree.nodes.get(path)
                if node is None or node.version < version:
                    problems.append(f"{where}: acknowledged write {value} ({path} v{version}) lost")
        if len(problems) > 20:
            break
    return problems


def _run(tmp_path: Path, seed: int, split: bool = True, force_sync: bool = True, drop_sync=None) -> list[str]:
    base = tmp_path / "data"
    disk = RecordingDiskIO(drop_sync)
    expect = run_workload(base, disk, seed, split, force_sync)
    return check_power_losses(base, tmp_path / "crash", disk, expect, seed, split)


@pytest.mark.parametrize("split", [False, True], ids=["one-dir", "dataLogDir"])
def test_no_acknowledged_write_is_lost_at_any_power_loss(tmp_path, split):
    problems = _run(tmp_path, seed=1, split=split)
    assert not problems, "\n".join(problems[:10])


def test_the_check_bites_without_the_log_fsync(tmp_path):
    """forceSync=no: replies leave before anything is durable, and power losses show it."""
    problems = _run(tmp_path, seed=2, force_sync=False)
    assert any("acknowledged write" in p and "lost" in p for p in problems), problems[:5]


def test_the_check_bites_without_the_snapshot_file_fsync(tmp_path):
    """The rename can reach the disk before the content does: a torn snapshot is found."""
    problems = _run(tmp_path, seed=3, drop_sync=lambda path: Path(path).name.startswith("tmp.snapshot"))
    assert any("present but incomplete" in p for p in problems), problems[:5]


def test_the_check_bites_without_the_snapshot_directory_fsync(tmp_path):
    """A snapshot reported taken (and the log rolled for it) must survive: without the
    directory fsync its name may not.  (The log in its own dir: a new log file's directory
    fsync would otherwise cover the rename as well.)"""
    snap_dir = str(tmp_path / "data" / "snap" / VERSION_DIR)
    problems = _run(tmp_path, seed=4, drop_sync=lambda path: path == snap_dir)
    assert any("reported taken but is gone" in p for p in problems), problems[:5]


def _atomic_outcomes(tmp_path: Path, drop_sync=None) -> set:
    """What ``write_atomic`` leaves at ``currentEpoch`` (as the quorum's epoch files will be
    written) after a power loss at every point: the set of contents seen."""
    base = tmp_path / "data"
    base.mkdir()
    target = base / "currentEpoch"
    disk = RecordingDiskIO(drop_sync)
    disk.write_atomic(target, b"4")
    disk.mark("done", None)
    disk.write_atomic(target, b"5")
    disk.mark("done", None)
    rng = random.Random(5)
    seen = set()
    for cut in range(len(disk.ops) + 1):
        for meta, tear in (("synced", False), ("all", True), ("all", False), ("random", True)):
            crash = power_loss(disk.ops, cut, rng, meta, tear)
            done = sum(1 for label, _ in crash.marks if label == "done")
            content = crash.files.get(str(target))
            seen.add((done, content))
    return seen


def test_write_atomic_leaves_the_old_file_or_the_new_one(tmp_path):
    """The contract for epoch files: after a power loss the file holds the value of a
    completed write_atomic or of the one in progress, whole; once a write returned, never
    anything older."""
    seen = _atomic_outcomes(tmp_path)
    assert seen <= {(0, None), (0, b"4"), (1, b"4"), (1, b"5"), (2, b"5")}, seen


def test_write_atomic_without_fsync_can_leave_a_torn_or_lost_file(tmp_path):
    seen = _atomic_outcomes(tmp_path, drop_sync=lambda path: True)
    assert (0, b"") in seen or (1, b"") in seen  # renamed before its content was durable
    assert (1, None) in seen  # a returned write that a power loss takes back


def _epoch_outcomes(tmp_path: Path, drop_sync=None) -> set:
    """What the quorum's EpochFiles leave after a power loss at every point while they
    record currentEpoch 4 then 5: (writes completed, what load() says, or the error)."""
    from zk_twisted.quorum.epochs import EpochFileError, EpochFiles

    snap = tmp_path / "data" / VERSION_DIR
    snap.mkdir(parents=True)
    disk = RecordingDiskIO(drop_sync)
    files = EpochFiles(snap, io=disk)
    files.set_accepted_epoch(5)
    for epoch in (4, 5):
        files.set_current_epoch(epoch)
        disk.mark("done", epoch)
    rng = random.Random(7)
    seen = set()
    for cut in range(len(disk.ops) + 1):
        for meta, tear in (("synced", False), ("all", True), ("all", False), ("random", True)):
            crash = power_loss(disk.ops, cut, rng, meta, tear)
            done = max([v for label, v in crash.marks if label == "done"], default=0)
            root = tmp_path / f"after-{cut}-{meta}-{tear}"
            materialize(crash, tmp_path / "data", root)
            (root / VERSION_DIR).mkdir(parents=True, exist_ok=True)
            try:
                current, _ = EpochFiles(root / VERSION_DIR, fsync=False).load(4 << 32 if done >= 4 else 0)
                seen.add((done, current))
            except EpochFileError as e:
                seen.add((done, f"error: {e}"[:60]))
    return seen


def test_epoch_files_survive_power_loss_whole(tmp_path):
    """currentEpoch after a power loss: the value of the last write that returned, or of the
    one in progress; never older, never torn (QuorumPeer.writeLongToFile, ZOOKEEPER-1653)."""
    seen = _epoch_outcomes(tmp_path)
    for done, current in seen:
        assert isinstance(current, int), seen
        assert current >= done and current in (0, 4, 5), seen


def test_epoch_file_check_bites_without_fsync(tmp_path):
    seen = _epoch_outcomes(tmp_path, drop_sync=lambda path: True)
    # a write that returned is taken back, or the file comes back empty (torn)
    assert any(isinstance(c, int) and c < done for done, c in seen) or any(isinstance(c, str) for _, c in seen), seen
