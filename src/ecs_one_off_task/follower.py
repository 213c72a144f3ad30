"""Follow a CloudWatch Logs stream with forward tokens and hand each new page to the output.

The follower never loses or repeats a line: the forward token only moves when a call succeeded,
and a page is written before its token is kept. It retries failed calls itself, with capped
exponential backoff and jitter, so that every try counts against its calls-per-second cap.
It stops only after the task stopped and the stream has been quiet for the drain grace,
because the awslogs driver can deliver the last lines after ECS reports STOPPED.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from ecs_one_off_task.errors import AwsUnavailable
from ecs_one_off_task.output import Outage
from ecs_one_off_task.pacing import CallSpacing, idle_interval, reads_on_at_once, retry_delay


@dataclass(frozen=True, slots=True)
class LogPage:
    """One GetLogEvents answer: the messages in order, and where to read on from."""

    messages: list[str]
    next_forward_token: str


# Reads the page after the token; None while the stream does not exist yet.
FetchPage = Callable[[str | None], Awaitable[LogPage | None]]
WritePage = Callable[[Sequence[str]], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


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
    ) -> None:
        """Set up a follower; nothing is read before `run`."""
        self._fetch = fetch
        self._write = write
        self._log_interval = log_interval
        self._spacing = CallSpacing(rate_limit)
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
        """Read now (the task changed state): the stream may have just appeared."""
        self._active_since = self._clock()
        if self._nap is not None:
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
        while True:
            started = await self._next_call_start()
            try:
                page = await self._fetch(token)
            except AwsUnavailable as error:
                self._outage.failed(error)
                await self._sleep(retry_delay(self._outage.failures, self._jitter()))
                continue
            self._outage.recovered()
            read_on = False
            if page is not None:
                self.stream_found = True
                if page.messages:
                    self._write(page.messages)
                    self.lines += len(page.messages)
                    last_new_line = self._clock()
                    self._active_since = last_new_line
                read_on = reads_on_at_once(
                    page.messages,
                    token_moved=page.next_forward_token != token,
                    first_page=token is None,
                )
                token = page.next_forward_token
            if read_on:
                continue
            if self._stop_at is not None:
                assert self._stop_seen_at is not None  # noqa: S101 - set together
                quiet_from = max(self._stop_at, last_new_line or self._stop_at)
                deadline = max(quiet_from + self._grace, self._stop_seen_at)
                if started >= deadline:
                    return
                await self._nap_for(min(self._log_interval, deadline - self._clock()))
            else:
                idle_for = self._clock() - self._active_since
                await self._nap_for(idle_interval(self._log_interval, idle_for))

    async def _next_call_start(self) -> float:
        wait = self._spacing.delay(self._clock())
        if wait > 0:
            await self._sleep(wait)
        started = self._clock()
        self._spacing.record(started)
        return started

    async def _nap_for(self, seconds: float) -> None:
        """Sleep, unless woken by `wake` (a state change or the stop)."""
        if seconds <= 0:
            return
        with anyio.CancelScope() as nap:
            self._nap = nap
            await self._sleep(seconds)
        self._nap = None
