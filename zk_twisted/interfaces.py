"""Every seam where parts are swapped, in one place (zope.interface)."""

from __future__ import annotations

from zope.interface import Attribute, Interface


class ISyncProcessor(Interface):
    """The Sync stage of the request chain: makes prepared txns durable.

    The core calls :meth:`process` with each request that carries a txn, in zxid order;
    the sync processor later calls ``zks.commit(requests)`` on the reactor thread, in the
    same order, once every one of them is on disk (group commit: one fsync per batch).
    """

    def process(request):
        """Queue one prepared txn request for logging."""

    def shutdown():
        """Flush what is queued; return a Deferred (or None) that fires when done."""


class ITxnLog(Interface):
    """A txn log in ZooKeeper's format (FileTxnLog).  Blocking: used from one writer thread."""

    def append(hdr, txn, digest):
        """Serialize and buffer one txn entry; False if ``hdr`` is None (nothing logged)."""

    def append_entry(zxid, entry):
        """Buffer an entry already marshalled (the Sync stage marshals on the reactor)."""

    def append_entries(entries):
        """Buffer ``(zxid, entry)`` pairs already marshalled, in zxid order (one batch)."""

    def commit():
        """Write buffered entries and (with forceSync) fsync them; returns the fsync's ms."""

    def roll_log():
        """Start a new log file at the next append (after a snapshot is started)."""

    def close():
        """Flush and close the current file."""


class ITxnSnapLog(Interface):
    """FileTxnSnapLog: the data dir (snapshots) and data log dir (txn logs) together."""

    data_dir = Attribute("the snapshot directory (dataDir/version-2)")
    log_dir = Attribute("the txn log directory (dataLogDir/version-2)")

    def restore(db):
        """Load the newest valid snapshot into ``db``, replay the log after it; return what
        was done (a RestoreResult: last zxid, snapshot used, txns replayed, timings)."""

    def txn_log():
        """A new :class:`ITxnLog` appending to ``log_dir``."""

    def save(db):
        """Write a snapshot of ``db`` now (nothing may change meanwhile); returns its path."""


class IQuorumVerifier(Interface):
    """Which sets of servers form a quorum (majority, hierarchical)."""

    def contains_quorum(sids):
        """True when ``sids`` (a set of server ids) is a quorum."""

    voting_members = Attribute("mapping sid -> QuorumServer of the participants")


class IPeerTransport(Interface):
    """How a quorum peer reaches the others (TCP live, an in-memory network under test)."""

    def send(sid, message):
        """Queue ``message`` for server ``sid``."""
