"""--log-flush-interval: how often the awslogs driver of the one-off container flushes. Pure.

On EC2 and EXTERNAL (and through a capacity provider that is not FARGATE / FARGATE_SPOT) ECS
hands the container's log options to Docker, whose awslogs driver accepts
`awslogs-force-flush-interval-seconds`: a one-off container can then send its lines every second
instead of every 5. Fargate's logger does not pass that option on, so asking for it there is a
mistake, said before anything is written. The option is part of the container's log
configuration, hence of the revision's content: an identical run reuses the revision.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ecs_one_off_task.argtypes import positive_int
from ecs_one_off_task.choosing import choose_container
from ecs_one_off_task.config import TaskSpec
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.flushgrid import DEFAULT_FLUSH_PERIOD, flush_period_of
from ecs_one_off_task.launch import Launch

FARGATE_REFUSAL = (
    "--log-flush-interval: Fargate's log driver ignores awslogs-force-flush-interval-seconds:"
    " the flush stays at 5 s"
)


def add_flush_options(logs: argparse._ArgumentGroup) -> None:
    """--log-flush-interval, in the "logs" group of the run's parser."""
    logs.add_argument(
        "--log-flush-interval",
        type=positive_int,
        metavar="SECONDS",
        help="EC2 / EXTERNAL: the awslogs driver sends the container's lines every SECONDS "
        "(awslogs-force-flush-interval-seconds; default: the driver's 5); refused on Fargate",
    )


def add_read_options(reading: argparse._ArgumentGroup) -> None:
    """--log-reads: in step with the driver's flushes (default), or every --log-interval."""
    reading.add_argument(
        "--log-reads",
        choices=("in-step", "steady"),
        default="in-step",
        help="in-step: once the lines are seen to come in the awslogs driver's batches, read "
        "just after each batch; steady: every --log-interval (default: %(default)s)",
    )


def check_flush_interval(spec: TaskSpec, launch: Launch) -> None:
    """Refuse --log-flush-interval where the driver ignores it (Fargate), before any write."""
    if spec.log_flush_interval is not None and launch.fargate:
        raise UsageError(FARGATE_REFUSAL)


def flush_period(spec: TaskSpec) -> float:
    """The driver's flush period of a task this run starts."""
    return float(spec.log_flush_interval or DEFAULT_FLUSH_PERIOD)


def definition_flush_period(definition: Mapping[str, Any], container: str | None) -> float:
    """The driver's flush period of a container of a registered task definition."""
    chosen = choose_container(definition, container).container
    options = (chosen.get("logConfiguration") or {}).get("options") or {}
    return flush_period_of(options)
