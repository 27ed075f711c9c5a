"""Wiring of the storage layer into a server: restore the database, build the Sync stage.

``open_storage`` runs before the reactor (from ``makeService``), as 3.8 loads its database
before it opens the client port: a damaged data dir stops start-up there with
:class:`~zk_twisted.persistence.errors.StorageError` naming the file and offset.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from twisted.internet import defer, task
from twisted.python.failure import Failure

from ..server.datatree import DataTree
from ..server.metrics import Summary
from ..server.zkdatabase import ZKDatabase
from .errors import StorageError
from .filetxnsnaplog import FileTxnSnapLog, RestoreResult
from .purge import MIN_RETAIN, purge
from .sync import LogQueue, SnapshotTaker, SyncRequestProcessor, SyncThread, WorkerThread

log = logging.getLogger(__name__)

__all__ = ["Storage", "StorageError", "open_storage"]

#: ZooKeeperServer.maxBatchSize: the most txns one fsync covers
DEFAULT_MAX_BATCH = 1000


class Storage:
    """The data dir of one server: its FileTxnSnapLog, worker threads and purge task."""

    def __init__(self, cfg, reactor, snaplog: FileTxnSnapLog, restored: RestoreResult) -> None:
        self.cfg = cfg
        self.reactor = reactor
        self.snaplog = snaplog
        self.restored = restored
        self.snap_worker = WorkerThread(reactor, "zk-snapshot")
        self.sync: SyncRequestProcessor | None = None
        self._purge_loop: task.LoopingCall | None = None
        self.max_batch = int(cfg.system_property("zookeeper.maxBatchSize") or DEFAULT_MAX_BATCH)
        self.retain = max(cfg.autopurge_snap_retain_count, MIN_RETAIN)
        self.purge_interval_h = cfg.autopurge_purge_interval
        #: what 3.8 records about start-up, for mntr
        self.metrics = {
            "startup_txns_loaded": Summary("startup_txns_loaded"),
            "startup_txns_load_time": Summary("startup_txns_load_time"),
            "startup_snap_load_time": Summary("startup_snap_load_time"),
            "dbinittime": Summary("dbinittime"),
        }
        #: the restore replayed txns no snapshot holds yet: the first server takes one
        self.startup_snapshot_due = bool(restored.txns_replayed and not restored.wrote_snapshot)
        self.metrics["startup_txns_loaded"].add(restored.txns_replayed)
        self.metrics["startup_txns_load_time"].add(round(restored.replay_ms))
        self.metrics["startup_snap_load_time"].add(round(restored.snapshot_ms))
        self.metrics["dbinittime"].add(round(restored.snapshot_ms + restored.replay_ms))

    def sync_factory(self, zks) -> SyncRequestProcessor:
        """ZooKeeperServer's Sync stage, writing to this data dir."""
        snapshots = SnapshotTaker(self.snaplog, zks.db, self.snap_worker)
        writer = SyncThread(self.reactor, LogQueue(self.snaplog.txn_log(), self.max_batch))
        self.sync = SyncRequestProcessor(
            zks,
            writer,
            snapshots,
            snap_count=self.cfg.snap_count,
            snap_size_bytes=self.cfg.snap_size_limit_bytes,
            fsync_warning_ms=self.snaplog.fsync_warning_ms,
            on_fatal=fail_stop,
        )
        self._schedule_startup_snapshot()
        return self.sync

    def _schedule_startup_snapshot(self) -> None:
        """3.8 takes a snapshot at start (ZooKeeperServer.loadData); ours is fuzzy, after
        serving has begun, and only for the first server made on this data dir.  An ensemble
        learner takes none (``startup_snapshot_due`` cleared): it syncs first, and a TRUNC must
        not race a snapshot of txns it is about to drop."""
        if self.startup_snapshot_due:
            self.startup_snapshot_due = False
            self.reactor.callLater(0, self.sync.take_snapshot)

    # ------------------------------------------------------------------ purge
    def start_purge(self, reactor) -> None:
        """DatadirCleanupManager.start: purge now and every purgeInterval hours (0 = never)."""
        log.info("autopurge.snapRetainCount set to %d", self.retain)
        log.info("autopurge.purgeInterval set to %d", self.purge_interval_h)
        if self.purge_interval_h <= 0:
            log.info("Purge task is not scheduled.")
            return
        loop = self._purge_loop = task.LoopingCall(self.purge_now)
        loop.clock = reactor
        loop.start(self.purge_interval_h * 3600.0, now=True).addErrback(
            lambda f: log.error("Purge task stopped: %s", f.getTraceback())
        )

    def purge_now(self) -> defer.Deferred:
        """One PurgeTask run, in the snapshot worker thread (it only deletes old files)."""
        log.info("Purge task started.")
        d = self.snap_worker.run(purge, self.cfg_data_dir, self.cfg_data_log_dir, self.retain)

        def done(result):
            log.info("Purge task completed.")
            return result

        def failed(f: Failure):
            log.error("Error occurred while purging: %s", f.getErrorMessage())

        return d.addCallbacks(done, failed)

    @property
    def cfg_data_dir(self) -> Path:
        return self.snaplog.data_dir.parent

    @property
    def cfg_data_log_dir(self) -> Path:
        return self.snaplog.log_dir.parent

    # ------------------------------------------------------------------ stop
    def close(self) -> defer.Deferred:
        """After the Sync stage has shut down: stop the purge task and the worker threads."""
        if self._purge_loop is not None and self._purge_loop.running:
            self._purge_loop.stop()
        self.snap_worker.stop()
        return defer.succeed(None)


def fail_stop(failure: Failure) -> None:
    """The txn log cannot be written: stop at once, answering nothing more (crash-only).

    3.8's SyncRequestProcessor thread dies and the server shuts down; a graceful stop
    would try to flush the same log again, so we exit without one.
    """
    log.critical("Exiting: the txn log is not writable (%s)", failure.getErrorMessage())
    logging.shutdown()
    os._exit(1)


def open_storage(cfg, reactor) -> tuple[Storage, ZKDatabase, object]:
    """Restore the database from ``cfg``'s data dirs; return ``(storage, db, sync_factory)``."""
    snaplog = FileTxnSnapLog(
        Path(cfg.data_dir),
        Path(cfg.data_log_dir),
        prealloc=cfg.pre_alloc_size,
        force_sync=cfg.force_sync,
        max_entry=cfg.jute_maxbuffer + max(cfg.jute_maxbuffer, 1024),
        fsync_warning_ms=cfg.fsync_warning_threshold_ms,
        trust_empty_snapshot=(cfg.system_property("zookeeper.snapshot.trust.empty") or "").lower() == "true",
        log_size_limit=cfg.txn_log_size_limit_kb * 1024,
    )
    db = ZKDatabase(DataTree(extended_types=cfg.extended_types_enabled, digest_enabled=cfg.digest_enabled))
    restored = snaplog.restore(db)
    log.info(
        "Restored zxid 0x%x from %s + %d logged txns (snapshot %.0f ms, log %.0f ms)",
        restored.zxid,
        restored.snapshot.name if restored.snapshot else "an empty database",
        restored.txns_replayed,
        restored.snapshot_ms,
        restored.replay_ms,
    )
    storage = Storage(cfg, reactor, snaplog, restored)
    return storage, db, storage.sync_factory
