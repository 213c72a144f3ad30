"""--log-flush-interval: parsed, put in the one-off container's awslogs options, refused where
Fargate's logger would ignore it; the period a follower expects."""

from __future__ import annotations

import pytest

from ecs_one_off_task.config import CapacityProvider, LaunchType
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.flushing import check_flush_interval, definition_flush_period, flush_period
from ecs_one_off_task.launch import Launch
from ecs_one_off_task.options import parse_args

BASE = [
    "--task-name", "mig", "--from-task", "myapp", "--cluster", "c", "--image", "i",
    "--", "rake",
]  # fmt: skip


def test_the_option_is_a_whole_number_of_seconds() -> None:
    """1 and more are taken; 0 and fractions are usage errors; without it the driver's 5 s."""
    config = parse_args([*BASE[:-2], "--log-flush-interval", "1", *BASE[-2:]])
    assert config.task.log_flush_interval == 1
    assert flush_period(config.task) == 1.0
    assert flush_period(parse_args(BASE).task) == 5.0
    for bad in ("0", "1.5"):
        with pytest.raises(UsageError, match="log-flush-interval"):
            parse_args([*BASE[:-2], "--log-flush-interval", bad, *BASE[-2:]])


def test_log_reads_steady_turns_the_in_step_reads_off() -> None:
    """--log-reads steady: every --log-interval, whatever writes the stream (the old pace)."""
    assert parse_args(BASE).timing.read_in_step
    steady = parse_args([*BASE[:-2], "--log-reads", "steady", *BASE[-2:]])
    assert not steady.timing.read_in_step


@pytest.mark.parametrize(
    ("launch", "refused"),
    [
        (Launch(launch_type=LaunchType.EC2, chosen_by="--launch-type"), False),
        (Launch(launch_type=LaunchType.EXTERNAL, chosen_by="--launch-type"), False),
        (Launch(launch_type=LaunchType.FARGATE, chosen_by="--launch-type"), True),
        (
            Launch(
                launch_type=None,
                capacity_providers=(CapacityProvider(name="my-asg"),),
                chosen_by="--capacity-provider",
            ),
            False,
        ),
        (
            Launch(
                launch_type=None,
                capacity_providers=(CapacityProvider(name="FARGATE_SPOT"),),
                chosen_by="--capacity-provider",
            ),
            True,
        ),
    ],
    ids=["EC2", "EXTERNAL", "FARGATE", "an EC2 capacity provider", "FARGATE_SPOT"],
)
def test_refused_only_where_fargate_runs_the_task(launch: Launch, refused: bool) -> None:
    """Fargate's logger does not pass the option on; Docker's driver on EC2 does."""
    spec = parse_args([*BASE[:-2], "--log-flush-interval", "2", *BASE[-2:]]).task
    if refused:
        with pytest.raises(UsageError, match="Fargate's log driver ignores"):
            check_flush_interval(spec, launch)
    else:
        check_flush_interval(spec, launch)
    check_flush_interval(parse_args(BASE).task, launch)  # without the option: never refused


def test_an_attached_task_is_read_with_its_definition_s_period() -> None:
    """A registered definition's awslogs-force-flush-interval-seconds is the period expected."""
    definition = {
        "containerDefinitions": [
            {
                "name": "mig",
                "essential": True,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-force-flush-interval-seconds": "2"},
                },
            }
        ]
    }
    assert definition_flush_period(definition, "mig") == 2.0
