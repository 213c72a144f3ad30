"""`ecs-one-off-task attach`: follow a task this command did not start, with no write call.

It finds the log stream from the task's definition, reads from the head (or from --since),
follows, drains and exits with the container's exit code, through the same watch-follow-drain
path as a run. Ctrl-C leaves the task running, since this command did not start it, and says how
to follow it again; --stop-on-interrupt stops it instead.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Awaitable, Callable

import anyio
import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.ci import CiMarkers
from ecs_one_off_task.config import AttachConfig
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.facts import Outcome, RunFacts
from ecs_one_off_task.follower import WritePage
from ecs_one_off_task.interrupt import STOPPING_SAYS, Interrupt
from ecs_one_off_task.running import started_at
from ecs_one_off_task.tracking import Tracker, target_of

log = structlog.get_logger("ecs_one_off_task")


async def attach_to_task(  # noqa: PLR0913 - the collaborators are injected on purpose
    *,
    config: AttachConfig,
    aws: Aws,
    write: WritePage,
    facts: RunFacts,
    ci: CiMarkers,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    handle_signals: bool = True,
) -> int:
    """Follow the task of `config` to its end and return the exit code."""
    interrupt = Interrupt(
        first_says=STOPPING_SAYS
        if config.stop_on_interrupt
        else "signal received: leaving the task running"
    )
    tracker = Tracker(
        aws=aws,
        cluster=config.cluster,
        timing=config.timing,
        write=write,
        interrupt=interrupt,
        clock=clock,
        wall_clock=wall_clock,
        sleep=sleep,
        owns_tasks=config.stop_on_interrupt,
        facts=facts,
        heartbeat=config.reporting.heartbeat,
        timestamps=config.reporting.timestamps,
    )
    facts.region = aws.region

    async def follow() -> int:
        task = await aws.describe_task(cluster=config.cluster, task_arn=config.task)
        if task is None:
            raise UsageError(f"task {config.task!r} not found on cluster {config.cluster!r}")
        start_time = None
        if config.since is not None:
            start_time = int((wall_clock() - config.since) * 1000)
        target = await target_of(aws, task, container=config.container, start_time=start_time)
        facts.task_name = target.container
        facts.log_group = target.log_group
        facts.task_definition_arn = str(task.get("taskDefinitionArn"))
        log.info(
            "following a running task"
            if task.get("lastStatus") != "STOPPED"
            else "reading a stopped task",
            task_arn=target.task_arn,
            status=task.get("lastStatus"),
            started_at=started_at(task),
            started_by=task.get("startedBy"),
            log_group=target.log_group,
            log_stream=target.log_stream,
        )
        ci.output_begins()
        followed = await tracker.follow([target], deadline=None)
        ci.output_ends()
        if interrupt.received and not config.stop_on_interrupt:
            facts.ended(Outcome.INTERRUPTED, "interrupted: the task was left running")
            facts.left_running = True
            log.warning(
                "the task goes on; to follow it again",
                command=shlex.join(_again(config, target.task_id)),
            )
        return tracker.exit_code(followed)

    result = await interrupt.guard(follow, listen=handle_signals)
    return interrupt.exit_code if result is None else result


def _again(config: AttachConfig, task_id: str) -> list[str]:
    """The command line that follows the same task again."""
    words = ["ecs-one-off-task", "attach", "--cluster", config.cluster]
    if config.container:
        words += ["--container", config.container]
    if config.aws.region:
        words += ["--region", config.aws.region]
    if config.aws.profile:
        words += ["--profile", config.aws.profile]
    return [*words, task_id]
