"""A progress bar on stderr while a tool reads a big file: only on a terminal, never piped."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from ..persistence.progress import format_eta

#: files smaller than this are read before a bar would be seen
BIG_FILE = 1 << 20
WIDTH = 30


class ProgressBar:
    """``update(offset, items)`` as the file is read; ``close()`` ends the line."""

    def __init__(
        self,
        label: str,
        total_bytes: int,
        unit: str = "nodes",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.1,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.total = max(total_bytes, 1)
        self.unit = unit
        self.clock = clock
        self.every = every
        self.started = clock()
        self._next = self.started
        self.drawn = False

    @classmethod
    def for_file(cls, label: str, path, unit: str = "nodes", stream: TextIO | None = None) -> ProgressBar | None:
        """A bar when ``stream`` (stderr) is a terminal and the file is big; else None."""
        stream = stream if stream is not None else sys.stderr
        try:
            if not stream.isatty():
                return None
            size = os.path.getsize(path)
        except (OSError, ValueError, AttributeError):
            return None
        return cls(label, size, unit, stream) if size >= BIG_FILE else None

    def update(self, offset: int, items: int) -> None:
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every
        self._draw(offset, items, now)

    def _draw(self, offset: int, items: int, now: float) -> None:
        frac = min(1.0, offset / self.total)
        filled = int(frac * WIDTH)
        elapsed = now - self.started
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(
            f"\r{self.label}: [{bar}] {frac * 100:3.0f}%  {items:,} {self.unit}  ETA {format_eta(eta)} "
        )
        self.stream.flush()
        self.drawn = True

    def close(self, offset: int, items: int) -> None:
        """Draw 100% and end the line (nothing if it never drew and nothing was read)."""
        self._draw(offset, items, self.clock())
        self.stream.write("\n")
        self.stream.flush()
