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
    """Which sets of servers form a quorum (majority, hierarchical): QuorumVerifier."""

    voting_members = Attribute("mapping sid -> QuorumServer of the participants")
    observing_members = Attribute("mapping sid -> QuorumServer of the observers")
    version = Attribute("the config version (the hex ``version=`` of the membership)")

    def contains_quorum(sids):
        """True when ``sids`` (a set of server ids) is a quorum."""

    def weight(sid):
        """getWeight: a server of weight 0 never wins an election."""

    def to_string():
        """toString(): the membership text 3.8 sends in notifications and NEWLEADER."""


class IPeerTransport(Interface):
    """How a quorum peer's election reaches the others (QuorumCnxManager over TCP live, the
    same manager over an in-memory network under test).  Messages are whole payloads
    (notifications); framing and connections are the transport's business."""

    def send(sid, message):
        """Queue ``message`` for server ``sid`` (toSend: newest wins; to ourselves: loopback)."""

    def connect_all():
        """Dial every peer we hold a message for and have no connection to (connectAll)."""

    def have_delivered():
        """haveDelivered: True when some send queue is empty (3.8's test, kept as it is)."""


class IElectionTransport(Interface):
    """One election-port connection as the QuorumCnxManager core sees it: a byte pipe."""

    def write(data):
        """Send bytes, in order."""

    def close():
        """Close after what was written (half-written frames are never left behind)."""


class IElectionDialer(Interface):
    """Opens election-port connections for the QuorumCnxManager core (reactor.connectTCP
    live, the in-memory network under test).  The outcome comes back as
    ``manager.outgoing_connected(sid, transport)`` or ``manager.dial_failed(sid, reason)``."""

    def dial(manager, sid, host, port, timeout):
        """Start a connection to ``host:port`` for peer ``sid``; give up after ``timeout`` s."""
