"""Classify how a task ended and which exit code the process ends with. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecs_one_off_task.errors import EXIT_NOT_RUN


@dataclass(frozen=True, kw_only=True)
class ContainerEnd:
    """How one other container of the task (a sidecar) ended."""

    name: str
    exit_code: int | None
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class TaskEnd:
    """What DescribeTasks says about a STOPPED task, for the one container we care about."""

    exit_code: int | None
    stop_code: str | None
    stopped_reason: str | None
    container_reason: str | None
    stopped_at: datetime | None
    sidecars: tuple[ContainerEnd, ...] = ()
    started: bool = False
    """Whether the task had started (startedAt): a container can run and still end with no
    exit code (a lost host, a Spot interruption)."""

    @property
    def ran(self) -> bool:
        """Whether the container ran its command to an exit code."""
        return self.exit_code is not None

    @property
    def failed_sidecars(self) -> tuple[ContainerEnd, ...]:
        """Sidecars that exited with a non-zero code: reported, never the run's exit code."""
        return tuple(s for s in self.sidecars if s.exit_code not in (None, 0))

    def describe(self) -> str:
        """One line saying why the task stopped, for stderr."""
        parts = [
            f"{label}: {value}"
            for label, value in (
                ("stopCode", self.stop_code),
                ("stoppedReason", self.stopped_reason),
                ("container reason", self.container_reason),
            )
            if value
        ]
        if not self.ran:
            # A sidecar that exited first (and was essential) is why the task stopped.
            parts.extend(
                f"stopped by sidecar {s.name!r} (exit code {s.exit_code})"
                for s in self.failed_sidecars
            )
        return "; ".join(parts) or "no reason given by ECS"


def task_end(task: Mapping[str, Any], container_name: str) -> TaskEnd:
    """Read the end of `task` for the container named `container_name`.

    Only our container's exit code counts: a sidecar injected by the platform (an agent, a proxy)
    must not mask or fake the migration's result.
    """
    container = next(
        (c for c in task.get("containers", ()) if c.get("name") == container_name),
        None,
    )
    exit_code = container.get("exitCode") if container else None
    return TaskEnd(
        exit_code=int(exit_code) if exit_code is not None else None,
        stop_code=task.get("stopCode"),
        stopped_reason=task.get("stoppedReason"),
        container_reason=container.get("reason") if container else None,
        stopped_at=task.get("stoppedAt"),
        started=task.get("startedAt") is not None,
        sidecars=tuple(
            ContainerEnd(
                name=str(c.get("name")),
                exit_code=int(c["exitCode"]) if c.get("exitCode") is not None else None,
                reason=c.get("reason"),
            )
            for c in task.get("containers", ())
            if c.get("name") != container_name
        ),
    )


def exit_code_of(end: TaskEnd) -> int:
    """The process exit code: the container's, or 125 when it never produced one."""
    return end.exit_code if end.exit_code is not None else EXIT_NOT_RUN


def run_exit_code(ends: Sequence[TaskEnd]) -> int:
    """The exit code of a run of several tasks: the first non-zero one in task order, else 0."""
    return next((code for code in map(exit_code_of, ends) if code != 0), 0)


def to_monotonic(instant: datetime | None, *, now_monotonic: float, now_wall: float) -> float:
    """Place an AWS timestamp on the local monotonic clock, never in the future.

    Clocks of this machine and AWS differ by a little; a stop time "later than now" is clamped to
    now so that waiting counted from it can never be longer than asked.
    """
    if instant is None:
        return now_monotonic
    return min(now_monotonic, now_monotonic - (now_wall - instant.timestamp()))
