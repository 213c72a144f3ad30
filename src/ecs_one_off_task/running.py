"""The family's tasks that have not stopped: find them (reads only), and wait for them to stop.

The lookup is one ListTasks per page and one DescribeTasks per 100 tasks, never a poll loop; a
run that finds nothing adds one ListTasks call and nothing else. Every task of the family counts,
whoever started it: a task started by hand or by another tool is as much "running" as ours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.errors import AwsUnavailable, GaveUpWaiting
from ecs_one_off_task.taskdef import is_same_definition

log = structlog.get_logger("ecs_one_off_task")

# While waiting for another run's task, say so once a minute: a CI log that stays silent looks
# like a hung job.
WAIT_NOTICE_EVERY = 60.0


async def find_running(aws: Aws, *, cluster: str, family: str) -> list[dict[str, Any]]:
    """Every task of `family` on `cluster` that has not stopped, on every page."""
    arns = await aws.list_running_task_arns(cluster=cluster, family=family)
    if not arns:
        return []
    described = await aws.describe_tasks(cluster=cluster, task_arns=arns)
    return [task for task in described.tasks if task.get("lastStatus") != "STOPPED"]


async def content_matches(
    aws: Aws, desired: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]
) -> Callable[[Mapping[str, Any]], bool]:
    """A test of "this task's definition has the content `desired` would have".

    Each distinct task definition is read once; content is compared, not ARNs, so finding out
    registers nothing.
    """
    same: dict[str, bool] = {}
    for arn in {str(task["taskDefinitionArn"]) for task in tasks}:
        same[arn] = is_same_definition(desired, await aws.describe_task_definition(arn))

    def matches(task: Mapping[str, Any]) -> bool:
        return same.get(str(task.get("taskDefinitionArn")), False)

    return matches


def started_at(task: Mapping[str, Any]) -> str:
    """When the task was started, as ISO 8601 (or "unknown")."""
    when = task.get("createdAt") or task.get("startedAt")
    if not isinstance(when, datetime):
        return "unknown"
    return when.astimezone(UTC).isoformat(timespec="seconds")


class StopWaiter:
    """Polls DescribeTasks until every given task is STOPPED, or the deadline passes."""

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        aws: Aws,
        cluster: str,
        poll_interval: float,
        deadline: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """Set up; nothing is called before `wait`."""
        self.aws = aws
        self.cluster = cluster
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep

    async def wait(self, tasks: Sequence[Mapping[str, Any]]) -> None:
        """Return once all of `tasks` stopped; GaveUpWaiting when the deadline passes first."""
        began = self.clock()
        newest = tasks[0]
        log.warning(
            "another run's task is running: waiting for it to stop before starting",
            task_arn=newest["taskArn"],
            status=newest.get("lastStatus"),
            started_at=started_at(newest),
            started_by=newest.get("startedBy"),
            running_tasks=len(tasks),
        )
        left = [str(task["taskArn"]) for task in tasks]
        next_notice = began + WAIT_NOTICE_EVERY
        while left:
            now = self.clock()
            if self.deadline is not None and now >= self.deadline:
                raise GaveUpWaiting(
                    f"--timeout passed while waiting for {left[0]} to stop; nothing was started"
                )
            if now >= next_notice:
                next_notice += WAIT_NOTICE_EVERY
                log.info(
                    "still waiting for the running task",
                    task_arn=left[0],
                    waited_seconds=round(now - began),
                )
            wait = self.poll_interval
            if self.deadline is not None:
                wait = min(wait, self.deadline - now)
            await self.sleep(max(wait, 0.0))
            try:
                described = await self.aws.describe_tasks(cluster=self.cluster, task_arns=left)
            except AwsUnavailable:
                continue
            # A task ECS no longer shows at all stopped long ago.
            going = {str(t["taskArn"]) for t in described.tasks if t.get("lastStatus") != "STOPPED"}
            left = [arn for arn in left if arn in going]
        log.info("the running task stopped: starting", waited_seconds=round(self.clock() - began))
