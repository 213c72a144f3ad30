"""What is followed: a task and where its container writes, and what following it came to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_one_off_task.flushgrid import DEFAULT_FLUSH_PERIOD
from ecs_one_off_task.watcher import GaveUp, Stopped

Ending = Stopped | GaveUp | None
"""How watching one task ended; None when a signal cut it short."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """One task to watch and follow, and where its container writes."""

    task_arn: str
    container: str
    """The container whose exit code counts (the one-off container, never a sidecar)."""
    log_group: str
    log_stream: str
    label: str = ""
    """Put before each of its lines on stdout: several tasks share one stdout."""
    start_time: int | None = None
    """Read events from this time (ms since the epoch) instead of from the head."""
    flush_period: float = DEFAULT_FLUSH_PERIOD
    """The awslogs driver's flush period of the container (awslogs-force-flush-interval-seconds)."""
    described: Mapping[str, Any] | None = field(default=None, compare=False)
    """The task's description already in hand (an attached task's lookup): the watcher's
    first answer instead of a DescribeTasks call, so a task found STOPPED drains at once."""

    @property
    def task_id(self) -> str:
        """The last part of the task ARN."""
        return self.task_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True, kw_only=True)
class Followed:
    """What following one task came to."""

    target: Target
    ending: Ending
    lines: int
