"""QuorumPeer: one ensemble member's life, LOOKING -> LEADING | FOLLOWING | OBSERVING -> LOOKING.

QuorumPeerMain.runFromConfig on Twisted.  Start-up: the database restored (by the caller,
before the reactor runs, as 3.8's loadDataBase), then the epoch files read and checked
against it, the client port opened (it stays open for the peer's whole life), the election
port opened; then the role loop, with no thread and no blocking loop (DESIGN.md section 1):
an election's Deferred fires with the decision, the role it names runs until its Deferred
fires (quorum lost, leader gone, protocol error), and the peer looks for a leader again.

Between roles nobody serves (the role is a child service, swapped in and out, the client
port is the peer's own): a client's ConnectRequest is refused as 3.8 refuses it
("ZooKeeperServer not running"), four-letter words answer "not currently serving".  Each
role brings its own ZooKeeperServer on the shared database; its client connections are
closed when the role ends, so clients reconnect to whoever serves next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from twisted.application import service
from twisted.internet import defer, task

from ..election.driver import Decision
from ..election.messages import ServerState
from ..network.client_port import ClientFactory, NotServing
from ..network.fourletter import FourLetterWords
from ..service import log_config, settings_from_config
from . import tracelog
from .epochs import EpochFiles
from .peeradmin import PeerAdmin
from .readonly import ReadOnlyZooKeeperServer

log = logging.getLogger(__name__)

#: ServerStats.getServerState's words for each state
MODE_NAMES = {
    ServerState.LOOKING: "leaderelection",
    ServerState.LEADING: "leader",
    ServerState.FOLLOWING: "follower",
    ServerState.OBSERVING: "observer",
}


class Role(service.Service):
    """What the loop runs for a decision, as a child service of the QuorumPeer: added (and so
    started: ``run()``) when the role begins, removed (``stop()``, its Deferred awaited) when
    it ends, so the peer's stopService (twistd's SIGTERM) ends the running role first.
    ``finished`` fires when the role is over."""

    name = "role"
    #: the ZooKeeperServer this role serves clients with (None until it serves)
    zks = None
    finished: defer.Deferred | None = None

    def run(self) -> defer.Deferred:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> defer.Deferred | None:  # pragma: no cover - interface
        raise NotImplementedError

    def startService(self) -> None:
        super().startService()
        self.finished = defer.maybeDeferred(self.run)

    def stopService(self) -> defer.Deferred | None:
        super().stopService()
        return self.stop()


class ElectionRound(service.Service):
    """LOOKING: one election round (FastLeaderElection.lookForLeader) as a child service of
    the QuorumPeer; ``decided`` fires with the Decision; stopping the round cancels it."""

    name = "election"

    def __init__(self, peer: QuorumPeer) -> None:
        self.peer = peer
        self.decided: defer.Deferred | None = None

    def startService(self) -> None:
        super().startService()
        peer = self.peer
        self.decided = peer.election.election.look_for_leader(peer.last_logged_zxid(), peer.current_epoch)

    def stopService(self) -> None:
        super().stopService()
        if self.decided is not None and not self.decided.called:
            self.decided.cancel()


class QuorumPeer(service.MultiService):
    """One ensemble member.  ``role_factory(peer, decision) -> Role``; ``election`` is the
    ElectionStack (``zk_twisted.network.election_port.create_election``) or a factory of one.
    Its children are the role of the moment: an :class:`ElectionRound` while LOOKING, then
    the decided :class:`Role`, one at a time."""

    def __init__(
        self,
        config,
        reactor,
        opened,
        election_factory: Callable,
        role_factory: Callable[[QuorumPeer, Decision], Role],
        metrics_provider=None,
    ) -> None:
        super().__init__()
        self.name = "quorumpeer"
        self.config = config
        self.reactor = reactor
        self.storage, self.db, self.sync_factory = opened
        self._election_factory = election_factory
        #: a started PrometheusMetricsProvider (metricsProvider.className), or None
        self.metrics_provider = metrics_provider
        self._role_factory = role_factory
        self.election = None
        self.epochs = EpochFiles(config.snap_dir, fsync=config.force_sync)
        self.state = ServerState.LOOKING
        self.role: Role | None = None
        self.port = None
        self._ro_expiry = None
        self.admin = None
        self.factory: ClientFactory | None = None
        self.four: FourLetterWords | None = None
        self.started_at = 0.0
        self._loop_done: defer.Deferred | None = None
        #: every state entered, with the reactor's time (for logs, tests and the simulation)
        self.history: list[tuple[float, ServerState]] = []
        #: what the AdminServer's quorum commands and mntr read
        self.quorum = PeerAdmin(self)

    # ------------------------------------------------------------------ what 4lw / mntr read
    @property
    def server_state(self) -> str:
        if self.factory is not None and getattr(self.factory.zks, "read_only", False):
            return "read-only"
        return MODE_NAMES[self.state]

    @property
    def peer_state(self) -> str:
        """QuorumPeer.getDetailedPeerState: 'following - broadcast', 'looking - election', ..."""
        return f"{self.state.name.lower()} - {self.quorum.zab_state()}"

    def quorum_gauges(self) -> dict[str, int]:
        return self.quorum.gauges()

    @property
    def my_id(self) -> int:
        return self.config.server_id

    @property
    def current_epoch(self) -> int:
        return self.epochs.current_epoch

    @property
    def accepted_epoch(self) -> int:
        return self.epochs.accepted_epoch

    def last_logged_zxid(self) -> int:
        """QuorumPeer.getLastLoggedZxid: the database's last zxid.  Between roles the database
        is what the data dir holds, every logged txn applied (start-up, :meth:`reload_database`),
        so it is the log's last zxid too, without reading the log again."""
        return self.db.last_processed_zxid

    # ------------------------------------------------------------------ life
    def startService(self) -> None:
        super().startService()
        t0 = time.monotonic()
        cfg = self.config
        log_config(cfg)
        current, accepted = self.epochs.load(self.db.last_processed_zxid)
        log.info("currentEpoch %d, acceptedEpoch %d, last zxid 0x%x", current, accepted, self.db.last_processed_zxid)
        self.four = FourLetterWords(None, cfg.four_letter_whitelist, context=self)
        self._start_admin_server()
        if self.metrics_provider is not None:
            self.metrics_provider.attach(self.four)
        self.factory = ClientFactory(NotServing(cfg), self.reactor, cfg.max_client_cnxns, self.four)
        if cfg.client_port:
            backlog = cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 50
            self.port = self.reactor.listenTCP(
                cfg.client_port, self.factory, backlog=backlog, interface=cfg.client_port_ip or ""
            )
        if self.storage is not None:
            self.storage.start_purge(self.reactor)
        self.election = self._election_factory(cfg, self.reactor)
        trace = tracelog.configure(cfg, self.reactor)
        if trace is not None:
            trace.view = self.trace_view
        self.started_at = time.time()
        log.info("zk_twisted quorum peer %d started in %.3fs", cfg.server_id, time.monotonic() - t0)
        self._loop_done = self._loop()

    def _start_admin_server(self) -> None:
        """QuorumPeer.start: an AdminServer that cannot bind is logged and the peer serves on."""
        self.admin = None
        if not self.config.admin_enable_server:
            log.info("AdminServer not started: admin.enableServer=false")
            return
        from ..admin.server import AdminServer, AdminServerError

        admin = AdminServer.from_config(self.config, self.four, self.reactor)
        try:
            admin.startService()
        except AdminServerError as e:
            log.warning("Problem starting AdminServer: %s", e)
            return
        self.admin = admin

    @defer.inlineCallbacks
    def _loop(self):
        role = None
        while self.running:
            self._enter(ServerState.LOOKING)
            t0 = self.reactor.seconds()
            ro = self._schedule_read_only() if self.config.readonly_mode_enabled else None
            if tracelog.active is not None and role is not None:
                tracelog.active.next_round = "LeaderTimeout" if role.kind == "leader" else "FollowerTimeout"
            looking = ElectionRound(self)
            looking.setServiceParent(self)
            try:
                decision = yield looking.decided
            except defer.CancelledError:  # the peer is stopping (it stopped the round)
                looking.disownServiceParent()
                return
            finally:
                if ro is not None and ro.active():
                    ro.cancel()
                self.unserve()  # a read-only server, if one served meanwhile
            looking.disownServiceParent()
            if not self.running:
                return
            self._enter(decision.state)
            took = int((self.reactor.seconds() - t0) * 1000)
            log.info("%s - LEADER ELECTION TOOK - %d MS", decision.state.name, took)
            role = self.role = self._role_factory(self, decision)
            role.setServiceParent(self)  # starts it: role.run()
            try:
                yield role.finished
            except Exception:
                log.exception("Unexpected exception in role %s", decision.state.name)
            finally:
                self.unserve()
            # the role has ended: stopping it again finds it torn down (or tears it down, when
            # run() itself failed), and the loop goes on once that is done
            yield role.disownServiceParent()
            self.role = None
            if self.running:
                # the next role (and its vote) starts from everything the log holds, committed
                # or not: 3.8 clears the database and loads it again; a learner that reached
                # broadcast only needs its logged tail applied (all it applied is on disk)
                self.reload_database(fast=getattr(role, "in_broadcast", False))
                self.election.election.set_state(ServerState.LOOKING)

    def trace_view(self) -> dict:
        """This server's spec variables now (spec/README.md), for the protocol event log."""
        fle = self.election.election.fle
        role = self.role
        core = getattr(role, "core", None) if role is not None else None
        state = fle.state.name
        # a role that ended (its connections closed) still counts until the next round
        # starts: the spec leaves a role and starts looking in one step (Leader- /
        # FollowerTimeout), logged when the round starts
        if state == "LOOKING" or role is None:
            zab = "ELECTION"
        else:
            zab = getattr(core, "zab_state", "DISCOVERY") if core is not None else "DISCOVERY"
        if core is not None:
            # the spec's lastCommitted outlives a role (a new core starts from 0): it only
            # grows within an incarnation
            self._trace_committed = max(getattr(self, "_trace_committed", 0), core.last_committed)
        v = fle.proposal if fle.looking else (fle.current_vote or fle.proposal)
        return {
            "state": state,
            "zabState": zab,
            "currentEpoch": self.epochs.current_epoch,
            "acceptedEpoch": self.epochs.accepted_epoch,
            "logicalclock": fle.logicalclock,
            "vote": {"leader": v.leader, "zxid": tracelog.zx(v.zxid), "peerEpoch": v.peer_epoch},
            "lastCommitted": tracelog.zx(getattr(self, "_trace_committed", 0)),
        }

    def _schedule_read_only(self):
        """QuorumPeer.run, LOOKING with readonlymode.enabled: after max(2 s, tickTime) still
        without a quorum, serve read-only clients from the database as it is."""

        def serve_read_only() -> None:
            if self.state == ServerState.LOOKING and self.running:
                log.info("No quorum yet: serving read-only clients")
                ro = ReadOnlyZooKeeperServer(settings_from_config(self.config), self.db, self.reactor)
                self.serve(ro)
                self._ro_expiry = task.LoopingCall(ro.expire_sessions)
                self._ro_expiry.clock = self.reactor
                self._ro_expiry.start(self.config.tick_time / 1000.0, now=False)

        return self.reactor.callLater(max(2.0, self.config.tick_time / 1000.0), serve_read_only)

    def _enter(self, state: ServerState) -> None:
        if state != self.state or not self.history:
            log.info("Peer state changed: %s", MODE_NAMES[state])
        self.state = state
        self.history.append((self.reactor.seconds(), state))

    def reload_database(self, fast: bool = False) -> None:
        """Load the database again from the data dir (snapshot + every logged txn), or with
        ``fast`` apply just the logged txns after its last zxid (ZKDatabase.fastForwardDataBase)."""
        snaplog = self.storage.snaplog
        if fast:
            n = snaplog.fast_forward(self.db)
            log.info("Fast-forwarded the database by %d logged txns to 0x%x", n, self.db.last_processed_zxid)
            return
        self.db.clear()
        result = snaplog.restore(self.db)
        log.info("Reloaded the database: zxid 0x%x (%d txns replayed)", result.zxid, result.txns_replayed)

    # ------------------------------------------------------------------ the client port
    def serve(self, zks) -> None:
        """A role is established: new client connections go to ``zks``."""
        self.factory.zks = zks
        self.four.zks = zks

    def unserve(self) -> None:
        """The role ended: refuse new sessions, close the ones it served."""
        if self._ro_expiry is not None and self._ro_expiry.running:
            self._ro_expiry.stop()
        self._ro_expiry = None
        old = self.factory.zks
        self.factory.zks = NotServing(self.config)
        self.four.zks = None
        if not isinstance(old, NotServing):
            old.running = False
            for cnxn in list(old.cnxns):
                cnxn.close_after_flush()

    @defer.inlineCallbacks
    def stopService(self):
        # the children first: the running role (or election round) ends, its Deferred awaited
        yield super().stopService()
        if self.election is not None:
            yield defer.maybeDeferred(self.election.stop)
        if self._loop_done is not None:
            self._loop_done.cancel()
        if self.port is not None:
            yield self.port.stopListening()
        if self.admin is not None:
            yield defer.maybeDeferred(self.admin.stopService)
        if self.metrics_provider is not None:
            yield defer.maybeDeferred(self.metrics_provider.stop)
        self.unserve()
        if self.storage is not None:
            yield defer.maybeDeferred(self.storage.close)
        log.info("zk_twisted quorum peer %d stopped", self.config.server_id)
