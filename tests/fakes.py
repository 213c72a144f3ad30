"""Fakes shared by the unit tests: a virtual clock whose sleep advances time at once, a paged
log stream, and an account-wide quota on that clock."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable

import anyio
import anyio.lowlevel

from ecs_one_off_task.errors import Throttled
from ecs_one_off_task.follower import LogPage

# Decides at each call (given the virtual time) whether AWS refuses it, and with what.
Refusal = Callable[[float], Exception | None]


class VirtualClock:
    """A monotonic clock whose time jumps to the next wake-up once every task is waiting.

    Lets the follower's and the watcher's pacing be checked to the millisecond, without waiting
    for real time. `drive` must run beside the code under test.
    """

    # Checkpoints given to other tasks before time moves: the fakes do no real I/O, so every
    # runnable task gets to its next sleep well within this many turns.
    SETTLE_TURNS = 50

    def __init__(self, start: float = 1000.0) -> None:
        """Start at `start` (not 0, so that "never" and "at 0" cannot be confused)."""
        self.now = start
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._counter = itertools.count()

    def __call__(self) -> float:
        """The current virtual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until virtual time has moved by `seconds`."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        woken = anyio.Event()
        entry = (self.now + seconds, next(self._counter), woken)
        heapq.heappush(self._sleepers, entry)
        try:
            await woken.wait()
        finally:
            if not woken.is_set():  # cancelled: forget this wake-up
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    async def drive(self) -> None:
        """Move time to the earliest wake-up whenever all other tasks are waiting."""
        while True:
            for _ in range(self.SETTLE_TURNS):
                await anyio.lowlevel.checkpoint()
            if not self._sleepers:
                continue
            deadline, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            woken.set()


class FakeStream:
    """A CloudWatch Logs stream on a virtual clock, paged like GetLogEvents with forward tokens.

    An event becomes readable at its ingestion time; the stream exists from `created_at` on.
    At the end of the stream the same token comes back, as on AWS.
    """

    def __init__(
        self,
        clock: VirtualClock,
        events: list[tuple[float, str]],
        *,
        created_at: float = float("-inf"),
        page_size: int = 10_000,
        empty_pages: int = 0,
        refuse: Refusal | None = None,
    ) -> None:
        """`events` are (ingestion time, message) in ingestion order; `refuse` may turn a call
        down (a quota, an outage) before it is answered."""
        self.clock = clock
        self.events = events
        self.created_at = created_at
        self.page_size = page_size
        self.empty_pages = empty_pages
        self.refuse = refuse
        self.calls: list[tuple[float, str | None]] = []
        self.refused: list[float] = []
        self.answered: list[float] = []
        self.failures: list[Exception] = []

    async def fetch(self, token: str | None) -> LogPage | None:
        """One GetLogEvents call after `token`."""
        self.calls.append((self.clock.now, token))
        if self.failures:
            self.refused.append(self.clock.now)
            raise self.failures.pop(0)
        refusal = None if self.refuse is None else self.refuse(self.clock.now)
        if refusal is not None:
            self.refused.append(self.clock.now)
            raise refusal
        self.answered.append(self.clock.now)
        if self.clock.now < self.created_at:
            return None
        start = int(token[2:]) if token else 0
        if self.empty_pages:
            # AWS may answer an empty page whose token still moves.
            self.empty_pages -= 1
            return LogPage(messages=[], next_forward_token=f"f/{start}" + " " * self.empty_pages)
        visible = [(at, m) for at, m in self.events if at <= self.clock.now]
        page = visible[start : start + self.page_size]
        return LogPage(
            messages=[m for _, m in page],
            next_forward_token=f"f/{start + len(page)}",
            ingestion_times=[round(at * 1000) for at, _ in page],
        )


class SlidingQuota:
    """An account-wide quota on the virtual clock: at most `rate` answered calls in any second.

    Shared by several FakeStreams (`refuse=quota`), it throttles them the way CloudWatch Logs
    throttles every job of an account once their GetLogEvents calls together exceed it.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._admitted: deque[float] = deque()
        self.throttled = 0
        self.admitted = 0

    def __call__(self, now: float) -> Exception | None:
        while self._admitted and self._admitted[0] <= now - 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= self.rate:
            self.throttled += 1
            return Throttled("logs:GetLogEvents: ThrottlingException: Rate exceeded")
        self._admitted.append(now)
        self.admitted += 1
        return None


def throttled_between(start: float, end: float) -> Refusal:
    """Throttle every call made in [start, end) of virtual time."""

    def refuse(now: float) -> Exception | None:
        if start <= now < end:
            return Throttled("logs:GetLogEvents: ThrottlingException: Rate exceeded")
        return None

    return refuse
