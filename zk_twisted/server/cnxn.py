"""ServerCnxn: what the core knows of one client connection (the shell supplies the I/O)."""

from __future__ import annotations

from collections.abc import Iterator

from ..constants import Code


def _java_string_hash(s: str) -> int:
    """String.hashCode (over UTF-16 code units), as an unsigned 32-bit value."""
    h = 0
    b = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(b), 2):
        h = (31 * h + (b[i] << 8 | b[i + 1])) & 0xFFFFFFFF
    return h


def _auth_id_spread(auth_id: tuple[str, str]) -> int:
    """ConcurrentHashMap.spread(Id.hashCode()) of a jute ``Id(scheme, id)``."""
    h = 17
    for part in auth_id:
        h = (37 * h + _java_string_hash(part or "")) & 0xFFFFFFFF
    return (h ^ (h >> 16)) & 0x7FFFFFFF


class ServerCnxn:
    """Session binding, auth ids and per-connection statistics (``cons``, ``stat``).

    Subclasses implement :meth:`write`, :meth:`close_after_flush`, :meth:`pause_reading`
    and :meth:`resume_reading`; the Twisted protocol is one, test fakes are others.
    """

    session_id: int = 0
    session_timeout: int = 0

    def init_cnxn(self, remote_ip: str, remote_port: int, now_ms: int) -> None:
        """``now_ms``: wall-clock time ('cons' prints it as est=, as 3.8's Date)."""
        self.session_id = 0
        self.session_timeout = 0
        self.remote_ip = remote_ip
        self.remote_port = remote_port
        #: a tuple, so each request can share it as it was when the request arrived
        self.auth_ids: tuple[tuple[str, str], ...] = (("ip", remote_ip),)
        self._auth_seq: dict[tuple[str, str], int] = {("ip", remote_ip): 0}
        self.old_client = True
        self.established = now_ms
        self.outstanding = 0
        self.throttled = False
        self.closing = False
        # statistics, as ServerCnxn keeps them for 'cons'
        self.packets_received = 0
        self.packets_sent = 0
        self.min_latency = -1
        self.max_latency = 0
        self.total_latency = 0
        self.count = 0
        self.last_cxid = -1
        self.last_zxid = -1
        self.last_op = "NA"
        self.last_latency = 0
        self.last_response_time = 0

    def add_auth(self, auth_id: tuple[str, str]) -> None:
        """Add an id; ``auth_ids`` keeps the order 3.8 iterates them in.

        3.8 keeps a connection's ids in a set backed by a ConcurrentHashMap, and that
        iteration order shows: in whoAmI's answer and in the ACL an ``auth`` id expands to.
        The order is by hash bucket (table of 16, doubling at 3/4 full), then insertion.
        """
        seq = self._auth_seq
        if auth_id in seq:
            return
        seq[auth_id] = len(seq)
        n = 16
        while len(seq) >= n - (n >> 2):
            n <<= 1
        mask = n - 1
        self.auth_ids = tuple(sorted(seq, key=lambda a: (_auth_id_spread(a) & mask, seq[a])))

    def reset_stats(self) -> None:
        self.packets_received = self.packets_sent = 0
        self.min_latency = -1
        self.max_latency = self.total_latency = self.count = 0
        self.last_cxid = self.last_zxid = -1
        self.last_op = "NA"
        self.last_latency = self.last_response_time = 0

    def record_latency(self, latency: int) -> None:
        self.count += 1
        self.total_latency += latency
        self.last_latency = latency
        if self.min_latency < 0 or latency < self.min_latency:
            self.min_latency = latency
        if latency > self.max_latency:
            self.max_latency = latency

    # ---- I/O supplied by the shell
    def write(self, data: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write_stream(self, header: bytes, chunks: Iterator[bytes]) -> None:
        """Write one large frame: ``header``, then ``chunks``, pulled only as fast as the
        connection drains (the Twisted shell does; this default writes it whole)."""
        self.write(header + b"".join(chunks))

    def close_after_flush(self, reason: int = Code.OK) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def pause_reading(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def resume_reading(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
