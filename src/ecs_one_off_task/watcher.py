"""Poll DescribeTasks until the task is STOPPED, or the waiting budget is spent."""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ecs_one_off_task.errors import AwsUnavailable, Throttled
from ecs_one_off_task.output import Outage, Slowdown
from ecs_one_off_task.pacing import AdaptiveInterval

log = structlog.get_logger("ecs_one_off_task")

# A task still waiting to start after this long gets one notice saying what ECS is waiting for,
# instead of silence until the waiting budget runs out.
STUCK_AFTER = 60.0
_WAITING_FOR = {
    "PROVISIONING": "capacity: a container instance or Fargate capacity, an ENI for awsvpc",
    "PENDING": "the image pull, secrets and environment files (execution role permissions)",
}

# Throttled DescribeTasks slow the polls down to at most one every WATCH_CEILING seconds (or
# --poll-interval, if longer): the stop is then seen that much later at worst, and the drain
# grace is counted from the task's stoppedAt anyway.
WATCH_CEILING = 30.0

# While a task's container has not started, its status is looked at every --log-interval (not
# more than once a second) for this long after the watch began (reading in step, the log
# follower waits for RUNNING and its startedAt): most EC2 tasks start within it. These looks are
# not status checks of --max-attempts: the budget's checks come on their usual schedule.
EARLY_WINDOW = 10.0
EARLY_LOOK_FLOOR = 1.0
"""The early looks come at most once a second, however short --log-interval: nine at most."""
BEFORE_THE_CONTAINER = frozenset({None, "PROVISIONING", "PENDING"})
"""Statuses of a task whose container has not started (None: none seen yet): no log stream."""

# Reads the task; None while ECS does not show it yet.
DescribeTask = Callable[[], Awaitable[Mapping[str, Any] | None]]
OnStatus = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True, kw_only=True)
class Stopped:
    """The task reached STOPPED; `task` is its last description."""

    task: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class GaveUp:
    """Waiting ended before the task stopped; `why` says which budget ran out."""

    why: str
    task_goes_on: bool = False
    """True when --max-attempts ran out: the watch ends, the task is left running. False for
    --timeout, the task's deadline: it is stopped."""


class StatusWatcher:
    """Calls DescribeTasks at once, then every `poll_interval`, and reports each new lastStatus.

    The first call is immediate so that a task that stops within the first interval is seen at
    once, and polls keep their rhythm from when each started, not from when it returned.
    Throttling lengthens the interval, and answered polls bring it back to `poll_interval`, as
    for the log follower: DescribeTasks' quota is shared by every job in the account too.
    """

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        describe: DescribeTask,
        on_status: OnStatus,
        poll_interval: float,
        max_attempts: int | None,
        deadline: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        pace: AdaptiveInterval | None = None,
        jitter: Callable[[], float] = random.random,
        early_interval: float | None = None,
    ) -> None:
        """Set up a watcher; nothing is called before `run`.

        `pace` may be shared by the watchers of one process; without one the watcher makes its
        own from `poll_interval` (which is ignored when it is given). `early_interval`: look
        this often, besides the checks, while the container has not started (EARLY_WINDOW).
        """
        self._describe = describe
        self._on_status = on_status
        self._pace = (
            pace
            if pace is not None
            else AdaptiveInterval(floor=poll_interval, ceiling=WATCH_CEILING, floor_jitter=0.0)
        )
        self._max_attempts = max_attempts
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._early_interval = early_interval
        self.attempts = 0
        self._outage = Outage("task status")
        self._slowdown = Slowdown("task status checks (DescribeTasks)")

    async def run(self) -> Stopped | GaveUp:
        """Watch until STOPPED or until attempts or time run out."""
        last_status: str | None = None
        since = began = check_at = self._clock()
        noticed = False
        while True:
            started = self._clock()
            check = started >= check_at
            task = await self._poll(check=check)
            if check:
                check_at = started + self._pace.wait(self._jitter())
            if task is not None:
                status = str(task.get("lastStatus", "UNKNOWN"))
                if status != last_status:
                    last_status, since, noticed = status, started, False
                    self._on_status(status, task)
                if status == "STOPPED":
                    return Stopped(task=task)
                if not noticed and status in _WAITING_FOR and started - since >= STUCK_AFTER:
                    noticed = True
                    log.warning(
                        "task still waiting to start",
                        status=status,
                        seconds=round(started - since),
                        ecs_is_waiting_for=_WAITING_FOR[status],
                    )
            # Checked after the poll: a task that stopped just before the deadline is STOPPED,
            # with its own exit code, not given up on.
            if self._deadline is not None and self._clock() >= self._deadline:
                return GaveUp(why="timeout reached")
            if self._max_attempts is not None and self.attempts >= self._max_attempts:
                return GaveUp(
                    why=f"task not STOPPED after {self.attempts} status checks",
                    task_goes_on=True,
                )
            await self._sleep_until(self._next_look(started, check_at, began, last_status))

    async def _poll(self, *, check: bool = True) -> Mapping[str, Any] | None:
        """One DescribeTasks; a failure AWS may recover from counts as an attempt, no more.

        `check` False: an early look, not one of the --max-attempts checks.
        """
        self.attempts += check
        try:
            task = await self._describe()
        except Throttled as error:
            if self._pace.throttled():
                self._slowdown.slowed(self._pace.interval, error)
            return None
        except AwsUnavailable as error:
            self._outage.failed(error)
            return None
        self._outage.recovered()
        if self._pace.answered():
            self._slowdown.normal(self._pace.interval)
        return task

    def _next_look(self, last: float, check_at: float, began: float, status: str | None) -> float:
        """The next check, or an early look before it while the container has not started."""
        early = self._early_interval
        if early is None or status not in BEFORE_THE_CONTAINER or self._pace.slowed:
            return check_at  # throttled: no call beyond the checks, which slow down
        # On a grid from the watch's start (no drift; a call up to a tenth late counts as on
        # it), and never closer than `early` to a check.
        look_at = began + math.ceil((last + early - began) / early - 0.1) * early
        soon = check_at - look_at >= early - 1e-6 and look_at < began + EARLY_WINDOW
        return look_at if soon else check_at

    async def _sleep_until(self, at: float) -> None:
        wait = at - self._clock()
        if self._deadline is not None:
            wait = min(wait, self._deadline - self._clock())
        if wait > 0:
            await self._sleep(wait)
