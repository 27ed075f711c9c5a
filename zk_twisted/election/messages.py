"""Election-port bytes (sans-IO): QuorumCnxManager's initial message and frames, and
FastLeaderElection's Notification, exactly as ZooKeeper 3.8 writes and reads them.

QUORUM_NOTES.md sections 1 and 2 hold the captured bytes; the tests check every encoder
against them.  Decoders raise :class:`ElectionWireError` (a subclass per kind); the caller
closes the one connection the bad bytes came from.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..config import _java_host_string

__all__ = [
    "PROTOCOL_VERSION_V1",
    "PROTOCOL_VERSION_V2",
    "MAX_ADDR_LEN",
    "PACKET_MAX_SIZE",
    "OBSERVER_ID",
    "NOTIFICATION_VERSION",
    "ServerState",
    "ElectionWireError",
    "InitialMessageError",
    "FrameError",
    "NotificationError",
    "InitialMessage",
    "InitialMessageReader",
    "FrameReader",
    "Notification",
    "encode_initial_message",
    "format_inet_addr",
    "frame",
    "encode_notification",
    "decode_notification",
    "config_version_of",
]

#: QuorumCnxManager.PROTOCOL_VERSION_V1 (3.5+): one election address
PROTOCOL_VERSION_V1 = -65536
#: QuorumCnxManager.PROTOCOL_VERSION_V2 (3.6+, only with multiAddress.enabled): "a|b|c"
PROTOCOL_VERSION_V2 = -65535
#: QuorumCnxManager.maxBuffer: the longest address string of an initial message
MAX_ADDR_LEN = 2048
#: QuorumCnxManager.PACKETMAXSIZE: the longest election frame
PACKET_MAX_SIZE = 1024 * 512
#: QuorumPeer.OBSERVER_ID: what an observer without an id sends as its sid
OBSERVER_ID = (1 << 63) - 1
#: FastLeaderElection.Notification.CURRENTVERSION
NOTIFICATION_VERSION = 2

_Q = struct.Struct(">q")
_I = struct.Struct(">i")
_QQI = struct.Struct(">qqi")
_HEAD = struct.Struct(">iqqq")  # state, leader, zxid, electionEpoch: the 28 bytes every version has


class ServerState(enum.IntEnum):
    """QuorumPeer.ServerState; the ordinal is what a notification carries."""

    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


class ElectionWireError(ValueError):
    """Bytes on the election port that 3.8 would not accept: close that connection."""


class InitialMessageError(ElectionWireError):
    """InitialMessage.InitialMessageException: bad protocol version, length or address."""


class FrameError(ElectionWireError):
    """A frame length <= 0 or > PACKET_MAX_SIZE (RecvWorker: "invalid packet")."""


class NotificationError(ElectionWireError):
    """A notification 3.8's WorkerReceiver skips: short, truncated, bad config length."""


# ------------------------------------------------------------------------ initial message
def format_inet_addr(host: str, port: int) -> str:
    """NetUtils.formatInetAddr of a resolved address: ``a.b.c.d:p`` or ``[v6 long form]:p``."""
    text = _java_host_string(host)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def encode_initial_message(
    sid: int,
    addresses: list[tuple[str, int]] | tuple[tuple[str, int], ...],
    version: int = PROTOCOL_VERSION_V1,
) -> bytes:
    """startConnection: long protocol version, long sid, int length, the address(es).

    V1 sends the first address only; V2 joins them all with ``|``.  ``addresses`` are
    (ip, port) pairs, already resolved (3.8 sends IPs, not names).
    """
    addrs = list(addresses) if version == PROTOCOL_VERSION_V2 else list(addresses)[:1]
    text = "|".join(format_inet_addr(h, p) for h, p in addrs).encode("utf-8")
    return _QQI.pack(version, sid, len(text)) + text


@dataclass(frozen=True)
class InitialMessage:
    """What a connecting peer said: its sid, its election addresses (none for the legacy
    sid-only form or wildcard hosts), and the protocol version (None: legacy)."""

    sid: int
    addresses: tuple[tuple[str, int], ...] = ()
    protocol_version: int | None = None


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "0:0:0:0:0:0:0:0")


def _host_port(addr: str) -> list[str]:
    """ConfigUtils.getHostAndPort: ``host:port`` or ``[v6]:port``."""
    if addr.startswith("["):
        i = addr.find("]")
        if i < 0 or i + 2 == len(addr):
            raise InitialMessageError(f"Badly formed address: {addr}")
        if i + 2 < len(addr):
            return [addr[1:i], *[p for p in addr[i + 2 :].split(":")]]
        return [addr.replace("[", "").replace("]", "")]
    parts = addr.split(":")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def parse_addresses(text: str) -> tuple[tuple[str, int], ...]:
    """InitialMessage.parse's address part: ``h:p|h:p``; wildcard hosts are left out."""
    out = []
    for addr in text.split("|"):
        hp = _host_port(addr)
        if len(hp) != 2:
            raise InitialMessageError(f"Badly formed address: {addr}")
        raw = hp[1]
        if not raw.lstrip("+-").isdigit() or not raw.isascii():
            raise InitialMessageError(f"Bad port number: {raw}")
        port = int(raw)
        if not -(1 << 31) <= port < (1 << 31):
            raise InitialMessageError(f"Bad port number: {raw}")
        if not 0 <= port <= 65535:
            # InetSocketAddress throws IllegalArgumentException: 3.8's listener would die; we refuse
            raise InitialMessageError(f"port out of range: {port}")
        if not hp[0] or not _is_wildcard(hp[0]):
            out.append((hp[0], port))
    return tuple(out)


class InitialMessageReader:
    """Reads the connection header of an incoming election connection, byte by byte.

    :meth:`feed` returns None until the whole header is in, then ``(InitialMessage, rest)``
    (``rest``: bytes after it, the first frames).  Unlike 3.8 (one ``read()``, so a header
    split across TCP segments fails with "Read only N bytes") it waits for the whole header;
    the caller bounds the wait (3.8's handshake soTimeout).
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> tuple[InitialMessage, bytes] | None:
        self._buf += data
        buf = self._buf
        if len(buf) < 8:
            return None
        (first,) = _Q.unpack_from(buf, 0)
        if first >= 0:  # a server id, not a protocol version: the pre-3.5 header
            return InitialMessage(first), bytes(buf[8:])
        if first not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
            raise InitialMessageError(f"Got unrecognized protocol version {first}")
        if len(buf) < 20:
            return None
        sid, remaining = struct.unpack_from(">qi", buf, 8)
        if remaining <= 0 or remaining > MAX_ADDR_LEN:
            raise InitialMessageError(f"Unreasonable buffer length: {remaining}")
        if len(buf) < 20 + remaining:
            return None
        try:
            text = bytes(buf[20 : 20 + remaining]).decode("utf-8")
        except UnicodeDecodeError:
            raise InitialMessageError(f"address of server {sid} is not UTF-8") from None
        return InitialMessage(sid, parse_addresses(text), first), bytes(buf[20 + remaining :])


# --------------------------------------------------------------------------------- frames
def frame(payload: bytes) -> bytes:
    """SendWorker.send: int length, then the message."""
    return _I.pack(len(payload)) + payload


class FrameReader:
    """RecvWorker: int length (1..PACKET_MAX_SIZE) + payload, repeated."""

    def __init__(self, max_size: int = PACKET_MAX_SIZE) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        off = 0
        n = len(buf)
        while n - off >= 4:
            (length,) = _I.unpack_from(buf, off)
            if length <= 0 or length > self.max_size:
                del buf[:off]
                raise FrameError(f"Received packet with invalid packet: {length}")
            if n - off - 4 < length:
                break
            out.append(bytes(buf[off + 4 : off + 4 + length]))
            off += 4 + length
        del buf[:off]
        return out


# --------------------------------------------------------------------------- notification
@dataclass(frozen=True)
class Notification:
    """FastLeaderElection.Notification: a peer's vote, its round and its state.

    ``sid`` is the sender (from the connection, not the payload).  ``version`` is 0 for the
    28/40-byte legacy forms; ``config`` the raw QuorumVerifier text (None when absent).
    ``state`` stays an int so an unknown ordinal can be seen (3.8 drops those).
    """

    state: int
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    sid: int = 0
    version: int = NOTIFICATION_VERSION
    config: bytes | None = b""


def encode_notification(
    state: int, leader: int, zxid: int, election_epoch: int, peer_epoch: int, config: bytes = b""
) -> bytes:
    """buildMsg: int state, long leader, long zxid, long electionEpoch, long peerEpoch,
    int version (2), int config length, config (QuorumVerifier.toString() bytes)."""
    return (
        _HEAD.pack(int(state), leader, zxid, election_epoch)
        + struct.pack(">qii", peer_epoch, NOTIFICATION_VERSION, len(config))
        + config
    )


def decode_notification(payload: bytes, sid: int = 0) -> Notification:
    """WorkerReceiver's parse, by length: < 28 short; == 28 no peerEpoch (= epoch of zxid);
    == 40 peerEpoch, no version; else peerEpoch + version, and version > 1 brings a config
    length (0..len) and the config.  Anything that underflows raises NotificationError."""
    cap = len(payload)
    if cap < 28:
        raise NotificationError(f"Got a short response from server {sid}: {cap}")
    state, leader, zxid, ee = _HEAD.unpack_from(payload, 0)
    if cap == 28:
        return Notification(state, leader, zxid, ee, (zxid >> 32) & 0xFFFFFFFF, sid, 0, None)
    if cap < 36:
        raise NotificationError(f"partial notification from server {sid} (message length: {cap})")
    (peer_epoch,) = _Q.unpack_from(payload, 28)
    if cap == 40:
        return Notification(state, leader, zxid, ee, peer_epoch, sid, 0, None)
    if cap < 40:
        raise NotificationError(f"partial notification from server {sid} (message length: {cap})")
    (version,) = _I.unpack_from(payload, 36)
    config = None
    if version > 1:
        if cap < 44:
            raise NotificationError(f"partial notification from server {sid} (message length: {cap})")
        (cfg_len,) = _I.unpack_from(payload, 40)
        if cfg_len < 0 or cfg_len > cap:
            raise NotificationError(
                f"Invalid configLength in notification message! sid={sid}, capacity={cap}, "
                f"version={version}, configLength={cfg_len}"
            )
        if 44 + cfg_len > cap:
            raise NotificationError(f"partial notification from server {sid} (message length: {cap})")
        config = bytes(payload[44 : 44 + cfg_len])
    return Notification(state, leader, zxid, ee, peer_epoch, sid, version, config)


def config_version_of(config: bytes | None) -> int | None:
    """The ``version=<hex>`` of a notification's config text (None if absent or unreadable)."""
    if not config:
        return None
    try:
        text = config.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for line in text.split("\n"):
        if line.startswith("version="):
            try:
                return int(line[8:], 16)
            except ValueError:
                return None
    return None
