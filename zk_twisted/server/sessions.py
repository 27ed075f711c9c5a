"""Sessions: SessionTracker with ZooKeeper's ExpiryQueue (expiry in tickTime buckets).

Sans-IO: every method takes ``now`` in milliseconds; the shell asks :meth:`next_expiry`
when to call :meth:`expire_due` again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..constants import CONTAINER_EPHEMERAL_OWNER, SUPER_SECRET, Code, KeeperError

_U64 = (1 << 64) - 1


def _signed(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


class JavaRandom:
    """java.util.Random: session passwords must match what a Java server derives."""

    __slots__ = ("seed",)
    _MULT = 0x5DEECE66D
    _MASK = (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self.seed = (seed ^ self._MULT) & self._MASK

    def next(self, bits: int) -> int:
        self.seed = (self.seed * self._MULT + 0xB) & self._MASK
        r = self.seed >> (48 - bits)
        return r - (1 << bits) if r >> (bits - 1) else r  # as a signed Java int

    def next_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            rnd = self.next(32)
            for _ in range(min(n - len(out), 4)):
                out.append(rnd & 0xFF)
                rnd >>= 8
        return bytes(out)


def generate_passwd(session_id: int) -> bytes:
    """ZooKeeperServer.generatePasswd: 16 bytes from Random(sessionId ^ superSecret)."""
    return JavaRandom(session_id ^ SUPER_SECRET).next_bytes(16)


def initial_session_id(server_id: int, now_ms: int) -> int:
    """SessionTrackerImpl.initializeNextSessionId: time in the middle, server id on top."""
    nxt = ((now_ms << 24) & _U64) >> 8
    nxt = _signed(nxt | (server_id << 56))
    if nxt == CONTAINER_EPHEMERAL_OWNER:
        nxt += 1
    return nxt


class ExpiryQueue:
    """Elements expire in buckets ``interval`` ms wide, as ZooKeeper's ExpiryQueue."""

    def __init__(self, interval: int, now: int) -> None:
        self.interval = interval
        self.elem_expiry: dict[object, int] = {}
        self.buckets: dict[int, set] = {}
        self.next_expiration = self.round_up(now)

    def round_up(self, t: int) -> int:
        return (t // self.interval + 1) * self.interval

    def update(self, elem, timeout: int, now: int) -> int | None:
        prev = self.elem_expiry.get(elem)
        new = self.round_up(now + timeout)
        if new == prev:
            return None
        bucket = self.buckets.get(new)
        if bucket is None:
            bucket = self.buckets[new] = set()
        bucket.add(elem)
        self.elem_expiry[elem] = new
        if prev is not None:
            old = self.buckets.get(prev)
            if old is not None:
                old.discard(elem)
                if not old:
                    del self.buckets[prev]
        return new

    def remove(self, elem) -> None:
        t = self.elem_expiry.pop(elem, None)
        if t is not None:
            bucket = self.buckets.get(t)
            if bucket is not None:
                bucket.discard(elem)
                if not bucket:
                    del self.buckets[t]

    def poll(self, now: int) -> list:
        """Every element whose bucket time has passed."""
        out: list = []
        while now >= self.next_expiration:
            bucket = self.buckets.pop(self.next_expiration, None)
            if bucket:
                for e in bucket:
                    self.elem_expiry.pop(e, None)
                out.extend(bucket)
            self.next_expiration += self.interval
            if not self.buckets:
                self.next_expiration = max(self.next_expiration, self.round_up(now))
        return out

    def wait_time(self, now: int) -> int:
        return max(0, self.next_expiration - now)


@dataclass(slots=True, eq=False)
class Session:
    session_id: int
    timeout: int
    closing: bool = False
    owner: object = None


class SessionTracker:
    """SessionTrackerImpl for a standalone server or a leader."""

    def __init__(self, tick_time: int, server_id: int, now: int, wall_ms: int | None = None) -> None:
        """``now``: the monotonic time expiry runs on; ``wall_ms``: the wall time session ids
        start from (unique across restarts), ``now`` if not given."""
        self.tick_time = tick_time
        self.sessions: dict[int, Session] = {}
        self.queue = ExpiryQueue(tick_time, now)
        self.next_session_id = initial_session_id(server_id, now if wall_ms is None else wall_ms)

    def create_session(self, timeout: int, now: int) -> int:
        sid = self.next_session_id
        self.next_session_id = _signed(sid + 1)
        self.track_session(sid, timeout, now)
        return sid

    def track_session(self, session_id: int, timeout: int, now: int) -> None:
        s = self.sessions.get(session_id)
        if s is None:
            s = self.sessions[session_id] = Session(session_id, timeout)
        self.queue.update(s, s.timeout, now)

    def touch(self, session_id: int, timeout: int, now: int) -> bool:
        s = self.sessions.get(session_id)
        if s is None or s.closing:
            return False
        s.timeout = timeout
        self.queue.update(s, timeout, now)
        return True

    def check(self, session_id: int, owner=None) -> None:
        s = self.sessions.get(session_id)
        if s is None or s.closing:
            raise KeeperError(Code.SESSIONEXPIRED)
        if owner is not None and s.owner is not None and s.owner is not owner:
            raise KeeperError(Code.SESSIONMOVED)

    def set_owner(self, session_id: int, owner) -> None:
        s = self.sessions.get(session_id)
        if s is None or s.closing:
            raise KeeperError(Code.SESSIONEXPIRED)
        s.owner = owner

    def set_closing(self, session_id: int) -> None:
        s = self.sessions.get(session_id)
        if s is not None:
            s.closing = True

    def remove(self, session_id: int) -> None:
        s = self.sessions.pop(session_id, None)
        if s is not None:
            self.queue.remove(s)

    def expire_due(self, now: int) -> list[Session]:
        """Sessions whose time ran out; they are marked closing (closeSession follows)."""
        expired = self.queue.poll(now)
        for s in expired:
            s.closing = True
        return expired

    def next_expiry(self, now: int) -> int:
        return self.queue.wait_time(now)

    def timeouts(self) -> dict[int, int]:
        return {sid: s.timeout for sid, s in self.sessions.items()}

    def __contains__(self, session_id: int) -> bool:
        return session_id in self.sessions

    def __len__(self) -> int:
        return len(self.sessions)


__all__ = ["ExpiryQueue", "JavaRandom", "Session", "SessionTracker", "generate_passwd", "initial_session_id"]
