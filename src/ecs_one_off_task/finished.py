"""A retried job whose migration already succeeded: find that task, so it is not run again.

`--if-running` sees only tasks that have not stopped. A runner that died while its migration
ran, retried after the migration finished, would find nothing running and run it again —
harmless for `rake db:migrate`, not for a data fix. A run with an identity (identity.py) tags
its tasks `startedBy=ecs-one-off-task/<digest>`; before starting it lists the stopped tasks
with that tag (ListTasks allows `startedBy` only as its sole filter, with `desiredStatus`). If
the newest that ran has this run's content and its container exited 0, the run prints its log
and ends with 0 instead of starting. A failure, a stop or other content: the run starts as
usual (a re-run after a failure means "try again"). ECS forgets stopped tasks about an hour
after they stop: an older success is started again.

A run that finds nothing pays one ListTasks call; a run with no identity pays none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.config import RunConfig
from ecs_one_off_task.existing import IfRunning
from ecs_one_off_task.facts import RunFacts
from ecs_one_off_task.outcome import task_end
from ecs_one_off_task.report import iso
from ecs_one_off_task.running import content_matches

log = structlog.get_logger("ecs_one_off_task")


def newest_that_ran(
    tasks: Sequence[Mapping[str, Any]], *, container: str, count: int
) -> tuple[Mapping[str, Any], ...]:
    """The newest `count` tasks whose `container` ran to an exit code, oldest first.

    () when fewer ran. Tasks that never ran (a failed start, started again) do not count.
    """
    ran = [t for t in tasks if task_end(t, container).ran]
    ran.sort(key=_created, reverse=True)
    newest = ran[:count]
    return tuple(reversed(newest)) if len(newest) == count else ()


def all_succeeded(
    tasks: Sequence[Mapping[str, Any]],
    *,
    container: str,
    same_content: Callable[[Mapping[str, Any]], bool],
) -> bool:
    """Whether every task ran this run's content and its container exited 0."""
    return bool(tasks) and all(
        task_end(t, container).exit_code == 0 and same_content(t) for t in tasks
    )


async def already_succeeded(  # noqa: PLR0913 - what the lookup needs, named
    aws: Aws,
    *,
    cluster: str,
    started_by: str,
    desired: Mapping[str, Any],
    container: str,
    count: int,
) -> tuple[Mapping[str, Any], ...]:
    """The stopped tasks of this run that already succeeded with this content; () if none."""
    arns = await aws.list_stopped_task_arns(cluster=cluster, started_by=started_by)
    if not arns:
        return ()
    described = await aws.describe_tasks(cluster=cluster, task_arns=arns)
    newest = newest_that_ran(described.tasks, container=container, count=count)
    if not newest or any(task_end(t, container).exit_code != 0 for t in newest):
        return ()
    same = await content_matches(aws, desired, newest)
    if not all_succeeded(newest, container=container, same_content=same):
        return ()
    for task in newest:
        stopped = task.get("stoppedAt")
        log.warning(
            f"this run already succeeded: task {str(task['taskArn']).rsplit('/', 1)[-1]}"
            f" exited 0{f' (stopped at {iso(stopped)})' if isinstance(stopped, datetime) else ''};"
            " printing its log from the head, starting nothing",
            said={"task_arn": task["taskArn"], "stopped_at": iso(stopped)},
            started_by=started_by,
        )
    return newest


async def succeeded_before(
    aws: Aws, config: RunConfig, facts: RunFacts, desired: Mapping[str, Any]
) -> tuple[Mapping[str, Any], ...]:
    """The lookup, for a run that has an identity and does not say `--if-running start`."""
    if facts.run_identity is None or facts.started_by is None:
        return ()
    if config.if_running is IfRunning.START:
        return ()
    return await already_succeeded(
        aws,
        cluster=config.placement.cluster,
        started_by=facts.started_by,
        desired=desired,
        container=config.task.task_name,
        count=config.placement.count,
    )


def _created(task: Mapping[str, Any]) -> float:
    when = task.get("createdAt") or task.get("startedAt")
    return when.timestamp() if isinstance(when, datetime) else float("-inf")
