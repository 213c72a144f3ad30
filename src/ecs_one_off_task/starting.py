"""Start the task, follow it, and start it again when a start failed for a passing reason.

A start fails two ways before the one-off container runs: RunTask places no task (failures[]:
capacity, RESOURCE:*, AGENT), or the task stops before its container started (an ENI, a secret
or an image pull that timed out, a host or Spot capacity gone). Nothing ran, so when startfail
says the reason passes the task is started again, with the same revision, up to
--start-retries times, after 10 s, 30 s, then 60 s (with jitter). The waits count against
--timeout; a signal during one exits with nothing to stop. With --count only the tasks that
failed to start are started again, while the others run (following: a restart joins the
follow); when the starts run out, the others are stopped and the exit is 125.
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
from ecs_one_off_task.following import Restart
from ecs_one_off_task.interrupt import STOPPING_SAYS
from ecs_one_off_task.plan import Plan
from ecs_one_off_task.report import format_quick
from ecs_one_off_task.startfail import StartFailure, run_task_failure, stopped_before_running
from ecs_one_off_task.targets import Followed, Target
from ecs_one_off_task.tracking import Tracker
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
        self.failures: list[tuple[int, StartFailure]] = []
        self._attempt_of: dict[str, int] = {}
        """Which start of its place in the run each task is: 1, then 2 for its retry..."""
        self._running: set[str] = set()
        """The tasks started and not yet seen STOPPED."""
        self._backing_off = 0
        self._restarted: set[str] = set()
        """The tasks that failed to start and were started again: not among the run's tasks."""

    @property
    def last_attempt(self) -> int:
        """The number of starts allowed: the first and --start-retries more."""
        return self.config.start.retries + 1

    async def run(self, deadline: float | None) -> Started:
        """Start `--count` tasks and follow them, starting again what failed to start."""
        targets = await self._first_start(deadline)
        if not targets:  # a signal while waiting to start again: nothing runs
            return Started(targets=(), followed=())
        self.output_begins()
        followed = await self.tracker.follow(
            targets, deadline=deadline, after_stop=lambda t, s: self._after_stop(t, s, deadline)
        )
        kept = [f for f in followed if f.target.task_arn not in self._restarted]
        return Started(targets=tuple(f.target for f in kept), followed=tuple(kept))

    async def _first_start(self, deadline: float | None) -> list[Target]:
        """RunTask of --count tasks, again while it places none for a passing reason."""
        attempt = 1
        while True:
            try:
                return await self._start(self.config.placement.count, attempt)
            except RunTaskRefused as refused:
                failure = run_task_failure(refused.reasons)
                self._failed(failure, attempt)
                if not failure.retry or not self.config.start.retries:
                    raise
                with self.interrupt.phase():
                    await self._back_off([failure], attempt, deadline, cause=refused)
                if self.interrupt.received:
                    return []
                attempt += 1

    def _after_stop(
        self, target: Target, stopped: Stopped, deadline: float | None
    ) -> Restart | None:
        """A task was seen STOPPED: how to start it again when it stopped before running."""
        self._running.discard(target.task_arn)
        self._say_on_signal()
        failure = stopped_before_running(stopped.task, target.container)
        if failure is None:
            return None
        attempt = self._attempt_of[target.task_arn]
        self._failed(failure, attempt)
        if not failure.retry or not self.config.start.retries:
            # As without retries: the exit code says why the task did not run.
            return None
        self._restarted.add(target.task_arn)
        # The tasks started again are in the attempts, not among the run's tasks.
        self.facts.tasks = [t for t in self.facts.tasks if t.task_arn != target.task_arn]
        return lambda: self._start_again(failure, attempt, deadline)

    async def _start_again(
        self, failure: StartFailure, attempt: int, deadline: float | None
    ) -> Target:
        """Wait, then start one task in place of the one that failed to start.

        Runs while the run's other tasks go on; a signal or the watch ending cancels it.
        """
        cause: BaseException | None = None
        while True:
            await self._back_off([failure], attempt, deadline, cause=cause)
            attempt += 1
            try:
                [target] = await self._start(1, attempt)
            except RunTaskRefused as refused:
                failure, cause = run_task_failure(refused.reasons), refused
                self._failed(failure, attempt)
                if not failure.retry:
                    raise
                continue
            return target

    async def _back_off(
        self,
        failures: Sequence[StartFailure],
        attempt: int,
        deadline: float | None,
        *,
        cause: BaseException | None = None,
    ) -> None:
        """Wait before start `attempt + 1`.

        TaskNotRun when no start is left, GaveUpWaiting when --timeout would pass first.
        """
        if attempt >= self.last_attempt:
            raise TaskNotRun(self._exhausted(attempt)) from cause
        wait = self.config.start.wait_before(attempt + 1, self.jitter())
        if deadline is not None and self.clock() + wait >= deadline:
            running = "the others are stopped" if self._running else "nothing is running"
            raise GaveUpWaiting(
                f"--timeout would pass before starting again; {running}: {self._tried()}"
            ) from cause
        for failure in failures:
            what = "RunTask" if failure.task_arn is None else f"task {_short(failure.task_arn)}"
            log.warning(
                f"{what} could not start: {failure.reason}; starting again in"
                f" {_seconds(wait)} (attempt {attempt + 1} of {self.last_attempt})",
                said={
                    "task_arn": failure.task_arn,
                    "stop_code": failure.stop_code,
                    "reason": failure.reason,
                    "wait_seconds": round(wait, 3),
                    "attempt": attempt + 1,
                    "attempts": self.last_attempt,
                },
            )
        self._backing_off += 1
        self._say_on_signal()
        try:
            await self.tracker.sleep(wait)
        finally:
            self._backing_off -= 1
            self._say_on_signal()

    def _say_on_signal(self) -> None:
        """What a first signal says: while only waiting to start again, nothing is stopped."""
        idle = self._backing_off and not self._running
        self.interrupt.first_says = BACKING_OFF_SAYS if idle else STOPPING_SAYS

    def _failed(self, failure: StartFailure, attempt: int) -> None:
        self.failures.append((attempt, failure))
        if failure.task_arn is None:
            self.facts.starts.append(
                StartFacts(attempt=attempt, task_arn=None, reason=failure.reason)
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

    def _exhausted(self, starts: int) -> str:
        return f"the task could not start in {starts} attempt{'s' * (starts > 1)}: {self._tried()}"

    async def _start(self, count: int, attempt: int) -> list[Target]:
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
            self.facts.starts.append(StartFacts(attempt=attempt, task_arn=target.task_arn))
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
        for target in targets:
            self._attempt_of[target.task_arn] = attempt
            self._running.add(target.task_arn)
        self._say_on_signal()
        self._say_started(targets, took, attempt)
        return targets

    def _say_started(self, targets: Sequence[Target], took: float, attempt: int) -> None:
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
                "attempt": attempt,
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
