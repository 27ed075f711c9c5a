"""FileTxnSnapLog: snapshots (dataDir) and txn logs (dataLogDir) together, and restore.

Restore is FileTxnSnapLog.restore + ZooKeeperServer.loadData of 3.8: the newest snapshot
that loads (up to 100 are tried, newest first), then every logged txn after its zxid
replayed through the same ``ZKDatabase.process_txn`` the live server uses (idempotent for
a fuzzy snapshot), then ephemerals whose session is gone are deleted.  A fresh data dir
gets ``snapshot.0`` before anything is logged, as 3.8 writes it; a log with no snapshot
at all is refused as 3.8 refuses it (``zookeeper.snapshot.trust.empty`` lifts that).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from zope.interface import implementer

from ..interfaces import ITxnSnapLog
from ..server.zkdatabase import ZKDatabase
from .diskio import OS_DISK, DiskIO
from .errors import CorruptFileError, StorageError
from .files import LOG_PREFIX, SNAPSHOT_PREFIX, TMP_PREFIX, VERSION_DIR, log_files_for, sorted_files
from .snapshot import LoadedSnapshot, is_valid_snapshot, load_snapshot, write_snapshot
from .txnlog import (
    DEFAULT_PREALLOC,
    FileTxnLog,
    LogFileReader,
    last_logged_zxid,
    log_readers,
    truncate_torn_tail,
)

log = logging.getLogger(__name__)

#: FileSnap.deserialize gives up after this many snapshots
SNAPSHOTS_TO_TRY = 100
EMPTY_SNAPSHOT_WARNING = "No snapshot found, but there are log entries. "


@dataclass
class RestoreResult:
    zxid: int
    snapshot: Path | None
    snapshot_zxid: int
    txns_replayed: int
    snapshot_ms: float
    replay_ms: float
    #: sessions whose ephemerals were deleted because the session itself was gone
    dead_sessions: int
    #: the log file whose torn tail was cut off (or dropped), if any
    repaired: Path | None
    #: a snapshot was written at start-up (fresh dir, or dead sessions cleaned up)
    wrote_snapshot: bool


@implementer(ITxnSnapLog)
class FileTxnSnapLog:
    def __init__(
        self,
        data_dir: Path,
        data_log_dir: Path | None = None,
        *,
        prealloc: int = DEFAULT_PREALLOC,
        force_sync: bool = True,
        max_entry: int = 2 * 0xFFFFF,
        fsync_warning_ms: int = 1000,
        trust_empty_snapshot: bool = False,
        log_size_limit: int = -1,
        io: DiskIO = OS_DISK,
    ) -> None:
        #: every write to the data dirs goes through this (diskio.py)
        self.io = io
        self.data_dir = Path(data_dir) / VERSION_DIR
        self.log_dir = Path(data_log_dir if data_log_dir is not None else data_dir) / VERSION_DIR
        self.prealloc = prealloc
        self.force_sync = force_sync
        self.max_entry = max_entry
        self.fsync_warning_ms = fsync_warning_ms
        self.trust_empty_snapshot = trust_empty_snapshot
        self.log_size_limit = log_size_limit
        #: the snapshot last written or restored (FileSnap.lastSnapshotInfo, for last_snapshot)
        self.last_snapshot: Path | None = None
        for d, what in ((self.log_dir, "data"), (self.data_dir, "snap")):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"Unable to create {what} directory {d}: {e}") from None
            if not os.access(d, os.W_OK):
                raise StorageError(f"Cannot write to {what} directory {d}")
        if self.log_dir != self.data_dir:
            # ZOOKEEPER-2967: catch dataDir / dataLogDir swapped in zoo.cfg
            if sorted_files(self.log_dir, SNAPSHOT_PREFIX):
                raise StorageError(
                    "Log directory has snapshot files. Check if dataLogDir and dataDir configuration is correct."
                )
            if sorted_files(self.data_dir, LOG_PREFIX):
                raise StorageError(
                    "Snapshot directory has log files. Check if dataLogDir and dataDir configuration is correct."
                )

    # ------------------------------------------------------------------ files
    def txn_log(self) -> FileTxnLog:
        return FileTxnLog(
            self.log_dir, self.prealloc, self.force_sync, self.fsync_warning_ms, self.log_size_limit, self.io
        )

    def find_n_valid_snapshots(self, n: int) -> list[Path]:
        """FileSnap.findNValidSnapshots: the ``n`` newest snapshots that look complete."""
        out = []
        for f in sorted_files(self.data_dir, SNAPSHOT_PREFIX, ascending=False):
            if is_valid_snapshot(f):
                out.append(f)
                if len(out) == n:
                    break
        return out

    def snapshot_logs(self, zxid: int) -> list[Path]:
        """The log files needed to replay from a snapshot of ``zxid`` (getSnapshotLogs)."""
        return log_files_for(self.log_dir, zxid)

    def remove_temporary_files(self) -> None:
        """Leftovers of snapshots a crash interrupted."""
        for name in os.listdir(self.data_dir):
            if name.startswith(TMP_PREFIX):
                log.info("Removing unfinished snapshot file %s", name)
                self.io.unlink(self.data_dir / name)

    def save(self, db: ZKDatabase) -> Path:
        """Snapshot ``db`` now, synchronously (FileTxnSnapLog.save)."""
        path = write_snapshot(db, self.data_dir, self.force_sync, self.io)
        log.info("Snapshotting: 0x%x to %s", db.last_processed_zxid, path)
        self.last_snapshot = path
        return path

    # ------------------------------------------------------------------ restore
    def restore(self, db: ZKDatabase) -> RestoreResult:
        """Load the newest valid snapshot into ``db`` and replay the log after it."""
        self.remove_temporary_files()
        t0 = time.monotonic()
        candidates = self.find_n_valid_snapshots(SNAPSHOTS_TO_TRY)
        loaded = self._load_newest(candidates, db)
        snapshot_ms = (time.monotonic() - t0) * 1000.0
        wrote = False
        if loaded is None:
            if last_logged_zxid(self.log_dir) != -1:
                if not self.trust_empty_snapshot:
                    raise StorageError(EMPTY_SNAPSHOT_WARNING + "Something is broken!")
                log.warning("%sThis should only be allowed during upgrading.", EMPTY_SNAPSHOT_WARNING)
            else:
                # a new data dir: 3.8 writes snapshot.0 before it logs anything
                self.save(db)
                return RestoreResult(0, None, 0, 0, snapshot_ms, 0.0, 0, None, True)
        snap_zxid = db.last_processed_zxid
        t1 = time.monotonic()
        replayed, repaired = self._replay(db, snap_zxid, loaded.digest if loaded else None)
        replay_ms = (time.monotonic() - t1) * 1000.0
        if replayed:
            log.info("%d txns loaded in %d ms", replayed, replay_ms)
        dead = self._kill_dead_sessions(db)
        if dead:
            # deletions that no txn records: make them part of a snapshot before anything is logged
            self.save(db)
            wrote = True
        return RestoreResult(
            db.last_processed_zxid,
            loaded.path if loaded else None,
            snap_zxid,
            replayed,
            snapshot_ms,
            replay_ms,
            dead,
            repaired,
            wrote,
        )

    def _load_newest(self, candidates: list[Path], db: ZKDatabase) -> LoadedSnapshot | None:
        for snap in candidates:
            log.info("Reading snapshot %s", snap)
            try:
                loaded = load_snapshot(snap, db)
            except (CorruptFileError, OSError) as e:
                log.warning("problem reading snap file %s: %s", snap, e)
                continue
            log.info(
                "Snapshot loaded: %d znodes, %d sessions, zxid 0x%x",
                loaded.node_count,
                len(db.sessions_with_timeouts),
                loaded.zxid,
            )
            self.last_snapshot = snap
            return loaded
        if candidates:
            raise StorageError(f"Not able to find valid snapshots in {self.data_dir}")
        return None

    def _replay(self, db: ZKDatabase, snap_zxid: int, snap_digest) -> tuple[int, Path | None]:
        """fastForwardFromEdits: apply every logged txn after ``snap_zxid``, in zxid order."""
        tree = db.tree
        # while the tree is still fuzzy (before the zxid the snapshot's digest was taken
        # at) per-txn digests cannot match; the snapshot's own digest is checked there
        target = snap_digest
        if target is not None and (target.zxid <= 0 or target.zxid < snap_zxid):
            target = None
        if target is not None and target.zxid == snap_zxid:
            self._compare_snapshot_digest(db, target)
            target = None
        if target is not None:
            db.fuzzy_until = max(db.fuzzy_until, target.zxid - 1)
        readers = log_readers(self.log_dir, snap_zxid + 1, self.max_entry, skip=True)
        highest = snap_zxid
        count = 0
        for reader in readers:
            for entry in reader:
                hdr = entry.hdr
                zxid = hdr.zxid
                if zxid <= snap_zxid:
                    continue
                if zxid < highest and highest != 0:
                    log.error("0x%x(highestZxid) > 0x%x(next log) for type %d", highest, zxid, hdr.type)
                else:
                    highest = zxid
                db.process_txn(hdr, entry.txn, entry.digest)
                if target is not None and zxid >= target.zxid:
                    if zxid == target.zxid:
                        self._compare_snapshot_digest(db, target)
                    target = None
                count += 1
        db.verify_digest()
        if target is not None:
            log.warning(
                "Highest txn zxid 0x%x is not covering the snapshot digest zxid 0x%x, "
                "which might lead to inconsistent state",
                tree.last_processed_zxid,
                target.zxid,
            )
        repaired = None
        if readers and _needs_repair(readers[-1]):
            truncate_torn_tail(readers[-1], self.io)
            repaired = readers[-1].path
        return count, repaired

    def fast_forward(self, db: ZKDatabase) -> int:
        """ZKDatabase.fastForwardDataBase: apply every logged txn after ``db``'s last zxid
        (a learner's logged proposals that no COMMIT reached); returns how many."""
        return self._replay(db, db.last_processed_zxid, None)[0]

    @staticmethod
    def _compare_snapshot_digest(db: ZKDatabase, target) -> None:
        tree = db.tree
        if tree.digest_enabled and target.digestVersion == 2 and target.digest != tree.digest():
            db.digest_mismatches += 1
            log.error(
                "Digests are not matching at zxid 0x%x: snapshot says %x, tree has %x",
                target.zxid,
                target.digest & (2**64 - 1),
                tree.digest() & (2**64 - 1),
            )

    @staticmethod
    def _kill_dead_sessions(db: ZKDatabase) -> int:
        """loadData's clean-up: ephemerals of sessions that no longer exist go (no txn)."""
        tree = db.tree
        dead = [sid for sid in tree.ephemerals if sid not in db.sessions_with_timeouts]
        for sid in dead:
            log.info("Killing dead session 0x%x found in the restored tree", sid & (2**64 - 1))
            tree.kill_session(sid, tree.last_processed_zxid, None)
        return len(dead)


def _needs_repair(reader: LogFileReader) -> bool:
    return reader.torn or reader.header is None
