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
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ecs_one_off_task.errors import AwsUnavailable, Throttled
from ecs_one_off_task.flushgrid import EXIT_FLUSH_LATE, READ_MARGIN, FlushGrid, started_at_of
from ecs_one_off_task.output import Outage, Slowdown
from ecs_one_off_task.pacing import (
    AdaptiveInterval,
    CallSpacing,
    idle_interval,
    reads_on_at_once,
    retry_delay,
)
from ecs_one_off_task.watcher import BEFORE_THE_CONTAINER


@dataclass(frozen=True, slots=True)
class LogPage:
    """One GetLogEvents answer: the messages in order, and where to read on from."""

    messages: list[str]
    next_forward_token: str
    timestamps: Sequence[int] = ()
    """Each message's event timestamp (ms since the epoch), when asked for."""
    ingestion_times: Sequence[int] = ()
    """The page's distinct ingestionTimes (ms since the epoch): when CloudWatch received its
    events, one value for each PutLogEvents."""


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
        flush_period: float | None = None,
        wall_clock: Clock = time.time,
    ) -> None:
        """Set up a follower; nothing is read before `run`.

        `pace` is shared with the other followers of the process; without one the follower
        makes its own from `log_interval` and `rate_limit` (which are ignored when it is given).
        `flush_period`: the awslogs driver's flush period, to read in step with its flushes
        (see flushgrid.py); None reads every `log_interval` whatever writes the stream.
        `wall_clock` gives the time ECS's and CloudWatch's timestamps are on.
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
        self._wall = wall_clock
        self.grid = FlushGrid(flush_period) if flush_period is not None else None
        self._probe_at: float | None = None
        self._missing_at: float | None = None
        """Wall time of the last read that found no stream."""
        self._status: str | None = None
        self._may_have_lines = anyio.Event()
        """Set once the task is past PENDING or stopped: its container may have written."""
        self.lines = 0
        self.stream_found = False

    def wake(self, task: Mapping[str, Any] | None = None) -> None:
        """Read now (the task changed state): the stream may have just appeared.

        While throttling slows the pace, the current wait is kept: a status change is no
        reason for a call the account's quota has no room for. `task` is the task's
        description: its startedAt places the driver's first flushes.
        """
        self._active_since = self._clock()
        if task is not None:
            self._status = task.get("lastStatus")
        if self._status not in BEFORE_THE_CONTAINER or self._stop_at is not None:
            self._may_have_lines.set()
        started = None if task is None else started_at_of(task)
        if self.grid is not None and started is not None:
            if self.grid.anchor is None:
                # One read --log-interval after the start (or at once, when the poll saw the
                # start later) says whether lines arrive off the grid.
                after_start = started + self._pace.floor - self._wall()
                self._probe_at = self._clock() + max(0.0, after_start)
            self.grid.started(started)
        if self._nap is not None and not self._pace.slowed and not self._keeps_napping(task):
            self._nap.cancel()

    def status_unknown(self) -> None:
        """The status poll failed (throttled, AWS unreachable): read without waiting for RUNNING.

        Otherwise an outage of DescribeTasks alone would keep a running task's lines unread.
        """
        self._may_have_lines.set()

    async def _before_first_read(self) -> None:
        """Reading in step: no read before the task is RUNNING, and none before the probe.

        The driver creates the stream as the container starts: while the status poll says
        PROVISIONING or PENDING there is nothing to read, and a read would only spend the
        account's quota. The first read is the probe: --log-interval after startedAt, or at
        once when the poll saw RUNNING later. A task seen STOPPED is read at once (it may have
        run between two polls).
        """
        if self.grid is None:
            return
        await self._may_have_lines.wait()
        if self._probe_at is not None and self._stop_at is None:
            await self._nap_for(self._probe_at - self._clock())

    def _keeps_napping(self, task: Mapping[str, Any] | None) -> bool:
        """Whether a status change brings no line sooner, reading in step with the driver.

        Once the reads wait for the flushes (or for the probe after the start), no status but
        STOPPED makes one come earlier.
        """
        if self.grid is None or task is None:
            return False
        return (self.in_step or self._probe_at is not None) and task.get("lastStatus") != "STOPPED"

    @property
    def in_step(self) -> bool:
        """Whether the reads wait for the driver's flushes now, not for --log-interval."""
        return self.grid is not None and self.grid.in_step

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
        await self._before_first_read()
        while True:
            started = await self._pace.next_call(self._clock, self._sleep)
            try:
                page = await self._fetch(token)
            except Throttled as error:
                # Tried again at the current pace, not sooner, whatever the task does meanwhile.
                self._pace.throttled(error)
                await self._sleep(self._throttled_wait())
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
            self._observe(page, started=started, full_page=read_on)
            if read_on:
                continue
            caught_up_once = True
            if self._stop_at is None:
                await self._wait_caught_up()
                continue
            wait = self._drain_wait(started, last_new_line)
            if wait is None:
                return
            await self._nap_for(wait)

    async def _wait_caught_up(self) -> None:
        """Wait until the next read while the task runs.

        Reading in step, a stop seen meanwhile is read once the exit flush has surely landed,
        not at once.
        """
        await self._nap_for(self._caught_up_wait())
        if self._stop_at is not None and self.in_step:
            assert self._stop_seen_at is not None  # noqa: S101 - set together
            # Never later than the end of the grace (a --drain-grace under that second).
            end = max(self._stop_at + self._grace, self._stop_seen_at)
            await self._nap_for(min(self._exit_flush_read(), end) - self._clock())

    def _throttled_wait(self) -> float:
        """Until a throttled call is tried again: the current pace, not sooner.

        Reading in step, runs whose flushes come at the same moment would meet again at the
        next one: this run's reads move by a random part of the period from now on.
        """
        wait = self._pace.retry_wait()
        if self.grid is not None and self.grid.in_step:
            wait = max(wait, self.grid.throttled(self._jitter()))
        return wait

    def _observe(self, page: LogPage | None, *, started: float, full_page: bool) -> None:
        """Show the flush grid the ingestion times of an answered page."""
        if self._probe_at is not None and started >= self._probe_at:
            self._probe_at = None
        if self.grid is None:
            return
        if page is None:
            self._missing_at = self._wall()
            return
        if self._missing_at is not None and self.grid.anchor is None:
            # The stream just appeared: the container started since the last read.
            self.grid.stream_found(self._wall(), since=self._missing_at)
            self._probe_at = self._clock() + self._pace.floor
        self._missing_at = None
        if page is not None:
            self.grid.observe(
                # One PutLogEvents is one ingestion time: a page holds few distinct ones.
                (t / 1000 for t in set(page.ingestion_times)),
                full_page=full_page and bool(page.messages),
            )

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
        if self.in_step:
            return self._drain_in_step_wait(started, deadline)
        wait = self._pace.wait()
        if not self._pace.slowed:
            # At full pace, read once more right at the deadline: the exit comes sooner.
            wait = min(wait, deadline - self._clock())
        return wait

    def _drain_in_step_wait(self, started: float, deadline: float) -> float:
        """Read once the exit flush has surely landed, then at the deadline.

        The driver's last flush comes at the container's exit, at the latest about a second
        after ECS reports STOPPED: reading every --log-interval until the deadline finds
        nothing the read just after that second does not. A stop seen before that second is
        read then, not at once (one read fewer when the crowd's runs all drain together).
        """
        exit_flush_read = self._exit_flush_read()
        at = exit_flush_read if started < exit_flush_read < deadline else deadline
        wait = at - self._clock()
        if self._pace.slowed:
            wait = max(wait, self._pace.wait())
        return max(0.0, wait)

    def _exit_flush_read(self) -> float:
        """Just after the latest the driver's last flush (at the container's exit) can land."""
        assert self._stop_at is not None  # noqa: S101 - draining
        return self._stop_at + EXIT_FLUSH_LATE + READ_MARGIN

    def _caught_up_wait(self) -> float:
        """The pace's wait, or the idle slow-down's when the task has been silent long enough.

        In step with the driver's flushes: until just after the next flush, skipping the ones
        the idle slow-down or a pace slowed by throttling would not read.
        """
        wait = self._pace.wait()
        idle = idle_interval(self._pace.floor, self._clock() - self._active_since)
        today = max(wait, idle) if idle > self._pace.floor else wait
        if self.grid is None or not self.grid.in_step:
            return today
        if self._probe_at is not None:
            return max(0.0, self._probe_at - self._clock())
        least = wait if self._pace.slowed else 0.0
        if idle > self._pace.floor:
            least = max(least, idle)
        now_wall = self._wall()
        return self.grid.next_read(now_wall, not_before=now_wall + least) - now_wall

    async def _nap_for(self, seconds: float) -> None:
        """Sleep, unless woken by `wake` (a state change or the stop)."""
        if seconds <= 0:
            return
        with anyio.CancelScope() as nap:
            self._nap = nap
            await self._sleep(seconds)
        self._nap = None
