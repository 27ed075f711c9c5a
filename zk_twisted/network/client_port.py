"""The client port: jute framing, the four-letter-word check, per-IP connection limits.

A thin shell: it cuts the byte stream into frames and hands them to the sans-IO
:class:`~zk_twisted.server.zkserver.ZooKeeperServer`.  A frame whose length is negative
or beyond ``jute.maxbuffer`` closes that one connection (as NIOServerCnxn's "Len error").
"""

from __future__ import annotations

import logging
import struct
import time
from collections import deque
from collections.abc import Iterator

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol

from ..jute import JuteError
from ..server.cnxn import ServerCnxn
from ..server.zkserver import CloseConnection, ZooKeeperServer
from .fourletter import FourLetterWords

log = logging.getLogger(__name__)

_LEN = struct.Struct(">i")
#: NIOServerCnxnFactory's sessionlessCnxnTimeout: a connection must send ConnectRequest in time
SESSIONLESS_CNXN_TIMEOUT = 10.0


class NotServing:
    """The core a quorum peer's client port has between roles: every ConnectRequest is
    refused as 3.8 refuses it while its ZooKeeperServer is not running (the connection is
    closed; four-letter words still answer)."""

    running = False

    def __init__(self, cfg) -> None:
        self.settings = _Limits(cfg.jute_maxbuffer)
        self.cnxns: set = set()

    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

    wall_time = now_ms

    def connection_made(self, cnxn) -> None:
        pass

    def connection_lost(self, cnxn) -> None:
        pass

    def process_connect(self, cnxn, payload: bytes) -> None:
        raise CloseConnection("ZooKeeperServer not running")

    process_packet = process_connect


class _Limits:
    __slots__ = ("max_buffer",)

    def __init__(self, max_buffer: int) -> None:
        self.max_buffer = max_buffer


class ClientProtocol(Protocol, ServerCnxn):
    """One client connection (ServerCnxn): frames in, frames out."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.zks: ZooKeeperServer = factory.zks
        self._buf = bytearray()
        self._paused = False
        self._initialized = False
        self._done = False
        self._sessionless = None
        #: frames waiting behind a streaming reply (None: nothing streams)
        self._queued: deque | None = None
        self._chunks: Iterator[bytes] | None = None

    # ---- Twisted side
    def connectionMade(self) -> None:
        # NIOServerCnxn sets TCP_NODELAY on every client socket: replies are small frames,
        # and with Nagle the kernel holds the tail of a burst of them until the client has
        # ACKed what went before (a delayed ACK on its side), stalling the client's window
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)
        peer: IAddress = self.transport.getPeer()
        host = getattr(peer, "host", "0.0.0.0")
        port = getattr(peer, "port", 0)
        self.init_cnxn(host, port, self.zks.wall_time())
        if not self.factory.admit(self):
            log.warning("Too many connections from %s - max is %d", host, self.factory.max_client_cnxns)
            self._done = True
            self.transport.abortConnection()
            return
        self.zks.connection_made(self)
        self._sessionless = self.factory.reactor.callLater(SESSIONLESS_CNXN_TIMEOUT, self._sessionless_expired)

    def _sessionless_expired(self) -> None:
        self._sessionless = None
        if not self._initialized and not self._done:
            log.info("Closing connection from %s:%s: no session established in time", self.remote_ip, self.remote_port)
            self._done = True
            self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        self._done = True
        if self._sessionless is not None and self._sessionless.active():
            self._sessionless.cancel()
        self._sessionless = None
        self.factory.release(self)
        self.zks.connection_lost(self)

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            return
        self._buf += data
        if not self._paused:
            self._drain()

    def _drain(self) -> None:
        buf = self._buf
        off = 0
        max_buffer = self.zks.settings.max_buffer
        try:
            while not self._paused and not self._done and len(buf) - off >= 4:
                n = _LEN.unpack_from(buf, off)[0]
                if not self._initialized and self.factory.four_letter.is_command(n):
                    self._done = True
                    self.factory.four_letter.run(self, n)
                    del buf[:]
                    return
                if n < 0 or n > max_buffer:
                    raise CloseConnection(f"Len error {n}")
                end = off + 4 + n
                if end > len(buf):
                    break
                payload = bytes(buf[off + 4 : end])
                off = end
                if self._initialized:
                    self.zks.process_packet(self, payload)
                else:
                    self._initialized = True
                    self.zks.process_connect(self, payload)
        except (CloseConnection, JuteError) as e:
            log.info("Closing connection from %s:%s: %s", self.remote_ip, self.remote_port, e)
            self._done = True
            self.transport.loseConnection()
            del buf[:]
            return
        del buf[:off]

    # ---- ServerCnxn I/O
    def write(self, data: bytes) -> None:
        if not self._done or self.closing:
            if self._queued is not None:  # behind a reply still streaming: keep the order
                self._queued.append(data)
            else:
                self.transport.write(data)

    def write_stream(self, header: bytes, chunks: Iterator[bytes]) -> None:
        """A large reply: this protocol becomes the transport's pull producer and writes one
        chunk each time the transport's buffer has drained; frames written meanwhile queue."""
        if self._done and not self.closing:
            return
        if self._queued is not None:
            self._queued.append((header, chunks))
            return
        self._queued = deque()
        self.transport.write(header)
        self._chunks = chunks
        self.transport.registerProducer(self, False)

    # IPullProducer, while a large reply streams
    def resumeProducing(self) -> None:
        while True:
            if self._chunks is not None:
                chunk = next(self._chunks, None)
                if chunk is not None:
                    self.transport.write(chunk)
                    return
                self._chunks = None
            queued = self._queued
            while queued:
                item = queued.popleft()
                if type(item) is tuple:
                    self.transport.write(item[0])
                    self._chunks = item[1]
                    break
                self.transport.write(item)
            else:
                self._queued = None
                self.transport.unregisterProducer()
                return

    def stopProducing(self) -> None:
        self._chunks = self._queued = None

    def close_after_flush(self, reason: int = 0) -> None:
        if not self.closing:
            self.closing = True
            self._done = True
            self.transport.loseConnection()

    def pause_reading(self) -> None:
        if not self._paused:
            self._paused = True
            self.transport.pauseProducing()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self.transport.resumeProducing()
            if self._buf and not self._done:
                self.factory.reactor.callLater(0, self._resume_drain)

    def _resume_drain(self) -> None:
        if not self._paused and not self._done:
            self._drain()


class ClientFactory(Factory):
    """NIOServerCnxnFactory's role: owns the server core and the per-IP connection counts."""

    protocol = ClientProtocol

    def __init__(self, zks: ZooKeeperServer, reactor, max_client_cnxns: int = 60, four_letter=None) -> None:
        self.zks = zks
        self.reactor = reactor
        self.max_client_cnxns = max_client_cnxns
        self.per_ip: dict[str, int] = {}
        self.four_letter = four_letter or FourLetterWords(zks)

    def buildProtocol(self, addr):
        p = ClientProtocol(self)
        return p

    def admit(self, p: ClientProtocol) -> bool:
        n = self.per_ip.get(p.remote_ip, 0)
        if self.max_client_cnxns and n >= self.max_client_cnxns:
            p._counted = False
            return False
        self.per_ip[p.remote_ip] = n + 1
        p._counted = True
        return True

    def release(self, p: ClientProtocol) -> None:
        if getattr(p, "_counted", False):
            p._counted = False
            n = self.per_ip.get(p.remote_ip, 0) - 1
            if n <= 0:
                self.per_ip.pop(p.remote_ip, None)
            else:
                self.per_ip[p.remote_ip] = n
