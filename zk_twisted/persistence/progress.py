"""Progress of long storage work (loading or writing a big snapshot): a log line every few seconds.

``ProgressLog.update(done, fraction)`` is cheap (one clock read) and logs at most every
``interval`` seconds: nodes done, rate, and the ETA from the fraction of the work done
(bytes of the file when reading: a snapshot does not say how many nodes it holds).  The
clock and the sink are injected, so tests drive it without waiting.  Work that ends
before the first interval logs nothing extra.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: the callers check every this many nodes, so the clock is read rarely
NODES_PER_CHECK = 4096
DEFAULT_INTERVAL_S = 5.0


def format_eta(seconds: float) -> str:
    if seconds != seconds or seconds < 0:  # NaN
        return "?"
    s = int(seconds + 0.5)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressLog:
    """``what``: e.g. "Reading snapshot /d/version-2/snapshot.1a" (the line's start)."""

    def __init__(
        self,
        what: str,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.what = what
        self.interval = DEFAULT_INTERVAL_S if interval is None else interval
        self.clock = clock
        self.emit = emit or log.info
        self.started = clock()
        self._next = self.started + self.interval
        self.lines = 0

    def update(self, done: int, fraction: float) -> None:
        """``done`` nodes so far, ``fraction`` (0..1) of the whole work."""
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.interval
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else float("nan")
        self.lines += 1
        self.emit(
            f"{self.what}: {done:,} nodes ({fraction * 100:.0f}%), {rate:,.0f} nodes/s, ETA {format_eta(eta)}"
        )
