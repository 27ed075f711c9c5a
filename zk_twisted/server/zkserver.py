"""ZooKeeperServer: connections, sessions and the processor chain Prep -> Sync -> Final.

Sans-IO: time comes from an injected clock (anything with ``seconds()``: a monotonic clock
live, ``twisted.internet.task.Clock`` under test) that times sessions and latencies, and an
injected wall clock (``wall_clock()``, seconds; by default the same clock) for what 3.8
takes from Time.currentWallTime: txn times (ctime / mtime) and the age of containers and TTL
nodes.  As in 3.8 (Time.currentElapsedTime) a step of the wall clock then expires nothing;
connections are :class:`ServerCnxn` objects;
durability comes from an injected sync processor (``process(request)``) that later calls
:meth:`ZooKeeperServer.commit` with the requests whose txns are on disk, in zxid order.

Ordering: a session's requests are answered in the order they were sent.  A read with
no write of its own session in flight is answered at once; otherwise it waits behind
that write (CommitProcessor's rule), so reads of other sessions never queue behind disk.
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..constants import NOTIFICATION_XID, Code, KeeperState, Op
from ..jute import JuteError
from ..jute import records as R
from .acl import AclList, AuthProviders
from .cnxn import ServerCnxn
from .datatree import TTL, ephemeral_type
from .final import FinalRequestProcessor, StreamedReply, reply_frame
from .metrics import BufferStats, Summary
from .prep import PrepRequestProcessor
from .request import VALID_TYPES, Request
from .sessions import SessionTracker, generate_passwd
from .zkdatabase import ZKDatabase

log = logging.getLogger(__name__)

_HDR = struct.Struct(">ii")
_I32 = struct.Struct(">i")
_EVENT_HDR = struct.Struct(">iiqiiii")  # frame len, xid -1, zxid -1, err 0, type, state


class CloseConnection(Exception):
    """Close this client connection (ZooKeeper's CloseRequestException)."""


@dataclass(frozen=True)
class ServerSettings:
    tick_time: int = 2000
    min_session_timeout: int = 4000
    max_session_timeout: int = 40000
    #: top byte of session ids (standalone: 1, as createSessionTrackerServerId)
    session_server_id: int = 1
    max_buffer: int = 0xFFFFF
    global_outstanding_limit: int = 1000
    reconfig_enabled: bool = False
    super_digest: str | None = None
    digest_auth_enabled: bool = True
    container_check_interval_ms: int = 60000
    container_max_per_minute: int = 10000
    container_max_never_used_ms: int = 0
    enforce_quota: bool = False


@dataclass
class ServerStats:
    packets_received: int = 0
    packets_sent: int = 0
    fsync_threshold_exceeded: int = 0
    auth_failed: int = 0
    # for 'mntr' (3.8's readlatency / updatelatency, client_response_size, counters)
    read_latency: Summary = field(default_factory=lambda: Summary("readlatency", percentiles=True))
    update_latency: Summary = field(default_factory=lambda: Summary("updatelatency", percentiles=True))
    response_sizes: BufferStats = field(default_factory=BufferStats)
    connection_requests: int = 0
    sessions_expired: int = 0
    #: what the two counters above held at earlier resets (the Prometheus export never resets)
    connection_requests_carried: int = 0
    sessions_expired_carried: int = 0

    # ServerStats' own latency figures cover every answered request: reads and updates
    # together, reset together ('srst'), so they are derived rather than counted twice
    @property
    def count(self) -> int:
        return self.read_latency.count + self.update_latency.count

    @property
    def total_latency(self) -> int:
        return self.read_latency.total + self.update_latency.total

    @property
    def min_latency(self) -> int:
        """-1 until a request was answered."""
        mins = [m for m in (self.read_latency.min, self.update_latency.min) if m is not None]
        return min(mins) if mins else -1

    @property
    def max_latency(self) -> int:
        return max(self.read_latency.max or 0, self.update_latency.max or 0)

    def reset(self) -> None:
        """'srst': ServerStats.reset also resets 3.8's metrics (not its gauges)."""
        self.packets_received = self.packets_sent = 0
        self.read_latency.reset()
        self.update_latency.reset()
        self.response_sizes.reset()
        self.connection_requests_carried += self.connection_requests
        self.sessions_expired_carried += self.sessions_expired
        self.connection_requests = self.sessions_expired = 0


class ImmediateSync:
    """A sync stage with no disk: txns are 'durable' as soon as they are prepared."""

    def __init__(self, zks: ZooKeeperServer) -> None:
        self.zks = zks

    def process(self, req: Request) -> None:
        self.zks.commit([req])

    def shutdown(self) -> None:
        return None


class ZooKeeperServer:
    #: ReadOnlyZooKeeperServer (an ensemble member cut off from its quorum) says True
    read_only = False

    def __init__(
        self,
        settings: ServerSettings,
        db: ZKDatabase,
        clock,
        sync_factory: Callable | None = None,
        wall_clock: Callable[[], float] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.clock = clock
        self._wall = wall_clock if wall_clock is not None else clock.seconds
        self.zxid = db.last_processed_zxid
        now = self.now_ms()
        self.sessions = SessionTracker(settings.tick_time, settings.session_server_id, now, self.wall_time())
        for sid, timeout in db.sessions_with_timeouts.items():
            self.sessions.track_session(sid, timeout, now)
        self.auth = AuthProviders(settings.super_digest, settings.digest_auth_enabled)
        self.reconfig_enabled = settings.reconfig_enabled
        self.prep = PrepRequestProcessor(self)
        self.final = FinalRequestProcessor(self)
        self.sync = sync_factory(self) if sync_factory is not None else ImmediateSync(self)
        self.stats = ServerStats()
        self.cnxns: set[ServerCnxn] = set()
        self.session_cnxn: dict[int, ServerCnxn] = {}
        #: per session: requests that wait for an earlier txn of that session to be applied
        self.waiting: dict[int, deque[Request]] = {}
        self.in_process = 0
        self.running = True
        self.on_shutdown: list[Callable[[], None]] = []
        db.tree.on_event = self.deliver_event

    # ------------------------------------------------------------------ time & ids
    def now_ms(self) -> int:
        """Monotonic milliseconds (Time.currentElapsedTime): sessions, latencies."""
        return int(self.clock.seconds() * 1000)

    def wall_time(self) -> int:
        """Wall-clock milliseconds (Time.currentWallTime): txn times, container / TTL ages."""
        return int(self._wall() * 1000)

    def next_zxid(self) -> int:
        self.zxid += 1
        return self.zxid

    def check_acl(self, acl: AclList, perm: int, auth_ids) -> None:
        self.auth.check(acl, perm, auth_ids)

    # ------------------------------------------------------------------ connections
    def connection_made(self, cnxn: ServerCnxn) -> None:
        self.cnxns.add(cnxn)

    def connection_lost(self, cnxn: ServerCnxn) -> None:
        self.cnxns.discard(cnxn)
        self.db.tree.remove_watcher(cnxn)
        if cnxn.session_id and self.session_cnxn.get(cnxn.session_id) is cnxn:
            del self.session_cnxn[cnxn.session_id]

    def process_connect(self, cnxn: ServerCnxn, payload: bytes) -> None:
        """ZooKeeperServer.processConnectRequest; raises CloseConnection to refuse."""
        req, off = R.ConnectRequest._read(payload, 0)
        self.stats.connection_requests += 1
        if off < len(payload):
            cnxn.old_client = False  # it sent the readOnly flag
        if req.lastZxidSeen > self.db.last_processed_zxid:
            raise CloseConnection(
                f"Refusing session request for client {cnxn.remote_ip} as it has seen zxid "
                f"0x{req.lastZxidSeen:x} our last zxid is 0x{self.db.last_processed_zxid:x} "
                "client must try another server"
            )
        s = self.settings
        timeout = min(max(req.timeOut, s.min_session_timeout), s.max_session_timeout)
        cnxn.session_timeout = timeout
        cnxn.pause_reading()
        now = self.now_ms()
        if req.sessionId == 0:
            sid = self.sessions.create_session(timeout, now)
            cnxn.session_id = sid
            self.submit(Request(cnxn, sid, 0, Op.createSession, _I32.pack(timeout), None, now))
            return
        sid = req.sessionId
        cnxn.session_id = sid
        old = self.session_cnxn.get(sid)
        if old is not None and old is not cnxn:
            old.close_after_flush()
            self.connection_lost(old)
        self.revalidate_session(cnxn, sid, timeout, req.passwd == generate_passwd(sid), now)

    def revalidate_session(self, cnxn: ServerCnxn, sid: int, timeout: int, passwd_ok: bool, now: int) -> None:
        """A client reconnects with ``sid``: valid if we know it (a learner asks its leader)."""
        valid = passwd_ok and self.sessions.touch(sid, timeout, now)
        if not valid:
            log.info("Invalid session 0x%x for client %s, probably expired", sid & (2**64 - 1), cnxn.remote_ip)
        self.finish_session_init(cnxn, valid)

    def finish_session_init(self, cnxn: ServerCnxn, valid: bool) -> None:
        sid = cnxn.session_id
        rsp = R.ConnectResponse(
            0, cnxn.session_timeout if valid else 0, sid if valid else 0, generate_passwd(sid) if valid else bytes(16)
        ).to_bytes()
        if not cnxn.old_client:
            rsp += b"\x01" if self.read_only else b"\x00"  # ConnectResponse.readOnly
        cnxn.write(_I32.pack(len(rsp)) + rsp)
        if valid:
            self.session_cnxn[sid] = cnxn
            cnxn.resume_reading()
        else:
            cnxn.close_after_flush()

    def process_packet(self, cnxn: ServerCnxn, payload: bytes) -> None:
        """One request frame after the handshake (ZooKeeperServer.processPacket)."""
        if len(payload) < 8:
            raise CloseConnection(f"request of {len(payload)} bytes has no RequestHeader")
        xid, op = _HDR.unpack_from(payload, 0)
        body = payload[8:]
        self.stats.packets_received += 1
        cnxn.packets_received += 1
        if op == Op.auth:
            self._process_auth(cnxn, xid, body)
            return
        if op == Op.sasl:
            # No SASL server is configured.  3.8 then has no saslServer on the connection: its
            # processSasl catches the NullPointerException and answers OK with a null token
            # (SetSASLResponse(null)), keeping the connection; an undecodable body closes it.
            try:
                R.GetSASLRequest.from_bytes(body)
            except JuteError as e:
                raise CloseConnection(f"bad GetSASLRequest: {e}") from None
            cnxn.write(reply_frame(xid, 0, Code.OK, b"\xff\xff\xff\xff"))
            return
        now = self.now_ms()
        if not self.sessions.touch(cnxn.session_id, cnxn.session_timeout, now):
            log.debug("Dropping request of missing session 0x%x", cnxn.session_id & (2**64 - 1))
            return
        cnxn.outstanding += 1
        self.in_process += 1
        req = Request(cnxn, cnxn.session_id, xid, op, body, cnxn.auth_ids, now)
        if op not in VALID_TYPES:
            # 3.8 answers UNIMPLEMENTED (and then drops the connection; we keep it, see DESIGN.md)
            self.send(cnxn, reply_frame(xid, self.zxid, Code.UNIMPLEMENTED), req)
            return
        if self.in_process > self.settings.global_outstanding_limit and not cnxn.throttled:
            cnxn.throttled = True
            cnxn.pause_reading()
        self.submit(req)

    def _process_auth(self, cnxn: ServerCnxn, xid: int, body: bytes) -> None:
        try:
            pkt = R.AuthPacket.from_bytes(body)
        except JuteError as e:
            raise CloseConnection(f"bad AuthPacket: {e}") from None
        ids = self.auth.authenticate(pkt.scheme, pkt.auth or b"", cnxn.remote_ip)
        if ids is None:
            self.stats.auth_failed += 1
            cnxn.write(reply_frame(xid, 0, Code.AUTHFAILED))
            cnxn.close_after_flush()
            return
        for auth_id in ids:
            cnxn.add_auth(auth_id)
        cnxn.write(reply_frame(xid, 0, 0))

    # ------------------------------------------------------------------ the chain
    def submit(self, req: Request) -> None:
        """Prep the request, then log it (a txn) or answer it (a read), keeping session order."""
        self.prep.process(req)
        queue = self.waiting.get(req.session_id)
        if req.hdr is not None:
            if queue is None:
                self.waiting[req.session_id] = deque((req,))
            else:
                queue.append(req)
            self.log_txn(req)
        elif queue:
            queue.append(req)
        else:
            self.final.process(req)

    def log_txn(self, req: Request) -> None:
        """Hand a prepared txn to the Sync stage (a leader proposes it too)."""
        self.sync.process(req)

    def commit(self, reqs) -> None:
        """The txns of ``reqs`` are durable (in zxid order): apply and answer them.

        Standalone, durable is committed; ensemble members override this (the leader's fsync
        is its ACK, a follower's is its ACK) and call :meth:`apply_committed` at commit."""
        waiting = self.waiting
        final = self.final
        for req in reqs:
            queue = waiting.get(req.session_id)
            if queue is None or queue[0] is not req:
                # cannot happen while the sync stage keeps zxid order: fail loudly
                raise RuntimeError(f"commit of {req!r} out of session order")
            queue.popleft()
            final.process(req)
            while queue and queue[0].hdr is None:
                final.process(queue.popleft())
            if not queue:
                del waiting[req.session_id]
        # before Prep can start again from the tree's digest (nothing outstanding)
        self.db.verify_digest()

    #: apply and answer committed txns (the ensemble's subclasses keep this when they
    #: override :meth:`commit`)
    apply_committed = commit

    def apply(self, req: Request):
        """Apply a prepared txn to the database (Final's first step)."""
        hdr = req.hdr
        rc = self.db.process_txn(hdr, req.txn, req.digest)
        self.prep.applied(hdr.zxid)
        if req.type == Op.closeSession:
            sid = req.session_id
            self.sessions.remove(sid)
            if req.cnxn is None:  # expired: drop the client's connection
                cnxn = self.session_cnxn.pop(sid, None)
                if cnxn is not None:
                    cnxn.close_after_flush()
        return rc

    def send(self, cnxn: ServerCnxn, frame: bytes | StreamedReply, req: Request) -> None:
        """Write a reply and account for it (latency, outstanding, throttling).

        A reply of any size is sent, as 3.8 sends it: jute.maxbuffer bounds what the server
        reads, and each client enforces its own limit on what it reads.  A large reply is
        streamed: encoded chunk by chunk as the connection drains, never built whole.
        """
        streamed = type(frame) is StreamedReply
        size = frame.size if streamed else len(frame)
        now = self.now_ms()
        latency = now - req.start
        stats = self.stats
        stats.packets_sent += 1
        (stats.update_latency if req.hdr is not None else stats.read_latency).add(latency)
        stats.response_sizes.add(size - 4)
        cnxn.packets_sent += 1
        cnxn.record_latency(latency)
        if req.cxid >= 0:  # pings (-2) keep the client's last real cxid, as 3.8
            cnxn.last_cxid = req.cxid
        cnxn.last_zxid = req.zxid
        cnxn.last_op = _OP_NAMES.get(req.type, "NA")
        cnxn.last_response_time = now
        if req.cnxn is cnxn and req.type != Op.createSession:
            cnxn.outstanding -= 1
            self.in_process -= 1
        if streamed:
            cnxn.write_stream(frame.header, frame.chunks)
        else:
            cnxn.write(frame)
        if cnxn.throttled and (cnxn.outstanding == 0 or self.in_process <= self.settings.global_outstanding_limit):
            cnxn.throttled = False
            cnxn.resume_reading()

    # ------------------------------------------------------------------ watches
    def deliver_event(self, watchers, event_type: int, path: str, acl: AclList) -> None:
        """Send a WatcherEvent to each watcher allowed to READ the node (CVE-2024-23944)."""
        p = path.encode("utf-8")
        frame = _EVENT_HDR.pack(
            28 + len(p), NOTIFICATION_XID, -1, 0, event_type, KeeperState.SyncConnected, len(p)
        ) + p
        auth = self.auth
        for w in watchers:
            if acl and not auth.allowed(acl, 1, w.auth_ids):
                continue
            self.stats.response_sizes.add(len(frame) - 4)
            w.write(frame)

    # ------------------------------------------------------------------ timers
    def expire_sessions(self) -> float:
        """Close every session whose time ran out; returns seconds until the next check."""
        now = self.now_ms()
        for s in self.sessions.expire_due(now):
            self.stats.sessions_expired += 1
            log.info("Expiring session 0x%x, timeout of %dms exceeded", s.session_id & (2**64 - 1), s.timeout)
            self.submit(Request(None, s.session_id, 0, Op.closeSession, b"", None, now))
        return self.sessions.next_expiry(self.now_ms()) / 1000.0

    def check_containers(self) -> int:
        """ContainerManager: delete empty used containers and expired TTL nodes."""
        tree = self.db.tree
        now = self.wall_time()  # compared with mtime, a wall time (ContainerManager.getElapsed)
        s = self.settings
        candidates = []
        for path in list(tree.containers):
            node = tree.nodes.get(path)
            if node is not None and not node.children:
                if node.cversion > 0:
                    candidates.append(path)
                elif s.container_max_never_used_ms > 0 and now - node.mtime > s.container_max_never_used_ms:
                    candidates.append(path)
        for path in list(tree.ttls):
            node = tree.nodes.get(path)
            if node is not None and not node.children:
                if ephemeral_type(node.ephemeral_owner, tree.extended_types) == TTL:
                    ttl = node.ephemeral_owner & 0x000000FFFFFFFFFF
                    if ttl != 0 and now - node.mtime > ttl:
                        candidates.append(path)
        candidates = candidates[: s.container_max_per_minute]
        for path in candidates:
            self.submit(Request(None, 0, 0, Op.deleteContainer, path.encode("utf-8"), None, now))
        return len(candidates)

    def close_session(self, session_id: int) -> None:
        """Server-side close (e.g. kill): the same txn an expiry produces."""
        self.sessions.set_closing(session_id)
        self.submit(Request(None, session_id, 0, Op.closeSession, b"", None, self.now_ms()))

    @property
    def outstanding_requests(self) -> int:
        return self.in_process


_OP_NAMES = {
    Op.notification: "NOTI", Op.create: "CREA", Op.create2: "CREA", Op.createTTL: "CREA",
    Op.createContainer: "CREA", Op.delete: "DELE", Op.deleteContainer: "DELE",
    Op.exists: "EXIS", Op.getData: "GETD", Op.setData: "SETD", Op.getACL: "GETA",
    Op.setACL: "SETA", Op.getChildren: "GETC", Op.getChildren2: "GETC",
    Op.getAllChildrenNumber: "GETACN", Op.sync: "SYNC", Op.ping: "PING",
    Op.check: "CHEC", Op.multi: "MULT", Op.multiRead: "MLTR", Op.reconfig: "RECO",
    Op.setWatches: "SETW", Op.setWatches2: "STW2", Op.addWatch: "ADDW",
    Op.checkWatches: "CHKW", Op.removeWatches: "REMW", Op.getEphemerals: "GETE",
    Op.whoAmI: "HOMI", Op.createSession: "SESS", Op.closeSession: "CLOS",
}  # fmt: skip

