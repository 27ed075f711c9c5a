"""QuorumCnxManager (sans-IO): one election connection per pair of servers.

No sockets and no clock reads here: connections are :class:`IElectionTransport` objects
(a Twisted protocol live, the in-memory network under test) that feed :class:`Channel`
objects with bytes, dials go through an :class:`IElectionDialer`, and time comes from an
injected ``clock`` (``IReactorTime``: the reactor, or ``twisted.internet.task.Clock``).

3.8's rules, kept:

* The dialling side sends the initial message (protocol version, sid, election address).
  A connection survives only if the larger sid started it: a smaller-sid dialler sends its
  whole initial message, then closes; a receiver hearing a smaller sid closes and dials back.
* Per-peer send queue of one message (newest wins); a new connection first resends the last
  message sent to that peer when nothing newer is queued; messages to ourselves loop back.
* Received messages go to a queue of 100 (oldest dropped), drained into ``receiver``.
* A connection from a server with our own sid is left open and unread (ZOOKEEPER-2164).
* Reconnects happen as in 3.8: on every send to a peer with no connection, and on
  FastLeaderElection's notification timeout (``connect_all``), whose interval doubles from
  200 ms to 60 s: that is the backoff.

Where this differs from 3.8, on purpose (each logged when it happens):

* An initial message from a sid that is in no view closes the connection (3.8 keeps it,
  or dials back to whatever address the message names).  ``OBSERVER_ID`` is still accepted.
* A header split over several TCP segments is waited for, up to the handshake timeout
  (3.8's single ``read()`` fails on it); a header not complete by then closes the connection.
* A bad frame, or a notification the election cannot decode (:meth:`drop`), closes that
  connection; 3.8 closes on a bad frame and skips a bad notification.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping

from zope.interface import implementer

from ..interfaces import IPeerTransport
from .messages import (
    OBSERVER_ID,
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    ElectionWireError,
    FrameReader,
    InitialMessageReader,
    encode_initial_message,
    frame,
)

__all__ = ["QuorumCnxManager", "Channel", "RECV_CAPACITY", "CNX_TIMEOUT_MS"]

log = logging.getLogger(__name__)

#: QuorumCnxManager.RECV_CAPACITY
RECV_CAPACITY = 100
#: QuorumCnxManager.cnxTO default (zookeeper.cnxTimeout), ms
CNX_TIMEOUT_MS = 5000


class Channel:
    """One election connection: handshake (incoming), then frames in both directions."""

    def __init__(self, manager: QuorumCnxManager, transport, outgoing_sid: int | None) -> None:
        self.manager = manager
        self.transport = transport
        self.outgoing = outgoing_sid is not None
        #: the peer's sid once known (dialled, or read from its initial message)
        self.sid: int | None = outgoing_sid
        self.established = False
        self.closed = False
        #: a sid==ours connection is kept open and never read (3.8)
        self.ignored = False
        self._header: InitialMessageReader | None = None if self.outgoing else InitialMessageReader()
        self._frames = FrameReader()
        self._handshake_timer = None

    def __repr__(self) -> str:
        return (
            f"<Channel sid={self.sid} {'out' if self.outgoing else 'in'}{' up' if self.established else ''}>"
        )

    # ---- called by the shell
    def data_received(self, data: bytes) -> None:
        if self.closed or self.ignored:
            return
        try:
            if self._header is not None:
                got = self._header.feed(data)
                if got is None:
                    return
                self._header = None
                self._cancel_handshake_timer()
                msg, data = got
                self.manager._handle_initial_message(self, msg)
                if self.closed or self.ignored or not data:
                    return
            for payload in self._frames.feed(data):
                if self.closed:
                    return
                self.manager._frame_received(self, payload)
        except ElectionWireError as e:
            self.manager._bad_input(self, str(e))

    def connection_lost(self, reason: object = None) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_handshake_timer()
        self.manager._channel_lost(self, reason)

    # ---- used by the manager
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_handshake_timer()
        self.transport.close()
        self.manager._channel_lost(self, "closed")

    def _cancel_handshake_timer(self) -> None:
        t, self._handshake_timer = self._handshake_timer, None
        if t is not None and t.active():
            t.cancel()


@implementer(IPeerTransport)
class QuorumCnxManager:
    """The election connections of server ``my_sid``.

    ``view``: sid -> QuorumServer (participants and observers; ``election_addr``
    ``(host, port)``).  ``my_election_addrs``: what we announce (resolved IPs).
    ``socket_timeout_ms``: the handshake timeout, 3.8's ``tickTime * syncLimit``.
    """

    def __init__(
        self,
        my_sid: int,
        view: Mapping,
        my_election_addrs: list[tuple[str, int]],
        clock,
        dialer,
        *,
        socket_timeout_ms: int,
        cnx_timeout_ms: int = CNX_TIMEOUT_MS,
        multi_address: bool = False,
        resolve: Callable[[str], str | None] | None = None,
    ) -> None:
        self.my_sid = my_sid
        self.view = dict(view)
        self.my_election_addrs = list(my_election_addrs)
        self.clock = clock
        self.dialer = dialer
        self.socket_timeout_ms = socket_timeout_ms
        self.cnx_timeout_ms = cnx_timeout_ms
        self.protocol_version = PROTOCOL_VERSION_V2 if multi_address else PROTOCOL_VERSION_V1
        self.resolve = resolve or (lambda h: h)
        #: senderWorkerMap: the live connection per peer
        self.workers: dict[int, Channel] = {}
        #: queueSendMap: at most one message per peer
        self.send_queues: dict[int, deque[bytes]] = {}
        #: lastMessageSent
        self.last_sent: dict[int, bytes] = {}
        self.recv_queue: deque[tuple[int, bytes]] = deque(maxlen=RECV_CAPACITY)
        #: called as receiver(sid, payload) for each message, in order
        self.receiver: Callable[[int, bytes], None] | None = None
        self.in_progress: set[int] = set()
        self.channels: set[Channel] = set()
        self._observer_counter = -1
        self._draining = False
        self.halted = False
        #: counters for tests and operators
        self.stats = {"bad_input": 0, "accepted": 0, "dialled": 0, "dropped_recv": 0}

    # ------------------------------------------------------------ IPeerTransport
    def send(self, sid: int, message: bytes) -> None:
        """toSend: to ourselves -> the receive queue; else the peer's queue, and connect."""
        if self.halted:
            return
        if sid == self.my_sid:
            self._add_to_recv_queue(sid, message)
            return
        q = self.send_queues.setdefault(sid, deque(maxlen=1))
        q.append(message)
        w = self.workers.get(sid)
        if w is not None:
            self._flush(sid, w)
        else:
            self.connect_one(sid)

    def connect_all(self) -> None:
        for sid in list(self.send_queues):
            self.connect_one(sid)

    def have_delivered(self) -> bool:
        return any(len(q) == 0 for q in self.send_queues.values())

    to_send = send

    def connected_to(self, sid: int) -> bool:
        return sid in self.workers

    def drop(self, sid: int, why: str) -> None:
        """Close the connection a bad message from ``sid`` came on (the election found it bad)."""
        w = self.workers.get(sid)
        if w is not None:
            self._bad_input(w, why)

    # ---------------------------------------------------------------- dialling
    def connect_one(self, sid: int, address: tuple[str, int] | None = None) -> None:
        if self.halted or sid in self.workers:
            return
        if address is None:
            qs = self.view.get(sid)
            if qs is None:
                log.warning("Invalid server id: %d", sid)
                return
            address = qs.election_addr
        if sid in self.in_progress:
            log.debug("Connection request to server id: %d is already in progress", sid)
            return
        self.in_progress.add(sid)
        self.stats["dialled"] += 1
        host, port = address
        self.dialer.dial(self, sid, host, port, self.cnx_timeout_ms / 1000.0)

    def dial_failed(self, sid: int, reason: object) -> None:
        self.in_progress.discard(sid)
        log.warning("Cannot open channel to %d at election address: %s", sid, reason)

    def outgoing_connected(self, sid: int, transport) -> Channel:
        """The dial to ``sid`` connected: send our initial message; keep the connection only
        if we have the larger sid."""
        self.in_progress.discard(sid)
        ch = Channel(self, transport, sid)
        self.channels.add(ch)
        if self.halted:
            ch.close()
            return ch
        addrs = [(self.resolve(h) or h, p) for h, p in self.my_election_addrs]
        ch.write(encode_initial_message(self.my_sid, addrs, self.protocol_version))
        if sid > self.my_sid:
            log.info(
                "Have smaller server identifier, so dropping the connection: (myId:%d --> sid:%d)",
                self.my_sid,
                sid,
            )
            ch.close()
        else:
            self._start_worker(ch, sid)
        return ch

    # ---------------------------------------------------------------- accepting
    def incoming_connected(self, transport) -> Channel:
        """A peer connected to our election port: wait for its initial message."""
        ch = Channel(self, transport, None)
        self.channels.add(ch)
        if self.halted:
            ch.close()
            return ch
        self.stats["accepted"] += 1
        ch._handshake_timer = self.clock.callLater(
            self.socket_timeout_ms / 1000.0, self._handshake_timeout, ch
        )
        return ch

    def _handshake_timeout(self, ch: Channel) -> None:
        ch._handshake_timer = None
        if not ch.closed and ch._header is not None:
            self._bad_input(ch, f"no complete initial message within {self.socket_timeout_ms} ms")

    def _handle_initial_message(self, ch: Channel, msg) -> None:
        """handleConnection, after InitialMessage.parse."""
        sid = msg.sid
        if sid == OBSERVER_ID:
            sid = self._observer_counter
            self._observer_counter -= 1
            log.info("Setting arbitrary identifier to observer: %d", sid)
        elif sid not in self.view and sid != self.my_sid:
            self._bad_input(ch, f"initial message from unknown server id {sid}")
            return
        ch.sid = sid
        if msg.protocol_version not in (None, PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):  # pragma: no cover
            self._bad_input(ch, f"protocol version {msg.protocol_version}")
            return
        if sid < self.my_sid:
            old = self.workers.get(sid)
            if old is not None:
                old.close()
            log.debug("Create new connection to server: %d", sid)
            ch.close()
            addr = msg.addresses[0] if msg.addresses else None
            self.connect_one(sid, addr)
        elif sid == self.my_sid:
            log.warning(
                "We got a connection request from a server with our own ID. "
                "This should be either a configuration error, or a bug."
            )
            ch.ignored = True
        else:
            self._start_worker(ch, sid)

    # ---------------------------------------------------------------- workers
    def _start_worker(self, ch: Channel, sid: int) -> None:
        old = self.workers.get(sid)
        self.workers[sid] = ch
        ch.established = True
        if old is not None and old is not ch:
            old.close()
        q = self.send_queues.setdefault(sid, deque(maxlen=1))
        if not q and sid in self.last_sent:
            # SendWorker.run: the peer may have lost what we sent last; duplicates are harmless
            ch.write(frame(self.last_sent[sid]))
        self._flush(sid, ch)

    def _flush(self, sid: int, ch: Channel) -> None:
        q = self.send_queues.get(sid)
        while q and not ch.closed:
            b = q.popleft()
            self.last_sent[sid] = b
            ch.write(frame(b))

    def _frame_received(self, ch: Channel, payload: bytes) -> None:
        if ch.sid is not None and ch.established:
            self._add_to_recv_queue(ch.sid, payload)

    def _add_to_recv_queue(self, sid: int, payload: bytes) -> None:
        if len(self.recv_queue) == RECV_CAPACITY:
            self.stats["dropped_recv"] += 1
        self.recv_queue.append((sid, payload))
        self._drain()

    def _drain(self) -> None:
        if self._draining or self.receiver is None:
            return
        self._draining = True
        try:
            while self.recv_queue and self.receiver is not None:
                sid, payload = self.recv_queue.popleft()
                self.receiver(sid, payload)
        finally:
            self._draining = False

    def set_receiver(self, receiver: Callable[[int, bytes], None] | None) -> None:
        self.receiver = receiver
        self._drain()

    def _bad_input(self, ch: Channel, why: str) -> None:
        self.stats["bad_input"] += 1
        peer = getattr(ch.transport, "peer_text", None)
        peer = peer() if callable(peer) else ""
        log.warning(
            "Closing election connection%s%s: %s",
            f" from server {ch.sid}" if ch.sid is not None else "",
            f" ({peer})" if peer else "",
            why,
        )
        ch.close()

    def _channel_lost(self, ch: Channel, reason: object) -> None:
        self.channels.discard(ch)
        if ch.sid is not None and self.workers.get(ch.sid) is ch:
            del self.workers[ch.sid]
            log.debug("Connection broken for id %d, my id = %d: %s", ch.sid, self.my_sid, reason)

    # ---------------------------------------------------------------- shutdown
    def halt(self) -> None:
        """Close every connection and dial nothing more."""
        self.halted = True
        for ch in list(self.channels):
            ch.close()
        self.workers.clear()
