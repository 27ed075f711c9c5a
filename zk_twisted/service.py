"""twisted.application services: the standalone server (and, later, the quorum peer).

Start-up follows ZooKeeperServerMain: load config -> start the purge task -> restore the
database from snapshot + txn log -> open the client port.
"""

from __future__ import annotations

import logging
import sys
import time

from twisted.application import service
from twisted.internet import defer, task

from .network.client_port import ClientFactory
from .network.fourletter import FourLetterWords
from .persistence.storage import open_storage
from .server.zkserver import ServerSettings, ZooKeeperServer

log = logging.getLogger(__name__)


def settings_from_config(cfg) -> ServerSettings:
    return ServerSettings(
        tick_time=cfg.tick_time,
        min_session_timeout=cfg.min_session_timeout,
        max_session_timeout=cfg.max_session_timeout,
        session_server_id=1 if cfg.is_standalone else cfg.server_id,
        max_buffer=cfg.jute_maxbuffer,
        global_outstanding_limit=cfg.global_outstanding_limit,
        reconfig_enabled=cfg.reconfig_enabled,
        super_digest=cfg.super_digest,
        digest_auth_enabled=cfg.digest_auth_enabled,
        enforce_quota=cfg.enforce_quota,
        container_check_interval_ms=cfg.container_check_interval_ms,
        container_max_per_minute=cfg.container_max_per_minute,
        container_max_never_used_ms=cfg.container_max_never_used_ms,
    )


class MonotonicClock:
    """``seconds()`` that never steps: what sessions expire by (3.8's Time.currentElapsedTime).
    The reactor's own ``seconds()`` is the wall clock."""

    @staticmethod
    def seconds() -> float:
        return time.monotonic()


def log_config(cfg) -> None:
    """What a server logs of its config at start: the summary, and the keys not acted on."""
    for line in cfg.summary_lines():
        log.info("config: %s", line)
    if cfg.not_acted_on:
        log.info("zoo.cfg keys accepted but not acted on: %s", ", ".join(sorted(cfg.not_acted_on)))


class StandaloneServer(service.Service):
    """ZooKeeperServerMain: one server, no quorum."""

    name = "zkserver"

    def __init__(self, config, reactor=None, opened=None, metrics_provider=None) -> None:
        """``opened``: what ``open_storage`` returned, when the database was restored already;
        ``metrics_provider``: a started PrometheusMetricsProvider, to attach the server to."""
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.config = config
        self.reactor = reactor
        self.zks: ZooKeeperServer | None = None
        self.port = None
        self.admin = None  # the AdminServer, when admin.enableServer
        self.storage = None
        self._opened = opened
        self.metrics_provider = metrics_provider
        self._timers: list = []
        self.started_at = 0.0

    def startService(self) -> None:
        super().startService()
        t0 = time.monotonic()
        cfg = self.config
        log_config(cfg)
        self.storage, db, sync_factory = self._opened or open_storage(cfg, self.reactor)
        self.zks = ZooKeeperServer(settings_from_config(cfg), db, MonotonicClock(), sync_factory, time.time)
        four = FourLetterWords(self.zks, cfg.four_letter_whitelist, context=self)
        self._start_admin_server(four)
        if self.metrics_provider is not None:
            self.metrics_provider.attach(four)
        factory = ClientFactory(self.zks, self.reactor, cfg.max_client_cnxns, four)
        backlog = cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 50
        self.port = self.reactor.listenTCP(
            cfg.client_port, factory, backlog=backlog, interface=cfg.client_port_ip or ""
        )
        self._schedule_expiry()
        containers = task.LoopingCall(self.zks.check_containers)
        containers.clock = self.reactor
        containers.start(cfg.container_check_interval_ms / 1000.0, now=False)
        self._timers.append(containers)
        if self.storage is not None:
            self.storage.start_purge(self.reactor)
        self.started_at = time.time()
        log.info(
            "zk_twisted standalone serving on %s:%d, zxid 0x%x, started in %.3fs",
            cfg.client_port_address or "0.0.0.0",
            self.port.getHost().port,
            db.last_processed_zxid,
            time.monotonic() - t0,
        )

    def _start_admin_server(self, view) -> None:
        """ZooKeeperServerMain starts the AdminServer before the client port; a standalone 3.8
        that cannot bind it (port in use) exits with status 4, so does this one."""
        if not self.config.admin_enable_server:
            log.info("AdminServer not started: admin.enableServer=false")
            return
        # twisted.web only when it serves: start-up stays short without it
        from .admin.server import EXIT_ERROR_STARTING_ADMIN_SERVER, AdminServer, AdminServerError

        self.admin = AdminServer.from_config(self.config, view, self.reactor)
        try:
            self.admin.startService()
        except AdminServerError as e:
            self.admin = None
            log.error("Unable to start AdminServer, exiting abnormally: %s", e)
            print("Unable to start AdminServer, exiting abnormally", file=sys.stderr)
            raise SystemExit(EXIT_ERROR_STARTING_ADMIN_SERVER) from None

    def _schedule_expiry(self) -> None:
        def tick() -> None:
            delay = self.zks.expire_sessions()
            self._expiry_call = self.reactor.callLater(max(delay, 0.001), tick)

        self._expiry_call = self.reactor.callLater(self.config.tick_time / 1000.0, tick)

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        for t in self._timers:
            if t.running:
                t.stop()
        if getattr(self, "_expiry_call", None) is not None and self._expiry_call.active():
            self._expiry_call.cancel()
        if self.port is not None:
            yield self.port.stopListening()
        if self.admin is not None:
            yield defer.maybeDeferred(self.admin.stopService)
        if self.zks is not None:
            for cnxn in list(self.zks.cnxns):
                cnxn.close_after_flush()
            yield defer.maybeDeferred(self.zks.sync.shutdown)
        if self.storage is not None:
            yield defer.maybeDeferred(self.storage.close)
        if self.metrics_provider is not None:
            yield defer.maybeDeferred(self.metrics_provider.stop)
        log.info("zk_twisted stopped")
