"""Small statistics: percentiles of one run, median and spread over runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between the closest ranks.

    The same definition as numpy's default ("linear"): with 60 samples, p95 lies between the
    57th and the 58th smallest value.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """One figure over several runs: the median and the range."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median over runs."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest value."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest value."""
        return max(self.values)

    @property
    def runs(self) -> int:
        """How many runs."""
        return len(self.values)


def spread(values: Sequence[float]) -> Spread:
    """Summarise `values` (one per run)."""
    if not values:
        raise ValueError("no runs to summarise")
    return Spread(tuple(values))
