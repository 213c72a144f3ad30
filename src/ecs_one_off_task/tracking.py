"""Watch, follow and drain: the one path every followed task takes, started here or attached to.

For each task a StatusWatcher polls DescribeTasks and a LogFollower reads its log stream, all in
one anyio task group (following). A task seen STOPPED has its follower drain: read until the
stream has been quiet for the drain grace counted from stoppedAt. When --max-attempts status
checks run out the watch ends and the tasks are left running (watchend). When --timeout passes,
or on a signal while this command owns the tasks, every task not yet STOPPED gets StopTask from
a shielded scope, is watched until STOPPED, and is drained too: the shutdown's lines are shown.
Whatever goes wrong after that point, a task this command owns is never left running unseen.
The tracker makes each task's parts (follower, watcher, pulse) and says how the run ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.board import TaskBoard
from ecs_one_off_task.choosing import choose_container
from ecs_one_off_task.config import Timing
from ecs_one_off_task.errors import (
    EXIT_GAVE_UP,
    AwsError,
    AwsUnavailable,
    OneOffTaskError,
    TaskNotRun,
    Throttled,
    UsageError,
)
from ecs_one_off_task.facts import Outcome, RunFacts, TaskFacts
from ecs_one_off_task.flushing import definition_flush_period
from ecs_one_off_task.follower import LogFollower, LogPace, LogPage, WritePage
from ecs_one_off_task.following import AfterStop, Following
from ecs_one_off_task.interrupt import Interrupt
from ecs_one_off_task.outcome import TaskEnd, run_exit_code, task_end, to_monotonic
from ecs_one_off_task.output import timestamped
from ecs_one_off_task.pulse import Budget, Pulse
from ecs_one_off_task.report import format_duration
from ecs_one_off_task.stopping import TaskStopper
from ecs_one_off_task.targets import Followed, Target
from ecs_one_off_task.taskdef import log_stream_of
from ecs_one_off_task.watchend import leave_running
from ecs_one_off_task.watcher import EARLY_LOOK_FLOOR, GaveUp, StatusWatcher, Stopped

log = structlog.get_logger("ecs_one_off_task")


async def target_of(
    aws: Aws,
    task: Mapping[str, Any],
    *,
    container: str | None,
    start_time: int | None = None,
) -> Target:
    """The Target of a task this command did not start, from its task definition's awslogs."""
    task_arn = str(task["taskArn"])
    definition = await aws.describe_task_definition(str(task["taskDefinitionArn"]))
    if container is None and any(
        c.get("name") == definition.get("family")
        for c in definition.get("containerDefinitions", ())
    ):
        # A one-off task: its container is named after its family, whatever runs beside it.
        container = str(definition["family"])
    chosen = choose_container(definition, container, what="the task").name
    group, stream, region = log_stream_of(definition, chosen, task_arn.rsplit("/", 1)[-1])
    if region and region != aws.region:
        raise UsageError(f"the task logs to region {region}: pass --region {region}")
    return Target(
        task_arn=task_arn,
        container=chosen,
        log_group=group,
        log_stream=stream,
        start_time=start_time,
        flush_period=definition_flush_period(definition, chosen),
        described=task,
    )


class Tracker:
    """Follows tasks to their end; StopTask for the ones this command owns when it must."""

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        aws: Aws,
        cluster: str,
        timing: Timing,
        write: WritePage,
        interrupt: Interrupt,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        owns_tasks: bool = True,
        facts: RunFacts | None = None,
        heartbeat: float = 0.0,
        timestamps: bool = False,
    ) -> None:
        """`owns_tasks` False: a signal leaves the tasks running (`attach` did not start them).

        `facts` gets what is seen (statuses, lines); `heartbeat` seconds of silence before
        saying the task is still there (0: never); `timestamps` puts each event's timestamp
        before its line.
        """
        self.aws = aws
        self.cluster = cluster
        self.timing = timing
        self.write = write
        self.interrupt = interrupt
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.owns_tasks = owns_tasks
        self.facts = facts or RunFacts(began_at=clock(), began_wall=wall_clock())
        self.heartbeat = heartbeat
        self.timestamps = timestamps
        self._stopper = TaskStopper(aws=aws, cluster=cluster)
        # One pace and one calls-per-second limit for every follower of the process (--count):
        # the account's GetLogEvents quota is one, however many streams are read.
        self._log_pace = LogPace(log_interval=timing.log_interval, rate_limit=timing.log_rate_limit)
        # One DescribeTasks a poll for all the tasks (--count), answers shared for up to a second.
        self._board = TaskBoard(
            fetch=lambda arns: aws.describe_tasks(cluster=cluster, task_arns=arns),
            clock=clock,
            fresh=min(1.0, timing.poll_interval / 2),
        )
        self._seen_stopped: set[str] = set()

    async def follow(
        self,
        targets: Sequence[Target],
        *,
        deadline: float | None,
        after_stop: AfterStop | None = None,
    ) -> list[Followed]:
        """Watch and follow every target until drained; `deadline` is on `clock`.

        `after_stop` may start a task that stopped before running again (see following).
        """
        following = Following(
            self,
            list(targets),
            deadline=deadline,
            owns_tasks=self.owns_tasks,
            after_stop=after_stop,
        )
        try:
            followed = await following.run()
        except anyio.get_cancelled_exc_class():
            # A second signal quits at once, but never with an owned task left running.
            if self.owns_tasks:
                await self._stop_each(
                    following.targets, "ecs-one-off-task: interrupted by a signal"
                )
            raise
        except Exception as error:
            cause = _first_error(error)
            for target in following.targets:
                log.error(
                    "lost track of the task",
                    error=str(cause),
                    task_arn=target.task_arn,
                    log_group=target.log_group,
                    log_stream=target.log_stream,
                )
            if self.owns_tasks:
                await self._stop_each(following.targets, "ecs-one-off-task lost track of the task")
            if isinstance(cause, OneOffTaskError):
                raise cause from error
            raise AwsError(f"lost track of task {targets[0].task_arn}: {cause}") from error
        if following.failure is not None and not self.interrupt.received:
            raise following.failure
        return followed

    def exit_code(self, followed: Sequence[Followed]) -> int:
        """A signal's code, 124 after giving up, else the first failing container's, or 0.

        A task whose container never ran is TaskNotRun (125), saying why.
        """
        if self.interrupt.received:
            return self.interrupt.exit_code
        gave_up = next((f.ending for f in followed if isinstance(f.ending, GaveUp)), None)
        if gave_up is not None and gave_up.task_goes_on:
            left = [f.target.task_arn for f in followed if not isinstance(f.ending, Stopped)]
            return leave_running(
                self.facts,
                why=gave_up.why,
                cluster=self.cluster,
                region=self.aws.region,
                task_arns=left,
            )
        if gave_up is not None:
            self.facts.ended(Outcome.GAVE_UP, f"gave up waiting ({gave_up.why}): task stopped")
            return EXIT_GAVE_UP
        ends: list[TaskEnd] = []
        for f in followed:
            assert isinstance(f.ending, Stopped)  # noqa: S101 - only a signal leaves it unset
            ends.append(task_end(f.ending.task, f.target.container))
        failing = next((i for i, end in enumerate(ends) if end.exit_code != 0), None)
        if failing is not None and not ends[failing].ran:
            arn = followed[failing].target.task_arn
            how = (
                "ran but ended with no exit code"
                if ends[failing].started
                else "stopped without running"
            )
            raise TaskNotRun(f"task {arn} {how}: {ends[failing].describe()}")
        return run_exit_code(ends)

    async def stop(self, task_arn: str, reason: str) -> None:
        """StopTask (once per task), shielded from cancellation, bounded; see TaskStopper."""
        await self._stopper.stop(task_arn, reason)

    async def _stop_each(self, targets: Sequence[Target], reason: str) -> None:
        for target in targets:
            if target.task_arn not in self._seen_stopped:
                await self.stop(target.task_arn, reason)

    # -- the parts ---------------------------------------------------------------------------

    def pulse(self, deadline: float | None) -> Pulse:
        """Heartbeats on silence and the warning before the budget runs out."""
        return Pulse(
            facts=self.facts,
            every=self.heartbeat,
            budget=Budget.of(self.timing, now=self.clock(), deadline=deadline),
            stops_task=self.owns_tasks,
            clock=self.clock,
            sleep=self.sleep,
        )

    def prepare(self, target: Target) -> LogFollower:
        """Note the task as followed (facts, the board); its log follower."""
        self.facts.track(task_arn=target.task_arn, log_stream=target.log_stream, label=target.label)
        if target.described is not None:
            self._board.know(target.task_arn, target.described)
        self._board.watch([target.task_arn])

        async def fetch(token: str | None) -> LogPage | None:
            page = await self.aws.get_log_events(
                group=target.log_group,
                stream=target.log_stream,
                token=token,
                start_time=target.start_time,
                timestamps=self.timestamps,
            )
            if page is None or not self.timestamps:
                return page
            return LogPage(
                messages=[
                    timestamped(at, message)
                    for at, message in zip(page.timestamps, page.messages, strict=True)
                ],
                next_forward_token=page.next_forward_token,
                ingestion_times=page.ingestion_times,
            )

        seen = self.facts.task(target.task_arn)

        def write(messages: Sequence[str]) -> None:
            self.write(messages)
            self.facts.wrote(seen, len(messages), at=self.clock())

        return LogFollower(
            fetch=fetch,
            write=_labelled(write, target.label),
            log_interval=self.timing.log_interval,
            rate_limit=self.timing.log_rate_limit,
            clock=self.clock,
            sleep=self.sleep,
            pace=self._log_pace,
            flush_period=target.flush_period if self.timing.read_in_step else None,
            wall_clock=self.wall_clock,
        )

    def watcher(
        self,
        target: Target,
        follower: LogFollower,
        deadline: float | None,
        *,
        poll_interval: float | None = None,
        checks: int | None = None,
    ) -> StatusWatcher:
        """The task's status watcher; after StopTask (`poll_interval` given) it has no budget.

        `checks` replaces --max-attempts (a task started during a follow gets what is left).
        """

        async def describe() -> Mapping[str, Any] | None:
            try:
                return await self._board.describe(target.task_arn)
            except (Throttled, AwsUnavailable):
                follower.status_unknown()  # the stream is read without waiting for RUNNING
                raise

        seen = self.facts.task(target.task_arn)

        def on_status(status: str, task: Mapping[str, Any]) -> None:
            _status_changed(seen, status, task, at=self.clock())
            follower.wake(task)

        after_stop = poll_interval is not None
        # Reading in step, the follower waits for RUNNING: see the start sooner than a check.
        timing = self.timing
        look = max(timing.log_interval, EARLY_LOOK_FLOOR)
        early = timing.read_in_step and not after_stop and look < timing.poll_interval
        return StatusWatcher(
            describe=describe,
            on_status=on_status,
            poll_interval=poll_interval or self.timing.poll_interval,
            max_attempts=None if after_stop else checks or self.timing.max_attempts,
            deadline=deadline,
            clock=self.clock,
            sleep=self.sleep,
            early_interval=look if early else None,
        )

    def begin_drain(self, target: Target, follower: LogFollower, stopped: Stopped) -> None:
        """Tell the follower to finish once the stream is quiet after the stop."""
        self._seen_stopped.add(target.task_arn)
        end = task_end(stopped.task, target.container)
        stopped_at = to_monotonic(
            end.stopped_at, now_monotonic=self.clock(), now_wall=self.wall_clock()
        )
        # A container that never started wrote no line: nothing to wait for.
        grace = self.timing.drain_grace if end.ran or follower.stream_found else 0.0
        for sidecar in end.failed_sidecars:
            log.warning(
                "a sidecar container exited with an error",
                container=sidecar.name,
                exit_code=sidecar.exit_code,
                reason=sidecar.reason,
            )
        log.info(
            "task stopped: reading the last lines",
            exit_code=end.exit_code,
            reason=end.describe(),
            quiet_for=grace,
            **({"task": target.task_id} if target.label else {}),
        )
        follower.task_stopped(at=stopped_at, grace=grace)


def _status_changed(seen: TaskFacts, status: str, task: Mapping[str, Any], *, at: float) -> None:
    """Say the new status, and how long the task spent in the one before."""
    if status == seen.status:
        # A new watcher (after StopTask) sees the status the last one saw: nothing changed.
        seen.description = task
        return
    previous = seen.saw(status, task, at=at)
    text = f"{seen.label}{status}"
    if previous is not None:
        text += f" after {format_duration(previous[1])} in {previous[0]}"
    desired = task.get("desiredStatus")
    if desired == "STOPPED" and status != "STOPPED":
        text += " (desired STOPPED)"
    log.info(
        text,
        said={
            "status": status,
            "previous_status": None if previous is None else previous[0],
            "seconds_in_previous": None if previous is None else round(previous[1], 3),
            "desired_status": desired,
            **({"task": seen.task_id} if seen.label else {}),
        },
    )


def _labelled(write: WritePage, label: str) -> WritePage:
    if not label:
        return write

    def write_labelled(messages: Sequence[str]) -> None:
        write([label + message for message in messages])

    return write_labelled


def _first_error(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
