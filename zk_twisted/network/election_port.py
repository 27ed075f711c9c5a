"""The election port's Twisted shell: TCP in and out for the sans-IO QuorumCnxManager.

The protocol only moves bytes: ``dataReceived`` feeds the manager's :class:`Channel`,
``write`` / ``close`` come back from it.  Everything else (the handshake, the connection
rule, framing, queues) lives in :mod:`zk_twisted.election.cnxmanager`.

:func:`create_election` builds the whole election of one server from its ZKConfig: the
listener on the election port, the manager, FastLeaderElection and the driver that
QuorumPeer calls (``LeaderElection.look_for_leader``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from twisted.internet.protocol import ClientFactory, Factory, Protocol
from zope.interface import implementer

from ..config import default_resolver
from ..election.cnxmanager import CNX_TIMEOUT_MS, QuorumCnxManager
from ..election.driver import LeaderElection
from ..election.fle import FastLeaderElection
from ..interfaces import IElectionDialer, IElectionTransport
from ..quorum.verifier import verifier_from_config

__all__ = ["ElectionProtocol", "ElectionListenerFactory", "TCPDialer", "ElectionStack", "create_election"]

log = logging.getLogger(__name__)


@implementer(IElectionTransport)
class ElectionProtocol(Protocol):
    """One election connection; ``sid`` is set for connections we dialled."""

    def __init__(self, manager: QuorumCnxManager, sid: int | None = None) -> None:
        self.manager = manager
        self.sid = sid
        self.channel = None

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        if self.sid is None:
            self.channel = self.manager.incoming_connected(self)
        else:
            self.channel = self.manager.outgoing_connected(self.sid, self)

    def dataReceived(self, data: bytes) -> None:
        if self.channel is not None:
            self.channel.data_received(data)

    def connectionLost(self, reason=None) -> None:
        if self.channel is not None:
            self.channel.connection_lost(reason.getErrorMessage() if reason is not None else None)

    # IElectionTransport, for the manager
    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.loseConnection()

    def peer_text(self) -> str:
        p = self.transport.getPeer() if self.transport is not None else None
        return f"{getattr(p, 'host', '?')}:{getattr(p, 'port', '?')}"


class ElectionListenerFactory(Factory):
    """The election port (QuorumCnxManager.Listener)."""

    def __init__(self, manager: QuorumCnxManager) -> None:
        self.manager = manager

    def buildProtocol(self, addr):
        p = ElectionProtocol(self.manager)
        p.factory = self
        return p


class _DialFactory(ClientFactory):
    def __init__(self, manager: QuorumCnxManager, sid: int) -> None:
        self.manager, self.sid = manager, sid

    def buildProtocol(self, addr):
        return ElectionProtocol(self.manager, self.sid)

    def clientConnectionFailed(self, connector, reason) -> None:
        self.manager.dial_failed(self.sid, reason.getErrorMessage())


@implementer(IElectionDialer)
class TCPDialer:
    """Dials with ``reactor.connectTCP`` and 3.8's connect timeout (cnxTimeout)."""

    def __init__(self, reactor) -> None:
        self.reactor = reactor

    def dial(self, manager, sid, host, port, timeout) -> None:
        self.reactor.connectTCP(host, port, _DialFactory(manager, sid), timeout=timeout)


@dataclass
class ElectionStack:
    """One server's election: what :func:`create_election` made."""

    election: LeaderElection
    manager: QuorumCnxManager
    fle: FastLeaderElection
    port: object  # IListeningPort

    def stop(self):
        """Stop electing, close every connection and the listener; a Deferred."""
        self.election.stop()
        self.manager.halt()
        return self.port.stopListening()


def _int_property(cfg, name: str, default: int) -> int:
    """Integer.getInteger: a -D property (or zoo.cfg key turned property), else the default."""
    value = cfg.system_property(name)
    try:
        return int(value.strip()) if value is not None else default
    except ValueError:
        return default


def create_election(cfg, reactor, *, resolver=default_resolver) -> ElectionStack:
    """Listen on our election port and build QuorumCnxManager + FastLeaderElection.

    ``cfg`` is a quorum ZKConfig (server.N lines, myid).  The handshake timeout is 3.8's
    ``tickTime * syncLimit`` (``zookeeper.quorumCnxnTimeoutMs`` wins when set), the connect
    timeout ``zookeeper.cnxTimeout`` (5 s), the notification interval
    ``zookeeper.fastleader.min/maxNotificationInterval`` (200 ms / 60 s).
    ``quorumListenOnAllIPs`` binds every interface.
    """
    me = cfg.my_server
    if me is None:
        raise ValueError(f"server id {cfg.server_id} has no server.{cfg.server_id} line")
    timeout_ms = cfg.tick_time * cfg.sync_limit
    prop = cfg.system_property("zookeeper.quorumCnxnTimeoutMs")
    if prop and prop.strip().lstrip("-").isdigit() and int(prop) > 0:
        timeout_ms = int(prop)
    cnx = cfg.system_property("zookeeper.cnxTimeout")
    cnx_ms = int(cnx) if cnx and cnx.strip().isdigit() else CNX_TIMEOUT_MS
    addrs = list(me.election_addrs or (me.election_addr,))
    manager = QuorumCnxManager(
        cfg.server_id,
        cfg.servers,
        addrs,
        reactor,
        TCPDialer(reactor),
        socket_timeout_ms=timeout_ms,
        cnx_timeout_ms=cnx_ms,
        multi_address=cfg.multi_address_enabled,
        resolve=resolver,
    )
    host, port = addrs[0]
    interface = "" if cfg.quorum_listen_on_all_ips else (resolver(host) or host)
    listening = reactor.listenTCP(port, ElectionListenerFactory(manager), interface=interface)
    log.info("%d is accepting connections now, my election bind port: %s:%d", cfg.server_id, interface, port)
    fle = FastLeaderElection(
        cfg.server_id,
        verifier_from_config(cfg),
        cfg.peer_type,
        min_notification_interval=_int_property(cfg, "zookeeper.fastleader.minNotificationInterval", 200),
        max_notification_interval=_int_property(cfg, "zookeeper.fastleader.maxNotificationInterval", 60000),
    )
    return ElectionStack(LeaderElection(fle, manager, reactor), manager, fle, listening)
