"""Durable storage, in process: txn log, snapshots (fuzzy ones too), restore, group commit, purge.

The disk is real (``tmp_path``); time and threads are not: worker "threads" run jobs
inline or when the test says, and the cooperative snapshot walk advances one step at a
time, so that txns can be interleaved with it deterministically.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

import pytest
from corefakes import OPEN_ACL, CoreClient, FakeCnxn
from twisted.internet import defer, task
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from zk_twisted.constants import CreateMode, OpCode
from zk_twisted.interfaces import ISyncProcessor, ITxnLog, ITxnSnapLog
from zk_twisted.jute import records as R
from zk_twisted.persistence.errors import CorruptFileError, StorageError
from zk_twisted.persistence.files import adler32_combine, make_log_name, sorted_files
from zk_twisted.persistence.filetxnsnaplog import FileTxnSnapLog
from zk_twisted.persistence.purge import purge
from zk_twisted.persistence.snapshot import (
    SnapshotFileWriter,
    SnapshotSerializer,
    load_snapshot,
    write_snapshot,
)
from zk_twisted.persistence.sync import LogQueue, SnapshotTaker, SyncRequestProcessor
from zk_twisted.persistence.txnlog import FileTxnLog, LogFileReader, marshal_entry
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer

PREALLOC = 64 * 1024


# ---------------------------------------------------------------------------- fakes
class InlineWorker:
    """A worker thread that runs each job at once."""

    def run(self, f, *args):
        return defer.maybeDeferred(f, *args)

    def stop(self) -> None:
        pass


class SteppedSync:
    """The log's writer thread, run by the test: :meth:`begin` takes a batch and writes
    it, :meth:`finish` reports it durable; with ``auto`` every wake-up drains the queue."""

    def __init__(self, queue: LogQueue, auto: bool = False) -> None:
        self.queue = queue
        self.auto = auto
        self._busy = False
        self._written: tuple[int, float] | None = None

    def start(self, on_durable, on_failure) -> None:
        self.on_durable, self.on_failure = on_durable, on_failure

    def wake(self) -> None:
        if self.auto and not self._busy:
            self._busy = True
            try:
                while self.step():
                    pass
            finally:
                self._busy = False

    def begin(self) -> bool:
        if not self.queue.items:
            return False
        entries, roll = self.queue.take()
        try:
            self._written = (len(entries), self.queue.write(entries, roll))
        except OSError:
            self.on_failure(Failure())
            return False
        return True

    def finish(self) -> None:
        written, self._written = self._written, None
        self.on_durable(*written)

    def step(self) -> bool:
        if not self.begin():
            return False
        self.finish()
        return True

    def stop(self):
        self.auto = True
        self.wake()
        self.queue.txnlog.close()
        return defer.succeed(None)


class _Call:
    def __init__(self, f, calls: list) -> None:
        self.f, self.calls = f, calls

    def cancel(self) -> None:
        self.calls.remove(self)


class Stepper:
    """A Cooperator that runs one step of one task per :meth:`step`."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.coop = task.Cooperator(
            scheduler=self._schedule, terminationPredicateFactory=lambda: lambda: True
        )

    def _schedule(self, f) -> _Call:
        c = _Call(f, self.calls)
        self.calls.append(c)
        return c

    def step(self) -> bool:
        if not self.calls:
            return False
        self.calls.pop(0).f()
        return True

    def cooperate(self, iterator):
        return self.coop.cooperate(iterator)


def make_server(
    base: Path, *, auto: bool = True, snap_count: int = 100000, nodes_per_step: int = 64, max_batch=1000
):
    """A core whose Sync stage is ours, on a data dir under ``base`` (restored first)."""
    clock = Clock()
    clock.advance(1_700_000_000)
    snaplog = FileTxnSnapLog(base, prealloc=PREALLOC)
    db = ZKDatabase(DataTree(extended_types=True))
    snaplog.restore(db)
    stepper = Stepper()
    made = {}

    def factory(zks):
        snaps = SnapshotTaker(snaplog, zks.db, InlineWorker(), stepper.cooperate, nodes_per_step)
        writer = SteppedSync(LogQueue(snaplog.txn_log(), max_batch), auto)
        made["sync"] = SyncRequestProcessor(zks, writer, snaps, snap_count=snap_count, rng=random.Random(7))
        return made["sync"]

    zks = ZooKeeperServer(ServerSettings(), db, clock, factory)
    return zks, made["sync"], stepper, snaplog


def restore(base: Path) -> ZKDatabase:
    db = ZKDatabase(DataTree(extended_types=True))
    FileTxnSnapLog(base, prealloc=PREALLOC).restore(db)
    return db


def state(db: ZKDatabase):
    """Everything a restore must bring back, comparable with ==."""
    nodes = {
        p: (
            n.data, n.acl, n.czxid, n.mzxid, n.ctime, n.mtime, n.version, n.cversion,
            n.aversion, n.ephemeral_owner, n.pzxid, frozenset(n.children or ()),
        )
        for p, n in db.tree.nodes.items()
    }  # fmt: skip
    return nodes, dict(db.sessions_with_timeouts), db.tree.digest(), db.last_processed_zxid


def acl_with(i: int) -> list:
    """A distinct ACL list that still lets everyone do everything."""
    return [*OPEN_ACL, R.ACL(1, R.Id("ip", f"10.0.{i // 250}.{i % 250}"))]


def txn(zxid: int, path: str, data: bytes = b"x"):
    counter = zxid & 0x7FFFFFFF  # cxid and parentCVersion are ints (zxids of epochs > 0 are not)
    hdr = R.TxnHeader(0x100, counter, zxid, 1000 + zxid, OpCode.create)
    return hdr, R.CreateTxn(path, data, OPEN_ACL, False, counter), R.TxnDigest(2, zxid)


def write_log(log_dir: Path, first: int, count: int) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    tl = FileTxnLog(log_dir, PREALLOC)
    for z in range(first, first + count):
        tl.append(*txn(z, f"/n{z}"))
    tl.commit()
    tl.close()
    return log_dir / make_log_name(first)


def entry_offsets(path: Path) -> list[int]:
    return [e.offset for e in LogFileReader(path)]


# ---------------------------------------------------------------------------- txn log
def test_log_file_format_header_entries_and_preallocation(tmp_path):
    path = write_log(tmp_path, 5, 3)
    raw = path.read_bytes()
    assert raw[:16] == b"ZKLG" + struct.pack(">iq", 2, 0)
    assert len(raw) == PREALLOC  # padded in preAllocSize blocks, zeros after the entries
    crc, n = struct.unpack_from(">qi", raw, 16)
    body = raw[28 : 28 + n]
    assert crc == zlib.adler32(body) and raw[28 + n : 29 + n] == b"B"
    hdr, t, digest = txn(5, "/n5")
    assert marshal_entry(hdr, t, digest) == raw[16 : 29 + n]
    reader = LogFileReader(path)
    got = [(e.hdr.zxid, e.txn.path, e.digest.treeDigest) for e in reader]
    assert got == [(5, "/n5", 5), (6, "/n6", 6), (7, "/n7", 7)]
    assert not reader.torn


def test_log_rolls_to_a_new_file_named_after_its_first_zxid(tmp_path):
    tl = FileTxnLog(tmp_path, PREALLOC)
    tl.append(*txn(1, "/a"))
    tl.commit()
    tl.roll_log()
    tl.append(*txn(2, "/b"))
    tl.commit()
    tl.close()
    assert [p.name for p in sorted_files(tmp_path, "log")] == ["log.1", "log.2"]


@pytest.mark.parametrize("cut", ["mid-entry", "mid-frame", "after-crc", "no-eor", "bad-crc-last"])
def test_torn_tail_ends_the_log_and_is_cut_off(tmp_path, cut):
    base = tmp_path / "d"
    snaplog = FileTxnSnapLog(base, prealloc=PREALLOC)
    snaplog.save(ZKDatabase(DataTree()))
    path = write_log(snaplog.log_dir, 1, 4)
    offs = entry_offsets(path)
    last = offs[-1]
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if cut == "mid-entry":
            data[last + 20 :] = bytes(len(data) - last - 20)
        elif cut == "mid-frame":
            data[last + 6 :] = bytes(len(data) - last - 6)
        elif cut == "after-crc":
            data[last + 8 :] = bytes(len(data) - last - 8)
        elif cut == "no-eor":
            n = struct.unpack_from(">i", data, last + 8)[0]
            data[last + 12 + n] = 0
        else:
            data[last + 30] ^= 0xFF
        f.seek(0)
        f.write(data)
    db = ZKDatabase(DataTree())
    result = snaplog.restore(db)
    assert result.zxid == 3 and result.txns_replayed == 3
    assert "/n4" not in db.tree.nodes and "/n3" in db.tree.nodes
    assert result.repaired == path
    reader = LogFileReader(path)
    assert [e.hdr.zxid for e in reader] == [1, 2, 3] and not reader.torn
    assert path.stat().st_size == last


def test_bytes_after_a_hole_of_a_sparse_log_are_still_seen(tmp_path):
    """The end-of-log check looks at the data extents only (SEEK_DATA): a log preallocated
    sparse, with something written past a hole far beyond its last entry, is corrupt, not a
    clean end, and a reader that skips the entries before a zxid frames and counts them."""
    path = write_log(tmp_path, 1, 10)
    reader = LogFileReader(path, skip_below=8)
    assert [e.hdr.zxid for e in reader] == [8, 9, 10] and reader.count == 10 and not reader.torn
    far = 8 << 20
    with open(path, "r+b") as f:
        f.truncate(far + (1 << 20))  # a hole from the preallocated end to ``far``
        f.seek(far + 12345)
        f.write(b"\x01")
    with pytest.raises(CorruptFileError) as e:
        list(LogFileReader(path, skip_below=8))
    assert e.value.offset == entry_offsets_until_end(path)


def entry_offsets_until_end(path: Path) -> int:
    """Where the entries of a log whose tail is bad stop (the offset its reader blames)."""
    with open(path, "rb") as f:
        data = f.read(PREALLOC)
    off = 16
    while True:
        n = struct.unpack_from(">i", data, off + 8)[0]
        if n <= 0:
            return off
        off += 13 + n


def test_flipped_byte_mid_log_names_file_and_offset(tmp_path):
    base = tmp_path / "d"
    snaplog = FileTxnSnapLog(base, prealloc=PREALLOC)
    snaplog.save(ZKDatabase(DataTree()))
    path = write_log(snaplog.log_dir, 1, 10)
    bad = entry_offsets(path)[4]
    with open(path, "r+b") as f:
        f.seek(bad + 40)
        b = f.read(1)
        f.seek(bad + 40)
        f.write(bytes([b[0] ^ 0x01]))
    with pytest.raises(CorruptFileError) as e:
        snaplog.restore(ZKDatabase(DataTree()))
    assert e.value.path == path and e.value.offset == bad
    assert f"{path} at offset {bad}: checksum mismatch" in str(e.value)


def test_bad_length_mid_log_is_corruption_not_a_tail(tmp_path):
    path = write_log(tmp_path, 1, 10)
    bad = entry_offsets(path)[2]
    with open(path, "r+b") as f:
        f.seek(bad + 8)
        f.write(struct.pack(">i", 0x7FFFFFF0))
    with pytest.raises(CorruptFileError) as e:
        list(LogFileReader(path))
    assert e.value.offset == bad and "impossible entry length" in e.value.reason


def test_bad_magic_is_corruption_but_an_unwritten_header_is_a_torn_tail(tmp_path):
    path = write_log(tmp_path, 1, 2)
    with open(path, "r+b") as f:
        f.write(b"ZKXX")
    with pytest.raises(CorruptFileError) as e:
        list(LogFileReader(path))
    assert e.value.offset == 0 and "magic" in e.value.reason
    empty = tmp_path / "log.10"
    empty.write_bytes(b"ZK" + bytes(PREALLOC - 2))
    reader = LogFileReader(empty)
    assert list(reader) == [] and reader.header is None and reader.torn


def test_adler32_combine_matches_zlib():
    rnd = random.Random(3)
    for n1, n2 in [(0, 0), (1, 70000), (5552, 5553), (100000, 3)]:
        a, b = rnd.randbytes(n1), rnd.randbytes(n2)
        assert adler32_combine(zlib.adler32(a), zlib.adler32(b), n2) == zlib.adler32(a + b)


# ---------------------------------------------------------------------------- snapshots
def populated_server(base: Path):
    zks, sync, stepper, snaplog = make_server(base)
    c = CoreClient(zks)
    c.create("/a", b"alpha")
    c.create("/a/b", b"", acl=acl_with(1))
    c.create("/a/e", b"eph", flags=CreateMode.EPHEMERAL)
    c.create("/a/s-", b"seq", flags=CreateMode.PERSISTENT_SEQUENTIAL)
    c.call(OpCode.createContainer, R.CreateRequest("/cont", b"c", OPEN_ACL, CreateMode.CONTAINER))
    c.create("/cont/x", b"y")
    c.call(
        OpCode.createTTL, R.CreateTTLRequest("/ttl", b"t", OPEN_ACL, CreateMode.PERSISTENT_WITH_TTL, 60000)
    )
    c.set("/a", b"beta")
    c.call(OpCode.setACL, R.SetACLRequest("/a/b", acl_with(2), -1))
    return zks, sync, stepper, snaplog, c


def test_snapshot_round_trip_keeps_every_field(tmp_path):
    zks, sync, _, snaplog, c = populated_server(tmp_path)
    path = snaplog.save(zks.db)
    assert path.name == f"snapshot.{zks.db.last_processed_zxid:x}"
    db = ZKDatabase(DataTree(extended_types=True))
    loaded = load_snapshot(path, db)
    assert loaded.digest.zxid == zks.db.last_processed_zxid and loaded.digest.digest == zks.db.tree.digest()
    assert state(db) == state(zks.db)
    assert db.tree.ephemerals == {c.session_id: {"/a/e"}}
    assert db.tree.containers == {"/cont"} and db.tree.ttls == {"/ttl"}


def test_fuzzy_snapshot_leaves_out_a_subtree_remade_while_it_walks(tmp_path):
    """A parent deleted when the walk reaches it, then made again with its children
    before the walk reaches them: the snapshot must not hold children without a parent."""
    db = ZKDatabase(DataTree())
    tree = db.tree
    acl = tree.nodes["/zookeeper"].acl
    tree.create_node("/p", b"", acl, 0, -1, 1, 0)
    tree.create_node("/p/c", b"old", acl, 0, -1, 2, 0)
    tree.create_node("/q", b"", acl, 0, -1, 3, 0)
    ser = SnapshotSerializer(db)
    writer = SnapshotFileWriter(tmp_path, ser.zxid, fsync=False)
    tree.delete_node("/p/c", 4)
    tree.delete_node("/p", 5)
    chunks = ser.node_chunks(1)  # one path per step
    for _ in range(ser.paths.index("/p") + 1):  # up to /p, which is gone
        writer.write_nodes(next(chunks))
    tree.create_node("/p", b"", acl, 0, -1, 6, 0)  # made again behind the walk
    tree.create_node("/p/c", b"new", acl, 0, -1, 7, 0)
    for chunk in chunks:
        writer.write_nodes(chunk)
    path = writer.finish(ser.prefix(), None)
    restored = ZKDatabase(DataTree())
    load_snapshot(path, restored)  # a child without its parent would fail here
    assert "/p/c" not in restored.tree.nodes and "/q" in restored.tree.nodes


def test_corrupt_newest_snapshot_falls_back_to_the_previous_one(tmp_path):
    zks, sync, _, snaplog, c = populated_server(tmp_path)
    snaplog.save(zks.db)
    c.create("/later", b"after the first snapshot")
    newest = snaplog.save(zks.db)
    c.set("/later", b"after the second")
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x10  # still ends with the seal, so it looks valid until read
    newest.write_bytes(bytes(data))
    sync.shutdown()
    db = ZKDatabase(DataTree(extended_types=True))
    result = FileTxnSnapLog(tmp_path, prealloc=PREALLOC).restore(db)
    assert result.snapshot != newest and result.txns_replayed == 2
    assert state(db) == state(zks.db)


def test_every_snapshot_corrupt_refuses_to_start(tmp_path):
    snaplog = FileTxnSnapLog(tmp_path, prealloc=PREALLOC)
    path = snaplog.save(ZKDatabase(DataTree()))
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="Not able to find valid snapshots"):
        snaplog.restore(ZKDatabase(DataTree()))


def test_fresh_dir_gets_snapshot_0_and_log_without_snapshot_is_refused(tmp_path):
    snaplog = FileTxnSnapLog(tmp_path / "fresh", prealloc=PREALLOC)
    result = snaplog.restore(ZKDatabase(DataTree()))
    assert result.zxid == 0 and result.wrote_snapshot
    assert [p.name for p in sorted_files(snaplog.data_dir, "snapshot")] == ["snapshot.0"]
    other = FileTxnSnapLog(tmp_path / "logonly", prealloc=PREALLOC)
    write_log(other.log_dir, 1, 2)
    with pytest.raises(StorageError, match="No snapshot found, but there are log entries"):
        other.restore(ZKDatabase(DataTree()))
    trusting = FileTxnSnapLog(tmp_path / "logonly", prealloc=PREALLOC, trust_empty_snapshot=True)
    db = ZKDatabase(DataTree())
    assert trusting.restore(db).zxid == 2 and "/n2" in db.tree.nodes


# ---------------------------------------------------------------------------- restore
def test_sessions_and_ephemerals_survive_a_restart(tmp_path):
    zks, sync, _, _, c = populated_server(tmp_path)
    other = CoreClient(zks, timeout=12000)
    other.create("/mine", b"", flags=CreateMode.EPHEMERAL)
    other.close()
    db = restore(tmp_path)
    assert db.sessions_with_timeouts == {c.session_id: 30000}
    assert "/a/e" in db.tree.nodes and "/mine" not in db.tree.nodes
    assert state(db) == state(zks.db) and db.digest_mismatches == 0
    # the restarted server tracks the restored session: its client may reconnect to it
    restarted = ZooKeeperServer(ServerSettings(), db, Clock())
    assert restarted.sessions.touch(c.session_id, 30000, 0)


def test_ephemerals_of_sessions_missing_from_the_database_are_deleted(tmp_path):
    zks, sync, _, snaplog, c = populated_server(tmp_path)
    zks.db.sessions_with_timeouts.clear()  # as if the session's closeSession had been lost
    snaplog.save(zks.db)
    db = ZKDatabase(DataTree(extended_types=True))
    result = snaplog.restore(db)
    assert result.dead_sessions == 1 and result.wrote_snapshot
    assert "/a/e" not in db.tree.nodes and not db.tree.ephemerals


def test_replay_is_idempotent_over_a_fuzzy_snapshot(tmp_path):
    """Txns interleaved with the snapshot walk: new ACLs, deletes, re-creates, sessions."""
    zks, sync, stepper, _ = make_server(tmp_path, nodes_per_step=1)
    rnd = random.Random(11)
    c = CoreClient(zks)
    for i in range(40):
        c.create(f"/p{i % 5}" if i < 5 else f"/p{i % 5}/c{i}", str(i).encode(), acl=acl_with(i))
    sessions = [CoreClient(zks, timeout=10000 + i) for i in range(3)]
    d = sync.take_snapshot()
    done: list = []
    d.addBoth(done.append)
    n = 100
    while stepper.step():
        n += 1
        op = rnd.randrange(6)
        parent = f"/p{rnd.randrange(5)}"
        if op == 0:
            c.create(f"{parent}/n{n}", b"new", acl=acl_with(n))  # an ACL the map did not have
        elif op == 1:
            kids = sorted(zks.db.tree.nodes[parent].children or ())
            if kids:
                c.delete(f"{parent}/{rnd.choice(kids)}")
        elif op == 2:
            c.set(parent, str(n).encode())
        elif op == 3:
            c.call(OpCode.setACL, R.SetACLRequest(parent, acl_with(1000 + n), -1))
        elif op == 4:
            s = CoreClient(zks, timeout=20000)
            s.create(f"{parent}/eph{n}", b"", flags=CreateMode.EPHEMERAL)
            sessions.append(s)
        elif sessions:
            sessions.pop(rnd.randrange(len(sessions))).close()
    assert done and isinstance(done[0], Path), done
    snap = done[0]
    c.create("/after", b"logged after the snapshot")
    assert sync.shutdown().called
    # the snapshot alone loads (every ACL a node names is in its map) ...
    load_snapshot(snap, ZKDatabase(DataTree(extended_types=True)))
    # ... and snapshot + log give back exactly the live database
    db = restore(tmp_path)
    assert state(db) == state(zks.db)
    assert db.digest_mismatches == 0


# ---------------------------------------------------------------------------- group commit
CONNECT = R.ConnectRequest(0, 0, 30000, 0, bytes(16)).to_bytes() + b"\0"


def _send(zks, cnxn, xid: int, create) -> None:
    """A create whose reply the test will look for itself (CoreClient wants it at once)."""
    zks.process_packet(cnxn, struct.pack(">ii", xid, OpCode.create) + create.to_bytes())


def test_replies_wait_for_the_fsync_and_batches_take_everything_queued(tmp_path):
    zks, sync, _, _ = make_server(tmp_path, auto=False)
    writer = sync.writer
    cnxn = FakeCnxn(zks)
    zks.process_connect(cnxn, CONNECT)
    assert cnxn.pop() == []  # even the session is only created once its txn is on disk
    writer.step()
    assert len(cnxn.pop()) == 1
    _send(zks, cnxn, 1, R.CreateRequest("/b0", b"", OPEN_ACL, 0))
    writer.begin()  # the first create is being written ...
    for i in range(1, 5):  # ... while four more arrive
        _send(zks, cnxn, i + 1, R.CreateRequest(f"/b{i}", b"", OPEN_ACL, 0))
    assert cnxn.pop() == [] and sync.pending == 5
    writer.finish()
    assert len(cnxn.pop()) == 1 and "/b1" not in zks.db.tree.nodes
    writer.step()  # one write, one fsync for the four
    assert len(cnxn.pop()) == 4 and sync.pending == 0
    assert (sync.fsync_count, sync.txns_logged, sync.last_batch, sync.max_batch_seen) == (3, 6, 4, 4)
    assert sync.metrics["sync_processor_batch_size"].count == 3


def test_batches_are_bounded(tmp_path):
    zks, sync, _, _ = make_server(tmp_path, auto=False, max_batch=3)
    cnxn = FakeCnxn(zks)
    zks.process_connect(cnxn, CONNECT)
    for i in range(7):
        _send(zks, cnxn, i + 1, R.CreateRequest(f"/x{i}", b"", OPEN_ACL, 0))
    sizes = []
    while sync.writer.step():
        sizes.append(sync.last_batch)
    assert sizes == [3, 3, 2]
    assert len(cnxn.pop()) == 8 and all(f"/x{i}" in zks.db.tree.nodes for i in range(7))


def test_snapshot_every_snap_count_txns_rolls_the_log(tmp_path):
    zks, sync, stepper, snaplog = make_server(tmp_path, snap_count=10)
    c = CoreClient(zks)
    for i in range(30):
        c.create(f"/s{i}")
        while stepper.step():
            pass
    assert sync.snapshots.taken >= 2
    logs = sorted_files(snaplog.log_dir, "log")
    snaps = sorted_files(snaplog.data_dir, "snapshot")
    # snapshot.0 plus one per roll; a new log file once a txn follows a roll
    assert len(snaps) == sync.snapshots.taken + 1
    assert sync.snapshots.taken <= len(logs) <= sync.snapshots.taken + 1
    sync.shutdown()
    assert state(restore(tmp_path)) == state(zks.db)


def test_write_failure_answers_nothing_and_stops(tmp_path):
    failures = []
    zks, sync, _, _ = make_server(tmp_path)
    c = CoreClient(zks)
    sync.on_fatal = failures.append

    def disk_full() -> float:
        raise OSError(28, "No space left on device")

    sync.queue.txnlog.commit = disk_full
    _send(zks, c.cnxn, c.xid + 1, R.CreateRequest("/f", b"", OPEN_ACL, 0))
    assert c.cnxn.pop() == [] and len(failures) == 1 and sync.failed is not None
    assert "/f" not in zks.db.tree.nodes
    _send(zks, c.cnxn, c.xid + 2, R.CreateRequest("/g", b"", OPEN_ACL, 0))
    assert c.cnxn.pop() == [] and sync.pending == 1  # nothing more is written or answered


# ---------------------------------------------------------------------------- purge
def test_purge_keeps_the_newest_snapshots_and_the_logs_they_need(tmp_path):
    zks, sync, stepper, snaplog = make_server(tmp_path, snap_count=6)
    c = CoreClient(zks)
    for i in range(60):
        c.create(f"/q{i}")
        while stepper.step():
            pass
    sync.shutdown()
    snaps = sorted_files(snaplog.data_dir, "snapshot")
    assert len(snaps) > 5
    result = purge(tmp_path, None, 3)
    kept = sorted_files(snaplog.data_dir, "snapshot")
    assert kept == snaps[-3:] and result.kept_snapshots == kept[::-1]
    oldest = int(kept[0].name.split(".")[1], 16)
    logs = sorted_files(snaplog.log_dir, "log")
    assert int(logs[0].name.split(".")[1], 16) <= oldest < int(logs[1].name.split(".")[1], 16)
    # restoring from the oldest kept snapshot still works
    for newer in kept[1:]:
        newer.unlink()
    assert state(restore(tmp_path)) == state(zks.db)
    with pytest.raises(ValueError):
        purge(tmp_path, None, 2)


def test_purge_refuses_swapped_directories(tmp_path):
    (tmp_path / "snaps" / "version-2").mkdir(parents=True)
    write_snapshot(ZKDatabase(DataTree()), tmp_path / "snaps" / "version-2")
    write_log(tmp_path / "logs" / "version-2", 1, 1)
    with pytest.raises(StorageError, match="Log directory has snapshot files"):
        purge(tmp_path / "logs", tmp_path / "snaps", 3)


def test_shutdown_aborts_a_running_snapshot_and_leaves_no_temporary_files(tmp_path):
    zks, sync, stepper, snaplog = make_server(tmp_path, nodes_per_step=1)
    c = CoreClient(zks)
    for i in range(10):
        c.create(f"/a{i}")
    before = sorted_files(snaplog.data_dir, "snapshot")
    d = sync.take_snapshot()
    stepper.step()
    assert any(p.name.startswith("tmp.") for p in snaplog.data_dir.iterdir())
    stopped = sync.shutdown()
    assert not stopped.called  # waits for the snapshot to clean up
    while stepper.step():
        pass
    assert stopped.called and d.called
    assert sorted_files(snaplog.data_dir, "snapshot") == before
    assert not any(p.name.startswith("tmp.") for p in snaplog.data_dir.iterdir())


def test_storage_classes_provide_their_interfaces(tmp_path):
    zks, sync, _, snaplog = make_server(tmp_path)
    assert verifyObject(ISyncProcessor, sync)
    assert verifyObject(ITxnSnapLog, snaplog)
    assert verifyObject(ITxnLog, snaplog.txn_log())


# ---------------------------------------------------------------------------- tools
def test_tools_json_dumps_and_purge_command(tmp_path, capsys):
    from zk_twisted.tools.__main__ import main

    zks, sync, stepper, snaplog = make_server(tmp_path, snap_count=6)
    c = CoreClient(zks)
    for i in range(40):
        c.create(f"/t{i}", b"tool")
        while stepper.step():
            pass
    sync.shutdown()
    snaps = sorted_files(snaplog.data_dir, "snapshot")
    assert main(["snapshot", "--json", str(snaps[-1])]) == 0
    dump = json.loads(capsys.readouterr().out)
    assert dump["checksum_ok"] and dump["digest_checksum_ok"] and dump["zxid"] == int(snaps[-1].name[9:], 16)
    assert {n["path"] for n in dump["nodes"]} >= {"", "/zookeeper", "/t0"}
    logs = sorted_files(snaplog.log_dir, "log")
    assert main(["txnlog", "--json", str(logs[0])]) == 0
    txns = json.loads(capsys.readouterr().out)["txns"]
    assert txns[0]["type"] == "createSession" and all(t["checksum_ok"] for t in txns)
    assert main(["purge", str(tmp_path), "-n", "2"]) == 1
    assert "count should be greater than or equal to 3" in capsys.readouterr().err
    assert main(["purge", str(tmp_path), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("Removing file: ") == len(snaps) - 3 + sum(
        1 for p in logs if p not in sorted_files(snaplog.log_dir, "log")
    )
    assert sorted_files(snaplog.data_dir, "snapshot") == snaps[-3:]
