"""Frozen settings of one run, built by the option parser and read by everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ecs_one_off_task.existing import IfRunning
from ecs_one_off_task.startpolicy import StartPolicy


class LaunchType(StrEnum):
    """Where ECS places the task."""

    EC2 = "EC2"
    FARGATE = "FARGATE"
    EXTERNAL = "EXTERNAL"
    MANAGED_INSTANCES = "MANAGED_INSTANCES"


class LogFormat(StrEnum):
    """How the tool's own events are rendered on stderr."""

    AUTO = "auto"
    CONSOLE = "console"
    PLAIN = "plain"
    JSON = "json"


class Verbosity(StrEnum):
    """Which of the tool's own events are shown (the container's lines always are)."""

    QUIET = "quiet"
    """Errors and warnings only."""
    NORMAL = "normal"
    VERBOSE = "verbose"
    """Also every AWS call, with its duration."""


@dataclass(frozen=True, kw_only=True)
class AwsSettings:
    """How to reach AWS; None means "whatever the standard AWS environment says"."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    call_timeout: float = 20.0


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """What the command line changes in the one-off revision, beyond image and command."""

    environment: tuple[tuple[str, str], ...] = ()
    """--env KEY=VALUE: added, or replacing the reference's value of KEY."""
    secrets: tuple[tuple[str, str], ...] = ()
    """--secret NAME=VALUE_FROM: added, or replacing the reference's secret NAME."""
    cpu: int | None = None
    memory: int | None = None
    task_role_arn: str | None = None
    execution_role_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What the one-off task definition is made of."""

    task_name: str
    reference: str | None
    """None: the task definition of the service (--from-service) is the reference."""
    image: str
    command: tuple[str, ...]
    entrypoint: tuple[str, ...] = ()
    container: str | None = None
    log_group: str
    log_stream_prefix: str = "ecs"
    log_retention_days: int | None = None
    overrides: Overrides = Overrides()
    with_sidecars: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    keep_revisions: int | None = None
    """Deregister the one-off family's ACTIVE revisions but the newest N; None: keep all."""
    log_flush_interval: int | None = None
    """awslogs-force-flush-interval-seconds of the one-off container (EC2, EXTERNAL)."""


@dataclass(frozen=True, kw_only=True)
class CapacityProvider:
    """One item of a capacity provider strategy (--capacity-provider NAME[:WEIGHT[:BASE]])."""

    name: str
    weight: int = 1
    base: int = 0


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where and how RunTask starts the task; None and () mean "not given on the command line"."""

    cluster: str
    launch_type: LaunchType | None = None
    capacity_providers: tuple[CapacityProvider, ...] = ()
    service: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool | None = None
    platform_version: str | None = None
    count: int = 1


@dataclass(frozen=True, kw_only=True)
class Timing:
    """How often to ask AWS, and how long to wait for what.

    `max_attempts` None means the DescribeTasks count is not limited (a `timeout` governs).
    """

    poll_interval: float = 6.0
    max_attempts: int | None = 100
    log_interval: float = 1.0
    drain_grace: float = 5.0
    timeout: float | None = None
    log_rate_limit: float = 5.0
    read_in_step: bool = True
    """Read just after the awslogs driver's flushes once they are seen to come on its ticks."""


@dataclass(frozen=True, kw_only=True)
class Reporting:
    """What the tool tells while it runs and leaves behind when it ends, beyond the exit code."""

    verbosity: Verbosity = Verbosity.NORMAL
    heartbeat: float = 60.0
    """Seconds without a container line before saying the task is still there; 0: never."""
    summary_json: str | None = None
    """Write the run's summary as one JSON object to this file when the run ends."""
    timestamps: bool = False
    """Put each container line's event timestamp before it on stdout."""
    allow_workflow_commands: bool = False
    """Under GitHub Actions, let the container's lines run workflow commands (`::...`)."""


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything one invocation of the tool needs."""

    aws: AwsSettings
    task: TaskSpec
    placement: Placement
    timing: Timing
    log_format: LogFormat = LogFormat.AUTO
    reporting: Reporting = Reporting()
    dry_run: bool = False
    if_running: IfRunning = IfRunning.AUTO
    start: StartPolicy = field(default_factory=StartPolicy)


@dataclass(frozen=True, kw_only=True)
class AttachConfig:
    """Everything `ecs-one-off-task attach` needs: which task, and how to read it."""

    aws: AwsSettings
    cluster: str
    task: str
    """The task's ARN or id."""
    container: str | None = None
    since: float | None = None
    """Read lines from this many seconds ago instead of from the head."""
    timing: Timing
    log_format: LogFormat = LogFormat.AUTO
    reporting: Reporting = Reporting()
    stop_on_interrupt: bool = False
