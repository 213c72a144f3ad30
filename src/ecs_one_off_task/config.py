"""Frozen settings of one run, built by the option parser and read by everything else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LaunchType(StrEnum):
    """Where ECS places the task."""

    EC2 = "EC2"
    FARGATE = "FARGATE"
    EXTERNAL = "EXTERNAL"


class LogFormat(StrEnum):
    """How the tool's own events are rendered on stderr."""

    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


@dataclass(frozen=True, kw_only=True)
class AwsSettings:
    """How to reach AWS; None means "whatever the standard AWS environment says"."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    call_timeout: float = 20.0


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What the one-off task definition is made of."""

    task_name: str
    reference: str
    image: str
    command: tuple[str, ...]
    entrypoint: tuple[str, ...] = ()
    container: str | None = None
    log_group: str
    log_stream_prefix: str = "ecs"
    log_retention_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where and how RunTask starts the task."""

    cluster: str
    launch_type: LaunchType = LaunchType.EC2
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = False


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


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything one invocation of the tool needs."""

    aws: AwsSettings
    task: TaskSpec
    placement: Placement
    timing: Timing
    log_format: LogFormat = LogFormat.AUTO
