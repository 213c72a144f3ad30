"""Read in step with the awslogs driver: learn when it flushes, say when to read next. Pure.

The awslogs log driver (Docker's on EC2 and EXTERNAL; wrapped by Fargate's logger) holds a
container's lines and sends them with PutLogEvents on a ticker of
`awslogs-force-flush-interval-seconds` (5 s by default) started with the container, at once when
a batch is full, and at the container's exit. A line therefore becomes readable only just after a
tick: a read between two ticks finds nothing new. CloudWatch stamps each event it receives with
`ingestionTime`, the same for every event of one PutLogEvents call, so the follower can see the
ticks: one distinct ingestion time is one flush.

`FlushGrid` predicts the ticks from the task's `startedAt` and the period, then confirms and
corrects them from the ingestion times read: the anchor follows the earliest flush seen of the
last few (a flush lands a PutLogEvents delay after its tick, never before). It says when to read
next: just after the next expected flush, by `READ_MARGIN`. It drops the grid (the follower then
reads at its usual pace) when a flush does not fit it (a writer that does not batch, another
writer, a clock step: two flushes in one period, or one far from its tick) or a page comes back
full (the driver flushed early because its batch was full), and takes it back after
`CONFIRMING` flushes in a row fit one. Times are wall-clock seconds (ECS's and CloudWatch's).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_FLUSH_PERIOD = 5.0
"""awslogs-force-flush-interval-seconds when not set (and always on Fargate)."""
FLUSH_OPTION = "awslogs-force-flush-interval-seconds"
READ_MARGIN = 0.4
"""Read this long after a flush is expected: its PutLogEvents takes tens to a few hundred ms."""
EXIT_FLUSH_LATE = 1.0
"""The driver's last flush, at the container's exit, can land up to this long after STOPPED."""
CONFIRMING = 3
"""Flushes in a row on one grid before reading in step with it again after dropping it."""
HISTORY = 4
"""The anchor follows the earliest of this many recent flushes (relative to their ticks)."""
SPREAD = 0.3
"""After a throttled read, later reads move by a random part of the period, up to this share:
runs whose flushes come at the same moment (started together) stop reading together."""


def early_tolerance(period: float) -> float:
    """How long before its tick a flush may land and still fit (the tick's start is estimated)."""
    return min(0.25, 0.2 * period)


def late_tolerance(period: float) -> float:
    """How long after its tick a flush may land and still fit (the PutLogEvents delay)."""
    return min(1.0, 0.45 * period)


@dataclass
class FlushGrid:
    """The driver's flush ticks of one stream, as far as they are known.

    `in_step` says whether to read at `next_read` (just after each expected flush) rather than
    at the follower's usual pace. `why_not` says why the grid was last dropped.
    """

    period: float
    anchor: float | None = None
    """A tick (wall seconds), plus the shortest PutLogEvents delay seen lately."""
    in_step: bool = False
    why_not: str = "no flush seen yet"
    spread: float = 0.0
    """Seconds added to READ_MARGIN: set at random by `throttled`."""
    _last_tick: int = 0
    """Index (from the anchor) of the tick of the last flush that fitted."""
    _confirmed: int = 0
    _residues: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _latest: float = -math.inf
    """The latest ingestion time seen: a flush is only counted once."""
    _flushes: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _started: bool = False
    _unsure: float = 0.0
    """How much earlier than the anchor the ticker may have started (a stream just found)."""

    def started(self, at: float) -> None:
        """The container started at `at` (ECS's startedAt): its ticker started then.

        The flushes already seen (read before the status poll saw RUNNING) are checked against
        the predicted grid: any that does not fit it means lines arrive off the grid.
        """
        if self._started:
            return
        self._started = True
        seen = [t for t in self._flushes if t >= at]
        self._reset(at, confirmed=CONFIRMING, first_is_flush=False)
        self.in_step = True
        self.why_not = ""
        for flush in seen:
            self._add(flush)

    def stream_found(self, at: float, *, since: float) -> None:
        """The stream appeared between `since` and `at`: the container's ticker started then.

        The driver creates the stream as the container starts. Until startedAt is known (the
        status poll can come seconds later), the grid is predicted from `at`: reads then come
        after the flushes, late by at most `at - since`, and the first flush corrects the grid.
        """
        if self._started or self.anchor is not None:
            return
        self._reset(at, confirmed=CONFIRMING, first_is_flush=False)
        self._unsure = at - since
        self.in_step = True
        self.why_not = ""

    def observe(self, ingestion_times: Iterable[float], *, full_page: bool) -> None:
        """The ingestion times (wall seconds) of the events of one answered page.

        A full page drops the grid: the driver sent a full batch before its tick, or the reader
        is catching up on a backlog; its flushes say nothing about the ticks.
        """
        times = set(ingestion_times)
        if any(t <= 0 for t in times):
            self._drop("no ingestionTime")
            return
        new = sorted(t for t in times if t > self._latest)
        if not new:
            return
        self._latest = new[-1]
        if full_page:
            self._drop("a full page")
            return
        for flush in new:
            self._flushes.append(flush)
            self._add(flush)

    def next_read(self, now: float, *, not_before: float | None = None) -> float:
        """When to read next (wall seconds): just after the next flush not read yet.

        That is the first expected flush after `now` whose tick had no flush read already;
        `not_before` skips the flushes before it (the idle slow-down, a slowed pace).
        """
        if self.anchor is None:
            raise ValueError("no grid to read in step with")
        after = max(now, not_before if not_before is not None else now)
        first = self.anchor + READ_MARGIN + self.spread
        ticks = math.floor((after - first) / self.period) + 1
        # The flush of the last tick that had one was read already.
        ticks = max(ticks, self._last_tick + 1)
        return first + ticks * self.period

    def throttled(self, draw: float) -> float:
        """A read was throttled: move the reads by a random part of the period.

        `draw` is in [0, 1); returns the new delay added after each flush.
        """
        self.spread = draw * SPREAD * self.period
        return self.spread

    # -- learning ----------------------------------------------------------------------------

    def _place(self, flush: float) -> tuple[int, float]:
        """(tick index, seconds after that tick) of a flush, relative to the anchor."""
        assert self.anchor is not None  # noqa: S101 - placed only once anchored
        tick = math.floor((flush - self.anchor) / self.period + 0.5)
        return tick, flush - (self.anchor + tick * self.period)

    def _add(self, flush: float) -> None:
        if self.anchor is None:
            self._reset(flush, confirmed=1, first_is_flush=True)
            return
        tick, residue = self._place(flush)
        early = early_tolerance(self.period) + self._unsure
        fits = tick > self._last_tick and -early <= residue <= late_tolerance(self.period)
        if not fits:
            why = "two flushes in one period" if tick <= self._last_tick else "a flush off its tick"
            self._drop(why)
            self._reset(flush, confirmed=1, first_is_flush=True)
            return
        self._last_tick = tick
        self._unsure = 0.0
        self._residues.append(residue)
        # A flush lands a delay after its tick, never before: the earliest one is the closest.
        shift = min(self._residues)
        self.anchor += shift
        self._residues = deque((r - shift for r in self._residues), maxlen=HISTORY)
        self._confirmed += 1
        if not self.in_step and self._confirmed >= CONFIRMING:
            self.in_step = True
            self.why_not = ""

    def _reset(self, anchor: float, *, confirmed: int, first_is_flush: bool) -> None:
        self.anchor = anchor
        self._unsure = 0.0
        self._last_tick = 0
        self._confirmed = confirmed
        self._residues = deque([0.0] if first_is_flush else [], maxlen=HISTORY)

    def _drop(self, why: str) -> None:
        self.in_step = False
        self.why_not = why
        self._confirmed = 0


def started_at_of(task: Mapping[str, Any]) -> float | None:
    """ECS's startedAt of a described task, in wall seconds; None before it started."""
    started = task.get("startedAt")
    if isinstance(started, datetime):
        return started.timestamp()
    if isinstance(started, int | float):
        return float(started)
    return None


def flush_period_of(options: Mapping[str, Any]) -> float:
    """The driver's flush period from a container's awslogs options (5 s when not set)."""
    value = options.get(FLUSH_OPTION)
    try:
        period = float(value) if value is not None else DEFAULT_FLUSH_PERIOD
    except ValueError:
        return DEFAULT_FLUSH_PERIOD
    return period if period >= 1 else DEFAULT_FLUSH_PERIOD
