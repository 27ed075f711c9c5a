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


class IZabEnvironment(Interface):
    """What a ZAB role core (Leader, Follower, Observer) asks of its surroundings.

    The cores are sans-IO: they call these and are called back through their own methods
    (``logged(zxid)`` once txns are durable, ``receive(peer, packet)``, ``half_tick()``).
    The same core runs under the in-memory simulation, the conformance runner and the
    quorum port's Twisted shells.  ``peer`` is the shell's handle for one quorum-port
    connection (the learner's sid in the simulation; the leader, for a learner).
    """

    def send(peer, packet):
        """Queue a QuorumPacket on ``peer``'s connection (in order, after what was sent)."""

    def close(peer):
        """Close ``peer``'s connection (the core has already forgotten it)."""

    def role_ended(reason):
        """The role is over (quorum lost, leader gone, protocol error): back to LOOKING."""

    def log(entries):
        """Append ``(zxid, data)`` txns (Util.marshallTxnEntry bytes) to the txn log, in
        zxid order, with group commit; call the core's ``logged(zxid)`` once every txn up
        to ``zxid`` is durable.  When the role ends, what is queued is still written
        before the next role reads the log (SyncRequestProcessor.shutdown flushes)."""

    def commit(zxid, data, request):
        """A txn is committed: apply it to the database now, in zxid order (``request``:
        what the leader's pipeline passed to ``propose``, else None)."""

    def write_accepted_epoch(epoch):
        """Write acceptedEpoch atomically and durably before returning."""

    def write_current_epoch(epoch):
        """Write currentEpoch atomically and durably before returning."""

    def serving(epoch):
        """The role is established (leader: a quorum ACKed NEWLEADER; learner: UPTODATE):
        start serving clients; the election vote's peerEpoch becomes ``epoch``."""


class ILeaderEnvironment(IZabEnvironment):
    """The leader's side: the SNAP stream and what learners ask of the leader's server."""

    def send_snapshot(peer):
        """Write the serialized database (SNAP stream, ending "BenWasHere") on ``peer``'s
        connection, right after the SNAP packet already sent."""

    def submit_learner_request(peer, sid, session_id, cxid, op, body, authinfo):
        """A REQUEST forwarded by learner ``sid`` on connection ``peer``: into the leader's
        request pipeline (a ``sync`` comes back as ``Leader.process_sync(peer)``)."""

    def touch(session_id, timeout):
        """A learner's PING reported ``session_id`` alive."""

    def revalidate_session(sid, session_id, timeout):
        """Is the session valid (and now owned by learner ``sid``)?  Returns a bool."""


class ILearnerEnvironment(IZabEnvironment):
    """The learner's side: its own log and database, and its server's sessions."""

    def last_logged_zxid():
        """ACKEPOCH's zxid: QuorumPeer.getLastLoggedZxid, the database's lastProcessedZxid
        (after a restore: the last logged txn, or the zxid the newest snapshot is named by)."""

    def truncate_log(zxid):
        """TRUNC: drop every txn after ``zxid`` from the log, and every snapshot named
        after ``zxid``, durably; reload the database from what is left (ZKDatabase
        .truncateLog).  False if what is left cannot rebuild the state at ``zxid``."""

    def load_snapshot(snapshot, zxid):
        """SNAP: replace the database with the leader's snapshot (not yet durable); its
        lastProcessedZxid becomes ``zxid`` (ZKDatabase.setlastProcessedZxid)."""

    def save_snapshot():
        """Make the database durable as a snapshot now (SNAP sync, at NEWLEADER), named by
        its lastProcessedZxid, so a restore ignores the old log's txns up to it."""

    def touches():
        """Sessions touched since the last PING, as ``(session_id, timeout)`` pairs."""

    def sync_done():
        """The leader answered the oldest forwarded ``sync``."""

    def revalidated(session_id, valid):
        """The leader's answer to a REVALIDATE."""
