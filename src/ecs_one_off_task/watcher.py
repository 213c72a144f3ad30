"""Poll DescribeTasks until the task is STOPPED, or the waiting budget is spent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ecs_one_off_task.errors import AwsUnavailable
from ecs_one_off_task.output import Outage

log = structlog.get_logger("ecs_one_off_task")

# A task still waiting to start after this long gets one notice saying what ECS is waiting for,
# instead of silence until the waiting budget runs out.
STUCK_AFTER = 60.0
_WAITING_FOR = {
    "PROVISIONING": "capacity: a container instance or Fargate capacity, an ENI for awsvpc",
    "PENDING": "the image pull, secrets and environment files (execution role permissions)",
}

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


class StatusWatcher:
    """Calls DescribeTasks at once, then every `poll_interval`, and reports each new lastStatus.

    The first call is immediate so that a task that stops within the first interval is seen at
    once, and polls keep their rhythm from when each started, not from when it returned.
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
    ) -> None:
        """Set up a watcher; nothing is called before `run`."""
        self._describe = describe
        self._on_status = on_status
        self._poll_interval = poll_interval
        self._max_attempts = max_attempts
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self.attempts = 0
        self._outage = Outage("task status")

    async def run(self) -> Stopped | GaveUp:
        """Watch until STOPPED or until attempts or time run out."""
        last_status: str | None = None
        since = self._clock()
        noticed = False
        while True:
            if self._deadline is not None and self._clock() >= self._deadline:
                return GaveUp(why="timeout reached")
            started = self._clock()
            task = await self._poll()
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
            if self._max_attempts is not None and self.attempts >= self._max_attempts:
                return GaveUp(why=f"task not STOPPED after {self.attempts} status checks")
            await self._sleep_until_next_poll(started)

    async def _poll(self) -> Mapping[str, Any] | None:
        """One DescribeTasks; a failure AWS may recover from counts as an attempt, no more."""
        self.attempts += 1
        try:
            task = await self._describe()
        except AwsUnavailable as error:
            self._outage.failed(error)
            return None
        self._outage.recovered()
        return task

    async def _sleep_until_next_poll(self, started: float) -> None:
        wait = started + self._poll_interval - self._clock()
        if self._deadline is not None:
            wait = min(wait, self._deadline - self._clock())
        if wait > 0:
            await self._sleep(wait)
