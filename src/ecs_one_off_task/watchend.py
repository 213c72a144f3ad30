"""The end of a watch that ran out of status checks: the task is left running, and said so.

--max-attempts bounds how long this command watches, not how long the migration may take:
stopping a migration half-way leaves a schema half changed. So when the checks run out the task
goes on, the run exits 124, and stderr gives the two commands a person needs next: the one that
follows the task again and the one that stops it. A retried job attaches to it by itself
(--if-running auto).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import structlog

from ecs_one_off_task.errors import EXIT_GAVE_UP
from ecs_one_off_task.facts import Outcome, RunFacts

log = structlog.get_logger("ecs_one_off_task")

STOP_REASON = "stopped by hand after ecs-one-off-task stopped watching"


def attach_command(*, cluster: str, region: str | None, task_arn: str) -> str:
    """The command line that follows the task again, from the head of its log."""
    words = ["ecs-one-off-task", "attach", "--cluster", cluster]
    if region:
        words += ["--region", region]
    return shlex.join([*words, task_arn.rsplit("/", 1)[-1]])


def stop_command(*, cluster: str, region: str | None, task_arn: str) -> str:
    """The AWS CLI command line that stops the task."""
    words = ["aws", "ecs", "stop-task", "--cluster", cluster, "--task", task_arn]
    if region:
        words += ["--region", region]
    return shlex.join([*words, "--reason", STOP_REASON])


def leave_running(
    facts: RunFacts, *, why: str, cluster: str, region: str | None, task_arns: Sequence[str]
) -> int:
    """Note and say that the watch ended with the tasks running; the exit code, 124."""
    facts.left_running = True
    facts.ended(Outcome.GAVE_UP, f"stopped watching ({why}): the task goes on running")
    for arn in task_arns:
        log.warning(
            f"stopped watching ({why}): the task goes on running; follow it with"
            f" `{attach_command(cluster=cluster, region=region, task_arn=arn)}`, stop it with"
            f" `{stop_command(cluster=cluster, region=region, task_arn=arn)}`",
            said={
                "task_arn": arn,
                "attach_command": attach_command(cluster=cluster, region=region, task_arn=arn),
                "stop_command": stop_command(cluster=cluster, region=region, task_arn=arn),
            },
        )
    return EXIT_GAVE_UP
