"""What a run has learnt so far, noted as it goes by the runner and the tracker. No I/O.

The one mutable record of a run: the heartbeat reads it while the task runs, and when the run
ends, however it ends, the frozen `report.Report` is built from it for the end lines, the
summary file and the CI outputs. Times are on the run's monotonic clock unless named `wall`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ecs_one_off_task.errors import TaskNotRun, UsageError


class Outcome(StrEnum):
    """How a run ended, in one word (the summary's `outcome`)."""

    SUCCEEDED = "succeeded"
    """The container exited with code 0."""
    FAILED = "failed"
    """The container exited with another code."""
    NOT_RUN = "not-run"
    """The task never ran its command: RunTask refused, or the task stopped before it ran."""
    GAVE_UP = "gave-up"
    """--timeout passed (the task was stopped), or --max-attempts status checks ran out (the
    watch ended, the task left running: `left_running`)."""
    ALREADY_SUCCEEDED = "already-succeeded"
    """This run's identity already ran this content to exit 0: its log was printed, nothing
    was started."""
    INTERRUPTED = "interrupted"
    """SIGINT or SIGTERM: the task was stopped."""
    USAGE_ERROR = "usage-error"
    """Bad invocation, or an unknown reference, cluster, container, profile or region."""
    ERROR = "error"
    """AWS refused a call, or the tool lost track of the task."""
    DRY_RUN = "dry-run"
    """--dry-run: nothing was registered or started."""


@dataclass(kw_only=True)
class TaskFacts:
    """One task: the statuses seen, when, and its last description."""

    task_arn: str
    log_stream: str
    label: str = ""
    statuses: list[tuple[str, float]] = field(default_factory=list)
    """Each lastStatus in the order seen, with when it was first seen."""
    description: Mapping[str, Any] | None = None
    """The last DescribeTasks answer for the task."""
    lines: int = 0
    started_as: tuple[str, float] | None = None
    """The lastStatus RunTask answered with, and when: the status the task was in before the
    first poll, so that a first poll seeing RUNNING still knows how long it was not."""

    @property
    def task_id(self) -> str:
        """The last part of the task ARN."""
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def status(self) -> str | None:
        """The lastStatus seen last, if any."""
        return self.statuses[-1][0] if self.statuses else None

    @property
    def status_since(self) -> float | None:
        """When the current status was first seen."""
        return self.statuses[-1][1] if self.statuses else None

    def saw(self, status: str, task: Mapping[str, Any], *, at: float) -> tuple[str, float] | None:
        """Note a new lastStatus; return the previous status and the seconds spent in it."""
        if not self.statuses and self.started_as is not None:
            # What RunTask answered is the first status; the first poll may confirm it.
            self.statuses.append(self.started_as)
            if self.started_as[0] == status:
                self.description = task
                return None
        previous = self.statuses[-1] if self.statuses else None
        self.statuses.append((status, at))
        self.description = task
        return None if previous is None else (previous[0], at - previous[1])

    def seconds_in_status(self, *, until: float) -> dict[str, float]:
        """Seconds spent in each status seen, the current one counted until `until`.

        STOPPED is where a task stays: it has no duration.
        """
        spent: dict[str, float] = {}
        ends = [at for _, at in self.statuses[1:]] + [until] if self.statuses else []
        for (status, began), ended in zip(self.statuses, ends, strict=True):
            if status != "STOPPED":
                spent[status] = spent.get(status, 0.0) + max(0.0, ended - began)
        return spent


@dataclass(kw_only=True)
class StartFacts:
    """One start: the task it placed (None: RunTask placed none), and why it did not run."""

    attempt: int
    task_arn: str | None
    stop_code: str | None = None
    reason: str | None = None


@dataclass(kw_only=True)
class RunFacts:
    """Everything the end of a run reports, filled in as the run learns it."""

    began_at: float
    """When the run began, on the run's monotonic clock."""
    began_wall: float
    """The same moment in seconds since the epoch."""
    task_name: str = ""
    cluster: str = ""
    log_group: str = ""
    region: str | None = None
    reference_arn: str | None = None
    task_definition_arn: str | None = None
    revision: int | None = None
    revision_reused: bool | None = None
    runs_on: str | None = None
    """Where the tasks run, in words ("launch type EC2 (default)")."""
    launch_type: str | None = None
    tasks: list[TaskFacts] = field(default_factory=list)
    last_line_at: float | None = None
    """When the last container line was written to stdout."""
    lines: int = 0
    starts: list[StartFacts] = field(default_factory=list)
    """Every start (a task placed, or a RunTask that placed none), start retries included."""
    started_by: str | None = None
    """The `startedBy` of the tasks this run starts."""
    run_identity: str | None = None
    """The run's identity, in words (None: the run has none)."""
    left_running: bool = False
    """The run ended with a task it followed still running (the watch ended, or attach was
    interrupted)."""
    outcome: Outcome | None = None
    reason: str | None = None
    """Why the run ended as it did, in a few words, when it did not just end with the task."""
    error: str | None = None

    def task(self, task_arn: str) -> TaskFacts:
        """The facts of one started task."""
        return next(t for t in self.tasks if t.task_arn == task_arn)

    def track(
        self,
        *,
        task_arn: str,
        log_stream: str,
        label: str = "",
        started_as: tuple[str, float] | None = None,
    ) -> TaskFacts:
        """The facts of a started task, noted now unless they were before."""
        for task in self.tasks:
            if task.task_arn == task_arn:
                return task
        task = TaskFacts(
            task_arn=task_arn, log_stream=log_stream, label=label, started_as=started_as
        )
        self.tasks.append(task)
        return task

    def wrote(self, task: TaskFacts, lines: int, *, at: float) -> None:
        """Container lines of `task` were written to stdout."""
        task.lines += lines
        self.lines += lines
        self.last_line_at = at

    def ended(self, outcome: Outcome, reason: str | None = None) -> None:
        """Say how the run ended, unless something said it first (a signal, giving up)."""
        if self.outcome is None:
            self.outcome = outcome
            self.reason = reason

    def failed(self, error: BaseException) -> None:
        """The run ends with an error: it decides the outcome, whatever was noted before."""
        self.error = str(error)
        self.reason = str(error)
        if isinstance(error, TaskNotRun):
            self.outcome = Outcome.NOT_RUN
        elif isinstance(error, UsageError):
            self.outcome = Outcome.USAGE_ERROR
        else:
            self.outcome = Outcome.ERROR
