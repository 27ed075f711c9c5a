"""Summaries as ZooKeeper 3.8's metrics keep them, for ``mntr`` (avg/min/max/cnt/sum[/pNN]).

Sans-IO and cheap: one ``add`` per data point.  A summary with percentiles keeps a uniform
reservoir of 4096 samples (as AvgMinMaxPercentileCounter), so p50..p999 are estimates
from a sample once more than 4096 points were added, exactly as in 3.8.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Decimal

_RESERVOIR = 4096
_FOUR_PLACES = Decimal("0.0001")


def round_avg(total: int, count: int) -> float:
    """AvgMinMaxCounter.getAvg: total/count, rounded half-up to 4 decimals (0.0 when empty)."""
    if count <= 0:
        return 0.0
    return float(Decimal(total / count).quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP))


class Summary:
    """One 3.8 summary; ``percentiles`` makes it an ADVANCED one (p50, p95, p99, p999)."""

    __slots__ = ("name", "percentiles", "count", "total", "min", "max", "_samples", "_rng")

    def __init__(self, name: str, percentiles: bool = False) -> None:
        self.name = name
        self.percentiles = percentiles
        self._rng = random.Random()
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None
        self._samples: list[int] = []

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        if self.percentiles:
            if self.count <= _RESERVOIR:
                self._samples.append(value)
            else:
                # replace a uniform slot with probability RESERVOIR/count (Vitter's algorithm R)
                rnd = self._rng.random
                if rnd() * self.count < _RESERVOIR:
                    self._samples[int(rnd() * _RESERVOIR)] = value

    def quantile(self, q: float) -> float:
        """Dropwizard's UniformSnapshot.getValue: linear interpolation between ranks."""
        values = sorted(self._samples)
        n = len(values)
        if n == 0:
            return 0.0
        pos = q * (n + 1)
        index = int(pos)
        if index < 1:
            return float(values[0])
        if index >= n:
            return float(values[-1])
        lower, upper = values[index - 1], values[index]
        return lower + (pos - math.floor(pos)) * (upper - lower)

    def values(self) -> list[tuple[str, int | float]]:
        """The (key, value) pairs 3.8 prints for this summary, in its order."""
        n = self.name
        out: list[tuple[str, int | float]] = [
            (f"avg_{n}", round_avg(self.total, self.count)),
            (f"min_{n}", self.min if self.min is not None else 0),
            (f"max_{n}", self.max if self.max is not None else 0),
            (f"cnt_{n}", self.count),
            (f"sum_{n}", self.total),
        ]
        if self.percentiles:
            for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)):
                out.append((f"{label}_{n}", math.floor(self.quantile(q) + 0.5)))
        return out


class BufferStats:
    """Last/min/max size of client responses (3.8's BufferStats: -1 until the first one)."""

    __slots__ = ("last", "min", "max")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.last = self.min = self.max = -1

    def add(self, size: int) -> None:
        self.last = size
        if self.min == -1 or size < self.min:
            self.min = size
        if size > self.max:
            self.max = size
