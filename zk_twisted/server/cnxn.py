"""ServerCnxn: what the core knows of one client connection (the shell supplies the I/O)."""

from __future__ import annotations

from ..constants import Code


class ServerCnxn:
    """Session binding, auth ids and per-connection statistics (``cons``, ``stat``).

    Subclasses implement :meth:`write`, :meth:`close_after_flush`, :meth:`pause_reading`
    and :meth:`resume_reading`; the Twisted protocol is one, test fakes are others.
    """

    session_id: int = 0
    session_timeout: int = 0

    def init_cnxn(self, remote_ip: str, remote_port: int, now_ms: int) -> None:
        self.session_id = 0
        self.session_timeout = 0
        self.remote_ip = remote_ip
        self.remote_port = remote_port
        self.auth_ids: list[tuple[str, str]] = [("ip", remote_ip)]
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
        if auth_id not in self.auth_ids:
            self.auth_ids.append(auth_id)

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

    def close_after_flush(self, reason: int = Code.OK) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def pause_reading(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def resume_reading(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
