"""Start the task, follow it, and start it again when a start failed for a passing reason.

A start fails two ways before the one-off container runs: RunTask places no task (failures[]:
capacity, RESOURCE:*, AGENT), or the task stops before its container started (an ENI, a secret
or an image pull that timed out, a host or Spot capacity gone). Nothing ran, so when startfail
says the reason passes the task is started again, with the same revision, up to
--start-retries times, after 10 s, 30 s, then 60 s (with jitter). The waits count against
--timeout; a signal during one exits with nothing to stop. With --count only the tasks that
failed to start are started again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.config import RunConfig, Timing
from ecs_one_off_task.errors import GaveUpWaiting, RunTaskRefused, TaskNotRun
from ecs_one_off_task.facts import StartFacts
from ecs_one_off_task.flushing import flush_period
from ecs_one_off_task.plan import Plan
from ecs_one_off_task.report import format_quick
from ecs_one_off_task.startfail import StartFailure, run_task_failure, stopped_before_running
from ecs_one_off_task.tracking import Followed, Target, Tracker
from ecs_one_off_task.watcher import Stopped

log = structlog.get_logger("ecs_one_off_task")

BACKING_OFF_SAYS = "signal received: no task is running; exiting"


@dataclass(frozen=True, kw_only=True)
class Started:
    """What the starts came to: the tasks that count for the exit code, followed to their end."""

    targets: tuple[Target, ...]
    followed: tuple[Followed, ...]


class Starter:
    """RunTask, follow, and start again what failed to start for a passing reason."""

    def __init__(  # noqa: PLR0913 - the collaborators are injected on purpose
        self,
        *,
        config: RunConfig,
        aws: Aws,
        tracker: Tracker,
        plan: Plan,
        task_definition_arn: str,
        output_begins: Callable[[], None],
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """`output_begins` is called once, before the first task is followed."""
        self.config = config
        self.aws = aws
        self.tracker = tracker
        self.facts = tracker.facts
        self.interrupt = tracker.interrupt
        self.clock = tracker.clock
        self.plan = plan
        self.task_definition_arn = task_definition_arn
        self.output_begins = output_begins
        self.jitter = jitter
        self.attempt = 0
        self.failures: list[tuple[int, StartFailure]] = []

    @property
    def last_attempt(self) -> int:
        """The number of starts allowed: the first and --start-retries more."""
        return self.config.start.retries + 1

    async def run(self, deadline: float | None) -> Started:
        """Start `--count` tasks and follow them, starting again what failed to start."""
        pending = self.config.placement.count
        kept: list[Followed] = []
        output_began = False
        while True:
            self.attempt += 1
            try:
                targets = await self._start(pending)
            except RunTaskRefused as refused:
                failure = run_task_failure(refused.reasons)
                self._failed(failure)
                if not failure.retry or not self.config.start.retries:
                    raise
                await self._again([failure], deadline, cause=refused)
                if self.interrupt.received:
                    return _started(kept)
                continue
            if not output_began:
                self.output_begins()
                output_began = True
            followed = await self.tracker.follow(targets, deadline=deadline)
            if self.interrupt.received:
                return _started([*kept, *followed])
            retry = self._to_start_again(followed)
            if not retry or not self.config.start.retries:
                # As without retries: the exit code says why the task did not run.
                return _started([*kept, *followed])
            again = {f.task_arn for f in retry}
            kept += [f for f in followed if f.target.task_arn not in again]
            # The tasks started again are in the attempts, not among the run's tasks.
            self.facts.tasks = [t for t in self.facts.tasks if t.task_arn not in again]
            await self._again(retry, deadline)
            if self.interrupt.received:
                return _started(kept)
            pending = len(retry)

    def _to_start_again(self, followed: Sequence[Followed]) -> list[StartFailure]:
        """Note each task that stopped before running; the ones to start again."""
        retry: list[StartFailure] = []
        for item in followed:
            if not isinstance(item.ending, Stopped):
                continue
            failure = stopped_before_running(item.ending.task, item.target.container)
            if failure is not None:
                self._failed(failure)
                if failure.retry:
                    retry.append(failure)
        return retry

    async def _again(
        self,
        failures: Sequence[StartFailure],
        deadline: float | None,
        *,
        cause: BaseException | None = None,
    ) -> None:
        """Wait before the next start.

        TaskNotRun when no start is left, GaveUpWaiting when --timeout would pass first.
        """
        if self.attempt >= self.last_attempt:
            raise TaskNotRun(self._exhausted()) from cause
        wait = self.config.start.wait_before(self.attempt + 1, self.jitter())
        if deadline is not None and self.clock() + wait >= deadline:
            raise GaveUpWaiting(
                f"--timeout would pass before starting again; nothing is running: {self._tried()}"
            ) from cause
        for failure in failures:
            what = "RunTask" if failure.task_arn is None else f"task {_short(failure.task_arn)}"
            log.warning(
                f"{what} could not start: {failure.reason}; starting again in"
                f" {_seconds(wait)} (attempt {self.attempt + 1} of {self.last_attempt})",
                said={
                    "task_arn": failure.task_arn,
                    "stop_code": failure.stop_code,
                    "reason": failure.reason,
                    "wait_seconds": round(wait, 3),
                    "attempt": self.attempt + 1,
                    "attempts": self.last_attempt,
                },
            )
        says = self.interrupt.first_says
        self.interrupt.first_says = BACKING_OFF_SAYS
        with self.interrupt.phase():
            await self.tracker.sleep(wait)
        self.interrupt.first_says = says

    def _failed(self, failure: StartFailure) -> None:
        self.failures.append((self.attempt, failure))
        if failure.task_arn is None:
            self.facts.starts.append(
                StartFacts(attempt=self.attempt, task_arn=None, reason=failure.reason)
            )
            return
        for start in self.facts.starts:
            if start.task_arn == failure.task_arn:
                start.stop_code, start.reason = failure.stop_code, failure.reason

    def _tried(self) -> str:
        return "; ".join(
            f"attempt {n}: {'RunTask' if f.task_arn is None else 'task ' + _short(f.task_arn)}"
            f" {f.reason}"
            for n, f in self.failures
        )

    def _exhausted(self) -> str:
        starts = self.attempt
        return f"the task could not start in {starts} attempt{'s' * (starts > 1)}: {self._tried()}"

    async def _start(self, count: int) -> list[Target]:
        """One RunTask of `count` tasks; RunTaskRefused when it placed none or fewer."""
        request = {**self.plan.run_task_request(self.task_definition_arn), "count": count}
        started = self.clock()
        # Shielded: once RunTask is sent we must learn the ARNs to be able to stop the tasks.
        with anyio.CancelScope(shield=True):
            answer = await self.aws.run_task(request)
        answered_at = self.clock()
        took = answered_at - started
        targets = self._targets([str(task["taskArn"]) for task in answer.tasks])
        for target, task in zip(targets, answer.tasks, strict=True):
            status = task.get("lastStatus")
            self.facts.track(
                task_arn=target.task_arn,
                log_stream=target.log_stream,
                label=target.label,
                started_as=(str(status), answered_at) if status else None,
            )
            self.facts.starts.append(StartFacts(attempt=self.attempt, task_arn=target.task_arn))
        if answer.failures:
            # Fewer tasks than asked: the run is not what was asked for. None has run yet.
            for target in targets:
                await self.tracker.stop(target.task_arn, "ecs-one-off-task: RunTask fell short")
            arns = {t.task_arn for t in targets}
            self.facts.tasks = [t for t in self.facts.tasks if t.task_arn not in arns]
            for start in self.facts.starts:
                if start.task_arn in arns:
                    start.reason = "stopped: RunTask fell short"
            raise RunTaskRefused(
                f"RunTask started {len(targets)} of {count} tasks: {'; '.join(answer.failures)}",
                tuple(reason.split(" (", 1)[0] for reason in answer.failures),
            )
        self._say_started(targets, took)
        return targets

    def _say_started(self, targets: Sequence[Target], took: float) -> None:
        spec, launch = self.config.task, self.plan.launch
        ids = ", ".join(t.task_id for t in targets)
        several = len(targets) > 1
        identity = {"run_identity": self.facts.run_identity} if self.facts.run_identity else {}
        log.info(
            f"{f'{len(targets)} tasks' if several else 'task'} {ids} started in"
            f" {format_quick(took)} on {self.config.placement.cluster}"
            f" with {launch.describe()}",
            said={
                "seconds": round(took, 3),
                "cluster": self.config.placement.cluster,
                "runs_on": launch.describe(),
                # The end lines name them, with links.
                "task_arn": [t.task_arn for t in targets] if several else targets[0].task_arn,
                "log_group": spec.log_group,
                "attempt": self.attempt,
            },
            **({"from_service": list(launch.from_service)} if launch.from_service else {}),
            log_stream=[t.log_stream for t in targets] if several else targets[0].log_stream,
            gives_up_after=waiting_budget(self.config.timing),
            started_by=self.facts.started_by,
            **identity,
        )

    def _targets(self, task_arns: list[str]) -> list[Target]:
        spec = self.config.task
        # With --count every line is labelled, also those of a task started again alone.
        several = self.config.placement.count > 1
        targets = []
        for arn in task_arns:
            task_id = arn.rsplit("/", 1)[-1]
            targets.append(
                Target(
                    task_arn=arn,
                    container=spec.task_name,
                    log_group=spec.log_group,
                    log_stream=f"{spec.log_stream_prefix}/{spec.task_name}/{task_id}",
                    label=f"[{task_id[:8]}] " if several else "",
                    flush_period=flush_period(spec),
                )
            )
        return targets


def _started(followed: Sequence[Followed]) -> Started:
    return Started(targets=tuple(f.target for f in followed), followed=tuple(followed))


def _short(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1][:8] + "…"


def _seconds(wait: float) -> str:
    return f"{wait:.0f} s" if wait >= 10 else f"{wait:.2g} s"


def waiting_budget(timing: Timing) -> str:
    """Say when watching ends and what happens to the task then, before it matters."""
    limits = []
    if timing.timeout is not None:
        limits.append(f"the task is stopped after {timing.timeout:g} s (--timeout)")
    if timing.max_attempts is not None:
        seconds = timing.max_attempts * timing.poll_interval
        limits.append(
            f"watching ends after {timing.max_attempts} status checks (~{seconds:g} s;"
            " the task goes on running)"
        )
    return ", or ".join(limits) or "never"
