"""The Sync stage: group commit of txns to the log, and when to take a snapshot.

SyncRequestProcessor of 3.8 on Twisted.  The reactor marshals each txn as it arrives
(:meth:`SyncRequestProcessor.process`); one worker thread writes and fdatasyncs them.
While a write + fsync is running, new txns queue up; when it finishes, everything that
piled up meanwhile (at most ``max_batch``, ZooKeeper's 1000) goes out as the next batch,
with one write and one fsync.  ``zks.commit(batch)`` is called on the reactor after the
fsync that covers the batch, so a client hears about its write only once it is on disk.

Every ``snapCount / 2 + random(snapCount / 2)`` txns (or the same rule on bytes for
``snapSizeLimitInKb``) the log is rolled after the current txn and a fuzzy snapshot starts
(:class:`SnapshotTaker`), unless one is still running ("Too busy to snap, skipping").
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ..interfaces import ISyncProcessor
from ..server.metrics import Summary
from .filetxnsnaplog import FileTxnSnapLog
from .snapshot import SnapshotFileWriter, SnapshotSerializer
from .txnlog import FileTxnLog, marshal_entry

log = logging.getLogger(__name__)

#: queue marker: the log rolls after the txn before it
_ROLL = object()


class WorkerThread:
    """One named thread running blocking jobs one at a time, in submission order."""

    def __init__(self, reactor, name: str) -> None:
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=1, name=name)
        self.started = False

    def run(self, f: Callable, *args) -> defer.Deferred:
        if not self.started:
            self.pool.start()
            self.started = True
        return deferToThreadPool(self.reactor, self.pool, f, *args)

    def stop(self) -> None:
        if self.started:
            self.pool.stop()
            self.started = False


class SnapshotTaker:
    """Fuzzy snapshots: the tree is walked on the reactor in small cooperative steps
    (the server keeps serving between them) while a worker thread writes the bytes."""

    #: bytes handed to the writer at a time, and how far it may fall behind
    CHUNK = 1 << 20
    MAX_IN_FLIGHT = 16 << 20

    def __init__(
        self,
        snaplog: FileTxnSnapLog,
        db,
        worker: WorkerThread,
        cooperate: Callable = task.cooperate,
        nodes_per_step: int = 64,
    ) -> None:
        self.snaplog = snaplog
        self.db = db
        self.worker = worker
        self.cooperate = cooperate
        self.nodes_per_step = nodes_per_step
        self.in_progress: defer.Deferred | None = None
        self.taken = 0
        #: how long each snapshot took (ms), mntr's snapshottime
        self.timings = Summary("snapshottime")
        self.last_path: Path | None = None
        self.last_ms = 0.0
        self.last_nodes = 0
        self._task = None
        self._waiters: list[defer.Deferred] = []

    def take(self) -> defer.Deferred | None:
        """Start a snapshot; None (nothing started) while the previous one still runs."""
        if self.in_progress is not None:
            return None
        d = self.in_progress = self._take()
        d.addBoth(self._finished)
        return d

    def _finished(self, result):
        self.in_progress = None
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            w.callback(None)
        return result

    def idle(self) -> defer.Deferred:
        """Fires once no snapshot is running."""
        if self.in_progress is None:
            return defer.succeed(None)
        d: defer.Deferred = defer.Deferred()
        self._waiters.append(d)
        return d

    @defer.inlineCallbacks
    def _take(self):
        t0 = time.monotonic()
        ser = SnapshotSerializer(self.db)
        log.info("Snapshotting: 0x%x to %s", ser.zxid, self.snaplog.data_dir)
        writer = yield self.worker.run(
            SnapshotFileWriter, self.snaplog.data_dir, ser.zxid, self.snaplog.force_sync
        )
        try:
            self._task = self.cooperate(self._stream(ser, writer))
            yield self._task.whenDone()
            # the prefix and the digest are read now, on the reactor, when the walk is complete
            path = yield self.worker.run(writer.finish, ser.prefix(), ser.digest_trailer())
        except BaseException:
            yield self.worker.run(writer.abort)
            raise
        finally:
            self._task = None
        self.taken += 1
        self.last_path = path
        self.last_nodes = ser.nodes_written
        self.last_ms = (time.monotonic() - t0) * 1000.0
        self.timings.add(round(self.last_ms))
        log.info("Snapshot taken in %d ms: %s (%d znodes)", self.last_ms, path.name, ser.nodes_written)
        return path

    def _stream(self, ser: SnapshotSerializer, writer: SnapshotFileWriter):
        """The cooperative walk: one step per few nodes; pauses while the writer lags."""
        state = {"in_flight": 0, "failure": None}

        def written(_, n):
            state["in_flight"] -= n

        def failed(f):
            state["failure"] = state["failure"] or f

        def send(data: bytes) -> defer.Deferred:
            state["in_flight"] += len(data)
            d = self.worker.run(writer.write_nodes, data)
            d.addCallbacks(written, failed, callbackArgs=(len(data),))
            return d

        parts: list[bytes] = []
        size = 0
        last = None
        for chunk in ser.node_chunks(self.nodes_per_step):
            parts.append(chunk)
            size += len(chunk)
            if size >= self.CHUNK:
                last = send(b"".join(parts))
                parts, size = [], 0
                if state["in_flight"] > self.MAX_IN_FLIGHT:
                    yield last
            else:
                yield None
            if state["failure"] is not None:
                state["failure"].raiseException()
        last = send(b"".join(parts))
        yield last
        if state["failure"] is not None:
            state["failure"].raiseException()

    def abort(self) -> None:
        """Stop a running snapshot (server shutdown); its temporary files are removed."""
        if self._task is not None:
            self._task.stop()


@implementer(ISyncProcessor)
class SyncRequestProcessor:
    """Group commit to the txn log; counters for ``mntr``:

    ``fsync_count`` batches made durable, ``txns_logged`` txns in them,
    ``fsync_time_ms_total`` / ``last_fsync_ms`` time spent in fdatasync, ``last_batch`` /
    ``max_batch_seen`` batch sizes, ``queued`` txns waiting for the next batch,
    ``snapshots`` the :class:`SnapshotTaker` (``taken``, ``in_progress``, ``last_ms``),
    and ``metrics``: 3.8's summaries ``fsynctime``, ``sync_processor_batch_size``,
    ``snapshottime``.
    """

    def __init__(
        self,
        zks,
        txnlog: FileTxnLog,
        worker: WorkerThread,
        snapshots: SnapshotTaker,
        *,
        snap_count: int = 100000,
        snap_size_bytes: int = 4194304 * 1024,
        max_batch: int = 1000,
        fsync_warning_ms: int = 1000,
        rng: random.Random | None = None,
        on_fatal: Callable[[Failure], None] | None = None,
    ) -> None:
        self.zks = zks
        self.txnlog = txnlog
        self.worker = worker
        self.snapshots = snapshots
        self.snap_count = max(snap_count, 2)
        self.snap_size_bytes = snap_size_bytes
        self.max_batch = max_batch
        self.fsync_warning_ms = fsync_warning_ms
        self.rng = rng or random.Random()
        self.on_fatal = on_fatal
        self._queue: deque = deque()
        self._writing = False
        self._stopping: defer.Deferred | None = None
        self._closed = False
        self.failed: Failure | None = None
        self.log_count = 0
        self.log_bytes = 0
        self._reset_snapshot_stats()
        # counters
        self.fsync_count = 0
        self.txns_logged = 0
        self.fsync_time_ms_total = 0.0
        self.last_fsync_ms = 0.0
        self.last_batch = 0
        self.max_batch_seen = 0
        #: 3.8's summaries of the same events, for mntr
        self.metrics = {
            "fsynctime": Summary("fsynctime"),
            "sync_processor_batch_size": Summary("sync_processor_batch_size"),
            "snapshottime": snapshots.timings,
        }

    # ------------------------------------------------------------------ reactor side
    def process(self, req) -> None:
        """Queue one prepared txn (in zxid order); it is answered after its fsync."""
        if self._closed:
            log.debug("Dropping %r: the txn log is closed", req)
            return
        entry = marshal_entry(req.hdr, req.txn, req.digest)
        self._queue.append((req, req.hdr.zxid, entry))
        self.log_count += 1
        self.log_bytes += len(entry)
        if self._should_snapshot():
            self._reset_snapshot_stats()
            self._queue.append(_ROLL)
            self.take_snapshot()
        if not self._writing:
            self._flush()

    def take_snapshot(self) -> defer.Deferred | None:
        d = self.snapshots.take()
        if d is None:
            log.warning("Too busy to snap, skipping")
            return None
        d.addErrback(self._snapshot_failed)
        return d

    @property
    def queued(self) -> int:
        return sum(1 for item in self._queue if item is not _ROLL)

    def _should_snapshot(self) -> bool:
        return self.log_count > self.snap_count // 2 + self._rand_roll or (
            self.snap_size_bytes > 0 and self.log_bytes > self.snap_size_bytes // 2 + self._rand_size
        )

    def _reset_snapshot_stats(self) -> None:
        self.log_count = 0
        self.log_bytes = 0
        self._rand_roll = self.rng.randrange(self.snap_count // 2)
        half = self.snap_size_bytes // 2
        self._rand_size = self.rng.randrange(half) if half > 0 else 0

    def _flush(self) -> None:
        if self._writing or self.failed is not None:
            return
        batch: list = []
        entries: list[tuple[int, bytes]] = []
        roll = False
        queue = self._queue
        while queue and len(batch) < self.max_batch:
            item = queue.popleft()
            if item is _ROLL:
                roll = True
                break
            batch.append(item[0])
            entries.append((item[1], item[2]))
        if not batch and not roll:
            if self._stopping is not None and not self._closed:
                self._close()
            return
        self._writing = True
        d = self.worker.run(self._write, entries, roll)
        d.addCallbacks(self._written, self._write_failed, callbackArgs=(batch,))

    def _written(self, fsync_ms: float, batch: list) -> None:
        n = len(batch)
        if n:
            self.fsync_count += 1
            self.txns_logged += n
            self.fsync_time_ms_total += fsync_ms
            self.last_fsync_ms = fsync_ms
            self.last_batch = n
            self.max_batch_seen = max(self.max_batch_seen, n)
            self.metrics["fsynctime"].add(round(fsync_ms))
            self.metrics["sync_processor_batch_size"].add(n)
            if fsync_ms > self.fsync_warning_ms:
                self.zks.stats.fsync_threshold_exceeded += 1
        try:
            if n:
                self.zks.commit(batch)
        finally:
            self._writing = False
            self._flush()

    def _write_failed(self, failure: Failure) -> None:
        """The log could not be written: nothing in the batch (or after it) may be answered."""
        self._writing = False
        self.failed = failure
        log.critical("Severe unrecoverable error writing the txn log: %s", failure.getErrorMessage())
        if self._stopping is not None:
            self._stopping.errback(failure)
        elif self.on_fatal is not None:
            self.on_fatal(failure)

    def _snapshot_failed(self, failure: Failure) -> None:
        # the log still holds every txn: keep serving, as the next snapshot may succeed
        if failure.check(defer.CancelledError, task.TaskStopped):
            return None
        log.error("Unable to take a snapshot: %s", failure.getTraceback())
        return None

    # ------------------------------------------------------------------ worker side
    def _write(self, entries: list[tuple[int, bytes]], roll: bool) -> float:
        txnlog = self.txnlog
        for zxid, entry in entries:
            txnlog.append_entry(zxid, entry)
        fsync_ms = txnlog.commit() if entries else 0.0
        if roll:
            txnlog.roll_log()
        return fsync_ms

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> defer.Deferred:
        """Write (and answer) what is queued, stop any snapshot, close the log."""
        if self._stopping is None:
            self._stopping = defer.Deferred()
            self.snapshots.abort()
            if self.failed is not None:
                self._stopping.errback(self.failed)
            elif not self._writing:
                self._flush()
        return self._stopping

    def _close(self) -> None:
        """After the last batch: wait for an aborted snapshot to clean up, close the log."""
        self._closed = True
        d = self.snapshots.idle()
        d.addCallback(lambda _: self.worker.run(self.txnlog.close))
        d.chainDeferred(self._stopping)
