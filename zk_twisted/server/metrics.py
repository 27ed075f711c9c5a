"""Summaries as ZooKeeper 3.8's metrics keep them, for ``mntr`` (avg/min/max/cnt/sum[/pNN]).

Sans-IO and cheap: one ``add`` per data point.  Every summary keeps a uniform reservoir of
4096 samples (as AvgMinMaxPercentileCounter), so p50..p999 are estimates from a sample once
more than 4096 points were added, exactly as in 3.8; ``mntr`` prints them for the ADVANCED
ones only (``percentiles``), the Prometheus export reads quantiles of every summary.
Count and total also run on across resets (``lifetime_count`` / ``lifetime_total``): a
Prometheus summary is never reset ('srst' leaves 3.8's Prometheus provider alone).
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

    __slots__ = (
        "name", "percentiles", "count", "total", "min", "max", "_samples", "_rng", "_carried_count",
        "_carried_total",
    )  # fmt: skip

    def __init__(self, name: str, percentiles: bool = False) -> None:
        self.name = name
        self.percentiles = percentiles
        self._rng = random.Random()
        self._carried_count = 0
        self._carried_total = 0
        self.count = 0
        self.total = 0
        self.reset()

    @property
    def lifetime_count(self) -> int:
        """Points added since the summary was made ('srst' does not reset it)."""
        return self._carried_count + self.count

    @property
    def lifetime_total(self) -> int:
        return self._carried_total + self.total

    def reset(self) -> None:
        self._carried_count += self.count
        self._carried_total += self.total
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
        if self.count <= _RESERVOIR:
            self._samples.append(value)
        else:
            # replace a uniform slot with probability RESERVOIR/count (Vitter's algorithm R)
            rnd = self._rng.random
            if rnd() * self.count < _RESERVOIR:
                self._samples[int(rnd() * _RESERVOIR)] = value

    def quantile(self, q: float) -> float:
        """Dropwizard's UniformSnapshot.getValue: linear interpolation between ranks."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs) -> list[float]:
        """Several quantiles from one sort of the reservoir (0.0 each when empty)."""
        values = sorted(self._samples)
        return [_rank_value(values, q) for q in qs]

    def has_samples(self) -> bool:
        return bool(self._samples)

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
            labels = ("p50", "p95", "p99", "p999")
            for label, v in zip(labels, self.quantiles((0.5, 0.95, 0.99, 0.999)), strict=True):
                out.append((f"{label}_{n}", math.floor(v + 0.5)))
        return out


def _rank_value(values: list[int], q: float) -> float:
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
