"""The Sync stage: group commit of txns to the log, and when to take a snapshot.

SyncRequestProcessor of 3.8 on Twisted.  The reactor marshals each txn as it arrives
(:meth:`SyncRequestProcessor.process`) and queues it for the log's own thread
(:class:`SyncThread`), which writes and fdatasyncs.  While a write + fsync is running, new
txns queue up; when it finishes, everything that piled up meanwhile (at most
``maxBatchSize``, ZooKeeper's 1000) goes out as the next batch, with one write and one
fsync.  ``zks.commit(batch)`` is called on the reactor after the fsync that covers the
batch, so a client hears about its write only once it is on disk.

Every ``snapCount / 2 + random(snapCount / 2)`` txns (or the same rule on bytes for
``snapSizeLimitInKb``) the log is rolled after the current txn and a fuzzy snapshot starts
(:class:`SnapshotTaker`), unless one is still running ("Too busy to snap, skipping").
"""

from __future__ import annotations

import logging
import random
import threading
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
from .txnlog import FileTxnLog, frame_entry, marshal_entry

log = logging.getLogger(__name__)

#: queue mark: the log rolls after the txns before it
ROLL = object()


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
            # its thread would otherwise keep the process alive if the reactor stops first
            self.reactor.addSystemEventTrigger("during", "shutdown", self.stop)
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
        self._aborted = False
        self._waiters: list[defer.Deferred] = []

    def take(self) -> defer.Deferred | None:
        """Start a snapshot; None (nothing started) while the previous one still runs."""
        if self.in_progress is not None:
            return None
        self._aborted = False
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
            SnapshotFileWriter, self.snaplog.data_dir, ser.zxid, self.snaplog.force_sync, self.snaplog.io
        )
        try:
            yield self.cooperate(self._stream(ser, writer)).whenDone()
            # the prefix and the digest are read now, on the reactor, when the walk is complete
            path = yield self.worker.run(writer.finish, ser.prefix(), ser.digest_trailer())
        except BaseException:
            yield self.worker.run(writer.abort)
            raise
        self.taken += 1
        self.last_path = self.snaplog.last_snapshot = path
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
            if self._aborted:
                raise defer.CancelledError("snapshot aborted")
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
        self._aborted = True


class LogQueue:
    """What the reactor hands the log writer: marshalled txns in zxid order, and roll marks.

    :meth:`put` runs on the reactor, :meth:`take` and :meth:`write` in the writer thread
    (deque appends and pops are atomic, so the two sides need no lock).
    """

    def __init__(self, txnlog: FileTxnLog, max_batch: int = 1000) -> None:
        self.txnlog = txnlog
        self.max_batch = max_batch
        self.items: deque = deque()

    def put(self, item) -> None:
        """``(zxid, entry)``, or :data:`ROLL`: the log rolls after the txns before it."""
        self.items.append(item)

    def take(self) -> tuple[list[tuple[int, bytes]], bool]:
        """The next batch: everything queued, up to ``max_batch`` txns or a roll mark.

        Runs in the writer thread holding the GIL, which the reactor then waits for:
        items move in C-level steps, not one Python statement each.
        """
        items = self.items
        popleft = items.popleft
        batch = [popleft() for _ in range(min(len(items), self.max_batch))]
        if ROLL not in batch:
            return batch, False
        i = batch.index(ROLL)
        items.extendleft(reversed(batch[i + 1 :]))  # back in front, in order
        return batch[:i], True

    def write(self, entries: list[tuple[int, bytes]], roll: bool) -> float:
        """Write one batch, fsync it once, roll if asked; returns the fsync's ms (blocking)."""
        txnlog = self.txnlog
        fsync_ms = 0.0
        if entries:
            txnlog.append_entries(entries)
            fsync_ms = txnlog.commit()
        if roll:
            txnlog.roll_log()
        return fsync_ms


class SyncThread:
    """SyncRequestProcessor's own thread: take everything queued, write it, fsync once,
    report it durable, and go again.

    The next batch starts as soon as an fsync returns; answering the clients of the last
    batch happens on the reactor meanwhile, so the disk never waits for the reactor.
    """

    def __init__(self, reactor, queue: LogQueue, name: str = "zk-sync") -> None:
        self.reactor = reactor
        self.queue = queue
        self.name = name
        self._wake = threading.Event()
        self.sleeping = False
        self._stop = False
        self._done: defer.Deferred = defer.Deferred()

    def start(self, on_durable: Callable[[int, float], None], on_failure: Callable[[Failure], None]) -> None:
        self.on_durable = on_durable
        self.on_failure = on_failure
        threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def wake(self) -> None:
        """After :meth:`LogQueue.put` (reactor): make sure the thread is not asleep.

        ``sleeping`` is set by the thread before it looks at the queue a last time and
        waits, so a put either is seen by that look or finds ``sleeping`` and sets the event.
        """
        if self.sleeping:
            self.sleeping = False
            self._wake.set()

    def stop(self) -> defer.Deferred:
        """Write what is queued, close the log; fires (on the reactor) once the thread is gone."""
        self._stop = True
        self._wake.set()
        return self._done

    def _run(self) -> None:
        queue = self.queue
        call = self.reactor.callFromThread
        try:
            while True:
                if not queue.items:
                    if self._stop:
                        break
                    self._wake.clear()
                    self.sleeping = True
                    if not queue.items and not self._stop:
                        self._wake.wait()
                    self.sleeping = False
                    continue
                entries, roll = queue.take()
                fsync_ms = queue.write(entries, roll)
                call(self.on_durable, len(entries), fsync_ms)
            queue.txnlog.close()
        except BaseException:
            call(self.on_failure, Failure())
        call(self._done.callback, None)


@implementer(ISyncProcessor)
class SyncRequestProcessor:
    """Group commit to the txn log, and snapshot scheduling.  Counters for ``mntr``:

    ``fsync_count`` batches made durable, ``txns_logged`` txns in them,
    ``fsync_time_ms_total`` / ``last_fsync_ms`` time spent in fdatasync, ``last_batch`` /
    ``max_batch_seen`` batch sizes, ``pending`` txns waiting for their fsync,
    ``snapshots`` the :class:`SnapshotTaker` (``taken``, ``in_progress``, ``last_ms``),
    and ``metrics``: 3.8's summaries ``fsynctime``, ``sync_processor_batch_size``,
    ``snapshottime``.
    """

    def __init__(
        self,
        zks,
        writer: SyncThread,
        snapshots: SnapshotTaker,
        *,
        snap_count: int = 100000,
        snap_size_bytes: int = 4194304 * 1024,
        fsync_warning_ms: int = 1000,
        rng: random.Random | None = None,
        on_fatal: Callable[[Failure], None] | None = None,
    ) -> None:
        self.zks = zks
        self.writer = writer
        self.queue = writer.queue
        self._put = writer.queue.put
        self.snapshots = snapshots
        self.snap_count = max(snap_count, 2)
        self.snap_size_bytes = snap_size_bytes
        self.fsync_warning_ms = fsync_warning_ms
        self.rng = rng or random.Random()
        self.on_fatal = on_fatal
        #: requests whose txns are queued or being written, in zxid order
        self._pending: deque = deque()
        self._stopping: defer.Deferred | None = None
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
        writer.start(self._durable, self._write_failed)

    # ------------------------------------------------------------------ reactor side
    def process(self, req) -> None:
        """Queue one prepared txn (in zxid order); it is answered after its fsync."""
        if self._stopping is not None or self.failed is not None:
            log.debug("Dropping %r: the txn log is closed", req)
            return
        hdr = req.hdr
        body = req.txn_bytes
        entry = marshal_entry(hdr, req.txn, req.digest) if body is None else frame_entry(body)
        self._pending.append(req)
        self._put((hdr.zxid, entry))
        self.log_count += 1
        self.log_bytes += len(entry)
        if self.log_count > self._roll_at_count or self.log_bytes > self._roll_at_bytes:
            self._reset_snapshot_stats()
            self._put(ROLL)
            self.take_snapshot()
        self.writer.wake()

    def take_snapshot(self) -> defer.Deferred | None:
        d = self.snapshots.take()
        if d is None:
            log.warning("Too busy to snap, skipping")
            return None
        d.addErrback(self._snapshot_failed)
        return d

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _reset_snapshot_stats(self) -> None:
        """Roll after snapCount/2 + random(snapCount/2) txns, or the same rule on log bytes
        (snapSizeLimitInKb; <= 0: no size rule), so servers do not snapshot in step."""
        self.log_count = 0
        self.log_bytes = 0
        half = self.snap_count // 2
        self._roll_at_count = half + self.rng.randrange(half)
        half = self.snap_size_bytes // 2
        self._roll_at_bytes = half + self.rng.randrange(half) if half > 0 else float("inf")

    def _durable(self, n: int, fsync_ms: float) -> None:
        """The next ``n`` txns are on disk: apply and answer them."""
        if not n:
            return
        pending = self._pending
        batch = [pending.popleft() for _ in range(n)]
        self.fsync_count += 1
        self.txns_logged += n
        self.fsync_time_ms_total += fsync_ms
        self.last_fsync_ms = fsync_ms
        self.last_batch = n
        self.max_batch_seen = max(self.max_batch_seen, n)
        self.metrics["fsynctime"].add(int(fsync_ms))  # whole ms, truncated, as 3.8
        self.metrics["sync_processor_batch_size"].add(n)
        if fsync_ms > self.fsync_warning_ms:
            self.zks.stats.fsync_threshold_exceeded += 1
        self.zks.commit(batch)

    def _write_failed(self, failure: Failure) -> None:
        """The log could not be written: nothing still pending may be answered."""
        self.failed = failure
        log.critical("Severe unrecoverable error writing the txn log: %s", failure.getErrorMessage())
        if self._stopping is None and self.on_fatal is not None:
            self.on_fatal(failure)

    def _snapshot_failed(self, failure: Failure) -> None:
        # the log still holds every txn: keep serving, as the next snapshot may succeed
        if failure.check(defer.CancelledError):
            return None
        log.error("Unable to take a snapshot: %s", failure.getTraceback())
        return None

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> defer.Deferred:
        """Write (and answer) what is queued, stop any snapshot, close the log."""
        if self._stopping is None:
            self.snapshots.abort()
            d = self.snapshots.idle()
            d.addCallback(lambda _: self.writer.stop())
            d.addCallback(lambda _: self.failed)  # a Failure here fails the shutdown
            self._stopping = d
        return self._stopping
