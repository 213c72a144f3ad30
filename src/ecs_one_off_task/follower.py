"""Follow a CloudWatch Logs stream with forward tokens and hand each new page to the output.

The follower never loses or repeats a line: the forward token only moves when a call succeeded,
and a page is written before its token is kept. It retries failed calls itself, so that every
try counts against its calls-per-second cap. Throttling slows its pace (shared by every follower
of the process) instead of only being retried: the account's quota is shared with other jobs.
It stops only after the task stopped and the stream has been quiet for the drain grace,
counted from answered calls alone, because the awslogs driver can deliver the last lines after
ECS reports STOPPED.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from ecs_one_off_task.errors import AwsUnavailable, Throttled
from ecs_one_off_task.output import Outage, Slowdown
from ecs_one_off_task.pacing import (
    AdaptiveInterval,
    CallSpacing,
    idle_interval,
    reads_on_at_once,
    retry_delay,
)


@dataclass(frozen=True, slots=True)
class LogPage:
    """One GetLogEvents answer: the messages in order, and where to read on from."""

    messages: list[str]
    next_forward_token: str
    timestamps: Sequence[int] = ()
    """Each message's event timestamp (ms since the epoch), when asked for."""


# Reads the page after the token; None while the stream does not exist yet.
FetchPage = Callable[[str | None], Awaitable[LogPage | None]]
WritePage = Callable[[Sequence[str]], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class LogPace:
    """The pace of GetLogEvents calls, shared by every follower of one process.

    It holds the adaptive interval (lengthened by throttling, back to `log_interval` as calls
    are answered) and the calls-per-second cap, so that several tasks or containers followed at
    once slow down together and never make more than `rate_limit` calls a second between them.
    It says once on stderr when throttling slows the reads and once when they are back to pace.
    """

    def __init__(
        self,
        *,
        log_interval: float,
        rate_limit: float,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """Start at `log_interval`; `jitter` draws from [0, 1) to spread the waits."""
        self.interval = AdaptiveInterval(floor=log_interval)
        self.spacing = CallSpacing(rate_limit)
        self._jitter = jitter
        self._slowdown = Slowdown("log reads (GetLogEvents)")

    @property
    def floor(self) -> float:
        """--log-interval: the interval never drops below it; at full pace waits average it."""
        return self.interval.floor

    @property
    def slowed(self) -> bool:
        """Whether throttling keeps the pace slower than --log-interval now."""
        return self.interval.slowed

    def wait(self) -> float:
        """Seconds until the next read when caught up, at the current pace."""
        return self.interval.wait(self._jitter())

    def retry_wait(self) -> float:
        """Seconds until a throttled call is tried again: the current pace, not sooner."""
        return self.interval.retry_wait(self._jitter())

    def throttled(self, error: Throttled) -> None:
        """A call was throttled: slow down (and say so, the first time)."""
        if self.interval.throttled():
            self._slowdown.slowed(self.interval.interval, error)

    def answered(self) -> None:
        """A call was answered: speed up a little (and say so when back to normal)."""
        if self.interval.answered():
            self._slowdown.normal(self.interval.interval)

    async def next_call(self, clock: Clock, sleep: Sleep) -> float:
        """Wait until a call may start under the calls-per-second cap; return that time."""
        start = self.spacing.reserve(clock())
        wait = start - clock()
        if wait > 0:
            await sleep(wait)
        return clock()


class LogFollower:
    """Reads pages while more may be there, waits when caught up, drains after the stop."""

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        fetch: FetchPage,
        write: WritePage,
        log_interval: float,
        rate_limit: float,
        clock: Clock,
        sleep: Sleep,
        jitter: Callable[[], float] = random.random,
        pace: LogPace | None = None,
    ) -> None:
        """Set up a follower; nothing is read before `run`.

        `pace` is shared with the other followers of the process; without one the follower
        makes its own from `log_interval` and `rate_limit` (which are ignored when it is given).
        """
        self._fetch = fetch
        self._write = write
        self._pace = (
            pace
            if pace is not None
            else LogPace(log_interval=log_interval, rate_limit=rate_limit, jitter=jitter)
        )
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._active_since = clock()
        self._stop_at: float | None = None
        self._stop_seen_at: float | None = None
        self._grace = 0.0
        self._nap: anyio.CancelScope | None = None
        self._outage = Outage("log stream")
        self.lines = 0
        self.stream_found = False

    def wake(self) -> None:
        """Read now (the task changed state): the stream may have just appeared.

        While throttling slows the pace, the current wait is kept: a status change is no
        reason for a call the account's quota has no room for.
        """
        self._active_since = self._clock()
        if self._nap is not None and not self._pace.slowed:
            self._nap.cancel()

    def task_stopped(self, *, at: float, grace: float) -> None:
        """Start draining: finish once the stream is quiet for `grace` seconds counted from `at`.

        `at` is when the task stopped on this machine's monotonic clock (ECS's stoppedAt), which
        can be earlier than now when the status poll noticed the stop late.
        """
        self._stop_at = at
        self._stop_seen_at = self._clock()
        self._grace = grace
        self.wake()

    async def run(self) -> None:
        """Follow until drained; `lines` and `stream_found` say what was read."""
        token: str | None = None
        last_new_line: float | None = None
        # Lines read before the first catch-up are a backlog (a task attached to late, or long
        # stopped): they say nothing about lines still arriving, so they do not delay the end.
        caught_up_once = False
        while True:
            started = await self._pace.next_call(self._clock, self._sleep)
            try:
                page = await self._fetch(token)
            except Throttled as error:
                # Tried again at the current pace, not sooner, whatever the task does meanwhile.
                self._pace.throttled(error)
                await self._sleep(self._pace.retry_wait())
                continue
            except AwsUnavailable as error:
                self._outage.failed(error)
                await self._sleep(retry_delay(self._outage.failures, self._jitter()))
                continue
            # Only an answered call gets here: quiet time is never counted from a failed one.
            self._outage.recovered()
            self._pace.answered()
            read_on = False
            if page is not None:
                self.stream_found = True
                if page.messages:
                    self._write(page.messages)
                    self.lines += len(page.messages)
                    self._active_since = self._clock()
                    if caught_up_once:
                        last_new_line = self._active_since
                read_on = reads_on_at_once(
                    page.messages,
                    token_moved=page.next_forward_token != token,
                    first_page=token is None,
                )
                token = page.next_forward_token
            if read_on:
                continue
            caught_up_once = True
            if self._stop_at is None:
                await self._nap_for(self._caught_up_wait())
                continue
            wait = self._drain_wait(started, last_new_line)
            if wait is None:
                return
            await self._nap_for(wait)

    def _drain_wait(self, started: float, last_new_line: float | None) -> float | None:
        """None once the stream was quiet long enough after the stop, else how long to nap.

        `started` is when the last answered call began: lines it did not see were not there.
        """
        assert self._stop_at is not None  # noqa: S101 - draining
        assert self._stop_seen_at is not None  # noqa: S101 - set together
        quiet_from = max(self._stop_at, last_new_line or self._stop_at)
        deadline = max(quiet_from + self._grace, self._stop_seen_at)
        if started >= deadline:
            return None
        wait = self._pace.wait()
        if not self._pace.slowed:
            # At full pace, read once more right at the deadline: the exit comes sooner.
            wait = min(wait, deadline - self._clock())
        return wait

    def _caught_up_wait(self) -> float:
        """The pace's wait, or the idle slow-down's when the task has been silent long enough."""
        wait = self._pace.wait()
        idle = idle_interval(self._pace.floor, self._clock() - self._active_since)
        return max(wait, idle) if idle > self._pace.floor else wait

    async def _nap_for(self, seconds: float) -> None:
        """Sleep, unless woken by `wake` (a state change or the stop)."""
        if seconds <= 0:
            return
        with anyio.CancelScope() as nap:
            self._nap = nap
            await self._sleep(seconds)
        self._nap = None
