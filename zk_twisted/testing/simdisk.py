"""The disk side of the simulation (:mod:`zk_twisted.testing.simulation`): fsync on demand.

:class:`ManualSyncWriter` stands in for the Sync stage's log thread
(``persistence.sync.SyncThread``, same interface): txns queue up, and a batch is written
and reported durable only when the driver takes an ``fsync`` event, so a crash loses
exactly what was queued and not fsync'd.  :class:`SimEpochDisk` is the epoch files' disk,
on which the driver can cut the power in the middle of a write.  :class:`SimStorage` is ``persistence.storage.Storage``
with that writer, an inline snapshot worker (:class:`InlineWorker`) whose cooperative walk
runs on the simulated clock, and a seeded snapshot schedule.  No persistence code changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from twisted.internet import defer
from twisted.python.failure import Failure

from ..persistence.diskio import DiskIO
from ..persistence.storage import Storage
from ..persistence.sync import ROLL, LogQueue, SnapshotTaker, SyncRequestProcessor
from .simnet import SimReactor

__all__ = ["InlineWorker", "ManualSyncWriter", "PowerCut", "SimEpochDisk", "SimStorage"]


class InlineWorker:
    """The snapshot worker thread's stand-in: each job runs at once, on the reactor."""

    def run(self, f: Callable, *args) -> defer.Deferred:
        return defer.maybeDeferred(f, *args)

    def stop(self) -> None:
        pass


class PowerCut(BaseException):
    """The power went in the middle of a disk operation (a BaseException: the node code
    must not catch it as an error of its own; Deferreds still may, hence ``SimEpochDisk.cut``)."""


class SimEpochDisk(DiskIO):
    """The real disk for a node's epoch files, except that the driver may :meth:`arm` a
    power cut just before the n-th next primitive operation: that one and every later one
    raise :class:`PowerCut` and do nothing, and ``cut`` tells the driver to crash the node.
    What was done before the cut stays on disk, as it is (the simulation's files hold what
    was written: there is no page cache to lose)."""

    def __init__(self) -> None:
        self.armed: int | None = None
        self.cut = False

    def arm(self, n: int) -> None:
        self.armed = max(1, n)

    def _op(self) -> None:
        if not self.cut and self.armed is not None:
            self.armed -= 1
            if self.armed == 0:
                self.cut, self.armed = True, None
        if self.cut:
            raise PowerCut()

    def create(self, path, mode=0o644):
        self._op()
        return super().create(path, mode)

    def open_write(self, path):
        self._op()
        return super().open_write(path)

    def pwrite(self, fd, data, offset):
        self._op()
        return super().pwrite(fd, data, offset)

    def fsync(self, fd):
        self._op()

    def fdatasync(self, fd):
        self._op()

    def truncate(self, fd, size):
        self._op()
        super().truncate(fd, size)

    def close(self, fd):
        super().close(fd)  # never cut: the descriptor is the process's, not the disk's

    def rename(self, src, dst):
        self._op()
        super().rename(src, dst)

    def unlink(self, path):
        self._op()
        super().unlink(path)

    def fsync_dir(self, directory):
        self._op()


class ManualSyncWriter:
    """SyncThread's stand-in: batches are written (and reported durable) only at
    :meth:`fsync`, which the simulation calls when its schedule says so.

    ``ack_before_fsync`` is a seeded bug for the tests: txns are reported durable as they
    are queued, and reach the disk only at the next fsync (a crash in between loses them).
    """

    def __init__(self, reactor: SimReactor, queue: LogQueue, ack_before_fsync: bool = False) -> None:
        self.reactor = reactor
        self.queue = queue
        self.ack_before_fsync = ack_before_fsync
        self._reported_ahead = 0
        self._stopping: defer.Deferred | None = None
        self.closed = False
        self.fsyncs = 0

    def start(self, on_durable, on_failure) -> None:
        self.on_durable, self.on_failure = on_durable, on_failure

    @property
    def pending(self) -> bool:
        return bool(self.queue.items) or (self._stopping is not None and not self.closed)

    def wake(self) -> None:
        if self.ack_before_fsync:
            queued = sum(1 for i in self.queue.items if i is not ROLL)
            new = queued - self._reported_ahead
            if new > 0:
                self._reported_ahead += new
                self.reactor.callLater(0, self.on_durable, new, 0.0)

    def fsync(self) -> None:
        """One batch to the disk (what SyncThread does per loop), then report it."""
        if self.queue.items:
            entries, roll = self.queue.take()
            try:
                self.queue.write(entries, roll)
            except Exception:  # noqa: BLE001 - reported as the log thread reports it
                self.on_failure(Failure())
                return
            self.fsyncs += 1
            if self.ack_before_fsync:
                self._reported_ahead -= len(entries)
            elif entries:
                self.on_durable(len(entries), 0.0)
        if not self.queue.items and self._stopping is not None and not self.closed:
            self.closed = True
            self.queue.txnlog.close()
            self._stopping.callback(None)

    def stop(self) -> defer.Deferred:
        """Write what is queued (at later fsync events), close the log."""
        if self._stopping is None:
            self._stopping = defer.Deferred()
        return self._stopping

    def crash(self) -> None:
        """Power off: what is queued is lost, the file descriptor is closed unwritten."""
        self.queue.items.clear()
        self.queue.txnlog._pending = []
        self.queue.txnlog._close_fd()
        self.closed = True


class SimStorage(Storage):
    """Storage with the simulation's Sync stage (:class:`ManualSyncWriter`), an inline
    snapshot worker and a seeded snapshot schedule."""

    def __init__(self, cfg, reactor, snaplog, restored, node) -> None:
        """``node``: the SimNode whose data dir this is (its simulation, seed and writers)."""
        super().__init__(cfg, reactor, snaplog, restored)
        self.snap_worker = InlineWorker()
        self.node = node

    def sync_factory(self, zks) -> SyncRequestProcessor:
        node = self.node
        snapshots = SnapshotTaker(self.snaplog, zks.db, self.snap_worker, cooperate=node.sim.cooperate)
        writer = ManualSyncWriter(
            self.reactor, LogQueue(self.snaplog.txn_log(), self.max_batch), node.sim.ack_before_fsync
        )
        node.writers.append(writer)
        self.sync = SyncRequestProcessor(
            zks,
            writer,
            snapshots,
            snap_count=self.cfg.snap_count,
            snap_size_bytes=self.cfg.snap_size_limit_bytes,
            fsync_warning_ms=self.snaplog.fsync_warning_ms,
            rng=random.Random(node.sim.seed * 1000 + node.sid),
            on_fatal=node.fatal,
        )
        self._schedule_startup_snapshot()
        return self.sync
