"""Run a one-off command on Amazon ECS from a reference task definition and stream its logs."""

from ecs_one_off_task._version import __version__
from ecs_one_off_task.config import (
    AwsSettings,
    CapacityProvider,
    LaunchType,
    LogFormat,
    Overrides,
    Placement,
    RunConfig,
    TaskSpec,
    Timing,
)
from ecs_one_off_task.errors import (
    AccessDenied,
    AwsError,
    AwsUnavailable,
    OneOffTaskError,
    TaskNotRun,
    UsageError,
)

__all__ = [
    "AccessDenied",
    "AwsError",
    "AwsSettings",
    "AwsUnavailable",
    "CapacityProvider",
    "LaunchType",
    "LogFormat",
    "OneOffTaskError",
    "Overrides",
    "Placement",
    "RunConfig",
    "TaskNotRun",
    "TaskSpec",
    "Timing",
    "UsageError",
    "__version__",
]
