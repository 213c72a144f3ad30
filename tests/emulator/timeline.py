"""What the fake ECS agent does with one task, and what it recorded while doing it.

A test describes a task's life as data (a `Timeline`) instead of poking the emulator while the
tool runs: the same scenario then replays identically, and the agent can apply it on its own
clock while the tool under test talks to the endpoint over HTTP as it would to AWS.
The records are snapshots (frozen, tuples only) so a test can read them while the agent keeps
writing, without locks and without seeing half an update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FAILED_PULL_REASON = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    "failed to resolve ref docker.io/library/myapp:v2: not found"
)


@dataclass(frozen=True)
class LogLine:
    """One line the container prints; `at` is when, relative to its timeline's anchor.

    The anchor is the container start (RUNNING) for `Timeline.lines` and the moment the task is
    STOPPED for `Timeline.late_lines`.
    """

    at: float
    message: str

    def __post_init__(self) -> None:
        """Reject times the agent could not schedule, so a typo fails where it is written."""
        if not math.isfinite(self.at) or self.at < 0:
            raise ValueError(f"LogLine.at must be finite and >= 0, got {self.at!r}")


@dataclass(frozen=True)
class FailedStart:
    """How one start of a family fails before its container runs, as ECS reports it.

    `run_task_failure` set: RunTask places no task and answers failures=[{arn, reason}]
    ("Capacity is unavailable at this time. ...", "RESOURCE:CPU", "AGENT"). Else the task is
    placed, then stops before the container starts (no exit code, no startedAt) with
    `stop_code` and `stopped_reason` (also the container's reason).
    """

    stopped_reason: str | None = None
    stop_code: str = "TaskFailedToStart"
    run_task_failure: str | None = None


@dataclass(frozen=True)
class Timeline:
    """The scripted life of every task of one task-definition family.

    Durations are seconds. Phases follow the ECS task lifecycle: PROVISIONING -> PENDING ->
    RUNNING -> (container exits) DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED.
    """

    provisioning: float = 0.0
    """Seconds in PROVISIONING after RunTask."""
    pending: float = 0.0
    """Then seconds in PENDING; then RUNNING (the container starts, startedAt is set)."""
    stream_delay: float = 0.0
    """The log stream is created this long after RUNNING; lines printed before wait for it."""
    lines: tuple[LogLine, ...] = ()
    """Lines printed by the container, `at` seconds after it starts (dropped once it exits)."""
    runs_for: float = 0.0
    """The container exits this long after RUNNING (`math.inf`: runs until StopTask)."""
    exit_code: int | None = 0
    """The container's exit code; None reports no exit code at all."""
    stopping: float = 0.0
    """Container exit -> STOPPED, passing DEACTIVATING/STOPPING/DEPROVISIONING on the way."""
    stop_code: str = "EssentialContainerExited"
    """The task's stopCode when the container exits on its own."""
    stopped_reason: str = "Essential container in task exited"
    """The task's stoppedReason when the container exits on its own."""
    late_lines: tuple[LogLine, ...] = ()
    """Lines ingested after the task is STOPPED (`at` = seconds after STOPPED), as awslogs does."""
    fails_to_start: bool = False
    """PROVISIONING/PENDING, then STOPPED with stopCode TaskFailedToStart and no exit code."""
    failure_reason: str = FAILED_PULL_REASON
    """stoppedReason and container reason when `fails_to_start`."""
    run_task_failure: str | None = None
    """E.g. "RESOURCE:MEMORY": RunTask answers tasks=[] and failures=[{arn, reason}]."""
    invisible_for: float = 0.0
    """DescribeTasks answers failures=[{arn, reason: "MISSING"}] this long after RunTask."""
    stop_exit_code: int = 143
    """The container's exit code when StopTask stops it (SIGTERM), after `stopping`."""
    sidecar_exit_code: int | None = 0
    """The exit code of every other container (sidecars) when the task stops on its own or
    fails to start (None: they never ran)."""
    exit_codes: tuple[int | None, ...] = ()
    """When given, the n-th task of the family exits with exit_codes[n] (cycling) instead."""
    places_at_most: int | None = None
    """RunTask places at most this many tasks and reports RESOURCE:MEMORY for the rest."""
    failure_stop_code: str = "TaskFailedToStart"
    """The task's stopCode when `fails_to_start` (EssentialContainerExited: a sidecar did it)."""
    failed_starts: tuple[FailedStart | None, ...] = ()
    """The n-th start of the family (each task placed, or each RunTask that placed none) fails
    as failed_starts[n] says; None, or past the end: it follows this timeline."""

    def __post_init__(self) -> None:
        """Reject durations the agent could not schedule, so a typo fails where it is written."""
        for name in ("provisioning", "pending", "stream_delay", "stopping", "invisible_for"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Timeline.{name} must be finite and >= 0, got {value!r}")
        if math.isnan(self.runs_for) or self.runs_for < 0:
            raise ValueError(f"Timeline.runs_for must be >= 0 or math.inf, got {self.runs_for!r}")


DEFAULT_TIMELINE = Timeline(
    lines=(
        LogLine(0.0, "emulator: container started"),
        LogLine(0.02, "emulator: container done"),
    ),
    runs_for=0.05,
)
"""What unscripted families do: two lines, exit 0, all within 50 ms."""


def lines_every(
    count: int, spacing: float, start: float = 0.0, fmt: str = "line {i}"
) -> tuple[LogLine, ...]:
    """Return `count` lines `spacing` seconds apart from `start`; `fmt` gets `i` from 1.

    Volume tests need thousands of lines: writing them out by hand would hide the scenario.
    """
    return tuple(LogLine(start + n * spacing, fmt.format(i=n + 1)) for n in range(count))


@dataclass(frozen=True)
class StatusChange:
    """When a task reached a lastStatus, in wall-clock and monotonic seconds."""

    status: str
    wall: float
    monotonic: float


@dataclass(frozen=True)
class LineRecord:
    """One log event the agent wrote, and when, for latency and completeness measurements."""

    message: str
    timestamp: int
    """The event timestamp stored in CloudWatch Logs (ms since the epoch)."""
    written_wall: float
    written_monotonic: float
    late: bool
    """True for `Timeline.late_lines` (written after STOPPED)."""
    printed_monotonic: float | None = None
    """When the container printed it (before the awslogs driver held it until a flush)."""


@dataclass(frozen=True)
class TaskRecord:
    """Everything the agent did to one task, as of the moment the snapshot was taken."""

    task_arn: str
    family: str
    timeline: Timeline
    log_group: str | None
    log_stream: str | None
    run_task_wall: float
    run_task_monotonic: float
    statuses: tuple[StatusChange, ...]
    lines: tuple[LineRecord, ...]
    exit_code: int | None
    stop_code: str | None
    stopped_reason: str | None

    @property
    def task_id(self) -> str:
        """The last part of the task ARN, as used in the log stream name."""
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def status(self) -> str:
        """The lastStatus the task has now."""
        return self.statuses[-1].status

    def reached(self, status: str) -> StatusChange | None:
        """Return when the task first reached `status`, or None if it has not (yet)."""
        return next((change for change in self.statuses if change.status == status), None)

    @property
    def stopped(self) -> StatusChange | None:
        """When the task became STOPPED, or None while it is not."""
        return self.reached("STOPPED")

    @property
    def messages(self) -> tuple[str, ...]:
        """The messages written so far, in stream order."""
        return tuple(line.message for line in self.lines)
